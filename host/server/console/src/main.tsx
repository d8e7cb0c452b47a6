// The console's entry: sign in with a tenant's API key, then the rules and
// tickets of that tenant. Every call goes through the service's
// authenticated API (api.ts).

import { render } from "preact";
import { useState } from "preact/hooks";
import { ApiError, Client, type Session } from "./api";
import { loadSession, saveSession } from "./session";
import { RulesPage } from "./views/rules";
import { TicketsPage } from "./views/tickets";
import "./style.css";

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [tenant, setTenant] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const session = { tenant: tenant.trim(), key: key.trim() };
    try {
      await new Client(session).tenant();
      onSignedIn(session);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>Docket console</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Tenant
          <input name="tenant" value={tenant} required autocomplete="username" onInput={(e) => setTenant(e.currentTarget.value)} />
        </label>
        <label>
          API key
          <input
            name="key"
            type="password"
            value={key}
            required
            autocomplete="current-password"
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <p class="note">The key stays in this tab's memory for the session; it is sent only as a bearer token.</p>
      </form>
    </main>
  );
}

type Page = "rules" | "tickets";

function Workspace({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const [page, setPage] = useState<Page>("rules");
  const [client] = useState(() => new Client(session));
  return (
    <div class="workspace">
      <header>
        <strong>Docket console</strong>
        <nav aria-label="Sections">
          <button aria-current={page === "rules" ? "page" : undefined} onClick={() => setPage("rules")}>
            Rules
          </button>
          <button aria-current={page === "tickets" ? "page" : undefined} onClick={() => setPage("tickets")}>
            Tickets
          </button>
        </nav>
        <span class="tenant" data-testid="tenant">
          {session.tenant}
        </span>
        <button class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {page === "rules" ? <RulesPage client={client} /> : <TicketsPage client={client} />}
    </div>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const change = (s: Session | null) => {
    saveSession(s);
    setSession(s);
  };
  return session ? <Workspace session={session} onSignOut={() => change(null)} /> : <SignIn onSignedIn={change} />;
}

render(<App />, document.getElementById("app")!);
