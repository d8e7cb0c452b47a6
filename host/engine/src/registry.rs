//! Tenants and their plugins: content-addressed, versioned installs, an
//! ordered pipeline, and atomic activation and rollback. Every change builds
//! a new immutable tenant snapshot and swaps it in, so a dispatch in flight
//! always sees one consistent pipeline.

use crate::calendar::{BusinessCalendar, CalendarConfig, compile_all};
use crate::compiled::{Plugin, PluginInfo};
use crate::error::{DocketError, PluginError};
use crate::limits::{EngineConfig, Limits};
use crate::pipeline::{Pipeline, PipelineSnapshot, PipelineStep, Stage};
use crate::resident::ResidentStats;
use crate::runtime::{CompileSource, Runtime};
use crate::sandbox::{CallInput, CallStats, Decision, Declaration};
use crate::source::PluginSource;
use docket_contract::Capability;
use docket_contract::bindings::docket::plugin::types::Context;
use docket_contract::bindings::exports::docket::plugin::template::TicketTemplate;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

/// One installed version of a plugin.
#[derive(Debug, Clone)]
pub(crate) struct InstalledVersion {
    /// 1, 2, 3, ... per plugin name.
    pub number: u32,
    /// The compiled plugin.
    pub plugin: Plugin,
}

/// The versions of one plugin name and which is active.
#[derive(Debug, Clone, Default)]
pub(crate) struct PluginHistory {
    /// Every installed version, oldest first.
    pub versions: Vec<InstalledVersion>,
    /// Index of the active version.
    pub active: Option<usize>,
    /// Previously active versions, most recent last (for rollback).
    pub activation_history: Vec<usize>,
}

impl PluginHistory {
    /// The active version.
    pub fn active(&self) -> Option<&InstalledVersion> {
        self.active.map(|i| &self.versions[i])
    }
}

/// An immutable snapshot of a tenant. Every change (the API's and a
/// configuration's) goes through its methods on a copy that is then
/// swapped in.
#[derive(Debug, Clone)]
pub(crate) struct TenantState {
    pub id: String,
    pub limits: Limits,
    pub calendars: Arc<HashMap<String, BusinessCalendar>>,
    /// The calendars as configured (what recordings keep).
    pub calendar_configs: Arc<Vec<CalendarConfig>>,
    pub plugins: BTreeMap<String, PluginHistory>,
    pub pipeline: Vec<PipelineStep>,
    /// The active pipeline resolved, built on first use: a change makes a
    /// new snapshot whose cell starts empty (see `Docket::update`).
    resolved: OnceLock<Arc<Pipeline>>,
}

impl TenantState {
    /// An empty tenant.
    pub fn new(id: &str, limits: Limits) -> TenantState {
        TenantState {
            id: id.to_string(),
            limits,
            calendars: Arc::new(HashMap::new()),
            calendar_configs: Arc::new(Vec::new()),
            plugins: BTreeMap::new(),
            pipeline: Vec::new(),
            resolved: OnceLock::new(),
        }
    }

    /// The active pipeline, resolved once per snapshot.
    pub fn active_pipeline(&self) -> Arc<Pipeline> {
        self.resolved
            .get_or_init(|| Arc::new(TenantState::resolve(self)))
            .clone()
    }

    /// The active pipeline of a tenant snapshot: steps whose plugin has no
    /// active version are left out (they would not run).
    fn resolve(state: &TenantState) -> Pipeline {
        let stages = state
            .pipeline
            .iter()
            .filter_map(|step| {
                let version = state.plugins.get(&step.plugin)?.active()?;
                Some(Stage {
                    step: step.clone(),
                    version: version.number,
                    plugin: version.plugin.clone(),
                })
            })
            .collect();
        Pipeline::new(
            &state.id,
            state.limits.clone(),
            state.calendars.clone(),
            state.calendar_configs.clone(),
            stages,
        )
    }

    /// Replaces the calendars.
    ///
    /// # Errors
    /// [`DocketError::Config`] naming a calendar that does not compile.
    pub fn set_calendars(&mut self, configs: &[CalendarConfig]) -> Result<(), DocketError> {
        self.calendars = Arc::new(compile_all(configs).map_err(DocketError::Config)?);
        self.calendar_configs = Arc::new(configs.to_vec());
        Ok(())
    }

