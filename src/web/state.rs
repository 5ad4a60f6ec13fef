//! Shared state of the web application: the store and the server settings.

use std::sync::Arc;

use crate::storage::Store;

use super::error::AppError;

/// Settings of the web server, fixed at start.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Lifetime of a login session.
    pub session_ttl: chrono::Duration,
    /// Adds `Secure` to cookies. Off by default because `relais serve`
    /// listens on plain HTTP, where a browser would drop a `Secure` cookie.
    /// Turn it on behind an HTTPS reverse proxy.
    pub secure_cookies: bool,
    /// Failed logins allowed per account and client address within
    /// `login_window_seconds`; the next attempt gets 429 whatever the
    /// password.
    pub login_max_failures: u32,
    pub login_window_seconds: i64,
    /// Takes the client's address from the last entry of
    /// `X-Forwarded-For`, as a reverse proxy appends it. Only safe when
    /// the server can be reached through the proxy alone, since a client
    /// can send the header itself.
    pub trust_forwarded_for: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            session_ttl: chrono::Duration::hours(12),
            secure_cookies: false,
            login_max_failures: 5,
            login_window_seconds: 15 * 60,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
    /// Region previews, reused while no batch commits.
    pub previews: Arc<crate::service::preview_cache::PreviewCache>,
    /// API tokens whose use this server recorded or found recorded lately.
    pub token_uses: Arc<crate::service::tokens::TokenUses>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: WebConfig) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            previews: Arc::new(crate::service::preview_cache::PreviewCache::new()),
            token_uses: Arc::new(crate::service::tokens::TokenUses::new()),
        }
    }

    /// Runs synchronous store work on the blocking thread pool, inside the
    /// current request's span so that its logs carry the request id.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&dyn Store) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let span = tracing::Span::current();
        match tokio::task::spawn_blocking(move || span.in_scope(|| work(store.as_ref()))).await {
            Ok(result) => result,
            Err(error) => Err(AppError::Internal(format!(
                "blocking store task failed: {error}"
            ))),
        }
    }
}
