//! Command-line output: French sentences, or JSON with `--json`.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use crate::domain::batch::{
    Applied, Batch, BatchId, BatchKind, Outcome, OwnerReturn, SkippedContact, UndoPreview,
    UndoResult,
};
use crate::domain::history::{HistoryEntry, format_paris_time};
use crate::domain::user::User;
use crate::french::{
    de, per_role, plural, prefix_label, role_fr, undo_changed, undo_skipped_contacts,
    undo_skipped_entries,
};
use crate::service::demo::DemoReport;
use crate::service::import::ImportReport;
use crate::service::json as json_view;
use crate::service::reassign::{PreparedRegionReassignment, PreparedUserReassignment};
use crate::service::users_file::UserImportReport;
use crate::storage::{ApiToken, Contact, PrefixCount, RegionPreview};

pub fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("relais : sortie JSON impossible : {error}"),
    }
}

/// Prints the counts of a reassignment. For a dry run, the labels describe
/// what would be done.
fn print_counts(outcome: &Outcome, dry_run: bool) {
    let (changed, already, entries) = if dry_run {
        (
            ("contact à réaffecter", "contacts à réaffecter"),
            (
                "contact déjà affecté, à laisser tel quel",
                "contacts déjà affectés, à laisser tels quels",
            ),
            (
                "entrée d'historique à écrire",
                "entrées d'historique à écrire",
            ),
        )
    } else {
        (
            ("contact réaffecté", "contacts réaffectés"),
            (
                "contact déjà affecté, laissé tel quel",
                "contacts déjà affectés, laissés tels quels",
            ),
            ("entrée d'historique", "entrées d'historique"),
        )
    };
    println!(
        "  {}",
        plural(outcome.matched, "contact concerné", "contacts concernés")
    );
    println!(
        "  {} ({})",
        plural(outcome.changed, changed.0, changed.1),
        crate::french::per_role_of(outcome.changed, outcome.commercial, outcome.technical)
    );
    if outcome.already_owned > 0 {
        println!("  {}", plural(outcome.already_owned, already.0, already.1));
    }
    println!(
        "  {}",
        plural(outcome.history_entries, entries.0, entries.1)
    );
}

fn print_applied_header(applied: &Applied) {
    match applied.batch_id {
        None if applied.replayed => println!(
            "Cette opération avait déjà été lancée avec la même clé et n'avait rien modifié : elle n'a pas été refaite. Pour la relancer, donnez une nouvelle clé (--idempotency-key)."
        ),
        None => println!("Aucun contact à réaffecter : rien n'a été modifié."),
        Some(id) if applied.replayed => println!(
            "Cette opération avait déjà été appliquée avec la même clé : voici le résultat de l'opération de masse n° {id}."
        ),
        Some(id) => println!("Opération de masse n° {id} appliquée."),
    }
}

pub fn print_user_reassignment(
    prepared: &PreparedUserReassignment,
    outcome: &Outcome,
    applied: Option<&Applied>,
    as_json: bool,
) {
    if as_json {
        let mut value = json_view::counts(outcome, applied);
        value["from"] = json!(prepared.from.initials);
        value["to"] = json!(prepared.to.initials);
        print_json(&value);
        return;
    }
    match applied {
        None => println!("Simulation : rien n'a été modifié."),
        Some(applied) => print_applied_header(applied),
    }
    println!(
        "Réaffecter {} vers {} :",
        de(&prepared.from.display_name()),
        prepared.to.display_name()
    );
    print_counts(outcome, applied.is_none());
}

