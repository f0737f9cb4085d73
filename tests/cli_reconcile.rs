//! `seam reconcile` as a real process: a pair made by the runtime, one replica edited straight
//! in ServiceNow (no event), reported (exit 1, table and JSON), repaired with `--apply`
//! (exit 0), then in sync.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{linked_pair, redact, LinkedPair, SPEC};
use seam_sandbox::SystemKind;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_drift_then_repairs_it() {
    // The runtime makes the pair.
    let LinkedPair {
        sb,
        rt,
        env,
        _dir,
        state,
        case,
        sys_id,
    } = linked_pair().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    rt.shutdown().await;
    sb.set_webhook_url(SystemKind::Salesforce, None);
    sb.set_webhook_url(SystemKind::ServiceNow, None);

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
