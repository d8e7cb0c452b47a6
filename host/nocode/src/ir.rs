//! The typed intermediate representation the checker produces and the
//! emitter turns into WebAssembly. Every node knows its type; every record
//! access is already an offset in the canonical ABI layout. Also here: the
//! declarations (settings, tables, forms) the checker produces and the
//! lowering reads, so no phase depends on another's file for its types.

use crate::front::doc::Node;
use crate::front::expr::Expr;
use std::collections::BTreeMap;

/// Enumerations of the contract, compared by discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnumTy {
    /// `types.priority`
    Priority,
    /// `types.status`
    Status,
    /// `types.channel`
    Channel,
    /// `types.author-kind`
    AuthorKind,
    /// The case of `types.event-kind`.
    EventKind,
}

impl EnumTy {
    /// The case names as rule documents write them, in discriminant order.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            EnumTy::Priority => &["low", "normal", "high", "urgent"],
            EnumTy::Status => &["new", "open", "pending", "on_hold", "solved", "closed"],
            EnumTy::Channel => &["email", "web", "phone", "chat", "api"],
            EnumTy::AuthorKind => &["requester", "agent", "system"],
            EnumTy::EventKind => &docket_contract::EVENT_KIND_NAMES,
        }
    }

    /// What documents call the type.
    pub fn label(self) -> &'static str {
        match self {
            EnumTy::Priority => "priority",
            EnumTy::Status => "status",
            EnumTy::Channel => "channel",
            EnumTy::AuthorKind => "author kind",
            EnumTy::EventKind => "event kind",
        }
    }
}

/// Records of the contract that expressions can hold a pointer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecTy {
    Ticket,
    Requester,
    TimeEntry,
    Part,
    Agent,
    Brief,
    Comment,
}

impl RecTy {
    /// The WIT record name in `types`.
    pub fn wit_name(self) -> &'static str {
        match self {
            RecTy::Ticket => "ticket",
            RecTy::Requester => "requester",
            RecTy::TimeEntry => "time-entry",
            RecTy::Part => "part",
            RecTy::Agent => "agent",
            RecTy::Brief => "ticket-brief",
            RecTy::Comment => "comment",
        }
    }
}

/// The type of an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    Bool,
    Int,
    Duration,
    Instant,
    Text,
    /// Text that may be absent (`ticket.category`).
    OptText,
    Money,
    Decimal,
    Enum(EnumTy),
    Rec(RecTy),
    List(Box<Ty>),
}

impl Ty {
    /// What error messages call the type.
    pub fn label(&self) -> String {
        match self {
            Ty::Bool => "a condition (true/false)".into(),
            Ty::Int => "a number".into(),
            Ty::Duration => "a duration".into(),
            Ty::Instant => "an instant".into(),
            Ty::Text => "text".into(),
            Ty::OptText => "optional text".into(),
            Ty::Money => "money".into(),
            Ty::Decimal => "a decimal".into(),
            Ty::Enum(e) => format!("a {}", e.label()),
            Ty::Rec(r) => format!("a {} record", r.wit_name()),
            Ty::List(t) => format!("a list of {}", t.label()),
        }
    }

    /// Whether values of the type are 64-bit integers in wasm.
    pub fn is_i64(&self) -> bool {
        matches!(self, Ty::Int | Ty::Duration | Ty::Instant)
    }
}

/// How a record field is read from linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// `u8` (also `bool` and enums) → i32.
    U8,
    /// `u32` → i64.
    U32,
    /// `s64` → i64.
    S64,
    /// `string` / `list` → (ptr, len).
    PtrLen,
    /// `option<string>` → (is-some, ptr, len); payload at the given offset.
    OptStr(u32),
    /// A nested record: the field's address is the value.
    Inline,
    /// `money`: (amount, currency ptr, currency len); currency at the offset.
    Money(u32),
}

/// Integer arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    /// Truncating division; traps on zero.
    Div,
    Min,
    Max,
}

/// Comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Text predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextPred {
    Eq,
    StartsWith,
    EndsWith,
    Contains,
}

/// How a division rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    Up = 0,
    Down = 1,
    HalfEven = 2,
    HalfUp = 3,
}

/// Which part of text to keep around a separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// Text after a prefix (or all of it).
    StripPrefix,
    /// Text before the last separator (or all of it).
    BeforeLast,
    /// Text after the last separator (or nothing).
    AfterLast,
}

/// What `count(…)`, `any(…)`, `all(…)` compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Count,
    Any,
    All,
}

/// The kind of a setting lookup, by the field-value cases it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Text,
    Integer,
    Money,
    Bool,
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ir {
    Bool(bool),
    /// An i64 constant (numbers, durations, instants).
    I64(i64),
    /// An enum discriminant; -1 means "no value" and equals nothing.
    Enum(i32),
    /// Static text.
    Text(String),
    /// Present optional text.
    SomeText(Box<Ir>),
    /// The address of the n-th parameter of the export (event, ticket, context).
    Param(u32),
    /// A value already in wasm locals (one per flat component).
    Wasm(Vec<u32>),
    /// Whether the `field-value` at the address has the text among its
    /// text forms (choices, the text, a number, "true"/"false").
    ValueHas(Box<Ir>, Box<Ir>),
    /// The text forms of the `field-value` at the address, joined by ", ".
    ValueJoin(Box<Ir>),
    /// A custom field of the ticket as declared by the templates: its value
    /// when present with the declared case, else the type's zero; or, with
    /// `present`, whether it is there.
    CustomField {
        key: String,
        case: i32,
        ty: Ty,
        present: bool,
    },
    /// A local variable (let binding or loop element).
    Local(u32, Ty),
    /// The expression at this byte range of the document: arithmetic inside
    /// it that overflows traps with a message naming the range's text,
    /// line and column.
    Located(std::ops::Range<usize>, Box<Ir>),
    /// A field of the record at `base`, read as `load`, typed `ty`.
    Field {
        base: Box<Ir>,
        offset: u32,
        load: Load,
        ty: Ty,
    },
    /// An empty list.
    EmptyList,
    /// `base + offset`: the address of a variant payload or nested record.
    Offset(Box<Ir>, u32),
    Not(Box<Ir>),
    Neg(Box<Ir>),
    And(Box<Ir>, Box<Ir>),
    Or(Box<Ir>, Box<Ir>),
    /// i64 arithmetic.
    Arith(Arith, Box<Ir>, Box<Ir>),
    /// i32 max/min (enum ordering).
    EnumMinMax(Arith, Box<Ir>, Box<Ir>),
    /// The next enum value, capped at the given discriminant.
    EnumRaise(Box<Ir>, i32),
    /// Compare two i64 (`wide`) or two i32 values.
    Cmp {
        op: Cmp,
        wide: bool,
        l: Box<Ir>,
        r: Box<Ir>,
    },
    /// Text predicate on two texts.
    TextTest(TextPred, Box<Ir>, Box<Ir>),
    /// Optional text equals text: present and equal.
    OptTextEq(Box<Ir>, Box<Ir>),
    /// Whether a list of text holds the text.
    ListHas(Box<Ir>, Box<Ir>),
    /// Optional text, or the text when absent.
    Coalesce(Box<Ir>, Box<Ir>),
    /// Whether an optional text is present.
    IsSome(Box<Ir>),
    /// Length of text (bytes) or of a list.
    Len(Box<Ir>),
    /// `if c then a else b`, of type `ty`.
    If {
        c: Box<Ir>,
        a: Box<Ir>,
        b: Box<Ir>,
        ty: Ty,
    },
    /// Text made of parts (each text).
    Concat(Vec<Ir>),
    /// An i64 as decimal text.
    FormatInt(Box<Ir>),
    /// Money as `12.50 EUR`.
    FormatMoney(Box<Ir>),
    /// An enum's name: the names table and the value.
    EnumName(EnumTy, Box<Ir>),
    /// Money from an amount and a currency.
    MakeMoney(Box<Ir>, Box<Ir>),
    /// The amount of money (i64).
    MoneyAmount(Box<Ir>),
    /// The currency of money (text).
    MoneyCurrency(Box<Ir>),
    /// Money plus or minus money; traps on a currency mismatch.
    MoneyAddSub(Arith, Box<Ir>, Box<Ir>),
    /// `money × num ÷ den`, rounded.
    MulRatio {
        money: Box<Ir>,
        num: Box<Ir>,
        den: Box<Ir>,
        rounding: Rounding,
    },
    /// `value ÷ den` rounded, times `mul` (rounding to an increment is den = mul).
    DivRound {
        value: Box<Ir>,
        den: Box<Ir>,
        mul: Box<Ir>,
        rounding: Rounding,
    },
    /// A decimal: mantissa and scale.
    MakeDecimal(Box<Ir>, u8),
    /// Hour of day (0–23) or ISO weekday (1–7) of an instant at a UTC offset in minutes.
    LocalTime {
        instant: Box<Ir>,
        offset_minutes: Box<Ir>,
        weekday: bool,
    },
    /// Part of a text around a separator.
    Slice(Slice, Box<Ir>, Box<Ir>),
    /// A setting by key with a default.
    Setting {
        key: Box<Ir>,
        kind: SettingKind,
        default: Box<Ir>,
    },
    /// Whether text matches the n-th compiled regular expression.
    Matches(Box<Ir>, u32),
    /// `count/any/all(x in list where cond)`: element bound to local `var`.
    Quantified {
        quantifier: Quantifier,
        var: u32,
        elem_size: u32,
        list: Box<Ir>,
        cond: Box<Ir>,
    },
    /// Evaluates a statement list (table lookups, lets) then the value.
    Block(Vec<Stmt>, Box<Ir>),
    /// The text outputs of every row whose condition holds, in row order:
    /// a `list<string>` (hit policy "collect").
    Collect {
        rows: Vec<Ir>,
        column: u32,
    },
    /// A decision table output: the static column's value at the row
    /// index held in an i32 local.
    Row {
        column: u32,
        row: u32,
        ty: Ty,
    },
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `local = value`.
    Let(u32, Ty, Ir),
    /// Sets the i32 local `result` to the address of the element of `list`
    /// (bound to `var`) that satisfies `cond` with the smallest `key` (the
    /// first on ties), or 0 when none does.
    PickMin {
        result: u32,
        var: u32,
        elem_size: u32,
        list: Ir,
        cond: Ir,
        key: Ir,
    },
    /// Evaluates the rows' conditions and sets the i32 local to the index
    /// of the first row that holds, or -1.
    FirstRow { local: u32, rows: Vec<Ir> },
}

