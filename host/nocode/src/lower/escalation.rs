//! `[escalation]`: handlers tried in order, the first whose condition holds
//! decides; each may apply an SLA policy, take actions (raise priority,
//! reassign, notify, tag) and set or cancel timers, every item with its own
//! optional condition.

use crate::check::Checker;
use crate::check::decls::{condition, lets, template_key};
use crate::diag::{Diagnostic, did_you_mean};
use crate::emit::codegen::{FuncGen, Growing};
use crate::front::doc::{Node, Table};
use crate::ir::*;
use wasm_encoder::{BlockType, Instruction as I, ValType};

type R<T> = Result<T, Diagnostic>;

/// An SLA policy to apply.
pub struct Sla {
    pub name: Ir,
    pub calendar: Ir,
    /// (metric discriminant, business minutes).
    pub targets: Vec<(i32, Ir)>,
    pub pause_on: Vec<i32>,
}

/// Who a notification goes to: recipient case and its text.
pub struct Recipient {
    pub case: &'static str,
    pub value: Option<Ir>,
}

/// An escalation action.
pub enum Action {
    RaisePriority(Ir),
    Reassign(Ir, Option<Ir>),
    Notify {
        to: Recipient,
        topic: Ir,
        message: Ir,
    },
    AddTag(Ir),
}

/// When a timer fires.
pub enum When {
    At(Ir),
    After(Ir),
    AfterBusiness {
        calendar: Ir,
        minutes: Ir,
        start: Option<Ir>,
    },
}

/// A timer operation.
pub enum TimerOp {
    Set(Ir, When),
    Cancel(Ir),
}

/// One handler.
pub struct Handler {
    pub lets: Vec<Stmt>,
    pub when: Ir,
    pub sla: Option<Sla>,
    pub actions: Vec<(Ir, Action)>,
    pub timers: Vec<(Ir, TimerOp)>,
}

/// The checked section.
pub struct Escalation {
    pub lets: Vec<Stmt>,
    pub handlers: Vec<Handler>,
}

const METRICS: &[&str] = &["first_response", "next_reply", "resolution"];
const RECIPIENTS: &[(&str, &str)] = &[
    ("role", "role"),
    ("group_lead", "group-lead"),
    ("agent", "agent"),
    ("channel", "channel"),
    ("requester", "requester"),
];

fn item_when(c: &mut Checker, t: &mut Table) -> R<Ir> {
    match t.get("when") {
        Some(w) => c.expect(&condition(w)?, &Ty::Bool),
        None => Ok(Ir::Bool(true)),
    }
}

fn expr(c: &mut Checker, n: Node, what: &str, ty: &Ty) -> R<Ir> {
    c.expect(&n.expr(what)?, ty)
}

fn text(c: &mut Checker, n: Node, what: &str) -> R<Ir> {
    c.expect(&n.template(what)?, &Ty::Text)
}

/// Reads and checks `[escalation]`.
pub fn check<'a>(c: &mut Checker<'a>, node: Node<'a>) -> R<Escalation> {
    let mut t = node.table("[escalation]")?;
    let section_lets = lets(c, t.get("let"))?;
    let on = t.require("on")?;
    t.finish()?;
    let mut handlers = Vec::new();
    for n in on.array("[[escalation.on]]")? {
        c.push_scope();
        let h = handler(c, n);
        c.pop_scope();
        handlers.push(h?);
    }
    Ok(Escalation {
        lets: section_lets,
        handlers,
    })
}

fn handler<'a>(c: &mut Checker<'a>, n: Node<'a>) -> R<Handler> {
    let mut t = n.table("an [[escalation.on]]")?;
    t.get("name");
    let when = item_when(c, &mut t)?;
    let lets = lets(c, t.get("let"))?;
    let sla = t.get("sla").map(|s| sla(c, s)).transpose()?;
    let mut actions = Vec::new();
    for a in t
        .get("actions")
        .map(|a| a.array("actions"))
        .transpose()?
        .unwrap_or_default()
    {
        actions.push(action(c, a)?);
    }
    let mut timers = Vec::new();
    for a in t
        .get("timers")
        .map(|a| a.array("timers"))
        .transpose()?
        .unwrap_or_default()
    {
        timers.push(timer(c, a)?);
    }
    t.finish()?;
    Ok(Handler {
        lets,
        when,
        sla,
        actions,
        timers,
    })
}

