//! French wording shared by the command line and the web screens: counts
//! with French digit grouping and agreement, role names, département
//! labels of postal prefixes, and the sentences of an undo.

use crate::domain::contact::Role;
use crate::domain::country::CountryCode;
use crate::reference;

/// Formats a count the French way, with a narrow no-break space between
/// groups of three digits: `20 000`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(digit);
    }
    out
}

/// Formats a count with its noun: « 0 contact », « 1 contact »,
/// « 12 contacts ». French uses the singular up to one.
pub fn plural(value: u64, singular: &str, plural: &str) -> String {
    let word = if value <= 1 { singular } else { plural };
    format!("{} {word}", count(value))
}

/// Describes a contact's creation, last line of its history.
pub fn creation(created_by: Option<i64>) -> String {
    match created_by {
        Some(batch) => format!("Création par l'importation n° {batch}"),
        None => "Création".to_string(),
    }
}

/// Postal codes a header or the journal lists before it counts the rest,
/// so that a list of thousands pasted from a spreadsheet stays readable.
pub const LISTED_POSTAL_CODES: usize = 12;

/// Returns the codes of a postal field as shown: in capitals, as they are
/// matched (`2a` is the département 2A), each once, in the order typed.
pub fn postal_field_codes(postal: &str) -> Vec<String> {
    // The API takes lists of hundreds of thousands of codes, and every
    // journal page describes its batches: the set keeps this linear.
    let mut seen = std::collections::HashSet::new();
    let mut codes: Vec<String> = Vec::new();
    for part in crate::domain::postal::postal_field_parts(postal) {
        let code = part.to_uppercase();
        if seen.insert(code.clone()) {
            codes.push(code);
        }
    }
    codes
}

/// Returns the postal field of a region reassignment for the journal: its
/// codes (see [`postal_field_codes`]) separated by `;`, and past
/// [`LISTED_POSTAL_CODES`], the first ones and the number of the others
/// (`51;02;…;98 et 2 988 autres codes`).
pub fn postal_field_summary(postal: &str) -> String {
    let parts = postal_field_codes(postal);
    if parts.len() <= LISTED_POSTAL_CODES {
        return parts.join(";");
    }
    format!(
        "{} et {}",
        parts[..LISTED_POSTAL_CODES].join(";"),
        plural(
            (parts.len() - LISTED_POSTAL_CODES) as u64,
            "autre code",
            "autres codes"
        )
    )
}

/// Returns `, 3 lignes rejetées` for an import that rejected lines, to
/// follow its description in the journal, and nothing otherwise.
pub fn rejected_lines_suffix(lines: u64) -> String {
    if lines == 0 {
        String::new()
    } else {
        format!(", {}", plural(lines, "ligne rejetée", "lignes rejetées"))
    }
}

/// Returns the role as shown on screens: `commercial` or `technique`.
pub fn role_fr(role: Role) -> &'static str {
    match role {
        Role::Commercial => "commercial",
        Role::Technical => "technique",
    }
}

/// Finds the département code of a postal prefix typed in the region form: two digits,
/// three for overseas (`97x`, `98x`), `2A`/`2B` for Corsican prefixes of
/// three digits and more and for the codes `2A` and `2B` themselves. `20`
/// alone covers both Corsican départements.
pub(crate) fn prefix_departement(prefix: &str) -> Option<String> {
    if prefix == "2A" || prefix == "2B" {
        return Some(prefix.to_string());
    }
    if prefix.len() < 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if prefix.starts_with("97") || prefix.starts_with("98") {
        // Saint-Barthélemy, Saint-Martin and Clipperton use codes under
        // another territory's prefix (97133, 97150, 98799).
        let collectivity = reference::departements().iter().find(|departement| {
            departement
                .selection_prefixes()
                .iter()
                .any(|code| *code != departement.code && prefix.starts_with(code))
        });
        if let Some(collectivity) = collectivity {
            return Some(collectivity.code.to_string());
        }
        return prefix.get(..3).map(str::to_string);
    }
    if prefix.starts_with("20") {
        return match prefix.as_bytes().get(2) {
            None => None,
            Some(b'0' | b'1') => Some("2A".to_string()),
            Some(b'2'..=b'6') => Some("2B".to_string()),
            Some(_) => None,
        };
    }
    prefix.get(..2).map(str::to_string)
}

