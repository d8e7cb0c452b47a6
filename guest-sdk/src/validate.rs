//! Generic validation of a ticket against declared templates, so a template
//! plugin only has to declare its forms.

use docket_guest_core::text::{char_count, is_iso_date};

use crate::{
    CustomField, ErrorCode, Event, EventKind, FieldDef, FieldError, FieldKind, FieldValue, Ticket,
    TicketTemplate, Validation,
};

/// The templates that apply to the ticket's category (an empty category list
/// applies to every ticket).
pub fn applicable<'a>(templates: &'a [TicketTemplate], t: &Ticket) -> Vec<&'a TicketTemplate> {
    templates
        .iter()
        .filter(|tpl| {
            tpl.categories.is_empty()
                || t.category
                    .as_ref()
                    .is_some_and(|c| tpl.categories.contains(c))
        })
        .collect()
}

/// Validates the ticket against the applicable templates.
///
/// Fields required on create are required at every event from creation on;
/// fields required to solve are required once the status is solved or closed.
/// Hidden fields (see `visible-when`) are never required. On creation, missing
/// fields with a default are filled (and the defaults are validated too).
pub fn validate(templates: &[TicketTemplate], ev: &Event, t: &Ticket) -> Validation {
    let templates = applicable(templates, t);
    let mut errors = Vec::new();
    let mut set_fields = Vec::new();
    let creating = matches!(ev.kind, EventKind::Created);
    for def in templates.iter().flat_map(|tpl| tpl.fields.iter()) {
        let mut value = t.field(&def.key).cloned();
        if creating
            && value.is_none()
            && let Some(default) = &def.default
        {
            set_fields.push(CustomField {
                key: def.key.clone(),
                value: default.clone(),
            });
            value = Some(default.clone());
        }
        check_field(def, value.as_ref(), t, &mut errors);
    }
    if !templates.is_empty() {
        for f in &t.fields {
            let known = templates
                .iter()
                .any(|tpl| tpl.fields.iter().any(|d| d.key == f.key));
            if !known {
                errors.push(error(
                    &f.key,
                    ErrorCode::UnknownField,
                    format!("`{}` is not a field of this form", f.key),
                ));
            }
        }
    }
    Validation { errors, set_fields }
}

fn error(field: &str, code: ErrorCode, message: String) -> FieldError {
    FieldError {
        field: field.to_string(),
        code,
        message,
    }
}

fn is_visible(def: &FieldDef, t: &Ticket) -> bool {
    let Some(rule) = &def.visible_when else {
        return true;
    };
    t.field(&rule.field)
        .map(|v| v.text_values().iter().any(|x| rule.any_of.contains(x)))
        .unwrap_or(false)
}

fn check_field(
    def: &FieldDef,
    value: Option<&FieldValue>,
    t: &Ticket,
    errors: &mut Vec<FieldError>,
) {
    let visible = is_visible(def, t);
    let present = value.filter(|v| !v.is_empty());
    let Some(value) = present else {
        let required = def.required.on_create || (def.required.on_solve && t.is_resolved());
        if visible && required {
            let when = if def.required.on_create {
                ""
            } else {
                " to solve the ticket"
            };
            errors.push(error(
                &def.key,
                ErrorCode::Required,
                format!("{} is required{when}", def.label),
            ));
        }
        return;
    };
    if let Err((code, message)) = check_kind(&def.kind, value) {
        errors.push(error(&def.key, code, format!("{}: {message}", def.label)));
        return;
    }
    if let Some(dep) = &def.depends_on {
        let parent = t
            .field(&dep.parent)
            .map(FieldValue::text_values)
            .unwrap_or_default();
        let allowed: Vec<&String> = dep
            .options
            .iter()
            .filter(|(p, _)| parent.contains(p))
            .flat_map(|(_, children)| children.iter())
            .collect();
        let chosen = value.text_values();
        if let Some(bad) = chosen.iter().find(|c| !allowed.contains(c)) {
            errors.push(error(
                &def.key,
                ErrorCode::InvalidOption,
                format!(
                    "{}: `{bad}` is not an option when {} is {}",
                    def.label,
                    dep.parent,
                    parent.join(", ")
                ),
            ));
        }
    }
}

