//! seam-sandbox: local emulators of the Salesforce REST API, the ServiceNow Table API and the
//! Slack Web API that speak the platforms' wire formats, keep real records, send signed change
//! webhooks and misbehave on demand.
//!
//! ```no_run
//! # async fn demo() -> Result<(), seam_sandbox::Error> {
//! let sandbox = seam_sandbox::start(seam_sandbox::SandboxConfig::ephemeral()).await?;
//! let token = sandbox.salesforce_token();
//! println!("{} {}", sandbox.salesforce_url(), token);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Objects and fields come from the compiler's catalogue ([`seam_compiler::catalog::Catalog`]),
//! extended by a `--schema` JSON file (see [`schema`]), so the emulators and the compiler agree.

pub mod admin;
pub mod faults;
pub mod salesforce;
pub mod schema;
pub mod servicenow;
pub mod slack;
pub mod store;
mod tls;
pub mod util;
pub mod webhook;

pub use faults::{FaultConfig, WebhookFaults};
pub use salesforce::outbound::{OutboundConfig, OutboundRetry, OutboundStats};
pub use seam_compiler::catalog::{Catalog, SystemKind};
pub use webhook::{sign, verify, WebhookStats, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("state: {0}")]
    State(String),
    #[error("schema: {0}")]
    Schema(String),
}

/// The credentials the emulators accept.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Salesforce connected app (client credentials, username-password and JWT bearer flows).
    pub sf_client_id: String,
    pub sf_client_secret: String,
    pub sf_username: String,
    pub sf_password: String,
    /// ServiceNow basic auth user (also the OAuth `password` grant user).
    pub snow_username: String,
    pub snow_password: String,
    pub snow_client_id: String,
    pub snow_client_secret: String,
    /// Slack bot token (`xoxb-…`).
    pub slack_token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            sf_client_id: "seam-sandbox-client-id".into(),
            sf_client_secret: "seam-sandbox-client-secret".into(),
            sf_username: "integration@seam.sandbox".into(),
            sf_password: "sandbox-password".into(),
            snow_username: "admin".into(),
            snow_password: "sandbox-password".into(),
            snow_client_id: "seam-sandbox-client-id".into(),
            snow_client_secret: "seam-sandbox-client-secret".into(),
            slack_token: "xoxb-seam-sandbox-token".into(),
        }
    }
}

/// Everything `start` needs.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub bind: IpAddr,
    /// Ports; 0 picks a free one (the bound addresses are in [`RunningSandbox`]).
    pub sf_port: u16,
    pub snow_port: u16,
    pub slack_port: u16,
    /// Where change events are POSTed; `None` keeps them in memory only.
    pub sf_webhook_url: Option<String>,
    pub snow_webhook_url: Option<String>,
    pub sf_webhook_secret: String,
    pub snow_webhook_secret: String,
    /// Salesforce Outbound Messages (SOAP): where, for which objects and fields, how retried.
    pub sf_outbound: OutboundConfig,
    pub credentials: Credentials,
    pub sf_faults: FaultConfig,
    pub snow_faults: FaultConfig,
    pub slack_faults: FaultConfig,
    /// Seed of every fault decision and every generated ServiceNow sys_id / Slack id.
    pub seed: u64,
    /// Salesforce's 24-hour API request allowance (`Sforce-Limit-Info`; 403 past it).
    pub sf_api_limit: u64,
    /// Persist every system's records here (`salesforce.json`, `servicenow.json`, `slack.json`).
    pub state_dir: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate.
    pub tls: bool,
    /// Where the certificate (PEM) is written with `tls`; default `state_dir` or the temp dir.
    pub tls_cert_path: Option<PathBuf>,
    /// The objects and fields served.
    pub catalog: Catalog,
}

impl Default for SandboxConfig {
    /// The standard ports (8701, 8702, 8703) on 127.0.0.1, fresh random webhook secrets.
    fn default() -> Self {
        SandboxConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            sf_port: 8701,
            snow_port: 8702,
            slack_port: 8703,
            sf_webhook_url: None,
            snow_webhook_url: None,
            sf_webhook_secret: util::random_hex(24),
            snow_webhook_secret: util::random_hex(24),
            sf_outbound: OutboundConfig::default(),
            credentials: Credentials::default(),
            sf_faults: FaultConfig::default(),
            snow_faults: FaultConfig::default(),
            slack_faults: FaultConfig::default(),
            seed: 0,
            sf_api_limit: 100_000,
            state_dir: None,
            tls: false,
            tls_cert_path: None,
            catalog: Catalog::builtin(),
        }
    }
}

