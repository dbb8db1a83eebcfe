//! C2SP `tlog-checkpoint` bodies and `signed-note` signatures.
//!
//! Ed25519 (signature type 0x01) is the default. SM2 with SM3 (国密) uses the type byte
//! 0xff reserved for types without an assigned byte, followed by the identifier
//! `zhifa/sm2-sm3`, and the GM/T 0009 default distinguishing identifier
//! `1234567812345678`. Key IDs are SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] in both
//! cases, as the spec recommends.

use crate::hash::Hash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, Verifier as _};
use sha2::{Digest, Sha256};

/// GM/T 0009-2012 default distinguishing identifier.
pub const SM2_DISTID: &str = "1234567812345678";
const SM2_TYPE: &[u8] = b"\xffzhifa/sm2-sm3";
const ED25519_TYPE: &[u8] = &[0x01];
/// Verifiers accept at most this many signature lines (the spec requires at least 16).
const MAX_SIGNATURES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is malformed: {0}")]
    Malformed(&'static str),
    #[error("verifier key is malformed: {0}")]
    BadKey(&'static str),
    #[error("no signature from a known key")]
    NoKnownSignature,
    #[error("a signature from {0} does not verify")]
    BadSignature(String),
}

/// A checkpoint body: origin, tree size, root hash, optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    pub fn parse(body: &str) -> Result<Checkpoint, NoteError> {
        let text = body
            .strip_suffix('\n')
            .ok_or(NoteError::Malformed("body must end in a newline"))?;
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or(NoteError::Malformed("origin"))?;
        let size_line = lines.next().ok_or(NoteError::Malformed("size"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(NoteError::Malformed("size"));
        }
        let size = size_line
            .parse()
            .map_err(|_| NoteError::Malformed("size"))?;
        let root_line = lines.next().ok_or(NoteError::Malformed("root"))?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(NoteError::Malformed("root"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(|e| e.is_empty()) {
            return Err(NoteError::Malformed("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A private signing key with its key name.
pub enum NoteSigner {
    Ed25519 {
        name: String,
        key: Box<ed25519_dalek::SigningKey>,
    },
    Sm2 {
        name: String,
        key: Box<sm2::dsa::SigningKey>,
    },
}

pub(crate) fn key_id(name: &str, type_and_key: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A]);
    h.update(type_and_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

impl NoteSigner {
    /// An Ed25519 key from 32 secret bytes.
    pub fn ed25519(name: &str, secret: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey("key name"));
        }
        Ok(NoteSigner::Ed25519 {
            name: name.to_owned(),
            key: Box::new(ed25519_dalek::SigningKey::from_bytes(&secret)),
        })
    }

    /// An SM2 key from a 32-byte big-endian secret scalar (must be in range).
    pub fn sm2(name: &str, secret: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey("key name"));
        }
        let key = sm2::dsa::SigningKey::from_slice(SM2_DISTID, &secret)
            .map_err(|_| NoteError::BadKey("SM2 secret out of range"))?;
        Ok(NoteSigner::Sm2 {
            name: name.to_owned(),
            key: Box::new(key),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            NoteSigner::Ed25519 { name, .. } | NoteSigner::Sm2 { name, .. } => name,
        }
    }

    fn type_and_public(&self) -> Vec<u8> {
        match self {
            NoteSigner::Ed25519 { key, .. } => {
                [ED25519_TYPE, key.verifying_key().as_bytes().as_slice()].concat()
            }
            NoteSigner::Sm2 { key, .. } => {
                [SM2_TYPE, &key.verifying_key().to_sec1_bytes()].concat()
            }
        }
    }

    /// The verifier key in signed-note form: `<name>+<hex key ID>+<base64(type ‖ key)>`.
    pub fn verifier_key(&self) -> String {
        let tk = self.type_and_public();
        let id = key_id(self.name(), &tk);
        format!(
            "{}+{}+{}",
            self.name(),
            crate::hash::to_hex(&id),
            B64.encode(&tk)
        )
    }

    fn sign(&self, text: &[u8]) -> Vec<u8> {
        match self {
            NoteSigner::Ed25519 { key, .. } => key.sign(text).to_bytes().to_vec(),
            NoteSigner::Sm2 { key, .. } => {
                let sig: sm2::dsa::Signature = signature::Signer::sign(key.as_ref(), text);
                sig.to_bytes().to_vec()
            }
        }
    }

    /// The signature line for `text` (without the em dash prefix's newline handling).
    pub fn signature_line(&self, text: &str) -> String {
        let id = key_id(self.name(), &self.type_and_public());
        let sig = [id.as_slice(), &self.sign(text.as_bytes())].concat();
        format!("\u{2014} {} {}\n", self.name(), B64.encode(sig))
    }
}

/// Signs a note text (which must end in a newline) with one or more keys.
pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    let mut note = format!("{text}\n");
    for s in signers {
        note.push_str(&s.signature_line(text));
    }
    Ok(note)
}

pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end in a newline"));
    }
    if text.chars().any(|c| (c as u32) < 0x20 && c != '\n') {
        return Err(NoteError::Malformed("control characters"));
    }
    Ok(())
}

enum VerifierKind {
    Ed25519(ed25519_dalek::VerifyingKey),
    Sm2(Box<sm2::dsa::VerifyingKey>),
}

/// A public key that verifies signatures (parsed from a verifier key string).
pub struct NoteVerifier {
    pub name: String,
    pub key_id: [u8; 4],
    kind: VerifierKind,
}

impl NoteVerifier {
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let (name, id, tk) = split_vkey(vkey)?;
        let kind = if let Some(pk) = tk.strip_prefix(ED25519_TYPE) {
            let bytes: [u8; 32] = pk
                .try_into()
                .map_err(|_| NoteError::BadKey("Ed25519 key length"))?;
            VerifierKind::Ed25519(
                ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| NoteError::BadKey("Ed25519 key"))?,
            )
        } else if let Some(pk) = tk.strip_prefix(SM2_TYPE) {
            VerifierKind::Sm2(Box::new(
                sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, pk)
                    .map_err(|_| NoteError::BadKey("SM2 key"))?,
            ))
        } else {
            return Err(NoteError::BadKey("unknown signature type"));
        };
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: id,
            kind,
        })
    }

    /// The hash function of a log this key signs: a zhifa log signed with SM2 hashes with
    /// SM3 (one log never mixes 国密 and international algorithms).
    pub fn log_hash(&self) -> crate::HashAlg {
        match self.kind {
            VerifierKind::Ed25519(_) => crate::HashAlg::Sha256,
            VerifierKind::Sm2(_) => crate::HashAlg::Sm3,
        }
    }

    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        match &self.kind {
            VerifierKind::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                .map(|s| k.verify(text, &s).is_ok())
                .unwrap_or(false),
            VerifierKind::Sm2(k) => sm2::dsa::Signature::from_slice(sig)
                .map(|s| signature::Verifier::verify(k.as_ref(), text, &s).is_ok())
                .unwrap_or(false),
        }
    }
}

