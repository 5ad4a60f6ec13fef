//! Reassignment by region: country plus postal prefixes.

use relais::service::reassign::{
    apply_region_reassignment, prepare_region_reassignment, preview_region_reassignment,
};

use crate::common::*;

/// Contacts with the postal codes real files have.
fn region_fixture(db: &TestDb) {
    cast(db);
    import_rows(
        db,
        &[
            "reims,Martin,Hélène,,,,,51100,Reims,FRA,JD,",
            "stquentin,Bernard,Élodie,,,,,2100,Saint-Quentin,FRA,JD,",
            "spaced,Petit,Luc,,,,,51 100,Reims,France,,",
            "berlin,Schmidt,Karl,Delta GmbH,,,,45600,Berlin,DE,,",
            "ajaccio,Santoni,Marie,,20000,Ajaccio,fr,,,,,",
            "mezzavia,Leca,Paul,,,,,20167,Mezzavia,FR,,",
            "bastia,Casanova,Anna,,20200,Bastia,FRA,1000,Bruxelles,BE,,",
            "bastia2,Rossi,Jean,,20600,Bastia,base.fr,,,,,",
            "london,Smith,John,Epsilon Ltd,,,,sw1a 1aa,London,GBR,,",
            "laon,Moreau,Jules,,,,,02000,Laon,FRA,BB,",
            "nocode,Sans,Code,,,,,,Paris,FRA,,",
            "both,Deux,Adresses,,51100,Reims,FRA,02000,Laon,FRA,,",
        ],
    );
}

fn matched(db: &TestDb, country: &str, postal: &str) -> u64 {
    let prepared = prepare_region_reassignment(db.store(), "CC", country, postal, None)
        .unwrap_or_else(|error| panic!("{country} {postal:?}: {error}"));
    preview_region_reassignment(db.store(), &prepared)
        .unwrap()
        .outcome
        .matched
}

