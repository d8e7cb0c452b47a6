//! Complete recording: every dispatched event is stored with everything
//! its decisions depended on, so it can be run again and give the same
//! decisions bit for bit (the proof of completeness is a test that does so
//! for whole streams), or run through a changed pipeline to see what would
//! have been decided (simulate, backtest).
//!
//! An event's recording is its audit entry (event, effects, trace, status)
//! plus an input record: the event and the ticket as the plugins saw them,
//! `now`, and the content hashes of three blobs — the pipeline as it ran
//! (steps, versions by hash, settings, limits, calendars), the agent roster
//! with its loads, and the requester's history. Blobs are stored once per
//! tenant and hash: a pipeline is stored once per change, a roster once per
//! change of load, a history once per change of the requester's tickets.

pub mod sql;

pub use crate::store::{Blob, Recording};
use crate::store::{RecordedRow, Store, StoreError};
use docket_contract::types::{Agent, Event, Ticket, TicketBrief};
use docket_engine::pipeline::{Pipeline, PipelineSnapshot};
use docket_engine::plugin::content_hash;
use docket_engine::{DispatchRequest, Docket, DocketError, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

impl Blob {
    /// The blob of a JSON text.
    pub fn of_json(body: String) -> Blob {
        Blob {
            hash: content_hash(body.as_bytes()),
            body: Arc::from(body),
        }
    }
}

/// The input record of an event: what the plugins saw, with the blobs
/// named by hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedInput {
    /// The event.
    pub event: Event,
    /// The ticket as dispatched (the event's own change applied).
    pub ticket: Ticket,
    /// "Now" for the plugins (ms since the epoch).
    pub now: i64,
    /// Hash of the [`PipelineSnapshot`] blob.
    pub pipeline: String,
    /// Hash of the agent roster blob (agents with their loads).
    pub agents: String,
    /// Hash of the requester history blob (ticket briefs, newest first).
    pub history: String,
}

/// The input record as written (borrowing what the request holds).
#[derive(Serialize)]
struct InputRef<'a> {
    event: &'a Event,
    ticket: &'a Ticket,
    now: i64,
    pipeline: &'a str,
    agents: &'a str,
    history: &'a str,
}

