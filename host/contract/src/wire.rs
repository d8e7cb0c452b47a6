//! The one JSON shape Docket speaks outward: `docket run --format json`,
//! the service's responses, the audit log and the OpenAPI document.
//!
//! - Names are snake_case, as every input spells them: statuses `on_hold`,
//!   priorities `urgent`, metrics `first_response`, event kinds
//!   `status_changed`, error codes `out_of_range`.
//! - Instants are RFC 3339 UTC strings (`2026-11-23T08:02:00Z`), as inputs
//!   give them; they are read back from RFC 3339 or, for records stored by
//!   earlier releases, from milliseconds since the epoch.
//! - Variants with data are objects with one key, as inputs write field
//!   values: `{"choice": "laptop"}`, `{"role": "duty-manager"}`.
//! - A ticket's custom fields are an object from key to typed value, in the
//!   ticket's order: the shape new tickets and patches take.
//!
//! The contract's generated types keep their own serde form for storage;
//! these definitions (serde "remote" derives over the generated types) are
//! what callers see, and they read back into the same types.

use crate::bindings::docket::plugin::types::{
    AssignmentChange, AuthorKind, Channel, Comment, CustomField, Event, EventKind, FieldValue,
    Part, Priority, Requester, Status, StatusChange, Ticket, TimeEntry,
};
use crate::bindings::docket::plugin::types::{Decimal, Money};
use crate::bindings::exports::docket::plugin::billing::{
    Approval, BillingDecision, Commission, InvoiceLine, LineKind,
};
use crate::bindings::exports::docket::plugin::escalation::{
    Notification, Recipient, SlaMetric, SlaPolicy, SlaTarget,
};
use crate::bindings::exports::docket::plugin::template::{
    Choice, DependentOptions, ErrorCode, FieldDef, FieldError, FieldKind, IntegerBounds,
    Requirement, TicketTemplate, Visibility,
};
use serde::de::{Deserializer, Error as _, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// An instant (ms since the epoch) as RFC 3339.
pub mod instant {
    use super::*;

    /// RFC 3339 text of an instant.
    pub fn text(ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| ms.to_string())
    }

    /// Writes RFC 3339.
    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(*ms))
    }

    /// Reads RFC 3339, or milliseconds since the epoch.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Millis(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Millis(ms) => Ok(ms),
            Either::Text(t) => t
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|e| D::Error::custom(format!("`{t}` is not an RFC 3339 instant: {e}"))),
        }
    }

    /// The same for an optional instant.
    pub mod option {
        use super::*;

        /// Writes RFC 3339 or null.
        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => s.serialize_some(&text(*ms)),
                None => s.serialize_none(),
            }
        }

        /// Reads RFC 3339, milliseconds, or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] i64);
            Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
        }
    }
}

/// `Out`, which writes a borrowed value of remote type `$ty` in its wire
/// shape `$def`, and `In`, which reads one: the pieces the container
/// adapters (`list_of!`, `option_of!`) are made of.
macro_rules! wire_adapters {
    ($ty:ty, $def:ident) => {
        struct Out<'a>(&'a $ty);
        impl Serialize for Out<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $def::serialize(self.0, s)
            }
        }
        struct In($ty);
        impl<'de> Deserialize<'de> for In {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $def::deserialize(d).map(In)
            }
        }
    };
}

/// A `serialize_with`/`deserialize_with` pair for a list of a remote type.
macro_rules! list_of {
    ($module:ident, $ty:ty, $def:ident) => {
        #[doc = concat!("A list of `", stringify!($ty), "` in the wire shape.")]
        pub mod $module {
            use super::*;

            wire_adapters!($ty, $def);

            /// Writes the list.
            pub fn serialize<S: Serializer>(v: &[$ty], s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(v.iter().map(Out))
            }

            /// Reads the list.
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<$ty>, D::Error> {
                Ok(Vec::<In>::deserialize(d)?
                    .into_iter()
                    .map(|i| i.0)
                    .collect())
            }
        }
    };
}

