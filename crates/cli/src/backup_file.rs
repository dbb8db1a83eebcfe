//! The backup file that `zhifa backup` writes and `zhifa restore` reads: a ZIP holding the
//! database copy (`zhifa.db`), the key directory (`keys/…`), the administrator's document
//! templates (`templates/…`) and a manifest (`zhifa-backup.json`) that names every other
//! member with its size and SHA-256.
//!
//! The hashes find a damaged or altered file before anything is restored. They do not
//! stop a forger, who could rewrite the manifest as well: against that stand the signed
//! checkpoints, `zhifa verify` and witnesses.

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "zhifa-backup.json";
pub const FORMAT: &str = "zhifa-backup/1";
/// The database copy's member name (SQLite installations only).
pub const DATABASE: &str = "zhifa.db";
/// `Manifest::database` of a SQLite installation, whose copy is in the file, and of a
/// PostgreSQL one, whose database is dumped with `pg_dump` beside it.
pub const SQLITE: &str = "sqlite";
pub const POSTGRESQL: &str = "postgresql";

/// Bound on the manifest read before its own checks (it names members, not data).
const MAX_MANIFEST: u64 = 16 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub zhifa_version: String,
    /// When the backup was taken (RFC 3339, UTC).
    pub created_at: String,
    /// `sqlite` or `postgresql`.
    pub database: String,
    /// Every member but the manifest.
    pub members: Vec<Member>,
    /// Each log as it stands in the copy (on PostgreSQL: just after the keys were taken —
    /// the `pg_dump` made next holds at least this much).
    pub logs: Vec<LogAt>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Member {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogAt {
    pub origin: String,
    pub size: u64,
    pub root: String,
}

/// Where a member goes when restored.
#[derive(Debug, PartialEq, Eq)]
pub enum Place {
    Database,
    /// A file of the key directory (one name, no directories).
    Key(String),
    /// A file under the templates directory (a relative path of plain names).
    Template(PathBuf),
}

/// The place of a member name, or `None` for a name a backup never holds — a path
/// leaving its directory, an absolute path, an unknown top-level name.
pub fn place(name: &str) -> Option<Place> {
    let plain = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && !part.contains('\\')
            && !part.contains('\0')
    };
    if name == DATABASE {
        return Some(Place::Database);
    }
    if let Some(key) = name.strip_prefix("keys/") {
        return (plain(key) && !key.contains('/')).then(|| Place::Key(key.to_owned()));
    }
    if let Some(rest) = name.strip_prefix("templates/") {
        let parts: Vec<&str> = rest.split('/').collect();
        return parts
            .iter()
            .all(|p| plain(p))
            .then(|| Place::Template(parts.iter().collect()));
    }
    None
}

/// Passes bytes on to `W`, counting them and hashing them with SHA-256.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (W, u64, String) {
        let digest = self.hash.finalize();
        (
            self.inner,
            self.size,
            zhifa_ledger::hash::to_hex(digest.as_slice()),
        )
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a backup file member by member, hashing each as it is packed.
pub struct Writer {
    zip: zip::ZipWriter<File>,
    members: Vec<Member>,
    when: zip::DateTime,
}

impl Writer {
    pub fn new(out: File) -> Writer {
        use chrono::{Datelike, Timelike};
        let now = chrono::Local::now();
        let when = zip::DateTime::from_date_and_time(
            now.year().clamp(1980, 2107) as u16,
            now.month() as u8,
            now.day() as u8,
            now.hour() as u8,
            now.minute() as u8,
            now.second() as u8,
        )
        .unwrap_or_default();
        Writer {
            zip: zip::ZipWriter::new(out),
            members: Vec::new(),
            when,
        }
    }

    /// Packs the file at `path` as member `name`.
    pub fn add_file(&mut self, name: &str, path: &Path) -> anyhow::Result<()> {
        debug_assert!(place(name).is_some(), "{name}");
        let mut f = File::open(path)
            .with_context(|| format!("无法读取 / cannot read {}", path.display()))?;
        let size = f.metadata()?.len();
        // The fastest level: a database is mostly hashes and already-compressed files
        // (PDFs, photos, video), which the default level shrinks little more for much
        // more time (1 M entries: 7 % larger, 7 s instead of 9.7 s for the whole backup;
        // BENCHMARKS.md, "Backup and restore").
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .last_modified_time(self.when)
            .unix_permissions(0o600)
            .large_file(size >= u64::from(u32::MAX));
        self.zip
            .start_file(name, options)
            .with_context(|| format!("无法写入备份 / cannot write the backup: {name}"))?;
        let mut sink = Hashing::new(&mut self.zip);
        std::io::copy(&mut f, &mut sink)
            .with_context(|| format!("无法写入备份 / cannot write the backup: {name}"))?;
        let (_, size, sha256) = sink.finish();
        self.members.push(Member {
            path: name.to_owned(),
            size,
            sha256,
        });
        Ok(())
    }

    /// Adds the manifest, naming every member packed, and ends the ZIP.
    pub fn finish(mut self, mut manifest: Manifest) -> anyhow::Result<File> {
        manifest.members = std::mem::take(&mut self.members);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(self.when)
            .unix_permissions(0o600);
        self.zip.start_file(MANIFEST, options)?;
        self.zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
        Ok(self.zip.finish()?)
    }
}

/// A backup file opened for restoring: its manifest read, and its members found to be
/// exactly the ones the manifest names, each once, each with a name a backup may hold.
pub struct Backup {
    zip: zip::ZipArchive<File>,
    pub manifest: Manifest,
}

