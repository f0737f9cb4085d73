//! `seam run SPEC`: the runtime. Compiles the spec to its Plan (the runtime itself never reads
//! `.seam`), resolves URLs and credentials from the environment variables the Plan names, and
//! serves until Ctrl-C, then finishes in-flight events before exiting.

use super::load;
use clap::Args;
use seam_runtime::RuntimeConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  SF_URL=… SF_CLIENT_ID=… SF_CLIENT_SECRET=… SF_WEBHOOK_SECRET=… \\
  SNOW_URL=… SNOW_USER=… SNOW_PASSWORD=… SNOW_WEBHOOK_SECRET=… SLACK_BOT_TOKEN=… \\
    seam run examples/case_incident.seam --state sqlite://seam.db --listen 127.0.0.1:8700

  seam run examples/case_incident.seam --log-json 2> seam.log

Webhooks: POST /hooks/{system alias} (e.g. /hooks/sf, /hooks/snow), signed with
X-Seam-Timestamp and X-Seam-Signature. Salesforce Outbound Messages (SOAP) on the same path
are accepted from the org given with --sf-organization-id. Also /healthz, /readyz and
/metrics (Prometheus).";

/// Run the seam: receive change webhooks and keep linked records in lock-step.
///
/// URLs and credentials come from the environment variables the spec names
/// (`url = env(\"SF_URL\")`, …); their values are never logged.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    /// The `.seam` spec to run.
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// The durable state (created on first run).
    #[arg(long, env = "SEAM_STATE", default_value = "sqlite://seam.db")]
    pub state: String,
    /// Address for webhooks, health and metrics.
    #[arg(long, env = "SEAM_LISTEN", default_value = "127.0.0.1:8700")]
    pub listen: SocketAddr,
    /// Our Salesforce call-options client id (`Sforce-Call-Options: client=…`), recognised in
    /// `changeOrigin` as our own echo.
    #[arg(long, env = "SEAM_SF_CLIENT_ID", default_value = "seam")]
    pub sf_client_id: String,
    /// The ServiceNow user whose changes are our own echoes (default: the basic-auth user).
    #[arg(long, env = "SEAM_SNOW_ECHO_USER")]
    pub snow_echo_user: Option<String>,
    /// Accept Salesforce Outbound Messages (SOAP) from this org: `[ALIAS=]00D…` (15 or 18
    /// characters; without ALIAS, every Salesforce system). Repeatable; comma-separated in the
    /// environment variable. Messages from another org are refused (403).
    #[arg(
        long,
        env = "SEAM_SF_ORGANIZATION_ID",
        value_name = "[ALIAS=]ORG_ID",
        value_delimiter = ','
    )]
    pub sf_organization_id: Vec<String>,
    /// The Slack Web API base URL for Slack systems whose spec sets no `url` (the sandbox's
    /// is http://127.0.0.1:8703).
    #[arg(long, env = "SEAM_SLACK_URL", default_value = "https://slack.com")]
    pub slack_url: String,
    /// How often the policy's alerts are evaluated, in seconds.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub alert_interval: u64,
    /// How long finished events are kept in the inbox: `7d`, `36h`, `90m`, `3600s`, or `off`
    /// (kept forever). Older done events are deleted in the background, in small batches; dead
    /// letters, audit rows and pairs are never pruned. A platform's redelivery of a pruned
    /// event is accepted again and finds nothing to change.
    #[arg(
        long,
        env = "SEAM_RETAIN_EVENTS",
        default_value = "7d",
        value_name = "DURATION",
        value_parser = retention
    )]
    pub retain_events: RetainEvents,
    /// Concurrent events (different records; one record's events never run in parallel).
    #[arg(long, default_value_t = 32)]
    pub workers: usize,
    /// Log as JSON lines (stderr).
    #[arg(long)]
    pub log_json: bool,
}

/// How long done events are kept (`None`: forever).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetainEvents(pub Option<std::time::Duration>);

/// `--retain-events`: a whole number and a unit (`s`, `m`, `h`, `d`), or `off`.
fn retention(text: &str) -> Result<RetainEvents, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(RetainEvents(None));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{text}`: expected a number and a unit (`7d`, `36h`, `90m`, `3600s`) or `off`"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}`: expected a number before the unit, e.g. `7d`"))?;
    if n == 0 {
        return Err("a retention of 0 would prune events as they finish; use `off` to keep them all, or a period".into());
    }
    Ok(RetainEvents(Some(std::time::Duration::from_secs(
        n.saturating_mul(secs),
    ))))
}

pub fn run(args: RunArgs) -> ExitCode {
    load::exit(serve(args))
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn serve(args: RunArgs) -> Result<(), ExitCode> {
    let loaded = load::load(&args.spec)?;
    loaded.require_clean()?;
    let Some(model) = &loaded.checked.model else {
        return Err(ExitCode::from(1));
    };
    let plan = seam_compiler::Plan::from_model(model);
    init_logs(args.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(2)
        })?;
    let config = RuntimeConfig {
        listen: args.listen,
        state: args.state,
        sf_client_id: args.sf_client_id,
        snow_echo_user: args.snow_echo_user,
        sf_organization_ids: args
            .sf_organization_id
            .iter()
            .map(|s| match s.split_once('=') {
                Some((alias, id)) => (alias.trim().to_string(), id.trim().to_string()),
                None => ("*".to_string(), s.trim().to_string()),
            })
            .collect(),
        slack_url: Some(args.slack_url),
        alert_interval: std::time::Duration::from_secs(args.alert_interval.max(1)),
        retention: args
            .retain_events
            .0
            .map(|keep| seam_runtime::retention::Retention {
                keep,
                ..Default::default()
            }),
        workers: seam_runtime::engine::worker::WorkerConfig {
            concurrency: args.workers.max(1),
            ..Default::default()
        },
        ..RuntimeConfig::default()
    };
    runtime.block_on(async move {
        let hash = plan.spec_hash.clone();
        let running = seam_runtime::start(plan, config, &|k| std::env::var(k).ok())
            .await
            .map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(2)
            })?;
        eprintln!(
            "seam: {} listening on {} (plan {})",
            loaded.name,
            running.url(),
            hash.chars().take(12).collect::<String>()
        );
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("error: cannot wait for Ctrl-C: {e}");
        }
        eprintln!("seam: stopping; finishing in-flight events…");
        running.shutdown().await;
        eprintln!("seam: stopped");
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{retention, RetainEvents};
    use std::time::Duration;

    fn days(n: u64) -> RetainEvents {
        RetainEvents(Some(Duration::from_secs(n * 86_400)))
    }

    #[test]
    fn retention_reads_units_and_off_and_refuses_the_rest() {
        assert_eq!(retention("7d").unwrap(), days(7));
        assert_eq!(
            retention("36h").unwrap(),
            RetainEvents(Some(Duration::from_secs(36 * 3600)))
        );
        assert_eq!(
            retention("90m").unwrap(),
            RetainEvents(Some(Duration::from_secs(5400)))
        );
        assert_eq!(
            retention("15s").unwrap(),
            RetainEvents(Some(Duration::from_secs(15)))
        );
        assert_eq!(retention("off").unwrap(), RetainEvents(None));
        for bad in ["", "7", "d", "7w", "-1d", "0d", "1.5h"] {
            assert!(retention(bad).is_err(), "{bad}");
        }
    }
}
