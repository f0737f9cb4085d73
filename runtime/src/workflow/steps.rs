//! Running one workflow run's steps in order, each once.
//!
//! Before its platform call a step is marked *begun* (attempts counted); after it, *done* with
//! its output and audit rows in one transaction. A resumed run skips done steps (restoring
//! their `let` values) and starts at the first unfinished one. The window that remains is a
//! crash, timeout or dropped answer between the platform acting and that commit; it is
//! narrowed per step, on the next attempt of a *begun* step:
//!
//! | step | on the next attempt of a begun step |
//! |---|---|
//! | `open B via LINK` | the link key is looked up first (as every twin creation does): found, it is linked, never created twice |
//! | `SYS.create Obj {…}` | a record of `Obj` with the same assigned values (the short, filterable ones: ids, references, picklists, text up to 255) is looked for — on Salesforce only among those created since the first attempt began; found, it is adopted |
//! | `SYS.update Obj {…}` | repeated: writing the same values twice is harmless |
//! | `create_channel` | Slack's `name_taken` finds the channel by name and reuses it |
//! | `post` | the channel's history since the first attempt is searched for the same text |
//!
//! What still can repeat: a `create` whose assigned values changed between the two attempts
//! (the templates read the trigger record again), or whose values are all long text; a `post`
//! whose history cannot be read (a channel given by name on a real workspace). Those are
//! at-least-once.

use seam_compiler::plan::{
    FieldPath, ObjectPath, PlanAssignment, PlanLink, PlanStep, PlanType, PlanWorkflow, ValuePath,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use super::template::{self, value_paths};
use super::{actions, read_record, written_by, Values};
use crate::connectors::salesforce::soql_literal;
use crate::connectors::servicenow::query_value;
use crate::connectors::ErrorClass;
use crate::engine::platform::{canonical, Platform};
use crate::engine::sync::{Context, Open};
use crate::engine::{Engine, SyncError};
use crate::metrics::Metrics;
use crate::store::{now_ms, AuditEntry, InboxEvent, ReplicaKey, StepStatus, WorkflowRun};

/// What a finished step leaves behind.
struct Done {
    /// The `let` value, when the step has one.
    value: Option<String>,
    audit: Vec<AuditEntry>,
}

struct Run<'a> {
    engine: &'a Engine,
    wf: &'a PlanWorkflow,
    run: &'a WorkflowRun,
    event: &'a InboxEvent,
    trigger: ObjectPath,
    values: Values,
}

/// Runs (or resumes) one run to its end.
pub async fn execute(
    engine: &Engine,
    run: &WorkflowRun,
    event: &InboxEvent,
) -> Result<(), SyncError> {
    let Some(wf) = engine
        .plan
        .workflows
        .iter()
        .find(|w| w.name == run.workflow)
    else {
        tracing::warn!(workflow = %run.workflow, run = run.id, "the plan no longer has this workflow: its unfinished run is left as it is");
        return Ok(());
    };
    let states: HashMap<u32, _> = engine
        .store
        .run_steps(run.id)?
        .into_iter()
        .map(|s| (s.step, s))
        .collect();
    let mut r = Run {
        engine,
        wf,
        run,
        event,
        trigger: ObjectPath {
            system: run.system.clone(),
            object: run.object.clone(),
        },
        values: Values::default(),
    };
    for (i, step) in wf.steps.iter().enumerate() {
        let n = i as u32;
        let state = states.get(&n);
        if let Some(s) = state.filter(|s| s.status == StepStatus::Done) {
            r.restore(step, s.output.as_deref());
            continue;
        }
        engine.store.begin_step(run.id, n, now_ms())?;
        let begun = state.map(|s| s.begun_at);
        let done = match r.step(n, step, begun).await {
            Ok(d) => d,
            Err(e) => {
                engine.metrics.workflow_step(&wf.name, "failed");
                return Err(SyncError {
                    message: format!(
                        "workflow `{}` step {} ({}) for {} `{}`: {}",
                        wf.name,
                        n + 1,
                        step.head(),
                        r.trigger,
                        run.record_id,
                        e.message
                    ),
                    class: e.class,
                });
            }
        };
        let output = json!({ "value": done.value }).to_string();
        engine
            .store
            .finish_step(run.id, n, &output, &done.audit, now_ms())?;
        engine.metrics.workflow_step(&wf.name, "done");
        if let (PlanStep::Action { bind: Some(b), .. }, Some(v)) = (step, done.value) {
            r.values.bindings.insert(b.clone(), v);
        }
    }
    engine.store.finish_run(run.id, now_ms())?;
    engine.metrics.workflow_run(&wf.name, "done");
    tracing::info!(workflow = %wf.name, record = %run.record_id, "workflow run finished");
    Ok(())
}

