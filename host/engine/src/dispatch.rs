//! Dispatch: one event through a tenant's pipeline, phase by phase
//! (template → routing → escalation → billing), each plugin seeing the ticket
//! as updated by the effects before it. Returns the effects and a trace;
//! nothing is half-applied: a rejected or failed event leaves the ticket as
//! it was.

use crate::compiled::Plugin;
use crate::effects::{self, Effect, Resolver};
use crate::error::{DocketError, PluginError};
use crate::host_state::LogLine;
use crate::pipeline::{FailurePolicy, PipelineStep};
use crate::pipeline::{Pipeline, Stage, WorkflowsResult};
use crate::registry::Docket;
use crate::sandbox::{CallInput, CallStats, Decision, Declaration};
use crate::workflow::{self, Position, PositionInput, Workflows};
use docket_contract::bindings::docket::plugin::types::{
    Agent, Context, Event, Ticket, TicketBrief,
};
use docket_contract::bindings::exports::docket::plugin::template::FieldError;
use docket_contract::{Capability, EventKindName};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Everything the host knows about an event, besides the tenant's pipeline.
#[derive(Debug, Clone)]
pub struct DispatchRequest {
    /// The event.
    pub event: Event,
    /// The ticket, with the event's own change already applied.
    pub ticket: Ticket,
    /// Agents routing may consider, with their live load.
    pub agents: Vec<Agent>,
    /// The requester's other tickets, newest first.
    pub history: Vec<TicketBrief>,
    /// "Now" for the plugins (ms since the epoch).
    pub now: i64,
    /// Where the ticket stands in its workflow, as the embedder keeps it
    /// (the event's own move applied). `None` for a ticket without one:
    /// when the pipeline defines workflows, the engine places it (a new
    /// ticket at its workflow's initial stage, another at the first stage
    /// with its status) and the outcome says where.
    pub position: Option<PositionInput>,
}

/// An effect with the plugin that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppliedEffect {
    /// Plugin name.
    pub plugin: String,
    /// Phase.
    pub phase: Capability,
    /// The effect.
    #[serde(flatten)]
    pub effect: Effect,
}

/// A field error with the plugin that reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejection {
    /// Plugin name.
    pub plugin: String,
    /// The error.
    #[serde(flatten, with = "docket_contract::wire::FieldErrorDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::FieldErrorDef))]
    pub error: FieldError,
}

/// How the event ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Every effect applies.
    Applied,
    /// Templates rejected the ticket; nothing applies.
    Rejected {
        /// The field errors.
        errors: Vec<Rejection>,
    },
    /// A plugin with the fail-event policy failed; nothing applies.
    Failed {
        /// The plugin.
        plugin: String,
        /// Its error.
        error: PluginError,
    },
}

/// What happened in one plugin call.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PluginRun {
    /// Plugin name.
    pub plugin: String,
    /// Version number.
    pub version: u32,
    /// Content hash.
    pub hash: String,
    /// Phase.
    pub phase: Capability,
    /// Effects decided (0 on error).
    pub effects: usize,
    /// The error, if the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PluginError>,
    /// What the failure policy did, if the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<FailurePolicy>,
    /// Fuel used.
    pub fuel_used: u64,
    /// Time, instantiation included.
    pub elapsed_us: u64,
    /// Log lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogLine>,
    /// Log lines over the limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub logs_dropped: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The result of dispatching one event.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// Tenant.
    pub tenant: String,
    /// Ticket id.
    pub ticket_id: String,
    /// Event id.
    pub event_id: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: OutcomeStatus,
    /// Effects in the order they were applied (empty unless applied).
    pub effects: Vec<AppliedEffect>,
    /// The ticket after the effects (as it was, unless applied).
    #[serde(with = "docket_contract::wire::TicketDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::TicketDef))]
    pub ticket: Ticket,
    /// Where the ticket stands in its workflow after the effects (as it
    /// was, unless applied); absent when no workflow applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Every plugin call.
    pub trace: Vec<PluginRun>,
    /// Wall-clock time of the whole dispatch.
    pub elapsed_us: u64,
}

impl Outcome {
    /// Whether the effects apply.
    pub fn is_applied(&self) -> bool {
        self.status == OutcomeStatus::Applied
    }
}

/// Counts the bytes a value serializes to, without keeping them.
struct ByteCounter(u64);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn encoded_size(d: &Decision) -> u64 {
    let mut counter = ByteCounter(0);
    // Serializing plain data into a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, d);
    counter.0
}

