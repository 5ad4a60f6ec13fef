//! PostgreSQL engine, for servers: several application processes may share
//! one database, since sessions, tokens and idempotency keys live in it.
//!
//! Writes run in READ COMMITTED transactions. Mass operations lock the rows
//! they change, in id order, and read the owner they replace from the
//! locked rows (see `reassign`). A transaction that the server aborts as a
//! deadlock victim or for a serialization failure is run again from the
//! start a few times, then reported as `StoreError::Busy`.

mod auth;
mod batches;
mod contacts;
mod copy_stream;
mod empty_load;
mod import;
mod params;
mod pool;
mod reassign;
mod rows;
mod undo;
mod users;

#[cfg(test)]
mod tests;

use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Transaction};

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
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_covering_indexes.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_api_token_revocation.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_search_fold.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/0005_overseas_and_postal_markers.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_pacific_countries.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/0007_quiet_runs.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/postgres/0008_token_form_submission.sql"),
    ),
];

/// Key of the advisory lock held while migrating, so that application
/// servers starting together apply each migration once. The value is
/// arbitrary; only Relais uses it.
const MIGRATION_LOCK: i64 = 0x5245_4c41_4953_0001;

/// Runs of one transaction before a deadlock or serialization failure is
/// reported as `Busy`.
const MAX_ATTEMPTS: u32 = 5;

/// First pause before a new attempt; it doubles at each attempt, plus a
/// random part so that two victims do not collide again.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// Why an operation failed: an engine error, kept whole so that the retry
/// loop can read its SQLSTATE, or a store error already decided.
pub(crate) enum Failure {
    Engine(postgres::Error),
    Store(StoreError),
}

pub(crate) type PgResult<T> = Result<T, Failure>;

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Failure {
        Failure::Engine(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::Store(error)
    }
}

impl Failure {
    /// True when running the whole transaction again may succeed.
    fn is_retryable(&self) -> bool {
        match self {
            Failure::Engine(error) => error.code().is_some_and(|code| {
                code == &SqlState::T_R_DEADLOCK_DETECTED
                    || code == &SqlState::T_R_SERIALIZATION_FAILURE
            }),
            Failure::Store(_) => false,
        }
    }

    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            Failure::Engine(error) => store_error(error),
            Failure::Store(error) => error,
        }
    }
}

/// Maps an engine error: lock conflicts that retries or waiting did not
/// resolve become `Busy`, the rest a database error carrying the engine's
/// text (a trigger's `RAISE EXCEPTION` message, for instance) for the logs.
pub(crate) fn store_error(error: postgres::Error) -> StoreError {
    if let Some(code) = error.code()
        && (code == &SqlState::T_R_DEADLOCK_DETECTED
            || code == &SqlState::T_R_SERIALIZATION_FAILURE
            || code == &SqlState::LOCK_NOT_AVAILABLE)
    {
        return StoreError::Busy;
    }
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ; {detail}"));
            }
            StoreError::Database(text)
        }
        None => StoreError::Database(error_chain(&error)),
    }
}

/// Formats an error with its causes. The driver's own message is often
/// only a category (« error connecting to server », « db error »), and the
/// cause gives the reason.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn backoff(attempt: u32) -> Duration {
    let exponential = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let jitter = Duration::from_millis(rand::random_range(0..20));
    exponential + jitter
}

pub struct PgStore {
    pool: pool::Pool,
}

impl PgStore {
    /// Connects to the database named by `url` and brings its schema up to
    /// date.
    pub fn open(url: &str) -> StoreResult<PgStore> {
        let config = pool::parse_config(url)?;
        let mut first = pool::connect(&config)?;
        migrate(&mut first)?;
        drop(first);
        let pool = pool::build(config)?;
        Ok(PgStore { pool })
    }

    fn conn(&self) -> StoreResult<pool::Connection> {
        self.pool.get().map_err(|error| {
            if crate::storage::pool_exhausted(&self.pool) {
                tracing::warn!(error = %error, "every PostgreSQL connection of the pool is in use");
                return StoreError::Busy;
            }
            StoreError::Database(format!(
                "aucune connexion à PostgreSQL disponible : {error}"
            ))
        })
    }

    /// Runs a read outside any explicit transaction.
    fn read<T>(&self, work: impl FnOnce(&mut Client) -> PgResult<T>) -> StoreResult<T> {
        let mut conn = self.conn()?;
        work(&mut conn).map_err(Failure::into_store_error)
    }

