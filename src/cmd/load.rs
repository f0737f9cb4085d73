//! Reading and checking the one spec a command works on, with the same diagnostics and exit
//! codes as `seam check`: an unreadable file is exit 2, a spec with errors is exit 1.

use crate::render::{self, FileDiagnostic};
use crate::source;
use seam_compiler::plan::OwnershipOrder;
use seam_compiler::{Checked, Code, Diagnostic, Plan, Span};
use std::path::Path;
use std::process::ExitCode;

/// A spec read from disk and checked.
pub struct Loaded {
    pub name: String,
    pub text: String,
    pub checked: Checked,
}

impl Loaded {
    /// Prints every diagnostic (warnings too) on stderr, as `seam check` does for people.
    pub fn print_diagnostics(&self) {
        let mut human = render::Human::new(render::use_colour(), 100);
        for d in &self.checked.diagnostics {
            eprint!(
                "{}",
                human.render(&FileDiagnostic {
                    file: &self.name,
                    text: &self.text,
                    diagnostic: d,
                })
            );
        }
    }

    /// Prints the diagnostics and, when there are errors, says so and returns exit code 1.
    pub fn require_clean(&self) -> Result<(), ExitCode> {
        self.print_diagnostics();
        if self.checked.has_errors() {
            let n = self
                .checked
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .count();
            let s = if n == 1 { "" } else { "s" };
            eprintln!("{}: {n} error{s}; fix them first", self.name);
            return Err(ExitCode::from(1));
        }
        Ok(())
    }
}

/// Reads and checks one file; an unreadable file is reported and is exit code 2.
pub fn load(path: &Path) -> Result<Loaded, ExitCode> {
    load_by(path, |text| (seam_compiler::check_model(text), ())).map(|(loaded, ())| loaded)
}

/// [`load`], and the spec's plan when it has no errors, built beside the checks
/// ([`seam_compiler::check_and_plan_parts`]: its `spec_hash` is left empty, and its
/// ownership and mapping lists too, to be written from the model with
/// [`seam_compiler::plan::ModelParts`]; the ownership list's order comes with it).
pub fn load_and_plan(path: &Path) -> Result<(Loaded, Option<(Plan, OwnershipOrder)>), ExitCode> {
    load_by(path, seam_compiler::check_and_plan_parts)
}

/// Reads one file and checks it with `check`, which also returns what else it made of the
/// text (`T::default()` for a file that is not UTF-8, which is not checked).
fn load_by<T: Default>(
    path: &Path,
    check: impl FnOnce(&str) -> (Checked, T),
) -> Result<(Loaded, T), ExitCode> {
    let file = source::read(path).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })?;
    let (checked, made) = match file.invalid_utf8_at {
        Some(at) => (
            Checked {
                file: None,
                model: None,
                diagnostics: vec![Diagnostic::error(
                    Code::Syntax,
                    format!("the file is not valid UTF-8 (byte {at})"),
                    Span::new(at, at),
                )
                .with_label("invalid byte here")
                .with_help("a `.seam` file is UTF-8 text; is this the right file?")],
            },
            T::default(),
        ),
        None => check(&file.text),
    };
    let loaded = Loaded {
        name: file.name,
        text: file.text,
        checked,
    };
    Ok((loaded, made))
}

/// Writes `text` to `out`, or to stdout when `out` is `None`; a write error is exit code 2.
pub fn emit(text: &str, out: Option<&Path>) -> Result<(), ExitCode> {
    match out {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => std::fs::write(path, text).map_err(|e| {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            ExitCode::from(2)
        }),
    }
}

/// Hands a command's large values (the model, the plan, the rendered text) to the process's
/// exit instead of freeing them. `seam` runs one command and exits; the OS takes the whole
/// heap back at once, while dropping a 100,000-mapping plan or model walks millions of small
/// allocations (a tenth of a second or more). Call it only once the output is written and
/// flushed: nothing of the value is needed after, and no destructor of it does any I/O.
pub fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Frees a value on a thread of its own, not waited for: the caller goes on (to the next file,
/// to its report) and, if the process ends first, the OS takes the rest. For a model `seam
/// check` no longer needs; freeing a 100,000-mapping model walks millions of allocations. If
/// the thread cannot start, the value is freed here.
pub fn free_aside<T: Send + 'static>(value: T) {
    let _detached = std::thread::Builder::new().spawn(move || drop(value));
}

/// Collapses a command's `Result` into its exit code.
pub fn exit(result: Result<(), ExitCode>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
