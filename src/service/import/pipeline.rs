//! The two threads of an import: one reads and checks the file, the other
//! resolves owners and writes chunks of rows to the store.

use std::collections::HashMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, Sender, SyncSender};

use crate::import::{ContactRows, ImportError, RowOutcome, RowRejection};
use crate::storage::{ContactWrite, ImportCounts};

use super::super::ServiceError;
use super::CHUNK_ROWS;
use super::rejections::{RejectionHeaders, take_key_conflicts};
use super::resolver::Resolver;
use super::warnings::postal_code_warnings;

/// Parsed rows sent at once from the reading thread to the writing one.
const PARSED_CHUNK_ROWS: usize = 1_000;

/// Parsed chunks waiting between the two threads at most. The reading
/// thread blocks when the writing one falls behind, so memory stays
/// bounded whatever the file size.
pub(super) const PIPELINE_CHUNKS: usize = 4;

/// Rows parsed by the reading thread, in file order.
pub(super) struct ParsedChunk {
    rows: Vec<ReadRow>,
    /// Bytes of the file consumed once these rows were read.
    bytes_read: u64,
}

/// A row as the reading thread hands it over.
struct ReadRow {
    outcome: RowOutcome,
    /// Warnings about the row's postal codes, listed if the row is written.
    postal_warnings: Vec<String>,
}

/// Reads and validates every row of the file, sending them in chunks, and
/// returns the problem that stopped the reading before the end, if any.
///
/// The writing thread sends back the rows it has written, and they are
/// dropped here: their text was allocated on this thread, where freeing it
/// costs less, and the writing thread is the slower side.
///
/// Stops early, without error, when the receiver is gone: the writing side
/// failed and the import is abandoned anyway.
pub(super) fn read_rows<R: Read>(
    mut rows: ContactRows<R>,
    sender: SyncSender<ParsedChunk>,
    written: Receiver<Vec<ContactWrite>>,
) -> Option<ImportError> {
    loop {
        let read: Vec<ReadRow> = rows
            .by_ref()
            .take(PARSED_CHUNK_ROWS)
            .map(|outcome| {
                let postal_warnings = match &outcome {
                    Ok(parsed) => postal_code_warnings(parsed),
                    Err(_) => Vec::new(),
                };
                ReadRow {
                    outcome,
                    postal_warnings,
                }
            })
            .collect();
        let last = read.len() < PARSED_CHUNK_ROWS;
        let chunk = ParsedChunk {
            rows: read,
            bytes_read: rows.bytes_read(),
        };
        if sender.send(chunk).is_err() || last {
            break;
        }
        written.try_iter().for_each(drop);
    }
    rows.into_error()
}

/// Outcome of the writing side once the reading thread stopped sending.
pub(super) struct Written {
    pub(super) totals: ImportCounts,
    pub(super) rejected: Vec<RowRejection>,
    /// Last rows, fewer than a chunk, not written yet: they are written
    /// only once the whole file has been read without error.
    pub(super) pending: Vec<ContactWrite>,
    /// Warnings about the postal codes of the pending rows, by line.
    pub(super) pending_warnings: Vec<(u64, String)>,
}

