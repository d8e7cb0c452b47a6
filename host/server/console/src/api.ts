// The console's client of the service's JSON API. Every call carries the
// tenant's key as a bearer token; the key lives in this tab's session
// storage (see session.ts), never in a URL.

/** A located compile error of a no-code document. */
export interface Diagnostic {
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  message: string;
  hint: string | null;
}

/** An error the service answered: `{"error": {"code", "message"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super(message);
  }
}

export interface Session {
  tenant: string;
  key: string;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface VersionInfo {
  plugin: string;
  version: number;
  active: boolean;
  hash: string;
  size: number;
  capabilities: string[];
}

export interface Choice {
  value: string;
  label: string;
}

/** A field's type: `"textarea"` or a one-key object such as `{"dropdown": [...]}`. */
export type FieldKind =
  | "textarea"
  | "date"
  | "datetime"
  | "checkbox"
  | { text: number | null }
  | { integer: { min: number | null; max: number | null } }
  | { decimal: number }
  | { dropdown: Choice[] }
  | { multi_select: Choice[] }
  | { regex: string }
  | { money: string };

export interface FieldDef {
  key: string;
  label: string;
  kind: FieldKind;
  required: { on_create: boolean; on_solve: boolean };
  default: { [k: string]: Json } | null;
  depends_on: { parent: string; options: [string, string[]][] } | null;
  visible_when: { field: string; any_of: string[] } | null;
  help: string;
}

export interface TicketTemplate {
  id: string;
  name: string;
  categories: string[];
  fields: FieldDef[];
}

export interface VersionDetail extends VersionInfo {
  rules?: string;
  templates: TicketTemplate[];
}

export interface Outline {
  settings: string[];
  tables: [string, string[]][];
  fields: string[];
}

export interface RulesCheck {
  ok: boolean;
  diagnostics: Diagnostic[];
  report?: string;
  capabilities: string[];
  outline: Outline;
  templates: TicketTemplate[];
}

export interface Name {
  name: string;
  ty: string;
}

export interface Vocabulary {
  roots: Name[];
  records: { name: string; fields: Name[] }[];
  event: string[];
  functions: { name: string; arity: number; doc: string }[];
  quantifiers: string[];
}

/** One decision kind that differs between two outcomes. */
export interface Change {
  kind: string;
  before: string;
  after: string;
}

/** How an event ended: `applied`; `rejected` with the field errors; `failed` with the plugin and its error. */
export interface Outcome {
  status: string;
  effects: Json[];
  errors?: Json[];
  ticket: { [k: string]: Json };
  trace: Json[];
  [k: string]: Json | undefined;
}

export interface Simulation {
  candidate: { plugin: string; version: number; hash: string };
  active: Outcome;
  simulated: Outcome;
  changes: Change[];
}

export interface BacktestReport {
  [k: string]: Json;
}

export interface BacktestView {
  id: string;
  state: "running" | "done" | "failed";
  total: number;
  done: number;
  report?: BacktestReport;
  error?: string;
}

export interface AuditEntry {
  [k: string]: Json;
}

export interface TicketView {
  ticket: { [k: string]: Json };
  timers: Json[];
  sla: Json[];
  history: AuditEntry[];
}

/** The candidate a simulation or backtest puts in a plugin's place. */
export type CandidateReq = { rules: string } | { version: number };

/** Calls the service as one tenant. */
export class Client {
  constructor(readonly session: Session) {}

  private base(): string {
    return `/v1/tenants/${encodeURIComponent(this.session.tenant)}`;
  }

  async call<T>(method: string, path: string, body?: unknown, type = "application/json"): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.session.key}` };
    let payload: BodyInit | undefined;
    if (body !== undefined) {
      headers["Content-Type"] = type;
      payload = typeof body === "string" ? body : JSON.stringify(body);
    }
    const response = await fetch(path, { method, headers, body: payload });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) {
      // A rejected event is answered with its outcome, not an error body.
      const error = parsed?.error;
      if (error) {
        throw new ApiError(response.status, error.code, error.message, error.diagnostics ?? []);
      }
      throw new ApiError(response.status, "rejected", "the event was rejected", []);
    }
    return parsed as T;
  }

  tenant(): Promise<Json> {
    return this.call("GET", this.base());
  }

  plugins(): Promise<{ plugins: Record<string, VersionInfo[]> }> {
    return this.call("GET", `${this.base()}/plugins`);
  }

  version(plugin: string, version: number): Promise<VersionDetail> {
    return this.call("GET", `${this.base()}/plugins/${plugin}/versions/${version}`);
  }

  install(plugin: string, rules: string): Promise<VersionInfo> {
    return this.call("POST", `${this.base()}/plugins/${plugin}`, rules, "application/toml");
  }

  activate(plugin: string, version: number): Promise<VersionInfo> {
    return this.call("POST", `${this.base()}/plugins/${plugin}/activate`, { version });
  }

  rollback(plugin: string): Promise<VersionInfo> {
    return this.call("POST", `${this.base()}/plugins/${plugin}/rollback`);
  }

  check(plugin: string, rules: string): Promise<RulesCheck> {
    return this.call("POST", `${this.base()}/rules/check`, { plugin, rules });
  }

  vocabulary(): Promise<Vocabulary> {
    return this.call("GET", "/v1/rules/vocabulary");
  }

  simulate(plugin: string, candidate: CandidateReq, ticket: string, event: Json): Promise<Simulation> {
    return this.call("POST", `${this.base()}/simulate`, { plugin, candidate, ticket, event });
  }

  startBacktest(plugin: string, candidate: CandidateReq): Promise<BacktestView> {
    return this.call("POST", `${this.base()}/backtests`, { plugin, candidate });
  }

  backtest(id: string): Promise<BacktestView> {
    return this.call("GET", `${this.base()}/backtests/${id}`);
  }

  cancelBacktest(id: string): Promise<BacktestView> {
    return this.call("DELETE", `${this.base()}/backtests/${id}`);
  }

  ticket(id: string): Promise<TicketView> {
    return this.call("GET", `${this.base()}/tickets/${encodeURIComponent(id)}`);
  }

  createTicket(id: string, body: Json): Promise<Outcome> {
    return this.call("POST", `${this.base()}/tickets/${encodeURIComponent(id)}`, body);
  }

  audit(limit = 50): Promise<{ entries: AuditEntry[] }> {
    return this.call("GET", `${this.base()}/audit?limit=${limit}`);
  }
}
