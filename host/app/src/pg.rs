//! The PostgreSQL store, for `docket serve` replicas sharing one database.
//!
//! The database is the only shared state. Every write that belongs to one
//! event commits in one transaction, and an event decided on a ticket that
//! another replica changed meanwhile commits nothing (the ticket's version
//! is checked under a row lock; the lifecycle decides it again). Timers are
//! claimed for a lease with `FOR UPDATE SKIP LOCKED`, so each is fired by
//! one replica, and a replica that dies holding a claim only delays it by
//! the lease. The schema is migrated at start, under an advisory lock, so
//! replicas starting together migrate once.
//!
//! Each pooled connection prepares a statement on its first use and runs
//! the prepared statement after that ([`prepared`]): one round trip per
//! statement, parsed and planned once per connection.

use crate::catalog::{
    AuditEntry, CalendarUse, Catalog, ConfigDoc, KeyInfo, PluginState, StoredVersion,
    TenantVersion, key_id,
};
use crate::sla::SlaClock;
use crate::store::{
    EventCommit, Store, StoreError, StoredEvent, StoredMessage, TimerChange, TimerRow,
};
use crate::ticket_input::brief;
use docket_contract::types::{Status, Ticket, TicketBrief};
use docket_engine::Limits;
use docket_engine::config::AgentConfig;
use docket_engine::outcome::Message;
use postgres::types::{ToSql, Type};
use postgres::{GenericClient, NoTls, Row};
pub(crate) use prepared::Prepared;
use prepared::{Manager, Param};
use serde::{Serialize, de::DeserializeOwned};

pub(crate) mod prepared;

/// How long a claimed timer is left to the replica that claimed it before
/// another may take it (its event commits well within this).
pub const TIMER_LEASE_MS: i64 = 30_000;

/// The schema, one step per version, recorded in `docket_schema`. Steps
/// never change once released; a new one is added instead.
const MIGRATIONS: &[&str] = &[
    SCHEMA_V1,
    SCHEMA_V2,
    crate::webhook::store::SCHEMA,
    crate::recording::sql::SCHEMA,
    SCHEMA_BRIEFS,
];

const SCHEMA_V1: &str = r#"
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    limits TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    config_version BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE api_keys (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT,              -- NULL: the admin key
    created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant);
CREATE TABLE plugin_versions (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, name, version)
);
CREATE TABLE plugins (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    active INTEGER,           -- version number, NULL: none
    history TEXT NOT NULL,    -- JSON list of previously active versions
    PRIMARY KEY (tenant, name)
);
CREATE TABLE config_docs (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,       -- pipeline, calendars, agents
    doc TEXT NOT NULL,        -- JSON
    PRIMARY KEY (tenant, kind)
);
CREATE TABLE tickets (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    requester TEXT NOT NULL,
    assignee TEXT,
    resolved BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,       -- JSON ticket
    PRIMARY KEY (tenant, id)
);
CREATE INDEX tickets_by_requester ON tickets (tenant, requester, created_at, id);
CREATE TABLE agent_load (
    tenant TEXT NOT NULL,
    agent TEXT NOT NULL,
    open BIGINT NOT NULL,
    PRIMARY KEY (tenant, agent)
);
CREATE TABLE events (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,         -- event id (the idempotency key when given)
    ticket TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,    -- JSON outcome, returned again on a retry
    fingerprint TEXT,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant TEXT NOT NULL,
    ticket TEXT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    status TEXT NOT NULL,
    entry TEXT NOT NULL       -- JSON: event, plugin versions, effects, trace, error
);
CREATE INDEX audit_by_tenant ON audit (tenant, seq);
CREATE INDEX audit_by_ticket ON audit (tenant, ticket, seq);
CREATE TABLE timers (
    tenant TEXT NOT NULL,
    ticket TEXT NOT NULL,
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    lease_until BIGINT,       -- claimed by a replica until then
    PRIMARY KEY (tenant, ticket, plugin, key)
);
CREATE INDEX timers_by_due ON timers (due_at);
CREATE TABLE sla_clocks (
    tenant TEXT NOT NULL,
    ticket TEXT NOT NULL,
    metric TEXT NOT NULL,
    calendar TEXT,
    clock TEXT NOT NULL,      -- JSON clock state
    PRIMARY KEY (tenant, ticket, metric)
);
CREATE INDEX sla_clocks_by_calendar ON sla_clocks (tenant, calendar);
"#;

