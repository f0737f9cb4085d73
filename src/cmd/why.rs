//! `seam why RECORD FIELD`: the audit chain of one field of one record, newest first — every
//! cross-system write, creation and refusal, with the event, rule and plan behind it, and the
//! end of the pair when its twin was deleted (`unlinked`) and its resume (`relinked`).

use super::ExistingState;
use clap::Args;
use seam_runtime::store::Store;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  seam why 500Hs00001XyZaBIAV Incident_State__c
  seam why 46d44a5e2f3c4b1e9d0a8c7b6e5f4a3b urgency --state sqlite://seam.db --json";

/// Why does this field of this record hold its value? The chain of writes, newest first.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct WhyArgs {
    /// The record id (a Salesforce Id or a ServiceNow sys_id).
    pub record: String,
    /// The field's API name on that record.
    pub field: String,
    #[command(flatten)]
    pub state: ExistingState,
    /// How many entries to show.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

fn show(v: &Option<String>) -> String {
    v.as_deref()
        .map_or_else(|| "(empty)".into(), |s| format!("{s:?}"))
}

pub fn run(args: &WhyArgs) -> ExitCode {
    let chain = args
        .state
        .open()
        .and_then(|s| s.audit_of(&args.record, &args.field, args.limit));
    let chain = match chain {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if chain.is_empty() {
        println!(
            "seam has never written `{}` of `{}`",
            args.field, args.record
        );
        return ExitCode::SUCCESS;
    }
    for a in &chain {
        if args.json {
            println!("{}", serde_json::to_string(a).unwrap_or_default());
            continue;
        }
        let at = chrono::DateTime::from_timestamp_millis(a.at)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_default();
        if a.outcome == "unlinked" || a.outcome == "relinked" {
            // The pair ended (the value stays, seam writes the field no more) or was resumed
            // by `seam links relink` (seam writes it again).
            let by = match a.outcome.as_str() {
                "unlinked" => format!("found by {} of {}", a.source_event, a.source_system),
                _ => "by `seam links relink`".to_string(),
            };
            println!(
                "{at}  {} {}\n    link   {}  ({by})\n    plan   {}",
                a.outcome,
                a.rule,
                a.link,
                a.plan_hash.chars().take(12).collect::<String>()
            );
            continue;
        }
        println!(
            "{at}  {:<8} {} -> {}\n    rule   {}\n    link   {}  (event {} from {})\n    plan   {}",
            a.outcome,
            show(&a.old_value),
            show(&a.new_value),
            a.rule,
            a.link,
            a.source_event,
            a.source_system,
            a.plan_hash.chars().take(12).collect::<String>()
        );
    }
    ExitCode::SUCCESS
}
