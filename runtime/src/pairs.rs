//! Pairs as an operator manages them: `seam links relink` resumes a pair that ended because one
//! of its records was gone, once that record is back (restored from the Salesforce Recycle Bin
//! or ServiceNow's Deleted Records).
//!
//! Guarantees:
//! - Both records are read through the connectors first; a pair whose record still answers
//!   404 is refused and stays ended (nothing is written).
//! - Resuming clears the pair's end and appends a `relinked` audit row to each field of the
//!   survivor that the end marked `unlinked`, in one transaction: the history stays visible
//!   (`seam why`, `seam links show`), the end and the resume one after the other.
//! - Nothing is written to the platforms here. The last-written values of the pair were kept
//!   through its end, so the next event of either record writes what changed meanwhile, and
//!   `seam reconcile --apply` (or the caller, right after) repairs the rest.
//! - A live pair is left as it is.

use seam_compiler::plan::{ObjectPath, PlanLink};
use serde::Serialize;

use crate::engine::paths::{Dialect, Wants};
use crate::engine::platform::Platform;
use crate::engine::sync::{survivor_fields, Context};
use crate::engine::Engine;
use crate::store::{now_ms, AuditEntry, LinkRow};

/// The audit's `source_event` of a resume.
pub const CAUSE: &str = "relink";

/// What relinking did to one pair of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relinked {
    pub link: String,
    pub left_id: String,
    pub right_id: String,
    /// `true`: the pair was ended and is live again; `false`: it was live, nothing changed.
    pub resumed: bool,
    /// The record that had been gone and is back (`snow.incident `…``), when resumed.
    pub restored: Option<String>,
}

/// Why a relink did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelinkError {
    /// The operator's request cannot be done as it is: no pair holds the record, or one of its
    /// records is still gone (`seam links relink` exits 1).
    Refused(String),
    /// The spec, a platform or the store failed (exit 2).
    Failed(String),
}

impl std::fmt::Display for RelinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelinkError::Refused(m) | RelinkError::Failed(m) => f.write_str(m),
        }
    }
}

fn failed(e: impl std::fmt::Display) -> RelinkError {
    RelinkError::Failed(e.to_string())
}

/// Where an operator brings a deleted record back.
fn restore_hint(platform: &Platform) -> &'static str {
    match Dialect::of(platform) {
        Dialect::Salesforce => "restore it from the Salesforce Recycle Bin (or `undelete` it through Apex or the SOAP API)",
        Dialect::ServiceNow => "restore it in ServiceNow (System Definition > Deleted Records > Undelete Record)",
    }
}

/// Resumes the ended pairs `record` (a left or a right id) belongs to, of `link` or of every
/// link. Every pair is checked before any is resumed, so a refusal changes nothing.
pub async fn relink(
    engine: &Engine,
    record: &str,
    link: Option<&str>,
) -> Result<Vec<Relinked>, RelinkError> {
    if let Some(name) = link {
        if !engine.plan.links.iter().any(|l| l.name == name) {
            let known: Vec<&str> = engine.plan.links.iter().map(|l| l.name.as_str()).collect();
            return Err(RelinkError::Failed(format!(
                "the spec has no link `{name}`; its links: {}",
                known.join(", ")
            )));
        }
    }
    let rows: Vec<LinkRow> = engine
        .store
        .pairs_of(record)
        .map_err(failed)?
        .into_iter()
        .filter(|r| link.is_none_or(|l| r.link == l))
        .collect();
    if rows.is_empty() {
        let of = link.map(|l| format!(" of link `{l}`")).unwrap_or_default();
        return Err(RelinkError::Refused(format!(
            "no pair{of} holds record `{record}`; `seam links list --all` lists the pairs"
        )));
    }
    let mut checked = Vec::with_capacity(rows.len());
    for row in rows {
        let plan_link = engine
            .plan
            .links
            .iter()
            .find(|l| l.name == row.link)
            .ok_or_else(|| {
                RelinkError::Refused(format!(
                    "the pair `{}` <-> `{}` belongs to link `{}`, which the spec no longer has; \
                     relink it with the spec that made it",
                    row.left_id, row.right_id, row.link
                ))
            })?;
        if !row.live() {
            both_exist(engine, plan_link, &row).await?;
        }
        checked.push((plan_link, row));
    }
    let mut out = Vec::with_capacity(checked.len());
    for (plan_link, row) in checked {
        out.push(match row.live() {
            true => Relinked {
                link: row.link.clone(),
                left_id: row.left_id.clone(),
                right_id: row.right_id.clone(),
                resumed: false,
                restored: None,
            },
            false => resume(engine, plan_link, &row).await?,
        });
    }
    Ok(out)
}

