//! The bare relay, the baseline the runtime is measured against: receive the signed Salesforce
//! change webhook, check its signature, one GET of the Case, one PATCH of its incident, answer
//! 200. No store, no retries, no audit, no ordering beyond what the sender gives: what any
//! integration must do at least, so the runtime's overhead is the difference.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The fields the runtime reads from a Case for this spec, so both do the same GET.
pub const CASE_FIELDS: &str = "AccountId,Description,Id,Priority,Subject,Type";

pub struct Relay {
    pub http: reqwest::Client,
    pub secret: String,
    pub sf_url: String,
    pub sf_token: String,
    pub snow_url: String,
    pub snow_user: String,
    pub snow_password: String,
    /// Case id -> incident sys_id, known in advance (the relay keeps no store).
    pub twins: HashMap<String, String>,
}

/// The relay's server, on a thread of its own; dropping it stops the server.
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves the relay on 127.0.0.1 (a free port), on its own thread and single-threaded Tokio
/// runtime, as a separate service would be: the sandbox's thread does not run its tasks, nor
/// it the sandbox's. Returns its webhook URL.
pub fn start(relay: Relay) -> Result<(String, Running), String> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| format!("relay: cannot listen: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("relay: cannot listen: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("relay: no local address: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("relay: no Tokio runtime: {e}"))?;
    let app = Router::new()
        .route("/hooks/sf", post(hook))
        .with_state(Arc::new(relay));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("relay".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return eprintln!("relay: cannot listen: {e}"),
                };
                let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                    let _ = stopped.await;
                });
                if let Err(e) = serve.await {
                    eprintln!("relay: server stopped: {e}");
                }
            })
        })
        .map_err(|e| format!("relay: cannot start its thread: {e}"))?;
    Ok((
        format!("http://{addr}/hooks/sf"),
        Running {
            stop: Some(stop),
            thread: Some(thread),
        },
    ))
}

async fn hook(State(r): State<Arc<Relay>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !seam_sandbox::verify(
        &r.secret,
        header(seam_sandbox::TIMESTAMP_HEADER),
        &body,
        header(seam_sandbox::SIGNATURE_HEADER),
    ) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let head = event.pointer("/payload/ChangeEventHeader");
    let change = head
        .and_then(|h| h.get("changeType"))
        .and_then(Value::as_str);
    let case = head
        .and_then(|h| h.pointer("/recordIds/0"))
        .and_then(Value::as_str);
    let (Some("UPDATE"), Some(case)) = (change, case) else {
        return StatusCode::OK;
    };
    let Some(incident) = r.twins.get(case) else {
        return StatusCode::OK;
    };
    match relay_one(&r, case, incident).await {
        Ok(()) => StatusCode::OK,
        Err(why) => {
            eprintln!("relay: {why}");
            StatusCode::BAD_GATEWAY
        }
    }
}

async fn relay_one(r: &Relay, case: &str, incident: &str) -> Result<(), String> {
    let got = r
        .http
        .get(format!(
            "{}/services/data/v62.0/sobjects/Case/{case}",
            r.sf_url
        ))
        .bearer_auth(&r.sf_token)
        .query(&[("fields", CASE_FIELDS)])
        .send()
        .await
        .map_err(|e| format!("GET Case `{case}`: {e}"))?;
    if !got.status().is_success() {
        return Err(format!("GET Case `{case}`: HTTP {}", got.status()));
    }
    let record: Value = got
        .json()
        .await
        .map_err(|e| format!("GET Case `{case}`: {e}"))?;
    let subject = record.get("Subject").cloned().unwrap_or(Value::Null);
    let put = r
        .http
        .patch(format!("{}/api/now/table/incident/{incident}", r.snow_url))
        .basic_auth(&r.snow_user, Some(&r.snow_password))
        .json(&json!({ "short_description": subject }))
        .send()
        .await
        .map_err(|e| format!("PATCH incident `{incident}`: {e}"))?;
    if !put.status().is_success() {
        return Err(format!(
            "PATCH incident `{incident}`: HTTP {}",
            put.status()
        ));
    }
    Ok(())
}
