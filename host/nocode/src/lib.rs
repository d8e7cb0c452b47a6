//! The no-code rule compiler: a declarative TOML document (what a no-code
//! UI saves) compiled straight to a WebAssembly component of the
//! `docket:plugin` contract.
//!
//! Pipeline: `front` reads the TOML with spans (`doc`) and parses the
//! expression strings (`expr`); `check` (with `check::decls` for settings,
//! tables and conditions) resolves names against the contract and the
//! declarations and produces the typed `ir`; `lower` has one module per
//! section (`routing`, `escalation`, `billing`, `templates`); `emit`
//! (`codegen`, `wasm`, `statics`) writes a core module with `wasm-encoder`,
//! and the contract's componentizer wraps it with `wit-component`. No interpreter ships in the module: the
//! conditions are WebAssembly code, regular expressions are DFA tables.
//!
//! ```
//! let rules = r#"
//! [[routing.rule]]
//! when = 'ticket.channel == "phone"'
//! group = "voice"
//! "#;
//! let compiled = docket_nocode::compile(rules, "rules.toml").unwrap();
//! assert!(compiled.capabilities.contains(&docket_contract::Capability::Routing));
//! ```

mod abi;
mod check;
mod diag;
mod emit;
mod front;
mod ir;
mod lower;
mod regex;
pub mod vocabulary;

use abi::Abi;
use check::Checker;
pub use diag::{Diagnostic, Diagnostics};
use docket_contract::{Capability, qualified};
use emit::codegen::{FuncGen, Statics};
use emit::wasm::ModuleBuilder;
use front::doc::Node;
use std::collections::BTreeSet;
use toml::de::DeValue;

/// A compiled rule document.
pub struct Compiled {
    /// The core module as emitted.
    pub module: Vec<u8>,
    /// The component the host installs.
    pub component: Vec<u8>,
    /// The capabilities it exports.
    pub capabilities: BTreeSet<Capability>,
}

/// Compiles a rule document; `file` names it in error messages.
pub fn compile(source: &str, file: &str) -> Result<Compiled, Diagnostics> {
    let diagnostics = |e: Diagnostic| Diagnostics {
        file: file.to_string(),
        source: source.to_string(),
        errors: vec![e],
    };
    let module = emit_module(source).map_err(diagnostics)?;
    let (component, capabilities) =
        docket_contract::componentize::componentize(&module).map_err(|e| {
            diagnostics(Diagnostic::new(
                format!("internal compiler error: {e}"),
                0..0,
            ))
        })?;
    Ok(Compiled {
        module,
        component,
        capabilities,
    })
}

