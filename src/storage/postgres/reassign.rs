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

use postgres::GenericClient;

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

pub fn preview_user(
    client: &mut impl GenericClient,
    request: &UserReassignment,
) -> PgResult<Outcome> {
    let row = client.query_one(
        "SELECT count(*) FILTER (WHERE commercial_owner_id = $1),
                count(*) FILTER (WHERE technical_owner_id = $1),
                count(*)
         FROM contacts WHERE commercial_owner_id = $1 OR technical_owner_id = $1",
        &[&request.from],
    )?;
    let commercial = rows::count(&row, 0)?;
    let technical = rows::count(&row, 1)?;
    let changed = rows::count(&row, 2)?;
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
    let at = params.push(change.run.now);
    let batch = params.push(change.batch);
    let kind = params.push(change.kind.as_str());
    let role = params.push(change.role.as_str());
    let column = owner_column(change.role);
    let sql = format!(
        "WITH target AS MATERIALIZED (
             SELECT c.id, c.{column} AS previous_owner_id FROM contacts c
             WHERE ({criteria}) AND c.{column} IS DISTINCT FROM {to}::bigint
             ORDER BY c.id FOR NO KEY UPDATE OF c
         ), changed AS (
             UPDATE contacts c SET {column} = {to}::bigint, updated_at = {at}::timestamptz
             FROM target t WHERE c.id = t.id
             RETURNING c.id, t.previous_owner_id
         )
         INSERT INTO history (contact_id, at, kind, role, previous_owner_id, new_owner_id, batch_id)
         SELECT id, {at}::timestamptz, {kind}::text, {role}::text, previous_owner_id, {to}::bigint, {batch}::bigint
         FROM changed ORDER BY id"
    );
    Ok(client.execute(&sql, &params.refs())?)
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

fn selection_prefixes(postal: &PostalSelection) -> Option<&[PostalPrefix]> {
    match postal {
        PostalSelection::All => None,
        PostalSelection::Prefixes(prefixes) => Some(prefixes),
    }
}

/// Counts what a region reassignment would do, from the current data.
fn region_outcome(
    client: &mut impl GenericClient,
    request: &RegionReassignment,
    prefixes: Option<&[PostalPrefix]>,
) -> PgResult<Outcome> {
    let mut params = Params::new();
    let ids = region_ids(&request.country, prefixes, &mut params);
    let matched = count(
        client,
        &format!("SELECT count(*) FROM ({ids}) AS region"),
        &params,
    )?;

    let to = params.push(request.to);
    let differs = |role: Role| format!("{} IS DISTINCT FROM {to}", owner_column(role));
    let mut outcome = Outcome {
        matched,
        ..Outcome::default()
    };
    for &role in request.roles.roles() {
        let changed = count(
            client,
            &format!(
                "SELECT count(*) FROM contacts WHERE id IN ({ids}) AND {}",
                differs(role)
            ),
            &params,
        )?;
        set_role_count(&mut outcome, role, changed);
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = if request.roles.roles().len() == 1 {
        outcome.history_entries
    } else {
        let any: Vec<String> = request
            .roles
            .roles()
            .iter()
            .map(|&role| differs(role))
            .collect();
        count(
            client,
            &format!(
                "SELECT count(*) FROM contacts WHERE id IN ({ids}) AND ({})",
                any.join(" OR ")
            ),
            &params,
        )?
    };
    outcome.already_owned = outcome.matched - outcome.changed;
    Ok(outcome)
}

pub fn preview_region(
    client: &mut impl GenericClient,
    request: &RegionReassignment,
) -> PgResult<RegionPreview> {
    let prefixes = selection_prefixes(&request.postal);
    let outcome = region_outcome(client, request, prefixes)?;

    let mut per_prefix = Vec::new();
    if let Some(prefixes) = prefixes {
        for prefix in prefixes {
            let mut params = Params::new();
            let ids = region_ids(
                &request.country,
                Some(std::slice::from_ref(prefix)),
                &mut params,
            );
            per_prefix.push(PrefixCount {
                prefix: prefix.as_str().to_string(),
                matched: count(
                    client,
                    &format!("SELECT count(*) FROM ({ids}) AS region"),
                    &params,
                )?,
            });
        }
    }

    let mut params = Params::new();
    let ids = region_ids(&request.country, prefixes, &mut params);
    let limit = params.push(SAMPLE_SIZE);
    let sample = client
        .query(
            &format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS}
                 WHERE c.id IN ({ids}) ORDER BY c.id LIMIT {limit}"
            ),
            &params.refs(),
        )?
        .iter()
        .map(rows::contact)
        .collect::<PgResult<Vec<_>>>()?;

    Ok(RegionPreview {
        outcome,
        per_prefix,
        sample,
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
    let prefixes = selection_prefixes(&request.postal);
    let in_region = |params: &mut Params| {
        format!(
            "c.id IN ({})",
            region_ids(&request.country, prefixes, params)
        )
    };
    let roles = request.roles.roles();

    if roles.len() > 1 {
        lock_in_id_order(client, &|params| {
            let region = in_region(params);
            let to = params.push(request.to);
            let differs: Vec<String> = roles
                .iter()
                .map(|&role| format!("c.{} IS DISTINCT FROM {to}", owner_column(role)))
                .collect();
            format!("{region} AND ({})", differs.join(" OR "))
        })?;
    }
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
