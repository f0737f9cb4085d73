//! The durable state of the runtime behind one trait, [`Store`], so PostgreSQL can follow the
//! embedded SQLite default ([`sqlite::SqliteStore`]).
//!
//! Guarantees every implementation keeps:
//! - [`Store::insert_events`] commits a whole batch in one transaction and returns only after
//!   the commit: an event it reports as [`Inserted::New`] survives a crash of the process.
//! - The idempotency key is unique: a repeat is reported as [`Inserted::Duplicate`], not stored.
//! - [`Store::claim_events`] never hands out two events of the same record at once, and never a
//!   later event of a record before an earlier one is finished (per-record ordering).
//! - A link is unique both ways: one left record has at most one twin per link, and back.
//!
//! The group commit that batches inserts from many HTTP requests lives in [`group`], above the
//! trait, so every backend gets it.

mod cache;
pub mod group;
pub mod offload;
mod schema;
pub mod sqlite;
pub mod workflows;

pub use workflows::{NewRun, ObservedKey, RunStatus, StepState, StepStatus, WorkflowRun};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Why the store failed. The message names the operation; it never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {op}: {source}")]
    Sqlite {
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("store: cannot open `{path}`: {reason}")]
    Open { path: String, reason: String },
    #[error("store: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An event as ingest decoded it, before it is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Unique per platform event: the replay id / notification id, or record id + version.
    pub idempotency_key: String,
    /// The system alias (`sf`).
    pub system: String,
    /// The object or table (`Case`, `incident`).
    pub object: String,
    pub record_id: String,
    /// `create`, `update` or `delete`.
    pub operation: String,
    /// The platform says this change was made by the runtime itself.
    pub echo: bool,
    /// The event as received (JSON text of this one event).
    pub payload: String,
    /// Unix milliseconds.
    pub received_at: i64,
}

/// What storing one event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New(i64),
    Duplicate,
}

/// Where an event is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Pending,
    Claimed,
    Done,
    Dead,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Claimed => "claimed",
            EventStatus::Done => "done",
            EventStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<EventStatus> {
        Some(match s {
            "pending" => EventStatus::Pending,
            "claimed" => EventStatus::Claimed,
            "done" => EventStatus::Done,
            "dead" => EventStatus::Dead,
            _ => return None,
        })
    }
}

/// A stored event, as a worker sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEvent {
    pub id: i64,
    pub event: NewEvent,
    pub status: EventStatus,
    pub attempts: u32,
    pub next_attempt_at: i64,
    /// The highest id of the same record pending when this one was claimed: finishing this
    /// event finishes those too (events are hints, state is truth: one read covers them all).
    pub covers_through: i64,
}

/// A cross-system write (or a refusal), one row per field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub source_system: String,
    /// The idempotency key of the event that caused it (or `replay:…`).
    pub source_event: String,
    pub link: String,
    /// `sf.Case.Priority -> snow.incident.urgency`, `open snow.incident`.
    pub rule: String,
    pub target_system: String,
    pub target_object: String,
    pub target_record: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub plan_hash: String,
    /// `written`, `created`, `refused`, `failed`.
    pub outcome: String,
}

/// A dead letter: an event given up on, with the full reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: i64,
    pub event_id: i64,
    pub at: i64,
    pub reason: String,
    pub attempts: u32,
    /// When it was last re-driven, if ever.
    pub replayed_at: Option<i64>,
    pub event: NewEvent,
}

/// The backlog, for metrics and alerts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Pending and claimed events.
    pub depth: u64,
    /// Age of the oldest pending event, in milliseconds (0 when none).
    pub oldest_pending_ms: i64,
    /// Dead letters not replayed.
    pub dead_letters: u64,
}

/// A linked pair as the store remembers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRow {
    pub link: String,
    pub left_id: String,
    pub right_id: String,
    pub created_at: i64,
    /// When the pair ended (one of its records was found gone); `None` while it is live.
    pub ended_at: Option<i64>,
    /// Why it ended: which record was gone and how it was found out.
    pub ended_reason: Option<String>,
}

impl LinkRow {
    pub fn live(&self) -> bool {
        self.ended_at.is_none()
    }

    /// The other record of the pair.
    pub fn twin_of(&self, from_left: bool) -> &str {
        if from_left {
            &self.right_id
        } else {
            &self.left_id
        }
    }
}

/// The identity of one replica field on one record, for the last-written values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaKey<'a> {
    pub link: &'a str,
    pub system: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

