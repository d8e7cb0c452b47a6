//! Document-wide declarations: settings with typed defaults, decision
//! tables, and the structured condition form (`all` / `any` / `not` /
//! `field` + operator), which lowers to the same syntax tree as a
//! condition written as an expression.

use crate::check::Checker;
use crate::diag::{Diagnostic, did_you_mean};
use crate::emit::codegen::ListItem;
use crate::front::doc::{Node, Table};
use crate::front::expr::{BinaryOp, Expr, ExprKind, Span, StrPart, UnaryOp};
use crate::ir::*;
use std::collections::BTreeMap;

type R<T> = Result<T, Diagnostic>;

/// Reads `[settings]`: `name = { integer = 5, min = 1, max = 9 }`,
/// `{ text = "EUR" }`, `{ bool = true }`, `{ money = "money(50000, setting.currency)" }`.
/// Defaults may refer to settings declared above them.
pub fn settings(c: &mut Checker, node: Node) -> R<()> {
    let table = node.table("[settings]")?;
    for (name, key_span, value) in table.entries() {
        let what = format!("setting `{name}`");
        let mut t = value.table(&what)?;
        let kinds = [
            ("integer", SettingKind::Integer),
            ("text", SettingKind::Text),
            ("bool", SettingKind::Bool),
            ("money", SettingKind::Money),
        ];
        let mut found = None;
        for (key, kind) in kinds {
            if let Some(v) = t.get(key) {
                if found.is_some() {
                    return Err(v.error(format!("{what} has more than one type")));
                }
                found = Some((kind, v));
            }
        }
        let min = t.get("min").map(|v| v.int("min")).transpose()?;
        let max = t.get("max").map(|v| v.int("max")).transpose()?;
        t.get("help");
        let Some((kind, v)) = found else {
            return Err(
                Diagnostic::new(format!("{what} needs a type and default"), key_span).hint(
                    "write e.g. `max_open = { integer = 5 }` or `currency = { text = \"EUR\" }`",
                ),
            );
        };
        t.finish()?;
        if (min.is_some() || max.is_some()) && kind != SettingKind::Integer {
            return Err(value.error(format!("{what}: `min` and `max` apply to integers")));
        }
        let default = match kind {
            SettingKind::Integer => Ir::I64(v.int(&what)?),
            SettingKind::Text => Ir::Text(v.str(&what)?.to_string()),
            SettingKind::Bool => Ir::Bool(v.bool(&what)?),
            SettingKind::Money => {
                let e = v.expr(&what)?;
                c.expect(&e, &setting_ty(kind))?
            }
        };
        c.settings.insert(
            name.to_string(),
            SettingDecl {
                kind,
                default,
                clamp: (min, max),
            },
        );
    }
    Ok(())
}

/// Reads `[tables.<name>]`: `hit`, `inputs`, `outputs`, `rows`.
pub fn tables<'a>(c: &mut Checker<'a>, node: Node<'a>) -> R<()> {
    for (name, _, value) in node.table("[tables]")?.entries() {
        let what = format!("table `{name}`");
        let mut t = value.table(&what)?;
        let hit_node = t.get("hit");
        let hit = hit_node
            .map(|h| h.str("hit"))
            .transpose()?
            .unwrap_or("first");
        let inputs: Vec<Expr> = t
            .require("inputs")?
            .array("inputs")?
            .iter()
            .map(|n| n.expr("an input"))
            .collect::<R<_>>()?;
        let output_names: Vec<(String, Span)> = t
            .require("outputs")?
            .array("outputs")?
            .iter()
            .map(|n| Ok((n.str("an output name")?.to_string(), n.range())))
            .collect::<R<_>>()?;
        let rows_node = t.require("rows")?;
        t.finish()?;
        let mut rows = Vec::new();
        for row in rows_node.array("rows")? {
            let cells = row.array("a row")?;
            if cells.len() != inputs.len() + output_names.len() {
                return Err(row.error(format!(
                    "a row of {what} needs {} cells ({} inputs, {} outputs), found {}",
                    inputs.len() + output_names.len(),
                    inputs.len(),
                    output_names.len(),
                    cells.len()
                )));
            }
            rows.push(cells);
        }
        match hit {
            "first" | "unique" | "collect" => {}
            "priority" => {
                let Some(p) = output_names.iter().position(|(n, _)| n == "priority") else {
                    return Err(hit_node.expect("set").error(
                        "hit = \"priority\" needs an output named `priority` (higher wins)",
                    ));
                };
                let column = inputs.len() + p;
                let mut keyed = Vec::new();
                for r in rows {
                    keyed.push((-r[column].int("a priority cell")?, r));
                }
                keyed.sort_by_key(|(k, _)| *k);
                rows = keyed.into_iter().map(|(_, r)| r).collect();
            }
            other => {
                let hint = did_you_mean(other, ["first", "unique", "priority", "collect"])
                    .unwrap_or_else(|| "one of first, unique, priority, collect".into());
                return Err(hit_node
                    .expect("set")
                    .error(format!("unknown hit policy `{other}`"))
                    .hint(hint));
            }
        }
        if hit == "unique" {
            check_unique(&what, &rows, inputs.len())?;
        }
        let mut outputs = BTreeMap::new();
        for (i, (oname, ospan)) in output_names.iter().enumerate() {
            let cells: Vec<Node> = rows.iter().map(|r| r[inputs.len() + i]).collect();
            let column = output_column(&cells, oname, ospan)?;
            let ty = column.ty.clone();
            c.columns.push(column);
            outputs.insert(oname.clone(), ((c.columns.len() - 1) as u32, ty));
        }
        c.tables.insert(
            name.to_string(),
            TableDecl {
                name: name.to_string(),
                inputs,
                rows,
                outputs,
                collect: hit == "collect",
            },
        );
    }
    Ok(())
}

