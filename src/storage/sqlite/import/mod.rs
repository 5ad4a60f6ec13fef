//! Import transaction on SQLite: one `BEGIN IMMEDIATE` for the whole file,
//! rows written with cached prepared statements (in process, so no round
//! trip per row), rolled back unless committed.

mod empty_indexes;
mod session;

use std::sync::LazyLock;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, ToSql, params, params_from_iter};

use crate::domain::batch::{Actor, BatchId, BatchKind};
use crate::domain::contact::{AddressInput, Role};
use crate::domain::country::CountryCode;
use crate::domain::history::HistoryKind;
// The stored columns an import writes, in the order of `values()`.
use crate::storage::IMPORT_WRITTEN_COLUMNS as WRITTEN_COLUMNS;
use crate::storage::{
    ContactWrite, ImportCounts, KeyConflict, KeyConflictKind, RunContext, StoreResult,
};
use crate::storage::{FIRST_CREATED_ID, LAST_CREATED_ID, PacificMismatch};

use super::first_load::{self, FirstLoad};
use super::pool::SqliteManager;
use super::{batches, db_error, rows};
use empty_indexes::drop_indexes_of_empty_table;

/// SQL of the statements run for each row, built once rather than per row.
struct RowStatements {
    select_by_contact_id: String,
    set_external_id: String,
    select_by_external_id: String,
    insert: String,
    update: String,
}

static STATEMENTS: LazyLock<RowStatements> = LazyLock::new(|| {
    let columns = WRITTEN_COLUMNS.join(", ");
    let assignments = WRITTEN_COLUMNS
        .iter()
        .map(|column| format!("{column} = ?"))
        .collect::<Vec<_>>()
        .join(", ");
    RowStatements {
        select_by_contact_id: format!(
            "SELECT id, {columns}, external_id FROM contacts WHERE id = ?1"
        ),
        set_external_id: "UPDATE contacts SET external_id = ?1, updated_at = ?2 WHERE id = ?3"
            .to_string(),
        select_by_external_id: format!("SELECT id, {columns} FROM contacts WHERE external_id = ?1"),
        insert: format!(
            "INSERT INTO contacts (external_id, {columns}, created_at, updated_at) VALUES ({})
             ON CONFLICT (external_id) DO NOTHING",
            vec!["?"; WRITTEN_COLUMNS.len() + 3].join(", ")
        ),
        update: format!("UPDATE contacts SET {assignments}, updated_at = ? WHERE id = ?"),
    }
});

/// Positions of the last name, first name and company in `values()`.
const NAME_INDEXES: (usize, usize, usize) = (2, 1, 3);
const COMMERCIAL_INDEX: usize = 6;
const TECHNICAL_INDEX: usize = 7;

fn text(value: &str) -> Value {
    Value::Text(value.to_string())
}

fn owner(value: Option<i64>) -> Value {
    value.map_or(Value::Null, Value::Integer)
}

fn address_values(address: &AddressInput, values: &mut Vec<Value>) {
    values.push(text(&address.line1));
    values.push(text(&address.line2));
    values.push(text(&address.postal_code));
    values.push(text(&address.postal_norm));
    values.push(text(&address.city));
    values.push(
        address
            .country
            .as_ref()
            .map_or(Value::Null, |country| text(country.as_str())),
    );
}

