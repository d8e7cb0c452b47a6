//! Effects: what plugins decided, in one uniform, serializable form, and how
//! the host applies them to its copy of the ticket. Decisions are checked
//! here (unknown calendar, empty group, mixed currencies, ...) so a bad
//! decision is a typed error, never a half-applied ticket.

use crate::calendar::BusinessCalendar;
use crate::error::PluginError;
use crate::sandbox::Decision;
use crate::workflow::{Mover, Position, Workflows};
use docket_contract::bindings::docket::plugin::types::{FieldValue, Priority, Status, Ticket};
use docket_contract::bindings::exports::docket::plugin::billing::{BillingDecision, InvoiceLine};
use docket_contract::bindings::exports::docket::plugin::escalation::{
    EscalationAction, EscalationDecision, Notification, Recipient, SlaMetric, SlaPolicy, TimerOp,
    TimerWhen,
};
use docket_contract::bindings::exports::docket::plugin::routing::RouteDecision;
use docket_contract::bindings::exports::docket::plugin::template::{ErrorCode, FieldError};
use docket_contract::bindings::exports::docket::plugin::workflow::{
    self as wf, WorkflowAction, WorkflowDecision,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The resolved due instant of one SLA target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaDue {
    /// What is measured.
    #[serde(with = "docket_contract::wire::SlaMetricDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::SlaMetricDef))]
    pub metric: SlaMetric,
    /// Allowed business minutes.
    pub minutes: u32,
    /// When it is due (counted from ticket creation).
    #[serde(with = "docket_contract::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub due_at: i64,
}

/// One thing a plugin decided, ready for the host to perform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Set a custom field.
    SetField {
        /// Field key.
        key: String,
        /// New value.
        #[serde(with = "docket_contract::wire::FieldValueDef")]
        #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::FieldValueDef))]
        value: FieldValue,
    },
    /// Assign a group, and an agent if given.
    Assign {
        /// Group.
        group: String,
        /// Agent.
        agent: Option<String>,
        /// Why.
        reason: String,
    },
    /// Set the priority.
    SetPriority {
        /// New priority.
        #[serde(with = "docket_contract::wire::PriorityDef")]
        #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::PriorityDef))]
        priority: Priority,
    },
    /// Add a tag.
    AddTag {
        /// Tag.
        tag: String,
    },
    /// Skills the assignee needs.
    RequireSkills {
        /// Skills.
        skills: Vec<String>,
    },
    /// Apply an SLA policy.
    ApplySla {
        /// The policy.
        #[serde(with = "docket_contract::wire::SlaPolicyDef")]
        #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::SlaPolicyDef))]
        policy: SlaPolicy,
        /// Its targets, resolved on the calendar.
        due: Vec<SlaDue>,
    },
    /// Send a notification.
    Notify {
        /// What and to whom.
        #[serde(with = "docket_contract::wire::NotificationDef")]
        #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::NotificationDef))]
        notification: Notification,
    },
    /// Set (or replace) a timer.
    SetTimer {
        /// Key, unique per ticket and plugin.
        key: String,
        /// When it fires.
        #[serde(with = "docket_contract::wire::instant")]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        due_at: i64,
    },
    /// Cancel a timer.
    CancelTimer {
        /// Key.
        key: String,
    },
    /// Move the ticket to a stage of its workflow (a workflow's `move-to`,
    /// checked against its transitions).
    MoveStage {
        /// The workflow.
        workflow: String,
        /// The stage left.
        from: String,
        /// The stage entered.
        to: String,
        /// The entered stage's base status: the ticket's status after.
        #[serde(with = "docket_contract::wire::StatusDef")]
        #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::StatusDef))]
        status: Status,
    },
    /// Remove a tag.
    RemoveTag {
        /// Tag.
        tag: String,
    },
    /// Set or clear the category.
    SetCategory {
        /// The category, or none.
        category: Option<String>,
    },
    /// Set the subject.
    SetSubject {
        /// The subject.
        subject: String,
    },
    /// Clear a custom field.
    ClearField {
        /// Field key.
        key: String,
    },
    /// Write on the ticket: an internal note, or a public reply to the
    /// requester. Delivered through the outbox (`ticket.note`,
    /// `ticket.reply`).
    Comment {
        /// The text.
        body: String,
        /// A reply the requester sees (else an internal note).
        public: bool,
    },
    /// The ticket's invoice as it now stands.
    Invoice {
        /// Lines, total, approvals and commissions.
        #[serde(with = "docket_contract::wire::BillingDecisionDef")]
        #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::BillingDecisionDef))]
        invoice: BillingDecision,
    },
}

