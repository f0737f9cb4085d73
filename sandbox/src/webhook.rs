//! Signed change webhooks. Every system has one sender: events are queued in commit order, a
//! task applies the webhook faults (drop, duplicate, delay, reorder) in that order and hands
//! each event to one of [`LANES`] delivery lanes, which POST to the configured URL with
//!
//! ```text
//! X-Seam-Timestamp: <unix seconds>
//! X-Seam-Signature: v1=<hex(HMAC-SHA256(secret, timestamp + "." + body))>
//! ```
//!
//! Per-record order: every event of one record (Salesforce `recordIds[0]`, ServiceNow `sys_id`)
//! goes to the same lane, and a lane POSTs one event at a time, waiting for the answer, so a
//! record's events arrive in commit order (unless a fault reorders or delays them on purpose).
//! Different records' events travel side by side: the sandbox must never be the bottleneck of
//! the runtime's benchmarks, and a receiver that commits before answering (seam's inbox) needs
//! many requests in flight to group its commits.
//!
//! An answer other than 2xx (or a connection error, or a 2xx the `lost_ack_rate` fault throws
//! away) is retried twice (after 100 ms and 400 ms), then counted as failed; the lane waits
//! meanwhile, so order holds through retries. Every
//! emitted event is also kept in memory (the last 10,000) for tests: [`Webhook::events`], and
//! can be watched as it is committed: [`Webhook::watch`].

use crate::faults::Faults;
use axum::body::Bytes;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const TIMESTAMP_HEADER: &str = "X-Seam-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Seam-Signature";
const LOG_CAP: usize = 10_000;
/// Deliveries in flight at once (different records; one record's events share a lane).
pub const LANES: usize = 32;

/// An event on its way: the lane chosen by its record, and the signed body.
struct Outgoing {
    lane: usize,
    body: Bytes,
}

/// The lane of an event's record (Salesforce CDC `recordIds[0]`, ServiceNow `sys_id`), so one
/// record's events always share a lane.
fn lane_of(record: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    record.hash(&mut h);
    (h.finish() % LANES as u64) as usize
}

