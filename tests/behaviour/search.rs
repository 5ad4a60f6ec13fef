//! Text search of the contact list: case, accents, ligatures and
//! apostrophes are ignored the same way on both engines, while `%`, `_`
//! and `\` match themselves.

use relais::domain::search::{FOLDED_CHARACTERS, fold_for_search};
use relais::storage::{ContactFilter, Page};

use crate::common::*;

/// Contacts whose names, companies and e-mails differ from what people
/// type by case, accents, ligatures, typographic characters or wildcards.
/// Their external ids start with `id-`, so that no typed text below
/// matches one exactly, except `ÉTÉ-42`.
const CONTACTS: &str = "\
source_id;Nom;Prénom;Société;E-mail
id-elodie;Martin;Élodie;Alpha;em@exemple.fr
id-etienne;ÉTIENNE;Paul;Beta;pe@exemple.fr
id-francois;Petit;François;Gamma;fp@exemple.fr
id-oeuvre;Roux;Luc;Œuvre d’Orient;lr@exemple.fr
id-laetitia;Blanc;LÆTITIA;Delta;lb@exemple.fr
id-oreal;Garnier;Zoé;L’Oréal;zg@exemple.fr
id-strasse;Müller;Jörg;Bäckerei Straße;jm@exemple.fr
id-decomposed;Durand;E\u{301}milie;Epsilon;ed@exemple.fr
id-percent;Faure;Marc;100% Bio;mf@exemple.fr
id-underscore;Morel;Anne;Bio_Ferme;am@exemple.fr
id-plain;Morel;Jean;Bio Ferme;jmo@exemple.fr
id-backslash;Perrin;Hugo;Dupont\\Fils;hp@exemple.fr
id-exotic;Lefèvre;Irène;Zêta;il@exemple.fr
ÉTÉ-42;Robin;Léa;Omega;lro@exemple.fr
";

/// (typed text, external ids of the contacts found, in id order).
const CASES: &[(&str, &[&str])] = &[
    // Case beyond ASCII, which SQLite's LIKE did not fold.
    ("élodie", &["elodie"]),
    ("ÉLODIE", &["elodie"]),
    // Accents.
    ("elodie", &["elodie"]),
    ("francois", &["francois"]),
    ("FRANÇOIS", &["francois"]),
    ("etienne", &["etienne"]),
    ("Étienne", &["etienne"]),
    ("muller", &["strasse"]),
    ("irene", &["exotic"]),
    // Ligatures.
    ("oeuvre", &["oeuvre"]),
    ("Œuvre", &["oeuvre"]),
    ("laetitia", &["laetitia"]),
    ("Lætitia", &["laetitia"]),
    ("strasse", &["strasse"]),
    ("backerei", &["strasse"]),
    // Typographic apostrophes, either way.
    ("l'oreal", &["oreal"]),
    ("L’Oréal", &["oreal"]),
    ("d'orient", &["oeuvre"]),
    // An accent stored as a combining mark (NFD), as macOS files have it.
    ("émilie", &["decomposed"]),
    ("emilie", &["decomposed"]),
    // Wildcards and the escape character are literal.
    ("100%", &["percent"]),
    ("%", &["percent"]),
    ("_", &["underscore"]),
    ("o_f", &["underscore"]),
    ("bio_ferme", &["underscore"]),
    ("bio ferme", &["plain"]),
    ("\\", &["backslash"]),
    ("t\\f", &["backslash"]),
    // The external id matches exactly and only exactly.
    ("ÉTÉ-42", &["ÉTÉ-42"]),
    ("ete-42", &[]),
];

fn load(db: &TestDb) {
    let report = import_bytes(db, "recherche.csv", CONTACTS.as_bytes());
    assert!(
        report.rejected.is_empty(),
        "unexpected rejections: {:?}",
        report.rejected
    );
}

/// External ids of the contacts a search finds, without their `id-`
/// prefix and in id order, and the total the page reports.
fn search(db: &TestDb, text: &str) -> (Vec<String>, u64) {
    let filter = ContactFilter {
        text: Some(text.to_string()),
        ..ContactFilter::default()
    };
    let page = db
        .store()
        .list_contacts(&filter, Page::first(100))
        .expect("search");
    let ids = page
        .contacts
        .into_iter()
        .map(|contact| {
            let id = contact.external_id.unwrap_or_default();
            id.strip_prefix("id-").unwrap_or(&id).to_string()
        })
        .collect();
    (ids, page.total)
}

