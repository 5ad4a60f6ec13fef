//! The result page of Valider, reached by POST-redirect-GET, and the check
//! that keeps a stale form from running an operation done since it was
//! shown.
//!
//! Valider returns 303 to `/admin/batches/{id}/result`, so Back and reload
//! never send the form again. The dialogs are sent with `no-store`, so Back
//! fetches them again with the current preview. A form also carries the
//! highest batch id it was shown with (`last_batch`): when a batch of the
//! same kind and parameters has committed since, the form shows that batch
//! instead of running again, whatever its idempotency key.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::batch::{Applied, BatchId, BatchKind};
use crate::service::reassign::parse_batch_id;
use crate::storage::Store;
use crate::web::auth::session::AdminUser;
use crate::web::error::AppError;
use crate::web::state::AppState;

use super::error_page::PageError;
use super::extract::QueryData;
use super::layout::Layout;
use super::render;
use super::views::{CountsView, RunResultPage, result_lead};

/// Batches read per query, newest first, when looking for one done since a
/// form was shown.
const BATCH_PAGE: u32 = 200;

/// Reason the result page shows a batch that this request did not run.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResultNote {
    /// The same form, with the same key, was validated before.
    Replayed,
    /// The same operation committed after the form was shown.
    DoneSince,
}

#[derive(Deserialize)]
pub struct ResultQuery {
    note: Option<ResultNote>,
    /// Contacts the preview announced, when the run changed another
    /// number, or `other` when the preview was of other criteria.
    #[serde(default)]
    previewed: Option<String>,
    /// Highest batch id the form was shown with, when others were
    /// numbered before this run.
    #[serde(default)]
    since: Option<String>,
}

/// Adds `Cache-Control: no-store`, so that Back fetches the page again.
pub fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Reads the `last_batch` field of a form: the highest batch id when the
/// form was shown, or `None` when absent or unreadable.
pub fn parse_last_batch(value: &str) -> Option<BatchId> {
    value.trim().parse::<BatchId>().ok().filter(|id| *id >= 0)
}

/// Reads the `last_batch` field of a form sent to run an operation. A value
/// that is not a batch id is refused rather than taken as absent: the field
/// is what keeps a second tab from running the operation again.
pub fn checked_last_batch(value: &str) -> Result<Option<BatchId>, AppError> {
    match parse_last_batch(value) {
        None if !value.trim().is_empty() => Err(AppError::bad_request(
            "invalid_form",
            "formulaire modifié : un champ caché n'est plus valide ; rechargez la page et validez de nouveau",
        )),
        parsed => Ok(parsed),
    }
}

/// Reads the `previewed` field of a form: the contacts to change that the
/// preview showed when Valider was pressed, or `None` when the form was
/// sent without a preview.
pub fn parse_previewed(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok()
}

/// Preview state of a form, compared with the operation Valider ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Previewed {
    /// The form was sent without a preview.
    Nothing,
    /// The preview was of these criteria and announced this many contacts.
    Count(u64),
    /// The preview was of other criteria: the fields changed after it,
    /// and Valider was pressed before the new one came.
    OtherCriteria,
}

impl Previewed {
    /// Reads the `previewed` and `previewed_for` fields of a form against
    /// the key of the parameters the run used.
    pub fn of_form(previewed: &str, previewed_for: &str, params_key: &str) -> Previewed {
        match parse_previewed(previewed) {
            None => Previewed::Nothing,
            Some(count) if previewed_for == params_key => Previewed::Count(count),
            Some(_) => Previewed::OtherCriteria,
        }
    }

    /// Returns the count announced for these criteria, if any.
    pub fn count(self) -> Option<u64> {
        match self {
            Previewed::Count(count) => Some(count),
            Previewed::Nothing | Previewed::OtherCriteria => None,
        }
    }
}

/// Returns the notice of a run's result page shown without a redirect:
/// the preview was of other criteria, or it announced another number of
/// contacts.
pub fn run_notice(previewed: Previewed, changed: u64) -> Option<String> {
    match previewed {
        Previewed::OtherCriteria => Some(OTHER_CRITERIA_NOTICE.to_string()),
        _ => preview_changed_notice(previewed.count(), changed, TO_REASSIGN),
    }
}

