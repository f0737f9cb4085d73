//! The connectors against the sandbox: token refresh, error classification (429 with
//! Retry-After, Salesforce's daily limit, validation errors), link-key lookups.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use seam_runtime::connectors::salesforce::SalesforceClient;
use seam_runtime::connectors::servicenow::ServiceNowClient;
use seam_runtime::connectors::{http_client, ErrorClass};
use seam_sandbox::{FaultConfig, SandboxConfig, SystemKind};
use serde_json::json;
use std::time::Duration;

async fn sandbox(api_limit: u64) -> seam_sandbox::RunningSandbox {
    let mut config = SandboxConfig::ephemeral();
    config.catalog = seam_compiler::catalog_for_spec(&common::spec()).unwrap();
    config.sf_api_limit = api_limit;
    seam_sandbox::start(config).await.unwrap()
}

fn sf(sb: &seam_sandbox::RunningSandbox) -> SalesforceClient {
    let c = &sb.config.credentials;
    SalesforceClient::new(
        "sf",
        http_client().unwrap(),
        &sb.salesforce_url(),
        c.sf_client_id.clone(),
        c.sf_client_secret.clone(),
        "seam".into(),
    )
}

fn snow(sb: &seam_sandbox::RunningSandbox) -> ServiceNowClient {
    let c = &sb.config.credentials;
    ServiceNowClient::new(
        "snow",
        http_client().unwrap(),
        &sb.servicenow_url(),
        c.snow_username.clone(),
        c.snow_password.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_reads_writes_queries_and_tags_writes_with_the_client_id() {
    let sb = sandbox(100_000).await;
    let sf = sf(&sb);
    let id = sf
        .create(
            "Case",
            json!({"Subject": "a", "Type": "Billing"})
                .as_object()
                .unwrap(),
        )
        .await
        .unwrap();
    sf.update("Case", &id, json!({"Subject": "b"}).as_object().unwrap())
        .await
        .unwrap();
    let rec = sf
        .get("Case", &id, &["Id", "Subject"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec["Subject"], "b");
    assert!(sf
        .get("Case", "500000000000000AAA", &["Id"])
        .await
        .unwrap()
        .is_none());
    let rows = sf
        .query(&format!(
            "SELECT Id FROM Case WHERE Subject = {}",
            seam_runtime::connectors::salesforce::soql_literal("b")
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let events = sb.events(SystemKind::Salesforce);
    let origin = events
        .last()
        .unwrap()
        .pointer("/payload/ChangeEventHeader/changeOrigin")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(origin.ends_with("client=seam"), "{origin}");
    // A validation error is permanent and names the platform's code.
    let e = sf
        .update(
            "Case",
            &id,
            json!({"Priority": "Urgent!"}).as_object().unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent, "{e}");
    assert!(e.code.is_some(), "{e}");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_daily_limit_is_its_own_class() {
    let sb = sandbox(3).await;
    let sf = sf(&sb);
    let mut last = None;
    for _ in 0..6 {
        if let Err(e) = sf.get("Case", "500000000000000AAA", &["Id"]).await {
            last = Some(e);
            break;
        }
    }
    let e = last.expect("the limit is reached");
    assert_eq!(e.class, ErrorClass::LimitExceeded, "{e}");
    assert_eq!(e.code.as_deref(), Some("REQUEST_LIMIT_EXCEEDED"));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_lookups_and_rate_limits() {
    let sb = sandbox(100_000).await;
    let sn = snow(&sb);
    let inc = sn
        .create(
            "incident",
            json!({"short_description": "x", "correlation_id": "500A"})
                .as_object()
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(inc["number"].as_str().unwrap().starts_with("INC"));
    let found = sn
        .query("incident", "correlation_id=500A", &["sys_id"], 2)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    sb.set_faults(
        SystemKind::ServiceNow,
        FaultConfig {
            rate_limit_rate: 1.0,
            retry_after_secs: 7,
            ..Default::default()
        },
    );
    let e = sn
        .query("incident", "correlation_id=500A", &["sys_id"], 2)
        .await
        .unwrap_err();
    assert_eq!(e.status, Some(429));
    assert_eq!(
        e.class,
        ErrorClass::Retryable {
            after: Some(Duration::from_secs(7))
        },
        "{e}"
    );
    sb.set_faults(SystemKind::ServiceNow, FaultConfig::default());
    let e = sn
        .create("no_such_table", json!({}).as_object().unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent, "{e}");
    assert!(
        !format!("{e}").contains(&sb.config.credentials.snow_password),
        "no secret in errors"
    );
    sb.shutdown().await;
}
