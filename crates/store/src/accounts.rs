//! Accounts, sessions, API tokens and the record of logins, failures and denials.

use crate::db::Store;
use crate::error::{StoreError, unique_as_field};
use crate::write::WriteTx;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;
use zhifa_domain::{Principal, Role, Username};

/// An account as stored (without its password hash).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub agency_id: i64,
    pub person_id: Option<i64>,
    pub department_id: Option<i64>,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    pub version: i64,
}

/// A live session, resolved to the user it belongs to.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub principal: Principal,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub user_disabled: bool,
    /// Name of the user's agency, shown in the workbench frame.
    pub agency_name: String,
    pub department_name: Option<String>,
}

/// A fresh random secret (session id, CSRF token, API token): 256 bits, base64url.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a secret is stored: SHA-256, hex. A stolen database holds no usable session or token.
pub fn secret_hash(secret: &str) -> String {
    zhifa_ledger::hash::to_hex(&Sha256::digest(secret.as_bytes()))
}

/// The code of a session row: who it signs in, with which CSRF token, since when.
pub(crate) fn session_code(
    store: &Store,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    created_at: i64,
) -> String {
    let (user, at) = (user_id.to_string(), created_at.to_string());
    store.state_code("session", &[id_hash, &user, csrf, &at])
}

/// A pending login attempt older than this (its process died between reserving it and
/// checking the password) no longer holds a slot; it never counts as a failure.
pub const PENDING_STALE_MS: i64 = 30_000;

/// The code of a login attempt: a failure, or (`pending`) one being checked.
pub(crate) fn failure_code(
    store: &Store,
    username: &str,
    at: i64,
    client_ip: &str,
    pending: bool,
) -> String {
    let state = if pending { "pending" } else { "failed" };
    store.state_code(
        "login-attempt",
        &[username, &at.to_string(), client_ip, state],
    )
}

/// Login attempts of one user name, as far as their codes are valid.
struct Counted {
    failures: i64,
    pending: i64,
    /// The time of the latest failure.
    last: Option<i64>,
}

/// The failures of `username` at or after `since`, and the attempts still pending (not
/// stale at `now`), that carry a valid code: rows inserted or edited with SQL neither lock
/// an account nor hold a slot.
async fn counted_failures(
    store: &Store,
    conn: &mut sqlx::AnyConnection,
    username: &str,
    since: i64,
    now: i64,
) -> Result<Counted, StoreError> {
    let rows = sqlx::query(
        "SELECT at, client_ip, pending, mac FROM login_failures WHERE username = $1 AND at >= $2",
    )
    .bind(username.to_owned())
    .bind(since)
    .fetch_all(conn)
    .await?;
    let mut c = Counted {
        failures: 0,
        pending: 0,
        last: None,
    };
    for r in rows {
        let at: i64 = r.try_get("at")?;
        let ip: String = r.try_get("client_ip")?;
        let pending = r.try_get::<i64, _>("pending")? != 0;
        let mac: String = r.try_get("mac")?;
        if !crate::guard::same_secret(&mac, &failure_code(store, username, at, &ip, pending)) {
            continue;
        }
        if !pending {
            c.failures += 1;
            c.last = c.last.max(Some(at));
        } else if at >= now - PENDING_STALE_MS {
            c.pending += 1;
        }
    }
    Ok(c)
}

/// No account is written holding roles the 三员 rule forbids together, whoever writes it
/// (a page, the API, `zhifa init`, the demo).
fn check_roles(roles: &[Role]) -> Result<(), StoreError> {
    zhifa_domain::check_role_set(roles).map_err(|e| StoreError::field("roles", e.to_string()))
}

pub(crate) fn encode_roles(roles: &[Role]) -> String {
    let mut codes: Vec<&str> = roles.iter().map(|r| r.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes.join(",")
}

fn decode_roles(s: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = s.split(',').filter_map(Role::from_code).collect();
    roles.sort();
    roles
}

const USER_SELECT: &str =
    "SELECT u.id, u.agency_id, u.person_id, p.department_id, u.username, u.display_name,
        u.roles, u.disabled, u.version
     FROM users u LEFT JOIN people p ON p.id = u.person_id";

fn user(r: &AnyRow) -> Result<User, StoreError> {
    let roles: String = r.try_get("roles")?;
    Ok(User {
        id: r.try_get("id")?,
        agency_id: r.try_get("agency_id")?,
        person_id: r.try_get("person_id")?,
        department_id: r.try_get("department_id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        roles: decode_roles(&roles),
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        version: r.try_get("version")?,
    })
}

impl User {
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            agency_id: self.agency_id,
            department_id: self.department_id,
            roles: self.roles.clone(),
        }
    }
}

