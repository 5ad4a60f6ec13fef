//! Contacts and their two addresses.

use serde::Serialize;

use super::country::{CountryCode, OverseasTerritory};

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
    /// Overseas territory the file named as the country, whose addresses
    /// are stored as France (`Réunion`), so that the import can warn when
    /// the postal code is not one of its own. Not stored.
    #[serde(skip)]
    pub named_territory: Option<&'static OverseasTerritory>,
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
    /// Latest time the contact may have been changed when the file was
    /// exported, read from the export's « Modifié le » column. A contact
    /// changed after it is not updated from the row, since the row would
    /// undo that change.
    pub exported_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ContactInput {
    /// Tells whether the row names a person or an organisation: a last
    /// name, first name, company, e-mail or phone. A row without any only
    /// updates the stored contact its key names, and never creates one.
    pub fn has_identity(&self) -> bool {
        [
            &self.last_name,
            &self.first_name,
            &self.company,
            &self.email,
            &self.phone,
        ]
        .iter()
        .any(|value| !value.is_empty())
    }
}

/// Formats a contact's last change as the export writes it: Paris time,
/// with its offset and to the millisecond
/// (`2026-12-05T10:32:15.504+01:00`), so that a change made in the same
/// second as the export is still seen. Excel keeps this form as text, so
/// it comes back unchanged.
pub fn format_modified_at(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// Reads a « Modifié le » cell: the form the export writes, or the Paris
/// time a spreadsheet may have turned it into (`05/12/2026 10:32`, to the
/// minute or the second, with a year of two or four digits).
///
/// A time is read as the last microsecond of the unit it is written to
/// (millisecond, second or minute). The cell contains the contact's own
/// last change, which falls somewhere in that unit, so its start would
/// set aside every edited row: Excel rewrites the export's form to the
/// minute. The cost is that a later change made within the same unit goes
/// unseen: the same millisecond for the export's own form, the same
/// minute for a cell Excel rewrote.
pub fn parse_modified_at(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDateTime, TimeZone};
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        // Digits after the seconds' point: none for an export made before
        // milliseconds were written.
        let fraction_digits = text.split_once('.').map_or(0, |(_, rest)| {
            rest.chars().take_while(char::is_ascii_digit).count()
        });
        let unit_micros = 10_i64.pow(6_u32.saturating_sub(fraction_digits.min(6) as u32));
        return Some(
            at.with_timezone(&chrono::Utc) + chrono::Duration::microseconds(unit_micros - 1),
        );
    }

    // Two-digit years first: `%Y` would read `26` as the year 26. The flag
    // marks the forms to the minute.
    let (naive, to_the_minute) = [
        ("%d/%m/%y %H:%M:%S", false),
        ("%d/%m/%y %H:%M", true),
        ("%d/%m/%Y %H:%M:%S", false),
        ("%d/%m/%Y %H:%M", true),
        ("%Y-%m-%d %H:%M:%S", false),
        ("%Y-%m-%d %H:%M", true),
    ]
    .into_iter()
    .find_map(|(format, to_the_minute)| {
        NaiveDateTime::parse_from_str(text, format)
            .ok()
            .map(|naive| (naive, to_the_minute))
    })?;

    // In the autumn hour that occurs twice, the later one is the bound, so
    // that a change made in either is not set aside.
    let local = chrono_tz::Europe::Paris
        .from_local_datetime(&naive)
        .latest()?;
    let at = local.with_timezone(&chrono::Utc);
    let unit = if to_the_minute {
        chrono::Duration::minutes(1)
    } else {
        chrono::Duration::seconds(1)
    };
    Some(at + unit - chrono::Duration::microseconds(1))
}

/// A part of a contact an import file may leave out. An import keeps the
/// stored value of every part its file has no column for, so that a file
/// with a few columns updates those and nothing else. The normalised
/// postal code, which selections match, is worked out again from the code
/// and the country the contact ends with.
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
    PersoPostalCode,
    PersoCity,
    PersoCountry,
    ProLine1,
    ProLine2,
    ProPostalCode,
    ProCity,
    ProCountry,
}

impl ContactPart {
    pub const ALL: [ContactPart; 18] = [
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
        ContactPart::PersoPostalCode,
        ContactPart::PersoCity,
        ContactPart::PersoCountry,
        ContactPart::ProLine1,
        ContactPart::ProLine2,
        ContactPart::ProPostalCode,
        ContactPart::ProCity,
        ContactPart::ProCountry,
    ];

    /// The parts of the personal address, then those of the professional
    /// one.
    pub const ADDRESSES: [[ContactPart; 5]; 2] = [
        [
            ContactPart::PersoLine1,
            ContactPart::PersoLine2,
            ContactPart::PersoPostalCode,
            ContactPart::PersoCity,
            ContactPart::PersoCountry,
        ],
        [
            ContactPart::ProLine1,
            ContactPart::ProLine2,
            ContactPart::ProPostalCode,
            ContactPart::ProCity,
            ContactPart::ProCountry,
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
            ContactPart::PersoLine1 => "adresse perso",
            ContactPart::PersoLine2 => "complément adresse perso",
            ContactPart::PersoPostalCode => "code postal perso",
            ContactPart::PersoCity => "ville perso",
            ContactPart::PersoCountry => "pays perso",
            ContactPart::ProLine1 => "adresse pro",
            ContactPart::ProLine2 => "complément adresse pro",
            ContactPart::ProPostalCode => "code postal pro",
            ContactPart::ProCity => "ville pro",
            ContactPart::ProCountry => "pays pro",
        }
    }
}

#[cfg(test)]
mod modified_at_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn modified_at_reads_export_and_excel() {
        let second = chrono::Utc
            .with_ymd_and_hms(2026, 12, 5, 9, 32, 15)
            .unwrap();
        let at = second + chrono::Duration::microseconds(504_321);
        let micro = chrono::Duration::microseconds(1);
        let written = format_modified_at(at);
        assert_eq!(written, "2026-12-05T10:32:15.504+01:00");
        // Each form is read as the end of its last unit, never before the
        // change it records.
        let end_of_millisecond = second + chrono::Duration::milliseconds(505) - micro;
        assert_eq!(parse_modified_at(&written), Some(end_of_millisecond));
        assert!(parse_modified_at(&written).unwrap() >= at);
        let end_of_second = second + chrono::Duration::seconds(1) - micro;
        assert_eq!(
            parse_modified_at("2026-12-05T10:32:15+01:00"),
            Some(end_of_second)
        );
        assert_eq!(
            parse_modified_at("05/12/2026 10:32:15"),
            Some(end_of_second)
        );
        assert_eq!(parse_modified_at("05/12/26 10:32:15"), Some(end_of_second));
        // A change at 10:32:15 rewritten to the minute is not after 10:32.
        let end_of_minute = chrono::Utc.with_ymd_and_hms(2026, 12, 5, 9, 33, 0).unwrap() - micro;
        assert_eq!(parse_modified_at("05/12/2026 10:32"), Some(end_of_minute));
        assert_eq!(parse_modified_at("05/12/26 10:32"), Some(end_of_minute));
        assert_eq!(parse_modified_at("hier"), None);
        assert_eq!(parse_modified_at(""), None);
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
