//! What handling one event leaves in the engine's store, gathered while it runs and committed
//! with the event's fate (done, retry or dead letter) in one transaction by the engine's
//! writer thread ([`crate::store::group::FinishCommit`]), with other events' in the same one.
//!
//! Guarantees:
//! - The values written to a twin and their audit rows are committed together, and before the
//!   event's record is released (its next event cannot be claimed until the fate commits), so
//!   the next event's diff sees them.
//! - A pair lock taken for a deferred write is held until that commit ([`Effects::hold`]):
//!   the other side of the pair cannot read the last-written values before they are there.
//! - A failing event commits what it already wrote with its retry or dead letter: a write the
//!   platform took always has its audit row.
//!
//! What a crash between a platform's answer and the commit loses is what the engine's
//! `synchronous = NORMAL` connection could always lose: the last-written value (one redundant
//! write when the event runs again) and its audit row (written by that repeat).

use std::sync::Mutex;

use super::PairGuard;
use crate::store::{AuditEntry, EventFinish, Fate, ObservedKey, Store, StoreResult, Written};

#[derive(Default)]
pub struct Effects {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    written: Vec<Written>,
    audit: Vec<AuditEntry>,
    observed: Vec<(ObservedKey, Option<String>)>,
    guards: Vec<PairGuard>,
}

impl Effects {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Only pushes happen under this lock: a panic cannot leave it half-changed.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Values written to a twin and their audit rows.
    pub fn record_writes(&self, written: Vec<Written>, audit: Vec<AuditEntry>) {
        let mut p = self.pending();
        p.written.extend(written);
        p.audit.extend(audit);
    }

    /// Trigger values observed, when they start no run (runs commit with theirs at once).
    pub fn observe(&self, observed: Vec<(ObservedKey, Option<String>)>) {
        self.pending().observed.extend(observed);
    }

    /// Keeps a pair lock until the commit.
    pub fn hold(&self, guard: PairGuard) {
        self.pending().guards.push(guard);
    }

    /// Commits what is pending now and releases the pair locks held: before the event does
    /// something that may wait for a pair lock itself (a workflow's steps).
    pub fn flush(&self, store: &dyn Store, now: i64) -> StoreResult<()> {
        let (written, audit, guards) = {
            let mut p = self.pending();
            (
                std::mem::take(&mut p.written),
                std::mem::take(&mut p.audit),
                std::mem::take(&mut p.guards),
            )
        };
        if !written.is_empty() || !audit.is_empty() {
            let keys: Vec<_> = written.iter().map(|w| (w.key(), w.value.clone())).collect();
            if let Err(e) = store.record_writes(&keys, &audit, now) {
                // Kept for the event's finish, which records them with its retry; the pair
                // locks stay held until then, as for any deferred write.
                drop(keys);
                let mut p = self.pending();
                p.written.extend(written);
                p.audit.extend(audit);
                p.guards.extend(guards);
                return Err(e);
            }
        }
        drop(guards);
        Ok(())
    }

    /// The event's finish with `fate`, and the pair locks to release once it committed.
    pub fn finish(self, fate: Fate, at: i64) -> (EventFinish, Vec<PairGuard>) {
        let p = self.pending.into_inner().unwrap_or_else(|e| e.into_inner());
        (
            EventFinish {
                written: p.written,
                audit: p.audit,
                observed: p.observed,
                fate,
                at,
            },
            p.guards,
        )
    }
}
