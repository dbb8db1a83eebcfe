//! The record holds against an insider: a case changed with SQL behind zhifa's back
//! stays named by `verify`, because the next ordinary act on it — a step advanced over
//! HTTP, a document issued, evidence registered — is refused and writes nothing; the
//! administrators see the alert on their home page.

use crate::harness::{TestApp, csrf};
use chrono::NaiveDate;
use reqwest::{Client, StatusCode};
use zhifa_domain::Role;
use zhifa_domain::case::{NewParty, PartyInput};
use zhifa_store::StoreError;
use zhifa_store::cases::{CaseActor, OpenCase};
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(a_case_changed_behind_zhifas_back_is_not_laundered_by_the_next_act);

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
