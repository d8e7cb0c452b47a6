//! Expression code generation: typed [`Ir`] to WebAssembly instructions.
//!
//! Values live on the wasm stack in a fixed flat shape per type (see
//! [`flat`]); locals of the checker map to runs of wasm locals.

use crate::abi::Abi;
use crate::emit::wasm::{Helper, ModuleBuilder, mem};
use crate::ir::Column;
use crate::ir::*;
use crate::regex::Dfa;
use wasm_encoder::{BlockType, Function, Instruction as I, ValType};

/// The flat wasm shape of a value of a type.
pub fn flat(ty: &Ty) -> Vec<ValType> {
    use ValType::{I32, I64};
    match ty {
        Ty::Bool | Ty::Enum(_) | Ty::Rec(_) => vec![I32],
        Ty::Int | Ty::Duration | Ty::Instant => vec![I64],
        Ty::Text | Ty::List(_) => vec![I32, I32],
        Ty::OptText => vec![I32, I32, I32],
        Ty::Money => vec![I64, I32, I32],
        Ty::Decimal => vec![I64, I32],
    }
}

/// An element of a list being built: one text, or every text of a list.
#[derive(Debug, Clone, PartialEq)]
pub enum ListItem {
    One(Ir),
    Many(Ir),
}

/// The value a missing custom field reads as.
fn zero(ty: &Ty) -> Ir {
    match ty {
        Ty::Text => Ir::Text(String::new()),
        Ty::List(_) => Ir::EmptyList,
        Ty::Bool => Ir::Bool(false),
        Ty::Money => Ir::MakeMoney(Box::new(Ir::I64(0)), Box::new(Ir::Text(String::new()))),
        _ => Ir::I64(0),
    }
}

/// Static data a function reads: table columns and DFA tables.
pub struct Statics {
    /// Address of each column's values.
    pub columns: Vec<(u32, Ty)>,
    /// (next table, flags, search) of each regex.
    pub regexes: Vec<(u32, u32, bool)>,
    /// Address of each enum's name table.
    pub enum_names: Vec<(EnumTy, u32)>,
    /// Offset of `setting.value` and of field-value's payload.
    pub setting_value: u32,
    pub field_value_payload: u32,
    /// Size of a `setting` list element.
    pub setting_size: u32,
    /// Offset of `context.settings`.
    pub ctx_settings: u32,
    /// Offset of `ticket.fields`.
    pub ticket_fields: u32,
    /// Size of a `custom-field` and offset of its value.
    pub custom_field_size: u32,
    pub custom_field_value: u32,
    /// Offset of `money.currency`.
    pub money_currency: u32,
}

/// A column's values as little-endian bytes, one `N`-byte cell each.
///
/// # Panics
/// A value of another type than the column's: the checker types every
/// column, so that is a compiler defect.
fn column_bytes<const N: usize>(values: &[Ir], cell: impl Fn(&Ir) -> Option<[u8; N]>) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| cell(v).unwrap_or_else(|| unreachable!("column holds {v:?}")))
        .collect()
}

impl Statics {
    /// Lays out columns, DFAs and enum names in the module's data.
    pub fn new(m: &mut ModuleBuilder, abi: &Abi, columns: &[Column], regexes: &[Dfa]) -> Statics {
        let columns = columns
            .iter()
            .map(|c| {
                let at = match &c.ty {
                    Ty::Text => {
                        let texts: Vec<String> = c
                            .values
                            .iter()
                            .map(|v| match v {
                                Ir::Text(s) => s.clone(),
                                other => unreachable!("text column holds {other:?}"),
                            })
                            .collect();
                        m.string_table(&texts)
                    }
                    Ty::Enum(_) => m.data(
                        &column_bytes(&c.values, |v| match v {
                            Ir::Enum(e) => Some(e.to_le_bytes()),
                            _ => None,
                        }),
                        4,
                    ),
                    _ => m.data(
                        &column_bytes(&c.values, |v| match v {
                            Ir::I64(n) => Some(n.to_le_bytes()),
                            _ => None,
                        }),
                        8,
                    ),
                };
                (at, c.ty.clone())
            })
            .collect();
        let regexes = regexes
            .iter()
            .map(|d| {
                let next: Vec<u8> = d.next.iter().flat_map(|s| s.to_le_bytes()).collect();
                let next = m.data(&next, 2);
                let flags = m.data(&d.flags, 1);
                (next, flags, d.search)
            })
            .collect();
        let enums = [
            EnumTy::Priority,
            EnumTy::Status,
            EnumTy::Channel,
            EnumTy::AuthorKind,
            EnumTy::EventKind,
        ];
        let enum_names = enums
            .iter()
            .map(|e| {
                let names: Vec<String> = e.names().iter().map(|s| s.to_string()).collect();
                (*e, m.string_table(&names))
            })
            .collect();
        let setting = abi.named("types", "setting");
        let value = abi.record_field(&setting, "value");
        Statics {
            columns,
            regexes,
            enum_names,
            setting_value: value.offset,
            field_value_payload: abi.payload_offset(&value.ty),
            setting_size: abi.size(&setting),
            ctx_settings: abi.field("types", "context", "settings").offset,
            ticket_fields: abi.field("types", "ticket", "fields").offset,
            custom_field_size: abi.size(&abi.named("types", "custom-field")),
            custom_field_value: abi.field("types", "custom-field", "value").offset,
            money_currency: abi.field("types", "money", "currency").offset,
        }
    }
}

