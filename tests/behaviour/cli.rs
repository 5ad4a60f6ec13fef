//! The `relais` binary as scripts use it: exit status, French messages on
//! stderr, JSON on stdout.

use std::process::{Command, Output};

use serde_json::Value;

use crate::common::*;

fn relais(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("--db")
        .arg(&db.location)
        .args(args)
        .env_remove("RELAIS_USER")
        .env_remove("RELAIS_DATABASE_URL")
        .output()
        .expect("run relais")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn setup(db: &TestDb) {
    for (initials, first, last) in [
        ("JD", "Jean", "Dupont"),
        ("BB", "Baptiste", "Bonchamps"),
        ("CC", "Claire", "Caron"),
    ] {
        let output = relais(
            db,
            &[
                "user",
                "add",
                "--initials",
                initials,
                "--first-name",
                first,
                "--last-name",
                last,
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let path = write_file(
        db,
        "contacts.csv",
        format!("{HEADER}\nk1,Martin,Hélène,,,,,51100,Reims,FRA,JD,JD\nk2,Bernard,Élodie,,,,,2100,Saint-Quentin,FRA,BB,JD\n").as_bytes(),
    );
    let output = relais(db, &["import", path.to_str().unwrap(), "--json"]);
    assert_eq!(json(&output)["imported"], 2);
}

/// A user created without a password gets a note on how to set one,
/// because it cannot log in to the screens. A user with a password gets none.
#[test]
fn user_add_without_password_notes_it() {
    each_engine(|db| {
        let add = |initials: &str, password: Option<&str>| {
            let mut args = vec![
                "user",
                "add",
                "--initials",
                initials,
                "--first-name",
                "Noé",
                "--last-name",
                "Nouveau",
            ];
            if let Some(password) = password {
                args.extend(["--password", password]);
            }
            relais(db, &args)
        };

        let without = add("QN", None);
        let with = add("QP", Some("un mot de passe assez long"));

        assert!(without.status.success(), "{}", stderr(&without));
        assert!(
            stderr(&without).contains(
                "aucun mot de passe n'est défini, donc ce compte ne peut pas se connecter aux écrans ; donnez-lui-en un avec « relais user password QN » (hors d'un terminal, ajoutez --password)"
            ),
            "{}",
            stderr(&without)
        );
        assert!(with.status.success(), "{}", stderr(&with));
        assert!(
            !stderr(&with).contains("aucun mot de passe"),
            "{}",
            stderr(&with)
        );
    });
}

#[test]
fn import_without_key_column_warns_of_duplicates() {
    each_engine(|db| {
        setup(db);
        let keyless = write_file(db, "keyless.csv", "Nom;Prénom\nMartin;Hélène\n".as_bytes());
        let keyed = write_file(
            db,
            "keyed.csv",
            "N° Relais;Nom;Prénom\n;Petit;Luc\n".as_bytes(),
        );

        let text_output = relais(db, &["import", keyless.to_str().unwrap()]);
        let json_output = json(&relais(
            db,
            &["import", keyless.to_str().unwrap(), "--json"],
        ));
        let keyed_output = relais(db, &["import", keyed.to_str().unwrap()]);

        let text = String::from_utf8_lossy(&text_output.stdout);
        assert!(
            text.contains("Attention : le fichier n'a ni colonne « N° Relais »"),
            "{text}"
        );
        assert!(
            text.contains("chaque ligne crée un nouveau contact"),
            "{text}"
        );
        let warnings = json_output["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0]
                .as_str()
                .unwrap()
                .contains("« Identifiant externe »"),
            "{warnings:?}"
        );
        let keyed_text = String::from_utf8_lossy(&keyed_output.stdout);
        assert!(!keyed_text.contains("Attention"), "{keyed_text}");
        // A file that creates nothing cannot duplicate anything.
        // Its report is printed before the command fails for want of rows.
        let header_only = write_file(db, "entete.csv", "Nom;Prénom\n".as_bytes());
        let output = relais(db, &["import", header_only.to_str().unwrap(), "--json"]);
        assert_eq!(output.status.code(), Some(1));
        let empty: Value = serde_json::from_slice(&output.stdout).expect("report on stdout");
        assert_eq!(empty["warnings"], serde_json::json!([]), "{empty}");
    });
}

#[test]
fn reassign_json_reports_counts_per_role() {
    each_engine(|db| {
        setup(db);

        let dry = json(&relais(
            db,
            &[
                "reassign",
                "--de",
                "JD",
                "--vers",
                "BB",
                "--dry-run",
                "--json",
            ],
        ));
        let run = json(&relais(
            db,
            &["reassign", "--from", "JD", "--to", "BB", "--json"],
        ));

        assert_eq!(dry["batch_id"], Value::Null);
        assert_eq!(dry["matched"], 2);
        for key in [
            "matched",
            "changed",
            "already_owned",
            "history_entries",
            "commercial",
            "technical",
        ] {
            assert_eq!(dry[key], run[key], "{key}");
        }
        assert_eq!(
            (run["commercial"].as_u64(), run["technical"].as_u64()),
            (Some(1), Some(2))
        );
        assert!(run["batch_id"].as_i64().is_some());
    });
}

#[test]
fn history_json_by_external_id() {
    each_engine(|db| {
        setup(db);
        let run = json(&relais(
            db,
            &["reassign", "--from", "JD", "--to", "BB", "--json"],
        ));

        let history = json(&relais(db, &["history", "k2", "--json"]));

        let entries = history.as_array().expect("a list");
        assert_eq!(entries.len(), 2, "the change, then the creation");
        assert_eq!(entries[0]["role"], "technical");
        assert_eq!(entries[0]["previous_owner"], "JD");
        assert_eq!(entries[0]["new_owner"], "BB");
        assert_eq!(entries[0]["batch_id"], run["batch_id"]);
        assert_eq!(entries[0]["kind"], "reassign");
        assert!(entries[0]["at"].as_str().is_some());
        assert_eq!(entries[1]["kind"], "created");
        assert_eq!(entries[1]["batch_id"], 1, "the import of the set-up");
        assert_eq!(entries[1]["message"], "Création par l'importation n° 1");
        assert!(entries[1]["id"].is_null());
    });
}

/// The journal shows whether an undone batch's changes are back: after an
/// undo of its undo they are, and after a third undo they are removed again.
#[test]
fn batches_follow_undos_of_undos() {
    each_engine(|db| {
        setup(db);
        let run = json(&relais(
            db,
            &["reassign", "--from", "JD", "--to", "CC", "--json"],
        ));
        let batch = run["batch_id"].as_i64().unwrap();
        let undo_of = |target: i64| {
            json(&relais(db, &["undo", &target.to_string(), "--json"]))["batch_id"]
                .as_i64()
                .unwrap()
        };
        let journal_line = || {
            let output = relais(db, &["batches"]);
            assert!(output.status.success(), "{}", stderr(&output));
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .find(|line| line.trim_start().starts_with(&format!("n° {batch} ")))
                .expect("the batch is listed")
                .to_string()
        };

        assert!(journal_line().contains(" (fin "), "{}", journal_line());
        let undo = undo_of(batch);
        assert!(
            journal_line().ends_with(&format!("— annulée par l'opération n° {undo}")),
            "{}",
            journal_line()
        );

        let redo = undo_of(undo);
        assert!(
            journal_line().ends_with(&format!(
                "— annulée par l'opération n° {undo}, puis rétablie par l'opération n° {redo}"
            )),
            "{}",
            journal_line()
        );

        let third = undo_of(redo);
        assert!(
            journal_line().ends_with(&format!(
                "— annulée par l'opération n° {undo}, rétablie, puis annulée de nouveau par l'opération n° {third}"
            )),
            "{}",
            journal_line()
        );
    });
}

#[test]
fn batches_and_undo_json() {
    each_engine(|db| {
        setup(db);
        let run = json(&relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--country",
                "FRA",
                "--postal",
                "51",
                "--json",
            ],
        ));
        let batch_id = run["batch_id"].as_i64().unwrap();
        let batch = batch_id.to_string();

        let undo = json(&relais(db, &["undo", &batch, "--json"]));
        let batches = json(&relais(db, &["batches", "--json"]));

        assert_eq!(undo["changed"], 1);
        let listed = batches.as_array().unwrap();
        let original = listed
            .iter()
            .find(|b| b["id"].as_i64() == Some(batch_id))
            .unwrap();
        assert_eq!(original["undone"], true);
        assert_eq!(original["kind"], "reassign_region");
        assert_eq!(original["changed"], 1);
        assert_eq!(listed[0]["kind"], "undo");
    });
}

#[test]
fn errors_are_french_on_stderr_with_failure_status() {
    each_engine(|db| {
        setup(db);
        let batches_before = json(&relais(db, &["batches", "--json"]));

        let bad_postal = relais(db, &["reassign-region", "--to", "BB", "--postal", "51;%"]);
        let same_user = relais(db, &["reassign", "--from", "BB", "--to", "BB"]);
        let unknown = relais(db, &["reassign", "--from", "XX", "--to", "BB"]);
        let bad_flag = relais(db, &["reassign", "--frm", "JD"]);

        assert!(!bad_postal.status.success());
        assert!(
            stderr(&bad_postal).contains("code postal"),
            "{}",
            stderr(&bad_postal)
        );
        assert!(stderr(&bad_postal).contains('%'));
        assert!(bad_postal.stdout.is_empty());
        assert!(!same_user.status.success());
        assert!(
            stderr(&same_user).contains("différents"),
            "{}",
            stderr(&same_user)
        );
        assert!(stderr(&unknown).contains("« XX »"), "{}", stderr(&unknown));
        assert_eq!(bad_flag.status.code(), Some(2));
        assert!(
            stderr(&bad_flag).contains("option inconnue"),
            "{}",
            stderr(&bad_flag)
        );
        assert_eq!(json(&relais(db, &["batches", "--json"])), batches_before);
    });
}

/// An export named as an Excel workbook is rejected before anything is
/// written, because the file is CSV and Excel rejects it under that name.
#[test]
fn export_named_as_workbook_is_refused() {
    each_engine(|db| {
        setup(db);
        let path = db.dir.path().join("contacts.xlsx");

        let output = relais(db, &["export", path.to_str().unwrap()]);

        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("l'export est un fichier CSV, qu'Excel ouvrirait mal sous l'extension .xlsx ; nommez-le en .csv"),
            "{}",
            stderr(&output)
        );
        assert!(!path.exists());
    });
}

/// `relais user import` prints the users it created and warns about a
/// namesake of a user already there.
#[test]
fn user_import_warns_of_namesake() {
    each_engine(|db| {
        setup(db);
        let path = write_file(
            db,
            "utilisateurs.csv",
            "login;first_name;last_name\njdupont;Jean;Dupont\n".as_bytes(),
        );

        let output = relais(db, &["user", "import", path.to_str().unwrap()]);

        assert!(output.status.success(), "{}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.starts_with("1 utilisateur créé\n"), "{text}");
        assert!(
            text.contains(
                "Attention : ligne 2 : Jean DUPONT (JD2) porte le même nom que Jean DUPONT (JD) ;"
            ),
            "{text}"
        );
    });
}

/// A reassignment with several bad options names each of them at once, as
/// the API does, and changes nothing.
#[test]
fn every_bad_option_is_named() {
    each_engine(|db| {
        setup(db);
        let before = snapshot(db);

        let region = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "XYZ",
                "--country",
                "XXX",
                "--postal",
                "%",
            ],
        );
        let user = relais(db, &["reassign", "--from", "ZZ", "--to", "ZZ"]);

        assert_eq!(region.status.code(), Some(1));
        let text = stderr(&region);
        assert!(
            text.starts_with("relais : affecter à l'utilisateur : aucun utilisateur « XYZ »"),
            "{text}"
        );
        assert!(
            text.contains("\n  code pays : « XXX » n'est pas un pays connu"),
            "{text}"
        );
        assert!(
            text.contains("\n  code postal : « % » n'est pas un préfixe valide"),
            "{text}"
        );
        let text = stderr(&user);
        assert!(
            text.starts_with("relais : de : aucun utilisateur « ZZ »"),
            "{text}"
        );
        assert!(
            text.contains("\n  vers : aucun utilisateur « ZZ »"),
            "{text}"
        );
        assert_eq!(snapshot(db), before);
    });
}

