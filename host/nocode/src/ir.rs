//! The typed intermediate representation the checker produces and the
//! emitter turns into WebAssembly. Every node knows its type; every record
//! access is already an offset in the canonical ABI layout.

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
    Ne,
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