fn output_column(cells: &[Node], name: &str, span: &Span) -> R<Column> {
    let Some(first) = cells.first() else {
        return Err(Diagnostic::new(
            format!("output `{name}` has no rows"),
            span.clone(),
        ));
    };
    let ty = if first.str("").is_ok() {
        Ty::Text
    } else {
        Ty::Int
    };
    let values = cells
        .iter()
        .map(|n| match ty {
            Ty::Text => n
                .str(&format!("output `{name}`"))
                .map(|s| Ir::Text(s.to_string())),
            _ => n.int(&format!("output `{name}`")).map(Ir::I64),
        })
        .collect::<R<_>>()?;
    Ok(Column { ty, values })
}

/// What one input cell accepts, for the overlap proof.
enum CellSet {
    Any,
    Values(Vec<String>),
    Unknown,
}

fn cell_set(n: &Node) -> CellSet {
    if let Ok(s) = n.str("") {
        return match s {
            "*" | "-" => CellSet::Any,
            s if is_unary_test(s) => CellSet::Unknown,
            s => CellSet::Values(vec![s.to_string()]),
        };
    }
    if let Ok(i) = n.int("") {
        return CellSet::Values(vec![i.to_string()]);
    }
    if let Ok(items) = n.array("") {
        let values: Option<Vec<String>> = items
            .iter()
            .map(|i| {
                i.str("")
                    .map(str::to_string)
                    .or_else(|_| i.int("").map(|v| v.to_string()))
                    .ok()
            })
            .collect();
        return values.map_or(CellSet::Unknown, CellSet::Values);
    }
    CellSet::Unknown
}

/// Fails when two rows of a `unique` table provably match the same input.
fn check_unique(what: &str, rows: &[Vec<Node>], inputs: usize) -> R<()> {
    for (i, a) in rows.iter().enumerate() {
        for (j, bb) in rows.iter().enumerate().skip(i + 1) {
            let overlap = (0..inputs).all(|k| match (cell_set(&a[k]), cell_set(&bb[k])) {
                (CellSet::Any, CellSet::Unknown) | (CellSet::Unknown, CellSet::Any) => false,
                (CellSet::Any, _) | (_, CellSet::Any) => true,
                (CellSet::Values(x), CellSet::Values(y)) => x.iter().any(|v| y.contains(v)),
                _ => false,
            });
            if overlap {
                return Err(Diagnostic::new(
                    format!("rows {} and {} of {what} overlap: some input matches both", i + 1, j + 1),
                    bb[0].range().start..bb[inputs - 1].range().end,
                )
                .hint("hit = \"unique\" needs exclusive rows; make them exclusive or use hit = \"first\""));
            }
        }
    }
    Ok(())
}

