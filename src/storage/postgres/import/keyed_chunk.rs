//! Writing a chunk whose rows carry external ids or contact numbers:
//! staged by `COPY`, matched to stored contacts, then inserted, updated
//! and written into history by set-based statements.

use crate::domain::contact::Role;
use crate::domain::history::HistoryKind;
use crate::storage::IMPORT_WRITTEN_COLUMNS as WRITTEN_COLUMNS;
use crate::storage::{ContactWrite, ImportCounts, renormalise};

use super::super::{PgResult, rows};
use super::staging::{columns_of, same_values};
use super::{ChunkKeys, PgImport};

impl PgImport {
    pub(super) fn write_chunk(
        &mut self,
        chunk: &[ContactWrite],
        keys: ChunkKeys,
    ) -> PgResult<ImportCounts> {
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
