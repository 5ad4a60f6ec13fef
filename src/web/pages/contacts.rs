//! The contact list with its filters, and the contact page with both
//! addresses, both owners and the history.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::domain::country::CountryCode;
use crate::domain::history::format_paris_time;
use crate::domain::user::User;
use crate::reference;
use crate::service::contact_query::{ContactQuery, build_filter, export_selection};
use crate::storage::{Address, Contact, ContactPage, Page};
use crate::web::auth::session::AdminUser;
use crate::web::auth::session::CurrentUser;
use crate::web::csv_stream;
use crate::web::error::AppError;
use crate::web::labels::{self, count, plural};
use crate::web::state::AppState;

use super::error_page::PageError;
use super::extract::QueryData;
use super::layout::Layout;
use super::paging::{PageQuery, RequestedPage, page_count};
use super::reassign::field_error;
use super::render;
use super::views::{ContactRow, contact_rows};

const PAGE_SIZE: u32 = 50;

pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ContactsPage {
    layout: Layout,
    query: ContactQuery,
    owners: Vec<SelectOption>,
    departements: Vec<SelectOption>,
    owner_error: Option<String>,
    country_error: Option<String>,
    postal_error: Option<String>,
    departement_error: Option<String>,
    total: String,
    rows: Vec<ContactRow>,
    page: u32,
    pages: u32,
    previous_href: Option<String>,
    next_href: Option<String>,
    /// Download of the whole filtered list, for administrators.
    export_href: Option<String>,
}

fn owner_options(users: &[User], selected: &str) -> Vec<SelectOption> {
    users
        .iter()
        .map(|user| SelectOption {
            value: user.initials.clone(),
            label: if user.active {
                user.display_name()
            } else {
                format!("{} — compte désactivé", user.display_name())
            },
            selected: user.initials.eq_ignore_ascii_case(selected.trim()),
        })
        .collect()
}

/// Lists the départements that can match an address: the TAAF, which have
/// no postal code, are left out.
fn departement_options(selected: &str) -> Vec<SelectOption> {
    let mut listed: Vec<&reference::Departement> = reference::departements()
        .iter()
        .filter(|departement| !departement.selection_prefixes().is_empty())
        .collect();
    // In code order, Corsica where département 20 was.
    listed.sort_by_key(|departement| match departement.code {
        "2A" => "20A",
        "2B" => "20B",
        code => code,
    });
    listed
        .into_iter()
        .map(|departement| SelectOption {
            value: departement.code.to_string(),
            label: format!("{} — {}", departement.code, departement.name),
            selected: departement.code.eq_ignore_ascii_case(selected.trim()),
        })
        .collect()
}

/// Lists the filters that are filled in, as query pairs.
fn filled_filters(query: &ContactQuery) -> Vec<(&'static str, String)> {
    let pairs = [
        ("owner", query.owner.as_str()),
        ("country", query.country.as_str()),
        ("postal", query.postal.as_str()),
        ("departement", query.departement.as_str()),
        ("q", query.q.as_str()),
    ];
    pairs
        .into_iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| (name, value.to_string()))
        .collect()
}

fn page_href(query: &ContactQuery, page: u32) -> String {
    let mut filled = filled_filters(query);
    filled.push(("page", page.to_string()));
    format!(
        "/contacts?{}",
        serde_urlencoded::to_string(&filled).unwrap_or_default()
    )
}

/// Query parameters of the contact export: the list's filters.
const EXPORT_FILTERS: [&str; 5] = ["owner", "country", "postal", "departement", "q"];

/// Returns the first parameter of an export address that is no filter.
fn unknown_filter(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(name, _)| name)
        .find(|name| !EXPORT_FILTERS.contains(&name.as_str()))
}

/// Address of the CSV export of the contacts the filters select.
fn export_href(query: &ContactQuery) -> String {
    let filled = filled_filters(query);
    if filled.is_empty() {
        return "/contacts/export.csv".to_string();
    }
    format!(
        "/contacts/export.csv?{}",
        serde_urlencoded::to_string(&filled).unwrap_or_default()
    )
}

