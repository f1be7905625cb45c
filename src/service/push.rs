//! 推送 the outbox side of pushing to the health-code platform: every change of a person's
//! status writes one message per sink of their region, in the transaction of the change; sinks
//! are configured by an admin; messages can be listed and re-sent.

use crate::actor::Actor;
use crate::domain::policy::Action;
use crate::domain::push::{PersonData, ResultData, StatusMessage};
use crate::domain::review::ResultValue;
use crate::domain::status::Cdc;
use crate::domain::status::PersonStatus;
use crate::error::Error;
use crate::store::outbox;
use crate::store::outbox::SinkRow;
use crate::store::time::{show, to_db};
use crate::store::Tx;
use crate::view::push::Messages;
pub use crate::view::push::Sink;
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use std::collections::HashMap;
use utoipa::ToSchema;

pub use crate::store::outbox::state;

/// Recomputes a person's status after a change in this transaction and, if it changed, writes
/// the next version of their status and one outbox message per sink of their region.
/// `result` names the result that brought the change, if one did.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn person_changed(tx: &mut Tx, person_id: i64, result: Option<i64>) -> Result<(), Error> {
    people_changed(tx, &[(person_id, result)]).await
}

/// [`person_changed`] for many people at once (a pool's members after its release): each
/// lookup is one statement for all of them, and what they share (the result's data, the
/// region's sinks) is read once. The ledger lines (台账) of those who are an institution's
/// staff follow in the same transaction.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn people_changed(tx: &mut Tx, changes: &[(i64, Option<i64>)]) -> Result<(), Error> {
    for chunk in changes.chunks(500) {
        people_changed_chunk(tx, chunk).await?;
        let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
        super::ledger::people_changed(tx, &ids).await?;
    }
    Ok(())
}

async fn people_changed_chunk(tx: &mut Tx, changes: &[(i64, Option<i64>)]) -> Result<(), Error> {
    let now = tx.now();
    let person_ids: Vec<i64> = changes.iter().map(|c| c.0).collect();
    let mut facts = Facts::load(tx, &person_ids).await?;
    let changed = facts.changed(changes, to_db(now))?;
    if changed.is_empty() {
        return Ok(());
    }
    for c in &changed {
        outbox::set_status(
            tx,
            c.person,
            c.status.code(),
            c.valid_until,
            c.version,
            to_db(now),
        )
        .await?;
    }
    let data_of = message_data(tx, &changed).await?;
    enqueue(tx, &changed, &facts.persons, &data_of, now).await
}

/// What a person's status is derived from, for a chunk of people: who they are, their current
/// results and open re-sampling orders, and the status stored for them.
struct Facts {
    persons: HashMap<i64, crate::store::person::PersonRow>,
    results_of: HashMap<i64, Vec<crate::store::result::ResultRow>>,
    orders_of: HashMap<i64, Vec<crate::store::sample_order::OpenOrderRow>>,
    valid_hours: i64,
    /// (status, valid until, version) as stored.
    before: HashMap<i64, (String, Option<i64>, i64)>,
}

/// A person whose status changed, with their next version and the result behind it.
struct Changed {
    person: i64,
    status: PersonStatus,
    valid_until: Option<i64>,
    version: i64,
    result: Option<i64>,
}

