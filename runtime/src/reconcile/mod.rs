//! Drift detection and repair (`seam reconcile`, and `reconcile = every D` inside `seam run`).
//!
//! For every live linked pair in the store (or those of one link, or the pair of one record):
//! read both records once, compute what each replica should hold from its owner through the
//! Plan — the same values the event path computes (value maps, identities, display values) —
//! and compare them with what the replica holds. A difference is drift: someone wrote a
//! replica directly, or an event was lost.
//!
//! Guarantees:
//! - Reporting changes nothing: no write, no audit row, no last-written value.
//! - Repair goes through the engine's write path: the ownership guard, one update per record,
//!   audit rows whose `source_event` is `reconcile`, last-written values updated, so the
//!   repair's echo finds nothing to do. It holds the pair's lock (inside `seam run`) while it
//!   reads and writes.
//! - A pair whose record is gone (404) is reported as missing; repair ends the pair exactly
//!   as a delete would (see `engine::sync`): nothing is deleted, nothing re-created.
//! - One pair's failure (a timeout, a 500) is reported with the pair and does not stop the
//!   others.

use futures_util::stream::{self, StreamExt};
use seam_compiler::plan::{ObjectPath, PlanLink};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::engine::paths::{Dialect, RecordView, Wants};
use crate::engine::sync::{Change, Context};
use crate::engine::{Engine, SyncError};
use crate::store::LinkRow;

/// The audit's `source_event` of a repair.
pub const CAUSE: &str = "reconcile";

/// Pairs checked at once (each check is two or three reads).
const CONCURRENCY: usize = 8;

/// Which pairs to check.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only the pairs of this link.
    pub link: Option<String>,
    /// Only the pair(s) this record (a left or a right id) belongs to.
    pub record: Option<String>,
}

/// A replica field that does not hold what its owner says it should.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub link: String,
    /// The replica: `sf.Case` `500…` field `Incident_State__c`.
    pub system: String,
    pub object: String,
    pub record: String,
    pub field: String,
    /// What the owner's value makes of it (`None`: no value).
    pub expected: Option<String>,
    /// What the replica holds.
    pub actual: Option<String>,
    /// The owner record the expected value comes from.
    pub source_system: String,
    pub source_object: String,
    pub source_record: String,
    /// Written back by this run (`--apply`).
    pub repaired: bool,
}

/// A pair whose record is gone: the link row exists, the record answers 404.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub link: String,
    pub system: String,
    pub object: String,
    pub record: String,
    /// The record it was linked to, which still exists (unless both are gone).
    pub twin_record: String,
    /// The pair was ended by this run (`--apply`).
    pub ended: bool,
}

/// A pair that could not be checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairError {
    pub link: String,
    pub left: String,
    pub right: String,
    pub message: String,
}

/// What a run found (and, with repair, did).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Live pairs checked.
    pub pairs: u64,
    pub repair: bool,
    pub drift: Vec<Drift>,
    pub missing: Vec<Missing>,
    pub errors: Vec<PairError>,
}

impl Report {
    pub fn in_sync(&self) -> bool {
        self.drift.is_empty() && self.missing.is_empty() && self.errors.is_empty()
    }

    /// Everything found was repaired (or ended), and every pair could be checked.
    pub fn all_repaired(&self) -> bool {
        self.errors.is_empty()
            && self.drift.iter().all(|d| d.repaired)
            && self.missing.iter().all(|m| m.ended)
    }
}

/// Told how far a run is (a progress bar on a terminal).
pub trait Progress: Sync {
    fn start(&self, _pairs: u64) {}
    fn advance(&self) {}
}

/// No progress shown.
impl Progress for () {}

/// What one pair came to.
#[derive(Default)]
struct PairOutcome {
    drift: Vec<Drift>,
    missing: Vec<Missing>,
    error: Option<PairError>,
}

