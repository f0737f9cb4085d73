//! `seam compile FILE [-o plan.json]`: the Plan the runtime executes, as pretty JSON.

use super::load::{self, exit};
use clap::Args;
use seam_compiler::Plan;
use std::path::PathBuf;
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
    let Some(model) = &loaded.checked.model else {
        return Err(ExitCode::from(1));
    };
    let plan = Plan::from_model(model);
    let json = serde_json::to_string_pretty(&plan).map_err(|e| {
        eprintln!("error: cannot serialise the plan: {e}");
        ExitCode::from(2)
    })?;
    load::emit(&(json + "\n"), args.output.as_deref())?;
    if let Some(path) = &args.output {
        eprintln!(
            "wrote {} (plan {}, spec hash {})",
            path.display(),
            plan.plan_version,
            plan.spec_hash
        );
    }
    Ok(())
}
