//! Secrets handed to clients: API tokens and session ids. Only their
//! SHA-256 hashes are stored, so a copy of the database reveals none.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::domain::history::format_paris_moment;
use crate::domain::user::User;
use crate::storage::{
    API_TOKEN_USE_INTERVAL_SECONDS, ApiToken, ApiTokenId, Store, StoreError, StoredToken,
    TokenRevocation,
};

use super::ServiceError;

/// Places where an administrator finds token numbers, quoted in errors.
const WHERE_TO_LIST: &str = "« relais token list » ou l'écran Utilisateurs";

/// Generates a random secret: 32 bytes, hex-encoded, after a prefix naming its use.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Maximum length of an API token's label, in characters: enough for a
/// sentence, short enough for the token list.
pub const MAX_LABEL_CHARS: usize = 100;

/// Creates an API token for `user` and returns it; it cannot be shown again.
pub fn create_api_token(
    store: &dyn Store,
    user: &User,
    label: &str,
) -> Result<String, ServiceError> {
    match create_form_api_token(store, user, label, None)? {
        NewToken::Created { secret, .. } => Ok(secret),
        NewToken::SentBefore(id) => Err(ServiceError::Store(StoreError::Database(format!(
            "token {id} reported as sent before, for a request without a form key"
        )))),
    }
}

/// Outcome of a token request sent from a form.
#[derive(Debug)]
pub enum NewToken {
    /// The token was created; its secret is shown this once.
    Created { id: ApiTokenId, secret: String },
    /// An earlier sending of the same form created this token, whose
    /// secret cannot be shown again; nothing was created.
    SentBefore(ApiTokenId),
}

/// Creates an API token as `create_api_token` does, for a form whose
/// sendings share the scoped key `submission`: only its first sending
/// creates a token, whichever server receives it.
pub fn create_form_api_token(
    store: &dyn Store,
    user: &User,
    label: &str,
    submission: Option<&str>,
) -> Result<NewToken, ServiceError> {
    if !user.active {
        return Err(ServiceError::invalid(
            "inactive_user",
            "user",
            format!(
                "utilisateur : le compte {} est désactivé ; réactivez-le avant de créer un jeton",
                crate::french::de(&user.display_name())
            ),
        ));
    }
    if let Some(message) = super::users::control_character("libellé", label) {
        return Err(ServiceError::invalid("control_character", "label", message));
    }
    let length = label.chars().count();
    if length > MAX_LABEL_CHARS {
        return Err(ServiceError::invalid(
            "label_too_long",
            "label",
            format!(
                "libellé : {} caractères, {MAX_LABEL_CHARS} au plus ; raccourcissez-le",
                crate::french::count(length as u64)
            ),
        ));
    }
    let secret = new_secret("relais_");
    match store.create_api_token(user.id, &hash_secret(&secret), label, submission)? {
        StoredToken::Created(id) => {
            tracing::info!(token.id = id, user.id = user.id, "API token created");
            Ok(NewToken::Created { id, secret })
        }
        StoredToken::SentBefore(id) => {
            // A page sent again after its fields were edited (Back, another
            // user, Send) must not get the notice that its token exists.
            let first = store
                .list_api_tokens(None)?
                .into_iter()
                .find(|token| token.id == id);
            let (field, name) = match &first {
                Some(token) if token.user.id != user.id => ("user", "utilisateur"),
                Some(token) if token.label != label => ("label", "libellé"),
                Some(_) => {
                    tracing::info!(token.id = id, "token form sent again; no token created");
                    return Ok(NewToken::SentBefore(id));
                }
                None => ("user", "utilisateur"),
            };
            tracing::warn!(
                token.id = id,
                user.id = user.id,
                "token form sent again with other values; nothing created"
            );
            let created = first.map_or_else(String::new, |token| {
                format!(
                    " {}, libellé « {} »",
                    crate::french::de(&token.user.display_name()),
                    token.label
                )
            });
            Err(ServiceError::invalid(
                "token_form_reused",
                field,
                format!(
                    "{name} : ce formulaire a déjà créé le jeton n° {id}{created}, et rien n'a été créé cette fois ; rechargez la page pour créer un autre jeton"
                ),
            ))
        }
    }
}

/// Lists the tokens of `user`, or of every user, newest first. The records
/// hold neither secrets nor hashes.
pub fn list_api_tokens(
    store: &dyn Store,
    user: Option<&User>,
) -> Result<Vec<ApiToken>, ServiceError> {
    let tokens = store.list_api_tokens(user.map(|user| user.id))?;
    tracing::info!(
        user.id = user.map(|user| user.id),
        tokens.count = tokens.len(),
        "API tokens listed"
    );
    Ok(tokens)
}

/// Parses a token number as typed, `12` or `n° 12`.
pub fn parse_token_id(text: &str) -> Result<ApiTokenId, ServiceError> {
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("n°")
        .or_else(|| trimmed.strip_prefix('#'))
        .unwrap_or(trimmed)
        .trim();
    match digits.parse::<ApiTokenId>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ServiceError::invalid(
            "invalid_token_id",
            "token",
            format!(
                "jeton : « {trimmed} » n'est pas un numéro de jeton ; les numéros sont donnés par {WHERE_TO_LIST}"
            ),
        )),
    }
}

