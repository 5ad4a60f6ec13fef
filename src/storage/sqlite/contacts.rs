//! Reading contacts and their history on SQLite.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::domain::batch::BatchId;
use crate::domain::contact::ContactId;
use crate::domain::history::HistoryEntry;
use crate::domain::search::fold_for_search;
use crate::storage::{Contact, ContactFilter, ContactPage, ExportSelection, Page, StoreResult};

use super::db_error;
use super::rows::{self, CONTACT_COLUMNS, CONTACT_JOINS, HISTORY_COLUMNS, HISTORY_JOINS};

/// Finds a contact by its Relais number when `key` is one, else by
/// external id. The number wins because screens and links show it.
pub fn find(conn: &Connection, key: &str) -> StoreResult<Option<Contact>> {
    let key = key.trim();
    let by_external_id = |external_id: &str| -> StoreResult<Option<Contact>> {
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} WHERE c.external_id = ?1"
        );
        conn.query_row(&sql, [external_id], rows::contact)
            .optional()
            .map_err(db_error)
    };
    if let Some(external_id) = crate::storage::explicit_external_id(key)
        && let Some(contact) = by_external_id(external_id)?
    {
        return Ok(Some(contact));
    }
    if let Ok(id) = key.parse::<i64>()
        && let Some(contact) = conn
            .query_row(
                &format!(
                    "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} WHERE c.id = ?1"
                ),
                [id],
                rows::contact,
            )
            .optional()
            .map_err(db_error)?
    {
        return Ok(Some(contact));
    }
    by_external_id(key)
}

/// Builds the WHERE clause of a contact filter. Text search compares the
/// folded columns with the folded text through `relais_search_match`,
/// and the external id exactly.
fn filter_clause(filter: &ContactFilter) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();

    if let Some(owner) = filter.owner {
        clauses.push("(c.commercial_owner_id = ? OR c.technical_owner_id = ?)".to_string());
        values.push(Value::Integer(owner));
        values.push(Value::Integer(owner));
    }
    let ranges = |side: &str, values: &mut Vec<Value>| -> String {
        let parts: Vec<String> = filter
            .postal_prefixes
            .iter()
            .map(|prefix| {
                values.push(Value::Text(prefix.as_str().to_string()));
                values.push(Value::Text(prefix.upper_bound()));
                format!("(c.{side}_postal_norm >= ? AND c.{side}_postal_norm < ?)")
            })
            .collect();
        parts.join(" OR ")
    };
    match (&filter.country, filter.postal_prefixes.is_empty()) {
        (Some(country), true) => {
            clauses.push("(c.perso_country = ? OR c.pro_country = ?)".to_string());
            values.push(Value::Text(country.clone()));
            values.push(Value::Text(country.clone()));
        }
        (Some(country), false) => {
            values.push(Value::Text(country.clone()));
            let perso = ranges("perso", &mut values);
            values.push(Value::Text(country.clone()));
            let pro = ranges("pro", &mut values);
            clauses.push(format!(
                "((c.perso_country = ? AND ({perso})) OR (c.pro_country = ? AND ({pro})))"
            ));
        }
        (None, false) => {
            let perso = ranges("perso", &mut values);
            let pro = ranges("pro", &mut values);
            clauses.push(format!("(({perso}) OR ({pro}))"));
        }
        (None, true) => {}
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        clauses.push(
            "(relais_search_match(?, c.last_name, c.first_name, c.company, c.email) \
             OR c.external_id = ?)"
                .to_string(),
        );
        values.push(Value::Text(fold_for_search(text)));
        values.push(Value::Text(text.to_string()));
    }

    if clauses.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), values)
    }
}

pub fn list(conn: &Connection, filter: &ContactFilter, page: Page) -> StoreResult<ContactPage> {
    let (clause, values) = filter_clause(filter);
    page_of(conn, &clause, values, page)
}

fn page_of(
    conn: &Connection,
    clause: &str,
    values: Vec<Value>,
    page: Page,
) -> StoreResult<ContactPage> {
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM contacts c {clause}"),
            params_from_iter(values.iter()),
            |row| row.get(0),
        )
        .map_err(db_error)?;
    let mut paged = values;
    paged.push(Value::Integer(i64::from(page.limit)));
    paged.push(Value::Integer(i64::from(page.offset)));
    let mut statement = conn
        .prepare(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} {clause} ORDER BY c.id LIMIT ? OFFSET ?"
        ))
        .map_err(db_error)?;
    let contacts = statement
        .query_map(params_from_iter(paged.iter()), rows::contact)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(ContactPage {
        total: total as u64,
        contacts,
    })
}

pub fn of_batch(conn: &Connection, batch: BatchId, page: Page) -> StoreResult<ContactPage> {
    let mut listed = ContactPage {
        total: 0,
        contacts: Vec::new(),
    };
    let mut offset = page.offset;
    for (clause, values) in batch_parts(conn, batch)? {
        let room = page.limit - listed.contacts.len() as u32;
        let part = page_of(
            conn,
            &clause,
            values,
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
/// Two simple clauses keep each part on its index, where one `OR` would
/// sort every matching row for each page.
fn batch_parts(conn: &Connection, batch: BatchId) -> StoreResult<Vec<(String, Vec<Value>)>> {
    let history = "WHERE c.id IN (SELECT contact_id FROM history WHERE batch_id = ?)";
    let created = super::batches::get(conn, batch)?
        .as_ref()
        .and_then(crate::storage::created_ids);
    Ok(match created {
        None => vec![(history.to_string(), vec![Value::Integer(batch)])],
        Some((first, last)) => vec![
            (
                format!("{history} AND c.id NOT BETWEEN ? AND ?"),
                vec![
                    Value::Integer(batch),
                    Value::Integer(first),
                    Value::Integer(last),
                ],
            ),
            (
                "WHERE c.id BETWEEN ? AND ?".to_string(),
                vec![Value::Integer(first), Value::Integer(last)],
            ),
        ],
    })
}

pub fn export(
    conn: &Connection,
    selection: &ExportSelection,
    sink: &mut dyn FnMut(&Contact) -> anyhow::Result<()>,
) -> StoreResult<u64> {
    let parts = match selection {
        ExportSelection::All => vec![(String::new(), Vec::new())],
        ExportSelection::Nothing => Vec::new(),
        ExportSelection::Batch(batch) => batch_parts(conn, *batch)?,
        ExportSelection::Filter(filter) => vec![filter_clause(filter)],
    };
    let mut written = 0;
    for (clause, values) in parts {
        let mut statement = conn
            .prepare(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} {clause} ORDER BY c.id"
            ))
            .map_err(db_error)?;
        let mut rows = statement
            .query(params_from_iter(values.iter()))
            .map_err(db_error)?;
        while let Some(row) = rows.next().map_err(db_error)? {
            let contact = rows::contact(row).map_err(db_error)?;
            sink(&contact)
                .map_err(|error| crate::storage::StoreError::Database(format!("{error:#}")))?;
            written += 1;
        }
    }
    Ok(written)
}

/// History of one contact, newest first.
pub fn history(conn: &Connection, contact: ContactId) -> StoreResult<Vec<HistoryEntry>> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {HISTORY_COLUMNS} FROM history h {HISTORY_JOINS}
             WHERE h.contact_id = ?1 ORDER BY h.id DESC"
        ))
        .map_err(db_error)?;
    let entries = statement
        .query_map([contact], rows::history_entry)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(entries)
}

pub fn count(conn: &Connection) -> StoreResult<u64> {
    conn.query_row("SELECT count(*) FROM contacts", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(db_error)
}
