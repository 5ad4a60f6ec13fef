//! Reference data embedded in the binary: French départements, communes
//! with their La Poste postal codes, and ISO 3166-1 countries. Sources and
//! licences are listed in `data/NOTICE.md`. Each table is parsed on first
//! use and kept until the process exits.

mod communes;
mod countries;
mod departements;
mod embedded;

pub use communes::{
    Commune, city_key, communes, communes_for_postal_code, corsica_postal_prefixes,
    postal_code_exists, postal_code_serves_city, postal_codes_of_city,
};
pub use countries::{Country, countries, country_by_alpha3};
pub use departements::{Departement, Zone, departement, departements};

/// Names the source files spell otherwise than French usage, which joins
/// the words of a collectivity's name with hyphens.
const FRENCH_SPELLINGS: [(&str, &str); 1] = [("Wallis et Futuna", "Wallis-et-Futuna")];

/// Returns `name` as French usage writes it.
fn french_spelling(name: &'static str) -> &'static str {
    FRENCH_SPELLINGS
        .iter()
        .find(|(source, _)| *source == name)
        .map_or(name, |(_, spelling)| spelling)
}

#[cfg(test)]
mod tests;
