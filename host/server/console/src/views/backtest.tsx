// The backtest panel: the draft run over the tenant's recorded history
// beside what the active rules decided, with a progress bar while it runs
// and its report when done (counts per decision kind, the most frequent
// changes, sample tickets side by side, failures of the draft).

import { useEffect, useRef, useState } from "preact/hooks";
import type { BacktestView, CandidateReq, Client, Json } from "../api";
import { effectText, statusText } from "../effects";
import { DataTable, ErrorLine, errorText, when } from "./common";

/** How often a running backtest is polled. */
const POLL_MS = 400;

type Row = { [k: string]: Json };

function Report({ report }: { report: Row }) {
  const byKind = report.by_kind as Row[];
  const top = report.top_changes as Row[];
  const samples = report.samples as Row[];
  const failures = report.candidate_failures as Row[];
  return (
    <div class="report" data-testid="backtest-report">
      <p role="status">
        <strong>{String(report.changed)}</strong> of {String(report.events)} recorded events decide differently
        {Number(report.not_replayed) > 0 && `; ${report.not_replayed} could not be run again`}
        {report.stopped ? `; stopped early: ${report.stopped}` : ""} ({String(report.elapsed_ms)} ms).
      </p>
      {byKind.length > 0 && (
        <DataTable
          caption="Changed events per decision kind"
          columns={["decision", "events"]}
          rows={byKind.map((k) => [String(k.kind), String(k.events)])}
          numeric={[1]}
        />
      )}
      {top.length > 0 && (
        <DataTable
          caption="Most frequent changes"
          columns={["decision", "before", "after", "events", "tickets"]}
          rows={top.map((c) => [String(c.kind), String(c.before), String(c.after), String(c.events), String(c.tickets)])}
          numeric={[3, 4]}
        />
      )}
      {failures.length > 0 && (
        <DataTable
          caption="Where the draft failed"
          columns={["error", "events", "first event"]}
          rows={failures.map((f) => [String(f.kind), String(f.events), String(f.example_event)])}
          numeric={[1]}
        />
      )}
      {samples.length > 0 && (
        <section aria-label="Sample tickets">
          <h4>Sample tickets</h4>
          {samples.map((s) => {
            const active = s.active as Row;
            const candidate = s.candidate as Row;
            return (
              <article class="sample">
                <h5>
                  {String(s.ticket)} · {when(s.at)} · {String(s.event_id)}
                </h5>
                <div class="side-by-side">
                  <div>
                    <h6>Active rules: {statusText(active as never)}</h6>
                    <ul>
                      {(active.effects as Json[]).map((e) => (
                        <li>{effectText(e)}</li>
                      ))}
                    </ul>
                  </div>
                  <div>
                    <h6>This draft: {statusText(candidate as never)}</h6>
                    <ul>
                      {(candidate.effects as Json[]).map((e) => (
                        <li>{effectText(e)}</li>
                      ))}
                    </ul>
                  </div>
                </div>
              </article>
            );
          })}
        </section>
      )}
      <p class="note">{String(report.caveat)}</p>
    </div>
  );
}

export function BacktestPanel({ client, plugin, candidate }: { client: Client; plugin: string; candidate: CandidateReq | null }) {
  const [view, setView] = useState<BacktestView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);

  useEffect(() => () => window.clearTimeout(timer.current), []);

  const poll = (id: string) => {
    timer.current = window.setTimeout(async () => {
      try {
        const next = await client.backtest(id);
        setView(next);
        if (next.state === "running") poll(id);
      } catch (err) {
        setError(errorText(err));
      }
    }, POLL_MS);
  };

  const start = async () => {
    if (!candidate) return;
    window.clearTimeout(timer.current);
    setError(null);
    try {
      const started = await client.startBacktest(plugin, candidate);
      setView(started);
      if (started.state === "running") poll(started.id);
    } catch (err) {
      setView(null);
      setError(errorText(err));
    }
  };

  const cancel = async () => {
    if (!view) return;
    window.clearTimeout(timer.current);
    try {
      setView(await client.cancelBacktest(view.id));
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div class="backtest-panel">
      <p class="note">Runs this draft over every recorded event of the tenant and compares its decisions with the active rules'.</p>
      <div class="actions">
        <button onClick={start} disabled={!candidate || view?.state === "running"}>
          Run backtest
        </button>
        {view?.state === "running" && <button onClick={cancel}>Cancel</button>}
      </div>
      <ErrorLine error={error} />
      {view && (
        <div>
          <label class="progress">
            {view.state === "running" ? "Running" : view.state === "done" ? "Done" : "Failed"}: {view.done} of {view.total} events
            <progress max={Math.max(view.total, 1)} value={view.state === "running" ? view.done : Math.max(view.total, 1)} />
          </label>
          {view.state === "failed" && <ErrorLine error={view.error ?? "the backtest failed"} />}
          {view.report && <Report report={view.report as Row} />}
        </div>
      )}
    </div>
  );
}
