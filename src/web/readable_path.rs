//! Rejection of addresses whose percent-escapes are not UTF-8 text, such
//! as `/contacts/%FF`, which the router rejects in English plain text.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::error::ApiError;
use super::error::AppError;
use super::pages::error_page::PageError;

/// Returns 400 in French, as JSON under `/api/` and as a page elsewhere,
/// when the path does not decode to UTF-8 text.
pub async fn reject_unreadable_path(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if decodes_to_text(path) {
        return next.run(request).await;
    }
    let error = AppError::bad_request(
        "invalid_path",
        "adresse illisible : elle contient des caractères encodés qui ne forment pas du texte ; \
         vérifiez le lien ou retapez l'adresse",
    );
    if path.starts_with("/api/") {
        ApiError::from(error).into_response()
    } else {
        PageError::from(error).into_response()
    }
}

/// Tells whether `path`, once its `%XX` escapes are decoded, is UTF-8.
fn decodes_to_text(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::decodes_to_text;

    #[test]
    fn escapes_must_form_text() {
        assert!(decodes_to_text("/contacts/42"));
        assert!(decodes_to_text("/contacts/%C3%A9t%C3%A9"));
        assert!(decodes_to_text("/contacts/100%25"));
        assert!(decodes_to_text("/contacts/50%"));
        assert!(!decodes_to_text("/contacts/%FF"));
        assert!(!decodes_to_text("/api/v1/batches/%C3"));
    }
}
