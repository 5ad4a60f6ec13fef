//! History entries and the French sentence each one shows.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use super::batch::BatchId;
use super::contact::{ContactId, Role};
use super::user::{UserId, display_name};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// Mass reassignment from one user to another.
    Reassign,
    /// Mass reassignment by postal region.
    ReassignRegion,
    /// Owner restored by cancelling a batch.
    Undo,
    /// Owner changed by a re-import.
    Import,
}

impl HistoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Reassign => "reassign",
            HistoryKind::ReassignRegion => "reassign_region",
            HistoryKind::Undo => "undo",
            HistoryKind::Import => "import",
        }
    }

    pub fn parse(value: &str) -> Option<HistoryKind> {
        match value {
            "reassign" => Some(HistoryKind::Reassign),
            "reassign_region" => Some(HistoryKind::ReassignRegion),
            "undo" => Some(HistoryKind::Undo),
            "import" => Some(HistoryKind::Import),
            _ => None,
        }
    }

    fn phrase_fr(self) -> &'static str {
        match self {
            HistoryKind::Reassign => "réaffectation en masse",
            HistoryKind::ReassignRegion => "réaffectation par région",
            HistoryKind::Undo => "annulation",
            HistoryKind::Import => "importation",
        }
    }
}

/// A user as history and lists refer to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserRef {
    pub id: UserId,
    pub initials: String,
    pub first_name: String,
    pub last_name: String,
}

impl UserRef {
    pub fn display_name(&self) -> String {
        display_name(&self.first_name, &self.last_name, &self.initials)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub contact_id: ContactId,
    pub at: DateTime<Utc>,
    pub kind: HistoryKind,
    pub role: Option<Role>,
    pub previous_owner: Option<UserRef>,
    pub new_owner: Option<UserRef>,
    pub batch_id: Option<BatchId>,
    /// Display form of who did it, as stored at the time.
    pub actor: String,
    /// For an undo's entry, the batch that undo cancelled.
    pub undoes: Option<BatchId>,
}

impl HistoryEntry {
    /// Builds the French sentence shown on the contact page, e.g.
    /// « Responsable commercial : Jean DUPONT (JD) → Baptiste BONCHAMPS (BB)
    /// — réaffectation en masse n° 12 par Alice MARTIN (AM) ».
    pub fn sentence_fr(&self) -> String {
        let owner = |user: &Option<UserRef>| match user {
            Some(user) => user.display_name(),
            None => "aucun".to_string(),
        };
        let label = self.role.map(Role::owner_label_fr).unwrap_or("Responsable");
        let mut sentence = format!(
            "{label} : {} → {} — {}",
            owner(&self.previous_owner),
            owner(&self.new_owner),
            self.kind.phrase_fr()
        );
        if let Some(batch) = self.batch_id {
            sentence.push_str(&format!(" n° {batch}"));
        }
        // Without it, « annulation n° 5 » under « réaffectation n° 4 »
        // reads as the undo of n° 4.
        if let Some(undone) = self.undoes {
            sentence.push_str(&format!(" (de l'opération n° {undone})"));
        }
        sentence.push_str(&format!(" par {}", self.actor));
        sentence
    }

    /// Time in Europe/Paris, as French users read it.
    pub fn local_time_fr(&self) -> String {
        format_paris_time(self.at)
    }
}

/// Formats a UTC time in Europe/Paris as `04/12/2026 20:15`.
pub fn format_paris_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// Formats a moment for a sentence, after « le »: `05/12/2026 à 16:21`,
/// Paris time.
pub fn format_paris_moment(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris)
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn user(id: UserId, first: &str, last: &str, initials: &str) -> UserRef {
        UserRef {
            id,
            initials: initials.into(),
            first_name: first.into(),
            last_name: last.into(),
        }
    }

    #[test]
    fn sentence_names_both_owners_batch_and_actor() {
        let entry = HistoryEntry {
            id: 1,
            contact_id: 7,
            at: Utc.with_ymd_and_hms(2026, 12, 4, 19, 15, 0).unwrap(),
            kind: HistoryKind::Reassign,
            role: Some(Role::Commercial),
            previous_owner: Some(user(1, "Jean", "Dupont", "JD")),
            new_owner: Some(user(2, "Baptiste", "Bonchamps", "BB")),
            batch_id: Some(12),
            actor: "Alice MARTIN (AM)".into(),
            undoes: None,
        };

        assert_eq!(
            entry.sentence_fr(),
            "Responsable commercial : Jean DUPONT (JD) → Baptiste BONCHAMPS (BB) — réaffectation en masse n° 12 par Alice MARTIN (AM)"
        );
        assert_eq!(entry.local_time_fr(), "04/12/2026 20:15");

        let undo = HistoryEntry {
            kind: HistoryKind::Undo,
            batch_id: Some(14),
            undoes: Some(12),
            previous_owner: entry.new_owner.clone(),
            new_owner: entry.previous_owner.clone(),
            ..entry
        };
        assert_eq!(
            undo.sentence_fr(),
            "Responsable commercial : Baptiste BONCHAMPS (BB) → Jean DUPONT (JD) — annulation n° 14 (de l'opération n° 12) par Alice MARTIN (AM)"
        );
    }

    #[test]
    fn summer_time_is_two_hours_ahead() {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 10, 0, 0).unwrap();
        assert_eq!(format_paris_time(at), "01/07/2026 12:00");
    }
}
