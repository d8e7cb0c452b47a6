//! `[billing]`: invoice lines built per time entry, part or once; the
//! total in the invoice currency; approvals over thresholds; commission
//! splits per distinct key of a line block (e.g. per technician) or once.

use crate::check::Checker;
use crate::check::decls::{condition, for_each, lets, template_key};
use crate::diag::Diagnostic;
use crate::emit::codegen::{FuncGen, Growing};
use crate::emit::wasm::{Helper, mem};
use crate::front::doc::Node;
use crate::front::expr::Span;
use crate::ir::*;
use wasm_encoder::{BlockType, Instruction as I, ValType};

type R<T> = Result<T, Diagnostic>;

/// A block of invoice lines.
pub struct LineBlock {
    pub name: Option<String>,
    /// (element local, element size, list) when the block repeats.
    pub each: Option<(u32, u32, Ir)>,
    pub lets: Vec<Stmt>,
    pub when: Ir,
    pub kind: i32,
    pub description: Ir,
    pub quantity: Ir,
    pub unit_price: Ir,
    pub amount: Ir,
    pub source: Option<Ir>,
    pub key: Option<Ir>,
}

/// An approval rule.
pub struct Approval {
    pub when: Ir,
    pub role: Ir,
    pub reason: Ir,
    pub amount: Ir,
}

/// A commission rule.
pub struct Commission {
    /// For each distinct key of this line block: (block index, key local,
    /// subtotal local).
    pub per_key: Option<(usize, u32, u32)>,
    pub when: Ir,
    pub beneficiary: Ir,
    pub role: Ir,
    pub basis_points: Ir,
    pub amount: Ir,
}

/// The checked section.
pub struct Billing {
    pub when: Ir,
    pub currency: u32,
    pub currency_ir: Ir,
    pub total: u32,
    pub lines: Vec<LineBlock>,
    pub approvals: Vec<Approval>,
    pub commissions: Vec<Commission>,
}

const LINE_KINDS: &[&str] = &["labor", "part", "fee", "credit"];

fn required<'a>(
    t: &mut crate::front::doc::Table<'a>,
    key: &'static str,
    what: &str,
) -> R<Node<'a>> {
    t.get(key)
        .ok_or_else(|| Diagnostic::new(format!("{what} needs `{key}`"), t.span.0..t.span.0 + 1))
}

fn expr_of(c: &mut Checker, n: Node, key: &str, ty: &Ty) -> R<Ir> {
    let e = n.expr(key)?;
    c.expect(&e, ty)
}

/// Reads and checks `[billing]`.
pub fn check<'a>(c: &mut Checker<'a>, node: Node<'a>) -> R<Billing> {
    let mut t = node.table("[billing]")?;
    let when = match t.get("when") {
        Some(n) => c.expect(&condition(n)?, &Ty::Bool)?,
        None => Ir::Bool(true),
    };
    let currency_ir = match t.get("currency") {
        Some(n) => expr_of(c, n, "currency", &Ty::Text)?,
        None => Ir::Text("EUR".into()),
    };
    let currency = c.bind("currency", &node.range(), Ty::Text)?;
    let lines_node = t.get("lines");
    let approvals_node = t.get("approvals");
    let commissions_node = t.get("commissions");
    t.finish()?;
    let mut lines = Vec::new();
    for n in lines_node
        .map(|n| n.array("[[billing.lines]]"))
        .transpose()?
        .unwrap_or_default()
    {
        lines.push(line_block(c, n)?);
    }
    let total = c.bind("total", &node.range(), Ty::Money)?;
    let mut approvals = Vec::new();
    for n in approvals_node
        .map(|n| n.array("[[billing.approvals]]"))
        .transpose()?
        .unwrap_or_default()
    {
        let mut a = n.table("a [[billing.approvals]]")?;
        let when = match a.get("when") {
            Some(w) => c.expect(&condition(w)?, &Ty::Bool)?,
            None => Ir::Bool(true),
        };
        let role =
            template_key(c, &mut a, "role")?.ok_or_else(|| n.error("an approval needs `role`"))?;
        let reason = template_key(c, &mut a, "reason")?.unwrap_or(Ir::Text(String::new()));
        let amount = match a.get("amount") {
            Some(v) => expr_of(c, v, "amount", &Ty::Money)?,
            None => Ir::Local(total, Ty::Money),
        };
        a.finish()?;
        approvals.push(Approval {
            when,
            role,
            reason,
            amount,
        });
    }
    let mut commissions = Vec::new();
    for n in commissions_node
        .map(|n| n.array("[[billing.commissions]]"))
        .transpose()?
        .unwrap_or_default()
    {
        commissions.push(commission(c, n, &lines)?);
    }
    Ok(Billing {
        when,
        currency,
        currency_ir,
        total,
        lines,
        approvals,
        commissions,
    })
}

