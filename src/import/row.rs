//! Validating one data row into a `ContactInput`.

use crate::domain::contact::parse_modified_at;
use crate::domain::contact::{AddressInput, ContactInput};
use crate::domain::country::{CountryCode, OverseasTerritory};
use crate::domain::postal::{normalize_postal_code, stored_country};

use super::headers::{Column, Field};
use super::{ParsedRow, RowOutcome, RowRejection};

/// Maximum length of a value in any column, in characters. Longer values
/// are rejected rather than truncated, so no data is lost silently.
pub const MAX_VALUE_CHARS: usize = 500;

/// The text of one address as read from the row, before defaults apply.
#[derive(Default)]
struct AddressText {
    line1: String,
    line2: String,
    postal_code: String,
    city: String,
    /// Country parsed from its column, `None` when the column is empty.
    country: Option<CountryCode>,
    /// Overseas territory the column named, stored as France.
    territory: Option<&'static OverseasTerritory>,
    has_country_text: bool,
}

impl AddressText {
    /// Tells whether one of the fields is filled, which makes the address exist.
    fn is_filled(&self) -> bool {
        !self.line1.is_empty()
            || !self.line2.is_empty()
            || !self.postal_code.is_empty()
            || !self.city.is_empty()
            || self.has_country_text
    }

    fn into_address(self, default_country: &CountryCode) -> AddressInput {
        if !self.is_filled() {
            return AddressInput::default();
        }
        let country = self.country.unwrap_or_else(|| default_country.clone());
        let postal_norm = normalize_postal_code(&self.postal_code, &country).value;
        let postal_code = stored_postal_code(self.postal_code, &country, &postal_norm);
        let country = stored_country(country, &postal_norm);
        AddressInput {
            line1: self.line1,
            line2: self.line2,
            postal_code,
            postal_norm,
            city: self.city,
            country: Some(country),
            named_territory: self.territory,
        }
    }
}

/// Returns the postal code of an address as stored, which is as entered
/// with one exception. A spreadsheet drops the leading zero of `02590`,
/// so the code gets it back when La Poste lists the result, and an export
/// saved by Excel reads back unchanged. Other four-digit codes (`1080`, a Brussels code under
/// France) stay as written, for the report to show them. Countries whose
/// codes are all five digits get the zero back in both forms.
pub fn stored_postal_code(entered: String, country: &CountryCode, postal_norm: &str) -> String {
    let digits = entered.bytes().all(|b| b.is_ascii_digit());
    let lost_zero = digits
        && ((country.has_five_digit_postal_codes() && entered.len() < 5)
            || (country.uses_french_postal_codes()
                && entered.len() == 4
                && crate::reference::postal_code_exists(postal_norm)));
    if lost_zero {
        postal_norm.to_string()
    } else {
        entered
    }
}

/// Validates one row whose values are already decoded and trimmed. The
/// contact takes the values it keeps out of `values`, leaving them empty.
///
/// Returns `None` for a row whose values are all empty: spreadsheets often
/// export such rows at the end of a sheet, so they are skipped without a
/// rejection. Otherwise the first problem found is reported, checking the
/// field count, then the columns in file order, then the whole contact.
pub(crate) fn parse_row(
    line: u64,
    values: &mut [String],
    columns: &[Column],
    default_country: &CountryCode,
) -> Option<RowOutcome> {
    if values.iter().all(String::is_empty) {
        return None;
    }
    Some(
        build_contact(line, values, columns, default_country)
            .map(|contact| ParsedRow { line, contact }),
    )
}

