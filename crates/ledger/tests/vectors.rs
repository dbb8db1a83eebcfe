//! The public conformance vectors (RFC 6962 reference tables and the transparency-dev
//! proof vectors, copied from `shared/vectors/merkle/` into `tests/vectors/merkle/`): every happy path verifies, every
//! corrupted case is rejected, and our own trees reproduce the reference roots and proofs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use std::path::{Path, PathBuf};
use zhifa_ledger::HashAlg;
use zhifa_ledger::hash::{from_hex, to_hex};
use zhifa_ledger::tree::{MemoryTree, verify_consistency, verify_inclusion};

fn vectors() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/merkle");
    assert!(
        p.is_dir(),
        "conformance vectors must sit beside the repository at {}",
        p.display()
    );
    p
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
}

fn b64(v: &Value) -> Vec<u8> {
    match v {
        Value::Null => vec![],
        Value::String(s) => B64.decode(s).expect("vector base64"),
        other => panic!("unexpected {other}"),
    }
}

/// A size or index: anything that is not a u64 (negative, too large) must be rejected.
fn number(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn proof(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::Null => vec![],
        Value::Array(a) => a.iter().map(b64).collect(),
        other => panic!("unexpected proof {other}"),
    }
}

#[test]
fn inclusion_vectors() {
    let mut files = Vec::new();
    json_files(&vectors().join("inclusion"), &mut files);
    assert!(
        files.len() > 50,
        "found only {} inclusion vectors",
        files.len()
    );
    let (mut good, mut bad) = (0, 0);
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let result = match (number(&v["leafIdx"]), number(&v["treeSize"])) {
            (Some(i), Some(n)) => verify_inclusion(
                HashAlg::Sha256,
                i,
                n,
                &b64(&v["leafHash"]),
                &proof(&v["proof"]),
                &b64(&v["root"]),
            )
            .is_ok(),
            _ => false,
        };
        assert_eq!(result, !want_err, "{}", f.display());
        if want_err { bad += 1 } else { good += 1 }
    }
    assert!(good > 0 && bad > 0);
}

#[test]
fn consistency_vectors() {
    let mut files = Vec::new();
    json_files(&vectors().join("consistency"), &mut files);
    assert!(
        files.len() > 50,
        "found only {} consistency vectors",
        files.len()
    );
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let result = match (number(&v["size1"]), number(&v["size2"])) {
            (Some(a), Some(b)) => verify_consistency(
                HashAlg::Sha256,
                a,
                b,
                &proof(&v["proof"]),
                &b64(&v["root1"]),
                &b64(&v["root2"]),
            )
            .is_ok(),
            _ => false,
        };
        assert_eq!(result, !want_err, "{}", f.display());
    }
}

fn hex_list(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| from_hex(h.as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn reference_tables_are_reproduced_by_our_tree() {
    let t: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors().join("rfc6962-reference-tables.json")).unwrap(),
    )
    .unwrap();
    let alg = HashAlg::Sha256;
    for kat in t["hasher_kats"].as_array().unwrap() {
        let got = match kat["kind"].as_str().unwrap() {
            "empty" => alg.empty_root(),
            "leaf" => alg.leaf(&from_hex(kat["leaf_hex"].as_str().unwrap()).unwrap()),
            "node" => {
                let l = from_hex(kat["left_hex"].as_str().unwrap()).unwrap();
                let r = from_hex(kat["right_hex"].as_str().unwrap()).unwrap();
                alg.digest(&[&[1], &l, &r])
            }
            k => panic!("unknown kat {k}"),
        };
        assert_eq!(
            to_hex(&got),
            kat["want"].as_str().unwrap(),
            "{}",
            kat["desc"]
        );
    }
    let leaves = hex_list(&t["leaf_inputs_hex"]);
    let mut tree = MemoryTree::new(alg);
    let roots = t["root_hash_by_tree_size"].as_object().unwrap();
    assert_eq!(to_hex(&tree.root()), roots["0"].as_str().unwrap());
    for (i, leaf) in leaves.iter().enumerate() {
        tree.append_entry(leaf);
        assert_eq!(
            to_hex(&tree.root()),
            roots[&(i + 1).to_string()].as_str().unwrap(),
            "root at {}",
            i + 1
        );
    }
    for (level, hashes) in t["node_hashes_by_level"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (index, h) in hashes.as_array().unwrap().iter().enumerate() {
            let id = zhifa_ledger::tree::NodeId {
                level: level as u8,
                index: index as u64,
            };
            assert_eq!(
                to_hex(&tree.node(id).unwrap()),
                h.as_str().unwrap(),
                "node {level}/{index}"
            );
        }
    }
    for p in t["inclusion_proofs"].as_array().unwrap() {
        let (i, n) = (
            p["leaf_index"].as_u64().unwrap(),
            p["tree_size"].as_u64().unwrap(),
        );
        let ours: Vec<Vec<u8>> = tree
            .inclusion_proof(i, n)
            .unwrap()
            .iter()
            .map(|h| h.to_vec())
            .collect();
        assert_eq!(ours, hex_list(&p["proof"]), "inclusion {i} in {n}");
    }
    for p in t["consistency_proofs"].as_array().unwrap() {
        let (a, b) = (p["size1"].as_u64().unwrap(), p["size2"].as_u64().unwrap());
        let ours: Vec<Vec<u8>> = tree
            .consistency_proof(a, b)
            .unwrap()
            .iter()
            .map(|h| h.to_vec())
            .collect();
        assert_eq!(ours, hex_list(&p["proof"]), "consistency {a} → {b}");
    }
}
