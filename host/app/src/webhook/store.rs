//! Webhook records, written once for both durable backends ([`Sql`]).
//!
//! - `webhooks`: the subscriptions, each with `staged_seq`, the outbox
//!   position up to which its messages were staged.
//! - `deliveries`: one row per (endpoint, message), from staging on. At
//!   most one delivery per endpoint and ticket is `pending`; the ticket's
//!   later ones are `waiting` and the oldest of them is promoted when the
//!   pending one is `delivered` or finally `failed`. That is what keeps
//!   each ticket's messages in order while other tickets' go in parallel.
//! - `delivery_attempts`: every attempt, with its answer and duration.
//!
//! Whatever changes which delivery of a ticket is pending (staging,
//! finishing, replaying) first locks the endpoint's row, so on PostgreSQL
//! a message staged as waiting behind one that a concurrent transaction
//! is finishing is always seen and promoted by one of the two.
//!
//! A sender claims due deliveries for a lease (on PostgreSQL with `SKIP
//! LOCKED`, so replicas share the work), sends, and records the results;
//! a sender that dies holding a claim only delays the delivery by the
//! lease, and a result for a delivery someone else has since finished is
//! recorded as an attempt and changes nothing else.

use super::{Attempt, AttemptResult, Claimed, Delivery, Webhook, schedule};
use crate::sql::{Sql, SqlRow, args};
use crate::store::StoreError;
use docket_engine::outcome::Message;
use std::collections::HashMap;

/// The tables, the same text for SQLite and PostgreSQL (SQLite reads
/// `BIGINT` as an integer).
pub const SCHEMA: &str = r#"
CREATE TABLE webhooks (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    types TEXT NOT NULL,            -- JSON list of message types; [] = all
    description TEXT NOT NULL,
    secret TEXT NOT NULL,           -- whsec_..., signs every attempt
    previous_secret TEXT,           -- after a rotation, also signs until:
    previous_until BIGINT,
    created_at BIGINT NOT NULL,
    staged_seq BIGINT NOT NULL,     -- outbox position staged up to
    failing_since BIGINT,           -- first failure since the last success
    disabled_at BIGINT,
    disabled_reason TEXT,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE deliveries (
    tenant TEXT NOT NULL,
    webhook TEXT NOT NULL,
    seq BIGINT NOT NULL,            -- the message's outbox position
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    ticket TEXT NOT NULL,
    state TEXT NOT NULL,            -- waiting, pending, delivered, failed
    attempts BIGINT NOT NULL,       -- made, over the delivery's life
    round_start BIGINT NOT NULL,    -- attempts before the last replay
    next_at BIGINT,                 -- pending: when the next attempt is due
    lease_until BIGINT NOT NULL,    -- claimed by a sender until then
    staged_at BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (tenant, webhook, seq)
);
CREATE INDEX deliveries_due ON deliveries (tenant, webhook, next_at) WHERE state = 'pending';
CREATE INDEX deliveries_open ON deliveries (tenant, webhook, ticket, seq) WHERE state IN ('waiting', 'pending');
CREATE INDEX deliveries_by_message ON deliveries (tenant, webhook, message_id);
CREATE INDEX deliveries_by_state ON deliveries (tenant, webhook, state, seq);
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE state IN ('delivered', 'failed');
CREATE INDEX outbox_by_time ON outbox (tenant, at);
CREATE TABLE delivery_attempts (
    tenant TEXT NOT NULL,
    webhook TEXT NOT NULL,
    seq BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    PRIMARY KEY (tenant, webhook, seq, attempt)
);
"#;

/// The tables a tenant's webhook records live in (deleted with it).
pub const TABLES: [&str; 3] = ["webhooks", "deliveries", "delivery_attempts"];

/// A subscription's stored fields, for [`insert`].
#[derive(Debug, Clone)]
pub struct WebhookRow<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Id.
    pub id: &'a str,
    /// URL (checked).
    pub url: &'a str,
    /// Message types (checked); empty: all.
    pub types: &'a [String],
    /// Description.
    pub description: &'a str,
    /// Secret's text form.
    pub secret: &'a str,
    /// Now.
    pub created_at: i64,
}

const WEBHOOK_COLUMNS: &str = "id, url, types, description, created_at, failing_since, disabled_at, disabled_reason, staged_seq";

fn webhook(r: &SqlRow) -> Result<Webhook, StoreError> {
    let types: Vec<String> = serde_json::from_str(&r.text(2)?)
        .map_err(|e| StoreError::Backend(format!("a webhook's stored types: {e}")))?;
    let disabled_at = r.opt_int(6)?;
    Ok(Webhook {
        id: r.text(0)?,
        url: r.text(1)?,
        types,
        description: r.text(3)?,
        created_at: r.int(4)?,
        state: if disabled_at.is_some() {
            "disabled"
        } else {
            "enabled"
        }
        .into(),
        failing_since: r.opt_int(5)?,
        disabled_at,
        disabled_reason: r.opt_text(7)?,
        staged_through: r.int(8)? as u64,
    })
}

