//! French warnings of an import report about the file's addresses and
//! about what the import changed.

use crate::domain::contact::ContactPart;
use crate::domain::country::OverseasTerritory;
use crate::storage::PacificMismatch;

/// Returns the warnings about the addresses of a row with a five-digit
/// French postal code that La Poste does not list: often a foreign code in
/// a row whose country was left as France (`1080 Brussels` read as
/// `01080`). A CEDEX code, which the list of communes leaves out, gets
/// none. Also warns about a code of one Pacific collectivity under the
/// country of another, and about a code that serves other communes than
/// the city written.
///
/// Runs on the reading thread, for every row: the writing thread is the
/// slower side of an import.
pub(super) fn postal_code_warnings(parsed: &crate::import::ParsedRow) -> Vec<String> {
    let mut warnings = Vec::new();
    for (kind, address) in [
        ("perso", &parsed.contact.perso),
        ("pro", &parsed.contact.pro),
    ] {
        let french = address
            .country
            .as_ref()
            .is_some_and(|country| country.uses_french_postal_codes());
        let code = &address.postal_norm;
        let entered = address.postal_code.trim();
        if let Some(warning) = dominican_overseas_warning(parsed.line, kind, address) {
            warnings.push(warning);
            continue;
        }
        // Stored as France, such an address needs its code to be found
        // with its territory.
        if entered.is_empty()
            && let Some(territory) = address.named_territory
        {
            warnings.push(format!(
                "ligne {} : l'adresse {kind} indique {} pour pays, sans code postal ; elle \
                 est enregistrée avec la France pour pays, et seule la sélection de toute la \
                 France (FRA et *) la trouve : ajoutez son code postal, qui commence par {}",
                parsed.line,
                crate::domain::country::with_article(territory.name),
                territory.postal_prefix,
            ));
            continue;
        }
        // A code of symbols only (`—`) normalises to nothing, which no
        // selection finds either.
        if !french || entered.is_empty() {
            continue;
        }
        // Formatted only for a warning: this runs for every address.
        let city = || {
            if address.city.is_empty() {
                String::new()
            } else {
                format!(" ({})", address.city)
            }
        };
        if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
            warnings.push(invalid_postal_warning(parsed.line, kind, entered, &city()));
            continue;
        }
        // A territory stored as France with a code from elsewhere
        // (`Réunion` beside Reims's 51100) is found by the selection of
        // the code, not by that of the territory the file named.
        if let Some(territory) = address.named_territory
            && !code.starts_with(territory.postal_prefix)
        {
            warnings.push(territory_warning(
                parsed.line,
                kind,
                entered,
                &city(),
                territory,
            ));
            continue;
        }
        // A Pacific code under another collectivity's country (98714,
        // Papeete, given with NCL) is found by neither selection.
        if let Some(country) = &address.country
            && country.pacific_mismatch(code).is_some()
        {
            warnings.push(pacific_warning(&PacificMismatch {
                line: parsed.line,
                pro: kind == "pro",
                postal_code: address.postal_code.trim().to_string(),
                city: address.city.clone(),
                country: country.clone(),
            }));
            continue;
        }
        // A code that serves other communes than the city written
        // (`5100 Reims` read as 05100, Briançon's) puts the contact in
        // another département than meant. The city is checked first,
        // since its lookup also finds whether La Poste lists the code,
        // and an import runs this for every address.
        let serves = crate::reference::postal_code_serves_city(code, &address.city);
        if serves.is_some() || crate::reference::postal_code_exists(code) {
            if serves == Some(false) {
                // NOTE: `entered` is the code as stored, with a lost
                // leading zero given back, so a cell « 5100 » is quoted
                // « 05100 ».
                let read = read_as(entered, code);
                warnings.push(format!(
                    "ligne {} : le code postal {kind} « {entered} »{read} est celui {}, pas \
                     de « {} »{} ; la ligne est importée, vérifiez le code et la ville",
                    parsed.line,
                    crate::french::de(&served_communes(code)),
                    address.city.trim(),
                    codes_of_city(&address.city)
                ));
            }
            continue;
        }
        // Read only for the few unknown codes: this runs for every row.
        let cedex = format!("{} {}", address.postal_code, address.city)
            .to_lowercase()
            .contains("cedex");
        if cedex {
            continue;
        }
        let read = read_as(entered, code);
        let city = city();
        warnings.push(format!(
            "ligne {} : le code postal {kind} « {entered} »{city}{read} est inconnu de La \
             Poste ; la ligne est importée, vérifiez le code et le pays",
            parsed.line,
        ));
    }
    warnings
}

