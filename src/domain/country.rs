//! ISO 3166-1 countries: parsing what people type into an alpha-3 code.

use serde::Serialize;

/// ISO 3166-1 alpha-3 country code, uppercase (`FRA`, `BEL`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CountryCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    #[error("pays inconnu : « {0} »")]
    Unknown(String),
}

impl CountryCode {
    pub fn france() -> Self {
        CountryCode("FRA".to_string())
    }

    /// Parses an alpha-3 or alpha-2 code, a French or English name, or an
    /// Odoo reference (`base.fr`); `Ok(None)` for an empty input.
    pub fn parse(input: &str) -> Result<Option<CountryCode>, CountryError> {
        let value = input.trim().to_uppercase();
        if value.is_empty() {
            return Ok(None);
        }
        todo!("country table")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_france(&self) -> bool {
        self.0 == "FRA"
    }

    pub fn name_fr(&self) -> &'static str {
        todo!("country table")
    }
}
