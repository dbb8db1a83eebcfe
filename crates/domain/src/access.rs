//! Roles and the one place where access is decided.
//!
//! Every handler asks [`Principal::authorize`] with a [`Capability`] and the [`Scope`] of
//! the data it touches; nothing else grants or denies access.

use serde::Serialize;

/// A role of the plan's organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 管理员
    Admin,
    /// 执法人员
    Officer,
    /// 部门负责人
    DepartmentHead,
    /// 法制审核人员
    LegalReviewer,
    /// 乡领导
    Leader,
    /// 监督人员
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Officer,
        Role::DepartmentHead,
        Role::LegalReviewer,
        Role::Leader,
        Role::Supervisor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::DepartmentHead => "department_head",
            Role::LegalReviewer => "legal_reviewer",
            Role::Leader => "leader",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "管理员",
            Role::Officer => "执法人员",
            Role::DepartmentHead => "部门负责人",
            Role::LegalReviewer => "法制审核人员",
            Role::Leader => "乡领导",
            Role::Supervisor => "监督人员",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Something a user may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Create and edit agencies, departments, people and the leadership group.
    ManageOrganisation,
    /// Create accounts, assign roles, disable accounts, reset passwords.
    ManageAccounts,
    /// See the staff of a department, with their internal phone numbers.
    ViewDepartmentStaff,
    /// See the staff of the whole agency.
    ViewAgencyStaff,
    /// Read the record of changes, logins and denials.
    ViewAuditLog,
    /// Register enforcement credentials and change their status.
    ManageCredentials,
    /// Maintain the published lists (执法事项清单 and the others).
    ManageLists,
    /// See cases: officers and department heads those of their department, the others
    /// all of the agency's.
    ViewCases,
    /// Open cases and act on them (which act, by whom, the procedure decides).
    HandleCases,
}

impl Capability {
    pub const ALL: [Capability; 9] = [
        Capability::ViewCases,
        Capability::HandleCases,
        Capability::ManageOrganisation,
        Capability::ManageAccounts,
        Capability::ManageCredentials,
        Capability::ManageLists,
        Capability::ViewDepartmentStaff,
        Capability::ViewAgencyStaff,
        Capability::ViewAuditLog,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Capability::ManageOrganisation => "manage_organisation",
            Capability::ManageAccounts => "manage_accounts",
            Capability::ViewDepartmentStaff => "view_department_staff",
            Capability::ViewAgencyStaff => "view_agency_staff",
            Capability::ViewAuditLog => "view_audit_log",
            Capability::ManageCredentials => "manage_credentials",
            Capability::ManageLists => "manage_lists",
            Capability::ViewCases => "view_cases",
            Capability::HandleCases => "handle_cases",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Capability::ManageOrganisation => "管理执法主体、承办机构、人员和领导小组",
            Capability::ManageAccounts => "管理账号与角色",
            Capability::ViewDepartmentStaff => "查看本部门人员及联系方式",
            Capability::ViewAgencyStaff => "查看本单位全体人员及联系方式",
            Capability::ViewAuditLog => "查阅操作与登录记录",
            Capability::ManageCredentials => "管理执法证件（登记、暂扣、注销）",
            Capability::ManageLists => "维护执法事项清单",
            Capability::ViewCases => "查看执法案件",
            Capability::HandleCases => "办理执法案件",
        }
    }

    /// Which roles hold the capability at all (scope is checked separately).
    fn granted_to(self, role: Role) -> bool {
        use Capability::*;
        use Role::*;
        match self {
            ManageOrganisation | ManageAccounts | ManageCredentials | ManageLists => role == Admin,
            ViewDepartmentStaff => true,
            ViewAgencyStaff => matches!(role, Admin | Leader | Supervisor | LegalReviewer),
            ViewAuditLog => matches!(role, Admin | Supervisor),
            ViewCases => role != Admin,
            HandleCases => matches!(role, Officer | DepartmentHead | LegalReviewer | Leader),
        }
    }

    /// Roles whose grant of this capability reaches every department of the agency;
    /// the others reach only their own department.
    fn agency_wide(role: Role) -> bool {
        !matches!(role, Role::Officer | Role::DepartmentHead)
    }
}

/// The agency a resource belongs to, with that agency's ancestors (nearest first), so that
/// a county's administrator reaches its townships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyScope {
    pub agency_id: i64,
    pub ancestors: Vec<i64>,
}

