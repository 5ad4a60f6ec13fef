//! Importing a contact file: read and check each row, resolve owners to
//! users, write everything in one transaction.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use serde::Serialize;
use serde_json::json;

use crate::domain::batch::{Actor, BatchId};
use crate::domain::contact::ContactPart;
use crate::domain::country::CountryCode;
use crate::domain::user::{NewUser, User, UserId, UserRole};
use crate::import::{
    ContactRows, Field, ImportError, ImportOptions, RowOutcome, RowRejection, read_contacts,
};
use crate::storage::{
    ContactWrite, ImportCounts, ImportSession, KeyConflict, KeyConflictKind, PacificMismatch, Store,
};

use super::ServiceError;
use super::users::free_initials;

/// Rows written per call to the storage engine.
const CHUNK_ROWS: usize = 2_000;

#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub default_country: CountryCode,
    pub create_missing_users: bool,
    pub actor: Actor,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// The operation recorded, or `None` when the import changed nothing:
    /// it created no contact and no user and updated none, so it was
    /// rolled back, as a reassignment that matches nothing records no
    /// operation.
    pub batch_id: Option<BatchId>,
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub history_entries: u64,
    pub rejected: Vec<RowRejection>,
    /// Initials of the users created for unknown owners.
    pub created_users: Vec<String>,
    /// Headers of the file that match no known column.
    pub ignored_columns: Vec<String>,
    /// Warnings in French about the file as a whole.
    pub warnings: Vec<String>,
}

/// Warning for a file with neither `N° Relais` nor external id column.
pub const NO_KEY_COLUMN_WARNING: &str = "le fichier n'a ni colonne « N° Relais » ni colonne \
    d'identifiant externe : chaque ligne crée un nouveau contact, et réimporter ce fichier \
    dupliquerait tous ses contacts. Pour mettre à jour des contacts existants, gardez la \
    colonne « N° Relais » de l'export, ou ajoutez une colonne « Identifiant externe » \
    avec l'identifiant de votre CRM.";

/// Owners as found in files: initials, login or e-mail, in any case.
struct OwnerIndex {
    by_key: HashMap<String, UserId>,
    /// Users by lowercase initials only, for owners in display form.
    by_initials: HashMap<String, UserId>,
    initials: std::collections::HashSet<String>,
    /// Display name and name key (see `name_key`) of each user.
    names: HashMap<UserId, (String, String)>,
    /// Name keys of each user's last name and first name alone.
    last_names: HashMap<UserId, String>,
    first_names: HashMap<UserId, String>,
    /// Users of the base who are deactivated.
    inactive: std::collections::HashSet<UserId>,
    /// Lowercase logins and initials of users of the base that are also
    /// other users' last or first name.
    shadowed: HashMap<String, ShadowedKey>,
}

/// A login or initials of one user that is also the last name, or else
/// the first name, of other users: `martin`, login of Alice MARTIN and
/// last name of Bob MARTIN. A cell with it goes to the first user.
struct ShadowedKey {
    user: UserId,
    /// The login or initials as the user has them.
    key: String,
    /// « l'identifiant » or « les initiales ».
    key_kind: &'static str,
    /// « nom de famille » or « prénom ».
    name_kind: &'static str,
    /// Display names of the other users, by id.
    others: Vec<String>,
}

impl OwnerIndex {
    fn new(users: &[User]) -> OwnerIndex {
        let mut index = OwnerIndex {
            by_key: HashMap::new(),
            by_initials: HashMap::new(),
            initials: Default::default(),
            names: HashMap::new(),
            last_names: HashMap::new(),
            first_names: HashMap::new(),
            inactive: users
                .iter()
                .filter(|user| !user.active)
                .map(|user| user.id)
                .collect(),
            shadowed: HashMap::new(),
        };
        // Initials win over logins and e-mails, as in `Store::find_user`,
        // so they are inserted last.
        for user in users {
            if let Some(email) = &user.email {
                index.by_key.insert(email.to_lowercase(), user.id);
            }
        }
        for user in users {
            if let Some(login) = &user.login {
                index.by_key.insert(login.to_lowercase(), user.id);
            }
        }
        for user in users {
            index.add_initials(user);
        }
        index.shadowed = shadowed_keys(users, &index.by_key);
        index
    }

    fn add_initials(&mut self, user: &User) {
        self.by_key.insert(user.initials.to_lowercase(), user.id);
        self.by_initials
            .insert(user.initials.to_lowercase(), user.id);
        self.initials.insert(user.initials.clone());
        let full_name = format!("{} {}", user.first_name, user.last_name);
        self.names
            .insert(user.id, (user.display_name(), name_key(&full_name)));
        self.last_names.insert(user.id, name_key(&user.last_name));
        self.first_names.insert(user.id, name_key(&user.first_name));
    }

    /// Adds a user this import created, so that later rows naming it
    /// otherwise (`DUPONT Jean` after `Jean Dupont`), or by a name it
    /// shares (`Dupont` alone), find it or are refused as for a user of
    /// the base. An owner in display form names a user of the base before
    /// the import, so such a user is left out of `by_initials`, whatever
    /// the order of the rows.
    fn add_created(&mut self, user: &User) {
        self.by_key.insert(user.initials.to_lowercase(), user.id);
        self.initials.insert(user.initials.clone());
        let full_name = format!("{} {}", user.first_name, user.last_name);
        self.names
            .insert(user.id, (user.display_name(), name_key(&full_name)));
        self.last_names.insert(user.id, name_key(&user.last_name));
        self.first_names.insert(user.id, name_key(&user.first_name));
    }

    fn get(&self, reference: &str) -> Option<UserId> {
        self.by_key.get(&reference.trim().to_lowercase()).copied()
    }
}

struct Resolver<'a> {
    index: OwnerIndex,
    create_missing: bool,
    created: Vec<String>,
    /// Owner cells in display form whose name is not their user's, by
    /// cell text, with their first line and number of rows.
    name_mismatches: std::collections::BTreeMap<String, OwnerRows>,
    /// Owner cells holding a login or initials that are also other users'
    /// name (see `ShadowedKey`), by lowercase cell text, so that `curie`
    /// and `Curie` make one warning.
    shadowed_cells: std::collections::BTreeMap<String, OwnerRows>,
    /// Rows that give contacts to a deactivated user, by user.
    inactive_owners: std::collections::BTreeMap<UserId, OwnerRows>,
    /// Warnings about French postal codes La Poste does not list or that
    /// belong to another Pacific collectivity than the address's, up to
    /// `LISTED_DOUBTFUL_POSTAL_CODES`, and the number of the others.
    doubtful_postal_codes: (Vec<String>, u64),
    session: &'a mut dyn ImportSession,
}

/// Doubtful postal codes an import report lists one by one.
const LISTED_DOUBTFUL_POSTAL_CODES: usize = 10;

/// Owner cells with another name than their user's that an import report
/// lists one by one.
const LISTED_NAME_MISMATCHES: usize = 20;

/// Rows of the file that a warning is about, all naming one owner: an
/// owner cell `Prénom NOM (XY)` whose name is not the name of user XY, or
/// a deactivated user. `user` is the user's display name.
struct OwnerRows {
    first_line: u64,
    last_line: u64,
    rows: u64,
    user: String,
}

impl OwnerRows {
    fn new(user: &str, line: u64) -> OwnerRows {
        OwnerRows {
            first_line: line,
            last_line: line,
            rows: 1,
            user: user.to_string(),
        }
    }

    /// Counts the row at `line`, once even when both owner cells of the
    /// row are about the same owner.
    fn add_line(&mut self, line: u64) {
        if self.last_line != line {
            self.last_line = line;
            self.rows += 1;
        }
    }

    /// Formats the rows for a warning: « ligne 4 » or « ligne 4 et 2 autres ».
    fn lines(&self) -> String {
        if self.rows == 1 {
            format!("ligne {}", self.first_line)
        } else {
            format!(
                "ligne {} et {}",
                self.first_line,
                crate::french::plural(self.rows - 1, "autre", "autres")
            )
        }
    }
}

/// Returns the words of a name, folded and sorted, so that case, accents,
/// hyphens and word order do not count: `Jean-Pierre DUPONT` and
/// `dupont jean pierre` give the same key.
fn name_key(name: &str) -> String {
    let folded = crate::domain::search::fold_for_search(name);
    let mut words: Vec<&str> = folded
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|word| !word.is_empty())
        .collect();
    words.sort_unstable();
    words.join(" ")
}