    /// A copy to change: its resolved pipeline is built again on use.
    fn to_change(&self) -> TenantState {
        let mut next = self.clone();
        next.resolved = OnceLock::new();
        next
    }

    /// Adds a compiled plugin as a new version (or finds the version with
    /// the same content hash).
    pub fn install(&mut self, plugin: &str, compiled: Plugin) -> VersionInfo {
        let history = self.plugins.entry(plugin.to_string()).or_default();
        let existing = history
            .versions
            .iter()
            .position(|v| v.plugin.info().hash == compiled.info().hash);
        let index = existing.unwrap_or_else(|| {
            let number = history.versions.last().map_or(1, |v| v.number + 1);
            history.versions.push(InstalledVersion {
                number,
                plugin: compiled,
            });
            history.versions.len() - 1
        });
        version_info(plugin, history, index)
    }

    /// Makes a version (number, or a hash prefix) the active one.
    pub fn activate(&mut self, plugin: &str, version: &str) -> Result<VersionInfo, DocketError> {
        let tenant = self.id.clone();
        let history = self.history_mut(plugin)?;
        let index = find_version(history, version).ok_or_else(|| DocketError::UnknownVersion {
            tenant,
            plugin: plugin.to_string(),
            version: version.to_string(),
        })?;
        if let Some(previous) = history.active.filter(|p| *p != index) {
            history.activation_history.push(previous);
        }
        history.active = Some(index);
        Ok(version_info(plugin, history, index))
    }

    /// Sets the pipeline; every step must name a plugin with an active
    /// version.
    pub fn set_pipeline(&mut self, steps: Vec<PipelineStep>) -> Result<(), DocketError> {
        for step in &steps {
            let history = self
                .plugins
                .get(&step.plugin)
                .ok_or_else(|| unknown_plugin(&self.id, &step.plugin))?;
            if history.active.is_none() {
                return Err(DocketError::Config(format!(
                    "plugin `{}` has no active version",
                    step.plugin
                )));
            }
        }
        self.pipeline = steps;
        Ok(())
    }

    fn history_mut(&mut self, plugin: &str) -> Result<&mut PluginHistory, DocketError> {
        let tenant = &self.id;
        self.plugins
            .get_mut(plugin)
            .ok_or_else(|| unknown_plugin(tenant, plugin))
    }
}

/// A tenant as it is now: a read-only snapshot (later changes make new
/// snapshots; this one stays as it was).
#[derive(Debug, Clone)]
pub struct Tenant(pub(crate) Arc<TenantState>);

impl Tenant {
    /// Tenant id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Limits of every plugin call.
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// Business calendars by name.
    pub fn calendars(&self) -> &HashMap<String, BusinessCalendar> {
        &self.0.calendars
    }

    /// Installed plugin names, sorted.
    pub fn plugins(&self) -> impl Iterator<Item = &str> {
        self.0.plugins.keys().map(String::as_str)
    }

    /// Whether a plugin of this name is installed.
    pub fn has_plugin(&self, name: &str) -> bool {
        self.0.plugins.contains_key(name)
    }

    /// The pipeline, in order.
    pub fn pipeline(&self) -> &[PipelineStep] {
        &self.0.pipeline
    }

    /// The active version of a plugin, if it is installed and has one.
    pub fn active_plugin(&self, name: &str) -> Option<&Plugin> {
        Some(&self.0.plugins.get(name)?.active()?.plugin)
    }
}

/// A version as reported to callers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    /// Plugin name.
    pub plugin: String,
    /// Version number.
    pub version: u32,
    /// Whether it is the active version.
    pub active: bool,
    /// Content hash and capabilities.
    #[serde(flatten)]
    pub info: PluginInfo,
}

/// The Docket engine: shared runtime plus every tenant's registry.
pub struct Docket {
    pub(crate) runtime: Arc<Runtime>,
    tenants: RwLock<HashMap<String, Arc<TenantState>>>,
}

