//! Browser tests: headless Chromium driven through chromedriver, with
//! axe-core checking each screen against the WCAG 2.1 A and AA rules.
//!
//! They need the Debian packages `chromium` and `chromium-driver`. Without
//! them the tests fail and print how to install them, unless
//! `RELAIS_SKIP_BROWSER=1` is set, in which case they print that they were
//! skipped. `RELAIS_CHROMIUM` and `RELAIS_CHROMEDRIVER` override the
//! programs' paths. Screenshots of the two dialogs go to
//! `target/screenshots/`, and to `docs/` when `RELAIS_UPDATE_SCREENSHOTS=1`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use relais::service::reassign::{prepare_region_reassignment, preview_region_reassignment};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp};

const AXE_SOURCE: &str = include_str!("assets/axe.min.js");

const SKIP_VARIABLE: &str = "RELAIS_SKIP_BROWSER";

/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(15);

/// Flags for a headless Chromium on a machine without network: the
/// background services would otherwise keep trying to reach the internet.
const CHROMIUM_FLAGS: [&str; 12] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1200",
    "--lang=fr-FR",
    "--force-device-scale-factor=1",
];

fn find_program(variable: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(variable) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    candidates.iter().find_map(|candidate| {
        let candidate = Path::new(candidate);
        if candidate.is_absolute() {
            return candidate.is_file().then(|| candidate.to_path_buf());
        }
        path_dirs
            .iter()
            .map(|dir| dir.join(candidate))
            .find(|path| path.is_file())
    })
}

/// Chromium and chromedriver for this test, or `None` when the browser
/// tests are skipped on purpose.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends chromedriver and the Chromium it started, even when a test
    /// fails before closing the session: both run in the process group
    /// created for chromedriver.
    fn drop(&mut self) {
        // The group is signalled by a system call rather than the `kill`
        // program: procps-ng 4.0.2 turned `kill -KILL -<group>` into a
        // signal to every process (`kill(-1, SIGKILL)`), the database
        // server included. A group id of 0 or 1 would do the same, so none
        // below 2 is signalled.
        #[cfg(unix)]
        if let Ok(group) = i32::try_from(self.driver.id())
            && group > 1
        {
            // SAFETY: `kill` only sends a signal; a negative pid names the
            // process group that chromedriver leads.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The WebDriver code of the Escape key.
const ESCAPE: &str = "\u{e00c}";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

async fn open_browser(test: &str) -> Option<Browser> {
    if std::env::var(SKIP_VARIABLE).as_deref() == Ok("1") {
        eprintln!("browser test {test} skipped: {SKIP_VARIABLE}=1");
        return None;
    }
    // The Debian wrapper script /usr/bin/chromium adds flags of its own;
    // the binary behind it is started directly when present.
    let chromium = find_program(
        "RELAIS_CHROMIUM",
        &[
            "/usr/lib/chromium/chromium",
            "chromium",
            "chromium-browser",
            "google-chrome",
        ],
    );
    let chromedriver = find_program(
        "RELAIS_CHROMEDRIVER",
        &["chromedriver", "/usr/lib/chromium/chromedriver"],
    );
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        panic!(
            "browser test {test}: Chromium or chromedriver not found. Install them with \
             `apt-get update && apt-get install -y chromium chromium-driver`, or set {SKIP_VARIABLE}=1 to skip the browser tests."
        );
    };

    let port = free_port();
    let mut command = Command::new(&chromedriver);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let driver = command
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromedriver.display()));
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < WAIT,
            "chromedriver did not listen on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let profile = tempfile::tempdir().expect("browser profile folder");
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args }
    });
    let capabilities = match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|error| {
            panic!(
                "chromedriver could not start {}: {error}",
                chromium.display()
            )
        });
    Some(Browser {
        client,
        driver,
        _profile: profile,
    })
}