/// A verifier key `<name>+<hex key ID>+<base64(type ‖ key)>` taken apart, its key ID
/// checked against the name and key: (name, key ID, type ‖ key).
pub(crate) fn split_vkey(vkey: &str) -> Result<(&str, [u8; 4], Vec<u8>), NoteError> {
    let mut parts = vkey.trim().splitn(3, '+');
    let name = parts
        .next()
        .filter(|n| valid_name(n))
        .ok_or(NoteError::BadKey("name"))?;
    let id_hex = parts.next().ok_or(NoteError::BadKey("key ID"))?;
    let key_b64 = parts.next().ok_or(NoteError::BadKey("key"))?;
    let id: [u8; 4] = crate::hash::from_hex(id_hex)
        .and_then(|v| v.try_into().ok())
        .ok_or(NoteError::BadKey("key ID"))?;
    let tk = B64
        .decode(key_b64)
        .map_err(|_| NoteError::BadKey("base64"))?;
    if key_id(name, &tk) != id {
        return Err(NoteError::BadKey("key ID does not match the key"));
    }
    Ok((name, id, tk))
}

/// A signed note taken apart: its text (ending in a newline, checked) and its signature
/// block.
pub fn split(note: &str) -> Result<(&str, &str), NoteError> {
    let at = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no signature block"))?;
    let text = &note[..at + 1];
    check_text(text)?;
    Ok((text, &note[at + 2..]))
}

