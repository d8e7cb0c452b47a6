//! On-disk cache of precompiled components, keyed by module hash and by the
//! engine's compatibility hash, so a restart does not recompile and an
//! upgraded engine never loads an incompatible artifact. Beside each
//! artifact lies what the plugin was found to be when it was checked
//! (`<hash>.json`): with both, installing the same bytes again needs
//! neither a compile nor a load until the plugin's first call.
//!
//! Artifacts are memory-mapped when loaded, so files are only ever replaced
//! by an atomic rename, never rewritten in place (which would fault the
//! processes that have them mapped).

use crate::compiled::PluginInfo;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of `.cwasm` artifacts.
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// A cache under `root`, in a subdirectory for this engine's settings
    /// and this host's contract.
    pub fn new(root: &Path, engine: &Engine) -> std::io::Result<ArtifactCache> {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        // The contract too: a cached description vouches that the plugin's
        // exports match this host's bindings (calls then skip the check).
        docket_contract::WIT_SOURCES.hash(&mut h);
        let dir = root.join(format!("engine-{:016x}", h.finish()));
        std::fs::create_dir_all(&dir)?;
        Ok(ArtifactCache { dir })
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.cwasm"))
    }

    /// The cached component, if present and loadable. A corrupt or stale
    /// artifact is removed and reported as a miss.
    pub fn load(&self, engine: &Engine, hash: &str) -> Option<Component> {
        let path = self.path(hash);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `store` below from
        // `Component::serialize` of this same engine configuration (the
        // directory is keyed by the compatibility hash), and wasmtime checks
        // the artifact's header before using it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "dropping unusable cached artifact");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores the component's artifact atomically (write, then rename).
    pub fn store(&self, hash: &str, component: &Component) -> std::io::Result<()> {
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        let tmp = self
            .dir
            .join(format!("{hash}.cwasm.tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, self.path(hash))
    }

    fn info_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.json"))
    }

    /// What a checked plugin is, if both its description and its artifact
    /// are cached. An unreadable description is removed and reported as a
    /// miss (the plugin is then compiled and checked again).
    pub fn load_info(&self, hash: &str) -> Option<PluginInfo> {
        let path = self.info_path(hash);
        let text = std::fs::read(&path).ok()?;
        if !self.path(hash).exists() {
            return None;
        }
        match serde_json::from_slice::<PluginInfo>(&text) {
            Ok(info) if info.hash == hash => Some(info),
            _ => {
                tracing::warn!(path = %path.display(), "dropping unusable cached plugin description");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Records what a plugin that passed its checks is (write, then rename).
    pub fn store_info(&self, info: &PluginInfo) -> std::io::Result<()> {
        let tmp = self
            .dir
            .join(format!("{}.json.tmp{}", info.hash, std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(info)?)?;
        std::fs::rename(&tmp, self.info_path(&info.hash))
    }
}
