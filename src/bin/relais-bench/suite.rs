//! One engine at one base size: import, previews, the three reassignments
//! against hand-written SQL, then the web API under load.

use std::cell::RefCell;

use anyhow::{Context, Result, bail};
use relais::domain::batch::Applied;

use crate::Settings;
use crate::contacts_csv::ContactFile;
use crate::engine::{BenchEngine, HandRegion, HandRun};
use crate::product::{self, Timing};
use crate::report::{
    EngineReport, ImportFigures, OperationFigures, PreviewFigures, format_duration, format_mib,
};
use crate::web;

/// Databases created by a run, removed when it ends, failed or not.
pub struct Scratch<'a> {
    engine: &'a dyn BenchEngine,
    live: RefCell<Vec<String>>,
}

impl<'a> Scratch<'a> {
    pub fn new(engine: &'a dyn BenchEngine) -> Scratch<'a> {
        Scratch {
            engine,
            live: RefCell::new(Vec::new()),
        }
    }

    pub fn create(&self, label: &str) -> Result<String> {
        let location = self.engine.create_empty(label)?;
        self.live.borrow_mut().push(location.clone());
        Ok(location)
    }

    pub fn copy(&self, from: &str, label: &str) -> Result<String> {
        let location = self.engine.copy(from, label)?;
        self.live.borrow_mut().push(location.clone());
        Ok(location)
    }

    pub fn remove(&self, location: &str) -> Result<()> {
        self.live.borrow_mut().retain(|live| live != location);
        self.engine.remove(location)
    }

    pub fn engine(&self) -> &'a dyn BenchEngine {
        self.engine
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        for location in self.live.borrow_mut().drain(..) {
            if let Err(error) = self.engine.remove(&location) {
                eprintln!("warning: could not remove {location}: {error:#}");
            }
        }
    }
}

/// The three measured reassignments.
#[derive(Clone, Debug)]
pub enum Operation {
    User,
    Region {
        postal: &'static str,
        hand: HandRegion,
    },
}

impl Operation {
    pub fn all() -> Vec<Operation> {
        vec![
            Operation::User,
            Operation::Region {
                postal: "51;02;2A",
                hand: HandRegion {
                    country: "FRA",
                    prefixes: Some(vec!["02", "200", "201", "51"]),
                },
            },
            Operation::Region {
                postal: "*",
                hand: HandRegion {
                    country: "FRA",
                    prefixes: None,
                },
            },
        ]
    }

    pub fn name(&self) -> String {
        match self {
            Operation::User => format!(
                "reassign {} → {} (both roles)",
                product::USER_FROM,
                product::TARGET
            ),
            Operation::Region { postal, .. } => {
                format!("reassign-region FRA {postal} → {}", product::TARGET)
            }
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Operation::User => "user",
            Operation::Region { postal: "*", .. } => "region_all",
            Operation::Region { .. } => "region_some",
        }
    }
}

pub fn log(message: impl AsRef<str>) {
    eprintln!("[relais-bench] {}", message.as_ref());
}