/// The record an event is about, read from the event itself.
fn record_of(event: &Value) -> &str {
    event
        .pointer("/payload/ChangeEventHeader/recordIds/0")
        .or_else(|| event.get("sys_id"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// An emitted event and the moment it was committed, for in-process observers.
pub type Watched = (Instant, Value);

/// An emitted event as the bytes sent, and the moment it was committed: for an observer that
/// reads a few fields and should not pay for a `Value` of the whole record.
pub type WatchedRaw = (Instant, Bytes);

/// Who watches a sender's commits, and in which form.
enum Watcher {
    Value(mpsc::UnboundedSender<Watched>),
    Raw(mpsc::UnboundedSender<WatchedRaw>),
}

/// `v1=<hex(HMAC-SHA256(secret, timestamp + "." + body))>`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    Signer::new(secret).sign(timestamp, body)
}

/// An HMAC keyed once with the secret: each signature starts from a copy of the keyed state
/// instead of hashing the key pads again.
#[derive(Clone)]
struct Signer(Option<Hmac<Sha256>>);

impl Signer {
    fn new(secret: &str) -> Signer {
        // HMAC accepts keys of any length, so this is never `None`.
        Signer(Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok())
    }

    fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let Some(keyed) = &self.0 else {
            return String::new();
        };
        let mut mac = keyed.clone();
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// Checks a signature header value in constant time.
pub fn verify(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Delivery counters of one sender.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WebhookStats {
    /// Events the system produced.
    pub emitted: u64,
    /// POSTs answered 2xx (a duplicated event counts twice).
    pub delivered: u64,
    /// Events given up after retries.
    pub failed: u64,
    /// Events dropped by the drop fault.
    pub dropped: u64,
    /// Extra copies sent by the duplicate fault.
    pub duplicated: u64,
    /// Events produced while no URL was configured (kept in the log only).
    pub unsent: u64,
    /// 2xx answers thrown away by the `lost_ack_rate` fault (the event is sent again).
    pub lost_answers: u64,
}

#[derive(Default)]
struct Counters {
    emitted: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    unsent: AtomicU64,
    lost_answers: AtomicU64,
}

/// Where events go: the URL as configured, parsed once (not once per POST).
struct Target {
    text: String,
    /// `None` when the text is not a URL: every attempt then fails, as a POST to it would.
    parsed: Option<reqwest::Url>,
}

type SharedTarget = Arc<RwLock<Option<Target>>>;

/// The webhook sender of one system.
///
/// The event log and the watcher take the event as the bytes that were sent: an event is
/// serialized once, and a `Value` is made only for a watcher or for [`Webhook::events`].
pub struct Webhook {
    tx: mpsc::UnboundedSender<Outgoing>,
    log: Mutex<VecDeque<Bytes>>,
    watcher: Mutex<Option<Watcher>>,
    counters: Arc<Counters>,
    url: SharedTarget,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url()).finish()
    }
}

fn target(url: Option<String>) -> Option<Target> {
    url.map(|text| Target {
        parsed: reqwest::Url::parse(&text).ok(),
        text,
    })
}

impl Webhook {
    /// Starts the sender task (needs a Tokio runtime).
    pub fn start(url: Option<String>, secret: String, faults: Arc<Faults>) -> Webhook {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let url = Arc::new(RwLock::new(target(url)));
        tokio::spawn(run(
            rx,
            url.clone(),
            Signer::new(&secret),
            faults,
            counters.clone(),
        ));
        Webhook {
            tx,
            log: Mutex::new(VecDeque::new()),
            watcher: Mutex::new(None),
            counters,
            url,
        }
    }

    /// Queues one event.
    pub fn emit(&self, event: Value) {
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let lane = lane_of(record_of(&event));
        self.queue(lane, body.into(), Some(move || event));
    }

    /// Queues one event the caller serialized itself (the bytes every delivery sends);
    /// `record` is the record it is about (its lane). A watcher gets the bytes parsed.
    pub fn emit_serialized(&self, record: &str, body: Vec<u8>) {
        self.queue(lane_of(record), body.into(), None::<fn() -> Value>);
    }

    /// As [`Webhook::emit_serialized`], with the value a watcher gets made by `value` (only
    /// when a watcher is registered): cheaper than parsing the bytes for a large event.
    pub fn emit_serialized_with(&self, record: &str, body: Vec<u8>, value: impl FnOnce() -> Value) {
        self.queue(lane_of(record), body.into(), Some(value));
    }

    fn queue(&self, lane: usize, body: Bytes, value: Option<impl FnOnce() -> Value>) {
        self.counters.emitted.fetch_add(1, Ordering::Relaxed);
        {
            let mut w = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
            let gone = match w.as_ref() {
                None => false,
                Some(Watcher::Raw(tx)) => tx.send((Instant::now(), body.clone())).is_err(),
                Some(Watcher::Value(tx)) => {
                    let event = match value {
                        Some(make) => make(),
                        None => parse(&body),
                    };
                    tx.send((Instant::now(), event)).is_err()
                }
            };
            if gone {
                *w = None;
            }
        }
        {
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            if log.len() >= LOG_CAP {
                log.pop_front();
            }
            log.push_back(body.clone());
        }
        if self.url.read().unwrap_or_else(|e| e.into_inner()).is_none() {
            self.counters.unsent.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let _ = self.tx.send(Outgoing { lane, body });
    }

    /// Every event emitted from now on, with the instant of its commit (before faults, whether
    /// or not a URL is set): how a benchmark times when a write landed. One watcher at a time;
    /// a new call replaces the previous one.
    pub fn watch(&self) -> mpsc::UnboundedReceiver<Watched> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.watcher.lock().unwrap_or_else(|e| e.into_inner()) = Some(Watcher::Value(tx));
        rx
    }

    /// As [`Webhook::watch`], each event as the bytes sent (no `Value` is built for it). It
    /// replaces any watcher, of either form.
    pub fn watch_raw(&self) -> mpsc::UnboundedReceiver<WatchedRaw> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.watcher.lock().unwrap_or_else(|e| e.into_inner()) = Some(Watcher::Raw(tx));
        rx
    }

    pub fn url(&self) -> Option<String> {
        self.url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|t| t.text.clone())
    }

    pub fn set_url(&self, url: Option<String>) {
        *self.url.write().unwrap_or_else(|e| e.into_inner()) = target(url);
    }

    /// Every event emitted so far (the last 10,000), in commit order, before faults.
    pub fn events(&self) -> Vec<Value> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().map(|b| parse(b)).collect()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn stats(&self) -> WebhookStats {
        let c = &self.counters;
        WebhookStats {
            emitted: c.emitted.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
            unsent: c.unsent.load(Ordering::Relaxed),
            lost_answers: c.lost_answers.load(Ordering::Relaxed),
        }
    }
}