impl Run<'_> {
    /// Takes a done step's `let` value back.
    fn restore(&mut self, step: &PlanStep, output: Option<&str>) {
        let PlanStep::Action { bind: Some(b), .. } = step else {
            return;
        };
        let value = output
            .and_then(|o| serde_json::from_str::<Value>(o).ok())
            .and_then(|v| v.get("value").and_then(Value::as_str).map(String::from));
        if let Some(v) = value {
            self.values.bindings.insert(b.clone(), v);
        }
    }

    fn rule(&self, n: u32, step: &PlanStep) -> String {
        format!("workflow {} step {}: {}", self.wf.name, n + 1, step.head())
    }

    fn audit(
        &self,
        rule: &str,
        target: (&str, &str, &str),
        field: &str,
        new: Option<String>,
        outcome: &str,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: now_ms(),
            source_system: self.run.system.clone(),
            source_event: self.run.trigger_key.clone(),
            link: format!("workflow {}", self.wf.name),
            rule: rule.to_string(),
            target_system: target.0.into(),
            target_object: target.1.into(),
            target_record: target.2.into(),
            field: field.into(),
            old_value: None,
            new_value: new,
            plan_hash: self.engine.plan.spec_hash.clone(),
            outcome: outcome.into(),
        }
    }

    async fn step(
        &mut self,
        n: u32,
        step: &PlanStep,
        begun: Option<i64>,
    ) -> Result<Done, SyncError> {
        let rule = self.rule(n, step);
        match step {
            PlanStep::Open { target, link } => self.open(&rule, target, link).await,
            PlanStep::Create {
                object,
                assignments,
            } => self.create(&rule, object, assignments, begun).await,
            PlanStep::Update {
                object,
                link,
                assignments,
            } => {
                self.update(&rule, object, link.as_deref(), assignments)
                    .await
            }
            PlanStep::Action {
                system,
                action,
                args,
                ..
            } => {
                let mut paths = Vec::new();
                for a in args {
                    value_paths(&a.value, &mut paths);
                }
                self.load(&paths).await?;
                let mut values = HashMap::new();
                for a in args {
                    let v = template::value(&a.value, &self.values)
                        .map_err(SyncError::permanent)?
                        .unwrap_or_default();
                    values.insert(a.name.clone(), v);
                }
                let acted = actions::perform(self.engine, system, action, &values, begun).await?;
                let audit = vec![self.audit(
                    &rule,
                    (system, "channel", &acted.channel),
                    acted.field,
                    Some(acted.written),
                    "written",
                )];
                Ok(Done {
                    value: Some(acted.value),
                    audit,
                })
            }
        }
    }

    /// Reads the records the paths start from: the trigger record, or its twin through a link.
    async fn load(&mut self, paths: &[&ValuePath]) -> Result<(), SyncError> {
        let mut roots: Vec<&ObjectPath> = paths.iter().map(|p| &p.root).collect();
        roots.sort();
        roots.dedup();
        for root in roots {
            if root == &self.trigger && self.values.records.contains_key(root) {
                // The trigger record was read for an earlier step of this attempt: read once
                // with every path of the workflow that starts there.
                continue;
            }
            let wanted: Vec<&ValuePath> = if root == &self.trigger {
                let mut all = Vec::new();
                for s in &self.wf.steps {
                    step_paths(s, &mut all);
                }
                all.retain(|p| &p.root == root);
                all
            } else {
                paths.iter().copied().filter(|p| &p.root == root).collect()
            };
            let id = if root == &self.trigger {
                Some(self.run.record_id.clone())
            } else {
                self.twin_of(root, None)?.map(|(_, id)| id)
            };
            let Some(id) = id else {
                tracing::warn!(workflow = %self.wf.name, "{root} has no record linked to {} `{}` yet: its paths are empty", self.trigger, self.run.record_id);
                continue;
            };
            let read = read_record(self.engine, root, &id, &wanted).await?;
            self.values.records.insert(root.clone(), read);
        }
        Ok(())
    }

    /// The link between the trigger object and `other` (the named one, or the only one), and
    /// the trigger record's twin through it.
    fn twin_of(
        &self,
        other: &ObjectPath,
        named: Option<&str>,
    ) -> Result<Option<(&PlanLink, String)>, SyncError> {
        let links: Vec<&PlanLink> = self
            .engine
            .plan
            .links
            .iter()
            .filter(|l| named.is_none_or(|n| l.name == n))
            .filter(|l| {
                (l.left == self.trigger && &l.right == other)
                    || (&l.left == other && l.right == self.trigger)
            })
            .collect();
        let [link] = links.as_slice() else {
            return Err(SyncError::permanent(format!(
                "no single link joins {} and {other}; name one with `via LINK`",
                self.trigger
            )));
        };
        let from_left = link.left == self.trigger;
        Ok(self
            .engine
            .store
            .link_twin(&link.name, from_left, &self.run.record_id)?
            .map(|t| (*link, t)))
    }

    async fn open(
        &mut self,
        rule: &str,
        target: &ObjectPath,
        link_name: &str,
    ) -> Result<Done, SyncError> {
        let link = self
            .engine
            .plan
            .links
            .iter()
            .find(|l| l.name == link_name)
            .ok_or_else(|| SyncError::permanent(format!("the plan has no link `{link_name}`")))?;
        let from_left = link.left == self.trigger && &link.right == target;
        let from_right = link.right == self.trigger && &link.left == target;
        if !(from_left || from_right) {
            return Err(SyncError::permanent(format!(
                "link `{link_name}` does not join {} and {target}",
                self.trigger
            )));
        }
        let existed = self
            .engine
            .store
            .link_twin(&link.name, from_left, &self.run.record_id)?;
        let ctx = Context {
            engine: self.engine,
            link,
            from_left,
            cause: &self.event.event.idempotency_key,
            effects: None,
        };
        ctx.run(&self.run.record_id, Open::Always, true).await?;
        let twin = self
            .engine
            .store
            .link_twin(&link.name, from_left, &self.run.record_id)?
            .ok_or_else(|| {
                SyncError::permanent(format!(
                    "link `{link_name}` opened no {target} (the trigger record is gone, or the link has no key)"
                ))
            })?;
        let key_field = link
            .key
            .as_ref()
            .map(|k| if from_left { &k.right } else { &k.left })
            .map_or("id", |k| k.field.as_str());
        let outcome = if existed.is_some() {
            "linked"
        } else {
            "opened"
        };
        // The twin's fields were audited by the link's own rules; this row says why it opened.
        let audit = vec![self.audit(
            rule,
            (&target.system, &target.object, &twin),
            key_field,
            Some(self.run.record_id.clone()),
            outcome,
        )];
        // Paths through the twin are read fresh from now on.
        self.values.records.remove(target);
        Ok(Done {
            value: Some(twin),
            audit,
        })
    }

    /// The values of assignments, and the refused ones audited against `record`.
    async fn assignments(
        &mut self,
        rule: &str,
        object: &ObjectPath,
        record: &str,
        assignments: &[PlanAssignment],
    ) -> Result<(Vec<(String, Option<String>)>, Vec<AuditEntry>), SyncError> {
        let mut paths = Vec::new();
        for a in assignments {
            value_paths(&a.value, &mut paths);
        }
        self.load(&paths).await?;
        let mut ok = Vec::new();
        let mut refused = Vec::new();
        for a in assignments {
            let v = template::value(&a.value, &self.values)
                .map_err(|why| SyncError::permanent(format!("the value of {}: {why}", a.field)))?;
            match refusal(self.engine, &a.field) {
                Some(why) => {
                    tracing::warn!(workflow = %self.wf.name, field = %a.field, record, "write refused: {why}");
                    self.engine
                        .metrics
                        .refused_writes
                        .get_or_create(&Metrics::system(&object.system))
                        .inc();
                    refused.push(self.audit(
                        rule,
                        (&object.system, &object.object, record),
                        &a.field.field,
                        v,
                        "refused",
                    ));
                }
                None => ok.push((a.field.field.clone(), v)),
            }
        }
        Ok((ok, refused))
    }

    async fn create(
        &mut self,
        rule: &str,
        object: &ObjectPath,
        assignments: &[PlanAssignment],
        begun: Option<i64>,
    ) -> Result<Done, SyncError> {
        let (fields, mut audit) = self
            .assignments(rule, object, "(not created)", assignments)
            .await?;
        let body: Map<String, Value> = fields
            .iter()
            .filter_map(|(f, v)| v.clone().map(|v| (f.clone(), Value::String(v))))
            .collect();
        let platform = self.engine.platform(&object.system)?;
        let existing = match begun {
            Some(since) => find_created(self.engine, platform, object, &body, since).await?,
            None => None,
        };
        let (id, outcome) = match existing {
            Some(id) => {
                tracing::info!(workflow = %self.wf.name, id = %id, "{object} made by an interrupted attempt: adopted, not created again");
                (id, "adopted")
            }
            None => {
                let id = platform
                    .create(&object.object, &body)
                    .await
                    .map_err(|e| SyncError::connector(&format!("creating {object}"), e))?;
                (id, "created")
            }
        };
        for (f, v) in fields {
            audit.push(self.audit(rule, (&object.system, &object.object, &id), &f, v, outcome));
        }
        for a in audit.iter_mut().filter(|a| a.outcome == "refused") {
            a.target_record = id.clone();
        }
        Ok(Done {
            value: Some(id),
            audit,
        })
    }

    async fn update(
        &mut self,
        rule: &str,
        object: &ObjectPath,
        link: Option<&str>,
        assignments: &[PlanAssignment],
    ) -> Result<Done, SyncError> {
        let record = if object == &self.trigger {
            self.run.record_id.clone()
        } else {
            match self.twin_of(object, link)? {
                Some((_, id)) => id,
                None => {
                    return Err(SyncError::permanent(format!(
                        "{} `{}` has no linked {object} to update; open it first (`open {object} via LINK`)",
                        self.trigger, self.run.record_id
                    )))
                }
            }
        };
        let (fields, mut audit) = self.assignments(rule, object, &record, assignments).await?;
        if fields.is_empty() {
            return Ok(Done { value: None, audit });
        }
        let platform = self.engine.platform(&object.system)?;
        let body: Map<String, Value> = fields
            .iter()
            .map(|(f, v)| {
                (
                    f.clone(),
                    v.clone().map_or_else(|| platform.empty(), Value::String),
                )
            })
            .collect();
        platform
            .update(&object.object, &record, &body)
            .await
            .map_err(|e| SyncError::connector(&format!("writing {object} `{record}`"), e))?;
        let link = written_by(&self.wf.name);
        let now = now_ms();
        for (f, v) in &fields {
            let key = ReplicaKey {
                link: &link,
                system: &object.system,
                record: &record,
                field: f,
            };
            // Remembered so that this write's echo is not taken for a trigger.
            self.engine
                .store
                .set_last_written(&key, v.as_deref(), now)?;
            audit.push(self.audit(
                rule,
                (&object.system, &object.object, &record),
                f,
                v.clone(),
                "written",
            ));
        }
        // Its echo is marked as ours and skipped, so carry what crosses a link now, as a
        // person's edit of the same fields would be.
        for link in self
            .engine
            .plan
            .links
            .iter()
            .filter(|l| &l.left == object || &l.right == object)
        {
            let ctx = Context {
                engine: self.engine,
                link,
                from_left: &link.left == object,
                cause: &self.event.event.idempotency_key,
                effects: None,
            };
            ctx.run(&record, Open::IfRuleHolds, true).await?;
        }
        Ok(Done { value: None, audit })
    }
}

