//! Both mass reassignments on SQLite, set-based: a fixed number of
//! statements whatever the number of contacts.
//!
//! The caller holds the write lock (`BEGIN IMMEDIATE`), so the owners read
//! by `INSERT INTO history … SELECT` are the ones the `UPDATE` replaces.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use crate::domain::batch::{
    Applied, BatchId, BatchKind, Outcome, RegionReassignment, UserReassignment,
};
use crate::domain::contact::Role;
use crate::domain::country::CountryCode;
use crate::domain::history::HistoryKind;
use crate::domain::postal::{PostalPrefix, PostalSelection};
use crate::storage::{
    PrefixCount, RegionPreview, RunContext, StoreError, StoreResult, owner_column,
};

use super::ranges;
use super::rows::{self, CONTACT_COLUMNS, CONTACT_JOINS};
use super::{batches, db_error};

/// Number of matched contacts a region preview shows.
const SAMPLE_SIZE: i64 = 5;

/// Runs a count. Statements are cached: their text does not depend on the
/// number of prefixes, and a selection of many prefixes runs the same
/// per-prefix statements many times.
fn count(conn: &Connection, sql: &str, values: &[Value]) -> StoreResult<u64> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| {
            statement.query_row(params_from_iter(values.iter()), |row| row.get::<_, i64>(0))
        })
        .map(|n| n as u64)
        .map_err(db_error)
}

pub fn preview_user(conn: &Connection, request: &UserReassignment) -> StoreResult<Outcome> {
    let from = [Value::Integer(request.from)];
    let commercial = count(
        conn,
        "SELECT count(*) FROM contacts WHERE commercial_owner_id = ?",
        &from,
    )?;
    let technical = count(
        conn,
        "SELECT count(*) FROM contacts WHERE technical_owner_id = ?",
        &from,
    )?;
    let both = count(
        conn,
        "SELECT count(*) FROM contacts INDEXED BY contacts_commercial_owner
         WHERE commercial_owner_id = ?1 AND technical_owner_id = ?1",
        &from,
    )?;
    let changed = commercial + technical - both;
    Ok(Outcome {
        matched: changed,
        changed,
        already_owned: 0,
        history_entries: commercial + technical,
        commercial,
        technical,
    })
}

