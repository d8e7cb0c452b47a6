// The tickets page: the tickets of the audit log's first page, a new ticket, and
// one ticket's decision history, pending timers and SLA clocks on one
// timeline (SLA milestones are timers the host keeps: `@sla:...`).

import { useEffect, useState } from "preact/hooks";
import type { AuditEntry, Client, Json, TicketView } from "../api";
import { effectText, valueText } from "../effects";
import { DataTable, ErrorLine, JsonBlock, errorText, when } from "./common";
import { Trace } from "./test";

type Obj = { [k: string]: Json };

/** One point on a ticket's timeline. */
interface Moment {
  at: string;
  kind: "event" | "timer" | "sla-due";
  title: string;
  status?: string;
  lines: string[];
  entry?: AuditEntry;
}

function timeline(view: TicketView): Moment[] {
  const past: Moment[] = view.history.map((h) => {
    const entry = h.entry as Obj;
    const plugins = ((entry.plugins as Obj[]) ?? []).map((p) => `${p.plugin} v${p.version}`);
    return {
      at: String(h.at),
      kind: "event",
      title: String(h.kind),
      status: String(h.status),
      lines: [...((entry.effects as Json[]) ?? []).map(effectText), ...(plugins.length ? [`ran ${plugins.join(", ")}`] : [])],
      entry: h,
    };
  });
  const timers: Moment[] = view.timers.map((t) => {
    const timer = t as Obj;
    // The host's own SLA milestones are `@sla` timers keyed
    // `sla-clock:<metric>:<percent>`.
    const [prefix, metric, percent] = String(timer.key).split(":");
    const milestone = timer.plugin === "@sla" && prefix === "sla-clock";
    return {
      at: String(timer.due_at),
      kind: "timer",
      title: milestone ? `SLA ${metric} at ${percent}%` : `timer ${timer.key}`,
      lines: [milestone ? "milestone of the SLA clock" : `set by ${timer.plugin}`],
    };
  });
  const due: Moment[] = view.sla
    .filter((c) => (c as Obj).due_at && !(c as Obj).stopped_at)
    .map((c) => {
      const clock = c as Obj;
      return {
        at: String(clock.due_at),
        kind: "sla-due",
        title: `${clock.metric} due`,
        lines: [`${clock.policy} policy, ${clock.target_minutes} business minutes on ${clock.calendar}`],
      };
    });
  return [...past, ...timers, ...due].sort((a, b) => a.at.localeCompare(b.at));
}

function minutes(ms: Json): string {
  const m = Math.floor(Number(ms) / 60000);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}

function TicketDetail({ view }: { view: TicketView }) {
  const t = view.ticket as Obj;
  const requester = (t.requester as Obj) ?? {};
  const fields = (t.fields as Obj[] | Obj) ?? [];
  const fieldRows: [string, string][] = Array.isArray(fields)
    ? fields.map((f) => [String(f.key), valueText(f.value)])
    : Object.entries(fields).map(([k, v]) => [k, valueText(v)]);
  const assignee = [t.group, t.assignee].filter(Boolean).join(" / ") || "unassigned";
  return (
    <article class="ticket" data-testid="ticket">
      <h2>
        {String(t.id)}: {String(t.subject ?? "")}
      </h2>
      <dl class="facts">
        <dt>status</dt>
        <dd>{String(t.status ?? "")}</dd>
        <dt>priority</dt>
        <dd>{String(t.priority ?? "")}</dd>
        <dt>category</dt>
        <dd>{String(t.category ?? "")}</dd>
        <dt>assigned to</dt>
        <dd data-testid="assignee">{assignee}</dd>
        <dt>requester</dt>
        <dd>
          {String(requester.name ?? requester.id ?? "")} {requester.tier ? `(${requester.tier})` : ""}
        </dd>
        <dt>tags</dt>
        <dd>{((t.tags as string[]) ?? []).map((g) => `#${g}`).join(" ")}</dd>
      </dl>
      {fieldRows.length > 0 && <DataTable caption="Fields" columns={["field", "value"]} rows={fieldRows} />}
      {view.sla.length > 0 && (
        <DataTable
          className="sla"
          caption="SLA clocks"
          columns={["metric", "policy", "target", "elapsed", "due", "state"]}
          rows={view.sla.map((c) => {
            const clock = c as Obj;
            const state = clock.breached ? "breached" : clock.stopped_at ? "met" : clock.running_since ? "running" : "paused";
            return [
              String(clock.metric),
              String(clock.policy),
              minutes(Number(clock.target_minutes) * 60000),
              minutes(clock.elapsed_ms),
              when(clock.due_at),
              <span class={state === "breached" ? "error" : ""}>{state}</span>,
            ];
          })}
        />
      )}
      <section aria-label="Timeline">
        <h3>Timeline</h3>
        <ol class="timeline" data-testid="timeline">
          {timeline(view).map((m) => (
            <li class={`moment ${m.kind} ${m.status ?? ""}`}>
              <time dateTime={m.at}>{when(m.at)}</time>
              <div>
                <strong>{m.title}</strong>
                {m.status && <span class={`badge ${m.status}`}>{m.status}</span>}
                {m.kind !== "event" && <span class="badge">pending</span>}
                <ul>
                  {m.lines.map((l) => (
                    <li>{l}</li>
                  ))}
                </ul>
                {m.entry && (
                  <details>
                    <summary>trace</summary>
                    <Trace trace={((m.entry.entry as Obj).trace as Json[]) ?? []} />
                  </details>
                )}
              </div>
            </li>
          ))}
        </ol>
      </section>
      <JsonBlock summary="The ticket as stored" value={view.ticket} />
    </article>
  );
}

