//! A batch whose process is killed (SIGKILL) while it writes: after a
//! restart, either the whole batch is there or none of it.
//!
//! The batch is a region reassignment of every French contact of a demo
//! base, the largest write one command makes, so that the kill has time
//! to land in the middle of it.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use relais::domain::batch::BatchKind;
use relais::storage::open_store;

use crate::common::*;

/// Contacts of the demo base: the region batch then writes for about a
/// second on PostgreSQL and a few hundred milliseconds on SQLite (debug
/// build, 2 cores), long enough for a kill to land inside it.
const DEMO_CONTACTS: &str = "10000";

/// When each killed run is stopped, as a fraction of the time a whole run
/// takes: early ones land before or while the batch writes, the last one
/// usually after the commit, so that both outcomes occur.
const KILL_POINTS: [f64; 6] = [0.3, 0.5, 0.7, 0.85, 1.0, 2.0];

/// Maximum wait for the session of a killed run to end.
const KILLED_SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Demo sales users that each run hands every French contact to, one per
/// run, so that every run has almost every contact to change.
const TARGETS: [&str; 7] = ["SR", "MG", "NF", "LM", "IB", "TG", "CF"];

/// Target of the run killed once it is seen writing.
const WRITING_TARGET: &str = "JD";

/// Maximum wait for a run to be seen writing.
const WRITING_TIMEOUT: Duration = Duration::from_secs(60);

fn relais(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relais"));
    command
        .arg("--db")
        .arg(&db.location)
        .env_remove("RELAIS_USER")
        .env_remove("RELAIS_DATABASE_URL");
    command
}

/// Integer columns of every row `sql` returns, read straight from the
/// database rather than through the store.
fn query(db: &TestDb, sql: &str) -> Vec<Vec<Option<i64>>> {
    match db.engine {
        Engine::Sqlite => {
            let conn = rusqlite::Connection::open(&db.location).expect("open SQLite");
            let mut statement = conn.prepare(sql).expect("prepare");
            let columns = statement.column_count();
            statement
                .query_map([], |row| (0..columns).map(|index| row.get(index)).collect())
                .expect("query")
                .collect::<Result<Vec<_>, _>>()
                .expect("rows")
        }
        Engine::Postgres => {
            let mut client =
                postgres::Client::connect(&db.location, postgres::NoTls).expect("connect");
            client
                .query(sql, &[])
                .expect("query")
                .iter()
                .map(|row| (0..row.len()).map(|index| row.get(index)).collect())
                .collect()
        }
    }
}

fn count(db: &TestDb, sql: &str) -> i64 {
    query(db, sql)[0][0].expect("a count")
}

/// Contact id → commercial owner id, and the ids of contacts with an
/// address in France.
struct Owners {
    commercial: HashMap<i64, Option<i64>>,
    in_france: HashSet<i64>,
}

fn owners(db: &TestDb) -> Owners {
    let rows = query(
        db,
        "SELECT id, commercial_owner_id,
                CAST(CASE WHEN perso_country = 'FRA' OR pro_country = 'FRA' THEN 1 ELSE 0 END AS BIGINT)
         FROM contacts",
    );
    let mut owners = Owners {
        commercial: HashMap::new(),
        in_france: HashSet::new(),
    };
    for row in rows {
        let id = row[0].expect("contact id");
        owners.commercial.insert(id, row[1]);
        if row[2] == Some(1) {
            owners.in_france.insert(id);
        }
    }
    owners
}

/// What one killed run left behind.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Nothing,
    Whole,
}

