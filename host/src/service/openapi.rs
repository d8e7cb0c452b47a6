//! The OpenAPI description served at `/openapi.json`.

/// The OpenAPI 3.1 document.
pub const SPEC: &str = include_str!("openapi.json");
