//! One plugin call in a fresh, isolated store: fuel, an epoch deadline, a
//! memory cap and bounded logging, with every failure mapped to a typed
//! [`PluginError`].

use crate::compiled::Linked;
use crate::error::PluginError;
use crate::host_state::{HostState, LogLine};
use crate::limits::Limits;
use docket_contract::Capability;
use docket_contract::bindings::docket::plugin::types::{Context, Event, Ticket};
use docket_contract::bindings::exports::docket::plugin::billing::BillingDecision;
use docket_contract::bindings::exports::docket::plugin::escalation::EscalationDecision;
use docket_contract::bindings::exports::docket::plugin::routing::RouteDecision;
use docket_contract::bindings::exports::docket::plugin::template::Validation;
use docket_contract::bindings::exports::docket::plugin::workflow::{Position, WorkflowDecision};
use serde::Serialize;
use std::time::{Duration, Instant};
use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, Lift, Lower, TypedFunc,
};
use wasmtime::{Engine, Store, Trap, WasmBacktrace};

/// The decision of one capability call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// From `template.validate`.
    Template(Validation),
    /// From `routing.route`.
    Routing(Option<RouteDecision>),
    /// From `escalation.evaluate`.
    Escalation(EscalationDecision),
    /// From `billing.bill`.
    Billing(Option<BillingDecision>),
    /// From `workflow.react`.
    Workflow(WorkflowDecision),
}

/// What a call cost and logged, whatever its result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallStats {
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Wall-clock time, instantiation included.
    pub elapsed_us: u64,
    /// Log lines kept.
    pub logs: Vec<LogLine>,
    /// Log lines over the limit, counted but not kept.
    pub logs_dropped: u32,
}

/// The inputs of a call.
pub struct CallInput<'a> {
    /// The event.
    pub event: &'a Event,
    /// The ticket as updated by the plugins before.
    pub ticket: &'a Ticket,
    /// The context.
    pub context: &'a Context,
    /// Where the ticket stands in its workflow: what `workflow.react` is
    /// called with (a workflow call without one fails as the host's fault).
    pub position: Option<&'a Position>,
}

/// The parameters of every capability's entry point but the workflow's.
type Args<'a> = (&'a Event, &'a Ticket, &'a Context);
/// The parameters of `workflow.react`.
type WorkflowArgs<'a> = (&'a Event, &'a Ticket, &'a Position, &'a Context);

/// Runs one capability of a plugin in a fresh store.
pub(crate) fn call(
    engine: &Engine,
    linked: &Linked,
    capability: Capability,
    input: &CallInput<'_>,
    limits: &Limits,
    epoch_tick: Duration,
) -> (Result<Decision, PluginError>, CallStats) {
    let Some(index) = linked.entry_points[capability as usize] else {
        let e = PluginError::host(format!("plugin does not export {capability}"));
        return (Err(e), CallStats::default());
    };
    with_store(engine, limits, epoch_tick, |store| {
        let instance = linked.pre.instantiate(&mut *store)?;
        let args = (input.event, input.ticket, input.context);
        Ok(match capability {
            Capability::Template => Decision::Template(
                entry_point::<Args, (Validation,)>(store, &instance, index)?
                    .call(&mut *store, args)?
                    .0,
            ),
            Capability::Routing => Decision::Routing(
                entry_point::<Args, (Option<RouteDecision>,)>(store, &instance, index)?
                    .call(&mut *store, args)?
                    .0,
            ),
            Capability::Escalation => Decision::Escalation(
                entry_point::<Args, (EscalationDecision,)>(store, &instance, index)?
                    .call(&mut *store, args)?
                    .0,
            ),
            Capability::Billing => Decision::Billing(
                entry_point::<Args, (Option<BillingDecision>,)>(store, &instance, index)?
                    .call(&mut *store, args)?
                    .0,
            ),
            Capability::Workflow => {
                let position = input
                    .position
                    .ok_or_else(|| wasmtime::format_err!("workflow call without a position"))?;
                Decision::Workflow(
                    entry_point::<WorkflowArgs, (WorkflowDecision,)>(store, &instance, index)?
                        .call(
                            &mut *store,
                            (input.event, input.ticket, position, input.context),
                        )?
                        .0,
                )
            }
        })
    })
}

/// The typed function behind an export index, without checking its type
/// again: `type_check` proved every entry point's signature when the
/// plugin was installed (the linked form is rebuilt from the same bytes
/// after an eviction), and checking it on every call cost about a tenth of
/// a call.
fn entry_point<P, R>(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: ComponentExportIndex,
) -> wasmtime::Result<TypedFunc<P, R>>
where
    P: ComponentNamedList + Lower,
    R: ComponentNamedList + Lift,
{
    let func = instance
        .get_func(&mut *store, index)
        .ok_or_else(|| wasmtime::format_err!("export index of another component"))?;
    // SAFETY: the signature was checked by `type_check` against exactly these
    // parameter and result types (the bindings generated from the contract).
    Ok(unsafe { TypedFunc::new_unchecked(func) })
}

