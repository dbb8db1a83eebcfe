//! The 执法事项清单 at size (a benchmark program, not a test): prepares a demo township
//! whose list holds 5,000 more items imported from a 5,000-row XLSX, timing the import.
//! `bench/lists.sh` then loads the portal's list pages with wrk.
//!
//! cargo bench -p zhifa --bench lists -- DIR [ROWS]      (SQLite data dir)
//! ZHIFA_BENCH_DATABASE_URL=postgres://… also times the import on PostgreSQL.

use std::time::Instant;
use zhifa_store::{Actor, Store};

fn workbook(n: usize) -> Vec<u8> {
    let rows: Vec<[String; 11]> = (1..=n)
        .map(|i| {
            [
                format!("BENCH-{i:05}"),
                format!("对第{i}类违法行为的行政处罚"),
                "行政处罚".to_owned(),
                "中华人民共和国大气污染防治法|119|1".to_owned(),
                "在人口集中地区对树木、花草喷洒剧毒、高毒农药，或者露天焚烧秸秆、落叶等产生烟尘污染的物质的，由县级以上地方人民政府确定的监督管理部门责令改正，并可以处五百元以上二千元以下的罚款。（摘要）".to_owned(),
                "情形较轻|一般|责令改正，并处罚款|500|1000\n情形较重|较重|责令改正，并处罚款|1000|2000".to_owned(),
                "综合行政执法大队".to_owned(),
                "90".to_owned(),
                "日".to_owned(),
                zhifa_domain::catalog::DEFAULT_REMEDY.to_owned(),
                "2026-01-01".to_owned(),
            ]
        })
        .collect();
    zhifa_sheets::write_items(&rows).unwrap()
}

async fn import(store: &Store, agency: i64, bytes: &[u8]) -> (f64, f64, usize) {
    let t = Instant::now();
    let rows = zhifa_sheets::read_items(bytes).unwrap();
    let read = t.elapsed().as_secs_f64();
    let rows: Vec<_> = rows.into_iter().map(|r| (r.row, r.version)).collect();
    let s = store
        .import_items(Actor::System("bench"), agency, &rows)
        .await
        .unwrap();
    (read, t.elapsed().as_secs_f64(), s.items_created)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = std::path::PathBuf::from(args.first().expect("usage: lists DIR [ROWS]"));
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bytes = workbook(n);
        println!("workbook: {n} rows, {} bytes", bytes.len());
        let store = Store::open_data_dir(&dir).await.unwrap();
        store.migrate().await.unwrap();
        zhifa::demo::ensure(&store).await.unwrap();
        let agency = store.agency_by_slug("zhutang").await.unwrap().id;
        let (read, total, created) = import(&store, agency, &bytes).await;
        println!(
            "SQLite: read and check {read:.3} s, import in all {total:.3} s ({created} items, one transaction)"
        );
        if let Ok(url) = std::env::var("ZHIFA_BENCH_DATABASE_URL") {
            let admin = Store::connect(&url).await.unwrap();
            let _ = admin.raw_execute("DROP DATABASE IF EXISTS zhifa_bench_lists").await;
            admin.raw_execute("CREATE DATABASE zhifa_bench_lists").await.unwrap();
            let pg = Store::connect(&zhifa_store::testing::replace_database(&url, "zhifa_bench_lists"))
                .await
                .unwrap()
                .with_entry_key(zhifa_store::testing::test_entry_key());
            pg.migrate().await.unwrap();
            zhifa::demo::ensure(&pg).await.unwrap();
            let agency = pg.agency_by_slug("zhutang").await.unwrap().id;
            let (read, total, created) = import(&pg, agency, &bytes).await;
            println!(
                "PostgreSQL: read and check {read:.3} s, import in all {total:.3} s ({created} items, one transaction)"
            );
            pg.close().await;
            let _ = admin.raw_execute("DROP DATABASE zhifa_bench_lists WITH (FORCE)").await;
        }
    });
}
