//! The public log as a client sees it: C2SP checkpoint and tiles, proofs, bad requests.

use crate::harness::TestApp;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use serde_json::Value;
use zhifa_ledger::HashAlg;
use zhifa_ledger::note::{Checkpoint, NoteVerifier, open};
use zhifa_ledger::tiles;
use zhifa_ledger::tree::{root_of, verify_consistency, verify_inclusion};
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    the_portal_checks_a_record_without_javascript,
    a_client_verifies_the_demo_log_with_only_the_c2sp_formats,
    proofs_verify_against_the_checkpoint,
    malformed_log_requests_get_400_never_500,
);

async fn text(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = reqwest::get(app.url(path)).await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn bytes(app: &TestApp, path: &str) -> (StatusCode, Vec<u8>) {
    let r = reqwest::get(app.url(path)).await.unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

async fn checkpoint(app: &TestApp) -> Checkpoint {
    let (status, vkey) = text(app, "/log/zhutang/key").await;
    assert_eq!(status, StatusCode::OK);
    let verifier = NoteVerifier::parse(vkey.trim()).unwrap();
    let (status, note) = text(app, "/log/zhutang/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    let (body, _) =
        open(&note, &[verifier]).expect("the checkpoint verifies with the published key");
    Checkpoint::parse(body).unwrap()
}

async fn a_client_verifies_the_demo_log_with_only_the_c2sp_formats(db: TestDb) {
    let app = TestApp::start(db).await;
    let cp = checkpoint(&app).await;
    assert_eq!(cp.origin, "zhifa/zhutang");
    assert!(
        cp.size > 50,
        "the demo wrote its agency, departments, group and accounts"
    );
    let size = cp.size;
    // Rebuild the tree from the level-0 tiles and the entry bundles; it must give the root.
    let mut leaves = Vec::new();
    let mut n = 0u64;
    while n * 256 < size {
        let width = (size - n * 256).min(256);
        let tile = tiles::TileRef {
            level: Some(0),
            index: n,
            width: (width < 256).then_some(width as u16),
        };
        let (status, hashes) = bytes(&app, &format!("/log/zhutang/{}", tiles::path(&tile))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(hashes.len() as u64, width * 32);
        let bundle_ref = tiles::TileRef {
            level: None,
            ..tile
        };
        let (status, bundle) =
            bytes(&app, &format!("/log/zhutang/{}", tiles::path(&bundle_ref))).await;
        assert_eq!(status, StatusCode::OK);
        let entries = tiles::unbundle(&bundle).unwrap();
        assert_eq!(entries.len() as u64, width);
        for (i, e) in entries.iter().enumerate() {
            let leaf = HashAlg::Sha256.leaf(e);
            assert_eq!(
                &hashes[i * 32..(i + 1) * 32],
                leaf.as_slice(),
                "tile hash {i} is the entry's leaf"
            );
            let entry = zhifa_ledger::entry::Entry::decode(e).unwrap();
            assert_eq!(entry.agency, "zhutang");
            assert!(
                !String::from_utf8_lossy(e).contains("139000"),
                "no phone numbers in public entries"
            );
            leaves.push(leaf);
        }
        n += 1;
    }
    assert_eq!(root_of(HashAlg::Sha256, &leaves), cp.root);
    // A failed login of an unknown name is a security event: it lands in the
    // installation's security log, which is signed but never published, and the
    // installation's public log does not grow.
    // (made on first use: this test has signed nobody in yet)
    let security = app
        .store
        .log_head(zhifa_store::ledger::SECURITY_LOG)
        .await
        .map_or(0, |h| h.size);
    let r = app
        .try_login(&app.client(), "nobody-here", "Wrong#2026")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.store.checkpoint_all(&app.keys).await.unwrap();
    let (status, note) = text(&app, "/log/_system/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        note.starts_with("zhifa/_system\n1\n"),
        "only the announcement of the demo log: {note}"
    );
    let head = app
        .store
        .log_head(zhifa_store::ledger::SECURITY_LOG)
        .await
        .unwrap();
    assert_eq!(head.size, security + 1);
    let signed = app.store.latest_checkpoint(head.log_id).await.unwrap();
    assert_eq!(signed.map(|(size, _)| size), Some(head.size));
    let (status, _) = text(&app, "/log/_security/checkpoint").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn b64(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}

async fn proofs_verify_against_the_checkpoint(db: TestDb) {
    let app = TestApp::start(db).await;
    let cp = checkpoint(&app).await;
    for index in [0, 1, cp.size / 2, cp.size - 1] {
        let (status, body) =
            text(&app, &format!("/log/zhutang/proof/inclusion?index={index}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(b64(&v["root"]), cp.root);
        let proof: Vec<Vec<u8>> = v["proof"].as_array().unwrap().iter().map(b64).collect();
        let entry = b64(&v["entry"]);
        let leaf = HashAlg::Sha256.leaf(&entry);
        verify_inclusion(HashAlg::Sha256, index, cp.size, &leaf, &proof, &cp.root).unwrap();
        // The same proof, found by the leaf hash (hex), as the portal's form does.
        let hex = zhifa_ledger::hash::to_hex(&leaf);
        let (status, body) = text(&app, &format!("/log/zhutang/proof/inclusion?hash={hex}")).await;
        assert_eq!(status, StatusCode::OK);
        let by_hash: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(by_hash["index"], index);
    }
    let (status, body) = text(
        &app,
        &format!("/log/zhutang/proof/consistency?from=3&to={}", cp.size),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    let proof: Vec<Vec<u8>> = v["proof"].as_array().unwrap().iter().map(b64).collect();
    verify_consistency(
        HashAlg::Sha256,
        3,
        cp.size,
        &proof,
        &b64(&v["root_from"]),
        &cp.root,
    )
    .unwrap();
}

async fn malformed_log_requests_get_400_never_500(db: TestDb) {
    let app = TestApp::start(db).await;
    let size = checkpoint(&app).await.size;
    for (path, want) in [
        ("/log/zhutang/tile/abc", StatusCode::BAD_REQUEST),
        ("/log/zhutang/tile/0/1", StatusCode::BAD_REQUEST),
        ("/log/zhutang/tile/0/000.p/0", StatusCode::BAD_REQUEST),
        ("/log/zhutang/tile/0/000.p/256", StatusCode::BAD_REQUEST),
        ("/log/zhutang/tile/64/000", StatusCode::BAD_REQUEST),
        ("/log/zhutang/tile/0/x000/001", StatusCode::BAD_REQUEST),
        // A full tile the log has not reached.
        ("/log/zhutang/tile/0/999", StatusCode::NOT_FOUND),
        ("/log/zhutang/tile/0/999.p/1", StatusCode::NOT_FOUND),
        ("/log/zhutang/tile/entries/999.p/255", StatusCode::NOT_FOUND),
        ("/log/nowhere/checkpoint", StatusCode::NOT_FOUND),
        ("/log/nowhere/tile/0/000.p/1", StatusCode::NOT_FOUND),
        ("/log/zhutang/proof/inclusion", StatusCode::BAD_REQUEST),
        (
            "/log/zhutang/proof/inclusion?index=-1",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/log/zhutang/proof/inclusion?index=abc",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/log/zhutang/proof/inclusion?index=0&size=0",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/log/zhutang/proof/inclusion?index=99999999999999999999",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/log/zhutang/proof/inclusion?hash=zzz",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/log/zhutang/proof/inclusion?hash=0000000000000000000000000000000000000000000000000000000000000000",
            StatusCode::NOT_FOUND,
        ),
        (
            "/log/zhutang/proof/consistency?from=5&to=2",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/log/zhutang/proof/consistency?from=0&to=2",
            StatusCode::BAD_REQUEST,
        ),
        ("/log/zhutang/proof/consistency", StatusCode::BAD_REQUEST),
    ] {
        let r = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(r.status(), want, "{path}");
    }
    let r = reqwest::get(app.url(&format!("/log/zhutang/proof/inclusion?index={size}")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = reqwest::get(app.url(&format!(
        "/log/zhutang/proof/consistency?from=1&to={}",
        size + 1
    )))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Full tiles are immutable and cached long.
    let tile = reqwest::get(app.url(&format!("/log/zhutang/tile/0/000.p/{}", size.min(255))))
        .await
        .unwrap();
    assert_eq!(tile.status(), StatusCode::OK);
    assert_eq!(tile.headers()["content-type"], "application/octet-stream");
}

async fn the_portal_checks_a_record_without_javascript(db: TestDb) {
    let app = TestApp::start(db).await;
    let (status, page) = text(&app, "/verify").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("记录核验")
            && page.contains("朱堂乡人民政府")
            && page.contains("zhifa/zhutang+")
    );
    let (_, bundle) = bytes(&app, "/log/zhutang/tile/entries/000.p/3").await;
    let third = &tiles::unbundle(&bundle).unwrap()[2];
    let leaf = zhifa_ledger::hash::to_hex(&HashAlg::Sha256.leaf(third));
    let (status, page) = text(&app, &format!("/verify?agency=zhutang&hash={leaf}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("服务器核验通过"), "{page}");
    assert!(page.contains("第 2 条"));
    for bad in ["xyz", "00", "<script>", &"0".repeat(64)] {
        let (status, page) = text(&app, &format!("/verify?agency=zhutang&hash={bad}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!page.contains("服务器核验通过"));
        assert!(!page.contains("<script>alert"));
    }
    let (status, _) = text(&app, "/verify?agency=nowhere&hash=00").await;
    assert_eq!(status, StatusCode::OK);
}
