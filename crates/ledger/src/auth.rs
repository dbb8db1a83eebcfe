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

use crate::hash::{Hash, HashAlg};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const KEY_ID_LEN: usize = 8;
pub const CODE_LEN: usize = KEY_ID_LEN + 32;

/// A secret entry-authentication key.
#[derive(Clone)]
pub struct EntryKey {
    /// Key id of codes over the leaf hash (made now).
    id: [u8; KEY_ID_LEN],
    /// Key id of codes over the entry's bytes (made before).
    bytes_id: [u8; KEY_ID_LEN],
    /// The HMAC state after the key block, cloned per entry (verification checks
    /// millions; re-deriving the padded key each time would double the hashing).
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
        EntryKey {
            id: id_of(b"zhifa/entry-key/leaf\n"),
            bytes_id: id_of(b"zhifa/entry-key\n"),
            keyed,
        }
    }

    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    fn leaf_mac(&self, leaf: &Hash) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(b"zhifa/entry-leaf\n");
        mac.update(leaf);
        mac
    }

    /// The code to store beside the entry whose leaf hash is `leaf`.
    pub fn code(&self, leaf: &Hash) -> Vec<u8> {
        let mut out = Vec::with_capacity(CODE_LEN);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.leaf_mac(leaf).finalize().into_bytes());
        out
    }

    /// Checks a stored code for `entry`, whose leaf hash is `leaf` (compared in constant
    /// time).
    pub fn check(&self, entry: &[u8], leaf: &Hash, code: &[u8]) -> Authenticity {
        if code.len() != CODE_LEN {
            return Authenticity::Wrong;
        }
        let (id, tag) = code.split_at(KEY_ID_LEN);
        let mac = if id == self.id {
            self.leaf_mac(leaf)
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
