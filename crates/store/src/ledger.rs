//! The per-agency Merkle logs in the database: sequencing and integrating entries inside
//! the writing transaction, and reading heads, nodes, entries and checkpoints back.
//!
//! One sequencer per log: appending takes the log's head row first (`FOR UPDATE` on
//! PostgreSQL; SQLite writers are already serialised by `BEGIN IMMEDIATE`), so several
//! app nodes append to one log without gaps or duplicate sequence numbers. Entries are
//! integrated into the tree in the same transaction, so the tree head never lags, never
//! forks and survives a crash at any instant together with the change it records.

use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::log_chunks::{self, ChunkAppends};
use crate::write::Pending;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::BTreeMap;
use zhifa_ledger::entry::{Entry, commitment};
use zhifa_ledger::tree::{CompactRange, NodeId, frontier_ids};
use zhifa_ledger::{Hash, HashAlg};

/// The log of the installation itself (events that belong to no agency).
pub const SYSTEM_LOG: i64 = 0;
pub const SYSTEM_LOG_NAME: &str = "_system";

/// The installation's security log: logins, failures, lockouts, denials and refused
/// requests of every agency ([`zhifa_domain::audit::is_security_event`]). Merkle-logged,
/// signed and verified like the others, but never published: no name reaches it
/// ([`Store::log_id_by_name`]), and only the audit roles read it (the audit trail).
pub const SECURITY_LOG: i64 = -1;
pub const SECURITY_LOG_NAME: &str = "_security";

/// The installation's own logs, created on first use (agencies' logs are made with them).
const INSTALLATION_LOGS: [(i64, &str); 2] = [
    (SECURITY_LOG, SECURITY_LOG_NAME),
    (SYSTEM_LOG, SYSTEM_LOG_NAME),
];

/// The checkpoint origins of the installation's own logs.
pub(crate) fn installation_origins() -> impl Iterator<Item = String> {
    INSTALLATION_LOGS.iter().map(|(_, name)| origin_for(name))
}

/// The log an entry of `agency_id` with `action` goes to.
pub(crate) fn log_for(agency_id: Option<i64>, action: &str) -> i64 {
    if zhifa_domain::audit::is_security_event(action) {
        SECURITY_LOG
    } else {
        agency_id.unwrap_or(SYSTEM_LOG)
    }
}

/// The agency whose log `log_id` is (`None` for the installation's logs).
pub(crate) fn agency_of(log_id: i64) -> Option<i64> {
    INSTALLATION_LOGS
        .iter()
        .all(|(id, _)| *id != log_id)
        .then_some(log_id)
}

/// A log's identity and head.
#[derive(Debug, Clone)]
pub struct LogHead {
    pub log_id: i64,
    pub origin: String,
    pub name: String,
    pub alg: HashAlg,
    pub size: u64,
    pub root: Hash,
}

/// The checkpoint origin line of a log named `name`.
pub fn origin_for(name: &str) -> String {
    format!("zhifa/{name}")
}

fn hash_of(v: Vec<u8>) -> Result<Hash, StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("a stored hash is not 32 bytes".into()))
}

fn head(r: &sqlx::any::AnyRow) -> Result<LogHead, StoreError> {
    let alg: String = r.try_get("hash_alg")?;
    Ok(LogHead {
        log_id: r.try_get("log_id")?,
        origin: r.try_get("origin")?,
        name: r.try_get("name")?,
        alg: HashAlg::from_code(&alg)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown hash algorithm {alg}")))?,
        size: r.try_get::<i64, _>("size")? as u64,
        root: hash_of(r.try_get("root")?)?,
    })
}