fn build_contact(
    line: u64,
    values: &mut [String],
    columns: &[Column],
    default_country: &CountryCode,
) -> Result<ContactInput, RowRejection> {
    // A short row is rejected like a long one: a line cut off by a copy or
    // an export stopped halfway must not import with empty columns.
    if values.len() != columns.len() {
        let fix = if values.len() > columns.len() {
            "mettez entre guillemets les valeurs qui contiennent le séparateur"
        } else {
            "vérifiez les séparateurs et complétez la ligne, en gardant un séparateur \
             pour chaque colonne vide"
        };
        return Err(RowRejection {
            line,
            column: String::new(),
            reason: format!(
                "{} au lieu de {}, le nombre de colonnes de l'en-tête : {fix}",
                crate::french::plural(values.len() as u64, "champ", "champs"),
                columns.len()
            ),
        });
    }

    let mut contact = ContactInput::default();
    let mut perso = AddressText::default();
    let mut pro = AddressText::default();

    for (column, value) in columns.iter().zip(values.iter_mut()) {
        let Some(field) = column.field else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let reject = |reason: String| RowRejection {
            line,
            column: column.header.clone(),
            reason,
        };

        check_length(value).map_err(reject)?;
        check_characters(value).map_err(reject)?;
        let text = std::mem::take(value);
        match field {
            Field::ContactId => {
                let id = text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                    reject(format!(
                        "« {text} » n'est pas un numéro de contact Relais : laissez la cellule vide ou remettez le numéro exporté"
                    ))
                })?;
                contact.contact_id = Some(id);
            }
            Field::ExternalId => contact.external_id = Some(text),
            Field::ModifiedAt => {
                contact.exported_at = Some(parse_modified_at(&text).ok_or_else(|| {
                    reject(format!(
                        "« {text} » n'est pas une date de modification : gardez la valeur écrite \
                         par l'export, de la forme 2026-12-05T10:32:15.504+01:00, ou videz la cellule \
                         pour mettre le contact à jour quelles que soient ses modifications depuis \
                         l'export"
                    ))
                })?);
            }
            Field::Civility => contact.civility = text,
            Field::FirstName => contact.first_name = text,
            Field::LastName => contact.last_name = text,
            Field::Company => contact.company = text,
            Field::Email => {
                check_email(&text).map_err(reject)?;
                contact.email = text;
            }
            Field::Phone => contact.phone = text,
            Field::CommercialOwner => {
                contact.commercial_owner = owner_reference(&text).map_err(reject)?
            }
            Field::TechnicalOwner => {
                contact.technical_owner = owner_reference(&text).map_err(reject)?
            }
            Field::PersoLine1 => perso.line1 = text,
            Field::PersoLine2 => perso.line2 = text,
            Field::PersoPostalCode => perso.postal_code = text,
            Field::PersoCity => perso.city = text,
            Field::PersoCountry => {
                let (country, territory) = parse_country(&text).map_err(reject)?;
                perso.country = Some(country);
                perso.territory = territory;
                perso.has_country_text = true;
            }
            Field::ProLine1 => pro.line1 = text,
            Field::ProLine2 => pro.line2 = text,
            Field::ProPostalCode => pro.postal_code = text,
            Field::ProCity => pro.city = text,
            Field::ProCountry => {
                let (country, territory) = parse_country(&text).map_err(reject)?;
                pro.country = Some(country);
                pro.territory = territory;
                pro.has_country_text = true;
            }
        }
    }

    // A row with a key and no identity value updates the contact its key
    // names: the stored values of the identity columns the file lacks
    // stay, so it keeps a name. The import rejects such a row when its key
    // names no stored contact, as it would create a contact without one.
    // A file with all five identity columns would leave the contact none.
    let names_every_identity = [
        Field::LastName,
        Field::FirstName,
        Field::Company,
        Field::Email,
        Field::Phone,
    ]
    .iter()
    .all(|field| columns.iter().any(|column| column.field == Some(*field)));
    let keyed = contact.contact_id.is_some() || contact.external_id.is_some();
    if !contact.has_identity() && (names_every_identity || !keyed) {
        return Err(RowRejection {
            line,
            column: String::new(),
            reason: "contact sans nom, prénom, société, e-mail ni téléphone : remplissez au \
                     moins l'une de ces colonnes, ou retirez la ligne"
                .to_string(),
        });
    }

    contact.perso = perso.into_address(default_country);
    contact.pro = pro.into_address(default_country);
    Ok(contact)
}

fn check_length(value: &str) -> Result<(), String> {
    // A value has no more characters than bytes, and counting them costs a
    // pass over every value of the file.
    if value.len() <= MAX_VALUE_CHARS {
        return Ok(());
    }
    let length = value.chars().count();
    if length <= MAX_VALUE_CHARS {
        return Ok(());
    }
    let mut reason = format!(
        "valeur trop longue ({}) : {MAX_VALUE_CHARS} au maximum",
        crate::french::plural(length as u64, "caractère", "caractères")
    );
    // A value spanning lines is most often an opening quote never closed,
    // which swallows the following rows.
    if value.contains('\n') {
        reason.push_str(
            ". Elle s'étend sur plusieurs lignes : vérifiez qu'aucun guillemet n'est resté ouvert",
        );
    }
    Err(reason)
}

