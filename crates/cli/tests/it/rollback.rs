//! An older database put back beside the current key directory (yesterday's copy, say)
//! is caught: `zhifa verify` names the signed entries that are gone, the server reports
//! itself degraded and refuses every change of record while logins and reading go on, and
//! only an administrator's explicit `zhifa ledger rebase` — recorded in the log with what
//! was lost — lets it sign and write again.

use crate::cli::{demo_on, free_port, stop, verified, zhifa};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn run(args: &[&str], dir: &Path) -> (bool, String) {
    let out = zhifa().args(args).arg("--data").arg(dir).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The database files, as a stopped server left them.
fn copy_database(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["zhifa.db", "zhifa.db-wal", "zhifa.db-shm"] {
        let _ = std::fs::remove_file(to.join(name));
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
}

async fn health(port: u16) -> Option<(u16, serde_json::Value)> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .ok()?;
    Some((r.status().as_u16(), r.json().await.ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_database_under_the_current_keys_is_caught_until_rebased() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let yesterday = dir.path().join("yesterday");
    // The demo township, then yesterday's copy of its database.
    let (child, _) = demo_on(&data);
    stop(child);
    copy_database(&data, &yesterday);
    // Today: more acts, signed.
    for name in ["今日一", "今日二", "今日三"] {
        let (ok, out) = run(
            &["token", "create", "--user", "admin", "--name", name],
            &data,
        );
        assert!(ok, "{out}");
    }
    let (ok, out) = run(&["ledger", "checkpoint"], &data);
    assert!(ok && out.contains("已签发"), "{out}");
    verified(&data);
    // Today's checkpoint, as a witness or a court would keep it.
    let bundle = dir.path().join("today.json");
    let (ok, out) = run(
        &[
            "ledger",
            "export",
            "--agency",
            "zhutang",
            "--out",
            bundle.to_str().unwrap(),
        ],
        &data,
    );
    assert!(ok, "{out}");
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let kept = dir.path().join("today.checkpoint");
    let notes = bundle["checkpoints"].as_array().unwrap();
    std::fs::write(&kept, notes.last().unwrap().as_str().unwrap()).unwrap();
    let with_kept = ["verify", "--trusted-checkpoint", kept.to_str().unwrap()];
    let (ok, out) = run(&with_kept, &data);
    assert!(ok, "{out}");

    // Yesterday's database put back under today's keys.
    copy_database(&yesterday, &data);
    let (ok, out) = run(&["verify"], &data);
    assert!(!ok, "verify passed on a rolled-back database:\n{out}");
    assert!(
        out.contains("zhifa/zhutang") && out.contains("回滚"),
        "{out}"
    );
    assert!(out.contains("已签名的记录丢失"), "{out}");

    // The server starts, degraded: reading and logging in go on, changes are refused.
    let port = free_port();
    let server = zhifa()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, body) = loop {
        if let Some(h) = health(port).await {
            break h;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert!(
        body["reasons"][0].as_str().unwrap().contains("回滚"),
        "{body}"
    );
    let portal = reqwest::get(format!("http://127.0.0.1:{port}/agencies/zhutang/items"))
        .await
        .unwrap();
    assert_eq!(portal.status(), 200, "the public still reads");
    let (ok, token) = run(&["token", "create", "--user", "admin"], &data);
    assert!(!ok, "a change of record was accepted: {token}");
    assert!(token.contains("已暂停写入"), "{token}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = client
        .get(format!("http://127.0.0.1:{port}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = client
        .post(format!("http://127.0.0.1:{port}/login"))
        .form(&[
            ("csrf_token", crate::harness::csrf(&page)),
            ("username", "admin".into()),
            ("password", crate::harness::PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let home = r.text().await.unwrap();
    assert!(home.contains("系统已暂停写入"), "{home}");
    assert!(home.contains("zhifa ledger rebase"), "{home}");
    stop(server);

    // Rebasing needs the explicit confirmation, names the loss, and records it.
    let (ok, out) = run(&["ledger", "rebase"], &data);
    assert!(!ok && out.contains("--confirm"), "{out}");
    let (ok, out) = run(
        &["ledger", "rebase", "--confirm", "--by", "系统管理员"],
        &data,
    );
    assert!(ok, "{out}");
    assert!(out.contains("已签名的记录丢失"), "{out}");
    let out = verified(&data);
    assert!(out.contains("通过"), "{out}");
    // The loss stays visible to anyone who kept a checkpoint from before.
    let (ok, out) = run(&with_kept, &data);
    assert!(!ok && out.contains("可信树头"), "{out}");
    // Writing and signing resume.
    let (ok, out) = run(&["token", "create", "--user", "admin"], &data);
    assert!(ok, "{out}");
    let (ok, out) = run(&["ledger", "checkpoint"], &data);
    assert!(ok && out.contains("已签发"), "{out}");
    verified(&data);
}

/// One server per data directory: a second is refused, naming the directory, and the first
/// goes on; its `/healthz` tells when the checkpointer last ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (first, port) = demo_on(dir.path());
    let out = zhifa()
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{}", free_port()),
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(text.contains("另一个 zhifa 服务正在使用数据目录"), "{text}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, body) = loop {
        let (status, body) = health(port).await.unwrap();
        if !body["checkpoint"].is_null() || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checkpoint"]["ok"], true, "{body}");
    stop(first);
}

/// A database file damaged on disk is refused at start with SQLite's own words, before
/// any request is served.
#[test]
fn a_damaged_database_file_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = demo_on(dir.path());
    stop(first);
    let db = dir.path().join("zhifa.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    // Garbage over the pages after the first half of the file (the header page kept).
    let pages = bytes.len() / page;
    for b in &mut bytes[page * (pages / 4).max(1)..page * (pages / 2).max(2)] {
        *b = 0xA5;
    }
    std::fs::write(&db, bytes).unwrap();
    let mut server = zhifa()
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{}", free_port()),
            "--data",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            server.kill().unwrap();
            panic!("a damaged database was served");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = server.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "a damaged database was served");
    assert!(
        text.contains("完整性检查未通过")
            || text.contains("无法打开数据库")
            || text.contains("malformed"),
        "{text}"
    );
}