/// Warns that the preview shown when Valider was pressed was of other
/// criteria than those the form sent.
pub const OTHER_CRITERIA_NOTICE: &str = "L'aperçu affiché quand vous avez validé portait sur \
     d'autres critères que ceux envoyés : la saisie avait changé depuis. Les nombres ci-dessous \
     sont ceux de l'opération appliquée, selon les critères ci-dessus ; si ce n'était pas voulu, \
     annulez-la.";

/// Warns that the data changed between the preview and the run, which then
/// changed `changed` contacts instead of the `previewed` announced. `unit`
/// is the singular and plural of what the preview counted (« contact à
/// réaffecter »). Returns `None` when both agree or the form had no preview.
pub fn preview_changed_notice(
    previewed: Option<u64>,
    changed: u64,
    unit: (&str, &str),
) -> Option<String> {
    let previewed = previewed.filter(|previewed| *previewed != changed)?;
    let (singular, plural) = unit;
    let announced = if previewed == 0 {
        format!("aucun {singular}")
    } else {
        crate::french::plural(previewed, singular, plural)
    };
    let done = match changed {
        0 => "aucun ne l'a été".to_string(),
        1 => "1 contact l'a été".to_string(),
        _ => format!("{} contacts l'ont été", crate::french::count(changed)),
    };
    // With nothing changed no operation was recorded, so the counts are
    // those found at « Valider », not those of an operation.
    let counts = if changed == 0 {
        "Les nombres ci-dessous sont ceux constatés au moment de valider."
    } else {
        "Les nombres ci-dessous sont ceux de l'opération appliquée."
    };
    Some(format!(
        "Les données ont changé depuis l'aperçu : il annonçait {announced}, et {done}. {counts}"
    ))
}

/// Unit a reassignment preview counts, for `preview_changed_notice`.
pub const TO_REASSIGN: (&str, &str) = ("contact à réaffecter", "contacts à réaffecter");

/// Finds a batch of `kind` with `params` that committed after
/// `last_batch` and is not undone. A batch run with `key`, this very form
/// sent again, is left to the run, which replays it under the « déjà
/// validé » note. An undone batch no longer holds, so the form runs.
pub fn done_since(
    store: &dyn Store,
    kind: BatchKind,
    params: &serde_json::Value,
    last_batch: Option<BatchId>,
    key: Option<&str>,
) -> Result<Option<BatchId>, AppError> {
    let Some(last_batch) = last_batch else {
        return Ok(None);
    };
    // Pages go back until a batch the form already knew. A batch committed
    // meanwhile shifts the pages by one, so a batch may be read twice but
    // none is missed.
    let mut offset = 0;
    loop {
        let page = store.list_batches(BATCH_PAGE, offset)?;
        for batch in &page {
            if batch.id <= last_batch {
                return Ok(None);
            }
            if batch.kind == kind && batch.params == *params && !batch.undone {
                if key.is_some() && batch.idempotency_key.as_deref() == key {
                    return Ok(None);
                }
                return Ok(Some(batch.id));
            }
        }
        if page.len() < BATCH_PAGE as usize {
            return Ok(None);
        }
        offset += BATCH_PAGE;
    }
}

/// Returns the redirect to the result page of a run that recorded a
/// batch, or `None` when the run recorded none. The result page warns when
/// the run changed another number of contacts than `previewed`.
///
/// `last_batch` is the highest batch id the form was shown with: when
/// other batches were numbered since, the result page looks for those
/// that changed the same contacts and names them.
pub fn redirect_to_result(
    applied: &Applied,
    previewed: Previewed,
    last_batch: Option<BatchId>,
) -> Option<Response> {
    let id = applied.batch_id?;
    if applied.replayed {
        return Some(
            Redirect::to(&format!("/admin/batches/{id}/result?note=replayed")).into_response(),
        );
    }
    let mut query = Vec::new();
    match previewed {
        Previewed::Count(previewed) if previewed != applied.outcome.changed => {
            query.push(format!("previewed={previewed}"));
        }
        Previewed::OtherCriteria => query.push("previewed=other".to_string()),
        _ => {}
    }
    if let Some(since) = last_batch.filter(|since| id - since > 1) {
        query.push(format!("since={since}"));
    }
    let href = if query.is_empty() {
        format!("/admin/batches/{id}/result")
    } else {
        format!("/admin/batches/{id}/result?{}", query.join("&"))
    };
    Some(Redirect::to(&href).into_response())
}

