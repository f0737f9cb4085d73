//! The durable state of workflow runs (schema migration 2): observed trigger values, runs
//! keyed by (workflow, trigger key), and the steps each run has begun or finished. The SQLite
//! statements live here too, so [`super::sqlite`] only forwards to them.
//!
//! Guarantees (every backend keeps them):
//! - [`super::Store::start_runs`] records the observed values and the new runs in one
//!   transaction: a transition is never marked as seen without its run being durable.
//! - A (workflow, trigger key) pair starts at most one run, however often it is offered.
//! - [`super::Store::finish_step`] stores a step's output with its audit rows in one
//!   transaction: a step counted done is always explained by `seam why`.

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::{AuditEntry, StoreError, StoreResult};

/// One trigger field of one record, whose last seen value is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObservedKey {
    pub system: String,
    pub object: String,
    pub record: String,
    pub field: String,
}

/// A run to start: the workflow, the trigger that fired it, and the trigger record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    pub workflow: String,
    /// The idempotency key of the trigger event, or `created:<record id>` for a `created`
    /// trigger (which fires once per record whatever events announce it).
    pub trigger_key: String,
    pub system: String,
    pub object: String,
    pub record_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Done,
}

/// A stored run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: i64,
    pub workflow: String,
    pub trigger_key: String,
    pub system: String,
    pub object: String,
    pub record_id: String,
    pub status: RunStatus,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// An attempt was made (or is being made); whether the platform acted is unknown.
    Begun,
    /// Finished; its output is stored.
    Done,
}

/// What the store knows of one step of one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    /// 0-based position in the workflow's `do` block.
    pub step: u32,
    pub status: StepStatus,
    pub attempts: u32,
    /// When the first attempt began (Unix ms): an interrupted attempt's effect is not older.
    pub begun_at: i64,
    /// The step's result as JSON (`{"id": …}`, `{"channel": …}`), when done.
    pub output: Option<String>,
}

fn err(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { op, source }
}

const RUN_COLUMNS: &str =
    "id, workflow, trigger_key, system, object, record_id, status, started_at, finished_at";

fn run_row(r: &Row<'_>) -> rusqlite::Result<WorkflowRun> {
    let status: String = r.get(6)?;
    Ok(WorkflowRun {
        id: r.get(0)?,
        workflow: r.get(1)?,
        trigger_key: r.get(2)?,
        system: r.get(3)?,
        object: r.get(4)?,
        record_id: r.get(5)?,
        status: if status == "done" {
            RunStatus::Done
        } else {
            RunStatus::Running
        },
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
    })
}

pub(super) fn observed_value(
    conn: &Connection,
    k: &ObservedKey,
) -> StoreResult<Option<Option<String>>> {
    conn.prepare_cached(
        "SELECT value FROM workflow_observed WHERE system = ?1 AND object = ?2 \
         AND record_id = ?3 AND field = ?4",
    )
    .and_then(|mut st| {
        st.query_row(params![k.system, k.object, k.record, k.field], |r| r.get(0))
            .optional()
    })
    .map_err(err("read observed value"))
}

/// Records observed trigger values inside the caller's transaction.
pub(super) fn upsert_observed(
    conn: &Connection,
    observed: &[(ObservedKey, Option<String>)],
    now: i64,
) -> StoreResult<()> {
    if observed.is_empty() {
        return Ok(());
    }
    // An update, and an insert where it found no row, both `OR FAIL`: no statement journal
    // (see `sqlite::upsert_last_written`, which does the same for the same reason).
    let mut update = conn
        .prepare_cached(
            "UPDATE OR FAIL workflow_observed SET value = ?5, observed_at = ?6 \
             WHERE system = ?1 AND object = ?2 AND record_id = ?3 AND field = ?4",
        )
        .map_err(err("prepare observed value"))?;
    let mut insert = conn
        .prepare_cached(
            "INSERT OR FAIL INTO workflow_observed \
             (system, object, record_id, field, value, observed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(err("prepare observed value"))?;
    for (k, v) in observed {
        let args = params![k.system, k.object, k.record, k.field, v, now];
        if update.execute(args).map_err(err("write observed value"))? == 0 {
            insert.execute(args).map_err(err("write observed value"))?;
        }
    }
    Ok(())
}

pub(super) fn start_runs(
    conn: &mut Connection,
    observed: &[(ObservedKey, Option<String>)],
    runs: &[NewRun],
    now: i64,
) -> StoreResult<Vec<i64>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err("begin workflow runs"))?;
    let mut started = Vec::new();
    upsert_observed(&tx, observed, now)?;
    {
        let mut ins = tx
            .prepare_cached(
                "INSERT INTO workflow_runs (workflow, trigger_key, system, object, record_id, \
                 status, started_at) VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6) \
                 ON CONFLICT (workflow, trigger_key) DO NOTHING",
            )
            .map_err(err("prepare workflow run"))?;
        for r in runs {
            let n = ins
                .execute(params![
                    r.workflow,
                    r.trigger_key,
                    r.system,
                    r.object,
                    r.record_id,
                    now
                ])
                .map_err(err("insert workflow run"))?;
            if n == 1 {
                started.push(tx.last_insert_rowid());
            }
        }
    }
    tx.commit().map_err(err("commit workflow runs"))?;
    Ok(started)
}

