//! Demo base built from the real list of French communes, with French
//! names and companies, two addresses per contact and some contacts abroad.
//! It also carries the faults real files have: 4-digit French postal codes,
//! inner spaces, country names instead of codes and empty countries, each
//! stored as an import of such a cell would store it.

use serde::Serialize;
use serde_json::json;

use crate::domain::batch::Actor;
use crate::domain::contact::{AddressInput, ContactInput};
use crate::domain::country::CountryCode;
use crate::domain::postal::{normalize_postal_code, stored_country};
use crate::domain::user::{User, UserId};
use crate::import::stored_postal_code;
use crate::reference;
use crate::storage::{ContactWrite, ImportCounts, Store};

use super::ServiceError;
use super::users::{UserForm, add_user};

/// Credentials of the demo administrator, printed by `relais demo`.
pub const DEMO_ADMIN_INITIALS: &str = "AM";
pub const DEMO_ADMIN_EMAIL: &str = "alice.martin@demo.relais.fr";
pub const DEMO_ADMIN_PASSWORD: &str = "relais-demo-2026";

const CHUNK: usize = 5_000;

/// Sales users of the demo: (initials, first name, last name, active).
/// Paul LEFÈVRE has left the company: inactive, still owning contacts.
const SALES_USERS: [(&str, &str, &str, bool); 20] = [
    ("JD", "Jean", "Dupont", true),
    ("BB", "Baptiste", "Bonchamps", true),
    ("CC", "Claire", "Caron", true),
    ("DD", "Denis", "Durand", true),
    ("PL", "Paul", "Lefèvre", false),
    ("SR", "Sophie", "Roux", true),
    ("MG", "Mathieu", "Girard", true),
    ("NF", "Nathalie", "Fournier", true),
    ("LM", "Laurent", "Mercier", true),
    ("IB", "Isabelle", "Blanc", true),
    ("TG", "Thomas", "Garnier", true),
    ("CF", "Camille", "Faure", true),
    ("AR", "Antoine", "Rousseau", true),
    ("EM", "Émilie", "Morel", true),
    ("NL", "Nicolas", "Lambert", true),
    ("JB", "Julie", "Bonnet", true),
    ("HD", "Hugo", "David", true),
    ("MC", "Manon", "Chevalier", true),
    ("VP", "Vincent", "Perrin", true),
    ("LR", "Léa", "Robin", true),
];

/// First names of demo contacts, each with the civility it takes.
const FIRST_NAMES: [(&str, &str); 40] = [
    ("Marie", "Mme"),
    ("Jean", "M."),
    ("Pierre", "M."),
    ("Michel", "M."),
    ("André", "M."),
    ("Philippe", "M."),
    ("Nathalie", "Mme"),
    ("Isabelle", "Mme"),
    ("Sylvie", "Mme"),
    ("Catherine", "Mme"),
    ("Françoise", "Mme"),
    ("Hélène", "Mme"),
    ("Élodie", "Mme"),
    ("Stéphane", "M."),
    ("Frédéric", "M."),
    ("Céline", "Mme"),
    ("Aurélie", "Mme"),
    ("Jérôme", "M."),
    ("Sébastien", "M."),
    ("Valérie", "Mme"),
    ("Chloé", "Mme"),
    ("Inès", "Mme"),
    ("Léo", "M."),
    ("Gabriel", "M."),
    ("Raphaël", "M."),
    ("Zoé", "Mme"),
    ("Maël", "M."),
    ("Noé", "M."),
    ("Anaïs", "Mme"),
    ("Benoît", "M."),
    ("Cécile", "Mme"),
    ("Gaëlle", "Mme"),
    ("Joël", "M."),
    ("Loïc", "M."),
    ("Mélanie", "Mme"),
    ("Océane", "Mme"),
    ("Thérèse", "Mme"),
    ("Yannick", "M."),
    ("Agnès", "Mme"),
    ("Hervé", "M."),
];

const LAST_NAMES: [&str; 40] = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèbvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefèvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Perrin",
];

const COMPANY_FORMS: [&str; 10] = [
    "Boulangerie {}",
    "{} et Fils",
    "SARL {}",
    "Transports {}",
    "Cabinet {}",
    "Garage {}",
    "Menuiserie {}",
    "Pharmacie {}",
    "Association {}",
    "{} Conseil",
];

