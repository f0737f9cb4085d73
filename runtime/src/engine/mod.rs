//! The engine: one claimed event -> read the source record -> compute the replica values
//! through the Plan -> write only the difference, audited.
//!
//! Guarantees:
//! - Events are hints, state is truth: the source record is read from its platform; the event
//!   body is not trusted for values.
//! - Only fields the Plan lets this direction write are sent: ownership is checked again here
//!   (`allowed`), and a write it does not allow is refused and audited, never sent.
//! - Only the difference against the values last written is written, so the echo of our own
//!   write finds nothing to do even when the platform's echo marker is missing.
//! - A twin is created through the link key: the key is looked up first, so a retry or a
//!   duplicate event never makes a second one.
//! - A delete is not carried across: a record found gone (its delete event's read, any read
//!   or write that 404s) ends its pair, and an ended pair is never written to or re-opened
//!   (`sync`). Each system of record owns its records' lifecycle.
//! - After the links, the workflows that watch the event's record run ([`crate::workflow`]):
//!   their triggers are detected against state, and their steps run durably, each once.

pub mod effects;
pub mod paths;
pub mod platform;
pub mod sync;
pub mod values;
pub mod worker;

use rand::Rng;
use seam_compiler::plan::{FieldPath, ObjectPath, Plan, PlanLink, RetryPolicy};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::connectors::slack::SlackClient;
use crate::connectors::{ConnectorError, ErrorClass};
use crate::metrics::Metrics;
use crate::store::{InboxEvent, Store, StoreError};
use effects::Effects;
use paths::{Dialect, RecordView, Wants};
use platform::Platform;

/// Why one event could not be applied: the record, the field or rule when known, the cause.
#[derive(Debug, Clone)]
pub struct SyncError {
    pub message: String,
    pub class: ErrorClass,
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl SyncError {
    pub fn permanent(message: String) -> SyncError {
        SyncError {
            message,
            class: ErrorClass::Permanent,
        }
    }

    pub fn connector(context: &str, e: ConnectorError) -> SyncError {
        SyncError {
            message: format!("{context}: {e}"),
            class: e.class,
        }
    }
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> SyncError {
        SyncError {
            message: e.to_string(),
            class: ErrorClass::Retryable { after: None },
        }
    }
}

/// What handling an event did, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Something was written or created.
    Synced,
    /// Our own write coming back.
    Echo,
    /// Nothing differed.
    Nothing,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Synced => "synced",
            Outcome::Echo => "echo",
            Outcome::Nothing => "nothing",
        }
    }

    /// Did handling read the record's current state? Only then does finishing the event also
    /// finish the later events of the record it covers.
    pub fn read_state(self) -> bool {
        matches!(self, Outcome::Synced | Outcome::Nothing)
    }
}

pub struct Engine {
    pub plan: Arc<Plan>,
    pub store: Arc<dyn Store>,
    pub platforms: HashMap<String, Platform>,
    /// Slack systems by alias, for workflow actions and alerts.
    pub slack: HashMap<String, SlackClient>,
    pub metrics: Arc<Metrics>,
    pub retry: RetryPolicy,
    /// One lock per linked pair (link + left id) while its diff is computed and written: the
    /// two sides of a pair are different records, so the inbox may run them in parallel, and
    /// without this both could find no last-written value and write the same value twice.
    /// In memory: one runtime per database (several runtimes will need the store to lock).
    pub pair_locks: Arc<PairLocks>,
}

/// Keyed async locks, dropped from the map when no one holds or waits for them.
#[derive(Default)]
pub struct PairLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

