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
    /// Concurrent events (different records; one record's events never run in parallel).
    #[arg(long, default_value_t = 32)]
    pub workers: usize,
    /// Log as JSON lines (stderr).
    #[arg(long)]
    pub log_json: bool,
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