/// Streams, as CSV for Excel, every contact the list's filters select, not
/// only the page shown. Filters with an error lead back to the list, which
/// shows it next to its field.
pub async fn export(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    QueryData(query): QueryData<ContactQuery>,
) -> Result<Response, PageError> {
    // A mistyped filter (`ownr=QT`) would otherwise be ignored, and the
    // export would hold every contact of the base.
    if let Some(unknown) = unknown_filter(raw.as_deref()) {
        tracing::info!(
            user.id = session.user.id,
            parameter = %unknown,
            "contact export with an unknown parameter refused"
        );
        return Err(AppError::bad_request(
            "unknown_parameter",
            format!(
                "paramètre « {unknown} » inconnu dans l'adresse de l'export : les filtres possibles \
                 sont {} ; rien n'a été exporté, corrigez l'adresse ou exportez depuis la liste \
                 des contacts",
                crate::french::list_and(&EXPORT_FILTERS.map(|name| format!("« {name} »")))
            ),
        )
        .into());
    }
    let filter_query = query.clone();
    let selection = state
        .run(move |store| match export_selection(store, &filter_query) {
            Ok(selection) => Ok(Ok(selection)),
            Err(error) => Ok(Err(field_error(error)?)),
        })
        .await?;
    let selection = match selection {
        Ok(selection) => selection,
        Err((field, message)) => {
            tracing::info!(
                user.id = session.user.id,
                field,
                error = %message,
                "contact export filters rejected"
            );
            return Ok(Redirect::to(&page_href(&query, 1)).into_response());
        }
    };
    Ok(csv_stream::export_response(
        &state,
        selection,
        &export_filename(&query),
        "filter".to_string(),
        session.user.id,
    ))
}

/// Names the export of a filtered list after its filters, so that two
/// exports saved in one folder do not overwrite each other:
/// `contacts-dep51-JD.csv`. Characters other than ASCII letters and digits
/// become hyphens; the search text is left out, being free text.
fn export_filename(query: &ContactQuery) -> String {
    let mut name = String::from("contacts");
    let parts = [
        ("dep", query.departement.as_str()),
        ("", query.owner.as_str()),
        ("", query.country.as_str()),
        ("cp", query.postal.as_str()),
    ];
    for (label, value) in parts {
        let cleaned: String = value
            .trim()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let cleaned: String = cleaned
            .split('-')
            .filter(|piece| !piece.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        if !cleaned.is_empty() {
            name.push('-');
            name.push_str(label);
            name.push_str(&cleaned.chars().take(40).collect::<String>());
        }
    }
    if !query.q.trim().is_empty() {
        name.push_str("-recherche");
    }
    name.push_str(".csv");
    name
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    QueryData(query): QueryData<ContactQuery>,
    QueryData(paging): QueryData<PageQuery>,
) -> Result<Response, PageError> {
    let requested = RequestedPage::parse(&paging)?;
    let page = requested.first_guess();
    let filter_query = query.clone();
    let (users, result) = state
        .run(move |store| {
            let users = store.list_users()?;
            let result = match build_filter(store, &filter_query) {
                Ok(Some(filter)) => {
                    let offset = (page - 1).saturating_mul(PAGE_SIZE);
                    Ok(store.list_contacts(
                        &filter,
                        Page {
                            limit: PAGE_SIZE,
                            offset,
                        },
                    )?)
                }
                Ok(None) => Ok(ContactPage {
                    total: 0,
                    contacts: Vec::new(),
                }),
                Err(error) => Err(field_error(error)?),
            };
            Ok((users, result))
        })
        .await?;

    let (contacts, error) = match result {
        Ok(contacts) => (contacts, None),
        Err(error) => (
            ContactPage {
                total: 0,
                contacts: Vec::new(),
            },
            Some(error),
        ),
    };
    let error_for = |field: &str| {
        error
            .as_ref()
            .filter(|(name, _)| *name == field)
            .map(|(_, message)| message.clone())
    };
    let pages = page_count(contacts.total, PAGE_SIZE);
    let (page, moved) = requested.resolve(pages);
    if moved {
        return Ok(Redirect::to(&page_href(&query, page)).into_response());
    }
    let contacts_page = ContactsPage {
        layout: Layout::new(&session, "Contacts", "contacts"),
        owners: owner_options(&users, &query.owner),
        departements: departement_options(&query.departement),
        owner_error: error_for("owner"),
        country_error: error_for("country"),
        postal_error: error_for("postal"),
        departement_error: error_for("departement"),
        total: plural(contacts.total, "contact", "contacts"),
        rows: contact_rows(&contacts.contacts),
        page,
        pages,
        previous_href: (page > 1).then(|| page_href(&query, page - 1)),
        next_href: (page < pages).then(|| page_href(&query, page + 1)),
        export_href: (session.is_admin() && error.is_none() && contacts.total > 0)
            .then(|| export_href(&query)),
        query,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render(&contacts_page)?).into_response())
}

