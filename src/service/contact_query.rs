//! Filters of the contact list, shared by the screen, the API and the
//! export: owner, country, postal prefixes, département and free text.

use serde::Deserialize;

use crate::domain::country::{CountryCode, CountryError};
use crate::domain::postal::{PostalPrefix, PostalSelection, parse_postal_field};
use crate::reference;
use crate::service::ServiceError;
use crate::storage::{ContactFilter, ExportSelection, Store};

/// The filters as typed; every field is optional.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContactQuery {
    /// Initials, login or e-mail of an owner on either role.
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub country: String,
    /// Postal prefixes separated by `;` or `,`, as in the region form.
    #[serde(default)]
    pub postal: String,
    /// INSEE code of a département (`51`, `2A`, `971`).
    #[serde(default)]
    pub departement: String,
    #[serde(default)]
    pub q: String,
}

fn non_empty(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|text| !text.is_empty())
}

/// Builds the store filter. Returns `Ok(None)` when the filters cannot
/// match any contact (a postal prefix outside the chosen département).
///
/// A postal field without a country follows the French rules (digits, `2A`
/// and `2B`) but matches addresses of every country. A département selects
/// addresses in France: its code is a postal prefix (`51`), except in
/// Corsica, where `2A` and `2B` become the prefixes of their communes.
pub fn build_filter(
    store: &dyn Store,
    query: &ContactQuery,
) -> Result<Option<ContactFilter>, ServiceError> {
    let owner = match non_empty(&query.owner) {
        None => None,
        Some(key) => Some(
            store
                .find_user(key)?
                .ok_or_else(|| {
                    ServiceError::invalid(
                        "unknown_user",
                        "owner",
                        format!("responsable : aucun utilisateur « {key} » ; indiquez ses initiales, son identifiant ou son e-mail"),
                    )
                })?
                .id,
        ),
    };

    let mut country = match non_empty(&query.country).map(CountryCode::parse_selection) {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(code))) => Some(code),
        Some(Err(error @ CountryError::FrenchOverseas { .. })) => {
            return Err(ServiceError::invalid(
                "overseas_country",
                "country",
                format!("code pays : {error}"),
            ));
        }
        Some(Err(error)) => {
            return Err(ServiceError::invalid(
                "unknown_country",
                "country",
                format!("code pays : {error}"),
            ));
        }
    };

    let france = CountryCode::france();
    let postal = match non_empty(&query.postal) {
        None => None,
        Some(text) => match parse_postal_field(text, country.as_ref().unwrap_or(&france)) {
            Ok(PostalSelection::All) => None,
            Ok(PostalSelection::Prefixes(prefixes)) => Some(prefixes),
            Err(error) => {
                return Err(ServiceError::invalid(
                    "invalid_postal",
                    "postal",
                    error.to_string(),
                ));
            }
        },
    };

    let departement = match non_empty(&query.departement) {
        None => None,
        Some(code) => {
            if country
                .as_ref()
                .is_some_and(|country| !country.uses_french_postal_codes())
            {
                return Err(ServiceError::invalid(
                    "departement_needs_france",
                    "departement",
                    "département : un département ne se combine qu'avec la France ; videz le code pays ou indiquez FRA",
                ));
            }
            let (departement_country, prefixes) = departement_selection(code)?;
            if country.is_none() {
                country = Some(departement_country);
            }
            Some(prefixes)
        }
    };

    let postal_prefixes = match (postal, departement) {
        (None, None) => Vec::new(),
        (Some(prefixes), None) | (None, Some(prefixes)) => prefixes,
        (Some(postal), Some(departement)) => {
            let common = intersect(&postal, &departement);
            if common.is_empty() {
                return Ok(None);
            }
            common
        }
    };

    Ok(Some(ContactFilter {
        owner,
        country: country.map(|code| code.as_str().to_string()),
        postal_prefixes,
        text: non_empty(&query.q).map(str::to_string),
    }))
}

/// Builds the export of the contacts the filters select, which is no
/// contact when they cannot match any.
pub fn export_selection(
    store: &dyn Store,
    query: &ContactQuery,
) -> Result<ExportSelection, ServiceError> {
    Ok(match build_filter(store, query)? {
        Some(filter) => ExportSelection::Filter(filter),
        None => ExportSelection::Nothing,
    })
}

