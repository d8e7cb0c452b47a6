// The form preview: a template rendered as the form an agent fills, with
// its rules working live (required on create or on solve, fields shown
// only for some values of another, dropdowns whose options depend on
// another field), and the plugin's own validation one click away (a
// simulated `created` event with these values, nothing stored).

import { h } from "preact";
import { useMemo, useState } from "preact/hooks";
import type { CandidateReq, Client, FieldDef, Json, TicketTemplate } from "../api";
import { ErrorLine, errorText } from "./common";

/** What the agent is doing: the required fields differ. */
type Mode = "create" | "solve";

/** The form's values by field key, as the inputs hold them (text). */
type Values = Record<string, string | string[] | boolean>;

function choicesOf(field: FieldDef): { value: string; label: string }[] {
  const kind = field.kind;
  if (typeof kind === "object" && "dropdown" in kind) return kind.dropdown;
  if (typeof kind === "object" && "multi_select" in kind) return kind.multi_select;
  return [];
}

/** The options a dropdown offers given its parent's current value. */
function optionsFor(field: FieldDef, values: Values) {
  const all = choicesOf(field);
  if (!field.depends_on) return all;
  const parent = values[field.depends_on.parent];
  const allowed = field.depends_on.options.find(([value]) => value === parent)?.[1] ?? [];
  return all.filter((c) => allowed.includes(c.value));
}

function isVisible(field: FieldDef, values: Values): boolean {
  if (!field.visible_when) return true;
  const current = values[field.visible_when.field];
  const set = Array.isArray(current) ? current : [String(current ?? "")];
  return set.some((v) => field.visible_when!.any_of.includes(v));
}

function isEmpty(value: Values[string] | undefined): boolean {
  return value === undefined || value === "" || value === false || (Array.isArray(value) && value.length === 0);
}

/** The default a template gives a field, as an input's value. */
function initialValue(field: FieldDef): Values[string] {
  const d = field.default;
  if (!d) return field.kind === "checkbox" ? false : typeof field.kind === "object" && "multi_select" in field.kind ? [] : "";
  const [v] = Object.values(d);
  if (typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === "object" && "amount_minor" in v) return String(v.amount_minor);
  return String(v ?? "");
}

/** What the form misses before the agent may go on, by field key. */
export function missingRequired(template: TicketTemplate, values: Values, mode: Mode): Record<string, string> {
  const missing: Record<string, string> = {};
  for (const field of template.fields) {
    const required = mode === "create" ? field.required.on_create : field.required.on_create || field.required.on_solve;
    if (required && isVisible(field, values) && isEmpty(values[field.key])) {
      missing[field.key] = mode === "solve" && !field.required.on_create ? "required to solve the ticket" : "required";
    }
  }
  return missing;
}

/** A form value as the API's typed field value; `null` when empty. */
function fieldValue(field: FieldDef, value: Values[string]): Json {
  if (isEmpty(value)) return null;
  const kind = field.kind;
  if (kind === "checkbox") return { checkbox: Boolean(value) };
  if (kind === "date") return { date: String(value) };
  if (kind === "datetime") return { datetime: new Date(String(value)).toISOString() };
  if (typeof kind === "object") {
    if ("integer" in kind) return { integer: Number(value) };
    if ("decimal" in kind) {
      const [whole, frac = ""] = String(value).split(".");
      return { decimal: { mantissa: Number(whole + frac), scale: frac.length } };
    }
    if ("dropdown" in kind) return { choice: String(value) };
    if ("multi_select" in kind) return { choices: value as string[] };
    if ("money" in kind) return { money: { amount_minor: Number(value), currency: kind.money } };
  }
  return { text: String(value) };
}

