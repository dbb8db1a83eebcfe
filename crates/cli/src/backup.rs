//! `zhifa backup --out FILE`: an online backup of an installation in one file, checked
//! before it is kept.
//!
//! Order matters. The key directory — the signing keys, the entry-authentication key and
//! its `.legacy` file, and the signer's `*.signed` records of the last head it signed —
//! is taken first, the database after. The checkpointer records a head only once the
//! database holds it, so records taken first never run ahead of a database taken after,
//! and a restored signer goes on from where the copy ends. Taken the other way round (or
//! with `cp -a` while the server runs) a record may name a head the copy lacks, and the
//! checkpointer then refuses to sign that log for good — as it must when a database is
//! put back behind its signatures.

use crate::backup_file::{self, LogAt, Manifest, Writer};
use crate::config::{Database, Settings};
use anyhow::{Context, anyhow, bail};
use std::path::{Path, PathBuf};
use std::time::Instant;
use zhifa_store::Store;
use zhifa_store::keys::KeyStore;
use zhifa_store::ledger::LogHead;

/// What checking a copy of an installation found.
pub struct Checked {
    pub heads: Vec<LogHead>,
    pub report: zhifa_store::verify::Report,
    /// Everything wrong, named; empty when the copy is sound.
    pub problems: Vec<String>,
    /// Whether some of them are about the keys' signer (`Store::signer_problems`).
    pub signer_unfit: bool,
}

/// Checks the SQLite database at `db` with the keys at `key_dir` as `zhifa verify` would,
/// reading only: SQLite's integrity check, the schema version, every log, checkpoint and
/// ledgered row (`store::verify`), and whether the keys' signer could go on signing.
pub async fn check_installation(db: &Path, key_dir: &Path) -> anyhow::Result<Checked> {
    let store = Store::open_read_only(db)
        .await
        .map_err(|e| anyhow!("无法打开数据库副本 / cannot open the database copy: {e}"))?;
    let checked = check_store(&store, key_dir).await;
    store.close().await;
    checked
}

async fn check_store(store: &Store, key_dir: &Path) -> anyhow::Result<Checked> {
    let mut problems = Vec::new();
    for line in store.integrity_check().await? {
        problems.push(format!("SQLite integrity_check: {line}"));
    }
    let (found, supported) = store.schema_versions().await?;
    if found != supported {
        problems.push(format!(
            "数据库结构版本为 {found}，本程序为 {supported}：请用与服务器相同版本的 zhifa / schema version {found}, this zhifa knows {supported}: use the zhifa version the server runs"
        ));
        return Ok(Checked {
            heads: Vec::new(),
            report: Default::default(),
            problems,
            signer_unfit: false,
        });
    }
    let keys = KeyStore::open(key_dir)
        .map_err(|e| anyhow!("无法打开密钥目录 / cannot open the key directory: {e}"))?;
    // `verify` never creates the key it checks with; a copy without one is incomplete.
    if !keys.has_entry_key() {
        problems.push(
            "密钥目录中没有条目认证密钥（entry-authentication.key）/ the key directory has no entry-authentication key"
                .into(),
        );
    }
    let store = if keys.has_entry_key() {
        store
            .clone()
            .with_entry_key(keys.entry_key()?)
            .with_entry_legacy(keys.entry_legacy()?)
    } else {
        store.clone()
    };
    let report = store.verify(&[]).await?;
    problems.extend(report.failures.iter().cloned());
    if report.more_failures > 0 {
        problems.push(format!(
            "……另有 {} 处 / and {} more",
            report.more_failures, report.more_failures
        ));
    }
    let signer = store.signer_problems(&keys).await?;
    let signer_unfit = !signer.is_empty();
    problems.extend(signer);
    Ok(Checked {
        heads: store.log_heads().await?,
        report,
        problems,
        signer_unfit,
    })
}