/// A ticket's status.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Status))]
#[serde(remote = "Status", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StatusDef {
    New,
    Open,
    Pending,
    OnHold,
    Solved,
    Closed,
}

/// A priority.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Priority))]
#[serde(remote = "Priority", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum PriorityDef {
    Low,
    Normal,
    High,
    Urgent,
}

/// Where a ticket came in.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Channel))]
#[serde(remote = "Channel", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ChannelDef {
    Email,
    Web,
    Phone,
    Chat,
    Api,
}

/// Who wrote a comment.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AuthorKind))]
#[serde(remote = "AuthorKind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum AuthorKindDef {
    Requester,
    Agent,
    System,
}

/// An SLA metric.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SlaMetric))]
#[serde(remote = "SlaMetric", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum SlaMetricDef {
    FirstResponse,
    NextReply,
    Resolution,
}

/// An invoice line's kind.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LineKind))]
#[serde(remote = "LineKind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum LineKindDef {
    Labor,
    Part,
    Fee,
    Credit,
}

/// A validation error's kind.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ErrorCode))]
#[serde(remote = "ErrorCode", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ErrorCodeDef {
    Required,
    WrongType,
    InvalidFormat,
    InvalidOption,
    OutOfRange,
    NotVisible,
    UnknownField,
}

/// A typed field value: `{"choice": "laptop"}`, as inputs write it.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FieldValue))]
#[serde(remote = "FieldValue", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum FieldValueDef {
    Text(String),
    Integer(i64),
    #[cfg_attr(feature = "openapi", schema(value_type = DecimalDef))]
    Decimal(Decimal),
    Date(String),
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    Datetime(#[serde(with = "instant")] i64),
    Checkbox(bool),
    Choice(String),
    Choices(Vec<String>),
    #[cfg_attr(feature = "openapi", schema(value_type = MoneyDef))]
    Money(Money),
}

/// A ticket's custom fields as an object from key to typed value, in the
/// ticket's order.
pub mod fields {
    use super::*;

    struct Value<'a>(&'a FieldValue);
    impl Serialize for Value<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            FieldValueDef::serialize(self.0, s)
        }
    }
    struct ValueIn(FieldValue);
    impl<'de> Deserialize<'de> for ValueIn {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            FieldValueDef::deserialize(d).map(ValueIn)
        }
    }

    /// Writes the fields as an object.
    pub fn serialize<S: Serializer>(v: &[CustomField], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(v.len()))?;
        for f in v {
            map.serialize_entry(&f.key, &Value(&f.value))?;
        }
        map.end()
    }

    /// Reads the object, keeping the document's order.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CustomField>, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Vec<CustomField>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object from field key to typed value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((key, ValueIn(value))) = map.next_entry::<String, ValueIn>()? {
                    out.push(CustomField { key, value });
                }
                Ok(out)
            }
        }
        d.deserialize_map(Fields)
    }
}

/// An amount of money in integer minor units.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Money))]
#[serde(remote = "Money")]
#[allow(missing_docs)]
pub struct MoneyDef {
    /// Minor units (cents); negative for credits.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// An exact decimal: `mantissa / 10^scale`.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Decimal))]
#[serde(remote = "Decimal")]
#[allow(missing_docs)]
pub struct DecimalDef {
    pub mantissa: i64,
    pub scale: u8,
}

/// Who asked.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Requester))]
#[serde(remote = "Requester")]
#[allow(missing_docs)]
pub struct RequesterDef {
    pub id: String,
    pub name: String,
    pub email: String,
    pub tier: String,
    pub organization: Option<String>,
    pub region: Option<String>,
    pub tags: Vec<String>,
}

/// A part used.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Part))]
#[serde(remote = "Part")]
#[allow(missing_docs)]
pub struct PartDef {
    pub sku: String,
    pub description: String,
    pub quantity: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = MoneyDef))]
    pub unit_price: Money,
}

/// An assignment made outside the plugins.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AssignmentChange))]
#[serde(remote = "AssignmentChange")]
#[allow(missing_docs)]
pub struct AssignmentChangeDef {
    pub group: Option<String>,
    pub agent: Option<String>,
}

