//! One handler per command.

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::batch::Actor;
use crate::domain::country::CountryCode;
use crate::service::demo::fill_demo;
use crate::service::export::{ExistingFile, export_to_file};
use crate::service::import::{ImportRequest, import_file};
use crate::service::prefix_rows::typed_prefix_counts;
use crate::service::reassign::{
    RunContextInput, apply_region_reassignment, apply_user_reassignment, parse_batch_id,
    prepare_region_reassignment, prepare_user_reassignment, preview_region_reassignment,
    preview_undo, preview_user_reassignment, region_form_problems, undo_batch, user_form_problems,
};
use crate::service::users::{UserForm, add_user, set_active, set_password};
use crate::service::{ServiceError, tokens};
use crate::storage::{ExportSelection, Store, open_store};

use super::args::{Cli, Command, TokenCommand, UserCommand};
use super::output;

pub fn run(cli: Cli) -> Result<(), ServiceError> {
    if let Command::Serve(args) = &cli.command {
        // The socket comes first, so that a wrong --bind leaves no base.
        let listener = crate::web::bind(&args.bind)?;
        let store = open_store(&cli.db)?;
        return crate::web::serve(
            store,
            listener,
            &crate::web::ServeOptions {
                bind: args.bind.clone(),
                demo: args.demo,
                secure_cookies: args.secure_cookies,
                behind_proxy: args.behind_proxy,
            },
        );
    }
    let store = open_store(&cli.db)?;
    let as_user = cli.as_user.clone();
    let actor = || resolve_actor(store.as_ref(), as_user.as_deref());

    match cli.command {
        Command::Init => {
            println!("Base de données prête ({}).", store.engine());
            Ok(())
        }
        Command::User(command) => {
            // Managing users is for administrators on the screens, so an
            // --as naming another user is refused here too.
            if !matches!(command, UserCommand::List(_)) {
                actor()?;
            }
            user(store.as_ref(), command)
        }
        Command::Import(args) => {
            let country = parse_country("--default-country", &args.default_country)?;
            let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
            let bar = progress_bar(size, !args.json, "{bar:40} {bytes}/{total_bytes} ({eta})");
            let report = import_file(
                store.as_ref(),
                &args.file,
                &ImportRequest {
                    default_country: country,
                    create_missing_users: args.create_missing_users,
                    actor: actor()?,
                },
                &mut |bytes| bar.set_position(bytes),
            );
            bar.finish_and_clear();
            let report = report?;
            if args.json {
                output::print_json(&report);
            } else {
                output::print_import(&report);
            }
            // A file with a header and no row is most likely a failed
            // export: a script must see it.
            if report.imported + report.updated + report.unchanged == 0
                && report.rejected.is_empty()
            {
                return Err(ServiceError::invalid(
                    "no_data_row",
                    "file",
                    format!(
                        "fichier « {} » : aucune ligne de contact après l'en-tête ; rien n'a été importé, vérifiez que c'est le bon fichier",
                        args.file.display()
                    ),
                ));
            }
            // A script must see that nothing came in, although the file
            // could be read.
            if report.imported + report.updated + report.unchanged == 0
                && !report.rejected.is_empty()
            {
                return Err(ServiceError::invalid(
                    "no_row_imported",
                    "file",
                    format!(
                        "aucune ligne importée : {} d'après le rapport et relancez l'import",
                        if report.rejected.len() == 1 {
                            "la seule ligne du fichier a été rejetée ; corrigez-la".to_string()
                        } else {
                            format!(
                                "les {} lignes du fichier ont été rejetées ; corrigez-les",
                                crate::french::count(report.rejected.len() as u64)
                            )
                        }
                    ),
                ));
            }
            Ok(())
        }
        Command::Export(args) => {
            // Excel would refuse a CSV file named as a workbook.
            let workbook = args
                .file
                .extension()
                .and_then(|extension| extension.to_str())
                .map(str::to_ascii_lowercase)
                .filter(|extension| ["xlsx", "xls", "xlsm", "ods"].contains(&extension.as_str()));
            if let Some(extension) = workbook {
                return Err(ServiceError::invalid(
                    "export_not_csv",
                    "file",
                    format!(
                        "fichier « {} » : l'export est un fichier CSV, qu'Excel ouvrirait mal \
                         sous l'extension .{extension} ; nommez-le en .csv, Excel l'ouvre tel \
                         quel",
                        args.file.display()
                    ),
                ));
            }
            let mut import_batch = false;
            let selection = match &args.batch {
                Some(batch) => {
                    let id = parse_batch_id(batch)?;
                    let Some(found) = store.batch(id)? else {
                        return Err(ServiceError::invalid(
                            "unknown_batch",
                            "batch",
                            format!(
                                "--batch : aucune opération n° {id} ; la liste est donnée par « relais batches »"
                            ),
                        ));
                    };
                    import_batch = found.kind == crate::domain::batch::BatchKind::Import;
                    ExportSelection::Batch(id)
                }
                None => match args.filters() {
                    Some(query) => {
                        crate::service::contact_query::export_selection(store.as_ref(), &query)?
                    }
                    None => ExportSelection::All,
                },
            };
            // `/dev/stdout` may stand for a file opened by the shell, which
            // renaming a file over it would replace.
            if args.file.as_os_str() == "-" || args.file.as_os_str() == "/dev/stdout" {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                crate::service::export::write_csv(store.as_ref(), &selection, &mut lock)?;
                return Ok(());
            }
            let replaced = args.replace && args.file.is_file();
            let existing = if args.replace {
                ExistingFile::Replace
            } else {
                ExistingFile::Refuse
            };
            let written = export_to_file(store.as_ref(), &selection, &args.file, existing)?;
            println!(
                "{} dans « {} »{}.",
                crate::french::plural(written, "contact exporté", "contacts exportés"),
                args.file.display(),
                if replaced {
                    ", qui existait déjà et a été remplacé"
                } else {
                    ""
                }
            );
            if import_batch {
                println!("{}", crate::french::IMPORT_CONTACTS_NOTE);
            }
            Ok(())
        }
        Command::Reassign(args) => {
            let prepared = prepare_user_reassignment(store.as_ref(), &args.from, &args.to)
                .map_err(|error| {
                    with_every_problem(
                        error,
                        user_form_problems(store.as_ref(), &args.from, &args.to),
                    )
                })?;
            if args.dry_run {
                // A dry run checks --as as the run would, so that a
                // simulation never passes where the run then fails.
                actor()?;
                let outcome = preview_user_reassignment(store.as_ref(), &prepared)?;
                output::print_user_reassignment(&prepared, &outcome, None, args.json);
            } else {
                let run = RunContextInput {
                    actor: actor()?,
                    idempotency_key: args.idempotency_key,
                };
                let spinner = spinner("Réaffectation en cours…", !args.json);
                let applied = apply_user_reassignment(store.as_ref(), &prepared, run);
                spinner.finish_and_clear();
                let applied = applied?;
                output::print_user_reassignment(
                    &prepared,
                    &applied.outcome,
                    Some(&applied),
                    args.json,
                );
            }
            Ok(())
        }
        Command::ReassignRegion(args) => {
            let prepared = prepare_region_reassignment(
                store.as_ref(),
                &args.to,
                &args.country,
                &args.postal,
                Some(&args.role),
            )
            .map_err(|error| {
                let problems = region_form_problems(
                    store.as_ref(),
                    Some(&args.to),
                    &args.country,
                    &args.postal,
                    Some(&args.role),
                );
                with_every_problem(error, problems)
            })?;
            if args.dry_run {
                actor()?;
                let preview = preview_region_reassignment(store.as_ref(), &prepared)?;
                let typed_prefixes = typed_prefix_counts(&prepared, &preview, |departement| {
                    Ok(preview_region_reassignment(store.as_ref(), departement)?
                        .outcome
                        .matched)
                })?;
                output::print_region_preview(&prepared, &preview, &typed_prefixes, args.json);
            } else {
                let run = RunContextInput {
                    actor: actor()?,
                    idempotency_key: args.idempotency_key,
                };
                let spinner = spinner("Réaffectation par région en cours…", !args.json);
                let applied = apply_region_reassignment(store.as_ref(), &prepared, run);
                spinner.finish_and_clear();
                let applied = applied?;
                output::print_region_applied(&prepared, &applied, args.json);
            }
            Ok(())
        }
        Command::History(args) => {
            let contact = store.find_contact(&args.contact)?.ok_or_else(|| {
                ServiceError::invalid(
                    "unknown_contact",
                    "contact",
                    format!(
                        "contact : aucun contact n'a le numéro ou l'identifiant externe « {} »",
                        args.contact.trim()
                    ),
                )
            })?;
            let entries = store.contact_history(contact.id)?;
            let created_by = store.creating_import(contact.id)?;
            output::print_history(&contact, &entries, created_by, args.json);
            // A number names a contact first; another contact may have
            // that number as its external id, as CRMs number their records.
            let key = args.contact.trim();
            if !args.json && key.parse::<i64>().is_ok_and(|id| id == contact.id) {
                let prefixed = format!("{}{key}", crate::storage::EXTERNAL_ID_PREFIX);
                if let Some(other) = store.find_contact(&prefixed)?
                    && other.id != contact.id
                    && other.external_id.as_deref() == Some(key)
                {
                    eprintln!(
                        "Attention : « {key} » est aussi l'identifiant externe du contact n° {} ({}) ; relais history {prefixed} affiche le sien.",
                        other.id,
                        other.display_name()
                    );
                }
            }
            Ok(())
        }
        Command::Batches(args) => {
            let batches = store.list_batches(args.limit, 0)?;
            let users = crate::french::UserNames::new(&store.list_users()?);
            let chains = crate::service::reassign::undo_chains(store.as_ref(), &batches)?;
            output::print_batches(&batches, &users, &chains, args.json);
            Ok(())
        }
        Command::Undo(args) => {
            let batch = parse_batch_id(&args.batch)?;
            // Numbers skip values (PostgreSQL does not reuse those of rolled
            // back operations), so a missing one points to the list.
            let point_to_list = |error: ServiceError| {
                if error.code() == "unknown_batch" {
                    ServiceError::invalid(
                        "unknown_batch",
                        "batch",
                        format!(
                            "aucune opération n° {batch} ; la liste est donnée par « relais batches »"
                        ),
                    )
                } else {
                    error
                }
            };
            if args.dry_run {
                actor()?;
                let preview = preview_undo(store.as_ref(), batch).map_err(point_to_list)?;
                output::print_undo_preview(&preview, args.json);
                return Ok(());
            }
            let run = RunContextInput {
                actor: actor()?,
                idempotency_key: args.idempotency_key,
            };
            let spinner = spinner("Annulation en cours…", !args.json);
            let result = undo_batch(store.as_ref(), batch, run);
            spinner.finish_and_clear();
            let result = result.map_err(point_to_list)?;
            output::print_undo(&result, args.json);
            Ok(())
        }
        Command::Demo(args) => {
            let bar = progress_bar(
                args.contacts,
                !args.json,
                "{bar:40} {pos}/{len} contacts ({eta})",
            );
            let report = fill_demo(store.as_ref(), args.contacts, &mut |done| {
                bar.set_position(done)
            });
            bar.finish_and_clear();
            let report = report?;
            if args.json {
                output::print_json(&report);
            } else {
                output::print_demo(&report, &cli.db);
            }
            Ok(())
        }
        Command::Serve(_) => unreachable!("relais serve returns before the store opens here"),
        Command::Token(TokenCommand::Create(args)) => {
            actor()?;
            let user = find_user(store.as_ref(), &args.user)?;
            let token = tokens::create_api_token(store.as_ref(), &user, &args.label)?;
            println!(
                "Jeton d'API créé pour {}. Conservez-le : il ne sera plus affiché.",
                user.display_name()
            );
            println!("{token}");
            Ok(())
        }
        Command::Token(TokenCommand::List(args)) => {
            let user = match &args.user {
                Some(key) => Some(find_user(store.as_ref(), key)?),
                None => None,
            };
            let tokens = tokens::list_api_tokens(store.as_ref(), user.as_ref())?;
            output::print_tokens(&tokens, user.as_ref(), args.json);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke(args)) => {
            actor()?;
            let id = tokens::parse_token_id(&args.token)?;
            let token = tokens::revoke_api_token(store.as_ref(), id)?;
            output::print_token_revoked(&token, args.json);
            Ok(())
        }
    }
}

