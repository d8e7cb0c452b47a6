//! The durable store: SQLite in WAL mode in the data directory. One
//! connection behind a mutex; every write that belongs to one event (ticket,
//! event record, audit entry, timers, SLA clocks) commits in one transaction,
//! so an acknowledged event is never lost or half-applied.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY,
    limits TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    tenant TEXT,              -- NULL: the admin key
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS plugin_versions (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    bytes BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, name, version)
);
CREATE TABLE IF NOT EXISTS plugins (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    active INTEGER,           -- version number, NULL: none
    history TEXT NOT NULL,    -- JSON list of previously active versions
    PRIMARY KEY (tenant, name)
);
CREATE TABLE IF NOT EXISTS pipelines (
    tenant TEXT PRIMARY KEY,
    steps TEXT NOT NULL       -- JSON
);
CREATE TABLE IF NOT EXISTS calendars (
    tenant TEXT PRIMARY KEY,
    config TEXT NOT NULL      -- JSON list of calendar configs
);
CREATE TABLE IF NOT EXISTS agents (
    tenant TEXT PRIMARY KEY,
    config TEXT NOT NULL      -- JSON list of agent configs
);
CREATE TABLE IF NOT EXISTS tickets (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    requester TEXT NOT NULL,
    assignee TEXT,
    resolved INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL,       -- JSON ticket
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS tickets_by_requester ON tickets (tenant, requester, created_at);
CREATE TABLE IF NOT EXISTS events (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,         -- event id (the idempotency key when given)
    ticket TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,    -- JSON outcome, returned again on a retry
    PRIMARY KEY (tenant, id)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    ticket TEXT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    entry TEXT NOT NULL       -- JSON: event, plugin versions, effects, trace, error
);
CREATE INDEX IF NOT EXISTS audit_by_ticket ON audit (tenant, ticket, seq);
CREATE TABLE IF NOT EXISTS timers (
    tenant TEXT NOT NULL,
    ticket TEXT NOT NULL,
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, ticket, plugin, key)
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_at);
CREATE TABLE IF NOT EXISTS sla_clocks (
    tenant TEXT NOT NULL,
    ticket TEXT NOT NULL,
    metric TEXT NOT NULL,
    clock TEXT NOT NULL,      -- JSON clock state
    PRIMARY KEY (tenant, ticket, metric)
);
"#;

/// A timer row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimerRow {
    /// Tenant.
    pub tenant: String,
    /// Ticket.
    pub ticket: String,
    /// Plugin that set it (`@sla` for the host's SLA milestones).
    pub plugin: String,
    /// Key.
    pub key: String,
    /// Due instant, ms.
    pub due_at: i64,
}

/// The SQLite store.
pub struct Store {
    conn: Mutex<Connection>,
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

/// Decodes a JSON column; a corrupt row is an error, not a panic.
pub fn from_json<T: DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

impl Store {
    /// Opens (creating if needed) `docket.db` in the data directory.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)?;
        let conn = Connection::open(dir.join("docket.db"))?;
        // WAL for concurrent readers; FULL so an acknowledged commit
        // survives power loss, not only a crash of the process.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// The connection, for reads and single statements.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one immediate transaction; commits if it returns Ok.
    pub fn write<R>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let r = f(&tx)?;
        tx.commit()?;
        Ok(r)
    }
}

// ---- tenants and keys --------------------------------------------------------

/// Inserts a tenant and its first key.
pub fn insert_tenant(
    tx: &Transaction<'_>,
    id: &str,
    limits: &crate::Limits,
    key_hash: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO tenants (id, limits, created_at) VALUES (?1, ?2, ?3)",
        params![id, to_json(limits), now],
    )?;
    tx.execute(
        "INSERT INTO api_keys (hash, tenant, created_at) VALUES (?1, ?2, ?3)",
        params![key_hash, id, now],
    )?;
    Ok(())
}

/// Every tenant with its limits.
pub fn tenants(conn: &Connection) -> rusqlite::Result<Vec<(String, crate::Limits)>> {
    let mut st = conn.prepare("SELECT id, limits FROM tenants ORDER BY id")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    rows.map(|r| r.and_then(|(id, l)| Ok((id, from_json(&l)?))))
        .collect()
}

/// Whether a tenant exists.
pub fn tenant_exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM tenants WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|o| o.is_some())
}

