//! `seam diff`: what a spec change does, in words, for code review. Compares two [`Plan`]s, so
//! a change that only reformats the spec is "no changes".

use super::table::{describe_translation, lit};
use crate::plan::{FieldPath, Plan, PlanMapping, PlanStep, PlanTrigger, PlanWorkflow, ValueMap};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Owners,
    Mappings,
    Keys,
    Identities,
    Workflows,
    Systems,
    Policy,
}

impl Group {
    fn title(self) -> &'static str {
        match self {
            Group::Owners => "Owners",
            Group::Mappings => "Mappings",
            Group::Keys => "Link keys and open rules",
            Group::Identities => "Identities",
            Group::Workflows => "Workflows",
            Group::Systems => "Systems",
            Group::Policy => "Policy",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One change, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub group: Group,
    pub kind: ChangeKind,
    /// What changed: a field, a mapping, a workflow.
    pub subject: String,
    /// How, one sentence each.
    pub details: Vec<String>,
}

/// Every change from `old` to `new`, grouped in [`Group`] order.
pub fn diff(old: &Plan, new: &Plan) -> Vec<Change> {
    let mut out = Vec::new();
    owners(old, new, &mut out);
    mappings(old, new, &mut out);
    keys(old, new, &mut out);
    named(
        Group::Identities,
        &old.identities,
        &new.identities,
        |i| i.name.clone(),
        |i| format!("{} <-> {}", i.left, i.right),
        &mut out,
    );
    workflows(old, new, &mut out);
    named(
        Group::Systems,
        &old.systems,
        &new.systems,
        |s| s.alias.clone(),
        json_line,
        &mut out,
    );
    if old.policy != new.policy {
        out.push(Change {
            group: Group::Policy,
            kind: ChangeKind::Changed,
            subject: "policy".into(),
            details: vec![
                format!("was {}", json_line(&old.policy)),
                format!("now {}", json_line(&new.policy)),
            ],
        });
    }
    out.sort_by_key(|c| c.group);
    out
}

fn json_line<T: Serialize>(t: &T) -> String {
    serde_json::to_string(t).unwrap_or_default()
}

/// field -> the system that owns it (its own system for a source, the source's for a replica).
fn owner_map(plan: &Plan) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for o in &plan.ownership {
        map.insert(o.field.to_string(), o.owner.clone());
        for r in &o.replicas {
            map.insert(r.field.to_string(), o.owner.clone());
        }
    }
    map
}

fn owners(old: &Plan, new: &Plan, out: &mut Vec<Change>) {
    let (a, b) = (owner_map(old), owner_map(new));
    for (field, was) in &a {
        match b.get(field) {
            Some(now) if now != was => out.push(Change {
                group: Group::Owners,
                kind: ChangeKind::Changed,
                subject: field.clone(),
                details: vec![format!("owner was `{was}`, now `{now}`")],
            }),
            None => out.push(Change {
                group: Group::Owners,
                kind: ChangeKind::Removed,
                subject: field.clone(),
                details: vec![format!("no longer crosses the seam (was owned by `{was}`)")],
            }),
            _ => {}
        }
    }
    for (field, now) in &b {
        if !a.contains_key(field) {
            out.push(Change {
                group: Group::Owners,
                kind: ChangeKind::Added,
                subject: field.clone(),
                details: vec![format!("now crosses the seam, owned by `{now}`")],
            });
        }
    }
}

/// (link, target) -> mapping: a target has one writer, so this identifies a mapping.
fn mapping_map(plan: &Plan) -> BTreeMap<(String, FieldPath), &PlanMapping> {
    plan.links
        .iter()
        .flat_map(|l| {
            l.left_to_right
                .iter()
                .chain(&l.right_to_left)
                .map(move |m| ((l.name.clone(), m.target.clone()), m))
        })
        .collect()
}

fn describe(m: &PlanMapping) -> String {
    let t = describe_translation(m);
    if t.is_empty() {
        format!("{} -> {}", m.source, m.target)
    } else {
        format!("{} -> {} ({t})", m.source, m.target)
    }
}