fn sla<'a>(c: &mut Checker<'a>, n: Node<'a>) -> R<Sla> {
    let mut t = n.table("`sla`")?;
    let name = template_key(c, &mut t, "name")?.unwrap_or(Ir::Text(String::new()));
    let calendar = expr(c, t.require("calendar")?, "calendar", &Ty::Text)?;
    let mut targets = Vec::new();
    for (metric, span, v) in t.require("targets")?.table("`targets`")?.entries() {
        let index = METRICS.iter().position(|m| *m == metric).ok_or_else(|| {
            let hint =
                did_you_mean(metric, METRICS.iter().copied()).unwrap_or_else(|| METRICS.join(", "));
            Diagnostic::new(format!("unknown SLA metric `{metric}`"), span).hint(hint)
        })?;
        targets.push((index as i32, expr(c, v, metric, &Ty::Int)?));
    }
    let mut pause_on = Vec::new();
    for s in t
        .get("pause_on")
        .map(|p| p.array("pause_on"))
        .transpose()?
        .unwrap_or_default()
    {
        let name = s.str("a status")?;
        let ir = c.coerce(
            Ir::Text(name.to_string()),
            &Ty::Text,
            &Ty::Enum(EnumTy::Status),
            &s.range(),
        )?;
        let Ir::Enum(v) = ir else {
            unreachable!("a constant")
        };
        pause_on.push(v);
    }
    t.finish()?;
    Ok(Sla {
        name,
        calendar,
        targets,
        pause_on,
    })
}

fn action<'a>(c: &mut Checker<'a>, n: Node<'a>) -> R<(Ir, Action)> {
    let mut t = n.table("an action")?;
    let when = item_when(c, &mut t)?;
    let raise = t.get("raise_priority");
    let reassign = t.get("reassign");
    let notify = t.get("notify");
    let tag = t.get("add_tag");
    let agent = t.get("agent");
    let topic = t.get("topic");
    let message = t.get("message");
    t.finish()?;
    let count = [raise, reassign, notify, tag].iter().flatten().count();
    if count != 1 {
        return Err(
            n.error("an action has exactly one of raise_priority, reassign, notify, add_tag")
        );
    }
    let action = if let Some(p) = raise {
        Action::RaisePriority(expr(c, p, "raise_priority", &Ty::Enum(EnumTy::Priority))?)
    } else if let Some(g) = reassign {
        let agent = agent.map(|a| text(c, a, "agent")).transpose()?;
        Action::Reassign(text(c, g, "reassign")?, agent)
    } else if let Some(to) = notify {
        let to = recipient(c, to)?;
        let topic = topic
            .map(|v| text(c, v, "topic"))
            .transpose()?
            .unwrap_or(Ir::Text(String::new()));
        let message = message
            .map(|v| text(c, v, "message"))
            .transpose()?
            .unwrap_or(Ir::Text(String::new()));
        Action::Notify { to, topic, message }
    } else {
        Action::AddTag(text(c, tag.expect("counted"), "add_tag")?)
    };
    Ok((when, action))
}

/// `"requester"` or a one-key table like `{ group_lead = "{ticket.group}" }`.
fn recipient(c: &mut Checker, n: Node) -> R<Recipient> {
    if let Ok("requester") = n.str("") {
        return Ok(Recipient {
            case: "requester",
            value: None,
        });
    }
    let t = n.table("`notify`")?;
    let entries = t.entries();
    let [(key, span, value)] = entries.as_slice() else {
        return Err(n.error("`notify` names one recipient, e.g. { role = \"duty-manager\" }"));
    };
    let (_, case) = RECIPIENTS.iter().find(|(k, _)| k == key).ok_or_else(|| {
        let hint = did_you_mean(key, RECIPIENTS.iter().map(|r| r.0))
            .unwrap_or_else(|| "role, group_lead, agent, channel or \"requester\"".into());
        Diagnostic::new(format!("unknown recipient `{key}`"), span.clone()).hint(hint)
    })?;
    Ok(Recipient {
        case,
        value: Some(text(c, *value, key)?),
    })
}

