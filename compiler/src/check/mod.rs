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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::{Scope, ScopedJoinHandle};

/// Models with fewer mappings than this are checked on one thread (starting a thread costs
/// more than their cycle check saves).
const PARALLEL_MIN_MAPPINGS: usize = 2_000;

/// Every check, in the order their diagnostics are listed (before the final sort by position,
/// which keeps this order among equal positions).
const CHECKS: [fn(&Model) -> Vec<Diagnostic>; 7] = [
    secrets::check,
    ownership::check,
    cycles::check,
    identity::check,
    maps::check,
    types::check,
    unused::check,
];

/// The order in which threads take the checks: the largest first (the cycle check builds the
/// whole dependency graph; ownership hashes every claimed field; maps and types look every
/// mapping's fields up), so the last one taken is short and no thread waits long for another.
const LARGEST_FIRST: [usize; 7] = [2, 1, 4, 5, 6, 3, 0];

/// Runs every check. On a large model they are shared between this thread and another
/// ([`Jobs`]); the diagnostics come out in the same order either way.
pub fn run(model: &Model) -> Vec<Diagnostic> {
    run_on(model, parallel(model))
}

/// Whether `model` is large enough for its checks to be shared between threads.
pub fn parallel(model: &Model) -> bool {
    let mappings: usize = model.links.iter().map(|l| l.mappings.len()).sum();
    mappings >= PARALLEL_MIN_MAPPINGS
}

/// [`run`], on two threads or one.
fn run_on(model: &Model, threads: bool) -> Vec<Diagnostic> {
    let jobs = Jobs::new(model);
    if threads {
        std::thread::scope(|scope| {
            let helpers = jobs.help(scope);
            jobs.work();
            Jobs::join(helpers);
        });
    }
    jobs.finish()
}

/// The checks of one model as jobs that any number of threads take in turn
/// ([`Jobs::work`]), largest first; [`Jobs::finish`] lists their diagnostics in [`CHECKS`]
/// order, whichever thread ran which, so the result is that of a serial run.
pub struct Jobs<'m> {
    model: &'m Model,
    /// How many of [`LARGEST_FIRST`] have been taken.
    taken: AtomicUsize,
    found: [OnceLock<Vec<Diagnostic>>; CHECKS.len()],
}

impl<'m> Jobs<'m> {
    pub fn new(model: &'m Model) -> Jobs<'m> {
        Jobs {
            model,
            taken: AtomicUsize::new(0),
            found: Default::default(),
        }
    }

    /// Runs checks not yet taken until none is left.
    pub fn work(&self) {
        loop {
            let next = self.taken.fetch_add(1, Ordering::Relaxed);
            let Some(&k) = LARGEST_FIRST.get(next) else {
                return;
            };
            if let (Some(check), Some(slot)) = (CHECKS.get(k), self.found.get(k)) {
                let _ = slot.set(check(self.model));
            }
        }
    }

    /// Starts the threads that take checks beside the caller's (one fewer than the cores, at
    /// least one, at most three). One that cannot start leaves its share to the others.
    pub fn help<'scope>(
        &'scope self,
        scope: &'scope Scope<'scope, '_>,
    ) -> Vec<ScopedJoinHandle<'scope, ()>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (0..cores.saturating_sub(1).clamp(1, 3))
            .filter_map(|_| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, || self.work())
                    .ok()
            })
            .collect()
    }

    /// Waits for the threads [`Jobs::help`] started. A check of one that panicked is left to
    /// [`Jobs::finish`] (joined here, its panic does not end the scope).
    pub fn join(helpers: Vec<ScopedJoinHandle<'_, ()>>) {
        for helper in helpers {
            let _ = helper.join();
        }
    }

    /// Every check's diagnostics, in [`CHECKS`] order. A check no thread finished (one that
    /// panicked, or was never taken) runs here (and panics again, as it would have serially).
    pub fn finish(self) -> Vec<Diagnostic> {
        let mut diagnostics = Vec::new();
        for (check, slot) in CHECKS.iter().zip(self.found) {
            match slot.into_inner() {
                Some(found) => diagnostics.extend(found),
                None => diagnostics.extend(check(self.model)),
            }
        }
        diagnostics
    }
}

pub use cycles::{dependency_graph, EdgeKind, GraphEdge, GraphNode};
pub use ownership::{claims, Claim, ClaimKind};

#[cfg(test)]
mod tests;
