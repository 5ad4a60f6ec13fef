//! Storage: one interface with domain-named operations, one implementation
//! per engine (SQLite embedded, PostgreSQL for servers).
//!
//! Every mass operation runs as one transaction with a fixed number of
//! statements whatever the number of contacts, and reads the owner it
//! replaces under the write lock, so history names the owner really replaced.

pub mod model;
pub mod open;
pub mod postgres;
pub mod sqlite;

use chrono::{DateTime, Utc};

use crate::domain::batch::{
    Actor, Applied, Batch, BatchId, BatchKind, Outcome, OwnerReturn, RegionReassignment,
    UndoPreview, UndoResult, UserReassignment,
};
use crate::domain::contact::Role;
use crate::domain::contact::{ContactId, ContactPart};
use crate::domain::country::CountryCode;
use crate::domain::history::HistoryEntry;
use crate::domain::postal::{normalize_postal_code, stored_country};
use crate::domain::search::fold_for_search;
use crate::domain::user::{NewUser, User, UserId};

pub use model::*;
pub use open::open_store;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of the domain forbids the operation; the message is French
    /// and meant for the user.
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    #[error("{what} introuvable : « {key} » ; {hint}")]
    NotFound {
        code: &'static str,
        what: &'static str,
        key: String,
        /// Command and API call that list the numbers in use.
        hint: &'static str,
    },
    /// Another transaction holds a conflicting lock for too long, or the
    /// engine detected a deadlock that retries did not resolve.
    #[error("la base est occupée par une autre opération ; réessayez dans un instant")]
    Busy,
    #[error("erreur de la base de données : {0}")]
    Database(String),
}

impl StoreError {
    pub fn rejected(code: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Rejected {
            code,
            message: message.into(),
        }
    }

    /// Builds the error for a run whose target user was deactivated after
    /// its form was checked, found inside the run's transaction.
    pub fn inactive_target(display_name: &str) -> StoreError {
        StoreError::rejected(
            "inactive_target",
            format!(
                "le compte {} a été désactivé pendant la préparation de l'opération, qui n'a \
                 rien modifié ; choisissez un utilisateur actif ou réactivez ce compte d'abord",
                crate::french::de(display_name)
            ),
        )
    }

    /// Builds the error for taking the administrator role from the last
    /// active administrator, or deactivating them, which would leave the
    /// screens with none.
    pub fn last_admin() -> StoreError {
        StoreError::rejected(
            "last_admin",
            "c'est le seul compte administrateur actif ; donnez d'abord le rôle administrateur à un autre utilisateur",
        )
    }

    /// Builds the error for a batch number `id` that no batch has.
    pub fn unknown_batch(id: impl ToString) -> StoreError {
        StoreError::NotFound {
            code: "unknown_batch",
            what: "opération",
            key: id.to_string(),
            hint: "le journal des opérations donne leurs numéros (relais batches, ou GET /api/v1/batches)",
        }
    }

    /// Builds the error for a user number `id` that no user has.
    pub fn unknown_user(id: impl ToString) -> StoreError {
        StoreError::NotFound {
            code: "unknown_user",
            what: "utilisateur",
            key: id.to_string(),
            hint: "la liste des utilisateurs donne leurs numéros (relais user list, ou GET /api/v1/users)",
        }
    }

