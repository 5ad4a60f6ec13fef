//! Importing contact files as French users have them.

use relais::domain::country::CountryCode;
use relais::service::import::{ImportRequest, import_file};
use relais::service::users::{UserForm, add_user};
use relais::storage::{ContactFilter, Page};

use crate::common::*;

const ROWS: &str = "source_id;Nom;Prénom;Société;Code postal pro;Ville pro;Pays pro;Responsable commercial\r\n\
k1;Martin;Hélène;Alpha;51100;Reims;FRA;JD\r\n\
k2;Bernard;Élodie;\"Dupont; Fils\";2100;Saint-Quentin;France;bb\r\n\
k3;Loïc;Gaëlle;Œuvre;75001;Paris;;\r\n";

fn all_contacts(db: &TestDb) -> Vec<relais::storage::Contact> {
    db.store()
        .list_contacts(&ContactFilter::default(), Page::first(1000))
        .unwrap()
        .contacts
}

/// Formats a contact without its ids and times, for comparing two imports.
fn comparable(contact: &relais::storage::Contact) -> String {
    format!(
        "{:?} {} {} {} {:?} {:?} {:?}",
        contact.external_id,
        contact.first_name,
        contact.last_name,
        contact.company,
        contact.pro,
        contact.perso,
        contact.commercial_owner.as_ref().map(|u| &u.initials)
    )
}

#[test]
fn windows_1252_and_utf8_bom_give_same_contacts() {
    let mut seen = Vec::new();
    for encoding in ["cp1252", "bom"] {
        each_engine(|db| {
            cast(db);
            let bytes = match encoding {
                "cp1252" => encoding_rs::WINDOWS_1252.encode(ROWS).0.into_owned(),
                _ => [b"\xEF\xBB\xBF".as_slice(), ROWS.as_bytes()].concat(),
            };

            let report = import_bytes(db, "contacts.csv", &bytes);

            assert_eq!(report.imported, 3, "{encoding}: {report:?}");
            assert!(
                report.rejected.is_empty(),
                "{encoding}: {:?}",
                report.rejected
            );
            let contacts = all_contacts(db);
            assert_eq!(contacts[0].first_name, "Hélène");
            assert_eq!(contacts[1].first_name, "Élodie");
            assert_eq!(contacts[1].company, "Dupont; Fils");
            assert_eq!(contacts[2].company, "Œuvre");
            seen.push(contacts.iter().map(comparable).collect::<Vec<_>>());
        });
    }
    assert!(seen.windows(2).all(|pair| pair[0] == pair[1]), "{seen:#?}");
}

#[test]
fn country_spellings_all_store_fra() {
    each_engine(|db| {
        cast(db);

        import_rows(
            db,
            &[
                "c1,Un,,,,,,51100,Reims,France,,",
                "c2,Deux,,,,,,51100,Reims,FR,,",
                "c3,Trois,,,,,,51100,Reims,fra,,",
                "c4,Quatre,,,,,,51100,Reims,base.fr,,",
                "c5,Cinq,,,,,,51100,Reims,,,",
            ],
        );

        for key in ["c1", "c2", "c3", "c4", "c5"] {
            assert_eq!(contact(db, key).pro.country, "FRA", "{key}");
        }
    });
}

#[test]
fn unknown_country_is_reported_on_its_line() {
    each_engine(|db| {
        cast(db);
        let text = format!(
            "{HEADER}\nok1,Un,,,,,,51100,Reims,FRA,,\nbad,Deux,,,,,,69001,Lyon,Atlantis,,\nok2,Trois,,,,,,02000,Laon,FR,,\n"
        );

        let report = import_bytes(db, "contacts.csv", text.as_bytes());

        assert_eq!(report.imported, 2);
        assert_eq!(report.rejected.len(), 1);
        let rejection = &report.rejected[0];
        assert_eq!(rejection.line, 3);
        assert_eq!(rejection.column, "pro_country");
        assert!(
            rejection.reason.contains("Atlantis"),
            "{}",
            rejection.reason
        );
        assert!(db.store().find_contact("bad").unwrap().is_none());
    });
}

#[test]
fn reimport_by_external_id_updates_and_writes_history() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["k1,Martin,Hélène,,,,,51100,Reims,FRA,JD,"]);

        let report = import_rows(db, &["k1,Martin,Hélène,,,,,51100,Reims,FRA,BB,"]);

        assert_eq!(
            (report.imported, report.updated, report.unchanged),
            (0, 1, 0)
        );
        assert_eq!(all_contacts(db).len(), 1);
        assert_eq!(
            moves(db, "k1"),
            vec![(
                "commercial".to_string(),
                Some("JD".into()),
                Some("BB".into())
            )]
        );
        let again = import_rows(db, &["k1,Martin,Hélène,,,,,51100,Reims,FRA,BB,"]);
        assert_eq!((again.imported, again.updated, again.unchanged), (0, 0, 1));
    });
}

#[test]
fn several_owners_in_one_cell_are_rejected() {
    each_engine(|db| {
        cast(db);
        let text = format!("{HEADER}\nm1,Magic,,Food,,,,123456,BigTown,ES,JD;BB,\n");

        let report = import_bytes(db, "contacts.csv", text.as_bytes());

        assert_eq!(report.imported, 0);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].line, 2);
        assert_eq!(report.rejected[0].column, "commercial_owner");
    });
}

#[test]
fn unknown_owner_is_rejected_unless_created() {
    each_engine(|db| {
        cast(db);
        let text = format!("{HEADER}\nu1,Un,,,,,,51100,Reims,FRA,aeinstein,\n");
        let path = write_file(db, "owners.csv", text.as_bytes());
        let request = |create| ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: create,
            actor: actor(),
        };

        let refused = import_file(db.store(), &path, &request(false), &mut |_| {}).unwrap();
        let created = import_file(db.store(), &path, &request(true), &mut |_| {}).unwrap();

        assert_eq!(refused.imported, 0);
        assert_eq!(refused.rejected[0].column, "commercial_owner");
        assert!(refused.rejected[0].reason.contains("aeinstein"));
        assert_eq!(created.imported, 1);
        assert_eq!(created.created_users.len(), 1);
        let user = db.store().find_user("aeinstein").unwrap().unwrap();
        assert_eq!(owners(db, "u1").0, Some(user.initials));
    });
}

#[test]
fn owners_resolve_by_email_in_any_case() {
    each_engine(|db| {
        cast(db);

        import_rows(
            db,
            &["e1,Un,,,,,,51100,Reims,FRA,BB@Example.ORG,jd@example.org"],
        );

        assert_eq!(owners(db, "e1"), (Some("BB".into()), Some("JD".into())));
    });
}

/// A French postal code that is not five digits is imported, flagged and
/// named in a warning, because no region selection will find it. A
/// Corsican commune code gets a hint.
#[test]
fn invalid_french_postal_code_is_warned_about() {
    each_engine(|db| {
        cast(db);

        let report = import_rows(
            db,
            &[
                "p1,Un,,,,,,2A004,Ajaccio,FRA,,",
                "p2,Deux,,,,,,123456,Paris,FRA,,",
                "p3,Trois,,,,,,51100,Reims,FRA,,",
                "p4,Quatre,,,,,,1000,Bruxelles,BEL,,",
                "p5,Cinq,,,,,,51723 REIMS CEDEX,,FRA,,",
            ],
        );

        assert_eq!(report.imported, 5, "{report:?}");
        let about = |code: &str| -> Vec<&String> {
            report
                .warnings
                .iter()
                .filter(|warning| warning.contains(&format!("« {code} »")))
                .collect()
        };
        let corsica = about("2A004");
        assert_eq!(corsica.len(), 1, "{:?}", report.warnings);
        assert!(corsica[0].starts_with("ligne 2 : le code postal pro « 2A004 » (Ajaccio) n'est pas un code français à cinq chiffres"), "{}", corsica[0]);
        assert!(corsica[0].contains("code commune INSEE"), "{}", corsica[0]);
        let long = about("123456");
        assert_eq!(long.len(), 1, "{:?}", report.warnings);
        assert!(
            long[0].ends_with(
                "n'est pas un code français à cinq chiffres ; la ligne est importée et le code \
                 signalé comme invalide, mais une réaffectation par région risque de manquer \
                 cette adresse : corrigez le code"
            ),
            "{}",
            long[0]
        );
        assert!(!long[0].contains("INSEE"), "{}", long[0]);
        let whole_line = about("51723 REIMS CEDEX");
        assert_eq!(whole_line.len(), 1, "{:?}", report.warnings);
        assert!(
            whole_line[0].contains(
                "n'est pas un code français à cinq chiffres (le code 51723 y est suivi de la \
                 ville ; écrivez la ville dans sa propre colonne) ;"
            ),
            "{}",
            whole_line[0]
        );
        assert!(
            about("51100").is_empty() && about("1000").is_empty(),
            "{:?}",
            report.warnings
        );
    });
}

/// A file cut to a few columns, with an empty identity cell on some rows,
/// updates the contacts its keys name. A row whose key names no contact,
/// or that would empty every name of its contact, is rejected.
#[test]
fn partial_file_with_empty_identity_cells_updates() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["x9,Richard,Léa,,,,,51100,Reims,FRA,JD,"]);
        let text = "source_id;company;commercial_owner\nx9;;BB\nnouveau;;BB\n";

        let report = import_bytes(db, "partiel.csv", text.as_bytes());

        assert_eq!(report.updated, 1, "{report:?}");
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].line, 3);
        assert!(
            report.rejected[0].reason.contains("« nouveau »"),
            "{}",
            report.rejected[0].reason
        );
        let contact = db.store().find_contact("x9").unwrap().unwrap();
        assert_eq!(
            (contact.first_name.as_str(), contact.last_name.as_str()),
            ("Léa", "Richard")
        );
        assert_eq!(owners(db, "x9").0, Some("BB".into()));
        assert!(db.store().find_contact("nouveau").unwrap().is_none());

        // A row that would empty every name the contact has is set aside.
        let emptied = "source_id;last_name;first_name;company;commercial_owner\nx9;;;;CC\n";
        let report = import_bytes(db, "vide.csv", emptied.as_bytes());

        assert_eq!(report.updated, 0, "{report:?}");
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        let reason = &report.rejected[0].reason;
        assert!(reason.contains("laisserait le contact n° "), "{reason}");
        let contact = db.store().find_contact("x9").unwrap().unwrap();
        assert_eq!(contact.last_name, "Richard");
        assert_eq!(owners(db, "x9").0, Some("BB".into()));
    });
}

/// `--create-missing-users` reads an unknown owner of several words as a
/// person: first name, then last name, and initials from both.
#[test]
fn created_owner_full_name_split() {
    each_engine(|db| {
        cast(db);
        let text = format!("{HEADER}\nz1,Un,,,,,,51100,Reims,FRA,Zoé Lambert,\n");
        let path = write_file(db, "nouveaux.csv", text.as_bytes());
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.created_users, ["ZL"]);
        let user = db.store().find_user("ZL").unwrap().unwrap();
        assert_eq!(
            (user.first_name.as_str(), user.last_name.as_str()),
            ("Zoé", "Lambert")
        );
        assert_eq!(user.display_name(), "Zoé LAMBERT (ZL)");
        assert_eq!(owners(db, "z1").0, Some("ZL".into()));
    });
}

