//! Web sessions, API tokens and failed logins on SQLite. Only hashes of
//! session and API tokens are stored.

use chrono::{Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::user::{User, UserId};
use crate::storage::{NewSession, SessionRecord, StoreResult};

use super::db_error;
use super::rows::{self, USER_COLUMNS};

pub fn create_session(conn: &Connection, session: &NewSession) -> StoreResult<()> {
    let now = Utc::now();
    conn.execute(
        "DELETE FROM sessions WHERE expires_at < ?1",
        [rows::timestamp(now)],
    )
    .map_err(db_error)?;
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            session.token_hash,
            session.user_id,
            session.csrf_token,
            rows::timestamp(now),
            rows::timestamp(session.expires_at),
        ],
    )
    .map_err(db_error)?;
    Ok(())
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

pub fn create_api_token(
    conn: &Connection,
    user: UserId,
    token_hash: &str,
    label: &str,
) -> StoreResult<i64> {
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, user, label, rows::timestamp(Utc::now())],
    )
    .map_err(db_error)?;
    Ok(conn.last_insert_rowid())
}

/// Finds the active user who owns a token.
pub fn api_token_user(conn: &Connection, token_hash: &str) -> StoreResult<Option<User>> {
    let columns = USER_COLUMNS
        .split(", ")
        .map(|column| format!("u.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    conn.query_row(
        &format!(
            "SELECT {columns} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ?1 AND u.active = 1"
        ),
        [token_hash],
        rows::user,
    )
    .optional()
    .map_err(db_error)
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
