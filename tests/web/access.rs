//! Who reaches what: administrators only for Outils → Admin and the admin
//! API, a valid token for any API call.

use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, hidden_field, json, text};

const ADMIN_SCREENS: [&str; 9] = [
    "/admin",
    "/admin/reassign",
    "/admin/reassign/preview?from=JD&to=QT",
    "/admin/reassign-region",
    "/admin/reassign-region/preview?to=QT&postal=51",
    "/admin/batches",
    "/admin/batches/1",
    "/admin/batches/1/export.csv",
    "/admin/users",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_screens_refuse_non_admin() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;

    for path in ADMIN_SCREENS {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "GET {path}");
        assert!(
            text(response).await.contains("Accès refusé"),
            "GET {path} shows a French page"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admin_admin_forms_change_nothing() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;
    let token = hidden_field(&app.page(&client, "/contacts").await, "csrf_token").unwrap();
    let batches_before = app.batch_count();
    let users_before = app.store.list_users().unwrap();
    let jd = app.store.find_user("JD").unwrap().unwrap();
    let batch_id = app.store.list_batches(1, 0).unwrap()[0].id;
    let tokens_before = app.store.list_api_tokens(None).unwrap();
    let admin_token_id = tokens_before[tokens_before.len() - 1].id;

    let key = "8a3a3a49-8f1c-4d6d-9a3b-2f1f1f1f1f1f";
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/reassign".into(),
            vec![("from", "JD"), ("to", "QT"), ("idempotency_key", key)],
        ),
        (
            "/admin/reassign-region".into(),
            vec![
                ("to", "QT"),
                ("country", "FRA"),
                ("postal", "*"),
                ("role", "both"),
                ("idempotency_key", key),
            ],
        ),
        (
            format!("/admin/batches/{batch_id}/undo"),
            vec![("idempotency_key", key)],
        ),
        (
            "/admin/users".into(),
            vec![
                ("initials", "ZZ"),
                ("last_name", "Intrus"),
                ("password", "correct horse"),
                ("password_confirm", "correct horse"),
            ],
        ),
        (format!("/admin/users/{}/deactivate", jd.id), vec![]),
        (
            "/admin/users/tokens".into(),
            vec![("user", "JD"), ("label", "vol")],
        ),
        (
            format!("/admin/users/tokens/{admin_token_id}/revoke"),
            vec![],
        ),
    ];
    for (path, mut fields) in posts {
        fields.push(("csrf_token", token.as_str()));
        let response = client
            .post(app.url(&path))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "POST {path}");
    }

    assert_eq!(app.batch_count(), batches_before, "no batch was recorded");
    assert_eq!(
        app.store.list_users().unwrap(),
        users_before,
        "no user was created or changed"
    );
    assert_eq!(
        app.store.list_api_tokens(None).unwrap(),
        tokens_before,
        "no token was created or revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admin_sees_no_admin_menu() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;

    let page = app.page(&client, "/contacts").await;

    assert!(!page.contains("href=\"/admin\""));
    assert!(page.contains("Ursule USER (QU)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admin_reads_contacts() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;

    let list = app.page(&client, "/contacts").await;
    let contact = app.page(&client, "/contacts/1").await;

    assert!(list.contains("400 contacts"));
    assert!(contact.contains("Historique du contact"));
}

fn admin_api_calls() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/api/v1/users", None),
        (
            Method::POST,
            "/api/v1/reassignments/preview",
            Some(json!({"from": "JD", "to": "QT"})),
        ),
        (
            Method::POST,
            "/api/v1/reassignments",
            Some(json!({"from": "JD", "to": "QT"})),
        ),
        (
            Method::POST,
            "/api/v1/region-reassignments/preview",
            Some(json!({"to": "QT", "country": "FRA", "postal": "51;02"})),
        ),
        (
            Method::POST,
            "/api/v1/region-reassignments",
            Some(json!({"to": "QT", "country": "FRA", "postal": "51;02"})),
        ),
        (Method::GET, "/api/v1/batches", None),
        (Method::GET, "/api/v1/batches/1", None),
        (Method::GET, "/api/v1/batches/1/contacts", None),
        (Method::POST, "/api/v1/batches/1/undo", Some(json!({}))),
    ]
}

fn reader_api_calls() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/contacts"),
        (Method::GET, "/api/v1/contacts/1"),
        (Method::GET, "/api/v1/contacts/1/history"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_refuses_non_admin() {
    let app = TestApp::start().await;
    let batches_before = app.batch_count();
    let owners_before = app
        .store
        .list_contacts(&Default::default(), relais::storage::Page::first(1000))
        .unwrap();

    for (method, path, body) in admin_api_calls() {
        let mut request = app.api(method.clone(), path, Some(&app.user_token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
        let error = json(response).await;
        assert_eq!(error["code"], "forbidden", "{method} {path}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("administrateurs"), "{message}");
        assert!(
            !message.contains("page"),
            "an API client has no page: {message}"
        );
    }

    assert_eq!(app.batch_count(), batches_before);
    let owners_after = app
        .store
        .list_contacts(&Default::default(), relais::storage::Page::first(1000))
        .unwrap();
    assert_eq!(owners_after, owners_before, "no contact changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admin_token_reads_contacts() {
    let app = TestApp::start().await;

    for (method, path) in reader_api_calls() {
        let response = app
            .api(method.clone(), path, Some(&app.user_token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_token_gets_401() {
    let app = TestApp::start().await;
    let mut calls: Vec<(Method, &str)> = admin_api_calls()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    calls.extend(reader_api_calls());

    for (method, path) in calls {
        for token in [None, Some("relais_not-a-token"), Some("")] {
            let response = app.api(method.clone(), path, token).send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"relais\""
            );
            let error = json(response).await;
            assert_eq!(error["code"], "unauthenticated");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_does_not_open_the_api() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    let response = client.get(app.url("/api/v1/batches")).send().await.unwrap();

    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_of_an_inactive_user_is_refused() {
    let app = TestApp::start().await;
    let user = app.store.find_user("QU").unwrap().unwrap();
    app.store.set_user_active(user.id, false).unwrap();

    let response = app
        .api(Method::GET, "/api/v1/me", Some(&app.user_token))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
}
