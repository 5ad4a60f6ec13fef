//! Mapping PostgreSQL rows to domain records.

use postgres::Row;

use crate::domain::batch::{Batch, BatchKind, Outcome};
use crate::domain::contact::Role;
use crate::domain::history::{HistoryEntry, HistoryKind, UserRef};
use crate::domain::user::{User, UserRole};
use crate::storage::{Address, Contact, StoreError};

use super::{Failure, PgResult};

fn unexpected(what: &str, value: &str) -> Failure {
    Failure::Store(StoreError::Database(format!(
        "unexpected {what} in the database: {value}"
    )))
}

/// Reads a non-negative count stored as `bigint`.
pub fn count(row: &Row, index: usize) -> PgResult<u64> {
    let value: i64 = row.try_get(index)?;
    u64::try_from(value).map_err(|_| unexpected("negative count", &value.to_string()))
}

pub const USER_COLUMNS: &str = "id, initials, login, first_name, last_name, email, role, active";

/// `USER_COLUMNS` qualified by the alias `u`, for joins.
pub const USER_COLUMNS_U: &str =
    "u.id, u.initials, u.login, u.first_name, u.last_name, u.email, u.role, u.active";

pub fn user(row: &Row) -> PgResult<User> {
    let role: String = row.try_get(6)?;
    Ok(User {
        id: row.try_get(0)?,
        initials: row.try_get(1)?,
        login: row.try_get(2)?,
        first_name: row.try_get(3)?,
        last_name: row.try_get(4)?,
        email: row.try_get(5)?,
        role: UserRole::parse(&role).ok_or_else(|| unexpected("role", &role))?,
        active: row.try_get(7)?,
    })
}

/// Reads an optional user reference from four columns starting at `start`.
pub fn user_ref(row: &Row, start: usize) -> PgResult<Option<UserRef>> {
    let id: Option<i64> = row.try_get(start)?;
    match id {
        None => Ok(None),
        Some(id) => Ok(Some(UserRef {
            id,
            initials: row.try_get(start + 1)?,
            first_name: row.try_get(start + 2)?,
            last_name: row.try_get(start + 3)?,
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

fn address(row: &Row, start: usize) -> PgResult<Address> {
    let country: Option<String> = row.try_get(start + 5)?;
    Ok(Address {
        line1: row.try_get(start)?,
        line2: row.try_get(start + 1)?,
        postal_code: row.try_get(start + 2)?,
        postal_norm: row.try_get(start + 3)?,
        city: row.try_get(start + 4)?,
        country: country.unwrap_or_default(),
    })
}

pub fn contact(row: &Row) -> PgResult<Contact> {
    Ok(Contact {
        id: row.try_get(0)?,
        external_id: row.try_get(1)?,
        civility: row.try_get(2)?,
        first_name: row.try_get(3)?,
        last_name: row.try_get(4)?,
        company: row.try_get(5)?,
        email: row.try_get(6)?,
        phone: row.try_get(7)?,
        commercial_owner: user_ref(row, 8)?,
        technical_owner: user_ref(row, 12)?,
        perso: address(row, 16)?,
        pro: address(row, 22)?,
        created_at: row.try_get(28)?,
        updated_at: row.try_get(29)?,
    })
}

pub const BATCH_COLUMNS: &str = "id, kind, params, actor_id, actor_label, started_at, finished_at, \
     matched, changed, already_owned, history_entries, commercial, technical, undoes, undone_by, \
     idempotency_key";

pub fn batch(row: &Row) -> PgResult<Batch> {
    let kind: String = row.try_get(1)?;
    let undone_by: Option<i64> = row.try_get(14)?;
    Ok(Batch {
        id: row.try_get(0)?,
        kind: BatchKind::parse(&kind).ok_or_else(|| unexpected("batch kind", &kind))?,
        params: row.try_get(2)?,
        actor_id: row.try_get(3)?,
        actor: row.try_get(4)?,
        started_at: row.try_get(5)?,
        finished_at: row.try_get(6)?,
        outcome: Outcome {
            matched: count(row, 7)?,
            changed: count(row, 8)?,
            already_owned: count(row, 9)?,
            history_entries: count(row, 10)?,
            commercial: count(row, 11)?,
            technical: count(row, 12)?,
        },
        undoes: row.try_get(13)?,
        undone: undone_by.is_some(),
        undone_by,
        idempotency_key: row.try_get(15)?,
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

pub fn history_entry(row: &Row) -> PgResult<HistoryEntry> {
    let kind: String = row.try_get(3)?;
    let role: Option<String> = row.try_get(4)?;
    let role = match role {
        None => None,
        Some(role) => Some(Role::parse(&role).ok_or_else(|| unexpected("role", &role))?),
    };
    Ok(HistoryEntry {
        id: row.try_get(0)?,
        contact_id: row.try_get(1)?,
        at: row.try_get(2)?,
        kind: HistoryKind::parse(&kind).ok_or_else(|| unexpected("history kind", &kind))?,
        role,
        previous_owner: user_ref(row, 5)?,
        new_owner: user_ref(row, 9)?,
        batch_id: row.try_get(13)?,
        actor: row.try_get(14)?,
        undoes: row.try_get(15)?,
    })
}
