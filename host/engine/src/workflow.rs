//! Workflows: a tenant's own stages and transitions, as its workflow
//! plugins define them, checked once and enforced by the host.
//!
//! A [`Workflows`] is the checked set of every workflow a pipeline's plugins
//! define. It places tickets ([`Workflows::place`]), answers which moves a
//! ticket may make ([`Workflow::next_stages`]) and checks a move
//! ([`Workflow::check_move`]), whether a caller asks for it or a plugin's
//! `move-to` does. A ticket's [`Position`] is kept by the embedder beside
//! the ticket and passed back in with the next event.

use docket_contract::bindings::docket::plugin::types::{FieldValue, Status, Ticket};
use docket_contract::bindings::exports::docket::plugin::workflow::{self as wit, WorkflowDef};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// The longest stage or workflow name.
pub const MAX_NAME_BYTES: usize = 64;

/// Where a ticket stands in its workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    /// The workflow's name.
    pub workflow: String,
    /// The current stage.
    pub stage: String,
    /// When the ticket entered it.
    #[serde(with = "docket_contract::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub entered_at: i64,
}

/// A ticket's position as a dispatch gets it: where it stands, and the
/// stage the event moved it from when the event is a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionInput {
    /// Where the ticket stands (after the event's own move).
    pub position: Position,
    /// The stage the event moved it from, if the event is a move.
    pub moved_from: Option<String>,
}

/// One stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageDef {
    /// Stable name.
    pub name: String,
    /// Name shown to people.
    pub label: String,
    /// The base status of a ticket in the stage.
    #[serde(with = "docket_contract::wire::StatusDef")]
    #[cfg_attr(feature = "openapi", schema(value_type = docket_contract::wire::StatusDef))]
    pub status: Status,
}

/// One allowed move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransitionDef {
    /// The stages it leaves (empty: every stage).
    pub sources: Vec<String>,
    /// The stage it enters.
    pub target: String,
    /// Roles allowed to make it over the API (empty: anyone).
    pub roles: Vec<String>,
    /// What must have a value first.
    pub required: Vec<String>,
}

impl TransitionDef {
    fn leaves(&self, stage: &str) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|s| s == stage)
    }
}

/// One checked workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workflow {
    /// Its name.
    pub name: String,
    /// The plugin that defines it.
    pub plugin: String,
    /// The categories it applies to (empty: the default).
    pub categories: Vec<String>,
    /// The stage of a new ticket.
    pub initial: String,
    /// The stages in order.
    pub stages: Vec<StageDef>,
    /// The allowed moves.
    pub transitions: Vec<TransitionDef>,
}

/// Who asks for a move, for the transition's role check.
#[derive(Debug, Clone, Copy)]
pub enum Mover<'a> {
    /// A person over the API, with the roles they hold.
    Person(&'a [String]),
    /// A plugin's rule: the tenant's own, no role needed.
    Rule,
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveError {
    /// The workflow has no such stage.
    UnknownStage {
        /// The stage asked for.
        stage: String,
        /// The workflow's stages.
        stages: Vec<String>,
    },
    /// No transition leads there from the current stage.
    NotAllowed {
        /// The current stage.
        from: String,
        /// The stage asked for.
        to: String,
        /// The stages the ticket may move to now.
        allowed: Vec<String>,
    },
    /// A transition leads there, but not for the mover's roles.
    Role {
        /// The current stage.
        from: String,
        /// The stage asked for.
        to: String,
        /// The roles that may make the move.
        roles: Vec<String>,
    },
    /// The move's required fields have no value.
    Required {
        /// The stage asked for.
        to: String,
        /// What is missing.
        missing: Vec<String>,
    },
}

impl std::fmt::Display for MoveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MoveError::UnknownStage { stage, stages } => write!(
                f,
                "unknown stage `{stage}` (the workflow's stages: {})",
                stages.join(", ")
            ),
            MoveError::NotAllowed { from, to, allowed } => write!(
                f,
                "no transition from `{from}` to `{to}` (allowed next: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            ),
            MoveError::Role { from, to, roles } => write!(
                f,
                "the move from `{from}` to `{to}` needs one of the roles: {}",
                roles.join(", ")
            ),
            MoveError::Required { to, missing } => write!(
                f,
                "moving to `{to}` needs a value for: {}",
                missing.join(", ")
            ),
        }
    }
}

