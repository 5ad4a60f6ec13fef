//! Both mass reassignments on PostgreSQL, set-based: a fixed number of
//! statements whatever the number of contacts.
//!
//! Each role is written by one statement that locks the rows it changes
//! (in id order), updates them and records, from the locked rows, the
//! owner each update replaced:
//!
//! ```sql
//! WITH target AS MATERIALIZED (SELECT id, owner … ORDER BY id FOR NO KEY UPDATE),
//!      changed AS (UPDATE contacts … FROM target … RETURNING id, target.owner)
//! INSERT INTO history … SELECT … FROM changed
//! ```
//!
//! Under READ COMMITTED, a row that another transaction is changing makes
//! the lock wait for that transaction. Once it commits, PostgreSQL checks
//! the criteria again against the row's newest version and returns that
//! version, so the previous owner recorded is the one really replaced.
//! `NO KEY UPDATE` is the lock the update itself takes, so locking first
//! adds no conflict beyond what the update would have.

use postgres::{GenericClient, Transaction};

use crate::domain::batch::{
    Applied, BatchId, BatchKind, Outcome, RegionReassignment, UserReassignment,
};
use crate::domain::contact::Role;
use crate::domain::country::CountryCode;
use crate::domain::history::HistoryKind;
use crate::domain::postal::{PostalPrefix, PostalSelection};
use crate::domain::user::UserId;
use crate::storage::{PrefixCount, RegionPreview, RunContext};

use super::PgResult;
use super::batches::{self, Start};
use super::params::Params;
use super::rows::{self, CONTACT_COLUMNS, CONTACT_JOINS};
use crate::storage::owner_column;

/// Number of matched contacts a region preview shows.
const SAMPLE_SIZE: i64 = 5;

fn count(client: &mut impl GenericClient, sql: &str, params: &Params) -> PgResult<u64> {
    let row = client.query_one(sql, &params.refs())?;
    rows::count(&row, 0)
}

/// SQL criteria on the alias `c` of `contacts`, written with the
/// placeholders of the statement being built: each statement binds exactly
/// the parameters it uses.
type Criteria<'a> = &'a dyn Fn(&mut Params) -> String;

fn set_role_count(outcome: &mut Outcome, role: Role, written: u64) {
    match role {
        Role::Commercial => outcome.commercial = written,
        Role::Technical => outcome.technical = written,
    }
}

/// Runs `work` in a read-only REPEATABLE READ transaction, so that the
/// several counts of one preview see the same snapshot and add up even
/// while batches commit. JIT compilation and parallel workers are off
/// because a preview's statements run for milliseconds, so compiling them
/// or starting workers would cost more than it saves. The whole-country
/// count at a million contacts has an estimated cost of 85,000, close to
/// the default `jit_above_cost` of 100,000 (PostgreSQL 15).
fn in_snapshot<T>(
    client: &mut impl GenericClient,
    work: impl FnOnce(&mut Transaction<'_>) -> PgResult<T>,
) -> PgResult<T> {
    let mut transaction = client.transaction()?;
    transaction.batch_execute(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
         SET LOCAL jit = off;
         SET LOCAL max_parallel_workers_per_gather = 0",
    )?;
    let value = work(&mut transaction)?;
    transaction.commit()?;
    Ok(value)
}

/// Counts the contacts `request.from` owns on each role and on both, in
/// index-only scans of the owner indexes: the commercial one, which
/// carries the technical owner, gives the first and the last count.
pub fn preview_user(
    client: &mut impl GenericClient,
    request: &UserReassignment,
) -> PgResult<Outcome> {
    let row = in_snapshot(client, |transaction| {
        Ok(transaction.query_one(
            "SELECT count(*),
                    (SELECT count(*) FROM contacts WHERE technical_owner_id = $1),
                    count(*) FILTER (WHERE technical_owner_id = $1)
             FROM contacts WHERE commercial_owner_id = $1",
            &[&request.from],
        )?)
    })?;
    let commercial = rows::count(&row, 0)?;
    let technical = rows::count(&row, 1)?;
    let both = rows::count(&row, 2)?;
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

/// Locks, in one pass in id order, the contacts the statements that follow
/// will change, so that two batches over the same contacts lock them in the
/// same order and rarely deadlock. Rows that start to match after this pass
/// are still locked by the statement that changes them.
fn lock_in_id_order(client: &mut impl GenericClient, criteria: Criteria<'_>) -> PgResult<u64> {
    let mut params = Params::new();
    let criteria = criteria(&mut params);
    count(
        client,
        &format!(
            "SELECT count(*) FROM (
                 SELECT c.id FROM contacts c WHERE {criteria}
                 ORDER BY c.id FOR NO KEY UPDATE OF c
             ) AS locked"
        ),
        &params,
    )
}

/// Owner change of one role: the new owner, and the kind and batch that
/// history records.
struct RoleChange<'a> {
    role: Role,
    kind: HistoryKind,
    to: UserId,
    batch: BatchId,
    run: &'a RunContext,
}