pub struct AddressView {
    pub line1: String,
    pub line2: String,
    /// Postal code and city, as `labels::postal_line` sets them out.
    pub locality: String,
    pub country: String,
    pub departement: Option<String>,
    pub collectivity: bool,
    pub warning: Option<&'static str>,
}

impl AddressView {
    fn new(address: &Address) -> Option<AddressView> {
        if address.is_empty() {
            return None;
        }
        let note = labels::postal_note(address);
        let country = match CountryCode::parse(&address.country) {
            Ok(Some(code)) => format!("{} ({})", code.name_fr(), code.as_str()),
            _ => address.country.clone(),
        };
        Some(AddressView {
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            locality: labels::postal_line(&address.postal_code, &address.city),
            country,
            departement: note.departement,
            collectivity: note.collectivity,
            warning: note.warning,
        })
    }
}

pub struct HistoryRow {
    pub when: String,
    pub sentence: String,
    pub batch_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactDetailPage {
    layout: Layout,
    contact: Contact,
    name: String,
    commercial: String,
    technical: String,
    pro: Option<AddressView>,
    perso: Option<AddressView>,
    created: String,
    /// The import that created the contact, when known.
    created_by: Option<i64>,
    updated: String,
    history: Vec<HistoryRow>,
    history_count: String,
    /// Batch links lead to the journal, which only administrators reach.
    link_batches: bool,
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let lookup = key.clone();
    let found = state
        .run(move |store| match store.find_contact(&lookup)? {
            Some(contact) => {
                let history = store.contact_history(contact.id)?;
                let created_by = store.creating_import(contact.id)?;
                Ok(Some((contact, history, created_by)))
            }
            None => Ok(None),
        })
        .await?;
    let Some((contact, history, created_by)) = found else {
        return Err(AppError::not_found(
            "unknown_contact",
            format!(
                "Aucun contact n'a le numéro ou l'identifiant externe « {} ».",
                key.trim()
            ),
        )
        .into());
    };

    let owner = |owner: &Option<crate::domain::history::UserRef>| match owner {
        Some(user) => user.display_name(),
        None => "aucun".to_string(),
    };
    let page = ContactDetailPage {
        layout: Layout::new(
            &session,
            format!("Contact n° {} — {}", contact.id, contact.display_name()),
            "contacts",
        ),
        name: contact.display_name(),
        commercial: owner(&contact.commercial_owner),
        technical: owner(&contact.technical_owner),
        pro: AddressView::new(&contact.pro),
        perso: AddressView::new(&contact.perso),
        created: format_paris_time(contact.created_at),
        created_by,
        updated: format_paris_time(contact.updated_at),
        history_count: count(history.len() as u64),
        history: history
            .iter()
            .map(|entry| HistoryRow {
                when: entry.local_time_fr(),
                sentence: entry.sentence_fr(),
                batch_id: entry.batch_id,
            })
            .collect(),
        link_batches: session.is_admin(),
        contact,
    };
    Ok(render(&page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_filename_names_the_filters() {
        let query = |departement: &str, owner: &str, postal: &str, q: &str| ContactQuery {
            owner: owner.to_string(),
            country: String::new(),
            postal: postal.to_string(),
            departement: departement.to_string(),
            q: q.to_string(),
        };

        assert_eq!(export_filename(&query("", "", "", "")), "contacts.csv");
        assert_eq!(
            export_filename(&query("51", "JD", "", "")),
            "contacts-dep51-JD.csv"
        );
        assert_eq!(
            export_filename(&query("", "jd@exemple.fr", "51;02", "Dupont")),
            "contacts-jd-exemple-fr-cp51-02-recherche.csv"
        );
        assert_eq!(
            export_filename(&query("2A", "É\"/", "", "")),
            "contacts-dep2A.csv"
        );
    }
}
