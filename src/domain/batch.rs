//! Batches: one run of a mass operation, and the counts it reports.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::contact::{ContactId, Role, RoleChoice};
use super::country::CountryCode;
use super::history::UserRef;
use super::postal::PostalSelection;
use super::user::{UserId, display_name};

/// Numeric id of a batch, shown to people as « n° 12 ».
pub type BatchId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchKind {
    Reassign,
    ReassignRegion,
    Undo,
    Import,
}

impl BatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchKind::Reassign => "reassign",
            BatchKind::ReassignRegion => "reassign_region",
            BatchKind::Undo => "undo",
            BatchKind::Import => "import",
        }
    }

    pub fn parse(value: &str) -> Option<BatchKind> {
        match value {
            "reassign" => Some(BatchKind::Reassign),
            "reassign_region" => Some(BatchKind::ReassignRegion),
            "undo" => Some(BatchKind::Undo),
            "import" => Some(BatchKind::Import),
            _ => None,
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            BatchKind::Reassign => "réaffectation",
            BatchKind::ReassignRegion => "réaffectation par région",
            BatchKind::Undo => "annulation",
            BatchKind::Import => "importation",
        }
    }
}

/// Author of an operation: a user, or the operating-system account for a
/// CLI run without `--as`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub user_id: Option<UserId>,
    /// Display form copied into the batch row, so the journal keeps the
    /// name the user had when the batch ran.
    pub label: String,
}

impl Actor {
    pub fn system(os_account: &str) -> Actor {
        Actor {
            user_id: None,
            label: format!("système (compte {os_account})"),
        }
    }

    pub fn user(id: UserId, first_name: &str, last_name: &str, initials: &str) -> Actor {
        Actor {
            user_id: Some(id),
            label: display_name(first_name, last_name, initials),
        }
    }
}

/// Every contact owned by `from`, on either role, goes to `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserReassignment {
    pub from: UserId,
    pub to: UserId,
}

/// Every contact with an address in `country` whose postal code starts with
/// one of the prefixes goes to `to` on the chosen roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionReassignment {
    pub to: UserId,
    pub country: CountryCode,
    pub postal: PostalSelection,
    pub roles: RoleChoice,
}

impl RegionReassignment {
    /// Tells whether an address with this alpha-3 country and normalised
    /// postal code is in the region.
    pub fn covers(&self, country: &str, postal_norm: &str) -> bool {
        country == self.country.as_str() && self.postal.matches(postal_norm)
    }
}

/// Counts reported by every preview and run.
/// `matched = changed + already_owned` always holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub matched: u64,
    pub changed: u64,
    pub already_owned: u64,
    pub history_entries: u64,
    /// Contacts whose commercial owner changes.
    pub commercial: u64,
    /// Contacts whose technical owner changes.
    pub technical: u64,
}

impl Outcome {
    pub fn role_count(&self, role: Role) -> u64 {
        match role {
            Role::Commercial => self.commercial,
            Role::Technical => self.technical,
        }
    }
}

/// A batch as the journal shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Batch {
    pub id: BatchId,
    pub kind: BatchKind,
    /// Parameters as entered, for the journal.
    pub params: serde_json::Value,
    pub actor_id: Option<UserId>,
    pub actor: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// True once an undo batch has cancelled this one.
    pub undone: bool,
    /// The undo batch that cancelled this one.
    pub undone_by: Option<BatchId>,
    /// The batch this one cancels, for an undo.
    pub undoes: Option<BatchId>,
    /// The idempotency key of the run, scoped to where it came from. Not
    /// shown: a client sees only its own keys.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl Batch {
    /// Every batch can be undone once. An import's undo gives back the
    /// owners it changed and leaves the contacts it created.
    pub fn can_be_undone(&self) -> bool {
        !self.undone
    }

    /// Lines of the file an import rejected, as recorded at its commit; 0
    /// for other batches and for imports recorded before the count was.
    pub fn rejected_lines(&self) -> u64 {
        self.params["rejected_lines"].as_u64().unwrap_or(0)
    }
}

/// The result of applying a mass operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Applied {
    /// `None` when nothing matched: such a run records no batch.
    pub batch_id: Option<BatchId>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// True when an earlier request with the same idempotency key had
    /// already run it, and this is its stored result.
    pub replayed: bool,
}

/// A contact that an undo left alone because its owner changed since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedContact {
    pub contact_id: ContactId,
    pub external_id: Option<String>,
    pub role: Role,
    /// Initials of the owner the batch had set.
    pub batch_owner: Option<String>,
    /// Initials of the owner the contact has now.
    pub current_owner: Option<String>,
    /// `Prénom NOM (INITIALES)` of the same two owners, for screens and
    /// the CLI; the JSON keeps the initials alone.
    #[serde(skip)]
    pub batch_owner_name: Option<String>,
    #[serde(skip)]
    pub current_owner_name: Option<String>,
}

/// Display form of an owner read from a join on `users`: `None` when the
/// join found no user.
pub fn owner_name(
    initials: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
) -> Option<String> {
    initials.map(|initials| {
        display_name(
            first_name.as_deref().unwrap_or_default(),
            last_name.as_deref().unwrap_or_default(),
            &initials,
        )
    })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UndoResult {
    #[serde(flatten)]
    pub applied: Applied,
    pub undone_batch: BatchId,
    /// The contacts given back to each owner, ordered as in
    /// [`UndoPreview::returns`]; empty when nothing was given back.
    pub returns: Vec<OwnerReturn>,
    pub skipped: Vec<SkippedContact>,
}

/// Contacts that an undo gives back to one owner on one role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnerReturn {
    pub role: Role,
    /// The owner the contacts had before the batch, or `None` when they had
    /// none: the undo then leaves them without an owner on this role.
    pub owner: Option<UserRef>,
    /// False when that owner has been deactivated since. The undo gives
    /// the contacts back all the same, so the preview marks the owner.
    pub owner_active: bool,
    pub contacts: u64,
}

/// The effect of undoing a batch, computed by the same rule as the undo
/// without changing anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UndoPreview {
    pub undone_batch: BatchId,
    /// The counts the undo would report, in the units of [`Outcome`].
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Ordered by role, then by the owner's initials, with « no owner » last.
    pub returns: Vec<OwnerReturn>,
    /// Contacts the undo would skip on their commercial role, because that
    /// owner changed since the batch.
    pub skipped_commercial: u64,
    /// Contacts the undo would skip on their technical role.
    pub skipped_technical: u64,
    /// The skipped history entries, one per contact and role, in contact
    /// order, as the undo lists them.
    pub skipped: Vec<SkippedContact>,
}

impl UndoPreview {
    /// Number of skipped history entries, one per contact and role. A
    /// contact skipped on both roles counts twice.
    pub fn skipped_entries(&self) -> u64 {
        self.skipped_commercial + self.skipped_technical
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::postal::parse_postal_field;

    #[test]
    fn region_covers_country_and_prefix() {
        let france = CountryCode::france();
        let region = RegionReassignment {
            to: 1,
            country: france.clone(),
            postal: parse_postal_field("51;2A", &france).unwrap(),
            roles: RoleChoice::Commercial,
        };

        assert!(region.covers("FRA", "51100"));
        assert!(region.covers("FRA", "20167"));
        assert!(!region.covers("FRA", "20200"));
        assert!(!region.covers("DEU", "51100"));
        assert!(!region.covers("FRA", ""));
    }
}
