//! Time-and-materials billing for field service.
//!
//! - Labor: each billable time entry at its work type's hourly rate, rounded
//!   up to 15-minute increments with a 30-minute minimum.
//! - After hours (before 08:00 or from 18:00 local time, or at the weekend):
//!   ×1.5.
//! - Parts at list price.
//! - Invoices over 500.00 need the finance manager's approval.
//! - Commission: each technician earns 10% of their own labor; the regional
//!   manager earns 2% of the invoice total.
//!
//! Settings: `currency` (EUR), `utc_offset_minutes` (60), `approval_threshold`
//! (money, 500.00), `rate.<work-type>` (money per hour), `manager.<region>`.
//! Bills on time logged, parts used, and when the ticket is solved.
use docket_guest_sdk::money::round_to_increment;
use docket_guest_sdk::prelude::*;
use docket_guest_sdk::time::local_hour_and_weekday;

/// The billing plugin.
pub struct FieldServiceBilling;

/// Default hourly rates in minor units.
const RATES: &[(&str, i64)] = &[
    ("remote", 9_000),
    ("onsite", 12_000),
    ("workshop", 10_000),
    ("emergency", 15_000),
];

const INCREMENT_MINUTES: i64 = 15;
const MINIMUM_MINUTES: i64 = 30;
const TECHNICIAN_BPS: u32 = 1_000;
const MANAGER_BPS: u32 = 200;

fn hourly_rate(ctx: &Context, work_type: &str, currency: &str) -> Money {
    let default = RATES
        .iter()
        .find(|(w, _)| *w == work_type)
        .map_or(RATES[0].1, |(_, r)| *r);
    ctx.setting_money(&format!("rate.{work_type}"), Money::new(default, currency))
}

/// Whether work starting at the instant is outside office hours.
pub fn is_after_hours(instant: i64, utc_offset_minutes: i32) -> bool {
    let (hour, weekday) = local_hour_and_weekday(instant, utc_offset_minutes);
    weekday >= 6 || !(8..18).contains(&hour)
}

/// Billable minutes: rounded up to the increment, never under the minimum.
pub fn billable_minutes(minutes: u32) -> i64 {
    round_to_increment(minutes.into(), INCREMENT_MINUTES, Rounding::Up).max(MINIMUM_MINUTES)
}

fn labor_line(e: &TimeEntry, ctx: &Context, currency: &str, offset: i32) -> InvoiceLine {
    let rate = hourly_rate(ctx, &e.work_type, currency);
    let minutes = billable_minutes(e.minutes);
    let after_hours = is_after_hours(e.started_at, offset);
    // rate × minutes / 60 × (3/2 after hours), rounded once at the end.
    let (num, den) = if after_hours {
        (minutes * 3, 120)
    } else {
        (minutes, 60)
    };
    let amount = rate.mul_ratio(num, den, Rounding::HalfEven);
    let unit_price = if after_hours {
        rate.mul_ratio(3, 2, Rounding::HalfEven)
    } else {
        rate
    };
    let suffix = if after_hours {
        ", after hours ×1.5"
    } else {
        ""
    };
    InvoiceLine {
        kind: LineKind::Labor,
        description: format!(
            "{} labor, {minutes} min billed ({} worked){suffix}",
            e.work_type, e.minutes
        ),
        quantity: Decimal::hours_from_minutes(minutes),
        unit_price,
        amount,
        source: Some(e.id.clone()),
    }
}

fn part_line(p: &Part) -> InvoiceLine {
    InvoiceLine {
        kind: LineKind::Part,
        description: format!("{} ({})", p.description, p.sku),
        quantity: Decimal::whole(p.quantity.into()),
        unit_price: p.unit_price.clone(),
        amount: p.unit_price.times(p.quantity.into()),
        source: Some(p.sku.clone()),
    }
}

fn should_bill(ev: &Event) -> bool {
    match &ev.kind {
        EventKind::TimeLogged(_) | EventKind::PartUsed(_) => true,
        EventKind::StatusChanged(change) => change.current == Status::Solved,
        _ => false,
    }
}