/// Prints a dry run. `typed_prefixes` are the per-prefix rows as the
/// postal field named them (`2A` rather than `200` and `201`), in the text
/// and in the JSON alike.
pub fn print_region_preview(
    prepared: &PreparedRegionReassignment,
    preview: &RegionPreview,
    typed_prefixes: &[PrefixCount],
    as_json: bool,
) {
    if as_json {
        let mut value = json_view::counts(&preview.outcome, None);
        value["to"] = json!(prepared.to.initials);
        value["role"] = json!(prepared.request.roles.as_str());
        value["per_prefix"] = json!(typed_prefixes);
        print_json(&value);
        return;
    }
    println!("Simulation : rien n'a été modifié.");
    print_region_header(prepared);
    print_counts(&preview.outcome, true);
    if !typed_prefixes.is_empty() {
        println!("Par code postal :");
        for prefix in typed_prefixes {
            let label = prefix_label(&prefix.prefix, &prepared.request.country);
            println!(
                "  {label} : {}",
                plural(prefix.matched, "contact", "contacts")
            );
        }
    }
    if !preview.sample.is_empty() {
        // With nothing to change, the sample shows contacts the target
        // already has.
        if preview.outcome.changed == 0 {
            println!("Exemples de contacts déjà affectés, qui ne changeraient pas :");
        } else {
            println!("Exemples de contacts à réaffecter :");
        }
        for contact in &preview.sample {
            println!("  {}", contact_line(contact, Some(prepared)));
        }
    }
}

/// Describes the postal codes of a region as the user typed them, each in
/// quotes: « 51 », « 02 » ou « 2A ». Letters are shown in capitals, as
/// they are matched (`2a` is the département 2A). A long list names its
/// first codes and counts the others.
fn postal_phrase(postal: &str) -> String {
    let parts = crate::french::postal_field_codes(postal);
    let quoted = |parts: &[String]| -> Vec<String> {
        parts.iter().map(|prefix| format!("« {prefix} »")).collect()
    };
    if parts.len() > crate::french::LISTED_POSTAL_CODES {
        let listed = quoted(&parts[..crate::french::LISTED_POSTAL_CODES]);
        return format!(
            "avec un code postal commençant par {} ou par l'un des {} de la liste",
            listed.join(", "),
            plural(
                (parts.len() - crate::french::LISTED_POSTAL_CODES) as u64,
                "autre code",
                "autres codes"
            )
        );
    }
    let prefixes = quoted(&parts);
    match prefixes.as_slice() {
        [] => String::new(),
        [star] if star == "« * »" => "quel que soit le code postal".to_string(),
        [one] => format!("avec un code postal commençant par {one}"),
        [first @ .., last] => format!(
            "avec un code postal commençant par {} ou {last}",
            first.join(", ")
        ),
    }
}

fn print_region_header(prepared: &PreparedRegionReassignment) {
    let country = &prepared.request.country;
    let postal = prepared.params["postal"].as_str().unwrap_or_default();
    let codes = postal_phrase(postal);
    println!(
        "Affecter à {}, comme {}, les contacts ayant une adresse dans le pays {} ({}), {codes} :",
        prepared.to.display_name(),
        crate::french::role_choice_fr(prepared.request.roles),
        country.name_fr(),
        country.as_str()
    );
}

pub fn print_region_applied(
    prepared: &PreparedRegionReassignment,
    applied: &Applied,
    as_json: bool,
) {
    if as_json {
        let mut value = json_view::counts(&applied.outcome, Some(applied));
        value["to"] = json!(prepared.to.initials);
        value["role"] = json!(prepared.request.roles.as_str());
        print_json(&value);
        return;
    }
    print_applied_header(applied);
    print_region_header(prepared);
    print_counts(&applied.outcome, false);
}

/// Formats one contact of a sample, with the address that matched the
/// region when there is one, else its professional address.
fn contact_line(contact: &Contact, region: Option<&PreparedRegionReassignment>) -> String {
    let in_region = |address: &crate::storage::Address| {
        region.is_some_and(|prepared| {
            prepared
                .request
                .covers(&address.country, &address.postal_norm)
        })
    };
    let address = if in_region(&contact.pro) {
        &contact.pro
    } else if in_region(&contact.perso) || contact.pro.is_empty() {
        &contact.perso
    } else {
        &contact.pro
    };
    let place = [address.postal_code.as_str(), address.city.as_str()]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let place = if place.is_empty() {
        address.country.clone()
    } else {
        format!("{place} ({})", address.country)
    };
    one_line(&format!(
        "n° {} {} — {place}",
        contact.id,
        contact.display_name()
    ))
}

