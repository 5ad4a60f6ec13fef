//! Users on PostgreSQL.

use postgres::GenericClient;
use postgres::error::SqlState;

use crate::domain::user::{NewUser, User, UserId, find_by_key, fold_key, sort_for_lists};
use crate::storage::StoreError;

use super::rows::{self, USER_COLUMNS};
use super::{Failure, PgResult};

pub fn create(client: &mut impl GenericClient, user: &NewUser) -> PgResult<User> {
    check_unique(client, user)?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO users (initials, login, first_name, last_name, email, role, active, password_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 RETURNING {USER_COLUMNS}"
            ),
            &[
                &user.initials,
                &user.login,
                &user.first_name,
                &user.last_name,
                &user.email,
                &user.role.as_str(),
                &user.active,
                &user.password_hash,
                &chrono::Utc::now(),
            ],
        )
        .map_err(|error| duplicate(error, user))?;
    rows::user(&row)
}

fn initials_taken(user: &NewUser) -> StoreError {
    StoreError::rejected(
        "user_exists",
        format!(
            "initiales : un autre utilisateur a déjà les initiales « {} » ; choisissez-en d'autres",
            user.initials
        ),
    )
}

fn email_taken(email: &str) -> StoreError {
    StoreError::rejected(
        "user_exists",
        format!("e-mail : « {email} » est déjà celui d'un autre utilisateur"),
    )
}

fn login_taken(login: &str) -> StoreError {
    StoreError::rejected(
        "user_exists",
        format!("identifiant : « {login} » est déjà celui d'un autre utilisateur"),
    )
}

/// Turns a unique violation, left when another transaction created the
/// same user after `check_unique`, into the message naming the field.
fn duplicate(error: postgres::Error, user: &NewUser) -> Failure {
    let constraint = error
        .as_db_error()
        .filter(|db| db.code() == &SqlState::UNIQUE_VIOLATION)
        .and_then(|db| db.constraint().map(str::to_string));
    match constraint.as_deref() {
        Some("users_initials_key") => Failure::Store(initials_taken(user)),
        Some("users_email") => Failure::Store(email_taken(user.email.as_deref().unwrap_or(""))),
        Some("users_login") => Failure::Store(login_taken(user.login.as_deref().unwrap_or(""))),
        _ => Failure::Engine(error),
    }
}

/// Rejects a duplicate with a message naming the field, before the unique
/// indexes would with an engine error.
fn check_unique(client: &mut impl GenericClient, user: &NewUser) -> PgResult<()> {
    let mut taken = |sql: &str, value: &str| -> PgResult<bool> {
        Ok(client.query_opt(sql, &[&value])?.is_some())
    };
    if taken("SELECT 1 FROM users WHERE initials = $1", &user.initials)? {
        return Err(Failure::Store(initials_taken(user)));
    }
    // E-mails and logins are compared in Rust, where case folds in every
    // alphabet whatever the database's locale; the users are few.
    let existing = list(client)?;
    let folded_in = |value: &Option<String>, key: &str| {
        value
            .as_deref()
            .is_some_and(|value| fold_key(value) == fold_key(key))
    };
    if let Some(email) = &user.email
        && existing.iter().any(|other| folded_in(&other.email, email))
    {
        return Err(Failure::Store(email_taken(email)));
    }
    if let Some(login) = &user.login
        && existing.iter().any(|other| folded_in(&other.login, login))
    {
        return Err(Failure::Store(login_taken(login)));
    }
    Ok(())
}

pub fn list(client: &mut impl GenericClient) -> PgResult<Vec<User>> {
    let mut users = client
        .query(
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"),
            &[],
        )?
        .iter()
        .map(rows::user)
        .collect::<PgResult<Vec<User>>>()?;
    sort_for_lists(&mut users);
    Ok(users)
}

/// Finds by initials first, then login, then e-mail, all ignoring case
/// in every alphabet (see `find_by_key`); the users are few.
pub fn find(client: &mut impl GenericClient, key: &str) -> PgResult<Option<User>> {
    Ok(find_by_key(&list(client)?, key).cloned())
}

pub fn by_id(client: &mut impl GenericClient, id: UserId) -> PgResult<Option<User>> {
    client
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(rows::user)
        .transpose()
}

pub fn set_active(client: &mut impl GenericClient, id: UserId, active: bool) -> PgResult<()> {
    // As for roles, the last active administrator stays active.
    if !active {
        lock_active_admins(client)?;
    }
    let changed = client.execute(&crate::storage::set_active_sql(true), &[&id, &active])?;
    if changed == 0 {
        return Err(missing_or_last_admin(client, id));
    }
    if !active {
        // A deactivated user loses every open session at once, and every
        // API token for good: a revoked token stays rejected when the user
        // is reactivated.
        client.execute("DELETE FROM sessions WHERE user_id = $1", &[&id])?;
        client.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            &[&id, &chrono::Utc::now()],
        )?;
    }
    Ok(())
}

pub fn set_role(
    client: &mut impl GenericClient,
    id: UserId,
    role: crate::domain::user::UserRole,
) -> PgResult<()> {
    lock_active_admins(client)?;
    let changed = client.execute(&crate::storage::set_role_sql(true), &[&id, &role.as_str()])?;
    if changed == 0 {
        return Err(missing_or_last_admin(client, id));
    }
    Ok(())
}

/// Locks the rows of the active administrators, in id order. Without it,
/// two administrators demoting or deactivating each other at once would
/// each find the other still active and leave none. With it, the second
/// change waits for the first and then reads its result.
fn lock_active_admins(client: &mut impl GenericClient) -> PgResult<()> {
    client.query(
        "SELECT id FROM users WHERE role = 'admin' AND active ORDER BY id FOR UPDATE",
        &[],
    )?;
    Ok(())
}

/// Explains why a guarded change of user `id` changed no row: no such
/// user, or the last active administrator.
fn missing_or_last_admin(client: &mut impl GenericClient, id: UserId) -> Failure {
    match client.query("SELECT 1 FROM users WHERE id = $1", &[&id]) {
        Ok(rows) if rows.is_empty() => Failure::Store(StoreError::unknown_user(id)),
        Ok(_) => Failure::Store(StoreError::last_admin()),
        Err(error) => error.into(),
    }
}

pub fn set_password(
    client: &mut impl GenericClient,
    id: UserId,
    password_hash: &str,
) -> PgResult<()> {
    client.execute(
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        &[&id, &password_hash],
    )?;
    // A password changed because it leaked must not leave a session
    // opened with it.
    client.execute("DELETE FROM sessions WHERE user_id = $1", &[&id])?;
    Ok(())
}

pub fn password_hash(client: &mut impl GenericClient, id: UserId) -> PgResult<Option<String>> {
    let row = client.query_opt("SELECT password_hash FROM users WHERE id = $1", &[&id])?;
    match row {
        None => Ok(None),
        Some(row) => Ok(row.try_get::<_, Option<String>>(0)?),
    }
}
