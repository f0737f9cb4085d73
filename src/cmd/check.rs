//! `seam check FILE...`: every problem in the files, for people (default), JSON or SARIF.
//! Exit 0 without errors (warnings allowed), 1 with errors, 2 on bad usage or unreadable files.

use super::load;
use crate::render::{self, FileDiagnostic};
use crate::source;
use clap::{Args, ValueEnum};
use seam_compiler::{Code, Diagnostic, Span};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// miette's graphical report on stderr
    Human,
    /// `{"diagnostics": [...]}` on stdout
    Json,
    /// SARIF 2.1.0 on stdout, for code-scanning pipelines
    Sarif,
}

/// Check `.seam` files: names, ownership, cycles, keys, value maps, types, secrets.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  seam check examples/case_incident.seam\n  seam check --format json a.seam b.seam\n  seam check --format sarif specs/*.seam > seam.sarif\n\nExit status: 0 no errors (warnings allowed), 1 errors found, 2 bad usage or unreadable file."
)]
pub struct CheckArgs {
    /// The `.seam` files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// One file read and checked.
pub struct CheckedFile {
    pub name: String,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads and checks each file; unreadable files are reported on stderr and counted.
pub fn check_files(files: &[PathBuf]) -> (Vec<CheckedFile>, usize) {
    let mut checked = Vec::new();
    let mut unreadable = 0;
    for path in source::dedup(files) {
        match source::read(&path) {
            Ok(file) => {
                let diagnostics = match file.invalid_utf8_at {
                    Some(at) => vec![Diagnostic::error(
                        Code::Syntax,
                        format!("the file is not valid UTF-8 (byte {at})"),
                        Span::new(at, at),
                    )
                    .with_label("invalid byte here")
                    .with_help("a `.seam` file is UTF-8 text; is this the right file?")],
                    None => {
                        let checked = seam_compiler::check_model(&file.text);
                        load::free_aside(checked.model);
                        checked.diagnostics
                    }
                };
                checked.push(CheckedFile {
                    name: file.name,
                    text: file.text,
                    diagnostics,
                });
            }
            Err(message) => {
                eprintln!("error: {message}");
                unreadable += 1;
            }
        }
    }
    (checked, unreadable)
}

pub fn run(args: &CheckArgs) -> ExitCode {
    let (checked, unreadable) = check_files(&args.files);
    let all: Vec<FileDiagnostic<'_>> = checked
        .iter()
        .flat_map(|f| {
            f.diagnostics.iter().map(|d| FileDiagnostic {
                file: &f.name,
                text: &f.text,
                diagnostic: d,
            })
        })
        .collect();
    let errors = all.iter().filter(|d| d.diagnostic.is_error()).count();
    let warnings = all.len() - errors;
    match args.format {
        Format::Human => {
            let mut human = render::Human::new(render::use_colour(), 100);
            for d in &all {
                eprint!("{}", human.render(d));
            }
            eprintln!("{}", summary(checked.len(), errors, warnings));
        }
        Format::Json => println!("{}", render::json(&all)),
        Format::Sarif => println!("{}", render::sarif(&all)),
    }
    if unreadable > 0 {
        ExitCode::from(2)
    } else if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let checked = plural(files, "file");
    match (errors, warnings) {
        (0, 0) => format!("checked {checked}: no problems"),
        (0, w) => format!("checked {checked}: {}", plural(w, "warning")),
        (e, 0) => format!("checked {checked}: {}", plural(e, "error")),
        (e, w) => format!(
            "checked {checked}: {}, {}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}
