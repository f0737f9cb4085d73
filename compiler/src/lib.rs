//! seam-compiler: `.seam` source text to a checked model (and later a Plan), or diagnostics.
//!
//! The compiler is pure: it does no I/O beyond the text it is handed. It keeps checking after
//! the first problem and returns every diagnostic it finds, sorted by position.

pub mod catalog;
pub mod codes;
pub mod diagnostic;
pub mod span;
pub mod syntax;

pub use codes::Code;
pub use diagnostic::{Diagnostic, Label, Severity};
pub use span::{LineIndex, Span};
pub mod check;
mod fx;
pub mod model;
pub mod plan;
pub mod render;
pub mod resolve;
mod suggest;

use syntax::ast::SeamFile;

pub use plan::Plan;

/// The outcome of checking one file: the AST and model as far as they could be built, and every
/// diagnostic, sorted by position.
#[derive(Debug)]
pub struct Checked {
    pub file: Option<SeamFile>,
    pub model: Option<model::Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, resolves and checks one `.seam` file's text.
pub fn check(src: &str) -> Checked {
    let file = match syntax::parse(src) {
        Ok(file) => file,
        Err(d) => return refused(d),
    };
    let (model, mut diagnostics) = resolve::resolve(&file);
    diagnostics.extend(check::run(&model));
    diagnostic::sort(&mut diagnostics);
    Checked {
        file: Some(file),
        model: Some(model),
        diagnostics,
    }
}

/// Texts at least this long have their AST dropped on a second thread by [`check_model`].
const DROP_AST_ASIDE_BYTES: usize = 64 * 1024;

/// [`check`] for callers that need only the model and the diagnostics (every command but
/// `fmt`): `file` is `None`. The AST is dropped as soon as the model is built, beside the
/// checks on a second thread for a large text, so a large spec's AST is never held together
/// with the checks' own structures (peak memory) and freeing it is off the critical path.
pub fn check_model(src: &str) -> Checked {
    let file = match syntax::parse(src) {
        Ok(file) => file,
        Err(d) => return refused(d),
    };
    let (model, mut diagnostics) = resolve::resolve(&file);
    let found = if src.len() < DROP_AST_ASIDE_BYTES {
        drop(file);
        check::run(&model)
    } else {
        std::thread::scope(|scope| {
            // If the thread cannot start, the closure and the AST are dropped right here.
            let _dropping = std::thread::Builder::new().spawn_scoped(scope, move || drop(file));
            check::run(&model)
        })
    };
    diagnostics.extend(found);
    diagnostic::sort(&mut diagnostics);
    Checked {
        file: None,
        model: Some(model),
        diagnostics,
    }
}

/// [`check_model`] and the spec's [`Plan`], built beside the checks: `seam compile`'s way.
/// The plan is `Some` exactly when the spec has no errors (no plan is made from a spec with
/// errors: one built while the checks ran is dropped if they find any). Its `spec_hash` is
/// left empty, for the caller to compute ([`Plan::content_hash`]) or to compute while writing
/// the plan ([`Plan::write_pretty_hashing`]).
///
/// The checks and the plan only read the model, so once it is resolved they run at once:
/// the plan on this thread, the checks on others and then on this one too, and the AST is
/// freed on another. A plan is not started if resolving already found an error. For a text
/// under [`DROP_AST_ASIDE_BYTES`] everything runs on this thread.
pub fn check_and_plan(src: &str) -> (Checked, Option<Plan>) {
    check_and_plan_by(src, Plan::from_model_unhashed, Ast::Free)
}

/// [`check_and_plan`] with a [`Plan::skeleton`] (no ownership list, no mapping lists) and the
/// order of the ownership list, for a caller that writes those from the model
/// ([`plan::ModelParts`], [`plan::OwnershipView::in_order`]: `seam compile`). Both are made
/// beside the checks. The AST is not freed but returned (`file`), for a caller that exits
/// soon to leave to the exit: freeing it is ~30 M instructions per 10,000 mappings, and a
/// thread freeing it beside the checks took a core from them (DESIGN.md, branch `cspeed6`).
pub fn check_and_plan_parts(src: &str) -> (Checked, Option<(Plan, plan::OwnershipOrder)>) {
    check_and_plan_by(
        src,
        |model| (Plan::skeleton(model), plan::OwnershipOrder::of(model)),
        Ast::Return,
    )
}

/// What [`check_and_plan_by`] does with the AST once the model is built.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ast {
    /// Frees it (on a thread of its own beside the checks, for a large text).
    Free,
    /// Returns it in [`Checked::file`].
    Return,
}

