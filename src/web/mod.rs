//! The web application: French administration screens rendered on the
//! server, and the JSON API under `/api/v1`.
//!
//! Layout: `app` builds the router and serves it, `state` contains the store
//! and settings, `auth` the sessions, CSRF checks and API tokens, `pages`
//! the screens, `api` the JSON API, and `error` the error shared by both.
//! The store is synchronous, so handlers call it through
//! [`AppState::run`] on the blocking thread pool.

pub mod api;
pub mod app;
mod assets;
pub mod auth;
mod csv_stream;
pub mod error;
mod headers;
mod idempotency;
mod labels;
pub mod pages;
mod readable_path;
pub mod request_id;
pub mod state;

use std::sync::Arc;

use crate::service::ServiceError;
use crate::service::demo::{DEMO_ADMIN_EMAIL, DEMO_ADMIN_INITIALS, DEMO_ADMIN_PASSWORD, fill_demo};
use crate::storage::Store;

pub use app::{router, serve_on, shutdown_signal};
pub use state::{AppState, WebConfig};

/// Contacts created by `relais serve --demo` in an empty database.
pub const DEMO_CONTACTS: u64 = 20_000;

/// Options of `relais serve`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub bind: String,
    /// Fill an empty database with demo data first.
    pub demo: bool,
    pub secure_cookies: bool,
    /// Read the client's address from `X-Forwarded-For`.
    pub behind_proxy: bool,
}

fn server_error(bind: &str, error: std::io::Error) -> ServiceError {
    use std::io::ErrorKind;
    let reason = match error.kind() {
        ErrorKind::AddrInUse => "un autre programme utilise déjà ce port".to_string(),
        ErrorKind::PermissionDenied => {
            "accès refusé (un port inférieur à 1024 demande les droits d'administrateur)"
                .to_string()
        }
        ErrorKind::AddrNotAvailable => "cette adresse n'est pas celle de cette machine".to_string(),
        // The standard library's parser reports « invalid socket address »
        // or « invalid port value », and a host name that resolves to
        // nothing (`:8080`) fails its lookup.
        _ if error.kind() == ErrorKind::InvalidInput
            || error.to_string().contains("failed to lookup address") =>
        {
            "adresse invalide : attendu ADRESSE:PORT, par exemple 127.0.0.1:8080, avec un port \
             de 1 à 65535"
                .to_string()
        }
        _ => format!("erreur du système : {error}"),
    };
    ServiceError::invalid(
        "server_failed",
        "bind",
        format!(
            "serveur web : impossible d'écouter sur « {bind} » : {reason} ; choisissez une autre adresse avec --bind"
        ),
    )
}

/// Fills an empty database with the demo base and prints how to log in.
fn prepare_demo(store: &dyn Store) -> Result<(), ServiceError> {
    if store.count_contacts()? == 0 {
        println!("Base vide : création de {DEMO_CONTACTS} contacts de démonstration…");
        let report = fill_demo(store, DEMO_CONTACTS, &mut |_| {})?;
        println!("{} contacts de démonstration créés.", report.contacts);
    } else {
        println!("La base contient déjà des contacts : aucune donnée de démonstration ajoutée.");
    }
    if store.find_user(DEMO_ADMIN_INITIALS)?.is_some() {
        println!(
            "Administrateur de démonstration : {DEMO_ADMIN_EMAIL} (initiales {DEMO_ADMIN_INITIALS}), mot de passe « {DEMO_ADMIN_PASSWORD} »"
        );
    }
    Ok(())
}

/// Opens the listening socket of `relais serve`. The CLI calls it before
/// it opens the base, so that a wrong `--bind` neither creates nor migrates
/// one.
pub fn bind(address: &str) -> Result<std::net::TcpListener, ServiceError> {
    let listener =
        std::net::TcpListener::bind(address).map_err(|error| server_error(address, error))?;
    listener
        .set_nonblocking(true)
        .map_err(|error| server_error(address, error))?;
    Ok(listener)
}

/// Runs `relais serve` on a socket from [`bind`]: serves the application
/// until Ctrl-C or SIGTERM.
pub fn serve(
    store: Arc<dyn Store>,
    listener: std::net::TcpListener,
    options: &ServeOptions,
) -> Result<(), ServiceError> {
    if options.demo {
        prepare_demo(store.as_ref())?;
    }
    let config = WebConfig {
        secure_cookies: options.secure_cookies,
        trust_forwarded_for: options.behind_proxy,
        ..WebConfig::default()
    };
    // `store` outlives the runtime's work: the PostgreSQL client blocks on
    // its own runtime when dropped, which panics inside another one, so
    // the last reference must go after `block_on` returns.
    let state = AppState::new(Arc::clone(&store), config);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| server_error(&options.bind, error))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|error| server_error(&options.bind, error))?;
        let address = listener
            .local_addr()
            .map_err(|error| server_error(&options.bind, error))?;
        println!("Relais écoute sur http://{address}");
        tracing::info!(address = %address, "web server started");
        serve_on(listener, state, shutdown_signal())
            .await
            .map_err(|error| server_error(&options.bind, error))?;
        tracing::info!("web server stopped");
        Ok(())
    })
}
