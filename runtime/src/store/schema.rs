//! The SQLite schema as numbered migrations. Each runs once, in order, inside a transaction
//! that also records it in `schema_migrations`; a database newer than this binary is refused.

use rusqlite::{params, Connection};

use super::{StoreError, StoreResult};

/// Migrations, oldest first. Never edit a published one: append.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE inbox (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    system           TEXT NOT NULL,
    object           TEXT NOT NULL,
    record_id        TEXT NOT NULL,
    record_key       TEXT NOT NULL,
    operation        TEXT NOT NULL,
    echo             INTEGER NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    covers_through   INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT
);
CREATE INDEX inbox_due ON inbox (status, next_attempt_at, id);
CREATE INDEX inbox_record ON inbox (record_key, status, id);

CREATE TABLE links (
    link        TEXT NOT NULL,
    left_id     TEXT NOT NULL,
    right_id    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (link, left_id),
    UNIQUE (link, right_id)
);

CREATE TABLE last_written (
    link        TEXT NOT NULL,
    system      TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT,
    written_at  INTEGER NOT NULL,
    PRIMARY KEY (link, system, record_id, field)
);

CREATE TABLE audit (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    source_system  TEXT NOT NULL,
    source_event   TEXT NOT NULL,
    link           TEXT NOT NULL,
    rule           TEXT NOT NULL,
    target_system  TEXT NOT NULL,
    target_object  TEXT NOT NULL,
    target_record  TEXT NOT NULL,
    field          TEXT NOT NULL,
    old_value      TEXT,
    new_value      TEXT,
    plan_hash      TEXT NOT NULL,
    outcome        TEXT NOT NULL
);
CREATE INDEX audit_field ON audit (target_record, field, id);

CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY,
    event_id     INTEGER NOT NULL REFERENCES inbox (id),
    at           INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    replayed_at  INTEGER
);

CREATE TABLE cursors (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"#,
    ),
    (2, WORKFLOWS),
    (
        3,
        r#"
-- A link ends when one of its records is gone (deleted, or 404 on read or write). The row
-- stays, so a later event of the survivor neither writes to the dead twin nor opens a new one.
ALTER TABLE links ADD COLUMN ended_at INTEGER;
ALTER TABLE links ADD COLUMN ended_reason TEXT;
"#,
    ),
    (4, CACHE_EPOCH),
    (5, WITHOUT_ROWID),
    (6, UNFINISHED_BY_RECORD),
    (7, DEAD_LETTERS_BY_EVENT),
    (8, PENDING_BY_DUE),
];

/// Migration 8: the inbox's due index holds pending events only, in due order. Keyed by
/// status, every event's claim and finish moved its entry (a delete and an insert each, on
/// the claimed and done sections' pages, in every engine commit), and the done section grew
/// with the whole history. Now an event enters it when stored (or re-queued) and leaves it
/// when claimed. Queries must say `status = 'pending'` for SQLite to use it; the others by
/// status go through `inbox_record` (migration 6). Retention (`Store::prune_done`) finds the
/// done events older than its cut-off through `inbox_done`, which holds done events only, by
/// the time they were last scheduled: a finish appends at its right edge (a page every
/// commit's events share), where the old index moved each entry twice at scattered places.
const PENDING_BY_DUE: &str = r#"
DROP INDEX inbox_due;
CREATE INDEX inbox_due ON inbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX inbox_done ON inbox (next_attempt_at, id) WHERE status = 'done';
"#;

/// Migration 7: done inbox rows are pruned after the retention period (`Store::prune_done`),
/// except those a dead letter names (`seam dlq list --all` shows a replayed letter with its
/// event). This index answers "does a dead letter name this event" for each candidate, and
/// the foreign key check of each deleted inbox row (`dead_letters.event_id REFERENCES
/// inbox`), without a scan of the dead letters per row.
const DEAD_LETTERS_BY_EVENT: &str = r#"
CREATE INDEX dead_letters_event ON dead_letters (event_id);
"#;

/// Migration 6: the inbox's per-record index holds unfinished events only (`pending`,
/// `claimed`). Every query through it asks for those (claims, the covered range, marking done),
/// and done events, never pruned, made it grow with the whole history: each event's three
/// status changes landed on a random page of a large B-tree (a WAL frame each, re-read after
/// every page-cache reset). Now it is as large as the backlog, and its pages stay hot.
/// Queries must name the index's condition word for word (`status IN ('pending',
/// 'claimed')`) for SQLite to use it.
const UNFINISHED_BY_RECORD: &str = r#"
DROP INDEX inbox_record;
CREATE INDEX inbox_record ON inbox (record_key, status, id)
    WHERE status IN ('pending', 'claimed');
"#;

/// Migration 5: `last_written` and `workflow_observed` keyed by their primary key alone
/// (`WITHOUT ROWID`). As rowid tables each was two B-trees (the rows by rowid and the key's
/// index), so every event's upsert touched two random pages per table where one does now;
/// nothing reads their rowids. The rows are copied as they are; dropping a table drops its
/// epoch triggers (migration 4), so they are made again, the same.
const WITHOUT_ROWID: &str = r#"
CREATE TABLE last_written_v5 (
    link        TEXT NOT NULL,
    system      TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT,
    written_at  INTEGER NOT NULL,
    PRIMARY KEY (link, system, record_id, field)
) WITHOUT ROWID;
INSERT INTO last_written_v5 (link, system, record_id, field, value, written_at)
    SELECT link, system, record_id, field, value, written_at FROM last_written;
