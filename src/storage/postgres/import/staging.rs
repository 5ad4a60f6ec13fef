//! The staging and plan tables a chunk with keys goes through, and the
//! binary `COPY` encoding of rows into them or into `contacts`.

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use crate::domain::contact::AddressInput;
use crate::storage::ContactWrite;
use crate::storage::IMPORT_WRITTEN_COLUMNS as WRITTEN_COLUMNS;

use super::super::{PgResult, copy_stream};

/// The staging table receives each chunk as it is. `position` is the
/// row's index in the chunk and orders its rows, and `stored_id` is filled
/// with the id of the stored contact the row names. `conflict` names a key
/// conflict (see `KeyConflictKind`), with the stored value at fault in
/// `conflict_value`. Such rows are reported and removed before planning.
/// The plan table contains, per staged row, what the chunk does with it:
/// `group_key` names the contact, `action` is `insert`, `update` or
/// `unchanged`, `previous_*` are the owners the row replaces, and
/// `first_position` orders the new contacts as the file does. Both tables
/// go away when the transaction ends.
pub(super) const CREATE_WORK_TABLES: &str = r#"
CREATE TEMPORARY TABLE import_staging (
    position            integer NOT NULL,
    external_id         text,
    contact_id          bigint,
    stored_id           bigint,
    conflict            text,
    conflict_value      text,
    civility            text NOT NULL,
    first_name          text NOT NULL,
    last_name           text NOT NULL,
    company             text NOT NULL,
    email               text NOT NULL,
    phone               text NOT NULL,
    commercial_owner_id bigint,
    technical_owner_id  bigint,
    perso_line1         text NOT NULL,
    perso_line2         text NOT NULL,
    perso_postal_code   text NOT NULL,
    perso_postal_norm   text COLLATE "C" NOT NULL,
    perso_city          text NOT NULL,
    perso_country       text,
    pro_line1           text NOT NULL,
    pro_line2           text NOT NULL,
    pro_postal_code     text NOT NULL,
    pro_postal_norm     text COLLATE "C" NOT NULL,
    pro_city            text NOT NULL,
    pro_country         text,
    exported_at         timestamptz
) ON COMMIT DROP;
CREATE TEMPORARY TABLE import_plan (
    position            integer NOT NULL,
    group_key           text,
    contact_id          bigint,
    action              text NOT NULL,
    previous_commercial bigint,
    previous_technical  bigint,
    is_last             boolean NOT NULL,
    first_position      integer NOT NULL
) ON COMMIT DROP;
"#;

/// Types of the columns the binary `COPY` fills, in order.
pub(super) const STAGING_TYPES: [Type; 24] = [
    Type::INT4,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
];

/// Types of the columns `COPY` fills in `contacts`: the written columns,
/// then `created_at` and `updated_at`.
const CONTACT_TYPES: [Type; 22] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
];

/// Estimate of the bytes a contact takes in the binary `COPY` format, to
/// size the buffer of a chunk.
pub(super) const ENCODED_ROW_BYTES: usize = 400;

pub(super) fn columns_of(alias: &str) -> String {
    WRITTEN_COLUMNS
        .iter()
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQL that is true when the written columns of two aliases hold the same
/// values, NULLs included.
pub(super) fn same_values(left: &str, right: &str) -> String {
    format!(
        "ROW({}) IS NOT DISTINCT FROM ROW({})",
        columns_of(left),
        columns_of(right)
    )
}

/// Appends one row of `COPY contacts` to `out`: the written columns, then
/// the creation and update times.
pub(super) fn encode_contact(
    out: &mut BytesMut,
    row: &ContactWrite,
    at: &DateTime<Utc>,
) -> PgResult<()> {
    let contact = &row.contact;
    let perso = AddressValues::of(&contact.perso);
    let pro = AddressValues::of(&contact.pro);
    let values: [&(dyn ToSql + Sync); 22] = [
        &contact.civility,
        &contact.first_name,
        &contact.last_name,
        &contact.company,
        &contact.email,
        &contact.phone,
        &row.commercial_owner,
        &row.technical_owner,
        &perso.address.line1,
        &perso.address.line2,
        &perso.address.postal_code,
        &perso.address.postal_norm,
        &perso.address.city,
        &perso.country,
        &pro.address.line1,
        &pro.address.line2,
        &pro.address.postal_code,
        &pro.address.postal_norm,
        &pro.address.city,
        &pro.country,
        at,
        at,
    ];
    copy_stream::encode_row(out, &values, &CONTACT_TYPES)
}

pub(super) fn write_row(
    writer: &mut BinaryCopyInWriter<'_>,
    position: i32,
    row: &ContactWrite,
) -> PgResult<()> {
    let contact = &row.contact;
    let perso = AddressValues::of(&contact.perso);
    let pro = AddressValues::of(&contact.pro);
    let values: [&(dyn ToSql + Sync); 24] = [
        &position,
        &contact.external_id,
        &contact.contact_id,
        &contact.civility,
        &contact.first_name,
        &contact.last_name,
        &contact.company,
        &contact.email,
        &contact.phone,
        &row.commercial_owner,
        &row.technical_owner,
        &perso.address.line1,
        &perso.address.line2,
        &perso.address.postal_code,
        &perso.address.postal_norm,
        &perso.address.city,
        &perso.country,
        &pro.address.line1,
        &pro.address.line2,
        &pro.address.postal_code,
        &pro.address.postal_norm,
        &pro.address.city,
        &pro.country,
        &contact.exported_at,
    ];
    writer.write(&values)?;
    Ok(())
}

/// An address with its country as stored: NULL when the address is empty.
struct AddressValues<'a> {
    address: &'a AddressInput,
    country: Option<&'a str>,
}

impl<'a> AddressValues<'a> {
    fn of(address: &'a AddressInput) -> AddressValues<'a> {
        AddressValues {
            address,
            country: address.country.as_ref().map(|country| country.as_str()),
        }
    }
}
