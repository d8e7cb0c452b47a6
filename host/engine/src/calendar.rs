//! Business calendars: weekly opening hours in a time zone, minus holidays.
//! The host, not the plugin, turns "N business minutes from now" into an
//! instant, so plugins stay deterministic and DST is handled once, right.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

/// A calendar as written in a tenant's TOML config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// Name plugins refer to, e.g. `business-hours`.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Opening hours per weekday (`mon` .. `sun`), e.g. `"09:00-12:30, 13:30-17:00"`;
    /// a missing day is closed. `24:00` closes at midnight.
    pub hours: BTreeMap<String, String>,
    /// Closed dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

impl CalendarConfig {
    /// Monday to Friday with the same opening hours (e.g. `"09:00-17:00"`).
    pub fn weekdays(name: &str, timezone: &str, hours: &str, holidays: &[&str]) -> CalendarConfig {
        CalendarConfig {
            name: name.to_string(),
            timezone: timezone.to_string(),
            hours: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| (d.to_string(), hours.to_string()))
                .collect(),
            holidays: holidays.iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// A minute of the day, 0..=1440.
type DayMinute = u16;

/// A compiled business calendar.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    name: String,
    tz: TimeZone,
    /// Monday first.
    week: [Vec<(DayMinute, DayMinute)>; 7],
    holidays: BTreeSet<Date>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// How far ahead a due instant may lie before we call the calendar broken.
const MAX_DAYS_AHEAD: i32 = 3660;

fn parse_minute(s: &str) -> Option<DayMinute> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// Compiles a tenant's calendars by name; a name defined twice is an error.
///
/// # Errors
/// A calendar that does not compile (named, with what is wrong), or two with the same
/// name.
pub fn compile_all(
    configs: &[CalendarConfig],
) -> Result<std::collections::HashMap<String, BusinessCalendar>, String> {
    let mut out = std::collections::HashMap::new();
    for c in configs {
        if out
            .insert(c.name.clone(), BusinessCalendar::new(c)?)
            .is_some()
        {
            return Err(format!("calendar `{}` is defined twice", c.name));
        }
    }
    Ok(out)
}

impl BusinessCalendar {
    /// Compiles a calendar; the error names the calendar and the bad value.
    ///
    /// # Errors
    /// An unknown time zone, or hours or holidays that do not parse, naming the calendar.
    pub fn new(config: &CalendarConfig) -> Result<BusinessCalendar, String> {
        let ctx = |msg: String| format!("calendar `{}`: {msg}", config.name);
        let tz = TimeZone::get(&config.timezone)
            .map_err(|e| ctx(format!("unknown time zone `{}`: {e}", config.timezone)))?;
        let mut week: [Vec<(DayMinute, DayMinute)>; 7] = Default::default();
        for (day, spec) in &config.hours {
            let i = DAYS.iter().position(|d| d == day).ok_or_else(|| {
                ctx(format!(
                    "unknown day `{day}` (use mon, tue, wed, thu, fri, sat, sun)"
                ))
            })?;
            for range in spec.split(',').filter(|r| !r.trim().is_empty()) {
                let (open, close) = range
                    .split_once('-')
                    .and_then(|(a, b)| Some((parse_minute(a)?, parse_minute(b)?)))
                    .filter(|(a, b)| a < b)
                    .ok_or_else(|| {
                        ctx(format!(
                            "{day}: `{}` is not a range like 09:00-17:00",
                            range.trim()
                        ))
                    })?;
                week[i].push((open, close));
            }
            week[i].sort_unstable();
            if week[i].windows(2).any(|w| w[0].1 > w[1].0) {
                return Err(ctx(format!("{day}: overlapping ranges in `{spec}`")));
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(ctx("no opening hours on any day".into()));
        }
        let holidays = config
            .holidays
            .iter()
            .map(|d| {
                d.parse::<Date>()
                    .map_err(|e| ctx(format!("holiday `{d}`: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(BusinessCalendar {
            name: config.name.clone(),
            tz,
            week,
            holidays,
        })
    }

    /// The calendar's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instant of a local date and minute, resolved by the time zone
    /// rules. A local time skipped by DST resolves forward, a repeated one to
    /// the earlier instant ("compatible", as RFC 5545 does).
    fn instant(&self, date: Date, minute: DayMinute) -> Result<i64, String> {
        let dt = if minute >= 1440 {
            date.tomorrow()
                .map_err(|e| e.to_string())?
                .to_datetime(Time::midnight())
        } else {
            date.to_datetime(Time::constant(
                (minute / 60) as i8,
                (minute % 60) as i8,
                0,
                0,
            ))
        };
        let ts = self
            .tz
            .to_ambiguous_timestamp(dt)
            .compatible()
            .map_err(|e| e.to_string())?;
        Ok(ts.as_millisecond())
    }

    /// The stretch around `at` during which the zone keeps one UTC offset.
    fn offset_window(&self, at: i64) -> Result<OffsetWindow, String> {
        let ts = Timestamp::from_millisecond(at).map_err(|e| e.to_string())?;
        let edge = |t: Option<jiff::tz::TimeZoneTransition>, none: i64| {
            t.map_or(none, |t| t.timestamp().as_millisecond())
        };
        Ok(OffsetWindow {
            offset_ms: i64::from(self.tz.to_offset(ts).seconds()) * 1000,
            from: edge(self.tz.preceding(ts).next(), i64::MIN),
            until: edge(self.tz.following(ts).next(), i64::MAX),
        })
    }

    /// [`Self::instant`], skipping the time zone lookup while the local time
    /// lies well inside the offset window of the previous answer. (Resolving
    /// every instant through the zone rules was a tenth of a dispatch.)
    fn instant_near(
        &self,
        date: Date,
        minute: DayMinute,
        window: &mut Option<OffsetWindow>,
    ) -> Result<i64, String> {
        let local = days_since_epoch(date) * DAY_MS + i64::from(minute) * 60_000;
        if let Some(w) = window
            && let Some(at) = w.resolve(local)
        {
            return Ok(at);
        }
        let at = self.instant(date, minute)?;
        *window = Some(self.offset_window(at)?);
        Ok(at)
    }

    /// The instant `minutes` business minutes after `start` (ms since epoch).
    ///
    /// # Errors
    /// When the instant is out of range, or the calendar has no business hours to add.
    pub fn add_business_minutes(&self, start: i64, minutes: u32) -> Result<i64, String> {
        self.add_business_millis(start, i64::from(minutes) * 60_000)
    }

    /// Walks the business intervals (open, close) of each day from the one
    /// holding `start` on, clipped to begin at `start`, for at most
    /// `MAX_DAYS_AHEAD` days, until `visit` breaks with an answer.
    fn walk_intervals<R>(
        &self,
        start: i64,
        mut visit: impl FnMut(i64, i64) -> ControlFlow<R>,
    ) -> Result<Option<R>, String> {
        let ts = Timestamp::from_millisecond(start).map_err(|e| e.to_string())?;
        let mut date = self.tz.to_datetime(ts).date();
        let mut window = None;
        for _ in 0..MAX_DAYS_AHEAD {
            if !self.holidays.contains(&date) {
                let weekday = date.weekday().to_monday_zero_offset() as usize;
                for &(open, close) in &self.week[weekday] {
                    let from = self.instant_near(date, open, &mut window)?.max(start);
                    let to = self.instant_near(date, close, &mut window)?;
                    if to > from
                        && let ControlFlow::Break(answer) = visit(from, to)
                    {
                        return Ok(Some(answer));
                    }
                }
            }
            date = match date.tomorrow() {
                Ok(next) => next,
                Err(_) => break,
            };
        }
        Ok(None)
    }

    /// The instant `millis` of business time after `start` (ms since epoch).
    ///
    /// # Errors
    /// When the instant is out of range, or the calendar has no business hours to add.
    pub fn add_business_millis(&self, start: i64, millis: i64) -> Result<i64, String> {
        let mut remaining = millis.max(0);
        let due = self.walk_intervals(start, |from, to| {
            if remaining <= to - from {
                return ControlFlow::Break(from + remaining);
            }
            remaining -= to - from;
            ControlFlow::Continue(())
        })?;
        due.ok_or_else(|| {
            format!(
                "calendar `{}`: no due instant within {MAX_DAYS_AHEAD} days",
                self.name
            )
        })
    }

    /// Business time between two instants, in ms (0 if `end <= start`).
    ///
    /// # Errors
    /// When an instant is out of range for the calendar's time zone.
    pub fn business_millis_between(&self, start: i64, end: i64) -> Result<i64, String> {
        if end <= start {
            return Ok(0);
        }
        let mut total = 0;
        self.walk_intervals(start, |from, to| {
            if from >= end {
                return ControlFlow::Break(());
            }
            total += to.min(end) - from;
            ControlFlow::Continue(())
        })?;
        Ok(total)
    }
}

const DAY_MS: i64 = 86_400_000;

/// A stretch of time between two transitions of a zone, with its offset.
#[derive(Debug, Clone, Copy)]
struct OffsetWindow {
    offset_ms: i64,
    /// The transition before (`i64::MIN` if none).
    from: i64,
    /// The transition after (`i64::MAX` if none).
    until: i64,
}

impl OffsetWindow {
    /// The instant of a local time (ms since the epoch, read as if UTC) when
    /// this window alone decides it: the candidate lies a day or more from
    /// either transition, and offsets differ by less than a day, so no other
    /// offset can map the same local time (no gap, no fold).
    fn resolve(&self, local_ms: i64) -> Option<i64> {
        let at = local_ms - self.offset_ms;
        (at >= self.from.saturating_add(DAY_MS) && at < self.until.saturating_sub(DAY_MS))
            .then_some(at)
    }
}

/// Days from 1970-01-01 to `date` (proleptic Gregorian; H. Hinnant's
/// `days_from_civil`).
fn days_since_epoch(date: Date) -> i64 {
    let (m, d) = (i64::from(date.month()), i64::from(date.day()));
    let y = i64::from(date.year()) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk without the offset-window shortcut: every instant through
    /// the time zone rules.
    fn reference_add(cal: &BusinessCalendar, start: i64, millis: i64) -> i64 {
        let mut remaining = millis;
        let mut date = cal
            .tz
            .to_datetime(Timestamp::from_millisecond(start).unwrap())
            .date();
        loop {
            if !cal.holidays.contains(&date) {
                let weekday = date.weekday().to_monday_zero_offset() as usize;
                for &(open, close) in &cal.week[weekday] {
                    let from = cal.instant(date, open).unwrap().max(start);
                    let to = cal.instant(date, close).unwrap();
                    if to > from {
                        if remaining <= to - from {
                            return from + remaining;
                        }
                        remaining -= to - from;
                    }
                }
            }
            date = date.tomorrow().unwrap();
        }
    }

    #[test]
    fn shortcut_agrees_with_the_zone_rules_across_transitions() {
        let zones = [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "America/Santiago",
            "Asia/Kolkata",
            "UTC",
        ];
        let hours = ["09:00-17:00", "00:00-03:30, 22:00-24:00", "01:30-02:45"];
        let mut checked = 0;
        for zone in zones {
            for spec in hours {
                let mut config = CalendarConfig::weekdays("c", zone, spec, &["2026-03-30"]);
                config.hours.insert("sun".into(), "00:00-24:00".into());
                let cal = BusinessCalendar::new(&config).unwrap();
                // Starts every 31 h 17 min over two years, sizes up to ten days.
                let mut start = ms("2025-12-01T00:00:00Z");
                while start < ms("2027-12-01T00:00:00Z") {
                    for minutes in [1, 59, 480, 2_400, 14_400] {
                        let millis = minutes * 60_000;
                        let fast = cal.add_business_millis(start, millis).unwrap();
                        assert_eq!(
                            fast,
                            reference_add(&cal, start, millis),
                            "{zone} `{spec}` from {start} + {minutes} min"
                        );
                        checked += 1;
                    }
                    start += (31 * 60 + 17) * 60_000;
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn days_since_epoch_matches_jiff() {
        let epoch = Date::constant(1970, 1, 1);
        let mut date = Date::constant(1899, 12, 25);
        for _ in 0..100_000 {
            let expected = i64::from(date.since(epoch).unwrap().get_days());
            assert_eq!(days_since_epoch(date), expected, "{date}");
            date = date.tomorrow().unwrap();
        }
    }

    fn berlin() -> BusinessCalendar {
        BusinessCalendar::new(&CalendarConfig::weekdays(
            "bh",
            "Europe/Berlin",
            "09:00-17:00",
            &["2026-12-25"],
        ))
        .unwrap()
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn within_a_day() {
        // Monday 2026-11-23 09:00 CET = 08:00Z; +60 min = 09:00Z.
        assert_eq!(
            berlin().add_business_minutes(ms("2026-11-23T08:00:00Z"), 60),
            Ok(ms("2026-11-23T09:00:00Z"))
        );
    }

    #[test]
    fn over_the_weekend() {
        // Friday 16:30 CET + 60 min = Monday 09:30 CET.
        assert_eq!(
            berlin().add_business_minutes(ms("2026-11-27T15:30:00Z"), 60),
            Ok(ms("2026-11-30T08:30:00Z"))
        );
    }

    #[test]
    fn before_opening_and_holiday() {
        // Thursday 2026-12-24 07:00 CET + 8h = end of the 24th; +1 min skips the 25th.
        let cal = berlin();
        assert_eq!(
            cal.add_business_minutes(ms("2026-12-24T06:00:00Z"), 480),
            Ok(ms("2026-12-24T16:00:00Z"))
        );
        assert_eq!(
            cal.add_business_minutes(ms("2026-12-24T06:00:00Z"), 481),
            Ok(ms("2026-12-28T08:01:00Z"))
        );
    }

    #[test]
    fn across_dst_change() {
        // Friday 2026-03-27 16:00 CET (15:00Z) + 2h: 1h Friday, 1h Monday 2026-03-30 in CEST (07:00Z).
        assert_eq!(
            berlin().add_business_minutes(ms("2026-03-27T15:00:00Z"), 120),
            Ok(ms("2026-03-30T08:00:00Z"))
        );
    }

    #[test]
    fn business_time_between_instants() {
        let cal = berlin();
        // Friday 16:30 CET to Monday 09:30 CET: 30 + 30 minutes.
        assert_eq!(
            cal.business_millis_between(ms("2026-11-27T15:30:00Z"), ms("2026-11-30T08:30:00Z")),
            Ok(3_600_000)
        );
        assert_eq!(
            cal.business_millis_between(ms("2026-11-30T08:30:00Z"), ms("2026-11-27T15:30:00Z")),
            Ok(0)
        );
        // Round trip: adding the time between gives the end back (inside business hours).
        let start = ms("2026-11-23T10:17:00Z");
        let end = ms("2026-12-02T13:41:00Z");
        let between = cal.business_millis_between(start, end).unwrap();
        assert_eq!(cal.add_business_millis(start, between), Ok(end));
    }

    #[test]
    fn bad_configs_are_named() {
        let mut c = CalendarConfig {
            name: "x".into(),
            timezone: "Mars/Olympus".into(),
            hours: BTreeMap::new(),
            holidays: vec![],
        };
        assert!(
            BusinessCalendar::new(&c)
                .unwrap_err()
                .contains("unknown time zone `Mars/Olympus`")
        );
        c.timezone = "UTC".into();
        assert!(
            BusinessCalendar::new(&c)
                .unwrap_err()
                .contains("no opening hours")
        );
        c.hours.insert("mon".into(), "17:00-09:00".into());
        assert!(
            BusinessCalendar::new(&c)
                .unwrap_err()
                .contains("mon: `17:00-09:00`")
        );
        c.hours.insert("mon".into(), "09:00-17:00".into());
        c.hours.insert("funday".into(), "09:00-17:00".into());
        assert!(
            BusinessCalendar::new(&c)
                .unwrap_err()
                .contains("unknown day `funday`")
        );
    }
}
