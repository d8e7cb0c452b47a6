//! The service's core, what `docket serve` answers with: tenants, their API
//! keys, plugins and configuration persisted in the SQLite store and loaded
//! into the engine, and ticket events and timers through the one event
//! lifecycle. No HTTP here: errors are [`AppError`]s with machine-readable
//! codes, which the server maps to statuses.

use crate::backtest::{BacktestReport, Budget, Progress};
use crate::catalog::{
    AuditEntry, ConfigDoc, KeyInfo, ServiceStore, StoredVersion, config_doc, key_id, set_config_doc,
};
use crate::error::AppError;
use crate::lifecycle::{EventResult, Lifecycle, Recorded, TicketEvent};
use crate::metrics::Metrics;
use crate::simulate::{Candidate, CandidateSource, Simulation};
use crate::sla::SlaClock;
use crate::sqlite::SqliteStore;
use crate::store::{Store, StoreError, StoredMessage, TimerRow};
use crate::ticket_input::Action;
use docket_contract::EventKindName;
use docket_engine::config::{AgentConfig, settings_of};
use docket_engine::config::{BusinessCalendar, CalendarConfig};
use docket_engine::{Docket, FailurePolicy, PipelineStep, VersionInfo};
use docket_engine::{EngineConfig, Limits, PluginSource};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// How often an install takes the next version number when processes
/// sharing the store take it first.
const MAX_INSTALL_ATTEMPTS: usize = 4;

/// The most tickets an agent may be declared to have open elsewhere.
pub const MAX_OPEN_TICKETS: u32 = 1_000_000;

/// A pipeline step as the API takes and stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PipelineStepDoc {
    /// Plugin name.
    pub plugin: String,
    /// Settings: a JSON object of typed values (see the tenant TOML format).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// `skip` or `fail-event`.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Event kinds the step runs for; empty: every event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventKindName>,
}

impl PipelineStepDoc {
    fn to_step(&self) -> Result<PipelineStep, AppError> {
        let table: toml::Table = toml::Table::try_from(&self.settings).map_err(|e| {
            AppError::unprocessable("invalid_settings", format!("plugin `{}`: {e}", self.plugin))
        })?;
        let settings = settings_of(&table).map_err(|e| {
            AppError::unprocessable("invalid_settings", format!("plugin `{}`: {e}", self.plugin))
        })?;
        Ok(PipelineStep {
            plugin: self.plugin.clone(),
            settings,
            on_failure: self.on_failure,
            events: self.events.clone(),
        })
    }
}

/// An `Idempotency-Key` with the fingerprint of the request that carried it.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The key, 1-128 visible ASCII characters.
    pub key: String,
    /// SHA-256 (hex) of the method, path and body: a key reused for a
    /// different request is refused, not answered with another's outcome.
    pub fingerprint: String,
}

impl Idempotency {
    /// The key with the fingerprint of `method path` and the body. A JSON
    /// body is hashed in its canonical form (keys sorted, no white space),
    /// so a retry that re-serializes the same document still matches.
    pub fn new(key: &str, method: &str, path: &str, body: &[u8]) -> Result<Self, AppError> {
        if key.is_empty() || key.len() > 128 {
            return Err(AppError::BadRequest(
                "Idempotency-Key must be 1-128 characters".into(),
            ));
        }
        let canonical = serde_json::from_slice::<serde_json::Value>(body)
            .map(|v| v.to_string().into_bytes())
            .unwrap_or_else(|_| body.to_vec());
        let mut h = Sha256::new();
        h.update(method.as_bytes());
        h.update(b" ");
        h.update(path.as_bytes());
        h.update(b"\n");
        h.update(&canonical);
        Ok(Idempotency {
            key: key.to_string(),
            fingerprint: hex(&h.finalize()),
        })
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new API key, shown once.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewKey {
    /// The secret: send it as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// Its public id, for listing, revoking and rotating.
    pub id: String,
}

/// A tenant's configuration.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantDoc {
    /// Tenant id.
    pub id: String,
    /// Limits of each plugin call.
    pub limits: Limits,
    /// Installed plugin names.
    pub plugins: Vec<String>,
    /// The pipeline.
    pub pipeline: Vec<PipelineStepDoc>,
    /// Business calendars.
    pub calendars: Vec<CalendarConfig>,
    /// Agents.
    pub agents: Vec<AgentConfig>,
}

/// A ticket with its timers, SLA clocks and decision history.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketView {
    /// The ticket.
    #[serde(with = "docket_contract::wire::TicketDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::TicketDef))]
    pub ticket: docket_contract::types::Ticket,
    /// Pending timers (plugins' and the `@sla` milestones).
    pub timers: Vec<TimerRow>,
    /// SLA clocks.
    pub sla: Vec<SlaClock>,
    /// Every event dispatched on the ticket.
    pub history: Vec<AuditEntry>,
}

/// How long a timer whose event could not be stored waits before it is
/// tried again: it stays durable, but never spins a timer loop.
pub const TIMER_RETRY_DELAY_MS: i64 = 60_000;

/// How an event request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAnswer {
    /// A new ticket, applied (HTTP 201).
    Created,
    /// Applied (200).
    Applied,
    /// A template rejected it (422).
    Rejected,
    /// A plugin failed with `fail-event` (424).
    Failed,
}

