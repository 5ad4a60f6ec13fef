//! The JSON API: previews equal runs, idempotency, errors, contacts and
//! history, the OpenAPI document.

use relais::domain::batch::Actor;
use relais::domain::country::CountryCode;
use relais::service::import::{ImportRequest, import_file};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, json};

const REGION: &str = "/api/v1/region-reassignments";

fn region_body(postal: &str) -> Value {
    json!({"to": "QT", "country": "FRA", "postal": postal, "role": "commercial"})
}

async fn post(app: &TestApp, path: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
    let mut request = app
        .api(Method::POST, path, Some(&app.admin_token))
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, json(response).await)
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .api(Method::GET, path, Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, json(response).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route() {
    let app = TestApp::start().await;

    let response = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let document = json(response).await;

    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/me", "get"),
        ("/api/v1/users", "get"),
        ("/api/v1/reassignments/preview", "post"),
        ("/api/v1/reassignments", "post"),
        ("/api/v1/region-reassignments/preview", "post"),
        ("/api/v1/region-reassignments", "post"),
        ("/api/v1/batches", "get"),
        ("/api/v1/batches/{id}", "get"),
        ("/api/v1/batches/{id}/contacts", "get"),
        ("/api/v1/batches/{id}/undo", "post"),
        ("/api/v1/batches/{id}/undo/preview", "post"),
        ("/api/v1/contacts", "get"),
        ("/api/v1/contacts/{id}", "get"),
        ("/api/v1/contacts/{id}/history", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    assert_eq!(paths.len(), expected.len(), "no undocumented or stale path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_preview_lists_a_corsican_departement_as_typed() {
    let app = TestApp::start().await;

    let (status, alone) = post(&app, &format!("{REGION}/preview"), &region_body("2A"), None).await;
    assert_eq!(status, 200);
    let in_2a = alone["matched"].as_u64().unwrap();
    assert!(in_2a > 0, "the demo base has contacts in Corse-du-Sud");

    let (status, preview) = post(
        &app,
        &format!("{REGION}/preview"),
        &region_body("2a;51"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let rows: Vec<(&str, u64)> = preview["per_prefix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["prefix"].as_str().unwrap(),
                row["matched"].as_u64().unwrap(),
            )
        })
        .collect();
    let labels: Vec<&str> = rows.iter().map(|(prefix, _)| *prefix).collect();
    assert_eq!(labels, ["2A", "51"], "{preview}");
    assert_eq!(rows[0].1, in_2a);
}

/// A misspelt field would otherwise run with the defaults (France, the
/// commercial role) on real data, so it is rejected, as is a value that is
/// not a string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_body_fields_are_rejected() {
    let app = TestApp::start().await;
    let batches_before = app.batch_count();

    let (status, typo) = post(
        &app,
        REGION,
        &json!({"to": "QT", "postal": "51", "roles": "both"}),
        None,
    )
    .await;
    let (typed_status, typed) = post(
        &app,
        "/api/v1/reassignments",
        &json!({"from": "QT", "to": 5}),
        None,
    )
    .await;
    let (array_status, array) = post(&app, REGION, &json!(["QT", "51"]), None).await;
    let twice = app
        .api(
            Method::POST,
            "/api/v1/reassignments",
            Some(&app.admin_token),
        )
        .header("content-type", "application/json")
        .body(r#"{"from": "QT", "to": "QU", "from": "QA"}"#)
        .send()
        .await
        .unwrap();
    let twice_status = twice.status().as_u16();
    let twice = json(twice).await;

    assert_eq!(status, 422, "{typo}");
    assert_eq!(typo["code"], "unknown_field");
    assert_eq!(
        typo["message"],
        "corps de la requête : champ « roles » inconnu ; les champs acceptés sont « to », « country », « postal », « role »"
    );
    assert_eq!(typed_status, 422, "{typed}");
    assert_eq!(typed["field"], "to");
    assert_eq!(
        typed["message"],
        "champ « to » : attendu une chaîne de caractères entre guillemets, reçu 5"
    );
    assert_eq!(array_status, 422, "{array}");
    assert_eq!(array["code"], "invalid_json");
    assert_eq!(twice_status, 422, "{twice}");
    assert_eq!(twice["field"], "from");
    assert_eq!(
        twice["message"],
        "corps de la requête : champ « from » donné deux fois ; gardez-en un seul"
    );
    assert_eq!(app.batch_count(), batches_before, "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_gets_a_french_answer() {
    let app = TestApp::start().await;

    let api = app
        .api(Method::DELETE, "/api/v1/batches/1", Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    let page = reqwest::get(app.url("/logout")).await.unwrap();

    assert_eq!(api.status(), 405);
    let body = json(api).await;
    assert_eq!(body["code"], "method_not_allowed");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/api/v1/openapi.json"),
        "{body}"
    );
    assert_eq!(page.status(), 405);
    let html = crate::support::unescape(&page.text().await.unwrap());
    assert!(
        html.contains("utilisez le bouton « Se déconnecter »"),
        "{html}"
    );
    // A form sent to a page that only shows gets the opposite message.
    let admin = app.logged_in("QA").await;
    let form = app.page(&admin, "/admin/reassign-region").await;
    let csrf = crate::support::hidden_field(&form, "csrf_token").unwrap();
    let posted = admin
        .post(app.url("/admin/reassign-region/preview"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 405);
    let html = crate::support::unescape(&posted.text().await.unwrap());
    assert!(
        html.contains("Cette adresse ne reçoit pas de formulaire : elle s'ouvre directement"),
        "{html}"
    );
    // Another method, to an address that takes forms by POST, gets a
    // third message.
    let put = admin
        .put(app.url("/admin/reassign-region"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    let html = crate::support::unescape(&put.text().await.unwrap());
    assert!(
        html.contains("Cette adresse n'accepte pas cette méthode"),
        "{html}"
    );
}

/// An address whose escapes are not text gets a French 400, as JSON with
/// a request id on the API and as a page on the screens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_path_gets_a_french_answer() {
    let app = TestApp::start().await;

    let api = app
        .api(Method::GET, "/api/v1/contacts/%FF", Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    let page = reqwest::get(app.url("/contacts/%FF")).await.unwrap();

    assert_eq!(api.status(), 400);
    let body = json(api).await;
    assert_eq!(body["code"], "invalid_path");
    assert!(body["request_id"].is_string(), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("adresse illisible"),
        "{body}"
    );
    assert_eq!(page.status(), 400);
    let html = crate::support::unescape(&page.text().await.unwrap());
    assert!(html.contains("Adresse illisible"), "{html}");
    assert!(!html.contains("Invalid URL"), "{html}");

    // A NUL quoted back from the address is not written into the page.
    let client = app.logged_in("QA").await;
    let nul = client
        .get(app.url("/admin/batches/1%00/export.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(nul.status(), 400);
    let html = nul.text().await.unwrap();
    assert!(!html.contains('\0'), "{html:?}");
    assert!(html.contains("1\u{FFFD}"), "{html}");

    // Nor does a page that echoes a field's value in its error.
    let filter = client
        .get(app.url("/contacts?owner=%00"))
        .send()
        .await
        .unwrap();
    assert_eq!(filter.status(), 422);
    let html = filter.text().await.unwrap();
    assert!(!html.contains('\0'), "{html:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_preview_equals_the_run() {
    let app = TestApp::start().await;

    let (status, preview) = post(
        &app,
        &format!("{REGION}/preview"),
        &region_body("51;02"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let matched = preview["matched"].as_u64().unwrap();
    assert!(matched > 0);
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["batch_id"], Value::Null);
    assert_eq!(preview["to"], "QT");
    assert_eq!(preview["role"], "commercial");
    let per_prefix: u64 = preview["per_prefix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["matched"].as_u64().unwrap())
        .sum();
    assert!(
        per_prefix >= matched,
        "each contact is counted under at least one prefix"
    );

    let response = app
        .api(Method::POST, REGION, Some(&app.admin_token))
        .header("Idempotency-Key", "region-run-1")
        .json(&region_body("51;02"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let run = json(response).await;

    assert_eq!(run["changed"], preview["changed"]);
    assert_eq!(run["matched"], preview["matched"]);
    assert_eq!(run["commercial"], preview["commercial"]);
    assert_eq!(run["replayed"], false);
    let batch_id = run["batch_id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/v1/batches/{batch_id}"));
    let (status, batch) = get(&app, &location).await;
    assert_eq!(status, 200);
    assert_eq!(batch["kind"], "reassign_region");
    assert_eq!(batch["changed"], run["changed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_preview_equals_the_run() {
    let app = TestApp::start().await;

    let (status, preview) = post(
        &app,
        "/api/v1/reassignments/preview",
        &json!({"from": "JD", "to": "QT"}),
        None,
    )
    .await;
    let (run_status, run) = post(
        &app,
        "/api/v1/reassignments",
        &json!({"from": "JD", "to": "QT"}),
        Some("user-run"),
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(run_status, 201);
    assert!(preview["changed"].as_u64().unwrap() > 0);
    for field in [
        "matched",
        "changed",
        "already_owned",
        "history_entries",
        "commercial",
        "technical",
    ] {
        assert_eq!(run[field], preview[field], "{field}");
    }
    assert_eq!(run["from"], "JD");
    assert_eq!(run["to"], "QT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_idempotency_key_runs_once() {
    let app = TestApp::start().await;
    let batches_before = app.batch_count();

    let (first_status, first) = post(&app, REGION, &region_body("51"), Some("retry-me")).await;
    let (second_status, second) = post(&app, REGION, &region_body("51"), Some("retry-me")).await;
    let (other_status, other) = post(&app, REGION, &region_body("02"), Some("retry-me")).await;

    assert_eq!(first_status, 201);
    assert_eq!(second_status, 200);
    assert_eq!(second["replayed"], true);
    assert_eq!(second["batch_id"], first["batch_id"]);
    assert_eq!(second["changed"], first["changed"]);
    assert_eq!(
        other_status, 409,
        "a key reused with other parameters is refused"
    );
    assert_eq!(other["code"], "idempotency_key_reused");
    let message = other["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("« retry-me »"),
        "quotes the key as sent: {message}"
    );
    assert!(!message.contains("user-"), "{message}");
    assert_eq!(app.batch_count(), batches_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_two_users_never_meet() {
    let app = TestApp::start().await;
    let qt = app.store.find_user("QT").unwrap().unwrap();
    app.store.set_user_active(qt.id, true).unwrap();
    let second_admin = {
        let store = app.store.clone();
        tokio::task::spawn_blocking(move || {
            let user = relais::service::users::add_user(
                store.as_ref(),
                &relais::service::users::UserForm {
                    initials: "QB".into(),
                    last_name: "Bis".into(),
                    admin: true,
                    ..Default::default()
                },
            )
            .unwrap();
            relais::service::tokens::create_api_token(store.as_ref(), &user, "tests").unwrap()
        })
        .await
        .unwrap()
    };

    let (first, _) = post(&app, REGION, &region_body("51"), Some("shared-key")).await;
    let response = app
        .api(Method::POST, REGION, Some(&second_admin))
        .header("Idempotency-Key", "shared-key")
        .json(&region_body("02"))
        .send()
        .await
        .unwrap();

    assert_eq!(first, 201);
    assert_eq!(response.status(), 201, "the second user's run is its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_code_message_and_field() {
    let app = TestApp::start().await;

    let (status, bad_postal) =
        post(&app, &format!("{REGION}/preview"), &region_body("5_"), None).await;
    assert_eq!(status, 422);
    assert_eq!(bad_postal["code"], "invalid_postal");
    assert_eq!(bad_postal["field"], "postal");
    assert!(
        bad_postal["message"]
            .as_str()
            .unwrap()
            .starts_with("code postal : « 5_ »")
    );
    assert!(bad_postal["request_id"].is_string());

    let (status, unknown) = post(
        &app,
        "/api/v1/reassignments/preview",
        &json!({"from": "JD", "to": "ZZZ"}),
        None,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(unknown["code"], "unknown_user");
    assert_eq!(unknown["field"], "to");

    let (status, missing) = post(&app, "/api/v1/reassignments/preview", &json!({}), None).await;
    assert_eq!(status, 422);
    assert_eq!(missing["code"], "missing_user");
    // An API client types its users, unlike the screens' lists.
    assert_eq!(
        missing["message"],
        "de : indiquez un utilisateur (initiales, identifiant ou e-mail)"
    );

    let response = app
        .api(
            Method::POST,
            "/api/v1/reassignments/preview",
            Some(&app.admin_token),
        )
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["code"], "invalid_json");

    // A body not declared as JSON, as `curl -d` sends it.
    for (content_type, received) in [
        (None, "l'en-tête « Content-Type » manque"),
        (
            Some("application/x-www-form-urlencoded"),
            "l'en-tête « Content-Type » vaut « application/x-www-form-urlencoded »",
        ),
    ] {
        let mut request = app.api(
            Method::POST,
            "/api/v1/reassignments/preview",
            Some(&app.admin_token),
        );
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request
            .body(r#"{"from": "JD", "to": "BB"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        let answer = json(response).await;
        assert_eq!(answer["code"], "unsupported_media_type");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(received), "{message}");
        assert!(
            message.contains("-H 'Content-Type: application/json'"),
            "{message}"
        );
    }

    let (status, no_batch) = get(&app, "/api/v1/batches/999999").await;
    assert_eq!(status, 404);
    assert_eq!(no_batch["code"], "unknown_batch");

    let (status, bad_id) = get(&app, "/api/v1/batches/douze").await;
    assert_eq!(status, 400);
    assert_eq!(bad_id["code"], "invalid_batch_id");

    let (status, zero_id) = get(&app, "/api/v1/batches/0").await;
    assert_eq!(status, 400);
    assert_eq!(zero_id["code"], "invalid_batch_id");
    let message = zero_id["message"].as_str().unwrap();
    assert!(message.contains("à partir de 1"), "{message}");

    let (status, unknown_path) = get(&app, "/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(unknown_path["code"], "not_found");
    for other_version in ["/api/v2/contacts", "/api"] {
        let (status, answer) = get(&app, other_version).await;
        assert_eq!(status, 404, "{other_version}");
        assert_eq!(
            answer["code"], "not_found",
            "{other_version}: JSON, not the page"
        );
    }

    let (status, bad_key) = post(&app, REGION, &region_body("51"), Some(&"x".repeat(101))).await;
    assert_eq!(status, 400);
    assert_eq!(bad_key["code"], "invalid_idempotency_key");
    let message = bad_key["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "en-tête Idempotency-Key « {}… » invalide : donnez de 1 à 100 caractères",
            "x".repeat(40)
        )),
        "the API names its header, not a form: {message}"
    );
    let batches_before = app.batch_count();
    let (status, empty_key) = post(&app, REGION, &region_body("51"), Some("")).await;
    assert_eq!(
        status, 400,
        "an empty key is not a missing one: {empty_key}"
    );
    assert_eq!(empty_key["code"], "invalid_idempotency_key");
    assert_eq!(app.batch_count(), batches_before);

    let twice = app
        .api(Method::POST, REGION, Some(&app.admin_token))
        .header("Idempotency-Key", "first-key")
        .header("Idempotency-Key", "second-key")
        .json(&region_body("51"))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    let twice = json(twice).await;
    assert_eq!(twice["code"], "invalid_idempotency_key");
    assert_eq!(
        twice["message"],
        "en-tête Idempotency-Key donné plusieurs fois : envoyez-en un seul"
    );
    assert_eq!(app.batch_count(), batches_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_restores_and_refuses_a_second_undo() {
    let app = TestApp::start().await;
    let (_, run) = post(&app, REGION, &region_body("51;02"), None).await;
    let batch_id = run["batch_id"].as_i64().unwrap();

    let (status, undo) = post(
        &app,
        &format!("/api/v1/batches/{batch_id}/undo"),
        &json!({}),
        None,
    )
    .await;
    let (again_status, again) = post(
        &app,
        &format!("/api/v1/batches/{batch_id}/undo"),
        &json!({}),
        None,
    )
    .await;

    assert_eq!(status, 201);
    assert_eq!(undo["changed"], run["changed"]);
    assert_eq!(undo["undone_batch"], batch_id);
    assert_eq!(undo["skipped"], json!([]));
    let given_back: u64 = undo["returns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|owner_return| owner_return["contacts"].as_u64().unwrap())
        .sum();
    assert_eq!(given_back, run["changed"].as_u64().unwrap());
    assert_eq!(again_status, 409);
    assert_eq!(again["code"], "batch_already_undone");
    let (_, list) = get(&app, "/api/v1/batches").await;
    let batches = list["batches"].as_array().unwrap();
    assert_eq!(list["total"], app.batch_count(), "the list gives its total");
    assert_eq!(batches[0]["undoes"], batch_id);
    assert_eq!(batches[1]["undone_by"], batches[0]["id"]);
    assert_eq!(batches[0]["skipped_contacts"], undo["skipped_contacts"]);

    // Once the undo is itself undone, the batch's undo page shows that its
    // changes are back and which operation to undo, with no button.
    let undo_id = undo["batch_id"].as_i64().unwrap();
    let (redo_status, redo) = post(
        &app,
        &format!("/api/v1/batches/{undo_id}/undo"),
        &json!({}),
        None,
    )
    .await;
    assert_eq!(redo_status, 201);
    let redo_id = redo["batch_id"].as_i64().unwrap();
    let client = app.logged_in("QA").await;
    let page = crate::support::unescape(
        &app.page(&client, &format!("/admin/batches/{batch_id}/undo"))
            .await,
    );
    assert!(
        page.contains(&format!(
            "L'opération n° {batch_id} a déjà été annulée par l'opération n° {undo_id}, mais \
             l'opération n° {redo_id} a rétabli ses changements ; pour les retirer de nouveau, \
             annulez l'opération n° {redo_id}."
        )),
        "{page}"
    );
    assert!(!page.contains("Confirmer l'annulation"), "{page}");

    // A contact's history names the batch its undo entry cancelled.
    let (_, contacts) = get(&app, &format!("/api/v1/batches/{batch_id}/contacts")).await;
    let contact = contacts["contacts"][0]["id"].as_i64().unwrap();
    let (_, history) = get(&app, &format!("/api/v1/contacts/{contact}/history")).await;
    // Latest first: the redo, which cancelled the undo, then the undo.
    assert_eq!(history[0]["kind"], "undo");
    assert_eq!(history[0]["undoes"], undo_id);
    assert_eq!(history[1]["kind"], "undo");
    assert_eq!(history[1]["undoes"], batch_id);
    assert!(
        history[1]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("(de l'opération n° {batch_id})")),
        "{}",
        history[1]
    );
}

/// An undo takes no field: a malformed or unexpected body is refused and
/// undoes nothing, while an empty body or `{}` is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_refuses_a_body_it_does_not_take() {
    let app = TestApp::start().await;
    let (_, run) = post(&app, REGION, &region_body("51;02"), None).await;
    let batch_id = run["batch_id"].as_i64().unwrap();
    let path = format!("/api/v1/batches/{batch_id}/undo");
    let send = |body: &'static str| {
        app.api(Method::POST, &path, Some(&app.admin_token))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };

    let batches_before = app.batch_count();

    let malformed = send("{not json at all").await.unwrap();
    let (malformed_status, malformed) = (malformed.status().as_u16(), json(malformed).await);
    let unknown = send("{\"x\": 1}").await.unwrap();
    let (unknown_status, unknown) = (unknown.status().as_u16(), json(unknown).await);

    assert_eq!(malformed_status, 400);
    assert_eq!(malformed["code"], "invalid_json");
    assert_eq!(unknown_status, 422);
    assert_eq!(unknown["code"], "unknown_field");
    assert!(unknown["message"].as_str().unwrap().contains("« x »"));
    assert_eq!(app.batch_count(), batches_before, "nothing undone");
    assert!(!app.store.batch(batch_id).unwrap().unwrap().undone);
    let empty = send("").await.unwrap();
    assert_eq!(empty.status().as_u16(), 201);
    assert!(app.store.batch(batch_id).unwrap().unwrap().undone);
}

/// The undo preview announces the counts the undo then reports, changes
/// nothing, and is refused with the undo's own errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_preview_matches_the_undo() {
    let app = TestApp::start().await;
    let (_, run) = post(&app, REGION, &region_body("51;02"), None).await;
    let batch_id = run["batch_id"].as_i64().unwrap();
    let preview_path = format!("/api/v1/batches/{batch_id}/undo/preview");

    // A body with content must be declared JSON, as for the calls with
    // fields; an empty one may come with any type, or none.
    for (content_type, body, expected) in [
        (Some("text/plain"), "{}", 415),
        (None, "hello", 415),
        (Some("text/plain"), "", 200),
        (None, "", 200),
    ] {
        let mut request = app.api(Method::POST, &preview_path, Some(&app.admin_token));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.body(body).send().await.unwrap();
        assert_eq!(response.status(), expected, "{content_type:?} {body:?}");
    }
    let (_, list_before_preview) = get(&app, "/api/v1/batches").await;
    let (status, preview) = post(&app, &preview_path, &json!({}), None).await;
    let (_, list_after_preview) = get(&app, "/api/v1/batches").await;
    let (_, undo) = post(
        &app,
        &format!("/api/v1/batches/{batch_id}/undo"),
        &json!({}),
        None,
    )
    .await;
    let (again_status, again) = post(&app, &preview_path, &json!({}), None).await;
    let (unknown_status, unknown) = post(
        &app,
        "/api/v1/batches/999999/undo/preview",
        &json!({}),
        None,
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["undone_batch"], batch_id);
    assert!(preview["changed"].as_u64().unwrap() > 0, "{preview}");
    for count in ["matched", "changed", "already_owned", "history_entries"] {
        assert_eq!(preview[count], undo[count], "{count}");
    }
    let returned: u64 = preview["returns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|owner_return| owner_return["contacts"].as_u64().unwrap())
        .sum();
    assert_eq!(returned, preview["history_entries"].as_u64().unwrap());
    assert_eq!(preview["skipped"], json!([]));
    assert_eq!(
        list_after_preview, list_before_preview,
        "a preview records nothing"
    );
    assert_eq!(again_status, 409);
    assert_eq!(again["code"], "batch_already_undone");
    assert_eq!(unknown_status, 404);
    assert_eq!(
        unknown["code"], "unknown_batch",
        "an undo of an unknown batch fails as reading the batch does"
    );
    assert!(
        unknown["message"]
            .as_str()
            .unwrap()
            .ends_with(" ; le journal des opérations donne leurs numéros (relais batches, ou GET /api/v1/batches)"),
        "the message says where numbers are listed: {unknown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_by_id_and_external_id() {
    let app = TestApp::start().await;
    let (_, run) = post(&app, REGION, &region_body("51;02"), None).await;
    let batch_id = run["batch_id"].as_i64().unwrap();

    let (status, owned) = get(&app, "/api/v1/contacts?owner=QT&limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(owned["total"], run["changed"]);
    assert_eq!(owned["contacts"].as_array().unwrap().len(), 3);
    let contact_id = owned["contacts"][0]["id"].as_i64().unwrap();
    let (status, history) = get(&app, &format!("/api/v1/contacts/{contact_id}/history")).await;

    assert_eq!(status, 200);
    let entry = &history[0];
    assert_eq!(entry["kind"], "reassign_region");
    assert_eq!(entry["role"], "commercial");
    assert_eq!(entry["new_owner"], "QT");
    assert_eq!(entry["batch_id"], batch_id);
    assert_eq!(entry["actor"], "Quentin ADMIN (QA)");
    assert!(
        entry["message"]
            .as_str()
            .unwrap()
            .contains("réaffectation par région")
    );
    let creation = history.as_array().unwrap().last().unwrap();
    assert_eq!(creation["kind"], "created");
    assert!(creation["batch_id"].is_i64(), "{creation}");
    let (status, missing) = get(&app, "/api/v1/contacts/absent-42/history").await;
    assert_eq!(status, 404);
    assert_eq!(missing["code"], "unknown_contact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_filter_and_paginate() {
    let app = TestApp::start().await;

    let (_, all) = get(&app, "/api/v1/contacts?limit=10&offset=5").await;
    let (_, marne) = get(&app, "/api/v1/contacts?departement=51").await;
    let (_, prefixes) = get(&app, "/api/v1/contacts?country=FRA&postal=51").await;
    let (_, text) = get(&app, "/api/v1/contacts?q=Boulangerie&limit=500").await;
    let (status, bad) = get(&app, "/api/v1/contacts?departement=99").await;
    let (word_status, word) = get(&app, "/api/v1/contacts?limit=beaucoup").await;

    assert_eq!(all["total"], 400);
    assert_eq!(all["contacts"].as_array().unwrap().len(), 10);
    assert_eq!(all["contacts"][0]["id"], 6);
    assert!(marne["total"].as_u64().unwrap() > 0);
    assert_eq!(marne["total"], prefixes["total"]);
    for contact in text["contacts"].as_array().unwrap() {
        assert!(contact["company"].as_str().unwrap().contains("Boulangerie"));
    }
    assert_eq!(status, 422);
    assert_eq!(bad["field"], "departement");
    assert_eq!(word_status, 400);
    assert_eq!(word["field"], "limit");
    assert!(word["message"].as_str().unwrap().contains("« beaucoup »"));
}

/// A page larger than the largest one, or empty, is refused with the
/// accepted range, rather than cut to a page the client would take for
/// the end of the list.
#[tokio::test]
async fn page_out_of_range_rejected() {
    let app = TestApp::start().await;

    let (big_status, big) = get(&app, "/api/v1/contacts?limit=501").await;
    let (zero_status, zero) = get(&app, "/api/v1/batches?limit=0").await;
    let (offset_status, offset) = get(&app, "/api/v1/contacts?offset=-3").await;
    let (largest_status, largest) = get(&app, "/api/v1/contacts?limit=500").await;

    assert_eq!(big_status, 400);
    assert_eq!(big["code"], "invalid_query");
    assert_eq!(big["field"], "limit");
    let message = big["message"].as_str().unwrap();
    assert!(
        message.contains("501") && message.contains("de 1 à 500"),
        "{message}"
    );
    assert_eq!(zero_status, 400);
    assert_eq!(zero["field"], "limit");
    assert_eq!(offset_status, 400);
    assert_eq!(offset["field"], "offset");
    assert!(offset["message"].as_str().unwrap().contains("« -3 »"));
    assert_eq!(largest_status, 200);
    assert_eq!(largest["contacts"].as_array().unwrap().len(), 400);
}

/// A misspelt filter is refused rather than ignored, which would list
/// every contact as if no filter were asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_query_parameter_is_refused() {
    let app = TestApp::start().await;

    let (status, typo) = get(&app, "/api/v1/contacts?ownr=QT").await;
    let (batches_status, _) = get(&app, "/api/v1/batches?page=2").await;
    let (known_status, _) = get(&app, "/api/v1/contacts?owner=QT&limit=5&q=a").await;
    let (twice_status, twice) = get(&app, "/api/v1/contacts?owner=QT&owner=QU").await;

    assert_eq!(status, 400);
    assert_eq!(typo["code"], "invalid_query");
    let message = typo["message"].as_str().unwrap();
    assert!(
        message.contains("« ownr » inconnu") && message.contains("« owner »"),
        "{message}"
    );
    assert_eq!(batches_status, 400);
    assert_eq!(known_status, 200);
    assert_eq!(twice_status, 400);
    assert!(
        twice["message"]
            .as_str()
            .unwrap()
            .contains("« owner » donné deux fois"),
        "{twice}"
    );
}

/// `20`, as in the region form, selects all of Corsica: both
/// départements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departement_20_lists_all_of_corsica() {
    let app = TestApp::start().await;

    let (status, corsica) = get(&app, "/api/v1/contacts?departement=20").await;
    let (_, south) = get(&app, "/api/v1/contacts?departement=2A").await;
    let (_, north) = get(&app, "/api/v1/contacts?departement=2B").await;

    assert_eq!(status, 200, "{corsica}");
    let total = |page: &Value| page["total"].as_u64().unwrap();
    assert!(total(&south) > 0);
    assert!(total(&north) > 0);
    assert_eq!(total(&corsica), total(&south) + total(&north));
}

/// Imports two contacts whose companies carry a ligature, accents and a
/// `%`, which the demo base has none of.
fn import_search_contacts(app: &TestApp) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("recherche.csv");
    std::fs::write(
        &path,
        "source_id;Nom;Prénom;Société\n\
         web-oeuvre;Zyxa;Hélène;Œuvre Éphémère\n\
         web-bio;Zyxb;Noël;100% Bio\n",
    )
    .expect("write CSV");
    let report = import_file(
        app.store.as_ref(),
        &path,
        &ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: false,
            actor: Actor::system("tests"),
        },
        &mut |_| {},
    )
    .expect("import");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_search_ignores_case_and_accents() {
    let app = TestApp::start().await;
    import_search_contacts(&app);

    let (_, folded) = get(&app, "/api/v1/contacts?q=OEUVRE%20ephemere").await;
    let (_, accented) = get(&app, "/api/v1/contacts?q=%C5%93uvre%20%C3%A9ph").await;
    let (_, percent) = get(&app, "/api/v1/contacts?q=100%25").await;
    let client = app.logged_in("QA").await;
    let page = app.page(&client, "/contacts?q=%C5%92UVRE+EPHEMERE").await;

    assert_eq!(folded["total"], 1);
    assert_eq!(folded["contacts"][0]["company"], "Œuvre Éphémère");
    assert_eq!(accented["total"], 1);
    assert_eq!(percent["total"], 1);
    assert_eq!(percent["contacts"][0]["company"], "100% Bio");
    assert!(
        page.contains("Œuvre Éphémère"),
        "screen search lacks the contact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_matching_nothing_records_no_batch() {
    let app = TestApp::start().await;
    let batches_before = app.batch_count();

    let (status, run) = post(&app, REGION, &region_body("51999"), Some("nothing")).await;

    assert_eq!(status, 200);
    assert_eq!(run["matched"], 0);
    assert_eq!(run["batch_id"], Value::Null);
    assert_eq!(run["replayed"], false);
    assert_eq!(app.batch_count(), batches_before);

    // The key is kept all the same: a retry replays the empty result, and
    // another operation cannot reuse it.
    let (status, again) = post(&app, REGION, &region_body("51999"), Some("nothing")).await;
    assert_eq!(status, 200);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["batch_id"], Value::Null);
    let (status, other) = post(&app, REGION, &region_body("02"), Some("nothing")).await;
    assert_eq!(status, 409, "{other}");
    assert_eq!(other["code"], "idempotency_key_reused");
    assert_eq!(app.batch_count(), batches_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_me() {
    let app = TestApp::start().await;

    let (status, users) = get(&app, "/api/v1/users").await;
    let (_, me) = get(&app, "/api/v1/me").await;

    assert_eq!(status, 200);
    let users = users.as_array().unwrap();
    assert!(
        users
            .iter()
            .any(|user| user["initials"] == "PL" && user["active"] == false)
    );
    assert_eq!(me["initials"], "QA");
    assert_eq!(me["role"], "admin");
}

/// A body over the size limits gets 413 with the limit and a fix: 2 MiB
/// for the API, 64 KiB for a form of the screens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_name_the_limit() {
    let app = TestApp::start().await;
    let codes = vec!["51100"; 400_000].join(";");
    let response = app
        .api(
            Method::POST,
            &format!("{REGION}/preview"),
            Some(&app.admin_token),
        )
        .json(&region_body(&codes))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body = json(response).await;
    assert_eq!(body["code"], "body_too_large");
    assert!(
        body["message"].as_str().unwrap().contains("plus de 2 Mio"),
        "{body}"
    );

    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    let token = crate::support::hidden_field(&form, "csrf_token").unwrap();
    let postal = vec!["51100"; 12_000].join(";");
    let page = client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", postal.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 413);
    let html = crate::support::unescape(&crate::support::text(page).await);
    assert!(
        html.contains("Formulaire trop volumineux : plus de 64 Kio, la taille maximale."),
        "{html}"
    );
    assert!(!html.contains("Erreur du serveur"), "{html}");

    // The undo call reads its body as bytes, under the same limit.
    let undo = app
        .api(
            Method::POST,
            "/api/v1/batches/1/undo",
            Some(&app.admin_token),
        )
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(undo.status(), 413);
    assert_eq!(json(undo).await["code"], "body_too_large");
}

/// A number too large for its field is called too large, with the maximum,
/// rather than not a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_numbers_say_so() {
    let app = TestApp::start().await;

    let (status, body) = get(&app, "/api/v1/batches?offset=99999999999").await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "offset");
    assert_eq!(
        body["message"],
        "offset : « 99999999999 » est trop grand ; offset vaut au plus 4\u{202f}294\u{202f}967\u{202f}295"
    );
    let (status, body) = get(&app, "/api/v1/batches/99999999999999999999").await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("est trop grand pour un numéro d'opération"),
        "{body}"
    );
}

/// Sends `body` as JSON text to the region preview.
async fn post_text(app: &TestApp, body: &'static [u8]) -> (u16, Value) {
    let response = app
        .api(
            Method::POST,
            &format!("{REGION}/preview"),
            Some(&app.admin_token),
        )
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, json(response).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_body_with_bom_is_read() {
    let app = TestApp::start().await;

    let (status, with_bom) = post_text(
        &app,
        "\u{feff}{\"to\": \"QT\", \"postal\": \"51\"}".as_bytes(),
    )
    .await;
    let (_, without_bom) = post(&app, &format!("{REGION}/preview"), &region_body("51"), None).await;

    assert_eq!(status, 200, "{with_bom}");
    assert_eq!(with_bom["matched"], without_bom["matched"]);
    assert!(with_bom["matched"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gives_line_and_fix() {
    let app = TestApp::start().await;

    let (status, comma) = post_text(&app, b"{\"to\": \"QT\",\n \"postal\": \"51\",}").await;
    let (_, curly) = post_text(&app, "{“to”: “QT”}".as_bytes()).await;
    let (_, cut) = post_text(&app, b"{\"to\": \"QT\"").await;
    let (empty_status, empty) = post_text(&app, b"  ").await;
    let (_, accented) = post_text(&app, "{\"to\": \"« Zoé »\",}".as_bytes()).await;

    assert_eq!(status, 400);
    assert_eq!(comma["code"], "invalid_json");
    assert_eq!(
        comma["message"],
        "corps de la requête : JSON mal formé (ligne 2, colonne 17) ; vérifiez les guillemets droits autour des noms et des valeurs, les deux-points et les virgules"
    );
    let curly = curly["message"].as_str().unwrap();
    assert!(curly.contains("guillemets typographiques"), "{curly}");
    let cut = cut["message"].as_str().unwrap();
    assert!(
        cut.starts_with("corps de la requête : JSON incomplet (ligne 1, colonne 11)"),
        "{cut}"
    );
    assert_eq!(
        accented["message"],
        "corps de la requête : JSON mal formé (ligne 1, colonne 18) ; vérifiez les guillemets droits autour des noms et des valeurs, les deux-points et les virgules",
        "columns count characters, and quotes inside a value are no fault"
    );
    assert_eq!(empty_status, 422);
    assert_eq!(
        empty["message"],
        "corps de la requête : vide ; envoyez un objet JSON, par exemple {\"to\": \"…\", \"country\": \"…\", \"postal\": \"…\", \"role\": \"…\"}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_errors_list_every_field() {
    let app = TestApp::start().await;
    let batches_before = app.batch_count();

    let (status, region) = post(
        &app,
        REGION,
        &json!({"to": "ZZZ", "country": "Atlantide", "postal": "5_", "role": "chef"}),
        None,
    )
    .await;
    let (_, users) = post(
        &app,
        "/api/v1/reassignments",
        &json!({"from": "YYY", "to": "ZZZ"}),
        None,
    )
    .await;
    let (_, one) = post(&app, REGION, &region_body("5_"), None).await;
    let (mixed_status, mixed) = post(
        &app,
        &format!("{REGION}/preview"),
        &json!({"to": "ZZ", "postal": "2C", "role": 3, "roles": "both", "pays": "FRA"}),
        None,
    )
    .await;

    assert_eq!(status, 422);
    assert_eq!(region["code"], "unknown_user");
    assert_eq!(region["field"], "to");
    let listed = fields_and_codes(&region);
    assert_eq!(
        listed,
        [
            ("to", "unknown_user"),
            ("country", "unknown_country"),
            ("postal", "invalid_postal"),
            ("role", "invalid_role")
        ]
    );
    assert_eq!(region["errors"][0]["message"], region["message"]);
    assert!(
        region["errors"][3]["message"]
            .as_str()
            .unwrap()
            .contains("« chef »")
    );
    let user_fields: Vec<&str> = users["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(user_fields, ["from", "to"], "{users}");
    assert_eq!(one["errors"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(mixed_status, 422);
    let mixed_listed = fields_and_codes(&mixed);
    assert_eq!(
        mixed_listed,
        [
            ("body", "unknown_field"),
            ("role", "invalid_json"),
            ("body", "unknown_field"),
            ("to", "unknown_user"),
            ("postal", "invalid_postal")
        ],
        "the body's problems in its order (sent sorted by name), then the values' ones: {mixed}"
    );
    assert!(
        mixed["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("« pays »")
    );
    assert!(
        mixed["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("« roles »")
    );
    assert_eq!(app.batch_count(), batches_before, "nothing ran");
}

/// Returns the field and code of each entry of an error's `errors` list.
fn fields_and_codes(error: &Value) -> Vec<(&str, &str)> {
    error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["field"].as_str().unwrap(),
                entry["code"].as_str().unwrap(),
            )
        })
        .collect()
}
