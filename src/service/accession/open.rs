//! Opening a tube: the request checked on a read connection ([`prepare_open`]), then written
//! with the people given with it ([`open`]), step by step.

use super::*;

/// A request to open a tube, checked against everything that needs no write lock: barcode,
/// site, pooling rules, collection time, and the people in it.
#[derive(Clone)]
pub struct OpenPlan {
    req: OpenTube,
    barcode: TubeBarcode,
    site: SiteRules,
    nominal: u32,
    batch: Option<i64>,
    warning: Option<String>,
    collected: Option<DateTime<Utc>>,
    collector: Option<String>,
    payer: Payer,
    payer_institution: Option<(i64, String)>,
    description: Option<Description>,
    people: Vec<persons::Identified>,
    /// The bookings whose codes were scanned for people (预约码), used by the opening.
    bookings: Vec<i64>,
    /// The pool a retained tube is taken for.
    retained_for: Option<(i64, String)>,
}

/// Refuses to pool a person who owes a single-tube re-sample (单采复核): they are re-checked
/// in a single tube.
pub(super) async fn refuse_pooling_if_recheck_due(
    conn: &mut AnyConnection,
    who: &persons::Identified,
    today: NaiveDate,
) -> Result<(), Error> {
    let persons::Identified::Known(p) = who else {
        return Ok(());
    };
    match crate::store::sample_order::has_open(conn, p.id).await? {
        false => Ok(()),
        true => Err(Error::unprocessable(
            "person.resample_single",
            // The tube behind the order may be another site's or lab's: not named here.
            format!(
                "{} must be re-sampled in a single tube (a re-sampling order is open), not pooled",
                p.view(today).name
            ),
        )
        .with_details(serde_json::json!({ "person": p.view(today) }))),
    }
}

/// Checks a request to open a tube on a read connection (outside the write transaction).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn prepare_open(
    conn: &mut AnyConnection,
    actor: &Actor,
    mut req: OpenTube,
    (tz, today): (FixedOffset, NaiveDate),
) -> Result<OpenPlan, Error> {
    actor.require(Action::Accession)?;
    let barcode = parse_barcode(&req.barcode)?;
    let site = registry::site_rules(&mut *conn, "site", &req.site).await?;
    if !matches!(&actor.scope, Scope::Everywhere)
        && !matches!(&actor.scope, Scope::Site { id, .. } if *id == site.id)
    {
        return Err(actor.out_of_scope(&format!("site {}", site.code)));
    }
    let settings = &site.settings;
    let description = parse_description(req.description.take())?;
    let policy = PoolPolicy {
        allowed_sizes: site.pool_sizes.clone(),
        single_only: settings.single_only.clone(),
    };
    let nominal = rules::open(
        req.kind,
        req.pool_size,
        req.category,
        req.sample_type,
        description.is_some(),
        &policy,
    )?;
    if req.kind == TubeKind::Environment && !req.people.is_empty() {
        return Err(rules::AccessionRule::NoPeopleOnEnvironment.into());
    }
    if req.people.len() as u32 > nominal {
        return Err(rules::AccessionRule::Full { nominal }.into());
    }
    let (batch, warning) =
        check_origin(&mut *conn, &barcode, &settings.barcode_prefix, &site).await?;
    let collected = req.collected_at.map(|t| t.with_timezone(&Utc));
    if let Some(c) = collected {
        check_collected_at(c, Utc::now())?;
    }
    let collector = req
        .collector
        .as_deref()
        .map(|c| parse_text("collector", c, 64))
        .transpose()?;
    let payer = req.payer.unwrap_or(if req.category.is_key_population() {
        Payer::Public
    } else {
        Payer::SelfPay
    });
    let payer_institution = match req.payer_institution.as_deref() {
        Some(code) => Some(registry::institution_id(&mut *conn, "payer_institution", code).await?),
        None => None,
    };
    let mut people = Vec::with_capacity(req.people.len());
    let mut bookings = vec![];
    for (i, scan) in std::mem::take(&mut req.people).iter().enumerate() {
        let booked = match scan.code.as_deref() {
            Some(raw) => crate::service::booking::scanned(&mut *conn, raw, site.id, (tz, today))
                .await
                .map_err(|e| at_person(i, e))?,
            None => None,
        };
        let scan = match &booked {
            Some((id, person)) => {
                bookings.push(*id);
                person
            }
            None => scan,
        };
        let who = persons::identify(&mut *conn, scan, today)
            .await
            .map_err(|e| at_person(i, e))?;
        if req.kind == TubeKind::Pool {
            refuse_pooling_if_recheck_due(&mut *conn, &who, today)
                .await
                .map_err(|e| at_person(i, e))?;
        }
        people.push(who);
    }
    let retained_for = match req.retained_for.as_deref() {
        None => None,
        Some(pool) => {
            if req.kind != TubeKind::Single || people.len() != 1 {
                return Err(Error::invalid(
                    "retained_for",
                    "a retained tube is a single tube with its one person",
                ));
            }
            let pool = parse_barcode(pool).map_err(|e| e.at("retained_for"))?;
            match store::by_barcode(&mut *conn, pool.as_str()).await? {
                Some(t) if t.kind == TubeKind::Pool => Some((t.id, pool.to_string())),
                Some(_) => {
                    return Err(Error::invalid(
                        "retained_for",
                        format!("tube {pool} is not a pooled tube"),
                    ))
                }
                None => return Err(store::not_found(pool.as_str()).at("retained_for")),
            }
        }
    };
    Ok(OpenPlan {
        retained_for,
        req,
        barcode,
        site,
        nominal,
        batch,
        warning,
        collected,
        collector,
        payer,
        payer_institution,
        description,
        people,
        bookings,
    })
}

