//! Replays a stream of ticket events (JSON lines) through tenants'
//! pipelines, keeping tickets, agents' load and plugin timers in memory.
//! Timers fire as `timer-fired` events when the stream's clock passes them.
//! This is what `docket run` and `docket demo` drive.

use crate::bindings::docket::plugin::types::{
    Agent, AssignmentChange, AuthorKind, Channel, Comment, CustomField, Decimal, Event, EventKind,
    FieldValue, Money, Part, Priority, Requester, Status, StatusChange, Ticket, TicketBrief,
    TimeEntry,
};
use crate::dispatch::{DispatchRequest, Outcome};
use crate::effects::Effect;
use crate::error::DocketError;
use crate::registry::Docket;
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

/// What happened, with its data.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Action {
    /// A new ticket.
    Created(NewTicket),
    /// Attributes or fields changed.
    Updated(TicketPatch),
    /// A comment.
    Commented(CommentIn),
    /// A status change.
    StatusChanged(StatusIn),
    /// A manual assignment.
    Assigned(AssignIn),
    /// Time logged.
    TimeLogged(TimeIn),
    /// A part used.
    PartUsed(PartIn),
    /// Only advances the clock (fires due timers).
    Tick,
}

/// A typed field value in the stream: `{"choice": "laptop"}`, `{"integer": 3}`,
/// `{"money": {"amount_minor": 1999, "currency": "EUR"}}`, ...
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldValueIn {
    /// Text.
    Text(String),
    /// Whole number.
    Integer(i64),
    /// Exact decimal.
    Decimal {
        /// Digits.
        mantissa: i64,
        /// Digits after the point.
        scale: u8,
    },
    /// `YYYY-MM-DD`.
    Date(String),
    /// RFC 3339 instant.
    Datetime(Timestamp),
    /// Checkbox.
    Checkbox(bool),
    /// Dropdown value.
    Choice(String),
    /// Multi-select values.
    Choices(Vec<String>),
    /// Money.
    Money {
        /// Minor units.
        amount_minor: i64,
        /// ISO currency.
        currency: String,
    },
}

impl From<FieldValueIn> for FieldValue {
    fn from(v: FieldValueIn) -> FieldValue {
        match v {
            FieldValueIn::Text(s) => FieldValue::Text(s),
            FieldValueIn::Integer(i) => FieldValue::Integer(i),
            FieldValueIn::Decimal { mantissa, scale } => {
                FieldValue::Decimal(Decimal { mantissa, scale })
            }
            FieldValueIn::Date(s) => FieldValue::Date(s),
            FieldValueIn::Datetime(t) => FieldValue::Datetime(t.as_millisecond()),
            FieldValueIn::Checkbox(b) => FieldValue::Checkbox(b),
            FieldValueIn::Choice(s) => FieldValue::Choice(s),
            FieldValueIn::Choices(v) => FieldValue::Choices(v),
            FieldValueIn::Money {
                amount_minor,
                currency,
            } => FieldValue::Money(Money {
                amount_minor,
                currency,
            }),
        }
    }
}

/// The requester of a new ticket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequesterIn {
    /// Id.
    pub id: String,
    /// Name (defaults to the id).
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: String,
    /// Tier, default `standard`.
    #[serde(default = "standard")]
    pub tier: String,
    /// Organization.
    #[serde(default)]
    pub organization: Option<String>,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn standard() -> String {
    "standard".into()
}

/// A new ticket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    /// Subject.
    pub subject: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Priority name, default `normal`.
    #[serde(default)]
    pub priority: Option<String>,
    /// Category.
    #[serde(default)]
    pub category: Option<String>,
    /// Channel name, default `web`.
    #[serde(default)]
    pub channel: Option<String>,
    /// Requester.
    pub requester: RequesterIn,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom fields.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldValueIn>,
}

/// Changes to a ticket; only the attributes present change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    /// Subject.
    pub subject: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Priority name.
    pub priority: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Channel name.
    pub channel: Option<String>,
    /// Requester tier.
    pub tier: Option<String>,
    /// Tags to add.
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// Custom fields to set (`null` clears one).
    #[serde(default)]
    pub fields: BTreeMap<String, Option<FieldValueIn>>,
}

