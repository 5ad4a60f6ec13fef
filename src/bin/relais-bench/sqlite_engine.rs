//! The benchmark's side of SQLite: database files in the work folder, the
//! `sqlite3` shell's `.import` as the bulk-load reference, and the
//! reassignments written by hand with rusqlite.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use rusqlite::types::Value;
use rusqlite::{Connection, TransactionBehavior, params, params_from_iter};

use crate::child;
use crate::contacts_csv::{HEADERS, remove_sqlite_files};
use crate::engine::{
    BenchEngine, BulkLoad, DIGEST_SQL, Digest, HandRegion, HandRun, prefix_upper_bound,
    product_index_statements,
};
use crate::product::Stopwatch;

pub struct SqliteEngine {
    dir: PathBuf,
}

impl SqliteEngine {
    pub fn new(dir: &Path) -> SqliteEngine {
        SqliteEngine {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, label: &str) -> PathBuf {
        self.dir.join(format!("{label}.db"))
    }
}

/// Opens a connection with the pragmas of the product's own pool, so the
/// hand-written SQL pays for the same foreign-key checks and syncs.
/// The secondary indexes of `contacts` in the product's SQLite schema, by
/// the file columns that fill their columns (see `product_index_statements`).
const SQLITE_INDEXES: [&[usize]; 4] = [
    // contacts_pro_region: pro country and postal code, then perso ones.
    &[17, 15, 12, 10],
    // contacts_perso_region
    &[12, 10],
    // contacts_commercial_owner: owner, perso then pro address, other owner.
    &[6, 12, 10, 17, 15, 7],
    // contacts_technical_owner
    &[7, 12, 10, 17, 15],
];

fn connect(location: &str) -> Result<Connection> {
    let conn = Connection::open(location).with_context(|| format!("opening {location}"))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;",
    )?;
    Ok(conn)
}

fn now_text() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Inserts the batch row the history entries point to.
fn insert_batch(tx: &rusqlite::Transaction<'_>, kind: &str, at: &str) -> Result<i64> {
    tx.execute(
        "INSERT INTO batches (kind, params, actor_label, started_at) VALUES (?1, '{}', 'benchmark', ?2)",
        params![kind, at],
    )?;
    Ok(tx.last_insert_rowid())
}

/// `WHERE` condition of a region, as a flat `OR` of one index range per
/// address side and prefix, with its parameters.
fn region_condition(region: &HandRegion) -> (String, Vec<Value>) {
    let mut terms = Vec::new();
    let mut values = Vec::new();
    for side in ["perso", "pro"] {
        match &region.prefixes {
            None => {
                terms.push(format!("{side}_country = ?"));
                values.push(Value::Text(region.country.into()));
            }
            Some(prefixes) => {
                for prefix in prefixes {
                    terms.push(format!(
                        "({side}_country = ? AND {side}_postal_norm >= ? AND {side}_postal_norm < ?)"
                    ));
                    values.push(Value::Text(region.country.into()));
                    values.push(Value::Text((*prefix).into()));
                    values.push(Value::Text(prefix_upper_bound(prefix)));
                }
            }
        }
    }
    (format!("({})", terms.join(" OR ")), values)
}

/// The hand-written history insert and owner update of a region
/// reassignment on the commercial role, with their parameters in order.
///
/// A whole country is nearly every row, and without statistics SQLite
/// would run `perso_country = ? OR pro_country = ?` with two index
/// scans and a row lookup per id, about twice as slow as reading the table
/// in order. So the whole-country form uses `NOT INDEXED`, as someone
/// tuning that statement by hand would.
fn hand_region_sql(region: &HandRegion) -> (String, String, Vec<Value>) {
    let (condition, values) = region_condition(region);
    let scan = if region.prefixes.is_none() {
        " NOT INDEXED"
    } else {
        ""
    };
    let insert = format!(
        "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
         SELECT id, ?, 'reassign_region', 'commercial', commercial_owner_id, ?, ? FROM contacts{scan}
         WHERE {condition} AND commercial_owner_id IS NOT ?"
    );
    let update = format!(
        "UPDATE contacts{scan} SET commercial_owner_id = ?, updated_at = ?
         WHERE {condition} AND commercial_owner_id IS NOT ?"
    );
    (insert, update, values)
}

impl BenchEngine for SqliteEngine {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn create_empty(&self, label: &str) -> Result<String> {
        let path = self.path(label);
        remove_sqlite_files(&path)?;
        Ok(path.to_string_lossy().into_owned())
    }

    fn copy(&self, from: &str, label: &str) -> Result<String> {
        let to = self.path(label);
        remove_sqlite_files(&to)?;
        if Path::new(&format!("{from}-wal")).exists() {
            bail!("{from} has a WAL file: settle it before copying");
        }
        std::fs::copy(from, &to).with_context(|| format!("copying {from} to {}", to.display()))?;
        Ok(to.to_string_lossy().into_owned())
    }

