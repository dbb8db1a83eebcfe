//! The 卷宗 of a closed case as a ZIP: the store gives the case, its files and its log
//! entries with their proofs; this module names the files, binds each issued document and
//! evidence file to the entry that recorded its SHA-256, lays out the cover, catalogue
//! and evidence list (zhifa-docs) and packs everything.

use super::case_docs::file_stream_response;
use super::cases::viewing;
use crate::AppState;
use crate::error::PageError;
use crate::session::CurrentUser;
use crate::view::{fmt_time, today_beijing};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::routing::get;
use std::time::Duration;
use zhifa_docs::dossier::{self, CatalogueLine, Cover, EvidenceLine};
use zhifa_domain::case::party_kind_label;
use zhifa_domain::evidence::kind_label;
use zhifa_ledger::proofs::BoundFile;
use zhifa_store::StoreError;
use zhifa_store::case_archive::CaseArchive;

pub fn router() -> Router<AppState> {
    Router::new().route("/app/cases/{id}/archive.zip", get(download))
}

use zhifa_ledger::proofs::ARCHIVE_PATH as PROOFS_PATH;

/// How long an export waits for the checkpoint signer to cover the case's newest entries.
const SIGNING_WAIT: Duration = Duration::from_secs(5);

async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let file = viewing(&state, &user, method, uri, id).await?;
    if file.case.closed_on.is_none() {
        return Err(PageError::Conflict(
            "案件尚未办结归档，卷宗在归档后才能导出。".into(),
        ));
    }
    // The newest acts may not be signed yet: ask the signer, and wait a little.
    let deadline = tokio::time::Instant::now() + SIGNING_WAIT;
    while !state.store.case_entries_signed(id).await? {
        if tokio::time::Instant::now() >= deadline {
            return Err(PageError::Conflict(
                "本案最新的记录尚未签入签名树头（服务器每分钟至少签发一次），请稍后再下载卷宗。"
                    .into(),
            ));
        }
        state.checkpoint_now.notify_one();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let archive = match state.store.case_archive(id).await {
        Ok(a) => a,
        Err(StoreError::Invalid(e)) => {
            return Err(PageError::Conflict(
                e.iter()
                    .map(|x| x.message.clone())
                    .collect::<Vec<_>>()
                    .join("；"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let agency = state.store.agency(archive.file.case.agency_id).await?;
    let item = state
        .store
        .case_item(&archive.file.case)
        .await?
        .map(|v| format!("{} {}", v.code, v.content.name))
        .unwrap_or_default();
    let archived_by = user.principal.display_name.clone();
    let (store, runtime) = (state.store.clone(), tokio::runtime::Handle::current());
    // Evidence files are read one at a time while packing, into a temporary file that is
    // then sent in pieces: a 卷宗 of many large files is never held in memory whole.
    let evidence_file = move |id: i64| runtime.block_on(store.case_evidence_file(id));
    let scratch = state.config.scratch_dir.clone();
    let zip = tokio::task::spawn_blocking(move || {
        let out = match &scratch {
            Some(dir) => tempfile::tempfile_in(dir),
            None => tempfile::tempfile(),
        };
        // No room to pack (a full or missing directory) is the server's state, not a bug.
        let out = out.map_err(|e| {
            tracing::error!(error = %e, "no temporary file for the archive");
            PageError::Unavailable
        })?;
        compose(
            archive,
            &agency.name,
            &item,
            &archived_by,
            evidence_file,
            out,
        )
    })
    .await
    .map_err(|_| PageError::Internal)??;
    Ok(file_stream_response(
        zip,
        "application/zip",
        &format!("{}-卷宗.zip", file.case.number),
    ))
}

/// Two-digit order numbers keep the files in order in any file manager.
fn ordered(n: usize, name: &str) -> String {
    format!("{n:02}-{name}")
}

/// Lays out and packs the archive into `out` (blocking: typst lays out the generated pages,
/// and `evidence_file` reads an evidence file from the database when it is packed).
fn compose(
    mut a: CaseArchive,
    agency: &str,
    item: &str,
    archived_by: &str,
    evidence_file: impl Fn(i64) -> Result<(i64, String, Vec<u8>), StoreError>,
    out: std::fs::File,
) -> Result<std::fs::File, PageError> {
    let proc = a.file.procedure()?;
    let case = &a.file.case;
    let today = today_beijing();
    let date = crate::view::doc_date(today);
    let render = |doc: &zhifa_docs::Document| {
        zhifa_docs::pdf::render(doc, date).map_err(|e| {
            tracing::error!(error = %e, "archive page could not be laid out");
            PageError::Internal
        })
    };
    // Documents in legal order: by the step they belong to, then as issued.
    let step_index = |code: &str| proc.steps.iter().position(|s| s.code == code);
    a.documents
        .sort_by_key(|(d, _, _)| (step_index(&d.step).unwrap_or(usize::MAX), d.id));
    let mut documents: Vec<(String, &[u8])> = Vec::new();
    let mut catalogue = vec![
        CatalogueLine {
            name: "封面".into(),
            date: today.to_string(),
            path: "00-封面.pdf".into(),
        },
        CatalogueLine {
            name: "卷内目录".into(),
            date: today.to_string(),
            path: "01-卷内目录.pdf".into(),
        },
    ];
    for (n, (d, pdf, seq)) in a.documents.iter().enumerate() {
        let path = format!("文书/{}.pdf", ordered(n + 1, &d.name));
        catalogue.push(CatalogueLine {
            name: d.name.clone(),
            date: fmt_time(d.created_at).chars().take(10).collect(),
            path: path.clone(),
        });
        a.proofs.files.push(BoundFile {
            path: path.clone(),
            index: *seq,
            field: "pdf_sha256".into(),
        });
        documents.push((path, pdf));
    }
    catalogue.push(CatalogueLine {
        name: "证据清单".into(),
        date: today.to_string(),
        path: "证据清单.pdf".into(),
    });
    let mut evidence_lines = Vec::new();
    let mut evidence_files = Vec::new();
    for (n, (e, seq)) in a.evidence.iter().enumerate() {
        let path = match &e.file_name {
            Some(name) => {
                let path = format!("证据/{}", ordered(n + 1, name));
                catalogue.push(CatalogueLine {
                    name: format!("证据：{}", e.name),
                    date: e.collected_on.clone(),
                    path: path.clone(),
                });
                a.proofs.files.push(BoundFile {
                    path: path.clone(),
                    index: *seq,
                    field: "file_sha256".into(),
                });
                evidence_files.push((path.clone(), e.id));
                path
            }
            None => String::new(),
        };
        evidence_lines.push(EvidenceLine {
            kind: kind_label(&e.kind).to_owned(),
            name: e.name.clone(),
            source: e.source.clone(),
            collected_on: e.collected_on.clone(),
            collected_by: e.collected_by.clone().unwrap_or_default(),
            path,
        });
    }
    catalogue.push(CatalogueLine {
        name: "核验说明".into(),
        date: today.to_string(),
        path: "核验说明.txt".into(),
    });
    catalogue.push(CatalogueLine {
        name: format!("执法记录日志证明（{} 条记录）", a.proofs.entries.len()),
        date: today.to_string(),
        path: PROOFS_PATH.into(),
    });
    let parties = a
        .file
        .parties
        .iter()
        .map(|p| format!("{}（{}）", p.name, party_kind_label(p.kind)))
        .collect::<Vec<_>>()
        .join("、");
    let officers = a
        .file
        .officers
        .iter()
        .map(|o| o.name.clone())
        .collect::<Vec<_>>()
        .join("、");
    let cover = dossier::cover(&Cover {
        agency: agency.to_owned(),
        number: case.number.clone(),
        cause: case.cause.clone(),
        procedure: proc.name.clone(),
        department: case.department.clone(),
        parties,
        item: item.to_owned(),
        officers,
        opened_on: case.opened_on.clone(),
        closed_on: case.closed_on.clone().unwrap_or_default(),
        archived_by: archived_by.to_owned(),
        archived_on: today.to_string(),
        files: a.documents.len() + evidence_files.len(),
    });
    let readme = dossier::readme(&case.number, &a.proofs.origin, &a.proofs.keys, PROOFS_PATH);
    // The names are ours: what fails while packing is writing the file (a full disk).
    let packing = |e: dossier::DossierError| {
        tracing::error!(error = %e, "archive could not be packed");
        PageError::Unavailable
    };
    let mut zip = dossier::Packer::new(out, date);
    zip.add("00-封面.pdf", &render(&cover)?).map_err(packing)?;
    zip.add(
        "01-卷内目录.pdf",
        &render(&dossier::catalogue(agency, &case.number, &catalogue))?,
    )
    .map_err(packing)?;
    for (path, pdf) in &documents {
        zip.add(path, pdf).map_err(packing)?;
    }
    let list = dossier::evidence_list(agency, &case.number, &evidence_lines);
    zip.add("证据清单.pdf", &render(&list)?).map_err(packing)?;
    for (path, id) in &evidence_files {
        let (_, _, bytes) = evidence_file(*id)?;
        zip.add(path, &bytes).map_err(packing)?;
    }
    zip.add("核验说明.txt", readme.as_bytes())
        .map_err(packing)?;
    // The names the verifier knows as made at export (`ledger::proofs::ARCHIVE_GENERATED`).
    a.proofs.generated = zhifa_ledger::proofs::ARCHIVE_GENERATED
        .iter()
        .map(|g| (*g).to_owned())
        .collect();
    let proofs = serde_json::to_vec_pretty(&a.proofs).map_err(|_| PageError::Internal)?;
    zip.add(PROOFS_PATH, &proofs).map_err(packing)?;
    zip.finish().map_err(packing)
}