impl Workflow {
    /// The stage of this name.
    pub fn stage(&self, name: &str) -> Option<&StageDef> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The stages a ticket in `from` may move to, in the workflow's order
    /// (whatever the roles and required fields).
    pub fn next_stages(&self, from: &str) -> Vec<String> {
        self.stages
            .iter()
            .filter(|s| {
                s.name != from
                    && self
                        .transitions
                        .iter()
                        .any(|t| t.target == s.name && t.leaves(from))
            })
            .map(|s| s.name.clone())
            .collect()
    }

    /// Checks a move of `ticket` from stage `from` to `to`: a transition
    /// leads there, the mover may make it, its required fields have values.
    /// Returns the stage entered.
    ///
    /// # Errors
    /// The first reason the move is refused.
    pub fn check_move(
        &self,
        ticket: &Ticket,
        from: &str,
        to: &str,
        mover: Mover<'_>,
    ) -> Result<&StageDef, MoveError> {
        let Some(stage) = self.stage(to) else {
            return Err(MoveError::UnknownStage {
                stage: to.to_string(),
                stages: self.stages.iter().map(|s| s.name.clone()).collect(),
            });
        };
        let candidates: Vec<&TransitionDef> = self
            .transitions
            .iter()
            .filter(|t| t.target == to && t.leaves(from))
            .collect();
        if candidates.is_empty() || from == to {
            return Err(MoveError::NotAllowed {
                from: from.to_string(),
                to: to.to_string(),
                allowed: self.next_stages(from),
            });
        }
        let permitted: Vec<&TransitionDef> = candidates
            .iter()
            .copied()
            .filter(|t| match mover {
                Mover::Rule => true,
                Mover::Person(roles) => {
                    t.roles.is_empty() || t.roles.iter().any(|r| roles.contains(r))
                }
            })
            .collect();
        if permitted.is_empty() {
            let roles: BTreeSet<String> = candidates.iter().flat_map(|t| t.roles.clone()).collect();
            return Err(MoveError::Role {
                from: from.to_string(),
                to: to.to_string(),
                roles: roles.into_iter().collect(),
            });
        }
        // Of several transitions the mover may take, the one asking least.
        let missing = permitted
            .iter()
            .map(|t| missing_values(ticket, &t.required))
            .min_by_key(Vec::len)
            .unwrap_or_default();
        if !missing.is_empty() {
            return Err(MoveError::Required {
                to: to.to_string(),
                missing,
            });
        }
        Ok(stage)
    }
}

/// The required names that have no value on the ticket.
fn missing_values(ticket: &Ticket, required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|name| !has_value(ticket, name))
        .cloned()
        .collect()
}

fn has_value(ticket: &Ticket, name: &str) -> bool {
    match name {
        "category" => ticket.category.is_some(),
        "group" => ticket.group.is_some(),
        "assignee" => ticket.assignee.is_some(),
        key => ticket.fields.iter().any(|f| {
            f.key == key
                && match &f.value {
                    FieldValue::Text(s) | FieldValue::Choice(s) => !s.trim().is_empty(),
                    FieldValue::Choices(v) => !v.is_empty(),
                    _ => true,
                }
        }),
    }
}

/// Every workflow a pipeline's plugins define, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workflows {
    /// The workflows, in pipeline order.
    pub workflows: Vec<Workflow>,
}

/// Whether `name` is an identifier as tenants, plugins, workflows and
/// stages are named: 1 to 64 of `a-z`, `0-9`, `-`, `_`.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A name a stage or workflow may have.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    if is_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{what} `{name}` is not a name (1 to {MAX_NAME_BYTES} of a-z, 0-9, `-`, `_`)"
        ))
    }
}