impl Docket {
    /// Starts an engine.
    ///
    /// # Errors
    /// When wasmtime cannot be configured as asked, or the artifact cache directory
    /// cannot be created.
    pub fn new(config: EngineConfig) -> anyhow::Result<Docket> {
        Ok(Docket {
            runtime: Arc::new(Runtime::new(config)?),
            tenants: RwLock::new(HashMap::new()),
        })
    }

    /// The engine settings.
    pub fn config(&self) -> &EngineConfig {
        self.runtime.config()
    }

    /// How many plugins' compiled forms are in memory, and how often the
    /// resident set loaded and evicted them.
    pub fn resident_stats(&self) -> ResidentStats {
        self.runtime.resident_stats()
    }

    /// The current snapshot of a tenant.
    ///
    /// # Errors
    /// [`DocketError::UnknownTenant`].
    pub fn tenant(&self, id: &str) -> Result<Tenant, DocketError> {
        self.state(id).map(Tenant)
    }

    pub(crate) fn state(&self, id: &str) -> Result<Arc<TenantState>, DocketError> {
        self.tenants
            .read()
            .expect("tenants")
            .get(id)
            .cloned()
            .ok_or_else(|| DocketError::UnknownTenant(id.to_string()))
    }

    /// Ids of every tenant.
    pub fn tenant_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .tenants
            .read()
            .expect("tenants")
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Creates the tenant empty, or empties it: no plugins, calendars or
    /// pipeline, these limits.
    ///
    /// # Errors
    /// [`DocketError::Config`] when the limits are over the engine's.
    pub fn put_tenant(&self, id: &str, limits: Limits) -> Result<(), DocketError> {
        self.put_state(TenantState::new(id, limits))
    }

    /// Replaces a tenant wholesale.
    pub(crate) fn put_state(&self, state: TenantState) -> Result<(), DocketError> {
        state
            .limits
            .validate(self.runtime.config())
            .map_err(DocketError::Config)?;
        self.tenants
            .write()
            .expect("tenants")
            .insert(state.id.clone(), Arc::new(state));
        Ok(())
    }

    /// Makes tenant `to` a copy of tenant `from` as it is now (plugins,
    /// versions, calendars, pipeline, limits), replacing `to` if it
    /// exists: for tenants set up from a template. The compiled plugins
    /// are shared, not compiled again.
    ///
    /// # Errors
    /// [`DocketError::UnknownTenant`] for `from`.
    pub fn copy_tenant(&self, from: &str, to: &str) -> Result<(), DocketError> {
        let mut state = self.state(from)?.to_change();
        state.id = to.to_string();
        self.put_state(state)
    }

    /// Creates an empty tenant if it does not exist.
    ///
    /// # Errors
    /// [`DocketError::Config`] when the limits are over the engine's.
    pub fn ensure_tenant(&self, id: &str, limits: Limits) -> Result<(), DocketError> {
        limits
            .validate(self.runtime.config())
            .map_err(DocketError::Config)?;
        let mut map = self.tenants.write().expect("tenants");
        map.entry(id.to_string())
            .or_insert_with(|| Arc::new(TenantState::new(id, limits)));
        Ok(())
    }