function FieldInput({
  field,
  values,
  error,
  onChange,
}: {
  field: FieldDef;
  values: Values;
  error?: string;
  onChange: (v: Values[string]) => void;
}) {
  const id = `field-${field.key}`;
  const value = values[field.key];
  const common = {
    id,
    name: field.key,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error || field.help ? `${id}-note` : undefined,
  };
  const kind = field.kind;
  let input;
  if (kind === "textarea") {
    input = <textarea {...common} value={String(value ?? "")} onInput={(e) => onChange(e.currentTarget.value)} />;
  } else if (kind === "checkbox") {
    input = <input {...common} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.currentTarget.checked)} />;
  } else if (typeof kind === "object" && "dropdown" in kind) {
    input = (
      <select {...common} value={String(value ?? "")} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">—</option>
        {optionsFor(field, values).map((c) => (
          <option value={c.value}>{c.label}</option>
        ))}
      </select>
    );
  } else if (typeof kind === "object" && "multi_select" in kind) {
    const chosen = Array.isArray(value) ? value : [];
    input = (
      <fieldset {...common}>
        <legend class="sr-only">{field.label}</legend>
        {optionsFor(field, values).map((c) => (
          <label class="inline">
            <input
              type="checkbox"
              checked={chosen.includes(c.value)}
              onChange={(e) =>
                onChange(e.currentTarget.checked ? [...chosen, c.value] : chosen.filter((x) => x !== c.value))
              }
            />
            {c.label}
          </label>
        ))}
      </fieldset>
    );
  } else {
    const type =
      kind === "date" ? "date" : kind === "datetime" ? "datetime-local" : typeof kind === "object" && ("integer" in kind || "money" in kind) ? "number" : "text";
    const bounds = typeof kind === "object" && "integer" in kind ? kind.integer : { min: null, max: null };
    const pattern = typeof kind === "object" && "regex" in kind ? kind.regex : undefined;
    const maxLength = typeof kind === "object" && "text" in kind && kind.text !== null ? kind.text : undefined;
    // Built with `h`: the input's type is chosen at run time, which the
    // JSX typings (one attribute set per literal type) cannot follow.
    input = h("input", {
      ...common,
      type,
      min: bounds.min ?? undefined,
      max: bounds.max ?? undefined,
      pattern,
      maxLength,
      inputMode: typeof kind === "object" && "decimal" in kind ? "decimal" : undefined,
      value: String(value ?? ""),
      onInput: (e: Event) => onChange((e.currentTarget as HTMLInputElement).value),
    } as Record<string, unknown>);
  }
  const money = typeof kind === "object" && "money" in kind ? ` (minor units, ${kind.money})` : "";
  return (
    <div class={`field${error ? " invalid" : ""}`} data-field={field.key}>
      <label for={id}>
        {field.label}
        {money}
        {(field.required.on_create || field.required.on_solve) && (
          <span class="badge">{field.required.on_create ? "required" : "required to solve"}</span>
        )}
      </label>
      {input}
      {(error || field.help) && (
        <small id={`${id}-note`} class={error ? "error" : "help"}>
          {error ?? field.help}
        </small>
      )}
    </div>
  );
}

/** The fields of the form's ticket itself, besides the template's. */
interface Basics {
  subject: string;
  category: string;
  region: string;
}

