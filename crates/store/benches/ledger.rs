//! Ledger benchmarks (not tests): durable appends against raw inserts of the same rows,
//! inclusion-proof latency at a large size, and `verify` throughput.
//!
//! cargo bench -p zhifa-store --bench ledger -- [append|append1|proof|verify] [N] [DIR]
//! ZHIFA_BENCH_DATABASE_URL=postgres://… runs every benchmark on PostgreSQL too (ZHIFA_BENCH_KEEP=1
//! keeps its databases for later runs).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use zhifa_domain::org::AgencyInput;
use zhifa_domain::{NewAgency, Principal};
use zhifa_ledger::tree::{inclusion_plan, verify_inclusion};
use zhifa_store::{Actor, Store};

const BATCH: usize = 1000;

async fn agency(store: &Store) -> i64 {
    let a = NewAgency::parse(&AgencyInput {
        name: "基准乡".into(),
        slug: "bench".into(),
        kind: "administrative_organ".into(),
        credit_code: "914403001922038216".into(),
        legal_basis: "基准测试".into(),
        ..Default::default()
    })
    .unwrap();
    let mut tx = store.write(Actor::System("bench")).await.unwrap();
    let id = tx.create_agency(&a).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn principal(agency: i64) -> Principal {
    Principal {
        user_id: 1,
        username: "bench".into(),
        display_name: "基准".into(),
        agency_id: agency,
        department_id: None,
        roles: vec![],
    }
}

/// Appends `n` entries in transactions of `BATCH` (a batching sequencer's unit of work).
async fn append(store: &Store, agency: i64, n: usize) -> Duration {
    let p = principal(agency);
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let mut tx = store.write(Actor::User(1)).await.unwrap();
        for _ in 0..BATCH.min(n - done) {
            tx.record_test_event(
                p.agency_id,
                serde_json::json!({"capability": "bench", "method": "GET", "path": "/bench"}),
            );
        }
        tx.commit().await.unwrap();
        done += BATCH;
    }
    started.elapsed()
}

/// The ceiling: rows like the ones appends write (one journal row per entry; per 16
/// entries, one row of their bytes and one of their leaf hashes, each 16th also feeding
/// the next stored level) inserted raw, in the same transactions, with no hashing.
async fn raw_inserts(store: &Store, n: usize) -> Duration {
    store
        .raw_execute("CREATE TABLE IF NOT EXISTS bench_raw (a BIGINT, b BIGINT, c TEXT, d BYTEA)")
        .await
        .unwrap();
    let started = Instant::now();
    let row = "(1, 2, 'access.denied', x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')";
    let row_pg = "(1, 2, 'access.denied', '\\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::bytea)";
    let row = if store.backend() == zhifa_store::Backend::Postgres {
        row_pg
    } else {
        row
    };
    // A chunk's worth of entry bytes (16 × 102) and of hashes (16 × 32).
    let blob = |len: usize| {
        let hex = "ab".repeat(len);
        if store.backend() == zhifa_store::Backend::Postgres {
            format!("(1, 2, 'chunk', '\\x{hex}'::bytea)")
        } else {
            format!("(1, 2, 'chunk', x'{hex}')")
        }
    };
    let (entry_chunk, hash_chunk) = (blob(16 * 104), blob(16 * 32));
    let mut done = 0;
    while done < n {
        let k = BATCH.min(n - done);
        // One row per entry, 100 rows per statement, and the chunk rows; one transaction
        // per batch.
        let mut statements: Vec<String> = (0..k.div_ceil(100))
            .map(|chunk| {
                let m = 100.min(k - chunk * 100);
                format!("INSERT INTO bench_raw VALUES {}", vec![row; m].join(","))
            })
            .collect();
        let chunks = k.div_ceil(16);
        statements.push(format!(
            "INSERT INTO bench_raw VALUES {}",
            vec![entry_chunk.as_str(); chunks].join(",")
        ));
        statements.push(format!(
            "INSERT INTO bench_raw VALUES {}",
            vec![hash_chunk.as_str(); chunks + chunks.div_ceil(16)].join(",")
        ));
        store.raw_transaction(&statements).await.unwrap();
        done += BATCH;
    }
    started.elapsed()
}