/// A signature line's key name and its decoded bytes (key ID ‖ signature).
pub(crate) fn signature_line(line: &str) -> Result<(&str, Vec<u8>), NoteError> {
    let (name, b64) = line
        .strip_prefix("\u{2014} ")
        .and_then(|rest| rest.split_once(' '))
        .ok_or(NoteError::Malformed("signature line"))?;
    let raw = B64
        .decode(b64)
        .map_err(|_| NoteError::Malformed("signature base64"))?;
    Ok((name, raw))
}

/// Verifies a signed note against trusted keys; returns its text and the names of the
/// keys whose signatures verified. Unknown signatures are ignored; a known key whose
/// signature fails rejects the note.
pub fn open<'a>(
    note: &'a str,
    trusted: &[NoteVerifier],
) -> Result<(&'a str, Vec<String>), NoteError> {
    let (text, sigs) = split(note)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("signature block"));
    }
    let mut verified = Vec::new();
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    for line in lines {
        let (name, raw) = signature_line(line)?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        let (id, sig) = raw.split_at(4);
        if let Some(v) = trusted.iter().find(|v| v.name == name && v.key_id == id) {
            if !v.verify(text.as_bytes(), sig) {
                return Err(NoteError::BadSignature(name.to_owned()));
            }
            verified.push(name.to_owned());
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok((text, verified))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "zhifa.example/log/zhutang".into(),
            size: 8,
            root: crate::HashAlg::Sha256.empty_root(),
            extensions: vec![],
        }
    }

    /// The example note of the signed-note spec, verified with its published key
    /// (from golang.org/x/mod/sumdb/note's documentation).
    #[test]
    fn verifies_a_note_signed_elsewhere() {
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let note = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let v = NoteVerifier::parse(vkey).unwrap();
        let (text, names) = open(note, &[v]).unwrap();
        assert!(text.starts_with("If you think"));
        assert_eq!(names, vec!["PeterNeumann".to_owned()]);
    }

    #[test]
    fn ed25519_and_sm2_round_trip_and_tampering_fails() {
        for signer in [
            NoteSigner::ed25519("zhifa.example/zhutang", [7u8; 32]).unwrap(),
            NoteSigner::sm2("zhifa.example/zhutang", [9u8; 32]).unwrap(),
        ] {
            let body = checkpoint().body();
            let note = sign(&body, &[&signer]).unwrap();
            let v = NoteVerifier::parse(&signer.verifier_key()).unwrap();
            let (text, _) = open(&note, std::slice::from_ref(&v)).unwrap();
            assert_eq!(Checkpoint::parse(text).unwrap(), checkpoint());
            let tampered = note.replacen("\n8\n", "\n9\n", 1);
            assert!(matches!(
                open(&tampered, &[v]),
                Err(NoteError::BadSignature(_))
            ));
        }
    }

    #[test]
    fn a_checkpoint_from_another_key_is_rejected() {
        let ours = NoteSigner::ed25519("zhifa.example/zhutang", [1u8; 32]).unwrap();
        let theirs = NoteSigner::ed25519("zhifa.example/zhutang", [2u8; 32]).unwrap();
        let note = sign(&checkpoint().body(), &[&theirs]).unwrap();
        let v = NoteVerifier::parse(&ours.verifier_key()).unwrap();
        assert_eq!(open(&note, &[v]), Err(NoteError::NoKnownSignature));
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        for bad in [
            "",
            "origin\n",
            "o\n01\nAAAA\n",
            "o\n-1\n",
            "o\n1\nnot-base64\n",
            "o\n1\nAAAA\n",
            "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