impl Docket {
    /// Runs the event through the tenant's active pipeline.
    ///
    /// # Errors
    /// [`DocketError::UnknownTenant`]. A plugin that fails is not an error here: it is in
    /// the outcome (its status and trace).
    pub fn dispatch(&self, tenant: &str, request: DispatchRequest) -> Result<Outcome, DocketError> {
        Ok(self.run(&*self.pipeline(tenant)?, request))
    }

    /// Runs the event through a given pipeline: the tenant's active one
    /// ([`Docket::pipeline`]), one rebuilt from a recording
    /// ([`Docket::pipeline_of`]) or one with a candidate in place
    /// ([`Pipeline::with_candidate`]). Nothing is stored or changed.
    pub fn run(&self, pipeline: &Pipeline, request: DispatchRequest) -> Outcome {
        let span = tracing::info_span!("dispatch", tenant = %pipeline.tenant, ticket = %request.ticket.id, event = %request.event.id);
        let _enter = span.enter();
        self.run_pipeline(pipeline, request)
    }

    fn run_pipeline(&self, pipeline: &Pipeline, request: DispatchRequest) -> Outcome {
        let started = Instant::now();
        let DispatchRequest {
            event,
            ticket: mut original,
            agents,
            history,
            now,
            position: given,
        } = request;
        let workflows = match self.pipeline_workflows(pipeline) {
            Ok(w) => w,
            Err((plugin, error)) => {
                // Without its definitions no move can be checked: every
                // event fails, whatever the step's failure policy.
                return Outcome {
                    tenant: pipeline.tenant.clone(),
                    ticket_id: original.id.clone(),
                    event_id: event.id.clone(),
                    status: OutcomeStatus::Failed { plugin, error },
                    effects: Vec::new(),
                    position: given.map(|g| g.position),
                    ticket: original,
                    trace: Vec::new(),
                    elapsed_us: started.elapsed().as_micros() as u64,
                };
            }
        };
        let (original_position, moved_from) =
            workflow::start(&workflows, given, &mut original, &event, now);
        let mut position = original_position.clone();
        let mut ticket = original.clone();
        let mut context = Context {
            tenant: pipeline.tenant.clone(),
            now,
            settings: Vec::new(),
            agents: Vec::new(),
            history,
            calendars: pipeline.calendar_names.clone(),
        };
        let resolver = Resolver {
            now,
            calendars: &pipeline.calendars,
            workflows: &workflows,
        };
        let mut applied = Vec::new();
        let mut rejections = Vec::new();
        let mut trace = Vec::new();
        let mut status = OutcomeStatus::Applied;

        // The agent roster goes to the routing phase only (the contract
        // says so): copying it into every other instance cost about a
        // tenth of a dispatch.
        let mut agents = Some(agents);
        let event_kind = EventKindName::of(&event.kind);
        'phases: for phase in Capability::ALL {
            context.agents = match phase {
                Capability::Routing => agents.take().unwrap_or_default(),
                _ => Vec::new(),
            };
            for Stage {
                step,
                version,
                plugin,
            } in &pipeline.stages
            {
                if !step.runs_for(event_kind) || !plugin.has(phase) {
                    continue;
                }
                context.settings.clone_from(&step.settings);
                let Some(at) =
                    workflow::call_position(phase, position.as_ref(), moved_from.as_ref())
                else {
                    continue; // a workflow call on a ticket in no workflow
                };
                let (result, stats) = self.call_stage(
                    pipeline,
                    (step, *version, plugin),
                    phase,
                    &CallInput {
                        event: &event,
                        ticket: &ticket,
                        context: &context,
                        position: at.as_ref(),
                    },
                    &resolver,
                );
                let CallStats {
                    fuel_used,
                    elapsed_us,
                    logs,
                    logs_dropped,
                } = stats;
                let mut run = PluginRun {
                    plugin: step.plugin.clone(),
                    version: *version,
                    hash: plugin.info().hash.clone(),
                    phase,
                    effects: 0,
                    error: None,
                    policy: None,
                    fuel_used,
                    elapsed_us,
                    logs,
                    logs_dropped,
                };
                match result {
                    Ok((effects, errors)) => {
                        run.effects = effects.len();
                        effects::apply(&mut ticket, &effects, now);
                        effects::advance(&mut position, &effects, now);
                        applied.extend(effects.into_iter().map(|effect| AppliedEffect {
                            plugin: step.plugin.clone(),
                            phase,
                            effect,
                        }));
                        rejections.extend(errors.into_iter().map(|error| Rejection {
                            plugin: step.plugin.clone(),
                            error,
                        }));
                        trace.push(run);
                    }
                    Err(error) => {
                        tracing::warn!(plugin = %step.plugin, %phase, %error, "plugin failed");
                        run.error = Some(error.clone());
                        run.policy = Some(step.on_failure);
                        trace.push(run);
                        if step.on_failure == FailurePolicy::FailEvent {
                            status = OutcomeStatus::Failed {
                                plugin: step.plugin.clone(),
                                error,
                            };
                            break 'phases;
                        }
                    }
                }
            }
            // Validation happens in the template phase (a rejected ticket
            // goes no further) and a workflow's guard in the last.
            if matches!(phase, Capability::Template | Capability::Workflow)
                && !rejections.is_empty()
            {
                status = OutcomeStatus::Rejected {
                    errors: std::mem::take(&mut rejections),
                };
                break;
            }
        }
        if status != OutcomeStatus::Applied {
            applied.clear();
            ticket = original;
            position = original_position;
        }
        Outcome {
            tenant: pipeline.tenant.clone(),
            ticket_id: ticket.id.clone(),
            event_id: event.id.clone(),
            status,
            effects: applied,
            ticket,
            position,
            trace,
            elapsed_us: started.elapsed().as_micros() as u64,
        }
    }

    /// The pipeline's workflows; none (without asking) when no plugin of
    /// it exports the capability.
    pub(crate) fn pipeline_workflows(
        &self,
        pipeline: &Pipeline,
    ) -> Result<std::sync::Arc<Workflows>, (String, PluginError)> {
        if pipeline.plugin_with(Capability::Workflow).is_some() {
            self.workflows(pipeline)
        } else {
            Ok(std::sync::Arc::default())
        }
    }

    /// One stage's call in one phase: the decision as effects and field
    /// errors (or why there is none), and what the call cost. The caller
    /// has set the step's settings in the context.
    pub(crate) fn call_stage(
        &self,
        pipeline: &Pipeline,
        (step, version, plugin): (&PipelineStep, u32, &Plugin),
        phase: Capability,
        input: &CallInput<'_>,
        resolver: &Resolver<'_>,
    ) -> (Result<effects::Decided, PluginError>, CallStats) {
        let span = tracing::debug_span!("plugin", plugin = %step.plugin, %phase, version);
        let _enter = span.enter();
        let limits = pipeline.limits.for_plugin(&step.plugin);
        let (result, stats) = self.runtime.call(plugin, phase, input, &limits);
        let result = result.and_then(|decision| {
            let size = encoded_size(&decision);
            if size > limits.output_bytes {
                return Err(PluginError::OutputTooLarge {
                    size,
                    limit: limits.output_bytes,
                });
            }
            effects::effects_of(decision, input.ticket, input.position, resolver)
        });
        (result, stats)
    }
}

