//! The sandbox's share of one synced event, request type by request type, in process (no
//! client, no server sockets except the webhook's): N requests of one kind through the real
//! routers, against tables of realistic size, for `valgrind --tool=callgrind` (instruction
//! counts are stable on a shared machine, wall-clock rates are not):
//!
//! ```sh
//! cargo build --release -p seam-sandbox --example per_event
//! valgrind --tool=callgrind target/release/examples/per_event sf_patch 2000
//! ```
//!
//! Kinds, as the runtime's load benchmark makes them:
//! - `sf_patch`: `PATCH sobjects/Case/{id}` of `Subject` (the driver's write), whose CDC
//!   webhook is signed and POSTed to a minimal receiver (a raw socket answering 200);
//! - `sf_get`: `GET sobjects/Case/{id}?fields=…` (the relay's and the runtime's read);
//! - `sf_query`: `SELECT … Account.Name FROM Case WHERE Id = '…' LIMIT 1` (a read with walks);
//! - `snow_patch`: `PATCH incident/{sys_id}?sysparm_fields=sys_id` of `short_description` (the
//!   runtime's write: it reads only the `sys_id` of the answer), with a raw `watch`er (the
//!   load driver's);
//! - `snow_get`: `GET incident/{sys_id}?sysparm_fields=…&sysparm_display_value=all`.
//!
//! Per-request instructions: run with N and 2N and divide the difference by N, so the setup
//! (catalogue, 1,000 Cases and incidents) cancels out.

use axum::body::Body;
use axum::http::{header, Method, Request};
use axum::Router;
use base64::Engine as _;
use seam_sandbox::salesforce::{self, SfState};
use seam_sandbox::servicenow::{self, SnowState};
use seam_sandbox::{SandboxConfig, SystemKind};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// Records per table, as in `runtime/bench/run.sh 3000 1000 …`.
const RECORDS: usize = 1000;

type R<T> = Result<T, String>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> R<()> {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "sf_get".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let mut config = SandboxConfig::ephemeral();
    if kind == "sf_patch" {
        config.sf_webhook_url = Some(sink().await?);
    }
    let started = Instant::now();
    let bytes = match kind.as_str() {
        "sf_patch" | "sf_get" | "sf_query" => salesforce_run(&config, &kind, n).await?,
        "snow_patch" | "snow_get" => servicenow_run(&config, &kind, n).await?,
        other => return Err(format!("unknown kind `{other}`")),
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} x {kind} in {secs:.3}s: {:.0}/s in one thread, {} bytes answered each",
        n as f64 / secs,
        bytes / n.max(1)
    );
    Ok(())
}

