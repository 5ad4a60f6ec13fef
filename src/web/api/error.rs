//! Errors of the JSON API: `{"code", "message", "field"?, "request_id"}`
//! with a stable English code and a French message.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::service::ServiceError;
use crate::storage::StoreError;
use crate::web::error::AppError;
use crate::web::request_id;

#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError(error)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        ApiError(error.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError(error.into())
    }
}

/// Builds the error for a body over axum's default limit of 2 MiB.
pub fn body_too_large() -> ApiError {
    ApiError(AppError::bad_request(
        "body_too_large",
        "corps de la requête : plus de 2 Mio, la taille maximale ; envoyez un corps plus \
         court (pour une réaffectation par région, des départements, 51 ou 02, plutôt que \
         tous leurs codes postaux, ou plusieurs réaffectations)",
    ))
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return body_too_large();
        }
        let message = match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "corps de la requête : envoyez du JSON avec l'en-tête « Content-Type: application/json »"
            }
            JsonRejection::JsonSyntaxError(_) => "corps de la requête : JSON mal formé",
            JsonRejection::JsonDataError(_) => {
                "corps de la requête : un champ a un type inattendu ; chaque champ attendu est une chaîne de caractères"
            }
            _ => "corps de la requête : illisible",
        };
        ApiError(AppError::bad_request("invalid_json", message))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError(AppError::bad_request(
            "invalid_query",
            "paramètres de la requête invalides : limit et offset sont des nombres entiers positifs",
        ))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        error.log();
        let request_id = request_id::current();
        let mut body = json!({
            "code": error.code(),
            "message": error.message(&request_id),
            "request_id": request_id,
        });
        if let Some(field) = error.field() {
            body["field"] = json!(field);
        }
        let status = error.status();
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"relais\""),
            );
        }
        response
    }
}

/// Known paths under `/api/` asked with a method they do not take.
pub async fn method_not_allowed() -> Response {
    ApiError(AppError::MethodNotAllowed(
        "méthode HTTP non prise en charge à cette adresse ; les opérations de l'API et leurs méthodes sont dans /api/v1/openapi.json",
    ))
    .into_response()
}

/// Unknown paths under `/api/`.
pub async fn not_found() -> Response {
    ApiError(AppError::not_found(
        "not_found",
        "aucune opération de l'API à cette adresse ; la liste est dans /api/v1/openapi.json",
    ))
    .into_response()
}
