//! `seam sandbox`: the local emulators of Salesforce, ServiceNow and Slack.

use clap::Args;
use seam_sandbox::{FaultConfig, OutboundConfig, OutboundRetry, SandboxConfig, WebhookFaults};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  seam sandbox
  seam sandbox --sf-webhook http://127.0.0.1:8700/hooks/sf --snow-webhook http://127.0.0.1:8700/hooks/snow
  seam sandbox --seed 7 --error-rate 0.05 --latency-ms 20 --jitter-ms 30 --webhook-duplicate-rate 0.1
  seam sandbox --tls --state ./.sandbox --schema custom-fields.json
  seam sandbox --sf-outbound-url http://127.0.0.1:8700/hooks/sf --sf-outbound-object Case=Subject,Priority,Type

Faults can be changed while it runs:
  curl -X PUT http://127.0.0.1:8702/__sandbox/faults -d '{\"rate_limit_rate\": 0.5}'
  curl -X POST http://127.0.0.1:8701/__sandbox/reset
  curl -X PUT http://127.0.0.1:8701/__sandbox/outbound -d '{\"url\": \"http://127.0.0.1:8700/hooks/sf\"}'";

/// Start local emulators of the Salesforce REST API, the ServiceNow Table API and the Slack
/// Web API, with signed change webhooks and fault injection.
#[derive(Args, Debug, Clone)]
#[command(after_help = EXAMPLES)]
pub struct SandboxArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    #[arg(long, default_value_t = 8701)]
    pub sf_port: u16,
    #[arg(long, default_value_t = 8702)]
    pub snow_port: u16,
    #[arg(long, default_value_t = 8703)]
    pub slack_port: u16,
    /// Where Salesforce change events (CDC shape) are POSTed.
    #[arg(long, value_name = "URL")]
    pub sf_webhook: Option<String>,
    /// Where ServiceNow change events (business-rule shape) are POSTed.
    #[arg(long, value_name = "URL")]
    pub snow_webhook: Option<String>,
    /// Where Salesforce Outbound Messages (SOAP `notifications`) are POSTed; resent until
    /// the listener answers `<Ack>true</Ack>`.
    #[arg(long, value_name = "URL")]
    pub sf_outbound_url: Option<String>,
    /// An object whose creates and updates send Outbound Messages, and the fields they carry
    /// (`Case` = every field, `Case=Subject,Priority`). Repeatable; default `Case`.
    #[arg(long, value_name = "OBJECT[=FIELD,...]")]
    pub sf_outbound_object: Vec<String>,
    /// Send a session id with each Outbound Message (nil otherwise).
    #[arg(long)]
    pub sf_outbound_session_id: bool,
    /// Outbound Message redelivery: first interval, doubling up to the maximum, given up after
    /// the last (milliseconds; the platform: at most 2 hours apart, for 24 hours).
    #[arg(long, default_value_t = OutboundRetry::default().first_ms)]
    pub sf_outbound_retry_first_ms: u64,
    #[arg(long, default_value_t = OutboundRetry::default().max_ms)]
    pub sf_outbound_retry_max_ms: u64,
    #[arg(long, default_value_t = OutboundRetry::default().give_up_ms)]
    pub sf_outbound_give_up_ms: u64,
    /// HMAC secret of Salesforce webhooks (default: random, printed at start).
    #[arg(long, env = "SEAM_SF_WEBHOOK_SECRET", hide_env_values = true)]
    pub sf_webhook_secret: Option<String>,
    /// HMAC secret of ServiceNow webhooks (default: random, printed at start).
    #[arg(long, env = "SEAM_SNOW_WEBHOOK_SECRET", hide_env_values = true)]
    pub snow_webhook_secret: Option<String>,
    /// Seed of every fault decision and generated id.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Persist records in this directory (in memory otherwise).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate (written next to the state, or to
    /// --cert-out).
    #[arg(long)]
    pub tls: bool,
    /// Where to write the certificate with --tls.
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<PathBuf>,
    /// Custom fields and objects (JSON; see sandbox/README.md).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Custom fields from a .seam spec (its `object` blocks), as `seam check` reads them.
    #[arg(long, value_name = "FILE.seam")]
    pub spec: Option<PathBuf>,
    /// Salesforce's 24-hour API request allowance.
    #[arg(long, default_value_t = 100_000)]
    pub sf_api_limit: u64,
    /// Faults of all three systems (per system at run time: PUT /__sandbox/faults).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    pub webhook_drop_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    pub webhook_duplicate_rate: f64,
    #[arg(long, default_value_t = 0)]
    pub webhook_delay_ms: u64,
    #[arg(long, default_value_t = 0)]
    pub webhook_delay_jitter_ms: u64,
    #[arg(long, default_value_t = 0.0)]
    pub webhook_reorder_rate: f64,
    /// Share of acknowledged webhooks and Outbound Messages whose answer is treated as lost
    /// (the receiver got it; the sender resends).
    #[arg(long, default_value_t = 0.0)]
    pub webhook_lost_ack_rate: f64,
}

