//! Users: every way a user signs in (initials, e-mail, login) belongs to
//! one user only.

use relais::service::users::{UserForm, add_user, user_form_problems};
use relais::service::users_file::import_users;

use crate::common::*;

fn form(initials: &str, email: &str, login: &str) -> UserForm {
    UserForm {
        initials: initials.into(),
        last_name: "Nouveau".into(),
        email: email.into(),
        login: login.into(),
        ..UserForm::default()
    }
}

#[test]
fn sign_in_names_never_shared() {
    each_engine(|db| {
        cast(db);
        let users_before = db.store().list_users().unwrap().len();

        let login_is_email = add_user(db.store(), &form("QD", "qd@x.fr", "JD@example.org"))
            .expect_err("a login equal to JD's e-mail");
        let login_is_initials = add_user(db.store(), &form("QE", "", "bb"))
            .expect_err("a login equal to BB's initials");
        let problems = user_form_problems(db.store(), &form("QF", "", "jd@example.org")).unwrap();

        assert_eq!(login_is_email.code(), "user_exists");
        assert_eq!(login_is_email.field(), Some("login"));
        let message = login_is_email.to_string();
        assert!(message.contains("« JD@example.org »"), "{message}");
        assert!(message.contains("Jean DUPONT (JD)"), "{message}");
        assert_eq!(login_is_initials.field(), Some("login"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "login");
        assert_eq!(db.store().list_users().unwrap().len(), users_before);
    });
}

/// The same user added twice gets the error on its initials, before the
/// one on its e-mail.
#[test]
fn user_added_twice_names_initials() {
    each_engine(|db| {
        add_user(db.store(), &form("QD", "qd@exemple.fr", "")).unwrap();

        let again = add_user(db.store(), &form("QD", "qd@exemple.fr", "")).unwrap_err();

        assert_eq!(again.code(), "user_exists");
        assert_eq!(again.field(), Some("initials"));
        assert_eq!(
            again.to_string(),
            "initiales : un autre utilisateur a déjà les initiales « QD » ; choisissez-en d'autres"
        );
    });
}

/// The user form lists every name longer than allowed with the other
/// problems, and the creation refuses it.
#[test]
fn user_form_lists_long_names() {
    each_engine(|db| {
        let long = UserForm {
            first_name: "é".repeat(101),
            last_name: "N".repeat(150),
            email: "pas-une-adresse".into(),
            ..form("QL", "", "")
        };

        let problems = user_form_problems(db.store(), &long).unwrap();
        let rejected = add_user(db.store(), &long).expect_err("names too long");

        let fields: Vec<&str> = problems.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, ["first_name", "last_name", "email"], "{problems:?}");
        assert_eq!(
            problems[0].1,
            "prénom : 101 caractères, 100 au plus ; raccourcissez-le"
        );
        assert_eq!(rejected.field(), Some("first_name"));
        assert!(db.store().find_user("QL").unwrap().is_none());
    });
}

