//! SLA and escalation rules.
//!
//! - SLA targets by priority and customer tier, on the `business-hours`
//!   calendar (setting `calendar`): VIP first response in 1 business hour,
//!   normal tickets in 24; pending and on-hold pause the clocks.
//! - Escalation at 75% of a target (warn the group lead) and at 100% (raise
//!   the priority one step, tell the duty manager, tag `sla-breached`).
//! - The first public agent reply stops the first-response timers; solving
//!   stops the resolution timers.
//! - A ticket untouched for 24 hours notifies its group lead.
//! - Three contacts about the same category within a week mark the ticket
//!   high risk: tag, priority high, the account manager is told.
use docket_guest_sdk::prelude::*;

/// The escalation plugin.
pub struct SlaEscalation;

const WEEK_MS: i64 = 7 * 24 * HOUR_MS;
const IDLE_TIMER: &str = "idle-24h";
const REPEAT_CONTACTS: usize = 3;
/// Tag recording that the first response was given.
const RESPONDED_TAG: &str = "responded";

/// (first response, resolution) business minutes for a priority and tier.
pub fn targets(priority: Priority, tier: &str) -> (u32, u32) {
    let (first, resolution) = match priority {
        Priority::Urgent => (60, 8 * 60),
        Priority::High => (4 * 60, 24 * 60),
        Priority::Normal => (24 * 60, 72 * 60),
        Priority::Low => (48 * 60, 120 * 60),
    };
    if tier == "vip" {
        (60.min(first), resolution / 2)
    } else {
        (first, resolution)
    }
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

fn metric_name(m: SlaMetric) -> &'static str {
    match m {
        SlaMetric::FirstResponse => "first_response",
        SlaMetric::NextReply => "next_reply",
        SlaMetric::Resolution => "resolution",
    }
}

fn timer_key(m: SlaMetric, percent: u32) -> String {
    format!("sla:{}:{percent}", metric_name(m))
}

fn policy(t: &Ticket, calendar: &str) -> SlaPolicy {
    let (first, resolution) = targets(t.priority, &t.requester.tier);
    SlaPolicy {
        name: format!("{}/{}", priority_name(t.priority), t.requester.tier),
        calendar: calendar.to_string(),
        targets: vec![
            SlaTarget {
                metric: SlaMetric::FirstResponse,
                minutes: first,
            },
            SlaTarget {
                metric: SlaMetric::Resolution,
                minutes: resolution,
            },
        ],
        pause_on: vec![Status::Pending, Status::OnHold],
    }
}

/// Sets the 75% and 100% timers of every target of the policy, counted in
/// business time from the ticket's creation.
fn arm_timers(
    mut d: EscalationDecision,
    p: &SlaPolicy,
    t: &Ticket,
    first_response_pending: bool,
) -> EscalationDecision {
    for target in &p.targets {
        if target.metric == SlaMetric::FirstResponse && !first_response_pending {
            continue;
        }
        for percent in [75, 100] {
            let minutes = target.minutes * percent / 100;
            let delay = BusinessDelay {
                calendar: p.calendar.clone(),
                minutes,
                start: Some(t.created_at),
            };
            d = d.set_timer(
                &timer_key(target.metric, percent),
                TimerWhen::AfterBusiness(delay),
            );
        }
    }
    d
}

fn cancel_timers(d: EscalationDecision, m: SlaMetric) -> EscalationDecision {
    d.cancel_timer(&timer_key(m, 75))
        .cancel_timer(&timer_key(m, 100))
}

fn raised(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        _ => Priority::Urgent,
    }
}

fn group_of(t: &Ticket) -> String {
    t.group.clone().unwrap_or_else(|| "general".into())
}

fn notify(to: Recipient, topic: &str, message: String) -> EscalationAction {
    EscalationAction::Notify(Notification {
        to,
        topic: topic.into(),
        message,
    })
}

