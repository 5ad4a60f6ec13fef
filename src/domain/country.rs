//! ISO 3166-1 countries: parsing what people type into an alpha-3 code.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use serde::Serialize;

use crate::reference::{self, Country};

/// ISO 3166-1 alpha-3 country code, uppercase (`FRA`, `BEL`).
///
/// Values are only built from the embedded country table, so every code is
/// a known country.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CountryCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    #[error(
        "« {0} » n'est pas un pays connu ; indiquez un code ISO à trois lettres (FRA, BEL…) ou le nom du pays"
    )]
    Unknown(String),
    /// An overseas territory given where contacts are selected: its
    /// addresses are stored under `FRA`, so the territory is chosen by its
    /// postal codes instead.
    #[error("{}", overseas_message(input, name, postal_prefix))]
    FrenchOverseas {
        input: String,
        name: &'static str,
        postal_prefix: &'static str,
    },
}

/// Explains that a territory's addresses are stored under France, naming
/// the territory when it was typed by a code (`REU`), and not a second
/// time when it was typed by its name.
fn overseas_message(input: &str, name: &str, postal_prefix: &str) -> String {
    let typed = input.trim();
    let subject = if typed.to_lowercase() == name.to_lowercase() {
        format!("les adresses de « {typed} » sont enregistrées")
    } else {
        format!(
            "« {typed} » désigne {}, dont les adresses sont enregistrées",
            with_article(name)
        )
    };
    format!("{subject} avec la France ; indiquez le pays FRA et le code postal {postal_prefix}")
}

/// Returns the name of an overseas territory as a sentence uses it, with
/// the article French gives it: « la Guadeloupe », but « Mayotte » and
/// « La Réunion », whose list name has it.
pub fn with_article(name: &str) -> String {
    match name {
        "Guadeloupe" | "Martinique" | "Guyane" => format!("la {name}"),
        _ => name.to_string(),
    }
}

/// Overseas départements and collectivities whose addresses are stored as
/// France (`FRA`), with the postal prefix that selects them. French
/// administrators count them as French départements: their postal codes
/// are French (`97xxx`) and the département codes 971 to 976 are among the
/// others. Saint-Barthélemy and Saint-Martin keep the Guadeloupe codes
/// they had before 2007 (`97133`, `97150`).
///
/// The Pacific collectivities (`NCL`, `PYF`, `WLF`) keep their own code:
/// they have their own currency and customs, and their `98xxx` codes do
/// not overlap with any département.
const OVERSEAS_STORED_AS_FRANCE: [OverseasTerritory; 8] = [
    OverseasTerritory::new("GLP", "971", "Guadeloupe"),
    OverseasTerritory::new("MTQ", "972", "Martinique"),
    OverseasTerritory::new("GUF", "973", "Guyane"),
    OverseasTerritory::new("REU", "974", "La Réunion"),
    OverseasTerritory::new("SPM", "975", "Saint-Pierre-et-Miquelon"),
    OverseasTerritory::new("MYT", "976", "Mayotte"),
    OverseasTerritory::new("BLM", "97133", "Saint-Barthélemy"),
    OverseasTerritory::new("MAF", "97150", "Saint-Martin"),
];

/// An overseas territory whose addresses are stored as France.
#[derive(Debug, PartialEq, Eq)]
pub struct OverseasTerritory {
    alpha3: &'static str,
    /// Prefix of every postal code of the territory.
    pub postal_prefix: &'static str,
    /// Usual French name, as the département list gives it.
    pub name: &'static str,
}

impl OverseasTerritory {
    const fn new(alpha3: &'static str, postal_prefix: &'static str, name: &'static str) -> Self {
        OverseasTerritory {
            alpha3,
            postal_prefix,
            name,
        }
    }
}

/// Countries and territories whose addresses use French postal codes listed
/// by La Poste: the overseas départements and most overseas collectivities.
/// Monaco is left out because the La Poste list does not contain its `980xx`
/// codes, and the French Southern Lands (`ATF`) because they have none.
const FRENCH_POSTAL_COUNTRIES: [&str; 12] = [
    "FRA", "GLP", "MTQ", "GUF", "REU", "MYT", "SPM", "BLM", "MAF", "WLF", "PYF", "NCL",
];

