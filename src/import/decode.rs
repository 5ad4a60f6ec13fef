//! Bytes to text: BOM, header line, separator sniffing and field decoding.

use std::borrow::Cow;

use encoding_rs::{Encoding, MACINTOSH, WINDOWS_1252};

use crate::service::export::FORMULA_TRIGGERS;

pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Separators tried on the header line. On a tie the earlier one wins, and
/// `;` is also the choice for a single-column file, because it is the
/// separator French spreadsheets write.
const SEPARATORS: [u8; 3] = [b';', b'\t', b','];

/// Position of the header line in the first bytes of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderLine {
    /// Offset of its first byte, after any blank lines before it.
    pub start: usize,
    /// Offset of its line terminator, or of the end of the bytes read.
    pub end: usize,
    /// The line ends with a lone `\r` (classic Mac OS line endings).
    pub ends_with_lone_cr: bool,
}

/// Finds the first line that is not blank (only spaces, tabs and line
/// breaks), reading quoted fields as a whole so that a line break inside
/// quotes does not end it.
///
/// Returns `None` when more bytes are needed to decide, which never
/// happens once `at_eof` is true.
pub(crate) fn find_header_line(bytes: &[u8], at_eof: bool) -> Option<HeaderLine> {
    let is_blank = |byte: &u8| matches!(byte, b' ' | b'\t' | b'\r' | b'\n');
    let start = match bytes.iter().position(|byte| !is_blank(byte)) {
        Some(first_text) => bytes[..first_text]
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(0, |line_feed| line_feed + 1),
        None if at_eof => bytes.len(),
        None => return None,
    };
    let unterminated = HeaderLine {
        start,
        end: bytes.len(),
        ends_with_lone_cr: false,
    };

    let mut in_quotes = false;
    for (offset, &byte) in bytes.iter().enumerate().skip(start) {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                return Some(HeaderLine {
                    end: offset,
                    ..unterminated
                });
            }
            b'\r' if !in_quotes => {
                return match bytes.get(offset + 1) {
                    Some(&next) => Some(HeaderLine {
                        end: offset,
                        ends_with_lone_cr: next != b'\n',
                        ..unterminated
                    }),
                    None if at_eof => Some(HeaderLine {
                        end: offset,
                        ..unterminated
                    }),
                    None => None,
                };
            }
            _ => {}
        }
    }
    at_eof.then_some(unterminated)
}

/// Picks the separator that occurs most often outside quotes in the line.
pub(crate) fn sniff_separator(line: &[u8]) -> u8 {
    let mut counts = [0usize; SEPARATORS.len()];
    let mut in_quotes = false;
    for &byte in line {
        if byte == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && let Some(index) = SEPARATORS.iter().position(|&s| s == byte) {
            counts[index] += 1;
        }
    }

    let mut best = 0;
    for index in 1..SEPARATORS.len() {
        if counts[index] > counts[best] {
            best = index;
        }
    }
    SEPARATORS[best]
}

/// Decodes one field: valid UTF-8 is kept as is, anything else is read as
/// Windows-1252, the code page of plain CSV files saved by Excel on French
/// Windows.
///
/// Deciding per field keeps the reader streaming, and an ASCII field reads
/// the same in both encodings.
pub(crate) fn decode_field(bytes: &[u8]) -> Cow<'_, str> {
    decode_field_as(bytes, WINDOWS_1252)
}

/// Decodes one field: valid UTF-8 is kept as is, anything else is read in
/// `legacy`, the file's 8-bit encoding.
pub(crate) fn decode_field_as<'a>(bytes: &'a [u8], legacy: &'static Encoding) -> Cow<'a, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => legacy.decode_without_bom_handling(bytes).0,
    }
}

/// Letters of French words outside ASCII, in both cases.
const FRENCH_LETTERS: &str = "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ";

