//! Importing a contact file: read and check each row, resolve owners to
//! users, write everything in one transaction.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::domain::batch::{Actor, BatchId};
use crate::domain::country::CountryCode;
use crate::domain::user::{NewUser, User, UserId, UserRole};
use crate::import::{Field, ImportOptions, RowRejection, read_contacts};
use crate::storage::{ContactWrite, ImportCounts, ImportSession, Store};

use super::ServiceError;
use super::users::free_initials;

/// Rows written per call to the storage engine.
const CHUNK_ROWS: usize = 2_000;

#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub default_country: CountryCode,
    pub create_missing_users: bool,
    pub actor: Actor,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub batch_id: BatchId,
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub history_entries: u64,
    pub rejected: Vec<RowRejection>,
    /// Initials of the users created for unknown owners.
    pub created_users: Vec<String>,
    /// Headers of the file that match no known column.
    pub ignored_columns: Vec<String>,
}

/// Owners as found in files: initials, login or e-mail, in any case.
struct OwnerIndex {
    by_key: HashMap<String, UserId>,
    initials: std::collections::HashSet<String>,
}

impl OwnerIndex {
    fn new(users: &[User]) -> OwnerIndex {
        let mut index = OwnerIndex {
            by_key: HashMap::new(),
            initials: Default::default(),
        };
        // Initials win over logins and e-mails, as in `Store::find_user`,
        // so they are inserted last.
        for user in users {
            if let Some(email) = &user.email {
                index.by_key.insert(email.to_lowercase(), user.id);
            }
        }
        for user in users {
            if let Some(login) = &user.login {
                index.by_key.insert(login.to_lowercase(), user.id);
            }
        }
        for user in users {
            index.add_initials(user);
        }
        index
    }

    fn add_initials(&mut self, user: &User) {
        self.by_key.insert(user.initials.to_lowercase(), user.id);
        self.initials.insert(user.initials.clone());
    }

    fn get(&self, reference: &str) -> Option<UserId> {
        self.by_key.get(&reference.trim().to_lowercase()).copied()
    }
}

struct Resolver<'a> {
    index: OwnerIndex,
    create_missing: bool,
    created: Vec<String>,
    session: &'a mut dyn ImportSession,
}

impl Resolver<'_> {
    /// Resolves one owner reference; `Err` holds the French reason.
    fn resolve(&mut self, reference: Option<&str>) -> Result<Option<UserId>, String> {
        let Some(reference) = reference.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        if let Some(id) = self.index.get(reference) {
            return Ok(Some(id));
        }
        if !self.create_missing {
            return Err(format!(
                "responsable « {reference} » inconnu : créez l'utilisateur (relais user add) ou relancez avec --create-missing-users"
            ));
        }
        let is_email = reference.contains('@');
        let taken = |candidate: &str| self.index.initials.contains(candidate);
        let initials = free_initials(
            &taken,
            "",
            "",
            reference.split('@').next().unwrap_or(reference),
        );
        let user = self
            .session
            .create_user(&NewUser {
                initials,
                login: (!is_email).then(|| reference.to_string()),
                first_name: String::new(),
                last_name: reference.to_string(),
                email: is_email.then(|| reference.to_string()),
                role: UserRole::User,
                active: true,
                password_hash: None,
            })
            .map_err(|error| error.to_string())?;
        self.index.by_key.insert(reference.to_lowercase(), user.id);
        self.index.add_initials(&user);
        self.created.push(user.initials.clone());
        Ok(Some(user.id))
    }
}

