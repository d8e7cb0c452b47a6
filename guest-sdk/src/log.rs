//! Structured logging through the host. Lines land in the run's trace; the
//! host bounds how many a run may write. Natively they go to stderr.

use crate::bindings::docket::plugin::log::{Level, log as host_log};

fn emit(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    host_log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = host_log; // the import only exists inside a component
        eprintln!("[{level:?}] {message}");
    }
}

/// Logs at debug level.
pub fn debug(message: &str) {
    emit(Level::Debug, message)
}

/// Logs at info level.
pub fn info(message: &str) {
    emit(Level::Info, message)
}

/// Logs at warn level.
pub fn warn(message: &str) {
    emit(Level::Warn, message)
}

/// Logs at error level.
pub fn error(message: &str) {
    emit(Level::Error, message)
}
