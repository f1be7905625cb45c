//! Accounts and credentials: users (one role, bound to a lab, site, institution or region),
//! passwords hashed with argon2, API tokens and login sessions (random 256-bit secrets, stored
//! as their SHA-256, shown once, revocable), rate-limited logins, and the extractor that turns
//! a request's credentials into an [`Actor`].

pub mod extract;
pub mod token_cache;

use crate::actor::Actor;
use crate::domain::policy::{self, Action, Role, Scope};
use crate::error::Error;
use crate::service::{parse_code, registry, snapshot};
use crate::store::account;
use crate::store::time::to_db;
use crate::store::Tx;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use chrono::Duration;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// How long a login session lasts.
pub const SESSION_HOURS: i64 = 12;
/// Failed logins allowed for an account from one address within [`LOCKOUT_MINUTES`]; past
/// them that account is locked from that address only (never from elsewhere: a wrong password
/// typed at one collection site does not lock the user out at another).
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Failed logins allowed for an account from one address within a day: persistent guessing
/// is locked out for the day (the backoff after the first lockout).
pub const MAX_FAILURES_PER_ACCOUNT_DAY: i64 = 20;
/// Failed logins allowed from one address, whatever the accounts, within [`LOCKOUT_MINUTES`]:
/// high, so that a lab behind one NAT address is not locked out by a few mistyped passwords,
/// but a password spray from one address is stopped.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 100;
pub const LOCKOUT_MINUTES: i64 = 15;

impl Actor {
    /// 403 unless the actor's role may do `action`.
    pub fn require(&self, action: Action) -> Result<(), Error> {
        if policy::allowed(self.role, action) {
            Ok(())
        } else {
            Err(Error::new(
                axum::http::StatusCode::FORBIDDEN,
                "auth.forbidden",
                format!("a user with role {} may not do this", self.role),
            ))
        }
    }

    /// 403 for an object outside the actor's scope whose existence is no secret.
    pub fn out_of_scope(&self, what: &str) -> Error {
        Error::new(
            axum::http::StatusCode::FORBIDDEN,
            "auth.out_of_scope",
            format!("{} ({}) may not act on {what}", self.username, self.role),
        )
    }
}