/** A new ticket, created through the API (the pipeline decides on it). */
function NewTicketForm({ client, onCreated }: { client: Client; onCreated: (id: string) => void }) {
  const [form, setForm] = useState({ id: "", subject: "", category: "hardware", channel: "email", requester: "", region: "emea", tier: "" });
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const requester: Obj = { id: form.requester || "console", region: form.region };
      if (form.tier) requester.tier = form.tier;
      const outcome = await client.createTicket(form.id.trim(), {
        subject: form.subject,
        category: form.category,
        channel: form.channel,
        requester,
      });
      if (outcome.status !== "applied") setError(`The ticket was ${outcome.status}.`);
      onCreated(form.id.trim());
    } catch (err) {
      setError(errorText(err));
    }
  };
  const input = (k: keyof typeof form, label: string, required = false) => (
    <label>
      {label}
      <input name={k} value={form[k]} required={required} onInput={set(k)} />
    </label>
  );
  return (
    <form class="new-ticket" onSubmit={submit} aria-label="New ticket">
      <h3>New ticket</h3>
      {input("id", "Ticket id", true)}
      {input("subject", "Subject", true)}
      {input("category", "Category")}
      {input("channel", "Channel")}
      {input("requester", "Requester id")}
      {input("region", "Region")}
      {input("tier", "Requester tier")}
      <button type="submit">Create</button>
      <ErrorLine error={error} />
    </form>
  );
}

export function TicketsPage({ client }: { client: Client }) {
  const [recent, setRecent] = useState<string[]>([]);
  const [wanted, setWanted] = useState("");
  const [view, setView] = useState<TicketView | null>(null);
  const [error, setError] = useState<string | null>(null);

  const loadRecent = async () => {
    try {
      // The first page of the log (oldest first), newest of it on top.
      const { entries } = await client.audit(1000);
      const ids: string[] = [];
      for (const e of [...entries].reverse()) if (!ids.includes(String(e.ticket))) ids.push(String(e.ticket));
      setRecent(ids.slice(0, 50));
    } catch (err) {
      setError(errorText(err));
    }
  };

  const open = async (id: string) => {
    setError(null);
    try {
      setView(await client.ticket(id));
      setWanted(id);
    } catch (err) {
      setView(null);
      setError(errorText(err));
    }
  };

  useEffect(() => {
    loadRecent();
  }, []);

  return (
    <main class="tickets-page">
      <nav class="ticket-list" aria-label="Tickets">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            open(wanted.trim());
          }}
          aria-label="Open a ticket"
        >
          <label>
            Ticket id
            <input value={wanted} onInput={(e) => setWanted(e.currentTarget.value)} required />
          </label>
          <button type="submit">Open</button>
        </form>
        <h2>Tickets in the log</h2>
        <ul>
          {recent.map((id) => (
            <li>
              <button aria-current={view && (view.ticket as Obj).id === id ? "true" : undefined} onClick={() => open(id)}>
                {id}
              </button>
            </li>
          ))}
        </ul>
        <NewTicketForm
          client={client}
          onCreated={(id) => {
            loadRecent();
            open(id);
          }}
        />
      </nav>
      <div class="ticket-column">
        <ErrorLine error={error} />
        {view ? <TicketDetail view={view} /> : <p class="note pick">Pick a ticket to see its decisions, timers and SLA clocks.</p>}
      </div>
    </main>
  );
}
