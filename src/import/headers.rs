//! Column headers: the table of accepted names and how a header is matched.

use std::collections::HashMap;

use super::ImportError;
use crate::domain::contact::ContactPart;

/// A contact field that an import column can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// Relais's own contact number, as the export writes it, so that an
    /// export can be edited and imported back.
    ContactId,
    ExternalId,
    Civility,
    FirstName,
    LastName,
    Company,
    Email,
    Phone,
    CommercialOwner,
    TechnicalOwner,
    PersoLine1,
    PersoLine2,
    PersoPostalCode,
    PersoCity,
    PersoCountry,
    ProLine1,
    ProLine2,
    ProPostalCode,
    ProCity,
    ProCountry,
    /// The time of the contact's last change, as an export writes it.
    ModifiedAt,
}

impl Field {
    pub const ALL: [Field; 21] = [
        Field::ContactId,
        Field::ExternalId,
        Field::Civility,
        Field::FirstName,
        Field::LastName,
        Field::Company,
        Field::Email,
        Field::Phone,
        Field::CommercialOwner,
        Field::TechnicalOwner,
        Field::PersoLine1,
        Field::PersoLine2,
        Field::PersoPostalCode,
        Field::PersoCity,
        Field::PersoCountry,
        Field::ProLine1,
        Field::ProLine2,
        Field::ProPostalCode,
        Field::ProCity,
        Field::ProCountry,
        Field::ModifiedAt,
    ];

    /// French name of the field, as used in messages.
    pub fn label_fr(self) -> &'static str {
        match self {
            Field::ContactId => "n° Relais",
            Field::ExternalId => "identifiant externe",
            Field::Civility => "civilité",
            Field::FirstName => "prénom",
            Field::LastName => "nom",
            Field::Company => "société",
            Field::Email => "e-mail",
            Field::Phone => "téléphone",
            Field::CommercialOwner => "responsable commercial",
            Field::TechnicalOwner => "responsable technique",
            Field::PersoLine1 => "adresse perso",
            Field::PersoLine2 => "complément adresse perso",
            Field::PersoPostalCode => "code postal perso",
            Field::PersoCity => "ville perso",
            Field::PersoCountry => "pays perso",
            Field::ProLine1 => "adresse pro",
            Field::ProLine2 => "complément adresse pro",
            Field::ProPostalCode => "code postal pro",
            Field::ProCity => "ville pro",
            Field::ProCountry => "pays pro",
            Field::ModifiedAt => "modifié le",
        }
    }

    /// Returns the part of a contact the field fills, `None` for the keys
    /// that name the contact.
    pub fn part(self) -> Option<ContactPart> {
        Some(match self {
            Field::ContactId | Field::ExternalId | Field::ModifiedAt => return None,
            Field::Civility => ContactPart::Civility,
            Field::FirstName => ContactPart::FirstName,
            Field::LastName => ContactPart::LastName,
            Field::Company => ContactPart::Company,
            Field::Email => ContactPart::Email,
            Field::Phone => ContactPart::Phone,
            Field::CommercialOwner => ContactPart::CommercialOwner,
            Field::TechnicalOwner => ContactPart::TechnicalOwner,
            Field::PersoLine1 => ContactPart::PersoLine1,
            Field::PersoLine2 => ContactPart::PersoLine2,
            Field::PersoPostalCode => ContactPart::PersoPostalCode,
            Field::PersoCity => ContactPart::PersoCity,
            Field::PersoCountry => ContactPart::PersoCountry,
            Field::ProLine1 => ContactPart::ProLine1,
            Field::ProLine2 => ContactPart::ProLine2,
            Field::ProPostalCode => ContactPart::ProPostalCode,
            Field::ProCity => ContactPart::ProCity,
            Field::ProCountry => ContactPart::ProCountry,
        })
    }
}

/// One column of the file: its header as written (trimmed) and the field it
/// fills, `None` for a header that matches no known name and is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub header: String,
    pub field: Option<Field>,
}

