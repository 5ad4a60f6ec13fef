//! Preparing and running the two mass reassignments, and undo.

use std::collections::HashMap;

use serde_json::json;

use crate::domain::batch::{
    Applied, Batch, BatchId, RegionReassignment, UndoPreview, UndoResult, UserReassignment,
};
use crate::domain::contact::RoleChoice;
use crate::domain::country::{CountryCode, CountryError};
use crate::domain::postal::parse_region_postal_field;
use crate::domain::user::User;
use crate::storage::{RegionPreview, RunContext, Store};

use super::ServiceError;

/// A user reassignment checked against the users table.
#[derive(Clone, Debug)]
pub struct PreparedUserReassignment {
    pub request: UserReassignment,
    pub from: User,
    pub to: User,
    /// Parameters as entered, for the batch journal.
    pub params: serde_json::Value,
}

/// A region reassignment checked and parsed.
#[derive(Clone, Debug)]
pub struct PreparedRegionReassignment {
    pub request: RegionReassignment,
    pub to: User,
    pub params: serde_json::Value,
}

fn find_user(
    store: &dyn Store,
    field: &'static str,
    label: &str,
    key: &str,
) -> Result<User, ServiceError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(ServiceError::invalid(
            "missing_user",
            field,
            format!("{label} : indiquez un utilisateur (initiales, identifiant ou e-mail)"),
        ));
    }
    store.find_user(key)?.ok_or_else(|| {
        ServiceError::invalid(
            "unknown_user",
            field,
            format!(
                "{label} : aucun utilisateur « {key} » ; indiquez ses initiales, son identifiant ou son e-mail"
            ),
        )
    })
}

fn check_target_active(field: &'static str, label: &str, user: &User) -> Result<(), ServiceError> {
    if user.active {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "inactive_target",
            field,
            format!(
                "{label} : le compte {} est désactivé ; choisissez un utilisateur actif ou réactivez ce compte d'abord",
                crate::french::de(&user.display_name())
            ),
        ))
    }
}

/// Checks « vers » alone: it exists and is active. A form whose « de » is
/// wrong shows this error too, so that one correction fixes both fields.
pub fn check_user_target(store: &dyn Store, to: &str) -> Option<ServiceError> {
    match find_user(store, "to", "vers", to) {
        Ok(user) => check_target_active("to", "vers", &user).err(),
        Err(error) => Some(error),
    }
}

/// Checks « de » and « vers »: both exist, differ, and « vers » is active.
/// « de » may be inactive, the usual case when someone has left.
pub fn prepare_user_reassignment(
    store: &dyn Store,
    from: &str,
    to: &str,
) -> Result<PreparedUserReassignment, ServiceError> {
    let from_user = find_user(store, "from", "de", from)?;
    let to_user = find_user(store, "to", "vers", to)?;
    if from_user.id == to_user.id {
        return Err(ServiceError::invalid(
            "same_user",
            "to",
            format!(
                "vers : {} est aussi l'utilisateur de départ ; choisissez deux utilisateurs différents",
                to_user.display_name()
            ),
        ));
    }
    check_target_active("to", "vers", &to_user)?;
    Ok(PreparedUserReassignment {
        request: UserReassignment {
            from: from_user.id,
            to: to_user.id,
        },
        params: json!({ "from": from_user.initials, "to": to_user.initials }),
        from: from_user,
        to: to_user,
    })
}

/// Checks both users of a user reassignment on their own, so that two
/// unknown users are both reported, where `prepare_user_reassignment`
/// stops at the first.
pub fn user_form_problems(
    store: &dyn Store,
    from: &str,
    to: &str,
) -> Result<Vec<ServiceError>, ServiceError> {
    let mut problems = Vec::new();
    let mut found = |field: &'static str, label: &'static str, value: &str| match find_user(
        store, field, label, value,
    ) {
        Ok(user) => Ok(Some(user)),
        Err(error) if error.is_client_error() => {
            problems.push(error);
            Ok(None)
        }
        Err(error) => Err(error),
    };
    let from_user = found("from", "de", from)?;
    let to_user = found("to", "vers", to)?;
    match (from_user, to_user) {
        (Some(_), Some(_)) => match prepare_user_reassignment(store, from, to) {
            Ok(_) => {}
            Err(error) if error.is_client_error() => problems.push(error),
            Err(error) => return Err(error),
        },
        (None, Some(to_user)) => problems.extend(check_target_active("to", "vers", &to_user).err()),
        _ => {}
    }
    Ok(problems)
}

