//! Starts the real application on a free loopback port over a fresh SQLite
//! database, and helpers to drive it over HTTP.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use relais::service::demo::fill_demo;
use relais::service::tokens::create_api_token;
use relais::service::users::{UserForm, add_user};
use relais::storage::{Store, open_store};
use relais::web::{AppState, WebConfig, serve_on};
use reqwest::redirect::Policy;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery";

/// Contacts of the demo base each test starts with: enough for `51;02` to
/// select a few dozen, small enough to build in well under a second.
pub const DEMO_CONTACTS: u64 = 400;

pub struct TestApp {
    pub base: String,
    /// The SQLite file the application serves.
    pub db_path: PathBuf,
    pub store: Arc<dyn Store>,
    pub admin_token: String,
    pub user_token: String,
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

fn add(store: &dyn Store, initials: &str, first: &str, last: &str, admin: bool) {
    add_user(
        store,
        &UserForm {
            initials: initials.into(),
            first_name: first.into(),
            last_name: last.into(),
            email: format!("{}@example.org", initials.to_lowercase()),
            admin,
            password: Some(PASSWORD.into()),
            ..UserForm::default()
        },
    )
    .expect("test user is valid");
}

/// A database built once per test process and copied for each test:
/// building it hashes four passwords with Argon2, which takes seconds in
/// a debug build.
struct Template {
    path: PathBuf,
    admin_token: String,
    user_token: String,
    _dir: tempfile::TempDir,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("template.db");
        let store = open_store(path.to_str().expect("UTF-8 path")).expect("store opens");
        fill_demo(store.as_ref(), DEMO_CONTACTS, &mut |_| {}).expect("demo base");
        add(store.as_ref(), "QA", "Quentin", "Admin", true);
        add(store.as_ref(), "QU", "Ursule", "User", false);
        add(store.as_ref(), "QT", "Théo", "Target", false);
        let token = |initials: &str| {
            let user = store
                .find_user(initials)
                .expect("lookup")
                .expect("user exists");
            create_api_token(store.as_ref(), &user, "tests").expect("token")
        };
        let (admin_token, user_token) = (token("QA"), token("QU"));
        // Closing every connection checkpoints the write-ahead log into the
        // database file, which can then be copied alone.
        drop(store);
        Template {
            path,
            admin_token,
            user_token,
            _dir: dir,
        }
    })
}

impl TestApp {
    /// Starts the application on a copy of the demo base plus three users with the password [`PASSWORD`]: `QA`
    /// (administrator), `QU` (user) and `QT` (user, target of the tests'
    /// reassignments), and an API token for `QA` and for `QU`.
    pub async fn start() -> TestApp {
        let template = tokio::task::spawn_blocking(template)
            .await
            .expect("template thread");
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("web.db");
        std::fs::copy(&template.path, &path).expect("copy of the template database");
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", template.path.display()));
            assert!(
                !side.exists(),
                "the template database was left open: {}",
                side.display()
            );
        }
        let store = open_store(path.to_str().expect("UTF-8 path")).expect("store opens");
        let (admin_token, user_token) = (template.admin_token.clone(), template.user_token.clone());

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (shutdown, stop) = oneshot::channel::<()>();
        let state = AppState::new(Arc::clone(&store), WebConfig::default());
        tokio::spawn(serve_on(listener, state, async {
            let _ = stop.await;
        }));

        TestApp {
            base,
            db_path: path,
            store,
            admin_token,
            user_token,
            _dir: dir,
            _shutdown: shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Builds a browser-like client that keeps cookies and does not follow
    /// redirects, so that tests see them.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("HTTP client")
    }

    /// Logs in through the login form and returns the client holding the
    /// session cookie.
    pub async fn logged_in(&self, login: &str) -> reqwest::Client {
        let client = self.client();
        let response = self.submit_login(&client, login, PASSWORD).await;
        assert_eq!(response.status(), 303, "login of {login} should redirect");
        client
    }

    pub async fn submit_login(
        &self,
        client: &reqwest::Client,
        login: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = text(
            client
                .get(self.url("/login"))
                .send()
                .await
                .expect("login page"),
        )
        .await;
        let token = hidden_field(&page, "csrf_token").expect("login form has a CSRF token");
        client
            .post(self.url("/login"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("login", login),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await
            .expect("login answer")
    }

    /// Number of batches in the journal.
    pub fn batch_count(&self) -> usize {
        self.store.list_batches(10_000, 0).expect("batches").len()
    }

    /// GETs a page and returns its body, asserting 200.
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> String {
        let response = client
            .get(self.url(path))
            .send()
            .await
            .expect("page answer");
        assert_eq!(response.status(), 200, "GET {path}");
        text(response).await
    }

    /// Follows the 303 redirect of a successful Valider, as a browser
    /// does, and returns the page it leads to. Other responses are returned
    /// unchanged.
    pub async fn follow(
        &self,
        client: &reqwest::Client,
        response: reqwest::Response,
    ) -> reqwest::Response {
        if response.status() != 303 {
            return response;
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .expect("a redirect names its target")
            .to_string();
        client
            .get(self.url(&location))
            .send()
            .await
            .expect("page answer")
    }

    pub fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = reqwest::Client::new().request(method, self.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

/// Reads the body of a page and turns askama's character references back
/// into characters, so that tests can look for French text as written.
pub async fn text(response: reqwest::Response) -> String {
    unescape(&response.text().await.expect("response body"))
}

/// Decodes the entities the templates write, and reads the no-break
/// spaces of French typography as spaces, so that tests compare words.
pub fn unescape(html: &str) -> String {
    html.replace(['\u{a0}', '\u{202f}'], " ")
        .replace("&nbsp;", " ")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("JSON body")
}

/// Value of the first `<input … name="NAME" value="…">` of a page.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// Number in the `data-changed` attribute of a preview or result.
pub fn data_changed(html: &str) -> Option<u64> {
    let marker = "data-changed=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    html[start..end].parse().ok()
}