impl Docket {
    /// The workflows a pipeline's plugins define, checked: asked of each
    /// workflow plugin once per pipeline (with its step's settings, `now`
    /// 0, no agents or history) and kept with the pipeline.
    ///
    /// # Errors
    /// The plugin whose `workflows` call failed, or whose definitions are
    /// invalid (`invalid_output`), and why.
    pub fn workflows(
        &self,
        pipeline: &Pipeline,
    ) -> Result<std::sync::Arc<Workflows>, (String, PluginError)> {
        pipeline
            .workflows
            .get_or_init(|| self.ask_workflows(pipeline))
            .clone()
    }

    fn ask_workflows(&self, pipeline: &Pipeline) -> WorkflowsResult {
        let mut defined = Vec::new();
        for stage in &pipeline.stages {
            if !stage.plugin.has(docket_contract::Capability::Workflow) {
                continue;
            }
            let context = docket_contract::types::Context {
                tenant: pipeline.tenant.clone(),
                now: 0,
                settings: stage.step.settings.clone(),
                agents: Vec::new(),
                history: Vec::new(),
                calendars: pipeline.calendar_names.clone(),
            };
            let limits = pipeline.limits.for_plugin(&stage.step.plugin);
            let (result, _) =
                self.runtime
                    .declaration(&stage.plugin, Declaration::Workflows, &context, &limits);
            let defs = result.map_err(|e| (stage.step.plugin.clone(), e))?;
            defined.push((stage.step.plugin.clone(), defs));
        }
        Workflows::check(defined)
            .map(std::sync::Arc::new)
            .map_err(|(plugin, e)| (plugin, PluginError::invalid_output(e)))
    }
}
