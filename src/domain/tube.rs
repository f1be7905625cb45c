//! The life of a tube at the collection site and at reception, as pure rules:
//! open → (members scanned in) → closed → received, or rejected.

use super::vocab::{vocabulary, Category, SampleType, TubeKind};
use serde::{Deserialize, Serialize};

/// 采样描述 what an environment or cold-chain sample was taken from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Description {
    /// Product or surface, e.g. `冻带鱼外包装` or `冷库门把手`.
    pub item: String,
    #[serde(default)]
    pub lot: Option<String>,
    #[serde(default)]
    pub origin: Option<String>,
    /// Market, warehouse or place sampled.
    pub location: String,
    /// The registered sampling point (环境采样点) this swab answers, by its code.
    #[serde(default)]
    pub point: Option<String>,
}

vocabulary! {
    /// Where a tube stands in accession and reception.
    TubeStatus {
        /// 采样中 open for scanning people in
        Open = "open",
        /// 已封管 closed at the collection site
        Closed = "closed",
        /// 已接收 received by a lab
        Received = "received",
        /// 已拒收 rejected; its people must be re-sampled
        Rejected = "rejected",
    }
}

/// Site-level pooling rules (configurable; defaults from the regional guides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoolPolicy {
    /// Nominal pool sizes this site may use.
    pub allowed_sizes: Vec<u32>,
    /// Categories that must be single-sampled, single-tested (重点人群单采单检).
    pub single_only: Vec<Category>,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        Self {
            allowed_sizes: vec![5, 10, 20],
            single_only: Category::ALL
                .iter()
                .copied()
                .filter(|c| c.is_key_population())
                .collect(),
        }
    }
}

/// A rule of accession that a request breaks. Nothing has changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessionRule {
    #[error("a pool of {size} is not allowed here; allowed pool sizes are {allowed:?}")]
    PoolSizeNotAllowed { size: u32, allowed: Vec<u32> },
    #[error("a pooled tube needs its nominal size (one of {allowed:?})")]
    PoolSizeMissing { allowed: Vec<u32> },
    #[error("category {0} must be single-sampled (单采单检); open a single tube")]
    SingleSamplingRequired(Category),
    #[error("sample type {sample_type} does not fit a tube of kind {kind}")]
    SampleTypeMismatch {
        kind: TubeKind,
        sample_type: SampleType,
    },
    #[error("an environment or cold-chain sample needs a description (item, lot, origin, location) instead of people")]
    DescriptionMissing,
    #[error("an environment or cold-chain sample carries no people")]
    NoPeopleOnEnvironment,
    #[error("the tube is {0}, people can only be added to an open tube")]
    NotOpen(super::tube::TubeStatus),
    #[error("the tube is full: it holds {nominal} of {nominal}")]
    Full { nominal: u32 },
    #[error("this person is already in the tube")]
    AlreadyMember,
    #[error("the tube has nobody in it; scan at least one person before closing it")]
    Empty,
    #[error("the tube is {0}; only a closed tube can be received")]
    NotClosed(TubeStatus),
    #[error("the tube is {0} and cannot be rejected")]
    CannotReject(TubeStatus),
}

/// The facts about a tube the rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TubeState {
    pub kind: TubeKind,
    pub status: TubeStatus,
    pub nominal: u32,
    pub members: u32,
}

/// Checks a request to open a tube and returns its nominal size (1 for a single tube,
/// 0 for an environment sample, the pool size for a pooled tube).
pub fn open(
    kind: TubeKind,
    pool_size: Option<u32>,
    category: Category,
    sample_type: SampleType,
    has_description: bool,
    policy: &PoolPolicy,
) -> Result<u32, AccessionRule> {
    let environmental = sample_type.is_environmental();
    if environmental != (kind == TubeKind::Environment) {
        return Err(AccessionRule::SampleTypeMismatch { kind, sample_type });
    }
    match kind {
        TubeKind::Single => Ok(1),
        TubeKind::Environment if !has_description => Err(AccessionRule::DescriptionMissing),
        TubeKind::Environment => Ok(0),
        TubeKind::Pool => {
            if policy.single_only.contains(&category) {
                return Err(AccessionRule::SingleSamplingRequired(category));
            }
            let size = pool_size.ok_or_else(|| AccessionRule::PoolSizeMissing {
                allowed: policy.allowed_sizes.clone(),
            })?;
            if !policy.allowed_sizes.contains(&size) {
                return Err(AccessionRule::PoolSizeNotAllowed {
                    size,
                    allowed: policy.allowed_sizes.clone(),
                });
            }
            Ok(size)
        }
    }
}

