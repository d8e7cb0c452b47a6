//! What the checker knows, for editors: the names an expression can read
//! (with their types), the functions it can call, and — read from a draft
//! that need not compile — the document's own declarations. A rules
//! editor completes from these; the compiler stays the judge of what is
//! valid.

use crate::check::calls::{CALLS, QUANTIFIERS};
use crate::check::{EVENT_FIELDS, ROOTS, list_fields, record_fields};
use crate::ir::{RecTy, Ty};
use serde::Serialize;

/// Every name and function a document's expressions can use.
#[derive(Debug, Clone, Serialize)]
pub struct Vocabulary {
    /// The names an expression starts with (`ticket`, `now`, `setting`, ...).
    pub roots: Vec<Name>,
    /// The fields of each record, by the name expressions give the record
    /// (`ticket`, `requester`, `agent`, ...): what completes after a dot.
    pub records: Vec<Record>,
    /// What `event.` reads.
    pub event: Vec<String>,
    /// The functions, with their calls written out.
    pub functions: Vec<Function>,
    /// Quantifiers: `count(x in list where c)`, `any(...)`, `all(...)`.
    pub quantifiers: Vec<String>,
}

/// A name with what it holds.
#[derive(Debug, Clone, Serialize)]
pub struct Name {
    /// The name as written.
    pub name: String,
    /// Its type, as error messages say it ("a number", "a list of ...").
    pub ty: String,
}

/// A record's fields.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// The record as expressions name it.
    pub name: String,
    /// Its fields.
    pub fields: Vec<Name>,
}

/// A callable function.
#[derive(Debug, Clone, Serialize)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// How many arguments it takes.
    pub arity: usize,
    /// The call written out, with what it does.
    pub doc: String,
}

/// What a draft declares, read without compiling it: the names its
/// expressions add to the vocabulary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Outline {
    /// Declared settings (`setting.<name>`).
    pub settings: Vec<String>,
    /// Declared tables, each with its outputs (`row.<output>`).
    pub tables: Vec<(String, Vec<String>)>,
    /// Custom fields the templates declare (`field.<key>`).
    pub fields: Vec<String>,
}

/// The records expressions reach, by the name a completion follows.
const RECORDS: &[(&str, RecTy)] = &[
    ("ticket", RecTy::Ticket),
    ("requester", RecTy::Requester),
    ("time_entry", RecTy::TimeEntry),
    ("part", RecTy::Part),
    ("agent", RecTy::Agent),
    ("history", RecTy::Brief),
    ("comment", RecTy::Comment),
];

/// The type of each root name (bindings of the context and the ticket).
fn root_type(root: &str) -> String {
    let list = |r: RecTy| Ty::List(Box::new(Ty::Rec(r))).label();
    match root {
        "ticket" => Ty::Rec(RecTy::Ticket).label(),
        "requester" => Ty::Rec(RecTy::Requester).label(),
        "event" => "the event".into(),
        "now" => Ty::Instant.label(),
        "tenant" => Ty::Text.label(),
        "setting" => "the declared settings".into(),
        "agents" => format!("{} (in [routing] only)", list(RecTy::Agent)),
        "history" => list(RecTy::Brief),
        "time_entries" => list(RecTy::TimeEntry),
        "parts" => list(RecTy::Part),
        "row" => "the matched table row's outputs".into(),
        "field" => "the templates' custom fields".into(),
        other => unreachable!("root `{other}` without a type"),
    }
}

/// The vocabulary of every document.
pub fn vocabulary() -> Vocabulary {
    let records = RECORDS
        .iter()
        .map(|(name, rec)| Record {
            name: name.to_string(),
            fields: record_fields(*rec)
                .iter()
                .map(|(n, _, ty)| Name {
                    name: n.to_string(),
                    ty: ty.label(),
                })
                .chain(list_fields(*rec).iter().map(|(n, _, element)| Name {
                    name: n.to_string(),
                    ty: Ty::List(Box::new(element.map_or(Ty::Text, Ty::Rec))).label(),
                }))
                .collect(),
        })
        .collect();
    Vocabulary {
        roots: ROOTS
            .iter()
            .map(|r| Name {
                name: r.to_string(),
                ty: root_type(r),
            })
            .collect(),
        records,
        event: EVENT_FIELDS.iter().map(|f| f.to_string()).collect(),
        functions: CALLS
            .iter()
            .map(|(name, arity, doc)| Function {
                name: name.to_string(),
                arity: *arity,
                doc: doc.to_string(),
            })
            .collect(),
        quantifiers: QUANTIFIERS.iter().map(|q| q.to_string()).collect(),
    }
}

/// What a draft declares, as far as its TOML reads; an empty outline when
/// it is not TOML yet (the editor keeps its last one meanwhile).
pub fn outline(source: &str) -> Outline {
    let Ok(doc) = source.parse::<toml::Table>() else {
        return Outline::default();
    };
    let keys = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let tables = doc
        .get("tables")
        .and_then(toml::Value::as_table)
        .map(|tables| {
            tables
                .iter()
                .map(|(name, table)| {
                    let outputs = table
                        .get("outputs")
                        .and_then(toml::Value::as_array)
                        .map(|o| {
                            o.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    (name.clone(), outputs)
                })
                .collect()
        })
        .unwrap_or_default();
    let fields = doc
        .get("templates")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("fields").and_then(toml::Value::as_array))
        .flatten()
        .filter_map(|f| f.get("key").and_then(toml::Value::as_str))
        .map(str::to_string)
        .collect();
    Outline {
        settings: keys(doc.get("settings")),
        tables,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_root_and_function_is_listed_with_its_type() {
        let v = vocabulary();
        assert_eq!(v.roots.len(), ROOTS.len());
        let ticket = v.records.iter().find(|r| r.name == "ticket").unwrap();
        let priority = ticket.fields.iter().find(|f| f.name == "priority").unwrap();
        assert_eq!(priority.ty, "a priority");
        assert!(ticket.fields.iter().any(|f| f.name == "tags"));
        let lookup = v.functions.iter().find(|f| f.name == "lookup").unwrap();
        assert_eq!(lookup.arity, 3);
        assert!(lookup.doc.starts_with("lookup("));
    }

    #[test]
    fn the_outline_reads_declarations_of_a_draft_that_does_not_compile() {
        let draft = r#"
[settings]
max_open = { integer = 5 }
[tables.teams]
inputs = ["ticket.category"]
outputs = ["team", "queue"]
rows = []
[[templates]]
id = "repair"
[[templates.fields]]
key = "serial"
[[routing.rule]]
when = 'ticket.prio == "high"'
"#;
        let o = outline(draft);
        assert_eq!(o.settings, ["max_open"]);
        assert_eq!(
            o.tables,
            [("teams".to_string(), vec!["team".into(), "queue".into()])]
        );
        assert_eq!(o.fields, ["serial"]);
        assert_eq!(outline("[settings"), Outline::default());
    }
}