impl AgencyScope {
    pub fn contains_agency_of(&self, principal_agency: i64) -> bool {
        self.agency_id == principal_agency || self.ancestors.contains(&principal_agency)
    }
}

/// Where the data touched by a request lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Agency(AgencyScope),
    Department {
        agency: AgencyScope,
        department_id: i64,
    },
}

/// The signed-in user, as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub agency_id: i64,
    pub department_id: Option<i64>,
    pub roles: Vec<Role>,
}

/// A refused request, recorded by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("无权执行此操作：{capability:?}")]
pub struct Denied {
    pub capability: Capability,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether any role grants `capability` somewhere (used to build menus).
    pub fn can(&self, capability: Capability) -> bool {
        self.roles.iter().any(|&r| capability.granted_to(r))
    }

    /// The single access decision.
    pub fn authorize(&self, capability: Capability, scope: &Scope) -> Result<(), Denied> {
        let denied = Denied { capability };
        let agency = match scope {
            Scope::Agency(a) | Scope::Department { agency: a, .. } => a,
        };
        let in_agency = agency.contains_agency_of(self.agency_id);
        let allowed = self.roles.iter().any(|&role| {
            if !capability.granted_to(role) || !in_agency {
                return false;
            }
            match scope {
                Scope::Agency(a) => {
                    // Department-bound roles never act agency-wide, and only the
                    // principal's own agency or its descendants are reachable.
                    Capability::agency_wide(role) && a.contains_agency_of(self.agency_id)
                }
                Scope::Department {
                    agency,
                    department_id,
                } => {
                    Capability::agency_wide(role)
                        || (agency.agency_id == self.agency_id
                            && self.department_id == Some(*department_id))
                }
            }
        });
        if allowed { Ok(()) } else { Err(denied) }
    }

    /// Capabilities this principal holds, for the home page.
    pub fn capabilities(&self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|&c| self.can(c))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role], dept: Option<i64>) -> Principal {
        Principal {
            user_id: 1,
            username: "u".into(),
            display_name: "U".into(),
            agency_id: 10,
            department_id: dept,
            roles: roles.to_vec(),
        }
    }

    fn agency(id: i64, ancestors: &[i64]) -> AgencyScope {
        AgencyScope {
            agency_id: id,
            ancestors: ancestors.to_vec(),
        }
    }

    #[test]
    fn officer_sees_own_department_only() {
        let p = principal(&[Role::Officer], Some(3));
        let own = Scope::Department {
            agency: agency(10, &[]),
            department_id: 3,
        };
        let other = Scope::Department {
            agency: agency(10, &[]),
            department_id: 4,
        };
        assert!(p.authorize(Capability::ViewDepartmentStaff, &own).is_ok());
        assert!(
            p.authorize(Capability::ViewDepartmentStaff, &other)
                .is_err()
        );
        assert!(
            p.authorize(
                Capability::ManageOrganisation,
                &Scope::Agency(agency(10, &[]))
            )
            .is_err()
        );
    }

    #[test]
    fn admin_reaches_child_agencies_but_not_parent_or_sibling() {
        let p = principal(&[Role::Admin], None);
        let child = Scope::Agency(agency(11, &[10, 1]));
        let parent = Scope::Agency(agency(1, &[]));
        let sibling = Scope::Agency(agency(12, &[1]));
        assert!(p.authorize(Capability::ManageOrganisation, &child).is_ok());
        assert!(
            p.authorize(Capability::ManageOrganisation, &parent)
                .is_err()
        );
        assert!(
            p.authorize(Capability::ManageOrganisation, &sibling)
                .is_err()
        );
    }

    #[test]
    fn no_roles_no_access() {
        let p = principal(&[], Some(3));
        for c in Capability::ALL {
            assert!(p.authorize(c, &Scope::Agency(agency(10, &[]))).is_err());
        }
        assert!(p.capabilities().is_empty());
    }

    #[test]
    fn leader_sees_all_departments_but_cannot_manage() {
        let p = principal(&[Role::Leader], None);
        let d = Scope::Department {
            agency: agency(10, &[]),
            department_id: 4,
        };
        assert!(p.authorize(Capability::ViewDepartmentStaff, &d).is_ok());
        assert!(p.authorize(Capability::ManageAccounts, &d).is_err());
    }
}
