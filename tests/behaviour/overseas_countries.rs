//! Overseas départements stored as France, foreign postal markers, and the
//! data migration that applies both to contacts stored before.

use relais::service::reassign::prepare_region_reassignment;
use relais::storage::open_store;

use crate::common::*;

/// Contacts of the overseas départements and collectivities, written as
/// CRM files have them.
fn overseas_fixture(db: &TestDb) {
    cast(db);
    import_rows(
        db,
        &[
            "reunion,Payet,Jean,,,,,97400,Saint-Denis,Réunion,,",
            "reu,Hoarau,Marie,,,,,97410,Saint-Pierre,REU,,",
            "gp,Jalton,Paul,,,,,97100,Basse-Terre,GP,,",
            "guadeloupe,Gène,Lise,,,,,97110,Pointe-à-Pitre,Guadeloupe,,",
            "mtq,Césaire,Aimé,,,,,97200,Fort-de-France,MTQ,,",
            "guyane,Rémy,Léon,,,,,97300,Cayenne,Guyane,,",
            "mayotte,Ali,Said,,,,,97600,Mamoudzou,Mayotte,,",
            "spm,Briand,Yves,,,,,97500,Saint-Pierre,Saint-Pierre-et-Miquelon,,",
            "stbarth,Laplace,Eve,,,,,97133,Gustavia,Saint-Barthélemy,,",
            "stmartin,Fleming,Rose,,,,,97150,Marigot,MAF,,",
            "noumea,Kanak,Tein,,,,,98800,Nouméa,Nouvelle-Calédonie,,",
            "reims,Martin,Hélène,,,,,51100,Reims,FRA,,",
        ],
    );
}

#[test]
fn overseas_addresses_are_stored_as_france() {
    each_engine(|db| {
        overseas_fixture(db);

        for key in [
            "reunion",
            "reu",
            "gp",
            "guadeloupe",
            "mtq",
            "guyane",
            "mayotte",
            "spm",
            "stbarth",
            "stmartin",
        ] {
            assert_eq!(contact(db, key).pro.country, "FRA", "country of {key}");
        }
        assert_eq!(contact(db, "noumea").pro.country, "NCL");
    });
}

/// A country cell naming a territory stored as France, beside a postal code
/// from elsewhere or none, imports with a warning: the selection of the
/// territory would not find the address. So does « DOM », the Dominican
/// Republic's code, beside an overseas département's code.
#[test]
fn overseas_country_beside_other_code_is_warned() {
    each_engine(|db| {
        cast(db);
        let report = import_rows(
            db,
            &[
                "r1,Un,,,,,,51100,Reims,Réunion,,",
                "r2,Deux,,,,,,97400,Saint-Denis,Réunion,,",
                "r3,Trois,,,,,,97150,Marigot,Saint-Barthélemy,,",
                "r4,Quatre,,,,,,97150,Saint-Martin,Guadeloupe,,",
                "r5,Cinq,,,,,,51100,Reims,France,,",
                "r6,Six,,,,,,97400,Saint-Denis,Martinique,,",
                "r7,Sept,,,,,,,Saint-Denis,Réunion,,",
                "r8,Huit,,,,,,97200,Fort-de-France,DOM,,",
            ],
        );

        assert_eq!(report.imported, 8, "{report:?}");
        assert_eq!(
            report.warnings,
            [
                "ligne 2 : le code postal pro « 51100 » (Reims) ne commence pas par 974, le préfixe de La Réunion, que nomme la colonne pays ; la ligne est importée avec la France pour pays, vérifiez le code et le pays",
                "ligne 4 : le code postal pro « 97150 » (Marigot) n'est pas 97133, le code de Saint-Barthélemy, que nomme la colonne pays ; la ligne est importée avec la France pour pays, vérifiez le code et le pays",
                "ligne 7 : le code postal pro « 97400 » (Saint-Denis) ne commence pas par 972, le préfixe de la Martinique, que nomme la colonne pays ; la ligne est importée avec la France pour pays, vérifiez le code et le pays",
                "ligne 8 : l'adresse pro indique La Réunion pour pays, sans code postal ; elle est enregistrée avec la France pour pays, et seule la sélection de toute la France (FRA et *) la trouve : ajoutez son code postal, qui commence par 974",
                "ligne 9 : le pays pro est la République dominicaine (DOM), mais le code postal « 97200 » est celui de Fort-de-France, outre-mer ; si « DOM » désignait un département d'outre-mer, indiquez le pays FRA ; la ligne est importée, vérifiez le pays",
            ]
        );
        assert_eq!(contact(db, "r1").pro.country, "FRA");
    });
}