impl Store {
    pub async fn list_users(&self, agency_id: i64) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{USER_SELECT} WHERE u.agency_id = $1 ORDER BY u.id"
        )))
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user).collect()
    }

    pub async fn all_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{USER_SELECT} ORDER BY u.id")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user).collect()
    }

    pub async fn user(&self, id: i64) -> Result<User, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{USER_SELECT} WHERE u.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(user)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<User, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{USER_SELECT} WHERE u.username = $1"
        )))
        .bind(username.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(user)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The account and its password hash, for a login attempt.
    pub async fn login_candidate(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT x.*, u2.password_hash FROM ({USER_SELECT} WHERE u.username = $1) x
             JOIN users u2 ON u2.id = x.id"
        )))
        .bind(username.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((user(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    /// Failed logins for `username` at or after `since` (ms).
    pub async fn login_failures_since(
        &self,
        username: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let now = crate::now_ms();
        Ok(counted_failures(self, &mut conn, username, since, now)
            .await?
            .failures)
    }

    /// Reserves a login attempt for `username` atomically: under a lock per user name,
    /// counts the failures in the window and the attempts still being checked, and —
    /// unless the failures already reach `limit` — records this attempt as pending (its
    /// password is checked next). At most `limit` attempts are failed or pending at once,
    /// so parallel guesses cannot exceed the limit; an attempt that finds the other slots
    /// taken by pending ones waits for them, so a correct password is never turned away
    /// by the others' (twelve logins at once all succeed). A wrong password turns the
    /// attempt into a failure ([`Store::confirm_login_failure`]); a right one removes it
    /// ([`WriteTx::create_session`]); a pending attempt left by a crash is ignored after
    /// [`PENDING_STALE_MS`] and never counts as a failure.
    pub async fn reserve_login_attempt(
        &self,
        username: &str,
        client_ip: &str,
        now: i64,
        window_ms: i64,
        limit: i64,
    ) -> Result<LoginAttempt, StoreError> {
        let started = std::time::Instant::now();
        loop {
            let now = now.max(crate::now_ms());
            let _turn = self.sqlite_turn().await;
            let mut tx = self.lock_login_name(username).await?;
            let counted = counted_failures(self, &mut tx, username, now - window_ms, now).await?;
            if counted.failures >= limit {
                tx.commit().await?;
                return Ok(LoginAttempt::Locked {
                    until: counted.last.unwrap_or(now) + window_ms,
                });
            }
            if counted.failures + counted.pending < limit {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO login_failures (username, at, client_ip, pending, mac)
                     VALUES ($1, $2, $3, 1, $4) RETURNING id",
                )
                .bind(username.to_owned())
                .bind(now)
                .bind(client_ip.to_owned())
                .bind(failure_code(self, username, now, client_ip, true))
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(LoginAttempt::Reserved { attempt: id });
            }
            tx.commit().await?;
            drop(_turn);
            if started.elapsed() > std::time::Duration::from_secs(10) {
                return Ok(LoginAttempt::Busy);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Turns a pending attempt into a counted failure (its password was wrong), under the
    /// same lock as [`Store::reserve_login_attempt`]; returns how many failures the name
    /// has in the window now (the one that reaches the limit is the one that locks).
    pub async fn confirm_login_failure(
        &self,
        attempt: i64,
        username: &str,
        window_ms: i64,
    ) -> Result<i64, StoreError> {
        let _turn = self.sqlite_turn().await;
        let mut tx = self.lock_login_name(username).await?;
        let row = sqlx::query("SELECT at, client_ip FROM login_failures WHERE id = $1")
            .bind(attempt)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(r) = row {
            let (at, ip): (i64, String) = (r.try_get("at")?, r.try_get("client_ip")?);
            sqlx::query("UPDATE login_failures SET pending = 0, mac = $1 WHERE id = $2")
                .bind(failure_code(self, username, at, &ip, false))
                .bind(attempt)
                .execute(&mut *tx)
                .await?;
        }
        let now = crate::now_ms();
        let counted = counted_failures(self, &mut tx, username, now - window_ms, now).await?;
        tx.commit().await?;
        Ok(counted.failures)
    }

    /// A transaction holding the lock of one login name (SQLite: the write lock, taken by
    /// this process's writers in turn; PostgreSQL: an advisory lock on the name's hash).
    async fn lock_login_name(
        &self,
        username: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend() {
            crate::Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            crate::Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                let digest = Sha256::digest(username.as_bytes());
                let key = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        })
    }

    /// Releases the login attempts still pending that were reserved before `before`: at
    /// the start of the only server of a data directory (its lock proves that no other
    /// process is checking them), they were left by a process that died checking them —
    /// kill -9 between reserving and deciding. They never counted as failures; released,
    /// they no longer take the slots a right password would wait for.
    pub async fn release_pending_logins(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM login_failures WHERE pending = 1 AND at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Forgets failures older than `before` (operational clean-up).
    pub async fn purge_login_failures(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Resolves a session id hash to its user in one query (the hot path of every page).
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        // The user's columns are all those of its snapshot, so the row can be checked
        // against the log (`user_is_intact`).
        let row = sqlx::query(
            "SELECT s.csrf_token, s.mac, s.created_at AS session_created_at, s.last_seen_at,
                    u.id, u.agency_id, u.person_id, u.username, u.display_name, u.password_hash,
                    u.roles, u.disabled, u.version, u.created_at, u.updated_at, p.department_id,
                    a.name AS agency_name, d.name AS department_name
             FROM sessions s JOIN users u ON u.id = s.user_id
             JOIN agencies a ON a.id = u.agency_id
             LEFT JOIN people p ON p.id = u.person_id
             LEFT JOIN departments d ON d.id = p.department_id
             WHERE s.id_hash = $1",
        )
        .bind(id_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let user_id: i64 = r.try_get("id")?;
        let csrf: String = r.try_get("csrf_token")?;
        let created_at: i64 = r.try_get("session_created_at")?;
        let mac: String = r.try_get("mac")?;
        let expected = session_code(self, id_hash, user_id, &csrf, created_at);
        if !crate::guard::same_secret(&mac, &expected) {
            // Inserted or edited behind zhifa's back (or made before sessions had codes):
            // it grants nothing, and `verify` names it.
            tracing::warn!(user_id, "a session row without a valid code was presented");
            return Ok(None);
        }
        self.user_is_intact(user_id, crate::snapshot::of_row("user", &r)?)
            .await?;
        let roles: String = r.try_get("roles")?;
        Ok(Some(SessionRecord {
            principal: Principal {
                user_id: r.try_get("id")?,
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                agency_id: r.try_get("agency_id")?,
                department_id: r.try_get("department_id")?,
                roles: decode_roles(&roles),
            },
            csrf_token: csrf,
            created_at,
            last_seen_at: r.try_get("last_seen_at")?,
            user_disabled: r.try_get::<i64, _>("disabled")? != 0,
            agency_name: r.try_get("agency_name")?,
            department_name: r.try_get("department_name")?,
        }))
    }

    /// Notes activity on a session. Operational state, not a change of record: it is
    /// deliberately outside the journalled write path, and callers throttle it.
    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops sessions idle since `idle_before` or created before `created_before`
    /// (operational clean-up of expired state; the logins themselves stay journalled).
    pub async fn purge_sessions(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(created_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes one expired session (operational, see [`Store::purge_sessions`]).
    pub async fn expire_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What an API token grants, if the token is not revoked and its user enabled; its
    /// terms (expiry, read-only) are for the caller to apply to the request
    /// ([`TokenGrant::check`]). The token's row and its user's are checked against the
    /// log: a token row inserted or edited with SQL — its terms too — has no genuine
    /// entry, and grants nothing.
    pub async fn token_grant(&self, token: &str) -> Result<Option<TokenGrant>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.id AS token_id, t.created_at AS token_created_at, t.expires_at AS token_expires_at,
                    t.read_only AS token_read_only, {} FROM api_tokens t JOIN users u ON u.id = t.user_id
             LEFT JOIN people p ON p.id = u.person_id
             WHERE t.token_hash = $1 AND t.revoked = 0 AND u.disabled = 0",
            USER_SELECT
                .trim_start_matches("SELECT ")
                .split(" FROM ")
                .next()
                .expect("a select list")
        )))
        .bind(secret_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let u = user(&r)?;
        let token_id: i64 = r.try_get("token_id")?;
        self.check_row(crate::Actor::User(u.id), "api_token", token_id)
            .await?;
        let snapshot = {
            let mut conn = self.pool.acquire().await?;
            crate::snapshot::read(&mut conn, "user", u.id).await?
        };
        if let Some(snapshot) = snapshot {
            self.user_is_intact(u.id, snapshot).await?;
        }
        Ok(Some(TokenGrant {
            principal: u.principal(),
            created_at: r.try_get("token_created_at")?,
            expires_at: r.try_get("token_expires_at")?,
            read_only: r.try_get::<i64, _>("token_read_only")? != 0,
        }))
    }

    /// Checks a user row, as just read (`snapshot`), against the log — unless the same
    /// state was found intact before. Refuses a user changed behind zhifa's back (a role
    /// or a password hash written with SQL).
    async fn user_is_intact(&self, id: i64, snapshot: String) -> Result<(), StoreError> {
        if self.backend() == crate::Backend::Sqlite && self.intact.holds("user", id, &snapshot) {
            return Ok(());
        }
        self.check_row(crate::Actor::User(id), "user", id).await
    }
}

/// What a live API token grants: its user's principal, on its terms.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub principal: Principal,
    pub created_at: i64,
    /// `None` for a token made before tokens had terms.
    pub expires_at: Option<i64>,
    pub read_only: bool,
}

impl TokenGrant {
    /// Whether the token may make a request (that changes state or not) at `now`:
    /// [`zhifa_domain::token::check_use`].
    pub fn check(
        &self,
        changes_state: bool,
        now: i64,
    ) -> Result<(), zhifa_domain::token::TokenRefusal> {
        zhifa_domain::token::check_use(
            self.created_at,
            self.expires_at,
            self.read_only,
            changes_state,
            now,
        )
    }
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub revoked: bool,
    pub created_at: i64,
    /// When it expires ([`zhifa_domain::token::expiry`]).
    pub expires_at: i64,
    pub read_only: bool,
}

impl Store {
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, t.user_id, u.username, t.name, t.revoked, t.created_at, t.expires_at, t.read_only
             FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    username: r.try_get("username")?,
                    name: r.try_get("name")?,
                    revoked: r.try_get::<i64, _>("revoked")? != 0,
                    created_at: r.try_get("created_at")?,
                    expires_at: zhifa_domain::token::expiry(
                        r.try_get("created_at")?,
                        r.try_get("expires_at")?,
                    ),
                    read_only: r.try_get::<i64, _>("read_only")? != 0,
                })
            })
            .collect()
    }
}

