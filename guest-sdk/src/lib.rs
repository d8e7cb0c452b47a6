//! # docket-guest-sdk
//!
//! Write [Docket](../../README.md) plugins in a few lines of Rust. A plugin
//! receives an event, a ticket snapshot and a context, and returns typed
//! decisions; the host applies them. Plugins are deterministic: there is no
//! clock, randomness, file or network access, `ctx.now` is the only time.
//!
//! Implement one or more of [`Template`], [`Routing`], [`Escalation`],
//! [`Billing`] and [`Workflow`] and export exactly those with
//! [`export_plugin!`]:
//!
//! ```
//! use docket_guest_sdk::prelude::*;
//!
//! struct PhoneToVoice;
//!
//! impl Routing for PhoneToVoice {
//!     fn route(_ev: &Event, t: &Ticket, _ctx: &Context) -> Option<RouteDecision> {
//!         (t.channel == Channel::Phone)
//!             .then(|| RouteDecision::to_group("voice").reason("phone tickets go to the voice team"))
//!     }
//! }
//!
//! docket_guest_sdk::export_plugin!(PhoneToVoice: routing);
//! ```
//!
//! Build with `cargo build --target wasm32-unknown-unknown --release`; the
//! host componentizes the resulting core module on install. Link with
//! `-C link-arg=-zstack-size=65536 -C link-arg=--initial-memory=524288` in
//! the target's rustflags: the host starts a fresh instance for every call,
//! and a small stack plus the SDK's bump allocator working inside the
//! initial memory ([`alloc`]) make a call about 3× cheaper than Rust's
//! defaults.

pub mod alloc;
pub mod builders;
pub mod fields;
pub mod log;
pub mod money;
pub mod time;
pub mod validate;

#[cfg(all(target_arch = "wasm32", feature = "bump-alloc"))]
#[global_allocator]
static ALLOCATOR: alloc::BumpAlloc = alloc::BumpAlloc::new();

/// Bindings generated from the `docket:plugin` WIT package.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "docket:plugin/plugin",
        pub_export_macro: true,
        default_bindings_module: "docket_guest_sdk::bindings",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });
}

pub use bindings::docket::plugin::types::*;
pub use bindings::exports::docket::plugin::billing::{
    Approval, BillingDecision, Commission, InvoiceLine, LineKind,
};
pub use bindings::exports::docket::plugin::escalation::{
    BusinessDelay, EscalationAction, EscalationDecision, Notification, Recipient, SlaMetric,
    SlaPolicy, SlaTarget, TimerOp, TimerWhen,
};
pub use bindings::exports::docket::plugin::routing::RouteDecision;
pub use bindings::exports::docket::plugin::template::{
    Choice, DependentOptions, ErrorCode, FieldDef, FieldError, FieldKind, IntegerBounds,
    Requirement, TicketTemplate, Validation, Visibility,
};
/// The workflow capability's types (contract 0.1.1). Its `Notification` and
/// `Recipient` are its own (the same cases as escalation's), so they are
/// reached through this module rather than the prelude.
pub mod workflow {
    pub use crate::bindings::exports::docket::plugin::workflow::{
        Notification, Position, Recipient, Stage, Transition, WorkflowAction, WorkflowDecision,
        WorkflowDef,
    };
}

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::money::{Rounding, div_round};
    pub use crate::time::{HOUR_MS, MINUTE_MS};
    pub use crate::workflow::{
        Position, Stage, Transition, WorkflowAction, WorkflowDecision, WorkflowDef,
    };
    pub use crate::{
        Agent, Approval, AuthorKind, BillingDecision, BusinessDelay, Channel, Choice, Comment,
        Commission, Context, CustomField, Decimal, DependentOptions, ErrorCode, EscalationAction,
        EscalationDecision, Event, EventKind, FieldDef, FieldError, FieldKind, FieldValue,
        IntegerBounds, InvoiceLine, LineKind, Money, Notification, Part, Priority, Recipient,
        Requester, Requirement, RouteDecision, Setting, SlaMetric, SlaPolicy, SlaTarget, Status,
        Ticket, TicketBrief, TicketTemplate, TimeEntry, TimerOp, TimerWhen, Validation, Visibility,
    };
    pub use crate::{Billing, Escalation, Routing, Template, Workflow};
}

/// Declares ticket templates and validates tickets against them.
pub trait Template {
    /// The templates this plugin enforces.
    fn templates(ctx: &Context) -> Vec<TicketTemplate>;

    /// Validates the ticket (already updated by the event). The default checks
    /// the ticket against [`Template::templates`] with [`validate::validate`]
    /// and fills defaults on creation.
    fn validate(ev: &Event, t: &Ticket, ctx: &Context) -> Validation {
        validate::validate(&Self::templates(ctx), ev, t)
    }
}

/// Decides where a ticket goes.
pub trait Routing {
    /// The assignment, or `None` to leave the ticket where it is.
    fn route(ev: &Event, t: &Ticket, ctx: &Context) -> Option<RouteDecision>;
}

/// Sets SLA targets, escalates and keeps timers.
pub trait Escalation {
    /// The escalation decision for the event.
    fn evaluate(ev: &Event, t: &Ticket, ctx: &Context) -> EscalationDecision;
}

/// Computes invoices.
pub trait Billing {
    /// The invoice for the ticket as it stands, or `None` when the event does
    /// not affect billing.
    fn bill(ev: &Event, t: &Ticket, ctx: &Context) -> Option<BillingDecision>;
}

/// Defines the tenant's workflows (stages and transitions) and reacts as
/// tickets move through them. The host enforces the definitions: a move
/// must follow a transition and have its required fields.
pub trait Workflow {
    /// The workflows, from the settings alone (`ctx.now` is 0 here).
    fn workflows(ctx: &Context) -> Vec<workflow::WorkflowDef>;