#[test]
fn overseas_prefixes_match_under_france() {
    each_engine(|db| {
        overseas_fixture(db);

        let matched = |postal: &str| {
            let prepared = prepare_region_reassignment(db.store(), "CC", "FRA", postal, None)
                .unwrap_or_else(|error| panic!("FRA {postal:?}: {error}"));
            relais::service::reassign::preview_region_reassignment(db.store(), &prepared)
                .unwrap()
                .outcome
                .matched
        };

        assert_eq!(matched("974"), 2);
        assert_eq!(matched("971"), 4);
        assert_eq!(matched("97133"), 1);
        assert_eq!(matched("972;973;975;976"), 4);
        assert_eq!(matched("97"), 10);
        assert_eq!(matched("*"), 11);
    });
}

/// New Caledonia keeps its own country: `FRA` with `988` is rejected with
/// the country to choose, and `NCL` with `988` finds the Nouméa contact.
#[test]
fn pacific_prefix_under_france_is_rejected() {
    each_engine(|db| {
        overseas_fixture(db);
        let before = snapshot(db);

        let Err(error) = prepare_region_reassignment(db.store(), "CC", "FRA", "51;988", None)
        else {
            panic!("FRA 988 is rejected");
        };
        let prepared = prepare_region_reassignment(db.store(), "CC", "NCL", "988", None).unwrap();
        let preview =
            relais::service::reassign::preview_region_reassignment(db.store(), &prepared).unwrap();

        assert_eq!(error.code(), "invalid_postal");
        assert_eq!(error.field(), Some("postal"));
        assert_eq!(
            error.to_string(),
            "code postal : « 988 » (Nouvelle-Calédonie) : les adresses de ce territoire sont enregistrées avec le pays NCL ; choisissez le pays NCL plutôt que FRA"
        );
        assert_eq!(preview.outcome.matched, 1);
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn overseas_country_in_selection_is_rejected() {
    each_engine(|db| {
        overseas_fixture(db);
        let before = snapshot(db);

        let Err(error) = prepare_region_reassignment(db.store(), "CC", "REU", "*", None) else {
            panic!("REU is rejected");
        };

        assert_eq!(error.code(), "overseas_country");
        assert_eq!(
            error.to_string(),
            "code pays : « REU » désigne La Réunion, dont les adresses sont enregistrées avec la France ; indiquez le pays FRA et le code postal 974"
        );
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn luxembourg_marker_is_dropped_for_matching() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "lux,Schmit,Luc,,,,,L-1234,Luxembourg,LUX,,",
                "be,Peeters,An,,,,,B-1000,Bruxelles,BEL,,",
                "de,Weber,Uwe,,,,,L-1234,Trier,DEU,,",
            ],
        );

        let matched = |country: &str, postal: &str| {
            let prepared = prepare_region_reassignment(db.store(), "CC", country, postal, None)
                .unwrap_or_else(|error| panic!("{country} {postal:?}: {error}"));
            relais::service::reassign::preview_region_reassignment(db.store(), &prepared)
                .unwrap()
                .outcome
                .matched
        };

        assert_eq!(matched("LUX", "1"), 1);
        assert_eq!(matched("LUX", "1234"), 1);
        // A prefix typed with the country's own marker loses it as well.
        assert_eq!(matched("LUX", "L1"), 1);
        assert_eq!(matched("LUX", "L-2"), 0);
        assert_eq!(matched("BEL", "1000"), 1);
        // A German address keeps the L of a marker that is not its own.
        assert_eq!(matched("DEU", "L1"), 1);
        assert_eq!(contact(db, "lux").pro.postal_code, "L-1234");
    });
}

/// Schema version that brings overseas countries and foreign postal codes
/// stored earlier in line with the rules.
fn overseas_migration_version(engine: Engine) -> i64 {
    match engine {
        Engine::Sqlite => 5,
        Engine::Postgres => 5,
    }
}

#[test]
fn migration_updates_stored_countries_and_markers() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "reunion,Payet,Jean,,97400,Saint-Denis,FRA,97410,Saint-Pierre,FRA,,",
                "lux,Schmit,Luc,,,,,L-1234,Luxembourg,LUX,,",
                "fin,Virtanen,Aino,,,,,FIN-00100,Helsinki,FIN,,",
                "de,Weber,Uwe,,,,,L-1234,Trier,DEU,,",
                "reims,Martin,Hélène,,51100,Reims,FRA,,,,,",
            ],
        );
        let version = overseas_migration_version(db.engine);
        // Puts the rows back as they were stored before the migration, and
        // deletes its version row so that reopening the store runs it again.
        db.execute_raw(&format!(
            "UPDATE contacts SET perso_country = 'REU', pro_country = 'GLP'
               WHERE external_id = 'reunion';
             UPDATE contacts SET pro_postal_norm = 'L1234' WHERE external_id IN ('lux', 'de');
             UPDATE contacts SET pro_postal_norm = 'FIN00100' WHERE external_id = 'fin';
             DELETE FROM schema_migrations WHERE version = {version};"
        ));
        let before_reims = contact(db, "reims");

        let store = open_store(&db.location).expect("store reopens");

        let reunion = store.find_contact("reunion").unwrap().unwrap();
        let lux = store.find_contact("lux").unwrap().unwrap();
        let fin = store.find_contact("fin").unwrap().unwrap();
        let de = store.find_contact("de").unwrap().unwrap();
        let reims = store.find_contact("reims").unwrap().unwrap();
        assert_eq!(reunion.perso.country, "FRA");
        assert_eq!(reunion.pro.country, "FRA");
        assert_eq!(reunion.perso.postal_norm, "97400");
        assert_eq!(lux.pro.postal_norm, "1234");
        assert_eq!(lux.pro.postal_code, "L-1234");
        assert_eq!(fin.pro.postal_norm, "00100");
        assert_eq!(de.pro.postal_norm, "L1234");
        assert_eq!(format!("{reims:?}"), format!("{before_reims:?}"));
    });
}

