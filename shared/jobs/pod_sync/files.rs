//! The files' formats: the MIME type read from a file's own bytes when the given one is generic,
//! its extension, and the name a file gets on Nexus.

use crate::domain::{DocumentKind, NexusConsignmentId};

/// The MIME type of a file: the one given, unless it is missing or generic, then the one its first
/// bytes show (PDF, PNG, JPEG, GIF, TIFF, WebP, HEIC), else the file name's extension.
pub(super) fn media_type(given: &str, bytes: &[u8], file_name: Option<&str>) -> String {
    let given = given.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let given = match given.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".to_owned(),
        _ => given,
    };
    if !given.is_empty() && given != "application/octet-stream" && given != "binary/octet-stream" {
        return given;
    }
    let sniffed = if bytes.starts_with(b"%PDF") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("image/tiff")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && matches!(&bytes[8..12], b"heic" | b"heix" | b"mif1") {
        Some("image/heic")
    } else {
        None
    };
    let by_name = || {
        let extension = file_name?.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match extension.as_str() {
            "pdf" => "application/pdf",
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            _ => return None,
        })
    };
    sniffed.or_else(by_name).unwrap_or("application/octet-stream").to_owned()
}

/// The file extension of a MIME type.
pub(super) fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/tiff" => "tiff",
        "image/webp" => "webp",
        "image/heic" => "heic",
        _ => "bin",
    }
}

/// The name a file gets on Nexus (and in Qargo when Nexus gave none): kind, consignment and the
/// start of its SHA-256, so a repeated upload can be recognised on Nexus by its name.
pub(super) fn evidence_file_name(
    kind: DocumentKind,
    id: NexusConsignmentId,
    sha256: &str,
    content_type: &str,
) -> String {
    format!("{}_{id}_{}.{}", kind.code(), &sha256[..sha256.len().min(16)], extension_for(content_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sha256_hex;

    #[test]
    fn media_types_are_kept_or_read_from_the_file() {
        assert_eq!(media_type("image/JPG", b"", None), "image/jpeg");
        assert_eq!(media_type("image/png; charset=binary", b"", None), "image/png");
        assert_eq!(media_type("application/octet-stream", b"%PDF-1.4", None), "application/pdf");
        assert_eq!(media_type("", &[0xFF, 0xD8, 0xFF, 0xE0], None), "image/jpeg");
        assert_eq!(media_type("", b"\x89PNG\r\n\x1a\n...", None), "image/png");
        assert_eq!(media_type("", b"\0\0\0\x18ftypheic", None), "image/heic");
        assert_eq!(media_type("", b"????", Some("scan.PDF")), "application/pdf");
        assert_eq!(media_type("", b"????", None), "application/octet-stream");
        assert_eq!(extension_for("image/jpeg"), "jpg");
        assert_eq!(extension_for("application/x-unknown"), "bin");
    }

    #[test]
    fn evidence_file_names_carry_kind_consignment_and_hash() {
        let sha = sha256_hex(b"photo");
        let name = evidence_file_name(DocumentKind::PalletPhoto, NexusConsignmentId(10020), &sha, "image/jpeg");
        assert_eq!(name, format!("MPODPHOTOE_10020_{}.jpg", &sha[..16]));
    }
}