/// What a plugin declares from the context alone: its templates
/// (`template.templates`) or its workflows (`workflow.workflows`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Declaration {
    /// `template.templates`.
    Templates,
    /// `workflow.workflows`.
    Workflows,
}

impl Declaration {
    fn index(self, linked: &Linked) -> Result<ComponentExportIndex, PluginError> {
        let (index, what) = match self {
            Declaration::Templates => (linked.templates_fn, "template"),
            Declaration::Workflows => (linked.workflows_fn, "workflow"),
        };
        index.ok_or_else(|| PluginError::host(format!("not a {what} plugin")))
    }
}

/// Asks a plugin for a declaration (its templates, or its workflows).
pub(crate) fn call_declaration<R>(
    engine: &Engine,
    linked: &Linked,
    declaration: Declaration,
    context: &Context,
    limits: &Limits,
    epoch_tick: Duration,
) -> (Result<R, PluginError>, CallStats)
where
    (R,): ComponentNamedList + Lift,
{
    let index = match declaration.index(linked) {
        Ok(index) => index,
        Err(e) => return (Err(e), CallStats::default()),
    };
    with_store(engine, limits, epoch_tick, |store| {
        let instance = linked.pre.instantiate(&mut *store)?;
        let declared = entry_point::<(&Context,), (R,)>(store, &instance, index)?
            .call(&mut *store, (context,))?;
        Ok(declared.0)
    })
}

/// Loads every capability's typed exports once: proves the export types
/// match the contract (name lookups alone do not). Instantiates under the
/// limits the plugin is installed with: a runtime whose initial memory is
/// over them is refused here, not on its first event.
pub(crate) fn type_check(
    engine: &Engine,
    linked: &Linked,
    limits: &Limits,
) -> Result<(), PluginError> {
    let (result, _) = with_store(engine, limits, Duration::from_millis(1), |store| {
        let instance = linked.pre.instantiate(&mut *store)?;
        let ix = &linked.indices;
        if let Some(i) = &ix.template {
            i.load(&mut *store, &instance)?;
        }
        if let Some(i) = &ix.routing {
            i.load(&mut *store, &instance)?;
        }
        if let Some(i) = &ix.escalation {
            i.load(&mut *store, &instance)?;
        }
        if let Some(i) = &ix.billing {
            i.load(&mut *store, &instance)?;
        }
        if let Some(i) = &ix.workflow {
            i.load(&mut *store, &instance)?;
        }
        Ok(())
    });
    result.map_err(|e| match e {
        PluginError::Host { reason } => PluginError::NotAPlugin { reason },
        other => other,
    })
}

fn with_store<R>(
    engine: &Engine,
    limits: &Limits,
    epoch_tick: Duration,
    body: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> (Result<R, PluginError>, CallStats) {
    let started = Instant::now();
    let mut store = Store::new(engine, HostState::new(limits));
    store.limiter(|s| &mut s.limiter);
    let ticks = limits
        .timeout_ms
        .saturating_mul(1000)
        .div_ceil(epoch_tick.as_micros().max(1) as u64)
        .max(1);
    store.set_epoch_deadline(ticks);
    let result = store.set_fuel(limits.fuel).and_then(|()| body(&mut store));
    let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    let result = result.map_err(|e| classify(e, store.data(), limits));
    let state = store.into_data();
    let stats = CallStats {
        fuel_used,
        elapsed_us: started.elapsed().as_micros() as u64,
        logs: state.logs,
        logs_dropped: state.logs_dropped,
    };
    (result, stats)
}

/// Maps a wasmtime error to the typed error the caller reports.
fn classify(e: wasmtime::Error, state: &HostState, limits: &Limits) -> PluginError {
    let backtrace = e.downcast_ref::<WasmBacktrace>().map(|b| b.to_string());
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => PluginError::FuelExhausted { limit: limits.fuel },
        Some(Trap::Interrupt) => PluginError::DeadlineExceeded {
            limit_ms: limits.timeout_ms,
        },
        Some(_) if state.limiter.hit => PluginError::MemoryLimit {
            limit_bytes: limits.memory_bytes,
        },
        Some(trap) => PluginError::Trap {
            message: trap.to_string(),
            guest_message: state.guest_panic.clone(),
            backtrace,
        },
        None if state.limiter.hit => PluginError::MemoryLimit {
            limit_bytes: limits.memory_bytes,
        },
        None => PluginError::host(format!("{e:?}")),
    }
}