/// Signs that a name or an address never holds, which the wrong code page
/// makes of French letters: `CŽline`, `ƒLODIE`, `√`…
const IMPLAUSIBLE: &str = "ƒ‚„Žžˆ‰‹›˜†‡√∂∑∏π≈◊∆Ω∫";

/// Bytes Windows-1252 leaves undefined: text containing one was written in
/// another code page.
const UNDEFINED_IN_WINDOWS_1252: [u8; 5] = [0x81, 0x8D, 0x8F, 0x90, 0x9D];

/// Scores how much `text` reads as French: one point per accented letter,
/// two off per implausible sign, and two off per accented letter whose case
/// breaks the word's (`HÈlËne`, `LEFéVRE`).
fn french_score(text: &str) -> i64 {
    let letters: Vec<char> = text.chars().collect();
    let mut score = 0;
    for (index, &letter) in letters.iter().enumerate() {
        if IMPLAUSIBLE.contains(letter) {
            score -= 2;
            continue;
        }
        if !FRENCH_LETTERS.contains(letter) {
            continue;
        }
        score += 1;
        let before = index.checked_sub(1).and_then(|at| letters.get(at));
        let after = letters.get(index + 1);
        let lower = |neighbour: Option<&char>| neighbour.is_some_and(|c| c.is_lowercase());
        let upper = |neighbour: Option<&char>| neighbour.is_some_and(|c| c.is_uppercase());
        let broken = if letter.is_uppercase() {
            lower(before) || (upper(before) && lower(after))
        } else {
            upper(before) && upper(after)
        };
        if broken {
            score -= 2;
        }
    }
    score
}

/// Chooses the 8-bit encoding of text that is not UTF-8: Windows-1252, or
/// Mac OS Roman, which Excel for Mac writes for « CSV (Macintosh) ». The
/// two place French letters at different bytes (`é` is 0xE9 in the first
/// and 0x8E in the second, where the first has `Ž`), so the one that reads
/// better as French wins (see `french_score`). A byte that Windows-1252
/// leaves undefined decides for Mac OS Roman, and a tie for Windows-1252,
/// the common case.
pub(crate) fn guess_legacy_encoding(bytes: &[u8]) -> &'static Encoding {
    if bytes
        .iter()
        .any(|byte| UNDEFINED_IN_WINDOWS_1252.contains(byte))
    {
        return MACINTOSH;
    }
    let score = |encoding: &'static Encoding| {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        french_score(&text)
    };
    if score(MACINTOSH) > score(WINDOWS_1252) {
        MACINTOSH
    } else {
        WINDOWS_1252
    }
}

/// Returns the separator an Excel `sep=X` line declares (`sep=;`,
/// `sep=,`, or `sep=` and a tab), case and surrounding spaces ignored.
pub(crate) fn declared_separator(line: &[u8]) -> Option<u8> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let trimmed = line.trim_ascii_start();
    let (prefix, rest) = trimmed.split_at_checked(4)?;
    if !prefix.eq_ignore_ascii_case(b"sep=") {
        return None;
    }
    match rest {
        [separator] if SEPARATORS.contains(separator) => Some(*separator),
        [separator, trailing @ ..]
            if SEPARATORS.contains(separator) && trailing.iter().all(u8::is_ascii_whitespace) =>
        {
            Some(*separator)
        }
        _ => None,
    }
}

/// Reads a cell written as an Excel text formula, `="01000"`, as its text.
/// Spreadsheets write postal codes and ids that way to keep their leading
/// zeros. A formula with quotes inside is kept as it is.
pub(crate) fn unwrap_excel_text(value: &str) -> &str {
    match value
        .strip_prefix("=\"")
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(text) if !text.contains('"') => text,
        _ => value,
    }
}