/// A last-written value to record: [`ReplicaKey`], owned, and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub link: String,
    pub system: String,
    pub record: String,
    pub field: String,
    pub value: Option<String>,
}

impl Written {
    pub fn key(&self) -> ReplicaKey<'_> {
        ReplicaKey {
            link: &self.link,
            system: &self.system,
            record: &self.record,
            field: &self.field,
        }
    }
}

/// What becomes of a handled event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Finished, with the later events of its record it covers ([`Store::complete_event`]).
    Done(InboxEvent),
    /// Back to pending for another attempt ([`Store::retry_event`]).
    Retry {
        id: i64,
        attempts: u32,
        next_attempt_at: i64,
        error: String,
    },
    /// To the dead letters with the full reason ([`Store::dead_letter`]).
    Dead {
        id: i64,
        attempts: u32,
        reason: String,
    },
}

/// Everything handling one event leaves in the store besides what it committed on the way
/// (links, runs, steps): the values it wrote to twins and their audit rows, the trigger
/// values it observed, and its fate. [`Store::finish_events`] commits it in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFinish {
    pub written: Vec<Written>,
    pub audit: Vec<AuditEntry>,
    pub observed: Vec<(ObservedKey, Option<String>)>,
    pub fate: Fate,
    /// Unix milliseconds: when the values were written and observed (and the dead letter's).
    pub at: i64,
}

