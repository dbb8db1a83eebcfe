//! Roles and the one place where access is decided.
//!
//! Every handler asks [`Principal::authorize`] with a [`Capability`] and the [`Scope`] of
//! the data it touches; nothing else grants or denies access.

use serde::Serialize;

/// A role of the plan's organisation, or one of the three separated administrator roles
/// (三员) that 等保 2.0 level 3 asks of the system itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员 — organisation, accounts, lists, credentials (code `admin`, as stored
    /// before the 三员 were separated).
    Admin,
    /// 安全管理员 — grants the roles that carry authority over others' work.
    SecurityAdmin,
    /// 审计管理员 — reads the audit trail.
    AuditAdmin,
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
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::SecurityAdmin,
        Role::AuditAdmin,
        Role::Officer,
        Role::DepartmentHead,
        Role::LegalReviewer,
        Role::Leader,
        Role::Supervisor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SecurityAdmin => "security_admin",
            Role::AuditAdmin => "audit_admin",
            Role::Officer => "officer",
            Role::DepartmentHead => "department_head",
            Role::LegalReviewer => "legal_reviewer",
            Role::Leader => "leader",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::SecurityAdmin => "安全管理员",
            Role::AuditAdmin => "审计管理员",
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

    /// One of the three separated administrator roles (三员: 系统管理员, 安全管理员,
    /// 审计管理员) — GB/T 22239-2019 8.1.4.2 d) 应授予管理用户所需的最小权限，实现管理用户
    /// 的权限分离; 8.1.5.1–8.1.5.3 give each its own duties.
    pub fn is_administrator(self) -> bool {
        matches!(self, Role::Admin | Role::SecurityAdmin | Role::AuditAdmin)
    }

    /// Roles with authority over others' work (法制审核, 乡领导's approvals, 执法监督):
    /// granting or withdrawing them is an authorisation of subjects, the 安全管理员's duty
    /// (GB/T 22239-2019 8.1.5.3 a) 应通过安全管理员对主体进行授权).
    pub fn needs_security_admin(self) -> bool {
        matches!(self, Role::Leader | Role::LegalReviewer | Role::Supervisor)
    }
}

/// Why a set of roles, or a change of an account's roles, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleRefusal {
    #[error(
        "一个账号不能同时担任“{0}”和“{1}”：系统管理员、安全管理员、审计管理员须由不同账号担任（三员分立）"
    )]
    TwoAdministratorRoles(&'static str, &'static str),
    #[error("担任“{0}”的账号不能同时担任业务角色“{1}”：三员须专职，不办理业务")]
    AdministratorWithBusinessRole(&'static str, &'static str),
    #[error("不能修改自己的角色，请由其他管理员办理")]
    OwnRoles,
    #[error("授予或取消“{0}”角色须由安全管理员办理")]
    NeedsSecurityAdmin(&'static str),
    #[error("您无权授予或取消“{0}”角色")]
    NotGrantable(&'static str),
    #[error(
        "“{0}”账号的密码不能由他人在系统中重置（否则可冒用其职权）：请本人在“修改本人密码”中修改，忘记时由服务器操作员运行 zhifa user passwd 重置（记入日志）"
    )]
    AdministratorPassword(&'static str),
}

/// Whether an account may hold `roles` together: at most one of the 三员, and a 三员
/// holds no business role (GB/T 22239-2019 8.1.4.2 d) 权限分离; 8.1.7.2 应配备专职安全
/// 管理员). Checked by the store before any account's roles are written.
pub fn check_role_set(roles: &[Role]) -> Result<(), RoleRefusal> {
    let mut admin: Option<Role> = None;
    let mut business: Option<Role> = None;
    for &r in roles {
        if r.is_administrator() {
            match admin {
                Some(a) if a != r => {
                    let (a, b) = if a < r { (a, r) } else { (r, a) };
                    return Err(RoleRefusal::TwoAdministratorRoles(a.label(), b.label()));
                }
                _ => admin = Some(r),
            }
        } else {
            business.get_or_insert(r);
        }
    }
    match (admin, business) {
        (Some(a), Some(b)) => Err(RoleRefusal::AdministratorWithBusinessRole(
            a.label(),
            b.label(),
        )),
        _ => Ok(()),
    }
}

