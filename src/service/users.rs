//! Creating and changing users, and hashing their passwords.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::user::{
    MAX_NAME_CHARS, NewUser, User, UserRole, fold_key, parse_email, parse_initials,
};
use crate::storage::Store;

use super::ServiceError;

/// Minimum password length, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A user as entered on the CLI or the users page.
#[derive(Clone, Debug, Default)]
pub struct UserForm {
    pub initials: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub login: String,
    pub admin: bool,
    pub password: Option<String>,
}

/// Checks every field of a user form, and that its initials, e-mail and
/// login are not another user's, so that a screen can show each problem
/// next to its field at once. Returns the problems as (field, message)
/// pairs in form order, none when `add_user` can create the user. The
/// store's own check stays, for a user created meanwhile.
pub fn user_form_problems(
    store: &dyn Store,
    form: &UserForm,
) -> Result<Vec<(&'static str, String)>, ServiceError> {
    let users = store.list_users()?;
    let mut problems = Vec::new();
    match parse_initials(&form.initials) {
        Err(error) => problems.push(("initials", error.to_string())),
        Ok(_) => problems.extend(initials_taken(&users, form)),
    }
    if form.first_name.trim().is_empty() && form.last_name.trim().is_empty() {
        problems.push((
            "last_name",
            "nom : indiquez au moins un nom ou un prénom".to_string(),
        ));
    }
    let (login_length, name_lengths): (Vec<_>, Vec<_>) = text_problems(form)
        .into_iter()
        .map(|(field, _, message)| (field, message))
        .partition(|(field, _)| *field == "login");
    problems.extend(name_lengths);
    if let Some(message) = control_character("e-mail", &form.email) {
        problems.push(("email", message));
    } else {
        match parse_email(&form.email) {
            Err(error) => problems.push(("email", error.to_string())),
            Ok(Some(_)) => problems.extend(email_taken(&users, form)),
            Ok(None) => {}
        }
    }
    problems.extend(login_length);
    problems.extend(login_taken(&users, form));
    for (field, message) in identifier_clashes(&users, form) {
        if !problems.iter().any(|(reported, _)| *reported == field) {
            problems.push((field, message));
        }
    }
    if let Some(problem) = form.password.as_deref().and_then(password_problem) {
        problems.push(("password", problem));
    }
    Ok(problems)
}

/// Returns the problem of a form whose initials another user has.
fn initials_taken(users: &[User], form: &UserForm) -> Option<(&'static str, String)> {
    let initials = parse_initials(&form.initials).ok()?;
    users.iter().any(|user| user.initials == initials).then(|| {
        (
            "initials",
            format!(
                "initiales : un autre utilisateur a déjà les initiales « {initials} » ; choisissez-en d'autres"
            ),
        )
    })
}

/// Returns the problem of a form whose e-mail another user has, case
/// ignored in every alphabet.
fn email_taken(users: &[User], form: &UserForm) -> Option<(&'static str, String)> {
    let email = form.email.trim();
    let in_use = !email.is_empty()
        && users.iter().any(|user| {
            user.email
                .as_deref()
                .is_some_and(|other| fold_key(other) == fold_key(email))
        });
    in_use.then(|| {
        (
            "email",
            format!(
                "e-mail : « {email} » est déjà celui d'un autre utilisateur ; indiquez-en un autre ou laissez le champ vide"
            ),
        )
    })
}

/// Returns the problem of a form whose login another user has, case
/// ignored in every alphabet.
fn login_taken(users: &[User], form: &UserForm) -> Option<(&'static str, String)> {
    let login = form.login.trim();
    let in_use = !login.is_empty()
        && users.iter().any(|user| {
            user.login
                .as_deref()
                .is_some_and(|other| fold_key(other) == fold_key(login))
        });
    in_use.then(|| {
        (
            "login",
            format!(
                "identifiant : « {login} » est déjà celui d'un autre utilisateur ; indiquez-en un autre ou laissez le champ vide"
            ),
        )
    })
}