/// An address given as France, or with no country, and a postal code of a
/// Pacific collectivity is stored under that collectivity's own code, the
/// one region reassignments take for it. Addresses stored before are moved
/// to it by a migration.
#[test]
fn pacific_addresses_are_stored_under_their_country() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "papeete,Tehei,Moana,,98714,Papeete,France,98800,Nouméa,,,",
                "clipperton,Ile,Clip,,98799,Clipperton,FRA,,,,,",
            ],
        );
        let papeete = contact(db, "papeete");
        assert_eq!(papeete.perso.country, "PYF");
        assert_eq!(papeete.pro.country, "NCL");
        assert_eq!(contact(db, "clipperton").perso.country, "FRA");

        let matched = |store: &dyn relais::storage::Store, country: &str, postal: &str| {
            let prepared = prepare_region_reassignment(store, "CC", country, postal, None)
                .unwrap_or_else(|error| panic!("{country} {postal:?}: {error}"));
            relais::service::reassign::preview_region_reassignment(store, &prepared)
                .unwrap()
                .outcome
                .matched
        };
        assert_eq!(matched(db.store(), "PYF", "987"), 1);
        assert_eq!(matched(db.store(), "NCL", "988"), 1);
        assert_eq!(matched(db.store(), "FRA", "98"), 1, "Clipperton alone");

        db.execute_raw(
            "UPDATE contacts SET perso_country = 'FRA', pro_country = 'FRA'
               WHERE external_id = 'papeete';
             DELETE FROM schema_migrations WHERE version = 6;",
        );
        assert_eq!(matched(db.store(), "FRA", "98"), 2, "as stored before");

        let store = open_store(&db.location).expect("store reopens");

        let papeete = store.find_contact("papeete").unwrap().unwrap();
        assert_eq!(papeete.perso.country, "PYF");
        assert_eq!(papeete.pro.country, "NCL");
        assert_eq!(
            store
                .find_contact("clipperton")
                .unwrap()
                .unwrap()
                .perso
                .country,
            "FRA"
        );
        assert_eq!(matched(store.as_ref(), "PYF", "987"), 1);
    });
}
