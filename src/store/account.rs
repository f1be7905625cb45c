//! `app_user`, `api_token` and `login_failure`: accounts (用户), their credentials (API tokens
//! and login sessions, stored as the SHA-256 of their secret) and failed logins. The rules —
//! hashing, lockout, who may revoke what — are in [`crate::auth`].

use super::code::in_table;
use super::Tx;
use crate::actor::Actor;
use crate::domain::policy::{Role, Scope};
use sqlx::{AnyConnection, FromRow};

/// A new account.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub role: Role,
    pub lab_id: Option<i64>,
    pub site_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub region: Option<&'a str>,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub created_by: &'a str,
}

/// Adds an account; a username taken already is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_user(tx: &mut Tx, u: NewUser<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO app_user (username, role, lab_id, site_id, institution_id, region, password_hash, disabled, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)",
    )
    .bind(u.username.to_string())
    .bind(u.role)
    .bind(u.lab_id)
    .bind(u.site_id)
    .bind(u.institution_id)
    .bind(u.region.map(str::to_string))
    .bind(u.password_hash)
    .bind(u.created_at)
    .bind(u.created_by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An active (not disabled) account's id and role.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn active_user(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<(i64, Role)>, sqlx::Error> {
    sqlx::query_as("SELECT id, role FROM app_user WHERE username = $1 AND disabled = 0")
        .bind(username.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("app_user"))
}

/// An active account's password hash, if it has a password (`None` for no such account too).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn password_hash(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT password_hash FROM app_user WHERE username = $1 AND disabled = 0")
            .bind(username.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(row.and_then(|(h,)| h))
}

/// How many accounts there are.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn user_count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM app_user")
        .fetch_one(conn)
        .await?;
    Ok(n)
}

/// A new credential of an account.
pub struct NewToken<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub token_hash: String,
    pub prefix: &'a str,
    pub created_at: i64,
    pub created_by: &'a str,
    pub expires_at: Option<i64>,
}

/// Stores a credential.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_token(tx: &mut Tx, t: NewToken<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_token (user_id, name, token_hash, prefix, created_at, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(t.user_id)
    .bind(t.name.to_string())
    .bind(t.token_hash)
    .bind(t.prefix.to_string())
    .bind(t.created_at)
    .bind(t.created_by.to_string())
    .bind(t.expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An unrevoked credential by its shown prefix: its id and its owner's username.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unrevoked_token(
    tx: &mut Tx,
    prefix: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, u.username FROM api_token t JOIN app_user u ON u.id = t.user_id \
         WHERE t.prefix = $1 AND t.revoked_at IS NULL",
    )
    .bind(prefix.to_string())
    .fetch_optional(tx.conn())
    .await
}

/// Revokes a credential by id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke_token(tx: &mut Tx, id: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_token SET revoked_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Revokes the unrevoked credential with this secret hash; whether there was one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke_by_hash(tx: &mut Tx, token_hash: &str, at: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_token SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(at)
    .bind(token_hash.to_string())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A live credential as its owner sees it listed.
#[derive(FromRow)]
pub struct LiveToken {
    pub token_hash: String,
    pub prefix: String,
    pub name: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
}

/// An account's credentials live at `now`, the newest first (at most 1,000).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn live_tokens(
    conn: &mut AnyConnection,
    username: &str,
    now: i64,
) -> Result<Vec<LiveToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.token_hash, t.prefix, t.name, t.created_at, t.created_by, t.expires_at \
         FROM api_token t JOIN app_user u ON u.id = t.user_id \
         WHERE u.username = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) \
         ORDER BY t.created_at DESC, t.id DESC LIMIT 1000",
    )
    .bind(username.to_string())
    .bind(now)
    .fetch_all(conn)
    .await
}

#[derive(FromRow)]
struct PrincipalRow {
    username: String,
    role: Role,
    lab_id: Option<i64>,
    lab_code: Option<String>,
    site_id: Option<i64>,
    site_code: Option<String>,
    institution_id: Option<i64>,
    institution_code: Option<String>,
    region: Option<String>,
}

impl PrincipalRow {
    fn actor(self) -> Actor {
        let role = self.role;
        let scope = match role.scope_kind() {
            None => Scope::Everywhere,
            Some("lab") => Scope::Lab {
                id: self.lab_id.unwrap_or(-1),
                code: self.lab_code.unwrap_or_default(),
            },
            Some("site") => Scope::Site {
                id: self.site_id.unwrap_or(-1),
                code: self.site_code.unwrap_or_default(),
            },
            Some("institution") => Scope::Institution {
                id: self.institution_id.unwrap_or(-1),
                code: self.institution_code.unwrap_or_default(),
            },
            Some(_) => Scope::Region(self.region.unwrap_or_else(|| "-".into())),
        };
        Actor {
            username: self.username,
            role,
            scope,
        }
    }
}

const PRINCIPAL_SELECT: &str =
    "SELECT u.username, u.role, u.lab_id, l.code AS lab_code, u.site_id, \
     s.code AS site_code, u.institution_id, i.code AS institution_code, u.region FROM app_user u \
     LEFT JOIN lab l ON l.id = u.lab_id LEFT JOIN site s ON s.id = u.site_id \
     LEFT JOIN institution i ON i.id = u.institution_id";

/// The actor of an active account whose credential has this secret hash and is live at `now`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn principal(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<Actor>, sqlx::Error> {
    let row: Option<PrincipalRow> = sqlx::query_as(&format!(
        "{PRINCIPAL_SELECT} JOIN api_token t ON t.user_id = u.id WHERE t.token_hash = $1 \
         AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled = 0"
    ))
    .bind(token_hash.to_string())
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(in_table("app_user"))?;
    Ok(row.map(PrincipalRow::actor))
}

/// Failed logins: of the account from the address since `since` and since `day`, and from the
/// address for any account since `since`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn failures(
    tx: &mut Tx,
    username: &str,
    address: &str,
    since: i64,
    day: i64,
) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM login_failure WHERE username = $1 AND address = $2 AND at > $3), \
           (SELECT COUNT(*) FROM login_failure WHERE username = $1 AND address = $2 AND at > $4), \
           (SELECT COUNT(*) FROM login_failure WHERE address = $2 AND at > $3)",
    )
    .bind(username.to_string())
    .bind(address.to_string())
    .bind(since)
    .bind(day)
    .fetch_one(tx.conn())
    .await
}

/// Records a failed login.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_failure(
    tx: &mut Tx,
    username: &str,
    address: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failure (username, address, at) VALUES ($1, $2, $3)")
        .bind(username.to_string())
        .bind(address.to_string())
        .bind(at)
        .execute(tx.conn())
        .await?;
    Ok(())
}