/// Rejects control characters other than tabs and line breaks. A NUL or
/// an escape code comes from a damaged or binary file, is invisible on
/// every screen, and PostgreSQL cannot store a NUL in text.
pub fn check_characters(value: &str) -> Result<(), String> {
    // Most values contain no byte that can start a control character: C0
    // controls and DEL are single bytes, C1 controls start with 0xC2. All
    // bytes are checked, without stopping at the first match, so that the
    // compiler compares several at once, since this runs for every value.
    let suspicious = value.bytes().fold(false, |found, byte| {
        found | (byte < 0x20) | (byte == 0x7f) | (byte == 0xc2)
    });
    if !suspicious {
        return Ok(());
    }
    let Some((position, found)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    else {
        return Ok(());
    };
    Err(format!(
        "caractère de contrôle invisible (U+{:04X}) en position {} : retirez-le de la cellule ; \
         un fichier enregistré en CSV par un tableur n'en contient pas",
        u32::from(found),
        position + 1
    ))
}

/// Accepts an address with one `@`, text on both sides and no whitespace.
fn check_email(value: &str) -> Result<(), String> {
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "adresse e-mail invalide (« {value} ») : une adresse contient un seul @, \
             avec du texte avant et après, sans espace"
        ))
    }
}

/// Reads an owner reference, which names exactly one user.
///
/// Several references joined by `;`, `,` or `/` are rejected. A stray
/// separator around a single reference (`aeinstein;`) is dropped.
fn owner_reference(value: &str) -> Result<Option<String>, String> {
    let mut references = value
        .split([';', ',', '/'])
        .map(str::trim)
        .filter(|reference| !reference.is_empty());
    let first = references.next();
    if references.next().is_some() {
        return Err(format!(
            "plusieurs responsables (« {value} ») : indiquez-en un seul"
        ));
    }
    Ok(first.map(str::to_string))
}