/// Changes one role's owner to `change.to` on the contacts `criteria`
/// selects that another user owns, and records one history entry per
/// change. Returns the number of entries written.
fn reassign_role(
    client: &mut impl GenericClient,
    criteria: Criteria<'_>,
    change: &RoleChange<'_>,
) -> PgResult<u64> {
    let mut params = Params::new();
    let criteria = criteria(&mut params);
    let to = params.push(change.to);
    let at = params.push(change.run.time_of_write());
    let batch = params.push(change.batch);
    let kind = params.push(change.kind.as_str());
    let role = params.push(change.role.as_str());
    let column = owner_column(change.role);
    let sql = format!(
        "WITH target AS MATERIALIZED (
             SELECT c.id, c.{column} AS previous_owner_id FROM contacts c
             WHERE ({criteria}) AND c.{column} IS DISTINCT FROM {to}::bigint
             ORDER BY c.id FOR NO KEY UPDATE OF c
         ), {write_time}, changed AS (
             UPDATE contacts c SET {column} = {to}::bigint, updated_at = w.at
             FROM target t, write_time w WHERE c.id = t.id
             RETURNING c.id, t.previous_owner_id, w.at
         )
         INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
         SELECT id, at, {kind}::text, {role}::text, previous_owner_id, {to}::bigint, {batch}::bigint
         FROM changed ORDER BY id",
        write_time = write_time_cte(&at)
    );
    Ok(client.execute(&sql, &params.refs())?)
}

/// CTE `write_time (at)`: the time of a statement's changes, read once the
/// CTE `target` has locked its rows, so that a run that waited for another
/// batch is dated after it. It is `at`, the application's clock when the
/// statement was sent (as every other time), plus how long the statement
/// has run, measured by the server's clock. A retried transaction sends
/// the statement again, so its time counts too.
pub(super) fn write_time_cte(at: &str) -> String {
    format!(
        "write_time AS MATERIALIZED (
             SELECT {at}::timestamptz + (clock_timestamp() - statement_timestamp()) AS at
             FROM (SELECT count(*) FROM target) AS locked
         )"
    )
}