/// An approval an invoice needs.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Approval))]
#[serde(remote = "Approval")]
#[allow(missing_docs)]
pub struct ApprovalDef {
    pub approver_role: String,
    pub reason: String,
    #[cfg_attr(feature = "openapi", schema(value_type = MoneyDef))]
    pub amount: Money,
}

/// A commission split.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Commission))]
#[serde(remote = "Commission")]
#[allow(missing_docs)]
pub struct CommissionDef {
    pub beneficiary: String,
    pub role: String,
    pub basis_points: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = MoneyDef))]
    pub amount: Money,
}

/// Time an agent spent.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = TimeEntry))]
#[serde(remote = "TimeEntry")]
#[allow(missing_docs)]
pub struct TimeEntryDef {
    pub id: String,
    pub agent_id: String,
    pub work_type: String,
    #[serde(with = "instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: i64,
    pub minutes: u32,
    pub billable: bool,
}

list_of!(time_entries, TimeEntry, TimeEntryDef);

/// The ticket, as plugins saw it or as the effects left it.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Ticket))]
#[serde(remote = "Ticket")]
#[allow(missing_docs)]
pub struct TicketDef {
    pub id: String,
    pub tenant: String,
    pub subject: String,
    pub description: String,
    #[serde(with = "StatusDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = StatusDef))]
    pub status: Status,
    #[serde(with = "PriorityDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = PriorityDef))]
    pub priority: Priority,
    pub category: Option<String>,
    #[serde(with = "ChannelDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = ChannelDef))]
    pub channel: Channel,
    #[cfg_attr(feature = "openapi", schema(value_type = RequesterDef))]
    pub requester: Requester,
    pub assignee: Option<String>,
    pub group: Option<String>,
    pub tags: Vec<String>,
    #[serde(with = "instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
    #[serde(with = "instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: i64,
    #[serde(with = "fields")]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, FieldValueDef>))]
    pub fields: Vec<CustomField>,
    #[serde(with = "time_entries")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<TimeEntryDef>))]
    pub time_entries: Vec<TimeEntry>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<PartDef>))]
    pub parts: Vec<Part>,
}

/// A comment.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Comment))]
#[serde(remote = "Comment")]
#[allow(missing_docs)]
pub struct CommentDef {
    pub author_id: String,
    #[serde(with = "AuthorKindDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = AuthorKindDef))]
    pub author_kind: AuthorKind,
    pub body: String,
    pub public: bool,
}

/// A status transition.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = StatusChange))]
#[serde(remote = "StatusChange")]
#[allow(missing_docs)]
pub struct StatusChangeDef {
    #[serde(with = "StatusDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = StatusDef))]
    pub previous: Status,
    #[serde(with = "StatusDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = StatusDef))]
    pub current: Status,
}