impl Facts {
    async fn load(tx: &mut Tx, person_ids: &[i64]) -> Result<Self, Error> {
        let persons = crate::store::person::by_ids(tx.conn(), person_ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let mut results_of: HashMap<i64, Vec<crate::store::result::ResultRow>> = HashMap::new();
        for r in crate::store::result::current_of_people(tx.conn(), person_ids).await? {
            if let Some(p) = r.person_id {
                results_of.entry(p).or_default().push(r);
            }
        }
        let mut orders_of: HashMap<i64, Vec<crate::store::sample_order::OpenOrderRow>> =
            HashMap::new();
        for (person, order) in
            crate::store::sample_order::open_of_people(tx.conn(), person_ids).await?
        {
            orders_of.entry(person).or_default().push(order);
        }
        let valid_hours = super::settings::load(tx.conn()).await?.negative_valid_hours;
        let before = outbox::statuses(tx.conn(), person_ids)
            .await?
            .into_iter()
            .map(|(p, s, v, n)| (p, (s, v, n)))
            .collect();
        Ok(Self {
            persons,
            results_of,
            orders_of,
            valid_hours,
            before,
        })
    }

    /// The people of `changes` (each once) whose derived status differs from the stored one.
    fn changed(&mut self, changes: &[(i64, Option<i64>)], now: i64) -> Result<Vec<Changed>, Error> {
        let mut changed: Vec<Changed> = vec![];
        let mut seen = std::collections::HashSet::new();
        for (person_id, result) in changes {
            if !seen.insert(*person_id) {
                continue;
            }
            if !self.persons.contains_key(person_id) {
                return Err(Error::internal(anyhow::anyhow!(
                    "person {person_id} vanished in its change"
                )));
            }
            let results = self.results_of.remove(person_id).unwrap_or_default();
            let orders = self.orders_of.remove(person_id).unwrap_or_default();
            let status = super::status::derive(&results, &orders, self.valid_hours, now);
            let valid_until = match status {
                PersonStatus::Negative { valid_until } => Some(valid_until),
                _ => None,
            };
            let prior = self.before.get(person_id);
            if let Some((s, v, _)) = prior {
                if s == status.code() && *v == valid_until {
                    continue;
                }
            }
            // The result behind the change: the one named, else the person's newest current one.
            let result = result.or_else(|| results.first().map(|r| r.id));
            changed.push(Changed {
                person: *person_id,
                version: prior.map_or(1, |b| b.2 + 1),
                status,
                valid_until,
                result,
            });
        }
        Ok(changed)
    }
}

/// What each result behind a change says, with its region and tube — read once per distinct
/// content (a pool's members share it).
async fn message_data(
    tx: &mut Tx,
    changed: &[Changed],
) -> Result<HashMap<i64, (ResultData, String, i64)>, Error> {
    let result_ids: Vec<i64> = changed.iter().filter_map(|c| c.result).collect();
    let mut data_of: HashMap<i64, (ResultData, String, i64)> = HashMap::new();
    // Results equal in what their message says share it.
    type Content = (i64, Option<i64>, ResultValue, String, i64, Option<Cdc>);
    let mut by_content: HashMap<Content, ResultData> = HashMap::new();
    for f in crate::store::result::message_facts(tx.conn(), &result_ids).await? {
        let content = (
            f.tube_id,
            f.attempt_id,
            f.value,
            f.source,
            f.sampled_at,
            f.cdc_status,
        );
        let data = match by_content.get(&content) {
            Some(d) => d.clone(),
            None => {
                let d = result_data(tx.conn(), f.id).await?;
                by_content.insert(content, d.clone());
                d
            }
        };
        data_of.insert(f.id, (data, f.region, f.tube_id));
    }
    Ok(data_of)
}

/// Queues each changed status for every sink of the person's region (that of the result
/// behind it, else of their latest tube).
async fn enqueue(
    tx: &mut Tx,
    changed: &[Changed],
    persons: &HashMap<i64, crate::store::person::PersonRow>,
    data_of: &HashMap<i64, (ResultData, String, i64)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let utc = FixedOffset::east_opt(0).expect("UTC");
    let mut sinks_of: HashMap<String, Vec<i64>> = HashMap::new();
    // Per sink: (person key, version, payload, tube).
    let mut messages: std::collections::BTreeMap<i64, Vec<outbox::Outgoing>> = Default::default();
    for c in changed {
        let person = &persons[&c.person];
        let (data, region, tube) = match c.result.and_then(|r| data_of.get(&r)) {
            Some((d, region, tube)) => (Some(d.clone()), Some(region.clone()), Some(*tube)),
            None => {
                // No result behind it (a rejected tube's people): the region of their latest
                // tube decides.
                let region = crate::store::person::latest_region(tx.conn(), c.person).await?;
                (None, region, None)
            }
        };
        let Some(region) = region else {
            continue;
        };
        if !sinks_of.contains_key(&region) {
            let sinks = outbox::sinks_for_region(tx.conn(), &region).await?;
            sinks_of.insert(region.clone(), sinks);
        }
        let sinks = &sinks_of[&region];
        if sinks.is_empty() {
            continue;
        }
        let message = StatusMessage {
            key: person.uid.clone(),
            version: c.version,
            person: PersonData {
                doc_type: person.doc_type.as_str().to_string(),
                doc_no: person.doc_no.clone(),
                name: person.name.clone(),
                phone: person.phone.clone(),
                sex: person.sex.map(|s| s.as_str().to_string()),
                birth_date: person.birth_date.clone(),
            },
            status: c.status.code().to_string(),
            valid_until: c.valid_until.map(|v| show(v, utc).to_rfc3339()),
            result: data,
            changed_at: now.to_rfc3339(),
        };
        let payload =
            serde_json::to_string(&message).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
        for sink in sinks {
            messages.entry(*sink).or_default().push((
                person.uid.clone(),
                c.version,
                payload.clone(),
                tube,
            ));
        }
        metrics::counter!("natlis_push_enqueued_total").increment(1);
    }
    let rows = tx.backend().rows_per_insert(2);
    for (sink, msgs) in messages {
        outbox::enqueue(tx, sink, &msgs, to_db(now), rows).await?;
    }
    Ok(())
}

/// What a message says about the result behind a change.
async fn result_data(conn: &mut AnyConnection, result: i64) -> Result<ResultData, Error> {
    let crate::store::result::MessageDetail {
        barcode: tube,
        value,
        source,
        sample_type,
        sampled_at,
        lab_code: lab,
        cdc_status: cdc,
        cts,
        kit_rules: rules,
        version,
    } = crate::store::result::message_detail(conn, result).await?;
    let utc = FixedOffset::east_opt(0).expect("UTC");
    // Ct per target, from the call's Ct per kit channel.
    let mut by_target = vec![];
    if let (Some(cts), Some(rules)) = (cts, rules) {
        let cts: std::collections::BTreeMap<String, Option<f64>> =
            serde_json::from_str(&cts).unwrap_or_default();
        if let Ok(kit) = serde_json::from_str::<crate::domain::kit::Kit>(&rules) {
            for t in &kit.targets {
                if let Some(ct) = cts.get(&t.channel.to_uppercase()) {
                    by_target.push((t.target.clone(), *ct));
                }
            }
        }
    }
    Ok(ResultData {
        tube,
        value: value.as_str().to_string(),
        source,
        sample_type: sample_type.as_str().to_string(),
        sampled_at: show(sampled_at, utc).to_rfc3339(),
        lab,
        cts: by_target,
        cdc_status: cdc.map(|c| c.as_str().to_string()),
        amended: version > 1,
    })
}

/// Adds a sink (admins).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_sink(tx: &mut Tx, s: Sink) -> Result<Sink, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let name = super::parse_text("name", &s.name, 64)?;
    if !matches!(s.kind.as_str(), "fhir_http" | "pg_table") {
        return Err(Error::invalid("kind", "a sink is fhir_http or pg_table"));
    }
    let url = s.url.trim().to_string();
    let scheme_ok = match s.kind.as_str() {
        "fhir_http" => url.starts_with("http://") || url.starts_with("https://"),
        _ => url.starts_with("postgres://") || url.starts_with("postgresql://"),
    };
    if !scheme_ok {
        return Err(Error::invalid(
            "url",
            format!("{url:?} is not a URL for a {} sink", s.kind),
        ));
    }
    let batch = s.batch_size.unwrap_or(500).clamp(1, 5000);
    let attempts = s.max_attempts.unwrap_or(12).clamp(1, 100);
    let in_flight = s.in_flight.unwrap_or(4);
    if !(1..=64).contains(&in_flight) {
        return Err(Error::invalid(
            "in_flight",
            format!("{in_flight} requests in flight: 1 to 64"),
        ));
    }
    let blank = |v: &Option<String>| v.as_ref().filter(|p| !p.trim().is_empty()).cloned();
    let s = Sink {
        ca_pem: blank(&s.ca_pem),
        client_cert_pem: blank(&s.client_cert_pem),
        client_key_pem: blank(&s.client_key_pem),
        ..s
    };
    if s.kind == "fhir_http" {
        // The TLS material must make a client now, not fail at the first delivery.
        if let Err(e) = crate::sink_client::sink_client(
            crate::sink_client::Tls::of(&s.ca_pem, &s.client_cert_pem, &s.client_key_pem),
            std::time::Duration::from_secs(10),
        ) {
            return Err(Error::invalid(e.field, e.problem));
        }
    } else if s.ca_pem.is_some() || s.client_cert_pem.is_some() || s.client_key_pem.is_some() {
        return Err(Error::invalid(
            "ca_pem",
            "TLS settings are for fhir_http sinks (a pg_table URL carries its own sslmode)",
        ));
    }
    let region = s.region_prefix.trim().to_string();
    if !region.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("region_prefix", "a region prefix is digits"));
    }
    let created_at = to_db(tx.now());
    let created_by = tx.actor().username.clone();
    outbox::insert_sink(
        tx,
        &outbox::NewSink {
            name: &name,
            region_prefix: &region,
            kind: &s.kind,
            url: &url,
            token: s.token.as_deref(),
            hmac_key: s.hmac_key.as_deref(),
            batch_size: i64::from(batch),
            max_attempts: i64::from(attempts),
            in_flight: i64::from(in_flight),
            ca_pem: s.ca_pem.as_deref(),
            client_cert_pem: s.client_cert_pem.as_deref(),
            client_key_pem: s.client_key_pem.as_deref(),
            created_at,
            created_by: &created_by,
        },
    )
    .await
    .map_err(|e| {
        if crate::store::is_unique_violation(&e) {
            Error::conflict("sink.name_taken", format!("a sink named {name} exists"))
        } else {
            e.into()
        }
    })?;
    tx.audit(
        "push.sink_add",
        "push_sink",
        &name,
        None,
        Some(&serde_json::json!({ "kind": s.kind, "region_prefix": region, "url": crate::store::redact(&url),
            "in_flight": in_flight, "ca_pem": s.ca_pem.is_some(), "client_certificate": s.client_cert_pem.is_some() })),
    );
    Ok(Sink {
        name,
        region_prefix: region,
        kind: s.kind,
        url,
        token: None,
        hmac_key: None,
        batch_size: Some(batch),
        max_attempts: Some(attempts),
        in_flight: Some(in_flight),
        ca_pem: s.ca_pem,
        client_cert_pem: s.client_cert_pem,
        client_key_pem: None,
        down_since: None,
        down_reason: None,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn sinks(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<SinkRow>, Error> {
    actor.require(Action::ViewAudit)?;
    Ok(outbox::sinks(conn).await?)
}

/// Filters for the message list, and the page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct MessageFilter {
    /// `pending`, `waiting`, `sending`, `delivered`, `failed`, `dead`.
    pub status: Option<String>,
    /// A person's id: their messages only.
    pub person: Option<String>,
    /// The same as `person` (the message key).
    pub key: Option<String>,
    /// Messages per page, 1–1000 (default 100).
    pub limit: Option<u32>,
    /// Messages older than this id only: the `next_before` of the previous page.
    pub before: Option<i64>,
    /// Messages to skip first (after `before`).
    pub offset: Option<u32>,
}

/// How many messages of each sink are pending, waiting, sending, failed or dead:
/// (sink, state, count).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open_counts(
    conn: &mut AnyConnection,
    actor: &Actor,
) -> Result<Vec<(String, String, i64)>, Error> {
    actor.require(Action::ViewAudit)?;
    Ok(outbox::open_counts(conn, to_db(chrono::Utc::now())).await?)
}

/// Outgoing messages, newest first, a page at a time.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn messages(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &MessageFilter,
) -> Result<Messages, Error> {
    actor.require(Action::ViewAudit)?;
    let limit = match f.limit {
        None => 100,
        Some(n @ 1..=1000) => i64::from(n),
        Some(n) => {
            return Err(Error::invalid(
                "limit",
                format!("{n} messages per page: 1 to 1000"),
            ))
        }
    };
    let person = match (&f.person, &f.key) {
        (Some(p), Some(k)) if p != k => {
            return Err(Error::invalid(
                "person",
                "person and key name different people",
            ))
        }
        (Some(p), _) | (None, Some(p)) => Some(p.trim().to_string()),
        (None, None) => None,
    };
    let status = match &f.status {
        None => None,
        Some(status) => match state::ALL.iter().find(|s| *s == status) {
            Some(known) => Some(*known),
            None => {
                return Err(Error::invalid(
                    "status",
                    format!(
                        "unknown message state {status:?}; one of {}",
                        state::ALL.join(", ")
                    ),
                ))
            }
        },
    };
    // One more than a page, to know whether another follows.
    let query = outbox::MessageQuery {
        status,
        key: person.as_deref(),
        before: f.before,
        limit: limit + 1,
        offset: i64::from(f.offset.unwrap_or(0)),
        now: to_db(chrono::Utc::now()),
    };
    let mut rows = outbox::messages(conn, &query).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(Messages {
        next_before: if more {
            rows.last().map(|r| r.id)
        } else {
            None
        },
        rows,
    })
}

