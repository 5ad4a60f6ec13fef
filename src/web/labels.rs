//! French labels shared by the screens: counts, départements, roles,
//! postal-code notes and batch parameters.

use crate::domain::batch::{Batch, BatchKind};
use crate::domain::contact::Role;
use crate::domain::country::CountryCode;
use crate::domain::postal::{PostalStatus, departement_code, normalize_postal_code};
use crate::reference;
use crate::storage::Address;

/// Formats a count the French way, with a narrow no-break space between
/// groups of three digits: `20 000`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(digit);
    }
    out
}

/// Formats a count with its noun: « 0 contact », « 1 contact »,
/// « 12 contacts ». French uses the singular up to one.
pub fn plural(value: u64, singular: &str, plural: &str) -> String {
    let word = if value <= 1 { singular } else { plural };
    format!("{} {word}", count(value))
}

/// Returns the role as shown on screens: `commercial` or `technique`.
pub fn role_fr(role: Role) -> &'static str {
    match role {
        Role::Commercial => "commercial",
        Role::Technical => "technique",
    }
}

/// Finds the département code of a postal prefix typed in the region form: two digits,
/// three for overseas (`97x`, `98x`), `2A`/`2B` for Corsican prefixes of
/// three digits and more. `20` alone covers both Corsican départements.
fn prefix_departement(prefix: &str) -> Option<String> {
    if prefix.len() < 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if prefix.starts_with("97") || prefix.starts_with("98") {
        return prefix.get(..3).map(str::to_string);
    }
    if prefix.starts_with("20") {
        return match prefix.as_bytes().get(2) {
            None => None,
            Some(b'0' | b'1') => Some("2A".to_string()),
            Some(b'2'..=b'6') => Some("2B".to_string()),
            Some(_) => None,
        };
    }
    prefix.get(..2).map(str::to_string)
}

/// Builds the label of a prefix in the region preview: `51 — Marne`, `20 — Corse`, or
/// the prefix alone when it names no single département.
pub fn prefix_label(prefix: &str, country: &CountryCode) -> String {
    if !country.uses_french_postal_codes() {
        return prefix.to_string();
    }
    if prefix == "20" {
        return "20 — Corse".to_string();
    }
    match prefix_departement(prefix)
        .as_deref()
        .and_then(reference::departement)
    {
        Some(departement) => format!("{prefix} — {}", departement.name),
        None => prefix.to_string(),
    }
}

/// Notes shown beside a postal code: the département of a French code, and
/// a warning for a code that is invalid or that La Poste does not list.
pub struct PostalNote {
    pub departement: Option<String>,
    pub warning: Option<&'static str>,
}

pub fn postal_note(address: &Address) -> PostalNote {
    let none = PostalNote {
        departement: None,
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
    let departement =
        departement_code(&normalized.value).map(|code| match reference::departement(&code) {
            Some(departement) => format!("{code} — {}", departement.name),
            None => code,
        });
    PostalNote {
        departement,
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

fn param<'a>(batch: &'a Batch, key: &str) -> Option<&'a serde_json::Value> {
    batch.params.get(key)
}

fn param_text(batch: &Batch, key: &str) -> String {
    match param(batch, key) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Formats the parameters of a batch as the journal shows them.
pub fn batch_params(batch: &Batch) -> String {
    match batch.kind {
        BatchKind::Reassign => format!(
            "de {} vers {}",
            param_text(batch, "from"),
            param_text(batch, "to")
        ),
        BatchKind::ReassignRegion => {
            let role = match param_text(batch, "role").as_str() {
                "technical" => "technique",
                "both" => "commercial et technique",
                _ => "commercial",
            };
            format!(
                "vers {}, pays {}, codes postaux « {} », rôle {role}",
                param_text(batch, "to"),
                param_text(batch, "country"),
                param_text(batch, "postal")
            )
        }
        BatchKind::Undo => format!("annule l'opération n° {}", param_text(batch, "batch")),
        BatchKind::Import if batch.params.get("demo").is_some() => {
            format!("base de démonstration de {} contacts", batch.params["demo"])
        }
        BatchKind::Import if batch.params.get("file").is_some() => format!(
            "fichier « {} », pays par défaut {}",
            param_text(batch, "file"),
            param_text(batch, "default_country")
        ),
        BatchKind::Import => match batch.params.as_object() {
            Some(fields) if !fields.is_empty() => fields
                .iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(text) => format!("{key} : {text}"),
                    other => format!("{key} : {other}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_use_narrow_spaces() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(20_000), "20\u{202F}000");
        assert_eq!(count(1_234_567), "1\u{202F}234\u{202F}567");
    }

    #[test]
    fn plural_is_singular_up_to_one() {
        assert_eq!(plural(0, "contact", "contacts"), "0 contact");
        assert_eq!(plural(1, "contact", "contacts"), "1 contact");
        assert_eq!(plural(2, "contact", "contacts"), "2 contacts");
    }

    #[test]
    fn prefixes_get_their_departement() {
        let france = CountryCode::france();
        assert_eq!(prefix_label("51", &france), "51 — Marne");
        assert_eq!(prefix_label("02", &france), "02 — Aisne");
        assert_eq!(prefix_label("511", &france), "511 — Marne");
        assert_eq!(prefix_label("200", &france), "200 — Corse-du-Sud");
        assert_eq!(prefix_label("206", &france), "206 — Haute-Corse");
        assert_eq!(prefix_label("20", &france), "20 — Corse");
        assert_eq!(prefix_label("971", &france), "971 — Guadeloupe");
        assert_eq!(prefix_label("5", &france), "5");
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