fn line_block<'a>(c: &mut Checker<'a>, n: Node<'a>) -> R<LineBlock> {
    let what = "a [[billing.lines]]";
    let mut t = n.table(what)?;
    c.push_scope();
    let result = (|| {
        let name = t
            .get("name")
            .map(|v| v.str("name").map(str::to_string))
            .transpose()?;
        let each = t.get("for_each").map(|v| for_each(c, v)).transpose()?;
        let when = match t.get("where") {
            Some(w) => c.expect(&condition(w)?, &Ty::Bool)?,
            None => Ir::Bool(true),
        };
        let lets = lets(c, t.get("let"))?;
        let kind_node = required(&mut t, "kind", what)?;
        let kind_name = kind_node.str("kind")?;
        let kind = LINE_KINDS
            .iter()
            .position(|k| *k == kind_name)
            .ok_or_else(|| {
                let hint = crate::diag::did_you_mean(kind_name, LINE_KINDS.iter().copied())
                    .unwrap_or_else(|| "one of labor, part, fee, credit".into());
                kind_node
                    .error(format!("unknown line kind `{kind_name}`"))
                    .hint(hint)
            })? as i32;
        let description =
            template_key(c, &mut t, "description")?.unwrap_or(Ir::Text(String::new()));
        let quantity = expr_of(
            c,
            required(&mut t, "quantity", what)?,
            "quantity",
            &Ty::Decimal,
        )?;
        let unit_price = expr_of(
            c,
            required(&mut t, "unit_price", what)?,
            "unit_price",
            &Ty::Money,
        )?;
        let amount = expr_of(c, required(&mut t, "amount", what)?, "amount", &Ty::Money)?;
        let source = t
            .get("source")
            .map(|v| expr_of(c, v, "source", &Ty::Text))
            .transpose()?;
        let key = t
            .get("key")
            .map(|v| expr_of(c, v, "key", &Ty::Text))
            .transpose()?;
        t.finish()?;
        Ok(LineBlock {
            name,
            each,
            lets,
            when,
            kind,
            description,
            quantity,
            unit_price,
            amount,
            source,
            key,
        })
    })();
    c.pop_scope();
    result
}

fn commission<'a>(c: &mut Checker<'a>, n: Node<'a>, lines: &[LineBlock]) -> R<Commission> {
    let what = "a [[billing.commissions]]";
    let mut t = n.table(what)?;
    c.push_scope();
    let result = (|| {
        let per_key = match t.get("per_key_of") {
            Some(v) => {
                let name = v.str("per_key_of")?;
                let block = lines
                    .iter()
                    .position(|l| l.name.as_deref() == Some(name))
                    .ok_or_else(|| v.error(format!("no [[billing.lines]] is named `{name}`")))?;
                if lines[block].key.is_none() {
                    return Err(v.error(format!("the lines `{name}` have no `key` to group by")));
                }
                let span: Span = v.range();
                let key = c.bind("key", &span, Ty::Text)?;
                let subtotal = c.bind("subtotal", &span, Ty::Money)?;
                Some((block, key, subtotal))
            }
            None => None,
        };
        let when = match t.get("when") {
            Some(w) => c.expect(&condition(w)?, &Ty::Bool)?,
            None => Ir::Bool(true),
        };
        let beneficiary = expr_of(
            c,
            required(&mut t, "beneficiary", what)?,
            "beneficiary",
            &Ty::Text,
        )?;
        let role = template_key(c, &mut t, "role")?
            .ok_or_else(|| n.error(format!("{what} needs `role`")))?;
        let bps = expr_of(
            c,
            required(&mut t, "basis_points", what)?,
            "basis_points",
            &Ty::Int,
        )?;
        let of = match (t.get("of"), per_key) {
            (Some(v), _) => expr_of(c, v, "of", &Ty::Money)?,
            (None, Some((_, _, subtotal))) => Ir::Local(subtotal, Ty::Money),
            (None, None) => return Err(n.error(format!("{what} needs `of` (the amount shared)"))),
        };
        t.finish()?;
        let amount = Ir::MulRatio {
            money: Box::new(of),
            num: Box::new(bps.clone()),
            den: Box::new(Ir::I64(10_000)),
            rounding: Rounding::HalfEven,
        };
        Ok(Commission {
            per_key,
            when,
            beneficiary,
            role,
            basis_points: bps,
            amount,
        })
    })();
    c.pop_scope();
    result
}

