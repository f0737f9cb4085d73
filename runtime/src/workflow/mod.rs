//! Workflows: durable step execution of the Plan's `workflow` blocks, and the policy's alerts.
//!
//! Guarantees:
//! - **Triggers are detected against state** ([`trigger`]): the trigger record is read and its
//!   trigger field compared with the value last observed for it, stored durably; the observed
//!   values and the runs they start are committed in one transaction. Echoes never fire: the
//!   engine does not hand events the platform marks as ours to workflows, and a transition to
//!   the value the seam itself last wrote into the field is recorded but fires nothing.
//! - **A run is unique per (workflow, trigger key)**: the trigger event's idempotency key, or
//!   the record for `created`. A duplicate or replayed event starts nothing new; it resumes the
//!   run it started, if unfinished.
//! - **Each step runs once per run** ([`steps`]): a finished step's output (created id, channel
//!   id, message ts) is stored with its audit rows in one transaction, and a retry or a restart
//!   resumes at the first unfinished step. A step interrupted between the platform's answer
//!   and that commit is looked for before it is repeated (see [`steps`] for what remains).
//! - **Ownership is re-checked at run time** (LANGUAGE.md rule 7): a step may write a field its
//!   system owns or no one owns; a replica, a link key or a platform-set field is refused and
//!   audited, never sent.
//! - A failing step fails the event: it retries through the inbox with the policy's backoff
//!   and ends in a dead letter whose reason names the workflow, the step and the platform's
//!   error; `seam dlq replay` resumes the run at that step.

mod actions;
pub mod alerts;
mod steps;
pub mod template;
pub mod trigger;

use seam_compiler::plan::{Condition, FieldPath, Metric, ObjectPath, PlanWorkflow, ValuePath};
use std::collections::HashMap;

use crate::engine::effects::Effects;
use crate::engine::paths::{Dialect, RecordView, Wants};
use crate::engine::{Engine, SyncError};
use crate::store::{now_ms, InboxEvent, NewRun, ObservedKey, ReplicaKey};
use template::Scope;

/// The trigger key of a `created` trigger: one run per record.
fn created_key(system: &str, object: &str, record: &str) -> String {
    format!("created:{system}:{object}:{record}")
}

/// The `last_written` link name under which a workflow's updates are remembered, so their
/// echoes are recognised as the seam's own values.
pub fn written_by(workflow: &str) -> String {
    format!("workflow:{workflow}")
}

/// The workflows whose trigger watches records of `system`.`object`.
pub fn watching<'a>(engine: &'a Engine, system: &str, object: &str) -> Vec<&'a PlanWorkflow> {
    engine
        .plan
        .workflows
        .iter()
        .filter(|w| trigger::object(&w.trigger) == (system, object))
        .collect()
}

/// Adds what detecting the triggers of `watching` reads of the trigger record: the trigger
/// fields, and the guard's paths that stay on the record. A guard path that walks a reference
/// is read only when the trigger fires (rarely): on Salesforce a walk turns the record's GET
/// into a SOQL query, which every event would pay.
pub fn trigger_wants(watching: &[&PlanWorkflow], wants: &mut Wants) {
    for w in watching {
        if let Some(f) = trigger::field(&w.trigger) {
            wants.field(&f.field);
        }
        if let Some(guard) = &w.guard {
            let mut paths = Vec::new();
            template::condition_paths(guard, &mut paths);
            let on_record = |p: &&ValuePath| {
                p.walk.is_empty()
                    && trigger::object(&w.trigger)
                        == (p.root.system.as_str(), p.root.object.as_str())
            };
            for p in paths.into_iter().filter(on_record) {
                wants.path(p);
            }
        }
    }
}

