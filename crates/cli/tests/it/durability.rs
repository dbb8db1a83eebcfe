//! Crashes and several app nodes: kill -9 at any instant loses no acknowledged change and
//! leaves every log consistent; two nodes appending to one PostgreSQL log make one log.

use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

fn zhifa() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zhifa"));
    c.env_remove("ZHIFA_DATA")
        .env_remove("ZHIFA_DATABASE_URL")
        .env_remove("ZHIFA_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on {port} did not start");
}

fn token(db: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_zhifa"))
        .args(["token", "create", "--user", "admin"])
        .args(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn verify(db: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_zhifa"))
        .arg("verify")
        .args(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify failed after a crash:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writers creating departments through the API until `stop`; returns acknowledged names.
async fn write_until(
    ports: Vec<u16>,
    token: String,
    agency: i64,
    tag: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) -> Vec<String> {
    let mut tasks = Vec::new();
    for w in 0..6 {
        let (token, tag, stop, acked) = (token.clone(), tag.clone(), stop.clone(), acked.clone());
        let port = ports[w % ports.len()];
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("{tag}-w{w}-{i}");
                i += 1;
                let r = client
                    .post(format!(
                        "http://127.0.0.1:{port}/api/v1/agencies/{agency}/departments"
                    ))
                    .bearer_auth(&token)
                    .json(&json!({ "name": name }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => acked.lock().await.push(name),
                    Ok(r) => panic!(
                        "unexpected {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ),
                    Err(_) => break, // the server died
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    acked.lock().await.clone()
}

/// Waits until at least `n` writes were acknowledged (the kill must land mid-stream).
async fn until_acked(acked: &Arc<Mutex<Vec<String>>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().await.len() < n {
        assert!(Instant::now() < deadline, "writes did not get through");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn department_names(port: u16, token: &str, agency: i64) -> Vec<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/agencies/{agency}/departments"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

fn start(args: &[&str], port: u16) -> Child {
    zhifa()
        .args(args)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .spawn()
        .unwrap()
}

/// Kills the server with SIGKILL mid-writes, restarts, and checks, five times.
async fn crash_loop(first: &[&str], serve: &[&str], db: &[&str]) {
    let port = free_port();
    let mut child = start(first, port);
    wait_ready(port).await;
    let token = token(db);
    let agency = 1;
    let mut all_acked = Vec::new();
    for round in 0..5 {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let writers = tokio::spawn(write_until(
            vec![port],
            token.clone(),
            agency,
            format!("r{round}"),
            stop.clone(),
            acked.clone(),
        ));
        // Kill mid-stream: after some writes went through, at a varying moment.
        until_acked(&acked, 5).await;
        tokio::time::sleep(Duration::from_millis(20 + 37 * round)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        let acked = writers.await.unwrap();
        assert!(
            !acked.is_empty(),
            "round {round}: no write got through before the kill"
        );
        all_acked.extend(acked);
        verify(db);
        child = start(serve, port);
        wait_ready(port).await;
        let present = department_names(port, &token, agency).await;
        for name in &all_acked {
            assert!(
                present.contains(name),
                "acknowledged {name} lost in a crash"
            );
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    verify(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_appends_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    crash_loop(
        &["demo", "--data", d],
        &["serve", "--data", d],
        &["--data", d],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_appends_on_postgres() {
    let Some(db) = zhifa_store::testing::TestDb::postgres().await else {
        eprintln!("ZHIFA_TEST_DATABASE_URL not set: PostgreSQL variant skipped");
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let (url, k) = (db.url.clone(), keys.path().to_str().unwrap().to_owned());
    crash_loop(
        &["demo", "--database-url", &url, "--key-dir", &k],
        &["serve", "--database-url", &url, "--key-dir", &k],
        // The commands use the installation's keys too: an entry written without the
        // entry key is one no node will build on (`store::guard`).
        &["--database-url", &url, "--key-dir", &k],
    )
    .await;
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_append_to_one_postgres_log() {
    let Some(db) = zhifa_store::testing::TestDb::postgres().await else {
        eprintln!("ZHIFA_TEST_DATABASE_URL not set: PostgreSQL variant skipped");
        return;
    };
    zhifa::demo::ensure(&db.store).await.unwrap();
    let url = db.url.clone();
    let (p1, p2) = (free_port(), free_port());
    let mut n1 = start(&["serve", "--database-url", &url], p1);
    let mut n2 = start(&["serve", "--database-url", &url], p2);
    wait_ready(p1).await;
    wait_ready(p2).await;
    let token = token(&["--database-url", &url]);
    let before = db.store.log_head(1).await.unwrap().size;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers = tokio::spawn(write_until(
        vec![p1, p2],
        token.clone(),
        1,
        "two".into(),
        stop.clone(),
        acked.clone(),
    ));
    until_acked(&acked, 30).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writers.await.unwrap();
    n1.kill().unwrap();
    n2.kill().unwrap();
    n1.wait().unwrap();
    n2.wait().unwrap();
    assert!(acked.len() > 20, "only {} writes", acked.len());
    // One log: each acknowledged write is exactly one entry, with no gaps (verify checks
    // contiguity and the tree) and no duplicate sequence numbers (the primary key).
    let after = db.store.log_head(1).await.unwrap().size;
    assert_eq!(after - before, acked.len() as u64);
    verify(&["--database-url", &url]);
    drop(db);
}