/// Generates one function's body.
pub struct FuncGen<'m> {
    /// The module (for helpers, data and block types).
    pub m: &'m mut ModuleBuilder,
    /// Static data.
    pub statics: &'m Statics,
    /// Wasm locals beyond the parameters.
    locals: Vec<ValType>,
    params: u32,
    /// First wasm local of each checker local.
    slots: Vec<u32>,
    /// Type of each checker local.
    local_tys: Vec<Ty>,
    /// The body so far.
    pub code: Vec<I<'static>>,
    /// Wasm locals holding each export parameter's address.
    pub param_locals: [u32; 3],
    /// The overflow message of the innermost [`Ir::Located`] being emitted.
    site: Option<(u32, u32)>,
}

impl<'m> FuncGen<'m> {
    /// A function of `params` wasm parameters, with wasm locals for every
    /// checker local.
    pub fn new(
        m: &'m mut ModuleBuilder,
        statics: &'m Statics,
        params: u32,
        checker_locals: &[Ty],
    ) -> Self {
        let mut g = FuncGen {
            m,
            statics,
            locals: Vec::new(),
            params,
            slots: Vec::new(),
            local_tys: checker_locals.to_vec(),
            code: Vec::new(),
            param_locals: [0; 3],
            site: None,
        };
        for ty in checker_locals {
            let first = g.params + g.locals.len() as u32;
            g.locals.extend(flat(ty));
            g.slots.push(first);
        }
        g
    }

    /// A fresh wasm local.
    pub fn temp(&mut self, ty: ValType) -> u32 {
        self.locals.push(ty);
        self.params + self.locals.len() as u32 - 1
    }

    /// Fresh locals for a flat value.
    pub fn temps(&mut self, ty: &Ty) -> Vec<u32> {
        flat(ty).into_iter().map(|v| self.temp(v)).collect()
    }

    /// Pops a flat value into locals (last value first).
    pub fn set_all(&mut self, locals: &[u32]) {
        for l in locals.iter().rev() {
            self.code.push(I::LocalSet(*l));
        }
    }

    /// Pushes locals.
    pub fn get_all(&mut self, locals: &[u32]) {
        for l in locals {
            self.code.push(I::LocalGet(*l));
        }
    }

    /// Emits an expression and stores it in fresh locals.
    pub fn spill_to_locals(&mut self, ir: &Ir, ty: &Ty) -> Vec<u32> {
        self.expr(ir);
        let locals = self.temps(ty);
        self.set_all(&locals);
        locals
    }

    /// Emits a call to a helper.
    pub fn call(&mut self, h: Helper) {
        let index = self.m.helper(h);
        self.code.push(I::Call(index));
    }

    /// Emits a checked i64 `op` of the two values on the stack: an overflow
    /// traps with the message of the enclosing [`Ir::Located`], or `what`.
    pub fn checked(&mut self, op: Helper, what: &str) {
        let (p, l) = match self.site {
            Some(site) => site,
            None => self
                .m
                .string(&format!("integer overflow: {what} does not fit in 64 bits")),
        };
        self.code
            .extend([I::I32Const(p as i32), I::I32Const(l as i32)]);
        self.call(op);
    }

    /// Emits `ptr = alloc(size, align)` into a fresh local.
    pub fn alloc(&mut self, size: Vec<I<'static>>, align: u32) -> u32 {
        self.code.extend(size);
        self.code.push(I::I32Const(align as i32));
        self.call(Helper::Alloc);
        let ptr = self.temp(ValType::I32);
        self.code.push(I::LocalSet(ptr));
        ptr
    }

    /// The finished function.
    pub fn finish(mut self) -> Function {
        self.code.push(I::End);
        let mut f = Function::new_with_locals_types(self.locals.iter().copied());
        for i in &self.code {
            f.instruction(i);
        }
        f
    }

