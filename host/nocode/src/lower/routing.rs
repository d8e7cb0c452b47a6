//! `[routing]`: ordered rules, the first that holds decides the group,
//! priority, skills, tags and reason; an optional `[routing.agent]` picks
//! the least-loaded eligible agent of that group, or queues with overflow
//! tags.

use crate::check::Checker;
use crate::check::decls::{condition, optional_expr, template_key, templates};
use crate::diag::Diagnostic;
use crate::emit::codegen::{FuncGen, ListItem};
use crate::front::doc::Node;
use crate::ir::*;
use wasm_encoder::{BlockType, Instruction as I};

type R<T> = Result<T, Diagnostic>;

/// One checked rule.
pub struct Rule {
    /// Statements before the condition (table lookups, the group).
    pub pre: Vec<Stmt>,
    pub when: Ir,
    pub group: Ir,
    pub priority: Option<Ir>,
    pub skills: Vec<ListItem>,
    pub tags: Vec<ListItem>,
    pub reason: Ir,
    /// Agent pick for this rule, after the decision is known.
    pub pick: Option<Pick>,
}

/// The agent pick of a rule.
pub struct Pick {
    pub stmts: Vec<Stmt>,
    /// The i32 local holding the chosen agent's address, or 0.
    pub agent: u32,
    pub found_reason: Ir,
    pub overflow_reason: Ir,
    pub overflow_tags: Vec<ListItem>,
}

/// The checked section.
pub struct Routing {
    pub when: Ir,
    pub rules: Vec<Rule>,
}

/// Reads and checks `[routing]`.
pub fn check<'a>(c: &mut Checker<'a>, node: Node<'a>) -> R<Routing> {
    let mut t = node.table("[routing]")?;
    let when = match t.get("when") {
        Some(n) => {
            let e = condition(n)?;
            c.expect(&e, &Ty::Bool)?
        }
        None => Ir::Bool(true),
    };
    let agent = t.get("agent");
    let rules_node = t.require("rule")?;
    t.finish()?;
    let mut rules = Vec::new();
    for node in rules_node.array("[[routing.rule]]")? {
        rules.push(rule(c, node, agent)?);
    }
    Ok(Routing { when, rules })
}

fn rule<'a>(c: &mut Checker<'a>, node: Node<'a>, agent: Option<Node<'a>>) -> R<Rule> {
    let mut t = node.table("a [[routing.rule]]")?;
    t.get("name");
    c.push_scope();
    let mut pre = Vec::new();
    let mut when = Ir::Bool(true);
    // The group is computed after the condition holds, so it goes last.
    let saved_row = c.row.take();
    if let Some(table) = t.get("table") {
        let name = table.str("table")?;
        let decl = c.table(name, &table.range())?;
        let (stmts, row) = c.use_table(&decl, &table.range())?;
        pre.extend(stmts);
        when = Ir::Cmp {
            op: Cmp::Ge,
            wide: false,
            l: Box::new(Ir::Local(row, Ty::Bool)),
            r: Box::new(Ir::Enum(0)),
        };
        c.row = Some((name.to_string(), row));
    }
    let result = (|| {
        let extra = match t.get("when") {
            Some(n) => Some(c.expect(&condition(n)?, &Ty::Bool)?),
            None => None,
        };
        let group_ir = template_key(c, &mut t, "group")?
            .ok_or_else(|| node.error("a [[routing.rule]] needs `group`"))?;
        let group = c.local(Ty::Text);
        let priority = optional_expr(c, &mut t, "priority", &Ty::Enum(EnumTy::Priority))?;
        let skills = templates(c, t.get("skills"), "skills")?;
        let tags = templates(c, t.get("tags"), "tags")?;
        let reason = template_key(c, &mut t, "reason")?.unwrap_or(Ir::Text(String::new()));
        let min_level = optional_expr(c, &mut t, "min_level", &Ty::Int)?;
        t.finish()?;
        let pick = agent.map(|a| pick(c, a, group, min_level)).transpose()?;
        Ok(Rule {
            pre: vec![Stmt::Let(group, Ty::Text, group_ir)],
            when: extra.unwrap_or(Ir::Bool(true)),
            group: Ir::Local(group, Ty::Text),
            priority,
            skills,
            tags,
            reason,
            pick,
        })
    })();
    c.row = saved_row;
    c.pop_scope();
    let mut rule = result?;
    // Table lookups and the condition come before the group is computed.
    pre.append(&mut rule.pre);
    rule.pre = pre;
    rule.when = Ir::And(Box::new(when), Box::new(rule.when));
    Ok(rule)
}