/// A user `--create-missing-users` creates under numbered initials,
/// because another user has the plain ones, is reported with that user:
/// `Jean Dupond` is often Jean DUPONT misspelt.
#[test]
fn created_owner_with_taken_initials_is_warned() {
    each_engine(|db| {
        cast(db);
        let text = format!(
            "{HEADER}\nd1,Un,,,,,,51100,Reims,FRA,Jean Dupond,\nd2,Deux,,,,,,51100,Reims,FRA,Zoé Lambert,\n"
        );
        let path = write_file(db, "proches.csv", text.as_bytes());
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.created_users, ["JD2", "ZL"]);
        let numbered: Vec<&String> = report
            .warnings
            .iter()
            .filter(|warning| warning.contains("créé comme"))
            .collect();
        assert_eq!(
            numbered,
            [
                "responsable « Jean Dupond » créé comme Jean DUPOND (JD2), car les initiales JD \
                 sont celles de Jean DUPONT (JD) ; si c'est la même personne, annulez cette \
                 importation et écrivez JD dans le fichier"
            ]
        );
    });
}

/// An owner written as a full name, in either order, names the one user
/// with that name instead of creating a second one. A name two users
/// share is rejected, naming both.
#[test]
fn owner_full_name_finds_user() {
    each_engine(|db| {
        cast(db);
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };
        let text = format!("{HEADER}\nn1,Un,,,,,,51100,Reims,FRA,Jean Dupont,BONCHAMPS Baptiste\n");
        let path = write_file(db, "noms.csv", text.as_bytes());

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.imported, 1, "{:?}", report.rejected);
        assert!(
            report.created_users.is_empty(),
            "{:?}",
            report.created_users
        );
        assert_eq!(owners(db, "n1"), (Some("JD".into()), Some("BB".into())));

        user(db, "JD2", "Jean", "Dupont");
        let text = format!("{HEADER}\nn2,Deux,,,,,,51100,Reims,FRA,jean dupont,\n");
        let path = write_file(db, "homonymes.csv", text.as_bytes());

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.imported, 0);
        assert!(report.created_users.is_empty());
        let reason = &report.rejected[0].reason;
        assert!(reason.contains("ambigu"), "{reason}");
        assert!(
            reason.contains("Jean DUPONT (JD), Jean DUPONT (JD2)"),
            "{reason}"
        );
    });
}

/// An owner cell holding only a last name is refused, naming the users
/// with that name, even under `--create-missing-users`, which would
/// otherwise create a namesake. An e-mail that `user add` would refuse
/// creates no user either.
#[test]
fn owner_last_name_alone_is_refused() {
    each_engine(|db| {
        cast(db);
        user(db, "MC", "Marie", "Curie");
        user(db, "PC", "Pierre", "Curie");
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };
        let text = format!(
            "{HEADER}\nc1,Un,,,,,,51100,Reims,FRA,Curie,\nc2,Deux,,,,,,51100,Reims,FRA,dupont,\n\
             c3,Trois,,,,,,51100,Reims,FRA,mcurie@nowhere,\nc4,Quatre,,,,,,51100,Reims,FRA,Marie,\n\
             c5,Cinq,,,,,,51100,Reims,FRA,nouveau.venu,Curie\n"
        );
        let path = write_file(db, "noms.csv", text.as_bytes());
        let before = db.store().list_users().unwrap().len();

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.imported, 0, "{:?}", report.rejected);
        assert!(
            report.created_users.is_empty(),
            "{:?}",
            report.created_users
        );
        assert_eq!(db.store().list_users().unwrap().len(), before);
        let reasons: Vec<&str> = report.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons[0],
            "responsable « Curie » ambigu : 2 utilisateurs portent ce nom de famille \
             (Marie CURIE (MC), Pierre CURIE (PC)) ; indiquez les initiales ou l'e-mail de l'un d'eux"
        );
        assert_eq!(
            reasons[1],
            "responsable « dupont » incomplet : c'est le nom de famille de Jean DUPONT (JD) ; \
             écrivez ses initiales, son e-mail ou son nom complet, ou, s'il s'agit d'une \
             autre personne, créez-la d'abord (relais user add)"
        );
        assert_eq!(
            reasons[2],
            "responsable « mcurie@nowhere » inconnu, et pas créé : e-mail « mcurie@nowhere » \
             invalide : une adresse s'écrit nom@domaine.fr ; corrigez la cellule"
        );
        assert_eq!(
            reasons[3],
            "responsable « Marie » incomplet : c'est le prénom de Marie CURIE (MC) ; écrivez ses \
             initiales, son e-mail ou son nom complet, ou, s'il s'agit d'une autre personne, \
             créez-la d'abord (relais user add)"
        );
        // The row is rejected for its technical owner, so the commercial
        // one, new, is not created either.
        assert!(
            reasons[4].starts_with("responsable « Curie » ambigu"),
            "{}",
            reasons[4]
        );
        assert!(db.store().find_user("nouveau.venu").unwrap().is_none());
    });
}

/// Owner cells copied from a mail client (`Jean Dupont <jd@…>`,
/// `mailto:jd@…`) or holding initials alone in parentheses name that user,
/// even under `--create-missing-users`. Damaged cells (`Jean DUPONT ()`,
/// `JD.`) are rejected rather than made into users, and a civility in a
/// display form is no reason for a warning.
#[test]
fn owner_cells_in_mail_forms_name_the_user() {
    each_engine(|db| {
        cast(db);
        let users_before = db.store().list_users().unwrap().len();
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };
        let text = "Identifiant externe;Nom;Responsable commercial\n\
                    v1;Un;Jean Dupont <jd@example.org>\n\
                    v2;Deux;mailto:JD@example.org\n\
                    v3;Trois;(JD)\n\
                    v4;Quatre;Jean DUPONT ()\n\
                    v5;Cinq;JD.\n\
                    v6;Six;M. Jean DUPONT (JD)\n";
        let path = write_file(db, "courriel.csv", text.as_bytes());

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.imported, 4, "{:?}", report.rejected);
        for key in ["v1", "v2", "v3", "v6"] {
            assert_eq!(owners(db, key), (Some("JD".into()), None), "{key}");
        }
        assert!(
            report.created_users.is_empty(),
            "{:?}",
            report.created_users
        );
        assert_eq!(db.store().list_users().unwrap().len(), users_before);
        let reasons: Vec<(u64, &str)> = report
            .rejected
            .iter()
            .map(|rejection| (rejection.line, rejection.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    5,
                    "responsable « Jean DUPONT () » inconnu, et pas créé : un nom, un identifiant \
                     ou un e-mail ne peut pas contenir le caractère « ( » ; corrigez la cellule"
                ),
                (
                    6,
                    "responsable « JD. » inconnu, et pas créé : un nom, un identifiant ou un \
                     e-mail ne peut pas finir par un point ; corrigez la cellule"
                ),
            ]
        );
        assert!(
            !report
                .warnings
                .iter()
                .any(|w| w.contains("porte les initiales")),
            "{:?}",
            report.warnings
        );
    });
}

/// Without `--create-missing-users`, the error on an unknown owner cell that
/// the option could not make into a user does not suggest the option.
#[test]
fn damaged_owner_cell_not_sent_to_the_option() {
    each_engine(|db| {
        cast(db);
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: false,
            actor: actor(),
        };
        let text = "Identifiant externe;Nom;Responsable commercial\n\
                    d1;Un;JD.\n\
                    d2;Deux;nouveau@nulle-part\n\
                    d3;Trois;Zoé Lambert\n";
        let path = write_file(db, "abime.csv", text.as_bytes());

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        let reasons: Vec<&str> = report
            .rejected
            .iter()
            .map(|rejection| rejection.reason.as_str())
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert_eq!(
            reasons[0],
            "responsable « JD. » inconnu, et --create-missing-users ne le créerait pas non plus \
             (un nom, un identifiant ou un e-mail ne peut pas finir par un point) ; corrigez la \
             cellule"
        );
        assert!(
            reasons[1].starts_with(
                "responsable « nouveau@nulle-part » inconnu, et --create-missing-users ne le créerait pas non plus (e-mail « nouveau@nulle-part »"
            ),
            "{}",
            reasons[1]
        );
        assert!(
            reasons[2].ends_with("relancez avec --create-missing-users"),
            "a name the option can create: {}",
            reasons[2]
        );
    });
}

/// An owner cell holding a login that is also other users' last name
/// goes to the user with the login, and the report warns once per login,
/// whatever its case in the cells, naming the others. A login that is its own user's last name gets no
/// warning.
#[test]
fn owner_login_shared_with_a_name_warns() {
    each_engine(|db| {
        cast(db);
        user(db, "PC", "Pierre", "Curie");
        add_user(
            db.store(),
            &UserForm {
                initials: "ZL".into(),
                first_name: "Zoé".into(),
                last_name: "Lambert".into(),
                login: "curie".into(),
                ..UserForm::default()
            },
        )
        .unwrap();
        add_user(
            db.store(),
            &UserForm {
                initials: "HB".into(),
                first_name: "Henri".into(),
                last_name: "Bosc".into(),
                login: "bosc".into(),
                ..UserForm::default()
            },
        )
        .unwrap();
        let report = import_rows(
            db,
            &[
                "c1,Un,,,,,,51100,Reims,FRA,curie,",
                "c2,Deux,,,,,,51100,Reims,FRA,JD,Curie",
                "c3,Trois,,,,,,51100,Reims,FRA,bosc,",
                "c4,Quatre,,,,,,51100,Reims,FRA,curie,",
            ],
        );

        assert_eq!(report.imported, 4);
        assert_eq!(owners(db, "c1"), (Some("ZL".into()), None));
        assert_eq!(owners(db, "c2"), (Some("JD".into()), Some("ZL".into())));
        assert_eq!(owners(db, "c3"), (Some("HB".into()), None));
        let shared: Vec<&String> = report
            .warnings
            .iter()
            .filter(|warning| warning.contains("c'est aussi le"))
            .collect();
        assert_eq!(
            shared,
            [
                "ligne 2 et 2 autres : le responsable « curie » est l'identifiant de Zoé \
                 LAMBERT (ZL), à qui ces contacts ont été affectés, mais c'est aussi le nom de \
                 famille de Pierre CURIE (PC) ; si ce n'est pas le bon responsable, écrivez dans \
                 le fichier les initiales de celui qui convient et réimportez-le, ou réaffectez \
                 ces contacts"
            ]
        );
    });
}

