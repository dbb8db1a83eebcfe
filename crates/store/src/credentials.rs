//! 执法证件: reads on [`Store`], changes on [`WriteTx`]. Every change — registration,
//! correction, a status change with its reason, a new QR token — is an entry of the
//! agency's log with the row's new state.

use crate::db::Store;
use crate::error::{StoreError, unique_as_field};
use crate::write::WriteTx;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use zhifa_domain::credential::{
    CredentialKind, NewCredential, StatusChange, StoredStatus, Validity, parse_date,
};

/// A credential as stored, with its holder's name and department (never their phone).
#[derive(Debug, Clone, Serialize)]
pub struct Credential {
    pub id: i64,
    pub agency_id: i64,
    pub agency_name: String,
    pub person_id: i64,
    pub holder: String,
    pub department: Option<String>,
    pub kind: CredentialKind,
    pub number: String,
    pub issuer: String,
    pub area: String,
    pub valid_from: String,
    pub valid_to: String,
    pub status: StoredStatus,
    pub status_reason: String,
    pub qr_token: String,
    pub version: i64,
    pub updated_at: i64,
}

impl Credential {
    /// What the rules need (dates were validated when written; a row whose dates do not
    /// parse was changed behind zhifa's back and counts as never valid).
    pub fn validity(&self) -> Validity {
        validity_of(self.status, &self.valid_from, &self.valid_to)
    }
}

/// A credential's validity from its stored columns; dates that do not parse (changed
/// behind zhifa's back) make it never valid.
pub(crate) fn validity_of(status: StoredStatus, valid_from: &str, valid_to: &str) -> Validity {
    Validity {
        status,
        valid_from: parse_date(valid_from).unwrap_or(chrono::NaiveDate::MAX),
        valid_to: parse_date(valid_to).unwrap_or(chrono::NaiveDate::MIN),
    }
}

const COLS: &str = "c.id, c.agency_id, a.name AS agency_name, c.person_id, p.name AS holder,
    d.name AS department, c.kind, c.number, c.issuer, c.area, c.valid_from, c.valid_to,
    c.status, c.status_reason, c.qr_token, c.version, c.updated_at";
const FROM: &str = "credentials c JOIN agencies a ON a.id = c.agency_id
    JOIN people p ON p.id = c.person_id LEFT JOIN departments d ON d.id = p.department_id";

fn credential(r: &AnyRow) -> Result<Credential, StoreError> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(Credential {
        id: r.try_get("id")?,
        agency_id: r.try_get("agency_id")?,
        agency_name: r.try_get("agency_name")?,
        person_id: r.try_get("person_id")?,
        holder: r.try_get("holder")?,
        department: r.try_get("department")?,
        kind: CredentialKind::from_code(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown credential kind {kind}")))?,
        number: r.try_get("number")?,
        issuer: r.try_get("issuer")?,
        area: r.try_get("area")?,
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
        status: StoredStatus::from_code(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown credential status {status}")))?,
        status_reason: r.try_get("status_reason")?,
        qr_token: r.try_get("qr_token")?,
        version: r.try_get("version")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A new QR token: 128 random bits, URL-safe (22 characters). Guessing one is hopeless;
/// the token reveals nothing but what the public page shows anyway.
fn new_token() -> String {
    use base64::Engine;
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).expect("the operating system provides randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Whether `token` has the shape of a token (checked before any query).
pub fn is_token_shaped(token: &str) -> bool {
    token.len() == 22
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Store {
    /// The credentials of an agency, by holder then number.
    pub async fn list_credentials(&self, agency_id: i64) -> Result<Vec<Credential>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM {FROM} WHERE c.agency_id = $1 ORDER BY p.name, c.number"
        )))
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(credential).collect()
    }

    pub async fn credential(&self, id: i64) -> Result<Credential, StoreError> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM {FROM} WHERE c.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        credential(&r)
    }

    /// The credential a QR code points at; `NotFound` for any token that is not one.
    pub async fn credential_by_token(&self, token: &str) -> Result<Credential, StoreError> {
        if !is_token_shaped(token) {
            return Err(StoreError::NotFound);
        }
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM {FROM} WHERE c.qr_token = $1"
        )))
        .bind(token.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        credential(&r)
    }

    /// The enforcement credentials of one person (for the 持证上岗 rule).
    pub async fn credentials_of_person(
        &self,
        person_id: i64,
    ) -> Result<Vec<Credential>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM {FROM} WHERE c.person_id = $1 ORDER BY c.valid_to DESC"
        )))
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(credential).collect()
    }
}