/// What happened: `"created"`, `{"status_changed": {...}}`, ...
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = EventKind))]
#[serde(remote = "EventKind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum EventKindDef {
    Created,
    Updated(Vec<String>),
    #[cfg_attr(feature = "openapi", schema(value_type = CommentDef))]
    Commented(#[serde(with = "CommentDef")] Comment),
    #[cfg_attr(feature = "openapi", schema(value_type = StatusChangeDef))]
    StatusChanged(#[serde(with = "StatusChangeDef")] StatusChange),
    #[cfg_attr(feature = "openapi", schema(value_type = AssignmentChangeDef))]
    Assigned(AssignmentChange),
    TimerFired(String),
    #[cfg_attr(feature = "openapi", schema(value_type = TimeEntryDef))]
    TimeLogged(#[serde(with = "TimeEntryDef")] TimeEntry),
    #[cfg_attr(feature = "openapi", schema(value_type = PartDef))]
    PartUsed(Part),
}

/// An event on a ticket.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Event))]
#[serde(remote = "Event")]
#[allow(missing_docs)]
pub struct EventDef {
    pub id: String,
    #[serde(with = "instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: i64,
    pub actor: Option<String>,
    #[serde(with = "EventKindDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = EventKindDef))]
    pub kind: EventKind,
}

/// One SLA target.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SlaTarget))]
#[serde(remote = "SlaTarget")]
#[allow(missing_docs)]
pub struct SlaTargetDef {
    #[serde(with = "SlaMetricDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = SlaMetricDef))]
    pub metric: SlaMetric,
    pub minutes: u32,
}

list_of!(sla_targets, SlaTarget, SlaTargetDef);
list_of!(statuses, Status, StatusDef);

/// An SLA policy.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SlaPolicy))]
#[serde(remote = "SlaPolicy")]
#[allow(missing_docs)]
pub struct SlaPolicyDef {
    pub name: String,
    pub calendar: String,
    #[serde(with = "sla_targets")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<SlaTargetDef>))]
    pub targets: Vec<SlaTarget>,
    #[serde(with = "statuses")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<StatusDef>))]
    pub pause_on: Vec<Status>,
}

/// Who a notification goes to: `{"role": "duty-manager"}`, `"requester"`.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Recipient))]
#[serde(remote = "Recipient", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RecipientDef {
    Role(String),
    GroupLead(String),
    Agent(String),
    Channel(String),
    Requester,
}

/// A message to send.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Notification))]
#[serde(remote = "Notification")]
#[allow(missing_docs)]
pub struct NotificationDef {
    #[serde(with = "RecipientDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = RecipientDef))]
    pub to: Recipient,
    pub topic: String,
    pub message: String,
}

/// An invoice line.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = InvoiceLine))]
#[serde(remote = "InvoiceLine")]
#[allow(missing_docs)]
pub struct InvoiceLineDef {
    #[serde(with = "LineKindDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = LineKindDef))]
    pub kind: LineKind,
    pub description: String,
    #[cfg_attr(feature = "openapi", schema(value_type = DecimalDef))]
    pub quantity: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = MoneyDef))]
    pub unit_price: Money,
    #[cfg_attr(feature = "openapi", schema(value_type = MoneyDef))]
    pub amount: Money,
    pub source: Option<String>,
}

list_of!(invoice_lines, InvoiceLine, InvoiceLineDef);

/// The invoice as it stands.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = BillingDecision))]
#[serde(remote = "BillingDecision")]
#[allow(missing_docs)]
pub struct BillingDecisionDef {
    #[serde(with = "invoice_lines")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<InvoiceLineDef>))]
    pub lines: Vec<InvoiceLine>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<MoneyDef>))]
    pub total: Option<Money>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<ApprovalDef>))]
    pub approvals: Vec<Approval>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<CommissionDef>))]
    pub commissions: Vec<Commission>,
}

/// A field-level validation error.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FieldError))]
#[serde(remote = "FieldError")]
#[allow(missing_docs)]
pub struct FieldErrorDef {
    pub field: String,
    #[serde(with = "ErrorCodeDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = ErrorCodeDef))]
    pub code: ErrorCode,
    pub message: String,
}

/// One choice of a dropdown or multi-select.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Choice))]
#[serde(remote = "Choice")]
#[allow(missing_docs)]
pub struct ChoiceDef {
    pub value: String,
    pub label: String,
}

list_of!(choices, Choice, ChoiceDef);

/// Inclusive bounds of an integer field.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = IntegerBounds))]
#[serde(remote = "IntegerBounds")]
#[allow(missing_docs)]
pub struct IntegerBoundsDef {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// A field's type with its constraints: `"textarea"`, `{"text": 80}`,
/// `{"dropdown": [{"value", "label"}]}`, `{"regex": "[A-Z]{2}"}`, ...
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FieldKind))]
#[serde(remote = "FieldKind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum FieldKindDef {
    Text(Option<u32>),
    Textarea,
    #[cfg_attr(feature = "openapi", schema(value_type = IntegerBoundsDef))]
    Integer(#[serde(with = "IntegerBoundsDef")] IntegerBounds),
    Decimal(u8),
    Date,
    Datetime,
    Checkbox,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<ChoiceDef>))]
    Dropdown(#[serde(with = "choices")] Vec<Choice>),
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<ChoiceDef>))]
    MultiSelect(#[serde(with = "choices")] Vec<Choice>),
    Regex(String),
    Money(String),
}