/// One call's decision as the host performs it: the effects, and the
/// templates' field errors.
pub type Decided = (Vec<Effect>, Vec<FieldError>);

/// What the host needs to turn decisions into effects.
pub struct Resolver<'a> {
    /// The run's `now`.
    pub now: i64,
    /// The tenant's calendars by name.
    pub calendars: &'a HashMap<String, BusinessCalendar>,
    /// The pipeline's workflows.
    pub workflows: &'a Workflows,
}

/// The effects of one decision, or why the decision is invalid. Validation
/// errors come back separately: they reject the event.
pub fn effects_of(
    decision: Decision,
    ticket: &Ticket,
    position: Option<&wf::Position>,
    r: &Resolver<'_>,
) -> Result<Decided, PluginError> {
    Ok(match decision {
        Decision::Template(v) => {
            let effects = v
                .set_fields
                .into_iter()
                .map(|f| Effect::SetField {
                    key: f.key,
                    value: f.value,
                })
                .collect();
            (effects, v.errors)
        }
        Decision::Routing(None) | Decision::Billing(None) => (Vec::new(), Vec::new()),
        Decision::Routing(Some(d)) => (routing_effects(d)?, Vec::new()),
        Decision::Escalation(d) => (escalation_effects(d, ticket, r)?, Vec::new()),
        Decision::Billing(Some(d)) => (
            vec![Effect::Invoice {
                invoice: checked_invoice(d)?,
            }],
            Vec::new(),
        ),
        Decision::Workflow(d) => workflow_effects(d, ticket, position, r)?,
    })
}

/// A workflow's recipient as the escalation capability's (the same cases).
fn recipient_of(r: wf::Recipient) -> Recipient {
    match r {
        wf::Recipient::Role(x) => Recipient::Role(x),
        wf::Recipient::GroupLead(x) => Recipient::GroupLead(x),
        wf::Recipient::Agent(x) => Recipient::Agent(x),
        wf::Recipient::Channel(x) => Recipient::Channel(x),
        wf::Recipient::Requester => Recipient::Requester,
    }
}

/// The longest subject a plugin may set.
pub const MAX_SUBJECT_BYTES: usize = 1_024;
/// The longest note or reply a plugin may write.
pub const MAX_COMMENT_BYTES: usize = 16_384;

fn bounded_text(what: &str, s: &str, limit: usize) -> Result<(), PluginError> {
    if s.trim().is_empty() {
        Err(PluginError::invalid_output(format!("{what} is empty")))
    } else if s.len() > limit {
        Err(PluginError::invalid_output(format!(
            "{what} is {} bytes, over the {limit} allowed",
            s.len()
        )))
    } else {
        Ok(())
    }
}

