//! Replays a stream of ticket events (JSON lines) through the one event
//! lifecycle, on the stream's clock: what `docket run` and `docket demo`
//! drive (over a [`MemoryStore`](crate::MemoryStore)), and what any store
//! replays identically.

use crate::error::AppError;
use crate::lifecycle::{EventResult, Lifecycle, Recorded, TicketEvent};
use crate::sla::SlaClock;
use crate::store::{Store, TimerChange};
use crate::ticket_input::Action;
use docket_engine::DocketError;
use docket_engine::Outcome;
use jiff::Timestamp;
use serde::Deserialize;

/// One line of an event stream.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamRecord {
    /// Tenant.
    pub tenant: String,
    /// Ticket id.
    pub ticket: String,
    /// When it happened (RFC 3339).
    pub at: Timestamp,
    /// Event id; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Who did it.
    #[serde(default)]
    pub actor: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub action: Action,
}

/// Parses a whole stream; a bad line fails the whole stream before anything
/// runs, with its line number.
pub fn parse_stream(text: &str, source: &str) -> Result<Vec<(usize, StreamRecord)>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map(|r| (i + 1, r))
                .map_err(|e| format!("{source}:{}: {e}", i + 1))
        })
        .collect()
}

/// One dispatched event of the replay.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// What kind of event (`created`, ..., or `timer <key>`).
    pub event: String,
    /// The stream line, or `None` for a timer.
    pub line: Option<usize>,
    /// When it happened (ms since the epoch).
    pub at: i64,
    /// The outcome.
    pub outcome: Outcome,
    /// Timer changes the event made (the plugins' and the SLA milestones').
    pub timers: Vec<TimerChange>,
    /// The ticket's SLA clocks after the event.
    pub clocks: Vec<SlaClock>,
}

impl Replayed {
    fn new(line: Option<usize>, event: String, r: Recorded) -> Replayed {
        Replayed {
            event,
            line,
            at: r.event.at,
            outcome: r.outcome,
            timers: r.timers,
            clocks: r.clocks,
        }
    }
}

/// A replay: the stream's records applied in order through the one event
/// lifecycle, on the stream's clock. Timers (the plugins' and the SLA
/// milestones') fire as `timer-fired` events when the clock passes them.
pub struct Replay<'l, S> {
    lifecycle: &'l Lifecycle<S>,
    /// The latest instant seen: the replay's clock.
    clock: i64,
}

impl<'l, S: Store> Replay<'l, S> {
    /// A replay through `lifecycle`, its clock at the start of time.
    pub fn new(lifecycle: &'l Lifecycle<S>) -> Replay<'l, S> {
        Replay {
            lifecycle,
            clock: i64::MIN,
        }
    }

    /// Fires every timer due at or before `until`, in due order. A timer set
    /// for a moment already past fires at once (at the replay's clock).
    ///
    /// # Errors
    /// When a timer's event cannot be dispatched or recorded.
    pub fn fire_due(&mut self, until: i64) -> Result<Vec<Replayed>, AppError> {
        let mut out = Vec::new();
        while let Some(timer) = self.lifecycle.store().due_timers(until, 1)?.pop() {
            let at = timer.due_at.max(self.clock);
            self.clock = at;
            if let Some(r) = self.lifecycle.fire_timer(&timer, at)? {
                out.push(Replayed::new(None, format!("timer {}", timer.key), r));
            }
        }
        Ok(out)
    }

    /// Feeds one record: fires the timers due before it, then applies it.
    ///
    /// # Errors
    /// A record earlier than the one before it, or one the lifecycle
    /// refuses, named by its line, tenant and ticket.
    pub fn feed(&mut self, line: usize, record: StreamRecord) -> Result<Vec<Replayed>, String> {
        let at = record.at.as_millisecond();
        let where_ = format!(
            "line {line}: tenant `{}`, ticket `{}`",
            record.tenant, record.ticket
        );
        if at < self.clock {
            return Err(format!(
                "{where_}: {} is earlier than the event before it (streams must be in time order)",
                record.at
            ));
        }
        let mut out = self.fire_due(at).map_err(|e| e.to_string())?;
        self.clock = at;
        if matches!(record.action, Action::Tick) {
            return Ok(out);
        }
        let id = record
            .id
            .clone()
            .unwrap_or_else(|| format!("{}:{}:{line}", record.tenant, record.ticket));
        let event = TicketEvent {
            tenant: &record.tenant,
            ticket: &record.ticket,
            action: &record.action,
            id: &id,
            at,
            actor: record.actor.as_deref(),
            fingerprint: None,
        };
        let failed = |reason: String| format!("{where_}: {reason}");
        match self.lifecycle.apply(&event) {
            Ok(EventResult::Recorded(r)) => {
                out.push(Replayed::new(Some(line), record.action.name().into(), *r));
                Ok(out)
            }
            Ok(EventResult::Repeated(_)) => Err(failed(format!(
                "event id `{id}` was already processed (ids must be unique per tenant)"
            ))),
            Err(AppError::Engine(DocketError::UnknownTenant(_))) => {
                Err(failed("unknown tenant".into()))
            }
            Err(AppError::TicketExists { .. }) => Err(failed("the ticket already exists".into())),
            Err(AppError::NoSuchTicket { .. }) => {
                Err(failed("no such ticket (create it first)".into()))
            }
            Err(AppError::InvalidEvent { reason, .. }) => Err(failed(reason)),
            Err(e) => Err(failed(e.to_string())),
        }
    }
}