/// Checks a table's inputs in the current scope; returns the statements
/// that set the row local (-1 when no row matches) and that local.
impl Checker<'_> {
    /// Checks a table's inputs in the current scope; returns the statements
    /// that set the row local (-1 when no row matches) and that local.
    pub fn use_table(&mut self, decl: &TableDecl, span: &Span) -> R<(Vec<Stmt>, u32)> {
        use_table(self, decl, span)
    }

    /// The statements binding a table's inputs, and each row's condition.
    pub fn row_conditions(&mut self, decl: &TableDecl) -> R<(Vec<Stmt>, Vec<Ir>)> {
        row_conditions(self, decl)
    }
}

fn use_table(c: &mut Checker, decl: &TableDecl, span: &Span) -> R<(Vec<Stmt>, u32)> {
    if decl.collect {
        return Err(Diagnostic::new(
            format!("table `{}` collects every matching row", decl.name),
            span.clone(),
        )
        .hint(format!(
            "read it with collect(\"{}\", \"<output>\")",
            decl.name
        )));
    }
    let (mut stmts, conditions) = row_conditions(c, decl)?;
    let row = c.local(Ty::Int);
    // The row index is an i32 in wasm; its checker type only sizes the slot.
    c.locals[row as usize] = Ty::Bool;
    stmts.push(Stmt::FirstRow {
        local: row,
        rows: conditions,
    });
    Ok((stmts, row))
}

fn row_conditions(c: &mut Checker, decl: &TableDecl) -> R<(Vec<Stmt>, Vec<Ir>)> {
    let mut stmts = Vec::new();
    let mut inputs = Vec::new();
    for e in &decl.inputs {
        let (ir, ty) = c.expr(e)?;
        let local = c.local(ty.clone());
        stmts.push(Stmt::Let(local, ty.clone(), ir));
        inputs.push((local, ty, e.span.clone()));
    }
    let mut conditions = Vec::new();
    for row in &decl.rows {
        let mut cond: Option<Ir> = None;
        for ((local, ty, span), cell) in inputs.iter().zip(row) {
            let value = Ir::Local(*local, ty.clone());
            let Some(test) = cell_test(c, value, ty, span, cell)? else {
                continue;
            };
            cond = Some(match cond {
                None => test,
                Some(prev) => Ir::And(Box::new(prev), Box::new(test)),
            });
        }
        conditions.push(cond.unwrap_or(Ir::Bool(true)));
    }
    Ok((stmts, conditions))
}

/// The test one cell makes of its input; `None` for a wildcard.
fn cell_test(c: &mut Checker, value: Ir, ty: &Ty, span: &Span, cell: &Node) -> R<Option<Ir>> {
    let literal = |cell: &Node| -> R<(Ir, Ty)> {
        if let Ok(s) = cell.str("") {
            Ok((Ir::Text(s.to_string()), Ty::Text))
        } else if let Ok(i) = cell.int("") {
            Ok((Ir::I64(i), Ty::Int))
        } else if let Ok(b) = cell.bool("") {
            Ok((Ir::Bool(b), Ty::Bool))
        } else {
            Err(cell.error("a cell must be text, a number, true/false or a list of them"))
        }
    };
    if let Ok(s) = cell.str("") {
        if s == "*" || s == "-" {
            return Ok(None);
        }
        if is_unary_test(s) {
            // A unary test like ">= 5" or `contains "refund"`: the input
            // followed by the cell, parsed so spans land in the cell.
            let prefix = "__input ";
            let base = cell.content_start().saturating_sub(prefix.len());
            let mut e = crate::front::expr::parse(&format!("{prefix}{s}"), base)?;
            // The synthetic input sits just before the cell: point at the cell.
            clamp_spans(&mut e, cell.content_start());
            let Ir::Local(local, _) = value else {
                unreachable!("table inputs are locals")
            };
            c.push_scope();
            c.alias("__input", local, ty.clone());
            let result = c.expr(&e);
            c.pop_scope();
            let (ir, rty) = result?;
            if rty != Ty::Bool {
                return Err(
                    cell.error("a test cell must be a condition, e.g. `>= 5` or `contains \"x\"`")
                );
            }
            return Ok(Some(ir));
        }
    }
    if let Ok(items) = cell.array("") {
        let mut acc: Option<Ir> = None;
        for item in &items {
            let (ir, ity) = literal(item)?;
            let eq = c.equal_values(value.clone(), ty.clone(), ir, ity, span, &item.range())?;
            acc = Some(match acc {
                None => eq,
                Some(p) => Ir::Or(Box::new(p), Box::new(eq)),
            });
        }
        return Ok(Some(acc.unwrap_or(Ir::Bool(false))));
    }
    let (ir, ity) = literal(cell)?;
    let range = cell.range();
    c.equal_values(value, ty.clone(), ir, ity, span, &range)
        .map(Some)
        .map_err(|d| Diagnostic::new(d.message, range).hint(d.hint.unwrap_or_default()))
}

