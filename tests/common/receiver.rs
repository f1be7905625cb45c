//! A health-code platform for the tests: a real HTTP receiver on loopback that takes natlis's
//! FHIR transaction bundles, checks the bearer token and the HMAC signature, runs every bundle
//! through the independent FHIR R4 validator (refusing an invalid one with 400, and counting it),
//! reads each person's status out of the FHIR the way a platform would, and misbehaves on
//! purpose when told to (500s, hangs, dropped connections, slow answers, down for a while).

use super::fhir;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const TOKEN: &str = "platform-token";
pub const KEY: &str = "hmac-secret";

/// What the receiver does with the next requests, in turn; then it answers normally.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Misbehave {
    Error500,
    Hang,
    Drop,
    /// Answers normally after this long.
    Slow(Duration),
}

/// A person's status as the platform reads it from one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub version: i64,
    /// natlis's status code, read back from the FHIR (see [`platform_status`]).
    pub status: String,
    pub valid_until: Option<String>,
    /// The Patient's identifier system (`urn:natlis:doc:<doc_type>`).
    pub doc_system: String,
    /// The Observation's status (`final`, `amended`, `preliminary`, `registered`).
    pub fhir_status: String,
}

#[derive(Default)]
pub struct Received {
    /// key → versions accepted, in the order they were first accepted.
    pub accepted: BTreeMap<String, Vec<i64>>,
    /// key → the newest status accepted.
    pub latest: BTreeMap<String, Status>,
    /// Every (status, FHIR status, document system) seen in an accepted message.
    pub kinds: std::collections::BTreeSet<(String, String, String)>,
    pub seen: HashSet<(String, i64)>,
    pub duplicates: usize,
    pub requests: usize,
    pub bad_signatures: usize,
    /// What the validator said of every bundle it refused.
    pub invalid: Vec<String>,
    /// Requests being answered now, and the most at once.
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// A key the receiver refuses with 422 while this is set.
    pub refuse: Option<String>,
    /// Every request's keys answered while this is set are held this long first.
    pub slow_key: Option<(String, Duration)>,
}

pub struct Receiver {
    pub port: u16,
    pub script: Arc<Mutex<Vec<Misbehave>>>,
    pub got: Arc<Mutex<Received>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// A connection the receiver answers on (plain TCP, or TLS over it).
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Conn for T {}

/// Turns an accepted TCP connection into the stream to answer on (`None`: handshake failed).
pub type Accept = Arc<
    dyn Fn(
            tokio::net::TcpStream,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Box<dyn Conn>>> + Send>>
        + Send
        + Sync,
>;

impl Receiver {
    /// Listens on `port` (0: any), answering plain HTTP.
    pub async fn start(port: u16, script: Vec<Misbehave>, got: Arc<Mutex<Received>>) -> Self {
        let plain: Accept =
            Arc::new(|s| Box::pin(async move { Some(Box::new(s) as Box<dyn Conn>) }));
        Self::start_with(port, script, got, plain).await
    }

    /// Listens on `port`, each connection first through `accept` (a TLS handshake, say).
    pub async fn start_with(
        port: u16,
        script: Vec<Misbehave>,
        got: Arc<Mutex<Received>>,
        accept: Accept,
    ) -> Self {
        // The validator starts before the first request, so that answers come in time.
        fhir::validate_async(br#"{"resourceType":"Bundle","type":"transaction"}"#.to_vec())
            .await
            .expect("an empty transaction is valid");
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Mutex::new(script));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let (s, g) = (script.clone(), got.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    conn = listener.accept() => {
                        let Ok((sock, _)) = conn else { return };
                        let (s, g, accept) = (s.clone(), g.clone(), accept.clone());
                        tokio::spawn(async move {
                            if let Some(conn) = accept(sock).await {
                                serve(conn, s, g).await;
                            }
                        });
                    }
                }
            }
        });
        Self {
            port,
            script,
            got,
            stop,
        }
    }

    /// Stops listening (connections under way finish).
    pub fn down(&self) {
        let _ = self.stop.send(true);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/fhir", self.port)
    }
}

