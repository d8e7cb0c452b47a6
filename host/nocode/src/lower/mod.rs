//! Lowering, one section per capability: each reads its part of the
//! document, checks it, and generates the capability's functions.

pub mod billing;
pub mod escalation;
pub mod routing;
pub mod templates;
