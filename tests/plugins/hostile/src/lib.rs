//! A plugin that misbehaves on purpose, for the hostile-plugin suite. The
//! tenant setting `mode` picks the misbehaviour; without it the plugin routes
//! every ticket to `hostile-ok`, so the same module proves the host keeps
//! serving after a failure. It also exports a tiny escalation capability
//! (`mode = "ping"`) that the service tests use for fast durable timers.
use docket_guest_sdk::prelude::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

/// The hostile plugin.
pub struct Hostile;

static CALLS: AtomicU32 = AtomicU32::new(0);

#[allow(unconditional_recursion)]
fn recurse(depth: u64, pad: [u64; 16]) -> u64 {
    let pad = black_box(pad);
    recurse(depth + 1, pad) + pad[(depth % 16) as usize]
}

impl Routing for Hostile {
    fn route(_ev: &Event, _t: &Ticket, ctx: &Context) -> Option<RouteDecision> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        match ctx.setting_text("mode", "") {
            "loop" => {
                let mut i = 0u64;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            "recursion" => Some(RouteDecision::to_group(&recurse(0, [1; 16]).to_string())),
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "huge-output" => Some(RouteDecision::to_group("x").reason("A".repeat(4 << 20))),
            "panic" => panic!("hostile plugin panicked on purpose (ticket {})", _t.id),
            "log-flood" => {
                for i in 0..20_000 {
                    docket_guest_sdk::log::info(&format!("line {i}"));
                }
                Some(RouteDecision::to_group("hostile-ok"))
            }
            "bad-decision" => Some(RouteDecision::to_group("")),
            "roster" => Some(RouteDecision::to_group(&format!(
                "roster-{}",
                ctx.agents.len()
            ))),
            _ => Some(
                RouteDecision::to_group("hostile-ok")
                    .reason(format!("call {calls} of this instance")),
            ),
        }
    }
}

/// With `mode = "ping"`, every new ticket gets a timer `ping` after
/// `ping_ms` (default 300) and the timer tags the ticket `pinged`: a small,
/// fast timer workload for the service's crash test. With `mode = "roster"`
/// it tags the ticket with the number of agents it was given (routing names
/// a group after it), so tests see which phases get the roster. Otherwise it
/// does nothing.
impl Escalation for Hostile {
    fn evaluate(ev: &Event, _t: &Ticket, ctx: &Context) -> EscalationDecision {
        if ctx.setting_text("mode", "") == "roster" {
            let tag = format!("roster-{}", ctx.agents.len());
            return EscalationDecision::none().action(EscalationAction::AddTag(tag));
        }
        if ctx.setting_text("mode", "") != "ping" {
            return EscalationDecision::none();
        }
        match &ev.kind {
            EventKind::Created => EscalationDecision::none().set_timer(
                "ping",
                TimerWhen::After(ctx.setting_integer("ping_ms", 300)),
            ),
            EventKind::TimerFired(key) if key == "ping" => {
                EscalationDecision::none().action(EscalationAction::AddTag("pinged".into()))
            }
            _ => EscalationDecision::none(),
        }
    }
}

docket_guest_sdk::export_plugin!(Hostile: routing, escalation);
