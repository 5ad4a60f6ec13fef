//! Reading contacts and their history on PostgreSQL.

use postgres::{Client, GenericClient};

use crate::domain::batch::BatchId;
use crate::domain::contact::ContactId;
use crate::domain::history::HistoryEntry;
use crate::storage::{
    Contact, ContactFilter, ContactPage, ExportSelection, Page, StoreError, search_pattern,
};

use super::params::Params;
use super::rows::{self, CONTACT_COLUMNS, CONTACT_JOINS, HISTORY_COLUMNS, HISTORY_JOINS};
use super::{Failure, PgResult};

/// Rows an export fetches per round trip: enough to keep the round trips
/// rare, few enough to keep memory flat whatever the number of contacts.
const EXPORT_FETCH_ROWS: i32 = 1_000;

/// Finds a contact by its Relais number when `key` is one, else by
/// external id. The number wins because screens and links show it.
pub fn find<C: GenericClient>(client: &mut C, key: &str) -> PgResult<Option<Contact>> {
    let key = key.trim();
    let by_external_id = |client: &mut C, external_id: &str| -> PgResult<Option<Contact>> {
        client
            .query_opt(
                &format!(
                    "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} WHERE c.external_id = $1"
                ),
                &[&external_id],
            )?
            .as_ref()
            .map(rows::contact)
            .transpose()
    };
    if let Some(external_id) = crate::storage::explicit_external_id(key)
        && let Some(contact) = by_external_id(client, external_id)?
    {
        return Ok(Some(contact));
    }
    if let Ok(id) = key.parse::<i64>() {
        let by_id = client.query_opt(
            &format!("SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} WHERE c.id = $1"),
            &[&id],
        )?;
        if let Some(row) = by_id {
            return rows::contact(&row).map(Some);
        }
    }
    by_external_id(client, key)
}

/// Builds the WHERE clause of a contact filter. Postal prefixes are byte
/// ranges on the "C"-collated normalised codes. Text search compares the
/// columns folded by `relais_fold` (migration 0004) with
/// [`search_pattern`], and the external id exactly.
fn filter_clause(filter: &ContactFilter, params: &mut Params) -> String {
    let mut clauses = Vec::new();

    if let Some(owner) = filter.owner {
        let owner = params.push(owner);
        clauses.push(format!(
            "(c.commercial_owner_id = {owner} OR c.technical_owner_id = {owner})"
        ));
    }

    let bounds: Vec<(String, String)> = filter
        .postal_prefixes
        .iter()
        .map(|prefix| {
            (
                params.push(prefix.as_str().to_string()),
                params.push(prefix.upper_bound()),
            )
        })
        .collect();
    let ranges = |side: &str| -> String {
        bounds
            .iter()
            .map(|(low, high)| {
                format!("(c.{side}_postal_norm >= {low} AND c.{side}_postal_norm < {high})")
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    match (&filter.country, bounds.is_empty()) {
        (Some(country), true) => {
            let country = params.push(country.clone());
            clauses.push(format!(
                "(c.perso_country = {country} OR c.pro_country = {country})"
            ));
        }
        (Some(country), false) => {
            let country = params.push(country.clone());
            clauses.push(format!(
                "((c.perso_country = {country} AND ({})) OR (c.pro_country = {country} AND ({})))",
                ranges("perso"),
                ranges("pro")
            ));
        }
        (None, false) => {
            clauses.push(format!("(({}) OR ({}))", ranges("perso"), ranges("pro")));
        }
        (None, true) => {}
    }

    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = params.push(search_pattern(text));
        let exact = params.push(text.to_string());
        clauses.push(format!(
            "(relais_fold(c.last_name) LIKE {pattern} ESCAPE '\\' \
             OR relais_fold(c.first_name) LIKE {pattern} ESCAPE '\\' \
             OR relais_fold(c.company) LIKE {pattern} ESCAPE '\\' \
             OR relais_fold(c.email) LIKE {pattern} ESCAPE '\\' \
             OR c.external_id = {exact})"
        ));
    }

    if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    }
}

pub fn list(
    client: &mut impl GenericClient,
    filter: &ContactFilter,
    page: Page,
) -> PgResult<ContactPage> {
    let mut params = Params::new();
    let clause = filter_clause(filter, &mut params);
    page_of(client, &clause, params, page)
}

fn page_of(
    client: &mut impl GenericClient,
    clause: &str,
    mut params: Params,
    page: Page,
) -> PgResult<ContactPage> {
    let total = client.query_one(
        &format!("SELECT count(*) FROM contacts c {clause}"),
        &params.refs(),
    )?;
    let total = rows::count(&total, 0)?;

    let limit = params.push(i64::from(page.limit));
    let offset = params.push(i64::from(page.offset));
    let contacts = client
        .query(
            &format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} {clause}
                 ORDER BY c.id LIMIT {limit} OFFSET {offset}"
            ),
            &params.refs(),
        )?
        .iter()
        .map(rows::contact)
        .collect::<PgResult<Vec<_>>>()?;
    Ok(ContactPage { total, contacts })
}

