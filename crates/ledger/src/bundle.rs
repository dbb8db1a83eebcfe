//! A self-contained export of one log — entries, tiles, checkpoints and public keys — and
//! its offline verification, which needs nothing but the file (and, ideally, a verifier
//! key obtained out of band).
//!
//! Format (JSON, `"format": "zhifa-log-bundle/1"`): `origin`, `hash_algorithm`
//! (`sha256` | `sm3`), `keys` (signed-note verifier keys, oldest first), `checkpoints`
//! (signed notes, oldest first), `entries` (base64 canonical entries in order), and
//! `tiles` (`{"path": "tile/0/000.p/12", "data": base64}` as the log serves them for its
//! newest checkpoint).

use crate::entry::Entry;
use crate::hash::HashAlg;
use crate::note::{Checkpoint, NoteVerifier, open};
use crate::tiles::{self, TILE_WIDTH, TileRef};
use crate::tree::MemoryTree;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "zhifa-log-bundle/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub origin: String,
    pub hash_algorithm: String,
    pub keys: Vec<String>,
    pub checkpoints: Vec<String>,
    pub entries: Vec<String>,
    pub tiles: Vec<BundleTile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleTile {
    pub path: String,
    pub data: String,
}

/// The tiles a log of `size` entries serves: every full tile and the partial ones.
pub fn tiles_for(size: u64) -> Vec<TileRef> {
    let mut out = Vec::new();
    for level in 0u8..8 {
        let per = TILE_WIDTH.pow(level as u32 + 1);
        if level > 0 && size < per / TILE_WIDTH {
            break;
        }
        let full = size / per;
        for n in 0..full {
            out.push(TileRef {
                level: Some(level),
                index: n,
                width: None,
            });
        }
        let w = (size / (per / TILE_WIDTH)) % TILE_WIDTH;
        if w > 0 {
            out.push(TileRef {
                level: Some(level),
                index: full,
                width: Some(w as u16),
            });
        }
    }
    let full = size / TILE_WIDTH;
    for n in 0..full {
        out.push(TileRef {
            level: None,
            index: n,
            width: None,
        });
    }
    if !size.is_multiple_of(TILE_WIDTH) {
        out.push(TileRef {
            level: None,
            index: full,
            width: Some((size % TILE_WIDTH) as u16),
        });
    }
    out
}

/// What the offline verification found.
#[derive(Debug, Default)]
pub struct BundleReport {
    pub entries: u64,
    pub checkpoints: usize,
    pub tiles: usize,
    pub failures: Vec<String>,
}