impl SandboxConfig {
    /// Like `default`, but every system on a free port of 127.0.0.1 (for tests).
    pub fn ephemeral() -> Self {
        SandboxConfig {
            sf_port: 0,
            snow_port: 0,
            slack_port: 0,
            ..SandboxConfig::default()
        }
    }
}

/// A started sandbox: where each system listens, and in-process access to its state.
pub struct RunningSandbox {
    pub salesforce_addr: SocketAddr,
    pub servicenow_addr: SocketAddr,
    pub slack_addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The PEM certificate clients must trust when `tls` is on, and where it was written.
    pub cert_pem: Option<String>,
    pub cert_path: Option<PathBuf>,
    pub config: SandboxConfig,
    sf: Arc<salesforce::SfState>,
    snow: Arc<servicenow::SnowState>,
    slack: Arc<slack::SlackState>,
    handles: Vec<axum_server::Handle>,
    flusher: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the three emulators.
pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, Error> {
    let bind = |port| SocketAddr::new(config.bind, port);
    let listeners = [
        listen(bind(config.sf_port))?,
        listen(bind(config.snow_port))?,
        listen(bind(config.slack_port))?,
    ];
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Bind {
            addr: bind(0),
            source: e,
        })?;
    let (sf_addr, snow_addr, slack_addr) = match addrs.as_slice() {
        [a, b, c] => (*a, *b, *c),
        _ => return Err(Error::State("listener addresses".into())),
    };
    let scheme = if config.tls { "https" } else { "http" };
    let url = |a: SocketAddr| format!("{scheme}://{}", util::display_addr(a));
    if let Some(dir) = &config.state_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::State(format!("{}: {e}", dir.display())))?;
    }
    let dir = config.state_dir.as_deref();
    let sf = Arc::new(salesforce::SfState::new(&config, url(sf_addr), dir)?);
    let snow = Arc::new(servicenow::SnowState::new(&config, url(snow_addr), dir)?);
    let slack = Arc::new(slack::SlackState::new(&config, url(slack_addr), dir)?);

    let tls = if config.tls {
        Some(tls::generate(&config).await?)
    } else {
        None
    };
    let routers = [
        salesforce::router(sf.clone()),
        servicenow::router(snow.clone()),
        slack::router(slack.clone()),
    ];
    let mut handles = Vec::new();
    for (listener, router) in listeners.into_iter().zip(routers) {
        let handle = axum_server::Handle::new();
        let service = router.into_make_service();
        match &tls {
            Some(t) => {
                let server =
                    axum_server::from_tcp_rustls(listener, t.config.clone()).handle(handle.clone());
                tokio::spawn(async move {
                    if let Err(e) = server.serve(service).await {
                        tracing::error!(error = %e, "server stopped");
                    }
                });
            }
            None => {
                let server = axum_server::from_tcp(listener).handle(handle.clone());
                tokio::spawn(async move {
                    if let Err(e) = server.serve(service).await {
                        tracing::error!(error = %e, "server stopped");
                    }
                });
            }
        }
        handles.push(handle);
    }
    let flusher = config.state_dir.as_ref().map(|_| {
        let (sf, snow, slack) = (sf.clone(), snow.clone(), slack.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                flush_all(&sf, &snow, &slack);
            }
        })
    });
    let (cert_pem, cert_path) = match tls {
        Some(t) => (Some(t.cert_pem), Some(t.cert_path)),
        None => (None, None),
    };
    Ok(RunningSandbox {
        salesforce_addr: sf_addr,
        servicenow_addr: snow_addr,
        slack_addr,
        scheme,
        cert_pem,
        cert_path,
        config,
        sf,
        snow,
        slack,
        handles,
        flusher,
    })
}

fn listen(addr: SocketAddr) -> Result<std::net::TcpListener, Error> {
    let l = std::net::TcpListener::bind(addr).map_err(|e| Error::Bind { addr, source: e })?;
    l.set_nonblocking(true)
        .map_err(|e| Error::Bind { addr, source: e })?;
    Ok(l)
}

fn flush_all(sf: &salesforce::SfState, snow: &servicenow::SnowState, slack: &slack::SlackState) {
    for r in [sf.store.flush(), snow.store.flush(), slack.store.flush()] {
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot persist sandbox state");
        }
    }
}