/// Removes the apostrophe that the export puts before a value starting with
/// a formula trigger (`'=1+1` gives `=1+1`, `''=1` gives `'=1`), so that an
/// export reads back unchanged. Any other value, one starting with an
/// apostrophe before ordinary text (`'Tis`) included, is returned as is.
pub(crate) fn strip_formula_guard(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if rest.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS) => rest,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_line_lf_and_crlf() {
        let line = find_header_line(b"Nom;Prenom\nA;B\n", false).unwrap();
        assert_eq!(
            (line.start, line.end, line.ends_with_lone_cr),
            (0, 10, false)
        );

        let line = find_header_line(b"Nom;Prenom\r\nA;B\r\n", false).unwrap();
        assert_eq!(
            (line.start, line.end, line.ends_with_lone_cr),
            (0, 10, false)
        );
    }

    #[test]
    fn header_line_after_blank_lines() {
        let line = find_header_line(b"\r\n\nNom\n", false).unwrap();
        assert_eq!((line.start, line.end), (3, 6));
        let line = find_header_line(b" \t\r\n  Nom;\n", false).unwrap();
        assert_eq!((line.start, line.end), (4, 10));
    }

    #[test]
    fn header_line_keeps_quoted_newline() {
        let bytes = b"\"Nom\nlong\";Prenom\nA;B\n";
        let line = find_header_line(bytes, false).unwrap();
        assert_eq!(line.end, 17);
    }

    #[test]
    fn header_line_needs_more_bytes() {
        assert_eq!(find_header_line(b"Nom;Pre", false), None);
        assert_eq!(find_header_line(b"Nom;Prenom\r", false), None);
        assert_eq!(find_header_line(b"\n\n", false), None);
        assert_eq!(find_header_line(b"  \n", false), None);

        let line = find_header_line(b"Nom;Prenom", true).unwrap();
        assert_eq!((line.start, line.end), (0, 10));
        let line = find_header_line(b"\n\n", true).unwrap();
        assert_eq!((line.start, line.end), (2, 2));
    }

    #[test]
    fn header_line_detects_lone_cr() {
        let line = find_header_line(b"Nom;Prenom\rA;B\r", false).unwrap();
        assert!(line.ends_with_lone_cr);
        let line = find_header_line(b"Nom;Prenom\r", true).unwrap();
        assert!(!line.ends_with_lone_cr);
    }

    #[test]
    fn sniff_picks_most_frequent_separator() {
        assert_eq!(sniff_separator(b"a;b;c"), b';');
        assert_eq!(sniff_separator(b"a,b,c"), b',');
        assert_eq!(sniff_separator(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_separator(b"a,b;c;d"), b';');
        assert_eq!(sniff_separator(b"a;b,c,d"), b',');
    }

    #[test]
    fn sniff_ignores_quoted_separators() {
        assert_eq!(
            sniff_separator(b"\"Nom, complet\";\"Ville, pays\";CP"),
            b';'
        );
        assert_eq!(sniff_separator(b"\"a;b;c\",d"), b',');
    }

    #[test]
    fn sniff_single_column_and_ties() {
        assert_eq!(sniff_separator(b"Nom"), b';');
        assert_eq!(sniff_separator(b"a;b,c"), b';');
        assert_eq!(sniff_separator(b"a\tb,c"), b'\t');
    }

    #[test]
    fn declared_separator_lines() {
        assert_eq!(declared_separator(b"sep=;"), Some(b';'));
        assert_eq!(declared_separator(b"SEP=,\r"), Some(b','));
        assert_eq!(declared_separator(b"sep=\t"), Some(b'\t'));
        assert_eq!(declared_separator(b"sep=; "), Some(b';'));
        assert_eq!(declared_separator(b"sep=|"), None);
        assert_eq!(declared_separator(b"sep="), None);
        assert_eq!(declared_separator(b"sep=;;"), None);
        assert_eq!(declared_separator(b"Nom;Prenom"), None);
    }

    #[test]
    fn excel_text_formula_unwrapped() {
        assert_eq!(unwrap_excel_text("=\"01000\""), "01000");
        assert_eq!(unwrap_excel_text("=\"\""), "");
        assert_eq!(unwrap_excel_text("01000"), "01000");
        assert_eq!(unwrap_excel_text("=\"a\"b\""), "=\"a\"b\"");
        assert_eq!(unwrap_excel_text("=SOMME(A1)"), "=SOMME(A1)");
    }

    #[test]
    fn decode_field_utf8_and_windows_1252() {
        assert_eq!(decode_field("Hélène".as_bytes()), "Hélène");
        assert_eq!(decode_field(b"H\xE9l\xE8ne"), "Hélène");
        assert_eq!(decode_field(b"\xC9lodie \x80"), "Élodie €");
        assert_eq!(decode_field(b"plain"), "plain");
    }

    #[test]
    fn legacy_encoding_follows_french_letters() {
        let (mac, _, unmappable) = MACINTOSH.encode("Prénom;Société;Civilité");
        assert!(!unmappable);
        let (windows, _, _) = WINDOWS_1252.encode("Prénom;Société;Civilité");
        let (windows_quote, _, _) = WINDOWS_1252.encode("l’été à Reims");

        assert_eq!(guess_legacy_encoding(&mac), MACINTOSH);
        assert_eq!(decode_field_as(&mac, MACINTOSH), "Prénom;Société;Civilité");
        assert_eq!(guess_legacy_encoding(&windows), WINDOWS_1252);
        assert_eq!(guess_legacy_encoding(&windows_quote), WINDOWS_1252);
        assert_eq!(
            guess_legacy_encoding(b"M\x9Fller"),
            MACINTOSH,
            "0x9F is ü in Mac OS Roman"
        );
        assert_eq!(
            guess_legacy_encoding(b"H\x8Flne"),
            MACINTOSH,
            "0x8F is undefined in Windows-1252"
        );
        assert_eq!(guess_legacy_encoding(b"plain"), WINDOWS_1252);
        for line in [
            "LEFÈVRE;Céline;Reims",
            "LEFÈVRE;ÉLODIE",
            "GÉRARD;Michel",
            "Hélène;Noël;Zoë",
            "Müller;Gérard;Œuvre",
        ] {
            let (mac, _, _) = MACINTOSH.encode(line);
            let (windows, _, _) = WINDOWS_1252.encode(line);
            assert_eq!(
                guess_legacy_encoding(&mac),
                MACINTOSH,
                "{line} in Mac OS Roman"
            );
            assert_eq!(
                guess_legacy_encoding(&windows),
                WINDOWS_1252,
                "{line} in Windows-1252"
            );
        }
    }
}

