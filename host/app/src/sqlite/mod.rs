//! The durable store: SQLite in WAL mode in the data directory. Every
//! write that belongs to one event (ticket, event record, audit entry,
//! timers, SLA clocks) commits atomically, so an acknowledged event is never
//! lost or half-applied. Writes go through one connection and concurrent
//! ones share a commit ([`group_commit`]); reads run on a pool of their own
//! connections ([`read_pool`]).

mod group_commit;
mod read_pool;

pub use read_pool::Reader;

use crate::catalog::{
    AuditEntry, CalendarUse, Catalog, CommitStats, ConfigDoc, KeyInfo, PluginState, StoredVersion,
    TenantVersion, key_id,
};
use crate::sla::SlaClock;
use crate::store::{
    EventCommit, Store, StoreError, StoredEvent, StoredMessage, TimerChange, TimerRow,
};
use crate::ticket_input::brief;
use docket_contract::types::{Ticket, TicketBrief};
use docket_engine::Limits;
use docket_engine::config::AgentConfig;
use docket_engine::outcome::Message;
use group_commit::GroupCommit;
use read_pool::ReadPool;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;

/// The schema, one step per version: step `i` takes a database from
/// version `i` to `i + 1` (SQLite's `user_version`). Data directories made
/// by an earlier release are brought forward at start; steps never change.
const MIGRATIONS: &[&str] = &[
    SCHEMA_V1,
    SCHEMA_V2,
    SCHEMA_V3,
    SCHEMA_V4,
    crate::webhook::store::SCHEMA,
    crate::recording::sql::SCHEMA,
    SCHEMA_BRIEFS,
];

const SCHEMA_V1: &str = r#"
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

/// Idempotency fingerprints, public key ids that survive rotation, per-agent open-ticket counts kept as tickets
/// change (no per-request scan of the tenant's tickets), the calendar each
/// SLA clock runs on (so replacing calendars can see what uses them), and
/// indexes for the per-tenant and per-requester reads.
const SCHEMA_V2: &str = r#"
ALTER TABLE events ADD COLUMN fingerprint TEXT;
CREATE TABLE agent_load (
    tenant TEXT NOT NULL,
    agent TEXT NOT NULL,
    open INTEGER NOT NULL,
    PRIMARY KEY (tenant, agent)
);
INSERT INTO agent_load (tenant, agent, open)
    SELECT tenant, assignee, COUNT(*) FROM tickets
    WHERE assignee IS NOT NULL AND resolved = 0 GROUP BY tenant, assignee;
ALTER TABLE sla_clocks ADD COLUMN calendar TEXT;
UPDATE sla_clocks SET calendar = json_extract(clock, '$.calendar');
CREATE INDEX sla_clocks_by_calendar ON sla_clocks (tenant, calendar);
CREATE INDEX audit_by_tenant ON audit (tenant, seq);
DROP INDEX tickets_by_requester;
CREATE INDEX tickets_by_requester ON tickets (tenant, requester, created_at, id);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant);
ALTER TABLE api_keys ADD COLUMN id TEXT;
UPDATE api_keys SET id = 'key_' || substr(hash, 1, 16);
CREATE UNIQUE INDEX api_keys_by_id ON api_keys (id);
"#;

/// Ticket versions, so an event decided on a ticket that changed since
/// commits nothing (optimistic concurrency; see `EventCommit`), and tenant
/// configuration versions (see `TenantVersion`).
const SCHEMA_V3: &str = r#"
ALTER TABLE tickets ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tenants ADD COLUMN config_version INTEGER NOT NULL DEFAULT 1;
"#;

/// Version 4: the outbox. Each applied event's messages, numbered per
/// tenant by a counter the event's commit advances, so numbers follow the
/// commit order (see `StoredMessage`).
const SCHEMA_V4: &str = r#"
CREATE TABLE outbox (
    tenant TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    ticket TEXT NOT NULL,
    type TEXT NOT NULL,
    event_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE UNIQUE INDEX outbox_by_id ON outbox (tenant, id);
ALTER TABLE tenants ADD COLUMN outbox_seq INTEGER NOT NULL DEFAULT 0;
"#;

/// Version 7: each ticket's brief (what other tickets' plugins see in
/// `history`) kept as a column and in the requester index, newest first:
/// a request reads its requester's last briefs from a few index pages
/// instead of fetching and decoding every one of those tickets' bodies.
/// The briefs of existing tickets are cut from their bodies, whose fields
/// a brief shares (`ticket_input::brief`).
const SCHEMA_BRIEFS: &str = r#"
ALTER TABLE tickets ADD COLUMN brief TEXT;
UPDATE tickets SET brief = json_object(
    'id', json_extract(body, '$.id'),
    'category', json_extract(body, '$.category'),
    'subject', json_extract(body, '$.subject'),
    'status', json_extract(body, '$.status'),
    'created_at', json_extract(body, '$.created_at'));
DROP INDEX tickets_by_requester;
CREATE INDEX tickets_by_requester ON tickets (tenant, requester, created_at DESC, id, brief);
"#;

/// The SQLite store.
pub struct SqliteStore {
    writer: GroupCommit,
    readers: ReadPool,
}

/// Read connections at most: enough for the service's blocking threads to
/// read in parallel on a small machine without opening one per request.
const MAX_READERS: usize = 8;

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

/// Decodes a JSON column; a corrupt row is an error, not a panic.
pub fn from_json<T: DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Runs one statement, prepared once per connection.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Reads one row, with the statement prepared once per connection.
fn query_row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

impl SqliteStore {
    /// Opens (creating if needed) `docket.db` in the data directory.
    pub fn open(dir: &Path) -> anyhow::Result<SqliteStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("docket.db");
        let mut conn = Connection::open(&path)?;
        // WAL for concurrent readers; FULL so an acknowledged commit
        // survives power loss, not only a crash of the process.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        read_pool::tune(&conn)?;
        check_integrity(&conn, dir)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            writer: GroupCommit::new(conn),
            readers: ReadPool::new(path, MAX_READERS),
        })
    }

    /// A read connection: it sees what was committed when a statement
    /// starts, never a write in progress.
    pub fn conn(&self) -> rusqlite::Result<Reader<'_>> {
        self.readers.get()
    }

    fn read<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, StoreError> {
        self.conn().and_then(|c| f(&c)).map_err(backend)
    }

    /// Runs `f` atomically (in a savepoint of a shared transaction, see
    /// [`group_commit`]) and returns once that is committed; when `f` fails
    /// nothing it wrote is kept.
    pub fn write<R>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        self.writer.run(f)?
    }
}