/// Runs the workflows `watching` the event's record: detects their triggers on `record` (the
/// engine's one read of it for this event, with at least [`trigger_wants`]; `None`: it does
/// not exist), then runs (or resumes) the runs this event started. `true` when a run did
/// something.
pub async fn on_event(
    engine: &Engine,
    event: &InboxEvent,
    watching: &[&PlanWorkflow],
    record: Option<&RecordView>,
    effects: &Effects,
) -> Result<bool, SyncError> {
    if watching.is_empty() {
        return Ok(false);
    }
    let e = &event.event;
    if let Some(record) = record {
        detect(engine, event, watching, record, effects).await?;
    }
    // A record gone since has nothing to observe and fires nothing; its unfinished runs
    // still resume (their steps say what a missing record means).
    let created = created_key(&e.system, &e.object, &e.record_id);
    let runs = engine
        .store
        .unfinished_runs(&[e.idempotency_key.as_str(), created.as_str()])?;
    if !runs.is_empty() {
        // A step may sync a pair whose lock this event holds for its pending writes.
        effects.flush(engine.store.as_ref(), now_ms())?;
    }
    for run in &runs {
        steps::execute(engine, run, event).await?;
    }
    Ok(!runs.is_empty())
}

/// Reads the record `id` of `root` with every path of `paths` rooted there (`None`: it does
/// not exist).
pub(crate) async fn read_record(
    engine: &Engine,
    root: &ObjectPath,
    id: &str,
    paths: &[&ValuePath],
) -> Result<Option<RecordView>, SyncError> {
    let platform = engine.platform(&root.system)?;
    let mut wants = Wants::new(Dialect::of(platform));
    wants.field(platform.id_field());
    for p in paths.iter().filter(|p| &p.root == root) {
        wants.path(p);
    }
    engine.read(root, id, &wants).await
}

/// Values of paths from records read, `let` results, and (for alerts) metrics.
#[derive(Default)]
pub struct Values {
    /// The records read, by the object their paths start from (`None`: it does not exist).
    pub records: HashMap<ObjectPath, Option<RecordView>>,
    pub bindings: HashMap<String, String>,
    pub metrics: HashMap<&'static str, String>,
}

impl Scope for Values {
    fn path(&self, path: &ValuePath) -> Option<String> {
        // A path not read has no value here, as a missing record's have none.
        self.records.get(&path.root)?.as_ref()?.path(path).ok()?
    }
    fn binding(&self, name: &str) -> Option<String> {
        self.bindings.get(name).cloned()
    }
    fn metric(&self, metric: Metric) -> Option<String> {
        self.metrics.get(template::metric_name(metric)).cloned()
    }
}

fn root_path(root: &ObjectPath, field: &FieldPath) -> ValuePath {
    ValuePath {
        root: root.clone(),
        walk: Vec::new(),
        field: field.clone(),
    }
}

