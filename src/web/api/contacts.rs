//! API of contacts: list with filters, one contact, its history. Every
//! logged-in user may read contacts.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use serde_json::{Value, json};

use crate::service::contact_query::{ContactQuery, build_filter};
use crate::storage::{Contact, ContactPage, Store};
use crate::web::auth::bearer::ApiUser;
use crate::web::error::AppError;
use crate::web::state::AppState;

use super::batches::{Pagination, check_query_names};
use super::error::ApiError;

pub async fn list(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    RawQuery(raw): RawQuery,
    filters: Result<Query<ContactQuery>, QueryRejection>,
    pagination: Result<Query<Pagination>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    check_query_names(
        raw.as_deref(),
        &[
            "owner",
            "country",
            "postal",
            "departement",
            "q",
            "limit",
            "offset",
        ],
    )?;
    let Query(filters) = filters?;
    let Query(pagination) = pagination?;
    let page = pagination.page()?;
    let contacts = state
        .run(move |store| match build_filter(store, &filters)? {
            Some(filter) => Ok(store.list_contacts(&filter, page)?),
            None => Ok(ContactPage {
                total: 0,
                contacts: Vec::new(),
            }),
        })
        .await?;
    Ok(Json(json!({
        "limit": page.limit,
        "offset": page.offset,
        "total": contacts.total,
        "contacts": contacts.contacts,
    })))
}

fn find(store: &dyn Store, key: &str) -> Result<Contact, AppError> {
    store.find_contact(key)?.ok_or_else(|| {
        AppError::not_found(
            "unknown_contact",
            format!(
                "contact : aucun contact n'a le numéro ou l'identifiant externe « {} »",
                key.trim()
            ),
        )
    })
}

pub async fn show(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    Path(key): Path<String>,
) -> Result<Json<Contact>, ApiError> {
    let contact = state.run(move |store| find(store, &key)).await?;
    Ok(Json(contact))
}

/// Returns a contact's history, newest first, ending with its creation.
/// `{id}` is the contact's number or external id.
pub async fn history(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let history = state
        .run(move |store| {
            let contact = find(store, &key)?;
            let entries = store.contact_history(contact.id)?;
            let created_by = store.creating_import(contact.id)?;
            Ok(crate::service::json::history(
                &contact, &entries, created_by,
            ))
        })
        .await?;
    Ok(Json(history))
}
