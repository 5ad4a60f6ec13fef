//! The batch journal (« journal des opérations »): the list, a batch with
//! the contacts it changed, its CSV export, and « Annuler cette opération ».

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::batch::{Applied, Batch, BatchId, BatchKind, SkippedContact};
use crate::domain::history::format_paris_time;
use crate::french::{undo_changed, undo_skipped_contacts, undo_skipped_entries};
use crate::service::reassign::{RunContextInput, parse_batch_id, undo_batch, undo_chains};
use crate::storage::{ExportSelection, Page, Store};
use crate::web::auth::session::AdminUser;
use crate::web::csv_stream;
use crate::web::error::AppError;
use crate::web::labels::{UserNames, batch_params, plural, role_fr};
use crate::web::state::AppState;

use super::error_page::PageError;
use super::extract::{FormData, QueryData};
use super::layout::Layout;
use super::paging::{PageQuery, RequestedPage, page_count};
use super::render;
use super::views::{ContactRow, CountsView, contact_rows};
use crate::web::idempotency::{form_key_error, scoped_idempotency_key};

const PAGE_SIZE: u32 = 50;

pub struct BatchRow {
    pub id: BatchId,
    pub started: String,
    pub finished: String,
    pub kind: &'static str,
    pub params: String,
    pub actor: String,
    pub counts: CountsView,
    pub undone_by: Option<BatchId>,
    /// State of an undone batch's changes, « annulée par l'opération n° 9 »,
    /// or longer when its undo was undone in turn.
    pub undone_state: Option<String>,
    pub undoes: Option<BatchId>,
}

impl BatchRow {
    fn new(batch: &Batch, users: &UserNames) -> BatchRow {
        BatchRow {
            id: batch.id,
            started: format_paris_time(batch.started_at),
            finished: batch.finished_at.map(format_paris_time).unwrap_or_default(),
            kind: batch.kind.label_fr(),
            params: batch_params(batch, users),
            actor: batch.actor.clone(),
            counts: CountsView::for_batch(batch.kind, &batch.outcome),
            undone_by: batch.undone_by,
            undone_state: None,
            undoes: batch.undoes,
        }
    }
}

#[derive(Template)]
#[template(path = "batches.html")]
struct BatchesPage {
    layout: Layout,
    rows: Vec<BatchRow>,
    page: u32,
    pages: u32,
    previous_href: Option<String>,
    next_href: Option<String>,
}

fn journal_href(page: u32) -> String {
    format!("/admin/batches?page={page}")
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    QueryData(paging): QueryData<PageQuery>,
) -> Result<Response, PageError> {
    let requested = RequestedPage::parse(&paging)?;
    let page = requested.first_guess();
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    // The data version counts the rows of the batch table, which are the
    // rows the journal lists.
    let (total, batches, users, chains) = state
        .run(move |store| {
            let (total, _) = store.data_version()?;
            let batches = store.list_batches(PAGE_SIZE, offset)?;
            let chains = undo_chains(store, &batches)?;
            Ok((total, batches, UserNames::new(&store.list_users()?), chains))
        })
        .await?;
    let pages = page_count(total, PAGE_SIZE);
    let (page, moved) = requested.resolve(pages);
    if moved {
        return Ok(Redirect::to(&journal_href(page)).into_response());
    }

    let journal = BatchesPage {
        layout: Layout::new(&session, "Journal des opérations", "batches"),
        rows: batches
            .iter()
            .map(|batch| BatchRow {
                undone_state: chains
                    .get(&batch.id)
                    .and_then(|chain| crate::french::undone_state(chain)),
                ..BatchRow::new(batch, &users)
            })
            .collect(),
        page,
        pages,
        previous_href: (page > 1).then(|| journal_href(page - 1)),
        next_href: (page < pages).then(|| journal_href(page + 1)),
    };
    Ok(render(&journal)?.into_response())
}

#[derive(Template)]
#[template(path = "batch.html")]
struct BatchPage {
    layout: Layout,
    batch: BatchRow,
    can_undo: bool,
    undo_note: Option<&'static str>,
    /// Heading of the contact list, whose rows for an import include the
    /// contacts it created.
    contacts_heading: &'static str,
    /// Note on the contacts the list leaves out, for an import.
    contacts_note: Option<&'static str>,
    total: String,
    rows: Vec<ContactRow>,
    page: u32,
    pages: u32,
    previous_href: Option<String>,
    next_href: Option<String>,
}

fn batch_not_found(id: BatchId) -> PageError {
    AppError::not_found(
        "unknown_batch",
        format!("Aucune opération de masse n° {id}."),
    )
    .into()
}

