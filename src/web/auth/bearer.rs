//! Bearer-token authentication of the JSON API. Tokens are looked up by
//! their SHA-256 hash. A revoked token gets the same 401 as an unknown
//! one. The API ignores session cookies, so that no browser can be made to
//! call it on a user's behalf.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::domain::user::{User, UserRole};
use crate::service::tokens::{hash_secret, note_api_token_use};

use crate::web::api::error::ApiError;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The active user owning the request's API token.
pub struct ApiUser(pub User);

/// An [`ApiUser`] who is an administrator; 403 for other users.
pub struct ApiAdmin(pub User);

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer_token(parts) else {
            return Err(ApiError::from(AppError::Unauthenticated));
        };
        let token_hash = hash_secret(token);
        let uses = std::sync::Arc::clone(&state.token_uses);
        let user = state
            .run(move |store| {
                let user = store.api_token_user(&token_hash)?;
                if user.is_some() {
                    note_api_token_use(store, &uses, &token_hash);
                }
                Ok(user)
            })
            .await?;
        match user {
            Some(user) => {
                tracing::Span::current().record("user.id", user.id);
                Ok(ApiUser(user))
            }
            None => {
                tracing::warn!(path = %parts.uri.path(), "API call with an unknown or revoked token");
                Err(ApiError::from(AppError::Unauthenticated))
            }
        }
    }
}

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiUser(user) = ApiUser::from_request_parts(parts, state).await?;
        if user.role == UserRole::Admin {
            Ok(ApiAdmin(user))
        } else {
            tracing::warn!(user.id = user.id, path = %parts.uri.path(), "admin API call rejected for a non-admin user");
            Err(ApiError::from(AppError::Forbidden))
        }
    }
}
