//! This installation as a witness: it cosigns a log that grows, refuses and records a
//! fork, does not forget what it cosigned when its own database is put back, and does not
//! trust a log key written with SQL. The log's side: what it sends, and the cosignatures it
//! keeps and serves.

use zhifa_ledger::HashAlg;
use zhifa_ledger::note::{Checkpoint, NoteSigner, sign};
use zhifa_ledger::tree::MemoryTree;
use zhifa_ledger::witness::{AddCheckpoint, CosignatureVerifier, Refusal};
use zhifa_store::keys::KeyStore;
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, Store, on_both_backends};

on_both_backends!(
    a_witness_cosigns_growth_and_records_a_fork,
    a_witness_database_put_back_does_not_make_it_forget,
    a_log_key_written_with_sql_is_not_trusted,
    a_log_sends_its_checkpoints_and_keeps_valid_cosignatures,
    two_first_requests_at_once_cosign_one,
);

const ORIGIN: &str = "zhifa/zhutang";

/// A township's log, outside this installation.
struct Township {
    signer: NoteSigner,
    tree: MemoryTree,
}

impl Township {
    fn new(entries: &[&str]) -> Township {
        let mut t = Township {
            signer: NoteSigner::ed25519(ORIGIN, [21; 32]).unwrap(),
            tree: MemoryTree::new(HashAlg::Sha256),
        };
        for e in entries {
            t.tree.append_entry(e.as_bytes());
        }
        t
    }

    fn request(&self, old: u64) -> String {
        let size = self.tree.size();
        let body = Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: self.tree.root(),
            extensions: vec![],
        }
        .body();
        AddCheckpoint {
            old_size: old,
            proof: if old == 0 || old == size {
                vec![]
            } else {
                self.tree.consistency_proof(old, size).unwrap()
            },
            checkpoint: sign(&body, &[&self.signer]).unwrap(),
        }
        .body()
    }
}

async fn witness(s: &Store) -> (tempfile::TempDir, KeyStore, CosignatureVerifier) {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::open(dir.path()).unwrap();
    let c = keys.create_cosigner("county.example/witness").unwrap();
    let township = Township::new(&[]);
    s.trust_witnessed_log(
        Actor::System("test"),
        &township.signer.verifier_key(),
        "朱堂乡人民政府",
    )
    .await
    .unwrap();
    let v = CosignatureVerifier::parse(&c.verifier_key()).unwrap();
    (dir, keys, v)
}

async fn a_witness_cosigns_growth_and_records_a_fork(db: TestDb) {
    let s = &db.store;
    let (_dir, keys, v) = witness(s).await;
    let t = Township::new(&["a", "b", "c", "d", "e"]);
    let line = s
        .witness_add_checkpoint(&keys, &t.request(0))
        .await
        .unwrap()
        .unwrap();
    let t8 = Township::new(&["a", "b", "c", "d", "e", "f", "g", "h"]);
    // A client that does not know the witness's size learns it from the 409.
    assert_eq!(
        s.witness_add_checkpoint(&keys, &t8.request(0))
            .await
            .unwrap(),
        Err(Refusal::Conflict { latest: 5 })
    );
    let line8 = s
        .witness_add_checkpoint(&keys, &t8.request(5))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(line, line8);
    // The monitoring endpoint serves the newest cosigned note, with both signatures.
    let hash = zhifa_store::witness::origin_hash(ORIGIN);
    let note = s.witnessed_checkpoint(&hash).await.unwrap().unwrap();
    assert!(note.contains("\n8\n") && note.ends_with(&line8));
    assert!(v.cosigned_at(&note).is_ok());
    // The township puts back a copy of 5 entries and writes others on it: refused, kept.
    let fork = Township::new(&["a", "b", "c", "d", "e", "X", "Y", "Z", "W"]);
    let refused = s
        .witness_add_checkpoint(&keys, &fork.request(8))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(refused, Refusal::Inconsistent(_)), "{refused:?}");
    // Asked again (a township's checkpointer retries every few seconds): one conflict.
    assert!(matches!(
        s.witness_add_checkpoint(&keys, &fork.request(8))
            .await
            .unwrap(),
        Err(Refusal::Inconsistent(_))
    ));
    let conflicts = s.witness_conflicts(10).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(
        (conflicts[0].cosigned_size, conflicts[0].size),
        (8, 9),
        "{conflicts:?}"
    );
    assert!(conflicts[0].checkpoint.contains("\n9\n"));
    // What was cosigned did not move.
    let logs = s.witnessed_logs().await.unwrap();
    assert_eq!(logs[0].cosigned.as_ref().unwrap().0, 8);
    // A log nobody trusted: 404; garbage: 400.
    let stranger = Township {
        signer: NoteSigner::ed25519("zhifa/other", [5; 32]).unwrap(),
        tree: MemoryTree::new(HashAlg::Sha256),
    };
    let body = sign(
        &Checkpoint {
            origin: "zhifa/other".into(),
            size: 0,
            root: HashAlg::Sha256.empty_root(),
            extensions: vec![],
        }
        .body(),
        &[&stranger.signer],
    )
    .unwrap();
    assert_eq!(
        s.witness_add_checkpoint(&keys, &format!("old 0\n\n{body}"))
            .await
            .unwrap(),
        Err(Refusal::UnknownLog)
    );
    assert_eq!(
        s.witness_add_checkpoint(&keys, "hello")
            .await
            .unwrap()
            .unwrap_err()
            .status(),
        400
    );
    // Resetting is explicit and keeps the conflicts.
    assert_eq!(
        s.reset_witnessed_log(Actor::System("test"), &keys, ORIGIN)
            .await
            .unwrap(),
        Some(8)
    );
    assert!(
        s.witness_add_checkpoint(&keys, &fork.request(0))
            .await
            .unwrap()
            .is_ok()
    );
    assert_eq!(s.witness_conflicts(10).await.unwrap().len(), 1);
}

