//! Request bodies of the API: JSON objects whose fields are all strings.
//! A body is read as its list of fields, then checked field by field. So an
//! unknown field, a field given twice and a value of the wrong type each
//! get a French message that names the field, the value and the fix. A
//! typo such as `pays` or `roles` would otherwise run with the defaults.

use std::fmt;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::service::ServiceError;
use crate::web::error::AppError;

use super::error::ApiError;

/// A request body as sent: the fields of an object in their order, with
/// any repeated name kept, or the mark of a body that is not an object.
pub enum Body {
    Object(Vec<(String, Value)>),
    NotObject,
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
            ApiError(AppError::bad_request(
                "body_too_large",
                "corps de la requête : plus de 2 Mio, la taille maximale ; cet appel ne prend \
                 aucun champ, envoyez un corps vide ou {}",
            ))
        } else {
            ApiError(AppError::bad_request(
                "invalid_json",
                "corps de la requête : illisible ; envoyez un corps vide ou {}",
            ))
        }
    })
}

/// Checks the body of a call that takes no field, such as an undo: empty,
/// or an empty JSON object. Anything else is refused, as for the other
/// calls, so that a malformed request changes nothing.
pub fn no_fields(body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    // Unreadable JSON is a 400, as for the calls that take fields.
    let parsed: Body = serde_json::from_slice(body).map_err(|_| {
        ApiError(AppError::bad_request(
            "invalid_json",
            "corps de la requête : JSON mal formé ; cet appel ne prend aucun champ, envoyez un corps vide ou {}",
        ))
    })?;
    match parsed {
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
pub fn string_fields(
    body: Result<Json<Body>, JsonRejection>,
    accepted: &[&'static str],
) -> Result<Fields, ApiError> {
    let Json(body) = body?;
    let example = accepted
        .iter()
        .map(|name| format!("\"{name}\": \"…\""))
        .collect::<Vec<_>>()
        .join(", ");
    let Body::Object(entries) = body else {
        return Err(ServiceError::invalid(
            "invalid_json",
            "body",
            format!("corps de la requête : attendu un objet JSON, par exemple {{{example}}}"),
        )
        .into());
    };
    let listed = accepted
        .iter()
        .map(|name| format!("« {name} »"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut object = Map::new();
    for (name, value) in entries {
        let Some(field) = accepted.iter().find(|accepted| **accepted == name.as_str()) else {
            return Err(ServiceError::invalid(
                "unknown_field",
                "body",
                format!(
                    "corps de la requête : champ « {name} » inconnu ; les champs acceptés sont {listed}"
                ),
            )
            .into());
        };
        if object.contains_key(&name) {
            return Err(ServiceError::invalid(
                "invalid_json",
                field,
                format!(
                    "corps de la requête : champ « {field} » donné deux fois ; gardez-en un seul"
                ),
            )
            .into());
        }
        if !matches!(value, Value::String(_) | Value::Null) {
            return Err(ServiceError::invalid(
                "invalid_json",
                field,
                format!(
                    "champ « {field} » : attendu une chaîne de caractères entre guillemets, reçu {value}"
                ),
            )
            .into());
        }
        object.insert(name, value);
    }
    Ok(Fields(object))
}
