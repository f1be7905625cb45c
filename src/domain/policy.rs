//! Who may do what, as pure rules: roles, the scope each non-admin user is bound to, and the
//! matrix of actions. Services ask; handlers map the answer to 401/403/404.

use crate::domain::vocab::vocabulary;

vocabulary! {
    /// A user's role.
    Role {
        /// 系统管理员: everything, everywhere
        Admin = "admin",
        /// 检验技术员: reception, plates, imports — in their lab
        LabTechnician = "lab_technician",
        /// 审核员: reviews and releases results — in their lab
        LabReviewer = "lab_reviewer",
        /// 疾控复核员: confirms positives — in their region
        CdcReviewer = "cdc_reviewer",
        /// 采样员: accession — at their collection site
        Collector = "collector",
        /// 单位管理员: routine testing of their institution's staff
        InstitutionAdmin = "institution_admin",
        /// 审计员: reads everything, changes nothing
        Auditor = "auditor",
        /// 区域督查员: the routine-testing compliance of the institutions of their region
        RegionalInspector = "regional_inspector",
        /// 卫生健康主管部门: the labs of their region — accreditation records, the public list
        HealthAuthority = "health_authority",
    }
}

/// What a user is bound to (ids are database ids, codes for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Lab { id: i64, code: String },
    Site { id: i64, code: String },
    Institution { id: i64, code: String },
    Region(String),
}

impl Role {
    /// The kind of scope a user of this role must be bound to.
    pub fn scope_kind(self) -> Option<&'static str> {
        match self {
            Self::Admin | Self::Auditor => None,
            Self::LabTechnician | Self::LabReviewer => Some("lab"),
            Self::CdcReviewer | Self::RegionalInspector | Self::HealthAuthority => Some("region"),
            Self::Collector => Some("site"),
            Self::InstitutionAdmin => Some("institution"),
        }
    }
}

/// The things a user may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Registry: labs, sites, institutions, settings, barcode batches.
    ManageRegistry,
    ViewRegistry,
    ManageUsers,
    RegisterPerson,
    ViewPerson,
    /// See a person's ID number, name and phone in full (every such view is audited).
    ViewUnmasked,
    /// Open a tube, scan people into it, close it.
    Accession,
    ViewTube,
    /// Scan a tube in at a lab, reject it.
    Reception,
    ViewResampling,
    ViewAudit,
    /// Add a kit or a new version of one.
    ManageKits,
    ViewKits,
    /// Create plates, put tubes into wells, import instrument results.
    RunPlates,
    /// Read plates, their wells, imports and automatic calls.
    ViewPlates,
    /// Decide on called attempts: release, re-test, re-extract, re-run, re-sample; amend results.
    Review,
    /// Read the review queue, re-checks and released results of a lab.
    ViewReview,
    /// Confirm or reject positives (疾控复核).
    CdcReview,
    ViewCdc,
    /// Read a person's results and current status.
    ViewStatus,
    /// Testing programmes: add a version of one, add a staff class.
    ManageProgrammes,
    /// An institution's staff: upload rosters, record joins, leaves and class changes.
    ManageStaff,
    /// An institution's ledger (台账): its staff, masked, with their state.
    ViewLedger,
    /// The compliance of a region's institutions.
    ViewCompliance,
    /// Load a cohort (close contacts, arrivals, discharged patients) with its anchors.
    ManageCohorts,
    /// A cohort's follow-up: who is due, who missed a test.
    ViewCohorts,
    /// Record a lab's licences, EQA rounds and penalties; publish it or withdraw it.
    ManageAccreditation,
    /// Read a lab's accreditation record and its listing history.
    ViewAccreditation,
}

/// Whether `role` may do `action` at all (the scope is checked against the object).
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        ManageRegistry | ManageUsers => role == Admin,
        ViewRegistry => true,
        RegisterPerson => matches!(role, Admin | Collector | InstitutionAdmin),
        ViewPerson => matches!(role, Admin | Auditor | Collector | InstitutionAdmin),
        ViewUnmasked => matches!(role, Admin | LabReviewer | CdcReviewer),
        Accession => matches!(role, Admin | Collector),
        ViewTube => matches!(
            role,
            Admin | Auditor | Collector | LabTechnician | LabReviewer | CdcReviewer
        ),
        Reception => matches!(role, Admin | LabTechnician),
        ViewResampling => matches!(
            role,
            Admin | Auditor | Collector | LabTechnician | LabReviewer
        ),
        ViewAudit => matches!(role, Admin | Auditor | LabReviewer),
        ManageKits => role == Admin,
        ViewKits => matches!(
            role,
            Admin | Auditor | LabTechnician | LabReviewer | CdcReviewer
        ),
        RunPlates => matches!(role, Admin | LabTechnician),
        ViewPlates => matches!(role, Admin | Auditor | LabTechnician | LabReviewer),
        Review => matches!(role, Admin | LabReviewer),
        ViewReview => matches!(role, Admin | Auditor | LabTechnician | LabReviewer),
        CdcReview => matches!(role, Admin | CdcReviewer),
        ViewCdc => matches!(role, Admin | Auditor | CdcReviewer),
        ViewStatus => matches!(
            role,
            Admin | Auditor | LabTechnician | LabReviewer | CdcReviewer | InstitutionAdmin
        ),
        ManageProgrammes => role == Admin,
        ManageStaff => matches!(role, Admin | InstitutionAdmin),
        ViewLedger => matches!(role, Admin | Auditor | InstitutionAdmin | RegionalInspector),
        ViewCompliance => matches!(role, Admin | Auditor | RegionalInspector),
        ManageCohorts => matches!(role, Admin | CdcReviewer),
        ViewCohorts => matches!(role, Admin | Auditor | CdcReviewer | RegionalInspector),
        ManageAccreditation => matches!(role, Admin | HealthAuthority),
        ViewAccreditation => matches!(
            role,
            Admin | Auditor | HealthAuthority | LabTechnician | LabReviewer
        ),
    }
}

