//! Connection pool for rusqlite, with the pragmas every connection needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::domain::search::fold_into;

/// How long a writer waits for another writer's transaction before giving
/// up with « base occupée ».
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct SqliteManager {
    path: PathBuf,
}

impl SqliteManager {
    pub fn new(path: PathBuf) -> SqliteManager {
        SqliteManager { path }
    }
}

pub fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    super::ranges::register(&conn)?;
    register_search_match(&conn)?;
    Ok(conn)
}

/// Registers `relais_search_match(needle, a, b, c, d)`: 1 when the folded
/// form of one of the texts `a` to `d` contains `needle`, itself already
/// folded, else 0: the result of PostgreSQL's `relais_fold(x) LIKE
/// '%needle%'` on each text. One call per contact folds into one buffer per
/// thread instead of handing each folded text back to SQLite, because a
/// search reads every contact, twice with its count.
fn register_search_match(conn: &Connection) -> rusqlite::Result<()> {
    thread_local! {
        static FOLDED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    conn.create_scalar_function(
        "relais_search_match",
        5,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |context: &mut Context<'_>| {
            let needle = match context.get_raw(0) {
                ValueRef::Text(bytes) => String::from_utf8_lossy(bytes),
                _ => return Ok(false),
            };
            FOLDED.with_borrow_mut(|folded| {
                for index in 1..5 {
                    folded.clear();
                    match context.get_raw(index) {
                        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                            fold_into(&String::from_utf8_lossy(bytes), folded)
                        }
                        ValueRef::Integer(number) => folded.push_str(&number.to_string()),
                        ValueRef::Real(number) => folded.push_str(&number.to_string()),
                        ValueRef::Null => continue,
                    }
                    if folded.contains(needle.as_ref()) {
                        return Ok(true);
                    }
                }
                Ok(false)
            })
        },
    )
}

impl r2d2::ManageConnection for SqliteManager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        open_connection(&self.path)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _conn: &mut Connection) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::SqliteManager;

    fn pool(path: std::path::PathBuf) -> r2d2::Pool<SqliteManager> {
        r2d2::Pool::builder()
            .max_size(2)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_millis(200))
            .build(SqliteManager::new(path))
            .unwrap()
    }

    /// A checkout that times out because every connection is in use is
    /// distinguished from one that could not open a connection.
    #[test]
    fn exhausted_pool_is_told_from_a_failing_one() {
        let dir = tempfile::tempdir().unwrap();
        let busy = pool(dir.path().join("relais.db"));
        let checked_out = (busy.get().unwrap(), busy.get().unwrap());

        assert!(busy.get().is_err());
        assert!(crate::storage::pool_exhausted(&busy));
        drop(checked_out);
        assert!(!crate::storage::pool_exhausted(&busy));

        let broken = pool(dir.path().join("absent").join("relais.db"));
        assert!(broken.get().is_err());
        assert!(!crate::storage::pool_exhausted(&broken));
    }
}
