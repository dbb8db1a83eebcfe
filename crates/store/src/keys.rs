//! Log signing keys: private keys live in files with owner-only permissions, never in the
//! database; the database holds the public verifier keys, so every node and every
//! verifier can check checkpoints.
//!
//! A key file is named after the log's origin (`zhifa_zhutang.key`) and holds one line:
//! `ed25519 <hex secret>` or `sm2 <hex secret>`. Rotation renames the old file to
//! `<name>.<timestamp>.retired` and publishes the new key; old checkpoints stay
//! verifiable with the retired public key kept in the database.

use crate::db::Store;
use crate::error::StoreError;
use crate::ledger::LogHead;
use crate::time::now_ms;
use std::io::Write;
use std::path::{Path, PathBuf};
use zhifa_ledger::HashAlg;
use zhifa_ledger::note::{Checkpoint, NoteSigner, sign};

#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

fn io(e: std::io::Error, what: &Path) -> StoreError {
    StoreError::Keys(format!("{}：{e}", what.display()))
}

/// A record of a log head beside the keys (`<size> <hex root>`): what the signer signed
/// last, or what a witness cosigned last. `None` when there is none.
pub(crate) fn read_head_record(
    path: &Path,
) -> Result<Option<(u64, zhifa_ledger::Hash)>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e, path)),
    };
    let bad = || StoreError::Keys(format!("{}：格式错误", path.display()));
    let (size, root) = text.trim().split_once(' ').ok_or_else(bad)?;
    let size = size.parse().map_err(|_| bad())?;
    let root = zhifa_ledger::hash::from_hex(root)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(bad)?;
    Ok(Some((size, root)))
}

/// Writes a head record (owner-only, to a temporary file, synced, then renamed), so that a
/// crash leaves the old record or the new one, never half of one.
pub(crate) fn write_head_record(
    path: &Path,
    size: u64,
    root: &zhifa_ledger::Hash,
) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = crate::files::create_private(&tmp, true).map_err(|e| io(e, &tmp))?;
    writeln!(f, "{size} {}", zhifa_ledger::hash::to_hex(root)).map_err(|e| io(e, &tmp))?;
    f.sync_all().map_err(|e| io(e, &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| io(e, path))
}

impl KeyStore {
    /// Opens (creating, owner-only) the key directory.
    pub fn open(dir: &Path) -> Result<KeyStore, StoreError> {
        crate::files::private_dir(dir).map_err(|e| io(e, dir))?;
        // Files written by an earlier version or by hand are made owner-only too.
        for entry in std::fs::read_dir(dir).map_err(|e| io(e, dir))? {
            let path = entry.map_err(|e| io(e, dir))?.path();
            if path.is_file() {
                crate::files::tighten(&path).map_err(|e| io(e, &path))?;
            }
        }
        Ok(KeyStore {
            dir: dir.to_owned(),
        })
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, origin: &str) -> PathBuf {
        let safe: String = origin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.key"))
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        self.path(origin).with_extension("signed")
    }

    /// The last (size, root) this key store signed for a log.
    pub fn last_signed(
        &self,
        origin: &str,
    ) -> Result<Option<(u64, zhifa_ledger::Hash)>, StoreError> {
        read_head_record(&self.state_path(origin))
    }

    /// Records a signed head (written to a temporary file, synced, then renamed).
    fn record_signed(
        &self,
        origin: &str,
        size: u64,
        root: &zhifa_ledger::Hash,
    ) -> Result<(), StoreError> {
        write_head_record(&self.state_path(origin), size, root)
    }

    /// Sets the signer's starting point for a log to a head it did not sign: only after
    /// the loss of what it did sign was accepted and recorded (`Store::rebase_signer`).
    pub fn rebase_signed(
        &self,
        origin: &str,
        size: u64,
        root: &zhifa_ledger::Hash,
    ) -> Result<(), StoreError> {
        self.record_signed(origin, size, root)
    }

    /// Whether this key store holds the entry-authentication key.
    pub fn has_entry_key(&self) -> bool {
        self.dir.join("entry-authentication.key").exists()
    }

