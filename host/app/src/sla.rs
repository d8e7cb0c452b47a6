//! SLA clocks: per ticket and metric, on the policy's business calendar.
//! A clock starts with the policy, pauses on the statuses the policy names,
//! resumes, stops (first response and next reply on a public agent reply,
//! resolution on solve), restarts (next reply on a requester comment,
//! resolution on reopen) and keeps its consumed time when the policy changes.
//! Its 50/75/100% milestones become durable timers of the pseudo-plugin `@sla`.

use crate::ticket_input::{parse_status, status_name};
use docket_contract::bindings::exports::docket::plugin::escalation::{SlaMetric, SlaPolicy};
use docket_contract::types::{AuthorKind, EventKind, Status, Ticket};
use docket_engine::Effect;
use docket_engine::config::BusinessCalendar;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The pseudo-plugin name SLA milestone timers are stored under.
pub const SLA_TIMER_OWNER: &str = "@sla";
/// Milestones, in percent of the target.
pub const MILESTONES: [i64; 3] = [50, 75, 100];

/// The state of one clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaClock {
    /// `first_response`, `next_reply` or `resolution`.
    pub metric: String,
    /// Policy name.
    pub policy: String,
    /// Calendar.
    pub calendar: String,
    /// Target in business minutes.
    pub target_minutes: u32,
    /// Statuses that pause the clock.
    pub pause_on: Vec<String>,
    /// Business ms consumed before `running_since`.
    pub elapsed_ms: i64,
    /// When the current running segment began; `None` while paused or stopped.
    #[serde(with = "docket_contract::wire::instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub running_since: Option<i64>,
    /// When the clock stopped.
    #[serde(with = "docket_contract::wire::instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub stopped_at: Option<i64>,
    /// When it is due, while running.
    #[serde(with = "docket_contract::wire::instant::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub due_at: Option<i64>,
    /// Whether the target was missed.
    pub breached: bool,
}

/// The timer key of a clock's milestone, e.g. `sla-clock:resolution:75`.
pub fn milestone_key(metric: &str, percent: i64) -> String {
    format!("sla-clock:{metric}:{percent}")
}

/// The metric and percent a milestone timer key names.
pub fn parse_milestone_key(key: &str) -> Option<(&str, i64)> {
    let (metric, percent) = key.strip_prefix("sla-clock:")?.rsplit_once(':')?;
    Some((metric, percent.parse().ok()?))
}

/// A timer change the clocks ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MilestoneTimer {
    /// Set `key` at the instant.
    Set(String, i64),
    /// Cancel `key`.
    Cancel(String),
}

/// The metric's name.
pub fn metric_name(m: SlaMetric) -> &'static str {
    match m {
        SlaMetric::FirstResponse => "first_response",
        SlaMetric::NextReply => "next_reply",
        SlaMetric::Resolution => "resolution",
    }
}

fn is_resolved(s: Status) -> bool {
    matches!(s, Status::Solved | Status::Closed)
}

type Calendars = HashMap<String, BusinessCalendar>;

fn calendar<'a>(calendars: &'a Calendars, name: &str) -> Result<&'a BusinessCalendar, String> {
    calendars
        .get(name)
        .ok_or_else(|| format!("unknown calendar `{name}`"))
}

impl SlaClock {
    fn new(policy: &SlaPolicy, metric: SlaMetric, minutes: u32, start: i64) -> SlaClock {
        SlaClock {
            metric: metric_name(metric).into(),
            policy: policy.name.clone(),
            calendar: policy.calendar.clone(),
            target_minutes: minutes,
            pause_on: policy
                .pause_on
                .iter()
                .map(|s| status_name(*s).to_string())
                .collect(),
            elapsed_ms: 0,
            running_since: Some(start),
            stopped_at: None,
            due_at: None,
            breached: false,
        }
    }

    fn consumed(&self, now: i64, cal: &BusinessCalendar) -> Result<i64, String> {
        let running = match self.running_since {
            Some(since) => cal.business_millis_between(since, now)?,
            None => 0,
        };
        Ok(self.elapsed_ms + running)
    }

    fn pause(&mut self, now: i64, cal: &BusinessCalendar) -> Result<(), String> {
        if self.running_since.is_some() {
            self.elapsed_ms = self.consumed(now, cal)?;
            self.running_since = None;
        }
        Ok(())
    }

    fn stop(&mut self, now: i64, cal: &BusinessCalendar) -> Result<(), String> {
        if self.stopped_at.is_none() {
            self.pause(now, cal)?;
            self.stopped_at = Some(now);
            self.breached |= self.elapsed_ms > i64::from(self.target_minutes) * 60_000;
        }
        Ok(())
    }

