//! A tenant's TOML configuration: limits, calendars, agents and the plugin
//! pipeline with each plugin's settings. Loading is all-or-nothing: every
//! plugin is compiled and every calendar checked before the tenant changes.
//! Also the tenant's workflows as the host enforces them ([`Workflows`],
//! from the pipeline's workflow plugins, and a ticket's [`Position`]).

pub use crate::calendar::{BusinessCalendar, CalendarConfig, compile_all as compile_calendars};
use crate::error::DocketError;
/// One plugin's limits in place of its tenant's (`[limits.plugins.NAME]`).
pub use crate::limits::LimitOverrides;
use crate::limits::Limits;
use crate::pipeline::{FailurePolicy, PipelineStep};
use crate::registry::{Docket, TenantState, install_error};
use crate::source::PluginSource;
pub use crate::workflow::{
    MoveError, Mover, Position, PositionInput, StageDef, TransitionDef, Workflow, Workflows,
    is_name,
};
use docket_contract::EventKindName;
use docket_contract::bindings::docket::plugin::types::{
    Agent, Decimal, FieldValue, Money, Setting,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A tenant configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id.
    pub tenant: String,
    /// Limits of every plugin call (defaults are safe).
    #[serde(default)]
    pub limits: Limits,
    /// Business calendars.
    #[serde(default)]
    pub calendars: Vec<CalendarConfig>,
    /// Agents routing may pick (their baseline load).
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// The pipeline, in order.
    #[serde(default)]
    pub plugins: Vec<PluginConfig>,
}

/// An agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9_-]{1,64}$"))]
    pub id: String,
    /// Display name (defaults to the id).
    #[serde(default)]
    pub name: Option<String>,
    /// Group.
    pub group: String,
    /// Skills.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Seniority, 1 = junior.
    #[serde(default = "one")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 255))]
    pub level: u8,
    /// Tickets open outside this replay.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 1_000_000))]
    pub open_tickets: u32,
    /// On shift.
    #[serde(default = "yes")]
    pub available: bool,
}

fn one() -> u8 {
    1
}

fn yes() -> bool {
    true
}

impl AgentConfig {
    /// The contract's view of the agent.
    pub fn to_agent(&self) -> Agent {
        Agent {
            id: self.id.clone(),
            name: self.name.clone().unwrap_or_else(|| self.id.clone()),
            group: self.group.clone(),
            skills: self.skills.clone(),
            level: self.level,
            open_tickets: self.open_tickets,
            available: self.available,
        }
    }
}

/// A pipeline step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Name, unique within the tenant.
    pub name: String,
    /// `builtin:<name>` for an example plugin shipped in the binary, or a
    /// path to a `.wasm` file (relative to the config file).
    pub source: String,
    /// What a failure does: `skip` (default) or `fail-event`.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Settings passed to the plugin.
    #[serde(default)]
    pub settings: toml::Table,
    /// Event kinds the plugin runs for (e.g. `["time_logged", "part_used"]`);
    /// absent or empty: every event.
    #[serde(default)]
    pub events: Vec<EventKindName>,
}

impl TenantConfig {
    /// Reads and parses a config file.
    ///
    /// # Errors
    /// The file cannot be read, or does not parse (naming the file).
    pub fn from_file(path: &Path) -> anyhow::Result<TenantConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Parses a config document.
    ///
    /// # Errors
    /// [`DocketError::Config`] with the TOML parser's message (line and column).
    pub fn parse(text: &str) -> Result<TenantConfig, DocketError> {
        toml::from_str(text).map_err(|e| DocketError::Config(e.to_string()))
    }
}

/// Converts a TOML setting to a typed value. Floats are refused: money is
/// `{ amount_minor, currency }`, decimals `{ mantissa, scale }`.
///
/// # Errors
/// A float (money and decimals have their own forms), or a value of no setting type,
/// naming the key.
pub fn setting_value(key: &str, v: &toml::Value) -> Result<FieldValue, String> {
    use toml::Value as V;
    Ok(match v {
        V::String(s) => FieldValue::Text(s.clone()),
        V::Integer(i) => FieldValue::Integer(*i),
        V::Boolean(b) => FieldValue::Checkbox(*b),
        V::Float(f) => {
            return Err(format!(
                "setting `{key}` = {f}: floats are not allowed; write money as {{ amount_minor = …, currency = \"EUR\" }} and decimals as {{ mantissa = …, scale = … }}"
            ));
        }
        V::Datetime(d) => {
            let ts: jiff::Timestamp = d.to_string().parse().map_err(|e| {
                format!("setting `{key}`: {d} is not an instant with an offset: {e}")
            })?;
            FieldValue::Datetime(ts.as_millisecond())
        }
        V::Array(items) => FieldValue::Choices(
            items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("setting `{key}`: lists may hold only strings"))
                })
                .collect::<Result<_, _>>()?,
        ),
        V::Table(t) => {
            let int = |k: &str| t.get(k).and_then(toml::Value::as_integer);
            let keys: Vec<&str> = t.keys().map(String::as_str).collect();
            match keys.as_slice() {
                ["amount_minor", "currency"] | ["currency", "amount_minor"] => {
                    match (int("amount_minor"), t["currency"].as_str()) {
                        (Some(a), Some(c))
                            if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) =>
                        {
                            FieldValue::Money(Money {
                                amount_minor: a,
                                currency: c.to_string(),
                            })
                        }
                        _ => {
                            return Err(format!(
                                "setting `{key}`: money needs an integer amount_minor and an ISO currency like \"EUR\""
                            ));
                        }
                    }
                }
                ["mantissa", "scale"] | ["scale", "mantissa"] => {
                    match (int("mantissa"), int("scale")) {
                        (Some(m), Some(s)) if (0..=18).contains(&s) => {
                            FieldValue::Decimal(Decimal {
                                mantissa: m,
                                scale: s as u8,
                            })
                        }
                        _ => {
                            return Err(format!(
                                "setting `{key}`: a decimal needs an integer mantissa and a scale 0..=18"
                            ));
                        }
                    }
                }
                _ => {
                    return Err(format!(
                        "setting `{key}`: a table must be money {{amount_minor, currency}} or a decimal {{mantissa, scale}}"
                    ));
                }
            }
        }
    })
}