/// The help is French, down to the label of an option's aliases.
#[test]
fn help_reads_in_french() {
    each_engine(|db| {
        let help = relais(db, &["reassign", "--help"]);

        assert!(help.status.success());
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("Utilisation : relais reassign"), "{text}");
        assert!(text.contains("souvent inactif [alias : --de]"), "{text}");
        assert!(!text.contains("alias:"), "{text}");
    });
}

/// A mistyped option or command gets the closest one proposed, in French,
/// an extra argument is named as such, and nothing runs.
#[test]
fn mistyped_option_gets_closest_proposed() {
    each_engine(|db| {
        setup(db);
        let batches_before = json(&relais(db, &["batches", "--json"]));

        let option = relais(db, &["reassign", "--from", "JD", "--to", "BB", "--dryrun"]);
        let command = relais(db, &["reasign", "--from", "JD", "--to", "BB"]);
        let far = relais(db, &["reassign", "--from", "JD", "--to", "BB", "--zzz"]);
        let extra = relais(db, &["undo", "1", "2"]);

        assert_eq!(option.status.code(), Some(2));
        assert!(
            stderr(&option).starts_with(
                "relais : option inconnue : « --dryrun » ; vouliez-vous dire « --dry-run » ?"
            ),
            "{}",
            stderr(&option)
        );
        assert_eq!(command.status.code(), Some(2));
        assert!(
            stderr(&command).starts_with(
                "relais : commande inconnue : « reasign » ; vouliez-vous dire « reassign » ou « reassign-region » ?"
            ),
            "{}",
            stderr(&command)
        );
        assert!(
            stderr(&far).starts_with("relais : option inconnue : « --zzz »\n"),
            "{}",
            stderr(&far)
        );
        assert_eq!(extra.status.code(), Some(2));
        assert!(
            stderr(&extra).starts_with(
                "relais : argument en trop : « 2 » ; cette commande n'en attend pas autant\n"
            ),
            "{}",
            stderr(&extra)
        );
        assert_eq!(json(&relais(db, &["batches", "--json"])), batches_before);
    });
}

/// An undo of an operation number that does not exist points to the list
/// of operations, since numbers may skip values.
#[test]
fn undo_of_unknown_operation_points_to_list() {
    each_engine(|db| {
        setup(db);

        for args in [&["undo", "9999"][..], &["undo", "9999", "--dry-run"][..]] {
            let missing = relais(db, args);

            assert!(!missing.status.success());
            assert_eq!(
                stderr(&missing).trim_end(),
                "relais : aucune opération n° 9999 ; la liste est donnée par « relais batches »"
            );
        }
    });
}

#[test]
fn missing_file_error_is_french() {
    each_engine(|db| {
        setup(db);

        let missing = relais(db, &["import", "/nonexistent/contacts.csv"]);

        assert!(!missing.status.success());
        let message = stderr(&missing);
        assert!(
            message.contains("« /nonexistent/contacts.csv »"),
            "{message}"
        );
        assert!(message.contains("introuvable"), "{message}");
        assert!(!message.contains("No such file"), "{message}");
    });
}