async fn salesforce_run(config: &SandboxConfig, kind: &str, n: usize) -> R<usize> {
    let sf = Arc::new(SfState::new(config, "http://127.0.0.1:8701".into(), None).map_err(s)?);
    let account = sf
        .create_in_process("Account", json!({"Name": "ACME \"Ltd\" — Zürich"}), None)
        .map_err(|e| e.to_string())?;
    let mut cases = Vec::new();
    for i in 0..RECORDS {
        let id = sf
            .create_in_process(
                "Case",
                json!({"Subject": format!("case {i}"), "Description": "a longer description\nwith a line break",
                       "AccountId": account, "Priority": "High"}),
                None,
            )
            .map_err(|e| e.to_string())?;
        cases.push(id);
    }
    let token = sf.mint_token();
    let app = salesforce::router(sf.clone());
    let auth = format!("Bearer {token}");
    let before = sf.webhook.stats().delivered;
    let mut bytes = 0;
    for i in 0..n {
        let case = cases.get(i % RECORDS).ok_or("no case")?;
        let req = match kind {
            "sf_patch" => Request::builder()
                .method(Method::PATCH)
                .uri(format!("/services/data/v62.0/sobjects/Case/{case}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header("Sforce-Call-Options", "client=seam")
                .body(Body::from(
                    json!({"Subject": format!("change {i}")}).to_string(),
                )),
            "sf_get" => Request::get(format!(
                "/services/data/v62.0/sobjects/Case/{case}?fields=AccountId,Description,Id,Priority,Subject,Type"
            ))
            .body(Body::empty()),
            _ => Request::get(format!(
                "/services/data/v62.0/query?q=SELECT+Id,+Priority,+Subject,+Account.Name+FROM+Case+WHERE+Id+%3D+%27{case}%27+LIMIT+1"
            ))
            .body(Body::empty()),
        };
        let mut req = req.map_err(s)?;
        req.headers_mut()
            .insert(header::AUTHORIZATION, auth.parse().map_err(s)?);
        bytes += call(&app, req).await?;
    }
    if kind == "sf_patch" {
        // Every webhook answered before the count ends.
        let deadline = Instant::now() + Duration::from_secs(60);
        while sf.webhook.stats().delivered < before + n as u64 {
            if Instant::now() > deadline {
                return Err(format!("webhooks: {:?}", sf.webhook.stats()));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(bytes)
}

async fn servicenow_run(config: &SandboxConfig, kind: &str, n: usize) -> R<usize> {
    let sn = Arc::new(SnowState::new(config, "http://127.0.0.1:8702".into(), None).map_err(s)?);
    let user = sn
        .create_in_process(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .map_err(|e| e.to_string())?;
    let company = sn
        .create_in_process("core_company", json!({"name": "ACME \"Ltd\" — Zürich"}))
        .map_err(|e| e.to_string())?;
    let mut incidents = Vec::new();
    for i in 0..RECORDS {
        let id = sn
            .create_in_process(
                "incident",
                json!({"short_description": format!("case {i}"), "description": "a longer description\nwith a line break",
                       "caller_id": user, "company": company, "impact": "2", "urgency": "1",
                       "correlation_id": format!("5005g00000{i:05}AAA")}),
            )
            .map_err(|e| e.to_string())?;
        incidents.push(id);
    }
    let _watch = (kind == "snow_patch").then(|| sn.webhook.watch_raw());
    let _ = SystemKind::ServiceNow;
    let app = servicenow::router(sn.clone());
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:sandbox-password")
    );
    let mut bytes = 0;
    for i in 0..n {
        let id = incidents.get(i % RECORDS).ok_or("no incident")?;
        let req = match kind {
            "snow_patch" => Request::builder()
                .method(Method::PATCH)
                .uri(format!(
                    "/api/now/table/incident/{id}?sysparm_exclude_reference_link=true&sysparm_fields=sys_id"
                ))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"short_description": format!("change {i}")}).to_string(),
                )),
            _ => Request::get(format!(
                "/api/now/table/incident/{id}?sysparm_fields=number,state,assigned_to,close_notes,correlation_id,company.u_customer_key&sysparm_exclude_reference_link=true&sysparm_display_value=all"
            ))
            .body(Body::empty()),
        };
        let mut req = req.map_err(s)?;
        req.headers_mut()
            .insert(header::AUTHORIZATION, auth.parse().map_err(s)?);
        bytes += call(&app, req).await?;
    }
    Ok(bytes)
}

/// Sends one request through the router; the answer's size (a non-2xx fails the run).
async fn call(app: &Router, req: Request<Body>) -> R<usize> {
    let what = format!("{} {}", req.method(), req.uri());
    let res = app.clone().oneshot(req).await.map_err(s)?;
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .map_err(s)?;
    if !status.is_success() {
        return Err(format!(
            "{what} answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(body.len())
}

/// A webhook receiver that costs next to nothing: reads each request on a kept-alive
/// connection (headers, then `Content-Length` bytes) and answers `200` with no body.
async fn sink() -> R<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(s)?;
    let addr = listener.local_addr().map_err(s)?;
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(chunk.get(..k).unwrap_or(&[])),
                        }
                        continue;
                    };
                    let head =
                        String::from_utf8_lossy(buf.get(..end).unwrap_or(&[])).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(chunk.get(..k).unwrap_or(&[])),
                        }
                    }
                    buf.drain(..end + 4 + len);
                    if conn
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("http://{addr}/hooks/sf"))
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}