/// Reads the country of a region form, as `prepare_region_reassignment`
/// does.
fn parse_region_country(country: &str) -> Result<CountryCode, ServiceError> {
    match CountryCode::parse_selection(country) {
        Ok(Some(code)) => Ok(code),
        Ok(None) => Err(ServiceError::invalid(
            "missing_country",
            "country",
            "code pays : indiquez un pays, par exemple FRA",
        )),
        Err(error @ CountryError::FrenchOverseas { .. }) => Err(ServiceError::invalid(
            "overseas_country",
            "country",
            format!("code pays : {error}"),
        )),
        Err(error @ CountryError::Unknown(_)) => Err(ServiceError::invalid(
            "unknown_country",
            "country",
            format!("code pays : {error}"),
        )),
    }
}

/// Reads the role of a region form: commercial when absent. A role given
/// empty is refused rather than taken for the default, since it usually
/// comes from a script whose variable was not set.
fn parse_role_choice(role: Option<&str>) -> Result<RoleChoice, ServiceError> {
    match role.map(str::trim) {
        None => Ok(RoleChoice::Commercial),
        Some("") => Err(ServiceError::invalid(
            "invalid_role",
            "role",
            "rôle : valeur vide ; choisissez commercial, technique ou les deux (commercial, technical ou both)",
        )),
        Some(value) => RoleChoice::parse(value).ok_or_else(|| {
            ServiceError::invalid(
                "invalid_role",
                "role",
                format!(
                    "rôle : « {value} » inconnu ; choisissez commercial, technique ou les deux (commercial, technical ou both)"
                ),
            )
        }),
    }
}

/// Checks each field of a region form on its own, so that a form with
/// several mistakes shows all of them, where `prepare_region_reassignment`
/// stops at the first. `to` is `None` until a user is chosen. A postal
/// field next to an invalid country is checked for what every country
/// refuses (`%`, `*` with other codes), as French codes are.
pub fn region_form_problems(
    store: &dyn Store,
    to: Option<&str>,
    country: &str,
    postal: &str,
    role: Option<&str>,
) -> Result<Vec<ServiceError>, ServiceError> {
    let mut problems = Vec::new();
    if let Some(to) = to {
        match find_user(store, "to", "affecter à l'utilisateur", to) {
            Ok(user) => {
                problems.extend(check_target_active("to", "affecter à l'utilisateur", &user).err())
            }
            Err(error) if error.is_client_error() => problems.push(error),
            Err(error) => return Err(error),
        }
    }
    let postal_problem = match parse_region_country(country) {
        Ok(code) => parse_region_postal_field(postal, &code).err(),
        Err(error) => {
            problems.push(error);
            crate::domain::postal::parse_postal_field(postal, &CountryCode::france()).err()
        }
    };
    if let Some(error) = postal_problem {
        problems.push(ServiceError::invalid(
            "invalid_postal",
            "postal",
            error.to_string(),
        ));
    }
    problems.extend(parse_role_choice(role).err());
    Ok(problems)
}

/// Checks the region form: an active target user, a known country and a
/// valid postal field.
pub fn prepare_region_reassignment(
    store: &dyn Store,
    to: &str,
    country: &str,
    postal: &str,
    role: Option<&str>,
) -> Result<PreparedRegionReassignment, ServiceError> {
    let to_user = find_user(store, "to", "affecter à l'utilisateur", to)?;
    check_target_active("to", "affecter à l'utilisateur", &to_user)?;
    let country_code = parse_region_country(country)?;
    let selection = parse_region_postal_field(postal, &country_code)
        .map_err(|error| ServiceError::invalid("invalid_postal", "postal", error.to_string()))?;
    let roles = parse_role_choice(role)?;

    Ok(PreparedRegionReassignment {
        params: json!({
            "to": to_user.initials,
            "country": country_code.as_str(),
            // The codes as matched, each once and sorted, so that a retry
            // of the same selection written otherwise (`51;51`, `2a, 51`)
            // is the same request for its idempotency key.
            "postal": sorted_codes(postal),
            "role": roles.as_str(),
        }),
        request: RegionReassignment {
            to: to_user.id,
            country: country_code,
            postal: selection,
            roles,
        },
        to: to_user,
    })
}

/// Returns the codes of a postal field in capitals, each once, sorted and
/// separated by `;`: `2a, 51;51` gives `2A;51`.
fn sorted_codes(postal: &str) -> String {
    let mut codes = crate::french::postal_field_codes(postal);
    codes.sort();
    codes.join(";")
}

pub fn preview_user_reassignment(
    store: &dyn Store,
    prepared: &PreparedUserReassignment,
) -> Result<crate::domain::batch::Outcome, ServiceError> {
    Ok(store.preview_user_reassignment(&prepared.request)?)
}

