//! Errors of the screens, rendered as a French page that shows the request
//! id (« identifiant de requête ») for the administrator to quote.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::service::ServiceError;
use crate::storage::StoreError;
use crate::web::error::AppError;
use crate::web::request_id;

use super::layout::Layout;

#[derive(Debug)]
pub enum PageError {
    /// No session: go to the login page, then back to `next`.
    LoginRequired {
        next: String,
    },
    App(AppError),
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        PageError::App(error)
    }
}

impl From<ServiceError> for PageError {
    fn from(error: ServiceError) -> Self {
        PageError::App(error.into())
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        PageError::App(error.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: &'static str,
    message: String,
    request_id: String,
}

fn heading(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "Requête invalide",
        StatusCode::UNAUTHORIZED => "Connexion requise",
        StatusCode::FORBIDDEN => "Accès refusé",
        StatusCode::NOT_FOUND => "Page introuvable",
        StatusCode::CONFLICT => "Opération impossible",
        StatusCode::UNPROCESSABLE_ENTITY => "Saisie invalide",
        StatusCode::TOO_MANY_REQUESTS => "Trop de tentatives",
        StatusCode::PAYLOAD_TOO_LARGE => "Formulaire trop volumineux",
        StatusCode::SERVICE_UNAVAILABLE => "Service momentanément indisponible",
        StatusCode::METHOD_NOT_ALLOWED => "Adresse à ne pas ouvrir directement",
        _ => "Erreur du serveur",
    }
}

/// Renders the error page for `error`; used by handlers and by the router's
/// fallback.
pub fn error_response(error: &AppError) -> Response {
    error.log();
    let status = error.status();
    let request_id = request_id::current();
    let page = ErrorPage {
        layout: Layout::anonymous(heading(status)),
        status: status.as_u16(),
        heading: heading(status),
        // Messages are written to follow a field name or a colon; on a page
        // of their own they open a sentence.
        message: crate::french::capitalised(&error.message(&request_id)),
        request_id,
    };
    match page.render() {
        Ok(html) => (status, Html(super::finish_html(&html))).into_response(),
        Err(render_error) => {
            tracing::error!(error.cause = %render_error, "error page rendering failed");
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                page.message,
            )
                .into_response()
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::LoginRequired { next } => {
                let query =
                    serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                Redirect::to(&format!("/login?{query}")).into_response()
            }
            PageError::App(error) => error_response(&error),
        }
    }
}
