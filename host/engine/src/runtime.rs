//! The shared wasmtime engine: configuration (fuel, epochs, pooling), the
//! linker with the host's imports, the epoch ticker, and compilation with an
//! in-memory and on-disk cache keyed by content hash.

use crate::cache::ArtifactCache;
use crate::compiled::{self, Compiled, Plugin};
use crate::error::PluginError;
use crate::host_state::HostState;
use crate::limits::{EngineConfig, Limits, UNSCANNED_KEEP_RESIDENT};
use crate::resident::{Loader, ResidentStats};
use crate::sandbox::{self, CallInput, CallStats, Decision, Declaration};
use crate::source::PluginSource;
use docket_contract::Capability;
use docket_contract::bindings::Plugin as PluginWorld;
use docket_contract::types::Context;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{ComponentNamedList, HasSelf, Lift, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Where a compiled plugin came from, for cold-start accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    /// Already compiled in this process.
    Memory,
    /// Loaded from the on-disk artifact cache.
    Disk,
    /// Checked before (its description and artifact are in the on-disk
    /// cache): nothing is loaded until the plugin's first call.
    Deferred,
    /// Compiled now.
    Compiled,
}

/// Increments the engine's epoch every tick until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("docket-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch ticker");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The engine every tenant shares.
pub(crate) struct Runtime {
    loader: Loader,
    compiled: Mutex<HashMap<String, Plugin>>,
    config: EngineConfig,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Builds the engine.
    pub fn new(config: EngineConfig) -> anyhow::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::default();
        let scanned =
            config.scan_dirty_pages && PoolingAllocationConfig::is_pagemap_scan_available();
        let keep_resident = if scanned {
            config.keep_resident_bytes
        } else {
            config.keep_resident_bytes.min(UNSCANNED_KEEP_RESIDENT)
        };
        let n = config.max_instances;
        pool.total_component_instances(n)
            .total_core_instances(n)
            .total_memories(n)
            .total_tables(n)
            .max_memory_size(config.max_memory_bytes as usize)
            // Reset the first pages of a freed slot with memset instead of
            // returning them to the kernel (see `keep_resident_bytes`).
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(keep_resident);
        if scanned {
            pool.pagemap_scan(wasmtime::Enabled::Auto);
        }
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(config.max_wasm_stack)
            .memory_init_cow(config.memory_init_cow)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)?;
        let mut linker = Linker::new(&engine);
        PluginWorld::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        let cache = match &config.cache_dir {
            Some(dir) => Some(ArtifactCache::new(dir, &engine)?),
            None => None,
        };
        let tick = Duration::from_micros(config.epoch_tick_us.max(100));
        let ticker = EpochTicker::start(engine.clone(), tick);
        let loader = Loader::new(engine, linker, cache, config.max_resident_plugins);
        Ok(Runtime {
            loader,
            compiled: Mutex::new(HashMap::new()),
            config,
            _ticker: ticker,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        self.loader.engine()
    }

    /// How many plugins' compiled forms are in memory, and how often the
    /// resident set reloaded and evicted.
    pub fn resident_stats(&self) -> ResidentStats {
        self.loader.stats()
    }

    /// The engine settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The epoch tick.
    pub fn epoch_tick(&self) -> Duration {
        Duration::from_micros(self.config.epoch_tick_us.max(100))
    }

    /// Compiles a plugin, reusing a compiled copy of the same bytes from
    /// memory or the on-disk cache.
    pub(crate) fn compile(
        &self,
        source: PluginSource<'_>,
        limits: &Limits,
    ) -> Result<(Plugin, CompileSource), PluginError> {
        let bytes = source.bytes();
        if bytes.len() as u64 > limits.module_bytes {
            return Err(PluginError::ModuleTooLarge {
                size: bytes.len() as u64,
                limit: limits.module_bytes,
            });
        }
        let hash = compiled::content_hash(bytes);
        if let Some(p) = self.compiled.lock().expect("compiled map").get(&hash) {
            return Ok((p.clone(), CompileSource::Memory));
        }
        if let Some(info) = self.loader.cached_info(&hash) {
            let deferred = Arc::new(Compiled::new(info, &source, None));
            self.loader.register(&deferred);
            let deferred = Plugin { inner: deferred };
            self.compiled
                .lock()
                .expect("compiled map")
                .insert(hash, deferred.clone());
            return Ok((deferred, CompileSource::Deferred));
        }
        let span = tracing::info_span!("compile", hash = &hash[..12], size = bytes.len());
        let _enter = span.enter();
        let (component, from_disk) = self.loader.component(&hash, source)?;
        let compile_source = if from_disk {
            CompileSource::Disk
        } else {
            CompileSource::Compiled
        };
        let linked = compiled::link(self.engine(), self.loader.linker(), &component)?;
        sandbox::type_check(self.engine(), &linked, limits)?;
        let info = compiled::PluginInfo {
            hash: hash.clone(),
            size: bytes.len() as u64,
            // Core modules and no-code rule documents become components here.
            componentized: !matches!(source, PluginSource::Component(_)),
            capabilities: linked.capabilities.iter().copied().collect(),
            imports: linked.imports.clone(),
        };
        let compiled = Arc::new(Compiled::new(info, &source, Some(linked)));
        self.loader.register(&compiled);
        self.loader.checked(&compiled.info);
        let compiled = Plugin { inner: compiled };
        self.compiled
            .lock()
            .expect("compiled map")
            .insert(hash, compiled.clone());
        tracing::info!(source = ?compile_source, capabilities = ?compiled.info().capabilities, "plugin ready");
        Ok((compiled, compile_source))
    }

    /// Runs one capability of a plugin in a fresh store.
    pub(crate) fn call(
        &self,
        plugin: &Plugin,
        capability: Capability,
        input: &CallInput<'_>,
        limits: &Limits,
    ) -> (Result<Decision, PluginError>, CallStats) {
        match self.loader.linked(&plugin.inner) {
            Ok(linked) => sandbox::call(
                self.engine(),
                &linked,
                capability,
                input,
                limits,
                self.epoch_tick(),
            ),
            Err(e) => (Err(e), CallStats::default()),
        }
    }

    /// Asks a plugin for a declaration: its templates
    /// (`Declaration::Templates`, a `Vec<TicketTemplate>`) or its workflows
    /// (`Declaration::Workflows`, a `Vec<WorkflowDef>`).
    pub(crate) fn declaration<R>(
        &self,
        plugin: &Plugin,
        declaration: Declaration,
        context: &Context,
        limits: &Limits,
    ) -> (Result<R, PluginError>, CallStats)
    where
        (R,): ComponentNamedList + Lift,
    {
        match self.loader.linked(&plugin.inner) {
            Ok(linked) => sandbox::call_declaration(
                self.engine(),
                &linked,
                declaration,
                context,
                limits,
                self.epoch_tick(),
            ),
            Err(e) => (Err(e), CallStats::default()),
        }
    }
}