/// Points an error at the `i`th person of a request.
fn at_person(i: usize, e: Error) -> Error {
    match e.field.clone() {
        Some(f) => e.at(&format!("people[{i}].{f}")),
        None => e.at(&format!("people[{i}]")),
    }
}

/// Opens a tube and scans in the people given with it (see [`prepare_open`]).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open(tx: &mut Tx, plan: OpenPlan, today: NaiveDate) -> Result<Tube, Error> {
    let OpenPlan {
        req,
        barcode,
        site,
        nominal,
        batch,
        warning,
        collected,
        collector,
        payer,
        payer_institution,
        description,
        people: identified,
        bookings,
        retained_for,
    } = plan;
    let now = tx.now();
    let collected = collected.unwrap_or(now);
    let collector = collector.unwrap_or_else(|| tx.actor().username.clone());
    let priority = req.category.priority();
    let deadline = collected + Duration::hours(site.settings.deadline_hours.of(priority));
    let environment = req.kind == TubeKind::Environment;
    let by = tx.actor().username.clone();
    let mut state = TubeState {
        kind: req.kind,
        status: if environment {
            TubeStatus::Closed
        } else {
            TubeStatus::Open
        },
        nominal,
        members: 0,
    };
    let people = bind_people(tx, identified, &mut state, today).await?;
    let closed = state.status == TubeStatus::Closed;
    check_retained(tx, retained_for.as_ref(), &people).await?;
    let clock = if req.kind == TubeKind::Single && people.len() == 1 && retained_for.is_none() {
        answer_orders(tx, people[0].id, collected, deadline).await?
    } else {
        Clock::of(collected, deadline)
    };
    let Clock {
        deadline,
        clock_start,
        recheck,
        answered,
    } = clock;
    let inserted = store::insert(
        tx,
        &store::NewTube {
            barcode: barcode.as_str(),
            kind: req.kind,
            status: state.status,
            nominal_size: i64::from(nominal),
            member_count: i64::from(state.members),
            sample_type: req.sample_type,
            site_id: site.id,
            collector: &collector,
            collected_at: to_db(collected),
            category: req.category,
            priority,
            deadline_at: to_db(deadline),
            payer,
            payer_institution_id: payer_institution.as_ref().map(|p| p.0),
            env_item: description.as_ref().map(|d| d.item.as_str()),
            env_lot: description.as_ref().and_then(|d| d.lot.as_deref()),
            env_origin: description.as_ref().and_then(|d| d.origin.as_deref()),
            env_location: description.as_ref().map(|d| d.location.as_str()),
            issued_batch_id: batch,
            opened_by: &by,
            closed_at: closed.then(|| to_db(now)),
            closed_by: closed.then_some(by.as_str()),
            created_at: to_db(now),
            recheck_of: recheck.map(|r| r.0),
            recollection_no: recheck.map_or(0, |r| r.1),
            retained_for: retained_for.as_ref().map(|r| r.0),
            clock_start_at: to_db(clock_start),
        },
    )
    .await;
    let id = match inserted {
        Ok(Some(id)) => id,
        Ok(None) => return Err(already_used(tx, &barcode).await),
        Err(e) if is_unique_violation(&e) => return Err(already_used(tx, &barcode).await),
        Err(e) => return Err(e.into()),
    };
    fulfil_orders(tx, id, &answered).await?;
    for b in bookings {
        crate::service::booking::use_in_tube(tx, b, (id, barcode.as_str())).await?;
    }
    if let Some(point) = description.as_ref().and_then(|d| d.point.as_deref()) {
        crate::service::environment::link_tube(tx, id, point).await?;
    }
    let members = bind_members(tx, id, &people, !answered.is_empty(), (to_db(now), &by)).await?;
    // One entry tells the whole opening: the tube, the people bound to it, and whether it
    // closed itself (a single tube with its person does).
    tx.audit(
        "tube.open",
        "tube",
        barcode.as_str(),
        None,
        Some(&serde_json::json!({
            "kind": req.kind, "nominal_size": nominal, "sample_type": req.sample_type,
            "site": site.code, "category": req.category, "collected_at": collected,
            "status": state.status, "members": people.iter().enumerate()
                .map(|(i, p)| serde_json::json!({ "person": p.uid, "position": i + 1 }))
                .collect::<Vec<_>>(),
            "retained_for": retained_for.as_ref().map(|r| r.1.clone()),
            "answers_resample_orders": answered,
        })),
    );
    metrics::counter!("natlis_tubes_opened_total", "kind" => req.kind.as_str()).increment(1);
    metrics::counter!("natlis_members_scanned_total").increment(people.len() as u64);
    let row = TubeRow {
        id,
        site_id: site.id,
        site_lab_id: site.lab_id,
        site_region: site.region.clone(),
        lab_id: None,
        barcode: barcode.to_string(),
        kind: req.kind,
        status: state.status,
        nominal_size: i64::from(nominal),
        member_count: i64::from(state.members),
        short_closed: 0,
        sample_type: req.sample_type,
        site_code: site.code,
        collector,
        collected_at: to_db(collected),
        category: req.category,
        priority,
        deadline_at: to_db(deadline),
        payer,
        payer_institution_code: payer_institution.map(|p| p.1),
        env_item: description.as_ref().map(|d| d.item.clone()),
        env_lot: description.as_ref().and_then(|d| d.lot.clone()),
        env_origin: description.as_ref().and_then(|d| d.origin.clone()),
        env_location: description.as_ref().map(|d| d.location.clone()),
        issued_batch_id: batch,
        closed_at: closed.then(|| to_db(now)),
        closed_by: closed.then(|| by.clone()),
        lab_code: None,
        received_at: None,
        received_by: None,
        transport_minutes: None,
        transport_over_limit: 0,
        rejected_at: None,
        rejected_by: None,
        rejection_reason: None,
        rejection_note: None,
        held: 0,
        forwarded_lab_id: None,
        forwarded_lab_code: None,
    };
    Ok(Tube {
        row,
        members,
        warnings: warning.into_iter().collect(),
    })
}