/// Accepted header names, compared after `normalize_header`, so case,
/// accents, punctuation and the words personnel(le) / professionnel(le)
/// need no separate entries.
///
/// The names without a perso or pro qualifier (`Adresse`, `Code postal`,
/// `CP`, `Ville`, `Pays`, `Zip`, `City`…) fill the professional address,
/// because the usual CRM export has a single address and it is the
/// professional one.
const HEADER_NAMES: &[(&str, Field)] = &[
    // Column names of the CRM exports.
    ("source_id", Field::ExternalId),
    ("last_name", Field::LastName),
    ("first_name", Field::FirstName),
    ("company", Field::Company),
    ("perso_postal_code", Field::PersoPostalCode),
    ("perso_city", Field::PersoCity),
    ("perso_country", Field::PersoCountry),
    ("pro_postal_code", Field::ProPostalCode),
    ("pro_city", Field::ProCity),
    ("pro_country", Field::ProCountry),
    ("commercial_owner", Field::CommercialOwner),
    ("technical_owner", Field::TechnicalOwner),
    ("perso_line1", Field::PersoLine1),
    ("perso_line2", Field::PersoLine2),
    ("pro_line1", Field::ProLine1),
    ("pro_line2", Field::ProLine2),
    // Identity.
    ("N° Relais", Field::ContactId),
    ("Modifié le", Field::ModifiedAt),
    ("Date de modification", Field::ModifiedAt),
    ("updated_at", Field::ModifiedAt),
    ("No Relais", Field::ContactId),
    ("Numéro Relais", Field::ContactId),
    ("relais_id", Field::ContactId),
    ("Identifiant externe", Field::ExternalId),
    ("Réf. externe", Field::ExternalId),
    ("Référence externe", Field::ExternalId),
    ("ID", Field::ExternalId),
    ("external_id", Field::ExternalId),
    ("Civilité", Field::Civility),
    ("Civility", Field::Civility),
    ("Titre", Field::Civility),
    ("Nom", Field::LastName),
    ("Nom de famille", Field::LastName),
    ("Last name", Field::LastName),
    ("Lastname", Field::LastName),
    ("Prénom", Field::FirstName),
    ("First name", Field::FirstName),
    ("Firstname", Field::FirstName),
    ("Société", Field::Company),
    ("Entreprise", Field::Company),
    ("Raison sociale", Field::Company),
    ("Organisation", Field::Company),
    ("Organization", Field::Company),
    ("E-mail", Field::Email),
    ("Email", Field::Email),
    ("Adresse e-mail", Field::Email),
    ("Courriel", Field::Email),
    ("Mail", Field::Email),
    ("Téléphone", Field::Phone),
    ("Tél", Field::Phone),
    ("Phone", Field::Phone),
    // Owners.
    ("Responsable commercial", Field::CommercialOwner),
    ("Commercial", Field::CommercialOwner),
    ("Sales owner", Field::CommercialOwner),
    ("Salesperson", Field::CommercialOwner),
    ("Responsable technique", Field::TechnicalOwner),
    ("Technical owner", Field::TechnicalOwner),
    // Personal address.
    ("Adresse perso", Field::PersoLine1),
    ("Adresse perso 1", Field::PersoLine1),
    ("Adresse perso 2", Field::PersoLine2),
    ("Complément adresse perso", Field::PersoLine2),
    ("Complément d'adresse perso", Field::PersoLine2),
    ("Code postal perso", Field::PersoPostalCode),
    ("CP perso", Field::PersoPostalCode),
    ("Ville perso", Field::PersoCity),
    ("Pays perso", Field::PersoCountry),
    // Professional address.
    ("Adresse pro", Field::ProLine1),
    ("Adresse pro 1", Field::ProLine1),
    ("Adresse pro 2", Field::ProLine2),
    ("Complément adresse pro", Field::ProLine2),
    ("Complément d'adresse pro", Field::ProLine2),
    ("Code postal pro", Field::ProPostalCode),
    ("CP pro", Field::ProPostalCode),
    ("Ville pro", Field::ProCity),
    ("Pays pro", Field::ProCountry),
    // Unqualified address names: the professional address (see above).
    ("Adresse", Field::ProLine1),
    ("Adresse 1", Field::ProLine1),
    ("Address", Field::ProLine1),
    ("Adresse 2", Field::ProLine2),
    ("Address 2", Field::ProLine2),
    ("Complément adresse", Field::ProLine2),
    ("Complément d'adresse", Field::ProLine2),
    ("Code postal", Field::ProPostalCode),
    ("CP", Field::ProPostalCode),
    ("Postal code", Field::ProPostalCode),
    ("Zip", Field::ProPostalCode),
    ("Zip code", Field::ProPostalCode),
    ("Ville", Field::ProCity),
    ("City", Field::ProCity),
    ("Pays", Field::ProCountry),
    ("Country", Field::ProCountry),
];

