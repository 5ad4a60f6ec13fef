//! Test harness: a fresh database per test on each engine, and helpers to
//! add users and contacts through the real service layer.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use relais::domain::batch::Actor;
use relais::domain::country::CountryCode;
use relais::domain::user::User;
use relais::service::import::{ImportReport, ImportRequest, import_file};
use relais::service::reassign::RunContextInput;
use relais::service::users::{UserForm, add_user, set_active};
use relais::storage::{Contact, ExportSelection, Store, open_store};

/// Server URL of the PostgreSQL half of the suite, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`. Each test creates and
/// drops a database of its own on that server.
pub const POSTGRES_ENV: &str = "RELAIS_TEST_POSTGRES_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Set to `1` (as CI does), makes a run without `POSTGRES_ENV` fail
/// rather than leave the PostgreSQL half out.
pub const REQUIRE_POSTGRES_ENV: &str = "RELAIS_REQUIRE_POSTGRES";

/// Returns the PostgreSQL server URL of this run, or `None` when the run
/// covers SQLite only. Panics when PostgreSQL is required and not given.
pub fn postgres_server() -> Option<String> {
    let server = std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.is_empty());
    if server.is_none() && std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|value| value == "1") {
        panic!("{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_ENV} is not set");
    }
    server
}

/// Returns the engines this run covers.
pub fn engines() -> Vec<Engine> {
    let mut engines = vec![Engine::Sqlite];
    if postgres_server().is_some() {
        engines.push(Engine::Postgres);
    }
    engines
}

