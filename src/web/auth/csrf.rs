//! Cross-site request forgery protection of the screens' forms.
//!
//! Every request that may change something (any method but GET, HEAD and
//! OPTIONS) must pass three checks before its handler runs:
//! - `Sec-Fetch-Site`, when the browser sends it, is `same-origin` or `none`;
//! - `Origin`, when present, is this server's own origin (from `Host`);
//! - the form field `csrf_token` equals the session's token, or, for the
//!   login form, which has no session yet, the login CSRF cookie.
//!
//! A failure returns 403 and the handler never runs. A form that carries a
//! token but whose session has ended (it expired, or the user logged out
//! in another tab) goes to the login page instead. The login then leads
//! back to the form, refilled for the two reassignment dialogs. The
//! session loaded here is left in the request extensions for the
//! handler's extractor.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::cookies::{self, LOGIN_CSRF_COOKIE};
use super::secrets_equal;
use super::session;
use crate::web::error::AppError;
use crate::web::pages::error_page::PageError;
use crate::web::state::AppState;

/// Name of the hidden form field carrying the token.
pub const FIELD: &str = "csrf_token";

/// Largest form body read; the screens' forms are a few hundred bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub const LOGIN_PATH: &str = "/login";

pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    match check(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    }
}

/// Dialogs refilled after a new login, with the fields they keep.
const RESUMED_FORMS: [(&str, &[&str]); 2] = [
    ("/admin/reassign", &["from", "to"]),
    (
        "/admin/reassign-region",
        &["to", "country", "postal", "role"],
    ),
];

/// Returns the page a form sent to `path` was shown on, for a user to
/// come back to after logging in again: a dialog with what was typed in
/// it, or the page that lists what the form acts on.
fn resume_path(path: &str, body: &[u8]) -> String {
    if let Some((page, kept)) = RESUMED_FORMS.iter().find(|(page, _)| *page == path) {
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let fields: Vec<(String, String)> = fields
            .into_iter()
            .filter(|(name, _)| kept.contains(&name.as_str()))
            .collect();
        return match serde_urlencoded::to_string(&fields) {
            Ok(query) if !query.is_empty() => format!("{page}?{query}"),
            _ => page.to_string(),
        };
    }
    if path.starts_with("/admin/batches/") && path.ends_with("/undo") {
        return path.to_string();
    }
    if path.starts_with("/admin/users") {
        return "/admin/users".to_string();
    }
    "/".to_string()
}

async fn check(state: &AppState, request: Request) -> Result<Request, Response> {
    check_form(state, request)
        .await
        .map_err(IntoResponse::into_response)?
}

/// Checks a form; `Err(Response)` inside `Ok` is the way to the login page
/// for a form whose session has ended.
async fn check_form(
    state: &AppState,
    request: Request,
) -> Result<Result<Request, Response>, PageError> {
    let path = request.uri().path().to_string();
    if !same_origin(request.headers()) {
        tracing::warn!(path = %path, "cross-site form rejected");
        return Err(AppError::CsrfRejected.into());
    }

    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
        AppError::bad_request(
            "form_too_large",
            "Formulaire trop volumineux : plus de 64 Kio, la taille maximale. Raccourcissez \
             les champs ; pour une région, indiquez des départements (51, 02…) plutôt que \
             tous leurs codes postaux, ou passez par l'API pour des milliers de codes.",
        )
    })?;
    let sent = form_token(&bytes);

    let expected = if path == LOGIN_PATH {
        cookies::read(&parts.headers, LOGIN_CSRF_COOKIE)
    } else {
        match session::load(state, &parts.headers).await? {
            Some(session) => {
                let token = session.csrf_token.clone();
                parts.extensions.insert(session);
                Some(token)
            }
            None => None,
        }
    };
    if path != LOGIN_PATH && sent.is_some() && expected.is_none() {
        tracing::info!(path = %path, "form sent after its session ended, sent to the login page");
        let next = resume_path(&path, &bytes);
        let query = serde_urlencoded::to_string([("next", next.as_str()), ("expired", "1")])
            .unwrap_or_default();
        return Ok(Err(
            Redirect::to(&format!("{LOGIN_PATH}?{query}")).into_response()
        ));
    }
    let valid =
        matches!((&sent, &expected), (Some(sent), Some(expected)) if secrets_equal(sent, expected));
    if !valid {
        tracing::warn!(path = %path, token.sent = sent.is_some(), session.found = expected.is_some(), "form without a valid CSRF token rejected");
        return Err(AppError::CsrfRejected.into());
    }
    Ok(Ok(Request::from_parts(parts, Body::from(bytes))))
}

fn form_token(body: &[u8]) -> Option<String> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    fields
        .into_iter()
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value)
}

/// Checks the fetch metadata and origin headers that browsers send. Both
/// are optional, so that scripts and old browsers still rely on the token.
fn same_origin(headers: &HeaderMap) -> bool {
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = header_text("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match header_text(header::ORIGIN.as_str()) {
        None => true,
        Some(origin) => {
            let Some(host) = header_text(header::HOST.as_str()) else {
                return false;
            };
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn origin_must_match_host() {
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null")
        ])));
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")])));
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused() {
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
    }

    #[test]
    fn token_is_read_from_the_form() {
        assert_eq!(form_token(b"a=1&csrf_token=abc").as_deref(), Some("abc"));
        assert_eq!(form_token(b"a=1"), None);
    }
}
