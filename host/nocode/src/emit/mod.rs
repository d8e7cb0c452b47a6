//! Emission: typed IR to WebAssembly instructions (`codegen`), constants
//! laid out in the module's data (`statics`), the module (`wasm`), the
//! runtime merged into it (`runtime`) and the functions a document does
//! not reach dropped again (`prune`).

pub mod codegen;
mod prune;
mod runtime;
pub mod statics;
pub mod wasm;