/// Finds the logins and initials that name one user while being the last
/// name, or else the first name, of others. Only keys that win in
/// `by_key` count, and only single words, since a name alone is one word.
fn shadowed_keys(users: &[User], by_key: &HashMap<String, UserId>) -> HashMap<String, ShadowedKey> {
    let mut by_last_name: HashMap<String, Vec<&User>> = HashMap::new();
    let mut by_first_name: HashMap<String, Vec<&User>> = HashMap::new();
    for user in users {
        by_last_name
            .entry(name_key(&user.last_name))
            .or_default()
            .push(user);
        by_first_name
            .entry(name_key(&user.first_name))
            .or_default()
            .push(user);
    }
    let mut shadowed = HashMap::new();
    for user in users {
        let keys = [
            (user.login.as_deref(), "l'identifiant"),
            (Some(user.initials.as_str()), "les initiales"),
        ];
        for (key, key_kind) in keys {
            let Some(key) = key.filter(|key| !key.contains('@')) else {
                continue;
            };
            let lowercase = key.to_lowercase();
            if by_key.get(&lowercase) != Some(&user.id) {
                continue;
            }
            let folded = name_key(key);
            if folded.is_empty() || folded.contains(' ') {
                continue;
            }
            let others_in = |names: &HashMap<String, Vec<&User>>| {
                let mut others: Vec<(UserId, String)> = names
                    .get(&folded)
                    .into_iter()
                    .flatten()
                    .filter(|other| other.id != user.id)
                    .map(|other| (other.id, other.display_name()))
                    .collect();
                others.sort_by_key(|(id, _)| *id);
                others
            };
            let mut name_kind = "nom de famille";
            let mut others = others_in(&by_last_name);
            if others.is_empty() {
                name_kind = "prénom";
                others = others_in(&by_first_name);
            }
            if others.is_empty() {
                continue;
            }
            shadowed.insert(
                lowercase,
                ShadowedKey {
                    user: user.id,
                    key: key.to_string(),
                    key_kind,
                    name_kind,
                    others: others.into_iter().map(|(_, name)| name).collect(),
                },
            );
        }
    }
    shadowed
}

/// Civilities written before a name, lowercase and without their final
/// dot: French forms first, then English ones, as CRMs export both.
const CIVILITIES: [&str; 16] = [
    "m",
    "mme",
    "mlle",
    "mmes",
    "mlles",
    "monsieur",
    "madame",
    "mademoiselle",
    "me",
    "dr",
    "pr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "docteur",
];

/// Returns `name` without a leading civility (`M. Dupont` gives `Dupont`,
/// `Mme Marie Curie` gives `Marie Curie`). A civility alone is kept: it
/// is then the whole cell.
fn without_civility(name: &str) -> &str {
    let name = name.trim();
    // `M.Pierre Curie`: a dot without a space after the civility.
    if let Some((first, rest)) = name.split_once('.')
        && !first.contains(char::is_whitespace)
        && is_civility(first)
        && !rest.trim().is_empty()
    {
        return rest.trim();
    }
    let Some((first, rest)) = name.split_once(char::is_whitespace) else {
        return name;
    };
    if is_civility(first) && !rest.trim().is_empty() {
        rest.trim()
    } else {
        name
    }
}

/// Tells whether a word is a civility, with or without its final dot.
fn is_civility(word: &str) -> bool {
    let word = word.strip_suffix('.').unwrap_or(word).to_lowercase();
    CIVILITIES.contains(&word.as_str())
}

/// The user an owner cell names: one of the base (or none, for an empty
/// cell), or one that `--create-missing-users` is to create.
enum OwnerPlan {
    Known(Option<UserId>),
    Create(String),
}

impl Resolver<'_> {
    /// Resolves the two owner cells of a row. A user to create is created
    /// only once both cells are valid, so that a row rejected for its
    /// other cell leaves no user behind.
    fn resolve_pair(
        &mut self,
        commercial: Option<&str>,
        technical: Option<&str>,
    ) -> (
        Result<Option<UserId>, String>,
        Result<Option<UserId>, String>,
    ) {
        let commercial = self.plan(commercial);
        let technical = self.plan(technical);
        match (commercial, technical) {
            (Ok(commercial), Ok(technical)) => {
                let commercial = self.realize(commercial);
                let technical = match commercial {
                    Ok(_) => self.realize(technical),
                    Err(_) => Ok(None),
                };
                (commercial, technical)
            }
            (commercial, technical) => (commercial.map(|_| None), technical.map(|_| None)),
        }
    }

    /// Creates the user a plan names, unless an earlier cell created it.
    fn realize(&mut self, plan: OwnerPlan) -> Result<Option<UserId>, String> {
        match plan {
            OwnerPlan::Known(id) => Ok(id),
            OwnerPlan::Create(reference) => match self.index.get(&reference) {
                Some(id) => Ok(Some(id)),
                None => self.create(&reference).map(Some),
            },
        }
    }

    /// Finds the user an owner cell names. `Err` contains the French reason.
    fn plan(&mut self, reference: Option<&str>) -> Result<OwnerPlan, String> {
        let Some(reference) = reference.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(OwnerPlan::Known(None));
        };
        let reference = owner_address(reference);
        // An owner written as Relais displays users, `Jean DUPONT (JD)`, as
        // an export or a copy from a screen gives it, names a user by its
        // initials. Unknown initials are an error, never a user to create.
        if let Some(initials) = display_initials(reference) {
            return match self.index.by_initials.get(&initials.to_lowercase()) {
                Some(&id) => Ok(OwnerPlan::Known(Some(id))),
                // The same words whether or not a later row creates the
                // user, because display form only names a user that
                // existed before the import.
                None => Err(format!(
                    "responsable « {reference} » inconnu : aucun utilisateur n'avait les initiales \
                     « {initials} » avant cet import ; corrigez la cellule, ou créez l'utilisateur \
                     (relais user add) puis réimportez cette ligne"
                )),
            };
        }
        if let Some(id) = self.index.get(reference) {
            return Ok(OwnerPlan::Known(Some(id)));
        }
        if let Some(found) = self.by_full_name(reference) {
            return found.map(|id| OwnerPlan::Known(Some(id)));
        }
        if is_civility(reference) {
            return Err(format!(
                "responsable « {reference} » : une civilité seule ne désigne personne ; écrivez \
                 les initiales, l'e-mail ou le nom du responsable"
            ));
        }
        if !self.create_missing {
            return Err(format!(
                "responsable « {reference} » inconnu : créez l'utilisateur (relais user add) ou relancez avec --create-missing-users"
            ));
        }
        // A user's name or login is words, not markup: a cell such as
        // `Jean DUPONT ()` or `JD.` is a damaged reference to someone, and
        // a user made of it would only hide the mistake.
        if let Some(reason) = not_a_name(reference) {
            return Err(format!(
                "responsable « {reference} » inconnu, et pas créé : {reason} ; corrigez la cellule"
            ));
        }
        // A user created from an e-mail gets it as address, so it must be
        // one `relais user add` would take.
        if reference.contains('@')
            && let Err(error) = crate::domain::user::parse_email(reference)
        {
            return Err(format!(
                "responsable « {reference} » inconnu, et pas créé : {error} ; corrigez la cellule"
            ));
        }
        Ok(OwnerPlan::Create(reference.to_string()))
    }

    /// Creates the user `--create-missing-users` makes of an owner cell.
    fn create(&mut self, reference: &str) -> Result<UserId, String> {
        let is_email = reference.contains('@');
        let local_part = reference.split('@').next().unwrap_or(reference);
        let person = without_civility(reference);
        // A cell of several words names a person, `Zoé Lambert`: the first
        // word is the first name. A single word is a CRM login, unless a
        // civility came before it (`M. Lambert`): then it is a last name.
        let full_name = !is_email
            && (person.len() < reference.len() || reference.split_whitespace().nth(1).is_some());
        let (first_name, last_name) = if is_email {
            names_of_email(local_part)
        } else if person.split_whitespace().nth(1).is_some() {
            let (first, rest) = person
                .split_once(char::is_whitespace)
                .unwrap_or((person, ""));
            (first.to_string(), rest.trim().to_string())
        } else {
            (String::new(), person.to_string())
        };
        let taken = |candidate: &str| self.index.initials.contains(candidate);
        let initials = free_initials(&taken, &first_name, &last_name, local_part);
        let user = self
            .session
            .create_user(&NewUser {
                initials,
                login: (!is_email && !full_name).then(|| reference.to_string()),
                first_name,
                last_name,
                email: is_email.then(|| reference.to_string()),
                role: UserRole::User,
                active: true,
                password_hash: None,
            })
            .map_err(|error| error.to_string())?;
        self.index.by_key.insert(reference.to_lowercase(), user.id);
        self.index.add_created(&user);
        self.created.push(user.initials.clone());
        Ok(user.id)
    }
}

