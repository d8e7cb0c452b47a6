//! The module being emitted: type and function tables, static data, and the
//! runtime helpers every compiled rule document shares (allocation, text
//! comparison, formatting, rounding, DFA walking). Helpers are plain
//! WebAssembly functions written instruction by instruction.

use std::collections::HashMap;
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection,
    Function, FunctionSection, GlobalSection, GlobalType, ImportSection, Instruction as I, MemArg,
    MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// Where static data starts; address 0 is never a valid value.
const DATA_BASE: u32 = 16;
/// Initial memory: 8 pages (512 KiB), so a typical event never grows it.
const INITIAL_PAGES: u64 = 8;

/// A memory operand at a static offset with natural alignment `align` (log2).
pub fn mem(offset: u32, align: u32) -> MemArg {
    MemArg {
        offset: offset.into(),
        align,
        memory_index: 0,
    }
}

/// Indices of the shared helpers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Helper {
    /// `(size, align) -> ptr`
    Alloc,
    /// `(p1, l1, p2, l2) -> bool`
    StrEq,
    StartsWith,
    EndsWith,
    Contains,
    /// `(list ptr, len, p, l) -> bool`
    ListHas,
    /// `(i64) -> (ptr, len)`
    FormatInt,
    /// `(amount, currency ptr, len) -> (ptr, len)`
    FormatMoney,
    /// `(num, den, rounding) -> i64`
    DivRound,
    /// `(instant, offset minutes, weekday?) -> i64`
    LocalTime,
    /// `(next, flags, search, p, l) -> bool`
    DfaRun,
    /// `(list ptr, len, key ptr, len, element size) -> element ptr or 0`
    FindByKey,
    /// `(p, l, sep p, sep l) -> (p, l)`
    StripPrefix,
    BeforeLast,
    AfterLast,
    /// `(p, l) -> bool`: only whitespace (`str::trim().is_empty()`).
    IsBlank,
    /// `(p, l) -> i64`: characters in UTF-8 text.
    CharCount,
    /// `(p, l) -> bool`: a valid `YYYY-MM-DD` date.
    IsIsoDate,
    /// `(field-value, p, l) -> bool`: the value's text forms include the text.
    ValueHas,
    /// `(field-value) -> (p, l)`: the value's text forms joined with ", ".
    ValueJoin,
    /// `(a, b, message p, l) -> i64`: `a + b`, or a trap with the message
    /// (reported to the host through `log.panicking`) when it overflows.
    CheckedAdd,
    /// `(a, b, message p, l) -> i64`: `a - b`, checked likewise.
    CheckedSub,
    /// `(a, b, message p, l) -> i64`: `a * b`, checked likewise.
    CheckedMul,
}

/// The one function the module imports: the contract's `log.panicking`,
/// through which a trap carries its reason to the host.
const PANICKING_MODULE: &str = "docket:plugin/log@0.1.0";
const PANICKING: &str = "panicking";
/// Functions imported before the defined ones (they come first in the
/// function index space).
const IMPORTED_FUNCTIONS: u32 = 1;
/// The index of the imported `panicking(ptr, len)`.
const PANICKING_INDEX: u32 = 0;

/// Builds the module.
pub struct ModuleBuilder {
    types: Vec<(Vec<ValType>, Vec<ValType>)>,
    functions: Vec<(u32, Function)>,
    exports: Vec<(String, u32)>,
    data: Vec<u8>,
    strings: HashMap<String, u32>,
    helpers: HashMap<Helper, u32>,
    /// The document, for the location of overflow messages.
    source: String,
}

impl ModuleBuilder {
    /// A module with every helper defined; `field_value_payload` is the
    /// payload offset of the contract's `field-value` variant; `source` is
    /// the document the module is compiled from.
    pub fn new(field_value_payload: u32, source: &str) -> ModuleBuilder {
        let mut m = ModuleBuilder {
            types: Vec::new(),
            functions: Vec::new(),
            exports: Vec::new(),
            data: Vec::new(),
            strings: HashMap::new(),
            helpers: HashMap::new(),
            source: source.to_string(),
        };
        m.define_helpers();
        m.define_field_helpers(field_value_payload);
        m
    }

