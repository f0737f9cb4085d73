//! The load: real Salesforce writes (a PATCH of a Case's Subject to `change {i}`), whose change
//! events the sandbox sends to whoever is under test, and a watcher of ServiceNow's commits
//! that times when each value lands in its incident.
//!
//! The writes go through the sandbox's Salesforce API in process (its router, `oneshot`): the
//! same routes, checks, commit and change event as over HTTP, without a client and a socket
//! per write in the process that hosts the sandbox. The watcher takes each commit's event as
//! the bytes sent and reads the four fields it needs.
//!
//! Latency of event `i` = the moment ServiceNow commits `short_description = "change {i}"` (or
//! a later value of the same Case, which covers it) minus the moment its Salesforce write was
//! sent (closed loop) or was due (open loop, so a slow system cannot hide its queue by slowing
//! the driver down: no coordinated omission).

use axum::body::Body;
use axum::http::{header, Method, Request};
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify, Semaphore};
use tower::ServiceExt;

use seam_sandbox::webhook::WatchedRaw;

/// What one phase measured.
pub struct Phase {
    pub events: u64,
    pub secs: f64,
    /// End-to-end latencies, milliseconds, sorted.
    pub latencies: Vec<f64>,
}

impl Phase {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.secs.max(1e-9)
    }

    pub fn pct(&self, p: f64) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return f64::NAN;
        }
        let at = ((n as f64 - 1.0) * p).round() as usize;
        self.latencies
            .get(at.min(n - 1))
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// Salesforce writes in flight per Case, in the order they were sent, and the landed ones.
#[derive(Default)]
struct Tracker {
    pending: Mutex<HashMap<String, VecDeque<(u64, Instant)>>>,
    latencies: Mutex<Vec<f64>>,
    last_landed: Mutex<Option<Instant>>,
    landed: AtomicU64,
    progress: Notify,
}

pub struct Driver {
    /// The sandbox's Salesforce API, called in process.
    salesforce: axum::Router,
    /// `Bearer <token>`.
    auth: String,
    cases: Vec<String>,
    /// One lock per Case: its writes are sent one after another, so their order is known.
    case_locks: Vec<tokio::sync::Mutex<()>>,
    tracker: Arc<Tracker>,
    /// Closed loop: free slots of the window; a landed event gives its slot back.
    window: Arc<Semaphore>,
    next: AtomicU64,
}

impl Driver {
    pub fn new(
        salesforce: axum::Router,
        sf_token: String,
        cases: Vec<String>,
        mut servicenow: mpsc::UnboundedReceiver<WatchedRaw>,
    ) -> Result<Arc<Driver>, String> {
        let tracker = Arc::new(Tracker::default());
        let window = Arc::new(Semaphore::new(0));
        let (t, w) = (tracker.clone(), window.clone());
        tokio::spawn(async move {
            while let Some((at, event)) = servicenow.recv().await {
                let landed = land(&t, at, &event);
                if landed > 0 {
                    w.add_permits(landed);
                    t.progress.notify_waiters();
                }
            }
        });
        Ok(Arc::new(Driver {
            salesforce,
            auth: format!("Bearer {sf_token}"),
            case_locks: cases.iter().map(|_| tokio::sync::Mutex::new(())).collect(),
            cases,
            tracker,
            window,
            next: AtomicU64::new(0),
        }))
    }

