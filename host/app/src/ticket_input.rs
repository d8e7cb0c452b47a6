//! What callers send to change tickets, in JSON: new tickets, patches,
//! comments, status changes, time and parts. Shared by the stream replay
//! (`docket run`) and the HTTP service, with one place that turns an input
//! into the event's own change of the ticket.

use docket_contract::bindings::docket::plugin::types::{
    AssignmentChange, AuthorKind, Channel, Comment, CustomField, Decimal, EventKind, FieldValue,
    Money, Part, Priority, Requester, Status, StatusChange, Ticket, TicketBrief, TimeEntry,
};
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How many of the requester's other tickets plugins see (newest first),
/// in `docket run` and `docket serve` alike.
pub const HISTORY_LIMIT: usize = 50;

/// The short view of a ticket that other tickets' plugins see in `history`.
pub fn brief(t: &Ticket) -> TicketBrief {
    TicketBrief {
        id: t.id.clone(),
        category: t.category.clone(),
        subject: t.subject.clone(),
        status: t.status,
        created_at: t.created_at,
    }
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    /// Subject.
    pub subject: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Priority name, default `normal`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<docket_contract::wire::PriorityDef>))]
    pub priority: Option<String>,
    /// Category.
    #[serde(default)]
    pub category: Option<String>,
    /// Channel name, default `web`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<docket_contract::wire::ChannelDef>))]
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

/// A custom field's new value in a patch, or `null` to clear it: the schema
/// of [`TicketPatch::fields`]' values (which deserialize as
/// `Option<FieldValueIn>`), written by hand as `anyOf` so that fuzzers can
/// negate it.
pub struct FieldChange;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for FieldChange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
        AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("FieldValueIn"))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some("The field's new value, or null to clear it."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for FieldChange {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("FieldValueIn".into(), FieldValueIn::schema()));
        <FieldValueIn as utoipa::ToSchema>::schemas(schemas);
    }
}

/// Changes to a ticket; only the attributes present change.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    /// Subject.
    pub subject: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Priority name.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<docket_contract::wire::PriorityDef>))]
    pub priority: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Channel name.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<docket_contract::wire::ChannelDef>))]
    pub channel: Option<String>,
    /// Requester tier.
    pub tier: Option<String>,
    /// Tags to add.
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// Custom fields to set (`null` clears one).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, FieldChange>))]
    pub fields: BTreeMap<String, Option<FieldValueIn>>,
}

/// A comment.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommentIn {
    /// Author id.
    pub author: String,
    /// `requester`, `agent` or `system`.
    #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::AuthorKindDef))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    /// New status name.
    #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::StatusDef))]
    pub status: String,
}

/// A manual assignment.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// Group.
    pub group: Option<String>,
    /// Agent.
    pub agent: Option<String>,
}

/// Time logged.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeIn {
    /// Agent.
    pub agent: String,
    /// Work type.
    pub work_type: String,
    /// Start of the work.
    pub started_at: Timestamp,
    /// Minutes worked.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1440))]
    pub minutes: u32,
    /// Billable (default true).
    #[serde(default = "yes")]
    pub billable: bool,
}

/// The longest time entry an event may log: one day.
pub const MAX_ENTRY_MINUTES: u32 = 1_440;
/// The most units of a part one event may use.
pub const MAX_PART_QUANTITY: u32 = 1_000_000;
/// The largest unit price of a part, either side of zero, in minor units
/// (10 billion in a currency of two decimals). With the quantity bound, a
/// line's amount stays far inside i64, whatever the billing rules do.
pub const MAX_UNIT_PRICE_MINOR: u64 = 1_000_000_000_000;

/// A part used.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartIn {
    /// SKU.
    pub sku: String,
    /// Description.
    pub description: String,
    /// Quantity.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1_000_000))]
    pub quantity: u32,
    /// Unit price in minor units.
    #[cfg_attr(feature = "openapi", schema(minimum = -1_000_000_000_000i64, maximum = 1_000_000_000_000i64))]
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

/// Status names as the API, event streams, outcomes and no-code rules spell
/// them (snake_case).
pub const STATUS_NAMES: &[(&str, Status)] = &[
    ("new", Status::New),
    ("open", Status::Open),
    ("pending", Status::Pending),
    ("on_hold", Status::OnHold),
    ("solved", Status::Solved),
    ("closed", Status::Closed),
];

/// Priority names as the API and event streams spell them.
pub const PRIORITY_NAMES: &[(&str, Priority)] = &[
    ("low", Priority::Low),
    ("normal", Priority::Normal),
    ("high", Priority::High),
    ("urgent", Priority::Urgent),
];

fn name_of<T: PartialEq>(table: &[(&'static str, T)], value: &T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| v == value)
        .map(|(n, _)| *n)
        .expect("every variant is named")
}

/// Parses a status name.
pub fn parse_status(s: &str) -> Result<Status, String> {
    // `on-hold` is how earlier releases spelt it; still read.
    if s == "on-hold" {
        return Ok(Status::OnHold);
    }
    parse_enum("status", s, STATUS_NAMES)
}

/// The name of a status (the inverse of [`parse_status`]).
pub fn status_name(s: Status) -> &'static str {
    name_of(STATUS_NAMES, &s)
}

/// Parses a priority name.
pub fn parse_priority(s: &str) -> Result<Priority, String> {
    parse_enum("priority", s, PRIORITY_NAMES)
}

/// The name of a priority (the inverse of [`parse_priority`]).
pub fn priority_name(p: Priority) -> &'static str {
    name_of(PRIORITY_NAMES, &p)
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

impl Action {
    /// The event's name, as in the stream (`created`, `updated`, ...).
    pub fn name(&self) -> &'static str {
        action_name(self)
    }
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

/// Builds a new ticket from its input.
pub fn new_ticket(tenant: &str, id: &str, at: i64, n: &NewTicket) -> Result<Ticket, String> {
    let r = &n.requester;
    Ok(Ticket {
        id: id.to_string(),
        tenant: tenant.to_string(),
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

/// Applies the event's own change to an existing ticket and returns the
/// event kind. `Created` and `Tick` are not changes of a ticket: an error.
pub fn apply_action(t: &mut Ticket, action: &Action) -> Result<EventKind, String> {
    Ok(match action {
        Action::Created(_) => return Err("the ticket already exists".into()),
        Action::Tick => return Err("a tick changes no ticket".into()),
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
            if !(1..=MAX_ENTRY_MINUTES).contains(&e.minutes) {
                return Err(format!(
                    "minutes: {} is out of range (a time entry covers 1 to {MAX_ENTRY_MINUTES} minutes, one day)",
                    e.minutes
                ));
            }
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
            if !(1..=MAX_PART_QUANTITY).contains(&p.quantity) {
                return Err(format!(
                    "quantity: {} is out of range (1 to {MAX_PART_QUANTITY})",
                    p.quantity
                ));
            }
            if p.unit_price_minor.unsigned_abs() > MAX_UNIT_PRICE_MINOR {
                return Err(format!(
                    "unit_price_minor: {} is out of range (at most {MAX_UNIT_PRICE_MINOR} minor units either side of zero)",
                    p.unit_price_minor
                ));
            }
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
