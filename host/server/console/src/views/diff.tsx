// Two no-code versions (or a version and the draft) line by line.

import { diffLines } from "diff";
import { useEffect, useState } from "preact/hooks";
import type { Client, VersionInfo } from "../api";
import { ErrorLine, errorText } from "./common";

/** `"draft"` or a version number. */
type Side = "draft" | number;

export function DiffPanel({
  client,
  plugin,
  versions,
  draft,
  opened,
}: {
  client: Client;
  plugin: string;
  versions: VersionInfo[];
  draft: string;
  opened: number | null;
}) {
  const active = versions.find((v) => v.active)?.version ?? null;
  const [left, setLeft] = useState<Side>(active ?? opened ?? "draft");
  const [right, setRight] = useState<Side>("draft");
  const [texts, setTexts] = useState<Record<number, string | null>>({});
  const [error, setError] = useState<string | null>(null);

  // Fetch the documents of the versions on either side, once each.
  useEffect(() => {
    for (const side of [left, right]) {
      if (side === "draft" || side in texts) continue;
      client
        .version(plugin, side)
        .then((d) => setTexts((t) => ({ ...t, [side]: d.rules ?? null })))
        .catch((err) => setError(errorText(err)));
    }
  }, [left, right, plugin]);

  const textOf = (side: Side) => (side === "draft" ? draft : texts[side]);
  const a = textOf(left);
  const b = textOf(right);
  const picker = (label: string, value: Side, set: (s: Side) => void) => (
    <label>
      {label}
      <select value={String(value)} onChange={(e) => set(e.currentTarget.value === "draft" ? "draft" : Number(e.currentTarget.value))}>
        <option value="draft">the draft in the editor</option>
        {versions.map((v) => (
          <option value={v.version}>
            version {v.version}
            {v.active ? " (active)" : ""}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div class="diff-panel">
      <div class="row">
        {picker("From", left, setLeft)}
        {picker("To", right, setRight)}
      </div>
      <ErrorLine error={error} />
      {a === null || b === null ? (
        <p class="note">A WebAssembly version has no document to compare.</p>
      ) : a === undefined || b === undefined ? (
        <p class="note">Loading…</p>
      ) : (
        <pre class="diff" data-testid="diff" aria-label="Differences">
          {diffLines(a, b).map((part) => {
            const mark = part.added ? "+" : part.removed ? "-" : " ";
            const lines = part.value.replace(/\n$/, "").split("\n");
            return (
              <span class={part.added ? "added" : part.removed ? "removed" : "same"}>
                {lines.map((l) => `${mark} ${l}\n`).join("")}
              </span>
            );
          })}
        </pre>
      )}
    </div>
  );
}
