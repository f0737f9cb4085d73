//! `seam reconcile SPEC`: drift between linked records — every replica field that does not
//! hold what its owner says it should, and every pair whose record is gone — as a table or
//! JSON; `--apply` repairs it through the runtime's write path (ownership guard, audit rows
//! from `reconcile`). The work is the runtime's (`seam_runtime::reconcile`); this file parses
//! flags and renders.

use super::load;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use seam_runtime::reconcile::{self, Progress, Report, Scope};
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  seam reconcile examples/case_incident.seam --state sqlite://seam.db
  seam reconcile examples/case_incident.seam --link case_incident --format json
  seam reconcile examples/case_incident.seam --record 500Hs00001XyZaBIAV --apply

URLs and credentials come from the environment variables the spec names, as for `seam run`.
Exit status: 0 in sync (with --apply: everything found was repaired), 1 drift or a missing
record found (with --apply: something was left unrepaired), 2 bad usage, an unreadable store,
or a pair that could not be read.";

/// Find drift between linked records, and repair it with --apply.
///
/// For every linked pair in the state (or one link's, or one record's), reads both records,
/// computes what each replica field should hold from its owner through the spec, and reports
/// the fields that differ and the pairs whose record is gone (deleted). `--apply` writes the
/// owner's values back and ends the pairs whose record is gone; nothing is ever deleted.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ReconcileArgs {
    /// The `.seam` spec the runtime runs.
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// The runtime's state.
    #[arg(long, env = "SEAM_STATE", default_value = "sqlite://seam.db")]
    pub state: String,
    /// Only the pairs of this link.
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Only the pair this record (a Salesforce Id or a ServiceNow sys_id) belongs to.
    #[arg(long, value_name = "ID")]
    pub record: Option<String>,
    /// Repair: write the owners' values to the drifted replicas, end the pairs whose record
    /// is gone.
    #[arg(long)]
    pub apply: bool,
    /// `human`: aligned tables and a closing count; `json`: one object
    /// `{pairs, repair, drift, missing, errors}`.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Our Salesforce call-options client id, so the runtime sees the repairs as its echoes.
    #[arg(long, env = "SEAM_SF_CLIENT_ID", default_value = "seam")]
    pub sf_client_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(args: &ReconcileArgs) -> ExitCode {
    load::exit(reconcile(args))
}

/// A progress bar on stderr; indicatif draws nothing when stderr is not a terminal.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, pairs: u64) {
        self.0.set_length(pairs);
    }
    fn advance(&self) {
        self.0.inc(1);
    }
}

fn reconcile(args: &ReconcileArgs) -> Result<(), ExitCode> {
    let loaded = load::load(&args.spec)?;
    loaded.require_clean()?;
    let Some(model) = &loaded.checked.model else {
        return Err(ExitCode::from(1));
    };
    let plan = seam_compiler::Plan::from_model(model);
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let engine = seam_runtime::app::tool_engine(plan, &args.state, &args.sf_client_id, &|k| {
        std::env::var(k).ok()
    })
    .map_err(fail)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}")))?;
    let scope = Scope {
        link: args.link.clone(),
        record: args.record.clone(),
    };
    let bar = Bar(ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} pairs ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    ));
    let report = runtime
        .block_on(reconcile::reconcile(&engine, &scope, args.apply, &bar))
        .map_err(|e| fail(e.message))?;
    bar.0.finish_and_clear();
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| fail(e.to_string()))?
        ),
        Format::Human => print!("{}", human(&report)),
    }
    if !report.errors.is_empty() {
        return Err(ExitCode::from(2));
    }
    let done = match args.apply {
        true => report.all_repaired(),
        false => report.in_sync(),
    };
    match done {
        true => Ok(()),
        false => Err(ExitCode::from(1)),
    }
}

fn show(v: &Option<String>) -> String {
    v.as_deref()
        .map_or_else(|| "(empty)".into(), |s| format!("{s:?}"))
}

/// Rows of cells as aligned columns (two spaces apart, the last column unpadded).
pub(crate) fn columns(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(cell.chars().count()),
                None => widths.push(cell.chars().count()),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The report for people: one table of drifted fields, one of missing records, the errors,
/// and a closing line with the counts.
pub fn human(r: &Report) -> String {
    let mut out = String::new();
    if !r.drift.is_empty() {
        let mut rows = vec![[
            "LINK", "RECORD", "FIELD", "EXPECTED", "ACTUAL", "OWNER", "STATUS",
        ]
        .map(String::from)
        .to_vec()];
        for d in &r.drift {
            rows.push(vec![
                d.link.clone(),
                format!("{}.{} {}", d.system, d.object, d.record),
                d.field.clone(),
                show(&d.expected),
                show(&d.actual),
                format!(
                    "{}.{} {}",
                    d.source_system, d.source_object, d.source_record
                ),
                if d.repaired { "repaired" } else { "drift" }.into(),
            ]);
        }
        out.push_str(&columns(&rows));
    }
    if !r.missing.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let mut rows = vec![["LINK", "MISSING RECORD", "LINKED TO", "STATUS"]
            .map(String::from)
            .to_vec()];
        for m in &r.missing {
            rows.push(vec![
                m.link.clone(),
                format!("{}.{} {}", m.system, m.object, m.record),
                m.twin_record.clone(),
                if m.ended { "pair ended" } else { "gone (404)" }.into(),
            ]);
        }
        out.push_str(&columns(&rows));
    }
    for e in &r.errors {
        out.push_str(&format!(
            "error: link `{}` pair {} <-> {}: {}\n",
            e.link, e.left, e.right, e.message
        ));
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "{} checked: {}, {}, {}{}\n",
        plural(r.pairs as usize, "pair", "pairs"),
        plural(r.drift.len(), "drifted field", "drifted fields"),
        plural(r.missing.len(), "missing record", "missing records"),
        plural(r.errors.len(), "error", "errors"),
        match (r.repair, r.in_sync()) {
            (_, true) => " — in sync",
            (true, false) if r.all_repaired() => " — repaired",
            (true, false) => " — not everything could be repaired",
            (false, false) => " — run with --apply to repair",
        }
    ));
    out
}
