"""Time-and-materials billing for field service: the Python twin of
``example-rules/billing`` (the Rust plugin), line for line. Money is exact
integer minor units, never a float.

- Labor: each billable time entry at its work type's hourly rate, rounded up
  to 15-minute increments with a 30-minute minimum.
- After hours (before 08:00 or from 18:00 local time, or at the weekend):
  x1.5.
- Parts at list price.
- Invoices over 500.00 need the finance manager's approval.
- Commission: each technician earns 10% of their own labor; the regional
  manager earns 2% of the invoice total.

Settings: ``currency`` (EUR), ``utc_offset_minutes`` (60),
``approval_threshold`` (money, 500.00), ``rate.<work-type>`` (money per
hour), ``manager.<region>``. Bills on time logged, parts used, and when the
ticket is solved.
"""

from typing import Optional

from wit_world import exports
from docket_guest import (
    HALF_EVEN,
    UP,
    basis_points,
    capability,
    clamp,
    format_money,
    hours_from_minutes,
    local_hour_and_weekday,
    money,
    mul_ratio,
    round_to_increment,
    setting_integer,
    setting_money,
    setting_text,
    sum_money,
    times,
    whole,
)
from wit_world.exports.billing import Approval, BillingDecision, Commission, InvoiceLine, LineKind
from wit_world.imports.types import (
    Context,
    Event,
    EventKind_PartUsed,
    EventKind_StatusChanged,
    EventKind_TimeLogged,
    Money,
    Part,
    Status,
    Ticket,
    TimeEntry,
)

# Default hourly rates in minor units; the first is the fallback.
RATES = [("remote", 9_000), ("onsite", 12_000), ("workshop", 10_000), ("emergency", 15_000)]

INCREMENT_MINUTES = 15
MINIMUM_MINUTES = 30
TECHNICIAN_BPS = 1_000
MANAGER_BPS = 200


def hourly_rate(ctx: Context, work_type: str, currency: str) -> Money:
    rate = next((r for w, r in RATES if w == work_type), RATES[0][1])
    return setting_money(ctx, f"rate.{work_type}", money(rate, currency))


def is_after_hours(instant: int, utc_offset_minutes: int) -> bool:
    """Whether work starting at the instant is outside office hours."""
    hour, weekday = local_hour_and_weekday(instant, utc_offset_minutes)
    return weekday >= 6 or not 8 <= hour < 18


def billable_minutes(minutes: int) -> int:
    """Billable minutes: rounded up to the increment, never under the minimum."""
    return max(round_to_increment(minutes, INCREMENT_MINUTES, UP), MINIMUM_MINUTES)


def labor_line(e: TimeEntry, ctx: Context, currency: str, offset: int) -> InvoiceLine:
    rate = hourly_rate(ctx, e.work_type, currency)
    minutes = billable_minutes(e.minutes)
    after_hours = is_after_hours(e.started_at, offset)
    # rate x minutes / 60 x (3/2 after hours), rounded once at the end.
    num, den = (minutes * 3, 120) if after_hours else (minutes, 60)
    suffix = ", after hours ×1.5" if after_hours else ""
    return InvoiceLine(
        kind=LineKind.LABOR,
        description=f"{e.work_type} labor, {minutes} min billed ({e.minutes} worked){suffix}",
        quantity=hours_from_minutes(minutes),
        unit_price=mul_ratio(rate, 3, 2, HALF_EVEN) if after_hours else rate,
        amount=mul_ratio(rate, num, den, HALF_EVEN),
        source=e.id,
    )


def part_line(p: Part) -> InvoiceLine:
    return InvoiceLine(
        kind=LineKind.PART,
        description=f"{p.description} ({p.sku})",
        quantity=whole(p.quantity),
        unit_price=p.unit_price,
        amount=times(p.unit_price, p.quantity),
        source=p.sku,
    )


def commission(beneficiary: str, role: str, bps: int, basis: Money) -> Commission:
    """A share of ``basis`` in basis points."""
    return Commission(beneficiary=beneficiary, role=role, basis_points=bps, amount=basis_points(basis, bps))


def should_bill(ev: Event) -> bool:
    if isinstance(ev.kind, (EventKind_TimeLogged, EventKind_PartUsed)):
        return True
    return isinstance(ev.kind, EventKind_StatusChanged) and ev.kind.value.current == Status.SOLVED


def invoice(t: Ticket, ctx: Context) -> BillingDecision:
    """The whole invoice of a ticket."""
    currency = setting_text(ctx, "currency", "EUR")
    offset = clamp(setting_integer(ctx, "utc_offset_minutes", 60), -14 * 60, 14 * 60)
    labor = [(e, labor_line(e, ctx, currency, offset)) for e in t.time_entries if e.billable]
    parts = [part_line(p) for p in t.parts if p.unit_price.currency == currency]
    lines = [line for _, line in labor] + parts
    total = sum_money(currency, (line.amount for line in lines))
    if total is None:
        if any(line.amount.currency != currency for line in lines):
            # A rate set in another currency: the host refuses the mixed invoice.
            total = money(0, currency)
        else:
            # A wrong invoice must never be sent: the run fails with the reason.
            raise OverflowError(f"money overflow: the invoice total of {len(lines)} lines")

    decision = BillingDecision(lines=lines, total=total, approvals=[], commissions=[])
    threshold = setting_money(ctx, "approval_threshold", money(50_000, currency))
    if total.amount_minor > threshold.amount_minor:
        decision.approvals.append(
            Approval(
                approver_role="finance-manager",
                reason=f"invoice total {format_money(total)} is over {format_money(threshold)}",
                amount=total,
            )
        )
    # Technicians, in order of first appearance, each on their own labor.
    for tech in dict.fromkeys(e.agent_id for e, _ in labor):
        own = sum_money(currency, (line.amount for e, line in labor if e.agent_id == tech))
        own = own if own is not None else money(0, currency)
        decision.commissions.append(commission(tech, "technician", TECHNICIAN_BPS, own))
    if total.amount_minor > 0:
        region = t.requester.region if t.requester.region is not None else "global"
        manager = setting_text(ctx, f"manager.{region}", f"regional-manager-{region}")
        decision.commissions.append(commission(manager, "regional-manager", MANAGER_BPS, total))
    return decision


@capability
class Billing(exports.Billing):
    def bill(self, ev: Event, t: Ticket, ctx: Context) -> Optional[BillingDecision]:
        return invoice(t, ctx) if should_bill(ev) else None