/// Other names people use for a country, beside the English and French
/// names of the table: short forms of names that the table gives in their
/// inverted official form, usual French names, and former names.
const NAME_ALIASES: &[(&str, &str)] = &[
    // French usage calls the French part of the island Saint-Martin and
    // the Dutch part Sint Maarten, so the bare name is the French one.
    ("Saint-Martin", "MAF"),
    ("Saint Martin", "MAF"),
    ("Sint Maarten", "SXM"),
    // Its nations and the usual French names of the country and of the
    // Netherlands, which addresses write as a country.
    ("Angleterre", "GBR"),
    ("England", "GBR"),
    ("Écosse", "GBR"),
    ("Scotland", "GBR"),
    ("Pays de Galles", "GBR"),
    ("Wales", "GBR"),
    ("Hollande", "NLD"),
    ("Holland", "NLD"),
    ("France métropolitaine", "FRA"),
    ("Metropolitan France", "FRA"),
    ("Grande-Bretagne", "GBR"),
    ("Great Britain", "GBR"),
    ("UK", "GBR"),
    ("Royaume-Uni de Grande-Bretagne et d'Irlande du Nord", "GBR"),
    (
        "United Kingdom of Great Britain and Northern Ireland",
        "GBR",
    ),
    ("États-Unis d'Amérique", "USA"),
    ("United States of America", "USA"),
    ("Russie", "RUS"),
    ("Russia", "RUS"),
    ("Corée du Sud", "KOR"),
    ("République de Corée", "KOR"),
    ("South Korea", "KOR"),
    ("Corée du Nord", "PRK"),
    ("North Korea", "PRK"),
    ("Iran", "IRN"),
    ("Bolivie", "BOL"),
    ("Bolivia", "BOL"),
    ("Venezuela", "VEN"),
    ("Tanzanie", "TZA"),
    ("Tanzania", "TZA"),
    ("Moldavie", "MDA"),
    ("Moldova", "MDA"),
    ("Syrie", "SYR"),
    ("Syria", "SYR"),
    ("Laos", "LAO"),
    ("Taïwan", "TWN"),
    ("Vietnam", "VNM"),
    ("Micronésie", "FSM"),
    ("Micronesia", "FSM"),
    ("Palestine", "PSE"),
    ("Vatican", "VAT"),
    ("Cité du Vatican", "VAT"),
    ("Saint-Siège", "VAT"),
    ("Holy See", "VAT"),
    ("Vatican City", "VAT"),
    ("République tchèque", "CZE"),
    ("Czech Republic", "CZE"),
    ("Biélorussie", "BLR"),
    ("Turkey", "TUR"),
    ("Congo-Kinshasa", "COD"),
    ("Democratic Republic of the Congo", "COD"),
    ("Congo-Brazzaville", "COG"),
    ("Macédoine", "MKD"),
    ("Macedonia", "MKD"),
    ("Cape Verde", "CPV"),
    ("Ivory Coast", "CIV"),
    ("Swaziland", "SWZ"),
    ("Burma", "MMR"),
    ("East Timor", "TLS"),
    ("Brunei", "BRN"),
    ("La Réunion", "REU"),
    ("Guyane", "GUF"),
    ("Île de la Réunion", "REU"),
    ("Îles Malouines", "FLK"),
    ("Îles Falkland", "FLK"),
    ("Falkland Islands", "FLK"),
    ("Îles Åland", "ALA"),
    ("Îles Cocos", "CCK"),
    ("Île Christmas", "CXR"),
    ("Îles Salomon", "SLB"),
    ("Kirghizstan", "KGZ"),
    ("Sainte-Hélène", "SHN"),
    ("Îles Vierges des États-Unis", "VIR"),
    ("Îles Vierges américaines", "VIR"),
    // Clipperton has no ISO 3166 code; French law attaches it to the
    // State, and La Poste gives it the French postal code 98799.
    ("Clipperton", "FRA"),
    ("Île de Clipperton", "FRA"),
    ("Île Clipperton", "FRA"),
];

