//! [`Offloaded`]: a [`Store`] whose writes, made from async tasks on a multi-threaded Tokio
//! runtime, tell Tokio that the thread blocks (`block_in_place`), so other tasks (webhook
//! requests above all) move to another thread instead of waiting behind a SQLite lock or an
//! fsync. Outside such a runtime the calls run as they are.
//!
//! Reads run in place: they go to the store's reader connection, which in WAL mode never waits
//! for a writer, so they take microseconds, and handing the thread over would cost more (two
//! thread switches, measured with `perf` in the load benchmark).

use std::collections::HashMap;
use tokio::runtime::{Handle, RuntimeFlavor};

use super::{
    AuditEntry, Backlog, DeadLetter, EventFinish, InboxEvent, Inserted, LinkRow, NewEvent, NewRun,
    ObservedKey, ReplicaKey, StepState, Store, StoreResult, WorkflowRun,
};

pub struct Offloaded<S>(pub S);

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl<S: Store> Store for Offloaded<S> {
    fn insert_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Inserted>> {
        blocking(|| self.0.insert_events(events))
    }
    fn claim_events(&self, now: i64, limit: usize) -> StoreResult<Vec<InboxEvent>> {
        blocking(|| self.0.claim_events(now, limit))
    }
    fn complete_event(&self, event: &InboxEvent) -> StoreResult<()> {
        blocking(|| self.0.complete_event(event))
    }
    fn retry_event(&self, id: i64, attempts: u32, at: i64, error: &str) -> StoreResult<()> {
        blocking(|| self.0.retry_event(id, attempts, at, error))
    }
    fn dead_letter(&self, id: i64, attempts: u32, reason: &str, now: i64) -> StoreResult<i64> {
        blocking(|| self.0.dead_letter(id, attempts, reason, now))
    }
    fn finish_events(&self, batch: &[EventFinish]) -> StoreResult<()> {
        blocking(|| self.0.finish_events(batch))
    }
    fn finish_and_claim(
        &self,
        batch: &[EventFinish],
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<InboxEvent>> {
        blocking(|| self.0.finish_and_claim(batch, now, limit))
    }
    fn release_claims(&self) -> StoreResult<u64> {
        blocking(|| self.0.release_claims())
    }
    fn event(&self, id: i64) -> StoreResult<Option<InboxEvent>> {
        self.0.event(id)
    }
    fn link_twin(&self, link: &str, left: bool, id: &str) -> StoreResult<Option<String>> {
        self.0.link_twin(link, left, id)
    }
    fn link_row(&self, link: &str, left: bool, id: &str) -> StoreResult<Option<LinkRow>> {
        self.0.link_row(link, left, id)
    }
    fn links(&self, link: Option<&str>) -> StoreResult<Vec<LinkRow>> {
        self.0.links(link)
    }
    fn end_link(&self, link: &str, l: &str, r: &str, now: i64, why: &str) -> StoreResult<bool> {
        blocking(|| self.0.end_link(link, l, r, now, why))
    }
    fn put_link(&self, link: &str, l: &str, r: &str, now: i64) -> StoreResult<()> {
        blocking(|| self.0.put_link(link, l, r, now))
    }
    fn pairs_of(&self, record: &str) -> StoreResult<Vec<LinkRow>> {
        self.0.pairs_of(record)
    }
    fn resume_link(&self, link: &str, l: &str, r: &str, audit: &[AuditEntry]) -> StoreResult<bool> {
        blocking(|| self.0.resume_link(link, l, r, audit))
    }
    fn pair_history(&self, link: &str, records: &[&str]) -> StoreResult<Vec<AuditEntry>> {
        self.0.pair_history(link, records)
    }
    fn last_written(&self, key: &ReplicaKey<'_>) -> StoreResult<Option<Option<String>>> {
        self.0.last_written(key)
    }
    fn last_written_of(
        &self,
        link: &str,
        system: &str,
        record: &str,
    ) -> StoreResult<HashMap<String, Option<String>>> {
        self.0.last_written_of(link, system, record)
    }
    fn set_last_written(&self, k: &ReplicaKey<'_>, v: Option<&str>, now: i64) -> StoreResult<()> {
        blocking(|| self.0.set_last_written(k, v, now))
    }
    fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        blocking(|| self.0.append_audit(entries))
    }
    fn record_writes(
        &self,
        written: &[(ReplicaKey<'_>, Option<String>)],
        audit: &[AuditEntry],
        now: i64,
    ) -> StoreResult<()> {
        blocking(|| self.0.record_writes(written, audit, now))
    }
    fn audit_of(&self, record: &str, field: &str, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.0.audit_of(record, field, limit)
    }
    fn dead_letters(&self, include_replayed: bool) -> StoreResult<Vec<DeadLetter>> {
        self.0.dead_letters(include_replayed)
    }
    fn dead_letter_by_id(&self, id: i64) -> StoreResult<Option<DeadLetter>> {
        self.0.dead_letter_by_id(id)
    }
    fn replay_dead_letter(&self, id: i64, now: i64) -> StoreResult<bool> {
        blocking(|| self.0.replay_dead_letter(id, now))
    }
    fn cursor(&self, name: &str) -> StoreResult<Option<String>> {
        self.0.cursor(name)
    }
    fn set_cursor(&self, name: &str, value: &str) -> StoreResult<()> {
        blocking(|| self.0.set_cursor(name, value))
    }
    fn backlog(&self, now: i64) -> StoreResult<Backlog> {
        self.0.backlog(now)
    }
    fn prune_done(&self, before: i64, limit: usize) -> StoreResult<usize> {
        blocking(|| self.0.prune_done(before, limit))
    }
    fn observed_value(&self, key: &ObservedKey) -> StoreResult<Option<Option<String>>> {
        self.0.observed_value(key)
    }
    fn start_runs(
        &self,
        observed: &[(ObservedKey, Option<String>)],
        runs: &[NewRun],
        now: i64,
    ) -> StoreResult<Vec<i64>> {
        blocking(|| self.0.start_runs(observed, runs, now))
    }
    fn unfinished_runs(&self, trigger_keys: &[&str]) -> StoreResult<Vec<WorkflowRun>> {
        self.0.unfinished_runs(trigger_keys)
    }
    fn runs_of_record(&self, system: &str, record_id: &str) -> StoreResult<Vec<WorkflowRun>> {
        self.0.runs_of_record(system, record_id)
    }
    fn run_steps(&self, run: i64) -> StoreResult<Vec<StepState>> {
        self.0.run_steps(run)
    }
    fn begin_step(&self, run: i64, step: u32, now: i64) -> StoreResult<()> {
        blocking(|| self.0.begin_step(run, step, now))
    }
    fn finish_step(
        &self,
        run: i64,
        step: u32,
        output: &str,
        audit: &[AuditEntry],
        now: i64,
    ) -> StoreResult<()> {
        blocking(|| self.0.finish_step(run, step, output, audit, now))
    }
    fn finish_run(&self, run: i64, now: i64) -> StoreResult<()> {
        blocking(|| self.0.finish_run(run, now))
    }
}
