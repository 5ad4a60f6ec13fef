//! The batch journal on PostgreSQL, and the idempotency key of a run.

use postgres::GenericClient;

use crate::domain::batch::{Applied, Batch, BatchId, BatchKind, Outcome};
use crate::storage::{RunContext, StoreError};

use super::rows::{self, BATCH_COLUMNS};
use super::{Failure, PgResult};

pub fn list(client: &mut impl GenericClient, limit: u32, offset: u32) -> PgResult<Vec<Batch>> {
    client
        .query(
            &format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY id DESC LIMIT $1 OFFSET $2"),
            &[&i64::from(limit), &i64::from(offset)],
        )?
        .iter()
        .map(rows::batch)
        .collect()
}

pub fn get(client: &mut impl GenericClient, id: BatchId) -> PgResult<Option<Batch>> {
    client
        .query_opt(
            &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(rows::batch)
        .transpose()
}

/// Reads a batch and locks its row until the transaction ends, so that two
/// undos of the same batch run one after the other. `NO KEY UPDATE` is the
/// lock an update of `undone_by` takes; unlike `FOR UPDATE`, it does not
/// wait for transactions that merely reference the batch.
pub fn lock(client: &mut impl GenericClient, id: BatchId) -> PgResult<Option<Batch>> {
    client
        .query_opt(
            &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1 FOR NO KEY UPDATE"),
            &[&id],
        )?
        .as_ref()
        .map(rows::batch)
        .transpose()
}

/// Returns the stored result when a batch already ran with this run's
/// idempotency key. A key reused for another operation is rejected.
pub fn replay(
    client: &mut impl GenericClient,
    kind: BatchKind,
    run: &RunContext,
) -> PgResult<Option<Applied>> {
    let Some(key) = &run.idempotency_key else {
        return Ok(None);
    };
    let found = client
        .query_opt(
            &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE idempotency_key = $1"),
            &[key],
        )?
        .as_ref()
        .map(rows::batch)
        .transpose()?;
    match found {
        None => Ok(None),
        Some(batch) if batch.kind == kind && batch.params == run.params => Ok(Some(Applied {
            batch_id: Some(batch.id),
            outcome: batch.outcome,
            replayed: true,
        })),
        Some(batch) => Err(Failure::Store(crate::storage::key_reused(key, batch.id))),
    }
}

/// Start of a run: a new batch, or the result of the run that already used
/// its idempotency key.
pub enum Start {
    Run(BatchId),
    Replayed(Applied),
}

/// Records the batch row of a run, or returns the earlier result for its
/// idempotency key.
///
/// When another transaction has inserted the same key and not yet
/// committed, the insert waits for it on the unique constraint. If it
/// commits, this run returns its result (`replayed: true`). If it rolls
/// back, or removes its batch because it changed nothing, this run goes
/// ahead.
pub fn start(
    client: &mut impl GenericClient,
    kind: BatchKind,
    run: &RunContext,
    undoes: Option<BatchId>,
) -> PgResult<Start> {
    if let Some(applied) = replay(client, kind, run)? {
        return Ok(Start::Replayed(applied));
    }
    let inserted = client.query_opt(
        "INSERT INTO batches (kind, params, actor_id, actor_label, started_at, undoes, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id",
        &[
            &kind.as_str(),
            &run.params,
            &run.actor.user_id,
            &run.actor.label,
            &run.now,
            &undoes,
            &run.idempotency_key,
        ],
    )?;
    if let Some(row) = inserted {
        return Ok(Start::Run(row.try_get(0)?));
    }
    // The conflicting batch committed before the insert returned, and the
    // snapshot of this new statement includes it.
    match replay(client, kind, run)? {
        Some(applied) => Ok(Start::Replayed(applied)),
        None => Err(Failure::Store(StoreError::Busy)),
    }
}

pub fn finish(client: &mut impl GenericClient, id: BatchId, outcome: &Outcome) -> PgResult<()> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    client.execute(
        "UPDATE batches SET finished_at = $2, matched = $3, changed = $4, already_owned = $5,
             history_entries = $6, commercial = $7, technical = $8
         WHERE id = $1",
        &[
            &id,
            &chrono::Utc::now(),
            &count(outcome.matched),
            &count(outcome.changed),
            &count(outcome.already_owned),
            &count(outcome.history_entries),
            &count(outcome.commercial),
            &count(outcome.technical),
        ],
    )?;
    Ok(())
}

/// Finishes a reassignment batch; one that changed nothing is removed, so
/// the journal lists only runs that did something.
pub fn close(client: &mut impl GenericClient, id: BatchId, outcome: Outcome) -> PgResult<Applied> {
    if outcome.changed == 0 {
        client.execute("DELETE FROM batches WHERE id = $1", &[&id])?;
        return Ok(Applied {
            batch_id: None,
            outcome,
            replayed: false,
        });
    }
    finish(client, id, &outcome)?;
    Ok(Applied {
        batch_id: Some(id),
        outcome,
        replayed: false,
    })
}

/// Number of distinct contacts a batch wrote history for.
pub fn distinct_contacts(client: &mut impl GenericClient, batch: BatchId) -> PgResult<u64> {
    let row = client.query_one(
        "SELECT count(DISTINCT contact_id) FROM history WHERE batch_id = $1",
        &[&batch],
    )?;
    rows::count(&row, 0)
}