    /// Removes a tenant: its events are refused from then on; calls already
    /// running finish on the snapshot they hold.
    ///
    /// # Errors
    /// [`DocketError::UnknownTenant`].
    pub fn remove_tenant(&self, id: &str) -> Result<(), DocketError> {
        self.tenants
            .write()
            .expect("tenants")
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| DocketError::UnknownTenant(id.to_string()))
    }

    /// Applies `change` to a copy of the tenant and swaps it in atomically;
    /// on error nothing changes.
    fn update<R>(
        &self,
        id: &str,
        change: impl FnOnce(&mut TenantState) -> Result<R, DocketError>,
    ) -> Result<R, DocketError> {
        let mut map = self.tenants.write().expect("tenants");
        let current = map
            .get(id)
            .ok_or_else(|| DocketError::UnknownTenant(id.to_string()))?;
        let mut next = current.to_change();
        let r = change(&mut next)?;
        map.insert(id.to_string(), Arc::new(next));
        Ok(r)
    }

    /// Compiles a plugin under the given limits, outside any tenant,
    /// reusing a compiled copy of the same bytes (from memory, or the
    /// on-disk cache); says which.
    ///
    /// # Errors
    /// Why the source is not a plugin this engine runs.
    pub fn compile(
        &self,
        source: PluginSource<'_>,
        limits: &Limits,
    ) -> Result<(Plugin, CompileSource), PluginError> {
        self.runtime.compile(source, limits)
    }

    /// Compiles a plugin under a tenant's limits (no registry change).
    ///
    /// # Errors
    /// An unknown tenant, or [`DocketError::Install`] naming the tenant,
    /// the plugin and why.
    pub fn compile_for(
        &self,
        tenant: &str,
        plugin: &str,
        source: PluginSource<'_>,
    ) -> Result<Plugin, DocketError> {
        let limits = self.state(tenant)?.limits.for_plugin(plugin).into_owned();
        self.runtime
            .compile(source, &limits)
            .map(|(p, _)| p)
            .map_err(|error| install_error(tenant, plugin, error))
    }

    /// Runs one capability of a plugin once, in a fresh sandbox under
    /// `limits`, outside any pipeline: the decision (or why there is none)
    /// and what the call cost.
    pub fn call(
        &self,
        plugin: &Plugin,
        capability: Capability,
        input: &CallInput<'_>,
        limits: &Limits,
    ) -> (Result<Decision, PluginError>, CallStats) {
        self.runtime.call(plugin, capability, input, limits)
    }

    /// Asks a template plugin for the templates it declares (what a form
    /// preview renders).
    pub fn templates(
        &self,
        plugin: &Plugin,
        context: &Context,
        limits: &Limits,
    ) -> (Result<Vec<TicketTemplate>, PluginError>, CallStats) {
        self.runtime
            .declaration(plugin, Declaration::Templates, context, limits)
    }

    /// The templates `plugin` declares when it runs as plugin `name` of
    /// `pipeline`: called with that step's settings (none when the
    /// pipeline does not run it), the pipeline's calendars and `now`, under
    /// the pipeline's limits. What a form preview renders; an empty list
    /// for a plugin without the template capability.
    ///
    /// # Errors
    /// The plugin's error when its `templates` call fails (a trap, out of
    /// fuel or time, an output over the cap).
    pub fn templates_in(
        &self,
        pipeline: &Pipeline,
        name: &str,
        plugin: &Plugin,
        now: i64,
    ) -> Result<Vec<TicketTemplate>, PluginError> {
        if !plugin.has(Capability::Template) {
            return Ok(Vec::new());
        }
        let context = Context {
            tenant: pipeline.tenant.clone(),
            now,
            settings: pipeline
                .steps_of(name)
                .into_iter()
                .next()
                .map(|s| s.settings)
                .unwrap_or_default(),
            agents: Vec::new(),
            history: Vec::new(),
            calendars: pipeline.calendar_names.clone(),
        };
        self.templates(plugin, &context, &pipeline.limits.for_plugin(name))
            .0
    }

    /// Installs a plugin as a new version (or returns the existing version
    /// with the same content hash). Does not activate it.
    ///
    /// # Errors
    /// An unknown tenant, or [`DocketError::Install`] naming why the
    /// source was refused.
    pub fn install(
        &self,
        tenant: &str,
        plugin: &str,
        source: PluginSource<'_>,
    ) -> Result<VersionInfo, DocketError> {
        let compiled = self.compile_for(tenant, plugin, source)?;
        self.update(tenant, |t| Ok(t.install(plugin, compiled)))
    }

    /// Makes a version (number, or a prefix of its hash of at least 8
    /// characters) the active one.
    ///
    /// # Errors
    /// An unknown tenant, plugin or version.
    pub fn activate(
        &self,
        tenant: &str,
        plugin: &str,
        version: &str,
    ) -> Result<VersionInfo, DocketError> {
        self.update(tenant, |t| t.activate(plugin, version))
    }

    /// Re-activates the previously active version.
    ///
    /// # Errors
    /// An unknown tenant or plugin, or [`DocketError::NothingToRollBack`].
    pub fn rollback(&self, tenant: &str, plugin: &str) -> Result<VersionInfo, DocketError> {
        self.update(tenant, |t| {
            let history = t.history_mut(plugin)?;
            let index =
                history
                    .activation_history
                    .pop()
                    .ok_or_else(|| DocketError::NothingToRollBack {
                        tenant: tenant.to_string(),
                        plugin: plugin.to_string(),
                    })?;
            history.active = Some(index);
            Ok(version_info(plugin, history, index))
        })
    }

    /// The active version number and the numbers of earlier active versions
    /// (oldest first), for persisting.
    ///
    /// # Errors
    /// An unknown tenant or plugin.
    pub fn activation_state(
        &self,
        tenant: &str,
        plugin: &str,
    ) -> Result<(Option<u32>, Vec<u32>), DocketError> {
        let t = self.state(tenant)?;
        let h = t
            .plugins
            .get(plugin)
            .ok_or_else(|| unknown_plugin(tenant, plugin))?;
        let number = |i: &usize| h.versions[*i].number;
        Ok((
            h.active.as_ref().map(number),
            h.activation_history.iter().map(number).collect(),
        ))
    }

    /// Restores a persisted activation state (see [`Docket::activation_state`]).
    ///
    /// # Errors
    /// An unknown tenant, plugin or version number.
    pub fn restore_activation(
        &self,
        tenant: &str,
        plugin: &str,
        active: Option<u32>,
        history: &[u32],
    ) -> Result<(), DocketError> {
        self.update(tenant, |t| {
            let h = t.history_mut(plugin)?;
            let index = |n: u32| {
                h.versions
                    .iter()
                    .position(|v| v.number == n)
                    .ok_or_else(|| DocketError::UnknownVersion {
                        tenant: tenant.to_string(),
                        plugin: plugin.to_string(),
                        version: n.to_string(),
                    })
            };
            let active = active.map(index).transpose()?;
            let history = history
                .iter()
                .map(|n| index(*n))
                .collect::<Result<_, _>>()?;
            h.active = active;
            h.activation_history = history;
            Ok(())
        })
    }

    /// Removes a plugin and its versions; refused while the pipeline uses it.
    ///
    /// # Errors
    /// An unknown tenant or plugin, or [`DocketError::Config`] while the pipeline uses
    /// the plugin.
    pub fn remove_plugin(&self, tenant: &str, plugin: &str) -> Result<(), DocketError> {
        self.update(tenant, |t| {
            if t.pipeline.iter().any(|s| s.plugin == plugin) {
                return Err(DocketError::Config(format!(
                    "plugin `{plugin}` is in the pipeline; remove it from the pipeline first"
                )));
            }
            t.plugins
                .remove(plugin)
                .map(|_| ())
                .ok_or_else(|| unknown_plugin(&t.id, plugin))
        })
    }

    /// An installed version of a plugin (by number, or a hash prefix of at
    /// least 8 characters), active or not: its number and compiled form.
    ///
    /// # Errors
    /// An unknown tenant, plugin or version.
    pub fn installed_version(
        &self,
        tenant: &str,
        plugin: &str,
        version: &str,
    ) -> Result<(u32, Plugin), DocketError> {
        let t = self.state(tenant)?;
        let history = t
            .plugins
            .get(plugin)
            .ok_or_else(|| unknown_plugin(tenant, plugin))?;
        let index = find_version(history, version).ok_or_else(|| DocketError::UnknownVersion {
            tenant: tenant.to_string(),
            plugin: plugin.to_string(),
            version: version.to_string(),
        })?;
        let v = &history.versions[index];
        Ok((v.number, v.plugin.clone()))
    }

    /// Every version of a plugin.
    ///
    /// # Errors
    /// An unknown tenant or plugin.
    pub fn versions(&self, tenant: &str, plugin: &str) -> Result<Vec<VersionInfo>, DocketError> {
        let t = self.state(tenant)?;
        let history = t
            .plugins
            .get(plugin)
            .ok_or_else(|| unknown_plugin(tenant, plugin))?;
        Ok((0..history.versions.len())
            .map(|i| version_info(plugin, history, i))
            .collect())
    }

    /// Sets the pipeline; every step must name a plugin with an active version.
    ///
    /// # Errors
    /// An unknown tenant or plugin, or [`DocketError::Config`] for a plugin with no
    /// active version; the pipeline is then unchanged.
    pub fn set_pipeline(&self, tenant: &str, steps: Vec<PipelineStep>) -> Result<(), DocketError> {
        self.update(tenant, |t| t.set_pipeline(steps))
    }

    /// Replaces the tenant's calendars.
    ///
    /// # Errors
    /// [`DocketError::UnknownTenant`], or [`DocketError::Config`] naming a
    /// calendar that does not compile (nothing changes then).
    pub fn set_calendars(
        &self,
        tenant: &str,
        calendars: &[CalendarConfig],
    ) -> Result<(), DocketError> {
        self.update(tenant, |t| t.set_calendars(calendars))
    }
}