fn step_paths<'a>(step: &'a PlanStep, out: &mut Vec<&'a ValuePath>) {
    match step {
        PlanStep::Open { .. } => {}
        PlanStep::Create { assignments, .. } | PlanStep::Update { assignments, .. } => {
            for a in assignments {
                value_paths(&a.value, out);
            }
        }
        PlanStep::Action { args, .. } => {
            for a in args {
                value_paths(&a.value, out);
            }
        }
    }
}

/// Why a workflow may not write `field` (LANGUAGE.md rule 7), if it may not: a replica (the
/// seam writes it through its link), a link key (written once when the twin opens), or a
/// field the platform sets.
pub fn refusal(engine: &Engine, field: &FieldPath) -> Option<String> {
    let plan = &engine.plan;
    if let Some(o) = plan
        .ownership
        .iter()
        .find(|o| o.replicas.iter().any(|r| &r.field == field))
    {
        return Some(format!(
            "{field} is a replica of {} (owned by `{}`); only its link writes it",
            o.field, o.owner
        ));
    }
    if plan
        .links
        .iter()
        .filter_map(|l| l.key.as_ref())
        .any(|k| &k.right == field)
    {
        return Some(format!("{field} is a link key, written once by the seam"));
    }
    if is_platform_set(engine, field) {
        return Some(format!("{field} is set by the platform"));
    }
    None
}