/// Rejects a target user deactivated since the form was checked. The run
/// holds the database's write lock, so no deactivation can come between
/// this check and its commit.
fn check_active_target(conn: &Connection, to: crate::domain::user::UserId) -> StoreResult<()> {
    let (active, first_name, last_name, initials): (bool, String, String, String) = conn
        .query_row(
            "SELECT active, first_name, last_name, initials FROM users WHERE id = ?1",
            [to],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .map_err(db_error)?;
    if active {
        return Ok(());
    }
    let name = crate::domain::user::display_name(&first_name, &last_name, &initials);
    Err(crate::storage::StoreError::inactive_target(&name))
}

pub fn apply_user(
    conn: &Connection,
    request: &UserReassignment,
    run: &RunContext,
) -> StoreResult<Applied> {
    if let Some(applied) = batches::replay(conn, BatchKind::Reassign, run)? {
        return Ok(applied);
    }
    check_active_target(conn, request.to)?;
    let batch = batches::insert(conn, BatchKind::Reassign, run, None)?;
    // The write transaction holds the database's lock by now.
    let at = rows::timestamp(run.time_of_write());

    let mut outcome = Outcome::default();
    for role in Role::ALL {
        let column = owner_column(role);
        let written = conn
            .execute(
                &format!(
                    "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                     SELECT id, ?1, ?2, ?3, {column}, ?4, ?5 FROM contacts WHERE {column} = ?6"
                ),
                params![at, HistoryKind::Reassign.as_str(), role.as_str(), request.to, batch, request.from],
            )
            .map_err(db_error)? as u64;
        conn.execute(
            &format!("UPDATE contacts SET {column} = ?1, updated_at = ?2 WHERE {column} = ?3"),
            params![request.to, at, request.from],
        )
        .map_err(db_error)?;
        match role {
            Role::Commercial => outcome.commercial = written,
            Role::Technical => outcome.technical = written,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = distinct_contacts(conn, batch)?;
    outcome.matched = outcome.changed;

    batches::close(conn, batch, outcome)
}

fn distinct_contacts(conn: &Connection, batch: BatchId) -> StoreResult<u64> {
    count(
        conn,
        "SELECT count(DISTINCT contact_id) FROM history WHERE batch_id = ?",
        &[Value::Integer(batch)],
    )
}

/// `SELECT id FROM contacts …` for the contacts with an address in the
/// region, as a union of index range scans: one per address kind and
/// prefix, the prefixes coming from the rows of `json_each` over one
/// parameter, so the statement is the same for any number of them. Each
/// prefix is a byte range, so no user text reaches `LIKE`.
fn region_ids(
    country: &CountryCode,
    prefixes: Option<&[PostalPrefix]>,
    values: &mut Vec<Value>,
) -> String {
    let mut parts = Vec::new();
    for side in ["perso", "pro"] {
        match prefixes {
            None => {
                values.push(Value::Text(country.as_str().to_string()));
                parts.push(format!("SELECT id FROM contacts WHERE {side}_country = ?"));
            }
            Some(prefixes) => parts.push(range_join(side, "c.id AS id", country, prefixes, values)),
        }
    }
    parts.join(" UNION ")
}

/// `SELECT {columns} FROM … AS c` over the contacts whose `side` address
/// is in one of the ranges of `prefixes`, given as one JSON parameter.
/// `CROSS JOIN` keeps the ranges in the outer loop, so that each range is
/// one scan of the side's region index.
fn range_join(
    side: &str,
    columns: &str,
    country: &CountryCode,
    prefixes: &[PostalPrefix],
    values: &mut Vec<Value>,
) -> String {
    let index = format!("contacts_{side}_region");
    index_range_join(&index, side, columns, country, prefixes, values)
}

/// Builds `range_join` on another index whose key has the side's country
/// and normalised postal code, such as an owner index after its owner.
fn index_range_join(
    index: &str,
    side: &str,
    columns: &str,
    country: &CountryCode,
    prefixes: &[PostalPrefix],
    values: &mut Vec<Value>,
) -> String {
    values.push(Value::Text(ranges::ranges_json(prefixes)));
    values.push(Value::Text(country.as_str().to_string()));
    format!(
        "SELECT {columns} FROM json_each(?) AS r CROSS JOIN contacts AS c INDEXED BY {index}
         WHERE c.{side}_country = ?
           AND c.{side}_postal_norm >= r.value ->> 0 AND c.{side}_postal_norm < r.value ->> 1"
    )
}

fn selection_prefixes(postal: &PostalSelection) -> Option<&[PostalPrefix]> {
    match postal {
        PostalSelection::All => None,
        PostalSelection::Prefixes(prefixes) => Some(prefixes),
    }
}

/// Condition "this address side is in the region", written over columns
/// that every contact index carries (country and normalised postal code
/// of both sides), so a count can evaluate it on an index alone. The
/// ranges are one parameter, searched by `relais_in_ranges`, so the test
/// costs a binary search and the same text for any number of prefixes.
/// `IS` keeps an empty address (NULL country) false rather than NULL.
fn side_in_region(
    side: &str,
    country: &CountryCode,
    prefixes: Option<&[PostalPrefix]>,
    values: &mut Vec<Value>,
) -> String {
    match prefixes {
        None => {
            values.push(Value::Text(country.as_str().to_string()));
            format!("{side}_country IS ?")
        }
        Some(prefixes) => side_in_bounds(
            side,
            country,
            Value::Text(ranges::bounds_argument(prefixes)),
            values,
        ),
    }
}

/// `side_in_region` for bounds already joined by
/// `ranges::bounds_argument`, so that a loop over the prefixes joins the
/// whole selection's bounds once rather than once per prefix.
fn side_in_bounds(
    side: &str,
    country: &CountryCode,
    bounds: Value,
    values: &mut Vec<Value>,
) -> String {
    // The ranges come first: most entries of a scan fail them, and `AND`
    // then skips the country test.
    values.push(bounds);
    values.push(Value::Text(country.as_str().to_string()));
    format!(
        "({}({side}_postal_norm, ?) AND {side}_country IS ?)",
        ranges::IN_RANGES
    )
}

/// Counts the contacts with an address in the region without building
/// the set of their ids: the contacts whose perso address matches, plus
/// those whose pro address matches and perso address does not. The
/// prefixes never overlap (the parser merges them), so their ranges add up.
/// Every term reads ranges of one region index, which also carries the
/// other side's columns, so no table row is read.
fn count_matched(
    conn: &Connection,
    country: &CountryCode,
    prefixes: Option<&[PostalPrefix]>,
) -> StoreResult<u64> {
    let mut values = Vec::new();
    let (perso, pro) = match prefixes {
        None => {
            let country_text = Value::Text(country.as_str().to_string());
            values.extend([country_text.clone(), country_text.clone(), country_text]);
            (
                "SELECT count(*) FROM contacts WHERE perso_country = ?".to_string(),
                "SELECT count(*) FROM contacts WHERE pro_country = ? AND perso_country IS NOT ?"
                    .to_string(),
            )
        }
        Some(prefixes) => {
            let perso = range_join("perso", "count(*)", country, prefixes, &mut values);
            let pro = range_join("pro", "count(*)", country, prefixes, &mut values);
            let perso_in = side_in_region("perso", country, Some(prefixes), &mut values);
            (perso, format!("{pro} AND NOT {perso_in}"))
        }
    };
    count(conn, &format!("SELECT ({perso}) + ({pro})"), &values)
}

/// Counts of a region preview: the matched contacts, those of each prefix
/// alone, and, per owner condition requested, the matched contacts that
/// meet it.
struct RegionCounts {
    matched: u64,
    per_prefix: Vec<u64>,
    owned: Vec<u64>,
}

/// Builds SQL that is true when every column of `columns` is the target user.
fn owned_condition(columns: &[&str], target: i64, values: &mut Vec<Value>) -> String {
    let terms: Vec<String> = columns
        .iter()
        .map(|column| {
            values.push(Value::Integer(target));
            format!("{column} = ?")
        })
        .collect();
    format!("({})", terms.join(" AND "))
}

/// Names the owner index that leads with `column`.
fn owner_index(column: &str) -> &'static str {
    if column == owner_column(Role::Commercial) {
        "contacts_commercial_owner"
    } else {
        "contacts_technical_owner"
    }
}

/// Selections of up to this many prefixes are counted prefix by prefix.
/// For `51;02;2A` at a million contacts, that takes about 5 ms less than
/// the statements over every prefix at once, which read the pro ranges
/// twice. But each prefix parses the whole selection's bounds again, so
/// the cost grows with the square of their number: 1.8 s for 6,189 codes
/// at 200,000 contacts, against 0.16 s for the statements over all.
const PREFIX_BY_PREFIX: usize = 64;

/// Counts a selection of prefixes: the matched contacts, those of each
/// prefix, and per owner condition those the target owns.
fn count_prefixes(
    conn: &Connection,
    country: &CountryCode,
    prefixes: &[PostalPrefix],
    target: i64,
    owner_conditions: &[&[&str]],
) -> StoreResult<RegionCounts> {
    if prefixes.len() <= PREFIX_BY_PREFIX {
        count_each_prefix(conn, country, prefixes, target, owner_conditions)
    } else {
        count_all_prefixes(conn, country, prefixes, target, owner_conditions)
    }
}

/// `count_prefixes` for a short selection, reading each index range once,
/// in two statements per prefix. Per
/// prefix, the perso range of the region index gives the contacts whose
/// perso address is in the prefix, and the same range of each owner index
/// those the target owns. The pro range gives those whose pro address is
/// in the prefix and perso address is not, for the prefix alone and for
/// the whole selection. The prefixes never overlap (the parser merges
/// them), so the ranges add up, and no contact row is read.
fn count_each_prefix(
    conn: &Connection,
    country: &CountryCode,
    prefixes: &[PostalPrefix],
    target: i64,
    owner_conditions: &[&[&str]],
) -> StoreResult<RegionCounts> {
    let mut counts = RegionCounts {
        matched: 0,
        per_prefix: Vec::with_capacity(prefixes.len()),
        owned: vec![0; owner_conditions.len()],
    };
    let all_bounds = Value::Text(ranges::bounds_argument(prefixes));
    for prefix in prefixes {
        let range = [
            Value::Text(country.as_str().to_string()),
            Value::Text(prefix.as_str().to_string()),
            Value::Text(prefix.upper_bound()),
        ];

        // One scalar subquery per count: the perso range of the region
        // index, then, per owner condition, the perso range of the owner
        // index that leads with the condition's first column.
        let mut values: Vec<Value> = range.to_vec();
        let mut terms = vec![
            "(SELECT count(*) FROM contacts INDEXED BY contacts_perso_region
              WHERE perso_country = ? AND perso_postal_norm >= ? AND perso_postal_norm < ?)"
                .to_string(),
        ];
        for columns in owner_conditions {
            let condition = owned_condition(columns, target, &mut values);
            values.extend(range.iter().cloned());
            terms.push(format!(
                "(SELECT count(*) FROM contacts INDEXED BY {}
                  WHERE {condition}
                    AND perso_country = ? AND perso_postal_norm >= ? AND perso_postal_norm < ?)",
                owner_index(columns[0])
            ));
        }
        let perso: Vec<i64> = query_counts(
            conn,
            &format!("SELECT {}", terms.join(", ")),
            &values,
            1 + owner_conditions.len(),
        )?;

        let mut values = Vec::new();
        let perso_any = side_in_bounds("perso", country, all_bounds.clone(), &mut values);
        let perso_this = side_in_region(
            "perso",
            country,
            Some(std::slice::from_ref(prefix)),
            &mut values,
        );
        values.extend(range.iter().cloned());
        let pro: Vec<i64> = query_counts(
            conn,
            &format!(
                "SELECT count(*) FILTER (WHERE NOT {perso_any}),
                        count(*) FILTER (WHERE NOT {perso_this})
                 FROM contacts INDEXED BY contacts_pro_region
                 WHERE pro_country = ? AND pro_postal_norm >= ? AND pro_postal_norm < ?"
            ),
            &values,
            2,
        )?;

        counts.matched += (perso[0] + pro[0]) as u64;
        counts.per_prefix.push((perso[0] + pro[1]) as u64);
        for (owned, perso_owned) in counts.owned.iter_mut().zip(&perso[1..]) {
            *owned += *perso_owned as u64;
        }
    }

    for (owned, columns) in counts.owned.iter_mut().zip(owner_conditions) {
        *owned += owned_by_pro_alone(conn, country, prefixes, target, columns)?;
    }
    Ok(counts)
}