// ---- declarations the checker resolves names against -----------------------

/// A declared setting: its type and default.
#[derive(Debug, Clone)]
pub struct SettingDecl {
    /// How the setting is read.
    pub kind: SettingKind,
    /// The default when the tenant did not configure it.
    pub default: Ir,
    /// Inclusive bounds an integer setting is clamped to.
    pub clamp: (Option<i64>, Option<i64>),
}

/// A static column of a decision table's outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The type of every value.
    pub ty: Ty,
    /// One constant per row.
    pub values: Vec<Ir>,
}

/// A decision table as written; inputs are checked where it is used.
#[derive(Clone)]
pub struct TableDecl<'a> {
    /// The table's name.
    pub name: String,
    /// Input expressions.
    pub inputs: Vec<Expr>,
    /// Input cells per row, in evaluation order.
    pub rows: Vec<Vec<Node<'a>>>,
    /// Output name → (column, type).
    pub outputs: BTreeMap<String, (u32, Ty)>,
    /// Hit policy "collect": every matching row, read with `collect(...)`.
    pub collect: bool,
}

/// The value type of a setting kind.
pub fn setting_ty(kind: SettingKind) -> Ty {
    match kind {
        SettingKind::Text => Ty::Text,
        SettingKind::Integer => Ty::Int,
        SettingKind::Money => Ty::Money,
        SettingKind::Bool => Ty::Bool,
    }
}

