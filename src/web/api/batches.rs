//! API of the batch journal and of undo; administrators only.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::service::ServiceError;
use crate::service::json::undo_preview as undo_preview_json;
use crate::service::reassign::{parse_batch_id, preview_undo, undo_batch};
use crate::storage::Page;
use crate::web::auth::bearer::ApiAdmin;
use crate::web::error::AppError;
use crate::web::state::AppState;

use super::error::ApiError;
use super::reassign::{run_context, run_response};
use super::views;

/// Default and largest page of a list.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// The `limit` and `offset` of a list request, as sent: they are read here
/// rather than by serde so that a bad value gets a message naming it.
#[derive(Debug, Default, Deserialize)]
pub struct Pagination {
    limit: Option<String>,
    offset: Option<String>,
}

impl Pagination {
    /// Returns the requested page, or an error naming the parameter, its
    /// value and the accepted range. A limit above the largest page is
    /// refused rather than cut, so that a client never takes a short page
    /// for the end of the list.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(text) => match parse_count("limit", text)? {
                limit @ 1..=MAX_LIMIT => limit,
                limit => {
                    return Err(invalid_page(
                        "limit",
                        format!(
                            "limit : {limit} n'est pas une taille de page possible ; \
                             demandez de 1 à {MAX_LIMIT} résultats et parcourez la suite avec offset"
                        ),
                    ));
                }
            },
        };
        let offset = match &self.offset {
            None => 0,
            Some(text) => parse_count("offset", text)?,
        };
        Ok(Page { limit, offset })
    }
}

/// Rejects a query parameter the call does not take, or one given twice,
/// naming it and the accepted ones. A typo such as `ownr=AE` would
/// otherwise list every contact as if no filter had been requested.
pub fn check_query_names(query: Option<&str>, accepted: &[&str]) -> Result<(), ApiError> {
    let Some(query) = query else {
        return Ok(());
    };
    // An unreadable query is left to the call's own extractor.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    for (index, (name, _)) in pairs.iter().enumerate() {
        if pairs[..index].iter().any(|(earlier, _)| earlier == name) {
            return Err(invalid_page(
                "query",
                format!("paramètre « {name} » donné deux fois : gardez-en un seul"),
            ));
        }
        if !accepted.contains(&name.as_str()) {
            let listed = accepted
                .iter()
                .map(|name| format!("« {name} »"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(invalid_page(
                "query",
                format!("paramètre « {name} » inconnu : cet appel accepte {listed}"),
            ));
        }
    }
    Ok(())
}

fn parse_count(field: &'static str, text: &str) -> Result<u32, ApiError> {
    let digits = text.trim();
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u32>().is_err()
    {
        return Err(invalid_page(
            field,
            format!(
                "{field} : « {text} » est trop grand ; {field} vaut au plus {}",
                crate::french::count(
                    if field == "limit" {
                        MAX_LIMIT
                    } else {
                        u32::MAX
                    }
                    .into()
                )
            ),
        ));
    }
    text.trim().parse::<u32>().map_err(|_| {
        invalid_page(
            field,
            format!(
                "{field} : « {text} » n'est pas un nombre entier positif ; \
                 donnez par exemple {field}={}",
                if field == "limit" { DEFAULT_LIMIT } else { 0 }
            ),
        )
    })
}

fn invalid_page(field: &'static str, message: String) -> ApiError {
    ApiError::from(AppError::Service(ServiceError::invalid(
        "invalid_query",
        field,
        message,
    )))
}

fn batch_not_found(id: i64) -> ApiError {
    ApiError::from(AppError::not_found(
        "unknown_batch",
        format!("opération : aucune opération de masse n° {id}"),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    ApiAdmin(_user): ApiAdmin,
    RawQuery(raw): RawQuery,
    query: Result<Query<Pagination>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    check_query_names(raw.as_deref(), &["limit", "offset"])?;
    let Query(pagination) = query?;
    let page = pagination.page()?;
    // The data version counts the rows of the batch table, which are the
    // batches the list pages through, as the contact list gives its total.
    let (total, batches) = state
        .run(move |store| {
            let (total, _) = store.data_version()?;
            Ok((total, store.list_batches(page.limit, page.offset)?))
        })
        .await?;
    let batches: Vec<Value> = batches.iter().map(crate::service::json::batch).collect();
    Ok(Json(json!({
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
        "batches": batches
    })))
}

pub async fn show(
    State(state): State<AppState>,
    ApiAdmin(_user): ApiAdmin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_batch_id(&id)?;
    let batch = state.run(move |store| Ok(store.batch(id)?)).await?;
    match batch {
        Some(batch) => Ok(Json(crate::service::json::batch(&batch))),
        None => Err(batch_not_found(id)),
    }
}

pub async fn contacts(
    State(state): State<AppState>,
    ApiAdmin(_user): ApiAdmin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    query: Result<Query<Pagination>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_batch_id(&id)?;
    check_query_names(raw.as_deref(), &["limit", "offset"])?;
    let Query(pagination) = query?;
    let page = pagination.page()?;
    let found = state
        .run(move |store| match store.batch(id)? {
            Some(_) => Ok(Some(store.batch_contacts(id, page)?)),
            None => Ok(None),
        })
        .await?;
    match found {
        Some(contacts) => Ok(Json(json!({
            "limit": page.limit,
            "offset": page.offset,
            "total": contacts.total,
            "contacts": contacts.contacts,
        }))),
        None => Err(batch_not_found(id)),
    }
}

/// Undoes a batch. The batch is in the path, so the body must be empty or
/// `{}`.
pub async fn undo(
    State(state): State<AppState>,
    ApiAdmin(user): ApiAdmin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = parse_batch_id(&id)?;
    super::body::no_fields_declared(&headers, &super::body::bytes(body)?)?;
    let run = run_context(&user, &headers)?;
    let result = state
        .run(move |store| Ok(undo_batch(store, id, run)?))
        .await?;
    Ok(run_response(&result.applied, views::undo(&result)))
}

/// Shows what undoing a batch would do now, changing nothing, with the
/// same checks as the undo itself.
pub async fn undo_preview(
    State(state): State<AppState>,
    ApiAdmin(_user): ApiAdmin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_batch_id(&id)?;
    super::body::no_fields_declared(&headers, &super::body::bytes(body)?)?;
    let preview = state.run(move |store| Ok(preview_undo(store, id)?)).await?;
    Ok(Json(undo_preview_json(&preview)))
}
