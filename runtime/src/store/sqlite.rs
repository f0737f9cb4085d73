//! The embedded default store: one SQLite file in WAL mode, created on first open and migrated
//! ([`super::schema`]). One write connection behind a mutex per `SqliteStore`, or shared by
//! two ([`SqliteStore::sharing_writer`]); the runtime has two stores on the same file, each
//! with its own durability:
//!
//! - the inbox's, [`Durability::Full`] (`synchronous = FULL`): a commit is on disk when
//!   [`Store::insert_events`] returns, so an acknowledged event survives `kill -9` and power loss;
//! - the engine's, [`Durability::Normal`]: its commits survive `kill -9` (WAL), and the next
//!   FULL commit of the inbox flushes them too. What a power cut could lose there is
//!   re-derived by idempotency: an event not marked done runs again, a link is found again
//!   through its key, a last-written value missing only means one redundant write.
//!
//! They share one write connection, whose `synchronous` level is set to the store's before each
//! of its writes: in WAL mode a connection drops its whole page cache whenever another one
//! committed since its last transaction, so two write connections committing in turn re-read
//! every page they touched (B-tree interiors included), from the WAL, on every commit.
//!
//! Each store also keeps a connection for plain reads: in WAL mode a reader never waits for the
//! writer, so lookups (a link, the last-written values) answer in microseconds even while a
//! write waits for its turn or for an fsync.
//!
//! Stores of one process on one file share a [`WriteGate`]: a write transaction takes it
//! before `BEGIN IMMEDIATE`, so a writer waits for the other connection's commit on a mutex and
//! starts the moment it ends, instead of polling in SQLite's busy handler (which sleeps 1, 2,
//! 5, 10 ms… between tries). Other processes (`seam dlq replay`) still meet the busy timeout.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::cache::{Cache, Lookup};
use super::workflows::{self, NewRun, ObservedKey, StepState, WorkflowRun};
use super::{
    schema, AuditEntry, Backlog, DeadLetter, EventFinish, EventStatus, Fate, InboxEvent, Inserted,
    LinkRow, NewEvent, ReplicaKey, Store, StoreError, StoreResult,
};

/// How hard a connection's commits are pushed to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: durable against power loss when the commit returns.
    Full,
    /// `synchronous = NORMAL` (WAL): durable against a crash of the process.
    Normal,
}

pub struct SqliteStore {
    /// Writes, and reads that belong to a write transaction; shared with the stores made by
    /// [`SqliteStore::sharing_writer`].
    conn: Arc<Mutex<Connection>>,
    /// Whether the write connection is at `synchronous = FULL` now (else NORMAL): shared with
    /// it, changed only under its lock.
    full_now: Arc<AtomicBool>,
    /// This store's level, set on the write connection before each of its writes.
    durability: Durability,
    /// Plain reads.
    reader: Mutex<Connection>,
    gate: WriteGate,
    path: PathBuf,
    /// The lookups of every event, kept in memory ([`SqliteStore::caching`]).
    cache: Option<Cache>,
}

/// One writer at a time among the stores of this process on one file (see the module docs).
#[derive(Clone, Default)]
pub struct WriteGate(Arc<Mutex<()>>);

impl WriteGate {
    fn enter(&self) -> MutexGuard<'_, ()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn err(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { op, source }
}