    /// The sizes each log had when this installation's entry key was created: entries
    /// below them were written before entry codes existed and may have none. Kept beside
    /// the key, outside the database, so that nobody who can only write the database can
    /// move the line.
    pub fn entry_legacy(&self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let path = self.dir.join("entry-authentication.legacy");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(e) => return Err(io(e, &path)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (origin, size) = l
                    .trim()
                    .rsplit_once(' ')
                    .ok_or_else(|| StoreError::Keys(format!("{}：格式错误", path.display())))?;
                let size = size
                    .parse()
                    .map_err(|_| StoreError::Keys(format!("{}：格式错误", path.display())))?;
                Ok((origin.to_owned(), size))
            })
            .collect()
    }

    /// Records the logs' sizes at the creation of the entry key (see `entry_legacy`).
    pub fn record_entry_legacy(
        &self,
        sizes: &std::collections::HashMap<String, u64>,
    ) -> Result<(), StoreError> {
        let path = self.dir.join("entry-authentication.legacy");
        let tmp = path.with_extension("legacy.tmp");
        let mut f = crate::files::create_private(&tmp, true).map_err(|e| io(e, &tmp))?;
        let mut lines: Vec<_> = sizes.iter().collect();
        lines.sort();
        for (origin, size) in lines {
            writeln!(f, "{origin} {size}").map_err(|e| io(e, &tmp))?;
        }
        f.sync_all().map_err(|e| io(e, &tmp))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(e, &path))
    }

    /// This installation's entry-authentication key (`entry-authentication.key`: 32 random
    /// bytes in hex, owner-only), created on first use. Every node that writes to the
    /// database must hold the same file.
    pub fn entry_key(&self) -> Result<zhifa_ledger::auth::EntryKey, StoreError> {
        let path = self.dir.join("entry-authentication.key");
        let read = |path: &Path| -> Result<Option<zhifa_ledger::auth::EntryKey>, StoreError> {
            match std::fs::read_to_string(path) {
                Ok(text) => zhifa_ledger::hash::from_hex(text.trim())
                    .and_then(|v| <[u8; 32]>::try_from(v).ok())
                    .map(|s| Some(zhifa_ledger::auth::EntryKey::from_secret(s)))
                    .ok_or_else(|| StoreError::Keys(format!("{}：格式错误", path.display()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io(e, path)),
            }
        };
        if let Some(k) = read(&path)? {
            return Ok(k);
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system provides randomness");
        // Written aside and linked into place, so a concurrent creator's key wins whole.
        let tmp = self
            .dir
            .join(format!("entry-authentication.key.{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(|e| io(e, &tmp))?;
        writeln!(f, "{}", zhifa_ledger::hash::to_hex(&secret)).map_err(|e| io(e, &tmp))?;
        f.sync_all().map_err(|e| io(e, &tmp))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(zhifa_ledger::auth::EntryKey::from_secret(secret)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path)?
                .ok_or_else(|| StoreError::Keys(format!("{}：无法读取", path.display()))),
            Err(e) => Err(io(e, &path)),
        }
    }

    /// The current signer of a log, if its key file exists.
    pub fn signer(&self, origin: &str) -> Result<Option<NoteSigner>, StoreError> {
        let path = self.path(origin);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e, &path)),
        };
        let (kind, hex) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| StoreError::Keys(format!("{}：格式错误", path.display())))?;
        let secret: [u8; 32] = zhifa_ledger::hash::from_hex(hex)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| StoreError::Keys(format!("{}：密钥长度错误", path.display())))?;
        let signer = match kind {
            "ed25519" => NoteSigner::ed25519(origin, secret),
            "sm2" => NoteSigner::sm2(origin, secret),
            _ => {
                return Err(StoreError::Keys(format!(
                    "{}：未知算法 {kind}",
                    path.display()
                )));
            }
        }
        .map_err(|e| StoreError::Keys(e.to_string()))?;
        Ok(Some(signer))
    }

    /// Creates a new key for a log (Ed25519 for SHA-256 logs, SM2 for SM3 logs), retiring
    /// the file of the previous one. Returns the signer.
    pub fn generate(&self, origin: &str, alg: HashAlg) -> Result<NoteSigner, StoreError> {
        let (signer, pending) = self.generate_pending(origin, alg)?;
        self.install(origin, &pending)?;
        Ok(signer)
    }

    /// Writes a new key beside the current one without replacing it yet, so that the key
    /// file and the published key never disagree: publish first, then [`KeyStore::install`].
    pub fn generate_pending(
        &self,
        origin: &str,
        alg: HashAlg,
    ) -> Result<(NoteSigner, PathBuf), StoreError> {
        let path = self.path(origin).with_extension("key.new");
        let (kind, signer, secret) = loop {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).expect("the operating system provides randomness");
            let made = match alg {
                HashAlg::Sha256 => NoteSigner::ed25519(origin, secret).map(|s| ("ed25519", s)),
                // An SM2 secret must be below the group order; retry the rare miss.
                HashAlg::Sm3 => NoteSigner::sm2(origin, secret).map(|s| ("sm2", s)),
            };
            if let Ok((kind, s)) = made {
                break (kind, s, secret);
            }
        };
        let _ = std::fs::remove_file(&path);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&path).map_err(|e| io(e, &path))?;
        writeln!(f, "{kind} {}", zhifa_ledger::hash::to_hex(&secret)).map_err(|e| io(e, &path))?;
        f.sync_all().map_err(|e| io(e, &path))?;
        Ok((signer, path))
    }

    /// Makes a pending key the current one. The replaced private key is destroyed: a
    /// retired key must not be able to sign again.
    pub fn install(&self, origin: &str, pending: &Path) -> Result<(), StoreError> {
        let path = self.path(origin);
        std::fs::rename(pending, &path).map_err(|e| io(e, &path))
    }
}