/// Batches named at most by `overlap_notice`.
const OVERLAPS_NAMED: usize = 3;

/// Warns that batches committed after the form was shown had already
/// changed owners of the contacts this run changed. Two tabs validating
/// the same région for two users do so, and the last run's counts alone
/// do not show it. `None` when there are none.
pub fn overlap_notice(batches: &[BatchId]) -> Option<String> {
    let named: Vec<String> = batches
        .iter()
        .take(OVERLAPS_NAMED)
        .map(ToString::to_string)
        .collect();
    let (subject, after) = match named.as_slice() {
        [] => return None,
        [one] => (format!("l'opération n° {one} avait"), "elle"),
        [rest @ .., last] if batches.len() <= OVERLAPS_NAMED => (
            format!("les opérations n° {} et {last} avaient", rest.join(", ")),
            "elles",
        ),
        _ => (
            format!(
                "les opérations n° {} et d'autres encore avaient",
                named.join(", ")
            ),
            "elles",
        ),
    };
    Some(format!(
        "Depuis l'ouverture de ce formulaire, {subject} déjà changé le responsable de certains \
         de ces contacts ; cette opération-ci les a réaffectés après {after}. Si ce n'était pas \
         voulu, annulez cette opération."
    ))
}

/// Returns the redirect to the result of a batch done since the form was
/// shown.
pub fn redirect_to_done_since(id: BatchId) -> Response {
    Redirect::to(&format!("/admin/batches/{id}/result?note=done_since")).into_response()
}

fn user_name(store: &dyn Store, initials: &str) -> Result<String, AppError> {
    Ok(match store.find_user(initials)? {
        Some(user) => user.display_name(),
        None => initials.to_string(),
    })
}

fn param<'a>(params: &'a serde_json::Value, key: &str) -> &'a str {
    params
        .get(key)
        .and_then(|value| value.as_str())
        .unwrap_or_default()
}

/// Content of the result page: a rendered undo result, or a run, the
/// description of its parameters (`None` for an import) and the batches
/// that changed its contacts since its form was shown.
enum ResultContent {
    Undo(Result<Response, PageError>),
    Run(
        crate::domain::batch::Batch,
        Option<(String, String)>,
        Vec<BatchId>,
    ),
}

