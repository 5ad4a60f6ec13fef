//! API of users: the list (administrators) and the token's own user.

use axum::Json;
use axum::extract::State;

use crate::domain::user::User;
use crate::web::auth::bearer::{ApiAdmin, ApiUser};
use crate::web::state::AppState;

use super::error::ApiError;

/// Lists every user, active ones first, as `relais user list --json` prints them.
pub async fn list(
    State(state): State<AppState>,
    ApiAdmin(_user): ApiAdmin,
) -> Result<Json<Vec<User>>, ApiError> {
    let users = state.run(|store| Ok(store.list_users()?)).await?;
    Ok(Json(users))
}

/// Returns the user owning the token, so that a script can check its credentials.
pub async fn me(ApiUser(user): ApiUser) -> Json<User> {
    Json(user)
}
