//! View models shared by several screens: counts of a run, contact rows,
//! and the result page of a reassignment.

use askama::Template;

use crate::domain::batch::{Applied, BatchId, Outcome};
use crate::domain::history::UserRef;
use crate::storage::{Address, Contact};
use crate::web::labels::{self, plural};

use super::layout::Layout;

/// The counts of a preview or a run, as French phrases.
pub struct CountsView {
    pub matched: String,
    pub changed: String,
    pub per_role: String,
    pub already_owned: String,
    /// Whether some matched contacts already had the target as owner. The
    /// journal and the user preview mention them only then.
    pub has_already_owned: bool,
    pub history_entries: String,
    /// Raw number of contacts that change, for tests and scripts reading
    /// the page (`data-changed`).
    pub changed_raw: u64,
}

impl CountsView {
    pub fn new(outcome: &Outcome) -> CountsView {
        CountsView {
            matched: plural(outcome.matched, "contact concerné", "contacts concernés"),
            changed: plural(outcome.changed, "contact réaffecté", "contacts réaffectés"),
            per_role: crate::french::per_role_of(
                outcome.changed,
                outcome.commercial,
                outcome.technical,
            ),
            already_owned: plural(
                outcome.already_owned,
                "contact déjà affecté, laissé tel quel",
                "contacts déjà affectés, laissés tels quels",
            ),
            has_already_owned: outcome.already_owned > 0,
            history_entries: plural(
                outcome.history_entries,
                "entrée d'historique",
                "entrées d'historique",
            ),
            changed_raw: outcome.changed,
        }
    }
}

impl CountsView {
    /// Counts of a batch in the journal, in the words of its kind: an undo
    /// gives contacts back to their previous owner or skips them, an import creates or updates them.
    pub fn for_batch(kind: crate::domain::batch::BatchKind, outcome: &Outcome) -> CountsView {
        use crate::domain::batch::BatchKind;
        let mut view = CountsView::new(outcome);
        match kind {
            BatchKind::Undo => {
                view.changed = crate::french::undo_changed(outcome.changed);
                view.already_owned = crate::french::undo_skipped_contacts(outcome.already_owned);
            }
            BatchKind::Import => {
                view.changed = plural(
                    outcome.changed,
                    "contact créé ou mis à jour",
                    "contacts créés ou mis à jour",
                );
                // One change per contact and role, so it may pass the
                // number of contacts: a count beside them, not a part.
                view.per_role = crate::french::owner_changes(outcome.history_entries);
                view.already_owned = plural(
                    outcome.already_owned,
                    "contact inchangé",
                    "contacts inchangés",
                );
            }
            BatchKind::Reassign | BatchKind::ReassignRegion => {}
        }
        view
    }
}

/// One address cell of a contact row.
pub struct AddressCell {
    pub line: String,
    pub departement: Option<String>,
    pub collectivity: bool,
    pub warning: Option<&'static str>,
}

impl AddressCell {
    pub fn new(address: &Address) -> Option<AddressCell> {
        if address.is_empty() {
            return None;
        }
        let note = labels::postal_note(address);
        Some(AddressCell {
            line: labels::address_line(address),
            departement: note.departement,
            collectivity: note.collectivity,
            warning: note.warning,
        })
    }
}

/// A contact in a list, a preview sample or a batch.
pub struct ContactRow {
    pub id: i64,
    pub href: String,
    pub name: String,
    pub company: String,
    pub commercial: String,
    pub technical: String,
    pub pro: Option<AddressCell>,
    pub perso: Option<AddressCell>,
}

fn owner_name(owner: &Option<UserRef>) -> String {
    match owner {
        Some(user) => user.display_name(),
        None => "aucun".to_string(),
    }
}

impl ContactRow {
    pub fn new(contact: &Contact) -> ContactRow {
        let name = contact.display_name();
        // A contact without a person's name is shown by its company, which
        // then is not repeated beside it.
        let company = if name == contact.company {
            String::new()
        } else {
            contact.company.clone()
        };
        ContactRow {
            id: contact.id,
            href: format!("/contacts/{}", contact.id),
            name,
            company,
            commercial: owner_name(&contact.commercial_owner),
            technical: owner_name(&contact.technical_owner),
            pro: AddressCell::new(&contact.pro),
            perso: AddressCell::new(&contact.perso),
        }
    }
}

pub fn contact_rows(contacts: &[Contact]) -> Vec<ContactRow> {
    contacts.iter().map(ContactRow::new).collect()
}

/// Page shown after Valider: what the run changed, and its batch.
#[derive(Template)]
#[template(path = "run_result.html")]
pub struct RunResultPage {
    pub layout: Layout,
    pub lead: String,
    pub description: String,
    pub counts: CountsView,
    pub batch_id: Option<BatchId>,
    pub replayed: bool,
    pub again_href: &'static str,
    /// Warning that the run changed another number of contacts than the
    /// preview announced.
    pub notice: Option<String>,
}

/// Writes the first sentence of the result page.
pub fn result_lead(applied: &Applied, target_name: &str) -> String {
    match applied.batch_id {
        Some(id) if applied.replayed => format!(
            "Ce formulaire avait déjà été validé : l'opération de masse n° {id} n'a pas été refaite. Voici son résultat."
        ),
        Some(id) => format!("Opération de masse n° {id} appliquée."),
        None if applied.replayed => "Ce formulaire avait déjà été validé : l'opération n'avait rien modifié et n'a pas été refaite. Pour la relancer, ouvrez de nouveau le formulaire.".to_string(),
        None if applied.outcome.matched == 0 => {
            "Aucun contact ne correspond : rien n'a été modifié et aucune opération n'a été enregistrée.".to_string()
        }
        None => format!(
            "Tous les contacts concernés étaient déjà affectés à {target_name} : rien n'a été modifié et aucune opération n'a été enregistrée."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::ContactRow;
    use crate::storage::Contact;

    fn contact(first_name: &str, last_name: &str, company: &str) -> Contact {
        Contact {
            id: 7,
            external_id: None,
            civility: String::new(),
            first_name: first_name.to_string(),
            last_name: last_name.to_string(),
            company: company.to_string(),
            email: String::new(),
            phone: String::new(),
            commercial_owner: None,
            technical_owner: None,
            perso: Default::default(),
            pro: Default::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn company_named_once_when_it_is_the_name() {
        let company_only = ContactRow::new(&contact("", "", "Boulangerie Martin"));
        let person = ContactRow::new(&contact("Léa", "Richard", "Boulangerie Martin"));

        assert_eq!(company_only.name, "Boulangerie Martin");
        assert_eq!(company_only.company, "");
        assert_eq!(person.name, "Léa RICHARD");
        assert_eq!(person.company, "Boulangerie Martin");
    }
}