/// Returns whether one of `users` signs in with `candidate` as initials,
/// e-mail or login, ignoring case: the login page accepts all three.
pub(super) fn signs_in_as(users: &[User], candidate: &str) -> bool {
    let candidate = candidate.to_lowercase();
    users.iter().any(|user| {
        user.initials.to_lowercase() == candidate
            || user.email.as_deref().map(str::to_lowercase) == Some(candidate.clone())
            || user.login.as_deref().map(str::to_lowercase) == Some(candidate.clone())
    })
}

/// Finds the form's initials, e-mail or login that another user signs in
/// with under another kind: the login page takes any of the three, so a
/// login equal to someone's e-mail would let only one of them in.
pub(super) fn identifier_clashes(users: &[User], form: &UserForm) -> Vec<(&'static str, String)> {
    let own = |user: &User| -> Vec<(&'static str, String)> {
        let mut identifiers = vec![("initials", user.initials.to_lowercase())];
        if let Some(email) = &user.email {
            identifiers.push(("email", email.to_lowercase()));
        }
        if let Some(login) = &user.login {
            identifiers.push(("login", login.to_lowercase()));
        }
        identifiers
    };
    let kind_fr = |kind: &str| match kind {
        "initials" => "les initiales",
        "email" => "l'e-mail",
        _ => "l'identifiant",
    };
    let label_fr = |field: &str| match field {
        "initials" => "initiales",
        "email" => "e-mail",
        _ => "identifiant",
    };
    let typed = [
        ("initials", form.initials.trim()),
        ("email", form.email.trim()),
        ("login", form.login.trim()),
    ];
    let mut clashes = Vec::new();
    for (field, value) in typed {
        if value.is_empty() {
            continue;
        }
        let requested = value.to_lowercase();
        let clash = users.iter().find_map(|user| {
            own(user)
                .into_iter()
                .find(|(kind, identifier)| *kind != field && *identifier == requested)
                .map(|(kind, _)| (kind, user))
        });
        if let Some((kind, user)) = clash {
            clashes.push((
                field,
                format!(
                    "{} : « {value} » est déjà {} {}, et la connexion accepte l'un comme l'autre ; choisissez-en un autre",
                    label_fr(field),
                    kind_fr(kind),
                    crate::french::de(&user.display_name())
                ),
            ));
        }
    }
    clashes
}

/// Returns the message for a name or login longer than `MAX_NAME_CHARS`,
/// `None` when it fits.
pub fn too_long(label: &str, value: &str) -> Option<String> {
    let length = value.trim().chars().count();
    (length > MAX_NAME_CHARS).then(|| {
        format!(
            "{label} : {} caractères, {MAX_NAME_CHARS} au plus ; raccourcissez-le",
            crate::french::count(length as u64)
        )
    })
}

/// Returns the message for a value holding a control character, which
/// no name needs and PostgreSQL cannot store (NUL), `None` when it has
/// none.
pub fn control_character(label: &str, value: &str) -> Option<String> {
    let (position, found) = value.chars().enumerate().find(|(_, c)| c.is_control())?;
    Some(format!(
        "{label} : caractère de contrôle invisible (U+{:04X}) en position {} ; retirez-le",
        u32::from(found),
        position + 1
    ))
}

/// Returns the problems of the names and login holding a control
/// character or longer than `MAX_NAME_CHARS`, in form order, as (field,
/// error code, message).
fn text_problems(form: &UserForm) -> Vec<(&'static str, &'static str, String)> {
    [
        ("first_name", "prénom", &form.first_name),
        ("last_name", "nom", &form.last_name),
        ("login", "identifiant", &form.login),
    ]
    .into_iter()
    .filter_map(|(field, label, value)| {
        let problem = match control_character(label, value) {
            Some(message) => Some(("control_character", message)),
            None => too_long(label, value).map(|message| ("value_too_long", message)),
        };
        problem.map(|(code, message)| (field, code, message))
    })
    .collect()
}