impl Store {
    /// Makes sure a log has a published key whose private half is in `keys`; creates one
    /// when the log has none. Returns `None` when the published key lives elsewhere
    /// (another node signs this log).
    pub async fn log_signer(
        &self,
        head: &LogHead,
        keys: &KeyStore,
    ) -> Result<Option<NoteSigner>, StoreError> {
        let published = self.log_keys(head.log_id).await?;
        let current = published
            .iter()
            .find(|(_, retired)| !retired)
            .map(|(k, _)| k.clone());
        let signer = match keys.signer(&head.origin)? {
            Some(s) => s,
            None if current.is_none() => keys.generate(&head.origin, head.alg)?,
            None => {
                tracing::warn!(log = %head.origin, "no private key for the published key of this log here; not signing");
                return Ok(None);
            }
        };
        match current {
            Some(k) if k == signer.verifier_key() => Ok(Some(signer)),
            Some(_) => {
                tracing::warn!(log = %head.origin, "the key file here is not the published key of this log; not signing");
                Ok(None)
            }
            None => {
                let algorithm = match head.alg {
                    HashAlg::Sha256 => "ed25519",
                    HashAlg::Sm3 => "sm2",
                };
                self.add_log_key(
                    head.log_id,
                    &signer.verifier_key(),
                    algorithm,
                    now_ms(),
                    head.size,
                )
                .await?;
                Ok(Some(signer))
            }
        }
    }

    /// Replaces a log's key: a new private key in `keys`, the old public key retired.
    pub async fn rotate_log_key(&self, log_id: i64, keys: &KeyStore) -> Result<String, StoreError> {
        let head = self.log_head(log_id).await?;
        // Bring the old key's last checkpoint up to date: it may sign nothing later.
        if let Some(old) = self.log_signer(&head, keys).await? {
            self.checkpoint_log(&head, &old, keys).await?;
        }
        let (signer, pending) = keys.generate_pending(&head.origin, head.alg)?;
        let algorithm = match head.alg {
            HashAlg::Sha256 => "ed25519",
            HashAlg::Sm3 => "sm2",
        };
        self.add_log_key(
            log_id,
            &signer.verifier_key(),
            algorithm,
            now_ms(),
            head.size,
        )
        .await?;
        keys.install(&head.origin, &pending)?;
        // The rotation is itself an entry of the log, so the next checkpoint — signed
        // with the new key — covers it.
        let agency = crate::ledger::agency_of(log_id);
        let mut tx = self.write(crate::Actor::System("key-rotation")).await?;
        tx.record_key_rotation(agency, log_id, &signer.verifier_key());
        tx.commit().await?;
        let head = self.log_head(log_id).await?;
        self.checkpoint_log(&head, &signer, keys).await?;
        Ok(signer.verifier_key())
    }

