//! The no-code runtime the compiler merges into every module is committed
//! (`host/nocode/src/emit/runtime.wasm`) so the compiler crate builds and
//! packages without a wasm toolchain. This test holds that copy to its
//! source: the workspace build of `host/nocode/runtime`, custom sections
//! (names, producers) removed, must equal it byte for byte.
//!
//! After changing the runtime or `docket-guest-core`, refresh the copy with
//! `DOCKET_BLESS_RUNTIME=1 cargo test -p docket-tests --test nocode_runtime`.

use wasm_encoder::{Module, RawSection};
use wasmparser::{Parser, Payload};

const COMMITTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../host/nocode/src/emit/runtime.wasm"
);

/// The module without its custom sections.
fn without_custom_sections(wasm: &[u8]) -> Vec<u8> {
    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.expect("the runtime parses");
        if matches!(payload, Payload::CustomSection(_)) {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: &wasm[range],
            });
        }
    }
    module.finish()
}

#[test]
fn the_committed_runtime_is_built_from_its_source() {
    let built = without_custom_sections(docket_guests::nocode_runtime());
    if std::env::var_os("DOCKET_BLESS_RUNTIME").is_some() {
        std::fs::write(COMMITTED, &built).expect("writing the committed runtime");
    }
    let committed = std::fs::read(COMMITTED).expect("reading the committed runtime");
    assert!(
        committed == built,
        "{COMMITTED} ({} bytes) is not the build of host/nocode/runtime ({} bytes); \
         refresh it with `DOCKET_BLESS_RUNTIME=1 cargo test -p docket-tests --test nocode_runtime`",
        committed.len(),
        built.len()
    );
}