/// Lookup tables from what people type to a position in
/// [`reference::countries`].
struct CountryIndex {
    by_alpha2: HashMap<&'static str, usize>,
    by_alpha3: HashMap<&'static str, usize>,
    /// Keys are [`name_key`]s. `None` marks a key that two countries share,
    /// which is rejected rather than guessed.
    by_name: HashMap<String, Option<usize>>,
}

static INDEX: LazyLock<CountryIndex> = LazyLock::new(build_index);

fn build_index() -> CountryIndex {
    let countries = reference::countries();
    let mut index = CountryIndex {
        by_alpha2: HashMap::new(),
        by_alpha3: HashMap::new(),
        by_name: HashMap::new(),
    };

    for (position, country) in countries.iter().enumerate() {
        index.by_alpha2.insert(country.alpha2, position);
        index.by_alpha3.insert(country.alpha3, position);
        insert_name(&mut index.by_name, country.name_en, position);
        insert_name(&mut index.by_name, country.name_fr, position);
    }
    for (alias, alpha3) in NAME_ALIASES {
        // An alias to a code missing from the table is skipped here, and a
        // unit test checks that every alias resolves.
        if let Some(&position) = index.by_alpha3.get(alpha3) {
            insert_name(&mut index.by_name, alias, position);
        }
    }
    index
}

fn insert_name(by_name: &mut HashMap<String, Option<usize>>, name: &str, position: usize) {
    by_name
        .entry(name_key(name))
        .and_modify(|found| {
            if *found != Some(position) {
                *found = None;
            }
        })
        .or_insert(Some(position));
}

/// Reduces a country name to the form names are compared in: without
/// accents, lowercase, with every run of punctuation or spaces (hyphens,
/// apostrophes, commas, brackets) turned into one space, and the usual
/// abbreviations `St` and `Ste` spelt out (`St-Martin`, `Ste-Lucie`).
fn name_key(name: &str) -> String {
    let ascii = deunicode::deunicode(name).to_ascii_lowercase();
    let mut key = String::with_capacity(ascii.len());
    for word in ascii.split(|c: char| !c.is_ascii_alphanumeric()) {
        let word = match word {
            "" => continue,
            "st" => "saint",
            "ste" => "sainte",
            word => word,
        };
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(word);
    }
    key
}

/// Finds the position in the country table of a trimmed, non-empty input.
fn find_position(input: &str) -> Option<usize> {
    let index: &CountryIndex = &INDEX;

    // Odoo references countries by XML id: `base.` and the lowercase
    // alpha-2 code, except Great Britain, which it calls `base.uk`.
    if let Some(reference) = input
        .get(..5)
        .filter(|head| head.eq_ignore_ascii_case("base."))
        .map(|_| &input[5..])
    {
        if reference.eq_ignore_ascii_case("uk") {
            return index.by_alpha3.get("GBR").copied();
        }
        return index
            .by_alpha2
            .get(reference.to_ascii_uppercase().as_str())
            .copied();
    }

    if input.bytes().all(|b| b.is_ascii_alphabetic()) {
        let upper = input.to_ascii_uppercase();
        let by_code = match upper.len() {
            2 => index.by_alpha2.get(upper.as_str()),
            3 => index.by_alpha3.get(upper.as_str()),
            _ => None,
        };
        if let Some(&position) = by_code {
            return Some(position);
        }
    }

    index.by_name.get(&name_key(input)).copied().flatten()
}

fn overseas_territory(alpha3: &str) -> Option<&'static OverseasTerritory> {
    OVERSEAS_STORED_AS_FRANCE
        .iter()
        .find(|territory| territory.alpha3 == alpha3)
}

impl CountryCode {
    pub fn france() -> Self {
        CountryCode("FRA".to_string())
    }

