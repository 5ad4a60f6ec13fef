//! Request bodies of the API: JSON objects whose fields are all strings.
//! A body is read as its list of fields, then checked field by field. So an
//! unknown field, a field given twice and a value of the wrong type each
//! get a French message that names the field, the value and the fix. A
//! typo such as `pays` or `roles` would otherwise run with the defaults.

use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::service::ServiceError;
use crate::web::error::AppError;

use super::error::{ApiError, body_too_large};

/// A request body as sent: the fields of an object in their order, with
/// any repeated name kept, or the mark of a body that is not an object.
pub enum Body {
    Object(Vec<(String, Value)>),
    NotObject,
    /// A body of white space only.
    Empty,
}

/// The JSON body of a call that takes fields, read or refused. A leading
/// byte order mark is skipped, as the JSON standard allows: Windows tools
/// write one at the start of UTF-8 files, and such a body is otherwise
/// correct.
pub struct JsonBody(Result<Body, ApiError>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<JsonBody, Self::Rejection> {
        let declared = declared_media_type(request.headers());
        if !declared.as_deref().is_some_and(is_json_media_type) {
            return Ok(JsonBody(Err(unsupported_media_type(declared))));
        }
        let read = match Bytes::from_request(request, state).await {
            Ok(bytes) => parse(&bytes),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(body_too_large())
            }
            Err(_) => Err(ApiError::from(AppError::bad_request(
                "invalid_json",
                "corps de la requête : illisible ; renvoyez la requête",
            ))),
        };
        Ok(JsonBody(read))
    }
}

/// True for `application/json` and the `application/…+json` types, with
/// or without parameters such as `charset`.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a body as JSON, after any byte order mark. A body that is not
/// JSON gets a message with the line and column where reading stopped.
fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body::Empty);
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let text = String::from_utf8_lossy(bytes);
        let line = text
            .lines()
            .nth(error.line().saturating_sub(1))
            .unwrap_or_default();
        // serde_json counts the column in bytes; a reader counts characters.
        let before: Vec<char> = line
            .char_indices()
            .take_while(|(at, _)| *at < error.column().saturating_sub(1))
            .map(|(_, character)| character)
            .collect();
        let place = format!("ligne {}, colonne {}", error.line(), before.len() + 1);
        let at_error = line[before.iter().map(|c| c.len_utf8()).sum::<usize>()..]
            .chars()
            .next();
        let typographic = ['“', '”', '«', '»', '‘', '’'];
        let near_error = before.last().into_iter().copied().chain(at_error);
        let message = if near_error.into_iter().any(|c| typographic.contains(&c)) {
            format!(
                "corps de la requête : JSON mal formé ({place}) ; remplacez les guillemets typographiques (“ ”, « » ou ’) par des guillemets droits \""
            )
        } else if error.is_eof() {
            format!(
                "corps de la requête : JSON incomplet ({place}) ; vérifiez qu'il ne manque ni accolade, ni crochet, ni guillemet fermant"
            )
        } else {
            format!(
                "corps de la requête : JSON mal formé ({place}) ; vérifiez les guillemets droits autour des noms et des valeurs, les deux-points et les virgules"
            )
        };
        ApiError::from(AppError::bad_request("invalid_json", message))
    })
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Body, D::Error> {
        deserializer.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let mut fields = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            fields.push(entry);
        }
        Ok(Body::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Body::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Body, E> {
        Ok(Body::NotObject)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Body, E> {
        Ok(Body::NotObject)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Body, E> {
        Ok(Body::NotObject)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Body, E> {
        Ok(Body::NotObject)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Body, E> {
        Ok(Body::NotObject)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Body, E> {
        Ok(Body::NotObject)
    }
}

/// The string fields of a request body, by name; a field that is absent or
/// `null` is not in the map.
pub struct Fields(Map<String, Value>);

impl Fields {
    /// Returns the field's text, empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.optional(name).unwrap_or_default()
    }

    /// Returns the field's text, `None` when absent.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(Value::as_str).map(str::to_string)
    }
}

/// Returns the body of a call read as bytes, or the error for a body that
/// could not be read, such as one over the size limit.
pub fn bytes(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from(AppError::bad_request(
                "body_too_large",
                "corps de la requête : plus de 2 Mio, la taille maximale ; cet appel ne prend \
                 aucun champ, envoyez un corps vide ou {}",
            ))
        } else {
            ApiError::from(AppError::bad_request(
                "invalid_json",
                "corps de la requête : illisible ; envoyez un corps vide ou {}",
            ))
        }
    })
}

