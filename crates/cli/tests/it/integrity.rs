//! The record holds against an insider: a case changed with SQL behind zhifa's back
//! stays named by `verify`, because the next ordinary act on it — a step advanced over
//! HTTP, a document issued, evidence registered — is refused and writes nothing; the
//! administrators see the alert on their home page. And input cannot lie: a
//! right-to-left override, a zero-width space or a NUL in a name or a cause is refused with
//! a message and changes nothing.

use crate::harness::{TestApp, csrf};
use chrono::NaiveDate;
use reqwest::{Client, StatusCode};
use zhifa_domain::Role;
use zhifa_domain::case::{NewParty, PartyInput};
use zhifa_store::StoreError;
use zhifa_store::cases::{CaseActor, OpenCase};
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    a_case_changed_behind_zhifas_back_is_not_laundered_by_the_next_act,
    invisible_and_control_characters_are_refused_and_names_are_normalised,
    sessions_tokens_roles_lockouts_and_counters_cannot_be_forged_in_the_database,
    twelve_correct_logins_at_once_all_succeed_and_wrong_ones_still_lock,
    signed_in_pages_are_not_stored_and_other_departments_cases_are_not_found,
);

fn today() -> NaiveDate {
    zhifa_store::today_beijing()
}

async fn actor(app: &TestApp, username: &str, roles: Vec<Role>) -> CaseActor {
    let u = app.store.user_by_username(username).await.unwrap();
    CaseActor {
        user_id: u.id,
        person_id: u.person_id,
        roles,
    }
}

async fn person(app: &TestApp, name: &str) -> i64 {
    let a = app.agency_id().await;
    let people = app.store.list_people(a, None).await.unwrap();
    people.into_iter().find(|p| p.name == name).unwrap().id
}

async fn item(app: &TestApp, code: &str) -> i64 {
    let a = app.agency_id().await;
    let items = app
        .store
        .items_in_force(a, today(), &Default::default())
        .await
        .unwrap();
    items.into_iter().find(|v| v.code == code).unwrap().item_id
}

