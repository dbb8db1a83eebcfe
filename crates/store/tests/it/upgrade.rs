//! A log written as releases before the chunks stored it — one row per entry and per tree
//! node, when and by whom copied into the journal, codes over the entry's bytes — is moved
//! into chunks by the upgrade (migrations 13 and 14), on both databases: it verifies, its
//! entries are found by their hash and read back in its history, and it grows on.

use zhifa_ledger::HashAlg;
use zhifa_ledger::auth::EntryKey;
use zhifa_ledger::entry::{Entry, commitment};
use zhifa_ledger::tree::{CompactRange, MemoryTree};
use zhifa_store::ledger::{SYSTEM_LOG, SYSTEM_LOG_NAME, origin_for};
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, Backend, Store};

/// The schema version of the last release that stored a log one row per entry.
const BEFORE_CHUNKS: i64 = 12;

#[tokio::test]
async fn a_log_from_before_chunks_verifies_after_the_upgrade_on_sqlite() {
    upgrade(TestDb::sqlite_at(BEFORE_CHUNKS).await).await;
}

#[tokio::test]
async fn a_log_from_before_chunks_verifies_after_the_upgrade_on_postgres() {
    if let Some(db) = TestDb::postgres_at(BEFORE_CHUNKS).await {
        upgrade(db).await;
    }
}

async fn upgrade(db: TestDb) {
    let key = EntryKey::from_secret([7; 32]);
    let store = match db.store.backend() {
        Backend::Sqlite => Store::open_data_dir(db.dir.as_ref().unwrap().path())
            .await
            .unwrap(),
        Backend::Postgres => Store::connect(&db.url).await.unwrap(),
    }
    .with_entry_key(key.clone());
    let lit = |b: &[u8]| {
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        match store.backend() {
            Backend::Sqlite => format!("x'{hex}'"),
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
        }
    };
    // The installation's log, 40 entries (more than two chunks, the last one partial),
    // written the way the earlier release wrote them.
    let alg = HashAlg::Sha256;
    let n = 40u64;
    let mut range = CompactRange::empty();
    let mut tree = MemoryTree::new(alg);
    let mut statements = Vec::new();
    for seq in 0..n {
        let salt = [seq as u8; 32];
        let payload = format!("{{\"attempt\":{seq}}}");
        let at = 1_790_000_000_000 + seq as i64 * 1_000;
        let (actor, subject) = (format!("user:{}", seq % 3), (seq % 3).to_string());
        let entry = Entry {
            seq,
            time_ms: at,
            agency: SYSTEM_LOG_NAME.into(),
            actor: actor.clone(),
            action: "auth.login".into(),
            subject_kind: "user".into(),
            subject_id: subject.clone(),
            commitment: commitment(alg, &salt, payload.as_bytes()),
        };
        let bytes = entry.encode().unwrap();
        tree.append_entry(&bytes);
        for (id, h) in range.append(alg, alg.leaf(&bytes)) {
            statements.push(format!(
                "INSERT INTO ledger_nodes (log_id, level, idx, hash) VALUES ({SYSTEM_LOG}, {}, {}, {})",
                id.level,
                id.index,
                lit(&h)
            ));
        }
        statements.push(format!(
            "INSERT INTO ledger_entries (log_id, seq, entry, mac) VALUES ({SYSTEM_LOG}, {seq}, {}, {})",
            lit(&bytes),
            lit(&key.code_over_bytes(&bytes))
        ));
        statements.push(format!(
            "INSERT INTO journal (log_id, seq, agency_id, at, actor, action, subject_kind, subject_id, snapshot, payload, salt)
             VALUES ({SYSTEM_LOG}, {seq}, NULL, {at}, '{actor}', 'auth.login', 'user', '{subject}', 0, '{payload}', {})",
            lit(&salt)
        ));
    }
    statements.push(format!(
        "INSERT INTO ledger_logs (log_id, origin, name, hash_alg, size, root, created_at)
         VALUES ({SYSTEM_LOG}, '{}', '{SYSTEM_LOG_NAME}', 'sha256', {n}, {}, 0)",
        origin_for(SYSTEM_LOG_NAME),
        lit(&tree.root())
    ));
    store.raw_transaction(&statements).await.unwrap();

    store.migrate().await.unwrap();
    let r = store.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    assert_eq!(r.entries, n);
    // Found by its leaf hash, and its history read from the entries themselves.
    let leaf = tree
        .node(zhifa_ledger::tree::NodeId { level: 0, index: 7 })
        .unwrap();
    assert_eq!(store.leaf_index(SYSTEM_LOG, &leaf).await.unwrap(), Some(7));
    let history = store.journal_for_subject("user", "1").await.unwrap();
    assert_eq!(history.len(), 13);
    assert_eq!(history[0].seq, 1);
    assert_eq!(history[0].at, 1_790_000_001_000);
    assert_eq!(history[0].actor, "user:1");
    assert_eq!(
        history[0].leaf_hash.as_deref(),
        tree.node(zhifa_ledger::tree::NodeId { level: 0, index: 1 })
            .as_ref()
            .map(|h| &h[..])
    );
    // New entries go on after the migrated ones (the last chunk was partial).
    let mut tx = store.write(Actor::System("test")).await.unwrap();
    tx.record_login_failure("nobody", None, "127.0.0.1", "unknown", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = store.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    assert_eq!(r.entries, n + 1);
    store.close().await;
}
