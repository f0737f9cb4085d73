//! Retention of the inbox (`seam run --retain-events`): finished events older than the
//! retention period are deleted in the background, so the state file stops growing with every
//! event ever received.
//!
//! Guarantees:
//! - Only done events go, and only those last scheduled before the period; pending, claimed
//!   and dead events, every event a dead letter names (replayed or not), dead letters, audit
//!   rows, links, last-written values and workflow state stay ([`Store::prune_done`]).
//! - Small batches ([`BATCH`] rows, one short transaction each) with a pause between them: the
//!   inbox and engine writers wait at most one batch for the write gate.
//! - A repeat of a pruned event's idempotency key is accepted as new and runs again. Harmless:
//!   events are hints, the record is read, and the diff against the last-written values finds
//!   nothing to write; a workflow run keyed by that event exists already and is not started
//!   again. The period should outlast the platforms' redelivery (Salesforce resends an Outbound
//!   Message for 24 hours; CDC keeps events 72 hours): the default is 7 days.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::{now_ms, Store};

/// The most done rows one transaction deletes (a few milliseconds).
pub const BATCH: usize = 500;

/// Between two batches of one pass: the writers' turn.
const PAUSE: Duration = Duration::from_millis(20);

/// How long done events are kept, and how often they are looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Done events last scheduled longer ago than this go.
    pub keep: Duration,
    /// The pause between two passes (each deletes until a batch comes back short).
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep: Duration::from_secs(7 * 24 * 3600),
            every: Duration::from_secs(60),
        }
    }
}

/// One pass: deletes batches of done events older than `keep` until one comes back short or
/// `stop` says so (a first pass over a large old inbox takes a while); how many went.
pub async fn prune(
    store: &dyn Store,
    keep: Duration,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<usize, String> {
    let keep = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let before = now_ms().saturating_sub(keep);
        let n = store.prune_done(before, BATCH).map_err(|e| e.to_string())?;
        total += n;
        if n < BATCH || stop() {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Prunes every `retention.every` until `shutdown` turns true, counting what went in
/// `seam_events_pruned_total`. A failed pass is logged and the next one runs.
pub async fn run(
    store: Arc<dyn Store>,
    retention: Retention,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(retention.every) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        let stop = || *shutdown.borrow();
        match prune(store.as_ref(), retention.keep, &stop).await {
            Ok(0) => {}
            Ok(n) => {
                metrics.events_pruned.inc_by(n as u64);
                tracing::debug!(events = n, "retention: pruned done events");
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention: cannot prune done events; trying again in {:?}", retention.every)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::tests::event;

    #[tokio::test]
    async fn the_background_task_prunes_done_events_and_stops_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("seam.db")).unwrap());
        store
            .insert_events(&[event("k1", "a"), event("k2", "b")])
            .unwrap();
        let claimed = store.claim_events(2_000, 10).unwrap();
        let (done, busy) = (&claimed[0], &claimed[1]);
        store.complete_event(done).unwrap();
        let (stop, rx) = watch::channel(false);
        let metrics = Arc::new(Metrics::new());
        let task = tokio::spawn(run(
            store.clone(),
            Retention {
                keep: Duration::from_millis(1),
                every: Duration::from_millis(20),
            },
            metrics.clone(),
            rx,
        ));
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while store.event(done.id).unwrap().is_some() {
            assert!(std::time::Instant::now() < end, "the done event stayed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            store.event(busy.id).unwrap().is_some(),
            "a claimed event stays"
        );
        // The task counts after its pass; the pass may still be between delete and count.
        while metrics.events_pruned.get() == 0 {
            assert!(
                std::time::Instant::now() < end,
                "the pruned event was not counted"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(metrics.events_pruned.get(), 1);
        assert!(metrics
            .render(Default::default())
            .contains("seam_events_pruned_total 1"));
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
