//! The import session the service drives, on SQLite.

use rusqlite::params;

use crate::domain::batch::{BatchId, BatchKind, Outcome};
use crate::domain::contact::ContactPart;
use crate::domain::country::CountryCode;
use crate::domain::user::{NewUser, User};
use crate::storage::{
    ContactWrite, ImportCounts, ImportSession, KeyConflict, PacificMismatch, StoreResult,
};

use super::super::{batches, db_error, users};
use super::SqliteImport;
use super::empty_indexes::rebuild_indexes;

impl ImportSession for SqliteImport {
    fn keep_stored_external_ids(&mut self) {
        self.external_ids_kept = true;
    }

    fn keep_stored(&mut self, parts: &[ContactPart], default_country: &CountryCode) {
        self.kept = crate::storage::kept_column_indexes(parts);
        self.default_country = default_country.clone();
        self.updates_only = crate::storage::updates_only(parts);
    }

    fn list_users(&mut self) -> StoreResult<Vec<User>> {
        users::list(&self.conn)
    }

    fn create_user(&mut self, user: &NewUser) -> StoreResult<User> {
        users::create(&self.conn, user)
    }

    fn write_contacts(&mut self, rows: &[ContactWrite]) -> StoreResult<ImportCounts> {
        let mut counts = ImportCounts::default();
        let inserted = self.insert_new_rows(rows, &mut counts)?;
        for row in &rows[inserted..] {
            self.write_one(row, &mut counts)?;
        }
        Ok(counts)
    }

    fn take_key_conflicts(&mut self) -> Vec<KeyConflict> {
        std::mem::take(&mut self.key_conflicts)
    }

    fn take_pacific_mismatches(&mut self) -> Vec<PacificMismatch> {
        std::mem::take(&mut self.pacific_mismatches)
    }

    fn reversed_reassignments(&mut self) -> StoreResult<Vec<crate::storage::ReversedBatch>> {
        let mut statement = self
            .conn
            .prepare(&crate::storage::reversed_reassignments_sql(false))
            .map_err(db_error)?;
        let rows = statement
            .query_map([self.batch], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .map_err(db_error)?;
        let mut reversed = Vec::new();
        for row in rows {
            let (batch, kind, contacts) = row.map_err(db_error)?;
            if let Some(kind) = BatchKind::parse(&kind) {
                reversed.push(crate::storage::ReversedBatch {
                    batch,
                    kind,
                    contacts: contacts as u64,
                });
            }
        }
        Ok(reversed)
    }

    fn cleared_owners(&mut self) -> StoreResult<(u64, u64)> {
        let mut statement = self
            .conn
            .prepare(&crate::storage::cleared_owners_sql(false))
            .map_err(db_error)?;
        let rows = statement
            .query_map([self.batch], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(db_error)?;
        let mut totals = (0, 0);
        for row in rows {
            let (role, count) = row.map_err(db_error)?;
            crate::storage::add_cleared(&mut totals, &role, count);
        }
        Ok(totals)
    }

    fn twin_contacts(&mut self) -> StoreResult<(u64, Vec<crate::storage::TwinContact>)> {
        // A first load has no stored contact to compare with.
        if self.last_id_before == 0 {
            return Ok((0, Vec::new()));
        }
        let mut statement = self
            .conn
            .prepare(&crate::storage::twin_contacts_sql(false))
            .map_err(db_error)?;
        let rows = statement
            .query_map(
                params![
                    self.last_id_before,
                    crate::storage::LISTED_TWIN_CONTACTS as i64
                ],
                |row| {
                    Ok((
                        crate::storage::TwinContact {
                            id: row.get(0)?,
                            first_name: row.get(1)?,
                            last_name: row.get(2)?,
                            company: row.get(3)?,
                        },
                        row.get::<_, i64>(4)?,
                    ))
                },
            )
            .map_err(db_error)?;
        let mut total = 0;
        let mut twins = Vec::new();
        for row in rows {
            let (twin, count) = row.map_err(db_error)?;
            total = u64::try_from(count).unwrap_or_default();
            twins.push(twin);
        }
        Ok((total, twins))
    }

    fn record_rejected_lines(&mut self, lines: u64) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE batches SET params = json_set(params, '$.rejected_lines', ?2) WHERE id = ?1",
                params![self.batch, i64::try_from(lines).unwrap_or(i64::MAX)],
            )
            .map_err(db_error)?;
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
            let mut statement = self
                .conn
                .prepare("SELECT role, count(*) FROM history WHERE batch_id = ?1 GROUP BY role")
                .map_err(db_error)?;
            let per_role = statement
                .query_map([self.batch], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(db_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_error)?;
            crate::storage::set_role_counts(&mut outcome, &per_role);
        }
        batches::finish(&self.conn, self.batch, &outcome)?;
        self.record_created_ids()?;
        rebuild_indexes(&self.conn, &self.dropped_indexes)?;
        self.conn.execute_batch("COMMIT").map_err(db_error)?;
        self.open = false;
        Ok(self.batch)
    }
}