/// A civility before an owner's name (`M. Curie`, `Mme Marie Curie`) is
/// not part of the name: the cell resolves, or is refused, as the name
/// alone would be, and a user created for it has no « M. » in its name.
#[test]
fn owner_civility_is_not_a_name() {
    each_engine(|db| {
        cast(db);
        user(db, "MC", "Marie", "Curie");
        user(db, "EL", "Éloïse", "Lavigne");
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };
        let text = format!(
            "{HEADER}\nc1,Un,,,,,,51100,Reims,FRA,Mme Marie Curie,\nc2,Deux,,,,,,51100,Reims,FRA,M. Curie,\n\
             c3,Trois,,,,,,51100,Reims,FRA,M. Lambert,\nc4,Quatre,,,,,,51100,Reims,FRA,M. Lambert,\nc5,Cinq,,,,,,51100,Reims,FRA,Mme Lavigne,\n\
             c6,Six,,,,,,51100,Reims,FRA,Mme,\nc7,Sept,,,,,,51100,Reims,FRA,M.Marie Curie,\n"
        );
        let path = write_file(db, "civilites.csv", text.as_bytes());

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.imported, 4, "{:?}", report.rejected);
        assert_eq!(owners(db, "c1").0.as_deref(), Some("MC"));
        assert_eq!(owners(db, "c7").0.as_deref(), Some("MC"));
        let reasons: Vec<(u64, &str)> = report
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    3,
                    "responsable « M. Curie » incomplet : c'est le nom de famille de Marie CURIE (MC) ; \
                 écrivez ses initiales, son e-mail ou son nom complet, ou, s'il s'agit d'une \
                 autre personne, créez-la d'abord (relais user add)"
                ),
                (
                    6,
                    "responsable « Mme Lavigne » incomplet : c'est le nom de famille d'Éloïse LAVIGNE (EL) ; \
                 écrivez ses initiales, son e-mail ou son nom complet, ou, s'il s'agit d'une \
                 autre personne, créez-la d'abord (relais user add)"
                ),
                (
                    7,
                    "responsable « Mme » : une civilité seule ne désigne personne ; écrivez les \
                     initiales, l'e-mail ou le nom du responsable"
                )
            ]
        );
        assert_eq!(report.created_users.len(), 1, "{:?}", report.created_users);
        let created = db
            .store()
            .find_user(&report.created_users[0])
            .unwrap()
            .unwrap();
        assert_eq!(
            (created.first_name.as_str(), created.last_name.as_str()),
            ("", "Lambert")
        );
        assert_eq!(created.login, None);
        assert_eq!(owners(db, "c3").0, Some(created.initials.clone()));
        assert_eq!(owners(db, "c4").0, Some(created.initials.clone()));
    });
}

/// Users that `--create-missing-users` created earlier in the file count
/// as users of the base: the same person in another word order finds
/// them, and a last name two of them share is refused, naming both.
#[test]
fn created_users_known_to_later_rows() {
    each_engine(|db| {
        cast(db);
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };
        let text = format!(
            "{HEADER}\nc1,Un,,,,,,51100,Reims,FRA,Zoé Lambert,\nc2,Deux,,,,,,51100,Reims,FRA,Paul Lambert,\n\
             c3,Trois,,,,,,51100,Reims,FRA,LAMBERT Zoé,\nc4,Quatre,,,,,,51100,Reims,FRA,Lambert,\n"
        );
        let path = write_file(db, "nouveaux.csv", text.as_bytes());

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.created_users.len(), 2, "{:?}", report.created_users);
        assert_eq!(report.imported, 3, "{:?}", report.rejected);
        assert_eq!(owners(db, "c3").0, owners(db, "c1").0);
        let reasons: Vec<(u64, &str)> = report
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        let zoe = contact(db, "c1").commercial_owner.unwrap().initials;
        let paul = contact(db, "c2").commercial_owner.unwrap().initials;
        assert_eq!(
            reasons,
            vec![(
                5,
                format!(
                    "responsable « Lambert » ambigu : 2 utilisateurs portent ce nom de famille \
                     (Zoé LAMBERT ({zoe}), Paul LAMBERT ({paul})) ; indiquez les initiales ou \
                     l'e-mail de l'un d'eux"
                )
                .as_str()
            )]
        );
    });
}

/// A postal code that La Poste lists, but not for the city written next
/// to it, is reported: `5100 Reims` read as 05100 is Briançon's code, in
/// another département. The warning gives the codes of the city written.
/// Arrondissements, CEDEX and `St` are no mismatch.
#[test]
fn postal_code_of_another_city_is_reported() {
    each_engine(|db| {
        let report = import_rows(
            db,
            &[
                "c1,Un,,,,,,5100,Reims,FRA,,",
                "c2,Deux,,,93190,Paris,,,,,,",
                "c3,Trois,,,,,,51100,REIMS CEDEX 2,,,",
                "c4,Quatre,,,75015,Paris 15e,FRA,02100,St Quentin,FRA,,",
                "c5,Cinq,,,20000,Bastia,FRA,,,,,",
            ],
        );

        assert_eq!(report.imported, 5, "{:?}", report.rejected);
        let about_codes: Vec<&String> = report
            .warnings
            .iter()
            .filter(|warning| warning.contains("est celui"))
            .collect();
        assert_eq!(
            about_codes,
            [
                "ligne 2 : le code postal pro « 05100 » est celui de Briançon, Cervières et \
                 6 autres communes, pas de « Reims » (code 51100) ; la ligne est importée, \
                 vérifiez le code et la ville",
                "ligne 3 : le code postal perso « 93190 » est celui de Livry-Gargan, pas de \
                 « Paris » (codes 75001, 75002, 75003 et 18 autres) ; la ligne est importée, \
                 vérifiez le code et la ville",
                "ligne 6 : le code postal perso « 20000 » est celui d'Ajaccio, pas de \
                 « Bastia » (codes 20200, 20600) ; la ligne est importée, vérifiez le code et \
                 la ville",
            ]
        );
        assert_eq!(contact(db, "c1").pro.postal_code, "05100");
    });
}

/// A re-import whose owner cells are empty removes the owners, as the file
/// requests, and its report first counts those contacts per role.
#[test]
fn emptied_owner_cells_are_reported() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "c1,Un,,,,,,51100,Reims,FRA,JD,BB",
                "c2,Deux,,,,,,51100,Reims,FRA,JD,",
                "c3,Trois,,,,,,51100,Reims,FRA,BB,BB",
            ],
        );

        let report = import_rows(
            db,
            &[
                "c1,Un,,,,,,51100,Reims,FRA,,BB",
                "c2,Deux,,,,,,51100,Reims,FRA,,",
                "c3,Trois,,,,,,51100,Reims,FRA,BB,",
            ],
        );
        let single = import_rows(db, &["c3,Trois,,,,,,51100,Reims,FRA,,"]);

        assert_eq!(report.updated, 3, "{:?}", report.rejected);
        assert_eq!(
            report.warnings[0],
            "2 contacts perdent leur responsable commercial et 1 contact son responsable \
             technique : la cellule du fichier est vide ; si ce n'est pas voulu, annulez cette \
             importation, qui le leur rend"
        );
        assert_eq!(owners(db, "c2"), (None, None));
        assert_eq!(
            single.warnings[0],
            "1 contact perd son responsable commercial : la cellule du fichier est vide ; si ce \
             n'est pas voulu, annulez cette importation, qui le lui rend"
        );
        let unchanged = import_rows(db, &["c3,Trois,,,,,,51100,Reims,FRA,,"]);
        assert!(
            unchanged.warnings.iter().all(|w| !w.contains("perd")),
            "{:?}",
            unchanged.warnings
        );
    });
}

#[test]
fn missing_file_is_reported_and_writes_nothing() {
    each_engine(|db| {
        cast(db);
        let before = snapshot(db);

        let error = import_file(
            db.store(),
            &db.dir.path().join("absent.csv"),
            &ImportRequest {
                default_country: CountryCode::france(),
                create_missing_users: false,
                actor: actor(),
            },
            &mut |_| {},
        )
        .unwrap_err();

        assert_eq!(error.code(), "file_unreadable");
        assert!(error.to_string().contains("absent.csv"));
        assert_eq!(snapshot(db), before);
    });
}

#[test]
fn export_reads_back_as_the_same_contacts() {
    each_engine(|db| {
        cast(db);
        import_bytes(db, "contacts.csv", ROWS.as_bytes());
        let path = db.dir.path().join("export.csv");

        let written = relais::service::export::export_to_file(
            db.store(),
            &relais::storage::ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let report = import_bytes(db, "export.csv", &bytes);

        assert_eq!(written, 3);
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "Excel needs the BOM");
        assert!(String::from_utf8_lossy(&bytes).contains("\"Dupont; Fils\""));
        assert_eq!(
            (report.imported, report.updated, report.unchanged),
            (0, 0, 3)
        );
    });
}

#[test]
fn repeated_external_id_is_rejected_naming_first_line() {
    each_engine(|db| {
        cast(db);
        let text = format!(
            "{HEADER}\nE1,Dupré,Hélène,,,,,51100,Reims,FRA,JD,\nE2,Autre,,,,,,51100,Reims,FRA,,\nE1,Licate,Dup,,,,,02000,Laon,FRA,BB,\n"
        );

        let report = import_bytes(db, "contacts.csv", text.as_bytes());

        assert_eq!(report.imported, 2);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].line, 4);
        assert_eq!(report.rejected[0].column, "source_id");
        assert!(
            report.rejected[0].reason.contains("ligne 2"),
            "{}",
            report.rejected[0].reason
        );
        assert_eq!(contact(db, "E1").last_name, "Dupré");
    });
}