pub fn of_batch(
    client: &mut impl GenericClient,
    batch: BatchId,
    page: Page,
) -> PgResult<ContactPage> {
    let mut listed = ContactPage {
        total: 0,
        contacts: Vec::new(),
    };
    let mut offset = page.offset;
    for (clause, params) in batch_parts(client, batch)? {
        let room = page.limit - listed.contacts.len() as u32;
        let part = page_of(
            client,
            &clause,
            params,
            Page {
                limit: room,
                offset,
            },
        )?;
        offset = offset.saturating_sub(u32::try_from(part.total).unwrap_or(u32::MAX));
        listed.total += part.total;
        listed.contacts.extend(part.contacts);
    }
    Ok(listed)
}

/// Selects, as disjoint parts listed one after the other, the contacts a
/// batch wrote history for and, for an import, the contacts it created.
/// Two simple clauses keep each part on its index: with one `OR`, the
/// planner tests each contact against the history list, hashed only while
/// that list fits in `work_mem`.
fn batch_parts(client: &mut impl GenericClient, batch: BatchId) -> PgResult<Vec<(String, Params)>> {
    let created = super::batches::get(client, batch)?
        .as_ref()
        .and_then(crate::storage::created_ids);
    let mut history_params = Params::new();
    let history = format!(
        "WHERE c.id IN (SELECT contact_id FROM history WHERE batch_id = {})",
        history_params.push(batch)
    );
    let Some((first, last)) = created else {
        return Ok(vec![(history, history_params)]);
    };
    let history = format!(
        "{history} AND c.id NOT BETWEEN {} AND {}",
        history_params.push(first),
        history_params.push(last)
    );
    let mut created_params = Params::new();
    let created = format!(
        "WHERE c.id BETWEEN {} AND {}",
        created_params.push(first),
        created_params.push(last)
    );
    Ok(vec![(history, history_params), (created, created_params)])
}

/// Streams the selected contacts in id order through a portal, so that
/// memory stays flat whatever their number. The read-only transaction
/// gives the whole export one snapshot.
pub fn export(
    client: &mut Client,
    selection: &ExportSelection,
    sink: &mut dyn FnMut(&Contact) -> anyhow::Result<()>,
) -> PgResult<u64> {
    let mut transaction = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let parts = match selection {
        ExportSelection::All => vec![(String::new(), Params::new())],
        ExportSelection::Nothing => Vec::new(),
        ExportSelection::Batch(batch) => batch_parts(&mut transaction, *batch)?,
        ExportSelection::Filter(filter) => {
            let mut params = Params::new();
            let clause = filter_clause(filter, &mut params);
            vec![(clause, params)]
        }
    };
    let mut written = 0;
    for (clause, params) in parts {
        let portal = transaction.bind(
            &format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} {clause} ORDER BY c.id"
            ),
            &params.refs(),
        )?;
        loop {
            let rows = transaction.query_portal(&portal, EXPORT_FETCH_ROWS)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let contact = rows::contact(row)?;
                sink(&contact)
                    .map_err(|error| Failure::Store(StoreError::Database(format!("{error:#}"))))?;
                written += 1;
            }
        }
    }
    transaction.commit()?;
    Ok(written)
}

/// History of one contact, newest first.
pub fn history(client: &mut impl GenericClient, contact: ContactId) -> PgResult<Vec<HistoryEntry>> {
    client
        .query(
            &format!(
                "SELECT {HISTORY_COLUMNS} FROM history h {HISTORY_JOINS}
                 WHERE h.contact_id = $1 ORDER BY h.id DESC"
            ),
            &[&contact],
        )?
        .iter()
        .map(rows::history_entry)
        .collect()
}

pub fn count(client: &mut impl GenericClient) -> PgResult<u64> {
    let row = client.query_one("SELECT count(*) FROM contacts", &[])?;
    rows::count(&row, 0)
}
