// The test panel: one event run through the pipeline as it is and with
// the draft in the plugin's place (the service's `simulate`: nothing is
// stored), the decisions side by side and each plugin's trace.

import { useState } from "preact/hooks";
import type { CandidateReq, Client, Json, Outcome, Simulation } from "../api";
import { effectText, statusText } from "../effects";
import { DataTable, ErrorLine, JsonBlock, errorText } from "./common";

/** Sample events an admin starts from (then edits). */
const PRESETS: [string, Json][] = [
  [
    "New hardware ticket (EMEA)",
    {
      event: "created",
      data: {
        subject: "Laptop does not boot",
        category: "hardware",
        channel: "email",
        requester: { id: "c-100", name: "Jo Park", region: "emea" },
        fields: { device_model: { choice: "laptop" }, serial_number: { text: "AB123456" } },
      },
    },
  ],
  [
    "New ticket from a VIP",
    {
      event: "created",
      data: {
        subject: "Board meeting projector",
        category: "hardware",
        channel: "email",
        requester: { id: "c-7", name: "Dana Fox", region: "emea", tier: "vip" },
        fields: { device_model: { choice: "laptop" }, serial_number: { text: "CD654321" } },
      },
    },
  ],
  [
    "New ticket by phone",
    {
      event: "created",
      data: { subject: "Cannot log in", category: "account", channel: "phone", requester: { id: "c-200", region: "amer" } },
    },
  ],
  ["Category changed to network", { event: "updated", data: { category: "network" } }],
];

function Decisions({ title, outcome }: { title: string; outcome: Outcome }) {
  return (
    <section class="decisions" aria-label={title}>
      <h4>{title}</h4>
      <p class={`status ${outcome.status}`}>{statusText(outcome)}</p>
      <ul>
        {outcome.effects.map((e) => (
          <li>{effectText(e)}</li>
        ))}
      </ul>
    </section>
  );
}

/** Each plugin run: version, fuel, logs and error. */
export function Trace({ trace }: { trace: Json[] }) {
  const rows = trace.map((run) => {
    const r = run as { [k: string]: Json };
    const logs = (r.logs as { level: string; message: string }[] | undefined) ?? [];
    return [
      String(r.plugin),
      String(r.version ?? ""),
      String(r.phase ?? ""),
      String(r.fuel_used ?? ""),
      <>
        {logs.map((l) => (
          <div>
            <span class="badge">{l.level}</span> {l.message}
          </div>
        ))}
        {r.error != null && <div class="error">{JSON.stringify(r.error)}</div>}
      </>,
    ];
  });
  return (
    <DataTable
      className="trace"
      caption="Trace"
      columns={["plugin", "version", "phase", "fuel", "logs and errors"]}
      rows={rows}
      numeric={[3]}
    />
  );
}

export function TestPanel({ client, plugin, candidate }: { client: Client; plugin: string; candidate: CandidateReq | null }) {
  const [ticket, setTicket] = useState("SIM-1");
  const [event, setEvent] = useState(JSON.stringify(PRESETS[0][1], null, 2));
  const [result, setResult] = useState<Simulation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (e: Event) => {
    e.preventDefault();
    if (!candidate) return;
    setError(null);
    let parsed: Json;
    try {
      parsed = JSON.parse(event);
    } catch (err) {
      setError(`The event is not JSON: ${errorText(err)}`);
      return;
    }
    setBusy(true);
    try {
      setResult(await client.simulate(plugin, candidate, ticket.trim(), parsed));
    } catch (err) {
      setResult(null);
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="test-panel">
      <form onSubmit={run} aria-label="Simulate an event">
        <div class="row">
          <label>
            Sample
            <select onChange={(e) => setEvent(JSON.stringify(PRESETS[Number(e.currentTarget.value)][1], null, 2))}>
              {PRESETS.map(([name], i) => (
                <option value={i}>{name}</option>
              ))}
            </select>
          </label>
          <label>
            Ticket id
            <input value={ticket} onInput={(e) => setTicket(e.currentTarget.value)} size={12} />
          </label>
        </div>
        <label>
          Event (JSON, as the ticket endpoints take it)
          <textarea class="code" rows={10} value={event} onInput={(e) => setEvent(e.currentTarget.value)} spellcheck={false} />
        </label>
        <button type="submit" disabled={busy || !candidate}>
          {busy ? "Simulating…" : "Simulate"}
        </button>
        {!candidate && <p class="note">Fix the document's errors first.</p>}
      </form>
      <ErrorLine error={error} />
      {result && (
        <div class="simulation" data-testid="simulation">
          <p role="status">
            {result.changes.length === 0
              ? "No decision changes."
              : `${result.changes.length} decision kind${result.changes.length > 1 ? "s" : ""} change.`}
          </p>
          {result.changes.length > 0 && (
            <DataTable
              className="changes"
              caption="What changes"
              columns={["decision", "active rules", "this draft"]}
              rows={result.changes.map((c) => [c.kind, c.before, c.after])}
            />
          )}
          <div class="side-by-side">
            <Decisions title="Active rules" outcome={result.active} />
            <Decisions title={`This draft (${result.candidate.plugin})`} outcome={result.simulated} />
          </div>
          <Trace trace={result.simulated.trace} />
          <JsonBlock summary="The simulated ticket afterwards" value={result.simulated.ticket} />
        </div>
      )}
    </div>
  );
}
