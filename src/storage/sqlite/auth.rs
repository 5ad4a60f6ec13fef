//! Web sessions, API tokens and failed logins on SQLite. Only hashes of
//! session and API tokens are stored.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::history::UserRef;
use crate::domain::user::{User, UserId};
use crate::storage::{
    API_TOKEN_USE_INTERVAL_SECONDS, ApiToken, ApiTokenId, NewSession, SessionRecord, StoreError,
    StoreResult, StoredToken, TokenRevocation,
};

use super::rows::{self, USER_COLUMNS};
use super::{db_error, pool};

pub fn create_session(conn: &Connection, session: &NewSession) -> StoreResult<bool> {
    let now = Utc::now();
    conn.execute(
        "DELETE FROM sessions WHERE expires_at < ?1",
        [rows::timestamp(now)],
    )
    .map_err(db_error)?;
    // Under the write lock, a password change or deactivation is either
    // committed and seen here, or later and deletes this session.
    let inserted = conn
        .execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
             SELECT ?1, id, ?3, ?4, ?5 FROM users
             WHERE id = ?2 AND active = 1 AND password_hash = ?6",
            params![
                session.token_hash,
                session.user_id,
                session.csrf_token,
                rows::timestamp(now),
                rows::timestamp(session.expires_at),
                session.password_hash,
            ],
        )
        .map_err(db_error)?;
    Ok(inserted == 1)
}

pub fn session(conn: &Connection, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
    let found = conn
        .query_row(
            "SELECT s.user_id, s.csrf_token, s.expires_at FROM sessions s
             JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND u.active = 1",
            [token_hash],
            |row| {
                let expires: String = row.get(2)?;
                Ok(SessionRecord {
                    user_id: row.get(0)?,
                    csrf_token: row.get(1)?,
                    expires_at: rows::parse_timestamp(&expires)?,
                })
            },
        )
        .optional()
        .map_err(db_error)?;
    Ok(found.filter(|session| session.expires_at > Utc::now()))
}

pub fn delete_session(conn: &Connection, token_hash: &str) -> StoreResult<()> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])
        .map_err(db_error)?;
    Ok(())
}

/// Creates a token for an active user. The check and the insert share the
/// write transaction, so a deactivation cannot slip in between and leave
/// an unrevoked token to an inactive user.
pub fn create_api_token(
    conn: &Connection,
    user: UserId,
    token_hash: &str,
    label: &str,
    submission: Option<&str>,
) -> StoreResult<StoredToken> {
    // The caller holds the write lock, so no other sending of the same
    // form can store its token between this lookup and the insert.
    if let Some(key) = submission
        && let Some(id) = conn
            .query_row(
                "SELECT id FROM api_tokens WHERE submission = ?1",
                [key],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?
    {
        return Ok(StoredToken::SentBefore(id));
    }
    let inserted = conn
        .execute(
            "INSERT INTO api_tokens (token_hash, user_id, label, created_at, submission)
             SELECT ?1, id, ?3, ?4, ?5 FROM users WHERE id = ?2 AND active = 1",
            params![
                token_hash,
                user,
                label,
                rows::timestamp(Utc::now()),
                submission
            ],
        )
        .map_err(db_error)?;
    if inserted == 0 {
        return Err(inactive_token_owner(user));
    }
    Ok(StoredToken::Created(conn.last_insert_rowid()))
}

pub(crate) fn inactive_token_owner(user: UserId) -> StoreError {
    StoreError::rejected(
        "inactive_user",
        format!(
            "utilisateur n° {user} : inactif ou introuvable ; réactivez-le avant de lui créer un jeton"
        ),
    )
}

/// Finds the active user who owns an unrevoked token.
pub fn api_token_user(conn: &Connection, token_hash: &str) -> StoreResult<Option<User>> {
    let columns = USER_COLUMNS
        .split(", ")
        .map(|column| format!("u.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    conn.query_row(
        &format!(
            "SELECT {columns} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND u.active = 1"
        ),
        [token_hash],
        rows::user,
    )
    .optional()
    .map_err(db_error)
}

const TOKEN_COLUMNS: &str = "t.id, u.id, u.initials, u.first_name, u.last_name, \
     t.label, t.created_at, t.last_used_at, t.revoked_at";

fn api_token(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    let time = |index: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        row.get::<_, Option<String>>(index)?
            .map(|text| rows::parse_timestamp(&text))
            .transpose()
    };
    Ok(ApiToken {
        id: row.get(0)?,
        user: UserRef {
            id: row.get(1)?,
            initials: row.get(2)?,
            first_name: row.get(3)?,
            last_name: row.get(4)?,
        },
        label: row.get(5)?,
        created_at: rows::parse_timestamp(&row.get::<_, String>(6)?)?,
        last_used_at: time(7)?,
        revoked_at: time(8)?,
    })
}

pub fn list_api_tokens(conn: &Connection, user: Option<UserId>) -> StoreResult<Vec<ApiToken>> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE ?1 IS NULL OR t.user_id = ?1
             ORDER BY t.id DESC"
        ))
        .map_err(db_error)?;
    let tokens = statement
        .query_map([user], api_token)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(tokens)
}