/// Counts the contacts that meet the owner condition `columns` and whose
/// pro address alone is in the selection, in one pass over the target's
/// entries of the owner index, which carries both addresses. The pro
/// ranges are tested first, because most entries fail them.
fn owned_by_pro_alone(
    conn: &Connection,
    country: &CountryCode,
    prefixes: &[PostalPrefix],
    target: i64,
    columns: &[&str],
) -> StoreResult<u64> {
    let mut values = Vec::new();
    let condition = owned_condition(columns, target, &mut values);
    let pro_in = side_in_region("pro", country, Some(prefixes), &mut values);
    let perso_in = side_in_region("perso", country, Some(prefixes), &mut values);
    count(
        conn,
        &format!(
            "SELECT count(*) FROM contacts INDEXED BY {}
             WHERE {condition} AND {pro_in} AND NOT {perso_in}",
            owner_index(columns[0])
        ),
        &values,
    )
}

/// `count_prefixes` for a long selection, reading each index range once, in
/// a fixed number of statements whatever the number of prefixes. The
/// prefixes never overlap (the parser merges them), so the ranges add up,
/// and no contact row is read.
///
/// - Per prefix, in one statement over the ranges: the perso range of the
///   region index counts the contacts whose perso address is in the
///   prefix. The pro range counts those whose pro address is in the
///   prefix and perso address is not.
/// - For the whole selection: the pro ranges give the contacts whose pro
///   address alone is in the selection, and the perso ranges of each owner
///   index those the target owns.
fn count_all_prefixes(
    conn: &Connection,
    country: &CountryCode,
    prefixes: &[PostalPrefix],
    target: i64,
    owner_conditions: &[&[&str]],
) -> StoreResult<RegionCounts> {
    // Correlated subqueries rather than a join grouped by prefix: each one
    // counts a range of an index, where a grouped join would sort every
    // matched entry by its prefix first.
    let mut statement = conn
        .prepare_cached(
            "SELECT r.key,
               (SELECT count(*) FROM contacts INDEXED BY contacts_perso_region
                WHERE perso_country = ?1
                  AND perso_postal_norm >= r.value ->> 0 AND perso_postal_norm < r.value ->> 1),
               (SELECT count(*) FROM contacts INDEXED BY contacts_pro_region
                WHERE pro_country = ?1
                  AND pro_postal_norm >= r.value ->> 0 AND pro_postal_norm < r.value ->> 1
                  AND NOT (perso_country IS ?1
                           AND perso_postal_norm >= r.value ->> 0
                           AND perso_postal_norm < r.value ->> 1))
             FROM json_each(?2) AS r",
        )
        .map_err(db_error)?;
    let mut per_prefix = vec![0u64; prefixes.len()];
    let mut perso_total = 0u64;
    let rows = statement
        .query_map(
            params![country.as_str(), ranges::ranges_json(prefixes)],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            },
        )
        .map_err(db_error)?;
    for row in rows {
        let (index, perso, pro) = row.map_err(db_error)?;
        let slot = per_prefix.get_mut(index as usize).ok_or_else(|| {
            StoreError::Database(format!("préfixe n° {index} absent de la sélection"))
        })?;
        *slot = (perso + pro) as u64;
        perso_total += perso as u64;
    }

    let mut values = Vec::new();
    let pro = range_join("pro", "count(*)", country, prefixes, &mut values);
    let perso_in = side_in_region("perso", country, Some(prefixes), &mut values);
    let pro_alone = count(conn, &format!("{pro} AND NOT {perso_in}"), &values)?;

    // Owned contacts with their perso address in the selection come from
    // the perso ranges of the owner index that leads with the condition's
    // first column, then those with only their pro address in it.
    let mut owned = Vec::with_capacity(owner_conditions.len());
    for columns in owner_conditions {
        let index = owner_index(columns[0]);
        let mut values = Vec::new();
        let perso = index_range_join(index, "perso", "count(*)", country, prefixes, &mut values);
        let condition = owned_condition(columns, target, &mut values);
        let by_perso = count(conn, &format!("{perso} AND {condition}"), &values)?;
        let by_pro = owned_by_pro_alone(conn, country, prefixes, target, columns)?;
        owned.push(by_perso + by_pro);
    }
    Ok(RegionCounts {
        matched: perso_total + pro_alone,
        per_prefix,
        owned,
    })
}

