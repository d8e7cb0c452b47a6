//! An outcome's decisions summed up by kind, so two outcomes of one event
//! (the active pipeline's and a candidate's, or the recorded one and a
//! replay's) can be compared kind by kind: "group support → billing".
//!
//! Each kind has one display value per outcome (`-` when the outcome
//! decided nothing of that kind); two outcomes differ in a kind when the
//! values differ.

use crate::dispatch::{AppliedEffect, OutcomeStatus};
use crate::effects::Effect;
use docket_contract::bindings::docket::plugin::types::{FieldValue, Money};
use docket_contract::bindings::exports::docket::plugin::escalation::{Recipient, SlaMetric};
use docket_contract::wire::{Wire, instant};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// A kind of decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Applied, rejected, or failed (and by which plugin and error).
    Status,
    /// The templates' validation errors.
    Validation,
    /// The group assigned.
    Group,
    /// The agent assigned.
    Agent,
    /// The priority set.
    Priority,
    /// Tags added.
    Tags,
    /// Custom fields set.
    Fields,
    /// Skills required.
    Skills,
    /// SLA policy and its targets' due instants.
    SlaTargets,
    /// Timers set and cancelled.
    Timers,
    /// Notifications sent.
    Notifications,
    /// The invoice total.
    InvoiceTotal,
    /// Approvals the invoice needs.
    Approvals,
    /// Stages moved to.
    Stage,
    /// Tags removed.
    RemovedTags,
    /// Category and subject set.
    Attributes,
    /// Notes and replies written.
    Comments,
}

impl DecisionKind {
    /// Every kind, in report order.
    pub const ALL: [DecisionKind; 17] = [
        DecisionKind::Status,
        DecisionKind::Validation,
        DecisionKind::Group,
        DecisionKind::Agent,
        DecisionKind::Priority,
        DecisionKind::Tags,
        DecisionKind::Fields,
        DecisionKind::Skills,
        DecisionKind::SlaTargets,
        DecisionKind::Timers,
        DecisionKind::Notifications,
        DecisionKind::InvoiceTotal,
        DecisionKind::Approvals,
        DecisionKind::Stage,
        DecisionKind::RemovedTags,
        DecisionKind::Attributes,
        DecisionKind::Comments,
    ];

    /// The kind's name as reports spell it (`sla_targets`).
    pub fn name(self) -> &'static str {
        match self {
            DecisionKind::Status => "status",
            DecisionKind::Validation => "validation",
            DecisionKind::Group => "group",
            DecisionKind::Agent => "agent",
            DecisionKind::Priority => "priority",
            DecisionKind::Tags => "tags",
            DecisionKind::Fields => "fields",
            DecisionKind::Skills => "skills",
            DecisionKind::SlaTargets => "sla_targets",
            DecisionKind::Timers => "timers",
            DecisionKind::Notifications => "notifications",
            DecisionKind::InvoiceTotal => "invoice_total",
            DecisionKind::Approvals => "approvals",
            DecisionKind::Stage => "stage",
            DecisionKind::RemovedTags => "removed_tags",
            DecisionKind::Attributes => "attributes",
            DecisionKind::Comments => "comments",
        }
    }
}

/// What an outcome decided, one display value per [`DecisionKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    values: [String; DecisionKind::ALL.len()],
}

/// The value of a kind nothing was decided of.
pub const NOTHING: &str = "-";

/// One kind two outcomes decided differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// The kind.
    pub kind: DecisionKind,
    /// The first outcome's value (`-`: nothing decided).
    pub before: String,
    /// The second outcome's value.
    pub after: String,
}