    fn remove(&self, location: &str) -> Result<()> {
        remove_sqlite_files(Path::new(location))
    }

    fn settle(&self, location: &str) -> Result<()> {
        let conn = connect(location)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        // Leaving WAL mode removes the WAL file, so a plain file copy is a
        // whole database. Every product connection sets WAL again.
        conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        drop(conn);
        remove_sqlite_files(Path::new(&format!("{location}-wal")))?;
        Ok(())
    }

    fn bulk_load(&self, csv: &Path, label: &str, log_dir: &Path) -> Result<BulkLoad> {
        let path = self.path(label);
        remove_sqlite_files(&path)?;
        let script_path = log_dir.join(format!("{label}.sqlite3-script"));
        let mut script = std::fs::File::create(&script_path)?;
        writeln!(script, ".bail on")?;
        writeln!(script, ".mode csv")?;
        writeln!(script, ".separator ;")?;
        writeln!(script, ".import '{}' bare", csv.display())?;
        drop(script);

        let mut command = Command::new("sqlite3");
        command.arg(&path).stdin(Stdio::null());
        command.arg(format!(".read '{}'", script_path.display()));
        let run = child::run(command, log_dir, label)?.check("sqlite3 .import")?;

        let mut conn = Connection::open(&path)?;
        let rows: i64 = conn.query_row("SELECT count(*) FROM bare", [], |row| row.get(0))?;
        // The sorter settings the product's import uses for its builds.
        conn.execute_batch(
            "PRAGMA threads = 2; PRAGMA cache_size = -4096; PRAGMA temp_store = FILE;",
        )?;
        let start = Stopwatch::start();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for statement in product_index_statements("bare", &SQLITE_INDEXES, |position| {
            format!("\"{}\"", HEADERS[position])
        }) {
            tx.execute_batch(&statement)?;
        }
        tx.commit()?;
        let index_builds = start.stop().wall;
        drop(conn);
        remove_sqlite_files(&path)?;
        Ok(BulkLoad {
            wall: run.wall,
            rows: rows as u64,
            peak_rss: run.peak_rss,
            index_builds,
        })
    }

    fn hand_user(&self, location: &str, from: i64, to: i64) -> Result<HandRun> {
        let mut conn = connect(location)?;
        let start = Stopwatch::start();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = now_text();
        let batch = insert_batch(&tx, "reassign", &at)?;
        let mut history_rows = 0;
        let mut updated_rows = 0;
        for (role, column) in [
            ("commercial", "commercial_owner_id"),
            ("technical", "technical_owner_id"),
        ] {
            history_rows += tx.execute(
                &format!(
                    "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                     SELECT id, ?1, 'reassign', ?2, {column}, ?3, ?4 FROM contacts WHERE {column} = ?5"
                ),
                params![at, role, to, batch, from],
            )? as u64;
            updated_rows += tx.execute(
                &format!("UPDATE contacts SET {column} = ?1, updated_at = ?2 WHERE {column} = ?3"),
                params![to, at, from],
            )? as u64;
        }
        tx.commit()?;
        Ok(HandRun {
            timing: start.stop(),
            history_rows,
            updated_rows,
        })
    }

    fn hand_region(&self, location: &str, to: i64, region: &HandRegion) -> Result<HandRun> {
        let mut conn = connect(location)?;
        let (insert, update, region_values) = hand_region_sql(region);
        let start = Stopwatch::start();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = now_text();
        let batch = insert_batch(&tx, "reassign_region", &at)?;

        let mut insert_values = vec![
            Value::Text(at.clone()),
            Value::Integer(to),
            Value::Integer(batch),
        ];
        insert_values.extend(region_values.iter().cloned());
        insert_values.push(Value::Integer(to));
        let history_rows = tx.execute(&insert, params_from_iter(insert_values.iter()))? as u64;

        let mut update_values = vec![Value::Integer(to), Value::Text(at)];
        update_values.extend(region_values.iter().cloned());
        update_values.push(Value::Integer(to));
        let updated_rows = tx.execute(&update, params_from_iter(update_values.iter()))? as u64;
        tx.commit()?;
        Ok(HandRun {
            timing: start.stop(),
            history_rows,
            updated_rows,
        })
    }

    fn digest(&self, location: &str) -> Result<Digest> {
        let conn = connect(location)?;
        let digest = conn.query_row(DIGEST_SQL, [], |row| {
            Ok(Digest {
                contacts: row.get(0)?,
                commercial_owner_sum: row.get(1)?,
                technical_owner_sum: row.get(2)?,
                history_rows: row.get(3)?,
                history_contact_sum: row.get(4)?,
                history_previous_sum: row.get(5)?,
                history_new_sum: row.get(6)?,
                history_commercial: row.get(7)?,
            })
        })?;
        Ok(digest)
    }
}
