//! The end-to-end harness: the sandbox and the runtime in one process, on 127.0.0.1:0, the
//! sandbox's webhooks pointed at the runtime, the example spec compiled to its Plan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use seam_compiler::plan::{Backoff, RetryPolicy};
use seam_runtime::engine::worker::WorkerConfig;
use seam_runtime::{Running, RuntimeConfig};
use seam_sandbox::{RunningSandbox, SandboxConfig, SystemKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct World {
    /// The spec the runtime runs.
    pub spec: String,
    pub sb: RunningSandbox,
    pub rt: Option<Running>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub fn spec() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/case_incident.seam"
    ))
    .unwrap()
}

pub fn plan() -> seam_compiler::Plan {
    match seam_compiler::compile(&spec()) {
        (_, Some(plan)) => plan,
        (_, None) => panic!("the example does not compile"),
    }
}

pub fn env_of(sb: &RunningSandbox) -> HashMap<String, String> {
    sb.example_env()
}

/// Fast retries so a 5xx storm ends in seconds.
pub fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        backoff: Some(Backoff {
            min_ms: 20,
            max_ms: 100,
        }),
    }
}

impl World {
    pub async fn start(retry: RetryPolicy) -> World {
        World::start_spec(&spec(), retry).await
    }

    /// The sandbox and the runtime for another spec (same systems and credentials).
    pub async fn start_spec(spec: &str, retry: RetryPolicy) -> World {
        let mut config = SandboxConfig::ephemeral();
        config.catalog = seam_compiler::catalog_for_spec(spec).unwrap();
        let sb = seam_sandbox::start(config).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut w = World {
            spec: spec.to_string(),
            sb,
            rt: None,
            dir,
            http: reqwest::Client::new(),
        };
        w.start_runtime(retry).await;
        w
    }

    /// Like [`World::start`], with a Plan the test changed.
    pub async fn start_with(retry: RetryPolicy, plan: seam_compiler::Plan) -> World {
        let mut config = SandboxConfig::ephemeral();
        config.catalog = seam_compiler::catalog_for_spec(&spec()).unwrap();
        let sb = seam_sandbox::start(config).await.unwrap();
        let mut w = World {
            spec: spec(),
            sb,
            rt: None,
            dir: tempfile::tempdir().unwrap(),
            http: reqwest::Client::new(),
        };
        w.start_runtime_with(retry, plan).await;
        w
    }

    pub async fn start_runtime(&mut self, retry: RetryPolicy) {
        let plan = self.plan();
        self.start_runtime_with(retry, plan).await;
    }

