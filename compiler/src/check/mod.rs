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

/// Models with fewer mappings than this are checked on one thread (starting a thread costs
/// more than their cycle check saves).
const PARALLEL_MIN_MAPPINGS: usize = 2_000;

/// Runs every check. On a large model the cycle check (about half of the checks' work: it
/// builds the whole dependency graph) runs on a second thread beside the others; the
/// diagnostics come out in the same order either way.
pub fn run(model: &Model) -> Vec<Diagnostic> {
    let mappings: usize = model.links.iter().map(|l| l.mappings.len()).sum();
    run_on(model, mappings >= PARALLEL_MIN_MAPPINGS)
}

/// [`run`], with the cycle check on its own thread or not.
fn run_on(model: &Model, threads: bool) -> Vec<Diagnostic> {
    let (mut diagnostics, cycles, after) = if !threads {
        (
            before_cycles(model),
            cycles::check(model),
            after_cycles(model),
        )
    } else {
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new().spawn_scoped(scope, || cycles::check(model));
            let (before, after) = (before_cycles(model), after_cycles(model));
            // A thread that could not start, or panicked, gets the serial run (which panics
            // again, as it would have without threads).
            let cycles = match handle.map(|h| h.join()) {
                Ok(Ok(cycles)) => cycles,
                _ => cycles::check(model),
            };
            (before, cycles, after)
        })
    };
    diagnostics.extend(cycles);
    diagnostics.extend(after);
    diagnostics
}

fn before_cycles(model: &Model) -> Vec<Diagnostic> {
    let mut diagnostics = secrets::check(model);
    diagnostics.extend(ownership::check(model));
    diagnostics
}

fn after_cycles(model: &Model) -> Vec<Diagnostic> {
    let mut diagnostics = identity::check(model);
    diagnostics.extend(maps::check(model));
    diagnostics.extend(types::check(model));
    diagnostics.extend(unused::check(model));
    diagnostics
}

pub use cycles::{dependency_graph, EdgeKind, GraphEdge, GraphNode};
pub use ownership::{claims, Claim, ClaimKind};

#[cfg(test)]
mod tests;
