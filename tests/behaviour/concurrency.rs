//! Two operations at the same moment on the same contacts, each from its
//! own thread and store handle, released together by a barrier. No update
//! is lost, history stays one unbroken chain per contact and role, and the
//! counts reported are the entries written.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;

use relais::domain::batch::Applied;
use relais::service::ServiceError;
use relais::service::reassign::{
    apply_region_reassignment, apply_user_reassignment, prepare_region_reassignment,
    prepare_user_reassignment, preview_region_reassignment, undo_batch,
};
use relais::storage::{ContactFilter, ExportSelection, Page, Store, StoreError, open_store};

use crate::common::*;

/// Rounds of each race: enough for the two batches to interleave in many
/// ways, few enough for the file to run in seconds on each engine.
const ROUNDS: usize = 40;

/// Contacts in play; every one is in the region the region batch selects.
const CONTACTS: usize = 120;

/// Contacts owned by JD on both roles, others on the commercial role only
/// or the technical role only, so that the two batches overlap on some
/// rows and roles and not on others.
fn fixture(db: &TestDb) {
    cast(db);
    let rows: Vec<String> = (0..CONTACTS)
        .map(|n| {
            let postal = ["51100", "02000", "51 100", "2100"][n % 4];
            let (commercial, technical) = match n % 3 {
                0 => ("JD", "JD"),
                1 => ("JD", "DD"),
                _ => ("DD", "JD"),
            };
            format!("c{n},Contact{n},,,,,,{postal},Ville,FRA,{commercial},{technical}")
        })
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    import_rows(db, &rows);
}

/// Gives every contact of BB and CC back to JD through ordinary batches,
/// so that each round races on the same contacts, and returns their runs.
fn reset(store: &dyn Store) -> Vec<Applied> {
    ["BB", "CC"]
        .into_iter()
        .map(|from| {
            let prepared = prepare_user_reassignment(store, from, "JD").expect("prepare reset");
            apply_user_reassignment(store, &prepared, run()).expect("reset")
        })
        .collect()
}

/// What one thread got: the run's result, or the error it returned.
type RunResult = Result<Applied, ServiceError>;

/// Accepts only `Busy`: a batch whose conflicts outlasted the retries.
fn check_error(error: &ServiceError, operation: &str) {
    assert!(
        matches!(error, ServiceError::Store(StoreError::Busy)),
        "{operation} failed with an error other than Busy: {error}"
    );
}

/// One history entry as the checks need it.
#[derive(Debug, Clone)]
struct Entry {
    id: i64,
    role: String,
    previous: Option<String>,
    new: Option<String>,
    batch: Option<i64>,
}

/// A contact's owners and its history, oldest first.
struct ContactState {
    external_id: String,
    commercial: Option<String>,
    technical: Option<String>,
    entries: Vec<Entry>,
}

fn read_all(store: &dyn Store) -> Vec<ContactState> {
    let mut contacts = Vec::new();
    store
        .export_contacts(&ExportSelection::All, &mut |contact| {
            let mut entries: Vec<Entry> = store
                .contact_history(contact.id)?
                .into_iter()
                .map(|entry| Entry {
                    id: entry.id,
                    role: entry
                        .role
                        .map(|role| role.as_str().to_string())
                        .unwrap_or_default(),
                    previous: entry.previous_owner.map(|user| user.initials),
                    new: entry.new_owner.map(|user| user.initials),
                    batch: entry.batch_id,
                })
                .collect();
            entries.sort_by_key(|entry| entry.id);
            contacts.push(ContactState {
                external_id: contact.external_id.clone().unwrap_or_default(),
                commercial: contact
                    .commercial_owner
                    .as_ref()
                    .map(|user| user.initials.clone()),
                technical: contact
                    .technical_owner
                    .as_ref()
                    .map(|user| user.initials.clone()),
                entries,
            });
            Ok(())
        })
        .expect("export");
    contacts
}

/// The owner the fixture gave contact `c{n}` on `role`.
fn initial_owner(external_id: &str, role: &str) -> Option<String> {
    let n: usize = external_id
        .trim_start_matches('c')
        .parse()
        .expect("fixture id");
    let (commercial, technical) = match n % 3 {
        0 => ("JD", "JD"),
        1 => ("JD", "DD"),
        _ => ("DD", "JD"),
    };
    Some(
        if role == "commercial" {
            commercial
        } else {
            technical
        }
        .to_string(),
    )
}

