//! Importing users from a CRM's user list (columns `login`, `last_name`,
//! `first_name`, `full_name`, `active`, and optionally `email` and
//! `initials`), so that owners given by login resolve on contact import.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::domain::user::{NewUser, User, UserRole, fold_key, parse_email, parse_initials};
use crate::storage::Store;

use super::ServiceError;
use super::users::{UserForm, free_initials, identifier_clashes, signs_in_as};

#[derive(Clone, Debug, Default, Serialize)]
pub struct UserImportReport {
    /// Initials of the users created, in file order.
    pub created: Vec<String>,
    /// Lines left out, with the reason.
    pub skipped: Vec<SkippedUser>,
    /// Users created with the name of a user already there, by line.
    pub namesakes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SkippedUser {
    pub line: u64,
    pub login: String,
    pub reason: String,
}

fn normalise_header(header: &str) -> String {
    deunicode::deunicode(header.trim())
        .to_lowercase()
        .replace([' ', '-'], "_")
}

/// Splits « Mitchell Admin » into a first name and a last name.
fn split_full_name(full_name: &str) -> (String, String) {
    match full_name.trim().split_once(' ') {
        Some((first, last)) => (first.to_string(), last.trim().to_string()),
        None => (String::new(), full_name.trim().to_string()),
    }
}

/// A line of the users file that passed the checks it needs no other line
/// for.
struct Candidate {
    line: u64,
    login: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    given_initials: Option<String>,
    active: bool,
}

/// Decodes a users file as the contact import does: UTF-8, UTF-16 with
/// its byte-order mark, else Windows-1252 or Mac OS Roman, whichever reads
/// as French.
fn decode_users_file(bytes: Vec<u8>) -> String {
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(&bytes) {
        return encoding.decode_with_bom_removal(&bytes).0.into_owned();
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let bytes = error.into_bytes();
            crate::import::guess_legacy_encoding(&bytes)
                .decode_without_bom_handling(&bytes)
                .0
                .into_owned()
        }
    }
}

