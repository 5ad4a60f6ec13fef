//! Users on SQLite.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::user::{NewUser, User, UserId};
use crate::storage::{StoreError, StoreResult};

use super::db_error;
use super::rows::{self, USER_COLUMNS};

pub fn create(conn: &Connection, user: &NewUser) -> StoreResult<User> {
    check_unique(conn, user)?;
    conn.execute(
        "INSERT INTO users (initials, login, first_name, last_name, email, role, active, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            user.initials,
            user.login,
            user.first_name,
            user.last_name,
            user.email,
            user.role.as_str(),
            user.active,
            user.password_hash,
            rows::timestamp(chrono::Utc::now()),
        ],
    )
    .map_err(db_error)?;
    let id = conn.last_insert_rowid();
    by_id(conn, id)?.ok_or(StoreError::unknown_user(id))
}

/// Rejects a duplicate with a message naming the field, before the unique
/// indexes would with an engine error.
fn check_unique(conn: &Connection, user: &NewUser) -> StoreResult<()> {
    let taken = |sql: &str, value: &str| -> StoreResult<bool> {
        conn.query_row(sql, [value], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(db_error)
    };
    if taken("SELECT 1 FROM users WHERE initials = ?1", &user.initials)? {
        return Err(StoreError::rejected(
            "user_exists",
            format!(
                "initiales : « {} » sont déjà prises par un autre utilisateur ; choisissez d'autres initiales",
                user.initials
            ),
        ));
    }
    if let Some(email) = &user.email
        && taken("SELECT 1 FROM users WHERE lower(email) = lower(?1)", email)?
    {
        return Err(StoreError::rejected(
            "user_exists",
            format!("e-mail : « {email} » est déjà celui d'un autre utilisateur"),
        ));
    }
    if let Some(login) = &user.login
        && taken("SELECT 1 FROM users WHERE lower(login) = lower(?1)", login)?
    {
        return Err(StoreError::rejected(
            "user_exists",
            format!("identifiant : « {login} » est déjà celui d'un autre utilisateur"),
        ));
    }
    Ok(())
}

pub fn list(conn: &Connection) -> StoreResult<Vec<User>> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY active DESC, last_name, first_name, initials"
        ))
        .map_err(db_error)?;
    let users = statement
        .query_map([], rows::user)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(users)
}

/// Finds by initials first, then login, then e-mail, all ignoring case.
pub fn find(conn: &Connection, key: &str) -> StoreResult<Option<User>> {
    let key = key.trim();
    conn.query_row(
        &format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE initials = upper(?1) OR lower(login) = lower(?1) OR lower(email) = lower(?1)
             ORDER BY CASE WHEN initials = upper(?1) THEN 0 WHEN lower(login) = lower(?1) THEN 1 ELSE 2 END
             LIMIT 1"
        ),
        [key],
        rows::user,
    )
    .optional()
    .map_err(db_error)
}

pub fn by_id(conn: &Connection, id: UserId) -> StoreResult<Option<User>> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        [id],
        rows::user,
    )
    .optional()
    .map_err(db_error)
}

pub fn set_active(conn: &Connection, id: UserId, active: bool) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE users SET active = ?2 WHERE id = ?1",
            params![id, active],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::unknown_user(id));
    }
    if !active {
        // A deactivated user loses every open session at once, and every
        // API token for good: a revoked token stays rejected when the user
        // is reactivated.
        conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])
            .map_err(db_error)?;
        conn.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            params![id, rows::timestamp(chrono::Utc::now())],
        )
        .map_err(db_error)?;
    }
    Ok(())
}

pub fn set_password(conn: &Connection, id: UserId, password_hash: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, password_hash],
    )
    .map_err(db_error)?;
    Ok(())
}

pub fn password_hash(conn: &Connection, id: UserId) -> StoreResult<Option<String>> {
    conn.query_row(
        "SELECT password_hash FROM users WHERE id = ?1",
        [id],
        |row| row.get::<_, Option<String>>(0),
    )
    .optional()
    .map(Option::flatten)
    .map_err(db_error)
}
