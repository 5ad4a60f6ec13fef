//! The `page` parameter of the lists. Past the last page or below the
//! first, a list redirects to the nearest page that exists. Text is
//! rejected with a French message.

use relais::domain::batch::Actor;
use relais::service::reassign::{
    RunContextInput, apply_region_reassignment, prepare_region_reassignment,
};

use crate::support::{TestApp, text};

/// Requests `path` and returns the `Location` of its expected redirect.
async fn redirect_of(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let response = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 303, "GET {path} redirects");
    response
        .headers()
        .get("location")
        .expect("Location header")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_past_last_page_redirect() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let first = app.page(&client, "/contacts").await;
    let last_page = first
        .split(" — page 1 sur ")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the demo base has several pages")
        .to_string();

    let location = redirect_of(&app, &client, "/contacts?page=9999").await;
    assert_eq!(location, format!("/contacts?page={last_page}"));
    let last = app.page(&client, &location).await;
    assert!(last.contains(&format!("page {last_page} sur {last_page}")));
    assert!(last.contains("rel=\"prev\""));
    assert!(!last.contains("rel=\"next\""));
    assert!(last.contains("<table"), "the last page lists contacts");

    let filtered = redirect_of(&app, &client, "/contacts?departement=51&page=9999").await;
    assert!(
        filtered.starts_with("/contacts?departement=51&page="),
        "{filtered}"
    );
    assert_eq!(
        redirect_of(&app, &client, "/contacts?page=0").await,
        "/contacts?page=1"
    );
    assert_eq!(
        redirect_of(&app, &client, "/contacts?page=-3").await,
        "/contacts?page=1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_numeric_page_is_rejected() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    for path in [
        "/contacts?page=abc",
        "/admin/batches?page=abc",
        "/admin/batches/1?page=abc",
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 400, "GET {path}");
        let page = text(response).await;
        assert!(
            page.contains("Numéro de page invalide : « abc » n'est pas un nombre entier"),
            "GET {path}: {page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_and_batch_clamp_their_page() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    assert_eq!(
        redirect_of(&app, &client, "/admin/batches?page=5").await,
        "/admin/batches?page=1"
    );
    // A batch over every French address changes several pages of contacts.
    let store = app.store.clone();
    let batch = tokio::task::spawn_blocking(move || {
        let prepared = prepare_region_reassignment(store.as_ref(), "QT", "FRA", "*", None).unwrap();
        let run = RunContextInput {
            actor: Actor::system("tests"),
            idempotency_key: None,
        };
        apply_region_reassignment(store.as_ref(), &prepared, run)
            .unwrap()
            .batch_id
            .expect("a batch")
    })
    .await
    .unwrap();

    let location = redirect_of(&app, &client, &format!("/admin/batches/{batch}?page=9999")).await;
    let last_page: u32 = location
        .strip_prefix(&format!("/admin/batches/{batch}?page="))
        .and_then(|page| page.parse().ok())
        .expect("a page of the batch");
    assert!(last_page > 1, "{location}");
    let last = app.page(&client, &location).await;
    assert!(last.contains(&format!("page {last_page} sur {last_page}")));
    assert!(!last.contains("rel=\"next\""));
    assert_eq!(
        redirect_of(&app, &client, &format!("/admin/batches/{batch}?page=0")).await,
        format!("/admin/batches/{batch}?page=1")
    );
}
