//! `seam fmt [--check] FILE...`: rewrite specs in the canonical layout, or check that they are.

use crate::render::{self, FileDiagnostic};
use crate::source;
use clap::Args;
use seam_compiler::render::fmt;
use similar::TextDiff;
use std::path::PathBuf;
use std::process::ExitCode;

/// Format `.seam` files in the one canonical layout (aligned arrows, comments kept).
///
/// Without `--check` each file is rewritten in place. A file that does not parse is left
/// alone and its syntax error printed as `seam check` prints it.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  seam fmt examples/*.seam\n  seam fmt --check specs/*.seam\n\nExit status: 0 formatted (or already formatted with --check), 1 a file is not formatted (--check) or does not parse, 2 bad usage or unreadable file."
)]
pub struct FmtArgs {
    /// The `.seam` files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Change nothing: print a diff of each file that is not formatted and exit 1.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &FmtArgs) -> ExitCode {
    let mut unreadable = false;
    let mut failed = false;
    for path in source::dedup(&args.files) {
        let file = match source::read(&path) {
            Ok(f) if f.invalid_utf8_at.is_none() => f,
            Ok(f) => {
                eprintln!("error: `{}` is not valid UTF-8", f.name);
                failed = true;
                continue;
            }
            Err(message) => {
                eprintln!("error: {message}");
                unreadable = true;
                continue;
            }
        };
        let parsed = match seam_compiler::syntax::parse(&file.text) {
            Ok(ast) => ast,
            Err(d) => {
                let fd = FileDiagnostic {
                    file: &file.name,
                    text: &file.text,
                    diagnostic: &d,
                };
                eprint!("{}", render::human(&fd, render::use_colour(), 100));
                failed = true;
                continue;
            }
        };
        let formatted = fmt::format(&parsed, &file.text);
        if formatted == file.text {
            continue;
        }
        if args.check {
            let diff = TextDiff::from_lines(&file.text, &formatted);
            print!(
                "{}",
                diff.unified_diff()
                    .context_radius(2)
                    .header(&file.name, &format!("{} (formatted)", file.name))
            );
            failed = true;
        } else if let Err(e) = std::fs::write(&path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", file.name);
            unreadable = true;
        } else {
            eprintln!("formatted {}", file.name);
        }
    }
    if unreadable {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
