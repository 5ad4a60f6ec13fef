//! « Annuler cette opération », first step: a page that shows how many
//! contacts go back to which owner before « Confirmer l'annulation » runs
//! the undo.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::domain::batch::{Batch, BatchId};
use crate::domain::contact::Role;
use crate::domain::history::UserRef;
use crate::service::reassign::parse_batch_id;
use crate::storage::{Page, Store};
use crate::web::auth::session::AdminUser;
use crate::web::error::AppError;
use crate::web::idempotency::new_form_key;
use crate::web::labels::{plural, role_fr};
use crate::web::state::AppState;

use super::error_page::PageError;
use super::layout::Layout;
use super::render;
use super::run_result::no_store;

/// Maximum contacts whose history the page reads to name the owners they
/// go back to. Each contact costs one history query, so a larger batch
/// gets a general sentence instead of the per-owner lines.
const MAX_DETAILED_CONTACTS: u64 = 1_000;

/// Contacts read per page of the batch's contact list.
const CONTACTS_PER_READ: u32 = 200;

/// One line of the summary: contacts going back to one owner on one role.
pub struct ReturnRow {
    pub sentence: String,
}

/// Effect of an undo, read from the batch's history entries.
struct UndoPlan {
    returns: Vec<ReturnRow>,
    /// Contacts whose owner changed since the batch: the undo skips them.
    skipped: u64,
}

#[derive(Template)]
#[template(path = "undo_confirm.html")]
struct UndoConfirmPage {
    layout: Layout,
    batch_id: BatchId,
    description: String,
    can_undo: bool,
    note: Option<&'static str>,
    returns: Vec<ReturnRow>,
    skipped: Option<String>,
    idempotency_key: String,
}

fn owner_name(owner: &Option<UserRef>) -> String {
    match owner {
        Some(user) => user.display_name(),
        None => "aucun responsable".to_string(),
    }
}

fn same_owner(left: &Option<UserRef>, right: &Option<UserRef>) -> bool {
    left.as_ref().map(|user| user.id) == right.as_ref().map(|user| user.id)
}

/// Reads, for each contact the batch changed, the owner it replaced and
/// the owner it has now. Returns `None` for a batch too large to read
/// contact by contact.
fn plan_undo(store: &dyn Store, batch: &Batch) -> Result<Option<UndoPlan>, AppError> {
    let mut counts: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    let mut skipped = 0;
    let mut offset = 0;
    loop {
        let page = store.batch_contacts(
            batch.id,
            Page {
                limit: CONTACTS_PER_READ,
                offset,
            },
        )?;
        if page.total > MAX_DETAILED_CONTACTS {
            return Ok(None);
        }
        for contact in &page.contacts {
            let mut changed_since = false;
            for entry in store.contact_history(contact.id)? {
                let (Some(role), true) = (entry.role, entry.batch_id == Some(batch.id)) else {
                    continue;
                };
                let current = match role {
                    Role::Commercial => &contact.commercial_owner,
                    Role::Technical => &contact.technical_owner,
                };
                if same_owner(current, &entry.new_owner) {
                    *counts
                        .entry((owner_name(&entry.previous_owner), role_fr(role)))
                        .or_default() += 1;
                } else {
                    changed_since = true;
                }
            }
            if changed_since {
                skipped += 1;
            }
        }
        offset += CONTACTS_PER_READ;
        if page.contacts.is_empty() || u64::from(offset) >= page.total {
            break;
        }
    }

    let returns = counts
        .into_iter()
        .map(|((owner, role), contacts)| ReturnRow {
            sentence: format!(
                "{} {} à {owner} comme responsable {role}",
                plural(contacts, "contact", "contacts"),
                if contacts <= 1 {
                    "reviendra"
                } else {
                    "reviendront"
                },
            ),
        })
        .collect();
    Ok(Some(UndoPlan { returns, skipped }))
}

/// Shows what undoing the batch would restore, with « Confirmer
/// l'annulation » and a way back to the batch.
pub async fn show(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_batch_id(&id)?;
    let found = state
        .run(move |store| match store.batch(id)? {
            Some(batch) if batch.can_be_undone() && !batch.undone => {
                let plan = plan_undo(store, &batch)?;
                Ok(Some((batch, plan)))
            }
            Some(batch) => Ok(Some((batch, None))),
            None => Ok(None),
        })
        .await?;
    let Some((batch, plan)) = found else {
        return Err(AppError::not_found(
            "unknown_batch",
            format!("Aucune opération de masse n° {id}."),
        )
        .into());
    };

    let note = if batch.undone {
        Some("Cette opération a déjà été annulée : il n'y a plus rien à annuler.")
    } else if !batch.can_be_undone() {
        Some("Une importation ne peut pas être annulée : elle a aussi créé des contacts.")
    } else if plan.is_none() {
        Some(
            "L'opération a modifié trop de contacts pour les détailler ici : chacun reviendra au responsable qu'il avait avant elle.",
        )
    } else {
        None
    };
    let (returns, skipped) = match plan {
        Some(plan) => (
            plan.returns,
            (plan.skipped > 0).then(|| {
                format!(
                    "{} depuis l'opération : {} ignoré{} et listé{}.",
                    plural(
                        plan.skipped,
                        "contact a changé de responsable",
                        "contacts ont changé de responsable"
                    ),
                    if plan.skipped <= 1 {
                        "il sera"
                    } else {
                        "ils seront"
                    },
                    if plan.skipped <= 1 { "" } else { "s" },
                    if plan.skipped <= 1 { "" } else { "s" },
                )
            }),
        ),
        None => (Vec::new(), None),
    };
    let page = UndoConfirmPage {
        layout: Layout::new(&session, format!("Annuler l'opération n° {id}"), "batches"),
        batch_id: id,
        description: format!(
            "{} ({}), {} le {}.",
            batch.kind.label_fr(),
            crate::web::labels::batch_params(&batch),
            batch.actor,
            crate::domain::history::format_paris_time(batch.started_at)
        ),
        can_undo: batch.can_be_undone() && !batch.undone,
        note,
        returns,
        skipped,
        idempotency_key: new_form_key(),
    };
    // Back to this page after the undo must fetch it again, so that it
    // shows the batch as undone instead of a form that could be sent again.
    Ok(no_store(render(&page)?.into_response()))
}
