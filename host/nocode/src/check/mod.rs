//! Type checking: resolves names against the contract, the declared
//! settings and tables, and turns expressions into typed [`Ir`].

pub(crate) mod calls;
pub mod decls;

use crate::abi::Abi;
use crate::diag::{Diagnostic, did_you_mean};
use crate::front::expr::{BinaryOp, Expr, ExprKind, Span, StrPart, UnaryOp};
use crate::ir::*;
use crate::regex::Dfa;
use std::collections::{BTreeMap, HashMap};

/// Name bindings and everything collected while checking.
pub struct Checker<'a> {
    pub abi: &'a Abi,
    /// Types of the locals allocated so far.
    pub locals: Vec<Ty>,
    scopes: Vec<HashMap<String, (u32, Ty)>>,
    /// The table row in scope as `row`: (table name, i32 local).
    pub row: Option<(String, u32)>,
    /// Declared settings.
    pub settings: BTreeMap<String, SettingDecl>,
    /// Declared decision tables.
    pub tables: BTreeMap<String, TableDecl<'a>>,
    /// Static columns of every table.
    pub columns: Vec<Column>,
    /// Compiled regular expressions.
    pub regexes: Vec<Dfa>,
    /// The document's forms, when it declares any.
    pub templates: Vec<Template>,
    /// Custom fields declared by the templates: key → (field-value case, type).
    pub fields: BTreeMap<String, (i32, Ty)>,
    /// Whether `agents` may be read: the host gives the roster to the
    /// routing phase only.
    pub agents_visible: bool,
}

type R<T> = Result<T, Diagnostic>;

fn b(ir: Ir) -> Box<Ir> {
    Box::new(ir)
}

/// The names an expression can start with (besides its own bindings).
pub(crate) const ROOTS: &[&str] = &[
    "ticket",
    "requester",
    "event",
    "now",
    "tenant",
    "setting",
    "agents",
    "history",
    "time_entries",
    "parts",
    "row",
    "field",
];

/// What `event.<name>` can read (`comment` has the comment's fields).
pub(crate) const EVENT_FIELDS: &[&str] = &[
    "kind",
    "at",
    "actor",
    "changed",
    "timer",
    "status",
    "previous_status",
    "comment",
];

/// Fields of the contract's records as documents name them:
/// (document name, WIT field, type).
pub(crate) fn record_fields(rec: RecTy) -> &'static [(&'static str, &'static str, Ty)] {
    use Ty::*;
    match rec {
        RecTy::Ticket => &[
            ("id", "id", Text),
            ("subject", "subject", Text),
            ("description", "description", Text),
            ("status", "status", Enum(EnumTy::Status)),
            ("priority", "priority", Enum(EnumTy::Priority)),
            ("category", "category", OptText),
            ("channel", "channel", Enum(EnumTy::Channel)),
            ("requester", "requester", Rec(RecTy::Requester)),
            ("assignee", "assignee", OptText),
            ("group", "group", OptText),
            ("created_at", "created-at", Instant),
            ("updated_at", "updated-at", Instant),
        ],
        RecTy::Requester => &[
            ("id", "id", Text),
            ("name", "name", Text),
            ("email", "email", Text),
            ("tier", "tier", Text),
            ("organization", "organization", OptText),
            ("region", "region", OptText),
        ],
        RecTy::TimeEntry => &[
            ("id", "id", Text),
            ("agent_id", "agent-id", Text),
            ("work_type", "work-type", Text),
            ("started_at", "started-at", Instant),
            ("minutes", "minutes", Int),
            ("billable", "billable", Bool),
        ],
        RecTy::Part => &[
            ("sku", "sku", Text),
            ("description", "description", Text),
            ("quantity", "quantity", Int),
            ("unit_price", "unit-price", Money),
        ],
        RecTy::Agent => &[
            ("id", "id", Text),
            ("name", "name", Text),
            ("group", "group", Text),
            ("level", "level", Int),
            ("open_tickets", "open-tickets", Int),
            ("available", "available", Bool),
        ],
        RecTy::Brief => &[
            ("id", "id", Text),
            ("category", "category", OptText),
            ("subject", "subject", Text),
            ("status", "status", Enum(EnumTy::Status)),
            ("created_at", "created-at", Instant),
        ],
        RecTy::Comment => &[
            ("author_id", "author-id", Text),
            ("author_kind", "author-kind", Enum(EnumTy::AuthorKind)),
            ("body", "body", Text),
            ("public", "public", Bool),
        ],
    }
}

/// List fields of records: (document name, WIT field, element record or text).
pub(crate) fn list_fields(rec: RecTy) -> &'static [(&'static str, &'static str, Option<RecTy>)] {
    match rec {
        RecTy::Ticket => &[
            ("tags", "tags", None),
            ("time_entries", "time-entries", Some(RecTy::TimeEntry)),
            ("parts", "parts", Some(RecTy::Part)),
        ],
        RecTy::Requester => &[("tags", "tags", None)],
        RecTy::Agent => &[("skills", "skills", None)],
        _ => &[],
    }
}

