//! Cache of region previews for the web server, where an administrator's
//! typing sends the same preview again and again.
//!
//! An entry is reused only while the store's data version (number of
//! batches and highest batch id) is the one it was computed at. Every
//! change to contacts commits a batch, so a hit is exactly what the store
//! would compute, and several servers on one database stay consistent.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::storage::{RegionPreview, Store};

use super::ServiceError;
use super::reassign::PreparedRegionReassignment;

/// Entries kept before the cache starts over; previews are small, so this
/// bounds memory to a few megabytes.
const MAX_ENTRIES: usize = 512;

type Version = (u64, i64);

#[derive(Default)]
pub struct PreviewCache {
    entries: Mutex<HashMap<String, (Version, RegionPreview)>>,
}

impl PreviewCache {
    pub fn new() -> PreviewCache {
        PreviewCache::default()
    }

    /// Returns the preview of `prepared`, from the cache when the data has
    /// not changed since it was computed.
    pub fn region_preview(
        &self,
        store: &dyn Store,
        prepared: &PreparedRegionReassignment,
    ) -> Result<RegionPreview, ServiceError> {
        let key = format!("{:?}", prepared.request);
        let version = store.data_version()?;
        if let Some((cached_at, preview)) = self.lock().get(&key)
            && *cached_at == version
        {
            return Ok(preview.clone());
        }

        let preview = store.preview_region_reassignment(&prepared.request)?;

        // A batch that committed while the preview ran may or may not be
        // in it: keep such a result out of the cache.
        if store.data_version()? == version {
            let mut entries = self.lock();
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (version, preview.clone()));
        }
        Ok(preview)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Version, RegionPreview)>> {
        // A panic while holding the lock leaves a map that is still valid.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
