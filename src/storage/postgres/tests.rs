//! The PostgreSQL engine against the SQLite engine on the cases the
//! behaviour suite does not reach: imports whose external ids repeat within
//! and across chunks, and postal ranges in a database whose default
//! collation is French. They run when `RELAIS_TEST_POSTGRES_URL` names a
//! server (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and pass
//! without checking anything otherwise.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::domain::batch::{Actor, RegionReassignment};
use crate::domain::contact::{AddressInput, ContactInput, RoleChoice};
use crate::domain::country::CountryCode;
use crate::domain::postal::{PostalPrefix, PostalSelection};
use crate::domain::user::{NewUser, UserId, UserRole};
use crate::storage::sqlite::SqliteStore;
use crate::storage::{
    ContactWrite, ExportSelection, ImportCounts, KeyConflictKind, RunContext, Store,
};

use super::PgStore;

const POSTGRES_ENV: &str = "RELAIS_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database created on the test server for one test, with a French ICU
/// default collation, and dropped at the end.
struct TempDatabase {
    server: String,
    name: String,
    url: String,
}

impl TempDatabase {
    fn create() -> Option<TempDatabase> {
        let server = std::env::var(POSTGRES_ENV)
            .ok()
            .filter(|url| !url.is_empty());
        // CI sets RELAIS_REQUIRE_POSTGRES=1, so that a server that failed
        // to start fails the run instead of skipping these tests.
        assert!(
            server.is_some() || std::env::var("RELAIS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "RELAIS_REQUIRE_POSTGRES=1 but {POSTGRES_ENV} is not set"
        );
        let server = server?;
        let name = format!(
            "relais_unit_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        admin(&server, &format!("DROP DATABASE IF EXISTS {name}"));
        // A language collation orders `:` and `[`, which postal upper
        // bounds end with, among the digits and letters: the columns'
        // "C" collation must win over it.
        admin(
            &server,
            &format!(
                "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'fr-FR' LOCALE 'C.UTF-8'"
            ),
        );
        let url = with_database(&server, &name);
        Some(TempDatabase { server, name, url })
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = postgres::Client::connect(&self.server, postgres::NoTls)
            .and_then(|mut client| client.batch_execute(&sql))
        {
            eprintln!("{sql}: {error}");
        }
    }
}

fn admin(server: &str, sql: &str) {
    let mut client = postgres::Client::connect(server, postgres::NoTls)
        .unwrap_or_else(|error| panic!("connect to {POSTGRES_ENV}: {error}"));
    client
        .batch_execute(sql)
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Returns the server URL with its database name replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// The same database content on both engines.
struct Pair {
    sqlite: SqliteStore,
    postgres: PgStore,
    _dir: tempfile::TempDir,
    _database: TempDatabase,
}

impl Pair {
    fn open() -> Option<Pair> {
        let database = TempDatabase::create()?;
        let dir = tempfile::tempdir().expect("temporary folder");
        let sqlite = SqliteStore::open(&dir.path().join("relais.db")).expect("open SQLite");
        let postgres = PgStore::open(&database.url).expect("open PostgreSQL");
        Some(Pair {
            sqlite,
            postgres,
            _dir: dir,
            _database: database,
        })
    }

    fn stores(&self) -> [&dyn Store; 2] {
        [&self.sqlite, &self.postgres]
    }
}

fn new_user(initials: &str) -> NewUser {
    NewUser {
        initials: initials.to_string(),
        login: None,
        first_name: String::new(),
        last_name: initials.to_string(),
        email: None,
        role: UserRole::User,
        active: true,
        password_hash: None,
    }
}

/// Creates users JD, BB and CC and returns their ids, which are the same
/// on both engines.
fn cast(store: &dyn Store) -> [UserId; 3] {
    ["JD", "BB", "CC"].map(|initials| {
        store
            .create_user(&new_user(initials))
            .expect("create user")
            .id
    })
}

fn address(postal_norm: &str) -> AddressInput {
    AddressInput {
        line1: String::new(),
        line2: String::new(),
        postal_code: postal_norm.to_string(),
        postal_norm: postal_norm.to_string(),
        city: "Ville".to_string(),
        country: Some(CountryCode::france()),
        named_territory: None,
    }
}

fn row(
    external_id: Option<&str>,
    name: &str,
    commercial: Option<UserId>,
    technical: Option<UserId>,
) -> ContactWrite {
    ContactWrite {
        line: 0,
        contact: ContactInput {
            external_id: external_id.map(str::to_string),
            last_name: name.to_string(),
            pro: address("51100"),
            ..ContactInput::default()
        },
        commercial_owner: commercial,
        technical_owner: technical,
    }
}

/// Builds a row without external id that names a contact by its number,
/// as an edited export does.
fn numbered_row(
    contact_id: i64,
    name: &str,
    commercial: Option<UserId>,
    technical: Option<UserId>,
) -> ContactWrite {
    let mut row = row(None, name, commercial, technical);
    row.contact.contact_id = Some(contact_id);
    row
}

fn actor() -> Actor {
    Actor::system("tests")
}

/// Imports `chunks` in one session and returns the counts of each chunk.
fn import_chunks(store: &dyn Store, chunks: &[Vec<ContactWrite>]) -> Vec<ImportCounts> {
    let mut session = store
        .begin_import(&actor(), serde_json::json!({}))
        .expect("begin import");
    let mut counts = Vec::new();
    let mut totals = ImportCounts::default();
    for chunk in chunks {
        let chunk_counts = session.write_contacts(chunk).expect("write chunk");
        totals.add(&chunk_counts);
        counts.push(chunk_counts);
    }
    session.commit(&totals).expect("commit import");
    counts
}

/// Lists every contact in id order with its owners and its history as
/// (role, previous owner, new owner), oldest first.
fn state(store: &dyn Store) -> Vec<String> {
    let mut lines = Vec::new();
    store
        .export_contacts(&ExportSelection::All, &mut |contact| {
            let owner = |user: &Option<crate::domain::history::UserRef>| {
                user.as_ref().map(|user| user.initials.clone())
            };
            let mut history = store.contact_history(contact.id)?;
            history.reverse();
            let moves: Vec<String> = history
                .iter()
                .map(|entry| {
                    format!(
                        "{:?} {:?}→{:?}",
                        entry.role,
                        owner(&entry.previous_owner),
                        owner(&entry.new_owner)
                    )
                })
                .collect();
            lines.push(format!(
                "#{} {:?} {} {:?}/{:?} {:?}",
                contact.id,
                contact.external_id,
                contact.last_name,
                owner(&contact.commercial_owner),
                owner(&contact.technical_owner),
                moves
            ));
            Ok(())
        })
        .expect("export");
    lines
}

#[test]
fn import_with_repeated_external_ids_counts_as_sqlite() {
    let Some(pair) = Pair::open() else {
        return;
    };
    let mut results = Vec::new();

    for store in pair.stores() {
        let [jd, bb, cc] = cast(store);
        let first_import = vec![
            vec![
                row(Some("k1"), "Un", Some(jd), None),
                row(Some("k2"), "Deux", Some(jd), Some(jd)),
                row(None, "Sans identifiant", Some(bb), None),
                row(Some("k1"), "Un", Some(bb), None),
                row(Some("k3"), "Trois", Some(jd), None),
                row(Some("k3"), "Trois", Some(jd), None),
                row(None, "Sans identifiant", Some(bb), None),
            ],
            vec![
                row(Some("k1"), "Un", Some(cc), Some(jd)),
                row(Some("k2"), "Deux", Some(jd), Some(jd)),
                row(Some("k4"), "Quatre", Some(jd), None),
                row(Some("k4"), "Quatre", Some(jd), Some(bb)),
                row(Some("k4"), "Quatre bis", Some(cc), Some(bb)),
                row(Some("k1"), "Un", Some(cc), Some(jd)),
            ],
        ];
        // Contact 3 is the first « Sans identifiant », contact 1 is k1.
        let second_import = vec![vec![
            row(Some("k1"), "Un", Some(cc), Some(jd)),
            row(Some("k2"), "Deux", Some(bb), Some(jd)),
            row(Some("k2"), "Deux", Some(jd), None),
            row(Some("k5"), "Cinq", None, None),
            numbered_row(3, "Sans identifiant", Some(cc), None),
            numbered_row(3, "Sans identifiant", Some(cc), Some(jd)),
            numbered_row(3, "Sans identifiant", Some(cc), Some(jd)),
            numbered_row(1, "Un", Some(cc), Some(jd)),
            numbered_row(9_999, "Inconnu", None, None),
            numbered_row(5, "Autre nom", None, None),
        ]];

        let first = import_chunks(store, &first_import);
        let second = import_chunks(store, &second_import);

        results.push((first, second, state(store)));
    }

    let (sqlite, postgres) = (&results[0], &results[1]);
    assert_eq!(
        postgres.0, sqlite.0,
        "counts of the first import, per chunk"
    );
    assert_eq!(postgres.1, sqlite.1, "counts of the second import");
    assert_eq!(postgres.2, sqlite.2, "contacts and history");
    // The SQLite engine writes row by row, so these are the expected
    // numbers: 7 new contacts, k1 changed in both chunks, k3 and k2 left
    // unchanged, k4 changed twice after its insert.
    assert_eq!(
        sqlite.0[0],
        ImportCounts {
            imported: 5,
            updated: 1,
            unchanged: 1,
            history_entries: 1
        }
    );
    assert_eq!(
        sqlite.0[1],
        ImportCounts {
            imported: 1,
            updated: 3,
            unchanged: 2,
            history_entries: 4
        }
    );
    // k1 unchanged; k2 changed twice; k5 new; contact 3 changed twice, then
    // unchanged; the other numbered rows are key conflicts, not written.
    assert_eq!(
        sqlite.1[0],
        ImportCounts {
            imported: 1,
            updated: 4,
            unchanged: 2,
            history_entries: 5
        }
    );
}

#[test]
fn key_conflicts_match_sqlite() {
    let Some(pair) = Pair::open() else {
        return;
    };
    let mut results = Vec::new();

    for store in pair.stores() {
        let [jd, ..] = cast(store);
        import_chunks(
            store,
            &[vec![
                row(Some("k1"), "Un", Some(jd), None),
                row(None, "Deux", Some(jd), None),
            ]],
        );
        let mut named_by_number = numbered_row(2, "Deux", Some(jd), None);
        named_by_number.contact.external_id = Some("k9".to_string());
        let mut other_number = numbered_row(2, "Un", Some(jd), None);
        other_number.contact.external_id = Some("k1".to_string());
        let mut chunk = vec![
            numbered_row(1, "Un", Some(jd), None),
            numbered_row(2, "Autre", Some(jd), None),
            numbered_row(99, "Inconnu", Some(jd), None),
            other_number,
            named_by_number,
        ];
        for (index, row) in chunk.iter_mut().enumerate() {
            row.line = index as u64 + 2;
        }

        let mut session = store
            .begin_import(&actor(), serde_json::json!({}))
            .expect("begin import");
        let counts = session.write_contacts(&chunk).expect("write chunk");
        let conflicts = session.take_key_conflicts();
        session.commit(&counts).expect("commit import");

        results.push((counts, conflicts, state(store)));
    }

    let (sqlite, postgres) = (&results[0], &results[1]);
    assert_eq!(postgres.0, sqlite.0, "counts");
    assert_eq!(postgres.1, sqlite.1, "conflicts");
    assert_eq!(postgres.2, sqlite.2, "contacts and history");
    assert_eq!(
        sqlite.0,
        ImportCounts {
            imported: 0,
            updated: 1,
            unchanged: 0,
            history_entries: 0
        }
    );
    let kinds: Vec<(u64, &KeyConflictKind)> = sqlite
        .1
        .iter()
        .map(|conflict| (conflict.line, &conflict.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                2,
                &KeyConflictKind::OtherExternalId {
                    stored: "k1".to_string()
                }
            ),
            (3, &KeyConflictKind::OtherNames),
            (4, &KeyConflictKind::UnknownNumber),
            (
                5,
                &KeyConflictKind::ExternalIdOfOtherNumber { stored_number: 1 }
            ),
        ]
    );
    assert!(sqlite.2[1].contains("Some(\"k9\") Deux"), "{:?}", sqlite.2);
}

#[test]
fn import_rolls_back_when_not_committed() {
    let Some(pair) = Pair::open() else {
        return;
    };
    let store: &dyn Store = &pair.postgres;
    let [jd, ..] = cast(store);

    {
        let mut session = store
            .begin_import(&actor(), serde_json::json!({}))
            .expect("begin import");
        session
            .write_contacts(&[row(Some("k1"), "Un", Some(jd), None)])
            .expect("write chunk");
    }

    assert_eq!(store.count_contacts().expect("count"), 0);
    assert!(store.list_batches(10, 0).expect("batches").is_empty());
}

#[test]
fn postal_ranges_compare_bytes_under_french_collation() {
    let Some(pair) = Pair::open() else {
        return;
    };
    let mut results = Vec::new();

    for store in pair.stores() {
        let [jd, bb, _] = cast(store);
        let mut rows = Vec::new();
        for (external_id, postal_norm) in [
            ("a", "51900"),
            ("b", "51999"),
            ("c", "52000"),
            ("d", "519"),
            ("e", "5190"),
            ("f", "51"),
        ] {
            let mut contact = row(Some(external_id), external_id, Some(jd), None);
            contact.contact.pro = address(postal_norm);
            rows.push(contact);
        }
        import_chunks(store, &[rows]);
        let prefix = PostalPrefix::new("519").expect("valid prefix");
        let request = RegionReassignment {
            to: bb,
            country: CountryCode::france(),
            postal: PostalSelection::Prefixes(vec![prefix]),
            roles: RoleChoice::Commercial,
        };
        let run = RunContext {
            actor: actor(),
            params: serde_json::json!({}),
            idempotency_key: None,
            now: chrono::Utc::now(),
        };

        let applied = store
            .apply_region_reassignment(&request, &run)
            .expect("apply");

        results.push((applied.outcome, state(store)));
    }

    let (sqlite, postgres) = (&results[0], &results[1]);
    assert_eq!(
        sqlite.0.changed, 4,
        "51900, 51999, 519 and 5190 start with 519"
    );
    assert_eq!(postgres.0, sqlite.0);
    assert_eq!(postgres.1, sqlite.1);
}

/// Waits until a session of the database waits for a row lock.
fn wait_for_lock_waiter(client: &mut postgres::Client) {
    for _ in 0..500 {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("read pg_stat_activity")
            .get(0);
        if waiting > 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no session waited for a lock within 5 seconds");
}

#[test]
fn batch_chosen_as_deadlock_victim_runs_again() {
    let Some(database) = TempDatabase::create() else {
        return;
    };
    let store = std::sync::Arc::new(PgStore::open(&database.url).expect("open PostgreSQL"));
    let [jd, bb, _] = cast(store.as_ref());
    import_chunks(
        store.as_ref(),
        &[vec![
            row(Some("a"), "A", Some(jd), None),
            row(Some("b"), "B", Some(jd), None),
        ]],
    );
    let id = |key: &str| store.find_contact(key).expect("find").expect("contact").id;
    let (first, second) = (id("a"), id("b"));
    let mut other = postgres::Client::connect(&database.url, postgres::NoTls).expect("connect");
    // The batch, which starts waiting first, must be the session that
    // detects the deadlock and is rolled back.
    other
        .batch_execute("SET deadlock_timeout = '20s'; BEGIN")
        .expect("begin");
    other
        .execute(
            "UPDATE contacts SET phone = 'other' WHERE id = $1",
            &[&second],
        )
        .expect("lock the second contact");

    let batch_store = std::sync::Arc::clone(&store);
    let batch = std::thread::spawn(move || {
        let request = crate::domain::batch::UserReassignment { from: jd, to: bb };
        let run = RunContext {
            actor: actor(),
            params: serde_json::json!({}),
            idempotency_key: None,
            now: chrono::Utc::now(),
        };
        batch_store.apply_user_reassignment(&request, &run)
    });
    // The batch has locked the first contact and waits for the second; taking
    // the first one closes the cycle.
    wait_for_lock_waiter(&mut other);
    other
        .execute(
            "UPDATE contacts SET phone = 'other' WHERE id = $1",
            &[&first],
        )
        .expect("the batch, rolled back, released the first contact");
    other.batch_execute("COMMIT").expect("commit");
    let applied = batch
        .join()
        .expect("batch thread")
        .expect("the batch ran again and succeeded");

    assert_eq!(applied.outcome.changed, 2);
    for key in ["a", "b"] {
        let contact = store.find_contact(key).expect("find").expect("contact");
        assert_eq!(
            contact.phone, "other",
            "{key}: the other transaction committed"
        );
        assert_eq!(
            contact.commercial_owner.map(|user| user.id),
            Some(bb),
            "{key}"
        );
        let history = store.contact_history(contact.id).expect("history");
        assert_eq!(
            history.len(),
            1,
            "{key}: one entry, from the successful run"
        );
        assert_eq!(
            history[0].previous_owner.as_ref().map(|user| user.id),
            Some(jd)
        );
    }
    assert_eq!(
        store.list_batches(10, 0).expect("batches").len(),
        2,
        "the import and one run"
    );
}

#[test]
fn servers_starting_together_migrate_once() {
    let Some(database) = TempDatabase::create() else {
        return;
    };
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));

    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = database.url.clone();
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                PgStore::open(&url).map(|_| ())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().expect("opening thread"))
        .collect();

