//! Function calls in expressions: each function's arity, argument types and
//! the IR it lowers to, one method per family (numbers, money, time,
//! settings, text, tables).

use super::{Checker, R, b};
use crate::diag::{Diagnostic, did_you_mean};
use crate::front::expr::{Expr, ExprKind, Span, StrPart};
use crate::ir::*;

/// The functions a call can name: name, argument count, and the call
/// written out with what it does (for editors' completion).
pub(crate) const CALLS: &[(&str, usize, &str)] = &[
    (
        "min",
        2,
        "min(a, b): the smaller of two numbers, durations, instants or priorities",
    ),
    (
        "max",
        2,
        "max(a, b): the larger of two numbers, durations, instants or priorities",
    ),
    (
        "round_up",
        2,
        "round_up(x, increment): x rounded up to a multiple of increment",
    ),
    (
        "round_down",
        2,
        "round_down(x, increment): x rounded down to a multiple of increment",
    ),
    (
        "round_half_even",
        2,
        "round_half_even(x, increment): x rounded to the nearest multiple, ties to even",
    ),
    (
        "round_half_up",
        2,
        "round_half_up(x, increment): x rounded to the nearest multiple, ties up",
    ),
    (
        "mul_ratio",
        4,
        "mul_ratio(money, num, den, \"half_even\"): money × num / den, rounded as named",
    ),
    (
        "basis_points",
        2,
        "basis_points(money, bps): money × bps / 10,000, rounded half to even",
    ),
    (
        "percent",
        2,
        "percent(money, pct): money × pct / 100, rounded half to even",
    ),
    (
        "money",
        2,
        "money(minor, currency): an amount in minor units, e.g. money(1250, \"EUR\")",
    ),
    (
        "hours",
        1,
        "hours(minutes): minutes as a decimal of hours (2 places, half to even)",
    ),
    (
        "quantity",
        1,
        "quantity(n): a whole number as a decimal quantity for invoice lines",
    ),
    (
        "local_hour",
        2,
        "local_hour(instant, utc_offset_minutes): the hour of day (0–23) at that offset",
    ),
    (
        "local_weekday",
        2,
        "local_weekday(instant, utc_offset_minutes): the weekday (1 = Monday … 7) at that offset",
    ),
    (
        "setting_text",
        2,
        "setting_text(key, default): a text setting read by key (not declared)",
    ),
    (
        "setting_integer",
        2,
        "setting_integer(key, default): an integer setting read by key (not declared)",
    ),
    (
        "setting_money",
        2,
        "setting_money(key, default): a money setting read by key (not declared)",
    ),
    ("len", 1, "len(x): the length of a text or list"),
    (
        "is_empty",
        1,
        "is_empty(x): whether a text or list is empty (or text absent)",
    ),
    (
        "has",
        1,
        "has(x): whether a custom field (field.key) or optional text has a value",
    ),
    (
        "strip_prefix",
        2,
        "strip_prefix(text, prefix): text without the prefix (unchanged if absent)",
    ),
    (
        "before_last",
        2,
        "before_last(text, separator): the text before the last separator",
    ),
    (
        "after_last",
        2,
        "after_last(text, separator): the text after the last separator",
    ),
    (
        "raise",
        1,
        "raise(priority): the next priority up (urgent stays urgent)",
    ),
    ("text", 1, "text(x): a value as text"),
    (
        "lookup",
        3,
        "lookup(\"table\", \"output\", default): the output of the table's matching row",
    ),
    (
        "collect",
        2,
        "collect(\"table\", \"output\"): the output of every matching row of a collect table",
    ),
];

/// Quantifiers read like calls but bind a name (see `Checker::quantified`).
pub(crate) const QUANTIFIERS: &[&str] = &["count", "any", "all"];

/// Every name a document can call, for hints.
fn function_names() -> impl Iterator<Item = &'static str> {
    CALLS
        .iter()
        .map(|(name, _, _)| *name)
        .chain(QUANTIFIERS.iter().copied())
}