impl Recording {
    /// The recording of `request` run through `pipeline`.
    pub fn of(pipeline: &Pipeline, request: &DispatchRequest) -> Recording {
        let pipeline_blob = Blob {
            hash: pipeline.hash().to_string(),
            body: pipeline.snapshot_json().clone(),
        };
        let agents = Blob::of_json(to_json(&request.agents));
        let history = Blob::of_json(to_json(&request.history));
        let input = to_json(&InputRef {
            event: &request.event,
            ticket: &request.ticket,
            now: request.now,
            pipeline: &pipeline_blob.hash,
            agents: &agents.hash,
            history: &history.hash,
        });
        Recording {
            input,
            blobs: [pipeline_blob, agents, history],
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

/// The decisions of an outcome, as recordings compare them: the status
/// (with rejections or the failure), the effects in order, and the trace
/// without its wall-clock times (fuel, logs and errors stay: they are
/// deterministic).
pub fn decisions(status_effects_trace: &serde_json::Value) -> serde_json::Value {
    let mut v = status_effects_trace.clone();
    if let Some(trace) = v.get_mut("trace").and_then(|t| t.as_array_mut()) {
        for run in trace {
            if let Some(run) = run.as_object_mut() {
                run.remove("elapsed_us");
            }
        }
    }
    v
}

/// The decisions of a fresh outcome (see [`decisions`]).
pub fn outcome_decisions(outcome: &Outcome) -> serde_json::Value {
    decisions(&serde_json::json!({
        "status": outcome.status,
        "effects": outcome.effects,
        "trace": outcome.trace,
    }))
}

/// The decisions recorded in an audit entry (see [`decisions`]).
pub fn recorded_decisions(entry: &serde_json::Value) -> serde_json::Value {
    decisions(&serde_json::json!({
        "status": entry.get("status"),
        "effects": entry.get("effects"),
        "trace": entry.get("trace"),
    }))
}

/// Why a recorded event cannot be run again.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob the input names is missing.
    #[error("recorded event `{event}`: blob {hash} is missing")]
    MissingBlob {
        /// The event id.
        event: String,
        /// The blob's hash.
        hash: String,
    },
    /// A record does not decode.
    #[error("recorded event `{event}`: {reason}")]
    Corrupt {
        /// The event id.
        event: String,
        /// What does not decode.
        reason: String,
    },
    /// The pipeline cannot be rebuilt (a version no longer installed, ...).
    #[error("recorded event `{event}`: {error}")]
    Pipeline {
        /// The event id.
        event: String,
        /// Why.
        error: Box<DocketError>,
    },
}

/// Blobs decoded, kept by hash while they are reused. Bounded: cleared
/// when it holds too many (consecutive events mostly share theirs).
struct BlobCache<T> {
    by_hash: HashMap<String, Arc<T>>,
}

/// Decoded blobs kept per kind before the cache starts over.
const CACHED_BLOBS: usize = 1024;

impl<T> Default for BlobCache<T> {
    fn default() -> Self {
        BlobCache {
            by_hash: HashMap::new(),
        }
    }
}

impl<T> BlobCache<T> {
    fn get_or_load(
        &mut self,
        hash: &str,
        load: impl FnOnce() -> Result<T, ReplayError>,
    ) -> Result<Arc<T>, ReplayError> {
        if let Some(v) = self.by_hash.get(hash) {
            return Ok(v.clone());
        }
        let v = Arc::new(load()?);
        if self.by_hash.len() >= CACHED_BLOBS {
            self.by_hash.clear();
        }
        self.by_hash.insert(hash.to_string(), v.clone());
        Ok(v)
    }
}

/// A recorded event decoded: its request (as dispatched then), the
/// pipeline it ran through, and the decisions recorded.
pub struct Rerun {
    /// The recorded row.
    pub row: RecordedRow,
    /// The request as dispatched then.
    pub request: DispatchRequest,
    /// The pipeline it ran through, rebuilt.
    pub pipeline: Arc<Pipeline>,
}

/// Turns recorded rows back into requests and pipelines, reading and
/// decoding each blob once while consecutive events share it.
pub struct Replayer<'a> {
    docket: &'a Docket,
    tenant: String,
    pipelines: BlobCache<Pipeline>,
    rosters: BlobCache<Vec<Agent>>,
    histories: BlobCache<Vec<TicketBrief>>,
}

impl<'a> Replayer<'a> {
    /// A replayer for one tenant's recordings, over the engine holding the
    /// tenant's plugin versions.
    pub fn new(docket: &'a Docket, tenant: &str) -> Replayer<'a> {
        Replayer {
            docket,
            tenant: tenant.to_string(),
            pipelines: BlobCache::default(),
            rosters: BlobCache::default(),
            histories: BlobCache::default(),
        }
    }

    /// Decodes a recorded row, its blobs read from `store`.
    ///
    /// # Errors
    /// A missing or corrupt record or blob, a version no longer installed.
    pub fn decode(&mut self, store: &dyn Store, row: RecordedRow) -> Result<Rerun, ReplayError> {
        let corrupt = |reason: String| ReplayError::Corrupt {
            event: row.event_id.clone(),
            reason,
        };
        let input: RecordedInput =
            serde_json::from_str(&row.input).map_err(|e| corrupt(format!("input: {e}")))?;
        let tenant = &self.tenant;
        // Reads a blob and decodes it as `what`.
        fn load<T: serde::de::DeserializeOwned>(
            store: &dyn Store,
            tenant: &str,
            event: &str,
            hash: &str,
            what: &str,
        ) -> Result<T, ReplayError> {
            let text =
                store
                    .recording_blob(tenant, hash)?
                    .ok_or_else(|| ReplayError::MissingBlob {
                        event: event.to_string(),
                        hash: hash.to_string(),
                    })?;
            serde_json::from_str(&text).map_err(|e| ReplayError::Corrupt {
                event: event.to_string(),
                reason: format!("{what} blob {hash}: {e}"),
            })
        }
        let event = row.event_id.as_str();
        let docket = self.docket;
        let pipeline = self.pipelines.get_or_load(&input.pipeline, || {
            let snapshot: PipelineSnapshot =
                load(store, tenant, event, &input.pipeline, "pipeline")?;
            docket
                .pipeline_of(tenant, &snapshot)
                .map_err(|error| ReplayError::Pipeline {
                    event: event.to_string(),
                    error: Box::new(error),
                })
        })?;
        let agents = self.rosters.get_or_load(&input.agents, || {
            load(store, tenant, event, &input.agents, "agents")
        })?;
        let history = self.histories.get_or_load(&input.history, || {
            load(store, tenant, event, &input.history, "history")
        })?;
        Ok(Rerun {
            request: DispatchRequest {
                event: input.event,
                ticket: input.ticket,
                agents: agents.as_ref().clone(),
                history: history.as_ref().clone(),
                now: input.now,
                // The lifecycle records no workflow pipelines yet.
                position: None,
            },
            pipeline,
            row,
        })
    }
}

/// Rows read per page while scanning recordings.
const PAGE: usize = 512;

/// Calls `f` with each recorded event of `tenant` at or after `from` and
/// before `until`, in (instant, audit position) order, a page at a time:
/// memory stays bounded however long the history.
///
/// # Errors
/// The store's, or `f`'s.
pub fn scan<E: From<StoreError>>(
    store: &dyn Store,
    tenant: &str,
    from: i64,
    until: i64,
    mut f: impl FnMut(RecordedRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut query = crate::store::RecordingQuery {
        from,
        until,
        after: None,
        limit: PAGE,
    };
    loop {
        let page = store.recordings(tenant, &query)?;
        let full = page.len() == PAGE;
        for row in page {
            query.after = Some((row.at, row.seq));
            f(row)?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// A recorded event that decided differently when run again.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// Event id.
    pub event_id: String,
    /// Ticket.
    pub ticket: String,
    /// The decisions recorded (see [`decisions`]).
    pub recorded: serde_json::Value,
    /// The decisions of the run again.
    pub replayed: serde_json::Value,
}

/// What running recorded events again found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    /// Recorded events run again.
    pub events: u64,
    /// How many decided differently.
    pub differing: u64,
    /// The first differences (at most [`KEPT_DIFFERENCES`]).
    pub differences: Vec<Difference>,
}

/// Differences a [`Verification`] keeps in full.
pub const KEPT_DIFFERENCES: usize = 20;

/// Runs each recorded event of `tenant` in the window again, through the
/// pipeline it ran through (its versions by hash, its settings, limits
/// and calendars) on its recorded input, and compares the decisions with
/// the recorded ones. Nothing is stored.
///
/// # Errors
/// A recording that cannot be read or rebuilt (see [`ReplayError`]).
pub fn verify(
    docket: &Docket,
    store: &dyn Store,
    tenant: &str,
    from: i64,
    until: i64,
) -> Result<Verification, ReplayError> {
    let mut replayer = Replayer::new(docket, tenant);
    let mut report = Verification::default();
    scan(store, tenant, from, until, |row| {
        let rerun = replayer.decode(store, row)?;
        let entry: serde_json::Value =
            serde_json::from_str(&rerun.row.entry).map_err(|e| ReplayError::Corrupt {
                event: rerun.row.event_id.clone(),
                reason: format!("audit entry: {e}"),
            })?;
        let outcome = docket.run(&rerun.pipeline, rerun.request);
        let replayed = outcome_decisions(&outcome);
        let recorded = recorded_decisions(&entry);
        report.events += 1;
        if replayed != recorded {
            report.differing += 1;
            if report.differences.len() < KEPT_DIFFERENCES {
                report.differences.push(Difference {
                    event_id: rerun.row.event_id,
                    ticket: rerun.row.ticket,
                    recorded,
                    replayed,
                });
            }
        }
        Ok::<(), ReplayError>(())
    })?;
    Ok(report)
}
