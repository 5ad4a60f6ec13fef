//! Reading the CSV files compiled into the binary.

/// Parses an embedded CSV text, checks its header, and builds one value per
/// row with `build`, from the row's `N` fields.
///
/// The fields are borrowed for the whole process from one buffer that is
/// leaked on purpose: the tables built from it live in statics until the
/// process exits, and one allocation is cheaper than one per field.
///
/// # Panics
///
/// Panics when the header differs from `header` or a row is malformed. The
/// files are compiled in, so this is a build defect, and the unit tests of
/// each table parse its file in full.
pub(super) fn read_rows<const N: usize, T>(
    file_name: &str,
    text: &str,
    header: [&str; N],
    mut build: impl FnMut([&'static str; N]) -> T,
) -> Vec<T> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());

    let found = match reader.headers() {
        Ok(found) => found.clone(),
        Err(error) => panic!("{file_name}: unreadable header: {error}"),
    };
    assert!(
        found.iter().eq(header),
        "{file_name}: header is {found:?}, expected {header:?}"
    );

    // The fields of a row never hold more bytes than its text, so a buffer
    // as long as the whole text never runs out, and each field is cut from
    // its free end.
    let mut free: &'static mut [u8] = vec![0; text.len()].leak();
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::new();
    let mut line = 1;
    loop {
        line += 1;
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => panic!("{file_name}: malformed line {line}: {error}"),
        }

        let mut fields = [""; N];
        for (slot, field) in fields.iter_mut().zip(record.iter()) {
            let (copy, rest) = std::mem::take(&mut free).split_at_mut(field.len());
            copy.copy_from_slice(field.as_bytes());
            free = rest;
            // The bytes are a copy of a `&str`, so they are valid UTF-8.
            *slot = std::str::from_utf8(copy).expect("a copy of a str is UTF-8");
        }
        rows.push(build(fields));
    }
    rows
}
