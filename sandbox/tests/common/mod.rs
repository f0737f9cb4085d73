#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use seam_sandbox::{schema, Catalog, RunningSandbox, SandboxConfig};
use serde_json::Value;

/// Custom fields the tests rely on, on top of the built-in catalogue.
pub const SCHEMA: &str = r#"{
  "salesforce": {
    "Case": {"fields": [
      {"name": "External_Id__c", "type": "text", "max_len": 40, "unique": true},
      {"name": "Severity__c", "type": "picklist", "values": ["Sev1", "Sev2", "Sev3"]}
    ]},
    "Widget__c": {"label": "Widget", "key_prefix": "a01", "fields": [
      {"name": "Name", "type": "text", "max_len": 80, "required": true},
      {"name": "Count__c", "type": "number"},
      {"name": "Active__c", "type": "bool"},
      {"name": "Due__c", "type": "datetime"},
      {"name": "Account__c", "type": "ref", "targets": ["Account"]}
    ]}
  },
  "servicenow": {
    "incident": {"fields": [{"name": "u_sf_case_id", "type": "text", "max_len": 18}]}
  }
}"#;

pub fn catalog() -> Catalog {
    let mut c = Catalog::builtin();
    schema::apply_json(&mut c, SCHEMA).unwrap();
    c
}

pub fn config() -> SandboxConfig {
    SandboxConfig {
        catalog: catalog(),
        sf_webhook_secret: "sf-secret".into(),
        snow_webhook_secret: "snow-secret".into(),
        seed: 42,
        ..SandboxConfig::ephemeral()
    }
}

pub async fn start() -> RunningSandbox {
    seam_sandbox::start(config()).await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

/// Waits until `f` holds (webhooks are asynchronous), at most 3 s.
pub async fn eventually(mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 3 s");
}
