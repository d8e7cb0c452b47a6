//! Backtest: a candidate run over a tenant's recorded events in a time
//! window, each event on its recorded input, through the active pipeline
//! and through the active pipeline with the candidate in place; the
//! report counts the events whose decisions changed, per decision kind,
//! lists the most frequent changes and shows sample events side by side.
//!
//! What a backtest cannot know: had a decision changed then, the ticket
//! would have evolved differently afterwards (another agent answers, a
//! timer fires elsewhere, the requester writes back or not). Each event is
//! judged on the input it really had, with the history that really
//! followed; the report is per event, not a simulation of an alternative
//! past.
//!
//! The scan streams the window page by page; worker threads (one per
//! core) decode and run events while the next page is read, so memory
//! stays bounded however long the history. Where an event's recorded
//! pipeline is the active one, its recorded decisions are the baseline
//! (replay reproduces them exactly: see `recording`); an event of a kind
//! the candidate's step does not subscribe to then decides as recorded
//! without being decoded, and otherwise only the candidate is called
//! while it agrees with its predecessor (see `Docket::rerun_changed`).
//! Where the active pipeline is another, the baseline runs again.

use crate::error::AppError;
use crate::recording::{ReplayError, Replayer, scan};
use crate::simulate::{Candidate, CandidateInfo};
use crate::store::{RecordedRow, Store, StoreError};
use docket_contract::EventKindName;
use docket_engine::outcome::{AppliedEffect, OutcomeStatus, Rerun};
use docket_engine::outcome::{Change, DecisionKind, Decisions};
use docket_engine::pipeline::Pipeline;
use docket_engine::{Docket, PipelineStep};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

/// What a backtest may spend before it stops and reports what it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Recorded events at most.
    pub max_events: u64,
    /// Wall-clock time at most, in seconds.
    pub max_seconds: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_events: 10_000_000,
            max_seconds: 900,
        }
    }
}

/// Sample events a report shows side by side.
pub const SAMPLES: usize = 10;
/// Most frequent changes a report lists.
pub const TOP_CHANGES: usize = 10;
/// Distinct changes counted before further ones are counted together.
const DISTINCT_CHANGES: usize = 10_000;

/// A backtest's progress, shared with whoever watches it.
#[derive(Debug, Default)]
pub struct Progress {
    /// Recorded events in the window (known once counted).
    pub total: AtomicU64,
    /// Events done.
    pub done: AtomicU64,
    /// Set to stop the backtest early (it then reports what it saw).
    pub cancel: AtomicBool,
}

/// One side of a sample: what a pipeline decided.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decided {
    /// Applied, rejected or failed.
    #[serde(flatten)]
    pub status: OutcomeStatus,
    /// The effects (empty unless applied).
    pub effects: Vec<AppliedEffect>,
}

/// The decisions in a recorded audit entry.
#[derive(Deserialize)]
struct RecordedEntry {
    status: OutcomeStatus,
    effects: Vec<AppliedEffect>,
}

/// An event whose decisions changed, both outcomes side by side.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sample {
    /// Ticket.
    pub ticket: String,
    /// Event id.
    pub event_id: String,
    /// When it happened.
    #[serde(with = "docket_contract::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: i64,
    /// What changed.
    pub changes: Vec<Change>,
    /// What the active pipeline decided.
    pub active: Decided,
    /// What the candidate's pipeline decided.
    pub candidate: Decided,
    #[serde(skip)]
    seq: u64,
}

/// Events of one kind of change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindCount {
    /// The decision kind.
    pub kind: DecisionKind,
    /// Events where it changed.
    pub events: u64,
}

/// One change and how often it happened ("group support → billing").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopChange {
    /// The decision kind.
    pub kind: DecisionKind,
    /// The active pipeline's value (`-`: nothing decided).
    pub before: String,
    /// The candidate's value.
    pub after: String,
    /// Events with this change.
    pub events: u64,
    /// Distinct tickets among them.
    pub tickets: u64,
}

/// Events the candidate failed on, by error kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureCount {
    /// The error kind (`fuel_exhausted`, `trap`, ...).
    pub kind: String,
    /// Events.
    pub events: u64,
    /// One of them.
    pub example_event: String,
}