impl EventAnswer {
    fn of(status: &str, action: &Action) -> EventAnswer {
        match (status, action) {
            ("applied", Action::Created(_)) => EventAnswer::Created,
            ("applied", _) => EventAnswer::Applied,
            ("rejected", _) => EventAnswer::Rejected,
            _ => EventAnswer::Failed,
        }
    }
}

/// What an event request returns.
#[derive(Debug, Clone)]
pub struct EventResponse {
    /// How it ended.
    pub answer: EventAnswer,
    /// The outcome (stored, so a retry gets the same answer).
    pub body: serde_json::Value,
}

/// The event lifecycle over a durable store, with the tenants' keys,
/// plugins and configuration around it.
pub struct Service {
    events: Lifecycle<Arc<dyn ServiceStore>>,
    /// The instant events happen at and timers come due by.
    clock: Clock,
    /// Counters.
    pub metrics: Metrics,
    /// Serializes changes to tenants and their plugins (rare), so version
    /// numbers and activation state are written in the order they happen.
    admin_lock: Mutex<()>,
    /// The configuration version each tenant was loaded at.
    loaded: Mutex<HashMap<String, u64>>,
    /// Serializes reloads (rare): one builds while the others wait.
    reloading: Mutex<()>,
    /// Events this process recorded with messages: a feed reader waiting
    /// on this process wakes when it moves (others' commits it polls for).
    outbox_writes: std::sync::atomic::AtomicU64,
    /// Called after each such event (see [`Service::on_outbox_write`]).
    outbox_listeners: Mutex<Vec<OutboxListener>>,
    /// How webhooks are checked and delivered.
    pub(crate) webhook_settings: crate::webhook::WebhookSettings,
}

/// Told that this process committed messages to an outbox.
pub type OutboxListener = Box<dyn Fn() + Send + Sync>;

/// Where a service's `now` comes from: the system clock, or (for tests
/// that replay recorded time) a function the caller controls.
pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

/// The hex SHA-256 of an API key, as stored.
pub fn key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// Who an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The admin key: tenant management and every tenant.
    Admin,
    /// A tenant's key: that tenant only.
    Tenant(String),
}

/// A new random API key.
pub fn new_key(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random source");
    format!("{prefix}_{}", hex(&bytes))
}

/// A key just made, as answered once: the secret and its public id.
fn shown_once(key: String) -> NewKey {
    let id = key_id(&key_hash(&key));
    NewKey { api_key: key, id }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Checks a page request over outbox positions: `after` within the
/// stores' integer range, `limit` 1 to 1,000.
pub(crate) fn check_page(after: u64, limit: u32) -> Result<(), AppError> {
    if after > i64::MAX as u64 {
        return Err(AppError::BadRequest(format!(
            "after: {after} is out of range (0 to {})",
            i64::MAX
        )));
    }
    if !(1..=1000).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit: {limit} is out of range (1 to 1000)"
        )));
    }
    Ok(())
}

/// A valid tenant or plugin identifier: 1-64 of `[a-z0-9_-]`.
pub fn check_id(what: &str, id: &str) -> Result<(), AppError> {
    if docket_engine::config::is_name(id) {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "{what} `{id}` must be 1-64 characters of a-z, 0-9, '-' and '_'"
        )))
    }
}

/// Where a service keeps its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// SQLite: `docket.db` in the data directory (the default; one process).
    Sqlite,
    /// PostgreSQL, shared by any number of service processes (replicas).
    Postgres {
        /// `postgres://user[:password]@host[:port]/database`. Connections
        /// are plain TCP (or a Unix socket): no TLS yet, so keep the
        /// database on a private network.
        url: String,
        /// The most connections this process opens.
        connections: u32,
    },
}

impl Database {
    /// The database a `--database` value names: a `postgres://` (or
    /// `postgresql://`) URL, or `sqlite` for the data directory's file.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(value: &str, connections: u32) -> Result<Database, String> {
        if value == "sqlite" {
            Ok(Database::Sqlite)
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Ok(Database::Postgres {
                url: value.to_string(),
                connections,
            })
        } else {
            Err(format!(
                "database `{}`: expected `sqlite` or a postgres:// URL",
                redacted(value)
            ))
        }
    }

    /// How it is shown in logs: without a password.
    pub fn display(&self, data_dir: &std::path::Path) -> String {
        match self {
            Database::Sqlite => format!("SQLite in {}", data_dir.display()),
            Database::Postgres { url, .. } => format!("PostgreSQL at {}", redacted(url)),
        }
    }
}

/// A URL with any password replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

impl Service {
    /// Opens the SQLite store in `data_dir` and loads every tenant into a
    /// new engine.
    ///
    /// # Errors
    /// As [`open_database`](Self::open_database).
    pub fn open(data_dir: PathBuf, engine: EngineConfig) -> anyhow::Result<Service> {
        Service::open_database(&Database::Sqlite, data_dir, engine, Box::new(now_ms))
    }

    /// [`open`](Self::open), with events and timers on `clock`.
    ///
    /// # Errors
    /// As [`open_database`](Self::open_database).
    pub fn open_with_clock(
        data_dir: PathBuf,
        engine: EngineConfig,
        clock: Clock,
    ) -> anyhow::Result<Service> {
        Service::open_database(&Database::Sqlite, data_dir, engine, clock)
    }