/// Checks the pairs in `scope`; with `repair`, writes the drifted fields back and ends the
/// pairs whose record is gone. An error only when the scope itself is wrong or the store
/// cannot be read; a pair's own failure is in the report.
pub async fn reconcile(
    engine: &Engine,
    scope: &Scope,
    repair: bool,
    progress: &dyn Progress,
) -> Result<Report, SyncError> {
    if let Some(name) = &scope.link {
        if !engine.plan.links.iter().any(|l| &l.name == name) {
            let known: Vec<&str> = engine.plan.links.iter().map(|l| l.name.as_str()).collect();
            return Err(SyncError::permanent(format!(
                "the spec has no link `{name}`; its links: {}",
                known.join(", ")
            )));
        }
    }
    let rows = engine.store.links(scope.link.as_deref())?;
    // Link indexes, not references: a stream closure taking a borrowed argument is not
    // general enough for `tokio::spawn` (rust-lang/rust#102211).
    let pairs: Vec<(usize, LinkRow)> = rows
        .into_iter()
        .filter(|r| r.live())
        .filter(|r| {
            scope
                .record
                .as_ref()
                .is_none_or(|id| &r.left_id == id || &r.right_id == id)
        })
        .filter_map(|r| {
            // Pairs of a link the spec no longer has are not the Plan's to judge.
            let link = engine.plan.links.iter().position(|l| l.name == r.link)?;
            Some((link, r))
        })
        .collect();
    progress.start(pairs.len() as u64);
    let mut report = Report {
        pairs: pairs.len() as u64,
        repair,
        ..Report::default()
    };
    let mut outcomes = stream::iter(pairs)
        .map(|(link, row)| async move {
            let outcome = match engine.plan.links.get(link) {
                Some(link) => check_pair(engine, link, &row, repair).await,
                None => PairOutcome::default(),
            };
            progress.advance();
            outcome
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(o) = outcomes.next().await {
        report.drift.extend(o.drift);
        report.missing.extend(o.missing);
        report.errors.extend(o.error);
    }
    report.drift.sort_by(|a, b| {
        (&a.link, &a.system, &a.record, &a.field).cmp(&(&b.link, &b.system, &b.record, &b.field))
    });
    report
        .missing
        .sort_by(|a, b| (&a.link, &a.record).cmp(&(&b.link, &b.record)));
    report
        .errors
        .sort_by(|a, b| (&a.link, &a.left).cmp(&(&b.link, &b.left)));
    Ok(report)
}

async fn check_pair(engine: &Engine, link: &PlanLink, row: &LinkRow, repair: bool) -> PairOutcome {
    let l2r = Context {
        engine,
        link,
        from_left: true,
        cause: CAUSE,
        effects: None,
    };
    // Inside `seam run` the events of this pair wait while it is repaired.
    let _pair = match repair {
        true => Some(engine.pair_locks.lock(l2r.pair_key(&row.left_id)).await),
        false => None,
    };
    match check_locked(engine, link, row, repair).await {
        Ok(o) => o,
        Err(e) => PairOutcome {
            error: Some(PairError {
                link: link.name.clone(),
                left: row.left_id.clone(),
                right: row.right_id.clone(),
                message: e.message,
            }),
            ..PairOutcome::default()
        },
    }
}

/// What one side of a pair is read for: the sources of its outgoing mappings (and its key
/// and `open` paths) and the replicas its incoming mappings write.
fn side_wants(ctx: &Context<'_>, incoming: &Context<'_>) -> Result<Wants, SyncError> {
    let platform = ctx.engine.platform(&ctx.source().system)?;
    let mut wants = Wants::new(Dialect::of(platform));
    ctx.source_wants(&mut wants, platform);
    for m in incoming.mappings() {
        wants.field(&m.target.field);
    }
    Ok(wants)
}

async fn check_locked(
    engine: &Engine,
    link: &PlanLink,
    row: &LinkRow,
    repair: bool,
) -> Result<PairOutcome, SyncError> {
    let ctx = |from_left| Context {
        engine,
        link,
        from_left,
        cause: CAUSE,
        effects: None,
    };
    let (l2r, r2l) = (ctx(true), ctx(false));
    let left = l2r
        .read(&link.left, &row.left_id, &side_wants(&l2r, &r2l)?)
        .await?;
    let right = r2l
        .read(&link.right, &row.right_id, &side_wants(&r2l, &l2r)?)
        .await?;
    let (left, right) = match (left, right) {
        (Some(l), Some(r)) => (l, r),
        (left, right) => return gone(&l2r, row, left.is_none(), right.is_none(), repair),
    };
    let mut drift = direction(&l2r, &row.left_id, &left, &row.right_id, &right, repair).await?;
    drift.extend(direction(&r2l, &row.right_id, &right, &row.left_id, &left, repair).await?);
    Ok(PairOutcome {
        drift,
        ..PairOutcome::default()
    })
}

/// One or both records of a pair are gone.
fn gone(
    ctx: &Context<'_>,
    row: &LinkRow,
    left_gone: bool,
    right_gone: bool,
    repair: bool,
) -> Result<PairOutcome, SyncError> {
    let link = ctx.link;
    let ended = match repair {
        true => ctx.end_pair(row, left_gone, "not found by reconcile")?,
        false => false,
    };
    let missing = |side: &ObjectPath, record: &str, twin: &str| Missing {
        link: link.name.clone(),
        system: side.system.clone(),
        object: side.object.clone(),
        record: record.into(),
        twin_record: twin.into(),
        ended,
    };
    let mut out = PairOutcome::default();
    if left_gone {
        out.missing
            .push(missing(&link.left, &row.left_id, &row.right_id));
    }
    if right_gone {
        out.missing
            .push(missing(&link.right, &row.right_id, &row.left_id));
    }
    Ok(out)
}

/// ServiceNow journal fields (`work_notes`, `comments`) take entries on write and read back
/// empty: there is nothing to compare.
fn comparable(dialect: Dialect, field: &str) -> bool {
    !(dialect == Dialect::ServiceNow && matches!(field, "work_notes" | "comments"))
}

/// The drift of one direction: the replicas on `twin` against what `source` asks for.
async fn direction<'a>(
    ctx: &Context<'a>,
    source_id: &str,
    source: &RecordView,
    twin_id: &str,
    twin: &RecordView,
    repair: bool,
) -> Result<Vec<Drift>, SyncError> {
    let wanted = ctx.wanted(source_id, source).await?;
    // Refusals are the event path's to audit; reconcile neither reports nor writes them.
    let (allowed, _refused) = ctx.partition(wanted);
    let (src, dst) = (ctx.source(), ctx.target());
    let dialect = Dialect::of(ctx.engine.platform(&dst.system)?);
    let mut drift = Vec::new();
    let mut changes = Vec::new();
    for w in allowed {
        let field = &w.mapping.target.field;
        let actual = twin.field(field);
        if actual == w.value || !comparable(dialect, field) {
            continue;
        }
        drift.push(Drift {
            link: ctx.link.name.clone(),
            system: dst.system.clone(),
            object: dst.object.clone(),
            record: twin_id.into(),
            field: field.clone(),
            expected: w.value.clone(),
            actual: actual.clone(),
            source_system: src.system.clone(),
            source_object: src.object.clone(),
            source_record: source_id.into(),
            repaired: false,
        });
        changes.push(Change {
            wanted: w,
            old: actual,
        });
    }
    if repair && !changes.is_empty() {
        ctx.write(source_id, twin_id, changes).await?;
        for d in &mut drift {
            d.repaired = true;
        }
    }
    Ok(drift)
}

/// `reconcile = every D` inside `seam run`: checks and repairs every pair each period until
/// `shutdown` turns true. Findings are logged; a failed run is logged and the next one runs.
pub async fn every(engine: Arc<Engine>, period: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        match reconcile(&engine, &Scope::default(), true, &()).await {
            Ok(r) if r.in_sync() => {
                tracing::debug!(pairs = r.pairs, "reconcile: every pair in sync")
            }
            Ok(r) => {
                for d in &r.drift {
                    tracing::warn!(link = %d.link, record = %d.record, field = %d.field, expected = ?d.expected, actual = ?d.actual, repaired = d.repaired, "reconcile: {}.{} drifted from {}.{} `{}`", d.system, d.object, d.source_system, d.source_object, d.source_record);
                }
                for m in &r.missing {
                    tracing::warn!(link = %m.link, record = %m.record, ended = m.ended, "reconcile: {}.{} `{}` is gone; its pair with `{}` ended", m.system, m.object, m.record, m.twin_record);
                }
                for e in &r.errors {
                    tracing::error!(link = %e.link, left = %e.left, right = %e.right, "reconcile: pair not checked: {}", e.message);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "reconcile: the run failed; the next runs in {period:?}")
            }
        }
    }
}
