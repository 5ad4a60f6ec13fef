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
    /// Whether the map of metropolitan départements draws it.
    pub in_svg_map: bool,
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
            _postal_codes_of_other_prefix,
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
                name,
                region_code,
                region_name,
                zone,
                chef_lieu_insee,
                commune_count,
                postal_prefixes: split_sorted(postal_prefixes_3),
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