/// Turns the line breaks and other control characters a field may hold
/// (a name typed on two lines in a spreadsheet cell) into spaces, so that
/// each contact stays on its own line of the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Prints a contact's history, most recent first. The last line is its
/// creation and the import that made it (`created_by`), which has no entry.
pub fn print_history(
    contact: &Contact,
    entries: &[HistoryEntry],
    created_by: Option<i64>,
    as_json: bool,
) {
    if as_json {
        print_json(&crate::service::json::history(contact, entries, created_by));
        return;
    }
    println!(
        "Historique du contact n° {} — {} :",
        contact.id,
        contact.display_name()
    );
    if entries.is_empty() {
        println!("  (aucun changement de responsable)");
    }
    for entry in entries {
        println!("  {}  {}", entry.local_time_fr(), entry.sentence_fr());
    }
    let created = crate::domain::history::format_paris_time(contact.created_at);
    println!("  {created}  {}", crate::french::creation(created_by));
}

/// Prints the journal; `chains` gives, for each undone batch, the undos
/// that followed it (see `service::reassign::undo_chains`).
pub fn print_batches(
    batches: &[Batch],
    users: &crate::french::UserNames,
    chains: &HashMap<BatchId, Vec<BatchId>>,
    as_json: bool,
) {
    if as_json {
        let values: Vec<serde_json::Value> = batches.iter().map(json_view::batch).collect();
        print_json(&values);
        return;
    }
    if batches.is_empty() {
        println!("Aucune opération de masse.");
        return;
    }
    println!("Journal des opérations (les plus récentes d'abord) :");
    for batch in batches {
        // The parameters line below names the batch an undo undoes.
        let state = chains
            .get(&batch.id)
            .and_then(|chain| crate::french::undone_state(chain))
            .map(|state| format!(" — {state}"))
            .unwrap_or_default();
        // Batches are numbered as they start; the end time orders them as
        // they committed, which undos in a row follow.
        let finished = batch
            .finished_at
            .map(|at| format!(" (fin {})", format_paris_time(at)))
            .unwrap_or_default();
        println!(
            "  n° {}  {}{finished}  {}  par {}  {}{}",
            batch.id,
            format_paris_time(batch.started_at),
            batch.kind.label_fr(),
            batch.actor,
            journal_counts(batch),
            state
        );
        println!("        {}", crate::french::batch_params(batch, users));
    }
}

/// Describes a batch's counts in the words of its kind, as the web journal
/// does: an undo gives contacts back or skips them, an import creates or
/// updates them.
fn journal_counts(batch: &Batch) -> String {
    let outcome = &batch.outcome;
    match batch.kind {
        BatchKind::Undo => format!(
            "{}, {}",
            undo_changed(outcome.changed),
            plural(outcome.already_owned, "contact ignoré", "contacts ignorés")
        ),
        BatchKind::Import => format!(
            "{}, {}",
            plural(
                outcome.changed,
                "contact créé ou mis à jour",
                "contacts créés ou mis à jour"
            ),
            plural(
                outcome.already_owned,
                "contact inchangé",
                "contacts inchangés"
            )
        ),
        BatchKind::Reassign | BatchKind::ReassignRegion => format!(
            "{}, {}",
            plural(outcome.changed, "contact réaffecté", "contacts réaffectés"),
            plural(outcome.already_owned, "déjà affecté", "déjà affectés")
        ),
    }
}