/// The error of a failed install, naming the tenant and plugin.
pub(crate) fn install_error(tenant: &str, plugin: &str, error: PluginError) -> DocketError {
    DocketError::Install {
        tenant: tenant.to_string(),
        plugin: plugin.to_string(),
        error,
    }
}

fn unknown_plugin(tenant: &str, plugin: &str) -> DocketError {
    DocketError::UnknownPlugin {
        tenant: tenant.to_string(),
        plugin: plugin.to_string(),
    }
}

fn find_version(history: &PluginHistory, version: &str) -> Option<usize> {
    if let Ok(n) = version.parse::<u32>() {
        return history.versions.iter().position(|v| v.number == n);
    }
    if version.len() < 8 {
        return None;
    }
    let matches: Vec<usize> = (0..history.versions.len())
        .filter(|i| history.versions[*i].plugin.info().hash.starts_with(version))
        .collect();
    (matches.len() == 1).then(|| matches[0])
}

fn version_info(plugin: &str, history: &PluginHistory, index: usize) -> VersionInfo {
    let v = &history.versions[index];
    VersionInfo {
        plugin: plugin.to_string(),
        version: v.number,
        active: history.active == Some(index),
        info: v.plugin.info().clone(),
    }
}

/// Pipelines as values: the active one, and one rebuilt from a snapshot.
impl Docket {
    /// The tenant's active pipeline as it is now (later changes make a new
    /// one; this one stays as it was).
    ///
    /// # Errors
    /// [`DocketError::UnknownTenant`].
    pub fn pipeline(&self, tenant: &str) -> Result<Arc<Pipeline>, DocketError> {
        Ok(self.state(tenant)?.active_pipeline())
    }