/// A users file goes through the same rule: derived initials step aside
/// from another user's login, and given initials equal to one are
/// rejected with the line of that login.
#[test]
fn users_file_avoids_sign_in_names() {
    each_engine(|db| {
        add_user(db.store(), &form("QX", "", "qd")).unwrap();
        let path = write_file(
            db,
            "utilisateurs.csv",
            "Identifiant;Prénom;Nom;Initiales\n\
             pm;Zoé;Zèbre;\n\
             pmartin;Pierre;Martin;\n\
             tgarnier;Thomas;Garnier;PM\n\
             tquinn;Tom;Quinn;QD\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();

        assert_eq!(report.created, ["ZZ", "PM2"], "{report:?}");
        let martin = db.store().find_user("pmartin").unwrap().unwrap();
        assert_eq!(martin.initials, "PM2");
        assert_eq!(report.skipped.len(), 2, "{report:?}");
        let existing = &report.skipped[1];
        assert_eq!(existing.line, 5);
        assert!(
            existing.reason.contains("NOUVEAU (QX)"),
            "{}",
            existing.reason
        );
        let skipped = &report.skipped[0];
        assert_eq!(skipped.line, 4);
        assert_eq!(skipped.login, "tgarnier");
        assert!(skipped.reason.contains("« PM »"), "{}", skipped.reason);
        assert!(skipped.reason.contains("ligne 2"), "{}", skipped.reason);
        assert!(db.store().find_user("tgarnier").unwrap().is_none());
    });
}

/// Initials derived for one line avoid the logins of the lines after it,
/// so that every user of the file is created and a contact owned by a
/// login goes to that login's user.
#[test]
fn users_file_avoids_later_logins() {
    each_engine(|db| {
        let path = write_file(
            db,
            "utilisateurs.csv",
            "Identifiant;Prénom;Nom;Initiales\n\
             zz9;Marc;Dubois;\n\
             md;Paul;Simon;\n\
             ps;Toto;Tata;\n\
             x1;Xavier;Yves;PS\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();

        assert_eq!(report.created, ["MD2", "PS2", "TT"], "{report:?}");
        let simon = db.store().find_user("md").unwrap().unwrap();
        assert_eq!(simon.last_name, "Simon");
        assert_eq!(report.skipped.len(), 1, "{report:?}");
        assert_eq!(report.skipped[0].line, 5);
        assert!(
            report.skipped[0].reason.contains("ligne 4"),
            "{}",
            report.skipped[0].reason
        );
    });
}

/// Two CRMs merged into one users file often share a login: the second
/// line is skipped, and the report names the user whose contacts that
/// login will bring, and the fix.
#[test]
fn users_file_names_holder_of_shared_login() {
    each_engine(|db| {
        let path = write_file(
            db,
            "utilisateurs.csv",
            "login;first_name;last_name;source\n\
             admin;Alice;Adminson;dolibarr\n\
             admin;Mitchell;Admin;odoo\n\
             ;Sans;Identifiant;odoo\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();
        let again = import_users(db.store(), &path).unwrap();

        assert_eq!(
            again.skipped[0].reason,
            "« admin » désigne déjà Alice ADMINSON (AA) ; les contacts dont le responsable est \
             « admin » iront à ce compte"
        );
        assert_eq!(report.created, ["AA"], "{report:?}");
        let reasons: Vec<(u64, &str)> = report
            .skipped
            .iter()
            .map(|skipped| (skipped.line, skipped.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    3,
                    "identifiant : « admin » est déjà celui d'Alice ADMINSON (AA) ; les contacts \
                     dont le responsable est « admin » iront à ce compte. S'il s'agit d'une autre \
                     personne, donnez-lui un autre identifiant dans le fichier"
                ),
                (
                    4,
                    "identifiant vide ; chaque utilisateur du fichier a besoin d'un identifiant"
                ),
            ]
        );
    });
}

/// A control character in a users file skips its line, naming the
/// column, on both engines: PostgreSQL cannot store a NUL, and SQLite
/// would keep it in a login.
#[test]
fn users_file_control_character_skips_line() {
    each_engine(|db| {
        let path = write_file(
            db,
            "utilisateurs.csv",
            "login;first_name;last_name\nbon;Anne;Bon\nma\0l;Marc;Mal\nzoe;Zo\u{7}é;Nul\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();

        assert_eq!(report.created, ["AB"], "{report:?}");
        let skipped: Vec<(u64, &str, &str)> = report
            .skipped
            .iter()
            .map(|s| (s.line, s.login.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(skipped[0].0, 3);
        assert_eq!(skipped[0].1, "ma\u{FFFD}l");
        assert!(
            skipped[0].2.starts_with(
                "colonne « login » : caractère de contrôle invisible (U+0000) en position 3"
            ),
            "{}",
            skipped[0].2
        );
        assert!(
            skipped[1].2.starts_with("colonne « first_name » :"),
            "{}",
            skipped[1].2
        );
        assert!(db.store().find_user("zoe").unwrap().is_none());
    });
}

/// A users file as Excel saves it (a `sep=;` line, Windows line ends, Mac
/// OS Roman) is read like a contact file, and its report gives each line
/// its number in the file.
#[test]
fn users_file_from_excel_reports_right_lines() {
    each_engine(|db| {
        let mut bytes = b"sep=;\r\nidentifiant;nom;prenom;email\r\n".to_vec();
        // « Hélène BÉRARD » in Mac OS Roman: é is 0x8E, è 0x8F.
        bytes.extend_from_slice(b"hb;B\x8erard;H\x8el\x8fne;hb@example.org\r\n");
        bytes.extend_from_slice(b"jd;Dupont;Jean;pas-un-mail\r\n");
        let path = write_file(db, "utilisateurs.csv", &bytes);

        let report = import_users(db.store(), &path).unwrap();

        assert_eq!(report.created, ["HB"], "{report:?}");
        let hb = db.store().find_user("HB").unwrap().unwrap();
        assert_eq!(hb.display_name(), "Hélène BÉRARD (HB)");
        let skipped: Vec<(u64, &str)> = report
            .skipped
            .iter()
            .map(|s| (s.line, s.login.as_str()))
            .collect();
        assert_eq!(skipped, [(4, "jd")]);
    });
}

/// A line rejected on its own, here for its e-mail, creates no user, so
/// its login is free for the initials of another line.
#[test]
fn users_file_rejected_line_reserves_nothing() {
    each_engine(|db| {
        let path = write_file(
            db,
            "utilisateurs.csv",
            "Identifiant;Prénom;Nom;E-mail\n\
             zz9;Marc;Dubois;\n\
             md;Paul;Simon;pas-une-adresse\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();

        assert_eq!(report.created, ["MD"], "{report:?}");
        let skipped: Vec<u64> = report.skipped.iter().map(|s| s.line).collect();
        assert_eq!(skipped, [3], "{report:?}");
        assert_eq!(
            db.store().find_user("md").unwrap().unwrap().last_name,
            "Dubois",
            "md signs in as Marc DUBOIS's initials"
        );
    });
}

#[test]
fn user_form_errors_name_field() {
    each_engine(|db| {
        cast(db);
        let users_before = db.store().list_users().unwrap().len();

        let long = add_user(
            db.store(),
            &UserForm {
                first_name: "x".repeat(5000),
                ..form("QL", "", "")
            },
        )
        .expect_err("a 5,000-character first name");
        let empty = add_user(db.store(), &form("", "", "")).expect_err("no initials");

        assert_eq!(long.code(), "value_too_long");
        assert_eq!(long.field(), Some("first_name"));
        assert_eq!(
            long.to_string(),
            "prénom : 5\u{202f}000 caractères, 100 au plus ; raccourcissez-le"
        );
        assert_eq!(empty.field(), Some("initials"));
        let path = write_file(
            db,
            "longs.csv",
            format!("Identifiant;Prénom;Nom\nql;{};Long\n", "x".repeat(5000)).as_bytes(),
        );
        let report = import_users(db.store(), &path).unwrap();
        assert!(report.created.is_empty(), "{report:?}");
        assert_eq!(
            report.skipped[0].reason,
            "prénom : 5\u{202f}000 caractères, 100 au plus ; raccourcissez-le"
        );
        assert_eq!(empty.to_string(), "initiales : ce champ est obligatoire");
        assert_eq!(db.store().list_users().unwrap().len(), users_before);
    });
}

/// E-mails and logins ignore case in every alphabet, on both engines:
/// SQLite's `lower` folds ASCII letters only, so `ÉLODIE@…` used to be a
/// second user there and an unknown owner for `reassign`.
#[test]
fn accented_capitals_name_the_same_user() {
    each_engine(|db| {
        cast(db);
        add_user(db.store(), &form("EM", "élodie@exemple.fr", "hélène")).unwrap();

        let same_email = add_user(db.store(), &form("E2", "ÉLODIE@EXEMPLE.FR", ""))
            .expect_err("the same e-mail in capitals");
        let same_login = add_user(db.store(), &form("H2", "", "HÉLÈNE"))
            .expect_err("the same login in capitals");
        let by_email = db.store().find_user("ÉLODIE@EXEMPLE.FR").unwrap();
        let by_login = db.store().find_user(" Hélène ").unwrap();

        assert_eq!(same_email.field(), Some("email"));
        assert_eq!(same_login.field(), Some("login"));
        assert_eq!(by_email.map(|user| user.initials), Some("EM".to_string()));
        assert_eq!(by_login.map(|user| user.initials), Some("EM".to_string()));
    });
}

/// Lists put users in a French reader's order on both engines, whatever
/// the database's collation: accents and case do not send « Élise » or
/// « de la Tour » after « Zola ».
#[test]
fn users_listed_in_french_order() {
    each_engine(|db| {
        for (initials, first, last) in [
            ("ZZ", "Zoé", "Zola"),
            ("EB", "Eric", "Baker"),
            ("EL", "Élise", "Baker"),
            ("AT", "Anne", "de la Tour"),
            ("BB", "bob", "Baker"),
        ] {
            user(db, initials, first, last);
        }

        let order: Vec<String> = db
            .store()
            .list_users()
            .unwrap()
            .into_iter()
            .map(|user| user.initials)
            .collect();

        assert_eq!(order, ["BB", "EL", "EB", "AT", "ZZ"]);
    });
}

/// A new password ends the user's sessions on both engines, and leaves
/// other users' sessions open.
#[test]
fn password_change_ends_the_users_sessions() {
    each_engine(|db| {
        cast(db);
        let jd = db.store().find_user("JD").unwrap().unwrap();
        let bb = db.store().find_user("BB").unwrap().unwrap();
        for (token, user) in [("session-jd", &jd), ("session-bb", &bb)] {
            assert!(open_session(db, token, user));
        }

        relais::service::users::set_password(db.store(), &jd, "un mot de passe neuf").unwrap();

        assert!(db.store().session("session-jd").unwrap().is_none());
        assert!(db.store().session("session-bb").unwrap().is_some());
    });
}

/// A login that checked a password the user no longer has, or checked it
/// while the user was being deactivated, opens no session: the change
/// committed between the check and the session would otherwise miss it.
#[test]
fn session_rejected_after_password_change() {
    each_engine(|db| {
        cast(db);
        let jd = db.store().find_user("JD").unwrap().unwrap();
        let bb = db.store().find_user("BB").unwrap().unwrap();
        relais::service::users::set_password(db.store(), &jd, "premier mot de passe").unwrap();
        relais::service::users::set_password(db.store(), &bb, "premier mot de passe").unwrap();
        let checked_jd = stored_hash(db, &jd);
        let checked_bb = stored_hash(db, &bb);

        relais::service::users::set_password(db.store(), &jd, "second mot de passe").unwrap();
        relais::service::users::set_active(db.store(), "BB", false).unwrap();
        let after_change = db
            .store()
            .create_session(&session_of("jd", &jd, &checked_jd))
            .unwrap();
        let after_deactivation = db
            .store()
            .create_session(&session_of("bb", &bb, &checked_bb))
            .unwrap();
        relais::service::users::set_active(db.store(), "BB", true).unwrap();

        assert!(!after_change, "the password changed after the check");
        assert!(
            !after_deactivation,
            "the user was deactivated after the check"
        );
        assert!(db.store().session("jd").unwrap().is_none());
        assert!(
            db.store().session("bb").unwrap().is_none(),
            "reactivation brings none back"
        );
        assert!(
            open_session(db, "jd-now", &jd),
            "the current password opens one"
        );
    });
}

/// Failed logins recorded at the same instant on one key each count the
/// ones before them, so that no more than the limit get their password
/// checked: the counts returned are 1 to N, each once.
#[test]
fn parallel_login_failures_counted_in_turn() {
    each_engine(|db| {
        const ATTEMPTS: u32 = 8;
        let barrier = std::sync::Barrier::new(ATTEMPTS as usize);

        let mut counts: Vec<u32> = std::thread::scope(|scope| {
            let attempts: Vec<_> = (0..ATTEMPTS)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        db.store()
                            .record_login_failure("user:1@127.0.0.1", 900)
                            .unwrap()
                    })
                })
                .collect();
            attempts
                .into_iter()
                .map(|attempt| attempt.join().unwrap())
                .collect()
        });
        counts.sort_unstable();

        assert_eq!(counts, (1..=ATTEMPTS).collect::<Vec<_>>());
    });
}

/// On PostgreSQL, a session opened while a password change is still in
/// its transaction waits for it, then opens nothing. Without the wait, the
/// old password would give a session that the change never deletes.
#[test]
fn session_waits_for_password_change_in_progress() {
    each_engine(|db| {
        if db.engine != Engine::Postgres {
            return;
        }
        cast(db);
        let jd = db.store().find_user("JD").unwrap().unwrap();
        relais::service::users::set_password(db.store(), &jd, "ancien mot de passe").unwrap();
        let checked = stored_hash(db, &jd);
        let mut change = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
        let mut watcher = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
        let mut changing = change.transaction().unwrap();
        changing
            .execute(
                "UPDATE users SET password_hash = 'nouveau' WHERE id = $1",
                &[&jd.id],
            )
            .unwrap();
        changing
            .execute("DELETE FROM sessions WHERE user_id = $1", &[&jd.id])
            .unwrap();

        let opened = std::thread::scope(|scope| {
            let opening = scope.spawn(|| {
                db.store()
                    .create_session(&session_of("pendant", &jd, &checked))
                    .unwrap()
            });
            wait_for_lock_waiter(&mut watcher);
            changing.commit().unwrap();
            opening.join().unwrap()
        });

        assert!(!opened, "the session waited for the change, then saw it");
        assert!(db.store().session("pendant").unwrap().is_none());
    });
}

fn stored_hash(db: &TestDb, user: &relais::domain::user::User) -> String {
    db.store()
        .user_password_hash(user.id)
        .unwrap()
        .expect("a password is set")
}

fn session_of(
    token: &str,
    user: &relais::domain::user::User,
    password_hash: &str,
) -> relais::storage::NewSession {
    relais::storage::NewSession {
        token_hash: token.to_string(),
        user_id: user.id,
        password_hash: password_hash.to_string(),
        csrf_token: "csrf".to_string(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    }
}

/// Gives `user` a password and opens a session under `token`.
fn open_session(db: &TestDb, token: &str, user: &relais::domain::user::User) -> bool {
    if db.store().user_password_hash(user.id).unwrap().is_none() {
        relais::service::users::set_password(db.store(), user, "mot de passe de test").unwrap();
    }
    let hash = stored_hash(db, user);
    db.store()
        .create_session(&session_of(token, user, &hash))
        .unwrap()
}

/// The `active` column of a users file is read in any case, in French and
/// as Excel and Odoo write it. A value it cannot read skips the line.
#[test]
fn users_file_reads_active_as_crms_write_it() {
    each_engine(|db| {
        let path = write_file(
            db,
            "actifs.csv",
            "login;last_name;first_name;active\n\
             odoo1;Odoo;Olga;False\n\
             excel1;Excel;Eva;FAUX\n\
             odoo2;Odoo;Oscar;True\n\
             doute;Doute;Denis;peut-être\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();

        let active = |login: &str| db.store().find_user(login).unwrap().unwrap().active;
        assert!(!active("odoo1"));
        assert!(!active("excel1"));
        assert!(active("odoo2"));
        assert!(db.store().find_user("doute").unwrap().is_none());
        assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
        assert_eq!(report.skipped[0].line, 5);
        assert!(
            report.skipped[0].reason.contains("« peut-être »"),
            "{}",
            report.skipped[0].reason
        );
    });
}

/// Two administrators taking the role from each other, or deactivating
/// each other, at once must not leave the base with none. While another
/// transaction takes the role from A2 and has not committed, taking the
/// role from A1, or deactivating A1, waits for it, then refuses.
#[test]
fn role_changes_at_once_keep_an_administrator() {
    if postgres_server().is_none() {
        eprintln!("{POSTGRES_ENV} is not set: this PostgreSQL case is skipped");
        return;
    }
    type Change = fn(&TestDb) -> Result<relais::domain::user::User, relais::service::ServiceError>;
    let demote: Change = |db| {
        relais::service::users::set_role(db.store(), "A1", relais::domain::user::UserRole::User)
    };
    let deactivate: Change = |db| relais::service::users::set_active(db.store(), "A1", false);
    for change in [demote, deactivate] {
        let db = TestDb::new(Engine::Postgres);
        for initials in ["A1", "A2"] {
            user(&db, initials, "Admin", initials);
            relais::service::users::set_role(
                db.store(),
                initials,
                relais::domain::user::UserRole::Admin,
            )
            .unwrap();
        }
        let mut other = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
        let mut watcher = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
        let mut taking = other.transaction().unwrap();
        taking
            .execute("UPDATE users SET role = 'user' WHERE initials = 'A2'", &[])
            .unwrap();

        let result = std::thread::scope(|scope| {
            let running = scope.spawn(|| change(&db));
            wait_for_lock_waiter(&mut watcher);
            taking.commit().unwrap();
            running.join().unwrap()
        });

        let error = result.unwrap_err();
        assert_eq!(error.code(), "last_admin", "{error}");
        let admins: i64 = watcher
            .query_one(
                "SELECT count(*) FROM users WHERE role = 'admin' AND active",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(admins, 1);
    }
}

/// A control character in a user's name, login or e-mail, or in a token
/// label, is refused with its field and position, on both engines,
/// because PostgreSQL cannot store a NUL.
#[test]
fn control_character_in_user_fields_refused() {
    each_engine(|db| {
        cast(db);
        for (field, mut user) in [
            ("first_name", form("NA", "", "")),
            ("last_name", form("NB", "", "")),
            ("login", form("NC", "", "ma\0rc")),
            ("email", form("ND", "ma\0rc@example.org", "")),
        ] {
            match field {
                "first_name" => user.first_name = "Ma\0rc".into(),
                "last_name" => user.last_name = "Du\u{7}bois".into(),
                _ => {}
            }

            let error = add_user(db.store(), &user).unwrap_err();

            assert_eq!(error.code(), "control_character", "{field}: {error}");
            assert_eq!(error.field(), Some(field), "{error}");
            assert!(
                error
                    .to_string()
                    .contains("caractère de contrôle invisible (U+00"),
                "{error}"
            );
            let problems = user_form_problems(db.store(), &user).unwrap();
            assert!(
                problems.iter().any(|(name, _)| *name == field),
                "{field}: {problems:?}"
            );
            assert!(db.store().find_user(&user.initials).unwrap().is_none());
        }

        let jd = db.store().find_user("JD").unwrap().unwrap();
        let error =
            relais::service::tokens::create_api_token(db.store(), &jd, "é\0quipe").unwrap_err();
        assert_eq!(error.code(), "control_character", "{error}");
        assert_eq!(error.field(), Some("label"));
        assert!(
            relais::service::tokens::list_api_tokens(db.store(), None)
                .unwrap()
                .is_empty()
        );
    });
}

/// A users file line that requests the deactivation of a user of the base
/// is skipped, as every line naming an existing user, and its reason gives
/// the command that deactivates the user.
#[test]
fn users_file_deactivation_of_existing_user_explained() {
    each_engine(|db| {
        cast(db);
        let path = write_file(
            db,
            "utilisateurs.csv",
            "login;first_name;last_name;active\njd;Jean;Dupont;non\nbb;Baptiste;Bonchamps;oui\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();

        assert!(report.created.is_empty(), "{report:?}");
        let reasons: Vec<&str> = report.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(
            reasons[0].ends_with(
                "iront à ce compte ; le fichier ne modifie pas les utilisateurs existants : pour désactiver ce compte, lancez « relais user deactivate JD »"
            ),
            "{}",
            reasons[0]
        );
        assert!(reasons[1].ends_with("iront à ce compte"), "{}", reasons[1]);
        assert!(db.store().find_user("JD").unwrap().unwrap().active);
    });
}

/// A user a users file creates with the name of a user already there, in
/// the base or on an earlier line, is reported: contact files naming
/// owners by that name would then be refused as ambiguous.
#[test]
fn users_file_namesake_is_reported() {
    each_engine(|db| {
        cast(db);
        let path = write_file(
            db,
            "utilisateurs.csv",
            "login;first_name;last_name\njdupont2;Jean;DUPONT\nzl;Zoé;Lambert\nzl2;Zoe;lambert\n"
                .as_bytes(),
        );

        let report = import_users(db.store(), &path).unwrap();

        assert_eq!(report.created.len(), 3, "{report:?}");
        assert_eq!(report.namesakes.len(), 2, "{:?}", report.namesakes);
        assert!(
            report.namesakes[0].starts_with("ligne 2 : Jean DUPONT (")
                && report.namesakes[0]
                    .contains("porte le même nom que Jean DUPONT (JD) ; une importation"),
            "{}",
            report.namesakes[0]
        );
        assert!(
            report.namesakes[1].starts_with("ligne 4 : Zoe LAMBERT ("),
            "{}",
            report.namesakes[1]
        );
    });
}