    /// Runs `work` in a transaction that commits only if `work` returns
    /// `Ok`. A deadlock or serialization failure rolls it back and runs it
    /// again, up to `MAX_ATTEMPTS` times, so `work` must not keep state
    /// from one run to the next.
    fn write<T>(
        &self,
        operation: &'static str,
        mut work: impl FnMut(&mut Transaction<'_>) -> PgResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn()?;
        let mut attempt = 1;
        loop {
            let failure = match run_transaction(&mut conn, &mut work) {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if !failure.is_retryable() {
                return Err(failure.into_store_error());
            }
            let error = failure.into_store_error();
            if attempt >= MAX_ATTEMPTS {
                tracing::warn!(
                    db.operation = operation,
                    db.attempts = attempt,
                    %error,
                    "transaction still conflicting after retries; giving up"
                );
                return Err(error);
            }
            tracing::info!(
                db.operation = operation,
                db.attempt = attempt,
                "transaction rolled back by a deadlock or serialization failure; retrying"
            );
            std::thread::sleep(backoff(attempt));
            attempt += 1;
        }
    }
}

fn run_transaction<T>(
    conn: &mut Client,
    work: &mut impl FnMut(&mut Transaction<'_>) -> PgResult<T>,
) -> PgResult<T> {
    let mut transaction = conn.transaction()?;
    let value = work(&mut transaction)?;
    transaction.commit()?;
    Ok(value)
}

/// Applies the migrations not yet recorded, in one transaction under an
/// advisory lock: a server that starts while another migrates waits, then
/// finds the migrations recorded and applies nothing.
fn migrate(client: &mut Client) -> StoreResult<()> {
    let mut transaction = client.transaction().map_err(store_error)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(store_error)?;
    // The server's notice that the table already exists would reach the
    // log of every start, so notices are off for this transaction.
    transaction
        .batch_execute(
            "SET LOCAL client_min_messages = warning;
             CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    bigint PRIMARY KEY,
                 applied_at timestamptz NOT NULL
             )",
        )
        .map_err(store_error)?;
    // Every migration not recorded yet applies, in order, not only those
    // above the highest recorded: branches merged in another order than
    // they were numbered may leave a gap below it.
    let applied: std::collections::HashSet<i64> = transaction
        .query("SELECT version FROM schema_migrations", &[])
        .map_err(store_error)?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(store_error)?;
    for (version, sql) in MIGRATIONS
        .iter()
        .filter(|(version, _)| !applied.contains(version))
    {
        transaction.batch_execute(sql).map_err(store_error)?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &chrono::Utc::now()],
            )
            .map_err(store_error)?;
        tracing::info!(migration.version = version, "applied PostgreSQL migration");
    }
    transaction.commit().map_err(store_error)
}

