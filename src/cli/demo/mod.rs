//! The demo dataset: a realistic small city round so a newcomer sees a working system at once —
//! three labs (one with lapsed accreditation), six collection sites, three institutions, a few
//! thousand people, and tubes in every state accession and reception know: open, full and
//! short pools, single tubes, environment samples, received (some after too long a transport)
//! and rejected with their people listed for re-sampling. Everything goes through the same
//! service functions the API uses, so it is validated and audited like real work.

mod bench;
mod people;
pub mod platform;
mod registry;
mod round;

use chrono::{FixedOffset, Utc};
use natlis::actor::Actor;
use natlis::domain::policy::Role;
use natlis::store::Store;
use people::People;
use round::Round;

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
    ("hr-xdf", Role::InstitutionAdmin, "institution", "INST-XDF"),
    ("inspector-bj", Role::RegionalInspector, "region", "1101"),
    ("authority-bj", Role::HealthAuthority, "region", "1101"),
    ("auditor", Role::Auditor, "", ""),
];

/// The demo's health-code platform as a sink of every region, before anything is released.
async fn add_platform_sink(store: &Store, admin: &Actor, url: &str) -> anyhow::Result<()> {
    let sink = natlis::view::push::Sink {
        name: platform::SINK.into(),
        region_prefix: String::new(),
        kind: "fhir_http".into(),
        url: url.into(),
        token: Some(platform::TOKEN.into()),
        hmac_key: Some(platform::HMAC_KEY.into()),
        batch_size: Some(200),
        max_attempts: None,
        in_flight: None,
        ca_pem: None,
        client_cert_pem: None,
        client_key_pem: None,
        down_since: None,
        down_reason: None,
    };
    let mut tx = store.begin(admin).await?;
    natlis::service::push::add_sink(&mut tx, sink)
        .await
        .map_err(|e| anyhow::anyhow!("demo sink: {e}"))?;
    tx.commit().await?;
    Ok(())
}

/// Loads the demo dataset into an empty database; a database that already has labs is left
/// as it is. Returns a summary line.
/// With `platform` (the URL of the demo's health-code platform), the demo pushes every status
/// it makes to it.
pub async fn load(
    store: &Store,
    tz: FixedOffset,
    out_dir: &std::path::Path,
    platform: Option<&str>,
) -> anyhow::Result<String> {
    let (labs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM lab")
        .fetch_one(store.reader())
        .await?;
    if labs > 0 {
        return Ok("demo: the database already has data; nothing loaded".into());
    }
    store.set_zone(tz);
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let admin = Actor::new("demo-admin");
    let mut people = People::new(today);
    registry::places_and_users(store, &admin, today).await?;
    registry::accreditation(store, &admin, today).await?;
    registry::booking_slots(store, &admin, today).await?;
    if let Some(url) = platform {
        add_platform_sink(store, &admin, url).await?;
    }
    let issued = registry::barcodes(store, &admin).await?;
    let staff = registry::staff(store, &admin, &mut people, today, out_dir).await?;

    let mut round = Round::new(store, tz, now);
    round.mass_screening(&mut people).await?;
    round.cold_chain_workers(&staff, &issued).await?;
    round.clinic_and_travellers(&staff, &mut people).await?;
    round.environment().await?;
    let reception = round.receive(&admin).await?;

    let plates = bench::plates(store, tz, out_dir).await?;
    // The hospital has ordered its due staff tested at Zhongguancun tomorrow.
    let order = natlis::service::sessions::SessionOrder {
        site: "S-ZGC".into(),
        on: Some(today + chrono::Duration::days(1)),
        who: Some("due".into()),
        class: None,
    };
    store
        .execute(
            &Actor::new("hr-bjh"),
            natlis::store::change(move |tx| {
                let order = order.clone();
                Box::pin(
                    async move { natlis::service::sessions::order(tx, "INST-BJH", order).await },
                )
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("the demo's group session: {e}"))?;
    let (n_people,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM person")
        .fetch_one(store.reader())
        .await?;
    Ok(format!(
        "demo: loaded 3 labs, 6 sites, 3 institutions, {n_people} people, {} tubes \
         ({} received, {} rejected), 500 barcodes issued to S-XDF; {plates}",
        round.tubes, reception.received, reception.rejected
    ))
}