pub fn add_user(store: &dyn Store, form: &UserForm) -> Result<User, ServiceError> {
    let users = store.list_users()?;
    // Initials first, so that the same user added twice gets the error on
    // its initials, its first identifier.
    if let Some((field, message)) = initials_taken(&users, form)
        .into_iter()
        .chain(email_taken(&users, form))
        .chain(login_taken(&users, form))
        .chain(identifier_clashes(&users, form))
        .next()
    {
        return Err(ServiceError::invalid("user_exists", field, message));
    }
    let initials = parse_initials(&form.initials).map_err(|error| {
        ServiceError::invalid("invalid_initials", "initials", error.to_string())
    })?;
    let first_name = form.first_name.trim().to_string();
    let last_name = form.last_name.trim().to_string();
    if last_name.is_empty() && first_name.is_empty() {
        return Err(ServiceError::invalid(
            "missing_name",
            "last_name",
            "nom : indiquez au moins un nom ou un prénom",
        ));
    }
    if let Some((field, code, message)) = text_problems(form).into_iter().next() {
        return Err(ServiceError::invalid(code, field, message));
    }
    if let Some(message) = control_character("e-mail", &form.email) {
        return Err(ServiceError::invalid("control_character", "email", message));
    }
    let email = parse_email(&form.email)
        .map_err(|error| ServiceError::invalid("invalid_email", "email", error.to_string()))?;
    let password_hash = match &form.password {
        None => None,
        Some(password) => Some(hash_password(password)?),
    };
    let login = Some(form.login.trim().to_string()).filter(|login| !login.is_empty());

    let user = store.create_user(&NewUser {
        initials,
        login,
        first_name,
        last_name,
        email,
        role: if form.admin {
            UserRole::Admin
        } else {
            UserRole::User
        },
        active: true,
        password_hash,
    })?;
    tracing::info!(user.id = user.id, user.initials = %user.initials, "user created");
    Ok(user)
}

/// Finds the user a key names, or returns the error naming the key.
fn existing_user(store: &dyn Store, key: &str) -> Result<User, ServiceError> {
    store.find_user(key)?.ok_or_else(|| {
        ServiceError::invalid(
            "unknown_user",
            "user",
            format!("utilisateur : aucun utilisateur « {} » ; vérifiez ses initiales (relais user list)", key.trim()),
        )
    })
}

/// Converts the store's rejection of a change that would leave no active
/// administrator into an error on `field` with `message`, which names the
/// user.
fn keep_last_admin(
    result: crate::storage::StoreResult<()>,
    field: &'static str,
    message: String,
) -> Result<(), ServiceError> {
    match result {
        Err(crate::storage::StoreError::Rejected {
            code: "last_admin", ..
        }) => Err(ServiceError::invalid("last_admin", field, message)),
        other => Ok(other?),
    }
}

pub fn set_active(store: &dyn Store, key: &str, active: bool) -> Result<User, ServiceError> {
    let user = existing_user(store, key)?;
    keep_last_admin(
        store.set_user_active(user.id, active),
        "user",
        format!(
            "utilisateur : {} est le seul compte administrateur actif ; donnez d'abord le rôle administrateur à un autre utilisateur (relais user role), puis désactivez ce compte",
            user.display_name()
        ),
    )?;
    tracing::info!(user.id = user.id, user.initials = %user.initials, user.active = active, "user active flag changed");
    if !active {
        tracing::info!(
            user.id = user.id,
            "sessions of the deactivated user ended and their API tokens revoked"
        );
    }
    Ok(User { active, ..user })
}

/// Reads a role as typed: `admin` or `user`, or their French names.
pub fn parse_role(value: &str) -> Result<UserRole, ServiceError> {
    match value.trim().to_lowercase().as_str() {
        "admin" | "administrateur" | "administratrice" => Ok(UserRole::Admin),
        "user" | "utilisateur" | "utilisatrice" => Ok(UserRole::User),
        "" => Err(ServiceError::invalid(
            "invalid_role",
            "role",
            "rôle : indiquez admin (administrateur) ou user (utilisateur)",
        )),
        _ => Err(ServiceError::invalid(
            "invalid_role",
            "role",
            format!(
                "rôle : « {} » inconnu ; choisissez admin (administrateur) ou user (utilisateur)",
                value.trim()
            ),
        )),
    }
}

/// Gives a user a role. The last active administrator keeps theirs, so
/// that someone can still reach the administration screens.
pub fn set_role(store: &dyn Store, key: &str, role: UserRole) -> Result<User, ServiceError> {
    let user = existing_user(store, key)?;
    keep_last_admin(
        store.set_user_role(user.id, role),
        "role",
        format!(
            "rôle : {} est le seul compte administrateur actif ; donnez d'abord ce rôle à un autre utilisateur",
            user.display_name()
        ),
    )?;
    tracing::info!(user.id = user.id, user.initials = %user.initials, user.role = role.as_str(), "user role changed");
    Ok(User { role, ..user })
}

