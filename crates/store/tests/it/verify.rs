//! `verify` finds every kind of tampering, and checkpoints are signed and published.

use zhifa_domain::org::{AgencyInput, DepartmentInput};
use zhifa_domain::{NewAgency, NewDepartment, Role, Username};
use zhifa_ledger::note::{Checkpoint, NoteVerifier, open};
use zhifa_ledger::tiles::{bundle, unbundle};
use zhifa_store::keys::KeyStore;
use zhifa_store::testing::{TestDb, tamper_entries, tamper_hashes};
use zhifa_store::verify::Report;
use zhifa_store::{Actor, Store, on_both_backends};

on_both_backends!(
    an_untouched_database_verifies_and_checkpoints_are_signed,
    a_row_changed_behind_zhifas_back_is_named,
    a_row_inserted_or_deleted_behind_zhifas_back_is_named,
    a_tampered_payload_is_found,
    a_deleted_entry_is_found,
    reordered_entries_are_found,
    a_replaced_checkpoint_signature_or_foreign_key_is_found,
    a_rotated_key_keeps_old_checkpoints_verifiable,
    a_retired_key_cannot_sign_later_checkpoints,
    an_agency_deleted_with_its_whole_log_is_found,
    the_security_log_deleted_whole_is_found_against_what_was_signed,
    the_checkpointer_refuses_a_forged_or_truncated_head,
    erased_payloads_and_journal_flags_cannot_hide_a_changed_row,
    a_changed_tree_node_is_found,
    a_journal_row_without_an_entry_is_found,
    journal_lookup_columns_that_disagree_with_their_entry_are_found,
    data_put_beyond_the_head_by_hand_is_found,
    an_unreadable_entry_is_found,
    a_log_longer_than_one_comparison_chunk_verifies_and_a_late_node_change_is_found,
    an_entry_appended_outside_zhifa_is_refused_and_named,
    entries_from_before_authentication_pass_only_below_the_recorded_size,
    odd_values_and_journal_rows_past_the_head_hide_nothing,
    a_log_cut_short_below_its_signed_size_is_found,
    an_act_that_changed_more_than_its_action_may_is_named,
);

struct World {
    db: TestDb,
    keys: KeyStore,
    _key_dir: tempfile::TempDir,
    agency: i64,
    dept: i64,
}