fn user(store: &dyn Store, command: UserCommand) -> Result<(), ServiceError> {
    match command {
        UserCommand::Add(args) => {
            let password = match args.password {
                Some(password) => Some(password),
                None if std::io::stdin().is_terminal() => prompt_password()?,
                None => None,
            };
            let without_password = password.is_none();
            let user = add_user(
                store,
                &UserForm {
                    initials: args.initials,
                    first_name: args.first_name,
                    last_name: args.last_name,
                    email: args.email,
                    login: args.login,
                    admin: args.admin,
                    password,
                },
            )?;
            if args.json {
                output::print_json(&user);
            } else {
                println!("Utilisateur créé : {}.", user.display_name());
            }
            // A user without a password owns contacts but cannot log in to
            // the screens, which an administrator created this way would not expect.
            if without_password {
                eprintln!(
                    "Note : aucun mot de passe n'est défini, donc ce compte ne peut pas se connecter aux écrans ; donnez-lui-en un avec « relais user password {} » (hors d'un terminal, ajoutez --password).",
                    user.initials
                );
            }
            Ok(())
        }
        UserCommand::List(flag) => {
            let users = store.list_users()?;
            output::print_users(&users, flag.json);
            Ok(())
        }
        UserCommand::Deactivate(key) => {
            if let Some(user) = store.find_user(&key.user)?
                && !user.active
            {
                println!(
                    "Compte déjà désactivé : {} ; rien n'a été modifié.",
                    user.display_name()
                );
                return Ok(());
            }
            let user = set_active(store, &key.user, false)?;
            println!(
                "Utilisateur désactivé : {}. Ses contacts et son historique sont conservés ; ses sessions sont fermées et ses jetons d'API révoqués définitivement.",
                user.display_name()
            );
            Ok(())
        }
        UserCommand::Role(args) => {
            let role = crate::service::users::parse_role(&args.role)?;
            if let Some(user) = store.find_user(&args.user)?
                && user.role == role
            {
                println!(
                    "{} a déjà le rôle {} ; rien n'a été modifié.",
                    user.display_name(),
                    role_fr(role)
                );
                return Ok(());
            }
            let user = crate::service::users::set_role(store, &args.user, role)?;
            let note = if user.active {
                ""
            } else {
                " ; son compte reste désactivé (relais user activate)"
            };
            println!(
                "{} a désormais le rôle {}{note}.",
                user.display_name(),
                role_fr(role)
            );
            Ok(())
        }
        UserCommand::Activate(key) => {
            if let Some(user) = store.find_user(&key.user)?
                && user.active
            {
                println!(
                    "Compte déjà actif : {} ; rien n'a été modifié.",
                    user.display_name()
                );
                return Ok(());
            }
            let user = set_active(store, &key.user, true)?;
            println!("Utilisateur réactivé : {}.", user.display_name());
            Ok(())
        }
        UserCommand::Password(args) => {
            let user = find_user(store, &args.user)?;
            let password = match args.password {
                Some(password) => password,
                None => prompt_password()?.ok_or_else(|| {
                    ServiceError::invalid(
                        "missing_password",
                        "password",
                        "mot de passe : indiquez-le avec --password, ou lancez la commande dans un terminal pour le saisir",
                    )
                })?,
            };
            set_password(store, &user, &password)?;
            println!(
                "Mot de passe {} enregistré ; ses sessions ouvertes sont fermées.",
                crate::french::de(&user.display_name())
            );
            Ok(())
        }
        UserCommand::Import(args) => {
            let report = crate::service::users_file::import_users(store, &args.file)?;
            if args.json {
                output::print_json(&report);
            } else {
                output::print_user_import(&report);
            }
            Ok(())
        }
    }
}