fn pick<'a>(c: &mut Checker<'a>, node: Node<'a>, group: u32, min_level: Option<Ir>) -> R<Pick> {
    let mut t = node.table("[routing.agent]")?;
    let max_open = optional_expr(c, &mut t, "max_open", &Ty::Int)?.unwrap_or(Ir::I64(i64::MAX));
    let default_level = optional_expr(c, &mut t, "min_level", &Ty::Int)?.unwrap_or(Ir::I64(0));
    let min_level = min_level.unwrap_or(default_level);
    c.push_scope();
    let var = c.local(Ty::Rec(RecTy::Agent));
    c.alias("agent", var, Ty::Rec(RecTy::Agent));
    let agent_field = |c: &mut Checker, name: &str| {
        let e = crate::front::expr::Expr {
            kind: crate::front::expr::ExprKind::Path(vec![
                ("agent".into(), 0..0),
                (name.into(), 0..0),
            ]),
            span: 0..0,
        };
        c.expr(&e).map(|(ir, _)| ir)
    };
    let in_group = Ir::TextTest(
        TextPred::Eq,
        Box::new(agent_field(c, "group")?),
        Box::new(Ir::Local(group, Ty::Text)),
    );
    let cmp = |op, l, r| Ir::Cmp {
        op,
        wide: true,
        l: Box::new(l),
        r: Box::new(r),
    };
    let eligible = Ir::And(
        Box::new(Ir::And(
            Box::new(in_group),
            Box::new(agent_field(c, "available")?),
        )),
        Box::new(Ir::And(
            Box::new(cmp(Cmp::Ge, agent_field(c, "level")?, min_level)),
            Box::new(cmp(Cmp::Lt, agent_field(c, "open_tickets")?, max_open)),
        )),
    );
    let key = agent_field(c, "open_tickets")?;
    let agents = c.expr(&crate::front::expr::Expr {
        kind: crate::front::expr::ExprKind::Path(vec![("agents".into(), 0..0)]),
        span: 0..0,
    })?;
    let chosen = c.local(Ty::Rec(RecTy::Agent));
    c.alias("agent", chosen, Ty::Rec(RecTy::Agent));
    let found_reason = template_key(c, &mut t, "found_reason")?.unwrap_or(Ir::Text(String::new()));
    c.pop_scope();
    let overflow_reason =
        template_key(c, &mut t, "overflow_reason")?.unwrap_or(Ir::Text(String::new()));
    let overflow_tags = templates(c, t.get("overflow_tags"), "overflow_tags")?;
    t.finish()?;
    let elem_size = c.abi.size(&c.abi.named("types", RecTy::Agent.wit_name()));
    Ok(Pick {
        stmts: vec![Stmt::PickMin {
            result: chosen,
            var,
            elem_size,
            list: agents.0,
            cond: eligible,
            key,
        }],
        agent: chosen,
        found_reason,
        overflow_reason,
        overflow_tags,
    })
}

/// Emits `route(params) -> option<route-decision>` into the function.
pub fn emit(g: &mut FuncGen, c: &Checker, routing: &Routing) {
    let abi = c.abi;
    let result_ty = abi.result("routing", "route");
    let payload = abi.payload_offset(&result_ty);
    let decision = abi.payload_type(&result_ty, None);
    let field = |name: &str| abi.record_field(&decision, name);
    let result = g.alloc(
        vec![I::I32Const(abi.size(&result_ty) as i32)],
        abi.align(&result_ty),
    );
    g.code.push(I::Block(BlockType::Empty));
    g.expr(&routing.when);
    g.code.extend([I::I32Eqz, I::BrIf(0)]);
    for rule in &routing.rules {
        g.stmts(&rule.pre);
        g.expr(&rule.when);
        g.code.push(I::If(BlockType::Empty));
        g.store_pair(
            result,
            payload + field("group").offset,
            &rule.group,
            &Ty::Text,
        );
        let prio = field("priority");
        match &rule.priority {
            Some(p) => {
                g.store_byte_const(result, payload + prio.offset, 1);
                let at = payload + prio.offset + abi.payload_offset(&prio.ty);
                g.store_byte(result, at, p);
            }
            None => g.store_byte_const(result, payload + prio.offset, 0),
        }
        g.store_text_list(result, payload + field("skills").offset, &rule.skills);
        let agent = field("agent");
        let agent_payload = payload + agent.offset + abi.payload_offset(&agent.ty);
        match &rule.pick {
            None => {
                g.store_byte_const(result, payload + agent.offset, 0);
                g.store_text_list(result, payload + field("tags").offset, &rule.tags);
                g.store_pair(
                    result,
                    payload + field("reason").offset,
                    &rule.reason,
                    &Ty::Text,
                );
            }
            Some(pick) => {
                g.stmts(&pick.stmts);
                let chosen = Ir::Local(pick.agent, Ty::Rec(RecTy::Agent));
                g.expr(&chosen);
                g.code.push(I::If(BlockType::Empty));
                g.store_byte_const(result, payload + agent.offset, 1);
                let id_offset = abi.field("types", "agent", "id").offset;
                let id = Ir::Field {
                    base: Box::new(chosen.clone()),
                    offset: id_offset,
                    load: Load::PtrLen,
                    ty: Ty::Text,
                };
                g.store_pair(result, agent_payload, &id, &Ty::Text);
                g.store_text_list(result, payload + field("tags").offset, &rule.tags);
                let reason = Ir::Concat(vec![rule.reason.clone(), pick.found_reason.clone()]);
                g.store_pair(result, payload + field("reason").offset, &reason, &Ty::Text);
                g.code.push(I::Else);
                g.store_byte_const(result, payload + agent.offset, 0);
                let tags: Vec<ListItem> = rule
                    .tags
                    .iter()
                    .chain(&pick.overflow_tags)
                    .cloned()
                    .collect();
                g.store_text_list(result, payload + field("tags").offset, &tags);
                let reason = Ir::Concat(vec![rule.reason.clone(), pick.overflow_reason.clone()]);
                g.store_pair(result, payload + field("reason").offset, &reason, &Ty::Text);
                g.code.push(I::End);
            }
        }
        g.store_byte_const(result, 0, 1);
        g.code.extend([I::LocalGet(result), I::Return, I::End]);
    }
    g.code.push(I::End);
    g.store_byte_const(result, 0, 0);
    g.code.push(I::LocalGet(result));
}