impl RunningSandbox {
    /// The environment variables `examples/case_incident.seam` names (`SF_URL`, `SF_CLIENT_ID`,
    /// `SNOW_USER`, the webhook secrets, ...), answered from this sandbox's addresses and
    /// credentials: what the runtime needs to run the example against it.
    pub fn example_env(&self) -> std::collections::HashMap<String, String> {
        let c = &self.config.credentials;
        std::collections::HashMap::from([
            ("SF_URL".into(), self.salesforce_url()),
            ("SF_CLIENT_ID".into(), c.sf_client_id.clone()),
            ("SF_CLIENT_SECRET".into(), c.sf_client_secret.clone()),
            (
                "SF_WEBHOOK_SECRET".into(),
                self.config.sf_webhook_secret.clone(),
            ),
            ("SNOW_URL".into(), self.servicenow_url()),
            ("SNOW_USER".into(), c.snow_username.clone()),
            ("SNOW_PASSWORD".into(), c.snow_password.clone()),
            (
                "SNOW_WEBHOOK_SECRET".into(),
                self.config.snow_webhook_secret.clone(),
            ),
            ("SLACK_BOT_TOKEN".into(), c.slack_token.clone()),
        ])
    }

    /// `http(s)://127.0.0.1:PORT` — the Salesforce instance URL.
    pub fn salesforce_url(&self) -> String {
        self.sf.base_url.clone()
    }

    /// The ServiceNow instance URL (Table API under `/api/now/table/`).
    pub fn servicenow_url(&self) -> String {
        self.snow.base_url.clone()
    }

    /// The Slack base URL (Web API under `/api/`).
    pub fn slack_url(&self) -> String {
        self.slack.base_url.clone()
    }

    /// The Slack incoming-webhook URL that posts into `#general`.
    pub fn slack_incoming_webhook_url(&self) -> String {
        format!(
            "{}{}",
            self.slack.base_url,
            self.slack.incoming_webhook_path()
        )
    }

    /// Mints a Salesforce access token, as the OAuth endpoint would.
    pub fn salesforce_token(&self) -> String {
        self.sf.mint_token()
    }

    /// Mints a ServiceNow OAuth access token (basic auth works as well).
    pub fn servicenow_token(&self) -> String {
        self.snow.mint_token()
    }

    /// One Salesforce record, as stored (typed JSON values, all fields it has).
    pub fn sf_record(&self, object: &str, id: &str) -> Option<Value> {
        self.sf.record(object, id)
    }

    /// Every record of one Salesforce object, in creation order.
    pub fn sf_records(&self, object: &str) -> Vec<Value> {
        self.sf.records(object)
    }

    /// Creates a Salesforce record the way the REST API does (validation, ids, stamps, and a
    /// change event with `changeOrigin` client `client` when given). Returns the id, or the
    /// platform's error array.
    pub fn sf_create(
        &self,
        object: &str,
        fields: Value,
        client: Option<&str>,
    ) -> Result<String, Value> {
        self.sf.create_in_process(object, fields, client)
    }

    /// Restores a deleted Salesforce record from the Recycle Bin (Apex/SOAP `undelete()`; the
    /// REST API has none) and emits its CDC `UNDELETE` event. Returns the 18-character id.
    pub fn sf_undelete(&self, object: &str, id: &str) -> Result<String, Value> {
        self.sf.undelete_in_process(object, id)
    }

    /// Restores a deleted ServiceNow record ("Undelete Record") and emits its `insert` event.
    pub fn snow_undelete(&self, table: &str, sys_id: &str) -> Result<(), Value> {
        self.snow.undelete_in_process(table, sys_id)
    }

    /// One ServiceNow record, all values as strings.
    pub fn snow_record(&self, table: &str, sys_id: &str) -> Option<Value> {
        self.snow.record(table, sys_id)
    }

    pub fn snow_records(&self, table: &str) -> Vec<Value> {
        self.snow.records(table)
    }

    /// Creates a ServiceNow record the way the Table API does; returns the sys_id.
    pub fn snow_create(&self, table: &str, fields: Value) -> Result<String, Value> {
        self.snow.create_in_process(table, fields)
    }

    /// Slack channels (`conversations.list` shape).
    pub fn slack_channels(&self) -> Vec<Value> {
        self.slack.channels()
    }

    /// Messages of one Slack channel (id or name), oldest first.
    pub fn slack_messages(&self, channel: &str) -> Vec<Value> {
        self.slack.messages(channel)
    }