    for result in &opened {
        assert!(result.is_ok(), "{result:?}");
    }
    let mut client = postgres::Client::connect(&database.url, postgres::NoTls).expect("connect");
    let versions: Vec<i64> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .expect("read schema_migrations")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i64> = super::MIGRATIONS
        .iter()
        .map(|(version, _)| *version)
        .collect();
    assert_eq!(versions, expected);
}

/// One index or constraint of `contacts`: name, definition and oid. The
/// oid changes when the object is dropped and created again.
type SchemaObject = (String, String, u32);

/// Lists the indexes and constraints of `contacts` by name.
fn contacts_schema(url: &str) -> Vec<SchemaObject> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    client
        .query(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid), i.indexrelid
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'contacts'::regclass
             UNION ALL
             SELECT conname::text, pg_get_constraintdef(oid), oid
             FROM pg_constraint WHERE conrelid = 'contacts'::regclass
             ORDER BY 1",
            &[],
        )
        .expect("read the schema of contacts")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// Returns the names of the objects whose oid differs between `before`
/// and `after`, which list the same names.
fn recreated(before: &[SchemaObject], after: &[SchemaObject]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(old, new)| old.2 != new.2)
        .map(|(old, _)| old.0.clone())
        .collect()
}

fn without_oids(schema: &[SchemaObject]) -> Vec<(String, String)> {
    schema
        .iter()
        .map(|(name, definition, _)| (name.clone(), definition.clone()))
        .collect()
}