/// A workflow decision's effects, each action checked on the ticket as the
/// actions before it left it (a `set-field` then a `move-to` that requires
/// the field is fine). A refusal is the event's rejection, as a field
/// error on `stage`.
fn workflow_effects(
    d: WorkflowDecision,
    ticket: &Ticket,
    position: Option<&wf::Position>,
    r: &Resolver<'_>,
) -> Result<Decided, PluginError> {
    let mut errors = Vec::new();
    if let Some(reason) = d.refuse {
        bounded_text("refusal reason", &reason, MAX_COMMENT_BYTES)?;
        errors.push(FieldError {
            field: "stage".into(),
            code: ErrorCode::InvalidOption,
            message: reason,
        });
    }
    let mut scratch = ticket.clone();
    let mut stage = position.map(|p| p.stage.clone());
    let mut out = Vec::new();
    for action in d.actions {
        let effect = match action {
            WorkflowAction::MoveTo(to) => {
                let (Some(p), Some(from)) = (position, stage.as_deref()) else {
                    return Err(PluginError::invalid_output(format!(
                        "move-to `{to}`: the ticket is in no workflow"
                    )));
                };
                let workflow = r.workflows.get(&p.workflow).ok_or_else(|| {
                    PluginError::invalid_output(format!(
                        "move-to `{to}`: the ticket's workflow `{}` is no longer defined",
                        p.workflow
                    ))
                })?;
                let entered = workflow
                    .check_move(&scratch, from, &to, Mover::Rule)
                    .map_err(|e| PluginError::invalid_output(format!("move-to `{to}`: {e}")))?;
                let effect = Effect::MoveStage {
                    workflow: p.workflow.clone(),
                    from: from.to_string(),
                    to: to.clone(),
                    status: entered.status,
                };
                stage = Some(to);
                effect
            }
            WorkflowAction::AddTag(tag) => {
                non_empty("workflow: tag", &tag)?;
                Effect::AddTag { tag }
            }
            WorkflowAction::RemoveTag(tag) => {
                non_empty("workflow: tag", &tag)?;
                Effect::RemoveTag { tag }
            }
            WorkflowAction::SetCategory(category) => {
                if let Some(c) = &category {
                    non_empty("workflow: category", c)?;
                }
                Effect::SetCategory { category }
            }
            WorkflowAction::SetSubject(subject) => {
                bounded_text("workflow: subject", &subject, MAX_SUBJECT_BYTES)?;
                Effect::SetSubject { subject }
            }
            WorkflowAction::SetField(f) => {
                non_empty("workflow: field key", &f.key)?;
                Effect::SetField {
                    key: f.key,
                    value: f.value,
                }
            }
            WorkflowAction::ClearField(key) => {
                non_empty("workflow: field key", &key)?;
                Effect::ClearField { key }
            }
            WorkflowAction::Note(body) => {
                bounded_text("workflow: note", &body, MAX_COMMENT_BYTES)?;
                Effect::Comment {
                    body,
                    public: false,
                }
            }
            WorkflowAction::Reply(body) => {
                bounded_text("workflow: reply", &body, MAX_COMMENT_BYTES)?;
                Effect::Comment { body, public: true }
            }
            WorkflowAction::Notify(n) => Effect::Notify {
                notification: Notification {
                    to: recipient_of(n.to),
                    topic: n.topic,
                    message: n.message,
                },
            },
        };
        apply(&mut scratch, std::slice::from_ref(&effect), r.now);
        out.push(effect);
    }
    Ok((out, errors))
}

fn non_empty(what: &str, s: &str) -> Result<(), PluginError> {
    if s.trim().is_empty() {
        Err(PluginError::invalid_output(format!("{what} is empty")))
    } else if s.len() > 256 {
        Err(PluginError::invalid_output(format!(
            "{what} is longer than 256 bytes"
        )))
    } else {
        Ok(())
    }
}

fn routing_effects(d: RouteDecision) -> Result<Vec<Effect>, PluginError> {
    non_empty("routing decision: group", &d.group)?;
    if let Some(agent) = &d.agent {
        non_empty("routing decision: agent", agent)?;
    }
    let mut out = vec![Effect::Assign {
        group: d.group,
        agent: d.agent,
        reason: d.reason,
    }];
    out.extend(d.priority.map(|priority| Effect::SetPriority { priority }));
    if !d.skills.is_empty() {
        out.push(Effect::RequireSkills { skills: d.skills });
    }
    for tag in d.tags {
        non_empty("routing decision: tag", &tag)?;
        out.push(Effect::AddTag { tag });
    }
    Ok(out)
}

fn calendar<'a>(r: &'a Resolver<'_>, name: &str) -> Result<&'a BusinessCalendar, PluginError> {
    r.calendars.get(name).ok_or_else(|| {
        let mut known: Vec<&str> = r.calendars.keys().map(String::as_str).collect();
        known.sort_unstable();
        PluginError::invalid_output(format!(
            "unknown calendar `{name}` (the tenant defines: {})",
            known.join(", ")
        ))
    })
}

