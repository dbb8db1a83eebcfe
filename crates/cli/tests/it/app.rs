//! What a visitor and each kind of staff member sees.

use crate::harness::TestApp;
use reqwest::StatusCode;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    portal_shows_the_plans_leadership_group_and_departments,
    each_demo_role_logs_in_to_a_home_page_fit_for_the_role,
    admin_manages_the_organisation_through_forms,
    stale_edit_is_refused_and_the_newer_edit_kept,
    healthz_reports_database_state,
    unknown_pages_get_chinese_error_pages,
    history_pages_still_show_when_a_log_chunk_is_damaged,
);

async fn portal_shows_the_plans_leadership_group_and_departments(db: TestDb) {
    let app = TestApp::start(db).await;
    let r = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("朱堂乡人民政府"));
    assert!(html.contains("推行行政执法“三项制度”工作领导小组"));
    // The group in the plan's order: 组长 first, then the 14 副组长, then the 15 组员.
    let order = ["郭志鑫", "刘哲", "刘广珍", "袁纯辉", "袁春"];
    let pos: Vec<usize> = order
        .iter()
        .map(|n| html.find(n).unwrap_or_else(|| panic!("{n} missing")))
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "leadership out of order"
    );
    assert!(html.contains("党委副书记（主持政府工作）"));
    assert_eq!(html.matches("<th scope=\"row\">副组长</th>").count(), 14);
    assert_eq!(html.matches("<th scope=\"row\">组员</th>").count(), 15);
    for dept in [
        "综合行政执法大队",
        "司法所",
        "市场监管所",
        "行政审批服务中心",
    ] {
        assert!(html.contains(dept), "{dept} missing");
    }
    // Phones are internal and never on the portal.
    assert!(!html.contains("13900000001"));
    let by_slug = reqwest::get(app.url("/agencies/zhutang")).await.unwrap();
    assert_eq!(by_slug.status(), StatusCode::OK);
}