/// Characters read as a word break in headers, besides whitespace.
/// Parentheses are included so that `Code postal (pro)` matches too.
const HEADER_WORD_BREAKS: &[char] = &['_', '-', '.', '\'', '(', ')'];

/// Reduces a header to its comparison key: trimmed, accents removed,
/// lowercase, word breaks collapsed to one space, and the qualifiers
/// `personnel(le)` and `professionnel(le)` shortened to `perso` and `pro`.
pub(crate) fn normalize_header(header: &str) -> String {
    let ascii = deunicode::deunicode(header.trim()).to_lowercase();
    let words = ascii
        .split(|c: char| c.is_whitespace() || HEADER_WORD_BREAKS.contains(&c))
        .filter(|word| !word.is_empty())
        .map(|word| match word {
            "personnel" | "personnelle" => "perso",
            "professionnel" | "professionnelle" => "pro",
            other => other,
        });

    let mut key = String::with_capacity(ascii.len());
    for word in words {
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(word);
    }
    key
}

/// Returns the field a header fills, if its normalised form is in the table.
pub fn field_for_header(header: &str) -> Option<Field> {
    let key = normalize_header(header);
    if key.is_empty() {
        return None;
    }
    HEADER_NAMES
        .iter()
        .find(|(name, _)| normalize_header(name) == key)
        .map(|&(_, field)| field)
}

/// Column headers of an export, in French, which the import reads back:
/// the names an error about unknown headers suggests.
pub const EXPORT_HEADERS: [&str; 21] = [
    "N° Relais",
    "Identifiant externe",
    "Civilité",
    "Prénom",
    "Nom",
    "Société",
    "E-mail",
    "Téléphone",
    "Responsable commercial",
    "Responsable technique",
    "Adresse perso",
    "Complément adresse perso",
    "Code postal perso",
    "Ville perso",
    "Pays perso",
    "Adresse pro",
    "Complément adresse pro",
    "Code postal pro",
    "Ville pro",
    "Pays pro",
    // The contact's last change: an import of the edited file leaves a
    // contact changed since alone, rather than undo that change.
    "Modifié le",
];