/// Warns about an address in the Dominican Republic whose postal code is
/// one of the French overseas départements: French files write « DOM »
/// for those départements, and `DOM` is the Dominican Republic's ISO
/// code. `None` for other addresses.
fn dominican_overseas_warning(
    line: u64,
    kind: &str,
    address: &crate::domain::contact::AddressInput,
) -> Option<String> {
    let code = &address.postal_norm;
    let dominican = address
        .country
        .as_ref()
        .is_some_and(|country| country.as_str() == "DOM");
    if !dominican || !code.starts_with("97") || !crate::reference::postal_code_exists(code) {
        return None;
    }
    Some(format!(
        "ligne {line} : le pays {kind} est la République dominicaine (DOM), mais le code postal \
         « {} » est celui {}, outre-mer ; si « DOM » désignait un département d'outre-mer, \
         indiquez le pays FRA ; la ligne est importée, vérifiez le pays",
        address.postal_code.trim(),
        crate::french::de(&served_communes(code)),
    ))
}

/// Builds the warning about a code outside the overseas territory the
/// country column named: « ne commence pas par 974, le préfixe de La
/// Réunion », or « n'est pas 97133, le code de Saint-Barthélemy ».
fn territory_warning(
    line: u64,
    kind: &str,
    entered: &str,
    city: &str,
    territory: &OverseasTerritory,
) -> String {
    let prefix = territory.postal_prefix;
    let expected = if prefix.len() == 5 {
        format!("n'est pas {prefix}, le code")
    } else {
        format!("ne commence pas par {prefix}, le préfixe")
    };
    format!(
        "ligne {line} : le code postal {kind} « {entered} »{city} {expected} {}, que nomme la \
         colonne pays ; la ligne est importée avec la France pour pays, vérifiez le code et le \
         pays",
        crate::french::de(&crate::domain::country::with_article(territory.name)),
    )
}

/// Formats how a postal code was read, for a warning: nothing when it was
/// stored as entered, else « , lu 05100, ».
fn read_as(entered: &str, code: &str) -> String {
    if entered == code {
        String::new()
    } else {
        format!(", lu {code},")
    }
}

/// Codes listed by name in a warning about a city and its postal code.
const LISTED_CITY_CODES: usize = 3;

/// Formats the postal codes of the communes named `city`, for a warning:
/// « (code 51100) », « (codes 75001, 75002, 75003 et 17 autres) », or
/// nothing when no commune has that name.
fn codes_of_city(city: &str) -> String {
    let codes = crate::reference::postal_codes_of_city(city);
    match codes.as_slice() {
        [] => String::new(),
        [code] => format!(" (code {code})"),
        _ => {
            let listed = codes[..codes.len().min(LISTED_CITY_CODES)].join(", ");
            let others = codes.len().saturating_sub(LISTED_CITY_CODES);
            if others == 0 {
                format!(" (codes {listed})")
            } else {
                format!(
                    " (codes {listed} et {})",
                    crate::french::plural(others as u64, "autre", "autres")
                )
            }
        }
    }
}

/// Names the communes a postal code serves, for a warning: the first
/// two, then how many others (« Briançon, Cervières et 7 autres
/// communes »). Arrondissements count as their city.
fn served_communes(code: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for commune in crate::reference::communes_for_postal_code(code) {
        let name = commune.parent_name.unwrap_or(commune.name);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [first, second] => format!("{first} et {second}"),
        [first, second, rest @ ..] => format!(
            "{first}, {second} et {}",
            crate::french::plural(rest.len() as u64, "autre commune", "autres communes")
        ),
    }
}