/// An event's bytes as a value. The sandbox wrote them from a value, so they parse.
fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// What every delivery of one sender shares.
struct Sender {
    client: reqwest::Client,
    signer: Signer,
    counters: Arc<Counters>,
    url: SharedTarget,
    faults: Arc<Faults>,
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    url: SharedTarget,
    signer: Signer,
    faults: Arc<Faults>,
    counters: Arc<Counters>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(LANES)
        .build()
        .unwrap_or_default();
    let ctx = Arc::new(Sender {
        client,
        signer,
        counters,
        url,
        faults: faults.clone(),
    });
    let lanes: Vec<mpsc::UnboundedSender<Bytes>> =
        (0..LANES).map(|_| start_lane(ctx.clone())).collect();
    let send = |lane: usize, body: Bytes| {
        if let Some(l) = lanes.get(lane) {
            let _ = l.send(body);
        }
    };
    let mut held: Option<Outgoing> = None;
    loop {
        let next = if held.is_some() {
            match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                Ok(n) => n,
                Err(_) => {
                    // Nothing came to overtake the held event: send it now.
                    if let Some(h) = held.take() {
                        send(h.lane, h.body);
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(out) = next else { break };
        let d = faults.decide_hook();
        if d.drop {
            ctx.counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if d.reorder && held.is_none() {
            held = Some(out);
            continue;
        }
        if d.duplicate {
            ctx.counters.duplicated.fetch_add(1, Ordering::Relaxed);
            deliver(&ctx, &send, out.lane, out.body.clone(), d.delay);
        }
        deliver(&ctx, &send, out.lane, out.body, d.delay);
        if let Some(h) = held.take() {
            // The held event goes behind the one that overtakes it, in the same lane, so it
            // really arrives after it.
            send(out.lane, h.body);
        }
    }
}

/// One lane: POSTs its events one at a time, in the order it got them.
fn start_lane(ctx: Arc<Sender>) -> mpsc::UnboundedSender<Bytes> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            post(&ctx, body).await;
        }
    });
    tx
}

/// Now through its lane, or after `delay` on its own (a delayed event is out of order anyway).
fn deliver(
    ctx: &Arc<Sender>,
    send: &impl Fn(usize, Bytes),
    lane: usize,
    body: Bytes,
    delay: Duration,
) {
    if delay.is_zero() {
        send(lane, body);
    } else {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            post(&ctx, body).await;
        });
    }
}

const TIMESTAMP_NAME: HeaderName = HeaderName::from_static("x-seam-timestamp");
const SIGNATURE_NAME: HeaderName = HeaderName::from_static("x-seam-signature");

async fn post(ctx: &Sender, body: Bytes) {
    let Some(url) = ctx
        .url
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|t| t.parsed.clone())
    else {
        ctx.counters.unsent.fetch_add(1, Ordering::Relaxed);
        return;
    };
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
        }
        let Some(url) = url.clone() else {
            tracing::debug!("webhook URL does not parse");
            continue;
        };
        let ts = chrono::Utc::now().timestamp().to_string();
        let sig = ctx.signer.sign(&ts, &body);
        let (Ok(ts), Ok(sig)) = (HeaderValue::from_str(&ts), HeaderValue::from_str(&sig)) else {
            continue;
        };
        let res = ctx
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(TIMESTAMP_NAME, ts)
            .header(SIGNATURE_NAME, sig)
            .body(body.clone())
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => {
                if ctx.faults.decide_lost_ack() {
                    ctx.counters.lost_answers.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                ctx.counters.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) => tracing::debug!(status = %r.status(), "webhook answered non-2xx"),
            Err(e) => tracing::debug!(error = %e, "webhook delivery failed"),
        }
    }
    ctx.counters.failed.fetch_add(1, Ordering::Relaxed);
}