/// Refuses to start on a damaged database: SQLite's `quick_check` reads
/// every page, so damage is found now and not as a 500 on some request.
fn check_integrity(conn: &Connection, dir: &Path) -> anyhow::Result<()> {
    let db = dir.join("docket.db");
    let problems: Vec<String> = (|| {
        let mut st = conn.prepare_cached("PRAGMA quick_check")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
    })()
    .map_err(|e| match e.sqlite_error_code() {
        // Too damaged for the check itself to run (e.g. the schema's page).
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            anyhow::anyhow!(
                "{} is damaged ({e}); restore it from a backup",
                db.display()
            )
        }
        _ => anyhow::anyhow!("{} is not a usable database: {e}", db.display()),
    })?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
    anyhow::bail!(
        "{} is damaged ({} problem(s) found by quick_check: {}); restore it from a backup",
        db.display(),
        problems.len(),
        shown.join("; ")
    )
}

/// Applies the migrations the database has not had yet, each in its own
/// transaction with the version bump, so a crash leaves a consistent version.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current: usize = query_row(conn, "PRAGMA user_version", [], |r| r.get(0))?;
    if current > MIGRATIONS.len() {
        anyhow::bail!(
            "the database has schema version {current}, newer than this build knows ({}); \
             run a newer docket",
            MIGRATIONS.len()
        );
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)
            .map_err(|e| anyhow::anyhow!("migrating the database to version {}: {e}", i + 1))?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

// ---- tenants and keys --------------------------------------------------------

/// Inserts a tenant and its first key.
pub fn insert_tenant(
    tx: &Connection,
    id: &str,
    limits: &Limits,
    key_hash: &str,
    now: i64,
) -> rusqlite::Result<()> {
    exec(
        tx,
        "INSERT INTO tenants (id, limits, created_at) VALUES (?1, ?2, ?3)",
        params![id, to_json(limits), now],
    )?;
    exec(
        tx,
        "INSERT INTO api_keys (hash, tenant, created_at, id) VALUES (?1, ?2, ?3, ?4)",
        params![key_hash, id, now, key_id(key_hash)],
    )?;
    Ok(())
}

/// Replaces a tenant's limits and counts the change; whether it exists.
pub fn set_tenant_limits(tx: &Connection, id: &str, limits: &Limits) -> rusqlite::Result<bool> {
    let changed = exec(
        tx,
        "UPDATE tenants SET limits = ?2, config_version = config_version + 1 WHERE id = ?1",
        params![id, to_json(limits)],
    )?;
    Ok(changed == 1)
}

/// Every tenant with its limits.
pub fn tenants(conn: &Connection) -> rusqlite::Result<Vec<(String, Limits)>> {
    let mut st = conn.prepare_cached("SELECT id, limits FROM tenants ORDER BY id")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    rows.map(|r| r.and_then(|(id, l)| Ok((id, from_json(&l)?))))
        .collect()
}