    /// The index of a function type, added if new.
    pub fn type_index(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let key = (params.to_vec(), results.to_vec());
        if let Some(i) = self.types.iter().position(|t| *t == key) {
            return i as u32;
        }
        self.types.push(key);
        (self.types.len() - 1) as u32
    }

    /// A block type producing `results`.
    pub fn block_type(&mut self, results: &[ValType]) -> BlockType {
        match results {
            [] => BlockType::Empty,
            [one] => BlockType::Result(*one),
            many => BlockType::FunctionType(self.type_index(&[], many)),
        }
    }

    /// Adds a function; returns its index.
    pub fn function(&mut self, params: &[ValType], results: &[ValType], body: Function) -> u32 {
        let ty = self.type_index(params, results);
        self.functions.push((ty, body));
        IMPORTED_FUNCTIONS + (self.functions.len() - 1) as u32
    }

    /// The message an overflow in the document's text at `span` traps
    /// with, as static text: what overflowed, and where.
    pub fn overflow_message(&mut self, span: &std::ops::Range<usize>) -> (u32, u32) {
        let start = span.start.min(self.source.len());
        let end = span.end.clamp(start, self.source.len());
        let before = &self.source[..start];
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
            .chars()
            .count()
            + 1;
        let text = self.source.get(start..end).unwrap_or("").trim();
        let message = format!(
            "integer overflow: `{text}` (line {line}, column {column}) does not fit in 64 bits"
        );
        self.string(&message)
    }

    /// Exports a function under a name.
    pub fn export(&mut self, name: &str, index: u32) {
        self.exports.push((name.to_string(), index));
    }

    /// The index of a helper.
    pub fn helper(&self, h: Helper) -> u32 {
        self.helpers[&h]
    }

    /// Static bytes aligned to `align`; returns their address.
    pub fn data(&mut self, bytes: &[u8], align: u32) -> u32 {
        while !(DATA_BASE as usize + self.data.len()).is_multiple_of(align as usize) {
            self.data.push(0);
        }
        let at = DATA_BASE + self.data.len() as u32;
        self.data.extend_from_slice(bytes);
        at
    }

    /// Static text, interned; returns (address, length).
    pub fn string(&mut self, s: &str) -> (u32, u32) {
        if let Some(at) = self.strings.get(s) {
            return (*at, s.len() as u32);
        }
        let at = self.data(s.as_bytes(), 1);
        self.strings.insert(s.to_string(), at);
        (at, s.len() as u32)
    }

    /// Static `(ptr, len)` pairs of texts: a table indexed by position.
    pub fn string_table(&mut self, items: &[String]) -> u32 {
        let pairs: Vec<(u32, u32)> = items.iter().map(|s| self.string(s)).collect();
        let mut bytes = Vec::new();
        for (p, l) in pairs {
            bytes.extend_from_slice(&p.to_le_bytes());
            bytes.extend_from_slice(&l.to_le_bytes());
        }
        self.data(&bytes, 4)
    }

