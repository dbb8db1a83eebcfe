//! The JSON API and its OpenAPI document.

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    accounts_are_managed_through_the_api,
    openapi_document_matches_the_routes,
    api_requires_a_valid_bearer_token,
    api_creates_and_updates_with_field_errors_in_chinese,
    api_refuses_malformed_oversized_and_unauthorised_requests,
    the_calendar_answers_anyone_and_refuses_bad_or_uncovered_dates,
    an_administrator_extends_the_calendar_and_bad_years_are_refused,
);

async fn the_calendar_answers_anyone_and_refuses_bad_or_uncovered_dates(db: TestDb) {
    let app = TestApp::start(db).await;
    let get = |q: &'static str| {
        let url = app.url(&format!("/api/v1/calendar/add-working-days?{q}"));
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    // No token needed: it is the published calendar.
    let (s, v) = get("from=2026-02-13&days=2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["date"], "2026-02-24");
    assert!(v["notice"].as_str().unwrap().contains("2026"));
    for q in [
        "from=2026-02-30&days=1",
        "from=2026-03-01&days=-1",
        "days=3",
        "from=2026-03-01&days=99999",
    ] {
        let (s, v) = get(q).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert!(
            v["error"]["fields"].is_array() || v["error"]["message"].is_string(),
            "{q}: {v}"
        );
    }
    let (s, v) = get("from=2026-12-25&days=10").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v.to_string().contains("2027 年尚无国务院节假日安排数据"),
        "{v}"
    );
}

async fn openapi_document_matches_the_routes(db: TestDb) {
    let app = TestApp::start(db).await;
    let token = app.api_token("admin").await;
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "only {} paths documented", paths.len());

    let agency = app.agency_id().await;
    let dept = app.department_id("司法所").await;
    let person = app.store.list_people(agency, None).await.unwrap()[0].id;
    let member = app.store.list_leadership(agency).await.unwrap()[0].id;
    let account = app.store.user_by_username("officer").await.unwrap().id;
    let client = reqwest::Client::new();
    let mut checked = 0;
    for (path, item) in paths {
        let id = if path.starts_with("/api/v1/agencies/") {
            agency
        } else if path.starts_with("/api/v1/departments/") {
            dept
        } else if path.starts_with("/api/v1/people/") {
            person
        } else if path.starts_with("/api/v1/users/") {
            account
        } else {
            member
        };
        let mut concrete = path.replace("{id}", &id.to_string());
        if path.starts_with("/api/v1/calendar/") {
            concrete.push_str("?from=2026-03-02&days=5");
        }
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = client
                .request(m.clone(), app.url(&concrete))
                .bearer_auth(&token);
            if m != reqwest::Method::GET {
                // An empty object: every documented write must answer 400, not 404/405.
                req = req.json(&json!({}));
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} documented but answered {status}"
            );
            if m == reqwest::Method::GET {
                assert_eq!(status, StatusCode::OK, "GET {path}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{method} {path} with an empty body"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 21, "only {checked} operations checked");
    // And what is not documented is not served.
    let r = client
        .get(app.url("/api/v1/nothing"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].is_string());
}