pub fn import_users(store: &dyn Store, path: &Path) -> Result<UserImportReport, ServiceError> {
    let bytes = std::fs::read(path).map_err(|error| ServiceError::file_unreadable(path, &error))?;
    let text = decode_users_file(bytes);
    let text = text.trim_start_matches('\u{feff}');
    // Excel writes a first line `sep=;` when asked to: it names the
    // separator, and the header comes after it.
    let first_line = text.lines().next().unwrap_or_default();
    let (text, lines_before, declared) =
        match crate::import::declared_separator(first_line.as_bytes()) {
            Some(separator) => (
                text.split_once('\n').map_or("", |(_, rest)| rest),
                1,
                Some(separator),
            ),
            None => (text, 0, None),
        };
    let header_line = text.lines().next().unwrap_or_default();
    let delimiter = declared.unwrap_or_else(|| {
        [b';', b'\t', b',']
            .into_iter()
            .max_by_key(|d| header_line.bytes().filter(|b| b == d).count())
            .unwrap_or(b',')
    });
    // Line of the record at a byte offset, the header being line 1,
    // counted from the line feeds up to it. After a Windows line end the
    // CSV reader places the record on the line feed of `\r\n`, and counts
    // one line too few.
    let line_feeds: Vec<usize> = text.match_indices('\n').map(|(at, _)| at).collect();
    let line_at = |byte: u64| {
        let before = line_feeds.partition_point(|&at| at <= byte as usize);
        lines_before + 1 + before as u64
    };

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|error| {
            ServiceError::invalid(
                "invalid_file",
                "file",
                format!("en-tête illisible : {error}"),
            )
        })?
        .iter()
        .map(normalise_header)
        .collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let login_column = column(&["login", "identifiant"]).ok_or_else(|| {
        ServiceError::invalid(
            "missing_column",
            "file",
            "fichier d'utilisateurs : colonne « identifiant » (ou « login ») absente ; l'en-tête doit nommer l'identifiant, puis le nom et le prénom (« nom » et « prénom », ou « last_name » et « first_name »), ou le nom complet (« nom complet » ou « full_name »)",
        )
    })?;
    let last_column = column(&["last_name", "nom"]);
    let first_column = column(&["first_name", "prenom"]);
    let full_column = column(&["full_name", "nom_complet"]);
    let active_column = column(&["active", "actif"]);
    let email_column = column(&["email", "e_mail", "courriel"]);
    let initials_column = column(&["initials", "initiales"]);

    // The users of the base and those created so far from the file, whose
    // initials, e-mails and logins derived initials avoid.
    let mut users = store.list_users()?;
    // The file is read whole first, so that initials derived for one line
    // also avoid the logins and e-mails of the lines after it. Otherwise MD
    // for Marc DUBOIS would turn away a later user whose login is md, and
    // contacts owned by « md » would go to Marc DUBOIS.
    let records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            ServiceError::invalid("invalid_file", "file", format!("ligne illisible : {error}"))
        })?;
    // Lines rejected on their own (no login, a login already in the base,
    // an invalid e-mail or initials) are set aside first, so that only the
    // lines that may still be created reserve their login and e-mail.
    let mut report = UserImportReport::default();
    let mut candidates = Vec::with_capacity(records.len());
    for record in &records {
        let line = record
            .position()
            .map_or(0, |position| line_at(position.byte()));
        let field = |index: Option<usize>| {
            index
                .and_then(|i| record.get(i))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let login = field(Some(login_column));
        // The report quotes the login, so it shows no control character.
        let shown_login: String = login
            .chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect();
        let skip = |reason: String| SkippedUser {
            line,
            login: shown_login.clone(),
            reason,
        };
        // A control character (a NUL from a broken export) has no place in
        // a user's names, and PostgreSQL cannot store a NUL.
        let bad_cell = record.iter().enumerate().find_map(|(index, value)| {
            crate::import::check_characters(value)
                .err()
                .map(|error| (index, error))
        });
        if let Some((index, error)) = bad_cell {
            let header = headers.get(index).map_or("?", String::as_str);
            report
                .skipped
                .push(skip(format!("colonne « {header} » : {error}")));
            continue;
        }
        if login.is_empty() {
            report.skipped.push(skip(
                "identifiant vide ; chaque utilisateur du fichier a besoin d'un identifiant".into(),
            ));
            continue;
        }
        if let Some(existing) = store.find_user(&login)? {
            // The file creates users and changes none. A line that requests
            // a deactivation gets the command for it, so it does not look
            // applied.
            let deactivation = match parse_active(&field(active_column)) {
                Some(false) if existing.active => format!(
                    " ; le fichier ne modifie pas les utilisateurs existants : pour désactiver \
                     ce compte, lancez « relais user deactivate {} »",
                    existing.initials
                ),
                _ => String::new(),
            };
            report.skipped.push(skip(format!(
                "« {login} » désigne déjà {} ; les contacts dont le responsable est « {login} » \
                 iront à ce compte{deactivation}",
                existing.display_name()
            )));
            continue;
        }
        let email = match parse_email(&field(email_column)) {
            Ok(email) => email,
            Err(error) => {
                report.skipped.push(skip(error.to_string()));
                continue;
            }
        };
        let given_initials = match field(initials_column) {
            given if given.is_empty() => None,
            given => match parse_initials(&given) {
                Ok(initials) => Some(initials),
                Err(error) => {
                    report.skipped.push(skip(error.to_string()));
                    continue;
                }
            },
        };
        let (mut first_name, mut last_name) = (field(first_column), field(last_column));
        if first_name.is_empty() && last_name.is_empty() {
            (first_name, last_name) = split_full_name(&field(full_column));
        }
        let too_long = [
            ("prénom", &first_name),
            ("nom", &last_name),
            ("identifiant", &login),
        ]
        .into_iter()
        .find_map(|(label, value)| super::users::too_long(label, value));
        if let Some(message) = too_long {
            report.skipped.push(skip(message));
            continue;
        }
        let active_text = field(active_column);
        let Some(active) = parse_active(&active_text) else {
            report.skipped.push(skip(format!(
                "actif : « {active_text} » n'est pas une valeur reconnue ; écrivez oui ou non \
                 (ou true/false, vrai/faux, 1/0), ou laissez la cellule vide pour un compte actif"
            )));
            continue;
        };
        candidates.push(Candidate {
            line,
            login,
            first_name,
            last_name,
            email,
            given_initials,
            active,
        });
    }

    let mut file_names: HashMap<String, u64> = HashMap::new();
    for candidate in &candidates {
        for value in [Some(&candidate.login), candidate.email.as_ref()]
            .into_iter()
            .flatten()
        {
            file_names
                .entry(value.to_lowercase())
                .or_insert(candidate.line);
        }
    }
    // Returns the line of another row of the file whose login or e-mail is
    // `candidate`.
    let other_line_named = |candidate: &str, own_line: u64| {
        file_names
            .get(&candidate.to_lowercase())
            .copied()
            .filter(|line| *line != own_line)
    };

    for candidate in candidates {
        let Candidate {
            line,
            login,
            first_name,
            last_name,
            email,
            given_initials,
            active,
        } = candidate;
        let skip = |reason: String| SkippedUser {
            line,
            login: login.clone(),
            reason,
        };
        let initials = match given_initials {
            Some(initials) => {
                if let Some(other) = other_line_named(&initials, line) {
                    report.skipped.push(skip(format!(
                        "initiales : « {initials} » est l'identifiant ou l'e-mail de la ligne {other}, et la connexion accepte l'un comme l'autre ; choisissez d'autres initiales"
                    )));
                    continue;
                }
                initials
            }
            None => free_initials(
                &|candidate| {
                    signs_in_as(&users, candidate) || other_line_named(candidate, line).is_some()
                },
                &first_name,
                &last_name,
                &login,
            ),
        };
        let identifiers = UserForm {
            initials: initials.clone(),
            email: email.clone().unwrap_or_default(),
            login: login.clone(),
            ..UserForm::default()
        };
        // Two CRMs merged into one file often share a login such as
        // `admin`. Contacts owned by that login go to the user who has it,
        // so the report names that user.
        let holder = users.iter().find(|user| {
            user.login
                .as_deref()
                .is_some_and(|other| fold_key(other) == fold_key(&login))
        });
        if let Some(holder) = holder {
            report.skipped.push(skip(format!(
                "identifiant : « {login} » est déjà celui {} ; les contacts dont le \
                 responsable est « {login} » iront à ce compte. S'il s'agit d'une autre \
                 personne, donnez-lui un autre identifiant dans le fichier",
                crate::french::de(&holder.display_name())
            )));
            continue;
        }
        if let Some((_, message)) = identifier_clashes(&users, &identifiers).into_iter().next() {
            report.skipped.push(skip(message));
            continue;
        }
        // Contact files often name owners by their full name, and a name
        // two users share is then refused as ambiguous.
        // Names compare as the contact import compares them: without case,
        // accents or word order.
        let name_key =
            |first: &str, last: &str| super::import::name_key(&format!("{first} {last}"));
        let full_name = name_key(&first_name, &last_name);
        let namesake = users
            .iter()
            .find(|user| name_key(&user.first_name, &user.last_name) == full_name)
            .map(User::display_name);
        let user = store.create_user(&NewUser {
            initials,
            login: Some(login.clone()),
            first_name,
            last_name: if last_name.is_empty() {
                login.clone()
            } else {
                last_name
            },
            email,
            role: UserRole::User,
            active,
            password_hash: None,
        });
        match user {
            Ok(user) => {
                if let Some(namesake) = namesake {
                    report.namesakes.push(format!(
                        "ligne {line} : {} porte le même nom que {namesake} ; une importation \
                         de contacts qui désigne ce responsable par son nom sera refusée comme \
                         ambiguë : désignez-le par ses initiales ou son e-mail",
                        user.display_name()
                    ));
                }
                report.created.push(user.initials.clone());
                users.push(user);
            }
            Err(error) => report.skipped.push(skip(error.to_string())),
        }
    }
    report.skipped.sort_by_key(|skipped| skipped.line);
    tracing::info!(
        users.created = report.created.len(),
        users.skipped = report.skipped.len(),
        "users imported"
    );
    Ok(report)
}

/// Reads the `active` cell of a users file, ignoring case: empty means
/// active, and the yes and no of French, English, Excel (`VRAI`, `FAUX`)
/// and Odoo (`True`, `False`) are understood. `None` for anything else,
/// which is reported rather than guessed.
fn parse_active(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "" | "1" | "true" | "vrai" | "oui" | "yes" | "o" | "y" | "actif" | "active" => Some(true),
        "0" | "false" | "faux" | "non" | "no" | "n" | "inactif" | "inactive" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_active;

    #[test]
    fn active_cell_read_in_any_case() {
        for value in ["", "1", "True", "VRAI", "oui", "Actif"] {
            assert_eq!(parse_active(value), Some(true), "{value}");
        }
        for value in ["0", "False", "FALSE", "FAUX", "Non", "n", "inactif"] {
            assert_eq!(parse_active(value), Some(false), "{value}");
        }
        assert_eq!(parse_active("peut-être"), None);
    }
}
