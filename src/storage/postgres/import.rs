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

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use postgres::Client;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use crate::domain::batch::{Actor, BatchId, BatchKind, Outcome};
use crate::domain::contact::{AddressInput, ContactPart, Role};
use crate::domain::country::CountryCode;
use crate::domain::history::HistoryKind;
use crate::domain::user::{NewUser, User};
// The stored columns an import writes, in the order the staging table and
// `write_row` use.
use crate::storage::IMPORT_WRITTEN_COLUMNS as WRITTEN_COLUMNS;
use crate::storage::{
    ContactWrite, ImportCounts, ImportSession, KeyConflict, KeyConflictKind, RunContext,
    StoreError, StoreResult, kept_column_indexes, renormalise, renormalised_addresses,
};
use crate::storage::{FIRST_CREATED_ID, LAST_CREATED_ID, PacificMismatch};

use super::batches::{self, Start};
use super::copy_stream::{self, CopyStream};
use super::empty_load::{self, EmptyLoad};
use super::pool::Connection;
use super::rows;
use super::{Failure, PgResult, store_error, users};

/// Key of the transaction-level advisory lock every import holds, so that
/// imports run one after the other as on SQLite: two imports bringing the
/// same new external id would otherwise collide on its unique constraint.
/// The value is arbitrary; only Relais uses it.
const IMPORT_LOCK: i64 = 0x5245_4c41_4953_0002;

/// The staging table receives each chunk as it is. `position` is the
/// row's index in the chunk and orders its rows, and `stored_id` is filled
/// with the id of the stored contact the row names. `conflict` names a key
/// conflict (see `KeyConflictKind`), with the stored value at fault in
/// `conflict_value`. Such rows are reported and removed before planning.
/// The plan table contains, per staged row, what the chunk does with it:
/// `group_key` names the contact, `action` is `insert`, `update` or
/// `unchanged`, `previous_*` are the owners the row replaces, and
/// `first_position` orders the new contacts as the file does. Both tables
/// go away when the transaction ends.
const CREATE_WORK_TABLES: &str = r#"
CREATE TEMPORARY TABLE import_staging (
    position            integer NOT NULL,
    external_id         text,
    contact_id          bigint,
    stored_id           bigint,
    conflict            text,
    conflict_value      text,
    civility            text NOT NULL,
    first_name          text NOT NULL,
    last_name           text NOT NULL,
    company             text NOT NULL,
    email               text NOT NULL,
    phone               text NOT NULL,
    commercial_owner_id bigint,
    technical_owner_id  bigint,
    perso_line1         text NOT NULL,
    perso_line2         text NOT NULL,
    perso_postal_code   text NOT NULL,
    perso_postal_norm   text COLLATE "C" NOT NULL,
    perso_city          text NOT NULL,
    perso_country       text,
    pro_line1           text NOT NULL,
    pro_line2           text NOT NULL,
    pro_postal_code     text NOT NULL,
    pro_postal_norm     text COLLATE "C" NOT NULL,
    pro_city            text NOT NULL,
    pro_country         text,
    exported_at         timestamptz
) ON COMMIT DROP;
CREATE TEMPORARY TABLE import_plan (
    position            integer NOT NULL,
    group_key           text,
    contact_id          bigint,
    action              text NOT NULL,
    previous_commercial bigint,
    previous_technical  bigint,
    is_last             boolean NOT NULL,
    first_position      integer NOT NULL
) ON COMMIT DROP;
"#;

/// Types of the columns the binary `COPY` fills, in order.
const STAGING_TYPES: [Type; 24] = [
    Type::INT4,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
];

/// Types of the columns `COPY` fills in `contacts`: the written columns,
/// then `created_at` and `updated_at`.
const CONTACT_TYPES: [Type; 22] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
];

/// Estimate of the bytes a contact takes in the binary `COPY` format, to
/// size the buffer of a chunk.
const ENCODED_ROW_BYTES: usize = 400;

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