#[test]
fn folder_for_a_file_is_explained() {
    each_engine(|db| {
        setup(db);
        let folder = db.dir.path().join("exports");
        std::fs::create_dir(&folder).unwrap();
        let folder = folder.to_str().unwrap();

        let export = relais(db, &["export", folder]);
        let import = relais(db, &["import", folder]);

        assert!(!export.status.success());
        assert!(
            stderr(&export).contains(&format!(
                "« {folder} » : c'est un dossier ; indiquez le nom du fichier à créer, par exemple « {folder}/contacts.csv »"
            )),
            "{}",
            stderr(&export)
        );
        assert!(!import.status.success());
        assert!(
            stderr(&import).contains(&format!(
                "« {folder} » : c'est un dossier ; indiquez le fichier CSV à importer"
            )),
            "{}",
            stderr(&import)
        );
        for output in [&export, &import] {
            assert!(!stderr(output).contains("os error"), "{}", stderr(output));
        }
    });
}

#[test]
fn dry_run_says_nothing_changed() {
    each_engine(|db| {
        setup(db);
        let before = snapshot(db);

        let output = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--postal",
                "51;02",
                "--dry-run",
            ],
        );

        assert!(output.status.success());
        assert_eq!(snapshot(db), before, "the dry run changed the base");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("Simulation : rien n'a été modifié."),
            "{text}"
        );
        assert!(text.contains("51 — Marne"), "{text}");
        assert!(text.contains("02 — Aisne"), "{text}");
        assert!(text.contains("2 contacts concernés"), "{text}");
        // Nothing was done, so the counts describe what would be.
        assert!(text.contains("2 contacts à réaffecter ("), "{text}");
        assert!(text.contains("2 entrées d'historique à écrire"), "{text}");
        assert!(!text.contains("réaffectés"), "{text}");
        assert!(
            text.contains("Exemples de contacts à réaffecter :"),
            "{text}"
        );

        // Once run, the same dry run changes nothing, and its examples
        // are contacts CC already has.
        let args = ["reassign-region", "--to", "CC", "--postal", "51;02"];
        relais(db, &args);
        let again = relais(db, &[&args[..], &["--dry-run"]].concat());
        let text = String::from_utf8_lossy(&again.stdout);
        assert!(
            text.contains("Exemples de contacts déjà affectés, qui ne changeraient pas :"),
            "{text}"
        );
    });
}

#[test]
fn as_flag_records_the_user_as_actor() {
    each_engine(|db| {
        setup(db);

        relais(
            db,
            &[
                "user",
                "add",
                "--initials",
                "AM",
                "--first-name",
                "Alice",
                "--last-name",
                "Martin",
                "--admin",
            ],
        );

        let run = json(&relais(
            db,
            &[
                "--as", "am", "reassign", "--from", "JD", "--to", "BB", "--json",
            ],
        ));
        let refused = relais(
            db,
            &["--as", "cc", "reassign", "--from", "BB", "--to", "JD"],
        );

        let batch = db
            .store()
            .batch(run["batch_id"].as_i64().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(batch.actor, "Alice MARTIN (AM)");
        assert!(!refused.status.success());
        assert!(
            stderr(&refused).contains("n'a pas le rôle d'administrateur"),
            "{}",
            stderr(&refused)
        );
    });
}

/// Checks the actor of a command. `RELAIS_USER` names it as `--as` does,
/// and the operating-system account is recorded without either. A
/// deactivated administrator, or a non-administrator managing users, is
/// rejected and changes nothing. Reading commands never check it, and a
/// batch keeps its actor's name once that user is deactivated.
#[test]
fn actor_comes_from_as_environment_or_account() {
    each_engine(|db| {
        setup(db);
        let add = relais(
            db,
            &[
                "user",
                "add",
                "--initials",
                "AM",
                "--first-name",
                "Alice",
                "--last-name",
                "Martin",
                "--admin",
            ],
        );
        assert!(add.status.success(), "{}", stderr(&add));
        let with_env = |args: &[&str], vars: &[(&str, &str)]| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_relais"));
            command
                .arg("--db")
                .arg(&db.location)
                .args(args)
                .env_remove("RELAIS_USER")
                .env_remove("RELAIS_DATABASE_URL")
                .env_remove("USERNAME")
                .env_remove("LOGNAME");
            for (name, value) in vars {
                command.env(name, value);
            }
            command.output().expect("run relais")
        };

        let by_env = json(&with_env(
            &["reassign", "--from", "JD", "--to", "BB", "--json"],
            &[("RELAIS_USER", "AM")],
        ));
        let by_account = json(&with_env(
            &["reassign", "--from", "BB", "--to", "CC", "--json"],
            &[("USER", "relais-ci")],
        ));
        let actor = |run: &Value| {
            db.store()
                .batch(run["batch_id"].as_i64().unwrap())
                .unwrap()
                .unwrap()
                .actor
        };
        assert_eq!(actor(&by_env), "Alice MARTIN (AM)");
        assert_eq!(actor(&by_account), "système (compte relais-ci)");

        // AM is the only administrator, who stays active until another
        // one exists.
        let last = relais(db, &["user", "deactivate", "AM"]);
        assert_eq!(
            stderr(&last).trim(),
            "relais : utilisateur : Alice MARTIN (AM) est le seul compte administrateur actif ; \
             donnez d'abord le rôle administrateur à un autre utilisateur (relais user role), \
             puis désactivez ce compte"
        );
        assert!(db.store().find_user("AM").unwrap().unwrap().active);
        let second_admin = relais(db, &["user", "role", "CC", "admin"]);
        assert!(second_admin.status.success(), "{}", stderr(&second_admin));
        let deactivated = relais(db, &["user", "deactivate", "AM"]);
        assert!(deactivated.status.success(), "{}", stderr(&deactivated));
        let batches = json(&relais(db, &["batches", "--json"]));
        let refused = relais(
            db,
            &["--as", "AM", "reassign", "--from", "CC", "--to", "JD"],
        );
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert_eq!(
            stderr(&refused).trim(),
            "relais : --as : le compte d'Alice MARTIN (AM) est désactivé ; agissez au nom d'un utilisateur actif"
        );
        assert_eq!(json(&relais(db, &["batches", "--json"])), batches);
        assert_eq!(actor(&by_env), "Alice MARTIN (AM)");

        // Managing users and tokens is refused to a non-administrator, as
        // mass operations are.
        let users_before = db.store().list_users().unwrap();
        for args in [
            &[
                "--as",
                "JD",
                "user",
                "add",
                "--initials",
                "ZQ",
                "--first-name",
                "Z",
                "--last-name",
                "Q",
                "--admin",
            ][..],
            &["--as", "JD", "user", "deactivate", "BB"][..],
            &[
                "--as",
                "JD",
                "user",
                "password",
                "BB",
                "--password",
                "motdepasse-solide-12",
            ][..],
            &[
                "--as", "JD", "token", "create", "--user", "BB", "--label", "vol",
            ][..],
        ] {
            let output = relais(db, args);
            assert_eq!(output.status.code(), Some(1), "{args:?}");
            assert!(
                stderr(&output).contains("Jean DUPONT (JD) n'a pas le rôle d'administrateur"),
                "{args:?}: {}",
                stderr(&output)
            );
            assert!(output.stdout.is_empty(), "{args:?}");
        }
        assert_eq!(db.store().list_users().unwrap(), users_before);
        assert_eq!(
            json(&relais(db, &["token", "list", "--json"])),
            serde_json::json!([])
        );

        // Reading commands accept any --as, even initials of no user.
        for args in [
            &["--as", "ZZ", "batches", "--json"][..],
            &["--as", "ZZ", "history", "k1", "--json"][..],
            &["--as", "ZZ", "user", "list"][..],
        ] {
            let output = relais(db, args);
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        }
    });
}