/// A string argument written out as one literal (`"routing"`), if it is.
fn literal_text(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [StrPart::Lit(s)] => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A rounding mode by name.
pub fn parse_rounding(name: &str) -> Option<Rounding> {
    Some(match name {
        "up" => Rounding::Up,
        "down" => Rounding::Down,
        "half_even" => Rounding::HalfEven,
        "half_up" => Rounding::HalfUp,
        _ => return None,
    })
}

impl Checker<'_> {
    /// Checks a call of `name` with `args`.
    pub(super) fn call(&mut self, name: &str, args: &[Expr], span: &Span) -> R<(Ir, Ty)> {
        let Some(&(_, arity, _)) = CALLS.iter().find(|(n, _, _)| *n == name) else {
            let hint = did_you_mean(name, function_names()).unwrap_or_else(|| {
                format!(
                    "functions: {}",
                    function_names().collect::<Vec<_>>().join(", ")
                )
            });
            return Err(
                Diagnostic::new(format!("unknown function `{name}`"), span.clone()).hint(hint),
            );
        };
        if args.len() != arity {
            return Err(Diagnostic::new(
                format!(
                    "`{name}` takes {arity} argument{}, found {}",
                    if arity == 1 { "" } else { "s" },
                    args.len()
                ),
                span.clone(),
            ));
        }
        match name {
            "min" | "max" => self.min_max(name, args, span),
            "round_up" | "round_down" | "round_half_even" | "round_half_up" => {
                let rounding = parse_rounding(&name["round_".len()..]).expect("listed");
                self.round_to_increment(args, rounding)
            }
            "mul_ratio" | "basis_points" | "percent" | "money" | "hours" | "quantity" => {
                self.money_call(name, args)
            }
            "local_hour" | "local_weekday" => self.local_time(name, args),
            "setting_text" | "setting_integer" | "setting_money" => self.setting_call(name, args),
            "len" | "is_empty" => self.measure(name, args),
            "has" => self.has(args),
            "strip_prefix" | "before_last" | "after_last" => self.slice(name, args),
            "raise" => {
                let p = self.expect(&args[0], &Ty::Enum(EnumTy::Priority))?;
                Ok((Ir::EnumRaise(b(p), 3), Ty::Enum(EnumTy::Priority)))
            }
            "text" => self.text_call(args),
            "lookup" => self.lookup_call(args),
            "collect" => self.collect(args, span),
            _ => unreachable!("`{name}` is listed in CALLS without a check"),
        }
    }

    /// `min(a, b)`, `max(a, b)` over numbers, durations, instants or
    /// priorities.
    fn min_max(&mut self, name: &str, args: &[Expr], span: &Span) -> R<(Ir, Ty)> {
        let (a, at) = self.expr(&args[0])?;
        let (bi, bt) = self.expr(&args[1])?;
        let (a, bi, ty) = self.unify(a, at, bi, bt, &args[1].span)?;
        let op = if name == "min" {
            Arith::Min
        } else {
            Arith::Max
        };
        match &ty {
            t if t.is_i64() => Ok((Ir::Arith(op, b(a), b(bi)), ty)),
            Ty::Enum(_) => Ok((Ir::EnumMinMax(op, b(a), b(bi)), ty)),
            other => Err(Diagnostic::new(
                format!(
                    "`{name}` needs numbers, durations, instants or priorities, found {}",
                    other.label()
                ),
                span.clone(),
            )),
        }
    }

    /// `round_<mode>(value, increment)`: a multiple of the increment.
    fn round_to_increment(&mut self, args: &[Expr], rounding: Rounding) -> R<(Ir, Ty)> {
        let value = self.expect(&args[0], &Ty::Int)?;
        let inc = self.expect(&args[1], &Ty::Int)?;
        let ir = Ir::DivRound {
            value: b(value),
            den: b(inc.clone()),
            mul: b(inc),
            rounding,
        };
        Ok((ir, Ty::Int))
    }

    /// Money and quantities: `mul_ratio`, `basis_points`, `percent`,
    /// `money`, `hours`, `quantity`.
    fn money_call(&mut self, name: &str, args: &[Expr]) -> R<(Ir, Ty)> {
        match name {
            "mul_ratio" => {
                let money = self.expect(&args[0], &Ty::Money)?;
                let num = self.expect(&args[1], &Ty::Int)?;
                let den = self.expect(&args[2], &Ty::Int)?;
                let rounding = self.rounding_arg(&args[3])?;
                let ir = Ir::MulRatio {
                    money: b(money),
                    num: b(num),
                    den: b(den),
                    rounding,
                };
                Ok((ir, Ty::Money))
            }
            "basis_points" | "percent" => {
                let money = self.expect(&args[0], &Ty::Money)?;
                let share = self.expect(&args[1], &Ty::Int)?;
                let den = if name == "percent" { 100 } else { 10_000 };
                let ir = Ir::MulRatio {
                    money: b(money),
                    num: b(share),
                    den: b(Ir::I64(den)),
                    rounding: Rounding::HalfEven,
                };
                Ok((ir, Ty::Money))
            }
            "money" => {
                let amount = self.expect(&args[0], &Ty::Int)?;
                let currency = self.expect(&args[1], &Ty::Text)?;
                Ok((Ir::MakeMoney(b(amount), b(currency)), Ty::Money))
            }
            "hours" => {
                let minutes = self.expect(&args[0], &Ty::Int)?;
                let hundredths = Ir::DivRound {
                    value: b(Ir::Arith(Arith::Mul, b(minutes), b(Ir::I64(100)))),
                    den: b(Ir::I64(60)),
                    mul: b(Ir::I64(1)),
                    rounding: Rounding::HalfEven,
                };
                Ok((Ir::MakeDecimal(b(hundredths), 2), Ty::Decimal))
            }
            _ => {
                let n = self.expect(&args[0], &Ty::Int)?;
                Ok((Ir::MakeDecimal(b(n), 0), Ty::Decimal))
            }
        }
    }

    /// `local_hour(instant, offset)`, `local_weekday(instant, offset)`.
    fn local_time(&mut self, name: &str, args: &[Expr]) -> R<(Ir, Ty)> {
        let instant = self.expect(&args[0], &Ty::Instant)?;
        let offset = self.expect(&args[1], &Ty::Int)?;
        let ir = Ir::LocalTime {
            instant: b(instant),
            offset_minutes: b(offset),
            weekday: name == "local_weekday",
        };
        Ok((ir, Ty::Int))
    }

    /// `setting_<kind>(key, default)`: an undeclared setting read by key.
    fn setting_call(&mut self, name: &str, args: &[Expr]) -> R<(Ir, Ty)> {
        let kind = match name {
            "setting_text" => SettingKind::Text,
            "setting_integer" => SettingKind::Integer,
            _ => SettingKind::Money,
        };
        let key = self.expect(&args[0], &Ty::Text)?;
        let default = self.expect(&args[1], &setting_ty(kind))?;
        let ir = Ir::Setting {
            key: b(key),
            kind,
            default: b(default),
        };
        Ok((ir, setting_ty(kind)))
    }

    /// `len(x)` and `is_empty(x)` of text or a list.
    fn measure(&mut self, name: &str, args: &[Expr]) -> R<(Ir, Ty)> {
        let (v, t) = self.expr(&args[0])?;
        let wrong = |t: Ty| {
            Diagnostic::new(
                format!("`{name}` needs text or a list, found {}", t.label()),
                args[0].span.clone(),
            )
        };
        if name == "len" {
            return match t {
                Ty::Text | Ty::List(_) => Ok((Ir::Len(b(v)), Ty::Int)),
                other => Err(wrong(other)),
            };
        }
        let zero = |v| Ir::Cmp {
            op: Cmp::Eq,
            wide: true,
            l: b(Ir::Len(b(v))),
            r: b(Ir::I64(0)),
        };
        match t {
            Ty::Text | Ty::List(_) => Ok((zero(v), Ty::Bool)),
            Ty::OptText => {
                let text = Ir::Coalesce(b(v), b(Ir::Text(String::new())));
                Ok((zero(text), Ty::Bool))
            }
            other => Err(wrong(other)),
        }
    }

    /// `has(field.x)` (the custom field is set) or `has(optional text)`.
    fn has(&mut self, args: &[Expr]) -> R<(Ir, Ty)> {
        if let ExprKind::Path(p) = &args[0].kind
            && p[0].0 == "field"
        {
            if p.len() > 2 {
                return Err(Diagnostic::new(
                    "has() takes a field, e.g. has(field.urgency)",
                    args[0].span.clone(),
                ));
            }
            return self.custom_field(p, true);
        }
        let v = self.expect(&args[0], &Ty::OptText)?;
        Ok((Ir::IsSome(b(v)), Ty::Bool))
    }

    /// `strip_prefix`, `before_last`, `after_last` of text by a separator.
    fn slice(&mut self, name: &str, args: &[Expr]) -> R<(Ir, Ty)> {
        let text = self.text_like(&args[0])?;
        let sep = self.expect(&args[1], &Ty::Text)?;
        let slice = match name {
            "strip_prefix" => Slice::StripPrefix,
            "before_last" => Slice::BeforeLast,
            _ => Slice::AfterLast,
        };
        Ok((Ir::Slice(slice, b(text), b(sep)), Ty::Text))
    }

    /// `text(x)`: any formattable value as text.
    fn text_call(&mut self, args: &[Expr]) -> R<(Ir, Ty)> {
        let (v, t) = self.expr(&args[0])?;
        if !self.formattable(&t) {
            return Err(Diagnostic::new(
                format!("{} cannot be written as text", t.label()),
                args[0].span.clone(),
            ));
        }
        Ok((self.to_text(v, &t), Ty::Text))
    }

    /// `lookup("table", "output", default)`: the output of the table's
    /// matching row, or the default.
    fn lookup_call(&mut self, args: &[Expr]) -> R<(Ir, Ty)> {
        let name = literal_text(&args[0]).unwrap_or_default();
        let output = literal_text(&args[1]).unwrap_or_default();
        let decl = self.table(&name, &args[0].span)?;
        let (stmts, row) = self.use_table(&decl, &args[0].span)?;
        let saved = self.row.replace((name, row));
        let path = vec![
            ("row".to_string(), args[1].span.clone()),
            (output, args[1].span.clone()),
        ];
        let value = self.path(&path);
        self.row = saved;
        let (value, ty) = value?;
        let default = self.expect(&args[2], &ty)?;
        let found = Ir::Cmp {
            op: Cmp::Ge,
            wide: false,
            l: b(Ir::Local(row, Ty::Bool)),
            r: b(Ir::Enum(0)),
        };
        let ir = Ir::If {
            c: b(found),
            a: b(value),
            b: b(default),
            ty: ty.clone(),
        };
        Ok((Ir::Block(stmts, b(ir)), ty))
    }

    /// `collect("table", "output")`: the text output of every matching row
    /// of a `hit = "collect"` table.
    fn collect(&mut self, args: &[Expr], span: &Span) -> R<(Ir, Ty)> {
        let (Some(name), Some(output)) = (literal_text(&args[0]), literal_text(&args[1])) else {
            return Err(Diagnostic::new(
                "collect takes a table name and an output name, both written out",
                span.clone(),
            ));
        };
        let decl = self.table(&name, &args[0].span)?;
        if !decl.collect {
            return Err(Diagnostic::new(
                format!(
                    "table `{name}` picks one row; collect(...) reads a table with hit = \"collect\""
                ),
                args[0].span.clone(),
            )
            .hint("use lookup(...) or a rule's `table` for single-row tables"));
        }
        let Some((column, ty)) = decl.outputs.get(&output).cloned() else {
            let names: Vec<&str> = decl.outputs.keys().map(String::as_str).collect();
            let hint = did_you_mean(&output, names.iter().copied())
                .unwrap_or_else(|| format!("table `{name}` outputs {}", names.join(", ")));
            return Err(Diagnostic::new(
                format!("table `{name}` has no output `{output}`"),
                args[1].span.clone(),
            )
            .hint(hint));
        };
        if ty != Ty::Text {
            return Err(Diagnostic::new(
                format!("collect(...) lists text outputs; `{output}` holds numbers"),
                args[1].span.clone(),
            ));
        }
        let (stmts, rows) = self.row_conditions(&decl)?;
        let ir = Ir::Collect { rows, column };
        Ok((Ir::Block(stmts, b(ir)), Ty::List(Box::new(Ty::Text))))
    }

    /// A rounding argument, written out: `"up"`, `"down"`, `"half_even"`
    /// or `"half_up"`.
    fn rounding_arg(&mut self, e: &Expr) -> R<Rounding> {
        let (ir, _) = self.expr(e)?;
        let Ir::Text(name) = &ir else {
            return Err(Diagnostic::new(
                "the rounding must be written out: \"up\", \"down\", \"half_even\" or \"half_up\"",
                e.span.clone(),
            ));
        };
        parse_rounding(name).ok_or_else(|| {
            let hint = did_you_mean(name, ["up", "down", "half_even", "half_up"])
                .unwrap_or_else(|| "one of up, down, half_even, half_up".into());
            Diagnostic::new(format!("unknown rounding `{name}`"), e.span.clone()).hint(hint)
        })
    }
}