impl Resolver<'_> {
    /// Resolves an owner written as a first and a last name, `Jean Dupont`
    /// or `DUPONT Jean`, to the one user of the base with that name, so
    /// that such a cell neither fails as unknown nor creates a second
    /// user under `--create-missing-users`. A name several users share is
    /// refused, naming them. A single word that is only some users' last
    /// name, `Curie`, is refused too, naming them, rather than taken for a
    /// user to create. `None` when the cell is no user's name.
    fn by_full_name(&mut self, reference: &str) -> Option<Result<UserId, String>> {
        // `M. Dupont` or `Mme Marie Curie` name a person as a letter does:
        // the civility is no part of the name.
        let key = name_key(without_civility(reference));
        if key.is_empty() {
            return None;
        }
        if !key.contains(' ') {
            return self.by_last_name(reference, &key).map(Err);
        }
        let mut matches: Vec<(UserId, &String)> = self
            .index
            .names
            .iter()
            .filter(|(_, (_, name))| *name == key)
            .map(|(id, (display, _))| (*id, display))
            .collect();
        match matches.len() {
            0 => None,
            1 => {
                let id = matches[0].0;
                self.index.by_key.insert(reference.to_lowercase(), id);
                Some(Ok(id))
            }
            _ => {
                matches.sort_by_key(|(id, _)| *id);
                let names: Vec<&str> = matches.iter().map(|(_, name)| name.as_str()).collect();
                Some(Err(format!(
                    "responsable « {reference} » ambigu : {} portent ce nom ({}) ; \
                     indiquez les initiales ou l'e-mail de l'un d'eux",
                    crate::french::plural(names.len() as u64, "utilisateur", "utilisateurs"),
                    names.join(", ")
                )))
            }
        }
    }
}

impl Resolver<'_> {
    /// Builds the rejection of an owner cell that contains only a last
    /// name, or else only a first name, naming the users who have it.
    /// `None` when no user has it.
    fn by_last_name(&self, reference: &str, key: &str) -> Option<String> {
        let users_with = |names: &HashMap<UserId, String>| {
            let mut matches: Vec<(UserId, &str)> = names
                .iter()
                .filter(|(_, name)| name.as_str() == key)
                .filter_map(|(id, _)| {
                    let (display, _) = self.index.names.get(id)?;
                    Some((*id, display.as_str()))
                })
                .collect();
            matches.sort_by_key(|(id, _)| *id);
            matches
        };
        let mut kind = "nom de famille";
        let mut matches = users_with(&self.index.last_names);
        if matches.is_empty() {
            kind = "prénom";
            matches = users_with(&self.index.first_names);
        }
        match matches.as_slice() {
            [] => None,
            [(_, name)] => Some(format!(
                "responsable « {reference} » incomplet : c'est le {kind} {} ; \
                 écrivez ses initiales, son e-mail ou son nom complet, ou, s'il s'agit d'une \
                 autre personne, créez-la d'abord (relais user add)",
                crate::french::de(name)
            )),
            _ => {
                let names: Vec<&str> = matches.iter().map(|(_, name)| *name).collect();
                Some(format!(
                    "responsable « {reference} » ambigu : {} portent ce {kind} ({}) ; \
                     indiquez les initiales ou l'e-mail de l'un d'eux",
                    crate::french::plural(names.len() as u64, "utilisateur", "utilisateurs"),
                    names.join(", ")
                ))
            }
        }
    }
}

/// Returns the warnings about the addresses of a row with a five-digit
/// French postal code that La Poste does not list: often a foreign code in
/// a row whose country was left as France (`1080 Brussels` read as
/// `01080`). A CEDEX code, which the list of communes leaves out, gets
/// none. Also warns about a code of one Pacific collectivity under the
/// country of another, and about a code that serves other communes than
/// the city written.
///
/// Runs on the reading thread, for every row: the writing thread is the
/// slower side of an import.
fn postal_code_warnings(parsed: &crate::import::ParsedRow) -> Vec<String> {
    let mut warnings = Vec::new();
    for (kind, address) in [
        ("perso", &parsed.contact.perso),
        ("pro", &parsed.contact.pro),
    ] {
        let french = address
            .country
            .as_ref()
            .is_some_and(|country| country.uses_french_postal_codes());
        let code = &address.postal_norm;
        let entered = address.postal_code.trim();
        // A code of symbols only (`—`) normalises to nothing, which no
        // selection finds either.
        if !french || entered.is_empty() {
            continue;
        }
        // Formatted only for a warning: this runs for every address.
        let city = || {
            if address.city.is_empty() {
                String::new()
            } else {
                format!(" ({})", address.city)
            }
        };
        if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
            warnings.push(invalid_postal_warning(parsed.line, kind, entered, &city()));
            continue;
        }
        // A Pacific code under another collectivity's country (98714,
        // Papeete, given with NCL) is found by neither selection.
        if let Some(country) = &address.country
            && country.pacific_mismatch(code).is_some()
        {
            warnings.push(pacific_warning(&PacificMismatch {
                line: parsed.line,
                pro: kind == "pro",
                postal_code: address.postal_code.trim().to_string(),
                city: address.city.clone(),
                country: country.clone(),
            }));
            continue;
        }
        // A code that serves other communes than the city written
        // (`5100 Reims` read as 05100, Briançon's) puts the contact in
        // another département than meant. The city is checked first,
        // since its lookup also finds whether La Poste lists the code,
        // and an import runs this for every address.
        let serves = crate::reference::postal_code_serves_city(code, &address.city);
        if serves.is_some() || crate::reference::postal_code_exists(code) {
            if serves == Some(false) {
                // NOTE: `entered` is the code as stored, with a lost
                // leading zero given back, so a cell « 5100 » is quoted
                // « 05100 ».
                let read = read_as(entered, code);
                warnings.push(format!(
                    "ligne {} : le code postal {kind} « {entered} »{read} est celui de {}, pas \
                     de « {} »{} ; la ligne est importée, vérifiez le code et la ville",
                    parsed.line,
                    served_communes(code),
                    address.city.trim(),
                    codes_of_city(&address.city)
                ));
            }
            continue;
        }
        // Read only for the few unknown codes: this runs for every row.
        let cedex = format!("{} {}", address.postal_code, address.city)
            .to_lowercase()
            .contains("cedex");
        if cedex {
            continue;
        }
        let read = read_as(entered, code);
        let city = city();
        warnings.push(format!(
            "ligne {} : le code postal {kind} « {entered} »{city}{read} est inconnu de La \
             Poste ; la ligne est importée, vérifiez le code et le pays",
            parsed.line,
        ));
    }
    warnings
}

/// Formats how a postal code was read, for a warning: nothing when it was
/// stored as entered, else « , lu 05100, ».
fn read_as(entered: &str, code: &str) -> String {
    if entered == code {
        String::new()
    } else {
        format!(", lu {code},")
    }
}

/// Codes listed by name in a warning about a city and its postal code.
const LISTED_CITY_CODES: usize = 3;

/// Formats the postal codes of the communes named `city`, for a warning:
/// « (code 51100) », « (codes 75001, 75002, 75003 et 17 autres) », or
/// nothing when no commune has that name.
fn codes_of_city(city: &str) -> String {
    let codes = crate::reference::postal_codes_of_city(city);
    match codes.as_slice() {
        [] => String::new(),
        [code] => format!(" (code {code})"),
        _ => {
            let listed = codes[..codes.len().min(LISTED_CITY_CODES)].join(", ");
            let others = codes.len().saturating_sub(LISTED_CITY_CODES);
            if others == 0 {
                format!(" (codes {listed})")
            } else {
                format!(
                    " (codes {listed} et {})",
                    crate::french::plural(others as u64, "autre", "autres")
                )
            }
        }
    }
}

/// Names the communes a postal code serves, for a warning: the first
/// two, then how many others (« Briançon, Cervières et 7 autres
/// communes »). Arrondissements count as their city.
fn served_communes(code: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for commune in crate::reference::communes_for_postal_code(code) {
        let name = commune.parent_name.unwrap_or(commune.name);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [first, second] => format!("{first} et {second}"),
        [first, second, rest @ ..] => format!(
            "{first}, {second} et {}",
            crate::french::plural(rest.len() as u64, "autre commune", "autres communes")
        ),
    }
}