fn api_token_by_id(conn: &Connection, id: ApiTokenId) -> StoreResult<Option<ApiToken>> {
    conn.query_row(
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.id = ?1"
        ),
        [id],
        api_token,
    )
    .optional()
    .map_err(db_error)
}

pub fn revoke_api_token(
    conn: &Connection,
    id: ApiTokenId,
    at: DateTime<Utc>,
) -> StoreResult<TokenRevocation> {
    let changed = conn
        .execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, rows::timestamp(at)],
        )
        .map_err(db_error)?;
    let revocation = match (api_token_by_id(conn, id)?, changed) {
        (None, _) => TokenRevocation::NotFound,
        (Some(token), 0) => TokenRevocation::AlreadyRevoked(token),
        (Some(token), _) => TokenRevocation::Revoked(token),
    };
    Ok(revocation)
}

/// Records a token's use. The check runs as a plain read, so that most
/// calls take no lock. The write does not wait for the write lock: while a
/// batch holds it, the call fails with `Busy` and a later call records the
/// use instead.
pub fn record_api_token_use(
    conn: &Connection,
    token_hash: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let stale_before = rows::timestamp(at - Duration::seconds(API_TOKEN_USE_INTERVAL_SECONDS));
    let due: Option<bool> = conn
        .query_row(
            "SELECT last_used_at IS NULL OR last_used_at < ?2 FROM api_tokens
             WHERE token_hash = ?1 AND revoked_at IS NULL",
            params![token_hash, stale_before],
            |row| row.get(0),
        )
        .optional()
        .map_err(db_error)?;
    if due != Some(true) {
        return Ok(false);
    }
    conn.busy_timeout(std::time::Duration::ZERO)
        .map_err(db_error)?;
    let written = conn.execute(
        "UPDATE api_tokens SET last_used_at = ?3
         WHERE token_hash = ?1 AND revoked_at IS NULL
           AND (last_used_at IS NULL OR last_used_at < ?2)",
        params![token_hash, stale_before, rows::timestamp(at)],
    );
    conn.busy_timeout(pool::BUSY_TIMEOUT).map_err(db_error)?;
    Ok(written.map_err(db_error)? > 0)
}

pub fn record_login_failure(conn: &Connection, key: &str, window_seconds: i64) -> StoreResult<u32> {
    let now = Utc::now();
    let since = rows::timestamp(now - Duration::seconds(window_seconds));
    conn.execute("DELETE FROM login_failures WHERE at < ?1", [&since])
        .map_err(db_error)?;
    conn.execute(
        "INSERT INTO login_failures (key, at) VALUES (?1, ?2)",
        params![key, rows::timestamp(now)],
    )
    .map_err(db_error)?;
    conn.query_row(
        "SELECT count(*) FROM login_failures WHERE key = ?1 AND at >= ?2",
        params![key, since],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n as u32)
    .map_err(db_error)
}

pub fn clear_login_failures(conn: &Connection, key: &str) -> StoreResult<()> {
    conn.execute("DELETE FROM login_failures WHERE key = ?1", [key])
        .map_err(db_error)?;
    Ok(())
}