impl Backup {
    pub fn open(path: &Path) -> anyhow::Result<Backup> {
        let f = File::open(path)
            .with_context(|| format!("无法读取备份文件 / cannot read {}", path.display()))?;
        let damaged = || {
            format!(
                "不是完整的 zhifa 备份文件（文件已损坏或不完整）/ not a complete zhifa backup (damaged or truncated): {}",
                path.display()
            )
        };
        let mut zip = zip::ZipArchive::new(f).with_context(damaged)?;
        let mut names = std::collections::BTreeSet::new();
        for i in 0..zip.len() {
            let entry = zip.by_index_raw(i).with_context(damaged)?;
            let name = entry
                .name()
                .map_err(|e| anyhow!("备份中的文件名无效 / bad member name: {e}"))?
                .to_string();
            if !names.insert(name.clone()) {
                bail!("备份中有重名文件 / the backup holds {name} twice");
            }
        }
        let manifest: Manifest = {
            let entry = zip.by_name(MANIFEST).map_err(|_| {
                anyhow!(
                    "备份中没有清单 {MANIFEST}，不是 zhifa 备份 / no manifest: not a zhifa backup"
                )
            })?;
            let mut text = Vec::new();
            entry
                .take(MAX_MANIFEST)
                .read_to_end(&mut text)
                .with_context(|| format!("备份清单已损坏 / damaged member: {MANIFEST}"))?;
            serde_json::from_slice(&text)
                .with_context(|| format!("备份清单格式错误 / malformed manifest {MANIFEST}"))?
        };
        if manifest.format != FORMAT {
            bail!(
                "不支持的备份格式 {}（本程序读 {FORMAT}）/ unsupported backup format {}",
                manifest.format,
                manifest.format
            );
        }
        if manifest.database != SQLITE && manifest.database != POSTGRESQL {
            bail!(
                "备份清单中的数据库类型未知 / unknown database kind in the manifest: {}",
                manifest.database
            );
        }
        names.remove(MANIFEST);
        for m in &manifest.members {
            if place(&m.path).is_none() {
                bail!(
                    "备份清单中有不允许的路径 / the manifest names a path a backup never holds: {}",
                    m.path
                );
            }
            if !names.remove(&m.path) {
                bail!(
                    "备份中缺少文件 / the backup lacks a member the manifest names: {}",
                    m.path
                );
            }
        }
        if let Some(extra) = names.into_iter().next() {
            bail!(
                "备份中有清单未列出的文件 / the backup holds a member the manifest does not name: {extra}"
            );
        }
        let has_db = manifest.members.iter().any(|m| m.path == DATABASE);
        if has_db != (manifest.database == SQLITE) {
            bail!(
                "备份清单与内容不符：数据库副本 / the manifest and the members disagree about the database copy"
            );
        }
        Ok(Backup { zip, manifest })
    }

    /// Reads every member and checks its size and SHA-256 against the manifest; names the
    /// first member that differs. Writes nothing.
    pub fn check(&mut self) -> anyhow::Result<()> {
        for i in 0..self.manifest.members.len() {
            let name = self.manifest.members[i].path.clone();
            self.copy_member(&name, std::io::sink())?;
        }
        Ok(())
    }

    /// Writes member `name` to a new file `dest` (never over an existing one), owner-only
    /// (0600 whatever the umask), synced; checked against the manifest as it is written.
    pub fn extract(&mut self, name: &str, dest: &Path) -> anyhow::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let f = options
            .open(dest)
            .with_context(|| format!("无法创建 / cannot create {}", dest.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let written = self.copy_member(name, f).and_then(|f| {
            f.sync_all()
                .with_context(|| format!("无法写入 / cannot write {}", dest.display()))
        });
        if written.is_err() {
            // The file is ours (created just now): a damaged member leaves nothing.
            let _ = std::fs::remove_file(dest);
        }
        written
    }

    /// Copies member `name` into `out`, checking it against the manifest.
    fn copy_member<W: Write>(&mut self, name: &str, out: W) -> anyhow::Result<W> {
        let expected = self
            .manifest
            .members
            .iter()
            .find(|m| m.path == name)
            .ok_or_else(|| anyhow!("备份清单中没有 / not in the manifest: {name}"))?;
        let (want_size, want_sha) = (expected.size, expected.sha256.clone());
        let damaged = || format!("备份文件已损坏：{name} / the backup is damaged: {name}");
        let entry = self.zip.by_name(name).with_context(damaged)?;
        // Never unpack more than the manifest promises (a member that inflates beyond it
        // is refused, not written out).
        let mut limited = entry.take(want_size.saturating_add(1));
        let mut sink = Hashing::new(out);
        std::io::copy(&mut limited, &mut sink).with_context(damaged)?;
        let (out, size, sha256) = sink.finish();
        if size != want_size || sha256 != want_sha {
            bail!(
                "备份文件已损坏或被改动：{name} 与清单记录的 SHA-256 不符 / the backup is damaged or altered: {name} does not match its SHA-256 in the manifest"
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_stay_inside_their_directories() {
        assert_eq!(place("zhifa.db"), Some(Place::Database));
        assert_eq!(
            place("keys/zhifa_zhutang.key"),
            Some(Place::Key("zhifa_zhutang.key".into()))
        );
        assert_eq!(
            place("templates/a/b.toml"),
            Some(Place::Template(PathBuf::from("a/b.toml")))
        );
        for bad in [
            "../zhifa.db",
            "/etc/passwd",
            "keys/../x",
            "keys/a/b",
            "keys/",
            "keys/..",
            "templates/../../x",
            "templates//x",
            "templates/a\\..\\x",
            "zhifa.db-wal",
            "other",
        ] {
            assert_eq!(place(bad), None, "{bad}");
        }
    }
}