/// Builds the warning that empty owner cells took their owner from
/// contacts that had one, which an Excel edit does by mistake as often as
/// on purpose. `None` when no contact lost an owner.
fn cleared_owners_warning((commercial, technical): (u64, u64)) -> Option<String> {
    // The second role shares the verb of the first: « 2 contacts perdent
    // leur responsable commercial et 1 contact son responsable technique ».
    let lost = |contacts: u64, role: &str, with_verb: bool| {
        let verb = match (with_verb, contacts) {
            (false, _) => "",
            (true, 1) => " perd",
            (true, _) => " perdent",
        };
        let own = if contacts == 1 { "son" } else { "leur" };
        format!(
            "{}{verb} {own} responsable {role}",
            crate::french::plural(contacts, "contact", "contacts")
        )
    };
    let losses = match (commercial, technical) {
        (0, 0) => return None,
        (n, 0) => lost(n, "commercial", true),
        (0, n) => lost(n, "technique", true),
        (c, t) => format!(
            "{} et {}",
            lost(c, "commercial", true),
            lost(t, "technique", false)
        ),
    };
    let them = if commercial + technical == 1 {
        "le lui"
    } else {
        "le leur"
    };
    Some(format!(
        "{losses} : la cellule du fichier est vide ; si ce n'est pas voulu, annulez cette \
         importation, qui {them} rend"
    ))
}

/// Builds the warning that an import gives contacts back to an owner a
/// Relais operation had replaced.
fn reversed_warning(reversed: &crate::storage::ReversedBatch) -> String {
    let operation = match reversed.kind {
        crate::domain::batch::BatchKind::ReassignRegion => "la réaffectation par région",
        crate::domain::batch::BatchKind::Undo => "l'annulation",
        _ => "la réaffectation",
    };
    let (verb, pronoun) = if reversed.contacts == 1 {
        ("retrouve", "lui")
    } else {
        ("retrouvent", "leur")
    };
    format!(
        "{} {verb} le responsable que {operation} n° {} {pronoun} avait retiré : si ce fichier \
         vient de votre CRM, reportez-y d'abord les réaffectations faites dans Relais ; pour \
         revenir en arrière, annulez cette importation",
        crate::french::plural(reversed.contacts, "contact", "contacts"),
        reversed.batch
    )
}

/// Guesses a first and a last name from the part of an e-mail before the
/// `@`: `jean.dupont` gives Jean and Dupont, `marie-claire.de-la-tour`
/// gives Marie-Claire and De-La-Tour. A single word is the last name.
fn names_of_email(local_part: &str) -> (String, String) {
    let capitalised = |word: &str| {
        word.split('-')
            .map(|part| {
                let mut letters = part.chars();
                letters.next().map_or(String::new(), |first| {
                    first
                        .to_uppercase()
                        .chain(letters.flat_map(char::to_lowercase))
                        .collect()
                })
            })
            .collect::<Vec<_>>()
            .join("-")
    };
    let words: Vec<&str> = local_part
        .split(['.', '_'])
        .filter(|word| !word.is_empty())
        .collect();
    match words.split_first() {
        Some((first, rest)) if !rest.is_empty() => (
            capitalised(first),
            rest.iter()
                .map(|word| capitalised(word))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => (String::new(), local_part.to_string()),
    }
}

impl Resolver<'_> {
    /// Notes an owner cell in display form, in an imported row, whose name
    /// is not the name of the user its initials give. The row still goes
    /// to that user, since a user renamed since an export keeps the
    /// initials, but the report warns, in case the initials are a typo.
    fn check_display_name(&mut self, reference: &str, id: UserId, line: u64) {
        let Some((name, initials)) = display_form(reference) else {
            return;
        };
        let Some((user, user_key)) = self.index.names.get(&id) else {
            return;
        };
        // `JD (JD)` repeats the initials in place of a name: nothing to
        // compare. A civility (`Mme Hélène LÉVÊQUE (HL)`) is no part of
        // the name.
        let name = without_civility(name);
        if name.trim().is_empty()
            || name_key(name) == *user_key
            || name.trim().eq_ignore_ascii_case(initials)
        {
            return;
        }
        self.name_mismatches
            .entry(reference.to_string())
            .and_modify(|rows| rows.add_line(line))
            .or_insert_with(|| OwnerRows::new(user, line));
    }

    /// Notes an owner cell, in an imported row, holding a login or initials
    /// that are also other users' name. The row goes to the user with that
    /// login or those initials, as keys come before names, but the report
    /// warns, in case the file meant one of the others.
    fn note_shadowed_key(&mut self, reference: &str, id: UserId, line: u64) {
        if self.index.shadowed.is_empty() {
            return;
        }
        let Some(shadowed) = self.index.shadowed.get(&reference.to_lowercase()) else {
            return;
        };
        let Some((user, _)) = self.index.names.get(&id) else {
            return;
        };
        if shadowed.user != id {
            return;
        }
        self.shadowed_cells
            .entry(reference.to_lowercase())
            .and_modify(|rows| rows.add_line(line))
            .or_insert_with(|| OwnerRows::new(user, line));
    }

    /// Returns one warning per owner cell noted by `note_shadowed_key`.
    fn shadowed_key_warnings(&self) -> Vec<String> {
        let mut cells: Vec<(&String, &OwnerRows)> = self.shadowed_cells.iter().collect();
        cells.sort_by_key(|(_, rows)| rows.first_line);
        cells
            .into_iter()
            .filter_map(|(cell, rows)| {
                let shadowed = self.index.shadowed.get(cell)?;
                let cell = &shadowed.key;
                let (assigned, contacts) = if rows.rows == 1 {
                    ("à qui ce contact a été affecté", "ce contact")
                } else {
                    ("à qui ces contacts ont été affectés", "ces contacts")
                };
                let others: Vec<String> = shadowed
                    .others
                    .iter()
                    .map(|other| crate::french::de(other))
                    .collect();
                Some(format!(
                    "{lines} : le responsable « {cell} » est {key_kind} {user}, {assigned}, mais \
                     c'est aussi le {name_kind} {others} ; si ce n'est pas le bon responsable, \
                     écrivez dans le fichier les initiales de celui qui convient et réimportez-le, \
                     ou réaffectez {contacts}",
                    lines = rows.lines(),
                    key_kind = shadowed.key_kind,
                    user = crate::french::de(&rows.user),
                    name_kind = shadowed.name_kind,
                    others = crate::french::list_and(&others)
                ))
            })
            .collect()
    }

    /// Notes a row that gives a contact to a deactivated user. The row is
    /// imported, since an export of the base names such owners, but the
    /// report warns: a deactivated user cannot work on the contact.
    fn note_inactive_owner(&mut self, id: UserId, line: u64) {
        if !self.index.inactive.contains(&id) {
            return;
        }
        let Some((user, _)) = self.index.names.get(&id) else {
            return;
        };
        self.inactive_owners
            .entry(id)
            .and_modify(|rows| rows.add_line(line))
            .or_insert_with(|| OwnerRows::new(user, line));
    }

    /// Lists a warning about a postal code, or counts it past the first
    /// `LISTED_DOUBTFUL_POSTAL_CODES`.
    fn list_doubtful_postal_code(&mut self, warning: String) {
        let (listed, more) = &mut self.doubtful_postal_codes;
        if listed.len() < LISTED_DOUBTFUL_POSTAL_CODES {
            listed.push(warning);
        } else {
            *more += 1;
        }
    }

    /// Returns one warning per deactivated user the file gives contacts to.
    fn inactive_owner_warnings(&self) -> Vec<String> {
        let mut owners: Vec<&OwnerRows> = self.inactive_owners.values().collect();
        owners.sort_by_key(|rows| rows.first_line);
        owners
            .into_iter()
            .map(|rows| {
                let (these, verb, them) = if rows.rows == 1 {
                    ("ce contact", "est affecté", "réaffectez-le")
                } else {
                    ("ces contacts", "sont affectés", "réaffectez-les")
                };
                format!(
                    "{} : le compte {} est désactivé, et le fichier le nomme comme responsable ; \
                     {these} lui {verb}, {them} à un utilisateur actif si besoin \
                     (relais reassign)",
                    rows.lines(),
                    crate::french::de(&rows.user)
                )
            })
            .collect()
    }

    /// Returns one warning per owner cell whose name is not its user's, in
    /// file order, up to `LISTED_NAME_MISMATCHES` of them and then one
    /// line that counts the others.
    fn name_mismatch_warnings(&self) -> Vec<String> {
        let mut mismatches: Vec<(&String, &OwnerRows)> = self.name_mismatches.iter().collect();
        mismatches.sort_by_key(|(_, mismatch)| mismatch.first_line);
        let unlisted = mismatches.len().saturating_sub(LISTED_NAME_MISMATCHES);
        let mut warnings: Vec<String> = mismatches
            .into_iter()
            .take(LISTED_NAME_MISMATCHES)
            .map(|(cell, mismatch)| {
                let lines = mismatch.lines();
                let (assigned, contacts) = if mismatch.rows == 1 {
                    ("ce contact lui a été affecté", "ce contact")
                } else {
                    ("ces contacts lui ont été affectés", "ces contacts")
                };
                format!(
                    "{lines} : le responsable « {cell} » porte les initiales {user} mais un autre nom ; \
                     {assigned} d'après les initiales ; si ce n'est pas le bon responsable, corrigez \
                     le fichier et réimportez-le, ou réaffectez {contacts}",
                    user = crate::french::de(&mismatch.user)
                )
            })
            .collect();
        if unlisted > 0 {
            warnings.push(format!(
                "… et {} de responsable dont le nom n'est pas celui de l'utilisateur désigné par \
                 les initiales",
                crate::french::plural(unlisted as u64, "autre cellule", "autres cellules")
            ));
        }
        warnings
    }
}