async fn world(db: TestDb) -> World {
    let s = &db.store;
    let a = NewAgency::parse(&AgencyInput {
        name: "甲乡人民政府".into(),
        slug: "jia".into(),
        kind: "administrative_organ".into(),
        credit_code: "914403001922038216".into(),
        legal_basis: "依据".into(),
        ..Default::default()
    })
    .unwrap();
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let agency = tx.create_agency(&a).await.unwrap();
    let mut dept = 0;
    for name in ["司法所", "综合行政执法大队", "市场监管所"] {
        dept = tx
            .create_department(
                agency,
                &NewDepartment::parse(&DepartmentInput {
                    name: name.into(),
                    ..Default::default()
                })
                .unwrap(),
            )
            .await
            .unwrap();
    }
    tx.create_user(
        agency,
        None,
        &Username::parse("jia-admin").unwrap(),
        "甲",
        "$argon2id$x",
        &[Role::Admin],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let key_dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::open(key_dir.path()).unwrap();
    // The agency's log and the installation's log (which announced it).
    assert_eq!(s.checkpoint_all(&keys).await.unwrap(), 2);
    World {
        db,
        keys,
        _key_dir: key_dir,
        agency,
        dept,
    }
}

async fn sql(s: &Store, q: &str) {
    // Stands in for a database administrator with a SQL shell.
    s.raw_execute(q).await.unwrap();
}

fn failed_with(r: &Report, needle: &str) {
    assert!(
        !r.ok(),
        "verification passed; expected a failure mentioning {needle}"
    );
    assert!(
        r.failures.iter().any(|f| f.contains(needle)),
        "no failure mentions {needle}: {:#?}",
        r.failures
    );
}

async fn an_untouched_database_verifies_and_checkpoints_are_signed(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    // Five in the agency's log, one (its announcement) in the installation's log.
    assert_eq!(r.entries, 6);
    assert_eq!(r.checkpoints, 2);
    assert!(r.rows >= 5);
    // The checkpoint is a C2SP signed note that the published key verifies.
    let (size, note) = s.latest_checkpoint(w.agency).await.unwrap().unwrap();
    assert_eq!(size, 5);
    let keys = s.log_keys(w.agency).await.unwrap();
    let v = NoteVerifier::parse(&keys[0].0).unwrap();
    let (text, _) = open(&note, &[v]).unwrap();
    let cp = Checkpoint::parse(text).unwrap();
    assert_eq!(cp.origin, "zhifa/jia");
    assert_eq!(cp.root, s.log_head(w.agency).await.unwrap().root);
    // Nothing new, nothing signed; growth gets a new checkpoint.
    assert_eq!(s.checkpoint_all(&w.keys).await.unwrap(), 0);
    let mut tx = s.write(Actor::User(1)).await.unwrap();
    tx.create_department(
        w.agency,
        &NewDepartment::parse(&DepartmentInput {
            name: "信访办".into(),
            ..Default::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.checkpoint_all(&w.keys).await.unwrap(), 1);
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    assert_eq!(r.checkpoints, 3);
    // The key file is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::read_dir(w._key_dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().extension().is_some_and(|x| x == "key"))
            .unwrap();
        assert_eq!(key.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
}

async fn a_row_changed_behind_zhifas_back_is_named(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    sql(
        s,
        &format!("UPDATE departments SET name = '篡改' WHERE id = {}", w.dept),
    )
    .await;
    let r = s.verify(&[]).await.unwrap();
    failed_with(&r, &format!("departments 表 id={}", w.dept));
    // A password hash swapped in by a DBA is found too.
    sql(
        s,
        &format!(
            "UPDATE departments SET name = '市场监管所' WHERE id = {}",
            w.dept
        ),
    )
    .await;
    assert!(s.verify(&[]).await.unwrap().ok());
    sql(s, "UPDATE users SET password_hash = '$argon2id$forged'").await;
    failed_with(&s.verify(&[]).await.unwrap(), "users 表 id=");
}

async fn a_row_inserted_or_deleted_behind_zhifas_back_is_named(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    sql(s, &format!("INSERT INTO departments (agency_id, name, duties, sort_order, created_at, updated_at) VALUES ({}, '幽灵部门', '', 0, 0, 0)", w.agency)).await;
    failed_with(&s.verify(&[]).await.unwrap(), "不在日志中");
    sql(s, "DELETE FROM departments WHERE name = '幽灵部门'").await;
    sql(s, &format!("DELETE FROM departments WHERE id = {}", w.dept)).await;
    failed_with(
        &s.verify(&[]).await.unwrap(),
        &format!("departments 表 id={} 已被绕过系统删除", w.dept),
    );
}

async fn a_tampered_payload_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    sql(s, "UPDATE journal SET payload = REPLACE(payload, '司法所', '公安局') WHERE action = 'department.create'").await;
    failed_with(&s.verify(&[]).await.unwrap(), "承诺哈希");
}

async fn a_deleted_entry_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    tamper_entries(s, w.agency, |e| {
        e.remove(2);
    })
    .await;
    failed_with(&s.verify(&[]).await.unwrap(), "缺少第 2 条");
}

async fn reordered_entries_are_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    tamper_entries(s, w.agency, |e| e.swap(1, 2)).await;
    failed_with(&s.verify(&[]).await.unwrap(), "被移动或调换");
}

async fn a_replaced_checkpoint_signature_or_foreign_key_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let (size, note) = s.latest_checkpoint(w.agency).await.unwrap().unwrap();
    // Flip one character of the signature.
    let sig_start = note.rfind(' ').unwrap() + 5;
    let mut bytes = note.clone().into_bytes();
    bytes[sig_start] = if bytes[sig_start] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).unwrap();
    sql(
        s,
        &format!(
            "UPDATE ledger_checkpoints SET note = '{}' WHERE log_id = {} AND size = {size}",
            forged.replace('\'', "''"),
            w.agency
        ),
    )
    .await;
    failed_with(&s.verify(&[]).await.unwrap(), "签名无效");

    // A checkpoint signed by another key with the same name.
    let other = zhifa_ledger::note::NoteSigner::ed25519("zhifa/jia", [42u8; 32]).unwrap();
    let body = Checkpoint {
        origin: "zhifa/jia".into(),
        size,
        root: s.log_head(w.agency).await.unwrap().root,
        extensions: vec![],
    }
    .body();
    let foreign = zhifa_ledger::note::sign(&body, &[&other]).unwrap();
    sql(
        s,
        &format!(
            "UPDATE ledger_checkpoints SET note = '{}' WHERE log_id = {} AND size = {size}",
            foreign.replace('\'', "''"),
            w.agency
        ),
    )
    .await;
    failed_with(&s.verify(&[]).await.unwrap(), "签名无效");

    // And a DBA who also swaps the published key is caught by a key known out of band.
    let real_key = s.log_keys(w.agency).await.unwrap()[0].0.clone();
    sql(
        s,
        &format!(
            "UPDATE ledger_keys SET verifier_key = '{}' WHERE log_id = {}",
            other.verifier_key(),
            w.agency
        ),
    )
    .await;
    assert!(
        s.verify(&[]).await.unwrap().ok(),
        "with the swapped key alone the forgery passes"
    );
    failed_with(&s.verify(&[real_key]).await.unwrap(), "签名无效");
}

