//! `[[templates]]` and `[[validation.rule]]`: ticket forms declared as data
//! (returned by `templates()` straight from the module's data segment) and a
//! validator generated field by field — the same checks, messages and
//! defaults as the SDK's generic validator, with no interpreter: every
//! field's checks are straight-line WebAssembly for that field.

use crate::check::Checker;
use crate::check::decls::condition;
use crate::diag::{Diagnostic, did_you_mean};
use crate::emit::codegen::{FuncGen, Growing};
use crate::emit::statics::place;
use crate::emit::wasm::{Helper, mem};
use crate::front::doc::Node;
use crate::front::expr::Span;
use crate::ir::*;
use crate::regex::Dfa;
use std::collections::BTreeMap;
use wasm_encoder::{BlockType, Instruction as I, ValType};

type R<T> = Result<T, Diagnostic>;

const KINDS: &[&str] = &[
    "text",
    "textarea",
    "integer",
    "decimal",
    "date",
    "datetime",
    "checkbox",
    "dropdown",
    "multi_select",
    "regex",
    "money",
];

const ERROR_CODES: &[&str] = &[
    "required",
    "wrong_type",
    "invalid_format",
    "invalid_option",
    "out_of_range",
    "not_visible",
    "unknown_field",
];

fn strings(n: Node, what: &str) -> R<Vec<String>> {
    n.array(what)?
        .iter()
        .map(|v| v.str(what).map(str::to_string))
        .collect()
}

/// Reads `[[templates]]`, declaring every field for `field.<key>`.
pub fn declare<'a>(c: &mut Checker<'a>, node: Node<'a>) -> R<Vec<Template>> {
    let mut out = Vec::new();
    let mut declared: BTreeMap<String, (Kind, Span)> = BTreeMap::new();
    for tn in node.array("[[templates]]")? {
        let mut t = tn.table("a [[templates]]")?;
        let id = t.require("id")?.str("id")?.to_string();
        let name = t
            .get("name")
            .map(|n| n.str("name").map(str::to_string))
            .transpose()?
            .unwrap_or_else(|| id.clone());
        let categories = t
            .get("categories")
            .map(|n| strings(n, "categories"))
            .transpose()?
            .unwrap_or_default();
        let fields_node = t.require("fields")?;
        t.finish()?;
        let mut fields = Vec::new();
        let mut spans = Vec::new();
        for fnode in fields_node.array("[[templates.fields]]")? {
            let (f, span) = field(c, fnode)?;
            if fields.iter().any(|x: &Field| x.key == f.key) {
                return Err(Diagnostic::new(
                    format!("field `{}` appears twice in template `{id}`", f.key),
                    span,
                ));
            }
            if let Some((kind, _)) = declared.get(&f.key)
                && kind.value_case().0 != f.kind.value_case().0
            {
                return Err(Diagnostic::new(
                    format!(
                        "field `{}` is a {} here but a {} in another template",
                        f.key,
                        f.kind.name(),
                        kind.name()
                    ),
                    span,
                ));
            }
            declared.insert(f.key.clone(), (f.kind.clone(), span.clone()));
            spans.push(span);
            fields.push(f);
        }
        // References between fields must name fields of the same form.
        let keys: Vec<&str> = fields.iter().map(|f| f.key.as_str()).collect();
        for (f, span) in fields.iter().zip(&spans) {
            let refs = f
                .depends_on
                .iter()
                .map(|d| &d.0)
                .chain(f.visible_when.iter().map(|v| &v.0));
            for r in refs {
                if !keys.contains(&r.as_str()) {
                    let hint = did_you_mean(r, keys.iter().copied())
                        .unwrap_or_else(|| format!("fields: {}", keys.join(", ")));
                    return Err(Diagnostic::new(
                        format!(
                            "`{}` refers to `{r}`, which is not a field of template `{id}`",
                            f.key
                        ),
                        span.clone(),
                    )
                    .hint(hint));
                }
            }
        }
        out.push(Template {
            id,
            name,
            categories,
            fields,
        });
    }
    for (key, (kind, _)) in declared {
        c.fields.insert(key, kind.value_case());
    }
    Ok(out)
}

