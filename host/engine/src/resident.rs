//! The resident set: the compiled, linked form of a plugin (what a call
//! instantiates) is kept for at most `max_resident_plugins` plugins; the
//! least recently used are evicted and reloaded on their next call, from the
//! on-disk artifact cache when there is one, else by compiling the installed
//! bytes again. A call holds its own reference to the resident form, so an
//! eviction never pulls code from under a running call.

use crate::cache::ArtifactCache;
use crate::compiled::{self, Compiled, Linked, PluginInfo};
use crate::error::PluginError;
use crate::host_state::HostState;
use crate::source::PluginSource;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

/// Loads plugins' compiled forms and bounds how many stay in memory. It
/// owns the bookkeeping; the plugins only hold their slots.
pub(crate) struct Loader {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<ArtifactCache>,
    capacity: usize,
    /// Logical clock for "recently used".
    clock: AtomicU64,
    /// Every plugin ever registered (dead ones are pruned on admission).
    plugins: Mutex<Vec<Weak<Compiled>>>,
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
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The component for `hash`: from the disk cache, else compiled from
    /// the source (and stored in the cache).
    pub(crate) fn component(
        &self,
        hash: &str,
        source: PluginSource<'_>,
    ) -> Result<(Component, bool), PluginError> {
        if let Some(c) = self.cache.as_ref().and_then(|c| c.load(&self.engine, hash)) {
            return Ok((c, true));
        }
        let component_bytes = source.to_component()?;
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

    /// The linked form of a plugin, loaded again if it was evicted (or
    /// for the first time, if it was installed deferred).
    pub(crate) fn linked(&self, p: &Compiled) -> Result<Arc<Linked>, PluginError> {
        p.last_used.store(self.tick(), Ordering::Relaxed);
        if let Some(l) = p.resident() {
            return Ok(l);
        }
        let first = p.deferred.load(Ordering::Relaxed);
        let (component, _) = self.component(&p.info.hash, p.source())?;
        let linked = Arc::new(compiled::link(&self.engine, &self.linker, &component)?);
        let counter = if first {
            &self.first_loads
        } else {
            &self.reloads
        };
        counter.fetch_add(1, Ordering::Relaxed);
        p.deferred.store(false, Ordering::Relaxed);
        let mut slot = p.slot.lock().expect("slot");
        if let Some(l) = slot.as_ref() {
            // Another call loaded it meanwhile.
            return Ok(l.clone());
        }
        *slot = Some(linked.clone());
        drop(slot);
        self.admitted(p);
        Ok(linked)
    }

    /// Adds a plugin to the set: resident (its linked form is in its slot)
    /// or not loaded yet (its first call loads it).
    pub(crate) fn register(&self, p: &Arc<Compiled>) {
        p.last_used.store(self.tick(), Ordering::Relaxed);
        self.plugins
            .lock()
            .expect("plugins")
            .push(Arc::downgrade(p));
        if p.is_resident() {
            self.admitted(p);
        }
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

    /// A plugin became resident: evicts the least recently used others
    /// while over capacity. Runs only when a plugin is loaded (rare next
    /// to calls), so it may look at every plugin.
    fn admitted(&self, p: &Compiled) {
        let mut plugins = self.plugins.lock().expect("plugins");
        plugins.retain(|w| w.strong_count() > 0);
        let mut resident: Vec<Arc<Compiled>> = plugins
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|q| !std::ptr::eq(q.as_ref(), p) && q.is_resident())
            .collect();
        // The one just admitted counts too.
        let over = (resident.len() + 1).saturating_sub(self.capacity);
        resident.sort_by_key(|q| q.last_used.load(Ordering::Relaxed));
        for victim in resident.iter().take(over) {
            if victim.evict() {
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn stats(&self) -> ResidentStats {
        let resident = self
            .plugins
            .lock()
            .expect("plugins")
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|q| q.is_resident())
            .count();
        ResidentStats {
            resident,
            reloads: self.reloads.load(Ordering::Relaxed),
            first_loads: self.first_loads.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}
