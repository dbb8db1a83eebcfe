//! How a log's entries and tree are stored: in chunks of 16, not one row each.
//!
//! - Entry chunk `c` of a log (`ledger_entry_chunks`) holds entries `[16c, 16c + 16)` in
//!   order as a C2SP entry bundle (`zhifa_ledger::tiles`: a big-endian u16 length, then
//!   the bytes), and beside them, framed the same way, their authentication codes (empty for
//!   an entry written before codes existed). An entry's position in its chunk is its
//!   sequence number.
//! - Hash chunk `(l, c)` (`ledger_hash_chunks`) holds the tree's nodes at level `l` with
//!   indices `[16c, 16c + 16)`, 32 bytes each, for every level `l` that is a multiple of
//!   4. Any other node is the root of at most 8 nodes of one chunk four or fewer levels
//!   down ([`node_from`]), so nothing is lost: a C2SP tile (levels 0, 8, 16, …) is 16
//!   whole chunks, and a proof reads one chunk per four levels.
//!
//! The last chunk of each kind is partial and grows as the log grows: appends concatenate
//! onto it in SQL ([`append_entries`], [`append_hashes`]), inside the appending
//! transaction, without reading it first. What a chunk holds below the log's head never
//! changes. `zhifa verify` tolerates more in a last chunk than the head covers (appended
//! while it runs); bytes put there by hand become the next entries' positions, and the
//! next verification after the log grows over them names them.
//!
//! Why: `zhifa verify` reads every entry and every stored node. At one row per entry and
//! per node, stepping rows was most of its time; chunks make those reads 1/16 as many rows
//! (BENCHMARKS.md, "`zhifa verify` over 1 M entries").

use crate::db::Backend;
use crate::error::StoreError;
use crate::ledger::{Value, insert_many};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet};
use zhifa_ledger::tree::NodeId;
use zhifa_ledger::{Hash, HashAlg, tiles};

/// Levels between stored levels; a chunk holds `1 << LEVEL_STEP` items.
pub(crate) const LEVEL_STEP: u8 = 4;
/// Entries (or nodes of one level) per chunk.
pub(crate) const CHUNK: u64 = 1 << LEVEL_STEP;

/// Whether nodes of `level` are stored (the others are computed from them).
pub(crate) fn is_stored(level: u8) -> bool {
    level.is_multiple_of(LEVEL_STEP)
}

/// The chunk an item at `index` is in, and its place there.
pub(crate) fn chunk_of(index: u64) -> (u64, usize) {
    (index / CHUNK, (index % CHUNK) as usize)
}

/// Where the stored nodes a node is computed from lie: level, chunk, first place, count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Source {
    pub level: u8,
    pub chunk: u64,
    pub offset: usize,
    pub count: usize,
}

pub(crate) fn source(id: NodeId) -> Source {
    let span = id.level % LEVEL_STEP;
    let first = id.index << span;
    let (chunk, offset) = chunk_of(first);
    Source {
        level: id.level - span,
        chunk,
        offset,
        count: 1 << span,
    }
}

/// The chunks `[first, end)` that hold items `[from, to)`.
pub(crate) fn chunk_span(from: u64, to: u64) -> (i64, i64) {
    ((from / CHUNK) as i64, to.div_ceil(CHUNK) as i64)
}

/// The hash of node `id` from the stored hash chunk its [`source`] names (`None` when the
/// chunk does not reach that far): the root of a perfect subtree of its nodes.
pub(crate) fn node_from(alg: HashAlg, id: NodeId, chunk: &[u8]) -> Option<Hash> {
    let s = source(id);
    let below = hashes(chunk.get(s.offset * 32..(s.offset + s.count) * 32)?)?;
    Some(zhifa_ledger::tree::root_of(alg, &below))
}

/// The journal's key for finding an entry by its leaf hash: the hash's first 8 bytes as
/// a big-endian signed integer.
pub(crate) fn leaf_key(leaf: &Hash) -> i64 {
    i64::from_be_bytes(leaf[..8].try_into().expect("8 bytes"))
}