fn field<'a>(c: &mut Checker<'a>, n: Node<'a>) -> R<(Field, Span)> {
    let mut t = n.table("a [[templates.fields]]")?;
    let key_node = t.require("key")?;
    let key = key_node.str("key")?.to_string();
    let span = key_node.range();
    let label = t
        .get("label")
        .map(|v| v.str("label").map(str::to_string))
        .transpose()?
        .unwrap_or_else(|| key.clone());
    let type_node = t.require("type")?;
    let type_name = type_node.str("type")?;
    let choices = |t: &mut crate::front::doc::Table<'a>| -> R<Vec<(String, String)>> {
        let node = t.require("choices")?;
        node.array("choices")?
            .iter()
            .map(|ch| {
                if let Ok(v) = ch.str("") {
                    return Ok((v.to_string(), v.replace('-', " ")));
                }
                let mut ct = ch.table("a choice")?;
                let value = ct.require("value")?.str("value")?.to_string();
                let label = ct
                    .get("label")
                    .map(|l| l.str("label").map(str::to_string))
                    .transpose()?
                    .unwrap_or_else(|| value.clone());
                ct.finish()?;
                Ok((value, label))
            })
            .collect()
    };
    let kind = match type_name {
        "text" => Kind::Text(
            t.get("max_length")
                .map(|v| v.int("max_length").map(|m| m as u32))
                .transpose()?,
        ),
        "textarea" => Kind::Textarea,
        "integer" => {
            let min = t.get("min").map(|v| v.int("min")).transpose()?;
            let max = t.get("max").map(|v| v.int("max")).transpose()?;
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                return Err(type_node.error(format!("`min` ({lo}) is above `max` ({hi})")));
            }
            Kind::Integer(min, max)
        }
        "decimal" => Kind::Decimal(
            t.get("scale")
                .map(|v| v.int("scale"))
                .transpose()?
                .unwrap_or(2)
                .clamp(0, 18) as u8,
        ),
        "date" => Kind::Date,
        "datetime" => Kind::Datetime,
        "checkbox" => Kind::Checkbox,
        "dropdown" => Kind::Dropdown(choices(&mut t)?),
        "multi_select" => Kind::MultiSelect(choices(&mut t)?),
        "regex" => {
            let p = t.require("pattern")?;
            let pattern = p.str("pattern")?.to_string();
            let dfa = Dfa::compile(&pattern, true)
                .map_err(|e| p.error(format!("invalid regular expression: {e}")))?;
            c.regexes.push(dfa);
            Kind::Regex(pattern, (c.regexes.len() - 1) as u32)
        }
        "money" => Kind::Money(t.require("currency")?.str("currency")?.to_string()),
        other => {
            let hint =
                did_you_mean(other, KINDS.iter().copied()).unwrap_or_else(|| KINDS.join(", "));
            return Err(type_node
                .error(format!("unknown field type `{other}`"))
                .hint(hint));
        }
    };
    let (on_create, on_solve) = match t.get("required") {
        None => (false, false),
        Some(r) => match r.str("required")? {
            "on_create" => (true, false),
            "to_solve" => (false, true),
            other => {
                let hint = did_you_mean(other, ["on_create", "to_solve"])
                    .unwrap_or_else(|| "\"on_create\" or \"to_solve\"".into());
                return Err(r.error(format!("unknown requirement `{other}`")).hint(hint));
            }
        },
    };
    let default = t
        .get("default")
        .map(|d| default_value(&kind, d))
        .transpose()?;
    let depends_on = match t.get("depends_on") {
        None => None,
        Some(d) => {
            if !matches!(kind, Kind::Dropdown(_) | Kind::MultiSelect(_)) {
                return Err(d.error("`depends_on` applies to dropdown and multi_select fields"));
            }
            let mut dt = d.table("`depends_on`")?;
            let parent = dt.require("parent")?.str("parent")?.to_string();
            let mut options = Vec::new();
            for (pv, _, children) in dt.require("options")?.table("`options`")?.entries() {
                options.push((pv.to_string(), strings(children, "child options")?));
            }
            dt.finish()?;
            Some((parent, options))
        }
    };
    let visible_when = match t.get("visible_when") {
        None => None,
        Some(v) => {
            let mut vt = v.table("`visible_when`")?;
            let field = vt.require("field")?.str("field")?.to_string();
            let any_of = strings(vt.require("any_of")?, "any_of")?;
            vt.finish()?;
            Some((field, any_of))
        }
    };
    let help = t
        .get("help")
        .map(|h| h.str("help").map(str::to_string))
        .transpose()?
        .unwrap_or_default();
    t.finish()?;
    Ok((
        Field {
            key,
            label,
            kind,
            on_create,
            on_solve,
            default,
            depends_on,
            visible_when,
            help,
        },
        span,
    ))
}

/// A default as a `field-value` of the field's kind.
fn default_value(kind: &Kind, n: Node) -> R<Value> {
    let (case, _) = kind.value_case();
    let text = |n: &Node| n.str("default").map(|s| Value::Str(s.to_string()));
    let payload = match kind {
        Kind::Text(_) | Kind::Textarea | Kind::Regex(..) | Kind::Date => text(&n)?,
        Kind::Integer(..) => Value::Int(n.int("default")?),
        Kind::Checkbox => Value::Bool(n.bool("default")?),
        Kind::Dropdown(choices) => {
            let v = n.str("default")?;
            if !choices.iter().any(|(c, _)| c == v) {
                let hint = did_you_mean(v, choices.iter().map(|c| c.0.as_str()))
                    .unwrap_or_else(|| "the default must be one of the choices".into());
                return Err(n.error(format!("default `{v}` is not a choice")).hint(hint));
            }
            Value::Str(v.to_string())
        }
        Kind::MultiSelect(_) => {
            Value::List(strings(n, "default")?.into_iter().map(Value::Str).collect())
        }
        _ => return Err(n.error(format!("a {} field cannot have a default", kind.name()))),
    };
    Ok(Value::Case(case as u32, Some(Box::new(payload))))
}

