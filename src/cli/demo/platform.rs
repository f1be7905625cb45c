//! 演示健康码平台 the demo's health-code platform: a small receiver that natlis's demo pushes to,
//! so a newcomer sees messages delivered and what the platform got. It takes FHIR R4 transaction
//! Bundles as a real platform would — the bearer token and the body's HMAC signature checked,
//! anything else refused — keeps what each Observation said (the person's status, by version)
//! in memory (the newest 500), and shows them on its own page. Demo only: it runs beside
//! `natlis serve --demo`, on the next port.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The sink's credentials (demo data only).
pub const TOKEN: &str = "demo-platform-token";
pub const HMAC_KEY: &str = "demo-platform-hmac-key";
/// The sink's name in natlis.
pub const SINK: &str = "demo-health-code";
const KEEP: usize = 500;

/// One status the platform was told.
#[derive(Debug, Clone)]
struct Told {
    at: chrono::DateTime<chrono::Utc>,
    person_version: String,
    status: String,
    value: String,
}

#[derive(Default)]
struct Got {
    bundles: u64,
    observations: u64,
    refused: u64,
    latest: VecDeque<Told>,
}

type Shared = Arc<Mutex<Got>>;

/// What a bundle's Observations say: (identifier, status, value in words).
fn observations(bundle: &serde_json::Value) -> Vec<(String, String, String)> {
    let Some(entries) = bundle["entry"].as_array() else {
        return vec![];
    };
    entries
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| {
            let id = r["identifier"]
                .as_array()
                .and_then(|ids| {
                    ids.iter()
                        .find(|i| i["system"] == "urn:natlis:status")
                        .and_then(|i| i["value"].as_str())
                })
                .unwrap_or("?")
                .to_string();
            let coding = &r["valueCodeableConcept"]["coding"][0];
            let value = coding["display"]
                .as_str()
                .or_else(|| coding["code"].as_str())
                .unwrap_or("")
                .to_string();
            (id, r["status"].as_str().unwrap_or("").to_string(), value)
        })
        .collect()
}

async fn receive(State(got): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let signed = headers
        .get("x-natlis-signature")
        .and_then(|v| v.to_str().ok());
    let expected = natlis::domain::push::signature(HMAC_KEY, &body);
    let refused = |got: &Shared, status: StatusCode, why: &str| {
        if let Ok(mut g) = got.lock() {
            g.refused += 1;
        }
        (status, why.to_string()).into_response()
    };
    if bearer != Some(TOKEN) {
        return refused(&got, StatusCode::UNAUTHORIZED, "unknown token");
    }
    if signed != Some(expected.as_str()) {
        return refused(
            &got,
            StatusCode::FORBIDDEN,
            "the body's signature does not match",
        );
    }
    let Ok(bundle) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return refused(&got, StatusCode::BAD_REQUEST, "not a JSON bundle");
    };
    if bundle["resourceType"] != "Bundle" || bundle["type"] != "transaction" {
        return refused(
            &got,
            StatusCode::BAD_REQUEST,
            "not a FHIR transaction Bundle",
        );
    }
    let told = observations(&bundle);
    let n = bundle["entry"].as_array().map_or(0, Vec::len);
    if let Ok(mut g) = got.lock() {
        g.bundles += 1;
        g.observations += told.len() as u64;
        let at = chrono::Utc::now();
        for (person_version, status, value) in told {
            g.latest.push_front(Told {
                at,
                person_version,
                status,
                value,
            });
        }
        g.latest.truncate(KEEP);
    }
    let answer = serde_json::json!({
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": (0..n).map(|_| serde_json::json!({"response": {"status": "200 OK"}})).collect::<Vec<_>>(),
    });
    (
        StatusCode::OK,
        [("content-type", "application/fhir+json")],
        answer.to_string(),
    )
        .into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn page(State(got): State<Shared>) -> Html<String> {
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let g = got.lock().map(|g| {
        let rows: String = g
            .latest
            .iter()
            .take(200)
            .map(|t| {
                format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    t.at.with_timezone(&tz).format("%H:%M:%S"),
                    esc(&t.person_version),
                    esc(&t.status),
                    esc(&t.value)
                )
            })
            .collect();
        (g.bundles, g.observations, g.refused, rows)
    });
    let (bundles, observations, refused, rows) = g.unwrap_or_default();
    Html(format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>健康码平台（演示） · demo health-code platform</title>
<style>body{{font:15px system-ui,"Noto Sans CJK SC",sans-serif;margin:1.5rem;color:#1b1f24}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}}</style></head>
<body><h1>健康码平台（演示） <small>demo health-code platform</small></h1>
<p>收到 {bundles} 个 FHIR 事务包、{observations} 条状态；拒收 {refused} 次（令牌或签名不符）。每 10 秒刷新。<br>
Received {bundles} FHIR transaction bundles, {observations} statuses; refused {refused} (wrong token or signature). Refreshes every 10 s.</p>
<table><thead><tr><th>时间 at</th><th>人员:版本 person:version</th><th>Observation.status</th><th>值 value</th></tr></thead><tbody>{rows}</tbody></table></body></html>"#
    ))
}

/// Starts the platform on `addr`; answers the URL natlis pushes to, or `None` (logged) when
/// the port is taken.
pub async fn start(addr: SocketAddr) -> Option<String> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "the demo's health-code platform could not listen: its messages wait");
            return None;
        }
    };
    let got: Shared = Arc::default();
    let app = Router::new()
        .route("/", get(page))
        .route("/fhir", post(receive))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(got);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    tracing::info!("the demo's health-code platform: http://{addr}/ (natlis pushes to it)");
    Some(format!("http://{addr}/fhir"))
}

#[cfg(test)]
mod tests {
    use super::observations;

    #[test]
    fn a_bundle_says_each_persons_status_by_version() {
        let b = serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient"}},
            {"resource": {"resourceType": "Observation", "status": "final",
              "identifier": [{"system": "urn:other", "value": "x"}, {"system": "urn:natlis:status", "value": "p-1:3"}],
              "valueCodeableConcept": {"coding": [{"code": "260415000", "display": "Not detected"}]}}}
        ]});
        assert_eq!(
            observations(&b),
            vec![(
                "p-1:3".to_string(),
                "final".to_string(),
                "Not detected".to_string()
            )]
        );
        assert!(observations(&serde_json::json!({})).is_empty());
    }
}
