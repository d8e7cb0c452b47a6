"""Routing rules of a multi-department helpdesk: the Python twin of
``example-rules/routing`` (the Rust plugin), decision for decision.

In order, the first rule that applies wins:

1. VIP requesters go to ``senior-support`` at high priority or above, to the
   least-loaded available senior agent (level >= ``senior_level``).
2. Phone tickets go to the ``voice`` team.
3. The region x category matrix: hardware in a region goes to that region's
   field-service team.
4. Category -> department.

Within the chosen group, load-based overflow: the least-loaded available
agent with fewer than ``max_open`` open tickets; when every agent is over the
limit, the ticket waits in the group queue, tagged ``overflow``. Runs on
creation and when the category, channel or requester tier changes.
"""

from typing import Optional, Tuple

from wit_world import exports
from docket_guest import capability, clamp, setting_integer
from wit_world.exports.routing import RouteDecision
from wit_world.imports.types import (
    Agent,
    Channel,
    Context,
    Event,
    EventKind_Created,
    EventKind_Updated,
    Priority,
    Ticket,
)

DEPARTMENTS = {
    "hardware": "field-service",
    "software": "it-support",
    "network": "network-ops",
    "billing": "finance",
    "returns": "ecommerce",
    "account": "customer-care",
}

REGION_MATRIX = [
    ("emea", "hardware", "field-service-emea"),
    ("amer", "hardware", "field-service-amer"),
    ("apac", "hardware", "field-service-apac"),
    ("emea", "network", "network-ops-emea"),
    ("amer", "network", "network-ops-amer"),
]


def should_route(ev: Event) -> bool:
    if isinstance(ev.kind, EventKind_Created):
        return True
    if isinstance(ev.kind, EventKind_Updated):
        return any(c in ("category", "channel", "tier") for c in ev.kind.value)
    return False


def pick_agent(ctx: Context, group: str, min_level: int, max_open: int) -> Optional[Agent]:
    """The least-loaded agent who may take the ticket (the first on a tie)."""
    fitting = [
        a
        for a in ctx.agents
        if a.group == group and a.available and a.level >= min_level and a.open_tickets < max_open
    ]
    return min(fitting, key=lambda a: a.open_tickets, default=None)


def to_group(group: str, reason: str) -> RouteDecision:
    return RouteDecision(group=group, agent=None, priority=None, skills=[], tags=[], reason=reason)


def decide_group(t: Ticket, senior_level: int) -> Tuple[RouteDecision, int]:
    """The group's decision and the lowest agent level it accepts."""
    category = t.category or ""
    if t.requester.tier == "vip":
        d = to_group("senior-support", f"VIP requester {t.requester.name} goes to senior support")
        d.priority = Priority.URGENT if t.priority == Priority.URGENT else Priority.HIGH
        d.tags.append("vip")
        return d, senior_level
    if t.channel == Channel.PHONE:
        d = to_group("voice", "phone tickets go to the voice team")
        d.skills.append("phone")
        return d, 1
    region = t.requester.region
    team = next((team for r, c, team in REGION_MATRIX if r == region and c == category), None)
    if region is not None and team is not None:
        d = to_group(team, f"{category} in {region} goes to {team}")
        d.skills.append(category)
        return d, 1
    dept = DEPARTMENTS.get(category)
    if dept is not None:
        return to_group(dept, f"category {category} goes to {dept}"), 1
    return to_group("general", f"no rule for category `{category}`: general queue"), 1


@capability
class Routing(exports.Routing):
    def route(self, ev: Event, t: Ticket, ctx: Context) -> Optional[RouteDecision]:
        if not should_route(ev):
            return None
        max_open = clamp(setting_integer(ctx, "max_open", 5), 1, 2**32 - 1)
        senior_level = clamp(setting_integer(ctx, "senior_level", 3), 0, 255)
        d, min_level = decide_group(t, senior_level)
        agent = pick_agent(ctx, d.group, min_level, max_open)
        if agent is not None:
            d.agent = agent.id
            d.reason += f"; {agent.name} has {agent.open_tickets} open (limit {max_open})"
        else:
            d.tags.append("overflow")
            d.reason += f"; every agent has {max_open}+ open tickets or is away: queued"
        return d