/// Field offsets of the records billing writes.
struct Layout {
    line_size: u32,
    line_align: u32,
    kind: u32,
    description: u32,
    quantity: u32,
    scale: u32,
    unit_price: u32,
    amount: u32,
    source: u32,
    source_payload: u32,
    currency: u32,
    approval_size: u32,
    approval_role: u32,
    approval_reason: u32,
    approval_amount: u32,
    commission_size: u32,
    beneficiary: u32,
    role: u32,
    bps: u32,
    commission_amount: u32,
}

impl Layout {
    fn new(c: &Checker) -> Layout {
        let abi = c.abi;
        let line = abi.named("billing", "invoice-line");
        let f = |name: &str| abi.record_field(&line, name);
        let source = f("source");
        let approval = abi.named("billing", "approval");
        let commission = abi.named("billing", "commission");
        let a = |name: &str| abi.record_field(&approval, name).offset;
        let m = |name: &str| abi.record_field(&commission, name).offset;
        Layout {
            line_size: abi.size(&line),
            line_align: abi.align(&line),
            kind: f("kind").offset,
            description: f("description").offset,
            quantity: f("quantity").offset,
            scale: abi.field("types", "decimal", "scale").offset,
            unit_price: f("unit-price").offset,
            amount: f("amount").offset,
            source: source.offset,
            source_payload: abi.payload_offset(&source.ty),
            currency: abi.field("types", "money", "currency").offset,
            approval_size: abi.size(&approval),
            approval_role: a("approver-role"),
            approval_reason: a("reason"),
            approval_amount: a("amount"),
            commission_size: abi.size(&commission),
            beneficiary: m("beneficiary"),
            role: m("role"),
            bps: m("basis-points"),
            commission_amount: m("amount"),
        }
    }
}

/// Adds money to a running sum in the invoice currency; a different
/// currency spoils the sum (as `Money::sum` does).
fn accumulate(g: &mut FuncGen, sum: u32, spoiled: u32, currency: &[u32], amount: &[u32]) {
    g.get_all(&[amount[1], amount[2], currency[0], currency[1]]);
    g.call(Helper::StrEq);
    g.code.extend([
        I::If(BlockType::Empty),
        I::LocalGet(sum),
        I::LocalGet(amount[0]),
    ]);
    g.checked(Helper::CheckedAdd, "the invoice total");
    g.code.extend([
        I::LocalSet(sum),
        I::Else,
        I::I32Const(1),
        I::LocalSet(spoiled),
        I::End,
    ]);
}