/// Opens a PostgreSQL store on a new database, with one more index than
/// the migrations create, with an `INCLUDE` list and a predicate, so that
/// tests see such definitions survive a rebuild.
fn store_with_extra_index() -> Option<(PgStore, TempDatabase)> {
    let database = TempDatabase::create()?;
    let store = PgStore::open(&database.url).expect("open PostgreSQL");
    admin(
        &database.url,
        "CREATE INDEX contacts_perso_city ON contacts (perso_city) INCLUDE (pro_city)
         WHERE perso_country IS NOT NULL",
    );
    Some((store, database))
}

#[test]
fn empty_import_rebuilds_same_schema() {
    let Some((store, database)) = store_with_extra_index() else {
        return;
    };
    let [jd, bb, _] = cast(&store);
    let before = contacts_schema(&database.url);

    let counts = import_chunks(
        &store,
        &[
            vec![
                row(None, "Un", Some(jd), None),
                row(None, "Deux", Some(bb), Some(jd)),
            ],
            vec![row(Some("k1"), "Trois", Some(jd), None)],
        ],
    );

    let after = contacts_schema(&database.url);
    assert_eq!(without_oids(&after), without_oids(&before));
    let mut expected = vec![
        "contacts_commercial_owner",
        "contacts_commercial_owner_id_fkey",
        "contacts_perso_city",
        "contacts_perso_region",
        "contacts_pro_region",
        "contacts_technical_owner",
        "contacts_technical_owner_id_fkey",
    ];
    expected.sort_unstable();
    assert_eq!(recreated(&before, &after), expected);
    assert_eq!(counts.iter().map(|chunk| chunk.imported).sum::<u64>(), 3);
    assert_eq!(store.count_contacts().expect("count"), 3);
}

