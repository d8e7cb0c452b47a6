//! Readable rendering of outcomes and the run summary.

use docket_app::replay::Replayed;
use docket_app::ticket_input::priority_name;
use docket_contract::bindings::exports::docket::plugin::escalation::SlaMetric;
use docket_engine::Effect;
use docket_engine::outcome::{OutcomeStatus, recipient_text};
use docket_engine::types::{FieldValue, Money};
use std::collections::BTreeMap;

fn instant(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%a %m-%d %H:%MZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// The table header.
pub fn header() -> String {
    format!(
        "{:<16} {:<12} {:<7} {:<22} {:<9} what the plugins decided",
        "when", "tenant", "ticket", "event", "status"
    )
}

fn value_text(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(s) | FieldValue::Choice(s) | FieldValue::Date(s) => s.clone(),
        FieldValue::Integer(i) => i.to_string(),
        FieldValue::Decimal(d) => format!("{}e-{}", d.mantissa, d.scale),
        FieldValue::Datetime(t) => instant(*t),
        FieldValue::Checkbox(b) => b.to_string(),
        FieldValue::Choices(v) => v.join("|"),
        FieldValue::Money(m) => money_text(m),
    }
}

fn money_text(m: &Money) -> String {
    let sign = if m.amount_minor < 0 { "-" } else { "" };
    let abs = m.amount_minor.unsigned_abs();
    format!("{sign}{}.{:02} {}", abs / 100, abs % 100, m.currency)
}

fn metric_text(m: SlaMetric) -> &'static str {
    match m {
        SlaMetric::FirstResponse => "first response",
        SlaMetric::NextReply => "next reply",
        SlaMetric::Resolution => "resolution",
    }
}

fn effect_text(e: &Effect) -> String {
    match e {
        Effect::SetField { key, value } => format!("set {key}={}", value_text(value)),
        Effect::Assign { group, agent, .. } => format!(
            "→ {group}{}",
            agent.as_ref().map(|a| format!("/{a}")).unwrap_or_default()
        ),
        Effect::SetPriority { priority } => format!("priority → {}", priority_name(*priority)),
        Effect::AddTag { tag } => format!("+#{tag}"),
        Effect::RequireSkills { skills } => format!("skills {}", skills.join(",")),
        Effect::ApplySla { policy, due } => {
            let dues: Vec<String> = due
                .iter()
                .map(|d| format!("{} due {}", metric_text(d.metric), instant(d.due_at)))
                .collect();
            format!("SLA {} [{}]", policy.name, dues.join("; "))
        }
        Effect::Notify { notification } => format!(
            "notify {}: {}",
            recipient_text(&notification.to),
            notification.topic
        ),
        Effect::SetTimer { key, due_at } => format!("timer {key}@{}", instant(*due_at)),
        Effect::CancelTimer { key } => format!("cancel {key}"),
        Effect::Invoice { invoice } => {
            let total = invoice.total.as_ref().map(money_text).unwrap_or_default();
            let approval = if invoice.approvals.is_empty() {
                ""
            } else {
                ", needs approval"
            };
            format!("invoice {} lines = {total}{approval}", invoice.lines.len())
        }
        Effect::MoveStage { from, to, .. } => format!("stage {from} → {to}"),
        Effect::RemoveTag { tag } => format!("-#{tag}"),
        Effect::SetCategory { category } => {
            format!("category → {}", category.as_deref().unwrap_or("none"))
        }
        Effect::SetSubject { subject } => format!("subject → {subject:?}"),
        Effect::ClearField { key } => format!("clear {key}"),
        Effect::Comment { body, public } => {
            let short: String = body.chars().take(40).collect();
            format!("{} {short:?}", if *public { "reply" } else { "note" })
        }
    }
}