/// A comment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentIn {
    /// Author id.
    pub author: String,
    /// `requester`, `agent` or `system`.
    pub author_kind: String,
    /// Text.
    pub body: String,
    /// Visible to the requester (default true).
    #[serde(default = "yes")]
    pub public: bool,
}

fn yes() -> bool {
    true
}

/// A status change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    /// New status name.
    pub status: String,
}

/// A manual assignment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// Group.
    pub group: Option<String>,
    /// Agent.
    pub agent: Option<String>,
}

/// Time logged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIn {
    /// Agent.
    pub agent: String,
    /// Work type.
    pub work_type: String,
    /// Start of the work.
    pub started_at: Timestamp,
    /// Minutes worked.
    pub minutes: u32,
    /// Billable (default true).
    #[serde(default = "yes")]
    pub billable: bool,
}

/// A part used.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartIn {
    /// SKU.
    pub sku: String,
    /// Description.
    pub description: String,
    /// Quantity.
    pub quantity: u32,
    /// Unit price in minor units.
    pub unit_price_minor: i64,
    /// Currency.
    pub currency: String,
}

fn parse_enum<T: Copy>(what: &str, value: &str, table: &[(&str, T)]) -> Result<T, String> {
    table
        .iter()
        .find(|(n, _)| *n == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown {what} `{value}` (expected one of: {})",
                names.join(", ")
            )
        })
}

/// Parses a status name.
pub fn parse_status(s: &str) -> Result<Status, String> {
    use Status::*;
    parse_enum(
        "status",
        s,
        &[
            ("new", New),
            ("open", Open),
            ("pending", Pending),
            ("on-hold", OnHold),
            ("solved", Solved),
            ("closed", Closed),
        ],
    )
}

/// Parses a priority name.
pub fn parse_priority(s: &str) -> Result<Priority, String> {
    use Priority::*;
    parse_enum(
        "priority",
        s,
        &[
            ("low", Low),
            ("normal", Normal),
            ("high", High),
            ("urgent", Urgent),
        ],
    )
}

/// Parses a channel name.
pub fn parse_channel(s: &str) -> Result<Channel, String> {
    use Channel::*;
    parse_enum(
        "channel",
        s,
        &[
            ("email", Email),
            ("web", Web),
            ("phone", Phone),
            ("chat", Chat),
            ("api", Api),
        ],
    )
}

fn parse_author(s: &str) -> Result<AuthorKind, String> {
    use AuthorKind::*;
    parse_enum(
        "author kind",
        s,
        &[
            ("requester", Requester),
            ("agent", Agent),
            ("system", System),
        ],
    )
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

const HISTORY_LIMIT: usize = 50;

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
        let name = action_name(&record.action);
        if matches!(record.action, Action::Tick) {
            return Ok(out);
        }
        let (ticket, kind) = match (&record.action, existing) {
            (Action::Created(_), Some(_)) => {
                return Err(format!("{where_}: the ticket already exists"));
            }
            (Action::Created(new), None) => (
                new_ticket(&record, new).map_err(|e| format!("{where_}: {e}"))?,
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
            .map(|t| TicketBrief {
                id: t.id.clone(),
                category: t.category.clone(),
                subject: t.subject.clone(),
                status: t.status,
                created_at: t.created_at,
            })
            .collect();
        history.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        history.truncate(HISTORY_LIMIT);
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

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Created(_) => "created",
        Action::Updated(_) => "updated",
        Action::Commented(_) => "commented",
        Action::StatusChanged(_) => "status_changed",
        Action::Assigned(_) => "assigned",
        Action::TimeLogged(_) => "time_logged",
        Action::PartUsed(_) => "part_used",
        Action::Tick => "tick",
    }
}

fn new_ticket(record: &StreamRecord, n: &NewTicket) -> Result<Ticket, String> {
    let at = record.at.as_millisecond();
    let r = &n.requester;
    Ok(Ticket {
        id: record.ticket.clone(),
        tenant: record.tenant.clone(),
        subject: n.subject.clone(),
        description: n.description.clone(),
        status: Status::New,
        priority: n
            .priority
            .as_deref()
            .map(parse_priority)
            .transpose()?
            .unwrap_or(Priority::Normal),
        category: n.category.clone(),
        channel: n
            .channel
            .as_deref()
            .map(parse_channel)
            .transpose()?
            .unwrap_or(Channel::Web),
        requester: Requester {
            id: r.id.clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.clone()),
            email: r.email.clone(),
            tier: r.tier.clone(),
            organization: r.organization.clone(),
            region: r.region.clone(),
            tags: r.tags.clone(),
        },
        assignee: None,
        group: None,
        tags: n.tags.clone(),
        created_at: at,
        updated_at: at,
        fields: n
            .fields
            .iter()
            .map(|(k, v)| CustomField {
                key: k.clone(),
                value: v.clone().into(),
            })
            .collect(),
        time_entries: Vec::new(),
        parts: Vec::new(),
    })
}