#[test]
fn export_without_external_ids_reimports_in_place() {
    each_engine(|db| {
        cast(db);
        let text = "Nom;Prénom;Société;Code postal;Ville;Responsable commercial\nMartin;Hélène;Alpha;51100;Reims;JD\nPetit;Luc;;02000;Laon;BB\n";
        import_bytes(db, "contacts.csv", text.as_bytes());
        let path = db.dir.path().join("export.csv");
        relais::service::export::export_to_file(
            db.store(),
            &relais::storage::ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replace(";JD;", ";BB;");

        let report = import_bytes(db, "edited.csv", edited.as_bytes());

        assert_eq!(
            (report.imported, report.updated, report.unchanged),
            (0, 1, 1)
        );
        assert_eq!(all_contacts(db).len(), 2);
        let martin = &all_contacts(db)[0];
        assert_eq!(martin.commercial_owner.as_ref().unwrap().initials, "BB");
        let history = db.store().contact_history(martin.id).unwrap();
        assert_eq!(history.len(), 1);
    });
}

/// Re-importing a file exported from a CRM before a reassignment gives
/// its contacts back to their former owner. The report warns of it,
/// naming the reassignment, and counts only the contacts it gave back.
#[test]
fn reimport_warns_of_reversed_reassignment() {
    each_engine(|db| {
        cast(db);
        let rows = [
            "r1,Un,,,,,,51100,Reims,FRA,JD,JD",
            "r2,Deux,,,,,,51100,Reims,FRA,JD,",
            "r3,Trois,,,,,,51100,Reims,FRA,JD,",
        ];
        import_rows(db, &rows);
        let prepared =
            relais::service::reassign::prepare_user_reassignment(db.store(), "JD", "BB").unwrap();
        let batch =
            relais::service::reassign::apply_user_reassignment(db.store(), &prepared, run())
                .unwrap()
                .batch_id
                .unwrap();

        // r3 goes to CC, which no reassignment took from it.
        let report = import_rows(db, &[rows[0], rows[1], "r3,Trois,,,,,,51100,Reims,FRA,CC,"]);

        assert_eq!(report.updated, 3);
        assert_eq!(
            report.warnings[0],
            format!(
                "2 contacts retrouvent le responsable que la réaffectation n° {batch} leur avait \
                 retiré : si ce fichier vient de votre CRM, reportez-y d'abord les réaffectations \
                 faites dans Relais ; pour revenir en arrière, annulez cette importation"
            )
        );
        assert_eq!(
            report
                .warnings
                .iter()
                .filter(|w| w.contains("retrouve"))
                .count(),
            1
        );

        // The same file again reverses nothing more.
        let again = import_rows(db, &[rows[0]]);
        assert!(
            again.warnings.iter().all(|w| !w.contains("retrouve")),
            "{:?}",
            again.warnings
        );

        // A chain, JD to BB then BB to CC, is reversed too: the warning
        // names the reassignment that took JD away.
        let chain = |from: &str, to: &str| {
            let prepared =
                relais::service::reassign::prepare_user_reassignment(db.store(), from, to).unwrap();
            relais::service::reassign::apply_user_reassignment(db.store(), &prepared, run())
                .unwrap()
                .batch_id
                .unwrap()
        };
        let first = chain("JD", "BB");
        chain("BB", "CC");
        let report = import_rows(db, &[rows[1]]);
        assert_eq!(
            report.warnings[0],
            format!(
                "1 contact retrouve le responsable que la réaffectation n° {first} lui avait \
                 retiré : si ce fichier vient de votre CRM, reportez-y d'abord les réaffectations \
                 faites dans Relais ; pour revenir en arrière, annulez cette importation"
            )
        );
    });
}

/// The demo base contains the faults of real files as an import stores them,
/// so its export reads back without changing a contact: a four-digit
/// French code, stored with its zero back, is exported with it.
#[test]
fn demo_export_reimports_unchanged() {
    each_engine(|db| {
        relais::service::demo::fill_demo(db.store(), 2_000, &mut |_| {}).unwrap();
        let path = db.dir.path().join("export.csv");
        relais::service::export::export_to_file(
            db.store(),
            &relais::storage::ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let exported = std::fs::read(&path).unwrap();

        let report = import_bytes(db, "export.csv", &exported);

        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(
            (report.imported, report.updated, report.unchanged),
            (0, 0, 2_000)
        );
    });
}

#[test]
fn contact_number_from_another_base_is_rejected() {
    each_engine(|db| {
        cast(db);
        import_bytes(db, "first.csv", "Nom;Prénom\nMartin;Hélène\n".as_bytes());
        let foreign = "N° Relais;Nom;Prénom\n1;Durand;Zoé\n";

        let report = import_bytes(db, "foreign.csv", foreign.as_bytes());

        assert_eq!((report.imported, report.updated), (0, 0));
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].line, 2);
        assert_eq!(report.rejected[0].column, "N° Relais");
        assert!(
            report.rejected[0].reason.contains("autre nom"),
            "{}",
            report.rejected[0].reason
        );
        assert_eq!(all_contacts(db).len(), 1);
        assert_eq!(all_contacts(db)[0].last_name, "Martin");
    });
}

/// Exports the base, fills the empty external id of contact n° 1 with
/// `external_id` and returns the edited file.
fn export_with_external_id(db: &TestDb, external_id: &str) -> String {
    let path = db.dir.path().join("export.csv");
    relais::service::export::export_to_file(
        db.store(),
        &relais::storage::ExportSelection::All,
        &path,
        relais::service::export::ExistingFile::Replace,
    )
    .unwrap();
    let exported = std::fs::read_to_string(&path).unwrap();
    let edited = exported.replacen("\n1;;", &format!("\n1;{external_id};"), 1);
    assert_ne!(edited, exported, "no line 1;; in {exported}");
    edited
}

#[test]
fn external_id_added_to_export_updates_contact() {
    each_engine(|db| {
        cast(db);
        import_bytes(
            db,
            "first.csv",
            "Nom;Prénom;Code postal\nAndré;Benoît;51100\n".as_bytes(),
        );
        let edited = export_with_external_id(db, "CRM-42");

        let report = import_bytes(db, "edited.csv", edited.as_bytes());

        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(
            (report.imported, report.updated, report.unchanged),
            (0, 1, 0)
        );
        let contacts = all_contacts(db);
        assert_eq!(contacts.len(), 1);
        assert_eq!(contacts[0].id, 1);
        assert_eq!(contacts[0].external_id.as_deref(), Some("CRM-42"));

        let again = import_bytes(db, "edited.csv", edited.as_bytes());
        assert!(again.rejected.is_empty(), "{:?}", again.rejected);
        assert_eq!((again.imported, again.updated, again.unchanged), (0, 0, 1));
        assert_eq!(all_contacts(db).len(), 1);
    });
}

#[test]
fn unknown_contact_number_is_rejected() {
    each_engine(|db| {
        cast(db);
        import_bytes(db, "first.csv", "Nom;Prénom\nMartin;Hélène\n".as_bytes());
        let file = "N° Relais;Identifiant externe;Nom;Prénom\n99999;;Martin;Hélène\n99998;X-1;Martin;Hélène\n";

        let report = import_bytes(db, "unknown.csv", file.as_bytes());

        assert_eq!(report.imported, 0);
        let lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3]);
        for (rejection, number) in report.rejected.iter().zip(["99999", "99998"]) {
            assert_eq!(rejection.column, "N° Relais");
            assert!(
                rejection
                    .reason
                    .starts_with(&format!("aucun contact n° {number} :")),
                "{}",
                rejection.reason
            );
        }
        let contacts = all_contacts(db);
        assert_eq!(contacts.len(), 1);
        assert_eq!(contacts[0].external_id, None);
    });
}

#[test]
fn contact_number_and_other_external_id_rejected() {
    each_engine(|db| {
        cast(db);
        import_bytes(
            db,
            "first.csv",
            "Identifiant externe;Nom;Prénom\nCRM-1;Martin;Hélène\nCRM-2;Petit;Luc\n".as_bytes(),
        );
        // Each number appears once: a number given twice is rejected as such.
        let file = "N° Relais;Identifiant externe;Nom;Prénom\n\
                    1;CRM-9;Martin;Hélène\n\
                    3;CRM-2;Martin;Hélène\n\
                    2;;Petit;Luc\n";

        let report = import_bytes(db, "conflicts.csv", file.as_bytes());

        assert_eq!(
            (report.imported, report.updated, report.unchanged),
            (0, 0, 0)
        );
        let rejected: Vec<(u64, &str)> = report
            .rejected
            .iter()
            .map(|r| (r.line, r.column.as_str()))
            .collect();
        assert_eq!(
            rejected,
            [
                (2, "N° Relais"),
                (3, "Identifiant externe"),
                (4, "N° Relais")
            ]
        );
        let reasons: Vec<&str> = report.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].contains("« CRM-1 »"), "{}", reasons[0]);
        assert!(reasons[0].contains("« CRM-9 »"), "{}", reasons[0]);
        assert!(reasons[1].contains("« CRM-2 »"), "{}", reasons[1]);
        assert!(reasons[1].contains("n° 2"), "{}", reasons[1]);
        assert!(reasons[1].contains("n° 3"), "{}", reasons[1]);
        assert!(reasons[2].contains("« CRM-2 »"), "{}", reasons[2]);
        assert_eq!(all_contacts(db).len(), 2);
        assert_eq!(contact(db, "CRM-1").last_name, "Martin");
    });
}

#[test]
fn contact_number_wins_over_numeric_external_id() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "5,Cinq,,,,,,51100,Reims,FRA,,",
                "1,Un,,,,,,51100,Reims,FRA,,",
            ],
        );

        let first = contact(db, "1");
        let by_external = contact(db, "5");

        // Contact n° 1 is « Cinq », whose external id is 5.
        assert_eq!(first.last_name, "Cinq");
        assert_eq!(by_external.last_name, "Cinq");
        assert_eq!(contact(db, "2").last_name, "Un");
    });
}

#[test]
fn rejections_keep_file_order_across_chunks() {
    each_engine(|db| {
        cast(db);
        let mut text = format!("{HEADER}\n");
        let mut expected_lines = Vec::new();
        for index in 1..=4_500u64 {
            let line = index + 1;
            let (country, owner) = match index {
                _ if index % 997 == 0 => ("FRA", "ZZ"),
                _ if index % 1_301 == 0 => ("Atlantide", "JD"),
                _ => ("FRA", "JD"),
            };
            if index % 997 == 0 || index % 1_301 == 0 {
                expected_lines.push(line);
            }
            text.push_str(&format!(
                "row{index},Nom{index},,,,,,51100,Reims,{country},{owner},\n"
            ));
        }

        let report = import_bytes(db, "rows.csv", text.as_bytes());

        let lines: Vec<u64> = report
            .rejected
            .iter()
            .map(|rejection| rejection.line)
            .collect();
        assert_eq!(lines, expected_lines);
        assert_eq!(report.imported, 4_500 - expected_lines.len() as u64);
        assert_eq!(report.rejected[0].column, "commercial_owner");
        assert!(
            report.rejected[0].reason.contains("« ZZ » inconnu"),
            "{}",
            report.rejected[0].reason
        );
        assert_eq!(report.rejected[1].column, "pro_country");
        assert!(
            report.rejected[1].reason.contains("« Atlantide »"),
            "{}",
            report.rejected[1].reason
        );
        assert_eq!(contact(db, "row4500").last_name, "Nom4500");
    });
}

#[test]
fn excel_unicode_text_file_imports() {
    each_engine(|db| {
        cast(db);
        let text = "Nom\tPrénom\tCode postal\tResponsable commercial\r\n\
                    Lefèvre\tÉlodie\t=\"01000\"\tJD\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }

        let report = import_bytes(db, "unicode.txt", &bytes);

        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(report.imported, 1);
        let contacts = all_contacts(db);
        assert_eq!(contacts[0].first_name, "Élodie");
        assert_eq!(contacts[0].pro.postal_code, "01000");
        assert_eq!(
            contacts[0].commercial_owner.as_ref().unwrap().initials,
            "JD"
        );
    });
}