/// Builds the label of a prefix in the region preview: `51 — Marne`, `20 — Corse`,
/// `2A — Corse-du-Sud`, or the prefix alone when it names no single
/// département.
pub fn prefix_label(prefix: &str, country: &CountryCode) -> String {
    if !country.uses_french_postal_codes() {
        return prefix.to_string();
    }
    if prefix == "20" {
        return "20 — Corse".to_string();
    }
    if prefix == "97" {
        return "97 — outre-mer (Antilles, Guyane, La Réunion, Mayotte…)".to_string();
    }
    match prefix_departement(prefix)
        .as_deref()
        .and_then(reference::departement)
    {
        Some(departement) => format!("{prefix} — {}", departement.name),
        None => prefix.to_string(),
    }
}

// Undo wording, one verb per idea on every screen: an undo « réaffecte »
// a contact to its previous owner, or « ignore » it when its owner changed
// since the batch. Contacts and history entries are counted apart, since
// a contact owned on both roles has one entry per role.

/// « 3 contacts réaffectés à leur responsable précédent »: contacts that
/// get back at least one owner (`changed`).
pub fn undo_changed(contacts: u64) -> String {
    plural(
        contacts,
        "contact réaffecté à son responsable précédent",
        "contacts réaffectés à leur responsable précédent",
    )
}

/// « 2 contacts ignorés, car leur responsable a changé depuis
/// l'opération »: contacts that get back no owner at all
/// (`already_owned`).
pub fn undo_skipped_contacts(contacts: u64) -> String {
    if contacts <= 1 {
        format!(
            "{} contact ignoré, car son responsable a changé depuis l'opération",
            count(contacts)
        )
    } else {
        format!(
            "{} contacts ignorés, car leur responsable a changé depuis l'opération",
            count(contacts)
        )
    }
}

/// « 3 entrées d'historique ignorées, une par contact et par rôle »: the
/// batch's history entries that the undo leaves alone.
pub fn undo_skipped_entries(entries: u64) -> String {
    format!(
        "{}, une par contact et par rôle",
        plural(
            entries,
            "entrée d'historique ignorée",
            "entrées d'historique ignorées"
        )
    )
}

/// Says that an undo has nothing to give back because its batch changed
/// no owner: an import that only created contacts or changed other fields.
pub fn undo_nothing_to_restore(batch: i64) -> String {
    format!(
        "L'opération n° {batch} n'a changé le responsable d'aucun contact : son annulation n'a rien à réaffecter, et rien n'a été modifié."
    )
}

/// « 13 changements de responsable »: the history entries of an import,
/// one per contact and role whose owner it changed.
pub fn owner_changes(entries: u64) -> String {
    plural(
        entries,
        "changement de responsable",
        "changements de responsable",
    )
}

/// « 30 comme responsable commercial, 19 comme responsable technique ».
pub fn per_role(commercial: u64, technical: u64) -> String {
    format!(
        "{} comme responsable commercial, {} comme responsable technique",
        count(commercial),
        count(technical)
    )
}

/// Formats the per-role counts of `changed` contacts. When the two add up
/// to more than `changed`, the text adds how many contacts count for both
/// roles, so that a reader adding them up is not misled.
pub fn per_role_of(changed: u64, commercial: u64, technical: u64) -> String {
    let both = (commercial + technical).saturating_sub(changed);
    let roles = per_role(commercial, technical);
    match both {
        0 => roles,
        1 => format!("{roles} ; 1 contact compte pour les deux rôles"),
        _ => format!(
            "{roles} ; {} contacts comptent pour les deux rôles",
            count(both)
        ),
    }
}

/// Describes one history entry an undo skips: the contact, its role, its
/// owner now and the owner the batch had set.
pub fn skipped_entry(entry: &crate::domain::batch::SkippedContact) -> String {
    format!(
        "contact n° {}{} ({}) : responsable actuel {}, l'opération avait mis {}",
        entry.contact_id,
        entry
            .external_id
            .as_deref()
            .map(|id| format!(" [{id}]"))
            .unwrap_or_default(),
        role_fr(entry.role),
        entry.current_owner_name.as_deref().unwrap_or("aucun"),
        entry.batch_owner_name.as_deref().unwrap_or("aucun"),
    )
}

/// Says in French why a file operation failed, for the usual causes a user
/// can fix, with the system's own text kept for the others.
pub fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => "introuvable ; vérifiez le chemin et le nom du fichier".to_string(),
        ErrorKind::PermissionDenied => {
            "accès refusé ; vérifiez les droits sur le fichier et son dossier".to_string()
        }
        ErrorKind::IsADirectory => "c'est un dossier ; indiquez un fichier".to_string(),
        ErrorKind::StorageFull => "disque plein ; libérez de la place".to_string(),
        ErrorKind::AlreadyExists => "existe déjà ; choisissez un autre nom".to_string(),
        _ => format!("erreur du système ({error})"),
    }
}

