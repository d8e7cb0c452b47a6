//! Emission: typed IR to WebAssembly instructions (`codegen`), constants
//! laid out in the module's data (`statics`), the module (`wasm`) and the
//! runtime merged into it (`runtime`).

pub mod codegen;
mod runtime;
pub mod statics;
pub mod wasm;