/// Answers requests on one connection until it closes (keep-alive).
async fn serve(
    mut sock: Box<dyn Conn>,
    script: Arc<Mutex<Vec<Misbehave>>>,
    got: Arc<Mutex<Received>>,
) {
    let mut buf: Vec<u8> = vec![];
    let mut tmp = vec![0u8; 65536];
    loop {
        let (head_end, length) = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (p + 4, len);
            }
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        };
        while buf.len() < head_end + length {
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
        let body = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);
        let next = {
            let mut s = script.lock().unwrap();
            (!s.is_empty()).then(|| s.remove(0))
        };
        match next {
            Some(Misbehave::Drop) => return,
            Some(Misbehave::Hang) => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                return;
            }
            Some(Misbehave::Error500) => {
                let _ = sock
                    .write_all(reply("500 Internal Server Error", "{}").as_bytes())
                    .await;
                return;
            }
            Some(Misbehave::Slow(d)) => tokio::time::sleep(d).await,
            None => {}
        }
        let answer = answer(&head, body, &got).await;
        if sock.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn reply(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn answer(head: &str, body: Vec<u8>, got: &Arc<Mutex<Received>>) -> String {
    let authorised = head.contains(&format!("authorization: bearer {}", TOKEN.to_lowercase()));
    let signature = natlis::domain::push::signature(KEY, &body);
    let signed = head.contains(&format!("x-natlis-signature: {signature}"));
    if !authorised || !signed {
        let mut g = got.lock().unwrap();
        g.requests += 1;
        g.bad_signatures += 1;
        return reply("401 Unauthorized", "{}");
    }
    let bundle: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let messages = platform_read(&bundle);
    let slow = {
        let mut g = got.lock().unwrap();
        g.requests += 1;
        g.in_flight += 1;
        g.max_in_flight = g.max_in_flight.max(g.in_flight);
        g.slow_key
            .as_ref()
            .and_then(|(k, d)| messages.iter().any(|(m, _)| m == k).then_some(*d))
    };
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    let verdict = fhir::validate_async(body).await;
    // Decide under the lock, answer after it.
    let mut g = got.lock().unwrap();
    g.in_flight -= 1;
    if let Err(problem) = verdict {
        g.invalid.push(problem.clone());
        let problem = serde_json::to_string(&problem).unwrap();
        return reply(
            "400 Bad Request",
            &format!(
                r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"invalid","diagnostics":{problem}}}]}}"#
            ),
        );
    }
    if g.refuse
        .as_ref()
        .is_some_and(|bad| messages.iter().any(|(k, _)| k == bad))
    {
        return reply(
            "422 Unprocessable Entity",
            r#"{"error":"unknown document"}"#,
        );
    }
    for (k, s) in messages {
        if g.seen.insert((k.clone(), s.version)) {
            g.kinds.insert((
                s.status.clone(),
                s.fhir_status.clone(),
                s.doc_system.clone(),
            ));
            g.accepted.entry(k.clone()).or_default().push(s.version);
            let newer = g.latest.get(&k).is_none_or(|l| l.version < s.version);
            if newer {
                g.latest.insert(k, s);
            }
        } else {
            g.duplicates += 1;
        }
    }
    reply(
        "200 OK",
        r#"{"resourceType":"Bundle","type":"transaction-response"}"#,
    )
}

/// Waits (up to 20 s) until the platform's newest version of each of these people is the one
/// given; whether it came to that.
pub async fn holds_versions(got: &Mutex<Received>, versions: &[(String, i64)]) -> bool {
    for _ in 0..400 {
        let all = {
            let g = got.lock().unwrap();
            versions
                .iter()
                .all(|(uid, v)| g.latest.get(uid).is_some_and(|s| s.version == *v))
        };
        if all {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Reads each message of a bundle as a platform would: the Observation of LOINC 94500-6 names
/// the person's key and status version in its identifier (`urn:natlis:status|<key>:<version>`),
/// and its status and SNOMED CT value say the person's status.
pub fn platform_read(bundle: &Value) -> Vec<(String, Status)> {
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    let resource = |reference: &str| {
        entries
            .iter()
            .find(|e| e["request"]["url"] == reference)
            .map(|e| e["resource"].clone())
            .unwrap_or(Value::Null)
    };
    entries
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Observation")
        .filter_map(|e| {
            let obs = &e["resource"];
            let id = obs["identifier"][0]["value"].as_str()?;
            let (key, version) = id.rsplit_once(':')?;
            let patient = resource(obs["subject"]["reference"].as_str()?);
            let valid_until = obs["extension"].as_array().and_then(|x| {
                x.iter()
                    .find(|x| x["url"] == natlis::domain::push::VALID_UNTIL_EXTENSION)
                    .and_then(|x| x["valueDateTime"].as_str().map(String::from))
            });
            Some((
                key.to_string(),
                Status {
                    version: version.parse().ok()?,
                    status: platform_status(
                        obs["status"].as_str()?,
                        obs["valueCodeableConcept"]["coding"][0]["code"].as_str(),
                    ),
                    valid_until,
                    doc_system: patient["identifier"][0]["system"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    fhir_status: obs["status"].as_str()?.to_string(),
                },
            ))
        })
        .collect()
}

/// The README's table of how a platform reads a status from the Observation's status and value.
pub fn platform_status(status: &str, snomed: Option<&str>) -> String {
    match (status, snomed) {
        ("registered", None) => "no_result",
        ("final" | "amended", Some("260415000" | "895231008")) => "negative",
        ("preliminary", Some("462371000124108" | "419984006")) => "pending_recheck",
        ("final" | "amended", Some("125154007")) => "needs_resampling",
        ("preliminary", Some("260373001")) => "positive_preliminary",
        ("final" | "amended", Some("260373001")) => "positive_confirmed",
        other => return format!("unreadable {other:?}"),
    }
    .to_string()
}