/// Revokes a token for good: the API rejects it from then on, even if its
/// user is deactivated and reactivated. An unknown or already revoked
/// token is an error, and nothing changes.
pub fn revoke_api_token(store: &dyn Store, id: ApiTokenId) -> Result<ApiToken, ServiceError> {
    match store.revoke_api_token(id, Utc::now())? {
        TokenRevocation::Revoked(token) => {
            tracing::info!(token.id = id, user.id = token.user.id, "API token revoked");
            Ok(token)
        }
        TokenRevocation::AlreadyRevoked(token) => {
            tracing::info!(
                token.id = id,
                user.id = token.user.id,
                "API token revocation rejected: already revoked"
            );
            let revoked_at = token
                .revoked_at
                .map(format_paris_moment)
                .unwrap_or_default();
            Err(StoreError::rejected(
                "token_already_revoked",
                format!(
                    "jeton n° {id} (« {} », {}) : déjà révoqué le {revoked_at} ; rien n'a été modifié. Si cet utilisateur a encore besoin de l'API, créez-lui un nouveau jeton",
                    token.label,
                    token.user.display_name()
                ),
            )
            .into())
        }
        TokenRevocation::NotFound => {
            tracing::info!(
                token.id = id,
                "API token revocation rejected: unknown token"
            );
            Err(ServiceError::invalid(
                "unknown_token",
                "token",
                format!(
                    "jeton n° {id} : aucun jeton d'API ne porte ce numéro ; rien n'a été modifié. Vérifiez le numéro avec {WHERE_TO_LIST}"
                ),
            ))
        }
    }
}

/// Tokens whose last use a server checked less than
/// `API_TOKEN_USE_INTERVAL_SECONDS` ago, with the time of that check. The
/// store's update only writes a use older than that interval, so skipping
/// the call for these tokens changes nothing stored, and saves a query on
/// most authenticated API calls.
#[derive(Default)]
pub struct TokenUses {
    checked: Mutex<HashMap<String, Instant>>,
}

/// Entries of a `TokenUses` above which the expired ones are dropped.
const CHECKED_USES_PRUNE_AT: usize = 10_000;

impl TokenUses {
    pub fn new() -> TokenUses {
        TokenUses::default()
    }

    /// Tells whether `token_hash` was checked within the interval, and if
    /// not, notes that it is checked now.
    fn checked_recently(&self, token_hash: &str) -> bool {
        let interval = Duration::from_secs(API_TOKEN_USE_INTERVAL_SECONDS.unsigned_abs());
        let now = Instant::now();
        let Ok(mut checked) = self.checked.lock() else {
            return false;
        };
        if checked
            .get(token_hash)
            .is_some_and(|at| now.duration_since(*at) < interval)
        {
            return true;
        }
        if checked.len() >= CHECKED_USES_PRUNE_AT {
            checked.retain(|_, at| now.duration_since(*at) < interval);
        }
        checked.insert(token_hash.to_string(), now);
        false
    }
}

/// Records that a token was just used. The store writes at most one use a
/// minute per token. A failure is logged and otherwise ignored, because
/// the API call was already authenticated and goes on.
pub fn note_api_token_use(store: &dyn Store, uses: &TokenUses, token_hash: &str) {
    if uses.checked_recently(token_hash) {
        return;
    }
    match store.record_api_token_use(token_hash, Utc::now()) {
        Ok(_) => {}
        Err(StoreError::Busy) => {
            tracing::debug!("API token use not recorded: the database is busy; a later call will")
        }
        Err(error) => tracing::warn!(%error, "API token use not recorded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_use_checked_once_per_interval() {
        let token = hash_secret(&new_secret("relais_"));
        let other = hash_secret(&new_secret("relais_"));

        let uses = TokenUses::new();

        assert!(!uses.checked_recently(&token));
        assert!(uses.checked_recently(&token));
        assert!(!uses.checked_recently(&other));
        assert!(!TokenUses::new().checked_recently(&token));
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let first = new_secret("relais_");
        let second = new_secret("relais_");

        assert!(first.starts_with("relais_"));
        assert_eq!(first.len(), "relais_".len() + 64);
        assert_ne!(first, second);
    }

    #[test]
    fn token_id_accepts_number_forms() {
        assert_eq!(parse_token_id("12").unwrap(), 12);
        assert_eq!(parse_token_id(" n° 12 ").unwrap(), 12);
        assert_eq!(parse_token_id("#7").unwrap(), 7);
    }

    #[test]
    fn token_id_rejects_other_text() {
        for text in ["", "abc", "0", "-3", "relais_abcdef"] {
            let error = parse_token_id(text).unwrap_err();
            assert_eq!(error.code(), "invalid_token_id", "{text:?}");
            assert!(
                error.to_string().contains("relais token list"),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