/// Returns the country and the postal prefixes that select a département's
/// addresses, by its INSEE code (see [`reference::Departement::selection_prefixes`]).
fn departement_selection(code: &str) -> Result<(CountryCode, Vec<PostalPrefix>), ServiceError> {
    let unknown = || {
        // A département typed by name gets its code proposed.
        let message = match crate::domain::postal::departement_named(code) {
            Some(named) => format!(
                "département : « {code} » n'est pas un code ; vouliez-vous écrire « {} » ({}) ?",
                named.code, named.name
            ),
            None => {
                format!("département : « {code} » inconnu ; indiquez un code comme 51, 2A ou 971")
            }
        };
        ServiceError::invalid("unknown_departement", "departement", message)
    };
    // `20`, Corsica before its split into 2A and 2B, means all of it, as
    // in the region form.
    if code.trim() == "20"
        && let Some(corsica) = PostalPrefix::new("20")
    {
        return Ok((CountryCode::france(), vec![corsica]));
    }
    let departement = reference::departement(code).ok_or_else(unknown)?;
    let selection = departement.selection_prefixes();
    if selection.is_empty() {
        return Err(ServiceError::invalid(
            "departement_without_postal_code",
            "departement",
            format!(
                "département : « {code} » ({}) n'a pas de code postal ; choisissez un autre département",
                departement.name
            ),
        ));
    }
    // The table contains only known countries and valid prefixes, so the two
    // fallbacks below are never taken.
    let country = CountryCode::parse(departement.country_alpha3())
        .ok()
        .flatten()
        .ok_or_else(unknown)?;
    match parse_postal_field(&selection.join(";"), &country) {
        Ok(PostalSelection::Prefixes(prefixes)) => Ok((country, prefixes)),
        _ => Err(unknown()),
    }
}

/// Prefixes selecting the codes that both lists select: of two prefixes
/// where one starts with the other, the longer one.
fn intersect(left: &[PostalPrefix], right: &[PostalPrefix]) -> Vec<PostalPrefix> {
    let mut common = Vec::new();
    for a in left {
        for b in right {
            if a.as_str().starts_with(b.as_str()) {
                common.push(a.clone());
            } else if b.as_str().starts_with(a.as_str()) {
                common.push(b.clone());
            }
        }
    }
    common.sort();
    common.dedup();
    common
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(values: &[&str]) -> Vec<PostalPrefix> {
        values
            .iter()
            .filter_map(|value| PostalPrefix::new(value))
            .collect()
    }

    #[test]
    fn intersection_keeps_the_narrower_prefix() {
        assert_eq!(
            intersect(&prefixes(&["511"]), &prefixes(&["51"])),
            prefixes(&["511"])
        );
        assert_eq!(
            intersect(&prefixes(&["5"]), &prefixes(&["51"])),
            prefixes(&["51"])
        );
        assert_eq!(
            intersect(&prefixes(&["02"]), &prefixes(&["51"])),
            Vec::new()
        );
    }

    #[test]
    fn corsica_expands_to_its_postal_prefixes() {
        let corse_du_sud = departement_selection("2A").map(|(_, list)| {
            list.iter()
                .map(|p| p.as_str().to_string())
                .collect::<Vec<_>>()
        });
        assert_eq!(
            corse_du_sud.ok(),
            Some(vec!["200".to_string(), "201".to_string()])
        );
        assert_eq!(
            departement_selection("51").ok(),
            Some((CountryCode::france(), prefixes(&["51"])))
        );
        assert!(departement_selection("99").is_err());
    }

    #[test]
    fn departement_named_gets_its_code_proposed() {
        let message = |code: &str| departement_selection(code).unwrap_err().to_string();

        assert_eq!(
            message("Marne"),
            "département : « Marne » n'est pas un code ; vouliez-vous écrire « 51 » (Marne) ?"
        );
        assert_eq!(
            message("99"),
            "département : « 99 » inconnu ; indiquez un code comme 51, 2A ou 971"
        );
    }

    #[test]
    fn collectivities_select_their_real_codes() {
        let cases = [
            ("977", "FRA", "97133"),
            ("978", "FRA", "97150"),
            ("974", "FRA", "974"),
            ("987", "PYF", "987"),
            ("988", "NCL", "988"),
        ];
        for (code, country, prefix) in cases {
            let found = departement_selection(code)
                .ok()
                .map(|(found_country, list)| (found_country.as_str().to_string(), list));
            assert_eq!(
                found,
                Some((country.to_string(), prefixes(&[prefix]))),
                "selection of {code}"
            );
        }
    }

    #[test]
    fn departement_without_postal_code_is_rejected() {
        let error = departement_selection("984").err().map(|e| e.code());
        assert_eq!(error, Some("departement_without_postal_code"));
    }
}