/// Resolves owners and writes the rows received from the reading thread,
/// in chunks of `CHUNK_ROWS`, until the reading thread stops sending.
pub(super) fn write_rows(
    receiver: Receiver<ParsedChunk>,
    written: Sender<Vec<ContactWrite>>,
    resolver: &mut Resolver<'_>,
    headers: &RejectionHeaders,
    progress: &mut dyn FnMut(u64),
) -> Result<Written, ServiceError> {
    // Line of the first row seen for each external id, keyed by a 64-bit
    // hash so that memory stays small on files of millions of rows.
    let mut external_ids: HashMap<u64, u64> = HashMap::new();
    // Line of the first row seen for each contact number.
    let mut contact_numbers: HashMap<i64, u64> = HashMap::new();
    let mut totals = ImportCounts::default();
    let mut rejected = Vec::new();
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    // Warnings about the postal codes of the rows in `chunk`, by line.
    let mut chunk_warnings: Vec<(u64, String)> = Vec::new();
    for parsed_chunk in receiver {
        for ReadRow {
            outcome,
            postal_warnings,
        } in parsed_chunk.rows
        {
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
                        column: headers.external_id.clone(),
                        reason: format!(
                            "identifiant externe « {external_id} » déjà présent ligne {first_line} de ce fichier : gardez une seule ligne par contact"
                        ),
                    });
                    continue;
                }
                external_ids.insert(key, parsed.line);
            }
            // A contact named twice by its number would get two history
            // entries per role in one batch, which its undo could not
            // read back to the owner it had before the import.
            if let Some(number) = parsed.contact.contact_id {
                if let Some(first_line) = contact_numbers.get(&number) {
                    rejected.push(RowRejection {
                        line: parsed.line,
                        column: headers.contact_number.clone(),
                        reason: format!(
                            "contact n° {number} déjà présent ligne {first_line} de ce fichier : gardez une seule ligne par contact"
                        ),
                    });
                    continue;
                }
                contact_numbers.insert(number, parsed.line);
            }
            let (commercial, technical) = resolver.resolve_pair(
                parsed.contact.commercial_owner.as_deref(),
                parsed.contact.technical_owner.as_deref(),
            );
            match (commercial, technical) {
                (Ok(commercial_owner), Ok(technical_owner)) => {
                    chunk_warnings.extend(
                        postal_warnings
                            .into_iter()
                            .map(|warning| (parsed.line, warning)),
                    );
                    chunk.push(ContactWrite {
                        line: parsed.line,
                        contact: parsed.contact,
                        commercial_owner,
                        technical_owner,
                    });
                }
                (Err(reason), _) => rejected.push(RowRejection {
                    line: parsed.line,
                    column: headers.commercial.clone(),
                    reason,
                }),
                (_, Err(reason)) => rejected.push(RowRejection {
                    line: parsed.line,
                    column: headers.technical.clone(),
                    reason,
                }),
            }
            if chunk.len() >= CHUNK_ROWS {
                totals.add(&write_chunk(
                    resolver,
                    &chunk,
                    std::mem::take(&mut chunk_warnings),
                    headers,
                    &mut rejected,
                )?);
                let done = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                // Once the reading thread has stopped, the rows are dropped
                // here.
                let _ = written.send(done);
            }
        }
        progress(parsed_chunk.bytes_read);
    }
    Ok(Written {
        totals,
        rejected,
        pending: chunk,
        pending_warnings: chunk_warnings,
    })
}

/// Writes a chunk of rows, then notes what the report warns about for the
/// rows the store kept. A row the store sets aside (a stale « Modifié le »,
/// an external id already taken) is rejected, and a warning about it would
/// contradict the rejection.
pub(super) fn write_chunk(
    resolver: &mut Resolver<'_>,
    chunk: &[ContactWrite],
    postal_warnings: Vec<(u64, String)>,
    headers: &RejectionHeaders,
    rejected: &mut Vec<RowRejection>,
) -> Result<ImportCounts, ServiceError> {
    let counts = resolver.session.write_contacts(chunk)?;
    let before = rejected.len();
    resolver.foreign_numbers += take_key_conflicts(resolver.session, headers, rejected);
    let set_aside: std::collections::HashSet<u64> = rejected[before..]
        .iter()
        .map(|rejection| rejection.line)
        .collect();
    for row in chunk {
        if set_aside.contains(&row.line) {
            continue;
        }
        let owners = [
            (&row.contact.commercial_owner, row.commercial_owner),
            (&row.contact.technical_owner, row.technical_owner),
        ];
        for (cell, owner) in owners {
            if let (Some(cell), Some(owner)) = (cell, owner) {
                resolver.check_display_name(cell.trim(), owner, row.line);
                resolver.note_shadowed_key(cell.trim(), owner, row.line);
                resolver.note_inactive_owner(owner, row.line);
            }
        }
    }
    for (line, warning) in postal_warnings {
        if !set_aside.contains(&line) {
            resolver.list_doubtful_postal_code(warning);
        }
    }
    Ok(counts)
}
