//! The repair workflow of a field-service helpdesk (acme-repair).
//!
//! Stages, each on a base status:
//!
//! | stage | status | what it means |
//! |---|---|---|
//! | `received` | new | just in, not yet with a team |
//! | `dispatched` | open | with a team (a group is assigned) |
//! | `in-progress` | open | a technician works on it |
//! | `waiting-customer` | pending | the customer owes an answer |
//! | `waiting-parts` | on_hold | a part is on order |
//! | `solved` | solved | repaired (a resolution code is required) |
//! | `follow-up` | solved | the satisfaction check |
//! | `closed` | closed | done |
//!
//! Rules (`react`), in order:
//! 1. A ticket still `received` once a group is assigned (by routing in the
//!    same event, or by hand) moves to `dispatched`, with a note.
//! 2. A `dispatched` ticket an agent is assigned to, or on which time is
//!    logged, moves to `in-progress`.
//! 3. Entering `waiting-customer` tags `awaiting-reply`; the requester's
//!    public comment there moves the ticket back to `in-progress` and
//!    removes the tag.
//! 4. Entering `solved` replies to the requester and moves on to
//!    `follow-up`.
//! 5. Guard: a ticket with billable time cannot be closed straight from
//!    work (`in-progress`, `waiting-*`): it must be solved first.
use docket_guest_sdk::prelude::*;

/// The workflow plugin.
pub struct RepairWorkflow;

const STAGES: &[(&str, &str, Status)] = &[
    ("received", "Received", Status::New),
    ("dispatched", "Dispatched", Status::Open),
    ("in-progress", "In progress", Status::Open),
    (
        "waiting-customer",
        "Waiting on the customer",
        Status::Pending,
    ),
    ("waiting-parts", "Waiting for parts", Status::OnHold),
    ("solved", "Solved", Status::Solved),
    ("follow-up", "Follow-up", Status::Solved),
    ("closed", "Closed", Status::Closed),
];

/// A transition as `(sources, target, roles, required)`; no sources: from
/// every stage.
type TransitionRow = (
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const TRANSITIONS: &[TransitionRow] = &[
    (&["received"], "dispatched", &[], &["group"]),
    (
        &["received", "dispatched"],
        "in-progress",
        &[],
        &["assignee"],
    ),
    (&["in-progress"], "waiting-customer", &[], &[]),
    (&["in-progress"], "waiting-parts", &[], &[]),
    (
        &["waiting-customer", "waiting-parts"],
        "in-progress",
        &[],
        &[],
    ),
    (
        &["in-progress", "waiting-customer"],
        "solved",
        &[],
        &["resolution_code"],
    ),
    (&["solved"], "follow-up", &[], &[]),
    (&["solved", "follow-up"], "in-progress", &[], &[]),
    (&["follow-up"], "closed", &[], &[]),
    // Cancelling: a supervisor may close a ticket from anywhere.
    (&[], "closed", &["supervisor"], &[]),
];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn definition() -> WorkflowDef {
    WorkflowDef {
        name: "repair".into(),
        categories: Vec::new(),
        initial: "received".into(),
        stages: STAGES
            .iter()
            .map(|(name, label, status)| Stage {
                name: name.to_string(),
                label: label.to_string(),
                status: *status,
            })
            .collect(),
        transitions: TRANSITIONS
            .iter()
            .map(|(sources, target, roles, required)| Transition {
                sources: names(sources),
                target: target.to_string(),
                roles: names(roles),
                required: names(required),
            })
            .collect(),
    }
}

fn entered(at: &Position, stage: &str) -> bool {
    at.stage == stage && at.moved_from.as_deref() != Some(stage) && at.moved_from.is_some()
}

impl Workflow for RepairWorkflow {
    fn workflows(_ctx: &Context) -> Vec<WorkflowDef> {
        vec![definition()]
    }

    fn react(ev: &Event, t: &Ticket, at: &Position, _ctx: &Context) -> WorkflowDecision {
        let mut actions = Vec::new();
        let mut refuse = None;
        let billable = t.time_entries.iter().any(|e| e.billable);
        if at.stage == "closed"
            && billable
            && matches!(
                at.moved_from.as_deref(),
                Some("in-progress" | "waiting-customer" | "waiting-parts")
            )
        {
            refuse =
                Some("billable work is solved (and invoiced) before the ticket is closed".into());
        }
        match at.stage.as_str() {
            "received" => {
                if let Some(group) = &t.group {
                    actions.push(WorkflowAction::MoveTo("dispatched".into()));
                    actions.push(WorkflowAction::Note(format!("dispatched to {group}")));
                }
            }
            "dispatched" => {
                let assigned = matches!(&ev.kind, EventKind::Assigned(a) if a.agent.is_some());
                let worked = matches!(ev.kind, EventKind::TimeLogged(_));
                if (assigned || worked) && t.assignee.is_some() {
                    actions.push(WorkflowAction::MoveTo("in-progress".into()));
                }
            }
            "waiting-customer" => {
                if entered(at, "waiting-customer") {
                    actions.push(WorkflowAction::AddTag("awaiting-reply".into()));
                }
                if let EventKind::Commented(c) = &ev.kind
                    && c.author_kind == AuthorKind::Requester
                    && c.public
                {
                    actions.push(WorkflowAction::RemoveTag("awaiting-reply".into()));
                    actions.push(WorkflowAction::MoveTo("in-progress".into()));
                }
            }
            "solved" if entered(at, "solved") => {
                actions.push(WorkflowAction::RemoveTag("awaiting-reply".into()));
                actions.push(WorkflowAction::Reply(format!(
                    "Your repair \"{}\" is complete. We will check in with you shortly.",
                    t.subject
                )));
                actions.push(WorkflowAction::MoveTo("follow-up".into()));
            }
            _ => {}
        }
        WorkflowDecision { refuse, actions }
    }
}

docket_guest_sdk::export_plugin!(RepairWorkflow: workflow);
