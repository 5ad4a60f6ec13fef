//! JSON bodies of the API. Field names are those of the CLI's `--json`
//! output, so that scripts can move from one to the other.

use serde_json::{Value, json};

use crate::domain::batch::{Applied, Outcome};
use crate::service::reassign::{PreparedRegionReassignment, PreparedUserReassignment};
use crate::storage::{PrefixCount, RegionPreview};

pub use crate::service::json::{counts, undo};

pub fn user_reassignment(
    prepared: &PreparedUserReassignment,
    outcome: &Outcome,
    applied: Option<&Applied>,
) -> Value {
    let mut value = counts(outcome, applied);
    value["from"] = json!(prepared.from.initials);
    value["to"] = json!(prepared.to.initials);
    value
}

/// Body of a region preview. `typed_prefixes` are the per-prefix rows as
/// the postal field named them: `2A` is one row, not the store's `200` and
/// `201`.
pub fn region_preview(
    prepared: &PreparedRegionReassignment,
    preview: &RegionPreview,
    typed_prefixes: &[PrefixCount],
) -> Value {
    let mut value = counts(&preview.outcome, None);
    add_region_params(&mut value, prepared);
    value["per_prefix"] = json!(typed_prefixes);
    value["sample"] = json!(preview.sample);
    value
}

pub fn region_applied(prepared: &PreparedRegionReassignment, applied: &Applied) -> Value {
    let mut value = counts(&applied.outcome, Some(applied));
    add_region_params(&mut value, prepared);
    value
}

fn add_region_params(value: &mut Value, prepared: &PreparedRegionReassignment) {
    value["to"] = json!(prepared.to.initials);
    value["role"] = json!(prepared.request.roles.as_str());
    value["country"] = json!(prepared.request.country.as_str());
    value["postal"] = prepared.params["postal"].clone();
}