/// UTF-16 without a byte order mark, in either byte order, reads as text
/// rather than as a binary file.
#[test]
fn utf16_without_mark_imports() {
    each_engine(|db| {
        cast(db);
        let text = "Nom;Prénom;Responsable commercial\r\nLefèvre;Élodie;JD\r\n";
        for big_endian in [true, false] {
            let bytes: Vec<u8> = text
                .encode_utf16()
                .flat_map(|unit| {
                    if big_endian {
                        unit.to_be_bytes()
                    } else {
                        unit.to_le_bytes()
                    }
                })
                .collect();

            let report = import_bytes(db, "sans-bom.csv", &bytes);

            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
            assert_eq!(report.imported, 1, "big endian: {big_endian}");
        }
        let names: Vec<String> = all_contacts(db)
            .iter()
            .map(|c| c.first_name.clone())
            .collect();
        assert_eq!(names, ["Élodie", "Élodie"]);
    });
}

#[test]
fn owner_in_display_form_resolves_to_user() {
    each_engine(|db| {
        cast(db);
        let users_before = db.store().list_users().unwrap().len();
        let text = "Identifiant externe;Nom;Responsable commercial\n\
                    d1;Martin;Jean DUPONT (JD)\n\
                    d2;Petit;Inconnu NULLE PART (ZZ)\n\
                    d3;Durand;JD / BB\n";
        let path = write_file(db, "display.csv", text.as_bytes());
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.imported, 1);
        assert!(
            report.created_users.is_empty(),
            "{:?}",
            report.created_users
        );
        assert_eq!(db.store().list_users().unwrap().len(), users_before);
        assert_eq!(owners(db, "d1").0.as_deref(), Some("JD"));
        let lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4]);
        assert!(
            report.rejected[0].reason.contains("« ZZ »"),
            "{}",
            report.rejected[0].reason
        );
        assert!(
            report.rejected[1]
                .reason
                .starts_with("plusieurs responsables"),
            "{}",
            report.rejected[1].reason
        );
    });
}

/// An owner cell whose initials name a user with another name still goes
/// to that user, since users get renamed, but the report warns once per
/// cell text, with its first line and the number of other rows. Case,
/// accents and word order do not count as another name.
#[test]
fn display_form_with_other_name_warns() {
    each_engine(|db| {
        cast(db);
        let text = "Identifiant externe;Nom;Responsable commercial;Responsable technique\n\
                    n1;Un;Baptiste BONCHAMPS (JD);\n\
                    n2;Deux;DUPONT Jean (JD);jean dupont (JD)\n\
                    n3;Trois;Baptiste BONCHAMPS (JD);Baptiste BONCHAMPS (JD)\n\
                    n4;Quatre;Baptiste BONCHAMPS (JD);Personne (ZZ)\n\
                    n5;Cinq;JD (JD);jd (JD)\n";
        let report = import_bytes(db, "display.csv", text.as_bytes());

        assert_eq!(report.imported, 4);
        assert_eq!(owners(db, "n1").0.as_deref(), Some("JD"));
        // `JD (JD)` repeats the initials in place of a name: no warning.
        assert_eq!(owners(db, "n5"), (Some("JD".into()), Some("JD".into())));
        let mismatches: Vec<&String> = report
            .warnings
            .iter()
            .filter(|warning| warning.contains("un autre nom"))
            .collect();
        assert_eq!(mismatches.len(), 1, "{:?}", report.warnings);
        assert!(
            mismatches[0].starts_with(
                "ligne 2 et 1 autre : le responsable « Baptiste BONCHAMPS (JD) » porte les initiales de Jean DUPONT (JD) mais un autre nom"
            ),
            "{}",
            mismatches[0]
        );
    });
}

/// An owner in display form names a user of the base before the import:
/// a user that `--create-missing-users` creates from another row does not
/// make it valid, whatever the order of the rows.
#[test]
fn display_form_ignores_users_created_by_import() {
    each_engine(|db| {
        let text = "Identifiant externe;Nom;Responsable commercial\n\
                    e1;Un;Jean DUPONT (JD)\n\
                    e2;Deux;JD\n\
                    e3;Trois;Jean DUPONT (JD)\n";
        let path = write_file(db, "owners.csv", text.as_bytes());
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };

        let report = import_file(db.store(), &path, &request, &mut |_| {}).unwrap();

        assert_eq!(report.created_users, ["JD"]);
        assert_eq!(report.imported, 1);
        let lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(
            report.rejected[0].reason, report.rejected[1].reason,
            "the same cell gets the same reason on both lines"
        );
        assert!(
            report.rejected[0]
                .reason
                .contains("aucun utilisateur n'avait les initiales « JD » avant cet import"),
            "{}",
            report.rejected[0].reason
        );
        assert!(
            report.warnings.iter().all(|w| !w.contains("un autre nom")),
            "{:?}",
            report.warnings
        );
    });
}

/// An import that waits for another one to commit reads the users once it
/// holds the write lock, so it finds the owner the other one created
/// instead of creating it a second time, which fails.
#[test]
fn waiting_import_sees_users_created_meanwhile() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["k0,Zéro,,,,,,51100,Reims,FRA,JD,"]);
        let path = write_file(
            db,
            "owners.csv",
            "Nom;Responsable commercial\nUn;nouveau.responsable\nDeux;nouveau.responsable\n"
                .as_bytes(),
        );
        let request = ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: true,
            actor: actor(),
        };
        let mut first = db
            .store()
            .begin_import(&actor(), serde_json::json!({}))
            .unwrap();
        first
            .create_user(&relais::domain::user::NewUser {
                initials: "NR".into(),
                login: Some("nouveau.responsable".into()),
                first_name: String::new(),
                last_name: "nouveau.responsable".into(),
                email: None,
                role: relais::domain::user::UserRole::User,
                active: true,
                password_hash: None,
            })
            .unwrap();

        let second = std::thread::scope(|scope| {
            let waiting = scope.spawn(|| import_file(db.store(), &path, &request, &mut |_| {}));
            // Until the second import waits for the first one's lock: seen
            // on PostgreSQL, given time on SQLite, whose wait shows nowhere.
            match db.engine {
                Engine::Postgres => {
                    let mut watcher =
                        postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
                    wait_for_lock_waiter(&mut watcher);
                }
                Engine::Sqlite => std::thread::sleep(std::time::Duration::from_millis(500)),
            }
            assert!(!waiting.is_finished(), "the second import did not wait");
            first
                .commit(&relais::storage::ImportCounts::default())
                .unwrap();
            waiting.join().unwrap()
        })
        .expect("the second import succeeds");

        assert!(second.rejected.is_empty(), "{:?}", second.rejected);
        assert!(
            second.created_users.is_empty(),
            "{:?}",
            second.created_users
        );
        assert_eq!(second.imported, 2);
        let owner = db
            .store()
            .find_user("nouveau.responsable")
            .unwrap()
            .unwrap();
        assert_eq!(owner.initials, "NR");
    });
}

/// A file with a few columns, as an administrator cuts one down in Excel,
/// updates those fields and leaves every other one as it was.
#[test]
fn file_with_few_columns_updates_only_those() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &["w1,Hélène,Élodie,Société Générale,51100,Reims,FRA,2100,Saint-Quentin,FRA,JD,BB"],
        );
        let before = contact(db, "w1");

        let report = import_bytes(
            db,
            "part.csv",
            "Identifiant externe;Nom;Responsable commercial\nw1;Martin;CC\n".as_bytes(),
        );

        assert_eq!((report.imported, report.updated), (0, 1), "{report:?}");
        assert!(
            report.warnings.iter().any(|warning| warning.contains(
                "pas de colonne pour : civilité, prénom, société, e-mail, téléphone, responsable technique, toute l'adresse perso et toute l'adresse pro ; les contacts déjà enregistrés les gardent"
            )),
            "{:?}",
            report.warnings
        );
        let after = contact(db, "w1");
        assert_eq!(after.last_name, "Martin");
        assert_eq!(after.first_name, before.first_name);
        assert_eq!(after.company, before.company);
        assert_eq!(after.perso, before.perso);
        assert_eq!(after.pro, before.pro);
        assert_eq!(owners(db, "w1"), (Some("CC".into()), Some("BB".into())));
        assert_eq!(
            moves(db, "w1"),
            [("commercial".into(), Some("JD".into()), Some("CC".into()))]
        );

        // One column of an address leaves the rest of it as it was.
        let report = import_bytes(
            db,
            "city.csv",
            "Identifiant externe;Ville pro\nw1;SAINT-QUENTIN\n".as_bytes(),
        );
        assert_eq!(report.updated, 1, "{report:?}");
        assert!(
            report.warnings.iter().any(|warning| warning.contains(
                "adresse pro, complément adresse pro, code postal pro, pays pro et toute l'adresse perso ;"
            )),
            "{:?}",
            report.warnings
        );
        let moved = contact(db, "w1");
        assert_eq!(moved.pro.city, "SAINT-QUENTIN");
        assert_eq!(
            (&moved.pro.postal_code, &moved.pro.country, &moved.perso),
            (&before.pro.postal_code, &before.pro.country, &before.perso)
        );
        assert_eq!(moved.last_name, "Martin");

        // A country alone keeps the postal code, and a postal code alone
        // keeps the country; the code selections match follows both.
        let report = import_bytes(
            db,
            "pays.csv",
            "Identifiant externe;Pays pro\nw1;France\n".as_bytes(),
        );
        assert_eq!(report.rejected.len(), 0, "{report:?}");
        let kept = contact(db, "w1").pro;
        assert_eq!(
            (
                kept.postal_code.as_str(),
                kept.postal_norm.as_str(),
                kept.country.as_str()
            ),
            ("02100", "02100", "FRA")
        );
        import_rows(db, &["b1,Peeters,An,,,,,B-1000,Bruxelles,BEL,,"]);
        let report = import_bytes(
            db,
            "cp.csv",
            "Identifiant externe;Code postal pro\nb1;B-1050\n".as_bytes(),
        );
        assert_eq!(report.updated, 1, "{report:?}");
        let belgian = contact(db, "b1").pro;
        assert_eq!(
            (
                belgian.postal_code.as_str(),
                belgian.postal_norm.as_str(),
                belgian.country.as_str()
            ),
            ("B-1050", "1050", "BEL")
        );

        // Relais's own numbers, without the names they are usually checked
        // against, name a contact that has no external id.
        import_rows(db, &[",Sans,Clé,Gamma,,,,51100,Reims,FRA,JD,BB"]);
        let numbered = all_contacts(db)
            .into_iter()
            .find(|contact| contact.last_name == "Sans")
            .unwrap();
        let report = import_bytes(
            db,
            "numbers.csv",
            format!("N° Relais;Responsable technique\n{};DD\n", numbered.id).as_bytes(),
        );

        assert_eq!(report.updated, 1, "{report:?}");
        let last = all_contacts(db)
            .into_iter()
            .find(|contact| contact.id == numbered.id)
            .unwrap();
        assert_eq!(
            last.technical_owner
                .as_ref()
                .map(|user| user.initials.as_str()),
            Some("DD")
        );
        assert_eq!(
            (&last.first_name, &last.company, &last.pro),
            (&numbered.first_name, &numbered.company, &numbered.pro)
        );

        // A file that names no contact only updates: an external id that no
        // contact has is rejected rather than made a contact with no name.
        let count = db.store().count_contacts().unwrap();
        let report = import_bytes(
            db,
            "owners.csv",
            "Identifiant externe;Responsable commercial
w1;JD
inconnu;JD
"
            .as_bytes(),
        );

        assert_eq!((report.imported, report.updated), (0, 1), "{report:?}");
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].line, 3);
        assert_eq!(report.rejected[0].column, "Identifiant externe");
        assert!(
            report.rejected[0]
                .reason
                .starts_with("aucun contact n'a l'identifiant externe « inconnu »"),
            "{}",
            report.rejected[0].reason
        );
        assert_eq!(db.store().count_contacts().unwrap(), count);
        assert_eq!(owners(db, "w1"), (Some("JD".into()), Some("BB".into())));
        assert_eq!(contact(db, "w1").first_name, before.first_name);
    });
}

