//! Login page, sessions, logout and throttling of failed logins.

use crate::support::{PASSWORD, TestApp, hidden_field, text, unescape};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_is_french() {
    let app = TestApp::start().await;

    let page = text(app.client().get(app.url("/login")).send().await.unwrap()).await;

    assert!(page.contains("<html lang=\"fr\">"));
    assert!(page.contains("<h1 id=\"login-title\">Connexion</h1>"));
    assert!(page.contains("Mot de passe"));
    assert!(page.contains("Se connecter"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_logout() {
    let app = TestApp::start().await;
    let client = app.client();

    let before = client.get(app.url("/contacts")).send().await.unwrap();
    assert_eq!(before.status(), 303);
    assert_eq!(before.headers()["location"], "/login?next=%2Fcontacts");

    let login = app.submit_login(&client, "QA", PASSWORD).await;
    assert_eq!(login.status(), 303);
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .find(|value| value.starts_with("relais_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Strict"));
    assert!(cookie.contains("Path=/"));

    let contacts = app.page(&client, "/contacts").await;
    assert!(contacts.contains("Quentin ADMIN (QA)"));
    assert!(contacts.contains("Se déconnecter"));

    let token = hidden_field(&contacts, "csrf_token").unwrap();
    let logout = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    assert_eq!(logout.headers()["location"], "/login");

    let after = client.get(app.url("/contacts")).send().await.unwrap();
    assert_eq!(after.status(), 303, "the session is gone after logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_out_session_cookie_is_dead() {
    let app = TestApp::start().await;
    let client = app.client();
    let login = app.submit_login(&client, "QA", PASSWORD).await;
    let session = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .find(|value| value.starts_with("relais_session="))
        .unwrap();
    let session = session.split(';').next().unwrap().to_string();
    let page = app.page(&client, "/contacts").await;
    let token = hidden_field(&page, "csrf_token").unwrap();
    client
        .post(app.url("/logout"))
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap();

    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/contacts"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();

    assert_eq!(replayed.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_email_works() {
    let app = TestApp::start().await;
    let client = app.client();

    let response = app.submit_login(&client, "qa@example.org", PASSWORD).await;

    assert_eq!(response.status(), 303);
    assert!(
        app.page(&client, "/contacts")
            .await
            .contains("Quentin ADMIN (QA)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused() {
    let app = TestApp::start().await;
    let client = app.client();

    let response = app.submit_login(&client, "QA", "not the password").await;

    assert_eq!(response.status(), 200);
    let has_session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|value| value.to_str().unwrap().starts_with("relais_session="));
    assert!(!has_session, "no session for a wrong password");
    let page = text(response).await;
    assert!(page.contains("E-mail, identifiant, initiales ou mot de passe incorrect."));
    assert!(page.contains("role=\"alert\""));
    assert_eq!(
        client
            .get(app.url("/contacts"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_login_is_refused_alike() {
    let app = TestApp::start().await;

    let response = app
        .submit_login(&app.client(), "nobody@example.org", PASSWORD)
        .await;

    assert_eq!(response.status(), 200);
    assert!(
        text(response)
            .await
            .contains("E-mail, identifiant, initiales ou mot de passe incorrect.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_throttled() {
    let app = TestApp::start().await;
    let client = app.client();

    for attempt in 1..=5 {
        let response = app.submit_login(&client, "QA", "wrong password").await;
        assert_eq!(
            response.status(),
            200,
            "failure {attempt} is answered normally"
        );
    }
    let throttled = app.submit_login(&client, "QA", PASSWORD).await;

    assert_eq!(
        throttled.status(),
        429,
        "the right password is refused too once throttled"
    );
    assert!(throttled.headers().contains_key("retry-after"));
    let page = text(throttled).await;
    assert!(page.contains("Trop de tentatives"));
    assert!(page.contains("réessayez dans un quart d'heure"));
    assert_eq!(
        client
            .get(app.url("/contacts"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );

    let other = app.submit_login(&app.client(), "QU", PASSWORD).await;
    assert_eq!(other.status(), 303, "another account is not throttled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_clears_earlier_failures() {
    let app = TestApp::start().await;
    let client = app.client();

    for _ in 0..4 {
        app.submit_login(&client, "QA", "wrong password").await;
    }
    assert_eq!(
        app.submit_login(&client, "QA", PASSWORD).await.status(),
        303
    );
    for _ in 0..4 {
        app.submit_login(&app.client(), "QA", "wrong password")
            .await;
    }

    assert_eq!(
        app.submit_login(&app.client(), "QA", PASSWORD)
            .await
            .status(),
        303
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_user_cannot_log_in() {
    let app = TestApp::start().await;
    let user = app.store.find_user("QU").unwrap().unwrap();
    app.store.set_user_active(user.id, false).unwrap();

    let response = app.submit_login(&app.client(), "QU", PASSWORD).await;

    assert_eq!(response.status(), 200);
    assert!(text(response).await.contains("Ce compte est désactivé"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_ends_open_sessions() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;
    let user = app.store.find_user("QU").unwrap().unwrap();

    app.store.set_user_active(user.id, false).unwrap();

    assert_eq!(
        client
            .get(app.url("/contacts"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
}

/// A new password ends the sessions opened with the old one, which may
/// have leaked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_ends_open_sessions() {
    let app = TestApp::start().await;
    let client = app.logged_in("QU").await;
    let user = app.store.find_user("QU").unwrap().unwrap();
    let before = client
        .get(app.url("/contacts"))
        .send()
        .await
        .unwrap()
        .status();

    relais::service::users::set_password(app.store.as_ref(), &user, "un autre mot de passe")
        .unwrap();

    let after = client
        .get(app.url("/contacts"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(before, 200);
    assert_eq!(after, 303, "the old session leads to the login page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_post_without_its_cookie_is_refused() {
    let app = TestApp::start().await;

    let response = app
        .client()
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", "forged"),
            ("login", "QA"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_goes_back_to_the_page_asked() {
    let app = TestApp::start().await;
    let client = app.client();
    let page = text(
        client
            .get(app.url("/login?next=/admin/batches"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = hidden_field(&page, "csrf_token").unwrap();

    let response = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("login", "QA"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/",
        "a next address on another site is ignored"
    );
    assert!(page.contains("name=\"next\" value=\"/admin/batches\""));
}

/// A user who is not an administrator, sent to the login by a link to the
/// administration, lands on the contacts rather than on a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_login_skips_admin_page() {
    let app = TestApp::start().await;
    let post_login = |login: &'static str| {
        let app = &app;
        async move {
            let client = app.client();
            let page = text(
                client
                    .get(app.url("/login?next=/admin/batches"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            let token = hidden_field(&page, "csrf_token").unwrap();
            client
                .post(app.url("/login"))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("login", login),
                    ("password", PASSWORD),
                    ("next", "/admin/batches"),
                ])
                .send()
                .await
                .unwrap()
        }
    };

    let user = post_login("QU").await;
    let admin = post_login("QA").await;

    assert_eq!(user.status(), 303);
    assert_eq!(user.headers()["location"], "/contacts");
    assert_eq!(admin.headers()["location"], "/admin/batches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_login_tabs_both_work() {
    let app = TestApp::start().await;
    let client = app.client();
    let first = text(client.get(app.url("/login")).send().await.unwrap()).await;
    let second = text(client.get(app.url("/login")).send().await.unwrap()).await;
    let first_token = hidden_field(&first, "csrf_token").unwrap();

    let response = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", first_token.as_str()),
            ("login", "QA"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(hidden_field(&second, "csrf_token"), Some(first_token));
    assert_eq!(response.status(), 303);
}

/// Value of the session cookie a successful login sets.
fn session_cookie(login: &reqwest::Response) -> String {
    login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("relais_session="))
        .and_then(|rest| rest.split(';').next())
        .expect("session cookie")
        .to_string()
}

/// The base keeps only a SHA-256 hash of each session id, and a session
/// past its expiry time is refused, which sends the browser to the login
/// page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_stored_hashed_and_expire() {
    let app = TestApp::start().await;
    let client = app.client();
    let login = app.submit_login(&client, "QA", PASSWORD).await;
    assert_eq!(login.status(), 303);
    let cookie = session_cookie(&login);

    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    let stored: Vec<String> = conn
        .prepare("SELECT token_hash FROM sessions")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored, [relais::service::tokens::hash_secret(&cookie)]);
    assert_ne!(stored[0], cookie);
    let open = client.get(app.url("/contacts")).send().await.unwrap();
    assert_eq!(open.status(), 200);

    conn.execute(
        "UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000Z'",
        [],
    )
    .unwrap();
    let expired = client.get(app.url("/contacts")).send().await.unwrap();

    assert_eq!(expired.status(), 303);
    assert_eq!(expired.headers()["location"], "/login?next=%2Fcontacts");
}

/// The lock on an account lifts once its failures are older than the
/// 15-minute window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_lifts_after_its_window() {
    let app = TestApp::start().await;
    let client = app.client();
    for _ in 1..=5 {
        app.submit_login(&client, "QA", "wrong password").await;
    }
    let throttled = app.submit_login(&client, "QA", PASSWORD).await;
    assert_eq!(throttled.status(), 429);

    // Sixteen minutes later, as far as the failures are concerned.
    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    conn.execute(
        "UPDATE login_failures SET at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-16 minutes')",
        [],
    )
    .unwrap();
    let lifted = app.submit_login(&client, "QA", PASSWORD).await;

    assert_eq!(lifted.status(), 303);
}

/// A dialog sent after its session ended goes to the login page, which
/// reports that nothing was changed, then back to the dialog, refilled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_form_resumes_after_login() {
    let app = TestApp::start().await;
    let client = app.logged_in("QA").await;
    let dialog = app.page(&client, "/admin/reassign-region").await;
    let csrf = hidden_field(&dialog, "csrf_token").unwrap();
    let key = hidden_field(&dialog, "idempotency_key").unwrap();
    client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let batches_before = app.batch_count();

    let sent = client
        .post(app.url("/admin/reassign-region"))
        .form(&[
            ("to", "QT"),
            ("country", "FRA"),
            ("postal", "51;02"),
            ("role", "commercial"),
            ("idempotency_key", key.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(sent.status(), 303);
    assert_eq!(app.batch_count(), batches_before, "nothing ran");
    let location = sent.headers()["location"].to_str().unwrap().to_string();
    let resume = "/admin/reassign-region?to=QT&country=FRA&postal=51%3B02&role=commercial";
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(location.strip_prefix("/login?").unwrap()).unwrap();
    assert_eq!(
        query,
        vec![
            ("next".to_string(), resume.to_string()),
            ("expired".to_string(), "1".to_string())
        ]
    );
    let login_page = unescape(&app.page(&client, &location).await);
    assert!(
        login_page.contains(
            "Votre session a pris fin avant l'envoi du formulaire : rien n'a été modifié."
        ),
        "{login_page}"
    );

    let page = text(client.get(app.url("/login")).send().await.unwrap()).await;
    let token = hidden_field(&page, "csrf_token").unwrap();
    let login = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("login", "QA"),
            ("password", PASSWORD),
            ("next", resume),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["location"], resume);
    let refilled = unescape(&app.page(&client, resume).await);
    assert!(refilled.contains("value=\"51;02\""), "{refilled}");
}