/// Adds a subscription; it receives the messages committed from now on
/// (its staging starts at the tenant's current outbox position).
///
/// # Errors
/// When the backend fails.
pub fn insert(sql: &mut dyn Sql, w: &WebhookRow<'_>) -> Result<Webhook, StoreError> {
    let types = serde_json::to_string(w.types).expect("strings serialize");
    sql.exec(
        "INSERT INTO webhooks (tenant, id, url, types, description, secret, created_at, staged_seq)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, outbox_seq FROM tenants WHERE id = ?1",
        args![
            w.tenant,
            w.id,
            w.url,
            types.as_str(),
            w.description,
            w.secret,
            w.created_at
        ],
    )?;
    get(sql, w.tenant, w.id)?
        .ok_or_else(|| StoreError::Backend(format!("tenant `{}` is gone", w.tenant)))
}

/// A tenant's subscriptions, oldest first.
///
/// # Errors
/// When the backend fails.
pub fn list(sql: &mut dyn Sql, tenant: &str) -> Result<Vec<Webhook>, StoreError> {
    sql.rows(
        &format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = ?1 ORDER BY created_at, id"
        ),
        args![tenant],
    )?
    .iter()
    .map(webhook)
    .collect()
}

/// One subscription.
///
/// # Errors
/// When the backend fails.
pub fn get(sql: &mut dyn Sql, tenant: &str, id: &str) -> Result<Option<Webhook>, StoreError> {
    sql.row(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = ?1 AND id = ?2"),
        args![tenant, id],
    )?
    .as_ref()
    .map(webhook)
    .transpose()
}

/// Changes a subscription's URL, types and description (`None`: kept).
///
/// # Errors
/// When the backend fails.
pub fn set_fields(
    sql: &mut dyn Sql,
    tenant: &str,
    id: &str,
    url: Option<&str>,
    types: Option<&[String]>,
    description: Option<&str>,
) -> Result<bool, StoreError> {
    let types = types.map(|t| serde_json::to_string(t).expect("strings serialize"));
    let n = sql.exec(
        "UPDATE webhooks SET url = COALESCE(?3, url), types = COALESCE(?4, types),
                description = COALESCE(?5, description)
         WHERE tenant = ?1 AND id = ?2",
        args![tenant, id, url, types.as_deref(), description],
    )?;
    Ok(n > 0)
}

/// Disables a subscription (`reason` says why) or enables it again,
/// clearing its failure record.
///
/// # Errors
/// When the backend fails.
pub fn set_enabled(
    sql: &mut dyn Sql,
    tenant: &str,
    id: &str,
    disabled: Option<(&str, i64)>,
) -> Result<bool, StoreError> {
    let n = match disabled {
        Some((reason, now)) => sql.exec(
            "UPDATE webhooks SET disabled_at = COALESCE(disabled_at, ?3),
                    disabled_reason = COALESCE(disabled_reason, ?4)
             WHERE tenant = ?1 AND id = ?2",
            args![tenant, id, now, reason],
        )?,
        None => sql.exec(
            "UPDATE webhooks SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL
             WHERE tenant = ?1 AND id = ?2",
            args![tenant, id],
        )?,
    };
    Ok(n > 0)
}

/// Gives a subscription a new secret; the old one keeps signing (beside
/// the new) until `old_until`, so receivers can switch without losing a
/// message.
///
/// # Errors
/// When the backend fails.
pub fn rotate(
    sql: &mut dyn Sql,
    tenant: &str,
    id: &str,
    secret: &str,
    old_until: i64,
) -> Result<bool, StoreError> {
    let n = sql.exec(
        "UPDATE webhooks SET previous_secret = secret, previous_until = ?4, secret = ?3
         WHERE tenant = ?1 AND id = ?2",
        args![tenant, id, secret, old_until],
    )?;
    Ok(n > 0)
}

/// Deletes a subscription with its deliveries and attempts.
///
/// # Errors
/// When the backend fails.
pub fn delete(sql: &mut dyn Sql, tenant: &str, id: &str) -> Result<bool, StoreError> {
    for table in ["delivery_attempts", "deliveries"] {
        sql.exec(
            &format!("DELETE FROM {table} WHERE tenant = ?1 AND webhook = ?2"),
            args![tenant, id],
        )?;
    }
    Ok(sql.exec(
        "DELETE FROM webhooks WHERE tenant = ?1 AND id = ?2",
        args![tenant, id],
    )? > 0)
}

/// Locks an endpoint's row until the transaction ends (see the module
/// documentation).
fn lock_endpoint(sql: &mut dyn Sql, tenant: &str, webhook: &str) -> Result<(), StoreError> {
    let lock = sql.dialect().for_update();
    sql.rows(
        &format!("SELECT 1 FROM webhooks WHERE tenant = ?1 AND id = ?2{lock}"),
        args![tenant, webhook],
    )?;
    Ok(())
}

/// SQL, true when endpoint `?1`/`?2` has an undelivered (waiting or
/// pending) message of `ticket` (a parameter): such a ticket's next
/// message waits behind it. One text for every statement that asks, so
/// staging and replaying agree.
fn ticket_busy(ticket: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM deliveries WHERE tenant = ?1 AND webhook = ?2
            AND ticket = {ticket} AND state IN ('waiting', 'pending'))"
    )
}