/// Checks the body of a call that takes no field, such as an undo: empty,
/// or an empty JSON object. Anything else is refused, as for the other
/// calls, so that a malformed request changes nothing.
/// Returns the `Content-Type` a request declares, `None` when absent.
fn declared_media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// Builds the 415 error for a body whose `Content-Type` (`None` when
/// absent) is not JSON.
fn unsupported_media_type(declared: Option<String>) -> ApiError {
    let received = match declared {
        Some(value) => format!("vaut « {} »", value.chars().take(60).collect::<String>()),
        None => "manque".to_string(),
    };
    ApiError::from(AppError::bad_request(
        "unsupported_media_type",
        format!(
            "corps de la requête : l'en-tête « Content-Type » {received} ; envoyez du JSON avec « Content-Type: application/json » (avec curl : -H 'Content-Type: application/json')"
        ),
    ))
}

/// Checks the body of a call that takes no field, as `no_fields` does,
/// after its media type. An empty body may come with any type or none. A
/// body with content must be declared JSON, as for the calls with fields.
pub fn no_fields_declared(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let declared = declared_media_type(headers);
    let has_content = body.iter().any(|byte| !byte.is_ascii_whitespace());
    if has_content && !declared.as_deref().is_some_and(is_json_media_type) {
        return Err(unsupported_media_type(declared));
    }
    no_fields(body)
}

pub fn no_fields(body: &[u8]) -> Result<(), ApiError> {
    match parse(body)? {
        Body::Empty => Ok(()),
        Body::Object(entries) if entries.is_empty() => Ok(()),
        Body::Object(entries) => Err(ServiceError::invalid(
            "unknown_field",
            "body",
            format!(
                "corps de la requête : champ « {} » inconnu ; cet appel ne prend aucun champ, envoyez un corps vide ou {{}}",
                entries[0].0
            ),
        )
        .into()),
        Body::NotObject => Err(ServiceError::invalid(
            "invalid_json",
            "body",
            "corps de la requête : attendu un corps vide ou {}",
        )
        .into()),
    }
}

/// Reads a body whose fields are among `accepted`, each a string or `null`.
/// An unknown field, a field given twice or a value that is not a string is
/// returned as a problem beside the other fields, so that the caller can
/// report it with the problems of their values.
pub fn string_fields(
    body: JsonBody,
    accepted: &[&'static str],
) -> Result<(Fields, Vec<ServiceError>), ApiError> {
    let JsonBody(body) = body;
    let body = body?;
    let example = accepted
        .iter()
        .map(|name| format!("\"{name}\": \"…\""))
        .collect::<Vec<_>>()
        .join(", ");
    let entries = match body {
        Body::Object(entries) => entries,
        Body::Empty => {
            return Err(ServiceError::invalid(
                "invalid_json",
                "body",
                format!(
                    "corps de la requête : vide ; envoyez un objet JSON, par exemple {{{example}}}"
                ),
            )
            .into());
        }
        Body::NotObject => {
            return Err(ServiceError::invalid(
                "invalid_json",
                "body",
                format!("corps de la requête : attendu un objet JSON, par exemple {{{example}}}"),
            )
            .into());
        }
    };
    let listed = accepted
        .iter()
        .map(|name| format!("« {name} »"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut object = Map::new();
    let mut problems = Vec::new();
    for (name, value) in entries {
        let Some(field) = accepted.iter().find(|accepted| **accepted == name.as_str()) else {
            problems.push(ServiceError::invalid(
                "unknown_field",
                "body",
                format!(
                    "corps de la requête : champ « {name} » inconnu ; les champs acceptés sont {listed}"
                ),
            ));
            continue;
        };
        if object.contains_key(&name) {
            problems.push(ServiceError::invalid(
                "invalid_json",
                field,
                format!(
                    "corps de la requête : champ « {field} » donné deux fois ; gardez-en un seul"
                ),
            ));
            continue;
        }
        if !matches!(value, Value::String(_) | Value::Null) {
            problems.push(ServiceError::invalid(
                "invalid_json",
                field,
                format!(
                    "champ « {field} » : attendu une chaîne de caractères entre guillemets, reçu {value}"
                ),
            ));
            // Kept as absent, so that a second occurrence is still
            // reported as given twice.
            object.insert(name, Value::Null);
            continue;
        }
        object.insert(name, value);
    }
    Ok((Fields(object), problems))
}
