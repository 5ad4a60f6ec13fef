//! The département filter of the contact list: the same choices and the
//! same matches on the screen and in the API, overseas included.

use reqwest::Method;
use serde_json::Value;

use relais::domain::batch::Actor;
use relais::domain::country::CountryCode;
use relais::service::import::{ImportRequest, import_file};

use crate::support::{TestApp, json};

/// Adds contacts of the overseas départements and collectivities, with the
/// countries CRM files give them.
fn add_overseas_contacts(app: &TestApp) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("overseas.csv");
    let rows = "source_id;Nom;Code postal pro;Ville pro;Pays pro\n\
        dom-reunion;Payet;97400;Saint-Denis;Réunion\n\
        dom-stbarth;Laplace;97133;Gustavia;Saint-Barthélemy\n\
        dom-stmartin;Fleming;97150;Marigot;MAF\n\
        dom-tahiti;Teriierooiterai;98714;Papeete;Polynésie française\n";
    std::fs::write(&path, rows).expect("write file");
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

async fn external_ids(app: &TestApp, query: &str) -> (u16, Vec<String>, Value) {
    let response = app
        .api(
            Method::GET,
            &format!("/api/v1/contacts?limit=500&{query}"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = json(response).await;
    let mut ids: Vec<String> = body["contacts"]
        .as_array()
        .map(|contacts| {
            contacts
                .iter()
                .filter_map(|contact| contact["external_id"].as_str())
                .filter(|id| id.starts_with("dom-"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    (status, ids, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overseas_departements_filter_their_contacts() {
    let app = TestApp::start().await;
    add_overseas_contacts(&app);

    let cases: [(&str, &[&str]); 5] = [
        ("departement=974", &["dom-reunion"]),
        ("departement=977", &["dom-stbarth"]),
        ("departement=978", &["dom-stmartin"]),
        ("departement=971", &["dom-stbarth", "dom-stmartin"]),
        ("departement=987", &["dom-tahiti"]),
    ];
    for (query, expected) in cases {
        let (status, ids, _) = external_ids(&app, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(ids, expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departement_without_postal_code_is_rejected() {
    let app = TestApp::start().await;

    let (status, _, body) = external_ids(&app, "departement=984").await;

    assert_eq!(status, 422);
    assert_eq!(body["code"], "departement_without_postal_code");
    assert_eq!(body["field"], "departement");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overseas_country_filter_names_the_fix() {
    let app = TestApp::start().await;

    let (status, _, body) = external_ids(&app, "country=REU").await;

    assert_eq!(status, 422);
    assert_eq!(body["code"], "overseas_country");
    assert_eq!(body["field"], "country");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("code postal 974"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picker_offers_only_matchable_departements() {
    let app = TestApp::start().await;
    add_overseas_contacts(&app);
    let client = app.logged_in("QA").await;

    let page = app.page(&client, "/contacts").await;
    let filtered = app.page(&client, "/contacts?departement=977").await;

    assert!(page.contains(r#"<option value="977">"#), "977 is offered");
    assert!(page.contains(r#"<option value="974">"#), "974 is offered");
    assert!(
        !page.contains(r#"<option value="984">"#),
        "984 has no postal code"
    );
    assert!(
        filtered.contains("Gustavia"),
        "the screen finds Saint-Barthélemy"
    );
    assert!(
        !filtered.contains("Marigot"),
        "the screen leaves Saint-Martin out"
    );
}

/// The contact list names a département as such, and an overseas
/// collectivity, which is not one, as a collectivity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collectivities_are_not_called_departements() {
    let app = TestApp::start().await;
    add_overseas_contacts(&app);
    let client = app.logged_in("QA").await;

    let tahiti = crate::support::unescape(&app.page(&client, "/contacts?departement=987").await);
    let reunion = crate::support::unescape(&app.page(&client, "/contacts?departement=974").await);

    assert!(
        tahiti.contains("collectivité 987 — Polynésie française"),
        "{tahiti}"
    );
    assert!(!tahiti.contains("dép. 987"), "{tahiti}");
    assert!(reunion.contains("dép. 974 — La Réunion"), "{reunion}");
}
