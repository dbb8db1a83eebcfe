//! Independent checks of the 国密 path with Debian's OpenSSL: our SM3 tree hashes equal
//! `openssl dgst -sm3`, and OpenSSL verifies our SM2 checkpoint signatures (GM/T 0009
//! default identifier). Skipped, with a message, where `openssl` is not installed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::io::Write;
use std::process::Command;
use zhifa_ledger::HashAlg;
use zhifa_ledger::hash::to_hex;
use zhifa_ledger::note::{Checkpoint, NoteSigner, SM2_DISTID, sign};

fn openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("openssl not installed: independent 国密 check skipped");
    }
    ok
}

fn sm3_by_openssl(data: &[u8]) -> String {
    let dir = tempfile_dir();
    let path = dir.join("in.bin");
    std::fs::write(&path, data).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sm3", "-r"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "zhifa-openssl-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn sm3_leaf_and_node_hashes_match_openssl() {
    if !openssl() {
        return;
    }
    let alg = HashAlg::Sm3;
    let leaf_input = "zhifa 日志条目".as_bytes();
    let leaf = alg.leaf(leaf_input);
    assert_eq!(
        to_hex(&leaf),
        sm3_by_openssl(&[&[0u8][..], leaf_input].concat())
    );
    let other = alg.leaf(b"second");
    let node = alg.node(&leaf, &other);
    assert_eq!(
        to_hex(&node),
        sm3_by_openssl(&[&[1u8][..], &leaf, &other].concat())
    );
    assert_eq!(to_hex(&alg.empty_root()), sm3_by_openssl(b""));
}

fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let mut b: Vec<u8> = bytes.iter().copied().skip_while(|&x| x == 0).collect();
    if b.first().is_none_or(|&x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    [vec![0x02, b.len() as u8], b].concat()
}

#[test]
fn openssl_verifies_our_sm2_checkpoint_signature() {
    if !openssl() {
        return;
    }
    let signer = NoteSigner::sm2("zhifa/guomi", [0x5a; 32]).unwrap();
    let body = Checkpoint {
        origin: "zhifa/guomi".into(),
        size: 3,
        root: HashAlg::Sm3.empty_root(),
        extensions: vec![],
    }
    .body();
    let note = sign(&body, &[&signer]).unwrap();
    // The signature line: key ID (4 bytes) ‖ r ‖ s.
    let sig_b64 = note.trim_end().rsplit(' ').next().unwrap();
    let raw = B64.decode(sig_b64).unwrap();
    let (r, s) = raw[4..].split_at(32);
    let body_der = [der_integer(r), der_integer(s)].concat();
    let sig_der = [vec![0x30, body_der.len() as u8], body_der].concat();
    // The public key from the verifier key: type bytes, then the SEC1 point.
    let vkey = signer.verifier_key();
    let tk = B64.decode(vkey.splitn(3, '+').nth(2).unwrap()).unwrap();
    let point = &tk[tk.len() - 65..];
    // SubjectPublicKeyInfo for an SM2 key (id-ecPublicKey, curve sm2p256v1).
    let spki = [
        hex::decode("3059301306072a8648ce3d020106082a811ccf5501822d034200"),
        point.to_vec(),
    ]
    .concat();
    let dir = tempfile_dir();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        B64.encode(&spki)
    );
    std::fs::write(dir.join("pub.pem"), pem).unwrap();
    std::fs::write(dir.join("sig.der"), &sig_der).unwrap();
    let mut f = std::fs::File::create(dir.join("msg.txt")).unwrap();
    f.write_all(body.as_bytes()).unwrap();
    let verify = |msg: &str| {
        Command::new("openssl")
            .current_dir(&dir)
            .args([
                "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", msg,
                "-sigfile", "sig.der", "-digest", "sm3",
            ])
            .args(["-pkeyopt", &format!("distid:{SM2_DISTID}")])
            .output()
            .unwrap()
    };
    let out = verify("msg.txt");
    assert!(
        out.status.success(),
        "openssl rejected our SM2 signature: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("other.txt"), body.replace('3', "4")).unwrap();
    assert!(
        !verify("other.txt").status.success(),
        "openssl accepted a changed note"
    );
}

mod hex {
    pub fn decode(s: &str) -> Vec<u8> {
        zhifa_ledger::hash::from_hex(s).unwrap()
    }
}
