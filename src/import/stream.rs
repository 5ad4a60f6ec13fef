//! Streaming reader: from the raw bytes of a file to one outcome per row.

use std::io::{self, Chain, Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::{ByteRecord, ReaderBuilder, Terminator};
use encoding_rs::{Encoding, WINDOWS_1252};

use crate::domain::country::CountryCode;

use super::decode::{
    UTF8_BOM, declared_separator, decode_field, decode_field_as, find_header_line,
    guess_legacy_encoding, sniff_separator, strip_formula_guard, unwrap_excel_text,
};
use super::headers::{Column, resolve_columns};
use super::row::parse_row;
use super::utf16::SourceReader;
use super::{ImportError, ImportOptions, RowOutcome, RowRejection};

/// Size of each read while looking for the header line.
const READ_CHUNK_BYTES: usize = 8 * 1024;

/// Bytes read at most to find the end of the header line. A longer header
/// line has its separator sniffed on these bytes only.
const HEADER_SCAN_LIMIT_BYTES: usize = 64 * 1024;

/// Appended after the file so that every record, the last one included,
/// ends with a line feed. The start line of a record is then its end line
/// minus the line feeds it contains, minus one.
const FINAL_LINE_FEED: &[u8] = b"\n";

/// Input of the CSV reader: the header bytes already read, the rest of the
/// file, then `FINAL_LINE_FEED`.
type CsvInput<R> = Chain<Chain<Cursor<Vec<u8>>, CountingReader<SourceReader<R>>>, &'static [u8]>;

/// Wraps the file to record how many bytes it delivered and how it ended.
struct CountingReader<R> {
    inner: R,
    bytes_read: u64,
    last_byte: Option<u8>,
    at_eof: bool,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.bytes_read += count as u64;
        if count > 0 {
            self.last_byte = Some(buffer[count - 1]);
        } else if !buffer.is_empty() {
            self.at_eof = true;
        }
        Ok(count)
    }
}

/// Rows of a contact file, read one at a time so that memory stays flat
/// whatever the file size.
///
/// A problem met in the middle of the file (read error, quote never
/// closed) ends the iteration with a last `RowRejection` carrying its
/// message. `error` then returns the problem, so that the caller can abandon
/// the import instead of keeping part of the file.
///
/// NOTE: a quote never closed makes one value of the rest of the file, so
/// memory grows with the file in that case, until the error is reported.
pub struct ContactRows<R> {
    reader: csv::Reader<CsvInput<R>>,
    columns: Vec<Column>,
    default_country: CountryCode,
    record: ByteRecord,
    values: Vec<String>,
    /// Bytes before the header line, not passed to the CSV reader: the BOM
    /// and blank lines.
    skipped_bytes: u64,
    /// Line feeds among the skipped bytes, added to the CSV reader's lines.
    skipped_lines: u64,
    /// File bytes read, for a UTF-16 file: the CSV reader counts the bytes
    /// converted to UTF-8 instead.
    raw_bytes_read: Option<Arc<AtomicU64>>,
    /// The 8-bit encoding of fields that are not UTF-8, chosen on the
    /// first line that has such bytes, header included, and kept for the
    /// whole file.
    legacy: Option<&'static Encoding>,
    error: Option<ImportError>,
    finished: bool,
}