/// Rejects a target user deactivated since the form was checked, and
/// holds a share lock on its row until the commit, so that a deactivation
/// waits for the run rather than leaving contacts to an inactive user.
fn lock_active_target(client: &mut impl GenericClient, to: UserId) -> PgResult<()> {
    let row = client.query_one(
        "SELECT active, first_name, last_name, initials FROM users WHERE id = $1 FOR SHARE",
        &[&to],
    )?;
    if row.try_get::<_, bool>(0)? {
        return Ok(());
    }
    let name = crate::domain::user::display_name(row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
    Err(super::Failure::Store(
        crate::storage::StoreError::inactive_target(&name),
    ))
}

pub fn apply_user(
    client: &mut impl GenericClient,
    request: &UserReassignment,
    run: &RunContext,
) -> PgResult<Applied> {
    let batch = match batches::start(client, BatchKind::Reassign, run, None)? {
        Start::Replayed(applied) => return Ok(applied),
        Start::Run(batch) => batch,
    };
    lock_active_target(client, request.to)?;

    lock_in_id_order(client, &|params| {
        let from = params.push(request.from);
        format!("c.commercial_owner_id = {from} OR c.technical_owner_id = {from}")
    })?;
    let mut outcome = Outcome::default();
    for role in Role::ALL {
        let criteria = |params: &mut Params| {
            format!("c.{} = {}", owner_column(role), params.push(request.from))
        };
        let change = RoleChange {
            role,
            kind: HistoryKind::Reassign,
            to: request.to,
            batch,
            run,
        };
        let written = reassign_role(client, &criteria, &change)?;
        set_role_count(&mut outcome, role, written);
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = batches::distinct_contacts(client, batch)?;
    outcome.matched = outcome.changed;

    batches::close(client, batch, outcome)
}

/// Number of prefixes up to which `region_ids` writes one union branch per
/// address kind and prefix. Planning such a union grows with its branches,
/// so a longer list joins the ranges as rows of two array parameters
/// instead, which keeps the statement the same for any number of them.
const UNION_PREFIXES: usize = 64;

/// `SELECT id FROM contacts …` for the contacts with an address in the
/// region, as a union of index range scans: one per address kind and
/// prefix. Each prefix is a byte range on the "C"-collated column, so no
/// user text reaches `LIKE`. Without prefixes (`*`) the country alone
/// selects, which includes addresses without a postal code.
fn region_ids(
    country: &CountryCode,
    prefixes: Option<&[PostalPrefix]>,
    params: &mut Params,
) -> String {
    let country = params.push(country.as_str().to_string());
    if let Some(prefixes) = prefixes.filter(|prefixes| prefixes.len() > UNION_PREFIXES) {
        let lows = params.push(lows(prefixes));
        let highs = params.push(highs(prefixes));
        return ["perso", "pro"]
            .iter()
            .map(|side| {
                format!(
                    "SELECT c.id FROM unnest({lows}::text[], {highs}::text[]) AS r (low, high)
                     JOIN contacts AS c ON c.{side}_country = {country}
                      AND c.{side}_postal_norm >= r.low COLLATE \"C\"
                      AND c.{side}_postal_norm < r.high COLLATE \"C\""
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ");
    }
    let bounds: Option<Vec<(String, String)>> = prefixes.map(|prefixes| {
        prefixes
            .iter()
            .map(|prefix| {
                (
                    params.push(prefix.as_str().to_string()),
                    params.push(prefix.upper_bound()),
                )
            })
            .collect()
    });
    let mut parts = Vec::new();
    for side in ["perso", "pro"] {
        match &bounds {
            None => parts.push(format!(
                "SELECT id FROM contacts WHERE {side}_country = {country}"
            )),
            Some(bounds) => {
                for (low, high) in bounds {
                    parts.push(format!(
                        "SELECT id FROM contacts WHERE {side}_country = {country} \
                         AND {side}_postal_norm >= {low} AND {side}_postal_norm < {high}"
                    ));
                }
            }
        }
    }
    parts.join(" UNION ")
}

/// Lists the low bound of each prefix, in order.
fn lows(prefixes: &[PostalPrefix]) -> Vec<String> {
    prefixes
        .iter()
        .map(|prefix| prefix.as_str().to_string())
        .collect()
}

/// Lists the high bound of each prefix, in order.
fn highs(prefixes: &[PostalPrefix]) -> Vec<String> {
    prefixes.iter().map(PostalPrefix::upper_bound).collect()
}

fn selection_prefixes(postal: &PostalSelection) -> Option<&[PostalPrefix]> {
    match postal {
        PostalSelection::All => None,
        PostalSelection::Prefixes(prefixes) => Some(prefixes),
    }
}

/// Number of prefixes up to which the region test is a tree of `CASE`s
/// with two parameters per prefix. A longer list binds its bounds as one
/// array and searches it with `width_bucket`: PostgreSQL takes at most
/// 65,535 parameters per statement, which a list of 32,767 prefixes
/// would pass.
const CASE_TREE_PREFIXES: usize = 1_000;

/// Binding of a region selection's postal ranges in one statement.
enum RangeBounds {
    /// `*`: the country alone selects, including addresses without a
    /// postal code.
    None,
    /// One placeholder per bound: low, high, low, high…
    Each(Vec<String>),
    /// One `text[]` placeholder containing every bound in that order.
    Array(String),
}

/// Placeholders of a region selection in one statement: the country, and
/// the bounds of each postal prefix.
struct RegionPlaceholders {
    country: String,
    ranges: RangeBounds,
}

impl RegionPlaceholders {
    /// Binds the country and the bounds of `prefixes`, which must be sorted
    /// with none starting with another, as the postal field parser returns
    /// them: their ranges are then disjoint and in ascending order.
    fn bind(
        country: &CountryCode,
        prefixes: Option<&[PostalPrefix]>,
        params: &mut Params,
    ) -> RegionPlaceholders {
        debug_assert!(prefixes.is_none_or(|prefixes| {
            prefixes
                .windows(2)
                .all(|pair| pair[0].upper_bound().as_str() <= pair[1].as_str())
        }));
        let country = params.push(country.as_str().to_string());
        let bounds = |prefixes: &[PostalPrefix]| -> Vec<String> {
            prefixes
                .iter()
                .flat_map(|prefix| [prefix.as_str().to_string(), prefix.upper_bound()])
                .collect()
        };
        let ranges = match prefixes {
            None => RangeBounds::None,
            Some(prefixes) if prefixes.len() > CASE_TREE_PREFIXES => {
                RangeBounds::Array(params.push(bounds(prefixes)))
            }
            Some(prefixes) => RangeBounds::Each(
                bounds(prefixes)
                    .into_iter()
                    .map(|bound| params.push(bound))
                    .collect(),
            ),
        };
        RegionPlaceholders { country, ranges }
    }

    /// Condition "this address side is in the region". It is NULL, not
    /// false, for an empty address (NULL country), so negations are
    /// written `IS NOT TRUE`.
    ///
    /// The previews evaluate it on every entry of the pro ranges. It is
    /// therefore a binary search over the sorted range bounds, which makes
    /// a few comparisons where an `OR` of the ranges makes up to two per
    /// prefix: nested `CASE`s, or `width_bucket` over an array for a long
    /// list. Either counts the bounds at or below the value, which is odd
    /// exactly inside a range.
    fn side_in_region(&self, side: &str) -> String {
        let country = &self.country;
        let column = format!("{side}_postal_norm");
        match &self.ranges {
            RangeBounds::None => format!("{side}_country = {country}"),
            RangeBounds::Each(bounds) => {
                let bounds: Vec<&str> = bounds.iter().map(String::as_str).collect();
                let inside = odd_bound_count(&column, &bounds, 0, bounds.len());
                format!("({inside} AND {side}_country = {country})")
            }
            RangeBounds::Array(bounds) => format!(
                "(width_bucket({column} COLLATE \"C\", {bounds}::text[]) % 2 = 1 \
                 AND {side}_country = {country})"
            ),
        }
    }
}

/// Condition "`column` lies in one of the ranges whose sorted bounds
/// (low, high, low, high…) are `bounds`", written as a binary search over
/// the number of bounds at or below the value: it lies in a range exactly
/// when that number is odd. Positions `first` to `last` (inclusive) are
/// the numbers still possible. A high bound equal to the next low bound
/// (`200` then `201` for Corsica) keeps the rule true.
fn odd_bound_count(column: &str, bounds: &[&str], first: usize, last: usize) -> String {
    if first == last {
        return if first % 2 == 1 { "true" } else { "false" }.to_string();
    }
    // The value has at least `middle` bounds at or below it exactly when
    // it is at or above the bound at index `middle - 1`.
    let middle = (first + last).div_ceil(2);
    format!(
        "CASE WHEN {column} < {} THEN {} ELSE {} END",
        bounds[middle - 1],
        odd_bound_count(column, bounds, first, middle - 1),
        odd_bound_count(column, bounds, middle, last)
    )
}

/// Counts of one part of the region (one prefix, or the whole country),
/// read from one row of the counting statement.
struct PartCounts {
    /// Contacts whose perso address is in the part.
    perso: u64,
    /// Contacts whose pro address is in the part.
    pro: u64,
    /// Of those, the ones whose perso address is also in the region.
    pro_and_perso_in_region: u64,
    /// Of those, the ones whose perso address is also in the part.
    pro_and_perso_in_part: u64,
    /// Per owner condition, the matched contacts it holds for, counted
    /// once: perso address in the part, or pro address in the part and
    /// perso address outside the region.
    owned: Vec<u64>,
}

/// Reads the counts of every part of the region in one statement of
/// index-only scans, without building the set of matched ids.
///
/// A contact is matched when its perso address is in the region, or its
/// pro address is and its perso address is not. The prefixes never
/// overlap (the parser merges them), so the parts' counts add up. The
/// perso ranges are pure counts of the perso region index. The pro ranges
/// are read once on the pro region index, which carries the perso address
/// and both owners, and also give the owned contacts matched by their pro
/// address. The owned contacts matched by their perso address are the
/// target's entries in the perso ranges of the owner index it leads.
///
/// The parts are rows, one per prefix range taken from two array
/// parameters, or one for the whole country, and each count is a lateral
/// subquery over the part's range. The statement thus contains the region
/// test once, whatever the number of prefixes.
fn count_parts(
    client: &mut impl GenericClient,
    request: &RegionReassignment,
    prefixes: Option<&[PostalPrefix]>,
    owner_conditions: &[String],
    params: &mut Params,
) -> PgResult<Vec<PartCounts>> {
    let region = RegionPlaceholders::bind(&request.country, prefixes, params);
    let perso_in_region = region.side_in_region("perso");
    let country = &region.country;
    let in_part = |side: &str| {
        format!(
            "({side}_postal_norm >= r.low COLLATE \"C\" AND {side}_postal_norm < r.high COLLATE \"C\" \
         AND {side}_country = {country})"
        )
    };
    let (parts, perso, pro, several) = match prefixes {
        Some(prefixes) => {
            let lows = params.push(lows(prefixes));
            let highs = params.push(highs(prefixes));
            (
                format!(
                    "unnest({lows}::text[], {highs}::text[]) WITH ORDINALITY AS r (low, high, part)"
                ),
                in_part("perso"),
                in_part("pro"),
                prefixes.len() > 1,
            )
        }
        None => (
            "(VALUES (1::bigint)) AS r (part)".to_string(),
            format!("perso_country = {country}"),
            format!("pro_country = {country}"),
            false,
        ),
    };

    let mut columns = vec![
        "r.part".to_string(),
        format!("(SELECT count(*) FROM contacts WHERE {perso})"),
        "pro.total".to_string(),
        "pro.perso_in_region".to_string(),
        "pro.perso_in_part".to_string(),
    ];
    // A region of one part (`*`, or a single prefix) has the same count
    // for the part as for the region.
    let perso_in_part = if several {
        format!("count(*) FILTER (WHERE {perso})")
    } else {
        "0".to_string()
    };
    let mut pro_counts = vec![
        "count(*) AS total".to_string(),
        format!("count(*) FILTER (WHERE {perso_in_region}) AS perso_in_region"),
        format!("{perso_in_part} AS perso_in_part"),
    ];
    for (condition, owner) in owner_conditions.iter().enumerate() {
        columns.push(format!(
            "(SELECT count(*) FROM contacts WHERE {owner} AND {perso})"
        ));
        columns.push(format!(
            "pro.owned_{condition} - pro.owned_in_region_{condition}"
        ));
        // `AND` stops at a false owner test, so the region test runs only
        // on the target's few entries.
        pro_counts.push(format!(
            "count(*) FILTER (WHERE {owner}) AS owned_{condition}"
        ));
        pro_counts.push(format!(
            "count(*) FILTER (WHERE {owner} AND {perso_in_region}) AS owned_in_region_{condition}"
        ));
    }
    let sql = format!(
        "SELECT {} FROM {parts}
         CROSS JOIN LATERAL (SELECT {} FROM contacts WHERE {pro}) AS pro
         ORDER BY r.part",
        columns.join(", "),
        pro_counts.join(", ")
    );

    client
        .query(&sql, &params.refs())?
        .iter()
        .map(|row| {
            let owned = (0..owner_conditions.len())
                .map(
                    |index| Ok(rows::count(row, 5 + 2 * index)? + rows::count(row, 6 + 2 * index)?),
                )
                .collect::<PgResult<Vec<u64>>>()?;
            let pro_and_perso_in_region = rows::count(row, 3)?;
            let pro_and_perso_in_part = if several {
                rows::count(row, 4)?
            } else {
                pro_and_perso_in_region
            };
            Ok(PartCounts {
                perso: rows::count(row, 1)?,
                pro: rows::count(row, 2)?,
                pro_and_perso_in_region,
                pro_and_perso_in_part,
                owned,
            })
        })
        .collect()
}

/// Counts what a region reassignment would do, from the current data, and
/// the matched contacts of each prefix alone.
///
/// A contact changes on a role unless the target already owns it there,
/// so each role's count is `matched` minus the matched contacts the target
/// owns on that role. With both roles, a contact changes unless the target
/// owns it on both.
fn region_counts(
    client: &mut impl GenericClient,
    request: &RegionReassignment,
    prefixes: Option<&[PostalPrefix]>,
) -> PgResult<(Outcome, Vec<u64>)> {
    let mut params = Params::new();
    let to = params.push(request.to);
    let roles = request.roles.roles();
    let mut owner_conditions: Vec<String> = roles
        .iter()
        .map(|&role| format!("{} = {to}", owner_column(role)))
        .collect();
    if roles.len() > 1 {
        owner_conditions.push(format!(
            "commercial_owner_id = {to} AND technical_owner_id = {to}"
        ));
    }
    let parts = count_parts(client, request, prefixes, &owner_conditions, &mut params)?;

    let matched: u64 = parts
        .iter()
        .map(|part| part.perso + part.pro - part.pro_and_perso_in_region)
        .sum();
    let per_prefix = parts
        .iter()
        .map(|part| part.perso + part.pro - part.pro_and_perso_in_part)
        .collect();
    let owned = |condition: usize| -> u64 { parts.iter().map(|part| part.owned[condition]).sum() };

    let mut outcome = Outcome {
        matched,
        ..Outcome::default()
    };
    for (condition, &role) in roles.iter().enumerate() {
        set_role_count(&mut outcome, role, matched - owned(condition));
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = if roles.len() == 1 {
        outcome.history_entries
    } else {
        matched - owned(roles.len())
    };
    outcome.already_owned = outcome.matched - outcome.changed;
    Ok((outcome, per_prefix))
}

/// Rows of the id range the sample looks at first. Reading rows in id
/// order stops at the first `SAMPLE_SIZE` matches, which come within a
/// few thousand rows for any region of a few hundred contacts or more. A
/// sparser region falls back to the union of index ranges, small then.
const SAMPLE_SCAN_ROWS: i64 = 10_000;

/// Reads the `SAMPLE_SIZE` matched contacts with the lowest ids.
fn region_sample(
    client: &mut impl GenericClient,
    request: &RegionReassignment,
    prefixes: Option<&[PostalPrefix]>,
    changing: bool,
) -> PgResult<Vec<crate::storage::Contact>> {
    let first_id: i64 = client
        .query_one("SELECT coalesce(min(id), 0) FROM contacts", &[])?
        .try_get(0)?;
    let mut params = Params::new();
    let region = RegionPlaceholders::bind(&request.country, prefixes, &mut params);
    let perso = region.side_in_region("perso");
    let pro = region.side_in_region("pro");
    let owner = owner_condition(request, changing, &mut params);
    let low = params.push(first_id);
    let high = params.push(first_id.saturating_add(SAMPLE_SCAN_ROWS));
    let limit = params.push(SAMPLE_SIZE);
    let early = sample_query(
        client,
        &format!(
            "SELECT id FROM contacts c
             WHERE ({perso} OR {pro}) AND {owner} AND id >= {low} AND id < {high}
             ORDER BY id LIMIT {limit}"
        ),
        &params,
    )?;
    if early.len() as i64 == SAMPLE_SIZE {
        return Ok(early);
    }

    // Fewer matches than the sample size among the first ids: either the
    // region is sparse or the first ids are elsewhere, and either way the
    // whole set is needed to find the lowest ids.
    let mut params = Params::new();
    let ids = region_ids(&request.country, prefixes, &mut params);
    let owner = owner_condition(request, changing, &mut params);
    let limit = params.push(SAMPLE_SIZE);
    sample_query(
        client,
        &format!(
            "SELECT c.id FROM contacts c
             WHERE c.id IN ({ids}) AND {owner} ORDER BY c.id LIMIT {limit}"
        ),
        &params,
    )
}

/// SQL true for the contacts a region run would change, those that have
/// another owner than the target on a chosen role, when `changing` is set,
/// and for every contact otherwise.
fn owner_condition(request: &RegionReassignment, changing: bool, params: &mut Params) -> String {
    if !changing {
        return "true".to_string();
    }
    let to = params.push(request.to);
    let differs: Vec<String> = request
        .roles
        .roles()
        .iter()
        .map(|&role| format!("c.{} IS DISTINCT FROM {to}::bigint", owner_column(role)))
        .collect();
    format!("({})", differs.join(" OR "))
}

/// Reads the contacts whose ids `ids` selects, in id order.
fn sample_query(
    client: &mut impl GenericClient,
    ids: &str,
    params: &Params,
) -> PgResult<Vec<crate::storage::Contact>> {
    client
        .query(
            &format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS}
                 WHERE c.id IN ({ids}) ORDER BY c.id"
            ),
            &params.refs(),
        )?
        .iter()
        .map(rows::contact)
        .collect()
}

pub fn preview_region(
    client: &mut impl GenericClient,
    request: &RegionReassignment,
) -> PgResult<RegionPreview> {
    let prefixes = selection_prefixes(&request.postal);
    in_snapshot(client, |transaction| {
        let (outcome, counts) = region_counts(transaction, request, prefixes)?;
        let per_prefix = prefixes
            .unwrap_or_default()
            .iter()
            .zip(counts)
            .map(|(prefix, matched)| PrefixCount {
                prefix: prefix.as_str().to_string(),
                matched,
            })
            .collect();
        // The sample shows contacts the run would change, or, when it
        // would change none, contacts the target already has.
        let sample = if outcome.matched == 0 {
            Vec::new()
        } else {
            region_sample(transaction, request, prefixes, outcome.changed > 0)?
        };
        Ok(RegionPreview {
            outcome,
            per_prefix,
            sample,
        })
    })
}

pub fn apply_region(
    client: &mut impl GenericClient,
    request: &RegionReassignment,
    run: &RunContext,
) -> PgResult<Applied> {
    let batch = match batches::start(client, BatchKind::ReassignRegion, run, None)? {
        Start::Replayed(applied) => return Ok(applied),
        Start::Run(batch) => batch,
    };
    lock_active_target(client, request.to)?;
    let prefixes = selection_prefixes(&request.postal);
    let in_region = |params: &mut Params| {
        format!(
            "c.id IN ({})",
            region_ids(&request.country, prefixes, params)
        )
    };
    let roles = request.roles.roles();

    // The statements that change owners leave out the contacts the target
    // already has. A transaction taking some of them from the target would
    // not make those statements wait, so the run, committing after it,
    // would leave them with another owner and count them as already owned.
    // Locking them first waits for such a transaction. The statements
    // below each read a newer snapshot, and see where it left them. With
    // both roles, this pass locks every contact of the region, in id
    // order, so that the two role statements rarely deadlock with another
    // batch.
    // NOTE: a contact that a concurrent import moves into the region is
    // not locked here. It is changed only if that import commits before
    // the role statements start.
    lock_in_id_order(client, &|params| match roles {
        // Written on the address columns rather than as `in_region`, so
        // that the planner may start from the owner index. It then tests
        // the addresses of the target's contacts (5 % of the base in the
        // demo data) instead of reading every row of the region by id.
        [role] => {
            let region = RegionPlaceholders::bind(&request.country, prefixes, params);
            let (perso, pro) = (region.side_in_region("perso"), region.side_in_region("pro"));
            let to = params.push(request.to);
            format!("c.{} = {to} AND ({perso} OR {pro})", owner_column(*role))
        }
        _ => in_region(params),
    })?;
    let mut outcome = Outcome::default();
    for &role in roles {
        let change = RoleChange {
            role,
            kind: HistoryKind::ReassignRegion,
            to: request.to,
            batch,
            run,
        };
        let written = reassign_role(client, &in_region, &change)?;
        set_role_count(&mut outcome, role, written);
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = if roles.len() == 1 {
        outcome.history_entries
    } else {
        batches::distinct_contacts(client, batch)?
    };

    // Counted after the changes: every changed contact stays in the region,
    // since this transaction holds its row lock and contacts are never
    // deleted, so `matched >= changed` even when another transaction adds
    // contacts meanwhile.
    let mut params = Params::new();
    let ids = region_ids(&request.country, prefixes, &mut params);
    outcome.matched = count(
        client,
        &format!("SELECT count(*) FROM ({ids}) AS region"),
        &params,
    )?;
    outcome.already_owned = outcome.matched.saturating_sub(outcome.changed);

    batches::close(client, batch, outcome)
}
