//! The demo dataset: a realistic small city round so a newcomer sees a working system at once —
//! three labs (one with lapsed accreditation), six collection sites, three institutions, a few
//! thousand people, and tubes in every state accession and reception know: open, full and
//! short pools, single tubes, environment samples, received (some after too long a transport)
//! and rejected with their people listed for re-sampling. Everything goes through the same
//! service functions the API uses, so it is validated and audited like real work.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use natlis::actor::Actor;
use natlis::auth::{self, NewUser};
use natlis::domain::id_number::{check_character, DocumentType};
use natlis::domain::policy::Role;
use natlis::domain::reception::RejectionReason;
use natlis::domain::vocab::{Category, Payer, SampleType, TubeKind};
use natlis::service::accession::{self, CloseTube, Description, OpenTube};
use natlis::service::labels::{self, IssueBatch};
use natlis::service::persons::{self, PersonInput, PersonScan};
use natlis::service::reception::{self, ReceiveTube, RejectTube};
use natlis::service::registry::{self, Institution, LabInput, SiteInput};
use natlis::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The password of every demo user (demo data only).
pub const PASSWORD: &str = "natlis-demo";

/// One demo user per role: (username, role, scope kind, scope code).
pub const USERS: &[(&str, Role, &str, &str)] = &[
    ("collector-zgc", Role::Collector, "site", "S-ZGC"),
    ("collector-xdf", Role::Collector, "site", "S-XDF"),
    ("tech-hd", Role::LabTechnician, "lab", "LAB-HD"),
    ("reviewer-hd", Role::LabReviewer, "lab", "LAB-HD"),
    ("tech-ky", Role::LabTechnician, "lab", "LAB-KY"),
    ("cdc-beijing", Role::CdcReviewer, "region", "1101"),
    ("hr-bjh", Role::InstitutionAdmin, "institution", "INST-BJH"),
    ("auditor", Role::Auditor, "", ""),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "欧阳",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "英", "华", "平", "刚", "桂", "兰", "婷", "玉", "辉", "鑫", "宇", "浩", "晨", "欣",
];
const AREAS: &[&str] = &[
    "110105", "110108", "110101", "110115", "310104", "440305", "420102", "370202", "130102",
    "500103",
];

/// Random but valid people.
struct People {
    rng: StdRng,
    today: NaiveDate,
}

impl People {
    fn name(&mut self) -> String {
        let s = SURNAMES[self.rng.gen_range(0..SURNAMES.len())];
        let n = self.rng.gen_range(1..=2);
        let given: String = (0..n)
            .map(|_| GIVEN[self.rng.gen_range(0..GIVEN.len())])
            .collect();
        format!("{s}{given}")
    }

    fn id_number(&mut self) -> String {
        let area = AREAS[self.rng.gen_range(0..AREAS.len())];
        let days = self.rng.gen_range(365 * 2..365 * 85);
        let birth = self.today - Duration::days(days);
        let seq = self.rng.gen_range(0..1000);
        let first17 = format!("{area}{}{seq:03}", birth.format("%Y%m%d"));
        let arr: [u8; 17] = first17.as_bytes().try_into().expect("17 digits");
        format!("{first17}{}", check_character(&arr))
    }

    fn phone(&mut self) -> String {
        let prefix = ["138", "139", "150", "186", "177", "133"][self.rng.gen_range(0..6)];
        format!("{prefix}{:08}", self.rng.gen_range(0..100_000_000))
    }

    fn scan(&mut self) -> PersonScan {
        PersonScan {
            code: None,
            doc_type: Some(DocumentType::ResidentId),
            doc_no: Some(self.id_number()),
            name: Some(self.name()),
            phone: Some(self.phone()),
        }
    }
}

/// A lab; `prices` are (single, pooled per person, daily capacity).
fn lab(
    code: &str,
    name: &str,
    until: &str,
    address: &str,
    (single, pooled, capacity): (i64, i64, i64),
    region: &str,
) -> LabInput {
    LabInput {
        code: code.into(),
        name: name.into(),
        licence_no: format!("PDY{}-{}", &region[..4], code.trim_start_matches("LAB-")),
        accredited_until: NaiveDate::parse_from_str(until, "%Y-%m-%d").expect("date"),
        address: address.into(),
        phone: "010-6".to_string() + &region[2..6] + "88",
        opening_hours: "00:00-24:00".into(),
        price_single_cents: single,
        price_pooled_cents: pooled,
        daily_capacity: capacity,
        region: region.into(),
    }
}

