//! Import transaction on PostgreSQL: one transaction for the whole file,
//! and a fixed number of statements per chunk of rows. Each chunk goes by
//! binary `COPY` into a temporary staging table. Set-based statements then
//! insert the new contacts, update the changed ones and write history for
//! owner changes.
//!
//! The counts equal those of the SQLite engine, which writes the rows one by
//! one. A row names its contact by external id, or, without one, by the
//! contact number of an export (which matches only a stored contact that
//! has no external id and the same name, first name and company). Rows
//! naming the same contact form a group in file order. The first row of a
//! group is compared with the stored contact and each next one with the
//! row before it, and the row counts as updated or unchanged. A group
//! without a stored contact starts with an insert. Rows that name no
//! stored contact and have no external id are inserts.
//!
//! A chunk whose rows carry neither external id nor contact number can
//! only insert, so it goes by binary `COPY` straight into `contacts`. An
//! import into an empty `contacts` table loads it as a restore would (see
//! `empty_load`).
//!
//! NOTE: a row whose contact number is that of a contact inserted earlier
//! in the same chunk creates a new contact here, where SQLite would match
//! it. Contact numbers come from exports, so a file cannot know such a
//! number in advance. Likewise, a row that gives an external id to a
//! numbered contact does not stop a later row of the same chunk from
//! matching that contact by number alone, where SQLite reports a conflict.

mod keyed_chunk;
mod session;
mod staging;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use postgres::Client;
use postgres::binary_copy::BinaryCopyInWriter;

use crate::domain::batch::{Actor, BatchId, BatchKind};
use crate::domain::country::CountryCode;
// The stored columns an import writes, in the order the staging table and
// `write_row` use.
use crate::storage::IMPORT_WRITTEN_COLUMNS as WRITTEN_COLUMNS;
use crate::storage::{
    ContactWrite, ImportCounts, KeyConflict, KeyConflictKind, PacificMismatch, RunContext,
    StoreError, StoreResult,
};
use crate::storage::{FIRST_CREATED_ID, LAST_CREATED_ID};

use super::batches::{self, Start};
use super::copy_stream::CopyStream;
use super::empty_load::{self, EmptyLoad};
use super::pool::Connection;
use super::{Failure, PgResult, store_error};
use staging::{CREATE_WORK_TABLES, ENCODED_ROW_BYTES, STAGING_TYPES, encode_contact, write_row};

/// Key of the transaction-level advisory lock every import holds, so that
/// imports run one after the other as on SQLite: two imports bringing the
/// same new external id would otherwise collide on its unique constraint.
/// The value is arbitrary; only Relais uses it.
const IMPORT_LOCK: i64 = 0x5245_4c41_4953_0002;

/// Rows an import inserts before it analyses `contacts` for the first
/// time. Below that, plans chosen on older statistics stay cheap.
const MIN_ROWS_BEFORE_ANALYZE: u64 = 10_000;

/// Kinds of key the rows of a chunk carry. Without any, every row is an
/// insert and no stored contact needs to be read.
#[derive(Clone, Copy)]
struct ChunkKeys {
    external_ids: bool,
    contact_numbers: bool,
}

impl ChunkKeys {
    fn of(chunk: &[ContactWrite]) -> ChunkKeys {
        ChunkKeys {
            external_ids: chunk.iter().any(|row| row.contact.external_id.is_some()),
            contact_numbers: chunk.iter().any(|row| row.contact.contact_id.is_some()),
        }
    }

    fn any(self) -> bool {
        self.external_ids || self.contact_numbers
    }
}

pub struct PgImport {
    /// The transaction's connection, lent to `stream` while it is open.
    conn: Option<Connection>,
    /// The `COPY` into `contacts` that chunks without keys feed, open
    /// until a statement needs the connection.
    stream: Option<CopyStream>,
    batch: BatchId,
    at: DateTime<Utc>,
    open: bool,
    /// Indexes and foreign keys dropped at the start because `contacts`
    /// was empty, created again by `commit`.
    empty_load: Option<EmptyLoad>,
    /// True once a chunk went through the staging table, whose inserts and
    /// updates, unlike `COPY … (FREEZE)`, leave rows for `VACUUM` to mark.
    staged_any: bool,
    /// Rows of `contacts` at its last `ANALYZE`, as `pg_class.reltuples`
    /// estimates them, or counted since.
    analysed_rows: u64,
    /// Rows this import inserted since the last `ANALYZE` of `contacts`.
    inserted_since_analyse: u64,
    /// Rows skipped since the last `take_key_conflicts`.
    key_conflicts: Vec<KeyConflict>,
    /// Columns an update leaves as stored, because the file has no column
    /// for them.
    kept: Vec<&'static str>,
    /// Set when the file names no contact: rows then only update.
    updates_only: bool,
    /// Addresses whose postal code or country, but not both, are kept, as
    /// positions in `WRITTEN_COLUMNS` of their code, normalised code and
    /// country.
    renormalised: Vec<(usize, usize, usize)>,
    /// Country of an address left with a postal code and no country.
    default_country: CountryCode,
    /// Highest contact id before this import: the contacts it creates
    /// take higher ones.
    last_id_before: i64,
    /// Set when the file has no external-id column.
    external_ids_kept: bool,
    /// Addresses completed from stored values that mix a Pacific country
    /// with another territory's postal code.
    pacific_mismatches: Vec<PacificMismatch>,
}

