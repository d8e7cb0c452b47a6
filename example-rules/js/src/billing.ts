/**
 * Time-and-materials billing for field service: the TypeScript twin of
 * `example-rules/billing` (the Rust plugin), line for line. Money is exact
 * integer minor units (`bigint`), never a float.
 *
 * - Labor: each billable time entry at its work type's hourly rate, rounded
 *   up to 15-minute increments with a 30-minute minimum.
 * - After hours (before 08:00 or from 18:00 local time, or at the weekend):
 *   ×1.5.
 * - Parts at list price.
 * - Invoices over 500.00 need the finance manager's approval.
 * - Commission: each technician earns 10% of their own labor; the regional
 *   manager earns 2% of the invoice total.
 *
 * Settings: `currency` (EUR), `utc_offset_minutes` (60), `approval_threshold`
 * (money, 500.00), `rate.<work-type>` (money per hour), `manager.<region>`.
 * Bills on time logged, parts used, and when the ticket is solved.
 */
import type { Context, Event, Money, Part, Ticket, TimeEntry } from "docket:plugin/types@0.1.1";
import type { BillingDecision, InvoiceLine } from "docket:plugin/billing@0.1.1";
import {
  basisPoints,
  clamp,
  formatMoney,
  hoursFromMinutes,
  localHourAndWeekday,
  money,
  mulRatio,
  capability,
  roundToIncrement,
  settingInteger,
  settingMoney,
  settingText,
  sumMoney,
  times,
  wholeDecimal,
} from "../../../guest-sdk/js/docket.ts";

/** Default hourly rates in minor units; the first is the fallback. */
const RATES: [workType: string, rate: bigint][] = [
  ["remote", 9_000n],
  ["onsite", 12_000n],
  ["workshop", 10_000n],
  ["emergency", 15_000n],
];

const INCREMENT_MINUTES = 15n;
const MINIMUM_MINUTES = 30n;
const TECHNICIAN_BPS = 1_000;
const MANAGER_BPS = 200;

function hourlyRate(ctx: Context, workType: string, currency: string): Money {
  const rate = (RATES.find(([w]) => w === workType) ?? RATES[0])[1];
  return settingMoney(ctx, `rate.${workType}`, money(rate, currency));
}

/** Whether work starting at the instant is outside office hours. */
export function isAfterHours(instant: bigint, utcOffsetMinutes: number): boolean {
  const [hour, weekday] = localHourAndWeekday(instant, utcOffsetMinutes);
  return weekday >= 6 || hour < 8 || hour >= 18;
}

/** Billable minutes: rounded up to the increment, never under the minimum. */
export function billableMinutes(minutes: number): bigint {
  const rounded = roundToIncrement(BigInt(minutes), INCREMENT_MINUTES, "up");
  return rounded > MINIMUM_MINUTES ? rounded : MINIMUM_MINUTES;
}

function laborLine(e: TimeEntry, ctx: Context, currency: string, offset: number): InvoiceLine {
  const rate = hourlyRate(ctx, e.workType, currency);
  const minutes = billableMinutes(e.minutes);
  const afterHours = isAfterHours(e.startedAt, offset);
  // rate × minutes / 60 × (3/2 after hours), rounded once at the end.
  const amount = afterHours
    ? mulRatio(rate, minutes * 3n, 120n, "half-even")
    : mulRatio(rate, minutes, 60n, "half-even");
  const unitPrice = afterHours ? mulRatio(rate, 3n, 2n, "half-even") : rate;
  const suffix = afterHours ? ", after hours ×1.5" : "";
  return {
    kind: "labor",
    description: `${e.workType} labor, ${minutes} min billed (${e.minutes} worked)${suffix}`,
    quantity: hoursFromMinutes(minutes),
    unitPrice,
    amount,
    source: e.id,
  };
}

function partLine(p: Part): InvoiceLine {
  return {
    kind: "part",
    description: `${p.description} (${p.sku})`,
    quantity: wholeDecimal(BigInt(p.quantity)),
    unitPrice: p.unitPrice,
    amount: times(p.unitPrice, BigInt(p.quantity)),
    source: p.sku,
  };
}

function shouldBill(ev: Event): boolean {
  switch (ev.kind.tag) {
    case "time-logged":
    case "part-used":
      return true;
    case "status-changed":
      return ev.kind.val.current === "solved";
    default:
      return false;
  }
}

/** The whole invoice of a ticket. */
export function invoice(t: Ticket, ctx: Context): BillingDecision {
  const currency = settingText(ctx, "currency", "EUR");
  const offset = Number(clamp(settingInteger(ctx, "utc_offset_minutes", 60n), -14n * 60n, 14n * 60n));
  const labor = t.timeEntries
    .filter((e) => e.billable)
    .map((e) => [e, laborLine(e, ctx, currency, offset)] as const);
  const parts = t.parts.filter((p) => p.unitPrice.currency === currency).map(partLine);
  const lines = [...labor.map(([, l]) => l), ...parts];
  let total = sumMoney(currency, lines.map((l) => l.amount));
  if (total === undefined) {
    // A rate set in another currency: the host refuses the mixed invoice.
    if (lines.some((l) => l.amount.currency !== currency)) total = money(0n, currency);
    // A wrong invoice must never be sent: the run fails with the reason.
    else throw new RangeError(`money overflow: the invoice total of ${lines.length} lines`);
  }

  const decision: BillingDecision = { lines, total, approvals: [], commissions: [] };
  const threshold = settingMoney(ctx, "approval_threshold", money(50_000n, currency));
  if (total.amountMinor > threshold.amountMinor) {
    decision.approvals.push({
      approverRole: "finance-manager",
      reason: `invoice total ${formatMoney(total)} is over ${formatMoney(threshold)}`,
      amount: total,
    });
  }
  // Technicians, in order of first appearance, each on their own labor.
  const technicians = [...new Set(labor.map(([e]) => e.agentId))];
  for (const tech of technicians) {
    const own = labor.filter(([e]) => e.agentId === tech).map(([, l]) => l.amount);
    // A part of the total, which fits.
    const ownTotal = sumMoney(currency, own) ?? money(0n, currency);
    decision.commissions.push({
      beneficiary: tech,
      role: "technician",
      basisPoints: TECHNICIAN_BPS,
      amount: basisPoints(ownTotal, TECHNICIAN_BPS),
    });
  }
  if (total.amountMinor > 0n) {
    const region = t.requester.region ?? "global";
    const manager = settingText(ctx, `manager.${region}`, `regional-manager-${region}`);
    decision.commissions.push({
      beneficiary: manager,
      role: "regional-manager",
      basisPoints: MANAGER_BPS,
      amount: basisPoints(total, MANAGER_BPS),
    });
  }
  return decision;
}

export const billing = capability({
  bill(ev: Event, t: Ticket, ctx: Context): BillingDecision | undefined {
    return shouldBill(ev) ? invoice(t, ctx) : undefined;
  },
});
