//! RFC 9162 §2.1.1: leaf hash H(0x00 ‖ entry), node hash H(0x01 ‖ left ‖ right), and the
//! empty tree's hash H(""). SHA-256 and SM3 both give 32 bytes; one log never mixes them.

use sha2::{Digest as _, Sha256};
use sm3::Sm3;

pub type Hash = [u8; 32];

/// The hash function of a log, chosen when the agency is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    /// SM3 (GB/T 32905-2016), for 国密 deployments.
    Sm3,
}

impl HashAlg {
    pub fn code(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sm3 => "sm3",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "sha256" => Some(HashAlg::Sha256),
            "sm3" => Some(HashAlg::Sm3),
            _ => None,
        }
    }

    /// Hash of the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Hash {
        match self {
            HashAlg::Sha256 => sha256_short(parts).unwrap_or_else(|| {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().into()
            }),
            HashAlg::Sm3 => {
                let mut h = Sm3::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().into()
            }
        }
    }

    pub fn leaf(self, entry: &[u8]) -> Hash {
        self.digest(&[&[0x00], entry])
    }

    pub fn node(self, left: &Hash, right: &Hash) -> Hash {
        self.digest(&[&[0x01], left, right])
    }

    pub fn empty_root(self) -> Hash {
        self.digest(&[])
    }
}

/// SHA-256's initial state (FIPS 180-4 §5.3.3).
pub(crate) const SHA256_INIT: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 of the concatenation of `parts` if it is at most 183 bytes (three blocks with
/// the padding), laid out and padded on the stack and compressed in one call; `None` for
/// longer input. Leaves, nodes and most commitments are this short, and `zhifa verify`
/// hashes millions of them: this spends about 10 % less time per hash than the streaming
/// API's buffering (BENCHMARKS.md).
fn sha256_short(parts: &[&[u8]]) -> Option<Hash> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > 3 * 64 - 9 {
        return None;
    }
    let mut blocks = [[0u8; 64]; 3];
    let used = (len + 9).div_ceil(64);
    let flat = blocks.as_flattened_mut();
    let mut at = 0;
    for p in parts {
        flat[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    // FIPS 180-4 §5.1.1: a 1 bit, zeros, then the length in bits as a big-endian u64.
    flat[at] = 0x80;
    flat[used * 64 - 8..used * 64].copy_from_slice(&(len as u64 * 8).to_be_bytes());
    let mut state = SHA256_INIT;
    sha2::block_api::compress256(&mut state, &blocks[..used]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    Some(out)
}

pub fn to_hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn short_sha256_is_sha256(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..4),
        ) {
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let mut h = Sha256::new();
            for p in &refs {
                h.update(p);
            }
            let streamed: Hash = h.finalize().into();
            prop_assert_eq!(HashAlg::Sha256.digest(&refs), streamed);
        }
    }

    #[test]
    fn short_sha256_at_every_length_around_the_block_edges() {
        for len in 0..=200usize {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let expected: Hash = Sha256::digest(&data).into();
            assert_eq!(HashAlg::Sha256.digest(&[&data]), expected, "length {len}");
        }
    }

    #[test]
    fn sm3_matches_the_gbt_32905_vector() {
        // GB/T 32905-2016 Appendix A.1: SM3("abc").
        assert_eq!(
            to_hex(&HashAlg::Sm3.digest(&[b"abc"])),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn sha256_empty_root() {
        assert_eq!(
            to_hex(&HashAlg::Sha256.empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