async fn api_requires_a_valid_bearer_token(db: TestDb) {
    let app = TestApp::start(db).await;
    let client = reqwest::Client::new();
    let r = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = client
        .get(app.url("/api/v1/me"))
        .bearer_auth("zf_bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let token = app.api_token("officer").await;
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "officer");
    assert_eq!(me["roles"], json!(["officer"]));
    // A session cookie is not an API credential.
    let browser = app.login("admin").await;
    let r = browser.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Disabling the user revokes the token.
    let id = app.store.user_by_username("officer").await.unwrap().id;
    let mut tx = app
        .store
        .write(zhifa_store::Actor::System("test"))
        .await
        .unwrap();
    tx.set_user_disabled(id, true).await.unwrap();
    tx.commit().await.unwrap();
    let r = client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn api_creates_and_updates_with_field_errors_in_chinese(db: TestDb) {
    let app = TestApp::start(db).await;
    let token = app.api_token("admin").await;
    let client = reqwest::Client::new();
    let agency = app.agency_id().await;

    let r = client
        .post(app.url(&format!("/api/v1/agencies/{agency}/departments")))
        .bearer_auth(&token)
        .json(&json!({"name": "农业服务中心", "duties": "农技推广", "sort_order": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let d: Value = r.json().await.unwrap();
    let id = d["id"].as_i64().unwrap();

    let r = client
        .put(app.url(&format!("/api/v1/departments/{id}")))
        .bearer_auth(&token)
        .json(&json!({"name": "农业农村服务中心", "version": d["version"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The same version again is stale.
    let r = client
        .put(app.url(&format!("/api/v1/departments/{id}")))
        .bearer_auth(&token)
        .json(&json!({"name": "又一个名字", "version": d["version"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Field errors name the field, in Chinese; nothing is written.
    let r = client
        .post(app.url("/api/v1/agencies"))
        .bearer_auth(&token)
        .json(&json!({"name": "", "slug": "X Y", "kind": "x", "credit_code": "114115210055512344", "legal_basis": "", "parent_id": agency}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_fields");
    let fields = body["error"]["fields"].as_array().unwrap();
    let msg = |f: &str| {
        fields
            .iter()
            .find(|e| e["field"] == f)
            .map(|e| e["message"].as_str().unwrap().to_owned())
    };
    assert!(msg("credit_code").unwrap().contains("校验位"));
    assert!(msg("name").unwrap().contains("请填写"));
    // Duplicate credit code.
    let r = client
        .post(app.url("/api/v1/agencies"))
        .bearer_auth(&token)
        .json(&json!({"name": "重复主体", "slug": "dup", "kind": "administrative_organ", "credit_code": "114115210055512343", "legal_basis": "依据", "parent_id": agency}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("已被其他执法主体使用"));
    assert_eq!(app.store.list_agencies().await.unwrap().len(), 1);

    // Stored strings come back literally.
    let nasty = "<b>x</b>' OR '1'='1";
    let r = client
        .post(app.url(&format!("/api/v1/agencies/{agency}/leadership")))
        .bearer_auth(&token)
        .json(&json!({"name": nasty, "rank": "member", "post": "测试"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["name"], nasty);
}

async fn api_refuses_malformed_oversized_and_unauthorised_requests(db: TestDb) {
    let app = TestApp::start(db).await;
    let client = reqwest::Client::new();
    let agency = app.agency_id().await;
    let admin = app.api_token("admin").await;
    let url = app.url(&format!("/api/v1/agencies/{agency}/departments"));
    let before = app.store.list_departments(agency).await.unwrap().len();

    let r = client
        .post(&url)
        .bearer_auth(&admin)
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(body["error"]["message"].as_str().unwrap().contains("JSON"));

    let r = client
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({"name": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = client
        .post(&url)
        .bearer_auth(&admin)
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let big = json!({"name": "x".repeat(300 * 1024)});
    let r = client
        .post(&url)
        .bearer_auth(&admin)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");

    // An officer may not create departments or list other staff.
    let officer = app.api_token("officer").await;
    let r = client
        .post(&url)
        .bearer_auth(&officer)
        .json(&json!({"name": "越权"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .get(app.url(&format!("/api/v1/agencies/{agency}/people")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let market = app
        .store
        .list_people(agency, Some(app.department_id("市场监管所").await))
        .await
        .unwrap()[0]
        .id;
    let r = client
        .get(app.url(&format!("/api/v1/people/{market}")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        app.store.list_departments(agency).await.unwrap().len(),
        before
    );
    assert_eq!(app.store.journal_count("access.denied").await.unwrap(), 3);
    let r = client
        .get(app.url("/api/v1/agencies/999999"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = client
        .get(app.url("/api/v1/agencies/abc"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("参数"));
}

async fn accounts_are_managed_through_the_api(db: TestDb) {
    let app = TestApp::start(db).await;
    let token = app.api_token("admin").await;
    let client = reqwest::Client::new();
    let agency = app.agency_id().await;
    let r = client
        .post(app.url(&format!("/api/v1/agencies/{agency}/users")))
        .bearer_auth(&token)
        .json(&json!({"username": "zhaoliu", "display_name": "赵六", "password": "Zhaoliu"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "weak password");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "password");
    let r = client
        .post(app.url(&format!("/api/v1/agencies/{agency}/users")))
        .bearer_auth(&token)
        .json(&json!({"username": "zhaoliu", "display_name": "赵六", "password": "Strong#Pass9", "roles": ["officer"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let u: Value = r.json().await.unwrap();
    let id = u["id"].as_i64().unwrap();
    // 乡领导 is granted by the 安全管理员, not the 系统管理员 (三员).
    let r = client
        .put(app.url(&format!("/api/v1/users/{id}/roles")))
        .bearer_auth(&token)
        .json(&json!({"roles": ["officer", "leader"], "version": u["version"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("须由安全管理员办理"),
        "{body}"
    );
    let security = app.api_token("security").await;
    let r = client
        .put(app.url(&format!("/api/v1/users/{id}/roles")))
        .bearer_auth(&security)
        .json(&json!({"roles": ["officer", "leader"], "version": u["version"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["roles"], json!(["officer", "leader"]));
    // The 安全管理员 cannot create accounts or disable them: that is the 系统管理员's.
    let r = client
        .put(app.url(&format!("/api/v1/users/{id}/disabled")))
        .bearer_auth(&security)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.login_with("zhaoliu", "Strong#Pass9").await;
    let r = client
        .put(app.url(&format!("/api/v1/users/{id}/disabled")))
        .bearer_auth(&token)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .try_login(&app.client(), "zhaoliu", "Strong#Pass9")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // An officer cannot manage accounts.
    let officer = app.api_token("officer").await;
    let r = client
        .get(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:#?}", report.failures);
}

async fn app_agency(store: &zhifa_store::Store) -> i64 {
    store.agency_by_slug("zhutang").await.unwrap().id
}

/// An administrator adds the next year (here a made-up 2027, as a test): deadlines may
/// then reach into it; a year that leaves a gap, or names a weekday as a make-up working
/// day, is refused; the change is in the installation's log and verifies.
async fn an_administrator_extends_the_calendar_and_bad_years_are_refused(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let token = app.csrf_for(&c, "/app/admin/calendar").await;
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let c = c.clone();
        let token = token.clone();
        let url = app.url("/app/admin/calendar");
        async move {
            let mut form = vec![("csrf_token", token.as_str().to_owned())];
            form.extend(fields.into_iter().map(|(k, v)| (k, v.to_owned())));
            let r = c.post(url).form(&form).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (s, body) = post(vec![
        ("year", "2028"),
        ("notice", "测试"),
        ("holidays", "2028-01-03"),
    ])
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("缺少 2027 年"), "{body}");
    let (s, body) = post(vec![
        ("year", "2027"),
        ("notice", "测试数据（并非国务院通知）"),
        ("holidays", "2027-01-01"),
        ("workdays", "2027-01-04"),
    ])
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("2027-01-04 是工作日，不能列为调休上班"),
        "{body}"
    );
    // Open cases whose next deadline falls in 2027 have none yet (the demo's newest
    // penalty case: 90 days from 立案 to the decision).
    let undated = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            let mut n = 0;
            let (cases, _) = store
                .list_cases(app_agency(&store).await, &Default::default(), 100, 0)
                .await
                .unwrap();
            for c in cases.iter().filter(|c| c.closed_on.is_none()) {
                if c.due_on.is_none() && c.procedure == "penalty-ordinary" {
                    n += 1;
                }
            }
            n
        }
    };
    // (Late in 2026 — when this was written — there are such cases; earlier in a year
    // there may be none, and the refresh then has nothing to do.)
    let before = undated(&app).await;
    let (s, body) = post(vec![
        ("year", "2027"),
        ("notice", "测试数据（并非国务院通知）"),
        ("holidays", "2027-01-01\n2027-02-08..2027-02-12"),
        ("workdays", "2027-02-06"),
    ])
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("已保存 2027 年"));
    if before > 0 {
        assert!(body.contains("期限已按新日历重新计算"), "{body}");
        assert!(undated(&app).await < before);
    }
    let v: Value =
        reqwest::get(app.url("/api/v1/calendar/add-working-days?from=2026-12-25&days=10"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    // 12-28..31 (4), 2027-01-04..08 (5; 01-01 off), 01-11 → the 10th.
    assert_eq!(v["date"], "2027-01-11", "{v}");
    assert!(app.store.verify(&[]).await.unwrap().ok());
    // Only administrators keep the calendar.
    let officer = app.login("officer").await;
    let r = officer
        .get(app.url("/app/admin/calendar"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
