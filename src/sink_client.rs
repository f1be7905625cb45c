//! The HTTP client of a push sink: its timeout and its TLS (rustls) — the CA bundle the
//! receiver's certificate must chain to and the client certificate natlis presents. Used by the
//! worker to deliver and by the sink service to check the material when a sink is added.

use std::time::Duration;

/// What is wrong with a sink's TLS material: the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct TlsProblem {
    pub field: &'static str,
    pub problem: String,
}

/// The HTTP client of a sink: its timeout, and its TLS (rustls) — the CA bundle the receiver's
/// certificate must chain to (else the system's roots) and the client certificate it presents.
pub fn sink_client(tls: Tls<'_>, timeout: Duration) -> Result<reqwest::Client, TlsProblem> {
    let problem = |field: &'static str, p: String| TlsProblem { field, problem: p };
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .pool_max_idle_per_host(64);
    if let Some(ca) = tls.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(ca.as_bytes())
            .map_err(|e| problem("ca_pem", format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(problem("ca_pem", "no certificate in it".into()));
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    match (tls.client_cert_pem, tls.client_key_pem) {
        (Some(cert), Some(key)) => {
            let pem = format!("{}\n{}\n", cert.trim_end(), key.trim_end());
            let id = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| {
                problem(
                    "client_cert_pem",
                    format!("not a PEM certificate with its private key: {e}"),
                )
            })?;
            b = b.identity(id);
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err(problem(
                "client_key_pem",
                "a client certificate needs its private key".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(problem(
                "client_cert_pem",
                "a private key needs its client certificate".into(),
            ))
        }
    }
    b.build()
        .map_err(|e| problem("ca_pem", format!("no TLS client from these settings: {e}")))
}

/// A sink's TLS material (PEM).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tls<'a> {
    pub ca_pem: Option<&'a str>,
    pub client_cert_pem: Option<&'a str>,
    pub client_key_pem: Option<&'a str>,
}

impl<'a> Tls<'a> {
    pub fn of(
        ca_pem: &'a Option<String>,
        client_cert_pem: &'a Option<String>,
        client_key_pem: &'a Option<String>,
    ) -> Self {
        Self {
            ca_pem: ca_pem.as_deref(),
            client_cert_pem: client_cert_pem.as_deref(),
            client_key_pem: client_key_pem.as_deref(),
        }
    }
}
