//! Entry authentication: an HMAC-SHA256 over an entry's canonical bytes, under a secret
//! key that only zhifa's own nodes hold (a file beside the signing keys, never in the
//! database).
//!
//! The tree and the signed checkpoints show that a log only grew; they cannot show who
//! appended an entry. Someone who can write the database but not read the key directory
//! could otherwise append a well-formed entry that "explains" a row changed by hand, and
//! the checkpointer would sign it. With a code on every entry, such an entry is refused
//! by the checkpointer and named by `zhifa verify`. The code is stored beside the entry,
//! not in it: it means something only to the installation that holds the key, so the
//! public log (tiles, bundles) carries none.
//!
//! Stored form: an 8-byte key id, then the 32-byte HMAC, so a code made under another
//! installation's key is told apart from a wrong one. The id also says what was
//! authenticated:
//! - the start of SHA-256("zhifa/entry-key/leaf\n" ‖ key): the HMAC of
//!   "zhifa/entry-leaf\n" ‖ the entry's leaf hash (which commits to the entry), one
//!   SHA-256 block however long the entry — codes are made this way now;
//! - the start of SHA-256("zhifa/entry-key\n" ‖ key): the HMAC of the entry's bytes,
//!   as codes were made before (still checked).

use crate::hash::{Hash, HashAlg, SHA256_INIT};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const KEY_ID_LEN: usize = 8;
pub const CODE_LEN: usize = KEY_ID_LEN + 32;

/// What a code over a leaf hash authenticates: this label, then the leaf hash.
const LEAF_LABEL: &[u8] = b"zhifa/entry-leaf\n";

/// A secret entry-authentication key.
#[derive(Clone)]
pub struct EntryKey {
    /// Key id of codes over the leaf hash (made now).
    id: [u8; KEY_ID_LEN],
    /// Key id of codes over the entry's bytes (made before).
    bytes_id: [u8; KEY_ID_LEN],
    /// SHA-256 states after the key's inner and outer pad blocks (RFC 2104): a code over
    /// a leaf hash is then one compression for each, with no buffering (verification
    /// checks millions).
    inner: [u32; 8],
    outer: [u32; 8],
    /// The HMAC state after the key block, cloned per entry for codes over an entry's
    /// bytes (made before codes over leaf hashes).
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for EntryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryKey({})", crate::hash::to_hex(&self.id))
    }
}

/// What a stored code says about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticity {
    /// Made by a holder of this key for exactly these bytes.
    Genuine,
    /// Not made for these bytes by this key: forged, or the entry was altered.
    Wrong,
    /// Made under another key (named by its id), which this node does not hold.
    OtherKey([u8; KEY_ID_LEN]),
}

