//! The « Connexion » page, login with throttling of repeated failures, and
//! logout.
//!
//! Throttling: every attempt is first recorded as a failure for its key
//! (the account when the login names one, else the text typed, each with
//! the client's address), and a success clears the key. Once the key has
//! more than `WebConfig::login_max_failures` records in the window,
//! attempts get 429 without the password being checked, so guessing goes
//! no faster with the right password than with a wrong one. The address is
//! part of the key so that failures sent from one machine do not lock the
//! account's owner out on another. Behind a reverse proxy every request
//! comes from the proxy, so the address is read from `X-Forwarded-For`
//! when `WebConfig::trust_forwarded_for` is set.
//! Each failure also counts for the account alone, with a limit ten times
//! higher, so that guesses spread over many addresses stop too.
//! NOTE: guesses spread over many accounts from one address are not
//! slowed down.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::user::{User, UserRole};
use crate::service::tokens::new_secret;
use crate::service::users::{hash_password, verify_password};
use crate::storage::Store;

use super::cookies::{self, LOGIN_CSRF_COOKIE, LOGIN_CSRF_MAX_AGE_SECONDS, SESSION_COOKIE};
use super::csrf::LOGIN_PATH;
use super::session::{self, CurrentUser};
use crate::web::error::AppError;
use crate::web::pages::error_page::PageError;
use crate::web::pages::extract::{FormData, QueryData};
use crate::web::pages::layout::Layout;
use crate::web::pages::render;
use crate::web::state::{AppState, WebConfig};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    login: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Set when a form was sent after its session ended.
    expired: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

enum Attempt {
    /// The password matched this stored hash.
    Success(User, String),
    Failed {
        user_id: Option<i64>,
        attempts: u32,
    },
    Throttled {
        user_id: Option<i64>,
    },
    Inactive(User),
}

/// Tells whether `path` is a screen for administrators only.
fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/") || path.starts_with("/admin?")
}

pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Renders the login form. The login CSRF cookie already in the browser is
/// kept, so that two login tabs do not invalidate each other.
fn login_page(
    config: &WebConfig,
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    next: &str,
    error: Option<String>,
) -> Result<Response, PageError> {
    let token = cookies::read(headers, LOGIN_CSRF_COOKIE)
        .filter(|token| token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| new_secret(""));
    let page = LoginPage {
        layout: Layout::anonymous("Connexion"),
        csrf_token: token.clone(),
        login: login.to_string(),
        next: next.to_string(),
        error,
    };
    let mut response = (status, render(&page)?).into_response();
    if let Some(cookie) = cookies::set(
        LOGIN_CSRF_COOKIE,
        &token,
        LOGIN_PATH,
        LOGIN_CSRF_MAX_AGE_SECONDS,
        config.secure_cookies,
    ) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryData(query): QueryData<NextQuery>,
) -> Result<Response, PageError> {
    let next = safe_next(query.next.as_deref());
    if session::load(&state, &headers).await?.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let notice = query.expired.is_some().then(|| {
        "Votre session a pris fin avant l'envoi du formulaire : rien n'a été modifié. \
         Reconnectez-vous pour y revenir ; une fenêtre de réaffectation sera remplie comme \
         vous l'aviez laissée."
            .to_string()
    });
    login_page(&state.config, &headers, StatusCode::OK, "", &next, notice)
}

