//! Business calendars: weekly opening hours in a time zone, minus holidays.
//! The host, not the plugin, turns "N business minutes from now" into an
//! instant, so plugins stay deterministic and DST is handled once, right.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A calendar as written in a tenant's TOML config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl BusinessCalendar {
    /// Compiles a calendar; the error names the calendar and the bad value.
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
        // A local time skipped by DST resolves forward, a repeated one to the
        // earlier instant ("compatible", as RFC 5545 does).
        let zoned = self
            .tz
            .to_ambiguous_zoned(dt)
            .compatible()
            .map_err(|e| e.to_string())?;
        Ok(zoned.timestamp().as_millisecond())
    }

    /// The instant `minutes` business minutes after `start` (ms since epoch).
    pub fn add_business_minutes(&self, start: i64, minutes: u32) -> Result<i64, String> {
        self.add_business_millis(start, i64::from(minutes) * 60_000)
    }

    /// The business intervals (open, close) of each day from the one holding
    /// `start` on, clipped to begin at `start`, for at most `MAX_DAYS_AHEAD`.
    fn intervals_from(
        &self,
        start: i64,
    ) -> Result<impl Iterator<Item = Result<(i64, i64), String>> + '_, String> {
        let ts = Timestamp::from_millisecond(start).map_err(|e| e.to_string())?;
        let first = ts.to_zoned(self.tz.clone()).date();
        let days =
            (0..MAX_DAYS_AHEAD).map_while(move |i| first.checked_add(i64::from(i).days()).ok());
        Ok(days
            .filter(|d| !self.holidays.contains(d))
            .flat_map(move |date| {
                let weekday = date.weekday().to_monday_zero_offset() as usize;
                self.week[weekday].iter().filter_map(move |&(open, close)| {
                    let interval = self
                        .instant(date, open)
                        .and_then(|from| Ok((from.max(start), self.instant(date, close)?)));
                    match interval {
                        Ok((from, to)) if to <= from => None,
                        other => Some(other),
                    }
                })
            }))
    }

    /// The instant `millis` of business time after `start` (ms since epoch).
    pub fn add_business_millis(&self, start: i64, millis: i64) -> Result<i64, String> {
        let mut remaining = millis.max(0);
        for interval in self.intervals_from(start)? {
            let (from, to) = interval?;
            if remaining <= to - from {
                return Ok(from + remaining);
            }
            remaining -= to - from;
        }
        Err(format!(
            "calendar `{}`: no due instant within {MAX_DAYS_AHEAD} days",
            self.name
        ))
    }

    /// Business time between two instants, in ms (0 if `end <= start`).
    pub fn business_millis_between(&self, start: i64, end: i64) -> Result<i64, String> {
        let mut total = 0;
        if end <= start {
            return Ok(0);
        }
        for interval in self.intervals_from(start)? {
            let (from, to) = interval?;
            if from >= end {
                break;
            }
            total += to.min(end) - from;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