/// Reads `[validation]`: `[[validation.rule]]` errors (`when`, `field`,
/// `code`, `message`) and `[[validation.set]]` field values (`when`,
/// `field`, `value`).
pub fn rules<'a>(c: &mut Checker<'a>, node: Node<'a>) -> R<(Vec<Rule>, Vec<SetRule>)> {
    let mut t = node.table("[validation]")?;
    let rule_list = t.get("rule");
    let set_list = t.get("set");
    t.finish()?;
    if rule_list.is_none() && set_list.is_none() {
        return Err(node.error("[validation] needs `rule` or `set` entries"));
    }
    let mut out = Vec::new();
    for rn in rule_list
        .map(|l| l.array("[[validation.rule]]"))
        .transpose()?
        .unwrap_or_default()
    {
        let mut r = rn.table("a [[validation.rule]]")?;
        let when = c.expect(&condition(r.require("when")?)?, &Ty::Bool)?;
        let field = r.require("field")?.str("field")?.to_string();
        let code_node = r.require("code")?;
        let code_name = code_node.str("code")?;
        let code = ERROR_CODES
            .iter()
            .position(|x| *x == code_name)
            .ok_or_else(|| {
                let hint = did_you_mean(code_name, ERROR_CODES.iter().copied())
                    .unwrap_or_else(|| ERROR_CODES.join(", "));
                code_node
                    .error(format!("unknown error code `{code_name}`"))
                    .hint(hint)
            })? as i32;
        let message = c.expect(&r.require("message")?.template("message")?, &Ty::Text)?;
        r.finish()?;
        out.push(Rule {
            when,
            field,
            code,
            message,
        });
    }
    let mut sets = Vec::new();
    for sn in set_list
        .map(|l| l.array("[[validation.set]]"))
        .transpose()?
        .unwrap_or_default()
    {
        let mut r = sn.table("a [[validation.set]]")?;
        let when = match r.get("when") {
            Some(w) => c.expect(&condition(w)?, &Ty::Bool)?,
            None => Ir::Bool(true),
        };
        let field_node = r.require("field")?;
        let key = field_node.str("field")?.to_string();
        let Some((case, ty)) = c.fields.get(&key).cloned() else {
            let hint = did_you_mean(&key, c.fields.keys().map(String::as_str))
                .unwrap_or_else(|| "declare it in a [[templates.fields]] entry".into());
            return Err(field_node
                .error(format!("unknown field `{key}`"))
                .hint(hint));
        };
        if ty == Ty::Decimal {
            return Err(field_node.error(format!("decimal field `{key}` cannot be set by a rule")));
        }
        let value_node = r.require("value")?;
        let e = if ty == Ty::Text {
            value_node.template("value")?
        } else {
            value_node.expr("value")?
        };
        let value = c.expect(&e, &ty)?;
        r.finish()?;
        sets.push(SetRule {
            when,
            key,
            case,
            ty,
            value,
        });
    }
    Ok((out, sets))
}

/// The templates as a `list<ticket-template>` value.
fn templates_value(templates: &[Template], c: &Checker) -> Value {
    let abi = c.abi;
    let kind_ty = abi.named("template", "field-kind");
    let case = |name: &str| abi.case_index(&kind_ty, name);
    let choice_list = |choices: &[(String, String)]| {
        Value::List(
            choices
                .iter()
                .map(|(v, l)| Value::Fields(vec![Value::Str(v.clone()), Value::Str(l.clone())]))
                .collect(),
        )
    };
    let opt_int = |v: Option<i64>| Value::Opt(v.map(|v| Box::new(Value::Int(v))));
    let strs = |v: &[String]| Value::List(v.iter().cloned().map(Value::Str).collect());
    Value::List(
        templates
            .iter()
            .map(|t| {
                let fields = t
                    .fields
                    .iter()
                    .map(|f| {
                        let kind = match &f.kind {
                            Kind::Text(max) => Value::Case(
                                case("text"),
                                Some(Box::new(Value::Opt(
                                    max.map(|m| Box::new(Value::Int(m.into()))),
                                ))),
                            ),
                            Kind::Textarea => Value::Case(case("textarea"), None),
                            Kind::Integer(lo, hi) => Value::Case(
                                case("integer"),
                                Some(Box::new(Value::Fields(vec![opt_int(*lo), opt_int(*hi)]))),
                            ),
                            Kind::Decimal(s) => Value::Case(
                                case("decimal"),
                                Some(Box::new(Value::Int((*s).into()))),
                            ),
                            Kind::Date => Value::Case(case("date"), None),
                            Kind::Datetime => Value::Case(case("datetime"), None),
                            Kind::Checkbox => Value::Case(case("checkbox"), None),
                            Kind::Dropdown(ch) => {
                                Value::Case(case("dropdown"), Some(Box::new(choice_list(ch))))
                            }
                            Kind::MultiSelect(ch) => {
                                Value::Case(case("multi-select"), Some(Box::new(choice_list(ch))))
                            }
                            Kind::Regex(p, _) => {
                                Value::Case(case("regex"), Some(Box::new(Value::Str(p.clone()))))
                            }
                            Kind::Money(cur) => {
                                Value::Case(case("money"), Some(Box::new(Value::Str(cur.clone()))))
                            }
                        };
                        let depends = f.depends_on.as_ref().map(|(parent, options)| {
                            Box::new(Value::Fields(vec![
                                Value::Str(parent.clone()),
                                Value::List(
                                    options
                                        .iter()
                                        .map(|(p, ch)| {
                                            Value::Fields(vec![Value::Str(p.clone()), strs(ch)])
                                        })
                                        .collect(),
                                ),
                            ]))
                        });
                        let visible = f.visible_when.as_ref().map(|(field, any_of)| {
                            Box::new(Value::Fields(vec![Value::Str(field.clone()), strs(any_of)]))
                        });
                        Value::Fields(vec![
                            Value::Str(f.key.clone()),
                            Value::Str(f.label.clone()),
                            kind,
                            Value::Fields(vec![Value::Bool(f.on_create), Value::Bool(f.on_solve)]),
                            Value::Opt(f.default.clone().map(Box::new)),
                            Value::Opt(depends),
                            Value::Opt(visible),
                            Value::Str(f.help.clone()),
                        ])
                    })
                    .collect();
                Value::Fields(vec![
                    Value::Str(t.id.clone()),
                    Value::Str(t.name.clone()),
                    strs(&t.categories),
                    Value::List(fields),
                ])
            })
            .collect(),
    )
}