impl Workflows {
    /// Checks the definitions plugins returned, `(plugin, definitions)` in
    /// pipeline order.
    ///
    /// # Errors
    /// The plugin and what is wrong with its definitions: a bad or repeated
    /// name, an initial stage or a transition's stage that is not one, a
    /// category (or the default) claimed by two workflows.
    pub fn check(defined: Vec<(String, Vec<WorkflowDef>)>) -> Result<Workflows, (String, String)> {
        let mut workflows = Vec::new();
        let mut claimed: HashMap<Option<String>, String> = HashMap::new();
        for (plugin, defs) in defined {
            for def in defs {
                let checked = check_one(&plugin, def).map_err(|e| (plugin.clone(), e))?;
                if workflows.iter().any(|w: &Workflow| w.name == checked.name) {
                    return Err((
                        plugin,
                        format!("workflow `{}` is defined twice", checked.name),
                    ));
                }
                let keys: Vec<Option<String>> = if checked.categories.is_empty() {
                    vec![None]
                } else {
                    checked.categories.iter().cloned().map(Some).collect()
                };
                for key in keys {
                    if let Some(other) = claimed.insert(key.clone(), checked.name.clone()) {
                        let what = key.map_or("the default (no categories)".to_string(), |c| {
                            format!("category `{c}`")
                        });
                        return Err((
                            plugin,
                            format!(
                                "{what} is claimed by workflows `{other}` and `{}`",
                                checked.name
                            ),
                        ));
                    }
                }
                workflows.push(checked);
            }
        }
        Ok(Workflows { workflows })
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.workflows.is_empty()
    }

    /// The workflow of this name.
    pub fn get(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }

    /// The workflow a ticket of this category is created in: the one naming
    /// the category, else the default one.
    pub fn for_category(&self, category: Option<&str>) -> Option<&Workflow> {
        category
            .and_then(|c| {
                self.workflows
                    .iter()
                    .find(|w| w.categories.iter().any(|x| x == c))
            })
            .or_else(|| self.workflows.iter().find(|w| w.categories.is_empty()))
    }

    /// Where a ticket without a recorded position stands: a new ticket (or
    /// one whose workflow is gone) in its category's workflow, at the
    /// initial stage if it is new, else at the first stage with its status
    /// (or the initial stage). `None` when no workflow applies.
    pub fn place(&self, ticket: &Ticket, now: i64, created: bool) -> Option<Position> {
        let w = self.for_category(ticket.category.as_deref())?;
        let stage = if created {
            &w.initial
        } else {
            w.stages
                .iter()
                .find(|s| s.status == ticket.status)
                .map_or(&w.initial, |s| &s.name)
        };
        Some(Position {
            workflow: w.name.clone(),
            stage: stage.clone(),
            entered_at: now,
        })
    }
}

fn check_one(plugin: &str, def: WorkflowDef) -> Result<Workflow, String> {
    check_name("workflow", &def.name)?;
    let at = |e: String| format!("workflow `{}`: {e}", def.name);
    if def.stages.is_empty() {
        return Err(at("has no stages".into()));
    }
    let mut names = BTreeSet::new();
    for s in &def.stages {
        check_name("stage", &s.name).map_err(at)?;
        if !names.insert(s.name.clone()) {
            return Err(at(format!("stage `{}` is defined twice", s.name)));
        }
    }
    let known = |what: &str, name: &str| {
        if names.contains(name) {
            Ok(())
        } else {
            Err(at(format!(
                "{what} `{name}` is not one of its stages ({})",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            )))
        }
    };
    known("initial stage", &def.initial)?;
    for (i, t) in def.transitions.iter().enumerate() {
        known(&format!("transition {i}: target"), &t.target)?;
        for s in &t.sources {
            known(&format!("transition {i}: source"), s)?;
        }
    }
    Ok(Workflow {
        name: def.name,
        plugin: plugin.to_string(),
        categories: def.categories,
        initial: def.initial,
        stages: def
            .stages
            .into_iter()
            .map(|s| StageDef {
                name: s.name,
                label: s.label,
                status: s.status,
            })
            .collect(),
        transitions: def
            .transitions
            .into_iter()
            .map(|t| TransitionDef {
                sources: t.sources,
                target: t.target,
                roles: t.roles,
                required: t.required,
            })
            .collect(),
    })
}

/// The position a call in `phase` is given: `None` when the call is
/// skipped (a workflow call on a ticket in no workflow), else what `react`
/// takes (nothing, for the other capabilities).
pub(crate) fn call_position(
    phase: docket_contract::Capability,
    position: Option<&Position>,
    moved_from: Option<&String>,
) -> Option<Option<wit::Position>> {
    match (phase, position) {
        (docket_contract::Capability::Workflow, None) => None,
        (docket_contract::Capability::Workflow, Some(p)) => Some(Some(wit::Position {
            workflow: p.workflow.clone(),
            stage: p.stage.clone(),
            entered_at: p.entered_at,
            moved_from: moved_from.cloned(),
        })),
        _ => Some(None),
    }
}