/// The 32-byte hashes of a hash chunk (`None` when its length is not a multiple of 32).
pub(crate) fn hashes(chunk: &[u8]) -> Option<Vec<Hash>> {
    if !chunk.len().is_multiple_of(32) {
        return None;
    }
    Some(
        chunk
            .chunks_exact(32)
            .map(|h| h.try_into().expect("32 bytes"))
            .collect(),
    )
}

/// Appends `item` to `out`, framed as in an entry bundle.
fn push_framed(out: &mut Vec<u8>, item: &[u8]) -> Result<(), StoreError> {
    tiles::push_bundled(out, item).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "日志条目过长（{} 字节，上限 65535）/ log entry of {} bytes is too long",
            item.len(),
            item.len()
        ))
    })
}

/// An entry of a chunk and its authentication code (`None`: none).
pub(crate) type ChunkItem<'a> = (&'a [u8], Option<&'a [u8]>);

/// The entries of an entry chunk with their codes (`None` for no code), or `None` when
/// the chunk cannot be read: broken framing, codes that do not pair with the entries, or
/// more than a chunk's worth.
pub(crate) fn chunk_items<'a>(entries: &'a [u8], codes: &'a [u8]) -> Option<Vec<ChunkItem<'a>>> {
    let (es, cs) = (tiles::bundled(entries)?, tiles::bundled(codes)?);
    (es.len() == cs.len() && es.len() as u64 <= CHUNK).then(|| {
        es.into_iter()
            .zip(cs)
            .map(|(e, c)| (e, (!c.is_empty()).then_some(c)))
            .collect()
    })
}

/// Tables and columns of the two kinds of chunk, for `INSERT INTO … VALUES`.
pub(crate) const ENTRY_CHUNK_COLUMNS: &str = "ledger_entry_chunks (log_id, chunk, entries, codes)";
pub(crate) const HASH_CHUNK_COLUMNS: &str = "ledger_hash_chunks (log_id, level, chunk, hashes)";

/// The conflict clause that turns an insert of an entry chunk's new items into an append
/// to the chunk when it exists.
pub(crate) fn append_entries(backend: Backend) -> String {
    append_clause(
        backend,
        "ledger_entry_chunks",
        "log_id, chunk",
        &["entries", "codes"],
    )
}

/// The same for hash chunks.
pub(crate) fn append_hashes(backend: Backend) -> String {
    append_clause(
        backend,
        "ledger_hash_chunks",
        "log_id, level, chunk",
        &["hashes"],
    )
}

fn append_clause(backend: Backend, table: &str, key: &str, columns: &[&str]) -> String {
    let sets: Vec<String> = columns
        .iter()
        .map(|c| match backend {
            // SQLite's `||` gives text with the same bytes: cast back to a blob.
            Backend::Sqlite => format!("{c} = CAST({table}.{c} || excluded.{c} AS BLOB)"),
            Backend::Postgres => format!("{c} = {table}.{c} || excluded.{c}"),
        })
        .collect();
    format!(" ON CONFLICT ({key}) DO UPDATE SET {}", sets.join(", "))
}

/// The items an append adds to a log's chunks, gathered by chunk (one row each, so that
/// a multi-row upsert never names a chunk twice).
#[derive(Default)]
pub(crate) struct ChunkAppends {
    entries: BTreeMap<u64, (Vec<u8>, Vec<u8>)>,
    hashes: BTreeMap<(u8, u64), Vec<u8>>,
}

impl ChunkAppends {
    /// The entry at `seq` and its authentication code; entries come in order.
    pub fn entry(&mut self, seq: u64, bytes: &[u8], code: Option<&[u8]>) -> Result<(), StoreError> {
        let (entries, codes) = self.entries.entry(chunk_of(seq).0).or_default();
        push_framed(entries, bytes)?;
        push_framed(codes, code.unwrap_or_default())
    }

    /// A node the tree completed; kept only if its level is stored. Nodes of a level
    /// come in order.
    pub fn node(&mut self, id: NodeId, hash: &Hash) {
        if is_stored(id.level) {
            self.hashes
                .entry((id.level, chunk_of(id.index).0))
                .or_default()
                .extend_from_slice(hash);
        }
    }

