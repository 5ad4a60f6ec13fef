//! Notes the resolver takes on owner cells while rows are written, and the
//! report warnings built from them once the file is read.

use crate::domain::user::UserId;

use super::owner_cells::{display_form, without_civility};
use super::owner_index::name_key;
use super::resolver::{LISTED_DOUBTFUL_POSTAL_CODES, LISTED_NAME_MISMATCHES, OwnerRows, Resolver};

impl Resolver<'_> {
    /// Notes an owner cell in display form, in an imported row, whose name
    /// is not the name of the user its initials give. The row still goes
    /// to that user, since a user renamed since an export keeps the
    /// initials, but the report warns, in case the initials are a typo.
    pub(super) fn check_display_name(&mut self, reference: &str, id: UserId, line: u64) {
        let Some((name, initials)) = display_form(reference) else {
            return;
        };
        let Some((user, user_key)) = self.index.names.get(&id) else {
            return;
        };
        // `JD (JD)` repeats the initials in place of a name: nothing to
        // compare. A civility (`Mme Hélène LÉVÊQUE (HL)`) is no part of
        // the name.
        let name = without_civility(name);
        if name.trim().is_empty()
            || name_key(name) == *user_key
            || name.trim().eq_ignore_ascii_case(initials)
        {
            return;
        }
        self.name_mismatches
            .entry(reference.to_string())
            .and_modify(|rows| rows.add_line(line))
            .or_insert_with(|| OwnerRows::new(user, line));
    }

    /// Notes an owner cell, in an imported row, holding a login or initials
    /// that are also other users' name. The row goes to the user with that
    /// login or those initials, as keys come before names, but the report
    /// warns, in case the file meant one of the others.
    pub(super) fn note_shadowed_key(&mut self, reference: &str, id: UserId, line: u64) {
        if self.index.shadowed.is_empty() {
            return;
        }
        let Some(shadowed) = self.index.shadowed.get(&reference.to_lowercase()) else {
            return;
        };
        let Some((user, _)) = self.index.names.get(&id) else {
            return;
        };
        if shadowed.user != id {
            return;
        }
        self.shadowed_cells
            .entry(reference.to_lowercase())
            .and_modify(|rows| rows.add_line(line))
            .or_insert_with(|| OwnerRows::new(user, line));
    }

    /// Returns one warning per owner cell noted by `note_shadowed_key`.
    pub(super) fn shadowed_key_warnings(&self) -> Vec<String> {
        let mut cells: Vec<(&String, &OwnerRows)> = self.shadowed_cells.iter().collect();
        cells.sort_by_key(|(_, rows)| rows.first_line);
        cells
            .into_iter()
            .filter_map(|(cell, rows)| {
                let shadowed = self.index.shadowed.get(cell)?;
                let cell = &shadowed.key;
                let (assigned, contacts) = if rows.rows == 1 {
                    ("à qui ce contact a été affecté", "ce contact")
                } else {
                    ("à qui ces contacts ont été affectés", "ces contacts")
                };
                let others: Vec<String> = shadowed
                    .others
                    .iter()
                    .map(|other| crate::french::de(other))
                    .collect();
                Some(format!(
                    "{lines} : le responsable « {cell} » est {key_kind} {user}, {assigned}, mais \
                     c'est aussi le {name_kind} {others} ; si ce n'est pas le bon responsable, \
                     écrivez dans le fichier les initiales de celui qui convient et réimportez-le, \
                     ou réaffectez {contacts}",
                    lines = rows.lines(),
                    key_kind = shadowed.key_kind,
                    user = crate::french::de(&rows.user),
                    name_kind = shadowed.name_kind,
                    others = crate::french::list_and(&others)
                ))
            })
            .collect()
    }

    /// Notes a row that gives a contact to a deactivated user. The row is
    /// imported, since an export of the base names such owners, but the
    /// report warns: a deactivated user cannot work on the contact.
    pub(super) fn note_inactive_owner(&mut self, id: UserId, line: u64) {
        if !self.index.inactive.contains(&id) {
            return;
        }
        let Some((user, _)) = self.index.names.get(&id) else {
            return;
        };
        self.inactive_owners
            .entry(id)
            .and_modify(|rows| rows.add_line(line))
            .or_insert_with(|| OwnerRows::new(user, line));
    }

    /// Lists a warning about a postal code, or counts it past the first
    /// `LISTED_DOUBTFUL_POSTAL_CODES`.
    pub(super) fn list_doubtful_postal_code(&mut self, warning: String) {
        let (listed, more) = &mut self.doubtful_postal_codes;
        if listed.len() < LISTED_DOUBTFUL_POSTAL_CODES {
            listed.push(warning);
        } else {
            *more += 1;
        }
    }

    /// Returns one warning per deactivated user the file gives contacts to.
    pub(super) fn inactive_owner_warnings(&self) -> Vec<String> {
        let mut owners: Vec<&OwnerRows> = self.inactive_owners.values().collect();
        owners.sort_by_key(|rows| rows.first_line);
        owners
            .into_iter()
            .map(|rows| {
                let (these, verb, them) = if rows.rows == 1 {
                    ("ce contact", "est affecté", "réaffectez-le")
                } else {
                    ("ces contacts", "sont affectés", "réaffectez-les")
                };
                format!(
                    "{} : le compte {} est désactivé, et le fichier le nomme comme responsable ; \
                     {these} lui {verb}, {them} à un utilisateur actif si besoin \
                     (relais reassign)",
                    rows.lines(),
                    crate::french::de(&rows.user)
                )
            })
            .collect()
    }

    /// Returns one warning per owner cell whose name is not its user's, in
    /// file order, up to `LISTED_NAME_MISMATCHES` of them and then one
    /// line that counts the others.
    pub(super) fn name_mismatch_warnings(&self) -> Vec<String> {
        let mut mismatches: Vec<(&String, &OwnerRows)> = self.name_mismatches.iter().collect();
        mismatches.sort_by_key(|(_, mismatch)| mismatch.first_line);
        let unlisted = mismatches.len().saturating_sub(LISTED_NAME_MISMATCHES);
        let mut warnings: Vec<String> = mismatches
            .into_iter()
            .take(LISTED_NAME_MISMATCHES)
            .map(|(cell, mismatch)| {
                let lines = mismatch.lines();
                let (assigned, contacts) = if mismatch.rows == 1 {
                    ("ce contact lui a été affecté", "ce contact")
                } else {
                    ("ces contacts lui ont été affectés", "ces contacts")
                };
                format!(
                    "{lines} : le responsable « {cell} » porte les initiales {user} mais un autre nom ; \
                     {assigned} d'après les initiales ; si ce n'est pas le bon responsable, corrigez \
                     le fichier et réimportez-le, ou réaffectez {contacts}",
                    user = crate::french::de(&mismatch.user)
                )
            })
            .collect();
        if unlisted > 0 {
            warnings.push(format!(
                "… et {} de responsable dont le nom n'est pas celui de l'utilisateur désigné par \
                 les initiales",
                crate::french::plural(unlisted as u64, "autre cellule", "autres cellules")
            ));
        }
        warnings
    }
}
