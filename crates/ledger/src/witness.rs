//! Witnessing: C2SP `tlog-witness` (the `add-checkpoint` request and the witness's
//! decision) and `tlog-cosignature` (`cosignature/v1`, Ed25519).
//!
//! A witness — a county's installation, say — keeps, for each log it was told to trust,
//! the newest checkpoint it cosigned. It cosigns a new checkpoint of that log only if the
//! log's own key signed it and a consistency proof shows that it extends the one it
//! cosigned before. A township that put back an older database, or shows different
//! histories to different people, cannot get the witness to cosign both: the witness's
//! record is out of the township operator's reach.
//!
//! Cosignatures are Ed25519 only (the only `cosignature/v1` algorithm apart from ML-DSA-44);
//! the log a witness checks may itself be a 国密 log (SM2 signatures over an SM3 tree).

use crate::hash::Hash;
use crate::note::{
    Checkpoint, NoteError, NoteVerifier, key_id, open, signature_line, split, split_vkey,
    valid_name,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, Verifier as _};

/// The signature type byte of an Ed25519 `cosignature/v1` key (C2SP tlog-cosignature).
const COSIGNATURE_V1: u8 = 0x04;
/// A client must not send more consistency proof lines than this (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;
/// The content type of a 409 response's body: the witness's latest size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The message a `cosignature/v1` signs: header, time, and the checkpoint's note text.
fn message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A witness's private key with its name.
pub struct Cosigner {
    name: String,
    key: Box<ed25519_dalek::SigningKey>,
}

impl Cosigner {
    pub fn new(name: &str, secret: [u8; 32]) -> Result<Cosigner, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey("key name"));
        }
        Ok(Cosigner {
            name: name.to_owned(),
            key: Box::new(ed25519_dalek::SigningKey::from_bytes(&secret)),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn type_and_public(&self) -> Vec<u8> {
        [&[COSIGNATURE_V1][..], self.key.verifying_key().as_bytes()].concat()
    }

    /// The verifier key in signed-note form: `<name>+<hex key ID>+<base64(0x04 ‖ key)>`.
    pub fn verifier_key(&self) -> String {
        let tk = self.type_and_public();
        format!(
            "{}+{}+{}",
            self.name,
            crate::hash::to_hex(&key_id(&self.name, &tk)),
            B64.encode(&tk)
        )
    }

    /// The cosignature line on a checkpoint's note text (ending in a newline).
    pub fn cosign(&self, text: &str, timestamp: u64) -> String {
        let id = key_id(&self.name, &self.type_and_public());
        let sig = self.key.sign(message(text, timestamp).as_bytes());
        let raw = [&id[..], &timestamp.to_be_bytes(), &sig.to_bytes()].concat();
        format!("\u{2014} {} {}\n", self.name, B64.encode(raw))
    }
}

/// A witness's public key, to check its cosignatures.
#[derive(Clone)]
pub struct CosignatureVerifier {
    pub name: String,
    pub key_id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl CosignatureVerifier {
    pub fn parse(vkey: &str) -> Result<CosignatureVerifier, NoteError> {
        let (name, id, tk) = split_vkey(vkey)?;
        let pk: [u8; 32] = tk
            .strip_prefix(&[COSIGNATURE_V1])
            .ok_or(NoteError::BadKey("not a cosignature/v1 key"))?
            .try_into()
            .map_err(|_| NoteError::BadKey("Ed25519 key length"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&pk)
            .map_err(|_| NoteError::BadKey("Ed25519 key"))?;
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// Checks one signature line on `text`: `Ok(None)` when the line is not this key's,
    /// `Ok(Some(time))` when it is a valid cosignature made at `time` (seconds), an error
    /// when it claims to be this key's and does not verify.
    pub fn check_line(&self, text: &str, line: &str) -> Result<Option<u64>, NoteError> {
        let (name, raw) = signature_line(line.trim_end_matches('\n'))?;
        if name != self.name || raw.len() < 4 || raw[..4] != self.key_id {
            return Ok(None);
        }
        let bad = || NoteError::BadSignature(self.name.clone());
        if raw.len() != 4 + 8 + 64 {
            return Err(bad());
        }
        let timestamp = u64::from_be_bytes(raw[4..12].try_into().expect("8 bytes"));
        let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).map_err(|_| bad())?;
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return Err(bad());
        }
        self.key
            .verify(message(text, timestamp).as_bytes(), &sig)
            .map_err(|_| bad())?;
        Ok(Some(timestamp))
    }

    /// The time of this witness's cosignature on a signed note (text, blank line,
    /// signature lines); `NoKnownSignature` when it has none.
    pub fn cosigned_at(&self, note: &str) -> Result<u64, NoteError> {
        let (text, sigs) = split(note)?;
        for line in sigs.lines() {
            if let Some(t) = self.check_line(text, line)? {
                return Ok(t);
            }
        }
        Err(NoteError::NoKnownSignature)
    }
}

/// Why a witness refuses an `add-checkpoint` request; each maps to the HTTP status the
/// protocol prescribes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("this witness does not witness that log")]
    UnknownLog,
    #[error("the checkpoint is not signed by the log's key: {0}")]
    Unverified(String),
    #[error("the old size is not {latest}, the size this witness last cosigned")]
    Conflict { latest: u64 },
    #[error("the checkpoint is not consistent with what this witness cosigned: {0}")]
    Inconsistent(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Unverified(_) => 403,
            Refusal::UnknownLog => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }
}

/// An `add-checkpoint` request: the size the client believes the witness last cosigned,
/// a consistency proof from it, and the new signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed note: checkpoint text, blank line, signature lines.
    pub checkpoint: String,
}

fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl AddCheckpoint {
    pub fn parse(body: &str) -> Result<AddCheckpoint, Refusal> {
        let bad = |why: &str| Refusal::BadRequest(why.to_owned());
        let (first, mut rest) = body
            .split_once('\n')
            .ok_or_else(|| bad("no old size line"))?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(decimal)
            .ok_or_else(|| bad("old size line"))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or_else(|| bad("no empty line before the checkpoint"))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 proof lines"));
            }
            let hash: Hash = B64
                .decode(line)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| bad("proof line"))?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(bad("no checkpoint"));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    pub fn body(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// The origin line of the checkpoint (which log it claims to be), to find the keys.
    pub fn origin(&self) -> &str {
        self.checkpoint.split('\n').next().unwrap_or_default()
    }
}

/// The witness's decision on a request for a log it trusts with `keys`, having last
/// cosigned `latest` (size, root) of it: the checkpoint to cosign, with its note text.
pub fn check(
    req: &AddCheckpoint,
    keys: &[NoteVerifier],
    latest: Option<(u64, Hash)>,
) -> Result<(Checkpoint, String), Refusal> {
    let alg = keys.first().ok_or(Refusal::UnknownLog)?.log_hash();
    let text = match open(&req.checkpoint, keys) {
        Ok((text, _)) => text,
        Err(NoteError::Malformed(why)) => return Err(Refusal::BadRequest(why.into())),
        Err(e) => return Err(Refusal::Unverified(e.to_string())),
    };
    let cp = Checkpoint::parse(text).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    if req.old_size > cp.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is larger than the checkpoint's {}",
            req.old_size, cp.size
        )));
    }
    let (latest_size, latest_root) = latest.unwrap_or((0, alg.empty_root()));
    if req.old_size != latest_size {
        return Err(Refusal::Conflict {
            latest: latest_size,
        });
    }
    let inconsistent = |why: String| Err(Refusal::Inconsistent(why));
    if cp.size == 0 && cp.root != alg.empty_root() {
        return inconsistent("a checkpoint of size 0 must have the empty tree's root".into());
    }
    if req.old_size == 0 {
        if !req.proof.is_empty() {
            return inconsistent("a proof from size 0 must be empty".into());
        }
    } else if req.old_size == cp.size {
        if cp.root != latest_root || !req.proof.is_empty() {
            return inconsistent(format!(
                "size {} was cosigned with another root: the log forked",
                cp.size
            ));
        }
    } else if let Err(e) = crate::tree::verify_consistency(
        alg,
        req.old_size,
        cp.size,
        &req.proof,
        &latest_root,
        &cp.root,
    ) {
        return inconsistent(format!(
            "size {} does not extend the cosigned size {} ({e}): the log forked or was rewritten",
            cp.size, req.old_size
        ));
    }
    Ok((cp, text.to_owned()))
}