/// Emits `templates(ctx) -> list<ticket-template>`: the address of a static
/// (pointer, length) pair.
pub fn emit_templates(g: &mut FuncGen, c: &Checker, templates: &[Template]) {
    let ty = c.abi.result("template", "templates");
    let value = templates_value(templates, c);
    let list = place(g.m, c.abi, &ty, &value);
    g.code.push(I::I32Const(list as i32));
}

/// Emits `validate(ev, t, ctx) -> validation`.
pub fn emit_validate(
    g: &mut FuncGen,
    c: &Checker,
    templates: &[Template],
    (rules, sets): &(Vec<Rule>, Vec<SetRule>),
) {
    let v = Validate::new(g, c, templates, rules.len(), sets.len());
    v.emit(g, c, templates, rules, sets);
}

/// Layouts and locals of the validator.
struct Validate {
    result: u32,
    errors: Growing,
    sets: Growing,
    /// Address of a field value being checked, or 0.
    value: u32,
    at: u32,
    creating: u32,
    resolved: u32,
    value_offset: u32,
    payload: u32,
    error_field: u32,
    error_code: u32,
    error_message: u32,
}

impl Validate {
    fn new(
        g: &mut FuncGen,
        c: &Checker,
        templates: &[Template],
        rules: usize,
        set_rules: usize,
    ) -> Validate {
        let abi = c.abi;
        let result_ty = abi.result("template", "validate");
        let result = g.alloc(
            vec![I::I32Const(abi.size(&result_ty) as i32)],
            abi.align(&result_ty),
        );
        let error_ty = abi.named("template", "field-error");
        let field_ty = abi.named("types", "custom-field");
        let value_field = abi.record_field(&field_ty, "value");
        let defs: usize = templates.iter().map(|t| t.fields.len()).sum();
        let defaults = templates
            .iter()
            .flat_map(|t| &t.fields)
            .filter(|f| f.default.is_some())
            .count()
            + set_rules;
        // Room for one error per field definition, per ticket field (unknown
        // fields) and per rule.
        let capacity = vec![
            I::LocalGet(g.param_locals[1]),
            I::I32Load(mem(g.statics.ticket_fields + 4, 2)),
            I::I32Const((defs + rules) as i32),
            I::I32Add,
        ];
        let errors = Growing::new(g, capacity, abi.size(&error_ty), abi.align(&error_ty));
        let sets = Growing::new(
            g,
            vec![I::I32Const(defaults as i32)],
            abi.size(&field_ty),
            abi.align(&field_ty),
        );
        let creating = g.temp(ValType::I32);
        let resolved = g.temp(ValType::I32);
        let value = g.temp(ValType::I32);
        let at = g.temp(ValType::I32);
        Validate {
            result,
            errors,
            sets,
            value,
            at,
            creating,
            resolved,
            value_offset: value_field.offset,
            payload: abi.payload_offset(&value_field.ty),
            error_field: abi.record_field(&error_ty, "field").offset,
            error_code: abi.record_field(&error_ty, "code").offset,
            error_message: abi.record_field(&error_ty, "message").offset,
        }
    }

    /// Sets `value` to the address of the ticket's value for `key`, or 0.
    fn find(&self, g: &mut FuncGen, key: &str) {
        g.find_custom_field(key);
        let f = g.temp(ValType::I32);
        g.code.extend([
            I::LocalTee(f),
            I::If(BlockType::Result(ValType::I32)),
            I::LocalGet(f),
            I::I32Const(self.value_offset as i32),
            I::I32Add,
            I::Else,
            I::I32Const(0),
            I::End,
            I::LocalSet(self.value),
        ]);
    }

    /// Pushes an error: field key, code, message (text IR).
    fn error(&self, g: &mut FuncGen, key: &Ir, code: &str, message: &Ir) {
        let code = ERROR_CODES
            .iter()
            .position(|c| *c == code)
            .expect("known code") as i32;
        self.errors.push(g, self.at);
        g.store_pair(self.at, self.error_field, key, &Ty::Text);
        g.store_byte_const(self.at, self.error_code, code);
        g.store_pair(self.at, self.error_message, message, &Ty::Text);
    }