async fn each_demo_role_logs_in_to_a_home_page_fit_for_the_role(db: TestDb) {
    let app = TestApp::start(db).await;
    for account in zhifa::demo::accounts() {
        let c = app.login(&account.username).await;
        let html = c
            .get(app.url("/app"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(&account.name),
            "{} home lacks the name",
            account.username
        );
        assert!(html.contains(&account.department));
        let is_admin = account
            .roles
            .iter()
            .any(|r| r == "admin" || r == "security_admin");
        assert_eq!(
            html.contains("/app/admin/users"),
            is_admin,
            "{}: account admin link",
            account.username
        );
        let audits = account
            .roles
            .iter()
            .any(|r| r == "audit_admin" || r == "supervisor");
        assert_eq!(
            html.contains("/app/audit"),
            audits,
            "{}: audit link",
            account.username
        );
        for role in &account.roles {
            let label = zhifa_domain::Role::from_code(role).unwrap().label();
            assert!(
                html.contains(label),
                "{} home lacks role {label}",
                account.username
            );
        }
        // Every link the home page offers opens for this user (no dead ends, no 403).
        for href in links(&html) {
            let r = c.get(app.url(&href)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}: {href}", account.username);
        }
    }
}

/// Local links (`href="/…"`) of a page, except static assets.
fn links(html: &str) -> Vec<String> {
    let mut out: Vec<String> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.starts_with('/') && !h.starts_with("/static/"))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

async fn admin_manages_the_organisation_through_forms(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app/admin/departments").await;

    // A new department, then a person in it, then an account for that person.
    let r = c
        .post(app.url(&format!("/app/admin/departments/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "农业农村办公室"),
            ("duties", "农业农村工作"),
            ("sort_order", "200"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let dept = app.department_id("农业农村办公室").await;
    let r = c
        .post(app.url(&format!("/app/admin/people/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "钱多多"),
            ("department_id", &dept.to_string()),
            ("position", "干事"),
            ("phone", "0376-2345678"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let person = app
        .store
        .list_people(agency, Some(dept))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let r = c
        .post(app.url(&format!("/app/admin/users/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("person_id", &person.id.to_string()),
            ("username", "qianduoduo"),
            ("password", "Nongye#2026"),
            ("roles", "officer"),
            ("roles", "department_head"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let new_user = app.login_with("qianduoduo", "Nongye#2026").await;
    let home = new_user
        .get(app.url("/app"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("钱多多") && home.contains("部门负责人"));
    // The department head sees the department's staff with phones.
    let staff = new_user
        .get(app.url(&format!("/app/departments/{dept}")))
        .send()
        .await
        .unwrap();
    assert_eq!(staff.status(), StatusCode::OK);
    assert!(staff.text().await.unwrap().contains("0376-2345678"));

    // The leadership group: add, edit, remove.
    let r = c
        .post(app.url(&format!("/app/admin/leadership/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "测试成员"),
            ("rank", "member"),
            ("post", "农业农村办公室主任"),
            ("sort_order", "99"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let portal = reqwest::get(app.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(portal.contains("测试成员") && portal.contains("农业农村办公室"));
    let m = app
        .store
        .list_leadership(agency)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name == "测试成员")
        .unwrap();
    let r = c
        .post(app.url(&format!("/app/admin/leadership/{}/remove", m.id)))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", &m.version.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.store.list_leadership(agency).await.unwrap().len(), 30);

    // A township under the agency, shown on the portal as a subordinate agency.
    let r = c
        .post(app.url("/app/admin/agencies/new"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "朱堂乡综合行政执法大队（受委托）"),
            ("slug", "zhutang-zf"),
            ("kind", "entrusted_organisation"),
            ("credit_code", "12411521MB1953925Y"),
            ("legal_basis", "行政处罚法第二十条 委托"),
            ("parent_id", &agency.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let portal = reqwest::get(app.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(portal.contains("下级执法主体") && portal.contains("/agencies/zhutang-zf"));

    // Every change is in the record, with its actor.
    let history = app
        .store
        .journal_for_subject("department", &dept.to_string())
        .await
        .unwrap();
    assert_eq!(history[0].action, "department.create");
    let admin = app.store.user_by_username("admin").await.unwrap();
    assert_eq!(history[0].actor, format!("user:{}", admin.id));
    let audit = app
        .login("auditor")
        .await
        .get(app.url("/app/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("新建承办机构") && audit.contains("登录"));

    // Every change above went through the log: a full verification finds nothing amiss.
    // (A mutation that forgot its entry would show here as a row without a log entry.)
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:#?}", report.failures);
}

async fn stale_edit_is_refused_and_the_newer_edit_kept(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let dept = app.department_id("信访办").await;
    let token = app.csrf_for(&c, "/app").await;
    let version = app
        .store
        .department(dept)
        .await
        .unwrap()
        .version
        .to_string();
    let first = c
        .post(app.url(&format!("/app/admin/departments/{dept}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", &version),
            ("name", "信访办公室"),
            ("duties", "甲"),
            ("sort_order", "120"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let second = c
        .post(app.url(&format!("/app/admin/departments/{dept}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", &version),
            ("name", "信访接待室"),
            ("duties", "乙"),
            ("sort_order", "120"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    let html = second.text().await.unwrap();
    assert!(html.contains("已被他人修改"));
    assert!(
        html.contains("信访接待室"),
        "the refused input is shown again, not lost"
    );
    assert_eq!(app.store.department(dept).await.unwrap().name, "信访办公室");
}

async fn healthz_reports_database_state(db: TestDb) {
    let app = TestApp::start(db).await;
    let r = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    app.store.close().await;
    let r = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Pages answer 503 with a Chinese page, not 500.
    let r = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("服务暂不可用"));
}

async fn unknown_pages_get_chinese_error_pages(db: TestDb) {
    let app = TestApp::start(db).await;
    let r = reqwest::get(app.url("/no/such/page")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("页面不存在"));
    let r = reqwest::get(app.url("/agencies/nowhere")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let c = app.login("admin").await;
    let r = c
        .get(app.url("/app/admin/departments/999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .get(app.url("/app/admin/departments/abc"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert!(r.text().await.unwrap().contains("<html lang=\"zh-CN\">"));
    let r = c.delete(app.url("/app")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.text().await.unwrap().contains("请求方式不支持"));
}

/// A damaged log (here its newest chunk of entries overwritten by hand) is for `zhifa
/// verify` to name; the pages that read the journal still show, marking the entries they
/// cannot read, never a 500.
async fn history_pages_still_show_when_a_log_chunk_is_damaged(db: TestDb) {
    let app = TestApp::start(db).await;
    let auditor = app.login("auditor").await;
    let a = app.agency_id().await;
    let damaged = match app.store.backend() {
        // Text where bytes belong: the driver cannot read it as bytes.
        zhifa_store::Backend::Sqlite => "'damaged'",
        // Bytes that do not frame as entries.
        zhifa_store::Backend::Postgres => "'\\x00ff'::bytea",
    };
    app.store
        .raw_execute(&format!(
            "UPDATE ledger_entry_chunks SET entries = {damaged} WHERE log_id = {a}
             AND chunk = (SELECT MAX(chunk) FROM ledger_entry_chunks WHERE log_id = {a})"
        ))
        .await
        .unwrap();
    let r = auditor.get(app.url("/app/audit")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("日志条目无法读取"), "{page}");
    // What the journal itself holds still shows.
    assert!(page.contains("登录"), "{page}");
}
