//! What backups need of the store: a consistent copy of a live SQLite database, and the
//! check that a key directory's signer could go on signing a database's logs.

use zhifa_domain::org::{AgencyInput, DepartmentInput};
use zhifa_domain::{NewAgency, NewDepartment};
use zhifa_store::keys::KeyStore;
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, Store, on_both_backends};

on_both_backends!(a_signer_record_ahead_of_the_database_or_a_foreign_key_is_named,);

async fn agency(s: &Store) -> i64 {
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
    let id = tx.create_agency(&a).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn department(s: &Store, agency: i64, name: &str) {
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    tx.create_department(
        agency,
        &NewDepartment::parse(&DepartmentInput {
            name: name.into(),
            ..Default::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn a_signer_record_ahead_of_the_database_or_a_foreign_key_is_named(db: TestDb) {
    let s = &db.store;
    let a = agency(s).await;
    department(s, a, "司法所").await;
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::open(dir.path()).unwrap();
    s.checkpoint_all(&keys).await.unwrap();
    assert_eq!(
        s.signer_problems(&keys).await.unwrap(),
        Vec::<String>::new()
    );
    // Grown since the last signature: still fine, the signer extends it.
    department(s, a, "市场监管所").await;
    assert!(s.signer_problems(&keys).await.unwrap().is_empty());

    // The record of a later head than the database holds (a copy of the database older
    // than its key directory, as `cp -a` of a running installation can give).
    let head = s.log_head(a).await.unwrap();
    let record = dir.path().join("zhifa_jia.signed");
    let kept = std::fs::read(&record).unwrap();
    std::fs::write(
        &record,
        format!(
            "{} {}\n",
            head.size + 3,
            zhifa_ledger::hash::to_hex(&head.root)
        ),
    )
    .unwrap();
    let problems = s.signer_problems(&keys).await.unwrap();
    assert!(
        problems.len() == 1 && problems[0].contains("rolled back"),
        "{problems:?}"
    );
    // A record of this size with another root.
    std::fs::write(
        &record,
        format!("{} {}\n", head.size, zhifa_ledger::hash::to_hex(&[7; 32])),
    )
    .unwrap();
    let problems = s.signer_problems(&keys).await.unwrap();
    assert!(
        problems.len() == 1 && problems[0].contains("forked"),
        "{problems:?}"
    );
    std::fs::write(&record, kept).unwrap();
    assert!(s.signer_problems(&keys).await.unwrap().is_empty());

    // Another installation's key directory holds no key this database publishes.
    let other = tempfile::tempdir().unwrap();
    let foreign = KeyStore::open(other.path()).unwrap();
    foreign
        .generate("zhifa/jia", zhifa_ledger::HashAlg::Sha256)
        .unwrap();
    let problems = s.signer_problems(&foreign).await.unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("jia") && p.contains("not the key")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("_system") && p.contains("no private key")),
        "{problems:?}"
    );
}

/// `VACUUM INTO` from a read-only connection while another task appends: the copy is one
/// committed state — it passes SQLite's integrity check and `verify` — and holds at least
/// every change committed before it began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_taken_while_writing_is_consistent() {
    let db = TestDb::sqlite().await;
    let s = db.store.clone();
    let a = agency(&s).await;
    let dir = db.dir.as_ref().unwrap().path().to_owned();
    for i in 0..20 {
        department(&s, a, &format!("先-{i}")).await;
    }
    let before = s.log_head(a).await.unwrap().size;
    let quit = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (s, quit) = (s.clone(), quit.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !quit.load(std::sync::atomic::Ordering::Relaxed) {
                department(&s, a, &format!("后-{i}")).await;
                i += 1;
            }
        })
    };
    let source = Store::open_read_only(&dir.join("zhifa.db")).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("copy.db");
    source.vacuum_into(&copy).await.unwrap();
    // A second copy onto the first is refused: VACUUM INTO never writes over a database.
    assert!(source.vacuum_into(&copy).await.is_err());
    source.close().await;
    quit.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();

    // Opened without the entry key (the test store's is its own): the logs, checkpoints
    // and rows replay; only the codes go unchecked.
    let copied = Store::open_read_only(&copy).await.unwrap();
    assert_eq!(
        copied.integrity_check().await.unwrap(),
        Vec::<String>::new()
    );
    let (found, supported) = copied.schema_versions().await.unwrap();
    assert_eq!(found, supported);
    assert!(copied.log_head(a).await.unwrap().size >= before);
    let r = copied.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    assert!(r.entries >= before);
    // Read-only means read-only.
    assert!(
        copied
            .raw_execute("CREATE TABLE t (x BIGINT)")
            .await
            .is_err()
    );
    copied.close().await;
    assert!(
        Store::open_read_only(&out.path().join("absent.db"))
            .await
            .is_err()
    );
    assert!(!out.path().join("absent.db").exists());
}

/// A page damaged on disk is reported with the table it belongs to, not only a page
/// number: the operator learns what is at stake before restoring.
#[tokio::test]
async fn a_damaged_page_is_named_by_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_data_dir(dir.path()).await.unwrap();
    s.migrate().await.unwrap();
    let a = agency(&s).await;
    for i in 0..30 {
        department(&s, a, &format!("科室{i}")).await;
    }
    assert!(s.quick_check().await.unwrap().is_empty());
    s.close().await;
    let file = dir.path().join("zhifa.db");
    let (root, page_size): (i64, i64) = {
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        (
            c.query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'departments'",
                [],
                |r| r.get(0),
            )
            .unwrap(),
            c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap(),
        )
    };
    let mut bytes = std::fs::read(&file).unwrap();
    let at = ((root - 1) * page_size) as usize;
    for b in &mut bytes[at..at + page_size as usize] {
        *b = 0xA5;
    }
    std::fs::write(&file, bytes).unwrap();
    let s = Store::open_data_dir(dir.path()).await.unwrap();
    let damage = s.quick_check().await.unwrap();
    assert!(
        damage
            .first()
            .is_some_and(|d| d.contains("损坏的数据表") && d.contains("departments")),
        "{damage:#?}"
    );
    assert!(!damage[0].contains("people"), "{damage:#?}");
}
