//! Communes with their La Poste postal codes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use super::embedded::read_rows;

const COMMUNES_CSV: &str = include_str!("../../data/communes_postal.csv");

/// One postal code of one commune: a commune with several postal codes
/// appears once per code.
///
/// Paris, Lyon and Marseille appear through their municipal arrondissements
/// (`Paris 1er Arrondissement`, `75001`), which carry the same postal codes
/// as the whole city, with the city in `parent_insee` and `parent_name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commune {
    /// INSEE code of the commune or arrondissement (`51454`, `75101`).
    pub insee: &'static str,
    pub name: &'static str,
    /// Five-digit La Poste code.
    pub postal_code: &'static str,
    pub departement_code: &'static str,
    /// INSEE code of the city an arrondissement belongs to (`75056`).
    pub parent_insee: Option<&'static str>,
    /// Name of the city an arrondissement belongs to (`Paris`).
    pub parent_name: Option<&'static str>,
}

struct CommuneTable {
    communes: Vec<Commune>,
    /// Positions in `communes` of the rows of each postal code.
    by_postal_code: HashMap<&'static str, Vec<usize>>,
    /// First three digits of the postal codes of each département.
    prefixes_by_departement: HashMap<&'static str, BTreeSet<&'static str>>,
}

static TABLE: LazyLock<CommuneTable> = LazyLock::new(load_communes);

/// Returns every (commune, postal code) pair, in file order: by INSEE code.
pub fn communes() -> &'static [Commune] {
    &TABLE.communes
}

/// Tells whether La Poste lists this exact five-digit postal code.
pub fn postal_code_exists(code: &str) -> bool {
    CITY_KEYS.get(code).is_some()
}

/// Returns the communes served by a postal code, empty when La Poste does
/// not list it. A code can serve several communes, and even communes of two
/// départements (`52100`).
pub fn communes_for_postal_code(code: &str) -> Vec<&'static Commune> {
    let table: &'static CommuneTable = &TABLE;
    table
        .by_postal_code
        .get(code)
        .map(|positions| positions.iter().map(|&i| &table.communes[i]).collect())
        .unwrap_or_default()
}

/// Names of the communes a postal code serves, and of the city of an
/// arrondissement: as La Poste writes them, and folded by `city_key`.
#[derive(Default)]
struct ServedCities {
    names: Vec<&'static str>,
    keys: Vec<String>,
}

/// The cities of each postal code, built on first use. An import reads
/// them for every address, to normalise its code and check its city, so a
/// code is found by its value rather than hashed.
struct CityIndex {
    /// For each five-digit code, 1 + its position in `served`, or 0.
    slots: Vec<u32>,
    served: Vec<ServedCities>,
}

impl CityIndex {
    fn slot(code: &str) -> Option<usize> {
        if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        code.parse().ok()
    }

    fn get(&self, code: &str) -> Option<&ServedCities> {
        let position = *self.slots.get(Self::slot(code)?)?;
        self.served
            .get(usize::try_from(position).ok()?.checked_sub(1)?)
    }
}

static CITY_KEYS: LazyLock<CityIndex> = LazyLock::new(|| {
    let mut index = CityIndex {
        slots: vec![0; 100_000],
        served: Vec::new(),
    };
    for commune in communes() {
        let Some(slot) = CityIndex::slot(commune.postal_code) else {
            continue;
        };
        if index.slots[slot] == 0 {
            index.served.push(ServedCities::default());
            index.slots[slot] = u32::try_from(index.served.len()).unwrap_or(u32::MAX);
        }
        let position = index.slots[slot] as usize - 1;
        let served = &mut index.served[position];
        for name in std::iter::once(commune.name).chain(commune.parent_name) {
            if served.names.contains(&name) {
                continue;
            }
            served.names.push(name);
            let key = city_key(name);
            if !served.keys.contains(&key) {
                served.keys.push(key);
            }
        }
    }
    for (code, town) in TOWNS_NAMED_FOR_COMMUNES {
        if let Some(served) = CityIndex::slot(code)
            .and_then(|slot| index.slots.get(slot).copied())
            .and_then(|position| index.served.get_mut((position as usize).checked_sub(1)?))
        {
            served.keys.push(city_key(town));
        }
    }
    index
});

/// Towns that addresses give as the city where the La Poste list names
/// the commune: the chief towns of the one-commune collectivities
/// (Gustavia for Saint-Barthélemy, Marigot for Saint-Martin), and
/// Clipperton, which the list calls « Île de Clipperton ».
const TOWNS_NAMED_FOR_COMMUNES: [(&str, &str); 3] = [
    ("97133", "Gustavia"),
    ("97150", "Marigot"),
    ("98799", "Clipperton"),
];

/// Abbreviations of French place names, by their folded form.
const PLACE_ABBREVIATIONS: [(&str, &str); 2] = [("st", "saint"), ("ste", "sainte")];

/// Folds a city name for comparison with the communes of a postal code.
/// Case, accents, hyphens and apostrophes do not count, and `St` and
/// `Ste` are `Saint` and `Sainte`. `CEDEX` and what follows it, an
/// arrondissement number (`Paris 15`, `Lyon 3e`, `Marseille 1er`) and the
/// word arrondissement are left out.
pub fn city_key(city: &str) -> String {
    let folded = crate::domain::search::fold_for_search(city);
    let mut words = Vec::new();
    for word in folded.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if word == "cedex" {
            break;
        }
        let arrondissement = word == "arrondissement"
            || (word.starts_with(|c: char| c.is_ascii_digit())
                && word.trim_start_matches(|c: char| c.is_ascii_digit()).len() <= 2
                && !words.is_empty());
        if arrondissement {
            continue;
        }
        let word = PLACE_ABBREVIATIONS
            .iter()
            .find(|(short, _)| *short == word)
            .map_or(word, |(_, long)| *long);
        words.push(word);
    }
    words.join(" ")
}