async fn a_rotated_key_keeps_old_checkpoints_verifiable(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let old = s.log_keys(w.agency).await.unwrap()[0].0.clone();
    let new = s.rotate_log_key(w.agency, &w.keys).await.unwrap();
    assert_ne!(old, new);
    let keys = s.log_keys(w.agency).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].1 && !keys[1].1, "old retired, new current");
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    assert_eq!(
        r.checkpoints, 3,
        "two of the agency's log (old and new key), one of the installation's"
    );
    let (_, note) = s.latest_checkpoint(w.agency).await.unwrap().unwrap();
    assert!(open(&note, &[NoteVerifier::parse(&new).unwrap()]).is_ok());
    assert!(open(&note, &[NoteVerifier::parse(&old).unwrap()]).is_err());
    // The old private key is gone from the key directory.
    let files: Vec<String> = std::fs::read_dir(w._key_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.iter().filter(|f| f.starts_with("zhifa_jia")).count(),
        2,
        "one key and its signed-head record: {files:?}"
    );
    assert!(
        files
            .iter()
            .all(|f| !f.contains("retired") && !f.ends_with(".new")),
        "{files:?}"
    );
}

async fn the_checkpointer_refuses_a_forged_or_truncated_head(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let a = w.agency;
    // A made-up head: never signed.
    let real = s.log_head(a).await.unwrap();
    sql(
        s,
        &format!("UPDATE ledger_logs SET size = 1000 WHERE log_id = {a}"),
    )
    .await;
    assert!(s.checkpoint_all(&w.keys).await.is_err());
    assert_eq!(
        s.latest_checkpoint(a).await.unwrap().unwrap().0,
        real.size,
        "nothing new signed"
    );
    sql(
        s,
        &format!(
            "UPDATE ledger_logs SET size = {} WHERE log_id = {a}",
            real.size
        ),
    )
    .await;

    // A truncated log whose head row was made to agree with the shorter tree.
    let last = real.size - 1;
    tamper_entries(s, a, |e| {
        e.pop();
    })
    .await;
    sql(
        s,
        &format!("DELETE FROM journal WHERE log_id = {a} AND seq = {last}"),
    )
    .await;
    // The stored nodes that covered the last entry go with it.
    for level in [0, 4] {
        tamper_hashes(s, a, level, |h| h.truncate((last >> level) as usize)).await;
    }
    let shorter = {
        let mut t = zhifa_ledger::tree::MemoryTree::new(real.alg);
        for (_, e) in s.log_entries(a, 0, last).await.unwrap() {
            t.append_entry(&e);
        }
        t.root()
    };
    let hex: String = shorter.iter().map(|b| format!("{b:02x}")).collect();
    let lit = if s.backend() == zhifa_store::Backend::Postgres {
        format!("'\\x{hex}'::bytea")
    } else {
        format!("x'{hex}'")
    };
    sql(
        s,
        &format!("UPDATE ledger_logs SET size = {last}, root = {lit} WHERE log_id = {a}"),
    )
    .await;
    let err = s.checkpoint_all(&w.keys).await.unwrap_err();
    assert!(err.to_string().contains("shrank"), "{err}");
}

