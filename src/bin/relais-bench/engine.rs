//! Per-engine operations of the benchmark besides the product itself:
//! fresh and copied databases, the engine's own bulk load, the same
//! reassignments written by hand in SQL, and a digest of the results.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::product::Timing;

/// A region as the hand-written SQL selects it. The prefixes are spelled
/// out by hand (`2A` is `200` and `201`), independently of the product's
/// parser, so a parser fault shows up as a difference.
#[derive(Clone, Debug)]
pub struct HandRegion {
    pub country: &'static str,
    /// `None` selects every address in the country.
    pub prefixes: Option<Vec<&'static str>>,
}

/// One hand-written run, timed from `BEGIN` to `COMMIT` included.
#[derive(Clone, Copy, Debug)]
pub struct HandRun {
    pub timing: Timing,
    pub history_rows: u64,
    pub updated_rows: u64,
}

/// The engine's own bulk load of the CSV file into a bare table, then the
/// product's secondary contact indexes built by hand on the bare table's
/// matching columns.
#[derive(Clone, Copy, Debug)]
pub struct BulkLoad {
    pub wall: Duration,
    pub rows: u64,
    pub peak_rss: u64,
    /// Wall time of the index builds after the load, in one transaction.
    pub index_builds: Duration,
}

/// Summary of the data a reassignment leaves behind, in numbers that two runs
/// doing the same work must share: owners per contact and the history
/// entries of mass operations (times and batch numbers left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    pub contacts: i64,
    pub commercial_owner_sum: i64,
    pub technical_owner_sum: i64,
    pub history_rows: i64,
    pub history_contact_sum: i64,
    pub history_previous_sum: i64,
    pub history_new_sum: i64,
    pub history_commercial: i64,
}

/// The query behind `Digest`, valid on both engines. Ids times owner ids
/// stay far below 2^63 for any base the benchmark builds.
pub const DIGEST_SQL: &str = "SELECT
    (SELECT count(*) FROM contacts),
    (SELECT coalesce(sum(id * coalesce(commercial_owner_id, 0)), 0) FROM contacts),
    (SELECT coalesce(sum(id * coalesce(technical_owner_id, 0)), 0) FROM contacts),
    (SELECT count(*) FROM history WHERE batch_id IS NOT NULL AND kind IN ('reassign', 'reassign_region')),
    (SELECT coalesce(sum(contact_id), 0) FROM history WHERE batch_id IS NOT NULL AND kind IN ('reassign', 'reassign_region')),
    (SELECT coalesce(sum(contact_id * coalesce(previous_owner_id, 0)), 0) FROM history WHERE batch_id IS NOT NULL AND kind IN ('reassign', 'reassign_region')),
    (SELECT coalesce(sum(contact_id * coalesce(new_owner_id, 0)), 0) FROM history WHERE batch_id IS NOT NULL AND kind IN ('reassign', 'reassign_region')),
    (SELECT count(*) FROM history WHERE batch_id IS NOT NULL AND kind IN ('reassign', 'reassign_region') AND role = 'commercial')";

/// Upper bound of a prefix's byte range: the prefix with its last byte
/// incremented (`51` → `52`), as the product also computes it.
pub fn prefix_upper_bound(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

pub trait BenchEngine {
    /// `sqlite` or `postgres`, as `Store::engine` names it.
    fn name(&self) -> &'static str;

    /// Creates an empty database and returns what `--db` takes to reach it.
    fn create_empty(&self, label: &str) -> Result<String>;

    /// Copies a settled database, for a run that must start from it.
    fn copy(&self, from: &str, label: &str) -> Result<String>;

    fn remove(&self, location: &str) -> Result<()>;

    /// Leaves a database as a steady server would have it before copies
    /// are taken: SQLite checkpoints its WAL, PostgreSQL vacuums and
    /// analyses.
    fn settle(&self, location: &str) -> Result<()>;

    /// Runs the engine's own command-line bulk load of `csv` into a new
    /// bare table of text columns, in a new database, then builds on it the
    /// indexes the product's schema keeps on `contacts`, over the file's
    /// columns that fill them, and times that apart.
    fn bulk_load(&self, csv: &Path, label: &str, log_dir: &Path) -> Result<BulkLoad>;

    /// Reassigns both roles of `from` to `to` with hand-written SQL in one
    /// transaction: one batch row, then per role the history insert and
    /// the owner update.
    fn hand_user(&self, location: &str, from: i64, to: i64) -> Result<HandRun>;

    /// Gives the commercial role of every contact in `region` to `to`
    /// with hand-written SQL in one transaction.
    fn hand_region(&self, location: &str, to: i64, region: &HandRegion) -> Result<HandRun>;

    fn digest(&self, location: &str) -> Result<Digest>;
}

/// `CREATE INDEX` statements that build on the bulk load's bare table the
/// product's secondary indexes of `contacts`. Each index is given by the
/// positions, in the file's header, of the columns that fill its columns:
/// owner initials for an owner id, the country and postal code as the file
/// writes them for their normalised forms. The keys are text where the
/// product sorts some integers, and as many, so the builds do about the
/// same work as the product's.
pub fn product_index_statements(
    table: &str,
    indexes: &[&[usize]],
    column: impl Fn(usize) -> String,
) -> Vec<String> {
    indexes
        .iter()
        .enumerate()
        .map(|(number, positions)| {
            let columns: Vec<String> = positions.iter().map(|&position| column(position)).collect();
            format!(
                "CREATE INDEX {table}_{number} ON {table} ({})",
                columns.join(", ")
            )
        })
        .collect()
}