async fn get(c: &Client, app: &TestApp, path: &str) -> String {
    c.get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn names_the_case(failures: &[String], id: i64) -> bool {
    failures
        .iter()
        .any(|f| f.contains(&format!("cases 表 id={id}")))
}

async fn a_case_changed_behind_zhifas_back_is_not_laundered_by_the_next_act(db: TestDb) {
    let app = TestApp::start(db).await;
    let a = app.agency_id().await;
    let officer = actor(&app, "officer", vec![Role::Officer]).await;
    let officer2 = actor(&app, "officer2", vec![Role::Officer]).await;
    let (zhang, li) = (person(&app, "张明").await, person(&app, "李华").await);
    let party = NewParty::parse(
        &PartyInput {
            kind: "person".into(),
            name: "王某某".into(),
            id_code: "411521199001010014".into(),
            address: String::new(),
        },
        "",
    )
    .unwrap();
    let (id, _) = app
        .store
        .open_case(
            &officer,
            &OpenCase {
                agency_id: a,
                department_id: app.department_id("综合行政执法大队").await,
                procedure: "penalty-summary".into(),
                item_id: Some(item(&app, "ZT-CF-022").await),
                cause: "占道经营".into(),
                opened_on: today(),
                parties: vec![party],
                officers: vec![zhang, li],
            },
        )
        .await
        .unwrap();
    for o in [&officer, &officer2] {
        app.store.declare_no_conflict(o, id, today()).await.unwrap();
    }
    assert!(app.store.verify(&[]).await.unwrap().ok());

    // A database writer changes the case's 案由 with SQL: verify names the case.
    app.store
        .raw_execute(&format!(
            "UPDATE cases SET cause = '篡改后的案由' WHERE id = {id}"
        ))
        .await
        .unwrap();
    assert!(names_the_case(
        &app.store.verify(&[]).await.unwrap().failures,
        id
    ));
    // The officer advances the step on the case page: refused, with the reason.
    let c = app.login("officer").await;
    let log_before = app.store.log_head(a).await.unwrap().size;
    let file_before = app.store.case_file(id).await.unwrap();
    let page = get(&c, &app, &format!("/app/cases/{id}")).await;
    let mut form = vec![
        ("csrf_token", csrf(&page)),
        ("version", file_before.case.version.to_string()),
        ("to", "on_site_notice".to_owned()),
        ("on_day", today().to_string()),
        ("note", "现场调查".to_owned()),
        ("credentials_shown", "1".to_owned()),
    ];
    for o in [zhang, li] {
        form.push(("officers", o.to_string()));
    }
    let r = c
        .post(app.url(&format!("/app/cases/{id}/advance")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(body.contains("数据被绕过系统修改"), "{body}");
    assert!(body.contains(&format!("案件（编号 {id}）")), "{body}");

    // A document or evidence on the tampered case is refused the same way.
    let e = app
        .store
        .issue_document(
            &officer,
            id,
            "filing",
            "立案审批表",
            today(),
            b"%PDF",
            b"PK",
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Tampered(_)), "{e}");

    // Nothing changed: the case stands where it stood, and the log holds only the two
    // alerts (written once each refused transaction ended).
    let mut alerts = vec![];
    for _ in 0..100 {
        alerts = app.store.tamper_alerts(a, 10).await.unwrap();
        if alerts.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(app.store.log_head(a).await.unwrap().size, log_before + 2);
    let file_after = app.store.case_file(id).await.unwrap();
    assert_eq!(file_after.case.version, file_before.case.version);
    assert_eq!(file_after.case.step, file_before.case.step);
    assert_eq!(file_after.events.len(), file_before.events.len());
    // verify still names the case: the tampered 案由 never entered a genuine entry.
    assert!(names_the_case(
        &app.store.verify(&[]).await.unwrap().failures,
        id
    ));

    // The administrator sees the alert on the home page; an officer does not.
    let admin = app.login("admin").await;
    let home = get(&admin, &app, "/app").await;
    assert!(home.contains("数据完整性警报"), "{home}");
    assert!(home.contains(&format!("案件（编号 {id}）")), "{home}");
    assert!(!get(&c, &app, "/app").await.contains("数据完整性警报"));

    // Put back as its entries recorded it, the case is worked on as before.
    app.store
        .raw_execute(&format!(
            "UPDATE cases SET cause = '占道经营' WHERE id = {id}"
        ))
        .await
        .unwrap();
    let page = get(&c, &app, &format!("/app/cases/{id}")).await;
    form[0].1 = csrf(&page);
    let r = c
        .post(app.url(&format!("/app/cases/{id}/advance")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let after = app.store.case_file(id).await.unwrap();
    assert_eq!(after.case.step, "on_site_notice");
    let r = app.store.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
}

/// A name with a right-to-left override would print reversed in an official PDF; a
/// zero-width space would hide the party from search; a NUL in the 案由 was stored as
/// typed on SQLite and a 500 on PostgreSQL. Each is refused with a message on the 立案
/// form, and nothing is opened; a name typed with a combining accent is stored composed.
async fn invisible_and_control_characters_are_refused_and_names_are_normalised(db: TestDb) {
    let app = TestApp::start(db).await;
    let a = app.agency_id().await;
    let officer = app.login("officer").await;
    let (zhang, li) = (person(&app, "张明").await, person(&app, "李华").await);
    let dept = app.department_id("综合行政执法大队").await.to_string();
    let item_id = item(&app, "ZT-CF-003").await.to_string();
    let form = |cause: &str, name: &str, address: &str| {
        vec![
            ("procedure", "penalty-ordinary".to_owned()),
            ("department_id", dept.clone()),
            ("item_id", item_id.clone()),
            ("cause", cause.to_owned()),
            ("opened_on", today().to_string()),
            ("p0_kind", "person".to_owned()),
            ("p0_name", name.to_owned()),
            ("p0_id_code", "411521198003150016".to_owned()),
            ("p0_address", address.to_owned()),
            ("officers", zhang.to_string()),
            ("officers", li.to_string()),
        ]
    };
    let count = || async {
        let cases = app.store.list_cases(a, &Default::default(), 1, 0).await;
        cases.unwrap().1
    };
    let before = count().await;
    for (fields, expected) in [
        (form("露天焚烧秸秆", "张\u{202E}某某", "朱堂村"), "格式字符"),
        (form("露天焚烧秸秆", "张\u{200B}某", "朱堂村"), "格式字符"),
        (form("露天焚烧\u{0}秸秆", "张某", "朱堂村"), "空字符"),
        (
            form("露天焚烧\u{1B}秸秆\u{7F}", "张某", "朱堂村"),
            "控制字符",
        ),
        (
            form("露天焚烧秸秆", "张某", "朱堂村\u{2066}3组"),
            "格式字符",
        ),
    ] {
        let page = get(&officer, &app, "/app/cases/new").await;
        let mut body = vec![("csrf_token", csrf(&page))];
        body.extend(fields);
        let r = officer
            .post(app.url("/app/cases/new"))
            .form(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{expected}");
        let text = r.text().await.unwrap();
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert_eq!(count().await, before, "nothing was opened");
    // A NUL in a search finds nothing; it is no database error.
    let r = officer
        .get(app.url("/app/cases?q=%E5%BC%A0%00%E6%9F%90"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A combining accent is composed before it is stored (NFC).
    let page = get(&officer, &app, "/app/cases/new").await;
    let mut body = vec![("csrf_token", csrf(&page))];
    body.extend(form("露天焚烧秸秆", "Jose\u{301} 张", "朱堂村"));
    let r = officer
        .post(app.url("/app/cases/new"))
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: i64 = r.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let file = app.store.case_file(id).await.unwrap();
    assert_eq!(file.parties[0].name, "Jos\u{E9} 张");
}

fn sha256_hex(s: &str) -> String {
    zhifa_store::accounts::secret_hash(s)
}

fn failures_mention(failures: &[String], needle: &str) -> bool {
    failures.iter().any(|f| f.contains(needle))
}

/// A database writer without the key directory mints nothing: a session row of their
/// own making, a session moved to the administrator, a role written into their account,
/// an API token row, a lockout of someone else, a wound-back case counter — each grants
/// or locks nothing, and `verify` names each.
async fn sessions_tokens_roles_lockouts_and_counters_cannot_be_forged_in_the_database(db: TestDb) {
    let app = TestApp::start(db).await;
    let store = &app.store;
    let admin_id = store.user_by_username("admin").await.unwrap().id;
    let officer_id = store.user_by_username("officer").await.unwrap().id;
    let now = zhifa_store::now_ms();
    let bare = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // 1. A session row inserted with the SHA-256 of a chosen id, for the administrator.
    store
        .raw_execute(&format!(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, client_ip)
             VALUES ('{}', {admin_id}, 'x', {now}, {now}, '')",
            sha256_hex("chosen-session-id")
        ))
        .await
        .unwrap();
    let r = bare
        .get(app.url("/app"))
        .header("cookie", "zhifa_session=chosen-session-id")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the forged session signs nobody in"
    );
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let report = store.verify(&[]).await.unwrap();
    assert!(failures_mention(
        &report.failures,
        &format!("账号 {admin_id} 的一个会话")
    ));
    store
        .raw_execute("DELETE FROM sessions WHERE csrf_token = 'x'")
        .await
        .unwrap();

    // 2. The officer's own session moved to the administrator's account.
    let officer = app.login("officer").await;
    assert_eq!(
        officer.get(app.url("/app")).send().await.unwrap().status(),
        StatusCode::OK
    );
    store
        .raw_execute(&format!(
            "UPDATE sessions SET user_id = {admin_id} WHERE user_id = {officer_id}"
        ))
        .await
        .unwrap();
    let r = officer
        .get(app.url("/app/admin/users"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        r.status(),
        StatusCode::OK,
        "the moved session is no administrator's"
    );
    store
        .raw_execute(&format!("DELETE FROM sessions WHERE user_id = {admin_id}"))
        .await
        .unwrap();

    // 3. The administrator's role written into the officer's account: the next page is
    //    refused, naming the account, and nothing administrative is reachable.
    let officer = app.login("officer").await;
    store
        .raw_execute(&format!(
            "UPDATE users SET roles = 'admin,officer' WHERE id = {officer_id}"
        ))
        .await
        .unwrap();
    let r = officer
        .get(app.url("/app/admin/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&format!("账号（编号 {officer_id}）")),
        "{body}"
    );
    store
        .raw_execute(&format!(
            "UPDATE users SET roles = 'officer' WHERE id = {officer_id}"
        ))
        .await
        .unwrap();
    assert_eq!(
        officer.get(app.url("/app")).send().await.unwrap().status(),
        StatusCode::OK
    );

    // 4. An API token row inserted for the administrator.
    store
        .raw_execute(&format!(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at)
             VALUES ({admin_id}, '后门', '{}', {now})",
            sha256_hex("zf_chosen-token")
        ))
        .await
        .unwrap();
    let r = bare
        .get(app.url("/api/v1/me"))
        .bearer_auth("zf_chosen-token")
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_success(), "the forged token grants nothing");
    let genuine = app.api_token("admin").await;
    let r = bare
        .get(app.url("/api/v1/me"))
        .bearer_auth(&genuine)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    store
        .raw_execute("DELETE FROM api_tokens WHERE name = '后门'")
        .await
        .unwrap();

    // 5. Five failures inserted for the officer lock nobody out.
    for i in 0..5 {
        store
            .raw_execute(&format!(
                "INSERT INTO login_failures (username, at, client_ip) VALUES ('officer', {}, '')",
                now + i
            ))
            .await
            .unwrap();
    }
    let officer = app.login("officer").await;
    assert_eq!(
        officer.get(app.url("/app")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let report = store.verify(&[]).await.unwrap();
    assert!(
        failures_mention(&report.failures, "login_failures 表"),
        "{report:#?}"
    );
    store
        .raw_execute("DELETE FROM login_failures WHERE mac = ''")
        .await
        .unwrap();

    // 6. A case counter wound back (the next case would take a number already given).
    store
        .raw_execute("UPDATE case_counters SET last = last - 1 WHERE last > 1")
        .await
        .unwrap();
    let report = store.verify(&[]).await.unwrap();
    assert!(
        failures_mention(&report.failures, "案件编号计数器"),
        "{report:#?}"
    );
}

/// A correct password is never counted as a failure: twelve logins of one account at
/// once (an office signing in on every computer) all succeed, where the lockout's five
/// slots once turned seven of them away; five wrong passwords still lock the account.
async fn twelve_correct_logins_at_once_all_succeed_and_wrong_ones_still_lock(db: TestDb) {
    let app = std::sync::Arc::new(TestApp::start(db).await);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let c = app.client();
            app.try_login(&c, "officer", crate::harness::PASSWORD)
                .await
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::SEE_OTHER);
    }
    assert_eq!(
        app.store.login_failures_since("officer", 0).await.unwrap(),
        0
    );
    // Wrong passwords, also at once: exactly five are checked, then the account is locked.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let c = app.client();
            let r = app.try_login(&c, "officer", "Wrong@2026x").await;
            r.text().await.unwrap()
        }));
    }
    let mut locked = 0;
    for t in tasks {
        if t.await.unwrap().contains("已被锁定") {
            locked += 1;
        }
    }
    assert_eq!(locked, 3, "five guesses checked, three refused unchecked");
    assert_eq!(
        app.store.login_failures_since("officer", 0).await.unwrap(),
        5
    );
    let c = app.client();
    let r = app.try_login(&c, "officer", crate::harness::PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "locked, even with the password"
    );
    assert!(app.store.verify(&[]).await.unwrap().ok());
}

/// Signed-in pages carry `Cache-Control: no-store` (a shared computer's back button shows
/// nothing); a case of another department is "not found" for an officer, not "forbidden"
/// (no existence oracle), and the denial is still recorded; a password cannot be changed
/// to itself.
async fn signed_in_pages_are_not_stored_and_other_departments_cases_are_not_found(db: TestDb) {
    let app = TestApp::start(db).await;
    let market = app.login("market").await;
    let r = market.get(app.url("/app")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    // Every demo case is of the 综合行政执法大队; the 市场监管所's officer sees none.
    let a = app.agency_id().await;
    let (cases, _) = app
        .store
        .list_cases(a, &Default::default(), 10, 0)
        .await
        .unwrap();
    let r = market
        .get(app.url(&format!("/app/cases/{}", cases[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = get(&market, &app, "/app/password").await;
    let r = market
        .post(app.url("/app/password"))
        .form(&[
            ("csrf_token", csrf(&page)),
            ("current", crate::harness::PASSWORD.to_owned()),
            ("new", crate::harness::PASSWORD.to_owned()),
            ("confirm", crate::harness::PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("新密码不能与当前密码相同"));
}