#[test]
fn export_of_a_batch_holds_its_contacts() {
    each_engine(|db| {
        setup(db);
        let run = json(&relais(
            db,
            &["reassign-region", "--to", "CC", "--postal", "02", "--json"],
        ));
        let path = db.dir.path().join("batch.csv");

        let output = relais(
            db,
            &[
                "export",
                "--batch",
                &run["batch_id"].to_string(),
                path.to_str().unwrap(),
            ],
        );

        assert!(output.status.success(), "{}", stderr(&output));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("\u{feff}N° Relais;"));
        assert!(lines[1].contains("Élodie"));
    });
}

/// The contact-list filters select what `export` writes: here BB's
/// contacts, those of the Aisne, or none when the filters contradict each
/// other. An invalid filter writes no file, and --batch takes no filter.
#[test]
fn export_of_a_filter_holds_its_contacts() {
    each_engine(|db| {
        setup(db);
        let exported = |args: &[&str]| {
            let path = db.dir.path().join("filtre.csv");
            let _ = std::fs::remove_file(&path);
            let mut full = vec!["export", path.to_str().unwrap()];
            full.extend_from_slice(args);
            let output = relais(db, &full);
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
            let text = std::fs::read_to_string(&path).unwrap();
            let names: Vec<String> = text
                .lines()
                .skip(1)
                .map(|line| line.split(';').nth(4).unwrap().to_string())
                .collect();
            (names, String::from_utf8_lossy(&output.stdout).to_string())
        };

        let (by_owner, said) = exported(&["--owner", "BB"]);
        assert_eq!(by_owner, ["Bernard"]);
        assert_eq!(
            said.trim(),
            format!(
                "1 contact exporté dans « {} ».",
                db.dir.path().join("filtre.csv").display()
            )
        );
        assert_eq!(exported(&["--responsable", "jd"]).0, ["Martin", "Bernard"]);
        assert_eq!(exported(&["--departement", "02"]).0, ["Bernard"]);
        assert_eq!(
            exported(&["--postal", "51", "--country", "FRA"]).0,
            ["Martin"]
        );
        assert_eq!(exported(&["--search", "élodie"]).0, ["Bernard"]);
        assert!(
            exported(&["--departement", "51", "--postal", "02"])
                .0
                .is_empty()
        );

        let not_written = db.dir.path().join("rejete.csv");
        for (args, message) in [
            (
                &["--postal", "5%"][..],
                "relais : code postal : « 5% » n'est pas un préfixe valide",
            ),
            (
                &["--owner", "ZZ"][..],
                "relais : responsable : aucun utilisateur « ZZ » ; indiquez ses initiales, son identifiant ou son e-mail",
            ),
            (
                &["--batch", "1", "--owner", "JD"][..],
                "relais : options incompatibles : --batch <NUMÉRO> et --owner <UTILISATEUR>",
            ),
        ] {
            let mut full = vec!["export", not_written.to_str().unwrap()];
            full.extend_from_slice(args);
            let output = relais(db, &full);
            assert!(!output.status.success(), "{args:?}");
            assert!(
                stderr(&output).starts_with(message),
                "{args:?}: {}",
                stderr(&output)
            );
            assert!(!not_written.exists(), "{args:?} wrote a file");
        }
    });
}

/// `user role` gives or takes the administrator role, in English or
/// French words, and never takes it from the last active administrator.
#[test]
fn user_role_changes_and_keeps_one_admin() {
    each_engine(|db| {
        setup(db);
        let role_of = |initials: &str| db.store().find_user(initials).unwrap().unwrap().role;

        let promoted = relais(db, &["user", "role", "JD", "administrateur"]);
        let again = relais(db, &["user", "role", "jd", "admin"]);
        let unknown = relais(db, &["user", "role", "JD", "chef"]);
        let missing = relais(db, &["user", "role", "JD", " "]);

        assert!(promoted.status.success(), "{}", stderr(&promoted));
        assert_eq!(
            String::from_utf8_lossy(&promoted.stdout).trim(),
            "Jean DUPONT (JD) a désormais le rôle administrateur."
        );
        assert_eq!(
            String::from_utf8_lossy(&again.stdout).trim(),
            "Jean DUPONT (JD) a déjà le rôle administrateur ; rien n'a été modifié."
        );
        assert!(!unknown.status.success());
        assert_eq!(
            stderr(&unknown).trim(),
            "relais : rôle : « chef » inconnu ; choisissez admin (administrateur) ou user (utilisateur)"
        );
        assert_eq!(
            stderr(&missing).trim(),
            "relais : rôle : indiquez admin (administrateur) ou user (utilisateur)"
        );
        assert_eq!(role_of("JD"), relais::domain::user::UserRole::Admin);
        deactivate(db, "CC");
        let inactive = relais(db, &["user", "role", "CC", "admin"]);
        assert_eq!(
            String::from_utf8_lossy(&inactive.stdout).trim(),
            "Claire CARON (CC) a désormais le rôle administrateur ; son compte reste désactivé \
             (relais user activate)."
        );
        assert!(!db.store().find_user("CC").unwrap().unwrap().active);

        let last = relais(db, &["user", "role", "JD", "user"]);
        assert!(!last.status.success());
        assert_eq!(
            stderr(&last).trim(),
            "relais : rôle : Jean DUPONT (JD) est le seul compte administrateur actif ; donnez \
             d'abord ce rôle à un autre utilisateur"
        );
        assert_eq!(role_of("JD"), relais::domain::user::UserRole::Admin);

        // A non-administrator named by --as changes no role.
        let rejected = relais(db, &["--as", "BB", "user", "role", "BB", "admin"]);
        assert!(!rejected.status.success());
        assert_eq!(role_of("BB"), relais::domain::user::UserRole::User);

        let second_admin = relais(db, &["user", "role", "BB", "admin"]);
        assert!(second_admin.status.success(), "{}", stderr(&second_admin));
        let demoted = relais(db, &["user", "role", "JD", "utilisateur"]);
        assert!(demoted.status.success(), "{}", stderr(&demoted));
        assert_eq!(role_of("JD"), relais::domain::user::UserRole::User);
        assert_eq!(role_of("BB"), relais::domain::user::UserRole::Admin);
    });
}

/// The region preview names the role it sets.
#[test]
fn region_preview_names_the_role() {
    each_engine(|db| {
        setup(db);

        let output = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--postal",
                "51",
                "--role",
                "technique",
                "--dry-run",
            ],
        );

        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains(
                "Affecter à Claire CARON (CC), comme responsable technique, les contacts ayant une \
                 adresse dans le pays France (FRA), avec un code postal commençant par « 51 » :"
            ),
            "{text}"
        );
    });
}

/// The journal names the users of an operation in full, as the screens do,
/// with « d' » before a vowel.
#[test]
fn journal_names_users_in_full() {
    each_engine(|db| {
        setup(db);
        user(db, "EL", "Éloïse", "Lavigne");
        json(&relais(
            db,
            &["reassign", "--from", "JD", "--to", "EL", "--json"],
        ));
        json(&relais(
            db,
            &["reassign", "--from", "el", "--to", "CC", "--json"],
        ));

        let listing = relais(db, &["batches"]);
        let text = String::from_utf8_lossy(&listing.stdout);

        assert!(
            text.contains("de Jean DUPONT (JD) vers Éloïse LAVIGNE (EL)"),
            "{text}"
        );
        assert!(
            text.contains("d'Éloïse LAVIGNE (EL) vers Claire CARON (CC)"),
            "{text}"
        );
    });
}