fn mappings(old: &Plan, new: &Plan, out: &mut Vec<Change>) {
    let (a, b) = (mapping_map(old), mapping_map(new));
    for ((link, target), was) in &a {
        let key = (link.clone(), target.clone());
        match b.get(&key) {
            None => out.push(Change {
                group: Group::Mappings,
                kind: ChangeKind::Removed,
                subject: format!("{} -> {}", was.source, was.target),
                details: vec![format!("removed from link `{link}`")],
            }),
            Some(now) if now != was => {
                let mut details = Vec::new();
                if now.source != was.source {
                    details.push(format!("source was `{}`, now `{}`", was.source, now.source));
                }
                map_changes(was.value_map.as_ref(), now.value_map.as_ref(), &mut details);
                if now.via != was.via {
                    let via = |m: &PlanMapping| {
                        m.via.as_ref().map_or("no identity".to_string(), |v| {
                            format!("`via {}`", v.identity)
                        })
                    };
                    details.push(format!("translation was {}, now {}", via(was), via(now)));
                }
                out.push(Change {
                    group: Group::Mappings,
                    kind: ChangeKind::Changed,
                    subject: format!("{} -> {}", now.source, now.target),
                    details,
                });
            }
            _ => {}
        }
    }
    for ((link, target), now) in &b {
        if !a.contains_key(&(link.clone(), target.clone())) {
            out.push(Change {
                group: Group::Mappings,
                kind: ChangeKind::Added,
                subject: describe(now),
                details: vec![format!("added to link `{link}`")],
            });
        }
    }
}

fn map_changes(was: Option<&ValueMap>, now: Option<&ValueMap>, details: &mut Vec<String>) {
    let arms = |m: Option<&ValueMap>| -> BTreeMap<String, String> {
        let mut arms: BTreeMap<String, String> = m
            .map(|m| m.arms.iter().map(|a| (lit(&a.from), lit(&a.to))).collect())
            .unwrap_or_default();
        if let Some(d) = m.and_then(|m| m.default.as_ref()) {
            arms.insert("_".into(), lit(d));
        }
        arms
    };
    match (was, now) {
        (None, Some(_)) => details.push("a value map was added".into()),
        (Some(_), None) => details.push("its value map was removed".into()),
        _ => {}
    }
    let (a, b) = (arms(was), arms(now));
    for (from, to) in &a {
        match b.get(from) {
            None => details.push(format!("arm `{from} => {to}` removed")),
            Some(new_to) if new_to != to => {
                details.push(format!("arm `{from}` now maps to {new_to} (was {to})"))
            }
            _ => {}
        }
    }
    for (from, to) in &b {
        if !a.contains_key(from) {
            details.push(format!("arm `{from} => {to}` added"));
        }
    }
}

fn keys(old: &Plan, new: &Plan, out: &mut Vec<Change>) {
    let links = |p: &Plan| -> BTreeMap<String, (String, String)> {
        p.links
            .iter()
            .map(|l| {
                let key = l.key.as_ref().map_or("no key".to_string(), |k| {
                    format!("key {} <-> {}", k.left, k.right)
                });
                (l.name.clone(), (key, json_line(&l.open)))
            })
            .collect()
    };
    let (a, b) = (links(old), links(new));
    for (name, (key, open)) in &a {
        match b.get(name) {
            None => out.push(Change {
                group: Group::Keys,
                kind: ChangeKind::Removed,
                subject: format!("link `{name}`"),
                details: vec!["the link was removed".into()],
            }),
            Some((k2, o2)) => {
                let mut details = Vec::new();
                if k2 != key {
                    details.push(format!("{key} became {k2}"));
                }
                if o2 != open {
                    details.push(format!("open rules were {open}, now {o2}"));
                }
                if !details.is_empty() {
                    out.push(Change {
                        group: Group::Keys,
                        kind: ChangeKind::Changed,
                        subject: format!("link `{name}`"),
                        details,
                    });
                }
            }
        }
    }
    for (name, (key, _)) in &b {
        if !a.contains_key(name) {
            out.push(Change {
                group: Group::Keys,
                kind: ChangeKind::Added,
                subject: format!("link `{name}`"),
                details: vec![format!("new link, {key}")],
            });
        }
    }
}

/// Added / removed / changed items identified by name.
fn named<T: PartialEq>(
    group: Group,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> String,
    show: impl Fn(&T) -> String,
    out: &mut Vec<Change>,
) {
    let a: BTreeMap<String, &T> = old.iter().map(|t| (name(t), t)).collect();
    let b: BTreeMap<String, &T> = new.iter().map(|t| (name(t), t)).collect();
    for (n, was) in &a {
        match b.get(n) {
            None => out.push(Change {
                group,
                kind: ChangeKind::Removed,
                subject: n.clone(),
                details: vec![],
            }),
            Some(now) if now != was => out.push(Change {
                group,
                kind: ChangeKind::Changed,
                subject: n.clone(),
                details: vec![format!("was {}", show(was)), format!("now {}", show(now))],
            }),
            _ => {}
        }
    }
    for (n, now) in &b {
        if !a.contains_key(n) {
            out.push(Change {
                group,
                kind: ChangeKind::Added,
                subject: n.clone(),
                details: vec![show(now)],
            });
        }
    }
}