impl<'a> Checker<'a> {
    /// A checker with no declarations.
    pub fn new(abi: &'a Abi) -> Checker<'a> {
        Checker {
            abi,
            locals: Vec::new(),
            scopes: vec![HashMap::new()],
            row: None,
            settings: BTreeMap::new(),
            tables: BTreeMap::new(),
            columns: Vec::new(),
            regexes: Vec::new(),
            fields: BTreeMap::new(),
            templates: Vec::new(),
            agents_visible: false,
        }
    }

    /// Allocates a local of a type.
    pub fn local(&mut self, ty: Ty) -> u32 {
        self.locals.push(ty);
        (self.locals.len() - 1) as u32
    }

    /// Opens a scope for `let` bindings.
    pub fn push_scope(&mut self) {
        self.scopes.push(HashMap::new());
    }

    /// Closes the innermost scope.
    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// Binds a name in the innermost scope; the caller emits the value.
    pub fn bind(&mut self, name: &str, span: &Span, ty: Ty) -> R<u32> {
        if ROOTS.contains(&name) || self.lookup(name).is_some() {
            return Err(
                Diagnostic::new(format!("`{name}` is already defined"), span.clone())
                    .hint("pick another name"),
            );
        }
        let local = self.local(ty.clone());
        self.scopes
            .last_mut()
            .expect("a scope")
            .insert(name.to_string(), (local, ty));
        Ok(local)
    }

    /// Binds a name to an existing local in the innermost scope.
    pub fn alias(&mut self, name: &str, local: u32, ty: Ty) {
        self.scopes
            .last_mut()
            .expect("a scope")
            .insert(name.to_string(), (local, ty));
    }

    fn lookup(&self, name: &str) -> Option<(u32, Ty)> {
        self.scopes.iter().rev().find_map(|s| s.get(name).cloned())
    }

    fn names_in_scope(&self) -> Vec<String> {
        let mut names: Vec<String> = ROOTS.iter().map(|s| s.to_string()).collect();
        for s in &self.scopes {
            names.extend(s.keys().cloned());
        }
        names
    }

    /// Checks an expression that must have type `want`.
    pub fn expect(&mut self, e: &Expr, want: &Ty) -> R<Ir> {
        let (ir, ty) = self.expr(e)?;
        self.coerce(ir, &ty, want, &e.span)
    }

    /// Converts a value to the wanted type where that is lossless, or fails
    /// naming both types.
    pub fn coerce(&mut self, ir: Ir, ty: &Ty, want: &Ty, span: &Span) -> R<Ir> {
        if ty == want {
            return Ok(ir);
        }
        match (ty, want) {
            (Ty::Text, Ty::OptText) => Ok(Ir::SomeText(b(ir))),
            (Ty::OptText, Ty::Text) => Ok(self.to_text(ir, ty)),
            (Ty::Text, Ty::Enum(e)) => self.enum_literal(&ir, *e, span),
            (Ty::List(_), Ty::List(_)) if ir == Ir::EmptyList => Ok(ir),
            _ => Err(Diagnostic::new(
                format!("expected {}, found {}", want.label(), ty.label()),
                span.clone(),
            )),
        }
    }

    fn formattable(&self, ty: &Ty) -> bool {
        matches!(
            ty,
            Ty::Int | Ty::OptText | Ty::Money | Ty::Enum(_) | Ty::Text
        )
    }

    /// Text of a value, for interpolation.
    pub fn to_text(&self, ir: Ir, ty: &Ty) -> Ir {
        match ty {
            Ty::Text => ir,
            Ty::Int => Ir::FormatInt(b(ir)),
            Ty::OptText => Ir::Coalesce(b(ir), b(Ir::Text(String::new()))),
            Ty::Money => Ir::FormatMoney(b(ir)),
            Ty::Enum(e) => Ir::EnumName(*e, b(ir)),
            _ => unreachable!("checked by formattable"),
        }
    }

    fn enum_literal(&self, ir: &Ir, e: EnumTy, span: &Span) -> R<Ir> {
        let Ir::Text(name) = ir else {
            return Err(Diagnostic::new(
                format!("expected a {} name, found computed text", e.label()),
                span.clone(),
            ));
        };
        match e.names().iter().position(|n| n == name) {
            Some(i) => Ok(Ir::Enum(i as i32)),
            None => {
                let mut d =
                    Diagnostic::new(format!("unknown {} `{name}`", e.label()), span.clone());
                let hint = did_you_mean(name, e.names().iter().copied())
                    .unwrap_or_else(|| format!("one of {}", e.names().join(", ")));
                d = d.hint(hint);
                Err(d)
            }
        }
    }

    /// Checks an expression; returns its IR and type.
    pub fn expr(&mut self, e: &Expr) -> R<(Ir, Ty)> {
        match &e.kind {
            ExprKind::Int(v) => Ok((Ir::I64(*v), Ty::Int)),
            ExprKind::Duration(v) => Ok((Ir::I64(*v), Ty::Duration)),
            ExprKind::Bool(v) => Ok((Ir::Bool(*v), Ty::Bool)),
            ExprKind::Str(parts) => Ok((self.template(parts)?, Ty::Text)),
            ExprKind::List(_) => Err(Diagnostic::new(
                "a list is only allowed after `in`",
                e.span.clone(),
            )),
            ExprKind::Path(path) => self.path(path),
            ExprKind::Member(inner, names) => {
                let (ir, ty) = self.expr(inner)?;
                self.rest_of_path(ir, ty, names)
            }
            ExprKind::Call(name, args) => {
                let (ir, ty) = self.call(name, args, &e.span)?;
                // Rounded products name the call when they overflow.
                let ir = match ir {
                    Ir::MulRatio { .. } | Ir::DivRound { .. } => Ir::Located(e.span.clone(), b(ir)),
                    ir => ir,
                };
                Ok((ir, ty))
            }
            ExprKind::Comprehension {
                func,
                var,
                source,
                cond,
            } => self.quantified(func, var, source, cond, &e.span),
            ExprKind::Unary(UnaryOp::Not, inner) => {
                Ok((Ir::Not(b(self.expect(inner, &Ty::Bool)?)), Ty::Bool))
            }
            ExprKind::Unary(UnaryOp::Neg, inner) => {
                let (ir, ty) = self.expr(inner)?;
                if !ty.is_i64() || ty == Ty::Instant {
                    return Err(Diagnostic::new(
                        format!("cannot negate {}", ty.label()),
                        inner.span.clone(),
                    ));
                }
                Ok((Ir::Neg(b(ir)), ty))
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, &e.span),
            ExprKind::If(c, a, bb) => {
                let c = self.expect(c, &Ty::Bool)?;
                let (a_ir, a_ty) = self.expr(a)?;
                let (b_ir, b_ty) = self.expr(bb)?;
                let (a_ir, b_ir, ty) = self.unify(a_ir, a_ty, b_ir, b_ty, &bb.span)?;
                Ok((
                    Ir::If {
                        c: b(c),
                        a: b(a_ir),
                        b: b(b_ir),
                        ty: ty.clone(),
                    },
                    ty,
                ))
            }
            ExprKind::Matches(text, pattern, span) => {
                let text = self.expect(text, &Ty::Text)?;
                let dfa = Dfa::compile(pattern, false).map_err(|msg| {
                    Diagnostic::new(format!("invalid regular expression: {msg}"), span.clone())
                })?;
                self.regexes.push(dfa);
                Ok((
                    Ir::Matches(b(text), (self.regexes.len() - 1) as u32),
                    Ty::Bool,
                ))
            }
        }
    }

    /// The two branches of an `if` (or arguments of min/max) in one type.
    fn unify(&mut self, a: Ir, at: Ty, bi: Ir, bt: Ty, span: &Span) -> R<(Ir, Ir, Ty)> {
        if at == bt {
            return Ok((a, bi, at));
        }
        match (&at, &bt) {
            (Ty::Enum(_), Ty::Text) => {
                let bi = self.coerce(bi, &bt, &at, span)?;
                Ok((a, bi, at))
            }
            (Ty::Text, Ty::Enum(_)) => {
                let a = self.coerce(a, &at, &bt, span)?;
                Ok((a, bi, bt))
            }
            (Ty::Text, Ty::OptText) | (Ty::OptText, Ty::Text) => {
                let a = self.coerce(a, &at, &Ty::Text, span)?;
                let bi = self.coerce(bi, &bt, &Ty::Text, span)?;
                Ok((a, bi, Ty::Text))
            }
            _ => Err(Diagnostic::new(
                format!(
                    "both sides must have one type: {} vs {}",
                    at.label(),
                    bt.label()
                ),
                span.clone(),
            )),
        }
    }

    /// An interpolated string.
    pub fn template(&mut self, parts: &[StrPart]) -> R<Ir> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                StrPart::Lit(s) => out.push(Ir::Text(s.clone())),
                StrPart::Expr(e) => {
                    let (ir, ty) = self.expr(e)?;
                    if !self.formattable(&ty) {
                        return Err(Diagnostic::new(
                            format!("{} cannot be written into text", ty.label()),
                            e.span.clone(),
                        ));
                    }
                    out.push(self.to_text(ir, &ty));
                }
            }
        }
        Ok(match out.len() {
            1 => out.pop().expect("one part"),
            _ => Ir::Concat(out),
        })
    }

    fn field_of(&self, base: Ir, rec: RecTy, name: &str, span: &Span) -> R<(Ir, Ty)> {
        let record = self.abi.named("types", rec.wit_name());
        if let Some((_, wit, ty)) = record_fields(rec).iter().find(|(n, ..)| *n == name) {
            let f = self.abi.record_field(&record, wit);
            let load = match ty {
                Ty::Text => Load::PtrLen,
                Ty::OptText => Load::OptStr(self.abi.payload_offset(&f.ty)),
                Ty::Int if self.abi.size(&f.ty) == 1 => Load::U8,
                Ty::Int => Load::U32,
                Ty::Instant => Load::S64,
                Ty::Bool | Ty::Enum(_) => Load::U8,
                Ty::Rec(_) => Load::Inline,
                Ty::Money => {
                    let money = self.abi.named("types", "money");
                    Load::Money(self.abi.record_field(&money, "currency").offset)
                }
                other => unreachable!("field type {other:?}"),
            };
            let ir = Ir::Field {
                base: b(base),
                offset: f.offset,
                load,
                ty: ty.clone(),
            };
            return Ok((ir, ty.clone()));
        }
        if let Some((_, wit, elem)) = list_fields(rec).iter().find(|(n, ..)| *n == name) {
            let f = self.abi.record_field(&record, wit);
            let ty = Ty::List(Box::new(elem.map_or(Ty::Text, Ty::Rec)));
            let ir = Ir::Field {
                base: b(base),
                offset: f.offset,
                load: Load::PtrLen,
                ty: ty.clone(),
            };
            return Ok((ir, ty));
        }
        let names: Vec<&str> = record_fields(rec)
            .iter()
            .map(|f| f.0)
            .chain(list_fields(rec).iter().map(|f| f.0))
            .collect();
        let hint = did_you_mean(name, names.iter().copied())
            .unwrap_or_else(|| format!("{} has {}", rec.wit_name(), names.join(", ")));
        Err(Diagnostic::new(
            format!("{} has no field `{name}`", rec.wit_name()),
            span.clone(),
        )
        .hint(hint))
    }

    fn ctx_field(&self, name: &str) -> (Ir, Ty) {
        let f = self.abi.field("types", "context", name);
        let (load, ty) = match name {
            "now" => (Load::S64, Ty::Instant),
            "tenant" => (Load::PtrLen, Ty::Text),
            "agents" => (Load::PtrLen, Ty::List(Box::new(Ty::Rec(RecTy::Agent)))),
            "history" => (Load::PtrLen, Ty::List(Box::new(Ty::Rec(RecTy::Brief)))),
            other => unreachable!("context field {other}"),
        };
        let ir = Ir::Field {
            base: b(Ir::Param(2)),
            offset: f.offset,
            load,
            ty: ty.clone(),
        };
        (ir, ty)
    }

    /// `event.kind` as an i32 discriminant.
    pub fn event_kind(&self) -> Ir {
        let f = self.abi.field("types", "event", "kind");
        Ir::Field {
            base: b(Ir::Param(0)),
            offset: f.offset,
            load: Load::U8,
            ty: Ty::Enum(EnumTy::EventKind),
        }
    }

    fn event_payload(&self) -> Ir {
        let f = self.abi.field("types", "event", "kind");
        Ir::Offset(b(Ir::Param(0)), f.offset + self.abi.payload_offset(&f.ty))
    }

    fn when_kind(&self, kind: &str, then: Ir, otherwise: Ir, ty: Ty) -> Ir {
        let index = EnumTy::EventKind
            .names()
            .iter()
            .position(|n| *n == kind)
            .expect("event kind") as i32;
        Ir::If {
            c: b(Ir::Cmp {
                op: Cmp::Eq,
                wide: false,
                l: b(self.event_kind()),
                r: b(Ir::Enum(index)),
            }),
            a: b(then),
            b: b(otherwise),
            ty,
        }
    }

    fn event_path(&mut self, path: &[(String, Span)]) -> R<(Ir, Ty)> {
        let Some((name, span)) = path.get(1) else {
            return Err(Diagnostic::new(
                "`event` needs a field, e.g. `event.kind`",
                path[0].1.clone(),
            ));
        };
        let payload = self.event_payload();
        let (ir, ty, used) = match name.as_str() {
            "kind" => (self.event_kind(), Ty::Enum(EnumTy::EventKind), 2),
            "at" => {
                let f = self.abi.field("types", "event", "at");
                let ir = Ir::Field {
                    base: b(Ir::Param(0)),
                    offset: f.offset,
                    load: Load::S64,
                    ty: Ty::Instant,
                };
                (ir, Ty::Instant, 2)
            }
            "actor" => {
                let f = self.abi.field("types", "event", "actor");
                let ir = Ir::Field {
                    base: b(Ir::Param(0)),
                    offset: f.offset,
                    load: Load::OptStr(self.abi.payload_offset(&f.ty)),
                    ty: Ty::OptText,
                };
                (ir, Ty::OptText, 2)
            }
            "changed" => {
                let ty = Ty::List(Box::new(Ty::Text));
                let list = Ir::Field {
                    base: b(payload),
                    offset: 0,
                    load: Load::PtrLen,
                    ty: ty.clone(),
                };
                (
                    self.when_kind("updated", list, Ir::EmptyList, ty.clone()),
                    ty,
                    2,
                )
            }
            "timer" => {
                let key = Ir::Field {
                    base: b(payload),
                    offset: 0,
                    load: Load::PtrLen,
                    ty: Ty::Text,
                };
                let ir = self.when_kind("timer_fired", key, Ir::Text(String::new()), Ty::Text);
                (ir, Ty::Text, 2)
            }
            "status" | "previous_status" => {
                let wit = if name == "status" {
                    "current"
                } else {
                    "previous"
                };
                let f = self.abi.field("types", "status-change", wit);
                let ty = Ty::Enum(EnumTy::Status);
                let v = Ir::Field {
                    base: b(payload),
                    offset: f.offset,
                    load: Load::U8,
                    ty: ty.clone(),
                };
                (
                    self.when_kind("status_changed", v, Ir::Enum(-1), ty.clone()),
                    ty,
                    2,
                )
            }
            "comment" => {
                let Some((field, fspan)) = path.get(2) else {
                    return Err(Diagnostic::new(
                        "`event.comment` needs a field, e.g. `event.comment.public`",
                        span.clone(),
                    ));
                };
                let (v, ty) = self.field_of(payload, RecTy::Comment, field, fspan)?;
                let none = match &ty {
                    Ty::Bool => Ir::Bool(false),
                    Ty::Enum(_) => Ir::Enum(-1),
                    _ => Ir::Text(String::new()),
                };
                (self.when_kind("commented", v, none, ty.clone()), ty, 3)
            }
            other => {
                let hint = did_you_mean(other, EVENT_FIELDS.iter().copied())
                    .unwrap_or_else(|| format!("event has {}", EVENT_FIELDS.join(", ")));
                return Err(
                    Diagnostic::new(format!("event has no field `{other}`"), span.clone())
                        .hint(hint),
                );
            }
        };
        self.rest_of_path(ir, ty, &path[used..])
    }

    fn path(&mut self, path: &[(String, Span)]) -> R<(Ir, Ty)> {
        let (root, span) = &path[0];
        if let Some((local, ty)) = self.lookup(root) {
            return self.rest_of_path(Ir::Local(local, ty.clone()), ty, &path[1..]);
        }
        let ticket = Ir::Param(1);
        let (ir, ty, used) = match root.as_str() {
            "event" => return self.event_path(path),
            "ticket" => (ticket, Ty::Rec(RecTy::Ticket), 1),
            "requester" => {
                let (ir, ty) = self.field_of(ticket, RecTy::Ticket, "requester", span)?;
                (ir, ty, 1)
            }
            "time_entries" | "parts" => {
                let (ir, ty) = self.field_of(ticket, RecTy::Ticket, root, span)?;
                (ir, ty, 1)
            }
            "agents" if !self.agents_visible => {
                return Err(Diagnostic::new(
                    "`agents` is only given to [routing] rules",
                    span.clone(),
                )
                .hint("the host fills the agent roster for the routing phase only"));
            }
            "now" | "tenant" | "agents" | "history" => {
                let (ir, ty) = self.ctx_field(root);
                (ir, ty, 1)
            }
            "setting" => {
                let Some((name, nspan)) = path.get(1) else {
                    return Err(Diagnostic::new(
                        "`setting` needs a name, e.g. `setting.max_open`",
                        span.clone(),
                    ));
                };
                let (ir, ty) = self.declared_setting(name, nspan)?;
                (ir, ty, 2)
            }
            "field" => {
                let (ir, ty) = self.custom_field(path, false)?;
                (ir, ty, 2)
            }
            "row" => {
                let Some((table, local)) = self.row.clone() else {
                    return Err(Diagnostic::new(
                        "`row` is only defined in a rule that names a `table`",
                        span.clone(),
                    ));
                };
                let Some((name, nspan)) = path.get(1) else {
                    return Err(Diagnostic::new("`row` needs an output name", span.clone()));
                };
                let outputs = &self.tables[&table].outputs;
                let Some((column, ty)) = outputs.get(name).cloned() else {
                    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
                    let hint = did_you_mean(name, names.iter().copied())
                        .unwrap_or_else(|| format!("table `{table}` outputs {}", names.join(", ")));
                    return Err(Diagnostic::new(
                        format!("table `{table}` has no output `{name}`"),
                        nspan.clone(),
                    )
                    .hint(hint));
                };
                (
                    Ir::Row {
                        column,
                        row: local,
                        ty: ty.clone(),
                    },
                    ty,
                    2,
                )
            }
            other => {
                let names = self.names_in_scope();
                let hint =
                    did_you_mean(other, names.iter().map(String::as_str)).unwrap_or_else(|| {
                        "names start with ticket, requester, event, setting, now, …".into()
                    });
                return Err(
                    Diagnostic::new(format!("unknown name `{other}`"), span.clone()).hint(hint),
                );
            }
        };
        self.rest_of_path(ir, ty, &path[used..])
    }

    fn rest_of_path(&mut self, mut ir: Ir, mut ty: Ty, rest: &[(String, Span)]) -> R<(Ir, Ty)> {
        for (name, span) in rest {
            (ir, ty) = match (&ty, name.as_str()) {
                (Ty::Rec(rec), _) => self.field_of(ir, *rec, name, span)?,
                (Ty::Money, "amount") => (Ir::MoneyAmount(b(ir)), Ty::Int),
                (Ty::Money, "currency") => (Ir::MoneyCurrency(b(ir)), Ty::Text),
                _ => {
                    return Err(Diagnostic::new(
                        format!("{} has no field `{name}`", ty.label()),
                        span.clone(),
                    ));
                }
            };
        }
        Ok((ir, ty))
    }

    /// `field.<key>`: a custom field declared by the templates.
    fn custom_field(&self, path: &[(String, Span)], present: bool) -> R<(Ir, Ty)> {
        let Some((key, span)) = path.get(1) else {
            return Err(Diagnostic::new(
                "`field` needs a key, e.g. `field.urgency`",
                path[0].1.clone(),
            ));
        };
        let Some((case, ty)) = self.fields.get(key).cloned() else {
            let hint = did_you_mean(key, self.fields.keys().map(String::as_str))
                .unwrap_or_else(|| "declare it in a [[templates.fields]] entry".into());
            return Err(Diagnostic::new(format!("unknown field `{key}`"), span.clone()).hint(hint));
        };
        if ty == Ty::Decimal && !present {
            return Err(Diagnostic::new(
                format!("decimal field `{key}` can only be tested with has(...)"),
                span.clone(),
            ));
        }
        let ir = Ir::CustomField {
            key: key.clone(),
            case,
            ty: ty.clone(),
            present,
        };
        Ok((ir, if present { Ty::Bool } else { ty }))
    }

    /// A declared table by name.
    pub fn table(&self, name: &str, span: &Span) -> R<TableDecl<'a>> {
        self.tables.get(name).cloned().ok_or_else(|| {
            let hint = did_you_mean(name, self.tables.keys().map(String::as_str))
                .unwrap_or_else(|| "declare it under [tables.<name>]".into());
            Diagnostic::new(format!("unknown table `{name}`"), span.clone()).hint(hint)
        })
    }

    fn declared_setting(&self, name: &str, span: &Span) -> R<(Ir, Ty)> {
        let Some(decl) = self.settings.get(name) else {
            let hint =
                did_you_mean(name, self.settings.keys().map(String::as_str)).unwrap_or_else(|| {
                    "declare it under [settings], e.g. `max_open = { integer = 5 }`".into()
                });
            return Err(
                Diagnostic::new(format!("unknown setting `{name}`"), span.clone()).hint(hint),
            );
        };
        let ty = setting_ty(decl.kind);
        let mut ir = Ir::Setting {
            key: b(Ir::Text(name.to_string())),
            kind: decl.kind,
            default: b(decl.default.clone()),
        };
        if let Some(min) = decl.clamp.0 {
            ir = Ir::Arith(Arith::Max, b(ir), b(Ir::I64(min)));
        }
        if let Some(max) = decl.clamp.1 {
            ir = Ir::Arith(Arith::Min, b(ir), b(Ir::I64(max)));
        }
        Ok((ir, ty))
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr, span: &Span) -> R<(Ir, Ty)> {
        use BinaryOp::*;
        match op {
            And | Or => {
                let li = self.expect(l, &Ty::Bool)?;
                let ri = self.expect(r, &Ty::Bool)?;
                let ir = if op == And {
                    Ir::And(b(li), b(ri))
                } else {
                    Ir::Or(b(li), b(ri))
                };
                Ok((ir, Ty::Bool))
            }
            Eq | Ne => {
                let eq = self.equality(l, r)?;
                Ok((if op == Eq { eq } else { Ir::Not(b(eq)) }, Ty::Bool))
            }
            Lt | Le | Gt | Ge => self.ordering(op, l, r),
            In => self.membership(l, r),
            Contains => {
                let (li, lt) = self.expr(l)?;
                match lt {
                    Ty::List(elem) if *elem == Ty::Text => {
                        let ri = self.expect(r, &Ty::Text)?;
                        Ok((Ir::ListHas(b(li), b(ri)), Ty::Bool))
                    }
                    Ty::Text | Ty::OptText => {
                        let li = self.coerce(li, &lt, &Ty::Text, &l.span)?;
                        let ri = self.expect(r, &Ty::Text)?;
                        Ok((Ir::TextTest(TextPred::Contains, b(li), b(ri)), Ty::Bool))
                    }
                    other => Err(Diagnostic::new(
                        format!(
                            "`contains` needs text or a list of text, found {}",
                            other.label()
                        ),
                        l.span.clone(),
                    )),
                }
            }
            StartsWith | EndsWith => {
                let li = self.text_like(l)?;
                let ri = self.expect(r, &Ty::Text)?;
                let pred = if op == StartsWith {
                    TextPred::StartsWith
                } else {
                    TextPred::EndsWith
                };
                Ok((Ir::TextTest(pred, b(li), b(ri)), Ty::Bool))
            }
            Coalesce => {
                let li = self.expect(l, &Ty::OptText)?;
                let ri = self.expect(r, &Ty::Text)?;
                Ok((Ir::Coalesce(b(li), b(ri)), Ty::Text))
            }
            Add | Sub | Mul | Div => self.arithmetic(op, l, r, span),
        }
    }

    fn text_like(&mut self, e: &Expr) -> R<Ir> {
        let (ir, ty) = self.expr(e)?;
        match ty {
            Ty::Text | Ty::OptText => self.coerce(ir, &ty, &Ty::Text, &e.span),
            other => Err(Diagnostic::new(
                format!("expected text, found {}", other.label()),
                e.span.clone(),
            )),
        }
    }

    /// `l == r` as IR.
    fn equality(&mut self, l: &Expr, r: &Expr) -> R<Ir> {
        let (li, lt) = self.expr(l)?;
        let (ri, rt) = self.expr(r)?;
        self.equal_values(li, lt, ri, rt, &l.span, &r.span)
    }

    /// Equality of two checked values.
    pub fn equal_values(&mut self, li: Ir, lt: Ty, ri: Ir, rt: Ty, ls: &Span, rs: &Span) -> R<Ir> {
        let cmp = |wide, l, r| Ir::Cmp {
            op: Cmp::Eq,
            wide,
            l: b(l),
            r: b(r),
        };
        Ok(match (&lt, &rt) {
            (Ty::Enum(_), Ty::Text) => {
                let ri = self.coerce(ri, &rt, &lt, rs)?;
                cmp(false, li, ri)
            }
            (Ty::Text, Ty::Enum(_)) => {
                let li = self.coerce(li, &lt, &rt, ls)?;
                cmp(false, li, ri)
            }
            (Ty::Text, Ty::Text) => Ir::TextTest(TextPred::Eq, b(li), b(ri)),
            (Ty::OptText, Ty::Text) => Ir::OptTextEq(b(li), b(ri)),
            (Ty::Text, Ty::OptText) => Ir::OptTextEq(b(ri), b(li)),
            (Ty::OptText, Ty::OptText) => Ir::If {
                c: b(Ir::IsSome(b(li.clone()))),
                a: b(Ir::OptTextEq(
                    b(ri.clone()),
                    b(Ir::Coalesce(b(li), b(Ir::Text(String::new())))),
                )),
                b: b(Ir::Not(b(Ir::IsSome(b(ri))))),
                ty: Ty::Bool,
            },
            (Ty::Money, Ty::Money) => Ir::And(
                b(cmp(
                    true,
                    Ir::MoneyAmount(b(li.clone())),
                    Ir::MoneyAmount(b(ri.clone())),
                )),
                b(Ir::TextTest(
                    TextPred::Eq,
                    b(Ir::MoneyCurrency(b(li))),
                    b(Ir::MoneyCurrency(b(ri))),
                )),
            ),
            _ if lt == rt && lt.is_i64() => cmp(true, li, ri),
            _ if lt == rt && matches!(lt, Ty::Bool | Ty::Enum(_)) => cmp(false, li, ri),
            _ => return Err(mismatch("compare", &lt, &rt, ls.start..rs.end)),
        })
    }

    fn ordering(&mut self, op: BinaryOp, l: &Expr, r: &Expr) -> R<(Ir, Ty)> {
        let op = match op {
            BinaryOp::Lt => Cmp::Lt,
            BinaryOp::Le => Cmp::Le,
            BinaryOp::Gt => Cmp::Gt,
            _ => Cmp::Ge,
        };
        let (li, lt) = self.expr(l)?;
        let (ri, rt) = self.expr(r)?;
        let span = l.span.start..r.span.end;
        let (li, ri, ty) = match (&lt, &rt) {
            (Ty::Money, Ty::Money) => (Ir::MoneyAmount(b(li)), Ir::MoneyAmount(b(ri)), Ty::Int),
            (Ty::Money, _) | (_, Ty::Money) => {
                return Err(mismatch("compare", &lt, &rt, span)
                    .hint("money compares with money; `x.amount` is its amount in minor units"));
            }
            (Ty::Enum(e), Ty::Text) | (Ty::Text, Ty::Enum(e)) => {
                let want = Ty::Enum(*e);
                let li = self.coerce(li, &lt, &want, &l.span)?;
                let ri = self.coerce(ri, &rt, &want, &r.span)?;
                (li, ri, want)
            }
            _ if lt == rt && (lt.is_i64() || matches!(lt, Ty::Enum(_))) => (li, ri, lt.clone()),
            _ => return Err(mismatch("order", &lt, &rt, span)),
        };
        let ir = Ir::Cmp {
            op,
            wide: ty.is_i64(),
            l: b(li),
            r: b(ri),
        };
        Ok((ir, Ty::Bool))
    }

    fn membership(&mut self, l: &Expr, r: &Expr) -> R<(Ir, Ty)> {
        let (li, lt) = self.expr(l)?;
        if let ExprKind::List(items) = &r.kind {
            let mut acc: Option<Ir> = None;
            for item in items {
                let (ii, it) = self.expr(item)?;
                let eq = self.equal_values(li.clone(), lt.clone(), ii, it, &l.span, &item.span)?;
                acc = Some(match acc {
                    None => eq,
                    Some(prev) => Ir::Or(b(prev), b(eq)),
                });
            }
            return Ok((acc.unwrap_or(Ir::Bool(false)), Ty::Bool));
        }
        let (ri, rt) = self.expr(r)?;
        match (&lt, &rt) {
            (Ty::Text, Ty::List(e)) if **e == Ty::Text => Ok((Ir::ListHas(b(ri), b(li)), Ty::Bool)),
            _ => Err(
                mismatch("look up", &lt, &rt, l.span.start..r.span.end).hint(
                    "`in` takes a list like [\"a\", \"b\"] or a list of text such as `ticket.tags`",
                ),
            ),
        }
    }

    fn arithmetic(&mut self, op: BinaryOp, l: &Expr, r: &Expr, span: &Span) -> R<(Ir, Ty)> {
        let (li, lt) = self.expr(l)?;
        let (ri, rt) = self.expr(r)?;
        let arith = match op {
            BinaryOp::Add => Arith::Add,
            BinaryOp::Sub => Arith::Sub,
            BinaryOp::Mul => Arith::Mul,
            _ => Arith::Div,
        };
        use Ty::*;
        let ty = match (&lt, arith, &rt) {
            (Int, _, Int) => Int,
            (Duration, Arith::Add | Arith::Sub, Duration) => Duration,
            (Duration, Arith::Mul | Arith::Div, Int) => Duration,
            (Int, Arith::Mul, Duration) => Duration,
            (Instant, Arith::Add | Arith::Sub, Duration) => Instant,
            (Instant, Arith::Sub, Instant) => Duration,
            (Money, Arith::Add | Arith::Sub, Money) => {
                let ir = Ir::MoneyAddSub(arith, b(li), b(ri));
                return Ok((Ir::Located(span.clone(), b(ir)), Money));
            }
            (Money, Arith::Mul, Int) => {
                let ir = Ir::MulRatio {
                    money: b(li),
                    num: b(ri),
                    den: b(Ir::I64(1)),
                    rounding: Rounding::Down,
                };
                return Ok((Ir::Located(span.clone(), b(ir)), Money));
            }
            (Money, Arith::Div, _) => {
                return Err(Diagnostic::new("money cannot be divided with `/`", span.clone())
                    .hint("use mul_ratio(amount, numerator, denominator, \"half_even\") to choose the rounding"));
            }
            _ => {
                return Err(mismatch(
                    &format!("apply `{}` to", op.symbol()),
                    &lt,
                    &rt,
                    span.clone(),
                ));
            }
        };
        Ok((
            Ir::Located(span.clone(), b(Ir::Arith(arith, b(li), b(ri)))),
            ty,
        ))
    }

    fn quantified(
        &mut self,
        func: &str,
        var: &str,
        source: &Expr,
        cond: &Expr,
        span: &Span,
    ) -> R<(Ir, Ty)> {
        let (list, lt) = self.expr(source)?;
        let Ty::List(elem) = lt else {
            return Err(Diagnostic::new(
                format!("`{func}` iterates a list, found {}", lt.label()),
                source.span.clone(),
            ));
        };
        let elem_size = match &*elem {
            Ty::Rec(r) => self.abi.size(&self.abi.named("types", r.wit_name())),
            _ => 8,
        };
        self.push_scope();
        let bound = self.bind(var, span, (*elem).clone());
        let result = bound.and_then(|local| Ok((local, self.expect(cond, &Ty::Bool)?)));
        self.pop_scope();
        let (local, cond) = result?;
        let quantifier = match func {
            "count" => Quantifier::Count,
            "any" => Quantifier::Any,
            _ => Quantifier::All,
        };
        let ty = if quantifier == Quantifier::Count {
            Ty::Int
        } else {
            Ty::Bool
        };
        Ok((
            Ir::Quantified {
                quantifier,
                var: local,
                elem_size,
                list: b(list),
                cond: b(cond),
            },
            ty,
        ))
    }
}

fn mismatch(what: &str, l: &Ty, r: &Ty, span: Span) -> Diagnostic {
    Diagnostic::new(
        format!("cannot {what} {} with {}", l.label(), r.label()),
        span,
    )
}
