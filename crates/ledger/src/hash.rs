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
            HashAlg::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().into()
            }
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
