//! What the CLI tests that run beside a runtime share: a sandbox and a runtime on a temporary
//! state file, wired by webhooks, and one Case whose incident the runtime opened.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use seam_runtime::{Running as RunningRuntime, RuntimeConfig};
use seam_sandbox::{RunningSandbox, SandboxConfig, SystemKind};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/case_incident.seam");

pub async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replaces an id with a placeholder of the same length, so tables keep their alignment.
pub fn redact(text: &str, id: &str, name: &str) -> String {
    let fill = id.len().saturating_sub(name.len() + 2);
    text.replace(id, &format!("<{name}{}>", "-".repeat(fill)))
}

/// The example spec running: sandbox, runtime (state in `_dir`), and a linked pair.
pub struct LinkedPair {
    pub sb: RunningSandbox,
    pub rt: RunningRuntime,
    pub env: HashMap<String, String>,
    pub _dir: tempfile::TempDir,
    /// `sqlite://…` of the runtime's state file.
    pub state: String,
    pub case: String,
    pub sys_id: String,
}

/// Starts the sandbox and the runtime with examples/case_incident.seam, creates a customer
/// Case of type Infrastructure, and waits until the runtime opened its incident and wrote
/// the incident's number back to the Case.
pub async fn linked_pair() -> LinkedPair {
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let mut config = SandboxConfig::ephemeral();
    config.catalog = seam_compiler::catalog_for_spec(&spec).unwrap();
    let sb = seam_sandbox::start(config).await.unwrap();
    let env = sb.example_env();
    let dir = tempfile::tempdir().unwrap();
    let state = format!("sqlite://{}", dir.path().join("seam.db").display());
    let plan = seam_compiler::compile(&spec).1.unwrap();
    let rt = seam_runtime::start(
        plan,
        RuntimeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            state: state.clone(),
            snow_echo_user: Some("seam.integration".into()),
            ..RuntimeConfig::default()
        },
        &|k| env.get(k).cloned(),
    )
    .await
    .unwrap();
    sb.set_webhook_url(
        SystemKind::Salesforce,
        Some(format!("{}/hooks/sf", rt.url())),
    );
    sb.set_webhook_url(
        SystemKind::ServiceNow,
        Some(format!("{}/hooks/snow", rt.url())),
    );
    let account = sb
        .sf_create(
            "Account",
            json!({"Name": "Acme", "Customer_Key__c": "ACME-1"}),
            None,
        )
        .unwrap();
    sb.snow_create(
        "core_company",
        json!({"name": "Acme", "u_customer_key": "ACME-1"}),
    )
    .unwrap();
    let case = sb
        .sf_create("Case", json!({"Subject": "Core switch down", "Type": "Infrastructure", "Priority": "High", "AccountId": account}), None)
        .unwrap();
    let incident = || {
        sb.snow_records("incident")
            .into_iter()
            .find(|i| i["correlation_id"] == case.as_str())
    };
    eventually(10, "the incident and its number on the case", || {
        incident().is_some_and(|i| {
            sb.sf_record("Case", &case)
                .is_some_and(|c| c["Incident_Number__c"] == i["number"])
        })
    })
    .await;
    let sys_id = incident().unwrap()["sys_id"].as_str().unwrap().to_string();
    LinkedPair {
        sb,
        rt,
        env,
        _dir: dir,
        state,
        case,
        sys_id,
    }
}
