//! Workflows (contract 0.1.1) through the engine: the repair workflow of
//! `example-rules/workflow` beside the routing example. Where tickets are
//! placed, the moves its rules make and the host checks, its guard, and
//! what a refused move says.

use docket_engine::config::{MoveError, Mover, Position, PositionInput};
use docket_engine::outcome::OutcomeStatus;
use docket_engine::types::{
    AssignmentChange, AuthorKind, Comment, EventKind, FieldValue, Status, Ticket,
};
use docket_engine::{DispatchRequest, Effect, FailurePolicy, Limits, Outcome};
use docket_guests as builtin;
use docket_tests::*;

const TENANT: &str = "wf-repair";

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tenant_with(
            TENANT,
            Limits::default(),
            &[
                (
                    "routing",
                    builtin::plugin("routing").unwrap(),
                    "",
                    FailurePolicy::Skip,
                ),
                (
                    "workflow",
                    builtin::plugin("workflow").unwrap(),
                    "",
                    FailurePolicy::FailEvent,
                ),
            ],
        )
    });
}

fn at_stage(stage: &str, moved_from: Option<&str>) -> Option<PositionInput> {
    Some(PositionInput {
        position: Position {
            workflow: "repair".into(),
            stage: stage.into(),
            entered_at: MONDAY,
        },
        moved_from: moved_from.map(str::to_string),
    })
}

fn run(ev: docket_engine::types::Event, t: Ticket, position: Option<PositionInput>) -> Outcome {
    setup();
    let now = ev.at;
    docket()
        .dispatch(
            TENANT,
            DispatchRequest {
                event: ev,
                ticket: t,
                agents: vec![],
                history: vec![],
                now,
                position,
            },
        )
        .expect("dispatch")
}

fn stage_of(o: &Outcome) -> &str {
    &o.position.as_ref().expect("a position").stage
}

fn assigned(mut t: Ticket, group: &str, agent: Option<&str>) -> Ticket {
    t.group = Some(group.into());
    t.assignee = agent.map(str::to_string);
    t.status = Status::Open;
    t
}

#[test]
fn a_new_ticket_routed_to_a_team_is_dispatched_with_a_note() {
    let o = run(
        event(EventKind::Created, MONDAY),
        ticket("W-1", "hardware", MONDAY),
        None,
    );
    assert!(o.is_applied(), "{:?}", o.status);
    assert_eq!(stage_of(&o), "dispatched");
    assert_eq!(
        o.ticket.status,
        Status::Open,
        "the dispatched stage is open"
    );
    let e = effects(&o);
    assert!(e.contains(&Effect::MoveStage {
        workflow: "repair".into(),
        from: "received".into(),
        to: "dispatched".into(),
        status: Status::Open,
    }));
    assert!(e.contains(&Effect::Comment {
        body: "dispatched to field-service-emea".into(),
        public: false,
    }));
    let kinds: Vec<String> = o
        .messages("created", MONDAY)
        .into_iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(kinds, ["ticket.changed", "ticket.note"]);
}

#[test]
fn a_ticket_nobody_routes_stays_received() {
    example_tenant("wf-alone", "workflow", "");
    let o = dispatch(
        "wf-alone",
        event(EventKind::Created, MONDAY),
        ticket("W-2", "hardware", MONDAY),
    );
    assert!(o.is_applied(), "{:?}", o.status);
    assert_eq!(o.ticket.group, None);
    assert_eq!(stage_of(&o), "received");
    assert_eq!(o.ticket.status, Status::New);
    assert!(o.effects.is_empty(), "{:?}", o.effects);
}

#[test]
fn assigning_an_agent_starts_the_work() {
    let t = assigned(
        ticket("W-3", "hardware", MONDAY),
        "field-service-emea",
        Some("ana"),
    );
    let ev = event(
        EventKind::Assigned(AssignmentChange {
            group: Some("field-service-emea".into()),
            agent: Some("ana".into()),
        }),
        MONDAY + HOUR,
    );
    let o = run(ev, t, at_stage("dispatched", None));
    assert!(o.is_applied(), "{:?}", o.status);
    assert_eq!(stage_of(&o), "in-progress");
    assert_eq!(o.position.as_ref().unwrap().entered_at, MONDAY + HOUR);
}

#[test]
fn the_requesters_answer_ends_the_wait() {
    let mut t = assigned(
        ticket("W-4", "hardware", MONDAY),
        "field-service-emea",
        Some("ana"),
    );
    t.status = Status::Pending;
    t.tags.push("awaiting-reply".into());
    let ev = event(
        EventKind::Commented(Comment {
            author_id: "customer-1".into(),
            author_kind: AuthorKind::Requester,
            body: "here is the serial".into(),
            public: true,
        }),
        MONDAY + HOUR,
    );
    let o = run(ev, t, at_stage("waiting-customer", None));
    assert!(o.is_applied(), "{:?}", o.status);
    assert_eq!(stage_of(&o), "in-progress");
    assert_eq!(o.ticket.status, Status::Open);
    assert!(!o.ticket.tags.contains(&"awaiting-reply".to_string()));
}

