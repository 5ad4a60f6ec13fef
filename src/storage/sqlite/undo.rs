//! Undo of a batch on SQLite.
//!
//! The batch's history entries hold, per contact and role, the previous and
//! the new owner. Undo restores the previous owner where the contact still
//! has the batch's new owner, lists the others as skipped, writes its own
//! history entries and records itself as a batch.

use rusqlite::{Connection, params};

use crate::domain::batch::{
    Applied, BatchId, BatchKind, Outcome, OwnerReturn, SkippedContact, UndoPreview, UndoResult,
    owner_name,
};
use crate::domain::contact::Role;
use crate::domain::history::HistoryKind;
use crate::storage::{
    RunContext, StoreError, StoreResult, owner_column, undo_chain, undo_preview_outcome,
    undo_rejection,
};

use super::{batches, db_error, rows};

pub fn undo(conn: &Connection, target: BatchId, run: &RunContext) -> StoreResult<UndoResult> {
    if let Some(applied) = batches::replay(conn, BatchKind::Undo, run)? {
        return Ok(UndoResult {
            returns: given_back(conn, applied.batch_id)?,
            applied,
            undone_batch: target,
            skipped: Vec::new(),
        });
    }
    let batch = batches::get(conn, target)?.ok_or(StoreError::unknown_batch(target))?;
    let chain = undo_chain(&batch, |id| batches::get(conn, id))?;
    if let Some(rejection) = undo_rejection(&batch, &chain) {
        return Err(rejection);
    }

    let undo_batch = batches::insert(conn, BatchKind::Undo, run, Some(target))?;
    // The write transaction holds the database's lock by now.
    let at = rows::timestamp(run.time_of_write());
    let skipped = skipped_contacts(conn, target)?;

    let mut outcome = Outcome::default();
    for role in Role::ALL {
        let column = owner_column(role);
        let written = conn
            .execute(
                &format!(
                    "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                     SELECT h.contact_id, ?1, ?2, ?3, c.{column}, h.previous_owner_id, ?4
                     FROM history h JOIN contacts c ON c.id = h.contact_id
                     WHERE h.batch_id = ?5 AND h.role = ?3 AND c.{column} IS h.new_owner_id"
                ),
                params![at, HistoryKind::Undo.as_str(), role.as_str(), undo_batch, target],
            )
            .map_err(db_error)? as u64;
        conn.execute(
            &format!(
                "UPDATE contacts SET {column} = u.new_owner_id, updated_at = ?3
                 FROM history u
                 WHERE u.batch_id = ?1 AND u.role = ?2 AND u.contact_id = contacts.id"
            ),
            params![undo_batch, role.as_str(), at],
        )
        .map_err(db_error)?;
        match role {
            Role::Commercial => outcome.commercial = written,
            Role::Technical => outcome.technical = written,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.matched = conn
        .query_row(
            "SELECT count(DISTINCT contact_id) FROM history WHERE batch_id = ?1",
            [target],
            |row| row.get::<_, i64>(0),
        )
        .map_err(db_error)? as u64;
    outcome.changed = conn
        .query_row(
            "SELECT count(DISTINCT contact_id) FROM history WHERE batch_id = ?1",
            [undo_batch],
            |row| row.get::<_, i64>(0),
        )
        .map_err(db_error)? as u64;
    outcome.already_owned = outcome.matched - outcome.changed;

    // An undo that gives nothing back is not recorded, and the batch stays
    // undoable: its contacts may come back to the owners it set.
    if outcome.history_entries == 0 {
        batches::discard(conn, undo_batch, &outcome)?;
        return Ok(UndoResult {
            applied: Applied {
                batch_id: None,
                outcome,
                replayed: false,
            },
            undone_batch: target,
            returns: Vec::new(),
            skipped,
        });
    }
    batches::finish(conn, undo_batch, &outcome)?;
    conn.execute(
        "UPDATE batches SET undone_by = ?1 WHERE id = ?2",
        params![undo_batch, target],
    )
    .map_err(db_error)?;

    Ok(UndoResult {
        applied: Applied {
            batch_id: Some(undo_batch),
            outcome,
            replayed: false,
        },
        undone_batch: target,
        returns: given_back(conn, Some(undo_batch))?,
        skipped,
    })
}

/// Counts the contacts an undo batch gave back, per role and owner, from
/// its history entries; none for an undo that was not recorded.
fn given_back(conn: &Connection, undo: Option<BatchId>) -> StoreResult<Vec<OwnerReturn>> {
    let Some(undo) = undo else {
        return Ok(Vec::new());
    };
    owner_returns(conn, crate::storage::GIVEN_BACK_BY_UNDO, undo)
}

/// Reads per-owner counts: `sql` selects the role, the owner's user
/// columns, the number of contacts and whether the owner is active, for
/// the batch `?1`.
fn owner_returns(conn: &Connection, sql: &str, batch: BatchId) -> StoreResult<Vec<OwnerReturn>> {
    let mut statement = conn.prepare(sql).map_err(db_error)?;
    statement
        .query_map([batch], |row| {
            let role: String = row.get(0)?;
            Ok((
                role,
                rows::user_ref(row, 1)?,
                row.get::<_, i64>(5)?,
                row.get::<_, bool>(6)?,
            ))
        })
        .map_err(db_error)?
        .map(|found| {
            let (role, owner, contacts, owner_active) = found.map_err(db_error)?;
            let role = Role::parse(&role).ok_or_else(|| {
                StoreError::Database(format!("unexpected role in the database: {role}"))
            })?;
            Ok(OwnerReturn {
                role,
                owner,
                owner_active,
                contacts: contacts as u64,
            })
        })
        .collect()
}

/// Entries of `target` that its undo `undo` left as they were: those with
/// no entry of the undo for the same contact and role, so every entry when
/// `undo` is `None` (SQL `NULL` equals no batch id).
pub fn left_by_undo(
    conn: &Connection,
    target: BatchId,
    undo: Option<BatchId>,
) -> StoreResult<Vec<SkippedContact>> {
    let mut statement = conn
        .prepare(
            "SELECT h.contact_id, c.external_id, h.role, nu.initials, cu.initials,
                    nu.first_name, nu.last_name, cu.first_name, cu.last_name
             FROM history h
             JOIN contacts c ON c.id = h.contact_id
             LEFT JOIN users nu ON nu.id = h.new_owner_id
             LEFT JOIN users cu ON cu.id = CASE h.role
                 WHEN 'commercial' THEN c.commercial_owner_id ELSE c.technical_owner_id END
             WHERE h.batch_id = ?1
               AND NOT EXISTS (
                   SELECT 1 FROM history u
                   WHERE u.contact_id = h.contact_id AND u.batch_id = ?2 AND u.role = h.role)
             ORDER BY h.contact_id, h.role",
        )
        .map_err(db_error)?;
    let skipped = statement
        .query_map(params![target, undo], skipped_row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(skipped)
}

/// Reads one skipped entry: contact id, external id, role, the owner the
/// batch set and the owner now.
fn skipped_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SkippedContact> {
    let role: String = row.get(2)?;
    Ok(SkippedContact {
        contact_id: row.get(0)?,
        external_id: row.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Commercial),
        batch_owner_name: owner_name(row.get(3)?, row.get(5)?, row.get(6)?),
        current_owner_name: owner_name(row.get(4)?, row.get(7)?, row.get(8)?),
        batch_owner: row.get(3)?,
        current_owner: row.get(4)?,
    })
}

/// Entries of the batch whose contact no longer has the owner the batch set.
fn skipped_contacts(conn: &Connection, target: BatchId) -> StoreResult<Vec<SkippedContact>> {
    let mut statement = conn
        .prepare(
            "SELECT h.contact_id, c.external_id, h.role, nu.initials, cu.initials,
                    nu.first_name, nu.last_name, cu.first_name, cu.last_name
             FROM history h
             JOIN contacts c ON c.id = h.contact_id
             LEFT JOIN users nu ON nu.id = h.new_owner_id
             LEFT JOIN users cu ON cu.id = CASE h.role
                 WHEN 'commercial' THEN c.commercial_owner_id ELSE c.technical_owner_id END
             WHERE h.batch_id = ?1
               AND CASE h.role WHEN 'commercial' THEN c.commercial_owner_id ELSE c.technical_owner_id END
                   IS NOT h.new_owner_id
             ORDER BY h.contact_id, h.role",
        )
        .map_err(db_error)?;
    let skipped = statement
        .query_map([target], skipped_row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(skipped)
}

/// True for a history entry of the batch that the undo restores: the
/// contact still has, on the entry's role, the owner the batch set. This
/// is the condition of the `INSERT` in [`undo`].
const RESTORABLE: &str = "((h.role = 'commercial' AND c.commercial_owner_id IS h.new_owner_id)
     OR (h.role = 'technical' AND c.technical_owner_id IS h.new_owner_id))";

/// Computes what [`undo`] would do now, in four statements whatever the
/// size of the batch. The caller runs it in one read transaction, so that
/// the statements see the same data.
pub fn preview(conn: &Connection, target: BatchId) -> StoreResult<UndoPreview> {
    let batch = batches::get(conn, target)?.ok_or(StoreError::unknown_batch(target))?;
    let chain = undo_chain(&batch, |id| batches::get(conn, id))?;
    if let Some(rejection) = undo_rejection(&batch, &chain) {
        return Err(rejection);
    }

    let returns = owner_returns(
        conn,
        &format!(
            "SELECT h.role, u.id, u.initials, u.first_name, u.last_name, count(*),
                    coalesce(u.active, true)
             FROM history h
             JOIN contacts c ON c.id = h.contact_id
             LEFT JOIN users u ON u.id = h.previous_owner_id
             WHERE h.batch_id = ?1 AND {RESTORABLE}
             GROUP BY h.role, u.id, u.initials, u.first_name, u.last_name, u.active
             ORDER BY h.role, u.initials IS NULL, u.initials"
        ),
        target,
    )?;

    let (matched, changed, skipped_commercial, skipped_technical) = conn
        .query_row(
            &format!(
                "SELECT count(*), coalesce(sum(restored), 0),
                        coalesce(sum(skipped_commercial), 0), coalesce(sum(skipped_technical), 0)
                 FROM (
                     SELECT h.contact_id,
                            max(CASE WHEN {RESTORABLE} THEN 1 ELSE 0 END) AS restored,
                            sum(CASE WHEN h.role = 'commercial' AND NOT {RESTORABLE} THEN 1 ELSE 0 END)
                                AS skipped_commercial,
                            sum(CASE WHEN h.role = 'technical' AND NOT {RESTORABLE} THEN 1 ELSE 0 END)
                                AS skipped_technical
                     FROM history h JOIN contacts c ON c.id = h.contact_id
                     WHERE h.batch_id = ?1
                     GROUP BY h.contact_id
                 ) AS per_contact"
            ),
            [target],
            |row| {
                Ok((
                    row.get::<_, i64>(0)? as u64,
                    row.get::<_, i64>(1)? as u64,
                    row.get::<_, i64>(2)? as u64,
                    row.get::<_, i64>(3)? as u64,
                ))
            },
        )
        .map_err(db_error)?;

    // Read before any write, so these are the entries the undo would skip.
    let skipped = skipped_contacts(conn, target)?;

    Ok(UndoPreview {
        undone_batch: target,
        outcome: undo_preview_outcome(&returns, matched, changed),
        returns,
        skipped_commercial,
        skipped_technical,
        skipped,
    })
}