const STREETS: [&str; 12] = [
    "rue de la République",
    "avenue Jean-Jaurès",
    "rue Victor-Hugo",
    "place de l'Église",
    "rue du Général-de-Gaulle",
    "boulevard Pasteur",
    "chemin des Vignes",
    "rue de la Gare",
    "allée des Tilleuls",
    "rue Nationale",
    "impasse des Lilas",
    "route de Paris",
];

/// Addresses abroad: (country as a file would give it, postal code, city).
/// `45600` in Germany is a valid French code too, which a prefix rule that
/// ignores the country would wrongly catch.
const ABROAD: [(&str, &str, &str); 8] = [
    ("BEL", "1000", "Bruxelles"),
    ("Belgique", "4000", "Liège"),
    ("CHE", "1201", "Genève"),
    ("Suisse", "1003", "Lausanne"),
    ("DEU", "45600", "Berlin"),
    ("ESP", "28001", "Madrid"),
    ("GBR", "SW1A 1AA", "London"),
    ("LUX", "L-1009", "Luxembourg"),
];

/// SplitMix64: a small deterministic generator, so that a demo base of a
/// given size is the same on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with the given chance, in percent.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DemoReport {
    pub contacts: u64,
    pub users: Vec<String>,
    pub admin_initials: &'static str,
    pub admin_email: &'static str,
    pub admin_password: &'static str,
}