/// Creates the (empty) log of a new agency, in the agency's creating transaction.
pub(crate) async fn create_log(
    conn: &mut AnyConnection,
    log_id: i64,
    name: &str,
    alg: HashAlg,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ledger_logs (log_id, origin, name, hash_alg, size, root, created_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6)",
    )
    .bind(log_id)
    .bind(origin_for(name))
    .bind(name.to_owned())
    .bind(alg.code())
    .bind(alg.empty_root().to_vec())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn lock_head(
    conn: &mut AnyConnection,
    backend: Backend,
    log_id: i64,
    now: i64,
) -> Result<LogHead, StoreError> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT log_id, origin, name, hash_alg, size, root FROM ledger_logs WHERE log_id = $1 FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT log_id, origin, name, hash_alg, size, root FROM ledger_logs WHERE log_id = $1"
        }
    };
    if let Some(r) = sqlx::query(sql)
        .bind(log_id)
        .fetch_optional(&mut *conn)
        .await?
    {
        return head(&r);
    }
    let Some((_, name)) = INSTALLATION_LOGS.iter().find(|(id, _)| *id == log_id) else {
        return Err(StoreError::Corrupt(format!("agency {log_id} has no log")));
    };
    // The installation's own logs are created on first use, with the algorithms of the
    // installation's log (which the first agency chose), SHA-256 before there is one;
    // concurrent creators agree.
    let alg: Option<String> =
        sqlx::query_scalar("SELECT hash_alg FROM ledger_logs WHERE log_id = $1")
            .bind(SYSTEM_LOG)
            .fetch_optional(&mut *conn)
            .await?;
    let alg = alg
        .and_then(|a| HashAlg::from_code(&a))
        .unwrap_or(HashAlg::Sha256);
    create_installation_log(conn, log_id, name, alg, now).await?;
    let r = sqlx::query(sql).bind(log_id).fetch_one(&mut *conn).await?;
    head(&r)
}

/// Creates the installation's log with `alg` unless it exists (then nothing changes); the
/// security log follows it when first used.
pub(crate) async fn create_system_log(
    conn: &mut AnyConnection,
    alg: HashAlg,
    now: i64,
) -> Result<(), StoreError> {
    create_installation_log(conn, SYSTEM_LOG, SYSTEM_LOG_NAME, alg, now).await
}

async fn create_installation_log(
    conn: &mut AnyConnection,
    log_id: i64,
    name: &str,
    alg: HashAlg,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ledger_logs (log_id, origin, name, hash_alg, size, root, created_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (log_id) DO NOTHING",
    )
    .bind(log_id)
    .bind(origin_for(name))
    .bind(name.to_owned())
    .bind(alg.code())
    .bind(alg.empty_root().to_vec())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn random_salt() -> Vec<u8> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    salt.to_vec()
}

/// Rows per multi-row INSERT. SQLite looks bound parameters up by name in linear time, so
/// long statements cost quadratically there (measured: 32 rows ≈ 21–26k appends/s, 100 rows
/// 18.9k/s, 4 rows 17.2k/s); PostgreSQL prefers fewer round trips (100 rows: 30.8k/s,
/// 32 rows: 23.7k/s).
fn multi_row_chunk(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 32,
        Backend::Postgres => 100,
    }
}

/// Inserts rows in multi-row statements (fewer round trips for large batches).
pub(crate) async fn insert_many(
    conn: &mut AnyConnection,
    backend: Backend,
    table_and_columns: &str,
    width: usize,
    rows: Vec<Vec<Value>>,
    on_conflict: &str,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(multi_row_chunk(backend)) {
        let mut sql = format!("INSERT INTO {table_and_columns} VALUES ");
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 0..width {
                if j > 0 {
                    sql.push(',');
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        sql.push_str(on_conflict);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    Value::Int(i) => q.bind(*i),
                    Value::OptInt(i) => q.bind(*i),
                    Value::Text(s) => q.bind(s.clone()),
                    Value::Bytes(b) => q.bind(b.clone()),
                    Value::OptBytes(b) => q.bind(b.clone()),
                };
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// One multi-row INSERT of SQLite literals (see `append`).
fn sqlite_insert(table_and_columns: &str, rows: &[Vec<Value>], on_conflict: &str) -> String {
    let mut sql = format!("INSERT INTO {table_and_columns} VALUES ");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                sql.push(',');
            }
            sql.push_str(&v.sqlite_literal());
        }
        sql.push(')');
    }
    sql.push_str(on_conflict);
    sql.push(';');
    sql
}

