//! Errors of the JSON API: `{"code", "message", "field"?, "errors"?,
//! "request_id"}` with a stable English code and a French message. An
//! error about the request's fields also lists, in `errors`, every invalid
//! field of the request, itself first, so that a client can fix them all
//! at once.

use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::service::ServiceError;
use crate::storage::StoreError;
use crate::web::error::AppError;
use crate::web::request_id;

#[derive(Debug)]
pub struct ApiError {
    error: AppError,
    /// The other invalid fields of the same request, after `error`.
    further: Vec<ServiceError>,
}

impl ApiError {
    /// Builds the error of a request with several invalid fields: `first`
    /// gives the code, message and field, and `errors` lists it with the
    /// `further` ones.
    pub fn fields(first: ServiceError, further: Vec<ServiceError>) -> ApiError {
        ApiError {
            error: first.into(),
            further,
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError {
            error,
            further: Vec::new(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        ApiError::from(AppError::from(error))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::from(AppError::from(error))
    }
}

/// Builds the error for a body over axum's default limit of 2 MiB.
pub fn body_too_large() -> ApiError {
    ApiError::from(AppError::bad_request(
        "body_too_large",
        "corps de la requête : plus de 2 Mio, la taille maximale ; envoyez un corps plus \
         court (pour une réaffectation par région, des départements, 51 ou 02, plutôt que \
         tous leurs codes postaux, ou plusieurs réaffectations)",
    ))
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::from(AppError::bad_request(
            "invalid_query",
            "paramètres de la requête invalides : limit et offset sont des nombres entiers positifs",
        ))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError { error, further } = self;
        error.log();
        let request_id = request_id::current();
        let mut body = json!({
            "code": error.code(),
            "message": error.message(&request_id),
            "request_id": request_id,
        });
        if let Some(field) = error.field() {
            body["field"] = json!(field);
            if let AppError::Service(ServiceError::Invalid { .. }) = error {
                let entry = |code: &str, field: &str, message: String| json!({ "code": code, "field": field, "message": message });
                let mut errors = vec![entry(error.code(), field, error.message(&request_id))];
                for other in &further {
                    if let ServiceError::Invalid {
                        code,
                        field,
                        message,
                    } = other
                    {
                        errors.push(entry(code, field, message.clone()));
                    }
                }
                body["errors"] = json!(errors);
            }
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
    ApiError::from(AppError::MethodNotAllowed(
        "méthode HTTP non prise en charge à cette adresse ; les opérations de l'API et leurs méthodes sont dans /api/v1/openapi.json",
    ))
    .into_response()
}

/// Unknown paths under `/api/`.
pub async fn not_found() -> Response {
    ApiError::from(AppError::not_found(
        "not_found",
        "aucune opération de l'API à cette adresse ; la liste est dans /api/v1/openapi.json",
    ))
    .into_response()
}