/// The installation's entry-authentication key, kept beside the benchmark's database so
/// that a reused log verifies.
fn entry_key(dir: &std::path::Path) -> zhifa_ledger::auth::EntryKey {
    zhifa_store::keys::KeyStore::open(&dir.join("keys"))
        .unwrap()
        .entry_key()
        .unwrap()
}

async fn open_sqlite(dir: &std::path::Path) -> Store {
    let s = Store::open_data_dir(dir)
        .await
        .unwrap()
        .with_entry_key(entry_key(dir));
    s.migrate().await.unwrap();
    s
}

async fn bench_append(n: usize) {
    println!("## append {n} entries in transactions of {BATCH}");
    let dir = tempfile::tempdir().unwrap();
    let s = open_sqlite(dir.path()).await;
    let a = agency(&s).await;
    let t = append(&s, a, n).await;
    let raw = raw_inserts(&s, n).await;
    println!(
        "SQLite: zhifa {:.0} entries/s ({:.2?}); raw inserts of the same rows {:.0} entries/s ({:.2?}); ratio {:.0} %",
        n as f64 / t.as_secs_f64(),
        t,
        n as f64 / raw.as_secs_f64(),
        raw,
        100.0 * raw.as_secs_f64() / t.as_secs_f64()
    );
    if let Ok(url) = std::env::var("ZHIFA_BENCH_DATABASE_URL") {
        let admin = Store::connect(&url).await.unwrap();
        let _ = admin
            .raw_execute("DROP DATABASE IF EXISTS zhifa_bench")
            .await;
        admin
            .raw_execute("CREATE DATABASE zhifa_bench")
            .await
            .unwrap();
        let pg_url = zhifa_store::testing::replace_database(&url, "zhifa_bench");
        let s = Store::connect(&pg_url)
            .await
            .unwrap()
            .with_entry_key(zhifa_store::testing::test_entry_key());
        s.migrate().await.unwrap();
        let a = agency(&s).await;
        let t = append(&s, a, n).await;
        let raw = raw_inserts(&s, n).await;
        println!(
            "PostgreSQL: zhifa {:.0} entries/s ({:.2?}); raw inserts of the same rows {:.0} entries/s ({:.2?}); ratio {:.0} %",
            n as f64 / t.as_secs_f64(),
            t,
            n as f64 / raw.as_secs_f64(),
            raw,
            100.0 * raw.as_secs_f64() / t.as_secs_f64()
        );
        s.close().await;
        let _ = admin
            .raw_execute("DROP DATABASE zhifa_bench WITH (FORCE)")
            .await;
    }
}

