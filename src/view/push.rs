//! The push to the health-code platform as clients see it: the sinks and the outgoing
//! messages.

use crate::store::outbox::{MessageRow, SinkRow};
use crate::store::time::show;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A sink as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Sink {
    pub name: String,
    /// Results of tubes collected in regions starting with this (e.g. `1101`; empty: all).
    pub region_prefix: String,
    /// `fhir_http` (POST a FHIR R4 batch Bundle) or `pg_table` (upsert into a table of the
    /// platform's PostgreSQL database).
    pub kind: String,
    /// The endpoint URL, or the `postgres://` URL of the platform's database.
    pub url: String,
    /// Bearer token for `fhir_http` (never shown back).
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
    /// HMAC-SHA256 key for the body signature (never shown back).
    #[serde(default, skip_serializing)]
    pub hmac_key: Option<String>,
    /// Messages per request (default 500).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Attempts before a message is dead-lettered (default 12).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Requests in flight at once per node, 1–64 (default 4); a person's versions still go one
    /// after another.
    #[serde(default)]
    pub in_flight: Option<u32>,
    /// For an `https://` sink: the CA certificates (PEM) its server certificate must chain to;
    /// none: the system's roots. Shown back.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// The client certificate (PEM) natlis presents, for a receiver that requires mutual TLS.
    #[serde(default)]
    pub client_cert_pem: Option<String>,
    /// Its private key (PEM; never shown back).
    #[serde(default, skip_serializing)]
    pub client_key_pem: Option<String>,
    /// Since when the sink is taken to be down (a node's circuit breaker is open: only probes
    /// go to it, and its messages wait without spending attempts); absent while it answers.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub down_since: Option<DateTime<FixedOffset>>,
    /// What its last failed delivery said, while it is down.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub down_reason: Option<String>,
}

impl SinkRow {
    /// The sink as configured, its secrets never shown back and its URL's password redacted.
    pub fn view(&self, tz: FixedOffset) -> Sink {
        Sink {
            name: self.name.clone(),
            region_prefix: self.region_prefix.clone(),
            kind: self.kind.clone(),
            url: crate::store::redact(&self.url),
            token: None,
            hmac_key: None,
            batch_size: Some(self.batch_size as u32),
            max_attempts: Some(self.max_attempts as u32),
            in_flight: Some(self.in_flight as u32),
            ca_pem: self.ca_pem.clone(),
            client_cert_pem: self.client_cert_pem.clone(),
            client_key_pem: None,
            down_since: self.down_since.map(|d| show(d, tz)),
            down_reason: self.down_reason.clone(),
        }
    }
}

/// A page of outgoing messages, newest first, as the service answers it.
#[derive(Debug, Clone)]
pub struct Messages {
    pub rows: Vec<MessageRow>,
    /// The `before` of the next page; none on the last.
    pub next_before: Option<i64>,
}

impl Messages {
    pub fn view(&self, tz: FixedOffset) -> MessagePage {
        MessagePage {
            messages: self.rows.iter().map(|r| r.view(tz)).collect(),
            next_before: self.next_before,
        }
    }
}

impl MessageRow {
    pub fn view(&self, tz: FixedOffset) -> MessageView {
        MessageView {
            id: self.id,
            sink: self.sink.clone(),
            key: self.key.clone(),
            version: self.version,
            status: self.status.clone(),
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            created_at: Some(show(self.created, tz)),
            delivered_at: self.delivered.map(|d| show(d, tz)),
        }
    }
}

/// An outgoing message, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub sink: String,
    /// The person's id.
    pub key: String,
    pub version: i64,
    /// `pending`, `waiting` (behind an earlier version), `sending`, `delivered`, `failed`
    /// (refused), `dead` (gave up).
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Option<DateTime<FixedOffset>>,
    pub delivered_at: Option<DateTime<FixedOffset>>,
}

/// One page of the message list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<MessageView>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}