    /// Opens `database` (migrating its schema) and loads every tenant into
    /// a new engine; compiled artifacts are cached in `data_dir` (each
    /// process keeps its own), unless the engine config names a cache.
    ///
    /// # Errors
    /// The database cannot be opened or migrated, or a stored tenant
    /// cannot be loaded.
    pub fn open_database(
        database: &Database,
        data_dir: PathBuf,
        mut engine: EngineConfig,
        clock: Clock,
    ) -> anyhow::Result<Service> {
        let store: Arc<dyn ServiceStore> = match database {
            Database::Sqlite => Arc::new(SqliteStore::open(&data_dir)?),
            Database::Postgres { url, connections } => {
                Arc::new(crate::PostgresStore::connect(url, *connections)?)
            }
        };
        engine
            .cache_dir
            .get_or_insert_with(|| data_dir.join("artifacts"));
        Service::with_store(store, engine, clock)
    }

    /// A service over `store`, every tenant in it loaded into a new engine
    /// made with `engine`; events and timers on `clock`.
    ///
    /// # Errors
    /// The engine cannot be made, or a stored tenant cannot be loaded.
    pub fn with_store(
        store: Arc<dyn ServiceStore>,
        engine: EngineConfig,
        clock: Clock,
    ) -> anyhow::Result<Service> {
        let service = Service {
            events: Lifecycle::new(Docket::new(engine)?, store),
            clock,
            metrics: Metrics::default(),
            admin_lock: Mutex::new(()),
            loaded: Mutex::new(HashMap::new()),
            reloading: Mutex::new(()),
            outbox_writes: std::sync::atomic::AtomicU64::new(0),
            outbox_listeners: Mutex::new(Vec::new()),
            webhook_settings: crate::webhook::WebhookSettings::default(),
        };
        service.load_all()?;
        Ok(service)
    }

    /// The engine.
    pub fn docket(&self) -> &Docket {
        self.events.docket()
    }

    /// The store.
    pub fn store(&self) -> &dyn ServiceStore {
        self.events.store().as_ref()
    }

    /// The service's current instant (ms since the epoch).
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    fn load_all(&self) -> anyhow::Result<()> {
        let tenants = self.store().tenants()?;
        for (id, _) in tenants {
            self.refresh(&id)
                .map_err(|e| anyhow::anyhow!("loading tenant `{id}`: {e}"))?;
        }
        Ok(())
    }

    /// The tenant as the engine runs it, first brought up to date with the
    /// store: loaded if another process created it, reloaded if its
    /// configuration changed since it was loaded (any process's change
    /// bumps its version), dropped if it was deleted. One indexed read
    /// per call; so every request sees the configuration committed before
    /// it.
    ///
    /// # Errors
    /// An unknown tenant; the store failing; a stored configuration the
    /// engine refuses.
    pub fn tenant(&self, id: &str) -> Result<docket_engine::Tenant, AppError> {
        self.refresh(id)?;
        Ok(self.docket().tenant(id)?)
    }

