//! What a case's 卷宗 holds, read in one place: the case, its issued documents, its
//! evidence (whose files are read one at a time as they are packed), and every entry of
//! the agency's log about the case — the case row, its parties, officers, events,
//! documents and evidence — each with its payload and its inclusion proof against the
//! newest signed checkpoint.

use crate::case_evidence::EvidenceItem;
use crate::cases::{CaseFile, IssuedDocument};
use crate::db::Store;
use crate::error::StoreError;
use sqlx::Row;
use std::collections::BTreeMap;
use zhifa_ledger::hash::to_hex;
use zhifa_ledger::proofs::{EntryProofs, FORMAT, ProvedEntry};
use zhifa_ledger::tree::{NodeId, inclusion_plan};

/// The journal's subjects that belong to a case, with the table that links them to it.
const CASE_SUBJECTS: &[(&str, &str)] = &[
    ("case_party", "case_parties"),
    ("case_officer", "case_officers"),
    ("case_event", "case_events"),
    ("case_document", "case_documents"),
    ("case_evidence", "case_evidence"),
];

/// Everything the 卷宗 of a case is made from.
#[derive(Debug, Clone)]
pub struct CaseArchive {
    pub file: CaseFile,
    /// Issued documents with their PDF, oldest first, and the log entry that records each.
    pub documents: Vec<(IssuedDocument, Vec<u8>, u64)>,
    /// Evidence and the log entry that records it. Its file, if any, is read when packed
    /// (`Store::case_evidence_file`): files can be large, and are read one at a time.
    pub evidence: Vec<(EvidenceItem, u64)>,
    /// The entries with their proofs (files are bound by whoever names them).
    pub proofs: EntryProofs,
}

/// The journal rows about a case, in its agency's log: `$1` the log, `$2` the case id as
/// text (the journal's subject id), `$3` the case id.
fn case_entries_where() -> String {
    let mut parts = vec!["(j.subject_kind = 'case' AND j.subject_id = $2)".to_owned()];
    for (kind, table) in CASE_SUBJECTS {
        parts.push(format!(
            "(j.subject_kind = '{kind}' AND j.subject_id IN
                (SELECT CAST(id AS TEXT) FROM {table} WHERE case_id = $3))"
        ));
    }
    format!("j.log_id = $1 AND ({})", parts.join(" OR "))
}

impl Store {
    /// The log entries about a case (its log is its agency's), oldest first.
    async fn case_entry_rows(
        &self,
        agency_id: i64,
        case_id: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let sql = format!(
            "SELECT j.seq, j.subject_kind, j.subject_id, j.payload, j.salt
             FROM journal j WHERE {} ORDER BY j.seq",
            case_entries_where()
        );
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(agency_id)
            .bind(case_id.to_string())
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Whether the newest signed checkpoint of the case's log covers every entry of the
    /// case (an archive proves its entries against it).
    pub async fn case_entries_signed(&self, case_id: i64) -> Result<bool, StoreError> {
        let agency: i64 = sqlx::query_scalar("SELECT agency_id FROM cases WHERE id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let newest: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT MAX(j.seq) FROM journal j WHERE {}",
            case_entries_where()
        )))
        .bind(agency)
        .bind(case_id.to_string())
        .bind(case_id)
        .fetch_one(&self.pool)
        .await?;
        let signed = self.latest_checkpoint(agency).await?.map(|(s, _)| s);
        Ok(match (newest, signed) {
            (None, _) => true,
            (Some(n), Some(s)) => (n as u64) < s,
            (Some(_), None) => false,
        })
    }

    /// Reads a closed case's archive. Refused while the case is open (a 卷宗 is made of a
    /// finished file) and while the newest checkpoint does not yet cover the case.
    pub async fn case_archive(&self, case_id: i64) -> Result<CaseArchive, StoreError> {
        let file = self.case_file(case_id).await?;
        if file.case.closed_on.is_none() {
            return Err(StoreError::field(
                "archive",
                "案件尚未办结归档，卷宗在归档后才能导出",
            ));
        }
        let agency = file.case.agency_id;
        let head = self.log_head(agency).await?;
        let Some((size, checkpoint)) = self.latest_checkpoint(agency).await? else {
            return Err(StoreError::field(
                "archive",
                "本机关的执法记录尚未签发签名树头，请稍后再导出",
            ));
        };
        let rows = self.case_entry_rows(agency, case_id).await?;
        let seqs = rows
            .iter()
            .map(|r| Ok(r.try_get::<i64, _>("seq")?.max(0) as u64))
            .collect::<Result<Vec<u64>, StoreError>>()?;
        let entries = self.log_entries_at(agency, &seqs).await?;
        let mut proved = Vec::with_capacity(rows.len());
        let mut latest: BTreeMap<(String, i64), u64> = BTreeMap::new();
        for r in &rows {
            let seq = r.try_get::<i64, _>("seq")? as u64;
            if seq >= size {
                return Err(StoreError::field(
                    "archive",
                    "本案最新的记录尚未签入签名树头（每分钟签发），请稍后再导出",
                ));
            }
            let kind: String = r.try_get("subject_kind")?;
            let id: String = r.try_get("subject_id")?;
            let id: i64 = id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("journal subject id {id}")))?;
            let Some(entry) = entries.get(&seq) else {
                return Err(StoreError::field(
                    "archive",
                    format!(
                        "本案的第 {seq} 条日志条目缺失或损坏，卷宗无法附上它的证明。请管理员运行 zhifa verify 查明原因"
                    ),
                ));
            };
            let salt: Option<Vec<u8>> = r.try_get("salt")?;
            let payload: Option<String> = r.try_get("payload")?;
            latest.insert((kind, id), seq);
            proved.push(ProvedEntry::new(
                seq,
                entry,
                salt.as_deref(),
                payload.as_deref(),
            ));
        }
        // Every proof's nodes in one read.
        let plans = proved
            .iter()
            .map(|e| inclusion_plan(e.index, size))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ids: Vec<NodeId> = plans.iter().flat_map(|p| p.nodes()).collect();
        let nodes = self.log_nodes(agency, &ids).await?;
        for (p, plan) in proved.iter_mut().zip(&plans) {
            p.proof = plan
                .assemble(head.alg, |id| nodes.get(&id).copied())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .iter()
                .map(|h| to_hex(h))
                .collect();
        }
        let entry_of = |kind: &str, id: i64| {
            latest
                .get(&(kind.to_owned(), id))
                .copied()
                .ok_or_else(|| StoreError::Corrupt(format!("{kind} {id} has no log entry")))
        };
        let mut documents = Vec::new();
        for (d, pdf) in self.documents_with_pdf(case_id).await? {
            let seq = entry_of("case_document", d.id)?;
            documents.push((d, pdf, seq));
        }
        let mut evidence = Vec::new();
        for e in self.case_evidence(case_id).await? {
            let seq = entry_of("case_evidence", e.id)?;
            evidence.push((e, seq));
        }
        let keys = self
            .log_keys(agency)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        Ok(CaseArchive {
            file,
            documents,
            evidence,
            proofs: EntryProofs {
                format: FORMAT.into(),
                origin: head.origin,
                hash_algorithm: head.alg.code().into(),
                keys,
                checkpoint,
                entries: proved,
                files: Vec::new(),
                generated: Vec::new(),
            },
        })
    }
}
