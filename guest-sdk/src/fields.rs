//! Field and setting access on tickets, values and the context.

use crate::{Agent, Context, FieldValue, Money, Status, Ticket};

impl FieldValue {
    /// The value as text: text, dropdown choice and date values.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) | FieldValue::Choice(s) | FieldValue::Date(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a whole number.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            FieldValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a boolean (checkbox).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FieldValue::Checkbox(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as money.
    pub fn as_money(&self) -> Option<&Money> {
        match self {
            FieldValue::Money(m) => Some(m),
            _ => None,
        }
    }

    /// Whether the value counts as empty for "required" checks.
    pub fn is_empty(&self) -> bool {
        match self {
            FieldValue::Text(s) | FieldValue::Choice(s) | FieldValue::Date(s) => {
                docket_guest_core::text::is_blank(s)
            }
            FieldValue::Choices(v) => v.is_empty(),
            _ => false,
        }
    }

    /// The values as text, for visibility and dependency checks.
    pub fn text_values(&self) -> Vec<String> {
        match self {
            FieldValue::Choices(v) => v.clone(),
            FieldValue::Integer(i) => vec![i.to_string()],
            FieldValue::Checkbox(b) => vec![b.to_string()],
            other => other.as_text().map(str::to_string).into_iter().collect(),
        }
    }
}

impl Ticket {
    /// The value of a custom field.
    pub fn field(&self, key: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|f| f.key == key).map(|f| &f.value)
    }

    /// A custom field as text (text, choice or date).
    pub fn field_text(&self, key: &str) -> Option<&str> {
        self.field(key).and_then(FieldValue::as_text)
    }

    /// A custom field as a whole number.
    pub fn field_integer(&self, key: &str) -> Option<i64> {
        self.field(key).and_then(FieldValue::as_integer)
    }

    /// Whether the ticket carries the tag.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The category, or "" when there is none.
    pub fn category_or_empty(&self) -> &str {
        self.category.as_deref().unwrap_or("")
    }

    /// Whether the ticket is solved or closed.
    pub fn is_resolved(&self) -> bool {
        matches!(self.status, Status::Solved | Status::Closed)
    }
}

impl Context {
    /// A setting's value.
    pub fn setting(&self, key: &str) -> Option<&FieldValue> {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .map(|s| &s.value)
    }

    /// An integer setting, or the default.
    pub fn setting_integer(&self, key: &str, default: i64) -> i64 {
        self.setting(key)
            .and_then(FieldValue::as_integer)
            .unwrap_or(default)
    }

    /// A text setting, or the default.
    pub fn setting_text<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.setting(key)
            .and_then(FieldValue::as_text)
            .unwrap_or(default)
    }

    /// A money setting, or the default.
    pub fn setting_money(&self, key: &str, default: Money) -> Money {
        self.setting(key)
            .and_then(FieldValue::as_money)
            .cloned()
            .unwrap_or(default)
    }

    /// Agents of a group, in the order the host listed them (the host gives
    /// the roster to the routing call only; elsewhere this is empty).
    pub fn agents_in<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Agent> + 'a {
        self.agents.iter().filter(move |a| a.group == group)
    }
}
