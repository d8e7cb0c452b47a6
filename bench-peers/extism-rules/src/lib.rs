//! The four example rule sets as an Extism plugin: the same rule code the
//! Docket plugins run, behind Extism's usual JSON-in/JSON-out functions.

use docket_guest_sdk::{self as sdk, Billing, Escalation, Routing, Template};
use docket_rules_billing::FieldServiceBilling;
use docket_rules_escalation::SlaEscalation;
use docket_rules_routing::HelpdeskRouting;
use docket_rules_templates::ServiceForms;
use extism_pdk::*;
use serde::Deserialize;

/// What every function takes: the event, the ticket and the context.
#[derive(Deserialize)]
pub struct Input {
    event: sdk::Event,
    ticket: sdk::Ticket,
    context: sdk::Context,
}

#[plugin_fn]
pub fn validate(Json(i): Json<Input>) -> FnResult<Json<sdk::Validation>> {
    Ok(Json(ServiceForms::validate(
        &i.event, &i.ticket, &i.context,
    )))
}

#[plugin_fn]
pub fn route(Json(i): Json<Input>) -> FnResult<Json<Option<sdk::RouteDecision>>> {
    Ok(Json(HelpdeskRouting::route(
        &i.event, &i.ticket, &i.context,
    )))
}

#[plugin_fn]
pub fn evaluate(Json(i): Json<Input>) -> FnResult<Json<sdk::EscalationDecision>> {
    Ok(Json(SlaEscalation::evaluate(
        &i.event, &i.ticket, &i.context,
    )))
}

#[plugin_fn]
pub fn bill(Json(i): Json<Input>) -> FnResult<Json<Option<sdk::BillingDecision>>> {
    Ok(Json(FieldServiceBilling::bill(
        &i.event, &i.ticket, &i.context,
    )))
}
