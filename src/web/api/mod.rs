//! The JSON API under `/api/v1`, authenticated by bearer tokens.

pub mod batches;
mod body;
pub mod contacts;
pub mod error;
pub mod openapi;
pub mod reassign;
pub mod users;
pub mod views;

use axum::Router;
use axum::routing::{get, post};

use super::state::AppState;

/// Builds the API routes, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/me", get(users::me))
        .route("/users", get(users::list))
        .route("/reassignments/preview", post(reassign::preview_user))
        .route("/reassignments", post(reassign::apply_user))
        .route(
            "/region-reassignments/preview",
            post(reassign::preview_region),
        )
        .route("/region-reassignments", post(reassign::apply_region))
        .route("/batches", get(batches::list))
        .route("/batches/{id}", get(batches::show))
        .route("/batches/{id}/contacts", get(batches::contacts))
        .route("/batches/{id}/undo", post(batches::undo))
        .route("/batches/{id}/undo/preview", post(batches::undo_preview))
        .route("/contacts", get(contacts::list))
        .route("/contacts/{id}", get(contacts::show))
        .route("/contacts/{id}/history", get(contacts::history))
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::not_found)
}
