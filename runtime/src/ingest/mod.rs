//! The webhook front door (axum): `POST /hooks/{system alias}`, `/healthz`, `/readyz`,
//! `/metrics`.
//!
//! Guarantees: an event is committed to the store (group commit) **before** the 2xx answer;
//! a repeat is answered 2xx and dropped; nothing that fails a check reaches the store —
//! malformed body 400 with the reason, bad signature 401, oversized 413, unknown system 404,
//! each counted in `seam_events_rejected_total{reason}`.
//!
//! A Salesforce system also takes Outbound Messages (SOAP, see [`soap`]) on the same path: an
//! XML body is answered in SOAP — `notificationsResponse` with `Ack` true after the commit, a
//! SOAP fault otherwise (400 malformed, 403 from another org or with no org configured, 503
//! store unavailable).

pub mod decode;
pub mod signature;
pub mod soap;

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
use crate::store::{now_ms, Inserted, NewEvent, Store};
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
    /// The Salesforce org whose Outbound Messages are accepted (`00D…`); none refuses them.
    pub organization_id: Option<String>,
}

impl std::fmt::Debug for HookSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSystem")
            .field("kind", &self.kind)
            .field("secret", &"<redacted>")
            .field("organization_id", &self.organization_id)
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
    if soap::is_soap(header("content-type"), &body) {
        return outbound_message(&st, &alias, system, &body, now).await;
    }
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
    match commit(&st, &alias, events).await {
        Some((new, dup)) => (
            StatusCode::OK,
            Json(json!({"accepted": new, "duplicates": dup})),
        )
            .into_response(),
        None => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event could not be stored; retry",
        ),
    }
}

/// Commits decoded events (group commit) and counts them; `(new, duplicates)`, or `None` when
/// the store failed (counted and logged).
async fn commit(st: &IngestState, alias: &str, events: Vec<NewEvent>) -> Option<(usize, usize)> {
    match st.commit.insert(events).await {
        Ok(outcomes) => {
            let new = outcomes
                .iter()
                .filter(|o| matches!(o, Inserted::New(_)))
                .count();
            let dup = outcomes.len() - new;
            let label = Metrics::system(alias);
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
            Some((new, dup))
        }
        Err(e) => {
            st.metrics.reject(alias, "store");
            tracing::error!(system = %alias, error = %e, "cannot store webhook events");
            None
        }
    }
}

fn soap_answer(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

/// A Salesforce Outbound Message: decoded, its org checked, committed, and only then acked.
async fn outbound_message(
    st: &IngestState,
    alias: &str,
    system: &HookSystem,
    body: &[u8],
    now: i64,
) -> Response {
    let client_fault = |status: StatusCode, reason: &str, why: &str| {
        st.metrics.reject(alias, reason);
        tracing::warn!(system = %alias, reason = why, "outbound message rejected");
        soap_answer(status, soap::fault(soap::FaultCode::Client, why))
    };
    if system.kind != HookKind::Salesforce {
        let why = format!("system `{alias}` is not Salesforce: only Salesforce sends Outbound Messages (SOAP); send this system's JSON webhook");
        return client_fault(StatusCode::BAD_REQUEST, "malformed", &why);
    }
    let message = match soap::decode(alias, body, now) {
        Ok(m) => m,
        Err(why) => return client_fault(StatusCode::BAD_REQUEST, "malformed", &why),
    };
    let Some(expected) = &system.organization_id else {
        let why = format!("Outbound Messages for system `{alias}` are refused: no org id is configured; start `seam run` with --sf-organization-id {alias}=00D…");
        return client_fault(StatusCode::FORBIDDEN, "organization", &why);
    };
    if !soap::same_org(expected, &message.organization_id) {
        let why = format!(
            "OrganizationId `{}` is not the org configured for system `{alias}`; check --sf-organization-id",
            message.organization_id
        );
        return client_fault(StatusCode::FORBIDDEN, "organization", &why);
    }
    match commit(st, alias, message.events).await {
        Some(_) => soap_answer(StatusCode::OK, soap::ack()),
        None => soap_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            soap::fault(
                soap::FaultCode::Server,
                "the notifications could not be stored; Salesforce will resend them",
            ),
        ),
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
