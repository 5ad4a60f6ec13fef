//! First load of an empty SQLite base under a rollback journal.
//!
//! In WAL mode every page of a large import is written twice: into the WAL
//! as the page cache spills and at the commit, then into the database file
//! by the checkpoint. With a rollback journal, the journal keeps only the
//! few pages the import changes in an empty base (its table roots, the
//! batch row), and the new pages go once, straight to the database file.
//! `relais import` of 1,000,000 contacts into an empty base took about 2 s
//! less, out of 12.
//!
//! The journal mode belongs to the file, and SQLite leaves WAL mode only
//! when no other connection has the WAL open. So the switch is tried only
//! for an empty `contacts` table, without waiting: when another connection,
//! in this process or another one, has read the base, the import stays in
//! WAL mode and readers keep their snapshot. Under the rollback journal the
//! import takes an exclusive lock for its whole transaction, as
//! PostgreSQL's first load does, because a reader that started during the
//! load would otherwise hold back its commit. A process that reads the base
//! meanwhile waits for the commit, up to the busy timeout. The import
//! switches back to WAL as soon as its transaction ends. Should that fail,
//! the next `SqliteStore::open` does it, because every process opens the
//! base through it.
//!
//! A rollback journal is as atomic as the WAL: a killed import leaves a hot
//! journal, which the next connection rolls back before reading.

use rusqlite::Connection;

use crate::storage::{StoreError, StoreResult};

use super::db_error;
use super::pool::BUSY_TIMEOUT;

/// A base switched to a rollback journal for its first load.
pub struct FirstLoad {
    /// The connection's `synchronous` setting before the switch.
    synchronous: i64,
}

/// Switches the connection's base to a rollback journal when `contacts` is
/// empty and no other connection has the WAL open, and returns `None`,
/// changing nothing, otherwise. Must run outside a transaction.
pub fn enter(conn: &Connection) -> StoreResult<Option<FirstLoad>> {
    let empty: bool = conn
        .query_row("SELECT NOT EXISTS (SELECT 1 FROM contacts)", [], |row| {
            row.get(0)
        })
        .map_err(db_error)?;
    if !empty {
        return Ok(None);
    }
    let synchronous: i64 = conn
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .map_err(db_error)?;
    conn.busy_timeout(std::time::Duration::ZERO)
        .map_err(db_error)?;
    let switched = conn.query_row("PRAGMA journal_mode = DELETE", [], |row| {
        row.get::<_, String>(0)
    });
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    match switched {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => {
            // NORMAL suits WAL but may lose a rollback-journal commit on
            // power loss, so FULL syncs the journal before the base changes.
            conn.execute_batch("PRAGMA synchronous = FULL")
                .map_err(db_error)?;
            Ok(Some(FirstLoad { synchronous }))
        }
        Ok(_) => Ok(None),
        Err(error) => match db_error(error) {
            StoreError::Busy => Ok(None),
            other => Err(other),
        },
    }
}

impl FirstLoad {
    /// Puts the base back in WAL mode, and the connection's `synchronous`
    /// setting back, once the import transaction has ended, committed or
    /// not.
    pub fn leave(&self, conn: &Connection) {
        let restored = conn
            .execute_batch(&format!("PRAGMA synchronous = {}", self.synchronous))
            .and_then(|()| {
                conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
                    row.get::<_, String>(0)
                })
            });
        match restored {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => {}
            // Info rather than a warning: the next open puts the base
            // back in WAL mode, and the command line shows warnings.
            Ok(mode) => tracing::info!(
                %mode,
                "the base stays out of WAL mode after an import; the next open restores it"
            ),
            Err(error) => tracing::info!(
                %error,
                "switching back to WAL mode after an import failed; the next open restores it"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::domain::batch::Actor;
    use crate::domain::contact::ContactInput;
    use crate::storage::sqlite::SqliteStore;
    use crate::storage::{ContactWrite, Store};

    fn contact(name: &str) -> ContactWrite {
        ContactWrite {
            line: 0,
            contact: ContactInput {
                last_name: name.to_string(),
                ..ContactInput::default()
            },
            commercial_owner: None,
            technical_owner: None,
        }
    }

    /// Opens a connection of its own that waits for no lock, so that a
    /// read the import blocks fails at once.
    fn observer(path: &Path) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.busy_timeout(std::time::Duration::ZERO).unwrap();
        conn
    }

    fn journal_mode(conn: &rusqlite::Connection) -> String {
        conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap()
    }

    fn contact_count(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
        conn.query_row("SELECT count(*) FROM contacts", [], |row| row.get(0))
    }

    fn journal_file(path: &Path) -> std::path::PathBuf {
        path.with_file_name("base.db-journal")
    }

    #[test]
    fn empty_base_loads_under_rollback_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.db");
        let store = SqliteStore::open(&path).unwrap();
        // The command line reads the users before it imports; the pool's
        // other connections must not keep the WAL open meanwhile.
        store.list_users().unwrap();

        let mut session = store
            .begin_import(&Actor::system("tests"), serde_json::json!({}))
            .unwrap();
        let counts = session.write_contacts(&[contact("Un")]).unwrap();
        assert!(
            journal_file(&path).exists(),
            "an empty base is loaded under a rollback journal"
        );
        session.commit(&counts).unwrap();

        let after = observer(&path);
        assert_eq!(journal_mode(&after), "wal");
        assert_eq!(contact_count(&after).unwrap(), 1);
        assert!(!journal_file(&path).exists());

        // A second import finds contacts and keeps the WAL.
        let mut session = store
            .begin_import(&Actor::system("tests"), serde_json::json!({}))
            .unwrap();
        let counts = session.write_contacts(&[contact("Deux")]).unwrap();
        assert!(!journal_file(&path).exists());
        assert_eq!(
            contact_count(&after).unwrap(),
            1,
            "readers see the snapshot"
        );
        session.commit(&counts).unwrap();
        assert_eq!(contact_count(&after).unwrap(), 2);
    }

    #[test]
    fn abandoned_first_load_restores_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.db");
        let store = SqliteStore::open(&path).unwrap();

        let mut session = store
            .begin_import(&Actor::system("tests"), serde_json::json!({}))
            .unwrap();
        session.write_contacts(&[contact("Un")]).unwrap();
        drop(session);

        let after = observer(&path);
        assert_eq!(journal_mode(&after), "wal");
        assert_eq!(contact_count(&after).unwrap(), 0);
        assert_eq!(store.list_batches(10, 0).unwrap().len(), 0);
    }

    #[test]
    fn open_reader_keeps_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.db");
        let store = SqliteStore::open(&path).unwrap();
        let reader = observer(&path);
        assert_eq!(contact_count(&reader).unwrap(), 0);

        let mut session = store
            .begin_import(&Actor::system("tests"), serde_json::json!({}))
            .unwrap();
        let counts = session.write_contacts(&[contact("Un")]).unwrap();
        assert!(!journal_file(&path).exists());
        assert_eq!(
            contact_count(&reader).unwrap(),
            0,
            "a reader already there is never blocked by the import"
        );
        session.commit(&counts).unwrap();
        assert_eq!(contact_count(&reader).unwrap(), 1);
        assert_eq!(journal_mode(&reader), "wal");
    }
}