fn escalation_effects(
    d: EscalationDecision,
    ticket: &Ticket,
    r: &Resolver<'_>,
) -> Result<Vec<Effect>, PluginError> {
    let mut out = Vec::new();
    if let Some(policy) = d.sla {
        let cal = calendar(r, &policy.calendar)?;
        let due = policy
            .targets
            .iter()
            .map(|t| {
                let due_at = cal
                    .add_business_minutes(ticket.created_at, t.minutes)
                    .map_err(PluginError::invalid_output)?;
                Ok(SlaDue {
                    metric: t.metric,
                    minutes: t.minutes,
                    due_at,
                })
            })
            .collect::<Result<_, PluginError>>()?;
        out.push(Effect::ApplySla { policy, due });
    }
    for action in d.actions {
        out.push(match action {
            EscalationAction::RaisePriority(p) => {
                if (p as u8) <= (ticket.priority as u8) {
                    continue; // "raise" never lowers
                }
                Effect::SetPriority { priority: p }
            }
            EscalationAction::Reassign((group, agent)) => {
                non_empty("reassign: group", &group)?;
                Effect::Assign {
                    group,
                    agent,
                    reason: "escalation".into(),
                }
            }
            EscalationAction::Notify(n) => Effect::Notify { notification: n },
            EscalationAction::AddTag(tag) => {
                non_empty("escalation: tag", &tag)?;
                Effect::AddTag { tag }
            }
        });
    }
    for op in d.timers {
        out.push(match op {
            TimerOp::Set((key, when)) => {
                non_empty("timer key", &key)?;
                let due_at = match when {
                    TimerWhen::At(at) => at,
                    TimerWhen::After(ms) if ms >= 0 => r.now.saturating_add(ms),
                    TimerWhen::After(ms) => {
                        return Err(PluginError::invalid_output(format!(
                            "timer `{key}`: negative delay {ms} ms"
                        )));
                    }
                    TimerWhen::AfterBusiness(b) => calendar(r, &b.calendar)?
                        .add_business_minutes(b.start.unwrap_or(r.now), b.minutes)
                        .map_err(PluginError::invalid_output)?,
                };
                Effect::SetTimer { key, due_at }
            }
            TimerOp::Cancel(key) => Effect::CancelTimer { key },
        });
    }
    Ok(out)
}

/// The largest decimal scale a quantity may have (10^18 fits in i64).
const MAX_QUANTITY_SCALE: u8 = 18;

/// Checks that a line's amount is its quantity times its unit price, to the
/// precision both are stated in. For a quantity `q / 10^s` and a unit price
/// `p`: `|amount × 10^s − q × p| ≤ |p|/2 + |q|/2 + 10^s`, that is half a
/// step of the quantity at the unit price, half a minor unit of a rounded
/// unit price per unit, and the amount's own rounding. Computed in i128, where no i64 inputs overflow:
/// an amount that wrapped around in the plugin is far outside the bound.
fn check_line_amount(i: usize, line: &InvoiceLine) -> Result<(), String> {
    let q = &line.quantity;
    if q.scale > MAX_QUANTITY_SCALE {
        return Err(format!(
            "invoice line {i} (`{}`): quantity scale {} is over {MAX_QUANTITY_SCALE}",
            line.description, q.scale
        ));
    }
    let step = 10i128.pow(u32::from(q.scale));
    let (qm, price, amount) = (
        i128::from(q.mantissa),
        i128::from(line.unit_price.amount_minor),
        i128::from(line.amount.amount_minor),
    );
    let off = (amount * step - qm * price).abs();
    let tolerance = price.abs() / 2 + qm.abs() / 2 + step;
    if off <= tolerance {
        return Ok(());
    }
    let expected = qm * price / step;
    Err(format!(
        "invoice line {i} (`{}`): amount {} is not quantity × unit price ({} × {} ≈ {expected}{}){}",
        line.description,
        line.amount.amount_minor,
        decimal_text(q.mantissa, q.scale),
        line.unit_price.amount_minor,
        if i64::try_from(expected).is_err() {
            ", which overflows i64"
        } else {
            ""
        },
        " — an overflow or a wrong line in the plugin",
    ))
}

/// `mantissa / 10^scale` as text, for messages.
fn decimal_text(mantissa: i64, scale: u8) -> String {
    if scale == 0 {
        return mantissa.to_string();
    }
    let digits = format!(
        "{:0>width$}",
        mantissa.unsigned_abs(),
        width = usize::from(scale) + 1
    );
    let (whole, frac) = digits.split_at(digits.len() - usize::from(scale));
    format!("{}{whole}.{frac}", if mantissa < 0 { "-" } else { "" })
}