fn verb(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Changed => "changed",
    }
}

/// Plain text, grouped, one change per line with its details indented.
pub fn text(changes: &[Change]) -> String {
    render(changes, |g| format!("{}:\n", g.title()), "  ", "      ")
}

/// Markdown: a heading per group, a bullet per change.
pub fn markdown(changes: &[Change]) -> String {
    render(changes, |g| format!("### {}\n\n", g.title()), "- ", "  - ")
}

fn render(
    changes: &[Change],
    heading: impl Fn(Group) -> String,
    bullet: &str,
    sub: &str,
) -> String {
    if changes.is_empty() {
        return "no changes\n".into();
    }
    let mut out = String::new();
    let mut current = None;
    for c in changes {
        if current != Some(c.group) {
            if current.is_some() {
                out.push('\n');
            }
            out.push_str(&heading(c.group));
            current = Some(c.group);
        }
        let _ = writeln!(out, "{bullet}{} `{}`", verb(c.kind), c.subject);
        for d in &c.details {
            let _ = writeln!(out, "{sub}{d}");
        }
    }
    out
}

fn trigger_words(t: &PlanTrigger) -> String {
    match t {
        PlanTrigger::Becomes { field, value } => format!("on {field} becomes {}", lit(value)),
        PlanTrigger::Changes { field } => format!("on {field} changes"),
        PlanTrigger::Created { object } => format!("on {object} created"),
    }
}

fn step_words(s: &PlanStep) -> String {
    match s {
        PlanStep::Action { .. } => format!("{}(...)", s.head()),
        _ => s.head(),
    }
}

fn workflows(old: &Plan, new: &Plan, out: &mut Vec<Change>) {
    let a: BTreeMap<&str, &PlanWorkflow> =
        old.workflows.iter().map(|w| (w.name.as_str(), w)).collect();
    let b: BTreeMap<&str, &PlanWorkflow> =
        new.workflows.iter().map(|w| (w.name.as_str(), w)).collect();
    let change = |kind, name: &str, details| Change {
        group: Group::Workflows,
        kind,
        subject: name.to_string(),
        details,
    };
    for (name, was) in &a {
        match b.get(name) {
            None => out.push(change(
                ChangeKind::Removed,
                name,
                vec![trigger_words(&was.trigger)],
            )),
            Some(now) if now != was => {
                let mut details = Vec::new();
                if now.trigger != was.trigger {
                    details.push(format!(
                        "trigger was `{}`, now `{}`",
                        trigger_words(&was.trigger),
                        trigger_words(&now.trigger)
                    ));
                }
                if now.guard != was.guard {
                    details.push(match (&was.guard, &now.guard) {
                        (None, Some(_)) => "a guard (`when`) was added".to_string(),
                        (Some(_), None) => "its guard (`when`) was removed".to_string(),
                        _ => "its guard (`when`) changed".to_string(),
                    });
                }
                let n = was.steps.len().max(now.steps.len());
                for i in 0..n {
                    match (was.steps.get(i), now.steps.get(i)) {
                        (Some(x), Some(y)) if x != y => details.push(format!(
                            "step {} `{}` changed{}",
                            i + 1,
                            step_words(y),
                            if step_words(x) == step_words(y) {
                                String::new()
                            } else {
                                format!(" (was `{}`)", step_words(x))
                            }
                        )),
                        (Some(x), None) => {
                            details.push(format!("step {} `{}` removed", i + 1, step_words(x)))
                        }
                        (None, Some(y)) => {
                            details.push(format!("step {} `{}` added", i + 1, step_words(y)))
                        }
                        _ => {}
                    }
                }
                out.push(change(ChangeKind::Changed, name, details));
            }
            _ => {}
        }
    }
    for (name, now) in &b {
        if !a.contains_key(name) {
            let mut details = vec![trigger_words(&now.trigger)];
            details.extend(
                now.steps
                    .iter()
                    .map(|s| format!("then `{}`", step_words(s))),
            );
            out.push(change(ChangeKind::Added, name, details));
        }
    }
}
