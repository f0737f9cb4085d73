//! One direction of one link for one record: read it, find (or open) its twin, write the
//! difference. See the module docs of [`super`] for the guarantees.
//!
//! A record found gone (a delete event's read, or any read that 404s) ends its pair: the
//! link row is marked ended, the survivor's replica fields get an `unlinked` audit row, and
//! nothing is deleted on the other system. A twin that answers 404 to a write ends the pair
//! the same way instead of retrying. An ended pair is never written to or re-opened.

use seam_compiler::plan::{FieldPath, ObjectPath, PlanLink, PlanMapping};
use serde_json::{Map, Value};
use std::time::Instant;

use super::effects::Effects;
use super::paths::{Dialect, RecordView, Wants};
use super::platform::{canonical, Platform};
use super::values::{apply_map, display_targets, eval};
use super::{Engine, SyncError};
use crate::metrics::Metrics;
use crate::store::{now_ms, AuditEntry, LinkRow, ReplicaKey, Written};

pub struct Context<'a> {
    pub engine: &'a Engine,
    pub link: &'a PlanLink,
    pub from_left: bool,
    /// What caused this sync, for the audit's `source_event`: the event's idempotency key,
    /// or `reconcile`.
    pub cause: &'a str,
    /// Where an event's handling gathers what it writes to the store, to commit it with the
    /// event's fate ([`super::effects`]); `None` commits each write at once.
    pub effects: Option<&'a Effects>,
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
pub(crate) struct Wanted<'a> {
    pub mapping: &'a PlanMapping,
    pub value: Option<String>,
}

/// A replica field to write: the wanted value and the value it replaces (for the audit).
pub(crate) struct Change<'a> {
    pub wanted: Wanted<'a>,
    pub old: Option<String>,
}

/// What the store knows of a record's twin.
enum Twin {
    Live(String),
    /// The pair ended: nothing is written or opened for it any more.
    Ended,
    Unlinked,
}

/// The fields of the survivor of a pair whose left (`gone_left`) or right record is gone that
/// stop following: the replicas its twin fed, and its key field. They get the `unlinked`
/// audit rows when the pair ends, and the `relinked` ones when it is resumed.
pub(crate) fn survivor_fields(link: &PlanLink, gone_left: bool) -> Vec<&str> {
    let fed = if gone_left {
        &link.left_to_right
    } else {
        &link.right_to_left
    };
    let mut fields: Vec<&str> = fed.iter().map(|m| m.target.field.as_str()).collect();
    if let Some(k) = &link.key {
        fields.push(if gone_left {
            &k.right.field
        } else {
            &k.left.field
        });
    }
    fields
}

fn rule(m: &PlanMapping) -> String {
    format!("{} -> {}", m.source, m.target)
}

