//! Webhooks: how messages leave for a tenant's endpoints.
//!
//! A tenant subscribes an endpoint (a URL and the message types it wants)
//! and gets a signing secret, shown once. From then on every message its
//! outbox gains is *staged* as a delivery for each matching endpoint and
//! delivered at least once, in order per ticket: a ticket's next message
//! waits until the one before it was delivered or finally failed. A failed
//! attempt is retried on a schedule ([`schedule`]); after the last one the
//! delivery is `failed` and can be replayed. An endpoint that has failed
//! for days is disabled, visibly, until the tenant enables it again.
//!
//! Payloads follow the Standard Webhooks specification, so receivers
//! verify them with any of its libraries ([`signature`]); endpoint
//! addresses are checked against server-side request forgery
//! ([`address`]). The records live in the store ([`store`], one SQL text
//! for SQLite and PostgreSQL); `docket serve` runs the sender.

pub mod address;
pub mod schedule;
mod service;
pub mod signature;
pub mod store;

pub use service::{DeliveryDetail, MAX_WEBHOOKS, OLD_SECRET_GRACE_MS};

use docket_contract::wire::instant;
use docket_engine::outcome::Message;
use serde::{Deserialize, Serialize};

/// The message types an endpoint may subscribe to.
pub const MESSAGE_TYPES: &[&str] = &[
    "ticket.changed",
    "notification",
    "invoice",
    "approval.required",
    "sla.milestone",
    "sla.breached",
];

/// An endpoint subscription, as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// Id, `wh_` + 16 hex digits.
    pub id: String,
    /// Where messages are POSTed.
    pub url: String,
    /// The message types it receives; empty: all of them.
    pub types: Vec<String>,
    /// What it is for, as the tenant wrote it.
    pub description: String,
    /// When it was made.
    #[serde(with = "instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
    /// `enabled`, or `disabled` (by the tenant, or after failing for days).
    pub state: String,
    /// Since when every attempt has failed (null: the last one succeeded).
    #[serde(with = "instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub failing_since: Option<i64>,
    /// When it was disabled, if it is.
    #[serde(with = "instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub disabled_at: Option<i64>,
    /// Why it was disabled, if it is.
    pub disabled_reason: Option<String>,
    /// The outbox position up to which messages were staged for it.
    pub staged_through: u64,
}

/// A subscription as the tenant asks for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    /// Where messages are POSTed: an `http` or `https` URL whose host
    /// resolves to public addresses only (unless the operator allows
    /// private ones).
    pub url: String,
    /// The message types to receive (see `MESSAGE_TYPES`); omitted or
    /// empty: all of them.
    #[serde(default)]
    pub types: Vec<String>,
    /// What it is for (at most 200 characters).
    #[serde(default)]
    pub description: String,
}

/// A change to a subscription; omitted fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookChange {
    /// A new URL (checked as on creation).
    pub url: Option<String>,
    /// New message types.
    pub types: Option<Vec<String>>,
    /// A new description.
    pub description: Option<String>,
    /// `false` disables it; `true` enables it again, clearing its failure
    /// record (deliveries resume where they stopped).
    pub enabled: Option<bool>,
}

/// A subscription just made or rotated, with its secret (shown once).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookWithSecret {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret, `whsec_` + base64: verify `webhook-signature`
    /// with it. It is not shown again.
    pub secret: String,
}

/// One message's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The message's outbox position.
    pub seq: u64,
    /// The message type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The ticket.
    pub ticket: String,
    /// `waiting` (behind an earlier message of its ticket), `pending`,
    /// `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries).
    #[serde(with = "instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<i64>,
    /// When it was delivered or finally failed.
    #[serde(with = "instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<i64>,
}

/// One attempt to deliver a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// 1 for the first attempt, and so on (replays continue the count).
    pub attempt: u32,
    /// When it started.
    #[serde(with = "instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: i64,
    /// `succeeded` (a 2xx answer within the timeout) or `failed`.
    pub outcome: String,
    /// The HTTP status answered, if any.
    pub status_code: Option<u16>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Why it failed without an answer (timeout, refused connection, ...).
    pub error: Option<String>,
}

/// A delivery claimed for sending: where, signed with what, and the
/// message's body.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Tenant.
    pub tenant: String,
    /// Endpoint id.
    pub webhook: String,
    /// Its URL.
    pub url: String,
    /// The secrets to sign with: the current one, and the previous one
    /// for a while after a rotation.
    pub secrets: Vec<String>,
    /// The attempt this is (1-based, over the delivery's whole life).
    pub attempt: u32,
    /// The message's outbox position.
    pub seq: u64,
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The body: the message as the feed shows it (see [`payload`]).
    pub body: String,
}

/// A message's JSON as the feed serializes a `StoredMessage` (`seq`, `id`,
/// `type`, `ticket`, `event_id`, `at`, `data`), written from its stored
/// columns: `data` is spliced in as stored, not parsed and written again.
pub fn payload(seq: u64, message: &Message, data_json: &str) -> String {
    let text = |s: &str| serde_json::to_string(s).expect("strings serialize");
    format!(
        r#"{{"seq":{seq},"id":{},"type":{},"ticket":{},"event_id":{},"at":{},"data":{data_json}}}"#,
        text(&message.id),
        text(&message.kind),
        text(&message.ticket),
        text(&message.event_id),
        text(&instant::text(message.at)),
    )
}