/// Stages the messages committed since each enabled endpoint's position,
/// at most `limit` per endpoint and pass: a delivery per message of a
/// subscribed type, pending (due now) unless its ticket already has one
/// undelivered, then waiting. Returns how many were staged.
///
/// # Errors
/// When the backend fails.
pub fn stage(sql: &mut dyn Sql, now: i64, limit: usize) -> Result<usize, StoreError> {
    // On PostgreSQL each endpoint is staged by one replica at a time (the
    // others skip it); the tenants row is read, not locked, so events keep
    // committing meanwhile.
    let lock = match sql.dialect() {
        crate::sql::Dialect::Sqlite => "",
        crate::sql::Dialect::Postgres => " FOR UPDATE OF w SKIP LOCKED",
    };
    let endpoints = sql.rows(
        &format!(
            "SELECT w.tenant, w.id, w.staged_seq, w.types FROM webhooks w JOIN tenants t ON t.id = w.tenant
             WHERE w.disabled_at IS NULL AND w.staged_seq < t.outbox_seq{lock}"
        ),
        &[],
    )?;
    // Waiting when the ticket has an undelivered message already (one
    // statement: the check and the insert).
    let insert = format!(
        "INSERT INTO deliveries (tenant, webhook, seq, message_id, type, ticket, state,
            attempts, round_start, next_at, lease_until, staged_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN b.busy THEN 'waiting' ELSE 'pending' END,
            0, 0, CASE WHEN b.busy THEN NULL ELSE ?7 END, 0, ?7
         FROM (SELECT {} AS busy) b
         WHERE true
         ON CONFLICT DO NOTHING",
        ticket_busy("?6")
    );
    let mut staged = 0;
    for e in &endpoints {
        let (tenant, id, from) = (e.text(0)?, e.text(1)?, e.int(2)?);
        let types: Vec<String> = serde_json::from_str(&e.text(3)?)
            .map_err(|e| StoreError::Backend(format!("a webhook's stored types: {e}")))?;
        let messages = sql.rows(
            "SELECT seq, id, type, ticket FROM outbox WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            args![tenant.as_str(), from, limit as i64],
        )?;
        let mut last = from;
        for m in &messages {
            let (seq, message_id, kind, ticket) = (m.int(0)?, m.text(1)?, m.text(2)?, m.text(3)?);
            last = seq;
            if !types.is_empty() && !types.contains(&kind) {
                continue;
            }
            staged += sql.exec(
                &insert,
                args![
                    tenant.as_str(),
                    id.as_str(),
                    seq,
                    message_id.as_str(),
                    kind.as_str(),
                    ticket.as_str(),
                    now
                ],
            )? as usize;
        }
        sql.exec(
            "UPDATE webhooks SET staged_seq = ?3 WHERE tenant = ?1 AND id = ?2 AND staged_seq < ?3",
            args![tenant.as_str(), id.as_str(), last],
        )?;
    }
    Ok(staged)
}

/// An endpoint, as (tenant, id).
pub type EndpointKey = (String, String);

/// Claims due deliveries until `lease_until`: per enabled endpoint, at most
/// `per_endpoint` minus what `in_flight` says this sender already has
/// there, and at most `total` in all. Each comes with its message and
/// what to sign it with.
///
/// # Errors
/// When the backend fails.
pub fn claim(
    sql: &mut dyn Sql,
    now: i64,
    lease_until: i64,
    per_endpoint: usize,
    in_flight: &HashMap<EndpointKey, usize>,
    total: usize,
) -> Result<Vec<Claimed>, StoreError> {
    let endpoints = sql.rows(
        "SELECT w.tenant, w.id, w.url, w.secret, w.previous_secret, w.previous_until FROM webhooks w
         WHERE w.disabled_at IS NULL AND EXISTS (
            SELECT 1 FROM deliveries d WHERE d.tenant = w.tenant AND d.webhook = w.id
            AND d.state = 'pending' AND d.next_at <= ?1 AND d.lease_until <= ?1)",
        args![now],
    )?;
    let mut claimed = Vec::new();
    for e in &endpoints {
        let key = (e.text(0)?, e.text(1)?);
        let busy = in_flight.get(&key).copied().unwrap_or(0);
        let room = per_endpoint
            .saturating_sub(busy)
            .min(total.saturating_sub(claimed.len()));
        if room == 0 {
            continue;
        }
        let mut secrets = vec![e.text(3)?];
        if let (Some(previous), Some(until)) = (e.opt_text(4)?, e.opt_int(5)?)
            && until > now
        {
            secrets.push(previous);
        }
        let (tenant, webhook) = key;
        let rows = sql.rows(
            &format!(
                "SELECT d.seq, d.attempts, o.id, o.type, o.ticket, o.event_id, o.at, o.data
                 FROM deliveries d JOIN outbox o ON o.tenant = d.tenant AND o.seq = d.seq
                 WHERE d.tenant = ?1 AND d.webhook = ?2 AND d.state = 'pending'
                 AND d.next_at <= ?3 AND d.lease_until <= ?3
                 ORDER BY d.next_at, d.seq LIMIT ?4{}",
                sql.dialect().skip_locked()
            ),
            args![tenant.as_str(), webhook.as_str(), now, room as i64],
        )?;
        for r in &rows {
            let seq = r.int(0)?;
            sql.exec(
                "UPDATE deliveries SET lease_until = ?4 WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3",
                args![tenant.as_str(), webhook.as_str(), seq, lease_until],
            )?;
            let message = Message {
                id: r.text(2)?,
                kind: r.text(3)?,
                ticket: r.text(4)?,
                event_id: r.text(5)?,
                at: r.int(6)?,
                data: serde_json::Value::Null,
            };
            claimed.push(Claimed {
                tenant: tenant.clone(),
                webhook: webhook.clone(),
                url: e.text(2)?,
                secrets: secrets.clone(),
                attempt: r.int(1)? as u32 + 1,
                seq: seq as u64,
                body: super::payload(seq as u64, &message, &r.text(7)?),
                message_id: message.id,
            });
        }
    }
    Ok(claimed)
}