/// The durable state of the runtime. Synchronous: callers on an async runtime keep each call
/// short (one statement or one transaction).
pub trait Store: Send + Sync + 'static {
    /// Stores a batch in one transaction; returns after the commit, one outcome per event.
    fn insert_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Inserted>>;
    /// Claims up to `limit` due events (`next_attempt_at <= now`), at most one per record, and
    /// only the earliest unfinished one of each record.
    fn claim_events(&self, now: i64, limit: usize) -> StoreResult<Vec<InboxEvent>>;
    /// Finishes a claimed event and the events of the same record it covers.
    fn complete_event(&self, event: &InboxEvent) -> StoreResult<()>;
    /// Puts a claimed event back for a later attempt.
    fn retry_event(
        &self,
        id: i64,
        attempts: u32,
        next_attempt_at: i64,
        error: &str,
    ) -> StoreResult<()>;
    /// Moves a claimed event to the dead letters with the full reason.
    fn dead_letter(&self, id: i64, attempts: u32, reason: &str, now: i64) -> StoreResult<i64>;
    /// Commits each event's [`EventFinish`] — last-written values, audit rows, observed
    /// trigger values and its fate — the whole batch in one transaction: all or nothing.
    fn finish_events(&self, batch: &[EventFinish]) -> StoreResult<()>;
    /// [`Store::finish_events`] and then, in the same transaction, [`Store::claim_events`]:
    /// one commit for the engine's batch, and the events of the records it finished can be
    /// claimed at once. All or nothing. With an empty batch it is a plain claim.
    fn finish_and_claim(
        &self,
        batch: &[EventFinish],
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<InboxEvent>>;
    /// Returns claimed events to pending (at start-up, after a crash).
    fn release_claims(&self) -> StoreResult<u64>;
    fn event(&self, id: i64) -> StoreResult<Option<InboxEvent>>;

    /// The live twin of a record through a link: `left` true looks up by the left id. An
    /// ended pair has no twin.
    fn link_twin(&self, link: &str, left: bool, id: &str) -> StoreResult<Option<String>>;
    /// The pair a record belongs to through a link, live or ended.
    fn link_row(&self, link: &str, left: bool, id: &str) -> StoreResult<Option<LinkRow>>;
    /// Every pair of `link` (every link when `None`), live and ended, ordered by link and
    /// left id.
    fn links(&self, link: Option<&str>) -> StoreResult<Vec<LinkRow>>;
    /// Ends a live pair; `false` when it was already ended (or is unknown).
    fn end_link(
        &self,
        link: &str,
        left_id: &str,
        right_id: &str,
        now: i64,
        reason: &str,
    ) -> StoreResult<bool>;
    /// Records a link; an existing identical link is fine, a conflicting one is an error.
    fn put_link(&self, link: &str, left_id: &str, right_id: &str, now: i64) -> StoreResult<()>;
    /// Every pair `record` belongs to, as its left or its right id, of every link, live and
    /// ended, ordered by link (`seam links show`, `seam links relink`).
    fn pairs_of(&self, record: &str) -> StoreResult<Vec<LinkRow>>;
    /// Resumes an ended pair (`seam links relink`): its end is cleared and `audit` (its
    /// `relinked` rows) appended, in one transaction. `false` when the pair is live or unknown;
    /// nothing is written then. The end stays visible in the audit (`unlinked` rows).
    fn resume_link(
        &self,
        link: &str,
        left_id: &str,
        right_id: &str,
        audit: &[AuditEntry],
    ) -> StoreResult<bool>;
    /// The life of a pair as the audit tells it: the rows of `link` on `records` whose outcome
    /// is `created`, `unlinked` or `relinked`, oldest first.
    fn pair_history(&self, link: &str, records: &[&str]) -> StoreResult<Vec<AuditEntry>>;

    fn last_written(&self, key: &ReplicaKey<'_>) -> StoreResult<Option<Option<String>>>;
    /// Every last-written value of one record through one link, field -> value, in one read.
    fn last_written_of(
        &self,
        link: &str,
        system: &str,
        record: &str,
    ) -> StoreResult<HashMap<String, Option<String>>>;
    fn set_last_written(
        &self,
        key: &ReplicaKey<'_>,
        value: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;

    fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()>;
    /// The values just written and their audit rows, in one transaction: the audit never
    /// misses a write the diff already counts as done.
    fn record_writes(
        &self,
        written: &[(ReplicaKey<'_>, Option<String>)],
        audit: &[AuditEntry],
        now: i64,
    ) -> StoreResult<()>;
    /// The audit rows of one field of one record, newest first.
    fn audit_of(&self, record: &str, field: &str, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    fn dead_letters(&self, include_replayed: bool) -> StoreResult<Vec<DeadLetter>>;
    fn dead_letter_by_id(&self, id: i64) -> StoreResult<Option<DeadLetter>>;
    /// Re-drives a dead letter: its event is pending again with no attempts spent.
    fn replay_dead_letter(&self, id: i64, now: i64) -> StoreResult<bool>;

    fn cursor(&self, name: &str) -> StoreResult<Option<String>>;
    fn set_cursor(&self, name: &str, value: &str) -> StoreResult<()>;

    fn backlog(&self, now: i64) -> StoreResult<Backlog>;
    /// Deletes up to `limit` done events last scheduled before `before` (unix ms: their
    /// `next_attempt_at`, never earlier than their arrival), except those a dead letter names;
    /// how many went. Pending, claimed and dead events, dead letters, audit rows, links and
    /// last-written values stay. A repeat of a pruned event's key is then new again: it runs
    /// and finds nothing to change (events are hints, state is truth).
    fn prune_done(&self, before: i64, limit: usize) -> StoreResult<usize>;

    // Workflows (schema migration 2; see [`workflows`]).

    /// The last value seen of a trigger field: `None` never seen, `Some(None)` seen empty.
    fn observed_value(&self, key: &ObservedKey) -> StoreResult<Option<Option<String>>>;
    /// Records the observed values and starts the runs in one transaction; a run whose
    /// (workflow, trigger key) exists is left as it is. Returns the ids of the new runs.
    fn start_runs(
        &self,
        observed: &[(ObservedKey, Option<String>)],
        runs: &[NewRun],
        now: i64,
    ) -> StoreResult<Vec<i64>>;
    /// The runs started by these trigger keys that are not done, oldest first.
    fn unfinished_runs(&self, trigger_keys: &[&str]) -> StoreResult<Vec<WorkflowRun>>;
    /// Every run a record triggered, oldest first.
    fn runs_of_record(&self, system: &str, record_id: &str) -> StoreResult<Vec<WorkflowRun>>;
    /// The steps of a run that were begun or finished.
    fn run_steps(&self, run: i64) -> StoreResult<Vec<StepState>>;
    /// Marks a step begun (one more attempt), before its platform call; a done step stays done.
    fn begin_step(&self, run: i64, step: u32, now: i64) -> StoreResult<()>;
    /// Marks a step done with its output (JSON) and appends its audit rows, in one transaction.
    fn finish_step(
        &self,
        run: i64,
        step: u32,
        output: &str,
        audit: &[AuditEntry],
        now: i64,
    ) -> StoreResult<()>;
    fn finish_run(&self, run: i64, now: i64) -> StoreResult<()>;
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
pub(crate) mod tests;
