//! One direction of one link for one record: read it, find (or open) its twin, write the
//! difference. See the module docs of [`super`] for the guarantees.

use seam_compiler::plan::{FieldPath, ObjectPath, PlanLink, PlanMapping};
use serde_json::{Map, Value};
use std::time::Instant;

use super::platform::canonical;
use super::values::{apply_map, condition_fields, eval};
use super::{Engine, SyncError};
use crate::connectors::Record;
use crate::metrics::Metrics;
use crate::store::{now_ms, AuditEntry, InboxEvent, ReplicaKey};

pub struct Context<'a> {
    pub engine: &'a Engine,
    pub link: &'a PlanLink,
    pub from_left: bool,
    pub event: &'a InboxEvent,
}

/// Whether a sync may create the twin when none is linked yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Never (syncing back from a twin just opened).
    Never,
    /// When the link's `open ... when` rule holds (an ordinary event).
    IfRuleHolds,
    /// Regardless of the rule: a workflow's `open B via LINK` step.
    Always,
}

/// One replica field's wanted value.
struct Wanted<'a> {
    mapping: &'a PlanMapping,
    value: Option<String>,
}

fn rule(m: &PlanMapping) -> String {
    format!("{} -> {}", m.source, m.target)
}

impl<'a> Context<'a> {
    fn source(&self) -> &'a ObjectPath {
        if self.from_left {
            &self.link.left
        } else {
            &self.link.right
        }
    }

    fn target(&self) -> &'a ObjectPath {
        if self.from_left {
            &self.link.right
        } else {
            &self.link.left
        }
    }

    fn mappings(&self) -> &'a [PlanMapping] {
        if self.from_left {
            &self.link.left_to_right
        } else {
            &self.link.right_to_left
        }
    }

    /// The key field on the source side and on the target side.
    fn key_fields(&self) -> Option<(&'a FieldPath, &'a FieldPath)> {
        let key = self.link.key.as_ref()?;
        Some(if self.from_left {
            (&key.left, &key.right)
        } else {
            (&key.right, &key.left)
        })
    }

    /// Syncs `record_id` across; `true` when something was written or created.
    /// `open`: whether a missing twin may be created; `lock`: take the pair's lock (false
    /// when the caller already holds it).
    pub async fn run(&self, record_id: &str, open: Open, lock: bool) -> Result<bool, SyncError> {
        let src = self.source();
        let platform = self.engine.platform(&src.system)?;
        let mut fields: Vec<String> = self
            .mappings()
            .iter()
            .map(|m| m.source.field.clone())
            .collect();
        fields.push(platform.id_field().into());
        if let Some((k, _)) = self.key_fields() {
            fields.push(k.field.clone());
        }
        for r in self.link.open.iter().filter(|r| &r.target == self.target()) {
            condition_fields(&r.when, &mut fields);
        }
        fields.sort();
        fields.dedup();
        let names: Vec<&str> = fields.iter().map(String::as_str).collect();
        let Some(record) = platform
            .get(&src.object, record_id, &names)
            .await
            .map_err(|e| SyncError::connector(&format!("reading {src} `{record_id}`"), e))?
        else {
            return Ok(false);
        };
        let twin = self.find_twin(record_id, &record).await?;
        let wanted = self.wanted(record_id, &record).await?;
        let left_id = match (&twin, self.from_left) {
            (_, true) => record_id.to_string(),
            (Some(t), false) => t.clone(),
            // Nothing linked yet: only an `open` rule of this side could make the pair.
            (None, false) => format!("right:{record_id}"),
        };
        let _pair = match lock {
            true => Some(
                self.engine
                    .pair_locks
                    .lock(format!("{}\u{1f}{left_id}", self.link.name))
                    .await,
            ),
            false => None,
        };
        match twin {
            Some(twin) => self.write_diff(&twin, wanted).await,
            None if open != Open::Never => self.open_twin(record_id, &record, wanted, open).await,
            None => Ok(false),
        }
    }

    async fn find_twin(
        &self,
        record_id: &str,
        record: &Record,
    ) -> Result<Option<String>, SyncError> {
        let store = &self.engine.store;
        let name = &self.link.name;
        if let Some(t) = store.link_twin(name, self.from_left, record_id)? {
            return Ok(Some(t));
        }
        let Some((src_key, dst_key)) = self.key_fields() else {
            return Ok(None);
        };
        let Some(key_value) = canonical(record.get(&src_key.field)) else {
            return Ok(None);
        };
        let dst = self.target();
        let platform = self.engine.platform(&dst.system)?;
        let twin = if dst_key.field == platform.id_field() {
            // The key is the twin's own id: it must still exist.
            platform
                .get(&dst.object, &key_value, &[platform.id_field()])
                .await
                .map_err(|e| SyncError::connector(&format!("reading {dst} `{key_value}`"), e))?
                .map(|_| key_value.clone())
        } else {
            let found = platform
                .find(
                    &dst.object,
                    &dst_key.field,
                    &key_value,
                    &[platform.id_field()],
                )
                .await
                .map_err(|e| {
                    SyncError::connector(&format!("looking up {dst_key} = `{key_value}`"), e)
                })?;
            if found.len() > 1 {
                return Err(SyncError::permanent(format!(
                    "link `{name}`: several {dst} records have {dst_key} = `{key_value}`; link them by hand"
                )));
            }
            found
                .first()
                .and_then(|r| canonical(r.get(platform.id_field())))
        };
        if let Some(t) = &twin {
            let (l, r) = if self.from_left {
                (record_id, t.as_str())
            } else {
                (t.as_str(), record_id)
            };
            store.put_link(name, l, r, now_ms())?;
        }
        Ok(twin)
    }

    /// The replica values the source record asks for, mapping by mapping.
    async fn wanted(&self, record_id: &str, record: &Record) -> Result<Vec<Wanted<'a>>, SyncError> {
        let mut out = Vec::new();
        for m in self.mappings() {
            let raw = canonical(record.get(&m.source.field));
            let value = match (&m.value_map, &m.via) {
                (Some(map), _) => match apply_map(map, raw.as_deref()) {
                    Ok(v) => v,
                    Err(()) => {
                        tracing::warn!(record = record_id, field = %m.source, value = ?raw, "no arm of the value map matches; the field is not written");
                        continue;
                    }
                },
                (None, Some(via)) => match raw {
                    None => None,
                    Some(r) => match self.translate(via, &r).await? {
                        Some(t) => Some(t),
                        None => {
                            tracing::warn!(record = record_id, field = %m.source, identity = %via.identity, "no record on the other side matches the identity; the field is not written");
                            continue;
                        }
                    },
                },
                (None, None) => raw,
            };
            out.push(Wanted { mapping: m, value });
        }
        Ok(out)
    }

    /// `via IDENTITY`: the referenced record's key, then the other side's record with that key.
    async fn translate(
        &self,
        via: &seam_compiler::plan::IdentityTranslation,
        reference: &str,
    ) -> Result<Option<String>, SyncError> {
        let sk = &via.source_key;
        let sp = self.engine.platform(&sk.system)?;
        let Some(referenced) = sp
            .get(&sk.object, reference, &[sk.field.as_str()])
            .await
            .map_err(|e| {
                SyncError::connector(
                    &format!(
                        "identity `{}`: reading {}.{} `{reference}`",
                        via.identity, sk.system, sk.object
                    ),
                    e,
                )
            })?
        else {
            return Ok(None);
        };
        let Some(key) = canonical(referenced.get(&sk.field)) else {
            return Ok(None);
        };
        let tk = &via.target_key;
        let tp = self.engine.platform(&tk.system)?;
        let found = tp
            .find(&tk.object, &tk.field, &key, &[tp.id_field()])
            .await
            .map_err(|e| {
                SyncError::connector(
                    &format!("identity `{}`: looking up {tk} = `{key}`", via.identity),
                    e,
                )
            })?;
        if found.len() > 1 {
            return Err(SyncError::permanent(format!(
                "identity `{}`: several records have {tk} = `{key}`",
                via.identity
            )));
        }
        Ok(found.first().and_then(|r| canonical(r.get(tp.id_field()))))
    }

    fn audit(
        &self,
        target_record: &str,
        field: &str,
        rule: String,
        old: Option<String>,
        new: Option<String>,
        outcome: &str,
    ) -> AuditEntry {
        let dst = self.target();
        AuditEntry {
            id: 0,
            at: now_ms(),
            source_system: self.source().system.clone(),
            source_event: self.event.event.idempotency_key.clone(),
            link: self.link.name.clone(),
            rule,
            target_system: dst.system.clone(),
            target_object: dst.object.clone(),
            target_record: target_record.into(),
            field: field.into(),
            old_value: old,
            new_value: new,
            plan_hash: self.engine.plan.spec_hash.clone(),
            outcome: outcome.into(),
        }
    }

    /// Splits wanted values into those the Plan allows and those it does not.
    fn partition(&self, wanted: Vec<Wanted<'a>>) -> (Vec<Wanted<'a>>, Vec<Wanted<'a>>) {
        let src = &self.source().system;
        wanted
            .into_iter()
            .partition(|w| self.engine.allowed(self.link, src, &w.mapping.target))
    }

    /// Audits refused writes (they are never sent) and counts them.
    fn refuse(&self, target_record: &str, refused: &[Wanted<'a>]) -> Result<(), SyncError> {
        if refused.is_empty() {
            return Ok(());
        }
        let src = &self.source().system;
        let rows: Vec<AuditEntry> = refused
            .iter()
            .map(|w| {
                tracing::warn!(record = target_record, field = %w.mapping.target, "write refused: the plan does not let `{src}` write it through link `{}`", self.link.name);
                self.audit(target_record, &w.mapping.target.field, rule(w.mapping), None, w.value.clone(), "refused")
            })
            .collect();
        self.engine
            .metrics
            .refused_writes
            .get_or_create(&Metrics::system(&self.target().system))
            .inc_by(rows.len() as u64);
        self.engine.store.append_audit(&rows)?;
        Ok(())
    }

    /// The allowed values; the refused ones are audited against `target_record`.
    fn guard(
        &self,
        target_record: &str,
        wanted: Vec<Wanted<'a>>,
    ) -> Result<Vec<Wanted<'a>>, SyncError> {
        let (ok, refused) = self.partition(wanted);
        self.refuse(target_record, &refused)?;
        Ok(ok)
    }

    async fn write_diff(&self, twin: &str, wanted: Vec<Wanted<'a>>) -> Result<bool, SyncError> {
        let dst = self.target();
        let store = &self.engine.store;
        let platform = self.engine.platform(&dst.system)?;
        let mut changes = Vec::new();
        for w in self.guard(twin, wanted)? {
            let key = ReplicaKey {
                link: &self.link.name,
                system: &dst.system,
                record: twin,
                field: &w.mapping.target.field,
            };
            let last = store.last_written(&key)?;
            let unchanged = match &last {
                Some(prev) => prev == &w.value,
                None => w.value.is_none(),
            };
            if !unchanged {
                changes.push((w, last.flatten()));
            }
        }
        if changes.is_empty() {
            return Ok(false);
        }
        let body: Map<String, Value> = changes
            .iter()
            .map(|(w, _)| {
                (
                    w.mapping.target.field.clone(),
                    w.value
                        .clone()
                        .map_or_else(|| platform.empty(), Value::String),
                )
            })
            .collect();
        let started = Instant::now();
        let written = platform.update(&dst.object, twin, &body).await;
        self.observe(started);
        let fields: Vec<&str> = changes
            .iter()
            .map(|(w, _)| w.mapping.target.field.as_str())
            .collect();
        written.map_err(|e| {
            SyncError::connector(
                &format!(
                    "link `{}`: writing {dst} `{twin}` fields {}",
                    self.link.name,
                    fields.join(", ")
                ),
                e,
            )
        })?;
        let mut written = Vec::with_capacity(changes.len());
        let mut rows = Vec::with_capacity(changes.len());
        for (w, old) in changes {
            let field = &w.mapping.target.field;
            written.push((
                ReplicaKey {
                    link: &self.link.name,
                    system: &dst.system,
                    record: twin,
                    field,
                },
                w.value.clone(),
            ));
            rows.push(self.audit(
                twin,
                field,
                rule(w.mapping),
                old,
                w.value.clone(),
                "written",
            ));
        }
        store.record_writes(&written, &rows, now_ms())?;
        Ok(true)
    }

    fn observe(&self, started: Instant) {
        self.engine
            .metrics
            .write_latency
            .get_or_create(&Metrics::system(&self.target().system))
            .observe(started.elapsed().as_secs_f64());
    }

    /// Creates the twin when the link's `open` rule holds, then syncs back what the new
    /// record's owner sets (its number, its state).
    async fn open_twin(
        &self,
        record_id: &str,
        record: &Record,
        wanted: Vec<Wanted<'a>>,
        open: Open,
    ) -> Result<bool, SyncError> {
        let dst = self.target();
        if open != Open::Always {
            let Some(rule_) = self.link.open.iter().find(|r| &r.target == dst) else {
                return Ok(false);
            };
            let holds = eval(&rule_.when, record).map_err(|why| {
                SyncError::permanent(format!(
                    "link `{}`: open {dst} for `{record_id}`: {why}",
                    self.link.name
                ))
            })?;
            if !holds {
                return Ok(false);
            }
        }
        let Some((src_key, dst_key)) = self.key_fields() else {
            return Err(SyncError::permanent(format!(
                "link `{}` has no key, so it cannot open a twin idempotently",
                self.link.name
            )));
        };
        let Some(key_value) = canonical(record.get(&src_key.field)) else {
            return Err(SyncError::permanent(format!(
                "{src_key} of `{record_id}` is empty: no twin can be keyed on it"
            )));
        };
        let (wanted, refused) = self.partition(wanted);
        let mut body: Map<String, Value> = wanted
            .iter()
            .filter_map(|w| {
                w.value
                    .clone()
                    .map(|v| (w.mapping.target.field.clone(), Value::String(v)))
            })
            .collect();
        body.insert(dst_key.field.clone(), Value::String(key_value.clone()));
        let platform = self.engine.platform(&dst.system)?;
        let started = Instant::now();
        let created = platform.create(&dst.object, &body).await;
        self.observe(started);
        let twin = created.map_err(|e| {
            SyncError::connector(
                &format!("link `{}`: opening {dst} for `{record_id}`", self.link.name),
                e,
            )
        })?;
        let (l, r) = if self.from_left {
            (record_id, twin.as_str())
        } else {
            (twin.as_str(), record_id)
        };
        let store = &self.engine.store;
        store.put_link(&self.link.name, l, r, now_ms())?;
        self.refuse(&twin, &refused)?;
        let mut written = Vec::with_capacity(wanted.len());
        let mut rows = vec![self.audit(
            &twin,
            &dst_key.field,
            format!("open {dst} when …; key {src_key} <-> {dst_key}"),
            None,
            Some(key_value),
            "created",
        )];
        for w in &wanted {
            let key = ReplicaKey {
                link: &self.link.name,
                system: &dst.system,
                record: &twin,
                field: &w.mapping.target.field,
            };
            written.push((key, w.value.clone()));
            rows.push(self.audit(
                &twin,
                &w.mapping.target.field,
                rule(w.mapping),
                None,
                w.value.clone(),
                "created",
            ));
        }
        store.record_writes(&written, &rows, now_ms())?;
        tracing::info!(link = %self.link.name, record = record_id, twin = %twin, "opened {dst}");
        // The twin's owner filled some fields in (an incident's number and state): carry them
        // back now rather than waiting for its create event, which may be marked as our echo.
        let back = Context {
            engine: self.engine,
            link: self.link,
            from_left: !self.from_left,
            event: self.event,
        };
        Box::pin(back.run(&twin, Open::Never, false)).await?;
        Ok(true)
    }
}
