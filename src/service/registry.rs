//! The registry: labs (with what the public list shows), collection sites, institutions.

use super::{parse_code, parse_text, snapshot};
use crate::domain::policy::Action;
use crate::error::Error;
use crate::store::registry::{self as store, InstitutionRow, LabRow, SiteRow};
use crate::store::{is_unique_violation, Tx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// A testing lab (检测机构) as registered, and as the public list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabInput {
    pub code: String,
    pub name: String,
    /// 执业许可证号
    pub licence_no: String,
    /// Accreditation valid until (inclusive), `YYYY-MM-DD`.
    pub accredited_until: NaiveDate,
    pub address: String,
    pub phone: String,
    /// e.g. `00:00–24:00` or `08:00–22:00`
    pub opening_hours: String,
    /// Price of a single-tube test, in fen (1/100 yuan).
    pub price_single_cents: i64,
    /// Price per person of a pooled test, in fen.
    pub price_pooled_cents: i64,
    /// Tubes per day the lab can test.
    pub daily_capacity: i64,
    /// Region code (行政区划), used to route positives to the CDC of the region.
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Lab {
    #[serde(flatten)]
    pub info: LabInput,
    /// Whether the accreditation is valid today (lab's time zone).
    pub accreditation_valid: bool,
}

/// A lab as shown, from its row.
fn lab_view(r: LabRow, today: NaiveDate) -> Lab {
    let until =
        NaiveDate::parse_from_str(&r.accredited_until, "%Y-%m-%d").unwrap_or(NaiveDate::MIN);
    Lab {
        accreditation_valid: until >= today,
        info: LabInput {
            code: r.code,
            name: r.name,
            licence_no: r.licence_no,
            accredited_until: until,
            address: r.address,
            phone: r.phone,
            opening_hours: r.opening_hours,
            price_single_cents: r.price_single_cents,
            price_pooled_cents: r.price_pooled_cents,
            daily_capacity: r.daily_capacity,
            region: r.region,
        },
    }
}

/// The row of a lab as registered.
fn lab_row(l: &LabInput) -> LabRow {
    LabRow {
        code: l.code.clone(),
        name: l.name.clone(),
        licence_no: l.licence_no.clone(),
        accredited_until: l.accredited_until.to_string(),
        address: l.address.clone(),
        phone: l.phone.clone(),
        opening_hours: l.opening_hours.clone(),
        price_single_cents: l.price_single_cents,
        price_pooled_cents: l.price_pooled_cents,
        daily_capacity: l.daily_capacity,
        region: l.region.clone(),
    }
}

fn validate_lab(input: LabInput) -> Result<LabInput, Error> {
    for (field, v) in [
        ("price_single_cents", input.price_single_cents),
        ("price_pooled_cents", input.price_pooled_cents),
        ("daily_capacity", input.daily_capacity),
    ] {
        if v < 0 {
            return Err(Error::invalid(
                field,
                format!("{field} must not be negative"),
            ));
        }
    }
    Ok(LabInput {
        code: parse_code("code", &input.code)?,
        name: parse_text("name", &input.name, 200)?,
        licence_no: parse_text("licence_no", &input.licence_no, 64)?,
        address: parse_text("address", &input.address, 300)?,
        phone: parse_text("phone", &input.phone, 32)?,
        opening_hours: parse_text("opening_hours", &input.opening_hours, 100)?,
        region: parse_code("region", &input.region)?,
        ..input
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_lab(tx: &mut Tx, input: LabInput, today: NaiveDate) -> Result<Lab, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let l = validate_lab(input)?;
    let now = crate::store::time::to_db(tx.now());
    let res = store::insert_lab(tx, &lab_row(&l), now).await;
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "lab.code_taken",
                format!("a lab with code {} is already registered", l.code),
            )
            .at("code"))
        }
        r => r?,
    };
    // The registered licence is the first credential of its accreditation record.
    let id = store::lab_id(tx.conn(), &l.code)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the lab just registered vanished")))?;
    let by = tx.actor().username.clone();
    crate::store::accreditation::insert_credential(
        tx,
        id,
        "licence",
        &l.licence_no,
        &l.accredited_until.to_string(),
        now,
        &by,
    )
    .await?;
    let lab = Lab {
        accreditation_valid: l.accredited_until >= today,
        info: l,
    };
    tx.audit(
        "lab.register",
        "lab",
        &lab.info.code,
        None,
        Some(&snapshot(&lab.info)),
    );
    Ok(lab)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_lab(
    tx: &mut Tx,
    code: &str,
    input: LabInput,
    today: NaiveDate,
) -> Result<Lab, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let before = find_lab(tx.conn(), code, today).await?;
    let mut l = validate_lab(input)?;
    l.code = before.info.code.clone();
    store::update_lab(tx, &lab_row(&l)).await?;
    if (&l.licence_no, l.accredited_until)
        != (&before.info.licence_no, before.info.accredited_until)
    {
        // A renewed licence joins the accreditation record (the old one stays in it).
        let id = store::lab_id(tx.conn(), &l.code).await?.unwrap_or_default();
        let (now, by) = (
            crate::store::time::to_db(tx.now()),
            tx.actor().username.clone(),
        );
        crate::store::accreditation::insert_credential(
            tx,
            id,
            "licence",
            &l.licence_no,
            &l.accredited_until.to_string(),
            now,
            &by,
        )
        .await?;
    }
    tx.audit(
        "lab.update",
        "lab",
        &l.code,
        Some(&snapshot(&before.info)),
        Some(&snapshot(&l)),
    );
    Ok(Lab {
        accreditation_valid: l.accredited_until >= today,
        info: l,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_lab(
    conn: &mut AnyConnection,
    code: &str,
    today: NaiveDate,
) -> Result<Lab, Error> {
    let code = code.trim().to_ascii_uppercase();
    let row = store::lab(conn, &code).await?;
    row.map(|r| lab_view(r, today))
        .ok_or_else(|| Error::not_found("lab.not_found", format!("no lab with code {code}")))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_labs(conn: &mut AnyConnection, today: NaiveDate) -> Result<Vec<Lab>, Error> {
    let rows = store::labs(conn).await?;
    Ok(rows.into_iter().map(|r| lab_view(r, today)).collect())
}

/// The id of the lab named in a request field (422 when unknown).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab_id(
    conn: &mut AnyConnection,
    field: &str,
    code: &str,
) -> Result<(i64, String), Error> {
    let code = parse_code(field, code)?;
    let row = store::lab_id(conn, &code).await?;
    row.map(|id| (id, code.clone())).ok_or_else(|| {
        Error::unprocessable("lab.unknown", format!("no lab with code {code}")).at(field)
    })
}

/// The code of a lab by its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab_code(conn: &mut AnyConnection, id: i64) -> Result<String, Error> {
    Ok(store::lab_code(conn, id).await?)
}

/// 采样点 a collection site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SiteInput {
    pub code: String,
    pub name: String,
    pub address: String,
    pub region: String,
    /// Code of the lab its tubes usually go to.
    #[serde(default)]
    pub lab: Option<String>,
    /// Pool sizes this site may use (default 5, 10, 20).
    #[serde(default)]
    pub pool_sizes: Option<Vec<u32>>,
    /// Whether tubes with barcodes natlis did not issue are accepted (default true).
    #[serde(default)]
    pub accepts_foreign_barcodes: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Site {
    pub code: String,
    pub name: String,
    pub address: String,
    pub region: String,
    pub lab: Option<String>,
    pub pool_sizes: Vec<u32>,
    pub accepts_foreign_barcodes: bool,
}

/// What accession needs to know about a site.
#[derive(Debug, Clone)]
pub struct SiteRules {
    pub id: i64,
    /// The lab the site's tubes go to, and the site's region (for scope checks).
    pub lab_id: Option<i64>,
    pub region: String,
    /// The lab-wide settings in force.
    pub settings: super::settings::Settings,
    pub code: String,
    pub pool_sizes: Vec<u32>,
    pub accepts_foreign_barcodes: bool,
}

/// A site as shown, from its row.
fn site_view(r: SiteRow) -> Site {
    Site {
        pool_sizes: parse_sizes(&r.pool_sizes),
        code: r.code,
        name: r.name,
        address: r.address,
        region: r.region,
        lab: r.lab_code,
        accepts_foreign_barcodes: r.accepts_foreign_barcodes != 0,
    }
}

fn parse_sizes(s: &str) -> Vec<u32> {
    s.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_site(tx: &mut Tx, input: SiteInput) -> Result<Site, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let code = parse_code("code", &input.code)?;
    let name = parse_text("name", &input.name, 200)?;
    let address = parse_text("address", &input.address, 300)?;
    let region = parse_code("region", &input.region)?;
    let pool_sizes = input.pool_sizes.unwrap_or_else(|| vec![5, 10, 20]);
    if let Some(bad) = pool_sizes.iter().find(|s| !(2..=50).contains(*s)) {
        return Err(Error::invalid(
            "pool_sizes",
            format!("pool size {bad} is outside 2–50"),
        ));
    }
    let lab = match &input.lab {
        Some(l) => Some(lab_id(tx.conn(), "lab", l).await?),
        None => None,
    };
    let accepts = input.accepts_foreign_barcodes.unwrap_or(true);
    let sizes = pool_sizes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let now = crate::store::time::to_db(tx.now());
    let res = store::insert_site(
        tx,
        &store::NewSite {
            code: &code,
            name: &name,
            address: &address,
            region: &region,
            lab_id: lab.as_ref().map(|l| l.0),
            pool_sizes: &sizes,
            accepts_foreign_barcodes: accepts,
            created_at: now,
        },
    )
    .await;
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "site.code_taken",
                format!("a site with code {code} is already registered"),
            )
            .at("code"))
        }
        r => r?,
    };
    let site = Site {
        code,
        name,
        address,
        region,
        lab: lab.map(|l| l.1),
        pool_sizes,
        accepts_foreign_barcodes: accepts,
    };
    tx.audit(
        "site.register",
        "site",
        &site.code,
        None,
        Some(&snapshot(&site)),
    );
    Ok(site)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_site(conn: &mut AnyConnection, code: &str) -> Result<Site, Error> {
    let code = code.trim().to_ascii_uppercase();
    let row = store::site(conn, &code).await?;
    row.map(site_view)
        .ok_or_else(|| Error::not_found("site.not_found", format!("no site with code {code}")))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_sites(conn: &mut AnyConnection) -> Result<Vec<Site>, Error> {
    Ok(store::sites(conn)
        .await?
        .into_iter()
        .map(site_view)
        .collect())
}

/// The rules of the site named in a request field (422 when unknown).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn site_rules(
    conn: &mut AnyConnection,
    field: &str,
    code: &str,
) -> Result<SiteRules, Error> {
    let code = parse_code(field, code)?;
    // The lab-wide settings come along in the same statement: accession needs both.
    let row = store::site_rules(conn, &code, super::settings::KEY).await?;
    let store::SiteRulesRow {
        id,
        pool_sizes: sizes,
        accepts_foreign_barcodes: accepts,
        settings: stored,
        lab_id,
        region,
    } = row.ok_or_else(|| {
        Error::unprocessable("site.unknown", format!("no site with code {code}")).at(field)
    })?;
    Ok(SiteRules {
        id,
        lab_id,
        region,
        code,
        pool_sizes: parse_sizes(&sizes),
        accepts_foreign_barcodes: accepts != 0,
        settings: super::settings::from_stored(stored.as_deref())?,
    })
}

