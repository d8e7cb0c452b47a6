//! What the service keeps around the event lifecycle: tenants, API keys,
//! plugin versions and their activation, each tenant's documents
//! (pipeline, calendars, agents), and the read views the API pages over
//! (the audit, a ticket's timers, what runs on a calendar).
//!
//! Every method is one transaction: it happens whole or not at all. A
//! backend implements this beside [`Store`] (the lifecycle's view); the
//! service runs over any [`ServiceStore`].

use crate::store::{Store, StoreError, TimerRow};
use docket_engine::Limits;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A tenant key as listed: its public id (made from the first 16 hex
/// digits of its first secret's hash, which reveal nothing of any secret;
/// kept when the secret is rotated) and when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    /// Public id, `key_` + 16 hex digits.
    pub id: String,
    /// Creation instant, ms since the epoch.
    pub created_at: i64,
}

/// The public id a key gets when it is made.
pub fn key_id(hash: &str) -> String {
    format!("key_{}", &hash[..16.min(hash.len())])
}

/// One stored plugin version.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A plugin's activation state: (name, active version, earlier active versions).
pub type PluginState = (String, Option<u32>, Vec<u32>);

/// A document a tenant keeps whole, as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigDoc {
    /// The pipeline steps.
    Pipeline,
    /// The business calendars.
    Calendars,
    /// The agents.
    Agents,
}

/// One audit entry: a dispatched event.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Sequence number, increasing; page with `after`.
    pub seq: i64,
    /// Ticket id.
    pub ticket: String,
    /// Event id (the idempotency key when one was given).
    pub event_id: String,
    /// The action, e.g. `created`, `timer_fired`.
    pub kind: String,
    /// When the event happened.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub at: String,
    /// `applied`, `rejected` or `failed`.
    pub status: String,
    /// The event, the plugin versions (hashes) that ran, the effects, the
    /// trace, and the status.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub entry: serde_json::Value,
}

/// What in the store uses a calendar: the SLA clocks on it (running,
/// paused, or stopped ones, which restart on a reopen or a reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarUse {
    /// SLA clocks on the calendar.
    pub clocks: u64,
    /// Tickets those clocks belong to.
    pub tickets: u64,
    /// One of those tickets, for the message.
    pub example_ticket: String,
}

/// A tenant's limits and the version of its configuration: a counter that
/// every change of its plugins, activations or documents increases in the
/// same transaction, so processes sharing the store know when to reload.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantVersion {
    /// The configuration version.
    pub version: u64,
    /// Its limits.
    pub limits: Limits,
}

/// How many writes a store made and how many commits (each one sync of
/// the log) carried them; `writes / commits` is the mean group size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Writes (events, catalog changes) committed or rolled back.
    pub writes: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Of those, the ones synced to disk before returning (the others
    /// were deferred, see [`crate::sql::Durability`]).
    pub synced_commits: u64,
}

/// Tenants, keys, plugins and tenant documents, durably.
pub trait Catalog: Send + Sync {
    /// The backend's name, e.g. `sqlite`, `postgresql`.
    fn backend(&self) -> &'static str;

    /// Checks that the backend answers (for health checks).
    ///
    /// # Errors
    /// When it does not.
    fn ping(&self) -> Result<(), StoreError>;

    /// Writes and commits since the store opened, for a store that groups
    /// concurrent writes into shared commits (`None`: the backend does its
    /// own grouping, as PostgreSQL does with its WAL flushes).
    fn commit_stats(&self) -> Option<CommitStats> {
        None
    }

    /// Every tenant with its limits, by id.
    ///
    /// # Errors
    /// When the backend fails (as every method here).
    fn tenants(&self) -> Result<Vec<(String, Limits)>, StoreError>;

    /// Whether a tenant exists.
    ///
    /// # Errors
    /// When the backend fails.
    fn tenant_exists(&self, id: &str) -> Result<bool, StoreError>;

    /// A tenant's configuration version and limits, if it exists (one
    /// indexed read).
    ///
    /// # Errors
    /// When the backend fails.
    fn tenant_version(&self, id: &str) -> Result<Option<TenantVersion>, StoreError>;