pub async fn show(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
    QueryData(paging): QueryData<PageQuery>,
) -> Result<Response, PageError> {
    let id = parse_batch_id(&id)?;
    let requested = RequestedPage::parse(&paging)?;
    let page = requested.first_guess();
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let found = state
        .run(move |store| match store.batch(id)? {
            Some(batch) => {
                let contacts = store.batch_contacts(
                    id,
                    Page {
                        limit: PAGE_SIZE,
                        offset,
                    },
                )?;
                let chains = undo_chains(store, std::slice::from_ref(&batch))?;
                Ok(Some((
                    batch,
                    contacts,
                    UserNames::new(&store.list_users()?),
                    chains,
                )))
            }
            None => Ok(None),
        })
        .await?;
    let Some((batch, contacts, users, chains)) = found else {
        return Err(batch_not_found(id));
    };

    let undo_note = if batch.undone {
        Some("Cette opération a déjà été annulée.")
    } else if batch.kind == BatchKind::Import {
        Some(IMPORT_UNDO_NOTE)
    } else {
        None
    };
    let pages = page_count(contacts.total, PAGE_SIZE);
    let (page, moved) = requested.resolve(pages);
    if moved {
        return Ok(Redirect::to(&format!("/admin/batches/{id}?page={page}")).into_response());
    }
    let detail = BatchPage {
        layout: Layout::new(&session, format!("Opération n° {id}"), "batches"),
        can_undo: batch.can_be_undone(),
        undo_note,
        contacts_heading: if batch.kind == BatchKind::Import {
            "Contacts créés ou réaffectés"
        } else {
            "Contacts modifiés"
        },
        contacts_note: (batch.kind == BatchKind::Import)
            .then_some(crate::french::IMPORT_CONTACTS_NOTE),
        total: plural(contacts.total, "contact", "contacts"),
        rows: contact_rows(&contacts.contacts),
        page,
        pages,
        previous_href: (page > 1).then(|| format!("/admin/batches/{id}?page={}", page - 1)),
        next_href: (page < pages).then(|| format!("/admin/batches/{id}?page={}", page + 1)),
        batch: BatchRow {
            undone_state: chains
                .get(&batch.id)
                .and_then(|chain| crate::french::undone_state(chain)),
            ..BatchRow::new(&batch, &users)
        },
    };
    Ok(render(&detail)?.into_response())
}

/// Streams the CSV of the contacts a batch changed, as Excel opens it in
/// French.
pub async fn export(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_batch_id(&id)?;
    let exists = state
        .run(move |store| Ok(store.batch(id)?.is_some()))
        .await?;
    if !exists {
        return Err(batch_not_found(id));
    }

    Ok(csv_stream::export_response(
        &state,
        ExportSelection::Batch(id),
        &format!("operation-{id}.csv"),
        format!("batch {id}"),
        session.user.id,
    ))
}

#[derive(Deserialize)]
pub struct UndoForm {
    #[serde(default)]
    idempotency_key: String,
    /// Contacts the confirmation page announced the undo would give back.
    #[serde(default)]
    previewed: String,
}

/// Unit an undo's confirmation page counts, for `preview_changed_notice`.
const TO_RESTORE: (&str, &str) = (
    "contact à rendre à son responsable précédent",
    "contacts à rendre à leur responsable précédent",
);

pub struct SkippedRow {
    pub href: String,
    pub label: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "undo_result.html")]
struct UndoResultPage {
    layout: Layout,
    lead: String,
    undone_batch: BatchId,
    undo_batch: Option<BatchId>,
    restored: String,
    per_role: String,
    skipped_count: String,
    /// Heading of the skipped list, which has one row per contact and role.
    skipped_entries: String,
    /// The first `SKIPPED_SHOWN` skipped entries.
    skipped: Vec<SkippedRow>,
    /// How many entries the page leaves out, when it leaves some out.
    skipped_more: Option<String>,
    /// Warning that the undo gave back another number of contacts than
    /// the confirmation page announced.
    notice: Option<String>,
}

fn skipped_rows(skipped: &[SkippedContact]) -> Vec<SkippedRow> {
    skipped
        .iter()
        .take(super::undo_confirm::SKIPPED_SHOWN)
        .map(|skipped| SkippedRow {
            href: format!("/contacts/{}", skipped.contact_id),
            label: match &skipped.external_id {
                Some(external) => format!("Contact n° {} ({external})", skipped.contact_id),
                None => format!("Contact n° {}", skipped.contact_id),
            },
            reason: format!(
                "responsable {} ignoré : actuellement {}, l'opération avait mis {}",
                role_fr(skipped.role),
                skipped.current_owner_name.as_deref().unwrap_or("aucun"),
                skipped.batch_owner_name.as_deref().unwrap_or("aucun"),
            ),
        })
        .collect()
}