impl Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        self.write("create_user", |tx| users::create(tx, user))
    }

    fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(users::list)
    }

    fn find_user(&self, key: &str) -> StoreResult<Option<User>> {
        if has_nul(key) {
            return Ok(None);
        }
        self.read(|client| users::find(client, key))
    }

    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(|client| users::by_id(client, id))
    }

    fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<()> {
        self.write("set_user_active", |tx| users::set_active(tx, id, active))
    }

    fn set_user_role(&self, id: UserId, role: crate::domain::user::UserRole) -> StoreResult<()> {
        self.write("set_user_role", |tx| users::set_role(tx, id, role))
    }

    fn set_user_password(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        self.write("set_user_password", |tx| {
            users::set_password(tx, id, password_hash)
        })
    }

    fn user_password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        self.read(|client| users::password_hash(client, id))
    }

    fn find_contact(&self, key: &str) -> StoreResult<Option<Contact>> {
        if has_nul(key) {
            return Ok(None);
        }
        self.read(|client| contacts::find(client, key))
    }

    fn list_contacts(&self, filter: &ContactFilter, page: Page) -> StoreResult<ContactPage> {
        if filter.text.as_deref().is_some_and(has_nul)
            || filter.country.as_deref().is_some_and(has_nul)
        {
            return Ok(ContactPage {
                total: 0,
                contacts: Vec::new(),
            });
        }
        self.read(|client| contacts::list(client, filter, page))
    }

    fn export_contacts(
        &self,
        selection: &ExportSelection,
        sink: &mut dyn FnMut(&Contact) -> anyhow::Result<()>,
    ) -> StoreResult<u64> {
        self.read(|client| contacts::export(client, selection, sink))
    }

    fn contact_history(&self, contact: ContactId) -> StoreResult<Vec<HistoryEntry>> {
        self.read(|client| contacts::history(client, contact))
    }

    fn count_contacts(&self) -> StoreResult<u64> {
        self.read(contacts::count)
    }

    fn begin_import(
        &self,
        actor: &Actor,
        params: serde_json::Value,
    ) -> StoreResult<Box<dyn ImportSession + '_>> {
        let session = import::PgImport::begin(self.conn()?, actor, params)?;
        Ok(Box::new(session))
    }

    fn preview_user_reassignment(&self, request: &UserReassignment) -> StoreResult<Outcome> {
        self.read(|client| reassign::preview_user(client, request))
    }

    fn apply_user_reassignment(
        &self,
        request: &UserReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied> {
        self.write("apply_user_reassignment", |tx| {
            reassign::apply_user(tx, request, run)
        })
    }

    fn preview_region_reassignment(
        &self,
        request: &RegionReassignment,
    ) -> StoreResult<RegionPreview> {
        self.read(|client| reassign::preview_region(client, request))
    }

    fn apply_region_reassignment(
        &self,
        request: &RegionReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied> {
        self.write("apply_region_reassignment", |tx| {
            reassign::apply_region(tx, request, run)
        })
    }

    fn undo_batch(&self, batch: BatchId, run: &RunContext) -> StoreResult<UndoResult> {
        self.write("undo_batch", |tx| undo::undo(tx, batch, run))
    }

    fn preview_undo(&self, batch: BatchId) -> StoreResult<UndoPreview> {
        self.read(|client| undo::preview(client, batch))
    }

    fn undo_skipped(
        &self,
        target: BatchId,
        undo: Option<BatchId>,
    ) -> StoreResult<Vec<crate::domain::batch::SkippedContact>> {
        self.read(|client| undo::skipped_contacts(client, target, undo))
    }

    fn list_batches(&self, limit: u32, offset: u32) -> StoreResult<Vec<Batch>> {
        self.read(|client| batches::list(client, limit, offset))
    }

    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>> {
        self.read(|client| batches::get(client, id))
    }

    fn data_version(&self) -> StoreResult<(u64, i64)> {
        self.read(|client| {
            // Run for every preview the web server serves from its cache,
            // so the query is typed: one round trip, where a query
            // prepared on the fly takes three.
            let row = client
                .query_typed_one("SELECT count(*), coalesce(max(id), 0) FROM batches", &[])?;
            Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1)))
        })
    }

    fn batches_between_on_contacts(
        &self,
        batch: BatchId,
        since: BatchId,
        limit: u32,
    ) -> StoreResult<Vec<BatchId>> {
        self.read(|client| {
            let rows = client.query(
                crate::storage::BATCHES_BETWEEN_ON_CONTACTS,
                &[&batch, &since, &i64::from(limit)],
            )?;
            Ok(rows.iter().map(|row| row.get::<_, i64>(0)).collect())
        })
    }

    fn creating_import(&self, contact: ContactId) -> StoreResult<Option<BatchId>> {
        self.read(|client| batches::creating_import(client, contact))
    }

    fn batch_contacts(&self, id: BatchId, page: Page) -> StoreResult<ContactPage> {
        self.read(|client| contacts::of_batch(client, id, page))
    }

    fn create_session(&self, session: &NewSession) -> StoreResult<bool> {
        self.write("create_session", |tx| auth::create_session(tx, session))
    }

    fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.read(|client| auth::session(client, token_hash))
    }

    fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.write("delete_session", |tx| auth::delete_session(tx, token_hash))
    }

    fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        label: &str,
        submission: Option<&str>,
    ) -> StoreResult<StoredToken> {
        self.write("create_api_token", |tx| {
            auth::create_api_token(tx, user, token_hash, label, submission)
        })
    }

    fn api_token_user(&self, token_hash: &str) -> StoreResult<Option<User>> {
        self.read(|client| auth::api_token_user(client, token_hash))
    }

    fn list_api_tokens(&self, user: Option<UserId>) -> StoreResult<Vec<ApiToken>> {
        self.read(|client| auth::list_api_tokens(client, user))
    }

    fn revoke_api_token(
        &self,
        id: ApiTokenId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<TokenRevocation> {
        self.write("revoke_api_token", |tx| auth::revoke_api_token(tx, id, at))
    }

    fn record_api_token_use(
        &self,
        token_hash: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        self.read(|client| auth::record_api_token_use(client, token_hash, at))
    }

    fn record_login_failure(&self, key: &str, window_seconds: i64) -> StoreResult<u32> {
        let key = storable_key(key);
        self.write("record_login_failure", |tx| {
            auth::record_login_failure(tx, &key, window_seconds)
        })
    }

    fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let key = storable_key(key);
        self.write("clear_login_failures", |tx| {
            auth::clear_login_failures(tx, &key)
        })
    }
}

/// Tells whether `text` contains a NUL character, which PostgreSQL text
/// cannot hold: no stored login, key or name equals such a text, and
/// sending it would fail the statement with an encoding error.
fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Returns a login-throttling key PostgreSQL can store: NUL characters,
/// which it cannot, become U+FFFD, so such attempts are still counted.
fn storable_key(key: &str) -> String {
    key.replace('\0', "\u{FFFD}")
}