/// External ids of the contacts a region selects, found by running it.
fn selected(db: &TestDb, country: &str, postal: &str) -> Vec<String> {
    let prepared = prepare_region_reassignment(db.store(), "CC", country, postal, None).unwrap();
    apply_region_reassignment(db.store(), &prepared, run()).unwrap();
    let cc = db.store().find_user("CC").unwrap().unwrap();
    let page = db
        .store()
        .list_contacts(
            &relais::storage::ContactFilter {
                owner: Some(cc.id),
                ..Default::default()
            },
            relais::storage::Page::first(100),
        )
        .unwrap();
    let mut ids: Vec<String> = page
        .contacts
        .into_iter()
        .filter_map(|c| c.external_id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn four_digit_french_code_matches_its_zero_prefix() {
    each_engine(|db| {
        region_fixture(db);

        assert_eq!(contact(db, "stquentin").pro.postal_norm, "02100");
        // The zero Excel dropped comes back in the code as entered too.
        assert_eq!(contact(db, "stquentin").pro.postal_code, "02100");
        assert_eq!(selected(db, "FRA", "02"), vec!["both", "laon", "stquentin"]);
    });
}

#[test]
fn inner_space_code_matches_its_prefix() {
    each_engine(|db| {
        region_fixture(db);

        assert_eq!(selected(db, "FRA", "51"), vec!["both", "reims", "spaced"]);
    });
}

#[test]
fn british_code_matches_in_its_country() {
    each_engine(|db| {
        region_fixture(db);

        assert_eq!(selected(db, "GBR", "SW1A"), vec!["london"]);
        assert_eq!(matched(db, "GBR", "sw1a 1"), 1);
    });
}

#[test]
fn corsica_codes_expand_to_their_prefixes() {
    each_engine(|db| {
        region_fixture(db);

        assert_eq!(matched(db, "FRA", "2A"), 2);
        assert_eq!(matched(db, "FRA", "2B"), 2);
        assert_eq!(matched(db, "FRA", "20"), 4);
        assert_eq!(selected(db, "FRA", "2A"), vec!["ajaccio", "mezzavia"]);
    });
}

#[test]
fn corsica_2b_selects_bastia_only() {
    each_engine(|db| {
        region_fixture(db);

        assert_eq!(selected(db, "FRA", "2b"), vec!["bastia", "bastia2"]);
    });
}

#[test]
fn german_code_never_matches_france() {
    each_engine(|db| {
        region_fixture(db);

        assert_eq!(matched(db, "FRA", "45"), 0);
        assert_eq!(matched(db, "DEU", "45"), 1);
        assert_eq!(matched(db, "Allemagne", "456"), 1);
    });
}

#[test]
fn empty_parts_are_dropped_and_commas_split() {
    each_engine(|db| {
        region_fixture(db);

        let separated = matched(db, "FRA", "51;02");
        assert_eq!(separated, 5);
        assert_eq!(matched(db, "FRA", "51;;02;"), separated);
        assert_eq!(matched(db, "FRA", "51, 02"), separated);
        assert_eq!(matched(db, "FRA", "51;511"), matched(db, "FRA", "51"));
    });
}

#[test]
fn star_takes_every_address_in_the_country() {
    each_engine(|db| {
        region_fixture(db);

        // Every French address, including the one with a city and no code.
        assert_eq!(matched(db, "FRA", "*"), 10);
        assert_eq!(matched(db, "BEL", "*"), 1);
    });
}

#[test]
fn contact_matching_on_both_addresses_counts_once() {
    each_engine(|db| {
        region_fixture(db);

        let prepared = prepare_region_reassignment(db.store(), "CC", "FRA", "51;02", None).unwrap();
        let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(applied.outcome.matched, 5);
        assert_eq!(applied.outcome.history_entries, 5);
        assert_eq!(moves(db, "both").len(), 1);
    });
}

#[test]
fn wildcard_characters_are_rejected_never_widened() {
    each_engine(|db| {
        region_fixture(db);
        let before = snapshot(db);

        for postal in ["5_", "%", "51;%", "51'", "5*", "_"] {
            let error = prepare_region_reassignment(db.store(), "CC", "FRA", postal, None)
                .expect_err(postal);
            assert_eq!(error.code(), "invalid_postal", "{postal}");
            assert_eq!(error.field(), Some("postal"), "{postal}");
        }
        let error = prepare_region_reassignment(db.store(), "CC", "FRA", "51;%", None).unwrap_err();
        assert!(
            error.to_string().contains('%'),
            "message names the bad part: {error}"
        );
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn star_with_another_code_is_rejected() {
    each_engine(|db| {
        region_fixture(db);

        let error = prepare_region_reassignment(db.store(), "CC", "FRA", "*;51", None).unwrap_err();

        assert_eq!(error.code(), "invalid_postal");
    });
}

#[test]
fn empty_postal_field_is_rejected() {
    each_engine(|db| {
        region_fixture(db);

        for postal in ["", "  ", ";;", " , "] {
            let error = prepare_region_reassignment(db.store(), "CC", "FRA", postal, None)
                .expect_err(postal);
            assert_eq!(error.code(), "invalid_postal", "{postal:?}");
        }
    });
}

#[test]
fn unknown_country_is_rejected() {
    each_engine(|db| {
        region_fixture(db);

        let error = prepare_region_reassignment(db.store(), "CC", "XYZ", "51", None).unwrap_err();

        assert_eq!(error.code(), "unknown_country");
        assert_eq!(error.field(), Some("country"));
        assert!(error.to_string().contains("XYZ"), "{error}");
    });
}

#[test]
fn contacts_already_owned_are_left_alone() {
    each_engine(|db| {
        region_fixture(db);

        let prepared = prepare_region_reassignment(db.store(), "JD", "FRA", "51;02", None).unwrap();
        let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

        // reims and stquentin already belong to JD.
        assert_eq!(applied.outcome.matched, 5);
        assert_eq!(applied.outcome.already_owned, 2);
        assert_eq!(applied.outcome.changed, 3);
        assert!(moves(db, "reims").is_empty());
    });
}

/// A role given empty is refused, naming the field, rather than run as
/// the commercial default; a role left out is the default.
#[test]
fn empty_role_is_refused() {
    each_engine(|db| {
        cast(db);
        let Err(error) = prepare_region_reassignment(db.store(), "BB", "FRA", "51", Some(" "))
        else {
            panic!("an empty role is refused");
        };
        assert_eq!(error.code(), "invalid_role");
        assert_eq!(error.field(), Some("role"));
        assert!(
            error.to_string().starts_with("rôle : valeur vide"),
            "{error}"
        );

        let default = prepare_region_reassignment(db.store(), "BB", "FRA", "51", None).unwrap();
        assert_eq!(default.request.roles.as_str(), "commercial");
    });
}

#[test]
fn both_roles_option_writes_each_role() {
    each_engine(|db| {
        region_fixture(db);

        let prepared =
            prepare_region_reassignment(db.store(), "JD", "FRA", "51", Some("both")).unwrap();
        let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

        // reims: commercial already JD, technical none → one entry.
        assert_eq!(applied.outcome.matched, 3);
        assert_eq!(applied.outcome.changed, 3);
        assert_eq!(applied.outcome.commercial, 2);
        assert_eq!(applied.outcome.technical, 3);
        assert_eq!(applied.outcome.history_entries, 5);
        assert_eq!(owners(db, "reims"), (Some("JD".into()), Some("JD".into())));
    });
}

#[test]
fn preview_reports_each_prefix() {
    each_engine(|db| {
        region_fixture(db);

        let prepared =
            prepare_region_reassignment(db.store(), "CC", "FRA", "51;02;2A", None).unwrap();
        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();

        let counts: Vec<(String, u64)> = preview
            .per_prefix
            .iter()
            .map(|count| (count.prefix.clone(), count.matched))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("02".to_string(), 3),
                ("200".to_string(), 1),
                ("201".to_string(), 1),
                ("51".to_string(), 3),
            ]
        );
        assert_eq!(preview.outcome.matched, 7);
        assert_eq!(preview.sample.len(), 5);
    });
}

#[test]
fn history_names_the_owner_replaced() {
    each_engine(|db| {
        region_fixture(db);

        let prepared = prepare_region_reassignment(db.store(), "DD", "FRA", "02", None).unwrap();
        apply_region_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(
            moves(db, "laon"),
            vec![(
                "commercial".to_string(),
                Some("BB".into()),
                Some("DD".into())
            )]
        );
        assert_eq!(
            moves(db, "both"),
            vec![("commercial".to_string(), None, Some("DD".into()))]
        );
    });
}

#[test]
fn cached_preview_follows_committed_batches() {
    each_engine(|db| {
        region_fixture(db);
        let cache = relais::service::preview_cache::PreviewCache::new();
        let prepared = prepare_region_reassignment(db.store(), "JD", "FRA", "51", None).unwrap();

        let first = cache.region_preview(db.store(), &prepared).unwrap();
        let again = cache.region_preview(db.store(), &prepared).unwrap();
        let wider = prepare_region_reassignment(db.store(), "JD", "FRA", "51;02", None).unwrap();
        apply_region_reassignment(db.store(), &wider, run()).unwrap();
        let after = cache.region_preview(db.store(), &prepared).unwrap();

        assert_eq!(first, again);
        // reims already belongs to JD; the batch gives JD the other two.
        assert_eq!(first.outcome.already_owned, 1);
        assert_eq!(after.outcome.already_owned, 3);
        assert_eq!(
            after,
            preview_region_reassignment(db.store(), &prepared).unwrap()
        );
    });
}

/// A list of postal codes pasted from a spreadsheet: 3,000 distinct codes,
/// beyond what a statement spelling out each code could hold on SQLite
/// (500 union terms, an expression depth of 1,000).
#[test]
fn long_postal_lists_preview_and_run() {
    each_engine(|db| {
        region_fixture(db);
        let codes: Vec<String> = (2000..3000)
            .chain(20000..21000)
            .chain(51000..52000)
            .map(|code| format!("{code:05}"))
            .collect();
        let postal = codes.join(";");

        let prepared = prepare_region_reassignment(db.store(), "CC", "FRA", &postal, None).unwrap();
        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();
        let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

        // Every French contact of the fixture but Paris's and the one
        // without a postal code: Reims twice, Saint-Quentin, Laon, the
        // two-address one and the four Corsican ones.
        assert_eq!(preview.per_prefix.len(), 3000);
        assert_eq!(preview.outcome.matched, 9);
        let listed: u64 = preview.per_prefix.iter().map(|count| count.matched).sum();
        assert_eq!(listed, 10, "the two-address contact is in two codes");
        assert_eq!(applied.outcome, preview.outcome);
        let after = preview_region_reassignment(db.store(), &prepared).unwrap();
        assert_eq!(after.outcome.already_owned, 9);
        assert_eq!(after.outcome.changed, 0);
    });
}

/// A list of more than 32,767 codes: PostgreSQL takes at most 65,535
/// parameters per statement, which two per code would pass, and SQLite
/// 32,766. Both engines pass the ranges as one argument, and count every
/// prefix in one statement rather than one per prefix.
#[test]
fn postal_list_past_parameter_limit() {
    each_engine(|db| {
        region_fixture(db);
        let postal = (1000..35000)
            .chain(51000..51200)
            .map(|code| format!("{code:05}"))
            .collect::<Vec<_>>()
            .join(";");

        let prepared = prepare_region_reassignment(db.store(), "CC", "FRA", &postal, None).unwrap();
        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();
        let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

        assert_eq!(preview.per_prefix.len(), 34_200);
        assert!(preview.outcome.matched > 0);
        assert_eq!(applied.outcome, preview.outcome);
    });
}

/// Contacts covering each way the region counts add up. They have both
/// addresses in the region, only one of them, an empty or foreign other
/// address, or a French address without a postal code. Corsican codes lie
/// on both sides of the 200/201 boundary, and some owners already match on
/// one role only.
fn owner_mix_fixture(db: &TestDb) {
    cast(db);
    import_rows(
        db,
        &[
            "both51,A,,,51100,Reims,FRA,51100,Reims,FRA,JD,JD",
            "cross,B,,,51100,Reims,FRA,02000,Laon,FRA,JD,BB",
            "proonly,C,,,75001,Paris,FRA,51100,Reims,FRA,BB,JD",
            "persoonly,D,,,02000,Laon,FRA,1000,Bruxelles,BE,JD,",
            "noperso,E,,,,,,51100,Reims,FRA,,JD",
            "foreign,F,,,45600,Berlin,DE,,,,JD,JD",
            "ajaccio,G,,,20000,Ajaccio,FRA,20200,Bastia,FRA,BB,JD",
            "bastia,H,,,20600,Bastia,FRA,,,,JD,",
            "nocode,I,,,,Paris,FRA,,,,JD,JD",
            "sartene,J,,,20100,Sartène,FRA,20000,Ajaccio,FRA,BB,BB",
        ],
    );
}

fn external_ids(contacts: &[relais::storage::Contact]) -> Vec<String> {
    contacts
        .iter()
        .map(|contact| contact.external_id.clone().unwrap_or_default())
        .collect()
}

#[test]
fn preview_counts_each_address_combination() {
    each_engine(|db| {
        owner_mix_fixture(db);
        assert_eq!(contact(db, "noperso").perso.country, "");

        let prepared =
            prepare_region_reassignment(db.store(), "JD", "FRA", "51;02", Some("both")).unwrap();
        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();

        // both51 is JD's on both roles. proonly and noperso change on the
        // commercial role, cross and persoonly on the technical one.
        assert_eq!(preview.outcome.matched, 5);
        assert_eq!(preview.outcome.commercial, 2);
        assert_eq!(preview.outcome.technical, 2);
        assert_eq!(preview.outcome.history_entries, 4);
        assert_eq!(preview.outcome.changed, 4);
        assert_eq!(preview.outcome.already_owned, 1);
        let counts: Vec<(String, u64)> = preview
            .per_prefix
            .iter()
            .map(|count| (count.prefix.clone(), count.matched))
            .collect();
        assert_eq!(counts, vec![("02".to_string(), 2), ("51".to_string(), 4)]);
        // The sample shows the contacts the run would change: both51 is
        // JD's on both roles already.
        assert_eq!(
            external_ids(&preview.sample),
            vec!["cross", "proonly", "persoonly", "noperso"]
        );
    });
}

/// A long selection is counted over every prefix at once, a short one
/// prefix by prefix on SQLite: both give the same counts. The long one
/// adds 70 prefixes where no contact lives to the short one.
#[test]
fn long_and_short_selections_count_alike() {
    each_engine(|db| {
        owner_mix_fixture(db);
        let empty: Vec<String> = (100..170).map(|code| format!("0{code}")).collect();
        for role in ["commercial", "technical", "both"] {
            let short =
                prepare_region_reassignment(db.store(), "JD", "FRA", "51;02;2A", Some(role))
                    .unwrap();
            let long_postal = format!("51;02;2A;{}", empty.join(";"));
            let long =
                prepare_region_reassignment(db.store(), "JD", "FRA", &long_postal, Some(role))
                    .unwrap();

            let short = preview_region_reassignment(db.store(), &short).unwrap();
            let long = preview_region_reassignment(db.store(), &long).unwrap();

            assert_eq!(long.outcome, short.outcome, "{role}");
            assert!(short.outcome.matched > 0);
            assert!(short.outcome.already_owned > 0);
            let nonzero: Vec<(String, u64)> = long
                .per_prefix
                .iter()
                .filter(|count| count.matched > 0)
                .map(|count| (count.prefix.clone(), count.matched))
                .collect();
            let short_rows: Vec<(String, u64)> = short
                .per_prefix
                .iter()
                .filter(|count| count.matched > 0)
                .map(|count| (count.prefix.clone(), count.matched))
                .collect();
            assert_eq!(long.per_prefix.len(), short.per_prefix.len() + 70);
            assert_eq!(nonzero, short_rows, "{role}");
        }
    });
}

#[test]
fn preview_counts_corsica_prefix_boundary() {
    each_engine(|db| {
        owner_mix_fixture(db);

        let prepared =
            prepare_region_reassignment(db.store(), "JD", "FRA", "2A", Some("technical")).unwrap();
        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();

        // sartene's perso code 20100 starts the 201 range, which begins
        // where the 200 range ends. Its pro code is in 200.
        assert_eq!(preview.outcome.matched, 2);
        assert_eq!(preview.outcome.technical, 1);
        assert_eq!(preview.outcome.already_owned, 1);
        let counts: Vec<(String, u64)> = preview
            .per_prefix
            .iter()
            .map(|count| (count.prefix.clone(), count.matched))
            .collect();
        assert_eq!(counts, vec![("200".to_string(), 2), ("201".to_string(), 1)]);
        // ajaccio's technical owner is JD already, so the sample, which
        // shows the contacts the run would change, leaves it out.
        assert_eq!(external_ids(&preview.sample), vec!["sartene"]);

        // A run that would change nothing shows contacts the target has.
        let prepared =
            prepare_region_reassignment(db.store(), "JD", "DEU", "456", Some("technical")).unwrap();
        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();
        assert_eq!(preview.outcome.changed, 0);
        assert_eq!(external_ids(&preview.sample), vec!["foreign"]);
    });
}

#[test]
fn preview_announces_each_run() {
    each_engine(|db| {
        owner_mix_fixture(db);
        // Each run changes owners, so later cases start from contacts that
        // the target already owns on one role and not the other.
        let cases = [
            ("JD", "51;02", Some("both")),
            ("BB", "51", None),
            ("JD", "2A", Some("technical")),
            ("BB", "2B;51", Some("both")),
            ("DD", "20;02", Some("technical")),
            ("JD", "*", None),
            ("BB", "*", Some("both")),
            ("CC", "*", Some("technical")),
        ];

        for (to, postal, role) in cases {
            let prepared =
                prepare_region_reassignment(db.store(), to, "FRA", postal, role).unwrap();
            let preview = preview_region_reassignment(db.store(), &prepared).unwrap();
            let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();

            assert_eq!(preview.outcome, applied.outcome, "{to} {postal} {role:?}");
        }
    });
}

#[test]
fn star_preview_counts_addresses_without_code() {
    each_engine(|db| {
        owner_mix_fixture(db);

        let prepared = prepare_region_reassignment(db.store(), "JD", "FRA", "*", None).unwrap();
        let preview = preview_region_reassignment(db.store(), &prepared).unwrap();

        // Every contact but foreign has a French address, and nocode's has
        // no postal code. JD already owns five of them on the commercial
        // role.
        assert_eq!(preview.outcome.matched, 9);
        assert_eq!(preview.outcome.already_owned, 5);
        assert_eq!(preview.outcome.commercial, 4);
        assert!(preview.per_prefix.is_empty());
    });
}

/// Runs a region reassignment of `postal` in France to `to` and returns
/// its batch.
fn region_batch(db: &TestDb, to: &str, postal: &str) -> relais::domain::batch::BatchId {
    let prepared = prepare_region_reassignment(db.store(), to, "FRA", postal, None).unwrap();
    apply_region_reassignment(db.store(), &prepared, run())
        .unwrap()
        .batch_id
        .unwrap()
}

/// The batches a result page names as having changed its contacts since
/// the form was shown are those on the same contacts, numbered between.
#[test]
fn batches_between_share_contacts() {
    each_engine(|db| {
        region_fixture(db);
        let (_, since) = db.store().data_version().unwrap();

        let laon = region_batch(db, "CC", "02");
        let corsica = region_batch(db, "DD", "20");
        // `both` has addresses in Reims and in Laon.
        let reims = region_batch(db, "BB", "51");

        let between = |batch, since| {
            db.store()
                .batches_between_on_contacts(batch, since, 10)
                .unwrap()
        };
        assert_eq!(between(reims, since), [laon]);
        assert_eq!(between(reims, laon), Vec::<i64>::new());
        assert_eq!(between(corsica, since), Vec::<i64>::new());
        assert_eq!(between(laon, since), Vec::<i64>::new());
    });
}
