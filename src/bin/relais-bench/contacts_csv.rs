//! Writes the benchmark's contact file from the demo generator.
//!
//! `fill_demo` is the only source of demo contacts, and it writes them
//! through a `Store`. `CaptureStore` is a `Store` that keeps the users in a
//! scratch SQLite file but turns the import session into CSV rows, so the
//! file contains exactly the contacts `relais demo` would create, streamed in
//! chunks whatever their number.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use relais::domain::batch::{
    Actor, Applied, Batch, BatchId, Outcome, RegionReassignment, UndoPreview, UndoResult,
    UserReassignment,
};
use relais::domain::contact::{AddressInput, ContactId, ContactPart};
use relais::domain::country::CountryCode;
use relais::domain::history::HistoryEntry;
use relais::domain::user::{NewUser, User, UserId};
use relais::service::demo::fill_demo;
use relais::storage::{
    ApiToken, ApiTokenId, Contact, ContactFilter, ContactPage, ContactWrite, ExportSelection,
    ImportCounts, ImportSession, NewSession, Page, RegionPreview, RunContext, SessionRecord, Store,
    StoreError, StoreResult, StoredToken, TokenRevocation, open_store,
};

/// Header names of the file: those of an export, without its number,
/// external id and modification date, because the demo has none of them.
pub const HEADERS: [&str; 18] = {
    let mut headers = [""; 18];
    let mut index = 0;
    while index < headers.len() {
        // « Civilité » to « Pays pro » in an export.
        headers[index] = relais::import::EXPORT_HEADERS[index + 2];
        index += 1;
    }
    headers
};

/// Separator of the file: the one French spreadsheets write.
pub const SEPARATOR: u8 = b';';

/// A user of the demo, as the benchmark recreates it in each base.
#[derive(Clone, Debug)]
pub struct DemoUser {
    pub user: User,
    pub password_hash: Option<String>,
}

impl DemoUser {
    pub fn to_new_user(&self) -> NewUser {
        NewUser {
            initials: self.user.initials.clone(),
            login: self.user.login.clone(),
            first_name: self.user.first_name.clone(),
            last_name: self.user.last_name.clone(),
            email: self.user.email.clone(),
            role: self.user.role,
            active: self.user.active,
            password_hash: self.password_hash.clone(),
        }
    }
}

/// Size and users of the written file.
pub struct ContactFile {
    pub rows: u64,
    pub bytes: u64,
    pub users: Vec<DemoUser>,
}

/// Writes `contacts` demo contacts to `path` as a `;`-separated UTF-8 file.
pub fn write_contact_file(path: &Path, contacts: u64, scratch_dir: &Path) -> Result<ContactFile> {
    let scratch = scratch_dir.join("demo-users.db");
    remove_sqlite_files(&scratch)?;
    let inner = open_store(&scratch.to_string_lossy()).map_err(|error| {
        anyhow::anyhow!("opening the scratch base {}: {error}", scratch.display())
    })?;

    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = csv::WriterBuilder::new()
        .delimiter(SEPARATOR)
        .from_writer(BufWriter::with_capacity(1 << 20, file));
    writer.write_record(HEADERS)?;
    let capture = CaptureStore {
        inner,
        writer: Mutex::new(Some(writer)),
        rows: Mutex::new(0),
    };

    fill_demo(&capture, contacts, &mut |_| {})
        .map_err(|error| anyhow::anyhow!("generating demo contacts: {error}"))?;

    let writer = capture
        .writer
        .lock()
        .map_err(|_| anyhow::anyhow!("the CSV writer lock is poisoned"))?
        .take()
        .context("the CSV writer was already closed")?;
    let mut buffered = writer
        .into_inner()
        .map_err(|error| anyhow::anyhow!("flushing {}: {error}", path.display()))?;
    buffered.flush()?;
    drop(buffered);

    let mut users = Vec::new();
    for user in capture.inner.list_users().map_err(store_error)? {
        let password_hash = capture
            .inner
            .user_password_hash(user.id)
            .map_err(store_error)?;
        users.push(DemoUser {
            user,
            password_hash,
        });
    }
    let rows = *capture
        .rows
        .lock()
        .map_err(|_| anyhow::anyhow!("the row counter lock is poisoned"))?;
    drop(capture);
    remove_sqlite_files(&scratch)?;

    Ok(ContactFile {
        rows,
        bytes: std::fs::metadata(path)?.len(),
        users,
    })
}

/// Removes a SQLite file with its WAL and shared-memory companions.
pub fn remove_sqlite_files(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).with_context(|| format!("removing {file}")),
        }
    }
    Ok(())
}

fn store_error(error: StoreError) -> anyhow::Error {
    anyhow::anyhow!("scratch base: {error}")
}

type CsvWriter = csv::Writer<BufWriter<File>>;

/// Delegates everything to `inner` except imports, which become CSV rows.
struct CaptureStore {
    inner: Arc<dyn Store>,
    writer: Mutex<Option<CsvWriter>>,
    rows: Mutex<u64>,
}