impl SqliteStore {
    /// Opens (creating when absent) the database at `path` and migrates it, fully durable.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, Durability::Full)
    }

    pub fn open_with(path: &Path, durability: Durability) -> StoreResult<SqliteStore> {
        SqliteStore::open_gated(path, durability, WriteGate::default())
    }

    /// Opens with a write gate shared with the other stores of this process on `path`.
    pub fn open_gated(
        path: &Path,
        durability: Durability,
        gate: WriteGate,
    ) -> StoreResult<SqliteStore> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        let mut conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| open_err(e.to_string()))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(format!("journal mode is `{mode}`, not WAL")));
        }
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
        ))
        .map_err(|e| open_err(e.to_string()))?;
        {
            let _one_writer = gate.enter();
            schema::migrate(&mut conn)?;
        }
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            full_now: Arc::new(AtomicBool::new(durability == Durability::Full)),
            durability,
            reader: Mutex::new(open_reader(path)?),
            gate,
            path: path.to_path_buf(),
            cache: None,
        })
    }

    /// A second store on this one's file that shares its write connection (and write gate),
    /// with its own reader and `durability`: the write connection is set to a store's level
    /// before each of its writes, so each commit is as durable as its store says. For the
    /// runtime's engine beside its inbox: one write connection keeps its page cache across
    /// both's commits (see the module docs).
    pub fn sharing_writer(&self, durability: Durability) -> StoreResult<SqliteStore> {
        Ok(SqliteStore {
            conn: self.conn.clone(),
            full_now: self.full_now.clone(),
            durability,
            reader: Mutex::new(open_reader(&self.path)?),
            gate: self.gate.clone(),
            path: self.path.clone(),
            cache: None,
        })
    }

    /// Keeps link rows, last-written values, observed trigger values and the trigger keys of
    /// unfinished runs in memory, checked against other writers at every grouped transaction
    /// (finishes and claims; see [`super::cache`]). For the runtime's engine store: its every
    /// event is claimed in such a transaction before it is handled.
    pub fn caching(mut self) -> SqliteStore {
        self.cache = Some(Cache::default());
        self
    }

    /// Parses `sqlite://PATH` (or a bare path) and opens it.
    pub fn open_url(url: &str) -> StoreResult<SqliteStore> {
        SqliteStore::open_url_with(url, Durability::Full)
    }

    /// [`SqliteStore::open_url_with`] for the commands that read or repair a runtime's state
    /// (`seam why`, `dlq`, `links`, `reconcile`): a missing file is an error rather than a new,
    /// empty store, so a mistyped `--state` is not answered with "nothing here" (and leaves no
    /// stray file behind).
    pub fn open_existing_url(url: &str, durability: Durability) -> StoreResult<SqliteStore> {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if !Path::new(path).exists() {
            return Err(StoreError::Open {
                path: path.to_string(),
                reason: "no such file (`seam run` creates the state on its first start): \
                         check `--state` or SEAM_STATE"
                    .into(),
            });
        }
        SqliteStore::open_url_with(url, durability)
    }

    pub fn open_url_with(url: &str, durability: Durability) -> StoreResult<SqliteStore> {
        SqliteStore::open_url_gated(url, durability, WriteGate::default())
    }

    pub fn open_url_gated(
        url: &str,
        durability: Durability,
        gate: WriteGate,
    ) -> StoreResult<SqliteStore> {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        SqliteStore::open_gated(Path::new(path), durability, gate)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> StoreResult<i64> {
        schema::version(&self.read())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The write connection, with this process's write gate held: a writer in its turn. The
    /// connection is at this store's `synchronous` level (it may be shared with a store of
    /// another level).
    // INVARIANT: the gate is taken before the connection's mutex, everywhere.
    fn write(&self) -> StoreResult<(MutexGuard<'_, ()>, MutexGuard<'_, Connection>)> {
        let gate = self.gate.enter();
        let conn = self.lock();
        let full = self.durability == Durability::Full;
        if self.full_now.load(Ordering::Relaxed) != full {
            // Outside any transaction (each write ends its own before it lets go), and before
            // this one begins: the level applies to its commit.
            conn.execute_batch(if full {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            })
            .map_err(err("set synchronous"))?;
            self.full_now.store(full, Ordering::Relaxed);
        }
        Ok((gate, conn))
    }

    /// The write connection's `synchronous` level as a write of this store finds it (2 FULL,
    /// 1 NORMAL).
    #[cfg(test)]
    pub(super) fn write_synchronous(&self) -> StoreResult<i64> {
        let (_gate, conn) = self.write()?;
        conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(err("read synchronous"))
    }

    fn read(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A grouped write transaction (finishes and claims): the cache is checked against other
    /// writers at its start and brought up to date with `batch` once it committed.
    fn grouped<T>(
        &self,
        ops: (&'static str, &'static str),
        batch: &[EventFinish],
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let (_gate, mut conn) = self.write()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err(ops.0))?;
        let begun = match &self.cache {
            Some(c) => Some(c.begin(&tx)?),
            None => None,
        };
        // On an error the transaction rolls back: what the cache holds is still right.
        let out = f(&tx)?;
        let epoch = match &self.cache {
            Some(c) => c.end(&tx)?,
            None => None,
        };
        tx.commit().map_err(err(ops.1))?;
        if let (Some(c), Some(begun)) = (&self.cache, begun) {
            c.committed(begun, epoch, batch);
        }
        Ok(out)
    }

    /// After a write to a cached table outside [`Self::grouped`].
    fn forget(&self) {
        if let Some(c) = &self.cache {
            c.forget();
        }
    }
}

/// A connection for plain reads.
fn open_reader(path: &Path) -> StoreResult<Connection> {
    let open_err = |reason: String| StoreError::Open {
        path: path.display().to_string(),
        reason,
    };
    let reader = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
    reader
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| open_err(e.to_string()))?;
    Ok(reader)
}

const LINK_COLUMNS: &str = "link, left_id, right_id, created_at, ended_at, ended_reason";

fn link_row(r: &Row<'_>) -> rusqlite::Result<LinkRow> {
    Ok(LinkRow {
        link: r.get(0)?,
        left_id: r.get(1)?,
        right_id: r.get(2)?,
        created_at: r.get(3)?,
        ended_at: r.get(4)?,
        ended_reason: r.get(5)?,
    })
}

const EVENT_COLUMNS: &str = "id, idempotency_key, system, object, record_id, operation, echo, \
     payload, received_at, status, attempts, next_attempt_at, covers_through";

