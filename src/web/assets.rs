//! Stylesheet, script and icon, compiled into the binary so that the server
//! needs no files beside it.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::state::AppState;

const STYLE_CSS: &str = include_str!("../../static/style.css");
const PREVIEW_JS: &str = include_str!("../../static/preview.js");
const ONCE_JS: &str = include_str!("../../static/once.js");
const CONFIRM_JS: &str = include_str!("../../static/confirm.js");
const FAVICON_SVG: &str = include_str!("../../static/favicon.svg");

/// Assets change only with the binary; an hour of caching is enough to
/// avoid refetching them on every page.
const CACHE: &str = "public, max-age=3600";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/static/style.css",
            get(|| asset("text/css; charset=utf-8", STYLE_CSS)),
        )
        .route(
            "/static/preview.js",
            get(|| asset("text/javascript; charset=utf-8", PREVIEW_JS)),
        )
        .route(
            "/static/once.js",
            get(|| asset("text/javascript; charset=utf-8", ONCE_JS)),
        )
        .route(
            "/static/confirm.js",
            get(|| asset("text/javascript; charset=utf-8", CONFIRM_JS)),
        )
        .route(
            "/static/favicon.svg",
            get(|| asset("image/svg+xml", FAVICON_SVG)),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE),
        ],
        body,
    )
}