/// Runs every part for one engine on a base of `file.rows` contacts.
pub fn run_engine(
    settings: &Settings,
    engine: &dyn BenchEngine,
    file: &ContactFile,
    csv: &std::path::Path,
    report: &mut EngineReport,
    problems: &mut Vec<String>,
) -> Result<()> {
    let scratch = Scratch::new(engine);
    let rows = file.rows;
    let tag = |what: &str, run: usize| format!("{rows}_{what}_{run}");

    // 1. Import, each run into a fresh base; the last one stays as the
    // base of every later part.
    let mut import = ImportFigures {
        rows,
        file_bytes: file.bytes,
        ..ImportFigures::default()
    };
    let mut base = String::new();
    for run in 0..settings.runs {
        let location = scratch.create(&tag("import", run))?;
        product::create_users(&location, &file.users)?;
        let imported = product::import(
            &settings.relais,
            &location,
            csv,
            &settings.work_dir,
            &tag("import", run),
        )?;
        log(format!(
            "{} import run {}: {} ({} peak RSS, {} CPU)",
            engine.name(),
            run + 1,
            format_duration(imported.wall),
            format_mib(imported.peak_rss),
            format_duration(imported.cpu)
        ));
        if imported.imported != rows || imported.rejected != 0 {
            problems.push(format!(
                "{} import: {} rows imported and {} rejected, expected {rows} and 0",
                engine.name(),
                imported.imported,
                imported.rejected
            ));
        }
        import.product.push(imported.wall);
        import.product_cpu_ms.push(imported.cpu.as_secs_f64() * 1e3);
        import.peak_rss_bytes.push(imported.peak_rss);
        if !base.is_empty() {
            scratch.remove(&base)?;
        }
        base = location;
    }
    engine.settle(&base)?;
    for run in 0..settings.runs {
        let loaded = engine.bulk_load(csv, &tag("bulk", run), &settings.work_dir)?;
        log(format!(
            "{} bulk load run {}: {}, then the product's indexes: {}",
            engine.name(),
            run + 1,
            format_duration(loaded.wall),
            format_duration(loaded.index_builds)
        ));
        if loaded.rows != rows {
            problems.push(format!(
                "{} bulk load: {} rows loaded, expected {rows}",
                engine.name(),
                loaded.rows
            ));
        }
        import.bulk_load.push(loaded.wall);
        import
            .bulk_load_indexed
            .push(loaded.wall + loaded.index_builds);
        import.bulk_load_peak_rss_bytes.push(loaded.peak_rss);
    }
    report.import = Some(import);

    // 5. Previews on the base, before any run changes it.
    let expected = run_previews(settings, &base, report)?;

    // 2, 3 and 4. Each run on its own copy of the base.
    for operation in Operation::all() {
        let figures = run_operation(
            settings, &scratch, &base, rows, &operation, &expected, problems,
        )?;
        report.operations.push(figures);
    }

    // 6. The web API, last: its server keeps connections to the base open,
    // which PostgreSQL forbids while a database serves as a template.
    if settings.web {
        web::run_web(settings, &base, report, problems)?;
    }
    scratch.remove(&base)?;
    Ok(())
}

