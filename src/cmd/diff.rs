//! `seam diff OLD NEW`: what a spec change does to owners, mappings, keys and workflows.

use super::load::{self, exit};
use clap::{Args, ValueEnum};
use seam_compiler::render::diff;
use seam_compiler::Plan;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiffFormat {
    /// Grouped plain text
    Text,
    /// Grouped Markdown, for a PR description
    Markdown,
    /// `{"changes": [{"group", "kind", "subject", "details"}]}`
    Json,
}

/// Explain a spec change for review: owners changed, mappings and value-map arms added,
/// removed or changed, keys and identities changed, workflows added or changed.
///
/// Both specs must check clean. A change that only reformats the spec is "no changes".
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  seam diff old/case_incident.seam case_incident.seam\n  git show main:case_incident.seam > /tmp/old.seam && seam diff --format markdown /tmp/old.seam case_incident.seam\n\nExit status: 0 compared (with or without changes), 1 a spec has errors, 2 bad usage or unreadable file."
)]
pub struct DiffArgs {
    /// The spec before the change.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The spec after the change.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
}

pub fn run(args: &DiffArgs) -> ExitCode {
    exit(compare(args))
}

fn plan(path: &std::path::Path) -> Result<Plan, ExitCode> {
    let loaded = load::load(path)?;
    loaded.require_clean()?;
    loaded
        .checked
        .model
        .as_ref()
        .map(Plan::from_model)
        .ok_or(ExitCode::from(1))
}

fn compare(args: &DiffArgs) -> Result<(), ExitCode> {
    let old = plan(&args.old);
    let new = plan(&args.new);
    let (old, new) = (old?, new?);
    let changes = diff::diff(&old, &new);
    let text = match args.format {
        DiffFormat::Text => diff::text(&changes),
        DiffFormat::Markdown => diff::markdown(&changes),
        DiffFormat::Json => format!("{:#}\n", serde_json::json!({ "changes": changes })),
    };
    load::emit(&text, None)
}
