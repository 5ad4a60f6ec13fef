//! JSON forms of operation results, shared by the CLI's `--json` output and
//! the API, so that a script can move from one to the other.

use serde_json::{Value, json};

use crate::domain::batch::{Applied, Batch, BatchKind, Outcome, UndoPreview, UndoResult};

/// Counts of an operation, previewed (`applied` is `None`) or run.
pub fn counts(outcome: &Outcome, applied: Option<&Applied>) -> Value {
    json!({
        "batch_id": applied.and_then(|applied| applied.batch_id),
        "dry_run": applied.is_none(),
        "replayed": applied.is_some_and(|applied| applied.replayed),
        "matched": outcome.matched,
        "changed": outcome.changed,
        "already_owned": outcome.already_owned,
        "history_entries": outcome.history_entries,
        "commercial": outcome.commercial,
        "technical": outcome.technical,
    })
}

/// Returns a batch of the journal as JSON. An undo also gets
/// `skipped_contacts`, as in its result: the contacts it left unchanged on
/// every role, which its `already_owned` counts too.
pub fn batch(batch: &Batch) -> Value {
    let mut value = json!(batch);
    if batch.kind == BatchKind::Undo {
        value["skipped_contacts"] = json!(batch.outcome.already_owned);
    }
    value
}

/// Result of an undo. `skipped_contacts` repeats `already_owned` under the
/// name that fits an undo: contacts left as they were on every role,
/// because their owner changed after the batch.
pub fn undo(result: &UndoResult) -> Value {
    let mut value = counts(&result.applied.outcome, Some(&result.applied));
    value["undone_batch"] = json!(result.undone_batch);
    value["skipped_contacts"] = json!(result.applied.outcome.already_owned);
    value["skipped"] = json!(result.skipped);
    value
}

/// Returns what undoing a batch would do now: its counts, the contacts given
/// back to each previous owner, and the entries it would skip.
pub fn undo_preview(preview: &UndoPreview) -> Value {
    let mut value = counts(&preview.outcome, None);
    value["undone_batch"] = json!(preview.undone_batch);
    value["skipped_contacts"] = json!(preview.outcome.already_owned);
    value["returns"] = preview
        .returns
        .iter()
        .map(|owner_return| {
            json!({
                "role": owner_return.role,
                "owner": owner_return.owner.as_ref().map(|owner| &owner.initials),
                "owner_active": owner_return.owner_active,
                "contacts": owner_return.contacts,
            })
        })
        .collect();
    value["skipped_per_role"] = json!({
        "commercial": preview.skipped_commercial,
        "technical": preview.skipped_technical,
    });
    value["skipped"] = json!(preview.skipped);
    value
}
