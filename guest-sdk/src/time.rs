//! Time helpers. Instants are milliseconds since the Unix epoch, UTC.

pub use docket_guest_core::time::{DAY_MS, HOUR_MS, MINUTE_MS};

/// The UTC hour of day (0..24) and ISO weekday (1 = Monday .. 7 = Sunday) of
/// an instant shifted by a fixed offset in minutes. Plugins that need real
/// time-zone rules should let the host's business calendars do the work.
pub fn local_hour_and_weekday(instant: i64, utc_offset_minutes: i32) -> (u32, u32) {
    docket_guest_core::time::local_hour_and_weekday(instant, utc_offset_minutes.into())
}