#[test]
fn import_into_stored_contacts_keeps_schema() {
    let Some((store, database)) = store_with_extra_index() else {
        return;
    };
    let [jd, ..] = cast(&store);
    import_chunks(&store, &[vec![row(None, "Un", Some(jd), None)]]);
    let before = contacts_schema(&database.url);

    import_chunks(&store, &[vec![row(None, "Deux", Some(jd), None)]]);

    let after = contacts_schema(&database.url);
    assert_eq!(after, before);
    assert_eq!(store.count_contacts().expect("count"), 2);
}

#[test]
fn abandoned_empty_import_restores_schema() {
    let Some((store, database)) = store_with_extra_index() else {
        return;
    };
    let [jd, ..] = cast(&store);
    let before = contacts_schema(&database.url);

    {
        let mut session = store
            .begin_import(&actor(), serde_json::json!({}))
            .expect("begin import");
        session
            .write_contacts(&[row(None, "Un", Some(jd), None)])
            .expect("write chunk");
        session
            .write_contacts(&[row(Some("k1"), "Deux", Some(jd), None)])
            .expect("write chunk");
        session
            .write_contacts(&[row(None, "Trois", Some(jd), None)])
            .expect("write chunk");
    }

    assert_eq!(contacts_schema(&database.url), before);
    assert_eq!(store.count_contacts().expect("count"), 0);
    assert!(store.list_batches(10, 0).expect("batches").is_empty());
}

