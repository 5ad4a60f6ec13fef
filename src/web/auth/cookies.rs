//! Reading and writing the two cookies of the screens: the session cookie
//! and the login form's CSRF cookie.

use axum::http::{HeaderMap, HeaderValue, header};

pub const SESSION_COOKIE: &str = "relais_session";
/// Double-submit token of the login form, which has no session yet.
pub const LOGIN_CSRF_COOKIE: &str = "relais_login_csrf";
pub const LOGIN_CSRF_MAX_AGE_SECONDS: i64 = 60 * 60;

/// Value of the cookie `name` in the request, if present and not empty.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// Builds a `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, and `Secure` when
/// the server runs behind HTTPS. A `max_age` of 0 deletes the cookie.
pub fn set(
    name: &str,
    value: &str,
    path: &str,
    max_age_seconds: i64,
    secure: bool,
) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age_seconds}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; relais_session=xyz; b=2"),
        );

        assert_eq!(read(&headers, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(read(&headers, "missing"), None);
    }

    #[test]
    fn set_cookie_has_the_protective_attributes() {
        let value =
            set(SESSION_COOKIE, "t", "/", 60, false).map(|v| v.to_str().unwrap_or("").to_string());

        assert_eq!(
            value.as_deref(),
            Some("relais_session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Strict")
        );
    }
}