fn is_platform_set(engine: &Engine, field: &FieldPath) -> bool {
    plan_field(engine, field).is_some_and(|f| f.read_only || !f.derived_from.is_empty())
}

fn plan_field<'a>(
    engine: &'a Engine,
    field: &FieldPath,
) -> Option<&'a seam_compiler::plan::PlanField> {
    engine
        .plan
        .objects
        .iter()
        .find(|o| o.system == field.system && o.object == field.object)?
        .fields
        .iter()
        .find(|f| f.name == field.field)
}

/// Can the platform filter on this field's value in a query? Ids, references, picklists,
/// numbers, booleans and text up to 255 characters (Salesforce cannot filter long text).
fn filterable(engine: &Engine, object: &ObjectPath, field: &str) -> bool {
    let path = FieldPath {
        system: object.system.clone(),
        object: object.object.clone(),
        field: field.into(),
    };
    match plan_field(engine, &path).map(|f| &f.ty) {
        Some(PlanType::Text { max_len: Some(n) }) => *n <= 255,
        Some(PlanType::Text { max_len: None }) | Some(PlanType::Datetime) | None => false,
        Some(_) => true,
    }
}

/// A record of `object` with these values, made since `since` (Unix ms) where the platform
/// can say: what an interrupted `create` left behind.
async fn find_created(
    engine: &Engine,
    platform: &Platform,
    object: &ObjectPath,
    body: &Map<String, Value>,
    since: i64,
) -> Result<Option<String>, SyncError> {
    let terms: Vec<(&String, &str)> = body
        .iter()
        .filter(|(f, _)| filterable(engine, object, f))
        .filter_map(|(f, v)| v.as_str().map(|v| (f, v)))
        .collect();
    if terms.is_empty() {
        return Ok(None);
    }
    let found = match platform {
        Platform::Salesforce(c) => {
            // A minute of slack for the clocks of two machines.
            let since = chrono::DateTime::from_timestamp_millis(since - 60_000)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            let mut conds: Vec<String> = terms
                .iter()
                .map(|(f, v)| format!("{f} = {}", soql_literal(v)))
                .collect();
            if !since.is_empty() {
                conds.push(format!("CreatedDate >= {since}"));
            }
            let soql = format!(
                "SELECT Id FROM {} WHERE {} ORDER BY CreatedDate DESC LIMIT 1",
                object.object,
                conds.join(" AND ")
            );
            c.query(&soql).await
        }
        Platform::ServiceNow(c) => {
            let mut parts = Vec::new();
            for (f, v) in &terms {
                let Some(v) = query_value(v) else {
                    return Ok(None);
                };
                parts.push(format!("{f}={v}"));
            }
            let query = format!("{}^ORDERBYDESCsys_created_on", parts.join("^"));
            c.query(&object.object, &query, &["sys_id"], 1).await
        }
    };
    let found = match found {
        Ok(f) => f,
        // The platform cannot answer this query (a field it cannot filter on): create, at
        // least once, rather than never.
        Err(e) if e.class == ErrorClass::Permanent => {
            tracing::warn!(%object, error = %e, "cannot look for what an interrupted attempt made; creating");
            return Ok(None);
        }
        Err(e) => {
            return Err(SyncError::connector(
                &format!("looking for the {object} an interrupted attempt may have made"),
                e,
            ))
        }
    };
    Ok(found
        .first()
        .and_then(|r| canonical(r.get(platform.id_field()))))
}
