//! « Annuler cette opération », first step: a page that shows how many
//! contacts go back to which owner before « Confirmer l'annulation » runs
//! the undo.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::domain::batch::{BatchId, BatchKind, OwnerReturn, UndoPreview};
use crate::french::{count, per_role, plural, undo_skipped_contacts, undo_skipped_entries};
use crate::service::reassign::{parse_batch_id, preview_undo};
use crate::web::auth::session::AdminUser;
use crate::web::error::AppError;
use crate::web::idempotency::new_form_key;
use crate::web::labels::role_fr;
use crate::web::state::AppState;

use super::error_page::PageError;
use super::extract::QueryData;
use super::layout::Layout;
use super::render;
use super::run_result::no_store;

/// One line of the summary: contacts going back to one owner on one role.
pub struct ReturnRow {
    pub sentence: String,
}

#[derive(Template)]
#[template(path = "undo_confirm.html")]
struct UndoConfirmPage {
    layout: Layout,
    /// Outcome of the undo this page was reached from, when that undo
    /// changed nothing.
    outcome_note: Option<String>,
    batch_id: BatchId,
    description: String,
    can_undo: bool,
    /// Contacts the undo would give back now, sent with the form.
    previewed: u64,
    note: Option<String>,
    returns: Vec<ReturnRow>,
    /// The number of contacts the undo would change, before the lines per
    /// owner and role.
    plan: String,
    /// Contacts the undo would skip, then the skipped history entries per
    /// role; empty when it skips nothing.
    skipped: Vec<String>,
    /// One line per skipped history entry, as the undo will list them.
    skipped_entries: Vec<String>,
    idempotency_key: String,
}

/// Returns the sentence before the lines per owner and role: the number of
/// contacts that would change owner, which the lines do not add up to when
/// a contact comes back on both roles.
fn plan_sentence(changed: u64, returns: &[OwnerReturn]) -> String {
    let both_roles = returns
        .iter()
        .any(|owner_return| owner_return.role != returns[0].role);
    let total = if changed <= 1 {
        format!("{changed} contact changera de responsable")
    } else {
        format!("{} contacts changeront de responsable", count(changed))
    };
    if both_roles {
        format!(
            "Si vous confirmez, {total} ; un contact rendu sur ses deux rôles est compté une fois par rôle ci-dessous :"
        )
    } else {
        format!("Si vous confirmez, {total} :")
    }
}

fn return_sentence(owner_return: &OwnerReturn) -> String {
    let contacts = owner_return.contacts;
    let role = role_fr(owner_return.role);
    let (subject, verb) = if contacts <= 1 {
        ("contact", "sera réaffecté")
    } else {
        ("contacts", "seront réaffectés")
    };
    match &owner_return.owner {
        Some(owner) => format!(
            "{} {subject} {verb} à {} comme responsable {role}{}",
            count(contacts),
            owner.display_name(),
            if owner_return.owner_active {
                ""
            } else {
                ", bien que cet utilisateur soit désactivé"
            }
        ),
        // The batch gave these contacts their first owner on this role:
        // the undo takes it away again.
        None => format!(
            "{} {subject} {} plus de responsable {role}, comme avant l'opération",
            count(contacts),
            if contacts <= 1 { "n'aura" } else { "n'auront" }
        ),
    }
}

fn skipped_sentences(preview: &UndoPreview) -> Vec<String> {
    if preview.skipped_entries() == 0 {
        return Vec::new();
    }
    vec![
        format!("{}.", undo_skipped_contacts(preview.outcome.already_owned)),
        format!(
            "{} ({}) :",
            undo_skipped_entries(preview.skipped_entries()),
            per_role(preview.skipped_commercial, preview.skipped_technical)
        ),
    ]
}

/// Entries of skipped contacts shown on the page, and on the undo's result
/// page; the command line lists them all.
pub const SKIPPED_SHOWN: usize = 200;

/// Lines of the skipped entries, as the undo's result lists them, the first
/// `SKIPPED_SHOWN` of them, then how many more there are.
fn skipped_lines(preview: &UndoPreview) -> Vec<String> {
    let mut lines: Vec<String> = preview
        .skipped
        .iter()
        .take(SKIPPED_SHOWN)
        .map(crate::french::skipped_entry)
        .collect();
    let more = preview.skipped.len().saturating_sub(SKIPPED_SHOWN);
    if more > 0 {
        lines.push(format!(
            "… et {} ; relais undo {} --dry-run les liste toutes.",
            plural(more as u64, "autre entrée", "autres entrées"),
            preview.undone_batch
        ));
    }
    lines
}

/// Outcome of an undo that changed nothing, which « Confirmer
/// l'annulation » redirects to this page with, since it has no result page
/// of its own.
#[derive(Clone, Copy, Debug, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UndoNote {
    /// The undo gave no contact back.
    NothingRestored,
    /// The same form had already been sent, and that undo gave nothing back.
    ReplayedNothing,
}

#[derive(serde::Deserialize)]
pub struct UndoQuery {
    note: Option<UndoNote>,
}