/// Returns the address of an owner written as a mail client does, `Jean
/// Dupont <jd@exemple.fr>` or `mailto:jd@exemple.fr`, and any other cell
/// as it is.
fn owner_address(reference: &str) -> &str {
    let unprefixed = reference
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case("mailto:"))
        .map_or(reference, |_| reference[7..].trim());
    let bracketed = unprefixed
        .strip_suffix('>')
        .and_then(|inner| inner.rsplit_once('<'))
        .map(|(_, address)| address.trim())
        .filter(|address| address.contains('@'));
    bracketed.unwrap_or(unprefixed)
}

/// Characters that no name, login or e-mail address of a user contains.
const NOT_IN_NAMES: &str = "()<>[]{}\"«»:;,/\\|!?*=#%$";

/// Tells why an owner cell cannot be made into a user, or `None` when it
/// can: it must not contain markup characters, nor end with a dot.
fn not_a_name(reference: &str) -> Option<String> {
    if let Some(found) = reference.chars().find(|c| NOT_IN_NAMES.contains(*c)) {
        return Some(format!(
            "un nom, un identifiant ou un e-mail ne peut pas contenir le caractère « {found} »"
        ));
    }
    reference
        .ends_with('.')
        .then(|| "un nom, un identifiant ou un e-mail ne peut pas finir par un point".to_string())
}

/// Returns the initials of an owner written `Prénom NOM (INITIALES)`: the
/// text between the last pair of parentheses ending the cell, after a name
/// or alone (`(JD)`).
fn display_initials(reference: &str) -> Option<&str> {
    display_form(reference).map(|(_, initials)| initials)
}

/// Splits an owner written `Prénom NOM (INITIALES)` into its name and its
/// initials, or returns `None` for any other form.
fn display_form(reference: &str) -> Option<(&str, &str)> {
    let inner = reference.strip_suffix(')')?;
    let (name, initials) = inner.rsplit_once('(')?;
    let initials = initials.trim();
    let valid = !initials.is_empty() && initials.chars().all(|c| c.is_alphanumeric());
    valid.then_some((name, initials))
}

