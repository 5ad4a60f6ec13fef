//! Web sessions, API tokens and failed logins on PostgreSQL. Only hashes of
//! session and API tokens are stored. Keeping them here rather than in the
//! process lets several application servers share one database.

use chrono::{Duration, Utc};
use postgres::GenericClient;

use crate::domain::user::{User, UserId};
use crate::storage::{NewSession, SessionRecord};

use super::PgResult;
use super::rows::{self, USER_COLUMNS_U};

pub fn create_session(client: &mut impl GenericClient, session: &NewSession) -> PgResult<()> {
    let now = Utc::now();
    client.execute("DELETE FROM sessions WHERE expires_at < $1", &[&now])?;
    client.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &session.token_hash,
            &session.user_id,
            &session.csrf_token,
            &now,
            &session.expires_at,
        ],
    )?;
    Ok(())
}

/// Returns the unexpired session of an active user.
pub fn session(
    client: &mut impl GenericClient,
    token_hash: &str,
) -> PgResult<Option<SessionRecord>> {
    let row = client.query_opt(
        "SELECT s.user_id, s.csrf_token, s.expires_at FROM sessions s
         JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND u.active AND s.expires_at > $2",
        &[&token_hash, &Utc::now()],
    )?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some(SessionRecord {
            user_id: row.try_get(0)?,
            csrf_token: row.try_get(1)?,
            expires_at: row.try_get(2)?,
        })),
    }
}

pub fn delete_session(client: &mut impl GenericClient, token_hash: &str) -> PgResult<()> {
    client.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
    Ok(())
}

pub fn create_api_token(
    client: &mut impl GenericClient,
    user: UserId,
    token_hash: &str,
    label: &str,
) -> PgResult<i64> {
    let row = client.query_one(
        "INSERT INTO api_tokens (token_hash, user_id, label, created_at)
         VALUES ($1, $2, $3, $4) RETURNING id",
        &[&token_hash, &user, &label, &Utc::now()],
    )?;
    Ok(row.try_get(0)?)
}

/// Returns the active user owning a token.
pub fn api_token_user(client: &mut impl GenericClient, token_hash: &str) -> PgResult<Option<User>> {
    client
        .query_opt(
            &format!(
                "SELECT {USER_COLUMNS_U} FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND u.active"
            ),
            &[&token_hash],
        )?
        .as_ref()
        .map(rows::user)
        .transpose()
}

/// Records a failed login and returns how many failures `key` has in the
/// last `window_seconds`, this one included.
pub fn record_login_failure(
    client: &mut impl GenericClient,
    key: &str,
    window_seconds: i64,
) -> PgResult<u32> {
    let now = Utc::now();
    let since = now - Duration::seconds(window_seconds);
    client.execute("DELETE FROM login_failures WHERE at < $1", &[&since])?;
    client.execute(
        "INSERT INTO login_failures (key, at) VALUES ($1, $2)",
        &[&key, &now],
    )?;
    let row = client.query_one(
        "SELECT count(*) FROM login_failures WHERE key = $1 AND at >= $2",
        &[&key, &since],
    )?;
    let failures = rows::count(&row, 0)?;
    Ok(u32::try_from(failures).unwrap_or(u32::MAX))
}

pub fn clear_login_failures(client: &mut impl GenericClient, key: &str) -> PgResult<()> {
    client.execute("DELETE FROM login_failures WHERE key = $1", &[&key])?;
    Ok(())
}