impl PgImport {
    pub fn begin(
        mut conn: Connection,
        actor: &Actor,
        params: serde_json::Value,
    ) -> StoreResult<PgImport> {
        conn.batch_execute("BEGIN").map_err(store_error)?;
        let now = Utc::now();
        let mut session = PgImport {
            conn: Some(conn),
            stream: None,
            batch: 0,
            at: now,
            open: true,
            empty_load: None,
            staged_any: false,
            analysed_rows: 0,
            inserted_since_analyse: 0,
            key_conflicts: Vec::new(),
            kept: Vec::new(),
            updates_only: false,
            renormalised: Vec::new(),
            default_country: CountryCode::france(),
            last_id_before: 0,
            external_ids_kept: false,
            pacific_mismatches: Vec::new(),
        };
        let run = RunContext {
            actor: actor.clone(),
            params,
            idempotency_key: None,
            now,
        };
        session.batch = session.start(&run).map_err(Failure::into_store_error)?;
        Ok(session)
    }

    /// Ends the open `COPY` into `contacts`, if any, and returns the
    /// transaction's connection. An error of the copy fails the import.
    fn client(&mut self) -> PgResult<&mut Client> {
        if let Some(stream) = self.stream.take() {
            let (conn, result) = stream.finish();
            self.conn = conn;
            result?;
        }
        match self.conn.as_mut() {
            Some(conn) => Ok(&mut **conn),
            None => Err(Failure::Store(StoreError::Database(
                "the import lost its connection to PostgreSQL".to_string(),
            ))),
        }
    }

    fn start(&mut self, run: &RunContext) -> PgResult<BatchId> {
        let client = self.client()?;
        client.execute("SELECT pg_advisory_xact_lock($1)", &[&IMPORT_LOCK])?;
        client.batch_execute(CREATE_WORK_TABLES)?;
        let empty_load = empty_load::prepare(client)?;
        let analysed: f32 = client
            .query_one(
                "SELECT reltuples FROM pg_class WHERE oid = 'contacts'::regclass",
                &[],
            )?
            .get(0);
        // `reltuples` is -1 for a table never analysed or vacuumed.
        let analysed_rows = analysed.max(0.0) as u64;
        let started = batches::start(client, BatchKind::Import, run, None)?;
        self.last_id_before = client
            .query_one("SELECT coalesce(max(id), 0) FROM contacts", &[])?
            .try_get(0)?;
        self.empty_load = empty_load;
        self.analysed_rows = analysed_rows;
        match started {
            Start::Run(batch) => Ok(batch),
            // An import carries no idempotency key, so it never replays.
            Start::Replayed(_) => Err(Failure::Store(StoreError::Database(
                "an import batch was replayed".to_string(),
            ))),
        }
    }

    fn copy_chunk(&mut self, chunk: &[ContactWrite]) -> PgResult<()> {
        let client = self.client()?;
        client.batch_execute("TRUNCATE import_staging, import_plan")?;
        let sink = client.copy_in(&format!(
            "COPY import_staging (position, external_id, contact_id, {}, exported_at) FROM STDIN (FORMAT binary)",
            WRITTEN_COLUMNS.join(", ")
        ))?;
        let mut writer = BinaryCopyInWriter::new(sink, &STAGING_TYPES);
        for (position, row) in chunk.iter().enumerate() {
            let position = i32::try_from(position).map_err(|_| {
                Failure::Store(StoreError::Database(format!(
                    "import chunk of {} rows is too large",
                    chunk.len()
                )))
            })?;
            write_row(&mut writer, position, row)?;
        }
        writer.finish()?;
        Ok(())
    }

    /// Inserts a chunk whose rows carry no key: each row is a new contact,
    /// in file order, as `write_chunk` would insert it. The rows go to the
    /// open `COPY`, which the server may still be storing on return. A
    /// failure of the copy fails the next statement, or the commit.
    fn copy_new_contacts(&mut self, chunk: &[ContactWrite]) -> PgResult<ImportCounts> {
        let mut encoded = BytesMut::with_capacity(chunk.len() * ENCODED_ROW_BYTES);
        for row in chunk {
            encode_contact(&mut encoded, row, &self.at)?;
        }
        if self.stream.is_none() {
            let conn = self.conn.take().ok_or_else(|| {
                Failure::Store(StoreError::Database(
                    "the import lost its connection to PostgreSQL".to_string(),
                ))
            })?;
            // FREEZE is allowed only on a table truncated in this
            // transaction, which `empty_load::prepare` did.
            let options = if self.empty_load.is_some() {
                "FORMAT binary, FREEZE"
            } else {
                "FORMAT binary"
            };
            let statement = format!(
                "COPY contacts ({}, created_at, updated_at) FROM STDIN ({options})",
                WRITTEN_COLUMNS.join(", ")
            );
            self.stream = Some(CopyStream::start(conn, statement)?);
        }
        let sent = self
            .stream
            .as_ref()
            .is_some_and(|stream| stream.send(encoded));
        if !sent {
            // The worker stopped; ending the stream returns its error.
            self.client()?;
            return Err(Failure::Store(StoreError::Database(
                "the copy of new contacts stopped".to_string(),
            )));
        }
        Ok(ImportCounts {
            imported: chunk.len() as u64,
            ..ImportCounts::default()
        })
    }

