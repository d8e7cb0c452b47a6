//! Pipelines as values: [`Pipeline`], a tenant's steps resolved to the
//! plugin versions they run, and [`PipelineSnapshot`], what recordings
//! keep of one.
//!
//! A runnable pipeline: every step resolved to the plugin version it runs,
//! with the limits and calendars it runs under. The tenant's active
//! pipeline is one (see [`Docket::pipeline`]); so is a pipeline rebuilt
//! from what an event ran through ([`PipelineSnapshot`], for replay), and a
//! pipeline with a candidate version in place of one plugin (for simulate
//! and backtest).

use crate::calendar::{BusinessCalendar, CalendarConfig};
use crate::compiled::{Plugin, content_hash};
use crate::error::PluginError;
use crate::limits::Limits;
use crate::workflow::Workflows;
use docket_contract::EventKindName;
use docket_contract::types::Setting;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// What the pipeline does when a plugin fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// Record the error in the trace and go on without the plugin's effects.
    #[default]
    Skip,
    /// Fail the whole event: no effect of any plugin is applied.
    FailEvent,
}

/// One step of a tenant's pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineStep {
    /// The plugin name.
    pub plugin: String,
    /// Settings passed in the context.
    pub settings: Vec<Setting>,
    /// What a failure does.
    pub on_failure: FailurePolicy,
    /// The event kinds the step runs for; empty: every event. A plugin
    /// that cannot act on an event is then not instantiated for it.
    pub events: Vec<EventKindName>,
}

impl PipelineStep {
    /// Whether the step runs for an event of this kind.
    pub fn runs_for(&self, kind: EventKindName) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

/// One step ready to run: the step as configured and the version it runs.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    pub step: PipelineStep,
    /// The version number (0: a candidate that is not installed).
    pub version: u32,
    pub plugin: Plugin,
}

/// A pipeline resolved to plugin versions, ready to run events through
/// with [`Docket::run`]. Cheap to clone (the compiled plugins are shared).
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub(crate) tenant: String,
    pub(crate) limits: Limits,
    pub(crate) calendars: Arc<HashMap<String, BusinessCalendar>>,
    calendar_configs: Arc<Vec<CalendarConfig>>,
    /// Calendar names in order: what the plugins' context lists.
    pub(crate) calendar_names: Vec<String>,
    pub(crate) stages: Vec<Stage>,
    /// The snapshot as JSON, shared (recordings store it by hash).
    snapshot_json: Arc<str>,
    hash: String,
    /// The workflows its plugins define, asked for on first use (see
    /// [`Docket::workflows`]); clones share them.
    pub(crate) workflows: Arc<std::sync::OnceLock<WorkflowsResult>>,
}

/// The checked workflows of a pipeline, or the plugin whose definitions
/// failed and why.
pub(crate) type WorkflowsResult = Result<Arc<Workflows>, (String, PluginError)>;

/// One step of a pipeline as an event ran through it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSnapshot {
    /// Plugin name.
    pub plugin: String,
    /// Version number (0: a candidate that was not installed).
    pub version: u32,
    /// Content hash of the version's installed bytes.
    pub hash: String,
    /// Settings passed in the context.
    pub settings: Vec<Setting>,
    /// What a failure does.
    pub on_failure: FailurePolicy,
    /// The event kinds the step runs for; empty: every event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventKindName>,
}

/// What a pipeline was when an event ran through it: the steps with their
/// versions, the limits and the calendars. With the event's input it is
/// everything needed to run the event again and get the same decisions
/// (plugins are deterministic and see nothing else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSnapshot {
    /// The steps in order.
    pub steps: Vec<StepSnapshot>,
    /// The limits every call ran under.
    pub limits: Limits,
    /// The tenant's business calendars.
    pub calendars: Vec<CalendarConfig>,
}