/// Rows that give contacts to a deactivated user, and French postal codes
/// La Poste does not list, are imported with a warning in the report.
#[test]
fn report_warns_inactive_owners_unknown_codes() {
    each_engine(|db| {
        cast(db);
        deactivate(db, "DD");
        deactivate(db, "CC");

        let report = import_rows(
            db,
            &[
                "o1,Un,,,,,,51100,Reims,FRA,DD,",
                "o2,Deux,,,,,,51100,Reims,FRA,JD,DD",
                "o3,Trois,,,,,,1080,Brussels,FRA,JD,",
                "o4,Quatre,,,,,,51096,Reims Cedex,FRA,JD,",
                "o5,Cinq,,,,,,５１１００,Reims,FRA,JD,",
                "o6,Six,,,,,,—,Reims,FRA,JD,",
                "o7,Sept,,,,,,51100,Reims,FRA,CC,",
            ],
        );

        assert_eq!(report.imported, 7, "{report:?}");
        assert!(
            report.warnings.contains(
                &"ligne 8 : le compte de Claire CARON (CC) est désactivé, et le fichier le nomme comme responsable ; ce contact lui est affecté, réaffectez-le à un utilisateur actif si besoin (relais reassign)".to_string()
            ),
            "{:?}",
            report.warnings
        );
        // Full-width digits read as a code; symbols alone are no code.
        assert_eq!(contact(db, "o5").pro.postal_norm, "51100");
        let symbols: Vec<&String> = report
            .warnings
            .iter()
            .filter(|warning| warning.starts_with("ligne 7 : le code postal pro « — »"))
            .collect();
        assert_eq!(symbols.len(), 1, "{:?}", report.warnings);
        assert!(
            !report
                .warnings
                .iter()
                .any(|warning| warning.contains("ligne 6")),
            "{:?}",
            report.warnings
        );
        assert!(
            report.warnings.contains(
                &"ligne 2 et 1 autre : le compte de Denis DURAND (DD) est désactivé, et le fichier le nomme comme responsable ; ces contacts lui sont affectés, réaffectez-les à un utilisateur actif si besoin (relais reassign)".to_string()
            ),
            "{:?}",
            report.warnings
        );
        assert!(
            report.warnings.contains(
                &"ligne 4 : le code postal pro « 1080 » (Brussels), lu 01080, est inconnu de La Poste ; la ligne est importée, vérifiez le code et le pays".to_string()
            ),
            "{:?}",
            report.warnings
        );
        assert!(
            !report
                .warnings
                .iter()
                .any(|warning| warning.contains("51096")),
            "a CEDEX code is not a fault: {:?}",
            report.warnings
        );
        assert_eq!(owners(db, "o1"), (Some("DD".into()), None));
    });
}

/// A postal code of one Pacific collectivity under the country of another,
/// or a metropolitan code under a Pacific country, is imported with a
/// warning: no region selection would find the address.
#[test]
fn report_warns_pacific_code_of_other_country() {
    each_engine(|db| {
        cast(db);

        let report = import_rows(
            db,
            &[
                "n1,Un,,,,,,98714,Papeete,NCL,JD,",
                "n2,Deux,,,,,,51100,Reims,PYF,JD,",
                "n3,Trois,,,,,,98800,Nouméa,NCL,JD,",
                "n4,Quatre,,,,,,98714,Papeete,FRA,JD,",
            ],
        );

        assert_eq!(report.imported, 4, "{report:?}");
        let pacific: Vec<&String> = report
            .warnings
            .iter()
            .filter(|warning| warning.contains("le préfixe"))
            .collect();
        assert_eq!(
            pacific,
            [
                "ligne 2 : le code postal pro « 98714 » (Papeete) ne commence pas par 988, le préfixe de la Nouvelle-Calédonie (NCL) ; la ligne est importée, vérifiez le code et le pays",
                "ligne 3 : le code postal pro « 51100 » (Reims) ne commence pas par 987, le préfixe de la Polynésie française (PYF) ; la ligne est importée, vérifiez le code et le pays",
            ],
            "{:?}",
            report.warnings
        );
        assert_eq!(contact(db, "n1").pro.country, "NCL");
    });
}

/// An import's journal list and its export hold the contacts it created
/// and those whose owner it changed, not those it left as they were or
/// changed in other fields only.
#[test]
fn import_batch_lists_created_contacts() {
    use relais::storage::{ExportSelection, Page};

    each_engine(|db| {
        cast(db);
        let first = import_rows(
            db,
            &[
                "a,Un,,,,,,51100,Reims,FRA,JD,",
                "b,Deux,,,,,,51100,Reims,FRA,JD,",
                "d,Quatre,,,,,,51100,Reims,FRA,JD,",
            ],
        );
        let second = import_rows(
            db,
            &[
                "a,Un,,,,,,51100,Reims,FRA,JD,",
                "b,Deux,,,,,,51100,Reims,FRA,BB,",
                "c,Trois,,,,,,51100,Reims,FRA,JD,",
                "d,Quatre,,,,,,02100,Saint-Quentin,FRA,JD,",
            ],
        );
        let listed = |batch| -> Vec<String> {
            db.store()
                .batch_contacts(batch, Page::first(100))
                .unwrap()
                .contacts
                .into_iter()
                .filter_map(|contact| contact.external_id)
                .collect()
        };
        let exported = |batch| -> Vec<String> {
            let mut ids = Vec::new();
            db.store()
                .export_contacts(&ExportSelection::Batch(batch), &mut |contact| {
                    ids.extend(contact.external_id.clone());
                    Ok(())
                })
                .unwrap();
            ids
        };

        assert_eq!(listed(first.batch_id.unwrap()), ["a", "b", "d"]);
        assert_eq!(listed(second.batch_id.unwrap()), ["b", "c"]);
        assert_eq!(exported(second.batch_id.unwrap()), ["b", "c"]);
        // Pages run across the owner changes, then the created contacts.
        let paged = |offset| {
            let page = db
                .store()
                .batch_contacts(second.batch_id.unwrap(), Page { limit: 1, offset })
                .unwrap();
            let ids: Vec<String> = page
                .contacts
                .into_iter()
                .filter_map(|contact| contact.external_id)
                .collect();
            (page.total, ids)
        };
        assert_eq!(paged(0), (2, vec!["b".to_string()]));
        assert_eq!(paged(1), (2, vec!["c".to_string()]));
        assert_eq!(paged(2), (2, Vec::<String>::new()));
        let batch = db.store().batch(second.batch_id.unwrap()).unwrap().unwrap();
        assert_eq!(
            (batch.outcome.commercial, batch.outcome.technical),
            (1, 0),
            "owner changes per role"
        );
        assert_eq!(
            relais::storage::created_ids(&batch),
            Some((contact(db, "c").id, contact(db, "c").id))
        );
        let creator = |key| db.store().creating_import(contact(db, key).id).unwrap();
        assert_eq!(creator("a"), Some(first.batch_id.unwrap()));
        assert_eq!(creator("c"), Some(second.batch_id.unwrap()));
        // An import that creates nothing records no range.
        let third = import_rows(db, &["a,Un,,,,,,51100,Reims,FRA,CC,"]);
        let batch = db.store().batch(third.batch_id.unwrap()).unwrap().unwrap();
        assert_eq!(relais::storage::created_ids(&batch), None);
        assert_eq!(listed(third.batch_id.unwrap()), ["a"]);
    });
}

/// A file that gives only the postal code, or only the country, of an
/// address completes it from the stored contact. A Pacific mismatch made
/// that way is warned of too, except on a row set aside.
#[test]
fn report_warns_pacific_mismatch_of_partial_file() {
    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "p3,Trois,Anne,,98600,Mata-Utu,WLF,,,,JD,",
                "p8,Huit,Anne,,98714,Papeete,PYF,,,,JD,",
            ],
        );

        let code_only = import_bytes(
            db,
            "codes.csv",
            "Identifiant externe;Nom;Prénom;Code postal perso\np3;Trois;Anne;98714\n".as_bytes(),
        );
        let country_only = import_bytes(
            db,
            "pays.csv",
            "Identifiant externe;Nom;Prénom;Pays perso\np8;Huit;Anne;NCL\n".as_bytes(),
        );

        assert_eq!(
            code_only
                .warnings
                .iter()
                .filter(|w| w.contains("le préfixe"))
                .collect::<Vec<_>>(),
            [
                "ligne 2 : le code postal perso « 98714 » (Mata-Utu) ne commence pas par 986, le préfixe de Wallis-et-Futuna (WLF) ; la ligne est importée, vérifiez le code et le pays"
            ],
            "{:?}",
            code_only.warnings
        );
        assert_eq!(
            country_only
                .warnings
                .iter()
                .filter(|w| w.contains("le préfixe"))
                .collect::<Vec<_>>(),
            [
                "ligne 2 : le code postal perso « 98714 » (Papeete) ne commence pas par 988, le préfixe de la Nouvelle-Calédonie (NCL) ; la ligne est importée, vérifiez le code et le pays"
            ],
            "{:?}",
            country_only.warnings
        );
        assert_eq!(contact(db, "p8").perso.country, "NCL");

        // The same mismatch on a row older than its contact's last change.
        let stale = import_bytes(
            db,
            "ancien.csv",
            "Identifiant externe;Nom;Prénom;Pays perso;Modifié le\np3;Trois;Anne;NCL;01/01/2020 00:00:00\n"
                .as_bytes(),
        );
        assert_eq!(stale.rejected.len(), 1, "{stale:?}");
        assert!(
            !stale.warnings.iter().any(|w| w.contains("le préfixe")),
            "{:?}",
            stale.warnings
        );
    });
}