impl BundleReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Verifies a bundle. With `trusted` keys, only they may sign; otherwise the bundle's own
/// keys are used (which proves consistency, not origin).
pub fn verify(bundle: &Bundle, trusted: &[String]) -> BundleReport {
    let mut r = BundleReport::default();
    if bundle.format != FORMAT {
        r.failures.push(format!(
            "不支持的格式 / unsupported format {}",
            bundle.format
        ));
        return r;
    }
    let Some(alg) = HashAlg::from_code(&bundle.hash_algorithm) else {
        r.failures.push(format!(
            "未知哈希算法 / unknown hash {}",
            bundle.hash_algorithm
        ));
        return r;
    };
    let keys: Vec<NoteVerifier> = if trusted.is_empty() {
        &bundle.keys
    } else {
        trusted
    }
    .iter()
    .filter_map(|k| match NoteVerifier::parse(k) {
        Ok(v) => Some(v),
        Err(e) => {
            r.failures.push(format!("公钥无效 / bad key {k}: {e}"));
            None
        }
    })
    .collect();
    let name = bundle
        .origin
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut tree = MemoryTree::new(alg);
    let mut roots = std::collections::HashMap::new();
    roots.insert(0u64, alg.empty_root());
    let mut raw_entries = Vec::with_capacity(bundle.entries.len());
    for (i, e) in bundle.entries.iter().enumerate() {
        let Ok(bytes) = B64.decode(e) else {
            r.failures
                .push(format!("第 {i} 条：base64 无效 / entry {i}: bad base64"));
            return r;
        };
        match Entry::decode(&bytes) {
            Ok(entry) if entry.seq == i as u64 && entry.agency == name => {}
            Ok(entry) => r.failures.push(format!(
                "第 {i} 条：序号 {} 或日志 {} 不符（被删除、调换或移入）/ entry {i} names seq {} of log {}",
                entry.seq, entry.agency, entry.seq, entry.agency
            )),
            Err(err) => r.failures.push(format!("第 {i} 条：{err}")),
        }
        tree.append_entry(&bytes);
        roots.insert(tree.size(), tree.root());
        raw_entries.push(bytes);
        r.entries += 1;
    }
    let mut newest = 0u64;
    for note in &bundle.checkpoints {
        r.checkpoints += 1;
        let checked = open(note, &keys)
            .map_err(|e| e.to_string())
            .and_then(|(text, _)| Checkpoint::parse(text).map_err(|e| e.to_string()));
        match checked {
            Err(e) => r
                .failures
                .push(format!("签名树头无效 / checkpoint rejected: {e}")),
            Ok(cp) => {
                if cp.origin != bundle.origin || roots.get(&cp.size) != Some(&cp.root) {
                    r.failures.push(format!(
                        "第 {} 号签名树头与记录不符 / checkpoint at size {} does not match the entries",
                        cp.size, cp.size
                    ));
                }
                newest = newest.max(cp.size);
            }
        }
    }
    if bundle.checkpoints.is_empty() {
        r.failures.push("没有签名树头 / no checkpoint".into());
    }
    // Tiles must be exactly what the entries give.
    for t in &bundle.tiles {
        r.tiles += 1;
        let Ok(tile) = tiles::parse(t.path.strip_prefix("tile/").unwrap_or("")) else {
            r.failures
                .push(format!("瓦片路径无效 / bad tile path {}", t.path));
            continue;
        };
        let Ok(data) = B64.decode(&t.data) else {
            r.failures.push(format!("瓦片 {} base64 无效", t.path));
            continue;
        };
        let width = tile.width.map(u64::from).unwrap_or(TILE_WIDTH);
        let start = tile.index * TILE_WIDTH;
        let expected = match tile.level {
            Some(level) => (start..start + width)
                .map(|i| {
                    tree.node(crate::tree::NodeId {
                        level: level * 8,
                        index: i,
                    })
                })
                .collect::<Option<Vec<_>>>()
                .map(|v| v.concat()),
            None => raw_entries
                .get(start as usize..(start + width) as usize)
                .and_then(tiles::bundle),
        };
        if expected.as_deref() != Some(data.as_slice()) {
            r.failures.push(format!(
                "瓦片 {} 与记录不符 / tile {} does not match the entries",
                t.path, t.path
            ));
        }
    }
    // Everything in the bundle must be covered by a signed checkpoint.
    if r.entries > newest {
        r.failures.push(format!(
            "第 {newest} 条之后的 {} 条记录没有签名树头覆盖 / {} entries after {newest} are not covered by a checkpoint",
            r.entries - newest,
            r.entries - newest
        ));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{NoteSigner, sign};

    fn bundle(n: u64) -> (Bundle, NoteSigner) {
        let signer = NoteSigner::ed25519("zhifa/jia", [3u8; 32]).unwrap();
        let mut tree = MemoryTree::new(HashAlg::Sha256);
        let mut entries = Vec::new();
        for i in 0..n {
            let e = Entry {
                seq: i,
                time_ms: 1,
                agency: "jia".into(),
                actor: "system:test".into(),
                action: "test".into(),
                subject_kind: "x".into(),
                subject_id: i.to_string(),
                commitment: [0; 32],
            }
            .encode()
            .unwrap();
            tree.append_entry(&e);
            entries.push(e);
        }
        let cp = Checkpoint {
            origin: "zhifa/jia".into(),
            size: n,
            root: tree.root(),
            extensions: vec![],
        };
        let tiles = tiles_for(n)
            .into_iter()
            .map(|t| {
                let width = t.width.map(u64::from).unwrap_or(256);
                let start = t.index * 256;
                let data = match t.level {
                    Some(l) => (start..start + width)
                        .map(|i| {
                            tree.node(crate::tree::NodeId {
                                level: l * 8,
                                index: i,
                            })
                            .unwrap()
                        })
                        .collect::<Vec<_>>()
                        .concat(),
                    None => {
                        tiles::bundle(&entries[start as usize..(start + width) as usize]).unwrap()
                    }
                };
                BundleTile {
                    path: tiles::path(&t),
                    data: B64.encode(data),
                }
            })
            .collect();
        (
            Bundle {
                format: FORMAT.into(),
                origin: "zhifa/jia".into(),
                hash_algorithm: "sha256".into(),
                keys: vec![signer.verifier_key()],
                checkpoints: vec![sign(&cp.body(), &[&signer]).unwrap()],
                entries: entries.iter().map(|e| B64.encode(e)).collect(),
                tiles,
            },
            signer,
        )
    }

    #[test]
    fn tiles_for_matches_the_spec_example() {
        let t = tiles_for(70_000);
        let level = |l: Option<u8>| t.iter().filter(|x| x.level == l).count();
        assert_eq!(level(Some(0)), 274);
        assert_eq!(level(Some(1)), 2);
        assert_eq!(level(Some(2)), 1);
        assert_eq!(level(None), 274);
    }

    #[test]
    fn a_good_bundle_verifies_and_tampering_fails() {
        let (b, signer) = bundle(300);
        let r = verify(&b, &[]);
        assert!(r.ok(), "{:?}", r.failures);
        assert_eq!((r.entries, r.checkpoints), (300, 1));
        assert!(verify(&b, &[signer.verifier_key()]).ok());

        let mut dropped = b.clone();
        dropped.entries.remove(10);
        assert!(!verify(&dropped, &[]).ok());

        let mut swapped = b.clone();
        swapped.entries.swap(3, 4);
        assert!(!verify(&swapped, &[]).ok());

        let other = NoteSigner::ed25519("zhifa/jia", [4u8; 32]).unwrap();
        assert!(
            !verify(&b, &[other.verifier_key()]).ok(),
            "a key known out of band must sign"
        );

        let mut unsigned_tail = b.clone();
        unsigned_tail.entries.push(unsigned_tail.entries[0].clone());
        assert!(
            !verify(&unsigned_tail, &[]).ok(),
            "entries beyond the checkpoint"
        );

        let mut bad_tile = b.clone();
        bad_tile.tiles[0].data = B64.encode([0u8; 32 * 256]);
        assert!(!verify(&bad_tile, &[]).ok());
    }
}
