//! Text folding of the contact search, so that `elodie` finds `Élodie`,
//! `oeuvre` finds `Œuvre` and `l'oreal` finds `L’Oréal`.
//!
//! Both engines compare folded texts: SQLite calls [`fold_into`] through
//! the `relais_search_match` SQL function, and PostgreSQL runs the
//! `relais_fold` function of its migration 0004, which applies the same
//! rule in SQL. The typed text is folded here in both cases.

use unicode_normalization::UnicodeNormalization;

/// Characters that folding replaces after accents are removed, in the
/// order of the `replace` calls of the PostgreSQL function: ligatures,
/// letters with a stroke (which have no Unicode decomposition), and the
/// typographic forms of apostrophes, spaces and hyphens.
pub const FOLDED_CHARACTERS: &[(char, &str)] = &[
    ('Œ', "oe"),
    ('œ', "oe"),
    ('Æ', "ae"),
    ('æ', "ae"),
    ('ß', "ss"),
    ('ẞ', "ss"),
    ('Þ', "th"),
    ('þ', "th"),
    ('Ĳ', "ij"),
    ('ĳ', "ij"),
    ('Ø', "o"),
    ('ø', "o"),
    ('Ł', "l"),
    ('ł', "l"),
    ('Đ', "d"),
    ('đ', "d"),
    ('Ð', "d"),
    ('ð', "d"),
    ('ı', "i"),
    ('\u{2019}', "'"),
    ('\u{2018}', "'"),
    ('\u{02BC}', "'"),
    ('\u{00A0}', " "),
    ('\u{202F}', " "),
    ('\u{2010}', "-"),
    ('\u{2011}', "-"),
];

/// Combining diacritical marks, the accents that canonical decomposition
/// (NFD) separates from their base letter.
const COMBINING_MARKS: std::ops::RangeInclusive<char> = '\u{0300}'..='\u{036F}';

/// Folds a text for the contact search: decomposes it (NFD), drops the
/// combining accents, lower-cases A to Z and replaces the characters of
/// [`FOLDED_CHARACTERS`]. Other characters stay as they are.
///
/// NOTE: letters of other scripts (Greek, Cyrillic…) keep their case,
/// because the PostgreSQL function lower-cases under the "C" collation so
/// that its result does not depend on the database locale.
pub fn fold_for_search(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    fold_into(text, &mut folded);
    folded
}

/// Appends the folded form of `text` to `folded`, as [`fold_for_search`]
/// returns it, so that a caller folding many texts can reuse one buffer.
pub fn fold_into(text: &str, folded: &mut String) {
    if text.is_ascii() {
        let start = folded.len();
        folded.push_str(text);
        folded[start..].make_ascii_lowercase();
        return;
    }
    for character in text.nfd() {
        if COMBINING_MARKS.contains(&character) {
            continue;
        }
        if character.is_ascii() {
            folded.push(character.to_ascii_lowercase());
            continue;
        }
        match FOLDED_CHARACTERS
            .iter()
            .find(|(from, _)| *from == character)
        {
            Some((_, to)) => folded.push_str(to),
            None => folded.push(character),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_ignores_case_and_accents() {
        assert_eq!(fold_for_search("Élodie"), "elodie");
        assert_eq!(fold_for_search("élodie"), "elodie");
        assert_eq!(fold_for_search("ÉTIENNE"), "etienne");
        assert_eq!(fold_for_search("François"), "francois");
        assert_eq!(fold_for_search("Noël Müller"), "noel muller");
        assert_eq!(fold_for_search("Nguyễn"), "nguyen");
        assert_eq!(fold_for_search("Ștefan Țurcanu"), "stefan turcanu");
    }

    #[test]
    fn fold_spells_out_ligatures() {
        assert_eq!(fold_for_search("Œuvre"), "oeuvre");
        assert_eq!(fold_for_search("cœur"), "coeur");
        assert_eq!(fold_for_search("Lætitia"), "laetitia");
        assert_eq!(fold_for_search("Straße"), "strasse");
        assert_eq!(fold_for_search("STRAẞE"), "strasse");
        assert_eq!(fold_for_search("Þór"), "thor");
    }

    #[test]
    fn fold_replaces_stroked_letters() {
        assert_eq!(fold_for_search("Søren"), "soren");
        assert_eq!(fold_for_search("Łódź"), "lodz");
        assert_eq!(fold_for_search("Đorđe"), "dorde");
        assert_eq!(fold_for_search("Ǿ"), "o");
    }

    #[test]
    fn fold_unifies_typographic_forms() {
        assert_eq!(fold_for_search("L’Oréal"), "l'oreal");
        assert_eq!(fold_for_search("L‘Oréal"), "l'oreal");
        assert_eq!(fold_for_search("Jean\u{2011}Pierre"), "jean-pierre");
        assert_eq!(
            fold_for_search("Dupont\u{00A0}&\u{202F}Fils"),
            "dupont & fils"
        );
    }

    #[test]
    fn fold_joins_decomposed_accents() {
        assert_eq!(fold_for_search("E\u{0301}lodie"), "elodie");
        assert_eq!(
            fold_for_search("E\u{0301}lodie"),
            fold_for_search("\u{00C9}lodie")
        );
    }

    #[test]
    fn fold_keeps_like_wildcards_and_other_scripts() {
        assert_eq!(fold_for_search("100%_Bio\\"), "100%_bio\\");
        assert_eq!(fold_for_search("Ελένη Иванов"), "Ελενη Иванов");
        assert_eq!(fold_for_search(""), "");
    }

    #[test]
    fn folded_characters_are_unique_and_not_ascii() {
        for (index, (from, to)) in FOLDED_CHARACTERS.iter().enumerate() {
            assert!(!from.is_ascii(), "{from:?} is ASCII");
            assert!(to.is_ascii(), "{from:?} folds to non-ASCII {to:?}");
            assert_eq!(
                from.nfd().count(),
                1,
                "{from:?} decomposes, so it never reaches the table"
            );
            assert!(
                FOLDED_CHARACTERS[index + 1..]
                    .iter()
                    .all(|(other, _)| other != from),
                "{from:?} appears twice"
            );
        }
    }

    /// The PostgreSQL function is written by hand; this keeps its
    /// `replace` calls in step with the table.
    #[test]
    fn postgres_migration_replaces_every_folded_character() {
        let migration = include_str!("../../migrations/postgres/0004_search_fold.sql");
        for (from, to) in FOLDED_CHARACTERS {
            let call = format!(
                "U&'\\{:04X}', '{}')",
                u32::from(*from),
                to.replace('\'', "''")
            );
            assert!(
                migration.contains(&call),
                "0004_search_fold.sql lacks {call} for {from:?}"
            );
        }
        assert_eq!(
            migration.matches("U&'\\").count(),
            FOLDED_CHARACTERS.len(),
            "0004_search_fold.sql replaces characters the table does not list"
        );
    }
}
