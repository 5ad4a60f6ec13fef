//! The import session the service drives, on PostgreSQL.

use crate::domain::batch::{BatchId, BatchKind, Outcome};
use crate::domain::contact::ContactPart;
use crate::domain::country::CountryCode;
use crate::domain::user::{NewUser, User};
use crate::storage::IMPORT_WRITTEN_COLUMNS as WRITTEN_COLUMNS;
use crate::storage::{
    ContactWrite, ImportCounts, ImportSession, KeyConflict, PacificMismatch, StoreResult,
    kept_column_indexes, renormalised_addresses,
};

use super::super::{Failure, PgResult, batches, store_error, users};
use super::{ChunkKeys, PgImport, record_created_ids};

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
