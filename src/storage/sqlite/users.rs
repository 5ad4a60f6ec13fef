//! Users on SQLite.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::user::{NewUser, User, UserId, find_by_key, fold_key, sort_for_lists};
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
                "initiales : un autre utilisateur a déjà les initiales « {} » ; choisissez-en d'autres",
                user.initials
            ),
        ));
    }
    // E-mails and logins are compared in Rust, where case folds in every
    // alphabet; the users are few.
    let existing = list(conn)?;
    let folded_in = |value: &Option<String>, key: &str| {
        value
            .as_deref()
            .is_some_and(|value| fold_key(value) == fold_key(key))
    };
    if let Some(email) = &user.email
        && existing.iter().any(|other| folded_in(&other.email, email))
    {
        return Err(StoreError::rejected(
            "user_exists",
            format!("e-mail : « {email} » est déjà celui d'un autre utilisateur"),
        ));
    }
    if let Some(login) = &user.login
        && existing.iter().any(|other| folded_in(&other.login, login))
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
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
        .map_err(db_error)?;
    let mut users = statement
        .query_map([], rows::user)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    sort_for_lists(&mut users);
    Ok(users)
}

/// Finds by initials first, then login, then e-mail, all ignoring case
/// in every alphabet (see `find_by_key`); the users are few.
pub fn find(conn: &Connection, key: &str) -> StoreResult<Option<User>> {
    Ok(find_by_key(&list(conn)?, key).cloned())
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
    // As for roles, the last active administrator stays active.
    let changed = conn
        .execute(&crate::storage::set_active_sql(false), params![id, active])
        .map_err(db_error)?;
    if changed == 0 {
        return Err(missing_or_last_admin(conn, id)?);
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

pub fn set_role(
    conn: &Connection,
    id: UserId,
    role: crate::domain::user::UserRole,
) -> StoreResult<()> {
    // SQLite runs one write transaction at a time, so the last-admin check
    // inside the statement reads every committed change of role.
    let changed = conn
        .execute(
            &crate::storage::set_role_sql(false),
            params![id, role.as_str()],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(missing_or_last_admin(conn, id)?);
    }
    Ok(())
}

/// Explains why a guarded change of user `id` changed no row: no such
/// user, or the last active administrator.
fn missing_or_last_admin(conn: &Connection, id: UserId) -> StoreResult<StoreError> {
    let exists = conn
        .query_row("SELECT 1 FROM users WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map_err(db_error)?
        .is_some();
    Ok(if exists {
        StoreError::last_admin()
    } else {
        StoreError::unknown_user(id)
    })
}

/// Sets the password and ends the user's sessions: a password changed
/// because it leaked must not leave a session opened with it.
pub fn set_password(conn: &Connection, id: UserId, password_hash: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, password_hash],
    )
    .map_err(db_error)?;
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])
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
