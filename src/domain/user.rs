//! Sales users, who own contacts.

use serde::Serialize;

/// Numeric id of a user in the database.
pub type UserId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    User,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::User => "user",
        }
    }

    pub fn parse(value: &str) -> Option<UserRole> {
        match value {
            "admin" => Some(UserRole::Admin),
            "user" => Some(UserRole::User),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub initials: String,
    /// Login in the CRM the user came from, used to resolve owners on import.
    pub login: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub role: UserRole,
    pub active: bool,
}

impl User {
    /// Display form used everywhere: `Prénom NOM (INITIALES)`.
    pub fn display_name(&self) -> String {
        display_name(&self.first_name, &self.last_name, &self.initials)
    }
}

/// Formats `Prénom NOM (INITIALES)`, leaving out an empty part.
pub fn display_name(first_name: &str, last_name: &str, initials: &str) -> String {
    let mut parts = Vec::new();
    if !first_name.is_empty() {
        parts.push(first_name.to_string());
    }
    if !last_name.is_empty() {
        parts.push(last_name.to_uppercase());
    }
    parts.push(format!("({initials})"));
    parts.join(" ")
}

/// Folds an e-mail address or a login for comparison. Case is ignored in
/// every alphabet (`ÉLODIE@…` is `élodie@…`), the same way on both
/// engines: SQLite's `lower` only folds ASCII letters, and PostgreSQL's
/// depends on the database's locale.
pub fn fold_key(value: &str) -> String {
    value.trim().to_lowercase()
}

/// Returns the user a key names: by initials first, then by login, then
/// by e-mail, each ignoring case.
pub fn find_by_key<'a>(users: &'a [User], key: &str) -> Option<&'a User> {
    let key = fold_key(key);
    let same =
        |value: &Option<String>| value.as_deref().is_some_and(|value| fold_key(value) == key);
    users
        .iter()
        .find(|user| user.initials.to_lowercase() == key)
        .or_else(|| users.iter().find(|user| same(&user.login)))
        .or_else(|| users.iter().find(|user| same(&user.email)))
}

/// Sorts users for every list and picker: active ones first, then by last
/// and first name with case and accents ignored (« Élise » between « Eric »
/// and « Francis »), then by initials. The order is the same on both
/// engines, whatever the database's collation.
pub fn sort_for_lists(users: &mut [User]) {
    users.sort_by_cached_key(|user| {
        (
            !user.active,
            crate::domain::search::fold_for_search(&user.last_name),
            crate::domain::search::fold_for_search(&user.first_name),
            user.initials.clone(),
        )
    });
}

/// A new user, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    pub initials: String,
    pub login: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub role: UserRole,
    pub active: bool,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserInputError {
    #[error(
        "initiales « {0} » invalides : utilisez de 1 à 12 lettres sans accent ou chiffres, sans espace (exemple : BB)"
    )]
    Initials(String),
    #[error("{field} : ce champ est obligatoire")]
    Missing { field: &'static str },
    #[error("e-mail « {0} » invalide : une adresse s'écrit nom@domaine.fr")]
    Email(String),
}

/// Maximum length of a user's first name, last name or login, in
/// characters: enough for any real name, short enough for the user lists.
pub const MAX_NAME_CHARS: usize = 100;

/// Normalises initials to uppercase and checks them: 1 to 12 ASCII letters
/// or digits, so that they can be typed on any keyboard and in a URL.
pub fn parse_initials(input: &str) -> Result<String, UserInputError> {
    let value = input.trim().to_uppercase();
    if value.is_empty() {
        return Err(UserInputError::Missing { field: "initiales" });
    }
    let valid =
        !value.is_empty() && value.len() <= 12 && value.chars().all(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(value)
    } else {
        Err(UserInputError::Initials(input.to_string()))
    }
}