/// Lists the ignored columns of an import file: their headers between
/// quotes, then the number of columns with an empty header.
pub fn ignored_columns(headers: &[String]) -> String {
    let mut parts: Vec<String> = headers
        .iter()
        .filter(|header| !header.is_empty())
        .map(|header| format!("« {header} »"))
        .collect();
    let unnamed = headers.iter().filter(|header| header.is_empty()).count() as u64;
    if unnamed > 0 {
        parts.push(plural(
            unnamed,
            "colonne sans en-tête",
            "colonnes sans en-tête",
        ));
    }
    list_and(&parts)
}

/// Joins items as a French list: « a », « a et b », « a, b et c ».
pub fn list_and(items: &[String]) -> String {
    match items.split_last() {
        Some((last, others)) if !others.is_empty() => format!("{} et {last}", others.join(", ")),
        _ => items.concat(),
    }
}

/// Note on the list of an import's contacts and its export: the contacts
/// it created and those whose owner it changed, which its history names.
/// Changes to other fields leave no history, so those contacts are not in
/// the list.
pub const IMPORT_CONTACTS_NOTE: &str = "Pour une importation, cette liste et son export montrent les contacts qu'elle a créés et ceux dont elle a changé un responsable ; les contacts dont elle n'a changé que d'autres champs n'y figurent pas.";

/// Elements whose content `typeset_html` leaves as written: code, and
/// values a form sends back.
const VERBATIM_ELEMENTS: [&str; 4] = ["textarea", "script", "style", "pre"];

/// Puts the no-break spaces of French typography into the text of an HTML
/// page, so that a line never starts with a colon or a closing guillemet.
/// A no-break space goes before « : », inside « » and after `n°`, and a
/// narrow one before « ; », « ! » and « ? ». Tags, with their attribute values (form
/// field values among them), and the content of `VERBATIM_ELEMENTS` stay
/// as written.
pub fn typeset_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 64);
    let mut rest = html;
    while !rest.is_empty() {
        let Some(start) = rest.find('<') else {
            typeset_text(rest, &mut out);
            break;
        };
        typeset_text(&rest[..start], &mut out);
        rest = &rest[start..];
        let end = rest.find('>').map_or(rest.len(), |end| end + 1);
        let tag = &rest[..end];
        out.push_str(tag);
        rest = &rest[end..];
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if VERBATIM_ELEMENTS.contains(&name.as_str()) {
            let close = format!("</{name}");
            let verbatim = rest.to_ascii_lowercase().find(&close).unwrap_or(rest.len());
            out.push_str(&rest[..verbatim]);
            rest = &rest[verbatim..];
        }
    }
    out
}

/// Returns plain text (not HTML) with the no-break spaces `typeset_html`
/// puts into pages, for messages a script writes into a page.
pub fn typeset_plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    typeset_text(text, &mut out);
    out
}

/// Typesets one text node for `typeset_html`.
fn typeset_text(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let typeset = match (c, next) {
            (' ', Some(':' | '»')) => '\u{a0}',
            (' ', Some(';' | '!' | '?')) => '\u{202f}',
            (' ', _) if previous == Some('«') => '\u{a0}',
            // `n° 12` keeps its number on the same line.
            (' ', _) if previous == Some('°') => '\u{a0}',
            _ => c,
        };
        out.push(typeset);
        previous = Some(c);
    }
}

/// Returns `text` with its first letter in upper case: « l'opération… »
/// becomes « L'opération… ».
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Returns « de Jean » or « d'Alice »: the preposition before a name, elided
/// before a vowel and before an h, since first names starting with an h
/// take the elision (« d'Hélène », « d'Henri »).
pub fn de(name: &str) -> String {
    let elided = name
        .chars()
        .next()
        .is_some_and(|first| "AEIOUYHÉÈÊËÀÂÎÏÔÛŒÆaeiouyhéèêëàâîïôûœæ".contains(first));
    if elided {
        format!("d'{name}")
    } else {
        format!("de {name}")
    }
}

fn param<'a>(batch: &'a crate::domain::batch::Batch, key: &str) -> Option<&'a serde_json::Value> {
    batch.params.get(key)
}

