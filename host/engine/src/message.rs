//! Deliverable messages: what an applied outcome tells the systems around
//! the helpdesk (the ticket changed, a notification to send, an invoice or
//! an approval to act on). The service writes them to its outbox in the
//! event's own transaction and delivers them as webhooks and a feed; an
//! embedder can feed them to its own queue.

use crate::dispatch::Outcome;
use crate::effects::Effect;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One message about one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// Stable id: the same event always yields the same ids, so a receiver
    /// can de-duplicate redeliveries (`msg_` and 26 hex digits).
    pub id: String,
    /// What it is about: `ticket.changed`, `notification`, `ticket.note`,
    /// `ticket.reply`, `invoice`,
    /// `approval.required`, or (added by the service's lifecycle)
    /// `sla.milestone` and `sla.breached`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The ticket.
    pub ticket: String,
    /// The event that produced it.
    pub event_id: String,
    /// The event's instant, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "docket_contract::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: i64,
    /// The message's content (see each type in the README).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

impl Message {
    /// A message of `kind` about the event; its id is derived from the
    /// tenant, the event id and the message's position among the event's
    /// messages.
    pub fn new(
        tenant: &str,
        ticket: &str,
        event_id: &str,
        at: i64,
        position: usize,
        kind: &str,
        data: serde_json::Value,
    ) -> Message {
        let digest = Sha256::new()
            .chain_update(tenant.as_bytes())
            .chain_update([0])
            .chain_update(event_id.as_bytes())
            .chain_update([0])
            .chain_update(position.to_le_bytes())
            .finalize();
        let hex: String = digest.iter().take(13).map(|b| format!("{b:02x}")).collect();
        Message {
            id: format!("msg_{hex}"),
            kind: kind.to_string(),
            ticket: ticket.to_string(),
            event_id: event_id.to_string(),
            at,
            data,
        }
    }
}

impl Outcome {
    /// The messages an applied outcome produces, in order: `ticket.changed`
    /// (the ticket after the event), then one per `notify` effect, one
    /// `ticket.note` or `ticket.reply` per note or reply a workflow wrote, one
    /// `invoice` per invoice effect and one `approval.required` per
    /// approval it asks for. A rejected or failed outcome changed nothing
    /// and produces none.
    ///
    /// `event_kind` is the action's name (`created`, `updated`, ...) and
    /// `at` the event's instant; both go into the messages.
    pub fn messages(&self, event_kind: &str, at: i64) -> Vec<Message> {
        if !self.is_applied() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut push = |kind: &str, data: serde_json::Value| {
            let position = out.len();
            out.push(Message::new(
                &self.tenant,
                &self.ticket_id,
                &self.event_id,
                at,
                position,
                kind,
                data,
            ));
        };
        push(
            "ticket.changed",
            serde_json::json!({
                "event": event_kind,
                "ticket": ticket_json(self),
            }),
        );
        for applied in &self.effects {
            match &applied.effect {
                Effect::Notify { .. } | Effect::Invoice { .. } => {}
                Effect::Comment { body, public } => {
                    push(
                        if *public {
                            "ticket.reply"
                        } else {
                            "ticket.note"
                        },
                        serde_json::json!({ "plugin": applied.plugin, "body": body }),
                    );
                    continue;
                }
                _ => continue,
            }
            // The effect as the outcome serializes it (its `type` and
            // fields), with the plugin that decided it.
            let mut data = serde_json::to_value(applied).unwrap_or_default();
            if let Effect::Invoice { invoice } = &applied.effect {
                push("invoice", data.take());
                for (i, approval) in invoice.approvals.iter().enumerate() {
                    push(
                        "approval.required",
                        serde_json::json!({
                            "plugin": applied.plugin,
                            "approver_role": approval.approver_role,
                            "reason": approval.reason,
                            "amount": {
                                "amount_minor": approval.amount.amount_minor,
                                "currency": approval.amount.currency,
                            },
                            "index": i,
                        }),
                    );
                }
            } else {
                push("notification", data);
            }
        }
        out
    }
}

/// The ticket as the outcome serializes it.
fn ticket_json(o: &Outcome) -> serde_json::Value {
    docket_contract::wire::TicketDef::serialize(&o.ticket, serde_json::value::Serializer)
        .unwrap_or_default()
}
