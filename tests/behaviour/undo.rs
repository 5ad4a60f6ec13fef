//! Undo of a batch.

use std::collections::BTreeMap;

use relais::domain::batch::{BatchId, UndoPreview, UndoResult};
use relais::domain::contact::Role;
use relais::service::reassign::{
    apply_region_reassignment, apply_user_reassignment, prepare_region_reassignment,
    prepare_user_reassignment, preview_undo, undo_batch,
};
use relais::storage::Page;

use crate::common::*;

fn some(initials: &str) -> Option<String> {
    Some(initials.to_string())
}

fn fixture(db: &TestDb) {
    cast(db);
    import_rows(
        db,
        &[
            "a,A,,,,,,02100,Saint-Quentin,FRA,JD,JD",
            "b,B,,,,,,02000,Laon,FRA,BB,",
            "c,C,,,,,,51100,Reims,FRA,JD,",
        ],
    );
}

#[test]
fn undo_restores_previous_owners_and_is_a_batch() {
    each_engine(|db| {
        fixture(db);
        let prepared = prepare_user_reassignment(db.store(), "JD", "DD").unwrap();
        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();
        let batch = applied.batch_id.unwrap();

        let result = undo_batch(db.store(), batch, run()).unwrap();

        assert_eq!(result.applied.outcome.changed, 2);
        assert_eq!(result.applied.outcome.history_entries, 3);
        assert!(result.skipped.is_empty());
        assert_eq!(owners(db, "a"), (some("JD"), some("JD")));
        assert_eq!(owners(db, "c"), (some("JD"), None));
        let undo_id = result.applied.batch_id.unwrap();
        let undo = db.store().batch(undo_id).unwrap().unwrap();
        assert_eq!(undo.undoes, Some(batch));
        let original = db.store().batch(batch).unwrap().unwrap();
        assert!(original.undone);
        assert_eq!(original.undone_by, Some(undo_id));
        let history = moves(db, "c");
        assert_eq!(
            history[0],
            ("commercial".to_string(), some("DD"), some("JD"))
        );
        assert_eq!(
            history[1],
            ("commercial".to_string(), some("JD"), some("DD"))
        );
    });
}

#[test]
fn undo_skips_contacts_changed_since() {
    each_engine(|db| {
        fixture(db);
        let first = prepare_region_reassignment(db.store(), "DD", "FRA", "02", None).unwrap();
        let batch = apply_region_reassignment(db.store(), &first, run())
            .unwrap()
            .batch_id
            .unwrap();
        let second = prepare_region_reassignment(db.store(), "CC", "FRA", "0200", None).unwrap();
        apply_region_reassignment(db.store(), &second, run()).unwrap();

        let result = undo_batch(db.store(), batch, run()).unwrap();

        assert_eq!(result.applied.outcome.matched, 2);
        assert_eq!(result.applied.outcome.changed, 1);
        assert_eq!(result.applied.outcome.already_owned, 1);
        assert_eq!(result.skipped.len(), 1);
        let skipped = &result.skipped[0];
        assert_eq!(skipped.external_id.as_deref(), Some("b"));
        assert_eq!(skipped.batch_owner.as_deref(), Some("DD"));
        assert_eq!(skipped.current_owner.as_deref(), Some("CC"));
        assert_eq!(owners(db, "a").0, some("JD"));
        assert_eq!(owners(db, "b").0, some("CC"));
    });
}

