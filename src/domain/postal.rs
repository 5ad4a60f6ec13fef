//! Postal codes: normalising stored codes and parsing the prefix field.

use super::country::CountryCode;

/// A stored postal code after normalisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPostal {
    pub value: String,
    pub status: PostalStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostalStatus {
    Empty,
    Valid,
    Unknown,
    Invalid,
    NotChecked,
}

pub fn normalize_postal_code(_entered: &str, _country: &CountryCode) -> NormalizedPostal {
    todo!()
}

/// A validated prefix: uppercase ASCII letters and digits only.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PostalPrefix(String);

impl PostalPrefix {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Exclusive upper bound of the range of codes starting with this prefix.
    pub fn upper_bound(&self) -> String {
        todo!()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostalSelection {
    All,
    Prefixes(Vec<PostalPrefix>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostalFieldError {
    #[error("code postal : indiquez au moins un code, ou * pour tous")]
    Empty,
}

pub fn parse_postal_field(
    _input: &str,
    _country: &CountryCode,
) -> Result<PostalSelection, PostalFieldError> {
    todo!()
}

pub fn departement_code(_postal_norm: &str) -> Option<String> {
    todo!()
}
