//! Outils → Admin → Traitement des données en masse → Contacts →
//! Réaffecter: every contact of one user goes to another.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};

use crate::domain::batch::BatchKind;
use crate::domain::user::User;
use crate::service::ServiceError;
use crate::service::reassign::{
    RunContextInput, apply_user_reassignment, check_user_target, prepare_user_reassignment,
    preview_user_reassignment, user_form_problems,
};
use crate::storage::{ContactFilter, Page, Store};
use crate::web::auth::session::{AdminUser, Session};
use crate::web::error::AppError;
use crate::web::state::AppState;

use super::error_page::PageError;
use super::extract::{FormData, QueryData};
use super::layout::Layout;
use super::picker::UserPicker;
use super::render;
use super::run_result::{
    Previewed, checked_last_batch, done_since, no_store, parse_last_batch, redirect_to_done_since,
    redirect_to_result, run_notice,
};
use super::views::{ContactRow, CountsView, RunResultPage, contact_rows, result_lead};
use crate::web::idempotency::{form_key_error, new_form_key, scoped_idempotency_key};

/// Contacts shown in the preview sample.
const SAMPLE_SIZE: u32 = 5;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReassignForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    idempotency_key: String,
    /// Highest batch id when the form was shown; see `run_result`.
    #[serde(default)]
    last_batch: String,
    /// Contacts to change that the preview showed; see `run_result`.
    #[serde(default)]
    previewed: String,
    /// Parameters of the operation that preview was for.
    #[serde(default)]
    previewed_for: String,
}

pub struct ReassignSummary {
    /// The departing user after « de », elided before a vowel.
    pub from_name: String,
    pub to_name: String,
    pub counts: CountsView,
    pub sample: Vec<ContactRow>,
    /// The operation's parameters as recorded, which the form sends back
    /// with the count so that Valider compares it only with a run of the
    /// same criteria.
    pub params_key: String,
}

#[derive(Template)]
#[template(path = "partials/reassign_preview.html")]
pub struct ReassignPreview {
    /// Advice shown instead of a preview until the form is complete.
    pub hint: Option<&'static str>,
    pub summary: Option<ReassignSummary>,
}

impl askama::filters::HtmlSafe for ReassignPreview {}

#[derive(Template)]
#[template(path = "reassign.html")]
struct ReassignPage {
    layout: Layout,
    from: UserPicker,
    to: UserPicker,
    preview: ReassignPreview,
    idempotency_key: String,
    last_batch: String,
}

/// Field errors keyed by form field name.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// JSON body of the live preview: the preview's HTML and the field errors.
#[derive(Serialize)]
pub struct PreviewAnswer {
    html: String,
    errors: FieldErrors,
}

impl PreviewAnswer {
    /// `html` comes from `render`, already typeset; the field errors are
    /// typeset here, since the script writes them as text next to their
    /// fields.
    pub fn new(html: String, errors: FieldErrors) -> PreviewAnswer {
        let errors = errors
            .into_iter()
            .map(|(field, message)| (field, crate::french::typeset_plain(&message)))
            .collect();
        PreviewAnswer { html, errors }
    }
}

/// Splits a service error into a field error, which the form shows next to
/// its field, and anything else, which becomes an error page.
pub fn field_error(error: ServiceError) -> Result<(&'static str, String), AppError> {
    let Some(field) = error.field() else {
        return Err(error.into());
    };
    let message = error.to_string();
    // The API and the CLI ask for initials, a login or an e-mail; the
    // screens pick users from a list, where nothing can be typed.
    if error.code() == "missing_user"
        && let Some((label, _)) = message.split_once(" : ")
    {
        return Ok((
            field,
            format!("{label} : choisissez un utilisateur dans la liste"),
        ));
    }
    Ok((field, message))
}

fn compute_preview(
    store: &dyn Store,
    form: &ReassignForm,
) -> Result<(ReassignPreview, FieldErrors), AppError> {
    let mut errors = FieldErrors::new();
    if form.from.trim().is_empty() || form.to.trim().is_empty() {
        let hint = "Choisissez « de » et « vers » pour voir combien de contacts seront réaffectés.";
        return Ok((
            ReassignPreview {
                hint: Some(hint),
                summary: None,
            },
            errors,
        ));
    }
    let prepared = match prepare_user_reassignment(store, &form.from, &form.to) {
        Ok(prepared) => prepared,
        Err(error) => {
            let (field, message) = field_error(error)?;
            errors.insert(field, message);
            for problem in user_form_problems(store, &form.from, &form.to)? {
                let (field, message) = field_error(problem)?;
                errors.entry(field).or_insert(message);
            }
            return Ok((
                ReassignPreview {
                    hint: Some(fix_fields_hint(errors.len())),
                    summary: None,
                },
                errors,
            ));
        }
    };
    let outcome = preview_user_reassignment(store, &prepared)?;
    let filter = ContactFilter {
        owner: Some(prepared.from.id),
        ..ContactFilter::default()
    };
    let sample = store.list_contacts(&filter, Page::first(SAMPLE_SIZE))?;
    let summary = ReassignSummary {
        from_name: crate::french::de(&prepared.from.display_name()),
        params_key: super::params_key(&prepared.params),
        to_name: prepared.to.display_name(),
        counts: CountsView::new(&outcome),
        sample: contact_rows(&sample.contacts),
    };
    Ok((
        ReassignPreview {
            hint: None,
            summary: Some(summary),
        },
        errors,
    ))
}