/// Version 2: the outbox, numbered per tenant by a counter each event's
/// commit advances under the tenant row's lock, so numbers follow the
/// commit order across replicas and a feed reader never skips one.
const SCHEMA_V2: &str = r#"
CREATE TABLE outbox (
    tenant TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    ticket TEXT NOT NULL,
    type TEXT NOT NULL,
    event_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE UNIQUE INDEX outbox_by_id ON outbox (tenant, id);
ALTER TABLE tenants ADD COLUMN outbox_seq BIGINT NOT NULL DEFAULT 0;
"#;

/// Version 5: each ticket's brief (what other tickets' plugins see in
/// `history`) kept as a column, so a request reads its requester's last
/// briefs without decoding every one of those tickets' bodies. The index
/// leaves it out: a ticket update then stays a heap-only (HOT) update.
/// The briefs of existing tickets are cut from their bodies, whose fields
/// a brief shares (`ticket_input::brief`).
const SCHEMA_BRIEFS: &str = r#"
ALTER TABLE tickets ADD COLUMN brief TEXT;
UPDATE tickets SET brief = json_build_object(
    'id', body::json -> 'id',
    'category', body::json -> 'category',
    'subject', body::json -> 'subject',
    'status', body::json -> 'status',
    'created_at', body::json -> 'created_at')::text;
ALTER TABLE tickets ALTER COLUMN brief SET NOT NULL;
DROP INDEX tickets_by_requester;
CREATE INDEX tickets_by_requester ON tickets (tenant, requester, created_at DESC, id);
"#;

/// The advisory lock replicas take to migrate one at a time.
const MIGRATION_LOCK: i64 = 0x646f_636b_6574; // "docket"

/// Rust values and the PostgreSQL type they are sent as.
trait PgType: ToSql + Sync {
    const TYPE: Type;
}

macro_rules! pg_type {
    ($($t:ty => $pg:expr),* $(,)?) => {
        $(impl PgType for $t { const TYPE: Type = $pg; })*
    };
}

pg_type! {
    &str => Type::TEXT,
    String => Type::TEXT,
    Option<&str> => Type::TEXT,
    Option<String> => Type::TEXT,
    i64 => Type::INT8,
    Option<i64> => Type::INT8,
    i32 => Type::INT4,
    Option<i32> => Type::INT4,
    bool => Type::BOOL,
    &[u8] => Type::BYTEA,
}

/// A typed parameter.
fn p<T: PgType>(v: &T) -> Param<'_> {
    (v, T::TYPE)
}

/// The PostgreSQL store: a pool of connections to one database.
pub struct PostgresStore {
    pool: r2d2::Pool<Manager>,
}

/// A driver error as a store error, with the server's message (the
/// driver's own display is only "db error").
fn backend(e: postgres::Error) -> StoreError {
    StoreError::Backend(describe(&e))
}

fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {db}"),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("PostgreSQL: {e}: {cause}"),
            None => format!("PostgreSQL: {e}"),
        },
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("a stored document: {e}")))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host/db`, or
    /// the key-value form) with a pool of up to `connections`, and brings
    /// its schema up to date.
    ///
    /// # Errors
    /// The URL does not parse, the database cannot be reached, or its
    /// schema is newer than this build.
    pub fn connect(url: &str, connections: u32) -> anyhow::Result<PostgresStore> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("database URL: {e}"))?;
        let manager = Manager::new(config);
        let pool = r2d2::Pool::builder()
            .max_size(connections)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager)
            .map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))?;
        let store = PostgresStore { pool };
        store.migrate()?;
        Ok(store)
    }

    fn client(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Backend(format!("no database connection: {e}")))
    }

    /// Runs `f` in one transaction; commits if it returns Ok.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut Prepared<'_, postgres::Transaction<'_>>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut connection = self.client()?;
        let mut tx = connection.transaction().map_err(backend)?;
        let r = f(&mut tx.prepared())?;
        tx.commit().map_err(backend)?;
        Ok(r)
    }

    /// Applies the migrations the database has not had, each in its own
    /// transaction with the version bump, under an advisory lock.
    fn migrate(&self) -> anyhow::Result<()> {
        let pg = |e: postgres::Error| anyhow::anyhow!(describe(&e));
        let mut connection = self.pool.get()?;
        let mut transaction = connection.transaction().map_err(pg)?;
        let mut tx = transaction.prepared();
        tx.execute_typed("SELECT pg_advisory_xact_lock($1)", &[p(&MIGRATION_LOCK)])
            .map_err(pg)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS docket_schema (version INTEGER NOT NULL)")
            .map_err(pg)?;
        let current: i32 = match tx
            .query_typed_opt("SELECT version FROM docket_schema", &[])
            .map_err(pg)?
        {
            Some(row) => row.get(0),
            None => {
                tx.execute_typed("INSERT INTO docket_schema (version) VALUES (0)", &[])
                    .map_err(pg)?;
                0
            }
        };
        let known = MIGRATIONS.len() as i32;
        if current > known {
            anyhow::bail!(
                "the database has schema version {current}, newer than this build knows ({known}); \
                 run a newer docket"
            );
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.batch_execute(step).map_err(|e| {
                anyhow::anyhow!(
                    "migrating the database to version {}: {}",
                    i + 1,
                    describe(&e)
                )
            })?;
            let version = i as i32 + 1;
            tx.execute_typed("UPDATE docket_schema SET version = $1", &[p(&version)])
                .map_err(pg)?;
        }
        transaction.commit().map_err(pg)?;
        Ok(())
    }
}

fn timer_row(r: &Row) -> TimerRow {
    TimerRow {
        tenant: r.get(0),
        ticket: r.get(1),
        plugin: r.get(2),
        key: r.get(3),
        due_at: r.get(4),
    }
}

fn kind_name(doc: ConfigDoc) -> &'static str {
    match doc {
        ConfigDoc::Pipeline => "pipeline",
        ConfigDoc::Calendars => "calendars",
        ConfigDoc::Agents => "agents",
    }
}

fn is_unique_violation(e: &postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|d| {
        *d.code() == postgres::error::SqlState::UNIQUE_VIOLATION
            && d.constraint() == Some(constraint)
    })
}

/// Inserts or replaces a ticket if the stored one is at version `expected`
/// (`None`: there is none), under a row lock, keeping the per-agent
/// open-ticket counts in step.
fn put_ticket(
    tx: &mut Prepared<'_, impl GenericClient>,
    t: &Ticket,
    expected: Option<u64>,
) -> Result<(), StoreError> {
    let resolved = matches!(t.status, Status::Solved | Status::Closed);
    let before = tx
        .query_typed_opt(
            "SELECT assignee, resolved, version FROM tickets WHERE tenant = $1 AND id = $2 FOR UPDATE",
            &[p(&t.tenant.as_str()), p(&t.id.as_str())],
        )
        .map_err(backend)?
        .map(|r| (r.get::<_, Option<String>>(0), r.get::<_, bool>(1), r.get::<_, i64>(2) as u64));
    let found = before.as_ref().map(|b| b.2);
    if found != expected {
        return Err(StoreError::Conflict(format!(
            "ticket `{}` is at version {found:?}, the event was decided on {expected:?}",
            t.id
        )));
    }
    let counted_before = before.and_then(|(a, resolved, _)| a.filter(|_| !resolved));
    let counted_now = t.assignee.clone().filter(|_| !resolved);
    if counted_before != counted_now {
        if let Some(agent) = &counted_before {
            tx.execute_typed(
                "UPDATE agent_load SET open = open - 1 WHERE tenant = $1 AND agent = $2",
                &[p(&t.tenant.as_str()), p(&agent.as_str())],
            )
            .map_err(backend)?;
        }
        if let Some(agent) = &counted_now {
            tx.execute_typed(
                "INSERT INTO agent_load (tenant, agent, open) VALUES ($1, $2, 1)
                 ON CONFLICT (tenant, agent) DO UPDATE SET open = agent_load.open + 1",
                &[p(&t.tenant.as_str()), p(&agent.as_str())],
            )
            .map_err(backend)?;
        }
    }
    let body = to_json(t);
    let brief = to_json(&brief(t));
    let assignee = t.assignee.as_deref();
    let result = if expected.is_some() {
        tx.execute_typed(
            "UPDATE tickets SET assignee = $3, resolved = $4, body = $5, brief = $6, version = version + 1
             WHERE tenant = $1 AND id = $2",
            &[
                p(&t.tenant.as_str()),
                p(&t.id.as_str()),
                p(&assignee),
                p(&resolved),
                p(&body.as_str()),
                p(&brief.as_str()),
            ],
        )
    } else {
        tx.execute_typed(
            "INSERT INTO tickets (tenant, id, requester, assignee, resolved, created_at, version, body, brief)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)",
            &[
                p(&t.tenant.as_str()),
                p(&t.id.as_str()),
                p(&t.requester.id.as_str()),
                p(&assignee),
                p(&resolved),
                p(&t.created_at),
                p(&body.as_str()),
                p(&brief.as_str()),
            ],
        )
    };
    match result {
        Ok(_) => Ok(()),
        // Created concurrently by another replica.
        Err(e) if is_unique_violation(&e, "tickets_pkey") => Err(StoreError::Conflict(format!(
            "ticket `{}` was created concurrently",
            t.id
        ))),
        Err(e) => Err(backend(e)),
    }
}

/// Counts a change of a tenant's configuration (see `TenantVersion`).
fn bump_config(tx: &mut Prepared<'_, impl GenericClient>, tenant: &str) -> Result<(), StoreError> {
    tx.execute_typed(
        "UPDATE tenants SET config_version = config_version + 1 WHERE id = $1",
        &[p(&tenant)],
    )
    .map(|_| ())
    .map_err(backend)
}

fn set_timer(tx: &mut Prepared<'_, impl GenericClient>, t: &TimerRow) -> Result<(), StoreError> {
    tx.execute_typed(
        "INSERT INTO timers (tenant, ticket, plugin, key, due_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, ticket, plugin, key) DO UPDATE SET due_at = $5, lease_until = NULL",
        &[
            p(&t.tenant.as_str()),
            p(&t.ticket.as_str()),
            p(&t.plugin.as_str()),
            p(&t.key.as_str()),
            p(&t.due_at),
        ],
    )
    .map(|_| ())
    .map_err(backend)
}

fn cancel_timer(
    tx: &mut Prepared<'_, impl GenericClient>,
    tenant: &str,
    ticket: &str,
    plugin: &str,
    key: &str,
) -> Result<u64, StoreError> {
    tx.execute_typed(
        "DELETE FROM timers WHERE tenant = $1 AND ticket = $2 AND plugin = $3 AND key = $4",
        &[p(&tenant), p(&ticket), p(&plugin), p(&key)],
    )
    .map_err(backend)
}

/// Writes everything one event produced in the caller's transaction.
fn write_event(
    tx: &mut Prepared<'_, impl GenericClient>,
    c: &EventCommit<'_>,
) -> Result<(), StoreError> {
    if let Some(t) = c.fired {
        let deleted = tx
            .execute_typed(
                "DELETE FROM timers WHERE tenant = $1 AND ticket = $2 AND plugin = $3 AND key = $4 AND due_at = $5",
                &[
                    p(&t.tenant.as_str()),
                    p(&t.ticket.as_str()),
                    p(&t.plugin.as_str()),
                    p(&t.key.as_str()),
                    p(&t.due_at),
                ],
            )
            .map_err(backend)?;
        if deleted == 0 {
            return Err(StoreError::Conflict(format!("timer `{}` is gone", t.key)));
        }
    }
    let outcome = c.outcome.to_string();
    tx.execute_typed(
        "INSERT INTO events (tenant, id, ticket, status, outcome, fingerprint) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            p(&c.tenant),
            p(&c.event_id),
            p(&c.ticket),
            p(&c.status),
            p(&outcome.as_str()),
            p(&c.fingerprint),
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e, "events_pkey") {
            StoreError::DuplicateEvent(c.event_id.to_string())
        } else {
            backend(e)
        }
    })?;
    let entry = c.audit.to_string();
    let input = c.recording.map(|r| r.input.as_str());
    tx.execute_typed(
        "INSERT INTO audit (tenant, ticket, event_id, kind, at, status, entry, input) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            p(&c.tenant),
            p(&c.ticket),
            p(&c.event_id),
            p(&c.kind),
            p(&c.at),
            p(&c.status),
            p(&entry.as_str()),
            p(&input),
        ],
    )
    .map_err(backend)?;
    if let Some(r) = c.recording {
        crate::recording::sql::put_blobs(&mut crate::sql::PgSql(tx), c.tenant, &r.blobs)?;
    }
    let Some(applied) = c.applied else {
        return Ok(());
    };
    put_ticket(tx, applied.ticket, c.ticket_version)?;
    for change in applied.timers {
        match change {
            TimerChange::Set(t) => set_timer(tx, t)?,
            TimerChange::Cancel { owner, key } => {
                cancel_timer(tx, c.tenant, c.ticket, owner, key)?;
            }
        }
    }
    tx.execute_typed(
        "DELETE FROM sla_clocks WHERE tenant = $1 AND ticket = $2",
        &[p(&c.tenant), p(&c.ticket)],
    )
    .map_err(backend)?;
    for clock in applied.clocks {
        let json = to_json(clock);
        tx.execute_typed(
            "INSERT INTO sla_clocks (tenant, ticket, metric, calendar, clock) VALUES ($1, $2, $3, $4, $5)",
            &[
                p(&c.tenant),
                p(&c.ticket),
                p(&clock.metric.as_str()),
                p(&clock.calendar.as_str()),
                p(&json.as_str()),
            ],
        )
        .map_err(backend)?;
    }
    // Last: the tenant row stays locked from here to the commit.
    append_messages(tx, c.tenant, c.messages)
}

/// Appends messages to the tenant's outbox, numbered after the last.
fn append_messages(
    tx: &mut Prepared<'_, impl GenericClient>,
    tenant: &str,
    messages: &[Message],
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let count = messages.len() as i64;
    let last: i64 = tx
        .query_typed_one(
            "UPDATE tenants SET outbox_seq = outbox_seq + $2 WHERE id = $1 RETURNING outbox_seq",
            &[p(&tenant), p(&count)],
        )
        .map_err(backend)?
        .get(0);
    for (m, seq) in messages.iter().zip(last - count + 1..) {
        let data = to_json(&m.data);
        tx.execute_typed(
            "INSERT INTO outbox (tenant, seq, id, ticket, type, event_id, at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                p(&tenant),
                p(&seq),
                p(&m.id.as_str()),
                p(&m.ticket.as_str()),
                p(&m.kind.as_str()),
                p(&m.event_id.as_str()),
                p(&m.at),
                p(&data.as_str()),
            ],
        )
        .map_err(backend)?;
    }
    Ok(())
}

impl Store for PostgresStore {
    fn versioned_ticket(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(Ticket, u64)>, StoreError> {
        let row = self
            .client()?
            .prepared()
            .query_typed_opt(
                "SELECT body, version FROM tickets WHERE tenant = $1 AND id = $2",
                &[p(&tenant), p(&id)],
            )
            .map_err(backend)?;
        row.map(|r| Ok((from_json(r.get(0))?, r.get::<_, i64>(1) as u64)))
            .transpose()
    }

    fn requester_tickets(
        &self,
        tenant: &str,
        requester: &str,
        except: &str,
        limit: usize,
    ) -> Result<Vec<TicketBrief>, StoreError> {
        let limit = limit as i64;
        self.client()?
            .prepared()
            .query_typed(
                "SELECT brief FROM tickets WHERE tenant = $1 AND requester = $2 AND id <> $3
                 ORDER BY created_at DESC, id LIMIT $4",
                &[p(&tenant), p(&requester), p(&except), p(&limit)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| from_json(r.get(0)))
            .collect()
    }

    fn agents(&self, tenant: &str) -> Result<Vec<AgentConfig>, StoreError> {
        crate::catalog::config_doc(self, tenant, ConfigDoc::Agents)
    }

    fn open_load(&self, tenant: &str) -> Result<Vec<(String, u32)>, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed(
                "SELECT agent, open FROM agent_load WHERE tenant = $1 AND open > 0",
                &[p(&tenant)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get::<_, i64>(1).clamp(0, u32::MAX.into()) as u32,
                )
            })
            .collect())
    }

    fn sla_clocks(&self, tenant: &str, ticket: &str) -> Result<Vec<SlaClock>, StoreError> {
        self.client()?
            .prepared()
            .query_typed(
                "SELECT clock FROM sla_clocks WHERE tenant = $1 AND ticket = $2 ORDER BY metric",
                &[p(&tenant), p(&ticket)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| from_json(r.get(0)))
            .collect()
    }

    fn stored_event(&self, tenant: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let row = self
            .client()?
            .prepared()
            .query_typed_opt(
                "SELECT status, outcome, fingerprint FROM events WHERE tenant = $1 AND id = $2",
                &[p(&tenant), p(&id)],
            )
            .map_err(backend)?;
        row.map(|r| {
            Ok(StoredEvent {
                status: r.get(0),
                outcome: from_json(r.get(1))?,
                fingerprint: r.get(2),
            })
        })
        .transpose()
    }

    fn timer_due(&self, t: &TimerRow) -> Result<Option<i64>, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed_opt(
                "SELECT due_at FROM timers WHERE tenant = $1 AND ticket = $2 AND plugin = $3 AND key = $4",
                &[
                    p(&t.tenant.as_str()),
                    p(&t.ticket.as_str()),
                    p(&t.plugin.as_str()),
                    p(&t.key.as_str()),
                ],
            )
            .map_err(backend)?
            .map(|r| r.get(0)))
    }

    /// Claims the due timers no other replica holds, for
    /// [`TIMER_LEASE_MS`] from `until` (the caller's now).
    fn due_timers(&self, until: i64, limit: usize) -> Result<Vec<TimerRow>, StoreError> {
        let limit = limit as i64;
        let lease = until + TIMER_LEASE_MS;
        let mut rows: Vec<TimerRow> = self
            .client()?
            .prepared()
            .query_typed(
                "UPDATE timers SET lease_until = $3
                 WHERE (tenant, ticket, plugin, key) IN (
                     SELECT tenant, ticket, plugin, key FROM timers
                     WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                     ORDER BY due_at LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 RETURNING tenant, ticket, plugin, key, due_at",
                &[p(&until), p(&limit), p(&lease)],
            )
            .map_err(backend)?
            .iter()
            .map(timer_row)
            .collect();
        rows.sort_by(|a, b| {
            (a.due_at, &a.tenant, &a.ticket, &a.plugin, &a.key)
                .cmp(&(b.due_at, &b.tenant, &b.ticket, &b.plugin, &b.key))
        });
        Ok(rows)
    }

    fn cancel_timer(&self, t: &TimerRow) -> Result<(), StoreError> {
        cancel_timer(
            &mut self.client()?.prepared(),
            &t.tenant,
            &t.ticket,
            &t.plugin,
            &t.key,
        )
        .map(|_| ())
    }

    fn postpone_timer(&self, t: &TimerRow, due_at: i64) -> Result<bool, StoreError> {
        self.client()?
            .prepared()
            .execute_typed(
                "UPDATE timers SET due_at = $6, lease_until = NULL
                 WHERE tenant = $1 AND ticket = $2 AND plugin = $3 AND key = $4 AND due_at = $5",
                &[
                    p(&t.tenant.as_str()),
                    p(&t.ticket.as_str()),
                    p(&t.plugin.as_str()),
                    p(&t.key.as_str()),
                    p(&t.due_at),
                    p(&due_at),
                ],
            )
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn commit_event(&self, c: &EventCommit<'_>) -> Result<(), StoreError> {
        self.write(|tx| write_event(tx, c))
    }

    fn messages_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let (after, limit) = (after as i64, limit as i64);
        self.client()?
            .prepared()
            .query_typed(
                "SELECT seq, id, ticket, type, event_id, at, data FROM outbox
                 WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[p(&tenant), p(&after), p(&limit)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(StoredMessage {
                    seq: r.get::<_, i64>(0) as u64,
                    message: Message {
                        id: r.get(1),
                        ticket: r.get(2),
                        kind: r.get(3),
                        event_id: r.get(4),
                        at: r.get(5),
                        data: from_json(r.get(6))?,
                    },
                })
            })
            .collect()
    }

    crate::recording::sql::store_methods!();
}

impl crate::sql::SqlStore for PostgresStore {
    fn sql_write(
        &self,
        durability: crate::sql::Durability,
        f: &mut dyn FnMut(&mut dyn crate::sql::Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            if durability == crate::sql::Durability::Deferred {
                // This transaction's commit returns before its WAL record
                // is flushed; the next synchronous commit flushes it.
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .map_err(backend)?;
            }
            f(&mut crate::sql::PgSql(tx))
        })
    }

    fn sql_read(
        &self,
        f: &mut dyn FnMut(&mut dyn crate::sql::Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut connection = self.client()?;
        f(&mut crate::sql::PgSql(&mut connection.prepared()))
    }
}

impl Catalog for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.client()?
            .prepared()
            .batch_execute("SELECT 1")
            .map_err(backend)
    }
    fn tenants(&self) -> Result<Vec<(String, Limits)>, StoreError> {
        self.client()?
            .prepared()
            .query_typed("SELECT id, limits FROM tenants ORDER BY id", &[])
            .map_err(backend)?
            .iter()
            .map(|r| Ok((r.get(0), from_json(r.get(1))?)))
            .collect()
    }

    fn tenant_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed_opt("SELECT 1 FROM tenants WHERE id = $1", &[p(&id)])
            .map_err(backend)?
            .is_some())
    }

    fn tenant_version(&self, id: &str) -> Result<Option<TenantVersion>, StoreError> {
        let row = self
            .client()?
            .prepared()
            .query_typed_opt(
                "SELECT config_version, limits FROM tenants WHERE id = $1",
                &[p(&id)],
            )
            .map_err(backend)?;
        row.map(|r| {
            Ok(TenantVersion {
                version: r.get::<_, i64>(0) as u64,
                limits: from_json(r.get(1))?,
            })
        })
        .transpose()
    }

    fn set_tenant_limits(&self, id: &str, limits: &Limits) -> Result<bool, StoreError> {
        let limits = to_json(limits);
        self.write(|tx| {
            tx.execute_typed(
                "UPDATE tenants SET limits = $2, config_version = config_version + 1 WHERE id = $1",
                &[p(&id), p(&limits.as_str())],
            )
            .map(|changed| changed == 1)
            .map_err(backend)
        })
    }

    fn insert_tenant(
        &self,
        id: &str,
        limits: &Limits,
        key_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let limits = to_json(limits);
        let key = key_id(key_hash);
        self.write(|tx| {
            tx.execute_typed(
                "INSERT INTO tenants (id, limits, created_at) VALUES ($1, $2, $3)",
                &[p(&id), p(&limits.as_str()), p(&now)],
            )
            .map_err(|e| {
                if is_unique_violation(&e, "tenants_pkey") {
                    StoreError::Conflict(format!("tenant `{id}` exists"))
                } else {
                    backend(e)
                }
            })?;
            tx.execute_typed(
                "INSERT INTO api_keys (hash, id, tenant, created_at) VALUES ($1, $2, $3, $4)",
                &[p(&key_hash), p(&key.as_str()), p(&Some(id)), p(&now)],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn delete_tenant(&self, id: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            for table in [
                "api_keys",
                "plugin_versions",
                "plugins",
                "config_docs",
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
                tx.execute_typed(&format!("DELETE FROM {table} WHERE tenant = $1"), &[p(&id)])
                    .map_err(backend)?;
            }
            tx.execute_typed("DELETE FROM tenants WHERE id = $1", &[p(&id)])
                .map(|n| n > 0)
                .map_err(backend)
        })
    }

    fn key_owner(&self, hash: &str) -> Result<Option<Option<String>>, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed_opt("SELECT tenant FROM api_keys WHERE hash = $1", &[p(&hash)])
            .map_err(backend)?
            .map(|r| r.get(0)))
    }

    fn set_admin_key(&self, hash: &str, now: i64) -> Result<(), StoreError> {
        let key = key_id(hash);
        self.write(|tx| {
            tx.execute_typed("DELETE FROM api_keys WHERE tenant IS NULL", &[])
                .map_err(backend)?;
            tx.execute_typed(
                "INSERT INTO api_keys (hash, id, tenant, created_at) VALUES ($1, $2, NULL, $3)",
                &[p(&hash), p(&key.as_str()), p(&now)],
            )
            .map(|_| ())
            .map_err(backend)
        })
    }

    fn has_admin_key(&self) -> Result<bool, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed_opt("SELECT 1 FROM api_keys WHERE tenant IS NULL", &[])
            .map_err(backend)?
            .is_some())
    }

    fn add_tenant_key(&self, tenant: &str, hash: &str, now: i64) -> Result<(), StoreError> {
        let key = key_id(hash);
        self.client()?
            .prepared()
            .execute_typed(
                "INSERT INTO api_keys (hash, id, tenant, created_at) VALUES ($1, $2, $3, $4)",
                &[p(&hash), p(&key.as_str()), p(&Some(tenant)), p(&now)],
            )
            .map(|_| ())
            .map_err(backend)
    }

    fn tenant_keys(&self, tenant: &str) -> Result<Vec<KeyInfo>, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed(
                "SELECT id, created_at FROM api_keys WHERE tenant = $1 ORDER BY created_at, id",
                &[p(&tenant)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| KeyInfo {
                id: r.get(0),
                created_at: r.get(1),
            })
            .collect())
    }

    fn revoke_tenant_key(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.client()?
            .prepared()
            .execute_typed(
                "DELETE FROM api_keys WHERE tenant = $1 AND id = $2",
                &[p(&tenant), p(&id)],
            )
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn rotate_tenant_key(
        &self,
        tenant: &str,
        id: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        self.client()?
            .prepared()
            .execute_typed(
                "UPDATE api_keys SET hash = $3 WHERE tenant = $1 AND id = $2",
                &[p(&tenant), p(&id), p(&new_hash)],
            )
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn insert_version(&self, tenant: &str, v: &StoredVersion, now: i64) -> Result<(), StoreError> {
        let version = v.version as i32;
        self.write(|tx| {
            tx.execute_typed(
                "INSERT INTO plugin_versions (tenant, name, version, hash, bytes, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    p(&tenant),
                    p(&v.name.as_str()),
                    p(&version),
                    p(&v.hash.as_str()),
                    p(&v.bytes.as_slice()),
                    p(&now),
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e, "plugin_versions_pkey") {
                    StoreError::Conflict(format!("plugin `{}` version {version} exists", v.name))
                } else {
                    backend(e)
                }
            })?;
            tx.execute_typed(
                "INSERT INTO plugins (tenant, name, active, history) VALUES ($1, $2, NULL, '[]')
                 ON CONFLICT (tenant, name) DO NOTHING",
                &[p(&tenant), p(&v.name.as_str())],
            )
            .map_err(backend)?;
            bump_config(tx, tenant)
        })
    }

    fn versions(&self, tenant: &str) -> Result<Vec<StoredVersion>, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed(
                "SELECT name, version, hash, bytes FROM plugin_versions WHERE tenant = $1
                 ORDER BY name, version",
                &[p(&tenant)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| StoredVersion {
                name: r.get(0),
                version: r.get::<_, i32>(1) as u32,
                hash: r.get(2),
                bytes: r.get(3),
            })
            .collect())
    }

    fn plugin_states(&self, tenant: &str) -> Result<Vec<PluginState>, StoreError> {
        self.client()?
            .prepared()
            .query_typed(
                "SELECT name, active, history FROM plugins WHERE tenant = $1 ORDER BY name",
                &[p(&tenant)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok((
                    r.get(0),
                    r.get::<_, Option<i32>>(1).map(|v| v as u32),
                    from_json(r.get(2))?,
                ))
            })
            .collect()
    }

    fn set_plugin_state(
        &self,
        tenant: &str,
        name: &str,
        active: Option<u32>,
        history: &[u32],
    ) -> Result<(), StoreError> {
        let active = active.map(|v| v as i32);
        let history = to_json(&history);
        self.write(|tx| {
            tx.execute_typed(
                "UPDATE plugins SET active = $3, history = $4 WHERE tenant = $1 AND name = $2",
                &[p(&tenant), p(&name), p(&active), p(&history.as_str())],
            )
            .map_err(backend)?;
            bump_config(tx, tenant)
        })
    }

    fn delete_plugin(&self, tenant: &str, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            for table in ["plugin_versions", "plugins"] {
                tx.execute_typed(
                    &format!("DELETE FROM {table} WHERE tenant = $1 AND name = $2"),
                    &[p(&tenant), p(&name)],
                )
                .map_err(backend)?;
            }
            bump_config(tx, tenant)
        })
    }

    fn config_doc_json(&self, tenant: &str, doc: ConfigDoc) -> Result<Option<String>, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed_opt(
                "SELECT doc FROM config_docs WHERE tenant = $1 AND kind = $2",
                &[p(&tenant), p(&kind_name(doc))],
            )
            .map_err(backend)?
            .map(|r| r.get(0)))
    }

    fn set_config_doc_json(
        &self,
        tenant: &str,
        doc: ConfigDoc,
        json: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute_typed(
                "INSERT INTO config_docs (tenant, kind, doc) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant, kind) DO UPDATE SET doc = $3",
                &[p(&tenant), p(&kind_name(doc)), p(&json)],
            )
            .map_err(backend)?;
            bump_config(tx, tenant)
        })
    }

    fn calendar_use(
        &self,
        tenant: &str,
        calendar: &str,
    ) -> Result<Option<CalendarUse>, StoreError> {
        let row = self
            .client()?
            .prepared()
            .query_typed_one(
                "SELECT COUNT(*), COUNT(DISTINCT ticket), MIN(ticket) FROM sla_clocks
                 WHERE tenant = $1 AND calendar = $2",
                &[p(&tenant), p(&calendar)],
            )
            .map_err(backend)?;
        Ok(row
            .get::<_, Option<String>>(2)
            .map(|example_ticket| CalendarUse {
                clocks: row.get::<_, i64>(0) as u64,
                tickets: row.get::<_, i64>(1) as u64,
                example_ticket,
            }))
    }

    fn audit(
        &self,
        tenant: &str,
        ticket: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        const COLUMNS: &str = "SELECT seq, ticket, event_id, kind, at, status, entry FROM audit";
        let limit = limit as i64;
        let mut connection = self.client()?;
        let mut client = connection.prepared();
        // Two statements, so each uses its index.
        let rows = match ticket {
            None => client.query_typed(
                &format!("{COLUMNS} WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3"),
                &[p(&tenant), p(&after_seq), p(&limit)],
            ),
            Some(t) => client.query_typed(
                &format!(
                    "{COLUMNS} WHERE tenant = $1 AND ticket = $4 AND seq > $2 ORDER BY seq LIMIT $3"
                ),
                &[p(&tenant), p(&after_seq), p(&limit), p(&t)],
            ),
        }
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.get(0),
                    ticket: r.get(1),
                    event_id: r.get(2),
                    kind: r.get(3),
                    at: docket_contract::wire::instant::text(r.get::<_, i64>(4)),
                    status: r.get(5),
                    entry: from_json(r.get(6))?,
                })
            })
            .collect()
    }

    fn ticket_timers(&self, tenant: &str, ticket: &str) -> Result<Vec<TimerRow>, StoreError> {
        Ok(self
            .client()?
            .prepared()
            .query_typed(
                "SELECT tenant, ticket, plugin, key, due_at FROM timers
                 WHERE tenant = $1 AND ticket = $2 ORDER BY due_at",
                &[p(&tenant), p(&ticket)],
            )
            .map_err(backend)?
            .iter()
            .map(timer_row)
            .collect())
    }
}

/// A database on the test server named by `DOCKET_TEST_DATABASE_URL`, for
/// tests that run against PostgreSQL: emptied first if `fresh`, else kept
/// (created if missing), so a restarted server finds its data. `None` (the
/// test skips its PostgreSQL part, saying so) when the variable is unset,
/// unless `DOCKET_REQUIRE_POSTGRES` is set (as CI does): then that fails.
#[doc(hidden)]
pub fn test_database(name: &str, fresh: bool) -> Option<String> {
    let Ok(url) = std::env::var("DOCKET_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("DOCKET_REQUIRE_POSTGRES").is_none(),
            "DOCKET_REQUIRE_POSTGRES is set but DOCKET_TEST_DATABASE_URL is not"
        );
        eprintln!("{name}: DOCKET_TEST_DATABASE_URL is unset; skipping PostgreSQL");
        return None;
    };
    let db: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let db = format!("docket_{db}");
    let mut admin = postgres::Client::connect(&url, NoTls)
        .unwrap_or_else(|e| panic!("the test database server at {url}: {}", describe(&e)));
    let exists = admin
        .query_typed_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[p(&db.as_str())],
        )
        .unwrap_or_else(|e| panic!("{}", describe(&e)))
        .is_some();
    let mut statements = Vec::new();
    if exists && fresh {
        statements.push(format!("DROP DATABASE {db} WITH (FORCE)"));
    }
    if !exists || fresh {
        statements.push(format!("CREATE DATABASE {db}"));
    }
    for sql in statements {
        admin
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
    }
    let (scheme_and_authority, _) = url
        .rsplit_once('/')
        .filter(|(before, _)| before.contains("://") && !before.ends_with('/'))
        .unwrap_or((url.as_str(), ""));
    Some(format!("{scheme_and_authority}/{db}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::ticket_input::{NewTicket, new_ticket};

    #[test]
    fn a_version_4_database_gets_its_tickets_briefs() {
        let Some(url) = test_database("briefs_migration", true) else {
            eprintln!("DOCKET_TEST_DATABASE_URL is unset: skipped");
            return;
        };
        let mut stored = Vec::new();
        {
            let mut client = postgres::Client::connect(&url, NoTls).unwrap();
            for step in &MIGRATIONS[..4] {
                client.batch_execute(step).unwrap();
            }
            client
                .batch_execute(
                    "CREATE TABLE docket_schema (version INTEGER NOT NULL);
                     INSERT INTO docket_schema (version) VALUES (4);",
                )
                .unwrap();
            for (id, created_at) in [("A", 1), ("B", 3), ("C", 2)] {
                let n: NewTicket = serde_json::from_value(serde_json::json!({
                    "subject": format!("subject {id}"), "requester": { "id": "r" },
                    "category": (id == "B").then_some("hardware"),
                }))
                .unwrap();
                let t = new_ticket("t", id, created_at, &n).unwrap();
                client
                    .execute(
                        "INSERT INTO tickets (tenant, id, requester, resolved, created_at, version, body)
                         VALUES ('t', $1, 'r', false, $2, 1, $3)",
                        &[&id, &created_at, &to_json(&t)],
                    )
                    .unwrap();
                stored.push(t);
            }
        }
        let store = PostgresStore::connect(&url, 2).unwrap();
        // Newest first, the briefs cut from the bodies equal to what a
        // write keeps.
        assert_eq!(
            store.requester_tickets("t", "r", "A", 10).unwrap(),
            [&stored[1], &stored[2]].map(brief).to_vec()
        );
    }
}
