//! Reading the CSV files compiled into the binary.

/// Parses an embedded CSV text into rows of `N` fields borrowed for the
/// whole process.
///
/// The text of every field is copied into one string, which is leaked on
/// purpose: the tables built from it live in statics until the process
/// exits, and a single allocation is cheaper than one per field.
///
/// # Panics
///
/// Panics when the header differs from `header` or a row is malformed. The
/// files are compiled in, so this is a build defect, and the unit tests of
/// each table parse its file in full.
pub(super) fn read_rows<const N: usize>(
    file_name: &str,
    text: &str,
    header: [&str; N],
) -> Vec<[&'static str; N]> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());

    // A panic here is a build defect (see the function documentation).
    let found = match reader.headers() {
        Ok(found) => found.clone(),
        Err(error) => panic!("{file_name}: unreadable header: {error}"),
    };
    assert!(
        found.iter().eq(header.iter().copied()),
        "{file_name}: header is {found:?}, expected {header:?}"
    );

    let mut arena = String::with_capacity(text.len());
    let mut bounds: Vec<[(usize, usize); N]> = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(error) => panic!("{file_name}: malformed row {}: {error}", index + 2),
        };
        let mut row = [(0, 0); N];
        for (slot, field) in row.iter_mut().zip(record.iter()) {
            let start = arena.len();
            arena.push_str(field);
            *slot = (start, arena.len());
        }
        bounds.push(row);
    }

    let arena: &'static str = arena.leak();
    bounds
        .into_iter()
        .map(|row| row.map(|(start, end)| &arena[start..end]))
        .collect()
}