/// Something a user may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Create and edit agencies, departments, people and the leadership group.
    ManageOrganisation,
    /// Create accounts, disable them, reset passwords.
    ManageAccounts,
    /// See accounts and change their roles (which roles: [`Principal::may_grant`]).
    ManageRoles,
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
    pub const ALL: [Capability; 10] = [
        Capability::ViewCases,
        Capability::HandleCases,
        Capability::ManageOrganisation,
        Capability::ManageAccounts,
        Capability::ManageRoles,
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
            Capability::ManageRoles => "manage_roles",
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
            Capability::ManageAccounts => "管理账号（新建、重置密码、停用）",
            Capability::ManageRoles => "分配账号角色",
            Capability::ViewDepartmentStaff => "查看本部门人员及联系方式",
            Capability::ViewAgencyStaff => "查看本单位全体人员及联系方式",
            Capability::ViewAuditLog => "查阅审计记录（变更、登录与越权访问）",
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
            // The 系统管理员 sets accounts up, the 安全管理员 authorises them
            // (GB/T 22239-2019 8.1.5.1, 8.1.5.3); which roles each may change is
            // `Principal::may_grant`.
            ManageRoles => matches!(role, Admin | SecurityAdmin),
            ViewDepartmentStaff => true,
            ViewAgencyStaff => matches!(role, Admin | Leader | Supervisor | LegalReviewer),
            // 审计管理员 (GB/T 22239-2019 8.1.5.2 应通过审计管理员对审计记录进行分析) and the
            // 执法监督 of the plan; the 系统管理员 does not read the record of its own acts.
            ViewAuditLog => matches!(role, AuditAdmin | Supervisor),
            // The 三员 manage the system and read no business data.
            ViewCases => !role.is_administrator(),
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

    /// Whether this principal sees the system's alerts (a tampered row, a rolled-back
    /// log) on the home page: the three administrators and the 监督人员.
    pub fn sees_system_alerts(&self) -> bool {
        self.roles
            .iter()
            .any(|r| r.is_administrator() || *r == Role::Supervisor)
    }

    /// Whether this principal may grant or withdraw `role` (what the roles form offers
    /// and what [`Principal::check_role_change`] accepts). Roles with authority over
    /// others' work need the 安全管理员 (GB/T 22239-2019 8.1.5.3 a)); the others, the 三员
    /// included, may also be set by the 系统管理员, who sets accounts up (8.1.5.1) — an
    /// installation starts with one 系统管理员 (`zhifa init`), who names the other two.
    pub fn may_grant(&self, role: Role) -> bool {
        if role.needs_security_admin() {
            self.has_role(Role::SecurityAdmin)
        } else {
            self.can(Capability::ManageRoles)
        }
    }

    /// The rule for changing the roles of an account (`target`, or a new one when
    /// `None`) from `before` to `after`: nobody changes their own roles (权限分离,
    /// GB/T 22239-2019 8.1.4.2 d) — no one widens or narrows their own authority); the
    /// new set must be allowed ([`check_role_set`]); each role added or removed must be
    /// one this principal may grant ([`Principal::may_grant`]).
    pub fn check_role_change(
        &self,
        target: Option<i64>,
        before: &[Role],
        after: &[Role],
    ) -> Result<(), RoleRefusal> {
        let changed: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| before.contains(r) != after.contains(r))
            .collect();
        if target == Some(self.user_id) && !changed.is_empty() {
            return Err(RoleRefusal::OwnRoles);
        }
        check_role_set(after)?;
        match changed.into_iter().find(|&r| !self.may_grant(r)) {
            Some(r) if r.needs_security_admin() => Err(RoleRefusal::NeedsSecurityAdmin(r.label())),
            Some(r) => Err(RoleRefusal::NotGrantable(r.label())),
            None => Ok(()),
        }
    }

    /// The rule for resetting another account's password (what the account page offers
    /// and what the server accepts): whoever knows an account's password holds its
    /// authority, so an account of the 三员 is never reset by another account — not even
    /// by another of the 三员, which would join two of their powers in one person
    /// (GB/T 22239-2019 8.1.4.2 d) 权限分离). Its holder changes it; a forgotten one is
    /// reset on the server (`zhifa user passwd`, written to the installation's log).
    pub fn check_password_reset(
        &self,
        target: i64,
        target_roles: &[Role],
    ) -> Result<(), RoleRefusal> {
        match target_roles.iter().find(|r| r.is_administrator()) {
            Some(r) if target != self.user_id => Err(RoleRefusal::AdministratorPassword(r.label())),
            _ => Ok(()),
        }
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
    fn no_one_resets_another_administrators_password() {
        let sysadmin = principal(&[Role::Admin], None);
        let security = principal(&[Role::SecurityAdmin], None);
        // Another account of the 三员: refused, whoever asks.
        for target in [Role::SecurityAdmin, Role::AuditAdmin, Role::Admin] {
            assert!(sysadmin.check_password_reset(2, &[target]).is_err());
            assert!(security.check_password_reset(2, &[target]).is_err());
        }
        let refused = sysadmin
            .check_password_reset(2, &[Role::AuditAdmin])
            .unwrap_err()
            .to_string();
        assert!(refused.contains("审计管理员") && refused.contains("zhifa user passwd"));
        // A business account, or one's own: allowed.
        assert!(
            sysadmin
                .check_password_reset(2, &[Role::Officer, Role::Leader])
                .is_ok()
        );
        assert!(sysadmin.check_password_reset(1, &[Role::Admin]).is_ok());
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

    // 三员 (GB/T 22239-2019 8.1.4.2 d), 8.1.5.1–8.1.5.3).

    #[test]
    fn no_account_holds_two_administrator_roles() {
        use Role::*;
        for (a, b) in [
            (Admin, SecurityAdmin),
            (Admin, AuditAdmin),
            (SecurityAdmin, AuditAdmin),
        ] {
            let e = check_role_set(&[b, a]).unwrap_err();
            assert_eq!(e, RoleRefusal::TwoAdministratorRoles(a.label(), b.label()));
            assert!(e.to_string().contains("三员分立"), "{e}");
        }
        for r in [Admin, SecurityAdmin, AuditAdmin] {
            assert_eq!(check_role_set(&[r, r]), Ok(()));
        }
    }

    #[test]
    fn an_administrator_holds_no_business_role() {
        use Role::*;
        for admin in [Admin, SecurityAdmin, AuditAdmin] {
            for business in Role::ALL.into_iter().filter(|r| !r.is_administrator()) {
                assert_eq!(
                    check_role_set(&[admin, business]),
                    Err(RoleRefusal::AdministratorWithBusinessRole(
                        admin.label(),
                        business.label()
                    ))
                );
            }
        }
        assert_eq!(check_role_set(&[DepartmentHead, Officer, Leader]), Ok(()));
        assert_eq!(check_role_set(&[]), Ok(()));
    }

    #[test]
    fn nobody_changes_their_own_roles() {
        let mut p = principal(&[Role::SecurityAdmin], None);
        p.user_id = 7;
        let own = &[Role::SecurityAdmin];
        assert_eq!(
            p.check_role_change(Some(7), own, &[]),
            Err(RoleRefusal::OwnRoles)
        );
        assert_eq!(
            p.check_role_change(Some(7), own, &[Role::SecurityAdmin, Role::Leader]),
            Err(RoleRefusal::OwnRoles)
        );
        // Saving the same roles changes nothing and is no change of one's own roles.
        assert_eq!(p.check_role_change(Some(7), own, own), Ok(()));
        assert_eq!(p.check_role_change(Some(8), &[], &[Role::Leader]), Ok(()));
    }

    #[test]
    fn roles_of_authority_need_the_security_admin() {
        let system = principal(&[Role::Admin], None);
        let security = principal(&[Role::SecurityAdmin], None);
        let audit = principal(&[Role::AuditAdmin], None);
        for r in [Role::Leader, Role::LegalReviewer, Role::Supervisor] {
            assert!(!system.may_grant(r) && security.may_grant(r) && !audit.may_grant(r));
            assert_eq!(
                system.check_role_change(Some(2), &[Role::Officer], &[Role::Officer, r]),
                Err(RoleRefusal::NeedsSecurityAdmin(r.label()))
            );
            // Withdrawing is the same authority as granting.
            assert_eq!(
                system.check_role_change(Some(2), &[r], &[]),
                Err(RoleRefusal::NeedsSecurityAdmin(r.label()))
            );
            assert_eq!(security.check_role_change(Some(2), &[], &[r]), Ok(()));
            assert_eq!(security.check_role_change(None, &[], &[r]), Ok(()));
        }
        for r in [
            Role::Officer,
            Role::DepartmentHead,
            Role::Admin,
            Role::SecurityAdmin,
            Role::AuditAdmin,
        ] {
            assert!(system.may_grant(r) && security.may_grant(r) && !audit.may_grant(r));
            assert_eq!(
                audit.check_role_change(Some(2), &[], &[r]),
                Err(RoleRefusal::NotGrantable(r.label()))
            );
        }
        // A role the principal cannot grant, kept as it was, does not block the others.
        assert_eq!(
            system.check_role_change(Some(2), &[Role::Leader], &[Role::Leader, Role::Officer]),
            Ok(())
        );
        // The set rule comes first: two 三员 roles are refused whoever grants them.
        assert_eq!(
            security.check_role_change(Some(2), &[], &[Role::Admin, Role::AuditAdmin]),
            Err(RoleRefusal::TwoAdministratorRoles(
                Role::Admin.label(),
                Role::AuditAdmin.label()
            ))
        );
    }

    #[test]
    fn the_audit_trail_is_read_by_the_audit_admin_and_supervisors_only() {
        let agency = Scope::Agency(agency(10, &[]));
        for r in Role::ALL {
            let p = principal(&[r], None);
            assert_eq!(
                p.authorize(Capability::ViewAuditLog, &agency).is_ok(),
                matches!(r, Role::AuditAdmin | Role::Supervisor),
                "{r:?}"
            );
            // The 三员 read no cases; the 安全管理员 and 审计管理员 manage nothing else.
            if r.is_administrator() {
                assert!(p.authorize(Capability::ViewCases, &agency).is_err());
                assert!(p.sees_system_alerts());
            }
        }
        let security = principal(&[Role::SecurityAdmin], None);
        assert_eq!(
            security.capabilities(),
            vec![Capability::ManageRoles, Capability::ViewDepartmentStaff]
        );
        let audit = principal(&[Role::AuditAdmin], None);
        assert_eq!(
            audit.capabilities(),
            vec![Capability::ViewDepartmentStaff, Capability::ViewAuditLog]
        );
        assert!(!principal(&[Role::Officer], Some(3)).sees_system_alerts());
    }
}
