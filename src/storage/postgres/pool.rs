//! Connection settings and the r2d2 pool of PostgreSQL connections.

use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};
use r2d2_postgres::PostgresConnectionManager;

use crate::storage::{StoreError, StoreResult};

use super::error_chain;

pub type Manager = PostgresConnectionManager<NoTls>;
pub type Pool = r2d2::Pool<Manager>;
pub type Connection = r2d2::PooledConnection<Manager>;

/// Connections one process keeps at most. Several application servers on
/// one database each have their own pool, so the server's
/// `max_connections` must cover this number times the number of processes.
const POOL_SIZE: u32 = 8;

/// How long a statement waits for a row or advisory lock held by another
/// transaction before failing with « base occupée », as long as the SQLite
/// engine's busy timeout.
const LOCK_TIMEOUT: &str = "60s";

/// Used when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a caller waits for a free connection of the pool.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// Says in French what the connection-string parser found wrong, from its
/// English message: the option at fault when it names one.
fn url_problem(message: &str) -> String {
    let option = |prefix: &str| {
        message
            .split_once(prefix)
            .and_then(|(_, rest)| rest.split('`').next())
            .map(str::to_string)
    };
    if message.contains("invalid value for option `sslmode`") {
        // The client links no TLS library, so only these two modes work.
        "valeur de « sslmode » invalide ou non prise en charge : Relais ne prend pas encore \
         en charge TLS, retirez sslmode ou indiquez sslmode=disable ou sslmode=prefer"
            .to_string()
    } else if let Some(name) = option("invalid value for option `") {
        format!("valeur invalide pour l'option « {name} »")
    } else if let Some(name) = option("unknown option `") {
        format!("option « {name} » inconnue")
    } else if message.contains("invalid port") {
        "port invalide".to_string()
    } else {
        "forme non reconnue".to_string()
    }
}

/// Parses a `postgres://` URL (or a `key=value` connection string) and
/// fills in the settings Relais relies on.
pub fn parse_config(url: &str) -> StoreResult<Config> {
    // The parser's message never repeats the URL, which may hold a password.
    let mut config: Config = url.parse().map_err(|error: postgres::Error| {
        StoreError::rejected(
            "database_url_invalid",
            format!(
                "base de données : URL PostgreSQL invalide ({}) ; attendu postgres://UTILISATEUR@HÔTE:PORT/BASE",
                url_problem(&error_chain(&error))
            ),
        )
    })?;
    // NOTE: connections are made without TLS (no TLS crate is linked), so
    // `sslmode=prefer` falls back to plain TCP and `require` cannot work.
    if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
        return Err(StoreError::rejected(
            "database_tls_unsupported",
            "base de données : l'URL demande TLS (sslmode=require), que Relais ne prend pas encore en charge ; \
             connectez-vous en local, par un réseau privé ou par un tunnel chiffré, et retirez sslmode=require",
        ));
    }
    if config.get_application_name().is_none() {
        config.application_name("relais");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok(config)
}

/// Describes the server and database of `config` for messages, without the
/// user name or password.
pub fn describe_target(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or("(base par défaut)");
    format!("serveur {host}:{port}, base « {database} »")
}

/// Opens one connection outside the pool, with a French message naming
/// the server when it fails.
pub fn connect(config: &Config) -> StoreResult<Client> {
    let mut client = config
        .connect(NoTls)
        .map_err(|error| unreachable(config, &error))?;
    client
        .batch_execute(&session_settings())
        .map_err(|error| unreachable(config, &error))?;
    Ok(client)
}

/// Builds the message of a failed connection: the usual causes in French
/// with their fix, the driver's text for the others.
fn unreachable(config: &Config, error: &postgres::Error) -> StoreError {
    let target = describe_target(config);
    let code = error.code();
    let refused =
        std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |cause| {
            cause.source()
        })
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
    let reason = if code == Some(&SqlState::INVALID_CATALOG_NAME) {
        "cette base n'existe pas sur le serveur ; créez-la (createdb) ou corrigez son nom à la fin de l'URL".to_string()
    } else if code == Some(&SqlState::INVALID_PASSWORD)
        || code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
    {
        "le serveur refuse l'utilisateur ou le mot de passe de l'URL ; vérifiez-les".to_string()
    } else if refused {
        "aucun serveur ne répond à cette adresse ; vérifiez que PostgreSQL est démarré, et l'hôte et le port de l'URL".to_string()
    } else {
        error_chain(error)
    };
    StoreError::Database(format!(
        "connexion à PostgreSQL impossible ({target}) : {reason}"
    ))
}

fn session_settings() -> String {
    format!("SET lock_timeout = '{LOCK_TIMEOUT}'")
}

/// Applies the session settings to every connection the pool opens.
#[derive(Debug)]
struct SessionSettings;

impl r2d2::CustomizeConnection<Client, postgres::Error> for SessionSettings {
    fn on_acquire(&self, client: &mut Client) -> Result<(), postgres::Error> {
        client.batch_execute(&session_settings())
    }
}

pub fn build(config: Config) -> StoreResult<Pool> {
    let target = describe_target(&config);
    r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_TIMEOUT)
        .connection_customizer(Box::new(SessionSettings))
        .build(PostgresConnectionManager::new(config, NoTls))
        .map_err(|error| {
            StoreError::Database(format!(
                "connexion à PostgreSQL impossible ({target}) : {error}"
            ))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_problems_read_in_french() {
        assert_eq!(
            super::url_problem("invalid connection string: invalid value for option `port`"),
            "valeur invalide pour l'option « port »"
        );
        assert_eq!(
            super::url_problem("invalid connection string: unknown option `colour`"),
            "option « colour » inconnue"
        );
        assert_eq!(super::url_problem("something else"), "forme non reconnue");
    }

    #[test]
    fn bad_option_is_named_in_french() {
        let error = super::parse_config("postgres://u@127.0.0.1:5432/b?sslmode=bogus").unwrap_err();
        assert_eq!(
            error.to_string(),
            "base de données : URL PostgreSQL invalide (valeur de « sslmode » invalide ou non prise en charge : Relais ne prend pas encore en charge TLS, retirez sslmode ou indiquez sslmode=disable ou sslmode=prefer) ; attendu postgres://UTILISATEUR@HÔTE:PORT/BASE"
        );
    }
}