export function FormPreview({
  client,
  templates,
  plugin,
  candidate,
}: {
  client: Client;
  templates: TicketTemplate[];
  plugin: string;
  /** What "validate with the plugin" runs in the plugin's place. */
  candidate: CandidateReq | null;
}) {
  const [chosen, setChosen] = useState(0);
  const template = templates[Math.min(chosen, templates.length - 1)];
  const [values, setValues] = useState<Values>({});
  const [mode, setMode] = useState<Mode>("create");
  const [shown, setShown] = useState<Record<string, string> | null>(null);
  const [pluginErrors, setPluginErrors] = useState<{ field: string; message: string }[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [basics, setBasics] = useState<Basics>({ subject: "Preview ticket", category: "", region: "emea" });

  // Defaults fill what the agent has not touched, per template.
  const current = useMemo(() => {
    const out: Values = {};
    for (const f of template?.fields ?? []) out[f.key] = f.key in values ? values[f.key] : initialValue(f);
    return out;
  }, [template, values]);

  if (!template) return <p class="note">This document declares no ticket forms.</p>;

  const set = (key: string, v: Values[string]) => {
    const next = { ...current, [key]: v };
    // A child whose option is no longer offered is cleared.
    for (const f of template.fields) {
      if (f.depends_on && !optionsFor(f, next).some((c) => c.value === next[f.key])) next[f.key] = "";
    }
    setValues(next);
    setPluginErrors(null);
    if (shown) setShown(missingRequired(template, next, mode));
  };

  const submit = (e: Event) => {
    e.preventDefault();
    setShown(missingRequired(template, current, mode));
  };

  const validate = async () => {
    if (!candidate) return;
    setError(null);
    const fields: Record<string, Json> = {};
    for (const f of template.fields) {
      const v = fieldValue(f, current[f.key]);
      if (v !== null && isVisible(f, current)) fields[f.key] = v;
    }
    const category = basics.category || template.categories[0] || "";
    try {
      const sim = await client.simulate(plugin, candidate, "PREVIEW-1", {
        event: "created",
        data: {
          subject: basics.subject,
          category,
          requester: { id: "preview", region: basics.region },
          fields,
        },
      });
      const rejections = (sim.simulated.errors ?? []) as { field: string; message: string }[];
      setPluginErrors(rejections);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const missing = shown ?? {};
  const count = Object.keys(missing).length;
  return (
    <div class="form-preview">
      <div class="toolbar">
        <label>
          Form
          <select value={chosen} onChange={(e) => (setChosen(Number(e.currentTarget.value)), setValues({}), setShown(null))}>
            {templates.map((t, i) => (
              <option value={i}>
                {t.name} ({t.categories.join(", ") || "any category"})
              </option>
            ))}
          </select>
        </label>
        <fieldset class="segmented">
          <legend>The agent is</legend>
          {(["create", "solve"] as Mode[]).map((m) => (
            <label class="inline">
              <input
                type="radio"
                name="form-mode"
                value={m}
                checked={mode === m}
                onChange={() => (setMode(m), setShown(shown ? missingRequired(template, current, m) : null))}
              />
              {m === "create" ? "creating the ticket" : "solving it"}
            </label>
          ))}
        </fieldset>
      </div>
      <form onSubmit={submit} aria-label={`${template.name} form`} noValidate>
        <div class="field">
          <label for="basic-subject">Subject</label>
          <input id="basic-subject" value={basics.subject} onInput={(e) => setBasics({ ...basics, subject: e.currentTarget.value })} />
        </div>
        {template.fields
          .filter((f) => isVisible(f, current))
          .map((f) => (
            <FieldInput field={f} values={current} error={missing[f.key]} onChange={(v) => set(f.key, v)} />
          ))}
        <div class="actions">
          <button type="submit">{mode === "create" ? "Create" : "Solve"}</button>
          {candidate && (
            <button type="button" onClick={validate}>
              Validate with the plugin
            </button>
          )}
        </div>
        <p role="status" class={count ? "error" : "ok"} data-testid="form-status">
          {shown === null
            ? ""
            : count
              ? `${count} field${count > 1 ? "s" : ""} missing: ${Object.keys(missing).join(", ")}`
              : `The form is complete for ${mode === "create" ? "creating" : "solving"}.`}
        </p>
      </form>
      <ErrorLine error={error} />
      {pluginErrors && (
        <div role="status" data-testid="plugin-validation">
          {pluginErrors.length === 0 ? (
            <p class="ok">The plugin accepts a ticket created with these values.</p>
          ) : (
            <>
              <p class="error">The plugin rejects it:</p>
              <ul>
                {pluginErrors.map((r) => (
                  <li>
                    <code>{r.field}</code>: {r.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </div>
  );
}
