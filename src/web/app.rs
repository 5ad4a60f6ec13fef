//! Building the router and serving it.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::middleware;
use tokio::net::TcpListener;

use super::state::AppState;
use super::{api, assets, headers, pages, readable_path, request_id};

/// Builds the whole application: screens, API and assets, with request
/// ids, security headers and CSRF protection of the screens' forms.
pub fn router(state: AppState) -> Router {
    let screens = pages::protect_forms(state.clone(), pages::routes());
    Router::new()
        .merge(screens)
        .nest("/api/v1", api::routes())
        .merge(assets::routes())
        .fallback(pages::not_found)
        .route_layer(middleware::from_fn(request_id::record_route))
        .layer(middleware::from_fn(readable_path::reject_unreadable_path))
        .layer(middleware::from_fn(headers::security_headers))
        .layer(middleware::from_fn(request_id::request_context))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` completes, then
/// lets requests in progress finish.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C, or on SIGTERM on Unix (what service managers send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}
