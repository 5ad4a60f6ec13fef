//! Request ids on every response and on error pages; security headers.

use crate::support::{TestApp, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_a_request_id() {
    let app = TestApp::start().await;
    let client = app.client();

    for path in [
        "/",
        "/login",
        "/static/style.css",
        "/api/v1/openapi.json",
        "/api/v1/batches",
        "/nulle-part",
        "/contacts",
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("GET {path} has x-request-id"));
        assert_eq!(id.to_str().unwrap().len(), 36, "GET {path}: a UUID");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_page_shows_the_request_id() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;

    let response = client
        .get(app.url("/contacts/999999"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let page = text(response).await;
    assert!(page.contains("identifiant de requête"));
    assert!(page.contains(&format!("<code class=\"request-id\">{id}</code>")));
    assert!(page.contains("Aucun contact n'a le numéro ou l'identifiant externe « 999999 »."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_carry_the_request_id() {
    let app = TestApp::start().await;

    let response = app
        .api(reqwest::Method::GET, "/api/v1/batches", None)
        .send()
        .await
        .unwrap();

    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["request_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_request_id_is_kept_only_when_safe() {
    let app = TestApp::start().await;
    let client = app.client();

    let safe_id = client
        .get(app.url("/login"))
        .header("x-request-id", "trace-42_a")
        .send()
        .await
        .unwrap();
    let unsafe_id = client
        .get(app.url("/login"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();

    assert_eq!(safe_id.headers()["x-request-id"], "trace-42_a");
    assert_ne!(unsafe_id.headers()["x-request-id"], "<script>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_are_set() {
    let app = TestApp::start().await;

    let response = app.client().get(app.url("/login")).send().await.unwrap();

    let headers = response.headers();
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'"));
    assert!(policy.contains("script-src 'self'"));
    assert!(policy.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_failure_gets_a_generic_message() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let sabotage = rusqlite::Connection::open(&app.db_path).unwrap();
    sabotage
        .execute_batch("ALTER TABLE batches RENAME TO batches_gone")
        .unwrap();

    let api = app
        .api(
            reqwest::Method::GET,
            "/api/v1/batches",
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    let page = client.get(app.url("/admin/batches")).send().await.unwrap();

    assert_eq!(api.status(), 500);
    let id = api.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["code"], "database_error");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("Erreur interne du serveur"));
    assert!(message.contains(&id), "the message gives the request id");
    assert!(!message.contains("batches"), "the cause stays in the logs");
    assert_eq!(page.status(), 500);
    let page = text(page).await;
    assert!(page.contains("Erreur du serveur"));
    assert!(!page.contains("no such table"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_requests_get_french_pages() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let csrf = crate::support::hidden_field(&app.page(&client, "/admin/users").await, "csrf_token")
        .unwrap();

    let bad_user = client
        .post(app.url("/admin/users/abc/deactivate"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let bad_form = client
        .post(app.url("/admin/reassign"))
        .header("content-type", "text/plain")
        .body(format!("csrf_token={csrf}&from=JD&to=QT&idempotency_key=k"))
        .send()
        .await
        .unwrap();

    assert_eq!(bad_user.status(), 404);
    assert!(text(bad_user).await.contains("Aucun utilisateur n° abc."));
    assert_eq!(bad_form.status(), 400);
    assert!(text(bad_form).await.contains("Formulaire illisible"));
}
