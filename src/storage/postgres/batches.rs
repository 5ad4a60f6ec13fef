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

/// Returns the stored result when a run already used this run's
/// idempotency key: the batch it recorded, or the counts of a run that
/// changed nothing. A key reused for another operation is rejected.
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
    if let Some(batch) = found {
        if batch.kind != kind || batch.params != run.params {
            return Err(Failure::Store(crate::storage::key_reused(
                key,
                Some(batch.id),
            )));
        }
        return Ok(Some(Applied {
            batch_id: Some(batch.id),
            outcome: batch.outcome,
            replayed: true,
        }));
    }
    replay_quiet(client, kind, run, key)
}

/// Returns the counts of a run with this key that changed nothing.
fn replay_quiet(
    client: &mut impl GenericClient,
    kind: BatchKind,
    run: &RunContext,
    key: &str,
) -> PgResult<Option<Applied>> {
    let Some(row) = client.query_opt(
        "SELECT kind, params, matched, already_owned FROM quiet_runs WHERE idempotency_key = $1",
        &[&key],
    )?
    else {
        return Ok(None);
    };
    let stored_kind: String = row.try_get(0)?;
    let params: serde_json::Value = row.try_get(1)?;
    if stored_kind != kind.as_str() || params != run.params {
        return Err(Failure::Store(crate::storage::key_reused(key, None)));
    }
    let count = |index: usize| -> PgResult<u64> {
        Ok(u64::try_from(row.try_get::<_, i64>(index)?).unwrap_or_default())
    };
    Ok(Some(Applied {
        batch_id: None,
        outcome: Outcome {
            matched: count(2)?,
            already_owned: count(3)?,
            ..Outcome::default()
        },
        replayed: true,
    }))
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
/// commits, this run returns its result (`replayed: true`), also when it
/// changed nothing and kept its key in `quiet_runs`. If it rolls back,
/// this run goes ahead.
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
        let id = row.try_get(0)?;
        // A run with the same key that changed nothing may have committed
        // while this insert waited on its batch row, which it then removed.
        // This new statement reads the key that run kept.
        if let Some(key) = &run.idempotency_key
            && let Some(applied) = replay_quiet(client, kind, run, key)?
        {
            client.execute("DELETE FROM batches WHERE id = $1", &[&id])?;
            return Ok(Start::Replayed(applied));
        }
        return Ok(Start::Run(id));
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

/// Finishes a reassignment batch; one that changed nothing is discarded,
/// so the journal lists only runs that did something.
pub fn close(client: &mut impl GenericClient, id: BatchId, outcome: Outcome) -> PgResult<Applied> {
    if outcome.changed == 0 {
        discard(client, id, &outcome)?;
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

/// Removes the batch row of a run that changed nothing, and keeps its
/// idempotency key in `quiet_runs` with the counts a repeated request
/// returns.
pub fn discard(client: &mut impl GenericClient, id: BatchId, outcome: &Outcome) -> PgResult<()> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    client.execute(
        "WITH removed AS (DELETE FROM batches WHERE id = $1 RETURNING *)
         INSERT INTO quiet_runs (idempotency_key, kind, params, at, matched, already_owned)
         SELECT idempotency_key, kind, params, started_at, $2, $3
         FROM removed WHERE idempotency_key IS NOT NULL",
        &[&id, &count(outcome.matched), &count(outcome.already_owned)],
    )?;
    Ok(())
}

/// Number of distinct contacts a batch wrote history for.
pub fn distinct_contacts(client: &mut impl GenericClient, batch: BatchId) -> PgResult<u64> {
    let row = client.query_one(
        "SELECT count(DISTINCT contact_id) FROM history WHERE batch_id = $1",
        &[&batch],
    )?;
    rows::count(&row, 0)
}

/// Finds the import whose recorded range of created ids contains
/// `contact`. The journal is read whole, since it has one row per operation.
pub fn creating_import(client: &mut impl GenericClient, contact: i64) -> PgResult<Option<BatchId>> {
    let found = client.query_opt(
        &format!(
            "SELECT id FROM batches
             WHERE kind = 'import'
               AND (params ->> '{first}')::bigint <= $1
               AND (params ->> '{last}')::bigint >= $1
             ORDER BY id DESC LIMIT 1",
            first = crate::storage::FIRST_CREATED_ID,
            last = crate::storage::LAST_CREATED_ID,
        ),
        &[&contact],
    )?;
    Ok(found.map(|row| row.try_get(0)).transpose()?)
}