struct CaptureSession<'a> {
    store: &'a CaptureStore,
    initials: HashMap<UserId, String>,
    /// Row number, which picks the spelling of each country.
    row: u64,
}

/// Writes a French postal code as a spreadsheet gives it. Excel drops the
/// leading zero of about a third of the codes that start with one, as the
/// demo generator does before the store gets the zero back.
fn postal_text(address: &AddressInput, row: u64, side: u64) -> String {
    let code = &address.postal_code;
    let french = address
        .country
        .as_ref()
        .is_some_and(|country| country.as_str() == "FRA");
    let spin =
        (row.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ side.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 40;
    if french && code.len() == 5 && code.starts_with('0') && spin % 100 < 30 {
        code[1..].to_string()
    } else {
        code.clone()
    }
}

/// How the demo spells a country in a file, picked from the row number so
/// that the file is the same on every run. The shares follow the demo's
/// own faults: most French addresses give `FRA`, some `France`, `FR`,
/// `fra` or nothing, and half of the Belgian and Swiss ones give the
/// country's French name.
fn country_text(address: &AddressInput, row: u64, side: u64) -> String {
    let Some(country) = &address.country else {
        return String::new();
    };
    let spin =
        (row.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ side.wrapping_mul(0xBF58_476D_1CE4_E5B9)) >> 32;
    let pick = spin % 100;
    match country.as_str() {
        "FRA" => match pick {
            0..=4 => String::new(),
            5..=9 => "France".into(),
            10..=11 => "FR".into(),
            12 => "fra".into(),
            _ => "FRA".into(),
        },
        "BEL" if pick < 50 => "Belgique".into(),
        "CHE" if pick < 50 => "Suisse".into(),
        other => other.to_string(),
    }
}

impl CaptureSession<'_> {
    fn record(&self, write: &ContactWrite) -> Vec<String> {
        let owner = |id: Option<UserId>| {
            id.and_then(|id| self.initials.get(&id).cloned())
                .unwrap_or_default()
        };
        let contact = &write.contact;
        let mut fields = vec![
            contact.civility.clone(),
            contact.first_name.clone(),
            contact.last_name.clone(),
            contact.company.clone(),
            contact.email.clone(),
            contact.phone.clone(),
            owner(write.commercial_owner),
            owner(write.technical_owner),
        ];
        for (side, address) in [(0, &contact.perso), (1, &contact.pro)] {
            fields.push(address.line1.clone());
            fields.push(address.line2.clone());
            fields.push(postal_text(address, self.row, side));
            fields.push(address.city.clone());
            fields.push(country_text(address, self.row, side));
        }
        fields
    }
}

impl ImportSession for CaptureSession<'_> {
    /// The demo generator writes every part of every contact.
    fn keep_stored(&mut self, _parts: &[ContactPart], _default_country: &CountryCode) {}

    /// The demo generator names no stored contact.
    fn keep_stored_external_ids(&mut self) {}

    fn list_users(&mut self) -> StoreResult<Vec<User>> {
        self.store.inner.list_users()
    }

    fn create_user(&mut self, user: &NewUser) -> StoreResult<User> {
        let created = self.store.inner.create_user(user)?;
        self.initials.insert(created.id, created.initials.clone());
        Ok(created)
    }

    fn write_contacts(&mut self, rows: &[ContactWrite]) -> StoreResult<ImportCounts> {
        let mut guard = self
            .store
            .writer
            .lock()
            .map_err(|_| StoreError::Database("the CSV writer lock is poisoned".into()))?;
        let writer = guard
            .as_mut()
            .ok_or_else(|| StoreError::Database("the CSV writer is closed".into()))?;
        for row in rows {
            self.row += 1;
            let record = self.record(row);
            writer
                .write_record(&record)
                .map_err(|error| StoreError::Database(format!("writing the CSV file: {error}")))?;
        }
        let mut count = self
            .store
            .rows
            .lock()
            .map_err(|_| StoreError::Database("the row counter lock is poisoned".into()))?;
        *count += rows.len() as u64;
        Ok(ImportCounts {
            imported: rows.len() as u64,
            ..ImportCounts::default()
        })
    }

    /// The demo generator rejects no line, and the file keeps no journal.
    /// Returns nothing, because the capture writes contacts to a file and
    /// no history.
    fn reversed_reassignments(&mut self) -> StoreResult<Vec<relais::storage::ReversedBatch>> {
        Ok(Vec::new())
    }

    /// The demo generator only creates contacts, so it takes no owner.
    fn cleared_owners(&mut self) -> StoreResult<(u64, u64)> {
        Ok((0, 0))
    }

    fn twin_contacts(&mut self) -> StoreResult<(u64, Vec<relais::storage::TwinContact>)> {
        Ok((0, Vec::new()))
    }

    fn record_rejected_lines(&mut self, _lines: u64) -> StoreResult<()> {
        Ok(())
    }

    fn commit(self: Box<Self>, _totals: &ImportCounts) -> StoreResult<BatchId> {
        Ok(0)
    }
}

