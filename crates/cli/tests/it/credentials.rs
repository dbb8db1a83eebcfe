//! 执法证件 over HTTP: registration with bad input refused field by field, status changes
//! recorded with their reasons in the log, the public check page at the moment of
//! scanning, and any token that is not a credential's answered with 无效 — never a 500.

use crate::harness::TestApp;
use reqwest::StatusCode;
use zhifa_domain::credential::check_assignable;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    an_admin_registers_a_credential_and_bad_input_changes_nothing,
    a_status_change_shows_on_the_check_page_at_once_and_is_in_the_log,
    forged_truncated_and_odd_tokens_get_the_invalid_page,
    the_public_sees_officers_but_never_their_phones,
    only_a_valid_credential_on_the_day_allows_assignment,
    officers_cannot_manage_credentials,
    an_id_number_with_a_wrong_check_character_is_refused_and_a_right_one_never_shown,
);

async fn holder(app: &TestApp, name: &str) -> i64 {
    app.store
        .list_people(app.agency_id().await, None)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
        .id
}

async fn an_admin_registers_a_credential_and_bad_input_changes_nothing(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app/admin/credentials").await;
    let person = holder(&app, "周平").await.to_string();
    let before = app.store.list_credentials(agency).await.unwrap().len();
    let post = |fields: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = app.url(&format!("/app/admin/credentials/new?agency={agency}"));
        let token = token.clone();
        async move {
            let mut form = vec![("csrf_token", token)];
            form.extend(fields);
            c.post(url).form(&form).send().await.unwrap()
        }
    };
    let good = |number: &str| {
        vec![
            ("person_id", person.clone()),
            ("kind", "enforcement".to_owned()),
            ("number", number.to_owned()),
            ("issuer", "河南省人民政府".to_owned()),
            ("area", "罗山县朱堂乡 · 综合行政执法".to_owned()),
            ("valid_from", "2025-01-01".to_owned()),
            ("valid_to", "2029-12-31".to_owned()),
        ]
    };
    // A duplicate number (the demo's), dates the wrong way round, an unknown kind: each
    // refused with its own message, nothing stored.
    let mut dup = good("豫A2024030101");
    dup[0].1 = person.clone();
    let r = post(dup).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("该证件编号已登记"));
    let mut backwards = good("豫A2025999901");
    backwards[6].1 = "2024-12-31".into();
    let r = post(backwards).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("有效期截止日不能早于起始日")
    );
    let mut odd = good("豫A2025999901");
    odd[1].1 = "passport".into();
    odd[5].1 = "2025-02-30".into();
    let r = post(odd).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains("请选择证件种类") && body.contains("有效期起始日"));
    // A holder of another agency (a form may name any id).
    let mut foreign = good("豫A2025999901");
    foreign[0].1 = "999999".into();
    let r = post(foreign).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("不属于本单位"));
    assert_eq!(
        app.store.list_credentials(agency).await.unwrap().len(),
        before
    );

    let r = post(good("豫a2025999901")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let created = app
        .store
        .list_credentials(agency)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.number == "豫A2025999901")
        .expect("stored with its number normalised");
    assert_eq!(created.holder, "周平");
    let page = c
        .get(app.url(&format!("/app/admin/credentials/{}", created.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg") && page.contains(&format!("/v/{}", created.qr_token)));
    assert_eq!(
        app.store.journal_count("credential.create").await.unwrap(),
        9
    );
}

async fn a_status_change_shows_on_the_check_page_at_once_and_is_in_the_log(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let cred = app
        .store
        .list_credentials(agency)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.number == "豫A2023030103")
        .unwrap();
    let public = app.client();
    let check = app.url(&format!("/v/{}", cred.qr_token));
    let r = public.get(&check).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.text().await.unwrap().contains("cred-check-ok"));

    let token = app
        .csrf_for(&c, &format!("/app/admin/credentials/{}", cred.id))
        .await;
    let status_url = app.url(&format!("/app/admin/credentials/{}/status", cred.id));
    // No reason, or a status that is not one: refused, nothing changes.
    let r = c
        .post(&status_url)
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", &cred.version.to_string()),
            ("status", "expired"),
            ("reason", " "),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains("请选择状态") && body.contains("请填写变更原因"));
    let r = c
        .post(&status_url)
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", &cred.version.to_string()),
            ("status", "suspended"),
            ("reason", "涉嫌违规执法，调查期间暂扣"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = public
        .get(&check)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("暂扣") && page.contains("cred-check-bad"));
    // A stale form (the old version) is refused rather than overwriting.
    let r = c
        .post(&status_url)
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", &cred.version.to_string()),
            ("status", "valid"),
            ("reason", "恢复"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("已被他人修改"));
    // Revoked for good: it cannot be made valid again.
    let v = app.store.credential(cred.id).await.unwrap().version;
    for (status, expect) in [
        ("revoked", StatusCode::SEE_OTHER),
        ("valid", StatusCode::BAD_REQUEST),
    ] {
        let v = app.store.credential(cred.id).await.unwrap().version;
        let r = c
            .post(&status_url)
            .form(&[
                ("csrf_token", token.as_str()),
                ("version", &v.to_string()),
                ("status", status),
                ("reason", "调离执法岗位"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expect, "{status}");
    }
    assert!(v > cred.version);
    let page = public
        .get(&check)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("注销"));
    // Each change, with its reason, is an entry of the agency's log; the page lists them.
    let history = app
        .store
        .journal_for_subject("credential", &cred.id.to_string())
        .await
        .unwrap();
    let reasons: Vec<String> = history
        .iter()
        .filter(|e| e.action == "credential.status")
        .filter_map(|e| e.payload.clone())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons[0].contains("涉嫌违规执法"));
    let admin_page = c
        .get(app.url(&format!("/app/admin/credentials/{}", cred.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        admin_page.contains("涉嫌违规执法，调查期间暂扣") && admin_page.contains("调离执法岗位")
    );
    // Reissuing the code makes the old one 无效.
    let v = app.store.credential(cred.id).await.unwrap().version;
    let r = c
        .post(app.url(&format!("/app/admin/credentials/{}/token", cred.id)))
        .form(&[("csrf_token", token.as_str()), ("version", &v.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        public.get(&check).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

async fn forged_truncated_and_odd_tokens_get_the_invalid_page(db: TestDb) {
    let app = TestApp::start(db).await;
    let agency = app.agency_id().await;
    let real = app.store.list_credentials(agency).await.unwrap()[0]
        .qr_token
        .clone();
    let mut forged = real.clone().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let long = "A".repeat(5000);
    let c = app.client();
    for t in [
        &real[..real.len() - 1],
        forged.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAA",
        "%E6%97%A0%E6%95%88",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        long.as_str(),
        "'%20OR%201=1--",
    ] {
        let r = c.get(app.url(&format!("/v/{t}"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{t}");
        let body = r.text().await.unwrap();
        assert!(body.contains("无效"), "{t}: {body}");
    }
}

async fn the_public_sees_officers_but_never_their_phones(db: TestDb) {
    let app = TestApp::start(db).await;
    let page = app
        .client()
        .get(app.url("/agencies/zhutang/officers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in ["张明", "豫A2024030101", "过期", "注销", "暂扣", "有效"] {
        assert!(page.contains(shown), "{shown}");
    }
    // Legal reviewers' 法律职业资格 is not an enforcement credential.
    assert!(!page.contains("A20194115210001"));
    assert!(!page.contains("139000000"), "no phone numbers");
    assert_eq!(
        app.client()
            .get(app.url("/agencies/nowhere/officers"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn only_a_valid_credential_on_the_day_allows_assignment(db: TestDb) {
    let app = TestApp::start(db).await;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let rule = |name: &'static str| {
        let app = &app;
        async move {
            let id = holder(app, name).await;
            let creds: Vec<_> = app
                .store
                .credentials_of_person(id)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.number.clone(), c.validity()))
                .collect();
            check_assignable(name, &creds, today)
        }
    };
    assert!(rule("张明").await.is_ok());
    // The demo's 何军 holds a credential that expired 12 days ago.
    let err = rule("何军").await.unwrap_err().to_string();
    assert!(err.contains("过期"), "{err}");
    assert!(rule("刘洋").await.unwrap_err().to_string().contains("注销"));
    assert!(rule("郑红").await.unwrap_err().to_string().contains("暂扣"));
    // No credential at all.
    assert!(
        rule("周平")
            .await
            .unwrap_err()
            .to_string()
            .contains("没有行政执法证")
    );
}

async fn officers_cannot_manage_credentials(db: TestDb) {
    let app = TestApp::start(db).await;
    let c = app.login("officer").await;
    let r = c
        .get(app.url("/app/admin/credentials"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.store.journal_count("access.denied").await.unwrap() >= 1);
}

async fn an_id_number_with_a_wrong_check_character_is_refused_and_a_right_one_never_shown(
    db: TestDb,
) {
    let app = TestApp::start(db).await;
    let c = app.login("admin").await;
    let agency = app.agency_id().await;
    let token = app.csrf_for(&c, "/app/admin/people").await;
    let id = holder(&app, "张明").await;
    let p = app
        .store
        .list_people(agency, None)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap();
    let post = |number: &'static str, version: i64| {
        let c = c.clone();
        let url = app.url(&format!("/app/admin/people/{id}"));
        let token = token.clone();
        let dept = p.department_id.unwrap().to_string();
        async move {
            c.post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("version", &version.to_string()),
                    ("name", "张明"),
                    ("department_id", &dept),
                    ("position", "执法队员"),
                    ("active", "1"),
                    ("id_number", number),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // GB 11643's own example with its last character changed.
    let r = post("110105194912310021", p.version).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("按 GB 11643 应为“X”"));
    let r = post("11010519491231002x", p.version).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored = app
        .store
        .list_people(agency, None)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap();
    assert_eq!(stored.id_number.as_deref(), Some("11010519491231002X"));
    // Never on a public page.
    let cred = app.store.credentials_of_person(id).await.unwrap().remove(0);
    for path in [
        "/agencies/zhutang/officers".to_owned(),
        format!("/v/{}", cred.qr_token),
        "/".to_owned(),
    ] {
        let page = app
            .client()
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!page.contains("11010519491231002X"), "{path}");
    }
}
