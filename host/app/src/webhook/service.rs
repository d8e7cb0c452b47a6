//! The service's webhook operations: subscriptions as the API manages
//! them, and the sender's side (claim due deliveries, record attempts).

use super::store::{self as records, EndpointKey, RetryPolicy, WebhookRow};
use super::{
    Attempt, AttemptResult, Claimed, Delivery, MESSAGE_TYPES, NewWebhook, Webhook, WebhookChange,
    WebhookSettings, WebhookWithSecret, address, signature::Secret,
};
use crate::Service;
use crate::error::AppError;
use crate::sql;
use serde::Serialize;
use std::collections::HashMap;

/// Subscriptions a tenant may have.
pub const MAX_WEBHOOKS: usize = 50;
/// How long a rotated-out secret keeps signing beside the new one.
pub const OLD_SECRET_GRACE_MS: i64 = 24 * 3_600_000;
/// Rows of each kind one retention pass deletes at most (a short
/// transaction; the next pass takes the rest).
const PURGE_BATCH: usize = 1_000;
/// The longest description.
const MAX_DESCRIPTION: usize = 200;

/// A delivery with its attempts.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryDetail {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Its attempts, oldest first.
    pub attempts_made: Vec<Attempt>,
}

fn invalid(message: String) -> AppError {
    AppError::unprocessable("invalid_webhook", message)
}

fn check_types(types: &[String]) -> Result<(), AppError> {
    for (i, t) in types.iter().enumerate() {
        if !MESSAGE_TYPES.contains(&t.as_str()) {
            return Err(invalid(format!(
                "types[{i}]: `{t}` is not a message type (one of {})",
                MESSAGE_TYPES.join(", ")
            )));
        }
        if types[..i].contains(t) {
            return Err(invalid(format!("types[{i}]: `{t}` is listed twice")));
        }
    }
    Ok(())
}

