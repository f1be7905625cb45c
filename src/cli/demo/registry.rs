//! The city's registry for the demo: three labs (one with lapsed accreditation), six collection
//! sites, three institutions, one user per role, a batch of barcodes issued to the market's site,
//! and the institutions' staff pre-registered with personal codes.

use super::people::People;
use super::{PASSWORD, USERS};
use chrono::NaiveDate;
use natlis::actor::Actor;
use natlis::auth::{self, NewUser};
use natlis::domain::id_number::DocumentType;
use natlis::service::labels::{self, IssueBatch};
use natlis::service::persons::{self, PersonInput};
use natlis::service::registry::{self, Institution, LabInput, SiteInput};
use natlis::store::{Store, Tx};

/// A member of an institution's staff: (personal code, institution code).
pub type Staff = (String, &'static str);

/// Labs, sites, institutions and users, in one transaction.
pub async fn places_and_users(
    store: &Store,
    admin: &Actor,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let mut tx = store.begin(admin).await?;
    places(&mut tx, today).await?;
    users(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn places(tx: &mut Tx, today: NaiveDate) -> anyhow::Result<()> {
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
        registry::create_lab(tx, l, today).await?;
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
        registry::create_site(tx, s).await?;
    }
    for (code, name, kind, region) in [
        ("INST-BJH", "北京医院", "hospital", "110101"),
        ("INST-XDF", "新发地农产品批发市场", "cold_chain", "110106"),
        ("INST-YLY", "朝阳区第一养老院", "care_home", "110105"),
    ] {
        registry::create_institution(
            tx,
            Institution {
                code: code.into(),
                name: name.into(),
                kind: kind.into(),
                address: "北京市".into(),
                phone: "010-65000000".into(),
                region: region.into(),
            },
        )
        .await?;
    }
    // The wholesale market's cold stores: a door handle each, swabbed weekly (a key market).
    for n in 1..=5 {
        natlis::service::environment::add_point(
            tx,
            "INST-XDF",
            natlis::service::environment::PointInput {
                code: format!("XDF-COLD-{n}"),
                item: "冷库门把手及外包装".into(),
                location: format!("大兴物流园 {n}号冷库"),
                lot: None,
                origin: None,
                programme: "market-key-env".into(),
            },
        )
        .await?;
    }
    Ok(())
}

async fn users(tx: &mut Tx) -> anyhow::Result<()> {
    for (username, role, kind, code) in USERS {
        let scope = |k: &str| (*kind == k).then(|| code.to_string());
        auth::add_user(
            tx,
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
    Ok(())
}

/// 500 pre-printed barcodes issued to the market's collection site; returns them.
pub async fn barcodes(store: &Store, admin: &Actor) -> anyhow::Result<Vec<String>> {
    let mut tx = store.begin(admin).await?;
    let batch = labels::issue(&mut tx, "S-XDF", IssueBatch { count: 500 }).await?;
    tx.commit().await?;
    let (_, issued) = labels::find(&mut *store.reader().acquire().await?, admin, batch.id).await?;
    Ok(issued.iter().map(ToString::to_string).collect())
}

/// The staff class of the `i`th member of an institution's roster.
fn class_of(inst: &str, i: usize) -> &'static str {
    match inst {
        "INST-BJH" if i % 6 == 5 => "行政后勤",
        "INST-BJH" => "医务人员",
        "INST-XDF" if i % 10 == 9 => "行政后勤",
        "INST-XDF" => "冷链从业人员",
        _ => "养老机构工作人员",
    }
}

/// The institutions' staff, pre-registered with personal codes, then put on their
/// institutions' rosters by applying a roster file each (as an administrator uploads one);
/// beside the demo's files, a roster with new staff and a few rows to fix, for trying the upload.
pub async fn staff(
    store: &Store,
    admin: &Actor,
    people: &mut People,
    today: NaiveDate,
    out_dir: &std::path::Path,
) -> anyhow::Result<Vec<Staff>> {
    let mut staff: Vec<Staff> = vec![];
    let mut rosters: Vec<(&'static str, String)> = vec![];
    let mut tx = store.begin(admin).await?;
    for (inst, n) in [("INST-BJH", 120), ("INST-XDF", 100), ("INST-YLY", 60)] {
        let mut csv = String::from("姓名,证件类型,证件号码,手机号,人员类别\n");
        for i in 0..n {
            let s = people.scan();
            csv.push_str(&format!(
                "{},身份证,{},{},{}\n",
                s.name.clone().unwrap_or_default(),
                s.doc_no.clone().unwrap_or_default(),
                s.phone.clone().unwrap_or_default(),
                class_of(inst, i)
            ));
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
        rosters.push((inst, csv));
    }
    tx.commit().await?;
    let hr = Actor::new("demo-hr");
    for (inst, csv) in rosters {
        let file = std::sync::Arc::new(natlis::service::roster::RosterFile {
            name: format!("{inst}-staff.csv"),
            bytes: csv.into_bytes(),
        });
        store
            .execute(
                &hr,
                natlis::store::change(move |tx| {
                    let file = file.clone();
                    let o = natlis::service::roster::RosterOptions {
                        mode: natlis::domain::roster::RosterMode::Full,
                        effective_on: None,
                    };
                    Box::pin(async move {
                        natlis::service::roster::apply(tx, inst, &file, o, None).await
                    })
                }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{inst}'s roster: {e}"))?;
    }
    // New staff for INST-BJH, three rows of which need fixing (an ID number with a wrong check
    // character, a class the hospital has not got, the same person twice).
    let mut csv = String::from("姓名,证件号码,手机号,人员类别\n");
    let mut first = String::new();
    for i in 0..8 {
        let s = people.scan();
        let line = format!(
            "{},{},{},医务人员\n",
            s.name.unwrap_or_default(),
            s.doc_no.unwrap_or_default(),
            s.phone.unwrap_or_default()
        );
        if i == 0 {
            first = line.clone();
        }
        csv.push_str(&line);
    }
    csv.push_str("错号,110105194912310021,13800000001,医务人员\n");
    csv.push_str(&first.replace("医务人员", "保安"));
    csv.push_str(&first);
    let dir = out_dir.join("demo-rosters");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("INST-BJH-new-staff.csv"), csv)?;
    Ok(staff)
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

/// The labs' accreditation records, as the city's health authority keeps them: Haidian's lab
/// with both EQA rounds of the year passed; Wangjing's with a penalty 23 months ago (it may
/// test, not take on mass screening); Daxing's licence lapsed and its last round failed (it is
/// not published — the authority's attempt is refused with what it lacks). Coordinates, hours
/// and promises for the public list.
pub async fn accreditation(store: &Store, admin: &Actor, today: NaiveDate) -> anyhow::Result<()> {
    use natlis::service::accreditation::{
        self as acc, CredentialInput, Entry, EqaInput, PenaltyInput,
    };
    let ago = |months: u32| {
        today
            .checked_sub_months(chrono::Months::new(months))
            .unwrap_or(today)
    };
    let mut tx = store.begin(admin).await?;
    for (code, lat, lon, hours, report, serves) in [
        (
            "LAB-HD",
            39.9834,
            116.3162,
            "00:00-24:00",
            12,
            "individuals,groups",
        ),
        (
            "LAB-KY",
            39.9965,
            116.4703,
            "08:00-22:00",
            24,
            "individuals,groups",
        ),
        ("LAB-DA", 39.7267, 116.3419, "08:00-20:00", 12, "groups"),
    ] {
        sqlx::query(
            "UPDATE lab SET latitude = $1, longitude = $2, opening_hours = $3, report_hours = $4, serves = $5 WHERE code = $6",
        )
        .bind(lat)
        .bind(lon)
        .bind(hours)
        .bind(report)
        .bind(serves)
        .bind(code)
        .execute(tx.conn())
        .await?;
    }
    let err = |e: natlis::error::Error| anyhow::anyhow!("{e}");
    for (code, pcr, rounds) in [
        ("LAB-HD", "京卫PCR备-2020-017", [true, true]),
        ("LAB-KY", "京卫PCR备-2020-031", [true, true]),
        ("LAB-DA", "京卫PCR备-2021-006", [true, false]),
    ] {
        acc::add(
            &mut tx,
            code,
            Entry::Credential(CredentialInput {
                kind: "pcr_approval".into(),
                number: pcr.into(),
                valid_until: today + chrono::Duration::days(400),
            }),
        )
        .await
        .map_err(err)?;
        for (i, passed) in rounds.iter().enumerate() {
            acc::add(
                &mut tx,
                code,
                Entry::Eqa(EqaInput {
                    round: format!("{}-{}", ago(8 - 6 * i as u32).format("%Y"), i + 1),
                    held_on: ago(8 - 6 * i as u32),
                    passed: *passed,
                    organiser: "国家卫生健康委临床检验中心".into(),
                }),
            )
            .await
            .map_err(err)?;
        }
    }
    acc::add(
        &mut tx,
        "LAB-KY",
        Entry::Penalty(PenaltyInput {
            decided_on: ago(23),
            authority: "北京市朝阳区卫生健康委员会".into(),
            summary: "未按规定时限报告检测结果".into(),
        }),
    )
    .await
    .map_err(err)?;
    let reason = acc::ListingInput {
        reason: "资质审核通过，予以公示".into(),
    };
    for code in ["LAB-HD", "LAB-KY"] {
        acc::list(&mut tx, code, true, &reason).await.map_err(err)?;
    }
    tx.commit().await?;
    Ok(())
}

/// Booking slots at two sites for the coming week (07:00–23:30, half-hourly, 20 seats): a
/// newcomer books one on `/book`, and the collector scans the code.
pub async fn booking_slots(store: &Store, admin: &Actor, today: NaiveDate) -> anyhow::Result<()> {
    use natlis::service::booking::{self, SlotsInput};
    let mut tx = store.begin(admin).await?;
    // How the points stand for the public: hours, whom they serve, a queue counted at one.
    use natlis::service::collection_point::{self as point, PointInput};
    for (site, hours, serves, queue) in [
        ("S-ZGC", "07:00-23:30", vec!["public"], Some(12)),
        ("S-WJ", "07:00-23:30", vec!["public", "staff"], None),
        ("S-XDF", "05:00-14:00", vec!["key"], None),
    ] {
        let input = PointInput {
            opening_hours: Some(hours.into()),
            serves: Some(serves.into_iter().map(String::from).collect()),
            queue,
            ..PointInput::default()
        };
        point::set(&mut tx, site, &input)
            .await
            .map_err(|e| anyhow::anyhow!("describing {site}: {e}"))?;
    }
    for site in ["S-ZGC", "S-WJ"] {
        for n in 0..=natlis::domain::booking::AHEAD_DAYS as u64 {
            let input = SlotsInput {
                date: today + chrono::Days::new(n),
                from: "07:00".into(),
                to: "23:30".into(),
                minutes: 30,
                capacity: 20,
            };
            booking::open_slots(&mut tx, site, &input)
                .await
                .map_err(|e| anyhow::anyhow!("opening slots at {site}: {e}"))?;
        }
    }
    tx.commit().await?;
    Ok(())
}