DROP TABLE last_written;
ALTER TABLE last_written_v5 RENAME TO last_written;
CREATE TRIGGER last_written_epoch_insert AFTER INSERT ON last_written
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER last_written_epoch_update AFTER UPDATE ON last_written
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER last_written_epoch_delete AFTER DELETE ON last_written
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TABLE workflow_observed_v5 (
    system       TEXT NOT NULL,
    object       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    value        TEXT,
    observed_at  INTEGER NOT NULL,
    PRIMARY KEY (system, object, record_id, field)
) WITHOUT ROWID;
INSERT INTO workflow_observed_v5 (system, object, record_id, field, value, observed_at)
    SELECT system, object, record_id, field, value, observed_at FROM workflow_observed;
DROP TABLE workflow_observed;
ALTER TABLE workflow_observed_v5 RENAME TO workflow_observed;
CREATE TRIGGER workflow_observed_epoch_insert AFTER INSERT ON workflow_observed
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_observed_epoch_update AFTER UPDATE ON workflow_observed
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_observed_epoch_delete AFTER DELETE ON workflow_observed
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
"#;

/// Migration 4: a counter of changes to the tables the runtime keeps in memory
/// (`super::cache`). Triggers bump it whoever writes (`seam reconcile --apply`, an older
/// binary, another runtime), so a runtime that finds it moved by a write not its own drops
/// what it holds.
const CACHE_EPOCH: &str = r#"
CREATE TABLE cache_epoch (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO cache_epoch (id, n) VALUES (1, 0);
CREATE TRIGGER links_epoch_insert AFTER INSERT ON links
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER links_epoch_update AFTER UPDATE ON links
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER links_epoch_delete AFTER DELETE ON links
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER last_written_epoch_insert AFTER INSERT ON last_written
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER last_written_epoch_update AFTER UPDATE ON last_written
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER last_written_epoch_delete AFTER DELETE ON last_written
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_observed_epoch_insert AFTER INSERT ON workflow_observed
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_observed_epoch_update AFTER UPDATE ON workflow_observed
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_observed_epoch_delete AFTER DELETE ON workflow_observed
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_runs_epoch_insert AFTER INSERT ON workflow_runs
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_runs_epoch_update AFTER UPDATE ON workflow_runs
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER workflow_runs_epoch_delete AFTER DELETE ON workflow_runs
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
"#;

/// Migration 2: durable workflow execution (`runtime/src/workflow/`).
///
/// - `workflow_observed`: the last value of each trigger field seen per record, so a
///   transition (`becomes`, `changes`) is detected against state, not against one event.
/// - `workflow_runs`: one row per (workflow, trigger key); the key is unique, so a duplicate or
///   replayed trigger never starts a second run.
/// - `workflow_steps`: a step is `begun` before its platform call (attempts counted) and `done`
///   with its output (created id, channel id, message ts) after it; a resumed run skips the
///   done steps and, for a begun one, first looks for what an interrupted attempt made.
const WORKFLOWS: &str = r#"
CREATE TABLE workflow_observed (
    system       TEXT NOT NULL,
    object       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    value        TEXT,
    observed_at  INTEGER NOT NULL,
    PRIMARY KEY (system, object, record_id, field)
);

CREATE TABLE workflow_runs (
    id           INTEGER PRIMARY KEY,
    workflow     TEXT NOT NULL,
    trigger_key  TEXT NOT NULL,
    system       TEXT NOT NULL,
    object       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    UNIQUE (workflow, trigger_key)
);
CREATE INDEX workflow_runs_trigger ON workflow_runs (trigger_key, status);
CREATE INDEX workflow_runs_record ON workflow_runs (system, record_id, id);

CREATE TABLE workflow_steps (
    run_id       INTEGER NOT NULL REFERENCES workflow_runs (id),
    step         INTEGER NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    begun_at     INTEGER NOT NULL,
    finished_at  INTEGER,
    output       TEXT,
    PRIMARY KEY (run_id, step)
);
"#;

/// Brings the database up to the newest migration.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    migrate_to(conn, MIGRATIONS.last().map_or(0, |m| m.0))
}

/// Brings the database up to migration `target` (tests make older files with it).
pub(super) fn migrate_to(conn: &mut Connection, target: i64) -> StoreResult<()> {
    let err = |op| move |source| StoreError::Sqlite { op, source };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(err("create schema_migrations"))?;
    let current: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(err("read schema version"))?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(StoreError::Other(format!(
            "the database is at schema version {current}, newer than this seam ({newest}); upgrade seam"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current && m.0 <= target) {
        let tx = conn.transaction().map_err(err("begin migration"))?;
        tx.execute_batch(sql).map_err(err("apply migration"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, super::now_ms()],
        )
        .map_err(err("record migration"))?;
        tx.commit().map_err(err("commit migration"))?;
    }
    Ok(())
}

/// The schema version of an open database.
pub fn version(conn: &Connection) -> StoreResult<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
    .map_err(|source| StoreError::Sqlite {
        op: "read schema version",
        source,
    })
}
