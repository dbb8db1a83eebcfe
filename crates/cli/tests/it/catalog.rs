//! 执法事项清单 over HTTP: the public list, filters and open data; an administrator adds an
//! item and revises it, and the portal shows the new version and what changed; overlapping
//! versions, duplicate codes and bad rows change nothing; odd queries never make a 500.

use crate::harness::TestApp;
use reqwest::StatusCode;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    the_public_finds_items_by_words_category_and_department,
    an_item_page_shows_its_discretion_and_each_versions_changes,
    open_data_lists_every_item_in_force,
    an_admin_adds_and_revises_an_item_and_the_portal_shows_the_diff,
    bad_items_and_overlapping_versions_change_nothing,
    odd_list_queries_and_unknown_items_never_fail,
    an_upload_is_previewed_then_imported_whole,
);

async fn get(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app.client().get(app.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

fn count(page: &str) -> usize {
    page.matches("<li class=\"card\">").count()
}

async fn the_public_finds_items_by_words_category_and_department(db: TestDb) {
    let app = TestApp::start(db).await;
    let (s, all) = get(&app, "/agencies/zhutang/items").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(count(&all), 42);
    let (_, burning) = get(&app, "/agencies/zhutang/items?q=焚烧").await;
    assert_eq!(count(&burning), 3, "{burning}");
    let (_, coercion) = get(&app, "/agencies/zhutang/items?category=coercion").await;
    assert_eq!(count(&coercion), 4);
    let (_, market) = get(&app, "/agencies/zhutang/items?department=市场监管所").await;
    assert_eq!(count(&market), 6);
    let (_, both) = get(
        &app,
        "/agencies/zhutang/items?category=penalty&department=市场监管所&q=食品",
    )
    .await;
    assert_eq!(count(&both), 4);
    // A code finds its item; LIKE's own characters are taken literally.
    let (_, code) = get(&app, "/agencies/zhutang/items?q=ZT-XK-001").await;
    assert_eq!(count(&code), 1);
    let (_, pct) = get(&app, "/agencies/zhutang/items?q=%25").await;
    assert_eq!(count(&pct), 0);
}

async fn an_item_page_shows_its_discretion_and_each_versions_changes(db: TestDb) {
    let app = TestApp::start(db).await;
    let (s, page) = get(&app, "/agencies/zhutang/items/ZT-CF-003").await;
    assert_eq!(s, StatusCode::OK);
    for shown in [
        "《中华人民共和国大气污染防治法》第一百一十九条第一款",
        "首违不罚",
        "1,500–2,000 元",
        "第 2 版",
        "裁量基准新增",
        "首次发布",
        "90 日",
    ] {
        assert!(page.contains(shown), "{shown}");
    }
}

async fn open_data_lists_every_item_in_force(db: TestDb) {
    let app = TestApp::start(db).await;
    let r = app
        .client()
        .get(app.url("/agencies/zhutang/items.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 42);
    let burning = items.iter().find(|i| i["code"] == "ZT-CF-003").unwrap();
    assert_eq!(burning["version"], 2);
    assert_eq!(burning["category"], "penalty");
    assert_eq!(burning["category_label"], "行政处罚");
    assert_eq!(burning["discretion"].as_array().unwrap().len(), 4);
    let r = app
        .client()
        .get(app.url("/agencies/zhutang/items.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'));
    // Header plus one line per item; fields with commas are quoted.
    assert_eq!(csv.trim_end().split("\r\n").count(), 43);
    assert!(
        csv.contains("\"对在乡、村庄规划区内未依法取得乡村建设规划许可证进行建设的行政处罚\"")
            || csv.contains("ZT-CF-001,")
    );
}

async fn an_admin_adds_and_revises_an_item_and_the_portal_shows_the_diff(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app/admin/items").await;
    let mut form = vec![
        ("csrf_token", token.clone()),
        ("code", "ZT-CF-099".to_owned()),
        ("name", "对在禁止区域燃放烟花爆竹的行政处罚".to_owned()),
        ("category", "penalty".to_owned()),
        ("basis", "烟花爆竹安全管理条例|42|2".to_owned()),
        ("basis_text", "（摘要）".to_owned()),
        (
            "discretion",
            "初次燃放，数量少|一般|责令停止燃放，处罚款|100|300".to_owned(),
        ),
        ("department", "综合行政执法大队".to_owned()),
        ("time_limit", "90".to_owned()),
        ("time_unit", "日".to_owned()),
        ("remedy", "可以申请行政复议或者提起行政诉讼。".to_owned()),
        ("effective_from", "2025-01-01".to_owned()),
    ];
    let r = c
        .post(app.url(&format!("/app/admin/items/new?agency={agency}")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = app
        .store
        .latest_item_versions(agency)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.code == "ZT-CF-099")
        .unwrap()
        .item_id;
    // A revision: a wider range, in force from a later date.
    form[6].1 = "初次燃放，数量少|一般|责令停止燃放，处罚款|100|500".into();
    form[11].1 = "2026-01-01".into();
    form.push(("version", "1".into()));
    let r = c
        .post(app.url(&format!("/app/admin/items/{id}")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, "/agencies/zhutang/items/ZT-CF-099").await;
    assert!(
        page.contains("第 2 版") && page.contains("100–500 元"),
        "{page}"
    );
    assert!(page.contains("裁量基准删除") && page.contains("100–300 元"));
    // The change feed (Atom) names the revision and what it changed, newest first.
    let r = app
        .client()
        .get(app.url("/agencies/zhutang/items.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let feed = r.text().await.unwrap();
    assert!(
        feed.starts_with("<?xml") && feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">")
    );
    assert_eq!(
        feed.matches("<entry>").count(),
        feed.matches("</entry>").count()
    );
    let first = feed.split("<entry>").nth(1).unwrap();
    assert!(
        first.contains("对在禁止区域燃放烟花爆竹的行政处罚（第 2 版，自 2026-01-01 起施行）"),
        "{first}"
    );
    assert!(first.contains("裁量基准删除"));
    // Both versions are entries of the agency's log.
    assert_eq!(
        app.store
            .journal_count("item_version.create")
            .await
            .unwrap(),
        45
    );
}

async fn bad_items_and_overlapping_versions_change_nothing(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app/admin/items").await;
    let before = app
        .store
        .journal_count("item_version.create")
        .await
        .unwrap();
    let good = |code: &str| {
        vec![
            ("csrf_token", token.clone()),
            ("code", code.to_owned()),
            ("name", "测试事项".to_owned()),
            ("category", "行政检查".to_owned()),
            ("basis", "中华人民共和国安全生产法|65|1".to_owned()),
            ("department", "应急管理办公室".to_owned()),
            ("remedy", "可以申请行政复议。".to_owned()),
            ("effective_from", "2025-01-01".to_owned()),
        ]
    };
    let post = |url: String, form: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let r = c.post(url).form(&form).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let new_url = app.url(&format!("/app/admin/items/new?agency={agency}"));
    // An existing code.
    let (s, body) = post(new_url.clone(), good("ZT-JC-001")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("已有该事项编码"));
    // Unknown category, missing basis, min > max, time limit 0 in an unknown unit.
    let mut bad = good("ZT-JC-099");
    bad[3].1 = "行政奖励".into();
    bad[4].1 = "".into();
    bad.push(("discretion", "情形|一般|罚款|5000|1000".into()));
    bad.push(("time_limit", "0".into()));
    bad.push(("time_unit", "月".into()));
    let (s, body) = post(new_url.clone(), bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for m in [
        "事项类别应为",
        "请填写至少一条法律依据",
        "最低罚款 5000 元高于最高罚款 1000 元",
        "办理时限应为 1 以上的整数",
        "单位应为 工作日 或 日",
    ] {
        assert!(body.contains(m), "{m}");
    }
    // A revision that does not start after the newest version (an overlap).
    let id = app.store.item_versions(agency, "ZT-CF-003").await.unwrap()[0].item_id;
    let mut overlap = good("ZT-CF-003");
    overlap[7].1 = "2025-06-01".into();
    overlap.push(("version", "2".into()));
    let (s, body) = post(app.url(&format!("/app/admin/items/{id}")), overlap).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("须晚于现有最新版本的生效日期 2026-01-01"),
        "{body}"
    );
    assert_eq!(
        app.store
            .journal_count("item_version.create")
            .await
            .unwrap(),
        before
    );
    // An officer may not maintain the list.
    let officer = app.login("officer").await;
    assert_eq!(
        officer
            .get(app.url("/app/admin/items"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

async fn odd_list_queries_and_unknown_items_never_fail(db: TestDb) {
    let app = TestApp::start(db).await;
    for path in [
        "/agencies/zhutang/items?category=nonsense&department=%00&q=%27%20OR%201%3D1--",
        "/agencies/zhutang/items?q=",
        "/agencies/zhutang/items?q=_",
        &format!("/agencies/zhutang/items?q={}", "焚".repeat(2000)),
    ] {
        let (s, _) = get(&app, path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
    }
    for path in [
        "/agencies/zhutang/items/NO-SUCH",
        "/agencies/nowhere/items",
        "/agencies/nowhere/items.json",
        "/agencies/zhutang/items/%E2%80%AE",
        "/agencies/zhutang/items/A%00B",
        "/agencies/zhu%00tang/items",
        "/agencies/zhu%00tang/officers",
    ] {
        let (s, _) = get(&app, path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
}

/// A workbook of `n` new items (codes IMP-0001…), valid unless `spoil` changes a row.
pub fn workbook(n: usize, spoil: impl Fn(usize, &mut [String; 11])) -> Vec<u8> {
    let rows: Vec<[String; 11]> = (1..=n)
        .map(|i| {
            let mut r = [
                format!("IMP-{i:04}"),
                format!("导入测试事项第{i}项"),
                "行政检查".to_owned(),
                "中华人民共和国安全生产法|65|1".to_owned(),
                String::new(),
                String::new(),
                "应急管理办公室".to_owned(),
                String::new(),
                String::new(),
                "可以申请行政复议。".to_owned(),
                "2026-01-01".to_owned(),
            ];
            spoil(i, &mut r);
            r
        })
        .collect();
    zhifa_sheets::write_items(&rows).unwrap()
}

async fn upload(
    app: &TestApp,
    c: &reqwest::Client,
    token: &str,
    agency: i64,
    step: &str,
    file: Option<Vec<u8>>,
    data: Option<String>,
) -> (StatusCode, String) {
    let mut form = reqwest::multipart::Form::new()
        .text("csrf_token", token.to_owned())
        .text("step", step.to_owned());
    if let Some(f) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(f).file_name("items.xlsx"),
        );
    }
    if let Some(d) = data {
        form = form.text("data", d);
    }
    let r = c
        .post(app.url(&format!("/app/admin/items/import?agency={agency}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn an_upload_is_previewed_then_imported_whole(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app/admin/items/import").await;
    // The exported list reads back as 42 new versions of existing codes… refused whole,
    // because each must start after the version already there.
    let export = app
        .client()
        .get(app.url("/agencies/zhutang/items.xlsx"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let (s, body) = upload(&app, &c, &token, agency, "preview", Some(export), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("新增版本") && body.contains("确认导入"));
    let data = body
        .split("name=\"data\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (s, body) = upload(&app, &c, &token, agency, "import", None, Some(data)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("第 2 行 K 列（生效日期）"), "{body}");
    assert!(body.contains("须晚于现有最新版本的生效日期"));
    let before = app
        .store
        .journal_count("item_version.create")
        .await
        .unwrap();
    assert_eq!(before, 43);

    // Bad rows are named by row and column; nothing is imported.
    let bad = workbook(5, |i, r| {
        if i == 2 {
            r[2] = "行政奖励".into();
        }
        if i == 4 {
            r[3] = String::new();
            r[7] = "0".into();
            r[8] = "月".into();
        }
    });
    let (s, body) = upload(&app, &c, &token, agency, "preview", Some(bad), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for m in [
        "第 3 行 C 列（事项类别）",
        "第 5 行 D 列（法律依据）",
        "第 5 行 H 列（办理时限）",
        "第 5 行 I 列（时限单位）",
    ] {
        assert!(body.contains(m), "{m}");
    }
    // Not a workbook at all.
    let (s, body) = upload(
        &app,
        &c,
        &token,
        agency,
        "preview",
        Some(b"name,code\n1,2\n".to_vec()),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("不是有效的 Excel 工作簿"));

    // A good file: preview, then import.
    let (s, body) = upload(
        &app,
        &c,
        &token,
        agency,
        "preview",
        Some(workbook(30, |_, _| {})),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.matches("新增事项").count(), 30);
    let data = body
        .split("name=\"data\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (s, body) = upload(&app, &c, &token, agency, "import", None, Some(data)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("新增事项 30 项"));
    assert_eq!(
        app.store
            .journal_count("item_version.create")
            .await
            .unwrap(),
        before + 30
    );
    let (_, list) = get(&app, "/agencies/zhutang/items?q=导入测试").await;
    assert_eq!(count(&list), 30);
    // 72 items: pages of 50; an odd page number shows the nearest page.
    let (_, first) = get(&app, "/agencies/zhutang/items").await;
    assert_eq!(count(&first), 50);
    assert!(first.contains("共 72 项") && first.contains("第 1 / 2 页"));
    assert!(first.contains("page=2"));
    let (_, second) = get(&app, "/agencies/zhutang/items?page=2").await;
    assert_eq!(count(&second), 22);
    for odd in ["99", "-3", "abc", "99999999999999999999"] {
        let (s, p) = get(&app, &format!("/agencies/zhutang/items?page={odd}")).await;
        assert_eq!(s, StatusCode::OK, "{odd}");
        assert!(count(&p) == 50 || count(&p) == 22, "{odd}");
    }
    // A workbook larger than ordinary forms may be (64 KiB) is accepted by the import.
    let big = workbook(3_000, |i, r| r[0] = format!("BIG-{i:05}"));
    assert!(big.len() > 64 * 1024, "{} bytes", big.len());
    let (s, body) = upload(&app, &c, &token, agency, "preview", Some(big), None).await;
    assert_eq!(s, StatusCode::OK, "{}", &body[..body.len().min(300)]);
    assert!(body.contains("将导入 3000 行"));
    // A forged upload without the session's token is refused.
    let (s, _) = upload(
        &app,
        &c,
        "forged",
        agency,
        "preview",
        Some(workbook(1, |_, _| {})),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