/// What adding a person does to a tube.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The person's position in the tube (1-based).
    pub position: u32,
    /// The tube is now full and closes itself.
    pub closes: bool,
}

/// Checks adding one person to a tube.
pub fn add_member(state: TubeState, already_member: bool) -> Result<Added, AccessionRule> {
    if state.kind == TubeKind::Environment {
        return Err(AccessionRule::NoPeopleOnEnvironment);
    }
    if already_member {
        return Err(AccessionRule::AlreadyMember);
    }
    if state.status != TubeStatus::Open {
        return Err(if state.members >= state.nominal {
            AccessionRule::Full {
                nominal: state.nominal,
            }
        } else {
            AccessionRule::NotOpen(state.status)
        });
    }
    if state.members >= state.nominal {
        return Err(AccessionRule::Full {
            nominal: state.nominal,
        });
    }
    let position = state.members + 1;
    Ok(Added {
        position,
        closes: position == state.nominal,
    })
}

/// What closing a tube by hand records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    pub members: u32,
    /// Closed with fewer people than its nominal size (flagged).
    pub short: bool,
}

/// Checks closing a tube by hand with its actual count.
pub fn close(state: TubeState) -> Result<Closed, AccessionRule> {
    if state.status != TubeStatus::Open {
        return Err(AccessionRule::NotOpen(state.status));
    }
    if state.members == 0 && state.kind != TubeKind::Environment {
        return Err(AccessionRule::Empty);
    }
    Ok(Closed {
        members: state.members,
        short: state.members < state.nominal,
    })
}

/// Checks that a tube can be scanned in at a lab.
pub fn receive(status: TubeStatus) -> Result<(), AccessionRule> {
    match status {
        TubeStatus::Closed => Ok(()),
        other => Err(AccessionRule::NotClosed(other)),
    }
}