/// Runs axe-core on the current page and returns the violations of WCAG
/// 2.1 level A and AA rules.
async fn axe_violations(client: &Client) -> Vec<Value> {
    client
        .execute(AXE_SOURCE, vec![])
        .await
        .expect("axe-core loads");
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
            .then((results) => done(results.violations.map((violation) => ({
                rule: violation.id,
                impact: violation.impact,
                help: violation.help,
                nodes: violation.nodes.slice(0, 5).map((node) => node.target.join(" ")),
            }))))
            .catch((error) => done([{ rule: "axe-error", help: String(error) }]));
    "#;
    let violations = client
        .execute_async(script, vec![])
        .await
        .expect("axe-core runs");
    violations
        .as_array()
        .cloned()
        .expect("axe-core returns a list")
}

/// Fails on any violation axe-core finds on the current page.
async fn assert_accessible(client: &Client, screen: &str) {
    let violations = axe_violations(client).await;
    assert!(
        violations.is_empty(),
        "{screen}: WCAG 2.1 A/AA violations found by axe-core:\n{}",
        serde_json::to_string_pretty(&violations).unwrap_or_default()
    );
}

/// Saves a screenshot to `target/screenshots/`, and to `docs/` too when
/// `publish` is set and `RELAIS_UPDATE_SCREENSHOTS=1`.
async fn screenshot(client: &Client, name: &str, publish: bool) {
    // The focus ring of the last field used is not part of the picture.
    client
        .execute("document.activeElement.blur();", vec![])
        .await
        .expect("blur");
    let png = client.screenshot().await.expect("screenshot");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut folders = vec![root.join("target").join("screenshots")];
    if publish && std::env::var("RELAIS_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        folders.push(root.join("docs"));
    }
    for folder in folders {
        std::fs::create_dir_all(&folder).expect("screenshot folder");
        std::fs::write(folder.join(name), &png).expect("screenshot written");
    }
}