fn event_row(r: &Row<'_>) -> rusqlite::Result<InboxEvent> {
    let status: String = r.get(9)?;
    Ok(InboxEvent {
        id: r.get(0)?,
        event: NewEvent {
            idempotency_key: r.get(1)?,
            system: r.get(2)?,
            object: r.get(3)?,
            record_id: r.get(4)?,
            operation: r.get(5)?,
            echo: r.get(6)?,
            payload: r.get(7)?,
            received_at: r.get(8)?,
        },
        status: EventStatus::parse(&status).unwrap_or(EventStatus::Pending),
        attempts: r.get(10)?,
        next_attempt_at: r.get(11)?,
        covers_through: r.get(12)?,
    })
}

fn record_key(e: &NewEvent) -> String {
    format!("{}\u{1f}{}\u{1f}{}", e.system, e.object, e.record_id)
}

const AUDIT_COLUMNS: &str = "id, at, source_system, source_event, link, rule, target_system, \
     target_object, target_record, field, old_value, new_value, plan_hash, outcome";

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        source_system: r.get(2)?,
        source_event: r.get(3)?,
        link: r.get(4)?,
        rule: r.get(5)?,
        target_system: r.get(6)?,
        target_object: r.get(7)?,
        target_record: r.get(8)?,
        field: r.get(9)?,
        old_value: r.get(10)?,
        new_value: r.get(11)?,
        plan_hash: r.get(12)?,
        outcome: r.get(13)?,
    })
}

const DEAD_COLUMNS: &str = "d.id, d.event_id, d.at, d.reason, d.attempts, d.replayed_at, \
     i.idempotency_key, i.system, i.object, i.record_id, i.operation, i.echo, i.payload, i.received_at";

fn dead_row(r: &Row<'_>) -> rusqlite::Result<DeadLetter> {
    Ok(DeadLetter {
        id: r.get(0)?,
        event_id: r.get(1)?,
        at: r.get(2)?,
        reason: r.get(3)?,
        attempts: r.get(4)?,
        replayed_at: r.get(5)?,
        event: NewEvent {
            idempotency_key: r.get(6)?,
            system: r.get(7)?,
            object: r.get(8)?,
            record_id: r.get(9)?,
            operation: r.get(10)?,
            echo: r.get(11)?,
            payload: r.get(12)?,
            received_at: r.get(13)?,
        },
    })
}

/// Appends audit rows inside the caller's transaction.
pub(super) fn insert_audit(conn: &Connection, entries: &[AuditEntry]) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO audit (at, source_system, source_event, link, rule, target_system, \
             target_object, target_record, field, old_value, new_value, plan_hash, outcome) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .map_err(err("prepare audit"))?;
    for a in entries {
        stmt.execute(params![
            a.at,
            a.source_system,
            a.source_event,
            a.link,
            a.rule,
            a.target_system,
            a.target_object,
            a.target_record,
            a.field,
            a.old_value,
            a.new_value,
            a.plan_hash,
            a.outcome
        ])
        .map_err(err("insert audit"))?;
    }
    Ok(())
}