/// Imports `path`; `progress` receives the bytes read so far.
pub fn import_file(
    store: &dyn Store,
    path: &Path,
    request: &ImportRequest,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ServiceError> {
    // A folder opens like a file on Unix and fails only when read.
    if path.is_dir() {
        return Err(ServiceError::invalid(
            "file_unreadable",
            "file",
            format!(
                "fichier « {} » : c'est un dossier ; indiquez le fichier CSV à importer",
                path.display()
            ),
        ));
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let mut attempt = 1;
    loop {
        let file = File::open(path).map_err(|error| ServiceError::file_unreadable(path, &error))?;
        let result = import_from_reader(
            store,
            BufReader::with_capacity(1 << 16, file),
            file_name.clone(),
            request,
            progress,
        );
        // An import locks the contacts it updates chunk by chunk, in file
        // order, over one long transaction, so a reassignment locking the
        // same contacts can deadlock with it. The engine then rolls the
        // import back whole; it is read again from the start.
        match result {
            Err(ServiceError::Store(crate::storage::StoreError::Busy))
                if attempt < IMPORT_ATTEMPTS =>
            {
                tracing::warn!(
                    import.attempt = attempt,
                    "import rolled back by a deadlock or a lock timeout, started again"
                );
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Times an import from a file is run before a deadlock or lock timeout
/// is reported: each attempt reads the file again from the start.
const IMPORT_ATTEMPTS: u32 = 3;

/// Parsed rows sent at once from the reading thread to the writing one.
const PARSED_CHUNK_ROWS: usize = 1_000;

/// Parsed chunks waiting between the two threads at most. The reading
/// thread blocks when the writing one falls behind, so memory stays
/// bounded whatever the file size.
const PIPELINE_CHUNKS: usize = 4;

/// Rows parsed by the reading thread, in file order.
struct ParsedChunk {
    rows: Vec<ReadRow>,
    /// Bytes of the file consumed once these rows were read.
    bytes_read: u64,
}

/// A row as the reading thread hands it over.
struct ReadRow {
    outcome: RowOutcome,
    /// Warnings about the row's postal codes, listed if the row is written.
    postal_warnings: Vec<String>,
}

/// Reads and validates every row of the file, sending them in chunks, and
/// returns the problem that stopped the reading before the end, if any.
///
/// The writing thread sends back the rows it has written, and they are
/// dropped here: their text was allocated on this thread, where freeing it
/// costs less, and the writing thread is the slower side.
///
/// Stops early, without error, when the receiver is gone: the writing side
/// failed and the import is abandoned anyway.
fn read_rows<R: Read>(
    mut rows: ContactRows<R>,
    sender: SyncSender<ParsedChunk>,
    written: Receiver<Vec<ContactWrite>>,
) -> Option<ImportError> {
    loop {
        let read: Vec<ReadRow> = rows
            .by_ref()
            .take(PARSED_CHUNK_ROWS)
            .map(|outcome| {
                let postal_warnings = match &outcome {
                    Ok(parsed) => postal_code_warnings(parsed),
                    Err(_) => Vec::new(),
                };
                ReadRow {
                    outcome,
                    postal_warnings,
                }
            })
            .collect();
        let last = read.len() < PARSED_CHUNK_ROWS;
        let chunk = ParsedChunk {
            rows: read,
            bytes_read: rows.bytes_read(),
        };
        if sender.send(chunk).is_err() || last {
            break;
        }
        written.try_iter().for_each(drop);
    }
    rows.into_error()
}

/// Imports contacts read from `reader`, a file named `file_name`.
///
/// Reading and validating run on a second thread while this one resolves
/// owners and writes to the store, so the import takes the time of the
/// slower side rather than the sum of both. Rows, rejections and progress
/// are still handled in file order.
fn import_from_reader<R: Read + Send>(
    store: &dyn Store,
    reader: R,
    file_name: Option<String>,
    request: &ImportRequest,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ServiceError> {
    let options = ImportOptions {
        default_country: request.default_country.clone(),
    };
    let rows = read_contacts(reader, &options)
        .map_err(|error| ServiceError::invalid("invalid_file", "file", error.to_string()))?;
    let header_of = |field: Field| -> String {
        rows.columns()
            .iter()
            .find(|column| column.field == Some(field))
            .map(|column| column.header.clone())
            .unwrap_or_default()
    };
    let headers = RejectionHeaders {
        commercial: header_of(Field::CommercialOwner),
        technical: header_of(Field::TechnicalOwner),
        external_id: header_of(Field::ExternalId),
        contact_number: header_of(Field::ContactId),
        modified_at: header_of(Field::ModifiedAt),
    };
    let has_key_column = rows.columns().iter().any(|column| {
        matches!(
            column.field,
            Some(Field::ContactId) | Some(Field::ExternalId)
        )
    });
    let ignored_columns = rows
        .columns()
        .iter()
        .filter(|column| column.field.is_none())
        .map(|column| column.header.clone())
        .collect();

    let params = json!({
        "file": file_name,
        "default_country": request.default_country.as_str(),
        "create_missing_users": request.create_missing_users,
    });
    // A file updates only the parts of a stored contact it has columns for.
    let left_out: Vec<ContactPart> = ContactPart::ALL
        .into_iter()
        .filter(|part| {
            !rows
                .columns()
                .iter()
                .any(|column| column.field.and_then(Field::part) == Some(*part))
        })
        .collect();
    let mut session = store.begin_import(&request.actor, params)?;
    session.keep_stored(&left_out, &request.default_country);
    if !rows
        .columns()
        .iter()
        .any(|column| column.field == Some(Field::ExternalId))
    {
        session.keep_stored_external_ids();
    }
    // Read in the import's transaction, which waits for another import to
    // commit: that import's new users are then known here, and not created
    // a second time.
    let users = session.list_users()?;
    let mut resolver = Resolver {
        index: OwnerIndex::new(&users),
        create_missing: request.create_missing_users,
        created: Vec::new(),
        name_mismatches: Default::default(),
        shadowed_cells: Default::default(),
        inactive_owners: Default::default(),
        doubtful_postal_codes: Default::default(),
        session: session.as_mut(),
    };

    let (written, read_error) = std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel(PIPELINE_CHUNKS);
        let (written_sender, written_receiver) = channel();
        let reading = scope.spawn(move || read_rows(rows, sender, written_receiver));
        // `write_rows` owns the receiver and drops it when it returns, even
        // on an error, which stops the reading thread at its next chunk.
        let written = write_rows(receiver, written_sender, &mut resolver, &headers, progress);
        let read_error = reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written, read_error)
    });
    let Written {
        mut totals,
        rejected,
        pending,
        pending_warnings,
    } = written?;
    // A read error or an unclosed quote stops the reader before the end of
    // the file: abandon the whole import rather than commit part of it.
    if let Some(error) = read_error {
        return Err(ServiceError::invalid(
            "invalid_file",
            "file",
            format!("{error} ; rien n'a été importé"),
        ));
    }
    let mut rejected = rejected;
    if !pending.is_empty() {
        totals.add(&write_chunk(
            &mut resolver,
            &pending,
            pending_warnings,
            &headers,
            &mut rejected,
        )?);
    }
    // Key conflicts are found when a chunk is written, after the rows of
    // that chunk rejected while reading.
    rejected.sort_by_key(|rejection| rejection.line);
    // Addresses completed from stored values are checked by the store,
    // before it sets some rows aside.
    for mismatch in resolver.session.take_pacific_mismatches() {
        let set_aside = rejected
            .binary_search_by_key(&mismatch.line, |rejection| rejection.line)
            .is_ok();
        if !set_aside {
            resolver.list_doubtful_postal_code(pacific_warning(&mismatch));
        }
    }
    // Only created contacts would be created again by a second import.
    let mut warnings = if !has_key_column && totals.imported > 0 {
        vec![NO_KEY_COLUMN_WARNING.to_string()]
    } else {
        Vec::new()
    };
    if totals.updated + totals.unchanged > 0
        && let Some(note) = left_out_note(&left_out)
    {
        warnings.push(note);
    }
    warnings.extend(resolver.name_mismatch_warnings());
    warnings.extend(resolver.shadowed_key_warnings());
    warnings.extend(resolver.inactive_owner_warnings());
    let (doubtful_codes, more_doubtful_codes) = &resolver.doubtful_postal_codes;
    warnings.extend(doubtful_codes.iter().cloned());
    if *more_doubtful_codes > 0 {
        warnings.push(format!(
            "… et {} à vérifier",
            crate::french::plural(
                *more_doubtful_codes,
                "autre code postal",
                "autres codes postaux"
            )
        ));
    }
    let created_users = resolver.created;

    // Owner changes that give contacts back to an owner a Relais operation
    // had replaced, as a file exported from a CRM before a reassignment
    // does. These warnings come first, since they undo work done in Relais.
    // Only rows without number or external id create contacts beside
    // stored ones; a file with no key column at all is warned about above.
    if totals.imported > 0 && has_key_column {
        let (count, twins) = session.twin_contacts()?;
        if count > 0 {
            warnings.push(twin_contacts_warning(count, &twins));
        }
    }
    if totals.history_entries > 0 {
        let reversed = session.reversed_reassignments()?;
        let mut notes: Vec<String> = reversed.iter().map(reversed_warning).collect();
        notes.extend(cleared_owners_warning(session.cleared_owners()?));
        warnings.splice(0..0, notes);
    }
    // Users are created only as owners of rows, so an import that wrote no
    // row has no use for those it created. They go with the rollback, even
    // when the store set their rows aside late (a stale « Modifié le »).
    let mut created_users = created_users;
    let batch_id = if totals.imported == 0 && totals.updated == 0 {
        // Dropping the session rolls it back.
        drop(session);
        created_users.clear();
        None
    } else {
        session.record_rejected_lines(rejected.len() as u64)?;
        Some(session.commit(&totals)?)
    };
    tracing::info!(
        batch.id = batch_id,
        import.imported = totals.imported,
        import.updated = totals.updated,
        import.rejected = rejected.len(),
        "import finished"
    );
    Ok(ImportReport {
        batch_id,
        imported: totals.imported,
        updated: totals.updated,
        unchanged: totals.unchanged,
        history_entries: totals.history_entries,
        rejected,
        created_users,
        ignored_columns,
        warnings,
    })
}

/// Tells which parts of the contacts already stored the file left as they
/// were, having no column for them.
fn left_out_note(left_out: &[ContactPart]) -> Option<String> {
    // A whole address left out is named as one.
    let whole: Vec<(&[ContactPart; 5], &str)> = ContactPart::ADDRESSES
        .iter()
        .zip(["adresse perso", "adresse pro"])
        .filter(|(parts, _)| parts.iter().all(|part| left_out.contains(part)))
        .collect();
    let mut labels: Vec<&str> = left_out
        .iter()
        .filter(|part| !whole.iter().any(|(parts, _)| parts.contains(part)))
        .map(|part| part.label_fr())
        .collect();
    labels.extend(whole.iter().map(|(_, label)| *label));
    let (last, others) = labels.split_last()?;
    let list = if others.is_empty() {
        (*last).to_string()
    } else {
        format!("{} et {last}", others.join(", "))
    };
    Some(format!(
        "le fichier n'a pas de colonne pour : {list} ; les contacts déjà enregistrés les gardent tels quels"
    ))
}

/// Moves the key conflicts of the chunks written so far to `rejected`.
fn take_key_conflicts(
    session: &mut dyn ImportSession,
    headers: &RejectionHeaders,
    rejected: &mut Vec<RowRejection>,
) {
    for conflict in session.take_key_conflicts() {
        let (column, reason) = describe_key_conflict(&conflict, headers);
        rejected.push(RowRejection {
            line: conflict.line,
            column,
            reason,
        });
    }
}

/// Warns about a French postal code that is not five digits once
/// normalised: the contact list flags it, and no region selection finds
/// its address. A Corsican commune code (`2A004`, Ajaccio) is the usual
/// mistake, made by copying the INSEE code instead of the postal one.
fn invalid_postal_warning(line: u64, kind: &str, entered: &str, city: &str) -> String {
    let upper = entered.to_uppercase();
    let insee_hint = if (upper.starts_with("2A") || upper.starts_with("2B"))
        && upper.len() == 5
        && upper[2..].bytes().all(|b| b.is_ascii_digit())
    {
        " (c'est la forme d'un code commune INSEE de Corse ; les codes postaux corses commencent par 20)"
    } else {
        ""
    };
    format!(
        "ligne {line} : le code postal {kind} « {entered} »{city} n'est pas un code français à \
         cinq chiffres{insee_hint} ; la ligne est importée et le code signalé comme invalide, \
         mais une réaffectation par région risque de manquer cette adresse : corrigez le code"
    )
}

/// Warns that contacts this import created have the name, first name and
/// company of stored ones, listing the first by number.
fn twin_contacts_warning(count: u64, twins: &[crate::storage::TwinContact]) -> String {
    let listed: Vec<String> = twins
        .iter()
        .map(|twin| {
            let name = format!("{} {}", twin.first_name, twin.last_name);
            let name = name.trim();
            match (name.is_empty(), twin.company.is_empty()) {
                (false, false) => format!("n° {} {name} ({})", twin.id, twin.company),
                (false, true) => format!("n° {} {name}", twin.id),
                _ => format!("n° {} ({})", twin.id, twin.company),
            }
        })
        .collect();
    let more = if count > twins.len() as u64 {
        ", …"
    } else {
        ""
    };
    let (have, same) = if count == 1 {
        ("a", "s'il s'agit de la même personne")
    } else {
        ("ont", "s'il s'agit des mêmes personnes")
    };
    format!(
        "{} par cet import sans « N° Relais » ni identifiant externe {have} les mêmes nom, prénom et \
         société qu'un contact déjà présent : {}{more} ; {same}, annulez cet import et \
         réimportez le fichier en remplissant pour ces lignes la colonne « N° Relais » de \
         l'export ou un identifiant externe",
        crate::french::plural(count, "contact créé", "contacts créés"),
        listed.join(", ")
    )
}

/// Warns of an address whose postal code does not start with the prefix of
/// the Pacific collectivity it is stored under.
fn pacific_warning(mismatch: &PacificMismatch) -> String {
    let country = &mismatch.country;
    let prefix = country.pacific_postal_prefix().unwrap_or_default();
    let of_country = match country.as_str() {
        "NCL" => "de la Nouvelle-Calédonie".to_string(),
        "PYF" => "de la Polynésie française".to_string(),
        _ => crate::french::de(country.name_fr()),
    };
    format!(
        "ligne {} : le code postal {} « {} »{} ne commence pas par {prefix}, le préfixe \
         {of_country} ({}) ; la ligne est importée, vérifiez le code et le pays",
        mismatch.line,
        if mismatch.pro { "pro" } else { "perso" },
        mismatch.postal_code,
        if mismatch.city.is_empty() {
            String::new()
        } else {
            format!(" ({})", mismatch.city)
        },
        country.as_str(),
    )
}

/// Returns the column at fault and the French reason of a key conflict.
fn describe_key_conflict(conflict: &KeyConflict, headers: &RejectionHeaders) -> (String, String) {
    let number = conflict.contact_number;
    let external_id = conflict.external_id.as_deref().unwrap_or_default();
    match &conflict.kind {
        KeyConflictKind::UnknownNumber => (
            headers.contact_number.clone(),
            format!(
                "aucun contact n° {number} : vérifiez le n° Relais, ou videz la cellule \
                 pour créer un nouveau contact"
            ),
        ),
        KeyConflictKind::OtherNames => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a un autre nom, prénom ou société : si la ligne vient \
                 d'une autre base, videz la cellule pour créer un nouveau contact ; si vous avez \
                 corrigé son nom, gardez la colonne « Identifiant externe » de l'export, qui \
                 désigne le contact quel que soit son nom, ou remettez le nom exporté"
            ),
        ),
        KeyConflictKind::OtherExternalId { stored } if conflict.external_id.is_some() => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a l'identifiant externe « {stored} », \
                 pas « {external_id} » : corrigez le n° Relais ou l'identifiant externe"
            ),
        ),
        // A file without an external-id column reaches this for a row
        // without names to check: emptying the number there would create
        // a duplicate, so the advice is to give a name.
        KeyConflictKind::OtherExternalId { stored } if headers.external_id.is_empty() => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a l'identifiant externe « {stored} » : ajoutez au \
                 fichier la colonne « Identifiant externe » de l'export, ou une colonne Nom, \
                 Prénom ou Société, pour confirmer qu'il s'agit bien de ce contact"
            ),
        ),
        KeyConflictKind::OtherExternalId { stored } => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a l'identifiant externe « {stored} » : \
                 indiquez cet identifiant externe sur la ligne, ou videz le n° Relais"
            ),
        ),
        KeyConflictKind::ChangedSinceExport { changed_at } => (
            headers.modified_at.clone(),
            format!(
                "le contact n° {number} a été modifié le {}, après l'export de ce fichier : la \
                 ligne est ignorée pour ne pas défaire ce changement ; réexportez le contact, ou \
                 videz sa cellule « Modifié le » pour imposer la ligne",
                changed_at
                    .with_timezone(&chrono_tz::Europe::Paris)
                    .format("%d/%m/%Y à %H:%M:%S")
            ),
        ),
        KeyConflictKind::NoIdentityLeft => (
            String::new(),
            format!(
                "la ligne laisserait le contact n° {number} sans nom, prénom, société, e-mail \
                 ni téléphone : remplissez au moins l'une de ces cellules, ou retirez du fichier \
                 les colonnes que la ligne ne doit pas modifier"
            ),
        ),
        KeyConflictKind::UnknownExternalId => (
            headers.external_id.clone(),
            format!(
                "aucun contact n'a l'identifiant externe « {external_id} », et la ligne n'a \
                 ni nom, ni prénom, ni société, ni e-mail, ni téléphone pour en créer un : \
                 vérifiez l'identifiant, ou ajoutez au moins le nom"
            ),
        ),
        KeyConflictKind::ExternalIdOfOtherNumber { stored_number } => (
            headers.external_id.clone(),
            format!(
                "l'identifiant externe « {external_id} » est celui du contact n° {stored_number}, \
                 pas du n° {number} : corrigez le n° Relais ou l'identifiant externe"
            ),
        ),
    }
}

