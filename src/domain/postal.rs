//! Postal codes: normalising stored codes and parsing the prefix field.
//!
//! Stored codes are matched against prefixes by byte range
//! (`postal_norm >= prefix AND postal_norm < upper_bound`), never with
//! `LIKE`. Both sides therefore contain only ASCII uppercase letters and
//! digits, so that byte order and string order agree.

use std::fmt;

use super::country::CountryCode;
use crate::reference;

/// A stored postal code after normalisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPostal {
    /// Code used for matching: ASCII uppercase letters and digits only,
    /// empty for [`PostalStatus::Empty`].
    pub value: String,
    pub status: PostalStatus,
}

/// Outcome of the normalisation of a postal code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostalStatus {
    /// Nothing was entered, or only spaces, dots and hyphens.
    Empty,
    /// A French code that La Poste lists.
    Valid,
    /// Five digits that La Poste does not list.
    Unknown,
    /// Not a possible French code, or nothing usable for another country.
    Invalid,
    /// A code of a country whose postal codes are not checked.
    NotChecked,
}

impl PostalStatus {
    /// Returns the stable English name used in the database and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PostalStatus::Empty => "empty",
            PostalStatus::Valid => "valid",
            PostalStatus::Unknown => "unknown",
            PostalStatus::Invalid => "invalid",
            PostalStatus::NotChecked => "not_checked",
        }
    }

    /// Parses the name returned by [`PostalStatus::as_str`].
    pub fn parse(value: &str) -> Option<PostalStatus> {
        match value {
            "empty" => Some(PostalStatus::Empty),
            "valid" => Some(PostalStatus::Valid),
            "unknown" => Some(PostalStatus::Unknown),
            "invalid" => Some(PostalStatus::Invalid),
            "not_checked" => Some(PostalStatus::NotChecked),
            _ => None,
        }
    }
}

/// Returns `text` with full-width digits and Latin letters (`５１１００`,
/// typed with an Asian keyboard or copied from some PDFs) turned into
/// their ASCII forms, as Unicode compatibility mapping does.
pub fn ascii_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Normalises a postal code as stored with a contact's address.
///
/// The code is uppercased, and spaces, dots and hyphens are removed. A
/// `CEDEX` mention and what follows it are dropped (`51100 CEDEX 2` gives
/// `51100`). For countries that use French postal codes (see
/// [`CountryCode::uses_french_postal_codes`]) a leading country marker
/// before digits is dropped (`F-51100`, `FR-51100`), and a four-digit code
/// gets back the leading zero that spreadsheets drop (`2100` gives `02100`).
/// Five digits are then [`PostalStatus::Valid`] when La Poste lists them and
/// [`PostalStatus::Unknown`] otherwise. Anything else is
/// [`PostalStatus::Invalid`] and keeps the text as entered, uppercased,
/// reduced to its ASCII letters and digits. Codes of other countries are
/// [`PostalStatus::NotChecked`].
pub fn normalize_postal_code(entered: &str, country: &CountryCode) -> NormalizedPostal {
    let upper = ascii_width(entered.trim()).to_uppercase();
    let compact: String = upper
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
        .collect();
    if compact.is_empty() {
        return NormalizedPostal {
            value: String::new(),
            status: PostalStatus::Empty,
        };
    }
    let code = strip_cedex(&compact);

    if country.uses_french_postal_codes() {
        normalize_french(code, &upper)
    } else {
        let value = ascii_alphanumeric(code);
        let value = match strip_foreign_marker(&value, country.as_str()) {
            Some(rest) => rest.to_string(),
            None => value,
        };
        // A spreadsheet dropped the leading zeros of a five-digit code
        // (Rome's `00118` reads `118`).
        let value = if country.has_five_digit_postal_codes()
            && (1..5).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_digit())
        {
            format!("{value:0>5}")
        } else {
            value
        };
        let status = if value.is_empty() {
            PostalStatus::Invalid
        } else {
            PostalStatus::NotChecked
        };
        NormalizedPostal { value, status }
    }
}

fn normalize_french(code: &str, upper_entered: &str) -> NormalizedPostal {
    let code = strip_country_marker(code);
    let is_digits = code.bytes().all(|b| b.is_ascii_digit());

    let value = match code.len() {
        5 if is_digits => code.to_string(),
        4 if is_digits => format!("0{code}"),
        _ => {
            return NormalizedPostal {
                value: ascii_alphanumeric(upper_entered),
                status: PostalStatus::Invalid,
            };
        }
    };
    let status = if reference::postal_code_exists(&value) {
        PostalStatus::Valid
    } else {
        PostalStatus::Unknown
    };
    NormalizedPostal { value, status }
}

/// Drops a `CEDEX` (or `CÉDEX`) mention and everything after it, from an
/// uppercase code without spaces.
fn strip_cedex(code: &str) -> &str {
    let cut = ["CEDEX", "CÉDEX"]
        .iter()
        .filter_map(|word| code.find(word))
        .min();
    match cut {
        Some(position) => &code[..position],
        None => code,
    }
}

/// Drops a leading `F`, `FR` or `FRA` when a digit follows it, from an
/// uppercase code without spaces or hyphens (`F51100` was `F-51100`).
fn strip_country_marker(code: &str) -> &str {
    for marker in ["FRA", "FR", "F"] {
        if let Some(rest) = code.strip_prefix(marker)
            && rest.starts_with(|c: char| c.is_ascii_digit())
        {
            return rest;
        }
    }
    code
}

/// Country markers written before postal codes, by alpha-3 code: the
/// international vehicle registration letters that European addresses used
/// before the country name (`L-1234`, `CH-1200`, `D-10115`), the alpha-2
/// code and the alpha-3 code. Within a country, a longer marker comes before
/// its own prefix (`FIN` before `FI`).
///
/// Only countries whose postal codes start with a digit are listed, so that
/// removing a marker followed by a digit never cuts a real code. The data
/// migrations `0005_overseas_and_postal_markers.sql` (SQLite) and
/// `0005_overseas_and_postal_markers.sql` (PostgreSQL) repeat this table for
/// codes stored before the rule, and a unit test checks that they agree.
pub const FOREIGN_POSTAL_MARKERS: &[(&str, &[&str])] = &[
    ("AUT", &["AUT", "AT", "A"]),
    ("BEL", &["BEL", "BE", "B"]),
    ("CHE", &["CHE", "CH"]),
    ("CZE", &["CZE", "CZ"]),
    ("DEU", &["DEU", "DE", "D"]),
    ("DNK", &["DNK", "DK"]),
    ("ESP", &["ESP", "ES", "E"]),
    ("FIN", &["FIN", "FI", "SF"]),
    ("GRC", &["GRC", "GR"]),
    ("HUN", &["HUN", "HU", "H"]),
    ("ITA", &["ITA", "IT", "I"]),
    ("LIE", &["LIE", "LI", "FL"]),
    ("LUX", &["LUX", "LU", "L"]),
    ("MCO", &["MCO", "MC"]),
    ("NLD", &["NLD", "NL"]),
    ("NOR", &["NOR", "NO", "N"]),
    ("POL", &["POL", "PL"]),
    ("PRT", &["PRT", "PT", "P"]),
    ("SVK", &["SVK", "SK"]),
    ("SWE", &["SWE", "SE", "S"]),
];