#[test]
fn second_undo_restores_nothing() {
    each_engine(|db| {
        fixture(db);
        let prepared = prepare_user_reassignment(db.store(), "JD", "DD").unwrap();
        let batch = apply_user_reassignment(db.store(), &prepared, run())
            .unwrap()
            .batch_id
            .unwrap();
        undo_batch(db.store(), batch, run()).unwrap();
        let before = snapshot(db);

        let error = undo_batch(db.store(), batch, run()).unwrap_err();

        assert_eq!(error.code(), "batch_already_undone");
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn undo_of_unknown_batch_is_an_unknown_batch() {
    each_engine(|db| {
        fixture(db);

        let error = undo_batch(db.store(), 999, run()).unwrap_err();

        assert_eq!(error.code(), "unknown_batch");
    });
}

/// An import that changed owners is undone like a reassignment: the
/// contacts it reassigned get their previous owners back, while the
/// contacts it created and its other changes stay.
#[test]
fn import_undo_gives_owners_back_only() {
    each_engine(|db| {
        fixture(db);
        let first_import = db.store().list_batches(10, 0).unwrap()[0].clone();
        assert_eq!(first_import.kind, relais::domain::batch::BatchKind::Import);
        import_rows(
            db,
            &[
                "a,A-bis,,,,,,02100,Saint-Quentin,FRA,BB,JD",
                "d,D,,,,,,51100,Reims,FRA,BB,",
            ],
        );
        let second_import = db.store().list_batches(1, 0).unwrap()[0].id;

        let preview = preview_undo(db.store(), second_import).unwrap();
        let result = undo_batch(db.store(), second_import, run()).unwrap();

        assert_eq!(preview.outcome.changed, 1);
        assert_eq!(result.applied.outcome.changed, 1);
        assert_eq!(result.applied.outcome.history_entries, 1);
        assert_eq!(owners(db, "a"), (some("JD"), some("JD")));
        assert_eq!(contact(db, "a").last_name, "A-bis", "other fields stay");
        assert_eq!(owners(db, "d"), (some("BB"), None), "created contacts stay");
        assert!(db.store().batch(second_import).unwrap().unwrap().undone);

        // The first import only created contacts: its undo gives nothing
        // back and records nothing.
        let before = snapshot(db);
        let empty = undo_batch(db.store(), first_import.id, run()).unwrap();
        assert_eq!(empty.applied.batch_id, None);
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn undo_of_an_undo_reapplies_the_batch() {
    each_engine(|db| {
        fixture(db);
        let prepared = prepare_user_reassignment(db.store(), "JD", "DD").unwrap();
        let batch = apply_user_reassignment(db.store(), &prepared, run())
            .unwrap()
            .batch_id
            .unwrap();
        let undo = undo_batch(db.store(), batch, run())
            .unwrap()
            .applied
            .batch_id
            .unwrap();

        // Contact c moves on between the undo and the redo: the redo
        // leaves it where it now is.
        import_rows(db, &["c,C,,,,,,51100,Reims,FRA,CC,"]);

        let redo = undo_batch(db.store(), undo, run()).unwrap();

        assert_eq!(redo.applied.outcome.changed, 1);
        assert_eq!(owners(db, "a"), (some("DD"), some("DD")));
        assert_eq!(owners(db, "c"), (some("CC"), None));
        assert_eq!(redo.skipped.len(), 1);
        assert_eq!(redo.skipped[0].contact_id, contact(db, "c").id);
        let redo_batch = db
            .store()
            .batch(redo.applied.batch_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(redo_batch.undoes, Some(undo));
        assert!(db.store().batch(undo).unwrap().unwrap().undone);

        // The first batch's changes are back: its undo is refused, naming
        // the batch to undo instead.
        let redo_id = redo_batch.id;
        let expected = format!(
            "l'opération n° {batch} a déjà été annulée par l'opération n° {undo}, mais \
             l'opération n° {redo_id} a rétabli ses changements ; pour les retirer de nouveau, \
             annulez l'opération n° {redo_id} ; rien n'a été modifié"
        );
        let refused = undo_batch(db.store(), batch, run()).unwrap_err();
        assert_eq!(refused.to_string(), expected);
        let previewed = preview_undo(db.store(), batch).unwrap_err();
        assert_eq!(previewed.to_string(), expected);

        // Undoing the redo removes them again, and the refusal tells it.
        let third = undo_batch(db.store(), redo_id, run())
            .unwrap()
            .applied
            .batch_id
            .unwrap();
        let refused = undo_batch(db.store(), batch, run()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "l'opération n° {batch} a déjà été annulée par l'opération n° {undo}, et ses \
                 changements restent retirés depuis l'opération n° {third} ; rien n'a été modifié"
            )
        );
    });
}

/// An undo looks at each contact's owner now, not at its path since. A
/// contact moved away and back by later batches goes back by the undo of
/// the first one, because its owner is again the one that batch gave it.
#[test]
fn undo_after_contact_moved_away_and_back() {
    each_engine(|db| {
        fixture(db);
        let run_user = |from: &str, to: &str| {
            let prepared = prepare_user_reassignment(db.store(), from, to).unwrap();
            apply_user_reassignment(db.store(), &prepared, run())
                .unwrap()
                .batch_id
                .unwrap()
        };
        let first = run_user("JD", "BB");
        run_user("BB", "JD");
        run_user("JD", "BB");

        let result = undo_batch(db.store(), first, run()).unwrap();

        assert!(result.skipped.is_empty(), "{:?}", result.skipped);
        assert_eq!(result.applied.outcome.changed, 2);
        assert_eq!(owners(db, "a"), (some("JD"), some("JD")));
        assert_eq!(owners(db, "c"), (some("JD"), None));
        // b was BB's before the first batch, which left it alone: its
        // undo leaves b with BB, where the third batch put it.
        assert_eq!(owners(db, "b"), (some("BB"), None));
    });
}

/// An undo gives contacts back to an owner deactivated since the batch:
/// the undo restores what was, and the history names that owner.
#[test]
fn undo_gives_contacts_back_to_a_deactivated_owner() {
    each_engine(|db| {
        fixture(db);
        let prepared = prepare_user_reassignment(db.store(), "JD", "DD").unwrap();
        let batch = apply_user_reassignment(db.store(), &prepared, run())
            .unwrap()
            .batch_id
            .unwrap();
        deactivate(db, "JD");

        let result = undo_batch(db.store(), batch, run()).unwrap();

        assert_eq!(result.applied.outcome.changed, 2);
        assert_eq!(owners(db, "a"), (some("JD"), some("JD")));
        assert_eq!(owners(db, "c"), (some("JD"), None));
        assert_eq!(
            moves(db, "c")[0],
            ("commercial".to_string(), some("DD"), some("JD"))
        );
    });
}

/// Runs a region reassignment and returns its batch.
fn reassign_region(db: &TestDb, to: &str, postal: &str, role: &str) -> BatchId {
    let prepared = prepare_region_reassignment(db.store(), to, "FRA", postal, Some(role)).unwrap();
    apply_region_reassignment(db.store(), &prepared, run())
        .unwrap()
        .batch_id
        .unwrap()
}

/// Runs a both-roles batch over four contacts with three different previous
/// owners (JD, BB and none), then later batches that change `a`'s
/// technical owner and both owners of `d`. Returns the first batch.
fn both_roles_batch_changed_since(db: &TestDb) -> BatchId {
    cast(db);
    import_rows(
        db,
        &[
            "a,A,,,,,,02100,Saint-Quentin,FRA,JD,JD",
            "b,B,,,,,,02000,Laon,FRA,BB,",
            "c,C,,,,,,02200,Soissons,FRA,JD,",
            "d,D,,,,,,02300,Chauny,FRA,BB,BB",
            "e,E,,,,,,51100,Reims,FRA,JD,JD",
        ],
    );
    let batch = reassign_region(db, "DD", "02", "both");
    reassign_region(db, "CC", "02100", "technical");
    reassign_region(db, "CC", "02300", "both");
    batch
}

/// (role, initials of the owner restored) → contacts, as a preview states it.
fn preview_returns(preview: &UndoPreview) -> BTreeMap<(String, Option<String>), u64> {
    preview
        .returns
        .iter()
        .map(|owner_return| {
            let owner = owner_return
                .owner
                .as_ref()
                .map(|user| user.initials.clone());
            (
                (owner_return.role.as_str().to_string(), owner),
                owner_return.contacts,
            )
        })
        .collect()
}

/// Reads the same map from the history entries the undo wrote.
fn undo_returns(db: &TestDb, result: &UndoResult) -> BTreeMap<(String, Option<String>), u64> {
    let undo_id = result.applied.batch_id.unwrap();
    let page = Page {
        limit: 1000,
        offset: 0,
    };
    let mut returns = BTreeMap::new();
    for contact in db.store().batch_contacts(undo_id, page).unwrap().contacts {
        for entry in db.store().contact_history(contact.id).unwrap() {
            if entry.batch_id != Some(undo_id) {
                continue;
            }
            let role = entry.role.unwrap().as_str().to_string();
            let owner = entry.new_owner.map(|user| user.initials);
            *returns.entry((role, owner)).or_default() += 1;
        }
    }
    returns
}

fn skipped_on(result: &UndoResult, role: Role) -> u64 {
    result
        .skipped
        .iter()
        .filter(|skipped| skipped.role == role)
        .count() as u64
}

#[test]
fn undo_preview_equals_undo_result() {
    each_engine(|db| {
        let batch = both_roles_batch_changed_since(db);
        let before = snapshot(db);

        let preview = preview_undo(db.store(), batch).unwrap();

        assert_eq!(snapshot(db), before, "the preview changed data");
        let expected: BTreeMap<(String, Option<String>), u64> = [
            (("commercial".to_string(), some("BB")), 1),
            (("commercial".to_string(), some("JD")), 2),
            (("technical".to_string(), None), 2),
        ]
        .into_iter()
        .collect();
        assert_eq!(preview_returns(&preview), expected);
        assert_eq!(preview.outcome.matched, 4);
        assert_eq!(preview.outcome.changed, 3);
        assert_eq!(preview.outcome.already_owned, 1);
        assert_eq!(preview.skipped_commercial, 1);
        assert_eq!(preview.skipped_technical, 2);

        let result = undo_batch(db.store(), batch, run()).unwrap();

        assert_eq!(preview.outcome, result.applied.outcome);
        assert_eq!(preview_returns(&preview), undo_returns(db, &result));
        assert_eq!(
            preview.returns, result.returns,
            "the result lists the same returns"
        );
        assert_eq!(
            preview.skipped_commercial,
            skipped_on(&result, Role::Commercial)
        );
        assert_eq!(
            preview.skipped_technical,
            skipped_on(&result, Role::Technical)
        );
        assert_eq!(preview.skipped_entries(), result.skipped.len() as u64);
        assert_eq!(
            preview.skipped, result.skipped,
            "the same entries, listed alike"
        );
    });
}

#[test]
fn undo_preview_of_undo_equals_redo() {
    each_engine(|db| {
        let batch = both_roles_batch_changed_since(db);
        let undo = undo_batch(db.store(), batch, run())
            .unwrap()
            .applied
            .batch_id
            .unwrap();

        let preview = preview_undo(db.store(), undo).unwrap();
        let redo = undo_batch(db.store(), undo, run()).unwrap();

        assert_eq!(preview.outcome, redo.applied.outcome);
        assert_eq!(preview.outcome.changed, 3);
        assert_eq!(preview_returns(&preview), undo_returns(db, &redo));
        assert_eq!(preview.returns, redo.returns);
        assert_eq!(preview.skipped_entries(), 0);
    });
}

#[test]
fn undo_preview_rejects_what_undo_rejects() {
    each_engine(|db| {
        fixture(db);
        let batch = reassign_region(db, "DD", "02", "commercial");
        undo_batch(db.store(), batch, run()).unwrap();

        let undone = preview_undo(db.store(), batch).unwrap_err();
        let unknown = preview_undo(db.store(), 999).unwrap_err();

        assert_eq!(undone.code(), "batch_already_undone");
        assert_eq!(unknown.code(), "unknown_batch");
    });
}

/// An undo that gives nothing back, because every contact moved on since,
/// records nothing, and the batch can still be undone once its contacts
/// are back with the owners it set.
#[test]
fn undo_that_restores_nothing_keeps_the_batch_undoable() {
    each_engine(|db| {
        fixture(db);
        let reassign = |from: &str, to: &str| {
            let prepared = prepare_user_reassignment(db.store(), from, to).unwrap();
            apply_user_reassignment(db.store(), &prepared, run())
                .unwrap()
                .batch_id
                .unwrap()
        };
        let first = reassign("JD", "DD");
        let second = reassign("DD", "CC");
        let before = snapshot(db);

        let empty = undo_batch(db.store(), first, run()).unwrap();

        assert_eq!(empty.applied.batch_id, None);
        assert_eq!(empty.applied.outcome.changed, 0);
        assert_eq!(empty.applied.outcome.already_owned, 2);
        assert_eq!(empty.skipped.len(), 3, "{:?}", empty.skipped);
        assert_eq!(snapshot(db), before, "nothing recorded");
        assert!(!db.store().batch(first).unwrap().unwrap().undone);

        undo_batch(db.store(), second, run()).unwrap();
        let result = undo_batch(db.store(), first, run()).unwrap();

        assert!(result.applied.batch_id.is_some());
        assert_eq!(result.applied.outcome.changed, 2);
        assert_eq!(owners(db, "a"), (some("JD"), some("JD")));
        assert_eq!(owners(db, "c"), (some("JD"), None));
        assert!(db.store().batch(first).unwrap().unwrap().undone);
    });
}

/// The key of an undo that gave nothing back is kept: a retry with it once
/// the contacts came back returns that first result and restores nothing,
/// while a new key undoes the batch.
#[test]
fn retried_undo_that_restored_nothing_stays_undone_nothing() {
    each_engine(|db| {
        fixture(db);
        let reassign = |from: &str, to: &str| {
            let prepared = prepare_user_reassignment(db.store(), from, to).unwrap();
            apply_user_reassignment(db.store(), &prepared, run())
                .unwrap()
                .batch_id
                .unwrap()
        };
        let first = reassign("JD", "DD");
        let second = reassign("DD", "CC");
        let mut keyed = run();
        keyed.idempotency_key = Some("undo-quiet".into());
        let empty = undo_batch(db.store(), first, keyed.clone()).unwrap();
        assert_eq!(
            (empty.applied.batch_id, empty.applied.replayed),
            (None, false)
        );
        undo_batch(db.store(), second, run()).unwrap();
        assert_eq!(owners(db, "c"), (some("DD"), None));

        let retried = undo_batch(db.store(), first, keyed).unwrap();

        assert_eq!(
            (retried.applied.batch_id, retried.applied.replayed),
            (None, true)
        );
        assert_eq!(retried.applied.outcome.changed, 0);
        // The replay lists what the first run skipped: every entry.
        let entries = |result: &relais::domain::batch::UndoResult| -> Vec<_> {
            result
                .skipped
                .iter()
                .map(|entry| (entry.contact_id, entry.role))
                .collect()
        };
        assert!(!empty.skipped.is_empty());
        assert_eq!(entries(&retried), entries(&empty));
        assert_eq!(owners(db, "c"), (some("DD"), None), "nothing restored");
        assert!(!db.store().batch(first).unwrap().unwrap().undone);

        let mut fresh = run();
        fresh.idempotency_key = Some("undo-next".into());
        let result = undo_batch(db.store(), first, fresh).unwrap();
        assert_eq!(result.applied.outcome.changed, 2);
        assert_eq!(owners(db, "c"), (some("JD"), None));
    });
}

/// A retried undo, replayed by its key, lists the entries the first run
/// skipped and the contacts it gave back, read back from the history.
#[test]
fn replayed_undo_lists_what_it_skipped() {
    each_engine(|db| {
        fixture(db);
        let prepared = prepare_user_reassignment(db.store(), "JD", "DD").unwrap();
        let batch = apply_user_reassignment(db.store(), &prepared, run())
            .unwrap()
            .batch_id
            .unwrap();
        // Reims moves on: its entry will be skipped.
        let region = prepare_region_reassignment(db.store(), "CC", "FRA", "51", None).unwrap();
        apply_region_reassignment(db.store(), &region, run()).unwrap();
        let mut keyed = run();
        keyed.idempotency_key = Some("undo-retry".into());

        let first = undo_batch(db.store(), batch, keyed.clone()).unwrap();
        let again = undo_batch(db.store(), batch, keyed).unwrap();

        assert_eq!(first.skipped.len(), 1, "{:?}", first.skipped);
        assert!(again.applied.replayed);
        assert_eq!(again.applied.batch_id, first.applied.batch_id);
        assert_eq!(again.skipped, first.skipped);
        assert!(!first.returns.is_empty());
        assert_eq!(
            again.returns, first.returns,
            "the replay lists the returns too"
        );
    });
}