/// Makes the oldest waiting delivery of the ticket pending, due now.
fn promote_next(
    sql: &mut dyn Sql,
    tenant: &str,
    webhook: &str,
    ticket: &str,
    now: i64,
) -> Result<(), StoreError> {
    sql.exec(
        // The finished delivery was the ticket's one pending, so the
        // oldest open one is the oldest waiting; asked so, the query reads
        // the open deliveries' index.
        "UPDATE deliveries SET state = 'pending', next_at = ?4
         WHERE tenant = ?1 AND webhook = ?2 AND state = 'waiting' AND seq = (
            SELECT MIN(seq) FROM deliveries WHERE tenant = ?1 AND webhook = ?2 AND ticket = ?3
            AND state IN ('waiting', 'pending'))",
        args![tenant, webhook, ticket, now],
    )?;
    Ok(())
}

/// What the retry policy is, for [`finish`].
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy<'a> {
    /// Delay before each attempt, ms.
    pub schedule_ms: &'a [u64],
    /// Disable an endpoint failing for this long, ms.
    pub disable_after_ms: i64,
}

/// What a batch of results says of an endpoint's health.
struct EndpointHealth<'a> {
    /// (tenant, id).
    endpoint: (&'a str, &'a str),
    /// The last success in the batch.
    last_success: Option<i64>,
    /// The first failure in the batch.
    first_failure: Option<i64>,
}

/// Records attempts: each is listed; a success delivers the message and
/// clears the endpoint's failure record; a failure schedules the next
/// attempt, or fails the delivery after the last one. Either way a
/// finished delivery lets its ticket's next message go. An endpoint that
/// has failed for `disable_after_ms` is disabled.
///
/// # Errors
/// When the backend fails.
pub fn finish(
    sql: &mut dyn Sql,
    results: &[AttemptResult],
    policy: RetryPolicy<'_>,
    now: i64,
) -> Result<(), StoreError> {
    // Endpoints are locked in one order, so two replicas recording at once
    // wait for each other instead of deadlocking.
    let mut ordered: Vec<&AttemptResult> = results.iter().collect();
    ordered.sort_by(|a, b| (&a.tenant, &a.webhook, a.seq).cmp(&(&b.tenant, &b.webhook, b.seq)));
    let mut locked: Option<(&str, &str)> = None;
    let mut health: Vec<EndpointHealth<'_>> = Vec::new();
    for r in ordered {
        let (tenant, webhook) = (r.tenant.as_str(), r.webhook.as_str());
        if locked != Some((tenant, webhook)) {
            lock_endpoint(sql, tenant, webhook)?;
            locked = Some((tenant, webhook));
            health.push(EndpointHealth {
                endpoint: (tenant, webhook),
                last_success: None,
                first_failure: None,
            });
        }
        let h = health.last_mut().expect("pushed above");
        if r.succeeded() {
            if h.last_success.is_none_or(|t| r.at >= t) {
                h.last_success = Some(r.at);
            }
        } else if h.first_failure.is_none_or(|t| r.at < t) {
            h.first_failure = Some(r.at);
        }
        record_attempt(sql, r, policy, now)?;
    }
    for EndpointHealth {
        endpoint: (tenant, webhook),
        last_success,
        first_failure,
    } in health
    {
        // Failures only count from after the endpoint's last success.
        let failing_since = first_failure.filter(|f| last_success.is_none_or(|s| *f > s));
        match (failing_since, last_success) {
            (None, _) => {
                sql.exec(
                    "UPDATE webhooks SET failing_since = NULL
                     WHERE tenant = ?1 AND id = ?2 AND failing_since IS NOT NULL",
                    args![tenant, webhook],
                )?;
            }
            (Some(since), succeeded) => {
                let keep_earlier = succeeded.is_none();
                sql.exec(
                    "UPDATE webhooks SET failing_since =
                        CASE WHEN ?4 = 1 THEN COALESCE(failing_since, ?3) ELSE ?3 END
                     WHERE tenant = ?1 AND id = ?2",
                    args![tenant, webhook, since, i64::from(keep_earlier)],
                )?;
                let reason = format!(
                    "every attempt failed for {} hours",
                    policy.disable_after_ms / 3_600_000
                );
                sql.exec(
                    "UPDATE webhooks SET disabled_at = ?3, disabled_reason = ?4
                     WHERE tenant = ?1 AND id = ?2 AND disabled_at IS NULL AND failing_since <= ?5",
                    args![
                        tenant,
                        webhook,
                        now,
                        reason.as_str(),
                        now - policy.disable_after_ms
                    ],
                )?;
            }
        }
    }
    Ok(())
}

