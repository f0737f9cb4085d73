//! Fault injection: per system, an error rate (5xx), a rate-limit rate (answered the way the
//! platform answers it), added latency with jitter, dropped connections, and webhook faults
//! (drop, duplicate, delay, reorder). Every decision comes from one seeded `StdRng` per system,
//! so a sequential run with the same `--seed` misbehaves the same way every time.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Faults of the HTTP API of one system. Rates are probabilities in `0.0..=1.0`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Share of requests answered with a server error (500 on Salesforce and ServiceNow,
    /// 500 `internal_error` on Slack).
    pub error_rate: f64,
    /// Share of requests refused as over the limit: Salesforce 403 `REQUEST_LIMIT_EXCEEDED`,
    /// ServiceNow and Slack 429 with `Retry-After`.
    pub rate_limit_rate: f64,
    /// `Retry-After` seconds sent with a 429 (default 1 when 0).
    pub retry_after_secs: u64,
    /// Added latency in milliseconds, plus up to `jitter_ms` more, uniformly.
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// Share of requests whose connection is dropped without a complete answer.
    pub drop_rate: f64,
    /// Faults of the change webhooks this system sends.
    pub webhook: WebhookFaults,
}

/// Faults of outgoing change webhooks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFaults {
    /// Share of events never sent.
    pub drop_rate: f64,
    /// Share of events sent twice.
    pub duplicate_rate: f64,
    /// Every event is held this long (plus up to `delay_jitter_ms`) before it is sent; delayed
    /// events are sent concurrently, so a jittered delay also reorders.
    pub delay_ms: u64,
    pub delay_jitter_ms: u64,
    /// Share of events held back and sent after the next one.
    pub reorder_rate: f64,
    /// Share of successful deliveries whose answer is treated as lost on the way back: the
    /// receiver has the event, the sender retries it (a redelivery the receiver must drop).
    pub lost_ack_rate: f64,
}

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Error,
    RateLimit,
    Drop,
}

/// What to do with one webhook event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookDecision {
    pub drop: bool,
    pub duplicate: bool,
    pub reorder: bool,
    pub delay: Duration,
}

/// The live faults of one system: its configuration (changeable at run time) and its RNG.
#[derive(Debug)]
pub struct Faults {
    config: RwLock<FaultConfig>,
    rng: Mutex<StdRng>,
    hook_rng: Mutex<StdRng>,
    seed: u64,
}

impl Faults {
    pub fn new(config: FaultConfig, seed: u64) -> Faults {
        Faults {
            config: RwLock::new(config),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            hook_rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15)),
            seed,
        }
    }

    pub fn get(&self) -> FaultConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the configuration and reseeds, so a test that sets faults gets the same
    /// sequence of decisions every run.
    pub fn set(&self, config: FaultConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) = StdRng::seed_from_u64(self.seed);
        *self.hook_rng.lock().unwrap_or_else(|e| e.into_inner()) =
            StdRng::seed_from_u64(self.seed ^ 0x9e37_79b9_7f4a_7c15);
    }

    /// Whether any request fault is on (the fast path skips the RNG when none is).
    fn quiet(c: &FaultConfig) -> bool {
        c.error_rate <= 0.0
            && c.rate_limit_rate <= 0.0
            && c.drop_rate <= 0.0
            && c.latency_ms == 0
            && c.jitter_ms == 0
    }

    /// Decides the fate of one request: what to answer and how long to wait first.
    pub fn decide(&self) -> (Decision, Duration, u64) {
        let c = self.config.read().unwrap_or_else(|e| e.into_inner());
        if Self::quiet(&c) {
            return (Decision::Pass, Duration::ZERO, 0);
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let jitter = if c.jitter_ms > 0 {
            rng.gen_range(0..=c.jitter_ms)
        } else {
            0
        };
        let delay = Duration::from_millis(c.latency_ms + jitter);
        let roll: f64 = rng.gen();
        let decision = if roll < c.drop_rate {
            Decision::Drop
        } else if roll < c.drop_rate + c.error_rate {
            Decision::Error
        } else if roll < c.drop_rate + c.error_rate + c.rate_limit_rate {
            Decision::RateLimit
        } else {
            Decision::Pass
        };
        (decision, delay, c.retry_after_secs.max(1))
    }

    /// Whether the answer to one successful delivery is lost (`lost_ack_rate`).
    pub fn decide_lost_ack(&self) -> bool {
        let rate = self
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .webhook
            .lost_ack_rate;
        rate > 0.0
            && self
                .hook_rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .gen::<f64>()
                < rate
    }

    /// Decides the fate of one webhook event.
    pub fn decide_hook(&self) -> HookDecision {
        let c = self
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .webhook
            .clone();
        let mut rng = self.hook_rng.lock().unwrap_or_else(|e| e.into_inner());
        let drop = c.drop_rate > 0.0 && rng.gen::<f64>() < c.drop_rate;
        let duplicate = c.duplicate_rate > 0.0 && rng.gen::<f64>() < c.duplicate_rate;
        let reorder = c.reorder_rate > 0.0 && rng.gen::<f64>() < c.reorder_rate;
        let jitter = if c.delay_jitter_ms > 0 {
            rng.gen_range(0..=c.delay_jitter_ms)
        } else {
            0
        };
        HookDecision {
            drop,
            duplicate,
            reorder,
            delay: Duration::from_millis(c.delay_ms + jitter),
        }
    }
}

/// How a platform words a fault answer.
pub trait FaultAnswers: Send + Sync + 'static {
    fn faults(&self) -> &Faults;
    fn server_error(&self) -> Response;
    fn rate_limited(&self, retry_after: u64) -> Response;
}

/// Paths the faults never touch: the sandbox's own admin endpoints.
pub const ADMIN_PREFIX: &str = "/__sandbox";

/// The middleware every system's router runs first.
pub async fn middleware<S: FaultAnswers>(
    State(sys): State<Arc<S>>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(req).await;
    }
    let (decision, delay, retry_after) = sys.faults().decide();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match decision {
        Decision::Pass => next.run(req).await,
        Decision::Error => sys.server_error(),
        Decision::RateLimit => sys.rate_limited(retry_after),
        Decision::Drop => dropped(),
    }
}

/// A response whose body fails at once: hyper aborts the connection, so the client sees a
/// connection closed without a complete answer.
pub fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sandbox fault: dropped connection",
        ))
    });
    Response::new(Body::from_stream(stream))
}

/// `GET /__sandbox/faults`.
pub async fn get_faults<S: FaultAnswers>(State(sys): State<Arc<S>>) -> Json<FaultConfig> {
    Json(sys.faults().get())
}

/// `PUT /__sandbox/faults` with a `FaultConfig` (missing keys are zero).
pub async fn put_faults<S: FaultAnswers>(
    State(sys): State<Arc<S>>,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(c) => {
            sys.faults().set(c.clone());
            Json(c).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": format!("invalid fault configuration: {e}")})),
        )
            .into_response(),
    }
}
