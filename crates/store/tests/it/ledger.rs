//! The logs in the database: every change is an entry, the stored tree is the tree of
//! the stored entries, proofs from stored nodes verify, writers on several connections
//! produce one gapless log.

use zhifa_domain::NewDepartment;
use zhifa_domain::org::{AgencyInput, DepartmentInput};
use zhifa_ledger::HashAlg;
use zhifa_ledger::entry::{Entry, commitment};
use zhifa_ledger::tree::{
    MemoryTree, consistency_plan, inclusion_plan, verify_consistency, verify_inclusion,
};
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, Store, on_both_backends};

on_both_backends!(
    every_change_is_an_entry_and_the_stored_tree_matches_the_entries,
    concurrent_writers_make_one_gapless_log,
    sm3_agency_has_an_sm3_log,
);

async fn agency(store: &Store, slug: &str, code: &str) -> i64 {
    let a = zhifa_domain::NewAgency::parse(&AgencyInput {
        name: format!("{slug} 人民政府"),
        slug: slug.into(),
        kind: "administrative_organ".into(),
        credit_code: code.into(),
        legal_basis: "依据".into(),
        ..Default::default()
    })
    .unwrap();
    let mut tx = store.write(Actor::System("test")).await.unwrap();
    let id = tx.create_agency(&a).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn dept(name: &str) -> NewDepartment {
    NewDepartment::parse(&DepartmentInput {
        name: name.into(),
        ..Default::default()
    })
    .unwrap()
}

async fn rebuild(store: &Store, log_id: i64) -> MemoryTree {
    let head = store.log_head(log_id).await.unwrap();
    let mut t = MemoryTree::new(head.alg);
    for (seq, bytes) in store.log_entries(log_id, 0, head.size).await.unwrap() {
        assert_eq!(seq, t.size(), "gap or reorder at {seq}");
        let e = Entry::decode(&bytes).unwrap();
        assert_eq!(e.seq, seq);
        t.append_entry(&bytes);
    }
    assert_eq!(t.size(), head.size);
    assert_eq!(
        t.root(),
        head.root,
        "stored root is the root of the stored entries"
    );
    t
}

async fn every_change_is_an_entry_and_the_stored_tree_matches_the_entries(db: TestDb) {
    let s = &db.store;
    let a = agency(s, "jia", "914403001922038216").await;
    for i in 0..20 {
        let mut tx = s.write(Actor::User(1)).await.unwrap();
        tx.create_department(a, &dept(&format!("部门{i}")))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let head = s.log_head(a).await.unwrap();
    assert_eq!(head.size, 21, "agency.create + 20 departments");
    let tree = rebuild(s, a).await;

    // The journal row of each entry holds the payload its commitment covers.
    let history = s
        .journal_for_subject(
            "department",
            &s.list_departments(a).await.unwrap()[3].id.to_string(),
        )
        .await
        .unwrap();
    let j = &history[0];
    let bytes = &s
        .log_entries(a, j.seq as u64, j.seq as u64 + 1)
        .await
        .unwrap()[0]
        .1;
    let e = Entry::decode(bytes).unwrap();
    assert_eq!(e.action, "department.create");
    assert_eq!(e.actor, "user:1");
    assert_eq!(e.agency, "jia");
    let payload = j.payload.clone().unwrap();
    assert!(payload.contains("\"name\":\"部门3\""));
    assert_ne!(
        e.commitment,
        commitment(head.alg, &[], payload.as_bytes()),
        "salted"
    );

    // Proofs assembled from stored nodes verify against the stored head.
    for (index, size) in [(0u64, 21u64), (7, 21), (20, 21), (3, 8), (12, 13)] {
        let plan = inclusion_plan(index, size).unwrap();
        let nodes = s.log_nodes(a, &plan.nodes()).await.unwrap();
        let proof = plan
            .assemble(head.alg, |id| nodes.get(&id).copied())
            .unwrap();
        let leaf = tree
            .node(zhifa_ledger::tree::NodeId { level: 0, index })
            .unwrap();
        verify_inclusion(
            head.alg,
            index,
            size,
            &leaf,
            &proof,
            &tree.root_at(size).unwrap(),
        )
        .unwrap();
    }
    for (m, n) in [(1u64, 21u64), (8, 21), (13, 21), (20, 21)] {
        let plan = consistency_plan(m, n).unwrap();
        let nodes = s.log_nodes(a, &plan.nodes()).await.unwrap();
        let proof = plan
            .assemble(head.alg, |id| nodes.get(&id).copied())
            .unwrap();
        verify_consistency(
            head.alg,
            m,
            n,
            &proof,
            &tree.root_at(m).unwrap(),
            &tree.root_at(n).unwrap(),
        )
        .unwrap();
    }

    // A failed login of an unknown name is a security event: it goes to the
    // installation's security log; the installation's own log holds the announcement of
    // the agency's log only.
    let mut tx = s.write(Actor::Anonymous).await.unwrap();
    tx.record_login_failure("nobody", None, "127.0.0.1", "unknown_user", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let system = s.log_head(zhifa_store::ledger::SYSTEM_LOG).await.unwrap();
    assert_eq!(system.size, 1);
    let first = Entry::decode(&s.log_entries(0, 0, 1).await.unwrap()[0].1).unwrap();
    assert_eq!(
        (first.action.as_str(), first.subject_id.as_str()),
        ("ledger.log_create", a.to_string().as_str())
    );
    let security = zhifa_store::ledger::SECURITY_LOG;
    assert_eq!(s.log_head(security).await.unwrap().size, 1);
    let bytes = &s.log_entries(security, 0, 1).await.unwrap()[0].1;
    let e = Entry::decode(bytes).unwrap();
    assert_eq!(
        (
            e.agency.as_str(),
            e.subject_kind.as_str(),
            e.subject_id.as_str()
        ),
        ("_security", "username", "unknown")
    );
    assert!(
        !String::from_utf8_lossy(bytes).contains("nobody"),
        "a typed name never enters the log"
    );
}

async fn concurrent_writers_make_one_gapless_log(db: TestDb) {
    let s = db.store.clone();
    let a = agency(&s, "yi", "91110000802100433B").await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let mut tx = s.write(Actor::User(w)).await.unwrap();
                tx.create_department(a, &dept(&format!("w{w}-{i}")))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.log_head(a).await.unwrap().size, 61);
    rebuild(&s, a).await;
}

async fn sm3_agency_has_an_sm3_log(db: TestDb) {
    let s = &db.store;
    let a = zhifa_domain::NewAgency::parse(&AgencyInput {
        name: "国密县".into(),
        slug: "guomi".into(),
        kind: "administrative_organ".into(),
        credit_code: "12411521MB1953925Y".into(),
        legal_basis: "依据".into(),
        ..Default::default()
    })
    .unwrap();
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let id = tx.create_agency_with(&a, HashAlg::Sm3).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    tx.create_department(id, &dept("司法所")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.log_head(id).await.unwrap().alg, HashAlg::Sm3);
    rebuild(s, id).await;
}