/// `--sf-outbound-object` values as object -> fields (`*` for every field).
fn outbound_objects(specs: &[String]) -> BTreeMap<String, Vec<String>> {
    if specs.is_empty() {
        return OutboundConfig::default().objects;
    }
    specs
        .iter()
        .map(|s| match s.split_once('=') {
            Some((object, fields)) => (
                object.trim().to_string(),
                fields
                    .split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect(),
            ),
            None => (s.trim().to_string(), vec!["*".to_string()]),
        })
        .collect()
}

pub fn run(args: SandboxArgs) -> ExitCode {
    let catalog =
        match seam_sandbox::schema::load_catalog(args.schema.as_deref(), args.spec.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    let faults = FaultConfig {
        error_rate: args.error_rate,
        rate_limit_rate: args.rate_limit_rate,
        retry_after_secs: args.retry_after_secs,
        latency_ms: args.latency_ms,
        jitter_ms: args.jitter_ms,
        drop_rate: args.drop_rate,
        webhook: WebhookFaults {
            drop_rate: args.webhook_drop_rate,
            duplicate_rate: args.webhook_duplicate_rate,
            delay_ms: args.webhook_delay_ms,
            delay_jitter_ms: args.webhook_delay_jitter_ms,
            reorder_rate: args.webhook_reorder_rate,
            lost_ack_rate: args.webhook_lost_ack_rate,
        },
    };
    let sf_outbound = OutboundConfig {
        url: args.sf_outbound_url,
        objects: outbound_objects(&args.sf_outbound_object),
        include_session_id: args.sf_outbound_session_id,
        retry: OutboundRetry {
            first_ms: args.sf_outbound_retry_first_ms,
            max_ms: args.sf_outbound_retry_max_ms,
            give_up_ms: args.sf_outbound_give_up_ms,
        },
    };
    let mut config = SandboxConfig {
        bind: args.bind,
        sf_port: args.sf_port,
        snow_port: args.snow_port,
        slack_port: args.slack_port,
        sf_webhook_url: args.sf_webhook,
        sf_outbound,
        snow_webhook_url: args.snow_webhook,
        sf_faults: faults.clone(),
        snow_faults: faults.clone(),
        slack_faults: faults,
        seed: args.seed,
        sf_api_limit: args.sf_api_limit,
        state_dir: args.state,
        tls: args.tls,
        tls_cert_path: args.cert_out,
        catalog,
        ..SandboxConfig::default()
    };
    if let Some(s) = args.sf_webhook_secret {
        config.sf_webhook_secret = s;
    }
    if let Some(s) = args.snow_webhook_secret {
        config.snow_webhook_secret = s;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sandbox = match seam_sandbox::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        print_banner(&sandbox);
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("error: cannot wait for Ctrl-C: {e}");
        }
        println!("stopping…");
        sandbox.shutdown().await;
        ExitCode::SUCCESS
    })
}

fn print_banner(s: &seam_sandbox::RunningSandbox) {
    let c = &s.config.credentials;
    let hook = |u: &Option<String>| {
        u.clone()
            .unwrap_or_else(|| "(none: events kept in memory, GET /__sandbox/events)".into())
    };
    println!("seam sandbox is running (Ctrl-C stops it)\n");
    println!("Salesforce  {}", s.salesforce_url());
    println!(
        "  OAuth     POST /services/oauth2/token  client_id={}  client_secret={}",
        c.sf_client_id, c.sf_client_secret
    );
    println!(
        "            username={}  password={}",
        c.sf_username, c.sf_password
    );
    println!(
        "  REST      /services/data/v62.0/  (v{}..v{})",
        seam_sandbox::salesforce::MIN_VERSION,
        seam_sandbox::salesforce::MAX_VERSION
    );
    println!(
        "  webhook   {}  secret={}",
        hook(&s.config.sf_webhook_url),
        s.config.sf_webhook_secret
    );
    let om = s.outbound_config();
    if let Some(url) = &om.url {
        let objects: Vec<String> = om
            .objects
            .iter()
            .map(|(o, f)| format!("{o}({})", f.join(",")))
            .collect();
        println!(
            "  outbound  {url}  org={}  objects={}",
            s.salesforce_org_id(),
            objects.join(" ")
        );
    }
    println!("ServiceNow  {}", s.servicenow_url());
    println!("  basic     {}:{}", c.snow_username, c.snow_password);
    println!(
        "  OAuth     POST /oauth_token.do  client_id={}  client_secret={}",
        c.snow_client_id, c.snow_client_secret
    );
    println!(
        "  webhook   {}  secret={}",
        hook(&s.config.snow_webhook_url),
        s.config.snow_webhook_secret
    );
    println!("Slack       {}/api/", s.slack_url());
    println!("  token     {}", c.slack_token);
    println!("  incoming  {}", s.slack_incoming_webhook_url());
    if let Some(p) = &s.cert_path {
        println!("TLS         self-signed certificate: {}", p.display());
    }
    if let Some(d) = &s.config.state_dir {
        println!("state       {}", d.display());
    }
    println!("admin       /__sandbox/faults (GET, PUT)  /__sandbox/reset (POST)  /__sandbox/events  /__sandbox/webhook  /__sandbox/outbound (Salesforce)");
}