fn on_timer(key: &str, t: &Ticket) -> EscalationDecision {
    let d = EscalationDecision::none();
    if t.is_resolved() {
        return d;
    }
    let group = group_of(t);
    if key == IDLE_TIMER {
        let msg = format!("ticket {} has not been touched for 24 hours", t.id);
        return d.action(notify(Recipient::GroupLead(group), "ticket-idle", msg));
    }
    let Some(rest) = key.strip_prefix("sla:") else {
        return d;
    };
    let (metric, percent) = rest.rsplit_once(':').unwrap_or((rest, ""));
    match percent {
        "75" => {
            let msg = format!("ticket {}: 75% of the {metric} target used", t.id);
            d.action(notify(Recipient::GroupLead(group), "sla-warning", msg))
        }
        "100" => {
            let msg = format!("ticket {} breached its {metric} target", t.id);
            d.action(EscalationAction::RaisePriority(raised(t.priority)))
                .action(notify(
                    Recipient::Role("duty-manager".into()),
                    "sla-breach",
                    msg,
                ))
                .action(EscalationAction::AddTag("sla-breached".into()))
        }
        _ => d,
    }
}

/// Whether the requester contacted us about the same category often enough
/// this week (this ticket included) to call the ticket high risk.
pub fn is_repeat_contact(t: &Ticket, ctx: &Context) -> bool {
    let Some(category) = &t.category else {
        return false;
    };
    let since = ctx.now - WEEK_MS;
    let earlier = ctx
        .history
        .iter()
        .filter(|b| b.id != t.id && b.category.as_ref() == Some(category) && b.created_at >= since)
        .count();
    earlier + 1 >= REPEAT_CONTACTS
}

impl Escalation for SlaEscalation {
    fn evaluate(ev: &Event, t: &Ticket, ctx: &Context) -> EscalationDecision {
        let calendar = ctx.setting_text("calendar", "business-hours");
        let idle = || TimerWhen::After(24 * HOUR_MS);
        match &ev.kind {
            EventKind::TimerFired(key) => on_timer(key, t),
            EventKind::Created => {
                let p = policy(t, calendar);
                let mut d = arm_timers(EscalationDecision::none(), &p, t, true)
                    .sla(p)
                    .set_timer(IDLE_TIMER, idle());
                if is_repeat_contact(t, ctx) {
                    let msg = format!(
                        "{} contacted us {REPEAT_CONTACTS}+ times this week about {}",
                        t.requester.name,
                        t.category_or_empty()
                    );
                    d = d
                        .action(EscalationAction::AddTag("high-risk".into()))
                        .action(EscalationAction::RaisePriority(Priority::High))
                        .action(notify(
                            Recipient::Role("account-manager".into()),
                            "repeat-contact",
                            msg,
                        ));
                }
                d
            }
            EventKind::Updated(changed)
                if changed.iter().any(|c| c == "priority" || c == "tier") =>
            {
                // A first response already given stays given: only re-arm
                // its timers while none has been sent.
                let p = policy(t, calendar);
                let pending = !t.has_tag(RESPONDED_TAG);
                arm_timers(EscalationDecision::none(), &p, t, pending)
                    .sla(p)
                    .set_timer(IDLE_TIMER, idle())
            }
            EventKind::Commented(c) if c.author_kind == AuthorKind::Agent && c.public => {
                cancel_timers(EscalationDecision::none(), SlaMetric::FirstResponse)
                    .set_timer(IDLE_TIMER, idle())
                    .action(EscalationAction::AddTag(RESPONDED_TAG.into()))
            }
            EventKind::StatusChanged(s) if matches!(s.current, Status::Solved | Status::Closed) => {
                let d = cancel_timers(EscalationDecision::none(), SlaMetric::FirstResponse);
                cancel_timers(d, SlaMetric::Resolution).cancel_timer(IDLE_TIMER)
            }
            _ => EscalationDecision::none().set_timer(IDLE_TIMER, idle()),
        }
    }
}

docket_guest_sdk::export_plugin!(SlaEscalation: escalation);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vip_first_response_is_one_hour() {
        assert_eq!(targets(Priority::Normal, "vip").0, 60);
        assert_eq!(targets(Priority::Normal, "standard").0, 24 * 60);
    }
}