/// Checks every contact's history against its owners, and every batch's
/// reported counts against the entries that point to it.
fn check_history(store: &dyn Store, applied: &[Applied]) {
    let contacts = read_all(store);
    let mut entries_per_batch: HashMap<i64, u64> = HashMap::new();
    let mut total_entries = 0;

    for ContactState {
        external_id,
        commercial,
        technical,
        entries,
    } in &contacts
    {
        for (role, owner) in [("commercial", commercial), ("technical", technical)] {
            let chain: Vec<&Entry> = entries.iter().filter(|entry| entry.role == role).collect();
            let mut expected_previous = initial_owner(external_id, role);
            let mut before: Option<&Entry> = None;
            for entry in &chain {
                assert_eq!(
                    entry.previous, expected_previous,
                    "{external_id} {role}: {entry:?} names {:?} as replaced, but the owner was {:?}, set by {before:?}",
                    entry.previous, expected_previous
                );
                assert_ne!(
                    entry.previous, entry.new,
                    "{external_id} {role}: {entry:?} changes nothing"
                );
                expected_previous = entry.new.clone();
                before = Some(entry);
            }
            assert_eq!(
                owner, &expected_previous,
                "{external_id} {role}: the owner is not the new owner of the latest entry {before:?}"
            );
        }
        for entry in entries {
            total_entries += 1;
            if let Some(batch) = entry.batch {
                *entries_per_batch.entry(batch).or_default() += 1;
            }
        }
    }

    let mut reported_entries = 0;
    for run in applied {
        let outcome = &run.outcome;
        assert_eq!(
            outcome.matched,
            outcome.changed + outcome.already_owned,
            "{run:?}"
        );
        assert_eq!(
            outcome.history_entries,
            outcome.commercial + outcome.technical,
            "{run:?}"
        );
        reported_entries += outcome.history_entries;
        let Some(batch) = run.batch_id else {
            assert_eq!(outcome.history_entries, 0, "{run:?}");
            continue;
        };
        assert_eq!(
            entries_per_batch.get(&batch).copied().unwrap_or(0),
            outcome.history_entries,
            "batch {batch} reported {outcome:?}"
        );
        let stored = store
            .batch(batch)
            .expect("read batch")
            .expect("batch recorded");
        assert_eq!(&stored.outcome, outcome, "batch {batch} as stored");
    }
    // The import wrote no history (every contact was new), so every entry
    // belongs to a batch that reported it: a batch that failed left none.
    assert_eq!(
        total_entries, reported_entries,
        "history entries written against reported"
    );
    let recorded = store.list_batches(10_000, 0).expect("batches");
    let reported_batches = applied.iter().filter(|run| run.batch_id.is_some()).count();
    assert_eq!(
        recorded.len(),
        reported_batches + 1,
        "batches recorded: the import plus each run that changed something"
    );
}

/// Runs `left` and `right` on two threads released together.
fn race<L, R>(left: L, right: R) -> (RunResult, RunResult)
where
    L: FnOnce() -> RunResult + Send + 'static,
    R: FnOnce() -> RunResult + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    let left_barrier = Arc::clone(&barrier);
    let left = thread::spawn(move || {
        left_barrier.wait();
        left()
    });
    let right_barrier = Arc::clone(&barrier);
    let right = thread::spawn(move || {
        right_barrier.wait();
        right()
    });
    (
        left.join().expect("left thread"),
        right.join().expect("right thread"),
    )
}

/// Two handles of their own on the test database, as two servers have.
fn handles(db: &TestDb) -> (Arc<dyn Store>, Arc<dyn Store>) {
    (
        open_store(&db.location).expect("first handle"),
        open_store(&db.location).expect("second handle"),
    )
}

