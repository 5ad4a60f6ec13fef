//! Outils → Admin → Traitement des données en masse → Contacts →
//! Réaffecter par région, titled « Affectation des contacts par région »:
//! every contact with an address in the chosen country and postal prefixes
//! goes to one user.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;

use crate::domain::batch::BatchKind;
use crate::service::prefix_rows::typed_prefix_counts;
use crate::service::preview_cache::PreviewCache;
use crate::service::reassign::PreparedRegionReassignment;
use crate::service::reassign::{
    RunContextInput, apply_region_reassignment, prepare_region_reassignment, region_form_problems,
};
use crate::storage::Store;
use crate::web::auth::session::{AdminUser, Session};
use crate::web::error::AppError;
use crate::web::labels::{count, prefix_label};
use crate::web::state::AppState;

use super::error_page::PageError;
use super::extract::{FormData, QueryData};
use super::layout::Layout;
use super::picker::UserPicker;
use super::reassign::{FieldErrors, PreviewAnswer, field_error, fix_fields_hint};
use super::render;
use super::run_result::{
    Previewed, checked_last_batch, done_since, no_store, parse_last_batch, redirect_to_done_since,
    redirect_to_result, run_notice,
};
use super::views::{ContactRow, CountsView, RunResultPage, result_lead};
use crate::web::idempotency::{form_key_error, new_form_key, scoped_idempotency_key};

const DEFAULT_COUNTRY: &str = "FRA";

const HINT: &str = "Choisissez l'utilisateur et indiquez au moins un code postal (ou *) pour voir combien de contacts seront affectés.";

#[derive(Clone, Debug, Deserialize)]
pub struct RegionForm {
    #[serde(default)]
    to: String,
    #[serde(default = "default_country")]
    country: String,
    #[serde(default)]
    postal: String,
    #[serde(default = "default_role")]
    role: String,
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

fn default_country() -> String {
    DEFAULT_COUNTRY.to_string()
}

fn default_role() -> String {
    "commercial".to_string()
}

pub struct PrefixRow {
    pub label: String,
    pub matched: String,
}

pub struct RegionSummary {
    pub to_name: String,
    /// The role set, after « comme ».
    pub role: &'static str,
    pub country: String,
    /// The postal field, tidied as the journal shows it.
    pub codes: String,
    pub counts: CountsView,
    pub per_prefix: Vec<PrefixRow>,
    pub sample: Vec<ContactRow>,
    /// The operation's parameters as recorded, which the form sends back
    /// with the count so that Valider compares it only with a run of the
    /// same criteria.
    pub params_key: String,
}

#[derive(Template)]
#[template(path = "partials/region_preview.html")]
pub struct RegionPreviewPartial {
    pub hint: Option<&'static str>,
    pub summary: Option<RegionSummary>,
}

impl askama::filters::HtmlSafe for RegionPreviewPartial {}

pub struct RoleOption {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "reassign_region.html")]
struct RegionPage {
    layout: Layout,
    to: UserPicker,
    country: String,
    country_error: Option<String>,
    postal: String,
    postal_error: Option<String>,
    roles: Vec<RoleOption>,
    role_error: Option<String>,
    preview: RegionPreviewPartial,
    idempotency_key: String,
    last_batch: String,
}

fn hint_only(hint: &'static str) -> RegionPreviewPartial {
    RegionPreviewPartial {
        hint: Some(hint),
        summary: None,
    }
}

/// Returns every problem of the form, each next to its field: the user
/// only once one is chosen, so that a bad postal code shows its error
/// before a user is chosen.
fn form_problems(store: &dyn Store, form: &RegionForm) -> Result<FieldErrors, AppError> {
    let to = Some(form.to.as_str()).filter(|to| !to.trim().is_empty());
    let mut errors = FieldErrors::new();
    for problem in region_form_problems(store, to, &form.country, &form.postal, Some(&form.role))? {
        let (field, message) = field_error(problem)?;
        errors.entry(field).or_insert(message);
    }
    Ok(errors)
}

fn compute_preview(
    store: &dyn Store,
    previews: &PreviewCache,
    form: &RegionForm,
) -> Result<(RegionPreviewPartial, FieldErrors), AppError> {
    let mut errors = FieldErrors::new();
    if form.postal.trim().is_empty() {
        return Ok((hint_only(HINT), errors));
    }
    if form.to.trim().is_empty() {
        let errors = form_problems(store, form)?;
        if !errors.is_empty() {
            return Ok((hint_only(fix_fields_hint(errors.len())), errors));
        }
        return Ok((hint_only(HINT), errors));
    }
    let prepared = match prepare_region_reassignment(
        store,
        &form.to,
        &form.country,
        &form.postal,
        Some(&form.role),
    ) {
        Ok(prepared) => prepared,
        Err(error) => {
            let (field, message) = field_error(error)?;
            errors.insert(field, message);
            for (field, message) in form_problems(store, form)? {
                errors.entry(field).or_insert(message);
            }
            return Ok((hint_only(fix_fields_hint(errors.len())), errors));
        }
    };
    let preview = previews.region_preview(store, &prepared)?;
    let per_prefix = typed_prefix_counts(&prepared, &preview, |departement| {
        Ok(previews.region_preview(store, departement)?.outcome.matched)
    })?;
    let country = &prepared.request.country;
    let summary = RegionSummary {
        params_key: super::params_key(&prepared.params),
        to_name: prepared.to.display_name(),
        role: crate::french::role_choice_fr(prepared.request.roles),
        country: format!("{} ({})", country.name_fr(), country.as_str()),
        codes: crate::french::postal_field_summary(&form.postal),
        counts: CountsView::new(&preview.outcome),
        per_prefix: per_prefix
            .iter()
            .map(|prefix| PrefixRow {
                label: prefix_label(&prefix.prefix, country),
                matched: count(prefix.matched),
            })
            .collect(),
        sample: sample_rows(&preview.sample, &prepared),
    };
    Ok((
        RegionPreviewPartial {
            hint: None,
            summary: Some(summary),
        },
        errors,
    ))
}

