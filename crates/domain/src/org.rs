//! The organisation of the plan: 执法主体 (agencies), 承办机构 (departments), people and the
//! 领导小组 (leadership group).

use crate::credit_code::CreditCode;
use crate::validation::{
    FieldErrors, optional_line, optional_text, required_multiline, required_text,
};
use serde::{Deserialize, Serialize};

/// 执法主体的类别 — the legal kind of an enforcement agency (行政处罚法 art. 17–20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgencyKind {
    /// 行政机关
    AdministrativeOrgan,
    /// 法律法规授权组织
    AuthorisedOrganisation,
    /// 受委托组织
    EntrustedOrganisation,
}

impl AgencyKind {
    pub const ALL: [AgencyKind; 3] = [
        AgencyKind::AdministrativeOrgan,
        AgencyKind::AuthorisedOrganisation,
        AgencyKind::EntrustedOrganisation,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AgencyKind::AdministrativeOrgan => "administrative_organ",
            AgencyKind::AuthorisedOrganisation => "authorised_organisation",
            AgencyKind::EntrustedOrganisation => "entrusted_organisation",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AgencyKind::AdministrativeOrgan => "行政机关",
            AgencyKind::AuthorisedOrganisation => "法律法规授权组织",
            AgencyKind::EntrustedOrganisation => "受委托组织",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// 领导小组中的职务 — rank in the leadership group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadershipRank {
    /// 组长
    Leader,
    /// 副组长
    DeputyLeader,
    /// 组员
    Member,
}

impl LeadershipRank {
    pub const ALL: [LeadershipRank; 3] = [
        LeadershipRank::Leader,
        LeadershipRank::DeputyLeader,
        LeadershipRank::Member,
    ];

