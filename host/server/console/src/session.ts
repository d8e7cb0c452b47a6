// The signed-in tenant and its key, kept in this tab's session storage:
// gone when the tab closes, never written to a URL or to local storage.

import type { Session } from "./api";

const KEY = "docket-console-session";

export function loadSession(): Session | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
    return saved && typeof saved.tenant === "string" && typeof saved.key === "string" ? saved : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } else {
    sessionStorage.removeItem(KEY);
  }
}