/// Returns the code without the leading marker of its country, when a
/// marker of [`FOREIGN_POSTAL_MARKERS`] is followed by a digit (`L1234`
/// gives `1234` for Luxembourg), from a code already reduced to uppercase
/// ASCII letters and digits. A marker of another country is kept (`D45600`
/// stays as is for Austria).
fn strip_foreign_marker<'a>(code: &'a str, alpha3: &str) -> Option<&'a str> {
    let (_, markers) = FOREIGN_POSTAL_MARKERS
        .iter()
        .find(|(country, _)| *country == alpha3)?;
    markers.iter().find_map(|marker| {
        code.strip_prefix(marker)
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}

fn ascii_alphanumeric(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Maximum length of one prefix in the postal field. Once spaces and
/// hyphens are removed, the longest postal codes in use have 10 characters
/// (Iran's), so a longer part is a typing mistake.
const MAX_PREFIX_LEN: usize = 10;

/// Length of every French postal code.
const FRENCH_POSTAL_LEN: usize = 5;

/// A validated prefix: 1 to 10 uppercase ASCII letters and digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PostalPrefix(String);

impl PostalPrefix {
    /// Builds a prefix from an already normalised value, such as one read
    /// back from the database. Returns `None` unless the value has 1 to 10
    /// characters, each an uppercase ASCII letter or a digit.
    pub fn new(value: &str) -> Option<PostalPrefix> {
        let valid = !value.is_empty()
            && value.len() <= MAX_PREFIX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        valid.then(|| PostalPrefix(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Exclusive upper bound of the range of codes starting with this prefix:
    /// the prefix with its last byte incremented (`51` gives `52`, `519`
    /// gives `51:`, `2A` gives `2B`). Under byte order, a normalised code `c`
    /// starts with the prefix exactly when `prefix <= c < upper_bound`.
    ///
    /// NOTE: the bound can contain `:` or `[`, so the comparison must use
    /// byte order: SQLite's default `BINARY` collation, or `COLLATE "C"` in
    /// PostgreSQL, where a language collation may ignore punctuation.
    pub fn upper_bound(&self) -> String {
        // The prefix is non-empty ASCII, so the last byte is a whole
        // character and its successor (at most `[`) is ASCII too.
        match self.0.as_bytes().split_last() {
            Some((last, _)) => {
                let head = &self.0[..self.0.len() - 1];
                format!("{head}{}", char::from(last + 1))
            }
            None => String::new(),
        }
    }

    /// Tells whether a normalised postal code starts with this prefix, as
    /// the byte range of [`PostalPrefix::upper_bound`] does.
    pub fn matches(&self, postal_norm: &str) -> bool {
        postal_norm.starts_with(self.0.as_str())
    }
}

impl fmt::Display for PostalPrefix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The postal codes an operation selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostalSelection {
    /// Every postal code, the empty one included.
    All,
    /// Codes starting with one of the prefixes. The list is sorted, without
    /// duplicates, and no prefix starts with another one.
    Prefixes(Vec<PostalPrefix>),
}

impl PostalSelection {
    /// Tells whether a normalised postal code is selected.
    pub fn matches(&self, postal_norm: &str) -> bool {
        match self {
            PostalSelection::All => true,
            PostalSelection::Prefixes(prefixes) => {
                prefixes.iter().any(|prefix| prefix.matches(postal_norm))
            }
        }
    }
}

/// Writes the selection as the postal field accepts it back: `*`, or the
/// prefixes joined with `;` (`02;51`).
impl fmt::Display for PostalSelection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostalSelection::All => formatter.write_str("*"),
            PostalSelection::Prefixes(prefixes) => {
                for (position, prefix) in prefixes.iter().enumerate() {
                    if position > 0 {
                        formatter.write_str(";")?;
                    }
                    formatter.write_str(prefix.as_str())?;
                }
                Ok(())
            }
        }
    }
}

/// Rejections of the postal field. Each message names the part as typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostalFieldError {
    #[error("code postal : indiquez au moins un code, ou * pour tous")]
    Empty,
    #[error(
        "code postal : « * » (tous les codes) ne peut pas être combiné avec d'autres codes ; indiquez soit * seul, soit une liste de codes"
    )]
    AllWithOthers,
    #[error(
        "code postal : « {0} » n'est pas un préfixe valide ; utilisez uniquement des chiffres et des lettres, séparés par « ; »"
    )]
    InvalidPrefix(String),
    #[error("code postal : « {0} » est trop long ; un préfixe compte au plus 10 caractères")]
    TooLong(String),
    #[error(
        "code postal : « {0} » n'est pas un préfixe de code postal français ; utilisez uniquement des chiffres (51, 511…), ou 2A et 2B pour la Corse"
    )]
    NotFrenchPrefix(String),
    #[error(
        "code postal : « {part} » n'est pas un préfixe de code postal français ; vouliez-vous écrire « {guess} » ? Un préfixe français ne compte que des chiffres, ou 2A et 2B pour la Corse"
    )]
    NotFrenchPrefixGuessed { part: String, guess: String },
    /// Départements separated by spaces; `joined` is the one code the
    /// part would be without them, when it is digits only.
    #[error(
        "code postal : « {part} » contient une espace ; séparez les codes par « ; » (« {separated} »){}",
        match .joined {
            Some(joined) => format!(", ou écrivez un seul code sans espace (« {joined} »)"),
            None => String::new(),
        }
    )]
    SpaceInside {
        part: String,
        separated: String,
        joined: Option<String>,
    },
    /// Départements typed as a range, `51 à 53`, with all of them listed.
    #[error(
        "code postal : « {part} » : pour une suite de départements, écrivez-les tous, séparés par « ; » (« {listed} »)"
    )]
    DepartementRange { part: String, listed: String },
    /// A range of codes typed in full. `start` is the prefix its bounds
    /// share, and `exact` is true when that prefix matches the range only.
    #[error(
        "code postal : « {part} » : une plage de codes s'écrit par le début commun de ses codes{}",
        match (.start.as_str(), .exact) {
            ("", _) => " ; ici il n'y en a pas, écrivez les codes un par un, séparés par « ; »".to_string(),
            (start, true) => format!(" (« {start} » pour toute la plage)"),
            (start, false) => format!(
                " ; « {start} » prendrait aussi des codes hors de la plage : écrivez les débuts de codes voulus, séparés par « ; »"
            ),
        }
    )]
    Range {
        part: String,
        start: String,
        exact: bool,
    },
    /// Départements joined by hyphens, as a list or a range is written.
    #[error(
        "code postal : dans « {part} », le tiret ne sépare pas les codes ; séparez-les par « ; » (« {separated} »), et pour une suite de départements, écrivez-les tous (« 51;52;53 »)"
    )]
    HyphenInside { part: String, separated: String },
    #[error(
        "code postal : « {0} » compte plus de 5 chiffres ; un code postal français en compte 5"
    )]
    TooLongForFrance(String),
    /// No French code starts with `head`, the first two digits of `typed`
    /// (three overseas).
    #[error(
        "code postal : aucun code postal français ne commence par « {head} »{} ; ils commencent par 01 à 95, ou outre-mer par 971 à 976 et 986 à 988 (Saint-Barthélemy et Saint-Martin, 977 et 978, ont des codes en 971)",
        if .typed == .head { String::new() } else { format!(", ni donc par « {typed} »") }
    )]
    NoFrenchCode { typed: String, head: String },
    #[error(
        "code postal : « {prefix} » ({territory}) : les adresses de ce territoire sont enregistrées avec le pays {country} ; choisissez le pays {country} plutôt que {chosen}"
    )]
    OwnCountryTerritory {
        prefix: String,
        territory: &'static str,
        country: &'static str,
        chosen: String,
    },
    /// Several parts of the field are invalid, each given as typed with
    /// its own reason, so that one correction fixes them all.
    #[error("{}", several_message(.0))]
    Several(Vec<(String, PostalFieldError)>),
}

/// Invalid parts that a message about several of them quotes one by one.
const LISTED_INVALID_PARTS: usize = 5;

/// Formats the message of [`PostalFieldError::Several`]: how many parts
/// to correct, then the reason for each, one sentence apiece, led by the
/// part as typed when the reason does not quote it.
fn several_message(errors: &[(String, PostalFieldError)]) -> String {
    let mut message = format!(
        "code postal : {} à corriger.",
        crate::french::plural(errors.len() as u64, "code", "codes")
    );
    for (part, error) in errors.iter().take(LISTED_INVALID_PARTS) {
        let text = error.to_string();
        let reason = text.strip_prefix("code postal : ").unwrap_or(&text);
        let quoted_part = format!("« {} »", quoted(part));
        message.push(' ');
        if !reason.starts_with(&quoted_part) {
            message.push_str(&quoted_part);
            message.push_str(" : ");
        }
        message.push_str(reason);
        message.push('.');
    }
    if errors.len() > LISTED_INVALID_PARTS {
        message.push_str(&format!(
            " … et {} à corriger.",
            crate::french::plural(
                (errors.len() - LISTED_INVALID_PARTS) as u64,
                "autre code",
                "autres codes"
            )
        ));
    }
    message
}

