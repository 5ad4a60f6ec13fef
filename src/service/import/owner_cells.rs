//! Reading an owner cell as people write it: a civility before the name,
//! a mail client's `Name <address>`, a display form `Prénom NOM (XY)`, and
//! the characters no name contains.

/// Civilities written before a name, lowercase and without their final
/// dot: French forms first, then English ones, as CRMs export both.
const CIVILITIES: [&str; 16] = [
    "m",
    "mme",
    "mlle",
    "mmes",
    "mlles",
    "monsieur",
    "madame",
    "mademoiselle",
    "me",
    "dr",
    "pr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "docteur",
];

/// Returns `name` without a leading civility (`M. Dupont` gives `Dupont`,
/// `Mme Marie Curie` gives `Marie Curie`). A civility alone is kept: it
/// is then the whole cell.
pub(super) fn without_civility(name: &str) -> &str {
    let name = name.trim();
    // `M.Pierre Curie`: a dot without a space after the civility.
    if let Some((first, rest)) = name.split_once('.')
        && !first.contains(char::is_whitespace)
        && is_civility(first)
        && !rest.trim().is_empty()
    {
        return rest.trim();
    }
    let Some((first, rest)) = name.split_once(char::is_whitespace) else {
        return name;
    };
    if is_civility(first) && !rest.trim().is_empty() {
        rest.trim()
    } else {
        name
    }
}

/// Tells whether a word is a civility, with or without its final dot.
pub(super) fn is_civility(word: &str) -> bool {
    let word = word.strip_suffix('.').unwrap_or(word).to_lowercase();
    CIVILITIES.contains(&word.as_str())
}

/// Guesses a first and a last name from the part of an e-mail before the
/// `@`: `jean.dupont` gives Jean and Dupont, `marie-claire.de-la-tour`
/// gives Marie-Claire and De-La-Tour. A single word is the last name.
pub(super) fn names_of_email(local_part: &str) -> (String, String) {
    let capitalised = |word: &str| {
        word.split('-')
            .map(|part| {
                let mut letters = part.chars();
                letters.next().map_or(String::new(), |first| {
                    first
                        .to_uppercase()
                        .chain(letters.flat_map(char::to_lowercase))
                        .collect()
                })
            })
            .collect::<Vec<_>>()
            .join("-")
    };
    let words: Vec<&str> = local_part
        .split(['.', '_'])
        .filter(|word| !word.is_empty())
        .collect();
    match words.split_first() {
        Some((first, rest)) if !rest.is_empty() => (
            capitalised(first),
            rest.iter()
                .map(|word| capitalised(word))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => (String::new(), local_part.to_string()),
    }
}

/// Returns the address of an owner written as a mail client does, `Jean
/// Dupont <jd@exemple.fr>` or `mailto:jd@exemple.fr`, and any other cell
/// as it is.
pub(super) fn owner_address(reference: &str) -> &str {
    let unprefixed = reference
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case("mailto:"))
        .map_or(reference, |_| reference[7..].trim());
    let bracketed = unprefixed
        .strip_suffix('>')
        .and_then(|inner| inner.rsplit_once('<'))
        .map(|(_, address)| address.trim())
        .filter(|address| address.contains('@'));
    bracketed.unwrap_or(unprefixed)
}

/// Characters that no name, login or e-mail address of a user contains.
const NOT_IN_NAMES: &str = "()<>[]{}\"«»:;,/\\|!?*=#%$";

/// Tells why an owner cell cannot be made into a user, or `None` when it
/// can: it must not contain markup characters, nor end with a dot.
pub(super) fn not_a_name(reference: &str) -> Option<String> {
    if let Some(found) = reference.chars().find(|c| NOT_IN_NAMES.contains(*c)) {
        return Some(format!(
            "un nom, un identifiant ou un e-mail ne peut pas contenir le caractère « {found} »"
        ));
    }
    reference
        .ends_with('.')
        .then(|| "un nom, un identifiant ou un e-mail ne peut pas finir par un point".to_string())
}

/// Returns the initials of an owner written `Prénom NOM (INITIALES)`: the
/// text between the last pair of parentheses ending the cell, after a name
/// or alone (`(JD)`).
pub(super) fn display_initials(reference: &str) -> Option<&str> {
    display_form(reference).map(|(_, initials)| initials)
}

/// Splits an owner written `Prénom NOM (INITIALES)` into its name and its
/// initials, or returns `None` for any other form.
pub(super) fn display_form(reference: &str) -> Option<(&str, &str)> {
    let inner = reference.strip_suffix(')')?;
    let (name, initials) = inner.rsplit_once('(')?;
    let initials = initials.trim();
    let valid = !initials.is_empty() && initials.chars().all(|c| c.is_alphanumeric());
    valid.then_some((name, initials))
}