    pub fn code(self) -> &'static str {
        match self {
            LeadershipRank::Leader => "leader",
            LeadershipRank::DeputyLeader => "deputy_leader",
            LeadershipRank::Member => "member",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LeadershipRank::Leader => "组长",
            LeadershipRank::DeputyLeader => "副组长",
            LeadershipRank::Member => "组员",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A short ASCII name used in URLs (`/log/{slug}/…`): lower-case letters, digits, '-'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Slug(String);

impl Slug {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if s.len() < 2 || s.len() > 40 {
            return Err("标识须为 2–40 个字符".into());
        }
        if !ok_chars || s.starts_with('-') || s.ends_with('-') {
            return Err(
                "标识只能使用小写英文字母、数字和连字符“-”，且不能以连字符开头或结尾".into(),
            );
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A telephone number: a mainland mobile (11 digits starting with 1) or a landline
/// with area code (digits and '-', 7–20 characters). Never published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
        let only_allowed = s.chars().all(|c| c.is_ascii_digit() || c == '-');
        let mobile = s.len() == 11 && s.starts_with('1') && digits == 11;
        let landline = only_allowed && (7..=20).contains(&s.len()) && digits >= 7;
        if mobile || landline {
            Ok(Self(s.to_owned()))
        } else {
            Err(
                "电话号码格式不正确：请填写 11 位手机号或带区号的固定电话（如 0376-1234567）"
                    .into(),
            )
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 密码算法 — the cryptography of an agency's log: 国密 (SM3 hashes, SM2 signatures, GB/T
/// 32905 and GB/T 32918) or the international algorithms (SHA-256, Ed25519). Chosen when
/// the agency is made and never changed: one log never mixes hash functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Crypto {
    International,
    Guomi,
}

impl Crypto {
    pub const ALL: [Crypto; 2] = [Crypto::Guomi, Crypto::International];

    pub fn code(self) -> &'static str {
        match self {
            Crypto::International => "international",
            Crypto::Guomi => "guomi",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Crypto::International => "国际算法（Ed25519/SHA-256）",
            Crypto::Guomi => "国密（SM2/SM3）",
        }
    }

    /// The choice as typed: "" is no choice (the parent's, or international at the top).
    pub fn parse_choice(input: &str) -> Result<Option<Self>, String> {
        match input.trim() {
            "" => Ok(None),
            code => Self::from_code(code).map(Some).ok_or_else(|| {
                format!(
                    "请选择密码算法：{}（guomi）或{}（international）",
                    Crypto::Guomi.label(),
                    Crypto::International.label()
                )
            }),
        }
    }
}

/// The raw, untrusted fields of an agency form or JSON body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AgencyInput {
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub credit_code: String,
    pub legal_basis: String,
    pub address: String,
    /// Empty or the id of the parent agency.
    pub parent_id: String,
    /// Empty (the parent's algorithm; international at the top) or a [`Crypto`] code.
    pub crypto: String,
}

/// 执法主体 — a validated agency ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAgency {
    pub name: String,
    pub slug: Slug,
    pub kind: AgencyKind,
    pub credit_code: CreditCode,
    /// 执法依据 — the source of its enforcement authority (laws, 三定方案, entrustment).
    pub legal_basis: String,
    pub address: String,
    pub parent_id: Option<i64>,
    /// The log's cryptography, when chosen (`None`: the parent's, international at the
    /// top). Only a new agency takes it; an existing one refuses a different choice.
    pub crypto: Option<Crypto>,
}

impl NewAgency {
    pub fn parse(input: &AgencyInput) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = required_text(&mut e, "name", "名称", &input.name, 100);
        let slug = Slug::parse(&input.slug).map_err(|m| e.add("slug", m)).ok();
        let kind = AgencyKind::from_code(input.kind.trim());
        if kind.is_none() {
            e.add(
                "kind",
                "请选择执法主体类别：行政机关、法律法规授权组织或受委托组织",
            );
        }
        let credit_code = CreditCode::parse(&input.credit_code)
            .map_err(|err| e.add("credit_code", err.to_string()))
            .ok();
        let legal_basis =
            required_multiline(&mut e, "legal_basis", "执法依据", &input.legal_basis, 4000);
        let address = optional_line(&mut e, "address", "地址", &input.address, 200);
        let parent_id = parse_optional_id(&mut e, "parent_id", "上级执法主体", &input.parent_id);
        let crypto = Crypto::parse_choice(&input.crypto)
            .map_err(|m| e.add("crypto", m))
            .unwrap_or(None);
        e.into_result(|| NewAgency {
            name,
            slug: slug.expect("checked"),
            kind: kind.expect("checked"),
            credit_code: credit_code.expect("checked"),
            legal_basis,
            address,
            parent_id,
            crypto,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DepartmentInput {
    pub name: String,
    pub duties: String,
    pub sort_order: String,
}

/// 承办机构 — a department of an agency that handles enforcement matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDepartment {
    pub name: String,
    /// 主要职责
    pub duties: String,
    pub sort_order: i64,
}

impl NewDepartment {
    pub fn parse(input: &DepartmentInput) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = required_text(&mut e, "name", "部门名称", &input.name, 60);
        let duties = optional_text(&mut e, "duties", "主要职责", &input.duties, 2000);
        let sort_order = parse_sort_order(&mut e, &input.sort_order);
        e.into_result(|| NewDepartment {
            name,
            duties,
            sort_order,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PersonInput {
    pub name: String,
    pub department_id: String,
    pub position: String,
    pub phone: String,
    pub id_number: String,
}

/// A member of staff. The phone number is internal and never shown on the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPerson {
    pub name: String,
    pub department_id: Option<i64>,
    /// 职务
    pub position: String,
    pub phone: Option<Phone>,
    /// 公民身份号码 (internal, optional).
    pub id_number: Option<crate::id_number::IdNumber>,
}

impl NewPerson {
    pub fn parse(input: &PersonInput) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = required_text(&mut e, "name", "姓名", &input.name, 40);
        let department_id =
            parse_optional_id(&mut e, "department_id", "所在部门", &input.department_id);
        let position = optional_line(&mut e, "position", "职务", &input.position, 100);
        let phone = if input.phone.trim().is_empty() {
            None
        } else {
            Phone::parse(&input.phone)
                .map_err(|m| e.add("phone", m))
                .ok()
        };
        let id_number = if input.id_number.trim().is_empty() {
            None
        } else {
            crate::id_number::IdNumber::parse(&input.id_number)
                .map_err(|m| e.add("id_number", m.to_string()))
                .ok()
        };
        e.into_result(|| NewPerson {
            name,
            department_id,
            position,
            phone,
            id_number,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LeadershipInput {
    pub name: String,
    pub rank: String,
    pub post: String,
    pub sort_order: String,
}

/// A member of the 领导小组 with the post (职务) the plan lists beside the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewLeadershipMember {
    pub name: String,
    pub rank: LeadershipRank,
    pub post: String,
    pub sort_order: i64,
}

impl NewLeadershipMember {
    pub fn parse(input: &LeadershipInput) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = required_text(&mut e, "name", "姓名", &input.name, 40);
        let rank = LeadershipRank::from_code(input.rank.trim());
        if rank.is_none() {
            e.add("rank", "请选择组内职务：组长、副组长或组员");
        }
        let post = required_text(&mut e, "post", "职务", &input.post, 100);
        let sort_order = parse_sort_order(&mut e, &input.sort_order);
        e.into_result(|| NewLeadershipMember {
            name,
            rank: rank.expect("checked"),
            post,
            sort_order,
        })
    }
}

fn parse_optional_id(e: &mut FieldErrors, field: &str, label: &str, raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i64>() {
        Ok(v) if v > 0 => Some(v),
        _ => {
            e.add(field, format!("{label}选择无效"));
            None
        }
    }
}

fn parse_sort_order(e: &mut FieldErrors, raw: &str) -> i64 {
    let raw = raw.trim();
    if raw.is_empty() {
        return 0;
    }
    match raw.parse::<i64>() {
        Ok(v) if (0..=9999).contains(&v) => v,
        _ => {
            e.add("sort_order", "排序须为 0–9999 之间的整数");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency_input() -> AgencyInput {
        AgencyInput {
            name: "朱堂乡人民政府".into(),
            slug: "zhutang".into(),
            kind: "administrative_organ".into(),
            credit_code: "114115210055512343".into(),
            legal_basis: "《中华人民共和国行政处罚法》第二十四条".into(),
            address: String::new(),
            parent_id: String::new(),
            crypto: String::new(),
        }
    }

    #[test]
    fn valid_agency_parses() {
        let a = NewAgency::parse(&agency_input()).unwrap();
        assert_eq!(a.kind.label(), "行政机关");
        assert_eq!(a.parent_id, None);
        assert_eq!(a.crypto, None);
    }

    #[test]
    fn the_cryptography_is_a_choice_of_two_named_in_chinese() {
        for (code, want) in [
            ("guomi", Crypto::Guomi),
            (" international ", Crypto::International),
        ] {
            let a = NewAgency::parse(&AgencyInput {
                crypto: code.into(),
                ..agency_input()
            })
            .unwrap();
            assert_eq!(a.crypto, Some(want));
        }
        assert_eq!(Crypto::Guomi.label(), "国密（SM2/SM3）");
        assert_eq!(Crypto::International.label(), "国际算法（Ed25519/SHA-256）");
        for bad in ["sm3", "GUOMI", "rsa"] {
            let e = NewAgency::parse(&AgencyInput {
                crypto: bad.into(),
                ..agency_input()
            })
            .unwrap_err();
            assert!(
                e.get("crypto").unwrap().contains("国密（SM2/SM3）"),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let input = AgencyInput {
            name: " ".into(),
            slug: "Zhu Tang".into(),
            kind: "king".into(),
            credit_code: "114115210055512344".into(),
            legal_basis: String::new(),
            address: String::new(),
            parent_id: "abc".into(),
            crypto: "des".into(),
        };
        let e = NewAgency::parse(&input).unwrap_err();
        for f in [
            "name",
            "slug",
            "kind",
            "credit_code",
            "legal_basis",
            "parent_id",
            "crypto",
        ] {
            assert!(e.get(f).is_some(), "no error for {f}: {e}");
        }
        assert!(e.get("credit_code").unwrap().contains("校验位"));
    }

    #[test]
    fn phone_rules() {
        assert!(Phone::parse("13800138000").is_ok());
        assert!(Phone::parse("0376-7123456").is_ok());
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("<script>").is_err());
    }

    #[test]
    fn leadership_member_requires_known_rank() {
        let e = NewLeadershipMember::parse(&LeadershipInput {
            name: "郭志鑫".into(),
            rank: "chief".into(),
            post: "党委副书记".into(),
            sort_order: "".into(),
        })
        .unwrap_err();
        assert!(e.get("rank").is_some());
    }

    #[test]
    fn over_long_text_is_refused() {
        let mut input = agency_input();
        input.name = "很".repeat(101);
        assert!(NewAgency::parse(&input).unwrap_err().get("name").is_some());
    }
}
