//! What the runtime's engine store keeps in memory of the rows it looks up for every event:
//! link rows, last-written values, observed trigger values, and which trigger keys may have an
//! unfinished workflow run. Reading them from SQLite cost the runtime an eighth of its CPU
//! (`perf`, load benchmark): in WAL mode a connection drops its page cache whenever another
//! connection committed, and the inbox and the engine commit all the time, so every lookup
//! re-read its pages.
//!
//! Guarantees:
//! - **Other writers are noticed.** Every change to the tables held here (`links`,
//!   `last_written`, `workflow_observed`, `workflow_runs`) bumps `cache_epoch.n` (triggers of
//!   schema migration 4), whoever makes it: `seam reconcile --apply`, an older binary, a
//!   second runtime. The engine's grouped transactions (finishes and claims: every event is
//!   claimed in one before it is handled) read the counter first; when it is not the value
//!   their last commit left, something else wrote and the cache is dropped before anything of
//!   the event is read. A write committed while an event is being handled is seen by its next
//!   event, as a read made a moment before that write would have been.
//! - **Own writes are applied on commit.** The grouped transactions apply their last-written
//!   and observed values to the cache once committed, before their callers are answered (so
//!   before a pair lock is released). Other writes of this store to those tables drop the
//!   cache (they are rare: opening a twin, ending a pair, starting a run).
//! - **A lookup never stores what was stale when it arrived.** A miss reads SQLite and keeps
//!   the answer only if no write was applied (and nothing dropped) since the miss began.
//! - Until a grouped transaction has read the counter, nothing is trusted: lookups read
//!   SQLite. The cache is bounded; past [`MAX_ENTRIES`] it starts over.