/// What a backtest found.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestReport {
    /// The candidate.
    pub candidate: CandidateInfo,
    /// Start of the window (none: from the first recorded event).
    #[serde(with = "docket_contract::wire::instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub from: Option<i64>,
    /// End of the window, exclusive (none: no end).
    #[serde(with = "docket_contract::wire::instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub until: Option<i64>,
    /// Recorded events compared.
    pub events: u64,
    /// Events whose decisions changed.
    pub changed: u64,
    /// Changed events per decision kind (kinds that changed, in report order).
    pub by_kind: Vec<KindCount>,
    /// The most frequent changes.
    pub top_changes: Vec<TopChange>,
    /// The first changed events, both outcomes side by side.
    pub samples: Vec<Sample>,
    /// Events where a run of the candidate plugin failed, by error kind
    /// (its pipeline's failure policy then applied, as it would live).
    pub candidate_failures: Vec<FailureCount>,
    /// Recorded events that could not be run again (a version since
    /// deleted, a corrupt record), with the first reasons.
    pub not_replayed: u64,
    /// The first reasons events could not be run again.
    pub not_replayed_reasons: Vec<String>,
    /// Events whose baseline was their recorded decisions (recorded on the
    /// active pipeline); the others ran the active pipeline again.
    pub baseline_from_recording: u64,
    /// Changes not ranked among the top ones: past the first
    /// 10,000 distinct changes, further ones are only counted here.
    pub changes_not_ranked: u64,
    /// Why the backtest stopped before the window's end, if it did.
    pub stopped: Option<String>,
    /// Wall-clock time.
    pub elapsed_ms: u64,
    /// What a backtest cannot know.
    pub caveat: &'static str,
}

/// The report's caveat.
pub const CAVEAT: &str = "Each event is judged on the input it really had: had a decision changed \
then, the ticket would have evolved differently afterwards, and later events would have had other \
inputs. Counts are per event, not a simulation of an alternative past.";

/// Runs `candidate` over `tenant`'s recorded events at or after `from`
/// and before `until`, within `budget`, reporting progress to `progress`.
///
/// # Errors
/// An unknown tenant, or the store failing. A recorded event that cannot
/// be run again, or a candidate that fails on it, is counted in the
/// report, not an error.
pub fn backtest(
    docket: &Docket,
    store: &dyn Store,
    tenant: &str,
    candidate: &Candidate,
    (from, until): (i64, i64),
    budget: Budget,
    progress: &Progress,
) -> Result<BacktestReport, AppError> {
    let started = Instant::now();
    let active = docket.pipeline(tenant)?;
    let with_candidate = candidate.in_place_of(&active);
    progress.total.store(
        store.count_recordings(tenant, from, until)?,
        Ordering::Relaxed,
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    // A budget too far off to add to the clock is no deadline.
    let deadline = started.checked_add(Duration::from_secs(budget.max_seconds));
    let (pages, queue) = sync_channel::<Vec<RecordedRow>>(workers * 2);
    let queue = std::sync::Mutex::new(queue);
    let run = Run {
        docket,
        store,
        candidate_steps: with_candidate.steps_of(&candidate.info.plugin),
        active: &active,
        candidate: &with_candidate,
        candidate_name: &candidate.info.plugin,
        steps_distinct: {
            let names: Vec<&str> = with_candidate.plugins().collect();
            let distinct: std::collections::BTreeSet<&str> = names.iter().copied().collect();
            distinct.len() == names.len()
        },
    };
    let (scanned, tallies, stopped) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut tally = Tally::default();
                    let mut replayer = Replayer::new(docket, tenant);
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(page) = next else { break };
                        let n = page.len() as u64;
                        for row in page {
                            run.one(&mut replayer, row, &mut tally);
                        }
                        progress.done.fetch_add(n, Ordering::Relaxed);
                    }
                    tally
                })
            })
            .collect();
        let mut read = 0u64;
        let mut stopped = None;
        let mut page = Vec::with_capacity(PAGE_ROWS);
        let scanned = scan(store, tenant, from, until, |row| {
            if let Some(reason) = stop_reason(progress, read, budget, deadline) {
                stopped = Some(reason);
                return Err(Stop::Early);
            }
            read += 1;
            page.push(row);
            if page.len() == PAGE_ROWS {
                let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE_ROWS));
                pages.send(full).map_err(|_| Stop::Early)?;
            }
            Ok(())
        });
        if !page.is_empty() {
            let _ = pages.send(page);
        }
        drop(pages);
        let tallies: Vec<Tally> = handles
            .into_iter()
            .map(|h| h.join().expect("a backtest worker does not panic"))
            .collect();
        (scanned, tallies, stopped)
    });
    if let Err(Stop::Store(e)) = scanned {
        return Err(e.into());
    }
    let mut total = Tally::default();
    for t in tallies {
        total.merge(t);
    }
    Ok(total.report(candidate.info.clone(), from, until, stopped, started))
}

