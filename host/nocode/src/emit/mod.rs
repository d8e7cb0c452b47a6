//! Emission: typed IR to WebAssembly instructions (`codegen`), constants
//! laid out in the module's data (`statics`), and the module with its
//! runtime helpers (`wasm`, `wasm_fields`).

pub mod codegen;
pub mod statics;
pub mod wasm;
mod wasm_fields;