#[test]
fn concurrent_user_and_region_batches_keep_history_true() {
    each_engine(|db| {
        fixture(db);
        let (first, second) = handles(db);
        let mut applied = Vec::new();
        let mut busy = 0;

        for round in 0..ROUNDS {
            let by_user =
                prepare_user_reassignment(first.as_ref(), "JD", "BB").expect("prepare JD → BB");
            let role = if round % 2 == 0 { "commercial" } else { "both" };
            let by_region =
                prepare_region_reassignment(second.as_ref(), "CC", "FRA", "51;02", Some(role))
                    .expect("prepare region → CC");
            let (user_store, region_store) = (Arc::clone(&first), Arc::clone(&second));

            let (user_run, region_run) = race(
                move || apply_user_reassignment(user_store.as_ref(), &by_user, run()),
                move || apply_region_reassignment(region_store.as_ref(), &by_region, run()),
            );

            let region_committed = region_run.is_ok();
            for (operation, result) in [("JD → BB", user_run), ("region → CC", region_run)] {
                match result {
                    Ok(run) => applied.push(run),
                    Err(error) => {
                        check_error(&error, operation);
                        busy += 1;
                    }
                }
            }
            // Whichever committed last, the region batch leaves every
            // commercial owner to CC, since every contact is in the region.
            if region_committed {
                let page = db
                    .store()
                    .list_contacts(&ContactFilter::default(), Page::first(CONTACTS as u32))
                    .expect("contacts");
                for contact in page.contacts {
                    assert_eq!(
                        contact
                            .commercial_owner
                            .map(|user| user.initials)
                            .as_deref(),
                        Some("CC"),
                        "{:?} after round {round}",
                        contact.external_id
                    );
                }
            }

            applied.extend(reset(db.store()));
        }

        check_history(db.store(), &applied);
        assert!(
            busy < ROUNDS,
            "{busy} runs gave up as Busy in {ROUNDS} rounds"
        );
    });
}

#[test]
fn double_submit_with_same_key_runs_once() {
    each_engine(|db| {
        fixture(db);
        let (first, second) = handles(db);
        let mut applied = Vec::new();

        for round in 0..ROUNDS {
            let prepared = prepare_user_reassignment(first.as_ref(), "JD", "BB").expect("prepare");
            let mut keyed = run();
            keyed.idempotency_key = Some(format!("form-{round}"));
            let (first_store, second_store) = (Arc::clone(&first), Arc::clone(&second));
            let (first_prepared, first_keyed) = (prepared.clone(), keyed.clone());

            let (first_result, second_result) = race(
                move || apply_user_reassignment(first_store.as_ref(), &first_prepared, first_keyed),
                move || apply_user_reassignment(second_store.as_ref(), &prepared, keyed),
            );

            let first_result = first_result
                .unwrap_or_else(|error| panic!("first submit of round {round}: {error}"));
            let second_result = second_result
                .unwrap_or_else(|error| panic!("second submit of round {round}: {error}"));
            assert_eq!(
                first_result.batch_id, second_result.batch_id,
                "round {round}"
            );
            assert!(
                first_result.batch_id.is_some(),
                "round {round}: JD owned contacts to move"
            );
            assert_eq!(first_result.outcome, second_result.outcome, "round {round}");
            assert_eq!(
                [first_result.replayed, second_result.replayed]
                    .iter()
                    .filter(|replayed| **replayed)
                    .count(),
                1,
                "round {round}: exactly one submit replays the other: {first_result:?} {second_result:?}"
            );
            applied.push(if first_result.replayed {
                second_result
            } else {
                first_result
            });

            applied.extend(reset(db.store()));
        }

        check_history(db.store(), &applied);
    });
}

/// Two submits with the same key of a run that changes nothing: both
/// succeed, one replays the other, and neither records a batch.
#[test]
fn double_submit_of_noop_runs_once() {
    each_engine(|db| {
        fixture(db);
        let (first, second) = handles(db);
        let batches_before = db.store().list_batches(100, 0).unwrap().len();

        for round in 0..ROUNDS {
            // CC owns nothing in the fixture.
            let prepared = prepare_user_reassignment(first.as_ref(), "CC", "BB").expect("prepare");
            let mut keyed = run();
            keyed.idempotency_key = Some(format!("quiet-{round}"));
            let (first_store, second_store) = (Arc::clone(&first), Arc::clone(&second));
            let (first_prepared, first_keyed) = (prepared.clone(), keyed.clone());

            let (first_result, second_result) = race(
                move || apply_user_reassignment(first_store.as_ref(), &first_prepared, first_keyed),
                move || apply_user_reassignment(second_store.as_ref(), &prepared, keyed),
            );

            let results = [first_result, second_result].map(|result| {
                result.unwrap_or_else(|error| panic!("submit of round {round}: {error}"))
            });
            assert!(
                results.iter().all(|applied| applied.batch_id.is_none()),
                "round {round}: {results:?}"
            );
            assert_eq!(
                results.iter().filter(|applied| applied.replayed).count(),
                1,
                "round {round}: exactly one submit replays the other: {results:?}"
            );
        }

        assert_eq!(
            db.store().list_batches(100, 0).unwrap().len(),
            batches_before
        );
    });
}