/// Upserts last-written values inside the caller's transaction: an update, and an insert
/// where it found no row.
///
/// Not `INSERT … ON CONFLICT DO UPDATE`: an upsert (and any statement whose `AFTER` trigger,
/// the cache epoch's, writes too) keeps a statement journal under the default `ABORT`, a copy
/// of every page it changes (allocations and copies on every event). `OR FAIL` needs none and
/// the trigger's `UPDATE` inherits it; neither statement can fail that way (the update sets
/// values, and the insert runs only where the update, in the same write transaction, found no
/// row), and every caller's transaction is rolled back whole on any error.
fn upsert_last_written(
    conn: &Connection,
    written: &[(ReplicaKey<'_>, Option<String>)],
    now: i64,
) -> StoreResult<()> {
    if written.is_empty() {
        return Ok(());
    }
    let mut update = conn
        .prepare_cached(UPDATE_LAST_WRITTEN)
        .map_err(err("prepare last written"))?;
    let mut insert = conn
        .prepare_cached(INSERT_LAST_WRITTEN)
        .map_err(err("prepare last written"))?;
    for (k, v) in written {
        let args = params![k.link, k.system, k.record, k.field, v, now];
        if update.execute(args).map_err(err("write last written"))? == 0 {
            insert.execute(args).map_err(err("write last written"))?;
        }
    }
    Ok(())
}

const UPDATE_LAST_WRITTEN: &str = "UPDATE OR FAIL last_written \
     SET value = ?5, written_at = ?6 \
     WHERE link = ?1 AND system = ?2 AND record_id = ?3 AND field = ?4";

const INSERT_LAST_WRITTEN: &str = "INSERT OR FAIL INTO last_written \
     (link, system, record_id, field, value, written_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

// The inbox's queries by record. `inbox_record` (migration 6) holds unfinished events only:
// SQLite uses it only for a query that states its condition, `status IN ('pending',
// 'claimed')`, as written there; `inbox_due` (migration 8) holds pending events only, for
// queries that say `status = 'pending'`, and `inbox_done` (migration 8) done events only, for
// retention (`store::tests` checks the plans).

/// Marks a claimed event and the events of its record it covers done.
///
/// `OR FAIL`: an `UPDATE` that may change several rows and may abort (the `NOT NULL` of
/// `status` under the default `ABORT`) makes SQLite keep a statement journal, a copy of every
/// page it changes so the statement alone can be undone: 1.7% of the runtime's CPU in the load
/// benchmark (allocations and page copies). It cannot fail here (`status` is set to a
/// constant), and every caller's transaction is rolled back whole on any error anyway.
pub(super) const MARK_DONE: &str = "UPDATE OR FAIL inbox SET status = 'done', last_error = NULL \
     WHERE record_key = ?1 AND id <= ?2 AND id >= ?3 AND status IN ('pending', 'claimed')";

/// The earliest unfinished event of each record, when it is pending and due, oldest due first.
pub(super) const CLAIMABLE: &str = "SELECT i.id, i.record_key FROM inbox i \
     WHERE i.status = 'pending' AND i.next_attempt_at <= ?1 \
       AND NOT EXISTS (SELECT 1 FROM inbox j \
                       WHERE j.record_key = i.record_key \
                         AND j.status IN ('pending', 'claimed') AND j.id < i.id) \
     ORDER BY i.next_attempt_at, i.id LIMIT ?2";

/// Claims one event, covering the pending events of its record queued so far; the claimed
/// row is returned ([`EVENT_COLUMNS`]), so a claim is one statement per event.
///
/// `OR FAIL`, as [`MARK_DONE`]: `RETURNING` is a trigger inside SQLite, which under the
/// default `ABORT` makes the statement keep a statement journal. It changes one row, sets
/// constants and a `MAX` over a set that holds the row itself, and cannot fail that way.
pub(super) const CLAIM_ONE: &str = "UPDATE OR FAIL inbox SET status = 'claimed', covers_through = \
       (SELECT MAX(id) FROM inbox WHERE record_key = ?2 AND status = 'pending' \
          AND status IN ('pending', 'claimed')) \
     WHERE id = ?1 \
     RETURNING id, idempotency_key, system, object, record_id, operation, echo, \
       payload, received_at, status, attempts, next_attempt_at, covers_through";

/// Whether anything is claimable (the reader's look before a claim).
pub(super) const ANY_CLAIMABLE: &str = "SELECT EXISTS (SELECT 1 FROM inbox i \
     WHERE i.status = 'pending' AND i.next_attempt_at <= ?1 \
       AND NOT EXISTS (SELECT 1 FROM inbox j \
                       WHERE j.record_key = i.record_key \
                         AND j.status IN ('pending', 'claimed') AND j.id < i.id))";

/// Takes back the claims of a runtime that stopped (at start). Through `inbox_record`: no
/// index is keyed by status since migration 8, so the condition is stated for it.
pub(super) const RELEASE_CLAIMS: &str = "UPDATE inbox SET status = 'pending' \
     WHERE status IN ('pending', 'claimed') AND status = 'claimed'";

/// The unfinished events and the oldest one's arrival, through `inbox_record`.
pub(super) const BACKLOG: &str = "SELECT COUNT(*), MIN(received_at) FROM inbox \
     WHERE status IN ('pending', 'claimed')";

/// Finishes a claimed event and the events of its record it covers.
fn mark_done(conn: &Connection, event: &InboxEvent) -> StoreResult<()> {
    conn.prepare_cached(MARK_DONE)
        .and_then(|mut st| {
            st.execute(params![
                record_key(&event.event),
                event.covers_through.max(event.id),
                event.id
            ])
        })
        .map_err(err("complete event"))?;
    Ok(())
}

fn mark_retry(
    conn: &Connection,
    id: i64,
    attempts: u32,
    next_attempt_at: i64,
    error: &str,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE inbox SET status = 'pending', attempts = ?2, next_attempt_at = ?3, \
         last_error = ?4 WHERE id = ?1",
    )
    .and_then(|mut st| st.execute(params![id, attempts, next_attempt_at, error]))
    .map_err(err("retry event"))?;
    Ok(())
}

/// Moves an event to the dead letters inside the caller's transaction; the letter's id.
fn mark_dead(
    conn: &Connection,
    id: i64,
    attempts: u32,
    reason: &str,
    now: i64,
) -> StoreResult<i64> {
    conn.execute(
        "UPDATE inbox SET status = 'dead', attempts = ?2, last_error = ?3 WHERE id = ?1",
        params![id, attempts, reason],
    )
    .map_err(err("mark dead"))?;
    conn.execute(
        "INSERT INTO dead_letters (event_id, at, reason, attempts) VALUES (?1, ?2, ?3, ?4)",
        params![id, now, reason, attempts],
    )
    .map_err(err("insert dead letter"))?;
    Ok(conn.last_insert_rowid())
}

/// Commits each event's finish inside the caller's transaction ([`Store::finish_events`]).
fn finish_in(conn: &Connection, batch: &[EventFinish]) -> StoreResult<()> {
    for f in batch {
        let written: Vec<_> = f
            .written
            .iter()
            .map(|w| (w.key(), w.value.clone()))
            .collect();
        upsert_last_written(conn, &written, f.at)?;
        insert_audit(conn, &f.audit)?;
        workflows::upsert_observed(conn, &f.observed, f.at)?;
        match &f.fate {
            Fate::Done(event) => mark_done(conn, event)?,
            Fate::Retry {
                id,
                attempts,
                next_attempt_at,
                error,
            } => mark_retry(conn, *id, *attempts, *next_attempt_at, error)?,
            Fate::Dead {
                id,
                attempts,
                reason,
            } => {
                mark_dead(conn, *id, *attempts, reason, f.at)?;
            }
        }
    }
    Ok(())
}

/// Claims up to `limit` due events inside the caller's write transaction ([`Store::claim_events`]).
fn claim_in(conn: &Connection, now: i64, limit: usize) -> StoreResult<Vec<InboxEvent>> {
    // The earliest unfinished event of each record, when it is pending and due. A claimed
    // event is unfinished too, so it blocks the rest of its record. Oldest due first: the
    // order of the `inbox_due` index, so the scan stops after `limit` claimable events
    // instead of sorting every due one (a claim under load used to cost a fifth of the
    // runtime's CPU).
    let ids: Vec<(i64, String)> = {
        let mut stmt = conn
            .prepare_cached(CLAIMABLE)
            .map_err(err("prepare claim"))?;
        let rows = stmt
            .query_map(params![now, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err("select claimable"))?;
        rows.collect::<Result<_, _>>()
            .map_err(err("read claimable"))?
    };
    let mut claimed = Vec::with_capacity(ids.len());
    let mut claim = conn
        .prepare_cached(CLAIM_ONE)
        .map_err(err("prepare claim"))?;
    for (id, key) in ids {
        let e = claim
            .query_row(params![id, key], event_row)
            .map_err(err("claim event"))?;
        claimed.push(e);
    }
    Ok(claimed)
}

/// Records a link ([`Store::put_link`]).
fn insert_link(
    conn: &Connection,
    link: &str,
    left_id: &str,
    right_id: &str,
    now: i64,
) -> StoreResult<()> {
    let existing: Option<String> = conn
        .query_row(
            "SELECT right_id FROM links WHERE link = ?1 AND left_id = ?2",
            params![link, left_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(err("read link"))?;
    match existing {
        Some(r) if r == right_id => Ok(()),
        Some(r) => Err(StoreError::Other(format!(
            "link `{link}`: `{left_id}` is already linked to `{r}`, not `{right_id}`"
        ))),
        None => conn
            .execute(
                "INSERT INTO links (link, left_id, right_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![link, left_id, right_id, now],
            )
            .map(|_| ())
            .map_err(err("insert link")),
    }
}

impl Store for SqliteStore {
    fn insert_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Inserted>> {
        let (_gate, mut conn) = self.write()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("begin insert"))?;
        let mut out = Vec::with_capacity(events.len());
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO inbox (idempotency_key, system, object, record_id, record_key, \
                     operation, echo, payload, status, next_attempt_at, received_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9) \
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .map_err(err("prepare insert"))?;
            for e in events {
                let n = stmt
                    .execute(params![
                        e.idempotency_key,
                        e.system,
                        e.object,
                        e.record_id,
                        record_key(e),
                        e.operation,
                        e.echo,
                        e.payload,
                        e.received_at
                    ])
                    .map_err(err("insert event"))?;
                out.push(if n == 1 {
                    Inserted::New(tx.last_insert_rowid())
                } else {
                    Inserted::Duplicate
                });
            }
        }
        tx.commit().map_err(err("commit events"))?;
        Ok(out)
    }

    fn claim_events(&self, now: i64, limit: usize) -> StoreResult<Vec<InboxEvent>> {
        // Most wake-ups under load find nothing new to claim: look on the reader first, so an
        // empty claim never waits for the write gate. (The claim below looks again: this read
        // only decides whether to bother.)
        let any: bool = self
            .read()
            .prepare_cached(ANY_CLAIMABLE)
            .and_then(|mut st| st.query_row([now], |r| r.get(0)))
            .map_err(err("look for claimable events"))?;
        if !any || limit == 0 {
            return Ok(Vec::new());
        }
        self.grouped(("begin claim", "commit claim"), &[], |tx| {
            claim_in(tx, now, limit)
        })
    }

    fn complete_event(&self, event: &InboxEvent) -> StoreResult<()> {
        let (_gate, conn) = self.write()?;
        mark_done(&conn, event)
    }

    fn retry_event(
        &self,
        id: i64,
        attempts: u32,
        next_attempt_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        let (_gate, conn) = self.write()?;
        mark_retry(&conn, id, attempts, next_attempt_at, error)
    }

    fn dead_letter(&self, id: i64, attempts: u32, reason: &str, now: i64) -> StoreResult<i64> {
        let (_gate, mut conn) = self.write()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("begin dead letter"))?;
        let dl = mark_dead(&tx, id, attempts, reason, now)?;
        tx.commit().map_err(err("commit dead letter"))?;
        Ok(dl)
    }

    fn finish_events(&self, batch: &[EventFinish]) -> StoreResult<()> {
        self.grouped(("begin finish", "commit finish"), batch, |tx| {
            finish_in(tx, batch)
        })
    }

    fn finish_and_claim(
        &self,
        batch: &[EventFinish],
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<InboxEvent>> {
        if batch.is_empty() {
            return self.claim_events(now, limit);
        }
        self.grouped(("begin finish", "commit finish"), batch, |tx| {
            finish_in(tx, batch)?;
            // After the fates: a record whose event just finished hands over its next one.
            if limit == 0 {
                Ok(Vec::new())
            } else {
                claim_in(tx, now, limit)
            }
        })
    }

    fn release_claims(&self) -> StoreResult<u64> {
        let n = self
            .write()?
            .1
            .execute(RELEASE_CLAIMS, [])
            .map_err(err("release claims"))?;
        Ok(n as u64)
    }

    fn event(&self, id: i64) -> StoreResult<Option<InboxEvent>> {
        self.read()
            .query_row(
                &format!("SELECT {EVENT_COLUMNS} FROM inbox WHERE id = ?1"),
                [id],
                event_row,
            )
            .optional()
            .map_err(err("read event"))
    }

    fn link_twin(&self, link: &str, left: bool, id: &str) -> StoreResult<Option<String>> {
        let sql = if left {
            "SELECT right_id FROM links WHERE link = ?1 AND left_id = ?2 AND ended_at IS NULL"
        } else {
            "SELECT left_id FROM links WHERE link = ?1 AND right_id = ?2 AND ended_at IS NULL"
        };
        self.read()
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row(params![link, id], |r| r.get(0)).optional())
            .map_err(err("read link"))
    }

    fn link_row(&self, link: &str, left: bool, id: &str) -> StoreResult<Option<LinkRow>> {
        let token = match self.cache.as_ref().map(|c| c.link_row(link, left, id)) {
            Some(Lookup::Hit(row)) => return Ok(row),
            Some(Lookup::Miss(token)) => Some(token),
            Some(Lookup::Off) | None => None,
        };
        let sql = if left {
            "SELECT link, left_id, right_id, created_at, ended_at, ended_reason FROM links \
             WHERE link = ?1 AND left_id = ?2"
        } else {
            "SELECT link, left_id, right_id, created_at, ended_at, ended_reason FROM links \
             WHERE link = ?1 AND right_id = ?2"
        };
        let row = self
            .read()
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row(params![link, id], link_row).optional())
            .map_err(err("read link"))?;
        if let (Some(c), Some(token)) = (&self.cache, token) {
            c.fill_link_row(token, link, left, id, &row);
        }
        Ok(row)
    }

    fn links(&self, link: Option<&str>) -> StoreResult<Vec<LinkRow>> {
        let conn = self.read();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE ?1 IS NULL OR link = ?1 \
                 ORDER BY link, left_id"
            ))
            .map_err(err("list links"))?;
        let rows = stmt
            .query_map(params![link], link_row)
            .map_err(err("list links"))?;
        rows.collect::<Result<_, _>>().map_err(err("list links"))
    }

    fn end_link(
        &self,
        link: &str,
        left_id: &str,
        right_id: &str,
        now: i64,
        reason: &str,
    ) -> StoreResult<bool> {
        let (_gate, conn) = self.write()?;
        let ended = conn
            .execute(
                "UPDATE links SET ended_at = ?4, ended_reason = ?5 WHERE link = ?1 \
                 AND left_id = ?2 AND right_id = ?3 AND ended_at IS NULL",
                params![link, left_id, right_id, now, reason],
            )
            .map(|n| n > 0)
            .map_err(err("end link"));
        drop(conn);
        self.forget();
        ended
    }

    fn put_link(&self, link: &str, left_id: &str, right_id: &str, now: i64) -> StoreResult<()> {
        let put = insert_link(&self.write()?.1, link, left_id, right_id, now);
        self.forget();
        put
    }

    fn pairs_of(&self, record: &str) -> StoreResult<Vec<LinkRow>> {
        // A scan of the links (their indexes lead with the link name): an operator's lookup,
        // never on an event's path.
        let conn = self.read();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE left_id = ?1 OR right_id = ?1 \
                 ORDER BY link, left_id"
            ))
            .map_err(err("find pairs"))?;
        let rows = stmt
            .query_map(params![record], link_row)
            .map_err(err("find pairs"))?;
        rows.collect::<Result<_, _>>().map_err(err("find pairs"))
    }

    fn resume_link(
        &self,
        link: &str,
        left_id: &str,
        right_id: &str,
        audit: &[AuditEntry],
    ) -> StoreResult<bool> {
        let resumed = {
            let (_gate, mut conn) = self.write()?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err("begin relink"))?;
            let n = tx
                .execute(
                    "UPDATE links SET ended_at = NULL, ended_reason = NULL WHERE link = ?1 \
                     AND left_id = ?2 AND right_id = ?3 AND ended_at IS NOT NULL",
                    params![link, left_id, right_id],
                )
                .map_err(err("resume link"))?;
            if n > 0 {
                insert_audit(&tx, audit)?;
            }
            tx.commit().map_err(err("commit relink"))?;
            n > 0
        };
        // The links table is cached: the epoch trigger tells other processes, this tells us.
        self.forget();
        Ok(resumed)
    }

    fn pair_history(&self, link: &str, records: &[&str]) -> StoreResult<Vec<AuditEntry>> {
        let conn = self.read();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE target_record = ?1 AND link = ?2 \
                 AND outcome IN ('created', 'unlinked', 'relinked') ORDER BY id"
            ))
            .map_err(err("prepare pair history"))?;
        let mut out = Vec::new();
        for record in records {
            let rows = stmt
                .query_map(params![record, link], audit_row)
                .map_err(err("query pair history"))?;
            for row in rows {
                out.push(row.map_err(err("read pair history"))?);
            }
        }
        out.sort_by_key(|a| a.id);
        Ok(out)
    }

    fn last_written(&self, k: &ReplicaKey<'_>) -> StoreResult<Option<Option<String>>> {
        if let Some(Lookup::Hit(v)) = self
            .cache
            .as_ref()
            .map(|c| c.last_written(k.link, k.system, k.record, k.field))
        {
            return Ok(v);
        }
        self.read()
            .prepare_cached(
                "SELECT value FROM last_written WHERE link = ?1 AND system = ?2 \
                 AND record_id = ?3 AND field = ?4",
            )
            .and_then(|mut st| {
                st.query_row(params![k.link, k.system, k.record, k.field], |r| r.get(0))
                    .optional()
            })
            .map_err(err("read last written"))
    }

    fn last_written_of(
        &self,
        link: &str,
        system: &str,
        record: &str,
    ) -> StoreResult<HashMap<String, Option<String>>> {
        let token = match self
            .cache
            .as_ref()
            .map(|c| c.last_written_of(link, system, record))
        {
            Some(Lookup::Hit(fields)) => return Ok(fields),
            Some(Lookup::Miss(token)) => Some(token),
            Some(Lookup::Off) | None => None,
        };
        let fields: HashMap<String, Option<String>> = {
            let conn = self.read();
            let mut st = conn
                .prepare_cached(
                    "SELECT field, value FROM last_written WHERE link = ?1 AND system = ?2 \
                     AND record_id = ?3",
                )
                .map_err(err("prepare last written"))?;
            let rows = st
                .query_map(params![link, system, record], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(err("read last written"))?;
            rows.collect::<Result<_, _>>()
                .map_err(err("read last written"))?
        };
        if let (Some(c), Some(token)) = (&self.cache, token) {
            c.fill_last_written_of(token, link, system, record, &fields);
        }
        Ok(fields)
    }

    fn set_last_written(
        &self,
        k: &ReplicaKey<'_>,
        value: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let set = self
            .write()?
            .1
            .execute(
                "INSERT INTO last_written (link, system, record_id, field, value, written_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (link, system, record_id, field) \
                 DO UPDATE SET value = excluded.value, written_at = excluded.written_at",
                params![k.link, k.system, k.record, k.field, value, now],
            )
            .map(drop)
            .map_err(err("write last written"));
        self.forget();
        set
    }

    fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        self.record_writes(&[], entries, 0)
    }

    fn record_writes(
        &self,
        written: &[(ReplicaKey<'_>, Option<String>)],
        entries: &[AuditEntry],
        now: i64,
    ) -> StoreResult<()> {
        let committed = {
            let (_gate, mut conn) = self.write()?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err("begin writes"))?;
            upsert_last_written(&tx, written, now)?;
            insert_audit(&tx, entries)?;
            tx.commit().map_err(err("commit writes"))
        };
        if !written.is_empty() {
            self.forget();
        }
        committed
    }

    fn audit_of(&self, record: &str, field: &str, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let conn = self.read();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE target_record = ?1 AND field = ?2 \
                 ORDER BY id DESC LIMIT ?3"
            ))
            .map_err(err("prepare audit query"))?;
        let rows = stmt
            .query_map(params![record, field, limit as i64], audit_row)
            .map_err(err("query audit"))?;
        rows.collect::<Result<_, _>>().map_err(err("read audit"))
    }

    fn dead_letters(&self, include_replayed: bool) -> StoreResult<Vec<DeadLetter>> {
        let conn = self.read();
        let filter = if include_replayed {
            ""
        } else {
            "WHERE d.replayed_at IS NULL"
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {DEAD_COLUMNS} FROM dead_letters d JOIN inbox i ON i.id = d.event_id \
                 {filter} ORDER BY d.id"
            ))
            .map_err(err("prepare dead letters"))?;
        let rows = stmt
            .query_map([], dead_row)
            .map_err(err("query dead letters"))?;
        rows.collect::<Result<_, _>>()
            .map_err(err("read dead letters"))
    }

    fn dead_letter_by_id(&self, id: i64) -> StoreResult<Option<DeadLetter>> {
        self.read()
            .query_row(
                &format!(
                    "SELECT {DEAD_COLUMNS} FROM dead_letters d JOIN inbox i ON i.id = d.event_id \
                     WHERE d.id = ?1"
                ),
                [id],
                dead_row,
            )
            .optional()
            .map_err(err("read dead letter"))
    }

    fn replay_dead_letter(&self, id: i64, now: i64) -> StoreResult<bool> {
        let (_gate, mut conn) = self.write()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("begin replay"))?;
        let event_id: Option<i64> = tx
            .query_row(
                "SELECT event_id FROM dead_letters WHERE id = ?1 AND replayed_at IS NULL",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("read dead letter"))?;
        let Some(event_id) = event_id else {
            return Ok(false);
        };
        tx.execute(
            "UPDATE dead_letters SET replayed_at = ?2 WHERE id = ?1",
            params![id, now],
        )
        .map_err(err("mark replayed"))?;
        tx.execute(
            "UPDATE inbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, \
             covers_through = 0 WHERE id = ?1 AND status = 'dead'",
            params![event_id, now],
        )
        .map_err(err("re-queue event"))?;
        tx.commit().map_err(err("commit replay"))?;
        Ok(true)
    }

    fn cursor(&self, name: &str) -> StoreResult<Option<String>> {
        self.read()
            .query_row("SELECT value FROM cursors WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err("read cursor"))
    }

    fn set_cursor(&self, name: &str, value: &str) -> StoreResult<()> {
        self.write()?
            .1
            .execute(
                "INSERT INTO cursors (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map_err(err("write cursor"))?;
        Ok(())
    }

    fn backlog(&self, now: i64) -> StoreResult<Backlog> {
        let conn = self.read();
        let (depth, oldest): (i64, Option<i64>) = conn
            .query_row(BACKLOG, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err("read backlog"))?;
        let dead: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM dead_letters WHERE replayed_at IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(err("count dead letters"))?;
        Ok(Backlog {
            depth: depth.max(0) as u64,
            oldest_pending_ms: oldest.map_or(0, |t| (now - t).max(0)),
            dead_letters: dead.max(0) as u64,
        })
    }

    fn prune_done(&self, before: i64, limit: usize) -> StoreResult<usize> {
        if limit == 0 {
            return Ok(0);
        }
        // A range of `inbox_done` (migration 8: done events by next_attempt_at) up to `limit`;
        // `dead_letters_event` (migration 7) answers the dead-letter check and the foreign key
        // check of each deleted row. One short transaction: the writers wait at most for it.
        let (_gate, conn) = self.write()?;
        conn.prepare_cached(
            "DELETE FROM inbox WHERE id IN (SELECT i.id FROM inbox i \
             WHERE i.status = 'done' AND i.next_attempt_at < ?1 \
               AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.event_id = i.id) \
             LIMIT ?2)",
        )
        .and_then(|mut st| st.execute(params![before, limit as i64]))
        .map_err(err("prune done events"))
    }

    fn observed_value(&self, key: &ObservedKey) -> StoreResult<Option<Option<String>>> {
        let token = match self.cache.as_ref().map(|c| c.observed_value(key)) {
            Some(Lookup::Hit(value)) => return Ok(value),
            Some(Lookup::Miss(token)) => Some(token),
            Some(Lookup::Off) | None => None,
        };
        let value = workflows::observed_value(&self.read(), key)?;
        if let (Some(c), Some(token)) = (&self.cache, token) {
            c.fill_observed_value(token, key, &value);
        }
        Ok(value)
    }

    fn start_runs(
        &self,
        observed: &[(ObservedKey, Option<String>)],
        runs: &[NewRun],
        now: i64,
    ) -> StoreResult<Vec<i64>> {
        let started = workflows::start_runs(&mut self.write()?.1, observed, runs, now);
        self.forget();
        started
    }

    fn unfinished_runs(&self, trigger_keys: &[&str]) -> StoreResult<Vec<WorkflowRun>> {
        if let Some(Lookup::Hit(false)) = self
            .cache
            .as_ref()
            .map(|c| c.may_have_unfinished_runs(trigger_keys))
        {
            return Ok(Vec::new());
        }
        workflows::unfinished_runs(&self.read(), trigger_keys)
    }

    fn runs_of_record(&self, system: &str, record_id: &str) -> StoreResult<Vec<WorkflowRun>> {
        workflows::runs_of_record(&self.read(), system, record_id)
    }

    fn run_steps(&self, run: i64) -> StoreResult<Vec<StepState>> {
        workflows::run_steps(&self.read(), run)
    }

    fn begin_step(&self, run: i64, step: u32, now: i64) -> StoreResult<()> {
        let (_gate, conn) = self.write()?;
        workflows::begin_step(&conn, run, step, now)
    }

    fn finish_step(
        &self,
        run: i64,
        step: u32,
        output: &str,
        audit: &[AuditEntry],
        now: i64,
    ) -> StoreResult<()> {
        let (_gate, mut conn) = self.write()?;
        workflows::finish_step(&mut conn, run, step, output, audit, now)
    }

    fn finish_run(&self, run: i64, now: i64) -> StoreResult<()> {
        let (_gate, conn) = self.write()?;
        workflows::finish_run(&conn, run, now)
    }
}
