//! A first load measurement (not the full benchmark of issue 5 yet: no bare-relay baseline,
//! no RSS): the sandbox and the runtime in one process, N signed Salesforce change events
//! posted straight at `/hooks/sf` by C concurrent senders, each after a real change of its
//! Case's Subject, so every event means one GET and one PATCH of the incident.
//!
//! `cargo run --release -p seam-runtime --example load -- [EVENTS] [CASES] [CONCURRENCY]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use seam_runtime::engine::worker::WorkerConfig;
use seam_runtime::store::now_ms;
use seam_runtime::RuntimeConfig;
use seam_sandbox::{SandboxConfig, SystemKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events = arg(1, 4000);
    let cases_n = arg(2, 400);
    let concurrency = arg(3, 64);
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/case_incident.seam"
    ))
    .unwrap();
    let plan = seam_compiler::compile(&spec).1.unwrap();
    let mut sc = SandboxConfig::ephemeral();
    sc.catalog = seam_compiler::catalog_for_spec(&spec).unwrap();
    sc.sf_api_limit = u64::MAX / 2;
    let sb = seam_sandbox::start(sc).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = sb.example_env();
    let config = RuntimeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state: format!("sqlite://{}", dir.path().join("seam.db").display()),
        workers: WorkerConfig {
            concurrency: 64,
            poll: Duration::from_millis(50),
        },
        ..RuntimeConfig::default()
    };
    let rt = seam_runtime::start(plan, config, &|k| env.get(k).cloned())
        .await
        .unwrap();
    let hook = format!("{}/hooks/sf", rt.url());
    sb.set_webhook_url(SystemKind::Salesforce, Some(hook.clone()));
    sb.set_webhook_url(SystemKind::ServiceNow, None);

    // Phase 1: open the incidents (through the sandbox's own webhooks).
    let t0 = Instant::now();
    let cases: Vec<String> = (0..cases_n)
        .map(|n| sb.sf_create("Case", json!({"Subject": format!("case {n}"), "Type": "Infrastructure", "Priority": "Medium"}), None).unwrap())
        .collect();
    while sb.snow_records("incident").len() < cases_n
        || rt.store.backlog(now_ms()).unwrap().depth > 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_secs = t0.elapsed().as_secs_f64();
    println!(
        "opened {cases_n} incidents in {open_secs:.2}s ({:.0}/s, sequential webhooks)",
        cases_n as f64 / open_secs
    );
    sb.set_webhook_url(SystemKind::Salesforce, None);

    // Phase 2: N changes, each a real PATCH of the Case then its signed CDC event.
    let http = reqwest::Client::new();
    let token = sb.salesforce_token();
    let sf_url = sb.salesforce_url();
    let secret = sb.config.sf_webhook_secret.clone();
    let next = Arc::new(AtomicU64::new(0));
    let cases = Arc::new(cases);
    let t1 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, token, sf_url, secret, hook, next, cases) = (
            http.clone(),
            token.clone(),
            sf_url.clone(),
            secret.clone(),
            hook.clone(),
            next.clone(),
            cases.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= events {
                    break;
                }
                let case = &cases[i % cases.len()];
                let r = http.patch(format!("{sf_url}/services/data/v62.0/sobjects/Case/{case}")).bearer_auth(&token).json(&json!({"Subject": format!("change {i}")})).send().await.unwrap();
                assert!(r.status().is_success());
                let body = json!({"payload": {"ChangeEventHeader": {"entityName": "Case", "recordIds": [case], "changeType": "UPDATE", "changeOrigin": "com/salesforce/api/rest/62.0"}, "Subject": format!("change {i}")}, "event": {"replayId": 1_000_000 + i}}).to_string();
                let ts = (now_ms() / 1000).to_string();
                let sig = seam_sandbox::sign(&secret, &ts, body.as_bytes());
                let start = Instant::now();
                let r = http.post(&hook).header("X-Seam-Timestamp", ts).header("X-Seam-Signature", sig).header("content-type", "application/json").body(body).send().await.unwrap();
                assert_eq!(r.status(), 200);
                acks.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            acks
        }));
    }
    let mut acks: Vec<f64> = Vec::new();
    for t in tasks {
        acks.extend(t.await.unwrap());
    }
    let sent_secs = t1.elapsed().as_secs_f64();
    while rt.store.backlog(now_ms()).unwrap().depth > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained_secs = t1.elapsed().as_secs_f64();
    acks.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{events} events from {concurrency} senders: sent+acknowledged in {sent_secs:.2}s ({:.0}/s); inbox drained at {drained_secs:.2}s ({:.0} events/s end to end)", events as f64 / sent_secs, events as f64 / drained_secs);
    let incidents: HashMap<String, Value> = sb
        .snow_records("incident")
        .into_iter()
        .map(|i| (i["correlation_id"].as_str().unwrap_or("").to_string(), i))
        .collect();
    let synced = cases
        .iter()
        .filter(|c| {
            let case = sb.sf_record("Case", c).unwrap();
            incidents
                .get(c.as_str())
                .map(|i| i["short_description"].clone())
                == Some(case["Subject"].clone())
        })
        .count();
    println!(
        "webhook ack latency (durable commit) p50 {:.1} ms, p99 {:.1} ms",
        pct(&acks, 0.5),
        pct(&acks, 0.99)
    );
    println!(
        "{synced}/{} incidents match their case's subject",
        cases.len()
    );
    println!(
        "{}",
        rt.metrics
            .render(rt.store.backlog(now_ms()).unwrap())
            .lines()
            .filter(|l| l.starts_with("seam_events_out_total")
                || l.starts_with("seam_write_latency_seconds_count")
                || l.starts_with("seam_write_latency_seconds_sum"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    rt.shutdown().await;
    sb.shutdown().await;
}