    /// The current value's payload as text (`(ptr, len)` at the payload).
    fn text(&self) -> Ir {
        Ir::Field {
            base: Box::new(Ir::Wasm(vec![self.value])),
            offset: self.payload,
            load: Load::PtrLen,
            ty: Ty::Text,
        }
    }

    fn emit(
        &self,
        g: &mut FuncGen,
        c: &Checker,
        templates: &[Template],
        rules: &[Rule],
        sets: &[SetRule],
    ) {
        g.expr(&Ir::Cmp {
            op: Cmp::Eq,
            wide: false,
            l: Box::new(c.event_kind()),
            r: Box::new(Ir::Enum(0)),
        });
        g.code.push(I::LocalSet(self.creating));
        let status = c.abi.field("types", "ticket", "status").offset;
        g.code.extend([
            I::LocalGet(g.param_locals[1]),
            I::I32Load8U(mem(status, 0)),
            I::I32Const(4),
            I::I32GeU,
            I::LocalSet(self.resolved),
        ]);
        let mut applicable = Vec::new();
        for t in templates {
            let a = g.temp(ValType::I32);
            applicable.push(a);
            if t.categories.is_empty() {
                g.code.extend([I::I32Const(1), I::LocalSet(a)]);
            } else {
                let category = c.abi.field("types", "ticket", "category");
                let cat = Ir::Field {
                    base: Box::new(Ir::Param(1)),
                    offset: category.offset,
                    load: Load::OptStr(c.abi.payload_offset(&category.ty)),
                    ty: Ty::OptText,
                };
                let test = t.categories.iter().fold(Ir::Bool(false), |acc, cat_name| {
                    Ir::Or(
                        Box::new(acc),
                        Box::new(Ir::OptTextEq(
                            Box::new(cat.clone()),
                            Box::new(Ir::Text(cat_name.clone())),
                        )),
                    )
                });
                g.expr(&test);
                g.code.push(I::LocalSet(a));
            }
            g.code.extend([I::LocalGet(a), I::If(BlockType::Empty)]);
            for f in &t.fields {
                self.field(g, c, f);
            }
            g.code.push(I::End);
        }
        self.unknown_fields(g, templates, &applicable);
        for r in rules {
            g.expr(&r.when);
            g.code.push(I::If(BlockType::Empty));
            self.errors.push(g, self.at);
            g.store_pair(
                self.at,
                self.error_field,
                &Ir::Text(r.field.clone()),
                &Ty::Text,
            );
            g.store_byte_const(self.at, self.error_code, r.code);
            g.store_pair(self.at, self.error_message, &r.message, &Ty::Text);
            g.code.push(I::End);
        }
        for set in sets {
            g.expr(&set.when);
            g.code.push(I::If(BlockType::Empty));
            self.sets.push(g, self.at);
            g.store_pair(self.at, 0, &Ir::Text(set.key.clone()), &Ty::Text);
            g.store_byte_const(self.at, self.value_offset, set.case);
            let at = self.value_offset + self.payload;
            match &set.ty {
                Ty::Text | Ty::List(_) => g.store_pair(self.at, at, &set.value, &set.ty),
                Ty::Int | Ty::Instant => g.store_i64(self.at, at, &set.value),
                Ty::Bool => g.store_byte(self.at, at, &set.value),
                Ty::Money => {
                    let currency = c.abi.field("types", "money", "currency").offset;
                    g.store_money(self.at, at, currency, &set.value);
                }
                other => unreachable!("checked: {other:?}"),
            }
            g.code.push(I::End);
        }
        let result_ty = c.abi.result("template", "validate");
        let errors_at = c.abi.record_field(&result_ty, "errors").offset;
        let sets_at = c.abi.record_field(&result_ty, "set-fields").offset;
        self.errors.store(g, self.result, errors_at);
        self.sets.store(g, self.result, sets_at);
        g.code.push(I::LocalGet(self.result));
    }

    #[allow(clippy::too_many_lines)]
    /// Validates one field: its default on creation, then, when missing,
    /// whether it is required, and when present, its kind's rules and its
    /// dependency.
    fn field(&self, g: &mut FuncGen, c: &Checker, f: &Field) {
        let key = Ir::Text(f.key.clone());
        self.find(g, &f.key);
        if let Some(default) = &f.default {
            self.apply_default(g, c, f, default);
        }
        g.code.push(I::LocalGet(self.value));
        g.call(Helper::ValuePresent);
        g.code.extend([I::I32Eqz, I::If(BlockType::Empty)]);
        self.required(g, f, &key);
        g.code.push(I::Else);
        let ok = self.check_kind(g, c, f, &key);
        if let Some((parent, options)) = &f.depends_on {
            g.code.extend([I::LocalGet(ok), I::If(BlockType::Empty)]);
            self.dependency(g, f, parent, options);
            g.code.push(I::End);
        }
        g.code.push(I::End);
    }

