//! Cases at speed (a benchmark program, not a test).
//!
//! 1. Transitions: opens N inspection cases, then completes one step of each — 随机抽取
//!    (by the department head) and then 现场检查 (an investigative act: two officers, their
//!    credentials checked on the day, 回避 declarations) — each act one transaction with
//!    its two ledger entries (the case's new state and the event). Timed one after another
//!    and from 8 tasks at once; beside them the reference: one bare `UPDATE` of a case row
//!    per transaction through the same pool.
//! 2. With `--list DIR2 ROWS`: a demo township holding ROWS more cases (bulk-inserted in
//!    SQL: the list's speed does not depend on how the rows came), for `bench/cases.sh`
//!    to load the workbench's case list with wrk.
//!
//! cargo bench -p zhifa --bench cases -- DIR [N]
//! cargo bench -p zhifa --bench cases -- --list DIR2 100000

use std::time::Instant;
use zhifa_domain::Role;
use zhifa_domain::case::{NewParty, PartyInput};
use zhifa_store::Store;
use zhifa_store::cases::{Advance, CaseActor, OpenCase};

async fn actor(store: &Store, username: &str, roles: Vec<Role>) -> CaseActor {
    let u = store.user_by_username(username).await.unwrap();
    CaseActor {
        user_id: u.id,
        person_id: u.person_id,
        roles,
    }
}

async fn demo(dir: &std::path::Path) -> (Store, i64) {
    // Entries authenticated as a server's are (the key lives in its key directory).
    let store = Store::open_data_dir(dir)
        .await
        .unwrap()
        .with_entry_key(zhifa_store::testing::test_entry_key());
    store.migrate().await.unwrap();
    zhifa::demo::ensure(&store).await.unwrap();
    let agency = store.agency_by_slug("zhutang").await.unwrap().id;
    (store, agency)
}