    /// Stable English code for the API and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Rejected { code, .. } => code,
            StoreError::NotFound { code, .. } => code,
            StoreError::Busy => "busy",
            StoreError::Database(_) => "database_error",
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Tells whether a connection pool whose checkout timed out had every
/// connection open and in use: the base is then busy with other requests,
/// and the caller may try again. Otherwise connections could not be opened,
/// which is a fault of the database, not a wait.
/// NOTE: only a unit test on a SQLite pool covers this; no test fills a
/// running server's pool to see its 503 answer.
pub(crate) fn pool_exhausted<M: r2d2::ManageConnection>(pool: &r2d2::Pool<M>) -> bool {
    let state = pool.state();
    state.connections >= pool.max_size() && state.idle_connections == 0
}

/// Builds the counts an undo would report from its preview's per-owner
/// rows, the contacts of the batch (`matched`) and those with at least one
/// role restored (`changed`).
pub(crate) fn undo_preview_outcome(returns: &[OwnerReturn], matched: u64, changed: u64) -> Outcome {
    let per_role = |role: Role| -> u64 {
        returns
            .iter()
            .filter(|owner_return| owner_return.role == role)
            .map(|owner_return| owner_return.contacts)
            .sum()
    };
    let commercial = per_role(Role::Commercial);
    let technical = per_role(Role::Technical);
    Outcome {
        matched,
        changed,
        already_owned: matched - changed,
        history_entries: commercial + technical,
        commercial,
        technical,
    }
}

/// Lists the undos that followed `batch`: its undo, then the undo of that
/// undo, and so on, read with `get`. Each batch is undone once at most, so
/// this is a chain; it is cut at `MAX_UNDO_CHAIN` links.
pub fn undo_chain<E>(
    batch: &Batch,
    mut get: impl FnMut(BatchId) -> Result<Option<Batch>, E>,
) -> Result<Vec<BatchId>, E> {
    let mut chain = Vec::new();
    let mut next = batch.undone_by;
    while let Some(id) = next {
        if chain.len() >= MAX_UNDO_CHAIN {
            break;
        }
        chain.push(id);
        next = get(id)?.and_then(|undo| undo.undone_by);
    }
    Ok(chain)
}

/// Maximum number of undos `undo_chain` reads.
const MAX_UNDO_CHAIN: usize = 1_000;

/// Returns the error an undo of `batch` fails with, or `None` when the
/// batch can be undone. The undo and its preview both apply it. `chain`
/// lists the undos that followed it (see `undo_chain`): after an even
/// number of them the batch's changes are back, and undoing the last one
/// is the way to remove them again.
pub(crate) fn undo_rejection(batch: &Batch, chain: &[BatchId]) -> Option<StoreError> {
    let target = batch.id;
    let (&by, &last) = (chain.first()?, chain.last()?);
    let message = if chain.len().is_multiple_of(2) {
        format!(
            "l'opération n° {target} a déjà été annulée par l'opération n° {by}, mais \
             l'opération n° {last} a rétabli ses changements ; pour les retirer de nouveau, \
             annulez l'opération n° {last} ; rien n'a été modifié"
        )
    } else if chain.len() > 1 {
        format!(
            "l'opération n° {target} a déjà été annulée par l'opération n° {by}, et ses \
             changements restent retirés depuis l'opération n° {last} ; rien n'a été modifié"
        )
    } else {
        format!(
            "l'opération n° {target} a déjà été annulée par l'opération n° {by} ; rien n'a été modifié"
        )
    };
    Some(StoreError::rejected("batch_already_undone", message))
}

/// Contacts an undo batch `$1` gave back, per role and owner restored,
/// with the owner's user columns and whether the owner is active. Both
/// engines run it as written.
pub(crate) const GIVEN_BACK_BY_UNDO: &str = "SELECT h.role, u.id, u.initials, u.first_name, \
     u.last_name, count(*), coalesce(u.active, true)
     FROM history h
     LEFT JOIN users u ON u.id = h.new_owner_id
     WHERE h.batch_id = $1
     GROUP BY h.role, u.id, u.initials, u.first_name, u.last_name, u.active
     ORDER BY h.role, u.initials IS NULL, u.initials";

/// Batches between two others that wrote history on the contacts of the
/// later one: `$1` is that batch, `$2` the earlier one and `$3` the limit.
/// Both engines run it as written, since SQLite numbers `$N` parameters in
/// order of first use.
pub(crate) const BATCHES_BETWEEN_ON_CONTACTS: &str = "SELECT DISTINCT o.batch_id
     FROM history h JOIN history o ON o.contact_id = h.contact_id
     WHERE h.batch_id = $1 AND o.batch_id > $2 AND o.batch_id < $1
     ORDER BY o.batch_id LIMIT $3";

/// Stored columns an import writes, in the order both engines write them.
pub(crate) const IMPORT_WRITTEN_COLUMNS: [&str; 20] = [
    "civility",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "commercial_owner_id",
    "technical_owner_id",
    "perso_line1",
    "perso_line2",
    "perso_postal_code",
    "perso_postal_norm",
    "perso_city",
    "perso_country",
    "pro_line1",
    "pro_line2",
    "pro_postal_code",
    "pro_postal_norm",
    "pro_city",
    "pro_country",
];

/// Prefix of a contact key that names the contact by its external id
/// alone: `ext:5` is the contact whose external id is `5`, where `5`
/// alone is contact number 5. CRMs such as Dolibarr number their records,
/// so an external id may also be some contact's number.
pub const EXTERNAL_ID_PREFIX: &str = "ext:";

/// Returns the external id a key names with `EXTERNAL_ID_PREFIX`. The
/// lookup falls back to the whole key, for an external id that itself
/// starts with the prefix.
pub fn explicit_external_id(key: &str) -> Option<&str> {
    key.strip_prefix(EXTERNAL_ID_PREFIX)
        .map(str::trim)
        .filter(|rest| !rest.is_empty())
}

/// Tells whether an import that keeps `kept` as stored only updates
/// contacts: its file has no column that names a contact, so a row that
/// names no stored contact would create one with no name.
pub(crate) fn updates_only(kept: &[ContactPart]) -> bool {
    [
        ContactPart::LastName,
        ContactPart::FirstName,
        ContactPart::Company,
        ContactPart::Email,
        ContactPart::Phone,
    ]
    .iter()
    .all(|part| kept.contains(part))
}

/// Positions in [`IMPORT_WRITTEN_COLUMNS`] of each address's postal code as
/// entered, normalised postal code and country.
pub(crate) const ADDRESS_POSTAL_COLUMNS: [(usize, usize, usize); 2] = [(10, 11, 13), (16, 17, 19)];

/// Positions of the columns an import keeps as stored when its file has
/// no column for `parts`: those of the parts, and the normalised postal
/// code of an address whose code and country are both kept.
pub(crate) fn kept_column_indexes(parts: &[ContactPart]) -> Vec<usize> {
    let mut indexes = part_column_indexes(parts);
    for (code, norm, country) in ADDRESS_POSTAL_COLUMNS {
        if indexes.contains(&code) && indexes.contains(&country) {
            indexes.push(norm);
        }
    }
    indexes.sort_unstable();
    indexes
}

/// Returns the addresses whose postal code or country, but not both, an
/// import keeps: their normalised code must be worked out again from the
/// code and the country they end with.
pub(crate) fn renormalised_addresses(kept: &[usize]) -> Vec<(usize, usize, usize)> {
    ADDRESS_POSTAL_COLUMNS
        .into_iter()
        .filter(|(code, _, country)| kept.contains(code) != kept.contains(country))
        .collect()
}

/// Works out an address's normalised postal code, and the country it is
/// stored under, from its postal code as entered and its country, as the
/// import of a whole address does: a code without a country takes
/// `default_country`.
pub(crate) fn renormalise(
    postal_code: &str,
    country: Option<&str>,
    default_country: &CountryCode,
) -> (String, Option<String>) {
    let country = match country.and_then(|country| CountryCode::parse(country).ok().flatten()) {
        Some(country) => country,
        None if !postal_code.trim().is_empty() => default_country.clone(),
        None => return (String::new(), None),
    };
    let norm = normalize_postal_code(postal_code, &country).value;
    let country = stored_country(country, &norm);
    (norm, Some(country.as_str().to_string()))
}

/// Checks an address that `renormalise` completed, given the position of
/// its postal code in [`IMPORT_WRITTEN_COLUMNS`].
pub(crate) fn pacific_mismatch(
    line: u64,
    code_column: usize,
    postal_code: &str,
    postal_norm: &str,
    city: &str,
    country: Option<&str>,
) -> Option<PacificMismatch> {
    let country = CountryCode::parse(country?).ok().flatten()?;
    country.pacific_mismatch(postal_norm)?;
    Some(PacificMismatch {
        line,
        pro: code_column == ADDRESS_POSTAL_COLUMNS[1].0,
        postal_code: postal_code.trim().to_string(),
        city: city.to_string(),
        country,
    })
}

/// Position in [`IMPORT_WRITTEN_COLUMNS`] of the city of the address whose
/// normalised postal code is at `norm`.
pub(crate) const fn city_column(norm: usize) -> usize {
    norm + 1
}

/// Sets an outcome's counts per role from history entries counted by
/// role name, as an import's commit reads them back.
pub(crate) fn set_role_counts(
    outcome: &mut crate::domain::batch::Outcome,
    per_role: &[(String, i64)],
) {
    for (role, entries) in per_role {
        let entries = u64::try_from(*entries).unwrap_or_default();
        match Role::parse(role) {
            Some(Role::Commercial) => outcome.commercial = entries,
            Some(Role::Technical) => outcome.technical = entries,
            None => {}
        }
    }
}

/// Positions in [`IMPORT_WRITTEN_COLUMNS`] of the columns that hold `parts`.
pub(crate) fn part_column_indexes(parts: &[ContactPart]) -> Vec<usize> {
    let mut indexes: Vec<usize> = parts
        .iter()
        .flat_map(|part| -> &'static [usize] {
            match part {
                ContactPart::Civility => &[0],
                ContactPart::FirstName => &[1],
                ContactPart::LastName => &[2],
                ContactPart::Company => &[3],
                ContactPart::Email => &[4],
                ContactPart::Phone => &[5],
                ContactPart::CommercialOwner => &[6],
                ContactPart::TechnicalOwner => &[7],
                ContactPart::PersoLine1 => &[8],
                ContactPart::PersoLine2 => &[9],
                ContactPart::PersoPostalCode => &[10],
                ContactPart::PersoCity => &[12],
                ContactPart::PersoCountry => &[13],
                ContactPart::ProLine1 => &[14],
                ContactPart::ProLine2 => &[15],
                ContactPart::ProPostalCode => &[16],
                ContactPart::ProCity => &[18],
                ContactPart::ProCountry => &[19],
            }
        })
        .copied()
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// The storage interface. Implementations are cheap to share between
/// threads: each call takes a connection from the engine's pool.
pub trait Store: Send + Sync {
    /// Engine name for logs and reports: `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    // Users.
    fn create_user(&self, user: &NewUser) -> StoreResult<User>;
    fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Finds a user by initials, login or e-mail, ignoring case.
    fn find_user(&self, key: &str) -> StoreResult<Option<User>>;
    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<()>;
    fn set_user_role(&self, id: UserId, role: crate::domain::user::UserRole) -> StoreResult<()>;
    /// Sets the user's password and ends their sessions.
    fn set_user_password(&self, id: UserId, password_hash: &str) -> StoreResult<()>;
    fn user_password_hash(&self, id: UserId) -> StoreResult<Option<String>>;