/// Parses the postal field of a selection: prefixes separated by `;` or
/// `,`, or `*` alone for every code.
///
/// Parts are separated by `;`, `,`, tabs or line breaks. Blank parts are
/// ignored, and spaces and hyphens inside a part are removed
/// (`51 1` is `511`), except that for French codes a part made of
/// départements separated by spaces (`51 02`) is refused. For countries that use French postal codes, prefixes
/// are digits only, at most five of them, except the Corsican département
/// codes `2A` and `2B`, which become the postal prefixes their communes use.
/// The result is sorted, without duplicates, and a prefix covered by a
/// shorter one is dropped (`51;511` gives `51`).
///
/// # Errors
///
/// [`PostalFieldError`] when the field is blank, mixes `*` with codes, or a
/// part is not a valid prefix for the country.
pub fn parse_postal_field(
    input: &str,
    country: &CountryCode,
) -> Result<PostalSelection, PostalFieldError> {
    let parts = postal_field_parts(input);
    if parts.is_empty() {
        return Err(PostalFieldError::Empty);
    }
    if parts.contains(&"*") {
        return if parts.iter().all(|part| *part == "*") {
            Ok(PostalSelection::All)
        } else {
            Err(PostalFieldError::AllWithOthers)
        };
    }

    let mut prefixes = Vec::new();
    let mut errors = Vec::new();
    for part in parts {
        match parse_part(part, country) {
            Ok(parsed) => prefixes.extend(parsed),
            Err(error) => errors.push((part.to_string(), error)),
        }
    }
    match errors.len() {
        0 => Ok(PostalSelection::Prefixes(merge_prefixes(prefixes))),
        1 => Err(errors.remove(0).1),
        _ => Err(PostalFieldError::Several(errors)),
    }
}

