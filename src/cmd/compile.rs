//! `seam compile FILE [-o plan.json]`: the Plan the runtime executes, as pretty JSON.

use super::load::{self, exit};
use clap::Args;
use seam_compiler::Plan;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Compile a spec to the Plan the runtime executes (versioned JSON, no secret values).
///
/// A spec with errors prints the same diagnostics as `seam check`, exits 1 and writes no plan.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  seam compile examples/case_incident.seam\n  seam compile examples/case_incident.seam -o plan.json\n\nExit status: 0 plan written, 1 the spec has errors, 2 bad usage or unreadable file."
)]
pub struct CompileArgs {
    /// The `.seam` file to compile.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the plan here instead of stdout.
    #[arg(short, long, value_name = "PLAN")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &CompileArgs) -> ExitCode {
    exit(compile(args))
}

fn compile(args: &CompileArgs) -> Result<(), ExitCode> {
    let loaded = load::load(&args.file)?;
    loaded.require_clean()?;
    // Only the model is needed from here (`load` kept no AST): the source text goes before
    // the Plan is built, the model before the Plan is written.
    let load::Loaded { text, checked, .. } = loaded;
    drop(text);
    let Some(model) = checked.model else {
        return Err(ExitCode::from(1));
    };
    // The model is freed on a second thread while the plan is hashed.
    let plan = Plan::from_owned_model(model);
    write_plan(&plan, args.output.as_deref())?;
    if let Some(path) = &args.output {
        eprintln!(
            "wrote {} (plan {}, spec hash {})",
            path.display(),
            plan.plan_version,
            plan.spec_hash
        );
    }
    load::leave_to_exit(plan);
    Ok(())
}

/// The plan as pretty JSON and a line break, serialised straight into the file or stdout (no
/// copy of the whole text in memory); a write error is exit code 2.
fn write_plan(plan: &Plan, out: Option<&Path>) -> Result<(), ExitCode> {
    let written = match out {
        None => to_writer(plan, std::io::stdout().lock()),
        Some(path) => std::fs::File::create(path).and_then(|f| to_writer(plan, f)),
    };
    written.map_err(|e| {
        let target = out.map_or("stdout".to_string(), |p| format!("`{}`", p.display()));
        eprintln!("error: cannot write {target}: {e}");
        ExitCode::from(2)
    })
}

fn to_writer(plan: &Plan, out: impl Write) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(load::WRITE_BUFFER_BYTES, out);
    plan.write_pretty(&mut out)?;
    out.write_all(b"\n")?;
    out.flush()
}