    /// Every tenant's id, from the store (so tenants other processes
    /// created are listed too).
    ///
    /// # Errors
    /// When the store fails.
    pub fn tenant_ids(&self) -> Result<Vec<String>, AppError> {
        Ok(self
            .store()
            .tenants()?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    fn refresh(&self, id: &str) -> Result<(), AppError> {
        let stored = self.store().tenant_version(id)?;
        let loaded = lock(&self.loaded).get(id).copied();
        match (stored, loaded) {
            (Some(s), Some(l)) if s.version == l => Ok(()),
            (Some(s), _) => {
                let _one_reload_at_a_time = lock(&self.reloading);
                if lock(&self.loaded).get(id) == Some(&s.version) {
                    return Ok(()); // another thread just did it
                }
                self.load_tenant(id, s.limits)?;
                lock(&self.loaded).insert(id.to_string(), s.version);
                Ok(())
            }
            (None, _) => {
                if lock(&self.loaded).remove(id).is_some() {
                    let _ = self.docket().remove_tenant(id);
                }
                Err(docket_engine::DocketError::UnknownTenant(id.to_string()).into())
            }
        }
    }

    /// Builds the tenant from the store beside the one running (under a
    /// name no tenant can have), then swaps it in whole: events running
    /// meanwhile see the old configuration or the new, never a mix.
    fn load_tenant(&self, id: &str, limits: Limits) -> Result<(), AppError> {
        let staging = format!("{id}:loading");
        let built = self.build_tenant(&staging, id, limits);
        let swapped = built.and_then(|()| Ok(self.docket().copy_tenant(&staging, id)?));
        let _ = self.docket().remove_tenant(&staging);
        swapped
    }

    fn build_tenant(&self, staging: &str, id: &str, limits: Limits) -> Result<(), AppError> {
        let store = self.store();
        let versions = store.versions(id)?;
        let states = store.plugin_states(id)?;
        let calendars: Vec<CalendarConfig> = config_doc(store, id, ConfigDoc::Calendars)?;
        let steps: Vec<PipelineStepDoc> = config_doc(store, id, ConfigDoc::Pipeline)?;
        let docket = self.docket();
        docket.put_tenant(staging, limits)?;
        docket.set_calendars(staging, &calendars)?;
        for v in &versions {
            // Stored bytes are wasm or rule text; the wasm header tells
            // them apart exactly.
            let source = PluginSource::from_bytes(&v.bytes).map_err(|error| {
                docket_engine::DocketError::Install {
                    tenant: id.into(),
                    plugin: v.name.clone(),
                    error,
                }
            })?;
            docket.install(staging, &v.name, source)?;
        }
        for (name, active, history) in states {
            docket.restore_activation(staging, &name, active, &history)?;
        }
        let steps = steps
            .iter()
            .map(PipelineStepDoc::to_step)
            .collect::<Result<_, _>>()?;
        docket.set_pipeline(staging, steps)?;
        Ok(())
    }

    /// Whose API key this is (keys are stored hashed), if anyone's.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn key_owner(&self, key: &str) -> Result<Option<KeyOwner>, AppError> {
        Ok(self
            .store()
            .key_owner(&key_hash(key))?
            .map(|owner| match owner {
                None => KeyOwner::Admin,
                Some(tenant) => KeyOwner::Tenant(tenant),
            }))
    }

    /// Uses `key` as the admin key, or makes sure one exists; returns a newly
    /// generated key to show once.
    pub fn ensure_admin_key(&self, key: Option<&str>) -> anyhow::Result<Option<String>> {
        match key {
            Some(k) => {
                self.store().set_admin_key(&key_hash(k), now_ms())?;
                Ok(None)
            }
            None if self.store().has_admin_key()? => Ok(None),
            None => {
                let k = new_key("dk_admin");
                self.store().set_admin_key(&key_hash(&k), now_ms())?;
                Ok(Some(k))
            }
        }
    }

    /// Creates a tenant; returns its first API key (shown once).
    pub fn create_tenant(&self, id: &str, limits: Limits) -> Result<NewKey, AppError> {
        let _admin = self.admin();
        check_id("tenant id", id)?;
        limits
            .validate(self.docket().config())
            .map_err(|e| AppError::unprocessable("invalid_limits", e))?;
        if self.store().tenant_exists(id)? {
            return Err(AppError::conflict(
                "conflict",
                format!("tenant `{id}` exists"),
            ));
        }
        let key = new_key(&format!("dk_{id}"));
        self.store()
            .insert_tenant(id, &limits, &key_hash(&key), now_ms())?;
        self.refresh(id)?;
        Ok(shown_once(key))
    }

    /// Replaces a tenant's limits, per-plugin ones included (admin only: a
    /// tenant must not raise its own). Every plugin version the tenant has
    /// stored is loaded under the new limits first, beside the running
    /// tenant; if any would be refused (too large, or over the memory cap
    /// at instantiation), nothing changes and the answer names it (409
    /// `plugin_over_limits`: the limits are valid, the tenant's plugins
    /// are what they conflict with). Events already running finish under
    /// the old limits; every process sharing the store takes the new ones
    /// at its next request for the tenant (the change counts as a
    /// configuration change).
    pub fn set_limits(&self, tenant: &str, limits: Limits) -> Result<Limits, AppError> {
        let _admin = self.admin();
        self.tenant(tenant)?;
        limits
            .validate(self.docket().config())
            .map_err(|e| AppError::unprocessable("invalid_limits", e))?;
        let staging = format!("{tenant}:limits");
        let built = self.build_tenant(&staging, tenant, limits.clone());
        let _ = self.docket().remove_tenant(&staging);
        built.map_err(|e| match e {
            AppError::Engine(docket_engine::DocketError::Install { plugin, error, .. }) => {
                AppError::conflict(
                    "plugin_over_limits",
                    format!(
                        "plugin `{plugin}` would be refused under these limits: {error}; \
                         raise them for it (`plugins.{plugin}`) or remove its versions first"
                    ),
                )
            }
            other => other,
        })?;
        if !self.store().set_tenant_limits(tenant, &limits)? {
            return Err(docket_engine::DocketError::UnknownTenant(tenant.to_string()).into());
        }
        self.refresh(tenant)?;
        Ok(limits)
    }

    /// Adds an API key for a tenant.
    pub fn add_key(&self, tenant: &str) -> Result<NewKey, AppError> {
        self.tenant(tenant)?;
        let key = new_key(&format!("dk_{tenant}"));
        self.store()
            .add_tenant_key(tenant, &key_hash(&key), now_ms())?;
        Ok(shown_once(key))
    }

    /// A tenant's configuration as the API shows it.
    pub fn tenant_doc(&self, tenant: &str) -> Result<TenantDoc, AppError> {
        let state = self.tenant(tenant)?;
        let store = self.store();
        Ok(TenantDoc {
            id: tenant.to_string(),
            limits: state.limits().clone(),
            plugins: state.plugins().map(str::to_string).collect(),
            pipeline: config_doc(store, tenant, ConfigDoc::Pipeline)?,
            calendars: config_doc(store, tenant, ConfigDoc::Calendars)?,
            agents: config_doc(store, tenant, ConfigDoc::Agents)?,
        })
    }

    /// A page of the tenant's audit log (one ticket's, if named): entries
    /// after `after`, at most `limit` (1 to 1,000).
    pub fn audit(
        &self,
        tenant: &str,
        ticket: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, AppError> {
        self.tenant(tenant)?;
        if !(1..=1000).contains(&limit) {
            return Err(AppError::BadRequest(format!(
                "limit: {limit} is out of range (1 to 1000)"
            )));
        }
        if after < 0 {
            return Err(AppError::BadRequest("after: must be 0 or more".into()));
        }
        if let Some(t) = ticket {
            check_id("ticket", &t.to_ascii_lowercase())?;
        }
        Ok(self.store().audit(tenant, ticket, after, limit as usize)?)
    }

    /// The tenant's outbox after position `after`, at most `limit` (1 to
    /// 1,000) messages, oldest first.
    pub fn messages_after(
        &self,
        tenant: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, AppError> {
        self.tenant(tenant)?;
        check_page(after, limit)?;
        Ok(self.store().messages_after(tenant, after, limit as usize)?)
    }

    /// How many events with messages this process has recorded: a change
    /// means the outbox grew (another process's growth is not counted).
    pub fn outbox_writes(&self) -> u64 {
        self.outbox_writes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Calls `listener` after every event this process records with
    /// messages (from the committing thread: it must be quick, e.g. wake a
    /// task).
    pub fn on_outbox_write(&self, listener: impl Fn() + Send + Sync + 'static) {
        self.outbox_listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(listener));
    }

    /// A tenant's keys, without their secrets.
    pub fn keys(&self, tenant: &str) -> Result<Vec<KeyInfo>, AppError> {
        self.tenant(tenant)?;
        Ok(self.store().tenant_keys(tenant)?)
    }

    /// Revokes a tenant key: from the commit on, it is refused (401) on
    /// every endpoint.
    pub fn revoke_key(&self, tenant: &str, key_id: &str) -> Result<(), AppError> {
        self.tenant(tenant)?;
        if self.store().revoke_tenant_key(tenant, key_id)? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("key `{key_id}`")))
        }
    }