    /// On creation a missing field takes its default (validated like a
    /// value the ticket brought).
    fn apply_default(&self, g: &mut FuncGen, c: &Checker, f: &Field, default: &Value) {
        let field_ty = c.abi.named("types", "custom-field");
        let record = Value::Fields(vec![Value::Str(f.key.clone()), default.clone()]);
        let addr = place(g.m, c.abi, &field_ty, &record);
        g.code.extend([
            I::LocalGet(self.creating),
            I::LocalGet(self.value),
            I::I32Eqz,
            I::I32And,
            I::If(BlockType::Empty),
        ]);
        self.sets.push(g, self.at);
        g.code.extend([
            I::LocalGet(self.at),
            I::I32Const(addr as i32),
            I::I32Const(g.statics.custom_field_size as i32),
            I::MemoryCopy {
                src_mem: 0,
                dst_mem: 0,
            },
            I::I32Const((addr + self.value_offset) as i32),
            I::LocalSet(self.value),
            I::End,
        ]);
    }

    /// A missing value: an error when the field is required now (on create,
    /// or to solve once resolved) and visible.
    fn required(&self, g: &mut FuncGen, f: &Field, key: &Ir) {
        if !(f.on_create || f.on_solve) {
            return;
        }
        let visible = self.visible(g, f);
        g.code.push(I::LocalGet(visible));
        if f.on_create {
            g.code.push(I::I32Const(1));
        } else {
            g.code.push(I::LocalGet(self.resolved));
        }
        g.code.extend([I::I32And, I::If(BlockType::Empty)]);
        let when = if f.on_create {
            ""
        } else {
            " to solve the ticket"
        };
        let message = Ir::Text(format!("{} is required{when}", f.label));
        self.error(g, key, "required", &message);
        g.code.push(I::End);
    }

    /// A present value: the right case of `field-value`, then the kind's
    /// rules. Returns the local saying it passed.
    fn check_kind(&self, g: &mut FuncGen, c: &Checker, f: &Field, key: &Ir) -> u32 {
        let (case, _) = f.kind.value_case();
        let ok = g.temp(ValType::I32);
        g.code.extend([
            I::I32Const(1),
            I::LocalSet(ok),
            I::LocalGet(self.value),
            I::I32Load8U(mem(0, 0)),
            I::I32Const(case),
            I::I32Ne,
        ]);
        let expected = Ir::Text(format!("{}: expected {}", f.label, f.kind.expected()));
        self.fail_if(g, key, ok, "wrong_type", expected);
        self.kind_rules(g, c, f, key, ok);
        ok
    }

    /// Emits `if <test on the stack> { error; ok = 0 }`.
    fn fail_if(&self, g: &mut FuncGen, key: &Ir, ok: u32, code: &str, message: Ir) {
        g.code.push(I::If(BlockType::Empty));
        self.error(g, key, code, &message);
        g.code.extend([I::I32Const(0), I::LocalSet(ok), I::End]);
    }

    /// The rules of the field's kind, for a value of the right case (a
    /// value that failed the case check is not checked further).
    fn kind_rules(&self, g: &mut FuncGen, c: &Checker, f: &Field, key: &Ir, ok: u32) {
        let label = |rest: Ir| Ir::Concat(vec![Ir::Text(format!("{}: ", f.label)), rest]);
        let quoted = |t: Ir, rest: &str| {
            label(Ir::Concat(vec![
                Ir::Text("`".into()),
                t,
                Ir::Text(rest.into()),
            ]))
        };
        let text = self.text();
        g.code.extend([I::LocalGet(ok), I::If(BlockType::Empty)]);
        match &f.kind {
            Kind::Text(Some(max)) => {
                g.expr(&text);
                g.call(Helper::CharCount);
                g.code.extend([I::I64Const((*max).into()), I::I64GtU]);
                let message = Ir::Text(format!("{}: at most {max} characters", f.label));
                self.fail_if(g, key, ok, "out_of_range", message);
            }
            Kind::Integer(lo, hi) if lo.is_some() || hi.is_some() => {
                self.integer_bounds(g, key, ok, (*lo, *hi), &label);
            }
            Kind::Decimal(scale) => {
                g.code.extend([
                    I::LocalGet(self.value),
                    I::I32Load8U(mem(self.payload + 8, 0)),
                    I::I32Const(i32::from(*scale)),
                    I::I32GtU,
                ]);
                let message = Ir::Text(format!("{}: at most {scale} decimal places", f.label));
                self.fail_if(g, key, ok, "invalid_format", message);
            }
            Kind::Date => {
                g.expr(&text);
                g.call(Helper::IsIsoDate);
                g.code.push(I::I32Eqz);
                let message = quoted(text.clone(), "` is not a YYYY-MM-DD date");
                self.fail_if(g, key, ok, "invalid_format", message);
            }
            Kind::Dropdown(choices) => {
                let values: Vec<Ir> = choices.iter().map(|(v, _)| Ir::Text(v.clone())).collect();
                g.expr(&one_of(&text, &values));
                g.code.push(I::I32Eqz);
                let message = quoted(text.clone(), "` is not an option");
                self.fail_if(g, key, ok, "invalid_option", message);
            }
            Kind::MultiSelect(choices) => {
                let values: Vec<Ir> = choices.iter().map(|(v, _)| Ir::Text(v.clone())).collect();
                let bad = self.first_bad(g, |item| Ir::Not(Box::new(one_of(&item, &values))));
                g.code.push(I::LocalGet(bad[0]));
                let message = quoted(Ir::Wasm(vec![bad[1], bad[2]]), "` is not an option");
                self.fail_if(g, key, ok, "invalid_option", message);
            }
            Kind::Regex(pattern, dfa) => {
                g.expr(&Ir::Matches(Box::new(text.clone()), *dfa));
                g.code.push(I::I32Eqz);
                let message = quoted(text.clone(), &format!("` does not match {pattern}"));
                self.fail_if(g, key, ok, "invalid_format", message);
            }
            Kind::Money(currency) => {
                let cur = Ir::Field {
                    base: Box::new(Ir::Wasm(vec![self.value])),
                    offset: self.payload + c.abi.field("types", "money", "currency").offset,
                    load: Load::PtrLen,
                    ty: Ty::Text,
                };
                g.expr(&Ir::TextTest(
                    TextPred::Eq,
                    Box::new(cur.clone()),
                    Box::new(Ir::Text(currency.clone())),
                ));
                g.code.push(I::I32Eqz);
                let message = label(Ir::Concat(vec![
                    Ir::Text(format!("expected an amount in {currency}, got ")),
                    cur,
                ]));
                self.fail_if(g, key, ok, "wrong_type", message);
            }
            _ => {}
        }
        g.code.push(I::End);
    }

