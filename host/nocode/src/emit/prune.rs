//! Removes the functions an emitted module never reaches.
//!
//! Every module carries the whole runtime, but a document calls a few of
//! its helpers: the rest would only cost compile time and resident code in
//! the host for each compiled document. The functions reachable from the
//! exports, the element segments and the start function (through `call`,
//! `return_call` and `ref.func`) are kept, the others dropped, and every
//! function index renumbered. Imports are kept as they are; a `name`
//! section is dropped (it would name functions that are gone).

use std::collections::VecDeque;
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{CodeSection, FunctionSection, Module};
use wasmparser::{ElementItems, ExternalKind, FunctionBody, Operator, Parser, Payload, TypeRef};

/// `module` without its unreachable defined functions.
///
/// # Errors
/// The module does not parse or re-encode.
pub fn without_unreachable_functions(module: &[u8]) -> Result<Vec<u8>, String> {
    let graph = CallGraph::read(module).map_err(|e| e.to_string())?;
    let kept = graph.reachable();
    let mut renumber = Renumber::new(graph.imported, &kept);
    let mut out = Module::new();
    renumber
        .parse_core_module(&mut out, Parser::new(0), module)
        .map_err(|e| format!("re-encoding the pruned module: {e:?}"))?;
    Ok(out.finish())
}

/// Which functions refer to which.
struct CallGraph {
    /// Imported functions (the first indices).
    imported: u32,
    /// The functions each defined function refers to.
    callees: Vec<Vec<u32>>,
    /// Exported, in element segments, or the start function.
    roots: Vec<u32>,
}

impl CallGraph {
    fn read(module: &[u8]) -> Result<CallGraph, wasmparser::BinaryReaderError> {
        let mut graph = CallGraph {
            imported: 0,
            callees: Vec::new(),
            roots: Vec::new(),
        };
        for payload in Parser::new(0).parse_all(module) {
            match payload? {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        if let TypeRef::Func(_) = import?.ty {
                            graph.imported += 1;
                        }
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        if export.kind == ExternalKind::Func {
                            graph.roots.push(export.index);
                        }
                    }
                }
                Payload::StartSection { func, .. } => graph.roots.push(func),
                Payload::ElementSection(reader) => {
                    for element in reader {
                        match element?.items {
                            ElementItems::Functions(functions) => {
                                for f in functions {
                                    graph.roots.push(f?);
                                }
                            }
                            ElementItems::Expressions(_, exprs) => {
                                for expr in exprs {
                                    graph.roots.extend(referenced(
                                        expr?.get_operators_reader().into_iter(),
                                    )?);
                                }
                            }
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => graph.callees.push(callees(&body)?),
                _ => {}
            }
        }
        Ok(graph)
    }

    /// For each function, imported ones first: whether it is reachable.
    fn reachable(&self) -> Vec<bool> {
        let total = self.imported as usize + self.callees.len();
        let mut kept = vec![false; total];
        let mut queue: VecDeque<u32> = self.roots.iter().copied().collect();
        while let Some(f) = queue.pop_front() {
            let Some(seen) = kept.get_mut(f as usize) else {
                continue;
            };
            if std::mem::replace(seen, true) {
                continue;
            }
            if let Some(defined) = f.checked_sub(self.imported) {
                queue.extend(&self.callees[defined as usize]);
            }
        }
        kept
    }
}

fn callees(body: &FunctionBody<'_>) -> Result<Vec<u32>, wasmparser::BinaryReaderError> {
    referenced(body.get_operators_reader()?.into_iter())
}

/// The functions a run of operators calls or takes a reference to.
fn referenced<'a>(
    ops: impl Iterator<Item = Result<Operator<'a>, wasmparser::BinaryReaderError>>,
) -> Result<Vec<u32>, wasmparser::BinaryReaderError> {
    let mut out = Vec::new();
    for op in ops {
        match op? {
            Operator::Call { function_index }
            | Operator::ReturnCall { function_index }
            | Operator::RefFunc { function_index } => out.push(function_index),
            _ => {}
        }
    }
    Ok(out)
}

/// Re-encodes a module keeping only the reachable functions.
struct Renumber {
    imported: u32,
    /// Old index → new index, for kept functions.
    new_index: Vec<Option<u32>>,
}

impl Renumber {
    fn new(imported: u32, kept: &[bool]) -> Renumber {
        let mut next = 0;
        let new_index = kept
            .iter()
            .enumerate()
            .map(|(i, &keep)| {
                // Imports keep their indices whether called or not.
                (keep || i < imported as usize).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        Renumber {
            imported,
            new_index,
        }
    }

    fn kept(&self, defined: usize) -> bool {
        self.new_index[self.imported as usize + defined].is_some()
    }
}

impl Reencode for Renumber {
    type Error = String;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<String>> {
        self.new_index
            .get(func as usize)
            .copied()
            .flatten()
            .ok_or_else(|| reencode::Error::UserError(format!("function {func} was dropped")))
    }

    fn parse_custom_section(
        &mut self,
        module: &mut Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        if section.name() == "name" {
            return Ok(());
        }
        reencode::utils::parse_custom_section(self, module, section)
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        for (defined, ty) in section.into_iter().enumerate() {
            let ty = ty?;
            if self.kept(defined) {
                functions.function(self.type_index(ty)?);
            }
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<String>> {
        for (defined, body) in section.into_iter().enumerate() {
            let body = body?;
            if self.kept(defined) {
                self.parse_function_body(code, body)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn functions(module: &[u8]) -> (u32, usize) {
        let graph = CallGraph::read(module).unwrap();
        (graph.imported, graph.callees.len())
    }

    #[test]
    fn drops_what_nothing_reaches_and_renumbers_the_rest() {
        let module = wat::parse_str(
            r#"(module
                (import "host" "log" (func $log (param i32)))
                (func $unused (result i32) i32.const 7)
                (func $leaf (result i32) i32.const 1)
                (func $in_table (result i32) i32.const 2)
                (func $entry (export "entry") (result i32)
                    i32.const 0 call $log
                    call $leaf
                    i32.const 0 call_indirect (result i32)
                    i32.add)
                (table 1 funcref)
                (elem (i32.const 0) $in_table))"#,
        )
        .unwrap();
        let pruned = without_unreachable_functions(&module).unwrap();
        wasmparser::Validator::new().validate_all(&pruned).unwrap();
        assert_eq!(functions(&module), (1, 4));
        assert_eq!(functions(&pruned), (1, 3), "only `$unused` goes");
        let graph = CallGraph::read(&pruned).unwrap();
        // $leaf 2 → 1, $in_table 3 → 2, $entry 4 → 3.
        assert_eq!(graph.roots, [3, 2], "the export, then the element");
        assert_eq!(graph.callees, [vec![], vec![], vec![0, 1]]);
    }

    #[test]
    fn a_module_with_nothing_to_drop_keeps_every_function() {
        let module =
            wat::parse_str(r#"(module (func $a (export "a") call $b) (func $b) (start $b))"#)
                .unwrap();
        let pruned = without_unreachable_functions(&module).unwrap();
        assert_eq!(functions(&pruned), (0, 2));
    }
}