    /// Signs the head of a log — but only a head that extends, consistently, the last one
    /// this key store signed. That record lives beside the key, outside the database, so
    /// someone who can only write the database cannot get a rewritten, truncated or made-up
    /// history signed: the root is recomputed from the stored tree, and a consistency proof
    /// from the stored tree must lead from the last signed root to it.
    async fn checkpoint_log(
        &self,
        head: &LogHead,
        signer: &NoteSigner,
        keys: &KeyStore,
    ) -> Result<bool, StoreError> {
        let refuse = |why: String| {
            StoreError::Corrupt(format!(
                "日志 {} 拒绝签名 / refusing to sign log {}: {why}",
                head.name, head.name
            ))
        };
        // The head as the stored tree gives it, not as the head row says.
        let root = match self.log_root_at(head.log_id, head.alg, head.size).await {
            Ok(r) => r,
            Err(StoreError::Corrupt(_)) => {
                return Err(refuse("stored tree is missing nodes of the head".into()));
            }
            Err(e) => return Err(e),
        };
        if root != head.root {
            return Err(refuse("the head row does not match the stored tree".into()));
        }
        let last = match keys.last_signed(&head.origin)? {
            Some(l) => Some(l),
            // A key store without a record (first run, or restored): start from the
            // newest checkpoint in the database that this very key signed.
            None => self.own_latest_checkpoint(head, signer).await?,
        };
        if let Some((size, last_root)) = last {
            if head.size < size {
                return Err(refuse(format!(
                    "the log shrank from {size} to {}",
                    head.size
                )));
            }
            if head.size == size {
                if root != last_root {
                    return Err(refuse(format!("size {size} now has a different root")));
                }
                if self
                    .latest_checkpoint(head.log_id)
                    .await?
                    .is_some_and(|(s, _)| s >= size)
                {
                    return Ok(false);
                }
            } else if size > 0 {
                let plan = zhifa_ledger::tree::consistency_plan(size, head.size)
                    .map_err(|e| refuse(e.to_string()))?;
                let nodes = self.log_nodes(head.log_id, &plan.nodes()).await?;
                let proof = plan
                    .assemble(head.alg, |id| nodes.get(&id).copied())
                    .map_err(|e| refuse(e.to_string()))?;
                zhifa_ledger::tree::verify_consistency(
                    head.alg, size, head.size, &proof, &last_root, &root,
                )
                .map_err(|_| {
                    refuse(format!(
                        "the log is not an extension of the signed size {size}"
                    ))
                })?;
            }
        }
        // Every entry the signature will newly cover must have been written by a holder of
        // the entry key: a well-formed entry appended with SQL is refused here.
        if let Some(key) = &self.entry_key
            && let Some(why) = self.unauthenticated_entry(head, key, last, &root).await?
        {
            return Err(refuse(why));
        }
        // What is signed must survive a power loss, not only a process crash: SQLite in WAL
        // mode with synchronous=NORMAL syncs the WAL at a checkpoint, so force one first.
        self.make_durable().await?;
        let body = Checkpoint {
            origin: head.origin.clone(),
            size: head.size,
            root,
            extensions: vec![],
        }
        .body();
        let note = sign(&body, &[signer]).map_err(|e| StoreError::Keys(e.to_string()))?;
        self.store_checkpoint(head.log_id, head.size, &note, now_ms())
            .await?;
        keys.record_signed(&head.origin, head.size, &root)?;
        Ok(true)
    }