/// Asks for a password twice on the terminal; `None` when left empty.
fn prompt_password() -> Result<Option<String>, ServiceError> {
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt).map_err(|error| {
            ServiceError::invalid(
                "missing_password",
                "password",
                format!("mot de passe : lecture impossible ({error})"),
            )
        })
    };
    let first = read("Mot de passe (laisser vide pour ne pas en définir) : ")?;
    if first.is_empty() {
        return Ok(None);
    }
    let second = read("Confirmez le mot de passe : ")?;
    if first != second {
        return Err(ServiceError::invalid(
            "password_mismatch",
            "password",
            "mot de passe : les deux saisies diffèrent ; recommencez",
        ));
    }
    Ok(Some(first))
}

fn find_user(store: &dyn Store, key: &str) -> Result<crate::domain::user::User, ServiceError> {
    store.find_user(key)?.ok_or_else(|| {
        ServiceError::invalid(
            "unknown_user",
            "user",
            format!("utilisateur : aucun utilisateur « {} » ; vérifiez ses initiales (relais user list)", key.trim()),
        )
    })
}

fn parse_country(flag: &'static str, value: &str) -> Result<CountryCode, ServiceError> {
    match CountryCode::parse(value) {
        Ok(Some(code)) => Ok(code),
        Ok(None) => Err(ServiceError::invalid(
            "missing_country",
            "country",
            format!("{flag} : indiquez un pays, par exemple FRA"),
        )),
        Err(error) => Err(ServiceError::invalid(
            "unknown_country",
            "country",
            format!("{flag} : {error}"),
        )),
    }
}

