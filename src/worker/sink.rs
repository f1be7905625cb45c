//! The two kinds of health-code sink a batch is delivered to: a FHIR endpoint over HTTP(S)
//! (`fhir_http`), and a table in the platform's own database (`pg_table`).

use crate::domain::push::{self, Delivery, StatusMessage};
use crate::store::delivery::ActiveSink;

/// Posts the batch as a FHIR bundle; the outcome and what the receiver said.
pub(super) async fn http(
    sink: &ActiveSink,
    messages: &[StatusMessage],
    client: &reqwest::Client,
) -> (Delivery, String) {
    let body = push::fhir_bundle(&sink.url, messages);
    let keys: Vec<String> = messages
        .iter()
        .map(|m| format!("{}:{}", m.key, m.version))
        .collect();
    let mut req = client
        .post(&sink.url)
        .header("content-type", "application/fhir+json")
        .header(
            "idempotency-key",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                keys.join(",").as_bytes(),
            )),
        );
    if let Some(t) = &sink.token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = &sink.hmac_key {
        req = req.header("x-natlis-signature", push::signature(k, &body));
    }
    match req.body(body).send().await {
        Err(e) => (Delivery::Retry, format!("{}: {}", sink.name, causes(&e))),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let answer: String = format!(
                "HTTP {status}: {}",
                text.chars().take(500).collect::<String>()
            );
            (push::classify(status), answer)
        }
    }
}

/// An error with every cause under it (`… : client error (Connect): invalid peer certificate:
/// UnknownIssuer`), so the stored answer says what went wrong.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Upserts each message into `natlis_health_code` of the platform's database; a row keeps the
/// highest version it was given, so a re-delivery or a late older version changes nothing.
pub(super) async fn table(
    pool: &tokio::sync::OnceCell<sqlx::AnyPool>,
    sink: &ActiveSink,
    timeout: std::time::Duration,
    messages: &[StatusMessage],
) -> anyhow::Result<()> {
    let pool = pool
        .get_or_try_init(|| async {
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(timeout)
                .connect(&sink.url)
                .await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS natlis_health_code (person_key TEXT PRIMARY KEY, version BIGINT NOT NULL, \
                 status TEXT NOT NULL, doc_type TEXT NOT NULL, doc_no TEXT NOT NULL, name TEXT NOT NULL, \
                 valid_until TEXT, tube TEXT, payload TEXT NOT NULL, changed_at TEXT NOT NULL, received_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .execute(&pool)
            .await?;
            anyhow::Ok(pool)
        })
        .await?;
    let mut tx = pool.begin().await?;
    for m in messages {
        sqlx::query(
            "INSERT INTO natlis_health_code (person_key, version, status, doc_type, doc_no, name, valid_until, tube, payload, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (person_key) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status, \
             valid_until = EXCLUDED.valid_until, tube = EXCLUDED.tube, payload = EXCLUDED.payload, \
             changed_at = EXCLUDED.changed_at, received_at = now() \
             WHERE natlis_health_code.version < EXCLUDED.version",
        )
        .bind(m.key.clone())
        .bind(m.version)
        .bind(m.status.clone())
        .bind(m.person.doc_type.clone())
        .bind(m.person.doc_no.clone())
        .bind(m.person.name.clone())
        .bind(m.valid_until.clone())
        .bind(m.result.as_ref().map(|r| r.tube.clone()))
        .bind(serde_json::to_string(m)?)
        .bind(m.changed_at.clone())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