    pub async fn start_runtime_with(&mut self, retry: RetryPolicy, plan: seam_compiler::Plan) {
        let env = env_of(&self.sb);
        let config = RuntimeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            state: format!("sqlite://{}", self.dir.path().join("seam.db").display()),
            // The sandbox makes every ServiceNow change as `admin`, the engineer's too: recognise
            // echoes by the diff alone here.
            snow_echo_user: Some("seam.integration".into()),
            // Outbound Messages (SOAP) from the sandbox's org are accepted on /hooks/sf.
            sf_organization_ids: HashMap::from([("sf".to_string(), self.sb.salesforce_org_id())]),
            retry: Some(retry),
            workers: WorkerConfig {
                concurrency: 16,
                poll: Duration::from_millis(20),
            },
            slack_url: Some(self.sb.slack_url()),
            alert_interval: Duration::from_millis(50),
            ..RuntimeConfig::default()
        };
        let rt = seam_runtime::start(plan, config, &|k| env.get(k).cloned())
            .await
            .unwrap();
        self.sb.set_webhook_url(
            SystemKind::Salesforce,
            Some(format!("{}/hooks/sf", rt.url())),
        );
        self.sb.set_webhook_url(
            SystemKind::ServiceNow,
            Some(format!("{}/hooks/snow", rt.url())),
        );
        self.rt = Some(rt);
    }

    pub fn plan(&self) -> seam_compiler::Plan {
        match seam_compiler::compile(&self.spec) {
            (_, Some(plan)) => plan,
            (c, None) => panic!("the spec does not compile: {:?}", c.diagnostics),
        }
    }

    /// An engine over the runtime's state and the sandbox, as `seam reconcile` builds one.
    pub fn tool_engine(&self) -> seam_runtime::engine::Engine {
        let env = env_of(&self.sb);
        let state = format!("sqlite://{}", self.dir.path().join("seam.db").display());
        seam_runtime::app::tool_engine(self.plan(), &state, "seam", &|k| env.get(k).cloned())
            .unwrap()
    }

    /// Deletes a record through the platform's API, as a person would.
    pub async fn delete(&self, system: SystemKind, object: &str, id: &str) {
        let req = match system {
            SystemKind::Salesforce => self
                .http
                .delete(format!(
                    "{}/services/data/v62.0/sobjects/{object}/{id}",
                    self.sb.salesforce_url()
                ))
                .bearer_auth(self.sb.salesforce_token()),
            _ => {
                let c = &self.sb.config.credentials;
                self.http
                    .delete(format!(
                        "{}/api/now/table/{object}/{id}",
                        self.sb.servicenow_url()
                    ))
                    .basic_auth(&c.snow_username, Some(&c.snow_password))
            }
        };
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 204, "delete {object} {id}");
    }

    /// Stops the sandbox's change webhooks (a lost event, a direct edit nobody hears of).
    pub fn mute(&self) {
        self.sb.set_webhook_url(SystemKind::Salesforce, None);
        self.sb.set_webhook_url(SystemKind::ServiceNow, None);
    }

    /// Points the webhooks at the runtime again.
    pub fn unmute(&self) {
        let url = self.rt().url();
        self.sb
            .set_webhook_url(SystemKind::Salesforce, Some(format!("{url}/hooks/sf")));
        self.sb
            .set_webhook_url(SystemKind::ServiceNow, Some(format!("{url}/hooks/snow")));
    }

    /// Waits until every event the sandbox sent is delivered and handled.
    pub async fn settle(&self) {
        let store = self.rt().store.clone();
        eventually(10, "the inbox drained", || {
            store.backlog(seam_runtime::store::now_ms()).unwrap().depth == 0
        })
        .await;
        // Deliveries still in flight land in the inbox; drain again after a beat.
        tokio::time::sleep(Duration::from_millis(150)).await;
        eventually(10, "the inbox drained", || {
            store.backlog(seam_runtime::store::now_ms()).unwrap().depth == 0
        })
        .await;
    }

    pub fn rt(&self) -> &Running {
        self.rt.as_ref().unwrap()
    }

    /// A customer with the same key on both sides; returns (Account Id, core_company sys_id).
    /// A customer's Infrastructure case (customer `key`) and the incident it opened, in sync;
    /// returns (case, incident).
    pub async fn linked_case(&self, key: &str) -> (String, String) {
        let (account, _) = self.customer(key);
        let case = self
            .sb
            .sf_create("Case", json!({"Subject": "Core switch down", "Type": "Infrastructure", "Priority": "High", "AccountId": account}), None)
            .unwrap();
        eventually(10, "an incident for the case", || {
            self.incidents_for(&case).len() == 1
        })
        .await;
        let incident = self.incidents_for(&case)[0]["sys_id"]
            .as_str()
            .unwrap()
            .to_string();
        self.settle().await;
        (case, incident)
    }

    pub fn customer(&self, key: &str) -> (String, String) {
        let account = self
            .sb
            .sf_create(
                "Account",
                json!({"Name": format!("{key} Ltd"), "Customer_Key__c": key}),
                None,
            )
            .unwrap();
        let company = self
            .sb
            .snow_create(
                "core_company",
                json!({"name": format!("{key} Ltd"), "u_customer_key": key}),
            )
            .unwrap();
        (account, company)
    }

    pub fn incidents_for(&self, case_id: &str) -> Vec<Value> {
        self.sb
            .snow_records("incident")
            .into_iter()
            .filter(|i| i.get("correlation_id").and_then(Value::as_str) == Some(case_id))
            .collect()
    }

    /// A customer on both sides whose Account has this `Tier__c`; returns the Account Id.
    pub fn tiered_customer(&self, key: &str, tier: &str) -> String {
        let account = self
            .sb
            .sf_create(
                "Account",
                json!({"Name": format!("{key} Ltd"), "Customer_Key__c": key, "Tier__c": tier}),
                None,
            )
            .unwrap();
        self.sb
            .snow_create(
                "core_company",
                json!({"name": format!("{key} Ltd"), "u_customer_key": key}),
            )
            .unwrap();
        account
    }

    /// Salesforce records of `object` whose `field` is `value`.
    pub fn sf_where(&self, object: &str, field: &str, value: &str) -> Vec<Value> {
        self.sb
            .sf_records(object)
            .into_iter()
            .filter(|r| r.get(field).and_then(Value::as_str) == Some(value))
            .collect()
    }

    /// Posts a webhook body to the runtime, signed as the sandbox signs its Salesforce events.
    pub async fn post_sf_hook(&self, body: &Value) -> u16 {
        let ts = (chrono_now_secs()).to_string();
        let bytes = body.to_string().into_bytes();
        let sig = seam_sandbox::sign(&self.sb.config.sf_webhook_secret, &ts, &bytes);
        self.http
            .post(format!("{}/hooks/sf", self.rt().url()))
            .header(seam_sandbox::TIMESTAMP_HEADER, ts)
            .header(seam_sandbox::SIGNATURE_HEADER, sig)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// An engineer's change to an incident, through the Table API.
    pub async fn snow_patch(&self, sys_id: &str, fields: Value) {
        let c = &self.sb.config.credentials;
        let r = self
            .http
            .patch(format!(
                "{}/api/now/table/incident/{sys_id}",
                self.sb.servicenow_url()
            ))
            .basic_auth(&c.snow_username, Some(&c.snow_password))
            .json(&fields)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }

    /// A person's change to a Salesforce record, through the REST API (no call-options client).
    pub async fn sf_patch(&self, object: &str, id: &str, fields: Value) {
        let r = self
            .http
            .patch(format!(
                "{}/services/data/v62.0/sobjects/{object}/{id}",
                self.sb.salesforce_url()
            ))
            .bearer_auth(self.sb.salesforce_token())
            .json(&fields)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }

    pub async fn shutdown(mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown().await;
        }
        self.sb.shutdown().await;
    }
}

/// Polls `check` until it holds or `secs` pass.
pub async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// One sample of a Prometheus text exposition (`name{labels}`), 0 when absent.
pub fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(sample)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

pub fn field(v: &Option<Value>, name: &str) -> Option<String> {
    v.as_ref()
        .and_then(|r| r.get(name))
        .and_then(Value::as_str)
        .map(String::from)
}

fn chrono_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
