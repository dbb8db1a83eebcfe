//! Cases over HTTP, as officers, a department head, a leader and a legal reviewer use
//! them: a penalty case from 立案 to 归档 with each rule the law sets refused when broken
//! (wrong step, wrong role, one officer alone, a credential expired yesterday, a bad ID
//! number, a day before the case opened, the party's window still open, a stale form),
//! two users finishing the same step at once, case numbers under concurrency, the
//! 简易程序 ceiling, the legal-review gate of a major case, and a deadline that needs an
//! extension. Every act is a ledger entry, and the record verifies afterwards.

use crate::harness::{TestApp, csrf};
use chrono::NaiveDate;
use reqwest::{Client, StatusCode};
use zhifa_domain::case::{NewParty, PartyInput, PenaltyInput};
use zhifa_domain::credential::{CredentialInput, NewCredential};
use zhifa_domain::org::PersonInput;
use zhifa_domain::{NewPerson, Role};
use zhifa_store::cases::{Advance, CaseActor, OpenCase, Record};
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, StoreError};

on_both_backends!(
    a_penalty_case_goes_from_filing_to_archive_only_as_the_law_allows,
    a_template_with_an_unknown_field_is_refused_by_name,
    two_users_finishing_the_same_step_at_once_one_wins,
    case_numbers_have_no_gaps_or_duplicates_under_concurrency,
    summary_fines_major_cases_and_deadlines_are_enforced,
    the_demo_cases_are_in_every_procedure_and_many_states,
    an_administrator_sets_how_cases_are_numbered,
);