/// Opens a contact file: reads its header line, detects the separator and
/// maps the columns to contact fields.
///
/// Fails when the file is empty, has no recognised header, fills a field
/// from two columns, uses lone `\r` line endings, or cannot be read.
pub fn read_contacts<R: Read>(
    reader: R,
    options: &ImportOptions,
) -> Result<ContactRows<R>, ImportError> {
    let (reader, raw_bytes_read) = SourceReader::open(reader)?;
    let mut source = CountingReader {
        inner: reader,
        bytes_read: 0,
        last_byte: None,
        at_eof: false,
    };

    // `content_start` skips the BOM, then the `sep=` line Excel writes
    // before the header to declare the separator.
    let mut buffer = Vec::new();
    let mut content_start = None;
    let mut declared = None;
    let header_line = loop {
        let start = content_start.unwrap_or_else(|| {
            if buffer.starts_with(UTF8_BOM) {
                UTF8_BOM.len()
            } else {
                0
            }
        });
        let scan_complete = source.at_eof || buffer.len() >= HEADER_SCAN_LIMIT_BYTES;
        let Some(line) = find_header_line(&buffer[start..], scan_complete) else {
            read_chunk(&mut source, &mut buffer)?;
            continue;
        };
        if declared.is_none()
            && let Some(separator) =
                declared_separator(&buffer[start + line.start..start + line.end])
        {
            declared = Some(separator);
            content_start = Some(start + line.end);
            continue;
        }
        content_start = Some(start);
        break line;
    };

    let content_start = content_start.unwrap_or_default();
    let content = &buffer[content_start..];
    if source.at_eof && header_line.start == content.len() {
        return Err(ImportError::Empty);
    }
    if header_line.ends_with_lone_cr {
        return Err(ImportError::LoneCarriageReturn);
    }
    let separator =
        declared.unwrap_or_else(|| sniff_separator(&content[header_line.start..header_line.end]));

    let skipped = content_start + header_line.start;
    let skipped_lines = buffer[..skipped]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count() as u64;
    buffer.drain(..skipped);

    // Only `\n` ends a record, so that every record consumes its line feed
    // and start lines can be computed. A `\r` before it stays at the end of
    // the last value, where trimming removes it.
    let input = Cursor::new(buffer).chain(source).chain(FINAL_LINE_FEED);
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator)
        .terminator(Terminator::Any(b'\n'))
        .from_reader(input);

    let mut record = ByteRecord::new();
    let header_found = reader
        .read_byte_record(&mut record)
        .map_err(|error| ImportError::from_csv(error, skipped_lines + 1))?;
    if !header_found {
        return Err(ImportError::Empty);
    }
    let legacy = std::str::from_utf8(record.as_slice())
        .is_err()
        .then(|| guess_legacy_encoding(record.as_slice()));
    let headers = record
        .iter()
        .map(|field| {
            decode_field_as(field, legacy.unwrap_or(WINDOWS_1252))
                .trim()
                .to_string()
        })
        .collect();
    let columns = resolve_columns(headers)?;

    Ok(ContactRows {
        reader,
        columns,
        default_country: options.default_country.clone(),
        record,
        values: Vec::new(),
        skipped_bytes: skipped as u64,
        skipped_lines,
        raw_bytes_read,
        legacy,
        error: None,
        finished: false,
    })
}

/// Appends up to `READ_CHUNK_BYTES` from the source to the buffer.
fn read_chunk<R: Read>(source: &mut CountingReader<R>, buffer: &mut Vec<u8>) -> io::Result<()> {
    let filled = buffer.len();
    buffer.resize(filled + READ_CHUNK_BYTES, 0);
    loop {
        match source.read(&mut buffer[filled..]) {
            Ok(count) => {
                buffer.truncate(filled + count);
                return Ok(());
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                buffer.truncate(filled);
                return Err(error);
            }
        }
    }
}

impl<R: Read> ContactRows<R> {
    /// Columns of the file in order, with the field each one fills.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Bytes of the file consumed by the rows returned so far, BOM included,
    /// for a progress bar. It reaches the file size after the last row.
    pub fn bytes_read(&self) -> u64 {
        // NOTE: for a UTF-16 file this runs up to one read buffer ahead of
        // the rows returned.
        if let Some(raw_bytes_read) = &self.raw_bytes_read {
            return raw_bytes_read.load(Ordering::Relaxed);
        }
        let consumed = self.skipped_bytes + self.reader.position().byte();
        // The position counts the appended final line feed, which the file lacks.
        consumed.min(self.source().bytes_read)
    }

    /// Problem that ended the iteration before the end of the file, if any.
    pub fn error(&self) -> Option<&ImportError> {
        self.error.as_ref()
    }

    /// Consumes the reader and returns the problem `error` reports.
    pub fn into_error(self) -> Option<ImportError> {
        self.error
    }

