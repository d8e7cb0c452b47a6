//! Host bindings generated from the `docket:plugin` WIT package.
wasmtime::component::bindgen!({
    path: "wit",
    world: "docket:plugin/plugin",
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});
