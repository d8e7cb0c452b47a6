//! `docket check`: validate a plugin and describe it.

use anyhow::Context as _;
use docket_engine::config::{LimitOverrides, TenantConfig};
use docket_engine::contract::Capability;
use docket_engine::types::Context;
use docket_engine::{Docket, EngineConfig, Limits, PluginError, PluginSource};
use docket_guests as builtin;
use docket_nocode as nocode;
use std::path::PathBuf;
use std::process::ExitCode;

/// The limits a plugin is checked under: the defaults, or a tenant
/// config's, with single limits overridden by flags.
#[derive(clap::Args, Debug, Default)]
pub struct LimitArgs {
    /// Check under this tenant config's `[limits]`.
    #[arg(long, value_name = "TENANT.toml")]
    config: Option<PathBuf>,
    /// With `--config`: check under the limits the config gives the plugin
    /// of this name (`[limits.plugins.NAME]` in place of the tenant's).
    #[arg(long, value_name = "NAME", requires = "config")]
    limits_of: Option<String>,
    /// Fuel per call.
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock deadline per call, in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Linear memory cap, in bytes.
    #[arg(long)]
    memory_bytes: Option<u64>,
    /// Module size cap, in bytes.
    #[arg(long)]
    module_bytes: Option<u64>,
}

impl LimitArgs {
    /// The limits to check under, validated against the engine's ceilings
    /// (a tenant config's limits as a whole, then the ones checked under).
    fn resolve(&self, engine: &EngineConfig) -> anyhow::Result<Limits> {
        let base = match &self.config {
            Some(path) => {
                let tenant = TenantConfig::from_file(path)?.limits;
                tenant.validate(engine).map_err(anyhow::Error::msg)?;
                match &self.limits_of {
                    Some(name) => tenant.for_plugin(name).into_owned(),
                    None => tenant,
                }
            }
            None => Limits::default(),
        };
        let flags = LimitOverrides {
            fuel: self.fuel,
            timeout_ms: self.timeout_ms,
            memory_bytes: self.memory_bytes,
            module_bytes: self.module_bytes,
            ..LimitOverrides::default()
        };
        let limits = base.overridden_by(&flags);
        limits.validate(engine).map_err(anyhow::Error::msg)?;
        Ok(limits)
    }
}

/// Loads the plugin under the given limits, prints what it exports (and
/// its templates), or the typed error that makes it unusable.
pub fn run(source: &str, json: bool, limit_args: &LimitArgs) -> anyhow::Result<ExitCode> {
    let engine_config = EngineConfig::default();
    let limits = limit_args.resolve(&engine_config)?;
    let mut bytes = match source.strip_prefix("builtin:") {
        Some(name) => builtin::plugin(name)
            .with_context(|| format!("no builtin plugin `{name}`"))?
            .to_vec(),
        None => std::fs::read(source).with_context(|| format!("reading {source}"))?,
    };
    // Rule documents are compiled here, so errors name the real file.
    if source.ends_with(".wasm") && !bytes.starts_with(b"\0asm") {
        let error = PluginError::InvalidWasm {
            reason: "the file does not start with the WebAssembly magic number".into(),
        };
        return Ok(reject(source, json, &error));
    }
    if nocode::is_rule_document(&bytes) {
        let text = String::from_utf8(bytes).expect("checked UTF-8");
        match nocode::compile(&text, source) {
            Ok(compiled) => bytes = compiled.component,
            Err(report) => {
                if json {
                    let (line, column) = report.first_position().unwrap_or((0, 0));
                    let error = serde_json::json!({
                        "kind": "invalid_rules",
                        "message": report.errors[0].message,
                        "hint": report.errors[0].hint,
                        "line": line,
                        "column": column,
                        "report": report.to_string(),
                    });
                    println!(
                        "{}",
                        serde_json::json!({ "source": source, "ok": false, "error": error })
                    );
                } else {
                    print!("{report}");
                }
                return Ok(ExitCode::from(1));
            }
        }
    }
    let docket = Docket::new(engine_config)?;
    // Rule documents were compiled above: what is left is wasm.
    let compiled = match PluginSource::wasm(&bytes).and_then(|s| docket.compile(s, &limits)) {
        Ok((p, _)) => p,
        Err(error) => return Ok(reject(source, json, &error)),
    };
    let templates = if compiled.has(Capability::Template) {
        let ctx = Context {
            tenant: "check".into(),
            now: 0,
            settings: vec![],
            agents: vec![],
            history: vec![],
            calendars: vec![],
        };
        let (result, _) = docket.templates(&compiled, &ctx, &limits);
        Some(result.map_err(|e| anyhow::anyhow!("calling templates(): {e}"))?)
    } else {
        None
    };
    let info = compiled.info();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "source": source,
                "ok": true,
                "plugin": info,
                // The wire shape, as the service answers forms.
                "templates": templates
                    .as_ref()
                    .map(|ts| ts.iter().map(docket_contract::wire::Wire).collect::<Vec<_>>()),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{source}: OK");
    println!(
        "  contract      docket:plugin@{}",
        docket_contract::CONTRACT_VERSION
    );
    println!("  sha256        {}", info.hash);
    println!(
        "  size          {} bytes ({})",
        info.size,
        if info.componentized {
            "core module, componentized by the host"
        } else {
            "component"
        }
    );
    let caps: Vec<String> = info.capabilities.iter().map(|c| c.to_string()).collect();
    println!("  capabilities  {}", caps.join(", "));
    println!(
        "  imports       {}",
        if info.imports.is_empty() {
            "none".to_string()
        } else {
            info.imports.join(", ")
        }
    );
    for t in templates.unwrap_or_default() {
        let cats = if t.categories.is_empty() {
            "all".to_string()
        } else {
            t.categories.join(", ")
        };
        println!(
            "  template      {} \"{}\" (categories: {cats})",
            t.id, t.name
        );
        for f in &t.fields {
            let mut flags = Vec::new();
            if f.required.on_create {
                flags.push("required");
            }
            if f.required.on_solve {
                flags.push("required to solve");
            }
            if f.visible_when.is_some() {
                flags.push("conditional");
            }
            if f.depends_on.is_some() {
                flags.push("dependent");
            }
            println!(
                "    - {:<18} {:<24} {}",
                f.key,
                kind_name(&f.kind),
                flags.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints why a plugin is unusable; the exit code says so.
fn reject(source: &str, json: bool, error: &PluginError) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({ "source": source, "ok": false, "error": error })
        );
    } else {
        println!("{source}: REJECTED ({})\n  {error}", error.kind());
    }
    ExitCode::from(1)
}

fn kind_name(
    k: &docket_contract::bindings::exports::docket::plugin::template::FieldKind,
) -> String {
    use docket_contract::bindings::exports::docket::plugin::template::FieldKind as K;
    match k {
        K::Text(_) => "text".into(),
        K::Textarea => "textarea".into(),
        K::Integer(_) => "integer".into(),
        K::Decimal(s) => format!("decimal({s})"),
        K::Date => "date".into(),
        K::Datetime => "datetime".into(),
        K::Checkbox => "checkbox".into(),
        K::Dropdown(c) => format!("dropdown({} options)", c.len()),
        K::MultiSelect(c) => format!("multi-select({} options)", c.len()),
        K::Regex(r) => format!("regex /{r}/"),
        K::Money(c) => format!("money({c})"),
    }
}