fn check_and_plan_by<T: Send>(
    src: &str,
    build: fn(&model::Model) -> T,
    ast: Ast,
) -> (Checked, Option<T>) {
    let file = match syntax::parse(src) {
        Ok(file) => file,
        Err(d) => return (refused(d), None),
    };
    let (model, mut diagnostics) = resolve::resolve(&file);
    let resolved_clean = !diagnostics.iter().any(Diagnostic::is_error);
    let mut kept = None;
    let (found, plan) = if src.len() < DROP_AST_ASIDE_BYTES {
        match ast {
            Ast::Free => drop(file),
            Ast::Return => kept = Some(file),
        }
        let found = check::run(&model);
        let plan = resolved_clean && !found.iter().any(Diagnostic::is_error);
        (found, plan.then(|| build(&model)))
    } else {
        let jobs = check::Jobs::new(&model);
        let plan = std::thread::scope(|scope| {
            let (model, jobs) = (&model, &jobs);
            // The checks on threads of their own and, once the plan is built, on this one
            // too (they are jobs any thread takes: `check::Jobs`), so no core waits while
            // another finishes a long check. The plan is built on this thread, whose heap
            // holds the model. The checks' threads start before the one freeing the AST, so
            // that they can take over the heap of the parser's finished thread (an order
            // chosen under glibc's arenas; the `seam` binary now runs on mimalloc: DESIGN.md,
            // "The allocator"). If a thread cannot start, its work is done on this one.
            let checking = jobs.help(scope);
            match ast {
                Ast::Free => {
                    // If the thread cannot start, the closure and the AST are dropped here.
                    let _dropping =
                        std::thread::Builder::new().spawn_scoped(scope, move || drop(file));
                }
                Ast::Return => kept = Some(file),
            }
            let plan = resolved_clean.then(|| build(model));
            jobs.work();
            check::Jobs::join(checking);
            plan
        });
        // A check whose thread panicked runs (and panics again) here.
        let found = jobs.finish();
        let clean = !found.iter().any(Diagnostic::is_error);
        (found, plan.filter(|_| clean))
    };
    diagnostics.extend(found);
    diagnostic::sort(&mut diagnostics);
    let checked = Checked {
        file: kept,
        model: Some(model),
        diagnostics,
    };
    (checked, plan)
}

fn refused(syntax_error: Diagnostic) -> Checked {
    Checked {
        file: None,
        model: None,
        diagnostics: vec![syntax_error],
    }
}

/// The catalogue a spec describes: the built-in objects plus its `object` blocks. For the
/// sandbox, which serves the same objects and fields the spec declares.
pub fn catalog_for_spec(src: &str) -> Result<catalog::Catalog, Vec<Diagnostic>> {
    let checked = check_model(src);
    if checked.has_errors() {
        return Err(checked
            .diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect());
    }
    checked.model.map(|m| m.catalog).ok_or_else(Vec::new)
}

/// Checks one file and compiles it: the check's outcome, and the [`Plan`] when there are no
/// errors (no plan is built from a spec with errors).
pub fn compile(src: &str) -> (Checked, Option<Plan>) {
    let checked = check(src);
    let plan = match (&checked.model, checked.has_errors()) {
        (Some(model), false) => Some(Plan::from_model(model)),
        _ => None,
    };
    (checked, plan)
}
#[doc(hidden)]
pub mod synthetic;