/// Computes the whole invoice of a ticket.
pub fn invoice(t: &Ticket, ctx: &Context) -> BillingDecision {
    let currency = ctx.setting_text("currency", "EUR").to_string();
    let offset = ctx
        .setting_integer("utc_offset_minutes", 60)
        .clamp(-14 * 60, 14 * 60) as i32;
    let labor: Vec<(&TimeEntry, InvoiceLine)> = t
        .time_entries
        .iter()
        .filter(|e| e.billable)
        .map(|e| (e, labor_line(e, ctx, &currency, offset)))
        .collect();
    let parts = t
        .parts
        .iter()
        .filter(|p| p.unit_price.currency == currency)
        .map(part_line);
    let lines: Vec<InvoiceLine> = labor.iter().map(|(_, l)| l.clone()).chain(parts).collect();
    let total = match Money::sum(&currency, lines.iter().map(|l| &l.amount)) {
        Some(total) => total,
        // A rate set in another currency: the host refuses the mixed invoice.
        None if lines.iter().any(|l| l.amount.currency != currency) => Money::zero(&currency),
        // A wrong invoice must never be sent: the run fails with the reason.
        None => panic!("money overflow: the invoice total of {} lines", lines.len()),
    };

    let mut decision = BillingDecision::empty();
    let threshold = ctx.setting_money("approval_threshold", Money::new(50_000, &currency));
    if total.amount_minor > threshold.amount_minor {
        decision.approvals.push(Approval {
            approver_role: "finance-manager".into(),
            reason: format!("invoice total {total} is over {threshold}"),
            amount: total.clone(),
        });
    }
    // Technicians, in order of first appearance, each on their own labor.
    let mut technicians: Vec<&str> = Vec::new();
    for (e, _) in &labor {
        if !technicians.contains(&e.agent_id.as_str()) {
            technicians.push(&e.agent_id);
        }
    }
    for tech in technicians {
        let own = labor
            .iter()
            .filter(|(e, _)| e.agent_id == tech)
            .map(|(_, l)| &l.amount);
        // A part of the total, which fits.
        let own = Money::sum(&currency, own).unwrap_or(Money::zero(&currency));
        decision.commissions.push(Commission {
            beneficiary: tech.to_string(),
            role: "technician".into(),
            basis_points: TECHNICIAN_BPS,
            amount: own.basis_points(TECHNICIAN_BPS),
        });
    }
    if total.amount_minor > 0 {
        let region = t
            .requester
            .region
            .clone()
            .unwrap_or_else(|| "global".into());
        let fallback = format!("regional-manager-{region}");
        let manager = ctx
            .setting_text(&format!("manager.{region}"), &fallback)
            .to_string();
        decision.commissions.push(Commission {
            beneficiary: manager,
            role: "regional-manager".into(),
            basis_points: MANAGER_BPS,
            amount: total.basis_points(MANAGER_BPS),
        });
    }
    decision.lines = lines;
    decision.total = Some(total);
    decision
}

impl Billing for FieldServiceBilling {
    fn bill(ev: &Event, t: &Ticket, ctx: &Context) -> Option<BillingDecision> {
        should_bill(ev).then(|| invoice(t, ctx))
    }
}

docket_guest_sdk::export_plugin!(FieldServiceBilling: billing);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_and_minimum() {
        assert_eq!(billable_minutes(1), 30);
        assert_eq!(billable_minutes(30), 30);
        assert_eq!(billable_minutes(31), 45);
        assert_eq!(billable_minutes(50), 60);
        assert_eq!(billable_minutes(61), 75);
    }

    #[test]
    fn office_hours_in_cet() {
        // Monday 2026-11-23 07:30 UTC = 08:30 CET: office hours.
        assert!(!is_after_hours(1_795_419_000_000, 60));
        // Monday 17:30 UTC = 18:30 CET: after hours.
        assert!(is_after_hours(1_795_455_000_000, 60));
        // Saturday 2026-11-28 10:00 UTC: weekend.
        assert!(is_after_hours(1_795_860_000_000, 60));
    }
}