/// Fills an empty database with `contacts` demo contacts and the demo users.
pub fn fill_demo(
    store: &dyn Store,
    contacts: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<DemoReport, ServiceError> {
    if store.count_contacts()? > 0 {
        return Err(ServiceError::invalid(
            "database_not_empty",
            "db",
            "base de démonstration : la base contient déjà des contacts ; choisissez un nouveau fichier avec --db",
        ));
    }
    let users = demo_users(store)?;
    let owners: Vec<UserId> = users
        .iter()
        .filter(|user| user.initials != DEMO_ADMIN_INITIALS)
        .map(|user| user.id)
        .collect();

    let actor = Actor {
        user_id: None,
        label: "système (génération de la base de démonstration)".to_string(),
    };
    let mut session = store.begin_import(&actor, json!({ "demo": contacts }))?;
    let communes = reference::communes();
    let mut random = Random(0x5EED_0000_0000_0001 ^ contacts);
    let mut totals = ImportCounts::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    for n in 0..contacts {
        chunk.push(demo_contact(&mut random, communes, &owners, n));
        if chunk.len() == CHUNK {
            totals.add(&session.write_contacts(&chunk)?);
            chunk.clear();
            progress(n + 1);
        }
    }
    if !chunk.is_empty() {
        totals.add(&session.write_contacts(&chunk)?);
    }
    progress(contacts);
    session.commit(&totals)?;
    tracing::info!(demo.contacts = totals.imported, "demo base filled");

    Ok(DemoReport {
        contacts: totals.imported,
        users: users.iter().map(|user| user.initials.clone()).collect(),
        admin_initials: DEMO_ADMIN_INITIALS,
        admin_email: DEMO_ADMIN_EMAIL,
        admin_password: DEMO_ADMIN_PASSWORD,
    })
}

/// Creates the demo administrator and sales users, or reuses those that
/// already exist with the same initials.
fn demo_users(store: &dyn Store) -> Result<Vec<User>, ServiceError> {
    let mut users = Vec::new();
    let admin = match store.find_user(DEMO_ADMIN_INITIALS)? {
        Some(user) => user,
        None => add_user(
            store,
            &UserForm {
                initials: DEMO_ADMIN_INITIALS.into(),
                first_name: "Alice".into(),
                last_name: "Martin".into(),
                email: DEMO_ADMIN_EMAIL.into(),
                admin: true,
                password: Some(DEMO_ADMIN_PASSWORD.into()),
                ..UserForm::default()
            },
        )?,
    };
    users.push(admin);
    for (initials, first_name, last_name, active) in SALES_USERS {
        let user = match store.find_user(initials)? {
            Some(user) => user,
            None => add_user(
                store,
                &UserForm {
                    initials: initials.into(),
                    first_name: first_name.into(),
                    last_name: last_name.into(),
                    email: format!(
                        "{}.{}@demo.relais.fr",
                        deunicode::deunicode(first_name).to_lowercase(),
                        deunicode::deunicode(last_name).to_lowercase()
                    ),
                    ..UserForm::default()
                },
            )?,
        };
        if !active && user.active {
            store.set_user_active(user.id, false)?;
        }
        users.push(user);
    }
    Ok(users)
}

fn french_address(random: &mut Random, commune: &reference::Commune) -> AddressInput {
    let mut postal_code = commune.postal_code.to_string();
    // Faults seen in real spreadsheets: the leading zero lost, an inner
    // space, the country given as a name, or no country at all.
    if postal_code.starts_with('0') && random.chance(30) {
        postal_code.remove(0);
    } else if random.chance(3) {
        postal_code.insert(2, ' ');
    }
    let country_text = match random.below(100) {
        0..=4 => "",
        5..=9 => "France",
        10..=11 => "FR",
        12 => "fra",
        _ => "FRA",
    };
    address(random, &postal_code, commune.name, country_text)
}

fn address(random: &mut Random, postal_code: &str, city: &str, country_text: &str) -> AddressInput {
    // The country names and codes above are all in the ISO table.
    let country = CountryCode::parse(country_text)
        .ok()
        .flatten()
        .unwrap_or_else(CountryCode::france);
    let line1 = format!("{} {}", 1 + random.below(120), random.pick(&STREETS));
    let postal_norm = normalize_postal_code(postal_code, &country).value;
    // Stored as an import of the same cell would store it, so that an
    // export of the demo base reads back unchanged.
    let postal_code = stored_postal_code(postal_code.to_string(), &country, &postal_norm);
    AddressInput {
        line1,
        line2: String::new(),
        postal_code,
        country: Some(stored_country(country, &postal_norm)),
        postal_norm,
        city: city.to_string(),
        named_territory: None,
    }
}

fn demo_contact(
    random: &mut Random,
    communes: &[reference::Commune],
    owners: &[UserId],
    n: u64,
) -> ContactWrite {
    let (first_name, civility) = *random.pick(&FIRST_NAMES);
    let first_name = first_name.to_string();
    let last_name = random.pick(&LAST_NAMES).to_string();
    let company = if random.chance(60) {
        let name = LAST_NAMES[random.below(LAST_NAMES.len())];
        random.pick(&COMPANY_FORMS).replace("{}", name)
    } else {
        String::new()
    };
    let pro = if random.chance(3) {
        let (country, postal, city) = *random.pick(&ABROAD);
        address(random, postal, city, country)
    } else {
        let commune = random.pick(communes);
        french_address(random, commune)
    };
    let commune = random.pick(communes);
    let perso = french_address(random, commune);
    let email = format!(
        "{}.{}{}@exemple.fr",
        deunicode::deunicode(&first_name).to_lowercase(),
        deunicode::deunicode(&last_name)
            .to_lowercase()
            .replace(' ', ""),
        n
    );
    let phone = format!(
        "0{} {:02} {:02} {:02} {:02}",
        1 + random.below(5),
        random.below(100),
        random.below(100),
        random.below(100),
        random.below(100)
    );
    let commercial_owner = Some(*random.pick(owners));
    let technical_owner = if random.chance(80) {
        Some(*random.pick(owners))
    } else {
        None
    };

    ContactWrite {
        line: n + 1,
        contact: ContactInput {
            contact_id: None,
            external_id: None,
            civility: {
                // The civility follows the first name. The draw that used
                // to choose it stays in its place, so that the rest of a
                // demo base is drawn as before.
                let _ = random.chance(50);
                civility.into()
            },
            first_name,
            last_name,
            company,
            email,
            phone,
            commercial_owner: None,
            technical_owner: None,
            perso,
            pro,
            exported_at: None,
        },
        commercial_owner,
        technical_owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStore;
    use crate::storage::{ContactFilter, Page};

    #[test]
    fn civility_follows_first_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("demo.db")).unwrap();
        fill_demo(&store, 300, &mut |_| {}).unwrap();

        let contacts = store
            .list_contacts(
                &ContactFilter::default(),
                Page {
                    limit: 300,
                    offset: 0,
                },
            )
            .unwrap()
            .contacts;

        assert_eq!(contacts.len(), 300);
        for contact in &contacts {
            let (_, expected) = FIRST_NAMES
                .iter()
                .find(|(name, _)| *name == contact.first_name)
                .expect("a demo first name");
            assert_eq!(contact.civility, *expected, "{}", contact.first_name);
        }
        assert!(contacts.iter().any(|contact| contact.civility == "Mme"));
        assert!(contacts.iter().any(|contact| contact.civility == "M."));
    }
}
