//! The runtime every emitted module carries: the helpers of
//! `host/nocode/runtime` (Rust, built for wasm32), read once from the
//! committed build and merged into each module the compiler emits.
//!
//! Merging keeps the runtime's index spaces in front: its types, imports,
//! functions, tables, globals and element segments come first and unchanged,
//! so its function bodies are copied byte for byte; the emitted code's own
//! types and functions follow. The runtime's static data stays where it was
//! linked; the emitted code's data goes after it (from `__heap_base`), and
//! the runtime's allocator is told where the heap starts by a data segment
//! over its `DOCKET_RT_HEAP` cell.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;
use wasm_encoder::ValType;
use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef};

/// The runtime, as built from `host/nocode/runtime` for
/// `wasm32-unknown-unknown` with its custom sections removed. A test
/// rebuilds it and checks this copy is current.
pub const RUNTIME_WASM: &[u8] = include_bytes!("runtime.wasm");

/// A function type: (params, results).
pub type Signature = (Vec<ValType>, Vec<ValType>);

/// What the merge needs to know of the runtime module: byte ranges of the
/// sections copied as they are, and the indices and addresses it exports.
pub struct Runtime {
    /// Its function types, in order.
    pub types: Vec<Signature>,
    /// Its imported functions (they come first in the function index space).
    pub imported_functions: u32,
    /// The type of each function it defines.
    pub functions: Vec<u32>,
    /// Each defined function's body (locals and code).
    pub bodies: Vec<Range<usize>>,
    /// Each data segment, encoded.
    pub data: Vec<Range<usize>>,
    /// Sections copied whole: (section id, contents).
    pub copied: Vec<(u8, Range<usize>)>,
    /// Its initial memory, in pages.
    pub memory_pages: u64,
    /// Its exported functions by name.
    pub exports: HashMap<&'static str, u32>,
    /// The first address past its static data and stack.
    pub heap_base: u32,
    /// The address of the allocator's next-free cell.
    pub heap_cell: u32,
}

impl Runtime {
    /// The committed runtime, parsed on first use.
    pub fn get() -> &'static Runtime {
        static RUNTIME: OnceLock<Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| {
            Runtime::parse(RUNTIME_WASM).unwrap_or_else(|e| {
                panic!("the committed no-code runtime (src/emit/runtime.wasm) is unusable: {e}")
            })
        })
    }

    /// Reads what the merge needs from a runtime module.
    ///
    /// # Errors
    /// The module does not parse, or lacks or misuses something the merge
    /// relies on (one memory, the heap exports, function types only).
    pub fn parse(wasm: &'static [u8]) -> Result<Runtime, String> {
        let mut rt = Runtime {
            types: Vec::new(),
            imported_functions: 0,
            functions: Vec::new(),
            bodies: Vec::new(),
            data: Vec::new(),
            copied: Vec::new(),
            memory_pages: 0,
            exports: HashMap::new(),
            heap_base: 0,
            heap_cell: 0,
        };
        let mut globals: Vec<Option<u32>> = Vec::new();
        let mut global_exports: HashMap<&str, u32> = HashMap::new();
        let err = |e: wasmparser::BinaryReaderError| e.to_string();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(err)? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        let ty = ty.map_err(err)?;
                        rt.types.push((
                            ty.params().iter().map(val_type).collect::<Result<_, _>>()?,
                            ty.results()
                                .iter()
                                .map(val_type)
                                .collect::<Result<_, _>>()?,
                        ));
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.clone().into_imports() {
                        match import.map_err(err)?.ty {
                            TypeRef::Func(_) => rt.imported_functions += 1,
                            other => return Err(format!("it imports a {other:?}")),
                        }
                    }
                    rt.copied.push((2, reader.range()));
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        rt.functions.push(ty.map_err(err)?);
                    }
                }
                Payload::TableSection(reader) => rt.copied.push((4, reader.range())),
                Payload::MemorySection(reader) => {
                    let memories: Vec<_> =
                        reader.into_iter().collect::<Result<_, _>>().map_err(err)?;
                    match memories.as_slice() {
                        [m] if !m.memory64 && !m.shared => rt.memory_pages = m.initial,
                        _ => return Err("it must define exactly one 32-bit memory".into()),
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader.clone() {
                        let mut ops = global.map_err(err)?.init_expr.get_operators_reader();
                        globals.push(match ops.read().map_err(err)? {
                            Operator::I32Const { value } => Some(value as u32),
                            _ => None,
                        });
                    }
                    rt.copied.push((6, reader.range()));
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(err)?;
                        match export.kind {
                            ExternalKind::Func => {
                                rt.exports.insert(export.name, export.index);
                            }
                            ExternalKind::Global => {
                                global_exports.insert(export.name, export.index);
                            }
                            _ => {}
                        }
                    }
                }
                Payload::StartSection { .. } => return Err("it has a start function".into()),
                Payload::ElementSection(reader) => rt.copied.push((9, reader.range())),
                Payload::DataCountSection { .. } => {
                    return Err("it uses passive data (a data count section)".into());
                }
                Payload::CodeSectionEntry(body) => rt.bodies.push(body.range()),
                Payload::DataSection(reader) => {
                    for data in reader {
                        rt.data.push(data.map_err(err)?.range);
                    }
                }
                _ => {}
            }
        }
        let address = |name: &str| {
            global_exports
                .get(name)
                .and_then(|i| globals.get(*i as usize).copied().flatten())
                .ok_or_else(|| format!("it does not export the address `{name}`"))
        };
        rt.heap_base = address("__heap_base")?;
        rt.heap_cell = address("DOCKET_RT_HEAP")?;
        Ok(rt)
    }

    /// The signature of an exported function.
    ///
    /// # Errors
    /// The runtime does not export the function.
    pub fn signature(&self, export: &str) -> Result<(u32, &Signature), String> {
        let index = *self
            .exports
            .get(export)
            .ok_or_else(|| format!("the runtime does not export `{export}`"))?;
        let defined = index
            .checked_sub(self.imported_functions)
            .ok_or_else(|| format!("`{export}` is an import"))?;
        let ty = self.functions[defined as usize];
        Ok((index, &self.types[ty as usize]))
    }

    /// Functions the runtime brings (imported and defined): the emitted
    /// code's functions are numbered from here.
    pub fn function_count(&self) -> u32 {
        self.imported_functions + self.functions.len() as u32
    }
}

fn val_type(t: &wasmparser::ValType) -> Result<ValType, String> {
    Ok(match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        other => return Err(format!("it uses the value type {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_runtime_has_what_the_merge_needs() {
        let rt = Runtime::get();
        assert!(rt.heap_base > 0 && rt.heap_cell > 0 && rt.heap_cell < rt.heap_base);
        assert_eq!(rt.bodies.len(), rt.functions.len());
        assert!(rt.signature("docket_rt_alloc").is_ok());
        assert!(rt.signature("docket_rt_no_such_helper").is_err());
    }
}
