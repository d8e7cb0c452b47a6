//! A plugin that misbehaves on purpose, for the hostile-plugin suite. The
//! tenant setting `mode` picks the misbehaviour; without it the plugin routes
//! every ticket to `hostile-ok`, so the same module proves the host keeps
//! serving after a failure.
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
            _ => Some(
                RouteDecision::to_group("hostile-ok")
                    .reason(format!("call {calls} of this instance")),
            ),
        }
    }
}

docket_guest_sdk::export_plugin!(Hostile: routing);
