//! Reference data embedded in the binary: French départements, communes
//! with their La Poste postal codes, and ISO 3166-1 countries. Sources and
//! licences are listed in `data/NOTICE.md`. Each table is parsed on first
//! use and kept until the process exits.

mod communes;
mod countries;
mod departements;
mod embedded;

pub use communes::{
    Commune, communes, communes_for_postal_code, corsica_postal_prefixes, postal_code_exists,
};
pub use countries::{Country, countries, country_by_alpha3};
pub use departements::{Departement, Zone, departement, departements};

#[cfg(test)]
mod tests;
