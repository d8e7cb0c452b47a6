//! Instants are milliseconds since the Unix epoch, UTC.

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The hour of day (0..24) and ISO weekday (1 = Monday .. 7 = Sunday) of an
/// instant shifted by a fixed offset in minutes.
pub fn local_hour_and_weekday(instant: i64, utc_offset_minutes: i64) -> (u32, u32) {
    let local = instant.wrapping_add(utc_offset_minutes.wrapping_mul(MINUTE_MS));
    let day = local.div_euclid(DAY_MS);
    let hour = (local.rem_euclid(DAY_MS) / HOUR_MS) as u32;
    // 1970-01-01 was a Thursday (ISO 4).
    let weekday = ((day + 3).rem_euclid(7) + 1) as u32;
    (hour, weekday)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_and_hour() {
        // 2026-11-23T09:30:00Z is a Monday.
        assert_eq!(local_hour_and_weekday(1_795_426_200_000, 0), (9, 1));
        // Same instant at UTC-10 is Sunday 23:30.
        assert_eq!(local_hour_and_weekday(1_795_426_200_000, -600), (23, 7));
        // Before the epoch: 1969-12-31T23:00Z, a Wednesday.
        assert_eq!(local_hour_and_weekday(-HOUR_MS, 0), (23, 3));
    }
}