    // Contacts.
    /// Finds a contact by Relais number, else by external id. `ext:ID`
    /// names a contact by its external id alone (see
    /// `explicit_external_id`).
    fn find_contact(&self, key: &str) -> StoreResult<Option<Contact>>;
    fn list_contacts(&self, filter: &ContactFilter, page: Page) -> StoreResult<ContactPage>;
    /// Streams contacts in id order to `sink`, without loading them all.
    fn export_contacts(
        &self,
        selection: &ExportSelection,
        sink: &mut dyn FnMut(&Contact) -> anyhow::Result<()>,
    ) -> StoreResult<u64>;
    fn contact_history(&self, contact: ContactId) -> StoreResult<Vec<HistoryEntry>>;
    fn count_contacts(&self) -> StoreResult<u64>;

    /// Opens one import transaction; nothing is visible before `commit`.
    fn begin_import(
        &self,
        actor: &Actor,
        params: serde_json::Value,
    ) -> StoreResult<Box<dyn ImportSession + '_>>;

    // Mass operations.
    fn preview_user_reassignment(
        &self,
        request: &UserReassignment,
    ) -> StoreResult<crate::domain::batch::Outcome>;
    fn apply_user_reassignment(
        &self,
        request: &UserReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied>;
    fn preview_region_reassignment(
        &self,
        request: &RegionReassignment,
    ) -> StoreResult<RegionPreview>;
    fn apply_region_reassignment(
        &self,
        request: &RegionReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied>;
    fn undo_batch(&self, batch: BatchId, run: &RunContext) -> StoreResult<UndoResult>;
    /// Computes what `undo_batch` would do now, by the same rule and with
    /// the same errors, without changing anything.
    fn preview_undo(&self, batch: BatchId) -> StoreResult<UndoPreview>;
    /// Entries of `target` that its undo `undo` left as they were, because
    /// the contact's owner on that role had changed: the list the undo
    /// reported, read again for its result page. `None` stands for an undo
    /// that gave nothing back and so recorded no batch: it left every entry.
    fn undo_skipped(
        &self,
        target: BatchId,
        undo: Option<BatchId>,
    ) -> StoreResult<Vec<crate::domain::batch::SkippedContact>>;
    fn list_batches(&self, limit: u32, offset: u32) -> StoreResult<Vec<Batch>>;
    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>>;
    /// Returns the number of committed batches and the highest batch id.
    /// Every change to contacts is made by a batch, so the pair changes
    /// whenever the contacts may have: caches of previews key on it.
    fn data_version(&self) -> StoreResult<(u64, i64)>;
    /// Lists, oldest first and at most `limit`, the batches numbered
    /// between `since` and `batch` that changed an owner of a contact
    /// `batch` changed: what a form opened after batch `since` did not
    /// know when it ran `batch`.
    fn batches_between_on_contacts(
        &self,
        batch: BatchId,
        since: BatchId,
        limit: u32,
    ) -> StoreResult<Vec<BatchId>>;
    /// Contacts a batch changed, for the journal and its export.
    fn batch_contacts(&self, id: BatchId, page: Page) -> StoreResult<ContactPage>;
    /// Finds the import that created a contact, from the id ranges imports
    /// record. Returns `None` for a contact created before they did.
    fn creating_import(&self, contact: ContactId) -> StoreResult<Option<BatchId>>;

    // Web sessions and API tokens, stored here so that several application
    // servers on one database behave as one.
    /// Opens a session, unless its user was deactivated or given another
    /// password since the login checked it; returns whether it opened.
    fn create_session(&self, session: &NewSession) -> StoreResult<bool>;
    fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;
    fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Stores a token of `user`. `submission` is the scoped key of the
    /// form that requests it: when a token already carries that key, the
    /// store returns it and stores nothing, so that a form sent twice, to
    /// one server or to two, creates one token.
    fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        label: &str,
        submission: Option<&str>,
    ) -> StoreResult<StoredToken>;
    /// Returns the active user owning a token, unless the token is revoked.
    fn api_token_user(&self, token_hash: &str) -> StoreResult<Option<User>>;
    /// Lists the API tokens of one user, or of every user, newest first.
    fn list_api_tokens(&self, user: Option<UserId>) -> StoreResult<Vec<ApiToken>>;
    /// Revokes a token at time `at`. An unknown or already revoked token is
    /// left as it is and reported as such.
    fn revoke_api_token(&self, id: ApiTokenId, at: DateTime<Utc>) -> StoreResult<TokenRevocation>;
    /// Records a call made with an unrevoked token at time `at`, unless its
    /// last recorded use is less than [`API_TOKEN_USE_INTERVAL_SECONDS`]
    /// older. Returns whether it wrote.
    fn record_api_token_use(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Records a failed login and returns how many failures the key has in
    /// the last `window_seconds`.
    fn record_login_failure(&self, key: &str, window_seconds: i64) -> StoreResult<u32>;
    fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}

/// What a mass operation needs besides its criteria.
#[derive(Clone, Debug)]
pub struct RunContext {
    pub actor: Actor,
    /// Parameters as entered, stored with the batch for the journal.
    pub params: serde_json::Value,
    /// A second run with the same key returns the first run's result.
    pub idempotency_key: Option<String>,
    /// When the request came in: the batch's start.
    pub now: DateTime<Utc>,
}

impl RunContext {
    /// Time of the run's changes, for history entries and `updated_at`.
    /// It is read once the run holds its locks, or just before the
    /// statement that takes them (PostgreSQL then adds the statement's
    /// wait). A run that waited for another batch writes after it, so its
    /// entries must not be dated before that batch's.
    pub fn time_of_write(&self) -> DateTime<Utc> {
        Utc::now().max(self.now)
    }
}

/// A contact an import created with the last name, first name and company
/// of a contact stored before it: most often the same person, from a row
/// that lost its number or external id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwinContact {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
}

/// Contacts created twice that an import report lists by number.
pub const LISTED_TWIN_CONTACTS: usize = 3;

/// Contacts an import created (`id > ?1`) without external id whose last
/// name, first name and company are those of a contact stored before it,
/// each with the number of them all. Names are compared with A to Z in
/// lower case (`PETIT` is `Petit`), as SQLite's `lower` and PostgreSQL's
/// under the "C" collation both do. Accents still count, because folding
/// them as the search does made the statement ten times slower on
/// PostgreSQL (3.6 s against 0.37 s at 1,000,000 contacts). The stored
/// contacts are read once, into the set the `IN` builds, rather than once
/// per created contact.
const TWIN_CONTACTS: &str = "SELECT id, first_name, last_name, company, count(*) OVER ()
     FROM contacts
     WHERE id > ?1 AND external_id IS NULL
       AND (last_name <> '' OR first_name <> '' OR company <> '')
       AND (lower(last_name), lower(first_name), lower(company)) IN
           (SELECT lower(last_name), lower(first_name), lower(company)
            FROM contacts WHERE id <= ?1)
     ORDER BY id
     LIMIT ?2";

fn twin_contacts_sql(postgres: bool) -> String {
    let sql = numbered_params(TWIN_CONTACTS, postgres);
    if postgres {
        // The database's collation could fold more than A to Z.
        ["last_name", "first_name", "company"]
            .iter()
            .fold(sql, |sql, column| {
                sql.replace(
                    &format!("lower({column})"),
                    &format!("lower({column} COLLATE \"C\")"),
                )
            })
    } else {
        sql
    }
}

/// A Relais operation (a reassignment or an undo) whose owner changes an
/// import gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReversedBatch {
    pub batch: BatchId,
    pub kind: BatchKind,
    /// Contacts given back to the owner the operation had replaced, on at
    /// least one role.
    pub contacts: u64,
}

/// Counts, per operation, the contacts that the import batch `?1` gives
/// back to an owner a Relais operation (a reassignment, or an undo) had
/// taken from them. That operation is the one of the latest earlier entry
/// on that role that replaced the owner the import sets. So for a chain of
/// reassignments (AA to MC, then MC to PC), it is the one that removed AA.
/// The text is SQLite's, and
/// `reversed_reassignments_sql` turns it into PostgreSQL's. The earlier
/// entry is joined on its contact too, since PostgreSQL's history key
/// starts with the contact: on the id alone, it scans the whole table for
/// each entry.
const REVERSED_REASSIGNMENTS: &str = "
    SELECT p.batch_id, b.kind, count(DISTINCT h.contact_id)
    FROM history h
    JOIN history p ON p.contact_id = h.contact_id AND p.id = (
        SELECT max(q.id) FROM history q
        WHERE q.contact_id = h.contact_id AND q.role = h.role AND q.id < h.id
          AND q.previous_owner_id IS h.new_owner_id)
    JOIN batches b ON b.id = p.batch_id
    WHERE h.batch_id = ?1
      AND p.kind IN ('reassign', 'reassign_region', 'undo')
    GROUP BY p.batch_id, b.kind
    ORDER BY p.batch_id";

/// Gives user `?1` the role `?2`, unless that takes the administrator role
/// from the last active administrator: then it changes no row.
const SET_ROLE: &str = "UPDATE users SET role = ?2 WHERE id = ?1
       AND (?2 = 'admin' OR NOT (role = 'admin' AND active) OR {other_admin})";

/// Sets user `?1`'s active flag to `?2`, unless that deactivates the last
/// active administrator: then it changes no row.
const SET_ACTIVE: &str = "UPDATE users SET active = ?2 WHERE id = ?1
       AND (?2 OR NOT (role = 'admin' AND active) OR {other_admin})";

/// True when an active administrator other than user `?1` exists.
const OTHER_ADMIN: &str = "EXISTS (SELECT 1 FROM users other
       WHERE other.id <> ?1 AND other.active AND other.role = 'admin')";