fn timer<'a>(c: &mut Checker<'a>, n: Node<'a>) -> R<(Ir, TimerOp)> {
    let mut t = n.table("a timer")?;
    let when = item_when(c, &mut t)?;
    let set = t.get("set");
    let cancel = t.get("cancel");
    let at = t.get("at");
    let after = t.get("after");
    let business = t.get("after_business");
    let calendar = t.get("calendar");
    let start = t.get("start");
    t.finish()?;
    let op = match (set, cancel) {
        (Some(key), None) => {
            let key = text(c, key, "set")?;
            let when = match (at, after, business) {
                (Some(v), None, None) => When::At(expr(c, v, "at", &Ty::Instant)?),
                (None, Some(v), None) => When::After(expr(c, v, "after", &Ty::Duration)?),
                (None, None, Some(v)) => When::AfterBusiness {
                    minutes: expr(c, v, "after_business", &Ty::Int)?,
                    calendar: calendar
                        .map(|v| expr(c, v, "calendar", &Ty::Text))
                        .transpose()?
                        .ok_or_else(|| n.error("`after_business` needs `calendar`"))?,
                    start: start
                        .map(|v| expr(c, v, "start", &Ty::Instant))
                        .transpose()?,
                },
                _ => {
                    return Err(
                        n.error("a timer that is set needs one of at, after, after_business")
                    );
                }
            };
            TimerOp::Set(key, when)
        }
        (None, Some(key)) => TimerOp::Cancel(text(c, key, "cancel")?),
        _ => return Err(n.error("a timer has either `set` or `cancel`")),
    };
    Ok((when, op))
}

