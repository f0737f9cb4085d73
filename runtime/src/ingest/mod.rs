//! The webhook front door (axum): `POST /hooks/{system alias}`, `/healthz`, `/readyz`,
//! `/metrics`.
//!
//! Guarantees: an event is committed to the store (group commit) **before** the 2xx answer;
//! a repeat is answered 2xx and dropped; nothing that fails a check reaches the store —
//! malformed body 400 with the reason, bad signature 401, oversized 413, unknown system 404,
//! each counted in `seam_events_rejected_total{reason}`. Salesforce Outbound Message SOAP is
//! not accepted yet.

pub mod decode;
pub mod signature;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::store::group::GroupCommit;
use crate::store::{now_ms, Inserted, Store};
use decode::EchoIdentity;

/// The largest webhook body accepted (a CDC batch of a few hundred events fits).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The platform a hook speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    Salesforce,
    ServiceNow,
}

/// One system that may post to `/hooks/{alias}`.
#[derive(Clone)]
pub struct HookSystem {
    pub kind: HookKind,
    /// The signing secret (never logged).
    pub secret: String,
}

impl std::fmt::Debug for HookSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSystem")
            .field("kind", &self.kind)
            .field("secret", &"<redacted>")
            .finish()
    }
}

pub struct IngestState {
    pub systems: HashMap<String, HookSystem>,
    pub echo: EchoIdentity,
    pub commit: GroupCommit,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    /// Woken after every commit so the engine claims at once.
    pub wake: Arc<Notify>,
    /// False until the engine runs, and again while shutting down.
    pub ready: Arc<AtomicBool>,
}

pub fn router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route("/hooks/{system}", post(hook))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

async fn hook(
    State(st): State<Arc<IngestState>>,
    Path(alias): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Some(system) = st.systems.get(&alias) else {
        st.metrics.reject(&alias_label(&alias), "unknown_system");
        return problem(
            StatusCode::NOT_FOUND,
            "no system with this alias in the plan",
        );
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "malformed"
            };
            st.metrics.reject(&alias, reason);
            return problem(status, &rejection.body_text());
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = now_ms();
    if let Err(why) = signature::check(
        &system.secret,
        header(signature::TIMESTAMP_HEADER),
        header(signature::SIGNATURE_HEADER),
        &body,
        now / 1000,
    ) {
        st.metrics.reject(&alias, "signature");
        tracing::warn!(system = %alias, reason = why, "webhook rejected: bad signature");
        return problem(StatusCode::UNAUTHORIZED, why);
    }
    let decoded = match system.kind {
        HookKind::Salesforce => decode::salesforce(&alias, &body, &st.echo, now),
        HookKind::ServiceNow => decode::servicenow(&alias, &body, &st.echo, now),
    };
    let events = match decoded {
        Ok(e) => e,
        Err(why) => {
            st.metrics.reject(&alias, "malformed");
            tracing::warn!(system = %alias, reason = %why, "webhook rejected: malformed body");
            return problem(StatusCode::BAD_REQUEST, &why);
        }
    };
    match st.commit.insert(events).await {
        Ok(outcomes) => {
            let new = outcomes
                .iter()
                .filter(|o| matches!(o, Inserted::New(_)))
                .count();
            let dup = outcomes.len() - new;
            let label = Metrics::system(&alias);
            st.metrics
                .events_in
                .get_or_create(&label)
                .inc_by(new as u64);
            st.metrics
                .duplicates
                .get_or_create(&label)
                .inc_by(dup as u64);
            if new > 0 {
                st.wake.notify_one();
            }
            (
                StatusCode::OK,
                Json(json!({"accepted": new, "duplicates": dup})),
            )
                .into_response()
        }
        Err(e) => {
            st.metrics.reject(&alias, "store");
            tracing::error!(system = %alias, error = %e, "cannot store webhook events");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event could not be stored; retry",
            )
        }
    }
}

/// An unknown alias is attacker-chosen text: keep the label set bounded.
fn alias_label(alias: &str) -> String {
    let _ = alias;
    "unknown".into()
}

async fn readyz(State(st): State<Arc<IngestState>>) -> Response {
    if !st.ready.load(Ordering::Relaxed) {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "not ready");
    }
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.backlog(now_ms())).await {
        Ok(Ok(_)) => "ready\n".into_response(),
        _ => problem(StatusCode::SERVICE_UNAVAILABLE, "the store does not answer"),
    }
}

async fn metrics(State(st): State<Arc<IngestState>>) -> Response {
    let store = st.store.clone();
    let backlog = tokio::task::spawn_blocking(move || store.backlog(now_ms()))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        st.metrics.render(backlog),
    )
        .into_response()
}