impl Value {
    fn sqlite_literal(&self) -> String {
        match self {
            Value::Int(i) | Value::OptInt(Some(i)) => i.to_string(),
            Value::OptInt(None) | Value::OptBytes(None) => "NULL".into(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Bytes(b) | Value::OptBytes(Some(b)) => {
                format!("X'{}'", zhifa_ledger::hash::to_hex(b))
            }
        }
    }
}

pub(crate) enum Value {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    Bytes(Vec<u8>),
    OptBytes(Option<Vec<u8>>),
}

/// The frontier (roots of the perfect subtrees) of each log after this process's last
/// append, with the size and root it gives. Used only when the locked head has exactly
/// that size and root — a rolled-back append, or one by another node, leaves a head that
/// does not match, and the frontier is read from the stored tree as before.
#[derive(Debug, Default)]
pub struct FrontierCache(std::sync::Mutex<BTreeMap<i64, Frontier>>);

/// A log's size, root and the frontier that gives them.
type Frontier = (u64, Hash, Vec<Hash>);

impl FrontierCache {
    fn get(&self, head: &LogHead) -> Option<Vec<Hash>> {
        let map = self.0.lock().expect("not poisoned");
        match map.get(&head.log_id) {
            Some((size, root, f)) if *size == head.size && *root == head.root => Some(f.clone()),
            _ => None,
        }
    }

