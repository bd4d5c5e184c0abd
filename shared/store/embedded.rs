//! Embedded on-disk adapters for the local bridge: records in a [redb] database file (ACID, one
//! writer at a time, so every update is atomic), documents as plain files in a folder that a person
//! can open (`labels/…/all.pdf`), with their metadata beside them under `.meta/`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::documents::check_key;
use super::kv::{Decide, KvBackend, KvStore};
use super::{DocumentStore, StoredDocument};
use crate::error::StoreError;

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");

/// A [`KvBackend`] in a redb file.
pub struct RedbKv {
    database: Database,
}

impl std::fmt::Debug for RedbKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbKv")
    }
}

fn redb_error(operation: &'static str) -> impl Fn(redb::Error) -> StoreError {
    move |err| StoreError::backend("embedded store", operation, err)
}

impl RedbKv {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|err| StoreError::backend("embedded store", "open", err))?;
        }
        let database = Database::create(path).map_err(|err| redb_error("open")(err.into()))?;
        let txn = database.begin_write().map_err(|err| redb_error("open")(err.into()))?;
        txn.open_table(RECORDS).map_err(|err| redb_error("open")(err.into()))?;
        txn.commit().map_err(|err| redb_error("open")(err.into()))?;
        Ok(RedbKv { database })
    }
}

impl KvBackend for RedbKv {
    const NAME: &'static str = "embedded store";

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let fail = redb_error("read");
        let txn = self.database.begin_read().map_err(|e| fail(e.into()))?;
        let table = txn.open_table(RECORDS).map_err(|e| fail(e.into()))?;
        let value = table.get(key).map_err(|e| fail(e.into()))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn update(&self, key: &str, decide: &mut Decide<'_>) -> Result<(), StoreError> {
        let fail = redb_error("update");
        let txn = self.database.begin_write().map_err(|e| fail(e.into()))?;
        {
            let mut table = txn.open_table(RECORDS).map_err(|e| fail(e.into()))?;
            let current = table.get(key).map_err(|e| fail(e.into()))?.map(|v| v.value().to_vec());
            if let Some(next) = decide(current.as_deref()) {
                table.insert(key, next.as_slice()).map_err(|e| fail(e.into()))?;
            }
        }
        txn.commit().map_err(|e| fail(e.into()))
    }

    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let fail = redb_error("scan");
        let txn = self.database.begin_read().map_err(|e| fail(e.into()))?;
        let table = txn.open_table(RECORDS).map_err(|e| fail(e.into()))?;
        let mut found = Vec::new();
        for entry in table.range(prefix..).map_err(|e| fail(e.into()))? {
            let (key, value) = entry.map_err(|e| fail(e.into()))?;
            if !key.value().starts_with(prefix) {
                break;
            }
            found.push((key.value().to_owned(), value.value().to_vec()));
        }
        Ok(found)
    }
}

/// Ledger, cursors, sync state and tokens in a redb file.
pub type EmbeddedStore = KvStore<RedbKv>;

impl EmbeddedStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(KvStore::new(RedbKv::open(path)?))
    }
}

/// Documents as files under a folder.
#[derive(Debug, Clone)]
pub struct DirectoryDocuments {
    root: PathBuf,
}

impl DirectoryDocuments {
    /// Documents under `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectoryDocuments { root: root.into() }
    }

    /// The folder the documents are in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn paths(&self, key: &str) -> Result<(PathBuf, PathBuf), StoreError> {
        check_key(key)?;
        Ok((self.root.join(key), self.root.join(".meta").join(format!("{key}.json"))))
    }
}

fn io_error(operation: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |err| StoreError::backend("document folder", operation, err)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let fail = io_error("write");
    let parent = path.parent().expect("document paths have a folder");
    std::fs::create_dir_all(parent).map_err(&fail)?;
    let mut temporary = tempfile::NamedTempFile::new_in(parent).map_err(&fail)?;
    std::io::Write::write_all(&mut temporary, bytes).map_err(&fail)?;
    temporary.persist(path).map_err(|err| fail(err.error))?;
    Ok(())
}

#[async_trait]
impl DocumentStore for DirectoryDocuments {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<StoredDocument, StoreError> {
        let (file, meta) = self.paths(key)?;
        let stored = StoredDocument::describe(key, content_type, &bytes);
        write_atomically(&file, &bytes)?;
        write_atomically(&meta, &serde_json::to_vec(&stored).expect("metadata serialises"))?;
        Ok(stored)
    }

    async fn get(&self, key: &str) -> Result<Option<(StoredDocument, Vec<u8>)>, StoreError> {
        let Some(stored) = self.head(key).await? else {
            return Ok(None);
        };
        let (file, _) = self.paths(key)?;
        match std::fs::read(&file) {
            Ok(bytes) => Ok(Some((stored, bytes))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io_error("read")(err)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<StoredDocument>, StoreError> {
        let (_, meta) = self.paths(key)?;
        match std::fs::read(&meta) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|err| StoreError::Corrupt { key: key.to_owned(), reason: err.to_string() }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io_error("read")(err)),
        }
    }
}