/// Imports `path`; `progress` receives the bytes read so far.
pub fn import_file(
    store: &dyn Store,
    path: &Path,
    request: &ImportRequest,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ServiceError> {
    let file = File::open(path).map_err(|error| {
        ServiceError::invalid(
            "file_unreadable",
            "file",
            format!("fichier « {} » illisible : {error}", path.display()),
        )
    })?;
    let options = ImportOptions {
        default_country: request.default_country.clone(),
    };
    let mut rows = read_contacts(BufReader::with_capacity(1 << 16, file), &options)
        .map_err(|error| ServiceError::invalid("invalid_file", "file", error.to_string()))?;
    let header_of = |field: Field, columns: &[crate::import::Column]| -> String {
        columns
            .iter()
            .find(|column| column.field == Some(field))
            .map(|column| column.header.clone())
            .unwrap_or_default()
    };
    let commercial_header = header_of(Field::CommercialOwner, rows.columns());
    let technical_header = header_of(Field::TechnicalOwner, rows.columns());
    let ignored_columns = rows
        .columns()
        .iter()
        .filter(|column| column.field.is_none())
        .map(|column| column.header.clone())
        .collect();

    let users = store.list_users()?;
    let params = json!({
        "file": path.file_name().map(|name| name.to_string_lossy().into_owned()),
        "default_country": request.default_country.as_str(),
        "create_missing_users": request.create_missing_users,
    });
    let mut session = store.begin_import(&request.actor, params)?;
    let mut resolver = Resolver {
        index: OwnerIndex::new(&users),
        create_missing: request.create_missing_users,
        created: Vec::new(),
        session: session.as_mut(),
    };

    let external_id_header = header_of(Field::ExternalId, rows.columns());
    // Line of the first row seen for each external id, keyed by a 64-bit
    // hash so that memory stays small on files of millions of rows.
    let mut external_ids: HashMap<u64, u64> = HashMap::new();
    let mut totals = ImportCounts::default();
    let mut rejected = Vec::new();
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    while let Some(outcome) = rows.next() {
        let parsed = match outcome {
            Ok(parsed) => parsed,
            Err(rejection) => {
                rejected.push(rejection);
                continue;
            }
        };
        if let Some(external_id) = &parsed.contact.external_id {
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(external_id, &mut hasher);
            let key = std::hash::Hasher::finish(&hasher);
            if let Some(first_line) = external_ids.get(&key) {
                rejected.push(RowRejection {
                    line: parsed.line,
                    column: external_id_header.clone(),
                    reason: format!(
                        "identifiant externe « {external_id} » déjà présent ligne {first_line} de ce fichier : gardez une seule ligne par contact"
                    ),
                });
                continue;
            }
            external_ids.insert(key, parsed.line);
        }
        let commercial = resolver.resolve(parsed.contact.commercial_owner.as_deref());
        let technical = resolver.resolve(parsed.contact.technical_owner.as_deref());
        match (commercial, technical) {
            (Ok(commercial_owner), Ok(technical_owner)) => chunk.push(ContactWrite {
                line: parsed.line,
                contact: parsed.contact,
                commercial_owner,
                technical_owner,
            }),
            (Err(reason), _) => rejected.push(RowRejection {
                line: parsed.line,
                column: commercial_header.clone(),
                reason,
            }),
            (_, Err(reason)) => rejected.push(RowRejection {
                line: parsed.line,
                column: technical_header.clone(),
                reason,
            }),
        }
        if chunk.len() >= CHUNK_ROWS {
            totals.add(&resolver.session.write_contacts(&chunk)?);
            chunk.clear();
            progress(rows.bytes_read());
        }
    }
    // A read error or an unclosed quote stops the reader before the end of
    // the file: abandon the whole import rather than commit part of it.
    if let Some(error) = rows.error() {
        return Err(ServiceError::invalid(
            "invalid_file",
            "file",
            format!("{error} ; rien n'a été importé"),
        ));
    }
    if !chunk.is_empty() {
        totals.add(&resolver.session.write_contacts(&chunk)?);
    }
    progress(rows.bytes_read());
    let created_users = resolver.created;

    let batch_id = session.commit(&totals)?;
    tracing::info!(
        batch.id = batch_id,
        import.imported = totals.imported,
        import.updated = totals.updated,
        import.rejected = rejected.len(),
        "import committed"
    );
    Ok(ImportReport {
        batch_id,
        imported: totals.imported,
        updated: totals.updated,
        unchanged: totals.unchanged,
        history_entries: totals.history_entries,
        rejected,
        created_users,
        ignored_columns,
    })
}
