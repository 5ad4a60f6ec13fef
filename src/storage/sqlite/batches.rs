//! The batch journal on SQLite, and the idempotency check of a run.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::batch::{Applied, Batch, BatchId, BatchKind, Outcome};
use crate::storage::{RunContext, StoreResult};

use super::db_error;
use super::rows::{self, BATCH_COLUMNS};

pub fn list(conn: &Connection, limit: u32, offset: u32) -> StoreResult<Vec<Batch>> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {BATCH_COLUMNS} FROM batches ORDER BY id DESC LIMIT ?1 OFFSET ?2"
        ))
        .map_err(db_error)?;
    let batches = statement
        .query_map(params![limit, offset], rows::batch)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(batches)
}

pub fn get(conn: &Connection, id: BatchId) -> StoreResult<Option<Batch>> {
    conn.query_row(
        &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1"),
        [id],
        rows::batch,
    )
    .optional()
    .map_err(db_error)
}

/// Returns the stored result when a run already used this run's
/// idempotency key: the batch it recorded, or the counts of a run that
/// changed nothing. A key reused for another operation is rejected.
pub fn replay(
    conn: &Connection,
    kind: BatchKind,
    run: &RunContext,
) -> StoreResult<Option<Applied>> {
    let Some(key) = &run.idempotency_key else {
        return Ok(None);
    };
    let found = conn
        .query_row(
            &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE idempotency_key = ?1"),
            [key],
            rows::batch,
        )
        .optional()
        .map_err(db_error)?;
    if let Some(batch) = found {
        if batch.kind != kind || batch.params != run.params {
            return Err(crate::storage::key_reused(key, Some(batch.id)));
        }
        return Ok(Some(Applied {
            batch_id: Some(batch.id),
            outcome: batch.outcome,
            replayed: true,
        }));
    }
    let quiet = conn
        .query_row(
            "SELECT kind, params, matched, already_owned FROM quiet_runs WHERE idempotency_key = ?1",
            [key],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()
        .map_err(db_error)?;
    let Some((stored_kind, params, matched, already_owned)) = quiet else {
        return Ok(None);
    };
    let params: serde_json::Value =
        serde_json::from_str(&params).unwrap_or(serde_json::Value::String(params));
    if stored_kind != kind.as_str() || params != run.params {
        return Err(crate::storage::key_reused(key, None));
    }
    Ok(Some(Applied {
        batch_id: None,
        outcome: Outcome {
            matched: u64::try_from(matched).unwrap_or_default(),
            already_owned: u64::try_from(already_owned).unwrap_or_default(),
            ..Outcome::default()
        },
        replayed: true,
    }))
}

pub fn insert(
    conn: &Connection,
    kind: BatchKind,
    run: &RunContext,
    undoes: Option<BatchId>,
) -> StoreResult<BatchId> {
    conn.execute(
        "INSERT INTO batches (kind, params, actor_id, actor_label, started_at, undoes, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            kind.as_str(),
            run.params.to_string(),
            run.actor.user_id,
            run.actor.label,
            rows::timestamp(run.now),
            undoes,
            run.idempotency_key,
        ],
    )
    .map_err(db_error)?;
    Ok(conn.last_insert_rowid())
}

pub fn finish(conn: &Connection, id: BatchId, outcome: &Outcome) -> StoreResult<()> {
    conn.execute(
        "UPDATE batches SET finished_at = ?2, matched = ?3, changed = ?4, already_owned = ?5,
             history_entries = ?6, commercial = ?7, technical = ?8
         WHERE id = ?1",
        params![
            id,
            rows::timestamp(chrono::Utc::now()),
            outcome.matched as i64,
            outcome.changed as i64,
            outcome.already_owned as i64,
            outcome.history_entries as i64,
            outcome.commercial as i64,
            outcome.technical as i64,
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Finishes a reassignment batch; one that changed nothing is discarded,
/// so the journal lists only runs that did something.
pub fn close(conn: &Connection, id: BatchId, outcome: Outcome) -> StoreResult<Applied> {
    if outcome.changed == 0 {
        discard(conn, id, &outcome)?;
        return Ok(Applied {
            batch_id: None,
            outcome,
            replayed: false,
        });
    }
    finish(conn, id, &outcome)?;
    Ok(Applied {
        batch_id: Some(id),
        outcome,
        replayed: false,
    })
}

/// Removes the batch row of a run that changed nothing, and keeps its
/// idempotency key in `quiet_runs` with the counts a repeated request
/// returns.
pub fn discard(conn: &Connection, id: BatchId, outcome: &Outcome) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO quiet_runs (idempotency_key, kind, params, at, matched, already_owned)
         SELECT idempotency_key, kind, params, started_at, ?2, ?3
         FROM batches WHERE id = ?1 AND idempotency_key IS NOT NULL",
        params![
            id,
            i64::try_from(outcome.matched).unwrap_or(i64::MAX),
            i64::try_from(outcome.already_owned).unwrap_or(i64::MAX),
        ],
    )
    .map_err(db_error)?;
    conn.execute("DELETE FROM batches WHERE id = ?1", [id])
        .map_err(db_error)?;
    Ok(())
}

/// Finds the import whose recorded range of created ids contains
/// `contact`. The journal is read whole, since it has one row per operation.
pub fn creating_import(conn: &Connection, contact: i64) -> StoreResult<Option<BatchId>> {
    conn.query_row(
        &format!(
            "SELECT id FROM batches
             WHERE kind = 'import'
               AND json_extract(params, '$.{first}') <= ?1
               AND json_extract(params, '$.{last}') >= ?1
             ORDER BY id DESC LIMIT 1",
            first = crate::storage::FIRST_CREATED_ID,
            last = crate::storage::LAST_CREATED_ID,
        ),
        [contact],
        |row| row.get(0),
    )
    .optional()
    .map_err(db_error)
}