#[test]
fn search_finds_each_case() {
    each_engine(|db| {
        load(db);

        for (text, expected) in CASES {
            let (found, total) = search(db, text);

            assert_eq!(found, *expected, "{:?}: search {text:?}", db.engine);
            assert_eq!(
                total,
                expected.len() as u64,
                "{:?}: total of {text:?}",
                db.engine
            );
        }
    });
}

#[test]
fn search_export_uses_same_rule() {
    each_engine(|db| {
        load(db);
        let filter = ContactFilter {
            text: Some("oeuvre".to_string()),
            ..ContactFilter::default()
        };
        let mut exported = Vec::new();

        db.store()
            .export_contacts(
                &relais::storage::ExportSelection::Filter(filter),
                &mut |contact| {
                    exported.push(contact.external_id.clone().unwrap_or_default());
                    Ok(())
                },
            )
            .expect("export");

        assert_eq!(exported, vec!["id-oeuvre".to_string()], "{:?}", db.engine);
    });
}

#[test]
fn engines_return_same_contacts() {
    let databases: Vec<TestDb> = engines().into_iter().map(TestDb::new).collect();
    for db in &databases {
        load(db);
    }
    let (reference, others) = databases.split_first().expect("SQLite always runs");

    for (text, _) in CASES {
        let expected = search(reference, text);
        for other in others {
            assert_eq!(
                search(other, text),
                expected,
                "{:?} and {:?} differ on {text:?}",
                reference.engine,
                other.engine
            );
        }
    }
}

/// Texts on which PostgreSQL's `relais_fold` must agree with the Rust
/// function SQLite calls: every character of the Latin blocks and of the
/// general punctuation, the table of folded characters, and words mixing
/// scripts, decomposed accents and ASCII.
fn fold_samples() -> Vec<String> {
    let ranges = [
        '\u{20}'..='\u{7E}',
        '\u{A0}'..='\u{24F}',
        '\u{300}'..='\u{36F}',
        '\u{1E00}'..='\u{1EFF}',
        '\u{2000}'..='\u{206F}',
    ];
    let mut samples: Vec<String> = ranges
        .into_iter()
        .flatten()
        .map(|character| format!("A{character}b"))
        .collect();
    samples.extend(
        FOLDED_CHARACTERS
            .iter()
            .map(|(character, _)| character.to_string()),
    );
    samples.extend(
        [
            "Élodie ÉTIENNE",
            "E\u{301}lodie",
            "Œuvre d’Orient",
            "Straße STRAẞE",
            "Ελένη Иванов",
            "Nguyễn Thị",
            "한국",
            "",
        ]
        .map(str::to_string),
    );
    samples
}

#[test]
fn postgres_fold_matches_rust_fold() {
    for engine in engines() {
        if engine != Engine::Postgres {
            continue;
        }
        let db = TestDb::new(engine);
        let samples = fold_samples();
        let mut client = postgres::Client::connect(&db.location, postgres::NoTls).expect("connect");

        let rows = client
            .query(
                "SELECT relais_fold(sample) FROM unnest($1::text[]) WITH ORDINALITY AS s(sample, n)
                 ORDER BY n",
                &[&samples],
            )
            .expect("relais_fold");

        assert_eq!(rows.len(), samples.len());
        for (sample, row) in samples.iter().zip(&rows) {
            let folded: String = row.get(0);
            assert_eq!(
                folded,
                fold_for_search(sample),
                "relais_fold({sample:?}) differs from fold_for_search"
            );
        }
        let null: Option<String> = client
            .query_one("SELECT relais_fold(NULL)", &[])
            .expect("relais_fold(NULL)")
            .get(0);
        assert_eq!(null, None);
    }
}

/// A NUL character, which PostgreSQL text cannot hold, in a search, a
/// contact key, a user key or a login finds nothing on both engines,
/// instead of failing the statement.
#[test]
fn nul_in_keys_finds_nothing() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["n1,Nul,,,,,,51100,Reims,FRA,JD,"]);
        let store = db.store();

        assert!(store.find_contact("n1\0").unwrap().is_none());
        assert!(store.find_contact("ext:n\0").unwrap().is_none());
        assert!(store.find_user("J\0D").unwrap().is_none());
        let filter = ContactFilter {
            text: Some("Nul\0".into()),
            ..ContactFilter::default()
        };
        let page = store.list_contacts(&filter, Page::first(10)).unwrap();
        assert_eq!(page.total, 0);
        assert!(page.contacts.is_empty());
        assert_eq!(store.record_login_failure("a\0b", 900).unwrap(), 1);
        assert_eq!(store.record_login_failure("a\0b", 900).unwrap(), 2);
        store.clear_login_failures("a\0b").unwrap();
        assert_eq!(store.record_login_failure("a\0b", 900).unwrap(), 1);
    });
}
