//! The main job on real CRM exports: import Dolibarr's and Odoo's demo
//! contacts, then reassign by region and by user. Every expected count
//! below was worked out by hand from the files in `tests/fixtures/`.

use std::path::PathBuf;

use relais::domain::country::CountryCode;
use relais::service::import::{ImportReport, ImportRequest, import_file};
use relais::service::reassign::{
    apply_region_reassignment, apply_user_reassignment, prepare_region_reassignment,
    prepare_user_reassignment, preview_region_reassignment,
};
use relais::service::users_file::import_users;

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn import(db: &TestDb, name: &str) -> ImportReport {
    import_file(
        db.store(),
        &fixture(name),
        &ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: false,
            actor: actor(),
        },
        &mut |_| {},
    )
    .unwrap()
}

/// Lines of the rejected rows, with their column.
fn rejected(report: &ImportReport) -> Vec<(u64, String)> {
    report
        .rejected
        .iter()
        .map(|r| (r.line, r.column.clone()))
        .collect()
}

fn load(db: &TestDb) -> (ImportReport, ImportReport) {
    let users = import_users(db.store(), &fixture("crm_users.csv")).unwrap();
    // 26 rows; Odoo's `admin` and `demo` share their login with Dolibarr's.
    assert_eq!(users.created.len(), 24, "{users:?}");
    assert_eq!(users.skipped.len(), 2, "{users:?}");
    user(db, "NZ", "Noé", "Zed");
    (
        import(db, "contacts_dolibarr_demo.csv"),
        import(db, "contacts_odoo_crm_leads.csv"),
    )
}

#[test]
fn every_line_accounted_for() {
    each_engine(|db| {
        let (dolibarr, odoo) = load(db);

        // Dolibarr: line 29 (societe:19) names two sales representatives.
        assert_eq!(dolibarr.imported, 45);
        assert_eq!(
            rejected(&dolibarr),
            vec![(29, "commercial_owner".to_string())]
        );
        // Odoo: crm_case_15, 21, 23 and 24 have no name, company, e-mail or
        // phone; they are lines 16, 22, 24 and 25.
        assert_eq!(odoo.imported, 40);
        let lines: Vec<u64> = odoo.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![16, 22, 24, 25]);
        assert_eq!(dolibarr.imported + dolibarr.rejected.len() as u64, 46);
        assert_eq!(odoo.imported + odoo.rejected.len() as u64, 44);
    });
}

#[test]
fn paris_and_seine_saint_denis_region_moves_three() {
    each_engine(|db| {
        load(db);
        let prepared = prepare_region_reassignment(db.store(), "NZ", "FRA", "75;93", None).unwrap();

        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();
        let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

        // societe:34 (75001), crm_case_1 and crm_case_29 (93190). The
        // 75500 codes of socpeople:11, 12 and societe:11 are in the USA.
        assert_eq!(preview.outcome.matched, 3);
        assert_eq!(applied.outcome.changed, 3);
        for key in ["societe:34", "crm.lead:crm_case_1", "crm.lead:crm_case_29"] {
            assert_eq!(owners(db, key).0, Some("NZ".to_string()), "{key}");
        }
        let seller = db.store().find_user("ccommerson").unwrap().unwrap();
        assert_eq!(owners(db, "socpeople:11").0, Some(seller.initials));
    });
}

#[test]
fn star_region_takes_every_french_address() {
    each_engine(|db| {
        load(db);
        let prepared = prepare_region_reassignment(db.store(), "NZ", "FRA", "*", None).unwrap();

        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();

        // 19 Dolibarr rows with FR (societe:19 is Spanish and rejected
        // anyway) and crm_case_1, 2, 29 and 30 (base.fr) from Odoo.
        assert_eq!(preview.outcome.matched, 21);
    });
}

#[test]
fn departing_admin_hands_over_everything() {
    each_engine(|db| {
        load(db);
        let prepared = prepare_user_reassignment(db.store(), "admin", "NZ").unwrap();

        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        // `admin` sells for 10 Dolibarr rows (socpeople:1, societe:1, 26,
        // 29, 37, 58 to 62) and 18 imported Odoo leads; no technical owner.
        assert_eq!(applied.outcome.commercial, 28);
        assert_eq!(applied.outcome.technical, 0);
        assert_eq!(applied.outcome.changed, 28);
    });
}

#[test]
fn disabled_owner_can_hand_over() {
    each_engine(|db| {
        load(db);
        let departed = db.store().find_user("ccommerson").unwrap().unwrap();
        assert!(!departed.active);
        let prepared = prepare_user_reassignment(db.store(), "ccommerson", "NZ").unwrap();

        let applied = apply_user_reassignment(db.store(), &prepared, run()).unwrap();

        // socpeople:11, socpeople:12 and societe:11.
        assert_eq!(applied.outcome.changed, 3);
    });
}

/// A users file with the French headers the user guide shows imports as
/// well as one with English headers, and a file without an identifier
/// column names the French and English headers it accepts.
#[test]
fn users_file_takes_french_headers() {
    each_engine(|db| {
        let dir = tempfile::tempdir().unwrap();
        let french = dir.path().join("utilisateurs.csv");
        std::fs::write(
            &french,
            "Identifiant;Prénom;Nom;Courriel\nmlefevre;Marie;Lefèvre;marie@exemple.fr\n",
        )
        .unwrap();
        let missing = dir.path().join("sans-identifiant.csv");
        std::fs::write(&missing, "Prénom;Nom\nMarie;Lefèvre\n").unwrap();

        let report = import_users(db.store(), &french).unwrap();
        let error = import_users(db.store(), &missing).unwrap_err();

        assert_eq!(report.created.len(), 1, "{report:?}");
        let created = db.store().find_user(&report.created[0]).unwrap().unwrap();
        assert_eq!(created.login.as_deref(), Some("mlefevre"));
        assert_eq!(created.last_name, "Lefèvre");
        let message = error.to_string();
        assert!(message.contains("« identifiant »"), "{message}");
        assert!(message.contains("« prénom »"), "{message}");
    });
}
