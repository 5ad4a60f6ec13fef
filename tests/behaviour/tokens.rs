//! API tokens: revocation, the list, deactivation, and the record of last
//! use, through the service layer, the store and the `relais` binary.

use std::process::{Command, Output};

use chrono::{Duration, TimeZone, Utc};
use relais::service::tokens::{
    NewToken, create_api_token, create_form_api_token, hash_secret, list_api_tokens,
    revoke_api_token,
};
use relais::service::users::set_active;
use relais::storage::{StoreError, StoredToken};
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

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates a token for the user with these initials and returns the secret.
fn token_for(db: &TestDb, initials: &str, label: &str) -> String {
    let user = db.store().find_user(initials).unwrap().unwrap();
    create_api_token(db.store(), &user, label).expect("token created")
}

fn token_id(db: &TestDb, label: &str) -> i64 {
    db.store()
        .list_api_tokens(None)
        .unwrap()
        .into_iter()
        .find(|token| token.label == label)
        .unwrap_or_else(|| panic!("no token labelled {label}"))
        .id
}

#[test]
fn revoked_token_is_refused() {
    each_engine(|db| {
        cast(db);
        let secret = token_for(db, "JD", "synchro");
        let other = token_for(db, "JD", "autre");
        let hash = hash_secret(&secret);
        assert!(db.store().api_token_user(&hash).unwrap().is_some());

        let revoked = revoke_api_token(db.store(), token_id(db, "synchro")).unwrap();

        assert!(revoked.revoked_at.is_some());
        assert_eq!(revoked.user.initials, "JD");
        assert!(db.store().api_token_user(&hash).unwrap().is_none());
        assert!(
            db.store()
                .api_token_user(&hash_secret(&other))
                .unwrap()
                .is_some(),
            "the user's other token still works"
        );
    });
}

#[test]
fn token_list_has_no_secrets() {
    each_engine(|db| {
        cast(db);
        let first = token_for(db, "JD", "premier");
        let second = token_for(db, "BB", "second");
        let jd = db.store().find_user("JD").unwrap().unwrap();

        let all = list_api_tokens(db.store(), None).unwrap();
        let of_jd = list_api_tokens(db.store(), Some(&jd)).unwrap();

        let labels: Vec<&str> = all.iter().map(|token| token.label.as_str()).collect();
        assert_eq!(labels, ["second", "premier"], "newest first");
        assert_eq!(of_jd.len(), 1);
        assert_eq!(of_jd[0].label, "premier");
        assert!(of_jd[0].revoked_at.is_none());
        assert!(of_jd[0].last_used_at.is_none());
        let text = format!("{all:?} {}", serde_json::to_string(&all).unwrap());
        for secret in [&first, &second] {
            assert!(!text.contains(secret.as_str()), "secret in the list");
            assert!(!text.contains(&hash_secret(secret)), "hash in the list");
        }
    });
}

#[test]
fn deactivation_revokes_tokens_for_good() {
    each_engine(|db| {
        cast(db);
        let secret = token_for(db, "JD", "synchro");
        let hash = hash_secret(&secret);

        set_active(db.store(), "JD", false).unwrap();
        set_active(db.store(), "JD", true).unwrap();

        assert!(
            db.store().api_token_user(&hash).unwrap().is_none(),
            "reactivation revived the token"
        );
        let listed = db.store().list_api_tokens(None).unwrap();
        assert!(listed[0].revoked_at.is_some(), "{listed:?}");
        let fresh = token_for(db, "JD", "nouveau");
        assert!(
            db.store()
                .api_token_user(&hash_secret(&fresh))
                .unwrap()
                .is_some(),
            "a token created after reactivation works"
        );
    });
}

#[test]
fn token_store_rejects_inactive_owner() {
    each_engine(|db| {
        cast(db);
        deactivate(db, "JD");
        let jd = db.store().find_user("JD").unwrap().unwrap();

        let error = db
            .store()
            .create_api_token(jd.id, &hash_secret("relais_x"), "tardif", None)
            .unwrap_err();

        assert_eq!(error.code(), "inactive_user");
        assert!(db.store().list_api_tokens(None).unwrap().is_empty());
    });
}

