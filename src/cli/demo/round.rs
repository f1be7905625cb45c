//! The demo's collection round and its reception: mass-screening pools (full, open and closed
//! short), cold-chain workers on issued barcodes, hospital staff and fever-clinic patients,
//! inbound travellers and environment samples, collected over the last ten hours; then most
//! closed tubes received by their lab (some after too long a transport) and a few rejected.

use super::people::People;
use super::registry::Staff;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use natlis::actor::Actor;
use natlis::domain::reception::RejectionReason;
use natlis::domain::vocab::{Category, Payer, SampleType, TubeKind};
use natlis::service::accession::{self, CloseTube, Description, OpenTube};
use natlis::service::persons::PersonScan;
use natlis::service::reception::{self, ReceiveTube, RejectTube};
use natlis::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const COLLECTORS: [&str; 4] = [
    "collector-li",
    "collector-wang",
    "collector-zhao",
    "collector-chen",
];

/// What the round has done so far.
pub struct Round<'a> {
    store: &'a Store,
    tz: FixedOffset,
    now: DateTime<Utc>,
    today: NaiveDate,
    rng: StdRng,
    seq: u32,
    /// Tubes opened.
    pub tubes: usize,
    /// Closed tubes on their way to a lab, with their collection time.
    received: Vec<(String, DateTime<Utc>)>,
}

/// What reception did.
pub struct Reception {
    pub received: usize,
    pub rejected: usize,
}

impl<'a> Round<'a> {
    pub fn new(store: &'a Store, tz: FixedOffset, now: DateTime<Utc>) -> Round<'a> {
        Round {
            store,
            tz,
            now,
            today: now.with_timezone(&tz).date_naive(),
            rng: StdRng::seed_from_u64(7),
            seq: 0,
            tubes: 0,
            received: vec![],
        }
    }

    fn next_barcode(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:07}", self.seq)
    }

    /// A collection time in the last ten hours.
    fn when(&mut self) -> DateTime<Utc> {
        self.now - Duration::minutes(self.rng.gen_range(10..600))
    }

    /// Opens a tube as its collector would.
    async fn open(&mut self, collector: &str, req: OpenTube) -> anyhow::Result<()> {
        let actor = Actor::new(collector);
        let mut tx = self.store.begin(&actor).await?;
        let plan = accession::prepare_open(tx.conn(), &actor, req, (self.tz, self.today)).await?;
        accession::open(&mut tx, plan, self.today).await?;
        tx.commit().await?;
        self.tubes += 1;
        Ok(())
    }

    /// Mass screening: full pools of 10 (and 20 at Wangjing), a few still open, a few short.
    pub async fn mass_screening(&mut self, people: &mut People) -> anyhow::Result<()> {
        for i in 0..260 {
            let (site, size) = if i % 3 == 0 {
                ("S-WJ", 20)
            } else {
                ("S-ZGC", 10)
            };
            let fill = match i {
                0..=14 => self.rng.gen_range(1..size),
                15..=24 => size - self.rng.gen_range(1..4),
                _ => size,
            };
            let collected = self.when();
            let barcode = self.next_barcode(if site == "S-WJ" { "WJ" } else { "ZGC" });
            self.open(
                COLLECTORS[i % 4],
                OpenTube {
                    barcode: barcode.clone(),
                    kind: TubeKind::Pool,
                    pool_size: Some(size),
                    sample_type: SampleType::Oropharyngeal,
                    site: site.into(),
                    collector: None,
                    collected_at: Some(collected.with_timezone(&self.tz)),
                    category: Category::MassScreening,
                    payer: Some(Payer::Public),
                    payer_institution: None,
                    description: None,
                    people: (0..fill).map(|_| people.scan()).collect(),
                    retained_for: None,
                },
            )
            .await?;
            if (15..=24).contains(&i) {
                let mut tx = self.store.begin(&Actor::new(COLLECTORS[i % 4])).await?;
                accession::close(&mut tx, &barcode, CloseTube { count: Some(fill) }).await?;
                tx.commit().await?;
            }
            if i >= 15 {
                // Short pools were closed by hand, full ones closed themselves.
                self.received.push((barcode, collected));
            }
        }
        Ok(())
    }

    /// Cold-chain workers at the market: single tubes on issued barcodes, scanned by personal
    /// code.
    pub async fn cold_chain_workers(
        &mut self,
        staff: &[Staff],
        issued: &[String],
    ) -> anyhow::Result<()> {
        for (i, (code, _)) in staff
            .iter()
            .filter(|(_, inst)| *inst == "INST-XDF")
            .enumerate()
        {
            let collected = self.when();
            let barcode = issued[i].clone();
            self.open(
                COLLECTORS[i % 4],
                OpenTube {
                    barcode: barcode.clone(),
                    kind: TubeKind::Single,
                    pool_size: None,
                    sample_type: SampleType::Oropharyngeal,
                    site: "S-XDF".into(),
                    collector: None,
                    collected_at: Some(collected.with_timezone(&self.tz)),
                    category: Category::ColdChainWorker,
                    payer: Some(Payer::Employer),
                    payer_institution: Some("INST-XDF".into()),
                    description: None,
                    people: vec![PersonScan {
                        code: Some(code.clone()),
                        ..Default::default()
                    }],
                    retained_for: None,
                },
            )
            .await?;
            self.received.push((barcode, collected));
        }
        Ok(())
    }

