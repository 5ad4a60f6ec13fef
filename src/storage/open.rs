//! Choosing the engine from the database location.

use std::path::Path;
use std::sync::Arc;

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{Store, StoreError, StoreResult};

/// Opens the store named by `location`: a `postgres://` or
/// `postgresql://` URL selects PostgreSQL, anything else is a SQLite file
/// path (`sqlite://` prefix allowed), created on first use.
pub fn open_store(location: &str) -> StoreResult<Arc<dyn Store>> {
    let location = location.trim();
    let lowered = location.to_ascii_lowercase();
    if lowered.starts_with("postgres://") || lowered.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open(location)?));
    }
    // `postgres:/x` lacks a slash: read as a path, it would name a folder.
    if lowered.starts_with("postgres:") || lowered.starts_with("postgresql:") {
        return Err(StoreError::rejected(
            "database_url_invalid",
            "base de données : URL PostgreSQL mal formée ; attendu postgres://UTILISATEUR@HÔTE:PORT/BASE",
        ));
    }
    // Any other scheme names an engine Relais does not support, and read as
    // a path it would become a folder named `mysql:`.
    if let Some((scheme, _)) = location.split_once("://")
        && !scheme.eq_ignore_ascii_case("sqlite")
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        return Err(StoreError::rejected(
            "database_unsupported",
            format!(
                "base de données : « {scheme}:// » n'est pas pris en charge ; indiquez le chemin d'un fichier SQLite ou une URL postgres://"
            ),
        ));
    }
    let path = location
        .strip_prefix("sqlite://")
        .or_else(|| location.strip_prefix("sqlite:"))
        .unwrap_or(location);
    if path.is_empty() {
        return Err(StoreError::rejected(
            "database_missing",
            "base de données : chemin vide ; indiquez un fichier avec --db ou RELAIS_DATABASE_URL",
        ));
    }
    Ok(Arc::new(SqliteStore::open(Path::new(path))?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn postgres_url_without_its_slashes_is_refused() {
        let error = super::open_store("postgres:/x").err().unwrap();
        assert_eq!(error.code(), "database_url_invalid");
    }

    #[test]
    fn other_schemes_are_refused() {
        let error = super::open_store("mysql://x").err().unwrap();
        assert_eq!(
            error.to_string(),
            "base de données : « mysql:// » n'est pas pris en charge ; indiquez le chemin d'un fichier SQLite ou une URL postgres://"
        );
    }
}
