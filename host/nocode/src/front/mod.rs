//! The front end: the TOML document with a span on every value, and the
//! expression language inside its strings.

pub mod doc;
pub mod expr;