    fn source(&self) -> &CountingReader<SourceReader<R>> {
        self.reader.get_ref().get_ref().0.get_ref().1
    }

    /// Tells whether the record just read ran to the end of the input inside
    /// quotes, swallowing the final line feed that was appended.
    ///
    /// The CSV reader gives no sign of this, so it is inferred: the record
    /// ends exactly at the end of the input, its last value ends with that
    /// line feed, and the file does not end with a closing quote.
    /// NOTE: a file ending with an escaped quote inside an unclosed quote
    /// (`"abc""`) is not detected, and its last record is one line off.
    fn record_runs_past_end(&self) -> bool {
        let source = self.source();
        let input_len = source.bytes_read - self.skipped_bytes + FINAL_LINE_FEED.len() as u64;
        source.at_eof
            && self.reader.position().byte() == input_len
            && self
                .record
                .iter()
                .next_back()
                .is_some_and(|value| value.ends_with(b"\n"))
            && source.last_byte != Some(b'"')
    }

    /// Line of the file where the record just read starts.
    fn record_start_line(&self, runs_past_end: bool) -> u64 {
        let line_feeds_inside: u64 = self
            .record
            .iter()
            .map(|value| value.iter().filter(|&&byte| byte == b'\n').count() as u64)
            .sum();
        let terminator = if runs_past_end { 0 } else { 1 };
        let end_line = self.reader.position().line();
        self.skipped_lines + end_line.saturating_sub(line_feeds_inside + terminator)
    }

    /// Ends the iteration on a file-level error and returns the rejection
    /// that reports it in the stream.
    fn fail(&mut self, error: ImportError, line: u64) -> RowRejection {
        let rejection = RowRejection {
            line,
            column: String::new(),
            reason: error.to_string(),
        };
        self.error = Some(error);
        self.finished = true;
        rejection
    }
}

impl<R: Read> Iterator for ContactRows<R> {
    type Item = RowOutcome;

    fn next(&mut self) -> Option<RowOutcome> {
        while !self.finished {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.finished = true;
                    return None;
                }
                Err(error) => {
                    let line = self.skipped_lines + self.reader.position().line();
                    let error = ImportError::from_csv(error, line);
                    return Some(Err(self.fail(error, line)));
                }
            }

            let runs_past_end = self.record_runs_past_end();
            let line = self.record_start_line(runs_past_end);
            if runs_past_end {
                return Some(Err(self.fail(ImportError::UnclosedQuote { line }, line)));
            }