/// Detects the triggers of `watching` on the event's record, as read, and starts the runs
/// that fire, recording the observed values in the same transaction.
async fn detect(
    engine: &Engine,
    event: &InboxEvent,
    watching: &[&PlanWorkflow],
    record: &RecordView,
    effects: &Effects,
) -> Result<(), SyncError> {
    let e = &event.event;
    let root = ObjectPath {
        system: e.system.clone(),
        object: e.object.clone(),
    };
    let mut fields: Vec<&FieldPath> = watching
        .iter()
        .filter_map(|w| trigger::field(&w.trigger))
        .collect();
    fields.sort();
    fields.dedup();
    // The event's own word is needed only where nothing was observed yet: parsed then.
    let mut changed: Option<Option<Vec<String>>> = None;
    let mut observed = Vec::new();
    let mut seen: HashMap<&str, (Option<Option<String>>, Option<String>)> = HashMap::new();
    for f in &fields {
        let key = ObservedKey {
            system: e.system.clone(),
            object: e.object.clone(),
            record: e.record_id.clone(),
            field: f.field.clone(),
        };
        let prior = engine.store.observed_value(&key)?;
        let current = record.path(&root_path(&root, f)).map_err(|why| {
            SyncError::permanent(format!(
                "the trigger field of {root} `{}`: {why}",
                e.record_id
            ))
        })?;
        // An unchanged value is not written again: the row would be the same but for its
        // `observed_at`, which nothing reads, and its random B-tree page costs every event a
        // WAL frame (written, checkpointed and read back).
        if prior.as_ref() != Some(&current) {
            observed.push((key, current.clone()));
        }
        seen.insert(&f.field, (prior, current));
    }
    let mut runs = Vec::new();
    for w in watching {
        let field = trigger::field(&w.trigger);
        let (prior, current) = field
            .and_then(|f| seen.get(f.field.as_str()).cloned())
            .unwrap_or((None, None));
        let event_says_changed = match (field, &prior) {
            (Some(f), None) => changed
                .get_or_insert_with(|| trigger::changed_fields(&e.payload))
                .as_ref()
                .map(|c| c.contains(&f.field)),
            _ => None,
        };
        let o = trigger::Observation {
            operation: &e.operation,
            prior,
            current,
            event_says_changed,
        };
        if !trigger::fires(&w.trigger, &o) {
            continue;
        }
        if let Some(f) = field {
            if seams_own_value(engine, f, &e.record_id, o.current.as_deref())? {
                tracing::debug!(workflow = %w.name, record = %e.record_id, field = %f, "the transition is the seam's own write: not a trigger");
                continue;
            }
        }
        if let Some(guard) = &w.guard {
            if !guard_holds(engine, w, guard, &root, record, &e.record_id).await? {
                tracing::info!(workflow = %w.name, record = %e.record_id, "triggered, but its `when` does not hold");
                continue;
            }
        }
        let trigger_key = match field {
            Some(_) => e.idempotency_key.clone(),
            None => created_key(&e.system, &e.object, &e.record_id),
        };
        runs.push(NewRun {
            workflow: w.name.clone(),
            trigger_key,
            system: e.system.clone(),
            object: e.object.clone(),
            record_id: e.record_id.clone(),
        });
    }
    if runs.is_empty() {
        // Nothing fired: the observations commit with the event's fate (its record's next
        // event cannot run before that).
        effects.observe(observed);
        return Ok(());
    }
    let started = engine.store.start_runs(&observed, &runs, now_ms())?;
    if !started.is_empty() {
        for r in &runs {
            tracing::info!(workflow = %r.workflow, record = %r.record_id, trigger = %r.trigger_key, "workflow triggered");
            engine.metrics.workflow_run(&r.workflow, "started");
        }
    }
    Ok(())
}

/// Is `value` what the seam itself last wrote into this field of this record (a replica
/// through a link, or a workflow's update)? Then its change is our echo, not a trigger.
fn seams_own_value(
    engine: &Engine,
    field: &FieldPath,
    record: &str,
    value: Option<&str>,
) -> Result<bool, SyncError> {
    let Some(value) = value else {
        return Ok(false);
    };
    let replica_links = engine
        .plan
        .ownership
        .iter()
        .flat_map(|o| &o.replicas)
        .filter(|r| &r.field == field)
        .map(|r| r.link.clone());
    let workflow_links = engine.plan.workflows.iter().map(|w| written_by(&w.name));
    for link in replica_links.chain(workflow_links) {
        let key = ReplicaKey {
            link: &link,
            system: &field.system,
            record,
            field: &field.field,
        };
        if engine.store.last_written(&key)?.flatten().as_deref() == Some(value) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Evaluates a guard over the trigger record as read for the event, reading it again only
/// when the guard walks references that read did not ask for (see [`trigger_wants`]).
async fn guard_holds(
    engine: &Engine,
    w: &PlanWorkflow,
    guard: &Condition,
    root: &ObjectPath,
    record: &RecordView,
    record_id: &str,
) -> Result<bool, SyncError> {
    let mut paths = Vec::new();
    template::condition_paths(guard, &mut paths);
    let mut values = Values::default();
    if paths.iter().all(|p| record.path(p).is_ok()) {
        values.records.insert(root.clone(), Some(record.clone()));
    } else {
        let read = read_record(engine, root, record_id, &paths).await?;
        values.records.insert(root.clone(), read);
    }
    template::eval(guard, &values).map_err(|why| {
        SyncError::permanent(format!(
            "workflow `{}`: its `when` on {root} `{record_id}`: {why}",
            w.name
        ))
    })
}
