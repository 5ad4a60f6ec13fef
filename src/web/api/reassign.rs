//! API of the two reassignments: preview and run. Both are for
//! administrators; a run takes an optional `Idempotency-Key` header.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::domain::batch::Applied;
use crate::domain::user::User;
use crate::service::ServiceError;
use crate::service::prefix_rows::typed_prefix_counts;
use crate::service::reassign::{
    PreparedRegionReassignment, PreparedUserReassignment, RunContextInput,
    apply_region_reassignment, apply_user_reassignment, prepare_region_reassignment,
    prepare_user_reassignment, preview_user_reassignment, region_form_problems, user_form_problems,
};
use crate::storage::Store;
use crate::web::auth::bearer::ApiAdmin;
use crate::web::auth::session::actor_of;
use crate::web::error::AppError;
use crate::web::idempotency::{MAX_IDEMPOTENCY_KEY_LEN, scoped_idempotency_key};
use crate::web::state::AppState;

use super::body::{JsonBody, string_fields};
use super::error::ApiError;
use super::views;

pub struct UserReassignmentRequest {
    from: String,
    to: String,
    /// Unknown fields and values of the wrong type.
    body_problems: Vec<ServiceError>,
}

impl UserReassignmentRequest {
    fn read(body: JsonBody) -> Result<Self, ApiError> {
        let (fields, body_problems) = string_fields(body, &["from", "to"])?;
        Ok(UserReassignmentRequest {
            from: fields.text("from"),
            to: fields.text("to"),
            body_problems,
        })
    }

    fn prepare(&mut self, store: &dyn Store) -> Checked<PreparedUserReassignment> {
        every_problem(
            prepare_user_reassignment(store, &self.from, &self.to),
            std::mem::take(&mut self.body_problems),
            || user_form_problems(store, &self.from, &self.to),
        )
    }
}

pub struct RegionReassignmentRequest {
    to: String,
    /// `FRA` when absent or blank.
    country: Option<String>,
    postal: String,
    /// `commercial` when absent; also `technical` or `both`.
    role: Option<String>,
    /// Unknown fields and values of the wrong type.
    body_problems: Vec<ServiceError>,
}

impl RegionReassignmentRequest {
    fn read(body: JsonBody) -> Result<Self, ApiError> {
        let (fields, body_problems) = string_fields(body, &["to", "country", "postal", "role"])?;
        Ok(RegionReassignmentRequest {
            to: fields.text("to"),
            country: fields.optional("country"),
            postal: fields.text("postal"),
            role: fields.optional("role"),
            body_problems,
        })
    }

    fn country(&self) -> &str {
        match self.country.as_deref().map(str::trim) {
            None | Some("") => "FRA",
            Some(country) => country,
        }
    }

    fn prepare(&mut self, store: &dyn Store) -> Checked<PreparedRegionReassignment> {
        let body_problems = std::mem::take(&mut self.body_problems);
        let role = self.role.as_deref();
        every_problem(
            prepare_region_reassignment(store, &self.to, self.country(), &self.postal, role),
            body_problems,
            || region_form_problems(store, Some(&self.to), self.country(), &self.postal, role),
        )
    }
}

/// A prepared reassignment, or every invalid field of its request: the
/// problems of the body first, then the one the preparation stopped at.
type Checked<T> = Result<Result<T, ApiError>, AppError>;