/// Returns `statement` (`SET_ROLE` or `SET_ACTIVE`) with its last-admin
/// condition, for PostgreSQL when `postgres` is true.
fn last_admin_guarded_sql(statement: &str, postgres: bool) -> String {
    numbered_params(&statement.replace("{other_admin}", OTHER_ADMIN), postgres)
}

/// Returns a statement written with SQLite's numbered parameters (`?1`)
/// in PostgreSQL's form (`$1`) when `postgres` is true.
fn numbered_params(sql: &str, postgres: bool) -> String {
    if !postgres {
        return sql.to_string();
    }
    let mut converted = String::with_capacity(sql.len());
    let mut characters = sql.chars().peekable();
    while let Some(character) = characters.next() {
        let numbered = characters.peek().is_some_and(char::is_ascii_digit);
        converted.push(if character == '?' && numbered {
            '$'
        } else {
            character
        });
    }
    converted
}

fn set_role_sql(postgres: bool) -> String {
    last_admin_guarded_sql(SET_ROLE, postgres)
}

fn set_active_sql(postgres: bool) -> String {
    last_admin_guarded_sql(SET_ACTIVE, postgres)
}

/// Owner changes of an import batch (`?1`) to no owner, by role.
const CLEARED_OWNERS: &str = "SELECT role, count(*) FROM history
     WHERE batch_id = ?1 AND new_owner_id IS NULL AND previous_owner_id IS NOT NULL
     GROUP BY role";