            self.values.clear();
            let clean =
                |text: &str| strip_formula_guard(unwrap_excel_text(text.trim())).to_string();
            // Most records are valid UTF-8 as a whole, and checking a record
            // once costs less than checking each field. A field of such a
            // record is valid unless it starts or ends inside a character,
            // and then `get` returns `None`.
            match std::str::from_utf8(self.record.as_slice()) {
                Ok(whole) => {
                    let record = &self.record;
                    let values = (0..record.len()).map(|index| {
                        let range = record.range(index).unwrap_or_default();
                        match whole.get(range) {
                            Some(text) => clean(text),
                            None => clean(&decode_field(&record[index])),
                        }
                    });
                    self.values.extend(values);
                }
                Err(_) => {
                    let record = &self.record;
                    let legacy = *self
                        .legacy
                        .get_or_insert_with(|| guess_legacy_encoding(record.as_slice()));
                    let values = record
                        .iter()
                        .map(|field| clean(&decode_field_as(field, legacy)));
                    self.values.extend(values);
                }
            }
            if let Some(outcome) =
                parse_row(line, &mut self.values, &self.columns, &self.default_country)
            {
                return Some(outcome);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use encoding_rs::MACINTOSH;

    use super::*;
    use crate::domain::contact::ContactInput;
    use crate::import::Field;

    fn options() -> ImportOptions {
        ImportOptions {
            default_country: CountryCode::france(),
        }
    }

    fn open(bytes: &[u8]) -> ContactRows<&[u8]> {
        match read_contacts(bytes, &options()) {
            Ok(rows) => rows,
            Err(error) => panic!("cannot open: {error}"),
        }
    }

    fn open_error(bytes: &[u8]) -> ImportError {
        match read_contacts(bytes, &options()) {
            Ok(rows) => panic!("opened, columns {:?}", rows.columns()),
            Err(error) => error,
        }
    }

    fn outcomes(bytes: &[u8]) -> Vec<RowOutcome> {
        open(bytes).collect()
    }

    fn contacts(bytes: &[u8]) -> Vec<ContactInput> {
        outcomes(bytes)
            .into_iter()
            .map(|outcome| match outcome {
                Ok(parsed) => parsed.contact,
                Err(rejection) => panic!("rejected: {rejection:?}"),
            })
            .collect()
    }

    fn lines(outcomes: &[RowOutcome]) -> Vec<u64> {
        outcomes
            .iter()
            .map(|outcome| match outcome {
                Ok(parsed) => parsed.line,
                Err(rejection) => rejection.line,
            })
            .collect()
    }

    /// Delivers its bytes a few at a time, like a slow pipe.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let count = self.step.min(buffer.len()).min(self.bytes.len());
            buffer[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    /// Generates the same data row forever after a header.
    struct EndlessRows {
        pending: Vec<u8>,
        rows_made: u64,
    }

    impl Read for EndlessRows {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() {
                self.rows_made += 1;
                self.pending = format!("Dupont{};Jean\n", self.rows_made).into_bytes();
            }
            let count = buffer.len().min(self.pending.len());
            buffer[..count].copy_from_slice(&self.pending[..count]);
            self.pending.drain(..count);
            Ok(count)
        }
    }

    /// Returns its bytes, then fails.
    struct FailingAfter<'a> {
        bytes: &'a [u8],
    }