use rusqlite::{Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::{EventFinish, LinkRow, ObservedKey, StoreError, StoreResult};

/// Entries kept before the cache starts over (a few hundred bytes each).
pub const MAX_ENTRIES: usize = 100_000;

/// The answer of the cache to a lookup.
pub(super) enum Lookup<T> {
    /// Cached.
    Hit(T),
    /// Not cached: read SQLite, then offer the answer with this token.
    Miss(u64),
    /// Not trusted now: read SQLite and keep nothing.
    Off,
}

#[derive(Default)]
pub(super) struct Cache(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    /// `cache_epoch.n` as this store's last grouped commit left it; `None`: not validated.
    epoch: Option<i64>,
    /// Bumped by every change applied and every drop: a miss that began before one keeps
    /// nothing.
    generation: u64,
    /// `link \x1f L|R \x1f id` -> the pair (`None`: no pair).
    links: HashMap<String, Option<LinkRow>>,
    /// `link \x1f system \x1f record` -> every last-written field of that record.
    last_written: HashMap<String, HashMap<String, Option<String>>>,
    observed: HashMap<ObservedKey, Option<Option<String>>>,
    /// Every trigger key that may have an unfinished run (a superset: keys are added when
    /// runs start, and only a reload removes them).
    unfinished: HashSet<String>,
}

impl Inner {
    fn drop_all(&mut self) {
        self.epoch = None;
        self.generation += 1;
        self.links.clear();
        self.last_written.clear();
        self.observed.clear();
        self.unfinished.clear();
    }

    fn entries(&self) -> usize {
        self.links.len() + self.last_written.len() + self.observed.len()
    }
}

fn link_key(link: &str, left: bool, id: &str) -> String {
    format!("{link}\u{1f}{}\u{1f}{id}", if left { 'L' } else { 'R' })
}

fn record_key(link: &str, system: &str, record: &str) -> String {
    format!("{link}\u{1f}{system}\u{1f}{record}")
}

/// `cache_epoch.n` as `conn` sees it (`None` if the row is missing).
fn read_epoch(conn: &Connection) -> StoreResult<Option<i64>> {
    conn.prepare_cached("SELECT n FROM cache_epoch WHERE id = 1")
        .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
        .map_err(|source| StoreError::Sqlite {
            op: "read cache epoch",
            source,
        })
}

/// What a grouped transaction learnt at its start ([`Cache::begin`]).
pub(super) struct Begun {
    /// The trigger keys of unfinished runs, read when the cache had to start over.
    reloaded: Option<HashSet<String>>,
}

impl Cache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Only maps are changed under this lock: a panic cannot leave it half-changed in a
        // way that matters (at worst an entry is missing).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// At the start of a grouped write transaction (`conn` holds the write lock): drops the
    /// cache when the epoch moved since this store's last grouped commit.
    pub fn begin(&self, conn: &Connection) -> StoreResult<Begun> {
        let now = read_epoch(conn)?;
        let known = self.lock().epoch;
        if now.is_some() && now == known {
            return Ok(Begun { reloaded: None });
        }
        // Someone else wrote (or nothing was validated yet): start over, and stop trusting
        // what is held at once.
        self.lock().drop_all();
        let keys = conn
            .prepare_cached("SELECT trigger_key FROM workflow_runs WHERE status = 'running'")
            .and_then(|mut st| {
                st.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<HashSet<_>, _>>()
            })
            .map_err(|source| StoreError::Sqlite {
                op: "read unfinished runs",
                source,
            })?;
        Ok(Begun {
            reloaded: Some(keys),
        })
    }

    /// Before the commit of that transaction: the epoch its own writes leave.
    pub fn end(&self, conn: &Connection) -> StoreResult<Option<i64>> {
        read_epoch(conn)
    }

    /// After that transaction committed `batch`, leaving `epoch`: applies its values and
    /// trusts the cache up to that epoch.
    pub fn committed(&self, begun: Begun, epoch: Option<i64>, batch: &[EventFinish]) {
        let mut c = self.lock();
        c.generation += 1;
        if let Some(keys) = begun.reloaded {
            c.unfinished = keys;
        } else if c.epoch.is_none() {
            // Dropped by another write of this store while the transaction ran: its
            // unfinished keys are unknown until the next reload.
            return;
        }
        for f in batch {
            for w in &f.written {
                if let Some(fields) = c
                    .last_written
                    .get_mut(&record_key(&w.link, &w.system, &w.record))
                {
                    fields.insert(w.field.clone(), w.value.clone());
                }
            }
            for (k, v) in &f.observed {
                c.observed.insert(k.clone(), Some(v.clone()));
            }
        }
        if c.entries() > MAX_ENTRIES {
            c.links.clear();
            c.last_written.clear();
            c.observed.clear();
        }
        c.epoch = epoch;
    }

    /// After a write of this store to a cached table outside the grouped transactions, or a
    /// grouped transaction that failed: nothing is trusted until the next one.
    pub fn forget(&self) {
        self.lock().drop_all();
    }

    fn lookup<T: Clone>(&self, get: impl FnOnce(&Inner) -> Option<T>) -> Lookup<T> {
        let c = self.lock();
        if c.epoch.is_none() {
            return Lookup::Off;
        }
        match get(&c) {
            Some(v) => Lookup::Hit(v),
            None => Lookup::Miss(c.generation),
        }
    }

    /// Keeps a miss's answer if nothing changed since the miss.
    fn fill(&self, token: u64, put: impl FnOnce(&mut Inner)) {
        let mut c = self.lock();
        if c.epoch.is_some() && c.generation == token && c.entries() < MAX_ENTRIES {
            put(&mut c);
        }
    }

    pub fn link_row(&self, link: &str, left: bool, id: &str) -> Lookup<Option<LinkRow>> {
        self.lookup(|c| c.links.get(&link_key(link, left, id)).cloned())
    }

    pub fn fill_link_row(
        &self,
        token: u64,
        link: &str,
        left: bool,
        id: &str,
        row: &Option<LinkRow>,
    ) {
        self.fill(token, |c| {
            c.links.insert(link_key(link, left, id), row.clone());
        });
    }

    pub fn last_written_of(
        &self,
        link: &str,
        system: &str,
        record: &str,
    ) -> Lookup<HashMap<String, Option<String>>> {
        self.lookup(|c| {
            c.last_written
                .get(&record_key(link, system, record))
                .cloned()
        })
    }

    /// One last-written value, when its record's values are cached (`Hit(None)`: never
    /// written).
    pub fn last_written(
        &self,
        link: &str,
        system: &str,
        record: &str,
        field: &str,
    ) -> Lookup<Option<Option<String>>> {
        self.lookup(|c| {
            c.last_written
                .get(&record_key(link, system, record))
                .map(|fields| fields.get(field).cloned())
        })
    }

    pub fn fill_last_written_of(
        &self,
        token: u64,
        link: &str,
        system: &str,
        record: &str,
        fields: &HashMap<String, Option<String>>,
    ) {
        self.fill(token, |c| {
            c.last_written
                .insert(record_key(link, system, record), fields.clone());
        });
    }

    pub fn observed_value(&self, key: &ObservedKey) -> Lookup<Option<Option<String>>> {
        self.lookup(|c| c.observed.get(key).cloned())
    }

    pub fn fill_observed_value(
        &self,
        token: u64,
        key: &ObservedKey,
        value: &Option<Option<String>>,
    ) {
        self.fill(token, |c| {
            c.observed.insert(key.clone(), value.clone());
        });
    }

    /// `Hit(false)` when none of `trigger_keys` can have an unfinished run; otherwise the
    /// store must look.
    pub fn may_have_unfinished_runs(&self, trigger_keys: &[&str]) -> Lookup<bool> {
        self.lookup(|c| {
            if trigger_keys.iter().any(|k| c.unfinished.contains(*k)) {
                None
            } else {
                Some(false)
            }
        })
    }
}