/// Whose key this is: `Some(None)` for the admin, `Some(Some(tenant))`, or `None`.
pub fn key_owner(conn: &Connection, hash: &str) -> rusqlite::Result<Option<Option<String>>> {
    conn.query_row("SELECT tenant FROM api_keys WHERE hash = ?1", [hash], |r| {
        r.get::<_, Option<String>>(0)
    })
    .optional()
}

/// Stores the admin key hash (replacing any other admin key).
pub fn set_admin_key(tx: &Transaction<'_>, hash: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM api_keys WHERE tenant IS NULL", [])?;
    tx.execute(
        "INSERT INTO api_keys (hash, tenant, created_at) VALUES (?1, NULL, ?2)",
        params![hash, now],
    )?;
    Ok(())
}

/// Whether an admin key exists.
pub fn has_admin_key(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM api_keys WHERE tenant IS NULL",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

/// Adds a key for a tenant.
pub fn add_tenant_key(
    tx: &Transaction<'_>,
    tenant: &str,
    hash: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO api_keys (hash, tenant, created_at) VALUES (?1, ?2, ?3)",
        params![hash, tenant, now],
    )
    .map(|_| ())
}

// ---- plugins, pipeline, calendars, agents ------------------------------------------

/// One stored plugin version.
pub struct StoredVersion {
    /// Name.
    pub name: String,
    /// Number.
    pub version: u32,
    /// Content hash.
    pub hash: String,
    /// The installed bytes.
    pub bytes: Vec<u8>,
}

/// Stores a new version (number chosen by the caller, the next free one).
pub fn insert_version(
    tx: &Transaction<'_>,
    tenant: &str,
    v: &StoredVersion,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO plugin_versions (tenant, name, version, hash, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![tenant, v.name, v.version, v.hash, v.bytes, now],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO plugins (tenant, name, active, history) VALUES (?1, ?2, NULL, '[]')",
        params![tenant, v.name],
    )?;
    Ok(())
}

