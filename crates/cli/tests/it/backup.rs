//! `zhifa backup` and `zhifa restore` as an operator uses them: a backup taken while the
//! server writes restores into a new directory that verifies, serves and goes on signing;
//! a damaged, altered or misdirected backup is refused with a clear message and changes
//! nothing.

use super::cli::{demo_on, free_port, stop, verified, wait_for_health, zhifa};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn backup(data: &Path, file: &Path) -> Output {
    zhifa()
        .args(["backup", "--data"])
        .arg(data)
        .arg("--out")
        .arg(file)
        .output()
        .unwrap()
}

fn restore(file: &Path, data: &Path) -> Output {
    zhifa()
        .arg("restore")
        .arg(file)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

/// The command succeeded; its standard output.
fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The command failed cleanly (a message, not a panic); its standard output and error.
fn refused(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(text.contains("错误 / error"), "{text}");
    text
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every path under `dir`, relative, with its bytes (files) — to show nothing changed.
fn tree(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_owned();
            if p.is_dir() {
                stack.push(p);
                out.push((rel, None));
            } else {
                out.push((rel, Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// The demo township, stopped, and a backup of it at `dir/zhifa.zip`.
fn demo_backup(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let (server, _) = demo_on(&data);
    stop(server);
    let file = dir.join("zhifa.zip");
    ok(&backup(&data, &file));
    file
}

fn token(data: &Path) -> String {
    let out = zhifa()
        .args(["token", "create", "--user", "admin", "--data"])
        .arg(data)
        .output()
        .unwrap();
    ok(&out).trim().to_owned()
}

/// Creates departments through the API until `quit`, recording each acknowledged name.
async fn write_departments(
    port: u16,
    token: String,
    tag: String,
    quit: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let client = reqwest::Client::new();
    let mut i = 0;
    while !quit.load(Ordering::Relaxed) {
        let name = format!("{tag}-{i}");
        i += 1;
        let r = create_department(&client, port, &token, &name).await;
        assert_eq!(r, 201, "write {name}");
        acked.lock().unwrap().push(name);
    }
}

async fn create_department(client: &reqwest::Client, port: u16, token: &str, name: &str) -> u16 {
    client
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/agencies/1/departments"
        ))
        .bearer_auth(token)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn department_names(port: u16, token: &str) -> Vec<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/agencies/1/departments"
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

/// The size of the agency log's checkpoint the server publishes.
async fn published_size(port: u16) -> u64 {
    let note = reqwest::get(format!("http://127.0.0.1:{port}/log/zhutang/checkpoint"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// The size of the agency log in the database at `db`.
async fn log_size(db: &Path) -> u64 {
    let store = zhifa_store::Store::open_read_only(db).await.unwrap();
    let heads = store.log_heads().await.unwrap();
    store.close().await;
    heads
        .iter()
        .find(|h| h.origin == "zhifa/zhutang")
        .unwrap()
        .size
}

/// A backup taken while writes stream in holds every write acknowledged before it began;
/// restored into a new directory it verifies, serves, takes a write and signs a checkpoint
/// covering it — the restored signer continues where the copy ends (a `cp -a` of the
/// running installation's directory gives a signer that refuses for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_verifies_serves_and_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let restored = tmp.path().join("restored");
    let file = tmp.path().join("zhifa-backup.zip");
    let (server, port) = demo_on(&data);
    let token = token(&data);
    let quit = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            tokio::spawn(write_departments(
                port,
                token.clone(),
                format!("w{w}"),
                quit.clone(),
                acked.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 10 {
        assert!(Instant::now() < deadline, "writes did not get through");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = acked.lock().unwrap().clone();
    let (d, f) = (data.clone(), file.clone());
    let out = tokio::task::spawn_blocking(move || backup(&d, &f))
        .await
        .unwrap();
    let during = acked.lock().unwrap().len() - before.len();
    quit.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    stop(server);
    let report = ok(&out);
    assert!(report.contains("通过 / OK"), "{report}");
    assert!(report.contains("zhifa/zhutang  size="), "{report}");
    // The copy takes far longer than one write: writes went on while it ran.
    assert!(during > 0, "no write was acknowledged while the backup ran");
    assert_eq!(mode(&file), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    ok(&restore(&file, &restored));
    verified(&restored);

    let port = free_port();
    let log = std::fs::File::create(tmp.path().join("restored-server.log")).unwrap();
    let server = zhifa()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&restored)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    assert!(wait_for_health(port), "the restored server did not start");
    let present = department_names(port, &token).await;
    for name in &before {
        assert!(
            present.contains(name),
            "{name}, acknowledged before the backup, is missing"
        );
    }
    let client = reqwest::Client::new();
    assert_eq!(
        create_department(&client, port, &token, "恢复后新建").await,
        201
    );
    let size = log_size(&restored.join("zhifa.db")).await;
    // The checkpointer signs every 10 s; it must cover the new write.
    let deadline = Instant::now() + Duration::from_secs(90);
    while published_size(port).await < size {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(tmp.path().join("restored-server.log"));
            panic!("no checkpoint covers size {size}: {log:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(server);
    verified(&restored);
}

/// A truncated file, a flipped byte, a member changed inside a well-formed ZIP, and a
/// member the manifest does not name are each refused before anything is written.
#[test]
fn a_damaged_or_altered_backup_is_refused_and_nothing_is_restored() {
    let tmp = tempfile::tempdir().unwrap();
    let file = demo_backup(tmp.path());
    let bytes = std::fs::read(&file).unwrap();
    let target = tmp.path().join("target");
    let refused_with = |bytes: &[u8], needles: &[&str]| {
        let bad = tmp.path().join("bad.zip");
        std::fs::write(&bad, bytes).unwrap();
        let text = refused(&restore(&bad, &target));
        for n in needles {
            assert!(text.contains(n), "{n}: {text}");
        }
        assert!(
            !target.exists(),
            "a refused restore created {}",
            target.display()
        );
    };

    refused_with(&bytes[..bytes.len() / 2], &["不完整", "truncated"]);

    // A byte in the middle of the database's compressed data.
    let mut flipped = bytes.clone();
    let at = {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let db = zip.by_name("zhifa.db").unwrap();
        db.data_start().unwrap() + db.compressed_size() / 2
    };
    flipped[at as usize] ^= 0x40;
    refused_with(&flipped, &["已损坏", "damaged", "zhifa.db"]);

    // A ZIP as good as any, whose signer record is not the one the manifest describes.
    let rewritten = |change: &dyn Fn(&str, Vec<u8>) -> Vec<u8>, extra: Option<&str>| {
        use std::io::{Read, Write};
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let name = entry.name().unwrap().to_string();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            out.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(&change(&name, content)).unwrap();
        }
        if let Some(name) = extra {
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(b"x").unwrap();
        }
        out.finish().unwrap().into_inner()
    };
    let altered = rewritten(
        &|name, content| {
            if name == "keys/zhifa_zhutang.signed" {
                b"1 0000000000000000000000000000000000000000000000000000000000000000\n".to_vec()
            } else {
                content
            }
        },
        None,
    );
    refused_with(&altered, &["keys/zhifa_zhutang.signed", "SHA-256"]);
    let smuggled = rewritten(&|_, content| content, Some("../escape.txt"));
    refused_with(&smuggled, &["../escape.txt"]);
    assert!(!tmp.path().parent().unwrap().join("escape.txt").exists());

    // The untouched file restores.
    ok(&restore(&file, &target));
}

/// Restore writes only into an empty or new directory: a non-empty data directory, or an
/// empty one beside a non-empty key directory, is refused and left as it was.
#[test]
fn restore_into_a_non_empty_directory_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = demo_backup(tmp.path());
    let occupied = tmp.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), "留着 / keep").unwrap();
    std::fs::set_permissions(&occupied, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = tree(&occupied);
    let text = refused(&restore(&file, &occupied));
    assert!(
        text.contains("不为空") && text.contains("not empty"),
        "{text}"
    );
    assert_eq!(tree(&occupied), before);
    assert_eq!(mode(&occupied), 0o755);

    // The data directory empty, the key directory (given apart) not.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = zhifa()
        .arg("restore")
        .arg(&file)
        .arg("--data")
        .arg(&empty)
        .arg("--key-dir")
        .arg(&occupied)
        .output()
        .unwrap();
    let text = refused(&out);
    assert!(text.contains("occupied"), "{text}");
    assert_eq!(tree(&empty), vec![]);
    assert_eq!(tree(&occupied), before);
}

/// `--out` into a directory that does not exist, and a data directory without a database,
/// are clear errors that create nothing.
#[test]
fn backup_to_a_missing_directory_or_of_no_database_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (server, _) = demo_on(&data);
    stop(server);
    let missing = tmp.path().join("missing");
    let text = refused(&backup(&data, &missing.join("zhifa.zip")));
    assert!(
        text.contains("目录不存在") && text.contains("does not exist"),
        "{text}"
    );
    assert!(!missing.exists());

    let nothing = tmp.path().join("nothing");
    let file = tmp.path().join("zhifa.zip");
    let text = refused(&backup(&nothing, &file));
    assert!(
        text.contains("没有数据库") && text.contains("no database"),
        "{text}"
    );
    assert!(!nothing.exists() && !file.exists());
}

/// A key directory whose signer record runs ahead of the database — what `cp -a` of a
/// running installation can give — fails the backup's check, and no file is written.
#[test]
fn a_backup_whose_signer_record_runs_ahead_of_the_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (server, _) = demo_on(&data);
    stop(server);
    let keys = tmp.path().join("keys-ahead");
    std::fs::create_dir(&keys).unwrap();
    for e in std::fs::read_dir(data.join("keys")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, keys.join(p.file_name().unwrap())).unwrap();
    }
    let record = keys.join("zhifa_zhutang.signed");
    let text = std::fs::read_to_string(&record).unwrap();
    let (size, root) = text.trim().split_once(' ').unwrap();
    let ahead = size.parse::<u64>().unwrap() + 5;
    std::fs::write(&record, format!("{ahead} {root}\n")).unwrap();
    let file = tmp.path().join("zhifa.zip");
    let out = zhifa()
        .args(["backup", "--data"])
        .arg(&data)
        .arg("--key-dir")
        .arg(&keys)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    let text = refused(&out);
    assert!(
        text.contains("rolled back")
            && text.contains("run it again")
            && text.contains("no file was written"),
        "{text}"
    );
    assert!(!file.exists());
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

/// The backup file is 0600, and a restore makes its directories 0700 and its files 0600
/// even under umask 000; the administrator's templates come back as they were.
#[test]
fn backup_and_restore_are_owner_only_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (server, _) = demo_on(&data);
    stop(server);
    std::fs::create_dir_all(data.join("templates/旧版")).unwrap();
    let template = "# 管理员的立案审批表模板 / an administrator's template\n";
    std::fs::write(data.join("templates/filing-approval.toml"), template).unwrap();
    std::fs::write(data.join("templates/旧版/filing-approval.toml"), "# old\n").unwrap();
    let under_umask_000 = |args: &[&std::ffi::OsStr]| {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg("umask 000; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_zhifa"))
            .args(args)
            .env_remove("ZHIFA_DATA")
            .env_remove("ZHIFA_DATABASE_URL")
            .env_remove("ZHIFA_CONFIG");
        c.output().unwrap()
    };
    let file = tmp.path().join("zhifa.zip");
    let out = under_umask_000(&[
        "backup".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        file.as_os_str(),
    ]);
    assert!(ok(&out).contains("模板 / templates: 2"));
    assert_eq!(mode(&file), 0o600);
    let restored = tmp.path().join("restored");
    let out = under_umask_000(&[
        "restore".as_ref(),
        file.as_os_str(),
        "--data".as_ref(),
        restored.as_os_str(),
    ]);
    ok(&out);
    for (rel, content) in tree(&restored) {
        let path = restored.join(&rel);
        match content {
            None => assert_eq!(mode(&path), 0o700, "{}", rel.display()),
            Some(_) => assert_eq!(mode(&path), 0o600, "{}", rel.display()),
        }
    }
    assert_eq!(mode(&restored), 0o700);
    assert_eq!(
        std::fs::read_to_string(restored.join("templates/filing-approval.toml")).unwrap(),
        template
    );
    assert!(
        restored
            .join("templates/旧版/filing-approval.toml")
            .is_file()
    );
    assert!(restored.join("keys/entry-authentication.legacy").is_file());
    verified(&restored);
}

/// `zhifa <args>` serving on a free port, answering; with its port.
fn serve(args: &[&str]) -> (std::process::Child, u16) {
    let port = free_port();
    let child = zhifa()
        .args(args)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_health(port), "{args:?} did not start");
    (child, port)
}

/// On PostgreSQL `zhifa backup` takes the key directory and says that the database is
/// dumped with pg_dump, after it. The keys restored beside a pg_restore of that dump
/// verify, serve and go on signing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_keys_go_with_a_pg_dump_taken_after_them() {
    let Some(source) = zhifa_store::testing::TestDb::postgres().await else {
        eprintln!("ZHIFA_TEST_DATABASE_URL not set: PostgreSQL variant skipped");
        return;
    };
    if std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("pg_dump not installed: PostgreSQL backup test skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let k = keys.to_str().unwrap();
    let (server, _) = serve(&["demo", "--database-url", &source.url, "--key-dir", k]);
    stop(server);

    let file = tmp.path().join("keys.zip");
    let out = zhifa()
        .args([
            "backup",
            "--database-url",
            &source.url,
            "--key-dir",
            k,
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let said = ok(&out);
    assert!(
        said.contains("pg_dump") && said.contains("keys first, then pg_dump"),
        "{said}"
    );
    {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).unwrap();
        assert!(zip.by_name("zhifa.db").is_err());
        assert!(zip.by_name("keys/entry-authentication.key").is_ok());
    }
    let dump = tmp.path().join("zhifa.dump");
    let out = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&source.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Into a new database: pg_restore, then the keys.
    let target = zhifa_store::testing::TestDb::postgres_at(0).await.unwrap();
    let out = std::process::Command::new("pg_restore")
        .args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--dbname",
            &target.url,
        ])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = refused(&restore(&file, &tmp.path().join("data")));
    assert!(text.contains("--key-dir"), "{text}");
    let restored_keys = tmp.path().join("restored-keys");
    let out = zhifa()
        .arg("restore")
        .arg(&file)
        .arg("--key-dir")
        .arg(&restored_keys)
        .output()
        .unwrap();
    assert!(ok(&out).contains("pg_restore"));
    assert_eq!(mode(&restored_keys), 0o700);
    let rk = restored_keys.to_str().unwrap();
    let db = ["--database-url", target.url.as_str(), "--key-dir", rk];
    let verify = || {
        let out = zhifa().arg("verify").args(db).output().unwrap();
        assert!(ok(&out).contains("通过 / OK"));
    };
    verify();

    let (server, port) = serve(&[&["serve"][..], &db[..]].concat());
    let out = zhifa()
        .args(["token", "create", "--user", "admin"])
        .args(db)
        .output()
        .unwrap();
    let token = ok(&out).trim().to_owned();
    let client = reqwest::Client::new();
    assert_eq!(
        create_department(&client, port, &token, "恢复后新建").await,
        201
    );
    let size = target
        .store
        .log_heads()
        .await
        .unwrap()
        .iter()
        .find(|h| h.origin == "zhifa/zhutang")
        .unwrap()
        .size;
    let deadline = Instant::now() + Duration::from_secs(90);
    while published_size(port).await < size {
        assert!(
            Instant::now() < deadline,
            "no checkpoint covers size {size}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(server);
    verify();
    drop(target);
    drop(source);
}