    /// The first entry in `[from, head.size)` without a genuine authentication code, or
    /// whose leaf in the stored tree is not its hash, described for the refusal.
    async fn unauthenticated_entry(
        &self,
        head: &LogHead,
        key: &zhifa_ledger::auth::EntryKey,
        last: Option<(u64, zhifa_ledger::Hash)>,
        root: &zhifa_ledger::Hash,
    ) -> Result<Option<String>, StoreError> {
        use zhifa_ledger::auth::Authenticity;
        use zhifa_ledger::tree::{CompactRange, fold, frontier_ids};
        let from = last.map(|(s, _)| s).unwrap_or(0);
        // The new root is rebuilt from the last signed head's frontier and the checked
        // entries themselves: stored upper nodes alone could describe other leaves.
        let ids = frontier_ids(from);
        let stored = self.log_nodes(head.log_id, &ids).await?;
        let Some(frontier) = ids
            .iter()
            .map(|id| stored.get(id).copied())
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(Some(format!("frontier nodes of size {from} missing")));
        };
        if let Some((_, last_root)) = last
            && fold(head.alg, &frontier).unwrap_or_else(|| head.alg.empty_root()) != last_root
        {
            return Ok(Some(format!(
                "the stored frontier of size {from} is not the signed head"
            )));
        }
        let mut range = match CompactRange::resume(from, frontier) {
            Ok(r) => r,
            Err(e) => return Ok(Some(format!("frontier of size {from}: {e}"))),
        };
        let mut next = from;
        while next < head.size {
            let to = head.size.min(next + 5_000);
            let rows = self.log_entries_with_codes(head.log_id, next, to).await?;
            let leaves = self.log_node_range(head.log_id, 0, next, to).await?;
            if rows.len() as u64 != to - next || leaves.len() != rows.len() {
                return Ok(Some(format!("entries or leaves missing from {next}")));
            }
            for ((seq, entry, mac), leaf) in rows.into_iter().zip(&leaves) {
                let hash = head.alg.leaf(&entry);
                if seq != next || hash != *leaf {
                    return Ok(Some(format!(
                        "entry {next} is not the leaf of the stored tree"
                    )));
                }
                range.append_with(head.alg, hash, |_, _| {});
                match mac.map(|m| key.check(&entry, &hash, &m)) {
                    Some(Authenticity::Genuine) => {}
                    Some(Authenticity::OtherKey(id)) => {
                        return Ok(Some(format!(
                            "entry {seq} was authenticated by key {}, which this node does not hold",
                            zhifa_ledger::hash::to_hex(&id)
                        )));
                    }
                    // Written before entry codes existed (below the size recorded beside
                    // the key when it was created).
                    None if seq < self.entry_legacy_size(&head.origin) => {}
                    _ => {
                        return Ok(Some(format!(
                            "entry {seq} has no genuine authentication code (written outside zhifa?)"
                        )));
                    }
                }
                next += 1;
            }
        }
        if range.root(head.alg) != *root {
            return Ok(Some(
                "the head's root is not the root of the authenticated entries".into(),
            ));
        }
        Ok(None)
    }

    /// The newest checkpoint in the database that `signer` itself signed, as (size, root).
    async fn own_latest_checkpoint(
        &self,
        head: &LogHead,
        signer: &NoteSigner,
    ) -> Result<Option<(u64, zhifa_ledger::Hash)>, StoreError> {
        let Ok(own) = zhifa_ledger::note::NoteVerifier::parse(&signer.verifier_key()) else {
            return Ok(None);
        };
        let own = [own];
        for (_, note) in self.checkpoints(head.log_id).await?.into_iter().rev() {
            if let Ok((text, _)) = zhifa_ledger::note::open(&note, &own)
                && let Ok(cp) = Checkpoint::parse(text)
            {
                return Ok(Some((cp.size, cp.root)));
            }
        }
        Ok(None)
    }

    /// Signs a checkpoint for every log that grew since its last one. Returns how many;
    /// a log whose head cannot be signed (see `checkpoint_log`) is reported in the error
    /// after the others have been signed.
    pub async fn checkpoint_all(&self, keys: &KeyStore) -> Result<usize, StoreError> {
        let mut n = 0;
        let mut refused = Vec::new();
        for head in self.log_heads().await? {
            match self.log_signer(&head, keys).await? {
                Some(signer) => match self.checkpoint_log(&head, &signer, keys).await {
                    Ok(true) => n += 1,
                    Ok(false) => {}
                    Err(e) => refused.push(e.to_string()),
                },
                None => {
                    tracing::warn!(log = %head.origin, "the published key of this log is not in this key store; not signing")
                }
            }
        }
        if refused.is_empty() {
            Ok(n)
        } else {
            Err(StoreError::Corrupt(refused.join("；")))
        }
    }
}
