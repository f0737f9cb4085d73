//! The sandbox's own endpoints, on every system's port, untouched by faults and auth:
//!
//! | method | path | does |
//! | --- | --- | --- |
//! | GET / PUT | `/__sandbox/faults` | read / replace this system's `FaultConfig` (JSON) |
//! | POST | `/__sandbox/reset` | empty this system's records, counters and event log |
//! | GET | `/__sandbox/events` | the change events emitted so far (JSON array) |
//! | GET / PUT | `/__sandbox/webhook` | `{"url", "stats"}` / `{"url": "http://…" or null}` |
//!
//! The platforms add their own: `/__sandbox/outbound` (Salesforce Outbound Messages) and
//! `POST /__sandbox/undelete/{object}/{id}` (Salesforce and ServiceNow: restore a deleted
//! record, with its change event).

use crate::faults::{self, FaultAnswers};
use crate::store::Store;
use crate::webhook::Webhook;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

/// What the admin endpoints need of a system.
pub trait SystemState: FaultAnswers {
    fn store(&self) -> &Store;
    fn webhook(&self) -> Option<&Webhook>;
    /// Empties the system; platforms add their own seed data back.
    fn reset(&self) {
        self.store().reset();
        if let Some(w) = self.webhook() {
            w.clear();
        }
    }
}

pub fn router<S: SystemState>() -> Router<Arc<S>> {
    Router::new()
        .route(
            "/__sandbox/faults",
            get(faults::get_faults::<S>).put(faults::put_faults::<S>),
        )
        .route("/__sandbox/reset", post(reset::<S>))
        .route("/__sandbox/events", get(events::<S>))
        .route("/__sandbox/webhook", get(get_hook::<S>).put(put_hook::<S>))
}

async fn reset<S: SystemState>(State(s): State<Arc<S>>) -> Response {
    s.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn events<S: SystemState>(State(s): State<Arc<S>>) -> Response {
    Json(s.webhook().map(|w| w.events()).unwrap_or_default()).into_response()
}

async fn get_hook<S: SystemState>(State(s): State<Arc<S>>) -> Response {
    match s.webhook() {
        Some(w) => Json(json!({"url": w.url(), "stats": w.stats()})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn put_hook<S: SystemState>(State(s): State<Arc<S>>, body: axum::body::Bytes) -> Response {
    let Some(w) = s.webhook() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let url = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("url").cloned());
    match url {
        Some(serde_json::Value::String(u)) => w.set_url(Some(u)),
        Some(serde_json::Value::Null) => w.set_url(None),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "expected {\"url\": \"http://...\" | null}"})),
            )
                .into_response()
        }
    }
    Json(json!({"url": w.url(), "stats": w.stats()})).into_response()
}