fn parse_country(value: &str) -> Result<(CountryCode, Option<&'static OverseasTerritory>), String> {
    match CountryCode::parse_naming_territory(value) {
        Ok(Some(parsed)) => Ok(parsed),
        // The caller skips empty values, and `parse` returns `None` only for those.
        Ok(None) | Err(_) => Err(format!(
            "pays inconnu (« {value} ») : indiquez un code ISO (FR, FRA) \
             ou le nom du pays (France, Belgique)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::headers::field_for_header;

    fn columns(headers: &[&str]) -> Vec<Column> {
        headers
            .iter()
            .map(|header| Column {
                header: header.to_string(),
                field: field_for_header(header),
            })
            .collect()
    }

    fn values(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| value.to_string()).collect()
    }

    fn parse(headers: &[&str], row: &[&str]) -> Option<RowOutcome> {
        parse_row(
            7,
            &mut values(row),
            &columns(headers),
            &CountryCode::france(),
        )
    }

    fn reject_row(headers: &[&str], row: &[&str]) -> RowRejection {
        match parse(headers, row) {
            Some(Err(rejection)) => rejection,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn accept_row(headers: &[&str], row: &[&str]) -> ContactInput {
        match parse(headers, row) {
            Some(Ok(parsed)) => {
                assert_eq!(parsed.line, 7);
                parsed.contact
            }
            other => panic!("expected a contact, got {other:?}"),
        }
    }

    #[test]
    fn blank_row_is_skipped() {
        assert_eq!(parse(&["Nom", "Notes"], &["", ""]), None);
        assert_eq!(parse(&["Nom"], &["", "", ""]), None);
    }

    #[test]
    fn row_with_only_unknown_column_is_not_blank() {
        let rejection = reject_row(&["Nom", "Notes"], &["", "à rappeler"]);
        assert_eq!(rejection.column, "");
        assert_eq!(
            rejection.reason,
            "contact sans nom, prénom, société, e-mail ni téléphone : remplissez au moins l'une de ces colonnes, ou retirez la ligne"
        );
    }

    #[test]
    fn row_with_extra_fields_rejected() {
        let rejection = reject_row(&["Nom", "Prénom"], &["Dupont", "Jean", "Fils"]);
        assert_eq!(rejection.line, 7);
        assert_eq!(rejection.column, "");
        assert!(
            rejection
                .reason
                .starts_with("3 champs au lieu de 2, le nombre de colonnes de l'en-tête : mettez"),
            "{}",
            rejection.reason
        );
    }

    #[test]
    fn short_row_rejected() {
        let rejection = reject_row(&["Nom", "Prénom", "Société"], &["Dupont", "Jean"]);
        assert_eq!(rejection.line, 7);
        assert_eq!(rejection.column, "");
        assert_eq!(
            rejection.reason,
            "2 champs au lieu de 3, le nombre de colonnes de l'en-tête : vérifiez les séparateurs \
             et complétez la ligne, en gardant un séparateur pour chaque colonne vide"
        );
        let one = reject_row(&["Nom", "Prénom", "Société"], &["Dupont,Jean"]);
        assert!(
            one.reason.starts_with("1 champ au lieu de 3,"),
            "{}",
            one.reason
        );
    }

    #[test]
    fn identity_fields_copied() {
        let contact = accept_row(
            &[
                "ID",
                "Civilité",
                "Prénom",
                "Nom",
                "Société",
                "E-mail",
                "Téléphone",
            ],
            &[
                "C-12",
                "Mme",
                "Hélène",
                "Martin",
                "Dupont et Fils",
                "h.martin@exemple.fr",
                "01 23 45 67 89",
            ],
        );
        assert_eq!(contact.external_id.as_deref(), Some("C-12"));
        assert_eq!(contact.civility, "Mme");
        assert_eq!(contact.first_name, "Hélène");
        assert_eq!(contact.last_name, "Martin");
        assert_eq!(contact.company, "Dupont et Fils");
        assert_eq!(contact.email, "h.martin@exemple.fr");
        assert_eq!(contact.phone, "01 23 45 67 89");
    }

    #[test]
    fn empty_external_id_is_none() {
        let contact = accept_row(&["ID", "Nom"], &["", "Dupont"]);
        assert_eq!(contact.external_id, None);
    }

    #[test]
    fn contact_without_identity_rejected() {
        let rejection = reject_row(&["Nom", "Civilité", "Ville"], &["", "M.", "Lyon"]);
        assert_eq!(rejection.column, "");
        assert_eq!(
            rejection.reason,
            "contact sans nom, prénom, société, e-mail ni téléphone : remplissez au moins l'une de ces colonnes, ou retirez la ligne"
        );
    }

    #[test]
    fn keyed_row_with_empty_identity_cells_may_update() {
        let update = accept_row(
            &["Identifiant externe", "Société", "Responsable commercial"],
            &["X9", "", "AE"],
        );
        let every_identity = reject_row(
            &[
                "Identifiant externe",
                "Nom",
                "Prénom",
                "Société",
                "E-mail",
                "Téléphone",
            ],
            &["X9", "", "", "", "", ""],
        );

        assert_eq!(update.external_id.as_deref(), Some("X9"));
        assert!(!update.has_identity());
        assert!(every_identity.reason.starts_with("contact sans nom"));
    }

    #[test]
    fn any_single_identity_field_suffices() {
        for header in ["Nom", "Prénom", "Société", "E-mail", "Téléphone"] {
            let value = if header == "E-mail" { "a@b.fr" } else { "x" };
            let outcome = parse(&[header, "Civilité"], &[value, "M."]);
            assert!(matches!(outcome, Some(Ok(_))), "{header}: {outcome:?}");
        }
    }

    #[test]
    fn owners_kept_as_references() {
        let contact = accept_row(
            &["Nom", "Responsable commercial", "Responsable technique"],
            &["Dupont", "aeinstein", ""],
        );
        assert_eq!(contact.commercial_owner.as_deref(), Some("aeinstein"));
        assert_eq!(contact.technical_owner, None);
    }

    #[test]
    fn several_owners_rejected() {
        let rejection = reject_row(
            &["Nom", "Responsable commercial", "technical_owner"],
            &["Dupont", "ae", "aeinstein;pcurie"],
        );
        assert_eq!(rejection.column, "technical_owner");
        assert_eq!(
            rejection.reason,
            "plusieurs responsables (« aeinstein;pcurie ») : indiquez-en un seul"
        );

        let rejection = reject_row(&["Nom", "Commercial"], &["Dupont", "AE, PC"]);
        assert_eq!(rejection.column, "Commercial");

        let rejection = reject_row(&["Nom", "Commercial"], &["Dupont", "JD / BB"]);
        assert_eq!(
            rejection.reason,
            "plusieurs responsables (« JD / BB ») : indiquez-en un seul"
        );
    }

    #[test]
    fn owner_stray_separator_dropped() {
        let contact = accept_row(&["Nom", "Commercial"], &["Dupont", "aeinstein ;"]);
        assert_eq!(contact.commercial_owner.as_deref(), Some("aeinstein"));
    }

    #[test]
    fn invalid_emails_rejected() {
        for email in [
            "dupont",
            "@exemple.fr",
            "dupont@",
            "a@b@c.fr",
            "jean dupont@exemple.fr",
        ] {
            let rejection = reject_row(&["Nom", "Courriel"], &["Dupont", email]);
            assert_eq!(rejection.column, "Courriel", "{email}");
            assert!(
                rejection
                    .reason
                    .starts_with(&format!("adresse e-mail invalide (« {email} »)")),
                "{}",
                rejection.reason
            );
        }
    }

    #[test]
    fn control_character_rejected_with_its_position() {
        let rejection = reject_row(&["Nom", "Ville"], &["Nul\0Byte", "Reims"]);

        assert_eq!(rejection.column, "Nom");
        assert!(rejection.reason.contains("U+0000"), "{}", rejection.reason);
        assert!(
            rejection.reason.contains("position 4"),
            "{}",
            rejection.reason
        );
    }

    #[test]
    fn value_tab_and_line_break_kept() {
        let contact = accept_row(
            &["Nom", "Adresse"],
            &["Martin\tJr", "1 rue Haute\r\nBât. B"],
        );

        assert_eq!(contact.last_name, "Martin\tJr");
    }

    #[test]
    fn long_value_rejected_not_truncated() {
        let long = "é".repeat(MAX_VALUE_CHARS + 1);
        let rejection = reject_row(&["Nom", "Société"], &["Dupont", &long]);
        assert_eq!(rejection.column, "Société");
        assert_eq!(
            rejection.reason,
            "valeur trop longue (501 caractères) : 500 au maximum"
        );

        let exact = "é".repeat(MAX_VALUE_CHARS);
        let contact = accept_row(&["Nom", "Société"], &["Dupont", &exact]);
        assert_eq!(contact.company, exact);

        let pasted = "x".repeat(5_000);
        let rejection = reject_row(&["Nom", "Société"], &["Dupont", &pasted]);
        assert_eq!(
            rejection.reason,
            "valeur trop longue (5\u{202F}000 caractères) : 500 au maximum"
        );
    }

    #[test]
    fn long_multiline_value_mentions_quote() {
        let long = "ligne\n".repeat(100);
        let rejection = reject_row(&["Nom", "Adresse"], &["Dupont", &long]);
        assert!(
            rejection.reason.contains("guillemet"),
            "{}",
            rejection.reason
        );
    }

    #[test]
    fn long_value_in_unknown_column_ignored() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        let contact = accept_row(&["Nom", "Notes"], &["Dupont", &long]);
        assert_eq!(contact.last_name, "Dupont");
    }

    #[test]
    fn first_bad_column_in_file_order() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        let rejection = reject_row(
            &["E-mail", "Nom", "Commercial"],
            &["pas-un-email", &long, "a;b"],
        );
        assert_eq!(rejection.column, "E-mail");

        let rejection = reject_row(
            &["Commercial", "Nom", "E-mail"],
            &["a;b", &long, "pas-un-email"],
        );
        assert_eq!(rejection.column, "Commercial");
    }

    #[test]
    fn empty_addresses_have_no_country() {
        let contact = accept_row(&["Nom", "Ville perso", "Ville pro"], &["Dupont", "", ""]);
        assert_eq!(contact.perso, AddressInput::default());
        assert_eq!(contact.pro, AddressInput::default());
        assert_eq!(contact.pro.country, None);
    }

    #[test]
    fn filled_address_takes_default_country() {
        let contact = accept_row(
            &["Nom", "Code postal", "Ville"],
            &["Dupont", "75001", "Paris"],
        );
        assert_eq!(contact.pro.country, Some(CountryCode::france()));
        assert_eq!(contact.pro.postal_code, "75001");
        assert_eq!(contact.pro.city, "Paris");
        let expected = normalize_postal_code("75001", &CountryCode::france()).value;
        assert_eq!(contact.pro.postal_norm, expected);
        assert_eq!(contact.perso, AddressInput::default());
    }

    #[test]
    fn default_country_from_options() {
        let belgium = CountryCode::parse("BEL").unwrap().unwrap();
        let outcome = parse_row(
            2,
            &mut values(&["Dupont", "Bruxelles"]),
            &columns(&["Nom", "Ville perso"]),
            &belgium,
        );
        let Some(Ok(parsed)) = outcome else {
            panic!("expected a contact, got {outcome:?}");
        };
        assert_eq!(parsed.contact.perso.country, Some(belgium));
    }

    #[test]
    fn country_column_alone_makes_address() {
        let contact = accept_row(&["Nom", "Pays perso"], &["Dupont", "Belgique"]);
        let belgium = CountryCode::parse("Belgique").unwrap();
        assert_eq!(contact.perso.country, belgium);
        assert!(!contact.perso.is_empty());
        assert_eq!(contact.pro.country, None);
    }

    #[test]
    fn lost_leading_zero_comes_back_in_code_entered() {
        let contact = accept_row(&["Nom", "CP perso"], &["Dupont", "2590"]);
        assert_eq!(contact.perso.postal_code, "02590");
        assert_eq!(contact.perso.postal_norm, "02590");
        // Not a French code: kept as written, for the report to show it.
        let contact = accept_row(&["Nom", "CP perso"], &["Dupont", "1080"]);
        assert_eq!(contact.perso.postal_code, "1080");
        assert_eq!(contact.perso.postal_norm, "01080");
    }

    #[test]
    fn postal_code_normalised_for_its_country() {
        let contact = accept_row(
            &["Nom", "CP perso", "Pays perso"],
            &["Dupont", "1000", "BE"],
        );
        let belgium = CountryCode::parse("BE").unwrap().unwrap();
        assert_eq!(contact.perso.postal_code, "1000");
        assert_eq!(
            contact.perso.postal_norm,
            normalize_postal_code("1000", &belgium).value
        );
    }

    #[test]
    fn five_digit_country_gets_its_lost_zero_back() {
        let rome = accept_row(&["Nom", "CP perso", "Pays perso"], &["Rossi", "118", "IT"]);
        let four = accept_row(
            &["Nom", "CP perso", "Pays perso"],
            &["Rossi", "0118", "ITA"],
        );
        let dresden = accept_row(&["Nom", "CP perso", "Pays perso"], &["Weber", "1067", "DE"]);
        let brussels = accept_row(
            &["Nom", "CP perso", "Pays perso"],
            &["Dubois", "1080", "BE"],
        );

        // Excel drops every leading zero, two of them for Rome.
        assert_eq!(
            (
                rome.perso.postal_code.as_str(),
                rome.perso.postal_norm.as_str()
            ),
            ("00118", "00118")
        );
        assert_eq!(
            (
                four.perso.postal_code.as_str(),
                four.perso.postal_norm.as_str()
            ),
            ("00118", "00118")
        );
        assert_eq!(
            (
                dresden.perso.postal_code.as_str(),
                dresden.perso.postal_norm.as_str()
            ),
            ("01067", "01067")
        );
        assert_eq!(brussels.perso.postal_code, "1080");
        assert_eq!(brussels.perso.postal_norm, "1080");
    }

    #[test]
    fn unknown_country_rejected() {
        let rejection = reject_row(&["Nom", "Pays pro"], &["Dupont", "Atlantide"]);
        assert_eq!(rejection.column, "Pays pro");
        assert_eq!(
            rejection.reason,
            "pays inconnu (« Atlantide ») : indiquez un code ISO (FR, FRA) \
             ou le nom du pays (France, Belgique)"
        );
    }
}
