//! HTTPS both ways, with certificates the test makes itself (rcgen): natlis pushes to a
//! receiver that requires mutual TLS, trusting only the sink's CA bundle and presenting the
//! sink's client certificate; a receiver with a certificate from another CA, and one that
//! wants a client certificate natlis does not have, are refused and kept as failed deliveries
//! with the reason; bad TLS material is refused when the sink is added; and `natlis serve`
//! answers HTTPS itself. On SQLite and on PostgreSQL.

mod common;

use common::receiver::{Accept, Conn, Received, Receiver, KEY, TOKEN};
use common::{Db, TestApp};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_databases!(
    pushes_over_mutual_tls_and_refuses_the_wrong_certificate,
    natlis_serves_https_itself,
);

/// A certificate authority of the test's own.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        Self {
            cert: p.self_signed(&key).unwrap(),
            key,
        }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf certificate and its key (PEM): a server's for 127.0.0.1 and localhost, or a
    /// client's.
    fn issue(&self, name: &str, server: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        if server {
            p.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into().unwrap()),
                SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
            ];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS acceptor for a receiver: its certificate, and the CA its clients' certificates must
/// chain to (none: no client certificate asked for).
fn tls_accept(cert_pem: &str, key_pem: &str, client_ca: Option<&Ca>) -> Accept {
    use rustls_pki_types::pem::PemObject;
    let chain: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.cert.der().clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .unwrap();
            builder
                .with_client_cert_verifier(verifier)
                .with_single_cert(chain, key)
                .unwrap()
        }
        None => builder
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    Arc::new(move |sock| {
        let acceptor = acceptor.clone();
        Box::pin(async move {
            acceptor
                .accept(sock)
                .await
                .ok()
                .map(|s| Box::new(s) as Box<dyn Conn>)
        })
    })
}

async fn messages(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/v1/push/messages?limit=1000").await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["messages"].as_array().unwrap().clone()
}

