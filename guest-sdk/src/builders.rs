//! Builders for decisions, so plugins read like the rules they implement.

use crate::{
    BillingDecision, EscalationAction, EscalationDecision, Priority, RouteDecision, SlaPolicy,
    TimerOp, TimerWhen,
};

impl RouteDecision {
    /// Assign to a group, with nothing else decided yet.
    pub fn to_group(group: &str) -> RouteDecision {
        RouteDecision {
            group: group.to_string(),
            agent: None,
            priority: None,
            skills: Vec::new(),
            tags: Vec::new(),
            reason: String::new(),
        }
    }

    /// Also assign an agent.
    pub fn agent(mut self, agent: &str) -> Self {
        self.agent = Some(agent.to_string());
        self
    }

    /// Also set the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Require a skill.
    pub fn skill(mut self, skill: &str) -> Self {
        self.skills.push(skill.to_string());
        self
    }

    /// Add a tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }

    /// Say why.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }
}

impl EscalationDecision {
    /// Nothing to do.
    pub fn none() -> EscalationDecision {
        EscalationDecision {
            sla: None,
            actions: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Whether the decision does nothing.
    pub fn is_empty(&self) -> bool {
        self.sla.is_none() && self.actions.is_empty() && self.timers.is_empty()
    }

    /// Apply an SLA policy.
    pub fn sla(mut self, policy: SlaPolicy) -> Self {
        self.sla = Some(policy);
        self
    }

    /// Take an action.
    pub fn action(mut self, action: EscalationAction) -> Self {
        self.actions.push(action);
        self
    }

    /// Set (or replace) a timer.
    pub fn set_timer(mut self, key: &str, when: TimerWhen) -> Self {
        self.timers.push(TimerOp::Set((key.to_string(), when)));
        self
    }

    /// Cancel a timer.
    pub fn cancel_timer(mut self, key: &str) -> Self {
        self.timers.push(TimerOp::Cancel(key.to_string()));
        self
    }
}

impl BillingDecision {
    /// An empty invoice.
    pub fn empty() -> BillingDecision {
        BillingDecision {
            lines: Vec::new(),
            total: None,
            approvals: Vec::new(),
            commissions: Vec::new(),
        }
    }
}