/// Flattens nested tables into dotted keys (`rate.onsite`), so TOML's
/// `[plugins.settings.rate]` sections work as expected; money and decimal
/// tables stay values.
fn flatten_settings(
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<Setting>,
) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t)
                if !(t.contains_key("amount_minor") || t.contains_key("mantissa")) =>
            {
                flatten_settings(&key, t, out)?
            }
            other => out.push(Setting {
                key: key.clone(),
                value: setting_value(&key, other)?,
            }),
        }
    }
    Ok(())
}

/// Converts a settings table.
///
/// # Errors
/// As [`setting_value`], for the first setting that is not one.
pub fn settings_of(table: &toml::Table) -> Result<Vec<Setting>, String> {
    let mut out = Vec::new();
    flatten_settings("", table, &mut out)?;
    Ok(out)
}

/// Loads a tenant from its config into the engine, replacing any previous
/// state of that tenant only if everything is valid. `base` resolves
/// relative plugin paths; `builtin` resolves `builtin:` sources.
///
/// # Errors
/// [`DocketError::Config`] for limits, calendars, sources or settings that are wrong,
/// [`DocketError::Install`] for a plugin that does not compile; the tenant is then
/// unchanged.
pub fn load_tenant(
    docket: &Docket,
    config: &TenantConfig,
    base: &Path,
    builtin: &dyn Fn(&str) -> Option<&'static [u8]>,
) -> Result<(), DocketError> {
    let mut state = TenantState::new(&config.tenant, config.limits.clone());
    state
        .limits
        .validate(docket.config())
        .map_err(DocketError::Config)?;
    state.set_calendars(&config.calendars)?;
    let mut steps = Vec::new();
    for p in &config.plugins {
        let bytes = read_source(&p.source, base, builtin)
            .map_err(|e| DocketError::Config(format!("plugin `{}`: {e}", p.name)))?;
        if state.plugins.contains_key(&p.name) {
            return Err(DocketError::Config(format!(
                "plugin `{}` is listed twice",
                p.name
            )));
        }
        let (compiled, _) = PluginSource::from_bytes(&bytes)
            .and_then(|source| docket.compile(source, &state.limits.for_plugin(&p.name)))
            .map_err(|error| install_error(&config.tenant, &p.name, error))?;
        // The same path as an API install and activation.
        let version = state.install(&p.name, compiled);
        state.activate(&p.name, &version.version.to_string())?;
        let settings = settings_of(&p.settings)
            .map_err(|e| DocketError::Config(format!("plugin `{}`: {e}", p.name)))?;
        steps.push(PipelineStep {
            plugin: p.name.clone(),
            settings,
            on_failure: p.on_failure,
            events: p.events.clone(),
        });
    }
    state.set_pipeline(steps)?;
    docket.put_state(state)
}

fn read_source(
    source: &str,
    base: &Path,
    builtin: &dyn Fn(&str) -> Option<&'static [u8]>,
) -> Result<Vec<u8>, String> {
    if let Some(name) = source.strip_prefix("builtin:") {
        return builtin(name)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("no builtin plugin `{name}`"));
    }
    let path: PathBuf = base.join(source);
    std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_typed_and_floats_refused() {
        let t: toml::Table = toml::from_str(
            "max_open = 4\ncurrency = \"EUR\"\nvip = true\n[rate]\nonsite = { amount_minor = 12000, currency = \"EUR\" }\n",
        )
        .unwrap();
        let s = settings_of(&t).unwrap();
        let get = |k: &str| s.iter().find(|x| x.key == k).unwrap().value.clone();
        assert_eq!(get("max_open"), FieldValue::Integer(4));
        assert_eq!(
            get("rate.onsite"),
            FieldValue::Money(Money {
                amount_minor: 12000,
                currency: "EUR".into()
            })
        );
        assert_eq!(get("vip"), FieldValue::Checkbox(true));
        let bad: toml::Table = toml::from_str("rate = 1.5").unwrap();
        assert!(
            settings_of(&bad)
                .unwrap_err()
                .contains("floats are not allowed")
        );
        let bad: toml::Table =
            toml::from_str("x = { amount_minor = 5, currency = \"eur\" }").unwrap();
        assert!(settings_of(&bad).unwrap_err().contains("ISO currency"));
    }
}