async fn login(client: &Client, app: &TestApp, initials: &str) {
    client.goto(&app.url("/login")).await.expect("login page");
    client
        .find(Locator::Id("field-login"))
        .await
        .unwrap()
        .send_keys(initials)
        .await
        .unwrap();
    client
        .find(Locator::Id("field-password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit].primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(WAIT)
        .for_url(&app.url("/contacts").parse().unwrap())
        .await
        .expect("logged in");
}

/// Waits until the inner HTML of `selector` satisfies `ready`, and returns it.
async fn wait_for_html(
    client: &Client,
    selector: &str,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    loop {
        let html = match client.find(Locator::Css(selector)).await {
            Ok(element) => crate::support::unescape(&element.html(true).await.unwrap_or_default()),
            Err(_) => String::new(),
        };
        if ready(&html) {
            return html;
        }
        assert!(
            started.elapsed() < WAIT,
            "timed out waiting for {what}; {selector} holds: {html}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn changed_count(html: &str) -> Option<u64> {
    crate::support::data_changed(html)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_reassignment_and_undo_in_browser() {
    let Some(browser) = open_browser("region_reassignment_and_undo_in_browser").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;
    let store = app.store.clone();
    let expected = tokio::task::spawn_blocking(move || {
        let prepared =
            prepare_region_reassignment(store.as_ref(), "QT", "FRA", "51;02", Some("commercial"))
                .unwrap();
        preview_region_reassignment(store.as_ref(), &prepared)
            .unwrap()
            .outcome
            .changed
    })
    .await
    .unwrap();
    assert!(expected > 0, "the demo base has contacts in 51 and 02");
    login(client, &app, "QA").await;

    // Réaffecter: the preview appears once both users are chosen.
    client.goto(&app.url("/admin/reassign")).await.unwrap();
    client
        .find(Locator::Id("field-from"))
        .await
        .unwrap()
        .select_by_value("PL")
        .await
        .unwrap();
    client
        .find(Locator::Id("field-to"))
        .await
        .unwrap()
        .select_by_value("QT")
        .await
        .unwrap();
    let preview = wait_for_html(client, "#preview", "the Réaffecter preview", |html| {
        changed_count(html).is_some()
    })
    .await;
    assert!(preview.contains("Paul LEFÈVRE (PL)"));
    screenshot(client, "reassign.png", true).await;
    assert_accessible(client, "Réaffecter with a preview").await;

    // Réaffecter par région: a bad code is announced next to its field.
    client
        .goto(&app.url("/admin/reassign-region"))
        .await
        .unwrap();
    assert_accessible(client, "Réaffecter par région, empty").await;
    client
        .find(Locator::Id("field-to"))
        .await
        .unwrap()
        .select_by_value("QT")
        .await
        .unwrap();
    let postal = client.find(Locator::Id("field-postal")).await.unwrap();
    postal.send_keys("5%").await.unwrap();
    let error = wait_for_html(client, "#postal-error", "the postal error", |html| {
        html.contains("5%")
    })
    .await;
    assert!(error.starts_with("code postal : « 5% »"), "{error}");
    assert_eq!(
        postal.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert_accessible(client, "Réaffecter par région with an error").await;

    postal.clear().await.unwrap();
    postal.send_keys("51;02").await.unwrap();
    let preview = wait_for_html(client, "#preview", "the region preview", |html| {
        html.contains("51 — Marne") && html.contains("02 — Aisne")
    })
    .await;
    assert_eq!(
        changed_count(&preview),
        Some(expected),
        "the preview shows the count the store computes"
    );
    assert_eq!(
        client
            .find(Locator::Id("postal-error"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        ""
    );
    screenshot(client, "reassign-region.png", true).await;
    assert_accessible(client, "Réaffecter par région with a preview").await;

    // Valider, then the history entry on a contact of the batch.
    client
        .find(Locator::Css("form[data-preview-url] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.batch-link"))
        .await
        .expect("result page");
    let result = client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .html(true)
        .await
        .unwrap();
    assert_eq!(
        changed_count(&result),
        Some(expected),
        "the run changed what the preview said"
    );
    assert_accessible(client, "result of Réaffecter par région").await;
    link.click().await.unwrap();
    let batch_id = app.store.list_batches(1, 0).unwrap()[0].id;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("table.contacts"))
        .await
        .expect("batch page");
    assert_accessible(client, "batch page").await;
    client
        .find(Locator::Css("table.contacts tbody tr a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let history = wait_for_html(client, "main", "the contact page", |html| {
        html.contains("Historique du contact")
    })
    .await;
    assert!(
        history.contains(&format!(
            "→ Théo TARGET (QT) — réaffectation par région n° {batch_id} par Quentin ADMIN (QA)"
        )),
        "the contact's history names the batch"
    );
    assert_accessible(client, "contact page").await;

    // Undo from the journal.
    client.goto(&app.url("/admin/batches")).await.unwrap();
    assert_accessible(client, "journal").await;
    client
        .find(Locator::LinkText(&format!("n° {batch_id}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.undo-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let confirm = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("form.undo-form button"))
        .await
        .unwrap();
    assert!(
        !app.store.batch(batch_id).unwrap().unwrap().undone,
        "the first click only asks for confirmation"
    );
    assert_accessible(client, "undo confirmation").await;
    confirm.click().await.unwrap();
    let undone = wait_for_html(client, "main", "the undo result", |html| {
        html.contains("annulée par")
    })
    .await;
    assert!(undone.contains(&format!(
        "Opération n° {batch_id} annulée par l'opération n° "
    )));
    assert_accessible(client, "undo result").await;
    assert!(app.store.batch(batch_id).unwrap().unwrap().undone);

    client.clone().close().await.unwrap();
}

/// Revoking a token cannot be undone, so the first click only opens the
/// confirming form, and the token stays valid until it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_revocation_asks_for_confirmation() {
    let Some(browser) = open_browser("token_revocation_asks_for_confirmation").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;
    let ursule = app.store.find_user("QU").unwrap().unwrap();
    let token = app.store.list_api_tokens(Some(ursule.id)).unwrap()[0].id;
    let revoked = || {
        app.store.list_api_tokens(Some(ursule.id)).unwrap()[0]
            .revoked_at
            .is_some()
    };

    login(client, &app, "QA").await;
    client.goto(&app.url("/admin/users")).await.unwrap();
    let confirm = client
        .find(Locator::Css(&format!(
            "form[action='/admin/users/tokens/{token}/revoke'] button[type=submit]"
        )))
        .await
        .unwrap();
    assert!(!confirm.is_displayed().await.unwrap(), "hidden until asked");

    client
        .find(Locator::Css(&format!(
            "summary[aria-label^='Révoquer le jeton n° {token} ']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        confirm.is_displayed().await.unwrap(),
        "shown after the first click"
    );
    assert_accessible(client, "users-confirm-revocation").await;
    assert!(!revoked(), "the first click revokes nothing");

    // Escape closes the confirmation and gives the focus back to its
    // button; a second click opens it again.
    confirm.send_keys(ESCAPE).await.unwrap();
    assert!(!confirm.is_displayed().await.unwrap(), "closed by Escape");
    let focused = client
        .execute(
            "return document.activeElement.getAttribute('aria-label');",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        focused
            .as_str()
            .is_some_and(|label| label.starts_with(&format!("Révoquer le jeton n° {token} "))),
        "{focused}"
    );
    client
        .find(Locator::Css(&format!(
            "summary[aria-label^='Révoquer le jeton n° {token} ']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(confirm.is_displayed().await.unwrap(), "open again");

    confirm.click().await.unwrap();
    wait_for_html(client, "main", "the users page after revocation", |html| {
        html.contains("révoqué le")
    })
    .await;
    assert!(revoked());

    client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe() {
    let Some(browser) = open_browser("every_screen_passes_axe").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;

    // The checker itself must see a known fault, else a silent failure to
    // run it would pass every screen.
    client
        .goto("data:text/html,<html><body><img src='x.png'><input></body></html>")
        .await
        .unwrap();
    let faults = axe_violations(client).await;
    let rules: Vec<&str> = faults
        .iter()
        .filter_map(|fault| fault["rule"].as_str())
        .collect();
    assert!(
        rules.contains(&"image-alt"),
        "axe-core reports a missing alt: {rules:?}"
    );
    assert!(
        rules.contains(&"html-has-lang"),
        "axe-core reports a missing lang: {rules:?}"
    );

    client.goto(&app.url("/login")).await.unwrap();
    assert_accessible(client, "login").await;
    client
        .find(Locator::Id("field-login"))
        .await
        .unwrap()
        .send_keys("QA")
        .await
        .unwrap();
    client
        .find(Locator::Id("field-password"))
        .await
        .unwrap()
        .send_keys("mauvais mot de passe")
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit].primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("login-error"))
        .await
        .expect("login error");
    assert_accessible(client, "login with an error").await;

    login(client, &app, "QA").await;
    for (path, screen) in [
        ("/contacts", "contacts"),
        ("/contacts?departement=51&q=a", "contacts-filtered"),
        ("/contacts?postal=5%25", "contacts-error"),
        ("/contacts/1", "contact"),
        ("/admin", "admin"),
        ("/admin/reassign", "reassign-empty"),
        ("/admin/reassign?from=JD&to=PL", "reassign-error"),
        (
            "/admin/reassign-region?to=QT&postal=*",
            "reassign-region-all",
        ),
        ("/admin/batches", "journal"),
        ("/admin/batches/1", "batch-import"),
        ("/admin/users", "users"),
        ("/contacts/999999", "error"),
    ] {
        client.goto(&app.url(path)).await.unwrap();
        screenshot(client, &format!("screen-{screen}.png"), false).await;
        assert_accessible(client, screen).await;
    }

    // Keyboard: the skip link is the first stop and leads to the content.
    client.goto(&app.url("/admin/reassign")).await.unwrap();
    let focused = client
        .execute("document.body.focus(); return document.querySelector('.skip-link').getAttribute('href');", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!("#contenu"));

    client.clone().close().await.unwrap();
}

/// Enter in a field of a reassignment dialog shows the preview instead of
/// running the operation. Once the session has ended, the preview reports
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_in_dialog_only_previews() {
    let Some(browser) = open_browser("enter_in_dialog_only_previews").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;
    let batches_before = app.batch_count();
    login(client, &app, "QA").await;

    open_region_dialog(client, &app, "QT").await;
    let postal = client.find(Locator::Id("field-postal")).await.unwrap();
    postal.send_keys("51\u{E007}").await.unwrap();
    let preview = wait_for_html(client, "#preview", "the preview after Enter", |html| {
        changed_count(html).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(preview.contains("51 — Marne"), "{preview}");
    assert_eq!(
        client.current_url().await.unwrap().path(),
        "/admin/reassign-region",
        "Enter did not send the form"
    );
    assert_eq!(app.batch_count(), batches_before, "nothing ran");

    client.delete_all_cookies().await.unwrap();
    postal.send_keys(";02").await.unwrap();
    let ended = wait_for_html(client, "#preview", "the ended-session notice", |html| {
        html.contains("Votre session a pris fin")
    })
    .await;
    assert!(ended.contains("rien n'est modifié"), "{ended}");

    client.clone().close().await.unwrap();
}

/// A dialog refused by the server keeps its errors once the preview has
/// refreshed, even those the preview cannot see (an empty field), and the
/// first field in error has the focus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_dialog_keeps_its_errors() {
    let Some(browser) = open_browser("refused_dialog_keeps_its_errors").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;
    let batches_before = app.batch_count();
    login(client, &app, "QA").await;
    client.goto(&app.url("/admin/reassign")).await.unwrap();

    client
        .find(Locator::Css("form[data-preview-url] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_html(client, "main", "the refused dialog", |html| {
        html.contains("de : choisissez un utilisateur dans la liste")
    })
    .await;
    // Longer than the preview's delay and response time.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let main = crate::support::unescape(
        &client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .html(false)
            .await
            .unwrap(),
    );
    let focused = client
        .execute("return document.activeElement.name;", vec![])
        .await
        .unwrap();

    assert!(
        main.contains("de : choisissez un utilisateur dans la liste"),
        "{main}"
    );
    assert!(
        main.contains("vers : choisissez un utilisateur dans la liste"),
        "{main}"
    );
    assert!(main.contains("aria-invalid=\"true\""), "{main}");
    assert_eq!(focused.as_str(), Some("from"));
    assert_eq!(app.batch_count(), batches_before);

    client.clone().close().await.unwrap();
}

/// A postal list too long for a request's address gets a notice that
/// neither the preview nor « Valider » can send it, and how to shorten it,
/// instead of an invitation to validate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_too_long_for_the_screen_says_so() {
    let Some(browser) = open_browser("list_too_long_for_the_screen_says_so").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;
    login(client, &app, "QA").await;
    open_region_dialog(client, &app, "QT").await;

    client
        .execute(
            "var field = document.getElementById('field-postal');
             var codes = [];
             for (var i = 0; i < 15000; i++) {
               codes.push(String(1000 + i % 94000).padStart(5, '0'));
             }
             field.value = codes.join(';');
             field.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )
        .await
        .unwrap();
    let notice = wait_for_html(
        client,
        "#preview",
        "the notice of a list too long",
        |html| html.contains("Liste trop longue"),
    )
    .await;

    assert!(
        notice.contains("ni l'aperçu ni « Valider » ne peuvent l'envoyer"),
        "{notice}"
    );
    assert!(
        !notice.contains("vous pouvez tout de même valider"),
        "{notice}"
    );

    client.clone().close().await.unwrap();
}

/// On a phone-sized screen, the page is never wider than the screen: wide
/// tables scroll inside their frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_screen_has_no_page_overflow() {
    let Some(browser) = open_browser("narrow_screen_has_no_page_overflow").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;
    login(client, &app, "QA").await;
    client.set_window_size(390, 844).await.unwrap();

    let mut paths = vec![
        "/contacts".to_string(),
        "/admin/batches".to_string(),
        "/admin/users".to_string(),
        "/admin/reassign".to_string(),
    ];
    let batch = app
        .store
        .list_batches(1, 0)
        .unwrap()
        .first()
        .map(|batch| batch.id);
    if let Some(batch) = batch {
        paths.push(format!("/admin/batches/{batch}"));
    }
    // A region run over a long list of codes, whose parameters the result
    // and undo pages quote without a space to break at.
    let codes: Vec<String> = (0..300).map(|index| format!("51{index:03}")).collect();
    let prepared = prepare_region_reassignment(
        app.store.as_ref(),
        "QT",
        "FRA",
        &codes.join(";"),
        Some("commercial"),
    )
    .unwrap();
    let long_run = relais::service::reassign::apply_region_reassignment(
        app.store.as_ref(),
        &prepared,
        relais::service::reassign::RunContextInput {
            actor: relais::domain::batch::Actor::system("tests"),
            idempotency_key: None,
        },
    )
    .unwrap()
    .batch_id
    .unwrap();
    paths.push(format!("/admin/batches/{long_run}/result"));
    paths.push(format!("/admin/batches/{long_run}/undo"));
    for path in &paths {
        client.goto(&app.url(path)).await.unwrap();
        assert_fits(client, path).await;
    }
    open_region_dialog(client, &app, "QT").await;
    client
        .find(Locator::Id("field-postal"))
        .await
        .unwrap()
        .send_keys("51;02;2A")
        .await
        .unwrap();
    wait_for_html(client, "#preview", "the region preview", |html| {
        changed_count(html).is_some()
    })
    .await;
    assert_fits(client, "/admin/reassign-region with its preview").await;

    client.clone().close().await.unwrap();
}

/// Fails when the page scrolls sideways.
async fn assert_fits(client: &Client, screen: &str) {
    let widths = client
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let scroll = widths[0].as_u64().unwrap();
    let visible = widths[1].as_u64().unwrap();
    assert!(
        scroll <= visible,
        "{screen}: the page is {scroll} px wide on a {visible} px screen"
    );
}

/// Opens « Réaffecter par région » with `target` chosen.
async fn open_region_dialog(client: &Client, app: &TestApp, target: &str) {
    client
        .goto(&app.url("/admin/reassign-region"))
        .await
        .unwrap();
    client
        .find(Locator::Id("field-to"))
        .await
        .unwrap()
        .select_by_value(target)
        .await
        .unwrap();
}

/// The token form's button is disabled once the form is sent, so that a
/// double click sends it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_button_disabled_once_sent() {
    let Some(browser) = open_browser("token_button_disabled_once_sent").await else {
        return;
    };
    let client = &browser.client;
    let app = TestApp::start().await;
    login(client, &app, "QA").await;
    client.goto(&app.url("/admin/users")).await.unwrap();
    // The page stays, so that the button can be read after the sending.
    client
        .execute(
            "document.querySelector('form[data-send-once]').addEventListener('submit', function (event) { event.preventDefault(); });",
            vec![],
        )
        .await
        .unwrap();
    let button = client
        .find(Locator::Css("form[data-send-once] button[type=submit]"))
        .await
        .unwrap();

    button.click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(
        button.attr("disabled").await.unwrap().as_deref(),
        Some("true")
    );
    client.clone().close().await.unwrap();
}