/// Describes a batch's parameters in French for the journal.
pub fn print_undo(result: &UndoResult, as_json: bool) {
    if as_json {
        print_json(&json_view::undo(result));
        return;
    }
    let outcome = &result.applied.outcome;
    match result.applied.batch_id {
        Some(id) if result.applied.replayed => println!(
            "Cette annulation avait déjà été faite avec la même clé : l'opération n° {} a été annulée par l'opération n° {id}, qui n'a pas été refaite.",
            result.undone_batch
        ),
        Some(id) => println!(
            "Opération n° {} annulée par l'opération n° {id}.",
            result.undone_batch
        ),
        None if result.applied.replayed => println!(
            "Cette annulation de l'opération n° {} avait déjà été lancée avec la même clé et n'avait rendu aucun contact à son responsable précédent : elle n'a pas été refaite. Pour annuler l'opération maintenant, relancez la commande avec une nouvelle clé (--idempotency-key).",
            result.undone_batch
        ),
        None if outcome.matched == 0 => {
            println!(
                "{}",
                crate::french::undo_nothing_to_restore(result.undone_batch)
            );
        }
        None => println!(
            "Opération n° {} : aucun contact n'avait encore le responsable qu'elle avait mis ; rien n'a été modifié, et l'opération reste annulable.",
            result.undone_batch
        ),
    }
    print_undo_counts(outcome, false);
    print_returns(&result.returns);
    print_skipped(&result.skipped, false);
}

/// Lists the contacts an undo gives back to each previous owner.
fn print_returns(returns: &[OwnerReturn]) {
    if returns.is_empty() {
        return;
    }
    println!("Par responsable précédent :");
    for owner_return in returns {
        let role = role_fr(owner_return.role);
        let line = match &owner_return.owner {
            Some(owner) if !owner_return.owner_active => format!(
                "responsable {role} {}, dont le compte est désactivé",
                owner.display_name()
            ),
            Some(owner) => format!("responsable {role} {}", owner.display_name()),
            None => format!("sans responsable {role}, comme avant l'opération"),
        };
        println!(
            "  {line} : {}",
            plural(owner_return.contacts, "contact", "contacts")
        );
    }
}

/// Lists the history entries an undo skips, one per contact and role.
fn print_skipped(skipped: &[SkippedContact], dry_run: bool) {
    if skipped.is_empty() {
        return;
    }
    let count = skipped.len() as u64;
    let heading = if dry_run {
        entries_to_skip(count)
    } else {
        undo_skipped_entries(count)
    };
    println!("{heading} :");
    for entry in skipped {
        println!("  {}", crate::french::skipped_entry(entry));
    }
}

/// « 2 entrées d'historique à ignorer, une par contact et par rôle », for
/// an undo's dry run.
fn entries_to_skip(entries: u64) -> String {
    format!(
        "{}, une par contact et par rôle",
        plural(
            entries,
            "entrée d'historique à ignorer",
            "entrées d'historique à ignorer"
        )
    )
}

/// Prints the counts of an undo or of its dry run.
fn print_undo_counts(outcome: &Outcome, dry_run: bool) {
    println!(
        "  {}",
        plural(outcome.matched, "contact concerné", "contacts concernés")
    );
    let (changed, skipped, entries) = if dry_run {
        (
            plural(
                outcome.changed,
                "contact à réaffecter à son responsable précédent",
                "contacts à réaffecter à leur responsable précédent",
            ),
            plural(
                outcome.already_owned,
                "contact à ignorer, car son responsable a changé depuis l'opération",
                "contacts à ignorer, car leur responsable a changé depuis l'opération",
            ),
            plural(
                outcome.history_entries,
                "entrée d'historique à écrire",
                "entrées d'historique à écrire",
            ),
        )
    } else {
        (
            undo_changed(outcome.changed),
            undo_skipped_contacts(outcome.already_owned),
            plural(
                outcome.history_entries,
                "entrée d'historique",
                "entrées d'historique",
            ),
        )
    };
    println!(
        "  {changed} ({})",
        crate::french::per_role_of(outcome.changed, outcome.commercial, outcome.technical)
    );
    println!("  {skipped}");
    println!("  {entries}");
}

/// Prints `undo --dry-run`: what the undo would do, per role and owner.
pub fn print_undo_preview(preview: &UndoPreview, as_json: bool) {
    if as_json {
        print_json(&json_view::undo_preview(preview));
        return;
    }
    println!("Simulation : rien n'a été modifié.");
    if preview.outcome.matched == 0 {
        println!(
            "{}",
            crate::french::undo_nothing_to_restore(preview.undone_batch)
        );
        return;
    }
    println!("Annuler l'opération n° {} :", preview.undone_batch);
    print_undo_counts(&preview.outcome, true);
    if preview.skipped_entries() > 0 {
        println!(
            "  {} ({})",
            entries_to_skip(preview.skipped_entries()),
            per_role(preview.skipped_commercial, preview.skipped_technical)
        );
    }
    print_returns(&preview.returns);
    print_skipped(&preview.skipped, true);
}

