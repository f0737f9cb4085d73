//! The ServiceNow single-record GET path, in process (no sockets, no client): N requests of
//! `GET /api/now/table/incident/{sys_id}` with basic auth through the real router, for
//! profiling with `valgrind --tool=callgrind` (instruction counts are stable on a shared
//! machine, wall-clock rates are not):
//!
//! ```sh
//! cargo build --release -p seam-sandbox --example snow_read
//! valgrind --tool=callgrind target/release/examples/snow_read 2000 [display]
//! ```
//!
//! `display` is the `sysparm_display_value` (`false` by default, as the wrk benchmark reads).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use seam_sandbox::servicenow::{router, SnowState};
use seam_sandbox::SandboxConfig;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let display = args.next().unwrap_or_else(|| "false".into());
    let config = SandboxConfig::ephemeral();
    let sn = Arc::new(
        SnowState::new(&config, "http://127.0.0.1:8702".into(), None).map_err(|e| e.to_string())?,
    );
    let user = sn
        .create_in_process(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .map_err(|e| e.to_string())?;
    let company = sn
        .create_in_process("core_company", json!({"name": "ACME Ltd"}))
        .map_err(|e| e.to_string())?;
    let sys_id = sn
        .create_in_process(
            "incident",
            json!({"short_description": "bench", "description": "a longer description of the fault",
                   "caller_id": user, "assigned_to": user, "company": company,
                   "impact": "2", "urgency": "1", "state": "2"}),
        )
        .map_err(|e| e.to_string())?;
    let app = router(sn);
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:sandbox-password")
    );
    let uri = format!("/api/now/table/incident/{sys_id}?sysparm_display_value={display}");
    let started = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        let req = Request::get(&uri)
            .header(header::AUTHORIZATION, &auth)
            .body(Body::empty())
            .map_err(|e| e.to_string())?;
        let res = app.clone().oneshot(req).await.map_err(|e| e.to_string())?;
        if res.status() != StatusCode::OK {
            return Err(format!("GET answered {}", res.status()));
        }
        bytes += axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .map_err(|e| e.to_string())?
            .len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} GETs in {secs:.3}s: {:.0}/s in one thread, {} bytes each",
        n as f64 / secs,
        bytes / n.max(1)
    );
    Ok(())
}