#[test]
fn demo_base_has_faults_and_spread() {
    each_engine(|db| {
        let output = relais(db, &["demo", "--contacts", "3000", "--json"]);
        let report = json(&output);

        assert_eq!(report["contacts"], 3000);
        let store = db.store();
        let page = store
            .list_contacts(
                &relais::storage::ContactFilter::default(),
                relais::storage::Page::first(3000),
            )
            .unwrap();
        let contacts = &page.contacts;
        let four_digit = contacts
            .iter()
            .filter(|c| c.perso.postal_code.len() == 4)
            .count();
        let spaced = contacts
            .iter()
            .filter(|c| c.perso.postal_code.contains(' '))
            .count();
        let abroad = contacts.iter().filter(|c| c.pro.country != "FRA").count();
        // Excel's lost zeros are stored given back, as an import stores them.
        assert_eq!(four_digit, 0, "four-digit codes stored as entered");
        assert!(spaced > 10, "{spaced} spaced codes");
        assert!(abroad > 10, "{abroad} abroad");
        assert!(
            contacts
                .iter()
                .all(|c| !c.perso.is_empty() && !c.pro.is_empty())
        );
        let departements: std::collections::HashSet<&str> = contacts
            .iter()
            .filter_map(|c| c.perso.postal_norm.get(..2))
            .collect();
        assert!(
            departements.len() > 80,
            "{} départements",
            departements.len()
        );
    });
}

#[test]
fn preview_sample_shows_matching_address() {
    each_engine(|db| {
        setup(db);
        let path = write_file(
            db,
            "two.csv",
            format!("{HEADER}\nk3,Petit,Luc,,02000,Laon,FRA,47120,Pardaillan,FRA,,\n").as_bytes(),
        );
        relais(db, &["import", path.to_str().unwrap()]);

        let output = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--postal",
                "02",
                "--dry-run",
            ],
        );

        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Luc PETIT — 02000 Laon (FRA)"), "{text}");
        assert!(!text.contains("Pardaillan"), "{text}");
    });
}

#[test]
fn dry_run_labels_corsica_as_typed() {
    each_engine(|db| {
        setup(db);
        // Both addresses of k3 are in Corse-du-Sud, under two postal
        // prefixes: the 2A row must count that contact once.
        let path = write_file(
            db,
            "corsica.csv",
            format!("{HEADER}\nk3,Rossi,Ange,,20000,Ajaccio,FRA,20167,Mezzavia,FRA,JD,JD\nk4,Santoni,Lucie,,,,,20200,Bastia,FRA,BB,JD\n").as_bytes(),
        );
        let output = relais(db, &["import", path.to_str().unwrap(), "--json"]);
        assert_eq!(json(&output)["imported"], 2);

        let output = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--postal",
                "2A;51;2b",
                "--dry-run",
            ],
        );

        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("2A — Corse-du-Sud : 1 contact\n"), "{text}");
        assert!(text.contains("2B — Haute-Corse : 1 contact\n"), "{text}");
        assert!(text.contains("51 — Marne : 1 contact\n"), "{text}");
        for expanded in ["200", "201", "202", "206"] {
            assert!(!text.contains(&format!("  {expanded} — ")), "{text}");
        }

        let output = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--postal",
                "2A;51;2b",
                "--dry-run",
                "--json",
            ],
        );
        let rows: Vec<(String, u64)> = json(&output)["per_prefix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["prefix"].as_str().unwrap().to_string(),
                    row["matched"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("2A".to_string(), 1),
                ("2B".to_string(), 1),
                ("51".to_string(), 1)
            ],
        );
    });
}

#[test]
fn dry_run_labels_collectivities_rejects_unknown() {
    each_engine(|db| {
        setup(db);
        let path = write_file(
            db,
            "iles.csv",
            format!("{HEADER}\nb1,Greaux,Anne,,,,,97133,Saint-Barthélemy,FRA,JD,\n").as_bytes(),
        );
        json(&relais(db, &["import", path.to_str().unwrap(), "--json"]));

        let output = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--postal",
                "977",
                "--dry-run",
            ],
        );
        let none = relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--postal",
                "999",
                "--dry-run",
            ],
        );

        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("977 — Saint-Barthélemy : 1 contact\n"),
            "{text}"
        );
        assert!(!text.contains("97133 —"), "{text}");
        assert!(!none.status.success());
        assert!(
            stderr(&none).contains(
                "aucun code postal français ne commence par « 99 », ni donc par « 999 » ;"
            ),
            "{}",
            stderr(&none)
        );
    });
}

/// Reassigns JD's contacts to BB, then gives k1's technical role to CC, so
/// that undoing the first batch restores k1's commercial owner and k2's
/// technical owner and skips k1's technical owner. Returns the first batch.
fn batch_partly_changed_since(db: &TestDb) -> String {
    setup(db);
    let run = json(&relais(
        db,
        &["reassign", "--from", "JD", "--to", "BB", "--json"],
    ));
    json(&relais(
        db,
        &[
            "reassign-region",
            "--to",
            "CC",
            "--postal",
            "51",
            "--role",
            "technical",
            "--json",
        ],
    ));
    run["batch_id"].as_i64().unwrap().to_string()
}

#[test]
fn undo_dry_run_matches_the_undo() {
    each_engine(|db| {
        let batch = batch_partly_changed_since(db);
        let before = snapshot(db);

        let dry = json(&relais(db, &["undo", &batch, "--dry-run", "--json"]));
        let text = relais(db, &["undo", &batch, "--dry-run"]);

        assert_eq!(snapshot(db), before, "a dry run changed data");
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("Simulation : rien n'a été modifié."),
            "{text}"
        );
        assert!(
            text.contains("responsable commercial Jean DUPONT (JD) : 1 contact"),
            "{text}"
        );
        assert!(
            text.contains("1 entrée d'historique à ignorer, une par contact et par rôle (0 comme responsable commercial, 1 comme responsable technique)"),
            "{text}"
        );
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["batch_id"], Value::Null);
        assert_eq!(dry["skipped_per_role"]["technical"], 1);
        assert_eq!(dry["returns"][0]["owner"], "JD");
        assert_eq!(dry["returns"][0]["role"], "commercial");

        let undo = json(&relais(db, &["undo", &batch, "--json"]));

        for key in [
            "matched",
            "changed",
            "already_owned",
            "history_entries",
            "commercial",
            "technical",
            "returns",
            "skipped_per_role",
        ] {
            assert_eq!(dry[key], undo[key], "{key}");
        }
        assert_eq!(undo["changed"], 2);
        assert_eq!(undo["skipped"].as_array().unwrap().len(), 1);
        assert_eq!(
            dry["skipped"], undo["skipped"],
            "the dry run lists the skipped entries"
        );
        assert!(
            text.contains(
                "(technique) : responsable actuel Claire CARON (CC), l'opération avait mis Baptiste BONCHAMPS (BB)"
            ),
            "the text lists the skipped entries, owners in full: {text}"
        );
        assert_eq!(undo["skipped"][0]["current_owner"], "CC");
    });
}

#[test]
fn undo_json_names_the_contacts_it_skips() {
    each_engine(|db| {
        setup(db);
        let first = json(&relais(
            db,
            &["reassign", "--from", "JD", "--to", "BB", "--json"],
        ));
        relais(db, &["reassign", "--from", "BB", "--to", "CC", "--json"]);
        let batch = first["batch_id"].to_string();

        let dry = json(&relais(db, &["undo", &batch, "--dry-run", "--json"]));
        let undo = json(&relais(db, &["undo", &batch, "--json"]));

        // Every contact of the first batch has moved on to CC on each of
        // its roles, so the undo skips all of them.
        assert_eq!(first["matched"], 2);
        for value in [&dry, &undo] {
            assert_eq!(value["changed"], 0, "{value}");
            assert_eq!(value["skipped_contacts"], 2, "{value}");
            assert_eq!(value["skipped_contacts"], value["already_owned"]);
        }
    });
}

#[test]
fn undo_dry_run_marks_deactivated_owner() {
    each_engine(|db| {
        let batch = batch_partly_changed_since(db);
        deactivate(db, "JD");

        let dry = json(&relais(db, &["undo", &batch, "--dry-run", "--json"]));
        let text = relais(db, &["undo", &batch, "--dry-run"]);

        let text = String::from_utf8_lossy(&text.stdout);
        assert_eq!(dry["returns"][0]["owner"], "JD");
        assert_eq!(dry["returns"][0]["owner_active"], false);
        assert!(
            text.contains(
                "responsable commercial Jean DUPONT (JD), dont le compte est désactivé : 1 contact"
            ),
            "{text}"
        );
    });
}