/// A held pair lock; releasing it forgets the key when no one else wants it.
pub struct PairGuard {
    locks: Arc<PairLocks>,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl PairLocks {
    pub async fn lock(self: &Arc<Self>, key: String) -> PairGuard {
        let m = {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = m.lock_owned().await;
        PairGuard {
            locks: self.clone(),
            key,
            guard: Some(guard),
        }
    }
}

impl Drop for PairGuard {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.0.lock().unwrap_or_else(|e| e.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

/// The retry policy when the Plan has none.
pub fn default_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 5,
        backoff: Some(seam_compiler::plan::Backoff {
            min_ms: 1_000,
            max_ms: 60_000,
        }),
    }
}

impl Engine {
    /// Applies one event: its record is read once, with what every link direction and every
    /// workflow trigger that watches it asks, then each link is synced and each workflow
    /// detected over that one view of the record.
    ///
    /// What it writes to the store on the way to its twins is gathered in `effects`, to be
    /// committed with the event's fate ([`effects`]).
    pub async fn handle(
        &self,
        event: &InboxEvent,
        effects: &Effects,
    ) -> Result<Outcome, SyncError> {
        let e = &event.event;
        if e.echo {
            return Ok(Outcome::Echo);
        }
        let mut directions = Vec::new();
        for link in &self.plan.links {
            for from_left in [true, false] {
                let side = if from_left { &link.left } else { &link.right };
                if side.system == e.system && side.object == e.object {
                    directions.push(sync::Context {
                        engine: self,
                        link,
                        from_left,
                        cause: &e.idempotency_key,
                        effects: Some(effects),
                    });
                }
            }
        }
        let watching = crate::workflow::watching(self, &e.system, &e.object);
        if directions.is_empty() && watching.is_empty() {
            return Ok(Outcome::Nothing);
        }
        let platform = self.platform(&e.system)?;
        let mut wants = Wants::new(Dialect::of(platform));
        wants.field(platform.id_field());
        for ctx in &directions {
            ctx.source_wants(&mut wants, platform);
        }
        crate::workflow::trigger_wants(&watching, &mut wants);
        let source = ObjectPath {
            system: e.system.clone(),
            object: e.object.clone(),
        };
        let record = self.read(&source, &e.record_id, &wants).await?;
        let mut outcome = Outcome::Nothing;
        for ctx in &directions {
            let opened = sync::Open::IfRuleHolds;
            if ctx
                .run_on(&e.record_id, record.as_ref(), opened, true)
                .await?
            {
                outcome = Outcome::Synced;
            }
        }
        let record = record.as_ref();
        if crate::workflow::on_event(self, event, &watching, record, effects).await? {
            outcome = Outcome::Synced;
        }
        Ok(outcome)
    }

    /// Reads record `id` of `object` with everything `wants` lists (`None`: it does not
    /// exist).
    pub async fn read(
        &self,
        object: &ObjectPath,
        id: &str,
        wants: &Wants,
    ) -> Result<Option<RecordView>, SyncError> {
        let platform = self.platform(&object.system)?;
        paths::read(platform, &object.object, id, wants)
            .await
            .map_err(|e| SyncError::connector(&format!("reading {object} `{id}`"), e))
    }

    pub fn platform(&self, alias: &str) -> Result<&Platform, SyncError> {
        self.platforms.get(alias).ok_or_else(|| {
            SyncError::permanent(format!("system `{alias}` has no connector configured"))
        })
    }

    /// May `link` write `target` from the owner `source_system`? The Plan's ownership says so
    /// only when the target is a replica of a field that system owns, through this link.
    pub fn allowed(&self, link: &PlanLink, source_system: &str, target: &FieldPath) -> bool {
        self.plan.ownership.iter().any(|o| {
            o.owner == source_system
                && o.replicas
                    .iter()
                    .any(|r| r.link == link.name && &r.field == target)
        })
    }

    /// When the next attempt may run, after `attempts` failed ones.
    pub fn backoff(&self, attempts: u32, class: ErrorClass) -> Duration {
        let (min, max) = self
            .retry
            .backoff
            .as_ref()
            .map_or((1_000, 60_000), |b| (b.min_ms, b.max_ms.max(b.min_ms)));
        if class == ErrorClass::LimitExceeded {
            return Duration::from_millis(max);
        }
        let exp = min
            .saturating_mul(1u64 << attempts.saturating_sub(1).min(30))
            .min(max);
        // Full jitter over the upper half: spreads a storm's retries without waiting less
        // than half the schedule.
        let jittered = rand::thread_rng().gen_range(exp / 2..=exp.max(1));
        let after = match class {
            ErrorClass::Retryable { after: Some(a) } => a.as_millis() as u64,
            _ => 0,
        };
        Duration::from_millis(jittered.max(after))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use seam_compiler::plan::Backoff;

    fn engine(dir: &tempfile::TempDir) -> Engine {
        let src = "seam s\nsystem sf: salesforce {\n  url = env(\"U\")\n}\n";
        let plan = match seam_compiler::compile(src) {
            (_, Some(p)) => p,
            (c, None) => panic!("{:?}", c.diagnostics),
        };
        Engine {
            plan: Arc::new(plan),
            store: Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap()),
            platforms: HashMap::new(),
            slack: HashMap::new(),
            metrics: Arc::new(Metrics::new()),
            retry: RetryPolicy {
                attempts: 8,
                backoff: Some(Backoff {
                    min_ms: 1_000,
                    max_ms: 300_000,
                }),
            },
            pair_locks: Default::default(),
        }
    }

    #[test]
    fn backoff_grows_caps_and_honours_the_platform() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let plain = ErrorClass::Retryable { after: None };
        let first = e.backoff(1, plain).as_millis();
        assert!((500..=1_000).contains(&first), "{first}");
        let fourth = e.backoff(4, plain).as_millis();
        assert!((4_000..=8_000).contains(&fourth), "{fourth}");
        let late = e.backoff(30, plain).as_millis();
        assert!((150_000..=300_000).contains(&late), "{late}");
        let told = ErrorClass::Retryable {
            after: Some(Duration::from_secs(30)),
        };
        assert!(e.backoff(1, told).as_millis() >= 30_000);
        assert_eq!(e.backoff(1, ErrorClass::LimitExceeded).as_millis(), 300_000);
    }
}