/// Whether a tenant exists.
pub fn tenant_exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    query_row(
        conn,
        "SELECT 1 FROM tenants WHERE id = ?1",
        [id],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

/// Whose key this is: `Some(None)` for the admin, `Some(Some(tenant))`, or `None`.
pub fn key_owner(conn: &Connection, hash: &str) -> rusqlite::Result<Option<Option<String>>> {
    query_row(
        conn,
        "SELECT tenant FROM api_keys WHERE hash = ?1",
        [hash],
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()
}

/// Stores the admin key hash (replacing any other admin key).
pub fn set_admin_key(tx: &Connection, hash: &str, now: i64) -> rusqlite::Result<()> {
    exec(tx, "DELETE FROM api_keys WHERE tenant IS NULL", [])?;
    exec(
        tx,
        "INSERT INTO api_keys (hash, tenant, created_at, id) VALUES (?1, NULL, ?2, ?3)",
        params![hash, now, key_id(hash)],
    )?;
    Ok(())
}

/// Whether an admin key exists.
pub fn has_admin_key(conn: &Connection) -> rusqlite::Result<bool> {
    query_row(
        conn,
        "SELECT 1 FROM api_keys WHERE tenant IS NULL",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

/// Adds a key for a tenant.
pub fn add_tenant_key(tx: &Connection, tenant: &str, hash: &str, now: i64) -> rusqlite::Result<()> {
    exec(
        tx,
        "INSERT INTO api_keys (hash, tenant, created_at, id) VALUES (?1, ?2, ?3, ?4)",
        params![hash, tenant, now, key_id(hash)],
    )
    .map(|_| ())
}

/// A tenant's keys, oldest first.
pub fn tenant_keys(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<KeyInfo>> {
    let mut st = conn.prepare_cached(
        "SELECT id, created_at FROM api_keys WHERE tenant = ?1 ORDER BY created_at, id",
    )?;
    let rows = st.query_map([tenant], |r| {
        Ok(KeyInfo {
            id: r.get(0)?,
            created_at: r.get(1)?,
        })
    })?;
    rows.collect()
}

/// Deletes the tenant key with this public id; returns whether it existed.
pub fn revoke_tenant_key(tx: &Connection, tenant: &str, id: &str) -> rusqlite::Result<bool> {
    exec(
        tx,
        "DELETE FROM api_keys WHERE tenant = ?1 AND id = ?2",
        [tenant, id],
    )
    .map(|n| n > 0)
}

/// Gives the tenant key with this public id a new secret (by its hash);
/// returns whether it existed. The old secret is refused from the commit on.
pub fn rotate_tenant_key(
    tx: &Connection,
    tenant: &str,
    id: &str,
    new_hash: &str,
) -> rusqlite::Result<bool> {
    exec(
        tx,
        "UPDATE api_keys SET hash = ?3 WHERE tenant = ?1 AND id = ?2",
        [tenant, id, new_hash],
    )
    .map(|n| n > 0)
}

/// Deletes a tenant and everything it owns: keys, plugins, pipeline,
/// calendars, agents, tickets, events, audit, timers and SLA clocks.
pub fn delete_tenant(tx: &Connection, tenant: &str) -> rusqlite::Result<bool> {
    for table in [
        "api_keys",
        "plugin_versions",
        "plugins",
        "pipelines",
        "calendars",
        "agents",
        "tickets",
        "agent_load",
        "events",
        "audit",
        "recording_blobs",
        "timers",
        "sla_clocks",
        "outbox",
        "webhooks",
        "deliveries",
        "delivery_attempts",
    ] {
        exec(
            tx,
            &format!("DELETE FROM {table} WHERE tenant = ?1"),
            [tenant],
        )?;
    }
    exec(tx, "DELETE FROM tenants WHERE id = ?1", [tenant]).map(|n| n > 0)
}

// ---- plugins, pipeline, calendars, agents ------------------------------------------

/// Stores a new version (number chosen by the caller, the next free one).
pub fn insert_version(
    tx: &Connection,
    tenant: &str,
    v: &StoredVersion,
    now: i64,
) -> rusqlite::Result<()> {
    exec(
        tx,
        "INSERT INTO plugin_versions (tenant, name, version, hash, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![tenant, v.name, v.version, v.hash, v.bytes, now],
    )?;
    exec(
        tx,
        "INSERT OR IGNORE INTO plugins (tenant, name, active, history) VALUES (?1, ?2, NULL, '[]')",
        params![tenant, v.name],
    )?;
    Ok(())
}

/// Every stored version of a tenant, by name then number.
pub fn versions(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<StoredVersion>> {
    let mut st = conn.prepare_cached("SELECT name, version, hash, bytes FROM plugin_versions WHERE tenant = ?1 ORDER BY name, version")?;
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

/// The activation state of each plugin of a tenant.
pub fn plugin_states(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<PluginState>> {
    let mut st = conn.prepare_cached(
        "SELECT name, active, history FROM plugins WHERE tenant = ?1 ORDER BY name",
    )?;
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
    tx: &Connection,
    tenant: &str,
    name: &str,
    active: Option<u32>,
    history: &[u32],
) -> rusqlite::Result<()> {
    exec(
        tx,
        "UPDATE plugins SET active = ?3, history = ?4 WHERE tenant = ?1 AND name = ?2",
        params![tenant, name, active, to_json(&history)],
    )
    .map(|_| ())
}

/// Deletes a plugin and all its versions.
pub fn delete_plugin(tx: &Connection, tenant: &str, name: &str) -> rusqlite::Result<()> {
    exec(
        tx,
        "DELETE FROM plugin_versions WHERE tenant = ?1 AND name = ?2",
        params![tenant, name],
    )?;
    exec(
        tx,
        "DELETE FROM plugins WHERE tenant = ?1 AND name = ?2",
        params![tenant, name],
    )?;
    Ok(())
}

/// Counts a change of a tenant's configuration (see `TenantVersion`).
fn bump_config(tx: &Connection, tenant: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE tenants SET config_version = config_version + 1 WHERE id = ?1")?
        .execute([tenant])
        .map(|_| ())
}

/// The table and column holding a tenant document.
fn doc_column(doc: ConfigDoc) -> (&'static str, &'static str) {
    match doc {
        ConfigDoc::Pipeline => ("pipelines", "steps"),
        ConfigDoc::Calendars => ("calendars", "config"),
        ConfigDoc::Agents => ("agents", "config"),
    }
}

/// A tenant document's JSON, if it was ever set.
fn config_doc_json(
    conn: &Connection,
    tenant: &str,
    doc: ConfigDoc,
) -> rusqlite::Result<Option<String>> {
    let (table, column) = doc_column(doc);
    conn.prepare_cached(&format!("SELECT {column} FROM {table} WHERE tenant = ?1"))?
        .query_row([tenant], |r| r.get(0))
        .optional()
}

/// Replaces a tenant document.
fn set_config_doc_json(
    tx: &Connection,
    tenant: &str,
    doc: ConfigDoc,
    json: &str,
) -> rusqlite::Result<()> {
    let (table, column) = doc_column(doc);
    let sql = format!(
        "INSERT INTO {table} (tenant, {column}) VALUES (?1, ?2) ON CONFLICT(tenant) DO UPDATE SET {column} = ?2"
    );
    exec(tx, &sql, params![tenant, json]).map(|_| ())
}

// ---- tickets, events, audit ----------------------------------------------------

/// A stored ticket and its version.
pub fn ticket(
    conn: &Connection,
    tenant: &str,
    id: &str,
) -> rusqlite::Result<Option<(Ticket, u64)>> {
    let row: Option<(String, u64)> = conn
        .prepare_cached("SELECT body, version FROM tickets WHERE tenant = ?1 AND id = ?2")?
        .query_row([tenant, id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(b, v)| Ok((from_json(&b)?, v))).transpose()
}

/// Inserts or replaces a ticket if the stored one is at version
/// `expected` (`None`: there is none), keeping the per-agent open-ticket
/// counts in step with it; returns the version found when it is another.
pub fn put_ticket(
    tx: &Connection,
    t: &Ticket,
    expected: Option<u64>,
) -> rusqlite::Result<Result<(), Option<u64>>> {
    put_encoded_ticket(tx, t, &TicketText::of(t), expected)
}

/// A ticket's columns as JSON text: its body and its brief.
struct TicketText {
    body: String,
    brief: String,
}

impl TicketText {
    fn of(t: &Ticket) -> TicketText {
        TicketText {
            body: to_json(t),
            brief: to_json(&brief(t)),
        }
    }
}

/// [`put_ticket`], its JSON encoded beforehand.
fn put_encoded_ticket(
    tx: &Connection,
    t: &Ticket,
    text: &TicketText,
    expected: Option<u64>,
) -> rusqlite::Result<Result<(), Option<u64>>> {
    let resolved = matches!(
        t.status,
        docket_contract::types::Status::Solved | docket_contract::types::Status::Closed
    );
    let before: Option<(Option<String>, bool, u64)> = tx
        .prepare_cached(
            "SELECT assignee, resolved, version FROM tickets WHERE tenant = ?1 AND id = ?2",
        )?
        .query_row([&t.tenant, &t.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let found = before.as_ref().map(|b| b.2);
    if found != expected {
        return Ok(Err(found));
    }
    let counted_before = before.and_then(|(a, resolved, _)| a.filter(|_| !resolved));
    let counted_now = t.assignee.clone().filter(|_| !resolved);
    if counted_before != counted_now {
        if let Some(agent) = &counted_before {
            exec(
                tx,
                "UPDATE agent_load SET open = open - 1 WHERE tenant = ?1 AND agent = ?2",
                [&t.tenant, agent],
            )?;
        }
        if let Some(agent) = &counted_now {
            exec(
                tx,
                "INSERT INTO agent_load (tenant, agent, open) VALUES (?1, ?2, 1)
                 ON CONFLICT(tenant, agent) DO UPDATE SET open = open + 1",
                [&t.tenant, agent],
            )?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO tickets (tenant, id, requester, assignee, resolved, created_at, body, brief, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)
         ON CONFLICT(tenant, id) DO UPDATE SET assignee = ?4, resolved = ?5, body = ?7, brief = ?8, version = version + 1",
    )?
    .execute(params![
        t.tenant,
        t.id,
        t.requester.id,
        t.assignee,
        resolved,
        t.created_at,
        text.body,
        text.brief
    ])?;
    Ok(Ok(()))
}

/// The requester's history: a search of the requester index, in its order.
const REQUESTER_HISTORY: &str = "SELECT brief FROM tickets WHERE tenant = ?1 AND requester = ?2 AND id != ?3 ORDER BY created_at DESC, id LIMIT ?4";

/// Briefs of the requester's other tickets, newest first: read from the
/// requester index alone (see [`SCHEMA_BRIEFS`]), never the bodies.
pub fn requester_tickets(
    conn: &Connection,
    tenant: &str,
    requester: &str,
    except: &str,
    limit: usize,
) -> rusqlite::Result<Vec<TicketBrief>> {
    let mut st = conn.prepare_cached(REQUESTER_HISTORY)?;
    let rows = st.query_map(params![tenant, requester, except, limit as i64], |r| {
        from_json(r.get_ref(0)?.as_str()?)
    })?;
    rows.collect()
}

/// Unresolved tickets per assignee, from the counts [`put_ticket`] keeps:
/// one row per agent, whatever the number of tickets.
pub fn open_load(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<(String, u32)>> {
    let mut st =
        conn.prepare_cached("SELECT agent, open FROM agent_load WHERE tenant = ?1 AND open > 0")?;
    let rows = st.query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The stored event with this id, if it was already processed.
pub fn stored_event(
    conn: &Connection,
    tenant: &str,
    id: &str,
) -> rusqlite::Result<Option<StoredEvent>> {
    let row: Option<(String, String, Option<String>)> = conn
        .query_row(
            "SELECT status, outcome, fingerprint FROM events WHERE tenant = ?1 AND id = ?2",
            [tenant, id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(status, o, fingerprint)| {
        Ok(StoredEvent {
            status,
            outcome: from_json(&o)?,
            fingerprint,
        })
    })
    .transpose()
}

/// What identifies a processed event in the `events` and `audit` tables.
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    /// Event id (the idempotency key when one was given).
    pub id: &'a str,
    /// The action's name, e.g. `created`, `timer_fired`.
    pub kind: &'a str,
    /// When, ms since the epoch.
    pub at: i64,
    /// `applied`, `rejected` or `failed`.
    pub status: &'a str,
    /// The request's fingerprint, for events with an idempotency key.
    pub fingerprint: Option<&'a str>,
}

/// Records a processed event and its audit entry.
pub fn record_event(
    tx: &Connection,
    tenant: &str,
    ticket: &str,
    event: &EventRecord<'_>,
    outcome: &str,
    audit_entry: &str,
    input: Option<&str>,
) -> rusqlite::Result<()> {
    let EventRecord {
        id: event_id,
        kind,
        at,
        status,
        fingerprint,
    } = *event;
    exec(
        tx,
        "INSERT INTO events (tenant, id, ticket, status, outcome, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![tenant, event_id, ticket, status, outcome, fingerprint],
    )?;
    exec(
        tx,
        "INSERT INTO audit (tenant, ticket, event_id, kind, at, status, entry, input) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            tenant,
            ticket,
            event_id,
            kind,
            at,
            status,
            audit_entry,
            input
        ],
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
) -> rusqlite::Result<Vec<AuditEntry>> {
    // Two statements, so each uses its index: (tenant, seq) or (tenant, ticket, seq).
    const COLUMNS: &str = "SELECT seq, ticket, event_id, kind, at, status, entry FROM audit";
    let mut st = match ticket {
        None => conn.prepare_cached(&format!(
            "{COLUMNS} WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))?,
        Some(_) => conn.prepare_cached(&format!(
            "{COLUMNS} WHERE tenant = ?1 AND seq > ?2 AND ticket = ?4 ORDER BY seq LIMIT ?3"
        ))?,
    };
    let row = |r: &rusqlite::Row<'_>| {
        let entry: String = r.get(6)?;
        Ok(AuditEntry {
            seq: r.get(0)?,
            ticket: r.get(1)?,
            event_id: r.get(2)?,
            kind: r.get(3)?,
            at: docket_contract::wire::instant::text(r.get::<_, i64>(4)?),
            status: r.get(5)?,
            entry: from_json(&entry)?,
        })
    };
    let rows = match ticket {
        None => st.query_map(params![tenant, after_seq, limit as i64], row)?,
        Some(t) => st.query_map(params![tenant, after_seq, limit as i64, t], row)?,
    };
    rows.collect()
}

// ---- timers and SLA clocks -------------------------------------------------------

/// Sets or replaces a timer.
pub fn set_timer(tx: &Connection, t: &TimerRow) -> rusqlite::Result<()> {
    exec(
        tx,
        "INSERT INTO timers (tenant, ticket, plugin, key, due_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(tenant, ticket, plugin, key) DO UPDATE SET due_at = ?5",
        params![t.tenant, t.ticket, t.plugin, t.key, t.due_at],
    )
    .map(|_| ())
}

/// Cancels a timer; returns whether it existed.
pub fn cancel_timer(
    tx: &Connection,
    tenant: &str,
    ticket: &str,
    plugin: &str,
    key: &str,
) -> rusqlite::Result<bool> {
    exec(
        tx,
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
    let mut st = conn.prepare_cached("SELECT tenant, ticket, plugin, key, due_at FROM timers WHERE due_at <= ?1 ORDER BY due_at, tenant, ticket, plugin, key LIMIT ?2")?;
    let rows = st.query_map(params![now, limit as i64], timer_row)?;
    rows.collect()
}

/// Timers of a ticket.
pub fn ticket_timers(
    conn: &Connection,
    tenant: &str,
    ticket: &str,
) -> rusqlite::Result<Vec<TimerRow>> {
    let mut st = conn.prepare_cached("SELECT tenant, ticket, plugin, key, due_at FROM timers WHERE tenant = ?1 AND ticket = ?2 ORDER BY due_at")?;
    let rows = st.query_map([tenant, ticket], timer_row)?;
    rows.collect()
}

/// A timer's current due instant, if it still exists.
pub fn timer_due(conn: &Connection, t: &TimerRow) -> rusqlite::Result<Option<i64>> {
    query_row(
        conn,
        "SELECT due_at FROM timers WHERE tenant = ?1 AND ticket = ?2 AND plugin = ?3 AND key = ?4",
        [&t.tenant, &t.ticket, &t.plugin, &t.key],
        |r| r.get(0),
    )
    .optional()
}

/// Moves a timer that could not fire to `due_at`, unless it was replaced
/// or cancelled meanwhile (its due instant is no longer `t.due_at`);
/// returns whether it moved.
pub fn postpone_timer(tx: &Connection, t: &TimerRow, due_at: i64) -> rusqlite::Result<bool> {
    exec(
        tx,
        "UPDATE timers SET due_at = ?6 WHERE tenant = ?1 AND ticket = ?2 AND plugin = ?3 AND key = ?4 AND due_at = ?5",
        params![t.tenant, t.ticket, t.plugin, t.key, t.due_at, due_at],
    )
    .map(|n| n > 0)
}

/// The SLA clocks of a ticket.
pub fn sla_clocks(
    conn: &Connection,
    tenant: &str,
    ticket: &str,
) -> rusqlite::Result<Vec<SlaClock>> {
    let mut st = conn.prepare_cached(
        "SELECT clock FROM sla_clocks WHERE tenant = ?1 AND ticket = ?2 ORDER BY metric",
    )?;
    let rows = st.query_map([tenant, ticket], |r| r.get::<_, String>(0))?;
    rows.map(|r| r.and_then(|c| from_json(&c))).collect()
}

/// Replaces the SLA clocks of a ticket.
/// Each clock's JSON (`texts`, in order) is encoded beforehand.
fn put_sla_clocks(
    tx: &Connection,
    tenant: &str,
    ticket: &str,
    clocks: &[SlaClock],
    texts: &[String],
) -> rusqlite::Result<()> {
    exec(
        tx,
        "DELETE FROM sla_clocks WHERE tenant = ?1 AND ticket = ?2",
        [tenant, ticket],
    )?;
    for (clock, text) in clocks.iter().zip(texts) {
        exec(
            tx,
            "INSERT INTO sla_clocks (tenant, ticket, metric, clock, calendar) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tenant, ticket, clock.metric, text, clock.calendar],
        )?;
    }
    Ok(())
}

/// The SLA clocks of a tenant that run on `calendar` (an indexed count).
pub fn calendar_use(
    conn: &Connection,
    tenant: &str,
    calendar: &str,
) -> rusqlite::Result<Option<CalendarUse>> {
    query_row(
        conn,
        "SELECT COUNT(*), COUNT(DISTINCT ticket), MIN(ticket) FROM sla_clocks WHERE tenant = ?1 AND calendar = ?2",
        [tenant, calendar],
        |r| {
            let clocks: u64 = r.get(0)?;
            let tickets: u64 = r.get(1)?;
            Ok(r.get::<_, Option<String>>(2)?
                .map(|example_ticket| CalendarUse {
                    clocks,
                    tickets,
                    example_ticket,
                }))
        },
    )
}

// ---- the event lifecycle's view ---------------------------------------------------

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Store for SqliteStore {
    fn versioned_ticket(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(Ticket, u64)>, StoreError> {
        self.read(|c| ticket(c, tenant, id))
    }

    fn requester_tickets(
        &self,
        tenant: &str,
        requester: &str,
        except: &str,
        limit: usize,
    ) -> Result<Vec<TicketBrief>, StoreError> {
        self.read(|c| requester_tickets(c, tenant, requester, except, limit))
    }

    fn agents(&self, tenant: &str) -> Result<Vec<AgentConfig>, StoreError> {
        crate::catalog::config_doc(self, tenant, ConfigDoc::Agents)
    }

    fn open_load(&self, tenant: &str) -> Result<Vec<(String, u32)>, StoreError> {
        self.read(|c| open_load(c, tenant))
    }

    fn sla_clocks(&self, tenant: &str, ticket: &str) -> Result<Vec<SlaClock>, StoreError> {
        self.read(|c| sla_clocks(c, tenant, ticket))
    }

    fn stored_event(&self, tenant: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        self.read(|c| stored_event(c, tenant, id))
    }

    fn timer_due(&self, timer: &TimerRow) -> Result<Option<i64>, StoreError> {
        self.read(|c| timer_due(c, timer))
    }

    fn due_timers(&self, until: i64, limit: usize) -> Result<Vec<TimerRow>, StoreError> {
        self.read(|c| due_timers(c, until, limit))
    }

    fn cancel_timer(&self, t: &TimerRow) -> Result<(), StoreError> {
        self.write(|tx| cancel_timer(tx, &t.tenant, &t.ticket, &t.plugin, &t.key))
            .map(|_| ())
            .map_err(backend)
    }

    fn postpone_timer(&self, timer: &TimerRow, due_at: i64) -> Result<bool, StoreError> {
        self.write(|tx| postpone_timer(tx, timer, due_at))
            .map_err(backend)
    }

    fn commit_event(&self, c: &EventCommit<'_>) -> Result<(), StoreError> {
        let text = EventText::of(c);
        self.writer
            .run(|tx| write_event(tx, c, &text))
            .map_err(backend)?
    }

    fn messages_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(|c| messages_after(c, tenant, after, limit))
    }

    crate::recording::sql::store_methods!();
}

/// The JSON text an event's rows hold, encoded before the writer is taken:
/// every write waits for the one writer, so it runs SQL and nothing else.
struct EventText {
    outcome: String,
    audit: String,
    /// The applied ticket's, its clocks' and its messages' data.
    applied: Option<(TicketText, Vec<String>)>,
    messages: Vec<String>,
}

impl EventText {
    fn of(c: &EventCommit<'_>) -> EventText {
        EventText {
            outcome: c.outcome.to_string(),
            audit: c.audit.to_string(),
            applied: c.applied.as_ref().map(|a| {
                (
                    TicketText::of(a.ticket),
                    a.clocks.iter().map(to_json).collect(),
                )
            }),
            messages: c.messages.iter().map(|m| to_json(&m.data)).collect(),
        }
    }
}

/// Writes everything one event produced (see [`Store::commit_event`]) in
/// the caller's transaction; on an error the caller rolls it back.
fn write_event(tx: &Connection, c: &EventCommit<'_>, text: &EventText) -> Result<(), StoreError> {
    let record = EventRecord {
        id: c.event_id,
        kind: c.kind,
        at: c.at,
        status: c.status,
        fingerprint: c.fingerprint,
    };
    if let Some(t) = c.fired {
        let deleted = tx
            .prepare_cached(
                "DELETE FROM timers WHERE tenant = ?1 AND ticket = ?2 AND plugin = ?3 AND key = ?4 AND due_at = ?5",
            )
            .and_then(|mut st| st.execute(params![t.tenant, t.ticket, t.plugin, t.key, t.due_at]))
            .map_err(backend)?;
        if deleted == 0 {
            return Err(StoreError::Conflict(format!("timer `{}` is gone", t.key)));
        }
    }
    let input = c.recording.map(|r| r.input.as_str());
    record_event(
        tx,
        c.tenant,
        c.ticket,
        &record,
        &text.outcome,
        &text.audit,
        input,
    )
    .map_err(|e| {
        match e.sqlite_error_code() {
            // Another writer sharing the database recorded the same event
            // id first.
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                StoreError::DuplicateEvent(c.event_id.to_string())
            }
            _ => backend(e),
        }
    })?;
    if let Some(r) = c.recording {
        crate::recording::sql::put_blobs(&mut crate::sql::SqliteSql(tx), c.tenant, &r.blobs)?;
    }
    let (Some(applied), Some((ticket_text, clock_texts))) = (&c.applied, &text.applied) else {
        return Ok(());
    };
    if let Err(found) =
        put_encoded_ticket(tx, applied.ticket, ticket_text, c.ticket_version).map_err(backend)?
    {
        return Err(StoreError::Conflict(format!(
            "ticket `{}` is at version {found:?}, the event was decided on {:?}",
            c.ticket, c.ticket_version
        )));
    }
    for change in applied.timers {
        match change {
            TimerChange::Set(t) => set_timer(tx, t),
            TimerChange::Cancel { owner, key } => {
                cancel_timer(tx, c.tenant, c.ticket, owner, key).map(|_| ())
            }
        }
        .map_err(backend)?;
    }
    put_sla_clocks(tx, c.tenant, c.ticket, applied.clocks, clock_texts).map_err(backend)?;
    append_messages(tx, c.tenant, c.messages, &text.messages).map_err(backend)
}

/// Appends messages to the tenant's outbox, numbered after the last.
/// Each message's data (`data`, in order) is encoded beforehand.
fn append_messages(
    tx: &Connection,
    tenant: &str,
    messages: &[Message],
    data: &[String],
) -> rusqlite::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let last: i64 = query_row(
        tx,
        "UPDATE tenants SET outbox_seq = outbox_seq + ?2 WHERE id = ?1 RETURNING outbox_seq",
        params![tenant, messages.len() as i64],
        |r| r.get(0),
    )?;
    let first = last - messages.len() as i64 + 1;
    let mut st = tx.prepare_cached(
        "INSERT INTO outbox (tenant, seq, id, ticket, type, event_id, at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for ((m, data), seq) in messages.iter().zip(data).zip(first..) {
        st.execute(params![
            tenant, seq, m.id, m.ticket, m.kind, m.event_id, m.at, data
        ])?;
    }
    Ok(())
}

/// The tenant's outbox after `after`, in order.
pub fn messages_after(
    conn: &Connection,
    tenant: &str,
    after: u64,
    limit: usize,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut st = conn.prepare_cached(
        "SELECT seq, id, ticket, type, event_id, at, data FROM outbox WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = st.query_map(params![tenant, after as i64, limit as i64], |r| {
        Ok(StoredMessage {
            seq: r.get::<_, i64>(0)? as u64,
            message: Message {
                id: r.get(1)?,
                ticket: r.get(2)?,
                kind: r.get(3)?,
                event_id: r.get(4)?,
                at: r.get(5)?,
                data: from_json(&r.get::<_, String>(6)?)?,
            },
        })
    })?;
    rows.collect()
}

impl crate::sql::SqlStore for SqliteStore {
    fn sql_write(
        &self,
        durability: crate::sql::Durability,
        f: &mut dyn FnMut(&mut dyn crate::sql::Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.writer
            .run_with(durability, |tx| f(&mut crate::sql::SqliteSql(tx)))
            .map_err(backend)?
    }

    fn sql_read(
        &self,
        f: &mut dyn FnMut(&mut dyn crate::sql::Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let conn = self.conn().map_err(backend)?;
        f(&mut crate::sql::SqliteSql(&conn))
    }
}

impl Catalog for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn commit_stats(&self) -> Option<CommitStats> {
        Some(self.writer.stats())
    }
    fn tenants(&self) -> Result<Vec<(String, Limits)>, StoreError> {
        self.read(tenants)
    }

    fn tenant_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.read(|c| tenant_exists(c, id))
    }

    fn tenant_version(&self, id: &str) -> Result<Option<TenantVersion>, StoreError> {
        let row: Option<(u64, String)> = self.read(|c| {
            query_row(
                c,
                "SELECT config_version, limits FROM tenants WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        row.map(|(version, limits)| {
            Ok(TenantVersion {
                version,
                limits: from_json(&limits).map_err(backend)?,
            })
        })
        .transpose()
    }

    fn set_tenant_limits(&self, id: &str, limits: &Limits) -> Result<bool, StoreError> {
        self.write(|tx| set_tenant_limits(tx, id, limits))
            .map_err(backend)
    }

    fn insert_tenant(
        &self,
        id: &str,
        limits: &Limits,
        key_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| insert_tenant(tx, id, limits, key_hash, now))
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    StoreError::Conflict(format!("tenant `{id}` exists"))
                }
                _ => backend(e),
            })
    }

    fn delete_tenant(&self, id: &str) -> Result<bool, StoreError> {
        self.write(|tx| delete_tenant(tx, id)).map_err(backend)
    }

    fn key_owner(&self, hash: &str) -> Result<Option<Option<String>>, StoreError> {
        self.read(|c| key_owner(c, hash))
    }

    fn set_admin_key(&self, hash: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| set_admin_key(tx, hash, now))
            .map_err(backend)
    }

    fn has_admin_key(&self) -> Result<bool, StoreError> {
        self.read(has_admin_key)
    }

    fn add_tenant_key(&self, tenant: &str, hash: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| add_tenant_key(tx, tenant, hash, now))
            .map_err(backend)
    }

    fn tenant_keys(&self, tenant: &str) -> Result<Vec<KeyInfo>, StoreError> {
        self.read(|c| tenant_keys(c, tenant))
    }

    fn revoke_tenant_key(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.write(|tx| revoke_tenant_key(tx, tenant, id))
            .map_err(backend)
    }

    fn rotate_tenant_key(
        &self,
        tenant: &str,
        id: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        self.write(|tx| rotate_tenant_key(tx, tenant, id, new_hash))
            .map_err(backend)
    }

    fn insert_version(&self, tenant: &str, v: &StoredVersion, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            insert_version(tx, tenant, v, now)?;
            bump_config(tx, tenant)
        })
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                StoreError::Conflict(format!("plugin `{}` version {} exists", v.name, v.version))
            }
            _ => backend(e),
        })
    }

    fn versions(&self, tenant: &str) -> Result<Vec<StoredVersion>, StoreError> {
        self.read(|c| versions(c, tenant))
    }

    fn plugin_states(&self, tenant: &str) -> Result<Vec<PluginState>, StoreError> {
        self.read(|c| plugin_states(c, tenant))
    }

    fn set_plugin_state(
        &self,
        tenant: &str,
        name: &str,
        active: Option<u32>,
        history: &[u32],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            set_plugin_state(tx, tenant, name, active, history)?;
            bump_config(tx, tenant)
        })
        .map_err(backend)
    }

    fn delete_plugin(&self, tenant: &str, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            delete_plugin(tx, tenant, name)?;
            bump_config(tx, tenant)
        })
        .map_err(backend)
    }

    fn config_doc_json(&self, tenant: &str, doc: ConfigDoc) -> Result<Option<String>, StoreError> {
        self.read(|c| config_doc_json(c, tenant, doc))
    }

    fn set_config_doc_json(
        &self,
        tenant: &str,
        doc: ConfigDoc,
        json: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            set_config_doc_json(tx, tenant, doc, json)?;
            bump_config(tx, tenant)
        })
        .map_err(backend)
    }

    fn calendar_use(
        &self,
        tenant: &str,
        calendar: &str,
    ) -> Result<Option<CalendarUse>, StoreError> {
        self.read(|c| calendar_use(c, tenant, calendar))
    }

    fn audit(
        &self,
        tenant: &str,
        ticket: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c| audit(c, tenant, ticket, after_seq, limit))
    }

    fn ticket_timers(&self, tenant: &str, ticket: &str) -> Result<Vec<TimerRow>, StoreError> {
        self.read(|c| ticket_timers(c, tenant, ticket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket_input::{NewTicket, new_ticket};
    use docket_contract::types::{Status, Ticket};

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("docket-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn ticket(tenant: &str, id: &str) -> Ticket {
        let n: NewTicket = serde_json::from_value(
            serde_json::json!({ "subject": "s", "requester": { "id": "r" } }),
        )
        .unwrap();
        new_ticket(tenant, id, 0, &n).unwrap()
    }

    /// The open-ticket counts as a scan of every ticket computes them.
    fn scanned_load(conn: &Connection, tenant: &str) -> Vec<(String, u32)> {
        let mut st = conn
            .prepare(
                "SELECT assignee, COUNT(*) FROM tickets WHERE tenant = ?1 AND assignee IS NOT NULL
                 AND resolved = 0 GROUP BY assignee ORDER BY assignee",
            )
            .unwrap();
        st.query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn kept_load(conn: &Connection, tenant: &str) -> Vec<(String, u32)> {
        let mut load = open_load(conn, tenant).unwrap();
        load.sort();
        load
    }

    #[test]
    fn open_ticket_counts_follow_every_change_of_assignee_and_status() {
        let store = SqliteStore::open(&scratch("load")).unwrap();
        let agents = [None, Some("ana"), Some("ben"), Some("cy")];
        let statuses = [
            Status::Open,
            Status::Pending,
            Status::Solved,
            Status::Closed,
        ];
        let mut tickets: Vec<Ticket> = (0..12).map(|i| ticket("t", &format!("T-{i}"))).collect();
        // A deterministic walk through reassignments, solves and reopens.
        let mut x: u64 = 7;
        for step in 0..600 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = &mut tickets[(x >> 33) as usize % 12];
            t.assignee = agents[(x >> 40) as usize % 4].map(str::to_string);
            t.status = statuses[(x >> 50) as usize % 4];
            let version = super::ticket(&store.conn().unwrap(), "t", &t.id)
                .unwrap()
                .map(|(_, v)| v);
            store
                .write(|tx| put_ticket(tx, t, version))
                .unwrap()
                .expect("the version just read");
            if step % 50 == 0 {
                let conn = store.conn().unwrap();
                assert_eq!(
                    kept_load(&conn, "t"),
                    scanned_load(&conn, "t"),
                    "step {step}"
                );
            }
        }
        let conn = store.conn().unwrap();
        assert_eq!(kept_load(&conn, "t"), scanned_load(&conn, "t"));
    }

    #[test]
    fn history_is_read_from_the_requester_index_alone() {
        let dir = scratch("history-plan");
        let store = SqliteStore::open(&dir).unwrap();
        let conn = store.conn().unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {REQUESTER_HISTORY}"))
            .unwrap()
            .query_map(params!["t", "r", "x", 50], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            plan,
            vec![
                "SEARCH tickets USING COVERING INDEX tickets_by_requester (tenant=? AND requester=?)"
                    .to_string()
            ],
            "no table row read, no sort"
        );
    }

    #[test]
    fn a_version_1_database_is_migrated_with_its_data() {
        let dir = scratch("migrate");
        let mut stored = Vec::new();
        {
            let conn = Connection::open(dir.join("docket.db")).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            for (id, assignee, resolved) in [
                ("A", "ana", 0),
                ("B", "ana", 0),
                ("C", "ana", 1),
                ("D", "ben", 0),
            ] {
                let mut t = ticket("t", id);
                t.assignee = Some(assignee.into());
                if id == "C" {
                    t.category = Some("hardware".into());
                    t.status = docket_contract::types::Status::Solved;
                }
                stored.push(t.clone());
                conn.execute(
                    "INSERT INTO tickets (tenant, id, requester, assignee, resolved, created_at, body) VALUES ('t', ?1, 'r', ?2, ?3, 0, ?4)",
                    params![id, assignee, resolved, to_json(&t)],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO sla_clocks (tenant, ticket, metric, clock) VALUES ('t', 'A', 'resolution', ?1)",
                [serde_json::json!({ "calendar": "bh" }).to_string()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&dir).unwrap();
        let conn = store.conn().unwrap();
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        assert_eq!(
            kept_load(&conn, "t"),
            vec![("ana".to_string(), 2), ("ben".to_string(), 1)]
        );
        assert_eq!(
            calendar_use(&conn, "t", "bh").unwrap().map(|u| u.clocks),
            Some(1)
        );
        // The briefs cut from the stored bodies are the ones a write keeps.
        assert_eq!(
            requester_tickets(&conn, "t", "r", "A", 10).unwrap(),
            stored[1..].iter().map(brief).collect::<Vec<_>>()
        );
        drop(conn);
        drop(store);
        // Opening again applies nothing twice.
        SqliteStore::open(&dir).unwrap();
    }
}
