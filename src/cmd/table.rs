//! `seam table FILE`: the ownership map — one row per shared datum, a column per system.

use super::load::{self, exit};
use clap::{Args, ValueEnum};
use seam_compiler::render::table;
use seam_compiler::Plan;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TableFormat {
    /// A GitHub Markdown table, for PR descriptions and docs
    Markdown,
    /// Aligned columns, for a terminal
    Text,
    /// Comma-separated values with a header row
    Csv,
    /// `{"systems": [...], "rows": [...]}`
    Json,
}

/// Print the ownership map: who owns each shared field, where its replicas are, how it maps.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  seam table examples/case_incident.seam\n  seam table --format text examples/case_incident.seam\n  seam table --format csv examples/case_incident.seam > ownership.csv\n\nExit status: 0 table printed, 1 the spec has errors, 2 bad usage or unreadable file."
)]
pub struct TableArgs {
    /// The `.seam` file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Markdown)]
    pub format: TableFormat,
}

pub fn run(args: &TableArgs) -> ExitCode {
    exit(print(args))
}

fn print(args: &TableArgs) -> Result<(), ExitCode> {
    let loaded = load::load(&args.file)?;
    loaded.require_clean()?;
    let Some(model) = &loaded.checked.model else {
        return Err(ExitCode::from(1));
    };
    // The table shows no hash: the plan is built without one.
    let plan = Plan::from_model_unhashed(model);
    let t = table::build(&plan);
    let text = match args.format {
        TableFormat::Markdown => t.markdown(),
        TableFormat::Text => t.text(),
        TableFormat::Csv => t.csv(),
        TableFormat::Json => format!("{:#}\n", t.json()),
    };
    load::emit(&text, None)?;
    load::leave_to_exit((loaded, plan, t, text));
    Ok(())
}