pub(super) fn unfinished_runs(
    conn: &Connection,
    trigger_keys: &[&str],
) -> StoreResult<Vec<WorkflowRun>> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE trigger_key = ?1 \
             AND status = 'running' ORDER BY id"
        ))
        .map_err(err("prepare unfinished runs"))?;
    for key in trigger_keys {
        let rows = stmt
            .query_map([key], run_row)
            .map_err(err("query unfinished runs"))?;
        for r in rows {
            out.push(r.map_err(err("read unfinished run"))?);
        }
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

pub(super) fn runs_of_record(
    conn: &Connection,
    system: &str,
    record_id: &str,
) -> StoreResult<Vec<WorkflowRun>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE system = ?1 AND record_id = ?2 \
             ORDER BY id"
        ))
        .map_err(err("prepare runs of record"))?;
    let rows = stmt
        .query_map(params![system, record_id], run_row)
        .map_err(err("query runs of record"))?;
    rows.collect::<Result<_, _>>()
        .map_err(err("read runs of record"))
}

pub(super) fn run_steps(conn: &Connection, run: i64) -> StoreResult<Vec<StepState>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT step, status, attempts, begun_at, output FROM workflow_steps \
             WHERE run_id = ?1 ORDER BY step",
        )
        .map_err(err("prepare run steps"))?;
    let rows = stmt
        .query_map([run], |r| {
            let status: String = r.get(1)?;
            Ok(StepState {
                step: r.get(0)?,
                status: if status == "done" {
                    StepStatus::Done
                } else {
                    StepStatus::Begun
                },
                attempts: r.get(2)?,
                begun_at: r.get(3)?,
                output: r.get(4)?,
            })
        })
        .map_err(err("query run steps"))?;
    rows.collect::<Result<_, _>>()
        .map_err(err("read run steps"))
}

pub(super) fn begin_step(conn: &Connection, run: i64, step: u32, now: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO workflow_steps (run_id, step, status, attempts, begun_at) \
         VALUES (?1, ?2, 'begun', 1, ?3) ON CONFLICT (run_id, step) \
         DO UPDATE SET attempts = attempts + 1 WHERE status = 'begun'",
        params![run, step, now],
    )
    .map_err(err("begin step"))?;
    Ok(())
}

pub(super) fn finish_step(
    conn: &mut Connection,
    run: i64,
    step: u32,
    output: &str,
    audit: &[AuditEntry],
    now: i64,
) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err("begin finish step"))?;
    tx.execute(
        "INSERT INTO workflow_steps (run_id, step, status, attempts, begun_at, finished_at, output) \
         VALUES (?1, ?2, 'done', 1, ?3, ?3, ?4) ON CONFLICT (run_id, step) \
         DO UPDATE SET status = 'done', finished_at = ?3, output = ?4",
        params![run, step, now, output],
    )
    .map_err(err("finish step"))?;
    super::sqlite::insert_audit(&tx, audit)?;
    tx.commit().map_err(err("commit finish step"))
}

pub(super) fn finish_run(conn: &Connection, run: i64, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE workflow_runs SET status = 'done', finished_at = ?2 WHERE id = ?1",
        params![run, now],
    )
    .map_err(err("finish run"))?;
    Ok(())
}