    /// Encodes the module: memory, heap pointer, `cabi_realloc`, exports.
    pub fn finish(mut self) -> Vec<u8> {
        let heap_start = (DATA_BASE + self.data.len() as u32).next_multiple_of(16);
        let realloc = self.cabi_realloc();
        self.export("cabi_realloc", realloc);
        let mut module = Module::new();
        let mut types = TypeSection::new();
        for (p, r) in &self.types {
            types.ty().function(p.iter().copied(), r.iter().copied());
        }
        module.section(&types);
        let panicking_type = self
            .types
            .iter()
            .position(|t| *t == (vec![ValType::I32, ValType::I32], vec![]))
            .expect("the checked-arithmetic helpers declare the (i32, i32) type")
            as u32;
        let mut imports = ImportSection::new();
        imports.import(
            PANICKING_MODULE,
            PANICKING,
            EntityType::Function(panicking_type),
        );
        module.section(&imports);
        let mut funcs = FunctionSection::new();
        for (ty, _) in &self.functions {
            funcs.function(*ty);
        }
        module.section(&funcs);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: INITIAL_PAGES.max(u64::from(heap_start).div_ceil(65536) + 1),
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
        let mut globals = GlobalSection::new();
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(heap_start as i32),
        );
        module.section(&globals);
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        for (name, index) in &self.exports {
            exports.export(name, ExportKind::Func, *index);
        }
        module.section(&exports);
        let mut code = CodeSection::new();
        for (_, body) in &self.functions {
            code.function(body);
        }
        module.section(&code);
        let mut data = DataSection::new();
        data.active(
            0,
            &ConstExpr::i32_const(DATA_BASE as i32),
            self.data.iter().copied(),
        );
        module.section(&data);
        module.finish()
    }

    pub(super) fn body(locals: &[ValType], code: &[I<'_>]) -> Function {
        let mut f = Function::new_with_locals_types(locals.iter().copied());
        for i in code {
            f.instruction(i);
        }
        f.instruction(&I::End);
        f
    }

    pub(super) fn add_helper(
        &mut self,
        h: Helper,
        params: &[ValType],
        results: &[ValType],
        locals: &[ValType],
        code: &[I<'_>],
    ) {
        let index = self.function(params, results, Self::body(locals, code));
        self.helpers.insert(h, index);
    }

    fn cabi_realloc(&mut self) -> u32 {
        use ValType::I32;
        let alloc = self.helper(Helper::Alloc);
        // (old, old_size, align, new_size); locals: 4 = new
        let code = [
            I::LocalGet(3),
            I::LocalGet(2),
            I::Call(alloc),
            I::LocalSet(4),
            I::LocalGet(0),
            I::If(BlockType::Empty),
            I::LocalGet(4),
            I::LocalGet(0),
            I::LocalGet(1),
            I::LocalGet(3),
            I::LocalGet(1),
            I::LocalGet(3),
            I::I32LtU,
            I::Select,
            I::MemoryCopy {
                src_mem: 0,
                dst_mem: 0,
            },
            I::End,
            I::LocalGet(4),
        ];
        self.function(&[I32; 4], &[I32], Self::body(&[I32], &code))
    }

    #[allow(clippy::too_many_lines)]
    /// The checked i64 operations: each computes the wrapped result, tests
    /// for overflow and, when it happened, hands the message (params 2, 3)
    /// to `panicking` and traps.
    fn define_checked_arithmetic(&mut self) {
        use ValType::{I32, I64};
        // The import's type must exist before the module is encoded.
        self.type_index(&[I32, I32], &[]);
        let trap = [
            I::If(BlockType::Empty),
            I::LocalGet(2),
            I::LocalGet(3),
            I::Call(PANICKING_INDEX),
            I::Unreachable,
            I::End,
        ];
        // a + b overflows iff both operands differ in sign from the result.
        let mut add = vec![
            I::LocalGet(0),
            I::LocalGet(1),
            I::I64Add,
            I::LocalSet(4),
            I::LocalGet(0),
            I::LocalGet(4),
            I::I64Xor,
            I::LocalGet(1),
            I::LocalGet(4),
            I::I64Xor,
            I::I64And,
            I::I64Const(0),
            I::I64LtS,
        ];
        add.extend(trap.clone());
        add.push(I::LocalGet(4));
        self.add_helper(
            Helper::CheckedAdd,
            &[I64, I64, I32, I32],
            &[I64],
            &[I64],
            &add,
        );
        // a - b overflows iff a and b differ in sign and the result's sign
        // differs from a's.
        let mut sub = vec![
            I::LocalGet(0),
            I::LocalGet(1),
            I::I64Sub,
            I::LocalSet(4),
            I::LocalGet(0),
            I::LocalGet(1),
            I::I64Xor,
            I::LocalGet(0),
            I::LocalGet(4),
            I::I64Xor,
            I::I64And,
            I::I64Const(0),
            I::I64LtS,
        ];
        sub.extend(trap.clone());
        sub.push(I::LocalGet(4));
        self.add_helper(
            Helper::CheckedSub,
            &[I64, I64, I32, I32],
            &[I64],
            &[I64],
            &sub,
        );
        // a * b overflows iff a = -1 and b = MIN, or a ∉ {0, -1} and
        // (a * b) / a != b (the division cannot trap then).
        let mut mul = vec![
            I::LocalGet(0),
            I::LocalGet(1),
            I::I64Mul,
            I::LocalSet(4),
            I::LocalGet(0),
            I::I64Const(-1),
            I::I64Eq,
            I::If(BlockType::Result(I32)),
            I::LocalGet(1),
            I::I64Const(i64::MIN),
            I::I64Eq,
            I::Else,
            I::LocalGet(0),
            I::I64Eqz,
            I::If(BlockType::Result(I32)),
            I::I32Const(0),
            I::Else,
            I::LocalGet(4),
            I::LocalGet(0),
            I::I64DivS,
            I::LocalGet(1),
            I::I64Ne,
            I::End,
            I::End,
        ];
        mul.extend(trap);
        mul.push(I::LocalGet(4));
        self.add_helper(
            Helper::CheckedMul,
            &[I64, I64, I32, I32],
            &[I64],
            &[I64],
            &mul,
        );
    }

    fn define_helpers(&mut self) {
        use ValType::{I32, I64};
        self.define_checked_arithmetic();
        // alloc(size, align) -> ptr; locals: 2 = ptr, 3 = end
        self.add_helper(
            Helper::Alloc,
            &[I32, I32],
            &[I32],
            &[I32, I32],
            &[
                I::GlobalGet(0),
                I::LocalGet(1),
                I::I32Add,
                I::I32Const(1),
                I::I32Sub,
                I::I32Const(0),
                I::LocalGet(1),
                I::I32Sub,
                I::I32And,
                I::LocalTee(2),
                I::LocalGet(0),
                I::I32Add,
                I::LocalTee(3),
                I::MemorySize(0),
                I::I32Const(16),
                I::I32Shl,
                I::I32GtU,
                I::If(BlockType::Empty),
                I::LocalGet(3),
                I::MemorySize(0),
                I::I32Const(16),
                I::I32Shl,
                I::I32Sub,
                I::I32Const(65535),
                I::I32Add,
                I::I32Const(16),
                I::I32ShrU,
                I::MemoryGrow(0),
                I::I32Const(-1),
                I::I32Eq,
                I::If(BlockType::Empty),
                I::Unreachable,
                I::End,
                I::End,
                I::LocalGet(3),
                I::GlobalSet(0),
                I::LocalGet(2),
            ],
        );
        // mem_eq(p1, p2, len) -> bool; local 3 = i
        let mem_eq = self.function(
            &[I32, I32, I32],
            &[I32],
            Self::body(
                &[I32],
                &[
                    I::Block(BlockType::Empty),
                    I::Loop(BlockType::Empty),
                    I::LocalGet(3),
                    I::LocalGet(2),
                    I::I32GeU,
                    I::BrIf(1),
                    I::LocalGet(0),
                    I::LocalGet(3),
                    I::I32Add,
                    I::I32Load8U(mem(0, 0)),
                    I::LocalGet(1),
                    I::LocalGet(3),
                    I::I32Add,
                    I::I32Load8U(mem(0, 0)),
                    I::I32Ne,
                    I::If(BlockType::Empty),
                    I::I32Const(0),
                    I::Return,
                    I::End,
                    I::LocalGet(3),
                    I::I32Const(1),
                    I::I32Add,
                    I::LocalSet(3),
                    I::Br(0),
                    I::End,
                    I::End,
                    I::I32Const(1),
                ],
            ),
        );
        let four = [I32, I32, I32, I32];
        // str_eq(p1, l1, p2, l2)
        self.add_helper(
            Helper::StrEq,
            &four,
            &[I32],
            &[],
            &[
                I::LocalGet(1),
                I::LocalGet(3),
                I::I32Ne,
                I::If(BlockType::Empty),
                I::I32Const(0),
                I::Return,
                I::End,
                I::LocalGet(0),
                I::LocalGet(2),
                I::LocalGet(1),
                I::Call(mem_eq),
            ],
        );
        // starts_with(p1, l1, p2, l2)
        self.add_helper(
            Helper::StartsWith,
            &four,
            &[I32],
            &[],
            &[
                I::LocalGet(3),
                I::LocalGet(1),
                I::I32GtU,
                I::If(BlockType::Empty),
                I::I32Const(0),
                I::Return,
                I::End,
                I::LocalGet(0),
                I::LocalGet(2),
                I::LocalGet(3),
                I::Call(mem_eq),
            ],
        );
        self.add_helper(
            Helper::EndsWith,
            &four,
            &[I32],
            &[],
            &[
                I::LocalGet(3),
                I::LocalGet(1),
                I::I32GtU,
                I::If(BlockType::Empty),
                I::I32Const(0),
                I::Return,
                I::End,
                I::LocalGet(0),
                I::LocalGet(1),
                I::I32Add,
                I::LocalGet(3),
                I::I32Sub,
                I::LocalGet(2),
                I::LocalGet(3),
                I::Call(mem_eq),
            ],
        );
        // find(p1, l1, p2, l2, last?) -> index or -1; local 5 = i
        let find = self.function(
            &[I32, I32, I32, I32, I32],
            &[I32],
            Self::body(
                &[I32, I32],
                &[
                    I::LocalGet(3),
                    I::LocalGet(1),
                    I::I32GtU,
                    I::If(BlockType::Empty),
                    I::I32Const(-1),
                    I::Return,
                    I::End,
                    // i = last ? l1 - l2 : 0; step = last ? -1 : 1 (local 6)
                    I::LocalGet(1),
                    I::LocalGet(3),
                    I::I32Sub,
                    I::I32Const(0),
                    I::LocalGet(4),
                    I::Select,
                    I::LocalSet(5),
                    I::I32Const(-1),
                    I::I32Const(1),
                    I::LocalGet(4),
                    I::Select,
                    I::LocalSet(6),
                    I::Block(BlockType::Empty),
                    I::Loop(BlockType::Empty),
                    I::LocalGet(5),
                    I::I32Const(0),
                    I::I32LtS,
                    I::LocalGet(5),
                    I::LocalGet(1),
                    I::LocalGet(3),
                    I::I32Sub,
                    I::I32GtS,
                    I::I32Or,
                    I::BrIf(1),
                    I::LocalGet(0),
                    I::LocalGet(5),
                    I::I32Add,
                    I::LocalGet(2),
                    I::LocalGet(3),
                    I::Call(mem_eq),
                    I::If(BlockType::Empty),
                    I::LocalGet(5),
                    I::Return,
                    I::End,
                    I::LocalGet(5),
                    I::LocalGet(6),
                    I::I32Add,
                    I::LocalSet(5),
                    I::Br(0),
                    I::End,
                    I::End,
                    I::I32Const(-1),
                ],
            ),
        );
        self.add_helper(
            Helper::Contains,
            &four,
            &[I32],
            &[],
            &[
                I::LocalGet(0),
                I::LocalGet(1),
                I::LocalGet(2),
                I::LocalGet(3),
                I::I32Const(0),
                I::Call(find),
                I::I32Const(0),
                I::I32GeS,
            ],
        );
        // strip_prefix(p, l, sp, sl) -> (p, l)
        let starts = self.helper(Helper::StartsWith);
        self.add_helper(
            Helper::StripPrefix,
            &four,
            &[I32, I32],
            &[],
            &[
                I::LocalGet(0),
                I::LocalGet(1),
                I::LocalGet(2),
                I::LocalGet(3),
                I::Call(starts),
                I::If(BlockType::Empty),
                I::LocalGet(0),
                I::LocalGet(3),
                I::I32Add,
                I::LocalGet(1),
                I::LocalGet(3),
                I::I32Sub,
                I::Return,
                I::End,
                I::LocalGet(0),
                I::LocalGet(1),
            ],
        );
        // before_last / after_last; local 4 = index
        let last =
            |m: &mut ModuleBuilder, h: Helper, found: Vec<I<'static>>, missing: Vec<I<'static>>| {
                let mut code = vec![
                    I::LocalGet(0),
                    I::LocalGet(1),
                    I::LocalGet(2),
                    I::LocalGet(3),
                    I::I32Const(1),
                    I::Call(find),
                    I::LocalTee(4),
                    I::I32Const(0),
                    I::I32LtS,
                    I::If(BlockType::Empty),
                ];
                code.extend(missing);
                code.push(I::Return);
                code.push(I::End);
                code.extend(found);
                m.add_helper(h, &four, &[I32, I32], &[I32], &code);
            };
        last(
            self,
            Helper::BeforeLast,
            vec![I::LocalGet(0), I::LocalGet(4)],
            vec![I::LocalGet(0), I::LocalGet(1)],
        );
        last(
            self,
            Helper::AfterLast,
            vec![
                I::LocalGet(0),
                I::LocalGet(4),
                I::I32Add,
                I::LocalGet(3),
                I::I32Add,
                I::LocalGet(1),
                I::LocalGet(4),
                I::I32Sub,
                I::LocalGet(3),
                I::I32Sub,
            ],
            vec![I::LocalGet(0), I::I32Const(0)],
        );
        // find_by_key(list, len, kp, kl, size) -> element or 0; key is the
        // element's first field. local 5 = i, 6 = element
        let eq = self.helper(Helper::StrEq);
        self.add_helper(
            Helper::FindByKey,
            &[I32, I32, I32, I32, I32],
            &[I32],
            &[I32, I32],
            &[
                I::Block(BlockType::Empty),
                I::Loop(BlockType::Empty),
                I::LocalGet(5),
                I::LocalGet(1),
                I::I32GeU,
                I::BrIf(1),
                I::LocalGet(0),
                I::LocalGet(5),
                I::LocalGet(4),
                I::I32Mul,
                I::I32Add,
                I::LocalTee(6),
                I::I32Load(mem(0, 2)),
                I::LocalGet(6),
                I::I32Load(mem(4, 2)),
                I::LocalGet(2),
                I::LocalGet(3),
                I::Call(eq),
                I::If(BlockType::Empty),
                I::LocalGet(6),
                I::Return,
                I::End,
                I::LocalGet(5),
                I::I32Const(1),
                I::I32Add,
                I::LocalSet(5),
                I::Br(0),
                I::End,
                I::End,
                I::I32Const(0),
            ],
        );
        // list_has(list, len, p, l)
        let find_key = self.helper(Helper::FindByKey);
        self.add_helper(
            Helper::ListHas,
            &four,
            &[I32],
            &[],
            &[
                I::LocalGet(0),
                I::LocalGet(1),
                I::LocalGet(2),
                I::LocalGet(3),
                I::I32Const(8),
                I::Call(find_key),
                I::I32Const(0),
                I::I32Ne,
            ],
        );
        // format_int(v) -> (p, l); locals: 1 = end, 2 = pos, 3 = digit
        let alloc = self.helper(Helper::Alloc);
        self.add_helper(
            Helper::FormatInt,
            &[I64],
            &[I32, I32],
            &[I32, I32, I64],
            &[
                I::I32Const(20),
                I::I32Const(1),
                I::Call(alloc),
                I::I32Const(20),
                I::I32Add,
                I::LocalTee(1),
                I::LocalSet(2),
                I::Loop(BlockType::Empty),
                I::LocalGet(2),
                I::I32Const(1),
                I::I32Sub,
                I::LocalTee(2),
                // |v % 10|
                I::LocalGet(0),
                I::I64Const(10),
                I::I64RemS,
                I::LocalSet(3),
                I::I64Const(0),
                I::LocalGet(3),
                I::I64Sub,
                I::LocalGet(3),
                I::LocalGet(3),
                I::I64Const(0),
                I::I64LtS,
                I::Select,
                I::I32WrapI64,
                I::I32Const(48),
                I::I32Add,
                I::I32Store8(mem(0, 0)),
                I::LocalGet(0),
                I::I64Const(10),
                I::I64DivS,
                I::LocalTee(0),
                I::I64Const(0),
                I::I64Ne,
                I::BrIf(0),
                I::End,
                // the sign: the original value was negative iff the last
                // digit's remainder was negative
                I::LocalGet(3),
                I::I64Const(0),
                I::I64LtS,
                I::If(BlockType::Empty),
                I::LocalGet(2),
                I::I32Const(1),
                I::I32Sub,
                I::LocalTee(2),
                I::I32Const(45),
                I::I32Store8(mem(0, 0)),
                I::End,
                I::LocalGet(2),
                I::LocalGet(1),
                I::LocalGet(2),
                I::I32Sub,
            ],
        );
        // format_money(amount, cp, cl) -> (p, l) as "-12.50 EUR"
        // locals: 3 = abs, 4 = whole p, 5 = whole l, 6 = out, 7 = at, 8 = cents
        let fmt = self.helper(Helper::FormatInt);
        self.add_helper(
            Helper::FormatMoney,
            &[I64, I32, I32],
            &[I32, I32],
            &[I64, I32, I32, I32, I32, I32],
            &[
                I::I64Const(0),
                I::LocalGet(0),
                I::I64Sub,
                I::LocalGet(0),
                I::LocalGet(0),
                I::I64Const(0),
                I::I64LtS,
                I::Select,
                I::LocalTee(3),
                I::I64Const(100),
                I::I64DivU,
                I::Call(fmt),
                I::LocalSet(5),
                I::LocalSet(4),
                // out = alloc(sign + whole + 4 + cl)
                I::LocalGet(5),
                I::LocalGet(2),
                I::I32Add,
                I::I32Const(5),
                I::I32Add,
                I::I32Const(1),
                I::Call(alloc),
                I::LocalTee(6),
                I::LocalSet(7),
                I::LocalGet(0),
                I::I64Const(0),
                I::I64LtS,
                I::If(BlockType::Empty),
                I::LocalGet(7),
                I::I32Const(45),
                I::I32Store8(mem(0, 0)),
                I::LocalGet(7),
                I::I32Const(1),
                I::I32Add,
                I::LocalSet(7),
                I::End,
                I::LocalGet(7),
                I::LocalGet(4),
                I::LocalGet(5),
                I::MemoryCopy {
                    src_mem: 0,
                    dst_mem: 0,
                },
                I::LocalGet(7),
                I::LocalGet(5),
                I::I32Add,
                I::LocalTee(7),
                I::I32Const(46),
                I::I32Store8(mem(0, 0)),
                I::LocalGet(3),
                I::I64Const(100),
                I::I64RemU,
                I::I32WrapI64,
                I::LocalSet(8),
                I::LocalGet(7),
                I::LocalGet(8),
                I::I32Const(10),
                I::I32DivU,
                I::I32Const(48),
                I::I32Add,
                I::I32Store8(mem(1, 0)),
                I::LocalGet(7),
                I::LocalGet(8),
                I::I32Const(10),
                I::I32RemU,
                I::I32Const(48),
                I::I32Add,
                I::I32Store8(mem(2, 0)),
                I::LocalGet(7),
                I::I32Const(32),
                I::I32Store8(mem(3, 0)),
                I::LocalGet(7),
                I::I32Const(4),
                I::I32Add,
                I::LocalGet(1),
                I::LocalGet(2),
                I::MemoryCopy {
                    src_mem: 0,
                    dst_mem: 0,
                },
                I::LocalGet(6),
                I::LocalGet(7),
                I::I32Const(4),
                I::I32Add,
                I::LocalGet(2),
                I::I32Add,
                I::LocalGet(6),
                I::I32Sub,
            ],
        );
        // div_round(num, den, mode) -> i64; modes: 0 up, 1 down, 2 half
        // even, 3 half up. locals: 3 = q, 4 = r
        self.add_helper(
            Helper::DivRound,
            &[I64, I64, I32],
            &[I64],
            &[I64, I64],
            &[
                I::LocalGet(1),
                I::I64Const(0),
                I::I64LtS,
                I::If(BlockType::Empty),
                I::I64Const(0),
                I::LocalGet(0),
                I::I64Sub,
                I::LocalSet(0),
                I::I64Const(0),
                I::LocalGet(1),
                I::I64Sub,
                I::LocalSet(1),
                I::End,
                I::LocalGet(0),
                I::LocalGet(1),
                I::I64DivS,
                I::LocalSet(3),
                I::LocalGet(0),
                I::LocalGet(1),
                I::I64RemS,
                I::LocalTee(4),
                I::I64Const(0),
                I::I64LtS,
                I::If(BlockType::Empty),
                I::LocalGet(3),
                I::I64Const(1),
                I::I64Sub,
                I::LocalSet(3),
                I::LocalGet(4),
                I::LocalGet(1),
                I::I64Add,
                I::LocalSet(4),
                I::End,
                I::LocalGet(4),
                I::I64Eqz,
                I::LocalGet(2),
                I::I32Const(1),
                I::I32Eq,
                I::I32Or,
                I::If(BlockType::Empty),
                I::LocalGet(3),
                I::Return,
                I::End,
                I::LocalGet(2),
                I::I32Eqz,
                I::If(BlockType::Empty),
                I::LocalGet(3),
                I::I64Const(1),
                I::I64Add,
                I::Return,
                I::End,
                // nearest: compare 2r with den
                I::LocalGet(4),
                I::I64Const(2),
                I::I64Mul,
                I::LocalGet(1),
                I::I64LtS,
                I::If(BlockType::Empty),
                I::LocalGet(3),
                I::Return,
                I::End,
                I::LocalGet(4),
                I::I64Const(2),
                I::I64Mul,
                I::LocalGet(1),
                I::I64GtS,
                I::If(BlockType::Empty),
                I::LocalGet(3),
                I::I64Const(1),
                I::I64Add,
                I::Return,
                I::End,
                // a tie
                I::LocalGet(3),
                I::LocalGet(3),
                I::I64Const(2),
                I::I64RemS,
                I::I64Const(0),
                I::I64Ne,
                I::LocalGet(3),
                I::I64Const(0),
                I::I64GeS,
                I::LocalGet(2),
                I::I32Const(2),
                I::I32Eq,
                I::Select,
                I::I64ExtendI32U,
                I::I64Add,
            ],
        );
        // local_time(instant, offset minutes, weekday?) -> hour or ISO weekday
        let day_ms = 86_400_000i64;
        self.add_helper(
            Helper::LocalTime,
            &[I64, I64, I32],
            &[I64],
            &[],
            &[
                I::LocalGet(0),
                I::LocalGet(1),
                I::I64Const(60_000),
                I::I64Mul,
                I::I64Add,
                I::LocalSet(0),
                I::LocalGet(2),
                I::If(BlockType::Result(I64)),
                // ((floor(local / day) + 3) mod 7) + 1, all euclidean
                I::LocalGet(0),
                I::I64Const(day_ms),
                I::I64DivS,
                I::LocalGet(0),
                I::I64Const(day_ms),
                I::I64RemS,
                I::I64Const(0),
                I::I64LtS,
                I::I64ExtendI32U,
                I::I64Sub,
                I::I64Const(3),
                I::I64Add,
                I::I64Const(7),
                I::I64RemS,
                I::I64Const(7),
                I::I64Add,
                I::I64Const(7),
                I::I64RemS,
                I::I64Const(1),
                I::I64Add,
                I::Else,
                I::LocalGet(0),
                I::I64Const(day_ms),
                I::I64RemS,
                I::I64Const(day_ms),
                I::I64Add,
                I::I64Const(day_ms),
                I::I64RemS,
                I::I64Const(3_600_000),
                I::I64DivS,
                I::End,
            ],
        );
        // dfa_run(next, flags, search, p, l); locals 5 = i, 6 = state, 7 = flags
        self.add_helper(
            Helper::DfaRun,
            &[I32, I32, I32, I32, I32],
            &[I32],
            &[I32, I32, I32],
            &[
                I::Block(BlockType::Empty),
                I::Loop(BlockType::Empty),
                I::LocalGet(5),
                I::LocalGet(4),
                I::I32GeU,
                I::BrIf(1),
                I::LocalGet(0),
                I::LocalGet(6),
                I::I32Const(8),
                I::I32Shl,
                I::LocalGet(3),
                I::LocalGet(5),
                I::I32Add,
                I::I32Load8U(mem(0, 0)),
                I::I32Add,
                I::I32Const(1),
                I::I32Shl,
                I::I32Add,
                I::I32Load16U(mem(0, 1)),
                I::LocalTee(6),
                I::LocalGet(1),
                I::I32Add,
                I::I32Load8U(mem(0, 0)),
                I::LocalTee(7),
                I::I32Const(1),
                I::I32And,
                I::LocalGet(2),
                I::I32And,
                I::If(BlockType::Empty),
                I::I32Const(1),
                I::Return,
                I::End,
                I::LocalGet(7),
                I::I32Const(4),
                I::I32And,
                I::If(BlockType::Empty),
                I::I32Const(0),
                I::Return,
                I::End,
                I::LocalGet(5),
                I::I32Const(1),
                I::I32Add,
                I::LocalSet(5),
                I::Br(0),
                I::End,
                I::End,
                I::LocalGet(6),
                I::LocalGet(1),
                I::I32Add,
                I::I32Load8U(mem(0, 0)),
                I::I32Const(2),
                I::I32And,
                I::I32Const(0),
                I::I32Ne,
            ],
        );
    }
}
