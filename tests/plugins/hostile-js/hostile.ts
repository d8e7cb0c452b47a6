/**
 * A JavaScript routing plugin that misbehaves on request, for the host's
 * tests (tests/polyglot.rs). The ticket's subject says what to do:
 * `loop` spins forever, `throw` throws an Error, `throw-string` throws a
 * bare string, `recurse` recurses without end, `log` writes through
 * `console` at every level and routes, `grow` allocates without end.
 */
import type { Context, Event, Ticket } from "docket:plugin/types@0.1.1";
import type { RouteDecision } from "docket:plugin/routing@0.1.1";
import { capability } from "../../../guest-sdk/js/docket.ts";

function recurse(n: number): number {
  return recurse(n + 1) + 1;
}

function unroutable(subject: string): never {
  throw new Error(`no route for subject \`${subject}\``);
}

export const routing = capability({
  route(_ev: Event, t: Ticket, _ctx: Context): RouteDecision | undefined {
    switch (t.subject) {
      case "loop":
        for (;;) {}
      case "throw":
        return unroutable(t.subject);
      case "throw-string":
        throw "a bare string";
      case "recurse":
        return { group: String(recurse(0)), skills: [], tags: [], reason: "" };
      case "grow": {
        const hoard: number[][] = [];
        for (;;) hoard.push(new Array<number>(1 << 16).fill(hoard.length + 0.5));
      }
      case "log":
        console.debug("debug line");
        console.log("routing", t.id, { at: t.createdAt });
        console.warn("warn line");
        console.error(new Error("an error object"));
        return { group: "logged", skills: [], tags: [], reason: "wrote to the log" };
      default:
        return undefined;
    }
  },
});