async fn erased_payloads_and_journal_flags_cannot_hide_a_changed_row(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    // Erasing the readable payload (as de-identification will) keeps the row checkable.
    sql(
        s,
        "UPDATE journal SET payload = NULL WHERE subject_kind = 'department'",
    )
    .await;
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "erasure alone is not tampering: {:#?}", r.failures);
    sql(
        s,
        &format!("UPDATE departments SET name = '篡改' WHERE id = {}", w.dept),
    )
    .await;
    failed_with(
        &s.verify(&[]).await.unwrap(),
        &format!("departments 表 id={}", w.dept),
    );
    sql(
        s,
        &format!(
            "UPDATE departments SET name = '市场监管所' WHERE id = {}",
            w.dept
        ),
    )
    .await;
    // Flipping the journal's snapshot flag changes nothing: entries decide by their action.
    sql(s, "UPDATE journal SET snapshot = 0").await;
    assert!(s.verify(&[]).await.unwrap().ok());
    // A removed salt is damage.
    sql(
        s,
        "UPDATE journal SET salt = NULL WHERE action = 'user.create'",
    )
    .await;
    failed_with(&s.verify(&[]).await.unwrap(), "盐值缺失");
    // A trusted key that names no log is an operator error, not a pass.
    let stray = zhifa_ledger::note::NoteSigner::ed25519("zhifa/nowhere", [9u8; 32]).unwrap();
    failed_with(
        &s.verify(&[stray.verifier_key()]).await.unwrap(),
        "trusted key names no log",
    );
}

async fn an_agency_deleted_with_its_whole_log_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let a = w.agency;
    for table in [
        "ledger_checkpoints",
        "ledger_keys",
        "ledger_hash_chunks",
        "ledger_entry_chunks",
        "journal",
        "ledger_logs",
    ] {
        sql(s, &format!("DELETE FROM {table} WHERE log_id = {a}")).await;
    }
    for table in ["users", "departments"] {
        sql(s, &format!("DELETE FROM {table} WHERE agency_id = {a}")).await;
    }
    sql(s, &format!("DELETE FROM agencies WHERE id = {a}")).await;
    failed_with(
        &s.verify(&[]).await.unwrap(),
        &format!("系统日志登记的日志 {a} 已不存在"),
    );
}

/// Nothing announces the installation's own logs, so the security log deleted whole (its
/// head row too) is found against the signer's records beside the key.
async fn the_security_log_deleted_whole_is_found_against_what_was_signed(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let mut tx = s.write(Actor::Anonymous).await.unwrap();
    tx.record_login_failure("nobody", None, "10.0.0.1", "unknown_user", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    s.checkpoint_all(&w.keys).await.unwrap();
    assert!(s.rollback_findings(&w.keys).await.unwrap().is_empty());
    let log = zhifa_store::ledger::SECURITY_LOG;
    for table in [
        "ledger_checkpoints",
        "ledger_keys",
        "ledger_hash_chunks",
        "ledger_entry_chunks",
        "journal",
        "ledger_logs",
    ] {
        sql(s, &format!("DELETE FROM {table} WHERE log_id = {log}")).await;
    }
    let found = s.rollback_findings(&w.keys).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].to_string().contains("zhifa/_security"),
        "{}",
        found[0]
    );
}

async fn a_retired_key_cannot_sign_later_checkpoints(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    // Someone kept a copy of the key before it was rotated…
    let copy = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(w._key_dir.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
    }
    s.rotate_log_key(w.agency, &w.keys).await.unwrap();
    // …and signs a later head with it.
    let old = KeyStore::open(copy.path())
        .unwrap()
        .signer("zhifa/jia")
        .unwrap()
        .unwrap();
    let head = s.log_head(w.agency).await.unwrap();
    let body = Checkpoint {
        origin: head.origin.clone(),
        size: head.size,
        root: head.root,
        extensions: vec![],
    }
    .body();
    let forged = zhifa_ledger::note::sign(&body, &[&old]).unwrap();
    sql(
        s,
        &format!(
            "DELETE FROM ledger_checkpoints WHERE log_id = {} AND size = {}",
            w.agency, head.size
        ),
    )
    .await;
    sql(s, &format!("INSERT INTO ledger_checkpoints (log_id, size, note, created_at) VALUES ({}, {}, '{}', 0)", w.agency, head.size, forged.replace('\'', "''"))).await;
    failed_with(&s.verify(&[]).await.unwrap(), "retired at size");
}

async fn a_changed_tree_node_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    // A stored leaf hash, as a proof would serve it (the nodes above it are computed
    // from the stored ones).
    tamper_hashes(s, w.agency, 0, |h| h[3] = h[0]).await;
    failed_with(&s.verify(&[]).await.unwrap(), "树节点（第 0 层第 3 个）");
}

