//! Region previews checked against a count made contact by contact, on a
//! base with random addresses and owners. The base mixes both addresses in
//! the region, one of them, neither, foreign and empty addresses, and
//! contacts the target owns on one role, on both or on none. The previews
//! count index entries without reading contacts, so this checks each case
//! of that arithmetic, and that each preview announces what the run does.

use relais::domain::batch::Outcome;
use relais::domain::contact::Role;
use relais::service::reassign::{
    apply_region_reassignment, prepare_region_reassignment, preview_region_reassignment, undo_batch,
};
use relais::storage::{Contact, ContactFilter, Page};

use crate::common::*;

/// Generator of numbers from a fixed sequence, so that a failing round replays
/// identically.
struct Draw(u64);

impl Draw {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len())]
    }
}

/// Addresses as `postal code,city,country`: Marne, Aisne, both Corsican
/// départements, Paris, codes that real files spell oddly, foreign codes
/// that look French, and empty addresses.
const ADDRESSES: &[&str] = &[
    "51100,Reims,FRA",
    "51 100,Reims,France",
    "51000,Châlons,FRA",
    "02000,Laon,FRA",
    "2100,Saint-Quentin,FRA",
    "20000,Ajaccio,FRA",
    "20167,Mezzavia,FR",
    "20200,Bastia,FRA",
    "75011,Paris,FRA",
    "59000,Lille,FRA",
    "51100,Bruxelles,BE",
    "02100,Genève,CHE",
    ",,",
    ",,",
];

const OWNERS: &[&str] = &["JD", "BB", "CC", "DD", ""];

const SELECTIONS: &[&str] = &[
    "51",
    "02",
    "51;02;2A",
    "2A",
    "2B;20",
    "5",
    "0;7",
    "511",
    "75;59",
    "*",
    "51;59;02;2B",
];

const ROLES: &[&str] = &["commercial", "technical", "both"];

/// Lists the selections a round draws from: `SELECTIONS`, and 802
/// prefixes as a spreadsheet column of postal codes gives them, more than
/// a statement spelling out each prefix could take on SQLite.
fn selections() -> Vec<String> {
    let mut long: Vec<String> = (2000..2400)
        .chain(51000..51400)
        .map(|code| format!("{code:05}"))
        .collect();
    long.extend(["2A".to_string(), "59".to_string()]);
    let mut selections: Vec<String> = SELECTIONS.iter().map(|s| s.to_string()).collect();
    selections.push(long.join(";"));
    selections
}

fn random_base(db: &TestDb, draw: &mut Draw) {
    cast(db);
    let rows: Vec<String> = (0..240)
        .map(|n| {
            format!(
                "c{n},Nom{n},Prénom,,{},{},{},{}",
                draw.pick(ADDRESSES),
                draw.pick(ADDRESSES),
                draw.pick(OWNERS),
                draw.pick(OWNERS)
            )
        })
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    import_rows(db, &rows);
}

fn all_contacts(db: &TestDb) -> Vec<Contact> {
    db.store()
        .list_contacts(&ContactFilter::default(), Page::first(1000))
        .unwrap()
        .contacts
}

fn owner_of(contact: &Contact, role: Role) -> Option<&str> {
    let owner = match role {
        Role::Commercial => &contact.commercial_owner,
        Role::Technical => &contact.technical_owner,
    };
    owner.as_ref().map(|user| user.initials.as_str())
}

/// Computes the outcome contact by contact, and the matched contacts of
/// each prefix the preview lists.
fn expected(
    contacts: &[Contact],
    prefixes: &[String],
    to: &str,
    roles: &[Role],
) -> (Outcome, Vec<u64>) {
    let in_prefix = |address: &relais::storage::Address, prefix: Option<&str>| {
        address.country == "FRA"
            && match prefix {
                Some(prefix) => address.postal_norm.starts_with(prefix),
                None if prefixes.is_empty() => true,
                None => prefixes
                    .iter()
                    .any(|prefix| address.postal_norm.starts_with(prefix.as_str())),
            }
    };
    let matched: Vec<&Contact> = contacts
        .iter()
        .filter(|contact| in_prefix(&contact.perso, None) || in_prefix(&contact.pro, None))
        .collect();
    let changes_on =
        |contact: &Contact, role: Role| -> bool { owner_of(contact, role) != Some(to) };
    let mut outcome = Outcome {
        matched: matched.len() as u64,
        ..Outcome::default()
    };
    for &role in roles {
        let changed = matched.iter().filter(|c| changes_on(c, role)).count() as u64;
        match role {
            Role::Commercial => outcome.commercial = changed,
            Role::Technical => outcome.technical = changed,
        }
    }
    outcome.history_entries = outcome.commercial + outcome.technical;
    outcome.changed = matched
        .iter()
        .filter(|c| roles.iter().any(|&role| changes_on(c, role)))
        .count() as u64;
    outcome.already_owned = outcome.matched - outcome.changed;
    let per_prefix = prefixes
        .iter()
        .map(|prefix| {
            contacts
                .iter()
                .filter(|c| {
                    in_prefix(&c.perso, Some(prefix.as_str()))
                        || in_prefix(&c.pro, Some(prefix.as_str()))
                })
                .count() as u64
        })
        .collect();
    (outcome, per_prefix)
}

#[test]
fn region_preview_matches_count_and_run() {
    each_engine(|db| {
        let mut draw = Draw(0x5eed_2026);
        random_base(db, &mut draw);
        let selections = selections();
        let mut long_rounds = 0;

        for round in 0..36 {
            let to = draw.pick(&OWNERS[..4]);
            let postal = selections[draw.next(selections.len())].as_str();
            let role = draw.pick(ROLES);
            let postal_start: String = postal.chars().take(40).collect();
            let case = format!("round {round}: {postal_start} to {to} ({role})");
            let prepared = prepare_region_reassignment(db.store(), to, "FRA", postal, Some(role))
                .unwrap_or_else(|error| panic!("{case}: {error}"));
            let roles = prepared.request.roles.roles().to_vec();

            let preview = preview_region_reassignment(db.store(), &prepared).unwrap();
            let prefixes: Vec<String> = preview
                .per_prefix
                .iter()
                .map(|count| count.prefix.clone())
                .collect();
            assert_eq!(prefixes.is_empty(), postal == "*", "{case}");
            if prefixes.len() > 100 {
                long_rounds += 1;
            }
            let (outcome, per_prefix) = expected(&all_contacts(db), &prefixes, to, &roles);
            assert_eq!(preview.outcome, outcome, "{case}");
            let counted: Vec<u64> = preview.per_prefix.iter().map(|c| c.matched).collect();
            assert_eq!(counted, per_prefix, "{case}");

            let applied = apply_region_reassignment(db.store(), &prepared, run()).unwrap();
            assert_eq!(applied.outcome, preview.outcome, "{case}");
            // Undoing now and then gives owners back, so that later rounds
            // see contacts owned by several users again.
            if round % 4 == 3
                && let Some(batch) = applied.batch_id
            {
                undo_batch(db.store(), batch, run()).unwrap();
            }
        }
        assert!(long_rounds > 0, "no round drew the long list");
    });
}
