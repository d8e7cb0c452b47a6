//! Subcommands of the `docket` binary.

pub mod check;
pub mod demo;
pub mod render;
pub mod run;