/// Rows with neither number nor external id, in a file that has those
/// columns, create contacts even beside stored ones with the same name,
/// first name and company. The report then warns, listing the created
/// contacts by number, and case does not count.
#[test]
fn contacts_created_twice_are_reported() {
    each_engine(|db| {
        let file = "N° Relais;Nom;Prénom;Société\n;Dupont;Jean;ACME\n;Martin;Anne;\n";
        let first = import_bytes(db, "leads.csv", file.as_bytes());
        assert!(
            !first.warnings.iter().any(|w| w.contains("les mêmes nom")),
            "{:?}",
            first.warnings
        );

        let second = import_bytes(db, "leads.csv", file.as_bytes());

        assert_eq!(second.imported, 2);
        let twins: Vec<&String> = second
            .warnings
            .iter()
            .filter(|w| w.contains("les mêmes nom"))
            .collect();
        assert_eq!(
            twins,
            [
                "2 contacts créés par cet import sans « N° Relais » ni identifiant externe ont \
                 les mêmes nom, prénom et société qu'un contact déjà présent : n° 3 Jean Dupont \
                 (ACME), n° 4 Anne Martin ; s'il s'agit des mêmes personnes, annulez cet import \
                 et réimportez le fichier en remplissant pour ces lignes la colonne « N° Relais » \
                 de l'export ou un identifiant externe"
            ]
        );

        // Case does not count, accents do.
        let recased = import_bytes(
            db,
            "casse.csv",
            "N° Relais;Nom;Prénom;Société\n;DUPONT;jean;acme\n;Dupont;Jean;Acmé\n".as_bytes(),
        );
        assert_eq!(recased.imported, 2);
        let twins: Vec<&String> = recased
            .warnings
            .iter()
            .filter(|w| w.contains("les mêmes nom"))
            .collect();
        assert_eq!(twins.len(), 1, "{twins:?}");
        assert!(
            twins[0].starts_with("1 contact créé par cet import")
                && twins[0].contains(": n° 5 jean DUPONT (acme) ;"),
            "{twins:?}"
        );

        let other = import_bytes(
            db,
            "autre.csv",
            "N° Relais;Nom;Prénom;Société\n;Dupont;Jean;Autre SA\n".as_bytes(),
        );
        assert_eq!(other.imported, 1);
        assert!(
            !other.warnings.iter().any(|w| w.contains("les mêmes nom")),
            "{:?}",
            other.warnings
        );
    });
}

/// A row the store sets aside late (a stale « Modifié le ») gets no
/// warning about its postal code or its owner: the report rejects it, and
/// a warning saying that it was imported would contradict that. The same
/// faults on a row that is imported are still warned about.
#[test]
fn stale_row_gets_no_warning() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["p1,Un,Anne,,51100,Reims,FRA,,,,JD,"]);

        let report = import_bytes(
            db,
            "ancien.csv",
            "Identifiant externe;Nom;Prénom;Code postal perso;Ville perso;Responsable commercial;Modifié le\n\
             p1;Un;Anne;5100;Reims;Jean DUPOND (JD);01/01/2020 00:00:00\n\
             p9;Neuf;Luc;5100;Reims;Jean DUPOND (JD);\n"
                .as_bytes(),
        );

        assert_eq!(report.imported, 1, "{report:?}");
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].line, 2);
        assert_eq!(report.rejected[0].column, "Modifié le");
        assert!(
            !report.warnings.iter().any(|w| w.starts_with("ligne 2")),
            "{:?}",
            report.warnings
        );
        let about_line_3: Vec<&String> = report
            .warnings
            .iter()
            .filter(|w| w.starts_with("ligne 3 "))
            .collect();
        assert_eq!(about_line_3.len(), 2, "{:?}", report.warnings);
        assert!(
            about_line_3[0].contains("porte les initiales"),
            "{about_line_3:?}"
        );
        assert!(about_line_3[1].contains("Briançon"), "{about_line_3:?}");
        assert_eq!(contact(db, "p1").perso.postal_code, "51100");
    });
}

/// A row the store sets aside late (a stale « Modifié le ») names a new
/// owner under `--create-missing-users`: with no row written, the import
/// keeps no user and records no operation.
#[test]
fn stale_row_creates_no_owner() {
    use relais::service::export::export_to_file;
    use relais::service::reassign::{apply_user_reassignment, prepare_user_reassignment};
    use relais::storage::ExportSelection;

    each_engine(|db| {
        cast(db);
        import_rows(db, &["z1,Un,,,,,,51100,Reims,FRA,JD,"]);
        let path = db.dir.path().join("export.csv");
        export_to_file(
            db.store(),
            &ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let exported = std::fs::read_to_string(&path).unwrap();
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();
        apply_user_reassignment(db.store(), &prepared, run()).unwrap();
        let edited = exported.replace(";JD;", ";Zorro Nouveau;");
        assert_ne!(edited, exported);
        let path = write_file(db, "edited.csv", edited.as_bytes());
        let before = snapshot(db);
        let users_before = db.store().list_users().unwrap();

        let report = import_file(
            db.store(),
            &path,
            &ImportRequest {
                default_country: CountryCode::france(),
                create_missing_users: true,
                actor: actor(),
            },
            &mut |_| {},
        )
        .unwrap();

        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].column, "Modifié le");
        assert_eq!(report.batch_id, None);
        assert!(report.created_users.is_empty(), "{report:?}");
        assert_eq!(db.store().list_users().unwrap(), users_before);
        assert_eq!(snapshot(db), before);
    });
}

/// An export edited for a while and imported back must not undo the
/// reassignments made in between: its « Modifié le » column shows which
/// contacts changed since, and their rows are set aside.
#[test]
fn stale_export_does_not_undo_later_changes() {
    use relais::service::export::export_to_file;
    use relais::service::reassign::{apply_user_reassignment, prepare_user_reassignment};
    use relais::storage::ExportSelection;

    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "s1,Un,,,,,,51100,Reims,FRA,JD,",
                "s2,Deux,,,,,,51100,Reims,FRA,CC,",
            ],
        );
        let path = db.dir.path().join("export.csv");
        export_to_file(
            db.store(),
            &ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let exported = std::fs::read_to_string(&path).unwrap();
        assert!(exported.lines().next().unwrap().ends_with(";Modifié le"));
        // The export writes milliseconds: the reassignment, in the same
        // second, is still seen as later.
        let prepared = prepare_user_reassignment(db.store(), "JD", "BB").unwrap();
        apply_user_reassignment(db.store(), &prepared, run()).unwrap();
        // The administrator edits the export: s2 goes to DD.
        let edited = exported.replace(";CC;", ";DD;");
        let before = snapshot(db);

        let report = import_bytes(db, "edited.csv", edited.as_bytes());

        assert_eq!(report.rejected.len(), 1, "{report:?}");
        let rejection = &report.rejected[0];
        assert_eq!(rejection.column, "Modifié le");
        assert!(
            rejection.reason.contains("après l'export de ce fichier : la ligne est ignorée pour ne pas défaire ce changement"),
            "{}",
            rejection.reason
        );
        assert_eq!(owners(db, "s1"), (Some("BB".into()), None), "not undone");
        assert_eq!(owners(db, "s2"), (Some("DD".into()), None));
        assert_ne!(snapshot(db), before);

        // Emptying the cell imposes the row. A time as Excel rewrites it,
        // to the minute, covers that minute: s2's row, given the next
        // minute, is newer than its change by the import above.
        let now = relais::domain::history::format_paris_time(
            chrono::Utc::now() + chrono::Duration::seconds(60),
        );
        let s1 = format!("{};", contact(db, "s1").id);
        let forced = edited
            .lines()
            .map(|line| {
                let (head, _) = line.rsplit_once(';').unwrap();
                if line.starts_with(&s1) {
                    format!("{head};")
                } else if line.contains(";s2;") {
                    format!("{head};{now}")
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let report = import_bytes(db, "forced.csv", forced.as_bytes());
        assert!(report.rejected.is_empty(), "{report:?}");
        assert_eq!(owners(db, "s1"), (Some("JD".into()), None));
        assert_eq!(owners(db, "s2"), (Some("DD".into()), None));
    });
}

/// An export cut down without its « Identifiant externe » column still
/// names its contacts by number when the names agree, and keeps their
/// external ids. A number alone, with no name column, is rejected.
#[test]
fn export_without_external_id_column_updates_by_number() {
    use relais::service::export::export_to_file;
    use relais::storage::ExportSelection;

    each_engine(|db| {
        cast(db);
        import_rows(db, &["x1,Un,Anne,Alpha,,,,51100,Reims,FRA,JD,"]);
        let path = db.dir.path().join("export.csv");
        export_to_file(
            db.store(),
            &ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let exported = std::fs::read_to_string(&path).unwrap();
        let header: Vec<&str> = exported.lines().next().unwrap().split(';').collect();
        let external = header
            .iter()
            .position(|name| name.contains("Identifiant externe"))
            .unwrap();
        let without = exported
            .lines()
            .map(|line| {
                let mut cells: Vec<&str> = line.split(';').collect();
                cells.remove(external);
                cells.join(";")
            })
            .collect::<Vec<_>>()
            .join("\n")
            .replace(";JD;", ";BB;");

        let report = import_bytes(db, "sans_identifiant.csv", without.as_bytes());

        assert!(report.rejected.is_empty(), "{report:?}");
        assert_eq!(report.updated, 1, "{report:?}");
        assert_eq!(owners(db, "x1"), (Some("BB".into()), None));
        assert_eq!(contact(db, "x1").external_id.as_deref(), Some("x1"));

        let number = contact(db, "x1").id;
        let bare = format!("N° Relais;Responsable commercial\n{number};CC\n");
        let report = import_bytes(db, "numeros.csv", bare.as_bytes());
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert!(
            report.rejected[0]
                .reason
                .contains("ajoutez au fichier la colonne « Identifiant externe » de l'export, ou une colonne Nom, Prénom ou Société"),
            "{report:?}"
        );
        assert_eq!(owners(db, "x1"), (Some("BB".into()), None));
    });
}

/// A file Excel saved, with `02100` turned into `2100`, reads back as it
/// was exported: nothing changes and the code keeps its zero.
#[test]
fn excel_lost_zero_reads_back_unchanged() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["z1,Zéro,,,02100,Saint-Quentin,FRA,,,,JD,"]);

        let again = import_rows(db, &["z1,Zéro,,,2100,Saint-Quentin,FRA,,,,JD,"]);

        assert_eq!((again.updated, again.unchanged), (0, 1), "{again:?}");
        assert_eq!(contact(db, "z1").perso.postal_code, "02100");
    });
}