    fn put(&self, log_id: i64, size: u64, root: Hash, frontier: &[Hash]) {
        self.0
            .lock()
            .expect("not poisoned")
            .insert(log_id, (size, root, frontier.to_vec()));
    }
}

/// Sequences and integrates `pending` into their logs, in the caller's transaction.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    frontiers: &FrontierCache,
    entry_key: Option<&zhifa_ledger::auth::EntryKey>,
    actor: &str,
    now: i64,
    pending: Vec<Pending>,
) -> Result<Vec<(i64, u64)>, StoreError> {
    // Logs are locked in ascending id order, so concurrent writers cannot deadlock.
    let mut by_log: BTreeMap<i64, Vec<(usize, Pending)>> = BTreeMap::new();
    for (i, p) in pending.into_iter().enumerate() {
        by_log.entry(p.log_id).or_default().push((i, p));
    }
    let mut ids = Vec::new();
    for (log_id, items) in by_log {
        let head = lock_head(conn, backend, log_id, now).await?;
        let frontier = match frontiers.get(&head) {
            Some(f) => f,
            None => {
                let frontier_nodes = frontier_ids(head.size);
                let stored =
                    log_chunks::load_nodes(conn, log_id, head.alg, &frontier_nodes).await?;
                frontier_nodes
                    .iter()
                    .map(|id| {
                        stored.get(id).copied().ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "log {log_id}: frontier node {id:?} missing"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let mut range = CompactRange::resume(head.size, frontier)
            .map_err(|e| StoreError::Corrupt(format!("log {log_id}: {e}")))?;
        let mut chunks = ChunkAppends::default();
        let mut journal = Vec::new();
        for (i, p) in items {
            let seq = range.size();
            let salt = random_salt();
            let entry = Entry {
                seq,
                time_ms: now,
                agency: head.name.clone(),
                actor: actor.to_owned(),
                action: p.action.to_owned(),
                subject_kind: p.subject_kind.to_owned(),
                subject_id: p.subject_id.clone(),
                commitment: commitment(head.alg, &salt, p.payload.as_bytes()),
            };
            let bytes = entry
                .encode()
                .map_err(|e| StoreError::Corrupt(format!("entry: {e}")))?;
            let leaf = head.alg.leaf(&bytes);
            for (id, h) in range.append(head.alg, leaf) {
                chunks.node(id, &h);
            }
            let mac = entry_key.map(|k| k.code(&leaf));
            chunks.entry(seq, &bytes, mac.as_deref())?;
            // When and by whom are in the entry itself; the journal keeps what finds it.
            journal.push(vec![
                Value::Int(log_id),
                Value::Int(seq as i64),
                Value::OptInt(p.agency_id),
                Value::Text(p.action.to_owned()),
                Value::Text(p.subject_kind.to_owned()),
                Value::Text(p.subject_id),
                Value::Int(i64::from(p.snapshot)),
                Value::Text(p.payload),
                Value::OptBytes(Some(salt)),
                Value::Int(log_chunks::leaf_key(&leaf)),
            ]);
            ids.push((i, (log_id, seq)));
        }
        let root = range.root(head.alg);
        let (entry_rows, hash_rows) = chunks.rows(log_id);
        let (append_entries, append_hashes) = (
            log_chunks::append_entries(backend),
            log_chunks::append_hashes(backend),
        );
        let writes = [
            (
                log_chunks::ENTRY_CHUNK_COLUMNS,
                4,
                entry_rows,
                append_entries.as_str(),
            ),
            (
                "journal (log_id, seq, agency_id, action, subject_kind, subject_id, snapshot, payload, salt, leaf_key)",
                10,
                journal,
                "",
            ),
            (
                log_chunks::HASH_CHUNK_COLUMNS,
                4,
                hash_rows,
                append_hashes.as_str(),
            ),
        ];
        match backend {
            // Each statement through sqlx's SQLite driver is a round trip to its worker
            // thread. From another core those wake-ups, not SQLite, are most of an
            // append's time: the rows and the head go as one script of literals (values
            // are integers, our hashes and bytes as X'..', and text with quotes doubled —
            // SQLite's grammar has no other escape). On the writer's own thread a round
            // trip stays on one core and costs less than parsing the script, so there the
            // prepared statements below are quicker (BENCHMARKS.md, "Transitions").
            Backend::Sqlite
                if !crate::writer::on_writer_thread()
                    && writes.iter().all(|(_, _, rows, _)| rows.len() <= 64) =>
            {
                let mut script = String::new();
                for (table, _, rows, on_conflict) in &writes {
                    if !rows.is_empty() {
                        script.push_str(&sqlite_insert(table, rows, on_conflict));
                    }
                }
                script.push_str(&format!(
                    "UPDATE ledger_logs SET size = {}, root = X'{}' WHERE log_id = {log_id};",
                    range.size(),
                    zhifa_ledger::hash::to_hex(&root)
                ));
                sqlx::raw_sql(AssertSqlSafe(script))
                    .execute(&mut *conn)
                    .await?;
            }
            _ => {
                for (table, width, rows, on_conflict) in writes {
                    insert_many(conn, backend, table, width, rows, on_conflict).await?;
                }
                sqlx::query("UPDATE ledger_logs SET size = $1, root = $2 WHERE log_id = $3")
                    .bind(range.size() as i64)
                    .bind(root.to_vec())
                    .bind(log_id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        frontiers.put(log_id, range.size(), root, range.frontier());
    }
    ids.sort_by_key(|(i, _)| *i);
    Ok(ids.into_iter().map(|(_, id)| id).collect())
}

/// A cache of tree nodes at level 8 and above. A perfect subtree's hash never changes once
/// written, so caching cannot serve a stale value; there are few such nodes (1/128 of the
/// entries), and they are on every proof, so proofs need a handful of index probes fewer.
/// `verify` never reads through it.
#[derive(Debug, Default)]
pub struct NodeCache {
    map: std::sync::Mutex<std::collections::HashMap<(i64, NodeId), Hash>>,
    algs: std::sync::Mutex<std::collections::HashMap<i64, HashAlg>>,
}

const CACHED_FROM_LEVEL: u8 = 8;
const CACHE_LIMIT: usize = 1_000_000;

impl NodeCache {
    fn alg(&self, log_id: i64) -> Option<HashAlg> {
        self.algs.lock().ok()?.get(&log_id).copied()
    }

    fn set_alg(&self, log_id: i64, alg: HashAlg) {
        if let Ok(mut m) = self.algs.lock() {
            m.insert(log_id, alg);
        }
    }

    fn get(&self, log_id: i64, id: NodeId) -> Option<Hash> {
        self.map.lock().ok()?.get(&(log_id, id)).copied()
    }

    fn put(&self, log_id: i64, found: &BTreeMap<NodeId, Hash>) {
        if let Ok(mut m) = self.map.lock() {
            if m.len() > CACHE_LIMIT {
                m.clear();
            }
            for (id, h) in found {
                if id.level >= CACHED_FROM_LEVEL {
                    m.insert((log_id, *id), *h);
                }
            }
        }
    }
}

impl Store {
    pub async fn log_heads(&self) -> Result<Vec<LogHead>, StoreError> {
        let rows = sqlx::query(
            "SELECT log_id, origin, name, hash_alg, size, root FROM ledger_logs ORDER BY log_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(head).collect()
    }

    pub async fn log_head(&self, log_id: i64) -> Result<LogHead, StoreError> {
        let r = sqlx::query(
            "SELECT log_id, origin, name, hash_alg, size, root FROM ledger_logs WHERE log_id = $1",
        )
        .bind(log_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        head(&r)
    }

    /// Tree nodes by id (proofs), upper levels from the cache; a node not (yet) in the
    /// stored tree is left out.
    pub async fn log_nodes(
        &self,
        log_id: i64,
        ids: &[NodeId],
    ) -> Result<BTreeMap<NodeId, Hash>, StoreError> {
        let mut found = BTreeMap::new();
        let mut missing = Vec::new();
        for &id in ids {
            match self.node_cache.get(log_id, id) {
                Some(h) => {
                    found.insert(id, h);
                }
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            let alg = self.log_alg(log_id).await?;
            let mut conn = self.pool.acquire().await?;
            let loaded = log_chunks::load_nodes(&mut conn, log_id, alg, &missing).await?;
            self.node_cache.put(log_id, &loaded);
            found.extend(loaded);
        }
        Ok(found)
    }

    /// The index of the entry whose leaf hash is `hash`, if any. The journal's leaf key
    /// narrows the search; the stored tree decides.
    pub async fn leaf_index(&self, log_id: i64, hash: &[u8]) -> Result<Option<u64>, StoreError> {
        let Ok(hash) = Hash::try_from(hash) else {
            return Ok(None);
        };
        let candidates: Vec<i64> = sqlx::query_scalar(
            "SELECT seq FROM journal WHERE log_id = $1 AND leaf_key = $2 ORDER BY seq",
        )
        .bind(log_id)
        .bind(log_chunks::leaf_key(&hash))
        .fetch_all(&self.pool)
        .await?;
        for seq in candidates.into_iter().filter(|s| *s >= 0) {
            let id = NodeId {
                level: 0,
                index: seq as u64,
            };
            if self.log_nodes(log_id, &[id]).await?.get(&id) == Some(&hash) {
                return Ok(Some(seq as u64));
            }
        }
        Ok(None)
    }

    /// The log published under `name`: an agency's slug, or `_system` for the
    /// installation's own log.
    pub async fn log_id_by_name(&self, name: &str) -> Result<i64, StoreError> {
        if name == SYSTEM_LOG_NAME {
            return Ok(SYSTEM_LOG);
        }
        Ok(self.agency_by_slug(name).await?.id)
    }

    /// The tree head of the first `size` entries, computed from the stored tree (not from
    /// the head row, which it is used to check).
    pub async fn log_root_at(
        &self,
        log_id: i64,
        alg: HashAlg,
        size: u64,
    ) -> Result<Hash, StoreError> {
        let ids = frontier_ids(size);
        let nodes = self.log_nodes(log_id, &ids).await?;
        let parts = ids
            .iter()
            .map(|id| nodes.get(id).copied())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "log {log_id}: stored tree is missing nodes of size {size}"
                ))
            })?;
        Ok(zhifa_ledger::tree::fold(alg, &parts).unwrap_or_else(|| alg.empty_root()))
    }

    /// The bytes of a C2SP tile or entry bundle (the caller checks it is available).
    pub async fn tile_data(
        &self,
        log_id: i64,
        tile: &zhifa_ledger::tiles::TileRef,
    ) -> Result<Vec<u8>, StoreError> {
        use zhifa_ledger::tiles::{self, TILE_WIDTH};
        let width = tile.width.map(u64::from).unwrap_or(TILE_WIDTH);
        let from = tile.index * TILE_WIDTH;
        match tile.level {
            Some(level) => {
                let hashes = self
                    .log_node_range(log_id, level * 8, from, from + width)
                    .await?;
                if hashes.len() as u64 != width {
                    return Err(StoreError::Corrupt(format!(
                        "log {log_id}: tile nodes missing"
                    )));
                }
                Ok(hashes.concat())
            }
            None => {
                let entries = self.log_entries(log_id, from, from + width).await?;
                if entries.len() as u64 != width {
                    return Err(StoreError::Corrupt(format!(
                        "log {log_id}: entries missing"
                    )));
                }
                tiles::bundle(&entries.into_iter().map(|(_, e)| e).collect::<Vec<_>>()).ok_or_else(
                    || StoreError::Corrupt(format!("log {log_id}: entry too long for a bundle")),
                )
            }
        }
    }

    /// Nodes of one level with indices in `[from, to)` (a tile row).
    pub async fn log_node_range(
        &self,
        log_id: i64,
        level: u8,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        if log_chunks::is_stored(level) {
            let mut conn = self.pool.acquire().await?;
            return log_chunks::node_range(&mut conn, log_id, level, from, to).await;
        }
        let ids: Vec<NodeId> = (from..to).map(|index| NodeId { level, index }).collect();
        let nodes = self.log_nodes(log_id, &ids).await?;
        Ok(ids.iter().map_while(|id| nodes.get(id).copied()).collect())
    }

    /// Canonical entry bytes with sequence numbers in `[from, to)`.
    pub async fn log_entries(
        &self,
        log_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .log_entries_with_codes(log_id, from, to)
            .await?
            .into_iter()
            .map(|(seq, entry, _)| (seq, entry))
            .collect())
    }

    /// The same, with each entry's authentication code (`None`: written before codes).
    pub(crate) async fn log_entries_with_codes(
        &self,
        log_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<log_chunks::StoredEntry>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        log_chunks::entries(&mut conn, log_id, from, to).await
    }

    /// The entries at the given sequence numbers (each chunk read once, runs of
    /// consecutive chunks in one query).
    pub(crate) async fn log_entries_at(
        &self,
        log_id: i64,
        seqs: &[u64],
    ) -> Result<BTreeMap<u64, Vec<u8>>, StoreError> {
        let wanted: std::collections::BTreeSet<u64> = seqs.iter().copied().collect();
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for c in wanted.iter().map(|s| log_chunks::chunk_of(*s).0) {
            match runs.last_mut() {
                Some((_, end)) if *end >= c => *end = c + 1,
                _ => runs.push((c, c + 1)),
            }
        }
        let mut conn = self.pool.acquire().await?;
        let mut out = BTreeMap::new();
        for (first, end) in runs {
            let (from, to) = (first * log_chunks::CHUNK, end * log_chunks::CHUNK);
            for (seq, entry, _) in log_chunks::entries(&mut conn, log_id, from, to).await? {
                if wanted.contains(&seq) {
                    out.insert(seq, entry);
                }
            }
        }
        Ok(out)
    }

    /// A log's hash algorithm (fixed when the log is created, so cached).
    pub(crate) async fn log_alg(&self, log_id: i64) -> Result<HashAlg, StoreError> {
        if let Some(alg) = self.node_cache.alg(log_id) {
            return Ok(alg);
        }
        let alg = self.log_head(log_id).await?.alg;
        self.node_cache.set_alg(log_id, alg);
        Ok(alg)
    }

    /// The newest signed checkpoint of a log.
    pub async fn latest_checkpoint(
        &self,
        log_id: i64,
    ) -> Result<Option<(u64, String)>, StoreError> {
        let r = sqlx::query(
            "SELECT size, note FROM ledger_checkpoints WHERE log_id = $1 ORDER BY size DESC LIMIT 1",
        )
        .bind(log_id)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| Ok((r.try_get::<i64, _>("size")? as u64, r.try_get("note")?)))
            .transpose()
    }

    /// Every checkpoint of a log, oldest first.
    pub async fn checkpoints(&self, log_id: i64) -> Result<Vec<(u64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT size, note FROM ledger_checkpoints WHERE log_id = $1 ORDER BY size",
        )
        .bind(log_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get::<i64, _>("size")? as u64, r.try_get("note")?)))
            .collect()
    }

    /// Stores a signed checkpoint (a second node signing the same size is a no-op).
    pub async fn store_checkpoint(
        &self,
        log_id: i64,
        size: u64,
        note: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ledger_checkpoints (log_id, size, note, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (log_id, size) DO NOTHING",
        )
        .bind(log_id)
        .bind(size as i64)
        .bind(note.to_owned())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Public keys of a log with the size each was retired at (`None`: current), oldest
    /// first.
    pub async fn log_key_history(
        &self,
        log_id: i64,
    ) -> Result<Vec<(String, Option<u64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT verifier_key, retired_at_size FROM ledger_keys WHERE log_id = $1 ORDER BY id",
        )
        .bind(log_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get("verifier_key")?,
                    r.try_get::<Option<i64>, _>("retired_at_size")?
                        .map(|s| s as u64),
                ))
            })
            .collect()
    }

    /// Public keys of a log: (verifier key, retired?).
    pub async fn log_keys(&self, log_id: i64) -> Result<Vec<(String, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT verifier_key, retired_at FROM ledger_keys WHERE log_id = $1 ORDER BY id",
        )
        .bind(log_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get("verifier_key")?,
                    r.try_get::<Option<i64>, _>("retired_at")?.is_some(),
                ))
            })
            .collect()
    }

    /// Publishes a new key for a log and retires the previous ones (old checkpoints stay
    /// verifiable with the retired keys).
    pub async fn add_log_key(
        &self,
        log_id: i64,
        verifier_key: &str,
        algorithm: &str,
        now: i64,
        retire_at_size: u64,
    ) -> Result<(), StoreError> {
        let _turn = self.sqlite_turn().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE ledger_keys SET retired_at = $1, retired_at_size = $3 WHERE log_id = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(log_id)
        .bind(retire_at_size as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ledger_keys (log_id, verifier_key, algorithm, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(log_id)
        .bind(verifier_key.to_owned())
        .bind(algorithm.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Exports one log as a self-contained bundle (see `zhifa_ledger::bundle`), with the
    /// tiles of its newest checkpoint.
    pub async fn export_bundle(
        &self,
        log_id: i64,
    ) -> Result<zhifa_ledger::bundle::Bundle, StoreError> {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD as B64;
        use zhifa_ledger::bundle::{Bundle, BundleTile, FORMAT, tiles_for};
        use zhifa_ledger::tiles;
        let head = self.log_head(log_id).await?;
        let checkpoints = self.checkpoints(log_id).await?;
        let signed = checkpoints.last().map(|(s, _)| *s).unwrap_or(0);
        let entries: Vec<Vec<u8>> = self
            .log_entries(log_id, 0, signed)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut tiles_out = Vec::new();
        for t in tiles_for(signed) {
            tiles_out.push(BundleTile {
                path: tiles::path(&t),
                data: B64.encode(self.tile_data(log_id, &t).await?),
            });
        }
        Ok(Bundle {
            format: FORMAT.into(),
            origin: head.origin,
            hash_algorithm: head.alg.code().into(),
            keys: self
                .log_keys(log_id)
                .await?
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
            checkpoints: checkpoints.into_iter().map(|(_, n)| n).collect(),
            entries: entries.iter().map(|e| B64.encode(e)).collect(),
            tiles: tiles_out,
        })
    }
}