/// Reads both records of an ended pair; refuses, naming each, when one is still gone.
async fn both_exist(engine: &Engine, link: &PlanLink, row: &LinkRow) -> Result<(), RelinkError> {
    let mut gone = Vec::new();
    for (side, id) in [(&link.left, &row.left_id), (&link.right, &row.right_id)] {
        let platform = engine.platform(&side.system).map_err(failed)?;
        let mut wants = Wants::new(Dialect::of(platform));
        wants.field(platform.id_field());
        if engine
            .read(side, id, &wants)
            .await
            .map_err(failed)?
            .is_none()
        {
            gone.push(format!(
                "{side} `{id}` is still gone (404): {}",
                restore_hint(platform)
            ));
        }
    }
    match gone.is_empty() {
        true => Ok(()),
        false => Err(RelinkError::Refused(format!(
            "the pair `{}` <-> `{}` of link `{}` stays ended: {}; then run this again",
            row.left_id,
            row.right_id,
            row.link,
            gone.join("; ")
        ))),
    }
}

/// Which side of an ended pair had gone: the survivor is the record its `unlinked` rows were
/// written to (the newest end), else the one its reason does not name.
fn gone_left(engine: &Engine, link: &PlanLink, row: &LinkRow) -> Result<bool, RelinkError> {
    let history = engine
        .store
        .pair_history(&link.name, &[&row.left_id, &row.right_id])
        .map_err(failed)?;
    if let Some(end) = history.iter().rev().find(|a| a.outcome == "unlinked") {
        return Ok(end.target_record == row.right_id);
    }
    let reason = row.ended_reason.as_deref().unwrap_or("");
    Ok(reason.contains(&format!("`{}`", row.left_id)))
}

/// Clears the end of `row` with its `relinked` audit rows, under the pair's lock.
async fn resume(engine: &Engine, link: &PlanLink, row: &LinkRow) -> Result<Relinked, RelinkError> {
    let ctx = Context {
        engine,
        link,
        from_left: true,
        cause: CAUSE,
        effects: None,
    };
    // Inside `seam run` the pair's events wait while it is resumed.
    let _pair = engine.pair_locks.lock(ctx.pair_key(&row.left_id)).await;
    let gone_left = gone_left(engine, link, row)?;
    let (gone, gone_id, survivor, survivor_id): (&ObjectPath, _, &ObjectPath, _) = match gone_left {
        true => (&link.left, &row.left_id, &link.right, &row.right_id),
        false => (&link.right, &row.right_id, &link.left, &row.left_id),
    };
    let rule = format!(
        "link `{}` resumed: {gone} `{gone_id}` is back (relinked by an operator)",
        link.name
    );
    let at = now_ms();
    let rows: Vec<AuditEntry> = survivor_fields(link, gone_left)
        .into_iter()
        .map(|field| AuditEntry {
            id: 0,
            at,
            source_system: gone.system.clone(),
            source_event: CAUSE.into(),
            link: link.name.clone(),
            rule: rule.clone(),
            target_system: survivor.system.clone(),
            target_object: survivor.object.clone(),
            target_record: survivor_id.clone(),
            field: field.to_string(),
            old_value: None,
            new_value: Some(gone_id.clone()),
            plan_hash: engine.plan.spec_hash.clone(),
            outcome: "relinked".into(),
        })
        .collect();
    let resumed = engine
        .store
        .resume_link(&link.name, &row.left_id, &row.right_id, &rows)
        .map_err(failed)?;
    if resumed {
        tracing::info!(link = %link.name, restored = %gone_id, survivor = %survivor_id, "pair resumed: {gone} `{gone_id}` is back");
    }
    Ok(Relinked {
        link: link.name.clone(),
        left_id: row.left_id.clone(),
        right_id: row.right_id.clone(),
        resumed,
        restored: resumed.then(|| format!("{gone} `{gone_id}`")),
    })
}