/// Headers of the file named by rejections found after parsing.
struct RejectionHeaders {
    commercial: String,
    technical: String,
    external_id: String,
    contact_number: String,
    modified_at: String,
}

/// Outcome of the writing side once the reading thread stopped sending.
struct Written {
    totals: ImportCounts,
    rejected: Vec<RowRejection>,
    /// Last rows, fewer than a chunk, not written yet: they are written
    /// only once the whole file has been read without error.
    pending: Vec<ContactWrite>,
    /// Warnings about the postal codes of the pending rows, by line.
    pending_warnings: Vec<(u64, String)>,
}

/// Resolves owners and writes the rows received from the reading thread,
/// in chunks of `CHUNK_ROWS`, until the reading thread stops sending.
fn write_rows(
    receiver: Receiver<ParsedChunk>,
    written: Sender<Vec<ContactWrite>>,
    resolver: &mut Resolver<'_>,
    headers: &RejectionHeaders,
    progress: &mut dyn FnMut(u64),
) -> Result<Written, ServiceError> {
    // Line of the first row seen for each external id, keyed by a 64-bit
    // hash so that memory stays small on files of millions of rows.
    let mut external_ids: HashMap<u64, u64> = HashMap::new();
    // Line of the first row seen for each contact number.
    let mut contact_numbers: HashMap<i64, u64> = HashMap::new();
    let mut totals = ImportCounts::default();
    let mut rejected = Vec::new();
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    // Warnings about the postal codes of the rows in `chunk`, by line.
    let mut chunk_warnings: Vec<(u64, String)> = Vec::new();
    for parsed_chunk in receiver {
        for ReadRow {
            outcome,
            postal_warnings,
        } in parsed_chunk.rows
        {
            let parsed = match outcome {
                Ok(parsed) => parsed,
                Err(rejection) => {
                    rejected.push(rejection);
                    continue;
                }
            };
            if let Some(external_id) = &parsed.contact.external_id {
                let mut hasher = std::hash::DefaultHasher::new();
                std::hash::Hash::hash(external_id, &mut hasher);
                let key = std::hash::Hasher::finish(&hasher);
                if let Some(first_line) = external_ids.get(&key) {
                    rejected.push(RowRejection {
                        line: parsed.line,
                        column: headers.external_id.clone(),
                        reason: format!(
                            "identifiant externe « {external_id} » déjà présent ligne {first_line} de ce fichier : gardez une seule ligne par contact"
                        ),
                    });
                    continue;
                }
                external_ids.insert(key, parsed.line);
            }
            // A contact named twice by its number would get two history
            // entries per role in one batch, which its undo could not
            // read back to the owner it had before the import.
            if let Some(number) = parsed.contact.contact_id {
                if let Some(first_line) = contact_numbers.get(&number) {
                    rejected.push(RowRejection {
                        line: parsed.line,
                        column: headers.contact_number.clone(),
                        reason: format!(
                            "contact n° {number} déjà présent ligne {first_line} de ce fichier : gardez une seule ligne par contact"
                        ),
                    });
                    continue;
                }
                contact_numbers.insert(number, parsed.line);
            }
            let (commercial, technical) = resolver.resolve_pair(
                parsed.contact.commercial_owner.as_deref(),
                parsed.contact.technical_owner.as_deref(),
            );
            match (commercial, technical) {
                (Ok(commercial_owner), Ok(technical_owner)) => {
                    chunk_warnings.extend(
                        postal_warnings
                            .into_iter()
                            .map(|warning| (parsed.line, warning)),
                    );
                    chunk.push(ContactWrite {
                        line: parsed.line,
                        contact: parsed.contact,
                        commercial_owner,
                        technical_owner,
                    });
                }
                (Err(reason), _) => rejected.push(RowRejection {
                    line: parsed.line,
                    column: headers.commercial.clone(),
                    reason,
                }),
                (_, Err(reason)) => rejected.push(RowRejection {
                    line: parsed.line,
                    column: headers.technical.clone(),
                    reason,
                }),
            }
            if chunk.len() >= CHUNK_ROWS {
                totals.add(&write_chunk(
                    resolver,
                    &chunk,
                    std::mem::take(&mut chunk_warnings),
                    headers,
                    &mut rejected,
                )?);
                let done = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                // Once the reading thread has stopped, the rows are dropped
                // here.
                let _ = written.send(done);
            }
        }
        progress(parsed_chunk.bytes_read);
    }
    Ok(Written {
        totals,
        rejected,
        pending: chunk,
        pending_warnings: chunk_warnings,
    })
}