    /// Rotates a tenant key: it gets a new secret and keeps its id; the old
    /// secret is refused from the commit on. Returns the new secret (shown
    /// once).
    pub fn rotate_key(&self, tenant: &str, key_id: &str) -> Result<NewKey, AppError> {
        self.tenant(tenant)?;
        let key = new_key(&format!("dk_{tenant}"));
        let rotated = self
            .store()
            .rotate_tenant_key(tenant, key_id, &key_hash(&key))?;
        if rotated {
            Ok(NewKey {
                api_key: key,
                id: key_id.to_string(),
            })
        } else {
            Err(AppError::NotFound(format!("key `{key_id}`")))
        }
    }

    /// Deletes a tenant and everything it owns (keys, plugins, pipeline,
    /// calendars, agents, tickets, events, audit, timers, SLA clocks): in
    /// one transaction, then from the engine. Nothing is retained.
    pub fn delete_tenant(&self, tenant: &str) -> Result<(), AppError> {
        let _admin = self.admin();
        self.tenant(tenant)?;
        self.store().delete_tenant(tenant)?;
        lock(&self.loaded).remove(tenant);
        self.docket().remove_tenant(tenant)?;
        Ok(())
    }

    /// Installs a plugin as a new version (compiled and checked before
    /// anything is stored); returns whether it is new (false: the same
    /// bytes were installed before, and that version is returned).
    ///
    /// # Errors
    /// An id that is not one, an unknown tenant, a plugin the engine
    /// refuses (`invalid_plugin`), or the store failing.
    pub fn install_plugin(
        &self,
        tenant: &str,
        name: &str,
        source: PluginSource<'_>,
    ) -> Result<(bool, VersionInfo), AppError> {
        let _admin = self.admin();
        check_id("plugin name", name)?;
        self.tenant(tenant)?;
        let compiled = self.docket().compile_for(tenant, name, source)?;
        let hash = compiled.info().hash.clone();
        // The next version number is the engine's view of the store; a
        // process sharing the store may take it first (the insert then
        // conflicts): reload the tenant and take the next one.
        for _ in 0..MAX_INSTALL_ATTEMPTS {
            // A plugin name not installed yet has no versions.
            let versions = self.docket().versions(tenant, name).unwrap_or_default();
            if let Some(v) = versions.iter().find(|v| v.info.hash == hash) {
                return Ok((false, v.clone()));
            }
            let stored = StoredVersion {
                name: name.into(),
                version: versions.last().map_or(1, |l| l.version + 1),
                hash: hash.clone(),
                bytes: source.bytes().to_vec(),
            };
            match self.store().insert_version(tenant, &stored, now_ms()) {
                Ok(()) => {
                    let info = self.docket().install(tenant, name, source)?;
                    return Ok((true, info));
                }
                Err(StoreError::Conflict(_)) => {
                    self.refresh(tenant)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::conflict(
            "conflict",
            format!("plugin `{name}`: other processes kept installing versions; retry"),
        ))
    }

    fn persist_activation(&self, tenant: &str, name: &str) -> Result<(), AppError> {
        let (active, history) = self.docket().activation_state(tenant, name)?;
        self.store()
            .set_plugin_state(tenant, name, active, &history)?;
        Ok(())
    }

    /// Activates a version.
    pub fn activate(
        &self,
        tenant: &str,
        name: &str,
        version: &str,
    ) -> Result<VersionInfo, AppError> {
        let _admin = self.admin();
        self.tenant(tenant)?;
        let v = self.docket().activate(tenant, name, version)?;
        self.persist_activation(tenant, name)?;
        Ok(v)
    }

    /// Rolls back to the previously active version.
    pub fn rollback(&self, tenant: &str, name: &str) -> Result<VersionInfo, AppError> {
        let _admin = self.admin();
        self.tenant(tenant)?;
        let v = self.docket().rollback(tenant, name)?;
        self.persist_activation(tenant, name)?;
        Ok(v)
    }

    /// Deletes a plugin not in the pipeline.
    pub fn delete_plugin(&self, tenant: &str, name: &str) -> Result<(), AppError> {
        let _admin = self.admin();
        let state = self.tenant(tenant)?;
        if !state.has_plugin(name) {
            return Err(AppError::NotFound(format!("plugin `{name}`")));
        }
        if state.pipeline().iter().any(|s| s.plugin == name) {
            return Err(AppError::conflict(
                "conflict",
                format!("plugin `{name}` is in the pipeline; remove it from the pipeline first"),
            ));
        }
        self.store().delete_plugin(tenant, name)?;
        self.docket().remove_plugin(tenant, name)?;
        Ok(())
    }

    /// Replaces the pipeline (checked against the installed plugins first).
    pub fn set_pipeline(&self, tenant: &str, steps: Vec<PipelineStepDoc>) -> Result<(), AppError> {
        let _admin = self.admin();
        let parsed = steps
            .iter()
            .map(PipelineStepDoc::to_step)
            .collect::<Result<Vec<_>, _>>()?;
        let previous = self.tenant(tenant)?.pipeline().to_vec();
        self.docket().set_pipeline(tenant, parsed)?;
        if let Err(e) = set_config_doc(self.store(), tenant, ConfigDoc::Pipeline, &steps) {
            let _ = self.docket().set_pipeline(tenant, previous);
            return Err(e.into());
        }
        Ok(())
    }

    /// Replaces the calendars. A calendar that SLA clocks run on, or that a
    /// pipeline step's settings name, cannot be removed: the change is
    /// refused with 409 `calendar_in_use` naming it and what uses it, and
    /// nothing changes. (Removing it would leave every later event on those
    /// tickets unable to advance its clocks.)
    pub fn set_calendars(
        &self,
        tenant: &str,
        calendars: Vec<CalendarConfig>,
    ) -> Result<(), AppError> {
        let _admin = self.admin();
        let compiled = compile_calendars(&calendars)?;
        let state = self.tenant(tenant)?;
        let mut removed: Vec<&String> = state
            .calendars()
            .keys()
            .filter(|name| !compiled.contains_key(*name))
            .collect();
        removed.sort();
        let steps: Vec<PipelineStepDoc> = config_doc(self.store(), tenant, ConfigDoc::Pipeline)?;
        for name in removed {
            let mut users = Vec::new();
            if let Some(u) = self.store().calendar_use(tenant, name)? {
                users.push(format!(
                    "{} SLA clock(s) on {} ticket(s), e.g. `{}`",
                    u.clocks, u.tickets, u.example_ticket
                ));
            }
            for step in steps.iter().filter(|s| names_text(&s.settings, name)) {
                users.push(format!("the settings of pipeline step `{}`", step.plugin));
            }
            if !users.is_empty() {
                return Err(AppError::conflict(
                    "calendar_in_use",
                    format!(
                        "calendar `{name}` cannot be removed: it is used by {}; keep it in the list \
                         (its hours may change) or change what uses it first",
                        users.join(" and ")
                    ),
                ));
            }
        }
        set_config_doc(self.store(), tenant, ConfigDoc::Calendars, &calendars)?;
        self.docket().set_calendars(tenant, &calendars)?;
        Ok(())
    }

    /// Replaces the agents.
    pub fn set_agents(&self, tenant: &str, agents: Vec<AgentConfig>) -> Result<(), AppError> {
        let _admin = self.admin();
        self.tenant(tenant)?;
        for a in &agents {
            check_id("agent id", &a.id)?;
            if a.open_tickets > MAX_OPEN_TICKETS {
                return Err(AppError::unprocessable(
                    "invalid_body",
                    format!(
                        "agent `{}`: open_tickets {} is over {MAX_OPEN_TICKETS}",
                        a.id, a.open_tickets
                    ),
                ));
            }
        }
        set_config_doc(self.store(), tenant, ConfigDoc::Agents, &agents)?;
        Ok(())
    }

    fn admin(&self) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.admin_lock)
    }

