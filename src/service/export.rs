//! Exporting contacts as CSV that Excel opens correctly in French:
//! `;` separators, UTF-8 with a byte order mark, CRLF line ends.

use std::io::Write;
use std::path::Path;

use crate::storage::{Address, Contact, ExportSelection, Store};

use super::ServiceError;

/// Column headers, in French; the import reads them back.
pub const HEADERS: [&str; 20] = [
    "N° Relais",
    "Identifiant externe",
    "Civilité",
    "Prénom",
    "Nom",
    "Société",
    "E-mail",
    "Téléphone",
    "Responsable commercial",
    "Responsable technique",
    "Adresse perso",
    "Complément adresse perso",
    "Code postal perso",
    "Ville perso",
    "Pays perso",
    "Adresse pro",
    "Complément adresse pro",
    "Code postal pro",
    "Ville pro",
    "Pays pro",
];

fn record(contact: &Contact) -> Vec<String> {
    let owner = |user: &Option<crate::domain::history::UserRef>| {
        user.as_ref()
            .map(|user| user.initials.clone())
            .unwrap_or_default()
    };
    let mut fields = vec![
        contact.id.to_string(),
        contact.external_id.clone().unwrap_or_default(),
        contact.civility.clone(),
        contact.first_name.clone(),
        contact.last_name.clone(),
        contact.company.clone(),
        contact.email.clone(),
        contact.phone.clone(),
        owner(&contact.commercial_owner),
        owner(&contact.technical_owner),
    ];
    let mut address = |address: &Address| {
        fields.push(address.line1.clone());
        fields.push(address.line2.clone());
        fields.push(address.postal_code.clone());
        fields.push(address.city.clone());
        fields.push(address.country.clone());
    };
    address(&contact.perso);
    address(&contact.pro);
    fields
}

/// Writes the CSV to `sink`; returns the number of contacts written.
pub fn write_csv(
    store: &dyn Store,
    selection: &ExportSelection,
    sink: &mut dyn Write,
) -> Result<u64, ServiceError> {
    sink.write_all("\u{feff}".as_bytes())
        .map_err(|error| write_error(&error))?;
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(sink);
    writer
        .write_record(HEADERS)
        .map_err(|error| write_error(&error))?;
    let written = store.export_contacts(selection, &mut |contact| {
        writer.write_record(record(contact))?;
        Ok(())
    })?;
    writer.flush().map_err(|error| write_error(&error))?;
    Ok(written)
}

fn write_error(error: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::invalid(
        "export_failed",
        "file",
        format!("écriture du fichier d'export impossible : {error}"),
    )
}

/// Writes the CSV to `path` through a temporary file renamed at the end, so
/// that a failed export never leaves a half-written file behind.
pub fn export_to_file(
    store: &dyn Store,
    selection: &ExportSelection,
    path: &Path,
) -> Result<u64, ServiceError> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut temporary = tempfile::NamedTempFile::new_in(&folder).map_err(|error| {
        ServiceError::invalid(
            "export_failed",
            "file",
            format!(
                "fichier « {} » : dossier inaccessible ({error})",
                path.display()
            ),
        )
    })?;
    let written = {
        let mut buffered = std::io::BufWriter::new(temporary.as_file_mut());
        let written = write_csv(store, selection, &mut buffered)?;
        buffered.flush().map_err(|error| write_error(&error))?;
        written
    };
    // A temporary file is private (0600); the export is an ordinary file
    // that colleagues may read, as the shell would create it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(temporary.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|error| write_error(&error))?;
    }
    temporary
        .persist(path)
        .map_err(|error| write_error(&error.error))?;
    Ok(written)
}
