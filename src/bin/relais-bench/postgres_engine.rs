//! The benchmark's side of PostgreSQL: one database per base or copy, all
//! named `relais_bench_<pid>_…` and dropped at the end, copies made with
//! `CREATE DATABASE … TEMPLATE`, `psql`'s `\copy` as the bulk-load
//! reference, and the reassignments written by hand.

use std::cell::RefCell;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use postgres::{Client, Config, NoTls};

use crate::child;
use crate::contacts_csv::HEADERS;
use crate::engine::{
    BenchEngine, BulkLoad, DIGEST_SQL, Digest, HandRegion, HandRun, prefix_upper_bound,
    product_index_statements,
};
use crate::product::Stopwatch;

/// Prefix of every database the benchmark creates.
const NAME_PREFIX: &str = "relais_bench_";

/// The secondary indexes of `contacts` in the product's PostgreSQL schema,
/// by the file columns that fill their columns (see
/// `product_index_statements`). The "C" collation keeps text comparisons
/// as cheap as the product's "C" postal codes and integer owners.
const POSTGRES_INDEXES: [&[usize]; 4] = [
    // contacts_perso_region
    &[12, 10],
    // contacts_pro_region: pro address, perso address, both owners.
    &[17, 15, 12, 10, 6, 7],
    // contacts_commercial_owner: owner, perso address, other owner.
    &[6, 12, 10, 7],
    // contacts_technical_owner
    &[7, 12, 10, 6],
];

pub struct PostgresEngine {
    server_url: String,
    admin: RefCell<Client>,
}

/// Replaces the database of a `postgres://` URL.
fn with_database(url: &str, database: &str) -> Result<String> {
    let scheme_end = url
        .find("://")
        .context("the PostgreSQL URL has no scheme")?
        + 3;
    let (before_query, query) = match url[scheme_end..].find('?') {
        Some(at) => url.split_at(scheme_end + at),
        None => (url, ""),
    };
    let authority = match before_query[scheme_end..].find('/') {
        Some(at) => &before_query[..scheme_end + at],
        None => before_query,
    };
    Ok(format!("{authority}/{database}{query}"))
}

fn database_of(location: &str) -> Result<String> {
    let config: Config = location
        .parse()
        .with_context(|| format!("invalid PostgreSQL URL {location}"))?;
    let name = config.get_dbname().context("the URL names no database")?;
    if !name.starts_with(NAME_PREFIX) {
        bail!("refusing to touch database {name}: not one of the benchmark's");
    }
    Ok(name.to_string())
}

fn connect_url(url: &str) -> Result<Client> {
    let mut config: Config = url.parse().context("invalid PostgreSQL URL")?;
    config.connect_timeout(Duration::from_secs(5));
    config.application_name("relais-bench");
    config.connect(NoTls).context("connecting to PostgreSQL")
}

/// Tells whether a process id is alive, so databases of runs that
/// died can be dropped.
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Reason the PostgreSQL part cannot run that lies outside the product:
/// no server, or a build without the engine.
pub enum Unavailable {
    Unreachable(String),
    NotBuilt(String),
}

impl Unavailable {
    pub fn reason(&self) -> &str {
        match self {
            Unavailable::Unreachable(reason) | Unavailable::NotBuilt(reason) => reason,
        }
    }
}

impl PostgresEngine {
    /// Connects to the server and checks that this build's product opens
    /// a PostgreSQL database. The inner `Err` gives the reason the part
    /// cannot run at all; the outer one is a failure of the product or server.
    pub fn connect(server_url: &str) -> Result<std::result::Result<PostgresEngine, Unavailable>> {
        let admin = match connect_url(server_url) {
            Ok(admin) => admin,
            Err(error) => {
                return Ok(Err(Unavailable::Unreachable(format!(
                    "PostgreSQL is unreachable at {}: {error:#}",
                    redact(server_url)
                ))));
            }
        };
        let engine = PostgresEngine {
            server_url: server_url.to_string(),
            admin: RefCell::new(admin),
        };
        engine.drop_stale_databases()?;

        let probe = engine.create_empty("probe")?;
        let opened = relais::storage::open_store(&probe).map(drop);
        engine.remove(&probe)?;
        match opened {
            Ok(()) => Ok(Ok(engine)),
            Err(error) if error.code() == "engine_unavailable" => Ok(Err(Unavailable::NotBuilt(
                format!("this build of relais has no PostgreSQL engine: {error}"),
            ))),
            Err(error) => Err(anyhow!(
                "relais cannot open a fresh PostgreSQL database: {error}"
            )),
        }
    }