fn param_text(batch: &crate::domain::batch::Batch, key: &str) -> String {
    match param(batch, key) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Describes a region reassignment on its result page: « Affecter à X,
/// comme responsable commercial, les contacts avec une adresse dans le pays
/// France (FRA), codes postaux « 02;51 ». »
pub fn region_run_description(
    to: &str,
    roles: crate::domain::contact::RoleChoice,
    country: &CountryCode,
    postal: &str,
) -> String {
    format!(
        "Affecter à {to}, comme {}, les contacts avec une adresse dans le pays {} ({}), codes postaux « {} ».",
        role_choice_fr(roles),
        country.name_fr(),
        country.as_str(),
        postal_field_summary(postal)
    )
}

/// Names the owner role a region reassignment sets, after « comme ».
pub fn role_choice_fr(roles: crate::domain::contact::RoleChoice) -> &'static str {
    match roles {
        crate::domain::contact::RoleChoice::Commercial => "responsable commercial",
        crate::domain::contact::RoleChoice::Technical => "responsable technique",
        crate::domain::contact::RoleChoice::Both => "responsables commercial et technique",
    }
}

/// Display names of users by initials, for the texts that name the users
/// an operation's parameters hold by their initials.
pub struct UserNames(std::collections::HashMap<String, String>);

impl UserNames {
    pub fn new(users: &[crate::domain::user::User]) -> UserNames {
        UserNames(
            users
                .iter()
                .map(|user| (user.initials.to_lowercase(), user.display_name()))
                .collect(),
        )
    }

    /// `Prénom NOM (XY)` of the user with these initials, or the initials
    /// as stored when no user has them any more.
    pub fn of(&self, initials: &str) -> String {
        self.0
            .get(&initials.to_lowercase())
            .cloned()
            .unwrap_or_else(|| initials.to_string())
    }
}