    /// Applies an event to a ticket through the event lifecycle, at the
    /// current time. With an idempotency key (the event's id), a repeated
    /// request returns the stored outcome; the same key on a different
    /// request is refused (422 `idempotency_key_reused`), and while its
    /// first request is still running a second one gets 409
    /// `request_in_progress`.
    pub fn ticket_event(
        &self,
        tenant: &str,
        ticket_id: &str,
        action: &Action,
        idempotency: Option<&Idempotency>,
    ) -> Result<EventResponse, AppError> {
        check_id("ticket id", &ticket_id.to_ascii_lowercase())?;
        self.tenant(tenant)?;
        let id = idempotency.map_or_else(|| new_key("ev"), |i| i.key.clone());
        let event = TicketEvent {
            tenant,
            ticket: ticket_id,
            action,
            id: &id,
            at: self.now(),
            actor: None,
            fingerprint: idempotency.map(|i| i.fingerprint.as_str()),
        };
        match self.counted(tenant, self.events.apply(&event))? {
            EventResult::Recorded(r) => Ok(EventResponse {
                answer: EventAnswer::of(r.status(), action),
                body: r.body,
            }),
            EventResult::Repeated(done) => {
                self.metrics.count_replay();
                Ok(EventResponse {
                    answer: EventAnswer::of(&done.status, action),
                    body: done.outcome,
                })
            }
        }
    }

