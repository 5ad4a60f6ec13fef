//! `relais-bench`: measures import, mass reassignments, previews and the
//! web preview of Relais on a demo base, engine by engine, against the
//! engine's own bulk load and hand-written SQL doing the same work.
//!
//! `scripts/bench` runs it in full and `scripts/bench-smoke` in a small
//! form for CI. It exits non-zero when a run fails or when the product and
//! the hand-written SQL disagree on the results. Missed speed targets are
//! reported, not failed.

/// The allocator of the `relais` binary, so that the operations this
/// process runs through the service layer allocate as the product does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod child;
mod contacts_csv;
mod engine;
mod postgres_engine;
mod product;
mod report;
mod sqlite_engine;
mod suite;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::engine::BenchEngine;
use crate::report::{EngineReport, format_duration, format_mib};
use crate::suite::log;

#[derive(Debug, Parser)]
#[command(
    name = "relais-bench",
    about = "Benchmark of Relais: import, mass reassignments, previews and the web preview, per engine"
)]
struct Args {
    /// Base sizes in contacts, comma-separated, e.g. 100000,1000000
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    contacts: Vec<u64>,

    /// Engines to measure, comma-separated: sqlite, postgres
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    engines: Vec<String>,

    /// Runs of each timed operation, each on a fresh copy of the base;
    /// figures are the median
    #[arg(long, default_value_t = 3)]
    runs: usize,

    /// Timed calls of each preview after the first one
    #[arg(long, default_value_t = 11)]
    preview_runs: usize,

    /// Server URL for PostgreSQL; the benchmark creates and drops its own
    /// databases, all named relais_bench_…
    #[arg(
        long,
        env = "RELAIS_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,

    /// Skip PostgreSQL with a note when its server is unreachable or the build
    /// has no PostgreSQL engine, instead of failing
    #[arg(long)]
    postgres_optional: bool,

    /// Skip the web API load
    #[arg(long)]
    no_web: bool,

    /// Measured seconds of each web load mix, after the warm-up
    #[arg(long, default_value_t = 10.0)]
    web_seconds: f64,

    /// Seconds of load sent before measuring
    #[arg(long, default_value_t = 2.0)]
    web_warm_up_seconds: f64,

    /// Concurrent keep-alive connections of the web load
    #[arg(long, default_value_t = 32)]
    web_connections: usize,

    /// Upper bound on the requests of one web load mix, warm-up included
    #[arg(long, default_value_t = 200_000)]
    web_max_requests: u64,

    /// Folder for the CSV files, SQLite bases and child logs; a new
    /// temporary folder by default, removed at the end
    #[arg(long)]
    work_dir: Option<PathBuf>,

    /// Path of the relais binary; by default the one next to this binary
    #[arg(long)]
    relais: Option<PathBuf>,

    /// Also write every figure as JSON to this file
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Settings every part reads.
pub struct Settings {
    pub runs: usize,
    pub preview_runs: usize,
    pub web: bool,
    pub web_seconds: f64,
    pub web_warm_up_seconds: f64,
    pub web_connections: usize,
    pub web_max_requests: u64,
    pub work_dir: PathBuf,
    pub relais: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("relais-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn machine_summary() -> String {
    let command = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let model = command("lscpu", &[])
        .lines()
        .find(|line| line.starts_with("Model name:"))
        .map(|line| line.trim_start_matches("Model name:").trim().to_string())
        .unwrap_or_default();
    let memory = command("free", &["-h"])
        .lines()
        .find(|line| line.starts_with("Mem:"))
        .and_then(|line| line.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_default();
    format!(
        "machine: {} cores (nproc), {memory} memory, CPU {model}; load average {}",
        command("nproc", &[]),
        load_average()
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn run(args: Args) -> Result<bool> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let relais = match &args.relais {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the benchmark binary has no folder")?
            .join("relais"),
    };
    if !web::is_executable(&relais) {
        bail!(
            "no relais binary at {}: build it first (cargo build --release --bins) or pass --relais",
            relais.display()
        );
    }
    let temporary;
    let work_dir = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temporary = tempfile::Builder::new().prefix("relais-bench-").tempdir()?;
            temporary.path().to_path_buf()
        }
    };
    let settings = Settings {
        runs: args.runs,
        preview_runs: args.preview_runs,
        web: !args.no_web,
        web_seconds: args.web_seconds,
        web_warm_up_seconds: args.web_warm_up_seconds,
        web_connections: args.web_connections.max(1),
        web_max_requests: args.web_max_requests,
        work_dir: work_dir.clone(),
        relais,
    };

    let started = Instant::now();
    println!("# relais-bench");
    println!();
    println!("{}", machine_summary());
    println!(
        "command: relais-bench {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );

    let mut engines: Vec<Box<dyn BenchEngine>> = Vec::new();
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for name in &args.engines {
        match name.trim() {
            "sqlite" => engines.push(Box::new(sqlite_engine::SqliteEngine::new(&work_dir))),
            "postgres" => match postgres_engine::PostgresEngine::connect(&args.postgres_url) {
                Ok(Ok(engine)) => engines.push(Box::new(engine)),
                Ok(Err(unavailable)) if args.postgres_optional => {
                    notes.push(format!("PostgreSQL part SKIPPED: {}", unavailable.reason()));
                }
                Ok(Err(unavailable)) => problems.push(format!(
                    "PostgreSQL: {} (pass --engines sqlite to measure SQLite alone)",
                    unavailable.reason()
                )),
                Err(error) => problems.push(format!("PostgreSQL: {error:#}")),
            },
            other => bail!("unknown engine {other:?}: choose sqlite or postgres"),
        }
    }

    let mut reports = Vec::new();
    for &contacts in &args.contacts {
        let csv = work_dir.join(format!("contacts-{contacts}.csv"));
        let generated = Instant::now();
        let file = contacts_csv::write_contact_file(&csv, contacts, &work_dir)?;
        log(format!(
            "wrote {} demo contacts to {} ({}) in {}",
            file.rows,
            csv.display(),
            format_mib(file.bytes),
            format_duration(generated.elapsed())
        ));
        for engine in &engines {
            let mut report = EngineReport {
                engine: engine.name().to_string(),
                contacts,
                ..EngineReport::default()
            };
            if let Err(error) = suite::run_engine(
                &settings,
                engine.as_ref(),
                &file,
                &csv,
                &mut report,
                &mut problems,
            ) {
                problems.push(format!(
                    "{} at {contacts} contacts: {error:#}",
                    engine.name()
                ));
            }
            report.seal();
            print!("{}", report::render(&report));
            reports.push(report);
        }
        std::fs::remove_file(&csv).with_context(|| format!("removing {}", csv.display()))?;
    }

    println!();
    for note in &notes {
        println!("NOTE: {note}");
    }
    println!(
        "finished in {}; load average at the end {}",
        format_duration(started.elapsed()),
        load_average()
    );
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "machine": machine_summary(),
            "notes": notes,
            "problems": problems,
            "reports": reports,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if problems.is_empty() {
        println!("result: consistent (product and hand-written SQL agree on every run)");
        Ok(true)
    } else {
        println!("result: FAILED, {} problem(s):", problems.len());
        for problem in &problems {
            println!("  - {problem}");
        }
        Ok(false)
    }
}