/// The numbering pattern of a procedure is set on its page; a pattern without {年} or {号}
/// is refused and changes nothing; a case opened afterwards takes the new pattern.
async fn an_administrator_sets_how_cases_are_numbered(db: TestDb) {
    let app = TestApp::start(db).await;
    let admin = app.login("admin").await;
    let page = admin
        .get(app.url("/app/admin/case-numbers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("朱堂综执罚〔{年}〕{号}号"), "{page}");
    let token = csrf(&page);
    let save = |pattern: &str| {
        let form = vec![
            ("csrf_token", token.clone()),
            ("procedure", "inspection".to_owned()),
            ("pattern", pattern.to_owned()),
        ];
        let admin = admin.clone();
        let url = app.url("/app/admin/case-numbers");
        async move {
            let r = admin.post(url).form(&form).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (s, body) = save("朱堂检〔2026〕号").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("{年}"), "{body}");
    let (s, body) = save("朱堂综执罚〔{年}〕{号}号").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the penalty cases' pattern");
    assert!(body.contains("编号格式相同"), "{body}");
    let (s, body) = save("朱堂综执检字〔{年}〕第{号}号").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("已保存"));
    let procs = zhifa_domain::procedure::all();
    let inspection = procs.iter().find(|p| p.code == "inspection").unwrap();
    let p = app
        .store
        .case_number_pattern(app.agency_id().await, inspection)
        .await
        .unwrap();
    assert_eq!(p.as_str(), "朱堂综执检字〔{年}〕第{号}号");
    // Officers do not keep the numbering.
    let officer = app.login("officer").await;
    let r = officer
        .get(app.url("/app/admin/case-numbers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.store.verify(&[]).await.unwrap().ok());
}

fn today() -> NaiveDate {
    zhifa_store::today_beijing()
}

fn day(offset: i64) -> String {
    (today() + chrono::Duration::days(offset)).to_string()
}

async fn post(
    c: &Client,
    app: &TestApp,
    path: &str,
    fields: &[(&str, String)],
) -> (StatusCode, String, String) {
    let page_path = if path.starts_with("/app/cases/new") {
        "/app/cases/new".to_owned()
    } else {
        path.rsplit_once('/').map(|(p, _)| p.to_owned()).unwrap()
    };
    let page = c
        .get(app.url(&page_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form: Vec<(&str, String)> = vec![("csrf_token", csrf(&page))];
    form.extend(fields.iter().cloned());
    let r = c.post(app.url(path)).form(&form).send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, r.text().await.unwrap())
}

/// Registers evidence through the case page's multipart form.
async fn post_evidence(
    c: &Client,
    app: &TestApp,
    id: i64,
    kind: &str,
    name: &str,
    file: Option<(&str, Vec<u8>)>,
) -> (StatusCode, String) {
    let page = c
        .get(app.url(&format!("/app/cases/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = reqwest::multipart::Form::new()
        .text("csrf_token", csrf(&page))
        .text("kind", kind.to_owned())
        .text("name", name.to_owned())
        .text("source", "执法人员现场收集".to_owned())
        .text("collected_on", day(0));
    if let Some((n, bytes)) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(n.to_owned()),
        );
    }
    let r = c
        .post(app.url(&format!("/app/cases/{id}/evidence")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn download_archive(c: &Client, app: &TestApp, id: i64) -> Vec<u8> {
    let r = c
        .get(app.url(&format!("/app/cases/{id}/archive.zip")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/zip");
    r.bytes().await.unwrap().to_vec()
}

fn archive_names(zip: &[u8]) -> Vec<String> {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..a.len())
        .map(|i| a.by_index(i).unwrap().name().unwrap().to_string())
        .collect()
}

/// The archive with one file's content replaced.
fn replace_in_archive(zip: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..a.len() {
        let mut f = a.by_index(i).unwrap();
        let n = f.name().unwrap().to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        w.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(if n == name { content } else { &bytes })
            .unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `zhifa verify --archive` on the bytes: (passed, output).
pub fn verify_archive(zip: &[u8], key: Option<&str>) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("卷宗.zip");
    std::fs::write(&path, zip).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zhifa"));
    cmd.arg("verify").arg("--archive").arg(&path);
    if let Some(k) = key {
        cmd.arg("--trusted-key").arg(k);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn version(app: &TestApp, id: i64) -> String {
    app.store
        .case_file(id)
        .await
        .unwrap()
        .case
        .version
        .to_string()
}

async fn person(app: &TestApp, name: &str) -> i64 {
    let a = app.agency_id().await;
    app.store
        .list_people(a, None)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
        .id
}

async fn item(app: &TestApp, code: &str) -> i64 {
    app.store
        .items_in_force(app.agency_id().await, today(), &Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.code == code)
        .unwrap()
        .item_id
}

async fn case_count(app: &TestApp) -> i64 {
    app.store
        .list_cases(app.agency_id().await, &Default::default(), 1, 0)
        .await
        .unwrap()
        .1
}

/// A person whose enforcement credential ended yesterday (valid when the case opened).
async fn officer_expired_yesterday(app: &TestApp) -> i64 {
    let a = app.agency_id().await;
    let dept = app.department_id("综合行政执法大队").await;
    let mut tx = app.store.write(Actor::System("test")).await.unwrap();
    let p = NewPerson::parse(&PersonInput {
        name: "钱七".into(),
        department_id: dept.to_string(),
        position: "执法队员".into(),
        ..Default::default()
    })
    .unwrap();
    let id = tx.create_person(a, &p).await.unwrap();
    let c = NewCredential::parse(&CredentialInput {
        person_id: id.to_string(),
        kind: "enforcement".into(),
        number: "豫A2019039999".into(),
        issuer: "河南省人民政府".into(),
        area: "罗山县朱堂乡".into(),
        valid_from: day(-400),
        valid_to: day(-1),
    })
    .unwrap();
    tx.create_credential(a, &c).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn advance(
    c: &Client,
    app: &TestApp,
    id: i64,
    to: &str,
    on: i64,
    officers: &[i64],
    shown: bool,
) -> (StatusCode, String) {
    let mut fields = vec![
        ("version", version(app, id).await),
        ("to", to.to_owned()),
        ("on_day", day(on)),
        ("note", "依法办理".to_owned()),
    ];
    for o in officers {
        fields.push(("officers", o.to_string()));
    }
    if shown {
        fields.push(("credentials_shown", "1".into()));
    }
    let (s, _, body) = post(c, app, &format!("/app/cases/{id}/advance"), &fields).await;
    (s, body)
}

async fn a_penalty_case_goes_from_filing_to_archive_only_as_the_law_allows(db: TestDb) {
    // The 卷宗 is packed in the data directory (here its own), not in memory.
    let scratch = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(
        db,
        zhifa_web::WebConfig {
            scratch_dir: Some(scratch.path().to_owned()),
            ..Default::default()
        },
    )
    .await;
    let officer = app.login("officer").await;
    let officer2 = app.login("officer2").await;
    let head = app.login("head").await;
    let leader = app.login("leader").await;
    let (zhang, li) = (person(&app, "张明").await, person(&app, "李华").await);
    let qian = officer_expired_yesterday(&app).await;
    let before = case_count(&app).await;

    // The form lists only officers holding a valid credential today.
    let page = officer
        .get(app.url("/app/cases/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("张明") && !page.contains("何军") && !page.contains("钱七"));

    let base = |officers: Vec<i64>, id_code: &str, opened: String| {
        let mut f = vec![
            ("procedure", "penalty-ordinary".to_owned()),
            ("department_id", String::new()),
            ("cause", "在朱堂村露天焚烧秸秆".to_owned()),
            ("opened_on", opened),
            ("p0_kind", "person".to_owned()),
            ("p0_name", "张某".to_owned()),
            ("p0_id_code", id_code.to_owned()),
            ("p0_address", "朱堂村".to_owned()),
        ];
        for o in officers {
            f.push(("officers", o.to_string()));
        }
        f
    };
    let dept = app.department_id("综合行政执法大队").await.to_string();
    let item_id = item(&app, "ZT-CF-003").await.to_string();
    let with = |mut f: Vec<(&'static str, String)>| {
        f[1].1 = dept.clone();
        f.push(("item_id", item_id.clone()));
        f
    };
    // Bad input: an ID number with a wrong check character, one officer, a date ahead.
    for (fields, expected) in [
        (
            with(base(vec![zhang, li], "411521198003150019", day(-10))),
            "公民身份号码有误",
        ),
        (
            with(base(vec![zhang], "411521198003150016", day(-10))),
            "两名以上执法人员",
        ),
        (
            with(base(vec![zhang, li], "411521198003150016", day(3))),
            "不能晚于今天",
        ),
    ] {
        let (s, _, body) = post(&officer, &app, "/app/cases/new", &fields).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{expected}");
        assert!(body.contains(expected), "{expected}");
    }
    assert_eq!(case_count(&app).await, before, "nothing was opened");

    // 立案 with three officers, one of whose credentials ends yesterday.
    let (s, location, _) = post(
        &officer,
        &app,
        "/app/cases/new",
        &with(base(vec![zhang, li, qian], "411521198003150016", day(-10))),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let file = app.store.case_file(id).await.unwrap();
    assert!(
        file.case.number.starts_with("朱堂综执罚〔"),
        "{}",
        file.case.number
    );
    assert_eq!(file.case.step, "filing");

    // 立案 is approved by the department head, not by an officer.
    let (s, body) = advance(&officer, &app, id, "investigation", -9, &[], false).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("须由部门负责人办理"));
    // A day before the case opened.
    let (s, body) = advance(&head, &app, id, "investigation", -11, &[], false).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("早于立案日期"));
    // No jump from 立案 to 决定.
    let (s, body) = advance(&head, &app, id, "decision", -9, &[], false).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("流程不允许"));
    let (s, _) = advance(&head, &app, id, "investigation", -9, &[], false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // 调查取证: not before both officers declared they need not withdraw; not alone;
    // not with an officer whose credential expired yesterday; not without showing them.
    let (s, body) = advance(
        &officer,
        &app,
        id,
        "investigation_end",
        0,
        &[zhang, li],
        true,
    )
    .await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("回避声明"));
    for c in [&officer, &officer2] {
        let (s, _, _) = post(c, &app, &format!("/app/cases/{id}/declare"), &[]).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
    }
    let (s, body) = advance(&officer, &app, id, "investigation_end", 0, &[zhang], true).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("两名以上执法人员"));
    let (s, body) = advance(
        &officer,
        &app,
        id,
        "investigation_end",
        0,
        &[zhang, qian],
        true,
    )
    .await;
    assert!(
        s == StatusCode::BAD_REQUEST && body.contains("过期"),
        "{body}"
    );
    let (s, body) = advance(
        &officer,
        &app,
        id,
        "investigation_end",
        0,
        &[zhang, li],
        false,
    )
    .await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("出示执法证件"));
    // No investigation ends without evidence (行政处罚法 第四十条).
    let (s, body) = advance(
        &officer,
        &app,
        id,
        "investigation_end",
        0,
        &[zhang, li],
        true,
    )
    .await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("至少登记一项证据"));
    let (s, body) = post_evidence(&officer, &app, id, "rumour", " ", None).await;
    assert!(
        s == StatusCode::BAD_REQUEST
            && body.contains("请选择证据种类")
            && body.contains("请填写证据名称")
    );
    let photo = b"\x89PNG\r\n\x1a\n scene photo".to_vec();
    let (s, _) = post_evidence(
        &officer,
        &app,
        id,
        "audiovisual",
        "现场照片",
        Some(("../../现场照片.png", photo.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let ev = app.store.case_evidence(id).await.unwrap();
    assert_eq!(ev[0].file_name.as_deref(), Some("现场照片.png"));
    // Evidence is the investigators' to register, not the leader's.
    let (s, body) = post_evidence(&leader, &app, id, "documentary", "补充材料", None).await;
    assert!(
        s == StatusCode::BAD_REQUEST && body.contains("证据由执法人员登记"),
        "{body}"
    );
    let got = officer
        .get(app.url(&format!("/app/cases/{id}/evidence/{}", ev[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert_eq!(got.bytes().await.unwrap().as_ref(), photo.as_slice());
    let (s, _) = advance(
        &officer,
        &app,
        id,
        "investigation_end",
        0,
        &[zhang, li],
        true,
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = advance(&officer, &app, id, "review", 0, &[], false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // 审核 needs the proposed penalty; outside the 裁量基准 a reason is required.
    let (s, body) = advance(&head, &app, id, "notice", 0, &[], false).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("拟作出的处罚"));
    let penalty = |fine: &str, reason: &str| {
        vec![
            ("version", String::new()),
            ("on_day", day(0)),
            ("measure", "责令改正，并处罚款".to_owned()),
            ("fine_yuan", fine.to_owned()),
            ("discretion_row", "1".to_owned()),
            ("deviation_reason", reason.to_owned()),
            ("facts", "焚烧秸秆约两亩".to_owned()),
        ]
    };
    let mut f = penalty("3000", "");
    f[0].1 = version(&app, id).await;
    let (s, _, body) = post(&officer, &app, &format!("/app/cases/{id}/penalty"), &f).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("须说明理由"));
    let mut f = penalty("800", "");
    f[0].1 = version(&app, id).await;
    let (s, _, _) = post(&officer, &app, &format!("/app/cases/{id}/penalty"), &f).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = advance(&head, &app, id, "notice", 0, &[], false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // No decision while the party's window is open, unless waived in writing.
    let (s, body) = advance(&officer, &app, id, "decision", 0, &[], false).await;
    assert!(
        s == StatusCode::BAD_REQUEST && body.contains("尚未届满"),
        "{body}"
    );
    // A major path is refused for a case that is not major.
    let (s, body) = advance(&officer, &app, id, "legal_review", 0, &[], false).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("不属于重大执法决定"));
    let waiver = vec![
        ("version", version(&app, id).await),
        ("kind", "waiver".to_owned()),
        ("on_day", day(0)),
        ("note", "当事人签署放弃陈述申辩和听证的书面声明".to_owned()),
    ];
    let (s, _, _) = post(&officer, &app, &format!("/app/cases/{id}/record"), &waiver).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = advance(&officer, &app, id, "decision", 0, &[], false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // A stale form is refused and changes nothing.
    let stale = vec![
        ("version", "1".to_owned()),
        ("to", "service".to_owned()),
        ("on_day", day(0)),
    ];
    let (s, _, body) = post(&leader, &app, &format!("/app/cases/{id}/advance"), &stale).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("已被他人办理或修改"));
    // The decision is the leader's.
    let (s, body) = advance(&officer, &app, id, "service", 0, &[], false).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("须由乡领导办理"));
    let (s, _) = advance(&leader, &app, id, "service", 0, &[], false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // 行政处罚决定书: issued as PDF and DOCX, its hash in the log; a document of a step the
    // case has not reached is refused.
    let (s, _, body) = post(
        &officer,
        &app,
        &format!("/app/cases/{id}/documents"),
        &[("kind", "closing-approval".into())],
    )
    .await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("须先办理到相应步骤"));
    let (s, _, body) = post(
        &officer,
        &app,
        &format!("/app/cases/{id}/documents"),
        &[("kind", "penalty-decision".into())],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let docs = app.store.case_documents(id).await.unwrap();
    assert_eq!(docs.len(), 1);
    let pdf = officer
        .get(app.url(&format!("/app/cases/{id}/documents/{}/pdf", docs[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(zhifa_docs::sha256_hex(&pdf), docs[0].pdf_sha256);
    let event = &app.store.case_file(id).await.unwrap().events;
    let issued = event.iter().find(|e| e.kind == "document").unwrap();
    assert_eq!(
        issued.detail["pdf_sha256"].as_str(),
        Some(docs[0].pdf_sha256.as_str())
    );
    let docx = officer
        .get(app.url(&format!("/app/cases/{id}/documents/{}/docx", docs[0].id)))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(docx.starts_with(b"PK"));
    for bad in [
        "/documents/999999/pdf",
        &format!("/documents/{}/exe", docs[0].id),
    ] {
        let r = officer
            .get(app.url(&format!("/app/cases/{id}{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }

    for (c, to) in [
        (&officer, "execution"),
        (&officer, "closing"),
        (&head, "archive"),
        (&officer, ""),
    ] {
        let (s, body) = advance(c, &app, id, to, 0, &[], false).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{to}: {body}");
    }
    let file = app.store.case_file(id).await.unwrap();
    assert_eq!(file.case.closed_on.as_deref(), Some(day(0).as_str()));
    // A closed case is frozen: no more acts, evidence or documents.
    let (s, body) = advance(&officer, &app, id, "", 0, &[], false).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("已办结"));
    let (s, body) = post_evidence(&officer, &app, id, "documentary", "补充材料", None).await;
    assert!(
        s == StatusCode::BAD_REQUEST && body.contains("已办结归档"),
        "{body}"
    );
    assert_eq!(app.store.case_evidence(id).await.unwrap().len(), 1);

    // The 卷宗: cover, catalogue, documents, evidence list and file, proofs — and it
    // verifies offline against the agency's published key, and fails when a file changes.
    app.store.checkpoint_all(&app.keys).await.unwrap();
    let zip = download_archive(&officer, &app, id).await;
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "the packing file is gone once sent"
    );
    // With nowhere to pack it, the export is refused for now (503), not a server error.
    std::fs::remove_dir(scratch.path()).unwrap();
    let r = officer
        .get(app.url(&format!("/app/cases/{id}/archive.zip")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    std::fs::create_dir(scratch.path()).unwrap();
    let names = archive_names(&zip);
    for n in [
        "00-封面.pdf",
        "01-卷内目录.pdf",
        "文书/01-行政处罚决定书.pdf",
        "证据清单.pdf",
        "证据/01-现场照片.png",
        "核验说明.txt",
        "记录证明.json",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    let key = app
        .store
        .log_keys(app.agency_id().await)
        .await
        .unwrap()
        .remove(0)
        .0;
    let (ok, out) = verify_archive(&zip, Some(&key));
    assert!(ok, "{out}");
    assert!(out.contains("通过"), "{out}");
    let forged = replace_in_archive(&zip, "证据/01-现场照片.png", b"another photo");
    let (ok, out) = verify_archive(&forged, Some(&key));
    assert!(!ok && out.contains("哈希不符"), "{out}");

    // Reopening: only the leader, only with a reason; then the case is open at its last
    // step, takes evidence again, and closes again.
    let reopen = |reason: &str| {
        vec![
            ("version", String::new()),
            ("on_day", day(0)),
            ("reason", reason.to_owned()),
        ]
    };
    let mut f = reopen("复查发现证据清单遗漏现场照片，需补充登记");
    f[0].1 = version(&app, id).await;
    let (s, _, body) = post(&officer, &app, &format!("/app/cases/{id}/reopen"), &f).await;
    assert!(
        s == StatusCode::BAD_REQUEST && body.contains("须由乡领导决定"),
        "{body}"
    );
    let mut f = reopen("补正");
    f[0].1 = version(&app, id).await;
    let (s, _, body) = post(&leader, &app, &format!("/app/cases/{id}/reopen"), &f).await;
    assert!(
        s == StatusCode::BAD_REQUEST && body.contains("理由"),
        "{body}"
    );
    let mut f = reopen("复查发现证据清单遗漏现场照片，需补充登记");
    f[0].1 = version(&app, id).await;
    let (s, _, _) = post(&leader, &app, &format!("/app/cases/{id}/reopen"), &f).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let file = app.store.case_file(id).await.unwrap();
    assert!(file.case.closed_on.is_none() && file.case.step == "archive");
    let (s, _) = post_evidence(&officer, &app, id, "documentary", "补充现场照片说明", None).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, body) = advance(&officer, &app, id, "", 0, &[], false).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    app.store.checkpoint_all(&app.keys).await.unwrap();
    let zip = download_archive(&officer, &app, id).await;
    let (ok, out) = verify_archive(&zip, Some(&key));
    assert!(ok, "{out}");

    // The case page shows the timeline and the flowchart (no current step once closed).
    let page = officer
        .get(app.url(&format!("/app/cases/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("本案办结") && page.contains("已出示执法证件"));
    assert!(!page.contains(r#"class="current""#));
    // Every act is an entry of the agency's log, and the record verifies.
    let entries = app
        .store
        .journal_for_subject("case", &id.to_string())
        .await
        .unwrap();
    assert_eq!(
        entries.len(),
        1 + 10 + 2 + 2,
        "opened, 10 steps, penalty, waiver, reopened and closed again"
    );
    let events = app
        .store
        .journal_for_agency(app.agency_id().await, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.subject_kind == "case_event")
        .count();
    assert!(events >= 14);
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:?}", report.failures);
}

async fn two_users_finishing_the_same_step_at_once_one_wins(db: TestDb) {
    let app = TestApp::start(db).await;
    let head = app.login("head").await;
    let head2 = app.login("head").await;
    // The demo's newest penalty case waits in 立案 for the department head.
    let (cases, _) = app
        .store
        .list_cases(app.agency_id().await, &Default::default(), 50, 0)
        .await
        .unwrap();
    let id = cases.iter().find(|c| c.step == "filing").unwrap().id;
    let v = version(&app, id).await;
    let fields = vec![
        ("version", v),
        ("to", "investigation".to_owned()),
        ("on_day", day(0)),
    ];
    let path = format!("/app/cases/{id}/advance");
    let (a, b) = tokio::join!(
        post(&head, &app, &path, &fields),
        post(&head2, &app, &path, &fields)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST]);
    let loser = if a.0 == StatusCode::BAD_REQUEST {
        a.2
    } else {
        b.2
    };
    assert!(loser.contains("已被他人办理或修改"));
    let file = app.store.case_file(id).await.unwrap();
    assert_eq!(file.case.step, "investigation");
    assert_eq!(
        file.events.iter().filter(|e| e.kind == "advance").count(),
        1
    );
}

async fn case_numbers_have_no_gaps_or_duplicates_under_concurrency(db: TestDb) {
    let app = TestApp::start(db).await;
    let a = app.agency_id().await;
    let officer = app.store.user_by_username("officer").await.unwrap();
    let actor = CaseActor {
        user_id: officer.id,
        person_id: officer.person_id,
        roles: vec![Role::Officer],
    };
    let open = OpenCase {
        agency_id: a,
        department_id: app.department_id("综合行政执法大队").await,
        procedure: "inspection".into(),
        item_id: Some(item(&app, "ZT-JC-001").await),
        cause: "安全生产双随机抽查".into(),
        opened_on: today(),
        parties: vec![
            NewParty::parse(
                &PartyInput {
                    kind: "organisation".into(),
                    name: "某某建材厂".into(),
                    id_code: "91411521MA40000002".into(),
                    address: String::new(),
                },
                "",
            )
            .unwrap(),
        ],
        officers: vec![person(&app, "张明").await, person(&app, "李华").await],
    };
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (store, actor, open) = (app.store.clone(), actor.clone(), open.clone());
        tasks.push(tokio::spawn(
            async move { store.open_case(&actor, &open).await },
        ));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().unwrap().1);
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 12, "no duplicates");
    let year = chrono::Datelike::year(&today());
    // The demo has one inspection case this year when it was opened this year.
    let demo = app
        .store
        .list_cases(
            a,
            &zhifa_store::cases::CaseFilter {
                procedure: Some("inspection".into()),
                ..Default::default()
            },
            100,
            0,
        )
        .await
        .unwrap()
        .0
        .iter()
        .filter(|c| c.number.contains(&format!("〔{year}〕")))
        .count();
    let expected: Vec<String> = (1..=demo as i64)
        .map(|n| format!("朱堂综执检〔{year}〕{n}号"))
        .collect();
    let mut all: Vec<String> = app
        .store
        .list_cases(
            a,
            &zhifa_store::cases::CaseFilter {
                procedure: Some("inspection".into()),
                ..Default::default()
            },
            100,
            0,
        )
        .await
        .unwrap()
        .0
        .into_iter()
        .map(|c| c.number)
        .filter(|n| n.contains(&format!("〔{year}〕")))
        .collect();
    all.sort_by_key(|n| {
        n.trim_end_matches('号')
            .rsplit('〕')
            .next()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    });
    assert_eq!(all, expected, "gapless from 1");
}

async fn summary_fines_major_cases_and_deadlines_are_enforced(db: TestDb) {
    let app = TestApp::start(db).await;
    let a = app.agency_id().await;
    let actor = |username: &'static str, roles: Vec<Role>| {
        let store = app.store.clone();
        async move {
            let u = store.user_by_username(username).await.unwrap();
            CaseActor {
                user_id: u.id,
                person_id: u.person_id,
                roles,
            }
        }
    };
    let officer = actor("officer", vec![Role::Officer]).await;
    let officer2 = actor("officer2", vec![Role::Officer]).await;
    let leader = actor("leader", vec![Role::Leader]).await;
    let (zhang, li) = (person(&app, "张明").await, person(&app, "李华").await);
    let party = |kind: &str, code: &str| {
        NewParty::parse(
            &PartyInput {
                kind: kind.into(),
                name: "当事人".into(),
                id_code: code.into(),
                address: String::new(),
            },
            "",
        )
        .unwrap()
    };
    let open = |procedure: &str, item_id: i64, opened: i64, p: NewParty| OpenCase {
        agency_id: a,
        department_id: 0,
        procedure: procedure.into(),
        item_id: Some(item_id),
        cause: "测试案件".into(),
        opened_on: today() + chrono::Duration::days(opened),
        parties: vec![p],
        officers: vec![zhang, li],
    };
    let dept = app.department_id("综合行政执法大队").await;
    let declare = |id: i64, on: NaiveDate| {
        let store = app.store.clone();
        let (o1, o2) = (officer.clone(), officer2.clone());
        async move {
            store.declare_no_conflict(&o1, id, on).await.unwrap();
            store.declare_no_conflict(&o2, id, on).await.unwrap();
        }
    };
    let refusal = |e: StoreError| match e {
        StoreError::Invalid(f) => f.to_string(),
        other => panic!("expected a refusal, got {other}"),
    };

    // 简易程序: a citizen may be fined at most 200 yuan on the spot.
    let mut c = open(
        "penalty-summary",
        item(&app, "ZT-CF-022").await,
        0,
        party("person", "411521199001010014"),
    );
    c.department_id = dept;
    let (id, number) = app.store.open_case(&officer, &c).await.unwrap();
    assert!(number.starts_with("朱堂综执当罚〔"));
    declare(id, today()).await;
    let v = app.store.case_file(id).await.unwrap().case.version;
    app.store
        .advance_case(
            &officer,
            id,
            v,
            &Advance {
                to: Some("on_site_notice".into()),
                day: today(),
                officers: vec![zhang, li],
                credentials_shown: true,
                note: String::new(),
            },
        )
        .await
        .unwrap();
    let v = app.store.case_file(id).await.unwrap().case.version;
    let fine = |yuan: &str| PenaltyInput {
        measure: "罚款".into(),
        fine_yuan: yuan.into(),
        discretion_row: "0".into(),
        deviation_reason: "情节".into(),
        ..Default::default()
    };
    let e = app
        .store
        .set_penalty(&officer, id, v, today(), &fine("201"))
        .await
        .unwrap_err();
    assert!(refusal(e).contains("200 元以下"));
    app.store
        .set_penalty(&officer, id, v, today(), &fine("200"))
        .await
        .unwrap();

    // A major case (the 法制审核目录清单: 50,000 yuan or more for an organisation) cannot
    // reach the decision without legal review.
    let mut c = open(
        "penalty-ordinary",
        item(&app, "ZT-CF-006").await,
        -3,
        party("organisation", "91350100M000100Y43"),
    );
    c.department_id = dept;
    let (id, _) = app.store.open_case(&officer, &c).await.unwrap();
    declare(id, today() - chrono::Duration::days(3)).await;
    let head = actor("head", vec![Role::DepartmentHead, Role::Officer]).await;
    let step = |who: &CaseActor, to: &str, officers: Vec<i64>| {
        let store = app.store.clone();
        let (who, to) = (who.clone(), to.to_owned());
        async move {
            let v = store.case_file(id).await.unwrap().case.version;
            store
                .advance_case(
                    &who,
                    id,
                    v,
                    &Advance {
                        to: if to.is_empty() { None } else { Some(to) },
                        day: today(),
                        credentials_shown: !officers.is_empty(),
                        officers,
                        note: String::new(),
                    },
                )
                .await
        }
    };
    step(&head, "investigation", vec![]).await.unwrap();
    let evidence = zhifa_domain::evidence::NewEvidence::parse(
        &zhifa_domain::evidence::EvidenceInput {
            kind: "audiovisual".into(),
            name: "扬尘照片".into(),
            source: "现场拍摄".into(),
            collected_on: today().to_string(),
            ..Default::default()
        },
        None,
        today() - chrono::Duration::days(3),
        today(),
    )
    .unwrap();
    app.store
        .add_evidence(&officer, id, &evidence)
        .await
        .unwrap();
    step(&officer, "investigation_end", vec![zhang, li])
        .await
        .unwrap();
    let v = app.store.case_file(id).await.unwrap().case.version;
    app.store
        .set_penalty(
            &officer,
            id,
            v,
            today(),
            &PenaltyInput {
                measure: "责令改正，并处罚款".into(),
                fine_yuan: "60000".into(),
                discretion_row: "2".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!app.store.case_file(id).await.unwrap().case.major.is_empty());
    step(&officer, "review", vec![]).await.unwrap();
    step(&head, "notice", vec![]).await.unwrap();
    let v = app.store.case_file(id).await.unwrap().case.version;
    app.store
        .record_on_case(
            &officer,
            id,
            v,
            &Record::Waiver {
                day: today(),
                note: "书面放弃陈述申辩和听证".into(),
            },
        )
        .await
        .unwrap();
    let e = step(&officer, "decision", vec![]).await.unwrap_err();
    assert!(refusal(e).contains("必须经法制审核"));
    step(&officer, "legal_review", vec![]).await.unwrap();
    let e = step(&leader, "decision", vec![]).await.unwrap_err();
    assert!(refusal(e).contains("须由法制审核人员办理"));
    let reviewer = actor("reviewer", vec![Role::LegalReviewer]).await;
    step(&reviewer, "decision", vec![]).await.unwrap();

    // 查封扣押: 30 days; after them the disposal needs the leader's extension first, which
    // can only be granted before they end.
    let mut c = open(
        "seizure",
        item(&app, "ZT-QZ-002").await,
        -45,
        party("person", "411521197812080017"),
    );
    c.department_id = dept;
    let (id, _) = app.store.open_case(&officer, &c).await.unwrap();
    let on = |d: i64| today() + chrono::Duration::days(d);
    declare(id, on(-45)).await;
    let act = |id: i64, who: &CaseActor, to: Option<&str>, d: i64, officers: Vec<i64>| {
        let store = app.store.clone();
        let (who, to) = (who.clone(), to.map(str::to_owned));
        async move {
            let v = store.case_file(id).await.unwrap().case.version;
            store
                .advance_case(
                    &who,
                    id,
                    v,
                    &Advance {
                        to,
                        day: on(d),
                        credentials_shown: !officers.is_empty(),
                        officers,
                        note: String::new(),
                    },
                )
                .await
        }
    };
    let extend = |id: i64, who: &CaseActor, d: i64| {
        let store = app.store.clone();
        let who = who.clone();
        async move {
            let v = store.case_file(id).await.unwrap().case.version;
            store
                .record_on_case(
                    &who,
                    id,
                    v,
                    &Record::Extension {
                        day: on(d),
                        reason: "情况复杂，需检测".into(),
                    },
                )
                .await
        }
    };
    act(id, &leader, Some("enforcement"), -45, vec![])
        .await
        .unwrap();
    act(id, &officer, Some("delivery"), -45, vec![zhang, li])
        .await
        .unwrap();
    act(id, &officer, Some("disposal"), -45, vec![])
        .await
        .unwrap();
    let e = act(id, &leader, Some("archive"), 0, vec![])
        .await
        .unwrap_err();
    let why = refusal(e);
    assert!(
        why.contains("期限已于") && why.contains("批准延长"),
        "{why}"
    );
    // After the 30 days no extension, also not one dated back into them.
    for d in [0, -20] {
        let e = extend(id, &leader, d).await.unwrap_err();
        assert!(refusal(e).contains("届满后不能再延长"), "dated {d}");
    }
    // The case is not stuck: a leader approves the late act with its reason (an officer
    // cannot), and the step can then be completed; the delay stays on the record.
    let late = |who: &CaseActor, reason: &str| {
        let store = app.store.clone();
        let (who, reason) = (who.clone(), reason.to_owned());
        async move {
            let v = store.case_file(id).await.unwrap().case.version;
            store
                .record_on_case(&who, id, v, &Record::LateApproval { day: on(0), reason })
                .await
        }
    };
    let e = late(&officer, "检测机构延迟出具报告").await.unwrap_err();
    assert!(refusal(e).contains("须由乡领导批准"));
    late(&leader, "检测机构延迟出具报告").await.unwrap();
    act(id, &leader, Some("archive"), 0, vec![]).await.unwrap();
    let file = app.store.case_file(id).await.unwrap();
    let approval = file.events.iter().find(|e| e.kind == "late").unwrap();
    assert_eq!(approval.detail["reason"], "检测机构延迟出具报告");
    // Within the 30 days the leader extends them (with a reason); an officer cannot.
    let mut c = open(
        "seizure",
        item(&app, "ZT-QZ-002").await,
        -20,
        party("person", "411521197812080017"),
    );
    c.department_id = dept;
    let (id, _) = app.store.open_case(&officer, &c).await.unwrap();
    declare(id, on(-20)).await;
    act(id, &leader, Some("enforcement"), -20, vec![])
        .await
        .unwrap();
    act(id, &officer, Some("delivery"), -20, vec![zhang, li])
        .await
        .unwrap();
    act(id, &officer, Some("disposal"), -20, vec![])
        .await
        .unwrap();
    let e = extend(id, &officer, 0).await.unwrap_err();
    assert!(refusal(e).contains("须经乡领导批准"));
    extend(id, &leader, 0).await.unwrap();
    let e = extend(id, &leader, 0).await.unwrap_err();
    assert!(refusal(e).contains("已经延长过"));
    act(id, &leader, Some("archive"), 0, vec![]).await.unwrap();
    let report = app.store.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:?}", report.failures);
}

async fn the_demo_cases_are_in_every_procedure_and_many_states(db: TestDb) {
    let app = TestApp::start(db).await;
    let a = app.agency_id().await;
    let (cases, total) = app
        .store
        .list_cases(a, &Default::default(), 100, 0)
        .await
        .unwrap();
    assert_eq!(total, 9, "every demo scenario loaded");
    for p in zhifa_domain::procedure::all() {
        assert!(cases.iter().any(|c| c.procedure == p.code), "{}", p.code);
    }
    assert!(cases.iter().filter(|c| c.closed_on.is_some()).count() >= 3);
    let (open, _soon, overdue) = app.store.case_counts(a, None).await.unwrap();
    assert_eq!(open, 6);
    assert!(overdue >= 1, "the demo has an overdue case");
    // Every signed-in role that sees cases gets the list and each case page; the
    // supervisor reads but may not act; the administrator has no case pages.
    for user in ["officer", "head", "reviewer", "leader", "supervisor"] {
        let c = app.login(user).await;
        let r = c.get(app.url("/app/cases")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{user}");
        let list = r.text().await.unwrap();
        assert!(list.contains("朱堂综执罚〔"), "{user}");
        for case in &cases {
            let r = c
                .get(app.url(&format!("/app/cases/{}", case.id)))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{user} case {}", case.id);
        }
    }
    let admin = app.login("admin").await;
    let r = admin.get(app.url("/app/cases")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The audit page names every act the demo recorded, and what it was about.
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
    assert!(
        audit.contains("办理案件环节") && audit.contains("案件"),
        "{audit}"
    );
    assert!(
        !audit.contains("其他操作"),
        "an act without a name: {audit}"
    );
    assert!(
        !audit.contains("\"对象\">记录 "),
        "a subject without a name: {audit}"
    );
    // Filters: overdue, by procedure, by words; odd parameters are ignored, never a 500.
    let c = app.login("leader").await;
    for q in [
        "status=overdue",
        "status=due_soon",
        "status=closed&procedure=penalty-summary",
        "q=%E7%A7%B8%E7%A7%86",
        "status=%27;DROP&department=abc&page=-3&procedure=..%2F",
        "page=99999999999999999999",
    ] {
        let r = c
            .get(app.url(&format!("/app/cases?{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{q}");
    }
    let overdue_page = c
        .get(app.url("/app/cases?status=overdue"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(overdue_page.contains("已逾期"));
    // Words find a case by its number, its cause or its party; every word must match.
    let found = |q: &str| {
        let store = app.store.clone();
        let q = q.to_owned();
        async move {
            let f = zhifa_store::cases::CaseFilter {
                q: Some(q),
                ..Default::default()
            };
            store.list_cases(a, &f, 50, 0).await.unwrap().1
        }
    };
    assert_eq!(found("张某").await, 1, "by the party's name");
    assert_eq!(found("秸秆 张某").await, 1);
    assert_eq!(found("秸秆 刘某").await, 0);
    assert_eq!(found("411521197506220034").await, 1, "by an ID number");
    assert_eq!(found("50%_").await, 0, "pattern characters are literal");
    assert_eq!(
        found("张").await,
        1,
        "one character: matched without the index"
    );
    // The index is derived: rebuilt from the cases (as after the migration that made it).
    app.store
        .raw_execute("DELETE FROM case_words")
        .await
        .unwrap();
    assert_eq!(found("张某").await, 0);
    app.store.rebuild_case_words().await.unwrap();
    assert_eq!(found("张某").await, 1);
    assert_eq!(found("秸秆 张某").await, 1);
    // Unknown and foreign ids are a Chinese 404.
    for path in ["/app/cases/999999", "/app/cases/abc"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert!(
            r.status() == StatusCode::NOT_FOUND || r.status() == StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
    // The supervisor sees the case but no action forms.
    let sup = app.login("supervisor").await;
    let open_case = cases.iter().find(|c| c.step == "filing").unwrap();
    let page = sup
        .get(app.url(&format!("/app/cases/{}", open_case.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("/advance\""));
    assert!(
        page.contains(r#"class="current""#),
        "current step highlighted"
    );
    // The 查封扣押决定书 of the demo seizure lists the things seized (its 物证).
    let seizure = cases.iter().find(|c| c.procedure == "seizure").unwrap();
    let officer = app.login("officer").await;
    let (s, _, body) = post(
        &officer,
        &app,
        &format!("/app/cases/{}/documents", seizure.id),
        &[("kind", "seizure-decision".into())],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let doc = app
        .store
        .case_documents(seizure.id)
        .await
        .unwrap()
        .remove(0);
    let (_, _, docx) = app.store.case_document_file(doc.id, true).await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml)
        .unwrap();
    for thing in ["散装白酒", "每桶 25 升", "12 桶", "酒提子"] {
        assert!(xml.contains(thing), "{thing} in the 清单");
    }
    // The demo's archived penalty case carries its documents, and its 卷宗 verifies.
    let archived = cases
        .iter()
        .find(|c| c.procedure == "penalty-ordinary" && c.closed_on.is_some())
        .unwrap();
    let docs = app.store.case_documents(archived.id).await.unwrap();
    assert_eq!(docs.len(), 9, "every document of the steps taken");
    app.store.checkpoint_all(&app.keys).await.unwrap();
    let zip = download_archive(&officer, &app, archived.id).await;
    assert!(archive_names(&zip).contains(&"文书/09-结案审批表.pdf".to_owned()));
    let (ok, out) = verify_archive(&zip, None);
    assert!(ok, "{out}");
}

async fn a_template_with_an_unknown_field_is_refused_by_name(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("filing-approval.toml"),
        "title = \"立案审批表\"\n[[block]]\nkind = \"para\"\ntext = \"案由：{案情摘要}\"\n",
    )
    .unwrap();
    let app = TestApp::start_with(
        db,
        zhifa_web::WebConfig {
            templates_dir: Some(dir.path().to_owned()),
            ..Default::default()
        },
    )
    .await;
    let head = app.login("head").await;
    let (cases, _) = app
        .store
        .list_cases(app.agency_id().await, &Default::default(), 50, 0)
        .await
        .unwrap();
    let id = cases.iter().find(|c| c.step == "filing").unwrap().id;
    let (s, _, body) = post(
        &head,
        &app,
        &format!("/app/cases/{id}/documents"),
        &[("kind", "filing-approval".into())],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("不存在的字段 {案情摘要}"), "{body}");
    assert!(app.store.case_documents(id).await.unwrap().is_empty());
    // The administrator's corrected wording is used at once, without a rebuild.
    std::fs::write(
        dir.path().join("filing-approval.toml"),
        "title = \"{机关名称}\\n立案审批表（本单位格式）\"\n[[block]]\nkind = \"para\"\ntext = \"案由：{案由}\"\n",
    )
    .unwrap();
    let (s, _, _) = post(
        &head,
        &app,
        &format!("/app/cases/{id}/documents"),
        &[("kind", "filing-approval".into())],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(app.store.case_documents(id).await.unwrap().len(), 1);
}