/// The sendings of one token form share a key, and only the first creates
/// a token, even when two arrive at once on two connections, as from two
/// application servers. A form without a key always creates one.
#[test]
fn token_form_key_creates_one_token() {
    each_engine(|db| {
        cast(db);
        let jd = db.store().find_user("JD").unwrap().unwrap();
        let send = |key: Option<&str>| {
            create_form_api_token(db.store(), &jd, "synchro", key).expect("token request")
        };

        let first = send(Some("user-1:page-a"));
        let again = send(Some("user-1:page-a"));
        let other_page = send(Some("user-1:page-b"));
        let keyless = [send(None), send(None)];
        let barrier = std::sync::Barrier::new(2);
        let racing: Vec<NewToken> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        send(Some("user-1:page-c"))
                    })
                })
                .collect();
            racers
                .into_iter()
                .map(|racer| racer.join().unwrap())
                .collect()
        });

        let NewToken::Created { id: first_id, .. } = first else {
            panic!("the first sending creates: {first:?}");
        };
        assert!(
            matches!(again, NewToken::SentBefore(id) if id == first_id),
            "{again:?}"
        );
        assert!(
            matches!(other_page, NewToken::Created { .. }),
            "{other_page:?}"
        );
        assert!(
            keyless
                .iter()
                .all(|token| matches!(token, NewToken::Created { .. })),
            "{keyless:?}"
        );
        let created: Vec<i64> = racing
            .iter()
            .filter_map(|token| match token {
                NewToken::Created { id, .. } => Some(*id),
                NewToken::SentBefore(_) => None,
            })
            .collect();
        assert_eq!(
            created.len(),
            1,
            "one of two sendings at once creates: {racing:?}"
        );
        assert!(
            racing
                .iter()
                .any(|token| matches!(token, NewToken::SentBefore(id) if *id == created[0])),
            "the other names it: {racing:?}"
        );
        assert_eq!(db.store().list_api_tokens(None).unwrap().len(), 5);
        let bb = db.store().find_user("BB").unwrap().unwrap();
        let other_user = create_form_api_token(db.store(), &bb, "synchro", Some("user-1:page-a"))
            .expect_err("the form was edited before its second sending");
        let other_label = create_form_api_token(db.store(), &jd, "autre", Some("user-1:page-a"))
            .expect_err("another label");
        assert_eq!(other_user.code(), "token_form_reused");
        assert_eq!(other_user.field(), Some("user"));
        assert_eq!(
            other_user.to_string(),
            format!(
                "utilisateur : ce formulaire a déjà créé le jeton n° {first_id} de Jean DUPONT (JD), libellé « synchro », et rien n'a été créé cette fois ; rechargez la page pour créer un autre jeton"
            )
        );
        assert_eq!(other_label.code(), "token_form_reused");
        assert_eq!(other_label.field(), Some("label"));
        assert_eq!(
            db.store().list_api_tokens(None).unwrap().len(),
            5,
            "nothing created"
        );
        assert_eq!(
            db.store()
                .create_api_token(
                    jd.id,
                    &hash_secret("relais_y"),
                    "synchro",
                    Some("user-1:page-a")
                )
                .unwrap(),
            StoredToken::SentBefore(first_id),
            "the store itself finds the key"
        );
    });
}

/// On PostgreSQL, a token form whose first sending is still in its
/// transaction: the second sending waits on the key's unique index, then
/// names the first one's token and stores nothing.
#[test]
fn token_form_key_waits_for_first_sending() {
    each_engine(|db| {
        if db.engine != Engine::Postgres {
            return;
        }
        cast(db);
        let jd = db.store().find_user("JD").unwrap().unwrap();
        let mut first = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
        let mut watcher = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
        let mut sending = first.transaction().unwrap();
        let first_id: i64 = sending
            .query_one(
                "INSERT INTO api_tokens (token_hash, user_id, label, created_at, submission)
                 VALUES ('premier', $1, 'synchro', now(), 'user-1:page-d') RETURNING id",
                &[&jd.id],
            )
            .unwrap()
            .get(0);

        let second = std::thread::scope(|scope| {
            let waiting = scope.spawn(|| {
                db.store()
                    .create_api_token(
                        jd.id,
                        &hash_secret("relais_z"),
                        "synchro",
                        Some("user-1:page-d"),
                    )
                    .unwrap()
            });
            wait_for_lock_waiter(&mut watcher);
            sending.commit().unwrap();
            waiting.join().unwrap()
        });

        assert_eq!(second, StoredToken::SentBefore(first_id));
        assert_eq!(db.store().list_api_tokens(None).unwrap().len(), 1);
    });
}

