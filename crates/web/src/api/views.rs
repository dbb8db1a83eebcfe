//! API request and response bodies (with their OpenAPI schemas).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhifa_store::accounts::User;
use zhifa_store::org::{Agency, Department, LeadershipMember, Person};

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `invalid_fields`.
    pub code: String,
    /// Chinese message for people.
    pub message: String,
    /// Field errors, when the input was refused.
    pub fields: Option<Vec<FieldErrorView>>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldErrorView {
    pub field: String,
    pub message: String,
}

/// 执法主体
#[derive(Serialize, ToSchema)]
pub struct AgencyView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// administrative_organ | authorised_organisation | entrusted_organisation
    pub kind: String,
    pub kind_label: String,
    pub credit_code: String,
    pub legal_basis: String,
    pub address: String,
    pub parent_id: Option<i64>,
    pub version: i64,
    /// 密码算法 of its log: guomi (SM2/SM3) | international (Ed25519/SHA-256)
    pub crypto: String,
    pub crypto_label: String,
}

impl From<Agency> for AgencyView {
    fn from(a: Agency) -> Self {
        AgencyView {
            id: a.id,
            slug: a.slug,
            name: a.name,
            kind: a.kind.code().into(),
            kind_label: a.kind.label().into(),
            credit_code: a.credit_code,
            legal_basis: a.legal_basis,
            address: a.address,
            parent_id: a.parent_id,
            version: a.version,
            crypto: a.crypto.code().into(),
            crypto_label: a.crypto.label().into(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct AgencyRequest {
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub credit_code: String,
    pub legal_basis: String,
    #[serde(default)]
    pub address: String,
    pub parent_id: Option<i64>,
    /// Required on update: the version read (optimistic concurrency).
    pub version: Option<i64>,
    /// 密码算法, chosen at creation and never changed: guomi (国密 SM2/SM3) |
    /// international (Ed25519/SHA-256); empty or absent: the parent's.
    #[serde(default)]
    pub crypto: String,
}

/// 承办机构
#[derive(Serialize, ToSchema)]
pub struct DepartmentView {
    pub id: i64,
    pub agency_id: i64,
    pub name: String,
    pub duties: String,
    pub sort_order: i64,
    pub people_count: i64,
    pub version: i64,
}

impl From<Department> for DepartmentView {
    fn from(d: Department) -> Self {
        DepartmentView {
            id: d.id,
            agency_id: d.agency_id,
            name: d.name,
            duties: d.duties,
            sort_order: d.sort_order,
            people_count: d.people_count,
            version: d.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct DepartmentRequest {
    pub name: String,
    #[serde(default)]
    pub duties: String,
    #[serde(default)]
    pub sort_order: i64,
    pub version: Option<i64>,
}

/// A member of staff (internal: includes the phone number).
#[derive(Serialize, ToSchema)]
pub struct PersonView {
    pub id: i64,
    pub agency_id: i64,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub name: String,
    pub position: String,
    pub phone: Option<String>,
    pub active: bool,
    pub version: i64,
}

impl From<Person> for PersonView {
    fn from(p: Person) -> Self {
        PersonView {
            id: p.id,
            agency_id: p.agency_id,
            department_id: p.department_id,
            department_name: p.department_name,
            name: p.name,
            position: p.position,
            phone: p.phone,
            active: p.active,
            version: p.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PersonRequest {
    pub name: String,
    pub department_id: Option<i64>,
    #[serde(default)]
    pub position: String,
    pub phone: Option<String>,
    /// 公民身份号码 (GB 11643), internal; never returned in full.
    pub id_number: Option<String>,
    /// On update; defaults to true.
    pub active: Option<bool>,
    pub version: Option<i64>,
}

/// 领导小组成员
#[derive(Serialize, ToSchema)]
pub struct LeadershipView {
    pub id: i64,
    pub agency_id: i64,
    pub name: String,
    /// leader | deputy_leader | member
    pub rank: String,
    pub rank_label: String,
    pub post: String,
    pub sort_order: i64,
    pub version: i64,
}

impl From<LeadershipMember> for LeadershipView {
    fn from(m: LeadershipMember) -> Self {
        LeadershipView {
            id: m.id,
            agency_id: m.agency_id,
            name: m.name,
            rank: m.rank.code().into(),
            rank_label: m.rank.label().into(),
            post: m.post,
            sort_order: m.sort_order,
            version: m.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct LeadershipRequest {
    pub name: String,
    pub rank: String,
    pub post: String,
    #[serde(default)]
    pub sort_order: i64,
    pub version: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub agency_id: i64,
    pub person_id: Option<i64>,
    pub department_id: Option<i64>,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub version: i64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            agency_id: u.agency_id,
            person_id: u.person_id,
            department_id: u.department_id,
            username: u.username,
            display_name: u.display_name,
            roles: u.roles.iter().map(|r| r.code().to_owned()).collect(),
            disabled: u.disabled,
            version: u.version,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub agency_id: i64,
    pub department_id: Option<i64>,
    pub roles: Vec<String>,
    pub capabilities: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct VersionRequest {
    pub version: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct UserRequest {
    pub username: String,
    pub display_name: String,
    /// Initial password (≥ 8 characters, three character classes).
    pub password: String,
    #[serde(default)]
    pub person_id: Option<i64>,
    /// Role codes: admin, officer, department_head, legal_reviewer, leader, supervisor.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RolesRequest {
    pub roles: Vec<String>,
    pub version: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct DisabledRequest {
    pub disabled: bool,
}
