//! Some entries of one log, each with its inclusion proof against one signed checkpoint,
//! its payload and salt (so that the commitment can be recomputed), and files bound to a
//! payload field holding their SHA-256. A case's 卷宗 carries one: with it, anyone can
//! check offline that every act of the case is in the agency's published log, that the
//! recorded data is what the entries committed to, and that each document in the
//! archive is the very file that was issued.
//!
//! Format (JSON, `"format": "zhifa-entry-proofs/1"`): `origin`, `hash_algorithm`, `keys`
//! (signed-note verifier keys), `checkpoint` (a signed note), `entries` (`index`, `entry`
//! base64, `salt` base64 or null, `payload` text or null once erased, `proof` hex hashes),
//! `files` (`path`, `index` of the entry, `field` of its payload holding the file's
//! SHA-256 in hex) and `generated` (paths made at export — cover, catalogue — that no
//! entry covers).

use crate::entry::{Entry, commitment};
use crate::hash::{HashAlg, from_hex, to_hex};
use crate::note::{Checkpoint, NoteVerifier, open};
use crate::tree::verify_inclusion;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const FORMAT: &str = "zhifa-entry-proofs/1";

/// Where a case's 卷宗 ZIP carries its proofs.
pub const ARCHIVE_PATH: &str = "记录证明.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryProofs {
    pub format: String,
    pub origin: String,
    pub hash_algorithm: String,
    pub keys: Vec<String>,
    pub checkpoint: String,
    pub entries: Vec<ProvedEntry>,
    pub files: Vec<BoundFile>,
    pub generated: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvedEntry {
    pub index: u64,
    pub entry: String,
    pub salt: Option<String>,
    pub payload: Option<String>,
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoundFile {
    pub path: String,
    pub index: u64,
    pub field: String,
}

impl ProvedEntry {
    pub fn new(index: u64, entry: &[u8], salt: Option<&[u8]>, payload: Option<&str>) -> Self {
        ProvedEntry {
            index,
            entry: B64.encode(entry),
            salt: salt.map(|s| B64.encode(s)),
            payload: payload.map(str::to_owned),
            proof: Vec::new(),
        }
    }
}

/// What the verification found.
#[derive(Debug, Default)]
pub struct ProofsReport {
    /// The size of the signed checkpoint the entries were proved against.
    pub checkpoint_size: u64,
    pub entries: usize,
    pub files: usize,
    /// Entries whose payload was erased (de-identified): in the log, data not checkable.
    pub erased: usize,
    pub failures: Vec<String>,
}

impl ProofsReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Checks the proofs and the files. `files` holds every file of the archive other than
/// the proofs themselves; each must be bound to an entry or listed as generated. With
/// `trusted` keys only they may sign the checkpoint; otherwise the archive's own keys are
/// used (which proves consistency, not origin — compare the key with the one the agency
/// publishes).
pub fn verify(
    p: &EntryProofs,
    files: &BTreeMap<String, Vec<u8>>,
    trusted: &[String],
) -> ProofsReport {
    let mut r = ProofsReport::default();
    if p.format != FORMAT {
        r.failures
            .push(format!("不支持的格式 / unsupported format {}", p.format));
        return r;
    }
    let Some(alg) = HashAlg::from_code(&p.hash_algorithm) else {
        r.failures
            .push(format!("未知哈希算法 / unknown hash {}", p.hash_algorithm));
        return r;
    };
    let keys: Vec<NoteVerifier> = if trusted.is_empty() { &p.keys } else { trusted }
        .iter()
        .filter_map(|k| NoteVerifier::parse(k).ok())
        .collect();
    let cp = match open(&p.checkpoint, &keys)
        .map_err(|e| e.to_string())
        .and_then(|(text, _)| Checkpoint::parse(text).map_err(|e| e.to_string()))
    {
        Ok(cp) if cp.origin == p.origin => cp,
        Ok(cp) => {
            r.failures.push(format!(
                "签名树头属于另一日志 {} / checkpoint is of another log",
                cp.origin
            ));
            return r;
        }
        Err(e) => {
            r.failures
                .push(format!("签名树头无效 / checkpoint rejected: {e}"));
            return r;
        }
    };
    r.checkpoint_size = cp.size;
    let log_name = p.origin.rsplit('/').next().unwrap_or_default();
    let mut checked: BTreeMap<u64, Checked> = BTreeMap::new();
    for e in &p.entries {
        r.entries += 1;
        let i = e.index;
        if checked.contains_key(&i) {
            r.failures
                .push(format!("第 {i} 条出现两次 / entry {i} appears twice"));
            continue;
        }
        let Ok(bytes) = B64.decode(&e.entry) else {
            r.failures
                .push(format!("第 {i} 条：base64 无效 / entry {i}: bad base64"));
            continue;
        };
        let entry = match Entry::decode(&bytes) {
            Ok(entry) if entry.seq == i && entry.agency == log_name => entry,
            Ok(entry) => {
                r.failures.push(format!(
                    "第 {i} 条：条目写的是日志 {} 第 {} 条 / entry {i} names seq {} of log {}",
                    entry.agency, entry.seq, entry.seq, entry.agency
                ));
                continue;
            }
            Err(err) => {
                r.failures.push(format!("第 {i} 条：{err}"));
                continue;
            }
        };
        // Only a payload whose commitment checks is believed — for the files too.
        let payload = match (&e.salt, &e.payload) {
            (Some(salt), Some(payload)) => {
                let salt = B64.decode(salt).unwrap_or_default();
                if commitment(alg, &salt, payload.as_bytes()) == entry.commitment {
                    serde_json::from_str::<serde_json::Value>(payload).ok()
                } else {
                    r.failures.push(format!(
                        "第 {i} 条：记录内容与日志承诺不符 / entry {i}: payload does not match its commitment"
                    ));
                    None
                }
            }
            (_, None) => {
                r.erased += 1;
                None
            }
            (None, Some(_)) => {
                r.failures.push(format!(
                    "第 {i} 条：有记录内容而无盐，无法核对 / entry {i}: a payload without its salt"
                ));
                None
            }
        };
        let proof: Option<Vec<Vec<u8>>> = e.proof.iter().map(|h| from_hex(h)).collect();
        let included = proof.is_some_and(|proof| {
            verify_inclusion(alg, i, cp.size, &alg.leaf(&bytes), &proof, &cp.root).is_ok()
        });
        if !included {
            r.failures.push(format!(
                "第 {i} 条：不在第 {} 号签名树头的日志中 / entry {i} is not included in the checkpoint of size {}",
                cp.size, cp.size
            ));
        }
        checked.insert(
            i,
            Checked {
                kind: entry.subject_kind.to_owned(),
                subject: entry.subject_id.to_owned(),
                payload,
            },
        );
    }
    check_one_case(&checked, &mut r);
    // The files: the generated ones by name (the verifier's list, not the archive's), the
    // others each bound to the entry that recorded its hash, and every recorded file there.
    let mut accounted: BTreeSet<&str> = BTreeSet::new();
    for g in &p.generated {
        if ARCHIVE_GENERATED.contains(&g.as_str()) {
            accounted.insert(g);
        } else {
            r.failures.push(format!(
                "{g} 不是卷宗导出时生成的文件 / {g} is not a generated file"
            ));
        }
    }
    let mut bound: BTreeSet<u64> = BTreeSet::new();
    for f in &p.files {
        r.files += 1;
        accounted.insert(&f.path);
        let Some(bytes) = files.get(&f.path) else {
            r.failures
                .push(format!("缺少文件 / missing file {}", f.path));
            continue;
        };
        let Some(c) = checked.get(&f.index) else {
            r.failures.push(format!(
                "文件 {} 指向不在卷宗中的第 {} 条记录 / {} is bound to no entry",
                f.path, f.index, f.path
            ));
            continue;
        };
        if file_field(&c.kind) != Some(f.field.as_str()) {
            r.failures.push(format!(
                "文件 {} 绑定的第 {} 条记录不是文书或证据 / {} is bound to a {} entry",
                f.path, f.index, f.path, c.kind
            ));
            continue;
        }
        bound.insert(f.index);
        let recorded = c
            .payload
            .as_ref()
            .and_then(|v| v.get(&f.field).and_then(|h| h.as_str()).map(str::to_owned));
        use sha2::Digest;
        let actual = to_hex(&sha2::Sha256::digest(bytes));
        match recorded {
            Some(h) if h == actual => {}
            Some(_) => r.failures.push(format!(
                "文件 {} 与第 {} 条记录的哈希不符（被修改或替换）/ file {} does not match entry {}",
                f.path, f.index, f.path, f.index
            )),
            None => r.failures.push(format!(
                "文件 {} 对应的第 {} 条记录没有可核对的哈希 / no recorded hash for {}",
                f.path, f.index, f.path
            )),
        }
    }
    for (i, c) in &checked {
        let has_file = file_field(&c.kind)
            .and_then(|field| c.payload.as_ref()?.get(field)?.as_str())
            .is_some_and(|h| !h.is_empty());
        if has_file && !bound.contains(i) {
            r.failures.push(format!(
                "第 {i} 条记录的文件（{} {}）不在卷宗中（被移除）/ the file of entry {i} is missing",
                c.kind, c.subject
            ));
        }
    }
    for path in files.keys() {
        if !accounted.contains(path.as_str()) {
            r.failures.push(format!(
                "文件 {path} 不在记录中（被加入）/ file {path} is not covered by any entry"
            ));
        }
    }
    r
}

/// What one entry of the archive establishes once checked.
struct Checked {
    kind: String,
    subject: String,
    /// The payload, only when its commitment checked.
    payload: Option<serde_json::Value>,
}

/// The files a 卷宗 export makes from the record (the only unbound files it may hold).
pub const ARCHIVE_GENERATED: &[&str] = &[
    "00-封面.pdf",
    "01-卷内目录.pdf",
    "证据清单.pdf",
    "核验说明.txt",
];

/// The payload field that holds a file's SHA-256, by the kind of record.
fn file_field(kind: &str) -> Option<&'static str> {
    match kind {
        "case_document" => Some("pdf_sha256"),
        "case_evidence" => Some("file_sha256"),
        _ => None,
    }
}