pub fn print_import(report: &ImportReport) {
    match report.batch_id {
        Some(batch) => println!("Importation terminée (opération n° {batch}) :"),
        None => {
            println!("Importation terminée sans rien modifier (aucune opération enregistrée) :")
        }
    }
    println!(
        "  {}",
        plural(report.imported, "contact créé", "contacts créés")
    );
    let updated = plural(report.updated, "contact mis à jour", "contacts mis à jour");
    if report.history_entries > 0 {
        // An owner the file sets back undoes a reassignment, so the
        // report counts owner changes.
        // One change per contact and role, so it may pass the number of
        // contacts: a count beside them, not a part.
        println!(
            "  {updated} ({})",
            crate::french::owner_changes(report.history_entries)
        );
    } else {
        println!("  {updated}");
    }
    println!(
        "  {}",
        plural(report.unchanged, "contact inchangé", "contacts inchangés")
    );
    if !report.created_users.is_empty() {
        println!("  utilisateurs créés : {}", report.created_users.join(", "));
    }
    if !report.ignored_columns.is_empty() {
        println!(
            "  colonnes ignorées : {}",
            crate::french::ignored_columns(&report.ignored_columns)
        );
    }
    for warning in &report.warnings {
        println!("Attention : {warning}");
    }
    if !report.rejected.is_empty() {
        println!(
            "{} :",
            plural(
                report.rejected.len() as u64,
                "ligne rejetée",
                "lignes rejetées"
            )
        );
        for rejection in &report.rejected {
            if rejection.column.is_empty() {
                println!("  ligne {} : {}", rejection.line, rejection.reason);
            } else {
                println!(
                    "  ligne {}, colonne « {} » : {}",
                    rejection.line, rejection.column, rejection.reason
                );
            }
        }
    }
}

pub fn print_user_import(report: &UserImportReport) {
    println!(
        "{}",
        plural(
            report.created.len() as u64,
            "utilisateur créé",
            "utilisateurs créés"
        )
    );
    if !report.created.is_empty() {
        println!("  {}", report.created.join(", "));
    }
    for skipped in &report.skipped {
        if skipped.login.is_empty() {
            println!("  ligne {} ignorée : {}", skipped.line, skipped.reason);
        } else {
            println!(
                "  ligne {} (« {} ») ignorée : {}",
                skipped.line, skipped.login, skipped.reason
            );
        }
    }
    for namesake in &report.namesakes {
        println!("Attention : {namesake}");
    }
}

pub fn print_users(users: &[User], as_json: bool) {
    if as_json {
        print_json(&users);
        return;
    }
    for user in users {
        let mut notes = Vec::new();
        if user.role == crate::domain::user::UserRole::Admin {
            notes.push("administrateur");
        }
        if !user.active {
            notes.push("compte désactivé");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" — {}", notes.join(", "))
        };
        println!(
            "{}{}{}",
            user.display_name(),
            user.email
                .as_deref()
                .map(|email| format!(" <{email}>"))
                .unwrap_or_default(),
            notes
        );
    }
}

/// JSON of a token: the record plus a `revoked` flag, never a secret.
fn token_json(token: &ApiToken) -> serde_json::Value {
    let mut value = json!(token);
    value["revoked"] = json!(token.revoked_at.is_some());
    value
}

