//! A batch is one transaction: a failure in the middle leaves nothing.

use relais::service::reassign::{
    apply_region_reassignment, apply_user_reassignment, prepare_region_reassignment,
    prepare_user_reassignment, undo_batch,
};

use crate::common::*;

fn fixture(db: &TestDb) {
    cast(db);
    import_rows(
        db,
        &[
            "a,A,,,,,,51100,Reims,FRA,JD,JD",
            "b,B,,,,,,51100,Reims,FRA,JD,",
            "c,C,,,,,,51100,Reims,FRA,JD,",
            "d,D,,,,,,02000,Laon,FRA,JD,",
        ],
    );
}

#[test]
fn failed_user_batch_leaves_database_unchanged() {
    each_engine(|db| {
        fixture(db);
        db.fail_on_owner_update(contact(db, "c").id);
        let before = snapshot(db);
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();

        let error = apply_user_reassignment(db.store(), &prepared, run()).unwrap_err();

        assert!(error.to_string().contains("injected failure"), "{error}");
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn failed_region_batch_leaves_database_unchanged() {
    each_engine(|db| {
        fixture(db);
        db.fail_on_owner_update(contact(db, "c").id);
        let before = snapshot(db);
        let prepared = prepare_region_reassignment(db.store(), "BB", "FRA", "51;02", None).unwrap();

        let error = apply_region_reassignment(db.store(), &prepared, run()).unwrap_err();

        assert!(error.to_string().contains("injected failure"), "{error}");
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn failed_undo_leaves_database_unchanged() {
    each_engine(|db| {
        fixture(db);
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();
        let batch = apply_user_reassignment(db.store(), &prepared, run())
            .unwrap()
            .batch_id
            .unwrap();
        db.fail_on_owner_update(contact(db, "c").id);
        let before = snapshot(db);

        undo_batch(db.store(), batch, run()).unwrap_err();

        assert_eq!(snapshot(db), before);
        assert!(!db.store().batch(batch).unwrap().unwrap().undone);
    });
}

#[test]
fn failed_import_leaves_database_unchanged() {
    each_engine(|db| {
        fixture(db);
        db.fail_on_owner_update(contact(db, "c").id);
        let before = snapshot(db);
        let text = format!(
            "{HEADER}\nnew1,New,,,,,,51100,Reims,FRA,BB,\nc,C,,,,,,51100,Reims,FRA,BB,\nnew2,New,,,,,,51100,Reims,FRA,BB,\n"
        );
        let path = write_file(db, "update.csv", text.as_bytes());

        let result = relais::service::import::import_file(
            db.store(),
            &path,
            &relais::service::import::ImportRequest {
                default_country: relais::domain::country::CountryCode::france(),
                create_missing_users: false,
                actor: actor(),
            },
            &mut |_| {},
        );

        assert!(result.is_err());
        assert_eq!(snapshot(db), before);
    });
}
