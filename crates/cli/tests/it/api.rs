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
    tokens_expire_and_read_only_tokens_only_read,
    guomi_is_chosen_for_a_new_agency_on_the_form_and_over_the_api,
);

/// 国密 or the international algorithms, chosen on the administration form and in the
/// API: a bad choice is refused naming both, the choice is fixed once made, and the
/// agency's SM3 log gets SM2-signed checkpoints that verify.
async fn guomi_is_chosen_for_a_new_agency_on_the_form_and_over_the_api(db: TestDb) {
    use zhifa_ledger::HashAlg;
    let app = TestApp::start(db).await;
    let agency = app.agency_id().await;
    let admin = app.login("admin").await;
    let page = admin
        .get(app.url("/app/admin/agencies/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("国密（SM2/SM3）") && page.contains("国际算法（Ed25519/SHA-256）"),
        "{page}"
    );
    let token = crate::harness::csrf(&page);
    let count = || async { app.store.list_agencies().await.unwrap().len() };
    let before = count().await;
    let post = |crypto: &'static str| {
        let form = [
            ("csrf_token", token.clone()),
            ("name", "朱堂乡综合行政执法大队（受委托）".to_owned()),
            ("slug", "zhutang-zf".to_owned()),
            ("kind", "entrusted_organisation".to_owned()),
            ("credit_code", "12411521MB1953925Y".to_owned()),
            ("legal_basis", "行政处罚法第二十条 委托".to_owned()),
            ("parent_id", agency.to_string()),
            ("crypto", crypto.to_owned()),
        ];
        let r = admin.post(app.url("/app/admin/agencies/new")).form(&form);
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (s, body) = post("sm2").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("请选择密码算法"), "{body}");
    assert_eq!(count().await, before);
    let (s, body) = post("guomi").await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let formed = app.store.agency_by_slug("zhutang-zf").await.unwrap();
    assert_eq!(formed.crypto, zhifa_domain::Crypto::Guomi);
    assert_eq!(
        app.store.log_head(formed.id).await.unwrap().alg,
        HashAlg::Sm3
    );
    let edit = admin
        .get(app.url(&format!("/app/admin/agencies/{}", formed.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        edit.contains("国密（SM2/SM3）") && edit.contains("不能更改"),
        "{edit}"
    );

    // The API: the same choice, shown in the agency's view, and fixed afterwards.
    let api = app.api_token("admin").await;
    let client = reqwest::Client::new();
    let body = |crypto: &str| {
        json!({"name": "某村执法中队", "slug": "cun", "kind": "entrusted_organisation",
               "credit_code": "914403001922038216", "legal_basis": "委托书",
               "parent_id": agency, "crypto": crypto})
    };
    let r = client
        .post(app.url("/api/v1/agencies"))
        .bearer_auth(&api)
        .json(&body("sm3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(v.to_string().contains("国密（SM2/SM3）"), "{v}");
    let r = client
        .post(app.url("/api/v1/agencies"))
        .bearer_auth(&api)
        .json(&body("guomi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["crypto"], "guomi");
    assert_eq!(v["crypto_label"], "国密（SM2/SM3）");
    let id = v["id"].as_i64().unwrap();
    let mut change = body("international");
    change["version"] = v["version"].clone();
    let r = client
        .put(app.url(&format!("/api/v1/agencies/{id}")))
        .bearer_auth(&api)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("不能更改"));
    change["crypto"] = json!("");
    change["name"] = json!("某村综合执法中队");
    let r = client
        .put(app.url(&format!("/api/v1/agencies/{id}")))
        .bearer_auth(&api)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.store.log_head(id).await.unwrap().alg, HashAlg::Sm3);
    // The demo township kept its own algorithm.
    assert_eq!(
        app.store.log_head(agency).await.unwrap().alg,
        HashAlg::Sha256
    );

    // Both SM3 logs are signed (SM2) and published, and the record verifies.
    app.store.checkpoint_all(&app.keys).await.unwrap();
    for slug in ["zhutang-zf", "cun"] {
        let r = reqwest::get(app.url(&format!("/log/{slug}/checkpoint")))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{slug}");
        let cp = r.text().await.unwrap();
        assert!(cp.starts_with(&format!("zhifa/{slug}\n")), "{cp}");
        assert!(cp.contains("\n\n— "), "signed: {cp}");
    }
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:?}", report.failures);
}

/// A token made a read-only or with a term: a read-only token reads but changes nothing
/// (403, in Chinese); an expired one is refused (401, naming when it expired); the terms
/// are in the token's signed row, so rewriting them with SQL grants nothing and verify
/// names the token.
async fn tokens_expire_and_read_only_tokens_only_read(db: TestDb) {
    use zhifa_domain::token::TokenTerms;
    let app = TestApp::start(db).await;
    let client = reqwest::Client::new();
    let agency = app.agency_id().await;
    let now = zhifa_store::now_ms();
    let departments = || async { app.store.list_departments(agency).await.unwrap().len() };
    let before = departments().await;
    let create = |token: String| {
        let r = client
            .post(app.url(&format!("/api/v1/agencies/{agency}/departments")))
            .bearer_auth(token)
            .json(&json!({"name": "农业服务中心", "duties": "农技推广", "sort_order": 5}));
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let me = |token: String| {
        let r = client.get(app.url("/api/v1/me")).bearer_auth(token);
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };

    // Read-only: reads, but any change is refused and nothing is written.
    let (ro_id, read_only) = app
        .api_token_on("admin", TokenTerms::parse("30", true, now).unwrap())
        .await;
    let (s, v) = me(read_only.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["username"], "admin");
    let (s, v) = create(read_only.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("只读"),
        "{v}"
    );
    let r = client
        .delete(app.url("/api/v1/leadership/1"))
        .bearer_auth(&read_only)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(departments().await, before);

    // Expired: refused, saying when; a token made a day long two days ago is expired.
    let (_, expired) = app
        .api_token_on(
            "admin",
            TokenTerms::parse("1", false, now - 2 * 86_400_000).unwrap(),
        )
        .await;
    for (s, v) in [me(expired.clone()).await, create(expired.clone()).await] {
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"]["code"], "token_expired");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("过期"),
            "{v}"
        );
    }
    assert_eq!(departments().await, before);

    // A token with the default term may change things.
    let (s, v) = create(app.api_token("admin").await).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(app.store.verify(&[]).await.unwrap().ok());

    // The terms cannot be rewritten behind zhifa's back: the token grants nothing, and
    // verify names it.
    app.store
        .raw_execute(&format!(
            "UPDATE api_tokens SET read_only = 0, expires_at = {} WHERE id = {ro_id}",
            now + 3_000 * 86_400_000
        ))
        .await
        .unwrap();
    let (s, v) = create(read_only.clone()).await;
    assert_ne!(s, StatusCode::CREATED, "{v}");
    assert_eq!(departments().await, before + 1);
    let report = app.store.verify(&[]).await.unwrap();
    assert!(!report.ok());
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.contains("令牌") || f.contains("api_token")),
        "{:?}",
        report.failures
    );
}

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
