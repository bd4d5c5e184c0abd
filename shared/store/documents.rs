//! The document store: labels and POD files, addressed by key, with content type and SHA-256.

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::error::StoreError;

/// What the store knows of a stored document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredDocument {
    /// Its key (`labels/…`, `pod/…`).
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl StoredDocument {
    /// What `bytes` stored under `key` as `content_type` is.
    pub fn describe(key: &str, content_type: &str, bytes: &[u8]) -> StoredDocument {
        StoredDocument {
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// The document store port.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores `bytes` under `key`, replacing what was there.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<StoredDocument, StoreError>;

    /// Reads a document and its bytes.
    async fn get(&self, key: &str) -> Result<Option<(StoredDocument, Vec<u8>)>, StoreError>;

    /// Reads what is known of a document without its bytes.
    async fn head(&self, key: &str) -> Result<Option<StoredDocument>, StoreError>;
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuses keys that could escape a folder or are not plain relative paths.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.ends_with('/')
        || key.split('/').any(|part| part.is_empty() || part == "." || part == "..")
        || key.chars().any(|c| c.is_control() || c == '\\');
    if bad {
        return Err(StoreError::Backend {
            backend: "document store",
            operation: "key check",
            reason: format!("{key:?} is not a plain relative key like labels/PALLEX/10001/all.pdf"),
        });
    }
    Ok(())
}

/// The key layout of DESIGN.md §3.
pub mod document_key {
    use crate::domain::{DocumentKind, Network, NexusConsignmentId};

    /// `labels/<network>/<nexus id>/<pallet barcode or "all">.<pdf|zpl>`.
    pub fn label(network: Network, id: NexusConsignmentId, pallet: Option<&str>, extension: &str) -> String {
        format!("labels/{network}/{id}/{}.{extension}", pallet.unwrap_or("all"))
    }

    /// `pod/<network>/<nexus id>/<kind>/<sha256>.<ext>`.
    pub fn pod(network: Network, id: NexusConsignmentId, kind: DocumentKind, sha256: &str, extension: &str) -> String {
        format!("pod/{network}/{id}/{kind}/{sha256}.{extension}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DocumentKind, Network, NexusConsignmentId};

    #[test]
    fn keys_follow_the_layout_and_stay_inside() {
        let id = NexusConsignmentId(10001);
        assert_eq!(document_key::label(Network::Pallex, id, None, "pdf"), "labels/PALLEX/10001/all.pdf");
        assert_eq!(
            document_key::pod(Network::Fortec, id, DocumentKind::PalletPhoto, "ab12", "jpg"),
            "pod/FORTEC/10001/MPODPHOTOE/ab12.jpg"
        );
        assert!(check_key("labels/PALLEX/1/all.pdf").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a/", "./a", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