#[test]
fn unknown_owner_fails_empty_import() {
    let Some((store, database)) = store_with_extra_index() else {
        return;
    };
    let before = contacts_schema(&database.url);

    // The foreign keys are dropped during the load, so their check when
    // they are created again is what rejects the row.
    let mut session = store
        .begin_import(&actor(), serde_json::json!({}))
        .expect("begin import");
    let counts = session
        .write_contacts(&[row(None, "Un", Some(424_242), None)])
        .expect("write chunk");
    let committed = session.commit(&counts);

    assert!(committed.is_err(), "{committed:?}");
    assert_eq!(contacts_schema(&database.url), before);
    assert_eq!(store.count_contacts().expect("count"), 0);
}

#[test]
fn unknown_owner_fails_copy_into_stored_contacts() {
    let Some((store, _database)) = store_with_extra_index() else {
        return;
    };
    let [jd, ..] = cast(&store);
    import_chunks(&store, &[vec![row(None, "Un", Some(jd), None)]]);

    let mut session = store
        .begin_import(&actor(), serde_json::json!({}))
        .expect("begin import");
    let mut totals = ImportCounts::default();
    let mut failed = false;
    for chunk in [
        vec![row(None, "Deux", Some(jd), None)],
        vec![row(None, "Trois", Some(424_242), None)],
        vec![row(Some("k1"), "Quatre", Some(jd), None)],
    ] {
        match session.write_contacts(&chunk) {
            Ok(counts) => totals.add(&counts),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    // The copy reports the violation when the next statement needs the
    // connection, here the keyed chunk, or else at commit.
    let committed = if failed {
        drop(session);
        None
    } else {
        Some(session.commit(&totals))
    };

    assert!(
        committed.as_ref().is_none_or(|result| result.is_err()),
        "{committed:?}"
    );
    assert_eq!(store.count_contacts().expect("count"), 1);
    // Every pooled connection is still usable.
    for _ in 0..10 {
        assert_eq!(store.count_contacts().expect("count"), 1);
    }
}

#[test]
fn keyless_chunks_count_as_sqlite() {
    let Some(pair) = Pair::open() else {
        return;
    };
    let mut results = Vec::new();

    for store in pair.stores() {
        let [jd, bb, cc] = cast(store);
        // Keyless chunks go by COPY, keyed ones through the staging table.
        // Each chunk must see the rows of the chunks before it.
        let first_import = vec![
            vec![
                row(None, "Un", Some(jd), None),
                row(None, "Deux", Some(bb), Some(jd)),
            ],
            vec![row(None, "Trois", Some(cc), None)],
            vec![
                numbered_row(1, "Un", Some(bb), None),
                row(Some("k1"), "Quatre", Some(jd), None),
            ],
            vec![row(None, "Cinq", None, None)],
            vec![numbered_row(3, "Trois", Some(cc), Some(bb))],
        ];
        let second_import = vec![
            vec![row(None, "Six", Some(jd), None)],
            vec![
                numbered_row(6, "Six", Some(bb), None),
                numbered_row(2, "Deux", Some(bb), Some(jd)),
            ],
            vec![row(None, "Sept", Some(cc), Some(cc))],
        ];

        let first = import_chunks(store, &first_import);
        let second = import_chunks(store, &second_import);

        results.push((first, second, state(store)));
    }

    let (sqlite, postgres) = (&results[0], &results[1]);
    assert_eq!(postgres.0, sqlite.0, "counts of the first import");
    assert_eq!(postgres.1, sqlite.1, "counts of the second import");
    assert_eq!(postgres.2, sqlite.2, "contacts and history");
    assert_eq!(
        sqlite.0[2],
        ImportCounts {
            imported: 1,
            updated: 1,
            unchanged: 0,
            history_entries: 1
        }
    );
    assert_eq!(
        sqlite.1[1],
        ImportCounts {
            imported: 0,
            updated: 1,
            unchanged: 1,
            history_entries: 1
        }
    );
}

#[test]
fn empty_import_leaves_contacts_analysed() {
    let Some((store, database)) = store_with_extra_index() else {
        return;
    };
    let [jd, ..] = cast(&store);
    let rows: Vec<ContactWrite> = (0..500)
        .map(|index| row(None, &format!("Nom {index}"), Some(jd), None))
        .collect();

    import_chunks(&store, &[rows]);

    let mut client = postgres::Client::connect(&database.url, postgres::NoTls).expect("connect");
    let table = client
        .query_one(
            "SELECT relpages, relallvisible, reltuples FROM pg_class WHERE oid = 'contacts'::regclass",
            &[],
        )
        .expect("read pg_class");
    let pages: i32 = table.get(0);
    let all_visible: i32 = table.get(1);
    let tuples: f32 = table.get(2);
    assert!(pages > 0);
    assert_eq!(all_visible, pages, "pages marked all-visible");
    assert_eq!(tuples, 500.0);
}