/// The size in a 409 response's body.
pub fn parse_size(body: &str) -> Option<u64> {
    decimal(body.strip_suffix('\n')?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashAlg;
    use crate::note::{NoteSigner, sign};
    use crate::tree::MemoryTree;

    const ORIGIN: &str = "zhifa.example/log/zhutang";

    struct Log {
        signer: NoteSigner,
        tree: MemoryTree,
    }

    impl Log {
        fn new(alg: HashAlg, entries: u32) -> Log {
            let signer = match alg {
                HashAlg::Sha256 => NoteSigner::ed25519(ORIGIN, [3; 32]).unwrap(),
                HashAlg::Sm3 => NoteSigner::sm2(ORIGIN, [5; 32]).unwrap(),
            };
            let mut log = Log {
                signer,
                tree: MemoryTree::new(alg),
            };
            log.grow(entries, "entry");
            log
        }

        fn grow(&mut self, n: u32, label: &str) {
            for i in 0..n {
                self.tree.append_entry(format!("{label} {i}").as_bytes());
            }
        }

        fn checkpoint(&self) -> String {
            let body = Checkpoint {
                origin: ORIGIN.into(),
                size: self.tree.size(),
                root: self.tree.root(),
                extensions: vec![],
            }
            .body();
            sign(&body, &[&self.signer]).unwrap()
        }

        fn request(&self, old: u64) -> AddCheckpoint {
            let proof = if old == 0 || old == self.tree.size() {
                vec![]
            } else {
                self.tree.consistency_proof(old, self.tree.size()).unwrap()
            };
            AddCheckpoint {
                old_size: old,
                proof,
                checkpoint: self.checkpoint(),
            }
        }

        fn keys(&self) -> Vec<NoteVerifier> {
            vec![NoteVerifier::parse(&self.signer.verifier_key()).unwrap()]
        }
    }

    #[test]
    fn a_witness_follows_a_growing_log_and_its_cosignature_verifies() {
        for alg in [HashAlg::Sha256, HashAlg::Sm3] {
            let mut log = Log::new(alg, 5);
            let (cp, text) = check(&log.request(0), &log.keys(), None).unwrap();
            assert_eq!(cp.size, 5);
            let latest = Some((cp.size, cp.root));
            log.grow(7, "more");
            let req = AddCheckpoint::parse(&log.request(5).body()).unwrap();
            let (cp2, text2) = check(&req, &log.keys(), latest).unwrap();
            assert_eq!(cp2.size, 12);
            assert_ne!(text, text2);

            let witness = Cosigner::new("county.example/witness", [8; 32]).unwrap();
            let line = witness.cosign(&text2, 1_700_000_000);
            let v = CosignatureVerifier::parse(&witness.verifier_key()).unwrap();
            assert_eq!(v.check_line(&text2, &line), Ok(Some(1_700_000_000)));
            let note = format!("{}{line}", log.checkpoint());
            assert_eq!(v.cosigned_at(&note), Ok(1_700_000_000));
            // The log's own signature still verifies on the cosigned note.
            assert!(open(&note, &log.keys()).is_ok());
            // Another checkpoint text does not carry this cosignature.
            assert!(matches!(
                v.check_line(&text, &line),
                Err(NoteError::BadSignature(_))
            ));
        }
    }

    #[test]
    fn a_fork_is_refused_and_named() {
        let log = Log::new(HashAlg::Sha256, 8);
        let (cp, _) = check(&log.request(0), &log.keys(), None).unwrap();
        let latest = Some((cp.size, cp.root));
        // The operator puts back an older copy (5 entries) and writes other entries on it.
        let mut forked = Log::new(HashAlg::Sha256, 5);
        forked.grow(6, "rewritten");
        let err = check(&forked.request(8), &forked.keys(), latest).unwrap_err();
        assert!(matches!(err, Refusal::Inconsistent(_)), "{err:?}");
        assert_eq!(err.status(), 422);
        // The same size with another root.
        let mut same = Log::new(HashAlg::Sha256, 5);
        same.grow(3, "rewritten");
        let err = check(&same.request(8), &same.keys(), latest).unwrap_err();
        assert_eq!(err.status(), 422);
        // A shorter log claiming the witness's size as its old size.
        let short = Log::new(HashAlg::Sha256, 5);
        assert_eq!(
            check(&short.request(5), &short.keys(), latest)
                .unwrap_err()
                .status(),
            409
        );
    }

    #[test]
    fn requests_are_checked_in_the_protocols_order() {
        let log = Log::new(HashAlg::Sha256, 4);
        let (cp, _) = check(&log.request(0), &log.keys(), None).unwrap();
        let latest = Some((cp.size, cp.root));
        // Old size not the latest cosigned: 409 with the size.
        assert_eq!(
            check(&log.request(0), &log.keys(), latest),
            Err(Refusal::Conflict { latest: 4 })
        );
        assert_eq!(parse_size("4\n"), Some(4));
        assert_eq!(parse_size("04\n"), None);
        // Old size larger than the checkpoint: 400.
        let mut req = log.request(4);
        req.old_size = 9;
        assert_eq!(check(&req, &log.keys(), latest).unwrap_err().status(), 400);
        // Signed by another key: 403.
        let other = Log {
            signer: NoteSigner::ed25519(ORIGIN, [4; 32]).unwrap(),
            tree: log.tree.clone(),
        };
        assert_eq!(
            check(&other.request(4), &log.keys(), latest)
                .unwrap_err()
                .status(),
            403
        );
        // A proof from size 0: 422.
        let mut req = log.request(0);
        req.proof = vec![[0; 32]];
        assert_eq!(check(&req, &log.keys(), None).unwrap_err().status(), 422);
        // A bad proof: 422.
        let mut grown = log.tree.clone();
        grown.append_entry(b"x");
        let mut g = Log {
            signer: NoteSigner::ed25519(ORIGIN, [3; 32]).unwrap(),
            tree: grown,
        };
        let mut req = g.request(4);
        req.proof[0][0] ^= 1;
        assert_eq!(check(&req, &g.keys(), latest).unwrap_err().status(), 422);
        g.grow(0, "");
        assert!(check(&g.request(4), &g.keys(), latest).is_ok());
    }

    #[test]
    fn malformed_requests_are_400() {
        for body in [
            "",
            "old 1",
            "old 01\n\nx\n",
            "old -1\n\nx\n",
            "new 1\n\nx\n",
            "old 1\nnot base64\n\nx\n",
            "old 1\nAAAA\n\nx\n",
            "old 1\n",
            "old 1\n\n",
        ] {
            assert_eq!(
                AddCheckpoint::parse(body).map(|_| ()).unwrap_err().status(),
                400,
                "{body:?}"
            );
        }
        let many = format!(
            "old 1\n{}\nx\n",
            format!("{}\n", B64.encode([0u8; 32])).repeat(64)
        );
        assert_eq!(AddCheckpoint::parse(&many).unwrap_err().status(), 400);
    }

    #[test]
    fn a_cosignature_key_is_not_a_note_key() {
        let witness = Cosigner::new("county.example/witness", [8; 32]).unwrap();
        assert!(NoteVerifier::parse(&witness.verifier_key()).is_err());
        let log = NoteSigner::ed25519(ORIGIN, [3; 32]).unwrap();
        assert!(CosignatureVerifier::parse(&log.verifier_key()).is_err());
    }
}