/// The answer to a resend: the message is queued again, with how many went with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resent {
    /// The message resent.
    pub id: i64,
    /// Always `pending`: the message waits for the sink's worker.
    #[schema(example = "pending")]
    pub status: String,
    /// How many messages were queued again (this one and the person's earlier failed or dead
    /// versions for the sink).
    pub requeued: u64,
}

/// Sends a failed or dead message again (admins), with the same key and version, attempts
/// from zero — together with the earlier failed or dead versions of the same person for that
/// sink, so the receiver still gets them in order. Returns how many were queued.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resend(tx: &mut Tx, id: i64) -> Result<u64, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let target = outbox::message(tx.conn(), id).await?;
    let (sink, key, version) = match target {
        Some((sink, key, version, status)) if status == state::FAILED || status == state::DEAD => {
            (sink, key, version)
        }
        _ => {
            return Err(Error::conflict(
                "push.not_resendable",
                format!("message {id} is not failed or dead (or does not exist)"),
            ))
        }
    };
    // The earliest goes first; the later ones wait behind it.
    let at = to_db(tx.now());
    let n = outbox::requeue_versions(tx, sink, &key, version, at).await?;
    tx.audit(
        "push.resend",
        "outbox",
        &id.to_string(),
        None,
        Some(&serde_json::json!({ "requeued": n })),
    );
    Ok(n)
}