/// Emits `evaluate(params) -> escalation-decision`.
#[allow(clippy::too_many_lines)]
pub fn emit(g: &mut FuncGen, c: &Checker, e: &Escalation) {
    let abi = c.abi;
    let decision = abi.result("escalation", "evaluate");
    let field = |name: &str| abi.record_field(&decision, name);
    let result = g.alloc(
        vec![I::I32Const(abi.size(&decision) as i32)],
        abi.align(&decision),
    );
    let sla_field = field("sla");
    let policy_ty = abi.payload_type(&sla_field.ty, None);
    let policy_at = sla_field.offset + abi.payload_offset(&sla_field.ty);
    let policy = |name: &str| policy_at + abi.record_field(&policy_ty, name).offset;
    let target_ty = abi.named("escalation", "sla-target");
    let action_ty = abi.named("escalation", "escalation-action");
    let action_payload = abi.payload_offset(&action_ty);
    let notification_ty = abi.named("escalation", "notification");
    let recipient_ty = abi.named("escalation", "recipient");
    let timer_ty = abi.named("escalation", "timer-op");
    let timer_payload = abi.payload_offset(&timer_ty);
    let set_ty = abi.payload_type(&timer_ty, Some("set"));
    let when_field = abi.tuple_field(&set_ty, 1);
    let when_ty = abi.named("escalation", "timer-when");
    let when_at = timer_payload + when_field.offset;
    let when_payload = when_at + abi.payload_offset(&when_ty);
    let delay_ty = abi.named("escalation", "business-delay");
    let delay_start = abi.record_field(&delay_ty, "start");
    let reassign_ty = abi.payload_type(&action_ty, Some("reassign"));
    let reassign_agent = abi.tuple_field(&reassign_ty, 1);

    g.stmts(&e.lets);
    g.code.push(I::Block(BlockType::Empty));
    for h in &e.handlers {
        g.expr(&h.when);
        g.code.push(I::If(BlockType::Empty));
        g.stmts(&h.lets);
        match &h.sla {
            None => g.store_byte_const(result, sla_field.offset, 0),
            Some(s) => {
                g.store_byte_const(result, sla_field.offset, 1);
                g.store_pair(result, policy("name"), &s.name, &Ty::Text);
                g.store_pair(result, policy("calendar"), &s.calendar, &Ty::Text);
                let size = abi.size(&target_ty);
                let list = g.alloc(
                    vec![I::I32Const((size as usize * s.targets.len()) as i32)],
                    4,
                );
                let metric = abi.record_field(&target_ty, "metric").offset;
                let minutes = abi.record_field(&target_ty, "minutes").offset;
                for (i, (m, v)) in s.targets.iter().enumerate() {
                    let at = i as u32 * size;
                    g.store_byte_const(list, at + metric, *m);
                    g.store_u32(list, at + minutes, v);
                }
                store_list(g, result, policy("targets"), list, s.targets.len());
                let pause = g.alloc(vec![I::I32Const(s.pause_on.len() as i32)], 1);
                for (i, st) in s.pause_on.iter().enumerate() {
                    g.store_byte_const(pause, i as u32, *st);
                }
                store_list(g, result, policy("pause-on"), pause, s.pause_on.len());
            }
        }
        let actions = Growing::new(
            g,
            vec![I::I32Const(h.actions.len() as i32)],
            abi.size(&action_ty),
            abi.align(&action_ty),
        );
        let at = g.temp(ValType::I32);
        for (when, a) in &h.actions {
            g.expr(when);
            g.code.push(I::If(BlockType::Empty));
            actions.push(g, at);
            match a {
                Action::RaisePriority(p) => {
                    g.store_byte_const(at, 0, abi.case_index(&action_ty, "raise-priority") as i32);
                    g.store_byte(at, action_payload, p);
                }
                Action::AddTag(tag) => {
                    g.store_byte_const(at, 0, abi.case_index(&action_ty, "add-tag") as i32);
                    g.store_pair(at, action_payload, tag, &Ty::Text);
                }
                Action::Reassign(group, agent) => {
                    g.store_byte_const(at, 0, abi.case_index(&action_ty, "reassign") as i32);
                    g.store_pair(at, action_payload, group, &Ty::Text);
                    let agent_at = action_payload + reassign_agent.offset;
                    match agent {
                        Some(a) => {
                            g.store_byte_const(at, agent_at, 1);
                            let p = agent_at + abi.payload_offset(&reassign_agent.ty);
                            g.store_pair(at, p, a, &Ty::Text);
                        }
                        None => g.store_byte_const(at, agent_at, 0),
                    }
                }
                Action::Notify { to, topic, message } => {
                    g.store_byte_const(at, 0, abi.case_index(&action_ty, "notify") as i32);
                    let n = |name: &str| {
                        action_payload + abi.record_field(&notification_ty, name).offset
                    };
                    let to_at = n("to");
                    g.store_byte_const(at, to_at, abi.case_index(&recipient_ty, to.case) as i32);
                    if let Some(v) = &to.value {
                        g.store_pair(at, to_at + abi.payload_offset(&recipient_ty), v, &Ty::Text);
                    }
                    g.store_pair(at, n("topic"), topic, &Ty::Text);
                    g.store_pair(at, n("message"), message, &Ty::Text);
                }
            }
            g.code.push(I::End);
        }
        actions.store(g, result, field("actions").offset);
        let timers = Growing::new(
            g,
            vec![I::I32Const(h.timers.len() as i32)],
            abi.size(&timer_ty),
            abi.align(&timer_ty),
        );
        for (when, op) in &h.timers {
            g.expr(when);
            g.code.push(I::If(BlockType::Empty));
            timers.push(g, at);
            match op {
                TimerOp::Cancel(key) => {
                    g.store_byte_const(at, 0, abi.case_index(&timer_ty, "cancel") as i32);
                    g.store_pair(at, timer_payload, key, &Ty::Text);
                }
                TimerOp::Set(key, w) => {
                    g.store_byte_const(at, 0, abi.case_index(&timer_ty, "set") as i32);
                    g.store_pair(at, timer_payload, key, &Ty::Text);
                    match w {
                        When::At(v) | When::After(v) => {
                            let case = if matches!(w, When::At(_)) {
                                "at"
                            } else {
                                "after"
                            };
                            g.store_byte_const(at, when_at, abi.case_index(&when_ty, case) as i32);
                            g.store_i64(at, when_payload, v);
                        }
                        When::AfterBusiness {
                            calendar,
                            minutes,
                            start,
                        } => {
                            let case = abi.case_index(&when_ty, "after-business") as i32;
                            g.store_byte_const(at, when_at, case);
                            let d = |name: &str| {
                                when_payload + abi.record_field(&delay_ty, name).offset
                            };
                            g.store_pair(at, d("calendar"), calendar, &Ty::Text);
                            g.store_u32(at, d("minutes"), minutes);
                            match start {
                                Some(s) => {
                                    g.store_byte_const(at, d("start"), 1);
                                    let p = d("start") + abi.payload_offset(&delay_start.ty);
                                    g.store_i64(at, p, s);
                                }
                                None => g.store_byte_const(at, d("start"), 0),
                            }
                        }
                    }
                }
            }
            g.code.push(I::End);
        }
        timers.store(g, result, field("timers").offset);
        g.code.extend([I::Br(1), I::End]);
    }
    // No handler: an empty decision.
    g.store_byte_const(result, sla_field.offset, 0);
    for name in ["actions", "timers"] {
        let off = field(name).offset;
        g.code.extend([
            I::LocalGet(result),
            I::I64Const(0),
            I::I64Store(crate::emit::wasm::mem(off, 2)),
        ]);
    }
    g.code.extend([I::End, I::LocalGet(result)]);
}

fn store_list(g: &mut FuncGen, dst: u32, offset: u32, list: u32, len: usize) {
    g.code.extend([
        I::LocalGet(dst),
        I::LocalGet(list),
        I::I32Store(crate::emit::wasm::mem(offset, 2)),
        I::LocalGet(dst),
        I::I32Const(len as i32),
        I::I32Store(crate::emit::wasm::mem(offset + 4, 2)),
    ]);
}
