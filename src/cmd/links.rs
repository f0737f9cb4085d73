//! `seam links list|show|relink`: the linked pairs of a runtime's store — both ids, when each
//! was opened and, when one of its records was deleted, when and why it ended — and the
//! operator's way back: `relink` resumes an ended pair once its record is restored. The work
//! is the runtime's (`seam_runtime::pairs`, `seam_runtime::reconcile`); this file parses flags
//! and renders. Works beside a running `seam run` (SQLite WAL): a relinked pair is picked up
//! at the runtime's next claim.

use super::{load, ExistingState};
use clap::{Args, Subcommand, ValueEnum};
use seam_runtime::pairs::{self, RelinkError, Relinked};
use seam_runtime::reconcile::{self, Scope};
use seam_runtime::store::sqlite::SqliteStore;
use seam_runtime::store::{AuditEntry, LinkRow, Store};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  seam links list
  seam links list --ended --link case_incident --format json
  seam links show 500Hs00001XyZaBIAV
  seam links relink examples/case_incident.seam 500Hs00001XyZaBIAV
  seam links relink examples/case_incident.seam 46d44a5e2f3c4b1e9d0a8c7b6e5f4a3b --apply

`relink` reads both records first (URLs and credentials from the environment variables the
spec names, as for `seam run`) and refuses while one is still deleted. Exit status: 0 done (a
live pair is left as it is), 1 no such pair or a record still gone, 2 bad usage, an
unreadable store or a record that could not be read.";

const LIST_EXAMPLES: &str = "\
Examples:
  seam links list
  seam links list --all --link case_incident
  seam links list --ended --format json --state sqlite:///var/lib/seam/seam.db";

const SHOW_EXAMPLES: &str = "\
Examples:
  seam links show 500Hs00001XyZaBIAV
  seam links show 46d44a5e2f3c4b1e9d0a8c7b6e5f4a3b --format json

Exit status: 0 shown, 1 no pair holds the record, 2 an unreadable state.";

const RELINK_EXAMPLES: &str = "\
Examples:
  seam links relink examples/case_incident.seam 500Hs00001XyZaBIAV
  seam links relink examples/case_incident.seam 46d44a5e2f3c4b1e9d0a8c7b6e5f4a3b --apply

Restore the deleted record first (Salesforce: the Recycle Bin; ServiceNow: System Definition >
Deleted Records). Both records are read (URLs and credentials from the environment variables
the spec names, as for `seam run`); the pair's drift is reported, and repaired with --apply.
Exit status: 0 relinked or already live, 1 no such pair or a record still gone (with --apply:
drift left unrepaired), 2 bad usage, an unreadable store or a record that could not be read.";

/// Linked pairs: list them, show one record's, relink an ended one.
///
/// A pair ends when one of its records is deleted (or answers 404): seam then writes to
/// neither and opens no new twin. Once the record is restored (the Salesforce Recycle Bin,
/// ServiceNow's Deleted Records), `relink` resumes the pair.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct LinksArgs {
    #[command(subcommand)]
    pub action: LinksAction,
    #[command(flatten)]
    pub state: ExistingState,
}

