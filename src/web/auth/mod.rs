//! Authentication: login sessions for the screens, CSRF protection of
//! their forms, and bearer tokens for the API.

pub mod bearer;
pub mod cookies;
pub mod csrf;
pub mod login;
pub mod session;

/// Compares two secrets in time that depends only on their lengths.
pub fn secrets_equal(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::secrets_equal;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "a"));
    }
}