/// An export whose « Modifié le » cells a spreadsheet rewrote to the
/// minute (`05/12/2026 10:32`) reads back, because each cell still covers
/// its contact's own change. A time older than the change still sets its
/// row aside.
#[test]
fn export_dates_rewritten_to_the_minute_read_back() {
    use relais::service::export::export_to_file;
    use relais::storage::ExportSelection;

    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "m1,Un,,,,,,51100,Reims,FRA,JD,",
                "m2,Deux,,,,,,51100,Reims,FRA,CC,",
            ],
        );
        let path = db.dir.path().join("export.csv");
        export_to_file(
            db.store(),
            &ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let to_minute = |cell: &str| {
            let at = chrono::DateTime::parse_from_rfc3339(cell).unwrap();
            at.format("%d/%m/%Y %H:%M").to_string()
        };
        let rewritten = std::fs::read_to_string(&path)
            .unwrap()
            .trim_start_matches('\u{feff}')
            .lines()
            .enumerate()
            .map(|(index, line)| {
                let (head, cell) = line.rsplit_once(';').unwrap();
                if index == 0 {
                    line.to_string()
                } else {
                    format!("{head};{}", to_minute(cell))
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let edited = rewritten.replace(";CC;", ";DD;");

        let report = import_bytes(db, "excel.csv", edited.as_bytes());

        assert!(report.rejected.is_empty(), "{report:?}");
        assert_eq!(report.updated, 1, "{report:?}");
        assert_eq!(owners(db, "m2"), (Some("DD".into()), None));

        let old = edited
            .lines()
            .map(|line| match line.rsplit_once(';') {
                Some((head, _)) if line.contains(";m1;") => format!("{head};01/01/2020 00:00"),
                _ => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            .replace(";JD;", ";BB;");
        let report = import_bytes(db, "ancien.csv", old.as_bytes());
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(owners(db, "m1"), (Some("JD".into()), None));
    });
}

/// A row older than its contact's last change is set aside only when it
/// would change that contact: importing the same export twice, or a file
/// whose row agrees with the change made since, reports it unchanged.
#[test]
fn stale_row_that_changes_nothing_is_unchanged() {
    use relais::service::export::export_to_file;
    use relais::storage::ExportSelection;

    each_engine(|db| {
        cast(db);
        import_rows(
            db,
            &[
                "u1,Un,,,,,,51100,Reims,FRA,JD,",
                "u2,Deux,,,,,,51100,Reims,FRA,CC,",
            ],
        );
        let path = db.dir.path().join("export.csv");
        export_to_file(
            db.store(),
            &ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        // Both contacts changed after this time, whatever the clock reads.
        let dated = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .enumerate()
            .map(|(index, line)| {
                let (head, _) = line.rsplit_once(';').unwrap();
                if index == 0 {
                    line.to_string()
                } else {
                    format!("{head};01/01/2020 00:00:00")
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let edited = dated.replace(";CC;", ";DD;");

        let report = import_bytes(db, "edited.csv", edited.as_bytes());

        let lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
        let u2_line = edited
            .lines()
            .position(|line| line.contains(";u2;"))
            .unwrap() as u64
            + 1;
        assert_eq!(lines, [u2_line], "{report:?}");
        assert_eq!(report.rejected[0].column, "Modifié le");
        assert_eq!((report.updated, report.unchanged), (0, 1), "{report:?}");
        assert_eq!(owners(db, "u1"), (Some("JD".into()), None));
        assert_eq!(owners(db, "u2"), (Some("CC".into()), None), "set aside");
    });
}

/// Partial files give the same contacts on both engines: one column left
/// out, a country cell left empty, an address filled by its city alone, and
/// a contact number given twice.
#[test]
fn partial_files_agree_on_both_engines() {
    use relais::service::export::export_to_file;
    use relais::storage::ExportSelection;

    each_engine(|db| {
        cast(db);
        import_rows(db, &["p1,Un,Anne,Alpha,,,,2100,Saint-Quentin,FRA,JD,"]);

        // Every column of the export but the civility.
        let path = db.dir.path().join("export.csv");
        export_to_file(
            db.store(),
            &ExportSelection::All,
            &path,
            relais::service::export::ExistingFile::Replace,
        )
        .unwrap();
        let without_civility = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| {
                let mut cells: Vec<&str> = line.split(';').collect();
                cells.remove(2);
                cells.join(";")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let report = import_bytes(db, "sans_civilite.csv", without_civility.as_bytes());
        assert!(report.rejected.is_empty(), "{report:?}");
        assert_eq!(report.unchanged, 1, "{report:?}");

        // An empty country cell with the postal code kept: the default
        // country applies, as for a whole address.
        let report = import_bytes(
            db,
            "pays_vide.csv",
            "Identifiant externe;Pays pro\np1;\n".as_bytes(),
        );
        assert!(report.rejected.is_empty(), "{report:?}");
        let pro = contact(db, "p1").pro;
        assert_eq!(
            (
                pro.postal_code.as_str(),
                pro.postal_norm.as_str(),
                pro.country.as_str()
            ),
            ("02100", "02100", "FRA")
        );

        // A personal address filled by its city alone takes the default
        // country.
        let report = import_bytes(
            db,
            "ville.csv",
            "Identifiant externe;Nom;Prénom;Société;Ville perso\np1;Un;Anne;Alpha;Laon\n"
                .as_bytes(),
        );
        assert!(report.rejected.is_empty(), "{report:?}");
        let perso = contact(db, "p1").perso;
        assert_eq!(
            (perso.city.as_str(), perso.country.as_str()),
            ("Laon", "FRA")
        );

        // A contact named twice by its number is imported once.
        import_rows(db, &[",Deux,Bea,Beta,,,,51100,Reims,FRA,JD,"]);
        let number = all_contacts(db)
            .into_iter()
            .find(|contact| contact.last_name == "Deux")
            .unwrap()
            .id;
        let report = import_bytes(
            db,
            "deux_fois.csv",
            format!(
                "N° Relais;Nom;Prénom;Société;Responsable commercial\n\
                 {number};Deux;Bea;Beta;BB\n{number};Deux;Bea;Beta;CC\n"
            )
            .as_bytes(),
        );
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].line, 3);
        assert!(
            report.rejected[0].reason.starts_with(&format!(
                "contact n° {number} déjà présent ligne 2 de ce fichier"
            )),
            "{}",
            report.rejected[0].reason
        );
        let deux = all_contacts(db)
            .into_iter()
            .find(|contact| contact.id == number)
            .unwrap();
        assert_eq!(
            deux.commercial_owner.map(|user| user.initials).as_deref(),
            Some("BB")
        );
    });
}

/// A NUL byte in a cell rejects its line alone, on the first load into an
/// empty base and on a later import alike: PostgreSQL cannot store it, and
/// it used to abort the whole import there.
#[test]
fn control_character_rejects_its_line_only() {
    each_engine(|db| {
        cast(db);
        let rows = |prefix: &str| -> String {
            let mut text = format!("{HEADER}\n");
            for n in 0..4_500 {
                let name = if n == 3_000 {
                    "Nul\0Byte".to_string()
                } else {
                    format!("Nom{n}")
                };
                text.push_str(&format!("{prefix}{n},{name},,,,,,51100,Reims,FRA,,\n"));
            }
            text
        };

        for prefix in ["first-", "second-"] {
            let report = import_bytes(db, "contacts.csv", rows(prefix).as_bytes());

            assert_eq!(report.imported, 4_499, "{prefix}");
            assert_eq!(report.rejected.len(), 1);
            let rejection = &report.rejected[0];
            assert_eq!(
                (rejection.line, rejection.column.as_str()),
                (3_002, "last_name")
            );
            assert!(rejection.reason.contains("U+0000"), "{}", rejection.reason);
            assert!(
                db.store()
                    .find_contact(&format!("{prefix}3000"))
                    .unwrap()
                    .is_none()
            );
        }
    });
}

/// A number whose contact has other names is refused, with advice for
/// both causes: a row from another base, or a name corrected in the file.
#[test]
fn number_with_other_names_rejected() {
    each_engine(|db| {
        cast(db);
        let first = import_bytes(db, "premier.csv", "Nom;Prénom\nMartin;Deux\n".as_bytes());
        assert_eq!(first.imported, 1);
        let id = db
            .store()
            .list_contacts(&Default::default(), relais::storage::Page::first(1))
            .unwrap()
            .contacts[0]
            .id;

        let report = import_bytes(
            db,
            "renomme.csv",
            format!("N° Relais;Nom;Prénom\n{id};Martin;Deuxième\n").as_bytes(),
        );

        assert_eq!(report.rejected.len(), 1, "{report:?}");
        let rejection = &report.rejected[0];
        assert_eq!(rejection.column, "N° Relais");
        assert!(
            rejection
                .reason
                .contains("videz la cellule pour créer un nouveau contact"),
            "{}",
            rejection.reason
        );
        assert!(
            rejection.reason.contains("« Identifiant externe »"),
            "{}",
            rejection.reason
        );
        assert_eq!(
            db.store()
                .find_contact(&id.to_string())
                .unwrap()
                .unwrap()
                .first_name,
            "Deux"
        );
    });
}

/// A file whose « N° Relais » name contacts this base does not have, as an
/// export of another base does, gets one warning on how to create them.
/// A few such rows among others get none.
#[test]
fn numbers_of_another_base_are_explained() {
    each_engine(|db| {
        import_bytes(db, "base.csv", "Nom;Prénom\nMartin;Hélène\n".as_bytes());
        let foreign: String = (1..=12)
            .map(|index| format!("{};Nom{index};Prénom{index}\n", 900_000 + index))
            .collect();
        // Twelve foreign numbers, over the floor of ten, among thirty new
        // rows: under half of the file.
        let few = format!(
            "N° Relais;Nom;Prénom\n{foreign}{}",
            (1..=30)
                .map(|index| format!(";Nouveau{index};Contact\n"))
                .collect::<String>()
        );

        let report = import_bytes(
            db,
            "autre-base.csv",
            format!("N° Relais;Nom;Prénom\n{foreign}").as_bytes(),
        );
        let mixed = import_bytes(db, "quelques.csv", few.as_bytes());

        assert_eq!(report.rejected.len(), 12);
        assert!(
            report.warnings[0].starts_with(
                "12 lignes sur 12 désignent par leur « N° Relais » un contact que cette base n'a pas"
            ),
            "{:?}",
            report.warnings
        );
        assert!(report.warnings[0].contains("supprimez la colonne « N° Relais »"));
        assert_eq!(mixed.rejected.len(), 12);
        assert_eq!(mixed.imported, 30);
        assert!(
            mixed
                .warnings
                .iter()
                .all(|w| !w.contains("autre base Relais")),
            "{:?}",
            mixed.warnings
        );
    });
}

/// A row naming a contact by its number, with an empty external id where
/// the contact has one, is rejected with both fixes. The external id fixes
/// it if it is that contact, and an empty number if it comes from another
/// base.
#[test]
fn number_without_stored_external_id_gives_both_fixes() {
    each_engine(|db| {
        cast(db);
        import_rows(db, &["e1,Martin,Hélène,,,,,51100,Reims,FRA,JD,"]);
        let number = contact(db, "e1").id;
        let text = format!("N° Relais;Identifiant externe;Nom\n{number};;Martin\n");

        let report = import_bytes(db, "numero.csv", text.as_bytes());

        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].column, "N° Relais");
        assert_eq!(
            report.rejected[0].reason,
            format!(
                "le contact n° {number} a l'identifiant externe « e1 » : si la ligne est bien \
                 ce contact, indiquez cet identifiant externe ; si elle vient d'une autre base, \
                 videz le n° Relais pour créer un nouveau contact"
            )
        );
    });
}