/// Formats the parameters of a batch as the journal shows them, users in
/// full.
pub fn batch_params(batch: &crate::domain::batch::Batch, users: &UserNames) -> String {
    match batch.kind {
        crate::domain::batch::BatchKind::Reassign => format!(
            "{} vers {}",
            de(&users.of(&param_text(batch, "from"))),
            users.of(&param_text(batch, "to"))
        ),
        crate::domain::batch::BatchKind::ReassignRegion => {
            let role = match param_text(batch, "role").as_str() {
                "technical" => "technique",
                "both" => "commercial et technique",
                _ => "commercial",
            };
            format!(
                "vers {}, pays {}, codes postaux « {} », rôle {role}",
                users.of(&param_text(batch, "to")),
                param_text(batch, "country"),
                postal_field_summary(&param_text(batch, "postal"))
            )
        }
        crate::domain::batch::BatchKind::Undo => {
            format!("annule l'opération n° {}", param_text(batch, "batch"))
        }
        crate::domain::batch::BatchKind::Import if batch.params.get("demo").is_some() => {
            let contacts = batch.params["demo"].as_u64().unwrap_or_default();
            format!(
                "base de démonstration de {}",
                plural(contacts, "contact", "contacts")
            )
        }
        crate::domain::batch::BatchKind::Import if batch.params.get("file").is_some() => format!(
            "fichier « {} », pays par défaut {}{}",
            param_text(batch, "file"),
            param_text(batch, "default_country"),
            rejected_lines_suffix(batch.rejected_lines())
        ),
        crate::domain::batch::BatchKind::Import => match batch.params.as_object() {
            Some(fields) if !fields.is_empty() => fields
                .iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(text) => format!("{key} : {text}"),
                    other => format!("{key} : {other}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        },
    }
}

/// Describes where the changes of an undone batch stand, from the undos
/// that followed it (`chain`, its own undo first): after an even number of
/// undos its changes are back. `None` for a batch never undone.
pub fn undone_state(chain: &[i64]) -> Option<String> {
    let (&by, &last) = (chain.first()?, chain.last()?);
    Some(if chain.len() == 1 {
        format!("annulée par l'opération n° {by}")
    } else if chain.len().is_multiple_of(2) {
        format!("annulée par l'opération n° {by}, puis rétablie par l'opération n° {last}")
    } else {
        format!(
            "annulée par l'opération n° {by}, rétablie, puis annulée de nouveau par l'opération n° {last}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_role_counts_name_both_roles() {
        assert_eq!(
            per_role_of(183, 111, 75),
            "111 comme responsable commercial, 75 comme responsable technique ; \
             3 contacts comptent pour les deux rôles"
        );
        assert_eq!(
            per_role_of(2, 1, 2),
            "1 comme responsable commercial, 2 comme responsable technique ; \
             1 contact compte pour les deux rôles"
        );
        assert_eq!(
            per_role_of(5, 5, 0),
            "5 comme responsable commercial, 0 comme responsable technique"
        );
    }

    #[test]
    fn typeset_html_spaces_text_only() {
        assert_eq!(
            typeset_html("<p>code postal : « 51 » ; vrai ?</p>"),
            "<p>code postal\u{a0}: «\u{a0}51\u{a0}»\u{202f}; vrai\u{202f}?</p>"
        );
        // Attribute values, a form field's among them, stay as written.
        let field = r#"<input name="q" value="a : b"><a title="x ; y">lien</a>"#;
        assert_eq!(typeset_html(field), field);
        assert_eq!(typeset_html("<td>n° 12</td>"), "<td>n°\u{a0}12</td>");
        let area = "<textarea>a : b</textarea><p>c : d</p>";
        assert_eq!(
            typeset_html(area),
            "<textarea>a : b</textarea><p>c\u{a0}: d</p>"
        );
    }

    #[test]
    fn capitalised_opens_a_sentence() {
        assert_eq!(capitalised("l'opération n° 10"), "L'opération n° 10");
        assert_eq!(capitalised("échec"), "Échec");
        assert_eq!(capitalised(""), "");
    }

    #[test]
    fn ignored_columns_count_empty_headers() {
        let headers = |list: &[&str]| list.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ignored_columns(&headers(&["Notes", "", "Tags", ""])),
            "« Notes », « Tags » et 2 colonnes sans en-tête"
        );
        assert_eq!(ignored_columns(&headers(&[""])), "1 colonne sans en-tête");
        assert_eq!(ignored_columns(&headers(&["Notes"])), "« Notes »");
    }

    #[test]
    fn de_is_elided_before_a_vowel() {
        assert_eq!(de("Alice MARTIN (AM)"), "d'Alice MARTIN (AM)");
        assert_eq!(de("Émilie MOREL (EM)"), "d'Émilie MOREL (EM)");
        assert_eq!(de("Jean DUPONT (JD)"), "de Jean DUPONT (JD)");
        assert_eq!(de("Hélène LÉVÊQUE (HL)"), "d'Hélène LÉVÊQUE (HL)");
    }

    #[test]
    fn postal_summary_shortens_long_lists() {
        let codes: Vec<String> = (0..20).map(|n| format!("{}", 10 + n)).collect();

        assert_eq!(postal_field_summary("51, 02\t2A"), "51;02;2A");
        assert_eq!(postal_field_summary("*"), "*");
        assert_eq!(postal_field_summary("51 ; 02;2a;51"), "51;02;2A");
        assert_eq!(
            postal_field_summary(&codes.join("\n")),
            "10;11;12;13;14;15;16;17;18;19;20;21 et 8 autres codes"
        );
    }

    #[test]
    fn io_reasons_in_french() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let other = std::io::Error::other("bus error");

        assert!(io_reason(&missing).starts_with("introuvable ;"));
        assert!(io_reason(&denied).starts_with("accès refusé ;"));
        assert_eq!(io_reason(&other), "erreur du système (bus error)");
    }

    #[test]
    fn counts_use_narrow_spaces() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(20_000), "20\u{202F}000");
        assert_eq!(count(1_234_567), "1\u{202F}234\u{202F}567");
    }

    #[test]
    fn plural_is_singular_up_to_one() {
        assert_eq!(plural(0, "contact", "contacts"), "0 contact");
        assert_eq!(plural(1, "contact", "contacts"), "1 contact");
        assert_eq!(plural(2, "contact", "contacts"), "2 contacts");
    }

    #[test]
    fn prefixes_get_their_departement() {
        let france = CountryCode::france();
        assert_eq!(prefix_label("51", &france), "51 — Marne");
        assert_eq!(prefix_label("02", &france), "02 — Aisne");
        assert_eq!(prefix_label("511", &france), "511 — Marne");
        assert_eq!(prefix_label("200", &france), "200 — Corse-du-Sud");
        assert_eq!(prefix_label("206", &france), "206 — Haute-Corse");
        assert_eq!(prefix_label("20", &france), "20 — Corse");
        assert_eq!(
            prefix_label("97", &france),
            "97 — outre-mer (Antilles, Guyane, La Réunion, Mayotte…)"
        );
        assert_eq!(prefix_label("2A", &france), "2A — Corse-du-Sud");
        assert_eq!(prefix_label("2B", &france), "2B — Haute-Corse");
        assert_eq!(prefix_label("971", &france), "971 — Guadeloupe");
        assert_eq!(prefix_label("97133", &france), "97133 — Saint-Barthélemy");
        assert_eq!(prefix_label("98799", &france), "98799 — Île de Clipperton");
        assert_eq!(prefix_label("977", &france), "977 — Saint-Barthélemy");
        assert_eq!(prefix_label("5", &france), "5");
    }
}