    /// The rows for [`ENTRY_CHUNK_COLUMNS`] and [`HASH_CHUNK_COLUMNS`].
    pub fn rows(self, log_id: i64) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
        let entries = self
            .entries
            .into_iter()
            .map(|(chunk, (entries, codes))| {
                vec![
                    Value::Int(log_id),
                    Value::Int(chunk as i64),
                    Value::Bytes(entries),
                    Value::Bytes(codes),
                ]
            })
            .collect();
        let hashes = self
            .hashes
            .into_iter()
            .map(|((level, chunk), hashes)| {
                vec![
                    Value::Int(log_id),
                    Value::Int(i64::from(level)),
                    Value::Int(chunk as i64),
                    Value::Bytes(hashes),
                ]
            })
            .collect();
        (entries, hashes)
    }

    /// Writes the rows (appending to chunks that exist).
    pub async fn write(
        self,
        conn: &mut AnyConnection,
        backend: Backend,
        log_id: i64,
    ) -> Result<(), StoreError> {
        let (entries, hashes) = self.rows(log_id);
        insert_many(
            conn,
            backend,
            ENTRY_CHUNK_COLUMNS,
            4,
            entries,
            &append_entries(backend),
        )
        .await?;
        insert_many(
            conn,
            backend,
            HASH_CHUNK_COLUMNS,
            4,
            hashes,
            &append_hashes(backend),
        )
        .await
    }
}

/// Stored hash chunks by (level, chunk), read in statements of up to 200 keys. Each
/// disjunct names the whole primary key, so both databases answer with one index probe
/// per chunk (a shared `log_id = $1` outside the OR made SQLite scan the whole log).
async fn hash_chunks(
    conn: &mut AnyConnection,
    log_id: i64,
    keys: &BTreeSet<(u8, u64)>,
) -> Result<BTreeMap<(u8, u64), Vec<u8>>, StoreError> {
    let keys: Vec<_> = keys.iter().collect();
    let mut out = BTreeMap::new();
    for part in keys.chunks(200) {
        // Coordinates are integers we computed: safe to inline.
        let cond: Vec<String> = part
            .iter()
            .map(|(level, chunk)| format!("(log_id = $1 AND level = {level} AND chunk = {chunk})"))
            .collect();
        let sql = format!(
            "SELECT level, chunk, hashes FROM ledger_hash_chunks WHERE {}",
            cond.join(" OR ")
        );
        for r in sqlx::query(AssertSqlSafe(sql))
            .bind(log_id)
            .fetch_all(&mut *conn)
            .await?
        {
            let key = (
                r.try_get::<i64, _>("level")? as u8,
                r.try_get::<i64, _>("chunk")? as u64,
            );
            out.insert(key, r.try_get("hashes")?);
        }
    }
    Ok(out)
}

/// Tree nodes by id, each read from (or computed from) its stored chunk; a node whose
/// chunk does not reach it is left out.
pub(crate) async fn load_nodes(
    conn: &mut AnyConnection,
    log_id: i64,
    alg: HashAlg,
    ids: &[NodeId],
) -> Result<BTreeMap<NodeId, Hash>, StoreError> {
    let keys: BTreeSet<(u8, u64)> = ids
        .iter()
        .map(|id| {
            let s = source(*id);
            (s.level, s.chunk)
        })
        .collect();
    let chunks = hash_chunks(conn, log_id, &keys).await?;
    let mut out = BTreeMap::new();
    for &id in ids {
        let s = source(id);
        if let Some(h) = chunks
            .get(&(s.level, s.chunk))
            .and_then(|c| node_from(alg, id, c))
        {
            out.insert(id, h);
        }
    }
    Ok(out)
}