async fn a_witness_database_put_back_does_not_make_it_forget(db: TestDb) {
    let s = &db.store;
    let (_dir, keys, _) = witness(s).await;
    let t5 = Township::new(&["a", "b", "c", "d", "e"]);
    s.witness_add_checkpoint(&keys, &t5.request(0))
        .await
        .unwrap()
        .unwrap();
    let t8 = Township::new(&["a", "b", "c", "d", "e", "f", "g", "h"]);
    s.witness_add_checkpoint(&keys, &t8.request(5))
        .await
        .unwrap()
        .unwrap();
    // The county's database loses the newest record (an older copy put back).
    s.raw_execute("DELETE FROM witness_heads").await.unwrap();
    // The township's fork from 5 is still refused: the record beside the key says 8.
    let fork = Township::new(&["a", "b", "c", "d", "e", "X", "Y", "Z", "W"]);
    assert_eq!(
        s.witness_add_checkpoint(&keys, &fork.request(0))
            .await
            .unwrap(),
        Err(Refusal::Conflict { latest: 8 })
    );
    assert!(matches!(
        s.witness_add_checkpoint(&keys, &fork.request(8))
            .await
            .unwrap(),
        Err(Refusal::Inconsistent(_))
    ));
}

async fn a_log_key_written_with_sql_is_not_trusted(db: TestDb) {
    let s = &db.store;
    let (_dir, keys, _) = witness(s).await;
    // Someone with a SQL shell swaps the township's key for one they hold.
    let forger = NoteSigner::ed25519(ORIGIN, [99; 32]).unwrap();
    s.raw_execute(&format!(
        "UPDATE witnessed_logs SET vkey = '{}'",
        forger.verifier_key()
    ))
    .await
    .unwrap();
    let forged = Township {
        signer: forger,
        tree: Township::new(&["a"]).tree,
    };
    assert_eq!(
        s.witness_add_checkpoint(&keys, &forged.request(0))
            .await
            .unwrap(),
        Err(Refusal::UnknownLog)
    );
    assert!(!s.witnessed_logs().await.unwrap()[0].genuine);
}