    /// Finds or compiles the candidate for plugin `plugin` of the tenant
    /// (as it is now, on every replica): what simulations and backtests
    /// run in its place.
    ///
    /// # Errors
    /// An unknown tenant or version; a draft that does not compile
    /// (`invalid_plugin`, located for no-code documents).
    pub fn candidate(
        &self,
        tenant: &str,
        plugin: &str,
        source: CandidateSource<'_>,
    ) -> Result<Candidate, AppError> {
        check_id("plugin name", plugin)?;
        self.tenant(tenant)?;
        Candidate::new(self.docket(), tenant, plugin, source)
    }

    /// Simulates an event on a ticket, now (or at `at`), with `candidate`
    /// in place: the active pipeline's and the candidate's outcomes and
    /// what differs. Nothing is stored.
    ///
    /// # Errors
    /// An unknown tenant or ticket; an action the ticket refuses.
    pub fn simulate(
        &self,
        tenant: &str,
        candidate: &Candidate,
        ticket_id: &str,
        action: &Action,
        at: Option<i64>,
    ) -> Result<Simulation, AppError> {
        let event = TicketEvent {
            tenant,
            ticket: ticket_id,
            action,
            id: "simulation",
            at: at.unwrap_or_else(|| self.now()),
            actor: None,
            fingerprint: None,
        };
        crate::simulate::simulate(&self.events, &event, candidate)
    }

    /// Backtests `candidate` over the tenant's recorded events in `window`
    /// (see [`crate::backtest`]).
    ///
    /// # Errors
    /// An unknown tenant, the store failing.
    pub fn backtest(
        &self,
        tenant: &str,
        candidate: &Candidate,
        window: (i64, i64),
        budget: Budget,
        progress: &Progress,
    ) -> Result<BacktestReport, AppError> {
        let store: &dyn Store = self.events.store();
        crate::backtest::backtest(
            self.docket(),
            store,
            tenant,
            candidate,
            window,
            budget,
            progress,
        )
    }

    /// Fires one due timer, exactly once: the event, its effects and the
    /// timer's deletion commit together; a timer replaced or cancelled in
    /// the meantime is left alone.
    pub fn fire_timer(&self, timer: &TimerRow) -> Result<bool, AppError> {
        self.tenant(&timer.tenant)?;
        let fired = self.counted(&timer.tenant, self.events.fire_timer(timer, self.now()))?;
        if fired.is_some() {
            self.metrics.count_timer();
        }
        Ok(fired.is_some())
    }

    /// Fires every timer due now; returns how many were due. A timer whose
    /// event fails is postponed by [`TIMER_RETRY_DELAY_MS`] (and logged),
    /// so a permanently failing timer neither blocks the others nor keeps
    /// a timer loop busy. At most `batch` per call; the next call takes
    /// the rest.
    ///
    /// # Errors
    /// When the store cannot be read or a failing timer cannot be moved.
    pub fn fire_due_timers(&self, batch: usize) -> Result<usize, AppError> {
        let now = self.now();
        let due = self.store().due_timers(now, batch)?;
        for timer in &due {
            if let Err(e) = self.fire_timer(timer) {
                tracing::error!(tenant = %timer.tenant, ticket = %timer.ticket, key = %timer.key, error = %e, "timer failed; retrying in a minute");
                self.store()
                    .postpone_timer(timer, now + TIMER_RETRY_DELAY_MS)?;
            }
        }
        Ok(due.len())
    }

    /// Counts an event by what really happened: its outcome once stored,
    /// `error` when it could not be (e.g. an SLA policy on an unknown
    /// calendar).
    fn counted<T: Outcomes>(&self, tenant: &str, r: Result<T, AppError>) -> Result<T, AppError> {
        match &r {
            Ok(done) => {
                if let Some(rec) = done.recorded() {
                    self.metrics
                        .count_outcome(tenant, rec.status(), &rec.outcome);
                    if !rec.messages.is_empty() {
                        self.outbox_writes
                            .fetch_add(1, std::sync::atomic::Ordering::Release);
                        let listeners = self
                            .outbox_listeners
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        for listener in listeners.iter() {
                            listener();
                        }
                    }
                }
            }
            Err(AppError::NotRecorded { outcome, .. }) => {
                self.metrics.count_outcome(tenant, "error", outcome);
            }
            Err(_) => {}
        }
        r
    }

