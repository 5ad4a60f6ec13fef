//! A binary `COPY … FROM STDIN` that stays open across chunks of an
//! import. A worker thread owns the connection and sends the encoded rows,
//! so that the server stores one chunk while the caller reads and encodes
//! the next one. Without it, the reader and the server take turns.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

use bytes::{BufMut, BytesMut};
use postgres::types::{IsNull, ToSql, Type};

use crate::storage::StoreError;

use super::pool::Connection;
use super::{Failure, PgResult};

/// Encoded chunks waiting for the worker. Two keep it busy while the
/// caller encodes the next one, and bound the memory held to a few chunks.
const QUEUED_CHUNKS: usize = 2;

/// Signature and header of the binary `COPY` format: no flags, no
/// extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Field count that ends the binary `COPY` data.
const TRAILER: i16 = -1;

enum Message {
    Rows(BytesMut),
    /// Ends the copy. Without it, a closed channel aborts the copy.
    Finish,
}

/// Outcome of the worker: the connection back, and the rows the server
/// stored.
type WorkerResult = (Connection, PgResult<u64>);

pub struct CopyStream {
    sender: SyncSender<Message>,
    worker: JoinHandle<WorkerResult>,
}

impl CopyStream {
    /// Starts `statement`, a `COPY … FROM STDIN (FORMAT binary …)`, on a
    /// worker thread that owns `conn` until `finish` or `abort`.
    pub fn start(conn: Connection, statement: String) -> PgResult<CopyStream> {
        let (sender, receiver) = sync_channel(QUEUED_CHUNKS);
        let worker = thread::Builder::new()
            .name("relais-import-copy".to_string())
            .spawn(move || run_worker(conn, &statement, receiver))
            .map_err(|error| {
                database_failure(format!("starting the copy thread failed: {error}"))
            })?;
        Ok(CopyStream { sender, worker })
    }

    /// Queues encoded rows, waiting while the queue is full. On failure the
    /// worker has stopped, and `finish` returns its error.
    pub fn send(&self, rows: BytesMut) -> bool {
        self.sender.send(Message::Rows(rows)).is_ok()
    }

    /// Ends the copy and returns the connection with the number of rows
    /// the server stored, or with the error that stopped the copy.
    pub fn finish(self) -> (Option<Connection>, PgResult<u64>) {
        // A worker that already stopped has dropped its receiver, and its
        // own result contains the reason.
        let _ = self.sender.send(Message::Finish);
        join(self.worker)
    }

    /// Aborts the copy, so that the server discards its rows, and returns
    /// the connection.
    pub fn abort(self) -> Option<Connection> {
        drop(self.sender);
        join(self.worker).0
    }
}

fn join(worker: JoinHandle<WorkerResult>) -> (Option<Connection>, PgResult<u64>) {
    match worker.join() {
        Ok((conn, result)) => (Some(conn), result),
        // `run_worker` catches panics and returns the connection, so this
        // only happens if the thread itself failed.
        Err(_) => (
            None,
            Err(database_failure(
                "the copy thread stopped unexpectedly".to_string(),
            )),
        ),
    }
}

fn run_worker(mut conn: Connection, statement: &str, receiver: Receiver<Message>) -> WorkerResult {
    let result = catch_unwind(AssertUnwindSafe(|| {
        copy_rows(&mut conn, statement, &receiver)
    }))
    .unwrap_or_else(|_| Err(database_failure("the copy thread panicked".to_string())));
    (conn, result)
}

fn copy_rows(
    conn: &mut Connection,
    statement: &str,
    receiver: &Receiver<Message>,
) -> PgResult<u64> {
    let mut writer = conn.copy_in(statement)?;
    writer.write_all(HEADER).map_err(write_failure)?;
    loop {
        match receiver.recv() {
            Ok(Message::Rows(rows)) => writer.write_all(&rows).map_err(write_failure)?,
            Ok(Message::Finish) => break,
            // Dropping the writer without `finish` makes the server abort
            // the copy.
            Err(_) => return Err(database_failure("the import copy was aborted".to_string())),
        }
    }
    writer
        .write_all(&TRAILER.to_be_bytes())
        .map_err(write_failure)?;
    Ok(writer.finish()?)
}

/// Appends one row of the binary `COPY` format to `out`: the field count,
/// then each value as its length and bytes, or a length of -1 for NULL.
pub fn encode_row(
    out: &mut BytesMut,
    values: &[&(dyn ToSql + Sync)],
    types: &[Type],
) -> PgResult<()> {
    let count = i16::try_from(values.len())
        .map_err(|_| database_failure(format!("{} columns cannot be copied", values.len())))?;
    out.put_i16(count);
    for (value, ty) in values.iter().zip(types) {
        let start = out.len();
        out.put_i32(0);
        let written = value.to_sql_checked(ty, out).map_err(|error| {
            database_failure(format!(
                "encoding a value of type {ty} for COPY failed: {error}"
            ))
        })?;
        let length = match written {
            IsNull::Yes => {
                out.truncate(start + 4);
                -1
            }
            IsNull::No => i32::try_from(out.len() - start - 4)
                .map_err(|_| database_failure("a value is too long for COPY".to_string()))?,
        };
        out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    }
    Ok(())
}

fn write_failure(error: std::io::Error) -> Failure {
    database_failure(format!("sending rows to PostgreSQL failed: {error}"))
}

fn database_failure(message: String) -> Failure {
    Failure::Store(StoreError::Database(message))
}
