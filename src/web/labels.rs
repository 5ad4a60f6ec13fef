//! French labels shared by the screens: counts, départements, roles and
//! postal-code notes.

use crate::domain::country::CountryCode;
use crate::domain::postal::{PostalStatus, departement_code, normalize_postal_code};
use crate::reference;
use crate::storage::Address;

pub use crate::french::{UserNames, batch_params, count, plural, prefix_label, role_fr};

/// Notes shown beside a postal code: the département of a French code, and
/// a warning for a code that is invalid or that La Poste does not list.
pub struct PostalNote {
    pub departement: Option<String>,
    /// Whether the code is an overseas collectivity's (`987`, French
    /// Polynesia), which is not a département.
    pub collectivity: bool,
    pub warning: Option<&'static str>,
}

pub fn postal_note(address: &Address) -> PostalNote {
    let none = PostalNote {
        departement: None,
        collectivity: false,
        warning: None,
    };
    let country = match CountryCode::parse(&address.country) {
        Ok(Some(country)) if country.uses_french_postal_codes() => country,
        _ => return none,
    };
    let normalized = normalize_postal_code(&address.postal_code, &country);
    let warning = match normalized.status {
        PostalStatus::Invalid => Some("code postal invalide"),
        PostalStatus::Unknown => Some("code postal inconnu de La Poste"),
        _ => None,
    };
    // Saint-Barthélemy and Saint-Martin have Guadeloupe's prefix (97133,
    // 97150): the code itself names the collectivity.
    let found = departement_code(&normalized.value).map(|code| {
        let code = if code.starts_with('9') {
            crate::french::prefix_departement(&normalized.value).unwrap_or(code)
        } else {
            code
        };
        let listed = reference::departement(&code);
        let collectivity = listed
            .is_some_and(|departement| departement.zone == reference::Zone::OverseasCollectivity);
        let label = match listed {
            Some(departement) => format!("{code} — {}", departement.name),
            None => code,
        };
        (label, collectivity)
    });
    PostalNote {
        collectivity: found
            .as_ref()
            .is_some_and(|(_, collectivity)| *collectivity),
        departement: found.map(|(label, _)| label),
        warning,
    }
}

/// Summarises an address on one line: `51100 Reims (FRA)`.
pub fn address_line(address: &Address) -> String {
    let parts: Vec<&str> = [address.postal_code.as_str(), address.city.as_str()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect();
    let mut line = parts.join(" ");
    if !address.country.is_empty() {
        if line.is_empty() {
            line = address.country.clone();
        } else {
            line.push_str(&format!(" ({})", address.country));
        }
    }
    line
}

/// Builds the postal line of an address: code, then city. A CEDEX written with
/// the code (`51100 CEDEX 2`) goes after the city, where La Poste puts it:
/// `51100 Reims CEDEX 2`.
pub fn postal_line(postal_code: &str, city: &str) -> String {
    // ASCII upper case keeps byte offsets, so `at` is one in `postal_code`.
    let upper = postal_code.to_ascii_uppercase();
    let cedex_at = upper
        .find("CEDEX")
        .filter(|&at| at > 0 && !city.to_ascii_uppercase().contains("CEDEX"));
    let line = match cedex_at {
        Some(at) => format!(
            "{} {} {}",
            postal_code[..at].trim(),
            city.trim(),
            postal_code[at..].trim()
        ),
        None => format!("{} {}", postal_code.trim(), city.trim()),
    };
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cedex_goes_after_the_city() {
        assert_eq!(postal_line("51100 CEDEX 2", "Reims"), "51100 Reims CEDEX 2");
        assert_eq!(postal_line("51100 cedex", "Reims"), "51100 Reims cedex");
        assert_eq!(postal_line("51100", "Reims Cedex 2"), "51100 Reims Cedex 2");
        assert_eq!(postal_line("51100", "Reims"), "51100 Reims");
        assert_eq!(postal_line("", "Reims"), "Reims");
        assert_eq!(postal_line("CEDEX", ""), "CEDEX");
        assert_eq!(postal_line("ß1 cedex", "Berlin"), "ß1 Berlin cedex");
    }

    #[test]
    fn postal_note_flags_bad_french_codes() {
        let address = |postal: &str, country: &str| Address {
            postal_code: postal.to_string(),
            country: country.to_string(),
            ..Address::default()
        };

        let valid = postal_note(&address("51100", "FRA"));
        assert_eq!(valid.departement.as_deref(), Some("51 — Marne"));
        assert_eq!(valid.warning, None);

        let barthelemy = postal_note(&address("97133", "FRA"));
        assert_eq!(
            barthelemy.departement.as_deref(),
            Some("977 — Saint-Barthélemy")
        );
        assert!(barthelemy.collectivity);
        let martin = postal_note(&address("97150", "FRA"));
        assert_eq!(martin.departement.as_deref(), Some("978 — Saint-Martin"));
        let guadeloupe = postal_note(&address("97100", "FRA"));
        assert_eq!(guadeloupe.departement.as_deref(), Some("971 — Guadeloupe"));
        assert!(!guadeloupe.collectivity);

        let invalid = postal_note(&address("5110", "FRA"));
        assert_eq!(invalid.departement.as_deref(), Some("05 — Hautes-Alpes"));

        let broken = postal_note(&address("ABC", "FRA"));
        assert_eq!(broken.warning, Some("code postal invalide"));
        assert_eq!(broken.departement, None);

        let abroad = postal_note(&address("1000", "BEL"));
        assert_eq!(abroad.departement, None);
        assert_eq!(abroad.warning, None);
    }
}
