//! Resource limits: per tenant (in its TOML config) and for the whole engine.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The largest value of each bounded limit, by field name: what
/// [`Limits::validate`] enforces and the OpenAPI schema states (a test
/// holds the two together).
const LIMIT_CEILINGS: [(&str, u64); 6] = [
    ("timeout_ms", 60_000),
    ("output_bytes", 64 << 20),
    ("module_bytes", 256 << 20),
    ("log_lines", 10_000),
    ("log_line_bytes", 64 << 10),
    // Fuel is bounded in practice by the deadline; this ceiling keeps it
    // within what every JSON reader (and the OpenAPI document) represents
    // exactly.
    ("fuel", i64::MAX as u64),
];

/// Limits of one plugin call. Every field has a safe default; a tenant's
/// config may override any of them (up to the engine's ceilings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per call.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807u64)
    )]
    pub fuel: u64,
    /// Wall-clock deadline per call, in milliseconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60_000))]
    pub timeout_ms: u64,
    /// Linear memory cap per instance, in bytes (up to the engine's
    /// ceiling, 64 MiB by default).
    #[cfg_attr(feature = "openapi", schema(minimum = 65_536, maximum = 67_108_864))]
    pub memory_bytes: u64,
    /// Cap on the encoded size of one decision, in bytes.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 67_108_864))]
    pub output_bytes: u64,
    /// Cap on the size of an installed module, in bytes.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 268_435_456))]
    pub module_bytes: u64,
    /// Log lines kept per call; further lines are counted, not kept.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10_000))]
    pub log_lines: u32,
    /// Longest log line kept, in bytes; longer lines are truncated.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 65_536))]
    pub log_line_bytes: u32,
    /// Limits of single plugins, by plugin name, where they differ from
    /// the ones above: a plugin named here is compiled and called under the
    /// tenant's limits with these replaced (e.g. a 12 MB JavaScript
    /// component's `module_bytes`), and the tenant's other plugins keep
    /// theirs. Set by whoever sets the tenant's limits (the operator).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub plugins: BTreeMap<String, LimitOverrides>,
}

/// The limits one plugin has in place of its tenant's; any left out are
/// the tenant's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct LimitOverrides {
    /// Fuel per call.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807u64)
    )]
    pub fuel: Option<u64>,
    /// Wall-clock deadline per call, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60_000))]
    pub timeout_ms: Option<u64>,
    /// Linear memory cap per instance, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 65_536, maximum = 67_108_864))]
    pub memory_bytes: Option<u64>,
    /// Cap on the encoded size of one decision, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 67_108_864))]
    pub output_bytes: Option<u64>,
    /// Cap on the size of the installed module, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 268_435_456))]
    pub module_bytes: Option<u64>,
    /// Log lines kept per call.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10_000))]
    pub log_lines: Option<u32>,
    /// Longest log line kept, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 65_536))]
    pub log_line_bytes: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 50_000_000,
            timeout_ms: 100,
            memory_bytes: 16 << 20,
            output_bytes: 256 << 10,
            module_bytes: 8 << 20,
            log_lines: 100,
            log_line_bytes: 2048,
            plugins: BTreeMap::new(),
        }
    }
}