    /// An integer outside its `lo..=hi` bounds (either may be open).
    fn integer_bounds(
        &self,
        g: &mut FuncGen,
        key: &Ir,
        ok: u32,
        (lo, hi): (Option<i64>, Option<i64>),
        label: &dyn Fn(Ir) -> Ir,
    ) {
        let value = Ir::Field {
            base: Box::new(Ir::Wasm(vec![self.value])),
            offset: self.payload,
            load: Load::S64,
            ty: Ty::Int,
        };
        let out = |op, bound: i64| Ir::Cmp {
            op,
            wide: true,
            l: Box::new(value.clone()),
            r: Box::new(Ir::I64(bound)),
        };
        let test = match (lo, hi) {
            (Some(l), Some(h)) => Ir::Or(Box::new(out(Cmp::Lt, l)), Box::new(out(Cmp::Gt, h))),
            (Some(l), None) => out(Cmp::Lt, l),
            (None, Some(h)) => out(Cmp::Gt, h),
            (None, None) => return,
        };
        g.expr(&test);
        let lo = lo.map_or("-∞".to_string(), |v| v.to_string());
        let hi = hi.map_or("∞".to_string(), |v| v.to_string());
        let message = label(Ir::Concat(vec![
            Ir::FormatInt(Box::new(value)),
            Ir::Text(format!(" is outside {lo}..={hi}")),
        ]));
        self.fail_if(g, key, ok, "out_of_range", message);
    }

    /// Whether the field is visible: its rule's field has one of the values.
    fn visible(&self, g: &mut FuncGen, f: &Field) -> u32 {
        let visible = g.temp(ValType::I32);
        match &f.visible_when {
            None => g.code.extend([I::I32Const(1), I::LocalSet(visible)]),
            Some((field, any_of)) => {
                let saved = g.temp(ValType::I32);
                g.code.extend([I::LocalGet(self.value), I::LocalSet(saved)]);
                self.find(g, field);
                g.code.push(I::I32Const(0));
                for v in any_of {
                    let (p, l) = g.m.string(v);
                    g.code.extend([
                        I::LocalGet(self.value),
                        I::I32Const(p as i32),
                        I::I32Const(l as i32),
                    ]);
                    g.call(Helper::ValueHas);
                    g.code.push(I::I32Or);
                }
                g.code.extend([
                    I::LocalSet(visible),
                    I::LocalGet(saved),
                    I::LocalSet(self.value),
                ]);
            }
        }
        visible
    }

    /// Over the current value's list items: (found, ptr, len) locals of the
    /// first item for which `bad` holds.
    fn first_bad(&self, g: &mut FuncGen, bad: impl Fn(Ir) -> Ir) -> [u32; 3] {
        let found = g.temp(ValType::I32);
        let (p, l) = (g.temp(ValType::I32), g.temp(ValType::I32));
        let i = g.temp(ValType::I32);
        let len = g.temp(ValType::I32);
        let item = g.temp(ValType::I32);
        g.code.extend([
            I::I32Const(0),
            I::LocalSet(found),
            I::LocalGet(self.value),
            I::I32Load(mem(self.payload + 4, 2)),
            I::LocalSet(len),
        ]);
        g.counted_loop(i, I::I32Const(0), I::LocalGet(len), |g| {
            g.code.extend([
                I::LocalGet(self.value),
                I::I32Load(mem(self.payload, 2)),
                I::LocalGet(i),
                I::I32Const(3),
                I::I32Shl,
                I::I32Add,
                I::LocalTee(item),
                I::I32Load(mem(0, 2)),
                I::LocalSet(p),
                I::LocalGet(item),
                I::I32Load(mem(4, 2)),
                I::LocalSet(l),
            ]);
            g.expr(&bad(Ir::Wasm(vec![p, l])));
            g.code.extend([
                I::If(BlockType::Empty),
                I::I32Const(1),
                I::LocalSet(found),
                I::Br(2),
                I::End,
            ]);
        });
        [found, p, l]
    }