/// Live preview for the dialog's script: JSON with the HTML and errors.
pub async fn preview(
    State(state): State<AppState>,
    AdminUser(_session): AdminUser,
    QueryData(form): QueryData<ReassignForm>,
) -> Result<Response, PageError> {
    let (preview, errors) = state
        .run(move |store| compute_preview(store, &form))
        .await?;
    let html = render(&preview)?.0;
    Ok(Json(PreviewAnswer::new(html, errors)).into_response())
}

async fn dialog(
    state: &AppState,
    session: &Session,
    form: ReassignForm,
    status: StatusCode,
    mut errors: FieldErrors,
) -> Result<Response, PageError> {
    let show_preview = !form.from.is_empty() || !form.to.is_empty();
    let query = form.clone();
    let (users, last_batch, preview, preview_errors) = state
        .run(move |store| {
            let users: Vec<User> = store.list_users()?;
            let (_, last_batch) = store.data_version()?;
            let (preview, errors) = if show_preview {
                compute_preview(store, &query)?
            } else {
                let hint = "Choisissez « de » et « vers » pour voir combien de contacts seront réaffectés.";
                (ReassignPreview { hint: Some(hint), summary: None }, FieldErrors::new())
            };
            Ok((users, last_batch, preview, errors))
        })
        .await?;
    for (field, message) in preview_errors {
        errors.entry(field).or_insert(message);
    }

    let key = if form.idempotency_key.is_empty() {
        new_form_key()
    } else {
        form.idempotency_key.clone()
    };
    let page = ReassignPage {
        layout: Layout::new(session, "Réaffecter", "reassign"),
        from: UserPicker::new("from", "de", &users, &form.from, true)
            .with_help("L'utilisateur qui cède ses contacts, souvent parti : il peut être inactif.")
            .with_error(errors.remove("from")),
        to: UserPicker::new("to", "vers", &users, &form.to, false)
            .with_help("L'utilisateur qui les reçoit ; il doit être actif.")
            .with_error(errors.remove("to")),
        preview,
        idempotency_key: key,
        // A form sent back with an error keeps the version it was first
        // shown with, because its user has not seen the batches since.
        last_batch: match parse_last_batch(&form.last_batch) {
            Some(shown) => shown.to_string(),
            None => last_batch.to_string(),
        },
    };
    Ok(no_store((status, render(&page)?).into_response()))
}

/// Shows the « Réaffecter » dialog. Query parameters `from` and `to`
/// pre-fill it and show the preview without script.
pub async fn show(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    QueryData(mut form): QueryData<ReassignForm>,
) -> Result<Response, PageError> {
    form.idempotency_key = String::new();
    dialog(&state, &session, form, StatusCode::OK, FieldErrors::new()).await
}

/// Valider: applies the reassignment once per form (idempotency key), and
/// not at all when the same reassignment committed since the form was
/// shown. A run that recorded a batch redirects to its result page.
pub async fn apply(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    FormData(form): FormData<ReassignForm>,
) -> Result<Response, PageError> {
    let key = scoped_idempotency_key(session.user.id, &form.idempotency_key)?;
    let run = RunContextInput {
        actor: session.actor(),
        idempotency_key: Some(key),
    };
    let (from, to) = (form.from.clone(), form.to.clone());
    let last_batch = checked_last_batch(&form.last_batch)?;
    let result = state
        .run(
            move |store| match prepare_user_reassignment(store, &from, &to) {
                Ok(prepared) => {
                    let done = done_since(
                        store,
                        BatchKind::Reassign,
                        &prepared.params,
                        last_batch,
                        run.idempotency_key.as_deref(),
                    )?;
                    if let Some(id) = done {
                        return Ok(Ok(Err(id)));
                    }
                    let applied = apply_user_reassignment(store, &prepared, run)?;
                    Ok(Ok(Ok((prepared, applied))))
                }
                Err(error) => {
                    let mut errors = FieldErrors::from([field_error(error)?]);
                    if !errors.contains_key("to")
                        && let Some(target) = check_user_target(store, &to)
                    {
                        let (field, message) = field_error(target)?;
                        errors.insert(field, message);
                    }
                    Ok(Err(errors))
                }
            },
        )
        .await
        .map_err(form_key_error)?;

    match result {
        Ok(Err(done_id)) => Ok(redirect_to_done_since(done_id)),
        Ok(Ok((prepared, applied))) => {
            // A preview of other criteria, still in the form when Valider
            // was pressed before the new one came, announced nothing about
            // this run.
            let previewed = Previewed::of_form(
                &form.previewed,
                &form.previewed_for,
                &super::params_key(&prepared.params),
            );
            if let Some(redirect) = redirect_to_result(&applied, previewed, last_batch) {
                return Ok(redirect);
            }
            let page = RunResultPage {
                layout: Layout::new(&session, "Réaffecter : résultat", "reassign"),
                lead: result_lead(&applied, &prepared.to.display_name()),
                description: format!(
                    "Réaffecter {} vers {}.",
                    crate::french::de(&prepared.from.display_name()),
                    prepared.to.display_name()
                ),
                counts: CountsView::new(&applied.outcome),
                batch_id: applied.batch_id,
                replayed: applied.replayed,
                again_href: "/admin/reassign",
                notice: run_notice(previewed, applied.outcome.changed),
            };
            Ok(render(&page)?.into_response())
        }
        Err(errors) => {
            dialog(
                &state,
                &session,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            )
            .await
        }
    }
}

/// Asks to correct the fields flagged, in the singular for one.
pub fn fix_fields_hint(flagged: usize) -> &'static str {
    if flagged > 1 {
        "Corrigez les champs signalés pour voir l'aperçu."
    } else {
        "Corrigez le champ signalé pour voir l'aperçu."
    }
}