/// Checks an e-mail address loosely: one `@` with text on both sides.
pub fn parse_email(input: &str) -> Result<Option<String>, UserInputError> {
    let value = input.trim();
    if value.is_empty() {
        return Ok(None);
    }
    // A display name or brackets around the address (`Zoé <z@exemple.fr>`),
    // as mail clients copy it, is not part of the address.
    let markup = value
        .chars()
        .any(|c| c.is_whitespace() || "<>()[],;:\"".contains(c));
    match value.split_once('@') {
        Some((local, domain))
            if !markup
                && !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@') =>
        {
            Ok(Some(value.to_string()))
        }
        _ => Err(UserInputError::Email(value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: UserId, initials: &str, first: &str, last: &str) -> User {
        User {
            id,
            initials: initials.to_string(),
            login: None,
            first_name: first.to_string(),
            last_name: last.to_string(),
            email: None,
            role: UserRole::User,
            active: true,
        }
    }

    #[test]
    fn key_matches_accented_capitals() {
        let mut elodie = user(1, "EM", "Élodie", "Martin");
        elodie.email = Some("élodie@exemple.fr".to_string());
        elodie.login = Some("hélène".to_string());
        let users = vec![user(2, "JD", "Jean", "Dupont"), elodie];

        assert_eq!(
            find_by_key(&users, " ÉLODIE@EXEMPLE.FR ").map(|u| u.id),
            Some(1)
        );
        assert_eq!(find_by_key(&users, "HÉLÈNE").map(|u| u.id), Some(1));
        assert_eq!(find_by_key(&users, "jd").map(|u| u.id), Some(2));
        assert_eq!(find_by_key(&users, "élodie"), None);
    }

    #[test]
    fn initials_come_before_a_login_that_spells_them() {
        let mut login_jd = user(1, "XX", "Xavier", "Xu");
        login_jd.login = Some("jd".to_string());
        let users = vec![login_jd, user(2, "JD", "Jean", "Dupont")];

        assert_eq!(find_by_key(&users, "JD").map(|u| u.id), Some(2));
    }

    #[test]
    fn lists_sort_as_a_french_reader_does() {
        let mut users = vec![
            user(1, "EB", "Eric", "Baker"),
            user(2, "BB", "bob", "Baker"),
            user(3, "ZZ", "Zoé", "Zola"),
            user(4, "EL", "Élise", "Baker"),
            user(5, "OE", "Œdipe", "Œuvre"),
            user(6, "AA", "Anne", "de la Tour"),
        ];
        users[2].active = false;

        sort_for_lists(&mut users);

        let order: Vec<&str> = users.iter().map(|u| u.initials.as_str()).collect();
        assert_eq!(order, ["BB", "EL", "EB", "AA", "OE", "ZZ"]);
    }

    #[test]
    fn display_name_uppercases_last_name() {
        assert_eq!(
            display_name("Baptiste", "Bonchamps", "BB"),
            "Baptiste BONCHAMPS (BB)"
        );
        assert_eq!(display_name("", "Bonchamps", "BB"), "BONCHAMPS (BB)");
    }

    #[test]
    fn initials_are_uppercased_and_checked() {
        assert_eq!(parse_initials(" bb ").as_deref(), Ok("BB"));
        assert!(parse_initials("").is_err());
        assert!(parse_initials("B B").is_err());
        assert!(parse_initials("B%").is_err());
        assert!(parse_initials("ABCDEFGHIJKLM").is_err());
    }

    #[test]
    fn email_needs_local_part_and_domain() {
        assert_eq!(parse_email("").unwrap(), None);
        assert_eq!(parse_email("a@b.fr").unwrap().as_deref(), Some("a@b.fr"));
        assert!(parse_email("ab.fr").is_err());
        assert!(parse_email("@b.fr").is_err());
        assert!(parse_email("a@b").is_err());
        assert!(parse_email("Zed Q <zq@exemple.fr>").is_err());
        assert!(parse_email("<zq@exemple.fr>").is_err());
        assert!(parse_email("zq@exemple.fr.").is_err());
    }
}
