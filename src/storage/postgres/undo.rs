//! Undo of a batch on PostgreSQL.
//!
//! The batch's history entries hold, per contact and role, the previous and
//! the new owner. Undo restores the previous owner where the contact still
//! has the batch's new owner, lists the others as skipped, writes its own
//! history entries and records itself as a batch. Rows are locked as in a
//! reassignment (see `reassign`), so the owner each undo entry names as
//! replaced is the one the contact really had.

use postgres::{Client, GenericClient, IsolationLevel};

use crate::domain::batch::{
    Applied, BatchId, BatchKind, Outcome, OwnerReturn, SkippedContact, UndoPreview, UndoResult,
    owner_name,
};
use crate::domain::contact::Role;
use crate::domain::history::HistoryKind;
use crate::storage::{RunContext, StoreError, undo_chain, undo_preview_outcome, undo_rejection};

use super::batches::{self, Start};
use super::{Failure, PgResult, rows};
use crate::storage::owner_column;

fn replayed(
    client: &mut impl GenericClient,
    applied: Applied,
    target: BatchId,
) -> PgResult<UndoResult> {
    Ok(UndoResult {
        returns: given_back(client, applied.batch_id)?,
        applied,
        undone_batch: target,
        skipped: Vec::new(),
    })
}

/// Counts the contacts an undo batch gave back, per role and owner, from
/// its history entries; none for an undo that was not recorded.
fn given_back(
    client: &mut impl GenericClient,
    undo: Option<BatchId>,
) -> PgResult<Vec<OwnerReturn>> {
    let Some(undo) = undo else {
        return Ok(Vec::new());
    };
    owner_returns(client, crate::storage::GIVEN_BACK_BY_UNDO, undo)
}

/// Reads per-owner counts: `sql` selects the role, the owner's user
/// columns, the number of contacts and whether the owner is active, for
/// the batch `$1`.
fn owner_returns(
    client: &mut impl GenericClient,
    sql: &str,
    batch: BatchId,
) -> PgResult<Vec<OwnerReturn>> {
    client
        .query(sql, &[&batch])?
        .iter()
        .map(|row| {
            let role: String = row.try_get(0)?;
            let contacts: i64 = row.try_get(5)?;
            Ok(OwnerReturn {
                role: Role::parse(&role).ok_or_else(|| {
                    Failure::Store(StoreError::Database(format!(
                        "unexpected role in the database: {role}"
                    )))
                })?,
                owner: rows::user_ref(row, 1)?,
                owner_active: row.try_get(6)?,
                contacts: contacts as u64,
            })
        })
        .collect()
}