    /// Runs statements.
    pub fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            match s {
                Stmt::Let(local, ty, ir) => {
                    self.expr(ir);
                    let first = self.slots[*local as usize];
                    let n = flat(ty).len() as u32;
                    let locals: Vec<u32> = (first..first + n).collect();
                    self.set_all(&locals);
                }
                Stmt::PickMin {
                    result,
                    var,
                    elem_size,
                    list,
                    cond,
                    key,
                } => self.pick_min(*result, *var, *elem_size, list, cond, key),
                Stmt::FirstRow { local, rows } => {
                    let slot = self.slots[*local as usize];
                    self.code.push(I::Block(BlockType::Empty));
                    for (i, row) in rows.iter().enumerate() {
                        self.expr(row);
                        self.code.extend([
                            I::If(BlockType::Empty),
                            I::I32Const(i as i32),
                            I::LocalSet(slot),
                            I::Br(1),
                            I::End,
                        ]);
                    }
                    self.code
                        .extend([I::I32Const(-1), I::LocalSet(slot), I::End]);
                }
            }
        }
    }

    /// Emits an expression, leaving its flat value on the stack.
    pub fn expr(&mut self, ir: &Ir) {
        match ir {
            Ir::Bool(v) => self.code.push(I::I32Const(i32::from(*v))),
            Ir::I64(v) => self.code.push(I::I64Const(*v)),
            Ir::Enum(v) => self.code.push(I::I32Const(*v)),
            Ir::Text(s) => {
                let (p, l) = self.m.string(s);
                self.code
                    .extend([I::I32Const(p as i32), I::I32Const(l as i32)]);
            }
            Ir::SomeText(t) => {
                self.code.push(I::I32Const(1));
                self.expr(t);
            }
            Ir::EmptyList => self.code.extend([I::I32Const(0), I::I32Const(0)]),
            Ir::Param(n) => self.code.push(I::LocalGet(self.param_locals[*n as usize])),
            Ir::Wasm(locals) => self.get_all(locals),
            Ir::Located(span, inner) => {
                let outer = self.site.replace(self.m.overflow_message(span));
                self.expr(inner);
                self.site = outer;
            }
            Ir::Local(id, ty) => {
                let first = self.slots[*id as usize];
                for i in 0..flat(ty).len() as u32 {
                    self.code.push(I::LocalGet(first + i));
                }
            }
            Ir::Field {
                base,
                offset,
                load,
                ty,
            } => self.field(base, *offset, *load, ty),
            Ir::Offset(base, off) => {
                self.expr(base);
                self.code.extend([I::I32Const(*off as i32), I::I32Add]);
            }
            Ir::CustomField {
                key,
                case,
                ty,
                present,
            } => self.custom_field(key, *case, ty, *present),
            Ir::Setting { key, kind, default } => self.setting(key, *kind, default),
            Ir::Not(_) | Ir::And(..) | Ir::Or(..) | Ir::Cmp { .. } | Ir::If { .. } => {
                self.logic(ir);
            }
            Ir::Arith(op, a, b) => self.arith(*op, a, b, true),
            Ir::EnumMinMax(op, a, b) => self.arith(*op, a, b, false),
            Ir::Neg(v) => {
                self.code.push(I::I64Const(0));
                self.expr(v);
                self.code.push(I::I64Sub);
            }
            Ir::EnumRaise(v, cap) => self.enum_raise(v, *cap),
            Ir::EnumName(e, v) => self.enum_name(*e, v),
            Ir::TextTest(..)
            | Ir::OptTextEq(..)
            | Ir::ListHas(..)
            | Ir::Coalesce(..)
            | Ir::IsSome(_)
            | Ir::Len(_)
            | Ir::Slice(..)
            | Ir::Matches(..)
            | Ir::ValueHas(..)
            | Ir::ValueJoin(_) => self.text(ir),
            Ir::Concat(parts) => self.concat(parts),
            Ir::FormatInt(v) => {
                self.expr(v);
                self.call(Helper::FormatInt);
            }
            Ir::FormatMoney(v) => {
                self.expr(v);
                self.call(Helper::FormatMoney);
            }
            Ir::MakeMoney(..)
            | Ir::MoneyAmount(_)
            | Ir::MoneyCurrency(_)
            | Ir::MoneyAddSub(..)
            | Ir::MulRatio { .. }
            | Ir::DivRound { .. }
            | Ir::MakeDecimal(..) => self.money(ir),
            Ir::LocalTime {
                instant,
                offset_minutes,
                weekday,
            } => {
                self.expr(instant);
                self.expr(offset_minutes);
                self.code.push(I::I32Const(i32::from(*weekday)));
                self.call(Helper::LocalTime);
            }
            Ir::Quantified {
                quantifier,
                var,
                elem_size,
                list,
                cond,
            } => self.quantified(*quantifier, *var, *elem_size, list, cond),
            Ir::Block(stmts, v) => {
                self.stmts(stmts);
                self.expr(v);
            }
            Ir::Collect { rows, column } => self.collect(rows, *column),
            Ir::Row { column, row, ty } => self.row(*column, *row, ty),
        }
    }

    /// Booleans and choices: `not`, `and`, `or`, comparisons, `if`.
    fn logic(&mut self, ir: &Ir) {
        match ir {
            Ir::Not(v) => {
                self.expr(v);
                self.code.push(I::I32Eqz);
            }
            Ir::And(a, b) => {
                self.expr(a);
                self.code.push(I::If(BlockType::Result(ValType::I32)));
                self.expr(b);
                self.code.extend([I::Else, I::I32Const(0), I::End]);
            }
            Ir::Or(a, b) => {
                self.expr(a);
                self.code.extend([
                    I::If(BlockType::Result(ValType::I32)),
                    I::I32Const(1),
                    I::Else,
                ]);
                self.expr(b);
                self.code.push(I::End);
            }
            Ir::Cmp { op, wide, l, r } => {
                self.expr(l);
                self.expr(r);
                self.code.push(match (op, wide) {
                    (Cmp::Eq, true) => I::I64Eq,
                    (Cmp::Lt, true) => I::I64LtS,
                    (Cmp::Le, true) => I::I64LeS,
                    (Cmp::Gt, true) => I::I64GtS,
                    (Cmp::Ge, true) => I::I64GeS,
                    (Cmp::Eq, false) => I::I32Eq,
                    (Cmp::Lt, false) => I::I32LtS,
                    (Cmp::Le, false) => I::I32LeS,
                    (Cmp::Gt, false) => I::I32GtS,
                    (Cmp::Ge, false) => I::I32GeS,
                });
            }
            Ir::If { c, a, b, ty } => {
                self.expr(c);
                let bt = self.m.block_type(&flat(ty));
                self.code.push(I::If(bt));
                self.expr(a);
                self.code.push(I::Else);
                self.expr(b);
                self.code.push(I::End);
            }
            other => unreachable!("not a logical expression: {other:?}"),
        }
    }

    /// Text tests, slices and measures, optional text, lists of text,
    /// patterns and field-value text forms.
    fn text(&mut self, ir: &Ir) {
        match ir {
            Ir::TextTest(pred, a, b) => {
                self.expr(a);
                self.expr(b);
                self.call(match pred {
                    TextPred::Eq => Helper::StrEq,
                    TextPred::StartsWith => Helper::StartsWith,
                    TextPred::EndsWith => Helper::EndsWith,
                    TextPred::Contains => Helper::Contains,
                });
            }
            Ir::OptTextEq(o, t) => {
                let o = self.spill_to_locals(o, &Ty::OptText);
                let t = self.spill_to_locals(t, &Ty::Text);
                self.code
                    .extend([I::LocalGet(o[0]), I::If(BlockType::Result(ValType::I32))]);
                self.get_all(&[o[1], o[2], t[0], t[1]]);
                self.call(Helper::StrEq);
                self.code.extend([I::Else, I::I32Const(0), I::End]);
            }
            Ir::ListHas(list, item) => {
                self.expr(list);
                self.expr(item);
                self.call(Helper::ListHas);
            }
            Ir::Coalesce(o, d) => {
                let o = self.spill_to_locals(o, &Ty::OptText);
                let d = self.spill_to_locals(d, &Ty::Text);
                for i in 0..2 {
                    self.code.extend([
                        I::LocalGet(o[i + 1]),
                        I::LocalGet(d[i]),
                        I::LocalGet(o[0]),
                        I::Select,
                    ]);
                }
            }
            Ir::IsSome(o) => {
                self.expr(o);
                self.code.extend([I::Drop, I::Drop]);
            }
            Ir::Len(v) => {
                self.expr(v);
                let l = self.temp(ValType::I32);
                self.code
                    .extend([I::LocalSet(l), I::Drop, I::LocalGet(l), I::I64ExtendI32U]);
            }
            Ir::Slice(kind, t, sep) => {
                self.expr(t);
                self.expr(sep);
                self.call(match kind {
                    Slice::StripPrefix => Helper::StripPrefix,
                    Slice::BeforeLast => Helper::BeforeLast,
                    Slice::AfterLast => Helper::AfterLast,
                });
            }
            Ir::Matches(t, index) => {
                let (next, flags, search) = self.statics.regexes[*index as usize];
                let t = self.spill_to_locals(t, &Ty::Text);
                self.code.extend([
                    I::I32Const(next as i32),
                    I::I32Const(flags as i32),
                    I::I32Const(i32::from(search)),
                ]);
                self.get_all(&t);
                self.call(Helper::DfaRun);
            }
            Ir::ValueHas(v, t) => {
                self.expr(v);
                self.expr(t);
                self.call(Helper::ValueHas);
            }
            Ir::ValueJoin(v) => {
                self.expr(v);
                self.call(Helper::ValueJoin);
            }
            other => unreachable!("not a text expression: {other:?}"),
        }
    }

    /// Money and decimals: construction, parts, checked sums, ratios and
    /// rounding.
    fn money(&mut self, ir: &Ir) {
        match ir {
            Ir::MakeMoney(a, c) => {
                self.expr(a);
                self.expr(c);
            }
            Ir::MoneyAmount(m) => {
                self.expr(m);
                self.code.extend([I::Drop, I::Drop]);
            }
            Ir::MoneyCurrency(m) => {
                let v = self.spill_to_locals(m, &Ty::Money);
                self.get_all(&v[1..]);
            }
            Ir::MoneyAddSub(op, a, b) => {
                let a = self.spill_to_locals(a, &Ty::Money);
                let b = self.spill_to_locals(b, &Ty::Money);
                self.get_all(&[a[1], a[2], b[1], b[2]]);
                self.call(Helper::StrEq);
                // Adding different currencies is a bug in the rules: trap.
                self.code
                    .extend([I::I32Eqz, I::If(BlockType::Empty), I::Unreachable, I::End]);
                self.get_all(&[a[0], b[0]]);
                let op = if *op == Arith::Add {
                    Helper::CheckedAdd
                } else {
                    Helper::CheckedSub
                };
                self.checked(op, "a money sum");
                self.get_all(&a[1..]);
            }
            Ir::MulRatio {
                money,
                num,
                den,
                rounding,
            } => {
                let m = self.spill_to_locals(money, &Ty::Money);
                self.code.push(I::LocalGet(m[0]));
                self.expr(num);
                self.checked(Helper::CheckedMul, "a money amount times a ratio");
                self.expr(den);
                self.code.push(I::I32Const(*rounding as i32));
                self.call(Helper::DivRound);
                self.get_all(&m[1..]);
            }
            Ir::DivRound {
                value,
                den,
                mul,
                rounding,
            } => {
                self.expr(value);
                self.expr(den);
                self.code.push(I::I32Const(*rounding as i32));
                self.call(Helper::DivRound);
                self.expr(mul);
                self.checked(Helper::CheckedMul, "a rounded value times its increment");
            }
            Ir::MakeDecimal(m, scale) => {
                self.expr(m);
                self.code.push(I::I32Const(i32::from(*scale)));
            }
            other => unreachable!("not a money expression: {other:?}"),
        }
    }

    /// A priority one step up, capped.
    fn enum_raise(&mut self, v: &Ir, cap: i32) {
        self.expr(v);
        self.code.extend([I::I32Const(1), I::I32Add]);
        let t = self.temp(ValType::I32);
        self.code.extend([
            I::LocalTee(t),
            I::I32Const(cap),
            I::LocalGet(t),
            I::I32Const(cap),
            I::I32LtS,
            I::Select,
        ]);
    }

    /// A choice's name from the static name table (a missing value, -1,
    /// reads as "").
    fn enum_name(&mut self, e: EnumTy, v: &Ir) {
        let table = self
            .statics
            .enum_names
            .iter()
            .find(|(k, _)| *k == e)
            .expect("every enum has names")
            .1;
        let empty = self.m.string("");
        self.expr(v);
        let i = self.temp(ValType::I32);
        let at = self.temp(ValType::I32);
        self.code.extend([
            I::LocalTee(i),
            I::I32Const(0),
            I::I32LtS,
            I::If(BlockType::FunctionType(
                self.m.type_index(&[], &[ValType::I32, ValType::I32]),
            )),
            I::I32Const(empty.0 as i32),
            I::I32Const(0),
            I::Else,
            I::LocalGet(i),
            I::I32Const(3),
            I::I32Shl,
            I::I32Const(table as i32),
            I::I32Add,
            I::LocalTee(at),
            I::I32Load(mem(0, 2)),
            I::LocalGet(at),
            I::I32Load(mem(4, 2)),
            I::End,
        ]);
    }

    /// A static column's value in the table row held by local `row`.
    fn row(&mut self, column: u32, row: u32, ty: &Ty) {
        let (at, _) = self.statics.columns[column as usize];
        let slot = self.slots[row as usize];
        let width = match ty {
            Ty::Enum(_) => 4,
            _ => 8,
        };
        self.code.extend([
            I::LocalGet(slot),
            I::I32Const(width),
            I::I32Mul,
            I::I32Const(at as i32),
            I::I32Add,
        ]);
        match ty {
            Ty::Text => {
                let p = self.temp(ValType::I32);
                self.code.extend([
                    I::LocalTee(p),
                    I::I32Load(mem(0, 2)),
                    I::LocalGet(p),
                    I::I32Load(mem(4, 2)),
                ]);
            }
            Ty::Enum(_) => self.code.push(I::I32Load(mem(0, 2))),
            _ => self.code.push(I::I64Load(mem(0, 3))),
        }
    }

    fn field(&mut self, base: &Ir, offset: u32, load: Load, ty: &Ty) {
        self.expr(base);
        match load {
            Load::U8 => {
                self.code.push(I::I32Load8U(mem(offset, 0)));
                if ty.is_i64() {
                    self.code.push(I::I64ExtendI32U);
                }
            }
            Load::U32 => self.code.push(I::I64Load32U(mem(offset, 2))),
            Load::S64 => self.code.push(I::I64Load(mem(offset, 3))),
            Load::Inline => self.code.extend([I::I32Const(offset as i32), I::I32Add]),
            Load::PtrLen => {
                let p = self.temp(ValType::I32);
                self.code.extend([
                    I::LocalTee(p),
                    I::I32Load(mem(offset, 2)),
                    I::LocalGet(p),
                    I::I32Load(mem(offset + 4, 2)),
                ]);
            }
            Load::OptStr(payload) => {
                let p = self.temp(ValType::I32);
                self.code.extend([
                    I::LocalTee(p),
                    I::I32Load8U(mem(offset, 0)),
                    I::LocalGet(p),
                    I::I32Load(mem(offset + payload, 2)),
                    I::LocalGet(p),
                    I::I32Load(mem(offset + payload + 4, 2)),
                ]);
            }
            Load::Money(currency) => {
                let p = self.temp(ValType::I32);
                self.code.extend([
                    I::LocalTee(p),
                    I::I64Load(mem(offset, 3)),
                    I::LocalGet(p),
                    I::I32Load(mem(offset + currency, 2)),
                    I::LocalGet(p),
                    I::I32Load(mem(offset + currency + 4, 2)),
                ]);
            }
        }
    }

    fn arith(&mut self, op: Arith, a: &Ir, b: &Ir, wide: bool) {
        let vt = if wide { ValType::I64 } else { ValType::I32 };
        match op {
            Arith::Min | Arith::Max => {
                self.expr(a);
                let x = self.temp(vt);
                self.code.push(I::LocalSet(x));
                self.expr(b);
                let y = self.temp(vt);
                self.code.push(I::LocalSet(y));
                let lt = if wide { I::I64LtS } else { I::I32LtS };
                // min: x if x <= y (the first on ties), max: x if x >= y.
                self.code.extend([I::LocalGet(x), I::LocalGet(y)]);
                if op == Arith::Min {
                    self.code
                        .extend([I::LocalGet(y), I::LocalGet(x), lt, I::I32Eqz, I::Select]);
                } else {
                    self.code
                        .extend([I::LocalGet(x), I::LocalGet(y), lt, I::I32Eqz, I::Select]);
                }
            }
            Arith::Add | Arith::Sub | Arith::Mul if wide => {
                self.expr(a);
                self.expr(b);
                let helper = match op {
                    Arith::Add => Helper::CheckedAdd,
                    Arith::Sub => Helper::CheckedSub,
                    _ => Helper::CheckedMul,
                };
                self.checked(helper, "arithmetic in a rule");
            }
            _ => {
                self.expr(a);
                self.expr(b);
                self.code.push(match (op, wide) {
                    (Arith::Div, true) => I::I64DivS,
                    (Arith::Add, false) => I::I32Add,
                    (Arith::Sub, false) => I::I32Sub,
                    (Arith::Mul, false) => I::I32Mul,
                    _ => I::I32DivS,
                });
            }
        }
    }

    fn concat(&mut self, parts: &[Ir]) {
        let pieces: Vec<Vec<u32>> = parts
            .iter()
            .map(|p| self.spill_to_locals(p, &Ty::Text))
            .collect();
        let mut size = vec![I::I32Const(0)];
        for p in &pieces {
            size.extend([I::LocalGet(p[1]), I::I32Add]);
        }
        let out = self.alloc(size, 1);
        let at = self.temp(ValType::I32);
        self.code.extend([I::LocalGet(out), I::LocalSet(at)]);
        for p in &pieces {
            self.code.extend([
                I::LocalGet(at),
                I::LocalGet(p[0]),
                I::LocalGet(p[1]),
                I::MemoryCopy {
                    src_mem: 0,
                    dst_mem: 0,
                },
                I::LocalGet(at),
                I::LocalGet(p[1]),
                I::I32Add,
                I::LocalSet(at),
            ]);
        }
        self.code.extend([
            I::LocalGet(out),
            I::LocalGet(at),
            I::LocalGet(out),
            I::I32Sub,
        ]);
    }

    fn setting(&mut self, key: &Ir, kind: SettingKind, default: &Ir) {
        let s = self.statics;
        let key = self.spill_to_locals(key, &Ty::Text);
        let found = self.temp(ValType::I32);
        let tag = self.temp(ValType::I32);
        self.code.extend([
            I::LocalGet(self.param_locals[2]),
            I::I32Load(mem(s.ctx_settings, 2)),
            I::LocalGet(self.param_locals[2]),
            I::I32Load(mem(s.ctx_settings + 4, 2)),
            I::LocalGet(key[0]),
            I::LocalGet(key[1]),
            I::I32Const(s.setting_size as i32),
        ]);
        self.call(Helper::FindByKey);
        // field-value cases: text 0, integer 1, date 3, checkbox 5, choice 6, money 8
        let accepted: &[i32] = match kind {
            SettingKind::Text => &[0, 3, 6],
            SettingKind::Integer => &[1],
            SettingKind::Bool => &[5],
            SettingKind::Money => &[8],
        };
        self.code.extend([
            I::LocalTee(found),
            I::If(BlockType::Result(ValType::I32)),
            I::LocalGet(found),
            I::I32Load8U(mem(s.setting_value, 0)),
            I::LocalSet(tag),
            I::I32Const(0),
        ]);
        for case in accepted {
            self.code
                .extend([I::LocalGet(tag), I::I32Const(*case), I::I32Eq, I::I32Or]);
        }
        self.code.extend([I::Else, I::I32Const(0), I::End]);
        let ty = crate::ir::setting_ty(kind);
        let bt = self.m.block_type(&flat(&ty));
        self.code.push(I::If(bt));
        let payload = s.setting_value + s.field_value_payload;
        self.code.push(I::LocalGet(found));
        match kind {
            SettingKind::Text => {
                let p = self.temp(ValType::I32);
                self.code.extend([
                    I::LocalTee(p),
                    I::I32Load(mem(payload, 2)),
                    I::LocalGet(p),
                    I::I32Load(mem(payload + 4, 2)),
                ]);
            }
            SettingKind::Integer => self.code.push(I::I64Load(mem(payload, 3))),
            SettingKind::Bool => self.code.push(I::I32Load8U(mem(payload, 0))),
            SettingKind::Money => {
                let p = self.temp(ValType::I32);
                self.code.extend([
                    I::LocalTee(p),
                    I::I64Load(mem(payload, 3)),
                    I::LocalGet(p),
                    I::I32Load(mem(payload + 8, 2)),
                    I::LocalGet(p),
                    I::I32Load(mem(payload + 12, 2)),
                ]);
            }
        }
        self.code.push(I::Else);
        self.expr(default);
        self.code.push(I::End);
    }

    fn collect(&mut self, rows: &[Ir], column: u32) {
        let (at, _) = self.statics.columns[column as usize];
        let buf = self.alloc(vec![I::I32Const(8 * rows.len() as i32)], 4);
        let n = self.temp(ValType::I32);
        for (i, row) in rows.iter().enumerate() {
            self.expr(row);
            self.code.extend([
                I::If(BlockType::Empty),
                I::LocalGet(buf),
                I::LocalGet(n),
                I::I32Const(3),
                I::I32Shl,
                I::I32Add,
                I::I32Const((at + 8 * i as u32) as i32),
                I::I64Load(mem(0, 3)),
                I::I64Store(mem(0, 2)),
                I::LocalGet(n),
                I::I32Const(1),
                I::I32Add,
                I::LocalSet(n),
                I::End,
            ]);
        }
        self.code.extend([I::LocalGet(buf), I::LocalGet(n)]);
    }

    /// Pushes the address of the ticket's custom field `key` (its
    /// `custom-field` record), or 0 when the ticket has none.
    pub fn find_custom_field(&mut self, key: &str) {
        let s = self.statics;
        let (p, l) = self.m.string(key);
        self.code.extend([
            I::LocalGet(self.param_locals[1]),
            I::I32Load(mem(s.ticket_fields, 2)),
            I::LocalGet(self.param_locals[1]),
            I::I32Load(mem(s.ticket_fields + 4, 2)),
            I::I32Const(p as i32),
            I::I32Const(l as i32),
            I::I32Const(s.custom_field_size as i32),
        ]);
        self.call(Helper::FindByKey);
    }

    fn custom_field(&mut self, key: &str, case: i32, ty: &Ty, present: bool) {
        let s = self.statics;
        let f = self.temp(ValType::I32);
        self.find_custom_field(key);
        self.code.extend([
            I::LocalTee(f),
            I::If(BlockType::Result(ValType::I32)),
            I::LocalGet(f),
            I::I32Load8U(mem(s.custom_field_value, 0)),
            I::I32Const(case),
            I::I32Eq,
            I::Else,
            I::I32Const(0),
            I::End,
        ]);
        if present {
            return;
        }
        let bt = self.m.block_type(&flat(ty));
        self.code.push(I::If(bt));
        let at = s.custom_field_value + s.field_value_payload;
        let load = match ty {
            Ty::Text | Ty::List(_) => Load::PtrLen,
            Ty::Int | Ty::Instant => Load::S64,
            Ty::Bool => Load::U8,
            Ty::Money => Load::Money(s.money_currency),
            other => unreachable!("custom field of type {other:?}"),
        };
        self.field(&Ir::Wasm(vec![f]), at, load, ty);
        self.code.push(I::Else);
        self.expr(&zero(ty));
        self.code.push(I::End);
    }

    fn pick_min(&mut self, result: u32, var: u32, elem_size: u32, list: &Ir, cond: &Ir, key: &Ir) {
        let best = self.temp(ValType::I64);
        let k = self.temp(ValType::I64);
        let slot = self.slots[var as usize];
        let out = self.slots[result as usize];
        self.code.extend([I::I32Const(0), I::LocalSet(out)]);
        self.for_each(list, elem_size, var, |g| {
            g.expr(cond);
            g.code.push(I::If(BlockType::Empty));
            g.expr(key);
            g.code.extend([
                I::LocalTee(k),
                I::LocalGet(best),
                I::I64LtS,
                I::LocalGet(out),
                I::I32Eqz,
                I::I32Or,
                I::If(BlockType::Empty),
                I::LocalGet(k),
                I::LocalSet(best),
                I::LocalGet(slot),
                I::LocalSet(out),
                I::End,
                I::End,
            ]);
        });
    }

    fn quantified(&mut self, q: Quantifier, var: u32, elem_size: u32, list: &Ir, cond: &Ir) {
        let acc = self.temp(ValType::I64);
        let init = if q == Quantifier::All { 1 } else { 0 };
        self.code.extend([I::I64Const(init), I::LocalSet(acc)]);
        self.for_each(list, elem_size, var, |g| {
            g.expr(cond);
            match q {
                Quantifier::Count => g.code.extend([
                    I::I64ExtendI32U,
                    I::LocalGet(acc),
                    I::I64Add,
                    I::LocalSet(acc),
                ]),
                Quantifier::Any => g.code.extend([
                    I::If(BlockType::Empty),
                    I::I64Const(1),
                    I::LocalSet(acc),
                    I::Br(2),
                    I::End,
                ]),
                Quantifier::All => g.code.extend([
                    I::I32Eqz,
                    I::If(BlockType::Empty),
                    I::I64Const(0),
                    I::LocalSet(acc),
                    I::Br(2),
                    I::End,
                ]),
            }
        });
        self.code.push(I::LocalGet(acc));
        if q != Quantifier::Count {
            self.code.push(I::I32WrapI64);
        }
    }
}