/// Every stored version of a tenant, by name then number.
pub fn versions(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<StoredVersion>> {
    let mut st = conn.prepare("SELECT name, version, hash, bytes FROM plugin_versions WHERE tenant = ?1 ORDER BY name, version")?;
    let rows = st.query_map([tenant], |r| {
        Ok(StoredVersion {
            name: r.get(0)?,
            version: r.get(1)?,
            hash: r.get(2)?,
            bytes: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// A plugin's activation state: (name, active version, earlier active versions).
pub type PluginState = (String, Option<u32>, Vec<u32>);

/// The activation state of each plugin of a tenant.
pub fn plugin_states(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<PluginState>> {
    let mut st =
        conn.prepare("SELECT name, active, history FROM plugins WHERE tenant = ?1 ORDER BY name")?;
    let rows = st.query_map([tenant], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<u32>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    rows.map(|r| r.and_then(|(n, a, h)| Ok((n, a, from_json(&h)?))))
        .collect()
}

/// Records which version is active and the history behind it.
pub fn set_plugin_state(
    tx: &Transaction<'_>,
    tenant: &str,
    name: &str,
    active: Option<u32>,
    history: &[u32],
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE plugins SET active = ?3, history = ?4 WHERE tenant = ?1 AND name = ?2",
        params![tenant, name, active, to_json(&history)],
    )
    .map(|_| ())
}

/// Deletes a plugin and all its versions.
pub fn delete_plugin(tx: &Transaction<'_>, tenant: &str, name: &str) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM plugin_versions WHERE tenant = ?1 AND name = ?2",
        params![tenant, name],
    )?;
    tx.execute(
        "DELETE FROM plugins WHERE tenant = ?1 AND name = ?2",
        params![tenant, name],
    )?;
    Ok(())
}

/// Reads a JSON document column of a per-tenant table (`pipelines`, `calendars`, `agents`).
pub fn tenant_doc<T: DeserializeOwned + Default>(
    conn: &Connection,
    table: &str,
    tenant: &str,
) -> rusqlite::Result<T> {
    let column = if table == "pipelines" {
        "steps"
    } else {
        "config"
    };
    let sql = format!("SELECT {column} FROM {table} WHERE tenant = ?1");
    match conn
        .query_row(&sql, [tenant], |r| r.get::<_, String>(0))
        .optional()?
    {
        Some(s) => from_json(&s),
        None => Ok(T::default()),
    }
}

/// Writes a JSON document column of a per-tenant table.
pub fn set_tenant_doc<T: Serialize>(
    tx: &Transaction<'_>,
    table: &str,
    tenant: &str,
    doc: &T,
) -> rusqlite::Result<()> {
    let column = if table == "pipelines" {
        "steps"
    } else {
        "config"
    };
    let sql = format!(
        "INSERT INTO {table} (tenant, {column}) VALUES (?1, ?2) ON CONFLICT(tenant) DO UPDATE SET {column} = ?2"
    );
    tx.execute(&sql, params![tenant, to_json(doc)]).map(|_| ())
}

// ---- tickets, events, audit ----------------------------------------------------

/// A stored ticket.
pub fn ticket(
    conn: &Connection,
    tenant: &str,
    id: &str,
) -> rusqlite::Result<Option<crate::types::Ticket>> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM tickets WHERE tenant = ?1 AND id = ?2",
            [tenant, id],
            |r| r.get(0),
        )
        .optional()?;
    body.map(|b| from_json(&b)).transpose()
}

/// Inserts or replaces a ticket.
pub fn put_ticket(tx: &Transaction<'_>, t: &crate::types::Ticket) -> rusqlite::Result<()> {
    let resolved = matches!(
        t.status,
        crate::types::Status::Solved | crate::types::Status::Closed
    );
    tx.execute(
        "INSERT INTO tickets (tenant, id, requester, assignee, resolved, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(tenant, id) DO UPDATE SET assignee = ?4, resolved = ?5, body = ?7",
        params![t.tenant, t.id, t.requester.id, t.assignee, resolved, t.created_at, to_json(t)],
    )
    .map(|_| ())
}

/// The requester's other tickets, newest first.
pub fn requester_tickets(
    conn: &Connection,
    tenant: &str,
    requester: &str,
    except: &str,
    limit: usize,
) -> rusqlite::Result<Vec<crate::types::Ticket>> {
    let mut st = conn.prepare(
        "SELECT body FROM tickets WHERE tenant = ?1 AND requester = ?2 AND id != ?3 ORDER BY created_at DESC, id LIMIT ?4",
    )?;
    let rows = st.query_map(params![tenant, requester, except, limit as i64], |r| {
        r.get::<_, String>(0)
    })?;
    rows.map(|r| r.and_then(|b| from_json(&b))).collect()
}

/// Unresolved tickets per assignee.
pub fn open_load(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<(String, u32)>> {
    let mut st = conn.prepare(
        "SELECT assignee, COUNT(*) FROM tickets WHERE tenant = ?1 AND assignee IS NOT NULL AND resolved = 0 GROUP BY assignee",
    )?;
    let rows = st.query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The stored outcome of an event id, if the event was already processed.
pub fn event_outcome(
    conn: &Connection,
    tenant: &str,
    id: &str,
) -> rusqlite::Result<Option<(String, serde_json::Value)>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT status, outcome FROM events WHERE tenant = ?1 AND id = ?2",
            [tenant, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(s, o)| Ok((s, from_json(&o)?))).transpose()
}

/// Records a processed event and its audit entry.
#[allow(clippy::too_many_arguments)]
pub fn record_event(
    tx: &Transaction<'_>,
    tenant: &str,
    ticket: &str,
    event_id: &str,
    kind: &str,
    at: i64,
    status: &str,
    outcome: &serde_json::Value,
    audit_entry: &serde_json::Value,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO events (tenant, id, ticket, status, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![tenant, event_id, ticket, status, outcome.to_string()],
    )?;
    tx.execute(
        "INSERT INTO audit (tenant, ticket, event_id, kind, at, status, entry) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![tenant, ticket, event_id, kind, at, status, audit_entry.to_string()],
    )?;
    Ok(())
}

/// Audit entries of a tenant (optionally one ticket), oldest first, after `after_seq`.
pub fn audit(
    conn: &Connection,
    tenant: &str,
    ticket: Option<&str>,
    after_seq: i64,
    limit: usize,
) -> rusqlite::Result<Vec<serde_json::Value>> {
    let mut st = conn.prepare(
        "SELECT seq, ticket, event_id, kind, at, status, entry FROM audit
         WHERE tenant = ?1 AND (?2 IS NULL OR ticket = ?2) AND seq > ?3 ORDER BY seq LIMIT ?4",
    )?;
    let rows = st.query_map(params![tenant, ticket, after_seq, limit as i64], |r| {
        let entry: String = r.get(6)?;
        Ok(serde_json::json!({
            "seq": r.get::<_, i64>(0)?,
            "ticket": r.get::<_, String>(1)?,
            "event_id": r.get::<_, String>(2)?,
            "kind": r.get::<_, String>(3)?,
            "at": r.get::<_, i64>(4)?,
            "status": r.get::<_, String>(5)?,
            "entry": from_json::<serde_json::Value>(&entry)?,
        }))
    })?;
    rows.collect()
}

// ---- timers and SLA clocks -------------------------------------------------------

/// Sets or replaces a timer.
pub fn set_timer(tx: &Transaction<'_>, t: &TimerRow) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO timers (tenant, ticket, plugin, key, due_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(tenant, ticket, plugin, key) DO UPDATE SET due_at = ?5",
        params![t.tenant, t.ticket, t.plugin, t.key, t.due_at],
    )
    .map(|_| ())
}

/// Cancels a timer; returns whether it existed.
pub fn cancel_timer(
    tx: &Transaction<'_>,
    tenant: &str,
    ticket: &str,
    plugin: &str,
    key: &str,
) -> rusqlite::Result<bool> {
    tx.execute(
        "DELETE FROM timers WHERE tenant = ?1 AND ticket = ?2 AND plugin = ?3 AND key = ?4",
        params![tenant, ticket, plugin, key],
    )
    .map(|n| n > 0)
}

/// A `timers` row selected as (tenant, ticket, plugin, key, due_at).
fn timer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimerRow> {
    Ok(TimerRow {
        tenant: r.get(0)?,
        ticket: r.get(1)?,
        plugin: r.get(2)?,
        key: r.get(3)?,
        due_at: r.get(4)?,
    })
}

/// Timers due at or before `now`, earliest first.
pub fn due_timers(conn: &Connection, now: i64, limit: usize) -> rusqlite::Result<Vec<TimerRow>> {
    let mut st = conn.prepare("SELECT tenant, ticket, plugin, key, due_at FROM timers WHERE due_at <= ?1 ORDER BY due_at, tenant, ticket LIMIT ?2")?;
    let rows = st.query_map(params![now, limit as i64], timer_row)?;
    rows.collect()
}

/// Timers of a ticket.
pub fn ticket_timers(
    conn: &Connection,
    tenant: &str,
    ticket: &str,
) -> rusqlite::Result<Vec<TimerRow>> {
    let mut st = conn.prepare("SELECT tenant, ticket, plugin, key, due_at FROM timers WHERE tenant = ?1 AND ticket = ?2 ORDER BY due_at")?;
    let rows = st.query_map([tenant, ticket], timer_row)?;
    rows.collect()
}

/// A timer's current due instant, if it still exists.
pub fn timer_due(conn: &Connection, t: &TimerRow) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT due_at FROM timers WHERE tenant = ?1 AND ticket = ?2 AND plugin = ?3 AND key = ?4",
        [&t.tenant, &t.ticket, &t.plugin, &t.key],
        |r| r.get(0),
    )
    .optional()
}

/// The SLA clocks of a ticket.
pub fn sla_clocks<T: DeserializeOwned>(
    conn: &Connection,
    tenant: &str,
    ticket: &str,
) -> rusqlite::Result<Vec<T>> {
    let mut st = conn.prepare(
        "SELECT clock FROM sla_clocks WHERE tenant = ?1 AND ticket = ?2 ORDER BY metric",
    )?;
    let rows = st.query_map([tenant, ticket], |r| r.get::<_, String>(0))?;
    rows.map(|r| r.and_then(|c| from_json(&c))).collect()
}

/// Replaces the SLA clocks of a ticket.
pub fn put_sla_clocks<T: Serialize>(
    tx: &Transaction<'_>,
    tenant: &str,
    ticket: &str,
    clocks: &[(String, T)],
) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM sla_clocks WHERE tenant = ?1 AND ticket = ?2",
        [tenant, ticket],
    )?;
    for (metric, clock) in clocks {
        tx.execute(
            "INSERT INTO sla_clocks (tenant, ticket, metric, clock) VALUES (?1, ?2, ?3, ?4)",
            params![tenant, ticket, metric, to_json(clock)],
        )?;
    }
    Ok(())
}