pub fn undo(
    client: &mut impl GenericClient,
    target: BatchId,
    run: &RunContext,
) -> PgResult<UndoResult> {
    // A repeated request returns its first result before any check, since
    // the first run has made the batch « already undone ».
    if let Some(applied) = batches::replay(client, BatchKind::Undo, run)? {
        return replayed(client, applied, target);
    }
    let not_found = || Failure::Store(StoreError::unknown_batch(target));
    batches::get(client, target)?.ok_or_else(not_found)?;

    // The undo batch row goes in before the lock on the target, so that a
    // concurrent request with the same key waits here and then replays.
    let undo_batch = match batches::start(client, BatchKind::Undo, run, Some(target))? {
        Start::Replayed(applied) => return replayed(client, applied, target),
        Start::Run(batch) => batch,
    };
    let batch = batches::lock(client, target)?.ok_or_else(not_found)?;
    let chain = undo_chain(&batch, |id| batches::get(client, id))?;
    if let Some(rejection) = undo_rejection(&batch, &chain) {
        return Err(Failure::Store(rejection));
    }

    // Every contact of the batch is locked in one pass in id order, also
    // those that will be skipped, so that the skipped list is exact.
    client.query_one(
        "SELECT count(*) FROM (
             SELECT c.id FROM contacts c
             WHERE c.id IN (SELECT contact_id FROM history WHERE batch_id = $1)
             ORDER BY c.id FOR NO KEY UPDATE OF c
         ) AS locked",
        &[&target],
    )?;
    let mut outcome = Outcome::default();
    for role in Role::ALL {
        let written = restore_role(client, target, undo_batch, role, run)?;
        match role {
            Role::Commercial => outcome.commercial = written,
            Role::Technical => outcome.technical = written,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.matched = batches::distinct_contacts(client, target)?;
    outcome.changed = batches::distinct_contacts(client, undo_batch)?;
    outcome.already_owned = outcome.matched - outcome.changed;
    let skipped = skipped_contacts(client, target, Some(undo_batch))?;

    // An undo that gives nothing back is not recorded, and the batch stays
    // undoable: its contacts may come back to the owners it set.
    if outcome.history_entries == 0 {
        batches::discard(client, undo_batch, &outcome)?;
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
    batches::finish(client, undo_batch, &outcome)?;
    client.execute(
        "UPDATE batches SET undone_by = $1 WHERE id = $2",
        &[&undo_batch, &target],
    )?;

    Ok(UndoResult {
        applied: Applied {
            batch_id: Some(undo_batch),
            outcome,
            replayed: false,
        },
        undone_batch: target,
        returns: given_back(client, Some(undo_batch))?,
        skipped,
    })
}

/// Restores one role's previous owner on the contacts of `target` that
/// still have the owner it set, and records one history entry per
/// restore. Returns the number of entries written.
fn restore_role(
    client: &mut impl GenericClient,
    target: BatchId,
    undo_batch: BatchId,
    role: Role,
    run: &RunContext,
) -> PgResult<u64> {
    let column = owner_column(role);
    let sql = format!(
        "WITH target AS MATERIALIZED (
             SELECT c.id, c.{column} AS previous_owner_id, h.previous_owner_id AS restored_owner_id
             FROM contacts c JOIN history h ON h.contact_id = c.id
             WHERE h.batch_id = $1 AND h.role = $2 AND c.{column} IS NOT DISTINCT FROM h.new_owner_id
             ORDER BY c.id FOR NO KEY UPDATE OF c
         ), {write_time}, changed AS (
             UPDATE contacts c SET {column} = t.restored_owner_id, updated_at = w.at
             FROM target t, write_time w WHERE c.id = t.id
             RETURNING c.id, t.previous_owner_id, t.restored_owner_id, w.at
         )
         INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
         SELECT id, at, $4::text, $2::text, previous_owner_id, restored_owner_id, $5::bigint
         FROM changed ORDER BY id",
        write_time = super::reassign::write_time_cte("$3")
    );
    Ok(client.execute(
        &sql,
        &[
            &target,
            &role.as_str(),
            &run.time_of_write(),
            &HistoryKind::Undo.as_str(),
            &undo_batch,
        ],
    )?)
}

/// Entries of the batch that the undo did not restore, because the contact
/// no longer had the owner the batch set. With no undo batch (an undo that
/// gave nothing back), every entry: SQL `NULL` equals no batch id.
pub fn skipped_contacts(
    client: &mut impl GenericClient,
    target: BatchId,
    undo_batch: Option<BatchId>,
) -> PgResult<Vec<SkippedContact>> {
    let found = client.query(
        "SELECT h.contact_id, c.external_id, h.role, nu.initials, cu.initials,
                    nu.first_name, nu.last_name, cu.first_name, cu.last_name
         FROM history h
         JOIN contacts c ON c.id = h.contact_id
         LEFT JOIN users nu ON nu.id = h.new_owner_id
         LEFT JOIN users cu ON cu.id = CASE h.role
             WHEN 'commercial' THEN c.commercial_owner_id ELSE c.technical_owner_id END
         WHERE h.batch_id = $1
           AND NOT EXISTS (
               SELECT 1 FROM history u
               WHERE u.batch_id = $2 AND u.contact_id = h.contact_id AND u.role = h.role)
         ORDER BY h.contact_id, h.role",
        &[&target, &undo_batch],
    )?;
    found.iter().map(skipped_row).collect()
}

/// Reads one skipped entry: contact id, external id, role, the owner the
/// batch set and the owner now.
fn skipped_row(row: &postgres::Row) -> PgResult<SkippedContact> {
    let role: String = row.try_get(2)?;
    Ok(SkippedContact {
        contact_id: row.try_get(0)?,
        external_id: row.try_get(1)?,
        role: Role::parse(&role).ok_or_else(|| {
            Failure::Store(StoreError::Database(format!(
                "unexpected role in the database: {role}"
            )))
        })?,
        batch_owner_name: owner_name(row.try_get(3)?, row.try_get(5)?, row.try_get(6)?),
        current_owner_name: owner_name(row.try_get(4)?, row.try_get(7)?, row.try_get(8)?),
        batch_owner: row.try_get(3)?,
        current_owner: row.try_get(4)?,
    })
}

/// Entries of the batch that an undo run now would skip: the contact no
/// longer has, on the entry's role, the owner the batch set.
fn skipped_now(client: &mut impl GenericClient, target: BatchId) -> PgResult<Vec<SkippedContact>> {
    let found = client.query(
        &format!(
            "SELECT h.contact_id, c.external_id, h.role, nu.initials, cu.initials,
                    nu.first_name, nu.last_name, cu.first_name, cu.last_name
             FROM history h
             JOIN contacts c ON c.id = h.contact_id
             LEFT JOIN users nu ON nu.id = h.new_owner_id
             LEFT JOIN users cu ON cu.id = CASE h.role
                 WHEN 'commercial' THEN c.commercial_owner_id ELSE c.technical_owner_id END
             WHERE h.batch_id = $1 AND NOT {RESTORABLE}
             ORDER BY h.contact_id, h.role"
        ),
        &[&target],
    )?;
    found.iter().map(skipped_row).collect()
}

/// True for a history entry of the batch that the undo restores: the
/// contact still has, on the entry's role, the owner the batch set. This
/// is the condition of the `target` rows in [`restore_role`].
const RESTORABLE: &str =
    "((h.role = 'commercial' AND c.commercial_owner_id IS NOT DISTINCT FROM h.new_owner_id)
     OR (h.role = 'technical' AND c.technical_owner_id IS NOT DISTINCT FROM h.new_owner_id))";