/// Checks that a tube can be rejected (at or after reception, before testing).
pub fn reject(status: TubeStatus) -> Result<(), AccessionRule> {
    match status {
        TubeStatus::Closed | TubeStatus::Received => Ok(()),
        other => Err(AccessionRule::CannotReject(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pool(status: TubeStatus, nominal: u32, members: u32) -> TubeState {
        TubeState {
            kind: TubeKind::Pool,
            status,
            nominal,
            members,
        }
    }

    #[test]
    fn opening_checks_kind_size_category_and_description() {
        let p = PoolPolicy::default();
        let oro = SampleType::Oropharyngeal;
        assert_eq!(
            open(
                TubeKind::Single,
                None,
                Category::CloseContact,
                oro,
                false,
                &p
            ),
            Ok(1)
        );
        assert_eq!(
            open(
                TubeKind::Pool,
                Some(10),
                Category::MassScreening,
                oro,
                false,
                &p
            ),
            Ok(10)
        );
        assert_eq!(
            open(
                TubeKind::Pool,
                Some(10),
                Category::CloseContact,
                oro,
                false,
                &p
            ),
            Err(AccessionRule::SingleSamplingRequired(
                Category::CloseContact
            ))
        );
        assert!(matches!(
            open(
                TubeKind::Pool,
                Some(30),
                Category::Voluntary,
                oro,
                false,
                &p
            ),
            Err(AccessionRule::PoolSizeNotAllowed { size: 30, .. })
        ));
        assert!(matches!(
            open(TubeKind::Pool, None, Category::Voluntary, oro, false, &p),
            Err(AccessionRule::PoolSizeMissing { .. })
        ));
        let food = SampleType::ColdChainFood;
        assert_eq!(
            open(
                TubeKind::Environment,
                None,
                Category::OtherKey,
                food,
                true,
                &p
            ),
            Ok(0)
        );
        assert_eq!(
            open(
                TubeKind::Environment,
                None,
                Category::OtherKey,
                food,
                false,
                &p
            ),
            Err(AccessionRule::DescriptionMissing)
        );
        assert!(matches!(
            open(TubeKind::Single, None, Category::Voluntary, food, false, &p),
            Err(AccessionRule::SampleTypeMismatch { .. })
        ));
        assert!(matches!(
            open(
                TubeKind::Environment,
                None,
                Category::Voluntary,
                oro,
                true,
                &p
            ),
            Err(AccessionRule::SampleTypeMismatch { .. })
        ));
    }

    #[test]
    fn a_site_may_narrow_its_pool_sizes_and_single_only_list() {
        let p = PoolPolicy {
            allowed_sizes: vec![10, 20],
            single_only: vec![],
        };
        let oro = SampleType::Oropharyngeal;
        assert!(open(TubeKind::Pool, Some(5), Category::Voluntary, oro, false, &p).is_err());
        assert_eq!(
            open(
                TubeKind::Pool,
                Some(20),
                Category::CloseContact,
                oro,
                false,
                &p
            ),
            Ok(20)
        );
    }

    #[test]
    fn a_pool_fills_and_closes_itself_at_its_nominal_size() {
        let mut s = pool(TubeStatus::Open, 5, 0);
        for i in 1..=5 {
            let a = add_member(s, false).unwrap();
            assert_eq!(a.position, i);
            assert_eq!(a.closes, i == 5);
            s.members = i;
        }
        s.status = TubeStatus::Closed;
        assert_eq!(
            add_member(s, false),
            Err(AccessionRule::Full { nominal: 5 })
        );
    }

    #[test]
    fn member_errors() {
        assert_eq!(
            add_member(pool(TubeStatus::Open, 10, 3), true),
            Err(AccessionRule::AlreadyMember)
        );
        assert_eq!(
            add_member(pool(TubeStatus::Closed, 10, 3), false),
            Err(AccessionRule::NotOpen(TubeStatus::Closed))
        );
        assert_eq!(
            add_member(pool(TubeStatus::Received, 10, 10), false),
            Err(AccessionRule::Full { nominal: 10 })
        );
        let env = TubeState {
            kind: TubeKind::Environment,
            status: TubeStatus::Open,
            nominal: 0,
            members: 0,
        };
        assert_eq!(
            add_member(env, false),
            Err(AccessionRule::NoPeopleOnEnvironment)
        );
    }

    #[test]
    fn closing_by_hand_records_a_short_pool() {
        assert_eq!(
            close(pool(TubeStatus::Open, 10, 7)),
            Ok(Closed {
                members: 7,
                short: true
            })
        );
        assert_eq!(
            close(pool(TubeStatus::Open, 10, 0)),
            Err(AccessionRule::Empty)
        );
        assert_eq!(
            close(pool(TubeStatus::Closed, 10, 10)),
            Err(AccessionRule::NotOpen(TubeStatus::Closed))
        );
    }

    #[test]
    fn reception_transitions() {
        assert_eq!(receive(TubeStatus::Closed), Ok(()));
        for s in [TubeStatus::Open, TubeStatus::Received, TubeStatus::Rejected] {
            assert_eq!(receive(s), Err(AccessionRule::NotClosed(s)));
        }
        assert_eq!(reject(TubeStatus::Closed), Ok(()));
        assert_eq!(reject(TubeStatus::Received), Ok(()));
        for s in [TubeStatus::Open, TubeStatus::Rejected] {
            assert_eq!(reject(s), Err(AccessionRule::CannotReject(s)));
        }
    }

    proptest! {
        /// However people are scanned, a tube never holds more than its nominal size, and a
        /// person is never in it twice.
        #[test]
        fn never_more_than_nominal(nominal in prop::sample::select(vec![1u32, 5, 10, 20]),
                                   scans in prop::collection::vec(0u32..25, 0..60)) {
            let mut members: Vec<u32> = vec![];
            let mut s = TubeState { kind: TubeKind::Pool, status: TubeStatus::Open, nominal, members: 0 };
            for person in scans {
                if let Ok(a) = add_member(s, members.contains(&person)) {
                    members.push(person);
                    s.members = a.position;
                    if a.closes { s.status = TubeStatus::Closed; }
                }
            }
            prop_assert!(members.len() as u32 <= nominal);
            let mut dedup = members.clone();
            dedup.sort();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), members.len());
            prop_assert_eq!(s.status == TubeStatus::Closed, members.len() as u32 == nominal);
        }
    }
}