impl PipelineSnapshot {
    /// The snapshot as JSON and its content hash (SHA-256 of that JSON):
    /// equal pipelines have equal hashes, so recordings store each once.
    pub fn encode(&self) -> (String, String) {
        let json = serde_json::to_string(self).expect("plain data serializes");
        let hash = content_hash(json.as_bytes());
        (json, hash)
    }
}

impl Pipeline {
    /// A pipeline of `stages` for `tenant`, its snapshot encoded once.
    pub(crate) fn new(
        tenant: &str,
        limits: Limits,
        calendars: Arc<HashMap<String, BusinessCalendar>>,
        calendar_configs: Arc<Vec<CalendarConfig>>,
        stages: Vec<Stage>,
    ) -> Pipeline {
        let mut calendar_names: Vec<String> = calendars.keys().cloned().collect();
        calendar_names.sort();
        let mut pipeline = Pipeline {
            tenant: tenant.to_string(),
            limits,
            calendars,
            calendar_configs,
            calendar_names,
            stages,
            snapshot_json: Arc::from(""),
            hash: String::new(),
            workflows: Arc::default(),
        };
        let (json, hash) = pipeline.snapshot().encode();
        pipeline.snapshot_json = Arc::from(json);
        pipeline.hash = hash;
        pipeline
    }

    /// The tenant it runs for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The content hash of its [`snapshot`](Self::snapshot).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Its [`snapshot`](Self::snapshot) as JSON, the text its
    /// [`hash`](Self::hash) is taken of.
    pub fn snapshot_json(&self) -> &Arc<str> {
        &self.snapshot_json
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The plugin names of its steps, in order.
    pub fn plugins(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().map(|s| s.step.plugin.as_str())
    }

    /// The first step's plugin that exports `capability`, if any.
    pub fn plugin_with(&self, capability: docket_contract::Capability) -> Option<&str> {
        self.stages
            .iter()
            .find(|s| s.plugin.has(capability))
            .map(|s| s.step.plugin.as_str())
    }

    /// The steps that run plugin `name` (as configured: settings, failure
    /// policy, the events they subscribe to).
    pub fn steps_of(&self, name: &str) -> Vec<PipelineStep> {
        self.stages
            .iter()
            .filter(|s| s.step.plugin == name)
            .map(|s| s.step.clone())
            .collect()
    }

    /// What the pipeline is, as recordings keep it.
    pub fn snapshot(&self) -> PipelineSnapshot {
        PipelineSnapshot {
            steps: self
                .stages
                .iter()
                .map(|s| StepSnapshot {
                    plugin: s.step.plugin.clone(),
                    version: s.version,
                    hash: s.plugin.info().hash.clone(),
                    settings: s.step.settings.clone(),
                    on_failure: s.step.on_failure,
                    events: s.step.events.clone(),
                })
                .collect(),
            limits: self.limits.clone(),
            calendars: self.calendar_configs.as_ref().clone(),
        }
    }

    /// The same pipeline with `candidate` run in place of plugin `name`'s
    /// version (its settings, failure policy and events stay); a plugin
    /// the pipeline does not have is added as a last step with no
    /// settings, skipped on failure, for every event. `version` is the
    /// candidate's number, or 0 for one that is not installed.
    pub fn with_candidate(&self, name: &str, candidate: &Plugin, version: u32) -> Pipeline {
        let mut stages = self.stages.clone();
        match stages.iter_mut().find(|s| s.step.plugin == name) {
            Some(stage) => {
                stage.plugin = candidate.clone();
                stage.version = version;
            }
            None => stages.push(Stage {
                step: PipelineStep {
                    plugin: name.to_string(),
                    settings: Vec::new(),
                    on_failure: FailurePolicy::Skip,
                    events: Vec::new(),
                },
                version,
                plugin: candidate.clone(),
            }),
        }
        Pipeline::new(
            &self.tenant,
            self.limits.clone(),
            self.calendars.clone(),
            self.calendar_configs.clone(),
            stages,
        )
    }
}
