//! Two `relais serve` processes on one database behave as one: sessions,
//! CSRF tokens, idempotency keys and the keys of token forms live in
//! the database, not in a process. Runs on SQLite, and on PostgreSQL when
//! `RELAIS_TEST_POSTGRES_URL` names a server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use relais::service::demo::fill_demo;
use relais::service::tokens::create_api_token;
use relais::service::users::{UserForm, add_user};
use relais::storage::open_store;

use reqwest::blocking::Client;

use crate::support::{PASSWORD, data_changed, hidden_field, unescape};

/// A `relais serve` child process, stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(location: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_relais"))
            .args(["--db", location, "serve", "--bind", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("relais serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line of relais serve");
        let base = line
            .trim()
            .strip_prefix("Relais écoute sur ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database: a SQLite file, or a PostgreSQL database dropped at
/// the end.
struct Database {
    location: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Database {
    fn sqlite() -> Database {
        let dir = tempfile::tempdir().expect("temporary folder");
        let location = dir.path().join("shared.db").to_string_lossy().into_owned();
        Database {
            location,
            postgres: None,
            _dir: dir,
        }
    }

    fn postgres(server: &str) -> Database {
        let name = format!("relais_test_two_servers_{}", std::process::id());
        let mut admin = postgres::Client::connect(server, postgres::NoTls).expect("PostgreSQL");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("drop leftover database");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
        Database {
            location: format!("{base}/{name}"),
            postgres: Some((server.to_string(), name)),
            _dir: tempfile::tempdir().expect("temporary folder"),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres
            && let Ok(mut admin) = postgres::Client::connect(server, postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Fills the database and returns an administrator's API token.
fn prepare(location: &str) -> String {
    let store = open_store(location).expect("store opens");
    fill_demo(store.as_ref(), 400, &mut |_| {}).expect("demo base");
    let admin = add_user(
        store.as_ref(),
        &UserForm {
            initials: "QA".into(),
            first_name: "Quentin".into(),
            last_name: "Admin".into(),
            email: "qa@example.org".into(),
            admin: true,
            password: Some(PASSWORD.into()),
            ..UserForm::default()
        },
    )
    .expect("admin");
    create_api_token(store.as_ref(), &admin, "tests").expect("token")
}

fn batch_count(location: &str) -> usize {
    open_store(location)
        .expect("store opens")
        .list_batches(10_000, 0)
        .expect("batches")
        .len()
}

fn token_count(location: &str) -> usize {
    open_store(location)
        .expect("store opens")
        .list_api_tokens(None)
        .expect("tokens")
        .len()
}

fn page(response: reqwest::blocking::Response) -> String {
    unescape(&response.text().expect("page body"))
}

/// Follows the 303 of a successful Valider on the server that sent it.
fn follow(
    browser: &Client,
    server: &Server,
    response: reqwest::blocking::Response,
) -> reqwest::blocking::Response {
    if response.status() != 303 {
        return response;
    }
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("a redirect names its target")
        .to_string();
    browser
        .get(server.url(&location))
        .send()
        .expect("result page")
}

fn check_servers_behave_as_one(database: Database) {
    let location = database.location.clone();
    let token = prepare(&location);
    let (first, second) = (Server::start(&location), Server::start(&location));
    let api = Client::new();
    let body =
        serde_json::json!({"to": "BB", "country": "FRA", "postal": "51;02", "role": "commercial"});
    let batches_before = batch_count(&location);

    // API: preview on one server, run on the other, replay on the first.
    let preview: serde_json::Value = api
        .post(first.url("/api/v1/region-reassignments/preview"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .expect("preview")
        .json()
        .expect("preview JSON");
    let run = |server: &Server| {
        api.post(server.url("/api/v1/region-reassignments"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "two-servers-1")
            .json(&body)
            .send()
    };
    let applied: serde_json::Value = run(&second).expect("run").json().expect("run JSON");
    let replayed: serde_json::Value = run(&first).expect("replay").json().expect("replay JSON");

    assert!(preview["matched"].as_u64().unwrap_or(0) > 0, "{preview}");
    assert_eq!(applied["changed"], preview["changed"]);
    assert_eq!(replayed["batch_id"], applied["batch_id"]);
    assert_eq!(replayed["replayed"], true);
    assert_eq!(batch_count(&location), batches_before + 1);

    // Screens: log in on one server, take the form there, submit it on the
    // other, then submit it again on the first.
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let login_page = page(browser.get(first.url("/login")).send().expect("login page"));
    let login_token = hidden_field(&login_page, "csrf_token").expect("login CSRF token");
    let login = browser
        .post(second.url("/login"))
        .form(&[
            ("csrf_token", login_token.as_str()),
            ("login", "QA"),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .expect("login");
    assert_eq!(login.status(), 303, "login on the second server");
    let dialog = page(
        browser
            .get(first.url("/admin/reassign"))
            .send()
            .expect("dialog"),
    );
    let csrf = hidden_field(&dialog, "csrf_token").expect("CSRF token");
    let key = hidden_field(&dialog, "idempotency_key").expect("idempotency key");
    let form = [
        ("from", "JD"),
        ("to", "CC"),
        ("idempotency_key", key.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let submitted = browser
        .post(second.url("/admin/reassign"))
        .form(&form)
        .send()
        .expect("submit");
    let submitted = page(follow(&browser, &second, submitted));
    let resubmitted = browser
        .post(first.url("/admin/reassign"))
        .form(&form)
        .send()
        .expect("resubmit");
    let resubmitted = page(follow(&browser, &first, resubmitted));

    assert!(submitted.contains("appliquée"), "{submitted}");
    assert!(
        resubmitted.contains("Ce formulaire avait déjà été validé"),
        "{resubmitted}"
    );
    assert_eq!(data_changed(&submitted), data_changed(&resubmitted));
    assert_eq!(batch_count(&location), batches_before + 2);

    // Token form: taken on the first server, sent to the second, then sent
    // again to the first.
    let users_page = page(
        browser
            .get(first.url("/admin/users"))
            .send()
            .expect("users page"),
    );
    let token_form = [
        (
            "csrf_token",
            hidden_field(&users_page, "csrf_token").expect("CSRF token"),
        ),
        (
            "submission",
            hidden_field(&users_page, "submission").expect("submission field"),
        ),
        ("user", "QA".to_string()),
        ("label", "deux serveurs".to_string()),
    ];
    let tokens_before = token_count(&location);
    let created = browser
        .post(second.url("/admin/users/tokens"))
        .form(&token_form)
        .send()
        .expect("token form");
    let created_status = created.status();
    let created = page(created);
    let sent_again = browser
        .post(first.url("/admin/users/tokens"))
        .form(&token_form)
        .send()
        .expect("token form again");
    let sent_again = page(follow(&browser, &first, sent_again));

    assert_eq!(created_status, 200, "{created}");
    assert!(created.contains("relais_"), "the secret is shown once");
    assert!(
        sent_again.contains("Ce formulaire avait déjà créé le jeton n°"),
        "{sent_again}"
    );
    assert_eq!(token_count(&location), tokens_before + 1);
    drop((first, second));
    drop(database);
}

#[test]
fn two_servers_on_one_sqlite_file() {
    check_servers_behave_as_one(Database::sqlite());
}

#[test]
fn two_servers_on_one_postgres_database() {
    let server = std::env::var("RELAIS_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let Some(server) = server else {
        // CI sets RELAIS_REQUIRE_POSTGRES=1, so that a server that failed
        // to start fails the run instead of skipping this case.
        assert!(
            std::env::var("RELAIS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "RELAIS_REQUIRE_POSTGRES=1 but RELAIS_TEST_POSTGRES_URL is not set"
        );
        eprintln!("RELAIS_TEST_POSTGRES_URL is not set: the PostgreSQL case is skipped");
        return;
    };
    check_servers_behave_as_one(Database::postgres(&server));
}