/// Rows of the preview sample. The dialog shows one address per contact:
/// the one that matched the region, so the sample explains the count.
fn sample_rows(
    contacts: &[crate::storage::Contact],
    prepared: &PreparedRegionReassignment,
) -> Vec<ContactRow> {
    let in_region = |address: &crate::storage::Address| {
        prepared
            .request
            .covers(&address.country, &address.postal_norm)
    };
    contacts
        .iter()
        .map(|contact| {
            let mut row = ContactRow::new(contact);
            if !in_region(&contact.pro) && in_region(&contact.perso) {
                row.pro = row.perso.take();
            }
            row
        })
        .collect()
}

/// Live preview for the dialog's script: JSON with the HTML and errors.
pub async fn preview(
    State(state): State<AppState>,
    AdminUser(_session): AdminUser,
    QueryData(form): QueryData<RegionForm>,
) -> Result<Response, PageError> {
    let previews = std::sync::Arc::clone(&state.previews);
    let (preview, errors) = state
        .run(move |store| compute_preview(store, &previews, &form))
        .await?;
    let html = render(&preview)?.0;
    Ok(Json(PreviewAnswer::new(html, errors)).into_response())
}

async fn dialog(
    state: &AppState,
    session: &Session,
    form: RegionForm,
    status: StatusCode,
    mut errors: FieldErrors,
) -> Result<Response, PageError> {
    let query = form.clone();
    let previews = std::sync::Arc::clone(&state.previews);
    let (users, last_batch, preview, preview_errors) = state
        .run(move |store| {
            let users = store.list_users()?;
            let (_, last_batch) = store.data_version()?;
            let (preview, errors) = compute_preview(store, &previews, &query)?;
            Ok((users, last_batch, preview, errors))
        })
        .await?;
    for (field, message) in preview_errors {
        errors.entry(field).or_insert(message);
    }

    let role = form.role.trim().to_lowercase();
    let roles = [
        ("commercial", "commercial"),
        ("technical", "technique"),
        ("both", "les deux"),
    ]
    .into_iter()
    .map(|(value, label)| RoleOption {
        value,
        label,
        checked: role == value || (value == "commercial" && role.is_empty()),
    })
    .collect();
    let key = if form.idempotency_key.is_empty() {
        new_form_key()
    } else {
        form.idempotency_key.clone()
    };
    let page = RegionPage {
        layout: Layout::new(session, "Affectation des contacts par région", "region"),
        to: UserPicker::new("to", "Affecter à l'utilisateur", &users, &form.to, false)
            .with_error(errors.remove("to")),
        country: form.country,
        country_error: errors.remove("country"),
        postal: form.postal,
        postal_error: errors.remove("postal"),
        roles,
        role_error: errors.remove("role"),
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

/// Shows the dialog. Query parameters pre-fill it and show the preview
/// without script.
pub async fn show(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    QueryData(mut form): QueryData<RegionForm>,
) -> Result<Response, PageError> {
    form.idempotency_key = String::new();
    dialog(&state, &session, form, StatusCode::OK, FieldErrors::new()).await
}

/// Valider: applies the region reassignment once per form, and not at all
/// when the same reassignment committed since the form was shown. A run
/// that recorded a batch redirects to its result page.
pub async fn apply(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    FormData(form): FormData<RegionForm>,
) -> Result<Response, PageError> {
    let key = scoped_idempotency_key(session.user.id, &form.idempotency_key)?;
    let run = RunContextInput {
        actor: session.actor(),
        idempotency_key: Some(key),
    };
    let request = form.clone();
    let last_batch = checked_last_batch(&form.last_batch)?;
    let result = state
        .run(move |store| {
            let prepared = prepare_region_reassignment(
                store,
                &request.to,
                &request.country,
                &request.postal,
                Some(&request.role),
            );
            match prepared {
                Ok(prepared) => {
                    let kind = BatchKind::ReassignRegion;
                    let key = run.idempotency_key.as_deref();
                    if let Some(id) = done_since(store, kind, &prepared.params, last_batch, key)? {
                        return Ok(Ok(Err(id)));
                    }
                    let applied = apply_region_reassignment(store, &prepared, run)?;
                    Ok(Ok(Ok((prepared, applied))))
                }
                Err(error) => {
                    let mut errors = FieldErrors::from([field_error(error)?]);
                    for (field, message) in form_problems(store, &request)? {
                        errors.entry(field).or_insert(message);
                    }
                    Ok(Err(errors))
                }
            }
        })
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
                layout: Layout::new(&session, "Réaffecter par région : résultat", "region"),
                lead: result_lead(&applied, &prepared.to.display_name()),
                description: crate::french::region_run_description(
                    &prepared.to.display_name(),
                    prepared.request.roles,
                    &prepared.request.country,
                    &form.postal,
                ),
                counts: CountsView::new(&applied.outcome),
                batch_id: applied.batch_id,
                replayed: applied.replayed,
                again_href: "/admin/reassign-region",
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