#[derive(Subcommand, Debug)]
pub enum LinksAction {
    /// List pairs with both ids, when they were opened and, for ended ones, when and why they
    /// ended. Live pairs by default.
    #[command(after_help = LIST_EXAMPLES)]
    List {
        /// Only the pairs of this link.
        #[arg(long, value_name = "NAME")]
        link: Option<String>,
        /// Only ended pairs.
        #[arg(long, conflicts_with = "all")]
        ended: bool,
        /// Live and ended pairs.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The pair(s) of one record (either side), in full: state, opening, ends and resumes.
    #[command(after_help = SHOW_EXAMPLES)]
    Show {
        /// A Salesforce Id or a ServiceNow sys_id.
        record: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Resume an ended pair after its deleted record was restored.
    #[command(after_help = RELINK_EXAMPLES)]
    Relink(RelinkArgs),
}

#[derive(Args, Debug)]
pub struct RelinkArgs {
    /// The `.seam` spec the runtime runs.
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// A record of the pair (a Salesforce Id or a ServiceNow sys_id): the restored one or its
    /// survivor.
    pub record: String,
    /// Only the pair of this link (default: every ended pair of the record).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Also write the owners' values to the pair's drifted replicas now, as `seam reconcile
    /// --apply` does (without it, the drift is reported and left to the next event or a
    /// reconcile).
    #[arg(long)]
    pub apply: bool,
    /// Our Salesforce call-options client id, so the runtime sees the repairs as its echoes.
    #[arg(long, env = "SEAM_SF_CLIENT_ID", default_value = "seam")]
    pub sf_client_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: &LinksArgs) -> ExitCode {
    load::exit(match &args.action {
        LinksAction::List {
            link,
            ended,
            all,
            format,
        } => list(&args.state, link.as_deref(), *ended, *all, *format),
        LinksAction::Show { record, format } => show(&args.state, record, *format),
        LinksAction::Relink(r) => relink(&args.state, r),
    })
}

fn fail(code: u8) -> impl Fn(String) -> ExitCode {
    move |e| {
        eprintln!("error: {e}");
        ExitCode::from(code)
    }
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// A pair as `--format json` shows it.
#[derive(Serialize)]
struct PairJson {
    link: String,
    left_id: String,
    right_id: String,
    live: bool,
    opened_at: String,
    ended_at: Option<String>,
    ended_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<HistoryJson>>,
}

#[derive(Serialize)]
struct HistoryJson {
    at: String,
    /// `created` (opened), `unlinked` (ended), `relinked` (resumed).
    outcome: String,
    /// The record the audit rows were written to.
    record: String,
    rule: String,
    source_system: String,
    source_event: String,
}

fn pair_json(row: &LinkRow, history: Option<&[AuditEntry]>) -> PairJson {
    PairJson {
        link: row.link.clone(),
        left_id: row.left_id.clone(),
        right_id: row.right_id.clone(),
        live: row.live(),
        opened_at: rfc3339(row.created_at),
        ended_at: row.ended_at.map(rfc3339),
        ended_reason: row.ended_reason.clone(),
        history: history.map(|h| {
            h.iter()
                .map(|a| HistoryJson {
                    at: rfc3339(a.at),
                    outcome: a.outcome.clone(),
                    record: a.target_record.clone(),
                    rule: a.rule.clone(),
                    source_system: a.source_system.clone(),
                    source_event: a.source_event.clone(),
                })
                .collect()
        }),
    }
}

fn json<T: Serialize>(value: &T) -> Result<(), ExitCode> {
    let text = serde_json::to_string_pretty(value).map_err(|e| fail(2)(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn open(state: &ExistingState) -> Result<SqliteStore, ExitCode> {
    state.open().map_err(|e| fail(2)(e.to_string()))
}

fn list(
    state: &ExistingState,
    link: Option<&str>,
    ended: bool,
    all: bool,
    format: Format,
) -> Result<(), ExitCode> {
    let rows: Vec<LinkRow> = open(state)?
        .links(link)
        .map_err(|e| fail(2)(e.to_string()))?
        .into_iter()
        .filter(|r| all || r.live() != ended)
        .collect();
    if format == Format::Json {
        let pairs: Vec<PairJson> = rows.iter().map(|r| pair_json(r, None)).collect();
        return json(&pairs);
    }
    let which = match (all, ended) {
        (true, _) => "",
        (false, true) => "ended ",
        (false, false) => "live ",
    };
    if rows.is_empty() {
        let hint = if all {
            ""
        } else {
            " (`--all` lists every pair)"
        };
        println!("no {which}pairs{hint}");
        return Ok(());
    }
    let mut table = vec![["LINK", "LEFT", "RIGHT", "OPENED", "ENDED", "REASON"]
        .map(String::from)
        .to_vec()];
    for r in &rows {
        table.push(vec![
            r.link.clone(),
            r.left_id.clone(),
            r.right_id.clone(),
            time(r.created_at),
            r.ended_at.map_or_else(|| "-".into(), time),
            r.ended_reason.clone().unwrap_or_default(),
        ]);
    }
    print!("{}", super::reconcile::columns(&table));
    let n = rows.len();
    let s = if n == 1 { "" } else { "s" };
    match all {
        true => {
            let live = rows.iter().filter(|r| r.live()).count();
            println!("\n{n} pair{s} ({live} live, {} ended)", n - live);
        }
        false => println!("\n{n} {which}pair{s}"),
    }
    Ok(())
}

/// One line per step of a pair's life: its opening, each end and each resume. Each step wrote
/// one audit row per field, one after the other: consecutive rows of one outcome and cause are
/// one step.
fn history_lines(history: &[AuditEntry]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut last: Option<(&str, &str)> = None;
    for a in history {
        let step = (a.outcome.as_str(), a.source_event.as_str());
        if last == Some(step) {
            continue;
        }
        last = Some(step);
        let line = match a.outcome.as_str() {
            "created" => format!(
                "{}  opened    {}.{} `{}` created (event {} from {})",
                time(a.at),
                a.target_system,
                a.target_object,
                a.target_record,
                a.source_event,
                a.source_system
            ),
            "unlinked" => format!(
                "{}  ended     {} (found by {})",
                time(a.at),
                a.rule,
                a.source_event
            ),
            _ => format!(
                "{}  resumed   {} (by `seam links relink`)",
                time(a.at),
                a.rule
            ),
        };
        lines.push(line);
    }
    lines
}

fn show(state: &ExistingState, record: &str, format: Format) -> Result<(), ExitCode> {
    let store = open(state)?;
    let rows = store.pairs_of(record).map_err(|e| fail(2)(e.to_string()))?;
    if rows.is_empty() {
        return Err(fail(1)(format!(
            "no pair holds record `{record}`; `seam links list --all` lists the pairs, `seam why {record} FIELD` what seam wrote to it"
        )));
    }
    let mut pairs = Vec::with_capacity(rows.len());
    for row in &rows {
        let history = store
            .pair_history(&row.link, &[&row.left_id, &row.right_id])
            .map_err(|e| fail(2)(e.to_string()))?;
        pairs.push((row, history));
    }
    if format == Format::Json {
        let out: Vec<PairJson> = pairs.iter().map(|(r, h)| pair_json(r, Some(h))).collect();
        return json(&out);
    }
    for (n, (row, history)) in pairs.iter().enumerate() {
        if n > 0 {
            println!();
        }
        println!("pair {}  {} <-> {}", row.link, row.left_id, row.right_id);
        let state = match (row.ended_at, &row.ended_reason) {
            (Some(at), reason) => format!(
                "ended {}: {}",
                time(at),
                reason.as_deref().unwrap_or("(no reason recorded)")
            ),
            (None, _) if history.iter().any(|a| a.outcome == "relinked") => {
                "live (resumed after an end)".into()
            }
            (None, _) => "live".into(),
        };
        println!("  state:   {state}");
        let opened_by = history
            .iter()
            .find(|a| a.outcome == "created")
            .map(|a| format!("event {} from {}", a.source_event, a.source_system))
            .unwrap_or_else(|| "found through the link key".into());
        println!("  opened:  {} ({opened_by})", time(row.created_at));
        let lines = history_lines(history);
        if !lines.is_empty() {
            println!("  history:");
            for l in lines {
                println!("    {l}");
            }
        }
    }
    Ok(())
}

fn relink(state: &ExistingState, args: &RelinkArgs) -> Result<(), ExitCode> {
    let loaded = load::load(&args.spec)?;
    loaded.require_clean()?;
    let Some(model) = &loaded.checked.model else {
        return Err(ExitCode::from(1));
    };
    let plan = seam_compiler::Plan::from_model(model);
    let engine = seam_runtime::app::tool_engine(plan, &state.state, &args.sf_client_id, &|k| {
        std::env::var(k).ok()
    })
    .map_err(fail(2))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(2)(format!("cannot start the async runtime: {e}")))?;
    let done = runtime
        .block_on(pairs::relink(&engine, &args.record, args.link.as_deref()))
        .map_err(|e| match e {
            RelinkError::Refused(m) => fail(1)(m),
            RelinkError::Failed(m) => fail(2)(m),
        })?;
    for r in &done {
        println!("{}", relinked_line(r));
    }
    if !done.iter().any(|r| r.resumed) {
        return Ok(());
    }
    // The pair is live again: what changed while it was ended is drift until an event of the
    // owner or a repair writes it. Show it (and repair it with --apply).
    let scope = Scope {
        link: args.link.clone(),
        record: Some(args.record.clone()),
    };
    let report = runtime
        .block_on(reconcile::reconcile(&engine, &scope, args.apply, &()))
        .map_err(|e| fail(2)(e.message))?;
    print!("\n{}", super::reconcile::human(&report));
    if !report.errors.is_empty() {
        return Err(ExitCode::from(2));
    }
    if !report.in_sync() && !args.apply {
        println!(
            "The next change of an owner record writes what changed there while the pair was \
             ended; `seam reconcile {} --record {} --apply` writes all of it now.",
            args.spec.display(),
            args.record
        );
    }
    match !args.apply || report.all_repaired() {
        true => Ok(()),
        false => Err(ExitCode::from(1)),
    }
}

fn relinked_line(r: &Relinked) -> String {
    match (&r.restored, r.resumed) {
        (Some(restored), true) => format!(
            "relinked: pair {}  {} <-> {} is live again ({restored} is back)",
            r.link, r.left_id, r.right_id
        ),
        _ => format!(
            "already live: pair {}  {} <-> {}; nothing to do",
            r.link, r.left_id, r.right_id
        ),
    }
}
