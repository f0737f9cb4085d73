//! Assembling a runtime from a Plan: settings resolved from the environment variables the Plan
//! names (never logged), the store opened, connectors built, the HTTP server and the workers
//! started; [`Running::shutdown`] stops taking webhooks, lets in-flight events finish and
//! returns.

use seam_compiler::plan::{Plan, PlanSystem, PlanSystemKind, RetryPolicy, SettingValue};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

use crate::connectors::http_client;
use crate::connectors::salesforce::SalesforceClient;
use crate::connectors::servicenow::ServiceNowClient;
use crate::connectors::slack::SlackClient;
use crate::engine::platform::Platform;
use crate::engine::worker::{self, WorkerConfig};
use crate::engine::{default_retry, Engine};
use crate::ingest::decode::EchoIdentity;
use crate::ingest::{self, HookKind, HookSystem, IngestState};
use crate::metrics::Metrics;
use crate::reconcile;
use crate::store::group;
use crate::store::offload::Offloaded;
use crate::store::sqlite::{Durability, SqliteStore, WriteGate};
use crate::store::Store;

pub struct RuntimeConfig {
    pub listen: SocketAddr,
    /// `sqlite://PATH`.
    pub state: String,
    /// Sent as `Sforce-Call-Options: client=…` and recognised in `changeOrigin`.
    pub sf_client_id: String,
    /// The ServiceNow user whose updates are our echoes; default: the basic-auth user.
    pub snow_echo_user: Option<String>,
    /// Salesforce system alias -> the org id (`00D…`, 15 or 18 characters) whose Outbound
    /// Messages it accepts; the key `*` applies to every Salesforce system without its own.
    /// (The spec's `organization_id` setting is checked but not yet carried in the Plan.)
    pub sf_organization_ids: HashMap<String, String>,
    /// Replaces the Plan's retry policy (tests, operations).
    pub retry: Option<RetryPolicy>,
    pub workers: WorkerConfig,
    /// The Slack Web API base URL for Slack systems whose spec sets no `url`
    /// (default `https://slack.com`; the sandbox's in tests and demos).
    pub slack_url: Option<String>,
    /// How often the policy's alerts are evaluated.
    pub alert_interval: std::time::Duration,
    /// Done inbox events older than this are pruned in the background (`None`: kept forever).
    pub retention: Option<crate::retention::Retention>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            state: "sqlite://seam.db".into(),
            sf_client_id: "seam".into(),
            snow_echo_user: None,
            sf_organization_ids: HashMap::new(),
            retry: None,
            workers: WorkerConfig::default(),
            slack_url: None,
            alert_interval: std::time::Duration::from_secs(15),
            retention: Some(crate::retention::Retention::default()),
        }
    }
}

/// Looks a setting up: a literal, or the environment variable it names.
fn setting(
    value: &SettingValue,
    env: &dyn Fn(&str) -> Option<String>,
    what: &str,
) -> Result<String, String> {
    match value {
        SettingValue::Literal(s) => Ok(s.clone()),
        SettingValue::Env(r) => env(&r.env)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{what}: set the environment variable `{}`", r.env)),
    }
}

fn auth_param(
    sys: &PlanSystem,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let auth = sys
        .auth
        .as_ref()
        .ok_or_else(|| format!("system `{}` has no auth", sys.alias))?;
    let p = auth.params.iter().find(|p| p.name == name).ok_or_else(|| {
        format!(
            "system `{}`: auth `{}` has no `{name}`",
            sys.alias, auth.scheme
        )
    })?;
    setting(
        &p.value,
        env,
        &format!("system `{}` auth `{name}`", sys.alias),
    )
}

/// The org id whose Outbound Messages system `alias` accepts, checked for shape.
fn organization_id(config: &RuntimeConfig, alias: &str) -> Result<Option<String>, String> {
    let ids = &config.sf_organization_ids;
    let Some(id) = ids.get(alias).or_else(|| ids.get("*")) else {
        return Ok(None);
    };
    let id = id.trim();
    if !ingest::soap::is_org_id(id) {
        return Err(format!(
            "system `{alias}`: `{id}` is not a Salesforce org id (15 or 18 letters and digits starting `00D`; Setup > Company Information shows it)"
        ));
    }
    Ok(Some(id.to_string()))
}