#[test]
fn concurrent_undo_and_region_batch_keep_history_true() {
    each_engine(|db| {
        fixture(db);
        let (first, second) = handles(db);
        let mut applied = Vec::new();
        let mut busy = 0;

        for round in 0..ROUNDS {
            let by_user =
                prepare_user_reassignment(db.store(), "JD", "BB").expect("prepare JD → BB");
            let batch = apply_user_reassignment(db.store(), &by_user, run()).expect("JD → BB");
            let batch_id = batch.batch_id.expect("JD owned contacts to move");
            applied.push(batch);
            let role = if round % 2 == 0 { "commercial" } else { "both" };
            let by_region =
                prepare_region_reassignment(db.store(), "CC", "FRA", "51;02", Some(role))
                    .expect("prepare region → CC");
            let (undo_store, region_store) = (Arc::clone(&first), Arc::clone(&second));

            let (undo_run, region_run) = race(
                move || undo_batch(undo_store.as_ref(), batch_id, run()).map(|undo| undo.applied),
                move || apply_region_reassignment(region_store.as_ref(), &by_region, run()),
            );

            for (operation, result) in [("undo", undo_run), ("region → CC", region_run)] {
                match result {
                    Ok(run) => applied.push(run),
                    Err(error) => {
                        check_error(&error, operation);
                        busy += 1;
                    }
                }
            }
            applied.extend(reset(db.store()));
        }

        check_history(db.store(), &applied);
        assert!(
            busy < ROUNDS,
            "{busy} runs gave up as Busy in {ROUNDS} rounds"
        );
    });
}

#[test]
fn concurrent_undos_of_one_batch_run_once() {
    each_engine(|db| {
        fixture(db);
        let (first, second) = handles(db);
        let mut applied = Vec::new();

        for round in 0..ROUNDS {
            let by_user =
                prepare_user_reassignment(db.store(), "JD", "BB").expect("prepare JD → BB");
            let batch = apply_user_reassignment(db.store(), &by_user, run()).expect("JD → BB");
            let batch_id = batch.batch_id.expect("JD owned contacts to move");
            applied.push(batch);
            let (first_store, second_store) = (Arc::clone(&first), Arc::clone(&second));

            let (first_result, second_result) = race(
                move || undo_batch(first_store.as_ref(), batch_id, run()).map(|undo| undo.applied),
                move || undo_batch(second_store.as_ref(), batch_id, run()).map(|undo| undo.applied),
            );

            let (done, rejected) = match (first_result, second_result) {
                (Ok(done), Err(rejected)) | (Err(rejected), Ok(done)) => (done, rejected),
                other => {
                    panic!("round {round}: expected one undo and one rejection, got {other:?}")
                }
            };
            assert_eq!(
                rejected.code(),
                "batch_already_undone",
                "round {round}: {rejected}"
            );
            let stored = db
                .store()
                .batch(batch_id)
                .expect("read batch")
                .expect("batch");
            assert_eq!(stored.undone_by, done.batch_id, "round {round}");
            applied.push(done);
            applied.extend(reset(db.store()));
        }

        check_history(db.store(), &applied);
    });
}

/// Previews taken while region batches commit on another handle see one
/// committed state each. Every batch gives all the contacts to one user, so
/// a preview for BB counts either none or all of them as already owned; a
/// preview whose statements read different states would count some.
#[test]
fn preview_sees_one_committed_state() {
    each_engine(|db| {
        fixture(db);
        let writer = open_store(&db.location).expect("writing handle");
        let reader = open_store(&db.location).expect("reading handle");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

        let flipping = {
            let stop = stop.clone();
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    let to = if round % 2 == 0 { "BB" } else { "JD" };
                    let prepared = prepare_region_reassignment(
                        writer.as_ref(),
                        to,
                        "FRA",
                        "51;02",
                        Some("both"),
                    )
                    .unwrap();
                    if let Err(error) = apply_region_reassignment(writer.as_ref(), &prepared, run())
                    {
                        check_error(&error, "region batch");
                    }
                }
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };

        let mut previews = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let prepared =
                prepare_region_reassignment(reader.as_ref(), "BB", "FRA", "51;02", Some("both"))
                    .unwrap();
            let preview = preview_region_reassignment(reader.as_ref(), &prepared).unwrap();
            let outcome = preview.outcome;
            assert_eq!(outcome.matched, CONTACTS as u64, "{outcome:?}");
            assert!(
                outcome.already_owned == 0 || outcome.already_owned == outcome.matched,
                "preview mixed two states: {outcome:?}"
            );
            assert_eq!(outcome.commercial, outcome.technical, "{outcome:?}");
            previews += 1;
        }
        flipping.join().expect("batch thread");
        assert!(previews > 0);
    });
}

