//! Replays a stream of ticket events (JSON lines) through tenants'
//! pipelines, keeping tickets, agents' load and plugin timers in memory.
//! Timers fire as `timer-fired` events when the stream's clock passes them.
//! This is what `docket run` and `docket demo` drive.

use crate::ticket_input::{Action, apply_action, brief, new_ticket};
use docket_contract::bindings::docket::plugin::types::{
    Agent, Event, EventKind, Status, Ticket, TicketBrief,
};
use docket_engine::dispatch::{DispatchRequest, Outcome};
use docket_engine::effects::Effect;
use docket_engine::error::DocketError;
use docket_engine::registry::Docket;
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

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
}

#[derive(Debug, Clone)]
struct TimerEntry {
    tenant: String,
    ticket: String,
    plugin: String,
    key: String,
}

#[derive(Default)]
struct TenantBook {
    agents: Vec<Agent>,
    tickets: HashMap<String, Ticket>,
}

/// In-memory state of a replay.
pub struct Replay<'d> {
    docket: &'d Docket,
    books: HashMap<String, TenantBook>,
    /// (due, sequence) → timer; the sequence keeps equal instants in order.
    timers: BTreeMap<(i64, u64), TimerEntry>,
    timer_index: HashMap<(String, String, String, String), (i64, u64)>,
    sequence: u64,
    /// The latest instant seen: the replay's clock.
    clock: i64,
}

impl<'d> Replay<'d> {
    /// A replay over the engine's tenants, with each tenant's agents.
    pub fn new(docket: &'d Docket, agents: HashMap<String, Vec<Agent>>) -> Replay<'d> {
        let books = agents
            .into_iter()
            .map(|(t, agents)| {
                (
                    t,
                    TenantBook {
                        agents,
                        tickets: HashMap::new(),
                    },
                )
            })
            .collect();
        Replay {
            docket,
            books,
            timers: BTreeMap::new(),
            timer_index: HashMap::new(),
            sequence: 0,
            clock: i64::MIN,
        }
    }

    /// The current state of a ticket.
    pub fn ticket(&self, tenant: &str, id: &str) -> Option<&Ticket> {
        self.books.get(tenant)?.tickets.get(id)
    }

    /// Timers still pending, as (due, tenant, ticket, key).
    pub fn pending_timers(&self) -> Vec<(i64, String, String, String)> {
        self.timers
            .iter()
            .map(|((due, _), t)| (*due, t.tenant.clone(), t.ticket.clone(), t.key.clone()))
            .collect()
    }

    /// Fires every timer due at or before `until`, in due order. A timer set
    /// for a moment already past fires at once (at the replay's clock).
    pub fn fire_due(&mut self, until: i64) -> Result<Vec<Replayed>, DocketError> {
        let mut out = Vec::new();
        while let Some((&(due, seq), _)) = self.timers.first_key_value() {
            if due > until {
                break;
            }
            let timer = self.timers.remove(&(due, seq)).expect("first timer");
            self.timer_index.remove(&(
                timer.tenant.clone(),
                timer.ticket.clone(),
                timer.plugin.clone(),
                timer.key.clone(),
            ));
            let Some(ticket) = self.ticket(&timer.tenant, &timer.ticket).cloned() else {
                continue;
            };
            let at = due.max(self.clock);
            self.clock = at;
            let event = Event {
                id: format!(
                    "timer:{}:{}:{}:{due}",
                    timer.ticket, timer.plugin, timer.key
                ),
                at,
                actor: None,
                kind: EventKind::TimerFired(timer.key.clone()),
            };
            let outcome = self.run(&timer.tenant, ticket, event)?;
            out.push(Replayed {
                event: format!("timer {}", timer.key),
                line: None,
                at,
                outcome,
            });
        }
        Ok(out)
    }

    /// Feeds one record: fires the timers due before it, then dispatches it.
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
        let book = self
            .books
            .get(&record.tenant)
            .ok_or_else(|| format!("{where_}: unknown tenant"))?;
        let existing = book.tickets.get(&record.ticket).cloned();
        let id = record
            .id
            .clone()
            .unwrap_or_else(|| format!("{}:{}:{line}", record.tenant, record.ticket));
        let name = record.action.name();
        if matches!(record.action, Action::Tick) {
            return Ok(out);
        }
        let (ticket, kind) = match (&record.action, existing) {
            (Action::Created(_), Some(_)) => {
                return Err(format!("{where_}: the ticket already exists"));
            }
            (Action::Created(new), None) => (
                new_ticket(&record.tenant, &record.ticket, at, new)
                    .map_err(|e| format!("{where_}: {e}"))?,
                EventKind::Created,
            ),
            (_, None) => return Err(format!("{where_}: no such ticket (create it first)")),
            (action, Some(mut t)) => {
                let kind = apply_action(&mut t, action).map_err(|e| format!("{where_}: {e}"))?;
                t.updated_at = at;
                (t, kind)
            }
        };
        let event = Event {
            id,
            at,
            actor: record.actor.clone(),
            kind,
        };
        let outcome = self
            .run(&record.tenant, ticket, event)
            .map_err(|e| format!("{where_}: {e}"))?;
        out.push(Replayed {
            event: name.into(),
            line: Some(line),
            at,
            outcome,
        });
        Ok(out)
    }