/// Stores of computed values into records being built in linear memory.
impl FuncGen<'_> {
    /// `*(dst + offset) = (ptr, len)` of a text or list value.
    pub fn store_pair(&mut self, dst: u32, offset: u32, value: &Ir, ty: &Ty) {
        let v = self.spill_to_locals(value, ty);
        self.code.extend([
            I::LocalGet(dst),
            I::LocalGet(v[0]),
            I::I32Store(mem(offset, 2)),
            I::LocalGet(dst),
            I::LocalGet(v[1]),
            I::I32Store(mem(offset + 4, 2)),
        ]);
    }

    /// Stores an i32 constant as one byte (tags, enums, bools).
    pub fn store_byte_const(&mut self, dst: u32, offset: u32, value: i32) {
        self.code.extend([
            I::LocalGet(dst),
            I::I32Const(value),
            I::I32Store8(mem(offset, 0)),
        ]);
    }

    /// Stores an i32 value (bool, enum) as one byte.
    pub fn store_byte(&mut self, dst: u32, offset: u32, value: &Ir) {
        self.code.push(I::LocalGet(dst));
        self.expr(value);
        self.code.push(I::I32Store8(mem(offset, 0)));
    }

    /// Stores an i64 value as `s64`.
    pub fn store_i64(&mut self, dst: u32, offset: u32, value: &Ir) {
        self.code.push(I::LocalGet(dst));
        self.expr(value);
        self.code.push(I::I64Store(mem(offset, 3)));
    }

    /// Stores an i64 value as `u32` (traps when it does not fit).
    pub fn store_u32(&mut self, dst: u32, offset: u32, value: &Ir) {
        let v = self.spill_to_locals(value, &Ty::Int);
        self.code.extend([
            I::LocalGet(v[0]),
            I::I64Const(u32::MAX.into()),
            I::I64GtU,
            I::If(BlockType::Empty),
            I::Unreachable,
            I::End,
            I::LocalGet(dst),
            I::LocalGet(v[0]),
            I::I32WrapI64,
            I::I32Store(mem(offset, 2)),
        ]);
    }

    /// Stores a `money` record at `dst + offset`.
    pub fn store_money(&mut self, dst: u32, offset: u32, currency_at: u32, value: &Ir) {
        let v = self.spill_to_locals(value, &Ty::Money);
        self.code.extend([
            I::LocalGet(dst),
            I::LocalGet(v[0]),
            I::I64Store(mem(offset, 3)),
            I::LocalGet(dst),
            I::LocalGet(v[1]),
            I::I32Store(mem(offset + currency_at, 2)),
            I::LocalGet(dst),
            I::LocalGet(v[2]),
            I::I32Store(mem(offset + currency_at + 4, 2)),
        ]);
    }

    /// Stores a `decimal` record (mantissa s64, scale u8 after it).
    pub fn store_decimal(&mut self, dst: u32, offset: u32, scale_at: u32, value: &Ir) {
        let v = self.spill_to_locals(value, &Ty::Decimal);
        self.code.extend([
            I::LocalGet(dst),
            I::LocalGet(v[0]),
            I::I64Store(mem(offset, 3)),
            I::LocalGet(dst),
            I::LocalGet(v[1]),
            I::I32Store8(mem(offset + scale_at, 0)),
        ]);
    }

    /// Builds a `list<string>` from single texts and lists of text, in
    /// order, and stores it at `dst + offset`.
    pub fn store_text_list(&mut self, dst: u32, offset: u32, items: &[ListItem]) {
        let parts: Vec<(bool, Vec<u32>)> = items
            .iter()
            .map(|item| match item {
                ListItem::One(t) => (false, self.spill_to_locals(t, &Ty::Text)),
                ListItem::Many(l) => (true, self.spill_to_locals(l, &Ty::List(Box::new(Ty::Text)))),
            })
            .collect();
        let mut count = vec![I::I32Const(0)];
        for (many, v) in &parts {
            count.extend(if *many {
                [I::LocalGet(v[1]), I::I32Add]
            } else {
                [I::I32Const(1), I::I32Add]
            });
        }
        let mut bytes = count.clone();
        bytes.extend([I::I32Const(8), I::I32Mul]);
        let list = self.alloc(bytes, 4);
        let at = self.temp(ValType::I32);
        self.code.extend([I::LocalGet(list), I::LocalSet(at)]);
        for (many, v) in &parts {
            if *many {
                self.code.extend([
                    I::LocalGet(at),
                    I::LocalGet(v[0]),
                    I::LocalGet(v[1]),
                    I::I32Const(8),
                    I::I32Mul,
                    I::MemoryCopy {
                        src_mem: 0,
                        dst_mem: 0,
                    },
                    I::LocalGet(at),
                    I::LocalGet(v[1]),
                    I::I32Const(8),
                    I::I32Mul,
                    I::I32Add,
                    I::LocalSet(at),
                ]);
            } else {
                self.code.extend([
                    I::LocalGet(at),
                    I::LocalGet(v[0]),
                    I::I32Store(mem(0, 2)),
                    I::LocalGet(at),
                    I::LocalGet(v[1]),
                    I::I32Store(mem(4, 2)),
                    I::LocalGet(at),
                    I::I32Const(8),
                    I::I32Add,
                    I::LocalSet(at),
                ]);
            }
        }
        self.code.extend([
            I::LocalGet(dst),
            I::LocalGet(list),
            I::I32Store(mem(offset, 2)),
            I::LocalGet(dst),
        ]);
        self.code.extend(count);
        self.code.push(I::I32Store(mem(offset + 4, 2)));
    }

    /// The export prologue: the parameter tuple's address is wasm local 0;
    /// each parameter's address goes into its own local.
    pub fn prologue(&mut self, offsets: &[u32]) {
        for (i, off) in offsets.iter().enumerate() {
            let l = self.temp(ValType::I32);
            self.code.extend([
                I::LocalGet(0),
                I::I32Const(*off as i32),
                I::I32Add,
                I::LocalSet(l),
            ]);
            self.param_locals[i] = l;
        }
    }
}

