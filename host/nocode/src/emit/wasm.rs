//! The module being emitted: type and function tables, static data, and
//! the merge with the runtime (see [`runtime`](super::runtime)) whose
//! helpers the emitted code calls.

use crate::emit::runtime::Runtime;
use std::collections::HashMap;
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, ExportKind, ExportSection, Function,
    FunctionSection, Instruction as I, MemArg, MemorySection, MemoryType, Module, RawSection,
    TypeSection, ValType,
};

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

/// The runtime's helpers the emitted code calls. Each is a function the
/// runtime exports as `docket_rt_<name>`; those giving text back return
/// `ptr | len << 32`, which an adapter the module defines unpacks into the
/// `(ptr, len)` pair the emitted code expects.
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
    /// `(p, l) -> i64`: characters in UTF-8 text.
    CharCount,
    /// `(p, l) -> bool`: a valid `YYYY-MM-DD` date.
    IsIsoDate,
    /// `(field-value, p, l) -> bool`: the value's text forms include the text.
    ValueHas,
    /// `(field-value) -> (p, l)`: the value's text forms joined with ", ".
    ValueJoin,
    /// `(field-value or 0) -> bool`: set and not empty (blank text or no
    /// choices is empty).
    ValuePresent,
    /// `(a, b, message p, l) -> i64`: `a + b`, or a trap with the message
    /// (reported to the host through `log.panicking`) when it overflows.
    CheckedAdd,
    /// `(a, b, message p, l) -> i64`: `a - b`, checked likewise.
    CheckedSub,
    /// `(a, b, message p, l) -> i64`: `a * b`, checked likewise.
    CheckedMul,
}

impl Helper {
    /// Every helper.
    const ALL: [Helper; 23] = [
        Helper::Alloc,
        Helper::StrEq,
        Helper::StartsWith,
        Helper::EndsWith,
        Helper::Contains,
        Helper::ListHas,
        Helper::FormatInt,
        Helper::FormatMoney,
        Helper::DivRound,
        Helper::LocalTime,
        Helper::DfaRun,
        Helper::FindByKey,
        Helper::StripPrefix,
        Helper::BeforeLast,
        Helper::AfterLast,
        Helper::CharCount,
        Helper::IsIsoDate,
        Helper::ValueHas,
        Helper::ValueJoin,
        Helper::ValuePresent,
        Helper::CheckedAdd,
        Helper::CheckedSub,
        Helper::CheckedMul,
    ];

    /// The runtime's export.
    fn export(self) -> &'static str {
        match self {
            Helper::Alloc => "docket_rt_alloc",
            Helper::StrEq => "docket_rt_str_eq",
            Helper::StartsWith => "docket_rt_starts_with",
            Helper::EndsWith => "docket_rt_ends_with",
            Helper::Contains => "docket_rt_contains",
            Helper::ListHas => "docket_rt_list_has",
            Helper::FormatInt => "docket_rt_format_int",
            Helper::FormatMoney => "docket_rt_format_money",
            Helper::DivRound => "docket_rt_div_round",
            Helper::LocalTime => "docket_rt_local_time",
            Helper::DfaRun => "docket_rt_dfa_run",
            Helper::FindByKey => "docket_rt_find_by_key",
            Helper::StripPrefix => "docket_rt_strip_prefix",
            Helper::BeforeLast => "docket_rt_before_last",
            Helper::AfterLast => "docket_rt_after_last",
            Helper::CharCount => "docket_rt_char_count",
            Helper::IsIsoDate => "docket_rt_is_iso_date",
            Helper::ValueHas => "docket_rt_value_has",
            Helper::ValueJoin => "docket_rt_value_join",
            Helper::ValuePresent => "docket_rt_value_present",
            Helper::CheckedAdd => "docket_rt_checked_add",
            Helper::CheckedSub => "docket_rt_checked_sub",
            Helper::CheckedMul => "docket_rt_checked_mul",
        }
    }

    /// Whether the helper gives text back (as one `i64`).
    fn returns_text(self) -> bool {
        matches!(
            self,
            Helper::FormatInt
                | Helper::FormatMoney
                | Helper::StripPrefix
                | Helper::BeforeLast
                | Helper::AfterLast
                | Helper::ValueJoin
        )
    }
}

/// The runtime's `cabi_realloc`, exported under the canonical ABI's name.
const REALLOC: &str = "docket_rt_realloc";

/// The offset of a `field-value`'s payload the runtime was built for.
const RUNTIME_FIELD_VALUE_PAYLOAD: u32 = 8;

