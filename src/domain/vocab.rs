//! The lab's fixed vocabularies: tube kinds, sample types, population categories, priorities,
//! payers. Each is stored and exchanged by its snake_case code.

/// Defines a closed vocabulary: a `Copy` enum with stable snake_case codes, parsing and listing.
macro_rules! vocabulary {
    ($(#[doc = $doc:literal])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $code)] $variant),+ }

        // The API document lists the codes as they go over the wire (a derived schema would
        // list the Rust variant names).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc),*];
                let doc = doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n");
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description((!doc.is_empty()).then_some(doc))
                    .enum_values(Some([$($code),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// A stored code, decoded strictly: a code the vocabulary does not know is an error,
        /// never another value.
        impl TryFrom<String> for $name {
            type Error = $crate::domain::vocab::UnknownCode;

            fn try_from(code: String) -> Result<Self, Self::Error> {
                Self::parse(&code).ok_or_else(|| $crate::domain::vocab::UnknownCode {
                    vocabulary: stringify!($name),
                    code,
                    known: &[$($code),+],
                })
            }
        }
    };
}

/// A code that is not in its vocabulary (a stored value natlis did not write, or wrote with
/// a vocabulary it no longer has).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode {
    pub vocabulary: &'static str,
    pub code: String,
    pub known: &'static [&'static str],
}

impl std::fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not a {} code (known: {})",
            self.code,
            self.vocabulary,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownCode {}
pub(crate) use vocabulary;

vocabulary! {
    /// How a tube was sampled.
    TubeKind {
        /// 单采 one person, one tube
        Single = "single",
        /// 混采 pooled tube: 5, 10 or 20 people in one tube
        Pool = "pool",
        /// 环境/物品样本 a sample not from a person (surface, cold-chain food or packaging)
        Environment = "environment",
    }
}

vocabulary! {
    /// 样本类型 specimen type.
    SampleType {
        /// 口咽拭子
        Oropharyngeal = "oropharyngeal",
        /// 鼻咽拭子
        Nasopharyngeal = "nasopharyngeal",
        /// 鼻拭子 (前鼻)
        AnteriorNasal = "anterior_nasal",
        /// 环境表面
        EnvironmentSurface = "environment_surface",
        /// 冷链食品
        ColdChainFood = "cold_chain_food",
        /// 冷链外包装
        ColdChainPackaging = "cold_chain_packaging",
    }
}

impl SampleType {
    /// Whether this specimen comes from an object rather than a person.
    pub fn is_environmental(self) -> bool {
        matches!(
            self,
            Self::EnvironmentSurface | Self::ColdChainFood | Self::ColdChainPackaging
        )
    }
}

vocabulary! {
    /// 人群分类: the 应检尽检 groups, tested at public expense, and 愿检尽检 voluntary testing.
    Category {
        /// 密切接触者
        CloseContact = "close_contact",
        /// 密接的密接
        SecondaryContact = "secondary_contact",
        /// 入境人员
        InboundTraveller = "inbound_traveller",
        /// 中高风险地区来返人员
        KeyAreaArrival = "key_area_arrival",
        /// 发热门诊患者
        FeverClinic = "fever_clinic",
        /// 急诊患者
        Emergency = "emergency",
        /// 新住院患者及陪护人员
        Inpatient = "inpatient",
        /// 门诊患者
        Outpatient = "outpatient",
        /// 医疗机构工作人员
        MedicalStaff = "medical_staff",
        /// 口岸检疫和边防检查人员
        PortStaff = "port_staff",
        /// 监所工作人员
        PrisonStaff = "prison_staff",
        /// 养老机构工作人员
        CareHomeStaff = "care_home_staff",
        /// 冷链从业人员
        ColdChainWorker = "cold_chain_worker",
        /// 隔离人员
        Isolated = "isolated",
        /// 其他重点人群
        OtherKey = "other_key",
        /// 区域全员检测 region-wide screening round
        MassScreening = "mass_screening",
        /// 愿检尽检 voluntary testing
        Voluntary = "voluntary",
    }
}

impl Category {
    /// 应检尽检: tested at public expense.
    pub fn is_key_population(self) -> bool {
        !matches!(self, Self::MassScreening | Self::Voluntary)
    }

    /// The turnaround priority this category gets by default.
    pub fn priority(self) -> Priority {
        match self {
            Self::FeverClinic | Self::Emergency => Priority::Urgent,
            Self::MassScreening | Self::Voluntary => Priority::Routine,
            _ => Priority::Standard,
        }
    }
}

vocabulary! {
    /// Turnaround priority; its deadline is counted from collection.
    Priority {
        /// 发热门诊、急诊: 6 h
        Urgent = "urgent",
        /// 重点人群、门诊、住院: 12 h
        Standard = "standard",
        /// 愿检尽检、区域全员: 24 h
        Routine = "routine",
    }
}

impl Priority {
    /// Default deadline in hours from collection (configurable deadlines arrive with the
    /// turnaround work; these are the defaults of the regional guides).
    pub fn default_deadline_hours(self) -> i64 {
        match self {
            Self::Urgent => 6,
            Self::Standard => 12,
            Self::Routine => 24,
        }
    }
}

vocabulary! {
    /// Who pays for the test.
    Payer {
        /// 财政/医保 public funds
        Public = "public",
        /// 个人自费
        SelfPay = "self",
        /// 单位 the employer or institution
        Employer = "employer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_serde() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.as_str().into())
            );
        }
        for s in SampleType::ALL {
            assert_eq!(SampleType::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Payer::parse("self"), Some(Payer::SelfPay));
        assert_eq!(TubeKind::parse("pooled"), None);
    }

    #[test]
    fn an_unknown_stored_code_is_an_error_that_names_it() {
        assert_eq!(TubeKind::try_from("pool".to_string()), Ok(TubeKind::Pool));
        let e = TubeKind::try_from("pooled".to_string()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"pooled\" is not a TubeKind code (known: single, pool, environment)"
        );
        for c in Category::ALL {
            assert_eq!(Category::try_from(c.as_str().to_string()), Ok(*c));
        }
    }

    #[test]
    fn priorities_follow_the_regional_guides() {
        assert_eq!(Category::FeverClinic.priority().default_deadline_hours(), 6);
        assert_eq!(
            Category::ColdChainWorker
                .priority()
                .default_deadline_hours(),
            12
        );
        assert_eq!(Category::Voluntary.priority().default_deadline_hours(), 24);
        assert!(Category::CloseContact.is_key_population());
        assert!(!Category::Voluntary.is_key_population());
    }
}
