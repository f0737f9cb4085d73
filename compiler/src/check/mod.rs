//! The checks that run on a resolved [`Model`], one module per rule family of LANGUAGE.md.
//!
//! Each check is independent and returns its own diagnostics; the runner chains them (never
//! short-circuits), so one run reports every problem.

mod cycles;
mod identity;
mod maps;
mod ownership;
mod secrets;
mod types;
mod unused;

use crate::diagnostic::Diagnostic;
use crate::model::Model;

/// Runs every check.
pub fn run(model: &Model) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    diagnostics.extend(secrets::check(model));
    diagnostics.extend(ownership::check(model));
    diagnostics.extend(cycles::check(model));
    diagnostics.extend(identity::check(model));
    diagnostics.extend(maps::check(model));
    diagnostics.extend(types::check(model));
    diagnostics.extend(unused::check(model));
    diagnostics
}

pub use cycles::{dependency_graph, EdgeKind, GraphEdge, GraphNode};
pub use ownership::{claims, Claim, ClaimKind};

#[cfg(test)]
mod tests;