pub fn apply_user_reassignment(
    store: &dyn Store,
    prepared: &PreparedUserReassignment,
    run: RunContextInput,
) -> Result<Applied, ServiceError> {
    let run = run.into_context(prepared.params.clone());
    let applied = store.apply_user_reassignment(&prepared.request, &run)?;
    tracing::info!(
        batch.id = applied.batch_id,
        batch.changed = applied.outcome.changed,
        batch.replayed = applied.replayed,
        from = %prepared.from.initials,
        to = %prepared.to.initials,
        "user reassignment applied"
    );
    Ok(applied)
}

pub fn preview_region_reassignment(
    store: &dyn Store,
    prepared: &PreparedRegionReassignment,
) -> Result<RegionPreview, ServiceError> {
    Ok(store.preview_region_reassignment(&prepared.request)?)
}

pub fn apply_region_reassignment(
    store: &dyn Store,
    prepared: &PreparedRegionReassignment,
    run: RunContextInput,
) -> Result<Applied, ServiceError> {
    let run = run.into_context(prepared.params.clone());
    let applied = store.apply_region_reassignment(&prepared.request, &run)?;
    tracing::info!(
        batch.id = applied.batch_id,
        batch.changed = applied.outcome.changed,
        batch.replayed = applied.replayed,
        to = %prepared.to.initials,
        params = %prepared.params,
        "region reassignment applied"
    );
    Ok(applied)
}

/// Computes what [`undo_batch`] would do now, without changing anything:
/// the CLI's `undo --dry-run` and the web confirmation page show it.
pub fn preview_undo(store: &dyn Store, batch: BatchId) -> Result<UndoPreview, ServiceError> {
    Ok(store.preview_undo(batch)?)
}

pub fn undo_batch(
    store: &dyn Store,
    batch: BatchId,
    run: RunContextInput,
) -> Result<UndoResult, ServiceError> {
    let run = run.into_context(json!({ "batch": batch }));
    let mut result = store.undo_batch(batch, &run)?;
    // A replay returns the counts stored with the undo. Its skipped
    // entries are read back from the history, so a retried call lists what
    // the first one did; an undo that gave nothing back had skipped them
    // all.
    if result.applied.replayed {
        result.skipped = store.undo_skipped(batch, result.applied.batch_id)?;
    }
    tracing::info!(
        batch.id = result.applied.batch_id,
        batch.undone = batch,
        batch.changed = result.applied.outcome.changed,
        batch.skipped = result.skipped.len(),
        "batch undone"
    );
    Ok(result)
}

/// Maximum length of an idempotency key, from a form, a header or the
/// command line.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 100;

/// Actor and idempotency key of a run. Each operation adds its own
/// parameters.
#[derive(Clone, Debug)]
pub struct RunContextInput {
    pub actor: crate::domain::batch::Actor,
    pub idempotency_key: Option<String>,
}

impl RunContextInput {
    fn into_context(self, params: serde_json::Value) -> RunContext {
        RunContext {
            actor: self.actor,
            params,
            idempotency_key: self.idempotency_key,
            now: chrono::Utc::now(),
        }
    }
}

/// Lists, for each batch of `batches` that was undone, the undos that
/// followed it: its undo, the undo of that undo, and so on, so that the
/// journal can tell whether its changes are back. Undos listed in
/// `batches` are read from it, the others from the store.
pub fn undo_chains(
    store: &dyn Store,
    batches: &[Batch],
) -> Result<HashMap<BatchId, Vec<BatchId>>, ServiceError> {
    let listed: HashMap<BatchId, &Batch> = batches.iter().map(|batch| (batch.id, batch)).collect();
    let mut chains = HashMap::new();
    for batch in batches.iter().filter(|batch| batch.undone_by.is_some()) {
        let chain = crate::storage::undo_chain(batch, |id| match listed.get(&id) {
            Some(undo) => Ok(Some((*undo).clone())),
            None => store.batch(id),
        })?;
        chains.insert(batch.id, chain);
    }
    Ok(chains)
}

/// Parses a batch number as typed (`12` or `n° 12`).
pub fn parse_batch_id(input: &str) -> Result<BatchId, ServiceError> {
    let digits = input.trim().trim_start_matches("n°").trim();
    // A number past the 64-bit range names no operation, but it is a
    // number, so the message calls it too large rather than not a number.
    if digits.len() > 1
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<BatchId>().is_err()
    {
        return Err(ServiceError::invalid(
            "invalid_batch_id",
            "batch",
            format!(
                "opération : « {input} » est trop grand pour un numéro d'opération ; la liste des opérations est donnée par le journal (relais batches)"
            ),
        ));
    }
    digits.parse::<BatchId>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ServiceError::invalid(
            "invalid_batch_id",
            "batch",
            format!("numéro d'opération « {input} » invalide ; indiquez un nombre entier à partir de 1, par exemple 12"),
        )
    })
}