pub struct Running {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    ready: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<()>,
    workers: tokio::task::JoinHandle<()>,
    reconciler: Option<tokio::task::JoinHandle<()>>,
    retention: Option<tokio::task::JoinHandle<()>>,
    alerts: tokio::task::JoinHandle<()>,
}

/// The connectors of a Plan's systems.
pub struct Connected {
    /// The record systems (Salesforce, ServiceNow) by alias.
    pub platforms: HashMap<String, Platform>,
    /// The Slack systems by alias, for workflow actions and alerts.
    pub slack: HashMap<String, SlackClient>,
    /// The first ServiceNow basic-auth user (our echo identity there by default).
    pub snow_user: Option<String>,
}

/// The connectors of the Plan's systems. `slack_url` serves Slack systems whose spec sets no
/// `url`; `env` resolves the variables the Plan names.
pub fn connect(
    plan: &Plan,
    sf_client_id: &str,
    slack_url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Connected, String> {
    let http = http_client()?;
    let mut platforms = HashMap::new();
    let mut slack = HashMap::new();
    let mut snow_user = None;
    for sys in &plan.systems {
        let url = || {
            setting(
                sys.url
                    .as_ref()
                    .ok_or_else(|| format!("system `{}` has no url", sys.alias))?,
                env,
                &format!("system `{}` url", sys.alias),
            )
        };
        let platform = match sys.kind {
            PlanSystemKind::Slack => {
                let url = match &sys.url {
                    Some(u) => setting(u, env, &format!("system `{}` url", sys.alias))?,
                    None => slack_url.unwrap_or("https://slack.com").to_string(),
                };
                let token = auth_param(sys, "token", env)?;
                slack.insert(
                    sys.alias.clone(),
                    SlackClient::new(&sys.alias, http.clone(), &url, token),
                );
                continue;
            }
            PlanSystemKind::Salesforce => Platform::Salesforce(SalesforceClient::new(
                &sys.alias,
                http.clone(),
                &url()?,
                auth_param(sys, "client_id", env)?,
                auth_param(sys, "client_secret", env)?,
                sf_client_id.to_string(),
            )),
            PlanSystemKind::Servicenow => {
                let user = auth_param(sys, "user", env)?;
                snow_user.get_or_insert_with(|| user.clone());
                Platform::ServiceNow(ServiceNowClient::new(
                    &sys.alias,
                    http.clone(),
                    &url()?,
                    user,
                    auth_param(sys, "password", env)?,
                ))
            }
        };
        platforms.insert(sys.alias.clone(), platform);
    }
    Ok(Connected {
        platforms,
        slack,
        snow_user,
    })
}

/// An engine for a one-off tool (`seam reconcile`): the Plan's connectors over `state`, no
/// webhooks, no workers.
pub fn tool_engine(
    plan: Plan,
    state: &str,
    sf_client_id: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Engine, String> {
    let store: Arc<dyn Store> = Arc::new(Offloaded(
        SqliteStore::open_existing_url(state, Durability::Normal).map_err(|e| e.to_string())?,
    ));
    let connected = connect(&plan, sf_client_id, None, env)?;
    let retry = plan.policy.retry.clone().unwrap_or_else(default_retry);
    Ok(Engine {
        plan: Arc::new(plan),
        store,
        platforms: connected.platforms,
        slack: connected.slack,
        metrics: Arc::new(Metrics::new()),
        retry,
        pair_locks: Default::default(),
    })
}

/// Starts the runtime for `plan`; `env` resolves the variables the Plan names.
pub async fn start(
    plan: Plan,
    config: RuntimeConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Running, String> {
    // Two stores: the inbox's commits are the durability point (FULL); the engine's are
    // re-derivable (NORMAL). They share one write connection, set to each store's level before
    // its writes, so neither's commits drop the other's page cache (`store/sqlite.rs`).
    let inbox_store =
        SqliteStore::open_url_gated(&config.state, Durability::Full, WriteGate::default())
            .map_err(|e| e.to_string())?;
    // The engine's store keeps every event's lookups in memory, checked against other
    // writers each time it claims (`store/cache.rs`).
    let store: Arc<dyn Store> = Arc::new(Offloaded(
        inbox_store
            .sharing_writer(Durability::Normal)
            .map_err(|e| e.to_string())?
            .caching(),
    ));
    let inbox: Arc<dyn Store> = Arc::new(inbox_store);
    let Connected {
        platforms,
        slack,
        snow_user,
    } = connect(
        &plan,
        &config.sf_client_id,
        config.slack_url.as_deref(),
        env,
    )?;
    let mut hooks = HashMap::new();
    for (alias, platform) in &platforms {
        let Some(sys) = plan.systems.iter().find(|s| &s.alias == alias) else {
            continue;
        };
        let kind = match platform {
            Platform::Salesforce(_) => HookKind::Salesforce,
            Platform::ServiceNow(_) => HookKind::ServiceNow,
        };
        let secret_ref = sys.webhook_secret.as_ref().ok_or_else(|| {
            format!(
                "system `{}` has no webhook_secret: its webhooks could not be verified",
                sys.alias
            )
        })?;
        let secret = setting(
            &SettingValue::Env(secret_ref.clone()),
            env,
            &format!("system `{}` webhook_secret", sys.alias),
        )?;
        let organization_id = match kind {
            HookKind::Salesforce => organization_id(&config, &sys.alias)?,
            HookKind::ServiceNow => None,
        };
        hooks.insert(
            sys.alias.clone(),
            HookSystem {
                kind,
                secret,
                organization_id,
            },
        );
    }
    let metrics = Arc::new(Metrics::new());
    let retry = config
        .retry
        .clone()
        .or_else(|| plan.policy.retry.clone())
        .unwrap_or_else(default_retry);
    let echo = EchoIdentity {
        sf_client_id: config.sf_client_id.clone(),
        snow_user: config.snow_echo_user.clone().or(snow_user),
    };
    let engine = Arc::new(Engine {
        plan: Arc::new(plan),
        store: store.clone(),
        platforms,
        slack,
        metrics: metrics.clone(),
        retry,
        pair_locks: Default::default(),
    });
    // One writer thread for both connections' grouped commits (`store/group.rs`).
    let (inbox_commit, engine_commit) = group::start(inbox, store.clone());
    let wake = Arc::new(Notify::new());
    let ready = Arc::new(AtomicBool::new(false));
    let state = Arc::new(IngestState {
        systems: hooks,
        echo,
        commit: inbox_commit,
        store: store.clone(),
        metrics: metrics.clone(),
        wake: wake.clone(),
        ready: ready.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (shutdown, rx) = watch::channel(false);
    let mut server_rx = rx.clone();
    let app = ingest::router(state);
    let server = tokio::spawn(async move {
        let stop = async move {
            let _ = server_rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    // `reconcile = every D`: drift repair in the background, stopped with the workers.
    let reconciler = engine.plan.policy.reconcile_every_ms.map(|ms| {
        tokio::spawn(reconcile::every(
            engine.clone(),
            std::time::Duration::from_millis(ms.max(1_000)),
            rx.clone(),
        ))
    });
    // `--retain-events`: done events past the period go, in small batches, on the engine's
    // connection (the inbox's FULL one stays for acknowledged events).
    let retention = config.retention.map(|r| {
        tokio::spawn(crate::retention::run(
            store.clone(),
            r,
            metrics.clone(),
            rx.clone(),
        ))
    });
    let alerts = tokio::spawn(crate::workflow::alerts::run(
        engine.clone(),
        config.alert_interval,
        rx.clone(),
    ));
    let workers = tokio::spawn(worker::run(engine, engine_commit, config.workers, wake, rx));
    ready.store(true, Ordering::Relaxed);
    tracing::info!(%addr, "seam runtime listening");
    Ok(Running {
        addr,
        store,
        metrics,
        shutdown,
        ready,
        server,
        workers,
        reconciler,
        retention,
        alerts,
    })
}

impl Running {
    /// Stops taking webhooks, finishes in-flight events, and returns.
    pub async fn shutdown(self) {
        self.ready.store(false, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        let _ = self.workers.await;
        if let Some(r) = self.reconciler {
            let _ = r.await;
        }
        if let Some(r) = self.retention {
            let _ = r.await;
        }
        let _ = self.alerts.await;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
