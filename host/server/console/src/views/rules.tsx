// The rules page: the tenant's plugins and their versions (open, activate,
// roll back), the editor for a no-code document with live diagnostics,
// and the panels that try a draft before it goes live: the forms it
// declares, one simulated event, a backtest over history, a diff.

import type { EditorView } from "@codemirror/view";
import { useEffect, useRef, useState } from "preact/hooks";
import type { CandidateReq, Client, RulesCheck, TicketTemplate, VersionDetail, VersionInfo, Vocabulary } from "../api";
import { mountEditor } from "../editor";
import { BacktestPanel } from "./backtest";
import { ErrorLine, Tabs, errorText } from "./common";
import { DiffPanel } from "./diff";
import { FormPreview } from "./form";
import { TestPanel } from "./test";

type Panel = "form" | "test" | "backtest" | "diff";

function Versions({
  versions,
  opened,
  onOpen,
  onActivate,
  onRollback,
}: {
  versions: VersionInfo[];
  opened: number | null;
  onOpen: (v: number) => void;
  onActivate: (v: number) => void;
  onRollback: () => void;
}) {
  return (
    <table class="versions">
      <caption>
        Versions <button class="small" onClick={onRollback}>Roll back</button>
      </caption>
      <thead>
        <tr>
          <th scope="col">version</th>
          <th scope="col">hash</th>
          <th scope="col">does</th>
          <th scope="col">
            <span class="sr-only">actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {[...versions].reverse().map((v) => (
          <tr class={v.version === opened ? "opened" : ""} data-version={v.version}>
            <th scope="row">
              {v.version} {v.active && <span class="badge active">active</span>}
            </th>
            <td>
              <code title={v.hash}>{v.hash.slice(0, 8)}</code>
            </td>
            <td>{v.capabilities.join(", ")}</td>
            <td>
              <div class="buttons">
                <button class="small" onClick={() => onOpen(v.version)} aria-label={`Open version ${v.version}`}>
                  Open
                </button>
                {!v.active && (
                  <button class="small" onClick={() => onActivate(v.version)} aria-label={`Activate version ${v.version}`}>
                    Activate
                  </button>
                )}
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What the status line says about the draft. */
function CheckStatus({ check, checking, dirty }: { check: RulesCheck | null; checking: boolean; dirty: boolean }) {
  if (!check) return <p class="status-line">{checking ? "Checking…" : ""}</p>;
  const n = check.diagnostics.length;
  return (
    <div>
      <p role="status" class={`status-line ${check.ok ? "ok" : "error"}`} data-testid="check-status">
        {check.ok
          ? `Compiles${check.capabilities.length ? `: ${check.capabilities.join(", ")}` : ""}${dirty ? " · unsaved changes" : ""}`
          : `${n} error${n === 1 ? "" : "s"}`}
        {checking && " · checking…"}
      </p>
      {n > 0 && (
        <ul class="diagnostics" aria-label="Errors in the document" data-testid="diagnostics">
          {check.diagnostics.map((d) => (
            <li>
              <strong>
                line {d.line}, column {d.column}
              </strong>
              : {d.message}
              {d.hint && <span class="hint"> Hint: {d.hint}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One plugin: its versions, the document opened and the panels. */
function PluginWorkbench({
  client,
  plugin,
  versions,
  vocabulary,
  reload,
}: {
  client: Client;
  plugin: string;
  versions: VersionInfo[];
  vocabulary: Vocabulary | null;
  reload: () => Promise<void>;
}) {
  const [opened, setOpened] = useState<VersionDetail | null>(null);
  const [draft, setDraft] = useState("");
  const [check, setCheck] = useState<RulesCheck | null>(null);
  const [checking, setChecking] = useState(false);
  const [panel, setPanel] = useState<Panel>("form");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<EditorView | null>(null);
  const vocabularyRef = useRef(vocabulary);
  vocabularyRef.current = vocabulary;

  const open = async (version: number) => {
    setError(null);
    setMessage(null);
    try {
      const detail = await client.version(plugin, version);
      setOpened(detail);
      setDraft(detail.rules ?? "");
      setCheck(null);
    } catch (err) {
      setError(errorText(err));
    }
  };

  // Open the active version (else the newest) when the plugin changes.
  useEffect(() => {
    const start = versions.find((v) => v.active) ?? versions[versions.length - 1];
    setOpened(null);
    if (start) open(start.version);
  }, [plugin]);

  // A fresh editor per opened document.
  useEffect(() => {
    if (!host.current || opened?.rules === undefined) return;
    editor.current?.destroy();
    editor.current = mountEditor(host.current, opened.rules, {
      check: (text) => {
        setChecking(true);
        return client.check(plugin, text).finally(() => setChecking(false));
      },
      checked: (result) => setCheck(result),
      changed: (text) => setDraft(text),
      vocabulary: () => vocabularyRef.current,
    });
    return () => {
      editor.current?.destroy();
      editor.current = null;
    };
  }, [opened]);

  const isRules = opened?.rules !== undefined;
  const dirty = isRules && draft !== opened?.rules;
  // What the panels run in the plugin's place: the draft when it
  // compiles, else the opened wasm version.
  const candidate: CandidateReq | null = isRules
    ? check === null || check.ok
      ? { rules: draft }
      : null
    : opened
      ? { version: opened.version }
      : null;
  const templates: TicketTemplate[] = isRules && check?.ok ? check.templates : (opened?.templates ?? []);

  const act = async (what: () => Promise<VersionInfo>, said: (v: VersionInfo) => string) => {
    setError(null);
    setMessage(null);
    try {
      const v = await what();
      await reload();
      setMessage(said(v));
    } catch (err) {
      setError(errorText(err));
    }
  };

  const save = () =>
    act(
      () => client.install(plugin, draft),
      (v) => {
        open(v.version);
        return `Saved as version ${v.version}${v.active ? " (active)" : ": activate it to put it live"}.`;
      },
    );

  return (
    <div class="workbench">
      <div class="versions-column">
        <Versions
          versions={versions}
          opened={opened?.version ?? null}
          onOpen={open}
          onActivate={(n) => act(() => client.activate(plugin, n), (v) => `Version ${v.version} is active.`)}
          onRollback={() => act(() => client.rollback(plugin), (v) => `Rolled back: version ${v.version} is active.`)}
        />
        <p role="status" class="ok" data-testid="message">
          {message ?? ""}
        </p>
        <ErrorLine error={error} />
      </div>
      <div class="editor-column">
        <h3>
          {plugin}
          {opened && ` · version ${opened.version}${opened.active ? " (active)" : ""}`}
        </h3>
        {opened && !isRules && (
          <p class="note">This version is a WebAssembly plugin: it has no document to edit. Its forms and tests run as installed.</p>
        )}
        <div ref={host} class="editor" hidden={!isRules} />
        {isRules && (
          <>
            <CheckStatus check={check} checking={checking} dirty={dirty} />
            <div class="actions">
              <button onClick={save} disabled={!dirty || !check?.ok}>
                Save as new version
              </button>
            </div>
          </>
        )}
        {opened && (
          <Tabs
            label="Try the rules"
            tabs={[
              ["form", "Form preview"],
              ["test", "Test"],
              ["backtest", "Backtest"],
              ["diff", "Versions diff"],
            ]}
            current={panel}
            onSelect={setPanel}
          >
            {panel === "form" && <FormPreview client={client} plugin={plugin} templates={templates} candidate={candidate} />}
            {panel === "test" && <TestPanel client={client} plugin={plugin} candidate={candidate} />}
            {panel === "backtest" && <BacktestPanel client={client} plugin={plugin} candidate={candidate} />}
            {panel === "diff" && (
              <DiffPanel client={client} plugin={plugin} versions={versions} draft={draft} opened={opened.version} />
            )}
          </Tabs>
        )}
      </div>
    </div>
  );
}

export function RulesPage({ client }: { client: Client }) {
  const [plugins, setPlugins] = useState<Record<string, VersionInfo[]> | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [vocabulary, setVocabulary] = useState<Vocabulary | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = async () => {
    try {
      const list = await client.plugins();
      setPlugins(list.plugins);
    } catch (err) {
      setError(errorText(err));
    }
  };

  useEffect(() => {
    reload();
    client.vocabulary().then(setVocabulary, () => setVocabulary(null));
  }, []);

  const names = Object.keys(plugins ?? {});
  return (
    <main class="rules-page">
      <nav class="plugin-list" aria-label="Plugins">
        <h2>Plugins</h2>
        {plugins === null ? (
          <p class="note">Loading…</p>
        ) : names.length === 0 ? (
          <p class="note">No plugins installed yet.</p>
        ) : (
          <ul>
            {names.map((name) => {
              const active = plugins[name].find((v) => v.active);
              return (
                <li>
                  <button aria-current={selected === name ? "true" : undefined} onClick={() => setSelected(name)}>
                    {name}
                    <small>{active ? `v${active.version} active` : "none active"}</small>
                  </button>
                </li>
              );
            })}
          </ul>
        )}
        <ErrorLine error={error} />
      </nav>
      {selected && plugins?.[selected] ? (
        <PluginWorkbench
          key={selected}
          client={client}
          plugin={selected}
          versions={plugins[selected]}
          vocabulary={vocabulary}
          reload={reload}
        />
      ) : (
        <p class="note pick">Pick a plugin to see its versions and rules.</p>
      )}
    </main>
  );
}