/// Loops and growable lists for sections that build lists.
impl FuncGen<'_> {
    /// `for i in start..bound { body }`, with `i` in the given wasm local
    /// (reset on every entry, so loops nested in other loops start over).
    /// Inside one `if` at the top of the body, `br 2` leaves the loop.
    pub fn counted_loop(
        &mut self,
        i: u32,
        start: I<'static>,
        bound: I<'static>,
        body: impl FnOnce(&mut Self),
    ) {
        self.code.extend([
            start,
            I::LocalSet(i),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(i),
            bound,
            I::I32GeU,
            I::BrIf(1),
        ]);
        body(self);
        self.code.extend([
            I::LocalGet(i),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(i),
            I::Br(0),
            I::End,
            I::End,
        ]);
    }

    /// For each element of a list: binds the checker local `var` to it (a
    /// record's address, or a text's pointer and length) and runs `body`.
    pub fn for_each(&mut self, list: &Ir, elem_size: u32, var: u32, body: impl FnOnce(&mut Self)) {
        let list = self.spill_to_locals(list, &Ty::Text);
        let i = self.temp(ValType::I32);
        let slot = self.slots[var as usize];
        let text = self.local_tys[var as usize] == Ty::Text;
        let at = self.temp(ValType::I32);
        self.counted_loop(i, I::I32Const(0), I::LocalGet(list[1]), |g| {
            g.code.extend([
                I::LocalGet(list[0]),
                I::LocalGet(i),
                I::I32Const(elem_size as i32),
                I::I32Mul,
                I::I32Add,
            ]);
            if text {
                g.code.extend([
                    I::LocalTee(at),
                    I::I32Load(mem(0, 2)),
                    I::LocalSet(slot),
                    I::LocalGet(at),
                    I::I32Load(mem(4, 2)),
                    I::LocalSet(slot + 1),
                ]);
            } else {
                g.code.push(I::LocalSet(slot));
            }
            body(g);
        });
    }

    /// The wasm local holding a one-slot checker local.
    pub fn slot(&self, local: u32) -> u32 {
        self.slots[local as usize]
    }
}