/// Where a tube is, for scope checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TubePlace<'a> {
    pub site_id: i64,
    /// The lab that received it, or else the lab its site sends to.
    pub lab_id: Option<i64>,
    pub region: &'a str,
}

/// Whether a scope covers something of a region (a cohort): everywhere, or a region scope whose
/// code prefixes it.
pub fn covers_region(scope: &Scope, region: &str) -> bool {
    match scope {
        Scope::Everywhere => true,
        Scope::Region(r) => !r.is_empty() && region.starts_with(r.as_str()),
        _ => false,
    }
}

/// Whether a scope covers an institution (in `region`).
pub fn covers_institution(scope: &Scope, id: i64, region: &str) -> bool {
    match scope {
        Scope::Everywhere => true,
        Scope::Institution { id: own, .. } => *own == id,
        Scope::Region(r) => !r.is_empty() && region.starts_with(r.as_str()),
        Scope::Lab { .. } | Scope::Site { .. } => false,
    }
}

/// Whether a scope covers a lab (in `region`): its own staff, its region's authority.
pub fn covers_lab(scope: &Scope, id: i64, region: &str) -> bool {
    match scope {
        Scope::Everywhere => true,
        Scope::Lab { id: own, .. } => *own == id,
        Scope::Region(r) => !r.is_empty() && region.starts_with(r.as_str()),
        Scope::Institution { .. } | Scope::Site { .. } => false,
    }
}

/// Whether a scope covers a tube.
pub fn covers_tube(scope: &Scope, tube: TubePlace<'_>) -> bool {
    match scope {
        Scope::Everywhere => true,
        Scope::Site { id, .. } => *id == tube.site_id,
        Scope::Lab { id, .. } => Some(*id) == tube.lab_id,
        Scope::Region(r) => tube.region.starts_with(r.as_str()),
        Scope::Institution { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_and_auditors_change_nothing() {
        for role in Role::ALL {
            assert_eq!(allowed(*role, Action::ManageRegistry), *role == Role::Admin);
            assert_eq!(allowed(*role, Action::ManageUsers), *role == Role::Admin);
        }
        for a in [Action::Accession, Action::Reception, Action::RegisterPerson] {
            assert!(!allowed(Role::Auditor, a));
        }
        assert!(allowed(Role::Auditor, Action::ViewTube));
    }

    #[test]
    fn collectors_accession_technicians_receive() {
        assert!(allowed(Role::Collector, Action::Accession));
        assert!(!allowed(Role::Collector, Action::Reception));
        assert!(allowed(Role::LabTechnician, Action::Reception));
        assert!(!allowed(Role::LabTechnician, Action::Accession));
        assert!(!allowed(Role::InstitutionAdmin, Action::ViewTube));
    }

    #[test]
    fn scopes_cover_their_own_tubes_only() {
        let t = TubePlace {
            site_id: 3,
            lab_id: Some(7),
            region: "110108",
        };
        assert!(covers_tube(&Scope::Everywhere, t));
        assert!(covers_tube(
            &Scope::Site {
                id: 3,
                code: "S".into()
            },
            t
        ));
        assert!(!covers_tube(
            &Scope::Site {
                id: 4,
                code: "S".into()
            },
            t
        ));
        assert!(covers_tube(
            &Scope::Lab {
                id: 7,
                code: "L".into()
            },
            t
        ));
        assert!(!covers_tube(
            &Scope::Lab {
                id: 8,
                code: "L".into()
            },
            t
        ));
        assert!(covers_tube(&Scope::Region("1101".into()), t));
        assert!(!covers_tube(&Scope::Region("3101".into()), t));
        let unrouted = TubePlace { lab_id: None, ..t };
        assert!(!covers_tube(
            &Scope::Lab {
                id: 7,
                code: "L".into()
            },
            unrouted
        ));
    }
}