/// Tells whether `city` names a commune the postal code serves, or the
/// city of one of its arrondissements. `None` when La Poste does not list
/// the code or the city is empty once folded.
pub fn postal_code_serves_city(code: &str, city: &str) -> Option<bool> {
    let served = CITY_KEYS.get(code)?;
    // Most files write the city as La Poste does, up to case (`REIMS`,
    // `SAINT-ÉTIENNE`): that is decided without allocating, since an
    // import checks every address.
    let city = city.trim();
    let same_but_case = |name: &&str| {
        name.len() == city.len()
            && (name.eq_ignore_ascii_case(city)
                || name
                    .chars()
                    .flat_map(char::to_lowercase)
                    .eq(city.chars().flat_map(char::to_lowercase)))
    };
    if served.names.iter().any(same_but_case) {
        return Some(true);
    }
    let key = city_key(city);
    if key.is_empty() {
        return None;
    }
    Some(served.keys.contains(&key))
}

/// Postal codes of each commune, by name folded with `city_key`, built on
/// first use: only a warning about a city that its postal code does not
/// serve reads them.
static CODES_BY_CITY: LazyLock<HashMap<String, BTreeSet<&'static str>>> = LazyLock::new(|| {
    let mut codes: HashMap<String, BTreeSet<&'static str>> = HashMap::new();
    for commune in communes() {
        for name in std::iter::once(commune.name).chain(commune.parent_name) {
            codes
                .entry(city_key(name))
                .or_default()
                .insert(commune.postal_code);
        }
    }
    codes
});

/// Returns the postal codes of the communes named `city` (case, accents
/// and the other differences `city_key` ignores aside), sorted: `Reims`
/// gives `["51100"]`. Several communes may share a name.
pub fn postal_codes_of_city(city: &str) -> Vec<&'static str> {
    let key = city_key(city);
    if key.is_empty() {
        return Vec::new();
    }
    CODES_BY_CITY
        .get(&key)
        .map(|codes| codes.iter().copied().collect())
        .unwrap_or_default()
}

/// Returns the postal prefixes that the communes of a Corsican département
/// use, sorted: `2A` gives `["200", "201"]` and `2B` gives `["202", "206"]`
/// with the 2026 data. Returns `None` for any other département, because
/// only Corsica has département codes that are not postal prefixes.
pub fn corsica_postal_prefixes(departement: &str) -> Option<Vec<String>> {
    let code = departement.trim().to_ascii_uppercase();
    if code != "2A" && code != "2B" {
        return None;
    }
    let prefixes = TABLE.prefixes_by_departement.get(code.as_str())?;
    Some(prefixes.iter().map(|prefix| prefix.to_string()).collect())
}

/// Returns the first three digits of the postal codes of a département's
/// communes, sorted, as the commune list gives them.
#[cfg(test)]
pub(super) fn derived_postal_prefixes(departement: &str) -> Vec<&'static str> {
    TABLE
        .prefixes_by_departement
        .get(departement)
        .map(|prefixes| prefixes.iter().copied().collect())
        .unwrap_or_default()
}

fn load_communes() -> CommuneTable {
    let rows = read_rows(
        "communes_postal.csv",
        COMMUNES_CSV,
        [
            "insee",
            "commune_name",
            "postal_code",
            "departement_code",
            "commune_type",
            "parent_commune_insee",
        ],
        |[
            insee,
            name,
            postal_code,
            departement_code,
            commune_type,
            parent,
        ]| {
            let is_arrondissement = commune_type == "arrondissement-municipal";
            Commune {
                insee,
                name,
                postal_code,
                departement_code,
                parent_insee: (is_arrondissement && !parent.is_empty()).then_some(parent),
                parent_name: None,
            }
        },
    );

    // The file lists Paris, Lyon and Marseille twice: as a whole city and
    // by arrondissement, each with the same postal codes. Only the
    // arrondissement rows are kept, so that each postal code counts once.
    let cities: HashSet<&'static str> = rows.iter().filter_map(|row| row.parent_insee).collect();
    let city_names: HashMap<&'static str, &'static str> = rows
        .iter()
        .filter(|row| cities.contains(row.insee))
        .map(|row| (row.insee, row.name))
        .collect();
    let communes: Vec<Commune> = rows
        .into_iter()
        // A row without a postal code cannot be matched.
        .filter(|row| !row.postal_code.is_empty() && !cities.contains(row.insee))
        .map(|mut row| {
            row.parent_name = row
                .parent_insee
                .and_then(|city| city_names.get(city).copied());
            row
        })
        .collect();

    let mut by_postal_code: HashMap<&'static str, Vec<usize>> = HashMap::new();
    let mut prefixes_by_departement: HashMap<&'static str, BTreeSet<&'static str>> = HashMap::new();
    for (position, commune) in communes.iter().enumerate() {
        by_postal_code
            .entry(commune.postal_code)
            .or_default()
            .push(position);
        if let Some(prefix) = commune.postal_code.get(..3) {
            prefixes_by_departement
                .entry(commune.departement_code)
                .or_default()
                .insert(prefix);
        }
    }

    CommuneTable {
        communes,
        by_postal_code,
        prefixes_by_departement,
    }
}