impl Limits {
    /// The largest value of each bounded limit, by field name: what
    /// [`Limits::validate`] enforces and the OpenAPI schema states.
    pub const CEILINGS: [(&'static str, u64); 6] = LIMIT_CEILINGS;

    /// The limits `plugin` is compiled and called under: these, with the
    /// plugin's overrides (if it has any) in place.
    pub fn for_plugin(&self, plugin: &str) -> Cow<'_, Limits> {
        match self.plugins.get(plugin) {
            Some(o) => Cow::Owned(self.overridden_by(o)),
            None => Cow::Borrowed(self),
        }
    }

    /// These limits with each one `o` sets replaced: the limits of one
    /// plugin, so without per-plugin limits of their own.
    pub fn overridden_by(&self, o: &LimitOverrides) -> Limits {
        Limits {
            fuel: o.fuel.unwrap_or(self.fuel),
            timeout_ms: o.timeout_ms.unwrap_or(self.timeout_ms),
            memory_bytes: o.memory_bytes.unwrap_or(self.memory_bytes),
            output_bytes: o.output_bytes.unwrap_or(self.output_bytes),
            module_bytes: o.module_bytes.unwrap_or(self.module_bytes),
            log_lines: o.log_lines.unwrap_or(self.log_lines),
            log_line_bytes: o.log_line_bytes.unwrap_or(self.log_line_bytes),
            plugins: BTreeMap::new(),
        }
    }

    /// Checks the limits, and every plugin's, against the engine's ceilings.
    ///
    /// # Errors
    /// The first limit over its ceiling or the engine's, named with both
    /// values (and the plugin, for a plugin's own limits).
    pub fn validate(&self, engine: &EngineConfig) -> Result<(), String> {
        self.validate_one(engine)?;
        for plugin in self.plugins.keys() {
            self.for_plugin(plugin)
                .validate_one(engine)
                .map_err(|e| e.replacen("limits.", &format!("limits.plugins.{plugin}."), 1))?;
        }
        Ok(())
    }

    fn validate_one(&self, engine: &EngineConfig) -> Result<(), String> {
        if self.memory_bytes > engine.max_memory_bytes {
            return Err(format!(
                "limits.memory_bytes = {} is over the engine ceiling of {} bytes",
                self.memory_bytes, engine.max_memory_bytes
            ));
        }
        if self.fuel == 0
            || self.timeout_ms == 0
            || self.output_bytes == 0
            || self.module_bytes == 0
        {
            return Err(
                "limits.fuel, timeout_ms, output_bytes and module_bytes must be positive".into(),
            );
        }
        if self.memory_bytes < 64 << 10 {
            return Err("limits.memory_bytes must be at least one wasm page (65536)".into());
        }
        // Memory is bounded by the engine's ceiling, above.
        for (name, value, max) in [
            ("timeout_ms", self.timeout_ms, LIMIT_CEILINGS[0].1),
            ("output_bytes", self.output_bytes, LIMIT_CEILINGS[1].1),
            ("module_bytes", self.module_bytes, LIMIT_CEILINGS[2].1),
            ("log_lines", self.log_lines.into(), LIMIT_CEILINGS[3].1),
            (
                "log_line_bytes",
                self.log_line_bytes.into(),
                LIMIT_CEILINGS[4].1,
            ),
            ("fuel", self.fuel, LIMIT_CEILINGS[5].1),
        ] {
            if value > max {
                return Err(format!(
                    "limits.{name} = {value} is over its ceiling of {max}"
                ));
            }
        }
        Ok(())
    }
}

/// How much of [`EngineConfig::keep_resident_bytes`] is used when dirty
/// pages cannot be scanned for. Measured (suite bench): 128 KiB covers
/// what the example plugins touch (64 KiB stack, data, bump heap), so a
/// slot is reset by a short memset; 1 MiB memsets pages nobody touched;
/// 64 KiB made the Rust pipeline 70% slower (the SDK's stack alone fills
/// it) and 0 returns every page with madvise and TLB shootdowns.
pub(crate) const UNSCANNED_KEEP_RESIDENT: usize = 128 << 10;

/// Engine-wide settings: shared by every tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Where precompiled artifacts are cached; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Plugin instances that may be alive at once (pooling allocator slots).
    pub max_instances: u32,
    /// Ceiling of any tenant's memory limit, in bytes.
    pub max_memory_bytes: u64,
    /// Epoch tick, in microseconds: the resolution of wall-clock deadlines.
    pub epoch_tick_us: u64,
    /// Wasm stack per call, in bytes.
    pub max_wasm_stack: usize,
    /// Bytes of each freed memory (and table) slot kept resident and reset
    /// in place, to spare the next instance page faults. Without the
    /// dirty-page scan (`scan_dirty_pages` off, or a kernel before 6.7) at
    /// most 128 KiB of it is used: every byte kept is then reset whether a
    /// call touched it or not.
    pub keep_resident_bytes: usize,
    /// Find the pages a call dirtied with the kernel's `PAGEMAP_SCAN`
    /// (Linux 6.7+; ignored elsewhere) and reset only those, instead of
    /// the first `keep_resident_bytes` whole.
    pub scan_dirty_pages: bool,
    /// Map plugins' initial memory copy-on-write from their image (true),
    /// or copy their (small) data segments into each new instance (false).
    pub memory_init_cow: bool,
    /// Plugins whose compiled code stays in memory; the least recently used
    /// beyond this are evicted and reloaded on their next call (from
    /// `cache_dir` if set, else compiled again).
    pub max_resident_plugins: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_dir: None,
            max_instances: 128,
            max_memory_bytes: 64 << 20,
            epoch_tick_us: 1_000,
            max_wasm_stack: 512 << 10,
            // Measured (polyglot bench): with the scan only dirtied pages
            // are reset, so keeping more costs the small Rust plugins
            // nothing, while the interpreters, which dirty megabytes per
            // call, are spared re-faulting them: 4 MiB against 128 KiB took
            // QuickJS routing from 283 to 205 µs, StarlingMonkey's from
            // 1.53 to 1.21 ms and Python's from 1.71 to 1.62 ms; 16 MiB
            // measured as 4 MiB.
            keep_resident_bytes: 4 << 20,
            scan_dirty_pages: true,
            memory_init_cow: true,
            max_resident_plugins: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_routing_override(o: LimitOverrides) -> Limits {
        Limits {
            fuel: 1_000_000,
            plugins: BTreeMap::from([("routing".to_string(), o)]),
            ..Limits::default()
        }
    }

