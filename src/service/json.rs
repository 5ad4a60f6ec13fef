//! JSON forms of operation results, shared by the CLI's `--json` output and
//! the API, so that a script can move from one to the other.

use serde_json::{Value, json};

use crate::domain::batch::{
    Applied, Batch, BatchId, BatchKind, Outcome, OwnerReturn, UndoPreview, UndoResult,
};
use crate::domain::contact::Role;
use crate::domain::history::{HistoryEntry, UserRef};
use crate::storage::Contact;

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
/// because their owner changed after the batch. `returns` and
/// `skipped_per_role` are those of the undo's dry run.
pub fn undo(result: &UndoResult) -> Value {
    let mut value = counts(&result.applied.outcome, Some(&result.applied));
    value["undone_batch"] = json!(result.undone_batch);
    value["skipped_contacts"] = json!(result.applied.outcome.already_owned);
    value["returns"] = returns(&result.returns);
    let skipped_on = |role: Role| {
        result
            .skipped
            .iter()
            .filter(|entry| entry.role == role)
            .count()
    };
    value["skipped_per_role"] = json!({
        "commercial": skipped_on(Role::Commercial),
        "technical": skipped_on(Role::Technical),
    });
    value["skipped"] = json!(result.skipped);
    value
}

/// Lists the contacts an undo gives back to each owner, role by role.
fn returns(returns: &[OwnerReturn]) -> Value {
    returns
        .iter()
        .map(|owner_return| {
            json!({
                "role": owner_return.role,
                "owner": owner_return.owner.as_ref().map(|owner| &owner.initials),
                // Contacts left without an owner have no owner to be active.
                "owner_active": owner_return.owner.as_ref().map(|_| owner_return.owner_active),
                "contacts": owner_return.contacts,
            })
        })
        .collect()
}

/// Returns what undoing a batch would do now: its counts, the contacts given
/// back to each previous owner, and the entries it would skip.
pub fn undo_preview(preview: &UndoPreview) -> Value {
    let mut value = counts(&preview.outcome, None);
    value["undone_batch"] = json!(preview.undone_batch);
    value["skipped_contacts"] = json!(preview.outcome.already_owned);
    value["returns"] = returns(&preview.returns);
    value["skipped_per_role"] = json!({
        "commercial": preview.skipped_commercial,
        "technical": preview.skipped_technical,
    });
    value["skipped"] = json!(preview.skipped);
    value
}

fn initials(user: &Option<UserRef>) -> Option<String> {
    user.as_ref().map(|user| user.initials.clone())
}

/// Returns a contact's history, newest first, ending with its creation
/// (`kind` `created`, with the import that created it as `batch_id`), as
/// `relais history` and the contact page end with it.
pub fn history(contact: &Contact, entries: &[HistoryEntry], created_by: Option<BatchId>) -> Value {
    let mut list: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "id": entry.id,
                "contact_id": entry.contact_id,
                "at": entry.at,
                "kind": entry.kind,
                "role": entry.role,
                "previous_owner": initials(&entry.previous_owner),
                "new_owner": initials(&entry.new_owner),
                "batch_id": entry.batch_id,
                "undoes": entry.undoes,
                "actor": entry.actor,
                "message": entry.sentence_fr(),
            })
        })
        .collect();
    list.push(json!({
        "id": null,
        "contact_id": contact.id,
        "at": contact.created_at,
        "kind": "created",
        "role": null,
        "previous_owner": null,
        "new_owner": null,
        "batch_id": created_by,
        "undoes": null,
        "actor": null,
        "message": crate::french::creation(created_by),
    }));
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_without_owner_have_null_activity() {
        let jd = UserRef {
            id: 1,
            initials: "JD".to_string(),
            first_name: "Jean".to_string(),
            last_name: "Dupont".to_string(),
        };
        let listed = returns(&[
            OwnerReturn {
                role: Role::Commercial,
                owner: Some(jd),
                owner_active: false,
                contacts: 2,
            },
            OwnerReturn {
                role: Role::Technical,
                owner: None,
                owner_active: true,
                contacts: 1,
            },
        ]);

        assert_eq!(listed[0]["owner"], "JD");
        assert_eq!(listed[0]["owner_active"], false);
        assert_eq!(listed[1]["owner"], Value::Null);
        assert_eq!(listed[1]["owner_active"], Value::Null);
    }
}