async fn a_journal_row_without_an_entry_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    // A history line slipped in between existing ones, with no entry behind it.
    sql(
        s,
        &format!(
            "INSERT INTO journal (log_id, seq, agency_id, action, subject_kind, subject_id, snapshot, payload, salt, leaf_key)
             SELECT log_id, -1, agency_id, action, subject_kind, subject_id, snapshot, payload, salt, leaf_key
             FROM journal WHERE log_id = {a} AND seq = 1",
            a = w.agency
        ),
    )
    .await;
    failed_with(&s.verify(&[]).await.unwrap(), "没有对应的日志条目");
}

async fn journal_lookup_columns_that_disagree_with_their_entry_are_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let a = w.agency;
    // A history line moved to another record: it would show in that record's history.
    let original = s
        .journal_for_agency(a, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.seq == 1)
        .unwrap()
        .subject_id;
    sql(
        s,
        &format!("UPDATE journal SET subject_id = '999' WHERE log_id = {a} AND seq = 1"),
    )
    .await;
    failed_with(
        &s.verify(&[]).await.unwrap(),
        "第 1 条：操作记录（操作或对象）与日志不符",
    );
    sql(
        s,
        &format!("UPDATE journal SET subject_id = '{original}' WHERE log_id = {a} AND seq = 1"),
    )
    .await;
    // A leaf key changed: the entry could no longer be found by its hash on the portal.
    let head = s.log_head(a).await.unwrap();
    let leaf = s
        .log_nodes(a, &[zhifa_ledger::tree::NodeId { level: 0, index: 2 }])
        .await
        .unwrap()
        .into_values()
        .next()
        .unwrap();
    assert_eq!(s.leaf_index(a, &leaf).await.unwrap(), Some(2));
    sql(
        s,
        &format!("UPDATE journal SET leaf_key = leaf_key + 1 WHERE log_id = {a} AND seq = 2"),
    )
    .await;
    assert_eq!(s.leaf_index(a, &leaf).await.unwrap(), None);
    failed_with(
        &s.verify(&[]).await.unwrap(),
        "第 2 条：操作记录中的叶哈希索引与条目不符",
    );
    assert!(head.size > 2);
}

async fn data_put_beyond_the_head_by_hand_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let a = w.agency;
    let size = s.log_head(a).await.unwrap().size as usize;
    // A well-formed entry (with no code) after the last one: the next genuine entry
    // would be stored after it, out of its place.
    tamper_entries(s, a, |e| e.push((b"not an entry".to_vec(), None))).await;
    failed_with(&s.verify(&[]).await.unwrap(), "树头之外存有数据（条目第");
    tamper_entries(s, a, |e| e.truncate(size)).await;
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "restored: {:#?}", r.failures);
    // A hash after the last leaf.
    tamper_hashes(s, a, 0, |h| h.push([7; 32])).await;
    failed_with(
        &s.verify(&[]).await.unwrap(),
        "树头之外存有数据（第 0 层树节点",
    );
    tamper_hashes(s, a, 0, |h| h.truncate(size)).await;
    // A whole chunk beyond the head.
    sql(
        s,
        &format!(
            "INSERT INTO ledger_hash_chunks (log_id, level, chunk, hashes) SELECT log_id, 4, 99, hashes FROM ledger_hash_chunks WHERE log_id = {a} AND level = 0 AND chunk = 0"
        ),
    )
    .await;
    failed_with(&s.verify(&[]).await.unwrap(), "第 4 层树节点第 99 块");
}

async fn an_unreadable_entry_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    tamper_entries(s, w.agency, |e| e[3].0 = vec![0x00, 0xff]).await;
    failed_with(&s.verify(&[]).await.unwrap(), "无法解析");
}

async fn a_log_longer_than_one_comparison_chunk_verifies_and_a_late_node_change_is_found(
    db: TestDb,
) {
    let w = world(db).await;
    let s = &w.db.store;
    let p = zhifa_domain::Principal {
        user_id: 1,
        username: "jia-admin".into(),
        display_name: "甲".into(),
        agency_id: w.agency,
        department_id: None,
        roles: vec![],
    };
    // Past the replay's first comparison of recomputed and stored nodes (16,384 entries).
    let mut tx = s.write(Actor::User(1)).await.unwrap();
    for _ in 0..17_000 {
        tx.record_test_event(
            p.agency_id,
            serde_json::json!({"capability": "test", "method": "GET", "path": "/test"}),
        );
    }
    tx.commit().await.unwrap();
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    assert_eq!(r.entries, 17_006);
    tamper_hashes(s, w.agency, 0, |h| h[16_900] = h[0]).await;
    failed_with(&s.verify(&[]).await.unwrap(), "第 0 层第 16900 个）");
}

