//! `seam dlq list|show ID|replay ID|replay --all`: the dead letters of a runtime's store.
//! Works beside a running `seam run` (SQLite WAL): a replayed event is picked up by the
//! runtime's next poll.

use super::ExistingState;
use clap::{Args, Subcommand};
use seam_runtime::store::{now_ms, DeadLetter, Store};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  seam dlq list
  seam dlq show 3
  seam dlq replay 3
  seam dlq replay --all --state sqlite:///var/lib/seam/seam.db";

/// Dead letters: events given up on, with the full reason; replay re-drives them.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub action: DlqAction,
    #[command(flatten)]
    pub state: ExistingState,
}

#[derive(Subcommand, Debug)]
pub enum DlqAction {
    /// List dead letters not yet replayed (`--all` includes replayed ones).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One dead letter in full: reason, attempts, the event as received.
    Show { id: i64 },
    /// Re-drive one dead letter (or every one with --all) through the engine.
    Replay {
        #[arg(required_unless_present = "all")]
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

pub fn run(args: &DlqArgs) -> ExitCode {
    match act(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn line(d: &DeadLetter) -> String {
    let replayed = d
        .replayed_at
        .map(|t| format!(" (replayed {})", time(t)))
        .unwrap_or_default();
    format!(
        "{:>5}  {}  {} {} {}  {}{replayed}",
        d.id,
        time(d.at),
        d.event.system,
        d.event.object,
        d.event.record_id,
        d.reason.lines().next().unwrap_or("")
    )
}

fn act(args: &DlqArgs) -> Result<(), String> {
    let store = args.state.open().map_err(|e| e.to_string())?;
    match &args.action {
        DlqAction::List { all } => {
            let list = store.dead_letters(*all).map_err(|e| e.to_string())?;
            if list.is_empty() {
                println!("no dead letters");
            }
            for d in &list {
                println!("{}", line(d));
            }
        }
        DlqAction::Show { id } => {
            let d = store
                .dead_letter_by_id(*id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no dead letter {id}"))?;
            println!("dead letter {}", d.id);
            println!("  at:       {}", time(d.at));
            println!("  attempts: {}", d.attempts);
            println!(
                "  event:    {} {} {} ({})",
                d.event.system, d.event.object, d.event.record_id, d.event.operation
            );
            println!("  key:      {}", d.event.idempotency_key);
            if let Some(t) = d.replayed_at {
                println!("  replayed: {}", time(t));
            }
            println!("  reason:   {}", d.reason);
            println!("  payload:  {}", one_line(&d.event.payload));
        }
        DlqAction::Replay { id, all } => {
            let ids: Vec<i64> = if *all {
                store
                    .dead_letters(false)
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|d| d.id)
                    .collect()
            } else {
                id.iter().copied().collect()
            };
            let mut n = 0;
            for id in ids {
                if store
                    .replay_dead_letter(id, now_ms())
                    .map_err(|e| e.to_string())?
                {
                    n += 1;
                    println!("replaying dead letter {id}");
                } else if !*all {
                    return Err(format!("no dead letter {id} waiting for replay"));
                }
            }
            println!("{n} event(s) queued again; a running `seam run` applies them");
        }
    }
    Ok(())
}

/// A stored payload as one line of JSON. The inbox keeps the sender's own bytes (any spacing,
/// any key order); this shows them as `dlq show` always has, compact with sorted keys. Text
/// that is not JSON (it cannot be, from ingest) is shown as it is.
fn one_line(payload: &str) -> String {
    serde_json::from_str::<serde_json::Value>(payload)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| payload.to_string())
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_payload_shows_as_one_line_of_sorted_json() {
        let stored = "{ \"payload\": {\"b\": 1,\n \"a\": [1, 2]},\n \"event\": {\"replayId\": 7} }";
        assert_eq!(
            one_line(stored),
            r#"{"event":{"replayId":7},"payload":{"a":[1,2],"b":1}}"#
        );
        assert_eq!(one_line("not json"), "not json");
    }
}