fn cleared_owners_sql(postgres: bool) -> String {
    numbered_params(CLEARED_OWNERS, postgres)
}

/// Adds a (role, count) row of `CLEARED_OWNERS` to the (commercial,
/// technical) totals.
fn add_cleared(totals: &mut (u64, u64), role: &str, count: i64) {
    let count = u64::try_from(count).unwrap_or_default();
    match Role::parse(role) {
        Some(Role::Commercial) => totals.0 += count,
        Some(Role::Technical) => totals.1 += count,
        None => {}
    }
}

/// Returns `REVERSED_REASSIGNMENTS` for PostgreSQL (`$1`, and `IS NOT
/// DISTINCT FROM` for `IS`) when `postgres` is true, else for SQLite.
fn reversed_reassignments_sql(postgres: bool) -> String {
    let sql = numbered_params(REVERSED_REASSIGNMENTS, postgres);
    if postgres {
        sql.replace(" IS ", " IS NOT DISTINCT FROM ")
    } else {
        sql
    }
}

/// One import transaction. Rows arrive in chunks; each chunk is written
/// with prepared statements (SQLite) or a bulk copy (PostgreSQL).
pub trait ImportSession {
    /// Lists the users visible in this import's transaction, including
    /// those of another import that committed before this one began.
    fn list_users(&mut self) -> StoreResult<Vec<User>>;
    fn create_user(&mut self, user: &NewUser) -> StoreResult<User>;
    /// Makes the rows written after this call keep the stored value of
    /// `parts` in the contacts they update: the file has no column for them.
    /// New contacts get the rows' values, empty for those parts. An address
    /// left with a postal code and no country takes `default_country`, as
    /// the rows do.
    fn keep_stored(&mut self, parts: &[ContactPart], default_country: &CountryCode);
    /// Tells the session that the file has no external-id column, as in
    /// an export cut down in Excel. A contact number then names its contact
    /// even when that contact has an external id, provided the file has a
    /// name, first name or company column and the row agrees with it. The
    /// external id stays as stored.
    fn keep_stored_external_ids(&mut self);
    /// Writes a chunk of rows. A row whose contact number and external id
    /// conflict is skipped and kept for `take_key_conflicts`.
    fn write_contacts(&mut self, rows: &[ContactWrite]) -> StoreResult<ImportCounts>;
    /// Returns the rows skipped for a key conflict since the last call, in
    /// file order. The default suits a session that never skips rows.
    fn take_key_conflicts(&mut self) -> Vec<KeyConflict> {
        Vec::new()
    }
    /// Returns the addresses completed from stored values that mix a
    /// Pacific country with another territory's postal code, found since
    /// the last call. The default suits a session that keeps no column.
    fn take_pacific_mismatches(&mut self) -> Vec<PacificMismatch> {
        Vec::new()
    }
    /// Lists the Relais operations this import has reversed so far, oldest
    /// first, with their numbers of contacts. A contact counts when the
    /// file gives it back, on some role, to an owner that operation had
    /// replaced, and no later change on that role had replaced that owner.
    fn reversed_reassignments(&mut self) -> StoreResult<Vec<ReversedBatch>>;
    /// Counts the contacts this import left with no (commercial,
    /// technical) owner where they had one: the file's cell was empty.
    fn cleared_owners(&mut self) -> StoreResult<(u64, u64)>;
    /// Counts the contacts this import created without external id that
    /// have the last name, first name and company of a contact stored
    /// before it, and returns the first `LISTED_TWIN_CONTACTS` of them.
    fn twin_contacts(&mut self) -> StoreResult<(u64, Vec<TwinContact>)>;
    /// Records in the batch's parameters, as `rejected_lines`, how many
    /// lines of the file were rejected, so that the journal shows it.
    fn record_rejected_lines(&mut self, lines: u64) -> StoreResult<()>;
    /// Records the totals on the import batch and commits everything.
    fn commit(self: Box<Self>, totals: &ImportCounts) -> StoreResult<BatchId>;
}

/// Builds the `LIKE … ESCAPE '\'` pattern of the contact search: the
/// folded text between `%`, with `\`, `%` and `_` escaped so that they
/// match themselves.
pub(crate) fn search_pattern(text: &str) -> String {
    let escaped = fold_for_search(text)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