    /// Drops databases left by benchmark runs whose process is gone.
    fn drop_stale_databases(&self) -> Result<()> {
        let names: Vec<String> = self
            .admin
            .borrow_mut()
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'relais\\_bench\\_%'",
                &[],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect();
        for name in names {
            let pid = name[NAME_PREFIX.len()..]
                .split('_')
                .next()
                .and_then(|pid| pid.parse::<u32>().ok());
            if pid.is_some_and(|pid| pid != std::process::id() && !process_alive(pid)) {
                self.admin
                    .borrow_mut()
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
            }
        }
        Ok(())
    }

    fn name(&self, label: &str) -> String {
        format!("{NAME_PREFIX}{}_{label}", std::process::id())
    }

    fn admin(&self, sql: &str) -> Result<()> {
        self.admin
            .borrow_mut()
            .batch_execute(sql)
            .with_context(|| format!("running {sql}"))
    }
}

/// Returns the URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if url[scheme + 3..at].contains(':') => {
            let user_end = scheme + 3 + url[scheme + 3..at].find(':').unwrap_or(0);
            format!("{}:***{}", &url[..user_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// `WHERE` condition of a region as a flat `OR` of index ranges. The
/// values are the benchmark's own constants, written as literals.
fn region_condition(region: &HandRegion) -> String {
    let mut terms = Vec::new();
    for side in ["perso", "pro"] {
        match &region.prefixes {
            None => terms.push(format!("{side}_country = '{}'", region.country)),
            Some(prefixes) => {
                for prefix in prefixes {
                    terms.push(format!(
                        "({side}_country = '{}' AND {side}_postal_norm >= '{prefix}' AND {side}_postal_norm < '{}')",
                        region.country,
                        prefix_upper_bound(prefix)
                    ));
                }
            }
        }
    }
    format!("({})", terms.join(" OR "))
}

/// One statement that locks the rows to change, updates them and writes
/// one history entry per changed row with the owner it replaced, then
/// returns how many rows it updated and how many entries it wrote.
fn reassign_statement(
    kind: &str,
    role: &str,
    column: &str,
    condition: &str,
    to: i64,
    batch: i64,
) -> String {
    format!(
        "WITH old AS (
             SELECT id, {column} AS previous FROM contacts
             WHERE {condition}
             FOR UPDATE
         ), changed AS (
             UPDATE contacts c SET {column} = {to}, updated_at = now()
             FROM old WHERE c.id = old.id
             RETURNING c.id, old.previous
         ), written AS (
             INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
             SELECT id, now(), '{kind}', '{role}', previous, {to}, {batch} FROM changed
             RETURNING 1
         )
         SELECT (SELECT count(*) FROM changed), (SELECT count(*) FROM written)"
    )
}

fn insert_batch(tx: &mut postgres::Transaction<'_>, kind: &str) -> Result<i64> {
    let row = tx.query_one(
        "INSERT INTO batches (kind, params, actor_label, started_at)
         VALUES ($1, '{}'::jsonb, 'benchmark', now()) RETURNING id",
        &[&kind],
    )?;
    Ok(row.get(0))
}

fn run_counts(tx: &mut postgres::Transaction<'_>, sql: &str) -> Result<(u64, u64)> {
    let row = tx.query_one(sql, &[])?;
    let updated: i64 = row.get(0);
    let written: i64 = row.get(1);
    Ok((updated as u64, written as u64))
}

impl BenchEngine for PostgresEngine {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn create_empty(&self, label: &str) -> Result<String> {
        let name = self.name(label);
        self.admin(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
        self.admin(&format!("CREATE DATABASE \"{name}\""))?;
        with_database(&self.server_url, &name)
    }

    fn copy(&self, from: &str, label: &str) -> Result<String> {
        let source = database_of(from)?;
        let name = self.name(label);
        self.admin(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
        // FILE_COPY copies the files after a checkpoint instead of writing
        // the whole database through the WAL, several times faster for a
        // base of a million contacts.
        self.admin(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{source}\" STRATEGY FILE_COPY"
        ))?;
        with_database(&self.server_url, &name)
    }

    fn remove(&self, location: &str) -> Result<()> {
        let name = database_of(location)?;
        self.admin(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
    }

    fn settle(&self, location: &str) -> Result<()> {
        let mut client = connect_url(location)?;
        client.batch_execute("VACUUM ANALYZE")?;
        drop(client);
        self.admin("CHECKPOINT")
    }

    fn bulk_load(&self, csv: &Path, label: &str, log_dir: &Path) -> Result<BulkLoad> {
        let location = self.create_empty(label)?;
        let result = (|| {
            let columns = (1..=HEADERS.len())
                .map(|index| format!("c{index} text"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut client = connect_url(&location)?;
            client.batch_execute(&format!("CREATE TABLE bare ({columns})"))?;

            let mut command = Command::new("psql");
            command
                .arg("--no-psqlrc")
                .arg("--quiet")
                .args(["-v", "ON_ERROR_STOP=1"])
                .arg("--dbname")
                .arg(&location)
                .arg("--command")
                .arg(format!(
                    "\\copy bare FROM '{}' WITH (FORMAT csv, HEADER true, DELIMITER ';')",
                    csv.display()
                ));
            let run = child::run(command, log_dir, label)?.check("psql \\copy")?;
            let rows: i64 = client.query_one("SELECT count(*) FROM bare", &[])?.get(0);
            let start = Stopwatch::start();
            let mut tx = client.transaction()?;
            // The build memory the product's import sets for its builds.
            tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")?;
            for statement in product_index_statements("bare", &POSTGRES_INDEXES, |position| {
                format!("c{} COLLATE \"C\"", position + 1)
            }) {
                tx.batch_execute(&statement)?;
            }
            tx.commit()?;
            Ok(BulkLoad {
                wall: run.wall,
                rows: rows as u64,
                peak_rss: run.peak_rss,
                index_builds: start.stop().wall,
            })
        })();
        self.remove(&location)?;
        result
    }

    fn hand_user(&self, location: &str, from: i64, to: i64) -> Result<HandRun> {
        let mut client = connect_url(location)?;
        let start = Stopwatch::start();
        let mut tx = client.transaction()?;
        let batch = insert_batch(&mut tx, "reassign")?;
        let mut history_rows = 0;
        let mut updated_rows = 0;
        for (role, column) in [
            ("commercial", "commercial_owner_id"),
            ("technical", "technical_owner_id"),
        ] {
            let condition = format!("{column} = {from}");
            let (updated, written) = run_counts(
                &mut tx,
                &reassign_statement("reassign", role, column, &condition, to, batch),
            )?;
            updated_rows += updated;
            history_rows += written;
        }
        tx.commit()?;
        Ok(HandRun {
            timing: start.stop(),
            history_rows,
            updated_rows,
        })
    }

    fn hand_region(&self, location: &str, to: i64, region: &HandRegion) -> Result<HandRun> {
        let mut client = connect_url(location)?;
        let condition = format!(
            "{} AND commercial_owner_id IS DISTINCT FROM {to}",
            region_condition(region)
        );
        let start = Stopwatch::start();
        let mut tx = client.transaction()?;
        let batch = insert_batch(&mut tx, "reassign_region")?;
        let (updated_rows, history_rows) = run_counts(
            &mut tx,
            &reassign_statement(
                "reassign_region",
                "commercial",
                "commercial_owner_id",
                &condition,
                to,
                batch,
            ),
        )?;
        tx.commit()?;
        Ok(HandRun {
            timing: start.stop(),
            history_rows,
            updated_rows,
        })
    }

    fn digest(&self, location: &str) -> Result<Digest> {
        let mut client = connect_url(location)?;
        // Sums of bigint are numeric in PostgreSQL; the values fit bigint.
        let row = client
            .query_one(
                &format!(
                    "SELECT a::bigint, b::bigint, c::bigint, d::bigint, e::bigint, f::bigint, g::bigint, h::bigint
                     FROM ({DIGEST_SQL}) AS digest (a, b, c, d, e, f, g, h)"
                ),
                &[],
            )
            .map_err(|error| anyhow!("digest of {}: {error}", redact(location)))?;
        Ok(Digest {
            contacts: row.get(0),
            commercial_owner_sum: row.get(1),
            technical_owner_sum: row.get(2),
            history_rows: row.get(3),
            history_contact_sum: row.get(4),
            history_previous_sum: row.get(5),
            history_new_sum: row.get(6),
            history_commercial: row.get(7),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_replaced_in_urls() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "postgres://postgres@127.0.0.1:5432",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "postgresql://u:p@localhost/db?connect_timeout=3",
                "postgresql://u:p@localhost/x?connect_timeout=3",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "x").unwrap(), expected, "{url}");
        }
    }

    #[test]
    fn password_hidden_in_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