/// Prints each log's size and root.
pub fn print_logs(heads: &[LogHead]) {
    for h in heads {
        println!(
            "    {}  size={}  root={}",
            h.origin,
            h.size,
            zhifa_ledger::hash::to_hex(&h.root)
        );
    }
}

pub fn logs_at(heads: &[LogHead]) -> Vec<LogAt> {
    heads
        .iter()
        .map(|h| LogAt {
            origin: h.origin.clone(),
            size: h.size,
            root: zhifa_ledger::hash::to_hex(&h.root),
        })
        .collect()
}

pub async fn run(settings: &Settings, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = out_dir(out)?;
    let database = settings.database.clone().ok_or_else(|| {
        anyhow!(
            "请用 --data DIR 指定数据目录，或用 --database-url 指定 PostgreSQL\n\
             use --data DIR (SQLite) or --database-url postgres://… (PostgreSQL)"
        )
    })?;
    if let Database::DataDir(data) = &database {
        let db = data.join(backup_file::DATABASE);
        if !db.is_file() {
            bail!(
                "数据目录中没有数据库：{} / no database in the data directory: {}",
                db.display(),
                db.display()
            );
        }
    }
    let key_dir = settings.key_dir.clone().ok_or_else(|| {
        anyhow!(
            "请用 --key-dir 指定签名密钥目录（数据库之外必须备份的部分）/ give the key directory with --key-dir: it is the part of the installation outside the database"
        )
    })?;
    if !key_dir.is_dir() {
        bail!(
            "密钥目录不存在：{} —— 请用 --key-dir 指定服务器使用的密钥目录 / no key directory {}: give the --key-dir the server uses",
            key_dir.display(),
            key_dir.display()
        );
    }
    // Everything is gathered in a private directory beside FILE and removed at the end.
    let staging = tempfile::Builder::new()
        .prefix(".zhifa-backup-")
        .tempdir_in(&dir)
        .with_context(|| {
            format!(
                "无法在 {} 中写入 / cannot write in {}",
                dir.display(),
                dir.display()
            )
        })?;
    // The keys first (see the module's comment).
    let keys = copy_keys(&key_dir, &staging.path().join("keys"))?;
    match database {
        Database::DataDir(data) => {
            backup_sqlite(&data, staging.path(), keys, out, &dir, started).await
        }
        Database::Url(url) => backup_postgres(&url, staging.path(), keys, out, &dir).await,
    }
}

/// The directory FILE goes into, which must exist.
fn out_dir(out: &Path) -> anyhow::Result<PathBuf> {
    if out.is_dir() {
        bail!(
            "--out 应为文件名，而 {} 是目录 / --out must name a file, {} is a directory",
            out.display(),
            out.display()
        );
    }
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "备份文件所在的目录不存在：{} / the directory for --out does not exist: {}",
            dir.display(),
            dir.display()
        );
    }
    Ok(dir)
}

async fn backup_sqlite(
    data: &Path,
    staging: &Path,
    keys: Vec<String>,
    out: &Path,
    dir: &Path,
    started: Instant,
) -> anyhow::Result<()> {
    let db = data.join(backup_file::DATABASE);
    let templates = copy_templates(&data.join("templates"), &staging.join("templates"))?;
    let copy = staging.join(backup_file::DATABASE);
    let source = Store::open_read_only(&db)
        .await
        .map_err(|e| anyhow!("无法打开数据库 / cannot open the database: {e}"))?;
    let copied = source.vacuum_into(&copy).await;
    source.close().await;
    copied.map_err(|e| anyhow!("无法复制数据库 / cannot copy the database: {e}"))?;
    let checked = check_installation(&copy, &staging.join("keys")).await?;
    if !checked.problems.is_empty() {
        return Err(refuse(&checked.problems, checked.signer_unfit));
    }
    let manifest = manifest(backup_file::SQLITE, logs_at(&checked.heads));
    let mut members: Vec<(String, PathBuf)> = members(staging, &keys, &templates);
    members.push((backup_file::DATABASE.into(), copy));
    let size = write_file(out, dir, &members, manifest)?;
    let r = &checked.report;
    println!(
        "已备份 / backed up: {} ({:.1} MB, {} ms)",
        out.display(),
        size as f64 / 1e6,
        started.elapsed().as_millis()
    );
    println!(
        "  数据库快照 / database snapshot: integrity_check ok; 核验 / verified: {} 个日志 logs, {} 条记录 entries, {} 个签名树头 checkpoints, {} 行数据 rows",
        r.logs, r.entries, r.checkpoints, r.rows
    );
    println!("  日志 / logs:");
    print_logs(&checked.heads);
    println!(
        "  密钥 / keys: {} 个文件 files; 模板 / templates: {} 个文件 files",
        keys.len(),
        templates.len()
    );
    println!("通过 / OK");
    Ok(())
}

