//! Per-prefix counts of a region preview as people read them. A
//! département typed as `2A`, `2B`, `977`, `978` or `989` is one row under
//! that code. The store counts the postal prefixes it expands to instead
//! (`200` and `201`, `97133`, `97150`, `98799`).

use crate::domain::postal::{PostalPrefix, PostalSelection};
use crate::reference;
use crate::storage::{PrefixCount, RegionPreview};

use super::ServiceError;
use super::reassign::PreparedRegionReassignment;

/// Returns the per-prefix rows of `preview`, with the prefixes of each
/// département code typed in the postal field that expands to other
/// prefixes gathered into one row labelled with that code.
///
/// A contact can have one address in `200xx` and the other in `201xx`, so
/// the rows of a département are not added up: `matched_in` counts the
/// contacts of the département's prefixes in one preview. A code whose
/// prefixes were merged into a shorter typed prefix (`20;2A` is `20`) keeps
/// the store's rows.
pub fn typed_prefix_counts(
    prepared: &PreparedRegionReassignment,
    preview: &RegionPreview,
    mut matched_in: impl FnMut(&PreparedRegionReassignment) -> Result<u64, ServiceError>,
) -> Result<Vec<PrefixCount>, ServiceError> {
    let mut rows = preview.per_prefix.clone();
    if !prepared.request.country.uses_french_postal_codes() {
        return Ok(rows);
    }
    let typed = prepared.params["postal"].as_str().unwrap_or_default();
    for code in typed_expanding_codes(typed) {
        let Some(prefixes) = expansion(&code) else {
            continue;
        };
        let positions: Vec<usize> = prefixes
            .iter()
            .filter_map(|prefix| rows.iter().position(|row| row.prefix == *prefix))
            .collect();
        if positions.len() != prefixes.len() {
            continue;
        }

        let mut departement = prepared.clone();
        departement.request.postal = PostalSelection::Prefixes(
            prefixes
                .iter()
                .filter_map(|prefix| PostalPrefix::new(prefix))
                .collect(),
        );
        let matched = matched_in(&departement)?;

        let first = positions.iter().copied().min().unwrap_or(0);
        rows[first] = PrefixCount {
            prefix: code.clone(),
            matched,
        };
        let mut index = 0;
        rows.retain(|row| {
            let keep = index == first || !prefixes.contains(&row.prefix);
            index += 1;
            keep
        });
    }
    Ok(rows)
}

/// Returns the postal prefixes a département code stands for when they are
/// not the code itself: Corsica's, and those of the collectivities whose
/// communes use another département's codes.
fn expansion(code: &str) -> Option<Vec<String>> {
    if let Some(corsica) = reference::corsica_postal_prefixes(code) {
        return Some(corsica);
    }
    let prefixes = reference::departement(code)?.selection_prefixes();
    (!prefixes.is_empty() && prefixes.as_slice() != [code])
        .then(|| prefixes.into_iter().map(str::to_string).collect())
}

/// Returns the département codes the postal field names that stand for
/// other prefixes, once each and in the order typed, whatever their case,
/// spacing or hyphens (`2 a`, `2-B`).
fn typed_expanding_codes(postal: &str) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for part in crate::domain::postal::postal_field_parts(postal) {
        let code: String = part
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if expansion(&code).is_some() && !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanding_codes_are_found_as_typed() {
        assert_eq!(typed_expanding_codes("51; 2a ,2-B"), vec!["2A", "2B"]);
        assert_eq!(typed_expanding_codes("2B;2B"), vec!["2B"]);
        assert_eq!(typed_expanding_codes("977;971;978"), vec!["977", "978"]);
        assert_eq!(typed_expanding_codes("989"), vec!["989"]);
        assert!(typed_expanding_codes("200;201").is_empty());
        assert!(typed_expanding_codes("2AB").is_empty());
        assert!(typed_expanding_codes("974;51").is_empty());
    }
}