/// A fresh, empty database that is removed when dropped.
pub struct TestDb {
    pub engine: Engine,
    pub store: Arc<dyn Store>,
    /// What `--db` takes to reach this database.
    pub location: String,
    pub dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub fn new(engine: Engine) -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        match engine {
            Engine::Sqlite => {
                let location = dir.path().join("relais.db").to_string_lossy().into_owned();
                let store = open_store(&location).expect("open SQLite store");
                TestDb {
                    engine,
                    store,
                    location,
                    dir,
                    postgres_name: None,
                }
            }
            Engine::Postgres => {
                let server = std::env::var(POSTGRES_ENV).expect("PostgreSQL URL");
                let name = format!(
                    "relais_test_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst)
                );
                postgres_admin(&server, &format!("DROP DATABASE IF EXISTS {name}"));
                postgres_admin(&server, &format!("CREATE DATABASE {name}"));
                let location = database_url(&server, &name);
                let store = open_store(&location).expect("open PostgreSQL store");
                TestDb {
                    engine,
                    store,
                    location,
                    dir,
                    postgres_name: Some(name),
                }
            }
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Runs raw SQL on the database, outside the store: for setting up
    /// faults and reading what the store wrote.
    pub fn execute_raw(&self, sql: &str) {
        match self.engine {
            Engine::Sqlite => {
                let conn = rusqlite::Connection::open(&self.location).expect("open SQLite");
                conn.execute_batch(sql).expect("raw SQL");
            }
            Engine::Postgres => {
                let mut client =
                    postgres::Client::connect(&self.location, postgres::NoTls).expect("connect");
                client.batch_execute(sql).expect("raw SQL");
            }
        }
    }

    /// Makes every update of the given contact's commercial owner fail, so
    /// that a batch touching it fails in the middle of its statements.
    pub fn fail_on_owner_update(&self, contact_id: i64) {
        let sql = match self.engine {
            Engine::Sqlite => format!(
                "CREATE TRIGGER injected_failure BEFORE UPDATE OF commercial_owner_id ON contacts
                 WHEN NEW.id = {contact_id}
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            ),
            Engine::Postgres => format!(
                "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN RAISE EXCEPTION 'injected failure'; END $$;
                 CREATE TRIGGER injected_failure BEFORE UPDATE OF commercial_owner_id ON contacts
                 FOR EACH ROW WHEN (NEW.id = {contact_id}) EXECUTE FUNCTION injected_failure();"
            ),
        };
        self.execute_raw(&sql);
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.postgres_name
            && let Ok(server) = std::env::var(POSTGRES_ENV)
        {
            // The pool's connections must close before the drop.
            let _ = postgres_try_admin(
                &server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

fn postgres_try_admin(server: &str, sql: &str) -> Result<(), postgres::Error> {
    let mut client = postgres::Client::connect(server, postgres::NoTls)?;
    client.batch_execute(sql)
}

fn postgres_admin(server: &str, sql: &str) {
    postgres_try_admin(server, sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Replaces the database name of a server URL.
fn database_url(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let prefix_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[prefix_end..].find('/') {
        Some(slash) => &base[..prefix_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs `test` on a fresh database of each engine.
pub fn each_engine(mut test: impl FnMut(&TestDb)) {
    for engine in engines() {
        let db = TestDb::new(engine);
        test(&db);
    }
}

pub fn user(db: &TestDb, initials: &str, first_name: &str, last_name: &str) -> User {
    add_user(
        db.store(),
        &UserForm {
            initials: initials.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            email: format!("{}@example.org", initials.to_lowercase()),
            ..UserForm::default()
        },
    )
    .expect("add user")
}

pub fn deactivate(db: &TestDb, initials: &str) {
    set_active(db.store(), initials, false).expect("deactivate");
}

/// Creates the usual users: JD, BB, CC, DD and the admin AM.
pub fn cast(db: &TestDb) {
    user(db, "JD", "Jean", "Dupont");
    user(db, "BB", "Baptiste", "Bonchamps");
    user(db, "CC", "Claire", "Caron");
    user(db, "DD", "Denis", "Durand");
    user(db, "AM", "Alice", "Martin");
}

pub fn write_file(db: &TestDb, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = db.dir.path().join(name);
    let mut file = std::fs::File::create(&path).expect("create file");
    file.write_all(bytes).expect("write file");
    path
}

pub fn import_bytes(db: &TestDb, name: &str, bytes: &[u8]) -> ImportReport {
    let path = write_file(db, name, bytes);
    import_file(
        db.store(),
        &path,
        &ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: false,
            actor: actor(),
        },
        &mut |_| {},
    )
    .expect("import")
}

/// Imports contacts given as CSV lines after this header.
pub const HEADER: &str = "source_id,last_name,first_name,company,perso_postal_code,perso_city,perso_country,pro_postal_code,pro_city,pro_country,commercial_owner,technical_owner";

pub fn import_rows(db: &TestDb, rows: &[&str]) -> ImportReport {
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    let report = import_bytes(db, "contacts.csv", text.as_bytes());
    assert!(
        report.rejected.is_empty(),
        "unexpected rejections: {:?}",
        report.rejected
    );
    report
}

pub fn actor() -> Actor {
    Actor::system("tests")
}

pub fn run() -> RunContextInput {
    RunContextInput {
        actor: actor(),
        idempotency_key: None,
    }
}

pub fn contact(db: &TestDb, key: &str) -> Contact {
    db.store()
        .find_contact(key)
        .expect("find contact")
        .unwrap_or_else(|| panic!("no contact {key}"))
}

/// Initials of a contact's (commercial, technical) owners.
pub fn owners(db: &TestDb, key: &str) -> (Option<String>, Option<String>) {
    let contact = contact(db, key);
    (
        contact.commercial_owner.map(|user| user.initials),
        contact.technical_owner.map(|user| user.initials),
    )
}

/// (role, previous owner, new owner) of each history entry, newest first.
pub fn moves(db: &TestDb, key: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let contact = contact(db, key);
    db.store()
        .contact_history(contact.id)
        .expect("history")
        .into_iter()
        .map(|entry| {
            (
                entry
                    .role
                    .map(|role| role.as_str().to_string())
                    .unwrap_or_default(),
                entry.previous_owner.map(|user| user.initials),
                entry.new_owner.map(|user| user.initials),
            )
        })
        .collect()
}

/// Everything a batch can change: every contact, every history entry and
/// every batch, as comparable text.
pub fn snapshot(db: &TestDb) -> String {
    let store = db.store();
    let mut text = String::new();
    store
        .export_contacts(&ExportSelection::All, &mut |contact| {
            text.push_str(&format!("{contact:?}\n"));
            let history = store.contact_history(contact.id)?;
            text.push_str(&format!("{history:?}\n"));
            Ok(())
        })
        .expect("export");
    let batches = store.list_batches(1000, 0).expect("batches");
    text.push_str(&format!("{batches:?}\n"));
    text
}

/// Waits until a session of the current database waits for a lock, for
/// up to 10 seconds.
pub fn wait_for_lock_waiter(client: &mut postgres::Client) {
    for _ in 0..1_000 {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no session waited for a lock within 10 seconds");
}