async fn backup_postgres(
    url: &str,
    staging: &Path,
    keys: Vec<String>,
    out: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let store = Store::connect(url)
        .await
        .map_err(|e| anyhow!("无法打开数据库 / cannot open the database: {e}"))?;
    let key_store = KeyStore::open(&staging.join("keys"))?;
    let mut problems = Vec::new();
    if !key_store.has_entry_key() {
        problems.push(
            "密钥目录中没有条目认证密钥（entry-authentication.key）/ the key directory has no entry-authentication key"
                .to_owned(),
        );
    }
    let checked = async {
        let signer = store.signer_problems(&key_store).await?;
        Ok::<_, zhifa_store::StoreError>((signer, store.log_heads().await?))
    }
    .await;
    store.close().await;
    let (signer, heads) = checked?;
    let signer_unfit = !signer.is_empty();
    problems.extend(signer);
    if !problems.is_empty() {
        return Err(refuse(&problems, signer_unfit));
    }
    let manifest = manifest(backup_file::POSTGRESQL, logs_at(&heads));
    write_file(out, dir, &members(staging, &keys, &[]), manifest)?;
    println!(
        "已备份密钥目录 / key directory backed up: {} ({} 个文件 files)",
        out.display(),
        keys.len()
    );
    println!("  此刻的日志 / the logs now:");
    print_logs(&heads);
    println!(
        "注意：PostgreSQL 数据库本身不在此文件中。现在（密钥之后）用 pg_dump 导出数据库，例如：\n\
         \x20   pg_dump --format=custom --file=zhifa-$(date +%F).dump \"$ZHIFA_DATABASE_URL\"\n\
         顺序不能颠倒：先备份密钥（本命令），后 pg_dump；两个文件一起保存。\n\
         note: the PostgreSQL database itself is NOT in this file. Dump it now, after the keys,\n\
         with pg_dump as above — keys first, then pg_dump — and keep the two files together."
    );
    Ok(())
}

/// Prints what failed and gives the error that ends the backup.
fn refuse(problems: &[String], signer_unfit: bool) -> anyhow::Error {
    for p in problems {
        println!("失败 / FAILED: {p}");
    }
    if signer_unfit {
        // A key made or rotated between the copy of the keys and that of the database is
        // seen here too; the next run takes both after it.
        println!(
            "若备份期间新建或更换了签名密钥，请再运行一次 / if a signing key was made or rotated while the backup ran, run it again"
        );
    }
    anyhow!("备份检查未通过，未写出备份文件 / the backup failed its check; no file was written")
}

