//! Request ids and the per-request tracing span.
//!
//! Every request gets an id: the caller's `x-request-id` when it is a short
//! token of letters, digits, `-` and `_`, else a new UUID. The id is
//! returned in the `x-request-id` response header, recorded on the request
//! span and kept in a task-local, so that error pages and JSON errors can
//! print it without threading it through every handler.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// Maximum length of a caller-supplied id; a longer one is replaced.
const MAX_INCOMING_LEN: usize = 64;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Returns the id of the request being handled, or `-` outside a request.
pub fn current() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_string())
}

fn incoming_id(request: &Request) -> Option<String> {
    let value = request.headers().get(HEADER)?.to_str().ok()?;
    let valid = !value.is_empty()
        && value.len() <= MAX_INCOMING_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| value.to_string())
}

/// Outermost middleware: assigns the id, opens the span, adds the header.
pub async fn request_context(request: Request, next: Next) -> Response {
    let id = incoming_id(&request).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!(
        "request",
        request.id = %id,
        http.method = %request.method(),
        http.path = %request.uri().path(),
        http.route = tracing::field::Empty,
        user.id = tracing::field::Empty,
    );

    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span.clone()))
        .await;

    let status = response.status().as_u16();
    span.in_scope(|| tracing::debug!(http.status = status, "request finished"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// Route middleware: records the matched route template on the span, so
/// that logs group `/contacts/{key}` requests together.
pub async fn record_route(request: Request, next: Next) -> Response {
    if let Some(path) = request.extensions().get::<MatchedPath>() {
        tracing::Span::current().record("http.route", path.as_str());
    }
    next.run(request).await
}