/// Records one attempt and what it changes for its delivery (see
/// [`finish`]); a result for an attempt that is not the delivery's current
/// one (a sender whose claim expired) is listed and changes nothing.
fn record_attempt(
    sql: &mut dyn Sql,
    r: &AttemptResult,
    policy: RetryPolicy<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let (tenant, webhook, seq) = (r.tenant.as_str(), r.webhook.as_str(), r.seq as i64);
    let attempt = i64::from(r.attempt);
    sql.exec(
        "INSERT INTO delivery_attempts (tenant, webhook, seq, attempt, at, duration_ms, status_code, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        args![
            tenant,
            webhook,
            seq,
            attempt,
            r.at,
            r.duration_ms as i64,
            r.status_code.map(i64::from),
            r.error.as_deref()
        ],
    )?;
    if r.succeeded() {
        // The common case in one statement: delivered, if still the
        // current attempt of a pending delivery.
        let delivered = sql.row(
            "UPDATE deliveries SET state = 'delivered', attempts = ?4, next_at = NULL,
                lease_until = 0, finished_at = ?5
             WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3 AND state = 'pending'
             AND attempts = ?4 - 1
             RETURNING ticket",
            args![tenant, webhook, seq, attempt, now],
        )?;
        if let Some(row) = delivered {
            promote_next(sql, tenant, webhook, &row.text(0)?, now)?;
        }
        return Ok(());
    }
    let Some(current) = sql.row(
        "SELECT ticket, attempts, round_start FROM deliveries
         WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3 AND state = 'pending'",
        args![tenant, webhook, seq],
    )?
    else {
        return Ok(()); // deleted, or finished by another sender
    };
    let (ticket, attempts, round_start) = (current.text(0)?, current.int(1)?, current.int(2)?);
    if attempts + 1 != attempt {
        return Ok(()); // someone else attempted it since this claim
    }
    let tries = (attempt - round_start).max(0) as u32;
    match schedule::delay_after(policy.schedule_ms, tries, &r.message_id) {
        Some(delay) => {
            sql.exec(
                "UPDATE deliveries SET attempts = ?4, next_at = ?5, lease_until = 0
                 WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3",
                args![tenant, webhook, seq, attempt, now + delay as i64],
            )?;
        }
        None => {
            sql.exec(
                "UPDATE deliveries SET state = 'failed', attempts = ?4, next_at = NULL,
                    lease_until = 0, finished_at = ?5
                 WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3",
                args![tenant, webhook, seq, attempt, now],
            )?;
            promote_next(sql, tenant, webhook, &ticket, now)?;
        }
    }
    Ok(())
}

/// Deletes what is older than `before` (ms), at most `limit` rows per
/// table and call: finished deliveries and their attempts, and outbox
/// messages no delivery still needs.
/// Returns how many rows went.
///
/// # Errors
/// When the backend fails.
pub fn purge(sql: &mut dyn Sql, before: i64, limit: usize) -> Result<usize, StoreError> {
    let limit = limit as i64;
    let mut purged = 0;
    let finished = sql.rows(
        "SELECT tenant, webhook, seq FROM deliveries
         WHERE state IN ('delivered', 'failed') AND finished_at < ?1 LIMIT ?2",
        args![before, limit],
    )?;
    for f in &finished {
        let (tenant, webhook, seq) = (f.text(0)?, f.text(1)?, f.int(2)?);
        for table in ["delivery_attempts", "deliveries"] {
            purged += sql.exec(
                &format!("DELETE FROM {table} WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3"),
                args![tenant.as_str(), webhook.as_str(), seq],
            )? as usize;
        }
    }
    // Per tenant, the outbox is kept from the first message a delivery
    // still lists: an open one sends it, a failed one may be replayed (a
    // message's retries can outlast the retention counted from its
    // commit). Each endpoint's oldest is one seek in its key. An endpoint
    // disabled for longer than the retention misses what is older when it
    // is enabled again.
    let tenants = sql.rows(
        "SELECT t.id,
            (SELECT MIN((SELECT MIN(seq) FROM deliveries d WHERE d.tenant = w.tenant AND d.webhook = w.id))
             FROM webhooks w WHERE w.tenant = t.id)
         FROM tenants t
         WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.tenant = t.id AND o.at < ?1)",
        args![before],
    )?;
    for t in &tenants {
        let tenant = t.text(0)?;
        let keep_from = t.opt_int(1)?.map_or(i64::MAX, |s| s - 1);
        purged += sql.exec(
            "DELETE FROM outbox WHERE tenant = ?1 AND seq IN (
                SELECT seq FROM outbox WHERE tenant = ?1 AND seq <= ?2 AND at < ?3
                ORDER BY seq LIMIT ?4)",
            args![tenant.as_str(), keep_from, before, limit],
        )? as usize;
    }
    Ok(purged)
}

const DELIVERY_COLUMNS: &str =
    "message_id, seq, type, ticket, state, attempts, next_at, finished_at";

fn delivery(r: &SqlRow) -> Result<Delivery, StoreError> {
    let state = r.text(4)?;
    Ok(Delivery {
        message_id: r.text(0)?,
        seq: r.int(1)? as u64,
        kind: r.text(2)?,
        ticket: r.text(3)?,
        attempts: r.int(5)? as u32,
        next_attempt_at: if state == "pending" {
            r.opt_int(6)?
        } else {
            None
        },
        finished_at: r.opt_int(7)?,
        state,
    })
}