/// Finds the actor of a command that changes data: the user named by
/// `--as` (or `RELAIS_USER`), who must be an active administrator, else a
/// system actor recording the operating-system account.
fn resolve_actor(store: &dyn Store, as_user: Option<&str>) -> Result<Actor, ServiceError> {
    let Some(key) = as_user.map(str::trim).filter(|key| !key.is_empty()) else {
        return Ok(Actor::system(&os_account()));
    };
    let user = store.find_user(key)?.ok_or_else(|| {
        ServiceError::invalid(
            "unknown_user",
            "as",
            format!("--as (ou RELAIS_USER) : aucun utilisateur « {key} » ; indiquez les initiales d'un utilisateur existant"),
        )
    })?;
    if !user.active {
        return Err(ServiceError::invalid(
            "inactive_user",
            "as",
            format!(
                "--as : le compte {} est désactivé ; agissez au nom d'un utilisateur actif",
                crate::french::de(&user.display_name())
            ),
        ));
    }
    if user.role != crate::domain::user::UserRole::Admin {
        return Err(ServiceError::invalid(
            "forbidden",
            "as",
            format!(
                "--as : {} n'a pas le rôle d'administrateur ; les opérations de masse, les importations et la gestion des utilisateurs et des jetons sont réservées aux administrateurs",
                user.display_name()
            ),
        ));
    }
    Ok(Actor::user(
        user.id,
        &user.first_name,
        &user.last_name,
        &user.initials,
    ))
}