/// Builds the columns from the header record, already decoded and trimmed.
///
/// Fails when no header is recognised, or when two headers fill the same
/// field, because the import could not tell which value to keep.
pub(crate) fn resolve_columns(headers: Vec<String>) -> Result<Vec<Column>, ImportError> {
    // A text file's header line contains no control character other than
    // a tab or a line break typed into a cell.
    if headers.iter().any(|header| {
        header
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    }) {
        return Err(ImportError::NotText);
    }
    let mut columns = Vec::with_capacity(headers.len());
    let mut seen: HashMap<Field, usize> = HashMap::new();

    for header in headers {
        let field = field_for_header(&header);
        if let Some(field) = field {
            if let Some(&first_index) = seen.get(&field) {
                let first: &Column = &columns[first_index];
                return Err(ImportError::DuplicateColumn {
                    field,
                    first: first.header.clone(),
                    second: header,
                });
            }
            seen.insert(field, columns.len());
        }
        columns.push(Column { header, field });
    }

    if seen.is_empty() {
        let found = columns.into_iter().map(|column| column.header).collect();
        return Err(ImportError::NoKnownHeader { found });
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn normalize_header_folds_case_accents_punctuation() {
        assert_eq!(normalize_header("  PRÉNOM "), "prenom");
        assert_eq!(normalize_header("Réf. externe"), "ref externe");
        assert_eq!(normalize_header("source_id"), "source id");
        assert_eq!(normalize_header("E-mail"), "e mail");
        assert_eq!(
            normalize_header("Complément d’adresse  perso"),
            "complement d adresse perso"
        );
        assert_eq!(normalize_header("Code\tpostal (pro)"), "code postal pro");
        assert_eq!(normalize_header("Ville professionnelle"), "ville pro");
        assert_eq!(
            normalize_header("Code postal personnel"),
            "code postal perso"
        );
    }

    #[test]
    fn crm_export_headers_all_recognised() {
        let expected = [
            ("source_id", Field::ExternalId),
            ("last_name", Field::LastName),
            ("first_name", Field::FirstName),
            ("company", Field::Company),
            ("perso_postal_code", Field::PersoPostalCode),
            ("perso_city", Field::PersoCity),
            ("perso_country", Field::PersoCountry),
            ("pro_postal_code", Field::ProPostalCode),
            ("pro_city", Field::ProCity),
            ("pro_country", Field::ProCountry),
            ("commercial_owner", Field::CommercialOwner),
            ("technical_owner", Field::TechnicalOwner),
        ];
        for (header, field) in expected {
            assert_eq!(field_for_header(header), Some(field), "header {header}");
        }
    }

    #[test]
    fn french_headers_in_varied_case() {
        let expected = [
            ("PRÉNOM", Field::FirstName),
            ("prenom", Field::FirstName),
            ("code postal pro", Field::ProPostalCode),
            ("Société", Field::Company),
            ("SOCIETE", Field::Company),
            ("Réf. externe", Field::ExternalId),
            ("id", Field::ExternalId),
            ("Civilité", Field::Civility),
            ("Nom de famille", Field::LastName),
            ("Raison sociale", Field::Company),
            ("courriel", Field::Email),
            ("Tél.", Field::Phone),
            ("TELEPHONE", Field::Phone),
            ("Responsable commercial", Field::CommercialOwner),
            ("Salesperson", Field::CommercialOwner),
            ("Responsable technique", Field::TechnicalOwner),
            ("Adresse personnelle", Field::PersoLine1),
            ("Adresse perso 2", Field::PersoLine2),
            ("Complément adresse perso", Field::PersoLine2),
            ("CP perso", Field::PersoPostalCode),
            ("Ville perso", Field::PersoCity),
            ("Pays perso", Field::PersoCountry),
            ("Adresse professionnelle", Field::ProLine1),
            ("Ville professionnelle", Field::ProCity),
            ("Code postal (pro)", Field::ProPostalCode),
        ];
        for (header, field) in expected {
            assert_eq!(field_for_header(header), Some(field), "header {header}");
        }
    }

    #[test]
    fn unqualified_address_headers_fill_pro() {
        let expected = [
            ("Adresse", Field::ProLine1),
            ("Code postal", Field::ProPostalCode),
            ("CP", Field::ProPostalCode),
            ("Ville", Field::ProCity),
            ("Pays", Field::ProCountry),
            ("Country", Field::ProCountry),
            ("Postal code", Field::ProPostalCode),
            ("Zip", Field::ProPostalCode),
            ("City", Field::ProCity),
        ];
        for (header, field) in expected {
            assert_eq!(field_for_header(header), Some(field), "header {header}");
        }
    }

    #[test]
    fn unknown_and_empty_headers_match_nothing() {
        assert_eq!(field_for_header("Notes"), None);
        assert_eq!(field_for_header(""), None);
        assert_eq!(field_for_header(" - "), None);
    }

    #[test]
    fn table_names_never_conflict() {
        let mut fields_by_key: HashMap<String, Field> = HashMap::new();
        for (name, field) in HEADER_NAMES {
            let key = normalize_header(name);
            let previous = fields_by_key.insert(key.clone(), *field);
            assert!(
                previous.is_none_or(|previous| previous == *field),
                "« {name} » ({key}) maps to two fields"
            );
        }
    }

    #[test]
    fn every_field_has_a_header_name() {
        for field in Field::ALL {
            assert!(
                HEADER_NAMES.iter().any(|(_, named)| *named == field),
                "{field:?} has no header name"
            );
        }
    }

    #[test]
    fn resolve_columns_keeps_unknown_headers() {
        let columns = resolve_columns(headers(&["Nom", "Notes", "Prénom"])).unwrap();
        assert_eq!(columns.len(), 3);
        assert_eq!(columns[0].field, Some(Field::LastName));
        assert_eq!(columns[1].header, "Notes");
        assert_eq!(columns[1].field, None);
        assert_eq!(columns[2].field, Some(Field::FirstName));
    }

    #[test]
    fn resolve_columns_rejects_duplicate_field() {
        let error = resolve_columns(headers(&["Nom", "CP", "Code postal pro"])).unwrap_err();
        match &error {
            ImportError::DuplicateColumn {
                field,
                first,
                second,
            } => {
                assert_eq!(*field, Field::ProPostalCode);
                assert_eq!(first, "CP");
                assert_eq!(second, "Code postal pro");
            }
            other => panic!("unexpected error {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("« CP »"), "{message}");
        assert!(message.contains("« Code postal pro »"), "{message}");
    }

    #[test]
    fn binary_first_line_is_not_text() {
        let error = resolve_columns(headers(&["\u{7f}ELF\u{2}\u{1}\u{1}\0\0", "x"])).unwrap_err();

        assert!(matches!(error, ImportError::NotText), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("CSV UTF-8"), "{message}");
        assert!(!message.contains('\0'), "{message}");
    }

    #[test]
    fn unknown_headers_suggest_the_export_ones() {
        let error = resolve_columns(headers(&["Foo", "Bar"])).unwrap_err();

        let message = error.to_string();
        assert!(
            message.contains(
                "Nommez les colonnes comme l'export de Relais : N° Relais, Identifiant externe, \
                 Civilité,"
            ),
            "{message}"
        );
        assert!(!message.contains("source_id"), "{message}");
        let columns = resolve_columns(headers(&EXPORT_HEADERS)).unwrap();
        assert!(
            columns.iter().all(|column| column.field.is_some()),
            "{columns:?}"
        );
    }

    #[test]
    fn header_line_break_is_text() {
        let columns = resolve_columns(headers(&["Nom", "Code\npostal"])).unwrap();

        assert_eq!(columns.len(), 2);
    }

    #[test]
    fn many_unknown_headers_are_listed_short() {
        let long = "x".repeat(500);
        let mut names: Vec<&str> = vec![&long];
        names.extend(["a"; 20]);

        let message = resolve_columns(headers(&names)).unwrap_err().to_string();

        assert!(
            message.contains(&format!("« {}… »", "x".repeat(40))),
            "{message}"
        );
        assert!(message.contains("« a », 9 autres)"), "{message}");
        assert!(!message.contains(&"x".repeat(41)), "{message}");
    }

    #[test]
    fn resolve_columns_rejects_no_known_header() {
        let error = resolve_columns(headers(&["Foo", "Bar"])).unwrap_err();
        assert!(matches!(error, ImportError::NoKnownHeader { .. }));
        let message = error.to_string();
        assert!(message.contains("« Foo », « Bar »"), "{message}");
        assert!(message.contains("Prénom"), "{message}");
        assert!(message.contains("Code postal perso"), "{message}");
    }
}
