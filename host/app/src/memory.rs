//! A [`Store`] in memory: what `docket run` replays into, and what tests
//! and embedders use when they keep their own records. It keeps the same
//! indexes the SQLite store keeps (requester history, agent load, timers by
//! due instant), so no read scans a tenant's tickets.

use crate::sla::SlaClock;
use crate::store::{
    EventCommit, RecordedRow, RecordingQuery, Store, StoreError, StoredEvent, StoredMessage,
    TimerChange, TimerRow,
};
use docket_contract::types::{Status, Ticket, TicketBrief};
use docket_engine::config::AgentConfig;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// (tenant, ticket, owner, key): one timer's identity.
type TimerId = (String, String, String, String);
/// A requester's tickets, newest first: (created, id).
type NewestFirst = BTreeSet<(Reverse<i64>, String)>;

/// An in-memory [`Store`]. Everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    agents: HashMap<String, Vec<AgentConfig>>,
    /// (tenant, id) → ticket and version.
    tickets: HashMap<(String, String), (Ticket, u64)>,
    /// (tenant, requester) → (newest first, id).
    by_requester: HashMap<(String, String), NewestFirst>,
    /// tenant → agent → unresolved tickets assigned.
    load: HashMap<String, HashMap<String, u32>>,
    /// (tenant, event id) → processed event.
    events: HashMap<(String, String), StoredEvent>,
    /// (due, tenant, ticket, owner, key): the order timers fire in.
    timers: BTreeSet<(i64, TimerId)>,
    /// Timer → its due instant.
    timer_due: HashMap<TimerId, i64>,
    /// (tenant, ticket) → SLA clocks.
    clocks: HashMap<(String, String), Vec<SlaClock>>,
    /// tenant → its outbox, in order (`seq` is the index plus one).
    outbox: HashMap<String, Vec<StoredMessage>>,
    /// The last audit position given.
    audit_seq: u64,
    /// tenant → recorded events by (at, seq).
    recordings: HashMap<String, BTreeMap<(i64, u64), RecordedRow>>,
    /// (tenant, hash) → recording blob.
    blobs: HashMap<(String, String), Arc<str>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Sets a tenant's agents (their baseline load included).
    pub fn set_agents(&self, tenant: &str, agents: Vec<AgentConfig>) {
        self.lock().agents.insert(tenant.to_string(), agents);
    }

    /// Every pending timer, in the order they would fire.
    pub fn pending_timers(&self) -> Vec<TimerRow> {
        self.lock()
            .timers
            .iter()
            .map(|(due, id)| timer_row(id, *due))
            .collect()
    }

    /// A ticket's pending timers, in the order they would fire.
    pub fn ticket_timers(&self, tenant: &str, ticket: &str) -> Vec<TimerRow> {
        self.lock()
            .timers
            .iter()
            .filter(|(_, id)| id.0 == tenant && id.1 == ticket)
            .map(|(due, id)| timer_row(id, *due))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn timer_row(id: &TimerId, due_at: i64) -> TimerRow {
    TimerRow {
        tenant: id.0.clone(),
        ticket: id.1.clone(),
        plugin: id.2.clone(),
        key: id.3.clone(),
        due_at,
    }
}

fn timer_id(t: &TimerRow) -> TimerId {
    (
        t.tenant.clone(),
        t.ticket.clone(),
        t.plugin.clone(),
        t.key.clone(),
    )
}

/// The agent a ticket counts against, while it is unresolved.
fn counted_assignee(t: &Ticket) -> Option<&str> {
    let resolved = matches!(t.status, Status::Solved | Status::Closed);
    t.assignee.as_deref().filter(|_| !resolved)
}

impl Inner {
    fn set_timer(&mut self, id: TimerId, due: i64) {
        self.cancel_timer(&id);
        self.timers.insert((due, id.clone()));
        self.timer_due.insert(id, due);
    }

    fn cancel_timer(&mut self, id: &TimerId) -> Option<i64> {
        let due = self.timer_due.remove(id)?;
        self.timers.remove(&(due, id.clone()));
        Some(due)
    }

    fn put_ticket(&mut self, t: &Ticket) {
        let key = (t.tenant.clone(), t.id.clone());
        let (before, version) = match self.tickets.get(&key) {
            Some((b, v)) => (Some(b), v + 1),
            None => (None, 1),
        };
        let counted_before = before.and_then(counted_assignee).map(str::to_string);
        if let Some(b) = before {
            // The requester cannot change, but be exact if it ever does.
            let index = (b.tenant.clone(), b.requester.id.clone());
            if let Some(set) = self.by_requester.get_mut(&index) {
                set.remove(&(Reverse(b.created_at), b.id.clone()));
            }
        }
        let load = self.load.entry(t.tenant.clone()).or_default();
        if counted_before.as_deref() != counted_assignee(t) {
            if let Some(a) = counted_before {
                let n = load.entry(a).or_default();
                *n = n.saturating_sub(1);
            }
            if let Some(a) = counted_assignee(t) {
                *load.entry(a.to_string()).or_default() += 1;
            }
        }
        self.by_requester
            .entry((t.tenant.clone(), t.requester.id.clone()))
            .or_default()
            .insert((Reverse(t.created_at), t.id.clone()));
        self.tickets.insert(key, (t.clone(), version));
    }
}

impl Store for MemoryStore {
    fn versioned_ticket(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(Ticket, u64)>, StoreError> {
        Ok(self
            .lock()
            .tickets
            .get(&(tenant.to_string(), id.to_string()))
            .cloned())
    }

    fn requester_tickets(
        &self,
        tenant: &str,
        requester: &str,
        except: &str,
        limit: usize,
    ) -> Result<Vec<TicketBrief>, StoreError> {
        let inner = self.lock();
        let Some(ids) = inner
            .by_requester
            .get(&(tenant.to_string(), requester.to_string()))
        else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter(|(_, id)| id != except)
            .take(limit)
            .filter_map(|(_, id)| inner.tickets.get(&(tenant.to_string(), id.clone())))
            .map(|(t, _)| crate::ticket_input::brief(t))
            .collect())
    }

    fn agents(&self, tenant: &str) -> Result<Vec<AgentConfig>, StoreError> {
        Ok(self.lock().agents.get(tenant).cloned().unwrap_or_default())
    }

    fn open_load(&self, tenant: &str) -> Result<Vec<(String, u32)>, StoreError> {
        Ok(self
            .lock()
            .load
            .get(tenant)
            .map(|l| {
                l.iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(a, n)| (a.clone(), *n))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn sla_clocks(&self, tenant: &str, ticket: &str) -> Result<Vec<SlaClock>, StoreError> {
        Ok(self
            .lock()
            .clocks
            .get(&(tenant.to_string(), ticket.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    fn stored_event(&self, tenant: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self
            .lock()
            .events
            .get(&(tenant.to_string(), id.to_string()))
            .cloned())
    }

    fn timer_due(&self, timer: &TimerRow) -> Result<Option<i64>, StoreError> {
        Ok(self.lock().timer_due.get(&timer_id(timer)).copied())
    }

    fn due_timers(&self, until: i64, limit: usize) -> Result<Vec<TimerRow>, StoreError> {
        Ok(self
            .lock()
            .timers
            .iter()
            .take_while(|(due, _)| *due <= until)
            .take(limit)
            .map(|(due, id)| timer_row(id, *due))
            .collect())
    }

    fn cancel_timer(&self, timer: &TimerRow) -> Result<(), StoreError> {
        self.lock().cancel_timer(&timer_id(timer));
        Ok(())
    }

    fn postpone_timer(&self, timer: &TimerRow, due_at: i64) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let id = timer_id(timer);
        if inner.timer_due.get(&id) != Some(&timer.due_at) {
            return Ok(false);
        }
        inner.set_timer(id, due_at);
        Ok(true)
    }

    fn commit_event(&self, c: &EventCommit<'_>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let event_key = (c.tenant.to_string(), c.event_id.to_string());
        if inner.events.contains_key(&event_key) {
            return Err(StoreError::DuplicateEvent(c.event_id.to_string()));
        }
        if let Some(t) = c.fired
            && inner.timer_due.get(&timer_id(t)) != Some(&t.due_at)
        {
            return Err(StoreError::Conflict(format!("timer `{}` is gone", t.key)));
        }
        if c.applied.is_some() {
            let stored = inner
                .tickets
                .get(&(c.tenant.to_string(), c.ticket.to_string()))
                .map(|(_, v)| *v);
            if stored != c.ticket_version {
                return Err(StoreError::Conflict(format!(
                    "ticket `{}` is at version {stored:?}, the event was decided on {:?}",
                    c.ticket, c.ticket_version
                )));
            }
        }
        if let Some(t) = c.fired {
            inner.cancel_timer(&timer_id(t));
        }
        inner.events.insert(
            event_key,
            StoredEvent {
                status: c.status.to_string(),
                outcome: c.outcome.clone(),
                fingerprint: c.fingerprint.map(str::to_string),
            },
        );
        inner.audit_seq += 1;
        if let Some(r) = c.recording {
            let seq = inner.audit_seq;
            inner
                .recordings
                .entry(c.tenant.to_string())
                .or_default()
                .insert(
                    (c.at, seq),
                    RecordedRow {
                        seq,
                        ticket: c.ticket.to_string(),
                        event_id: c.event_id.to_string(),
                        kind: c.kind.to_string(),
                        at: c.at,
                        entry: c.audit.to_string(),
                        input: r.input.clone(),
                    },
                );
            for blob in &r.blobs {
                inner
                    .blobs
                    .entry((c.tenant.to_string(), blob.hash.clone()))
                    .or_insert_with(|| blob.body.clone());
            }
        }
        let Some(applied) = c.applied else {
            return Ok(());
        };
        inner.put_ticket(applied.ticket);
        for change in applied.timers {
            match change {
                TimerChange::Set(t) => inner.set_timer(timer_id(t), t.due_at),
                TimerChange::Cancel { owner, key } => {
                    let id = (
                        c.tenant.to_string(),
                        c.ticket.to_string(),
                        owner.clone(),
                        key.clone(),
                    );
                    inner.cancel_timer(&id);
                }
            }
        }
        inner.clocks.insert(
            (c.tenant.to_string(), c.ticket.to_string()),
            applied.clocks.to_vec(),
        );
        let outbox = inner.outbox.entry(c.tenant.to_string()).or_default();
        for m in c.messages {
            outbox.push(StoredMessage {
                seq: outbox.len() as u64 + 1,
                message: m.clone(),
            });
        }
        Ok(())
    }

    fn messages_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let inner = self.lock();
        let outbox = inner.outbox.get(tenant).map_or(&[][..], Vec::as_slice);
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(outbox.len());
        Ok(outbox[start..].iter().take(limit).cloned().collect())
    }

    fn recordings(
        &self,
        tenant: &str,
        query: &RecordingQuery,
    ) -> Result<Vec<RecordedRow>, StoreError> {
        let inner = self.lock();
        let Some(rows) = inner.recordings.get(tenant) else {
            return Ok(Vec::new());
        };
        let start = query.lower_bound();
        Ok(rows
            .range(start..)
            .filter(|(key, _)| query.after != Some(**key))
            .take_while(|((at, _), _)| *at < query.until)
            .take(query.limit)
            .map(|(_, row)| row.clone())
            .collect())
    }

    fn count_recordings(&self, tenant: &str, from: i64, until: i64) -> Result<u64, StoreError> {
        if from >= until {
            return Ok(0);
        }
        Ok(self
            .lock()
            .recordings
            .get(tenant)
            .map_or(0, |rows| rows.range((from, 0)..(until, 0)).count() as u64))
    }

    fn recording_blob(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .blobs
            .get(&(tenant.to_string(), hash.to_string()))
            .map(|b| b.to_string()))
    }
}