    /// Dependent options: every chosen value must be allowed by one of the
    /// parent's values.
    fn dependency(
        &self,
        g: &mut FuncGen,
        f: &Field,
        parent: &str,
        options: &[(String, Vec<String>)],
    ) {
        let child = g.temp(ValType::I32);
        g.code.extend([I::LocalGet(self.value), I::LocalSet(child)]);
        self.find(g, parent);
        let parent_value = g.temp(ValType::I32);
        g.code.extend([
            I::LocalGet(self.value),
            I::LocalSet(parent_value),
            I::LocalGet(child),
            I::LocalSet(self.value),
        ]);
        // allowed(item) = OR over options: parent has p && item in children
        let allowed = |item: Ir| {
            options.iter().fold(Ir::Bool(false), |acc, (p, children)| {
                let values: Vec<Ir> = children.iter().map(|c| Ir::Text(c.clone())).collect();
                let parent_has = Ir::ValueHas(
                    Box::new(Ir::Wasm(vec![parent_value])),
                    Box::new(Ir::Text(p.clone())),
                );
                Ir::Or(
                    Box::new(acc),
                    Box::new(Ir::And(
                        Box::new(parent_has),
                        Box::new(one_of(&item, &values)),
                    )),
                )
            })
        };
        let message = |bad: Ir| {
            Ir::Concat(vec![
                Ir::Text(format!("{}: `", f.label)),
                bad,
                Ir::Text(format!("` is not an option when {parent} is ")),
                Ir::ValueJoin(Box::new(Ir::Wasm(vec![parent_value]))),
            ])
        };
        let key = Ir::Text(f.key.clone());
        match f.kind {
            Kind::MultiSelect(_) => {
                let bad = self.first_bad(g, |item| Ir::Not(Box::new(allowed(item))));
                g.code
                    .extend([I::LocalGet(bad[0]), I::If(BlockType::Empty)]);
                self.error(
                    g,
                    &key,
                    "invalid_option",
                    &message(Ir::Wasm(vec![bad[1], bad[2]])),
                );
                g.code.push(I::End);
            }
            _ => {
                let text = self.text();
                g.expr(&allowed(text.clone()));
                g.code.extend([I::I32Eqz, I::If(BlockType::Empty)]);
                self.error(g, &key, "invalid_option", &message(text));
                g.code.push(I::End);
            }
        }
    }

    /// Fields of the ticket no applicable form declares.
    fn unknown_fields(&self, g: &mut FuncGen, templates: &[Template], applicable: &[u32]) {
        let any = g.temp(ValType::I32);
        g.code.push(I::I32Const(0));
        for a in applicable {
            g.code.extend([I::LocalGet(*a), I::I32Or]);
        }
        g.code.extend([I::LocalTee(any), I::If(BlockType::Empty)]);
        let list = [g.temp(ValType::I32), g.temp(ValType::I32)];
        let i = g.temp(ValType::I32);
        let f = g.temp(ValType::I32);
        let (kp, kl) = (g.temp(ValType::I32), g.temp(ValType::I32));
        g.code.extend([
            I::LocalGet(g.param_locals[1]),
            I::I32Load(mem(g.statics.ticket_fields, 2)),
            I::LocalSet(list[0]),
            I::LocalGet(g.param_locals[1]),
            I::I32Load(mem(g.statics.ticket_fields + 4, 2)),
            I::LocalSet(list[1]),
        ]);
        let key = Ir::Wasm(vec![kp, kl]);
        let known = templates
            .iter()
            .zip(applicable)
            .fold(Ir::Bool(false), |acc, (t, a)| {
                let keys: Vec<Ir> = t.fields.iter().map(|f| Ir::Text(f.key.clone())).collect();
                let here = Ir::And(Box::new(Ir::Wasm(vec![*a])), Box::new(one_of(&key, &keys)));
                Ir::Or(Box::new(acc), Box::new(here))
            });
        g.counted_loop(i, I::I32Const(0), I::LocalGet(list[1]), |g| {
            g.code.extend([
                I::LocalGet(list[0]),
                I::LocalGet(i),
                I::I32Const(g.statics.custom_field_size as i32),
                I::I32Mul,
                I::I32Add,
                I::LocalTee(f),
                I::I32Load(mem(0, 2)),
                I::LocalSet(kp),
                I::LocalGet(f),
                I::I32Load(mem(4, 2)),
                I::LocalSet(kl),
            ]);
            g.expr(&known);
            g.code.extend([I::I32Eqz, I::If(BlockType::Empty)]);
            self.error(
                g,
                &key,
                "unknown_field",
                &Ir::Concat(vec![
                    Ir::Text("`".into()),
                    key.clone(),
                    Ir::Text("` is not a field of this form".into()),
                ]),
            );
            g.code.push(I::End);
        });
        g.code.push(I::End);
    }
}

/// Whether text equals one of the texts.
fn one_of(text: &Ir, values: &[Ir]) -> Ir {
    values.iter().fold(Ir::Bool(false), |acc, v| {
        Ir::Or(
            Box::new(acc),
            Box::new(Ir::TextTest(
                TextPred::Eq,
                Box::new(text.clone()),
                Box::new(v.clone()),
            )),
        )
    })
}
