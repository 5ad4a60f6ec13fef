//! Reassignment from one user to another.

use relais::service::reassign::{
    apply_user_reassignment, prepare_user_reassignment, preview_user_reassignment,
};

use crate::common::*;

fn some(initials: &str) -> Option<String> {
    Some(initials.to_string())
}

#[test]
fn both_roles_move_with_two_history_entries() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "both,Martin,Hélène,Alpha,,,,51100,Reims,FRA,JD,JD",
                "tech,Bernard,Élodie,Beta,,,,02100,Saint-Quentin,FRA,BB,JD",
                "other,Petit,Luc,Gamma,,,,75001,Paris,FRA,CC,DD",
            ],
        );
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();

        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(applied.outcome.matched, 2);
        assert_eq!(applied.outcome.changed, 2);
        assert_eq!(applied.outcome.commercial, 1);
        assert_eq!(applied.outcome.technical, 2);
        assert_eq!(applied.outcome.history_entries, 3);
        assert!(applied.batch_id.is_some());
        assert_eq!(owners(db, "both"), (some("BB"), some("BB")));
        let mut both_moves = moves(db, "both");
        both_moves.sort();
        assert_eq!(
            both_moves,
            vec![
                ("commercial".to_string(), some("JD"), some("BB")),
                ("technical".to_string(), some("JD"), some("BB")),
            ]
        );
        assert_eq!(owners(db, "tech"), (some("BB"), some("BB")));
        assert_eq!(
            moves(db, "tech"),
            vec![("technical".to_string(), some("JD"), some("BB"))]
        );
        assert_eq!(owners(db, "other"), (some("CC"), some("DD")));
        assert!(moves(db, "other").is_empty());
    });
}

#[test]
fn technical_owner_only_keeps_commercial_owner() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &["t1,Bernard,Élodie,Beta,,,,02100,Saint-Quentin,FRA,CC,JD"],
        );
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();

        apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(owners(db, "t1"), (some("CC"), some("BB")));
    });
}

#[test]
fn preview_counts_what_the_run_changes() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "a,A,,,,,,51100,Reims,FRA,JD,JD",
                "b,B,,,,,,51100,Reims,FRA,JD,",
                "c,C,,,,,,51100,Reims,FRA,,JD",
            ],
        );
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();

        let preview = preview_user_reassignment(db.store(), &prepared).unwrap();
        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(preview, applied.outcome);
        assert_eq!(
            (preview.matched, preview.commercial, preview.technical),
            (3, 2, 2)
        );
    });
}

/// A target deactivated between the form's check and the run, as when
/// the run waits for another batch's locks, is refused inside the run's
/// transaction: both kinds of reassignment change nothing and record no
/// batch.
#[test]
fn target_deactivated_before_run_rejected() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["a,A,,,,,,51100,Reims,FRA,JD,JD"]);
        let by_user = prepare_user_reassignment(db.store(), "JD", "CC").unwrap();
        let by_region = relais::service::reassign::prepare_region_reassignment(
            db.store(),
            "CC",
            "FRA",
            "51",
            None,
        )
        .unwrap();
        deactivate(db, "CC");
        let before = snapshot(db);

        let user_error = apply_user_reassignment(db.store(), &by_user, run()).unwrap_err();
        let region_error =
            relais::service::reassign::apply_region_reassignment(db.store(), &by_region, run())
                .unwrap_err();

        for error in [user_error, region_error] {
            assert_eq!(error.code(), "inactive_target");
            assert!(
                error
                    .to_string()
                    .contains("le compte de Claire CARON (CC) a été désactivé"),
                "{error}"
            );
        }
        assert_eq!(snapshot(db), before);
        assert!(
            db.store()
                .list_batches(10, 0)
                .unwrap()
                .iter()
                .all(
                    |batch| batch.kind != relais::domain::batch::BatchKind::Reassign
                        && batch.kind != relais::domain::batch::BatchKind::ReassignRegion
                )
        );
    });
}

#[test]
fn inactive_target_is_rejected_and_nothing_changes() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["a,A,,,,,,51100,Reims,FRA,JD,JD"]);
        deactivate(db, "CC");
        let before = snapshot(db);

        let error = prepare_user_reassignment(db.store(), "JD", "CC").unwrap_err();

        assert_eq!(error.code(), "inactive_target");
        assert_eq!(error.field(), Some("to"));
        assert!(error.to_string().contains("Claire CARON (CC)"), "{error}");
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn inactive_source_is_allowed() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["a,A,,,,,,51100,Reims,FRA,JD,"]);
        deactivate(db, "JD");
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();

        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(applied.outcome.changed, 1);
        assert_eq!(owners(db, "a"), (some("BB"), None));
    });
}

#[test]
fn same_user_on_both_sides_is_rejected() {
    each_engine(|db| {
        cast(db);

        let error = prepare_user_reassignment(db.store(), "BB", "bb").unwrap_err();

        assert_eq!(error.code(), "same_user");
    });
}

#[test]
fn unknown_user_is_rejected_naming_it() {
    each_engine(|db| {
        cast(db);

        let error = prepare_user_reassignment(db.store(), "XY", "BB").unwrap_err();

        assert_eq!(error.code(), "unknown_user");
        assert_eq!(error.field(), Some("from"));
        assert!(error.to_string().contains("« XY »"), "{error}");
    });
}

