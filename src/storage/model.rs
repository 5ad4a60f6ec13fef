//! Records read from and written to storage.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::batch::{BatchId, Outcome};
use crate::domain::contact::{ContactId, ContactInput, Role};
use crate::domain::history::UserRef;
use crate::domain::postal::PostalPrefix;
use crate::domain::user::UserId;
use crate::storage::StoreError;

/// Numeric id of an API token, which administrators use to revoke it.
pub type ApiTokenId = i64;

/// Shortest time between two writes of a token's last use, so that API
/// calls do not each write to the database.
pub const API_TOKEN_USE_INTERVAL_SECONDS: i64 = 60;

/// A stored address; `country` is empty when the address is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Address {
    pub line1: String,
    pub line2: String,
    pub postal_code: String,
    pub postal_norm: String,
    pub city: String,
    pub country: String,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        self.line1.is_empty()
            && self.line2.is_empty()
            && self.postal_code.is_empty()
            && self.city.is_empty()
            && self.country.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub id: ContactId,
    pub external_id: Option<String>,
    pub civility: String,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub email: String,
    pub phone: String,
    pub commercial_owner: Option<UserRef>,
    pub technical_owner: Option<UserRef>,
    pub perso: Address,
    pub pro: Address,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// Name shown in lists: « Prénom NOM », else the company.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name.to_uppercase());
        let name = name.trim();
        if name.is_empty() {
            self.company.clone()
        } else {
            name.to_string()
        }
    }
}

/// A validated contact with its owners resolved to users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactWrite {
    pub line: u64,
    pub contact: ContactInput,
    pub commercial_owner: Option<UserId>,
    pub technical_owner: Option<UserId>,
}

/// An import row whose contact number (`N° Relais`) and external id do not
/// name one stored contact. The row is not written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyConflict {
    pub line: u64,
    pub contact_number: i64,
    pub external_id: Option<String>,
    pub kind: KeyConflictKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyConflictKind {
    /// No stored contact has this number.
    UnknownNumber,
    /// The numbered contact has another last name, first name or company,
    /// so the number most likely comes from another database.
    OtherNames,
    /// The numbered contact has another external id.
    OtherExternalId { stored: String },
    /// The row's external id belongs to a contact with another number.
    ExternalIdOfOtherNumber { stored_number: i64 },
    /// No stored contact has the row's external id, and the file has no
    /// column that names a contact, so the row cannot create one.
    UnknownExternalId,
    /// The row has no identity value, and the columns it empties would
    /// leave the stored contact without a name, company, e-mail or phone.
    NoIdentityLeft,
    /// The contact was changed after the time the row's « Modifié le »
    /// gives, so the row, exported before, would undo that change.
    ChangedSinceExport { changed_at: DateTime<Utc> },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub history_entries: u64,
}

impl ImportCounts {
    pub fn add(&mut self, other: &ImportCounts) {
        self.imported += other.imported;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.history_entries += other.history_entries;
    }
}

/// Filters of the contact list; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactFilter {
    /// Contacts owned by this user on either role.
    pub owner: Option<UserId>,
    /// Alpha-3 code of the country of either address.
    pub country: Option<String>,
    /// Postal prefixes of either address (with `country`, of an address in
    /// that country).
    pub postal_prefixes: Vec<PostalPrefix>,
    /// Free text matched against names, company, e-mail and external id.
    pub text: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 50;

    pub fn first(limit: u32) -> Page {
        Page { limit, offset: 0 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactPage {
    pub total: u64,
    pub contacts: Vec<Contact>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportSelection {
    All,
    Batch(BatchId),
    Filter(ContactFilter),
    /// No contact: filters that no contact can match, such as a postal
    /// prefix outside the chosen département.
    Nothing,
}

/// Matches of a region preview for one requested postal prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrefixCount {
    pub prefix: String,
    pub matched: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegionPreview {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub per_prefix: Vec<PrefixCount>,
    /// A few of the matched contacts, to show what the criteria select.
    pub sample: Vec<Contact>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: UserId,
    /// Hash of the password the login checked. The session opens only
    /// while the user is active and still has this password, so that a
    /// login racing a password change or a deactivation gets no session.
    pub password_hash: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub user_id: UserId,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// An API token as administrators see it. It contains neither the secret
/// nor its hash, so that no listing can leak them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user: UserRef,
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// Last API call with the token, to the nearest
    /// [`API_TOKEN_USE_INTERVAL_SECONDS`]; `None` when never used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set once and never cleared: a revoked token stays rejected.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Outcome of storing an API token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredToken {
    /// The token was stored under this number.
    Created(ApiTokenId),
    /// The form key had already created this token: nothing was stored.
    SentBefore(ApiTokenId),
}

/// Outcome of a revocation request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenRevocation {
    Revoked(ApiToken),
    /// The token was already revoked; nothing was changed.
    AlreadyRevoked(ApiToken),
    NotFound,
}

/// Rejects an idempotency key that already ran an operation with other
/// parameters: the batch it recorded, or `None` for a run that changed
/// nothing. The web scopes each client's key to its user as
/// `user-<id>:<key>`, and the CLI as `cli:<key>`, so the message quotes
/// the part after that scope: the key as the client sent it.
pub fn key_reused(key: &str, batch: Option<BatchId>) -> StoreError {
    let client_key = key
        .strip_prefix("user-")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(user, _)| !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, sent)| sent)
        .or_else(|| key.strip_prefix("cli:"))
        .unwrap_or(key);
    let operation = match batch {
        Some(id) => format!("l'opération n° {id}"),
        None => "une opération qui n'a rien modifié".to_string(),
    };
    StoreError::rejected(
        "idempotency_key_reused",
        format!(
            "la clé d'idempotence « {client_key} » a déjà servi, avec d'autres paramètres, pour {operation} ; choisissez-en une nouvelle"
        ),
    )
}

/// Returns the contacts column that stores a role's owner, the same in
/// both engines' schemas.
pub fn owner_column(role: Role) -> &'static str {
    match role {
        Role::Commercial => "commercial_owner_id",
        Role::Technical => "technical_owner_id",
    }
}

/// Keys of an import batch's parameters that hold the first and last id of
/// the contacts it created. Only imports create contacts, one import at a
/// time, and ids only grow, so these are exactly the ids in that range.
pub const FIRST_CREATED_ID: &str = "first_created_id";
pub const LAST_CREATED_ID: &str = "last_created_id";

/// Returns the range of ids of the contacts a batch created: an import's,
/// when it created any.
pub fn created_ids(batch: &crate::domain::batch::Batch) -> Option<(i64, i64)> {
    let first = batch.params.get(FIRST_CREATED_ID)?.as_i64()?;
    let last = batch.params.get(LAST_CREATED_ID)?.as_i64()?;
    Some((first, last))
}

/// An address an import completed from stored values (the file gave its
/// postal code or its country, not both) whose postal code does not start
/// with the prefix of the Pacific collectivity it is stored under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacificMismatch {
    pub line: u64,
    /// True for the professional address, false for the personal one.
    pub pro: bool,
    pub postal_code: String,
    pub city: String,
    pub country: crate::domain::country::CountryCode,
}
