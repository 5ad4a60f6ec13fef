//! The product's side: the real `relais import` as a child process, and the
//! reassignments and previews through the service layer that the CLI and
//! the web server call, on whatever engine `open_store` opens.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use relais::domain::batch::{Actor, Applied, Outcome};
use relais::service::reassign::{
    RunContextInput, apply_region_reassignment, apply_user_reassignment,
    prepare_region_reassignment, prepare_user_reassignment, preview_region_reassignment,
    preview_user_reassignment,
};
use relais::storage::{RegionPreview, Store, open_store};

use crate::child;
use crate::contacts_csv::DemoUser;

/// A user reassignment of the demo: Paul LEFÈVRE has left, so his
/// contacts go to Baptiste BONCHAMPS.
pub const USER_FROM: &str = "PL";
pub const TARGET: &str = "BB";

pub fn open(location: &str) -> Result<std::sync::Arc<dyn Store>> {
    open_store(location).map_err(|error| anyhow!("opening {location}: {error}"))
}

/// Creates the demo users in an empty base, so the file's owners resolve.
pub fn create_users(location: &str, users: &[DemoUser]) -> Result<()> {
    let store = open(location)?;
    for user in users {
        store
            .create_user(&user.to_new_user())
            .map_err(|error| anyhow!("creating user {}: {error}", user.user.initials))?;
    }
    Ok(())
}

pub fn user_id(store: &dyn Store, initials: &str) -> Result<i64> {
    Ok(store
        .find_user(initials)
        .map_err(|error| anyhow!("finding user {initials}: {error}"))?
        .with_context(|| format!("user {initials} is missing from the base"))?
        .id)
}

/// One run of `relais import`.
pub struct ImportRun {
    pub wall: Duration,
    pub peak_rss: u64,
    pub cpu: Duration,
    pub imported: u64,
    pub rejected: u64,
}

pub fn import(
    relais: &Path,
    location: &str,
    csv: &Path,
    log_dir: &Path,
    label: &str,
) -> Result<ImportRun> {
    let mut command = Command::new(relais);
    command
        .arg("--db")
        .arg(location)
        .arg("import")
        .arg(csv)
        .arg("--json")
        .env("RELAIS_LOG", "warn");
    let run = child::run(command, log_dir, label)?.check("relais import")?;
    let report: serde_json::Value = serde_json::from_str(&run.stdout)
        .with_context(|| format!("reading the JSON report of relais import: {}", run.stdout))?;
    let number = |key: &str| {
        report
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .with_context(|| format!("relais import reported no {key}"))
    };
    let rejected = report
        .get("rejected")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |rows| rows.len() as u64);
    Ok(ImportRun {
        wall: run.wall,
        peak_rss: run.peak_rss,
        cpu: run.user_cpu + run.system_cpu,
        imported: number("imported")?,
        rejected,
    })
}

fn bench_run() -> RunContextInput {
    RunContextInput {
        actor: Actor::system("benchmark"),
        idempotency_key: None,
    }
}

/// Wall-clock time and the CPU time of the calling thread, which for
/// SQLite is all the work the database did, since the engine runs in this
/// thread. CPU time is less disturbed than wall time by other programs
/// on a busy machine.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    pub wall: Duration,
    pub cpu: Duration,
}

/// Starts a measurement; `Stopwatch::stop` returns the `Timing`.
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    pub fn stop(&self) -> Timing {
        Timing {
            wall: self.wall.elapsed(),
            cpu: thread_cpu().saturating_sub(self.cpu),
        }
    }
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill in.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        now.tv_sec.max(0) as u64,
        now.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Runs the user reassignment, timed from the user lookup to the commit.
pub fn apply_user(store: &dyn Store) -> Result<(Timing, Applied)> {
    let start = Stopwatch::start();
    let prepared = prepare_user_reassignment(store, USER_FROM, TARGET)
        .map_err(|error| anyhow!("preparing the user reassignment: {error}"))?;
    let applied = apply_user_reassignment(store, &prepared, bench_run())
        .map_err(|error| anyhow!("applying the user reassignment: {error}"))?;
    Ok((start.stop(), applied))
}

/// Runs a region reassignment on the commercial role, timed from the
/// form check to the commit.
pub fn apply_region(store: &dyn Store, postal: &str) -> Result<(Timing, Applied)> {
    let start = Stopwatch::start();
    let prepared = prepare_region_reassignment(store, TARGET, "FRA", postal, Some("commercial"))
        .map_err(|error| anyhow!("preparing the region reassignment {postal}: {error}"))?;
    let applied = apply_region_reassignment(store, &prepared, bench_run())
        .map_err(|error| anyhow!("applying the region reassignment {postal}: {error}"))?;
    Ok((start.stop(), applied))
}

pub fn preview_user(store: &dyn Store) -> Result<(Timing, Outcome)> {
    let start = Stopwatch::start();
    let prepared = prepare_user_reassignment(store, USER_FROM, TARGET)
        .map_err(|error| anyhow!("preparing the user preview: {error}"))?;
    let outcome = preview_user_reassignment(store, &prepared)
        .map_err(|error| anyhow!("previewing the user reassignment: {error}"))?;
    Ok((start.stop(), outcome))
}

pub fn preview_region(store: &dyn Store, postal: &str) -> Result<(Timing, RegionPreview)> {
    let start = Stopwatch::start();
    let prepared = prepare_region_reassignment(store, TARGET, "FRA", postal, Some("commercial"))
        .map_err(|error| anyhow!("preparing the region preview {postal}: {error}"))?;
    let preview = preview_region_reassignment(store, &prepared)
        .map_err(|error| anyhow!("previewing the region reassignment {postal}: {error}"))?;
    Ok((start.stop(), preview))
}

/// Checks the counts every run reports against each other.
pub fn check_outcome(what: &str, outcome: &Outcome) -> Result<()> {
    if outcome.matched != outcome.changed + outcome.already_owned {
        bail!(
            "{what}: matched {} is not changed {} + already owned {}",
            outcome.matched,
            outcome.changed,
            outcome.already_owned
        );
    }
    if outcome.history_entries != outcome.commercial + outcome.technical {
        bail!(
            "{what}: {} history entries for {} commercial and {} technical changes",
            outcome.history_entries,
            outcome.commercial,
            outcome.technical
        );
    }
    Ok(())
}