pub fn set_password(store: &dyn Store, user: &User, password: &str) -> Result<(), ServiceError> {
    let hash = hash_password(password)?;
    store.set_user_password(user.id, &hash)?;
    tracing::info!(
        user.id = user.id,
        "user password changed and sessions ended"
    );
    Ok(())
}

/// Returns why a password is too weak to be set, or `None` when it is
/// long enough. Spaces do not count towards the length, so that a
/// passphrase is accepted but ten spaces are not.
fn password_problem(password: &str) -> Option<String> {
    // Zero-width and other invisible format characters count as spaces:
    // ten of them are as blank as ten spaces.
    let invisible = |c: char| {
        c.is_whitespace()
            || matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
    };
    let counted = password.chars().filter(|&c| !invisible(c)).count();
    if counted >= MIN_PASSWORD_CHARS {
        None
    } else if counted == 0 && !password.is_empty() {
        Some(format!(
            "mot de passe : des espaces seuls, visibles ou non, ne font pas un mot de passe ; \
             choisissez au moins {MIN_PASSWORD_CHARS} lettres, chiffres ou signes"
        ))
    } else {
        Some(format!(
            "mot de passe : {MIN_PASSWORD_CHARS} caractères au minimum, espaces non comptés"
        ))
    }
}

/// Hashes with Argon2id, a memory-hard function, and a random salt.
pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    if let Some(problem) = password_problem(password) {
        return Err(ServiceError::invalid("weak_password", "password", problem));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| ServiceError::invalid("weak_password", "password", error.to_string()))
}

/// Checks a password against a stored Argon2 hash in constant time.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Derives free initials for a user created from a CRM login or name:
/// first letters of first and last name, else the login, uppercased and
/// cut to 12 characters, then suffixed with 2, 3… until free.
pub fn free_initials(
    taken: &dyn Fn(&str) -> bool,
    first_name: &str,
    last_name: &str,
    login: &str,
) -> String {
    let letters = |text: &str| -> String {
        deunicode::deunicode(text)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_uppercase()
    };
    let first = letters(first_name);
    let last = letters(last_name);
    let base = if !first.is_empty() && !last.is_empty() {
        format!("{}{}", &first[..1], &last[..1])
    } else {
        let from_login = letters(login);
        if from_login.is_empty() {
            "U".to_string()
        } else {
            from_login
        }
    };
    let base: String = base.chars().take(10).collect();
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_password_is_rejected() {
        let error = hash_password("          ").unwrap_err();
        assert_eq!(error.code(), "weak_password");
        assert!(error.to_string().contains("des espaces seuls"), "{error}");

        let invisible = hash_password(&"\u{200B}".repeat(10)).unwrap_err();
        assert!(
            invisible.to_string().contains("des espaces seuls"),
            "{invisible}"
        );

        let padded = hash_password("abc       ").unwrap_err();
        assert!(
            padded.to_string().contains("espaces non comptés"),
            "{padded}"
        );

        assert!(hash_password("le  chat  dort  bien").is_ok());
    }

    #[test]
    fn password_hash_verifies_and_rejects() {
        let hash = hash_password("correct horse battery").unwrap();

        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
    }

    #[test]
    fn short_password_is_rejected() {
        let error = hash_password("court").unwrap_err();
        assert_eq!(error.field(), Some("password"));
    }

    #[test]
    fn initials_come_from_names_then_login() {
        let none = |_: &str| false;
        assert_eq!(
            free_initials(&none, "Albert", "Einstein", "aeinstein"),
            "AE"
        );
        assert_eq!(free_initials(&none, "", "", "demo"), "DEMO");
        assert_eq!(free_initials(&none, "Élodie", "Ébert", ""), "EE");
    }

    #[test]
    fn taken_initials_get_a_number() {
        let taken = |candidate: &str| candidate == "PC" || candidate == "PC2";
        assert_eq!(free_initials(&taken, "Pierre", "Curie", "pcurie"), "PC3");
    }
}