/// A list being filled: buffer, count and element size.
pub struct Growing {
    /// Address of the first element.
    pub buf: u32,
    /// Elements so far.
    pub count: u32,
    /// Element size.
    pub size: u32,
}

impl Growing {
    /// Allocates room for `capacity` elements (computed on the stack).
    pub fn new(g: &mut FuncGen, capacity: Vec<I<'static>>, size: u32, align: u32) -> Growing {
        let mut bytes = capacity;
        bytes.extend([I::I32Const(size as i32), I::I32Mul]);
        let buf = g.alloc(bytes, align);
        let count = g.temp(ValType::I32);
        Growing { buf, count, size }
    }

    /// Sets `at` to the next element's address and counts it.
    pub fn push(&self, g: &mut FuncGen, at: u32) {
        g.code.extend([
            I::LocalGet(self.buf),
            I::LocalGet(self.count),
            I::I32Const(self.size as i32),
            I::I32Mul,
            I::I32Add,
            I::LocalSet(at),
            I::LocalGet(self.count),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(self.count),
        ]);
    }

    /// Stores (buf, count) as a list at `dst + offset`.
    pub fn store(&self, g: &mut FuncGen, dst: u32, offset: u32) {
        g.code.extend([
            I::LocalGet(dst),
            I::LocalGet(self.buf),
            I::I32Store(mem(offset, 2)),
            I::LocalGet(dst),
            I::LocalGet(self.count),
            I::I32Store(mem(offset + 4, 2)),
        ]);
    }
}
