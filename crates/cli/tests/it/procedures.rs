//! The published procedures over HTTP: the list, each procedure's flowchart and steps
//! (with their statutes and periods), the SVG download, the link from an item of the
//! same category, and unknown or odd codes answered with a Chinese 404.

use crate::harness::TestApp;
use reqwest::StatusCode;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    the_portal_publishes_each_procedure_as_a_flowchart_and_steps,
    unknown_procedures_are_a_chinese_not_found,
);

async fn get(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let r = app.client().get(app.url(path)).send().await.unwrap();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (r.status(), content_type, r.text().await.unwrap())
}

async fn the_portal_publishes_each_procedure_as_a_flowchart_and_steps(db: TestDb) {
    let app = TestApp::start(db).await;
    let (s, _, list) = get(&app, "/procedures").await;
    assert_eq!(s, StatusCode::OK);
    for p in zhifa_domain::procedure::shipped().unwrap() {
        assert!(
            list.contains(&format!("/procedures/{}", p.code)),
            "{}",
            p.code
        );
    }

    let (s, _, page) = get(&app, "/procedures/penalty-ordinary").await;
    assert_eq!(s, StatusCode::OK);
    for shown in [
        "<svg",
        "行政处罚普通程序",
        "法制审核",
        "属于重大执法决定",
        "陈述申辩、申请听证期：5 个工作日",
        "行政处罚法第六十四条",
        "90 日",
        "行政处罚法第六十条",
        "法制审核人员",
    ] {
        assert!(page.contains(shown), "{shown}");
    }

    // Extensions and the time a period does not count are published with their statutes.
    let (_, _, seizure) = get(&app, "/procedures/seizure").await;
    for shown in [
        "可延长 30 日（经乡领导批准，须说明理由）",
        "不计入期限：对物品进行检测、检验、检疫或者技术鉴定的期间",
        "行政强制法第二十五条第三款",
        "时限 30 日，可延长",
    ] {
        assert!(seizure.contains(shown), "{shown}");
    }

    let (s, content_type, svg) = get(&app, "/procedures/licensing/flowchart.svg").await;
    assert_eq!(s, StatusCode::OK);
    assert!(content_type.starts_with("image/svg+xml"));
    assert!(svg.starts_with("<svg") && svg.contains("准予许可"));
    // 不予许可 skips 颁发 and is written down its lane, glyph by glyph.
    assert!(svg.contains(">不</tspan>") && svg.contains(">可</tspan>"));

    // A 行政处罚 item links to both penalty procedures.
    let (_, _, item) = get(&app, "/agencies/zhutang/items/ZT-CF-003").await;
    assert!(item.contains("/procedures/penalty-ordinary"));
    assert!(item.contains("/procedures/penalty-summary"));
}

async fn unknown_procedures_are_a_chinese_not_found(db: TestDb) {
    let app = TestApp::start(db).await;
    for path in [
        "/procedures/none",
        "/procedures/%00",
        "/procedures/..%2F..%2Fetc",
        "/procedures/none/flowchart.svg",
    ] {
        let (s, _, body) = get(&app, path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(
            body.contains("页面不存在") || body.contains("不存在"),
            "{path}: {body}"
        );
    }
}