/// Applies the event's own change to the ticket and returns the event kind.
fn apply_action(t: &mut Ticket, action: &Action) -> Result<EventKind, String> {
    Ok(match action {
        Action::Created(_) | Action::Tick => unreachable!("handled by the caller"),
        Action::Updated(p) => {
            let mut changed = Vec::new();
            if let Some(s) = &p.subject {
                t.subject.clone_from(s);
                changed.push("subject".to_string());
            }
            if let Some(s) = &p.description {
                t.description.clone_from(s);
                changed.push("description".into());
            }
            if let Some(s) = &p.priority {
                t.priority = parse_priority(s)?;
                changed.push("priority".into());
            }
            if let Some(s) = &p.category {
                t.category = Some(s.clone());
                changed.push("category".into());
            }
            if let Some(s) = &p.channel {
                t.channel = parse_channel(s)?;
                changed.push("channel".into());
            }
            if let Some(s) = &p.tier {
                t.requester.tier.clone_from(s);
                changed.push("tier".into());
            }
            if !p.add_tags.is_empty() {
                for tag in &p.add_tags {
                    if !t.tags.contains(tag) {
                        t.tags.push(tag.clone());
                    }
                }
                changed.push("tags".into());
            }
            for (key, value) in &p.fields {
                t.fields.retain(|f| &f.key != key);
                if let Some(v) = value {
                    t.fields.push(CustomField {
                        key: key.clone(),
                        value: v.clone().into(),
                    });
                }
                changed.push(key.clone());
            }
            if changed.is_empty() {
                return Err("an update that changes nothing".into());
            }
            EventKind::Updated(changed)
        }
        Action::Commented(c) => EventKind::Commented(Comment {
            author_id: c.author.clone(),
            author_kind: parse_author(&c.author_kind)?,
            body: c.body.clone(),
            public: c.public,
        }),
        Action::StatusChanged(s) => {
            let current = parse_status(&s.status)?;
            let previous = std::mem::replace(&mut t.status, current);
            EventKind::StatusChanged(StatusChange { previous, current })
        }
        Action::Assigned(a) => {
            t.group.clone_from(&a.group);
            t.assignee.clone_from(&a.agent);
            EventKind::Assigned(AssignmentChange {
                group: a.group.clone(),
                agent: a.agent.clone(),
            })
        }
        Action::TimeLogged(e) => {
            let entry = TimeEntry {
                id: format!("{}-te{}", t.id, t.time_entries.len() + 1),
                agent_id: e.agent.clone(),
                work_type: e.work_type.clone(),
                started_at: e.started_at.as_millisecond(),
                minutes: e.minutes,
                billable: e.billable,
            };
            t.time_entries.push(entry.clone());
            EventKind::TimeLogged(entry)
        }
        Action::PartUsed(p) => {
            let part = Part {
                sku: p.sku.clone(),
                description: p.description.clone(),
                quantity: p.quantity,
                unit_price: Money {
                    amount_minor: p.unit_price_minor,
                    currency: p.currency.clone(),
                },
            };
            t.parts.push(part.clone());
            EventKind::PartUsed(part)
        }
    })
}