async fn transitions(dir: &std::path::Path, n: usize) {
    let (store, agency) = demo(dir).await;
    let officer = actor(&store, "officer", vec![Role::Officer]).await;
    let officer2 = actor(&store, "officer2", vec![Role::Officer]).await;
    let head = actor(&store, "head", vec![Role::DepartmentHead, Role::Officer]).await;
    let people = store.list_people(agency, None).await.unwrap();
    let id_of = |name: &str| people.iter().find(|p| p.name == name).unwrap().id;
    let (zhang, li) = (id_of("张明"), id_of("李华"));
    let department_id = store
        .list_departments(agency)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "综合行政执法大队")
        .unwrap()
        .id;
    let item_id = store
        .items_in_force(agency, zhifa_store::today_beijing(), &Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.code == "ZT-JC-001")
        .unwrap()
        .item_id;
    let open = OpenCase {
        agency_id: agency,
        department_id,
        procedure: "inspection".into(),
        item_id: Some(item_id),
        cause: "安全生产双随机抽查".into(),
        opened_on: zhifa_store::today_beijing(),
        parties: vec![
            NewParty::parse(
                &PartyInput {
                    kind: "organisation".into(),
                    name: "某某建材厂".into(),
                    id_code: "91411521MA40000002".into(),
                    address: String::new(),
                },
                "",
            )
            .unwrap(),
        ],
        officers: vec![zhang, li],
    };
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, _) = store.open_case(&officer, &open).await.unwrap();
        store
            .declare_no_conflict(&officer, id, open.opened_on)
            .await
            .unwrap();
        store
            .declare_no_conflict(&officer2, id, open.opened_on)
            .await
            .unwrap();
        ids.push(id);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "opened {n} cases with 2 declarations each: {s:.2} s ({:.0} cases/s, 3 transactions each)",
        n as f64 / s
    );
    let shared = store.clone();
    // The version an act names comes with the form (the page showed it); here it is known:
    // 1 when opened (declarations do not change the case row), one more per act.
    let step = move |who: CaseActor, id: i64, v: i64, to: &'static str, officers: Vec<i64>| {
        let store = shared.clone();
        async move {
            store
                .advance_case(
                    &who,
                    id,
                    v,
                    &Advance {
                        to: Some(to.into()),
                        day: zhifa_store::today_beijing(),
                        credentials_shown: !officers.is_empty(),
                        officers,
                        note: String::new(),
                    },
                )
                .await
                .unwrap();
        }
    };
    // What an act's reads cost alone: the case file (four queries at once).
    let t = Instant::now();
    for &id in &ids {
        store.case_file(id).await.unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "reads: {n} case files in {s:.2} s = {:.0}/s ({:.0} µs each)",
        n as f64 / s,
        s * 1e6 / n as f64
    );
    // One after another: 随机抽取 → 现场检查.
    let t = Instant::now();
    for &id in &ids {
        step(head.clone(), id, 1, "check", vec![]).await;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "sequential: {n} transitions (head, no officers) in {s:.2} s = {:.0}/s",
        n as f64 / s
    );
    // 8 tasks at once: 现场检查 → 处理 (investigative: two officers' credentials).
    let t = Instant::now();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(n.div_ceil(8)) {
        let chunk = chunk.to_vec();
        let step = step.clone();
        let officer = officer.clone();
        tasks.push(tokio::spawn(async move {
            for id in chunk {
                step(officer.clone(), id, 2, "handling", vec![zhang, li]).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "8 tasks: {n} investigative transitions (two officers' credentials checked) in {s:.2} s = {:.0}/s",
        n as f64 / s
    );
    // Reference: one bare UPDATE per transaction, no rules, no entries.
    let t = Instant::now();
    for &id in &ids {
        store
            .raw_execute(&format!(
                "UPDATE cases SET version = version + 1 WHERE id = {id}"
            ))
            .await
            .unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "reference: {n} bare UPDATEs, one per transaction, in {s:.2} s = {:.0}/s",
        n as f64 / s
    );
    let t = Instant::now();
    let report = store.verify(&[]).await.unwrap();
    println!(
        "verify after the bare UPDATEs: {} findings (each changed row named) in {:.2} s",
        report.failures.len(),
        t.elapsed().as_secs_f64()
    );
}

/// ROWS more cases for the list benchmark, in a few statements.
async fn list(dir: &std::path::Path, rows: usize) {
    let (store, agency) = demo(dir).await;
    let dept = store
        .list_departments(agency)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "综合行政执法大队")
        .unwrap()
        .id;
    let t = Instant::now();
    // Numbers 1000000+ so they never meet the demo's; a third closed, a tenth overdue.
    store
        .raw_execute(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
             INSERT INTO cases (agency_id, department_id, procedure, number, year, seq, cause,
                step, entered_on, opened_on, closed_on, due_on, created_at, updated_at)
             SELECT {agency}, {dept}, 'penalty-ordinary', '压测罚〔2026〕' || (1000000 + i) || '号',
                2026, 1000000 + i, '压测案件 ' || i, 'investigation', '2026-06-01', '2026-06-01',
                CASE WHEN i % 3 = 0 THEN '2026-09-01' END,
                CASE WHEN i % 10 = 0 THEN '2026-09-01' ELSE '2026-12-25' END, 0, 0 FROM n"
        ))
        .await
        .unwrap();
    println!(
        "inserted {rows} cases in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    // Cases that came in by SQL are indexed for search as a migration would index them.
    let t = Instant::now();
    let n = store.rebuild_case_words().await.unwrap();
    println!(
        "search index of {n} cases built in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    // Closed cleanly, so that SQLite folds the write-ahead log into the database: the
    // server measured next reads the database as a long-running installation would.
    store.close().await;
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.first().map(String::as_str) == Some("--list") {
        let dir = std::path::PathBuf::from(args.get(1).expect("usage: --list DIR ROWS"));
        let rows = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
        rt.block_on(list(&dir, rows));
    } else {
        let dir = std::path::PathBuf::from(args.first().expect("usage: cases DIR [N]"));
        let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2_000);
        rt.block_on(transitions(&dir, n));
    }
}
