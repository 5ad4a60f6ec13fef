//! ISO 3166-1 countries with their English and French names.

use std::sync::LazyLock;

use super::embedded::read_rows;

const COUNTRIES_CSV: &str = include_str!("../../data/countries.csv");

/// One ISO 3166-1 country, named as the Debian iso-codes project names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Country {
    /// Two-letter code, uppercase (`FR`).
    pub alpha2: &'static str,
    /// Three-letter code, uppercase (`FRA`).
    pub alpha3: &'static str,
    pub name_en: &'static str,
    /// French name; a few are in the inverted official form of ISO 3166
    /// (`Corée, République de`).
    pub name_fr: &'static str,
}

static COUNTRIES: LazyLock<Vec<Country>> = LazyLock::new(|| {
    read_rows(
        "countries.csv",
        COUNTRIES_CSV,
        ["alpha2", "alpha3", "name_en", "name_fr"],
        |[alpha2, alpha3, name_en, name_fr]| Country {
            alpha2,
            alpha3,
            name_en,
            name_fr: super::french_spelling(name_fr),
        },
    )
});

/// Returns every country, sorted by alpha-3 code.
pub fn countries() -> &'static [Country] {
    &COUNTRIES
}

/// Finds a country by its exact uppercase alpha-3 code.
pub fn country_by_alpha3(alpha3: &str) -> Option<&'static Country> {
    let countries: &'static [Country] = &COUNTRIES;
    countries
        .binary_search_by(|country| country.alpha3.cmp(alpha3))
        .ok()
        .map(|position| &countries[position])
}
