//! `seam reconcile` as a real process: a pair made by the runtime, one replica edited straight
//! in ServiceNow (no event), reported (exit 1, table and JSON), repaired with `--apply`
//! (exit 0), then in sync.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use seam_runtime::RuntimeConfig;
use seam_sandbox::{SandboxConfig, SystemKind};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/case_incident.seam");

async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replaces an id with a placeholder of the same length, so the table keeps its alignment.
fn redact(text: &str, id: &str, name: &str) -> String {
    let fill = id.len().saturating_sub(name.len() + 2);
    text.replace(id, &format!("<{name}{}>", "-".repeat(fill)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_drift_then_repairs_it() {
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let mut config = SandboxConfig::ephemeral();
    config.catalog = seam_compiler::catalog_for_spec(&spec).unwrap();
    let sb = seam_sandbox::start(config).await.unwrap();
    let env = sb.example_env();
    let dir = tempfile::tempdir().unwrap();
    let state = format!("sqlite://{}", dir.path().join("seam.db").display());

    // The runtime makes the pair.
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
    tokio::time::sleep(Duration::from_millis(300)).await;
    rt.shutdown().await;
    sb.set_webhook_url(SystemKind::Salesforce, None);
    sb.set_webhook_url(SystemKind::ServiceNow, None);
    let sys_id = incident().unwrap()["sys_id"].as_str().unwrap().to_string();

    let reconcile = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(["reconcile", SPEC, "--state", &state])
            .args(extra)
            .envs(&env)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, out, err) = reconcile(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("1 pair checked") && out.contains("in sync"),
        "{out}"
    );

    // An engineer rewrites the replica of the case's subject; no event reaches seam.
    let c = &sb.config.credentials;
    let r = reqwest::Client::new()
        .patch(format!(
            "{}/api/now/table/incident/{sys_id}",
            sb.servicenow_url()
        ))
        .basic_auth(&c.snow_username, Some(&c.snow_password))
        .json(&json!({"short_description": "Switch fine, closing"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let (code, out, err) = reconcile(&[]);
    assert_eq!(code, Some(1), "{out}{err}");
    let shown = redact(&redact(&out, &sys_id, "incident"), &case, "case");
    insta::assert_snapshot!("reconcile_drift_human", shown);

    let (code, json_out, _) = reconcile(&["--format", "json", "--link", "case_incident"]);
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(report["pairs"], 1);
    assert_eq!(report["drift"][0]["record"], sys_id.as_str());
    assert_eq!(report["drift"][0]["field"], "short_description");
    assert_eq!(report["drift"][0]["expected"], "Core switch down");
    assert_eq!(report["drift"][0]["actual"], "Switch fine, closing");
    assert_eq!(report["drift"][0]["repaired"], false);

    let (code, out, err) = reconcile(&["--apply"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("repaired"), "{out}");
    assert_eq!(
        sb.snow_record("incident", &sys_id).unwrap()["short_description"],
        "Core switch down"
    );
    let (code, out, _) = reconcile(&[]);
    assert_eq!(code, Some(0), "{out}");

    // `seam why` names the repair.
    let why = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["why", &sys_id, "short_description", "--state", &state])
        .output()
        .unwrap();
    let why = String::from_utf8_lossy(&why.stdout);
    assert!(why.contains("event reconcile from sf"), "{why}");

    // Bad usage: an unknown link.
    let (code, _, err) = reconcile(&["--link", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no link `nope`"), "{err}");
    sb.shutdown().await;
}