/// Computes what [`undo`] would do now, in four statements whatever the
/// size of the batch. They run in one read-only snapshot, so they see the
/// same data. The preview takes no lock, so a batch that commits before
/// the undo changes what the undo does, and the undo's result reports it.
pub fn preview(client: &mut Client, target: BatchId) -> PgResult<UndoPreview> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let batch = batches::get(&mut tx, target)?
        .ok_or_else(|| Failure::Store(StoreError::unknown_batch(target)))?;
    let chain = undo_chain(&batch, |id| batches::get(&mut tx, id))?;
    if let Some(rejection) = undo_rejection(&batch, &chain) {
        return Err(Failure::Store(rejection));
    }

    let returns = owner_returns(
        &mut tx,
        &format!(
            "SELECT h.role, u.id, u.initials, u.first_name, u.last_name, count(*),
                    coalesce(u.active, true)
             FROM history h
             JOIN contacts c ON c.id = h.contact_id
             LEFT JOIN users u ON u.id = h.previous_owner_id
             WHERE h.batch_id = $1 AND {RESTORABLE}
             GROUP BY h.role, u.id, u.initials, u.first_name, u.last_name, u.active
             ORDER BY h.role, u.initials IS NULL, u.initials"
        ),
        target,
    )?;

    let counts = tx.query_one(
        &format!(
            "SELECT count(*), coalesce(sum(restored), 0)::bigint,
                    coalesce(sum(skipped_commercial), 0)::bigint,
                    coalesce(sum(skipped_technical), 0)::bigint
             FROM (
                 SELECT h.contact_id,
                        max(CASE WHEN {RESTORABLE} THEN 1 ELSE 0 END) AS restored,
                        sum(CASE WHEN h.role = 'commercial' AND NOT {RESTORABLE} THEN 1 ELSE 0 END)
                            AS skipped_commercial,
                        sum(CASE WHEN h.role = 'technical' AND NOT {RESTORABLE} THEN 1 ELSE 0 END)
                            AS skipped_technical
                 FROM history h JOIN contacts c ON c.id = h.contact_id
                 WHERE h.batch_id = $1
                 GROUP BY h.contact_id
             ) AS per_contact"
        ),
        &[&target],
    )?;
    let count = |index: usize| -> PgResult<u64> { Ok(counts.try_get::<_, i64>(index)? as u64) };
    let (matched, changed) = (count(0)?, count(1)?);
    let (skipped_commercial, skipped_technical) = (count(2)?, count(3)?);
    let skipped = skipped_now(&mut tx, target)?;
    tx.commit()?;

    Ok(UndoPreview {
        undone_batch: target,
        outcome: undo_preview_outcome(&returns, matched, changed),
        returns,
        skipped_commercial,
        skipped_technical,
        skipped,
    })
}