    /// The change events a system has emitted (Salesforce CDC, ServiceNow business rule).
    pub fn events(&self, system: SystemKind) -> Vec<Value> {
        match system {
            SystemKind::Salesforce => self.sf.webhook.events(),
            SystemKind::ServiceNow => self.snow.webhook.events(),
            SystemKind::Slack => Vec::new(),
        }
    }

    /// Every change event a system commits from now on, with the instant of the commit (see
    /// [`webhook::Webhook::watch`]); `None` for Slack, which sends none.
    pub fn watch(
        &self,
        system: SystemKind,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<webhook::Watched>> {
        match system {
            SystemKind::Salesforce => Some(self.sf.webhook.watch()),
            SystemKind::ServiceNow => Some(self.snow.webhook.watch()),
            SystemKind::Slack => None,
        }
    }

    /// As [`RunningSandbox::watch`], each event as the bytes sent (see
    /// [`webhook::Webhook::watch_raw`]): for an observer that reads a few of its fields.
    pub fn watch_raw(
        &self,
        system: SystemKind,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<webhook::WatchedRaw>> {
        match system {
            SystemKind::Salesforce => Some(self.sf.webhook.watch_raw()),
            SystemKind::ServiceNow => Some(self.snow.webhook.watch_raw()),
            SystemKind::Slack => None,
        }
    }

    /// The Salesforce API as a service to call in process (`tower::ServiceExt::oneshot`), on
    /// this sandbox's records: the same routes, checks and change events as over HTTP, for a
    /// load generator that should not pay for a client and a socket per write.
    pub fn salesforce_router(&self) -> axum::Router {
        salesforce::router(self.sf.clone())
    }

    pub fn webhook_stats(&self, system: SystemKind) -> WebhookStats {
        match system {
            SystemKind::Salesforce => self.sf.webhook.stats(),
            SystemKind::ServiceNow => self.snow.webhook.stats(),
            SystemKind::Slack => WebhookStats::default(),
        }
    }

    /// Points a system's change webhook somewhere else (or nowhere).
    pub fn set_webhook_url(&self, system: SystemKind, url: Option<String>) {
        match system {
            SystemKind::Salesforce => self.sf.webhook.set_url(url),
            SystemKind::ServiceNow => self.snow.webhook.set_url(url),
            SystemKind::Slack => {}
        }
    }

    /// The Salesforce org id (`00D…`, 18 characters) Outbound Messages carry.
    pub fn salesforce_org_id(&self) -> String {
        self.sf.org_id.clone()
    }

    pub fn outbound_config(&self) -> OutboundConfig {
        self.sf.outbound.config()
    }

    /// Changes where and what Salesforce Outbound Messages send (`PUT /__sandbox/outbound`).
    pub fn set_outbound(&self, config: OutboundConfig) {
        self.sf.outbound.set_config(config)
    }

    pub fn outbound_stats(&self) -> OutboundStats {
        self.sf.outbound.stats()
    }

    /// The Outbound Messages built so far (the last 1,000 SOAP envelopes), before faults.
    pub fn outbound_messages(&self) -> Vec<String> {
        self.sf.outbound.messages()
    }

    pub fn faults(&self, system: SystemKind) -> FaultConfig {
        self.faults_of(system).get()
    }

    /// Changes a system's faults at run time (and restarts its seeded decision sequence).
    pub fn set_faults(&self, system: SystemKind, config: FaultConfig) {
        self.faults_of(system).set(config)
    }

    fn faults_of(&self, system: SystemKind) -> &faults::Faults {
        match system {
            SystemKind::Salesforce => &self.sf.faults,
            SystemKind::ServiceNow => &self.snow.faults,
            SystemKind::Slack => &self.slack.faults,
        }
    }

    /// Empties every system (records, counters, event logs), as `POST /__sandbox/reset` does.
    pub fn reset(&self) {
        admin::SystemState::reset(&*self.sf);
        admin::SystemState::reset(&*self.snow);
        admin::SystemState::reset(&*self.slack);
    }

    /// Stops the servers, writes the state (with `--state`), and returns when they are down.
    pub async fn shutdown(self) {
        for h in &self.handles {
            h.graceful_shutdown(Some(Duration::from_secs(2)));
        }
        if let Some(f) = &self.flusher {
            f.abort();
        }
        flush_all(&self.sf, &self.snow, &self.slack);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
