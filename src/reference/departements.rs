//! French départements and overseas collectivities (INSEE COG 2026).

use std::sync::LazyLock;

use super::embedded::read_rows;

const DEPARTEMENTS_CSV: &str = include_str!("../../data/departements.csv");

/// Zone of a département in the INSEE classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Zone {
    /// Metropolitan France, Corsica included.
    Metropolitan,
    /// Overseas département and region (DROM): 971 to 976 except 975.
    OverseasDepartement,
    /// Overseas collectivity (COM): 975, 977, 978, 984, 986 to 989.
    OverseasCollectivity,
}

/// A département, or an overseas collectivity with a département-like code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departement {
    /// INSEE code: `01` to `95`, `2A`, `2B`, or three digits overseas (`971`).
    pub code: &'static str,
    pub name: &'static str,
    pub region_code: &'static str,
    pub region_name: &'static str,
    pub zone: Zone,
    /// INSEE code of the commune that is the seat of the prefecture.
    pub chef_lieu_insee: &'static str,
    pub commune_count: u32,
    /// First three digits of the postal codes of its communes, sorted. Empty
    /// for the French Southern and Antarctic Lands, which have no postal code.
    pub postal_prefixes: Vec<&'static str>,
    /// Postal codes of its communes that start with another département's
    /// prefix (`52100` for two communes of the Marne), without the commune.
    pub postal_codes_of_other_prefix: Vec<&'static str>,
    /// Whether the map of metropolitan départements draws it.
    pub in_svg_map: bool,
}

impl Departement {
    /// Returns the postal prefixes that select the addresses of this
    /// département: its own code, or the codes its communes really use when
    /// none of them starts with its code. Saint-Barthélemy (977) and
    /// Saint-Martin (978) use Guadeloupe's `97133` and `97150`, and
    /// Clipperton (989) uses `98799`. Returns an empty list for the French
    /// Southern and Antarctic Lands (984), which have no postal code.
    ///
    /// Corsica's `2A` and `2B` are returned as they are, because the postal
    /// field expands them.
    pub fn selection_prefixes(&self) -> Vec<&'static str> {
        let uses_own_code = self
            .postal_prefixes
            .iter()
            .any(|prefix| prefix.starts_with(self.code))
            || (self.code.starts_with('2') && self.code.ends_with(['A', 'B']));
        if uses_own_code {
            vec![self.code]
        } else {
            self.postal_codes_of_other_prefix.clone()
        }
    }

    /// Returns the alpha-3 code addresses of this département are stored
    /// with: their own ISO code for the Pacific collectivities, which
    /// addresses name as countries, and `FRA` for every other one.
    pub fn country_alpha3(&self) -> &'static str {
        match self.code {
            "986" => "WLF",
            "987" => "PYF",
            "988" => "NCL",
            _ => "FRA",
        }
    }
}

static DEPARTEMENTS: LazyLock<Vec<Departement>> = LazyLock::new(load_departements);

/// Returns every département in file order: metropolitan ones by code, then
/// the overseas ones.
pub fn departements() -> &'static [Departement] {
    &DEPARTEMENTS
}

/// Finds a département by its INSEE code (`51`, `2A` or `2a`, `971`).
pub fn departement(code: &str) -> Option<&'static Departement> {
    let code = code.trim();
    DEPARTEMENTS
        .iter()
        .find(|departement| departement.code.eq_ignore_ascii_case(code))
}

fn load_departements() -> Vec<Departement> {
    read_rows(
        "departements.csv",
        DEPARTEMENTS_CSV,
        [
            "code",
            "name",
            "region_code",
            "region_name",
            "zone",
            "chef_lieu_insee",
            "commune_count",
            "postal_prefixes_2",
            "postal_prefixes_3",
            "postal_codes_of_other_prefix",
            "in_svg_map",
        ],
        |[
            code,
            name,
            region_code,
            region_name,
            zone,
            chef_lieu_insee,
            commune_count,
            _postal_prefixes_2,
            postal_prefixes_3,
            postal_codes_of_other_prefix,
            in_svg_map,
        ]| {
            // The file is compiled in and fully parsed by the unit tests, so
            // an unexpected value below is a build defect.
            let zone = match zone {
                "metro" => Zone::Metropolitan,
                "drom" => Zone::OverseasDepartement,
                "com" => Zone::OverseasCollectivity,
                other => panic!("departements.csv: unknown zone {other:?} for {code}"),
            };
            let commune_count = match commune_count.parse() {
                Ok(count) => count,
                Err(_) => {
                    panic!("departements.csv: invalid commune_count {commune_count:?} for {code}")
                }
            };
            let in_svg_map = match in_svg_map {
                "yes" => true,
                "no" => false,
                other => panic!("departements.csv: invalid in_svg_map {other:?} for {code}"),
            };
            Departement {
                code,
                name: super::french_spelling(name),
                region_code,
                region_name: super::french_spelling(region_name),
                zone,
                chef_lieu_insee,
                commune_count,
                postal_prefixes: split_sorted(postal_prefixes_3),
                postal_codes_of_other_prefix: postal_codes(postal_codes_of_other_prefix),
                in_svg_map,
            }
        },
    )
}

fn split_sorted(list: &'static str) -> Vec<&'static str> {
    let mut items: Vec<&'static str> = list.split(';').filter(|item| !item.is_empty()).collect();
    items.sort_unstable();
    items
}

/// Reads the postal codes of a `postal_codes_of_other_prefix` cell, whose
/// entries are `code (INSEE commune)` separated by `;`, sorted and without
/// duplicates.
fn postal_codes(cell: &'static str) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = cell
        .split(';')
        .filter_map(|entry| entry.split_whitespace().next())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}