/// Counts a whole country: the matched contacts from the region indexes,
/// and each owner condition from the owner indexes, which carry both
/// countries, so only the target's entries are read.
fn count_country(
    conn: &Connection,
    country: &CountryCode,
    target: i64,
    owner_conditions: &[&[&str]],
) -> StoreResult<RegionCounts> {
    let matched = count_matched(conn, country, None)?;
    let mut owned = Vec::with_capacity(owner_conditions.len());
    for columns in owner_conditions {
        let mut values = Vec::new();
        let condition = owned_condition(columns, target, &mut values);
        let perso = side_in_region("perso", country, None, &mut values);
        let pro = side_in_region("pro", country, None, &mut values);
        owned.push(count(
            conn,
            &format!(
                "SELECT count(*) FROM contacts INDEXED BY {}
                 WHERE {condition} AND ({perso} OR {pro})",
                owner_index(columns[0])
            ),
            &values,
        )?);
    }
    Ok(RegionCounts {
        matched,
        per_prefix: Vec::new(),
        owned,
    })
}

fn query_counts(
    conn: &Connection,
    sql: &str,
    values: &[Value],
    columns: usize,
) -> StoreResult<Vec<i64>> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| {
            statement.query_row(params_from_iter(values.iter()), |row| {
                (0..columns).map(|index| row.get::<_, i64>(index)).collect()
            })
        })
        .map_err(db_error)
}

