//! The resident set: the compiled, linked form of a plugin (what a call
//! instantiates) is kept for at most `max_resident_plugins` plugins; the
//! least recently used are evicted and reloaded on their next call, from the
//! on-disk artifact cache when there is one, else by compiling the installed
//! bytes again. A call holds its own reference to the resident form, so an
//! eviction never pulls code from under a running call.

use crate::cache::ArtifactCache;
use crate::error::PluginError;
use crate::plugin::{self, CompiledPlugin, Linked, PluginInfo};
use crate::sandbox::HostState;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

/// Loads plugins' compiled forms and bounds how many stay in memory.
pub(crate) struct Loader {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<ArtifactCache>,
    capacity: usize,
    /// Logical clock for "recently used".
    clock: AtomicU64,
    /// Every plugin ever registered (dead ones are pruned on eviction scans).
    plugins: Mutex<Vec<Weak<CompiledPlugin>>>,
    resident: AtomicUsize,
    reloads: AtomicU64,
    first_loads: AtomicU64,
    evictions: AtomicU64,
}

/// What the resident set did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResidentStats {
    /// Plugins whose compiled form is in memory now.
    pub resident: usize,
    /// Reloads after an eviction.
    pub reloads: u64,
    /// Loads at the first call of plugins installed deferred (see
    /// `CompileSource::Deferred`).
    pub first_loads: u64,
    /// Evictions.
    pub evictions: u64,
}

impl Loader {
    pub(crate) fn new(
        engine: Engine,
        linker: Linker<HostState>,
        cache: Option<ArtifactCache>,
        capacity: usize,
    ) -> Loader {
        Loader {
            engine,
            linker,
            cache,
            capacity: capacity.max(1),
            clock: AtomicU64::new(0),
            plugins: Mutex::new(Vec::new()),
            resident: AtomicUsize::new(0),
            reloads: AtomicU64::new(0),
            first_loads: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// A fresh "now" for recency.
    pub(crate) fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The component for `hash`: from the disk cache, else compiled from
    /// the installed bytes (and stored in the cache).
    pub(crate) fn component(
        &self,
        hash: &str,
        bytes: &[u8],
        module_limit: u64,
    ) -> Result<(Component, bool), PluginError> {
        if let Some(c) = self.cache.as_ref().and_then(|c| c.load(&self.engine, hash)) {
            return Ok((c, true));
        }
        let component_bytes = plugin::prepare(bytes, module_limit)?;
        let component = Component::new(&self.engine, &component_bytes).map_err(|e| {
            PluginError::InvalidWasm {
                reason: format!("{e:#}"),
            }
        })?;
        if let Some(cache) = &self.cache
            && let Err(e) = cache.store(hash, &component)
        {
            tracing::warn!(error = %e, "could not write the artifact cache");
        }
        Ok((component, false))
    }

    /// Loads a plugin that is not resident: evicted, or installed deferred
    /// and called for the first time (`first`).
    pub(crate) fn load(&self, p: &CompiledPlugin, first: bool) -> Result<Linked, PluginError> {
        let (component, _) = self.component(&p.info.hash, &p.source, p.module_limit)?;
        let linked = plugin::link(&self.engine, &self.linker, &component)?;
        let counter = if first {
            &self.first_loads
        } else {
            &self.reloads
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(linked)
    }

    /// Adds a plugin to the set (its compiled form is resident).
    pub(crate) fn register(&self, p: &Arc<CompiledPlugin>) {
        self.track(p);
        self.admitted(p);
    }

    /// Adds a plugin whose compiled form is not loaded yet (its first call
    /// loads it).
    pub(crate) fn track(&self, p: &Arc<CompiledPlugin>) {
        self.plugins
            .lock()
            .expect("plugins")
            .push(Arc::downgrade(p));
    }

    /// What a plugin with these bytes was found to be when it was checked,
    /// if the disk cache holds that and its artifact.
    pub(crate) fn cached_info(&self, hash: &str) -> Option<PluginInfo> {
        self.cache.as_ref()?.load_info(hash)
    }

    /// Remembers on disk that the plugin passed its checks.
    pub(crate) fn checked(&self, info: &PluginInfo) {
        if let Some(cache) = &self.cache
            && let Err(e) = cache.store_info(info)
        {
            tracing::warn!(error = %e, "could not write the plugin description cache");
        }
    }

    /// Counts a plugin that became resident, evicting the least recently
    /// used others while over capacity.
    pub(crate) fn admitted(&self, p: &CompiledPlugin) {
        if self.resident.fetch_add(1, Ordering::AcqRel) < self.capacity {
            return;
        }
        let mut plugins = self.plugins.lock().expect("plugins");
        plugins.retain(|w| w.strong_count() > 0);
        while self.resident.load(Ordering::Acquire) > self.capacity {
            let victim = plugins
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|q| !std::ptr::eq(q.as_ref(), p) && q.is_resident())
                .min_by_key(|q| q.last_used());
            let Some(victim) = victim else { break };
            if victim.evict() {
                self.resident.fetch_sub(1, Ordering::AcqRel);
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A plugin dropped while resident no longer counts.
    pub(crate) fn released(&self) {
        self.resident.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn stats(&self) -> ResidentStats {
        ResidentStats {
            resident: self.resident.load(Ordering::Acquire),
            reloads: self.reloads.load(Ordering::Relaxed),
            first_loads: self.first_loads.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}