/// Whether bytes are a rule document rather than a wasm binary: text (wasm
/// binaries start with `\0asm`, which is never in a TOML document).
pub fn is_rule_document(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The sections a document may have, in phase order.
const SECTIONS: &[&str] = &[
    "plugin",
    "settings",
    "tables",
    "templates",
    "validation",
    "routing",
    "escalation",
    "billing",
];

fn emit_module(source: &str) -> Result<Vec<u8>, Diagnostic> {
    let abi = Abi::new().map_err(|e| Diagnostic::new(format!("contract: {e}"), 0..0))?;
    let parsed = front::doc::parse(source)?;
    let root_value = DeValue::Table(parsed.into_inner());
    let root = Node::root(source, &root_value);
    let mut top = root.table("the document")?;
    let mut sections = Vec::new();
    for name in SECTIONS {
        sections.push(top.get(name));
    }
    top.finish()?;
    let [
        plugin,
        settings,
        tables,
        templates,
        validation,
        routing,
        escalation,
        billing,
    ] = sections[..]
    else {
        unreachable!("one entry per section")
    };
    if let Some(p) = plugin {
        let mut t = p.table("[plugin]")?;
        t.get("name").map(|n| n.str("name")).transpose()?;
        t.get("description")
            .map(|n| n.str("description"))
            .transpose()?;
        t.finish()?;
    }
    let value = abi.named("types", "field-value");
    let mut m = ModuleBuilder::new(abi.payload_offset(&value), source);
    let mut exported = 0;
    let doc = Doc {
        abi: &abi,
        settings,
        tables,
        templates,
    };
    if templates.is_some() || validation.is_some() {
        doc.export(&mut m, "template", "templates", |c| {
            let forms = c.templates.clone();
            Ok(Box::new(move |g: &mut FuncGen, c: &Checker| {
                lower::templates::emit_templates(g, c, &forms)
            }))
        })?;
        doc.export(&mut m, "template", "validate", |c| {
            let forms = c.templates.clone();
            let rules = match validation {
                Some(v) => lower::templates::rules(c, v)?,
                None => (Vec::new(), Vec::new()),
            };
            Ok(Box::new(move |g: &mut FuncGen, c: &Checker| {
                lower::templates::emit_validate(g, c, &forms, &rules)
            }))
        })?;
        exported += 1;
    }
    if let Some(node) = routing {
        doc.export(&mut m, "routing", "route", |c| {
            let plan = lower::routing::check(c, node)?;
            Ok(Box::new(move |g: &mut FuncGen, c: &Checker| {
                lower::routing::emit(g, c, &plan)
            }))
        })?;
        exported += 1;
    }
    if let Some(node) = escalation {
        doc.export(&mut m, "escalation", "evaluate", |c| {
            let plan = lower::escalation::check(c, node)?;
            Ok(Box::new(move |g: &mut FuncGen, c: &Checker| {
                lower::escalation::emit(g, c, &plan)
            }))
        })?;
        exported += 1;
    }
    if let Some(node) = billing {
        doc.export(&mut m, "billing", "bill", |c| {
            let plan = lower::billing::check(c, node)?;
            Ok(Box::new(move |g: &mut FuncGen, c: &Checker| {
                lower::billing::emit(g, c, &plan)
            }))
        })?;
        exported += 1;
    }
    if exported == 0 {
        // Declarations alone still have to be right.
        let mut c = Checker::new(&abi);
        declare(&mut c, settings, tables)?;
        return Err(
            Diagnostic::new("the document defines no rules", 0..source.len().min(1))
                .hint("add [[templates]], [routing], [escalation] or [billing]"),
        );
    }
    Ok(m.finish())
}

/// Emits one capability function into the module.
type Emitter<'p> = Box<dyn FnOnce(&mut FuncGen, &Checker) + 'p>;

/// What every capability shares: the contract layouts and the document's
/// declarations.
struct Doc<'a> {
    abi: &'a Abi,
    settings: Option<Node<'a>>,
    tables: Option<Node<'a>>,
    templates: Option<Node<'a>>,
}

impl<'a> Doc<'a> {
    /// Checks a section with a fresh checker (declarations included), emits
    /// its function and exports it under the contract's ABI name.
    fn export(
        &self,
        m: &mut ModuleBuilder,
        interface: &str,
        function: &str,
        check: impl FnOnce(&mut Checker<'a>) -> Result<Emitter<'a>, Diagnostic>,
    ) -> Result<(), Diagnostic> {
        let mut c = Checker::new(self.abi);
        c.agents_visible = interface == "routing";
        declare(&mut c, self.settings, self.tables)?;
        if let Some(t) = self.templates {
            c.templates = lower::templates::declare(&mut c, t)?;
        }
        let emit = check(&mut c)?;
        let statics = Statics::new(m, self.abi, &c.columns, &c.regexes);
        let (params, indirect) = self.abi.export_params(interface, function);
        let mut g = FuncGen::new(m, &statics, params.len() as u32, &c.locals);
        if indirect {
            g.prologue(&self.abi.param_offsets(interface, function));
        }
        emit(&mut g, &c);
        let body = g.finish();
        let index = m.function(&params, &[wasm_encoder::ValType::I32], body);
        m.export(&format!("{}#{function}", qualified(interface)), index);
        Ok(())
    }
}

/// Declares the document's settings and tables in a checker.
fn declare<'a>(
    c: &mut Checker<'a>,
    settings: Option<Node<'a>>,
    tables: Option<Node<'a>>,
) -> Result<(), Diagnostic> {
    if let Some(s) = settings {
        check::decls::settings(c, s)?;
    }
    if let Some(t) = tables {
        check::decls::tables(c, t)?;
    }
    Ok(())
}
