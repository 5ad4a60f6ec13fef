//! Importing a contact file: read and check each row, resolve owners to
//! users, write everything in one transaction.

mod owner_cells;
mod owner_index;
mod owner_warnings;
mod pipeline;
mod rejections;
mod resolver;
#[cfg(test)]
mod tests;
mod warnings;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel};

use serde::Serialize;
use serde_json::json;

use crate::domain::batch::{Actor, BatchId};
use crate::domain::contact::ContactPart;
use crate::domain::country::CountryCode;
use crate::import::{Field, ImportOptions, RowRejection, read_contacts};
use crate::storage::Store;

use super::ServiceError;
use owner_index::OwnerIndex;
pub(crate) use owner_index::name_key;
use pipeline::{PIPELINE_CHUNKS, Written, read_rows, write_chunk, write_rows};
use rejections::RejectionHeaders;
use resolver::Resolver;
use warnings::{
    cleared_owners_warning, foreign_numbers_warning, left_out_note, pacific_warning,
    reversed_warning, twin_contacts_warning,
};

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
    /// The operation recorded, or `None` when the import changed nothing:
    /// it created no contact and no user and updated none, so it was
    /// rolled back, as a reassignment that matches nothing records no
    /// operation.
    pub batch_id: Option<BatchId>,
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub history_entries: u64,
    pub rejected: Vec<RowRejection>,
    /// Initials of the users created for unknown owners.
    pub created_users: Vec<String>,
    /// Headers of the file that match no known column.
    pub ignored_columns: Vec<String>,
    /// Warnings in French about the file as a whole.
    pub warnings: Vec<String>,
}

/// Warning for a file with neither `N° Relais` nor external id column.
pub const NO_KEY_COLUMN_WARNING: &str = "le fichier n'a ni colonne « N° Relais » ni colonne \
    d'identifiant externe : chaque ligne crée un nouveau contact, et réimporter ce fichier \
    dupliquerait tous ses contacts. Pour mettre à jour des contacts existants, gardez la \
    colonne « N° Relais » de l'export, ou ajoutez une colonne « Identifiant externe » \
    avec l'identifiant de votre CRM.";