fn check_description(d: &str) -> Result<(), AppError> {
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(invalid(format!(
            "description: at most {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(())
}

fn new_webhook_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source");
    format!("wh_{}", crate::service::hex(&bytes))
}

fn new_secret() -> Secret {
    Secret::generate().expect("the OS random source")
}

impl Service {
    /// Sets how webhooks are checked and delivered.
    ///
    /// # Errors
    /// A setting out of range, named.
    pub fn set_webhook_settings(&mut self, settings: WebhookSettings) -> Result<(), String> {
        settings.validate()?;
        self.webhook_settings = settings;
        Ok(())
    }

    /// How webhooks are checked and delivered.
    pub fn webhook_settings(&self) -> &WebhookSettings {
        &self.webhook_settings
    }

    /// Checks an endpoint URL against the address policy (resolving it).
    fn check_url(&self, url: &str) -> Result<(), AppError> {
        address::check(url, self.webhook_settings.allow_private_addresses)
            .map(|_| ())
            .map_err(|e| AppError::unprocessable("invalid_webhook_url", format!("url: {e}")))
    }

    /// Subscribes an endpoint; it receives the messages committed from now
    /// on. Answers with its secret, shown this once.
    ///
    /// # Errors
    /// An unknown tenant; a URL the address policy refuses; an unknown
    /// message type; too many subscriptions.
    pub fn create_webhook(
        &self,
        tenant: &str,
        new: &NewWebhook,
    ) -> Result<WebhookWithSecret, AppError> {
        self.tenant(tenant)?;
        check_types(&new.types)?;
        check_description(&new.description)?;
        self.check_url(&new.url)?;
        let secret = new_secret().text();
        let id = new_webhook_id();
        let row = WebhookRow {
            tenant,
            id: &id,
            url: &new.url,
            types: &new.types,
            description: &new.description,
            secret: &secret,
            created_at: self.now(),
        };
        let webhook = sql::write(self.store(), |sql| {
            if records::list(sql, tenant)?.len() >= MAX_WEBHOOKS {
                return Ok(None);
            }
            records::insert(sql, &row).map(Some)
        })?
        .ok_or_else(|| {
            AppError::conflict(
                "too_many_webhooks",
                format!("a tenant has at most {MAX_WEBHOOKS} webhooks; delete one first"),
            )
        })?;
        Ok(WebhookWithSecret { webhook, secret })
    }

    /// A tenant's subscriptions (without secrets).
    ///
    /// # Errors
    /// An unknown tenant; the store failing.
    pub fn webhooks(&self, tenant: &str) -> Result<Vec<Webhook>, AppError> {
        self.tenant(tenant)?;
        Ok(sql::read(self.store(), |sql| records::list(sql, tenant))?)
    }

    /// One subscription.
    ///
    /// # Errors
    /// An unknown tenant or webhook.
    pub fn webhook(&self, tenant: &str, id: &str) -> Result<Webhook, AppError> {
        self.tenant(tenant)?;
        sql::read(self.store(), |sql| records::get(sql, tenant, id))?
            .ok_or_else(|| AppError::NotFound(format!("webhook `{id}`")))
    }

    /// Changes a subscription; see [`WebhookChange`].
    ///
    /// # Errors
    /// As [`create_webhook`](Self::create_webhook) for the new values; an
    /// unknown webhook.
    pub fn update_webhook(
        &self,
        tenant: &str,
        id: &str,
        change: &WebhookChange,
    ) -> Result<Webhook, AppError> {
        self.tenant(tenant)?;
        if let Some(types) = &change.types {
            check_types(types)?;
        }
        if let Some(d) = &change.description {
            check_description(d)?;
        }
        if let Some(url) = &change.url {
            self.check_url(url)?;
        }
        let now = self.now();
        let found = sql::write(self.store(), |sql| {
            let found = records::set_fields(
                sql,
                tenant,
                id,
                change.url.as_deref(),
                change.types.as_deref(),
                change.description.as_deref(),
            )?;
            match change.enabled {
                Some(true) => records::set_enabled(sql, tenant, id, None)?,
                Some(false) => {
                    records::set_enabled(sql, tenant, id, Some(("disabled by the tenant", now)))?
                }
                None => found,
            };
            Ok(found)
        })?;
        if !found {
            return Err(AppError::NotFound(format!("webhook `{id}`")));
        }
        self.webhook(tenant, id)
    }

    /// Deletes a subscription with its deliveries.
    ///
    /// # Errors
    /// An unknown tenant or webhook.
    pub fn delete_webhook(&self, tenant: &str, id: &str) -> Result<(), AppError> {
        self.tenant(tenant)?;
        if sql::write(self.store(), |sql| records::delete(sql, tenant, id))? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("webhook `{id}`")))
        }
    }

    /// Gives a subscription a new secret, shown this once; the old one
    /// keeps signing beside it for 24 hours.
    ///
    /// # Errors
    /// An unknown tenant or webhook.
    pub fn rotate_webhook_secret(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<WebhookWithSecret, AppError> {
        self.tenant(tenant)?;
        let secret = new_secret().text();
        let until = self.now() + OLD_SECRET_GRACE_MS;
        if !sql::write(self.store(), |sql| {
            records::rotate(sql, tenant, id, &secret, until)
        })? {
            return Err(AppError::NotFound(format!("webhook `{id}`")));
        }
        Ok(WebhookWithSecret {
            webhook: self.webhook(tenant, id)?,
            secret,
        })
    }

    /// An endpoint's deliveries after outbox position `after`, in `state`
    /// if given, at most `limit` (1 to 1,000).
    ///
    /// # Errors
    /// An unknown tenant or webhook; a bad state or limit.
    pub fn webhook_deliveries(
        &self,
        tenant: &str,
        id: &str,
        state: Option<&str>,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Delivery>, AppError> {
        self.webhook(tenant, id)?;
        crate::service::check_page(after, limit)?;
        if let Some(s) = state
            && !["waiting", "pending", "delivered", "failed"].contains(&s)
        {
            return Err(AppError::BadRequest(format!(
                "state: `{s}` is not one of waiting, pending, delivered, failed"
            )));
        }
        Ok(sql::read(self.store(), |sql| {
            records::deliveries(sql, tenant, id, state, after, limit as usize)
        })?)
    }

    /// One message's delivery to an endpoint, with its attempts.
    ///
    /// # Errors
    /// An unknown tenant, webhook or message.
    pub fn delivery(
        &self,
        tenant: &str,
        id: &str,
        message_id: &str,
    ) -> Result<DeliveryDetail, AppError> {
        self.webhook(tenant, id)?;
        let (delivery, attempts_made) = sql::read(self.store(), |sql| {
            records::delivery_attempts(sql, tenant, id, message_id)
        })?
        .ok_or_else(|| AppError::NotFound(format!("message `{message_id}` for webhook `{id}`")))?;
        Ok(DeliveryDetail {
            delivery,
            attempts_made,
        })
    }

    /// Sends failed deliveries again: one message's (which must have
    /// failed), or every failed one of the endpoint. Returns how many.
    ///
    /// # Errors
    /// An unknown tenant, webhook or message; a message that has not
    /// failed.
    pub fn replay_deliveries(
        &self,
        tenant: &str,
        id: &str,
        message_id: Option<&str>,
    ) -> Result<usize, AppError> {
        let current = match message_id {
            Some(m) => Some(self.delivery(tenant, id, m)?.delivery),
            None => {
                self.webhook(tenant, id)?;
                None
            }
        };
        if let Some(d) = current
            && d.state != "failed"
        {
            return Err(AppError::conflict(
                "not_failed",
                format!(
                    "message `{}` is {}; only failed deliveries are replayed",
                    d.message_id, d.state
                ),
            ));
        }
        let now = self.now();
        Ok(sql::write(self.store(), |sql| {
            records::replay(sql, tenant, id, message_id, now)
        })?)
    }

    /// Deletes what the retention has passed (see [`records::purge`]), a
    /// batch at a time; returns how many rows went.
    ///
    /// # Errors
    /// When the store fails.
    pub fn purge_expired(&self) -> Result<usize, AppError> {
        let before = self.now() - self.webhook_settings.retention_days as i64 * 86_400_000;
        // Deferred: a purge a power loss takes back is done again.
        Ok(sql::write_deferred(self.store(), |sql| {
            records::purge(sql, before, PURGE_BATCH)
        })?)
    }

    /// The sender's pass, one transaction: records the attempts made
    /// since the last pass (see [`records::finish`]), stages the messages
    /// committed since (at most `total` per endpoint), then claims due
    /// deliveries for the attempt timeout plus a margin, within each
    /// endpoint's in-flight allowance (`in_flight`: what this sender has
    /// out there now) and at most `total`.
    ///
    /// # Errors
    /// When the store fails; then nothing of the pass is kept, and the
    /// caller keeps `results` for the next one.
    pub fn delivery_pass(
        &self,
        results: &[AttemptResult],
        in_flight: &HashMap<EndpointKey, usize>,
        total: usize,
    ) -> Result<Vec<Claimed>, AppError> {
        let now = self.now();
        let settings = &self.webhook_settings;
        let policy = RetryPolicy {
            schedule_ms: &settings.retry_schedule_ms,
            disable_after_ms: settings.disable_after_hours as i64 * 3_600_000,
        };
        // A claim outlives the attempt's timeout, so only a sender that
        // died (or stalled that long) loses it.
        let lease_until = now + settings.timeout_ms as i64 * 2 + 5_000;
        let per_endpoint = settings.in_flight_per_endpoint;
        // Deferred: a pass a power loss takes back leaves claims and
        // records that the next passes make again, and its messages go
        // again with the same ids (at least once). Not syncing the pass
        // keeps the disk's flushes for the events' commits.
        let claimed = sql::write_deferred(self.store(), |sql| {
            records::finish(sql, results, policy, now)?;
            records::stage(sql, now, total)?;
            records::claim(sql, now, lease_until, per_endpoint, in_flight, total)
        })?;
        for r in results {
            self.metrics.count_webhook_attempt(r.succeeded());
        }
        Ok(claimed)
    }
}
