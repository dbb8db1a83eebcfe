//! The `zhifa` binary as an operator uses it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn zhifa() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zhifa"));
    c.env_remove("ZHIFA_DATA")
        .env_remove("ZHIFA_DATABASE_URL")
        .env_remove("ZHIFA_CONFIG")
        .env_remove("ZHIFA_PASSWORD");
    c
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `/healthz` answers 200 (a bare HTTP/1.0 request: no client needed).
pub(crate) fn wait_for_health(port: u16) -> bool {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// `zhifa demo` on `dir`, started and answering; with its port.
pub(crate) fn demo_on(dir: &std::path::Path) -> (std::process::Child, u16) {
    let port = free_port();
    let child = zhifa()
        .args(["demo", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_health(port), "demo did not start");
    (child, port)
}

/// Stops a server as an operator would (SIGTERM) and waits for it.
pub(crate) fn stop(mut child: std::process::Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

/// `zhifa verify --data dir`, which must pass; its output.
pub(crate) fn verified(dir: &std::path::Path) -> String {
    let out = zhifa()
        .args(["verify", "--data"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("通过 / OK"), "{stdout}");
    stdout
}

#[test]
fn help_documents_commands_and_configuration_in_chinese_and_english() {
    let out = zhifa().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "demo",
        "serve",
        "init",
        "migrate",
        "user",
        "token",
        "ZHIFA_DATA",
        "ZHIFA_DATABASE_URL",
        "数据目录",
        "data directory",
        "配置优先级",
        "precedence",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
    let out = zhifa().args(["user", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in ["add", "passwd", "list", "disable"] {
        assert!(text.contains(needle));
    }
}

#[test]
fn demo_refuses_a_taken_port_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = zhifa()
        .args(["demo", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("端口已被占用") && err.contains("address already in use"),
        "{err}"
    );
}

#[test]
fn an_unwritable_data_dir_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = zhifa()
        .args(["migrate", "--data"])
        .arg(file.join("sub"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("数据目录不可写") && err.contains("not writable"),
        "{err}"
    );
}

#[test]
fn demo_starts_reuses_its_data_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let port = free_port();
        let mut child = zhifa()
            .args(["demo", "--addr", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(wait_for_health(port), "demo did not start");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(exit.success(), "graceful exit code");
        let mut out = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        assert!(
            out.contains("admin") && out.contains("Zhifa@2026"),
            "accounts printed"
        );
        if round == 0 {
            assert!(out.contains("新建"), "{out}");
        } else {
            assert!(out.contains("沿用已有数据"), "{out}");
        }
    }
}

/// 国密 chosen with `zhifa init --crypto`: the installation's logs hash with SM3 and are
/// signed with SM2, a township under it inherits the choice unless it makes its own, a
/// bad choice is refused naming both, and `zhifa verify` accepts the signed checkpoints.
#[test]
fn a_guomi_installation_signs_checkpoints_that_verify_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut child = zhifa()
            .args(args)
            .arg("--data")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if args[0] == "init" {
            writeln!(child.stdin.take().unwrap(), "Strong#Pass1").unwrap();
        }
        child.wait_with_output().unwrap()
    };
    let init = |name: &str, slug: &str, code: &str, extra: &[&str]| {
        let mut args = vec![
            "init",
            "--agency-name",
            name,
            "--slug",
            slug,
            "--credit-code",
            code,
            "--legal-basis",
            "《中华人民共和国行政处罚法》第二十四条",
            "--admin-user",
            slug,
            "--admin-name",
            "管理员甲",
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = init(
        "某县人民政府",
        "county",
        "914403001922038216",
        &["--crypto", "sm4"],
    );
    assert!(!out.status.success(), "an unknown algorithm accepted");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("国密（SM2/SM3）") && err.contains("国际算法（Ed25519/SHA-256）"),
        "{err}"
    );
    let out = init(
        "某县人民政府",
        "county",
        "914403001922038216",
        &["--crypto", "guomi"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("国密（SM2/SM3）"));
    let out = init(
        "朱堂乡人民政府",
        "zhutang",
        "114115210055512343",
        &["--parent", "county"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("国密（SM2/SM3）"));
    let out = init(
        "某镇人民政府",
        "town",
        "12411521MB1953925Y",
        &["--parent", "county", "--crypto", "international"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("国际算法（Ed25519/SHA-256）"));

    let out = run(&["ledger", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8(run(&["ledger", "list"]).stdout).unwrap();
    let line = |origin: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("{origin} ")))
            .unwrap_or_else(|| panic!("{origin} in {list}"))
            .to_owned()
    };
    // The first agency decided the installation's own log too.
    for origin in ["zhifa/_system", "zhifa/county", "zhifa/zhutang"] {
        assert!(line(origin).contains("国密（SM2/SM3）"), "{list}");
    }
    assert!(line("zhifa/town").contains("国际算法"), "{list}");
    // Every checkpoint file is signed, and verify checks them with the SM2 keys.
    let key_dir = dir.path().join("keys");
    let signed: Vec<_> = std::fs::read_dir(&key_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".signed"))
        .collect();
    assert!(signed.len() >= 4, "{signed:?}");
    verified(dir.path());
}

/// `zhifa` with the given arguments under `umask 000`, as a careless service unit would
/// start it.
fn zhifa_umask_000(args: &[&str], dir: &std::path::Path) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_zhifa"))
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("ZHIFA_DATA")
        .env_remove("ZHIFA_DATABASE_URL")
        .env_remove("ZHIFA_CONFIG")
        .env_remove("ZHIFA_PASSWORD");
    c
}

/// Every directory under `dir` (itself included) is 0700 and every file 0600; returns
/// the names of the files seen.
fn owner_only(dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = Vec::new();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            seen.extend(owner_only(&path));
        } else {
            assert_eq!(mode(&path), 0o600, "{:o}: {}", mode(&path), path.display());
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen
}

/// The data directory is 0700 and every file in it — the database with its WAL and SHM
/// files, the key directory and the keys, the signer's records, the lock — 0600, whatever
/// the umask the server was started with, also when the directory was made open before.
#[test]
fn the_data_directory_is_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let fresh = parent.path().join("fresh");
    let open = parent.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    for dir in [&fresh, &open] {
        let port = free_port();
        let child = zhifa_umask_000(&["demo", "--addr", &format!("127.0.0.1:{port}")], dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(wait_for_health(port), "demo did not start");
        // Running: the WAL and its index exist beside the database.
        let files = owner_only(dir);
        for f in [
            "zhifa.db",
            "zhifa.db-wal",
            "zhifa.db-shm",
            "zhifa.lock",
            "entry-authentication.key",
        ] {
            assert!(files.iter().any(|n| n == f), "{f} in {files:?}");
        }
        assert!(files.iter().any(|n| n.ends_with(".signed")), "{files:?}");
        stop(child);
        owner_only(dir);
    }
    // `zhifa init` on a new directory, under the same umask.
    let init = parent.path().join("init");
    let mut child = zhifa_umask_000(
        &[
            "init",
            "--agency-name",
            "某县城市管理局",
            "--slug",
            "city",
            "--credit-code",
            "914403001922038216",
            "--legal-basis",
            "《城市管理执法办法》",
            "--admin-name",
            "管理员甲",
            "--password-stdin",
        ],
        &init,
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    writeln!(child.stdin.take().unwrap(), "Strong#Pass1").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = owner_only(&init);
    assert!(files.iter().any(|n| n == "zhifa.db"), "{files:?}");
}

#[test]
fn init_user_and_token_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    cli_story(&["--data", &data]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_user_and_token_commands_on_postgres() {
    let Some(db) = zhifa_store::testing::TestDb::postgres().await else {
        eprintln!("ZHIFA_TEST_DATABASE_URL not set: PostgreSQL variant skipped");
        return;
    };
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || cli_story(&["--database-url", &url]))
        .await
        .unwrap();
    drop(db);
}

/// The operator's commands against one database (`--data DIR` or `--database-url URL`).
fn cli_story(database: &[&str]) {
    let run = |args: &[&str], password: Option<&str>| {
        let mut c = zhifa();
        c.args(args).args(database);
        if password.is_some() {
            c.arg("--password-stdin").stdin(Stdio::piped());
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(p) = password {
            writeln!(child.stdin.take().unwrap(), "{p}").unwrap();
        }
        child.wait_with_output().unwrap()
    };
    let init = [
        "init",
        "--agency-name",
        "某县城市管理局",
        "--slug",
        "city",
        "--credit-code",
        "914403001922038216",
        "--legal-basis",
        "《城市管理执法办法》",
        "--admin-user",
        "root",
        "--admin-name",
        "管理员甲",
    ];
    let out = run(&init, Some("weak"));
    assert!(!out.status.success(), "weak password accepted");
    assert!(String::from_utf8_lossy(&out.stderr).contains("密码"));
    let out = run(&init, Some("Strong#Pass1"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bad = init;
    bad[6] = "914403001922038217";
    bad[4] = "city2";
    let out = run(&bad, Some("Strong#Pass1"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("校验位"));

    let out = run(
        &[
            "user",
            "add",
            "--agency",
            "city",
            "--username",
            "lisi",
            "--name",
            "李四",
            "--roles",
            "officer,leader",
        ],
        Some("Another#Pass2"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &[
            "user",
            "add",
            "--agency",
            "city",
            "--username",
            "liwu",
            "--name",
            "李五",
            "--roles",
            "boss",
        ],
        Some("Another#Pass2"),
    );
    assert!(!out.status.success());
    let out = run(&["user", "list"], None);
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(
        list.contains("root") && list.contains("lisi") && list.contains("officer,leader"),
        "{list}"
    );
    let out = run(&["user", "passwd", "lisi"], Some("Changed#Pass3"));
    assert!(out.status.success());
    let out = run(&["user", "disable", "lisi"], None);
    assert!(out.status.success());
    let out = run(&["user", "list", "--agency", "city"], None);
    assert!(String::from_utf8(out.stdout).unwrap().contains("disabled"));
    let out = run(&["token", "create", "--user", "lisi"], None);
    assert!(!out.status.success(), "token for a disabled user");
    let out = run(&["token", "create", "--user", "root"], None);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(token.trim().starts_with("zf_") && token.trim().len() > 40);
    // A token's term is 1 to 365 days; a read-only one is listed as such.
    let out = run(
        &["token", "create", "--user", "root", "--days", "400"],
        None,
    );
    assert!(!out.status.success(), "a token for more than a year");
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("1 至 365 天")
    );
    let out = run(
        &[
            "token",
            "create",
            "--user",
            "root",
            "--days",
            "7",
            "--read-only",
            "--name",
            "ro",
        ],
        None,
    );
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("只读令牌，有效至")
    );
    let out = run(&["token", "list"], None);
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains(" ro ") && l.contains("read-only") && l.contains("active")),
        "{list}"
    );
    let out = run(&["migrate"], None);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("up to date")
    );

    // The 执法事项清单 from Excel: a file with bad rows imports nothing and names each
    // problem; a good one imports every row, and the record still verifies.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xlsx");
    std::fs::write(
        &bad,
        crate::catalog::workbook(3, |i, r| {
            if i == 3 {
                r[10] = "2026-02-30".into();
            }
        }),
    )
    .unwrap();
    let out = run(
        &["import", "items", bad.to_str().unwrap(), "--agency", "city"],
        None,
    );
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("第 4 行 K 列（生效日期）"), "{stdout}");
    let good = dir.path().join("good.xlsx");
    std::fs::write(&good, crate::catalog::workbook(20, |_, _| {})).unwrap();
    let out = run(
        &[
            "import",
            "items",
            good.to_str().unwrap(),
            "--agency",
            "city",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("20 个新事项"));
    // The same file again: each row would overlap the version just imported.
    let out = run(
        &[
            "import",
            "items",
            good.to_str().unwrap(),
            "--agency",
            "city",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("第 2 行 K 列"));
    let out = run(
        &[
            "import",
            "items",
            good.to_str().unwrap(),
            "--agency",
            "nowhere",
        ],
        None,
    );
    assert!(!out.status.success());
    let out = run(&["verify"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_the_demo_and_names_a_row_changed_with_sql() {
    let dir = tempfile::tempdir().unwrap();
    let (child, _) = demo_on(dir.path());
    stop(child);

    let verify = || {
        zhifa()
            .args(["verify", "--data"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    verified(dir.path());
    assert!(
        dir.path().join("keys").is_dir(),
        "keys generated in the data dir"
    );

    // The exported bundle verifies with no database, and a bundle missing an entry fails.
    let bundle = dir.path().join("zhutang.bundle.json");
    let out = zhifa()
        .args(["ledger", "export", "--agency", "zhutang", "--out"])
        .arg(&bundle)
        .args(["--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline = |path: &std::path::Path| {
        zhifa()
            .args(["verify", "--bundle"])
            .arg(path)
            .output()
            .unwrap()
    };
    let out = offline(&bundle);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    b["entries"].as_array_mut().unwrap().remove(5);
    let broken = dir.path().join("broken.bundle.json");
    std::fs::write(&broken, serde_json::to_vec(&b).unwrap()).unwrap();
    let out = offline(&broken);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));

    // A database administrator changes a leadership member's post with SQL.
    let url = format!("sqlite://{}/zhifa.db", dir.path().display());
    let store = zhifa_store::Store::connect(&url).await.unwrap();
    store
        .raw_execute("UPDATE leadership_members SET post = '组长' WHERE name = '刘哲'")
        .await
        .unwrap();
    store.close().await;
    let out = verify();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("leadership_members 表 id="), "{stdout}");
}

/// `zhifa calendar add-working-days DATE N` (a stable interface, DESIGN §5): the Nth
/// working day strictly after DATE on the mainland calendar; non-zero outside the data.
#[test]
fn calendar_add_working_days_follows_the_mainland_calendar() {
    let run = |args: &[&str]| zhifa().arg("calendar").args(args).output().unwrap();
    for (from, n, expected) in [
        // Friday before the 2026 Spring Festival: Saturday 2-14 is a make-up working day,
        // then 2-15..2-23 are off.
        ("2026-02-13", "1", "2026-02-14"),
        ("2026-02-13", "2", "2026-02-24"),
        // 行政许可法 第四十二条: 20 working days across 国庆 2025.
        ("2025-09-22", "20", "2025-10-24"),
        ("2026-03-02", "0", "2026-03-02"),
    ] {
        let out = run(&["add-working-days", from, n]);
        assert!(out.status.success(), "{from} {n}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            expected,
            "{from} {n}"
        );
    }
    // A year without the State Council's notice is refused, with a clear message.
    let out = run(&["add-working-days", "2026-12-25", "10"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2027 年尚无国务院节假日安排数据"));
    for bad in [
        ["2026-02-30", "1"],
        ["2026-03-01", "-1"],
        ["yesterday", "1"],
    ] {
        assert!(
            !run(&["add-working-days", bad[0], bad[1]]).status.success(),
            "{bad:?}"
        );
    }
    let out = run(&["add-days", "2026-09-24", "7"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2026-10-08");
}

/// The README's own command: `zhifa demo` with no `--data` keeps its data and its keys in
/// `./zhifa-demo-data`, signs its logs before serving, and `zhifa verify` on that directory
/// passes.
#[test]
fn the_bare_demo_command_signs_its_logs_and_verifies() {
    use std::io::Read;
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = zhifa()
        .current_dir(cwd.path())
        .args(["demo", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_health(port), "demo did not start");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /log/zhutang/checkpoint HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    assert!(answer.contains("zhifa/zhutang"), "{answer}");
    let data = cwd.path().join("zhifa-demo-data");
    assert!(data.join("keys/entry-authentication.key").exists());
    let out = zhifa()
        .current_dir(cwd.path())
        .args(["verify", "--data", "zhifa-demo-data"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("未核对条目认证码"));
}

/// A data directory made by the release before logs were stored in chunks (`zhifa demo`
/// at commit dfa7636, copied with `VACUUM INTO`; its keys are throwaway test keys, see
/// `tests/fixtures/README.md`). Opening it moves its logs into chunks: it verifies with
/// its own keys, entries are found by their hash, the server appends to the chunks it
/// migrated (the last one partial) and signs them, and it still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_from_before_log_chunks_upgrades_and_still_verifies() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::File::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/demo-before-log-chunks.zip"
    ))
    .unwrap();
    zip::ZipArchive::new(fixture)
        .unwrap()
        .extract(dir.path())
        .unwrap();
    let keys = dir.path().join("keys");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    for f in std::fs::read_dir(&keys).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "key") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let first = verified(dir.path());
    assert!(first.contains("370 条记录 entries"), "{first}");

    let (child, port) = demo_on(dir.path());
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // An entry written before the upgrade, found again by its leaf hash.
    let proof = |query: String| {
        let request = c.get(format!("{base}/log/zhutang/proof/inclusion?{query}"));
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body
        }
    };
    let by_index = proof("index=5".into()).await;
    let leaf: String = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(by_index["leaf_hash"].as_str().unwrap())
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let by_hash = proof(format!("hash={leaf}")).await;
    assert_eq!(by_hash["index"], 5, "{by_hash}");
    assert_eq!(by_hash["proof"], by_index["proof"]);
    // A login: new entries appended after the migrated ones.
    let page = c
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = super::harness::csrf(&page);
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("username", "admin"),
            ("password", "Zhifa@2026"),
            ("csrf_token", token.as_str()),
            ("next", "/app"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    stop(child);
    let after = verified(dir.path());
    assert!(!after.contains("370 条记录 entries"), "{after}");
}
