//! Request bodies of the API: JSON objects whose fields are all strings.
//! They are read by hand rather than by serde, so that an unknown field
//! (a typo such as `pays` or `roles`, which would otherwise run with the
//! defaults) and a value of the wrong type get a French message that
//! names the field, the value and the fix.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use serde_json::{Map, Value};

use crate::service::ServiceError;

use super::error::ApiError;

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

/// Reads a body whose fields are among `accepted`, each a string or `null`.
pub fn string_fields(
    body: Result<Json<Value>, JsonRejection>,
    accepted: &[&'static str],
) -> Result<Fields, ApiError> {
    let Json(value) = body?;
    let example = accepted
        .iter()
        .map(|name| format!("\"{name}\": \"…\""))
        .collect::<Vec<_>>()
        .join(", ");
    let Value::Object(object) = value else {
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
    for (name, value) in &object {
        let Some(field) = accepted.iter().find(|accepted| **accepted == name) else {
            return Err(ServiceError::invalid(
                "unknown_field",
                "body",
                format!(
                    "corps de la requête : champ « {name} » inconnu ; les champs acceptés sont {listed}"
                ),
            )
            .into());
        };
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
    }
    Ok(Fields(object))
}