/// A run that waited for another transaction's locks dates its history
/// entries from its write, not from its request, so a contact's history
/// never goes back in time.
#[test]
fn history_is_dated_when_the_run_writes() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["w1,Un,,,,,,51100,Reims,FRA,JD,"]);
        let id = contact(db, "w1").id;
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let location = db.location.clone();
        let postgres = matches!(db.engine, Engine::Postgres);
        // Another transaction holds the contact (PostgreSQL) or the write
        // lock (SQLite) for a while.
        let blocker = thread::spawn(move || {
            let hold = std::time::Duration::from_millis(1_500);
            if postgres {
                let mut client = postgres::Client::connect(&location, postgres::NoTls).unwrap();
                let mut tx = client.transaction().unwrap();
                tx.execute("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE", &[&id])
                    .unwrap();
                locked_tx.send(()).unwrap();
                thread::sleep(hold);
                let released = chrono::Utc::now();
                tx.commit().unwrap();
                released
            } else {
                let conn = rusqlite::Connection::open(&location).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                locked_tx.send(()).unwrap();
                thread::sleep(hold);
                let released = chrono::Utc::now();
                conn.execute_batch("COMMIT").unwrap();
                released
            }
        });
        locked_rx.recv().unwrap();
        let requested = chrono::Utc::now();

        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        let released = blocker.join().unwrap();
        let entries = db.store().contact_history(id).unwrap();
        let entry = entries
            .iter()
            .find(|entry| entry.batch_id == applied.batch_id)
            .unwrap();
        assert!(released - requested > chrono::Duration::milliseconds(1_000));
        assert!(
            entry.at >= released - chrono::Duration::milliseconds(100),
            "entry dated {} though the run wrote after {released}",
            entry.at
        );
    });
}

/// An import that deadlocks with another transaction on PostgreSQL is
/// rolled back by the engine, then read again from the start, instead of
/// failing as « la base est occupée ».
#[test]
fn import_deadlocked_by_a_run_starts_again() {
    each_engine(|db| {
        if !matches!(db.engine, Engine::Postgres) {
            return;
        }
        cast(db);
        import_rows(
            db,
            &[
                "d1,Un,,,,,,51100,Reims,FRA,JD,",
                "d2,Deux,,,,,,51100,Reims,FRA,JD,",
            ],
        );
        let (first, second) = (contact(db, "d1").id, contact(db, "d2").id);
        let mut watcher = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
        // The server picks as victim the session whose deadlock check runs
        // once the cycle exists. That is the import, which waited first,
        // unless a loaded machine delays the other transaction's second
        // lock past the import's check: then the other is rolled back, and
        // the scenario runs again with a new owner.
        for owner in ["BB", "CC", "DD"] {
            let deadlocks_before = deadlocks(&mut watcher);
            let (locked_tx, locked_rx) = std::sync::mpsc::channel();
            let location = db.location.clone();
            // The other transaction locks the second contact, then the
            // first once the import holds the first and waits for the
            // second.
            let other = thread::spawn(move || {
                let mut client = postgres::Client::connect(&location, postgres::NoTls).unwrap();
                let mut watcher = postgres::Client::connect(&location, postgres::NoTls).unwrap();
                let mut tx = client.transaction().unwrap();
                tx.execute(
                    "SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE",
                    &[&second],
                )
                .unwrap();
                locked_tx.send(()).unwrap();
                wait_for_lock_waiter(&mut watcher);
                match tx.execute("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE", &[&first]) {
                    Ok(_) => {
                        tx.commit().unwrap();
                        true
                    }
                    Err(error)
                        if error.code()
                            == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED) =>
                    {
                        false
                    }
                    Err(error) => panic!("{error}"),
                }
            });
            locked_rx.recv().unwrap();

            let rows = [
                format!("d1,Un,,,,,,51100,Reims,FRA,{owner},"),
                format!("d2,Deux,,,,,,51100,Reims,FRA,{owner},"),
            ];
            let report = import_rows(db, &[rows[0].as_str(), rows[1].as_str()]);

            let import_was_victim = other.join().unwrap();
            assert_eq!(report.updated, 2);
            assert_eq!(owners(db, "d1").0, Some(owner.into()));
            assert_eq!(owners(db, "d2").0, Some(owner.into()));
            // The scenario did meet a deadlock, and was not merely made to
            // wait.
            wait_for_deadlocks(&mut watcher, deadlocks_before + 1);
            if import_was_victim {
                return;
            }
        }
        panic!("in three attempts, the other transaction was always the deadlock's victim");
    });
}

