//! 执法文书 of a case: the fields a template may name, filled from the case; issuing a
//! document (PDF and DOCX rendered, both files kept as handed out, their SHA-256 in the
//! agency's log); and downloading an issued file.

use super::cases::{acting_on, viewing};
use super::form_errors;
use crate::AppState;
use crate::error::PageError;
use crate::forms::UserForm;
use crate::session::CurrentUser;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate};
use zhifa_docs::{DocKind, Fields, Value, rmb_upper};
use zhifa_domain::FieldErrors;
use zhifa_domain::case::{Due, due_date, party_kind_label};
use zhifa_domain::catalog::group_thousands;
use zhifa_domain::credential::CredentialKind;
use zhifa_domain::procedure::Procedure;
use zhifa_store::cases::CaseFile;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/cases/{id}/documents", post(issue))
        .route("/app/cases/{id}/documents/{doc}/{format}", get(download))
}

/// 2026年10月2日.
pub fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

fn text(f: &mut Fields, k: &str, v: impl Into<String>) {
    f.insert(k.to_owned(), Value::Text(v.into()));
}

/// The kinds of document a case's procedure produces whose step the case has reached.
pub fn available(proc: &Procedure, file: &CaseFile) -> Vec<&'static DocKind> {
    let state = file.state().ok();
    zhifa_docs::KINDS
        .iter()
        .filter(|k| {
            k.steps.iter().any(|(p, s)| {
                *p == proc.code
                    && (file.case.step == *s
                        || state
                            .as_ref()
                            .is_some_and(|st| st.completed.contains_key(*s)))
            })
        })
        .collect()
}