fn columns_of(alias: &str) -> String {
    WRITTEN_COLUMNS
        .iter()
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQL that is true when the written columns of two aliases hold the same
/// values, NULLs included.
fn same_values(left: &str, right: &str) -> String {
    format!(
        "ROW({}) IS NOT DISTINCT FROM ROW({})",
        columns_of(left),
        columns_of(right)
    )
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

    fn write_chunk(&mut self, chunk: &[ContactWrite], keys: ChunkKeys) -> PgResult<ImportCounts> {
        // Names the file has no column for are not compared; with none,
        // the number alone names the contact.
        let compared_names: Vec<&str> = ["last_name", "first_name", "company"]
            .into_iter()
            .filter(|column| !self.kept.contains(column))
            .collect();
        let same_names = compared_names
            .iter()
            .map(|column| format!("c.{column} = s.{column}"))
            .chain(std::iter::once("true".to_string()))
            .collect::<Vec<_>>()
            .join(" AND ");
        // A file without an external-id column may name by number a
        // contact that has one, when the row's names agree.
        let other_external_id = if self.external_ids_kept && !compared_names.is_empty() {
            "false"
        } else {
            "c.external_id IS NOT NULL"
        };
        let keep_stored = (!self.kept.is_empty()).then(|| {
            format!(
                "UPDATE import_staging s SET {assignments}
                 FROM contacts c WHERE c.id = s.stored_id",
                // A kept country that was empty takes the file's, as a new
                // address would.
                assignments = self
                    .kept
                    .iter()
                    .map(|column| {
                        if column.ends_with("_country") {
                            format!("{column} = coalesce(c.{column}, s.{column})")
                        } else {
                            format!("{column} = c.{column}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        });
        // Rows without a name may only update: in a file without identity
        // columns all of them, elsewhere those whose identity cells are
        // empty.
        let updates_only = self.updates_only || chunk.iter().any(|row| !row.contact.has_identity());
        let renormalised = self.renormalised.clone();
        let default_country = self.default_country.clone();
        self.refresh_statistics()?;
        self.staged_any = true;
        self.copy_chunk(chunk)?;
        let (at, batch) = (self.at, self.batch);
        let client = self.client()?;
        // A temporary table has no statistics until analysed, and the
        // joins below need an estimate of its size to use the indexes.
        client.batch_execute("ANALYZE import_staging")?;

        // Each lookup in `contacts` is a scalar subquery, which the planner
        // runs once per staged row as an index probe. As a join, it may
        // choose a full scan of `contacts` for each chunk, since a chunk is
        // small and the statistics may predate the rows this import added.
        if keys.external_ids {
            client.execute(
                "UPDATE import_staging s
                 SET stored_id = (SELECT c.id FROM contacts c WHERE c.external_id = s.external_id)
                 WHERE s.external_id IS NOT NULL",
                &[],
            )?;
        }
        // A contact number names a stored contact only when that contact has
        // no other external id and the row's last name, first name and
        // company, so that a file from another database cannot overwrite an
        // unrelated contact. A row with an unknown external id and such a
        // number gives its external id to that contact. Other rows with a
        // number are conflicts, reported and left out of the chunk.
        if keys.contact_numbers {
            client.execute(
                "UPDATE import_staging s
                 SET conflict = 'external_id_of_other_number', conflict_value = s.stored_id::text
                 WHERE s.contact_id IS NOT NULL AND s.stored_id IS NOT NULL
                   AND s.stored_id <> s.contact_id",
                &[],
            )?;
            client.execute(
                &format!(
                    "UPDATE import_staging s
                 SET (stored_id, conflict, conflict_value) = (
                     SELECT CASE WHEN c.id IS NOT NULL AND NOT ({other_external_id})
                                      AND {same_names}
                                 THEN c.id END,
                            CASE WHEN c.id IS NULL THEN 'unknown_number'
                                 WHEN {other_external_id} THEN 'other_external_id'
                                 WHEN NOT ({same_names}) THEN 'other_names'
                            END,
                            c.external_id
                     FROM (SELECT 1) AS one
                     LEFT JOIN contacts c ON c.id = s.contact_id
                 )
                 WHERE s.contact_id IS NOT NULL AND s.stored_id IS NULL"
                ),
                &[],
            )?;
        }
        if updates_only {
            client.execute(
                "UPDATE import_staging SET conflict = 'unknown_external_id'
                 WHERE stored_id IS NULL AND conflict IS NULL
                   AND last_name = '' AND first_name = '' AND company = ''
                   AND email = '' AND phone = ''",
                &[],
            )?;
        }
        if keys.contact_numbers || updates_only {
            self.set_aside_conflicts(chunk)?;
        }
        let client = self.client()?;
        // The matched contacts are locked in id order before they are
        // compared, so that the values compared, and the owners history
        // records as replaced, stay current until commit. Matching before
        // locking is safe because only imports change external ids and
        // names, and imports run one at a time.
        client.query_one(
            "SELECT count(*) FROM (
                 SELECT c.id FROM contacts c
                 WHERE c.id = ANY (ARRAY(SELECT stored_id FROM import_staging
                                         WHERE stored_id IS NOT NULL))
                 ORDER BY c.id FOR NO KEY UPDATE OF c
             ) AS locked",
            &[],
        )?;
        // Parts the file leaves out take the stored values, read under the
        // lock, so that the comparisons and the update below leave them
        // as they are.
        if let Some(keep_stored) = &keep_stored {
            client.execute(keep_stored, &[])?;
        }
        // An address that takes its postal code from one side and its
        // country from the other gets its normalised code worked out again,
        // by the rules of the domain: one read and one write per chunk.
        let mut mismatches = Vec::new();
        for (code_index, norm_index, country_index) in renormalised.iter().copied() {
            let (code, norm, country, city) = (
                WRITTEN_COLUMNS[code_index],
                WRITTEN_COLUMNS[norm_index],
                WRITTEN_COLUMNS[country_index],
                WRITTEN_COLUMNS[crate::storage::city_column(norm_index)],
            );
            let staged = client.query(
                &format!(
                    "SELECT position, {code}, {country}, {city} FROM import_staging
                     WHERE stored_id IS NOT NULL"
                ),
                &[],
            )?;
            let mut positions: Vec<i32> = Vec::with_capacity(staged.len());
            let mut norms: Vec<String> = Vec::with_capacity(staged.len());
            let mut countries: Vec<Option<String>> = Vec::with_capacity(staged.len());
            for row in &staged {
                let position: i32 = row.try_get(0)?;
                let postal_code: String = row.try_get(1)?;
                let stored_country: Option<String> = row.try_get(2)?;
                let city: String = row.try_get(3)?;
                let (normalised, stored_under) =
                    renormalise(&postal_code, stored_country.as_deref(), &default_country);
                let line = usize::try_from(position)
                    .ok()
                    .and_then(|index| chunk.get(index))
                    .map_or(0, |row| row.line);
                mismatches.extend(crate::storage::pacific_mismatch(
                    line,
                    code_index,
                    &postal_code,
                    &normalised,
                    &city,
                    stored_under.as_deref(),
                ));
                positions.push(position);
                norms.push(normalised);
                countries.push(stored_under);
            }
            client.execute(
                &format!(
                    "UPDATE import_staging s SET {norm} = v.norm, {country} = v.country
                     FROM unnest($1::int4[], $2::text[], $3::text[]) AS v (position, norm, country)
                     WHERE s.position = v.position"
                ),
                &[&positions, &norms, &countries],
            )?;
        }
        self.pacific_mismatches.extend(mismatches);
        let client = self.client()?;

        // A row whose « Modifié le » is older than the contact's last
        // change, and which would change that contact, would undo the
        // change: it is set aside, under the lock, so that a change
        // committed meanwhile counts too. A row that changes nothing, such
        // as a file imported a second time, is not a conflict.
        // `exported_at` is the end of the unit the cell was written to.
        // A row without a name keeps the stored names of the columns the
        // file lacks; one that would leave its contact none is set aside.
        let nameless = chunk.iter().any(|row| !row.contact.has_identity());
        if nameless {
            client.execute(
                "UPDATE import_staging SET conflict = 'no_identity', conflict_value = stored_id::text
                 WHERE stored_id IS NOT NULL AND conflict IS NULL
                   AND first_name = '' AND last_name = '' AND company = ''
                   AND email = '' AND phone = ''",
                &[],
            )?;
        }
        let exported = chunk.iter().any(|row| row.contact.exported_at.is_some());
        if exported {
            client.execute(
                &format!(
                    "UPDATE import_staging s
                     SET conflict = 'changed_since_export',
                         conflict_value = c.id || ' ' || floor(extract(epoch FROM c.updated_at) * 1000000)::bigint
                     FROM contacts c
                     WHERE c.id = s.stored_id AND s.conflict IS NULL
                       AND c.updated_at > s.exported_at
                       AND NOT ({same} AND c.external_id IS NOT DISTINCT FROM coalesce(s.external_id, c.external_id))",
                    same = same_values("c", "s"),
                ),
                &[],
            )?;
        }
        if exported || nameless {
            self.set_aside_conflicts(chunk)?;
        }
        let client = self.client()?;
        client.execute(
            &format!(
                "WITH keyed AS (
                     SELECT s.*, coalesce('e' || s.external_id, 'i' || s.stored_id) AS group_key
                     FROM import_staging s
                 ), numbered AS (
                     SELECT k.*,
                            row_number() OVER occurrences AS occurrence,
                            lead(k.position) OVER occurrences IS NULL AS is_last,
                            first_value(k.position) OVER occurrences AS first_position
                     FROM keyed k
                     WINDOW occurrences AS (PARTITION BY k.group_key ORDER BY k.position)
                 )
                 INSERT INTO import_plan (position, group_key, contact_id, action,
                     previous_commercial, previous_technical, is_last, first_position)
                 SELECT n.position, n.group_key, n.stored_id,
                        CASE
                            WHEN n.group_key IS NULL THEN 'insert'
                            WHEN p.position IS NULL AND n.stored_id IS NULL THEN 'insert'
                            WHEN p.position IS NULL AND {stored_same}
                                 AND c.external_id IS NOT DISTINCT FROM coalesce(n.external_id, c.external_id)
                                 THEN 'unchanged'
                            WHEN p.position IS NOT NULL AND {previous_same} THEN 'unchanged'
                            ELSE 'update'
                        END,
                        CASE WHEN p.position IS NULL THEN c.commercial_owner_id ELSE p.commercial_owner_id END,
                        CASE WHEN p.position IS NULL THEN c.technical_owner_id ELSE p.technical_owner_id END,
                        n.group_key IS NULL OR n.is_last,
                        CASE WHEN n.group_key IS NULL THEN n.position ELSE n.first_position END
                 FROM numbered n
                 LEFT JOIN numbered p ON p.group_key = n.group_key AND p.occurrence = n.occurrence - 1
                 LEFT JOIN LATERAL (
                     -- OFFSET 0 keeps this a probe of the primary key per
                     -- row, for the reason given above.
                     SELECT * FROM contacts WHERE id = n.stored_id OFFSET 0
                 ) AS c ON true",
                stored_same = same_values("c", "n"),
                previous_same = same_values("p", "n"),
            ),
            &[],
        )?;

        // Stored contacts take the values of their last row in the chunk,
        // when one of their rows changes something.
        let assignments = WRITTEN_COLUMNS
            .iter()
            .map(|column| format!("{column} = s.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        client.execute(
            &format!(
                "UPDATE contacts c SET external_id = coalesce(s.external_id, c.external_id),
                     {assignments}, updated_at = $1
                 FROM import_plan p JOIN import_staging s ON s.position = p.position
                 WHERE c.id = p.contact_id AND p.is_last
                   AND EXISTS (SELECT 1 FROM import_plan u
                               WHERE u.group_key = p.group_key AND u.action = 'update')"
            ),
            &[&at],
        )?;

        // A new contact takes the values of its last row in the chunk, which
        // is where the row-by-row writes of SQLite leave it.
        client.execute(
            &format!(
                "INSERT INTO contacts (external_id, {columns}, created_at, updated_at)
                 SELECT s.external_id, {staged}, $1, $1
                 FROM import_plan p JOIN import_staging s ON s.position = p.position
                 WHERE p.is_last AND p.contact_id IS NULL
                 ORDER BY p.first_position",
                columns = WRITTEN_COLUMNS.join(", "),
                staged = columns_of("s"),
            ),
            &[&at],
        )?;
        // Later rows of a new external id update the contact just inserted.
        if keys.external_ids {
            client.execute(
                "UPDATE import_plan p
                 SET contact_id = (SELECT c.id FROM contacts c WHERE c.external_id = s.external_id)
                 FROM import_staging s
                 WHERE p.contact_id IS NULL AND s.position = p.position
                   AND s.external_id IS NOT NULL",
                &[],
            )?;
        }

        let history_entries = client.execute(
            &format!(
                "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                 SELECT p.contact_id, $1::timestamptz, '{kind}', r.role, r.previous_owner_id, r.new_owner_id, $2::bigint
                 FROM import_plan p
                 JOIN import_staging s ON s.position = p.position
                 CROSS JOIN LATERAL (VALUES
                     (1, '{commercial}', p.previous_commercial, s.commercial_owner_id),
                     (2, '{technical}', p.previous_technical, s.technical_owner_id)
                 ) AS r (ordinal, role, previous_owner_id, new_owner_id)
                 WHERE p.action = 'update' AND r.previous_owner_id IS DISTINCT FROM r.new_owner_id
                 ORDER BY p.position, r.ordinal",
                kind = HistoryKind::Import.as_str(),
                commercial = Role::Commercial.as_str(),
                technical = Role::Technical.as_str(),
            ),
            &[&at, &batch],
        )?;

        let counts = client.query_one(
            "SELECT count(*) FILTER (WHERE action = 'insert'),
                    count(*) FILTER (WHERE action = 'update'),
                    count(*) FILTER (WHERE action = 'unchanged')
             FROM import_plan",
            &[],
        )?;
        Ok(ImportCounts {
            imported: rows::count(&counts, 0)?,
            updated: rows::count(&counts, 1)?,
            unchanged: rows::count(&counts, 2)?,
            history_entries,
        })
    }
}

/// Appends one row of `COPY contacts` to `out`: the written columns, then
/// the creation and update times.
fn encode_contact(out: &mut BytesMut, row: &ContactWrite, at: &DateTime<Utc>) -> PgResult<()> {
    let contact = &row.contact;
    let perso = AddressValues::of(&contact.perso);
    let pro = AddressValues::of(&contact.pro);
    let values: [&(dyn ToSql + Sync); 22] = [
        &contact.civility,
        &contact.first_name,
        &contact.last_name,
        &contact.company,
        &contact.email,
        &contact.phone,
        &row.commercial_owner,
        &row.technical_owner,
        &perso.address.line1,
        &perso.address.line2,
        &perso.address.postal_code,
        &perso.address.postal_norm,
        &perso.address.city,
        &perso.country,
        &pro.address.line1,
        &pro.address.line2,
        &pro.address.postal_code,
        &pro.address.postal_norm,
        &pro.address.city,
        &pro.country,
        at,
        at,
    ];
    copy_stream::encode_row(out, &values, &CONTACT_TYPES)
}

fn write_row(
    writer: &mut BinaryCopyInWriter<'_>,
    position: i32,
    row: &ContactWrite,
) -> PgResult<()> {
    let contact = &row.contact;
    let perso = AddressValues::of(&contact.perso);
    let pro = AddressValues::of(&contact.pro);
    let values: [&(dyn ToSql + Sync); 24] = [
        &position,
        &contact.external_id,
        &contact.contact_id,
        &contact.civility,
        &contact.first_name,
        &contact.last_name,
        &contact.company,
        &contact.email,
        &contact.phone,
        &row.commercial_owner,
        &row.technical_owner,
        &perso.address.line1,
        &perso.address.line2,
        &perso.address.postal_code,
        &perso.address.postal_norm,
        &perso.address.city,
        &perso.country,
        &pro.address.line1,
        &pro.address.line2,
        &pro.address.postal_code,
        &pro.address.postal_norm,
        &pro.address.city,
        &pro.country,
        &contact.exported_at,
    ];
    writer.write(&values)?;
    Ok(())
}

/// An address with its country as stored: NULL when the address is empty.
struct AddressValues<'a> {
    address: &'a AddressInput,
    country: Option<&'a str>,
}

impl<'a> AddressValues<'a> {
    fn of(address: &'a AddressInput) -> AddressValues<'a> {
        AddressValues {
            address,
            country: address.country.as_ref().map(|country| country.as_str()),
        }
    }
}

impl ImportSession for PgImport {
    fn keep_stored_external_ids(&mut self) {
        self.external_ids_kept = true;
    }

    fn keep_stored(&mut self, parts: &[ContactPart], default_country: &CountryCode) {
        self.default_country = default_country.clone();
        let kept = kept_column_indexes(parts);
        self.renormalised = renormalised_addresses(&kept);
        self.kept = kept
            .into_iter()
            .map(|index| WRITTEN_COLUMNS[index])
            .collect();
        self.updates_only = crate::storage::updates_only(parts);
    }

    fn list_users(&mut self) -> StoreResult<Vec<User>> {
        let client = self.client().map_err(Failure::into_store_error)?;
        users::list(client).map_err(Failure::into_store_error)
    }

    fn create_user(&mut self, user: &NewUser) -> StoreResult<User> {
        let client = self.client().map_err(Failure::into_store_error)?;
        users::create(client, user).map_err(Failure::into_store_error)
    }

    fn write_contacts(&mut self, rows: &[ContactWrite]) -> StoreResult<ImportCounts> {
        if rows.is_empty() {
            return Ok(ImportCounts::default());
        }
        let keys = ChunkKeys::of(rows);
        let counts = if keys.any() {
            self.write_chunk(rows, keys)
        } else {
            self.copy_new_contacts(rows)
        }
        .map_err(Failure::into_store_error)?;
        self.inserted_since_analyse += counts.imported;
        Ok(counts)
    }

    fn take_key_conflicts(&mut self) -> Vec<KeyConflict> {
        std::mem::take(&mut self.key_conflicts)
    }

    fn take_pacific_mismatches(&mut self) -> Vec<PacificMismatch> {
        std::mem::take(&mut self.pacific_mismatches)
    }

    fn reversed_reassignments(&mut self) -> StoreResult<Vec<crate::storage::ReversedBatch>> {
        let batch = self.batch;
        let client = self.client().map_err(Failure::into_store_error)?;
        let rows = client
            .query(&crate::storage::reversed_reassignments_sql(true), &[&batch])
            .map_err(store_error)?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let kind: String = row.get(1);
                Some(crate::storage::ReversedBatch {
                    batch: row.get(0),
                    kind: BatchKind::parse(&kind)?,
                    contacts: row.get::<_, i64>(2) as u64,
                })
            })
            .collect())
    }

    fn cleared_owners(&mut self) -> StoreResult<(u64, u64)> {
        let batch = self.batch;
        let client = self.client().map_err(Failure::into_store_error)?;
        let rows = client
            .query(&crate::storage::cleared_owners_sql(true), &[&batch])
            .map_err(store_error)?;
        let mut totals = (0, 0);
        for row in &rows {
            crate::storage::add_cleared(&mut totals, row.get(0), row.get(1));
        }
        Ok(totals)
    }

    fn twin_contacts(&mut self) -> StoreResult<(u64, Vec<crate::storage::TwinContact>)> {
        // A first load has no stored contact to compare with.
        if self.last_id_before == 0 {
            return Ok((0, Vec::new()));
        }
        let last_id_before = self.last_id_before;
        let listed = crate::storage::LISTED_TWIN_CONTACTS as i64;
        let client = self.client().map_err(Failure::into_store_error)?;
        let rows = client
            .query(
                &crate::storage::twin_contacts_sql(true),
                &[&last_id_before, &listed],
            )
            .map_err(store_error)?;
        let total = rows
            .first()
            .map(|row| u64::try_from(row.get::<_, i64>(4)).unwrap_or_default())
            .unwrap_or_default();
        let twins = rows
            .iter()
            .map(|row| crate::storage::TwinContact {
                id: row.get(0),
                first_name: row.get(1),
                last_name: row.get(2),
                company: row.get(3),
            })
            .collect();
        Ok((total, twins))
    }

    fn record_rejected_lines(&mut self, lines: u64) -> StoreResult<()> {
        let batch = self.batch;
        let lines = i64::try_from(lines).unwrap_or(i64::MAX);
        let client = self.client().map_err(Failure::into_store_error)?;
        client
            .execute(
                "UPDATE batches SET params = params || jsonb_build_object('rejected_lines', $2::bigint)
                 WHERE id = $1",
                &[&batch, &lines],
            )
            .map_err(store_error)?;
        Ok(())
    }

    fn commit(mut self: Box<Self>, totals: &ImportCounts) -> StoreResult<BatchId> {
        let written = totals.imported + totals.updated + totals.unchanged;
        let mut outcome = Outcome {
            matched: written,
            changed: totals.imported + totals.updated,
            already_owned: totals.unchanged,
            history_entries: totals.history_entries,
            commercial: 0,
            technical: 0,
        };
        if totals.history_entries > 0 {
            let batch = self.batch;
            let per_role = self
                .client()
                .and_then(|client| {
                    Ok(client.query(
                        "SELECT role, count(*) FROM history WHERE batch_id = $1 GROUP BY role",
                        &[&batch],
                    )?)
                })
                .and_then(|found| {
                    found
                        .iter()
                        .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?)))
                        .collect::<PgResult<Vec<_>>>()
                })
                .map_err(Failure::into_store_error)?;
            crate::storage::set_role_counts(&mut outcome, &per_role);
        }
        let (batch, last_id_before) = (self.batch, self.last_id_before);
        let empty_load = self.empty_load.take();
        let frozen_only = empty_load.is_some() && !self.staged_any;
        let client = self.client().map_err(Failure::into_store_error)?;
        batches::finish(client, batch, &outcome).map_err(Failure::into_store_error)?;
        record_created_ids(client, batch, last_id_before).map_err(Failure::into_store_error)?;
        if let Some(load) = &empty_load {
            load.restore(client).map_err(Failure::into_store_error)?;
        }
        client.batch_execute("COMMIT").map_err(store_error)?;
        self.open = false;
        let client = self.client().map_err(Failure::into_store_error)?;

        // The statistics describe the table before the import, and rows
        // written by INSERT or UPDATE are not yet marked all-visible, so
        // until autovacuum runs the previews cannot use index-only scans.
        // Rows loaded by `COPY … (FREEZE)` are marked already, and then
        // ANALYZE, which reads a sample, is enough. VACUUM cannot run in a
        // transaction, so this comes after the commit, and its failure
        // leaves the committed import in place.
        if totals.imported + totals.updated > 0 {
            let maintenance = if frozen_only {
                "ANALYZE contacts"
            } else {
                "VACUUM (ANALYZE) contacts"
            };
            if let Err(error) = client.batch_execute(maintenance) {
                tracing::warn!(%error, batch.id = batch, statement = maintenance, "maintenance of contacts after an import failed");
            }
        }
        Ok(batch)
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
