//! A state change requested over HTTP, the one way an API handler writes. [`Change`] is an
//! extractor: the caller (authenticated), and — when the request carries an `Idempotency-Key`
//! — the key and the request's fingerprint, which [`fingerprint`] (a layer over every route)
//! computed from the method, the path and query, and the body as sent. So every changing
//! route honours the key without its handler naming its route or its body: a repeat gets the
//! stored answer (header `Idempotent-Replayed: true`), the same key for another request 422.

use super::{AppState, Error};
use crate::actor::Actor;
use crate::store::{idempotency, Tx};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The most of a keyed request's body read to fingerprint it (a JSON request; uploads are
/// multipart and idempotent by their files' hashes).
const MAX_KEYED_BODY: usize = 4 << 20;

/// An idempotency key and the fingerprint of the request that carries it.
#[derive(Debug, Clone)]
struct Keyed {
    key: String,
    fingerprint: String,
}

/// The idempotency key of a request, if it has one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(v) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = v.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            "Idempotency-Key",
            "an idempotency key is 1–128 printable ASCII characters",
        ));
    }
    Ok(Some(key.to_string()))
}

/// The layer: a changing request with an `Idempotency-Key` and a body that is not an upload
/// is fingerprinted (its body read whole, up to [`MAX_KEYED_BODY`], and handed on as it was).
pub(crate) async fn fingerprint(req: Request, next: Next) -> Response {
    if matches!(
        req.method(),
        &Method::GET | &Method::HEAD | &Method::OPTIONS
    ) {
        return next.run(req).await;
    }
    let key = match idempotency_key(req.headers()) {
        Ok(Some(k)) => k,
        Ok(None) => return next.run(req).await,
        Err(e) => return e.into_response(),
    };
    let upload = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    if upload {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_KEYED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Error::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request.too_large",
                format!("a request with an idempotency key has at most {MAX_KEYED_BODY} bytes"),
            )
            .into_response()
        }
    };
    let request = format!(
        "{} {}",
        parts.method,
        parts.uri.path_and_query().map_or("", |p| p.as_str())
    );
    parts.extensions.insert(Keyed {
        key,
        fingerprint: idempotency::fingerprint(&request, &bytes),
    });
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// One state change: runs in one transaction and answers; with an idempotency key, a repeat
/// gets the stored answer instead.
pub(crate) struct Change {
    state: AppState,
    actor: Actor,
    keyed: Option<Keyed>,
}

impl FromRequestParts<AppState> for Change {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            actor,
            keyed: parts.extensions.get::<Keyed>().cloned(),
        })
    }
}

impl Change {
    /// Who asks.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Whether the request carries an idempotency key (and so its answer is kept).
    pub fn is_keyed(&self) -> bool {
        self.keyed.is_some()
    }

    /// This change stores no answer under a key (its request carries a secret, which even a
    /// fingerprint should not be kept of).
    pub fn unkeyed(mut self) -> Self {
        self.keyed = None;
        self
    }

    /// The stored answer of an earlier request with this key, looked up before any work.
    pub async fn replay(&self) -> Result<Option<Response>, Error> {
        let Some(k) = &self.keyed else {
            return Ok(None);
        };
        let mut conn = self.state.store.reader().acquire().await?;
        Ok(
            idempotency::lookup(&mut conn, &self.actor.username, &k.key, &k.fingerprint)
                .await?
                .map(replay),
        )
    }

    /// Runs the change and answers with `status` and its result. The change may run more than
    /// once (group commit re-runs a batch whose other member failed), so it is a closure over
    /// its request that clones what it consumes.
    pub async fn run<T, F>(self, status: StatusCode, change: F) -> Result<Response, Error>
    where
        T: serde::Serialize,
        F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, Error>> + Send + Sync + 'static,
    {
        let change = std::sync::Arc::new(change);
        let keyed = self.keyed.clone();
        let actor = self.actor.username.clone();
        let job = crate::store::change(move |tx| {
            let (change, keyed, actor) = (change.clone(), keyed.clone(), actor.clone());
            Box::pin(async move {
                if let Some(k) = &keyed {
                    if let Some(stored) =
                        idempotency::lookup(tx.conn(), &actor, &k.key, &k.fingerprint).await?
                    {
                        return Ok(Outcome::Replayed(stored));
                    }
                    // This request owns the key from here; one sent at the same time waits
                    // (PostgreSQL) or finds it taken, then replays this one's answer.
                    idempotency::claim(tx, &k.key, &k.fingerprint)
                        .await
                        .map_err(|e| {
                            if crate::store::is_unique_violation(&e) {
                                Error::conflict(
                                    RACE,
                                    "the same request is running at the same time",
                                )
                            } else {
                                e.into()
                            }
                        })?;
                }
                let body = serde_json::to_string(&change(tx).await?)
                    .map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
                if let Some(k) = &keyed {
                    let answer = idempotency::Stored {
                        status: status.as_u16(),
                        body: body.clone(),
                    };
                    idempotency::complete(tx, &k.key, &answer).await?;
                }
                Ok(Outcome::Done(body))
            })
        });
        match self.state.store.execute(&self.actor, job).await {
            Ok(Outcome::Done(body)) => Ok(json_response(status, body)),
            Ok(Outcome::Replayed(stored)) => Ok(replay(stored)),
            // The same request, running at the same time on another node, won: its answer.
            Err(e) if e.code == RACE => match self.replay().await? {
                Some(resp) => Ok(resp),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

/// The code of an idempotency race, answered with the winner's stored answer.
const RACE: &str = "idempotency.in_progress";

/// What a write produced: a new answer, or one stored under the same key.
enum Outcome {
    Done(String),
    Replayed(idempotency::Stored),
}

/// A response with a body that is JSON already.
fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn replay(stored: idempotency::Stored) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut resp = json_response(status, stored.body);
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}