    /// Parses what people type for a country. Accepted forms are an alpha-3
    /// code (`FRA`, `fra`), an alpha-2 code (`FR`), and an Odoo reference
    /// (`base.fr`, `base.uk` for Great Britain). English and French names are
    /// accepted in any case, with or without accents (`Belgique`,
    /// `Etats-Unis`, `Germany`).
    ///
    /// Returns `Ok(None)` for an empty or blank input. Names are matched
    /// exactly after the reduction of [`name_key`], never approximately.
    ///
    /// # Errors
    ///
    /// [`CountryError::Unknown`] with the trimmed input when nothing matches.
    /// The overseas départements and the collectivities that use `97xxx`
    /// postal codes give `FRA` (`Réunion`, `GP`, `MTQ` all give `FRA`), so
    /// that their addresses match France and its département codes.
    pub fn parse(input: &str) -> Result<Option<CountryCode>, CountryError> {
        Ok(Self::parse_naming_territory(input)?.map(|(country, _)| country))
    }

    /// Parses a country as [`CountryCode::parse`] does, and also returns
    /// the overseas territory the input named when it is stored as France
    /// (`Réunion` gives `FRA` and La Réunion), so that an import can check
    /// the postal code against the territory.
    ///
    /// # Errors
    ///
    /// As for `parse`.
    pub fn parse_naming_territory(
        input: &str,
    ) -> Result<Option<(CountryCode, Option<&'static OverseasTerritory>)>, CountryError> {
        let input = input.trim();
        if input.is_empty() {
            return Ok(None);
        }
        match find_position(input) {
            Some(position) => {
                let alpha3 = reference::countries()[position].alpha3;
                Ok(Some(match overseas_territory(alpha3) {
                    Some(territory) => (CountryCode::france(), Some(territory)),
                    None => (CountryCode(alpha3.to_string()), None),
                }))
            }
            None => Err(CountryError::Unknown(input.to_string())),
        }
    }

    /// Parses the country of a selection (region reassignment, contact
    /// filter) as [`CountryCode::parse`] does, but rejects an overseas
    /// territory stored as France. Taken as `FRA`, `REU` with the postal
    /// field `*` would select the whole of France.
    ///
    /// # Errors
    ///
    /// [`CountryError::Unknown`] as for `parse`, and
    /// [`CountryError::FrenchOverseas`] with the postal prefix to use.
    pub fn parse_selection(input: &str) -> Result<Option<CountryCode>, CountryError> {
        let trimmed = input.trim();
        if let Some(position) = find_position(trimmed) {
            let alpha3 = reference::countries()[position].alpha3;
            if let Some(territory) = overseas_territory(alpha3) {
                return Err(CountryError::FrenchOverseas {
                    input: trimmed.to_string(),
                    name: territory.name,
                    postal_prefix: territory.postal_prefix,
                });
            }
        }
        CountryCode::parse(input)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_france(&self) -> bool {
        self.0 == "FRA"
    }

    /// Tells whether addresses in this country use French postal codes from
    /// the La Poste list: France and the overseas territories that La Poste
    /// serves (Guadeloupe, Réunion, Nouvelle-Calédonie…).
    pub fn uses_french_postal_codes(&self) -> bool {
        FRENCH_POSTAL_COUNTRIES.contains(&self.0.as_str())
    }

    /// Tells whether this country's postal codes are five digits that may
    /// start with a zero, which spreadsheets drop: Germany (`01067`
    /// Dresden), Italy (`00118` Rome), Spain (`01001` Vitoria), Finland
    /// (`00100` Helsinki) and the United States (`02134` Boston).
    /// French codes are handled with the La Poste list instead.
    pub fn has_five_digit_postal_codes(&self) -> bool {
        ["DEU", "ITA", "ESP", "FIN", "USA"].contains(&self.0.as_str())
    }

    /// Returns the prefix of every postal code of a Pacific collectivity,
    /// which addresses name by its own code: `986` for `WLF`, `987` for
    /// `PYF`, `988` for `NCL`. Other countries have none.
    pub fn pacific_postal_prefix(&self) -> Option<&'static str> {
        if self.is_france() {
            return None;
        }
        reference::departements()
            .iter()
            .find(|territory| territory.country_alpha3() == self.0)
            .map(|territory| territory.code)
    }