type KindError = (ErrorCode, String);

fn check_kind(kind: &FieldKind, value: &FieldValue) -> Result<(), KindError> {
    let wrong = |expected: &str| Err((ErrorCode::WrongType, format!("expected {expected}")));
    match (kind, value) {
        (FieldKind::Text(max), FieldValue::Text(s)) => match max {
            Some(max) if char_count(s) > *max as usize => {
                Err((ErrorCode::OutOfRange, format!("at most {max} characters")))
            }
            _ => Ok(()),
        },
        (FieldKind::Textarea, FieldValue::Text(_)) => Ok(()),
        (FieldKind::Integer(bounds), FieldValue::Integer(i)) => {
            if bounds.min.is_some_and(|m| *i < m) || bounds.max.is_some_and(|m| *i > m) {
                let lo = bounds.min.map_or("-∞".into(), |m| m.to_string());
                let hi = bounds.max.map_or("∞".into(), |m| m.to_string());
                Err((ErrorCode::OutOfRange, format!("{i} is outside {lo}..={hi}")))
            } else {
                Ok(())
            }
        }
        (FieldKind::Decimal(scale), FieldValue::Decimal(d)) => {
            if d.scale > *scale {
                Err((
                    ErrorCode::InvalidFormat,
                    format!("at most {scale} decimal places"),
                ))
            } else {
                Ok(())
            }
        }
        (FieldKind::Date, FieldValue::Date(s)) => {
            if is_iso_date(s) {
                Ok(())
            } else {
                Err((
                    ErrorCode::InvalidFormat,
                    format!("`{s}` is not a YYYY-MM-DD date"),
                ))
            }
        }
        (FieldKind::Datetime, FieldValue::Datetime(_)) => Ok(()),
        (FieldKind::Checkbox, FieldValue::Checkbox(_)) => Ok(()),
        (FieldKind::Dropdown(choices), FieldValue::Choice(c)) => {
            if choices.iter().any(|x| &x.value == c) {
                Ok(())
            } else {
                Err((ErrorCode::InvalidOption, format!("`{c}` is not an option")))
            }
        }
        (FieldKind::MultiSelect(choices), FieldValue::Choices(cs)) => {
            match cs.iter().find(|c| !choices.iter().any(|x| &x.value == *c)) {
                Some(bad) => Err((
                    ErrorCode::InvalidOption,
                    format!("`{bad}` is not an option"),
                )),
                None => Ok(()),
            }
        }
        (FieldKind::Regex(pattern), FieldValue::Text(s)) => {
            let anchored = format!("^(?:{pattern})$");
            match regex_lite::Regex::new(&anchored) {
                Ok(re) if re.is_match(s) => Ok(()),
                Ok(_) => Err((
                    ErrorCode::InvalidFormat,
                    format!("`{s}` does not match {pattern}"),
                )),
                Err(e) => Err((
                    ErrorCode::InvalidFormat,
                    format!("the form's pattern is invalid: {e}"),
                )),
            }
        }
        (FieldKind::Money(currency), FieldValue::Money(m)) => {
            if &m.currency == currency {
                Ok(())
            } else {
                Err((
                    ErrorCode::WrongType,
                    format!("expected an amount in {currency}, got {}", m.currency),
                ))
            }
        }
        (FieldKind::Text(_) | FieldKind::Textarea | FieldKind::Regex(_), _) => wrong("text"),
        (FieldKind::Integer(_), _) => wrong("a whole number"),
        (FieldKind::Decimal(_), _) => wrong("a decimal number"),
        (FieldKind::Date, _) => wrong("a date"),
        (FieldKind::Datetime, _) => wrong("a date and time"),
        (FieldKind::Checkbox, _) => wrong("a checkbox"),
        (FieldKind::Dropdown(_), _) => wrong("one choice"),
        (FieldKind::MultiSelect(_), _) => wrong("a list of choices"),
        (FieldKind::Money(_), _) => wrong("an amount of money"),
    }
}