    /// Adds a tenant with its first key (by the key's hash).
    ///
    /// # Errors
    /// When the backend fails; [`StoreError::Conflict`] when the tenant
    /// exists.
    fn insert_tenant(
        &self,
        id: &str,
        limits: &Limits,
        key_hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Replaces a tenant's limits, counting a configuration change (so
    /// every process sharing the store reloads it). Returns whether the
    /// tenant exists.
    ///
    /// # Errors
    /// When the backend fails.
    fn set_tenant_limits(&self, id: &str, limits: &Limits) -> Result<bool, StoreError>;

    /// Deletes a tenant and everything it owns: keys, plugins, pipeline,
    /// calendars, agents, tickets, events, audit, timers and SLA clocks.
    /// Returns whether it existed.
    ///
    /// # Errors
    /// When the backend fails.
    fn delete_tenant(&self, id: &str) -> Result<bool, StoreError>;

    /// Whose key this is (by its hash): `Some(None)` for the admin,
    /// `Some(Some(tenant))`, or `None`.
    ///
    /// # Errors
    /// When the backend fails.
    fn key_owner(&self, hash: &str) -> Result<Option<Option<String>>, StoreError>;

    /// Makes this the admin key (replacing any other).
    ///
    /// # Errors
    /// When the backend fails.
    fn set_admin_key(&self, hash: &str, now: i64) -> Result<(), StoreError>;

    /// Whether an admin key exists.
    ///
    /// # Errors
    /// When the backend fails.
    fn has_admin_key(&self) -> Result<bool, StoreError>;

    /// Adds a key for a tenant.
    ///
    /// # Errors
    /// When the backend fails.
    fn add_tenant_key(&self, tenant: &str, hash: &str, now: i64) -> Result<(), StoreError>;

    /// A tenant's keys, oldest first.
    ///
    /// # Errors
    /// When the backend fails.
    fn tenant_keys(&self, tenant: &str) -> Result<Vec<KeyInfo>, StoreError>;

    /// Deletes the tenant key with this public id; returns whether it
    /// existed.
    ///
    /// # Errors
    /// When the backend fails.
    fn revoke_tenant_key(&self, tenant: &str, id: &str) -> Result<bool, StoreError>;

    /// Gives the tenant key with this public id a new secret (by its hash);
    /// returns whether it existed. The old secret is refused from the
    /// commit on.
    ///
    /// # Errors
    /// When the backend fails.
    fn rotate_tenant_key(&self, tenant: &str, id: &str, new_hash: &str)
    -> Result<bool, StoreError>;

    /// Stores a new version (its number chosen by the caller: the next
    /// free one), registering the plugin, with no version active, if new.
    ///
    /// # Errors
    /// When the backend fails; [`StoreError::Conflict`] when a version
    /// with that number exists (another process took it).
    fn insert_version(&self, tenant: &str, v: &StoredVersion, now: i64) -> Result<(), StoreError>;

    /// Every stored version of a tenant, by name then number.
    ///
    /// # Errors
    /// When the backend fails.
    fn versions(&self, tenant: &str) -> Result<Vec<StoredVersion>, StoreError>;

    /// The activation state of each plugin of a tenant, by name.
    ///
    /// # Errors
    /// When the backend fails.
    fn plugin_states(&self, tenant: &str) -> Result<Vec<PluginState>, StoreError>;

    /// Records which version is active and the history behind it.
    ///
    /// # Errors
    /// When the backend fails.
    fn set_plugin_state(
        &self,
        tenant: &str,
        name: &str,
        active: Option<u32>,
        history: &[u32],
    ) -> Result<(), StoreError>;

    /// Deletes a plugin and all its versions.
    ///
    /// # Errors
    /// When the backend fails.
    fn delete_plugin(&self, tenant: &str, name: &str) -> Result<(), StoreError>;

    /// A tenant document as stored (JSON), if it was ever set.
    ///
    /// # Errors
    /// When the backend fails.
    fn config_doc_json(&self, tenant: &str, doc: ConfigDoc) -> Result<Option<String>, StoreError>;

    /// Replaces a tenant document (JSON).
    ///
    /// # Errors
    /// When the backend fails.
    fn set_config_doc_json(
        &self,
        tenant: &str,
        doc: ConfigDoc,
        json: &str,
    ) -> Result<(), StoreError>;

    /// The SLA clocks of a tenant that run on `calendar` (an indexed count).
    ///
    /// # Errors
    /// When the backend fails.
    fn calendar_use(&self, tenant: &str, calendar: &str)
    -> Result<Option<CalendarUse>, StoreError>;

    /// Audit entries of a tenant (one ticket's, if named), oldest first,
    /// after `after_seq`, at most `limit`.
    ///
    /// # Errors
    /// When the backend fails.
    fn audit(
        &self,
        tenant: &str,
        ticket: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// A ticket's pending timers, earliest first.
    ///
    /// # Errors
    /// When the backend fails.
    fn ticket_timers(&self, tenant: &str, ticket: &str) -> Result<Vec<TimerRow>, StoreError>;
}

/// A tenant document, typed; its default when never set.
///
/// # Errors
/// When the backend fails or the stored JSON is not such a document.
pub fn config_doc<T: DeserializeOwned + Default>(
    catalog: &(impl Catalog + ?Sized),
    tenant: &str,
    doc: ConfigDoc,
) -> Result<T, StoreError> {
    match catalog.config_doc_json(tenant, doc)? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Backend(format!("stored {doc:?} of `{tenant}`: {e}"))),
        None => Ok(T::default()),
    }
}

/// Replaces a tenant document.
///
/// # Errors
/// When the backend fails.
pub fn set_config_doc<T: Serialize>(
    catalog: &(impl Catalog + ?Sized),
    tenant: &str,
    doc: ConfigDoc,
    value: &T,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(value).expect("plain data serializes");
    catalog.set_config_doc_json(tenant, doc, &json)
}

/// Everything the service needs of a backend: the lifecycle's [`Store`],
/// the [`Catalog`], and SQL for the records written once for every
/// durable backend (webhook deliveries).
pub trait ServiceStore: Store + Catalog + crate::sql::SqlStore {}

impl<S: Store + Catalog + crate::sql::SqlStore> ServiceStore for S {}