/// Returns the address of the client: the peer of the connection, or,
/// behind a trusted proxy, the last address of `X-Forwarded-For`, which
/// the proxy appended. A header that is missing or unreadable leaves the
/// peer's address.
fn client_address(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    if !trust_forwarded_for {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .and_then(|last| last.trim().parse::<IpAddr>().ok())
        .unwrap_or_else(|| peer.ip())
}

/// Message of a failed login, which does not tell which part was wrong.
const WRONG_CREDENTIALS: &str = "E-mail, identifiant, initiales ou mot de passe incorrect.";

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    FormData(form): FormData<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let login = form.login.trim().to_string();
    // The login page again, with the form's values and `message`.
    let login_again = |message: &str| {
        login_page(
            &state.config,
            &headers,
            StatusCode::OK,
            &login,
            &next,
            Some(message.to_string()),
        )
    };
    if login.is_empty() || form.password.is_empty() {
        return login_again(
            "Indiquez votre e-mail, votre identifiant ou vos initiales, et votre mot de passe.",
        );
    }

    let config = state.config.clone();
    let key_login = login.clone();
    let password = form.password;
    let client = client_address(peer, &headers, config.trust_forwarded_for);
    let attempt = state
        .run(move |store| {
            Ok(attempt_login(
                store, &config, &key_login, &password, client,
            )?)
        })
        .await?;

    match attempt {
        Attempt::Success(user, password_hash) => {
            let Some(token) = session::open(&state, &user, password_hash).await? else {
                // The password changed, or the user was deactivated, while
                // the password was being checked: the login fails as a
                // wrong password does.
                tracing::warn!(
                    user.id = user.id,
                    "login outdated by a password change or deactivation"
                );
                return login_again(WRONG_CREDENTIALS);
            };
            tracing::info!(user.id = user.id, user.initials = %user.initials, "user logged in");
            // A link to the administration followed by a user who is not
            // an administrator leads to the contacts, not to a refusal.
            let next = if user.role != UserRole::Admin && is_admin_path(&next) {
                "/contacts".to_string()
            } else {
                next
            };
            let mut response = Redirect::to(&next).into_response();
            let max_age = state.config.session_ttl.num_seconds();
            let secure = state.config.secure_cookies;
            append_cookie(
                &mut response,
                cookies::set(SESSION_COOKIE, &token, "/", max_age, secure),
            );
            append_cookie(
                &mut response,
                cookies::set(LOGIN_CSRF_COOKIE, "", LOGIN_PATH, 0, secure),
            );
            Ok(response)
        }
        Attempt::Failed { user_id, attempts } => {
            tracing::warn!(
                login.user_id = user_id,
                login.known = user_id.is_some(),
                login.attempts = attempts,
                login.client = %client,
                "login failed"
            );
            login_again(WRONG_CREDENTIALS)
        }
        Attempt::Throttled { user_id } => {
            tracing::warn!(
                login.user_id = user_id,
                login.known = user_id.is_some(),
                login.client = %client,
                "login rejected: too many failures"
            );
            let message = AppError::TooManyRequests.message("");
            let mut response = login_page(
                &state.config,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &login,
                &next,
                Some(message),
            )?;
            let retry = HeaderValue::from(state.config.login_window_seconds);
            response.headers_mut().insert(header::RETRY_AFTER, retry);
            Ok(response)
        }
        Attempt::Inactive(user) => {
            tracing::warn!(login.user_id = user.id, "login rejected: user inactive");
            let message = "Ce compte est désactivé : demandez à un administrateur de le réactiver."
                .to_string();
            login_page(
                &state.config,
                &headers,
                StatusCode::OK,
                &login,
                &next,
                Some(message),
            )
        }
    }
}

fn append_cookie(response: &mut Response, cookie: Option<HeaderValue>) {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

fn attempt_login(
    store: &dyn Store,
    config: &WebConfig,
    login: &str,
    password: &str,
    client: IpAddr,
) -> Result<Attempt, crate::storage::StoreError> {
    let user = store.find_user(login)?;
    let user_id = user.as_ref().map(|user| user.id);
    let client = throttled_address(client);
    let account = match user_id {
        Some(id) => format!("user:{id}"),
        None => format!("login:{}", login.to_lowercase()),
    };
    let key = format!("{account}@{client}");
    let attempts = store.record_login_failure(&key, config.login_window_seconds)?;
    // Guesses spread over many addresses are bounded per account too, at a
    // level no single address reaches, so that they cannot go on forever.
    let account_attempts = store.record_login_failure(&account, config.login_window_seconds)?;
    if attempts > config.login_max_failures
        || account_attempts > config.login_max_failures * ACCOUNT_FAILURES_PER_ADDRESS_LIMIT
    {
        return Ok(Attempt::Throttled { user_id });
    }

    let stored_hash = match &user {
        Some(user) => store.user_password_hash(user.id)?,
        None => None,
    };
    let valid = match &stored_hash {
        Some(hash) => verify_password(password, hash),
        None => {
            // Same work as a real check, so that response time does not
            // tell which logins exist.
            if let Some(dummy) = dummy_hash() {
                verify_password(password, dummy);
            }
            false
        }
    };
    match (user, stored_hash) {
        (Some(user), Some(_)) if valid && !user.active => Ok(Attempt::Inactive(user)),
        (Some(user), Some(hash)) if valid => {
            store.clear_login_failures(&key)?;
            store.clear_login_failures(&account)?;
            Ok(Attempt::Success(user, hash))
        }
        _ => Ok(Attempt::Failed { user_id, attempts }),
    }
}

/// Times the per-address limit of failures that one account takes from
/// all addresses together before every login to it is throttled.
const ACCOUNT_FAILURES_PER_ADDRESS_LIMIT: u32 = 10;

/// Returns the address failures are counted under: an IPv4 address given
/// in IPv6 form as the IPv4 one, and an IPv6 address as its /64 network,
/// since one subscriber usually gets a whole /64.
fn throttled_address(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
        v4 => v4,
    }
}

fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password("relais-timing-equaliser").ok())
        .as_deref()
}

pub async fn logout(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<Response, PageError> {
    let token_hash = session.token_hash.clone();
    state
        .run(move |store| Ok(store.delete_session(&token_hash)?))
        .await?;
    tracing::info!(user.id = session.user.id, "user logged out");

    let mut response = Redirect::to(LOGIN_PATH).into_response();
    append_cookie(
        &mut response,
        cookies::set(SESSION_COOKIE, "", "/", 0, state.config.secure_cookies),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};

    use axum::http::{HeaderMap, HeaderValue};

    use super::{Attempt, attempt_login, client_address, safe_next, throttled_address};
    use crate::domain::user::{NewUser, UserRole};
    use crate::service::users::hash_password;
    use crate::storage::Store;
    use crate::storage::sqlite::SqliteStore;
    use crate::web::state::WebConfig;

    const PASSWORD: &str = "bon-mot-de-passe";

    /// Creates a base in a temporary folder with one administrator, AM,
    /// whose password is `PASSWORD`.
    fn store_with_alice() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("login.db")).unwrap();
        store
            .create_user(&NewUser {
                initials: "AM".into(),
                login: None,
                first_name: "Alice".into(),
                last_name: "Martin".into(),
                email: Some("alice@exemple.fr".into()),
                role: UserRole::Admin,
                active: true,
                password_hash: Some(hash_password(PASSWORD).unwrap()),
            })
            .unwrap();
        (dir, store)
    }

    #[test]
    fn failures_lock_only_their_address() {
        let (_dir, store) = store_with_alice();
        let config = WebConfig::default();
        let attacker: IpAddr = "203.0.113.7".parse().unwrap();
        let owner: IpAddr = "198.51.100.2".parse().unwrap();
        let attempt = |password: &str, client: IpAddr| {
            attempt_login(&store, &config, "AM", password, client).unwrap()
        };

        for _ in 0..config.login_max_failures {
            assert!(matches!(
                attempt("devine", attacker),
                Attempt::Failed { .. }
            ));
        }

        assert!(matches!(
            attempt(PASSWORD, attacker),
            Attempt::Throttled { .. }
        ));
        assert!(matches!(attempt(PASSWORD, owner), Attempt::Success(..)));
    }

    #[test]
    fn addresses_grouped_as_one_subscriber() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();

        assert_eq!(throttled_address(ip("::ffff:10.0.0.2")), ip("10.0.0.2"));
        assert_eq!(throttled_address(ip("2001:db8::1")), ip("2001:db8::"));
        assert_eq!(throttled_address(ip("2001:db8::12")), ip("2001:db8::"));
        assert_eq!(
            throttled_address(ip("2001:db8:0:1::1")),
            ip("2001:db8:0:1::")
        );
        assert_eq!(throttled_address(ip("203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn failures_from_many_addresses_lock_the_account() {
        let (_dir, store) = store_with_alice();
        // One failure per address, so that only the account's own limit,
        // ten times that, can stop the guesses.
        let config = WebConfig {
            login_max_failures: 1,
            ..WebConfig::default()
        };
        let attempt = |password: &str, client: &str| {
            attempt_login(&store, &config, "AM", password, client.parse().unwrap()).unwrap()
        };

        for n in 0..10 {
            let client = format!("203.0.113.{n}");
            assert!(
                matches!(attempt("devine", &client), Attempt::Failed { .. }),
                "{n}"
            );
        }

        assert!(matches!(
            attempt(PASSWORD, "198.51.100.9"),
            Attempt::Throttled { .. }
        ));
    }

    #[test]
    fn client_address_from_the_proxy() {
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("10.9.9.9, 203.0.113.7"),
        );

        assert_eq!(client_address(peer, &headers, false), peer.ip());
        assert_eq!(
            client_address(peer, &headers, true),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("n'importe quoi"),
        );
        assert_eq!(client_address(peer, &headers, true), peer.ip());
        assert_eq!(client_address(peer, &HeaderMap::new(), true), peer.ip());
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/contacts?page=2")), "/contacts?page=2");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