/// Builds the module.
pub struct ModuleBuilder {
    runtime: &'static Runtime,
    /// Where the emitted code's static data starts (past the runtime's).
    data_base: u32,
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
    /// A module holding the runtime, with every helper callable;
    /// `field_value_payload` is the payload offset of the contract's
    /// `field-value` variant; `source` is the document the module is
    /// compiled from.
    ///
    /// # Panics
    /// The committed runtime does not fit this compiler (a helper missing or
    /// of another type, another `field-value` layout): a build defect that
    /// every compilation would hit, caught by the tests.
    pub fn new(field_value_payload: u32, source: &str) -> ModuleBuilder {
        assert_eq!(
            field_value_payload, RUNTIME_FIELD_VALUE_PAYLOAD,
            "the no-code runtime reads field values with another layout than the contract's"
        );
        let runtime = Runtime::get();
        let mut m = ModuleBuilder {
            runtime,
            data_base: runtime.heap_base.next_multiple_of(16),
            types: runtime.types.clone(),
            functions: Vec::new(),
            exports: Vec::new(),
            data: Vec::new(),
            strings: HashMap::new(),
            helpers: HashMap::new(),
            source: source.to_string(),
        };
        for h in Helper::ALL {
            let index = m
                .link_helper(h)
                .unwrap_or_else(|e| panic!("no-code runtime: {e}"));
            m.helpers.insert(h, index);
        }
        m
    }

    /// The index the emitted code calls for a helper: the runtime's function,
    /// or for text results an adapter returning `(ptr, len)`.
    fn link_helper(&mut self, h: Helper) -> Result<u32, String> {
        let (index, (params, results)) = self.runtime.signature(h.export())?;
        let params = params.clone();
        if !h.returns_text() {
            return Ok(index);
        }
        if results[..] != [ValType::I64] {
            return Err(format!("`{}` does not return text as an i64", h.export()));
        }
        // Unpack `ptr | len << 32`; the one extra local holds the packed text.
        let packed = params.len() as u32;
        let mut code: Vec<I<'_>> = (0..packed).map(I::LocalGet).collect();
        code.extend([
            I::Call(index),
            I::LocalTee(packed),
            I::I32WrapI64,
            I::LocalGet(packed),
            I::I64Const(32),
            I::I64ShrU,
            I::I32WrapI64,
        ]);
        let body = Self::body(&[ValType::I64], &code);
        Ok(self.function(&params, &[ValType::I32, ValType::I32], body))
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
        self.runtime.function_count() + (self.functions.len() - 1) as u32
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
        while !(self.data_base as usize + self.data.len()).is_multiple_of(align as usize) {
            self.data.push(0);
        }
        let at = self.data_base + self.data.len() as u32;
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

    /// Encodes the module: the runtime's sections and the emitted code's,
    /// one memory, the heap starting past all static data, the exports;
    /// without the functions (the runtime's helpers and their adapters
    /// among them) that no export reaches.
    ///
    /// # Panics
    /// The module just built does not parse: a defect of this encoder,
    /// caught by the tests.
    pub fn finish(self) -> Vec<u8> {
        let rt = self.runtime;
        let raw = |id: u8| {
            rt.copied
                .iter()
                .find(|(section, _)| *section == id)
                .map(|(_, range)| RawSection {
                    id,
                    data: &super::runtime::RUNTIME_WASM[range.clone()],
                })
        };
        let heap_start = (self.data_base + self.data.len() as u32).next_multiple_of(16);
        let mut module = Module::new();
        let mut types = TypeSection::new();
        for (p, r) in &self.types {
            types.ty().function(p.iter().copied(), r.iter().copied());
        }
        module.section(&types);
        if let Some(imports) = raw(2) {
            module.section(&imports);
        }
        let mut funcs = FunctionSection::new();
        for ty in rt
            .functions
            .iter()
            .chain(self.functions.iter().map(|(ty, _)| ty))
        {
            funcs.function(*ty);
        }
        module.section(&funcs);
        if let Some(tables) = raw(4) {
            module.section(&tables);
        }
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: INITIAL_PAGES
                .max(rt.memory_pages)
                .max(u64::from(heap_start).div_ceil(65536) + 1),
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
        if let Some(globals) = raw(6) {
            module.section(&globals);
        }
        let realloc = rt.exports[REALLOC];
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("cabi_realloc", ExportKind::Func, realloc);
        for (name, index) in &self.exports {
            exports.export(name, ExportKind::Func, *index);
        }
        module.section(&exports);
        if let Some(elements) = raw(9) {
            module.section(&elements);
        }
        let mut code = CodeSection::new();
        for body in &rt.bodies {
            code.raw(&super::runtime::RUNTIME_WASM[body.clone()]);
        }
        for (_, body) in &self.functions {
            code.function(body);
        }
        module.section(&code);
        let mut data = DataSection::new();
        for segment in &rt.data {
            data.raw(&super::runtime::RUNTIME_WASM[segment.clone()]);
        }
        data.active(
            0,
            &ConstExpr::i32_const(self.data_base as i32),
            self.data.iter().copied(),
        );
        // The allocator's first free address: past the emitted code's data.
        data.active(
            0,
            &ConstExpr::i32_const(rt.heap_cell as i32),
            heap_start.to_le_bytes(),
        );
        module.section(&data);
        super::prune::without_unreachable_functions(&module.finish())
            .unwrap_or_else(|e| panic!("the emitted module: {e}"))
    }

    /// A function body of `code` with extra `locals`.
    pub(super) fn body(locals: &[ValType], code: &[I<'_>]) -> Function {
        let mut f = Function::new_with_locals_types(locals.iter().copied());
        for i in code {
            f.instruction(i);
        }
        f.instruction(&I::End);
        f
    }
}