/// One entry per transaction from `tasks` concurrent writers: a request's own commit, the
/// unit a busy workbench produces.
async fn bench_append_single(n: usize, tasks: usize) {
    println!("## {n} entries, one per transaction, {tasks} concurrent writers");
    let run = |s: Store, a: i64| async move {
        let started = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let p = principal(a);
                for _ in 0..n / tasks {
                    let mut tx = s.write(Actor::User(1)).await.unwrap();
                    tx.record_test_event(
                p.agency_id,
                serde_json::json!({"capability": "bench", "method": "GET", "path": "/bench"}),
            );
                    tx.commit().await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        started.elapsed()
    };
    let dir = tempfile::tempdir().unwrap();
    let s = open_sqlite(dir.path()).await;
    let a = agency(&s).await;
    let t = run(s.clone(), a).await;
    println!(
        "SQLite: {:.0} entries/s ({t:.2?})",
        n as f64 / t.as_secs_f64()
    );
    if let Ok(url) = std::env::var("ZHIFA_BENCH_DATABASE_URL") {
        let admin = Store::connect(&url).await.unwrap();
        let _ = admin
            .raw_execute("DROP DATABASE IF EXISTS zhifa_bench1")
            .await;
        admin
            .raw_execute("CREATE DATABASE zhifa_bench1")
            .await
            .unwrap();
        let s = Store::connect(&zhifa_store::testing::replace_database(
            &url,
            "zhifa_bench1",
        ))
        .await
        .unwrap()
        .with_entry_key(zhifa_store::testing::test_entry_key());
        s.migrate().await.unwrap();
        let a = agency(&s).await;
        let t = run(s.clone(), a).await;
        println!(
            "PostgreSQL: {:.0} entries/s ({t:.2?})",
            n as f64 / t.as_secs_f64()
        );
        s.close().await;
        let _ = admin
            .raw_execute("DROP DATABASE zhifa_bench1 WITH (FORCE)")
            .await;
    }
}

/// The benchmark log in `dir` (created when new): the store, its agency and its size.
async fn bench_log(dir: &std::path::Path) -> (Store, i64, usize) {
    let s = open_sqlite(dir).await;
    let a = match s.agency_by_slug("bench").await {
        Ok(x) => x.id,
        Err(_) => agency(&s).await,
    };
    let have = s.log_head(a).await.unwrap().size as usize;
    (s, a, have)
}

/// Inclusion proofs (plan, one fetch of stored nodes, assemble, verify) at size `n`.
async fn bench_proof(n: usize, dir: Option<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let path = dir
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    let (s, a, have) = bench_log(&path).await;
    println!("SQLite:");
    proofs(&s, a, have, n).await;
    if let Ok(url) = std::env::var("ZHIFA_BENCH_DATABASE_URL") {
        let (s, a, have) = pg_bench_log(&url, "zhifa_bench_proof", &path).await;
        println!("PostgreSQL:");
        proofs(&s, a, have, n).await;
        s.close().await;
        pg_bench_done(&url, "zhifa_bench_proof").await;
    }
}

/// Proof latency on `s`'s log `a` (which has `have` entries) once it has `n`.
async fn proofs(s: &Store, a: i64, have: usize, n: usize) {
    if have < n {
        // Proofs read only the stored tree nodes, so the large tree is bulk-loaded: leaf
        // hashes of synthetic entries, every perfect subtree computed with the same
        // compact range the write path uses, inserted in large transactions.
        println!("## bulk-loading the tree of a log of {n} entries");
        let t = Instant::now();
        bulk_load_tree(s, a, have as u64, n as u64).await;
        println!("loaded in {:.2?}", t.elapsed());
    }
    let head = s.log_head(a).await.unwrap();
    let size = head.size;
    let mut lat = Vec::new();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let index = x % size;
        let t = Instant::now();
        let plan = inclusion_plan(index, size).unwrap();
        let mut ids = plan.nodes();
        let leaf_id = zhifa_ledger::tree::NodeId { level: 0, index };
        ids.push(leaf_id);
        let nodes = s.log_nodes(a, &ids).await.unwrap();
        let proof = plan
            .assemble(head.alg, |id| nodes.get(&id).copied())
            .unwrap();
        lat.push(t.elapsed());
        verify_inclusion(head.alg, index, size, &nodes[&leaf_id], &proof, &head.root).unwrap();
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "## inclusion proofs at size {size}: p50 {:.3?}, p99 {:.3?}, max {:.3?} (5000 random leaves)",
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    );
}