/// A new secret: `nl_` and 43 characters; its SHA-256 (what is stored) and a prefix to name it.
pub fn new_secret() -> (String, String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!(
        "nl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let prefix = secret[..10].to_string();
    (secret.clone(), hash_secret(&secret), prefix)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The CSRF token that goes with a session secret (double submit: a page of another site can
/// send the cookie, but cannot read this).
pub fn csrf_token(secret: &str) -> String {
    hex::encode(Sha256::digest(format!("csrf:{secret}").as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// A password hash no password matches in practice, verified against when the user is unknown.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&uuid::Uuid::new_v4().to_string()).unwrap_or_default())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A user to create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    /// Code of the lab (lab technicians and reviewers).
    #[serde(default)]
    pub lab: Option<String>,
    /// Code of the collection site (collectors).
    #[serde(default)]
    pub site: Option<String>,
    /// Code of the institution (institution administrators).
    #[serde(default)]
    pub institution: Option<String>,
    /// Region code prefix (CDC reviewers), e.g. `1101`.
    #[serde(default)]
    pub region: Option<String>,
    /// For browser login; users of scripts and scanners need only a token.
    #[serde(default)]
    pub password: Option<String>,
}

/// A user as shown (never with a secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub username: String,
    pub role: Role,
    pub lab: Option<String>,
    pub site: Option<String>,
    pub institution: Option<String>,
    pub region: Option<String>,
}

/// A token, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IssuedToken {
    pub username: String,
    pub role: Role,
    /// The secret: send it as `Authorization: Bearer …`. It is not stored and cannot be shown again.
    pub token: String,
    /// Names the token for revocation.
    pub prefix: String,
}

fn parse_username(input: &str) -> Result<String, Error> {
    let s = input.trim();
    if s.is_empty()
        || s.len() > 64
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(Error::invalid(
            "username",
            "a user name is 1–64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    Ok(s.to_string())
}

/// Creates a user bound to the scope its role needs.
pub async fn add_user(tx: &mut Tx, req: NewUser) -> Result<UserView, Error> {
    tx.actor().require(Action::ManageUsers)?;
    let username = parse_username(&req.username)?;
    let given: Vec<&str> = [
        req.lab.as_ref().map(|_| "lab"),
        req.site.as_ref().map(|_| "site"),
        req.institution.as_ref().map(|_| "institution"),
        req.region.as_ref().map(|_| "region"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let needed: Vec<&str> = req.role.scope_kind().into_iter().collect();
    if given != needed {
        return Err(Error::invalid(
            "role",
            match req.role.scope_kind() {
                Some(k) => format!("a user with role {} is bound to exactly one {k}", req.role),
                None => format!(
                    "a user with role {} is bound to no lab, site, institution or region",
                    req.role
                ),
            },
        ));
    }
    let lab = match &req.lab {
        Some(c) => Some(registry::lab_id(tx.conn(), "lab", c).await?),
        None => None,
    };
    let site = match &req.site {
        Some(c) => Some(registry::site_rules(tx.conn(), "site", c).await?),
        None => None,
    };
    let institution = match &req.institution {
        Some(c) => Some(registry::institution_id(tx.conn(), "institution", c).await?),
        None => None,
    };
    let region = req
        .region
        .as_deref()
        .map(|r| parse_code("region", r))
        .transpose()?;
    let password_hash = match req.password.as_deref() {
        Some(p) if p.chars().count() < 8 => {
            return Err(Error::invalid(
                "password",
                "a password has at least 8 characters",
            ))
        }
        Some(p) => Some(hash_password(p)?),
        None => None,
    };
    let created_by = tx.actor().username.clone();
    let created_at = to_db(tx.now());
    let res = account::insert_user(
        tx,
        account::NewUser {
            username: &username,
            role: req.role,
            lab_id: lab.as_ref().map(|l| l.0),
            site_id: site.as_ref().map(|s| s.id),
            institution_id: institution.as_ref().map(|i| i.0),
            region: region.as_deref(),
            password_hash,
            created_at,
            created_by: &created_by,
        },
    )
    .await;
    match res {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(Error::conflict(
                "user.username_taken",
                format!("user {username} exists already"),
            )
            .at("username"))
        }
        r => r?,
    };
    let view = UserView {
        username,
        role: req.role,
        lab: lab.map(|l| l.1),
        site: site.map(|s| s.code),
        institution: institution.map(|i| i.1),
        region,
    };
    tx.audit(
        "user.add",
        "user",
        &view.username,
        None,
        Some(&snapshot(&view)),
    );
    Ok(view)
}

/// Issues a token for `username` (an admin for anyone, a user for themself).
pub async fn issue_token(
    tx: &mut Tx,
    username: &str,
    name: &str,
    expires_in: Option<Duration>,
) -> Result<IssuedToken, Error> {
    let me = tx.actor().clone();
    if me.username != username {
        me.require(Action::ManageUsers)?;
    }
    let row = account::active_user(tx.conn(), username).await?;
    let (user_id, role) = row
        .ok_or_else(|| Error::not_found("user.not_found", format!("no active user {username}")))?;
    let (secret, hash, prefix) = new_secret();
    let now = tx.now();
    account::insert_token(
        tx,
        account::NewToken {
            user_id,
            name,
            token_hash: hash,
            prefix: &prefix,
            created_at: to_db(now),
            created_by: &me.username,
            expires_at: expires_in.map(|d| to_db(now + d)),
        },
    )
    .await?;
    tx.audit(
        "token.issue",
        "user",
        username,
        None,
        Some(&serde_json::json!({ "token": prefix, "name": name })),
    );
    Ok(IssuedToken {
        username: username.to_string(),
        role,
        token: secret,
        prefix,
    })
}

/// Revokes a token by its prefix (an admin any token, a user their own).
pub async fn revoke_token(tx: &mut Tx, prefix: &str) -> Result<(), Error> {
    let me = tx.actor().clone();
    let row = account::unrevoked_token(tx, prefix).await?;
    let (id, owner) = row
        .filter(|(_, owner)| *owner == me.username || policy::allowed(me.role, Action::ManageUsers))
        .ok_or_else(|| {
            Error::not_found(
                "token.not_found",
                format!("no active token {prefix} of yours"),
            )
        })?;
    let at = to_db(tx.now());
    account::revoke_token(tx, id, at).await?;
    tx.audit(
        "token.revoke",
        "user",
        &owner,
        None,
        Some(&serde_json::json!({ "token": prefix })),
    );
    Ok(())
}

/// One of a user's live credentials: a browser session or an API token. The secret is never
/// shown again; the prefix names it (to revoke it with `DELETE /tokens/{prefix}`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CredentialView {
    pub prefix: String,
    /// `session` for a login, else the token's name.
    pub name: String,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    pub created_by: String,
    pub expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The credential this request was made with.
    pub current: bool,
}

/// The caller's live sessions and tokens (not revoked, not expired), newest first.
pub async fn own_credentials(
    conn: &mut AnyConnection,
    actor: &Actor,
    current_secret: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
    tz: chrono::FixedOffset,
) -> Result<Vec<CredentialView>, Error> {
    let current = current_secret.map(hash_secret);
    let rows = account::live_tokens(conn, &actor.username, to_db(now)).await?;
    Ok(rows
        .into_iter()
        .map(|t| CredentialView {
            current: current.as_deref() == Some(t.token_hash.as_str()),
            prefix: t.prefix,
            name: t.name,
            created_at: crate::store::time::show(t.created_at, tz),
            created_by: t.created_by,
            expires_at: t.expires_at.map(|e| crate::store::time::show(e, tz)),
        })
        .collect())
}

/// Ends the session (or revokes the token) a request was made with.
pub async fn logout(tx: &mut Tx, secret: &str) -> Result<(), Error> {
    let me = tx.actor().username.clone();
    let at = to_db(tx.now());
    let done = account::revoke_by_hash(tx, &hash_secret(secret), at).await?;
    if done {
        tx.audit("auth.logout", "user", &me, None, None);
    }
    Ok(())
}

/// The actor a secret (API token or session) stands for, if it is valid now.
pub async fn authenticate(
    conn: &mut AnyConnection,
    secret: &str,
    now: i64,
) -> Result<Option<Actor>, Error> {
    Ok(account::principal(conn, &hash_secret(secret), now).await?)
}

/// Logs a user in with their password and opens a session (a token that expires). Failed
/// attempts are counted per account and per address; past the limit, logins are refused for a
/// while even with the right password.
pub async fn login(
    tx: &mut Tx,
    username: &str,
    password: &str,
    address: &str,
) -> Result<IssuedToken, Error> {
    let now = tx.now();
    let since = to_db(now - Duration::minutes(LOCKOUT_MINUTES));
    let day = to_db(now - Duration::hours(24));
    let (here, here_today, by_address) =
        account::failures(tx, username, address, since, day).await?;
    let locked_for = if here_today >= MAX_FAILURES_PER_ACCOUNT_DAY {
        Some("24 hours")
    } else if here >= MAX_FAILURES_PER_ACCOUNT || by_address >= MAX_FAILURES_PER_ADDRESS {
        Some("15 minutes")
    } else {
        None
    };
    if let Some(wait) = locked_for {
        return Err(Error::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "auth.too_many_failures",
            format!("too many failed logins from this address; try again in {wait}"),
        ));
    }
    let row = account::password_hash(tx.conn(), username).await?;
    // An unknown user (or one without a password) costs the same hash as a known one, so the
    // answer's timing does not tell which user names exist.
    let hash = row.as_deref().unwrap_or_else(|| dummy_hash());
    let verified = verify_password(password, hash);
    let ok = verified && row.is_some();
    if !ok {
        return Err(LoginFailed {
            username: username.to_string(),
            address: address.to_string(),
        }
        .into());
    }
    tx.act_for(Actor::new(username));
    issue_token(
        tx,
        username,
        "session",
        Some(Duration::hours(SESSION_HOURS)),
    )
    .await
}

/// A failed login: recorded (in a transaction of its own, since the login's rolls back).
#[derive(Debug)]
pub struct LoginFailed {
    pub username: String,
    pub address: String,
}

impl From<LoginFailed> for Error {
    fn from(f: LoginFailed) -> Self {
        Error::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "auth.login_failed",
            "wrong user name or password",
        )
        .with_details(serde_json::json!({ "username": f.username, "address": f.address }))
    }
}

/// Records a failed login.
pub async fn record_failure(tx: &mut Tx, username: &str, address: &str) -> Result<(), Error> {
    let at = to_db(tx.now());
    account::insert_failure(tx, username, address, at).await?;
    tx.audit(
        "auth.login_failed",
        "user",
        username,
        None,
        Some(&serde_json::json!({ "address": address })),
    );
    Ok(())
}

/// The users there are.
pub async fn user_count(conn: &mut AnyConnection) -> Result<i64, Error> {
    Ok(account::user_count(conn).await?)
}

/// The user behind an actor, as shown.
pub fn view(actor: &Actor) -> UserView {
    let (lab, site, institution, region) = match &actor.scope {
        Scope::Everywhere => (None, None, None, None),
        Scope::Lab { code, .. } => (Some(code.clone()), None, None, None),
        Scope::Site { code, .. } => (None, Some(code.clone()), None, None),
        Scope::Institution { code, .. } => (None, None, Some(code.clone()), None),
        Scope::Region(r) => (None, None, None, Some(r.clone())),
    };
    UserView {
        username: actor.username.clone(),
        role: actor.role,
        lab,
        site,
        institution,
        region,
    }
}

/// The first start of an empty installation creates an administrator, whose credentials are
/// printed once: the password from `NATLIS_ADMIN_PASSWORD` (or `default_password`, or random)
/// and a token. Returns `None` when there are users already.
pub async fn bootstrap_admin(
    store: &crate::store::Store,
    default_password: Option<&str>,
) -> Result<Option<(String, IssuedToken)>, Error> {
    let mut conn = store.reader().acquire().await?;
    if user_count(&mut conn).await? > 0 {
        return Ok(None);
    }
    drop(conn);
    let password = std::env::var("NATLIS_ADMIN_PASSWORD")
        .ok()
        .or_else(|| default_password.map(str::to_string))
        .unwrap_or_else(|| {
            let (secret, _, _) = new_secret();
            secret[3..19].to_string()
        });
    let pw = password.clone();
    let result = store
        .execute(
            &Actor::system(),
            crate::store::change(move |tx| {
                let pw = pw.clone();
                Box::pin(async move {
                    add_user(
                        tx,
                        NewUser {
                            username: "admin".into(),
                            role: Role::Admin,
                            lab: None,
                            site: None,
                            institution: None,
                            region: None,
                            password: Some(pw),
                        },
                    )
                    .await?;
                    issue_token(tx, "admin", "bootstrap", None).await
                })
            }),
        )
        .await;
    match result {
        Ok(token) => Ok(Some((password, token))),
        // Another node created it at the same moment.
        Err(e) if e.code == "user.username_taken" => Ok(None),
        Err(e) => Err(e),
    }
}
