//! The audit trail as the 审计管理员 uses it: paged, filtered by user, action, time and
//! result, with addresses and what was refused, exported as CSV; bad filters get Chinese
//! messages; the security log is nobody else's to read.

use crate::harness::TestApp;
use reqwest::StatusCode;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    the_audit_admin_pages_and_filters_the_audit_trail,
    bad_filters_get_chinese_messages_never_a_500,
    only_the_audit_roles_read_the_trail_and_the_security_log_is_not_public,
);

async fn get(c: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn the_audit_admin_pages_and_filters_the_audit_trail(db: TestDb) {
    let app = TestApp::start(db).await;
    // A wrong password for officer, a name nobody has (typed like a spreadsheet formula),
    // and a page the officer may not open.
    let anon = app.client();
    app.try_login(&anon, "officer", "Wrong#Pass1").await;
    app.try_login(&anon, "=cmd|calc", "Wrong#Pass1").await;
    let officer = app.login("officer").await;
    let (status, _) = get(&officer, &app, "/app/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let auditor = app.login("auditor").await;
    let (status, page) = get(&auditor, &app, "/app/audit").await;
    assert_eq!(status, StatusCode::OK);
    // The demo's acts and the logins, newest first, with where they came from.
    assert!(
        page.contains("\"操作\">办理案件环节") && page.contains("\"操作\">登录"),
        "{page}"
    );
    assert!(page.contains("127.0.0.1"));
    assert!(page.contains("下一页"), "the demo fills more than one page");

    // Failures only: the denial (what was refused, from where) and both failed logins,
    // the unknown name included.
    let (status, page) = get(&auditor, &app, "/app/audit?result=failure").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("无权：分配账号角色（GET /app/admin/users）"),
        "{page}"
    );
    assert!(page.contains("密码错误"));
    assert!(page.contains("用户名不存在；输入的用户名：=cmd|calc"));
    assert!(!page.contains("\"操作\">办理案件环节"), "{page}");

    // By user: the officer's own acts and the failure of the officer's name, nobody else's.
    let (_, page) = get(&auditor, &app, "/app/audit?user=officer&action=auth.login").await;
    assert!(
        page.contains("\"用户\">张明（officer）") && !page.contains("\"用户\">冯雪（auditor）"),
        "{page}"
    );
    let (_, page) = get(&auditor, &app, "/app/audit?user=officer&result=failure").await;
    assert!(page.contains("密码错误") && page.contains("\"操作\">越权访问被拒绝"));
    assert!(!page.contains("用户名不存在"));

    // By time: nothing in 2001, today's entries today.
    let (_, page) = get(&auditor, &app, "/app/audit?from=2001-01-01&to=2001-12-31").await;
    assert!(page.contains("没有符合条件的记录"));
    let today = zhifa_store::today_beijing().to_string();
    let (_, page) = get(
        &auditor,
        &app,
        &format!("/app/audit?from={today}&to={today}&action=auth.login_failed"),
    )
    .await;
    assert!(page.contains("密码错误"), "{page}");

    // Pages: the second follows the first, and a page past the end says so.
    let (_, second) = get(&auditor, &app, "/app/audit?page=2").await;
    assert!(second.contains("上一页") && second.contains("第 2 页"));
    let (status, page) = get(&auditor, &app, "/app/audit?page=2000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("第 2000 页没有记录了"));

    // The CSV holds what the filter shows; a formula typed as a name stays text.
    let r = auditor
        .get(app.url("/app/audit.csv?result=failure"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("audit.csv")
    );
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "\u{feff}时间,用户,操作,对象,结果,来源地址,详情,日志,序号"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows.iter().all(|r| r.contains("安全日志")));
    assert!(
        csv.contains("用户名不存在；输入的用户名：=cmd|calc") && !csv.contains(",=cmd"),
        "{csv}"
    );
}

async fn bad_filters_get_chinese_messages_never_a_500(db: TestDb) {
    let app = TestApp::start(db).await;
    let auditor = app.login("auditor").await;
    for (query, message) in [
        ("from=2026-02-30", "日期格式应为“年-月-日”"),
        ("to=tomorrow", "日期格式应为“年-月-日”"),
        ("from=2026-03-02&to=2026-03-01", "结束日期不能早于开始日期"),
        ("action=drop.table", "没有“drop.table”这种操作"),
        ("result=maybe", "结果只能是"),
        ("user=nobody", "本单位没有用户名为“nobody”的账号"),
        ("page=0", "页码应为正整数"),
        ("page=-3", "页码应为正整数"),
        ("page=99999999999999999999999999", "页码过大"),
        ("agency=abc", "执法主体参数无效"),
    ] {
        let (status, page) = get(&auditor, &app, &format!("/app/audit?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(page.contains(message), "{query}: {page}");
        if !query.starts_with("agency") {
            let (status, page) = get(&auditor, &app, &format!("/app/audit.csv?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
            assert!(
                page.contains("无法导出") && page.contains(message),
                "{query}"
            );
        }
    }
    // An action and a result that exclude each other find nothing, without complaint.
    let (status, page) = get(
        &auditor,
        &app,
        "/app/audit?action=auth.login&result=failure",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("没有符合条件的记录"));
}

async fn only_the_audit_roles_read_the_trail_and_the_security_log_is_not_public(db: TestDb) {
    let app = TestApp::start(db).await;
    for (who, status) in [
        ("auditor", StatusCode::OK),
        ("supervisor", StatusCode::OK),
        ("admin", StatusCode::FORBIDDEN),
        ("security", StatusCode::FORBIDDEN),
        ("leader", StatusCode::FORBIDDEN),
    ] {
        let c = app.login(who).await;
        for path in ["/app/audit", "/app/audit.csv"] {
            let (s, _) = get(&c, &app, path).await;
            assert_eq!(s, status, "{who} {path}");
        }
    }
    // An account's page shows its changes, not its logins (those are the trail's).
    let officer = app.login("officer").await;
    drop(officer);
    let id = app.store.user_by_username("officer").await.unwrap().id;
    let (_, page) = get(
        &app.login("admin").await,
        &app,
        &format!("/app/admin/users/{id}"),
    )
    .await;
    assert!(page.contains("<strong>新建账号</strong>"), "{page}");
    assert!(!page.contains("<strong>登录</strong>"), "{page}");
    // The logins above are in the security log, not in the agency's public log.
    let agency = app.agency_id().await;
    let public = app.store.journal_for_agency(agency, 100_000).await.unwrap();
    assert!(!public.iter().any(|e| e.action.starts_with("auth.")));
    for path in [
        "/log/_security/checkpoint",
        "/log/_security/key",
        "/log/_security/tile/0/000",
    ] {
        let r = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // And the whole record, the security log included, still verifies.
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:#?}", report.failures);
}
