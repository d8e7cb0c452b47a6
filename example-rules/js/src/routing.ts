/**
 * Routing rules of a multi-department helpdesk: the TypeScript twin of
 * `example-rules/routing` (the Rust plugin), decision for decision.
 *
 * In order, the first rule that applies wins:
 * 1. VIP requesters go to `senior-support` at high priority or above, to the
 *    least-loaded available senior agent (level ≥ `senior_level`).
 * 2. Phone tickets go to the `voice` team.
 * 3. The region × category matrix: hardware in a region goes to that
 *    region's field-service team.
 * 4. Category → department.
 *
 * Within the chosen group, load-based overflow: the least-loaded available
 * agent with fewer than `max_open` open tickets; when every agent is over the
 * limit, the ticket waits in the group queue, tagged `overflow`. Runs on
 * creation and when the category, channel or requester tier changes.
 */
import type { Agent, Context, Event, Ticket } from "docket:plugin/types@0.1.1";
import type { RouteDecision } from "docket:plugin/routing@0.1.1";
import { capability, clamp, settingInteger } from "../../../guest-sdk/js/docket.ts";

const DEPARTMENTS = new Map([
  ["hardware", "field-service"],
  ["software", "it-support"],
  ["network", "network-ops"],
  ["billing", "finance"],
  ["returns", "ecommerce"],
  ["account", "customer-care"],
]);

const REGION_MATRIX: [region: string, category: string, team: string][] = [
  ["emea", "hardware", "field-service-emea"],
  ["amer", "hardware", "field-service-amer"],
  ["apac", "hardware", "field-service-apac"],
  ["emea", "network", "network-ops-emea"],
  ["amer", "network", "network-ops-amer"],
];

function shouldRoute(ev: Event): boolean {
  switch (ev.kind.tag) {
    case "created":
      return true;
    case "updated":
      return ev.kind.val.some((c) => c === "category" || c === "channel" || c === "tier");
    default:
      return false;
  }
}

/** The least-loaded agent who may take the ticket (the first one on a tie). */
function pickAgent(ctx: Context, group: string, minLevel: number, maxOpen: number): Agent | undefined {
  let best: Agent | undefined;
  for (const a of ctx.agents) {
    const fits = a.group === group && a.available && a.level >= minLevel && a.openTickets < maxOpen;
    if (fits && (best === undefined || a.openTickets < best.openTickets)) best = a;
  }
  return best;
}

function toGroup(group: string, reason: string): RouteDecision {
  return { group, skills: [], tags: [], reason };
}

/** The group's decision and the lowest agent level it accepts. */
function decideGroup(t: Ticket, seniorLevel: number): [RouteDecision, number] {
  const category = t.category ?? "";
  if (t.requester.tier === "vip") {
    const d = toGroup("senior-support", `VIP requester ${t.requester.name} goes to senior support`);
    d.priority = t.priority === "urgent" ? "urgent" : "high";
    d.tags.push("vip");
    return [d, seniorLevel];
  }
  if (t.channel === "phone") {
    const d = toGroup("voice", "phone tickets go to the voice team");
    d.skills.push("phone");
    return [d, 1];
  }
  const region = t.requester.region;
  const team = REGION_MATRIX.find(([r, c]) => r === region && c === category)?.[2];
  // `!= null`: an absent option is `undefined` on StarlingMonkey, `null` on QuickJS.
  if (region != null && team !== undefined) {
    const d = toGroup(team, `${category} in ${region} goes to ${team}`);
    d.skills.push(category);
    return [d, 1];
  }
  const dept = DEPARTMENTS.get(category);
  if (dept !== undefined) return [toGroup(dept, `category ${category} goes to ${dept}`), 1];
  return [toGroup("general", `no rule for category \`${category}\`: general queue`), 1];
}

export const routing = capability({
  route(ev: Event, t: Ticket, ctx: Context): RouteDecision | undefined {
    if (!shouldRoute(ev)) return undefined;
    const maxOpen = Number(clamp(settingInteger(ctx, "max_open", 5n), 1n, 4_294_967_295n));
    const seniorLevel = Number(clamp(settingInteger(ctx, "senior_level", 3n), 0n, 255n));
    const [d, minLevel] = decideGroup(t, seniorLevel);
    const agent = pickAgent(ctx, d.group, minLevel, maxOpen);
    if (agent) {
      d.agent = agent.id;
      d.reason += `; ${agent.name} has ${agent.openTickets} open (limit ${maxOpen})`;
    } else {
      d.tags.push("overflow");
      d.reason += `; every agent has ${maxOpen}+ open tickets or is away: queued`;
    }
    return d;
  },
});
