//! The error every web handler returns, with its HTTP status and French
//! message. Screens render it as a page (`pages::error_page`), the API as
//! JSON (`api::error`).

use axum::http::StatusCode;

use crate::service::ServiceError;
use crate::storage::StoreError;

#[derive(Debug)]
pub enum AppError {
    /// No valid session cookie or API token: 401.
    Unauthenticated,
    /// Logged in, but the screen or call is for administrators: 403.
    Forbidden,
    /// A form without the session's CSRF token, or sent from another site: 403.
    CsrfRejected,
    /// 404, with a French message naming what was looked for.
    NotFound { code: &'static str, message: String },
    /// Too many failed logins for one account: 429.
    TooManyRequests,
    /// An address that exists, asked with a method it does not take: 405.
    /// The message gives what to do instead.
    MethodNotAllowed(&'static str),
    /// A request that cannot be read (JSON, query string, header): 400,
    /// 413 for a body over the size limit, or 415 for a body not declared
    /// as JSON.
    BadRequest { code: &'static str, message: String },
    /// A service error: 422 for bad input, 409 for a rule of the domain,
    /// 404, 503 when the database is busy, 500 for a database failure.
    Service(ServiceError),
    /// Anything unexpected. The cause is logged; the client sees a generic
    /// message with the request id.
    Internal(String),
}

impl From<ServiceError> for AppError {
    fn from(error: ServiceError) -> Self {
        AppError::Service(error)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        AppError::Service(ServiceError::Store(error))
    }
}

impl AppError {
    pub fn not_found(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadRequest {
                code: "body_too_large" | "form_too_large",
                ..
            } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BadRequest {
                code: "unsupported_media_type",
                ..
            } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Service(error) => match error {
                ServiceError::Invalid {
                    code: "invalid_batch_id" | "invalid_query",
                    ..
                } => StatusCode::BAD_REQUEST,
                ServiceError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                ServiceError::Store(StoreError::Rejected { .. }) => StatusCode::CONFLICT,
                ServiceError::Store(StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
                ServiceError::Store(StoreError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
                ServiceError::Store(StoreError::Database(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// Stable English code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::NotFound { code, .. } | AppError::BadRequest { code, .. } => code,
            AppError::TooManyRequests => "too_many_requests",
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::Service(error) => error.code(),
            AppError::Internal(_) => "internal_error",
        }
    }

    /// Returns the input field at fault, when the error is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::Service(error) => error.field(),
            _ => None,
        }
    }

    /// True when the cause must stay in the logs: the client gets a generic
    /// message instead.
    pub fn is_internal(&self) -> bool {
        match self {
            AppError::Internal(_) => true,
            AppError::Service(error) => !error.is_client_error() && !self.is_busy(),
            _ => false,
        }
    }

    fn is_busy(&self) -> bool {
        matches!(
            self,
            AppError::Service(ServiceError::Store(StoreError::Busy))
        )
    }

    /// French message for the client; `request_id` goes into the generic
    /// message of internal errors so that an administrator can find the log.
    pub fn message(&self, request_id: &str) -> String {
        if self.is_internal() {
            return format!(
                "Erreur interne du serveur : l'opération n'a pas abouti. Réessayez dans un instant ; si l'erreur persiste, transmettez l'identifiant de requête {request_id} à votre administrateur."
            );
        }
        match self {
            AppError::Unauthenticated => {
                "Authentification requise : envoyez un jeton d'API valide dans l'en-tête « Authorization: Bearer … » (la commande relais token create en crée un), ou connectez-vous pour les écrans.".to_string()
            }
            AppError::Forbidden => {
                "Accès refusé : cette opération est réservée aux administrateurs.".to_string()
            }
            AppError::CsrfRejected => {
                "Requête refusée : le formulaire n'a pas été envoyé depuis Relais, ou votre session a expiré. Rechargez la page et recommencez.".to_string()
            }
            AppError::TooManyRequests => {
                "Trop de tentatives de connexion pour ce compte : réessayez dans un quart d'heure.".to_string()
            }
            AppError::NotFound { message, .. } | AppError::BadRequest { message, .. } => message.clone(),
            AppError::MethodNotAllowed(message) => message.to_string(),
            AppError::Service(error) => error.to_string(),
            AppError::Internal(_) => String::new(),
        }
    }

    /// Logs the error: internal ones with their cause at ERROR, refused
    /// requests at DEBUG, since they are part of normal traffic.
    pub fn log(&self) {
        match self {
            AppError::Internal(cause) => tracing::error!(error.cause = %cause, "request failed"),
            AppError::Service(error) if self.is_internal() => {
                tracing::error!(error.code = error.code(), error.cause = %error, "request failed")
            }
            other => tracing::debug!(
                error.code = other.code(),
                status = other.status().as_u16(),
                "request refused"
            ),
        }
    }
}