fn manifest(database: &str, logs: Vec<LogAt>) -> Manifest {
    Manifest {
        format: backup_file::FORMAT.into(),
        zhifa_version: env!("CARGO_PKG_VERSION").into(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        database: database.into(),
        members: Vec::new(),
        logs,
    }
}

/// The staged keys and templates as (member name, file).
fn members(staging: &Path, keys: &[String], templates: &[String]) -> Vec<(String, PathBuf)> {
    let keys = keys
        .iter()
        .map(|k| (format!("keys/{k}"), staging.join("keys").join(k)));
    let templates = templates
        .iter()
        .map(|t| (format!("templates/{t}"), staging.join("templates").join(t)));
    keys.chain(templates).collect()
}

/// Writes the backup file under a temporary name beside `out` (owner-only), reads it
/// back to check every member against the manifest, and only then renames it to `out`.
/// Returns its size.
fn write_file(
    out: &Path,
    dir: &Path,
    members: &[(String, PathBuf)],
    manifest: Manifest,
) -> anyhow::Result<u64> {
    let cannot = || {
        format!(
            "无法写入备份文件 / cannot write the backup file {}",
            out.display()
        )
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(cannot)?;
    let (file, tmp_path) = tmp.into_parts();
    let mut writer = Writer::new(file);
    for (name, path) in members {
        writer.add_file(name, path)?;
    }
    let file = writer.finish(manifest).with_context(cannot)?;
    file.sync_all().with_context(cannot)?;
    let size = file.metadata()?.len();
    drop(file);
    let mut check = backup_file::Backup::open(&tmp_path)?;
    check.check()?;
    tmp_path.persist(out).with_context(cannot)?;
    sync_dir(dir);
    Ok(size)
}

/// Syncs a directory so a rename or a new file in it survives a power loss (best effort:
/// not every file system can).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A new owner-only file (0600 whatever the umask).
pub fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let f = options
        .open(path)
        .with_context(|| format!("无法创建 / cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// A new owner-only directory (0700 whatever the umask).
pub fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir(path)
        .with_context(|| format!("无法创建目录 / cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn copy_private(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut src = std::fs::File::open(from)
        .with_context(|| format!("无法读取 / cannot read {}", from.display()))?;
    let mut dst = create_private(to)?;
    std::io::copy(&mut src, &mut dst)
        .with_context(|| format!("无法复制 / cannot copy {}", from.display()))?;
    Ok(())
}

/// Copies the key store's own files — `*.key`, `*.signed`, `*.legacy` — and not the
/// temporaries it renames into place. Each is replaced whole by a rename, so opening it
/// reads one version. Returns their names.
fn copy_keys(from: &Path, to: &Path) -> anyhow::Result<Vec<String>> {
    create_private_dir(to)?;
    let mut names = Vec::new();
    let entries = std::fs::read_dir(from).with_context(|| {
        format!(
            "无法读取密钥目录 / cannot read the key directory {}",
            from.display()
        )
    })?;
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        let ours = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("key" | "signed" | "legacy")
        );
        if !ours || !path.is_file() {
            continue;
        }
        copy_private(&path, &to.join(&name))?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// Copies the administrator's templates (every file under the directory, if it exists).
/// Returns their paths relative to it, `/`-separated.
fn copy_templates(from: &Path, to: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    if !from.is_dir() {
        return Ok(names);
    }
    create_private_dir(to)?;
    copy_tree(from, to, "", &mut names)?;
    names.sort();
    Ok(names)
}

fn copy_tree(from: &Path, to: &Path, prefix: &str, names: &mut Vec<String>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(from)
        .with_context(|| format!("无法读取 / cannot read {}", from.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().into_string().map_err(|n| {
            anyhow!(
                "模板文件名不是 UTF-8 / a template's name is not UTF-8: {}",
                Path::new(&n).display()
            )
        })?;
        let member = format!("{prefix}{name}");
        // Only real directories are entered (a link to a directory could loop); a link
        // to a file is copied as the file.
        if entry.file_type()?.is_dir() {
            create_private_dir(&to.join(&name))?;
            copy_tree(&path, &to.join(&name), &format!("{member}/"), names)?;
        } else if path.is_file() {
            copy_private(&path, &to.join(&name))?;
            names.push(member);
        }
    }
    Ok(())
}