/// When a field must have a value.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Requirement))]
#[serde(remote = "Requirement")]
#[allow(missing_docs)]
pub struct RequirementDef {
    pub on_create: bool,
    pub on_solve: bool,
}

/// Dropdown options that depend on another field: `options` maps each
/// parent value to the child values allowed.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = DependentOptions))]
#[serde(remote = "DependentOptions")]
#[allow(missing_docs)]
pub struct DependentOptionsDef {
    pub parent: String,
    pub options: Vec<(String, Vec<String>)>,
}

/// Show (and require) a field only when another has one of these values.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Visibility))]
#[serde(remote = "Visibility")]
#[allow(missing_docs)]
pub struct VisibilityDef {
    pub field: String,
    pub any_of: Vec<String>,
}

/// Optional values of remote types in the wire shape.
mod optional {
    use super::*;

    macro_rules! option_of {
        ($module:ident, $ty:ty, $def:ident) => {
            pub mod $module {
                use super::*;

                wire_adapters!($ty, $def);

                pub fn serialize<S: Serializer>(v: &Option<$ty>, s: S) -> Result<S::Ok, S::Error> {
                    match v {
                        Some(v) => s.serialize_some(&Out(v)),
                        None => s.serialize_none(),
                    }
                }

                pub fn deserialize<'de, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Option<$ty>, D::Error> {
                    Ok(Option::<In>::deserialize(d)?.map(|i| i.0))
                }
            }
        };
    }

    option_of!(field_value, FieldValue, FieldValueDef);
    option_of!(dependent_options, DependentOptions, DependentOptionsDef);
    option_of!(visibility, Visibility, VisibilityDef);
}

/// A custom field of a template.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FieldDef))]
#[serde(remote = "FieldDef")]
#[allow(missing_docs)]
pub struct FieldDefDef {
    pub key: String,
    pub label: String,
    #[serde(with = "FieldKindDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = FieldKindDef))]
    pub kind: FieldKind,
    #[serde(with = "RequirementDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = RequirementDef))]
    pub required: Requirement,
    #[serde(with = "optional::field_value")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<FieldValueDef>))]
    pub default: Option<FieldValue>,
    #[serde(with = "optional::dependent_options")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DependentOptionsDef>))]
    pub depends_on: Option<DependentOptions>,
    #[serde(with = "optional::visibility")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<VisibilityDef>))]
    pub visible_when: Option<Visibility>,
    pub help: String,
}

list_of!(field_defs, FieldDef, FieldDefDef);

/// A ticket form as a template plugin declares it.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = TicketTemplate))]
#[serde(remote = "TicketTemplate")]
#[allow(missing_docs)]
pub struct TicketTemplateDef {
    pub id: String,
    pub name: String,
    pub categories: Vec<String>,
    #[serde(with = "field_defs")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<FieldDefDef>))]
    pub fields: Vec<FieldDef>,
}

list_of!(templates, TicketTemplate, TicketTemplateDef);

/// A value of a remote type as a serializable value in the wire shape
/// (for `serde_json::json!` and handlers).
pub struct Wire<'a, T>(pub &'a T);

macro_rules! wire_value {
    ($ty:ty, $def:ident) => {
        impl Serialize for Wire<'_, $ty> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $def::serialize(self.0, s)
            }
        }
    };
}

wire_value!(Ticket, TicketDef);
wire_value!(Event, EventDef);
wire_value!(FieldValue, FieldValueDef);
wire_value!(TicketTemplate, TicketTemplateDef);

/// Reads a ticket in the wire shape.
pub fn ticket_from_value(v: &serde_json::Value) -> Result<Ticket, serde_json::Error> {
    TicketDef::deserialize(v)
}
