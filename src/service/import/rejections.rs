//! Rows the store set aside when it wrote them (a number or external id
//! taken, a stale « Modifié le »), turned into rejections naming the
//! column at fault.

use crate::import::RowRejection;
use crate::storage::{ImportSession, KeyConflict, KeyConflictKind};

/// Moves the key conflicts of the chunks written so far to `rejected`, and
/// returns how many were numbers naming no contact or another person.
pub(super) fn take_key_conflicts(
    session: &mut dyn ImportSession,
    headers: &RejectionHeaders,
    rejected: &mut Vec<RowRejection>,
) -> u64 {
    let mut foreign_numbers = 0;
    for conflict in session.take_key_conflicts() {
        if matches!(
            conflict.kind,
            KeyConflictKind::UnknownNumber | KeyConflictKind::OtherNames
        ) {
            foreign_numbers += 1;
        }
        let (column, reason) = describe_key_conflict(&conflict, headers);
        rejected.push(RowRejection {
            line: conflict.line,
            column,
            reason,
        });
    }
    foreign_numbers
}

/// Returns the column at fault and the French reason of a key conflict.
fn describe_key_conflict(conflict: &KeyConflict, headers: &RejectionHeaders) -> (String, String) {
    let number = conflict.contact_number;
    let external_id = conflict.external_id.as_deref().unwrap_or_default();
    match &conflict.kind {
        KeyConflictKind::UnknownNumber => (
            headers.contact_number.clone(),
            format!(
                "aucun contact n° {number} : vérifiez le n° Relais, ou videz la cellule \
                 pour créer un nouveau contact"
            ),
        ),
        KeyConflictKind::OtherNames => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a un autre nom, prénom ou société : si la ligne vient \
                 d'une autre base, videz la cellule pour créer un nouveau contact ; si vous avez \
                 corrigé son nom, gardez la colonne « Identifiant externe » de l'export, qui \
                 désigne le contact quel que soit son nom, ou remettez le nom exporté"
            ),
        ),
        KeyConflictKind::OtherExternalId { stored } if conflict.external_id.is_some() => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a l'identifiant externe « {stored} », \
                 pas « {external_id} » : corrigez le n° Relais ou l'identifiant externe"
            ),
        ),
        // A file without an external-id column reaches this for a row
        // without names to check: emptying the number there would create
        // a duplicate, so the advice is to give a name.
        KeyConflictKind::OtherExternalId { stored } if headers.external_id.is_empty() => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a l'identifiant externe « {stored} » : ajoutez au \
                 fichier la colonne « Identifiant externe » de l'export, ou une colonne Nom, \
                 Prénom ou Société, pour confirmer qu'il s'agit bien de ce contact"
            ),
        ),
        KeyConflictKind::OtherExternalId { stored } => (
            headers.contact_number.clone(),
            format!(
                "le contact n° {number} a l'identifiant externe « {stored} » : si la ligne \
                 est bien ce contact, indiquez cet identifiant externe ; si elle vient d'une \
                 autre base, videz le n° Relais pour créer un nouveau contact"
            ),
        ),
        KeyConflictKind::ChangedSinceExport { changed_at } => (
            headers.modified_at.clone(),
            format!(
                "le contact n° {number} a été modifié le {}, après l'export de ce fichier : la \
                 ligne est ignorée pour ne pas défaire ce changement ; réexportez le contact, ou \
                 videz sa cellule « Modifié le » pour imposer la ligne",
                changed_at
                    .with_timezone(&chrono_tz::Europe::Paris)
                    .format("%d/%m/%Y à %H:%M:%S")
            ),
        ),
        KeyConflictKind::NoIdentityLeft => (
            String::new(),
            format!(
                "la ligne laisserait le contact n° {number} sans nom, prénom, société, e-mail \
                 ni téléphone : remplissez au moins l'une de ces cellules, ou retirez du fichier \
                 les colonnes que la ligne ne doit pas modifier"
            ),
        ),
        KeyConflictKind::UnknownExternalId => (
            headers.external_id.clone(),
            format!(
                "aucun contact n'a l'identifiant externe « {external_id} », et la ligne n'a \
                 ni nom, ni prénom, ni société, ni e-mail, ni téléphone pour en créer un : \
                 vérifiez l'identifiant, ou ajoutez au moins le nom"
            ),
        ),
        KeyConflictKind::ExternalIdOfOtherNumber { stored_number } => (
            headers.external_id.clone(),
            format!(
                "l'identifiant externe « {external_id} » est celui du contact n° {stored_number}, \
                 pas du n° {number} : corrigez le n° Relais ou l'identifiant externe"
            ),
        ),
    }
}

/// Headers of the file named by rejections found after parsing.
pub(super) struct RejectionHeaders {
    pub(super) commercial: String,
    pub(super) technical: String,
    pub(super) external_id: String,
    pub(super) contact_number: String,
    pub(super) modified_at: String,
}
