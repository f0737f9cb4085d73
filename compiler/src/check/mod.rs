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

/// Runs every check. On a large model the cycle check (it builds the whole dependency graph)
/// and the unused check run on a second thread beside the others (the two halves take about
/// the same time); the diagnostics come out in the same order either way.
pub fn run(model: &Model) -> Vec<Diagnostic> {
    let mappings: usize = model.links.iter().map(|l| l.mappings.len()).sum();
    run_on(model, mappings >= PARALLEL_MIN_MAPPINGS)
}

/// [`run`], with the cycle and unused checks on their own thread or not.
fn run_on(model: &Model, threads: bool) -> Vec<Diagnostic> {
    let (mut diagnostics, (cycles, unused), after) = if !threads {
        (before_cycles(model), aside(model), after_cycles(model))
    } else {
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new().spawn_scoped(scope, || aside(model));
            let (before, after) = (before_cycles(model), after_cycles(model));
            // A thread that could not start, or panicked, gets the serial run (which panics
            // again, as it would have without threads).
            let aside = match handle.map(|h| h.join()) {
                Ok(Ok(aside)) => aside,
                _ => aside(model),
            };
            (before, aside, after)
        })
    };
    diagnostics.extend(cycles);
    diagnostics.extend(after);
    diagnostics.extend(unused);
    diagnostics
}

/// The checks that run on the second thread: cycles, and unused declarations.
fn aside(model: &Model) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    (cycles::check(model), unused::check(model))
}

fn before_cycles(model: &Model) -> Vec<Diagnostic> {
    let mut diagnostics = secrets::check(model);
    diagnostics.extend(ownership::check(model));
    diagnostics
}

/// The checks after the cycle check, but for `unused` (the last one, run by [`aside`]).
fn after_cycles(model: &Model) -> Vec<Diagnostic> {
    let mut diagnostics = identity::check(model);
    diagnostics.extend(maps::check(model));
    diagnostics.extend(types::check(model));
    diagnostics
}

pub use cycles::{dependency_graph, EdgeKind, GraphEdge, GraphNode};
pub use ownership::{claims, Claim, ClaimKind};

#[cfg(test)]
mod tests;