async fn bulk_load_tree(s: &Store, log_id: i64, from: u64, to: u64) {
    use zhifa_ledger::tree::{CompactRange, frontier_ids};
    let alg = zhifa_ledger::HashAlg::Sha256;
    let ids = frontier_ids(from);
    let nodes = s.log_nodes(log_id, &ids).await.unwrap();
    let mut range = CompactRange::resume(from, ids.iter().map(|id| nodes[id]).collect()).unwrap();
    let hex = |h: &[u8]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let pg = s.backend() == zhifa_store::Backend::Postgres;
    // The stored levels (every fourth) in chunks of 16, as `log_chunks.rs` keeps them;
    // a chunk begun by one flush is continued by the next.
    let append = if pg {
        "hashes = ledger_hash_chunks.hashes || excluded.hashes"
    } else {
        "hashes = CAST(ledger_hash_chunks.hashes || excluded.hashes AS BLOB)"
    };
    let mut chunks: BTreeMap<(u8, u64), Vec<u8>> = BTreeMap::new();
    let mut pending = 0;
    let mut seq = from;
    while seq < to {
        let leaf = alg.leaf(&seq.to_be_bytes());
        for (id, h) in range.append(alg, leaf) {
            if id.level % 4 == 0 {
                chunks
                    .entry((id.level, id.index / 16))
                    .or_default()
                    .extend_from_slice(&h);
                pending += 1;
            }
        }
        seq += 1;
        if pending >= 200_000 || seq == to {
            let rows: Vec<String> = std::mem::take(&mut chunks)
                .into_iter()
                .map(|((level, chunk), hashes)| {
                    let lit = if pg {
                        format!("'\\x{}'::bytea", hex(&hashes))
                    } else {
                        format!("x'{}'", hex(&hashes))
                    };
                    format!("({log_id},{level},{chunk},{lit})")
                })
                .collect();
            let statements: Vec<String> = rows
                .chunks(200)
                .map(|c| {
                    format!(
                        "INSERT INTO ledger_hash_chunks (log_id, level, chunk, hashes) VALUES {} ON CONFLICT (log_id, level, chunk) DO UPDATE SET {append}",
                        c.join(",")
                    )
                })
                .collect();
            s.raw_transaction(&statements).await.unwrap();
            pending = 0;
        }
    }
    let root = hex(&range.root(alg));
    let root_lit = if pg {
        format!("'\\x{root}'::bytea")
    } else {
        format!("x'{root}'")
    };
    s.raw_execute(&format!(
        "UPDATE ledger_logs SET size = {to}, root = {root_lit} WHERE log_id = {log_id}"
    ))
    .await
    .unwrap();
}