    /// Analyses `contacts` once this import has inserted more rows than
    /// the table had at its previous analysis. Without fresh statistics the
    /// planner takes a grown table for a small one and joins the chunk to a
    /// full scan of it, so that each chunk costs more than the one before.
    /// The doubling keeps the number of analyses logarithmic in the rows.
    fn refresh_statistics(&mut self) -> PgResult<()> {
        let threshold = self.analysed_rows.max(MIN_ROWS_BEFORE_ANALYZE);
        if self.inserted_since_analyse < threshold {
            return Ok(());
        }
        self.client()?.batch_execute("ANALYZE contacts")?;
        self.analysed_rows += self.inserted_since_analyse;
        self.inserted_since_analyse = 0;
        Ok(())
    }

    /// Records the conflicts deleted from the staging table, in file order.
    /// Removes the staged rows marked with a conflict and records them, so
    /// that the rest of the chunk is written without them.
    fn set_aside_conflicts(&mut self, chunk: &[ContactWrite]) -> PgResult<()> {
        let conflicts = self.client()?.query(
            "DELETE FROM import_staging WHERE conflict IS NOT NULL
             RETURNING position, conflict, conflict_value",
            &[],
        )?;
        self.collect_conflicts(chunk, &conflicts)
    }

    fn collect_conflicts(
        &mut self,
        chunk: &[ContactWrite],
        deleted: &[postgres::Row],
    ) -> PgResult<()> {
        let mut conflicts = Vec::with_capacity(deleted.len());
        for found in deleted {
            let position: i32 = found.try_get(0)?;
            let conflict: String = found.try_get(1)?;
            let value: Option<String> = found.try_get(2)?;
            let row = usize::try_from(position)
                .ok()
                .and_then(|index| chunk.get(index))
                .ok_or_else(|| {
                    Failure::Store(StoreError::Database(format!(
                        "staged import row {position} is not in the chunk"
                    )))
                })?;
            let value = value.unwrap_or_default();
            let mut contact_number = row.contact.contact_id.unwrap_or_default();
            let kind = match conflict.as_str() {
                "changed_since_export" => {
                    let (id, micros) = value.split_once(' ').unwrap_or_default();
                    contact_number = id.parse().unwrap_or_default();
                    let changed_at = micros
                        .parse()
                        .ok()
                        .and_then(DateTime::from_timestamp_micros)
                        .unwrap_or_default();
                    KeyConflictKind::ChangedSinceExport { changed_at }
                }
                "unknown_number" => KeyConflictKind::UnknownNumber,
                "other_names" => KeyConflictKind::OtherNames,
                "other_external_id" => KeyConflictKind::OtherExternalId { stored: value },
                "unknown_external_id" => KeyConflictKind::UnknownExternalId,
                "no_identity" => {
                    contact_number = value.parse().unwrap_or_default();
                    KeyConflictKind::NoIdentityLeft
                }
                _ => KeyConflictKind::ExternalIdOfOtherNumber {
                    stored_number: value.parse().unwrap_or_default(),
                },
            };
            conflicts.push(KeyConflict {
                line: row.line,
                contact_number,
                external_id: row.contact.external_id.clone(),
                kind,
            });
        }
        conflicts.sort_by_key(|conflict| conflict.line);
        self.key_conflicts.extend(conflicts);
        Ok(())
    }
}

/// Records in an import batch's parameters the ids of the contacts it
/// created above `last_id_before`, so that its journal page and export
/// list them.
fn record_created_ids(client: &mut Client, batch: BatchId, last_id_before: i64) -> PgResult<()> {
    client.execute(
        &format!(
            "UPDATE batches b
             SET params = b.params || jsonb_build_object('{FIRST_CREATED_ID}', r.first, '{LAST_CREATED_ID}', r.last)
             FROM (SELECT min(id) AS first, max(id) AS last FROM contacts WHERE id > $2) AS r
             WHERE b.id = $1 AND r.first IS NOT NULL"
        ),
        &[&batch, &last_id_before],
    )?;
    Ok(())
}

impl Drop for PgImport {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        if let Some(stream) = self.stream.take() {
            self.conn = stream.abort();
        }
        // A copy worker that did not return the connection has dropped it,
        // so it went back to the pool without this rollback.
        let Some(conn) = self.conn.as_mut() else {
            tracing::error!(
                batch.id = self.batch,
                "an unfinished import lost its connection before rolling back"
            );
            return;
        };
        if let Err(error) = conn.batch_execute("ROLLBACK") {
            tracing::error!(%error, batch.id = self.batch, "rolling back an unfinished import failed");
        }
    }
}