/// Binds the people given with a new tube, in order, as the tube's rules allow (a full tube
/// closes itself); a refusal names the person by index.
async fn bind_people(
    tx: &mut Tx,
    identified: Vec<persons::Identified>,
    state: &mut TubeState,
    today: NaiveDate,
) -> Result<Vec<crate::store::person::PersonRow>, Error> {
    let mut people: Vec<crate::store::person::PersonRow> = Vec::with_capacity(identified.len());
    for (i, who) in identified.into_iter().enumerate() {
        let person = persons::bind(tx, who, today)
            .await
            .map_err(|e| at_person(i, e))?;
        let already = people.iter().any(|p| p.id == person.id);
        let added = rules::add_member(*state, already).map_err(|e| at_person(i, e.into()))?;
        state.members = added.position;
        if added.closes {
            state.status = TubeStatus::Closed;
        }
        people.push(person);
    }
    Ok(people)
}

/// A retained tube's person must be in its pool.
async fn check_retained(
    tx: &mut Tx,
    retained_for: Option<&(i64, String)>,
    people: &[crate::store::person::PersonRow],
) -> Result<(), Error> {
    let Some((pool, pool_barcode)) = retained_for else {
        return Ok(());
    };
    if store::position_of(tx.conn(), *pool, people[0].id)
        .await?
        .is_none()
    {
        return Err(Error::unprocessable(
            "tube.not_in_pool",
            format!(
                "this person is not in pool {pool_barcode}: a retained tube is taken for a member"
            ),
        )
        .at("retained_for"));
    }
    Ok(())
}

