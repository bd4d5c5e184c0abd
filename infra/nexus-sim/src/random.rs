//! Deterministic randomness. The simulator never asks the operating system for entropy: everything
//! "random" (barcodes, tokens, delivery outcomes, scan times, latency jitter) comes from the world's
//! seed, so two runs from the same seed file produce the same world.

/// SplitMix64: tiny, fast and good enough for a simulator (it is the seeding generator of xoshiro).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalise(self.state)
    }

    /// A number in `0..bound` (0 when `bound` is 0). The modulo bias is irrelevant at these sizes.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next_u64() % bound }
    }

    pub(crate) fn hex(&mut self, bytes: usize) -> String {
        let mut out = String::with_capacity(bytes * 2);
        while out.len() < bytes * 2 {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(bytes * 2);
        out
    }
}

/// The SplitMix64 output function: a strong 64-bit mixer.
fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable hash of several numbers. The lifecycle driver derives every choice it makes for a
/// consignment from `hash_of(&[seed, consignment id, what, attempt])` rather than from a shared
/// generator, so the choice does not depend on the order in which consignments are processed, and
/// stepping a consignment by hand gives the same outcome as letting the clock run.
pub(crate) fn hash_of(parts: &[u64]) -> u64 {
    parts.iter().fold(0x243F_6A88_85A3_08D3, |acc, part| finalise(acc ^ part.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// A number for a short label (FNV-1a), to feed `hash_of` with "what" is being decided.
pub(crate) fn tag(label: &str) -> u64 {
    label.bytes().fold(0xcbf2_9ce4_8422_2325, |acc, byte| (acc ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_hashes_are_order_independent() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!((a.next_u64(), a.next_u64()), (b.next_u64(), b.next_u64()));
        assert_ne!(hash_of(&[1, 2]), hash_of(&[2, 1]));
        assert_eq!(hash_of(&[1, tag("POC")]), hash_of(&[1, tag("POC")]));
        assert!(a.below(10) < 10);
        assert_eq!(a.hex(5).len(), 10);
    }
}