/// What an attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// Tenant.
    pub tenant: String,
    /// Endpoint id.
    pub webhook: String,
    /// The message's outbox position.
    pub seq: u64,
    /// The message id (for the retry schedule's jitter).
    pub message_id: String,
    /// The attempt claimed.
    pub attempt: u32,
    /// When it started.
    pub at: i64,
    /// How long it took.
    pub duration_ms: u64,
    /// The HTTP status, if one came back.
    pub status_code: Option<u16>,
    /// Why there was no (timely) answer.
    pub error: Option<String>,
}

impl AttemptResult {
    /// A 2xx answer within the timeout.
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// How `docket serve` delivers webhooks (the `[webhooks]` table of its
/// configuration); every field has a default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Allow endpoints on loopback, private and other special addresses
    /// (an operator's own network; tests). Off by default: such URLs are
    /// refused when subscribed and when delivered to.
    pub allow_private_addresses: bool,
    /// How long an attempt may take, connection included, in ms.
    pub timeout_ms: u64,
    /// Delay before each attempt, in ms: the first is usually 0. Its length
    /// is the number of attempts; each retry's delay varies by up to ±20%
    /// so retries of many messages spread out.
    pub retry_schedule_ms: Vec<u64>,
    /// An endpoint whose every attempt has failed for this long is
    /// disabled, in hours.
    pub disable_after_hours: u64,
    /// How often the store is looked at for work other replicas staged,
    /// in ms (this process's own commits wake the sender at once).
    pub poll_ms: u64,
    /// Attempts in flight to one endpoint at most (per process), so a slow
    /// endpoint holds only its own share of the sender.
    pub in_flight_per_endpoint: usize,
    /// Days messages are kept: older outbox messages (unless a delivery
    /// still needs them), finished deliveries and their attempts are
    /// deleted. The feed reaches back this far, and an endpoint disabled
    /// for longer misses the older messages when enabled again.
    pub retention_days: u64,
}

/// Svix's schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_RETRY_SCHEDULE_MS: [u64; 8] = [
    0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private_addresses: false,
            timeout_ms: 10_000,
            retry_schedule_ms: DEFAULT_RETRY_SCHEDULE_MS.to_vec(),
            disable_after_hours: 5 * 24,
            poll_ms: 200,
            in_flight_per_endpoint: 16,
            retention_days: 30,
        }
    }
}

impl WebhookSettings {
    /// Checks the settings, naming the one out of range.
    ///
    /// # Errors
    /// A message naming the setting and its range.
    pub fn validate(&self) -> Result<(), String> {
        in_range(
            "retry_schedule_ms (attempts)",
            self.retry_schedule_ms.len(),
            1..=20,
        )?;
        for delay in &self.retry_schedule_ms {
            in_range("retry_schedule_ms (a delay)", *delay, 0..=7 * 86_400_000)?;
        }
        in_range("timeout_ms", self.timeout_ms, 100..=120_000)?;
        in_range(
            "in_flight_per_endpoint",
            self.in_flight_per_endpoint,
            1..=1_000,
        )?;
        in_range("retention_days", self.retention_days, 1..=3_650)?;
        in_range("poll_ms", self.poll_ms, 1..=60_000)
    }
}

/// `webhooks.<name>: <value> is out of range (<low> to <high>)`, unless it
/// is in range.
fn in_range<T: PartialOrd + std::fmt::Display>(
    name: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), String> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(format!(
        "webhooks.{name}: {value} is out of range ({} to {})",
        range.start(),
        range.end()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_named() {
        assert_eq!(WebhookSettings::default().validate(), Ok(()));
        let refused = |change: fn(&mut WebhookSettings)| {
            let mut s = WebhookSettings::default();
            change(&mut s);
            s.validate().unwrap_err()
        };
        assert_eq!(
            refused(|s| s.timeout_ms = 99),
            "webhooks.timeout_ms: 99 is out of range (100 to 120000)"
        );
        assert_eq!(
            refused(|s| s.retry_schedule_ms.clear()),
            "webhooks.retry_schedule_ms (attempts): 0 is out of range (1 to 20)"
        );
        assert!(refused(|s| s.retry_schedule_ms[1] = 8 * 86_400_000).contains("(a delay)"));
        assert!(
            refused(|s| s.in_flight_per_endpoint = 0)
                .starts_with("webhooks.in_flight_per_endpoint")
        );
        assert!(refused(|s| s.retention_days = 4_000).starts_with("webhooks.retention_days"));
        assert!(refused(|s| s.poll_ms = 0).starts_with("webhooks.poll_ms"));
    }

    #[test]
    fn the_payload_is_the_feeds_serialization() {
        let message = Message {
            id: "msg_1".into(),
            kind: "ticket.changed".into(),
            ticket: "T-\"1\"".into(),
            event_id: "ev/1".into(),
            at: 1_764_000_000_123,
            data: serde_json::json!({ "ticket": { "id": "T-1", "tags": ["a", "é"], "n": 1.5 }, "a": null }),
        };
        let data = serde_json::to_string(&message.data).unwrap();
        let stored = crate::StoredMessage {
            seq: 42,
            message: message.clone(),
        };
        assert_eq!(
            payload(42, &message, &data),
            serde_json::to_string(&stored).unwrap()
        );
    }
}
