//! The other published lists over HTTP: public pages and open data, an administrator's
//! changes and withdrawals (in the log), bad input refused field by field, and the
//! 法制审核 rules of the published list deciding which decisions are major.

use crate::harness::TestApp;
use reqwest::StatusCode;
use zhifa_domain::catalog::ItemCategory;
use zhifa_domain::lists::{DecisionFacts, ListKind, PartyKind, major_reasons};
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    each_list_is_public_with_open_data,
    an_admin_edits_and_withdraws_an_entry_and_bad_input_changes_nothing,
    the_published_review_list_decides_which_decisions_are_major,
    unknown_lists_and_entries_are_not_found,
    a_list_round_trips_through_excel_and_bad_rows_import_nothing,
);

async fn get(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app.client().get(app.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn each_list_is_public_with_open_data(db: TestDb) {
    let app = TestApp::start(db).await;
    for (kind, shown) in [
        ("spot-checks", "每半年 1 次"),
        ("major-review", "经过听证程序"),
        ("av-records", "全过程音像记录"),
    ] {
        let (s, page) = get(&app, &format!("/agencies/zhutang/lists/{kind}")).await;
        assert_eq!(s, StatusCode::OK, "{kind}");
        assert!(page.contains(shown) && page.contains("最后更新"), "{kind}");
        let v: serde_json::Value = app
            .client()
            .get(app.url(&format!("/agencies/zhutang/lists/{kind}/data.json")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(v["entries"].as_array().unwrap().len() >= 4, "{kind}");
        let (s, csv) = get(&app, &format!("/agencies/zhutang/lists/{kind}/data.csv")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(csv.starts_with("\u{feff}编码,"));
    }
    let (_, spot) = get(&app, "/agencies/zhutang/lists/spot-checks").await;
    assert!(
        spot.contains("10%"),
        "percentages are shown with their sign"
    );
}

async fn an_admin_edits_and_withdraws_an_entry_and_bad_input_changes_nothing(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app/admin/lists/spot-checks").await;
    let before = app
        .store
        .list_entries(agency, ListKind::SpotCheck, true)
        .await
        .unwrap()
        .len();
    let mut form = vec![
        ("csrf_token", token.clone()),
        ("code", "CC-009".to_owned()),
        ("item", "农村村民建房情况的检查".to_owned()),
        ("subject", "朱堂乡人民政府（村镇规划建设办公室）".to_owned()),
        ("basis", "《中华人民共和国城乡规划法》第六十五条".to_owned()),
        ("target", "已批准建设的农村村民住宅".to_owned()),
        ("content", "是否按批准的位置、面积、层数建设".to_owned()),
        ("method", "onsite".to_owned()),
        ("ratio", "120".to_owned()),
        ("frequency", "每季度 1 次".to_owned()),
    ];
    let url = app.url(&format!("/app/admin/lists/spot-checks/new?agency={agency}"));
    let r = c.post(&url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("抽查比例（%）应为 0 到 100 之间的数")
    );
    form[1].1 = "CC-001".into();
    form[8].1 = "20".into();
    let r = c.post(&url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("该清单中已有此编码"));
    assert_eq!(
        app.store
            .list_entries(agency, ListKind::SpotCheck, true)
            .await
            .unwrap()
            .len(),
        before
    );
    form[1].1 = "CC-009".into();
    let r = c.post(&url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, "/agencies/zhutang/lists/spot-checks").await;
    assert!(page.contains("农村村民建房情况的检查") && page.contains("20%"));
    // Withdrawn: gone from the portal, kept (with its history) for the administrator.
    let e = app
        .store
        .list_entries(agency, ListKind::SpotCheck, true)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.entry.code == "CC-009")
        .unwrap();
    let r = c
        .post(app.url(&format!("/app/admin/lists/spot-checks/{}/withdraw", e.id)))
        .form(&[("csrf_token", token.as_str()), ("version", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, "/agencies/zhutang/lists/spot-checks").await;
    assert!(!page.contains("农村村民建房情况的检查"));
    let admin = c
        .get(app.url("/app/admin/lists/spot-checks"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(admin.contains("已撤下"));
    assert_eq!(
        app.store
            .journal_count("list_entry.withdraw")
            .await
            .unwrap(),
        1
    );
    // An entry edited through another list's address is not found.
    let r = c
        .get(app.url(&format!("/app/admin/lists/av-records/{}", e.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn the_published_review_list_decides_which_decisions_are_major(db: TestDb) {
    let app = TestApp::start(db).await;
    let agency = app.agency_id().await;
    let rules: Vec<_> = app
        .store
        .list_entries(agency, ListKind::MajorReview, false)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry)
        .collect();
    let fine = |party, yuan| DecisionFacts {
        category: Some(ItemCategory::Penalty),
        party: Some(party),
        fine_yuan: yuan,
        ..Default::default()
    };
    assert!(major_reasons(&rules, &fine(PartyKind::Person, 2_000)).is_empty());
    assert_eq!(
        major_reasons(&rules, &fine(PartyKind::Person, 5_000)),
        vec!["FS-01：罚款数额较大（对公民处以 5,000 元以上、对法人或者其他组织处以 50,000 元以上罚款的（本乡目录标准，示例））".to_owned()]
    );
    assert!(major_reasons(&rules, &fine(PartyKind::Organisation, 20_000)).is_empty());
    let demolition = DecisionFacts {
        category: Some(ItemCategory::Coercion),
        demolition: true,
        ..Default::default()
    };
    assert_eq!(major_reasons(&rules, &demolition).len(), 1);
    // The agency raises its threshold by editing its list: the rule follows the data.
    let c = app.login("admin").await;
    let token = app.csrf_for(&c, "/app/admin/lists/major-review").await;
    let e = app
        .store
        .list_entries(agency, ListKind::MajorReview, false)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.entry.code == "FS-01")
        .unwrap();
    let mut form: Vec<(String, String)> = e
        .entry
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    form.retain(|(k, _)| k != "person_yuan");
    form.push(("person_yuan".into(), "10000".into()));
    form.push(("code".into(), "FS-01".into()));
    form.push(("csrf_token".into(), token));
    form.push(("version".into(), e.version.to_string()));
    let r = c
        .post(app.url(&format!("/app/admin/lists/major-review/{}", e.id)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let rules: Vec<_> = app
        .store
        .list_entries(agency, ListKind::MajorReview, false)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry)
        .collect();
    assert!(major_reasons(&rules, &fine(PartyKind::Person, 5_000)).is_empty());
}

async fn unknown_lists_and_entries_are_not_found(db: TestDb) {
    let app = TestApp::start(db).await;
    for path in [
        "/agencies/zhutang/lists/nonsense",
        "/agencies/zhutang/lists/nonsense/data.json",
        "/agencies/nowhere/lists/spot-checks",
        "/agencies/zhu%00tang/lists/spot-checks/data.csv",
    ] {
        let (s, _) = get(&app, path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let c = app.login("admin").await;
    for path in [
        "/app/admin/lists/nonsense",
        "/app/admin/lists/spot-checks/999999",
    ] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let officer = app.login("officer").await;
    let r = officer
        .get(app.url("/app/admin/lists/spot-checks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn upload(
    app: &TestApp,
    c: &reqwest::Client,
    token: &str,
    step: &str,
    file: Option<Vec<u8>>,
    data: Option<String>,
) -> (StatusCode, String) {
    let agency = app.agency_id().await;
    let mut form = reqwest::multipart::Form::new()
        .text("csrf_token", token.to_owned())
        .text("step", step.to_owned());
    if let Some(f) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(f).file_name("l.xlsx"),
        );
    }
    if let Some(d) = data {
        form = form.text("data", d);
    }
    let r = c
        .post(app.url(&format!(
            "/app/admin/lists/av-records/import?agency={agency}"
        )))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn a_list_round_trips_through_excel_and_bad_rows_import_nothing(db: TestDb) {
    let app = TestApp::start(db).await;
    let agency = app.agency_id().await;
    // The published list as Excel reads back to the same entries.
    let bytes = app
        .client()
        .get(app.url("/agencies/zhutang/lists/av-records/data.xlsx"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let read = zhifa_sheets::read_list(ListKind::AvRecord, &bytes).unwrap();
    let stored: Vec<_> = app
        .store
        .list_entries(agency, ListKind::AvRecord, false)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry)
        .collect();
    assert_eq!(read.into_iter().map(|(_, e)| e).collect::<Vec<_>>(), stored);

    let c = app.login("admin").await;
    let token = app.csrf_for(&c, "/app/admin/lists/av-records/import").await;
    // One row changed, one added, one bad: nothing imported, the bad cell named.
    let mut entries = stored.clone();
    entries[0]
        .values
        .insert("device".into(), "执法记录仪、无人机".into());
    let mut added = stored[1].clone();
    added.code = "YX-09".into();
    let mut bad = stored[2].clone();
    bad.code = "YX-10".into();
    bad.values.insert("mode".into(), "偶尔记录".into());
    let mut with_bad = entries.clone();
    with_bad.push(added.clone());
    with_bad.push(bad);
    let file = zhifa_sheets::write_list(ListKind::AvRecord, &with_bad).unwrap();
    let (s, body) = upload(&app, &c, &token, "preview", Some(file), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("第 9 行 C 列（记录方式）"), "{body}");
    // Without the bad row: previewed, then imported.
    entries.push(added);
    let file = zhifa_sheets::write_list(ListKind::AvRecord, &entries).unwrap();
    let (s, body) = upload(&app, &c, &token, "preview", Some(file), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.matches("替换现有条目").count(), 6);
    assert_eq!(body.matches("新增条目").count(), 1);
    let data = body
        .split("name=\"data\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (s, body) = upload(&app, &c, &token, "import", None, Some(data)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("新增 1 条，替换 6 条"));
    let (_, page) = get(&app, "/agencies/zhutang/lists/av-records").await;
    assert!(page.contains("执法记录仪、无人机") && page.contains("YX-09"));
}
