//! The registry: labs (with what the public list shows), collection sites, institutions.

use super::{parse_code, parse_text, snapshot};
use crate::domain::policy::Action;
use crate::error::Error;
use crate::store::{is_unique_violation, Tx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, FromRow};
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

#[derive(FromRow)]
struct LabRow {
    code: String,
    name: String,
    licence_no: String,
    accredited_until: String,
    address: String,
    phone: String,
    opening_hours: String,
    price_single_cents: i64,
    price_pooled_cents: i64,
    daily_capacity: i64,
    region: String,
}

impl LabRow {
    fn view(self, today: NaiveDate) -> Lab {
        let until =
            NaiveDate::parse_from_str(&self.accredited_until, "%Y-%m-%d").unwrap_or(NaiveDate::MIN);
        Lab {
            accreditation_valid: until >= today,
            info: LabInput {
                code: self.code,
                name: self.name,
                licence_no: self.licence_no,
                accredited_until: until,
                address: self.address,
                phone: self.phone,
                opening_hours: self.opening_hours,
                price_single_cents: self.price_single_cents,
                price_pooled_cents: self.price_pooled_cents,
                daily_capacity: self.daily_capacity,
                region: self.region,
            },
        }
    }
}

const LAB_COLUMNS: &str =
    "code, name, licence_no, accredited_until, address, phone, opening_hours, \
     price_single_cents, price_pooled_cents, daily_capacity, region";

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

pub async fn create_lab(tx: &mut Tx, input: LabInput, today: NaiveDate) -> Result<Lab, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let l = validate_lab(input)?;
    let now = crate::store::time::to_db(tx.now());
    let res = sqlx::query(&format!(
        "INSERT INTO lab ({LAB_COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(l.code.clone())
    .bind(l.name.clone())
    .bind(l.licence_no.clone())
    .bind(l.accredited_until.to_string())
    .bind(l.address.clone())
    .bind(l.phone.clone())
    .bind(l.opening_hours.clone())
    .bind(l.price_single_cents)
    .bind(l.price_pooled_cents)
    .bind(l.daily_capacity)
    .bind(l.region.clone())
    .bind(now)
    .execute(tx.conn())
    .await;
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
    sqlx::query(
        "UPDATE lab SET name = $1, licence_no = $2, accredited_until = $3, address = $4, phone = $5, \
         opening_hours = $6, price_single_cents = $7, price_pooled_cents = $8, daily_capacity = $9, \
         region = $10 WHERE code = $11",
    )
    .bind(l.name.clone())
    .bind(l.licence_no.clone())
    .bind(l.accredited_until.to_string())
    .bind(l.address.clone())
    .bind(l.phone.clone())
    .bind(l.opening_hours.clone())
    .bind(l.price_single_cents)
    .bind(l.price_pooled_cents)
    .bind(l.daily_capacity)
    .bind(l.region.clone())
    .bind(l.code.clone())
    .execute(tx.conn())
    .await?;
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

pub async fn find_lab(
    conn: &mut AnyConnection,
    code: &str,
    today: NaiveDate,
) -> Result<Lab, Error> {
    let code = code.trim().to_ascii_uppercase();
    let row: Option<LabRow> =
        sqlx::query_as(&format!("SELECT {LAB_COLUMNS} FROM lab WHERE code = $1"))
            .bind(code.clone())
            .fetch_optional(conn)
            .await?;
    row.map(|r| r.view(today))
        .ok_or_else(|| Error::not_found("lab.not_found", format!("no lab with code {code}")))
}

pub async fn list_labs(conn: &mut AnyConnection, today: NaiveDate) -> Result<Vec<Lab>, Error> {
    let rows: Vec<LabRow> = sqlx::query_as(&format!("SELECT {LAB_COLUMNS} FROM lab ORDER BY code"))
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| r.view(today)).collect())
}

/// The id of the lab named in a request field (422 when unknown).
pub async fn lab_id(
    conn: &mut AnyConnection,
    field: &str,
    code: &str,
) -> Result<(i64, String), Error> {
    let code = parse_code(field, code)?;
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM lab WHERE code = $1")
        .bind(code.clone())
        .fetch_optional(conn)
        .await?;
    row.map(|(id,)| (id, code.clone())).ok_or_else(|| {
        Error::unprocessable("lab.unknown", format!("no lab with code {code}")).at(field)
    })
}