    impl Read for FailingAfter<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.bytes.is_empty() {
                return Err(io::Error::other("disque débranché"));
            }
            let count = buffer.len().min(self.bytes.len());
            buffer[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    const ACCENTED_FILE: &str = "Nom;Prénom;Société;Ville\n\
                                 Martin;Hélène;\"Dupont; Fils\";Orléans\n\
                                 Lefèvre;Élodie;Cœur & Cie;Besançon\n";

    #[test]
    fn inline_utf8_file_parses() {
        let rows = contacts(ACCENTED_FILE.as_bytes());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].last_name, "Martin");
        assert_eq!(rows[0].first_name, "Hélène");
        assert_eq!(rows[0].company, "Dupont; Fils");
        assert_eq!(rows[0].pro.city, "Orléans");
        assert_eq!(rows[1].first_name, "Élodie");
        assert_eq!(rows[1].company, "Cœur & Cie");
    }

    #[test]
    fn mac_roman_file_reads_as_utf8() {
        let (mac_bytes, _, unmappable) = MACINTOSH.encode(ACCENTED_FILE);
        assert!(!unmappable);
        // The same text with English headers, so that the first accented
        // bytes come in a row.
        let english = ACCENTED_FILE.replacen(
            "Nom;Prénom;Société;Ville",
            "Last name;First name;Company;City",
            1,
        );
        let (mac_rows_only, _, _) = MACINTOSH.encode(&english);

        let from_mac = contacts(&mac_bytes);
        let from_rows_only = contacts(&mac_rows_only);

        assert_eq!(from_mac, contacts(ACCENTED_FILE.as_bytes()));
        assert_eq!(from_mac[1].first_name, "Élodie");
        assert_eq!(from_mac[1].pro.city, "Besançon");
        assert_eq!(from_rows_only[0].first_name, "Hélène");
        assert_eq!(from_rows_only[1].company, "Cœur & Cie");
    }

    #[test]
    fn windows_1252_matches_utf8_with_bom() {
        let (windows_bytes, _, unmappable) = WINDOWS_1252.encode(ACCENTED_FILE);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&windows_bytes).is_err());
        let mut bom_bytes = UTF8_BOM.to_vec();
        bom_bytes.extend_from_slice(ACCENTED_FILE.as_bytes());

        let from_windows = contacts(&windows_bytes);
        let from_bom = contacts(&bom_bytes);
        assert_eq!(from_windows, from_bom);
        assert_eq!(from_windows[0].first_name, "Hélène");
        assert_eq!(from_windows[0].company, "Dupont; Fils");
        assert_eq!(from_windows[1].first_name, "Élodie");
        assert_eq!(from_windows[1].company, "Cœur & Cie");
    }

    #[test]
    fn split_character_reads_as_windows_1252() {
        // The record `Dupont\xC3;\xA9lodie` is not UTF-8, but its fields
        // put together are (`\xC3\xA9` is « é »): each field is decoded
        // alone, as Windows-1252, as if the record had been checked field
        // by field.
        let mut bytes = "Nom;Prénom\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"Dupont\xC3;\xA9lodie\n");
        bytes.extend_from_slice("Martin;Hélène\n".as_bytes());
        let rows = contacts(&bytes);
        assert_eq!(rows[0].last_name, "DupontÃ");
        assert_eq!(rows[0].first_name, "©lodie");
        assert_eq!(rows[1].first_name, "Hélène");
    }

    #[test]
    fn bom_stripped_from_first_header() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice("Nom;Prénom\nMartin;Hélène\n".as_bytes());
        let rows = open(&bytes);
        assert_eq!(rows.columns()[0].header, "Nom");
        assert_eq!(rows.columns()[0].field, Some(Field::LastName));
    }

    #[test]
    fn bom_and_header_read_in_tiny_pieces() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice("Nom,Prénom\r\nMartin,Hélène\r\n".as_bytes());
        let source = Trickle {
            bytes: &bytes,
            step: 1,
        };
        let rows = read_contacts(source, &options()).unwrap();
        assert_eq!(rows.columns()[0].header, "Nom");
        let outcomes: Vec<RowOutcome> = rows.collect();
        let Ok(parsed) = &outcomes[0] else {
            panic!("{outcomes:?}");
        };
        assert_eq!(parsed.contact.first_name, "Hélène");
        assert_eq!(parsed.line, 2);
    }

    #[test]
    fn tab_separated_file() {
        let rows =
            contacts("Nom\tPrénom\tSociété\nMartin\tHélène\tDupont, Fils; et Cie\n".as_bytes());
        assert_eq!(rows[0].last_name, "Martin");
        assert_eq!(rows[0].company, "Dupont, Fils; et Cie");
    }

    #[test]
    fn comma_separated_with_quotes() {
        let file = "last_name,first_name,company,commercial_owner\n\
                    Martin,Hélène,\"Dupont, Fils\",aeinstein\n\
                    \"Le \"\"Grand\"\"\",Paul,\"A; B\",\n";
        let rows = contacts(file.as_bytes());
        assert_eq!(rows[0].company, "Dupont, Fils");
        assert_eq!(rows[0].commercial_owner.as_deref(), Some("aeinstein"));
        assert_eq!(rows[1].last_name, "Le \"Grand\"");
        assert_eq!(rows[1].company, "A; B");
        assert_eq!(rows[1].commercial_owner, None);
    }

    #[test]
    fn french_headers_varied_case() {
        let file = "PRÉNOM;nom;Société;code postal pro;VILLE PRO;Pays Pro\n\
                    Hélène;Martin;Dupont;75001;Paris;France\n";
        let rows = open(file.as_bytes());
        let fields: Vec<Option<Field>> = rows.columns().iter().map(|column| column.field).collect();
        assert_eq!(
            fields,
            [
                Some(Field::FirstName),
                Some(Field::LastName),
                Some(Field::Company),
                Some(Field::ProPostalCode),
                Some(Field::ProCity),
                Some(Field::ProCountry),
            ]
        );
        let contacts: Vec<ContactInput> = rows.map(|outcome| outcome.unwrap().contact).collect();
        assert_eq!(contacts[0].first_name, "Hélène");
        assert_eq!(contacts[0].pro.postal_code, "75001");
        assert_eq!(contacts[0].pro.country, Some(CountryCode::france()));
    }

    #[test]
    fn unknown_country_rejects_only_its_row() {
        let file = "Nom;Ville;Pays\n\
                    Martin;Lyon;France\n\
                    Durand;Nulle part;Atlantide\n\
                    Petit;Bruxelles;Belgique\n";
        let outcomes = outcomes(file.as_bytes());
        assert_eq!(outcomes.len(), 3);
        assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
        assert!(outcomes[2].is_ok(), "{:?}", outcomes[2]);
        let Err(rejection) = &outcomes[1] else {
            panic!("{:?}", outcomes[1]);
        };
        assert_eq!(rejection.line, 3);
        assert_eq!(rejection.column, "Pays");
        assert!(
            rejection.reason.contains("« Atlantide »"),
            "{}",
            rejection.reason
        );
    }

    #[test]
    fn line_numbers_follow_physical_lines() {
        let file = "Nom;Adresse\n\
                    Martin;\"1 rue A\nBâtiment B\"\n\
                    Durand;2 rue C\n\
                    \n\
                    Petit;\"3 rue D\r\n\r\nEscalier E\"\n\
                    Leroy;4 rue F";
        let outcomes = outcomes(file.as_bytes());
        assert_eq!(lines(&outcomes), [2, 4, 6, 9]);
        let Ok(first) = &outcomes[0] else {
            panic!("{outcomes:?}");
        };
        assert_eq!(first.contact.pro.line1, "1 rue A\nBâtiment B");
    }

    #[test]
    fn line_numbers_with_crlf() {
        let file = "Nom;Prénom\r\nMartin;Hélène\r\n\r\nDurand;\"Jean\r\nPaul\"\r\nPetit;Léa\r\n";
        let outcomes = outcomes(file.as_bytes());
        assert_eq!(lines(&outcomes), [2, 4, 6]);
        let names: Vec<String> = outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap().contact.first_name)
            .collect();
        assert_eq!(names, ["Hélène", "Jean\r\nPaul", "Léa"]);
    }

    #[test]
    fn line_numbers_after_leading_blank_lines() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(b"\r\n\nNom\nMartin\nDurand\n");
        let outcomes = outcomes(&bytes);
        assert_eq!(lines(&outcomes), [4, 5]);
    }

    #[test]
    fn extra_fields_rejected_with_line() {
        let file = "Nom;Prénom\nMartin;Hélène\nDupont;Fils;Jean\nPetit;Léa\n";
        let outcomes = outcomes(file.as_bytes());
        assert_eq!(outcomes.len(), 3);
        let Err(rejection) = &outcomes[1] else {
            panic!("{outcomes:?}");
        };
        assert_eq!(rejection.line, 3);
        assert_eq!(rejection.column, "");
        assert!(
            rejection.reason.starts_with("3 champs au lieu de 2"),
            "{}",
            rejection.reason
        );
        assert!(outcomes[2].is_ok());
    }

    #[test]
    fn short_and_truncated_rows_rejected_with_line() {
        let file = "Identifiant externe;Nom;Code postal;Ville;Responsable commercial\n\
                    T1;Dupont;51100;Reims;JD\n\
                    T2;Durand;51100\n\
                    T3;Martin;51100;Reims;JD\n\
                    T4;Petit;511";
        let outcomes = outcomes(file.as_bytes());
        assert_eq!(lines(&outcomes), [2, 3, 4, 5]);
        assert!(outcomes[0].is_ok());
        assert!(outcomes[2].is_ok());
        for (index, found) in [(1, 3), (3, 3)] {
            let Err(rejection) = &outcomes[index] else {
                panic!("row {index} accepted: {outcomes:?}");
            };
            assert!(
                rejection
                    .reason
                    .starts_with(&format!("{found} champs au lieu de 5")),
                "{}",
                rejection.reason
            );
        }
    }

    #[test]
    fn excel_sep_line_skipped() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice("sep=,\r\nNom,Société;bis\r\nMartin,Dupont; Fils\r\n".as_bytes());
        let rows = open(&bytes);
        let headers: Vec<&str> = rows.columns().iter().map(|c| c.header.as_str()).collect();
        assert_eq!(headers, ["Nom", "Société;bis"]);

        let outcomes: Vec<RowOutcome> = rows.collect();
        assert_eq!(lines(&outcomes), [3]);
        let Ok(parsed) = &outcomes[0] else {
            panic!("{outcomes:?}");
        };
        assert_eq!(parsed.contact.last_name, "Martin");
    }

    #[test]
    fn sep_line_alone_is_empty_file() {
        assert!(matches!(open_error(b"sep=;\r\n"), ImportError::Empty));
    }

    #[test]
    fn utf16_excel_unicode_text_parses() {
        let text = "Nom\tPrénom\tCode postal\r\nLefèvre\tÉlodie\t01000\r\nCœur\tLéa\t51100\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }

        let mut rows = open(&bytes);
        let outcomes: Vec<RowOutcome> = rows.by_ref().collect();

        assert_eq!(lines(&outcomes), [2, 3]);
        let contacts: Vec<&ContactInput> = outcomes
            .iter()
            .map(|outcome| &outcome.as_ref().unwrap().contact)
            .collect();
        assert_eq!(contacts[0].last_name, "Lefèvre");
        assert_eq!(contacts[0].first_name, "Élodie");
        assert_eq!(contacts[0].pro.postal_code, "01000");
        assert_eq!(contacts[1].last_name, "Cœur");
        assert_eq!(rows.bytes_read(), bytes.len() as u64);
    }

    #[test]
    fn excel_text_formula_cells_read_as_text() {
        let file = "Nom;Code postal;Identifiant externe\n\
                    Martin;=\"01000\";\"=\"\"007\"\"\"\n";
        let rows = contacts(file.as_bytes());
        assert_eq!(rows[0].pro.postal_code, "01000");
        assert_eq!(rows[0].external_id.as_deref(), Some("007"));
    }

    #[test]
    fn blank_rows_skipped() {
        let file = "Nom;Prénom;Société\nMartin;Hélène;\n;;\n  ; ;\n\n;;;;\n";
        let outcomes = outcomes(file.as_bytes());
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].is_ok());
    }

    #[test]
    fn values_trimmed() {
        let rows = contacts("Nom;Prénom\n  Martin ;\u{a0}Hélène\t\n".as_bytes());
        assert_eq!(rows[0].last_name, "Martin");
        assert_eq!(rows[0].first_name, "Hélène");
    }

    #[test]
    fn unknown_headers_listed_as_none() {
        let rows = open("Nom;Notes;Prénom\nMartin;x;Hélène\n".as_bytes());
        let columns = rows.columns();
        assert_eq!(columns[1].header, "Notes");
        assert_eq!(columns[1].field, None);
        assert_eq!(columns[2].field, Some(Field::FirstName));
    }

    #[test]
    fn single_column_file() {
        let rows = contacts("Société\nDupont, Fils\n\"Martin; SA\"\n".as_bytes());
        assert_eq!(rows[0].company, "Dupont, Fils");
        assert_eq!(rows[1].company, "Martin; SA");
    }

    #[test]
    fn empty_files_rejected() {
        for bytes in [&b""[..], UTF8_BOM, b"\n\r\n\n", b"  \n"] {
            let error = open_error(bytes);
            assert!(matches!(error, ImportError::Empty), "{bytes:?}: {error:?}");
        }
        let error = open_error(b"");
        assert_eq!(
            error.to_string(),
            "le fichier est vide : la première ligne doit contenir les en-têtes de colonnes"
        );
    }

    #[test]
    fn header_only_file_has_no_rows() {
        let rows = open(b"Nom;Prenom");
        assert_eq!(rows.count(), 0);
    }

    #[test]
    fn unknown_headers_rejected() {
        let error = open_error(b"Foo;Bar\n1;2\n");
        let message = error.to_string();
        assert!(message.contains("« Foo », « Bar »"), "{message}");
        assert!(message.contains("Prénom"), "{message}");
    }

    #[test]
    fn duplicate_field_rejected() {
        let error = open_error("Nom;Ville;Ville pro\n".as_bytes());
        assert!(
            matches!(
                &error,
                ImportError::DuplicateColumn {
                    field: Field::ProCity,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "les colonnes « Ville » et « Ville pro » désignent toutes deux le champ ville pro : \
             gardez-en une seule"
        );
    }

    #[test]
    fn lone_cr_line_endings_rejected() {
        let error = open_error(b"Nom;Prenom\rMartin;Paul\r");
        assert!(
            matches!(error, ImportError::LoneCarriageReturn),
            "{error:?}"
        );
    }

    #[test]
    fn unclosed_quote_ends_with_error() {
        for file in [
            "Nom;Prénom\nMartin;Hélène\nDurand;\"Jean\nPetit;Léa\n",
            "Nom;Prénom\nMartin;Hélène\nDurand;\"Jean\nPetit;Léa",
        ] {
            let mut rows = open(file.as_bytes());
            let outcomes: Vec<RowOutcome> = rows.by_ref().collect();
            assert_eq!(outcomes.len(), 2, "{file:?}");
            assert!(outcomes[0].is_ok());
            let Err(rejection) = &outcomes[1] else {
                panic!("{outcomes:?}");
            };
            assert_eq!(rejection.line, 3, "{file:?}");
            assert!(
                rejection.reason.contains("guillemet"),
                "{}",
                rejection.reason
            );
            assert!(
                matches!(rows.error(), Some(ImportError::UnclosedQuote { line: 3 })),
                "{:?}",
                rows.error()
            );
        }
    }

    #[test]
    fn quote_closed_at_end_is_fine() {
        let mut rows = open("Nom;Adresse\nMartin;\"1 rue A\n\"".as_bytes());
        let outcome = rows.next();
        let Some(Ok(parsed)) = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(parsed.line, 2);
        assert_eq!(parsed.contact.pro.line1, "1 rue A");
        assert!(rows.next().is_none());
        assert!(rows.error().is_none());
    }

    #[test]
    fn read_error_mid_file_reported() {
        let source = FailingAfter {
            bytes: "Nom;Prénom\nMartin;Hélène\n".as_bytes(),
        };
        let mut rows = read_contacts(source, &options()).unwrap();
        let outcomes: Vec<RowOutcome> = rows.by_ref().collect();
        let last = outcomes.last().unwrap();
        let Err(rejection) = last else {
            panic!("{outcomes:?}");
        };
        assert!(
            rejection.reason.contains("disque débranché"),
            "{}",
            rejection.reason
        );
        assert!(matches!(rows.error(), Some(ImportError::Io(_))));
    }

    #[test]
    fn read_error_in_header_reported() {
        let source = FailingAfter { bytes: b"Nom;Pr" };
        let error = match read_contacts(source, &options()) {
            Ok(_) => panic!("opened"),
            Err(error) => error,
        };
        assert!(matches!(error, ImportError::Io(_)), "{error:?}");
    }

    #[test]
    fn bytes_read_reaches_file_size() {
        let mut with_bom = UTF8_BOM.to_vec();
        with_bom.extend_from_slice(b"\nNom\nMartin\nDurand\n");
        let cases: [&[u8]; 3] = [b"Nom\nMartin\nDurand\n", b"Nom\nMartin\nDurand", &with_bom];
        for bytes in cases {
            let mut rows = open(bytes);
            let mut previous = rows.bytes_read();
            while rows.next().is_some() {
                assert!(rows.bytes_read() >= previous);
                previous = rows.bytes_read();
            }
            assert_eq!(rows.bytes_read(), bytes.len() as u64, "{bytes:?}");
        }
    }

    #[test]
    fn rows_streamed_without_reading_everything() {
        let source = EndlessRows {
            pending: b"Nom;Prenom\n".to_vec(),
            rows_made: 0,
        };
        let mut rows = read_contacts(source, &options()).unwrap();
        let first: Vec<RowOutcome> = rows.by_ref().take(3).collect();
        assert_eq!(lines(&first), [2, 3, 4]);
        assert!(rows.bytes_read() < 100, "{}", rows.bytes_read());
    }
}
