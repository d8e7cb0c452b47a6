//! Simulate: one event run through the tenant's pipeline as it is and
//! through the same pipeline with a candidate in place of one plugin — a
//! stored version that is not active, an uploaded module, or a no-code
//! draft — with the decisions compared kind by kind. Nothing is stored or
//! applied: the event's id is not claimed, no timer is set.

use crate::error::AppError;
use crate::lifecycle::{Lifecycle, TicketEvent};
use crate::store::Store;
use docket_engine::outcome::{Change, Decisions};
use docket_engine::pipeline::Pipeline;
use docket_engine::plugin::Plugin;
use docket_engine::{Docket, Outcome, PluginSource};
use serde::Serialize;

/// Where a candidate comes from.
#[derive(Debug, Clone, Copy)]
pub enum CandidateSource<'a> {
    /// A version already installed (number, or hash prefix), active or not.
    Installed(&'a str),
    /// Bytes not installed: a module or component, or a no-code document,
    /// compiled under the tenant's limits.
    Draft(PluginSource<'a>),
}

/// What a candidate is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CandidateInfo {
    /// The plugin it stands in for (or is added as).
    pub plugin: String,
    /// Its version number; 0 for a draft that is not installed.
    pub version: u32,
    /// SHA-256 of its bytes.
    pub hash: String,
}

/// A compiled candidate, ready to put in place of a plugin.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// What it is.
    pub info: CandidateInfo,
    plugin: Plugin,
}

impl Candidate {
    /// Finds or compiles the candidate for plugin `name` of `tenant`.
    ///
    /// # Errors
    /// An unknown tenant or version; a draft that does not compile
    /// (`invalid_plugin`, with the compiler's located report for no-code
    /// documents).
    pub fn new(
        docket: &Docket,
        tenant: &str,
        name: &str,
        source: CandidateSource<'_>,
    ) -> Result<Candidate, AppError> {
        let (version, plugin) = match source {
            CandidateSource::Installed(v) => docket.installed_version(tenant, name, v)?,
            CandidateSource::Draft(source) => (0, docket.compile_for(tenant, name, source)?),
        };
        Ok(Candidate {
            info: CandidateInfo {
                plugin: name.to_string(),
                version,
                hash: plugin.info().hash.clone(),
            },
            plugin,
        })
    }

    /// `pipeline` with this candidate in place.
    pub fn in_place_of(&self, pipeline: &Pipeline) -> Pipeline {
        pipeline.with_candidate(&self.info.plugin, &self.plugin, self.info.version)
    }
}

/// One event through the active pipeline and through the candidate's.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Simulation {
    /// The candidate.
    pub candidate: CandidateInfo,
    /// What the active pipeline decides.
    pub active: Outcome,
    /// What the pipeline with the candidate in place decides.
    pub simulated: Outcome,
    /// The kinds of decision that differ, with both values.
    pub changes: Vec<Change>,
}

/// Simulates event `e` (as [`Lifecycle::apply`] would take it, now) with
/// `candidate` in place.
///
/// # Errors
/// As [`Lifecycle::prepare`].
pub fn simulate<S: Store>(
    lifecycle: &Lifecycle<S>,
    e: &TicketEvent<'_>,
    candidate: &Candidate,
) -> Result<Simulation, AppError> {
    let request = lifecycle.prepare(e)?;
    let docket = lifecycle.docket();
    let active = docket.pipeline(e.tenant)?;
    let with_candidate = candidate.in_place_of(&active);
    let simulated = docket.run(&with_candidate, request.clone());
    let active = docket.run(&active, request);
    let changes = decisions(&active).changes(&decisions(&simulated));
    Ok(Simulation {
        candidate: candidate.info.clone(),
        active,
        simulated,
        changes,
    })
}

/// The decisions of an outcome.
pub fn decisions(o: &Outcome) -> Decisions {
    Decisions::of(&o.status, &o.effects)
}
