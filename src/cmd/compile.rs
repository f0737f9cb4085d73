//! `seam compile FILE [-o plan.json]`: the Plan the runtime executes, as pretty JSON.

use super::load::{self, exit};
use clap::Args;
use seam_compiler::plan::{LinkEntry, ModelParts, OwnershipView};
use seam_compiler::Plan;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
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
    // The plan is built beside the checks; it is there only if the spec has no errors.
    let (loaded, plan) = load::load_and_plan(&args.file)?;
    if let Err(code) = loaded.require_clean() {
        // The AST and model are not freed: the process is about to exit.
        load::leave_to_exit(loaded);
        return Err(code);
    }
    let load::Loaded { text, checked, .. } = loaded;
    drop(text);
    // A plan comes with the model it was built from (`check_and_plan_parts`).
    let (Some((mut plan, order)), Some(model)) = (plan, checked.model.as_ref()) else {
        return Err(ExitCode::from(1));
    };
    // The plan's ownership and mapping lists are written from the model, not copied into it.
    let view = OwnershipView::in_order(model, &order);
    let ownership = view.entries();
    let links = std::mem::take(&mut plan.links);
    let link_entries = LinkEntry::all(&links, model);
    let parts = ModelParts {
        ownership: &ownership,
        links: &link_entries,
    };
    write_plan(&mut plan, parts, args.output.as_deref())?;
    if let Some(path) = &args.output {
        eprintln!(
            "wrote {} (plan {}, spec hash {})",
            path.display(),
            plan.plan_version,
            plan.spec_hash
        );
    }
    // The model and AST are not freed either: none is needed any more.
    load::leave_to_exit(link_entries);
    load::leave_to_exit(links);
    load::leave_to_exit(ownership);
    load::leave_to_exit(view);
    load::leave_to_exit((plan, checked));
    Ok(())
}

/// Computes the plan's `spec_hash` and writes the plan as pretty JSON and a line break,
/// serialised straight into the file or stdout (no copy of the whole text in memory); a write
/// error is exit code 2.
fn write_plan(plan: &mut Plan, parts: ModelParts<'_>, out: Option<&Path>) -> Result<(), ExitCode> {
    let written = match out {
        None => write_hash_first(plan, parts, std::io::stdout().lock()),
        Some(path) => std::fs::File::create(path).and_then(|f| write_file(plan, parts, f)),
    };
    written.map_err(|e| {
        let target = out.map_or("stdout".to_string(), |p| format!("`{}`", p.display()));
        eprintln!("error: cannot write {target}: {e}");
        ExitCode::from(2)
    })
}

/// A regular file is written with a placeholder for the hash, which is computed from the same
/// serialisation and then written over the placeholder: the plan is serialised once. Any
/// other file (a pipe, a device) gets the hash first.
fn write_file(plan: &mut Plan, parts: ModelParts<'_>, file: File) -> std::io::Result<()> {
    if !file.metadata()?.is_file() {
        return write_hash_first(plan, parts, file);
    }
    let mut out = BufWriter::with_capacity(PIECE_BUFFER_BYTES, &file);
    let hashed = plan.write_pretty_hashing_with(parts, &mut out)?;
    out.write_all(b"\n")?;
    out.flush()?;
    drop(out);
    file.write_all_at(hashed.spec_hash.as_bytes(), hashed.hash_at)?;
    plan.spec_hash = hashed.spec_hash;
    Ok(())
}

/// The hash first (a pass over the plan of its own), then the plan with it.
fn write_hash_first(
    plan: &mut Plan,
    parts: ModelParts<'_>,
    out: impl Write,
) -> std::io::Result<()> {
    plan.spec_hash = plan.content_hash_with(parts);
    let mut out = BufWriter::with_capacity(PIECE_BUFFER_BYTES, out);
    plan.write_pretty_with(parts, &mut out)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The buffer in front of the plan's file or stdout: a large plan comes in pieces of a few
/// hundred KB, written straight through; this gathers the small ones (a small plan, the
/// brackets and keys between the big arrays).
const PIECE_BUFFER_BYTES: usize = 64 * 1024;