#[test]
fn revoke_errors_name_the_token() {
    each_engine(|db| {
        cast(db);
        token_for(db, "JD", "synchro");
        let id = token_id(db, "synchro");
        revoke_api_token(db.store(), id).unwrap();
        let before = db.store().list_api_tokens(None).unwrap();

        let again = revoke_api_token(db.store(), id).unwrap_err();
        let unknown = revoke_api_token(db.store(), id + 100).unwrap_err();

        assert_eq!(again.code(), "token_already_revoked");
        assert!(matches!(
            again,
            relais::service::ServiceError::Store(StoreError::Rejected { .. })
        ));
        let message = again.to_string();
        assert!(
            message.starts_with(&format!(
                "jeton n° {id} (« synchro », Jean DUPONT (JD)) : déjà révoqué le "
            )),
            "{message}"
        );
        assert!(message.contains("créez-lui un nouveau jeton"), "{message}");
        assert_eq!(unknown.code(), "unknown_token");
        assert_eq!(
            unknown.to_string(),
            format!(
                "jeton n° {} : aucun jeton d'API ne porte ce numéro ; rien n'a été modifié. Vérifiez le numéro avec « relais token list » ou l'écran Utilisateurs",
                id + 100
            )
        );
        assert_eq!(
            db.store().list_api_tokens(None).unwrap(),
            before,
            "nothing changed"
        );
    });
}

#[test]
fn token_use_recorded_once_a_minute() {
    each_engine(|db| {
        cast(db);
        let hash = hash_secret(&token_for(db, "JD", "synchro"));
        let start = Utc.with_ymd_and_hms(2030, 3, 4, 10, 0, 0).unwrap();
        let last_use = || db.store().list_api_tokens(None).unwrap()[0].last_used_at;

        assert!(db.store().record_api_token_use(&hash, start).unwrap());
        assert!(
            !db.store()
                .record_api_token_use(&hash, start + Duration::seconds(59))
                .unwrap()
        );
        assert_eq!(last_use(), Some(start));
        assert!(
            db.store()
                .record_api_token_use(&hash, start + Duration::seconds(61))
                .unwrap()
        );
        assert_eq!(last_use(), Some(start + Duration::seconds(61)));

        revoke_api_token(db.store(), token_id(db, "synchro")).unwrap();
        assert!(
            !db.store()
                .record_api_token_use(&hash, start + Duration::hours(1))
                .unwrap(),
            "a revoked token's use is not recorded"
        );
        assert!(
            !db.store()
                .record_api_token_use(&hash_secret("relais_unknown"), start)
                .unwrap()
        );
    });
}

#[test]
fn token_migration_revokes_inactive_users_tokens() {
    each_engine(|db| {
        cast(db);
        let secret = token_for(db, "JD", "ancien");
        // Puts the database back to its state before the revocation
        // migration: the user was deactivated then, which left the token
        // in place.
        let (version, drop_columns) = match db.engine {
            Engine::Sqlite => (
                4,
                "ALTER TABLE api_tokens DROP COLUMN revoked_at;
                 ALTER TABLE api_tokens DROP COLUMN last_used_at;",
            ),
            Engine::Postgres => (
                3,
                "ALTER TABLE api_tokens DROP COLUMN revoked_at, DROP COLUMN last_used_at;",
            ),
        };
        db.execute_raw(&format!(
            "DROP INDEX api_tokens_user;
             {drop_columns}
             UPDATE users SET active = false WHERE initials = 'JD';
             DELETE FROM schema_migrations WHERE version = {version};"
        ));

        let reopened = relais::storage::open_store(&db.location).expect("migrations apply");
        let jd = reopened.find_user("JD").unwrap().unwrap();
        reopened.set_user_active(jd.id, true).unwrap();

        assert!(
            reopened
                .api_token_user(&hash_secret(&secret))
                .unwrap()
                .is_none()
        );
        assert!(
            reopened.list_api_tokens(None).unwrap()[0]
                .revoked_at
                .is_some()
        );
    });
}