#[test]
fn a_solved_repair_replies_and_goes_to_follow_up() {
    let mut t = assigned(
        ticket("W-5", "hardware", MONDAY),
        "field-service-emea",
        Some("ana"),
    );
    t.status = Status::Solved;
    let t = with_field(t, "resolution_code", choice("repaired"));
    let ev = status_change(Status::Open, Status::Solved, MONDAY + HOUR);
    let o = run(ev, t, at_stage("solved", Some("in-progress")));
    assert!(o.is_applied(), "{:?}", o.status);
    assert_eq!(stage_of(&o), "follow-up");
    assert_eq!(o.ticket.status, Status::Solved);
    let replies: Vec<Effect> = effects(&o)
        .into_iter()
        .filter(|e| matches!(e, Effect::Comment { public: true, .. }))
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let kinds: Vec<String> = o
        .messages("status_changed", MONDAY)
        .into_iter()
        .map(|m| m.kind)
        .collect();
    assert!(kinds.contains(&"ticket.reply".to_string()), "{kinds:?}");
}

#[test]
fn the_guard_refuses_closing_billable_work_and_nothing_applies() {
    let mut t = assigned(
        ticket("W-6", "hardware", MONDAY),
        "field-service-emea",
        Some("ana"),
    );
    t.time_entries
        .push(time_entry("W-6-te1", "ana", "onsite", MONDAY, 60));
    t.status = Status::Closed;
    let before = t.clone();
    let ev = status_change(Status::Open, Status::Closed, MONDAY + HOUR);
    let o = run(ev, t, at_stage("closed", Some("in-progress")));
    match &o.status {
        OutcomeStatus::Rejected { errors } => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].plugin, "workflow");
            assert_eq!(errors[0].error.field, "stage");
            assert!(
                errors[0].error.message.contains("billable"),
                "{:?}",
                errors[0]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(o.effects.is_empty());
    assert_eq!(o.ticket, before, "nothing applied");
    assert_eq!(stage_of(&o), "closed", "the position as given");
}

#[test]
fn the_host_checks_moves_against_the_transitions() {
    setup();
    let pipeline = docket().pipeline(TENANT).unwrap();
    let workflows = docket().workflows(&pipeline).expect("definitions");
    let repair = workflows.get("repair").expect("the repair workflow");
    assert_eq!(
        workflows.for_category(Some("anything")).unwrap().name,
        "repair"
    );
    let t = assigned(
        ticket("W-7", "hardware", MONDAY),
        "field-service-emea",
        Some("ana"),
    );
    assert_eq!(
        repair.next_stages("in-progress"),
        ["waiting-customer", "waiting-parts", "solved", "closed"]
    );
    // Unknown stage.
    assert!(matches!(
        repair.check_move(&t, "in-progress", "limbo", Mover::Rule),
        Err(MoveError::UnknownStage { .. })
    ));
    // No transition: the error names where the ticket may go.
    let e = repair
        .check_move(&t, "received", "follow-up", Mover::Rule)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no transition from `received` to `follow-up` (allowed next: dispatched, in-progress, closed)"
    );
    // Required fields: solving needs a resolution code.
    let e = repair
        .check_move(&t, "in-progress", "solved", Mover::Rule)
        .unwrap_err();
    assert_eq!(
        e,
        MoveError::Required {
            to: "solved".into(),
            missing: vec!["resolution_code".into()]
        }
    );
    let coded = with_field(t.clone(), "resolution_code", choice("repaired"));
    assert_eq!(
        repair
            .check_move(&coded, "in-progress", "solved", Mover::Rule)
            .unwrap()
            .status,
        Status::Solved
    );
    // Roles: closing from work is a supervisor's move over the API.
    let agent = ["agent".to_string()];
    assert!(matches!(
        repair.check_move(&t, "in-progress", "closed", Mover::Person(&agent)),
        Err(MoveError::Role { roles, .. }) if roles == ["supervisor"]
    ));
    let supervisor = ["supervisor".to_string()];
    assert!(
        repair
            .check_move(&t, "in-progress", "closed", Mover::Person(&supervisor))
            .is_ok()
    );
    // An empty text field is no value.
    let blank = with_field(t, "resolution_code", FieldValue::Text("  ".into()));
    assert!(matches!(
        repair.check_move(&blank, "in-progress", "solved", Mover::Rule),
        Err(MoveError::Required { .. })
    ));
}

#[test]
fn a_ticket_without_a_position_is_placed_by_its_status() {
    // A ticket from before the workflow: open, so the first open stage.
    let mut t = ticket("W-8", "hardware", MONDAY);
    t.status = Status::Pending;
    let o = run(agent_reply(MONDAY + HOUR), t, None);
    assert!(o.is_applied(), "{:?}", o.status);
    assert_eq!(stage_of(&o), "waiting-customer");
    assert!(
        o.ticket.tags.is_empty(),
        "placed, not entered: no rule fires"
    );
}

#[test]
fn tenants_without_workflows_have_no_positions() {
    example_tenant("wf-none", "routing", "");
    let o = dispatch(
        "wf-none",
        event(EventKind::Created, MONDAY),
        ticket("N-1", "hardware", MONDAY),
    );
    assert!(o.is_applied());
    assert_eq!(o.position, None);
}
