//! Bad input and hostile requests: each is refused with a Chinese message and changes nothing.

use crate::harness::{PASSWORD, TestApp};
use reqwest::StatusCode;
use std::time::Duration;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;
use zhifa_web::WebConfig;

on_both_backends!(
    parallel_guesses_cannot_exceed_the_lockout_and_the_lockout_is_recorded,
    login_never_redirects_off_site,
    a_township_admin_saves_the_township_under_a_county,
    wrong_csrf_token_or_foreign_origin_is_refused_and_nothing_written,
    login_form_requires_its_csrf_token,
    five_failures_lock_the_account,
    disabled_account_cannot_log_in_and_its_session_ends,
    officer_is_denied_admin_pages_and_other_departments_and_it_is_recorded,
    malformed_and_oversized_forms_get_field_messages_and_nothing_is_written,
    script_and_sql_strings_are_stored_and_shown_literally,
    credit_code_duplicate_or_bad_check_character_is_rejected_with_the_reason,
    session_is_rotated_at_login_and_ended_at_logout,
    idle_session_times_out,
    weak_passwords_are_refused,
);

async fn department_count(app: &TestApp) -> usize {
    app.store
        .list_departments(app.agency_id().await)
        .await
        .unwrap()
        .len()
}

async fn wrong_csrf_token_or_foreign_origin_is_refused_and_nothing_written(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app").await;
    let before = department_count(&app).await;
    let journal_before = app.store.journal_count("department.create").await.unwrap();
    let url = app.url(&format!("/app/admin/departments/new?agency={agency}"));

    let r = c
        .post(&url)
        .form(&[("csrf_token", "forged"), ("name", "伪造部门")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("CSRF"));
    let r = c
        .post(&url)
        .form(&[("name", "无令牌部门")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(&url)
        .header("Origin", "http://evil.example")
        .form(&[("csrf_token", token.as_str()), ("name", "跨站部门")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("跨站"));
    let r = c
        .post(&url)
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", token.as_str()), ("name", "跨站部门")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    assert_eq!(department_count(&app).await, before);
    assert_eq!(
        app.store.journal_count("department.create").await.unwrap(),
        journal_before
    );

    // The same request from the same origin goes through.
    let origin = app.base.clone();
    let r = c
        .post(&url)
        .header("Origin", origin)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf_token", token.as_str()), ("name", "同源部门")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(department_count(&app).await, before + 1);
}

async fn login_form_requires_its_csrf_token(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.client();
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store.journal_count("auth.login").await.unwrap(), 0);
}

async fn five_failures_lock_the_account(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.client();
    for i in 1..=5 {
        let r = app.try_login(&c, "officer", "Wrong@2026").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
        let html = r.text().await.unwrap();
        assert!(html.contains("用户名或密码错误"));
        if i == 5 {
            assert!(html.contains("已锁定"));
        }
    }
    let r = app.try_login(&c, "officer", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("锁定"));
    assert_eq!(app.store.journal_count("auth.locked").await.unwrap(), 1);
    assert_eq!(
        app.store.journal_count("auth.login_failed").await.unwrap(),
        6
    );
    assert_eq!(app.store.journal_count("auth.login").await.unwrap(), 0);
    // Another account is unaffected.
    app.login("officer2").await;
}

async fn disabled_account_cannot_log_in_and_its_session_ends(db: TestDb) {
    let app = TestApp::start(db).await;
    let victim = app.login("officer2").await;
    assert_eq!(
        victim.get(app.url("/app")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let admin = app.login("admin").await;
    let token = app.csrf_for(&admin, "/app").await;
    let id = app.store.user_by_username("officer2").await.unwrap().id;
    let r = admin
        .post(app.url(&format!("/app/admin/users/{id}/disable")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = victim.get(app.url("/app")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the disabled user's session ended"
    );
    let r = app.try_login(&app.client(), "officer2", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("已停用"));
    // An admin cannot disable themselves.
    let me = app.store.user_by_username("admin").await.unwrap().id;
    let r = admin
        .post(app.url(&format!("/app/admin/users/{me}/disable")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(!app.store.user(me).await.unwrap().disabled);
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:#?}", report.failures);
}

async fn officer_is_denied_admin_pages_and_other_departments_and_it_is_recorded(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("officer").await;
    let before = app.store.journal_count("access.denied").await.unwrap();
    for path in [
        "/app/admin/departments",
        "/app/admin/users",
        "/app/admin/agencies",
        "/app/audit",
    ] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.unwrap().contains("无权访问"));
    }
    let market = app.department_id("市场监管所").await;
    let r = c
        .get(app.url(&format!("/app/departments/{market}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let own = app.department_id("综合行政执法大队").await;
    let r = c
        .get(app.url(&format!("/app/departments/{own}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text().await.unwrap().contains("13900000003"),
        "own department's phones shown"
    );
    // A forged admin form post is denied too, and writes nothing.
    let token = app.csrf_for(&c, "/app").await;
    let count = department_count(&app).await;
    let r = c
        .post(app.url("/app/admin/departments/new"))
        .form(&[("csrf_token", token.as_str()), ("name", "越权部门")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(department_count(&app).await, count);
    assert_eq!(
        app.store.journal_count("access.denied").await.unwrap(),
        before + 6
    );
    let officer = app.store.user_by_username("officer").await.unwrap();
    let denials = app
        .store
        .journal_for_subject("user", &officer.id.to_string())
        .await
        .unwrap();
    assert!(denials.iter().any(|e| {
        e.action == "access.denied"
            && e.payload
                .as_deref()
                .unwrap_or("")
                .contains("/app/admin/users")
    }));
}

async fn malformed_and_oversized_forms_get_field_messages_and_nothing_is_written(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app").await;
    let url = app.url(&format!("/app/admin/departments/new?agency={agency}"));
    let before = department_count(&app).await;
    let people_before = app.store.list_people(agency, None).await.unwrap().len();

    let r = c
        .post(&url)
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "  "),
            ("sort_order", "abc"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("请填写部门名称"));
    assert!(html.contains("排序须为 0–9999 之间的整数"));
    assert!(html.contains("aria-invalid=\"true\""));

    let long = "长".repeat(61);
    let r = c
        .post(&url)
        .form(&[("csrf_token", token.as_str()), ("name", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("不能超过 60 个字"));

    let huge = "x".repeat(200 * 1024);
    let r = c
        .post(&url)
        .form(&[("csrf_token", token.as_str()), ("name", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("提交内容过大"));

    // The server closes the connection after refusing an oversized body; the client may
    // still pick that connection for the next request once: then it asks again.
    let send = || {
        c.post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf_token={token}&name=%E4%B8&sort_order=1&sort_order=2"
            ))
            .send()
    };
    let r = match send().await {
        Ok(r) => r,
        Err(_) => send().await.unwrap(),
    };
    assert!(
        r.status().is_client_error() || r.status() == StatusCode::SEE_OTHER,
        "{}",
        r.status()
    );

    let r = c
        .post(app.url(&format!("/app/admin/people/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "某某"),
            ("phone", "12345"),
            ("department_id", "999999"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("电话号码格式不正确"));
    let r = c
        .post(app.url(&format!("/app/admin/people/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "某某"),
            ("department_id", "999999"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("所选部门不属于本单位"));

    // The broken-UTF-8 request above may have created at most one department.
    assert!(department_count(&app).await <= before + 1);
    assert_eq!(
        app.store.list_people(agency, None).await.unwrap().len(),
        people_before
    );
}

async fn script_and_sql_strings_are_stored_and_shown_literally(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app").await;
    let nasty = "<script>alert('x')</script>'); DROP TABLE departments; --";
    let r = c
        .post(app.url(&format!("/app/admin/departments/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", nasty),
            ("duties", "\" onmouseover=\"alert(1)"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored = app.department_id(nasty).await;
    assert_eq!(app.store.department(stored).await.unwrap().name, nasty);
    for page in ["/", "/app/admin/departments"] {
        let html = c
            .get(app.url(page))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!html.contains("<script>alert"), "{page} does not escape");
        assert!(html.contains("&#60;script&#62;"), "{page} shows the text");
        assert!(!html.contains("\" onmouseover=\"alert(1)"));
    }
    assert_eq!(department_count(&app).await, 16);
}

async fn credit_code_duplicate_or_bad_check_character_is_rejected_with_the_reason(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app").await;
    let post = |code: &'static str, slug: &'static str| {
        let c = c.clone();
        let token = token.clone();
        let url = app.url("/app/admin/agencies/new");
        async move {
            c.post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("name", "测试主体"),
                    ("slug", slug),
                    ("kind", "administrative_organ"),
                    ("credit_code", code),
                    ("legal_basis", "依据"),
                    ("parent_id", &agency.to_string()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = post("114115210055512344", "ceshi").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("校验位错误：按 GB 32100 应为“3”")
    );
    let r = post("114115210055512343", "ceshi").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("已被其他执法主体使用"));
    let r = post("11411521005551234", "ceshi").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("应为 18 位"));
    assert_eq!(app.store.list_agencies().await.unwrap().len(), 1);
    assert_eq!(app.store.journal_count("agency.create").await.unwrap(), 1);
}

async fn session_is_rotated_at_login_and_ended_at_logout(db: TestDb) {
    let app = TestApp::start(db).await;
    // A session id planted by an attacker before login is not the one used after.
    let planted = "planted-session-id";
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = c.get(app.url("/login")).send().await.unwrap();
    let login_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|v| v.starts_with("zhifa_login_csrf="))
        .unwrap();
    let token = crate::harness::csrf(&page.text().await.unwrap());
    let r = c
        .post(app.url("/login"))
        .header("Cookie", format!("{login_cookie}; zhifa_session={planted}"))
        .form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("zhifa_session="))
        .unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
    assert!(!set.contains(planted));

    let c = app.login("admin").await;
    let token = app.csrf_for(&c, "/app").await;
    let r = c
        .post(app.url("/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c.get(app.url("/app")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.store.journal_count("auth.logout").await.unwrap(), 1);
}

async fn idle_session_times_out(db: TestDb) {
    let config = WebConfig {
        idle_timeout: Duration::from_secs(1),
        ..WebConfig::default()
    };
    let app = TestApp::start_with(db, config).await;
    let c = app.login("leader").await;
    assert_eq!(
        c.get(app.url("/app")).send().await.unwrap().status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = c.get(app.url("/app")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

async fn weak_passwords_are_refused(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app").await;
    for (pw, message) in [
        ("short1A", "至少需要 8 个字符"),
        ("alllowercase1", "至少三类"),
        ("Wangwu#2026", "不能包含用户名"),
    ] {
        let r = c
            .post(app.url(&format!("/app/admin/users/new?agency={agency}")))
            .form(&[
                ("csrf_token", token.as_str()),
                ("display_name", "王五"),
                ("username", "wangwu"),
                ("password", pw),
                ("roles", "officer"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains(message), "{pw}");
    }
    assert!(app.store.user_by_username("wangwu").await.is_err());
}

async fn parallel_guesses_cannot_exceed_the_lockout_and_the_lockout_is_recorded(db: TestDb) {
    let app = TestApp::start(db).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = app.client();
        let page = c
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = crate::harness::csrf(&page);
        let url = app.url("/login");
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .form(&[
                    ("username", "officer2"),
                    ("password", "Guess#0000"),
                    ("csrf_token", &token),
                ])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }));
    }
    let mut locked_answers = 0;
    for t in tasks {
        if t.await.unwrap().contains("已被锁定") {
            locked_answers += 1;
        }
    }
    assert_eq!(locked_answers, 15, "only 5 guesses may be checked");
    assert_eq!(app.store.journal_count("auth.locked").await.unwrap(), 1);
    assert_eq!(
        app.store.journal_count("auth.login_failed").await.unwrap(),
        20
    );
    // Attempts while locked do not extend the lock: exactly 5 failures are counted.
    let since = zhifa_store::now_ms() - 60_000;
    assert_eq!(
        app.store
            .login_failures_since("officer2", since)
            .await
            .unwrap(),
        5
    );
    // An administrator's unlock lets the user in again.
    let id = app.store.user_by_username("officer2").await.unwrap().id;
    let mut tx = app
        .store
        .write(zhifa_store::Actor::System("test"))
        .await
        .unwrap();
    tx.unlock_user(id).await.unwrap();
    tx.commit().await.unwrap();
    app.login("officer2").await;
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:#?}", report.failures);
}

async fn login_never_redirects_off_site(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    for next in [
        "/%09/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/%01",
    ] {
        let r = c
            .get(app.url(&format!("/login?next={next}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(r.headers()["location"], "/app", "{next}");
    }
    let fresh = app.client();
    let page = fresh
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::harness::csrf(&page);
    let r = fresh
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf_token", &token),
            ("next", "/\t/evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/app");
}

async fn a_township_admin_saves_the_township_under_a_county(db: TestDb) {
    use zhifa_domain::org::AgencyInput;
    let app = TestApp::start(db).await;
    // A county above the demo township, and the township's admin edits the township.
    let county = zhifa_domain::NewAgency::parse(&AgencyInput {
        name: "罗山县人民政府".into(),
        slug: "luoshan".into(),
        kind: "administrative_organ".into(),
        credit_code: "914403001922038216".into(),
        legal_basis: "依据".into(),
        ..Default::default()
    })
    .unwrap();
    let mut tx = app
        .store
        .write(zhifa_store::Actor::System("test"))
        .await
        .unwrap();
    let county_id = tx.create_agency(&county).await.unwrap();
    tx.commit().await.unwrap();
    let town = app.store.agency_by_slug("zhutang").await.unwrap();
    let mut input = AgencyInput {
        name: town.name.clone(),
        slug: town.slug.clone(),
        kind: town.kind.code().into(),
        credit_code: town.credit_code.clone(),
        legal_basis: town.legal_basis.clone(),
        address: town.address.clone(),
        parent_id: county_id.to_string(),
        crypto: String::new(),
    };
    let mut tx = app
        .store
        .write(zhifa_store::Actor::System("test"))
        .await
        .unwrap();
    tx.update_agency(
        town.id,
        town.version,
        &zhifa_domain::NewAgency::parse(&input).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let c = app.login("admin").await;
    let form = c
        .get(app.url(&format!("/app/admin/agencies/{}", town.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("罗山县人民政府"),
        "the current parent is offered"
    );
    let token = crate::harness::csrf(&form);
    input.address = "河南省信阳市罗山县朱堂乡政府院内".into();
    let version = app.store.agency(town.id).await.unwrap().version.to_string();
    let r = c
        .post(app.url(&format!("/app/admin/agencies/{}", town.id)))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", &version),
            ("name", &input.name),
            ("slug", &input.slug),
            ("kind", &input.kind),
            ("credit_code", &input.credit_code),
            ("legal_basis", &input.legal_basis),
            ("address", &input.address),
            ("parent_id", &input.parent_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.store.agency(town.id).await.unwrap().address,
        input.address
    );
    assert_eq!(app.store.journal_count("access.denied").await.unwrap(), 0);
}
