//! Mapping SQLite rows to domain records.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use crate::domain::batch::{Batch, BatchKind, Outcome};
use crate::domain::contact::Role;
use crate::domain::history::{HistoryEntry, HistoryKind, UserRef};
use crate::domain::user::{User, UserRole};
use crate::storage::{Address, Contact};

/// Formats a time as stored: RFC 3339 UTC with microseconds, so that text
/// order is time order.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_timestamp(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                Box::new(error),
            )
        })
}

fn conversion_error(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unexpected {what} in the database: {value}").into(),
    )
}

pub const USER_COLUMNS: &str = "id, initials, login, first_name, last_name, email, role, active";

pub fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(6)?;
    Ok(User {
        id: row.get(0)?,
        initials: row.get(1)?,
        login: row.get(2)?,
        first_name: row.get(3)?,
        last_name: row.get(4)?,
        email: row.get(5)?,
        role: UserRole::parse(&role).ok_or_else(|| conversion_error("role", &role))?,
        active: row.get(7)?,
    })
}

/// Reads an optional user reference from four columns starting at `start`.
pub fn user_ref(row: &Row<'_>, start: usize) -> rusqlite::Result<Option<UserRef>> {
    let id: Option<i64> = row.get(start)?;
    match id {
        None => Ok(None),
        Some(id) => Ok(Some(UserRef {
            id,
            initials: row.get(start + 1)?,
            first_name: row.get(start + 2)?,
            last_name: row.get(start + 3)?,
        })),
    }
}

/// Columns of a contact with both owners, for `contact()`. The query must
/// join `users cu` (commercial) and `users tu` (technical).
pub const CONTACT_COLUMNS: &str = "c.id, c.external_id, c.civility, c.first_name, c.last_name, \
     c.company, c.email, c.phone, \
     cu.id, cu.initials, cu.first_name, cu.last_name, \
     tu.id, tu.initials, tu.first_name, tu.last_name, \
     c.perso_line1, c.perso_line2, c.perso_postal_code, c.perso_postal_norm, c.perso_city, c.perso_country, \
     c.pro_line1, c.pro_line2, c.pro_postal_code, c.pro_postal_norm, c.pro_city, c.pro_country, \
     c.created_at, c.updated_at";

pub const CONTACT_JOINS: &str = "LEFT JOIN users cu ON cu.id = c.commercial_owner_id \
     LEFT JOIN users tu ON tu.id = c.technical_owner_id";

fn address(row: &Row<'_>, start: usize) -> rusqlite::Result<Address> {
    let country: Option<String> = row.get(start + 5)?;
    Ok(Address {
        line1: row.get(start)?,
        line2: row.get(start + 1)?,
        postal_code: row.get(start + 2)?,
        postal_norm: row.get(start + 3)?,
        city: row.get(start + 4)?,
        country: country.unwrap_or_default(),
    })
}

pub fn contact(row: &Row<'_>) -> rusqlite::Result<Contact> {
    let created: String = row.get(28)?;
    let updated: String = row.get(29)?;
    Ok(Contact {
        id: row.get(0)?,
        external_id: row.get(1)?,
        civility: row.get(2)?,
        first_name: row.get(3)?,
        last_name: row.get(4)?,
        company: row.get(5)?,
        email: row.get(6)?,
        phone: row.get(7)?,
        commercial_owner: user_ref(row, 8)?,
        technical_owner: user_ref(row, 12)?,
        perso: address(row, 16)?,
        pro: address(row, 22)?,
        created_at: parse_timestamp(&created)?,
        updated_at: parse_timestamp(&updated)?,
    })
}

pub const BATCH_COLUMNS: &str = "id, kind, params, actor_id, actor_label, started_at, finished_at, \
     matched, changed, already_owned, history_entries, commercial, technical, undoes, undone_by, \
     idempotency_key";

pub fn batch(row: &Row<'_>) -> rusqlite::Result<Batch> {
    let kind: String = row.get(1)?;
    let params: String = row.get(2)?;
    let started: String = row.get(5)?;
    let finished: Option<String> = row.get(6)?;
    let count =
        |index: usize| -> rusqlite::Result<u64> { row.get::<_, i64>(index).map(|n| n as u64) };
    let undone_by: Option<i64> = row.get(14)?;
    Ok(Batch {
        id: row.get(0)?,
        kind: BatchKind::parse(&kind).ok_or_else(|| conversion_error("batch kind", &kind))?,
        params: serde_json::from_str(&params).unwrap_or(serde_json::Value::String(params)),
        actor_id: row.get(3)?,
        actor: row.get(4)?,
        started_at: parse_timestamp(&started)?,
        finished_at: finished.as_deref().map(parse_timestamp).transpose()?,
        outcome: Outcome {
            matched: count(7)?,
            changed: count(8)?,
            already_owned: count(9)?,
            history_entries: count(10)?,
            commercial: count(11)?,
            technical: count(12)?,
        },
        undoes: row.get(13)?,
        undone: undone_by.is_some(),
        undone_by,
        idempotency_key: row.get(15)?,
    })
}

/// Columns of a history entry; the query joins `users pu` (previous),
/// `users nu` (new) and `batches b`.
pub const HISTORY_COLUMNS: &str = "h.id, h.contact_id, h.at, h.kind, h.role, \
     pu.id, pu.initials, pu.first_name, pu.last_name, \
     nu.id, nu.initials, nu.first_name, nu.last_name, \
     h.batch_id, coalesce(h.actor_label, b.actor_label, ''), b.undoes";

pub const HISTORY_JOINS: &str = "LEFT JOIN users pu ON pu.id = h.previous_owner_id \
     LEFT JOIN users nu ON nu.id = h.new_owner_id \
     LEFT JOIN batches b ON b.id = h.batch_id";

pub fn history_entry(row: &Row<'_>) -> rusqlite::Result<HistoryEntry> {
    let at: String = row.get(2)?;
    let kind: String = row.get(3)?;
    let role: Option<String> = row.get(4)?;
    let role = match role {
        None => None,
        Some(role) => Some(Role::parse(&role).ok_or_else(|| conversion_error("role", &role))?),
    };
    Ok(HistoryEntry {
        id: row.get(0)?,
        contact_id: row.get(1)?,
        at: parse_timestamp(&at)?,
        kind: HistoryKind::parse(&kind).ok_or_else(|| conversion_error("history kind", &kind))?,
        role,
        previous_owner: user_ref(row, 5)?,
        new_owner: user_ref(row, 9)?,
        batch_id: row.get(13)?,
        actor: row.get(14)?,
        undoes: row.get(15)?,
    })
}