/// Every field a template may name, from the case.
async fn fields(state: &AppState, file: &CaseFile, today: NaiveDate) -> Result<Fields, PageError> {
    let mut f = Fields::new();
    let agency = state.store.agency(file.case.agency_id).await?;
    let proc = file.procedure()?;
    let case_state = file.state()?;
    let calendar = state.store.calendar().await?;
    text(&mut f, "机关名称", agency.name);
    text(&mut f, "案号", file.case.number.clone());
    text(&mut f, "案由", file.case.cause.clone());
    text(&mut f, "承办机构", file.case.department.clone());
    if let Some(d) = zhifa_domain::credential::parse_date(&file.case.opened_on) {
        text(&mut f, "立案日期", chinese_date(d));
    }
    text(&mut f, "文书日期", chinese_date(today));
    let join = |xs: Vec<String>| xs.join("、");
    text(
        &mut f,
        "当事人",
        join(file.parties.iter().map(|p| p.name.clone()).collect()),
    );
    text(
        &mut f,
        "当事人类型",
        join(
            file.parties
                .iter()
                .map(|p| party_kind_label(p.kind).to_owned())
                .collect(),
        ),
    );
    text(
        &mut f,
        "证件号码",
        join(file.parties.iter().map(|p| p.id_code.clone()).collect()),
    );
    text(
        &mut f,
        "住所",
        join(
            file.parties
                .iter()
                .filter(|p| !p.address.is_empty())
                .map(|p| p.address.clone())
                .collect(),
        ),
    );
    f.insert(
        "当事人清单".into(),
        Value::Rows(
            file.parties
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        party_kind_label(p.kind).to_owned(),
                        p.id_code.clone(),
                        p.address.clone(),
                    ]
                })
                .collect(),
        ),
    );
    // The officers and their credentials valid today.
    let mut names = Vec::new();
    let mut numbers = Vec::new();
    for o in &file.officers {
        names.push(o.name.clone());
        if let Some(c) = state
            .store
            .credentials_of_person(o.person_id)
            .await?
            .into_iter()
            .find(|c| c.kind == CredentialKind::Enforcement && c.validity().on(today).is_valid())
        {
            numbers.push(c.number);
        }
    }
    text(&mut f, "执法人员", join(names));
    text(&mut f, "执法证号", join(numbers));
    // The item in force when the case opened: basis, its text, remedy, 裁量基准.
    if let Some(v) = state.store.case_item(&file.case).await? {
        text(&mut f, "执法事项", format!("{} {}", v.code, v.content.name));
        text(
            &mut f,
            "法律依据",
            join(v.content.basis.iter().map(|c| c.display()).collect()),
        );
        text(&mut f, "依据条文", v.content.basis_text.clone());
        text(&mut f, "救济途径", v.content.remedy.clone());
        if let Some(p) = &file.case.penalty
            && let Some(r) = p.discretion_row.and_then(|i| v.content.discretion.get(i))
        {
            text(
                &mut f,
                "裁量基准",
                format!(
                    "{}（{}）{}",
                    r.circumstance,
                    r.severity.label(),
                    r.fine_text()
                ),
            );
        }
    }
    if let Some(p) = &file.case.penalty {
        text(&mut f, "违法事实", p.facts.clone());
        text(&mut f, "处罚内容", p.measure.clone());
        text(&mut f, "偏离裁量基准理由", p.deviation_reason.clone());
        if p.fine_yuan > 0 {
            text(
                &mut f,
                "罚款金额",
                format!(
                    "罚款人民币 {} 元（大写：{}）。",
                    group_thousands(p.fine_yuan),
                    rmb_upper(p.fine_yuan)
                ),
            );
            text(
                &mut f,
                "履行方式和期限",
                "自收到本决定书之日起十五日内，到指定银行或者通过电子支付系统缴纳罚款（行政处罚法第六十七条）。到期不缴纳罚款的，每日按罚款数额的百分之三加处罚款（行政处罚法第七十二条）。",
            );
        } else {
            text(&mut f, "履行方式和期限", "自收到本决定书之日起履行。");
        }
    }
    // What the officers recorded: evidence from investigative acts, the latest note.
    let notes: Vec<String> = file
        .events
        .iter()
        .filter_map(|e| {
            e.detail["note"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let evidence: Vec<String> = file
        .events
        .iter()
        .filter(|e| e.detail["credentials_shown"].as_bool() == Some(true))
        .filter_map(|e| {
            e.detail["note"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
        })
        .collect();
    text(&mut f, "证据", join(evidence));
    text(
        &mut f,
        "办理情况",
        notes.last().cloned().unwrap_or_default(),
    );
    // 办理经过: each act (documents are listed apart, in 文书清单).
    let step_name = |code: &str| proc.step(code).map(|s| s.name.clone()).unwrap_or_default();
    f.insert(
        "办理经过".into(),
        Value::Rows(
            file.events
                .iter()
                .filter(|e| e.kind != "document")
                .map(|e| {
                    let what = match (e.kind.as_str(), &e.to_step) {
                        ("open", _) => "立案登记".to_owned(),
                        ("advance", Some(to)) => {
                            format!("完成{}，转入{}", step_name(&e.step), step_name(to))
                        }
                        ("advance", None) => format!("完成{}，办结", step_name(&e.step)),
                        ("penalty", _) => "登记拟作出的处罚".to_owned(),
                        ("waiver", _) => "当事人书面放弃陈述申辩和听证".to_owned(),
                        ("extend", _) => "批准延长期限".to_owned(),
                        ("pause", _) => "期限中止".to_owned(),
                        ("resume", _) => "期限恢复计算".to_owned(),
                        (other, _) => other.to_owned(),
                    };
                    vec![
                        e.on_day.clone(),
                        what,
                        e.user_name.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        ),
    );
    // 文书清单: the documents issued so far (送达回证 lists what is served; method,
    // signature and date are filled in by hand on delivery).
    let issued = state.store.case_documents(file.case.id).await?;
    f.insert(
        "文书清单".into(),
        Value::Rows(
            issued
                .iter()
                .filter(|d| d.kind != "service-receipt")
                .map(|d| {
                    vec![
                        format!("{}（{}）", d.name, file.case.number),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]
                })
                .collect(),
        ),
    );
    // The things seized or kept: the case's physical evidence (物证), as registered.
    let things = state
        .store
        .case_evidence(file.case.id)
        .await?
        .into_iter()
        .filter(|e| e.kind == "physical")
        .enumerate()
        .map(|(i, e)| vec![(i + 1).to_string(), e.name, e.spec, e.quantity, e.source])
        .collect();
    f.insert("物品清单".into(), Value::Rows(things));
    // The party's window (陈述申辩、听证) when the case is at 事先告知.
    let window = proc
        .step("notice")
        .and_then(|s| s.window.as_ref().map(|w| (s, w)));
    let until = match window {
        Some((s, w)) => match due_date(&calendar, s, w, &case_state) {
            Due::On(d) => chinese_date(d),
            _ => "收到本告知书之日起五日内".into(),
        },
        None => "收到本告知书之日起五日内".into(),
    };
    text(&mut f, "陈述申辩期限", until.clone());
    text(&mut f, "听证申请期限", until);
    if let Some(p) = proc
        .steps
        .iter()
        .find_map(|s| s.deadline.as_ref().filter(|_| s.code == "disposal"))
    {
        text(&mut f, "查封扣押期限", p.span());
    }
    Ok(f)
}

async fn issue(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let proc = file.procedure()?;
    let code = form.get("kind").unwrap_or_default();
    let result = match available(proc, &file).into_iter().find(|k| k.code == code) {
        None => Err(zhifa_store::StoreError::Invalid(FieldErrors::single(
            "kind",
            "本案当前不能出具这种文书（文书与办理步骤对应，须先办理到相应步骤）",
        ))),
        Some(kind) => {
            render_and_issue(&state, &actor, &file, kind, crate::view::today_beijing()).await
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/app/cases/{id}#h-docs")).into_response()),
        Err(e) => {
            let errors = form_errors(e, "本案已被他人修改，请刷新后重试")?;
            super::cases::show_with_errors(&state, &user, id, errors).await
        }
    }
}

/// Issues a document of `kind` (a code of `zhifa_docs::KINDS`) for a case, dated `day`, as
/// the workbench's form does — the demo uses it to give its cases their documents.
pub async fn issue_case_document(
    state: &AppState,
    actor: &zhifa_store::cases::CaseActor,
    case_id: i64,
    kind: &str,
    day: NaiveDate,
) -> Result<(), zhifa_store::StoreError> {
    let kind = DocKind::find(kind).ok_or_else(|| {
        zhifa_store::StoreError::Invalid(FieldErrors::single("kind", "未知的文书种类"))
    })?;
    let file = state.store.case_file(case_id).await?;
    render_and_issue(state, actor, &file, kind, day).await
}

async fn render_and_issue(
    state: &AppState,
    actor: &zhifa_store::cases::CaseActor,
    file: &CaseFile,
    kind: &'static DocKind,
    today: NaiveDate,
) -> Result<(), zhifa_store::StoreError> {
    let invalid = |m: String| zhifa_store::StoreError::Invalid(FieldErrors::single("kind", m));
    let template = kind
        .template(state.config.templates_dir.as_deref())
        .map_err(|e| invalid(e.to_string()))?;
    let fields = fields(state, file, today)
        .await
        .map_err(|_| invalid("读取案件信息失败".into()))?;
    let doc = template.fill(&fields);
    let date = crate::view::doc_date(today);
    // typst lays out on a blocking thread: a page takes milliseconds to a second.
    let (pdf, docx) = tokio::task::spawn_blocking(move || {
        let pdf = zhifa_docs::pdf::render(&doc, date).map_err(|e| e.to_string())?;
        let docx = zhifa_docs::docx::render(&doc).map_err(|e| e.to_string())?;
        Ok::<_, String>((pdf, docx))
    })
    .await
    .map_err(|e| invalid(format!("文书生成失败：{e}")))?
    .map_err(invalid)?;
    state
        .store
        .issue_document(
            actor,
            file.case.id,
            kind.code,
            kind.name,
            today,
            &pdf,
            &docx,
        )
        .await?;
    Ok(())
}

async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path((id, doc, format)): Path<(i64, i64, String)>,
) -> Result<Response, PageError> {
    let file = viewing(&state, &user, method, uri, id).await?;
    let docx = match format.as_str() {
        "pdf" => false,
        "docx" => true,
        _ => return Err(PageError::NotFound),
    };
    let (case_id, name, bytes) = match state.store.case_document_file(doc, docx).await {
        Ok(x) => x,
        Err(zhifa_store::StoreError::NotFound) => return Err(PageError::NotFound),
        Err(e) => return Err(e.into()),
    };
    if case_id != file.case.id {
        return Err(PageError::NotFound);
    }
    let (content_type, ext) = if docx {
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        )
    } else {
        ("application/pdf", "pdf")
    };
    Ok(file_response(
        bytes,
        content_type,
        &format!("{}-{}.{ext}", file.case.number, name),
        !docx,
    ))
}

/// A file of a case as a response: its type, its UTF-8 name (RFC 6266) and no caching
/// (case files are not public). PDFs open in the browser; other files download.
pub(crate) fn file_response(
    bytes: Vec<u8>,
    content_type: &'static str,
    filename: &str,
    inline: bool,
) -> Response {
    let mut resp = bytes.into_response();
    file_headers(&mut resp, content_type, filename, inline);
    resp
}

/// Like [`file_response`] for a file made on disk (a 卷宗), sent in pieces as it is read
/// rather than loaded into memory. It downloads.
pub(crate) fn file_stream_response(
    mut file: std::fs::File,
    content_type: &'static str,
    filename: &str,
) -> Response {
    use futures_util::stream;
    use std::io::Seek;
    use tokio::io::AsyncReadExt;
    const PIECE: usize = 256 * 1024;
    let len = file.metadata().map(|m| m.len()).ok();
    if file.rewind().is_err() {
        return PageError::Internal.into_response();
    }
    let pieces = stream::try_unfold(tokio::fs::File::from_std(file), |mut f| async move {
        let mut buf = Vec::with_capacity(PIECE);
        match f.read_buf(&mut buf).await? {
            0 => Ok::<_, std::io::Error>(None),
            _ => Ok(Some((bytes::Bytes::from(buf), f))),
        }
    });
    let mut resp = axum::body::Body::from_stream(pieces).into_response();
    if let Some(len) = len {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    file_headers(&mut resp, content_type, filename, false);
    resp
}

fn file_headers(resp: &mut Response, content_type: &'static str, filename: &str, inline: bool) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let ext = filename.rsplit_once('.').map(|(_, e)| e).unwrap_or("bin");
    let ascii_ext: String = ext.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}; filename=\"file.{ascii_ext}\"; filename*=UTF-8''{encoded}",
        if inline { "inline" } else { "attachment" },
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}
