//! Routing rules of a multi-department helpdesk.
//!
//! In order, the first rule that applies wins:
//! 1. VIP requesters go to the `senior-support` queue at high priority or above,
//!    to the least-loaded available senior agent (level ≥ `senior_level`).
//! 2. Phone tickets go to the `voice` team.
//! 3. The region × category matrix: hardware in a region goes to that
//!    region's field-service team.
//! 4. Category → department.
//!
//! Within the chosen group, load-based overflow: the least-loaded available
//! agent with fewer than `max_open` open tickets; when every
//! agent is over the limit, the ticket waits in the group queue, tagged
//! `overflow`. Runs on creation and when the category, channel or requester
//! tier changes.
use docket_guest_sdk::prelude::*;

/// The routing plugin.
pub struct HelpdeskRouting;

/// Category → department.
const DEPARTMENTS: &[(&str, &str)] = &[
    ("hardware", "field-service"),
    ("software", "it-support"),
    ("network", "network-ops"),
    ("billing", "finance"),
    ("returns", "ecommerce"),
    ("account", "customer-care"),
];

/// Region × category → team.
const REGION_MATRIX: &[(&str, &str, &str)] = &[
    ("emea", "hardware", "field-service-emea"),
    ("amer", "hardware", "field-service-amer"),
    ("apac", "hardware", "field-service-apac"),
    ("emea", "network", "network-ops-emea"),
    ("amer", "network", "network-ops-amer"),
];

fn should_route(ev: &Event) -> bool {
    match &ev.kind {
        EventKind::Created => true,
        EventKind::Updated(changed) => changed
            .iter()
            .any(|c| matches!(c.as_str(), "category" | "channel" | "tier")),
        _ => false,
    }
}

/// The least-loaded available agent of the group with fewer than `max_open`
/// open tickets and at least `min_level` seniority (ties: the host's order).
fn pick_agent<'a>(
    ctx: &'a Context,
    group: &'a str,
    min_level: u8,
    max_open: u32,
) -> Option<&'a Agent> {
    ctx.agents_in(group)
        .filter(|a| a.available && a.level >= min_level && a.open_tickets < max_open)
        .min_by_key(|a| a.open_tickets)
}

fn decide_group(t: &Ticket, senior_level: u8) -> (RouteDecision, u8) {
    let category = t.category_or_empty();
    if t.requester.tier == "vip" {
        let priority = if t.priority == Priority::Urgent {
            Priority::Urgent
        } else {
            Priority::High
        };
        let d = RouteDecision::to_group("senior-support")
            .priority(priority)
            .tag("vip")
            .reason(format!(
                "VIP requester {} goes to senior support",
                t.requester.name
            ));
        return (d, senior_level);
    }
    if t.channel == Channel::Phone {
        let d = RouteDecision::to_group("voice")
            .skill("phone")
            .reason("phone tickets go to the voice team");
        return (d, 1);
    }
    if let Some(region) = t.requester.region.as_deref()
        && let Some((_, _, team)) = REGION_MATRIX
            .iter()
            .find(|(r, c, _)| *r == region && *c == category)
    {
        let d = RouteDecision::to_group(team)
            .skill(category)
            .reason(format!("{category} in {region} goes to {team}"));
        return (d, 1);
    }
    let dept = DEPARTMENTS
        .iter()
        .find(|(c, _)| *c == category)
        .map(|(_, d)| *d);
    let d = match dept {
        Some(dept) => {
            RouteDecision::to_group(dept).reason(format!("category {category} goes to {dept}"))
        }
        None => RouteDecision::to_group("general")
            .reason(format!("no rule for category `{category}`: general queue")),
    };
    (d, 1)
}

impl Routing for HelpdeskRouting {
    fn route(ev: &Event, t: &Ticket, ctx: &Context) -> Option<RouteDecision> {
        if !should_route(ev) {
            return None;
        }
        let max_open = ctx.setting_integer("max_open", 5).clamp(1, u32::MAX.into()) as u32;
        let senior_level = ctx.setting_integer("senior_level", 3).clamp(0, 255) as u8;
        let (decision, min_level) = decide_group(t, senior_level);
        let group = decision.group.clone();
        Some(match pick_agent(ctx, &group, min_level, max_open) {
            Some(agent) => {
                let why = format!(
                    "; {} has {} open (limit {max_open})",
                    agent.name, agent.open_tickets
                );
                let reason = decision.reason.clone() + &why;
                decision.agent(&agent.id).reason(reason)
            }
            None => {
                let reason = decision.reason.clone()
                    + &format!("; every agent has {max_open}+ open tickets or is away: queued");
                decision.tag("overflow").reason(reason)
            }
        })
    }
}

docket_guest_sdk::export_plugin!(HelpdeskRouting: routing);