pub fn print_tokens(tokens: &[ApiToken], user: Option<&User>, as_json: bool) {
    if as_json {
        let list: Vec<_> = tokens.iter().map(token_json).collect();
        print_json(&list);
        return;
    }
    if tokens.is_empty() {
        match user {
            Some(user) => println!("Aucun jeton d'API pour {}.", user.display_name()),
            None => println!("Aucun jeton d'API."),
        }
        return;
    }
    match user {
        Some(user) => println!(
            "Jetons d'API {} (les plus récents d'abord) :",
            de(&user.display_name())
        ),
        None => println!("Jetons d'API (les plus récents d'abord) :"),
    }
    for token in tokens {
        let last_use = match token.last_used_at {
            Some(at) => format!(
                "dernier usage le {}",
                crate::domain::history::format_paris_moment(at)
            ),
            None => "jamais utilisé".to_string(),
        };
        let state = match token.revoked_at {
            Some(at) => format!(
                "révoqué le {}",
                crate::domain::history::format_paris_moment(at)
            ),
            None => "actif".to_string(),
        };
        println!(
            "  n° {}  {}  « {} »  créé le {}, {last_use} — {state}",
            token.id,
            token.user.display_name(),
            token.label,
            crate::domain::history::format_paris_moment(token.created_at),
        );
    }
}

pub fn print_token_revoked(token: &ApiToken, as_json: bool) {
    if as_json {
        print_json(&token_json(token));
        return;
    }
    println!(
        "Jeton n° {} (« {} ») {} révoqué : l'API le refuse désormais.",
        token.id,
        token.label,
        de(&token.user.display_name())
    );
}

/// Hides the password of a database URL (`postgres://user:secret@host`).
fn without_password(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => location.to_string(),
    }
}

pub fn print_demo(report: &DemoReport, db: &str) {
    println!(
        "Base de démonstration créée dans « {} » : {}.",
        without_password(db),
        plural(report.contacts, "contact", "contacts")
    );
    println!("Utilisateurs : {}", report.users.join(", "));
    println!(
        "Administrateur de démonstration : {} ({}), mot de passe « {} »",
        report.admin_email, report.admin_initials, report.admin_password
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn postal_phrase_lists_each_prefix() {
        assert_eq!(
            super::postal_phrase("51; 02;;2A"),
            "avec un code postal commençant par « 51 », « 02 » ou « 2A »"
        );
        assert_eq!(
            super::postal_phrase("51"),
            "avec un code postal commençant par « 51 »"
        );
        assert_eq!(super::postal_phrase(" * "), "quel que soit le code postal");
        assert_eq!(
            super::postal_phrase("75;75"),
            "avec un code postal commençant par « 75 »"
        );
        assert_eq!(
            super::postal_phrase("2a;2b"),
            "avec un code postal commençant par « 2A » ou « 2B »"
        );
        assert_eq!(
            super::postal_phrase("51\t02\n2A"),
            "avec un code postal commençant par « 51 », « 02 » ou « 2A »"
        );
    }

    #[test]
    fn postal_phrase_counts_a_long_list() {
        let codes: Vec<String> = (0..3000).map(|n| format!("{:05}", 1000 + n)).collect();

        let phrase = super::postal_phrase(&codes.join(";"));

        assert!(
            phrase.starts_with("avec un code postal commençant par « 01000 », « 01001 »"),
            "{phrase}"
        );
        assert!(
            phrase.ends_with("« 01011 » ou par l'un des 2\u{202F}988 autres codes de la liste"),
            "{phrase}"
        );
    }

    use super::*;

    #[test]
    fn one_line_replaces_line_breaks() {
        assert_eq!(one_line("Jean\r\nPierre\tMARTIN"), "Jean  Pierre MARTIN");
    }

    #[test]
    fn password_hidden_in_database_url() {
        assert_eq!(
            without_password("postgres://relais:secret@db:5432/crm"),
            "postgres://relais:***@db:5432/crm"
        );
        assert_eq!(
            without_password("postgres://relais@db/crm"),
            "postgres://relais@db/crm"
        );
        assert_eq!(without_password("./relais.db"), "./relais.db");
    }

    #[test]
    fn preposition_elided_before_vowel() {
        assert_eq!(de("Alice MARTIN (AM)"), "d'Alice MARTIN (AM)");
        assert_eq!(de("Jean DUPONT (JD)"), "de Jean DUPONT (JD)");
        assert_eq!(de("Émilie MOREL (EM)"), "d'Émilie MOREL (EM)");
    }
}
