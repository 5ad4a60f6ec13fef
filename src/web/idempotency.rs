//! Idempotency keys of the runs: a hidden field in each form that runs an
//! operation, and the `Idempotency-Key` header of the API. The store keeps
//! the key with the batch it produced and returns that batch's result when
//! the key comes again.

use super::error::AppError;
use crate::service::ServiceError;
use crate::storage::StoreError;

/// Generates the idempotency key of a form that runs an operation, so that
/// sending the same form twice runs it once.
pub fn new_form_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub use crate::service::reassign::MAX_IDEMPOTENCY_KEY_LEN;

/// Checks an idempotency key sent by a client and scopes it to the user, so
/// that two users' keys never meet.
pub fn scoped_idempotency_key(user_id: i64, key: &str) -> Result<String, AppError> {
    let key = key.trim();
    let valid = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(AppError::bad_request(
            "invalid_idempotency_key",
            "la clé qui protège ce formulaire d'un double envoi est invalide : rechargez la page et validez de nouveau",
        ));
    }
    Ok(format!("user-{user_id}:{key}"))
}

/// Rewrites the store's rejection of a key reused with other parameters
/// for a form, whose user never sees the key. The API's message quotes the
/// key and requests a new one. Other errors pass unchanged.
pub fn form_key_error(error: AppError) -> AppError {
    match error {
        AppError::Service(ServiceError::Store(StoreError::Rejected {
            code: code @ "idempotency_key_reused",
            ..
        })) => AppError::Service(ServiceError::Store(StoreError::rejected(
            code,
            "Ce formulaire a déjà été validé avec d'autres valeurs : rien n'a été modifié cette fois. Rechargez le formulaire (ou ouvrez-le de nouveau depuis le menu Admin), puis validez-le pour lancer une nouvelle opération.",
        ))),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_scoped_to_its_user() {
        assert_eq!(
            scoped_idempotency_key(7, " abc-1 ").ok().as_deref(),
            Some("user-7:abc-1")
        );
        assert_ne!(
            scoped_idempotency_key(7, "k").ok(),
            scoped_idempotency_key(8, "k").ok()
        );
    }

    #[test]
    fn blank_long_or_non_ascii_key_is_rejected() {
        assert!(scoped_idempotency_key(1, "").is_err());
        assert!(scoped_idempotency_key(1, &"x".repeat(MAX_IDEMPOTENCY_KEY_LEN + 1)).is_err());
        assert!(scoped_idempotency_key(1, "clé").is_err());
        assert!(scoped_idempotency_key(1, "a b").is_err());
    }
}
