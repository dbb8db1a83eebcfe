//! A county's zhifa witnesses a township's logs over C2SP `tlog-witness`, on two real
//! servers: the township's checkpointer gets its checkpoints cosigned and serves them with
//! the cosignatures; then the township's operator puts back a whole older copy of the
//! installation (database and key directory together, which its own `zhifa verify`
//! cannot tell), and the witness catches it: `zhifa verify --witness-url` fails on the
//! township, the witness refuses to cosign the fork, and the county's portal shows it.

use crate::cli::{demo_on, free_port, stop, verified, wait_for_health, zhifa};
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

fn ok(args: &[&str], dir: &Path) -> String {
    let (ok, out) = run(args, dir);
    assert!(ok, "zhifa {args:?}:\n{out}");
    out
}

/// A stopped installation, copied whole (database and keys), as an operator's snapshot.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "zhifa.lock" {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn serve(data: &Path) -> (std::process::Child, u16) {
    let port = free_port();
    let child = zhifa()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_health(port), "the server did not start");
    (child, port)
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_witnesses_a_township_and_catches_its_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let county = dir.path().join("county");
    let town = dir.path().join("town");
    // The county: an installation of its own, serving, with a witness key.
    let (county_server, county_port) = demo_on(&county);
    let witness_key = ok(
        &["witness", "key", "--name", "county.example/witness"],
        &county,
    )
    .trim()
    .to_owned();
    let witness_url = format!("http://127.0.0.1:{county_port}/witness");
    // The township, and the keys of its logs, which the county trusts.
    let (server, _) = demo_on(&town);
    stop(server);
    let logs = ok(&["ledger", "list"], &town);
    let keys: Vec<&str> = logs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("current "))
        .collect();
    assert!(keys.len() >= 2, "{logs}");
    for k in &keys {
        ok(
            &["witness", "trust", "--key", k, "--name", "朱堂乡人民政府"],
            &county,
        );
    }
    ok(
        &[
            "witness",
            "use",
            "--key",
            &witness_key,
            "--url",
            &witness_url,
        ],
        &town,
    );

    // The township's server has its checkpoints cosigned by itself, within a run or two
    // of its checkpointer, and serves them with the cosignature.
    let (server, port) = serve(&town);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (_, note) = get(&format!("http://127.0.0.1:{port}/log/zhutang/checkpoint")).await;
        if note.contains("county.example/witness") {
            break;
        }
        assert!(Instant::now() < deadline, "never cosigned:\n{note}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (_, health) = get(&format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(
        health.contains("\"witness\":\"county.example/witness\""),
        "{health}"
    );
    let (_, page) = get(&format!("http://127.0.0.1:{port}/verify")).await;
    assert!(page.contains("county.example/witness 已副署至第"), "{page}");
    stop(server);
    ok(&["witness", "submit"], &town);
    let with_witness = [
        "verify",
        "--witness",
        witness_key.as_str(),
        "--witness-url",
        witness_url.as_str(),
    ];
    ok(&with_witness, &town);
    let (_, page) = get(&format!("http://127.0.0.1:{county_port}/verify")).await;
    assert!(page.contains("本系统见证的日志") && page.contains("朱堂乡人民政府"));

    // Yesterday's copy of the whole installation, then today's acts, cosigned.
    let yesterday = dir.path().join("yesterday");
    copy_dir(&town, &yesterday);
    for name in ["今日一", "今日二", "今日三"] {
        ok(
            &["token", "create", "--user", "admin", "--name", name],
            &town,
        );
    }
    ok(&["ledger", "checkpoint"], &town);
    ok(&["witness", "submit"], &town);
    ok(&with_witness, &town);

    // The operator puts yesterday's copy back, keys and all: its own records agree with
    // it, so verify alone passes — the blind spot a witness closes.
    std::fs::remove_dir_all(&town).unwrap();
    copy_dir(&yesterday, &town);
    verified(&town);
    let (passed, out) = run(&with_witness, &town);
    assert!(!passed, "verify passed on a rolled-back township:\n{out}");
    assert!(out.contains("回滚") && out.contains("见证方"), "{out}");

    // Writing on from yesterday gives a log the witness refuses to cosign.
    for name in ["重写一", "重写二", "重写三", "重写四", "重写五"] {
        ok(
            &["token", "create", "--user", "admin", "--name", name],
            &town,
        );
    }
    ok(&["ledger", "checkpoint"], &town);
    let (passed, out) = run(&["witness", "submit"], &town);
    assert!(!passed, "{out}");
    assert!(out.contains("拒绝副署"), "{out}");
    let (_, page) = get(&format!("http://127.0.0.1:{county_port}/verify")).await;
    assert!(
        page.contains("拒绝副署的记录") && page.contains("日志被回滚或出现分叉"),
        "{page}"
    );
    let list = ok(&["witness", "list"], &county);
    assert!(list.contains("冲突 / conflict zhifa/zhutang"), "{list}");
    stop(county_server);
    verified(&county);
}