/// The entries are of one case, and none of the case row's is missing: the row's version
/// counts its entries (opened at 1, one more for each act), so a dropped act shows.
fn check_one_case(checked: &BTreeMap<u64, Checked>, r: &mut ProofsReport) {
    let cases: BTreeSet<&str> = checked
        .values()
        .filter(|c| c.kind == "case")
        .map(|c| c.subject.as_str())
        .collect();
    let case_id = match cases.iter().next() {
        Some(id) if cases.len() == 1 => *id,
        _ => {
            r.failures.push(format!(
                "卷宗应恰好含一件案件的记录，实为 {} 件 / expected the entries of one case, found {}",
                cases.len(),
                cases.len()
            ));
            return;
        }
    };
    for (i, c) in checked {
        let belongs = match c.kind.as_str() {
            "case" => true,
            _ => c.payload.as_ref().is_none_or(|v| {
                v.get("case_id")
                    .and_then(|x| x.as_i64())
                    .map(|x| x.to_string())
                    == Some(case_id.to_owned())
            }),
        };
        if !belongs {
            r.failures.push(format!(
                "第 {i} 条记录不属于本案 / entry {i} is of another case"
            ));
        }
    }
    let rows: Vec<&Checked> = checked.values().filter(|c| c.kind == "case").collect();
    let version = rows
        .iter()
        .filter_map(|c| c.payload.as_ref()?.get("version")?.as_i64())
        .max();
    if let Some(v) = version
        && v != rows.len() as i64
    {
        r.failures.push(format!(
            "本案的记录不全：案件第 {v} 版，卷宗中只有 {} 条案件记录 / the case is at version {v} but the archive holds {} of its entries",
            rows.len(),
            rows.len()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{NoteSigner, sign};
    use crate::tree::{MemoryTree, NodeId, inclusion_plan};

    /// A log of 20 entries where entry 7 commits to a payload naming a file's hash.
    /// A log of 20 entries: entry 3 opens case 1 (version 1), entry 7 issues its decision,
    /// committing to the PDF's hash.
    fn sample() -> (EntryProofs, BTreeMap<String, Vec<u8>>, NoteSigner) {
        sample_with(r#"{"id":1,"version":1}"#)
    }

    /// The same with the case row's payload given.
    fn sample_with(case: &str) -> (EntryProofs, BTreeMap<String, Vec<u8>>, NoteSigner) {
        let alg = HashAlg::Sha256;
        let signer = NoteSigner::ed25519("zhifa/jia", [5u8; 32]).unwrap();
        let file = b"%PDF-1.7 decision".to_vec();
        use sha2::Digest;
        let case = case.to_owned();
        let document = format!(
            r#"{{"case_id":1,"id":1,"pdf_sha256":"{}"}}"#,
            to_hex(&sha2::Sha256::digest(&file))
        );
        let salt = [9u8; 16];
        let mut tree = MemoryTree::new(alg);
        let mut raw = Vec::new();
        for i in 0..20u64 {
            let (kind, c) = match i {
                3 => ("case", commitment(alg, &salt, case.as_bytes())),
                7 => ("case_document", commitment(alg, &salt, document.as_bytes())),
                _ => ("case_document", [0; 32]),
            };
            let e = Entry {
                seq: i,
                time_ms: 1,
                agency: "jia".into(),
                actor: "user:1".into(),
                action: "case_document.issue".into(),
                subject_kind: kind.into(),
                subject_id: "1".into(),
                commitment: c,
            }
            .encode()
            .unwrap();
            tree.append_entry(&e);
            raw.push(e);
        }
        let cp = Checkpoint {
            origin: "zhifa/jia".into(),
            size: 20,
            root: tree.root(),
            extensions: vec![],
        };
        let proved = |i: u64, payload: &str| {
            let mut p = ProvedEntry::new(i, &raw[i as usize], Some(&salt), Some(payload));
            p.proof = inclusion_plan(i, 20)
                .unwrap()
                .assemble(alg, |id: NodeId| tree.node(id))
                .unwrap()
                .iter()
                .map(|h| to_hex(h))
                .collect();
            p
        };
        let proofs = EntryProofs {
            format: FORMAT.into(),
            origin: "zhifa/jia".into(),
            hash_algorithm: "sha256".into(),
            keys: vec![signer.verifier_key()],
            checkpoint: sign(&cp.body(), &[&signer]).unwrap(),
            entries: vec![proved(3, &case), proved(7, &document)],
            files: vec![BoundFile {
                path: "documents/01.pdf".into(),
                index: 7,
                field: "pdf_sha256".into(),
            }],
            generated: vec!["00-封面.pdf".into()],
        };
        let mut files = BTreeMap::new();
        files.insert("documents/01.pdf".to_owned(), file);
        files.insert("00-封面.pdf".to_owned(), b"cover".to_vec());
        (proofs, files, signer)
    }

    #[test]
    fn a_good_archive_verifies() {
        let (p, files, signer) = sample();
        let r = verify(&p, &files, &[]);
        assert!(r.ok(), "{:?}", r.failures);
        assert_eq!((r.entries, r.files, r.checkpoint_size), (2, 1, 20));
        assert!(verify(&p, &files, &[signer.verifier_key()]).ok());
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        let (p, files, _) = sample();
        let fails = |p: &EntryProofs, f: &BTreeMap<String, Vec<u8>>| verify(p, f, &[]).failures;

        let mut changed_file = files.clone();
        changed_file.insert("documents/01.pdf".into(), b"%PDF-1.7 forged".to_vec());
        assert!(fails(&p, &changed_file)[0].contains("哈希不符"));

        let mut added = files.clone();
        added.insert("documents/02.pdf".into(), b"x".to_vec());
        assert!(fails(&p, &added)[0].contains("不在记录中"));

        let mut missing = files.clone();
        missing.remove("documents/01.pdf");
        assert!(fails(&p, &missing)[0].contains("缺少文件"));

        let mut payload = p.clone();
        payload.entries[0].payload = Some(
            payload.entries[0]
                .payload
                .clone()
                .unwrap()
                .replace("\"id\":1", "\"id\":2"),
        );
        assert!(fails(&payload, &files)[0].contains("承诺不符"));

        let mut proof = p.clone();
        proof.entries[0].proof[0] = to_hex(&[0u8; 32]);
        assert!(fails(&proof, &files)[0].contains("不在第 20 号"));

        let mut moved = p.clone();
        moved.entries[0].index = 8;
        assert!(!fails(&moved, &files).is_empty());

        let other = NoteSigner::ed25519("zhifa/jia", [6u8; 32]).unwrap();
        assert!(verify(&p, &files, &[other.verifier_key()]).failures[0].contains("签名树头无效"));
    }
}
