//! Web sessions, API tokens and failed logins on PostgreSQL. Only hashes of
//! session and API tokens are stored. Keeping them here rather than in the
//! process lets several application servers share one database.

use chrono::{DateTime, Duration, Utc};
use postgres::types::Type;
use postgres::{GenericClient, Row};

use crate::domain::history::UserRef;
use crate::domain::user::{User, UserId};
use crate::storage::{
    API_TOKEN_USE_INTERVAL_SECONDS, ApiToken, ApiTokenId, NewSession, SessionRecord, StoreError,
    StoredToken, TokenRevocation,
};

use super::rows::{self, USER_COLUMNS_U};
use super::{Failure, PgResult};

pub fn create_session(client: &mut impl GenericClient, session: &NewSession) -> PgResult<bool> {
    // A password change or deactivation updates this row, so the share lock
    // makes a concurrent one wait for this commit and then delete the new
    // session. One that committed first fails the check instead.
    // The lock is taken before expired sessions are deleted, the order those
    // changes use (user row, then sessions), so that no deadlock can form.
    let unchanged = client.query_opt(
        "SELECT 1 FROM users WHERE id = $1 AND active AND password_hash = $2 FOR SHARE",
        &[&session.user_id, &session.password_hash],
    )?;
    if unchanged.is_none() {
        return Ok(false);
    }
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
    Ok(true)
}

/// Returns the unexpired session of an active user.
pub fn session(
    client: &mut impl GenericClient,
    token_hash: &str,
) -> PgResult<Option<SessionRecord>> {
    // Typed parameters spare the round trip of a prepared statement on
    // every page a logged-in user opens.
    let row = client.query_typed_opt(
        "SELECT s.user_id, s.csrf_token, s.expires_at FROM sessions s
         JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND u.active AND s.expires_at > $2",
        &[(&token_hash, Type::TEXT), (&Utc::now(), Type::TIMESTAMPTZ)],
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

/// Creates a token for an active user. The user row is read `FOR SHARE`,
/// so a concurrent deactivation either waits for this insert, and then
/// revokes the new token, or commits first, and then no token is created.
pub fn create_api_token(
    client: &mut impl GenericClient,
    user: UserId,
    token_hash: &str,
    label: &str,
    submission: Option<&str>,
) -> PgResult<StoredToken> {
    if let Some(id) = token_of_submission(client, submission)? {
        return Ok(StoredToken::SentBefore(id));
    }
    let active = client.query_opt(
        "SELECT 1 FROM users WHERE id = $1 AND active FOR SHARE",
        &[&user],
    )?;
    if active.is_none() {
        return Err(Failure::Store(StoreError::rejected(
            "inactive_user",
            format!(
                "utilisateur n° {user} : inactif ou introuvable ; réactivez-le avant de lui créer un jeton"
            ),
        )));
    }
    // A second sending of the same form that passed the lookup above waits
    // here for the first one's transaction on the unique index, then inserts
    // nothing. The lookup that follows is a new statement, so it finds the
    // token the first one committed.
    let row = client.query_opt(
        "INSERT INTO api_tokens (token_hash, user_id, label, created_at, submission)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (submission) DO NOTHING
         RETURNING id",
        &[&token_hash, &user, &label, &Utc::now(), &submission],
    )?;
    if let Some(row) = row {
        return Ok(StoredToken::Created(row.try_get(0)?));
    }
    match token_of_submission(client, submission)? {
        Some(id) => Ok(StoredToken::SentBefore(id)),
        None => Err(Failure::Store(StoreError::Database(format!(
            "token insert skipped for submission {submission:?}, which no token carries"
        )))),
    }
}

/// Returns the token that a form key created, if any.
fn token_of_submission(
    client: &mut impl GenericClient,
    submission: Option<&str>,
) -> PgResult<Option<ApiTokenId>> {
    let Some(key) = submission else {
        return Ok(None);
    };
    let row = client.query_opt("SELECT id FROM api_tokens WHERE submission = $1", &[&key])?;
    Ok(match row {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    })
}

/// Returns the active user owning an unrevoked token.
pub fn api_token_user(client: &mut impl GenericClient, token_hash: &str) -> PgResult<Option<User>> {
    // Typed, as the session lookup: every API call runs it.
    client
        .query_typed_opt(
            &format!(
                "SELECT {USER_COLUMNS_U} FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active"
            ),
            &[(&token_hash, Type::TEXT)],
        )?
        .as_ref()
        .map(rows::user)
        .transpose()
}

const TOKEN_COLUMNS: &str = "t.id, u.id, u.initials, u.first_name, u.last_name, \
     t.label, t.created_at, t.last_used_at, t.revoked_at";

fn api_token(row: &Row) -> PgResult<ApiToken> {
    Ok(ApiToken {
        id: row.try_get(0)?,
        user: UserRef {
            id: row.try_get(1)?,
            initials: row.try_get(2)?,
            first_name: row.try_get(3)?,
            last_name: row.try_get(4)?,
        },
        label: row.try_get(5)?,
        created_at: row.try_get(6)?,
        last_used_at: row.try_get(7)?,
        revoked_at: row.try_get(8)?,
    })
}

pub fn list_api_tokens(
    client: &mut impl GenericClient,
    user: Option<UserId>,
) -> PgResult<Vec<ApiToken>> {
    client
        .query(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE $1::bigint IS NULL OR t.user_id = $1
                 ORDER BY t.id DESC"
            ),
            &[&user],
        )?
        .iter()
        .map(api_token)
        .collect()
}

pub fn revoke_api_token(
    client: &mut impl GenericClient,
    id: ApiTokenId,
    at: DateTime<Utc>,
) -> PgResult<TokenRevocation> {
    let changed = client.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&id, &at],
    )?;
    let token = client
        .query_opt(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.id = $1"
            ),
            &[&id],
        )?
        .as_ref()
        .map(api_token)
        .transpose()?;
    let revocation = match (token, changed) {
        (None, _) => TokenRevocation::NotFound,
        (Some(token), 0) => TokenRevocation::AlreadyRevoked(token),
        (Some(token), _) => TokenRevocation::Revoked(token),
    };
    Ok(revocation)
}

/// Records a token's use. Within a minute of the last recorded use the
/// `UPDATE` matches no row, so most calls write nothing.
pub fn record_api_token_use(
    client: &mut impl GenericClient,
    token_hash: &str,
    at: DateTime<Utc>,
) -> PgResult<bool> {
    let stale_before = at - Duration::seconds(API_TOKEN_USE_INTERVAL_SECONDS);
    let written = client.execute(
        "UPDATE api_tokens SET last_used_at = $3
         WHERE token_hash = $1 AND revoked_at IS NULL
           AND (last_used_at IS NULL OR last_used_at < $2)",
        &[&token_hash, &stale_before, &at],
    )?;
    Ok(written > 0)
}

/// First key of the advisory locks that order the attempts on one login
/// key; the two-key form keeps them apart from the one-key migration lock.
const LOGIN_FAILURE_LOCKS: i32 = 0x5245_4C41;

/// Records a failed login and returns how many failures `key` has in the
/// last `window_seconds`, this one included.
pub fn record_login_failure(
    client: &mut impl GenericClient,
    key: &str,
    window_seconds: i64,
) -> PgResult<u32> {
    // Attempts on one key take turns, so that each count includes every
    // attempt before it: under READ COMMITTED, parallel attempts would not
    // see each other's uncommitted rows, and more than the limit would get
    // their password checked.
    client.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&LOGIN_FAILURE_LOCKS, &key],
    )?;
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