#[cfg(test)]
mod formula_guard_tests {
    use super::strip_formula_guard;
    use crate::service::export::guard_formula;

    #[test]
    fn strip_formula_guard_removes_one_apostrophe() {
        let cases = [
            ("'=1+1", "=1+1"),
            ("'@SUM(A1)", "@SUM(A1)"),
            ("'+33 3 26 12 34 56", "+33 3 26 12 34 56"),
            ("'-2+3", "-2+3"),
            ("'\t=1", "\t=1"),
            ("''=1", "'=1"),
        ];
        for (value, expected) in cases {
            assert_eq!(strip_formula_guard(value), expected, "strip({value:?})");
        }
    }

    #[test]
    fn strip_formula_guard_keeps_other_values() {
        for value in ["", "'", "'Tis", "=1", "Dupont", "''", "'a=1"] {
            assert_eq!(strip_formula_guard(value), value, "strip({value:?})");
        }
    }

    #[test]
    fn strip_formula_guard_undoes_the_export() {
        let values = [
            "=1+1", "'=1", "''+1", "-", "@", "'Tis", "+33 6", "plain", "'", "",
        ];
        for value in values {
            let exported = guard_formula(value);
            assert_eq!(
                strip_formula_guard(&exported),
                value,
                "round trip of {value:?}"
            );
        }
    }
}