#[test]
fn token_cli_lists_and_revokes_in_french() {
    each_engine(|db| {
        cast(db);
        let created = relais(
            db,
            &["token", "create", "--user", "JD", "--label", "synchro CRM"],
        );
        assert!(created.status.success(), "{}", stderr(&created));
        let secret = stdout(&created).lines().last().unwrap().to_string();
        let id = token_id(db, "synchro CRM");

        let list = relais(db, &["token", "list"]);
        assert!(list.status.success(), "{}", stderr(&list));
        let text = stdout(&list);
        assert!(
            text.starts_with("Jetons d'API (les plus récents d'abord) :\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "  n° {id}  Jean DUPONT (JD)  « synchro CRM »  créé le "
            )),
            "{text}"
        );
        assert!(text.contains("jamais utilisé — actif"), "{text}");
        let created = text.find("créé le ").unwrap() + "créé le ".len();
        assert_eq!(text[created..].find(" à "), Some(10), "{text}");
        assert!(!text.contains(&secret));
        assert!(!text.contains(&hash_secret(&secret)));

        let revoked = relais(db, &["token", "revoke", &id.to_string()]);
        assert!(revoked.status.success(), "{}", stderr(&revoked));
        assert_eq!(
            stdout(&revoked),
            format!(
                "Jeton n° {id} (« synchro CRM ») de Jean DUPONT (JD) révoqué : l'API le refuse désormais.\n"
            )
        );

        let again = relais(db, &["token", "revoke", &id.to_string()]);
        assert!(!again.status.success());
        assert!(
            stderr(&again).starts_with(&format!(
                "relais : jeton n° {id} (« synchro CRM », Jean DUPONT (JD)) : déjà révoqué le "
            )),
            "{}",
            stderr(&again)
        );
        let unknown = relais(db, &["token", "revoke", "999"]);
        assert!(!unknown.status.success());
        assert!(
            stderr(&unknown).contains("jeton n° 999 : aucun jeton d'API ne porte ce numéro"),
            "{}",
            stderr(&unknown)
        );
        let not_a_number = relais(db, &["token", "revoke", "abc"]);
        assert!(!not_a_number.status.success());
        assert!(
            stderr(&not_a_number).contains("jeton : « abc » n'est pas un numéro de jeton"),
            "{}",
            stderr(&not_a_number)
        );

        let after = relais(db, &["token", "list", "--user", "JD"]);
        assert!(
            stdout(&after)
                .starts_with("Jetons d'API de Jean DUPONT (JD) (les plus récents d'abord) :"),
            "{}",
            stdout(&after)
        );
        assert!(
            stdout(&after).contains("— révoqué le "),
            "{}",
            stdout(&after)
        );
        let none = relais(db, &["token", "list", "--user", "BB"]);
        assert_eq!(
            stdout(&none),
            "Aucun jeton d'API pour Baptiste BONCHAMPS (BB).\n"
        );
    });
}

#[test]
fn token_cli_json_has_no_secret() {
    each_engine(|db| {
        cast(db);
        let secret = token_for(db, "JD", "synchro");

        let output = relais(db, &["token", "list", "--json"]);

        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(!text.contains(&secret));
        assert!(!text.contains(&hash_secret(&secret)));
        assert!(!text.contains("hash"), "{text}");
        let list: Value = serde_json::from_str(&text).unwrap();
        let token = &list[0];
        assert_eq!(token["label"], "synchro");
        assert_eq!(token["user"]["initials"], "JD");
        assert_eq!(token["revoked"], false);
        assert_eq!(token["revoked_at"], Value::Null);
        assert_eq!(token["last_used_at"], Value::Null);
        assert!(token["created_at"].is_string());
        assert!(token["id"].is_i64());
    });
}

#[test]
fn token_cli_deactivation_says_tokens_revoked() {
    each_engine(|db| {
        cast(db);
        let secret = token_for(db, "JD", "synchro");

        let output = relais(db, &["user", "deactivate", "JD"]);
        let reactivated = relais(db, &["user", "activate", "JD"]);

        assert!(output.status.success(), "{}", stderr(&output));
        assert!(reactivated.status.success(), "{}", stderr(&reactivated));
        assert!(
            stdout(&output).contains("ses jetons d'API révoqués définitivement"),
            "{}",
            stdout(&output)
        );
        assert!(
            db.store()
                .api_token_user(&hash_secret(&secret))
                .unwrap()
                .is_none()
        );
    });
}