    /// Hospital staff and fever-clinic patients; inbound travellers at the airport.
    pub async fn clinic_and_travellers(
        &mut self,
        staff: &[Staff],
        people: &mut People,
    ) -> anyhow::Result<()> {
        for i in 0..330 {
            let collected = self.when();
            let (site, category, barcode, scan) = match i {
                0..=119 => {
                    let code = staff
                        .iter()
                        .filter(|(_, inst)| *inst == "INST-BJH")
                        .nth(i)
                        .map(|s| s.0.clone());
                    (
                        "S-BJH",
                        Category::MedicalStaff,
                        self.next_barcode("BJH"),
                        PersonScan {
                            code,
                            ..Default::default()
                        },
                    )
                }
                120..=229 => (
                    "S-BJH",
                    Category::FeverClinic,
                    self.next_barcode("BJH"),
                    people.scan(),
                ),
                _ => (
                    "S-SY",
                    Category::InboundTraveller,
                    self.next_barcode("SY"),
                    people.scan(),
                ),
            };
            self.open(
                COLLECTORS[i % 4],
                OpenTube {
                    barcode: barcode.clone(),
                    kind: TubeKind::Single,
                    pool_size: None,
                    sample_type: if i % 2 == 0 {
                        SampleType::Nasopharyngeal
                    } else {
                        SampleType::Oropharyngeal
                    },
                    site: site.into(),
                    collector: None,
                    collected_at: Some(collected.with_timezone(&self.tz)),
                    category,
                    payer: None,
                    payer_institution: None,
                    description: None,
                    people: vec![scan],
                    retained_for: None,
                },
            )
            .await?;
            self.received.push((barcode, collected));
        }
        Ok(())
    }

    /// Cold-chain environment and packaging samples.
    pub async fn environment(&mut self) -> anyhow::Result<()> {
        let items = [
            ("冻带鱼外包装", SampleType::ColdChainPackaging, "厄瓜多尔"),
            ("冻虾仁", SampleType::ColdChainFood, "越南"),
            ("冷库门把手", SampleType::EnvironmentSurface, "本地"),
            ("冻牛肉外包装", SampleType::ColdChainPackaging, "巴西"),
        ];
        for i in 0..12 {
            let (item, sample_type, origin) = items[i % items.len()];
            let collected = self.when();
            let barcode = self.next_barcode("ENV");
            self.open(
                "collector-chen",
                OpenTube {
                    barcode: barcode.clone(),
                    kind: TubeKind::Environment,
                    pool_size: None,
                    sample_type,
                    site: "S-DX".into(),
                    collector: None,
                    collected_at: Some(collected.with_timezone(&self.tz)),
                    category: Category::OtherKey,
                    payer: Some(Payer::Employer),
                    payer_institution: None,
                    description: Some(Description {
                        item: item.into(),
                        lot: Some(format!("L2026{:04}", 1100 + i)),
                        origin: Some(origin.into()),
                        location: format!("大兴物流园 {}号冷库", i % 5 + 1),
                        point: Some(format!("XDF-COLD-{}", i % 5 + 1)),
                    }),
                    people: vec![],
                    retained_for: None,
                },
            )
            .await?;
            self.received.push((barcode, collected));
        }
        Ok(())
    }

    /// Reception: most closed tubes have reached their lab; transport takes 40 min to 5 h.
    pub async fn receive(&mut self, admin: &Actor) -> anyhow::Result<Reception> {
        let mut n_received = 0;
        let mut n_rejected = 0;
        let reasons = [
            RejectionReason::LeakingOrBroken,
            RejectionReason::LabelUnreadable,
            RejectionReason::InsufficientMedium,
            RejectionReason::TransportTimeExceeded,
        ];
        for (i, (barcode, collected)) in self.received.iter().enumerate() {
            let arrival = *collected + Duration::minutes(self.rng.gen_range(40..300));
            if arrival > self.now || i % 7 == 0 {
                continue;
            }
            let tube =
                accession::find(&mut *self.store.reader().acquire().await?, admin, barcode).await?;
            let lab = match tube.row.site_code.as_str() {
                "S-WJ" | "S-XDF" => "LAB-KY",
                "S-DX" => "LAB-DA",
                _ => "LAB-HD",
            };
            let actor = Actor::new(if lab == "LAB-KY" {
                "receiver-ky"
            } else {
                "receiver-hd"
            });
            let mut tx = self.store.begin(&actor).await?;
            let receipt = reception::receive(
                &mut tx,
                ReceiveTube {
                    barcode: barcode.clone(),
                    lab: lab.into(),
                    received_at: Some(arrival.with_timezone(&self.tz)),
                    receiver: None,
                },
            )
            .await?;
            n_received += 1;
            if i % 97 == 5 || (receipt.over_limit && n_rejected < 3) {
                let reason = if receipt.over_limit {
                    RejectionReason::TransportTimeExceeded
                } else {
                    reasons[n_rejected % reasons.len()]
                };
                reception::reject(
                    &mut tx,
                    barcode,
                    RejectTube {
                        reason,
                        note: None,
                        lab: None,
                    },
                )
                .await?;
                n_rejected += 1;
            }
            tx.commit().await?;
        }
        Ok(Reception {
            received: n_received,
            rejected: n_rejected,
        })
    }
}