#[test]
fn undo_counts_contacts_apart_from_entries() {
    each_engine(|db| {
        let batch = batch_partly_changed_since(db);

        let output = relais(db, &["undo", &batch]);

        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("2 contacts réaffectés à leur responsable précédent"),
            "{text}"
        );
        assert!(
            text.contains("0 contact ignoré, car son responsable a changé depuis l'opération"),
            "{text}"
        );
        assert!(
            text.contains("1 entrée d'historique ignorée, une par contact et par rôle :"),
            "{text}"
        );
        assert!(
            text.contains("Par responsable précédent :\n  responsable commercial Jean DUPONT (JD) : 1 contact\n"),
            "the undo names whom it gave contacts back to: {text}"
        );
        assert!(!text.contains("rétabli"), "{text}");
    });
}

/// A usage error names an option as typed, French alias included, and
/// reports a missing value rather than quoting an empty one.
#[test]
fn usage_errors_name_options_as_typed() {
    let db = TestDb::new(Engine::Sqlite);

    let no_value = relais(&db, &["reassign", "--de", "JD", "--vers"]);
    let twice = relais(
        &db,
        &["reassign", "--de", "JD", "--vers", "BB", "--vers", "CC"],
    );
    let empty_file = relais(&db, &["export", ""]);
    let missing_french = relais(&db, &["reassign", "--de", "JD"]);
    let missing_english = relais(&db, &["reassign", "--from", "JD"]);

    assert_eq!(no_value.status.code(), Some(2));
    assert!(
        stderr(&no_value)
            .contains("valeur manquante pour --vers <INITIALES> : écrivez-la après l'option"),
        "{}",
        stderr(&no_value)
    );
    assert!(
        stderr(&twice).contains("option « --vers <INITIALES> » donnée plusieurs fois"),
        "{}",
        stderr(&twice)
    );
    assert!(
        stderr(&empty_file).contains("argument FICHIER vide : indiquez sa valeur"),
        "{}",
        stderr(&empty_file)
    );
    assert!(
        stderr(&missing_french).contains("option obligatoire manquante : --vers <INITIALES>\n"),
        "a missing option in the language of the others: {}",
        stderr(&missing_french)
    );
    assert!(
        stderr(&missing_english).contains("option obligatoire manquante : --to <INITIALES>\n"),
        "{}",
        stderr(&missing_english)
    );
}

#[test]
fn missing_option_names_its_value_whole() {
    let db = TestDb::new(Engine::Sqlite);

    let output = relais(&db, &["reassign-region", "--to", "BB"]);

    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("option obligatoire manquante : --postal <CODES>\n"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn commands_other_than_serve_log_at_warn() {
    let db = TestDb::new(Engine::Sqlite);

    // « serve » as an option value must not switch to the server's level.
    let output = relais(
        &db,
        &[
            "user",
            "add",
            "--initials",
            "SV",
            "--first-name",
            "serve",
            "--last-name",
            "Test",
            "--password",
            "un mot de passe assez long",
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "no INFO line by default");
}

/// Log lines written to a file or a pipe carry no terminal colour codes.
#[test]
fn logs_to_a_pipe_are_plain_text() {
    let db = TestDb::new(Engine::Sqlite);

    let output = Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("--db")
        .arg(&db.location)
        .args([
            "user",
            "add",
            "--initials",
            "LG",
            "--first-name",
            "Léa",
            "--last-name",
            "Journal",
        ])
        .env("RELAIS_LOG", "info")
        .env_remove("RELAIS_DATABASE_URL")
        .output()
        .expect("run relais");

    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("user created"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}

/// An address `serve` cannot listen on is explained in French.
#[test]
fn serve_explains_a_bad_bind_address() {
    each_engine(|db| {
        for bind in ["127.0.0.1:99999", "nonsense"] {
            let output = relais(db, &["serve", "--bind", bind]);

            assert!(!output.status.success());
            assert_eq!(
                stderr(&output).trim(),
                format!(
                    "relais : serveur web : impossible d'écouter sur « {bind} » : adresse invalide : \
                     attendu ADRESSE:PORT, par exemple 127.0.0.1:8080, avec un port de 1 à 65535 ; \
                     choisissez une autre adresse avec --bind"
                )
            );
        }
    });
}

/// `serve` opens its socket before the base, so a wrong address leaves
/// no new SQLite file behind.
#[test]
fn serve_with_a_bad_bind_creates_no_base() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jamais.db");

    let output = Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("--db")
        .arg(&path)
        .args(["serve", "--bind", "127.0.0.1:99999"])
        .env_remove("RELAIS_DATABASE_URL")
        .output()
        .expect("run relais");

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("impossible d'écouter sur « 127.0.0.1:99999 »"),
        "{}",
        stderr(&output)
    );
    assert!(
        !path.exists(),
        "the base was created before the bind failed"
    );
}

/// The journal shows how many lines of a file an import rejected.
#[test]
fn journal_counts_rejected_lines() {
    each_engine(|db| {
        cast(db);
        let text = format!(
            "{HEADER}\nok1,Un,,,,,,51100,Reims,FRA,,\nbad1,Deux,,,,,,69001,Lyon,Atlantis,,\nbad2,Trois,,,,,,02000,Laon,Utopia,,\n"
        );
        let with_rejections = import_bytes(db, "contacts.csv", text.as_bytes());
        let clean = import_rows(db, &["ok2,Quatre,,,,,,51100,Reims,FRA,,"]);

        let listing = relais(db, &["batches"]);
        let listed = String::from_utf8_lossy(&listing.stdout);
        let journal = json(&relais(db, &["batches", "--json"]));

        assert_eq!(with_rejections.rejected.len(), 2);
        let rejecting = db
            .store()
            .batch(with_rejections.batch_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(rejecting.rejected_lines(), 2);
        let clean_batch = db.store().batch(clean.batch_id.unwrap()).unwrap().unwrap();
        assert_eq!(clean_batch.params["rejected_lines"], 0);
        assert!(
            listed.contains("fichier « contacts.csv », pays par défaut FRA, 2 lignes rejetées"),
            "{listed}"
        );
        let rejecting_json = journal
            .as_array()
            .unwrap()
            .iter()
            .find(|batch| batch["id"] == with_rejections.batch_id.unwrap())
            .unwrap();
        assert_eq!(rejecting_json["params"]["rejected_lines"], 2);
    });
}

/// An import that changes nothing, because every line is rejected or every
/// contact is already as in the file, records no operation. A file with
/// only a header fails, naming it.
#[test]
fn import_changing_nothing_records_no_operation() {
    each_engine(|db| {
        setup(db);
        let batches = json(&relais(db, &["batches", "--json"]));
        let exported = db.dir.path().join("export.csv");
        let export = relais(db, &["export", exported.to_str().unwrap()]);
        assert!(export.status.success(), "{}", stderr(&export));
        let rejected = write_file(
            db,
            "rejets.csv",
            "Nom;Responsable commercial\nA;XYZ\n".as_bytes(),
        );
        let header_only = write_file(db, "entete.csv", "Nom;Prénom;Code postal\n".as_bytes());

        let same = relais(db, &["import", exported.to_str().unwrap(), "--json"]);
        let all_rejected = relais(db, &["import", rejected.to_str().unwrap()]);
        let empty = relais(db, &["import", header_only.to_str().unwrap()]);

        let same = json(&same);
        assert_eq!(same["batch_id"], Value::Null, "{same}");
        assert_eq!(
            (same["updated"].as_u64(), same["unchanged"].as_u64()),
            (Some(0), Some(2))
        );
        assert_eq!(all_rejected.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&all_rejected.stdout).contains(
                "Importation terminée sans rien modifier (aucune opération enregistrée) :"
            ),
            "{}",
            String::from_utf8_lossy(&all_rejected.stdout)
        );
        assert_eq!(empty.status.code(), Some(1));
        assert_eq!(
            stderr(&empty).trim(),
            format!(
                "relais : fichier « {} » : aucune ligne de contact après l'en-tête ; rien n'a été \
                 importé, vérifiez que c'est le bon fichier",
                header_only.display()
            )
        );
        assert_eq!(json(&relais(db, &["batches", "--json"])), batches);

        // A rejection of the whole row names no column in JSON.
        let short = write_file(db, "court.csv", "Nom;Prénom\nSeul\n".as_bytes());
        let output = relais(db, &["import", short.to_str().unwrap(), "--json"]);
        let report: Value = serde_json::from_slice(&output.stdout).expect("report on stdout");
        let rejected = &report["rejected"][0];
        assert_eq!(rejected["line"], 2, "{report}");
        assert!(rejected.get("column").is_none(), "{report}");
        assert!(
            rejected["reason"]
                .as_str()
                .unwrap()
                .starts_with("1 champ au lieu de 2"),
            "{report}"
        );
    });
}

/// A PostgreSQL base that cannot be reached is explained in French with
/// its fix, for the usual causes.
#[test]
fn postgres_connection_failures_are_explained() {
    let Some(server) = postgres_server() else {
        eprintln!("{POSTGRES_ENV} is not set: the PostgreSQL case is skipped");
        return;
    };
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    let run = |url: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_relais"))
            .args(["--db", url, "batches"])
            .env_remove("RELAIS_DATABASE_URL")
            .output()
            .expect("run relais");
        assert!(!output.status.success());
        stderr(&output)
    };

    let missing = run(&format!("{base}/relais_test_no_such_base"));
    // Port 1 of the loopback address, where no server listens.
    let closed = run("postgres://postgres@127.0.0.1:1/relais");

    assert!(
        missing.contains(
            "base « relais_test_no_such_base ») : cette base n'existe pas sur le serveur ; créez-la"
        ),
        "{missing}"
    );
    assert!(
        closed.contains(
            "aucun serveur ne répond à cette adresse ; vérifiez que PostgreSQL est démarré"
        ),
        "{closed}"
    );
}

#[test]
fn import_with_every_line_rejected_fails() {
    each_engine(|db| {
        setup(db);
        let path = write_file(
            db,
            "rejets.csv",
            "Nom;Courriel;;\nDupont;pas-une-adresse;;\nMartin;toujours pas;;\n".as_bytes(),
        );

        let output = relais(db, &["import", path.to_str().unwrap()]);

        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(
                "aucune ligne importée : les 2 lignes du fichier ont été rejetées ; corrigez-les"
            ),
            "{}",
            stderr(&output)
        );
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            report.contains("colonnes ignorées : 2 colonnes sans en-tête"),
            "{report}"
        );
        let many = format!("Nom;Courriel\n{}", "Dupont;pas-une-adresse\n".repeat(1_000));
        let many = write_file(db, "rejets-1000.csv", many.as_bytes());
        let output = relais(db, &["import", many.to_str().unwrap()]);
        assert!(
            stderr(&output).contains("les 1\u{202F}000 lignes du fichier ont été rejetées"),
            "counts are grouped as in the report: {}",
            stderr(&output)
        );
    });
}