/// 单位 an institution whose staff are tested routinely (hospital, cold-chain firm, care home…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Institution {
    pub code: String,
    pub name: String,
    /// hospital, clinic, pharmacy, cold_chain, food, delivery, port, prison, care_home, school, other
    pub kind: String,
    pub address: String,
    pub phone: String,
    /// Region code (行政区划): the regional inspector of a prefix of it sees its compliance.
    #[serde(default)]
    pub region: String,
}

const INSTITUTION_KINDS: [&str; 11] = [
    "hospital",
    "clinic",
    "pharmacy",
    "cold_chain",
    "food",
    "delivery",
    "port",
    "prison",
    "care_home",
    "school",
    "other",
];

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_institution(tx: &mut Tx, input: Institution) -> Result<Institution, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let kind = input.kind.trim().to_ascii_lowercase();
    if !INSTITUTION_KINDS.contains(&kind.as_str()) {
        return Err(Error::invalid(
            "kind",
            format!("institution kind {kind:?} is not one of {INSTITUTION_KINDS:?}"),
        ));
    }
    let inst = Institution {
        code: parse_code("code", &input.code)?,
        name: parse_text("name", &input.name, 200)?,
        kind,
        address: parse_text("address", &input.address, 300)?,
        phone: parse_text("phone", &input.phone, 32)?,
        region: if input.region.trim().is_empty() {
            String::new()
        } else {
            parse_code("region", &input.region)?
        },
    };
    let now = crate::store::time::to_db(tx.now());
    let row = InstitutionRow {
        code: inst.code.clone(),
        name: inst.name.clone(),
        kind: inst.kind.clone(),
        address: inst.address.clone(),
        phone: inst.phone.clone(),
        region: inst.region.clone(),
    };
    let res = store::insert_institution(tx, &row, now).await;
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "institution.code_taken",
                format!(
                    "an institution with code {} is already registered",
                    inst.code
                ),
            )
            .at("code"))
        }
        r => r?,
    };
    tx.audit(
        "institution.register",
        "institution",
        &inst.code,
        None,
        Some(&snapshot(&inst)),
    );
    Ok(inst)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_institutions(conn: &mut AnyConnection) -> Result<Vec<Institution>, Error> {
    Ok(store::institutions(conn)
        .await?
        .into_iter()
        .map(|r| Institution {
            code: r.code,
            name: r.name,
            kind: r.kind,
            address: r.address,
            phone: r.phone,
            region: r.region,
        })
        .collect())
}

/// The id of the institution named in a request field (422 when unknown).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn institution_id(
    conn: &mut AnyConnection,
    field: &str,
    code: &str,
) -> Result<(i64, String), Error> {
    let code = parse_code(field, code)?;
    let row = store::institution_id(conn, &code).await?;
    row.map(|id| (id, code.clone())).ok_or_else(|| {
        Error::unprocessable(
            "institution.unknown",
            format!("no institution with code {code}"),
        )
        .at(field)
    })
}