/// Emits `bill(params) -> option<billing-decision>`.
pub fn emit(g: &mut FuncGen, c: &Checker, b: &Billing) {
    let abi = c.abi;
    let l = Layout::new(c);
    let result_ty = abi.result("billing", "bill");
    let payload = abi.payload_offset(&result_ty);
    let decision = abi.payload_type(&result_ty, None);
    let field = |name: &str| abi.record_field(&decision, name);
    let result = g.alloc(
        vec![I::I32Const(abi.size(&result_ty) as i32)],
        abi.align(&result_ty),
    );
    g.expr(&b.when);
    g.code.push(I::If(BlockType::Empty));
    g.store_byte_const(result, 0, 1);
    g.stmts(&[Stmt::Let(b.currency, Ty::Text, b.currency_ir.clone())]);
    let currency = [g.slot(b.currency), g.slot(b.currency) + 1];

    // Lines: room for every element of every repeated block, plus one per
    // single line.
    let mut capacity = vec![I::I32Const(0)];
    for block in &b.lines {
        match &block.each {
            Some((_, _, list)) => {
                g.expr(list);
                let len = g.temp(ValType::I32);
                g.code.extend([I::LocalSet(len), I::Drop]);
                capacity.extend([I::LocalGet(len), I::I32Add]);
            }
            None => capacity.extend([I::I32Const(1), I::I32Add]),
        }
    }
    let lines = Growing::new(g, capacity.clone(), l.line_size, l.line_align);
    let keys = Growing::new(g, capacity, 8, 4);
    let sum = g.temp(ValType::I64);
    let spoiled = g.temp(ValType::I32);
    let at = g.temp(ValType::I32);
    // Per block: the first line index, for grouping by key.
    let mut ranges = Vec::new();
    for block in &b.lines {
        let start = g.temp(ValType::I32);
        g.code
            .extend([I::LocalGet(lines.count), I::LocalSet(start)]);
        let body = |g: &mut FuncGen| {
            g.expr(&block.when);
            g.code.push(I::If(BlockType::Empty));
            g.stmts(&block.lets);
            lines.push(g, at);
            g.store_byte_const(at, l.kind, block.kind);
            g.store_pair(at, l.description, &block.description, &Ty::Text);
            g.store_decimal(at, l.quantity, l.scale, &block.quantity);
            g.store_money(at, l.unit_price, l.currency, &block.unit_price);
            let amount = g.spill_to_locals(&block.amount, &Ty::Money);
            g.code.extend([
                I::LocalGet(at),
                I::LocalGet(amount[0]),
                I::I64Store(mem(l.amount, 3)),
                I::LocalGet(at),
                I::LocalGet(amount[1]),
                I::I32Store(mem(l.amount + l.currency, 2)),
                I::LocalGet(at),
                I::LocalGet(amount[2]),
                I::I32Store(mem(l.amount + l.currency + 4, 2)),
            ]);
            accumulate(g, sum, spoiled, &currency, &amount);
            match &block.source {
                Some(s) => {
                    g.store_byte_const(at, l.source, 1);
                    g.store_pair(at, l.source + l.source_payload, s, &Ty::Text);
                }
                None => g.store_byte_const(at, l.source, 0),
            }
            let slot = g.temp(ValType::I32);
            keys.push(g, slot);
            let key = block.key.clone().unwrap_or(Ir::Text(String::new()));
            g.store_pair(slot, 0, &key, &Ty::Text);
            g.code.push(I::End);
        };
        match &block.each {
            Some((var, size, list)) => g.for_each(list, *size, *var, body),
            None => body(g),
        }
        let end = g.temp(ValType::I32);
        g.code.extend([I::LocalGet(lines.count), I::LocalSet(end)]);
        ranges.push((start, end));
    }
    lines.store(g, result, payload + field("lines").offset);

    // The total, in the invoice currency; zero when a line is in another.
    finish_sum(g, sum, spoiled, &currency, g.slot(b.total));
    let total_field = field("total");
    g.store_byte_const(result, payload + total_field.offset, 1);
    let total_at = payload + total_field.offset + abi.payload_offset(&total_field.ty);
    g.store_money(result, total_at, l.currency, &Ir::Local(b.total, Ty::Money));

    let approvals = Growing::new(
        g,
        vec![I::I32Const(b.approvals.len() as i32)],
        l.approval_size,
        8,
    );
    for a in &b.approvals {
        g.expr(&a.when);
        g.code.push(I::If(BlockType::Empty));
        approvals.push(g, at);
        g.store_pair(at, l.approval_role, &a.role, &Ty::Text);
        g.store_pair(at, l.approval_reason, &a.reason, &Ty::Text);
        g.store_money(at, l.approval_amount, l.currency, &a.amount);
        g.code.push(I::End);
    }
    approvals.store(g, result, payload + field("approvals").offset);

    let mut capacity = vec![I::I32Const(0)];
    for cm in &b.commissions {
        match cm.per_key {
            Some((block, ..)) => {
                let (start, end) = ranges[block];
                capacity.extend([I::LocalGet(end), I::LocalGet(start), I::I32Sub, I::I32Add]);
            }
            None => capacity.extend([I::I32Const(1), I::I32Add]),
        }
    }
    let commissions = Growing::new(g, capacity, l.commission_size, 8);
    for cm in &b.commissions {
        let write = |g: &mut FuncGen| {
            g.expr(&cm.when);
            g.code.push(I::If(BlockType::Empty));
            commissions.push(g, at);
            g.store_pair(at, l.beneficiary, &cm.beneficiary, &Ty::Text);
            g.store_pair(at, l.role, &cm.role, &Ty::Text);
            g.store_u32(at, l.bps, &cm.basis_points);
            g.store_money(at, l.commission_amount, l.currency, &cm.amount);
            g.code.push(I::End);
        };
        match cm.per_key {
            None => write(g),
            Some((block, key, subtotal)) => {
                per_key(
                    g,
                    &keys,
                    ranges[block],
                    (key, subtotal),
                    &lines,
                    &l,
                    &currency,
                    write,
                );
            }
        }
    }
    commissions.store(g, result, payload + field("commissions").offset);
    g.code.extend([I::Else]);
    g.store_byte_const(result, 0, 0);
    g.code.extend([I::End, I::LocalGet(result)]);
}

