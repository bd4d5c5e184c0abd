//! The files a delivering depot's handheld would produce: a signature (PNG), a photo of the pallets
//! (JPEG) and, later, a scanned paper delivery note (PDF). They are tiny but valid files, and their
//! bytes differ per consignment so that clients which de-duplicate by SHA-256 behave as in production.

use crate::pdf::{self, Page};
use crate::random::SplitMix64;

/// A signature scrawl: a white 200×60 greyscale PNG with a black squiggle shaped by `seed`.
pub(crate) fn signature_png(seed: u64) -> Vec<u8> {
    const WIDTH: usize = 200;
    const HEIGHT: usize = 60;
    let mut pixels = vec![255u8; WIDTH * HEIGHT];
    let mut rng = SplitMix64::new(seed);
    let frequency = 0.05 + rng.below(60) as f64 / 1000.0;
    let phase = rng.below(628) as f64 / 100.0;
    let amplitude = 10.0 + rng.below(12) as f64;
    for x in 12..WIDTH - 12 {
        let t = x as f64;
        let y = 30.0 + amplitude * (t * frequency + phase).sin() * (t * 0.013).cos();
        for dy in -1..=1 {
            let row = (y as i64 + dy).clamp(0, HEIGHT as i64 - 1) as usize;
            pixels[row * WIDTH + x] = 0;
        }
    }
    let mut raw = Vec::with_capacity((WIDTH + 1) * HEIGHT);
    for row in pixels.chunks(WIDTH) {
        raw.push(0); // filter type: none
        raw.extend_from_slice(row);
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&(WIDTH as u32).to_be_bytes());
    header.extend_from_slice(&(HEIGHT as u32).to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no filter, no interlace
    png_chunk(&mut png, b"IHDR", &header);
    png_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of uncompressed ("stored") deflate blocks: valid everywhere, no compressor needed.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65_535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A "photo" of the pallets: a 64×48 greyscale baseline JPEG made of flat 8×8 blocks (a wooden
/// pallet with a load on it, at very low resolution), with `comment` in a COM segment.
///
/// Flat blocks have no AC coefficients, so the file needs only a DC table and an end-of-block code;
/// that keeps the encoder to a few lines while any JPEG decoder reads the result.
pub(crate) fn pallet_photo_jpeg(seed: u64, comment: &str) -> Vec<u8> {
    const BLOCKS_WIDE: usize = 8;
    const BLOCKS_HIGH: usize = 6;
    let mut rng = SplitMix64::new(seed);
    let mut levels = Vec::with_capacity(BLOCKS_WIDE * BLOCKS_HIGH);
    for row in 0..BLOCKS_HIGH {
        for column in 0..BLOCKS_WIDE {
            let base: i32 = match row {
                0 => 200,                                              // warehouse wall
                1..=3 if (1..BLOCKS_WIDE - 1).contains(&column) => 90, // shrink-wrapped load
                4 => 150,                                              // pallet deck
                5 => 60,                                               // floor
                _ => 190,
            };
            levels.push((base + rng.below(30) as i32 - 15).clamp(0, 255));
        }
    }

    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    let comment = comment.as_bytes();
    let comment = &comment[..comment.len().min(60_000)];
    jpeg.extend_from_slice(&[0xFF, 0xFE]);
    jpeg.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    jpeg.extend_from_slice(comment);
    // Quantisation table 0: 16 for DC (keeps DC categories small), 1 for the unused AC terms.
    jpeg.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00, 16]);
    jpeg.extend_from_slice(&[1u8; 63]);
    // Baseline frame, one component.
    let (height, width) = ((BLOCKS_HIGH * 8) as u16, (BLOCKS_WIDE * 8) as u16);
    jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 8]);
    jpeg.extend_from_slice(&height.to_be_bytes());
    jpeg.extend_from_slice(&width.to_be_bytes());
    jpeg.extend_from_slice(&[1, 1, 0x11, 0]);
    // DC table: categories 0..=11, all four-bit codes, so category n is coded as n.
    jpeg.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x1F, 0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    jpeg.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // AC table: only end-of-block, coded as the single bit 0.
    jpeg.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]);
    jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);

    let mut bits = BitWriter::default();
    let mut previous_dc = 0i32;
    for level in levels {
        // A flat block's DC coefficient is 8 × (level − 128); divided by the quantiser 16.
        let dc = ((level - 128) * 8) / 16;
        let diff = dc - previous_dc;
        previous_dc = dc;
        let category = if diff == 0 { 0 } else { 32 - diff.unsigned_abs().leading_zeros() };
        bits.put(category, 4);
        if category > 0 {
            let value = if diff >= 0 { diff as u32 } else { (diff + (1 << category) - 1) as u32 };
            bits.put(value, category);
        }
        bits.put(0, 1); // end of block
    }
    jpeg.extend_from_slice(&bits.finish());
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    jpeg
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    current: u32,
    filled: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, count: u32) {
        for i in (0..count).rev() {
            self.current = (self.current << 1) | ((value >> i) & 1);
            self.filled += 1;
            if self.filled == 8 {
                self.push_byte();
            }
        }
    }

    fn push_byte(&mut self) {
        let byte = self.current as u8;
        self.bytes.push(byte);
        if byte == 0xFF {
            self.bytes.push(0x00); // byte stuffing inside entropy-coded data
        }
        self.current = 0;
        self.filled = 0;
    }

    fn finish(mut self) -> Vec<u8> {
        while self.filled != 0 {
            self.current = (self.current << 1) | 1; // pad with one-bits
            self.filled += 1;
            if self.filled == 8 {
                self.push_byte();
            }
        }
        self.bytes
    }
}

/// A scanned paper delivery note (one A5-landscape page).
pub(crate) fn delivery_note_pdf(consignment_number: &str, signed_by: &str, delivered: &str, pallets: usize) -> Vec<u8> {
    let mut page = Page::new(595.0, 420.0);
    page.text(40.0, 370.0, 22.0, true, "DELIVERY NOTE");
    page.text(40.0, 335.0, 12.0, false, &format!("Consignment {consignment_number}"));
    page.text(40.0, 315.0, 12.0, false, &format!("Pallets received: {pallets}"));
    page.text(40.0, 295.0, 12.0, false, &format!("Delivered: {delivered}"));
    page.text(40.0, 255.0, 12.0, false, "Received in good condition, subject to inspection.");
    page.text(40.0, 200.0, 12.0, false, &format!("Signed: {signed_by}"));
    page.filled_rect(40.0, 190.0, 250.0, 0.8);
    pdf::document(&format!("Delivery note {consignment_number}"), vec![page])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_jpeg_have_their_signatures_and_differ_by_seed() {
        let png = signature_png(1);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82])); // CRC of an empty IEND chunk
        assert_ne!(png, signature_png(2));
        let jpeg = pallet_photo_jpeg(1, "x");
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(jpeg.ends_with(&[0xFF, 0xD9]));
        assert_ne!(jpeg, pallet_photo_jpeg(2, "x"));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