/// Lists every problem of a request: those of its body, the rejection by
/// the preparation, then the other invalid values that `problems` finds. A
/// field appears once, under its first problem.
fn every_problem<T>(
    prepared: Result<T, ServiceError>,
    body_problems: Vec<ServiceError>,
    problems: impl FnOnce() -> Result<Vec<ServiceError>, ServiceError>,
) -> Checked<T> {
    let mut listed = body_problems;
    let rejection = match prepared {
        Ok(prepared) if listed.is_empty() => return Ok(Ok(prepared)),
        Ok(_) => None,
        Err(error @ ServiceError::Invalid { .. }) => Some(error),
        Err(error) => return Err(error.into()),
    };
    for other in rejection.into_iter().chain(problems()?) {
        if !listed
            .iter()
            .any(|problem| problem.field() == other.field())
        {
            listed.push(other);
        }
    }
    let first = listed.remove(0);
    Ok(Err(ApiError::fields(first, listed)))
}

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Builds the run context of an API call: the token's user as actor, and the
/// `Idempotency-Key` header scoped to that user.
pub fn run_context(user: &User, headers: &HeaderMap) -> Result<RunContextInput, ApiError> {
    // A proxy or a client library that adds its own key would otherwise
    // have one of the two ignored without a word.
    if headers.get_all(IDEMPOTENCY_HEADER).iter().nth(1).is_some() {
        return Err(AppError::bad_request(
            "invalid_idempotency_key",
            "en-tête Idempotency-Key donné plusieurs fois : envoyez-en un seul",
        )
        .into());
    }
    let key = match headers.get(IDEMPOTENCY_HEADER) {
        None => None,
        Some(value) => {
            // A header that is not visible ASCII is rejected like an empty key.
            let text = value.to_str().unwrap_or_default();
            let scoped = scoped_idempotency_key(user.id, text).map_err(|_| {
                let received = String::from_utf8_lossy(value.as_bytes());
                let mut quoted_key: String = received.chars().take(40).collect();
                if received.chars().count() > 40 {
                    quoted_key.push('…');
                }
                AppError::bad_request(
                    "invalid_idempotency_key",
                    format!(
                        "en-tête Idempotency-Key « {quoted_key} » invalide : donnez de 1 à {MAX_IDEMPOTENCY_KEY_LEN} caractères ASCII visibles, sans espace ni accent, par exemple un UUID"
                    ),
                )
            })?;
            Some(scoped)
        }
    };
    Ok(RunContextInput {
        actor: actor_of(user),
        idempotency_key: key,
    })
}

/// Builds the response of a run: 201 with the new batch's address when the
/// run recorded a batch, else 200 (a replay, or nothing to change).
pub fn run_response(applied: &Applied, body: Value) -> Response {
    match applied.batch_id {
        Some(id) if !applied.replayed => (
            StatusCode::CREATED,
            [(header::LOCATION, format!("/api/v1/batches/{id}"))],
            Json(body),
        )
            .into_response(),
        _ => (StatusCode::OK, Json(body)).into_response(),
    }
}

pub async fn preview_user(
    State(state): State<AppState>,
    ApiAdmin(_user): ApiAdmin,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let mut request = UserReassignmentRequest::read(body)?;
    let value = state
        .run(move |store| {
            let prepared = match request.prepare(store)? {
                Ok(prepared) => prepared,
                Err(invalid) => return Ok(Err(invalid)),
            };
            let outcome = preview_user_reassignment(store, &prepared)?;
            Ok(Ok(views::user_reassignment(&prepared, &outcome, None)))
        })
        .await??;
    Ok(Json(value))
}

pub async fn apply_user(
    State(state): State<AppState>,
    ApiAdmin(user): ApiAdmin,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let mut request = UserReassignmentRequest::read(body)?;
    let run = run_context(&user, &headers)?;
    let (applied, value) = state
        .run(move |store| {
            let prepared = match request.prepare(store)? {
                Ok(prepared) => prepared,
                Err(invalid) => return Ok(Err(invalid)),
            };
            let applied = apply_user_reassignment(store, &prepared, run)?;
            let value = views::user_reassignment(&prepared, &applied.outcome, Some(&applied));
            Ok(Ok((applied, value)))
        })
        .await??;
    Ok(run_response(&applied, value))
}

pub async fn preview_region(
    State(state): State<AppState>,
    ApiAdmin(_user): ApiAdmin,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let mut request = RegionReassignmentRequest::read(body)?;
    let previews = std::sync::Arc::clone(&state.previews);
    let value = state
        .run(move |store| {
            let prepared = match request.prepare(store)? {
                Ok(prepared) => prepared,
                Err(invalid) => return Ok(Err(invalid)),
            };
            let preview = previews.region_preview(store, &prepared)?;
            let typed_prefixes = typed_prefix_counts(&prepared, &preview, |departement| {
                Ok(previews.region_preview(store, departement)?.outcome.matched)
            })?;
            Ok(Ok(views::region_preview(
                &prepared,
                &preview,
                &typed_prefixes,
            )))
        })
        .await??;
    Ok(Json(value))
}

pub async fn apply_region(
    State(state): State<AppState>,
    ApiAdmin(user): ApiAdmin,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let mut request = RegionReassignmentRequest::read(body)?;
    let run = run_context(&user, &headers)?;
    let (applied, value) = state
        .run(move |store| {
            let prepared = match request.prepare(store)? {
                Ok(prepared) => prepared,
                Err(invalid) => return Ok(Err(invalid)),
            };
            let applied = apply_region_reassignment(store, &prepared, run)?;
            let value = views::region_applied(&prepared, &applied);
            Ok(Ok((applied, value)))
        })
        .await??;
    Ok(run_response(&applied, value))
}