/// Checks that the database contains either none or all of the run that
/// handed every French contact to `target`, and returns which.
fn check_all_or_nothing(
    db: &TestDb,
    before: &Owners,
    history_before: i64,
    last_batch: i64,
    target: &str,
) -> Outcome {
    // A fresh handle, as after a restart.
    let store = open_store(&db.location).expect("reopen the database");
    let target_id = store
        .find_user(target)
        .expect("find user")
        .expect("demo user")
        .id;
    let after = owners(db);
    let history_after = count(db, "SELECT count(*) FROM history");
    let new_batches: Vec<_> = store
        .list_batches(100, 0)
        .expect("batches")
        .into_iter()
        .filter(|batch| batch.id > last_batch)
        .collect();
    assert!(
        new_batches.len() <= 1,
        "one run recorded {} batches",
        new_batches.len()
    );

    let Some(batch) = new_batches.first() else {
        assert_eq!(
            history_after, history_before,
            "history entries without their batch"
        );
        assert!(
            after.commercial == before.commercial,
            "owners changed without a batch"
        );
        return Outcome::Nothing;
    };

    assert_eq!(batch.kind, BatchKind::ReassignRegion);
    assert!(
        batch.finished_at.is_some(),
        "batch {} has no end time",
        batch.id
    );
    let mut changed = HashSet::new();
    for (id, owner) in &after.commercial {
        let previous = before.commercial[id];
        if before.in_france.contains(id) {
            assert_eq!(
                *owner,
                Some(target_id),
                "contact {id} in France was not handed over"
            );
        } else {
            assert_eq!(*owner, previous, "contact {id} outside France changed");
        }
        if *owner != previous {
            changed.insert(*id);
        }
    }
    let entries = query(
        db,
        &format!(
            "SELECT contact_id, previous_owner_id, new_owner_id FROM history WHERE batch_id = {}",
            batch.id
        ),
    );
    assert_eq!(
        history_after - history_before,
        entries.len() as i64,
        "entries outside the batch"
    );
    assert_eq!(entries.len(), changed.len(), "one history entry per change");
    for entry in &entries {
        let contact = entry[0].expect("contact id");
        assert!(
            changed.contains(&contact),
            "entry for unchanged contact {contact}"
        );
        assert_eq!(
            entry[1], before.commercial[&contact],
            "contact {contact}: owner replaced"
        );
        assert_eq!(entry[2], Some(target_id), "contact {contact}: new owner");
    }
    assert_eq!(
        batch.outcome.changed,
        changed.len() as u64,
        "{:?}",
        batch.outcome
    );
    assert_eq!(
        batch.outcome.history_entries,
        changed.len() as u64,
        "{:?}",
        batch.outcome
    );
    assert_eq!(
        batch.outcome.matched,
        before.in_france.len() as u64,
        "{:?}",
        batch.outcome
    );
    Outcome::Whole
}

fn last_batch_id(db: &TestDb) -> i64 {
    count(db, "SELECT coalesce(max(id), 0) FROM batches")
}

