//! SQLite engine: one file, WAL mode, writers serialised by
//! `BEGIN IMMEDIATE` so that a batch reads the owners it replaces under the
//! write lock.

mod auth;
mod batches;
mod contacts;
mod first_load;
mod import;
mod pool;
mod ranges;
mod reassign;
mod rows;
mod undo;
mod users;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, TransactionBehavior};

use crate::domain::batch::{
    Actor, Applied, Batch, BatchId, Outcome, RegionReassignment, UndoPreview, UndoResult,
    UserReassignment,
};
use crate::domain::contact::ContactId;
use crate::domain::history::HistoryEntry;
use crate::domain::user::{NewUser, User, UserId};

use super::{
    ApiToken, ApiTokenId, Contact, ContactFilter, ContactPage, ExportSelection, ImportSession,
    NewSession, Page, RegionPreview, RunContext, SessionRecord, Store, StoreError, StoreResult,
    StoredToken, TokenRevocation,
};

/// Versioned migrations, applied in order and recorded in
/// `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_covering_indexes.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_owner_indexes_by_region.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_api_token_revocation.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_overseas_and_postal_markers.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_pacific_countries.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_quiet_runs.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/sqlite/0008_token_form_submission.sql"),
    ),
];

pub struct SqliteStore {
    pool: r2d2::Pool<pool::SqliteManager>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the database file, creating it and its schema on first use.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            return Err(StoreError::rejected(
                "database_folder_missing",
                format!(
                    "base de données : le dossier « {} » n'existe pas ; créez-le ou choisissez un autre chemin avec --db",
                    parent.display()
                ),
            ));
        }
        if path.is_dir() {
            return Err(StoreError::rejected(
                "database_invalid",
                format!(
                    "base de données : « {} » est un dossier ; indiquez un fichier, par exemple {}/relais.db",
                    path.display(),
                    path.display()
                ),
            ));
        }
        let not_sqlite = |error: rusqlite::Error| match &error {
            rusqlite::Error::SqliteFailure(failure, _)
                if failure.code == rusqlite::ErrorCode::NotADatabase =>
            {
                StoreError::rejected(
                    "database_invalid",
                    format!(
                        "base de données : « {} » n'est pas une base SQLite ; vérifiez le chemin donné à --db",
                        path.display()
                    ),
                )
            }
            _ => db_error(error),
        };
        let mut first = pool::open_connection(path).map_err(not_sqlite)?;
        let mode: String = first
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(not_sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // A first import runs under a rollback journal and switches the
            // base back to WAL when it ends. Until then this switch cannot
            // take its lock, and SQLite rejects it at once rather than
            // waiting. So the open goes on in the current mode, and the
            // reads below wait for the import within the busy timeout.
            if let Err(error) = first.pragma_update(None, "journal_mode", "WAL") {
                match db_error(error) {
                    StoreError::Busy => {
                        tracing::debug!("base busy, opened without switching it to WAL mode");
                    }
                    other => return Err(other),
                }
            }
        }
        migrate(&mut first)?;
        drop(first);

        // Connections open on demand rather than eight at once, so that a
        // CLI command uses one and an import into an empty base can leave
        // WAL mode (see `first_load`).
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(0))
            .build(pool::SqliteManager::new(path.to_path_buf()))
            .map_err(|error| StoreError::Database(error.to_string()))?;
        Ok(SqliteStore {
            pool,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<pool::SqliteManager>> {
        self.pool.get().map_err(|error| {
            if crate::storage::pool_exhausted(&self.pool) {
                tracing::warn!(error = %error, "every SQLite connection of the pool is in use");
                return StoreError::Busy;
            }
            StoreError::Database(error.to_string())
        })
    }

    /// Runs `work` in a write transaction taken with `BEGIN IMMEDIATE`; the
    /// transaction rolls back unless `work` returns `Ok`.
    fn write<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let value = work(&tx)?;
        tx.commit().map_err(db_error)?;
        Ok(value)
    }

    /// Runs `work` in one read transaction, so that its statements all see
    /// the same committed state even while batches commit: a preview's
    /// counts are subtracted from one another and must agree.
    fn read<T>(&self, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(db_error)?;
        let value = work(&tx)?;
        tx.commit().map_err(db_error)?;
        Ok(value)
    }
}