/// `GET /admin/batches/{id}/result`: the result of a reassignment, as
/// Valider showed it, or of an undo, as « Confirmer l'annulation » showed
/// it. Imports go to their journal page.
pub async fn show(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
    QueryData(query): QueryData<ResultQuery>,
) -> Result<Response, PageError> {
    let id = parse_batch_id(&id)?;
    let undo_session = session.clone();
    let note = query.note;
    let other_criteria = query.previewed.as_deref() == Some("other");
    let previewed = query.previewed.as_deref().and_then(parse_previewed);
    let since = query.since.as_deref().and_then(parse_last_batch);
    let found = state
        .run(move |store| {
            let Some(batch) = store.batch(id)? else {
                return Ok(None);
            };
            if batch.kind == BatchKind::Undo {
                return Ok(Some(ResultContent::Undo(super::batches::undo_result(
                    store,
                    &undo_session,
                    &batch,
                    note,
                    previewed,
                ))));
            }
            let params = &batch.params;
            let described = match batch.kind {
                BatchKind::Reassign => Some((
                    format!(
                        "Réaffecter {} vers {}.",
                        crate::french::de(&user_name(store, param(params, "from"))?),
                        user_name(store, param(params, "to"))?
                    ),
                    user_name(store, param(params, "to"))?,
                )),
                BatchKind::ReassignRegion => {
                    let to = user_name(store, param(params, "to"))?;
                    let country =
                        crate::domain::country::CountryCode::parse(param(params, "country"))
                            .ok()
                            .flatten()
                            .unwrap_or_else(crate::domain::country::CountryCode::france);
                    // Batches recorded before the role choice set the
                    // commercial owner.
                    let roles = crate::domain::contact::RoleChoice::parse(param(params, "role"))
                        .unwrap_or(crate::domain::contact::RoleChoice::Commercial);
                    Some((
                        crate::french::region_run_description(
                            &to,
                            roles,
                            &country,
                            param(params, "postal"),
                        ),
                        to,
                    ))
                }
                BatchKind::Undo | BatchKind::Import => None,
            };
            let overlaps = match (since, note) {
                (Some(since), None) if described.is_some() => {
                    store.batches_between_on_contacts(id, since, OVERLAPS_NAMED as u32 + 1)?
                }
                _ => Vec::new(),
            };
            Ok(Some(ResultContent::Run(batch, described, overlaps)))
        })
        .await?;
    let (batch, described, overlaps) = match found {
        Some(ResultContent::Undo(page)) => return page,
        Some(ResultContent::Run(batch, described, overlaps)) => (batch, described, overlaps),
        None => {
            return Err(AppError::not_found(
                "unknown_batch",
                format!("Aucune opération de masse n° {id}."),
            )
            .into());
        }
    };
    let Some((description, target_name)) = described else {
        return Ok(Redirect::to(&format!("/admin/batches/{id}")).into_response());
    };

    let applied = Applied {
        batch_id: Some(id),
        outcome: batch.outcome,
        replayed: query.note.is_some(),
    };
    let lead = match query.note {
        Some(ResultNote::DoneSince) => format!(
            "Cette opération a déjà été faite depuis l'ouverture de ce formulaire : opération de masse n° {id}, par {}. Elle n'a pas été refaite ; voici son résultat.",
            batch.actor
        ),
        _ => result_lead(&applied, &target_name),
    };
    let (title, menu, again_href) = match batch.kind {
        BatchKind::ReassignRegion => (
            "Réaffecter par région : résultat",
            "region",
            "/admin/reassign-region",
        ),
        _ => ("Réaffecter : résultat", "reassign", "/admin/reassign"),
    };
    let page = RunResultPage {
        layout: Layout::new(&session, title, menu),
        lead,
        description,
        counts: CountsView::new(&batch.outcome),
        batch_id: Some(id),
        replayed: applied.replayed,
        again_href,
        notice: match query.note {
            Some(_) => None,
            None => {
                let notices: Vec<String> = [
                    other_criteria.then(|| OTHER_CRITERIA_NOTICE.to_string()),
                    preview_changed_notice(previewed, batch.outcome.changed, TO_REASSIGN),
                    overlap_notice(&overlaps),
                ]
                .into_iter()
                .flatten()
                .collect();
                (!notices.is_empty()).then(|| notices.join(" "))
            }
        },
    };
    Ok(render(&page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_notice_names_up_to_three_batches() {
        let lead = |batches: &[BatchId]| {
            let notice = overlap_notice(batches).unwrap();
            notice.split(" déjà changé").next().unwrap().to_string()
        };

        assert_eq!(overlap_notice(&[]), None);
        assert_eq!(
            lead(&[11, 12]),
            "Depuis l'ouverture de ce formulaire, les opérations n° 11 et 12 avaient"
        );
        assert_eq!(
            lead(&[11, 12, 13]),
            "Depuis l'ouverture de ce formulaire, les opérations n° 11, 12 et 13 avaient"
        );
        assert_eq!(
            lead(&[11, 12, 13, 14]),
            "Depuis l'ouverture de ce formulaire, les opérations n° 11, 12, 13 et d'autres encore avaient"
        );
        assert!(overlap_notice(&[11, 12]).unwrap().contains("après elles."));
    }

    #[test]
    fn changed_notice_names_what_counts_show() {
        let applied = preview_changed_notice(Some(152), 140, TO_REASSIGN).unwrap();
        let nothing = preview_changed_notice(Some(152), 0, TO_REASSIGN).unwrap();

        assert!(
            applied.ends_with("ceux de l'opération appliquée."),
            "{applied}"
        );
        assert!(
            nothing.ends_with(
                "aucun ne l'a été. Les nombres ci-dessous sont ceux constatés au moment de valider."
            ),
            "{nothing}"
        );
        assert_eq!(preview_changed_notice(Some(152), 152, TO_REASSIGN), None);
    }
}