// ---- forms, as declared by `[[templates]]` and `[[validation]]` -------------

/// A field's type and constraints.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Text(Option<u32>),
    Textarea,
    Integer(Option<i64>, Option<i64>),
    Decimal(u8),
    Date,
    Datetime,
    Checkbox,
    Dropdown(Vec<(String, String)>),
    MultiSelect(Vec<(String, String)>),
    /// The pattern and its compiled DFA (index into the checker's regexes).
    Regex(String, u32),
    Money(String),
}

impl Kind {
    /// The `field-value` case a value of this kind has, and its type in
    /// expressions.
    pub fn value_case(&self) -> (i32, Ty) {
        match self {
            Kind::Text(_) | Kind::Textarea | Kind::Regex(..) => (0, Ty::Text),
            Kind::Integer(..) => (1, Ty::Int),
            Kind::Decimal(_) => (2, Ty::Decimal),
            Kind::Date => (3, Ty::Text),
            Kind::Datetime => (4, Ty::Instant),
            Kind::Checkbox => (5, Ty::Bool),
            Kind::Dropdown(_) => (6, Ty::Text),
            Kind::MultiSelect(_) => (7, Ty::List(Box::new(Ty::Text))),
            Kind::Money(_) => (8, Ty::Money),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Kind::Text(_) => "text",
            Kind::Textarea => "textarea",
            Kind::Integer(..) => "integer",
            Kind::Decimal(_) => "decimal",
            Kind::Date => "date",
            Kind::Datetime => "datetime",
            Kind::Checkbox => "checkbox",
            Kind::Dropdown(_) => "dropdown",
            Kind::MultiSelect(_) => "multi_select",
            Kind::Regex(..) => "regex",
            Kind::Money(_) => "money",
        }
    }

    /// What a value of the wrong type is told it should be.
    pub fn expected(&self) -> &'static str {
        match self {
            Kind::Text(_) | Kind::Textarea | Kind::Regex(..) => "text",
            Kind::Integer(..) => "a whole number",
            Kind::Decimal(_) => "a decimal number",
            Kind::Date => "a date",
            Kind::Datetime => "a date and time",
            Kind::Checkbox => "a checkbox",
            Kind::Dropdown(_) => "one choice",
            Kind::MultiSelect(_) => "a list of choices",
            Kind::Money(_) => "an amount of money",
        }
    }
}

/// Per parent value, the child values it allows.
pub type DependentOptions = Vec<(String, Vec<String>)>;

/// One field of a form.
#[derive(Debug, Clone)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub kind: Kind,
    pub on_create: bool,
    pub on_solve: bool,
    /// The default as a `field-value`.
    pub default: Option<Value>,
    /// Parent key and, per parent value, the allowed child values.
    pub depends_on: Option<(String, DependentOptions)>,
    /// Controlling key and the values that show the field.
    pub visible_when: Option<(String, Vec<String>)>,
    pub help: String,
}

/// A form.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub categories: Vec<String>,
    pub fields: Vec<Field>,
}

/// A field value set when a condition holds (`[[validation.set]]`).
pub struct SetRule {
    pub when: Ir,
    pub key: String,
    /// The `field-value` case and the value's type.
    pub case: i32,
    pub ty: Ty,
    pub value: Ir,
}

/// A validation rule beyond the forms.
pub struct Rule {
    pub when: Ir,
    pub field: String,
    pub code: i32,
    pub message: Ir,
}

/// A value of some contract type, as the compiler knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    /// Any integer type (`u8`, `u32`, `s64`, ...), stored at the type's width.
    Int(i64),
    List(Vec<Value>),
    /// Record fields or tuple elements, in order.
    Fields(Vec<Value>),
    /// Enum case, or variant case with its payload.
    Case(u32, Option<Box<Value>>),
    /// Option.
    Opt(Option<Box<Value>>),
}