/// The code of a lab by its id.
pub async fn lab_code(conn: &mut AnyConnection, id: i64) -> Result<String, Error> {
    let (code,): (String,) = sqlx::query_as("SELECT code FROM lab WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(code)
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

#[derive(FromRow)]
struct SiteRow {
    code: String,
    name: String,
    address: String,
    region: String,
    lab_code: Option<String>,
    pool_sizes: String,
    accepts_foreign_barcodes: i64,
}

impl SiteRow {
    fn view(self) -> Site {
        Site {
            pool_sizes: parse_sizes(&self.pool_sizes),
            code: self.code,
            name: self.name,
            address: self.address,
            region: self.region,
            lab: self.lab_code,
            accepts_foreign_barcodes: self.accepts_foreign_barcodes != 0,
        }
    }
}

fn parse_sizes(s: &str) -> Vec<u32> {
    s.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

const SITE_SELECT: &str = "SELECT s.code, s.name, s.address, s.region, l.code AS lab_code, \
     s.pool_sizes, s.accepts_foreign_barcodes FROM site s LEFT JOIN lab l ON l.id = s.lab_id";

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
    let res = sqlx::query(
        "INSERT INTO site (code, name, address, region, lab_id, pool_sizes, accepts_foreign_barcodes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(code.clone())
    .bind(name.clone())
    .bind(address.clone())
    .bind(region.clone())
    .bind(lab.as_ref().map(|l| l.0))
    .bind(sizes)
    .bind(i64::from(accepts))
    .bind(now)
    .execute(tx.conn())
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

pub async fn find_site(conn: &mut AnyConnection, code: &str) -> Result<Site, Error> {
    let code = code.trim().to_ascii_uppercase();
    let row: Option<SiteRow> = sqlx::query_as(&format!("{SITE_SELECT} WHERE s.code = $1"))
        .bind(code.clone())
        .fetch_optional(conn)
        .await?;
    row.map(SiteRow::view)
        .ok_or_else(|| Error::not_found("site.not_found", format!("no site with code {code}")))
}

pub async fn list_sites(conn: &mut AnyConnection) -> Result<Vec<Site>, Error> {
    let rows: Vec<SiteRow> = sqlx::query_as(&format!("{SITE_SELECT} ORDER BY s.code"))
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(SiteRow::view).collect())
}

/// id, pool sizes, foreign barcodes accepted, stored settings, lab, region.
type SiteRulesRow = (i64, String, i64, Option<String>, Option<i64>, String);

/// The rules of the site named in a request field (422 when unknown).
pub async fn site_rules(
    conn: &mut AnyConnection,
    field: &str,
    code: &str,
) -> Result<SiteRules, Error> {
    let code = parse_code(field, code)?;
    // The lab-wide settings come along in the same statement: accession needs both.
    let row: Option<SiteRulesRow> = sqlx::query_as(
        "SELECT s.id, s.pool_sizes, s.accepts_foreign_barcodes, g.value, s.lab_id, s.region FROM site s \
         LEFT JOIN setting g ON g.key = $2 WHERE s.code = $1",
    )
    .bind(code.clone())
    .bind(super::settings::KEY)
    .fetch_optional(conn)
    .await?;
    let (id, sizes, accepts, stored, lab_id, region) = row.ok_or_else(|| {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, FromRow)]
pub struct Institution {
    pub code: String,
    pub name: String,
    /// hospital, clinic, pharmacy, cold_chain, food, delivery, port, prison, care_home, school, other
    pub kind: String,
    pub address: String,
    pub phone: String,
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
    };
    let now = crate::store::time::to_db(tx.now());
    let res = sqlx::query(
        "INSERT INTO institution (code, name, kind, address, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(inst.code.clone())
    .bind(inst.name.clone())
    .bind(inst.kind.clone())
    .bind(inst.address.clone())
    .bind(inst.phone.clone())
    .bind(now)
    .execute(tx.conn())
    .await;
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

pub async fn list_institutions(conn: &mut AnyConnection) -> Result<Vec<Institution>, Error> {
    Ok(
        sqlx::query_as("SELECT code, name, kind, address, phone FROM institution ORDER BY code")
            .fetch_all(conn)
            .await?,
    )
}

/// The id of the institution named in a request field (422 when unknown).
pub async fn institution_id(
    conn: &mut AnyConnection,
    field: &str,
    code: &str,
) -> Result<(i64, String), Error> {
    let code = parse_code(field, code)?;
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM institution WHERE code = $1")
        .bind(code.clone())
        .fetch_optional(conn)
        .await?;
    row.map(|(id,)| (id, code.clone())).ok_or_else(|| {
        Error::unprocessable(
            "institution.unknown",
            format!("no institution with code {code}"),
        )
        .at(field)
    })
}