/// The stored nodes of `level` (a multiple of 4) with indices in `[from, to)`, as far as
/// they are stored without a gap.
pub(crate) async fn node_range(
    conn: &mut AnyConnection,
    log_id: i64,
    level: u8,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>, StoreError> {
    debug_assert!(is_stored(level));
    if from >= to {
        return Ok(Vec::new());
    }
    let (first, end) = chunk_span(from, to);
    let rows = sqlx::query(
        "SELECT chunk, hashes FROM ledger_hash_chunks WHERE log_id = $1 AND level = $2 AND chunk >= $3 AND chunk < $4 ORDER BY chunk",
    )
    .bind(log_id)
    .bind(i64::from(level))
    .bind(first)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let mut all = Vec::new();
    for (expect, r) in (first..).zip(rows) {
        let chunk: i64 = r.try_get("chunk")?;
        let bytes: Vec<u8> = r.try_get("hashes")?;
        let Some(hs) = hashes(&bytes) else { break };
        if chunk != expect || hs.len() > CHUNK as usize {
            break;
        }
        let whole = hs.len() == CHUNK as usize;
        all.extend(hs);
        if !whole {
            break;
        }
    }
    let skip = (from - first as u64 * CHUNK) as usize;
    let want = (to - from) as usize;
    Ok(all.into_iter().skip(skip).take(want).collect())
}

/// An entry as stored: sequence number, canonical bytes, authentication code.
pub(crate) type StoredEntry = (u64, Vec<u8>, Option<Vec<u8>>);

/// Stored entries with sequence numbers in `[from, to)`, as far as they are stored
/// without a gap or a broken chunk.
pub(crate) async fn entries(
    conn: &mut AnyConnection,
    log_id: i64,
    from: u64,
    to: u64,
) -> Result<Vec<StoredEntry>, StoreError> {
    if from >= to {
        return Ok(Vec::new());
    }
    let (first, end) = chunk_span(from, to);
    let rows = sqlx::query(
        "SELECT chunk, entries, codes FROM ledger_entry_chunks WHERE log_id = $1 AND chunk >= $2 AND chunk < $3 ORDER BY chunk",
    )
    .bind(log_id)
    .bind(first)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    'chunks: for (expect, r) in (first..).zip(rows) {
        let chunk: i64 = r.try_get("chunk")?;
        let entries: Vec<u8> = r.try_get("entries")?;
        let codes: Vec<u8> = r.try_get("codes")?;
        let Some(items) = chunk_items(&entries, &codes) else {
            break;
        };
        if chunk != expect {
            break;
        }
        let whole = items.len() as u64 == CHUNK;
        for (i, (e, c)) in items.into_iter().enumerate() {
            let seq = chunk as u64 * CHUNK + i as u64;
            if seq >= to {
                break 'chunks;
            }
            if seq >= from {
                out.push((seq, e.to_vec(), c.map(<[u8]>::to_vec)));
            }
        }
        if !whole {
            break;
        }
    }
    Ok(out)
}