/// Returns the operating-system account running the command: `USER`, else
/// the name of the real user id.
fn os_account() -> String {
    if let Some(name) = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .filter_map(|key| std::env::var(key).ok())
        .find(|name| !name.trim().is_empty())
    {
        return name;
    }
    user_id_name()
}

#[cfg(unix)]
fn user_id_name() -> String {
    // SAFETY: getpwuid returns null or a pointer to a passwd record in
    // static storage. Its name is copied at once, on the CLI's only thread,
    // before any other call could overwrite it.
    unsafe {
        let uid = libc::getuid();
        let record = libc::getpwuid(uid);
        if record.is_null() || (*record).pw_name.is_null() {
            format!("uid {uid}")
        } else {
            std::ffi::CStr::from_ptr((*record).pw_name)
                .to_string_lossy()
                .into_owned()
        }
    }
}

#[cfg(not(unix))]
fn user_id_name() -> String {
    "inconnu".to_string()
}

/// Creates a spinner on stderr for a run whose length is unknown, drawn
/// only when stderr is a terminal.
fn spinner(message: &'static str, visible: bool) -> ProgressBar {
    if !(visible && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    // The elapsed time shows that a long run, or one waiting for another
    // operation on the same contacts, is still alive.
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed_precise}") {
        spinner.set_style(style);
    }
    spinner.set_message(message);
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

/// Creates a progress bar on stderr, drawn only when stderr is a terminal.
fn progress_bar(length: u64, visible: bool, template: &str) -> Arc<ProgressBar> {
    let bar = if visible && std::io::stderr().is_terminal() {
        ProgressBar::new(length)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Arc::new(bar)
}

/// Names a role after « le rôle ».
fn role_fr(role: crate::domain::user::UserRole) -> &'static str {
    match role {
        crate::domain::user::UserRole::Admin => "administrateur",
        crate::domain::user::UserRole::User => "utilisateur",
    }
}

/// Adds to the error a reassignment stopped at the problems of its other
/// options, one per option, so that one correction fixes them all, as the
/// API lists them. Errors of the base are returned as they are.
fn with_every_problem(
    error: ServiceError,
    problems: Result<Vec<ServiceError>, ServiceError>,
) -> ServiceError {
    let (ServiceError::Invalid { code, field, .. }, Ok(problems)) = (&error, problems) else {
        return error;
    };
    let mut fields = vec![*field];
    let mut lines = vec![error.to_string()];
    for problem in problems {
        if let Some(other) = problem.field()
            && !fields.contains(&other)
        {
            fields.push(other);
            lines.push(problem.to_string());
        }
    }
    if lines.len() == 1 {
        return error;
    }
    ServiceError::invalid(code, field, lines.join("\n  "))
}
