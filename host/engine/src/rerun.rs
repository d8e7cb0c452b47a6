//! Running a recorded event again through a pipeline that differs from
//! the one it was recorded on in one plugin only — what a backtest does for
//! every event — without running the plugins that did not change.
//!
//! Plugins are deterministic and see only their input, so every stage
//! before the changed plugin decides what it decided then: its recorded
//! effects are applied instead of calling it. The changed plugin is
//! called; if in every phase it decides exactly the effects the recorded
//! version decided (and reports no field errors), every later stage sees
//! the same ticket as then, and the outcome is the recorded one. Only when
//! it decides otherwise does the whole pipeline run afresh.

use crate::dispatch::{AppliedEffect, DispatchRequest, Outcome};
use crate::effects::{self, Resolver};
use crate::pipeline::Pipeline;
use crate::registry::Docket;
use crate::sandbox::CallInput;
use docket_contract::bindings::docket::plugin::types::Context;
use docket_contract::{Capability, EventKindName};

/// How a rerun with one plugin changed came out.
#[derive(Debug, Clone)]
pub enum Rerun {
    /// The changed plugin decided, in every phase, what the recorded
    /// version decided: the outcome is the recorded one.
    Same,
    /// It decided otherwise, reported field errors, or failed: the whole
    /// outcome, run afresh.
    Different(Box<Outcome>),
}

impl Docket {
    /// Reruns a recorded event whose outcome applied `recorded` effects,
    /// through `pipeline`, which is the pipeline it was recorded on but
    /// for plugin `changed` (a candidate in place of its version). The
    /// caller vouches for both: the result is exact only then.
    pub fn rerun_changed(
        &self,
        pipeline: &Pipeline,
        changed: &str,
        recorded: &[AppliedEffect],
        mut request: DispatchRequest,
    ) -> Rerun {
        // The history moves into the context and back; the roster (a few
        // agents) is copied for the routing phase.
        let history = std::mem::take(&mut request.history);
        let mut context = Context {
            tenant: pipeline.tenant.clone(),
            now: request.now,
            settings: Vec::new(),
            agents: Vec::new(),
            history,
            calendars: pipeline.calendar_names.clone(),
        };
        let agrees = self.changed_stage_agrees(pipeline, changed, recorded, &request, &mut context);
        if agrees {
            return Rerun::Same;
        }
        request.history = context.history;
        Rerun::Different(Box::new(self.run(pipeline, request)))
    }

    /// Whether plugin `changed` decides as recorded in every phase it (or
    /// its recorded version) acted in, the other stages' recorded effects
    /// applied in order.
    fn changed_stage_agrees(
        &self,
        pipeline: &Pipeline,
        changed: &str,
        recorded: &[AppliedEffect],
        request: &DispatchRequest,
        context: &mut Context,
    ) -> bool {
        let Ok(workflows) = self.pipeline_workflows(pipeline) else {
            return false;
        };
        let resolver = Resolver {
            now: request.now,
            calendars: &pipeline.calendars,
            workflows: &workflows,
        };
        let mut ticket = request.ticket.clone();
        let (mut position, moved_from) = crate::workflow::start(
            &workflows,
            request.position.clone(),
            &mut ticket,
            &request.event,
            request.now,
        );
        let event_kind = EventKindName::of(&request.event.kind);
        for phase in Capability::ALL {
            context.agents = match phase {
                Capability::Routing => request.agents.clone(),
                _ => Vec::new(),
            };
            for stage in &pipeline.stages {
                let step = &stage.step;
                if !step.runs_for(event_kind) {
                    continue;
                }
                let mut decided_then = recorded
                    .iter()
                    .filter(|e| e.plugin == step.plugin && e.phase == phase)
                    .map(|e| &e.effect)
                    .peekable();
                if step.plugin != changed {
                    let effects: Vec<_> = decided_then.cloned().collect();
                    effects::apply(&mut ticket, &effects, request.now);
                    effects::advance(&mut position, &effects, request.now);
                    continue;
                }
                if !stage.plugin.has(phase) {
                    // The recorded version acted in a phase the candidate
                    // does not have.
                    if decided_then.peek().is_some() {
                        return false;
                    }
                    continue;
                }
                context.settings.clone_from(&step.settings);
                let Some(at) =
                    crate::workflow::call_position(phase, position.as_ref(), moved_from.as_ref())
                else {
                    continue; // a workflow call on a ticket in no workflow
                };
                let input = CallInput {
                    event: &request.event,
                    ticket: &ticket,
                    context,
                    position: at.as_ref(),
                };
                let (result, _) = self.call_stage(
                    pipeline,
                    (step, stage.version, &stage.plugin),
                    phase,
                    &input,
                    &resolver,
                );
                match result {
                    Ok((effects, errors))
                        if errors.is_empty() && effects.iter().eq(decided_then) =>
                    {
                        effects::apply(&mut ticket, &effects, request.now);
                        effects::advance(&mut position, &effects, request.now);
                    }
                    _ => return false,
                }
            }
        }
        true
    }
}