/// Builds the warning that empty owner cells took their owner from
/// contacts that had one, which an Excel edit does by mistake as often as
/// on purpose. `None` when no contact lost an owner.
pub(super) fn cleared_owners_warning((commercial, technical): (u64, u64)) -> Option<String> {
    // The second role shares the verb of the first: « 2 contacts perdent
    // leur responsable commercial et 1 contact son responsable technique ».
    let lost = |contacts: u64, role: &str, with_verb: bool| {
        let verb = match (with_verb, contacts) {
            (false, _) => "",
            (true, 1) => " perd",
            (true, _) => " perdent",
        };
        let own = if contacts == 1 { "son" } else { "leur" };
        format!(
            "{}{verb} {own} responsable {role}",
            crate::french::plural(contacts, "contact", "contacts")
        )
    };
    let losses = match (commercial, technical) {
        (0, 0) => return None,
        (n, 0) => lost(n, "commercial", true),
        (0, n) => lost(n, "technique", true),
        (c, t) => format!(
            "{} et {}",
            lost(c, "commercial", true),
            lost(t, "technique", false)
        ),
    };
    let them = if commercial + technical == 1 {
        "le lui"
    } else {
        "le leur"
    };
    Some(format!(
        "{losses} : la cellule du fichier est vide ; si ce n'est pas voulu, annulez cette \
         importation, qui {them} rend"
    ))
}

/// Builds the warning that an import gives contacts back to an owner a
/// Relais operation had replaced.
pub(super) fn reversed_warning(reversed: &crate::storage::ReversedBatch) -> String {
    let operation = match reversed.kind {
        crate::domain::batch::BatchKind::ReassignRegion => "la réaffectation par région",
        crate::domain::batch::BatchKind::Undo => "l'annulation",
        _ => "la réaffectation",
    };
    let (verb, pronoun) = if reversed.contacts == 1 {
        ("retrouve", "lui")
    } else {
        ("retrouvent", "leur")
    };
    format!(
        "{} {verb} le responsable que {operation} n° {} {pronoun} avait retiré : si ce fichier \
         vient de votre CRM, reportez-y d'abord les réaffectations faites dans Relais ; pour \
         revenir en arrière, annulez cette importation",
        crate::french::plural(reversed.contacts, "contact", "contacts"),
        reversed.batch
    )
}

/// Tells which parts of the contacts already stored the file left as they
/// were, having no column for them.
pub(super) fn left_out_note(left_out: &[ContactPart]) -> Option<String> {
    // A whole address left out is named as one.
    let whole: Vec<(&[ContactPart; 5], &str)> = ContactPart::ADDRESSES
        .iter()
        .zip(["toute l'adresse perso", "toute l'adresse pro"])
        .filter(|(parts, _)| parts.iter().all(|part| left_out.contains(part)))
        .collect();
    let mut labels: Vec<&str> = left_out
        .iter()
        .filter(|part| !whole.iter().any(|(parts, _)| parts.contains(part)))
        .map(|part| part.label_fr())
        .collect();
    labels.extend(whole.iter().map(|(_, label)| *label));
    let (last, others) = labels.split_last()?;
    let list = if others.is_empty() {
        (*last).to_string()
    } else {
        format!("{} et {last}", others.join(", "))
    };
    Some(format!(
        "le fichier n'a pas de colonne pour : {list} ; les contacts déjà enregistrés les gardent tels quels"
    ))
}

/// Warns about a French postal code that is not five digits once
/// normalised: the contact list flags it, and no region selection finds
/// its address. A Corsican commune code (`2A004`, Ajaccio) is the usual
/// mistake, made by copying the INSEE code instead of the postal one.
fn invalid_postal_warning(line: u64, kind: &str, entered: &str, city: &str) -> String {
    let upper = entered.to_uppercase();
    let insee_hint = if (upper.starts_with("2A") || upper.starts_with("2B"))
        && upper.len() == 5
        && upper[2..].bytes().all(|b| b.is_ascii_digit())
    {
        " (c'est la forme d'un code commune INSEE de Corse ; les codes postaux corses commencent par 20)"
    } else {
        ""
    };
    // A cell holding the whole last line of an address (`51723 REIMS
    // CEDEX`) starts with the code: naming it gives the fix.
    let digits: String = entered.chars().take_while(char::is_ascii_digit).collect();
    let rest = entered[digits.len()..].trim_start();
    let city_hint = if digits.len() == 5 && rest.starts_with(char::is_alphabetic) {
        format!(
            " (le code {digits} y est suivi de la ville ; écrivez la ville dans sa propre \
             colonne)"
        )
    } else {
        String::new()
    };
    format!(
        "ligne {line} : le code postal {kind} « {entered} »{city} n'est pas un code français à \
         cinq chiffres{insee_hint}{city_hint} ; la ligne est importée et le code signalé comme \
         invalide, mais une réaffectation par région risque de manquer cette adresse : corrigez \
         le code"
    )
}