    fn run(&mut self, tenant: &str, ticket: Ticket, event: Event) -> Result<Outcome, DocketError> {
        let book = self
            .books
            .get(tenant)
            .ok_or_else(|| DocketError::UnknownTenant(tenant.to_string()))?;
        let agents = live_agents(book);
        let mut history: Vec<TicketBrief> = book
            .tickets
            .values()
            .filter(|t| t.requester.id == ticket.requester.id && t.id != ticket.id)
            .map(brief)
            .collect();
        history.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        history.truncate(crate::ticket_input::HISTORY_LIMIT);
        let now = event.at;
        let request = DispatchRequest {
            event,
            ticket,
            agents,
            history,
            now,
        };
        let outcome = self.docket.dispatch(tenant, request)?;
        if outcome.is_applied() {
            for e in &outcome.effects {
                match &e.effect {
                    Effect::SetTimer { key, due_at } => {
                        self.set_timer(tenant, &outcome.ticket.id, &e.plugin, key, *due_at)
                    }
                    Effect::CancelTimer { key } => {
                        self.cancel_timer(tenant, &outcome.ticket.id, &e.plugin, key)
                    }
                    _ => {}
                }
            }
            let book = self.books.get_mut(tenant).expect("book checked above");
            book.tickets
                .insert(outcome.ticket.id.clone(), outcome.ticket.clone());
        }
        Ok(outcome)
    }

    fn set_timer(&mut self, tenant: &str, ticket: &str, plugin: &str, key: &str, due: i64) {
        self.cancel_timer(tenant, ticket, plugin, key);
        self.sequence += 1;
        let entry = TimerEntry {
            tenant: tenant.into(),
            ticket: ticket.into(),
            plugin: plugin.into(),
            key: key.into(),
        };
        self.timers.insert((due, self.sequence), entry);
        self.timer_index.insert(
            (tenant.into(), ticket.into(), plugin.into(), key.into()),
            (due, self.sequence),
        );
    }

    fn cancel_timer(&mut self, tenant: &str, ticket: &str, plugin: &str, key: &str) {
        if let Some(slot) =
            self.timer_index
                .remove(&(tenant.into(), ticket.into(), plugin.into(), key.into()))
        {
            self.timers.remove(&slot);
        }
    }
}

/// Agents with their load: the configured baseline plus the unresolved
/// tickets assigned to them in this replay.
fn live_agents(book: &TenantBook) -> Vec<Agent> {
    book.agents
        .iter()
        .map(|a| {
            let mine = book
                .tickets
                .values()
                .filter(|t| {
                    t.assignee.as_deref() == Some(&a.id)
                        && !matches!(t.status, Status::Solved | Status::Closed)
                })
                .count() as u32;
            Agent {
                open_tickets: a.open_tickets + mine,
                ..a.clone()
            }
        })
        .collect()
}