/// Tells whether a written value is empty text, as an identity column of
/// `values` is when the contact has none.
fn is_empty_text(value: &Value) -> bool {
    match value {
        Value::Text(text) => text.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

fn values(row: &ContactWrite) -> Vec<Value> {
    let contact = &row.contact;
    let mut values = vec![
        text(&contact.civility),
        text(&contact.first_name),
        text(&contact.last_name),
        text(&contact.company),
        text(&contact.email),
        text(&contact.phone),
        owner(row.commercial_owner),
        owner(row.technical_owner),
    ];
    address_values(&contact.perso, &mut values);
    address_values(&contact.pro, &mut values);
    values
}

pub struct SqliteImport {
    conn: r2d2::PooledConnection<SqliteManager>,
    batch: BatchId,
    at: String,
    open: bool,
    /// `CREATE INDEX` statements of the secondary contact indexes dropped
    /// for this import, run again before the commit.
    dropped_indexes: Vec<String>,
    /// Rows skipped since the last `take_key_conflicts`.
    key_conflicts: Vec<KeyConflict>,
    /// Set when the import loads an empty base under a rollback journal.
    first_load: Option<FirstLoad>,
    /// Positions in `values()` of the columns an update leaves as stored,
    /// because the file has no column for them.
    kept: Vec<usize>,
    /// Set when the file names no contact: rows then only update.
    updates_only: bool,
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

/// Temporary storage of the import connection. An index build sorts its
/// keys and spills what exceeds the page cache size to temporary storage,
/// so in memory the import would grow with the file. Measured with
/// `relais import` on demo contacts: 214 MB of peak RSS for two million
/// rows in memory, against 156 MB with files, and 159 MB for five million.
/// The setting is changed outside the transaction, where SQLite may refuse
/// it, and restored after the end.
const IMPORT_TEMP_STORE: &str = "PRAGMA temp_store = FILE";
const POOL_TEMP_STORE: &str = "PRAGMA temp_store = MEMORY";

impl SqliteImport {
    pub fn begin(
        conn: r2d2::PooledConnection<SqliteManager>,
        actor: &Actor,
        params: serde_json::Value,
    ) -> StoreResult<SqliteImport> {
        conn.execute_batch(IMPORT_TEMP_STORE).map_err(db_error)?;
        let now = chrono::Utc::now();
        let run = RunContext {
            actor: actor.clone(),
            params,
            idempotency_key: None,
            now,
        };
        // Built before the transaction, so that `Drop` restores the
        // settings whatever fails from here on.
        let mut session = SqliteImport {
            conn,
            batch: 0,
            at: rows::timestamp(now),
            open: false,
            dropped_indexes: Vec::new(),
            key_conflicts: Vec::new(),
            first_load: None,
            kept: Vec::new(),
            updates_only: false,
            default_country: CountryCode::france(),
            last_id_before: 0,
            external_ids_kept: false,
            pacific_mismatches: Vec::new(),
        };
        session.first_load = first_load::enter(&session.conn)?;
        // Under a rollback journal a reader that starts during the load
        // would hold back its commit, so a first load locks the base out
        // of readers from the start, as PostgreSQL's does.
        let begin = if session.first_load.is_some() {
            "BEGIN EXCLUSIVE"
        } else {
            "BEGIN IMMEDIATE"
        };
        session.conn.execute_batch(begin).map_err(db_error)?;
        session.open = true;
        session.dropped_indexes = drop_indexes_of_empty_table(&session.conn)?;
        session.batch = batches::insert(&session.conn, BatchKind::Import, &run, None)?;
        session.last_id_before = session
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM contacts", [], |row| {
                row.get(0)
            })
            .map_err(db_error)?;
        Ok(session)
    }

    /// Records in the batch's parameters the ids of the contacts this
    /// import created, so that its journal page and export list them.
    fn record_created_ids(&self) -> StoreResult<()> {
        // Two seeks on the rowid: `min` and `max` under a `WHERE` would
        // read every new row, a million after a first load.
        let (first, last): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT (SELECT id FROM contacts WHERE id > ?1 ORDER BY id LIMIT 1),
                        (SELECT id FROM contacts ORDER BY id DESC LIMIT 1)",
                [self.last_id_before],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(db_error)?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(());
        };
        self.conn
            .execute(
                &format!(
                    "UPDATE batches SET params = json_set(params, '$.{FIRST_CREATED_ID}', ?2, '$.{LAST_CREATED_ID}', ?3)
                     WHERE id = ?1"
                ),
                params![self.batch, first, last],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Tells whether the base had no contact when this import began, which
    /// is when `begin` dropped the secondary indexes.
    fn loads_empty_base(&self) -> bool {
        !self.dropped_indexes.is_empty()
    }

    /// Finds the stored contact a row names. A row with an external id
    /// names the contact that has it. A row with a contact number names
    /// that contact only when it has no other external id and the row's
    /// last name, first name and company, so that a file from another
    /// database cannot overwrite an unrelated contact.
    fn find_stored(&self, row: &ContactWrite) -> StoreResult<Result<StoredMatch, KeyConflictKind>> {
        let contact = &row.contact;
        if let Some(external_id) = &contact.external_id {
            let by_external_id = self
                .conn
                .prepare_cached(&STATEMENTS.select_by_external_id)
                .map_err(db_error)?
                .query_row([external_id], stored_row)
                .optional()
                .map_err(db_error)?;
            match (by_external_id, contact.contact_id) {
                (Some((id, _)), Some(number)) if id != number => {
                    return Ok(Err(KeyConflictKind::ExternalIdOfOtherNumber {
                        stored_number: id,
                    }));
                }
                (Some((id, stored)), _) => {
                    return Ok(Ok(StoredMatch::Found {
                        id,
                        stored,
                        sets_external_id: false,
                    }));
                }
                (None, None) => return Ok(Ok(StoredMatch::New)),
                (None, Some(_)) => {}
            }
        }
        let Some(number) = contact.contact_id else {
            return Ok(Ok(StoredMatch::New));
        };

        let by_number = self
            .conn
            .prepare_cached(&STATEMENTS.select_by_contact_id)
            .map_err(db_error)?
            .query_row([number], |found| {
                let (id, stored) = stored_row(found)?;
                let external_id: Option<String> = found.get(WRITTEN_COLUMNS.len() + 1)?;
                Ok((id, stored, external_id))
            })
            .optional()
            .map_err(db_error)?;
        let Some((id, stored, stored_external_id)) = by_number else {
            return Ok(Err(KeyConflictKind::UnknownNumber));
        };
        let names_compared = [NAME_INDEXES.0, NAME_INDEXES.1, NAME_INDEXES.2]
            .iter()
            .any(|index| !self.kept.contains(index));
        if let Some(stored_external_id) = stored_external_id
            && !(self.external_ids_kept && names_compared)
        {
            return Ok(Err(KeyConflictKind::OtherExternalId {
                stored: stored_external_id,
            }));
        }
        // Names the file has no column for are not compared.
        let same_names = [
            (NAME_INDEXES.0, &contact.last_name),
            (NAME_INDEXES.1, &contact.first_name),
            (NAME_INDEXES.2, &contact.company),
        ]
        .into_iter()
        .all(|(index, name)| self.kept.contains(&index) || stored[index] == text(name));
        if !same_names {
            return Ok(Err(KeyConflictKind::OtherNames));
        }
        Ok(Ok(StoredMatch::Found {
            id,
            stored,
            sets_external_id: contact.external_id.is_some(),
        }))
    }

    /// Replaces in `new_values`, a row's values, those of the parts its
    /// file has no column for by the stored ones, and works out again the
    /// normalised postal code of an address that mixes the two.
    fn keep_stored_values(&mut self, line: u64, stored: &[Value], new_values: &mut [Value]) {
        for &index in &self.kept {
            // A kept country that was empty takes the file's, as a new
            // address would.
            let is_country = crate::storage::ADDRESS_POSTAL_COLUMNS
                .iter()
                .any(|(_, _, country)| *country == index);
            if is_country && stored[index] == Value::Null {
                continue;
            }
            new_values[index] = stored[index].clone();
        }
        for (code, norm, country) in crate::storage::renormalised_addresses(&self.kept) {
            let as_text = |value: &Value| match value {
                Value::Text(text) => Some(text.clone()),
                _ => None,
            };
            let (normalised, stored_under) = crate::storage::renormalise(
                &as_text(&new_values[code]).unwrap_or_default(),
                as_text(&new_values[country]).as_deref(),
                &self.default_country,
            );
            self.pacific_mismatches
                .extend(crate::storage::pacific_mismatch(
                    line,
                    code,
                    &as_text(&new_values[code]).unwrap_or_default(),
                    &normalised,
                    &as_text(&new_values[crate::storage::city_column(norm)]).unwrap_or_default(),
                    stored_under.as_deref(),
                ));
            new_values[norm] = text(&normalised);
            new_values[country] = stored_under.map_or(Value::Null, |country| text(&country));
        }
    }

    fn write_one(&mut self, row: &ContactWrite, counts: &mut ImportCounts) -> StoreResult<()> {
        // In a base that was empty, a row without a number is new unless an
        // earlier row of this import gave its external id. The insert
        // reports which, so a first load saves one lookup per row.
        if self.loads_empty_base()
            && row.contact.contact_id.is_none()
            && !self.updates_only
            && row.contact.has_identity()
            && self.insert(row)?
        {
            counts.imported += 1;
            return Ok(());
        }
        let (id, stored, sets_external_id) = match self.find_stored(row)? {
            Ok(StoredMatch::Found {
                id,
                stored,
                sets_external_id,
            }) => (id, stored, sets_external_id),
            Ok(StoredMatch::New) if self.updates_only || !row.contact.has_identity() => {
                self.key_conflicts.push(KeyConflict {
                    line: row.line,
                    contact_number: row.contact.contact_id.unwrap_or_default(),
                    external_id: row.contact.external_id.clone(),
                    kind: KeyConflictKind::UnknownExternalId,
                });
                return Ok(());
            }
            Ok(StoredMatch::New) => {
                // No stored contact has the row's external id: it was
                // looked up in this transaction, which holds the write lock.
                self.insert(row)?;
                counts.imported += 1;
                return Ok(());
            }
            Err(kind) => {
                self.key_conflicts.push(KeyConflict {
                    line: row.line,
                    contact_number: row.contact.contact_id.unwrap_or_default(),
                    external_id: row.contact.external_id.clone(),
                    kind,
                });
                return Ok(());
            }
        };
        let mut new_values = values(row);
        if !self.kept.is_empty() {
            self.keep_stored_values(row.line, &stored, &mut new_values);
        }
        // A row without a name keeps the stored names of the columns the
        // file lacks; one that would leave its contact none is set aside.
        if !row.contact.has_identity() && new_values[1..=5].iter().all(is_empty_text) {
            self.key_conflicts.push(KeyConflict {
                line: row.line,
                contact_number: id,
                external_id: row.contact.external_id.clone(),
                kind: KeyConflictKind::NoIdentityLeft,
            });
            return Ok(());
        }
        // A row older than the contact's last change would undo that
        // change, unless it changes nothing, as a file imported twice does.
        let changes = sets_external_id || stored != new_values;
        if let Some(exported_at) = row.contact.exported_at.filter(|_| changes) {
            let changed_at: String = self
                .conn
                .prepare_cached("SELECT updated_at FROM contacts WHERE id = ?1")
                .map_err(db_error)?
                .query_row([id], |found| found.get(0))
                .map_err(db_error)?;
            let changed_at = rows::parse_timestamp(&changed_at).map_err(db_error)?;
            // `exported_at` is the end of the unit the cell was written to.
            if changed_at > exported_at {
                self.key_conflicts.push(KeyConflict {
                    line: row.line,
                    contact_number: id,
                    external_id: row.contact.external_id.clone(),
                    kind: KeyConflictKind::ChangedSinceExport { changed_at },
                });
                return Ok(());
            }
        }
        if sets_external_id {
            self.conn
                .prepare_cached(&STATEMENTS.set_external_id)
                .map_err(db_error)?
                .execute(params![row.contact.external_id, self.at, id])
                .map_err(db_error)?;
        }
        if stored == new_values {
            if sets_external_id {
                counts.updated += 1;
            } else {
                counts.unchanged += 1;
            }
            return Ok(());
        }
        for (role, index) in [
            (Role::Commercial, COMMERCIAL_INDEX),
            (Role::Technical, TECHNICAL_INDEX),
        ] {
            if stored[index] != new_values[index] {
                self.conn
                    .prepare_cached(
                        "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(db_error)?
                    .execute(params![
                        id,
                        self.at,
                        HistoryKind::Import.as_str(),
                        role.as_str(),
                        stored[index],
                        new_values[index],
                        self.batch
                    ])
                    .map_err(db_error)?;
                counts.history_entries += 1;
            }
        }
        let mut update = new_values;
        update.push(text(&self.at));
        update.push(Value::Integer(id));
        self.conn
            .prepare_cached(&STATEMENTS.update)
            .map_err(db_error)?
            .execute(params_from_iter(update.iter()))
            .map_err(db_error)?;
        counts.updated += 1;
        Ok(())
    }

    /// Inserts a row as a new contact. Returns false, inserting nothing,
    /// when a stored contact already has its external id.
    fn insert(&self, row: &ContactWrite) -> StoreResult<bool> {
        let mut statement = self
            .conn
            .prepare_cached(&STATEMENTS.insert)
            .map_err(db_error)?;
        insert_with(&mut statement, row, &self.at)
    }

    /// Inserts, in order, the rows of a first load that need no lookup,
    /// with one prepared statement for all of them, and returns how many it
    /// wrote. Stops at the first row that needs a lookup: one with a
    /// contact number, or one whose external id an earlier row gave.
    fn insert_new_rows(
        &self,
        rows: &[ContactWrite],
        counts: &mut ImportCounts,
    ) -> StoreResult<usize> {
        if !self.loads_empty_base() || self.updates_only {
            return Ok(0);
        }
        let mut statement = self
            .conn
            .prepare_cached(&STATEMENTS.insert)
            .map_err(db_error)?;
        for (written, row) in rows.iter().enumerate() {
            let settled = row.contact.contact_id.is_none()
                && row.contact.has_identity()
                && insert_with(&mut statement, row, &self.at)?;
            if !settled {
                return Ok(written);
            }
            counts.imported += 1;
        }
        Ok(rows.len())
    }
}

/// Inserts a row as a new contact with the prepared insert, binding the
/// row's text in place: most rows of an import are new, and copying each
/// value first would cost an allocation per column. Returns false,
/// inserting nothing, when a stored contact already has its external id.
fn insert_with(
    statement: &mut rusqlite::Statement<'_>,
    row: &ContactWrite,
    at: &str,
) -> StoreResult<bool> {
    let contact = &row.contact;
    let perso_country = contact.perso.country.as_ref().map(CountryCode::as_str);
    let pro_country = contact.pro.country.as_ref().map(CountryCode::as_str);
    let parameters: [&dyn ToSql; WRITTEN_COLUMNS.len() + 3] = [
        &contact.external_id,
        &contact.civility,
        &contact.first_name,
        &contact.last_name,
        &contact.company,
        &contact.email,
        &contact.phone,
        &row.commercial_owner,
        &row.technical_owner,
        &contact.perso.line1,
        &contact.perso.line2,
        &contact.perso.postal_code,
        &contact.perso.postal_norm,
        &contact.perso.city,
        &perso_country,
        &contact.pro.line1,
        &contact.pro.line2,
        &contact.pro.postal_code,
        &contact.pro.postal_norm,
        &contact.pro.city,
        &pro_country,
        &at,
        &at,
    ];
    let inserted = statement.execute(parameters.as_slice()).map_err(db_error)?;
    Ok(inserted == 1)
}

/// The stored contact a row names, if any.
enum StoredMatch {
    New,
    Found {
        id: i64,
        stored: Vec<Value>,
        /// The row gives an external id to a contact found by its number.
        sets_external_id: bool,
    },
}

/// Reads the id and the `WRITTEN_COLUMNS` of a stored contact.
fn stored_row(found: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Vec<Value>)> {
    let id: i64 = found.get(0)?;
    let stored = (1..=WRITTEN_COLUMNS.len())
        .map(|index| found.get::<_, Value>(index))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((id, stored))
}

impl Drop for SqliteImport {
    /// Rolls back an import that was not committed, then gives the pool
    /// back a connection with its own settings, in WAL mode.
    fn drop(&mut self) {
        if self.open
            && let Err(error) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(%error, "rolling back an unfinished import failed");
        }
        if let Some(first_load) = self.first_load.take() {
            first_load.leave(&self.conn);
        }
        if let Err(error) = self.conn.execute_batch(POOL_TEMP_STORE) {
            tracing::error!(%error, "restoring temp_store after an import failed");
        }
    }
}