    /// Sends one Salesforce write (event `i`), timed from `start`.
    async fn send(self: Arc<Self>, i: u64, start: Option<Instant>) -> Result<(), String> {
        let n = self.cases.len().max(1);
        let at = (i % n as u64) as usize;
        let (Some(case), Some(lock)) = (self.cases.get(at), self.case_locks.get(at)) else {
            return Err(format!("no case number {at}"));
        };
        let _one_at_a_time = lock.lock().await;
        let start = start.unwrap_or_else(Instant::now);
        {
            let mut p = self
                .tracker
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            p.entry(case.clone()).or_default().push_back((i, start));
        }
        let req = Request::builder()
            .method(Method::PATCH)
            .uri(format!("/services/data/v62.0/sobjects/Case/{case}"))
            .header(header::AUTHORIZATION, &self.auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({ "Subject": format!("change {i}") }).to_string(),
            ))
            .map_err(|e| format!("PATCH Case `{case}` (event {i}): {e}"))?;
        let r = self
            .salesforce
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| format!("PATCH Case `{case}` (event {i}): {e}"))?;
        if !r.status().is_success() {
            return Err(format!(
                "PATCH Case `{case}` (event {i}): HTTP {}",
                r.status()
            ));
        }
        Ok(())
    }

    fn reset(&self) {
        self.tracker
            .latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.tracker.landed.store(0, Ordering::SeqCst);
    }

    /// Closed loop: `events` writes with at most `window` not yet landed; the throughput is
    /// what the system under test sustains.
    pub async fn closed(self: &Arc<Self>, events: u64, window: usize) -> Result<Phase, String> {
        self.reset();
        // Slots given back by earlier phases' landings are not this window's.
        self.window.forget_permits(self.window.available_permits());
        self.window.add_permits(window);
        let t0 = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..events {
            let permit = self
                .window
                .acquire()
                .await
                .map_err(|e| format!("window: {e}"))?;
            permit.forget();
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            sent.push(tokio::spawn(self.clone().send(i, None)));
        }
        self.finish(events, t0, sent).await
    }

    /// Open loop: `rate` writes per second for `secs`, each due at its time whatever happens.
    pub async fn open(self: &Arc<Self>, rate: f64, secs: f64) -> Result<Phase, String> {
        self.reset();
        let events = (rate * secs).round().max(1.0) as u64;
        let gap = Duration::from_secs_f64(1.0 / rate.max(1e-3));
        let t0 = Instant::now();
        let mut sent = Vec::new();
        for k in 0..events {
            let due = t0 + gap.mul_f64(k as f64);
            tokio::time::sleep_until(due.into()).await;
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            sent.push(tokio::spawn(self.clone().send(i, Some(due))));
        }
        self.finish(events, t0, sent).await
    }

    /// Waits until every event landed (or nothing lands for 30 s: the system is stuck).
    async fn finish(
        &self,
        events: u64,
        t0: Instant,
        sent: Vec<tokio::task::JoinHandle<Result<(), String>>>,
    ) -> Result<Phase, String> {
        for s in sent {
            s.await.map_err(|e| format!("driver task: {e}"))??;
        }
        let mut seen = self.tracker.landed.load(Ordering::SeqCst);
        while seen < events {
            let wait = self.tracker.progress.notified();
            if tokio::time::timeout(Duration::from_secs(30), wait)
                .await
                .is_err()
            {
                let now = self.tracker.landed.load(Ordering::SeqCst);
                if now == seen {
                    return Err(format!(
                        "stuck: {now} of {events} events landed in ServiceNow, none in 30 s"
                    ));
                }
            }
            seen = self.tracker.landed.load(Ordering::SeqCst);
        }
        let end = self
            .tracker
            .last_landed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_else(Instant::now);
        let mut latencies = std::mem::take(
            &mut *self
                .tracker
                .latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        latencies.sort_by(f64::total_cmp);
        Ok(Phase {
            events,
            secs: end.duration_since(t0).as_secs_f64(),
            latencies,
        })
    }
}

/// What the driver reads of a ServiceNow change event (the other fields are skipped).
#[derive(Deserialize)]
struct Commit<'a> {
    #[serde(borrow)]
    table: Option<Cow<'a, str>>,
    #[serde(borrow)]
    operation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    record: Option<Fields<'a>>,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    short_description: Option<Cow<'a, str>>,
}

/// A ServiceNow commit: when it writes `short_description = "change {i}"` of a Case's incident,
/// event `i` and the earlier pending writes of that Case have landed. Returns how many.
fn land(t: &Tracker, at: Instant, event: &[u8]) -> usize {
    let Ok(event) = serde_json::from_slice::<Commit>(event) else {
        return 0;
    };
    if event.table.as_deref() != Some("incident") || event.operation.as_deref() != Some("update") {
        return 0;
    }
    let Some(Fields {
        correlation_id: Some(case),
        short_description: Some(value),
    }) = event.record
    else {
        return 0;
    };
    let (case, value) = (case.as_ref(), value.as_ref());
    let Some(i) = value
        .strip_prefix("change ")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return 0;
    };
    let mut pending = t.pending.lock().unwrap_or_else(|e| e.into_inner());
    let Some(queue) = pending.get_mut(case) else {
        return 0;
    };
    let Some(upto) = queue.iter().position(|(j, _)| *j == i) else {
        return 0;
    };
    let mut lat = t.latencies.lock().unwrap_or_else(|e| e.into_inner());
    let n = upto + 1;
    for (_, start) in queue.drain(..n) {
        lat.push(at.saturating_duration_since(start).as_secs_f64() * 1000.0);
    }
    *t.last_landed.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    t.landed.fetch_add(n as u64, Ordering::SeqCst);
    n
}
