// Small pieces every view uses: error text, tabs, JSON blocks.

import type { ComponentChildren } from "preact";
import { ApiError } from "../api";

/** An error as one line for people. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

export function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}

/** Tabs with their panels (WAI-ARIA tabs: arrow keys move between them). */
export function Tabs<T extends string>({
  label,
  tabs,
  current,
  onSelect,
  children,
}: {
  label: string;
  tabs: [T, string][];
  current: T;
  onSelect: (t: T) => void;
  children: ComponentChildren;
}) {
  const move = (e: KeyboardEvent, i: number) => {
    const next = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : null;
    if (next === null) return;
    const [id] = tabs[(next + tabs.length) % tabs.length];
    onSelect(id);
    document.getElementById(`tab-${id}`)?.focus();
  };
  return (
    <section class="tabs">
      <div role="tablist" aria-label={label}>
        {tabs.map(([id, name], i) => (
          <button
            id={`tab-${id}`}
            role="tab"
            aria-selected={current === id}
            aria-controls={`panel-${id}`}
            tabIndex={current === id ? 0 : -1}
            onClick={() => onSelect(id)}
            onKeyDown={(e) => move(e, i)}
          >
            {name}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${current}`} aria-labelledby={`tab-${current}`} class="panel">
        {children}
      </div>
    </section>
  );
}

/** A JSON value, folded under a summary. */
export function JsonBlock({ summary, value }: { summary: string; value: unknown }) {
  return (
    <details>
      <summary>{summary}</summary>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}

/** An instant as local-free text (UTC, minutes). */
export function when(instant: unknown): string {
  return typeof instant === "string" ? instant.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "Z") : "";
}

/**
 * A table with a caption and column headers; each row's first cell is
 * its header. Columns listed in `numeric` align right.
 */
export function DataTable({
  caption,
  columns,
  rows,
  numeric = [],
  className,
}: {
  caption: ComponentChildren;
  columns: string[];
  rows: ComponentChildren[][];
  numeric?: number[];
  className?: string;
}) {
  return (
    <table class={className}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col">{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map(([first, ...rest]) => (
          <tr>
            <th scope="row">{first}</th>
            {rest.map((cell, i) => (
              <td class={numeric.includes(i + 1) ? "num" : undefined}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
