//! A batch is one transaction: a failure in the middle leaves nothing.

use relais::service::import::ImportReport;
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

        let error = undo_batch(db.store(), batch, run()).unwrap_err();

        assert!(error.to_string().contains("injected failure"), "{error}");
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

        let error = result.unwrap_err();
        assert!(error.to_string().contains("injected failure"), "{error}");
        assert_eq!(snapshot(db), before);
    });
}

/// Rows of `HEADER` named `bulk1`… with `JD` as commercial owner, more than
/// the import reads and writes at once, so that some are already written
/// when the end of the file is reached.
fn bulk_rows(count: usize) -> String {
    let mut text = format!("{HEADER}\n");
    for index in 1..=count {
        text.push_str(&format!(
            "bulk{index},Nom{index},,,,,,51100,Reims,FRA,JD,\n"
        ));
    }
    text
}

fn import_text(db: &TestDb, text: &str) -> Result<ImportReport, relais::service::ServiceError> {
    let path = write_file(db, "bulk.csv", text.as_bytes());
    relais::service::import::import_file(
        db.store(),
        &path,
        &relais::service::import::ImportRequest {
            default_country: relais::domain::country::CountryCode::france(),
            create_missing_users: false,
            actor: actor(),
        },
        &mut |_| {},
    )
}

#[test]
fn unclosed_quote_after_written_rows_imports_nothing() {
    each_engine(|db| {
        cast(db);
        let mut text = bulk_rows(5_000);
        text.push_str("late,\"Never closed,,,,,,51100,Reims,FRA,JD,\n");
        let before = snapshot(db);

        let error = import_text(db, &text).unwrap_err();

        assert!(error.to_string().contains("guillemet"), "{error}");
        assert!(error.to_string().contains("ligne 5002"), "{error}");
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn unclosed_quote_in_base_with_contacts_changes_nothing() {
    each_engine(|db| {
        fixture(db);
        let mut text = bulk_rows(5_000);
        text.push_str("a,\"A,,,,,,51100,Reims,FRA,BB,\n");
        let before = snapshot(db);

        let error = import_text(db, &text).unwrap_err();

        assert!(error.to_string().contains("guillemet"), "{error}");
        assert!(error.to_string().contains("ligne 5002"), "{error}");
        assert_eq!(snapshot(db), before);
    });
}

/// A failed import that had created users under `--create-missing-users`
/// leaves no user behind either.
#[test]
fn failed_import_creates_no_user() {
    each_engine(|db| {
        cast(db);
        let mut text = bulk_rows(5_000);
        text.push_str("late1,Nom,,,,,,51100,Reims,FRA,Zoé Lambert,\n");
        text.push_str("late2,\"Never closed,,,,,,51100,Reims,FRA,JD,\n");
        let path = write_file(db, "bulk.csv", text.as_bytes());
        let before = snapshot(db);
        let users_before = db.store().list_users().unwrap();

        let error = relais::service::import::import_file(
            db.store(),
            &path,
            &relais::service::import::ImportRequest {
                default_country: relais::domain::country::CountryCode::france(),
                create_missing_users: true,
                actor: actor(),
            },
            &mut |_| {},
        )
        .unwrap_err();

        assert!(error.to_string().contains("guillemet"), "{error}");
        assert_eq!(snapshot(db), before);
        assert_eq!(db.store().list_users().unwrap(), users_before);
        assert!(db.store().find_user("ZL").unwrap().is_none());
    });
}

/// Makes every insert of a contact with this last name fail.
fn fail_on_insert(db: &TestDb, last_name: &str) {
    let sql = match db.engine {
        Engine::Sqlite => format!(
            "CREATE TRIGGER injected_insert_failure BEFORE INSERT ON contacts
             WHEN NEW.last_name = '{last_name}'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        ),
        Engine::Postgres => format!(
            "CREATE FUNCTION injected_insert_failure() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'injected failure'; END $$;
             CREATE TRIGGER injected_insert_failure BEFORE INSERT ON contacts
             FOR EACH ROW WHEN (NEW.last_name = '{last_name}')
             EXECUTE FUNCTION injected_insert_failure();"
        ),
    };
    db.execute_raw(&sql);
}

#[test]
fn failed_insert_after_written_rows_imports_nothing() {
    each_engine(|db| {
        cast(db);
        fail_on_insert(db, "Nom4500");
        let before = snapshot(db);

        let error = import_text(db, &bulk_rows(6_000)).unwrap_err();

        assert!(error.to_string().contains("injected failure"), "{error}");
        assert_eq!(snapshot(db), before);
    });
}