async fn a_log_sends_its_checkpoints_and_keeps_valid_cosignatures(db: TestDb) {
    use zhifa_domain::NewAgency;
    use zhifa_domain::org::AgencyInput;
    // This installation is both: its own log asks its own witness (enough to check the
    // log's side against a real witness decision).
    let s = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::open(dir.path()).unwrap();
    let cosigner = keys.create_cosigner("county.example/witness").unwrap();
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
    let log_id = tx.create_agency(&a).await.unwrap();
    tx.commit().await.unwrap();
    s.checkpoint_all(&keys).await.unwrap();
    let head = s.log_head(log_id).await.unwrap();
    let vkey = s.log_keys(log_id).await.unwrap()[0].0.clone();
    s.trust_witnessed_log(Actor::System("test"), &vkey, "甲乡")
        .await
        .unwrap();
    let name = s
        .use_witness(
            Actor::System("test"),
            &cosigner.verifier_key(),
            "http://county.example/witness/",
        )
        .await
        .unwrap();
    assert_eq!(name, "county.example/witness");
    let w = &s.log_witnesses().await.unwrap()[0];
    assert!(w.genuine && w.url == "http://county.example/witness");
    let v = w.verifier().unwrap();

    let req = s
        .witness_request(log_id, &name, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(req.old_size, 0);
    let answer = s
        .witness_add_checkpoint(&keys, &req.body())
        .await
        .unwrap()
        .unwrap();
    // A line from another key is ignored; a valid one kept.
    let other = zhifa_ledger::witness::Cosigner::new("county.example/witness", [1; 32]).unwrap();
    let text = req.checkpoint.split_once("\n\n").unwrap().0.to_owned() + "\n";
    let junk = other.cosign(&text, 1_700_000_000);
    assert_eq!(
        s.store_cosignatures(log_id, &v, &req, &format!("{junk}{answer}"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.cosigned_size(log_id, &name).await.unwrap(), head.size);
    assert!(
        s.witness_request(log_id, &name, None)
            .await
            .unwrap()
            .is_none()
    );
    let note = s
        .cosigned_note(log_id, head.size, req.checkpoint.clone())
        .await
        .unwrap();
    assert!(v.cosigned_at(&note).is_ok());
    // The log grows: the next request carries a proof from the cosigned size.
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    tx.create_department(
        log_id,
        &zhifa_domain::NewDepartment::parse(&zhifa_domain::org::DepartmentInput {
            name: "司法所".into(),
            ..Default::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.checkpoint_all(&keys).await.unwrap();
    let req = s
        .witness_request(log_id, &name, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(req.old_size, head.size);
    assert!(!req.proof.is_empty() || head.size == 0);
    assert!(
        s.witness_add_checkpoint(&keys, &req.body())
            .await
            .unwrap()
            .is_ok()
    );
    // verify's view: every cosigned checkpoint is a claim the log meets.
    let found = s.witness_findings(&v).await.unwrap();
    assert_eq!(found.claims.len(), 1);
    assert!(s.unmet_claims(&found.claims).await.unwrap().is_empty());
    // Other logs (the installation's own) have no cosignature: named.
    assert!(
        found.failures.iter().all(|f| f.contains("没有见证方")),
        "{:?}",
        found.failures
    );
}

/// The protocol's race: two requests from size 0 at once. One is cosigned; the other is
/// told the size that was (409) — never both, which could leave the record behind what
/// was cosigned.
async fn two_first_requests_at_once_cosign_one(db: TestDb) {
    let s = &db.store;
    let (_dir, keys, _) = witness(s).await;
    let small = Township::new(&["a", "b", "c", "d", "e"]).request(0);
    let large = Township::new(&["a", "b", "c", "d", "e", "f", "g", "h"]).request(0);
    // Many times, each from nothing cosigned: the race is a matter of timing.
    for _ in 0..20 {
        s.reset_witnessed_log(Actor::System("test"), &keys, ORIGIN)
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            tokio::spawn({
                let (s, keys, small) = (s.clone(), keys.clone(), small.clone());
                async move { s.witness_add_checkpoint(&keys, &small).await.unwrap() }
            }),
            tokio::spawn({
                let (s, keys, large) = (s.clone(), keys.clone(), large.clone());
                async move { s.witness_add_checkpoint(&keys, &large).await.unwrap() }
            })
        );
        let cosigned = match (a.unwrap(), b.unwrap()) {
            (Ok(_), Err(Refusal::Conflict { latest })) => {
                assert_eq!(latest, 5);
                5
            }
            (Err(Refusal::Conflict { latest }), Ok(_)) => {
                assert_eq!(latest, 8);
                8
            }
            other => panic!("both or neither cosigned: {other:?}"),
        };
        let logs = s.witnessed_logs().await.unwrap();
        assert_eq!(logs[0].cosigned.as_ref().unwrap().0, cosigned);
        assert_eq!(keys.witness_record(ORIGIN).unwrap().unwrap().0, cosigned);
    }
}