/// Moves every span that starts before `min` to start at `min`.
fn clamp_spans(e: &mut Expr, min: usize) {
    let clamp = |s: &mut Span| {
        s.start = s.start.max(min);
        s.end = s.end.max(s.start);
    };
    clamp(&mut e.span);
    match &mut e.kind {
        ExprKind::Path(p) => p.iter_mut().for_each(|(_, s)| clamp(s)),
        ExprKind::Unary(_, a) => clamp_spans(a, min),
        ExprKind::Binary(_, a, b) => {
            clamp_spans(a, min);
            clamp_spans(b, min);
        }
        ExprKind::Matches(a, _, s) => {
            clamp_spans(a, min);
            clamp(s);
        }
        ExprKind::Call(_, args) | ExprKind::List(args) => {
            args.iter_mut().for_each(|a| clamp_spans(a, min));
        }
        ExprKind::If(a, b, c) => {
            clamp_spans(a, min);
            clamp_spans(b, min);
            clamp_spans(c, min);
        }
        ExprKind::Member(a, names) => {
            clamp_spans(a, min);
            names.iter_mut().for_each(|(_, s)| clamp(s));
        }
        ExprKind::Comprehension { source, cond, .. } => {
            clamp_spans(source, min);
            clamp_spans(cond, min);
        }
        ExprKind::Int(_) | ExprKind::Duration(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {}
    }
}

/// Whether a text cell is a test of the input (`>= 5`, `!= "x"`,
/// `contains "refund"`, `matches "^INC-"`, ...) rather than a value.
fn is_unary_test(s: &str) -> bool {
    const WORDS: &[&str] = &["contains ", "starts_with ", "ends_with ", "matches ", "in "];
    s.starts_with(['<', '>'])
        || s.starts_with("!=")
        || s.starts_with("==")
        || WORDS.iter().any(|w| s.starts_with(w))
}

/// Reads a condition: an expression string, or a table of `all`, `any`,
/// `not`, `event`, or `field` with one operator.
pub fn condition(node: Node) -> R<Expr> {
    if node.str("").is_ok() || node.bool("").is_ok() {
        return node.expr("a condition");
    }
    let mut t = node.table("a condition")?;
    let span = node.range();
    let mk = |kind| Expr {
        kind,
        span: span.clone(),
    };
    if let Some(list) = t.get("all") {
        t.finish()?;
        return fold(list, BinaryOp::And, true, &span);
    }
    if let Some(list) = t.get("any") {
        t.finish()?;
        return fold(list, BinaryOp::Or, false, &span);
    }
    if let Some(inner) = t.get("not") {
        t.finish()?;
        return Ok(mk(ExprKind::Unary(
            UnaryOp::Not,
            Box::new(condition(inner)?),
        )));
    }
    if let Some(ev) = t.get("event") {
        t.finish()?;
        let kind = path(&["event", "kind"], &ev.range());
        let test = match ev.array("") {
            Ok(items) => ExprKind::Binary(
                BinaryOp::In,
                Box::new(kind),
                Box::new(Expr {
                    kind: ExprKind::List(items.iter().map(literal).collect::<R<_>>()?),
                    span: ev.range(),
                }),
            ),
            Err(_) => ExprKind::Binary(BinaryOp::Eq, Box::new(kind), Box::new(literal(&ev)?)),
        };
        return Ok(mk(test));
    }
    let Some(field) = t.get("field") else {
        return Err(node
            .error("a condition table needs `all`, `any`, `not`, `event` or `field`")
            .hint("or write the condition as an expression string"));
    };
    let field_expr = field.expr("`field`")?;
    let ops: [(&'static str, Option<BinaryOp>); 15] = [
        ("equals", Some(BinaryOp::Eq)),
        ("not_equals", Some(BinaryOp::Ne)),
        ("in", Some(BinaryOp::In)),
        ("not_in", None),
        ("contains", Some(BinaryOp::Contains)),
        ("starts_with", Some(BinaryOp::StartsWith)),
        ("ends_with", Some(BinaryOp::EndsWith)),
        ("greater_than", Some(BinaryOp::Gt)),
        ("less_than", Some(BinaryOp::Lt)),
        ("at_least", Some(BinaryOp::Ge)),
        ("at_most", Some(BinaryOp::Le)),
        ("is_empty", None),
        ("changed", None),
        ("changed_to", None),
        ("matches", None),
    ];
    let mut chosen = None;
    for (name, op) in ops {
        if let Some(v) = t.get(name) {
            if chosen.is_some() {
                return Err(v.error("a condition takes one operator; combine several with `all`"));
            }
            chosen = Some((name, op, v));
        }
    }
    t.finish()?;
    let Some((name, op, value)) = chosen else {
        return Err(field.error("the condition names a field but no operator").hint(
            "add one of equals, not_equals, in, not_in, contains, starts_with, ends_with, greater_than, less_than, at_least, at_most, is_empty, changed, changed_to, matches",
        ));
    };
    let bin = |op, r: Expr| {
        mk(ExprKind::Binary(
            op,
            Box::new(field_expr.clone()),
            Box::new(r),
        ))
    };
    Ok(match (name, op) {
        ("in", _) | ("not_in", _) => {
            let items = value.array("the list")?;
            let list = Expr {
                kind: ExprKind::List(items.iter().map(literal).collect::<R<_>>()?),
                span: value.range(),
            };
            let e = bin(BinaryOp::In, list);
            if name == "in" {
                e
            } else {
                mk(ExprKind::Unary(UnaryOp::Not, Box::new(e)))
            }
        }
        ("is_empty", _) => {
            let e = mk(ExprKind::Call("is_empty".into(), vec![field_expr.clone()]));
            if value.bool("is_empty")? {
                e
            } else {
                mk(ExprKind::Unary(UnaryOp::Not, Box::new(e)))
            }
        }
        ("matches", _) => {
            let pattern = value.str("the regular expression")?.to_string();
            mk(ExprKind::Matches(
                Box::new(field_expr.clone()),
                pattern,
                value.range(),
            ))
        }
        ("changed", _) | ("changed_to", _) => {
            let key = changed_key(&field_expr, &field.range())?;
            let changed = changed_test(&key, &span);
            let changed = if name == "changed" && !value.bool("changed")? {
                mk(ExprKind::Unary(UnaryOp::Not, Box::new(changed)))
            } else {
                changed
            };
            if name == "changed" {
                changed
            } else {
                let eq = bin(BinaryOp::Eq, literal(&value)?);
                mk(ExprKind::Binary(
                    BinaryOp::And,
                    Box::new(changed),
                    Box::new(eq),
                ))
            }
        }
        (_, Some(op)) => bin(op, literal(&value)?),
        _ => unreachable!("every operator is handled"),
    })
}

fn fold(list: Node, op: BinaryOp, empty: bool, span: &Span) -> R<Expr> {
    let mut acc: Option<Expr> = None;
    for item in list.array("the group")? {
        let e = condition(item)?;
        acc = Some(match acc {
            None => e,
            Some(prev) => Expr {
                span: prev.span.start.min(e.span.start)..prev.span.end.max(e.span.end),
                kind: ExprKind::Binary(op, Box::new(prev), Box::new(e)),
            },
        });
    }
    Ok(acc.unwrap_or(Expr {
        kind: ExprKind::Bool(empty),
        span: span.clone(),
    }))
}

/// A TOML literal as an expression: text stays text (never parsed).
fn literal(n: &Node) -> R<Expr> {
    let kind = if let Ok(s) = n.str("") {
        ExprKind::Str(vec![StrPart::Lit(s.to_string())])
    } else if let Ok(i) = n.int("") {
        ExprKind::Int(i)
    } else if let Ok(b) = n.bool("") {
        ExprKind::Bool(b)
    } else {
        return Err(n.error("expected text, a number or true/false"));
    };
    Ok(Expr {
        kind,
        span: n.range(),
    })
}

fn path(names: &[&str], span: &Span) -> Expr {
    Expr {
        kind: ExprKind::Path(
            names
                .iter()
                .map(|n| (n.to_string(), span.clone()))
                .collect(),
        ),
        span: span.clone(),
    }
}

/// The key the host lists in `updated` events for a field path.
fn changed_key(field: &Expr, span: &Span) -> R<String> {
    match &field.kind {
        ExprKind::Path(p) if p.len() >= 2 => Ok(p.last().expect("non-empty").0.clone()),
        _ => Err(Diagnostic::new(
            "`changed` needs a field path such as `ticket.category`",
            span.clone(),
        )),
    }
}

/// Whether the event changed the field: listed in an update, or the
/// status / assignment event for those fields.
fn changed_test(key: &str, span: &Span) -> Expr {
    let lit = |s: &str| Expr {
        kind: ExprKind::Str(vec![StrPart::Lit(s.to_string())]),
        span: span.clone(),
    };
    let bin = |op, l, r| Expr {
        kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
        span: span.clone(),
    };
    let listed = bin(
        BinaryOp::Contains,
        path(&["event", "changed"], span),
        lit(key),
    );
    let kind = match key {
        "status" => Some("status_changed"),
        "group" | "assignee" => Some("assigned"),
        _ => None,
    };
    match kind {
        Some(k) => bin(
            BinaryOp::Or,
            listed,
            bin(BinaryOp::Eq, path(&["event", "kind"], span), lit(k)),
        ),
        None => listed,
    }
}

/// Reads a list of text: an array of templates (`["vip", "{ticket.category}"]`)
/// or one expression yielding a list of text (`'collect("tags", "tag")'`).
pub fn templates(c: &mut Checker, node: Option<Node>, what: &str) -> R<Vec<ListItem>> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    if node.str("").is_ok() {
        let e = node.expr(what)?;
        let list = c.expect(&e, &Ty::List(Box::new(Ty::Text)))?;
        return Ok(vec![ListItem::Many(list)]);
    }
    node.array(what)?
        .iter()
        .map(|n| {
            let e = n.template(what)?;
            c.expect(&e, &Ty::Text).map(ListItem::One)
        })
        .collect()
}

/// Reads an optional key of a table as a checked expression of a type.
pub fn optional_expr(c: &mut Checker, t: &mut Table, key: &'static str, ty: &Ty) -> R<Option<Ir>> {
    t.get(key)
        .map(|n| {
            let e = n.expr(key)?;
            c.expect(&e, ty)
        })
        .transpose()
}

/// Reads a text template key.
pub fn template_key(c: &mut Checker, t: &mut Table, key: &'static str) -> R<Option<Ir>> {
    t.get(key)
        .map(|n| {
            let e = n.template(key)?;
            c.expect(&e, &Ty::Text)
        })
        .transpose()
}

/// Reads `let.<name> = "expr"` bindings in document order, binding each
/// name in the current scope; returns the statements that compute them.
pub fn lets(c: &mut Checker, node: Option<Node>) -> R<Vec<Stmt>> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let entries = node.table("`let`")?.entries();
    let mut stmts = Vec::new();
    for (name, span, value) in entries {
        let e = value.expr(&format!("`let.{name}`"))?;
        let (ir, ty) = c.expr(&e)?;
        let local = c.bind(name, &span, ty.clone())?;
        stmts.push(Stmt::Let(local, ty, ir));
    }
    Ok(stmts)
}