/// An endpoint's deliveries after outbox position `after` (in one state,
/// if named), oldest first, at most `limit`.
///
/// # Errors
/// When the backend fails.
pub fn deliveries(
    sql: &mut dyn Sql,
    tenant: &str,
    webhook: &str,
    state: Option<&str>,
    after: u64,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    // One statement per case, so each reads its index (a state's, or the
    // endpoint's in order).
    let rows = match state {
        Some(state) => sql.rows(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = ?1 AND webhook = ?2
                 AND state = ?3 AND seq > ?4 ORDER BY seq LIMIT ?5"
            ),
            args![tenant, webhook, state, after as i64, limit as i64],
        )?,
        None => sql.rows(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = ?1 AND webhook = ?2
                 AND seq > ?3 ORDER BY seq LIMIT ?4"
            ),
            args![tenant, webhook, after as i64, limit as i64],
        )?,
    };
    rows.iter().map(delivery).collect()
}

/// One message's delivery to an endpoint with its attempts, oldest first.
///
/// # Errors
/// When the backend fails.
pub fn delivery_attempts(
    sql: &mut dyn Sql,
    tenant: &str,
    webhook: &str,
    message_id: &str,
) -> Result<Option<(Delivery, Vec<Attempt>)>, StoreError> {
    let Some(row) = sql.row(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = ?1 AND webhook = ?2 AND message_id = ?3"
        ),
        args![tenant, webhook, message_id],
    )?
    else {
        return Ok(None);
    };
    let d = delivery(&row)?;
    let attempts = sql
        .rows(
            "SELECT attempt, at, duration_ms, status_code, error FROM delivery_attempts
             WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3 ORDER BY attempt",
            args![tenant, webhook, d.seq as i64],
        )?
        .iter()
        .map(|r| {
            let status_code = r.opt_int(3)?.map(|s| s as u16);
            let error = r.opt_text(4)?;
            let ok = error.is_none() && status_code.is_some_and(|s| (200..300).contains(&s));
            Ok(Attempt {
                attempt: r.int(0)? as u32,
                at: r.int(1)?,
                duration_ms: r.int(2)? as u64,
                outcome: if ok { "succeeded" } else { "failed" }.into(),
                status_code,
                error,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some((d, attempts)))
}

/// Sends failed deliveries again with a fresh schedule: the one of
/// `message_id`, or every failed one of the endpoint. Each becomes pending
/// (due now), or waiting when its ticket has an undelivered message
/// already. Returns how many were replayed.
///
/// # Errors
/// When the backend fails.
pub fn replay(
    sql: &mut dyn Sql,
    tenant: &str,
    webhook: &str,
    message_id: Option<&str>,
    now: i64,
) -> Result<usize, StoreError> {
    lock_endpoint(sql, tenant, webhook)?;
    let failed = match message_id {
        Some(id) => sql.rows(
            "SELECT seq, ticket FROM deliveries WHERE tenant = ?1 AND webhook = ?2
             AND message_id = ?3 AND state = 'failed'",
            args![tenant, webhook, id],
        )?,
        None => sql.rows(
            "SELECT seq, ticket FROM deliveries WHERE tenant = ?1 AND webhook = ?2
             AND state = 'failed' ORDER BY seq",
            args![tenant, webhook],
        )?,
    };
    // One at a time, oldest first: a ticket's first replayed message goes
    // (unless an open one is ahead of it) and its later ones wait.
    let replayed = format!(
        "UPDATE deliveries SET
            state = CASE WHEN b.busy THEN 'waiting' ELSE 'pending' END,
            next_at = CASE WHEN b.busy THEN NULL ELSE ?5 END,
            round_start = attempts, lease_until = 0, finished_at = NULL
         FROM (SELECT {} AS busy) b
         WHERE tenant = ?1 AND webhook = ?2 AND seq = ?3",
        ticket_busy("?4")
    );
    for f in &failed {
        let (seq, ticket) = (f.int(0)?, f.text(1)?);
        sql.exec(&replayed, args![tenant, webhook, seq, ticket.as_str(), now])?;
    }
    Ok(failed.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceStore;
    use crate::sql::{read, write};
    use docket_engine::Limits;

    /// Appends a message to the tenant's outbox, as an event's commit does.
    fn append(store: &dyn ServiceStore, ticket: &str, kind: &str) -> i64 {
        write(store, |sql| {
            let seq = sql
                .row(
                    "UPDATE tenants SET outbox_seq = outbox_seq + 1 WHERE id = 'acme' RETURNING outbox_seq",
                    &[],
                )?
                .unwrap()
                .int(0)?;
            let id = format!("msg_{seq}");
            sql.exec(
                "INSERT INTO outbox (tenant, seq, id, ticket, type, event_id, at, data)
                 VALUES ('acme', ?1, ?2, ?3, ?4, 'ev', 0, '{}')",
                args![seq, id.as_str(), ticket, kind],
            )?;
            Ok(seq)
        })
        .unwrap()
    }

    fn subscribe(store: &dyn ServiceStore, id: &str, types: &[String]) {
        write(store, |sql| {
            insert(
                sql,
                &WebhookRow {
                    tenant: "acme",
                    id,
                    url: "http://127.0.0.1:1/",
                    types,
                    description: "",
                    secret: "whsec_AAAA",
                    created_at: 0,
                },
            )
        })
        .unwrap();
    }

    const POLICY: RetryPolicy<'static> = RetryPolicy {
        schedule_ms: &[0, 1_000, 1_000],
        disable_after_ms: 50_000,
    };

    fn take(store: &dyn ServiceStore, now: i64) -> Vec<(String, u64, u32)> {
        let claimed = write(store, |sql| {
            stage(sql, now, 100)?;
            claim(sql, now, now + 30_000, 8, &HashMap::new(), 100)
        })
        .unwrap();
        let mut out: Vec<_> = claimed
            .into_iter()
            .map(|c| (c.webhook, c.seq, c.attempt))
            .collect();
        out.sort();
        out
    }

    fn result(webhook: &str, seq: u64, attempt: u32, at: i64, status: u16) -> AttemptResult {
        AttemptResult {
            tenant: "acme".into(),
            webhook: webhook.into(),
            seq,
            message_id: format!("msg_{seq}"),
            attempt,
            at,
            duration_ms: 3,
            status_code: Some(status),
            error: None,
        }
    }

    fn done(store: &dyn ServiceStore, results: &[AttemptResult], now: i64) {
        write(store, |sql| finish(sql, results, POLICY, now)).unwrap();
    }

    fn state_of(store: &dyn ServiceStore, webhook: &str, seq: u64) -> (String, u32) {
        let d = read(store, |sql| {
            deliveries(sql, "acme", webhook, None, seq - 1, 1)
        })
        .unwrap();
        (d[0].state.clone(), d[0].attempts)
    }

    fn deliveries_follow_ticket_order_retries_and_replays(store: &dyn ServiceStore) {
        store
            .insert_tenant("acme", &Limits::default(), "hash", 0)
            .unwrap();
        append(store, "T1", "ticket.changed"); // before any subscription
        subscribe(store, "wh_a", &[]);
        subscribe(store, "wh_n", &["notification".into()]);
        let m1 = append(store, "T1", "ticket.changed") as u64;
        let m2 = append(store, "T1", "ticket.changed") as u64;
        let m3 = append(store, "T2", "ticket.changed") as u64;
        let m4 = append(store, "T1", "notification") as u64;

        // Each ticket's oldest message goes; T1's later ones wait. The
        // notification-only endpoint has only m4, its ticket's first.
        let first = take(store, 1_000);
        assert_eq!(
            first,
            [
                ("wh_a".into(), m1, 1),
                ("wh_a".into(), m3, 1),
                ("wh_n".into(), m4, 1)
            ]
        );
        assert!(take(store, 1_000).is_empty(), "claimed ones are leased");
        assert_eq!(state_of(store, "wh_a", m2).0, "waiting");

        // m1 fails: retried after the schedule's second delay (±20%),
        // and T1's next message keeps waiting behind it.
        done(
            store,
            &[
                result("wh_a", m1, 1, 1_000, 500),
                result("wh_a", m3, 1, 1_000, 204),
                result("wh_n", m4, 1, 1_000, 200),
            ],
            1_010,
        );
        assert_eq!(state_of(store, "wh_a", m3), ("delivered".into(), 1));
        assert!(take(store, 1_500).is_empty(), "not due yet");
        let hook = read(store, |sql| get(sql, "acme", "wh_a"))
            .unwrap()
            .unwrap();
        assert_eq!(hook.failing_since, None, "m3's success came after");
        assert_eq!(take(store, 2_300), [("wh_a".into(), m1, 2)]);

        // A result for an attempt that is not the current one (a sender
        // whose lease ran out) is listed and changes nothing.
        done(store, &[result("wh_a", m1, 1, 2_300, 204)], 2_310);
        assert_eq!(state_of(store, "wh_a", m1), ("pending".into(), 1));

        // The last attempt fails: m1 is failed and T1's next (m2) goes.
        done(store, &[result("wh_a", m1, 2, 2_300, 503)], 2_320);
        let hook = read(store, |sql| get(sql, "acme", "wh_a"))
            .unwrap()
            .unwrap();
        assert_eq!(hook.failing_since, Some(2_300));
        assert_eq!(take(store, 3_600), [("wh_a".into(), m1, 3)]);
        done(store, &[result("wh_a", m1, 3, 3_600, 503)], 3_610);
        assert_eq!(state_of(store, "wh_a", m1), ("failed".into(), 3));
        assert_eq!(take(store, 3_610), [("wh_a".into(), m2, 1)]);
        done(store, &[result("wh_a", m2, 1, 3_610, 200)], 3_620);
        assert_eq!(take(store, 3_620), [("wh_a".into(), m4, 1)]);
        done(store, &[result("wh_a", m4, 1, 3_620, 200)], 3_630);
        let hook = read(store, |sql| get(sql, "acme", "wh_a"))
            .unwrap()
            .unwrap();
        assert_eq!(hook.failing_since, None, "a success clears the record");

        // Replaying the failed message gives it a new round of attempts;
        // the count goes on.
        assert_eq!(
            write(store, |sql| replay(
                sql,
                "acme",
                "wh_a",
                Some("msg_2"),
                4_000
            ))
            .unwrap(),
            1
        );
        assert_eq!(take(store, 4_000), [("wh_a".into(), m1, 4)]);
        done(store, &[result("wh_a", m1, 4, 4_000, 200)], 4_010);
        let (d, attempts) = read(store, |sql| delivery_attempts(sql, "acme", "wh_a", "msg_2"))
            .unwrap()
            .unwrap();
        assert_eq!(d.state, "delivered");
        let outcomes: Vec<_> = attempts
            .iter()
            .map(|a| (a.attempt, a.status_code, a.outcome.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [
                (1, Some(500), "failed"),
                (2, Some(503), "failed"),
                (3, Some(503), "failed"),
                (4, Some(200), "succeeded")
            ]
        );

        // A claim whose sender died is taken again once its lease ends.
        let m5 = append(store, "T3", "ticket.changed") as u64;
        assert_eq!(take(store, 5_000), [("wh_a".into(), m5, 1)]);
        assert!(take(store, 20_000).is_empty());
        assert_eq!(take(store, 35_000), [("wh_a".into(), m5, 1)]);

        // An endpoint failing for longer than the policy allows is
        // disabled: nothing is claimed or staged for it until enabled.
        let mut now = 35_000;
        let mut attempt = 1;
        while read(store, |sql| get(sql, "acme", "wh_a"))
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
        {
            done(store, &[result("wh_a", m5, attempt, now, 500)], now);
            assert!(now < 200_000, "never disabled");
            now += 30_000;
            attempt += 1;
            write(store, |sql| replay(sql, "acme", "wh_a", None, now)).unwrap();
            take(store, now);
        }
        let hook = read(store, |sql| get(sql, "acme", "wh_a"))
            .unwrap()
            .unwrap();
        assert_eq!(hook.state, "disabled");
        assert!(hook.disabled_reason.unwrap().contains("failed for"));
        let m6 = append(store, "T4", "ticket.changed") as u64;
        assert!(take(store, now + 1_000_000).is_empty());
        write(store, |sql| set_enabled(sql, "acme", "wh_a", None)).unwrap();
        let resumed = take(store, now + 1_000_000);
        assert!(resumed.contains(&("wh_a".into(), m6, 1)), "{resumed:?}");

        // A failed delivery can outlive its message's retention (counted
        // from the commit) when its retries ran past it: the message is
        // kept while the delivery is listed, so a replay still sends it.
        let later = now + 2_000_000;
        let m7 = append(store, "T5", "ticket.changed") as u64;
        let mut t = later;
        for attempt in 1..=3 {
            // m7 fails; whatever else is owed is delivered, so no open
            // delivery holds the older messages.
            let got = take(store, t);
            assert!(got.contains(&("wh_a".into(), m7, attempt)), "{got:?}");
            let results: Vec<_> = got
                .iter()
                .map(|(w, seq, a)| result(w, *seq, *a, t, if *seq == m7 { 500 } else { 200 }))
                .collect();
            done(store, &results, t);
            t += 2_000;
        }
        assert_eq!(state_of(store, "wh_a", m7).0, "failed");
        let count = |table: &str| {
            read(store, |sql| {
                sql.row(&format!("SELECT COUNT(*) FROM {table}"), &[])?
                    .unwrap()
                    .int(0)
            })
            .unwrap()
        };
        let outbox = count("outbox");
        write(store, |sql| purge(sql, later + 1, 1_000)).unwrap();
        assert!(count("outbox") < outbox, "messages no delivery lists go");
        let id = format!("msg_{m7}");
        assert_eq!(
            write(store, |sql| replay(sql, "acme", "wh_a", Some(&id), t)).unwrap(),
            1
        );
        let again = take(store, t);
        assert!(again.contains(&("wh_a".into(), m7, 4)), "{again:?}");
        done(store, &[result("wh_a", m7, 4, t, 200)], t);
        assert_eq!(state_of(store, "wh_a", m7).0, "delivered");

        // Retention: finished deliveries and the messages every endpoint
        // staged go; what is still owed stays.
        let (outbox, deliveries_before) = (count("outbox"), count("deliveries"));
        let purged = write(store, |sql| purge(sql, i64::MAX, 1_000)).unwrap();
        assert!(purged > 0);
        assert!(count("deliveries") < deliveries_before);
        assert_eq!(
            count("deliveries"),
            read(store, |sql| {
                sql.row(
                    "SELECT COUNT(*) FROM deliveries WHERE state IN ('waiting', 'pending')",
                    &[],
                )?
                .unwrap()
                .int(0)
            })
            .unwrap(),
            "only open deliveries are left"
        );
        assert!(count("outbox") <= outbox);
        let oldest_open = read(store, |sql| {
            sql.row(
                "SELECT MIN(seq) FROM deliveries WHERE state IN ('waiting', 'pending')",
                &[],
            )?
            .unwrap()
            .opt_int(0)
        })
        .unwrap();
        if let Some(seq) = oldest_open {
            let kept = read(store, |sql| {
                sql.row("SELECT COUNT(*) FROM outbox WHERE seq >= ?1", args![seq])?
                    .unwrap()
                    .int(0)
            })
            .unwrap();
            assert!(kept > 0, "the messages open deliveries need are kept");
        }

        // Deleting the tenant takes its webhook records along.
        assert!(store.delete_tenant("acme").unwrap());
        assert!(read(store, |sql| list(sql, "acme")).unwrap().is_empty());
        let left = read(store, |sql| {
            sql.row("SELECT COUNT(*) FROM deliveries", &[])?
                .unwrap()
                .int(0)
        })
        .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn deliveries_on_every_durable_store() {
        let dir = std::env::temp_dir().join(format!("docket-deliveries-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        deliveries_follow_ticket_order_retries_and_replays(
            &crate::SqliteStore::open(&dir).unwrap(),
        );
        let _ = std::fs::remove_dir_all(&dir);
        if let Some(url) =
            crate::pg::test_database(&format!("deliveries_{}", std::process::id()), true)
        {
            deliveries_follow_ticket_order_retries_and_replays(
                &crate::PostgresStore::connect(&url, 2).unwrap(),
            );
        }
    }
}