/// Number of deadlocks the server has detected in the current database.
/// A session reports its statistics when idle, at most once a second, so
/// the figure is read afresh each time.
fn deadlocks(client: &mut postgres::Client) -> i64 {
    client
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .unwrap();
    client
        .query_one(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0)
}

/// Waits until the server has counted `expected` deadlocks in the current
/// database, for up to 10 seconds.
fn wait_for_deadlocks(client: &mut postgres::Client, expected: i64) {
    let mut seen = deadlocks(client);
    for _ in 0..200 {
        if seen >= expected {
            break;
        }
        thread::sleep(std::time::Duration::from_millis(50));
        seen = deadlocks(client);
    }
    assert_eq!(seen, expected, "deadlocks detected in the test database");
}

/// A region run that waits for a concurrent transaction reads the contacts
/// that transaction took from the target. The run commits last, so they
/// end with the target, counted as changed, not as already owned.
#[test]
fn region_run_retakes_moved_contacts() {
    for roles in ["commercial", "both"] {
        each_engine(|db| {
            cast(db);
            import_rows(
                db,
                &[
                    "r1,Un,,,,,,51100,Reims,FRA,BB,BB",
                    "r2,Deux,,,,,,51100,Reims,FRA,JD,JD",
                ],
            );
            let moved = contact(db, "r1").id;
            let cc = db.store().find_user("CC").unwrap().unwrap().id;
            let prepared =
                prepare_region_reassignment(db.store(), "BB", "FRA", "51", Some(roles)).unwrap();
            let (locked_tx, locked_rx) = std::sync::mpsc::channel();
            let location = db.location.clone();
            let postgres = matches!(db.engine, Engine::Postgres);
            // Another transaction gives r1, owned by the target, to CC and
            // commits while the region run waits.
            let mover = thread::spawn(move || {
                let hold = std::time::Duration::from_millis(800);
                let sql = "UPDATE contacts SET commercial_owner_id = $1, technical_owner_id = $1 WHERE id = $2";
                if postgres {
                    let mut client = postgres::Client::connect(&location, postgres::NoTls).unwrap();
                    let mut tx = client.transaction().unwrap();
                    tx.execute(sql, &[&cc, &moved]).unwrap();
                    locked_tx.send(()).unwrap();
                    thread::sleep(hold);
                    tx.commit().unwrap();
                } else {
                    let conn = rusqlite::Connection::open(&location).unwrap();
                    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                    conn.execute(&sql.replace('$', "?"), rusqlite::params![cc, moved])
                        .unwrap();
                    locked_tx.send(()).unwrap();
                    thread::sleep(hold);
                    conn.execute_batch("COMMIT").unwrap();
                }
            });
            locked_rx.recv().unwrap();

            let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

            mover.join().unwrap();
            let bb = Some("BB".to_string());
            let technical = if roles == "both" { "BB" } else { "CC" };
            let expected_owner = (bb.clone(), Some(technical.to_string()));
            assert_eq!(
                owners(db, "r1"),
                expected_owner,
                "{roles}: r1 ends with the target"
            );
            assert_eq!(owners(db, "r2").0, bb, "{roles}");
            assert_eq!(applied.outcome.matched, 2, "{roles}");
            assert_eq!(applied.outcome.changed, 2, "{roles}: r1 was changed");
            assert_eq!(applied.outcome.already_owned, 0, "{roles}");
            let entry = db
                .store()
                .contact_history(moved)
                .unwrap()
                .into_iter()
                .find(|entry| entry.batch_id == applied.batch_id)
                .expect("r1 has an entry of the run");
            let previous = entry.previous_owner.map(|user| user.initials);
            assert_eq!(previous.as_deref(), Some("CC"), "{roles}");
        });
    }
}