/// Reads `for_each = "x in list"`: checks the list and binds `x`; returns
/// (element local, element size, list).
pub fn for_each(c: &mut Checker, node: Node) -> R<(u32, u32, Ir)> {
    let e = node.expr("`for_each`")?;
    let ExprKind::Binary(BinaryOp::In, var, list) = &e.kind else {
        return Err(node.error("`for_each` reads like \"entry in ticket.time_entries\""));
    };
    let ExprKind::Path(p) = &var.kind else {
        return Err(Diagnostic::new(
            "expected a name before `in`",
            var.span.clone(),
        ));
    };
    let [(name, span)] = p.as_slice() else {
        return Err(Diagnostic::new(
            "expected a single name before `in`",
            var.span.clone(),
        ));
    };
    let (list_ir, ty) = c.expr(list)?;
    let Ty::List(elem) = ty else {
        return Err(Diagnostic::new(
            format!("`for_each` iterates a list, found {}", ty.label()),
            list.span.clone(),
        ));
    };
    let Ty::Rec(rec) = *elem else {
        return Err(Diagnostic::new(
            "`for_each` iterates a list of records (time entries, parts, agents, history)",
            list.span.clone(),
        ));
    };
    let size = c.abi.size(&c.abi.named("types", rec.wit_name()));
    let local = c.bind(name, span, Ty::Rec(rec))?;
    Ok((local, size, list_ir))
}