/// Where a dispatch starts: the position given, or (without one) where
/// [`Workflows::place`] puts the ticket, whose status then becomes its
/// stage's. Returns the position and the stage the event moved from.
pub(crate) fn start(
    workflows: &Workflows,
    given: Option<PositionInput>,
    ticket: &mut Ticket,
    event: &docket_contract::types::Event,
    now: i64,
) -> (Option<Position>, Option<String>) {
    if let Some(g) = given {
        return (Some(g.position), g.moved_from);
    }
    let created = matches!(event.kind, docket_contract::types::EventKind::Created);
    let placed = workflows.place(ticket, now, created);
    if let Some(stage) = placed
        .as_ref()
        .and_then(|p| workflows.get(&p.workflow)?.stage(&p.stage))
    {
        ticket.status = stage.status;
    }
    (placed, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use docket_contract::bindings::exports::docket::plugin::workflow::{Stage, Transition};

    fn def(
        name: &str,
        categories: &[&str],
        stages: &[&str],
        transitions: &[(&str, &str)],
    ) -> WorkflowDef {
        WorkflowDef {
            name: name.into(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            initial: stages.first().map_or("", |s| s).to_string(),
            stages: stages
                .iter()
                .map(|s| Stage {
                    name: s.to_string(),
                    label: s.to_string(),
                    status: Status::Open,
                })
                .collect(),
            transitions: transitions
                .iter()
                .map(|(from, to)| Transition {
                    sources: vec![from.to_string()],
                    target: to.to_string(),
                    roles: vec![],
                    required: vec![],
                })
                .collect(),
        }
    }

    fn check(defs: Vec<WorkflowDef>) -> Result<Workflows, String> {
        Workflows::check(vec![("wf".into(), defs)]).map_err(|(plugin, e)| {
            assert_eq!(plugin, "wf");
            e
        })
    }

    #[test]
    fn definitions_are_checked_and_every_fault_named() {
        assert!(check(vec![def("a", &[], &["x", "y"], &[("x", "y")])]).is_ok());
        let cases = [
            (def("A", &[], &["x"], &[]), "workflow `A` is not a name"),
            (def("a", &[], &[], &[]), "workflow `a`: has no stages"),
            (
                def("a", &[], &["x", "x"], &[]),
                "stage `x` is defined twice",
            ),
            (
                def("a", &[], &["x", "no way"], &[]),
                "stage `no way` is not a name",
            ),
            (
                def("a", &[], &["x"], &[("x", "z")]),
                "transition 0: target `z` is not one of its stages (x)",
            ),
            (
                def("a", &[], &["x"], &[("q", "x")]),
                "transition 0: source `q` is not one of its stages (x)",
            ),
        ];
        for (d, expected) in cases {
            let e = check(vec![d]).unwrap_err();
            assert!(e.contains(expected), "{e} / {expected}");
        }
        let mut bad_initial = def("a", &[], &["x"], &[]);
        bad_initial.initial = "y".into();
        assert!(
            check(vec![bad_initial])
                .unwrap_err()
                .contains("initial stage `y`")
        );
    }

    #[test]
    fn a_category_belongs_to_one_workflow() {
        let e = check(vec![def("a", &[], &["x"], &[]), def("b", &[], &["x"], &[])]).unwrap_err();
        assert_eq!(
            e,
            "the default (no categories) is claimed by workflows `a` and `b`"
        );
        let e = check(vec![
            def("a", &["hardware"], &["x"], &[]),
            def("b", &["returns", "hardware"], &["x"], &[]),
        ])
        .unwrap_err();
        assert_eq!(e, "category `hardware` is claimed by workflows `a` and `b`");
        let e = check(vec![
            def("a", &[], &["x"], &[]),
            def("a", &["z"], &["x"], &[]),
        ])
        .unwrap_err();
        assert_eq!(e, "workflow `a` is defined twice");
        let w = check(vec![
            def("repair", &["hardware"], &["r"], &[]),
            def("general", &[], &["g"], &[]),
        ])
        .unwrap();
        assert_eq!(w.for_category(Some("hardware")).unwrap().name, "repair");
        assert_eq!(w.for_category(Some("returns")).unwrap().name, "general");
        assert_eq!(w.for_category(None).unwrap().name, "general");
    }
}