/// Counts what a region reassignment would do. A contact changes on a role
/// unless the target already owns it there, so it changes on some role
/// unless the target owns it on every role of the request.
fn region_outcome(
    conn: &Connection,
    request: &RegionReassignment,
    prefixes: Option<&[PostalPrefix]>,
) -> StoreResult<(Outcome, Vec<u64>)> {
    let roles = request.roles.roles();
    let every_role: Vec<&str> = roles.iter().map(|&role| owner_column(role)).collect();
    let mut owner_conditions: Vec<&[&str]> = every_role.chunks(1).collect();
    if roles.len() > 1 {
        owner_conditions.push(&every_role);
    }
    let counts = match prefixes {
        Some(prefixes) => count_prefixes(
            conn,
            &request.country,
            prefixes,
            request.to,
            &owner_conditions,
        )?,
        None => count_country(conn, &request.country, request.to, &owner_conditions)?,
    };

    let matched = counts.matched;
    let mut outcome = Outcome {
        matched,
        ..Outcome::default()
    };
    for (&role, owned) in roles.iter().zip(&counts.owned) {
        match role {
            Role::Commercial => outcome.commercial = matched - owned,
            Role::Technical => outcome.technical = matched - owned,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = if roles.len() == 1 {
        outcome.history_entries
    } else {
        matched - counts.owned[roles.len()]
    };
    outcome.already_owned = outcome.matched - outcome.changed;
    Ok((outcome, counts.per_prefix))
}

/// Rows of the id range the sample looks at first. Scanning rows in id
/// order stops at the first `SAMPLE_SIZE` matches, which come within a
/// few thousand rows for any region of a few hundred contacts or more. A
/// sparser region falls back to the union of index ranges, small then.
const SAMPLE_SCAN_ROWS: i64 = 10_000;

/// Reads the `SAMPLE_SIZE` matched contacts with the lowest ids.
fn region_sample(
    conn: &Connection,
    request: &RegionReassignment,
    prefixes: Option<&[PostalPrefix]>,
    changing: bool,
) -> StoreResult<Vec<crate::storage::Contact>> {
    let first_id: i64 = conn
        .query_row("SELECT coalesce(min(id), 0) FROM contacts", [], |row| {
            row.get(0)
        })
        .map_err(db_error)?;
    let mut values = Vec::new();
    let perso = side_in_region("perso", &request.country, prefixes, &mut values);
    let pro = side_in_region("pro", &request.country, prefixes, &mut values);
    let owner = owner_condition(request, changing, &mut values);
    values.push(Value::Integer(first_id));
    values.push(Value::Integer(first_id + SAMPLE_SCAN_ROWS));
    values.push(Value::Integer(SAMPLE_SIZE));
    let early = sample_query(
        conn,
        &format!(
            "SELECT id FROM contacts NOT INDEXED
             WHERE ({perso} OR {pro}) AND {owner} AND id >= ? AND id < ?
             ORDER BY id LIMIT ?"
        ),
        &values,
    )?;
    if early.len() as i64 == SAMPLE_SIZE {
        return Ok(early);
    }

    // Fewer matches than the sample size among the first ids: either the
    // region is sparse or the first ids are elsewhere, and either way the
    // whole set is needed to find the lowest ids.
    let mut values = Vec::new();
    let ids = region_ids(&request.country, prefixes, &mut values);
    let owner = owner_condition(request, changing, &mut values);
    values.push(Value::Integer(SAMPLE_SIZE));
    sample_query(
        conn,
        &format!("SELECT id FROM contacts WHERE id IN ({ids}) AND {owner} ORDER BY id LIMIT ?"),
        &values,
    )
}

/// SQL true for the contacts a region run would change, those that have
/// another owner than the target on a chosen role, when `changing` is set,
/// and for every contact otherwise.
fn owner_condition(
    request: &RegionReassignment,
    changing: bool,
    values: &mut Vec<Value>,
) -> String {
    if !changing {
        return "1".to_string();
    }
    let differs: Vec<String> = request
        .roles
        .roles()
        .iter()
        .map(|&role| {
            values.push(Value::Integer(request.to));
            format!("{} IS NOT ?", owner_column(role))
        })
        .collect();
    format!("({})", differs.join(" OR "))
}

fn sample_query(
    conn: &Connection,
    ids: &str,
    values: &[Value],
) -> StoreResult<Vec<crate::storage::Contact>> {
    let mut statement = conn
        .prepare(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS}
             WHERE c.id IN ({ids}) ORDER BY c.id"
        ))
        .map_err(db_error)?;
    statement
        .query_map(params_from_iter(values.iter()), rows::contact)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub fn preview_region(
    conn: &Connection,
    request: &RegionReassignment,
) -> StoreResult<RegionPreview> {
    let prefixes = selection_prefixes(&request.postal);
    let (outcome, counts) = region_outcome(conn, request, prefixes)?;
    let per_prefix = prefixes
        .unwrap_or_default()
        .iter()
        .zip(counts)
        .map(|(prefix, matched)| PrefixCount {
            prefix: prefix.as_str().to_string(),
            matched,
        })
        .collect();

    // The sample shows contacts the run would change, or, when it would
    // change none, contacts the target already has.
    let sample = if outcome.matched == 0 {
        Vec::new()
    } else {
        region_sample(conn, request, prefixes, outcome.changed > 0)?
    };

    Ok(RegionPreview {
        outcome,
        per_prefix,
        sample,
    })
}

pub fn apply_region(
    conn: &Connection,
    request: &RegionReassignment,
    run: &RunContext,
) -> StoreResult<Applied> {
    if let Some(applied) = batches::replay(conn, BatchKind::ReassignRegion, run)? {
        return Ok(applied);
    }
    check_active_target(conn, request.to)?;
    let batch = batches::insert(conn, BatchKind::ReassignRegion, run, None)?;
    // The write transaction holds the database's lock by now.
    let at = rows::timestamp(run.time_of_write());
    let prefixes = selection_prefixes(&request.postal);

    // A few départements are a few percent of the rows: a union of index
    // ranges finds them, and the update then visits exactly the rows the
    // history insert recorded. A whole country is nearly every row: one
    // pass over the table in rowid order is then about twice as fast as
    // collecting a million ids from two indexes and looking each one up.
    // Both forms run under the write lock, so they change the same rows.
    let mut values = Vec::new();
    let (scan, region) = match prefixes {
        Some(_) => (
            "",
            format!(
                "id IN ({})",
                region_ids(&request.country, prefixes, &mut values)
            ),
        ),
        None => {
            let perso = side_in_region("perso", &request.country, None, &mut values);
            let pro = side_in_region("pro", &request.country, None, &mut values);
            (" NOT INDEXED", format!("({perso} OR {pro})"))
        }
    };
    let matched = count_matched(conn, &request.country, prefixes)?;

    let mut outcome = Outcome {
        matched,
        ..Outcome::default()
    };
    for &role in request.roles.roles() {
        let column = owner_column(role);
        let mut insert_values = vec![
            Value::Text(at.clone()),
            Value::Text(HistoryKind::ReassignRegion.as_str().to_string()),
            Value::Text(role.as_str().to_string()),
            Value::Integer(request.to),
            Value::Integer(batch),
        ];
        insert_values.extend(values.iter().cloned());
        insert_values.push(Value::Integer(request.to));
        let written = conn
            .execute(
                &format!(
                    "INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
                     SELECT id, ?, ?, ?, {column}, ?, ? FROM contacts{scan}
                     WHERE {region} AND {column} IS NOT ?"
                ),
                params_from_iter(insert_values.iter()),
            )
            .map_err(db_error)? as u64;
        if prefixes.is_some() {
            conn.execute(
                &format!(
                    "UPDATE contacts SET {column} = ?1, updated_at = ?2
                     WHERE id IN (SELECT contact_id FROM history WHERE batch_id = ?3 AND role = ?4)"
                ),
                params![request.to, at, batch, role.as_str()],
            )
            .map_err(db_error)?;
        } else {
            let mut update_values = vec![Value::Integer(request.to), Value::Text(at.clone())];
            update_values.extend(values.iter().cloned());
            update_values.push(Value::Integer(request.to));
            conn.execute(
                &format!(
                    "UPDATE contacts{scan} SET {column} = ?, updated_at = ?
                     WHERE {region} AND {column} IS NOT ?"
                ),
                params_from_iter(update_values.iter()),
            )
            .map_err(db_error)?;
        }
        match role {
            Role::Commercial => outcome.commercial = written,
            Role::Technical => outcome.technical = written,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = if request.roles.roles().len() == 1 {
        outcome.history_entries
    } else {
        distinct_contacts(conn, batch)?
    };
    outcome.already_owned = outcome.matched - outcome.changed;

    batches::close(conn, batch, outcome)
}
