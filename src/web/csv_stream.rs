//! Streaming a CSV export to the client while the store writes it on a
//! blocking thread, so that a large batch never sits whole in memory.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::service::export::write_csv;
use crate::storage::{ExportSelection, Store};
use crate::web::state::AppState;

/// Size of the chunks sent to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the writer and the client.
const CHANNEL_CHUNKS: usize = 8;

type Chunk = Result<Bytes, io::Error>;

/// An `io::Write` that sends full chunks to the response body. Writing
/// fails once the client has gone, which stops the export.
pub struct ChannelWriter {
    sender: mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client closed the download"))
    }

    /// Ends the body with an error, so that the client sees a broken
    /// download rather than a short file that looks complete.
    pub fn fail(self, message: String) {
        let _ = self.sender.blocking_send(Err(io::Error::other(message)));
    }
}

impl io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

struct ReceiverStream(mpsc::Receiver<Chunk>);

impl futures_core::Stream for ReceiverStream {
    type Item = Chunk;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(context)
    }
}

/// Creates a writer for the blocking side and the response body it feeds.
pub fn channel() -> (ChannelWriter, Body) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let writer = ChannelWriter {
        sender,
        buffer: Vec::with_capacity(CHUNK_BYTES),
    };
    (writer, Body::from_stream(ReceiverStream(receiver)))
}

/// Responds with the CSV export of `selection` as a download named
/// `filename`, written on a blocking thread while the client reads it.
/// `selected` names the selection in the log lines (`batch 12`, `filter`).
pub fn export_response(
    state: &AppState,
    selection: ExportSelection,
    filename: &str,
    selected: String,
    user_id: i64,
) -> Response {
    let (mut writer, body) = channel();
    let store: std::sync::Arc<dyn Store> = state.store.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(
            || match write_csv(store.as_ref(), &selection, &mut writer) {
                Ok(written) => match io::Write::flush(&mut writer) {
                    Ok(()) => tracing::info!(
                        export.of = %selected,
                        export.contacts = written,
                        user.id = user_id,
                        "contacts exported"
                    ),
                    Err(error) => {
                        tracing::debug!(export.of = %selected, error = %error, "export stopped")
                    }
                },
                Err(error) => {
                    tracing::error!(export.of = %selected, error.cause = %error, "export failed");
                    writer.fail(error.to_string());
                }
            },
        )
    });

    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
