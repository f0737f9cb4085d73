//! `seam run` as a real process beside the sandbox: an acknowledged event survives `kill -9`
//! and is applied after restart; `seam why` and `seam dlq` read the same store; Ctrl-C (SIGINT)
//! stops it cleanly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use seam_sandbox::{FaultConfig, SandboxConfig, SystemKind};
use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/case_incident.seam");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(sb: &seam_sandbox::RunningSandbox, state: &str, port: u16) -> Child {
    let c = &sb.config.credentials;
    let child = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args([
            "run",
            SPEC,
            "--state",
            state,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--snow-echo-user", "seam.integration"])
        .env("SF_URL", sb.salesforce_url())
        .env("SF_CLIENT_ID", &c.sf_client_id)
        .env("SF_CLIENT_SECRET", &c.sf_client_secret)
        .env("SF_WEBHOOK_SECRET", &sb.config.sf_webhook_secret)
        .env("SNOW_URL", sb.servicenow_url())
        .env("SNOW_USER", &c.snow_username)
        .env("SNOW_PASSWORD", &c.snow_password)
        .env("SNOW_WEBHOOK_SECRET", &sb.config.snow_webhook_secret)
        .env("SLACK_BOT_TOKEN", &c.slack_token)
        .env("SEAM_SLACK_URL", sb.slack_url())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "seam run did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn seam(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn incidents_for(sb: &seam_sandbox::RunningSandbox, case: &str) -> Vec<Value> {
    sb.snow_records("incident")
        .into_iter()
        .filter(|i| i["correlation_id"] == case)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_event_survives_kill_9_and_is_applied_after_restart() {
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let mut config = SandboxConfig::ephemeral();
    config.catalog = seam_compiler::catalog_for_spec(&spec).unwrap();
    let sb = seam_sandbox::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = format!("sqlite://{}", dir.path().join("seam.db").display());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    sb.set_webhook_url(SystemKind::Salesforce, Some(format!("{url}/hooks/sf")));
    sb.set_webhook_url(SystemKind::ServiceNow, Some(format!("{url}/hooks/snow")));

    // ServiceNow is down: the event is acknowledged (stored) but cannot be applied.
    sb.set_faults(
        SystemKind::ServiceNow,
        FaultConfig {
            error_rate: 1.0,
            ..Default::default()
        },
    );
    let mut first = spawn(&sb, &state, port);
    let case = sb
        .sf_create(
            "Case",
            json!({"Subject": "survive", "Type": "Infrastructure"}),
            None,
        )
        .unwrap();
    eventually(10, "the webhook acknowledged", || {
        sb.webhook_stats(SystemKind::Salesforce).delivered >= 1
    })
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    assert!(incidents_for(&sb, &case).is_empty());
    assert!(Path::new(&dir.path().join("seam.db")).exists());

    sb.set_faults(SystemKind::ServiceNow, FaultConfig::default());
    let second = spawn(&sb, &state, port);
    eventually(20, "the incident after restart", || {
        incidents_for(&sb, &case).len() == 1
    })
    .await;
    let number = incidents_for(&sb, &case)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(10, "the number on the case", || {
        sb.sf_record("Case", &case)
            .and_then(|c| c["Incident_Number__c"].as_str().map(String::from))
            == Some(number.clone())
    })
    .await;

    // The audit row commits just after the platform's answer that made the Case show the
    // number: under load the CLI can look in between, so wait for it (bounded).
    let mut why = String::new();
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        why = seam(&["why", &case, "Incident_Number__c", "--state", &state]);
        if why.contains(&number) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(why.contains(&number), "{why}");
    assert!(
        why.contains("snow.incident.number -> sf.Case.Incident_Number__c"),
        "{why}"
    );
    let dlq = seam(&["dlq", "list", "--state", &state]);
    assert!(dlq.contains("no dead letters"), "{dlq}");

    // Ctrl-C: a clean stop.
    let status = Command::new("kill")
        .args(["-INT", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut second = second;
    let end = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "seam run did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "{code:?}");
    sb.shutdown().await;
}