/// Applies the migrations the file lacks. An up-to-date file is only read,
/// so that opening it never waits for a batch that holds the write lock.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let latest = MIGRATIONS
        .iter()
        .map(|(version, _)| *version)
        .max()
        .unwrap_or(0);
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |row| row.get::<_, i64>(0).map(|n| n > 0),
        )
        .map_err(db_error)?;
    if has_table {
        let (applied, highest): (i64, i64) = conn
            .query_row(
                "SELECT count(*), coalesce(max(version), 0) FROM schema_migrations",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(db_error)?;
        if highest >= latest && applied as usize >= MIGRATIONS.len() {
            return Ok(());
        }
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         )",
    )
    .map_err(db_error)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    // Every migration not recorded yet applies, in order, not only those
    // above the highest recorded: branches merged in another order than
    // they were numbered may leave a gap below it.
    let applied: std::collections::HashSet<i64> = tx
        .prepare("SELECT version FROM schema_migrations")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(db_error)?;
    for (version, sql) in MIGRATIONS
        .iter()
        .filter(|(version, _)| !applied.contains(version))
    {
        tx.execute_batch(sql).map_err(db_error)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, rows::timestamp(chrono::Utc::now())],
        )
        .map_err(db_error)?;
        tracing::info!(migration.version = version, "applied SQLite migration");
    }
    tx.commit().map_err(db_error)
}

/// Maps an engine error: a busy database becomes `Busy`, the rest stays a
/// database error carrying the engine's text for the logs.
pub(crate) fn db_error(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, _) = &error
        && matches!(
            failure.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        )
    {
        return StoreError::Busy;
    }
    StoreError::Database(error.to_string())
}

impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        self.write(|tx| users::create(tx, user))
    }

    fn list_users(&self) -> StoreResult<Vec<User>> {
        users::list(&*self.conn()?)
    }

    fn find_user(&self, key: &str) -> StoreResult<Option<User>> {
        users::find(&*self.conn()?, key)
    }

    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        users::by_id(&*self.conn()?, id)
    }

    fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<()> {
        self.write(|tx| users::set_active(tx, id, active))
    }

    fn set_user_role(&self, id: UserId, role: crate::domain::user::UserRole) -> StoreResult<()> {
        self.write(|tx| users::set_role(tx, id, role))
    }

    fn set_user_password(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        self.write(|tx| users::set_password(tx, id, password_hash))
    }

    fn user_password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        users::password_hash(&*self.conn()?, id)
    }

    fn find_contact(&self, key: &str) -> StoreResult<Option<Contact>> {
        contacts::find(&*self.conn()?, key)
    }

    fn list_contacts(&self, filter: &ContactFilter, page: Page) -> StoreResult<ContactPage> {
        contacts::list(&*self.conn()?, filter, page)
    }

    fn export_contacts(
        &self,
        selection: &ExportSelection,
        sink: &mut dyn FnMut(&Contact) -> anyhow::Result<()>,
    ) -> StoreResult<u64> {
        // One read transaction gives the parts of a batch's export, and
        // the batch row they come from, one snapshot.
        self.read(|conn| contacts::export(conn, selection, sink))
    }

    fn contact_history(&self, contact: ContactId) -> StoreResult<Vec<HistoryEntry>> {
        contacts::history(&*self.conn()?, contact)
    }

    fn count_contacts(&self) -> StoreResult<u64> {
        contacts::count(&*self.conn()?)
    }

    fn begin_import(
        &self,
        actor: &Actor,
        params: serde_json::Value,
    ) -> StoreResult<Box<dyn ImportSession + '_>> {
        let session = import::SqliteImport::begin(self.conn()?, actor, params)?;
        Ok(Box::new(session))
    }

    fn preview_user_reassignment(&self, request: &UserReassignment) -> StoreResult<Outcome> {
        self.read(|conn| reassign::preview_user(conn, request))
    }

    fn apply_user_reassignment(
        &self,
        request: &UserReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied> {
        self.write(|tx| reassign::apply_user(tx, request, run))
    }

    fn preview_region_reassignment(
        &self,
        request: &RegionReassignment,
    ) -> StoreResult<RegionPreview> {
        self.read(|conn| reassign::preview_region(conn, request))
    }

    fn apply_region_reassignment(
        &self,
        request: &RegionReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied> {
        self.write(|tx| reassign::apply_region(tx, request, run))
    }

    fn undo_batch(&self, batch: BatchId, run: &RunContext) -> StoreResult<UndoResult> {
        self.write(|tx| undo::undo(tx, batch, run))
    }

    fn preview_undo(&self, batch: BatchId) -> StoreResult<UndoPreview> {
        self.read(|conn| undo::preview(conn, batch))
    }

    fn undo_skipped(
        &self,
        target: BatchId,
        undo: Option<BatchId>,
    ) -> StoreResult<Vec<crate::domain::batch::SkippedContact>> {
        undo::left_by_undo(&*self.conn()?, target, undo)
    }

    fn list_batches(&self, limit: u32, offset: u32) -> StoreResult<Vec<Batch>> {
        batches::list(&*self.conn()?, limit, offset)
    }

    fn data_version(&self) -> StoreResult<(u64, i64)> {
        self.conn()?
            .query_row(
                "SELECT count(*), coalesce(max(id), 0) FROM batches",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)?)),
            )
            .map_err(db_error)
    }

    fn batches_between_on_contacts(
        &self,
        batch: BatchId,
        since: BatchId,
        limit: u32,
    ) -> StoreResult<Vec<BatchId>> {
        let conn = self.conn()?;
        let mut statement = conn
            .prepare(crate::storage::BATCHES_BETWEEN_ON_CONTACTS)
            .map_err(db_error)?;
        statement
            .query_map(rusqlite::params![batch, since, limit], |row| row.get(0))
            .map_err(db_error)?
            .collect::<Result<Vec<BatchId>, _>>()
            .map_err(db_error)
    }

    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>> {
        batches::get(&*self.conn()?, id)
    }

    fn creating_import(&self, contact: ContactId) -> StoreResult<Option<BatchId>> {
        batches::creating_import(&*self.conn()?, contact)
    }

    fn batch_contacts(&self, id: BatchId, page: Page) -> StoreResult<ContactPage> {
        self.read(|conn| contacts::of_batch(conn, id, page))
    }

    fn create_session(&self, session: &NewSession) -> StoreResult<bool> {
        self.write(|tx| auth::create_session(tx, session))
    }

    fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        auth::session(&*self.conn()?, token_hash)
    }

    fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.write(|tx| auth::delete_session(tx, token_hash))
    }

    fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        label: &str,
        submission: Option<&str>,
    ) -> StoreResult<StoredToken> {
        self.write(|tx| auth::create_api_token(tx, user, token_hash, label, submission))
    }

    fn api_token_user(&self, token_hash: &str) -> StoreResult<Option<User>> {
        auth::api_token_user(&*self.conn()?, token_hash)
    }

    fn list_api_tokens(&self, user: Option<UserId>) -> StoreResult<Vec<ApiToken>> {
        auth::list_api_tokens(&*self.conn()?, user)
    }

    fn revoke_api_token(
        &self,
        id: ApiTokenId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<TokenRevocation> {
        self.write(|tx| auth::revoke_api_token(tx, id, at))
    }

    fn record_api_token_use(
        &self,
        token_hash: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        auth::record_api_token_use(&*self.conn()?, token_hash, at)
    }

    fn record_login_failure(&self, key: &str, window_seconds: i64) -> StoreResult<u32> {
        self.write(|tx| auth::record_login_failure(tx, key, window_seconds))
    }

    fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.write(|tx| auth::clear_login_failures(tx, key))
    }
}