    /// Whether the clock pauses in `status` (clocks stored by earlier
    /// releases name statuses their way; names are parsed, not compared).
    fn pauses_on(&self, status: Status) -> bool {
        self.pause_on
            .iter()
            .any(|p| parse_status(p).is_ok_and(|s| s == status))
    }

    fn restart(&mut self, now: i64) {
        *self = SlaClock {
            elapsed_ms: 0,
            running_since: Some(now),
            stopped_at: None,
            breached: false,
            ..self.clone()
        };
    }

    fn resume(&mut self, now: i64) {
        if self.stopped_at.is_none() && self.running_since.is_none() {
            self.running_since = Some(now);
        }
    }
}

/// Advances a ticket's clocks for one applied event and returns them with
/// the milestone timer changes.
pub fn update(
    mut clocks: Vec<SlaClock>,
    before: Option<&Ticket>,
    after: &Ticket,
    event: &EventKind,
    effects: &[Effect],
    now: i64,
    calendars: &Calendars,
) -> Result<(Vec<SlaClock>, Vec<MilestoneTimer>), String> {
    // 1. Policies: new clocks start at creation; existing ones keep their time.
    for e in effects {
        if let Effect::ApplySla { policy, .. } = e {
            calendar(calendars, &policy.calendar)?;
            for target in &policy.targets {
                let name = metric_name(target.metric);
                match clocks.iter_mut().find(|c| c.metric == name) {
                    Some(c) => {
                        c.policy.clone_from(&policy.name);
                        c.calendar.clone_from(&policy.calendar);
                        c.target_minutes = target.minutes;
                        c.pause_on = policy
                            .pause_on
                            .iter()
                            .map(|s| status_name(*s).to_string())
                            .collect();
                    }
                    None => clocks.push(SlaClock::new(
                        policy,
                        target.metric,
                        target.minutes,
                        after.created_at,
                    )),
                }
            }
        }
    }
    // 2. What the event does to each clock.
    for c in &mut clocks {
        let cal = calendar(calendars, &c.calendar)?;
        match (c.metric.as_str(), event) {
            ("first_response" | "next_reply", EventKind::Commented(cm))
                if cm.author_kind == AuthorKind::Agent && cm.public =>
            {
                c.stop(now, cal)?
            }
            ("next_reply", EventKind::Commented(cm)) if cm.author_kind == AuthorKind::Requester => {
                c.restart(now)
            }
            ("resolution", EventKind::StatusChanged(s)) if is_resolved(s.current) => {
                c.stop(now, cal)?
            }
            ("resolution", EventKind::StatusChanged(s))
                if is_resolved(s.previous) && !is_resolved(s.current) =>
            {
                c.stopped_at = None;
                c.resume(now);
            }
            _ => {}
        }
        let paused_status = c.pauses_on(after.status);
        let was_paused = before.is_some_and(|b| c.pauses_on(b.status));
        if paused_status {
            c.pause(now, cal)?;
        } else if was_paused {
            c.resume(now);
        }
    }
    // 3. Due instants and milestones.
    let mut timers = Vec::new();
    for c in &mut clocks {
        let cal = calendar(calendars, &c.calendar)?;
        let target_ms = i64::from(c.target_minutes) * 60_000;
        let consumed = c.consumed(now, cal)?;
        c.due_at = match c.running_since {
            Some(since) => Some(cal.add_business_millis(since, target_ms - c.elapsed_ms)?),
            None => None,
        };
        if c.stopped_at.is_none() {
            c.breached |= consumed > target_ms;
        }
        for pct in MILESTONES {
            let key = milestone_key(&c.metric, pct);
            let threshold = target_ms * pct / 100;
            match c.running_since {
                Some(since) if consumed < threshold => timers.push(MilestoneTimer::Set(
                    key,
                    cal.add_business_millis(since, threshold - c.elapsed_ms)?,
                )),
                _ => timers.push(MilestoneTimer::Cancel(key)),
            }
        }
    }
    Ok((clocks, timers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use docket_contract::bindings::exports::docket::plugin::escalation::SlaTarget;
    use docket_contract::types::{Comment, StatusChange};
    use docket_engine::config::CalendarConfig;

    const MON_9_BERLIN: i64 = 1_795_420_800_000; // 2026-11-23T08:00:00Z
    const MIN: i64 = 60_000;

    fn calendars() -> Calendars {
        let c = BusinessCalendar::new(&CalendarConfig::weekdays(
            "bh",
            "Europe/Berlin",
            "09:00-17:00",
            &[],
        ));
        HashMap::from([("bh".to_string(), c.unwrap())])
    }

    fn policy() -> SlaPolicy {
        SlaPolicy {
            name: "p".into(),
            calendar: "bh".into(),
            targets: vec![
                SlaTarget {
                    metric: SlaMetric::FirstResponse,
                    minutes: 60,
                },
                SlaTarget {
                    metric: SlaMetric::Resolution,
                    minutes: 240,
                },
            ],
            pause_on: vec![Status::Pending],
        }
    }

    fn ticket(status: Status) -> Ticket {
        serde_json::from_value(serde_json::json!({
            "id": "T", "tenant": "t", "subject": "", "description": "", "status": serde_json::to_value(status).unwrap(), "priority": "Normal",
            "category": null, "channel": "Email",
            "requester": {"id": "r", "name": "r", "email": "", "tier": "standard", "organization": null, "region": null, "tags": []},
            "assignee": null, "group": null, "tags": [], "created_at": MON_9_BERLIN, "updated_at": MON_9_BERLIN,
            "fields": [], "time_entries": [], "parts": []
        }))
        .unwrap()
    }

    fn apply(p: &SlaPolicy) -> Vec<Effect> {
        vec![Effect::ApplySla {
            policy: p.clone(),
            due: vec![],
        }]
    }

    #[test]
    fn starts_pauses_resumes_and_stops() {
        let cals = calendars();
        let t = ticket(Status::Open);
        let (clocks, timers) = update(
            vec![],
            None,
            &t,
            &EventKind::Created,
            &apply(&policy()),
            MON_9_BERLIN,
            &cals,
        )
        .unwrap();
        assert_eq!(clocks[0].due_at, Some(MON_9_BERLIN + 60 * MIN));
        assert!(timers.contains(&MilestoneTimer::Set(
            "sla-clock:first_response:50".into(),
            MON_9_BERLIN + 30 * MIN
        )));

        // Pending after 20 minutes: paused, milestones cancelled.
        let pending = ticket(Status::Pending);
        let ev = EventKind::StatusChanged(StatusChange {
            previous: Status::Open,
            current: Status::Pending,
        });
        let (clocks, timers) = update(
            clocks,
            Some(&t),
            &pending,
            &ev,
            &[],
            MON_9_BERLIN + 20 * MIN,
            &cals,
        )
        .unwrap();
        assert_eq!(
            (
                clocks[0].elapsed_ms,
                clocks[0].running_since,
                clocks[0].due_at
            ),
            (20 * MIN, None, None)
        );
        assert!(timers.contains(&MilestoneTimer::Cancel(
            "sla-clock:first_response:100".into()
        )));

        // Back to open two hours later: 40 minutes left.
        let ev = EventKind::StatusChanged(StatusChange {
            previous: Status::Pending,
            current: Status::Open,
        });
        let now = MON_9_BERLIN + 140 * MIN;
        let (clocks, timers) = update(clocks, Some(&pending), &t, &ev, &[], now, &cals).unwrap();
        assert_eq!(clocks[0].due_at, Some(now + 40 * MIN));
        // 20 of 60 minutes were used: 50% is 10 minutes away, 75% 25.
        assert!(timers.contains(&MilestoneTimer::Set(
            "sla-clock:first_response:50".into(),
            now + 10 * MIN
        )));
        assert!(timers.contains(&MilestoneTimer::Set(
            "sla-clock:first_response:75".into(),
            now + 25 * MIN
        )));

        // Resolution (240 min) used 20 + 0 minutes: its 50% is still ahead too,
        // while a clock whose milestone passed has it cancelled, never re-armed.
        let later = now + 15 * MIN;
        let (clocks, timers) = update(
            clocks,
            Some(&t),
            &t,
            &EventKind::Updated(vec!["subject".into()]),
            &[],
            later,
            &cals,
        )
        .unwrap();
        assert!(
            timers.contains(&MilestoneTimer::Cancel(
                "sla-clock:first_response:50".into()
            )),
            "35 of 60 minutes used"
        );
        let now = later - 5 * MIN;
        // An agent's public reply stops first response, not resolution.
        let reply = EventKind::Commented(Comment {
            author_id: "a".into(),
            author_kind: AuthorKind::Agent,
            body: "".into(),
            public: true,
        });
        let (clocks, _) = update(clocks, Some(&t), &t, &reply, &[], now + 10 * MIN, &cals).unwrap();
        assert_eq!(clocks[0].stopped_at, Some(now + 10 * MIN));
        assert!(!clocks[0].breached);
        assert!(clocks[1].running_since.is_some());

        // A stricter policy keeps the consumed time: resolution at 30 min is breached already.
        let mut strict = policy();
        strict.targets[1].minutes = 30;
        let (clocks, _) = update(
            clocks,
            Some(&t),
            &t,
            &EventKind::Updated(vec!["priority".into()]),
            &apply(&strict),
            now + 10 * MIN,
            &cals,
        )
        .unwrap();
        assert!(clocks[1].breached);
        assert_eq!(clocks[1].target_minutes, 30);
    }
}