/// Imports `path`; `progress` receives the bytes read so far.
pub fn import_file(
    store: &dyn Store,
    path: &Path,
    request: &ImportRequest,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ServiceError> {
    // A folder opens like a file on Unix and fails only when read.
    if path.is_dir() {
        return Err(ServiceError::invalid(
            "file_unreadable",
            "file",
            format!(
                "fichier « {} » : c'est un dossier ; indiquez le fichier CSV à importer",
                path.display()
            ),
        ));
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let mut attempt = 1;
    loop {
        let file = File::open(path).map_err(|error| ServiceError::file_unreadable(path, &error))?;
        let result = import_from_reader(
            store,
            BufReader::with_capacity(1 << 16, file),
            file_name.clone(),
            request,
            progress,
        );
        // An import locks the contacts it updates chunk by chunk, in file
        // order, over one long transaction, so a reassignment locking the
        // same contacts can deadlock with it. The engine then rolls the
        // import back whole; it is read again from the start.
        match result {
            Err(ServiceError::Store(crate::storage::StoreError::Busy))
                if attempt < IMPORT_ATTEMPTS =>
            {
                tracing::warn!(
                    import.attempt = attempt,
                    "import rolled back by a deadlock or a lock timeout, started again"
                );
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Times an import from a file is run before a deadlock or lock timeout
/// is reported: each attempt reads the file again from the start.
const IMPORT_ATTEMPTS: u32 = 3;

/// Imports contacts read from `reader`, a file named `file_name`.
///
/// Reading and validating run on a second thread while this one resolves
/// owners and writes to the store, so the import takes the time of the
/// slower side rather than the sum of both. Rows, rejections and progress
/// are still handled in file order.
fn import_from_reader<R: Read + Send>(
    store: &dyn Store,
    reader: R,
    file_name: Option<String>,
    request: &ImportRequest,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ServiceError> {
    let options = ImportOptions {
        default_country: request.default_country.clone(),
    };
    let rows = read_contacts(reader, &options)
        .map_err(|error| ServiceError::invalid("invalid_file", "file", error.to_string()))?;
    let header_of = |field: Field| -> String {
        rows.columns()
            .iter()
            .find(|column| column.field == Some(field))
            .map(|column| column.header.clone())
            .unwrap_or_default()
    };
    let headers = RejectionHeaders {
        commercial: header_of(Field::CommercialOwner),
        technical: header_of(Field::TechnicalOwner),
        external_id: header_of(Field::ExternalId),
        contact_number: header_of(Field::ContactId),
        modified_at: header_of(Field::ModifiedAt),
    };
    let has_key_column = rows.columns().iter().any(|column| {
        matches!(
            column.field,
            Some(Field::ContactId) | Some(Field::ExternalId)
        )
    });
    let ignored_columns = rows
        .columns()
        .iter()
        .filter(|column| column.field.is_none())
        .map(|column| column.header.clone())
        .collect();

    let params = json!({
        "file": file_name,
        "default_country": request.default_country.as_str(),
        "create_missing_users": request.create_missing_users,
    });
    // A file updates only the parts of a stored contact it has columns for.
    let left_out: Vec<ContactPart> = ContactPart::ALL
        .into_iter()
        .filter(|part| {
            !rows
                .columns()
                .iter()
                .any(|column| column.field.and_then(Field::part) == Some(*part))
        })
        .collect();
    let mut session = store.begin_import(&request.actor, params)?;
    session.keep_stored(&left_out, &request.default_country);
    if !rows
        .columns()
        .iter()
        .any(|column| column.field == Some(Field::ExternalId))
    {
        session.keep_stored_external_ids();
    }
    // Read in the import's transaction, which waits for another import to
    // commit: that import's new users are then known here, and not created
    // a second time.
    let users = session.list_users()?;
    let mut resolver = Resolver {
        index: OwnerIndex::new(&users),
        create_missing: request.create_missing_users,
        created: Vec::new(),
        numbered: Vec::new(),
        name_mismatches: Default::default(),
        shadowed_cells: Default::default(),
        inactive_owners: Default::default(),
        doubtful_postal_codes: Default::default(),
        foreign_numbers: 0,
        session: session.as_mut(),
    };

    let (written, read_error) = std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel(PIPELINE_CHUNKS);
        let (written_sender, written_receiver) = channel();
        let reading = scope.spawn(move || read_rows(rows, sender, written_receiver));
        // `write_rows` owns the receiver and drops it when it returns, even
        // on an error, which stops the reading thread at its next chunk.
        let written = write_rows(receiver, written_sender, &mut resolver, &headers, progress);
        let read_error = reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written, read_error)
    });
    let Written {
        mut totals,
        rejected,
        pending,
        pending_warnings,
    } = written?;
    // A read error or an unclosed quote stops the reader before the end of
    // the file: abandon the whole import rather than commit part of it.
    if let Some(error) = read_error {
        return Err(ServiceError::invalid(
            "invalid_file",
            "file",
            format!("{error} ; rien n'a été importé"),
        ));
    }
    let mut rejected = rejected;
    if !pending.is_empty() {
        totals.add(&write_chunk(
            &mut resolver,
            &pending,
            pending_warnings,
            &headers,
            &mut rejected,
        )?);
    }
    // Key conflicts are found when a chunk is written, after the rows of
    // that chunk rejected while reading.
    rejected.sort_by_key(|rejection| rejection.line);
    // Addresses completed from stored values are checked by the store,
    // before it sets some rows aside.
    for mismatch in resolver.session.take_pacific_mismatches() {
        let set_aside = rejected
            .binary_search_by_key(&mismatch.line, |rejection| rejection.line)
            .is_ok();
        if !set_aside {
            resolver.list_doubtful_postal_code(pacific_warning(&mismatch));
        }
    }
    // Only created contacts would be created again by a second import.
    let mut warnings = if !has_key_column && totals.imported > 0 {
        vec![NO_KEY_COLUMN_WARNING.to_string()]
    } else {
        Vec::new()
    };
    if totals.updated + totals.unchanged > 0
        && let Some(note) = left_out_note(&left_out)
    {
        warnings.push(note);
    }
    warnings.extend(resolver.name_mismatch_warnings());
    warnings.extend(resolver.shadowed_key_warnings());
    warnings.extend(resolver.inactive_owner_warnings());
    let (doubtful_codes, more_doubtful_codes) = &resolver.doubtful_postal_codes;
    warnings.extend(doubtful_codes.iter().cloned());
    if *more_doubtful_codes > 0 {
        warnings.push(format!(
            "… et {} à vérifier",
            crate::french::plural(
                *more_doubtful_codes,
                "autre code postal",
                "autres codes postaux"
            )
        ));
    }
    let created_users = resolver.created;
    let numbered_users = resolver.numbered;
    let rows_read = totals.imported + totals.updated + totals.unchanged + rejected.len() as u64;
    if let Some(warning) = foreign_numbers_warning(resolver.foreign_numbers, rows_read) {
        warnings.insert(0, warning);
    }

    // Owner changes that give contacts back to an owner a Relais operation
    // had replaced, as a file exported from a CRM before a reassignment
    // does. These warnings come first, since they undo work done in Relais.
    // Only rows without number or external id create contacts beside
    // stored ones; a file with no key column at all is warned about above.
    if totals.imported > 0 && has_key_column {
        let (count, twins) = session.twin_contacts()?;
        if count > 0 {
            warnings.push(twin_contacts_warning(count, &twins));
        }
    }
    if totals.history_entries > 0 {
        let reversed = session.reversed_reassignments()?;
        let mut notes: Vec<String> = reversed.iter().map(reversed_warning).collect();
        notes.extend(cleared_owners_warning(session.cleared_owners()?));
        warnings.splice(0..0, notes);
    }
    // Users are created only as owners of rows, so an import that wrote no
    // row has no use for those it created. They go with the rollback, even
    // when the store set their rows aside late (a stale « Modifié le »).
    let mut created_users = created_users;
    let batch_id = if totals.imported == 0 && totals.updated == 0 {
        // Dropping the session rolls it back.
        drop(session);
        created_users.clear();
        None
    } else {
        warnings.extend(numbered_users);
        session.record_rejected_lines(rejected.len() as u64)?;
        Some(session.commit(&totals)?)
    };
    tracing::info!(
        batch.id = batch_id,
        import.imported = totals.imported,
        import.updated = totals.updated,
        import.rejected = rejected.len(),
        "import finished"
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
        warnings,
    })
}