#[test]
fn deactivating_an_inactive_user_says_so() {
    each_engine(|db| {
        setup(db);

        let first = relais(db, &["user", "deactivate", "CC"]);
        let second = relais(db, &["user", "deactivate", "CC"]);
        let limit = relais(db, &["batches", "--limit", "0"]);

        assert!(first.status.success());
        assert!(String::from_utf8_lossy(&first.stdout).starts_with("Utilisateur désactivé :"));
        assert!(second.status.success());
        assert!(
            String::from_utf8_lossy(&second.stdout)
                .starts_with("Compte déjà désactivé : Claire CARON (CC) ; rien n'a été modifié."),
            "{}",
            String::from_utf8_lossy(&second.stdout)
        );
        assert_eq!(limit.status.code(), Some(2));
        assert!(
            stderr(&limit).contains("attendu un nombre entier de 1 à 100\u{202f}000"),
            "{}",
            stderr(&limit)
        );
    });
}

#[test]
fn json_commands_report_errors_as_json() {
    each_engine(|db| {
        setup(db);

        let output = relais(db, &["reassign", "--from", "XX", "--to", "BB", "--json"]);

        assert!(!output.status.success());
        assert!(output.stdout.is_empty());
        let error: Value = serde_json::from_slice(&output.stderr).expect("JSON on stderr");
        assert_eq!(error["code"], "unknown_user");
        assert_eq!(error["field"], "from");
        assert!(
            error["message"].as_str().unwrap().contains("« XX »"),
            "{error}"
        );

        let usage = relais(db, &["batches", "--json", "--bogus"]);
        assert_eq!(usage.status.code(), Some(2));
        let error: Value = serde_json::from_slice(&usage.stderr).expect("JSON on stderr");
        assert_eq!(error["code"], "usage_error");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("option inconnue : « --bogus »"),
            "{error}"
        );
    });
}

#[test]
fn key_of_run_that_changed_nothing_replays_it() {
    each_engine(|db| {
        setup(db);
        let quiet = ["reassign", "--from", "CC", "--to", "BB"];
        let keyed = [&quiet[..], &["--idempotency-key", "cli-quiet"]].concat();
        let first = relais(db, &keyed);
        assert!(first.status.success(), "{}", stderr(&first));
        assert!(
            String::from_utf8_lossy(&first.stdout).contains("Aucun contact à réaffecter"),
            "{first:?}"
        );
        json(&relais(
            db,
            &["reassign", "--from", "JD", "--to", "CC", "--json"],
        ));

        let again = relais(db, &keyed);

        assert!(again.status.success(), "{}", stderr(&again));
        let text = String::from_utf8_lossy(&again.stdout);
        assert!(
            text.contains("Cette opération avait déjà été lancée avec la même clé et n'avait rien modifié : elle n'a pas été refaite."),
            "{text}"
        );
        let left = json(&relais(
            db,
            &[&quiet[..], &["--dry-run", "--json"]].concat(),
        ));
        assert_eq!(left["matched"], 2, "CC keeps its contacts");

        let reused = relais(
            db,
            &[
                "reassign",
                "--from",
                "CC",
                "--to",
                "JD",
                "--idempotency-key",
                "cli-quiet",
            ],
        );
        assert!(!reused.status.success());
        assert!(
            stderr(&reused).contains("la clé d'idempotence « cli-quiet » a déjà servi"),
            "the key as typed: {}",
            stderr(&reused)
        );
        let blank = relais(db, &[&quiet[..], &["--idempotency-key", " "]].concat());
        assert!(!blank.status.success());
        assert!(
            stderr(&blank).contains(
                "invalide pour --idempotency-key <CLÉ> : attendu de 1 à 100 caractères ASCII visibles"
            ),
            "{}",
            stderr(&blank)
        );
    });
}

#[test]
fn reassign_region_takes_french_option_names() {
    each_engine(|db| {
        setup(db);

        let french = json(&relais(
            db,
            &[
                "reassign-region",
                "--vers",
                "CC",
                "--pays",
                "FRA",
                "--codes",
                "51",
                "--dry-run",
                "--json",
            ],
        ));
        let english = json(&relais(
            db,
            &[
                "reassign-region",
                "--to",
                "CC",
                "--country",
                "FRA",
                "--postal",
                "51",
                "--dry-run",
                "--json",
            ],
        ));

        assert_eq!(french, english);
        assert_eq!(french["matched"], 1);
    });
}

