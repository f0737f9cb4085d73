//! The worker pool: a dispatcher claims due events (the store keeps one record's events in
//! order and never two in flight) and runs each on its own task, up to `concurrency` at once.
//! A failure is retried with backoff through the inbox (durable: a restart keeps the schedule)
//! until the policy's attempts are spent, then dead-lettered with the full reason; a permanent
//! failure is dead-lettered at once. Shutdown stops claiming and waits for in-flight events.
//!
//! An event's fate commits with what handling it wrote to the store ([`super::effects`]), in
//! one transaction shared with other events' by the engine's writer thread
//! ([`FinishCommit`]); its record is released, and its pair locks, only after that commit.
//! Claims go to that writer too, so a claim rides in the transaction of the finishes queued
//! with it (one commit fewer, and the records those finish hand over their next events). A
//! worker's finish claims the worker's next event in its own commit, and the worker runs it
//! on the same task and slot: under load, events flow without a claim commit or a wake-up of
//! the dispatcher of their own, which claims for idle slots (new events, a worker that found
//! nothing due) and stops the workers claiming at shutdown.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};

use super::effects::Effects;
use super::{Engine, SyncError};
use crate::connectors::ErrorClass;
use crate::metrics::Metrics;
use crate::store::group::FinishCommit;
use crate::store::{now_ms, Fate, InboxEvent};

pub struct WorkerConfig {
    pub concurrency: usize,
    /// How often the inbox is polled when nothing wakes the dispatcher (retries that fall
    /// due, replays made by another process).
    pub poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 32,
            poll: Duration::from_millis(200),
        }
    }
}

/// Runs until `shutdown` turns true, then waits for in-flight events to finish. `commit` is
/// the engine's writer over `engine.store` (in the runtime, the thread it shares with the
/// inbox: [`crate::store::group::start`]).
pub async fn run(
    engine: Arc<Engine>,
    commit: FinishCommit,
    config: WorkerConfig,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let released = engine.store.release_claims().unwrap_or(0);
    if released > 0 {
        tracing::info!(
            events = released,
            "took back events claimed before a restart"
        );
    }
    let slots = Arc::new(Semaphore::new(config.concurrency));
    loop {
        if *shutdown.borrow() {
            break;
        }
        let mut free = slots.available_permits();
        if free > 0 && free < config.concurrency / 4 {
            // Saturated: most workers are busy and each finished event frees one slot. Let a
            // few more finish (1 ms at most) so one claim transaction serves several, rather
            // than one claim per event.
            let _ = tokio::time::timeout(
                Duration::from_millis(1),
                slots.acquire_many(config.concurrency as u32 / 4),
            )
            .await;
            free = slots.available_permits();
        }
        let claimed = if free == 0 {
            Vec::new()
        } else {
            // On the engine's writer, in the transaction of the finishes queued now.
            match commit.claim(now_ms(), free).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim events");
                    Vec::new()
                }
            }
        };
        let got = claimed.len();
        for event in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let engine = engine.clone();
            let wake = wake.clone();
            let commit = commit.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                // Each finish claims this worker's next event in its own commit, until none
                // is due (or the runtime stops): no claim commit and no dispatcher wake-up
                // per event under load.
                let mut next = Some(event);
                while let Some(event) = next {
                    let more = !*stop.borrow();
                    next = process(&engine, &commit, event, more).await;
                }
                drop(permit);
                // A finished event may unblock the next one of its record.
                wake.notify_one();
            });
        }
        if got > 0 && got >= free {
            continue;
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll) => {}
            _ = shutdown.changed() => {}
        }
    }
    // Wait for in-flight work: every permit back.
    let _ = slots.acquire_many(config.concurrency as u32).await;
}

/// Handles one event, then records what it wrote and its fate in one commit (grouped with
/// other events' by `commit`), and only then releases its pair locks. With `claim_next`, that
/// commit also claims the next due event for this worker, returned to be handled next.
pub async fn process(
    engine: &Engine,
    commit: &FinishCommit,
    event: InboxEvent,
    claim_next: bool,
) -> Option<InboxEvent> {
    let effects = Effects::default();
    let result = engine.handle(&event, &effects).await;
    let id = event.id;
    let fate = match result {
        Ok(outcome) => {
            engine.metrics.out(&event.event.system, outcome.as_str());
            let mut done = event;
            if !outcome.read_state() {
                // An echo says nothing of the record's later changes:
                // finish this event alone, the next ones run.
                done.covers_through = done.id;
            }
            Fate::Done(done)
        }
        Err(err) => failed(engine, &event, err),
    };
    let now = now_ms();
    let (finish, pair_locks) = effects.finish(fate, now);
    let committed = if claim_next {
        commit.finish_and_claim_next(finish, now).await
    } else {
        commit.finish(finish).await.map(|()| None)
    };
    drop(pair_locks);
    committed.unwrap_or_else(|e| {
        // The claim stays; it is released at the next start and the event runs again
        // (idempotent), so nothing is lost.
        tracing::error!(event = id, error = %e, "cannot record the outcome of an event");
        None
    })
}

/// What becomes of a failed event: a retry with backoff, or a dead letter with its reason.
fn failed(engine: &Engine, event: &InboxEvent, err: SyncError) -> Fate {
    let attempts = event.attempts + 1;
    let max = engine.retry.attempts.max(1);
    let e = &event.event;
    let label = Metrics::system(&e.system);
    if err.class == ErrorClass::LimitExceeded {
        tracing::error!(event = event.id, error = %err, "a platform's API allowance is spent; backing off long");
        engine.metrics.limit_exceeded.get_or_create(&label).inc();
    }
    if err.class != ErrorClass::Permanent && attempts < max {
        let wait = engine.backoff(attempts, err.class);
        tracing::warn!(event = event.id, record = %e.record_id, attempt = attempts, of = max, retry_in_ms = wait.as_millis() as u64, error = %err, "event failed; will retry");
        engine.metrics.retries.get_or_create(&label).inc();
        return Fate::Retry {
            id: event.id,
            attempts,
            next_attempt_at: now_ms() + wait.as_millis() as i64,
            error: err.message,
        };
    }
    let why = if err.class == ErrorClass::Permanent {
        "cannot succeed by retrying"
    } else {
        "retries exhausted"
    };
    let reason = format!(
        "{} {} `{}` ({}, key {}): {} after {attempts} attempt(s): {}",
        e.system, e.object, e.record_id, e.operation, e.idempotency_key, why, err.message
    );
    tracing::error!(event = event.id, record = %e.record_id, reason = %reason, "event dead-lettered");
    engine.metrics.dead_letters_total.inc();
    engine.metrics.out(&e.system, "dead_letter");
    Fate::Dead {
        id: event.id,
        attempts,
        reason,
    }
}