/// Starts the region run that hands every French contact to `target`.
fn start_run(db: &TestDb, target: &str) -> std::process::Child {
    relais(db)
        .args([
            "reassign-region",
            "--to",
            target,
            "--country",
            "FRA",
            "--postal",
            "*",
            "--json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start relais")
}

#[test]
fn killed_batch_leaves_all_or_nothing() {
    each_engine(|db| {
        let demo = relais(db)
            .args(["demo", "--contacts", DEMO_CONTACTS, "--json"])
            .output()
            .expect("run relais demo");
        assert!(
            demo.status.success(),
            "{}",
            String::from_utf8_lossy(&demo.stderr)
        );

        // One run to completion gives the time a whole run takes here.
        let before = owners(db);
        let history_before = count(db, "SELECT count(*) FROM history");
        let last_batch = last_batch_id(db);
        let started = Instant::now();
        let status = start_run(db, TARGETS[0]).wait().expect("wait for relais");
        let whole_run = started.elapsed();
        assert!(status.success(), "the uninterrupted run failed");
        assert_eq!(
            check_all_or_nothing(db, &before, history_before, last_batch, TARGETS[0]),
            Outcome::Whole
        );

        let mut seen = Vec::new();
        for (point, target) in KILL_POINTS.iter().zip(&TARGETS[1..]) {
            let before = owners(db);
            let history_before = count(db, "SELECT count(*) FROM history");
            let last_batch = last_batch_id(db);
            let mut child = start_run(db, target);

            std::thread::sleep(whole_run.mul_f64(*point));
            let writing = batch_statement_running(db);
            // `Child::kill` sends SIGKILL on Unix: no destructor, no rollback
            // from the process itself.
            let _ = child.kill();
            child.wait().expect("reap relais");
            wait_for_killed_session(db);

            let outcome = check_all_or_nothing(db, &before, history_before, last_batch, target);
            seen.push((*point, writing, outcome));
        }
        // Which of these kills landed mid-write depends on the machine's
        // speed, so it is shown rather than asserted.
        eprintln!(
            "{:?}: whole run {:?}; (fraction, batch statement running, outcome) per killed run: {seen:?}",
            db.engine, whole_run
        );

        // One more run, killed once it is seen writing: its batch must be
        // wholly absent.
        let before = owners(db);
        let history_before = count(db, "SELECT count(*) FROM history");
        let last_batch = last_batch_id(db);
        let mut child = start_run(db, WRITING_TARGET);
        wait_until_writing(db, &mut child);
        let _ = child.kill();
        child.wait().expect("reap relais");
        wait_for_killed_session(db);
        assert_eq!(
            check_all_or_nothing(db, &before, history_before, last_batch, WRITING_TARGET),
            Outcome::Nothing,
            "a run killed while it wrote left part of its batch"
        );
    });
}

/// Returns once `child`'s run is inside its write transaction. On
/// PostgreSQL its batch statement is then running. On SQLite another
/// connection then cannot take the write lock, at two probes in a row: a
/// `reassign-region` run takes that lock for its batch alone.
fn wait_until_writing(db: &TestDb, child: &mut std::process::Child) {
    let deadline = Instant::now() + WRITING_TIMEOUT;
    let mut locked_before = false;
    loop {
        assert!(
            child.try_wait().expect("poll relais").is_none(),
            "the run ended before it was seen writing"
        );
        assert!(
            Instant::now() < deadline,
            "the run was not seen writing within {WRITING_TIMEOUT:?}"
        );
        match db.engine {
            Engine::Postgres => {
                if batch_statement_running(db) == Some(true) {
                    return;
                }
            }
            Engine::Sqlite => {
                let locked = write_lock_taken(db);
                if locked && locked_before {
                    return;
                }
                locked_before = locked;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Tells whether another connection holds the SQLite base's write lock,
/// by trying to take it without waiting.
fn write_lock_taken(db: &TestDb) -> bool {
    let conn = rusqlite::Connection::open(&db.location).expect("open SQLite");
    conn.busy_timeout(Duration::ZERO).expect("busy timeout");
    match conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
        Ok(()) => false,
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            true
        }
        Err(error) => panic!("probe the write lock: {error}"),
    }
}

/// Tells, on PostgreSQL, whether the region batch's statement is running at
/// this moment; `None` on SQLite, which has no such view.
fn batch_statement_running(db: &TestDb) -> Option<bool> {
    if db.engine != Engine::Postgres {
        return None;
    }
    let running = count(
        db,
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'active' AND query LIKE 'WITH target%'",
    );
    Some(running > 0)
}

/// Waits until no other session works on the test database. A PostgreSQL
/// server notices that its client died only when it next reads from or
/// writes to the connection. The killed run's session may still be
/// finishing a statement, or a `COMMIT` the client sent just before dying,
/// so the check must wait until that session is gone.
fn wait_for_killed_session(db: &TestDb) {
    if db.engine != Engine::Postgres {
        return;
    }
    let deadline = Instant::now() + KILLED_SESSION_TIMEOUT;
    loop {
        let busy = count(
            db,
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
        );
        if busy == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the killed run's session is still working after {KILLED_SESSION_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