/// Writes a chunk of rows, then notes what the report warns about for the
/// rows the store kept. A row the store sets aside (a stale « Modifié le »,
/// an external id already taken) is rejected, and a warning about it would
/// contradict the rejection.
fn write_chunk(
    resolver: &mut Resolver<'_>,
    chunk: &[ContactWrite],
    postal_warnings: Vec<(u64, String)>,
    headers: &RejectionHeaders,
    rejected: &mut Vec<RowRejection>,
) -> Result<ImportCounts, ServiceError> {
    let counts = resolver.session.write_contacts(chunk)?;
    let before = rejected.len();
    take_key_conflicts(resolver.session, headers, rejected);
    let set_aside: std::collections::HashSet<u64> = rejected[before..]
        .iter()
        .map(|rejection| rejection.line)
        .collect();
    for row in chunk {
        if set_aside.contains(&row.line) {
            continue;
        }
        let owners = [
            (&row.contact.commercial_owner, row.commercial_owner),
            (&row.contact.technical_owner, row.technical_owner),
        ];
        for (cell, owner) in owners {
            if let (Some(cell), Some(owner)) = (cell, owner) {
                resolver.check_display_name(cell.trim(), owner, row.line);
                resolver.note_shadowed_key(cell.trim(), owner, row.line);
                resolver.note_inactive_owner(owner, row.line);
            }
        }
    }
    for (line, warning) in postal_warnings {
        if !set_aside.contains(&line) {
            resolver.list_doubtful_postal_code(warning);
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::storage::sqlite::SqliteStore;

    /// A file of `rows` contacts made on the fly, counting the rows it has
    /// handed out so far.
    struct GeneratedFile {
        pending: Vec<u8>,
        rows_left: u64,
        rows_made: Arc<AtomicU64>,
    }

    impl Read for GeneratedFile {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            while self.pending.is_empty() && self.rows_left > 0 {
                let index = self.rows_made.fetch_add(1, Ordering::SeqCst);
                self.rows_left -= 1;
                self.pending = format!("Nom{index};Prénom\n").into_bytes();
            }
            let count = buffer.len().min(self.pending.len());
            buffer[..count].copy_from_slice(&self.pending[..count]);
            self.pending.drain(..count);
            Ok(count)
        }
    }

    fn request() -> ImportRequest {
        ImportRequest {
            default_country: CountryCode::france(),
            create_missing_users: false,
            actor: Actor::system("tests"),
        }
    }

    #[test]
    fn display_initials_of_owner_cells() {
        assert_eq!(display_initials("Jean DUPONT (JD)"), Some("JD"));
        assert_eq!(display_initials("Baptiste BONCHAMPS ( BB2 )"), Some("BB2"));
        assert_eq!(display_initials("JD"), None);
        assert_eq!(display_initials("(JD)"), Some("JD"));
        assert_eq!(display_initials("Jean DUPONT ()"), None);
        assert_eq!(display_initials("Jean DUPONT (J D)"), None);
        assert_eq!(display_initials("jd@exemple.fr"), None);
    }

    #[test]
    fn owner_address_of_mail_forms() {
        assert_eq!(
            owner_address("Jean Dupont <jd@exemple.fr>"),
            "jd@exemple.fr"
        );
        assert_eq!(owner_address("MAILTO:jd@exemple.fr"), "jd@exemple.fr");
        assert_eq!(owner_address("mailto: <jd@exemple.fr>"), "jd@exemple.fr");
        assert_eq!(owner_address("Jean DUPONT (JD)"), "Jean DUPONT (JD)");
        assert_eq!(owner_address("<JD>"), "<JD>");
    }

    #[test]
    fn not_a_name_names_the_character() {
        assert_eq!(
            not_a_name("Jean DUPONT ()").as_deref(),
            Some("un nom, un identifiant ou un e-mail ne peut pas contenir le caractère « ( »")
        );
        assert_eq!(
            not_a_name("JD.").as_deref(),
            Some("un nom, un identifiant ou un e-mail ne peut pas finir par un point")
        );
        assert_eq!(not_a_name("j.dupont"), None);
        assert_eq!(not_a_name("Zoé Lambert-Roux"), None);
        assert_eq!(not_a_name("z.lambert@exemple.fr"), None);
    }

    #[test]
    fn failed_write_stops_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relais.db");
        let store = SqliteStore::open(&path).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER injected_failure BEFORE INSERT ON contacts
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .unwrap();
        let total_rows = 1_000_000;
        let rows_made = Arc::new(AtomicU64::new(0));
        let file = GeneratedFile {
            pending: b"Nom;Pr\xC3\xA9nom\n".to_vec(),
            rows_left: total_rows,
            rows_made: rows_made.clone(),
        };

        let result = import_from_reader(&store, file, None, &request(), &mut |_| {});

        let error = result.unwrap_err();
        assert!(error.to_string().contains("injected failure"), "{error}");
        let read = rows_made.load(Ordering::SeqCst);
        assert!(read < total_rows / 10, "{read} rows read");
    }

    #[test]
    fn rows_written_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relais.db");
        let store = SqliteStore::open(&path).unwrap();
        let file = GeneratedFile {
            pending: b"Nom;Pr\xC3\xA9nom\n".to_vec(),
            rows_left: 5_500,
            rows_made: Arc::new(AtomicU64::new(0)),
        };
        let mut progress = Vec::new();

        let report = import_from_reader(&store, file, None, &request(), &mut |bytes| {
            progress.push(bytes)
        })
        .unwrap();

        assert_eq!(report.imported, 5_500);
        assert!(progress.is_sorted(), "{progress:?}");
        let ids_in_name_order: Vec<String> = rusqlite::Connection::open(&path)
            .unwrap()
            .prepare("SELECT last_name FROM contacts ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<String> = (0..5_500).map(|index| format!("Nom{index}")).collect();
        assert_eq!(ids_in_name_order, expected);
    }

    #[test]
    fn civility_before_an_owner_name() {
        assert_eq!(without_civility("M. Curie"), "Curie");
        assert_eq!(without_civility("Mme  Marie Curie"), "Marie Curie");
        assert_eq!(without_civility("mademoiselle Curie"), "Curie");
        assert_eq!(without_civility("Dr. House"), "House");
        assert_eq!(without_civility("M.Pierre Curie"), "Pierre Curie");
        assert_eq!(without_civility("J.Dupont"), "J.Dupont");
        // A first name that starts like a civility, or a civility alone.
        assert_eq!(without_civility("Mmeline Curie"), "Mmeline Curie");
        assert_eq!(without_civility("Madame"), "Madame");
        assert_eq!(without_civility("Marie Curie"), "Marie Curie");
    }

    #[test]
    fn names_are_guessed_from_an_email() {
        assert_eq!(
            names_of_email("jean.dupont"),
            ("Jean".into(), "Dupont".into())
        );
        assert_eq!(
            names_of_email("marie-claire.de-la-tour"),
            ("Marie-Claire".into(), "De-La-Tour".into())
        );
        assert_eq!(names_of_email("x"), (String::new(), "x".into()));
        assert_eq!(
            names_of_email("ALICE_MARTIN"),
            ("Alice".into(), "Martin".into())
        );
    }
}
