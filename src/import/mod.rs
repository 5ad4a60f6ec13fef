//! Reading contact files as French users have them.
//!
//! A file is CSV with `;`, `,` or tab separators, in UTF-8 (with or without
//! BOM), UTF-16 with BOM or Windows-1252, with a header line in French or
//! English, possibly after an Excel `sep=;` line. Rows are
//! streamed: each one becomes a `ContactInput` or a `RowRejection` naming its
//! line, its column and the reason in French.

mod decode;
mod headers;
mod row;
mod stream;
mod utf16;

use serde::Serialize;

use crate::domain::contact::ContactInput;
use crate::domain::country::CountryCode;

pub(crate) use decode::{declared_separator, guess_legacy_encoding};
pub use headers::{Column, EXPORT_HEADERS, Field, field_for_header};
pub use row::{MAX_VALUE_CHARS, check_characters, stored_postal_code};
pub use stream::{ContactRows, read_contacts};

/// Settings of one import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Country of a filled address whose country column is empty.
    pub default_country: CountryCode,
}

/// One row read from the file: a valid contact or the reason it was rejected.
pub type RowOutcome = Result<ParsedRow, RowRejection>;

/// A valid contact and the line where its record starts (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRow {
    pub line: u64,
    pub contact: ContactInput,
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowRejection {
    /// Line where the record starts, the header being line 1.
    pub line: u64,
    /// Header of the faulty column as written in the file, or empty when the
    /// reason concerns the whole row, and then left out of the JSON.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub column: String,
    /// Reason in French, with the value at fault and how to fix it.
    pub reason: String,
}

/// A problem that stops the reading of the whole file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("le fichier est vide : la première ligne doit contenir les en-têtes de colonnes")]
    Empty,

    #[error(
        "le fichier n'est pas du texte CSV : sa première ligne contient des caractères de \
         contrôle, comme un classeur Excel (.xlsx), un PDF ou une archive. Dans le tableur, \
         enregistrez-le au format « CSV UTF-8 » ou « CSV (point-virgule) », puis importez ce \
         fichier-là"
    )]
    NotText,

    #[error(
        "aucun en-tête de colonne reconnu en première ligne ({}). Nommez les colonnes comme \
         l'export de Relais : {} ; les noms usuels des CRM et des tableurs sont aussi reconnus \
         (CP, Zip, Email, Last name, Raison sociale…)",
        describe_found_headers(found),
        EXPORT_HEADERS.join(", ")
    )]
    NoKnownHeader { found: Vec<String> },

    #[error(
        "les colonnes « {first} » et « {second} » désignent toutes deux le champ {} : \
         gardez-en une seule",
        field.label_fr()
    )]
    DuplicateColumn {
        field: Field,
        first: String,
        second: String,
    },

    #[error(
        "fins de ligne non prises en charge (retour chariot seul, format Mac OS classique) : \
         enregistrez le fichier en CSV avec des fins de ligne Windows ou Unix"
    )]
    LoneCarriageReturn,

    #[error(
        "ligne {line} : guillemet ouvert jamais fermé, la valeur court jusqu'à la fin du fichier : \
         fermez le guillemet, ou doublez-le (\"\") s'il fait partie de la valeur"
    )]
    UnclosedQuote { line: u64 },

    #[error("ligne {line} : CSV illisible ({message})")]
    Csv { line: u64, message: String },

    #[error("lecture du fichier impossible : {}", crate::french::io_reason(.0))]
    Io(#[from] std::io::Error),
}

impl ImportError {
    /// Converts an error of the CSV reader met at `line`.
    fn from_csv(error: csv::Error, line: u64) -> ImportError {
        let message = error.to_string();
        match error.into_kind() {
            csv::ErrorKind::Io(io_error) => ImportError::Io(io_error),
            _ => ImportError::Csv { line, message },
        }
    }
}

/// Headers named by the message of a file whose headers are all unknown,
/// and the characters shown of each: a first line of data can be long.
const LISTED_HEADERS: usize = 12;
const HEADER_EXCERPT_CHARS: usize = 40;

/// Lists the headers found in the file for a message, skipping empty ones.
fn describe_found_headers(headers: &[String]) -> String {
    let filled: Vec<&String> = headers.iter().filter(|header| !header.is_empty()).collect();
    if filled.is_empty() {
        return "toutes les cellules sont vides".to_string();
    }
    let mut quoted: Vec<String> = filled
        .iter()
        .take(LISTED_HEADERS)
        .map(|header| {
            let mut excerpt: String = header.chars().take(HEADER_EXCERPT_CHARS).collect();
            if header.chars().count() > HEADER_EXCERPT_CHARS {
                excerpt.push('…');
            }
            format!("« {excerpt} »")
        })
        .collect();
    if filled.len() > LISTED_HEADERS {
        quoted.push(crate::french::plural(
            (filled.len() - LISTED_HEADERS) as u64,
            "autre",
            "autres",
        ));
    }
    format!("trouvés : {}", quoted.join(", "))
}
