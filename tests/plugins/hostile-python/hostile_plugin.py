"""A Python routing plugin that misbehaves on request, for the host's tests
(tests/polyglot.rs). The ticket's subject says what to do: ``loop`` spins
forever, ``throw`` raises, ``recurse`` recurses without end, ``log`` prints
to stdout and stderr and routes, ``grow`` allocates without end."""

from typing import List, Optional

from wit_world import exports
from docket_guest import capability
from wit_world.exports.routing import RouteDecision
from wit_world.imports.types import Context, Event, Ticket


def unroutable(subject: str) -> RouteDecision:
    raise LookupError(f"no route for subject `{subject}`")


def recurse(n: int) -> int:
    return recurse(n + 1) + 1


@capability
class Routing(exports.Routing):
    def route(self, ev: Event, t: Ticket, ctx: Context) -> Optional[RouteDecision]:
        if t.subject == "loop":
            while True:
                pass
        if t.subject == "throw":
            return unroutable(t.subject)
        if t.subject == "recurse":
            return RouteDecision(group=str(recurse(0)), agent=None, priority=None, skills=[], tags=[], reason="")
        if t.subject == "grow":
            hoard: List[List[float]] = []
            while True:
                hoard.append([len(hoard) + 0.5] * (1 << 16))
        if t.subject == "log":
            import sys

            print("routing", t.id, {"at": t.created_at})
            print("partial", end="")
            print(" line")
            print("error line", file=sys.stderr)
            return RouteDecision(group="logged", agent=None, priority=None, skills=[], tags=[], reason="wrote to the log")
        return None
