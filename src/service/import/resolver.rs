//! Resolving the owner cells of each row to users, creating those
//! `--create-missing-users` allows.

use std::collections::HashMap;

use crate::domain::user::{NewUser, UserId, UserRole};
use crate::storage::ImportSession;

use super::super::users::free_initials;
use super::owner_cells::{
    display_initials, is_civility, names_of_email, not_a_name, owner_address, without_civility,
};
use super::owner_index::{OwnerIndex, name_key};

pub(super) struct Resolver<'a> {
    pub(super) index: OwnerIndex,
    pub(super) create_missing: bool,
    pub(super) created: Vec<String>,
    /// Warnings about users created under numbered initials, because
    /// another user has the plain ones: often the same person, written
    /// another way (`Jean Dupond` beside Jean DUPONT).
    pub(super) numbered: Vec<String>,
    /// Owner cells in display form whose name is not their user's, by
    /// cell text, with their first line and number of rows.
    pub(super) name_mismatches: std::collections::BTreeMap<String, OwnerRows>,
    /// Owner cells holding a login or initials that are also other users'
    /// name (see `ShadowedKey`), by lowercase cell text, so that `curie`
    /// and `Curie` make one warning.
    pub(super) shadowed_cells: std::collections::BTreeMap<String, OwnerRows>,
    /// Rows that give contacts to a deactivated user, by user.
    pub(super) inactive_owners: std::collections::BTreeMap<UserId, OwnerRows>,
    /// Warnings about French postal codes La Poste does not list or that
    /// belong to another Pacific collectivity than the address's, up to
    /// `LISTED_DOUBTFUL_POSTAL_CODES`, and the number of the others.
    pub(super) doubtful_postal_codes: (Vec<String>, u64),
    /// Rows rejected because their « N° Relais » names no contact, or one
    /// with another name: the numbers of another base's export.
    pub(super) foreign_numbers: u64,
    pub(super) session: &'a mut dyn ImportSession,
}

/// Doubtful postal codes an import report lists one by one.
pub(super) const LISTED_DOUBTFUL_POSTAL_CODES: usize = 10;

/// Owner cells with another name than their user's that an import report
/// lists one by one.
pub(super) const LISTED_NAME_MISMATCHES: usize = 20;

/// Rows of the file that a warning is about, all naming one owner: an
/// owner cell `Prénom NOM (XY)` whose name is not the name of user XY, or
/// a deactivated user. `user` is the user's display name.
pub(super) struct OwnerRows {
    pub(super) first_line: u64,
    last_line: u64,
    pub(super) rows: u64,
    pub(super) user: String,
}

impl OwnerRows {
    pub(super) fn new(user: &str, line: u64) -> OwnerRows {
        OwnerRows {
            first_line: line,
            last_line: line,
            rows: 1,
            user: user.to_string(),
        }
    }

    /// Counts the row at `line`, once even when both owner cells of the
    /// row are about the same owner.
    pub(super) fn add_line(&mut self, line: u64) {
        if self.last_line != line {
            self.last_line = line;
            self.rows += 1;
        }
    }

    /// Formats the rows for a warning: « ligne 4 » or « ligne 4 et 2 autres ».
    pub(super) fn lines(&self) -> String {
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
    pub(super) fn resolve_pair(
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
        // A user's name or login is words, not markup: a cell such as
        // `Jean DUPONT ()` or `JD.` is a damaged reference to someone, and
        // a user made of it would only hide the mistake. A user created
        // from an e-mail gets it as address, so it must be one `relais
        // user add` would take.
        let uncreatable = not_a_name(reference).or_else(|| {
            if reference.contains('@') {
                crate::domain::user::parse_email(reference)
                    .err()
                    .map(|error| error.to_string())
            } else {
                None
            }
        });
        match (self.create_missing, uncreatable) {
            // The option would not create it either, so it is not offered.
            (false, Some(reason)) => Err(format!(
                "responsable « {reference} » inconnu, et --create-missing-users ne le créerait pas non plus ({reason}) ; corrigez la cellule"
            )),
            (false, None) => Err(format!(
                "responsable « {reference} » inconnu : créez l'utilisateur (relais user add) ou relancez avec --create-missing-users"
            )),
            (true, Some(reason)) => Err(format!(
                "responsable « {reference} » inconnu, et pas créé : {reason} ; corrigez la cellule"
            )),
            (true, None) => Ok(OwnerPlan::Create(reference.to_string())),
        }
    }

    /// Creates the user `--create-missing-users` makes of an owner cell.
    pub(super) fn create(&mut self, reference: &str) -> Result<UserId, String> {
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
        let plain = free_initials(&|_| false, &first_name, &last_name, local_part);
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
        let holder = (user.initials != plain)
            .then(|| self.index.by_initials.get(&plain.to_lowercase()))
            .flatten()
            .and_then(|holder| self.index.names.get(holder))
            .map(|(display, _)| display.clone());
        if let Some(holder) = holder {
            self.numbered.push(format!(
                "responsable « {reference} » créé comme {}, car les initiales {plain} sont celles \
                 de {holder} ; si c'est la même personne, annulez cette importation et écrivez \
                 {plain} dans le fichier",
                user.display_name()
            ));
        }
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
    pub(super) fn by_last_name(&self, reference: &str, key: &str) -> Option<String> {
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