impl EntryKey {
    pub fn from_secret(secret: [u8; 32]) -> EntryKey {
        let id_of = |label: &[u8]| {
            let digest: Hash = HashAlg::Sha256.digest(&[label, &secret]);
            let mut id = [0u8; KEY_ID_LEN];
            id.copy_from_slice(&digest[..KEY_ID_LEN]);
            id
        };
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret).expect("any key length");
        let padded = |pad: u8| {
            let mut block = [pad; 64];
            for (b, k) in block.iter_mut().zip(secret) {
                *b ^= k;
            }
            let mut state = SHA256_INIT;
            sha2::block_api::compress256(&mut state, &[block]);
            state
        };
        EntryKey {
            id: id_of(b"zhifa/entry-key/leaf\n"),
            bytes_id: id_of(b"zhifa/entry-key\n"),
            keyed,
            inner: padded(0x36),
            outer: padded(0x5c),
        }
    }

    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    /// HMAC-SHA256 of `LEAF_LABEL ‖ leaf`: the message and the inner hash each fit one
    /// block with their padding (FIPS 180-4 §5.1.1; the length counts the pad block).
    fn leaf_tag(&self, leaf: &Hash) -> [u8; 32] {
        fn finish(mut state: [u32; 8], message: &[u8]) -> [u8; 32] {
            let mut block = [0u8; 64];
            block[..message.len()].copy_from_slice(message);
            block[message.len()] = 0x80;
            block[56..].copy_from_slice(&((64 + message.len()) as u64 * 8).to_be_bytes());
            sha2::block_api::compress256(&mut state, &[block]);
            let mut out = [0u8; 32];
            for (o, w) in out.chunks_exact_mut(4).zip(state) {
                o.copy_from_slice(&w.to_be_bytes());
            }
            out
        }
        let mut message = [0u8; LEAF_LABEL.len() + 32];
        message[..LEAF_LABEL.len()].copy_from_slice(LEAF_LABEL);
        message[LEAF_LABEL.len()..].copy_from_slice(leaf);
        finish(self.outer, &finish(self.inner, &message))
    }

    /// The code to store beside the entry whose leaf hash is `leaf`.
    pub fn code(&self, leaf: &Hash) -> Vec<u8> {
        let mut out = Vec::with_capacity(CODE_LEN);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.leaf_tag(leaf));
        out
    }

    /// A code as made before codes covered leaf hashes: the HMAC of the entry's bytes,
    /// under the older key id. Nothing writes these now; tests of upgraded logs do.
    #[doc(hidden)]
    pub fn code_over_bytes(&self, entry: &[u8]) -> Vec<u8> {
        let mut mac = self.keyed.clone();
        mac.update(entry);
        let mut out = self.bytes_id.to_vec();
        out.extend_from_slice(&mac.finalize().into_bytes());
        out
    }

    /// A code over operational state kept outside the log (a session, a counted login
    /// failure): HMAC-SHA256 of `label ‖ 0x00 ‖ field ‖ 0x00 ‖ …`, hex. The label keeps
    /// codes of one kind from standing for another; the separators keep fields apart.
    pub fn state_code(&self, label: &str, fields: &[&str]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(b"zhifa/state/");
        mac.update(label.as_bytes());
        for f in fields {
            mac.update(&[0]);
            mac.update(f.as_bytes());
        }
        crate::hash::to_hex(&mac.finalize().into_bytes())
    }

    /// Checks a stored code for `entry`, whose leaf hash is `leaf` (compared in constant
    /// time).
    pub fn check(&self, entry: &[u8], leaf: &Hash, code: &[u8]) -> Authenticity {
        if code.len() != CODE_LEN {
            return Authenticity::Wrong;
        }
        let (id, tag) = code.split_at(KEY_ID_LEN);
        let mac = if id == self.id {
            // Compared without an early exit, as `verify_slice` does.
            let diff = self
                .leaf_tag(leaf)
                .iter()
                .zip(tag)
                .fold(0u8, |d, (a, b)| d | (a ^ b));
            return if diff == 0 {
                Authenticity::Genuine
            } else {
                Authenticity::Wrong
            };
        } else if id == self.bytes_id {
            let mut mac = self.keyed.clone();
            mac.update(entry);
            mac
        } else {
            let mut other = [0u8; KEY_ID_LEN];
            other.copy_from_slice(id);
            return Authenticity::OtherKey(other);
        };
        if mac.verify_slice(tag).is_ok() {
            Authenticity::Genuine
        } else {
            Authenticity::Wrong
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_4231_test_case_2() {
        // HMAC-SHA256 with key "Jefe" padded to our fixed 32 bytes is not the RFC case, so
        // check the primitive itself on the RFC's input through the same code path.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            crate::hash::to_hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    proptest! {
        #[test]
        fn codes_hold_only_for_their_key_and_bytes(
            secret: [u8; 32],
            other: [u8; 32],
            entry in proptest::collection::vec(any::<u8>(), 0..200),
            flip in 0usize..(CODE_LEN * 8),
        ) {
            let key = EntryKey::from_secret(secret);
            let alg = HashAlg::Sha256;
            let leaf = alg.leaf(&entry);
            let code = key.code(&leaf);
            prop_assert_eq!(key.check(&entry, &leaf, &code), Authenticity::Genuine);
            // Any flipped bit of the code is caught.
            let mut bad = code.clone();
            bad[flip / 8] ^= 1 << (flip % 8);
            prop_assert_ne!(key.check(&entry, &leaf, &bad), Authenticity::Genuine);
            // A changed entry is caught.
            let mut changed = entry.clone();
            changed.push(0);
            let changed_leaf = alg.leaf(&changed);
            prop_assert_eq!(key.check(&changed, &changed_leaf, &code), Authenticity::Wrong);
            // The tag is HMAC-SHA256 (RFC 2104) of the label and the leaf hash.
            let mut reference = key.keyed.clone();
            reference.update(LEAF_LABEL);
            reference.update(&leaf);
            prop_assert_eq!(&code[KEY_ID_LEN..], &reference.finalize().into_bytes()[..]);
            // Codes made over the entry's bytes, as before, still check, and only for
            // those bytes.
            let mut old = key.bytes_id.to_vec();
            let mut mac = key.keyed.clone();
            mac.update(&entry);
            old.extend_from_slice(&mac.finalize().into_bytes());
            prop_assert_eq!(key.check(&entry, &leaf, &old), Authenticity::Genuine);
            prop_assert_eq!(key.check(&changed, &changed_leaf, &old), Authenticity::Wrong);
            // Another installation's code is recognised as such.
            if other != secret {
                let theirs = EntryKey::from_secret(other).code(&leaf);
                prop_assert!(matches!(key.check(&entry, &leaf, &theirs), Authenticity::OtherKey(_)));
            }
        }
    }
}
