//! Streaming conversion of UTF-16 files to UTF-8, for the « Texte Unicode »
//! files Excel saves (UTF-16LE with a byte order mark, tab-separated).

use std::io::{self, Chain, Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::{CoderResult, Decoder, UTF_16BE, UTF_16LE};

/// Bytes read from the file at once, and the size of the UTF-8 output
/// buffer.
const BUFFER_BYTES: usize = 16 * 1024;

/// The file as the CSV reader receives it: the bytes read to look for a
/// byte order mark, then the rest of the file, converted to UTF-8 when the
/// mark is a UTF-16 one.
pub(crate) enum SourceReader<R> {
    Plain(Chain<Cursor<Vec<u8>>, R>),
    Utf16(Utf16Reader<Chain<Cursor<Vec<u8>>, R>>),
}

impl<R: Read> SourceReader<R> {
    /// Reads the first two bytes of `reader` and wraps it in a UTF-16
    /// decoder when they are a UTF-16 byte order mark, or an ASCII
    /// character in UTF-16. A decoded file also
    /// returns the counter of the file bytes read, for progress reports.
    pub(crate) fn open(mut reader: R) -> io::Result<(SourceReader<R>, Option<Arc<AtomicU64>>)> {
        let mut head = Vec::with_capacity(2);
        while head.len() < 2 {
            let mut byte = [0u8; 1];
            match reader.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => head.push(byte[0]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
        // Without a mark, a header's first character is ASCII, which UTF-16
        // writes with a zero byte first (big-endian) or second.
        let encoding = match head.as_slice() {
            [0xFF, 0xFE] => UTF_16LE,
            [0xFE, 0xFF] => UTF_16BE,
            [0x00, byte] if byte.is_ascii_graphic() => UTF_16BE,
            [byte, 0x00] if byte.is_ascii_graphic() => UTF_16LE,
            _ => return Ok((SourceReader::Plain(Cursor::new(head).chain(reader)), None)),
        };
        let raw_bytes_read = Arc::new(AtomicU64::new(0));
        let utf16 = Utf16Reader {
            inner: Cursor::new(head).chain(reader),
            decoder: encoding.new_decoder_with_bom_removal(),
            input: vec![0; BUFFER_BYTES],
            input_start: 0,
            input_end: 0,
            output: Vec::with_capacity(BUFFER_BYTES),
            output_start: 0,
            inner_done: false,
            finished: false,
            raw_bytes_read: raw_bytes_read.clone(),
        };
        Ok((SourceReader::Utf16(utf16), Some(raw_bytes_read)))
    }
}

impl<R: Read> Read for SourceReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            SourceReader::Plain(reader) => reader.read(buffer),
            SourceReader::Utf16(reader) => reader.read(buffer),
        }
    }
}

/// Reader of UTF-16 bytes from `inner` as UTF-8, decoded one buffer at a
/// time. Invalid UTF-16 (a lone surrogate) becomes U+FFFD.
pub(crate) struct Utf16Reader<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    input_start: usize,
    input_end: usize,
    output: Vec<u8>,
    output_start: usize,
    inner_done: bool,
    finished: bool,
    raw_bytes_read: Arc<AtomicU64>,
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.output_start < self.output.len() {
                let available = &self.output[self.output_start..];
                let count = available.len().min(buffer.len());
                buffer[..count].copy_from_slice(&available[..count]);
                self.output_start += count;
                return Ok(count);
            }
            if self.finished || buffer.is_empty() {
                return Ok(0);
            }

            if self.input_start == self.input_end && !self.inner_done {
                let count = self.inner.read(&mut self.input)?;
                self.input_start = 0;
                self.input_end = count;
                self.inner_done = count == 0;
                self.raw_bytes_read
                    .fetch_add(count as u64, Ordering::Relaxed);
            }

            self.output.resize(BUFFER_BYTES, 0);
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.input[self.input_start..self.input_end],
                &mut self.output,
                self.inner_done,
            );
            self.input_start += read;
            self.output.truncate(written);
            self.output_start = 0;
            if self.inner_done && result == CoderResult::InputEmpty {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_with_bom(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        bytes
    }

    /// Reads everything, a few bytes at a time.
    fn read_all<R: Read>(mut reader: R, step: usize) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buffer = vec![0; step];
        loop {
            let count = reader.read(&mut buffer).unwrap();
            if count == 0 {
                return all;
            }
            all.extend_from_slice(&buffer[..count]);
        }
    }

    #[test]
    fn utf16le_decoded_without_bom() {
        let text = "Nom\tPrénom\r\nLefèvre\tÉlodie €\r\n".repeat(3_000);
        let bytes = utf16le_with_bom(&text);
        let (source, raw) = SourceReader::open(bytes.as_slice()).unwrap();

        assert_eq!(read_all(source, 7), text.as_bytes());
        assert_eq!(raw.unwrap().load(Ordering::Relaxed), bytes.len() as u64);
    }

    #[test]
    fn utf16be_decoded() {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in "Nom\nCœur".encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        let (source, _) = SourceReader::open(bytes.as_slice()).unwrap();
        assert_eq!(read_all(source, 3), "Nom\nCœur".as_bytes());
    }

    #[test]
    fn other_files_pass_through() {
        for bytes in [&b""[..], b"N", b"\xEF\xBB\xBFNom\n", b"Nom;Pr\xE9nom\n"] {
            let (source, raw) = SourceReader::open(bytes).unwrap();
            assert!(raw.is_none());
            assert_eq!(read_all(source, 2), bytes);
        }
    }
}
