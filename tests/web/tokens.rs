//! API tokens on the users page and in the API: the list without secrets,
//! revocation with CSRF protection, deactivation, and the 401 of a revoked
//! token.

use relais::service::tokens::{hash_secret, revoke_api_token};
use reqwest::Method;

use crate::support::{TestApp, hidden_field, json, text};

/// Id of the token the test database gives a user.
fn token_id_of(app: &TestApp, initials: &str) -> i64 {
    let user = app.store.find_user(initials).unwrap().unwrap();
    app.store.list_api_tokens(Some(user.id)).unwrap()[0].id
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.api(Method::GET, "/api/v1/me", Some(token))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_token_gets_same_401_as_unknown() {
    let app = TestApp::start().await;
    revoke_api_token(app.store.as_ref(), token_id_of(&app, "QU")).unwrap();

    let revoked = app
        .api(Method::GET, "/api/v1/contacts", Some(&app.user_token))
        .send()
        .await
        .unwrap();
    let unknown = app
        .api(Method::GET, "/api/v1/contacts", Some("relais_not-a-token"))
        .send()
        .await
        .unwrap();

    assert_eq!(revoked.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        revoked.headers()["www-authenticate"],
        unknown.headers()["www-authenticate"]
    );
    let (revoked, unknown) = (json(revoked).await, json(unknown).await);
    assert_eq!(revoked["code"], "unauthenticated");
    assert_eq!(revoked["message"], unknown["message"]);
    assert_eq!(me_status(&app, &app.admin_token).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_use_recorded_by_api_calls() {
    let app = TestApp::start().await;
    let id = token_id_of(&app, "QA");
    let last_use = || {
        app.store
            .list_api_tokens(None)
            .unwrap()
            .into_iter()
            .find(|token| token.id == id)
            .unwrap()
            .last_used_at
    };
    assert_eq!(last_use(), None);

    assert_eq!(me_status(&app, &app.admin_token).await, 200);
    let first = last_use().expect("first call recorded");
    assert_eq!(me_status(&app, &app.admin_token).await, 200);

    assert_eq!(last_use(), Some(first), "second call within a minute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_page_lists_tokens_without_secrets() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let qu_token = token_id_of(&app, "QU");

    let page = app.page(&client, "/admin/users").await;

    assert!(page.contains("<h2 id=\"tokens-title\">Jetons d'API</h2>"));
    assert!(page.contains(&format!("<td>{qu_token}</td>")), "{page}");
    assert!(page.contains("<td class=\"breakable\">Ursule USER (QU)</td>"));
    assert!(page.contains(&format!("action=\"/admin/users/tokens/{qu_token}/revoke\"")));
    assert!(page.contains(&format!(
        "aria-label=\"Révoquer le jeton n° {qu_token} d'Ursule USER (QU)…\""
    )));
    for secret in [&app.admin_token, &app.user_token] {
        assert!(!page.contains(secret.as_str()), "secret on the page");
        assert!(!page.contains(&hash_secret(secret)), "hash on the page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_page_revokes_token() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let csrf = hidden_field(&app.page(&client, "/admin/users").await, "csrf_token").unwrap();
    let id = token_id_of(&app, "QU");
    let path = format!("/admin/users/tokens/{id}/revoke");

    let without_csrf = client.post(app.url(&path)).send().await.unwrap();
    assert_eq!(without_csrf.status(), 403);
    assert_eq!(me_status(&app, &app.user_token).await, 200, "still valid");

    let revoked = client
        .post(app.url(&path))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 303);
    let location = revoked.headers()["location"].to_str().unwrap().to_string();
    let notice = app.page(&client, &location).await;
    assert!(
        notice.contains(&format!(
            "Jeton n° {id} révoqué : l'API le refuse désormais."
        )),
        "{notice}"
    );
    assert!(notice.contains("<span class=\"badge\">révoqué le "));
    let badge_start = notice.find("révoqué le ").unwrap() + "révoqué le ".len();
    assert_eq!(
        notice[badge_start..].find(" à "),
        Some(10),
        "« le JJ/MM/AAAA à HH:MM »: {notice}"
    );
    assert!(
        !notice.contains(&format!("action=\"{path}\"")),
        "no second button"
    );
    assert_eq!(me_status(&app, &app.user_token).await, 401);

    let again = client
        .post(app.url(&path))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert!(text(again).await.contains(&format!(
        "Jeton n° {id} (« tests », Ursule USER (QU)) : déjà révoqué le "
    )));

    let unknown = client
        .post(app.url("/admin/users/tokens/9999/revoke"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
    assert!(
        text(unknown).await.contains(
            "Jeton n° 9999 : aucun jeton d'API ne porte ce numéro ; rien n'a été modifié."
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_stays_revoked_after_reactivation() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let csrf = hidden_field(&app.page(&client, "/admin/users").await, "csrf_token").unwrap();
    let qu = app.store.find_user("QU").unwrap().unwrap();

    for action in ["deactivate", "activate"] {
        let response = client
            .post(app.url(&format!("/admin/users/{}/{action}", qu.id)))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{action}");
    }

    assert!(app.store.find_user("QU").unwrap().unwrap().active);
    assert_eq!(me_status(&app, &app.user_token).await, 401);
    let listed = app.store.list_api_tokens(Some(qu.id)).unwrap();
    assert!(listed[0].revoked_at.is_some());
}