/// Copies the rows of `ledger_entries` and `ledger_nodes` (one per entry and per node,
/// before migration 13) into chunks, and each entry's leaf key into its journal row.
/// Entries go to the place their sequence number gives and keep their order, so a gap
/// left by a deleted row shows as the entry after it out of place; a stored hash of the
/// wrong length becomes zeros. Both are named by the next `zhifa verify`. Nodes of the
/// levels no longer stored are dropped: they are computed from the entries, so a change
/// confined to them could not reach any proof afterwards.
pub(crate) async fn copy_log_rows(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<(), StoreError> {
    const PAGE: i64 = 16 * 1024;
    sqlx::query(
        "CREATE TEMP TABLE leaf_keys (log_id BIGINT NOT NULL, seq BIGINT NOT NULL, leaf_key BIGINT NOT NULL, PRIMARY KEY (log_id, seq))",
    )
    .execute(&mut *conn)
    .await?;
    let logs: Vec<i64> = sqlx::query_scalar("SELECT log_id FROM ledger_logs ORDER BY log_id")
        .fetch_all(&mut *conn)
        .await?;
    for log_id in logs {
        let mut next = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, entry, mac FROM ledger_entries WHERE log_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(log_id)
            .bind(next)
            .bind(PAGE)
            .fetch_all(&mut *conn)
            .await?;
            let Some(last) = rows.last() else { break };
            next = last.try_get::<i64, _>("seq")? + 1;
            let mut appends = ChunkAppends::default();
            for r in &rows {
                let seq: i64 = r.try_get("seq")?;
                let entry: Vec<u8> = r.try_get("entry")?;
                let mac: Option<Vec<u8>> = r.try_get("mac")?;
                appends.entry(seq.max(0) as u64, &entry, mac.as_deref())?;
            }
            appends.write(conn, backend, log_id).await?;
        }
        let levels: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT level FROM ledger_nodes WHERE log_id = $1 ORDER BY level",
        )
        .bind(log_id)
        .fetch_all(&mut *conn)
        .await?;
        for level in levels
            .into_iter()
            .filter(|l| l % i64::from(LEVEL_STEP) == 0)
        {
            let mut next = 0i64;
            loop {
                let rows = sqlx::query(
                    "SELECT idx, hash FROM ledger_nodes WHERE log_id = $1 AND level = $2 AND idx >= $3 ORDER BY idx LIMIT $4",
                )
                .bind(log_id)
                .bind(level)
                .bind(next)
                .bind(PAGE)
                .fetch_all(&mut *conn)
                .await?;
                let Some(last) = rows.last() else { break };
                next = last.try_get::<i64, _>("idx")? + 1;
                let mut appends = ChunkAppends::default();
                let mut keys = Vec::new();
                for r in &rows {
                    let idx: i64 = r.try_get("idx")?;
                    let hash: Vec<u8> = r.try_get("hash")?;
                    let hash: Hash = hash.try_into().unwrap_or([0; 32]);
                    let id = NodeId {
                        level: level as u8,
                        index: idx.max(0) as u64,
                    };
                    appends.node(id, &hash);
                    if level == 0 {
                        keys.push(vec![
                            Value::Int(log_id),
                            Value::Int(idx),
                            Value::Int(leaf_key(&hash)),
                        ]);
                    }
                }
                appends.write(conn, backend, log_id).await?;
                insert_many(
                    conn,
                    backend,
                    "leaf_keys (log_id, seq, leaf_key)",
                    3,
                    keys,
                    "",
                )
                .await?;
            }
        }
    }
    sqlx::query(
        "UPDATE journal SET leaf_key = (SELECT k.leaf_key FROM leaf_keys k
         WHERE k.log_id = journal.log_id AND k.seq = journal.seq)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("DROP TABLE leaf_keys")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhifa_ledger::tree::MemoryTree;

    #[test]
    fn every_node_comes_from_one_chunk_of_a_stored_level() {
        let alg = HashAlg::Sha256;
        let mut tree = MemoryTree::new(alg);
        for i in 0u32..700 {
            tree.append_entry(&i.to_be_bytes());
        }
        for level in 0u8..10 {
            for index in 0..(700u64 >> level) {
                let id = NodeId { level, index };
                let s = source(id);
                assert!(is_stored(s.level) && s.level <= level && level - s.level < LEVEL_STEP);
                assert!(s.offset + s.count <= CHUNK as usize);
                let chunk: Vec<u8> = (s.chunk * CHUNK..(s.chunk + 1) * CHUNK)
                    .filter_map(|i| {
                        tree.node(NodeId {
                            level: s.level,
                            index: i,
                        })
                    })
                    .flatten()
                    .collect();
                assert_eq!(node_from(alg, id, &chunk), tree.node(id), "{id:?}");
            }
        }
    }

    #[test]
    fn framing_round_trips_and_rejects_broken_chunks() {
        let mut out = Vec::new();
        for item in [&b"abc"[..], b"", &[7u8; 300]] {
            push_framed(&mut out, item).unwrap();
        }
        assert_eq!(
            tiles::bundled(&out).unwrap(),
            vec![&b"abc"[..], b"", &[7u8; 300]]
        );
        assert!(tiles::bundled(&out[..out.len() - 1]).is_none());
        assert!(tiles::bundled(&[0]).is_none());
        assert!(push_framed(&mut out, &vec![0; 70_000]).is_err());
        assert_eq!(hashes(&[0; 64]).unwrap().len(), 2);
        assert!(hashes(&[0; 33]).is_none());
    }
}
