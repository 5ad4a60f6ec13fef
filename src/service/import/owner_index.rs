//! The users of the base by every key an owner cell may give: initials,
//! login, e-mail, and the folded full name.

use std::collections::HashMap;

use crate::domain::user::{User, UserId};

/// Owners as found in files: initials, login or e-mail, in any case.
pub(super) struct OwnerIndex {
    pub(super) by_key: HashMap<String, UserId>,
    /// Users by lowercase initials only, for owners in display form.
    pub(super) by_initials: HashMap<String, UserId>,
    pub(super) initials: std::collections::HashSet<String>,
    /// Display name and name key (see `name_key`) of each user.
    pub(super) names: HashMap<UserId, (String, String)>,
    /// Name keys of each user's last name and first name alone.
    pub(super) last_names: HashMap<UserId, String>,
    pub(super) first_names: HashMap<UserId, String>,
    /// Users of the base who are deactivated.
    pub(super) inactive: std::collections::HashSet<UserId>,
    /// Lowercase logins and initials of users of the base that are also
    /// other users' last or first name.
    pub(super) shadowed: HashMap<String, ShadowedKey>,
}

/// A login or initials of one user that is also the last name, or else
/// the first name, of other users: `martin`, login of Alice MARTIN and
/// last name of Bob MARTIN. A cell with it goes to the first user.
pub(super) struct ShadowedKey {
    pub(super) user: UserId,
    /// The login or initials as the user has them.
    pub(super) key: String,
    /// « l'identifiant » or « les initiales ».
    pub(super) key_kind: &'static str,
    /// « nom de famille » or « prénom ».
    pub(super) name_kind: &'static str,
    /// Display names of the other users, by id.
    pub(super) others: Vec<String>,
}

impl OwnerIndex {
    pub(super) fn new(users: &[User]) -> OwnerIndex {
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
    pub(super) fn add_created(&mut self, user: &User) {
        self.by_key.insert(user.initials.to_lowercase(), user.id);
        self.initials.insert(user.initials.clone());
        let full_name = format!("{} {}", user.first_name, user.last_name);
        self.names
            .insert(user.id, (user.display_name(), name_key(&full_name)));
        self.last_names.insert(user.id, name_key(&user.last_name));
        self.first_names.insert(user.id, name_key(&user.first_name));
    }

    pub(super) fn get(&self, reference: &str) -> Option<UserId> {
        self.by_key.get(&reference.trim().to_lowercase()).copied()
    }
}

/// Returns the words of a name, folded and sorted, so that case, accents,
/// hyphens and word order do not count: `Jean-Pierre DUPONT` and
/// `dupont jean pierre` give the same key.
pub(crate) fn name_key(name: &str) -> String {
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
