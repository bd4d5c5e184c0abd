//! In-memory adapters, for unit tests and benchmarks.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::documents::check_key;
use super::kv::{Decide, KvBackend, KvStore};
use super::{DocumentStore, StoredDocument};
use crate::error::StoreError;

/// A [`KvBackend`] in a mutex-guarded map.
#[derive(Debug, Default)]
pub struct MemoryKv {
    entries: Mutex<HashMap<String, Vec<u8>>>,
}

impl KvBackend for MemoryKv {
    const NAME: &'static str = "memory store";

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.lock().expect("memory store lock").get(key).cloned())
    }

    fn update(&self, key: &str, decide: &mut Decide<'_>) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().expect("memory store lock");
        if let Some(next) = decide(entries.get(key).map(Vec::as_slice)) {
            entries.insert(key.to_owned(), next);
        }
        Ok(())
    }

    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let entries = self.entries.lock().expect("memory store lock");
        let mut found: Vec<(String, Vec<u8>)> =
            entries.iter().filter(|(key, _)| key.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        found.sort();
        Ok(found)
    }
}

/// Ledger, cursors, sync state and tokens in memory.
pub type MemoryStore = KvStore<MemoryKv>;

impl MemoryStore {
    /// An empty store.
    pub fn in_memory() -> Self {
        KvStore::new(MemoryKv::default())
    }
}

/// Documents in memory.
#[derive(Debug, Default)]
pub struct MemoryDocuments {
    documents: Mutex<HashMap<String, (StoredDocument, Vec<u8>)>>,
}

#[async_trait]
impl DocumentStore for MemoryDocuments {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<StoredDocument, StoreError> {
        check_key(key)?;
        let stored = StoredDocument::describe(key, content_type, &bytes);
        self.documents.lock().expect("memory documents lock").insert(key.to_owned(), (stored.clone(), bytes));
        Ok(stored)
    }

    async fn get(&self, key: &str) -> Result<Option<(StoredDocument, Vec<u8>)>, StoreError> {
        Ok(self.documents.lock().expect("memory documents lock").get(key).cloned())
    }

    async fn head(&self, key: &str) -> Result<Option<StoredDocument>, StoreError> {
        Ok(self.documents.lock().expect("memory documents lock").get(key).map(|(meta, _)| meta.clone()))
    }
}
