//! Contacts and their two addresses.

use serde::Serialize;

use super::country::CountryCode;

/// Numeric id of a contact in the database.
pub type ContactId = i64;

/// One address (perso or pro) as it will be stored: the postal code as
/// entered beside its normalised form, and the country as an alpha-3 code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AddressInput {
    pub line1: String,
    pub line2: String,
    /// Postal code as entered, shown to people.
    pub postal_code: String,
    /// Normalised postal code used for matching; empty when there is none.
    pub postal_norm: String,
    pub city: String,
    /// `None` only when the address is empty.
    pub country: Option<CountryCode>,
}

impl AddressInput {
    /// Tells whether every field is empty: an address exists as soon as one
    /// of its fields is filled.
    pub fn is_empty(&self) -> bool {
        self.line1.is_empty()
            && self.line2.is_empty()
            && self.postal_code.is_empty()
            && self.city.is_empty()
            && self.country.is_none()
    }
}

/// A contact read from an import file, validated and normalised, with its
/// owners still given as the references found in the file (initials, login
/// or e-mail).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContactInput {
    /// Relais contact number read back from an export. A row without an
    /// external id updates that contact only when the contact has no
    /// external id either and the same name, first name and company, so a
    /// file from another database cannot overwrite an unrelated contact.
    pub contact_id: Option<ContactId>,
    pub external_id: Option<String>,
    pub civility: String,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub email: String,
    pub phone: String,
    pub commercial_owner: Option<String>,
    pub technical_owner: Option<String>,
    pub perso: AddressInput,
    pub pro: AddressInput,
}

/// A part of a contact an import file may leave out. An import keeps the
/// stored value of every part its file has no column for, so that a file
/// with a few columns updates those and nothing else. The postal code and
/// the country of an address are one part, since the normalised code that
/// selections match depends on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContactPart {
    Civility,
    FirstName,
    LastName,
    Company,
    Email,
    Phone,
    CommercialOwner,
    TechnicalOwner,
    PersoLine1,
    PersoLine2,
    PersoPostal,
    PersoCity,
    ProLine1,
    ProLine2,
    ProPostal,
    ProCity,
}

impl ContactPart {
    pub const ALL: [ContactPart; 16] = [
        ContactPart::Civility,
        ContactPart::FirstName,
        ContactPart::LastName,
        ContactPart::Company,
        ContactPart::Email,
        ContactPart::Phone,
        ContactPart::CommercialOwner,
        ContactPart::TechnicalOwner,
        ContactPart::PersoLine1,
        ContactPart::PersoLine2,
        ContactPart::PersoPostal,
        ContactPart::PersoCity,
        ContactPart::ProLine1,
        ContactPart::ProLine2,
        ContactPart::ProPostal,
        ContactPart::ProCity,
    ];

    /// The parts of the personal address, then those of the professional
    /// one.
    pub const ADDRESSES: [[ContactPart; 4]; 2] = [
        [
            ContactPart::PersoLine1,
            ContactPart::PersoLine2,
            ContactPart::PersoPostal,
            ContactPart::PersoCity,
        ],
        [
            ContactPart::ProLine1,
            ContactPart::ProLine2,
            ContactPart::ProPostal,
            ContactPart::ProCity,
        ],
    ];

    /// French name, as the import report lists the parts a file left out.
    pub fn label_fr(self) -> &'static str {
        match self {
            ContactPart::Civility => "civilité",
            ContactPart::FirstName => "prénom",
            ContactPart::LastName => "nom",
            ContactPart::Company => "société",
            ContactPart::Email => "e-mail",
            ContactPart::Phone => "téléphone",
            ContactPart::CommercialOwner => "responsable commercial",
            ContactPart::TechnicalOwner => "responsable technique",
            ContactPart::PersoLine1 => "adresse perso, ligne 1",
            ContactPart::PersoLine2 => "adresse perso, ligne 2",
            ContactPart::PersoPostal => "code postal et pays perso",
            ContactPart::PersoCity => "ville perso",
            ContactPart::ProLine1 => "adresse pro, ligne 1",
            ContactPart::ProLine2 => "adresse pro, ligne 2",
            ContactPart::ProPostal => "code postal et pays pro",
            ContactPart::ProCity => "ville pro",
        }
    }
}

/// Owner role of a contact that an operation reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Commercial,
    Technical,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Commercial, Role::Technical];

    /// Stable English name used in JSON, CSV and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Commercial => "commercial",
            Role::Technical => "technical",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "commercial" => Some(Role::Commercial),
            "technical" => Some(Role::Technical),
            _ => None,
        }
    }

    /// French label of the owner field, as on screens and in history sentences.
    pub fn owner_label_fr(self) -> &'static str {
        match self {
            Role::Commercial => "Responsable commercial",
            Role::Technical => "Responsable technique",
        }
    }
}

/// The roles a region reassignment writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleChoice {
    Commercial,
    Technical,
    Both,
}

impl RoleChoice {
    pub fn roles(self) -> &'static [Role] {
        match self {
            RoleChoice::Commercial => &[Role::Commercial],
            RoleChoice::Technical => &[Role::Technical],
            RoleChoice::Both => &Role::ALL,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RoleChoice::Commercial => "commercial",
            RoleChoice::Technical => "technical",
            RoleChoice::Both => "both",
        }
    }

    pub fn parse(value: &str) -> Option<RoleChoice> {
        match value.trim().to_lowercase().as_str() {
            "commercial" => Some(RoleChoice::Commercial),
            "technical" | "technique" => Some(RoleChoice::Technical),
            "both" | "les deux" => Some(RoleChoice::Both),
            _ => None,
        }
    }
}