/// `verify` over a log of `n` entries; prints the entry bytes for the sha256sum reference.
/// With `DIR`, the log is kept there and reused by later runs (for profiling verify alone).
async fn bench_verify(n: usize, dir: Option<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let path = dir
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    let (s, a, have) = bench_log(&path).await;
    if have < n {
        append(&s, a, n - have).await;
    }
    if std::env::var_os("ZHIFA_BENCH_VERIFY_ONLY").is_some() {
        // For profiling: nothing but `verify` in the process's samples.
        match std::env::var("ZHIFA_BENCH_DATABASE_URL") {
            Ok(url) => bench_verify_postgres(n, &url, &path).await,
            Err(_) => {
                let t = Instant::now();
                let r = s.verify(&[]).await.unwrap();
                println!("## verify {} entries: {:.2?}", r.entries, t.elapsed());
            }
        }
        return;
    }
    let entries = s.log_entries(a, 0, n as u64 + 1).await.unwrap();
    let bytes: usize = entries.iter().map(|(_, e)| e.len()).sum();
    let file = std::env::temp_dir().join("zhifa-bench-entries.bin");
    std::fs::write(
        &file,
        entries
            .iter()
            .flat_map(|(_, e)| e.clone())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    // Where the time goes: reading the entries alone, through the same driver.
    let t = Instant::now();
    let mut next = 0u64;
    loop {
        let batch = s.log_entries(a, next, next + 5000).await.unwrap();
        if batch.is_empty() {
            break;
        }
        next += batch.len() as u64;
    }
    println!("reading the entries alone: {:.2?}", t.elapsed());
    let t = Instant::now();
    let r = s.verify(&[]).await.unwrap();
    let took = t.elapsed();
    assert!(r.ok(), "{:?}", r.failures);
    assert!(r.entries_authenticated);
    let db = std::fs::metadata(path.join("zhifa.db")).unwrap().len()
        + std::fs::metadata(path.join("zhifa.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "## verify {} entries: {:.2?} ({:.1} MB/s of entry bytes, {bytes} bytes; database {db} bytes)",
        r.entries,
        took,
        bytes as f64 / took.as_secs_f64() / 1e6
    );
    println!("entry bytes written to {} for `sha256sum`", file.display());
    let sha = Instant::now();
    let out = std::process::Command::new("sha256sum").arg(&file).output();
    if let Ok(o) = out
        && o.status.success()
    {
        let t2 = sha.elapsed();
        println!(
            "sha256sum over the same bytes: {t2:.2?} ({:.1} MB/s); verify/sha256sum throughput = {:.1} %",
            bytes as f64 / t2.as_secs_f64() / 1e6,
            100.0 * t2.as_secs_f64() / took.as_secs_f64()
        );
    }
    if let Ok(url) = std::env::var("ZHIFA_BENCH_DATABASE_URL") {
        bench_verify_postgres(n, &url, &path).await;
    }
}

/// `verify` over a log of `n` entries on PostgreSQL (the database `zhifa_bench_verify` on
/// the server `url` names, made and dropped here).
async fn bench_verify_postgres(n: usize, url: &str, dir: &std::path::Path) {
    let (s, a, have) = pg_bench_log(url, "zhifa_bench_verify", dir).await;
    if have < n {
        append(&s, a, n - have).await;
        s.raw_execute("VACUUM ANALYZE").await.unwrap();
    }
    for _ in 0..3 {
        let t = Instant::now();
        let r = s.verify(&[]).await.unwrap();
        assert!(r.ok(), "{:?}", r.failures);
        println!(
            "## PostgreSQL: verify {} entries: {:.2?}",
            r.entries,
            t.elapsed()
        );
    }
    s.close().await;
    pg_bench_done(url, "zhifa_bench_verify").await;
}

/// The benchmark log in the PostgreSQL database `name` on the server `url` names (made
/// afresh unless `ZHIFA_BENCH_KEEP` is set and it exists), with the key kept in `dir`.
async fn pg_bench_log(url: &str, name: &str, dir: &std::path::Path) -> (Store, i64, usize) {
    let keep = std::env::var_os("ZHIFA_BENCH_KEEP").is_some();
    let pg_url = zhifa_store::testing::replace_database(url, name);
    let s = match Store::connect(&pg_url).await {
        Ok(s) if keep => s,
        _ => {
            let admin = Store::connect(url).await.unwrap();
            let _ = admin
                .raw_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .await;
            admin
                .raw_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            Store::connect(&pg_url).await.unwrap()
        }
    }
    .with_entry_key(entry_key(dir));
    s.migrate().await.unwrap();
    let a = match s.agency_by_slug("bench").await {
        Ok(x) => x.id,
        Err(_) => agency(&s).await,
    };
    let have = s.log_head(a).await.unwrap().size as usize;
    (s, a, have)
}

/// Drops the database `name` unless `ZHIFA_BENCH_KEEP` is set.
async fn pg_bench_done(url: &str, name: &str) {
    if std::env::var_os("ZHIFA_BENCH_KEEP").is_none() {
        let admin = Store::connect(url).await.unwrap();
        let _ = admin
            .raw_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await;
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let what = args.first().cloned().unwrap_or_else(|| "append".into());
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match what.as_str() {
            "append" => bench_append(n).await,
            "append1" => bench_append_single(n, 8).await,
            "proof" => bench_proof(n, args.get(2).cloned()).await,
            "verify" => bench_verify(n, args.get(2).cloned()).await,
            other => eprintln!("unknown benchmark {other}"),
        }
    });
}