fn site(
    code: &str,
    name: &str,
    lab: &str,
    sizes: Option<Vec<u32>>,
    foreign: bool,
    region: &str,
) -> SiteInput {
    SiteInput {
        code: code.into(),
        name: name.into(),
        address: format!("{name}（示例地址）"),
        region: region.into(),
        lab: Some(lab.into()),
        pool_sizes: sizes,
        accepts_foreign_barcodes: Some(foreign),
    }
}

/// Loads the demo dataset into an empty database; a database that already has labs is left
/// as it is. Returns a summary line.
pub async fn load(store: &Store, tz: FixedOffset) -> anyhow::Result<String> {
    let (labs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM lab")
        .fetch_one(store.reader())
        .await?;
    if labs > 0 {
        return Ok("demo: the database already has data; nothing loaded".into());
    }
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let admin = Actor::new("demo-admin");
    let mut people = People {
        rng: StdRng::seed_from_u64(20_220_412),
        today,
    };

    let mut tx = store.begin(&admin).await?;
    for l in [
        lab(
            "LAB-HD",
            "海淀区疾病预防控制中心实验室",
            "2027-12-31",
            "北京市海淀区花园北路",
            (4000, 1600, 60_000),
            "110108",
        ),
        lab(
            "LAB-KY",
            "金域医学检验实验室（北京）",
            "2027-06-30",
            "北京市朝阳区望京科技园",
            (3500, 1400, 120_000),
            "110105",
        ),
        lab(
            "LAB-DA",
            "达安临床检验中心（大兴）",
            "2026-10-31",
            "北京市大兴区生物医药基地",
            (3500, 1400, 40_000),
            "110115",
        ),
    ] {
        registry::create_lab(&mut tx, l, today).await?;
    }
    for s in [
        site("S-ZGC", "中关村街道采样点", "LAB-HD", None, true, "110108"),
        site(
            "S-WJ",
            "望京社区采样点",
            "LAB-KY",
            Some(vec![10, 20]),
            true,
            "110105",
        ),
        site(
            "S-XDF",
            "新发地市场采样点",
            "LAB-KY",
            Some(vec![10, 20]),
            false,
            "110106",
        ),
        site(
            "S-BJH",
            "北京医院发热门诊",
            "LAB-HD",
            Some(vec![5, 10]),
            true,
            "110101",
        ),
        site(
            "S-DX",
            "大兴物流园冷链采样点",
            "LAB-DA",
            None,
            true,
            "110115",
        ),
        site(
            "S-SY",
            "首都机场入境人员采样点",
            "LAB-HD",
            None,
            true,
            "110113",
        ),
    ] {
        registry::create_site(&mut tx, s).await?;
    }
    for (code, name, kind) in [
        ("INST-BJH", "北京医院", "hospital"),
        ("INST-XDF", "新发地农产品批发市场", "cold_chain"),
        ("INST-YLY", "朝阳区第一养老院", "care_home"),
    ] {
        registry::create_institution(
            &mut tx,
            Institution {
                code: code.into(),
                name: name.into(),
                kind: kind.into(),
                address: "北京市".into(),
                phone: "010-65000000".into(),
            },
        )
        .await?;
    }
    for (username, role, kind, code) in USERS {
        let scope = |k: &str| (*kind == k).then(|| code.to_string());
        auth::add_user(
            &mut tx,
            NewUser {
                username: username.to_string(),
                role: *role,
                lab: scope("lab"),
                site: scope("site"),
                institution: scope("institution"),
                region: scope("region"),
                password: Some(PASSWORD.into()),
            },
        )
        .await?;
    }
    let batch = labels::issue(&mut tx, "S-XDF", IssueBatch { count: 500 }).await?;
    tx.commit().await?;
    let (_, issued) = labels::find(&mut *store.reader().acquire().await?, &admin, batch.id).await?;

    // Staff of the institutions, pre-registered with personal codes.
    let mut staff: Vec<(String, &str)> = vec![];
    let mut tx = store.begin(&admin).await?;
    for (inst, n) in [("INST-BJH", 120), ("INST-XDF", 100), ("INST-YLY", 60)] {
        for _ in 0..n {
            let s = people.scan();
            let (p, _) = persons::register(
                &mut tx,
                PersonInput {
                    doc_type: DocumentType::ResidentId,
                    doc_no: s.doc_no.unwrap_or_default(),
                    name: s.name.unwrap_or_default(),
                    phone: s.phone.unwrap_or_default(),
                    institution: Some(inst.into()),
                },
                today,
            )
            .await?;
            staff.push((p.personal_code.unwrap_or_default(), inst));
        }
    }
    tx.commit().await?;

    let collectors = [
        "collector-li",
        "collector-wang",
        "collector-zhao",
        "collector-chen",
    ];
    let mut tubes = 0usize;
    let mut seq = 0u32;
    let mut next_barcode = |prefix: &str| {
        seq += 1;
        format!("{prefix}{:07}", seq)
    };
    let mut received: Vec<(String, DateTime<Utc>)> = vec![];

    // Open a tube as its collector would; the clock of the round runs over the last ten hours.
    macro_rules! open {
        ($collector:expr, $req:expr) => {{
            let actor = Actor::new($collector);
            let mut tx = store.begin(&actor).await?;
            let plan = accession::prepare_open(tx.conn(), &actor, $req, today).await?;
            let view = accession::open(&mut tx, plan, today).await?;
            tx.commit().await?;
            tubes += 1;
            view
        }};
    }

    let mut rng = StdRng::seed_from_u64(7);
    let when = |rng: &mut StdRng| now - Duration::minutes(rng.gen_range(10..600));
    // Mass screening: full pools of 10 (and 20 at Wangjing), a few still open, a few short.
    for i in 0..260 {
        let (site, size) = if i % 3 == 0 {
            ("S-WJ", 20)
        } else {
            ("S-ZGC", 10)
        };
        let fill = match i {
            0..=14 => rng.gen_range(1..size),
            15..=24 => size - rng.gen_range(1..4),
            _ => size,
        };
        let collected = when(&mut rng);
        let barcode = next_barcode(if site == "S-WJ" { "WJ" } else { "ZGC" });
        open!(
            collectors[i % 4],
            OpenTube {
                barcode: barcode.clone(),
                kind: TubeKind::Pool,
                pool_size: Some(size),
                sample_type: SampleType::Oropharyngeal,
                site: site.into(),
                collector: None,
                collected_at: Some(collected.with_timezone(&tz)),
                category: Category::MassScreening,
                payer: Some(Payer::Public),
                payer_institution: None,
                description: None,
                people: (0..fill).map(|_| people.scan()).collect(),
                retained_for: None,
            }
        );
        if (15..=24).contains(&i) {
            let mut tx = store.begin(&Actor::new(collectors[i % 4])).await?;
            accession::close(&mut tx, &barcode, CloseTube { count: Some(fill) }).await?;
            tx.commit().await?;
        }
        if i >= 15 {
            // Short pools were closed by hand, full ones closed themselves.
            received.push((barcode, collected));
        }
    }
    // Cold-chain workers at the market: single tubes on issued barcodes, scanned by personal code.
    for (i, (code, _)) in staff
        .iter()
        .filter(|(_, inst)| *inst == "INST-XDF")
        .enumerate()
    {
        let collected = when(&mut rng);
        let barcode = issued[i].to_string();
        open!(
            collectors[i % 4],
            OpenTube {
                barcode: barcode.clone(),
                kind: TubeKind::Single,
                pool_size: None,
                sample_type: SampleType::Oropharyngeal,
                site: "S-XDF".into(),
                collector: None,
                collected_at: Some(collected.with_timezone(&tz)),
                category: Category::ColdChainWorker,
                payer: Some(Payer::Employer),
                payer_institution: Some("INST-XDF".into()),
                description: None,
                people: vec![PersonScan {
                    code: Some(code.clone()),
                    ..Default::default()
                }],
                retained_for: None,
            }
        );
        received.push((barcode, collected));
    }
    // Hospital staff and fever-clinic patients; inbound travellers at the airport.
    for i in 0..330 {
        let collected = when(&mut rng);
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
                    next_barcode("BJH"),
                    PersonScan {
                        code,
                        ..Default::default()
                    },
                )
            }
            120..=229 => (
                "S-BJH",
                Category::FeverClinic,
                next_barcode("BJH"),
                people.scan(),
            ),
            _ => (
                "S-SY",
                Category::InboundTraveller,
                next_barcode("SY"),
                people.scan(),
            ),
        };
        open!(
            collectors[i % 4],
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
                collected_at: Some(collected.with_timezone(&tz)),
                category,
                payer: None,
                payer_institution: None,
                description: None,
                people: vec![scan],
                retained_for: None,
            }
        );
        received.push((barcode, collected));
    }
    // Cold-chain environment and packaging samples.
    let items = [
        ("冻带鱼外包装", SampleType::ColdChainPackaging, "厄瓜多尔"),
        ("冻虾仁", SampleType::ColdChainFood, "越南"),
        ("冷库门把手", SampleType::EnvironmentSurface, "本地"),
        ("冻牛肉外包装", SampleType::ColdChainPackaging, "巴西"),
    ];
    for i in 0..12 {
        let (item, sample_type, origin) = items[i % items.len()];
        let collected = when(&mut rng);
        let barcode = next_barcode("ENV");
        open!(
            "collector-chen",
            OpenTube {
                barcode: barcode.clone(),
                kind: TubeKind::Environment,
                pool_size: None,
                sample_type,
                site: "S-DX".into(),
                collector: None,
                collected_at: Some(collected.with_timezone(&tz)),
                category: Category::OtherKey,
                payer: Some(Payer::Employer),
                payer_institution: None,
                description: Some(Description {
                    item: item.into(),
                    lot: Some(format!("L2026{:04}", 1100 + i)),
                    origin: Some(origin.into()),
                    location: format!("大兴物流园 {}号冷库", i % 5 + 1),
                }),
                people: vec![],
                retained_for: None,
            }
        );
        received.push((barcode, collected));
    }

    // Reception: most closed tubes have reached their lab; transport takes 40 min to 5 h.
    let mut n_received = 0;
    let mut n_rejected = 0;
    let reasons = [
        RejectionReason::LeakingOrBroken,
        RejectionReason::LabelUnreadable,
        RejectionReason::InsufficientMedium,
        RejectionReason::TransportTimeExceeded,
    ];
    for (i, (barcode, collected)) in received.iter().enumerate() {
        let arrival = *collected + Duration::minutes(rng.gen_range(40..300));
        if arrival > now || i % 7 == 0 {
            continue;
        }
        let tube = accession::find(&mut *store.reader().acquire().await?, &admin, barcode).await?;
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
        let mut tx = store.begin(&actor).await?;
        let receipt = reception::receive(
            &mut tx,
            ReceiveTube {
                barcode: barcode.clone(),
                lab: lab.into(),
                received_at: Some(arrival.with_timezone(&tz)),
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
    let plates = plates(store, tz).await?;
    let (n_people,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM person")
        .fetch_one(store.reader())
        .await?;
    Ok(format!(
        "demo: loaded 3 labs, 6 sites, 3 institutions, {n_people} people, {tubes} tubes \
         ({n_received} received, {n_rejected} rejected), 500 barcodes issued to S-XDF; {plates}"
    ))
}

/// The bench at LAB-HD: a plate read and called (a positive pool, a single-target tube, an
/// invalid well), a plate whose negative control was contaminated (the run is invalid), and a
/// plate still being loaded.
async fn plates(store: &Store, tz: FixedOffset) -> anyhow::Result<String> {
    use natlis::domain::kit::Kit;
    use natlis::service::{imports, plates};
    use natlis::synth::{plate_export, Shape};
    let tech = Actor::new("tech-hd");
    let fail = |e: natlis::error::Error| anyhow::anyhow!("demo plates: {e}");
    let mut made = vec![];
    let mut clean = None;
    for (kit_code, size, dirty) in [
        ("KH-ORF1AB-N", 96, Some(35.8)),
        ("DAAN-ORF1AB-N", 384, None),
    ] {
        let mut tx = store.begin(&tech).await?;
        let plate = plates::create(
            &mut tx,
            plates::NewPlate {
                lab: "LAB-HD".into(),
                size,
                kit: kit_code.into(),
                kit_version: None,
                instrument: Some("CFX96-1".into()),
            },
        )
        .await
        .map_err(fail)?
        .view(tz);
        let filled = plates::fill(&mut tx, &plate.run_no)
            .await
            .map_err(fail)?
            .view(tz);
        tx.commit().await?;
        if filled.free_wells == size - 2 {
            break;
        }
        let layout = {
            let mut conn = store.reader().acquire().await?;
            plates::layout_of(&mut conn, &tech, &plate.run_no)
                .await
                .map_err(fail)?
        };
        let kit = Kit::shipped()
            .into_iter()
            .find(|k| k.code == kit_code)
            .expect("a shipped kit");
        // A pooled tube on the plate turns positive too (its members will be re-checked).
        let pool_at = filled
            .wells
            .iter()
            .filter(|w| w.tube.is_some())
            .position(|w| {
                w.tube
                    .as_ref()
                    .is_some_and(|t| t.kind == natlis::domain::vocab::TubeKind::Pool)
            });
        let bytes = plate_export(&kit, &layout, dirty, |i| match i {
            _ if Some(i) == pool_at => Shape::Positive(30.8),
            3 => Shape::Positive(26.3),
            11 => Shape::SingleTarget(36.9),
            17 => Shape::Invalid,
            _ => Shape::Negative(27.0 + (i % 9) as f64 * 0.3),
        });
        let read = imports::read_files(
            vec![imports::Upload {
                name: format!("{}.csv", plate.run_no),
                bytes,
            }],
            Some(layout.size),
            &[],
        )
        .map_err(fail)?;
        let mut tx = store.begin(&tech).await?;
        imports::import(&mut tx, &plate.run_no, std::sync::Arc::new(read), None)
            .await
            .map_err(fail)?;
        tx.commit().await?;
        if dirty.is_none() {
            clean = Some(plate.run_no.clone());
        }
        made.push(plate.run_no);
    }
    // The night's reviewer releases the clean plate's negatives and its positives; the
    // single-target and invalid wells, and the whole contaminated plate, wait in the queue.
    let mut released = 0;
    if let Some(first) = &clean {
        use natlis::domain::review::Decision;
        use natlis::service::review;
        let reviewer = Actor::new("reviewer-hd");
        let mut tx = store.begin(&reviewer).await?;
        released += review::release_negatives(&mut tx, first)
            .await
            .map_err(fail)?
            .released;
        tx.commit().await?;
        let queue = {
            let mut conn = store.reader().acquire().await?;
            review::queue(
                &mut conn,
                &reviewer,
                &review::QueueFilter {
                    lab: None,
                    plate: Some(first.clone()),
                },
            )
            .await
            .map_err(fail)?
        };
        for item in queue {
            if item.suggestion.decision == Decision::Release {
                let mut tx = store.begin(&reviewer).await?;
                review::decide(
                    &mut tx,
                    item.attempt,
                    review::Decide {
                        decision: Decision::Release,
                        value: item.suggestion.value,
                        reason: None,
                    },
                )
                .await
                .map_err(fail)?;
                tx.commit().await?;
                released += 1;
            }
        }
    }
    let mut tx = store.begin(&tech).await?;
    let loading = plates::create(
        &mut tx,
        plates::NewPlate {
            lab: "LAB-HD".into(),
            size: 384,
            kit: "MACCURA-ORF1AB-N-E".into(),
            kit_version: None,
            instrument: Some("ABI7500-2".into()),
        },
    )
    .await
    .map_err(fail)?
    .row;
    tx.commit().await?;
    Ok(format!(
        "plates {} read and called ({released} tubes released), {} being loaded",
        made.join(" and "),
        loading.run_no
    ))
}