    /// A ticket with its timers, SLA clocks and decision history.
    pub fn ticket_view(&self, tenant: &str, id: &str) -> Result<TicketView, AppError> {
        self.tenant(tenant)?;
        let store = self.store();
        let ticket = store
            .ticket(tenant, id)?
            .ok_or_else(|| AppError::NotFound(format!("ticket `{id}`")))?;
        let timers = store.ticket_timers(tenant, id)?;
        let clocks = store.sla_clocks(tenant, id)?;
        let history = store.audit(tenant, Some(id), 0, 1000)?;
        Ok(TicketView {
            ticket,
            timers,
            sla: clocks,
            history,
        })
    }
}

/// What an event request came to, for the metrics.
trait Outcomes {
    /// The event dispatched and recorded now, if any.
    fn recorded(&self) -> Option<&Recorded>;
}

impl Outcomes for EventResult {
    fn recorded(&self) -> Option<&Recorded> {
        match self {
            EventResult::Recorded(r) => Some(r),
            EventResult::Repeated(_) => None,
        }
    }
}

impl Outcomes for Option<Recorded> {
    fn recorded(&self) -> Option<&Recorded> {
        self.as_ref()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether any text in the settings (at any depth) is exactly `name`.
fn names_text(settings: &serde_json::Map<String, serde_json::Value>, name: &str) -> bool {
    fn walk(v: &serde_json::Value, name: &str) -> bool {
        match v {
            serde_json::Value::String(s) => s == name,
            serde_json::Value::Array(a) => a.iter().any(|v| walk(v, name)),
            serde_json::Value::Object(o) => o.values().any(|v| walk(v, name)),
            _ => false,
        }
    }
    settings.values().any(|v| walk(v, name))
}

fn compile_calendars(
    configs: &[CalendarConfig],
) -> Result<HashMap<String, BusinessCalendar>, AppError> {
    docket_engine::config::compile_calendars(configs)
        .map_err(|e| AppError::unprocessable("invalid_calendar", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_that_cannot_be_stored_counts_as_an_error_and_its_timer_waits() {
        let dir = std::env::temp_dir().join(format!("docket-state-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Service::open(dir, EngineConfig::default()).unwrap();
        s.create_tenant("acme", Limits::default()).unwrap();
        let calendar: CalendarConfig = serde_json::from_value(serde_json::json!({
            "name": "business-hours", "timezone": "Europe/Berlin", "hours": { "mon": "09:00-17:00" }
        }))
        .unwrap();
        s.set_calendars("acme", vec![calendar]).unwrap();
        s.install_plugin(
            "acme",
            "escalation",
            PluginSource::wasm(docket_guests::plugin("escalation").unwrap()).unwrap(),
        )
        .unwrap();
        s.activate("acme", "escalation", "1").unwrap();
        let step: PipelineStepDoc = serde_json::from_value(serde_json::json!({
            "plugin": "escalation", "settings": { "calendar": "business-hours" }
        }))
        .unwrap();
        s.set_pipeline("acme", vec![step]).unwrap();
        let created = Action::Created(
            serde_json::from_value(
                serde_json::json!({ "subject": "s", "requester": { "id": "r" } }),
            )
            .unwrap(),
        );
        assert_eq!(
            s.ticket_event("acme", "T-1", &created, None)
                .unwrap()
                .answer,
            EventAnswer::Created
        );
        // The engine loses the calendar the ticket's SLA clocks run on (the
        // API refuses that; an embedder's engine call does not): the next
        // event dispatches but cannot be stored.
        s.docket().set_calendars("acme", &[]).unwrap();
        let update = Action::Updated(
            serde_json::from_value(serde_json::json!({ "priority": "high" })).unwrap(),
        );
        let err = s.ticket_event("acme", "T-1", &update, None).unwrap_err();
        assert_eq!(err.code(), "invalid_sla");
        // Its SLA milestone timers cannot fire either: each is postponed a
        // minute instead of being retried on every poll.
        let timers = s.store().ticket_timers("acme", "T-1").unwrap();
        assert!(!timers.is_empty());
        let first = TimerRow {
            due_at: 0,
            ..timers[0].clone()
        };
        assert!(s.store().postpone_timer(&timers[0], 0).unwrap(), "made due");
        assert_eq!(s.fire_due_timers(200).unwrap(), 1);
        let moved = s.store().timer_due(&first).unwrap().unwrap();
        assert!(moved >= now_ms() + TIMER_RETRY_DELAY_MS - 5_000, "{moved}");
        assert_eq!(s.fire_due_timers(200).unwrap(), 0, "not due again at once");
        let metrics = s.metrics.render(s.store().commit_stats());
        assert!(
            metrics.contains("docket_events_total{tenant=\"acme\",status=\"applied\"} 1\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("docket_events_total{tenant=\"acme\",status=\"error\"} 2\n"),
            "{metrics}"
        );
    }
}

#[cfg(test)]
mod database_tests {
    use super::*;

    #[test]
    fn database_values_parse_and_passwords_stay_out_of_messages() {
        assert_eq!(Database::parse("sqlite", 4), Ok(Database::Sqlite));
        let pg = Database::parse("postgres://app:s3cret@db:5432/docket", 4).unwrap();
        assert_eq!(
            pg.display(std::path::Path::new(".")),
            "PostgreSQL at postgres://app:***@db:5432/docket"
        );
        let err = Database::parse("mysql://root:hunter2@db/x", 4).unwrap_err();
        assert!(err.contains("mysql://root:***@db/x"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
