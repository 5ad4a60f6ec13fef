//! Both mass reassignments on SQLite, set-based: a fixed number of
//! statements whatever the number of contacts.
//!
//! The caller holds the write lock (`BEGIN IMMEDIATE`), so the owners read
//! by `INSERT INTO history … SELECT` are the ones the `UPDATE` replaces.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use crate::domain::batch::{
    Applied, BatchId, BatchKind, Outcome, RegionReassignment, UserReassignment,
};
use crate::domain::contact::Role;
use crate::domain::country::CountryCode;
use crate::domain::history::HistoryKind;
use crate::domain::postal::{PostalPrefix, PostalSelection};
use crate::storage::{PrefixCount, RegionPreview, RunContext, StoreResult};

use super::rows::{self, CONTACT_COLUMNS, CONTACT_JOINS};
use super::{batches, db_error};

/// Number of matched contacts a region preview shows.
const SAMPLE_SIZE: i64 = 5;

fn owner_column(role: Role) -> &'static str {
    match role {
        Role::Commercial => "commercial_owner_id",
        Role::Technical => "technical_owner_id",
    }
}

fn count(conn: &Connection, sql: &str, values: &[Value]) -> StoreResult<u64> {
    conn.query_row(sql, params_from_iter(values.iter()), |row| row.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(db_error)
}

pub fn preview_user(conn: &Connection, request: &UserReassignment) -> StoreResult<Outcome> {
    let from = [Value::Integer(request.from)];
    let commercial = count(conn, "SELECT count(*) FROM contacts WHERE commercial_owner_id = ?", &from)?;
    let technical = count(conn, "SELECT count(*) FROM contacts WHERE technical_owner_id = ?", &from)?;
    let both = count(
        conn,
        "SELECT count(*) FROM contacts WHERE commercial_owner_id = ?1 AND technical_owner_id = ?1",
        &from,
    )?;
    let changed = commercial + technical - both;
    Ok(Outcome {
        matched: changed,
        changed,
        already_owned: 0,
        history_entries: commercial + technical,
        commercial,
        technical,
    })
}

pub fn apply_user(
    conn: &Connection,
    request: &UserReassignment,
    run: &RunContext,
) -> StoreResult<Applied> {
    if let Some(applied) = batches::replay(conn, BatchKind::Reassign, run)? {
        return Ok(applied);
    }
    let batch = batches::insert(conn, BatchKind::Reassign, run, None)?;
    let at = rows::timestamp(run.now);

    let mut outcome = Outcome::default();
    for role in Role::ALL {
        let column = owner_column(role);
        let written = conn
            .execute(
                &format!(
                    "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                     SELECT id, ?1, ?2, ?3, {column}, ?4, ?5 FROM contacts WHERE {column} = ?6"
                ),
                params![at, HistoryKind::Reassign.as_str(), role.as_str(), request.to, batch, request.from],
            )
            .map_err(db_error)? as u64;
        conn.execute(
            &format!("UPDATE contacts SET {column} = ?1, updated_at = ?2 WHERE {column} = ?3"),
            params![request.to, at, request.from],
        )
        .map_err(db_error)?;
        match role {
            Role::Commercial => outcome.commercial = written,
            Role::Technical => outcome.technical = written,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = distinct_contacts(conn, batch)?;
    outcome.matched = outcome.changed;

    batches::close(conn, batch, outcome)
}

fn distinct_contacts(conn: &Connection, batch: BatchId) -> StoreResult<u64> {
    count(
        conn,
        "SELECT count(DISTINCT contact_id) FROM history WHERE batch_id = ?",
        &[Value::Integer(batch)],
    )
}

/// `SELECT id FROM contacts …` for the contacts with an address in the
/// region, as a union of index range scans: one per address kind and
/// prefix. Each prefix is a byte range, so no user text reaches `LIKE`.
fn region_ids(country: &CountryCode, prefixes: Option<&[PostalPrefix]>, values: &mut Vec<Value>) -> String {
    let mut parts = Vec::new();
    for side in ["perso", "pro"] {
        match prefixes {
            None => {
                parts.push(format!("SELECT id FROM contacts WHERE {side}_country = ?"));
                values.push(Value::Text(country.as_str().to_string()));
            }
            Some(prefixes) => {
                for prefix in prefixes {
                    parts.push(format!(
                        "SELECT id FROM contacts WHERE {side}_country = ? AND {side}_postal_norm >= ? AND {side}_postal_norm < ?"
                    ));
                    values.push(Value::Text(country.as_str().to_string()));
                    values.push(Value::Text(prefix.as_str().to_string()));
                    values.push(Value::Text(prefix.upper_bound()));
                }
            }
        }
    }
    parts.join(" UNION ")
}

fn selection_prefixes(postal: &PostalSelection) -> Option<&[PostalPrefix]> {
    match postal {
        PostalSelection::All => None,
        PostalSelection::Prefixes(prefixes) => Some(prefixes),
    }
}

/// Counts what a region reassignment would do, from the current data.
fn region_outcome(
    conn: &Connection,
    request: &RegionReassignment,
    prefixes: Option<&[PostalPrefix]>,
) -> StoreResult<Outcome> {
    let mut values = Vec::new();
    let ids = region_ids(&request.country, prefixes, &mut values);
    let matched = count(conn, &format!("SELECT count(*) FROM ({ids})"), &values)?;

    let mut outcome = Outcome {
        matched,
        ..Outcome::default()
    };
    let mut differs = Vec::new();
    for &role in request.roles.roles() {
        let column = owner_column(role);
        let mut role_values = values.clone();
        role_values.push(Value::Integer(request.to));
        let changed = count(
            conn,
            &format!("SELECT count(*) FROM contacts WHERE id IN ({ids}) AND {column} IS NOT ?"),
            &role_values,
        )?;
        match role {
            Role::Commercial => outcome.commercial = changed,
            Role::Technical => outcome.technical = changed,
        }
        differs.push(format!("{column} IS NOT ?"));
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = if differs.len() == 1 {
        outcome.history_entries
    } else {
        let mut any_values = values.clone();
        for _ in &differs {
            any_values.push(Value::Integer(request.to));
        }
        count(
            conn,
            &format!(
                "SELECT count(*) FROM contacts WHERE id IN ({ids}) AND ({})",
                differs.join(" OR ")
            ),
            &any_values,
        )?
    };
    outcome.already_owned = outcome.matched - outcome.changed;
    Ok(outcome)
}

pub fn preview_region(conn: &Connection, request: &RegionReassignment) -> StoreResult<RegionPreview> {
    let prefixes = selection_prefixes(&request.postal);
    let outcome = region_outcome(conn, request, prefixes)?;

    let mut per_prefix = Vec::new();
    if let Some(prefixes) = prefixes {
        for prefix in prefixes {
            let mut values = Vec::new();
            let ids = region_ids(&request.country, Some(std::slice::from_ref(prefix)), &mut values);
            per_prefix.push(PrefixCount {
                prefix: prefix.as_str().to_string(),
                matched: count(conn, &format!("SELECT count(*) FROM ({ids})"), &values)?,
            });
        }
    }

    let mut values = Vec::new();
    let ids = region_ids(&request.country, prefixes, &mut values);
    values.push(Value::Integer(SAMPLE_SIZE));
    let mut statement = conn
        .prepare(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS}
             WHERE c.id IN ({ids}) ORDER BY c.id LIMIT ?"
        ))
        .map_err(db_error)?;
    let sample = statement
        .query_map(params_from_iter(values.iter()), rows::contact)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;

    Ok(RegionPreview {
        outcome,
        per_prefix,
        sample,
    })
}

pub fn apply_region(
    conn: &Connection,
    request: &RegionReassignment,
    run: &RunContext,
) -> StoreResult<Applied> {
    if let Some(applied) = batches::replay(conn, BatchKind::ReassignRegion, run)? {
        return Ok(applied);
    }
    let batch = batches::insert(conn, BatchKind::ReassignRegion, run, None)?;
    let at = rows::timestamp(run.now);
    let prefixes = selection_prefixes(&request.postal);

    let mut values = Vec::new();
    let ids = region_ids(&request.country, prefixes, &mut values);
    let matched = count(conn, &format!("SELECT count(*) FROM ({ids})"), &values)?;

    let mut outcome = Outcome {
        matched,
        ..Outcome::default()
    };
    for &role in request.roles.roles() {
        let column = owner_column(role);
        let mut insert_values = vec![
            Value::Text(at.clone()),
            Value::Text(HistoryKind::ReassignRegion.as_str().to_string()),
            Value::Text(role.as_str().to_string()),
            Value::Integer(request.to),
            Value::Integer(batch),
        ];
        insert_values.extend(values.iter().cloned());
        insert_values.push(Value::Integer(request.to));
        let written = conn
            .execute(
                &format!(
                    "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                     SELECT id, ?, ?, ?, {column}, ?, ? FROM contacts
                     WHERE id IN ({ids}) AND {column} IS NOT ?"
                ),
                params_from_iter(insert_values.iter()),
            )
            .map_err(db_error)? as u64;
        conn.execute(
            &format!(
                "UPDATE contacts SET {column} = ?1, updated_at = ?2
                 WHERE id IN (SELECT contact_id FROM history WHERE batch_id = ?3 AND role = ?4)"
            ),
            params![request.to, at, batch, role.as_str()],
        )
        .map_err(db_error)?;
        match role {
            Role::Commercial => outcome.commercial = written,
            Role::Technical => outcome.technical = written,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = if request.roles.roles().len() == 1 {
        outcome.history_entries
    } else {
        distinct_contacts(conn, batch)?
    };
    outcome.already_owned = outcome.matched - outcome.changed;

    batches::close(conn, batch, outcome)
}