#[test]
fn run_matching_nothing_records_no_batch() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["a,A,,,,,,51100,Reims,FRA,BB,"]);
        let batches_before = db.store().list_batches(100, 0).unwrap().len();
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();

        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(applied.batch_id, None);
        assert_eq!(applied.outcome.changed, 0);
        assert_eq!(
            db.store().list_batches(100, 0).unwrap().len(),
            batches_before
        );
    });
}

#[test]
fn same_idempotency_key_runs_once() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["a,A,,,,,,51100,Reims,FRA,JD,"]);
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();
        let mut keyed = run();
        keyed.idempotency_key = Some("form-1234".into());

        let first = apply_user_reassignment(db.store(), &prepared, keyed.clone()).unwrap();
        let second = apply_user_reassignment(db.store(), &prepared, keyed).unwrap();

        assert!(!first.replayed);
        assert!(second.replayed);
        assert_eq!(first.batch_id, second.batch_id);
        assert_eq!(second.outcome.changed, 1);
        assert_eq!(moves(db, "a").len(), 1);

        // The key of a run that recorded a batch serves no other operation.
        let before = snapshot(db);
        let region = relais::service::reassign::prepare_region_reassignment(
            db.store(),
            "CC",
            "FRA",
            "51",
            None,
        )
        .unwrap();
        let mut keyed = run();
        keyed.idempotency_key = Some("form-1234".into());
        let reused =
            relais::service::reassign::apply_region_reassignment(db.store(), &region, keyed)
                .unwrap_err();
        assert_eq!(reused.code(), "idempotency_key_reused", "{reused}");
        // The API and the CLI share the message: it names no way of sending.
        assert!(
            reused
                .to_string()
                .ends_with(" ; choisissez-en une nouvelle"),
            "{reused}"
        );
        assert_eq!(snapshot(db), before);
    });
}

/// A retry of a region reassignment with the same key and the same codes
/// written otherwise (repeated, in another order, other separators, lower
/// case) replays the first run instead of being refused as another request.
#[test]
fn same_key_and_same_codes_written_otherwise_replay() {
    use relais::service::reassign::{apply_region_reassignment, prepare_region_reassignment};

    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "a,A,,,,,,51100,Reims,FRA,JD,",
                "b,B,,,,,,20000,Ajaccio,FRA,JD,",
            ],
        );
        let mut keyed = run();
        keyed.idempotency_key = Some("form-region".into());
        let first = prepare_region_reassignment(db.store(), "BB", "FRA", "51;2A", None).unwrap();
        let applied = apply_region_reassignment(db.store(), &first, keyed.clone()).unwrap();
        assert_eq!(applied.outcome.changed, 2);

        let again =
            prepare_region_reassignment(db.store(), "BB", "FRA", "2a, 51;51", None).unwrap();
        let replayed = apply_region_reassignment(db.store(), &again, keyed).unwrap();

        assert!(replayed.replayed);
        assert_eq!(replayed.batch_id, applied.batch_id);
        assert_eq!(moves(db, "a").len(), 1);
    });
}

/// A run that changed nothing records no batch but keeps its key: a retry
/// with that key after the contacts changed returns the first result and
/// moves nothing, and the key cannot serve another operation.
#[test]
fn key_of_run_that_changed_nothing_is_kept() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["a,A,,,,,,51100,Reims,FRA,BB,"]);
        let prepared = prepare_user_reassignment(db.store(), "CC", "BB").unwrap();
        let mut keyed = run();
        keyed.idempotency_key = Some("form-quiet".into());
        let batches_before = db.store().list_batches(100, 0).unwrap().len();

        let first = apply_user_reassignment(db.store(), &prepared, keyed.clone()).unwrap();
        assert_eq!((first.batch_id, first.replayed), (None, false));
        assert_eq!(first.outcome.changed, 0);
        import_rows(db, &["b,B,,,,,,51100,Reims,FRA,CC,"]);
        let other = prepare_user_reassignment(db.store(), "BB", "JD").unwrap();

        let again = apply_user_reassignment(db.store(), &prepared, keyed.clone()).unwrap();
        assert_eq!((again.batch_id, again.replayed), (None, true));
        assert_eq!(again.outcome, first.outcome);
        let reused = apply_user_reassignment(db.store(), &other, keyed).unwrap_err();
        assert!(
            reused
                .to_string()
                .contains("« form-quiet » a déjà servi, avec d'autres paramètres, pour une opération qui n'a rien modifié"),
            "{reused}"
        );
        assert_eq!(owners(db, "b"), (Some("CC".into()), None));
        assert_eq!(owners(db, "a"), (Some("BB".into()), None));
        // The journal lists the import of b only.
        assert_eq!(
            db.store().list_batches(100, 0).unwrap().len(),
            batches_before + 1
        );

        let mut fresh = run();
        fresh.idempotency_key = Some("form-next".into());
        let moved = apply_user_reassignment(db.store(), &prepared, fresh).unwrap();
        assert_eq!(moved.outcome.changed, 1);
        assert_eq!(owners(db, "b"), (Some("BB".into()), None));
    });
}

#[test]
fn batch_journal_records_actor_and_parameters() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["a,A,,,,,,51100,Reims,FRA,JD,"]);
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();

        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        let batch = db
            .store()
            .batch(applied.batch_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(batch.params["from"], "JD");
        assert_eq!(batch.params["to"], "BB");
        assert_eq!(batch.actor, "système (compte tests)");
        assert_eq!(batch.outcome.changed, 1);
        assert!(batch.finished_at.is_some());
        let history = db.store().contact_history(contact(db, "a").id).unwrap();
        assert_eq!(history[0].batch_id, applied.batch_id);
        assert_eq!(history[0].actor, "système (compte tests)");
    });
}