/// Rows handed to a worker at a time.
const PAGE_ROWS: usize = 256;

/// Why the scan stopped before the window's end: the budget or a cancel
/// (reported), or the store (an error).
enum Stop {
    Early,
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Store(e)
    }
}

fn stop_reason(
    progress: &Progress,
    read: u64,
    budget: Budget,
    deadline: Option<Instant>,
) -> Option<String> {
    if progress.cancel.load(Ordering::Relaxed) {
        Some("cancelled".into())
    } else if read >= budget.max_events {
        Some(format!(
            "the budget of {} events was reached",
            budget.max_events
        ))
    } else if deadline.is_some_and(|d| Instant::now() >= d) {
        Some(format!(
            "the budget of {} s was reached",
            budget.max_seconds
        ))
    } else {
        None
    }
}

/// What every worker shares.
struct Run<'a> {
    docket: &'a Docket,
    store: &'a dyn Store,
    /// The candidate's steps (with the events they subscribe to).
    candidate_steps: Vec<PipelineStep>,
    active: &'a Pipeline,
    candidate: &'a Pipeline,
    candidate_name: &'a str,
    /// Whether each plugin runs in one step only: recorded effects are
    /// told apart by plugin, so only then can a rerun apply them per step.
    steps_distinct: bool,
}

impl Run<'_> {
    /// Compares one recorded event's decisions under both pipelines.
    fn one(&self, replayer: &mut Replayer<'_>, row: RecordedRow, tally: &mut Tally) {
        if self.candidate_skips(&row) {
            // Recorded on the active pipeline, and the candidate's step
            // does not run for this kind of event: both pipelines run the
            // same plugins on it, so it decides as recorded.
            tally.events += 1;
            tally.from_recording += 1;
            return;
        }
        let (event_id, ticket, at, seq) =
            (row.event_id.clone(), row.ticket.clone(), row.at, row.seq);
        let rerun = match replayer.decode(self.store, row) {
            Ok(r) => r,
            Err(e) => return tally.not_replayed(&e),
        };
        let recorded_on_active = rerun.pipeline.hash() == self.active.hash();
        let baseline = if recorded_on_active {
            match serde_json::from_str::<RecordedEntry>(&rerun.row.entry) {
                Ok(RecordedEntry { status, effects }) => {
                    tally.from_recording += 1;
                    Decided { status, effects }
                }
                Err(e) => {
                    return tally.not_replayed(&ReplayError::Corrupt {
                        event: event_id,
                        reason: format!("audit entry: {e}"),
                    });
                }
            }
        } else {
            let o = self.docket.run(self.active, rerun.request.clone());
            Decided {
                status: o.status,
                effects: o.effects,
            }
        };
        let shortcut = self.steps_distinct && baseline.status == OutcomeStatus::Applied;
        let simulated = if recorded_on_active && shortcut {
            // Only the candidate runs while it agrees with the recording.
            match self.docket.rerun_changed(
                self.candidate,
                self.candidate_name,
                &baseline.effects,
                rerun.request,
            ) {
                Rerun::Same => {
                    tally.events += 1;
                    return;
                }
                Rerun::Different(o) => *o,
            }
        } else {
            self.docket.run(self.candidate, rerun.request)
        };
        for run in simulated
            .trace
            .iter()
            .filter(|r| r.plugin == self.candidate_name)
        {
            if let Some(error) = &run.error {
                tally.failed(error.kind(), &event_id);
            }
        }
        let candidate = Decided {
            status: simulated.status,
            effects: simulated.effects,
        };
        tally.events += 1;
        let changes = Decisions::of(&baseline.status, &baseline.effects)
            .changes(&Decisions::of(&candidate.status, &candidate.effects));
        if changes.is_empty() {
            return;
        }
        tally.changed(&ticket, &changes);
        if tally.samples.len() < SAMPLES {
            tally.samples.push(Sample {
                ticket,
                event_id,
                at,
                changes,
                active: baseline,
                candidate,
                seq,
            });
        }
    }
}

impl Run<'_> {
    /// Whether the row was recorded on the active pipeline and the
    /// candidate's step is subscribed to other kinds of event than its.
    fn candidate_skips(&self, row: &RecordedRow) -> bool {
        let Some(kind) = EventKindName::from_name(&row.kind) else {
            return false;
        };
        let subscribed = self.candidate_steps.iter().any(|step| step.runs_for(kind));
        !subscribed && recorded_pipeline(&row.input) == Some(self.active.hash())
    }
}