    /// Returns the prefix `postal_norm` should start with when this is a
    /// Pacific collectivity and the five-digit code does not: Papeete's
    /// `98714` under `NCL` gives `988`. No region selection finds such an
    /// address.
    pub fn pacific_mismatch(&self, postal_norm: &str) -> Option<&'static str> {
        let five_digits = postal_norm.len() == 5 && postal_norm.bytes().all(|b| b.is_ascii_digit());
        self.pacific_postal_prefix()
            .filter(|prefix| five_digits && !postal_norm.starts_with(prefix))
    }

    /// Returns the two-letter code (`FR`).
    pub fn alpha2(&self) -> &'static str {
        self.country().alpha2
    }

    /// Returns the French name (`France`, `Belgique`), as the Debian
    /// iso-codes translation gives it.
    pub fn name_fr(&self) -> &'static str {
        self.country().name_fr
    }

    /// Returns the English name (`Belgium`).
    pub fn name_en(&self) -> &'static str {
        self.country().name_en
    }

    fn country(&self) -> &'static Country {
        // `CountryCode` is only built from the table by `parse` and
        // `france`, and a unit test checks that `FRA` is in the table.
        reference::country_by_alpha3(&self.0).expect("a CountryCode is always in the country table")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Option<String> {
        CountryCode::parse(input)
            .ok()
            .flatten()
            .map(|code| code.as_str().to_string())
    }

    #[test]
    fn parse_codes() {
        let cases = [
            ("FRA", "FRA"),
            ("fra", "FRA"),
            ("Fra", "FRA"),
            ("FR", "FRA"),
            ("fr", "FRA"),
            ("BE", "BEL"),
            ("CHE", "CHE"),
            ("us", "USA"),
            ("USA", "USA"),
            ("GB", "GBR"),
            ("  DEU\t", "DEU"),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input).as_deref(), Some(expected), "parse({input:?})");
        }
    }

    #[test]
    fn parse_odoo_references() {
        let cases = [
            ("base.fr", "FRA"),
            ("base.be", "BEL"),
            ("BASE.DE", "DEU"),
            ("base.uk", "GBR"),
            ("base.us", "USA"),
            (" base.ch ", "CHE"),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input).as_deref(), Some(expected), "parse({input:?})");
        }
        for input in ["base.zz", "base.", "base.fra", "base.france"] {
            assert!(
                matches!(CountryCode::parse(input), Err(CountryError::Unknown(_))),
                "parse({input:?}) is rejected"
            );
        }
    }

    #[test]
    fn parse_french_names() {
        let cases = [
            ("France", "FRA"),
            ("FRANCE", "FRA"),
            ("france", "FRA"),
            ("Belgique", "BEL"),
            ("Suisse", "CHE"),
            ("Allemagne", "DEU"),
            ("Royaume-Uni", "GBR"),
            ("Royaume Uni", "GBR"),
            ("États-Unis", "USA"),
            ("Etats-Unis", "USA"),
            ("etats unis", "USA"),
            ("ÉTATS-UNIS", "USA"),
            ("Espagne", "ESP"),
            ("Italie", "ITA"),
            ("Pays-Bas", "NLD"),
            ("Luxembourg", "LUX"),
            ("Côte d'Ivoire", "CIV"),
            ("Cote d’Ivoire", "CIV"),
            ("cote d ivoire", "CIV"),
            ("Guinée-Bissau", "GNB"),
            ("Guinée", "GIN"),
            ("Émirats arabes unis", "ARE"),
            ("Groenland", "GRL"),
            ("Guadeloupe", "FRA"),
            ("Nouvelle-Calédonie", "NCL"),
            ("Wallis-et-Futuna", "WLF"),
            ("Wallis et Futuna", "WLF"),
            ("St-Martin", "FRA"),
            ("St Pierre et Miquelon", "FRA"),
            ("Ste-Lucie", "LCA"),
            ("St-Marin", "SMR"),
            ("Clipperton", "FRA"),
            ("Île de Clipperton", "FRA"),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input).as_deref(), Some(expected), "parse({input:?})");
        }
    }

    #[test]
    fn parse_english_names() {
        let cases = [
            ("Germany", "DEU"),
            ("GERMANY", "DEU"),
            ("Belgium", "BEL"),
            ("Switzerland", "CHE"),
            ("United Kingdom", "GBR"),
            ("United States", "USA"),
            ("Spain", "ESP"),
            ("Brazil", "BRA"),
            ("Korea, Republic of", "KOR"),
            ("Korea Republic of", "KOR"),
            ("Türkiye", "TUR"),
            ("Turkiye", "TUR"),
            ("Congo", "COG"),
            ("St Lucia", "LCA"),
            ("St. Kitts and Nevis", "KNA"),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input).as_deref(), Some(expected), "parse({input:?})");
        }
    }

    #[test]
    fn parse_name_aliases() {
        let cases = [
            ("UK", "GBR"),
            ("uk", "GBR"),
            ("Angleterre", "GBR"),
            ("ecosse", "GBR"),
            ("Hollande", "NLD"),
            ("France métropolitaine", "FRA"),
            ("Grande-Bretagne", "GBR"),
            ("Great Britain", "GBR"),
            ("United States of America", "USA"),
            ("Russie", "RUS"),
            ("Russia", "RUS"),
            ("Corée du Sud", "KOR"),
            ("coree du sud", "KOR"),
            ("South Korea", "KOR"),
            ("Corée du Nord", "PRK"),
            ("Iran", "IRN"),
            ("Moldavie", "MDA"),
            ("Syrie", "SYR"),
            ("Vietnam", "VNM"),
            ("Viêt Nam", "VNM"),
            ("République tchèque", "CZE"),
            ("Tchéquie", "CZE"),
            ("Biélorussie", "BLR"),
            ("Turkey", "TUR"),
            ("La Réunion", "FRA"),
            ("Réunion", "FRA"),
            ("Guyane", "FRA"),
            ("Vatican", "VAT"),
            ("Taïwan", "TWN"),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input).as_deref(), Some(expected), "parse({input:?})");
        }
    }

    /// Returns the code `parse` gives for a table code: `FRA` for the
    /// overseas territories stored as France.
    fn stored_alpha3(alpha3: &'static str) -> &'static str {
        if overseas_territory(alpha3).is_some() {
            "FRA"
        } else {
            alpha3
        }
    }

    #[test]
    fn overseas_departements_parse_as_france() {
        let inputs = [
            "Réunion",
            "La Réunion",
            "REU",
            "RE",
            "GP",
            "Guadeloupe",
            "MTQ",
            "Martinique",
            "Guyane",
            "Guyane française",
            "French Guiana",
            "Mayotte",
            "YT",
            "Saint-Pierre-et-Miquelon",
            "SPM",
            "Saint-Barthélemy",
            "BLM",
            "MAF",
            "Saint-Martin (partie française)",
            "Saint-Martin",
            "base.re",
        ];
        for input in inputs {
            assert_eq!(parsed(input).as_deref(), Some("FRA"), "parse({input:?})");
        }
    }

    #[test]
    fn overseas_territory_named_beside_france() {
        let cases = [
            ("Réunion", Some("974")),
            (" gp ", Some("971")),
            ("Saint-Barthélemy", Some("97133")),
            ("France", None),
            ("Nouvelle-Calédonie", None),
            ("Atlantide", None),
            ("", None),
        ];
        for (input, prefix) in cases {
            let parsed = CountryCode::parse_naming_territory(input)
                .ok()
                .flatten()
                .and_then(|(_, territory)| territory);
            assert_eq!(
                parsed.map(|territory| territory.postal_prefix),
                prefix,
                "parse_naming_territory({input:?})"
            );
        }
    }

    #[test]
    fn pacific_collectivities_keep_their_code() {
        let cases = [
            ("Nouvelle-Calédonie", "NCL"),
            ("PYF", "PYF"),
            ("WF", "WLF"),
            ("SXM", "SXM"),
            ("Sint Maarten", "SXM"),
            ("Saint-Martin (partie néerlandaise)", "SXM"),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input).as_deref(), Some(expected), "parse({input:?})");
        }
    }

    #[test]
    fn selection_rejects_overseas_naming_prefix() {
        let cases = [
            ("REU", "La Réunion", "974"),
            (" Guadeloupe ", "Guadeloupe", "971"),
            ("BL", "Saint-Barthélemy", "97133"),
        ];
        for (input, name, postal_prefix) in cases {
            let expected = CountryError::FrenchOverseas {
                input: input.trim().to_string(),
                name,
                postal_prefix,
            };
            assert_eq!(
                CountryCode::parse_selection(input),
                Err(expected),
                "parse_selection({input:?})"
            );
        }
        let message = CountryCode::parse_selection("REU").unwrap_err().to_string();
        assert_eq!(
            message,
            "« REU » désigne La Réunion, dont les adresses sont enregistrées avec la France ; indiquez le pays FRA et le code postal 974"
        );
        let by_name = CountryCode::parse_selection("Saint-Martin")
            .unwrap_err()
            .to_string();
        assert_eq!(
            by_name,
            "les adresses de « Saint-Martin » sont enregistrées avec la France ; indiquez le pays FRA et le code postal 97150"
        );
        let by_code = CountryCode::parse_selection("GP").unwrap_err().to_string();
        assert!(
            by_code.starts_with("« GP » désigne la Guadeloupe, dont"),
            "{by_code}"
        );
    }

    #[test]
    fn selection_accepts_other_countries() {
        let cases = [("FRA", "FRA"), ("Belgique", "BEL"), ("NCL", "NCL")];
        for (input, expected) in cases {
            let code = CountryCode::parse_selection(input).ok().flatten();
            assert_eq!(
                code.as_ref().map(CountryCode::as_str),
                Some(expected),
                "parse_selection({input:?})"
            );
        }
        assert_eq!(CountryCode::parse_selection(""), Ok(None));
        assert_eq!(
            CountryCode::parse_selection("Atlantis"),
            Err(CountryError::Unknown("Atlantis".to_string()))
        );
    }

    #[test]
    fn overseas_territories_are_in_the_table() {
        for territory in OVERSEAS_STORED_AS_FRANCE {
            assert!(
                reference::country_by_alpha3(territory.alpha3).is_some(),
                "{} is in the table",
                territory.alpha3
            );
        }
    }

    #[test]
    fn parse_empty_is_none() {
        for input in ["", " ", "\t\n"] {
            assert_eq!(CountryCode::parse(input), Ok(None), "parse({input:?})");
        }
    }

    #[test]
    fn parse_unknown_keeps_input() {
        let cases = [
            ("Atlantis", "Atlantis"),
            ("  Atlantis ", "Atlantis"),
            ("XX", "XX"),
            ("XXX", "XXX"),
            ("Fr4nce", "Fr4nce"),
            // No approximate match: near misses and partial names fail.
            ("Frances", "Frances"),
            ("Belgiqu", "Belgiqu"),
            ("Corée", "Corée"),
            ("Bretagne", "Bretagne"),
            ("EU", "EU"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                CountryCode::parse(input),
                Err(CountryError::Unknown(expected.to_string())),
                "parse({input:?})"
            );
        }
    }

    #[test]
    fn unknown_message_names_value_and_fix() {
        let message = CountryError::Unknown("Atlantis".to_string()).to_string();
        assert_eq!(
            message,
            "« Atlantis » n'est pas un pays connu ; indiquez un code ISO à trois lettres (FRA, BEL…) ou le nom du pays"
        );
    }

    #[test]
    fn names_from_codes() {
        let cases = [
            ("FRA", "FR", "France", "France"),
            ("BEL", "BE", "Belgique", "Belgium"),
            ("CHE", "CH", "Suisse", "Switzerland"),
            ("DEU", "DE", "Allemagne", "Germany"),
            ("GBR", "GB", "Royaume-Uni", "United Kingdom"),
            ("USA", "US", "États-Unis", "United States"),
            ("ESP", "ES", "Espagne", "Spain"),
            ("ITA", "IT", "Italie", "Italy"),
        ];
        for (input, alpha2, name_fr, name_en) in cases {
            let code = CountryCode::parse(input)
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("{input} is a country"));
            assert_eq!(code.alpha2(), alpha2, "alpha2 of {input}");
            assert_eq!(code.name_fr(), name_fr, "name_fr of {input}");
            assert_eq!(code.name_en(), name_en, "name_en of {input}");
        }
    }

    #[test]
    fn france_constructor() {
        let france = CountryCode::france();
        assert_eq!(france.as_str(), "FRA");
        assert!(france.is_france());
        assert_eq!(france.name_fr(), "France");
        assert_eq!(france.to_string(), "FRA");
        assert_eq!(Some(france), CountryCode::parse("France").ok().flatten());
    }

    #[test]
    fn is_france_only_for_fra() {
        for (input, expected) in [("FRA", true), ("GLP", true), ("BEL", false), ("MCO", false)] {
            let code = CountryCode::parse(input).ok().flatten();
            assert_eq!(
                code.map(|c| c.is_france()),
                Some(expected),
                "is_france({input})"
            );
        }
    }

    #[test]
    fn french_postal_countries() {
        let cases = [
            ("FRA", true),
            ("GLP", true),
            ("REU", true),
            ("NCL", true),
            ("BLM", true),
            ("MCO", false),
            ("ATF", false),
            ("BEL", false),
            ("DEU", false),
        ];
        for (input, expected) in cases {
            let code = CountryCode::parse(input).ok().flatten();
            assert_eq!(
                code.map(|c| c.uses_french_postal_codes()),
                Some(expected),
                "uses_french_postal_codes({input})"
            );
        }
        for alpha3 in FRENCH_POSTAL_COUNTRIES {
            assert!(
                reference::country_by_alpha3(alpha3).is_some(),
                "{alpha3} is in the table"
            );
        }
    }

    #[test]
    fn every_alias_resolves() {
        for (alias, alpha3) in NAME_ALIASES {
            assert_eq!(
                parsed(alias).as_deref(),
                Some(stored_alpha3(alpha3)),
                "alias {alias:?}"
            );
        }
    }

    #[test]
    fn every_table_name_resolves() {
        // Also proves that no name or alias is shared by two countries.
        for country in reference::countries() {
            for name in [
                country.name_en,
                country.name_fr,
                country.alpha2,
                country.alpha3,
            ] {
                assert_eq!(
                    parsed(name).as_deref(),
                    Some(stored_alpha3(country.alpha3)),
                    "parse({name:?})"
                );
            }
            let odoo = format!("base.{}", country.alpha2.to_ascii_lowercase());
            assert_eq!(
                parsed(&odoo).as_deref(),
                Some(stored_alpha3(country.alpha3)),
                "parse({odoo:?})"
            );
        }
        let shared: Vec<&String> = INDEX
            .by_name
            .iter()
            .filter(|(_, position)| position.is_none())
            .map(|(key, _)| key)
            .collect();
        assert!(
            shared.is_empty(),
            "names shared by two countries: {shared:?}"
        );
    }

    #[test]
    fn name_key_reduction() {
        let cases = [
            ("États-Unis", "etats unis"),
            ("  Etats   Unis ", "etats unis"),
            ("Côte d’Ivoire", "cote d ivoire"),
            ("Cocos (Keeling), Îles", "cocos keeling iles"),
            ("Åland", "aland"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(name_key(input), expected, "name_key({input:?})");
        }
    }
}
