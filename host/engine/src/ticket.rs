//! A builder for new tickets, so an embedder states what it knows and the
//! rest takes the contract's defaults (status `new`, priority `normal`,
//! channel `web`, nothing assigned, no time or parts).

use docket_contract::types::{
    Channel, CustomField, FieldValue, Priority, Requester, Status, Ticket,
};

/// Builds a new [`Ticket`].
///
/// ```
/// use docket_engine::TicketBuilder;
/// use docket_engine::types::{FieldValue, Priority};
///
/// let ticket = TicketBuilder::new("acme", "T-1", "customer-7", 1_764_000_000_000)
///     .subject("Printer on fire")
///     .category("hardware")
///     .priority(Priority::High)
///     .field("serial_number", FieldValue::Text("PF481516".into()))
///     .build();
/// assert_eq!(ticket.requester.name, "customer-7");
/// assert_eq!(ticket.updated_at, ticket.created_at);
/// ```
#[derive(Debug, Clone)]
pub struct TicketBuilder {
    ticket: Ticket,
}

impl TicketBuilder {
    /// A ticket of `tenant` with id `id`, asked by requester `requester`
    /// (whose name defaults to the id), created at `created_at` (ms since
    /// the epoch).
    pub fn new(tenant: &str, id: &str, requester: &str, created_at: i64) -> TicketBuilder {
        TicketBuilder {
            ticket: Ticket {
                id: id.to_string(),
                tenant: tenant.to_string(),
                subject: String::new(),
                description: String::new(),
                status: Status::New,
                priority: Priority::Normal,
                category: None,
                channel: Channel::Web,
                requester: Requester {
                    id: requester.to_string(),
                    name: requester.to_string(),
                    email: String::new(),
                    tier: "standard".to_string(),
                    organization: None,
                    region: None,
                    tags: Vec::new(),
                },
                assignee: None,
                group: None,
                tags: Vec::new(),
                created_at,
                updated_at: created_at,
                fields: Vec::new(),
                time_entries: Vec::new(),
                parts: Vec::new(),
            },
        }
    }

    /// The one-line summary.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.ticket.subject = subject.into();
        self
    }

    /// The full description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.ticket.description = description.into();
        self
    }

    /// The priority (default `normal`).
    pub fn priority(mut self, priority: Priority) -> Self {
        self.ticket.priority = priority;
        self
    }

    /// The category, as the tenant names it.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.ticket.category = Some(category.into());
        self
    }

    /// Where the ticket came in (default `web`).
    pub fn channel(mut self, channel: Channel) -> Self {
        self.ticket.channel = channel;
        self
    }

    /// The whole requester record (replacing the one `new` made).
    pub fn requester(mut self, requester: Requester) -> Self {
        self.ticket.requester = requester;
        self
    }

    /// A free tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.ticket.tags.push(tag.into());
        self
    }

    /// A custom field value (a later value of the same key replaces it).
    pub fn field(mut self, key: impl Into<String>, value: FieldValue) -> Self {
        let key = key.into();
        self.ticket.fields.retain(|f| f.key != key);
        self.ticket.fields.push(CustomField { key, value });
        self
    }

    /// The ticket.
    pub fn build(self) -> Ticket {
        self.ticket
    }
}
