//! Bulk load of an import into an empty `contacts` table, the way a
//! database restore does it. The table is truncated in the import
//! transaction, so that `COPY … (FREEZE)` may write its rows frozen and
//! marked all-visible. Its secondary indexes and foreign keys are dropped,
//! then created again before commit. One sorted build per index and one
//! set-based check per foreign key cost much less than updating every
//! index and firing two foreign-key triggers for each row.
//!
//! Every step runs inside the import transaction, so a failed or killed
//! import leaves the schema as it was. Until the transaction ends,
//! `contacts` and `history` are locked in ACCESS EXCLUSIVE mode, and so is
//! `users`, because dropping a foreign key locks the table it references:
//! readers of these tables, logins included, wait for the import. That is
//! acceptable only for the first load of a database, so any other import
//! leaves the schema alone.

use postgres::Client;

use super::PgResult;

/// Memory for each index build and foreign-key check, instead of the
/// server's `maintenance_work_mem` (64 MB by default in PostgreSQL 15). The
/// setting lasts until the transaction ends.
const BUILD_MEMORY: &str = "256MB";

/// Indexes and foreign keys an import into an empty table dropped, to be
/// created again.
pub struct EmptyLoad {
    /// `CREATE INDEX` statements, as `pg_get_indexdef` returns them, with
    /// their columns, collations, `INCLUDE` list and predicate.
    indexes: Vec<String>,
    /// `ALTER TABLE … ADD CONSTRAINT` statements rebuilt from
    /// `pg_get_constraintdef`, under the same names.
    foreign_keys: Vec<String>,
}

/// Prepares `contacts` for a bulk load when it has no row, and returns
/// `None`, changing nothing, when it has one. The primary key and the
/// unique external id stay, because the import relies on them.
///
/// Every writer of `contacts` is an import, and the caller holds the
/// advisory lock that serialises imports, so the table stays empty between
/// the check and the truncation.
pub fn prepare(client: &mut Client) -> PgResult<Option<EmptyLoad>> {
    let empty: bool = client
        .query_one("SELECT NOT EXISTS (SELECT 1 FROM contacts)", &[])?
        .get(0);
    if !empty {
        return Ok(None);
    }

    // The definitions are read from the catalog rather than written here,
    // so that indexes and constraints changed by later migrations come back
    // as they were.
    let index_rows = client.query(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
         FROM pg_index i
         WHERE i.indrelid = 'contacts'::regclass
           AND NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
         ORDER BY i.indexrelid",
        &[],
    )?;
    let key_rows = client.query(
        "SELECT quote_ident(conname), pg_get_constraintdef(oid)
         FROM pg_constraint
         WHERE conrelid = 'contacts'::regclass AND contype = 'f'
         ORDER BY oid",
        &[],
    )?;

    // History references contacts, so it is truncated with it. It is empty
    // too, since each of its rows names a contact.
    client.batch_execute("TRUNCATE contacts, history")?;
    let mut foreign_keys = Vec::new();
    for row in &key_rows {
        let name: String = row.get(0);
        let definition: String = row.get(1);
        client.batch_execute(&format!("ALTER TABLE contacts DROP CONSTRAINT {name}"))?;
        foreign_keys.push(format!(
            "ALTER TABLE contacts ADD CONSTRAINT {name} {definition}"
        ));
    }
    let mut indexes = Vec::new();
    for row in &index_rows {
        let name: String = row.get(0);
        client.batch_execute(&format!("DROP INDEX {name}"))?;
        indexes.push(row.get(1));
    }
    Ok(Some(EmptyLoad {
        indexes,
        foreign_keys,
    }))
}

impl EmptyLoad {
    /// Creates again the indexes and foreign keys `prepare` dropped, in the
    /// import transaction. Adding a foreign key checks every row of
    /// `contacts` against `users` in one statement.
    pub fn restore(&self, client: &mut Client) -> PgResult<()> {
        client.batch_execute(&format!(
            "SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"
        ))?;
        for statement in self.indexes.iter().chain(&self.foreign_keys) {
            client.batch_execute(statement)?;
        }
        Ok(())
    }
}