async fn an_entry_appended_outside_zhifa_is_refused_and_named(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    // Someone with the database but not the key directory changes a department and
    // appends a perfectly well-formed entry for it, tree nodes and head included — here
    // with zhifa's own write path, just without the installation's key.
    let outsider = match s.backend() {
        zhifa_store::Backend::Sqlite => Store::open_data_dir(w.db.dir.as_ref().unwrap().path())
            .await
            .unwrap(),
        zhifa_store::Backend::Postgres => Store::connect(&w.db.url).await.unwrap(),
    };
    let mut tx = outsider.write(Actor::User(1)).await.unwrap();
    tx.update_department(
        w.dept,
        1,
        &NewDepartment::parse(&DepartmentInput {
            name: "公安局".into(),
            ..Default::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    outsider.close().await;
    // The checkpointer will not sign it…
    let err = s.checkpoint_all(&w.keys).await.unwrap_err().to_string();
    assert!(err.contains("no genuine authentication code"), "{err}");
    // …and verify names it.
    failed_with(&s.verify(&[]).await.unwrap(), "没有认证码");
    // An entry whose code was made for other bytes is named too.
    tamper_entries(s, w.agency, |e| e[1].1 = e[0].1.clone()).await;
    failed_with(&s.verify(&[]).await.unwrap(), "认证码不符");
}

async fn entries_from_before_authentication_pass_only_below_the_recorded_size(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let outsider = match s.backend() {
        zhifa_store::Backend::Sqlite => Store::open_data_dir(w.db.dir.as_ref().unwrap().path())
            .await
            .unwrap(),
        zhifa_store::Backend::Postgres => Store::connect(&w.db.url).await.unwrap(),
    };
    // An installation that predates entry codes wrote this (no key, no code)…
    let mut tx = outsider.write(Actor::System("old-version")).await.unwrap();
    tx.update_department(
        w.dept,
        1,
        &NewDepartment::parse(&DepartmentInput {
            name: "旧版本写入".into(),
            ..Default::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // …then the key was created, and the logs' sizes recorded beside it.
    let legacy: std::collections::HashMap<String, u64> = s
        .log_heads()
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.origin, h.size))
        .collect();
    let keyed = s.clone().with_entry_legacy(legacy);
    assert!(keyed.verify(&[]).await.unwrap().ok());
    assert_eq!(keyed.checkpoint_all(&w.keys).await.unwrap(), 1);
    // An entry without a code after that line is named, whatever a checkpoint says.
    let mut tx = outsider.write(Actor::User(1)).await.unwrap();
    tx.update_department(
        w.dept,
        2,
        &NewDepartment::parse(&DepartmentInput {
            name: "绕过系统".into(),
            ..Default::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    failed_with(
        &keyed.verify(&[]).await.unwrap(),
        "晚于启用条目认证时的日志长度",
    );
    assert!(keyed.checkpoint_all(&w.keys).await.is_err());
    outsider.close().await;
}

async fn odd_values_and_journal_rows_past_the_head_hide_nothing(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let a = w.agency;
    // A changed row with a made-up journal row far past the head, to look "changed while
    // verifying": still named.
    sql(
        s,
        &format!("UPDATE departments SET name = '改名' WHERE id = {}", w.dept),
    )
    .await;
    sql(
        s,
        &format!(
            "INSERT INTO journal (log_id, seq, agency_id, action, subject_kind, subject_id, snapshot, payload, salt, leaf_key)
             SELECT log_id, 999999, agency_id, action, subject_kind, subject_id, snapshot, payload, salt, leaf_key
             FROM journal WHERE log_id = {a} AND subject_kind = 'department' AND subject_id = '{}'
             ORDER BY seq DESC LIMIT 1",
            w.dept
        ),
    )
    .await;
    let r = s.verify(&[]).await.unwrap();
    failed_with(&r, "被绕过系统修改");
    // A value of the wrong type is a finding, not the end of verification.
    sql(
        s,
        &format!("UPDATE journal SET salt = NULL WHERE log_id = {a} AND seq = 1"),
    )
    .await;
    let r = s.verify(&[]).await.unwrap();
    failed_with(&r, "盐值缺失");
    failed_with(&r, "被绕过系统修改");
    // Text where bytes belong (SQLite keeps the type it is given).
    sql(
        s,
        &format!("UPDATE ledger_entry_chunks SET entries = 'abc' WHERE log_id = {a} AND chunk = 0"),
    )
    .await;
    failed_with(
        &s.verify(&[]).await.unwrap(),
        "第 0 块条目（第 0 条起）损坏",
    );
    if s.backend() == zhifa_store::Backend::Sqlite {
        // Hashes of the right length, stored as text: zhifa's own reads refuse them.
        sql(
            s,
            &format!("UPDATE ledger_hash_chunks SET hashes = CAST(hashes AS TEXT) WHERE log_id = {a} AND level = 0 AND chunk = 0"),
        )
        .await;
        failed_with(
            &s.verify(&[]).await.unwrap(),
            "第 0 层树节点块 / node chunks at level 0（无法读取",
        );
    }
}

async fn a_log_cut_short_below_its_signed_size_is_found(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let a = w.agency;
    // Drop the last entry and move the head back by one, consistently: only the signed
    // checkpoint, kept outside the shortened range, still remembers the lost entry.
    let head = s.log_head(a).await.unwrap();
    let last = head.size - 1;
    let root = s.log_root_at(a, head.alg, last).await.unwrap();
    let root = zhifa_ledger::hash::to_hex(&root);
    let lit = match s.backend() {
        zhifa_store::Backend::Postgres => format!("'\\x{root}'::bytea"),
        zhifa_store::Backend::Sqlite => format!("x'{root}'"),
    };
    tamper_entries(s, a, |e| {
        e.pop();
    })
    .await;
    for level in [0, 4] {
        tamper_hashes(s, a, level, |h| h.truncate((last >> level) as usize)).await;
    }
    for q in [
        format!("DELETE FROM journal WHERE log_id = {a} AND seq = {last}"),
        format!("UPDATE ledger_logs SET size = {last}, root = {lit} WHERE log_id = {a}"),
    ] {
        sql(s, &q).await;
    }
    failed_with(&s.verify(&[]).await.unwrap(), "日志被截短");
}

/// Test stores read a log in stretches (`TEST_VERIFY_SPLIT`), each starting from the
/// stored nodes at its start, which the stretch before checks. Whichever stretch reads
/// it, and wherever the cut falls on this machine, every stored node and entry is
/// checked: each one changed alone is named.
#[tokio::test]
async fn every_node_and_entry_is_checked_whichever_stretch_reads_it() {
    let w = world(TestDb::sqlite().await).await;
    let s = &w.db.store;
    let a = w.agency;
    let p = zhifa_domain::Principal {
        user_id: 1,
        username: "jia-admin".into(),
        display_name: "甲".into(),
        agency_id: a,
        department_id: None,
        roles: vec![],
    };
    let mut tx = s.write(Actor::User(1)).await.unwrap();
    for _ in 0..60 {
        tx.record_test_event(
            p.agency_id,
            serde_json::json!({"capability": "test", "method": "GET", "path": "/test"}),
        );
    }
    tx.commit().await.unwrap();
    let n = s.log_head(a).await.unwrap().size;
    assert!(
        n >= 2 * zhifa_store::testing::TEST_VERIFY_SPLIT,
        "the log is long enough to be cut"
    );
    let path = w.db.dir.as_ref().unwrap().path().join("zhifa.db");
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    // Every stored node: each hash of each chunk of the stored levels.
    let chunks: Vec<(i64, i64, Vec<u8>)> = rows(
        &conn,
        "SELECT level, chunk, hashes FROM ledger_hash_chunks WHERE log_id = ?1",
        a,
    );
    assert!(
        chunks
            .iter()
            .map(|(_, _, h)| h.len() as u64 / 32)
            .sum::<u64>()
            >= n
    );
    let set_chunk = |level: i64, chunk: i64, hashes: &[u8]| {
        conn.execute(
            "UPDATE ledger_hash_chunks SET hashes = ?1 WHERE log_id = ?2 AND level = ?3 AND chunk = ?4",
            rusqlite::params![hashes, a, level, chunk],
        )
        .unwrap();
    };
    for (level, chunk, hashes) in &chunks {
        for k in 0..hashes.len() / 32 {
            let mut changed = hashes.clone();
            changed[k * 32 + 31] ^= 1;
            set_chunk(*level, *chunk, &changed);
            let idx = *chunk as usize * 16 + k;
            failed_with(
                &s.verify(&[]).await.unwrap(),
                &format!("第 {level} 层第 {idx} 个）"),
            );
            set_chunk(*level, *chunk, hashes);
        }
    }
    // Every entry: its code forged, then the entry taken out of its chunk.
    let chunks: Vec<(i64, Vec<u8>, Vec<u8>)> = rows(
        &conn,
        "SELECT chunk, entries, codes FROM ledger_entry_chunks WHERE log_id = ?1",
        a,
    );
    let set_chunk = |chunk: i64, entries: &[Vec<u8>], codes: &[Vec<u8>]| {
        conn.execute(
            "UPDATE ledger_entry_chunks SET entries = ?1, codes = ?2 WHERE log_id = ?3 AND chunk = ?4",
            rusqlite::params![bundle(entries).unwrap(), bundle(codes).unwrap(), a, chunk],
        )
        .unwrap();
    };
    let mut seen = 0;
    for (chunk, entries, codes) in &chunks {
        let (entries, codes) = (unbundle(entries).unwrap(), unbundle(codes).unwrap());
        for k in 0..entries.len() {
            let seq = *chunk as u64 * 16 + k as u64;
            let mut forged = codes.clone();
            forged[k][39] ^= 1;
            set_chunk(*chunk, &entries, &forged);
            failed_with(
                &s.verify(&[]).await.unwrap(),
                &format!("第 {seq} 条：认证码不符"),
            );
            let (mut fewer, mut fewer_codes) = (entries.clone(), codes.clone());
            fewer.remove(k);
            fewer_codes.remove(k);
            set_chunk(*chunk, &fewer, &fewer_codes);
            let expected = if seq == n - 1 {
                "头部记录".to_owned()
            } else {
                format!("缺少第 {seq} 条记录")
            };
            failed_with(&s.verify(&[]).await.unwrap(), &expected);
            set_chunk(*chunk, &entries, &codes);
            seen += 1;
        }
    }
    assert_eq!(seen, n);
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "restored: {:#?}", r.failures);
    assert_eq!(r.entries, n + s.log_head(0).await.unwrap().size);
}

/// Every row `sql` gives for the log `a`, as three columns.
fn rows<A, B, C>(conn: &rusqlite::Connection, sql: &str, a: i64) -> Vec<(A, B, C)>
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
{
    conn.prepare(sql)
        .unwrap()
        .query_map([a], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn an_act_that_changed_more_than_its_action_may_is_named(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let user = s.user_by_username("jia-admin").await.unwrap().id;
    // A genuine password reset: within its reach.
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    tx.set_user_password(user, "$argon2id$y").await.unwrap();
    tx.commit().await.unwrap();
    assert!(s.verify(&[]).await.unwrap().ok());
    // Enough other entries that the reset and what follows fall in different stretches
    // of the replay (tests cut logs every 16 entries): the comparison crosses the cut.
    for i in 0..40 {
        let mut tx = s.write(Actor::System("test")).await.unwrap();
        tx.create_department(
            w.agency,
            &NewDepartment::parse(&DepartmentInput {
                name: format!("科室{i}"),
                ..Default::default()
            })
            .unwrap(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert!(s.verify(&[]).await.unwrap().ok());
    // A "password reset" whose entry also carries another role: every code genuine, the
    // row equal to its entry — only the action's reach gives it away.
    zhifa_store::testing::act_unchecked(
        s,
        w.agency,
        "user.password",
        "user",
        user,
        &format!(
            "UPDATE users SET password_hash = 'z', roles = 'admin,supervisor', version = version + 1 WHERE id = {user}"
        ),
    )
    .await;
    let r = s.verify(&[]).await.unwrap();
    failed_with(&r, "user.password");
    failed_with(&r, "roles");
    // A step that moved a department's name is named the same way.
    zhifa_store::testing::act_unchecked(
        s,
        w.agency,
        "department.update",
        "department",
        w.dept,
        &format!("UPDATE departments SET agency_id = agency_id, name = '改名', version = version + 1 WHERE id = {}", w.dept),
    )
    .await;
    let r = s.verify(&[]).await.unwrap();
    assert_eq!(
        r.failures.iter().filter(|f| f.contains("不应改动")).count(),
        1,
        "{:#?}",
        r.failures
    );
}