/// One outcome as a table line.
pub fn line(item: &Replayed) -> String {
    let o = &item.outcome;
    let (status, detail) = match &o.status {
        OutcomeStatus::Applied => {
            // Timers are many and dull; count them instead of listing.
            let timers = o
                .effects
                .iter()
                .filter(|e| matches!(e.effect, Effect::SetTimer { .. }))
                .count();
            let mut parts: Vec<String> = o
                .effects
                .iter()
                .filter(|e| {
                    !matches!(
                        e.effect,
                        Effect::SetTimer { .. } | Effect::CancelTimer { .. }
                    )
                })
                .map(|e| effect_text(&e.effect))
                .collect();
            if timers > 0 {
                parts.push(format!("{timers} timer(s) set"));
            }
            let failures: Vec<String> = o
                .trace
                .iter()
                .filter_map(|r| {
                    r.error
                        .as_ref()
                        .map(|e| format!("{} skipped: {}", r.plugin, e.kind()))
                })
                .collect();
            parts.extend(failures);
            ("applied", parts.join("; "))
        }
        OutcomeStatus::Rejected { errors } => (
            "REJECTED",
            errors
                .iter()
                .map(|e| format!("{}: {}", e.error.field, e.error.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        OutcomeStatus::Failed { plugin, error } => ("FAILED", format!("{plugin}: {error}")),
    };
    let event = &item.event;
    format!(
        "{:<16} {:<12} {:<7} {:<22} {:<9} {}",
        instant(item.at),
        o.tenant,
        o.ticket_id,
        truncate(event, 22),
        status,
        if detail.is_empty() {
            "-".into()
        } else {
            detail
        }
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// Counts over a run.
#[derive(Default)]
pub struct Summary {
    events: usize,
    timers: usize,
    applied: usize,
    rejected: usize,
    failed: usize,
    plugin_calls: usize,
    plugin_errors: BTreeMap<String, usize>,
    dispatch_us: Vec<u64>,
    by_tenant: BTreeMap<String, usize>,
}

impl Summary {
    /// Adds one outcome.
    pub fn add(&mut self, item: &Replayed) {
        let o = &item.outcome;
        self.events += 1;
        self.timers += usize::from(item.line.is_none());
        match o.status {
            OutcomeStatus::Applied => self.applied += 1,
            OutcomeStatus::Rejected { .. } => self.rejected += 1,
            OutcomeStatus::Failed { .. } => self.failed += 1,
        }
        self.plugin_calls += o.trace.len();
        for r in &o.trace {
            if let Some(e) = &r.error {
                *self
                    .plugin_errors
                    .entry(format!("{}:{}", r.plugin, e.kind()))
                    .or_default() += 1;
            }
        }
        self.dispatch_us.push(o.elapsed_us);
        *self.by_tenant.entry(o.tenant.clone()).or_default() += 1;
    }

    fn percentile(&self, p: f64) -> u64 {
        let mut v = self.dispatch_us.clone();
        v.sort_unstable();
        if v.is_empty() {
            return 0;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }

    /// The summary as JSON.
    pub fn to_json(&self, pending_timers: usize) -> serde_json::Value {
        serde_json::json!({
            "events": self.events,
            "timers_fired": self.timers,
            "applied": self.applied,
            "rejected": self.rejected,
            "failed": self.failed,
            "plugin_calls": self.plugin_calls,
            "plugin_errors": self.plugin_errors,
            "by_tenant": self.by_tenant,
            "pending_timers": pending_timers,
            "dispatch_us_p50": self.percentile(0.5),
            "dispatch_us_p99": self.percentile(0.99),
        })
    }

    /// The summary as text.
    pub fn render(&self, pending_timers: usize) -> String {
        let tenants: Vec<String> = self
            .by_tenant
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        let errors = if self.plugin_errors.is_empty() {
            "none".to_string()
        } else {
            self.plugin_errors
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "\nsummary: {} events ({} from the stream, {} timers fired; {}) — {} applied, {} rejected, {} failed\n\
             plugin calls: {}, plugin errors: {errors}; timers still pending: {pending_timers}\n\
             dispatch time per event (debug builds are slower): p50 {} µs, p99 {} µs\n",
            self.events,
            self.events - self.timers,
            self.timers,
            tenants.join(", "),
            self.applied,
            self.rejected,
            self.failed,
            self.plugin_calls,
            self.percentile(0.5),
            self.percentile(0.99),
        )
    }
}