impl Store for CaptureStore {
    fn engine(&self) -> &'static str {
        "csv"
    }

    fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        self.inner.create_user(user)
    }

    fn list_users(&self) -> StoreResult<Vec<User>> {
        self.inner.list_users()
    }

    fn find_user(&self, key: &str) -> StoreResult<Option<User>> {
        self.inner.find_user(key)
    }

    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.user_by_id(id)
    }

    fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<()> {
        self.inner.set_user_active(id, active)
    }

    fn set_user_role(&self, id: UserId, role: relais::domain::user::UserRole) -> StoreResult<()> {
        self.inner.set_user_role(id, role)
    }

    fn set_user_password(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        self.inner.set_user_password(id, password_hash)
    }

    fn user_password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        self.inner.user_password_hash(id)
    }

    fn find_contact(&self, key: &str) -> StoreResult<Option<Contact>> {
        self.inner.find_contact(key)
    }

    fn list_contacts(&self, filter: &ContactFilter, page: Page) -> StoreResult<ContactPage> {
        self.inner.list_contacts(filter, page)
    }

    fn export_contacts(
        &self,
        selection: &ExportSelection,
        sink: &mut dyn FnMut(&Contact) -> anyhow::Result<()>,
    ) -> StoreResult<u64> {
        self.inner.export_contacts(selection, sink)
    }

    fn contact_history(&self, contact: ContactId) -> StoreResult<Vec<HistoryEntry>> {
        self.inner.contact_history(contact)
    }

    fn count_contacts(&self) -> StoreResult<u64> {
        self.inner.count_contacts()
    }

    fn begin_import(
        &self,
        _actor: &Actor,
        _params: serde_json::Value,
    ) -> StoreResult<Box<dyn ImportSession + '_>> {
        let initials = self
            .inner
            .list_users()?
            .into_iter()
            .map(|user| (user.id, user.initials))
            .collect();
        Ok(Box::new(CaptureSession {
            store: self,
            initials,
            row: 0,
        }))
    }

    fn preview_user_reassignment(&self, request: &UserReassignment) -> StoreResult<Outcome> {
        self.inner.preview_user_reassignment(request)
    }

    fn apply_user_reassignment(
        &self,
        request: &UserReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied> {
        self.inner.apply_user_reassignment(request, run)
    }

    fn preview_region_reassignment(
        &self,
        request: &RegionReassignment,
    ) -> StoreResult<RegionPreview> {
        self.inner.preview_region_reassignment(request)
    }

    fn apply_region_reassignment(
        &self,
        request: &RegionReassignment,
        run: &RunContext,
    ) -> StoreResult<Applied> {
        self.inner.apply_region_reassignment(request, run)
    }

    fn undo_batch(&self, batch: BatchId, run: &RunContext) -> StoreResult<UndoResult> {
        self.inner.undo_batch(batch, run)
    }

    fn preview_undo(&self, batch: BatchId) -> StoreResult<UndoPreview> {
        self.inner.preview_undo(batch)
    }

    fn undo_skipped(
        &self,
        target: BatchId,
        undo: Option<BatchId>,
    ) -> StoreResult<Vec<relais::domain::batch::SkippedContact>> {
        self.inner.undo_skipped(target, undo)
    }

    fn list_batches(&self, limit: u32, offset: u32) -> StoreResult<Vec<Batch>> {
        self.inner.list_batches(limit, offset)
    }

    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>> {
        self.inner.batch(id)
    }

    fn data_version(&self) -> StoreResult<(u64, i64)> {
        self.inner.data_version()
    }

    fn batches_between_on_contacts(
        &self,
        batch: BatchId,
        since: BatchId,
        limit: u32,
    ) -> StoreResult<Vec<BatchId>> {
        self.inner.batches_between_on_contacts(batch, since, limit)
    }

    fn creating_import(&self, contact: i64) -> StoreResult<Option<BatchId>> {
        self.inner.creating_import(contact)
    }

    fn batch_contacts(&self, id: BatchId, page: Page) -> StoreResult<ContactPage> {
        self.inner.batch_contacts(id, page)
    }

    fn create_session(&self, session: &NewSession) -> StoreResult<bool> {
        self.inner.create_session(session)
    }

    fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.inner.session(token_hash)
    }

    fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.inner.delete_session(token_hash)
    }

    fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        label: &str,
        submission: Option<&str>,
    ) -> StoreResult<StoredToken> {
        self.inner
            .create_api_token(user, token_hash, label, submission)
    }

    fn api_token_user(&self, token_hash: &str) -> StoreResult<Option<User>> {
        self.inner.api_token_user(token_hash)
    }

    fn list_api_tokens(&self, user: Option<UserId>) -> StoreResult<Vec<ApiToken>> {
        self.inner.list_api_tokens(user)
    }

    fn revoke_api_token(
        &self,
        id: ApiTokenId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<TokenRevocation> {
        self.inner.revoke_api_token(id, at)
    }

    fn record_api_token_use(
        &self,
        token_hash: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        self.inner.record_api_token_use(token_hash, at)
    }

    fn record_login_failure(&self, key: &str, window_seconds: i64) -> StoreResult<u32> {
        self.inner.record_login_failure(key, window_seconds)
    }

    fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.inner.clear_login_failures(key)
    }
}