    /// Rebuilds the pipeline an event ran through from its snapshot: each
    /// step runs the tenant's installed version with the recorded content
    /// hash, whether or not it is active now.
    ///
    /// # Errors
    /// [`DocketError::UnknownVersion`] (naming the hash) for a version the
    /// tenant no longer has, [`DocketError::Config`] for calendars that do
    /// not compile, [`DocketError::UnknownTenant`].
    pub fn pipeline_of(
        &self,
        tenant: &str,
        snapshot: &PipelineSnapshot,
    ) -> Result<Pipeline, DocketError> {
        let state = self.state(tenant)?;
        let stages = snapshot
            .steps
            .iter()
            .map(|s| {
                let plugin = state
                    .plugins
                    .get(&s.plugin)
                    .and_then(|h| h.versions.iter().find(|v| v.plugin.info().hash == s.hash))
                    .ok_or_else(|| DocketError::UnknownVersion {
                        tenant: tenant.to_string(),
                        plugin: s.plugin.clone(),
                        version: s.hash.clone(),
                    })?;
                Ok(Stage {
                    step: PipelineStep {
                        plugin: s.plugin.clone(),
                        settings: s.settings.clone(),
                        on_failure: s.on_failure,
                        events: s.events.clone(),
                    },
                    version: s.version,
                    plugin: plugin.plugin.clone(),
                })
            })
            .collect::<Result<Vec<_>, DocketError>>()?;
        let calendars = compile_all(&snapshot.calendars).map_err(DocketError::Config)?;
        Ok(Pipeline::new(
            tenant,
            snapshot.limits.clone(),
            Arc::new(calendars),
            Arc::new(snapshot.calendars.clone()),
            stages,
        ))
    }
}
