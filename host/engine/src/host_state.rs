//! The per-call state a plugin's imports see: the memory limiter and the
//! bounded log (`docket:plugin/log`), the only imports a plugin has.

use crate::limits::Limits;
use docket_contract::bindings::docket::plugin::log::{self, Level};
use serde::Serialize;
use wasmtime::ResourceLimiter;

/// A log line a plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    /// Severity: `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// Text (truncated to the limit).
    pub message: String,
}

/// Caps linear memory and tables, and remembers that it refused a growth so
/// the resulting trap can be reported as a memory limit.
pub(crate) struct Limiter {
    max_memory: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.max_memory;
        self.hit |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The per-call state a plugin's imports see.
pub struct HostState {
    pub(crate) limiter: Limiter,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) logs_dropped: u32,
    max_lines: u32,
    max_line_bytes: usize,
    pub(crate) guest_panic: Option<String>,
}

impl HostState {
    pub(crate) fn new(limits: &Limits) -> HostState {
        HostState {
            limiter: Limiter {
                max_memory: limits.memory_bytes as usize,
                hit: false,
            },
            logs: Vec::new(),
            logs_dropped: 0,
            max_lines: limits.log_lines,
            max_line_bytes: limits.log_line_bytes as usize,
            guest_panic: None,
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

impl log::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        if self.logs.len() as u32 >= self.max_lines {
            self.logs_dropped = self.logs_dropped.saturating_add(1);
            return;
        }
        let message = truncate(message, self.max_line_bytes);
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.logs.push(LogLine {
            level: level.to_string(),
            message,
        });
    }

    fn panicking(&mut self, message: String) {
        self.guest_panic = Some(truncate(message, 4096));
    }
}

impl docket_contract::bindings::docket::plugin::types::Host for HostState {}