    /// What to do on an event, with the ticket at `at`. The default does
    /// nothing.
    fn react(
        _ev: &Event,
        _t: &Ticket,
        _at: &workflow::Position,
        _ctx: &Context,
    ) -> workflow::WorkflowDecision {
        workflow::WorkflowDecision {
            refuse: None,
            actions: Vec::new(),
        }
    }
}

/// Exports the capabilities a type implements, and only those.
///
/// The canonical-ABI exports exist only on wasm32; natively (unit tests,
/// baselines) the type still implements the contract's traits.
///
/// `export_plugin!(MyRules: routing, billing);` exports `docket:plugin/routing`
/// and `docket:plugin/billing`; `MyRules` must implement [`Routing`] and
/// [`Billing`]. Capabilities: `template`, `routing`, `escalation`, `billing`,
/// `workflow`.
#[macro_export]
macro_rules! export_plugin {
    ($ty:ident : $($cap:ident),+ $(,)?) => {
        $( $crate::export_plugin!(@cap $ty $cap); )+
    };
    (@cap $ty:ident template) => {
        impl $crate::bindings::exports::docket::plugin::template::Guest for $ty {
            fn templates(ctx: $crate::Context) -> ::std::vec::Vec<$crate::TicketTemplate> {
                $crate::guest_entry();
                <$ty as $crate::Template>::templates(&ctx)
            }
            fn validate(ev: $crate::Event, t: $crate::Ticket, ctx: $crate::Context) -> $crate::Validation {
                $crate::guest_entry();
                <$ty as $crate::Template>::validate(&ev, &t, &ctx)
            }
        }
        $crate::__docket_cabi! { $crate::bindings::exports::docket::plugin::template::__export_docket_plugin_template_0_1_1_cabi!(
            $ty with_types_in $crate::bindings::exports::docket::plugin::template); }
    };
    (@cap $ty:ident routing) => {
        impl $crate::bindings::exports::docket::plugin::routing::Guest for $ty {
            fn route(ev: $crate::Event, t: $crate::Ticket, ctx: $crate::Context) -> ::std::option::Option<$crate::RouteDecision> {
                $crate::guest_entry();
                <$ty as $crate::Routing>::route(&ev, &t, &ctx)
            }
        }
        $crate::__docket_cabi! { $crate::bindings::exports::docket::plugin::routing::__export_docket_plugin_routing_0_1_1_cabi!(
            $ty with_types_in $crate::bindings::exports::docket::plugin::routing); }
    };
    (@cap $ty:ident escalation) => {
        impl $crate::bindings::exports::docket::plugin::escalation::Guest for $ty {
            fn evaluate(ev: $crate::Event, t: $crate::Ticket, ctx: $crate::Context) -> $crate::EscalationDecision {
                $crate::guest_entry();
                <$ty as $crate::Escalation>::evaluate(&ev, &t, &ctx)
            }
        }
        $crate::__docket_cabi! { $crate::bindings::exports::docket::plugin::escalation::__export_docket_plugin_escalation_0_1_1_cabi!(
            $ty with_types_in $crate::bindings::exports::docket::plugin::escalation); }
    };
    (@cap $ty:ident workflow) => {
        impl $crate::bindings::exports::docket::plugin::workflow::Guest for $ty {
            fn workflows(ctx: $crate::Context) -> ::std::vec::Vec<$crate::workflow::WorkflowDef> {
                $crate::guest_entry();
                <$ty as $crate::Workflow>::workflows(&ctx)
            }
            fn react(ev: $crate::Event, t: $crate::Ticket, at: $crate::workflow::Position, ctx: $crate::Context) -> $crate::workflow::WorkflowDecision {
                $crate::guest_entry();
                <$ty as $crate::Workflow>::react(&ev, &t, &at, &ctx)
            }
        }
        $crate::__docket_cabi! { $crate::bindings::exports::docket::plugin::workflow::__export_docket_plugin_workflow_0_1_1_cabi!(
            $ty with_types_in $crate::bindings::exports::docket::plugin::workflow); }
    };
    (@cap $ty:ident billing) => {
        impl $crate::bindings::exports::docket::plugin::billing::Guest for $ty {
            fn bill(ev: $crate::Event, t: $crate::Ticket, ctx: $crate::Context) -> ::std::option::Option<$crate::BillingDecision> {
                $crate::guest_entry();
                <$ty as $crate::Billing>::bill(&ev, &t, &ctx)
            }
        }
        $crate::__docket_cabi! { $crate::bindings::exports::docket::plugin::billing::__export_docket_plugin_billing_0_1_1_cabi!(
            $ty with_types_in $crate::bindings::exports::docket::plugin::billing); }
    };
}

/// Emits the canonical-ABI exports only where they mean something: on
/// wasm32 with the `component-exports` feature (on by default). Without it
/// the rule types still implement the traits, e.g. to be embedded in another
/// host's plugin format or called natively.
#[cfg(all(target_arch = "wasm32", feature = "component-exports"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __docket_cabi {
    ($($t:tt)*) => { $($t)* };
}

#[cfg(not(all(target_arch = "wasm32", feature = "component-exports")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __docket_cabi {
    ($($t:tt)*) => {};
}

/// Called on every export entry: routes panics to the host so a trap carries
/// the guest's message. Cheap after the first call of an instance.
#[doc(hidden)]
pub fn guest_entry() {
    use std::sync::Once;
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // Natively (tests, baselines) there is no host to report to.
        #[cfg(target_arch = "wasm32")]
        std::panic::set_hook(Box::new(|info| {
            bindings::docket::plugin::log::panicking(&info.to_string());
        }))
    });
}