async fn pushes_over_mutual_tls_and_refuses_the_wrong_certificate(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let ca = Ca::new("health-code platform CA");
    let lab_ca = Ca::new("natlis lab client CA");
    let (server_cert, server_key) = ca.issue("hc.example", true);
    let (client_cert, client_key) = lab_ca.issue("natlis LAB-A", false);
    // The platform: mutual TLS, its certificate from its CA, clients' from the lab's CA.
    let got = Arc::new(Mutex::new(Received::default()));
    let platform = Receiver::start_with(
        0,
        vec![],
        got.clone(),
        tls_accept(&server_cert, &server_key, Some(&lab_ca)),
    )
    .await;
    // An impostor on another port: a certificate from a CA the sink does not trust.
    let rogue = Ca::new("someone else");
    let (rogue_cert, rogue_key) = rogue.issue("hc.example", true);
    let impostor_got = Arc::new(Mutex::new(Received::default()));
    let impostor = Receiver::start_with(
        0,
        vec![],
        impostor_got.clone(),
        tls_accept(&rogue_cert, &rogue_key, None),
    )
    .await;
    let sink = |name: &str, port: u16, with_client_cert: bool| {
        let mut s = json!({"name": name, "region_prefix": "", "kind": "fhir_http",
            "url": format!("https://127.0.0.1:{port}/fhir"), "token": TOKEN, "hmac_key": KEY,
            "ca_pem": ca.pem()});
        if with_client_cert {
            s["client_cert_pem"] = client_cert.clone().into();
            s["client_key_pem"] = client_key.clone().into();
        }
        s
    };
    // Bad TLS material is refused at once, named.
    let mut bad = sink("bad", platform.port, false);
    bad["ca_pem"] = "not a certificate".into();
    let r = app.post("/api/v1/push/sinks", bad).await;
    assert_eq!((r.status, r.code()), (422, "invalid.ca_pem"), "{r:?}");
    let mut bad = sink("bad", platform.port, false);
    bad["client_cert_pem"] = client_cert.clone().into();
    let r = app.post("/api/v1/push/sinks", bad).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid.client_key_pem"),
        "{r:?}"
    );
    for s in [
        sink("platform", platform.port, true),
        sink("impostor", impostor.port, true),
        sink("no-client-cert", platform.port, false),
    ] {
        let r = app.post("/api/v1/push/sinks", s).await;
        assert_eq!(r.status, 201, "{r:?}");
        assert!(
            r.body.get("client_key_pem").is_none(),
            "the key is never shown"
        );
    }
    natlis::worker::push::spawn_worker(
        app.store.clone(),
        natlis::worker::push::Config {
            every: Duration::from_millis(20),
            timeout: Duration::from_secs(2),
            backoff: Duration::from_millis(20),
            ..Default::default()
        },
    );
    app.rejected_pool("P1", 5, 1..=5).await;
    // The platform gets every status over mutual TLS.
    for _ in 0..200 {
        if got.lock().unwrap().accepted.len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let g = got.lock().unwrap();
        assert_eq!(g.accepted.len(), 5, "{:?}", g.accepted);
        assert_eq!(g.invalid, Vec::<String>::new());
        assert_eq!(g.bad_signatures, 0);
    }
    // The other two sinks: nothing delivered, each message kept with the reason, the sink
    // listed as down with it.
    let reason_of = |sink: &'static str| {
        let app = app.clone();
        async move {
            let ms = messages(&app).await;
            let mine: Vec<&Value> = ms.iter().filter(|m| m["sink"] == sink).collect();
            assert!(mine.iter().all(|m| m["status"] != "delivered"), "{mine:?}");
            // With TLS 1.3 the server refuses a missing client certificate after the client's
            // side of the handshake is done, so a request may also fail as "connection was not
            // ready"; the reason that names the certificate is the one to show.
            let reasons: Vec<String> = mine
                .iter()
                .filter_map(|m| m["last_error"].as_str().map(String::from))
                .collect();
            reasons
                .iter()
                .find(|r| r.to_lowercase().contains("certificate"))
                .cloned()
        }
    };
    let mut reasons = (None, None);
    for _ in 0..400 {
        reasons = (
            reason_of("impostor").await,
            reason_of("no-client-cert").await,
        );
        if reasons.0.is_some() && reasons.1.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (impostor_reason, no_cert_reason) = (reasons.0.unwrap(), reasons.1.unwrap());
    assert!(
        impostor_reason.contains("certificate") && impostor_reason.contains("UnknownIssuer"),
        "{impostor_reason}"
    );
    assert!(
        no_cert_reason.to_lowercase().contains("certificate"),
        "{no_cert_reason}"
    );
    assert_eq!(
        impostor_got.lock().unwrap().requests,
        0,
        "nothing reached the impostor"
    );
    for _ in 0..200 {
        let r = app.get("/api/v1/push/sinks").await;
        let down: Vec<&str> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["down_since"].is_string())
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        if down == ["impostor", "no-client-cert"] {
            let impostor = &r.body[1];
            assert!(impostor["down_reason"]
                .as_str()
                .unwrap()
                .contains("UnknownIssuer"));
            assert!(r.body[0].get("down_since").is_none());
            assert!(r.body[0]["ca_pem"]
                .as_str()
                .unwrap()
                .contains("BEGIN CERTIFICATE"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the two refused sinks were never listed as down");
}

async fn natlis_serves_https_itself(db: Db) {
    let app = TestApp::start(db).await;
    let ca = Ca::new("lab CA");
    let (cert, key) = ca.issue("natlis.lab", true);
    let config = natlis::tls::server_config(cert.as_bytes(), key.as_bytes()).unwrap();
    assert!(natlis::tls::server_config(cert.as_bytes(), b"junk").is_err());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = natlis::AppState::new(
        app.store.clone(),
        chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
    );
    let tls = natlis::tls::TlsListener::new(listener, config).unwrap();
    tokio::spawn(natlis::launch(state, tls, std::future::pending()));
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    // A client that never finishes its handshake does not hold the others up.
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let r = client
        .get(format!("https://127.0.0.1:{}/healthz", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .get(format!("https://localhost:{}/api/v1/labs", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP to the HTTPS port gets no answer from the app.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/healthz", addr.port()))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}