/// Minimum number of rows with a foreign « N° Relais » for the report to
/// suspect a file exported from another base.
const FOREIGN_NUMBERS_AT_LEAST: u64 = 10;

/// Warns that most rows name contacts by numbers this base does not have,
/// as an export of another Relais base does, and explains how to create
/// them instead. `None` below half of the `read` rows, or below
/// `FOREIGN_NUMBERS_AT_LEAST`.
pub(super) fn foreign_numbers_warning(foreign: u64, read: u64) -> Option<String> {
    if foreign < FOREIGN_NUMBERS_AT_LEAST || foreign * 2 < read {
        return None;
    }
    Some(format!(
        "{} sur {} désignent par leur « N° Relais » un contact que cette base n'a pas, ou \
         qui porte un autre nom : ce fichier vient sans doute d'une autre base Relais. Pour y \
         créer ces contacts, supprimez la colonne « N° Relais » (gardez la colonne \
         « Identifiant externe » s'il y en a une) et réimportez le fichier",
        crate::french::plural(foreign, "ligne", "lignes"),
        crate::french::count(read)
    ))
}

/// Warns that contacts this import created have the name, first name and
/// company of stored ones, listing the first by number.
pub(super) fn twin_contacts_warning(count: u64, twins: &[crate::storage::TwinContact]) -> String {
    let listed: Vec<String> = twins
        .iter()
        .map(|twin| {
            let name = format!("{} {}", twin.first_name, twin.last_name);
            let name = name.trim();
            match (name.is_empty(), twin.company.is_empty()) {
                (false, false) => format!("n° {} {name} ({})", twin.id, twin.company),
                (false, true) => format!("n° {} {name}", twin.id),
                _ => format!("n° {} ({})", twin.id, twin.company),
            }
        })
        .collect();
    let more = if count > twins.len() as u64 {
        ", …"
    } else {
        ""
    };
    let (have, same) = if count == 1 {
        ("a", "s'il s'agit de la même personne")
    } else {
        ("ont", "s'il s'agit des mêmes personnes")
    };
    format!(
        "{} par cet import sans « N° Relais » ni identifiant externe {have} les mêmes nom, prénom et \
         société qu'un contact déjà présent : {}{more} ; {same}, annulez cet import et \
         réimportez le fichier en remplissant pour ces lignes la colonne « N° Relais » de \
         l'export ou un identifiant externe",
        crate::french::plural(count, "contact créé", "contacts créés"),
        listed.join(", ")
    )
}

/// Warns of an address whose postal code does not start with the prefix of
/// the Pacific collectivity it is stored under.
pub(super) fn pacific_warning(mismatch: &PacificMismatch) -> String {
    let country = &mismatch.country;
    let prefix = country.pacific_postal_prefix().unwrap_or_default();
    let of_country = match country.as_str() {
        "NCL" => "de la Nouvelle-Calédonie".to_string(),
        "PYF" => "de la Polynésie française".to_string(),
        _ => crate::french::de(country.name_fr()),
    };
    format!(
        "ligne {} : le code postal {} « {} »{} ne commence pas par {prefix}, le préfixe \
         {of_country} ({}) ; la ligne est importée, vérifiez le code et le pays",
        mismatch.line,
        if mismatch.pro { "pro" } else { "perso" },
        mismatch.postal_code,
        if mismatch.city.is_empty() {
            String::new()
        } else {
            format!(" ({})", mismatch.city)
        },
        country.as_str(),
    )
}
