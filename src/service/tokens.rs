//! Secrets handed to clients: API tokens and session ids. Only their
//! SHA-256 hashes are stored, so a copy of the database reveals none.

use sha2::{Digest, Sha256};

use crate::domain::user::User;
use crate::storage::Store;

use super::ServiceError;

/// Generates a random secret: 32 bytes, hex-encoded, after a prefix naming its use.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates an API token for `user` and returns it; it cannot be shown again.
pub fn create_api_token(
    store: &dyn Store,
    user: &User,
    label: &str,
) -> Result<String, ServiceError> {
    if !user.active {
        return Err(ServiceError::invalid(
            "inactive_user",
            "user",
            format!(
                "utilisateur : {} est inactif ; réactivez-le avant de lui créer un jeton",
                user.display_name()
            ),
        ));
    }
    let token = new_secret("relais_");
    let id = store.create_api_token(user.id, &hash_secret(&token), label)?;
    tracing::info!(token.id = id, user.id = user.id, "API token created");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_prefixed() {
        let first = new_secret("relais_");
        let second = new_secret("relais_");

        assert!(first.starts_with("relais_"));
        assert_eq!(first.len(), "relais_".len() + 64);
        assert_ne!(first, second);
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