impl<'a> Context<'a> {
    pub(crate) fn source(&self) -> &'a ObjectPath {
        if self.from_left {
            &self.link.left
        } else {
            &self.link.right
        }
    }

    pub(crate) fn target(&self) -> &'a ObjectPath {
        if self.from_left {
            &self.link.right
        } else {
            &self.link.left
        }
    }

    pub(crate) fn mappings(&self) -> &'a [PlanMapping] {
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

    /// Adds what this direction reads of its source record: the mapped fields (display
    /// values where a reference feeds text), the id, the key, the paths of its `open` rule.
    pub(crate) fn source_wants(&self, wants: &mut Wants, platform: &Platform) {
        let plan = &self.engine.plan;
        wants.field(platform.id_field());
        for m in self.mappings() {
            match display_targets(plan, m) {
                Some(targets) => wants.display(&m.source.field, targets),
                None => wants.field(&m.source.field),
            };
        }
        if let Some((k, _)) = self.key_fields() {
            wants.field(&k.field);
        }
        for r in self.link.open.iter().filter(|r| &r.target == self.target()) {
            wants.condition(&r.when);
        }
    }

    /// Reads a record of this direction's source side with `wants`.
    pub(crate) async fn read(
        &self,
        side: &ObjectPath,
        record_id: &str,
        wants: &Wants,
    ) -> Result<Option<RecordView>, SyncError> {
        self.engine.read(side, record_id, wants).await
    }

    /// Syncs `record_id` across; `true` when something was written or created, or its pair
    /// ended. `open`: whether a missing twin may be created; `lock`: take the pair's lock
    /// (false when the caller already holds it).
    pub async fn run(&self, record_id: &str, open: Open, lock: bool) -> Result<bool, SyncError> {
        let src = self.source();
        let platform = self.engine.platform(&src.system)?;
        let mut wants = Wants::new(Dialect::of(platform));
        self.source_wants(&mut wants, platform);
        let record = self.read(src, record_id, &wants).await?;
        self.run_on(record_id, record.as_ref(), open, lock).await
    }

    /// [`Self::run`] over a record already read (`None`: it does not exist) with at least
    /// what [`Self::source_wants`] asks: the engine reads an event's record once for every
    /// link direction and workflow trigger that concerns it.
    pub async fn run_on(
        &self,
        record_id: &str,
        record: Option<&RecordView>,
        open: Open,
        lock: bool,
    ) -> Result<bool, SyncError> {
        let Some(record) = record else {
            // Gone: a delete event's read, or any read that 404s, is the same thing.
            return self.source_gone(record_id, lock).await;
        };
        let twin = match self.find_twin(record_id, record).await? {
            Twin::Live(t) => Some(t),
            Twin::Ended => return Ok(false),
            Twin::Unlinked => None,
        };
        let wanted = self.wanted(record_id, record).await?;
        let left_id = match (&twin, self.from_left) {
            (_, true) => record_id.to_string(),
            (Some(t), false) => t.clone(),
            // Nothing linked yet: only an `open` rule of this side could make the pair.
            (None, false) => format!("right:{record_id}"),
        };
        let pair = match lock {
            true => Some(self.engine.pair_locks.lock(self.pair_key(&left_id)).await),
            false => None,
        };
        match twin {
            Some(twin) => {
                let changes = self.changed_since_written(&twin, wanted)?;
                let wrote = self.write(record_id, &twin, changes).await?;
                if let (Some(fx), Some(pair), true) = (self.effects, pair, wrote) {
                    // The values written are recorded with the event's fate: the pair stays
                    // locked until then, so its other side cannot diff against stale ones.
                    fx.hold(pair);
                }
                Ok(wrote)
            }
            None if open != Open::Never => self.open_twin(record_id, record, wanted, open).await,
            None => Ok(false),
        }
    }

    /// The key of the pair lock of the pair whose left record is `left_id`.
    pub(crate) fn pair_key(&self, left_id: &str) -> String {
        format!("{}\u{1f}{left_id}", self.link.name)
    }

    /// The source record is gone: its live pair, if any, ends.
    async fn source_gone(&self, record_id: &str, lock: bool) -> Result<bool, SyncError> {
        let store = &self.engine.store;
        let Some(row) = store.link_row(&self.link.name, self.from_left, record_id)? else {
            return Ok(false);
        };
        if !row.live() {
            return Ok(false);
        }
        let _pair = match lock {
            true => Some(
                self.engine
                    .pair_locks
                    .lock(self.pair_key(&row.left_id))
                    .await,
            ),
            false => None,
        };
        self.end_pair(&row, self.from_left, "not found when read (deleted)")
    }

    /// Ends the pair `row` because its record on the left (`gone_left`) or right side is
    /// gone. The survivor is left as it is (its own system owns its lifecycle); its replica
    /// fields get an `unlinked` audit row so `seam why` shows when and why they stopped
    /// following. `false` when the pair had already ended.
    pub(crate) fn end_pair(
        &self,
        row: &LinkRow,
        gone_left: bool,
        how: &str,
    ) -> Result<bool, SyncError> {
        let link = self.link;
        let (gone, gone_id, survivor, survivor_id) = if gone_left {
            (&link.left, &row.left_id, &link.right, &row.right_id)
        } else {
            (&link.right, &row.right_id, &link.left, &row.left_id)
        };
        let reason = format!("{gone} `{gone_id}` is gone ({how})");
        let store = &self.engine.store;
        if !store.end_link(&link.name, &row.left_id, &row.right_id, now_ms(), &reason)? {
            return Ok(false);
        }
        let fields = survivor_fields(link, gone_left);
        let rule = format!("link `{}` ended: {reason}", link.name);
        let rows: Vec<AuditEntry> = fields
            .iter()
            .map(|f| AuditEntry {
                id: 0,
                at: now_ms(),
                source_system: gone.system.clone(),
                source_event: self.cause.to_string(),
                link: link.name.clone(),
                rule: rule.clone(),
                target_system: survivor.system.clone(),
                target_object: survivor.object.clone(),
                target_record: survivor_id.clone(),
                field: f.to_string(),
                old_value: Some(gone_id.clone()),
                new_value: None,
                plan_hash: self.engine.plan.spec_hash.clone(),
                outcome: "unlinked".into(),
            })
            .collect();
        store.append_audit(&rows)?;
        tracing::info!(link = %link.name, gone = %gone_id, survivor = %survivor_id, "pair ended: {reason}; {survivor} `{survivor_id}` is kept");
        Ok(true)
    }

    async fn find_twin(&self, record_id: &str, record: &RecordView) -> Result<Twin, SyncError> {
        let store = &self.engine.store;
        let name = &self.link.name;
        if let Some(row) = store.link_row(name, self.from_left, record_id)? {
            return Ok(match row.live() {
                true => Twin::Live(row.twin_of(self.from_left).to_string()),
                false => Twin::Ended,
            });
        }
        let Some((src_key, dst_key)) = self.key_fields() else {
            return Ok(Twin::Unlinked);
        };
        let Some(key_value) = record.field(&src_key.field) else {
            return Ok(Twin::Unlinked);
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
        Ok(twin.map_or(Twin::Unlinked, Twin::Live))
    }

    /// The replica values the source record asks for, mapping by mapping.
    pub(crate) async fn wanted(
        &self,
        record_id: &str,
        record: &RecordView,
    ) -> Result<Vec<Wanted<'a>>, SyncError> {
        let mut out = Vec::new();
        for m in self.mappings() {
            let raw = match display_targets(&self.engine.plan, m) {
                Some(_) => record.display(&m.source.field),
                None => record.field(&m.source.field),
            };
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
            source_event: self.cause.to_string(),
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
    pub(crate) fn partition(&self, wanted: Vec<Wanted<'a>>) -> (Vec<Wanted<'a>>, Vec<Wanted<'a>>) {
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
    pub(crate) fn guard(
        &self,
        target_record: &str,
        wanted: Vec<Wanted<'a>>,
    ) -> Result<Vec<Wanted<'a>>, SyncError> {
        let (ok, refused) = self.partition(wanted);
        self.refuse(target_record, &refused)?;
        Ok(ok)
    }

    /// The allowed fields whose wanted value differs from the value last written there (the
    /// event path: an echo of our own write finds nothing).
    fn changed_since_written(
        &self,
        twin: &str,
        wanted: Vec<Wanted<'a>>,
    ) -> Result<Vec<Change<'a>>, SyncError> {
        let dst = self.target();
        let store = &self.engine.store;
        let mut changes = Vec::new();
        let last_written = store.last_written_of(&self.link.name, &dst.system, twin)?;
        for w in self.guard(twin, wanted)? {
            let last = last_written.get(&w.mapping.target.field).cloned();
            let unchanged = match &last {
                Some(prev) => prev == &w.value,
                None => w.value.is_none(),
            };
            if !unchanged {
                changes.push(Change {
                    wanted: w,
                    old: last.flatten(),
                });
            }
        }
        Ok(changes)
    }

    /// Writes `changes` to the twin of `record_id` in one update, then records the values
    /// written and their audit rows together. A twin that answers 404 is gone: the pair
    /// ends (no retry can bring it back). The changes must have passed [`Self::guard`].
    pub(crate) async fn write(
        &self,
        record_id: &str,
        twin: &str,
        changes: Vec<Change<'a>>,
    ) -> Result<bool, SyncError> {
        if changes.is_empty() {
            return Ok(false);
        }
        let dst = self.target();
        let store = &self.engine.store;
        let platform = self.engine.platform(&dst.system)?;
        let body: Map<String, Value> = changes
            .iter()
            .map(|c| {
                (
                    c.wanted.mapping.target.field.clone(),
                    c.wanted
                        .value
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
            .map(|c| c.wanted.mapping.target.field.as_str())
            .collect();
        match written {
            Ok(()) => {}
            Err(e) if e.status == Some(404) => {
                let (left_id, right_id) = match self.from_left {
                    true => (record_id, twin),
                    false => (twin, record_id),
                };
                let row = LinkRow {
                    link: self.link.name.clone(),
                    left_id: left_id.into(),
                    right_id: right_id.into(),
                    created_at: 0,
                    ended_at: None,
                    ended_reason: None,
                };
                return self.end_pair(&row, !self.from_left, "404 when written");
            }
            Err(e) => {
                return Err(SyncError::connector(
                    &format!(
                        "link `{}`: writing {dst} `{twin}` fields {}",
                        self.link.name,
                        fields.join(", ")
                    ),
                    e,
                ))
            }
        }
        let mut written = Vec::with_capacity(changes.len());
        let mut rows = Vec::with_capacity(changes.len());
        for c in &changes {
            let field = &c.wanted.mapping.target.field;
            written.push(Written {
                link: self.link.name.clone(),
                system: dst.system.clone(),
                record: twin.to_string(),
                field: field.clone(),
                value: c.wanted.value.clone(),
            });
            rows.push(self.audit(
                twin,
                field,
                rule(c.wanted.mapping),
                c.old.clone(),
                c.wanted.value.clone(),
                "written",
            ));
        }
        match self.effects {
            Some(fx) => fx.record_writes(written, rows),
            None => {
                let keys: Vec<_> = written.iter().map(|w| (w.key(), w.value.clone())).collect();
                store.record_writes(&keys, &rows, now_ms())?;
            }
        }
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
        record: &RecordView,
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
        let Some(key_value) = record.field(&src_key.field) else {
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
            cause: self.cause,
            // Its writes commit at once, as the opening's did.
            effects: None,
        };
        Box::pin(back.run(&twin, Open::Never, false)).await?;
        Ok(true)
    }
}