/// Shows what undoing the batch would restore, with « Confirmer
/// l'annulation » and a way back to the batch.
pub async fn show(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
    QueryData(query): QueryData<UndoQuery>,
) -> Result<Response, PageError> {
    let id = parse_batch_id(&id)?;
    let found = state
        .run(move |store| {
            let users = crate::web::labels::UserNames::new(&store.list_users()?);
            match store.batch(id)? {
                Some(batch) if batch.can_be_undone() => {
                    let preview = preview_undo(store, id)?;
                    Ok(Some((batch, Some(preview), None, users)))
                }
                // The rejection message states whether later undos brought
                // the batch's changes back, and which operation to undo then.
                Some(batch) => {
                    let refusal = preview_undo(store, id).err().map(|error| error.to_string());
                    Ok(Some((batch, None, refusal, users)))
                }
                None => Ok(None),
            }
        })
        .await?;
    let Some((batch, preview, refusal, users)) = found else {
        return Err(AppError::not_found(
            "unknown_batch",
            format!("Aucune opération de masse n° {id}."),
        )
        .into());
    };

    let note = if batch.undone {
        // The refusal ends by saying that nothing changed, which fits a
        // command but not a page that only shows the batch.
        let refusal = refusal.unwrap_or_else(|| {
            "cette opération a déjà été annulée : il n'y a plus rien à annuler".to_string()
        });
        let refusal = refusal
            .strip_suffix(" ; rien n'a été modifié")
            .unwrap_or(&refusal);
        Some(format!("{}.", crate::french::capitalised(refusal)))
    } else if preview
        .as_ref()
        .is_some_and(|preview| preview.outcome.matched == 0)
    {
        // An import that only created contacts, or changed other fields.
        Some(
            "Cette opération n'a changé le responsable d'aucun contact : l'annulation n'a rien à réaffecter."
                .to_string(),
        )
    } else if preview
        .as_ref()
        .is_some_and(|preview| preview.outcome.changed == 0)
    {
        Some(
            "Aucun contact n'a encore le responsable que l'opération a mis : l'annulation ne réaffectera aucun contact."
                .to_string(),
        )
    } else if batch.kind == BatchKind::Import {
        Some(super::batches::IMPORT_UNDO_NOTE.to_string())
    } else {
        None
    };
    let (returns, skipped, skipped_entries) = match &preview {
        Some(preview) => (
            preview
                .returns
                .iter()
                .map(|owner_return| ReturnRow {
                    sentence: return_sentence(owner_return),
                })
                .collect(),
            skipped_sentences(preview),
            skipped_lines(preview),
        ),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let restores_nothing = preview
        .as_ref()
        .is_some_and(|preview| preview.outcome.matched == 0);
    let restores_now = preview
        .as_ref()
        .is_some_and(|preview| preview.outcome.changed > 0);
    let outcome_note = query.note.map(|note| match note {
        UndoNote::NothingRestored if restores_nothing => {
            crate::french::undo_nothing_to_restore(id)
        }
        // The page is read again later, and contacts have since got back
        // the owner the batch had set.
        UndoNote::NothingRestored if restores_now => format!(
            "Une annulation de l'opération n° {id} n'avait réaffecté aucun contact ; depuis, des contacts ont retrouvé le responsable qu'elle avait mis. Voici ce qu'une annulation ferait maintenant."
        ),
        UndoNote::NothingRestored => format!(
            "Annulation sans effet : aucun contact n'avait encore le responsable que l'opération n° {id} avait mis. Rien n'a été modifié, aucune opération n'a été enregistrée, et l'opération reste annulable."
        ),
        UndoNote::ReplayedNothing => format!(
            "Ce formulaire avait déjà été validé : cette annulation de l'opération n° {id} n'avait rendu aucun contact à son responsable précédent, et elle n'a pas été refaite. Voici ce qu'une annulation ferait maintenant."
        ),
    });
    // Every contact changed owner since: confirming now would change
    // nothing, so the page explains that instead of offering the button.
    let outcome_note = outcome_note.or_else(|| {
        (preview.is_some() && !restores_nothing && !restores_now).then(|| {
            format!(
                "Une annulation maintenant ne changerait rien : aucun contact n'a plus le responsable que l'opération n° {id} avait mis. L'opération reste annulable, si des contacts retrouvent ce responsable."
            )
        })
    });
    let page = UndoConfirmPage {
        layout: Layout::new(&session, format!("Annuler l'opération n° {id}"), "batches"),
        outcome_note,
        batch_id: id,
        description: format!(
            "{} ({}), par {}, le {}.",
            batch.kind.label_fr(),
            crate::web::labels::batch_params(&batch, &users),
            batch.actor,
            crate::domain::history::format_paris_moment(batch.started_at)
        ),
        // A batch that changed no owner has nothing an undo could give
        // back, ever, and one whose contacts all changed owner since has
        // nothing now: no button to confirm.
        can_undo: batch.can_be_undone() && restores_now,
        previewed: preview
            .as_ref()
            .map_or(0, |preview| preview.outcome.changed),
        plan: preview.as_ref().map_or_else(String::new, |preview| {
            plan_sentence(preview.outcome.changed, &preview.returns)
        }),
        note,
        returns,
        skipped,
        skipped_entries,
        idempotency_key: new_form_key(),
    };
    // Back to this page after the undo must fetch it again, so that it
    // shows the batch as undone instead of a form that could be sent again.
    Ok(no_store(render(&page)?.into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::Role;

    fn returned(role: Role, contacts: u64) -> OwnerReturn {
        OwnerReturn {
            role,
            owner: None,
            owner_active: true,
            contacts,
        }
    }

    #[test]
    fn plan_gives_the_total_of_both_roles() {
        let both = [
            returned(Role::Commercial, 908),
            returned(Role::Technical, 773),
        ];
        let single_role = [returned(Role::Commercial, 1)];

        assert_eq!(
            plan_sentence(1_645, &both),
            "Si vous confirmez, 1\u{202F}645 contacts changeront de responsable ; un contact rendu sur ses deux rôles est compté une fois par rôle ci-dessous :"
        );
        assert_eq!(
            plan_sentence(1, &single_role),
            "Si vous confirmez, 1 contact changera de responsable :"
        );
    }
}