/// An import that only created contacts changed no owner. Its undo
/// reports that, not that its contacts had changed owner since.
#[test]
fn undo_of_creating_import_restores_nothing() {
    each_engine(|db| {
        setup(db);
        let batches = json(&relais(db, &["batches", "--json"]));
        let import = batches[0]["id"].to_string();
        assert_eq!(batches[0]["kind"], "import", "{batches}");

        let dry = relais(db, &["undo", &import, "--dry-run"]);
        let undo = relais(db, &["undo", &import]);

        let expected = format!(
            "L'opération n° {import} n'a changé le responsable d'aucun contact : son annulation \
             n'a rien à réaffecter, et rien n'a été modifié."
        );
        for output in [&dry, &undo] {
            let text = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "{}", stderr(output));
            assert!(text.contains(&expected), "{text}");
            assert!(!text.contains("n'avait encore le responsable"), "{text}");
        }
        assert_eq!(
            json(&relais(db, &["batches", "--json"])),
            batches,
            "the undo recorded an operation"
        );
    });
}

/// A dry run checks `--as` as the run does, so that a simulation never
/// passes where the run would then be refused.
#[test]
fn dry_run_checks_the_acting_user() {
    each_engine(|db| {
        setup(db);

        for args in [
            &[
                "--as",
                "ZZ",
                "reassign",
                "--from",
                "JD",
                "--to",
                "BB",
                "--dry-run",
            ][..],
            &[
                "--as",
                "ZZ",
                "reassign-region",
                "--to",
                "BB",
                "--postal",
                "51",
                "--dry-run",
            ][..],
            &["--as", "ZZ", "undo", "1", "--dry-run"][..],
        ] {
            let output = relais(db, args);

            assert!(!output.status.success(), "{args:?}");
            assert!(
                stderr(&output).contains("aucun utilisateur « ZZ »"),
                "{}",
                stderr(&output)
            );
        }
    });
}

/// An external id that is also another contact's number: the number names
/// its contact, `ext:` names the other, and `history` warns of both.
#[test]
fn numeric_external_id_is_reached_with_ext() {
    each_engine(|db| {
        setup(db);
        let path = write_file(
            db,
            "numerique.csv",
            format!("{HEADER}\n1,Numérique,Zoé,,,,,51100,Reims,FRA,JD,\n").as_bytes(),
        );
        assert!(
            relais(db, &["import", path.to_str().unwrap()])
                .status
                .success()
        );
        let numbered = db.store().find_contact("1").unwrap().unwrap();
        let by_ext = db.store().find_contact("ext:1").unwrap().unwrap();
        assert_eq!(numbered.id, 1);
        assert_eq!(by_ext.last_name, "Numérique");
        assert_ne!(by_ext.id, 1);

        let output = relais(db, &["history", "1"]);
        let ext = relais(db, &["history", "ext:1"]);

        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!(
                "« 1 » est aussi l'identifiant externe du contact n° {}",
                by_ext.id
            )),
            "{}",
            stderr(&output)
        );
        assert!(ext.status.success(), "{}", stderr(&ext));
        let ext_text = String::from_utf8_lossy(&ext.stdout);
        assert!(
            ext_text.contains(&format!("n° {}", by_ext.id)),
            "{ext_text}"
        );
        // No owner changed yet, and the last line names the import that
        // created the contact.
        let batches = json(&relais(db, &["batches", "--json"]));
        let import = batches[0]["id"].as_i64().unwrap();
        let lines: Vec<&str> = ext_text.lines().collect();
        assert_eq!(
            lines[1], "  (aucun changement de responsable)",
            "{ext_text}"
        );
        assert!(
            lines[2].ends_with(&format!("  Création par l'importation n° {import}")),
            "{ext_text}"
        );
        assert_eq!(lines.len(), 3, "{ext_text}");
    });
}

/// Re-importing the original file sets back owners that a reassignment
/// changed, so the report counts the owner changes of the update.
#[test]
fn import_report_counts_owner_changes() {
    each_engine(|db| {
        setup(db);
        assert!(
            relais(db, &["reassign", "--from", "JD", "--to", "CC"])
                .status
                .success()
        );
        let path = db.dir.path().join("contacts.csv");

        let output = relais(db, &["import", path.to_str().unwrap()]);

        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("2 contacts mis à jour (3 changements de responsable)"),
            "{text}"
        );
    });
}

/// An export keeps an existing file, which may be the administrator's
/// source file, unless `--remplacer` is given. The output then reports
/// the replacement.
#[test]
fn export_keeps_an_existing_file() {
    each_engine(|db| {
        setup(db);
        let path = db.dir.path().join("export.csv");
        std::fs::write(&path, "mon travail de l'après-midi").unwrap();

        let rejected = relais(db, &["export", path.to_str().unwrap()]);
        let after_rejection = std::fs::read_to_string(&path).unwrap();
        let replaced = relais(db, &["export", "--remplacer", path.to_str().unwrap()]);

        assert!(!rejected.status.success());
        let message = String::from_utf8_lossy(&rejected.stderr);
        assert!(
            message.contains("existe déjà ; choisissez un autre nom, ou ajoutez --remplacer"),
            "{message}"
        );
        assert_eq!(after_rejection, "mon travail de l'après-midi");
        assert!(replaced.status.success());
        assert!(
            String::from_utf8_lossy(&replaced.stdout)
                .contains("qui existait déjà et a été remplacé"),
            "{}",
            String::from_utf8_lossy(&replaced.stdout)
        );
        assert!(std::fs::read_to_string(&path).unwrap().contains("Martin"));
        let to_stdout = relais(db, &["export", "/dev/stdout"]);
        assert!(to_stdout.status.success(), "{}", stderr(&to_stdout));
        assert!(String::from_utf8_lossy(&to_stdout.stdout).contains("Martin"));
    });
}

/// An export through a symbolic link writes the file it points to and
/// keeps the link. An export into a named pipe writes the rows into the
/// pipe and leaves the pipe in place.
#[cfg(unix)]
#[test]
fn export_keeps_links_and_pipes() {
    use std::os::unix::fs::FileTypeExt;

    each_engine(|db| {
        setup(db);
        let target = db.dir.path().join("cible.csv");
        let link = db.dir.path().join("lien.csv");
        std::fs::write(&target, "ancien").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let pipe = db.dir.path().join("tube");
        let mkfifo = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap();
        assert!(mkfifo.success());
        // A link to the pipe, as /dev/stdout is to the pipe of a shell.
        let pipe_link = db.dir.path().join("sortie");
        std::os::unix::fs::symlink(&pipe, &pipe_link).unwrap();
        let reader = {
            let pipe = pipe.clone();
            std::thread::spawn(move || std::fs::read_to_string(pipe).unwrap())
        };
        let future = db.dir.path().join("futur.csv");
        let future_link = db.dir.path().join("courant.csv");
        std::os::unix::fs::symlink(&future, &future_link).unwrap();

        let through_link = relais(db, &["export", "--remplacer", link.to_str().unwrap()]);
        let into_pipe = relais(db, &["export", pipe_link.to_str().unwrap()]);
        let to_future = relais(db, &["export", future_link.to_str().unwrap()]);

        assert!(through_link.status.success(), "{through_link:?}");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(std::fs::read_to_string(&target).unwrap().contains("Martin"));
        assert!(into_pipe.status.success(), "{into_pipe:?}");
        // Checked before joining the reader, which a replaced pipe would
        // leave waiting for a writer.
        assert!(
            std::fs::symlink_metadata(&pipe)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        let piped = reader.join().unwrap();
        assert!(piped.contains("Martin"), "{piped}");
        assert!(to_future.status.success(), "{to_future:?}");
        assert!(std::fs::read_to_string(&future).unwrap().contains("Martin"));
        assert!(
            std::fs::symlink_metadata(&future_link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    });
}
