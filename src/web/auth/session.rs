//! Login sessions: stored in the database (only the hash of the cookie's
//! token), so that several servers on one database share them.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::domain::batch::Actor;
use crate::domain::user::{User, UserRole};
use crate::service::tokens::{hash_secret, new_secret};
use crate::storage::NewSession;

use super::cookies::{self, SESSION_COOKIE};
use crate::web::error::AppError;
use crate::web::pages::error_page::PageError;
use crate::web::state::AppState;

/// The logged-in user of a request and the CSRF token of the session.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub token_hash: String,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.user.role == UserRole::Admin
    }

    pub fn actor(&self) -> Actor {
        actor_of(&self.user)
    }
}

pub fn actor_of(user: &User) -> Actor {
    Actor::user(user.id, &user.first_name, &user.last_name, &user.initials)
}

/// Loads the session named by the request's cookie; `None` when there is
/// no cookie, or it is unknown, expired, or its user was deactivated.
pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, AppError> {
    let Some(token) = cookies::read(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let token_hash = hash_secret(&token);
    state
        .run(move |store| {
            let Some(record) = store.session(&token_hash)? else {
                return Ok(None);
            };
            let Some(user) = store.user_by_id(record.user_id)? else {
                return Ok(None);
            };
            Ok(user.active.then_some(Session {
                user,
                csrf_token: record.csrf_token,
                token_hash,
            }))
        })
        .await
}

/// Opens a session for `user`, whose login checked `password_hash`, and
/// returns the cookie token to hand out. Returns `None` when the user was
/// deactivated or given another password since the check.
pub async fn open(
    state: &AppState,
    user: &User,
    password_hash: String,
) -> Result<Option<String>, AppError> {
    let token = new_secret("");
    let session = NewSession {
        token_hash: hash_secret(&token),
        user_id: user.id,
        password_hash,
        csrf_token: new_secret(""),
        expires_at: chrono::Utc::now() + state.config.session_ttl,
    };
    let opened = state
        .run(move |store| Ok(store.create_session(&session)?))
        .await?;
    Ok(opened.then_some(token))
}

/// Puts the session on the request span, for the logs of this request.
fn record_user(session: &Session) {
    tracing::Span::current().record("user.id", session.user.id);
}

/// Extractor of the logged-in user for screens; redirects to the login
/// page when there is none. The CSRF middleware may have loaded the
/// session already, in which case it is reused.
pub struct CurrentUser(pub Session);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<Session>() {
            record_user(session);
            return Ok(CurrentUser(session.clone()));
        }
        match load(state, &parts.headers).await? {
            Some(session) => {
                record_user(&session);
                parts.extensions.insert(session.clone());
                Ok(CurrentUser(session))
            }
            None => Err(PageError::LoginRequired {
                next: parts
                    .uri
                    .path_and_query()
                    .map(|path| path.as_str().to_string())
                    .unwrap_or_else(|| "/".to_string()),
            }),
        }
    }
}

/// Extractor of a logged-in administrator; 403 for other users.
pub struct AdminUser(pub Session);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let CurrentUser(session) = CurrentUser::from_request_parts(parts, state).await?;
        if session.is_admin() {
            Ok(AdminUser(session))
        } else {
            tracing::warn!(user.id = session.user.id, path = %parts.uri.path(), "admin screen rejected for a non-admin user");
            Err(PageError::App(AppError::Forbidden))
        }
    }
}