/// Outcomes the previews announced, which the runs must then report.
pub struct PreviewedOutcomes {
    user: relais::domain::batch::Outcome,
    regions: Vec<(&'static str, relais::domain::batch::Outcome)>,
}

fn run_previews(
    settings: &Settings,
    base: &str,
    report: &mut EngineReport,
) -> Result<PreviewedOutcomes> {
    let store = product::open(base)?;
    let mut user = PreviewFigures {
        name: format!(
            "reassign {} → {} (count per role)",
            product::USER_FROM,
            product::TARGET
        ),
        ..PreviewFigures::default()
    };
    let (first, outcome) = product::preview_user(store.as_ref())?;
    product::check_outcome("user preview", &outcome)?;
    user.first = first.wall;
    user.count = outcome.history_entries;
    for _ in 0..settings.preview_runs {
        let timing = product::preview_user(store.as_ref())?.0;
        user.timed.push(timing.wall);
        user.timed_cpu.push(timing.cpu);
    }
    report.previews.push(user);

    let mut regions = Vec::new();
    for postal in ["51;02;2A", "*"] {
        let mut figures = PreviewFigures {
            name: format!("reassign-region FRA {postal} (counts, per prefix, sample)"),
            ..PreviewFigures::default()
        };
        let (first, preview) = product::preview_region(store.as_ref(), postal)?;
        product::check_outcome("region preview", &preview.outcome)?;
        figures.first = first.wall;
        figures.count = preview.outcome.history_entries;
        for _ in 0..settings.preview_runs {
            let timing = product::preview_region(store.as_ref(), postal)?.0;
            figures.timed.push(timing.wall);
            figures.timed_cpu.push(timing.cpu);
        }
        report.previews.push(figures);
        regions.push((postal, preview.outcome));
    }
    Ok(PreviewedOutcomes {
        user: outcome,
        regions,
    })
}

fn apply_product(operation: &Operation, location: &str) -> Result<(Timing, Applied)> {
    let store = product::open(location)?;
    match operation {
        Operation::User => product::apply_user(store.as_ref()),
        Operation::Region { postal, .. } => product::apply_region(store.as_ref(), postal),
    }
}

fn apply_hand(engine: &dyn BenchEngine, operation: &Operation, location: &str) -> Result<HandRun> {
    let store = product::open(location)?;
    let target = product::user_id(store.as_ref(), product::TARGET)?;
    let from = product::user_id(store.as_ref(), product::USER_FROM)?;
    drop(store);
    match operation {
        Operation::User => engine.hand_user(location, from, target),
        Operation::Region { hand, .. } => engine.hand_region(location, target, hand),
    }
}

fn run_operation(
    settings: &Settings,
    scratch: &Scratch<'_>,
    base: &str,
    rows: u64,
    operation: &Operation,
    expected: &PreviewedOutcomes,
    problems: &mut Vec<String>,
) -> Result<OperationFigures> {
    let engine = scratch.engine();
    let name = operation.name();
    let mut figures = OperationFigures {
        name: name.clone(),
        ..OperationFigures::default()
    };
    for run in 0..settings.runs {
        // Alternating who goes first spreads any warming of caches evenly.
        let product_first = run % 2 == 0;
        let mut product_result = None;
        let mut hand_result = None;
        for side in 0..2 {
            let is_product = (side == 0) == product_first;
            let label = format!(
                "{rows}_{}_{}_{run}",
                operation.slug(),
                if is_product { "product" } else { "hand" }
            );
            let copy = scratch.copy(base, &label)?;
            if is_product {
                let (elapsed, applied) = apply_product(operation, &copy)?;
                product_result = Some((elapsed, applied, engine.digest(&copy)?));
            } else {
                let hand = apply_hand(engine, operation, &copy)?;
                hand_result = Some((hand, engine.digest(&copy)?));
            }
            scratch.remove(&copy)?;
        }
        let (elapsed, applied, product_digest) =
            product_result.context("the product run did not happen")?;
        let (hand, hand_digest) = hand_result.context("the hand-written run did not happen")?;
        log(format!(
            "{} {name} run {}: product {}, hand SQL {}",
            engine.name(),
            run + 1,
            format_duration(elapsed.wall),
            format_duration(hand.timing.wall)
        ));
        figures.product.push(elapsed.wall);
        figures.hand.push(hand.timing.wall);
        figures.product_cpu.push(elapsed.cpu);
        figures.hand_cpu.push(hand.timing.cpu);
        figures.matched = applied.outcome.matched;
        figures.changed = applied.outcome.changed;
        figures.history_entries = applied.outcome.history_entries;

        let mut check = |failed: bool, message: String| {
            if failed {
                problems.push(format!("{} {name}: {message}", engine.name()));
            }
        };
        check(
            product::check_outcome(&name, &applied.outcome).is_err(),
            format!("inconsistent counts {:?}", applied.outcome),
        );
        check(
            applied.outcome.history_entries != hand.history_rows,
            format!(
                "the product wrote {} history entries, the hand-written SQL {}",
                applied.outcome.history_entries, hand.history_rows
            ),
        );
        check(
            hand.updated_rows != hand.history_rows,
            format!(
                "the hand-written SQL updated {} owners but wrote {} history entries",
                hand.updated_rows, hand.history_rows
            ),
        );
        check(
            product_digest != hand_digest,
            format!(
                "the product and the hand-written SQL left different data: {product_digest:?} vs {hand_digest:?}"
            ),
        );
        let previewed = match operation {
            Operation::User => Some(expected.user),
            Operation::Region { postal, .. } => expected
                .regions
                .iter()
                .find(|(previewed, _)| previewed == postal)
                .map(|(_, outcome)| *outcome),
        };
        if let Some(previewed) = previewed {
            check(
                previewed != applied.outcome,
                format!(
                    "the preview announced {previewed:?} but the run reported {:?}",
                    applied.outcome
                ),
            );
        }
        if applied.outcome.changed == 0 {
            bail!("{name} changed nothing: the demo base is not what the benchmark expects");
        }
    }
    Ok(figures)
}
