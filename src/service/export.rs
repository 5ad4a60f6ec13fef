//! Exporting contacts as CSV that Excel opens correctly in French:
//! `;` separators, UTF-8 with a byte order mark, CRLF line ends.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use crate::storage::{Address, Contact, ExportSelection, Store};

use super::ServiceError;

/// Column headers, in French; the import reads them back.
pub use crate::import::EXPORT_HEADERS as HEADERS;

/// First characters that make Excel and LibreOffice read a cell as a
/// formula (`=`, `+`, `-`, `@`), or that hide one behind a tab or a
/// carriage return.
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Returns the text of a CSV cell that a spreadsheet shows as text and never
/// evaluates: a value that starts with a formula trigger gets a leading
/// apostrophe (`=1+1` is written `'=1+1`).
///
/// A value that already starts with apostrophes followed by a trigger
/// (`'=1`) gets one more, so that the import, which removes exactly one
/// apostrophe before such a value, reads back what was stored.
pub fn guard_formula(value: &str) -> Cow<'_, str> {
    if needs_formula_guard(value) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

fn needs_formula_guard(value: &str) -> bool {
    value.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS)
}

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
    fields.push(crate::domain::contact::format_modified_at(
        contact.updated_at,
    ));
    fields
        .into_iter()
        .map(|field| {
            if needs_formula_guard(&field) {
                format!("'{field}")
            } else {
                field
            }
        })
        .collect()
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
    writer.write_record(HEADERS).map_err(csv_error)?;
    let written = store.export_contacts(selection, &mut |contact| {
        writer.write_record(record(contact))?;
        Ok(())
    })?;
    writer.flush().map_err(|error| write_error(&error))?;
    Ok(written)
}

fn write_error(error: &std::io::Error) -> ServiceError {
    ServiceError::invalid(
        "export_failed",
        "file",
        format!(
            "écriture du fichier d'export impossible : {}",
            crate::french::io_reason(error)
        ),
    )
}

fn csv_error(error: csv::Error) -> ServiceError {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => write_error(&error),
        other => ServiceError::invalid(
            "export_failed",
            "file",
            format!("écriture du fichier d'export impossible : {other:?}"),
        ),
    }
}

/// Behaviour of an export whose file already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExistingFile {
    /// Refusal before any contact is read, because the file may be a
    /// spreadsheet someone spent an afternoon on.
    Refuse,
    /// Replacement of the whole file at the end of the export.
    Replace,
}

/// Writes the CSV to `path` through a temporary file renamed at the end, so
/// that a failed export never leaves a half-written file behind. A
/// symbolic link is followed, and its target replaced. A named pipe or a
/// character device is written into as it is: renaming a file over it
/// would destroy it.
pub fn export_to_file(
    store: &dyn Store,
    selection: &ExportSelection,
    path: &Path,
    existing: ExistingFile,
) -> Result<u64, ServiceError> {
    let invalid = |reason: String| {
        ServiceError::invalid(
            "export_failed",
            "file",
            format!("fichier « {} » : {reason}", path.display()),
        )
    };
    // `metadata` follows links, so `/dev/stdout` is seen as the pipe,
    // terminal or file it stands for.
    let target = match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(invalid(format!(
                "c'est un dossier ; indiquez le nom du fichier à créer, par exemple « {} »",
                path.join("contacts.csv").display()
            )));
        }
        Ok(metadata) if is_stream(&metadata) => {
            return export_into_special_file(store, selection, path);
        }
        Ok(metadata) if !metadata.is_file() => {
            return Err(invalid(
                "ni un fichier ni un tube ; indiquez le nom du fichier à créer".to_string(),
            ));
        }
        Ok(_) if existing == ExistingFile::Refuse => return Err(file_exists(path)),
        // A link is followed, and the file it points to replaced.
        Ok(_) => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        // A link to a file not created yet is followed too.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            match std::fs::read_link(path) {
                Ok(pointed) => path
                    .parent()
                    .map_or_else(|| pointed.clone(), |folder| folder.join(&pointed)),
                Err(_) => path.to_path_buf(),
            }
        }
        Err(error) => return Err(invalid(crate::french::io_reason(&error))),
    };
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    // A process killed before the rename leaves this hidden file behind,
    // and its prefix makes it recognisable.
    let mut temporary = tempfile::Builder::new()
        .prefix(".relais-export-")
        .tempfile_in(&folder)
        .map_err(|error| {
            invalid(format!(
                "dossier « {} » : {}",
                folder.display(),
                crate::french::io_reason(&error)
            ))
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
    // Without replacement, a file created meanwhile by another program is
    // kept too.
    let persisted = match existing {
        ExistingFile::Replace => temporary.persist(&target),
        ExistingFile::Refuse => temporary.persist_noclobber(&target),
    };
    persisted.map_err(|error| {
        if error.error.kind() == std::io::ErrorKind::AlreadyExists {
            file_exists(path)
        } else {
            write_error(&error.error)
        }
    })?;
    Ok(written)
}

fn file_exists(path: &Path) -> ServiceError {
    ServiceError::invalid(
        "file_exists",
        "file",
        format!(
            "fichier « {} » : ce fichier existe déjà ; choisissez un autre nom, ou ajoutez --remplacer pour l'écraser",
            path.display()
        ),
    )
}

/// True for a named pipe or a character device (a terminal, `/dev/null`),
/// which the export writes into rather than replaces.
#[cfg(unix)]
fn is_stream(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    kind.is_fifo() || kind.is_char_device()
}

#[cfg(not(unix))]
fn is_stream(metadata: &std::fs::Metadata) -> bool {
    !metadata.is_file() && !metadata.is_dir()
}

/// Writes the CSV into a device or a named pipe, which has no content to
/// lose and cannot be replaced.
fn export_into_special_file(
    store: &dyn Store,
    selection: &ExportSelection,
    path: &Path,
) -> Result<u64, ServiceError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|error| write_error(&error))?;
    let mut buffered = std::io::BufWriter::new(file);
    let written = write_csv(store, selection, &mut buffered)?;
    buffered.flush().map_err(|error| write_error(&error))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_formula_prefixes_triggers() {
        let cases = [
            ("=1+1", "'=1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("+33 3 26 12 34 56", "'+33 3 26 12 34 56"),
            ("-2+3", "'-2+3"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("'=1", "''=1"),
            ("''+1", "'''+1"),
        ];
        for (value, expected) in cases {
            assert_eq!(guard_formula(value), expected, "guard_formula({value:?})");
        }
    }

    #[test]
    fn guard_formula_keeps_plain_values() {
        for value in [
            "",
            "Dupont",
            "03 26 12 34 56",
            "51100",
            "'Tis",
            "a=b",
            " =1",
            "'",
        ] {
            assert_eq!(guard_formula(value), value, "guard_formula({value:?})");
        }
    }
}
