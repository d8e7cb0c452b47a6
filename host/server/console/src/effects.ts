// Decisions as one line each for people: `{"effect": "assign", "group":
// "voice", ...}` reads "assign → voice/vic (phone tickets go to ...)".

import type { Json } from "./api";

type Obj = { [k: string]: Json };

function isObj(v: Json | undefined): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A typed field value (`{"choice": "laptop"}`) as its bare value. */
export function valueText(v: Json | undefined): string {
  if (!isObj(v)) return v === undefined || v === null ? "" : String(v);
  const [[kind, inner] = ["", null]] = Object.entries(v);
  if (kind === "money" && isObj(inner)) return moneyText(inner);
  if (kind === "decimal" && isObj(inner)) {
    const { mantissa, scale } = inner as { mantissa: number; scale: number };
    return scale ? (mantissa / 10 ** scale).toFixed(scale) : String(mantissa);
  }
  return Array.isArray(inner) ? inner.join(", ") : String(inner);
}

function moneyText(m: Obj): string {
  const minor = Number(m.amount_minor ?? 0);
  return `${(minor / 100).toFixed(2)} ${m.currency ?? ""}`.trim();
}

/** One applied effect as text. */
export function effectText(e: Json): string {
  if (!isObj(e)) return String(e);
  switch (e.effect) {
    case "set_field":
      return `set ${e.key} = ${valueText(e.value)}`;
    case "assign":
      return `assign → ${e.group}${e.agent ? `/${e.agent}` : ""}${e.reason ? ` (${e.reason})` : ""}`;
    case "set_priority":
      return `priority → ${e.priority}`;
    case "add_tag":
      return `tag #${e.tag}`;
    case "require_skills":
      return `skills ${(e.skills as string[]).join(", ")}`;
    case "apply_sla": {
      const policy = isObj(e.policy) ? e.policy.name ?? "" : "";
      return `SLA ${policy}`.trim();
    }
    case "notify": {
      const n = isObj(e.notification) ? e.notification : {};
      return `notify ${JSON.stringify(n.recipient ?? n.to ?? "")}: ${n.template ?? n.subject ?? ""}`;
    }
    case "set_timer":
      return `timer ${e.key} at ${e.due_at}`;
    case "cancel_timer":
      return `cancel timer ${e.key}`;
    case "invoice": {
      const inv = isObj(e.invoice) ? e.invoice : {};
      const lines = Array.isArray(inv.lines) ? inv.lines.length : 0;
      return `invoice ${lines} line${lines === 1 ? "" : "s"}${isObj(inv.total) ? ` = ${moneyText(inv.total)}` : ""}`;
    }
    default: {
      const { plugin: _p, phase: _ph, ...rest } = e;
      return JSON.stringify(rest);
    }
  }
}

/** An outcome's status, with its rejections or failure when there are. */
export function statusText(o: { status: string; errors?: Json[]; [k: string]: Json | undefined }): string {
  if (o.status === "rejected" && o.errors?.length) {
    return `rejected: ${o.errors.map((r) => (isObj(r) ? `${r.field}: ${r.message}` : String(r))).join("; ")}`;
  }
  if (o.status === "failed") {
    // A plugin error is `{"kind": "fuel_exhausted", ...details}`.
    const error = isObj(o.error) ? JSON.stringify(o.error) : String(o.error ?? "");
    return `failed in ${o.plugin}: ${error}`;
  }
  return o.status;
}
