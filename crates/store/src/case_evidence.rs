//! Evidence of a case (证据): registered by the officers while the case is open, each with
//! an optional file; one ledger entry per item, committing to the file's SHA-256, and a
//! case event so that the timeline shows it.

use crate::cases::CaseActor;
use crate::db::Store;
use crate::error::StoreError;
use crate::write::Actor;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use zhifa_domain::Role;
use zhifa_domain::evidence::NewEvidence;

/// Evidence as the case page lists it (the file is fetched separately).
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceItem {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub source: String,
    pub spec: String,
    pub quantity: String,
    pub collected_on: String,
    pub collected_by: Option<String>,
    pub file_name: Option<String>,
    /// Size of the file in bytes (0 without one).
    pub file_size: i64,
}

impl Store {
    /// The evidence of a case, in the order registered.
    pub async fn case_evidence(&self, case_id: i64) -> Result<Vec<EvidenceItem>, StoreError> {
        sqlx::query(
            "SELECT e.id, e.kind, e.name, e.source, e.spec, e.quantity, e.collected_on, u.display_name AS collected_by,
                e.file_name, COALESCE(LENGTH(e.file), 0) AS file_size
             FROM case_evidence e LEFT JOIN users u ON u.id = e.user_id
             WHERE e.case_id = $1 ORDER BY e.id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(EvidenceItem {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                name: r.try_get("name")?,
                source: r.try_get("source")?,
                spec: r.try_get("spec")?,
                quantity: r.try_get("quantity")?,
                collected_on: r.try_get("collected_on")?,
                collected_by: r.try_get("collected_by")?,
                file_name: r.try_get("file_name")?,
                file_size: r.try_get("file_size")?,
            })
        })
        .collect()
    }

    /// The file of one item of evidence: (case id, file name, bytes).
    pub async fn case_evidence_file(&self, id: i64) -> Result<(i64, String, Vec<u8>), StoreError> {
        let r = sqlx::query("SELECT case_id, file_name, file FROM case_evidence WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let file: Option<Vec<u8>> = r.try_get("file")?;
        let name: Option<String> = r.try_get("file_name")?;
        match (file, name) {
            (Some(f), Some(n)) => Ok((r.try_get("case_id")?, n, f)),
            _ => Err(StoreError::NotFound),
        }
    }

    /// Registers evidence on an open case, by an officer or a department head (those who
    /// investigate): the evidence row and a case event, two entries.
    pub async fn add_evidence(
        &self,
        actor: &CaseActor,
        case_id: i64,
        e: &NewEvidence,
    ) -> Result<i64, StoreError> {
        use sha2::Digest;
        if !actor
            .roles
            .iter()
            .any(|r| matches!(r, Role::Officer | Role::DepartmentHead))
        {
            return Err(StoreError::field("act", "证据由执法人员登记"));
        }
        let mut tx = self.write(Actor::User(actor.user_id)).await?;
        let case = tx.hold_open_case(case_id, "证据").await?;
        let now = tx.now();
        let (file_name, bytes) = match &e.file {
            Some((n, b)) => (Some(n.clone()), Some(b.clone())),
            None => (None, None),
        };
        let sha = bytes
            .as_ref()
            .map(|b| zhifa_ledger::hash::to_hex(&sha2::Sha256::digest(b)));
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO case_evidence (case_id, kind, name, source, spec, quantity, collected_on,
                user_id, file_name, file, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(case_id)
        .bind(e.kind.to_owned())
        .bind(e.name.clone())
        .bind(e.source.clone())
        .bind(e.spec.clone())
        .bind(e.quantity.clone())
        .bind(e.collected_on.to_string())
        .bind(actor.user_id)
        .bind(file_name.clone())
        .bind(bytes)
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        tx.record_row(case.agency_id, "case_evidence.add", "case_evidence", id)
            .await?;
        tx.insert_event(
            case.agency_id,
            case_id,
            "evidence",
            &case.step,
            None,
            e.collected_on,
            actor.user_id,
            json!({
                "evidence": id,
                "label": e.name,
                "kind": e.kind,
                "file_sha256": sha,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}