/// Checks an invoice: one currency, every line's amount its quantity times
/// its unit price, line totals that add up without overflow, shares ≤ 100%.
fn checked_invoice(mut d: BillingDecision) -> Result<BillingDecision, PluginError> {
    let currency = d
        .total
        .as_ref()
        .map(|t| t.currency.clone())
        .or_else(|| d.lines.first().map(|l| l.amount.currency.clone()));
    let Some(currency) = currency else {
        return Ok(d);
    };
    // i128: no sum of i64 lines a plugin can return overflows it.
    let mut sum: i128 = 0;
    for (i, line) in d.lines.iter().enumerate() {
        if line.amount.currency != currency || line.unit_price.currency != currency {
            return Err(PluginError::invalid_output(format!(
                "invoice line {i} (`{}`) is in {}, the invoice in {currency}",
                line.description, line.amount.currency
            )));
        }
        check_line_amount(i, line).map_err(PluginError::invalid_output)?;
        sum += i128::from(line.amount.amount_minor);
    }
    let sum = i64::try_from(sum).map_err(|_| {
        PluginError::invalid_output(format!(
            "invoice total ({sum} minor units over {} lines) overflows i64",
            d.lines.len()
        ))
    })?;
    match &d.total {
        Some(t) if t.amount_minor != sum => {
            return Err(PluginError::invalid_output(format!(
                "invoice total {} {currency} is not the sum of its lines ({sum})",
                t.amount_minor
            )));
        }
        Some(_) => {}
        None => {
            d.total = Some(docket_contract::bindings::docket::plugin::types::Money {
                amount_minor: sum,
                currency: currency.clone(),
            })
        }
    }
    let bps: u64 = d
        .commissions
        .iter()
        .map(|c| u64::from(c.basis_points))
        .sum();
    if bps > 10_000 {
        return Err(PluginError::invalid_output(format!(
            "commission shares add up to {bps} basis points, over 100%"
        )));
    }
    Ok(d)
}

/// Moves `position` along the `move-stage` effects among `effects`.
pub(crate) fn advance(position: &mut Option<Position>, effects: &[Effect], now: i64) {
    for e in effects {
        if let (Effect::MoveStage { to, .. }, Some(p)) = (e, position.as_mut()) {
            p.stage.clone_from(to);
            p.entered_at = now;
        }
    }
}

/// Applies effects to the host's copy of the ticket. Notifications, timers,
/// SLA and invoices are outside the ticket record: the embedder performs them.
pub fn apply(ticket: &mut Ticket, effects: &[Effect], now: i64) {
    for e in effects {
        match e {
            Effect::SetField { key, value } => {
                match ticket.fields.iter_mut().find(|f| &f.key == key) {
                    Some(f) => f.value = value.clone(),
                    None => ticket.fields.push(
                        docket_contract::bindings::docket::plugin::types::CustomField {
                            key: key.clone(),
                            value: value.clone(),
                        },
                    ),
                }
            }
            Effect::Assign { group, agent, .. } => {
                ticket.group = Some(group.clone());
                ticket.assignee = agent.clone();
            }
            Effect::SetPriority { priority } => ticket.priority = *priority,
            Effect::MoveStage { status, .. } => ticket.status = *status,
            Effect::RemoveTag { tag } => ticket.tags.retain(|t| t != tag),
            Effect::SetCategory { category } => ticket.category.clone_from(category),
            Effect::SetSubject { subject } => ticket.subject.clone_from(subject),
            Effect::ClearField { key } => ticket.fields.retain(|f| &f.key != key),
            Effect::AddTag { tag } => {
                if !ticket.tags.contains(tag) {
                    ticket.tags.push(tag.clone());
                }
            }
            Effect::RequireSkills { .. }
            | Effect::ApplySla { .. }
            | Effect::Notify { .. }
            | Effect::SetTimer { .. }
            | Effect::CancelTimer { .. }
            | Effect::Comment { .. }
            | Effect::Invoice { .. } => continue,
        }
        ticket.updated_at = now;
    }
}
