//! Small sample files for scenario captures that bring no bytes of their own: a PNG signature and a
//! JPEG photo, each carrying a text comment so two captures never share a SHA-256.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A valid 1×1 PNG.
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// A tiny JPEG (SOI, quantisation table, arithmetic-coded frame, scan, EOI); not meant to be rendered.
const JPEG_TINY: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00, 0x03, 0x02, 0x02, 0x02, 0x02, 0x02, 0x03, 0x02, 0x02, 0x02, 0x03, 0x03,
    0x03, 0x03, 0x04, 0x06, 0x04, 0x04, 0x04, 0x04, 0x04, 0x08, 0x06, 0x06, 0x05, 0x06, 0x09, 0x08, 0x0A, 0x0A, 0x09,
    0x08, 0x09, 0x09, 0x0A, 0x0C, 0x0F, 0x0C, 0x0A, 0x0B, 0x0E, 0x0B, 0x09, 0x09, 0x0D, 0x11, 0x0D, 0x0E, 0x0F, 0x10,
    0x10, 0x11, 0x10, 0x0A, 0x0C, 0x12, 0x13, 0x12, 0x10, 0x13, 0x0F, 0x10, 0x10, 0x10, 0xFF, 0xC9, 0x00, 0x0B, 0x08,
    0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xCC, 0x00, 0x06, 0x00, 0x10, 0x10, 0x05, 0xFF, 0xDA, 0x00,
    0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0xD2, 0xCF, 0x20, 0xFF, 0xD9,
];

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// A PNG with a `tEXt` `Comment` chunk holding `comment`.
pub fn png(comment: &str) -> Vec<u8> {
    let base = STANDARD.decode(PNG_1X1).expect("constant PNG is valid base64");
    // IEND is the last 12 bytes; the text chunk goes just before it.
    let (head, iend) = base.split_at(base.len() - 12);
    let mut data = b"Comment\0".to_vec();
    data.extend_from_slice(comment.as_bytes());
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut typed = b"tEXt".to_vec();
    typed.extend_from_slice(&data);
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32(&typed).to_be_bytes());
    [head, &chunk, iend].concat()
}

/// A JPEG with a `COM` segment holding `comment` (at most 60 000 bytes of it).
pub fn jpeg(comment: &str) -> Vec<u8> {
    let body = &JPEG_TINY[2..];
    let text = &comment.as_bytes()[..comment.len().min(60_000)];
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xFE];
    out.extend_from_slice(&((text.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(text);
    out.extend_from_slice(body);
    out
}