impl Decisions {
    /// The decisions of an outcome's status and effects.
    pub fn of(status: &OutcomeStatus, effects: &[AppliedEffect]) -> Decisions {
        let mut values: [String; DecisionKind::ALL.len()] = Default::default();
        let mut put = |kind: DecisionKind, text: &str| {
            let v = &mut values[kind as usize];
            if !v.is_empty() {
                v.push_str(", ");
            }
            v.push_str(text);
        };
        match status {
            OutcomeStatus::Applied => put(DecisionKind::Status, "applied"),
            OutcomeStatus::Rejected { errors } => {
                put(DecisionKind::Status, "rejected");
                for e in errors {
                    put(
                        DecisionKind::Validation,
                        &format!("{}: {}", e.error.field, e.error.message),
                    );
                }
            }
            OutcomeStatus::Failed { plugin, error } => {
                put(
                    DecisionKind::Status,
                    &format!("failed ({plugin}: {})", error.kind()),
                );
            }
        }
        // Assignment and priority: the last decision stands.
        let mut assigned: Option<(&str, Option<&str>)> = None;
        let mut priority = None;
        let mut invoice = None;
        let mut tags: Vec<&str> = Vec::new();
        for e in effects {
            match &e.effect {
                Effect::Assign { group, agent, .. } => assigned = Some((group, agent.as_deref())),
                Effect::SetPriority { priority: p } => priority = Some(*p),
                Effect::AddTag { tag } => tags.push(tag),
                Effect::SetField { key, value } => put(
                    DecisionKind::Fields,
                    &format!("{key}={}", field_text(value)),
                ),
                Effect::RequireSkills { skills } => put(DecisionKind::Skills, &skills.join("+")),
                Effect::ApplySla { policy, due } => {
                    let mut text = policy.name.clone();
                    for d in due {
                        let _ = write!(
                            text,
                            " {}@{}",
                            metric_name(d.metric),
                            instant::text(d.due_at)
                        );
                    }
                    put(DecisionKind::SlaTargets, &text)
                }
                Effect::SetTimer { key, due_at } => put(
                    DecisionKind::Timers,
                    &format!("{key}@{}", instant::text(*due_at)),
                ),
                Effect::CancelTimer { key } => {
                    put(DecisionKind::Timers, &format!("{key} cancelled"))
                }
                Effect::Notify { notification } => put(
                    DecisionKind::Notifications,
                    &format!(
                        "{} to {}",
                        notification.topic,
                        recipient_text(&notification.to)
                    ),
                ),
                Effect::Invoice { invoice: i } => invoice = Some(i),
                Effect::MoveStage { from, to, .. } => {
                    put(DecisionKind::Stage, &format!("{from} → {to}"))
                }
                Effect::RemoveTag { tag } => put(DecisionKind::RemovedTags, tag),
                Effect::SetCategory { category } => put(
                    DecisionKind::Attributes,
                    &format!("category={}", category.as_deref().unwrap_or(NOTHING)),
                ),
                Effect::SetSubject { subject } => {
                    put(DecisionKind::Attributes, &format!("subject={subject}"))
                }
                Effect::ClearField { key } => put(DecisionKind::Fields, &format!("{key} cleared")),
                Effect::Comment { body, public } => put(
                    DecisionKind::Comments,
                    &format!("{} {body:?}", if *public { "reply" } else { "note" }),
                ),
            }
        }
        if let Some((group, agent)) = assigned {
            put(DecisionKind::Group, group);
            if let Some(agent) = agent {
                put(DecisionKind::Agent, agent);
            }
        }
        if let Some(p) = priority {
            put(DecisionKind::Priority, &format!("{p:?}").to_lowercase());
        }
        tags.sort_unstable();
        tags.dedup();
        for tag in tags {
            put(DecisionKind::Tags, tag);
        }
        if let Some(i) = invoice {
            if let Some(total) = &i.total {
                put(DecisionKind::InvoiceTotal, &money_text(total));
            }
            for a in &i.approvals {
                put(
                    DecisionKind::Approvals,
                    &format!("{} ({})", a.approver_role, money_text(&a.amount)),
                );
            }
        }
        for v in &mut values {
            if v.is_empty() {
                v.push_str(NOTHING);
            }
        }
        Decisions { values }
    }

    /// The value of one kind (`-`: nothing decided).
    pub fn get(&self, kind: DecisionKind) -> &str {
        &self.values[kind as usize]
    }

    /// The kinds `other` decided differently, in report order.
    pub fn changes(&self, other: &Decisions) -> Vec<Change> {
        DecisionKind::ALL
            .iter()
            .filter(|k| self.get(**k) != other.get(**k))
            .map(|k| Change {
                kind: *k,
                before: self.get(*k).to_string(),
                after: other.get(*k).to_string(),
            })
            .collect()
    }
}

/// An SLA metric as the wire spells it.
fn metric_name(m: SlaMetric) -> &'static str {
    match m {
        SlaMetric::FirstResponse => "first_response",
        SlaMetric::NextReply => "next_reply",
        SlaMetric::Resolution => "resolution",
    }
}

/// An amount in minor units with its currency (`8999 EUR`): exact for
/// every currency, whatever its number of decimals.
fn money_text(m: &Money) -> String {
    format!("{} {}", m.amount_minor, m.currency)
}

/// A field value in the wire's JSON shape (`{"choice":"laptop"}`).
fn field_text(v: &FieldValue) -> String {
    serde_json::to_string(&Wire(v)).expect("plain data serializes")
}

/// A notification's recipient for people (`role duty-manager`, `lead of
/// support`, `requester`).
pub fn recipient_text(r: &Recipient) -> String {
    match r {
        Recipient::Role(x) => format!("role {x}"),
        Recipient::GroupLead(x) => format!("lead of {x}"),
        Recipient::Agent(x) => format!("agent {x}"),
        Recipient::Channel(x) => format!("channel {x}"),
        Recipient::Requester => "requester".to_string(),
    }
}