impl WriteTx {
    /// The agency of a person, who must belong to `agency_id` (a form may name any id).
    async fn check_holder(&mut self, agency_id: i64, person_id: i64) -> Result<(), StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM people WHERE id = $1 AND agency_id = $2")
                .bind(person_id)
                .bind(agency_id)
                .fetch_one(self.conn())
                .await?;
        if n == 0 {
            return Err(StoreError::field("person_id", "所选持证人不属于本单位"));
        }
        Ok(())
    }

    /// Registers a credential (status 有效) and gives it a QR token.
    pub async fn create_credential(
        &mut self,
        agency_id: i64,
        c: &NewCredential,
    ) -> Result<i64, StoreError> {
        self.check_holder(agency_id, c.person_id).await?;
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO credentials (agency_id, person_id, kind, number, issuer, area, valid_from,
                valid_to, status, status_reason, qr_token, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'valid', '', $9, $10, $10) RETURNING id",
        )
        .bind(agency_id)
        .bind(c.person_id)
        .bind(c.kind.code())
        .bind(c.number.as_str().to_owned())
        .bind(c.issuer.clone())
        .bind(c.area.clone())
        .bind(c.valid_from.to_string())
        .bind(c.valid_to.to_string())
        .bind(new_token())
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "number", "该证件编号已登记"))?;
        self.record_row(agency_id, "credential.create", "credential", id)
            .await?;
        Ok(id)
    }

    /// Corrects a credential's particulars (not its status: see `change_credential_status`).
    pub async fn update_credential(
        &mut self,
        id: i64,
        version: i64,
        c: &NewCredential,
    ) -> Result<(), StoreError> {
        let agency_id = self.credential_agency(id).await?;
        self.guard_row("credential", id).await?;
        self.check_holder(agency_id, c.person_id).await?;
        let done = sqlx::query(
            "UPDATE credentials SET person_id = $1, kind = $2, number = $3, issuer = $4, area = $5,
                valid_from = $6, valid_to = $7, updated_at = $8, version = version + 1
             WHERE id = $9 AND version = $10",
        )
        .bind(c.person_id)
        .bind(c.kind.code())
        .bind(c.number.as_str().to_owned())
        .bind(c.issuer.clone())
        .bind(c.area.clone())
        .bind(c.valid_from.to_string())
        .bind(c.valid_to.to_string())
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "number", "该证件编号已登记"))?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(agency_id, "credential.update", "credential", id)
            .await
    }

    /// Sets the status (有效 / 暂扣 / 注销) with its reason. A revoked credential stays
    /// revoked: a new card is a new credential.
    pub async fn change_credential_status(
        &mut self,
        id: i64,
        version: i64,
        change: &StatusChange,
    ) -> Result<(), StoreError> {
        let agency_id = self.credential_agency(id).await?;
        self.guard_row("credential", id).await?;
        let current: String = sqlx::query_scalar("SELECT status FROM credentials WHERE id = $1")
            .bind(id)
            .fetch_one(self.conn())
            .await?;
        if current == StoredStatus::Revoked.code() && change.status != StoredStatus::Revoked {
            return Err(StoreError::field(
                "status",
                "已注销的证件不能恢复；换发新证请登记新证件",
            ));
        }
        let done = sqlx::query(
            "UPDATE credentials SET status = $1, status_reason = $2, updated_at = $3,
                version = version + 1 WHERE id = $4 AND version = $5",
        )
        .bind(change.status.code())
        .bind(change.reason.clone())
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(agency_id, "credential.status", "credential", id)
            .await
    }

    /// Replaces the QR token (a lost or copied card): the old code then shows 无效.
    pub async fn reissue_credential_token(
        &mut self,
        id: i64,
        version: i64,
    ) -> Result<(), StoreError> {
        let agency_id = self.credential_agency(id).await?;
        self.guard_row("credential", id).await?;
        let done = sqlx::query(
            "UPDATE credentials SET qr_token = $1, updated_at = $2, version = version + 1
             WHERE id = $3 AND version = $4",
        )
        .bind(new_token())
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(agency_id, "credential.token", "credential", id)
            .await
    }

    async fn credential_agency(&mut self, id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT agency_id FROM credentials WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_recognisable() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(is_token_shaped(&a) && is_token_shaped(&b));
        assert!(!is_token_shaped(&a[..21]));
        assert!(!is_token_shaped("../../etc/passwd..abcd"));
        assert!(!is_token_shaped(&format!("{}=", &a[..21])));
    }
}
