//! `docket compile`: a no-code rule document to a WebAssembly plugin.

use anyhow::Context as _;
use docket_nocode as nocode;
use std::path::Path;
use std::process::ExitCode;

/// Compiles `input` and writes the component (or the core module) to
/// `output`; on errors prints the compiler's report and exits with 1.
pub fn run(input: &Path, output: &Path, core_module: bool) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let compiled = match nocode::compile(&text, &input.display().to_string()) {
        Ok(c) => c,
        Err(report) => {
            eprint!("{report}");
            return Ok(ExitCode::from(1));
        }
    };
    let bytes = if core_module {
        &compiled.module
    } else {
        &compiled.component
    };
    std::fs::write(output, bytes).with_context(|| format!("writing {}", output.display()))?;
    let caps: Vec<String> = compiled
        .capabilities
        .iter()
        .map(|c| c.to_string())
        .collect();
    println!(
        "{} -> {} ({} bytes, {}; exports {})",
        input.display(),
        output.display(),
        bytes.len(),
        if core_module {
            "core module"
        } else {
            "component"
        },
        caps.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