    #[test]
    fn a_plugin_runs_under_its_overrides_and_the_rest_of_the_tenants() {
        let tenant = with_routing_override(LimitOverrides {
            module_bytes: Some(16 << 20),
            fuel: Some(80_000_000),
            ..LimitOverrides::default()
        });
        let routing = tenant.for_plugin("routing");
        assert_eq!(
            (routing.module_bytes, routing.fuel, routing.timeout_ms),
            (16 << 20, 80_000_000, tenant.timeout_ms)
        );
        assert!(routing.plugins.is_empty());
        // Any other plugin has the tenant's limits, borrowed.
        assert!(matches!(tenant.for_plugin("billing"), Cow::Borrowed(l) if l == &tenant));
    }

    #[test]
    fn a_plugins_limits_are_validated_and_named() {
        let engine = EngineConfig::default();
        let over = with_routing_override(LimitOverrides {
            memory_bytes: Some(128 << 20),
            ..LimitOverrides::default()
        });
        let err = over.validate(&engine).unwrap_err();
        assert!(
            err.starts_with("limits.plugins.routing.memory_bytes = 134217728 is over"),
            "{err}"
        );
        let zero = with_routing_override(LimitOverrides {
            fuel: Some(0),
            ..LimitOverrides::default()
        });
        assert!(
            zero.validate(&engine)
                .unwrap_err()
                .starts_with("limits.plugins.routing.fuel"),
        );
        // In a tenant's TOML: `[limits.plugins.NAME]`, unknown keys refused.
        let parsed: Limits =
            toml::from_str("fuel = 5\n[plugins.routing]\nmodule_bytes = 16_000_000\n").unwrap();
        assert_eq!(parsed.for_plugin("routing").module_bytes, 16_000_000);
        let typo = toml::from_str::<Limits>("[plugins.routing]\nmodule_byte = 1\n").unwrap_err();
        assert!(
            typo.to_string().contains("unknown field `module_byte`"),
            "{typo}"
        );
    }
}