/// For each distinct key of the lines in `range` (first appearance order):
/// binds the key and the subtotal of its lines, then runs `body`.
#[allow(clippy::too_many_arguments)]
fn per_key(
    g: &mut FuncGen,
    keys: &Growing,
    (start, end): (u32, u32),
    (key, subtotal): (u32, u32),
    lines: &Growing,
    l: &Layout,
    currency: &[u32],
    body: impl FnOnce(&mut FuncGen),
) {
    let (i, j) = (g.temp(ValType::I32), g.temp(ValType::I32));
    let seen = g.temp(ValType::I32);
    let spoiled = g.temp(ValType::I32);
    let sum = g.temp(ValType::I64);
    let key = [g.slot(key), g.slot(key) + 1];
    let sub = g.slot(subtotal);
    let key_at = |g: &mut FuncGen, index: u32| {
        g.code.extend([
            I::LocalGet(keys.buf),
            I::LocalGet(index),
            I::I32Const(8),
            I::I32Mul,
            I::I32Add,
        ]);
    };
    let load_key = |g: &mut FuncGen, index: u32| {
        let p = g.temp(ValType::I32);
        key_at(g, index);
        g.code.extend([
            I::LocalTee(p),
            I::I32Load(mem(0, 2)),
            I::LocalGet(p),
            I::I32Load(mem(4, 2)),
        ]);
    };
    g.counted_loop(i, I::LocalGet(start), I::LocalGet(end), |g| {
        load_key(g, i);
        g.set_all(&key);
        // seen = some earlier line of the block has the same key
        g.code.extend([I::I32Const(0), I::LocalSet(seen)]);
        g.counted_loop(j, I::LocalGet(start), I::LocalGet(i), |g| {
            load_key(g, j);
            g.get_all(&key);
            g.call(Helper::StrEq);
            g.code.extend([
                I::If(BlockType::Empty),
                I::I32Const(1),
                I::LocalSet(seen),
                I::Br(2),
                I::End,
            ]);
        });
        g.code
            .extend([I::LocalGet(seen), I::I32Eqz, I::If(BlockType::Empty)]);
        // subtotal over lines i..end with this key
        g.code.extend([
            I::I64Const(0),
            I::LocalSet(sum),
            I::I32Const(0),
            I::LocalSet(spoiled),
        ]);
        g.counted_loop(j, I::LocalGet(i), I::LocalGet(end), |g| {
            load_key(g, j);
            g.get_all(&key);
            g.call(Helper::StrEq);
            g.code.push(I::If(BlockType::Empty));
            let line = g.temp(ValType::I32);
            g.code.extend([
                I::LocalGet(lines.buf),
                I::LocalGet(j),
                I::I32Const(lines.size as i32),
                I::I32Mul,
                I::I32Add,
                I::LocalSet(line),
            ]);
            let amount = g.temps(&Ty::Money);
            g.code.extend([
                I::LocalGet(line),
                I::I64Load(mem(l.amount, 3)),
                I::LocalSet(amount[0]),
                I::LocalGet(line),
                I::I32Load(mem(l.amount + l.currency, 2)),
                I::LocalSet(amount[1]),
                I::LocalGet(line),
                I::I32Load(mem(l.amount + l.currency + 4, 2)),
                I::LocalSet(amount[2]),
            ]);
            accumulate(g, sum, spoiled, currency, &amount);
            g.code.push(I::End);
        });
        finish_sum(g, sum, spoiled, currency, sub);
        body(g);
        g.code.push(I::End);
    });
}

/// `dst` (money locals) = the sum in the invoice currency, or zero in it
/// when a line in another currency spoiled the sum (as `Money::sum`).
fn finish_sum(g: &mut FuncGen, sum: u32, spoiled: u32, currency: &[u32], dst: u32) {
    g.code.extend([
        I::I64Const(0),
        I::LocalGet(sum),
        I::LocalGet(spoiled),
        I::Select,
        I::LocalSet(dst),
        I::LocalGet(currency[0]),
        I::LocalSet(dst + 1),
        I::LocalGet(currency[1]),
        I::LocalSet(dst + 2),
    ]);
}
