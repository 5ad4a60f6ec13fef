//! Undo of a batch.

use relais::service::reassign::{
    apply_region_reassignment, apply_user_reassignment, prepare_region_reassignment,
    prepare_user_reassignment, undo_batch,
};

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
fn undo_of_unknown_batch_is_not_found() {
    each_engine(|db| {
        fixture(db);

        let error = undo_batch(db.store(), 999, run()).unwrap_err();

        assert_eq!(error.code(), "not_found");
    });
}

#[test]
fn import_batch_cannot_be_undone() {
    each_engine(|db| {
        fixture(db);
        let import_batch = db.store().list_batches(10, 0).unwrap()[0].clone();
        assert_eq!(import_batch.kind, relais::domain::batch::BatchKind::Import);

        let error = undo_batch(db.store(), import_batch.id, run()).unwrap_err();

        assert_eq!(error.code(), "batch_not_undoable");
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

        let redo = undo_batch(db.store(), undo, run()).unwrap();

        assert_eq!(redo.applied.outcome.changed, 2);
        assert_eq!(owners(db, "a"), (some("DD"), some("DD")));
    });
}
