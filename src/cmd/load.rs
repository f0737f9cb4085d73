//! Reading and checking the one spec a command works on, with the same diagnostics and exit
//! codes as `seam check`: an unreadable file is exit 2, a spec with errors is exit 1.

use crate::render::{self, FileDiagnostic};
use crate::source;
use seam_compiler::{Checked, Code, Diagnostic, Span};
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
        let colour = render::use_colour();
        for d in &self.checked.diagnostics {
            eprint!(
                "{}",
                render::human(
                    &FileDiagnostic {
                        file: &self.name,
                        text: &self.text,
                        diagnostic: d,
                    },
                    colour,
                    100
                )
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
    let file = source::read(path).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })?;
    let checked = match file.invalid_utf8_at {
        Some(at) => Checked {
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
        None => seam_compiler::check_model(&file.text),
    };
    Ok(Loaded {
        name: file.name,
        text: file.text,
        checked,
    })
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

/// Collapses a command's `Result` into its exit code.
pub fn exit(result: Result<(), ExitCode>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