/// A new tube's deadline clock: it starts at collection, or where a re-check's pool started it.
struct Clock {
    deadline: DateTime<Utc>,
    clock_start: DateTime<Utc>,
    /// The tube re-checked, and this recollection's number.
    recheck: Option<(i64, i64)>,
    /// The re-sampling orders the tube answers.
    answered: Vec<i64>,
}

impl Clock {
    fn of(collected: DateTime<Utc>, deadline: DateTime<Utc>) -> Self {
        Self {
            deadline,
            clock_start: collected,
            recheck: None,
            answered: vec![],
        }
    }
}

/// A single tube for someone who owes a re-sample answers their orders, keeping the earlier
/// deadline and clock of the most urgent.
async fn answer_orders(
    tx: &mut Tx,
    person: i64,
    collected: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<Clock, Error> {
    let mut clock = Clock::of(collected, deadline);
    let orders = open_resample_orders(tx.conn(), person).await?;
    if let Some(first) = orders.first() {
        clock.deadline = deadline.min(crate::store::time::from_db(first.due_at));
        clock.clock_start = collected.min(crate::store::time::from_db(first.clock_start_at));
        clock.recheck = Some((first.source_tube, first.recollection_no + 1));
    }
    clock.answered = orders.iter().map(|o| o.id).collect();
    Ok(clock)
}

/// Binds the people to the new tube at their positions, added when and by whom the tube was
/// opened; with orders answered, their status may change.
async fn bind_members(
    tx: &mut Tx,
    tube: i64,
    people: &[crate::store::person::PersonRow],
    answers_orders: bool,
    (added_at, by): (i64, &str),
) -> Result<Vec<MemberRow>, Error> {
    let mut members = Vec::with_capacity(people.len());
    for (i, person) in people.iter().enumerate() {
        let position = i as u32 + 1;
        insert_member(tx, tube, person.id, position).await?;
        if answers_orders {
            // A new swab answers the person's re-sampling orders: their status may change.
            crate::service::push::person_changed(tx, person.id, None).await?;
        }
        members.push(MemberRow {
            position: i64::from(position),
            added_at,
            added_by: by.to_string(),
            person: person.clone(),
        });
    }
    Ok(members)
}
