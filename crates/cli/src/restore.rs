//! `zhifa restore FILE --data DIR`: puts a backup back into an empty or absent directory,
//! never over anything. Every member is checked against the manifest before the first
//! byte is written; directories are owner-only (0700) and files 0600 whatever the umask;
//! the restored installation is then checked as the backup was.

use crate::backup::{self, check_installation, create_private_dir, print_logs, sync_dir};
use crate::backup_file::{self, Backup, Place};
use crate::config::{Database, Settings};
use anyhow::{anyhow, bail};
use std::path::{Path, PathBuf};

pub async fn run(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let mut b = Backup::open(file)?;
    let sqlite = b.manifest.database == backup_file::SQLITE;
    let data = match (&settings.database, sqlite) {
        (Some(Database::DataDir(d)), true) => Some(d.clone()),
        (_, true) => bail!(
            "这是 SQLite 安装的备份：请用 --data DIR 指定恢复到的（空）目录 / this is a backup of a SQLite installation: restore it with --data DIR (an empty or new directory)"
        ),
        (Some(Database::DataDir(_)), false) => bail!(
            "这是 PostgreSQL 安装的备份（只有密钥目录）：请用 --key-dir DIR 指定恢复密钥的（空）目录，数据库用 pg_restore 恢复 / this backup of a PostgreSQL installation holds the key directory only: restore it with --key-dir DIR, and the database with pg_restore"
        ),
        (_, false) => None,
    };
    let key_dir = settings.key_dir.clone().ok_or_else(|| {
        anyhow!(
            "请用 --key-dir 指定恢复密钥的（空）目录 / give the (empty or new) directory for the keys with --key-dir"
        )
    })?;
    // Checked before any member is read or anything written.
    let mut targets: Vec<PathBuf> = data.iter().cloned().collect();
    targets.push(key_dir.clone());
    for t in &targets {
        vacant(t)?;
    }
    b.check()?;
    println!(
        "备份文件完好 / the backup file is intact: {} 个文件 members, zhifa {}, {}",
        b.manifest.members.len(),
        b.manifest.zhifa_version,
        b.manifest.created_at
    );
    let mut made = Made::default();
    if let Err(e) = unpack(&mut b, data.as_deref(), &key_dir, &mut made) {
        made.undo();
        return Err(e);
    }
    let Some(data) = data else {
        println!(
            "已恢复密钥目录 / key directory restored: {}",
            key_dir.display()
        );
        println!(
            "下一步：用 pg_restore 恢复与此备份配对的数据库导出（在此备份之后用 pg_dump 导出的那一份），然后\n\
             \x20   zhifa verify --database-url \"$ZHIFA_DATABASE_URL\" --key-dir {}\n\
             next: pg_restore the dump taken right after this backup, then run zhifa verify as above.",
            key_dir.display()
        );
        return Ok(());
    };
    let mut checked = check_installation(&data.join(backup_file::DATABASE), &key_dir).await?;
    // The manifest describes the copy it came with.
    if !checked.heads.is_empty() && backup::logs_at(&checked.heads) != b.manifest.logs {
        checked.problems.push(
            "恢复的数据库中的日志与备份清单记录的不同 / the restored logs differ from those the manifest records"
                .into(),
        );
    }
    if !checked.problems.is_empty() {
        for p in &checked.problems {
            println!("失败 / FAILED: {p}");
        }
        bail!(
            "文件已按备份恢复，但检查未通过 / the files were restored as backed up, but the installation failed its check"
        );
    }
    println!("已恢复 / restored into {}", data.display());
    println!("  日志 / logs:");
    print_logs(&checked.heads);
    println!(
        "通过 / OK —— 启动 / start: zhifa serve --data {}",
        data.display()
    );
    Ok(())
}

/// Refuses a directory that exists and is not empty (or is not a directory).
fn vacant(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "目录不为空：{}。恢复只写入空目录或尚不存在的目录，不覆盖任何文件 / {} is not empty: restore writes only into an empty or new directory and never overwrites",
                    dir.display(),
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => bail!(
            "无法使用目录 / cannot use {} as the target: {e}",
            dir.display()
        ),
    }
}

/// What the restore created, so that a failure part-way leaves nothing behind.
#[derive(Default)]
struct Made {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Made {
    /// Makes `dir` owner-only: created when absent (and then removed by `undo`), or, found
    /// empty, restricted.
    fn dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        if dir.is_dir() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
            return Ok(());
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow!("无法创建目录 / cannot create {}: {e}", parent.display()))?;
        }
        create_private_dir(dir)?;
        self.dirs.push(dir.to_owned());
        Ok(())
    }

    fn undo(&self) {
        for f in self.files.iter().rev() {
            let _ = std::fs::remove_file(f);
        }
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn unpack(
    b: &mut Backup,
    data: Option<&Path>,
    key_dir: &Path,
    made: &mut Made,
) -> anyhow::Result<()> {
    if let Some(d) = data {
        made.dir(d)?;
    }
    made.dir(key_dir)?;
    let names: Vec<String> = b.manifest.members.iter().map(|m| m.path.clone()).collect();
    for name in names {
        let dest = match (backup_file::place(&name), data) {
            (Some(Place::Database), Some(d)) => d.join(backup_file::DATABASE),
            (Some(Place::Key(k)), _) => key_dir.join(k),
            (Some(Place::Template(rel)), Some(d)) => {
                // Directories on the way, each owner-only.
                let mut at = d.join("templates");
                made.dir(&at)?;
                if let Some(parent) = rel.parent() {
                    for part in parent.components() {
                        at.push(part);
                        made.dir(&at)?;
                    }
                }
                d.join("templates").join(rel)
            }
            _ => bail!("备份中有无法恢复的文件 / a member cannot be restored here: {name}"),
        };
        b.extract(&name, &dest)?;
        made.files.push(dest.clone());
        if let Some(parent) = dest.parent() {
            sync_dir(parent);
        }
    }
    if let Some(d) = data {
        sync_dir(d);
        if let Some(parent) = d.parent() {
            sync_dir(parent);
        }
    }
    Ok(())
}