/// Splits the postal field into its non-blank parts, trimmed. `;` and `,`
/// separate them, and so do tabs and line breaks: a row of cells copied
/// from a spreadsheet arrives tab-separated, and a column one per line.
pub fn postal_field_parts(input: &str) -> Vec<&str> {
    input
        .split([';', ',', '\t', '\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect()
}

/// Maximum characters of a bad part quoted back in an error message.
const QUOTED_PART_CHARS: usize = 20;

/// Shortens a bad part for an error message, so that a pasted page of text
/// does not come back whole.
fn quoted(part: &str) -> String {
    if part.chars().count() <= QUOTED_PART_CHARS {
        part.to_string()
    } else {
        let head: String = part.chars().take(QUOTED_PART_CHARS).collect();
        format!("{head}…")
    }
}

/// Parses the postal field of a region reassignment: [`parse_postal_field`],
/// then the rejection of prefixes of Wallis-et-Futuna, French Polynesia and
/// New Caledonia under another country. Their addresses are stored under
/// their own country, so under `FRA` the selection would match nothing.
/// The contact list filter keeps [`parse_postal_field`] alone, since it
/// may search every country.
///
/// # Errors
///
/// Those of [`parse_postal_field`], and
/// [`PostalFieldError::OwnCountryTerritory`].
pub fn parse_region_postal_field(
    input: &str,
    country: &CountryCode,
) -> Result<PostalSelection, PostalFieldError> {
    let selection = parse_postal_field(input, country)?;
    if let PostalSelection::Prefixes(prefixes) = &selection
        && country.uses_french_postal_codes()
    {
        // Clipperton (989) is stored under FRA, but its one postal code,
        // 98799, starts with French Polynesia's 987.
        let clipperton = reference::departement("989")
            .map(|clipperton| clipperton.selection_prefixes())
            .unwrap_or_default();
        for prefix in prefixes {
            if clipperton.iter().any(|code| prefix.0.starts_with(code)) {
                continue;
            }
            let territory = prefix
                .0
                .get(..3)
                .and_then(reference::departement)
                .filter(|territory| territory.country_alpha3() != "FRA")
                .filter(|territory| territory.country_alpha3() != country.as_str());
            if let Some(territory) = territory {
                return Err(PostalFieldError::OwnCountryTerritory {
                    prefix: prefix.0.clone(),
                    territory: territory.name,
                    country: territory.country_alpha3(),
                    chosen: country.as_str().to_string(),
                });
            }
        }
    }
    Ok(selection)
}

/// Returns the country an address is stored under, given its country and
/// normalised postal code. Wallis-et-Futuna (`986`), French Polynesia
/// (`987`) and New Caledonia (`988`) keep their own country code, which
/// selections name, so an address given as France with one of their codes
/// is stored under `WLF`, `PYF` or `NCL`. Clipperton's `98799` stays French.
pub fn stored_country(country: CountryCode, postal_norm: &str) -> CountryCode {
    // Every address of an import comes here, and only 98 codes can move.
    if !country.is_france() || !postal_norm.starts_with("98") {
        return country;
    }
    let clipperton = reference::departement("989")
        .map(|clipperton| clipperton.selection_prefixes())
        .unwrap_or_default();
    if clipperton.iter().any(|code| postal_norm.starts_with(code)) {
        return country;
    }
    postal_norm
        .get(..3)
        .and_then(reference::departement)
        .map(|territory| territory.country_alpha3())
        .filter(|alpha3| *alpha3 != "FRA")
        .and_then(|alpha3| CountryCode::parse(alpha3).ok().flatten())
        .unwrap_or(country)
}

/// Returns the département `part` names (`Marne`, `cotes d'armor`,
/// `Réunion`), whatever its case, accents, spaces, hyphens, apostrophes
/// and leading article, or the one département whose name starts with it
/// (`Polynésie`).
pub fn departement_named(part: &str) -> Option<&'static reference::Departement> {
    let key = |text: &str| -> String {
        let folded = crate::domain::search::fold_for_search(text);
        let mut words: Vec<&str> = folded
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect();
        if words.len() > 1 && ["la", "le", "les", "l"].contains(&words[0]) {
            words.remove(0);
        }
        words.concat()
    };
    let typed = key(part);
    if typed.len() < 3 || typed.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    // A département without a postal code would be proposed, then rejected
    // as a code.
    let named = || {
        reference::departements()
            .iter()
            .filter(|departement| !departement.selection_prefixes().is_empty())
    };
    if let Some(departement) = named().find(|departement| key(departement.name) == typed) {
        return Some(departement);
    }
    // A start that one name only has is enough (`Polynésie`). `Haute`
    // starts several names, so it gets no proposal.
    let mut starting = named().filter(|departement| key(departement.name).starts_with(&typed));
    match (starting.next(), starting.next()) {
        (Some(departement), None) if typed.len() >= 4 => Some(departement),
        _ => None,
    }
}

/// A range of codes or départements typed with « à » or a hyphen.
enum TypedRange {
    /// Two départements (`51 à 53`), with those from the first to the last.
    Departements(Vec<String>),
    /// Two codes of three digits or more (`51000 à 51999`): the start they
    /// share, and whether it takes exactly the range.
    Codes { start: String, exact: bool },
}

/// Reads a range typed in full (`51000 à 51999`, `51000-51999`, `51 à 53`).
fn typed_range(part: &str) -> Option<TypedRange> {
    let words: Vec<&str> = part.split_whitespace().collect();
    let (low, high) = match words.as_slice() {
        [low, to, high] if ["à", "a", "au", "-"].contains(&to.to_lowercase().as_str()) => {
            (*low, *high)
        }
        [one] => one.split_once('-')?,
        _ => return None,
    };
    let digits = |text: &str| text.len() >= 2 && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(low) || !digits(high) || low.len() != high.len() {
        return None;
    }
    let departement = |code: &str| reference::departement(code).is_some();
    if departement(low) && departement(high) {
        let (first, last) = (low.parse::<u32>().ok()?, high.parse::<u32>().ok()?);
        // `51-02` and `971-972` are left to the hyphen check, which names
        // both readings.
        if words.len() == 1 || first >= last || last - first > MAX_LISTED_RANGE {
            return None;
        }
        return Some(TypedRange::Departements(
            (first..=last)
                .map(|code| format!("{code:0width$}", width = low.len()))
                .filter(|code| departement(code))
                .collect(),
        ));
    }
    if low.len() == 2 {
        return None;
    }
    let start: String = low
        .chars()
        .zip(high.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    let exact = low[start.len()..].bytes().all(|b| b == b'0')
        && high[start.len()..].bytes().all(|b| b == b'9');
    Some(TypedRange::Codes { start, exact })
}

/// Départements a range may span for its error to list them all.
const MAX_LISTED_RANGE: u32 = 20;

/// Guesses the French prefix a rejected part meant, written in capitals
/// without spaces or hyphens: without its country marker (`F-51100`,
/// `FR51`), or with letters typed for the digits they look like (`5l` for
/// `51`, `5O` for `50`).
fn french_prefix_guess(compact: &str) -> Option<String> {
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    for marker in ["FRA", "FR", "F"] {
        if let Some(rest) = compact.strip_prefix(marker)
            && digits(rest)
        {
            return Some(rest.to_string());
        }
    }
    let guessed: String = compact
        .chars()
        .map(|c| match c {
            'L' | 'I' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    (guessed != compact && digits(&guessed)).then_some(guessed)
}

/// Parses one trimmed part of the postal field into one or more prefixes.
fn parse_part(part: &str, country: &CountryCode) -> Result<Vec<PostalPrefix>, PostalFieldError> {
    let converted = ascii_width(part);
    let part = converted.as_str();
    let compact: String = part
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if country.uses_french_postal_codes()
        && let Some(departement) = departement_named(part)
    {
        // A Pacific collectivity keeps its own country code, which the
        // selection must name.
        let own_country = departement.country_alpha3();
        if own_country != "FRA" && own_country != country.as_str() {
            return Err(PostalFieldError::OwnCountryTerritory {
                prefix: departement.code.to_string(),
                territory: departement.name,
                country: own_country,
                chosen: country.as_str().to_string(),
            });
        }
        return Err(PostalFieldError::NotFrenchPrefixGuessed {
            part: quoted(part),
            guess: departement.code.to_string(),
        });
    }
    if country.uses_french_postal_codes() {
        match typed_range(part) {
            Some(TypedRange::Departements(codes)) => {
                return Err(PostalFieldError::DepartementRange {
                    part: quoted(part),
                    listed: quoted(&codes.join(";")),
                });
            }
            Some(TypedRange::Codes { start, exact }) => {
                return Err(PostalFieldError::Range {
                    part: quoted(part),
                    start,
                    exact,
                });
            }
            None => {}
        }
    }
    // A word with accented letters is not a code. It gets the message that
    // a word of ASCII letters gets in France, which asks for digits.
    if country.uses_french_postal_codes()
        && part.chars().any(|c| c.is_alphabetic() && !c.is_ascii())
        && part
            .chars()
            .all(|c| c.is_alphabetic() || c.is_whitespace() || matches!(c, '-' | '\'' | '’'))
    {
        return Err(PostalFieldError::NotFrenchPrefix(quoted(part)));
    }
    if compact.is_empty() || !compact.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PostalFieldError::InvalidPrefix(quoted(part)));
    }
    // Separators checked before the length: a list typed with spaces or
    // hyphens is longer than any prefix, and the list is the fault to name.
    if country.uses_french_postal_codes() {
        // A French code is often written with a space after the
        // département, `51 100`, and a prefix too, `51 1`. A part whose
        // every word is a département, `51 02`, rather lists départements
        // with the wrong separator: read as `5102`, it would select nothing.
        let pieces: Vec<&str> = part.split_whitespace().collect();
        let departement = |piece: &str| {
            let upper = piece.to_ascii_uppercase();
            reference::departement(&upper).is_some()
                || reference::corsica_postal_prefixes(&upper).is_some()
        };
        // Whole codes separated by spaces, as a column pasted into the
        // one-line field arrives (`51100 51200`), are a list too: together
        // they are longer than any code.
        let whole_codes = pieces.iter().all(|piece| {
            piece.len() == FRENCH_POSTAL_LEN && piece.bytes().all(|b| b.is_ascii_digit())
        });
        if pieces.len() > 1 && pieces.iter().all(|piece| departement(piece) || whole_codes) {
            // The joined form is offered only when it could be one code.
            let joinable =
                compact.len() <= FRENCH_POSTAL_LEN && compact.bytes().all(|b| b.is_ascii_digit());
            return Err(PostalFieldError::SpaceInside {
                part: quoted(part),
                separated: quoted(&pieces.join(";")),
                joined: joinable.then(|| quoted(&compact)),
            });
        }
        // The hyphen is dropped inside a code (`2-B`), but between two
        // départements (`51-02`) it lists or spans them: read as `5102`,
        // the part would select nothing.
        let linked: Vec<&str> = part
            .split('-')
            .map(str::trim)
            .filter(|piece| !piece.is_empty())
            .collect();
        if linked.len() > 1 && linked.iter().all(|piece| departement(piece)) {
            return Err(PostalFieldError::HyphenInside {
                part: quoted(part),
                separated: quoted(&linked.join(";")),
            });
        }
    }
    if compact.len() > MAX_PREFIX_LEN {
        return Err(PostalFieldError::TooLong(quoted(part)));
    }

    if country.uses_french_postal_codes() {
        // Corsica's département codes are not postal prefixes: its postal
        // codes start with 200 to 206.
        if let Some(corsica) = reference::corsica_postal_prefixes(&compact) {
            return Ok(corsica.into_iter().map(PostalPrefix).collect());
        }
        // Saint-Barthélemy (977) and Saint-Martin (978) have département
        // codes that no postal code starts with: their communes use
        // Guadeloupe's 97133 and 97150, which their code selects instead.
        if let Some(codes) = reference::departement(&compact)
            .map(|departement| departement.selection_prefixes())
            .filter(|codes| !codes.is_empty() && codes.as_slice() != [compact.as_str()])
        {
            return Ok(codes
                .into_iter()
                .map(|code| PostalPrefix(code.to_string()))
                .collect());
        }
        if !compact.bytes().all(|b| b.is_ascii_digit()) {
            return Err(match french_prefix_guess(&compact) {
                Some(guess) => PostalFieldError::NotFrenchPrefixGuessed {
                    part: quoted(part),
                    guess,
                },
                None => PostalFieldError::NotFrenchPrefix(quoted(part)),
            });
        }
        if compact.len() > FRENCH_POSTAL_LEN {
            return Err(PostalFieldError::TooLongForFrance(quoted(part)));
        }
        // A longer prefix may be a CEDEX code, which the La Poste list of
        // communes leaves out, so only its département part is checked:
        // two digits, or three overseas (`980` is Monaco's, `984` has no
        // postal code).
        let checked = if compact.starts_with("97") || compact.starts_with("98") {
            3
        } else {
            2
        };
        let head = &compact[..compact.len().min(checked)];
        let known = reference::departements().iter().any(|departement| {
            departement
                .postal_prefixes
                .iter()
                .any(|prefix| prefix.starts_with(head))
        });
        if !known {
            return Err(PostalFieldError::NoFrenchCode {
                typed: compact.to_string(),
                head: head.to_string(),
            });
        }
    }
    // Stored codes lose their country's marker (`L-1234` is kept as
    // `1234` in Luxembourg), so a prefix typed with it loses it too.
    if let Some(code) = strip_foreign_marker(&compact, country.as_str()) {
        return Ok(vec![PostalPrefix(code.to_string())]);
    }
    Ok(vec![PostalPrefix(compact)])
}

/// Sorts prefixes, removes duplicates and drops every prefix that starts
/// with another one of the list.
fn merge_prefixes(mut prefixes: Vec<PostalPrefix>) -> Vec<PostalPrefix> {
    prefixes.sort();
    prefixes.dedup();

    // After sorting, the prefixes that start with a given one follow it
    // directly, so comparing with the last kept prefix is enough.
    let mut merged: Vec<PostalPrefix> = Vec::with_capacity(prefixes.len());
    for prefix in prefixes {
        let covered = merged
            .last()
            .is_some_and(|kept| prefix.0.starts_with(kept.0.as_str()));
        if !covered {
            merged.push(prefix);
        }
    }
    merged
}

/// Returns the département shown next to a normalised French postal code:
/// its first two digits, or three for overseas codes (`97x`, `98x`), and
/// `2A` (`200xx`, `201xx`) or `2B` (`202xx` to `206xx`) in Corsica.
///
/// Returns `None` when the code is not five digits, and for `207xx` to
/// `209xx`, which no Corsican commune uses. The result is the département
/// the code's prefix belongs to: a few codes serve communes of two
/// départements (`52100`), and Saint-Barthélemy (`97133`) and Saint-Martin
/// (`97150`) use Guadeloupe's `971`.
pub fn departement_code(postal_norm: &str) -> Option<String> {
    let bytes = postal_norm.as_bytes();
    if bytes.len() != FRENCH_POSTAL_LEN || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = match (bytes[0], bytes[1], bytes[2]) {
        (b'2', b'0', b'0' | b'1') => "2A",
        (b'2', b'0', b'2'..=b'6') => "2B",
        (b'2', b'0', _) => return None,
        (b'9', b'7' | b'8', _) => &postal_norm[..3],
        _ => &postal_norm[..2],
    };
    Some(code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(code: &str) -> CountryCode {
        CountryCode::parse(code)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{code} is a country"))
    }

    fn prefixes(values: &[&str]) -> PostalSelection {
        PostalSelection::Prefixes(values.iter().map(|v| PostalPrefix(v.to_string())).collect())
    }

    fn normalized(value: &str, status: PostalStatus) -> NormalizedPostal {
        NormalizedPostal {
            value: value.to_string(),
            status,
        }
    }

    #[test]
    fn normalize_french_valid() {
        let france = CountryCode::france();
        let cases = [
            ("51100", "51100"),
            (" 51100 ", "51100"),
            ("51 100", "51100"),
            ("51.100", "51100"),
            ("51-100", "51100"),
            ("51\u{a0}100", "51100"),
            ("F-51100", "51100"),
            ("F51100", "51100"),
            ("f-51100", "51100"),
            ("FR-51100", "51100"),
            ("FR 51100", "51100"),
            ("FRA-51100", "51100"),
            ("51100 CEDEX", "51100"),
            ("51100 CEDEX 2", "51100"),
            ("51100 Cedex 09", "51100"),
            ("51100 cédex", "51100"),
            ("F-51100 CEDEX 2", "51100"),
            ("2100", "02100"),
            ("2100 CEDEX", "02100"),
            ("F-2100", "02100"),
            ("75116", "75116"),
            ("20000", "20000"),
            ("97133", "97133"),
        ];
        for (entered, expected) in cases {
            assert_eq!(
                normalize_postal_code(entered, &france),
                normalized(expected, PostalStatus::Valid),
                "normalize({entered:?})"
            );
        }
    }

    #[test]
    fn normalize_french_unknown() {
        let france = CountryCode::france();
        let cases = [
            ("00000", "00000"),
            ("1909", "01909"),
            ("20300", "20300"),
            ("98000", "98000"),
            ("99999 CEDEX", "99999"),
        ];
        for (entered, expected) in cases {
            assert_eq!(
                normalize_postal_code(entered, &france),
                normalized(expected, PostalStatus::Unknown),
                "normalize({entered:?})"
            );
        }
    }

    #[test]
    fn normalize_french_invalid() {
        let france = CountryCode::france();
        let cases = [
            ("123456", "123456"),
            ("511", "511"),
            ("5110 0 0", "511000"),
            ("51100 Reims", "51100REIMS"),
            ("51100/Reims", "51100REIMS"),
            ("SW1A 1AA", "SW1A1AA"),
            ("F", "F"),
            ("F-", "F"),
            ("CEDEX", "CEDEX"),
            ("51%00", "5100"),
            ("51_00", "5100"),
            ("5110'0", "51100"),
            ("5é100", "5100"),
            ("??", ""),
        ];
        for (entered, expected) in cases {
            assert_eq!(
                normalize_postal_code(entered, &france),
                normalized(expected, PostalStatus::Invalid),
                "normalize({entered:?})"
            );
        }
    }

    #[test]
    fn normalize_empty() {
        for country_code in ["FRA", "GBR"] {
            for entered in ["", "   ", "-", " . ", "\t"] {
                assert_eq!(
                    normalize_postal_code(entered, &country(country_code)),
                    normalized("", PostalStatus::Empty),
                    "normalize({entered:?}) for {country_code}"
                );
            }
        }
    }

    #[test]
    fn normalize_other_countries() {
        let cases = [
            ("GBR", "sw1a 1aa", "SW1A1AA", PostalStatus::NotChecked),
            ("GBR", "SW1A-1AA", "SW1A1AA", PostalStatus::NotChecked),
            ("BEL", "1000", "1000", PostalStatus::NotChecked),
            ("CHE", "CH-1200", "1200", PostalStatus::NotChecked),
            ("DEU", "45600", "45600", PostalStatus::NotChecked),
            ("BRA", "29000-000", "29000000", PostalStatus::NotChecked),
            ("USA", "60610", "60610", PostalStatus::NotChecked),
            ("MCO", "98000", "98000", PostalStatus::NotChecked),
            ("CAN", "h3z 2y7", "H3Z2Y7", PostalStatus::NotChecked),
            ("NLD", "1012 AB", "1012AB", PostalStatus::NotChecked),
            ("DEU", "F-45600", "F45600", PostalStatus::NotChecked),
            ("POL", "00/950", "00950", PostalStatus::NotChecked),
            ("BEL", "1000 CEDEX", "1000", PostalStatus::NotChecked),
            ("ESP", "Ñ", "", PostalStatus::Invalid),
        ];
        for (country_code, entered, expected, status) in cases {
            assert_eq!(
                normalize_postal_code(entered, &country(country_code)),
                normalized(expected, status),
                "normalize({entered:?}) for {country_code}"
            );
        }
    }

    #[test]
    fn normalize_strips_own_country_marker() {
        let cases = [
            ("LUX", "L-1234", "1234"),
            ("LUX", "l 1234", "1234"),
            ("LUX", "L1234", "1234"),
            ("LUX", "LU-1234", "1234"),
            ("LUX", "LUX-1234", "1234"),
            ("BEL", "B-1000", "1000"),
            ("BEL", "BE-1000 CEDEX", "1000"),
            ("DEU", "D-10115", "10115"),
            ("DEU", "DE-10115", "10115"),
            ("CHE", "CH-1200", "1200"),
            ("CHE", "CH 1200", "1200"),
            ("ITA", "I-00100", "00100"),
            ("ESP", "E-28001", "28001"),
            ("AUT", "A-1010", "1010"),
            ("NLD", "NL-1012 AB", "1012AB"),
            ("PRT", "P-1000-001", "1000001"),
            ("FIN", "FIN-00100", "00100"),
            ("FIN", "SF-00100", "00100"),
            ("MCO", "MC-98000", "98000"),
            ("LIE", "FL-9490", "9490"),
        ];
        for (country_code, entered, expected) in cases {
            assert_eq!(
                normalize_postal_code(entered, &country(country_code)),
                normalized(expected, PostalStatus::NotChecked),
                "normalize({entered:?}) for {country_code}"
            );
        }
    }

    #[test]
    fn normalize_keeps_other_markers() {
        let cases = [
            // A marker of another country is not this address's marker.
            ("DEU", "L-1234", "L1234"),
            ("AUT", "D-45600", "D45600"),
            ("CHE", "F-1200", "F1200"),
            // A marker must be followed by a digit.
            ("LUX", "L-", "L"),
            ("LUX", "LX-1234", "LX1234"),
            ("NLD", "NLA1", "NLA1"),
            // Countries without a listed marker keep their letters.
            ("GBR", "GB-SW1A 1AA", "GBSW1A1AA"),
            ("JEY", "JE2 3AB", "JE23AB"),
        ];
        for (country_code, entered, expected) in cases {
            assert_eq!(
                normalize_postal_code(entered, &country(country_code)).value,
                expected,
                "normalize({entered:?}) for {country_code}"
            );
        }
    }

    #[test]
    fn foreign_markers_are_listed_longest_first() {
        for (country_code, markers) in FOREIGN_POSTAL_MARKERS {
            assert!(
                crate::reference::country_by_alpha3(country_code).is_some(),
                "{country_code} is in the table"
            );
            for (position, marker) in markers.iter().enumerate() {
                for later in &markers[position + 1..] {
                    assert!(
                        !later.starts_with(marker),
                        "{country_code}: {marker} comes before {later}"
                    );
                }
            }
        }
    }

    #[test]
    fn migrations_repeat_foreign_markers() {
        let migrations = [
            include_str!("../../migrations/sqlite/0005_overseas_and_postal_markers.sql"),
            include_str!("../../migrations/postgres/0005_overseas_and_postal_markers.sql"),
        ];
        for sql in migrations {
            for (country_code, markers) in FOREIGN_POSTAL_MARKERS {
                for marker in *markers {
                    let row = format!("('{country_code}', '{marker}')");
                    assert!(sql.contains(&row), "migration lists {row}");
                }
            }
        }
    }

    #[test]
    fn normalize_overseas_checked() {
        let cases = [
            ("GLP", "97100", "97100", PostalStatus::Valid),
            ("BLM", "97133", "97133", PostalStatus::Valid),
            ("REU", "97 400", "97400", PostalStatus::Valid),
            ("NCL", "98800", "98800", PostalStatus::Valid),
            ("GLP", "97999", "97999", PostalStatus::Unknown),
            ("GLP", "971", "971", PostalStatus::Invalid),
        ];
        for (country_code, entered, expected, status) in cases {
            assert_eq!(
                normalize_postal_code(entered, &country(country_code)),
                normalized(expected, status),
                "normalize({entered:?}) for {country_code}"
            );
        }
    }

    #[test]
    fn normalized_values_are_ascii() {
        let inputs = [
            "51100",
            "2100",
            "F-51100 CEDEX",
            "5é100",
            "51%00",
            "ÀÉ 12",
            "sw1a 1aa",
            "£$€",
            "51100\u{202f}",
            "ß1",
        ];
        for country_code in ["FRA", "GBR"] {
            for entered in inputs {
                let result = normalize_postal_code(entered, &country(country_code));
                assert!(
                    result
                        .value
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                    "normalize({entered:?}) for {country_code} gave {:?}",
                    result.value
                );
            }
        }
    }

    #[test]
    fn postal_status_names_round_trip() {
        let all = [
            PostalStatus::Empty,
            PostalStatus::Valid,
            PostalStatus::Unknown,
            PostalStatus::Invalid,
            PostalStatus::NotChecked,
        ];
        for status in all {
            assert_eq!(PostalStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(PostalStatus::NotChecked.as_str(), "not_checked");
        assert_eq!(PostalStatus::parse("Valid"), None);
    }

    #[test]
    fn field_splits_and_merges() {
        let france = CountryCode::france();
        let cases: &[(&str, &[&str])] = &[
            ("51", &["51"]),
            ("51;02", &["02", "51"]),
            ("51, 02", &["02", "51"]),
            ("51,02;08", &["02", "08", "51"]),
            ("51;;02;", &["02", "51"]),
            (" ; 51 ; ", &["51"]),
            ("51 1", &["511"]),
            ("51-1", &["511"]),
            ("51;511", &["51"]),
            ("511;51", &["51"]),
            ("51100;511;5", &["5"]),
            ("51;51;51", &["51"]),
            ("510;511;51", &["51"]),
            ("51;52", &["51", "52"]),
            ("5;51;6", &["5", "6"]),
            ("02100", &["02100"]),
            ("1;10;100;2", &["1", "2"]),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_postal_field(input, &france),
                Ok(prefixes(expected)),
                "parse_postal_field({input:?})"
            );
        }
    }

    #[test]
    fn full_width_digits_read_as_ascii() {
        let france = CountryCode::france();
        assert_eq!(normalize_postal_code("５１１００", &france).value, "51100");
        assert_eq!(normalize_postal_code("２Ａ００４", &france).value, "2A004");
        assert_eq!(
            parse_postal_field("５１；０２", &france),
            Err(PostalFieldError::InvalidPrefix("51;02".into()))
        );
        assert_eq!(
            parse_postal_field("５１;０２", &france),
            Ok(prefixes(&["02", "51"]))
        );
    }

    #[test]
    fn departements_separated_by_spaces_are_refused() {
        let france = CountryCode::france();
        assert_eq!(
            parse_postal_field("51 02", &france)
                .unwrap_err()
                .to_string(),
            "code postal : « 51 02 » contient une espace ; séparez les codes par « ; » \
             (« 51;02 »), ou écrivez un seul code sans espace (« 5102 »)"
        );
        for input in ["75 13 2a", "51;02 2B", "971 972"] {
            assert!(
                matches!(
                    parse_postal_field(input, &france),
                    Err(PostalFieldError::SpaceInside { .. })
                ),
                "{input}"
            );
        }
        assert_eq!(
            parse_postal_field("2A 2B", &france)
                .unwrap_err()
                .to_string(),
            "code postal : « 2A 2B » contient une espace ; séparez les codes par « ; » (« 2A;2B »)",
            "no single code to propose"
        );
        assert_eq!(
            parse_postal_field("51100 51200 02100", &france)
                .unwrap_err()
                .to_string(),
            "code postal : « 51100 51200 02100 » contient une espace ; séparez les codes par « ; » (« 51100;51200;02100 »)",
            "a pasted column"
        );
        assert_eq!(
            parse_postal_field("51 02 08", &france)
                .unwrap_err()
                .to_string(),
            "code postal : « 51 02 08 » contient une espace ; séparez les codes par « ; » (« 51;02;08 »)",
            "510208 could not be one code"
        );
        // A code or prefix written with a space after its département.
        assert_eq!(
            parse_postal_field("51 100;51 1", &france),
            Ok(prefixes(&["511"]))
        );
    }

    #[test]
    fn departement_names_get_their_code() {
        let france = CountryCode::france();

        assert_eq!(
            parse_postal_field("Marne", &france)
                .unwrap_err()
                .to_string(),
            "code postal : « Marne » n'est pas un préfixe de code postal français ; vouliez-vous écrire « 51 » ? Un préfixe français ne compte que des chiffres, ou 2A et 2B pour la Corse"
        );
        for (typed, code) in [
            ("côtes d’armor", "22"),
            ("CORSE-DU-SUD", "2A"),
            ("La Réunion", "974"),
            // Without the article, and a start only one name has.
            ("Réunion", "974"),
            ("la Marne", "51"),
            ("Seine-Saint", "93"),
        ] {
            assert_eq!(
                parse_postal_field(typed, &france),
                Err(PostalFieldError::NotFrenchPrefixGuessed {
                    part: typed.to_string(),
                    guess: code.to_string(),
                }),
                "{typed}"
            );
        }
    }

    #[test]
    fn non_code_names_ask_for_digits() {
        let france = CountryCode::france();
        let message = |typed: &str| parse_postal_field(typed, &france).unwrap_err().to_string();

        // A start several names share, and accented words, get the message
        // that asks for digits rather than for « chiffres et lettres ».
        assert!(message("Haute").contains("utilisez uniquement des chiffres (51"));
        assert!(message("Réunionn").contains("utilisez uniquement des chiffres (51"));
        assert_eq!(
            parse_postal_field("Polynésie", &france),
            Err(PostalFieldError::OwnCountryTerritory {
                prefix: "987".to_string(),
                territory: "Polynésie française",
                country: "PYF",
                chosen: "FRA".to_string(),
            })
        );
    }

    #[test]
    fn ranges_get_their_start_or_their_list() {
        let france = CountryCode::france();
        let message = |typed: &str| parse_postal_field(typed, &france).unwrap_err().to_string();

        assert_eq!(
            message("51000 à 51999"),
            "code postal : « 51000 à 51999 » : une plage de codes s'écrit par le début commun de ses codes (« 51 » pour toute la plage)"
        );
        assert_eq!(
            message("51000-51999"),
            "code postal : « 51000-51999 » : une plage de codes s'écrit par le début commun de ses codes (« 51 » pour toute la plage)"
        );
        assert!(
            message("51100 à 51200").contains("« 51 » prendrait aussi des codes hors de la plage"),
            "{}",
            message("51100 à 51200")
        );
        assert_eq!(
            message("51 à 53"),
            "code postal : « 51 à 53 » : pour une suite de départements, écrivez-les tous, séparés par « ; » (« 51;52;53 »)"
        );
        assert!(message("51-53").starts_with("code postal : dans « 51-53 », le tiret"));
        assert!(
            message("971 à 974").ends_with("(« 971;972;973;974 »)"),
            "{}",
            message("971 à 974")
        );
    }

    #[test]
    fn departement_without_postal_code_not_proposed() {
        let france = CountryCode::france();

        let rejected = parse_postal_field("Terres australes et antarctiques françaises", &france);

        assert!(
            !matches!(
                rejected,
                Err(PostalFieldError::NotFrenchPrefixGuessed { .. })
            ),
            "{rejected:?}"
        );
    }

    #[test]
    fn overseas_codes_of_saint_barthelemy_explained() {
        let france = CountryCode::france();

        let message = parse_postal_field("97700", &france)
            .unwrap_err()
            .to_string();

        assert!(
            message.ends_with(
                "ils commencent par 01 à 95, ou outre-mer par 971 à 976 et 986 à 988 (Saint-Barthélemy et Saint-Martin, 977 et 978, ont des codes en 971)"
            ),
            "{message}"
        );
    }

    #[test]
    fn departements_joined_by_hyphens_rejected() {
        let france = CountryCode::france();

        assert_eq!(
            parse_postal_field("51-02", &france)
                .unwrap_err()
                .to_string(),
            "code postal : dans « 51-02 », le tiret ne sépare pas les codes ; séparez-les par « ; » (« 51;02 »), et pour une suite de départements, écrivez-les tous (« 51;52;53 »)"
        );
        for input in ["51 - 02", "2A-2B", "971-972"] {
            assert!(
                matches!(
                    parse_postal_field(input, &france),
                    Err(PostalFieldError::HyphenInside { .. })
                ),
                "{input}"
            );
        }
        // A hyphen inside one code, or at an end, stays dropped.
        assert!(parse_postal_field("2-B", &france).is_ok());
        assert_eq!(
            parse_postal_field("2-B", &france),
            parse_postal_field("2B", &france)
        );
        assert_eq!(
            parse_postal_field("-51;51-", &france),
            Ok(prefixes(&["51"]))
        );
        assert_eq!(
            parse_postal_field("51-100", &france),
            Ok(prefixes(&["51100"]))
        );
    }

    #[test]
    fn field_many_codes() {
        let input: Vec<String> = (1..=95).map(|n| format!("{n:02}")).collect();
        let parsed = parse_postal_field(&input.join(";"), &CountryCode::france());
        match parsed {
            Ok(PostalSelection::Prefixes(list)) => assert_eq!(list.len(), 95),
            other => panic!("95 départements parse, got {other:?}"),
        }
    }

    #[test]
    fn field_drops_own_country_marker() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("LUX", "L-1", &["1"]),
            ("LUX", "L1234", &["1234"]),
            ("LUX", "1", &["1"]),
            ("DEU", "L-1", &["L1"]),
            ("BEL", "B-1000;1", &["1"]),
        ];
        for (alpha3, input, expected) in cases {
            assert_eq!(
                parse_postal_field(input, &country(alpha3)),
                Ok(prefixes(expected)),
                "parse_postal_field({input:?}) in {alpha3}"
            );
        }
    }

    #[test]
    fn field_corsica_expanded() {
        let france = CountryCode::france();
        let cases: &[(&str, &[&str])] = &[
            ("2A", &["200", "201"]),
            ("2a", &["200", "201"]),
            ("2 A", &["200", "201"]),
            ("2B", &["202", "206"]),
            ("2A;2B", &["200", "201", "202", "206"]),
            ("20", &["20"]),
            ("20;2A", &["20"]),
            ("2B;51", &["202", "206", "51"]),
            ("2A;200", &["200", "201"]),
            ("2A;20000", &["200", "201"]),
            ("977", &["97133"]),
            ("51\t02", &["02", "51"]),
            ("51100\n02100\r\n75001\n", &["02100", "51100", "75001"]),
            ("978", &["97150"]),
            ("971;977", &["971"]),
            ("974", &["974"]),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_postal_field(input, &france),
                Ok(prefixes(expected)),
                "parse_postal_field({input:?})"
            );
        }
    }

    #[test]
    fn field_other_country_letters() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("GBR", "sw1a; ec", &["EC", "SW1A"]),
            ("GBR", "SW;SW1", &["SW"]),
            ("GBR", "2A", &["2A"]),
            ("NLD", "1012 ab", &["1012AB"]),
            ("BEL", "1000;10", &["10"]),
            ("DEU", "123456789", &["123456789"]),
        ];
        for (country_code, input, expected) in cases {
            assert_eq!(
                parse_postal_field(input, &country(country_code)),
                Ok(prefixes(expected)),
                "parse_postal_field({input:?}) for {country_code}"
            );
        }
    }

    #[test]
    fn field_star_alone() {
        for input in ["*", " * ", "*;", ";*;", "*;*"] {
            assert_eq!(
                parse_postal_field(input, &CountryCode::france()),
                Ok(PostalSelection::All),
                "parse_postal_field({input:?})"
            );
        }
    }

    #[test]
    fn prefixes_no_french_code_starts_with_are_rejected() {
        let france = CountryCode::france();
        for (input, head) in [
            ("99", "99"),
            ("96", "96"),
            ("00", "00"),
            ("999", "99"),
            ("980", "980"),
            ("98000", "980"),
            ("984", "984"),
        ] {
            assert_eq!(
                parse_postal_field(input, &france),
                Err(PostalFieldError::NoFrenchCode {
                    typed: input.to_string(),
                    head: head.to_string()
                }),
                "{input}"
            );
        }
        for input in ["9", "98", "97", "01", "95", "20", "757", "97405", "98799"] {
            assert!(parse_postal_field(input, &france).is_ok(), "{input}");
        }
        let belgium = CountryCode::parse("BEL").unwrap().unwrap();
        assert!(parse_postal_field("99", &belgium).is_ok());
    }

    #[test]
    fn pacific_codes_are_stored_under_their_country() {
        let france = CountryCode::france();
        for (postal_norm, expected) in [
            ("98610", "WLF"),
            ("98714", "PYF"),
            ("98800", "NCL"),
            ("98799", "FRA"),
            ("97400", "FRA"),
            ("51100", "FRA"),
            ("", "FRA"),
        ] {
            assert_eq!(
                stored_country(france.clone(), postal_norm).as_str(),
                expected,
                "{postal_norm}"
            );
        }
        let belgium = CountryCode::parse("BEL").unwrap().unwrap();
        assert_eq!(stored_country(belgium, "98714").as_str(), "BEL");
    }

    #[test]
    fn pacific_codes_need_their_country() {
        let france = CountryCode::france();
        for (input, territory, country) in [
            ("986", "Wallis-et-Futuna", "WLF"),
            ("51;98714", "Polynésie française", "PYF"),
            ("988", "Nouvelle-Calédonie", "NCL"),
        ] {
            let error = parse_region_postal_field(input, &france).unwrap_err();
            let PostalFieldError::OwnCountryTerritory {
                territory: named,
                country: expected,
                ..
            } = &error
            else {
                panic!("parse_region_postal_field({input:?}) gave {error:?}");
            };
            assert_eq!(*named, territory);
            assert_eq!(*expected, country);
            assert!(error.to_string().contains("plutôt que FRA"), "{error}");
        }

        let caledonia = CountryCode::parse("NCL").unwrap().unwrap();
        assert!(parse_region_postal_field("988", &caledonia).is_ok());
        assert!(parse_region_postal_field("98", &france).is_ok());
        assert!(parse_region_postal_field("989", &france).is_ok());
        assert!(
            parse_postal_field("988", &france).is_ok(),
            "the contact filter may search every country"
        );
    }

    #[test]
    fn field_rejections() {
        let france = CountryCode::france();
        let invalid = |part: &str| PostalFieldError::InvalidPrefix(part.to_string());
        let cases = [
            ("", PostalFieldError::Empty),
            ("   ", PostalFieldError::Empty),
            (";", PostalFieldError::Empty),
            (" ; , ;", PostalFieldError::Empty),
            ("*;51", PostalFieldError::AllWithOthers),
            ("51, *", PostalFieldError::AllWithOthers),
            ("5*", invalid("5*")),
            ("5_", invalid("5_")),
            ("51;5_", invalid("5_")),
            ("5%", invalid("5%")),
            ("%", invalid("%")),
            ("51'", invalid("51'")),
            ("-", invalid("-")),
            ("51.1", invalid("51.1")),
            ("5é", invalid("5é")),
            ("51/02", invalid("51/02")),
            (
                "12345678901",
                PostalFieldError::TooLong("12345678901".to_string()),
            ),
            (
                "Reims",
                PostalFieldError::NotFrenchPrefix("Reims".to_string()),
            ),
            ("2C", PostalFieldError::NotFrenchPrefix("2C".to_string())),
            (
                "F-51100",
                PostalFieldError::NotFrenchPrefixGuessed {
                    part: "F-51100".to_string(),
                    guess: "51100".to_string(),
                },
            ),
            (
                "5l",
                PostalFieldError::NotFrenchPrefixGuessed {
                    part: "5l".to_string(),
                    guess: "51".to_string(),
                },
            ),
            (
                "O2",
                PostalFieldError::NotFrenchPrefixGuessed {
                    part: "O2".to_string(),
                    guess: "02".to_string(),
                },
            ),
            (
                "511000",
                PostalFieldError::TooLongForFrance("511000".to_string()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_postal_field(input, &france),
                Err(expected),
                "parse_postal_field({input:?})"
            );
        }

        let britain = country("GBR");
        assert_eq!(
            parse_postal_field("SW1A 1AA 12345", &britain),
            Err(PostalFieldError::TooLong("SW1A 1AA 12345".to_string()))
        );
        assert_eq!(
            parse_postal_field("SW_", &britain),
            Err(PostalFieldError::InvalidPrefix("SW_".to_string()))
        );
    }

    #[test]
    fn every_invalid_part_is_reported() {
        let error = parse_postal_field("5l;51;zz", &CountryCode::france()).unwrap_err();
        assert_eq!(
            error,
            PostalFieldError::Several(vec![
                (
                    "5l".into(),
                    PostalFieldError::NotFrenchPrefixGuessed {
                        part: "5l".into(),
                        guess: "51".into()
                    }
                ),
                ("zz".into(), PostalFieldError::NotFrenchPrefix("zz".into())),
            ])
        );
        assert_eq!(
            error.to_string(),
            "code postal : 2 codes à corriger. « 5l » n'est pas un préfixe de code postal \
             français ; vouliez-vous écrire « 51 » ? Un préfixe français ne compte que des \
             chiffres, ou 2A et 2B pour la Corse. « zz » n'est pas un préfixe de code postal \
             français ; utilisez uniquement des chiffres (51, 511…), ou 2A et 2B pour la Corse."
        );

        let unquoted = parse_postal_field("00100;00200", &CountryCode::france())
            .unwrap_err()
            .to_string();
        assert_eq!(
            unquoted,
            "code postal : 2 codes à corriger. « 00100 » : aucun code postal français ne \
             commence par « 00 », ni donc par « 00100 » ; ils commencent par 01 à 95, ou \
             outre-mer par 971 à 976 et 986 à 988 (Saint-Barthélemy et Saint-Martin, 977 et \
             978, ont des codes en 971). « 00200 » : aucun code postal français ne commence \
             par « 00 », ni donc par « 00200 » ; ils commencent par 01 à 95, ou outre-mer par \
             971 à 976 et 986 à 988 (Saint-Barthélemy et Saint-Martin, 977 et 978, ont des \
             codes en 971)."
        );

        let many = parse_postal_field("a_;b_;c_;d_;e_;f_;g_", &CountryCode::france())
            .unwrap_err()
            .to_string();
        assert!(
            many.starts_with("code postal : 7 codes à corriger."),
            "{many}"
        );
        assert_eq!(
            many.matches("n'est pas un préfixe valide").count(),
            5,
            "{many}"
        );
        assert!(many.ends_with(" … et 2 autres codes à corriger."), "{many}");
    }

    #[test]
    fn field_error_messages() {
        let cases = [
            (
                PostalFieldError::Empty,
                "code postal : indiquez au moins un code, ou * pour tous",
            ),
            (
                PostalFieldError::InvalidPrefix("5_".to_string()),
                "code postal : « 5_ » n'est pas un préfixe valide ; utilisez uniquement des chiffres et des lettres, séparés par « ; »",
            ),
            (
                PostalFieldError::AllWithOthers,
                "code postal : « * » (tous les codes) ne peut pas être combiné avec d'autres codes ; indiquez soit * seul, soit une liste de codes",
            ),
            (
                PostalFieldError::TooLong("12345678901".to_string()),
                "code postal : « 12345678901 » est trop long ; un préfixe compte au plus 10 caractères",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn selection_display_round_trips() {
        let france = CountryCode::france();
        for input in ["*", "02;51", "200;201;51", "75"] {
            let selection = parse_postal_field(input, &france);
            assert_eq!(
                selection.as_ref().map(ToString::to_string).as_deref(),
                Ok(input),
                "display of {input:?}"
            );
        }
    }

    #[test]
    fn prefix_new_validates() {
        let cases = [
            ("51", true),
            ("2A", true),
            ("SW1A1AA", true),
            ("1234567890", true),
            ("12345678901", false),
            ("", false),
            ("2a", false),
            ("5_", false),
            ("5 1", false),
            ("é", false),
        ];
        for (value, expected) in cases {
            assert_eq!(
                PostalPrefix::new(value).is_some(),
                expected,
                "new({value:?})"
            );
        }
    }

    #[test]
    fn upper_bound_increments_last_byte() {
        let cases = [
            ("51", "52"),
            ("5", "6"),
            ("519", "51:"),
            ("9", ":"),
            ("2A", "2B"),
            ("SWZ", "SW["),
            ("02100", "02101"),
        ];
        for (prefix, expected) in cases {
            let prefix = PostalPrefix(prefix.to_string());
            assert_eq!(prefix.upper_bound(), expected, "upper_bound({prefix:?})");
        }
    }

    #[test]
    fn byte_range_selects_prefix_matches() {
        // Every code that normalisation can store, around the boundaries.
        let codes = [
            "", "0", "5", "50999", "51", "51000", "51100", "5119", "51199", "511", "51199Z", "519",
            "51900", "51999", "51A", "51Z", "52", "52000", "52100", "5A", "6", "9", "99999", "A",
            "SW1A1AA", "Z", "ZZ",
        ];
        let prefixes = ["5", "51", "511", "519", "51Z", "9", "SW", "Z", "52100"];
        for prefix in prefixes {
            let prefix = PostalPrefix(prefix.to_string());
            let upper = prefix.upper_bound();
            for code in codes {
                let in_range = code >= prefix.as_str() && code < upper.as_str();
                assert_eq!(
                    in_range,
                    code.starts_with(prefix.as_str()),
                    "range [{prefix}, {upper}) on {code:?}"
                );
                assert_eq!(
                    prefix.matches(code),
                    in_range,
                    "matches({code:?}) for {prefix}"
                );
            }
        }
    }

    #[test]
    fn byte_range_on_postal_list() {
        // The range of 51 selects exactly the La Poste codes starting with 51.
        let prefix = PostalPrefix("51".to_string());
        let upper = prefix.upper_bound();
        for commune in reference::communes() {
            let code = commune.postal_code;
            assert_eq!(
                code >= "51" && code < upper.as_str(),
                code.starts_with("51"),
                "{code}"
            );
        }
    }

    #[test]
    fn selection_matches_codes() {
        let france = CountryCode::france();
        let marne_aisne = parse_postal_field("51;02", &france);
        let corse_sud = parse_postal_field("2A", &france);
        let all = parse_postal_field("*", &france);
        let cases = [
            (&marne_aisne, "51100", true),
            (&marne_aisne, "02100", true),
            (&marne_aisne, "52100", false),
            (&marne_aisne, "", false),
            (&corse_sud, "20000", true),
            (&corse_sud, "20100", true),
            (&corse_sud, "20200", false),
            (&all, "", true),
            (&all, "SW1A1AA", true),
        ];
        for (selection, code, expected) in cases {
            let selection = selection.as_ref().expect("the field parses");
            assert_eq!(selection.matches(code), expected, "{selection} on {code:?}");
        }
    }

    #[test]
    fn departement_from_postal_code() {
        let cases = [
            ("51100", Some("51")),
            ("02100", Some("02")),
            ("01000", Some("01")),
            ("75116", Some("75")),
            ("20000", Some("2A")),
            ("20100", Some("2A")),
            ("20199", Some("2A")),
            ("20200", Some("2B")),
            ("20600", Some("2B")),
            ("20700", None),
            ("97100", Some("971")),
            ("97133", Some("971")),
            ("97400", Some("974")),
            ("97500", Some("975")),
            ("98800", Some("988")),
            ("96000", Some("96")),
            ("5110", None),
            ("511000", None),
            ("", None),
            ("2A000", None),
            ("SW1A1", None),
        ];
        for (code, expected) in cases {
            assert_eq!(
                departement_code(code).as_deref(),
                expected,
                "departement_code({code:?})"
            );
        }
    }

    #[test]
    fn departement_of_every_listed_code() {
        // Each La Poste code maps to a listed département. In 26 rows of the
        // 2026 list, that is not the commune's own département: the code
        // belongs to a neighbour (`52100` for two communes of Marne), or to
        // Guadeloupe and Polynésie (`97133`, `97150`, `98799`).
        let mut crossing = Vec::new();
        for commune in reference::communes() {
            let code = departement_code(commune.postal_code);
            let found = code.as_deref().and_then(reference::departement);
            assert!(found.is_some(), "{} gives {code:?}", commune.postal_code);
            if code.as_deref() != Some(commune.departement_code) {
                crossing.push(commune.postal_code);
            }
        }
        assert_eq!(crossing.len(), 26, "crossing codes: {crossing:?}");
        for code in ["52100", "94390", "97133", "97150", "98799"] {
            assert!(crossing.contains(&code), "{code} crosses");
        }
    }
}

#[cfg(test)]
mod quoting_tests {
    use super::*;

    #[test]
    fn long_bad_part_is_shortened_in_message() {
        let long = "x%".repeat(100);

        let error = parse_postal_field(&long, &CountryCode::france()).unwrap_err();

        let message = error.to_string();
        assert!(message.contains("x%x%x%x%x%x%x%x%x%x%…"), "{message}");
        assert!(message.chars().count() < 200, "{message}");
    }
}
