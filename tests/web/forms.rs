//! The screens' forms: CSRF protection, previews, Valider run once per
//! form, undo from the journal, CSV export and the users page.

use relais::storage::{ContactFilter, Page};

use crate::support::{
    DEMO_CONTACTS, PASSWORD, TestApp, data_changed, hidden_field, json, text, unescape,
};

/// Returns the region dialog's hidden fields, as a logged-in browser gets them.
async fn region_form(app: &TestApp, client: &reqwest::Client) -> (String, String) {
    let page = app.page(client, "/admin/reassign-region").await;
    let csrf = hidden_field(&page, "csrf_token").expect("CSRF field");
    let key = hidden_field(&page, "idempotency_key").expect("idempotency field");
    (csrf, key)
}

/// Returns the region preview the dialog requests with `fields`, as JSON
/// (`html` and `errors`), after checking that its status is 200.
async fn region_preview(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> serde_json::Value {
    let response = client
        .get(app.url("/admin/reassign-region/preview"))
        .query(fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    json(response).await
}

fn qt_contacts(app: &TestApp) -> u64 {
    let qt = app.store.find_user("QT").unwrap().unwrap();
    let filter = ContactFilter {
        owner: Some(qt.id),
        ..ContactFilter::default()
    };
    app.store
        .list_contacts(&filter, Page::first(1))
        .unwrap()
        .total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_post_is_refused() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    let fields = |token: Option<&str>| {
        let mut fields = vec![
            ("to", "QT".to_string()),
            ("country", "FRA".to_string()),
            ("postal", "51;02".to_string()),
            ("role", "commercial".to_string()),
            ("idempotency_key", key.clone()),
        ];
        if let Some(token) = token {
            fields.push(("csrf_token", token.to_string()));
        }
        fields
    };
    let batches_before = app.batch_count();

    let without_token = client
        .post(app.url("/admin/reassign-region"))
        .form(&fields(None))
        .send()
        .await
        .unwrap();
    let wrong_token = client
        .post(app.url("/admin/reassign-region"))
        .form(&fields(Some("0000")))
        .send()
        .await
        .unwrap();
    let other_origin = client
        .post(app.url("/admin/reassign-region"))
        .header("origin", "http://evil.example")
        .form(&fields(Some(&csrf)))
        .send()
        .await
        .unwrap();
    let cross_site = client
        .post(app.url("/admin/reassign-region"))
        .header("sec-fetch-site", "cross-site")
        .form(&fields(Some(&csrf)))
        .send()
        .await
        .unwrap();

    for (case, response) in [
        ("without token", without_token),
        ("wrong token", wrong_token),
        ("other origin", other_origin),
        ("cross-site fetch", cross_site),
    ] {
        assert_eq!(response.status(), 403, "{case}");
        assert!(
            text(response).await.contains("Requête refusée"),
            "{case} shows why"
        );
    }
    assert_eq!(app.batch_count(), batches_before, "nothing ran");
    assert_eq!(qt_contacts(&app), 0, "no contact moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_of_another_session_is_refused() {
    let app = TestApp::start().await;
    let admin = app.logged_in("QA").await;
    let other = app.logged_in("QA").await;
    let (other_csrf, key) = region_form(&app, &other).await;

    let response = admin
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("postal", "51"),
            ("idempotency_key", &key),
            ("csrf_token", &other_csrf),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_post_is_accepted() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;

    let response = client
        .post(app.url("/admin/reassign-region"))
        .header("origin", app.base.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", "51;02"),
            ("role", "commercial"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let response = app.follow(&client, response).await;
    assert_eq!(response.status(), 200);
    assert!(text(response).await.contains("appliquée"));
}

/// A region dialog previewed for thousands of postal codes can still be
/// sent: its preview records a digest of the parameters, not the list
/// again, so the form stays within its size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_postal_list_previewed_then_sent() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let codes: Vec<String> = (0..6_000)
        .map(|index| format!("{:02}{:03}", 1 + index % 95, index % 1_000))
        .collect();
    let postal = codes.join(";");

    let fields = previewed_region(&app, &client, &postal).await;
    let page = submit_previewed(&app, &client, &postal, &fields).await;

    assert_eq!(fields.1.len(), 64, "a digest, whatever the list");
    assert!(
        postal.len() > 32 * 1024,
        "the list alone is over half the limit"
    );
    assert!(
        page.contains("appliquée"),
        "the form was accepted and ran: {page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_preview_matches_the_run() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    let fields = [
        ("to", "QT"),
        ("country", "FRA"),
        ("postal", "51;02"),
        ("role", "commercial"),
    ];
    let preview = region_preview(&app, &client, &fields).await;
    let html = &unescape(preview["html"].as_str().unwrap());
    let expected = data_changed(html).expect("preview count");
    assert!(expected > 0, "the demo base has contacts in 51 and 02");
    assert!(html.contains("51 — Marne"));
    assert!(html.contains("02 — Aisne"));
    // « en » fits France but not Luxembourg or the Netherlands, so the
    // country is named without a preposition.
    assert!(
        html.contains("dans le pays France (FRA), codes postaux « 51;02 »,"),
        "{html}"
    );
    assert_eq!(preview["errors"], serde_json::json!({}));

    let (csrf, key) = region_form(&app, &client).await;
    let result = client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", "51;02"),
            ("role", "commercial"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let result = app.follow(&client, result).await;
    assert_eq!(result.status(), 200);
    let page = text(result).await;

    assert_eq!(data_changed(&page), Some(expected));
    assert!(page.contains("appliquée"));
    assert!(page.contains("contacts concernés"));
    assert!(page.contains("contacts réaffectés"));
    assert_eq!(qt_contacts(&app), expected);
    assert!(html.contains("Exemples de contacts à réaffecter"), "{html}");

    // After the run, the same preview changes nothing. Its examples are
    // contacts the target already has, and the title states it.
    let again = region_preview(&app, &client, &fields).await;
    let again = unescape(again["html"].as_str().unwrap());
    assert!(
        again.contains("Exemples de contacts déjà affectés, qui ne changeraient pas"),
        "{again}"
    );
}

/// The live preview's sentence names the target, the role, the country
/// and the codes it counts for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_preview_names_role_and_codes() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    let preview = json(
        client
            .get(app.url("/admin/reassign-region/preview"))
            .query(&[
                ("to", "QT"),
                ("country", "FRA"),
                ("postal", "51 ; 2a,"),
                ("role", "both"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;

    let html = unescape(preview["html"].as_str().unwrap());
    assert!(
        html.contains(
            "Si vous validez, les contacts ayant une adresse dans le pays France (FRA), codes \
             postaux « 51;2A », passent à Théo TARGET (QT) comme responsables commercial et \
             technique : <strong>"
        ),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_reports_field_errors() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    let bad_postal = json(
        client
            .get(app.url("/admin/reassign-region/preview"))
            .query(&[("to", "QT"), ("country", "FRA"), ("postal", "5%")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let bad_country = json(
        client
            .get(app.url("/admin/reassign-region/preview"))
            .query(&[("to", "QT"), ("country", "Atlantide"), ("postal", "51")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let inactive_target = json(
        client
            .get(app.url("/admin/reassign/preview"))
            .query(&[("from", "JD"), ("to", "PL")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let incomplete = json(
        client
            .get(app.url("/admin/reassign/preview?from=JD"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let both_wrong = json(
        client
            .get(app.url("/admin/reassign/preview"))
            .query(&[("from", "ZZ"), ("to", "PL")])
            .send()
            .await
            .unwrap(),
    )
    .await;

    // The script writes these messages as text, so they come typeset
    // with French no-break spaces, like the rendered pages.
    let postal_message = bad_postal["errors"]["postal"].as_str().unwrap();
    assert!(
        postal_message.contains("«\u{a0}5%\u{a0}»"),
        "{postal_message}"
    );
    assert!(
        !postal_message.contains(" :") && !postal_message.contains(" ;"),
        "{postal_message}"
    );
    assert!(
        bad_country["errors"]["country"]
            .as_str()
            .unwrap()
            .contains("Atlantide")
    );
    assert!(
        inactive_target["errors"]["to"]
            .as_str()
            .unwrap()
            .contains("est désactivé")
    );
    assert_eq!(incomplete["errors"], serde_json::json!({}));
    assert!(incomplete["html"].as_str().unwrap().contains("Choisissez"));
    assert!(
        both_wrong["errors"]["from"]
            .as_str()
            .unwrap()
            .contains("ZZ")
    );
    assert!(
        both_wrong["errors"]["to"]
            .as_str()
            .unwrap()
            .contains("est désactivé")
    );
    let hint = unescape(both_wrong["html"].as_str().unwrap());
    assert!(hint.contains("Corrigez les champs signalés"), "{hint}");
    let one_wrong = unescape(inactive_target["html"].as_str().unwrap());
    assert!(
        one_wrong.contains("Corrigez le champ signalé"),
        "{one_wrong}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_field_is_shown_next_to_it() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    let batches_before = app.batch_count();

    let response = client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", "5_"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    let page = text(response).await;
    assert!(page.contains(
        "id=\"postal-error\" data-error-for=\"postal\" aria-live=\"polite\">code postal : « 5_ »"
    ));
    assert!(page.contains("aria-describedby=\"postal-help postal-error\" aria-invalid=\"true\""));
    assert!(
        page.contains("value=\"5_\""),
        "the form keeps what was typed"
    );
    assert_eq!(app.batch_count(), batches_before);
}

/// A region form with several mistakes shows each next to its field, in
/// the page Valider returns and in the live preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_region_field_error_is_shown() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    let batches_before = app.batch_count();

    let response = client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "ZZ"),
            ("country", "XYZ"),
            ("postal", "%"),
            ("role", "chef"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    let page = unescape(&text(response).await);
    for (field, expected) in [
        ("to", "ZZ"),
        ("country", "code pays : « XYZ » n'est pas un pays connu"),
        ("postal", "code postal : « % »"),
        ("role", "rôle : « chef » inconnu"),
    ] {
        let marker = format!("id=\"{field}-error\" data-error-for=\"{field}\"");
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("{field}: {page}"));
        let end = start + page[start..].find("</p>").unwrap();
        assert!(
            page[start..end].contains(expected),
            "{field}: {}",
            &page[start..end]
        );
    }
    assert_eq!(app.batch_count(), batches_before);

    let preview = json(
        client
            .get(app.url("/admin/reassign-region/preview"))
            .query(&[("to", ""), ("country", "XYZ"), ("postal", "%")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(preview["errors"]["country"].as_str().is_some(), "{preview}");
    assert!(preview["errors"]["postal"].as_str().is_some(), "{preview}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_submit_runs_once() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let page = app.page(&client, "/admin/reassign").await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let key = hidden_field(&page, "idempotency_key").unwrap();
    let form = [
        ("from", "JD"),
        ("to", "QT"),
        ("idempotency_key", key.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let batches_before = app.batch_count();

    let first = client
        .post(app.url("/admin/reassign"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let first = text(app.follow(&client, first).await).await;
    let second = client
        .post(app.url("/admin/reassign"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let second = text(app.follow(&client, second).await).await;

    assert!(first.contains("Opération de masse n° "));
    assert!(first.contains("appliquée"));
    assert!(second.contains("Ce formulaire avait déjà été validé"));
    assert_eq!(data_changed(&first), data_changed(&second));
    assert_eq!(
        app.batch_count(),
        batches_before + 1,
        "one batch for two submissions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_matching_nothing_records_no_batch() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    let batches_before = app.batch_count();

    let submit = || async {
        text(
            client
                .post(app.url("/admin/reassign-region"))
                .form(&[
                    ("to", "QT"),
                    ("country", "FRA"),
                    ("postal", "51999"),
                    ("idempotency_key", &key),
                    ("csrf_token", &csrf),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await
    };

    let page = submit().await;
    let again = submit().await;

    assert!(page.contains("Aucun contact ne correspond : rien n'a été modifié"));
    assert!(!page.contains("batch-link"));
    assert!(
        unescape(&again).contains(
            "Ce formulaire avait déjà été validé : l'opération n'avait rien modifié et n'a pas été refaite."
        ),
        "{again}"
    );
    assert_eq!(app.batch_count(), batches_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_from_the_journal() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", "51;02"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let moved = qt_contacts(&app);
    assert!(moved > 0);
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);

    let journal = app.page(&client, "/admin/batches").await;
    assert!(journal.contains(&format!("href=\"/admin/batches/{}\"", batch.id)));
    assert!(journal.contains("réaffectation par région"));
    assert!(
        unescape(&journal).contains("vers Théo TARGET (QT), pays FRA, codes postaux « 02;51 »"),
        "the journal names users in full, and the codes sorted: {journal}"
    );
    // The result page, as a replayed form reaches it, names the role too.
    let result = unescape(
        &app.page(&client, &format!("/admin/batches/{}/result", batch.id))
            .await,
    );
    assert!(
        result.contains(
            "Affecter à Théo TARGET (QT), comme responsable commercial, les contacts avec une \
             adresse dans le pays France (FRA), codes postaux « 02;51 »."
        ),
        "{result}"
    );
    let undo_page = unescape(
        &app.page(&client, &format!("/admin/batches/{}/undo", batch.id))
            .await,
    );
    assert!(
        undo_page.contains(&format!(
            "rôle commercial), par Quentin ADMIN (QA), le {}.",
            relais::domain::history::format_paris_moment(batch.started_at)
        )),
        "{undo_page}"
    );
    assert_eq!(
        relais::domain::history::format_paris_moment(
            chrono::DateTime::parse_from_rfc3339("2026-07-14T08:05:00Z")
                .unwrap()
                .to_utc()
        ),
        "14/07/2026 à 10:05"
    );
    let detail = app
        .page(&client, &format!("/admin/batches/{}", batch.id))
        .await;
    assert!(detail.contains(&format!("href=\"/admin/batches/{}/undo\"", batch.id)));
    assert!(
        !detail.contains("name=\"idempotency_key\""),
        "the batch page itself runs nothing"
    );
    let confirm = app
        .page(&client, &format!("/admin/batches/{}/undo", batch.id))
        .await;
    assert!(confirm.contains("Confirmer l'annulation"));
    let undo_key = hidden_field(&confirm, "idempotency_key").unwrap();
    let undo_csrf = hidden_field(&confirm, "csrf_token").unwrap();
    let form = [
        ("idempotency_key", undo_key.as_str()),
        ("csrf_token", undo_csrf.as_str()),
    ];

    let result = client
        .post(app.url(&format!("/admin/batches/{}/undo", batch.id)))
        .form(&form)
        .send()
        .await
        .unwrap();
    // POST-redirect-GET: reloading the result sends no form.
    assert_eq!(result.status(), 303);
    let location = result.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/admin/batches/") && location.ends_with("/result"),
        "{location}"
    );
    let batches_after_undo = app.batch_count();
    let result = app.page(&client, &location).await;
    let reloaded = app.page(&client, &location).await;
    assert!(
        reloaded.contains("annulée par l'opération n° "),
        "{reloaded}"
    );
    assert_eq!(
        app.batch_count(),
        batches_after_undo,
        "a reload runs nothing"
    );
    let again = text(
        app.follow(
            &client,
            client
                .post(app.url(&format!("/admin/batches/{}/undo", batch.id)))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await,
    )
    .await;

    assert!(result.contains(&format!(
        "Opération n° {} annulée par l'opération n° ",
        batch.id
    )));
    assert!(result.contains("contacts réaffectés à leur responsable précédent"));
    assert!(result.contains("0 contact ignoré"));
    assert!(
        again.contains("Ce formulaire avait déjà été validé"),
        "a resubmitted undo is not run twice"
    );
    assert_eq!(qt_contacts(&app), 0, "every contact got its owner back");
    let after = app
        .page(&client, &format!("/admin/batches/{}", batch.id))
        .await;
    assert!(after.contains("annulée par"));
    assert!(!after.contains("Annuler cette opération</a>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_lists_contacts_changed_since() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("postal", "51;02"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let region_batch = app.store.list_batches(1, 0).unwrap().remove(0);
    let page = app.page(&client, "/admin/reassign").await;
    let key = hidden_field(&page, "idempotency_key").unwrap();
    client
        .post(app.url("/admin/reassign"))
        .form(&[
            ("from", "QT"),
            ("to", "QU"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let confirm = app
        .page(&client, &format!("/admin/batches/{}/undo", region_batch.id))
        .await;
    assert!(
        confirm.contains("contacts ignorés, car leur responsable a changé depuis l'opération."),
        "{confirm}"
    );
    assert!(
        unescape(&confirm).contains(
            "(commercial) : responsable actuel Ursule USER (QU), l'opération avait mis Théo TARGET (QT)"
        ),
        "the confirmation lists the entries it will skip: {confirm}"
    );
    // Confirming would change nothing, so the page explains it and shows
    // no button.
    assert!(
        unescape(&confirm).contains(&format!(
            "Une annulation maintenant ne changerait rien : aucun contact n'a plus le responsable que l'opération n° {} avait mis.",
            region_batch.id
        )),
        "{confirm}"
    );
    assert!(!confirm.contains("Confirmer l'annulation"), "{confirm}");
    assert!(hidden_field(&confirm, "idempotency_key").is_none());
    // A page opened before the contacts changed still posts its form.
    let undo_key = uuid::Uuid::new_v4().to_string();

    let batches_before = app.batch_count();

    let posted = client
        .post(app.url(&format!("/admin/batches/{}/undo", region_batch.id)))
        .form(&[
            ("idempotency_key", undo_key.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();

    // An undo that gives nothing back records nothing and redirects to the
    // confirmation, whose preview lists the entries it skipped.
    assert_eq!(posted.status(), 303);
    let location = posted.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!(
            "/admin/batches/{}/undo?note=nothing_restored",
            region_batch.id
        )
    );
    let result = text(app.follow(&client, posted).await).await;
    assert!(
        result.contains("Annulation sans effet : aucun contact n'avait encore le responsable"),
        "{result}"
    );
    assert!(
        unescape(&result).contains(
            "(commercial) : responsable actuel Ursule USER (QU), l'opération avait mis Théo TARGET (QT)"
        ),
        "{result}"
    );
    let again = client
        .post(app.url(&format!("/admin/batches/{}/undo", region_batch.id)))
        .form(&[
            ("idempotency_key", undo_key.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        again.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("?note=replayed_nothing")
    );
    let again = text(app.follow(&client, again).await).await;
    assert!(
        again.contains("Ce formulaire avait déjà été validé"),
        "{again}"
    );
    assert_eq!(app.batch_count(), batches_before);

    // Once the contacts are back with QT, the same address no longer calls
    // the undo without effect above a preview that restores them.
    let back = relais::service::reassign::prepare_user_reassignment(app.store.as_ref(), "QU", "QT")
        .unwrap();
    relais::service::reassign::apply_user_reassignment(
        app.store.as_ref(),
        &back,
        relais::service::reassign::RunContextInput {
            actor: relais::domain::batch::Actor::system("tests"),
            idempotency_key: None,
        },
    )
    .unwrap();
    let later = unescape(&app.page(&client, &location).await);
    assert!(!later.contains("Annulation sans effet"), "{later}");
    assert!(
        later.contains("depuis, des contacts ont retrouvé le responsable qu'elle avait mis"),
        "{later}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_entry_appears_on_the_contact_page() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("postal", "51;02"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);
    let contact = app
        .store
        .batch_contacts(batch.id, Page::first(1))
        .unwrap()
        .contacts
        .remove(0);

    let page = app
        .page(&client, &format!("/contacts/{}", contact.id))
        .await;

    assert!(page.contains(&format!(
        "→ Théo TARGET (QT) — réaffectation par région n° {} par Quentin ADMIN (QA)",
        batch.id
    )));
    assert!(page.contains("Adresse professionnelle (pro)"));
    assert!(page.contains("Adresse personnelle (perso)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_exports_as_csv() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let (csrf, key) = region_form(&app, &client).await;
    client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("postal", "51;02"),
            ("idempotency_key", &key),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);

    let response = client
        .get(app.url(&format!("/admin/batches/{}/export.csv", batch.id)))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"operation-{}.csv\"", batch.id).as_str()
    );
    let body = response.bytes().await.unwrap();
    assert!(body.starts_with("\u{feff}N° Relais;".as_bytes()));
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(
        text.split("\r\n").filter(|line| !line.is_empty()).count() as u64,
        batch.outcome.changed + 1
    );
    assert_eq!(
        client
            .get(app.url("/admin/batches/999999/export.csv"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// The contact list offers administrators the CSV of every contact its
/// filters select, all pages together. A user gets neither the link nor
/// the file, and a filter with an error leads back to the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_list_exports_as_csv() {
    let app = TestApp::start().await;
    let admin = app.logged_in("QA").await;
    let expected = app
        .store
        .list_contacts(
            &ContactFilter {
                country: Some("FRA".to_string()),
                ..Default::default()
            },
            Page::first(100_000),
        )
        .unwrap();
    assert!(
        expected.total > 50,
        "more than one page: {}",
        expected.total
    );

    let list = unescape(&app.page(&admin, "/contacts?country=FRA").await);
    let response = admin
        .get(app.url("/contacts/export.csv?country=FRA"))
        .send()
        .await
        .unwrap();

    assert!(
        list.contains(&format!(
            "<a class=\"button\" href=\"/contacts/export.csv?country=FRA\" download>Exporter ces contacts en CSV ({} contacts)</a>",
            expected.total
        )),
        "{list}"
    );
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"contacts-FRA.csv\""
    );
    let body = response.bytes().await.unwrap();
    assert!(body.starts_with("\u{feff}N° Relais;".as_bytes()));
    let mut ids: Vec<i64> = String::from_utf8(body.to_vec())
        .unwrap()
        .split("\r\n")
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| line.split(';').next().unwrap().parse().unwrap())
        .collect();
    let mut expected_ids: Vec<i64> = expected.contacts.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    expected_ids.sort_unstable();
    assert_eq!(ids, expected_ids);

    let bad = admin
        .get(app.url("/contacts/export.csv?postal=5%25"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 303);
    assert_eq!(bad.headers()["location"], "/contacts?postal=5%25&page=1");

    // A mistyped filter exports nothing, rather than the whole base.
    let mistyped = admin
        .get(app.url("/contacts/export.csv?ownr=QT"))
        .send()
        .await
        .unwrap();
    assert_eq!(mistyped.status(), 400);
    let page = unescape(&mistyped.text().await.unwrap());
    assert!(
        page.contains(
            "Paramètre « ownr » inconnu dans l'adresse de l'export : les filtres possibles sont \
             « owner », « country », « postal », « departement » et « q » ; rien n'a été exporté"
        ),
        "{page}"
    );

    let user = app.logged_in("QU").await;
    let user_list = app.page(&user, "/contacts?country=FRA").await;
    assert!(!user_list.contains("export.csv"), "{user_list}");
    let forbidden = user
        .get(app.url("/contacts/export.csv?country=FRA"))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_list_filters_by_departement() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;

    let marne = app.page(&client, "/contacts?departement=51").await;
    let corsica = app
        .page(&client, "/contacts?departement=2A&postal=201")
        .await;
    let bad = client
        .get(app.url("/contacts?postal=5%25"))
        .send()
        .await
        .unwrap();

    assert!(marne.contains("dép. 51 — Marne"));
    assert!(
        !marne.contains(">400 contacts"),
        "the filter leaves out contacts outside the Marne"
    );
    assert!(corsica.contains("contact"));
    // The département list goes in code order, Corsica after 19.
    let position = |code: &str| {
        marne
            .find(&format!("<option value=\"{code}\""))
            .unwrap_or_else(|| panic!("no option {code}"))
    };
    for pair in [
        ["19", "2A"],
        ["2A", "2B"],
        ["2B", "21"],
        ["974", "975"],
        ["975", "976"],
    ] {
        assert!(position(pair[0]) < position(pair[1]), "{pair:?}");
    }
    assert_eq!(bad.status(), 422);
    assert!(
        text(bad)
            .await
            .contains("id=\"postal-error\">code postal : « 5% »")
    );
}

/// An administrator gives or takes the administrator role on the users
/// page. The change applies to open sessions at their next request, and
/// an administrator cannot change their own role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_page_changes_roles() {
    let app = TestApp::start().await;
    let admin = app.logged_in("QA").await;
    let user = app.logged_in("QU").await;
    let qu = app.store.find_user("QU").unwrap().unwrap();
    let qa = app.store.find_user("QA").unwrap().unwrap();
    let page = app.page(&admin, "/admin/users").await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    assert!(
        page.contains(&format!("action=\"/admin/users/{}/role\"", qu.id)),
        "{page}"
    );
    assert!(!page.contains(&format!("action=\"/admin/users/{}/role\"", qa.id)));
    let status = |client: &reqwest::Client, path: &'static str| {
        let request = client.get(app.url(path));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status(&user, "/admin").await, 403);

    let promoted = admin
        .post(app.url(&format!("/admin/users/{}/role", qu.id)))
        .form(&[("csrf_token", csrf.as_str()), ("role", "admin")])
        .send()
        .await
        .unwrap();
    let notice = unescape(&text(app.follow(&admin, promoted).await).await);

    assert!(
        notice.contains("Ursule USER (QU) a désormais le rôle administrateur"),
        "{notice}"
    );
    assert_eq!(status(&user, "/admin").await, 200);

    admin
        .post(app.url(&format!("/admin/users/{}/role", qu.id)))
        .form(&[("csrf_token", csrf.as_str()), ("role", "user")])
        .send()
        .await
        .unwrap();
    assert_eq!(status(&user, "/admin").await, 403);

    let own = admin
        .post(app.url(&format!("/admin/users/{}/role", qa.id)))
        .form(&[("csrf_token", csrf.as_str()), ("role", "user")])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 422);
    assert!(unescape(&text(own).await).contains("vous ne pouvez pas changer votre propre rôle"));
    let unknown = admin
        .post(app.url(&format!("/admin/users/{}/role", qu.id)))
        .form(&[("csrf_token", csrf.as_str()), ("role", "chef")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
    assert_eq!(
        app.store.find_user("QA").unwrap().unwrap().role,
        relais::domain::user::UserRole::Admin
    );
}

/// A reassignment form sent with both users empty, or both wrong, marks
/// both fields, so that one correction fixes the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassign_form_marks_both_users() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let page = app.page(&client, "/admin/reassign").await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let key = hidden_field(&page, "idempotency_key").unwrap();
    let batches_before = app.batch_count();

    for (from, to) in [("", ""), ("ZZ", "YY")] {
        let rejected = client
            .post(app.url("/admin/reassign"))
            .form(&[
                ("from", from),
                ("to", to),
                ("idempotency_key", key.as_str()),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();

        assert_eq!(rejected.status(), 422);
        let body = unescape(&text(rejected).await);
        assert!(
            body.contains("id=\"from-error\" data-error-for=\"from\" aria-live=\"polite\">de : "),
            "{body}"
        );
        assert!(
            body.contains("id=\"to-error\" data-error-for=\"to\" aria-live=\"polite\">vers : "),
            "{body}"
        );
    }
    assert_eq!(app.batch_count(), batches_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_form_shows_every_error_at_once() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let page = app.page(&client, "/admin/users").await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let users_before = app.store.list_users().unwrap().len();

    let rejected = client
        .post(app.url("/admin/users"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("initials", "QA"),
            ("last_name", "Autre"),
            ("email", "pas-une-adresse"),
            ("password", "court"),
            ("password_confirm", "autre"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(rejected.status(), 422);
    let body = text(rejected).await;
    assert!(
        body.contains("id=\"user-initials-error\">initiales : un autre utilisateur a déjà les initiales « QA »"),
        "{body}"
    );
    assert!(body.contains("id=\"user-email-error\">e-mail"), "{body}");
    assert!(
        body.contains("id=\"user-password-error\">mot de passe : 10 caractères au minimum"),
        "{body}"
    );
    assert!(
        body.contains(
            "id=\"user-password_confirm-error\">confirmation : les deux mots de passe diffèrent"
        ),
        "{body}"
    );
    // The form sits below a list that may be long, so a summary at the
    // top reports at once that nothing was created, with a link per field.
    let summary = unescape(&body)
        .find("L'utilisateur n'a pas été créé : 4 champs à corriger.")
        .expect("summary at the top");
    let table = unescape(&body).find("<table class=\"users\">").unwrap();
    assert!(summary < table, "the summary comes before the user list");
    for field in ["initials", "email", "password", "password_confirm"] {
        assert!(
            body.contains(&format!("<li><a href=\"#user-{field}\">")),
            "{field}: {body}"
        );
    }
    assert_eq!(app.store.list_users().unwrap().len(), users_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_page_creates_and_deactivates() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let page = app.page(&client, "/admin/users").await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let new_user = [
        ("csrf_token", csrf.as_str()),
        ("initials", "NV"),
        ("first_name", "Noémie"),
        ("last_name", "Vasseur"),
        ("email", "nv@example.org"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];

    let created = client
        .post(app.url("/admin/users"))
        .form(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let listed = app
        .page(&client, created.headers()["location"].to_str().unwrap())
        .await;
    assert!(listed.contains("Utilisateur Noémie VASSEUR (NV) créé."));

    // The confirmation is shown once, and a crafted link shows none, not
    // even of a change that really happened.
    let again = app.page(&client, "/admin/users").await;
    assert!(!again.contains("créé."));
    for forged in [
        "/admin/users?done=created&user=%3Cb%3Ehi",
        "/admin/users?done=created&user=NV",
        "/admin/users?done=deactivated&user=NV",
        "/admin/users?done=token_revoked&token=999",
    ] {
        let page = app.page(&client, forged).await;
        assert!(!page.contains("créé."), "{forged}");
        assert!(!page.contains("désactivé :"), "{forged}");
        assert!(!page.contains("révoqué :"), "{forged}");
    }

    let duplicate = client
        .post(app.url("/admin/users"))
        .form(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 422);
    let mismatch = client
        .post(app.url("/admin/users"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("initials", "NW"),
            ("last_name", "W"),
            ("password", PASSWORD),
            ("password_confirm", "autre chose"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 422);
    assert!(
        text(mismatch)
            .await
            .contains("les deux mots de passe diffèrent")
    );
    let weak = client
        .post(app.url("/admin/users"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("initials", "NW"),
            ("last_name", "W"),
            ("password", "court"),
            ("password_confirm", "court"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        text(weak)
            .await
            .contains("id=\"user-password-error\">mot de passe : 10 caractères au minimum")
    );

    let nv = app.store.find_user("NV").unwrap().unwrap();
    let deactivated = client
        .post(app.url(&format!("/admin/users/{}/deactivate", nv.id)))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deactivated.status(), 303);
    assert!(!app.store.find_user("NV").unwrap().unwrap().active);
    let reactivated = client
        .post(app.url(&format!("/admin/users/{}/activate", nv.id)))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(reactivated.status(), 303);
    assert!(app.store.find_user("NV").unwrap().unwrap().active);

    let me = app.store.find_user("QA").unwrap().unwrap();
    let self_deactivation = client
        .post(app.url(&format!("/admin/users/{}/deactivate", me.id)))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(self_deactivation.status(), 422);
    assert!(app.store.find_user("QA").unwrap().unwrap().active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_shown_once_and_works() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let csrf = hidden_field(&app.page(&client, "/admin/users").await, "csrf_token").unwrap();

    let response = client
        .post(app.url("/admin/users/tokens"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("user", "QT"),
            ("label", "script de test"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = text(response).await;
    assert!(page.contains("il ne sera plus jamais affiché"));
    let marker = "id=\"token-value\" type=\"text\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let token = &page[start..start + page[start..].find('"').unwrap()];
    let me = app
        .api(reqwest::Method::GET, "/api/v1/me", Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(json(me).await["initials"], "QT");

    let inactive = client
        .post(app.url("/admin/users/tokens"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("user", "PL"),
            ("label", "ancien"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(inactive.status(), 422);
    assert!(
        text(inactive)
            .await
            .contains("le compte de Paul LEFÈVRE (PL) est désactivé")
    );
}

/// A refused token form comes back on the users page with the error next
/// to its field, what was typed kept, and no token created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_form_errors_stay_inline() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let csrf = hidden_field(&app.page(&client, "/admin/users").await, "csrf_token").unwrap();
    let tokens_before = relais::service::tokens::list_api_tokens(app.store.as_ref(), None)
        .unwrap()
        .len();
    let send = |user: &'static str, label: String| {
        client
            .post(app.url("/admin/users/tokens"))
            .form(&[
                ("csrf_token", csrf.clone()),
                ("user", user.to_string()),
                ("label", label),
            ])
            .send()
    };

    let no_user = send("", "synchro".into()).await.unwrap();
    assert_eq!(no_user.status(), 422);
    let page = unescape(&text(no_user).await);
    assert!(
        page.contains("id=\"token-user-error\">utilisateur : choisissez l'utilisateur"),
        "{page}"
    );
    assert!(page.contains("Le jeton d'API n'a pas été créé."), "{page}");
    assert!(page.contains("value=\"synchro\""), "the label is kept");

    let long = send("QT", "x".repeat(101)).await.unwrap();
    assert_eq!(long.status(), 422);
    let page = unescape(&text(long).await);
    assert!(
        page.contains("id=\"token-label-error\">libellé : 101 caractères, 100 au plus"),
        "{page}"
    );
    assert!(
        page.contains("value=\"QT\" selected"),
        "the user stays chosen"
    );

    let tokens_after = relais::service::tokens::list_api_tokens(app.store.as_ref(), None)
        .unwrap()
        .len();
    assert_eq!(tokens_after, tokens_before, "no token was created");
}

/// The user pickers list a deactivated user after the active ones, marked,
/// and only « de » lets it be chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickers_mark_deactivated_users() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    let page = unescape(&app.page(&client, "/admin/reassign").await);

    let from = &page[page.find("name=\"from\"").unwrap()..page.find("name=\"to\"").unwrap()];
    let to = &page[page.find("name=\"to\"").unwrap()..];
    assert!(
        from.contains("<option value=\"PL\">Paul LEFÈVRE (PL) — compte désactivé</option>"),
        "{from}"
    );
    assert!(
        to.contains("<option value=\"PL\" disabled>Paul LEFÈVRE (PL) — compte désactivé</option>"),
        "{to}"
    );
    assert!(
        from.find("Utilisateurs actifs").unwrap() < from.find("Utilisateurs inactifs").unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_sample_shows_matching_addresses() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    let fields = [
        ("to", "QT"),
        ("country", "FRA"),
        ("postal", "51"),
        ("role", "commercial"),
    ];
    let preview = region_preview(&app, &client, &fields).await;
    let html = unescape(preview["html"].as_str().unwrap());
    let items: Vec<&str> = html
        .split("<li>")
        .skip(1)
        .filter(|item| item.contains("/contacts/"))
        .collect();
    assert!(!items.is_empty(), "{html}");
    for item in items {
        let address = item.rsplit("</a> — ").next().unwrap_or_default();
        assert!(
            address.starts_with("51"),
            "sample address outside 51: {item}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_preview_labels_corsica_as_typed() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;

    let page = app
        .page(&client, "/admin/reassign-region?to=QT&postal=51%3B2a%3B2B")
        .await;

    assert!(page.contains("<td>2A — Corse-du-Sud</td>"), "{page}");
    assert!(page.contains("<td>2B — Haute-Corse</td>"), "{page}");
    assert!(page.contains("<td>51 — Marne</td>"), "{page}");
    for expanded in ["200", "201", "202", "206"] {
        assert!(
            !page.contains(&format!("<td>{expanded} — ")),
            "no row for the expanded prefix {expanded}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_key_with_other_fields_is_rejected() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let page = app.page(&client, "/admin/reassign").await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let key = hidden_field(&page, "idempotency_key").unwrap();
    let submit = |from: &'static str| {
        client
            .post(app.url("/admin/reassign"))
            .form(&[
                ("from", from),
                ("to", "QT"),
                ("idempotency_key", key.as_str()),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
    };
    let first = submit("JD").await.unwrap();
    assert!(first.status().is_success() || first.status().is_redirection());
    let batches_before = app.batch_count();
    let owned_before = qt_contacts(&app);

    let reused = submit("PL").await.unwrap();

    assert_eq!(reused.status(), 409);
    let page = text(reused).await;
    assert!(
        page.contains(
            "Ce formulaire a déjà été validé avec d'autres valeurs : rien n'a été modifié"
        ),
        "{page}"
    );
    assert!(page.contains("Rechargez le formulaire"), "{page}");
    assert!(
        !page.contains("clé d'idempotence"),
        "the key stays hidden from people"
    );
    assert_eq!(app.batch_count(), batches_before);
    assert_eq!(qt_contacts(&app), owned_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_asks_for_confirmation_first() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let page = app.page(&client, "/admin/reassign").await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let key = hidden_field(&page, "idempotency_key").unwrap();
    client
        .post(app.url("/admin/reassign"))
        .form(&[
            ("from", "JD"),
            ("to", "QT"),
            ("idempotency_key", key.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);
    let (commercial, technical) = (batch.outcome.commercial, batch.outcome.technical);
    assert!(
        commercial > 1 && technical > 1,
        "JD owns contacts on both roles"
    );

    let response = client
        .get(app.url(&format!("/admin/batches/{}/undo", batch.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("cache-control").unwrap(),
        "no-store",
        "Back after the undo fetches the page again"
    );
    let confirm = text(response).await;

    assert!(
        !app.store.batch(batch.id).unwrap().unwrap().undone,
        "showing the confirmation changes nothing"
    );
    assert!(
        confirm.contains(&format!(
            "{commercial} contacts seront réaffectés à Jean DUPONT (JD) comme responsable commercial"
        )),
        "{confirm}"
    );
    assert!(
        confirm.contains(&format!(
            "{technical} contacts seront réaffectés à Jean DUPONT (JD) comme responsable technique"
        )),
        "{confirm}"
    );
    assert!(confirm.contains("Confirmer l'annulation</button>"));
    assert!(confirm.contains(&format!("href=\"/admin/batches/{}\"", batch.id)));

    let undo_key = hidden_field(&confirm, "idempotency_key").unwrap();
    let form = [
        ("idempotency_key", undo_key.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let undo_url = app.url(&format!("/admin/batches/{}/undo", batch.id));
    let first = client.post(&undo_url).form(&form).send().await.unwrap();
    assert_eq!(first.status(), 303);
    let second = client.post(&undo_url).form(&form).send().await.unwrap();
    assert!(
        second.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/result?note=replayed")
    );
    let second = text(app.follow(&client, second).await).await;
    assert!(second.contains("Ce formulaire avait déjà été validé"));
    assert!(app.store.batch(batch.id).unwrap().unwrap().undone);

    let after = app
        .page(&client, &format!("/admin/batches/{}/undo", batch.id))
        .await;
    let after = unescape(&after);
    assert!(
        after.contains(&format!(
            "L'opération n° {} a déjà été annulée par l'opération n° ",
            batch.id
        )),
        "{after}"
    );
    assert!(!after.contains("rien n'a été modifié"), "{after}");
    assert!(!after.contains("Confirmer l'annulation</button>"));
}

/// Opens the undo confirmation of `batch` and sends its form, as
/// « Confirmer l'annulation » does, without following the redirect.
async fn confirm_undo(app: &TestApp, client: &reqwest::Client, batch: i64) -> reqwest::Response {
    let path = format!("/admin/batches/{batch}/undo");
    let confirm = app.page(client, &path).await;
    let fields = [
        (
            "idempotency_key",
            hidden_field(&confirm, "idempotency_key").unwrap(),
        ),
        ("csrf_token", hidden_field(&confirm, "csrf_token").unwrap()),
    ];
    client
        .post(app.url(&path))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Submits the region dialog `form` with `postal` to `QT` or `QU`.
async fn submit_region(
    app: &TestApp,
    client: &reqwest::Client,
    form: &str,
    to: &str,
    postal: &str,
) -> reqwest::Response {
    let csrf = hidden_field(form, "csrf_token").unwrap();
    let key = hidden_field(form, "idempotency_key").unwrap();
    let last_batch = hidden_field(form, "last_batch").unwrap();
    client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", to),
            ("country", "FRA"),
            ("postal", postal),
            ("idempotency_key", key.as_str()),
            ("last_batch", last_batch.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valider_redirects_to_the_result() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let dialog = client
        .get(app.url("/admin/reassign-region"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        dialog.headers().get("cache-control").unwrap(),
        "no-store",
        "Back to the dialog fetches it again"
    );
    let form = text(dialog).await;

    let response = submit_region(&app, &client, &form, "QT", "51").await;

    assert_eq!(response.status(), 303);
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(location, format!("/admin/batches/{}/result", batch.id));
    let result = app.page(&client, location).await;
    assert!(result.contains(&format!("Opération de masse n° {} appliquée.", batch.id)));
    assert!(result.contains("codes postaux « 51 »"));
    assert_eq!(data_changed(&result), Some(batch.outcome.changed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_form_does_not_run_again() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    // Two copies of the dialog shown before any run: one validated now,
    // the other kept (another tab, or Back to a copy that was reloaded
    // with a new key) and validated later.
    let form = app.page(&client, "/admin/reassign-region").await;
    let stale = app.page(&client, "/admin/reassign-region").await;
    assert_ne!(
        hidden_field(&form, "idempotency_key"),
        hidden_field(&stale, "idempotency_key")
    );
    submit_region(&app, &client, &form, "QT", "51").await;
    let done = app.store.list_batches(1, 0).unwrap().remove(0);
    // Another run moves the same contacts on, so running the stale form
    // would change them again.
    let other = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &other, "QU", "51").await;
    let batches_before = app.batch_count();
    let owned_before = qt_contacts(&app);

    let response = submit_region(&app, &client, &stale, "QT", "51").await;

    assert_eq!(response.status(), 303);
    let page = text(app.follow(&client, response).await).await;
    assert!(
        page.contains(&format!(
            "Cette opération a déjà été faite depuis l'ouverture de ce formulaire : opération de masse n° {}, par Quentin ADMIN (QA). Elle n'a pas été refaite",
            done.id
        )),
        "{page}"
    );
    assert_eq!(app.batch_count(), batches_before, "no new batch");
    assert_eq!(qt_contacts(&app), owned_before, "no contact moved");

    // The same stale form with other values is a new operation and runs.
    let response = submit_region(&app, &client, &stale, "QT", "02").await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.batch_count(), batches_before + 1);
}

/// Two tabs validating the same région for two users both run, the second
/// taking the contacts the first has just given: its result names the
/// first, since its counts alone would match its preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_tab_result_names_the_batch_it_overrode() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let first_tab = app.page(&client, "/admin/reassign-region").await;
    let second_tab = app.page(&client, "/admin/reassign-region").await;
    let since = hidden_field(&second_tab, "last_batch").unwrap();
    submit_region(&app, &client, &first_tab, "QT", "51").await;
    let first = app.store.list_batches(1, 0).unwrap().remove(0);

    let response = submit_region(&app, &client, &second_tab, "QU", "51").await;

    assert_eq!(response.status(), 303);
    let second = app.store.list_batches(1, 0).unwrap().remove(0);
    assert_ne!(second.id, first.id, "the second tab ran");
    assert_eq!(
        response.headers()["location"],
        format!("/admin/batches/{}/result?since={since}", second.id).as_str()
    );
    let page = text(app.follow(&client, response).await).await;
    assert!(
        page.contains(&format!(
            "Depuis l'ouverture de ce formulaire, l'opération n° {} avait déjà changé le responsable de certains de ces contacts ; cette opération-ci les a réaffectés après elle. Si ce n'était pas voulu, annulez cette opération.",
            first.id
        )),
        "{page}"
    );

    // A form opened after the first run has its number: no notice.
    let third_tab = app.page(&client, "/admin/reassign-region").await;
    let response = submit_region(&app, &client, &third_tab, "QT", "51").await;
    let third = app.store.list_batches(1, 0).unwrap().remove(0);
    assert_eq!(
        response.headers()["location"],
        format!("/admin/batches/{}/result", third.id).as_str()
    );
}

/// Valider pressed while the preview on screen was of other criteria (the
/// field changed, and the new preview had not come) runs what the form
/// sent, and its result warns that the preview was of other criteria.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_says_when_preview_was_of_other_criteria() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app
        .page(&client, "/admin/reassign-region?to=QT&postal=51")
        .await;
    let previewed = hidden_field(&form, "previewed").unwrap();
    let previewed_for = hidden_field(&form, "previewed_for").unwrap();
    assert!(!previewed_for.is_empty(), "the dialog showed a preview");

    let response = client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", "51;75"),
            ("previewed", previewed.as_str()),
            ("previewed_for", previewed_for.as_str()),
            (
                "idempotency_key",
                hidden_field(&form, "idempotency_key").unwrap().as_str(),
            ),
            (
                "last_batch",
                hidden_field(&form, "last_batch").unwrap().as_str(),
            ),
            (
                "csrf_token",
                hidden_field(&form, "csrf_token").unwrap().as_str(),
            ),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);
    assert_eq!(
        response.headers()["location"],
        format!("/admin/batches/{}/result?previewed=other", batch.id).as_str()
    );
    let page = text(app.follow(&client, response).await).await;
    assert!(
        page.contains(
            "L'aperçu affiché quand vous avez validé portait sur d'autres critères que ceux envoyés"
        ),
        "{page}"
    );
    assert!(page.contains("codes postaux « 51;75 »"), "{page}");
}

/// The operation done since the form was shown is found however many
/// batches came after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_form_is_checked_past_many_batches() {
    use relais::domain::batch::Actor;
    use relais::service::reassign::{RunContextInput, undo_batch};

    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    let stale = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QT", "51").await;
    let done = app.store.list_batches(1, 0).unwrap().remove(0);
    // Each undo of the previous undo is a batch of its own: 250 of them
    // push the batch done above past the first page of the journal.
    let other = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &other, "QU", "51").await;
    let mut last = app.store.list_batches(1, 0).unwrap().remove(0).id;
    for _ in 0..250 {
        let run = RunContextInput {
            actor: Actor::system("tests"),
            idempotency_key: None,
        };
        last = undo_batch(app.store.as_ref(), last, run)
            .unwrap()
            .applied
            .batch_id
            .unwrap();
    }
    let batches_before = app.batch_count();

    let response = submit_region(&app, &client, &stale, "QT", "51").await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/admin/batches/{}/result?note=done_since", done.id).as_str()
    );
    assert_eq!(app.batch_count(), batches_before, "no new batch");
}

/// An operation done and then undone since the form was shown no longer
/// holds: the form runs instead of showing it as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_form_runs_after_undo() {
    use relais::domain::batch::Actor;
    use relais::service::reassign::{RunContextInput, undo_batch};

    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    let stale = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QT", "51").await;
    let done = app.store.list_batches(1, 0).unwrap().remove(0);
    let run = RunContextInput {
        actor: Actor::system("tests"),
        idempotency_key: None,
    };
    undo_batch(app.store.as_ref(), done.id, run).unwrap();
    let batches_before = app.batch_count();

    let response = submit_region(&app, &client, &stale, "QT", "51").await;

    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(!location.contains("done_since"), "{location}");
    assert_eq!(app.batch_count(), batches_before + 1, "the form ran");
    let ran = app.store.list_batches(1, 0).unwrap().remove(0);
    assert_eq!(ran.outcome.changed, done.outcome.changed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_confirmation_details_a_large_batch() {
    use relais::domain::batch::Actor;
    use relais::domain::country::CountryCode;
    use relais::service::import::{ImportRequest, import_file};
    use relais::service::reassign::{
        RunContextInput, apply_user_reassignment, prepare_user_reassignment,
    };

    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    // A batch of 1,100 contacts, all owned by QU: the page must detail a
    // batch of any size.
    const CONTACTS: u64 = 1_100;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.csv");
    let mut csv = String::from("source_id,last_name,commercial_owner\n");
    for index in 0..CONTACTS {
        csv.push_str(&format!("large-{index},Nom{index},QU\n"));
    }
    std::fs::write(&path, csv).unwrap();
    let request = ImportRequest {
        default_country: CountryCode::france(),
        create_missing_users: false,
        actor: Actor::system("tests"),
    };
    let report = import_file(app.store.as_ref(), &path, &request, &mut |_| {}).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let prepared = prepare_user_reassignment(app.store.as_ref(), "QU", "QT").unwrap();
    let run = RunContextInput {
        actor: Actor::system("tests"),
        idempotency_key: None,
    };
    let batch = apply_user_reassignment(app.store.as_ref(), &prepared, run)
        .unwrap()
        .batch_id
        .unwrap();

    let confirm = app
        .page(&client, &format!("/admin/batches/{batch}/undo"))
        .await;

    let expected = unescape(&format!(
        "{} contacts seront réaffectés à Ursule USER (QU) comme responsable commercial",
        relais::french::count(CONTACTS)
    ));
    assert!(confirm.contains(&expected), "{confirm}");
    let total = unescape(&format!(
        "Si vous confirmez, {} contacts changeront de responsable :",
        relais::french::count(CONTACTS)
    ));
    assert!(unescape(&confirm).contains(&total), "{confirm}");
    assert!(!confirm.contains("trop de contacts"), "{confirm}");
}

/// The page of an import states what its list of contacts leaves out, and
/// the page of a reassignment does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_page_says_which_contacts_it_lists() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QT", "51").await;
    let run = app.store.list_batches(1, 0).unwrap().remove(0);

    let import = app.page(&client, "/admin/batches/1").await;
    let reassign = app
        .page(&client, &format!("/admin/batches/{}", run.id))
        .await;

    let note = "montrent les contacts qu'elle a créés et ceux dont elle a changé un responsable";
    assert!(unescape(&import).contains(note), "{import}");
    assert!(!unescape(&reassign).contains(note));
    let undo = unescape(&app.page(&client, "/admin/batches/1/undo").await);
    assert!(
        undo.contains("Cette opération n'a changé le responsable d'aucun contact : l'annulation n'a rien à réaffecter."),
        "{undo}"
    );
    assert!(!undo.contains("Confirmer l'annulation"), "{undo}");
    assert!(!undo.contains("name=\"idempotency_key\""), "{undo}");
    // An undo posted anyway, from a page opened before, explains why
    // nothing happened, instead of claiming that the contacts had changed
    // owner since.
    let form = app.page(&client, "/admin/reassign-region").await;
    let posted = client
        .post(app.url("/admin/batches/1/undo"))
        .form(&[
            (
                "idempotency_key",
                "6f1d2c3b-0000-4000-8000-000000000001".to_string(),
            ),
            ("csrf_token", hidden_field(&form, "csrf_token").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let result = unescape(&text(app.follow(&client, posted).await).await);
    assert!(
        result.contains(
            "L'opération n° 1 n'a changé le responsable d'aucun contact : son annulation \
             n'a rien à réaffecter, et rien n'a été modifié."
        ),
        "{result}"
    );
    assert!(
        !result.contains("n'avait encore le responsable"),
        "{result}"
    );
    assert!(import.contains("Contacts créés ou réaffectés"), "{import}");
    assert!(reassign.contains("Contacts modifiés"), "{reassign}");
    // Later operations may have moved them: the owners are today's.
    assert!(
        reassign.contains("Responsable commercial actuel"),
        "{reassign}"
    );
    let contact = unescape(&app.page(&client, "/contacts/1").await);
    assert!(
        contact.contains("par l'importation <a href=\"/admin/batches/1\">n° 1</a>"),
        "{contact}"
    );
    // The demo import created every contact, and changed no owner.
    assert!(
        import.contains(&format!("({DEMO_CONTACTS} contacts, page 1 sur")),
        "{import}"
    );
}

/// The result of an undo that restored some contacts and skipped others is
/// reached by a redirect, and lists the skipped entries from the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_result_page_lists_skipped_entries() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QT", "51;02").await;
    let region_batch = app.store.list_batches(1, 0).unwrap().remove(0);
    let form = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QU", "51").await;
    let moved = app.store.list_batches(1, 0).unwrap().remove(0);
    assert!(moved.outcome.changed > 0);
    assert!(moved.outcome.changed < region_batch.outcome.changed);

    let posted = confirm_undo(&app, &client, region_batch.id).await;

    assert_eq!(posted.status(), 303);
    let result = unescape(&text(app.follow(&client, posted).await).await);
    let restored = region_batch.outcome.changed - moved.outcome.changed;
    assert!(
        result.contains(&format!(
            "{restored} contacts réaffectés à leur responsable précédent"
        )),
        "{result}"
    );
    assert!(
        result.contains(&format!("{} contacts ignorés", moved.outcome.changed)),
        "{result}"
    );
    assert!(
        result
            .contains("responsable commercial ignoré : actuellement Ursule USER (QU), l'opération avait mis Théo TARGET (QT)"),
        "{result}"
    );
    assert_eq!(
        result
            .matches("responsable commercial ignoré : actuellement Ursule USER (QU)")
            .count() as u64,
        moved.outcome.changed,
        "one line per skipped entry"
    );
}

/// The undo's result lists at most 200 skipped entries, then counts the
/// ones it leaves out, whatever the size of the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_result_caps_its_skipped_list() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", "*"),
            ("role", "both"),
            (
                "idempotency_key",
                &hidden_field(&form, "idempotency_key").unwrap(),
            ),
            ("csrf_token", &hidden_field(&form, "csrf_token").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let region_batch = app.store.list_batches(1, 0).unwrap().remove(0);
    // The commercial role moves on; the technical one will be given back.
    let form = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QU", "*").await;
    let entries = app.store.list_batches(1, 0).unwrap()[0]
        .outcome
        .history_entries;
    assert!(entries > 200, "{entries} entries: too few to cap");

    let posted = confirm_undo(&app, &client, region_batch.id).await;

    let result = unescape(&text(app.follow(&client, posted).await).await);
    assert_eq!(
        result
            .matches("ignoré : actuellement Ursule USER (QU)")
            .count(),
        200
    );
    assert!(
        result.contains(&format!("… et {} autres entrées ignorées.", entries - 200)),
        "{result}"
    );
}

/// An undo confirmed in a second tab after the first one shows the result
/// of the undo already done, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_confirmed_in_two_tabs_shows_the_first() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QT", "51").await;
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);
    let undo_path = format!("/admin/batches/{}/undo", batch.id);
    let tabs = [
        app.page(&client, &undo_path).await,
        app.page(&client, &undo_path).await,
    ];
    let send = |page: &String| {
        let fields = [
            (
                "idempotency_key",
                hidden_field(page, "idempotency_key").unwrap(),
            ),
            ("csrf_token", hidden_field(page, "csrf_token").unwrap()),
        ];
        client.post(app.url(&undo_path)).form(&fields).send()
    };

    let first = send(&tabs[0]).await.unwrap();
    let second = send(&tabs[1]).await.unwrap();

    assert_eq!(first.status(), 303);
    assert_eq!(second.status(), 303);
    let location = second.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        first.headers()["location"].to_str().unwrap().to_string() + "?note=done_since"
    );
    let page = unescape(&text(app.follow(&client, second).await).await);
    assert!(
        page.contains(&format!(
            "L'opération n° {} a déjà été annulée depuis l'ouverture de ce formulaire",
            batch.id
        )),
        "{page}"
    );
    assert_eq!(app.batch_count(), batch.id as usize + 1, "one undo only");
}

/// Valider pressed twice on one form reports the form as already
/// validated, not the operation as done by someone since the form opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valider_twice_says_already_validated() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;

    submit_region(&app, &client, &form, "QT", "51").await;
    let second = submit_region(&app, &client, &form, "QT", "51").await;

    let location = second.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("?note=replayed"), "{location}");
    let page = unescape(&text(app.follow(&client, second).await).await);
    assert!(
        page.contains("Ce formulaire avait déjà été validé"),
        "{page}"
    );
    assert!(!page.contains("depuis l'ouverture de ce formulaire"));
}

/// Fetches the live region preview of `postal` for QT and returns the
/// `previewed` and `previewed_for` fields it puts in the form.
async fn previewed_region(
    app: &TestApp,
    client: &reqwest::Client,
    postal: &str,
) -> (String, String) {
    let preview = client
        .get(app.url("/admin/reassign-region/preview"))
        .query(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", postal),
            ("role", "commercial"),
        ])
        .send()
        .await
        .unwrap();
    let preview = json(preview).await;
    let html = unescape(preview["html"].as_str().unwrap());
    let previewed = hidden_field(&html, "previewed").expect("previewed field");
    assert_eq!(
        previewed.parse::<u64>().ok(),
        data_changed(&html),
        "the field carries the count the preview shows"
    );
    // Read the field before decoding the page, whose entities it may hold.
    let raw = preview["html"].as_str().unwrap();
    let previewed_for = unescape(&hidden_field(raw, "previewed_for").expect("previewed_for field"));
    (previewed, previewed_for)
}

/// Sends the region dialog for `postal` to QT with the `previewed` count.
async fn submit_previewed(
    app: &TestApp,
    client: &reqwest::Client,
    postal: &str,
    (previewed, previewed_for): &(String, String),
) -> String {
    let (csrf, key) = region_form(app, client).await;
    let response = client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", postal),
            ("role", "commercial"),
            ("previewed", previewed.as_str()),
            ("previewed_for", previewed_for.as_str()),
            ("idempotency_key", key.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    text(app.follow(client, response).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_warns_of_changed_data() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let previewed = previewed_region(&app, &client, "51").await;
    // Meanwhile another administrator gives part of the Marne to QT.
    let other = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &other, "QT", "511").await;
    let moved_since = app.store.list_batches(1, 0).unwrap()[0].outcome.changed;
    assert!(moved_since > 0, "the demo base has contacts in 511");

    let page = submit_previewed(&app, &client, "51", &previewed).await;

    let applied = app.store.list_batches(1, 0).unwrap()[0].outcome.changed;
    let announced: u64 = previewed.0.parse().unwrap();
    assert_eq!(applied, announced - moved_since);
    let expected = format!(
        "Les données ont changé depuis l'aperçu : il annonçait {} contacts à réaffecter, et {} contacts l'ont été.",
        relais::french::count(announced),
        relais::french::count(applied)
    );
    assert!(
        unescape(&page).contains(&expected),
        "{expected} not in {page}"
    );
    assert!(page.contains("role=\"alert\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_is_silent_when_preview_held() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let previewed = previewed_region(&app, &client, "02").await;

    let page = submit_previewed(&app, &client, "02", &previewed).await;

    assert!(page.contains("appliquée"), "{page}");
    assert!(!page.contains("Les données ont changé depuis l'aperçu"));

    // Valider pressed after the codes changed, before their preview came:
    // the count in the form belongs to another selection and is ignored.
    let other = previewed_region(&app, &client, "51").await;
    let page = submit_previewed(&app, &client, "08", &other).await;
    assert!(page.contains("appliquée"), "{page}");
    assert!(
        !page.contains("Les données ont changé depuis l'aperçu"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_result_warns_of_changed_data() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QT", "51").await;
    let batch = app.store.list_batches(1, 0).unwrap().remove(0);
    let path = format!("/admin/batches/{}/undo", batch.id);
    let confirm = app.page(&client, &path).await;
    let previewed = hidden_field(&confirm, "previewed").expect("previewed field");
    assert_eq!(previewed, batch.outcome.changed.to_string());
    // Part of the batch's contacts move on before the undo is confirmed.
    let other = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &other, "QU", "511").await;

    let response = client
        .post(app.url(&path))
        .form(&[
            (
                "idempotency_key",
                hidden_field(&confirm, "idempotency_key").unwrap(),
            ),
            ("csrf_token", hidden_field(&confirm, "csrf_token").unwrap()),
            ("previewed", previewed.clone()),
        ])
        .send()
        .await
        .unwrap();
    let page = unescape(&text(app.follow(&client, response).await).await);

    let restored = app.store.list_batches(1, 0).unwrap()[0].outcome.changed;
    assert!(
        restored < batch.outcome.changed,
        "the 511 contacts stay with QU"
    );
    let expected = format!(
        "Les données ont changé depuis l'aperçu : il annonçait {} contacts à rendre à leur responsable précédent, et {} contacts l'ont été.",
        relais::french::count(batch.outcome.changed),
        relais::french::count(restored)
    );
    assert!(page.contains(&expected), "{expected} not in {page}");
}

/// The journal and the batch page report that an undone batch's changes
/// are back once its undo was undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_shows_a_reinstated_batch() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    submit_region(&app, &client, &form, "QT", "51").await;
    let batch = app.store.list_batches(1, 0).unwrap()[0].id;
    confirm_undo(&app, &client, batch).await;
    let undo = app.store.list_batches(1, 0).unwrap()[0].id;
    confirm_undo(&app, &client, undo).await;
    let redo = app.store.list_batches(1, 0).unwrap()[0].id;
    assert_eq!(
        app.store.batch(redo).unwrap().unwrap().undoes,
        Some(undo),
        "the third batch undoes the undo"
    );

    let state =
        format!("annulée par l'opération n° {undo}, puis rétablie par l'opération n° {redo}");
    let journal = unescape(&app.page(&client, "/admin/batches").await);
    assert!(journal.contains(&state), "{journal}");
    assert!(
        journal.contains("<th scope=\"col\">Fin</th>"),
        "the journal gives end times, which order undos"
    );
    let page = unescape(&app.page(&client, &format!("/admin/batches/{batch}")).await);
    assert!(page.contains(&state), "{page}");
}

/// A token form sent twice, by a double click or the browser's resend,
/// creates one token, and the second sending names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_form_sent_twice_creates_one() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let users_page = app.page(&client, "/admin/users").await;
    let csrf = hidden_field(&users_page, "csrf_token").unwrap();
    let submission = hidden_field(&users_page, "submission").unwrap();
    assert!(
        users_page.contains("<option value=\"\" selected>— Choisissez un utilisateur —</option>"),
        "no user is chosen for the administrator"
    );
    let count = || {
        relais::service::tokens::list_api_tokens(app.store.as_ref(), None)
            .unwrap()
            .len()
    };
    let tokens_before = count();
    let send = || {
        client
            .post(app.url("/admin/users/tokens"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("user", "QT"),
                ("label", "synchro"),
                ("submission", submission.as_str()),
            ])
            .send()
    };

    let first = send().await.unwrap();
    let second = send().await.unwrap();

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 303);
    assert_eq!(count(), tokens_before + 1);
    let created = relais::service::tokens::list_api_tokens(app.store.as_ref(), None)
        .unwrap()
        .into_iter()
        .map(|token| token.id)
        .max()
        .unwrap();
    let page = unescape(&app.page(&client, "/admin/users").await);
    assert!(
        page.contains(&format!(
            "Ce formulaire avait déjà créé le jeton n° {created}, et il n'en a pas créé d'autre."
        )),
        "{page}"
    );
    let next_form = hidden_field(&page, "submission").unwrap();
    assert_ne!(next_form, submission, "each page gets a fresh value");
}

/// A dialog whose hidden `last_batch` was altered runs nothing: that field
/// keeps a second tab from running the operation again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_last_batch_runs_nothing() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let form = app.page(&client, "/admin/reassign-region").await;
    let batches_before = app.batch_count();

    let altered = form.replace(
        &format!(
            "name=\"last_batch\" value=\"{}\"",
            hidden_field(&form, "last_batch").unwrap()
        ),
        "name=\"last_batch\" value=\"abc\"",
    );
    let response = submit_region(&app, &client, &altered, "QT", "51").await;
    let user_form = app.page(&client, "/admin/reassign").await;
    let user_response = client
        .post(app.url("/admin/reassign"))
        .form(&[
            ("from", "JD"),
            ("to", "QT"),
            (
                "idempotency_key",
                hidden_field(&user_form, "idempotency_key")
                    .unwrap()
                    .as_str(),
            ),
            ("last_batch", "-1"),
            (
                "csrf_token",
                hidden_field(&user_form, "csrf_token").unwrap().as_str(),
            ),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let page = unescape(&text(response).await);
    assert!(
        page.contains("rechargez la page et validez de nouveau"),
        "{page}"
    );
    assert_eq!(user_response.status(), 400, "the user dialog checks it too");
    assert_eq!(app.batch_count(), batches_before);
}

/// A token form rejected for its fields can be corrected and sent again
/// from the same page; two sendings at once create one token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_form_resent_after_refusal_or_at_once() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let count = || {
        relais::service::tokens::list_api_tokens(app.store.as_ref(), None)
            .unwrap()
            .len()
    };
    let users_page = app.page(&client, "/admin/users").await;
    let csrf = hidden_field(&users_page, "csrf_token").unwrap();
    let send = |submission: String, user: &'static str| {
        client
            .post(app.url("/admin/users/tokens"))
            .form(&[
                ("csrf_token", csrf.clone()),
                ("user", user.to_string()),
                ("label", "synchro".to_string()),
                ("submission", submission),
            ])
            .send()
    };
    let tokens_before = count();

    let rejected = send("page-a".into(), "").await.unwrap();
    let corrected = send("page-a".into(), "QT").await.unwrap();
    let (first, second) = tokio::join!(send("page-b".into(), "QT"), send("page-b".into(), "QT"));
    let mut statuses = [
        first.unwrap().status().as_u16(),
        second.unwrap().status().as_u16(),
    ];
    statuses.sort();
    let too_long = send("x".repeat(101), "QT").await.unwrap();

    assert_eq!(rejected.status(), 422);
    assert_eq!(
        corrected.status(),
        200,
        "the refusal did not block the page"
    );
    assert_eq!(statuses, [200, 303], "one token page, one notice");
    assert_eq!(too_long.status(), 400);
    assert_eq!(count(), tokens_before + 2);
}