/// The hash of the pipeline an input record names, read without decoding
/// the rest.
fn recorded_pipeline(input: &str) -> Option<&str> {
    #[derive(Deserialize)]
    struct PipelineOnly<'a> {
        #[serde(borrow)]
        pipeline: &'a str,
    }
    serde_json::from_str::<PipelineOnly<'_>>(input)
        .ok()
        .map(|p| p.pipeline)
}

/// One worker's counts, merged at the end.
#[derive(Default)]
struct Tally {
    events: u64,
    changed: u64,
    by_kind: [u64; DecisionKind::ALL.len()],
    top: HashMap<(DecisionKind, String, String), (u64, HashSet<String>)>,
    other_changes: u64,
    samples: Vec<Sample>,
    failures: BTreeMap<String, (u64, String)>,
    not_replayed: u64,
    not_replayed_reasons: Vec<String>,
    from_recording: u64,
}

impl Tally {
    fn not_replayed(&mut self, e: &ReplayError) {
        self.not_replayed += 1;
        if self.not_replayed_reasons.len() < SAMPLES {
            self.not_replayed_reasons.push(e.to_string());
        }
    }

    fn failed(&mut self, kind: &str, event: &str) {
        self.failures
            .entry(kind.to_string())
            .or_insert_with(|| (0, event.to_string()))
            .0 += 1;
    }

    fn changed(&mut self, ticket: &str, changes: &[Change]) {
        self.changed += 1;
        for c in changes {
            self.by_kind[c.kind as usize] += 1;
            let key = (c.kind, c.before.clone(), c.after.clone());
            if self.top.len() >= DISTINCT_CHANGES && !self.top.contains_key(&key) {
                self.other_changes += 1;
                continue;
            }
            let (events, tickets) = self.top.entry(key).or_default();
            *events += 1;
            tickets.insert(ticket.to_string());
        }
    }

    fn merge(&mut self, other: Tally) {
        self.events += other.events;
        self.changed += other.changed;
        for (a, b) in self.by_kind.iter_mut().zip(other.by_kind) {
            *a += b;
        }
        for (key, (events, tickets)) in other.top {
            let (e, t) = self.top.entry(key).or_default();
            *e += events;
            t.extend(tickets);
        }
        self.other_changes += other.other_changes;
        self.samples.extend(other.samples);
        for (kind, (n, example)) in other.failures {
            self.failures.entry(kind).or_insert((0, example)).0 += n;
        }
        self.not_replayed += other.not_replayed;
        self.not_replayed_reasons.extend(other.not_replayed_reasons);
        self.from_recording += other.from_recording;
    }

    fn report(
        mut self,
        candidate: CandidateInfo,
        from: i64,
        until: i64,
        stopped: Option<String>,
        started: Instant,
    ) -> BacktestReport {
        // The first changed events of the window, whichever worker ran them.
        self.samples.sort_by_key(|s| (s.at, s.seq));
        self.samples.truncate(SAMPLES);
        self.not_replayed_reasons.truncate(SAMPLES);
        let mut top: Vec<TopChange> = self
            .top
            .into_iter()
            .map(|((kind, before, after), (events, tickets))| TopChange {
                kind,
                before,
                after,
                events,
                tickets: tickets.len() as u64,
            })
            .collect();
        top.sort_by(|a, b| {
            (b.events, a.kind, &a.before, &a.after).cmp(&(a.events, b.kind, &b.before, &b.after))
        });
        top.truncate(TOP_CHANGES);
        BacktestReport {
            candidate,
            from: (from != i64::MIN).then_some(from),
            until: (until != i64::MAX).then_some(until),
            events: self.events,
            changed: self.changed,
            by_kind: DecisionKind::ALL
                .iter()
                .zip(self.by_kind)
                .filter(|(_, n)| *n > 0)
                .map(|(kind, events)| KindCount {
                    kind: *kind,
                    events,
                })
                .collect(),
            top_changes: top,
            samples: self.samples,
            candidate_failures: self
                .failures
                .into_iter()
                .map(|(kind, (events, example_event))| FailureCount {
                    kind,
                    events,
                    example_event,
                })
                .collect(),
            not_replayed: self.not_replayed,
            not_replayed_reasons: self.not_replayed_reasons,
            baseline_from_recording: self.from_recording,
            changes_not_ranked: self.other_changes,
            stopped,
            elapsed_ms: started.elapsed().as_millis() as u64,
            caveat: CAVEAT,
        }
    }
}