/// The outcome of [`Store::reserve_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// Too many recent failures: do not check the password.
    Locked { until: i64 },
    /// Go ahead: the attempt is pending until its password is checked.
    Reserved { attempt: i64 },
    /// Other attempts for this name held every slot for too long: try again later.
    Busy,
}

/// What to record of a refused request.
#[derive(Debug, Clone, Serialize)]
pub struct Denial<'a> {
    pub capability: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub client_ip: &'a str,
}

impl WriteTx {
    pub async fn create_user(
        &mut self,
        agency_id: i64,
        person_id: Option<i64>,
        username: &Username,
        display_name: &str,
        password_hash: &str,
        roles: &[Role],
    ) -> Result<i64, StoreError> {
        check_roles(roles)?;
        if let Some(p) = person_id {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM people WHERE id = $1 AND agency_id = $2")
                    .bind(p)
                    .bind(agency_id)
                    .fetch_one(self.conn())
                    .await?;
            if n == 0 {
                return Err(StoreError::field("person_id", "所选人员不属于本单位"));
            }
        }
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = $1")
            .bind(username.as_str().to_owned())
            .fetch_one(self.conn())
            .await?;
        if taken > 0 {
            return Err(StoreError::field("username", "该用户名已被使用"));
        }
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (agency_id, person_id, username, display_name, password_hash, roles, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(agency_id)
        .bind(person_id)
        .bind(username.as_str().to_owned())
        .bind(display_name.to_owned())
        .bind(password_hash.to_owned())
        .bind(encode_roles(roles))
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "username", "该用户名已被使用"))?;
        self.record_row(agency_id, "user.create", "user", id)
            .await?;
        Ok(id)
    }

    async fn user_agency(&mut self, id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT agency_id FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn set_user_roles(
        &mut self,
        id: i64,
        version: i64,
        roles: &[Role],
    ) -> Result<(), StoreError> {
        check_roles(roles)?;
        let agency_id = self.user_agency(id).await?;
        self.guard_row("user", id).await?;
        let done = sqlx::query(
            "UPDATE users SET roles = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4",
        )
        .bind(encode_roles(roles))
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(agency_id, "user.roles", "user", id).await?;
        Ok(())
    }

    /// Sets a new password hash and ends the user's other sessions.
    pub async fn set_user_password(
        &mut self,
        id: i64,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let agency_id = self.user_agency(id).await?;
        self.guard_row("user", id).await?;
        sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2, version = version + 1 WHERE id = $3",
        )
        .bind(password_hash.to_owned())
        .bind(self.now())
        .bind(id)
        .execute(self.conn())
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        // A new password also lifts a lockout (the failures were against the old one).
        sqlx::query(
            "DELETE FROM login_failures WHERE username = (SELECT username FROM users WHERE id = $1)",
        )
        .bind(id)
        .execute(self.conn())
        .await?;
        // The snapshot carries only a digest of the new hash.
        self.record_row(agency_id, "user.password", "user", id)
            .await?;
        self.revoke_tokens_of(agency_id, id).await
    }

    /// Revokes every live API token of a user (each revocation is a ledgered change).
    async fn revoke_tokens_of(&mut self, agency_id: i64, user_id: i64) -> Result<(), StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM api_tokens WHERE user_id = $1 AND revoked = 0 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.conn())
        .await?;
        self.guard_rows_where("api_token", "user_id = $1", user_id)
            .await?;
        for token in ids {
            sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1")
                .bind(token)
                .execute(self.conn())
                .await?;
            self.record_row(agency_id, "token.revoke", "api_token", token)
                .await?;
        }
        Ok(())
    }

    /// Revokes one API token.
    pub async fn revoke_token(&mut self, token_id: i64) -> Result<(), StoreError> {
        let agency_id: i64 = sqlx::query_scalar(
            "SELECT u.agency_id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
        )
        .bind(token_id)
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        self.guard_row("api_token", token_id).await?;
        sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1")
            .bind(token_id)
            .execute(self.conn())
            .await?;
        self.record_row(agency_id, "token.revoke", "api_token", token_id)
            .await
    }

    /// Clears the failed-login count of a user (an administrator's unlock).
    pub async fn unlock_user(&mut self, id: i64) -> Result<(), StoreError> {
        let agency_id = self.user_agency(id).await?;
        sqlx::query(
            "DELETE FROM login_failures WHERE username = (SELECT username FROM users WHERE id = $1)",
        )
        .bind(id)
        .execute(self.conn())
        .await?;
        self.record_event(
            Some(agency_id),
            "auth.unlock",
            "user",
            id,
            serde_json::json!({}),
        );
        Ok(())
    }

    /// Disables or re-enables an account; disabling ends its sessions and tokens at once.
    pub async fn set_user_disabled(&mut self, id: i64, disabled: bool) -> Result<(), StoreError> {
        let agency_id = self.user_agency(id).await?;
        self.guard_row("user", id).await?;
        sqlx::query(
            "UPDATE users SET disabled = $1, updated_at = $2, version = version + 1 WHERE id = $3",
        )
        .bind(i64::from(disabled))
        .bind(self.now())
        .bind(id)
        .execute(self.conn())
        .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(self.conn())
                .await?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.record_row(agency_id, action, "user", id).await?;
        if disabled {
            self.revoke_tokens_of(agency_id, id).await?;
        }
        Ok(())
    }

    /// Starts a session after a successful login, ending the one it replaces (rotation).
    pub async fn create_session(
        &mut self,
        user: &User,
        id_hash: &str,
        csrf_token: &str,
        client_ip: &str,
        replaces: Option<&str>,
        attempt: Option<i64>,
    ) -> Result<(), StoreError> {
        if let Some(a) = attempt {
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(a)
                .execute(self.conn())
                .await?;
        }
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(old.to_owned())
                .execute(self.conn())
                .await?;
        }
        // The password just checked was the user's as its entries recorded it.
        self.guard_row("user", user.id).await?;
        let now = self.now();
        let mac = session_code(self.store(), id_hash, user.id, csrf_token, now);
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, client_ip, mac)
             VALUES ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(id_hash.to_owned())
        .bind(user.id)
        .bind(csrf_token.to_owned())
        .bind(now)
        .bind(client_ip.to_owned())
        .bind(mac)
        .execute(self.conn())
        .await?;
        self.record_event(
            Some(user.agency_id),
            "auth.login",
            "user",
            user.id,
            serde_json::json!({ "client_ip": client_ip }),
        );
        Ok(())
    }

    pub async fn end_session(
        &mut self,
        principal: &Principal,
        id_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .execute(self.conn())
            .await?;
        self.record_event(
            Some(principal.agency_id),
            "auth.logout",
            "user",
            principal.user_id,
            serde_json::json!({}),
        );
        Ok(())
    }

    /// Records a failed login (counted already by [`Store::reserve_login_attempt`]).
    /// `locked_now` marks the failure that triggers a lockout.
    pub async fn record_login_failure(
        &mut self,
        username: &str,
        known_user: Option<&User>,
        client_ip: &str,
        reason: &'static str,
        locked_now: bool,
    ) -> Result<(), StoreError> {
        // The subject is the account when it exists; a typed name (which may be a
        // mistyped password) stays in the erasable payload, never in the public entry.
        let agency = known_user.map(|u| u.agency_id);
        let subject = known_user
            .map(|u| u.id.to_string())
            .unwrap_or_else(|| "unknown".into());
        let kind = if known_user.is_some() {
            "user"
        } else {
            "username"
        };
        let typed: String = username.chars().take(64).collect();
        self.record_event(
            agency,
            "auth.login_failed",
            kind,
            &subject,
            serde_json::json!({ "reason": reason, "client_ip": client_ip, "username": typed }),
        );
        if locked_now {
            self.record_event(
                agency,
                "auth.locked",
                kind,
                &subject,
                serde_json::json!({ "client_ip": client_ip, "username": typed }),
            );
        }
        Ok(())
    }

    /// Records a refused request (a permission denial).
    pub async fn record_denial(
        &mut self,
        principal: &Principal,
        denial: &Denial<'_>,
    ) -> Result<(), StoreError> {
        self.record_event(
            Some(principal.agency_id),
            "access.denied",
            "user",
            principal.user_id,
            denial,
        );
        Ok(())
    }

    /// Records a request refused before any permission check (CSRF, origin, bad token),
    /// in the security log (anonymous ones with no agency).
    pub async fn record_refusal(
        &mut self,
        principal: Option<&Principal>,
        what: &'static str,
        method: &str,
        path: &str,
        client_ip: &str,
    ) -> Result<(), StoreError> {
        let path: String = path.chars().take(200).collect();
        let (agency, subject) = match principal {
            Some(p) => (Some(p.agency_id), p.user_id.to_string()),
            None => (None, "anonymous".to_owned()),
        };
        self.record_event(
            agency,
            "access.refused",
            "user",
            subject,
            serde_json::json!({ "check": what, "method": method, "path": path, "client_ip": client_ip }),
        );
        Ok(())
    }

    /// Records, in the installation's log, that an agency's log was created.
    pub(crate) fn record_log_created(
        &mut self,
        log_id: i64,
        name: &str,
        alg: zhifa_ledger::HashAlg,
    ) {
        self.record_event(
            None,
            "ledger.log_create",
            "log",
            log_id,
            serde_json::json!({ "origin": crate::ledger::origin_for(name), "hash_algorithm": alg.code() }),
        );
    }

    /// Records that a log's signing key was replaced (the public key is in the payload).
    pub(crate) fn record_key_rotation(
        &mut self,
        agency: Option<i64>,
        log_id: i64,
        verifier_key: &str,
    ) {
        self.record_event_in(
            log_id,
            agency,
            "ledger.key_rotate",
            "log",
            log_id,
            serde_json::json!({ "verifier_key": verifier_key }),
        );
    }

    /// Stores an API token by its hash, on its terms; the token itself is shown once by
    /// the caller.
    pub async fn create_api_token(
        &mut self,
        user: &User,
        name: &str,
        token: &str,
        terms: &zhifa_domain::token::TokenTerms,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at, read_only)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user.id)
        .bind(name.to_owned())
        .bind(secret_hash(token))
        .bind(self.now())
        .bind(terms.expires_at())
        .bind(i64::from(terms.read_only()))
        .fetch_one(self.conn())
        .await?;
        self.record_row(user.agency_id, "token.create", "api_token", id)
            .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_sorted_and_unique() {
        let s = encode_roles(&[Role::Officer, Role::Admin, Role::Officer]);
        assert_eq!(s, "admin,officer");
        assert_eq!(decode_roles(&s), vec![Role::Admin, Role::Officer]);
        assert_eq!(decode_roles("bogus,,leader"), vec![Role::Leader]);
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret();
        assert_ne!(a, new_secret());
        assert_eq!(secret_hash(&a).len(), 64);
    }
}
