//! Connection pool for rusqlite, with the pragmas every connection needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::domain::search::fold_for_search;

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
    register_search_fold(&conn)?;
    Ok(conn)
}

/// Registers `relais_fold(text)`, which applies [`fold_for_search`] under
/// the name of the PostgreSQL function, so both engines share the SQL. It is a connection
/// function and no schema object uses it, so other SQLite clients can
/// still open and write the file.
fn register_search_fold(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "relais_fold",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |context: &mut Context<'_>| {
            // Contact columns have TEXT affinity, so they hold text or
            // NULL. A number is folded through its Rust text form.
            let folded = match context.get_raw(0) {
                ValueRef::Null => None,
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                    Some(fold_for_search(&String::from_utf8_lossy(bytes)))
                }
                ValueRef::Integer(number) => Some(number.to_string()),
                ValueRef::Real(number) => Some(number.to_string()),
            };
            Ok(folded)
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
