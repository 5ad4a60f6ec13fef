use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::owner_cells::{
    display_initials, names_of_email, not_a_name, owner_address, without_civility,
};
use super::*;
use crate::storage::sqlite::SqliteStore;

/// A file of `rows` contacts made on the fly, counting the rows it has
/// handed out so far.
struct GeneratedFile {
    pending: Vec<u8>,
    rows_left: u64,
    rows_made: Arc<AtomicU64>,
}

impl Read for GeneratedFile {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() && self.rows_left > 0 {
            let index = self.rows_made.fetch_add(1, Ordering::SeqCst);
            self.rows_left -= 1;
            self.pending = format!("Nom{index};Prénom\n").into_bytes();
        }
        let count = buffer.len().min(self.pending.len());
        buffer[..count].copy_from_slice(&self.pending[..count]);
        self.pending.drain(..count);
        Ok(count)
    }
}

fn request() -> ImportRequest {
    ImportRequest {
        default_country: CountryCode::france(),
        create_missing_users: false,
        actor: Actor::system("tests"),
    }
}

#[test]
fn display_initials_of_owner_cells() {
    assert_eq!(display_initials("Jean DUPONT (JD)"), Some("JD"));
    assert_eq!(display_initials("Baptiste BONCHAMPS ( BB2 )"), Some("BB2"));
    assert_eq!(display_initials("JD"), None);
    assert_eq!(display_initials("(JD)"), Some("JD"));
    assert_eq!(display_initials("Jean DUPONT ()"), None);
    assert_eq!(display_initials("Jean DUPONT (J D)"), None);
    assert_eq!(display_initials("jd@exemple.fr"), None);
}

#[test]
fn owner_address_of_mail_forms() {
    assert_eq!(
        owner_address("Jean Dupont <jd@exemple.fr>"),
        "jd@exemple.fr"
    );
    assert_eq!(owner_address("MAILTO:jd@exemple.fr"), "jd@exemple.fr");
    assert_eq!(owner_address("mailto: <jd@exemple.fr>"), "jd@exemple.fr");
    assert_eq!(owner_address("Jean DUPONT (JD)"), "Jean DUPONT (JD)");
    assert_eq!(owner_address("<JD>"), "<JD>");
}

#[test]
fn not_a_name_names_the_character() {
    assert_eq!(
        not_a_name("Jean DUPONT ()").as_deref(),
        Some("un nom, un identifiant ou un e-mail ne peut pas contenir le caractère « ( »")
    );
    assert_eq!(
        not_a_name("JD.").as_deref(),
        Some("un nom, un identifiant ou un e-mail ne peut pas finir par un point")
    );
    assert_eq!(not_a_name("j.dupont"), None);
    assert_eq!(not_a_name("Zoé Lambert-Roux"), None);
    assert_eq!(not_a_name("z.lambert@exemple.fr"), None);
}

#[test]
fn failed_write_stops_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relais.db");
    let store = SqliteStore::open(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER injected_failure BEFORE INSERT ON contacts
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let total_rows = 1_000_000;
    let rows_made = Arc::new(AtomicU64::new(0));
    let file = GeneratedFile {
        pending: b"Nom;Pr\xC3\xA9nom\n".to_vec(),
        rows_left: total_rows,
        rows_made: rows_made.clone(),
    };

    let result = import_from_reader(&store, file, None, &request(), &mut |_| {});

    let error = result.unwrap_err();
    assert!(error.to_string().contains("injected failure"), "{error}");
    let read = rows_made.load(Ordering::SeqCst);
    assert!(read < total_rows / 10, "{read} rows read");
}

#[test]
fn rows_written_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relais.db");
    let store = SqliteStore::open(&path).unwrap();
    let file = GeneratedFile {
        pending: b"Nom;Pr\xC3\xA9nom\n".to_vec(),
        rows_left: 5_500,
        rows_made: Arc::new(AtomicU64::new(0)),
    };
    let mut progress = Vec::new();

    let report = import_from_reader(&store, file, None, &request(), &mut |bytes| {
        progress.push(bytes)
    })
    .unwrap();

    assert_eq!(report.imported, 5_500);
    assert!(progress.is_sorted(), "{progress:?}");
    let ids_in_name_order: Vec<String> = rusqlite::Connection::open(&path)
        .unwrap()
        .prepare("SELECT last_name FROM contacts ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<String> = (0..5_500).map(|index| format!("Nom{index}")).collect();
    assert_eq!(ids_in_name_order, expected);
}

#[test]
fn civility_before_an_owner_name() {
    assert_eq!(without_civility("M. Curie"), "Curie");
    assert_eq!(without_civility("Mme  Marie Curie"), "Marie Curie");
    assert_eq!(without_civility("mademoiselle Curie"), "Curie");
    assert_eq!(without_civility("Dr. House"), "House");
    assert_eq!(without_civility("M.Pierre Curie"), "Pierre Curie");
    assert_eq!(without_civility("J.Dupont"), "J.Dupont");
    // A first name that starts like a civility, or a civility alone.
    assert_eq!(without_civility("Mmeline Curie"), "Mmeline Curie");
    assert_eq!(without_civility("Madame"), "Madame");
    assert_eq!(without_civility("Marie Curie"), "Marie Curie");
}

#[test]
fn names_are_guessed_from_an_email() {
    assert_eq!(
        names_of_email("jean.dupont"),
        ("Jean".into(), "Dupont".into())
    );
    assert_eq!(
        names_of_email("marie-claire.de-la-tour"),
        ("Marie-Claire".into(), "De-La-Tour".into())
    );
    assert_eq!(names_of_email("x"), (String::new(), "x".into()));
    assert_eq!(
        names_of_email("ALICE_MARTIN"),
        ("Alice".into(), "Martin".into())
    );
}