/// Builds the page of an undo's result: its counts and the entries it
/// skipped, `skipped_entries` in all.
fn undo_result_page(
    session: &crate::web::auth::session::Session,
    lead: String,
    undone_batch: BatchId,
    applied: &Applied,
    skipped_entries: u64,
    skipped: &[SkippedContact],
) -> UndoResultPage {
    let outcome = &applied.outcome;
    UndoResultPage {
        layout: Layout::new(
            session,
            format!("Annulation de l'opération n° {undone_batch}"),
            "batches",
        ),
        lead,
        undone_batch,
        undo_batch: applied.batch_id,
        restored: undo_changed(outcome.changed),
        per_role: crate::french::per_role_of(
            outcome.changed,
            outcome.commercial,
            outcome.technical,
        ),
        skipped_count: undo_skipped_contacts(outcome.already_owned),
        skipped_entries: undo_skipped_entries(skipped_entries),
        skipped: skipped_rows(skipped),
        skipped_more: skipped
            .len()
            .checked_sub(super::undo_confirm::SKIPPED_SHOWN)
            .filter(|more| *more > 0)
            .map(|more| {
                format!(
                    "… et {}.",
                    plural(
                        more as u64,
                        "autre entrée ignorée",
                        "autres entrées ignorées"
                    )
                )
            }),
        notice: None,
    }
}

/// Shows the result of the undo batch `undo`, as « Confirmer
/// l'annulation » redirects to it: reading it again changes nothing.
pub fn undo_result(
    store: &dyn Store,
    session: &crate::web::auth::session::Session,
    undo: &Batch,
    note: Option<super::run_result::ResultNote>,
    previewed: Option<u64>,
) -> Result<Response, PageError> {
    use super::run_result::ResultNote;
    let Some(target) = undo.undoes else {
        return Ok(Redirect::to(&format!("/admin/batches/{}", undo.id)).into_response());
    };
    let undone = store
        .batch(target)?
        .map(|batch| batch.outcome.history_entries);
    let skipped = store.undo_skipped(target, Some(undo.id))?;
    let undo_id = undo.id;
    let lead = match note {
        Some(ResultNote::Replayed) => format!(
            "Ce formulaire avait déjà été validé : l'opération n° {target} a été annulée par l'opération n° {undo_id}, qui n'a pas été refaite."
        ),
        Some(ResultNote::DoneSince) => format!(
            "L'opération n° {target} a déjà été annulée depuis l'ouverture de ce formulaire, par l'opération n° {undo_id} {}. Elle n'a pas été annulée une seconde fois ; voici le résultat de cette annulation.",
            crate::french::de(&undo.actor)
        ),
        None => format!("Opération n° {target} annulée par l'opération n° {undo_id}."),
    };
    let applied = Applied {
        batch_id: Some(undo_id),
        outcome: undo.outcome,
        replayed: note.is_some(),
    };
    let entries = undone
        .map(|entries| entries.saturating_sub(undo.outcome.history_entries))
        .unwrap_or(skipped.len() as u64);
    let mut page = undo_result_page(session, lead, target, &applied, entries, &skipped);
    if note.is_none() {
        page.notice =
            super::run_result::preview_changed_notice(previewed, undo.outcome.changed, TO_RESTORE);
    }
    Ok(render(&page)?.into_response())
}

/// Note on what the undo of an import gives back and what it leaves.
pub const IMPORT_UNDO_NOTE: &str = "L'annulation d'une importation rend leur responsable précédent aux contacts qu'elle a réaffectés ; les contacts qu'elle a créés et ses autres modifications restent en place.";

/// Runs « Annuler cette opération », once per form.
pub async fn undo(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
    FormData(form): FormData<UndoForm>,
) -> Result<Response, PageError> {
    let id = parse_batch_id(&id)?;
    let run = RunContextInput {
        actor: session.actor(),
        idempotency_key: Some(scoped_idempotency_key(
            session.user.id,
            &form.idempotency_key,
        )?),
    };
    let result = state
        .run(move |store| match undo_batch(store, id, run) {
            Ok(result) => Ok(Ok(result)),
            // Confirmed in another tab, or by another administrator, since
            // this form was shown: its result is shown instead of an error.
            Err(error) if error.code() == "batch_already_undone" => Ok(Err(store
                .batch(id)?
                .and_then(|batch| batch.undone_by)
                .ok_or(error)?)),
            Err(error) => Err(error.into()),
        })
        .await
        .map_err(form_key_error)?;
    let result = match result {
        Ok(result) => result,
        Err(undo_id) => {
            return Ok(
                Redirect::to(&format!("/admin/batches/{undo_id}/result?note=done_since"))
                    .into_response(),
            );
        }
    };

    // Every undo is shown by POST-redirect-GET, so that reloading its
    // result never sends the form again: a recorded one on its result
    // page, one that changed nothing on the confirmation page, whose
    // preview lists the contacts it would skip.
    let applied = &result.applied;
    let previewed = match super::run_result::parse_previewed(&form.previewed) {
        Some(count) => super::run_result::Previewed::Count(count),
        None => super::run_result::Previewed::Nothing,
    };
    if let Some(redirect) = super::run_result::redirect_to_result(applied, previewed, None) {
        return Ok(redirect);
    }
    let note = if applied.replayed {
        "replayed_nothing"
    } else {
        "nothing_restored"
    };
    Ok(Redirect::to(&format!("/admin/batches/{id}/undo?note={note}")).into_response())
}
