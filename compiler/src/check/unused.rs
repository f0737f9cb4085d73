//! `seam::unused` (warning): a declared custom field that nothing references, or an identity no
//! `via` names (detail 15).

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fx::HashSet;
use crate::model::{
    Cond, CustomField, FieldRef, Model, Operand, Step, TemplatePart, Trigger, Value, ValuePath,
};

pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // A field the spec mentions is used. Resolving mentions every field it references, so on
    // a model from `resolve` the fields left are the unused ones: usually none, and the set of
    // referenced fields (a hash insert per reference) is built only when some are left.
    let unmentioned: Vec<&CustomField> = model
        .custom_fields
        .iter()
        .filter(|c| !model.mentions.fields.contains(&c.field))
        .collect();
    let used = match unmentioned.is_empty() {
        true => HashSet::default(),
        false => referenced_fields(model),
    };
    for custom in unmentioned {
        if !used.contains(&custom.field) && !is_derivation_input(model, &custom.field) {
            out.push(
                Diagnostic::warning(
                    Code::Unused,
                    format!("custom field `{}` is never used", custom.field),
                    custom.span,
                )
                .with_label("declared here")
                .with_help("map it, key on it, use it in a workflow, or remove the declaration"),
            );
        }
    }
    let via: HashSet<usize> = model
        .links
        .iter()
        .flat_map(|l| {
            l.mappings
                .iter()
                .filter_map(|m| m.via.as_ref().map(|v| v.node))
        })
        .collect();
    for (i, identity) in model.identities.iter().enumerate() {
        if !via.contains(&i) && !model.mentions.identities.contains(&identity.name) {
            out.push(
                Diagnostic::warning(Code::Unused, format!("identity `{}` is never used", identity.name), identity.name_span)
                    .with_label("no mapping translates through it")
                    .with_help(format!("use it in a mapping (`sf.Case.AccountId -> snow.incident.company via {}`) or remove it", identity.name)),
            );
        }
    }
    out
}

/// Whether a derived field of the same object is computed from `field` (`from(...)`). Asked
/// only for fields nothing else uses, so it stays off the hot path.
fn is_derivation_input(model: &Model, field: &FieldRef) -> bool {
    let Some(kind) = model.kind(&field.system) else {
        return false;
    };
    model.catalog.object(kind, &field.object).is_some_and(|o| {
        o.fields
            .iter()
            .any(|f| f.derived_from.iter().any(|d| **d == *field.field))
    })
}

/// Every field the spec references anywhere (own entries, identities, keys, mappings,
/// conditions, triggers, steps, templates). Borrows from the model: no field is copied.
pub fn referenced_fields(model: &Model) -> HashSet<&FieldRef> {
    let mut used = HashSet::default();
    for own in model.owns.iter().filter(|o| !o.star) {
        used.insert(&own.field);
    }
    for identity in &model.identities {
        used.insert(&identity.left.node);
        used.insert(&identity.right.node);
    }
    for link in &model.links {
        if let Some(key) = &link.key {
            used.insert(&key.left.node);
            used.insert(&key.right.node);
        }
        for m in &link.mappings {
            used.insert(&m.source.node);
            used.insert(&m.target.node);
        }
        for open in &link.opens {
            cond(&open.condition, &mut used);
        }
    }
    for w in &model.workflows {
        match &w.trigger {
            Trigger::Becomes { field, .. } | Trigger::Changes { field } => {
                used.insert(&field.node);
            }
            Trigger::Created { .. } => {}
        }
        if let Some(g) = &w.guard {
            cond(g, &mut used);
        }
        for step in &w.steps {
            match step {
                Step::Create { assignments, .. } | Step::Update { assignments, .. } => {
                    for a in assignments {
                        used.insert(&a.field.node);
                        value(&a.value, &mut used);
                    }
                }
                Step::Action { args, .. } => args.iter().for_each(|a| value(&a.value, &mut used)),
                Step::Open { .. } => {}
            }
        }
    }
    for alert in &model.policy.alerts {
        cond(&alert.condition, &mut used);
        alert.args.iter().for_each(|a| value(&a.value, &mut used));
    }
    used
}

fn path<'a>(p: &'a ValuePath, used: &mut HashSet<&'a FieldRef>) {
    used.extend(p.walk.iter());
    used.insert(&p.field);
}

fn value<'a>(v: &'a Value, used: &mut HashSet<&'a FieldRef>) {
    match v {
        Value::Path(p) => path(p, used),
        Value::Template(t) => {
            for part in &t.parts {
                if let TemplatePart::Path(p) = part {
                    path(p, used);
                }
            }
        }
        Value::Literal(_) | Value::Binding(_) => {}
    }
}

fn cond<'a>(c: &'a Cond, used: &mut HashSet<&'a FieldRef>) {
    match c {
        Cond::Compare { left, right, .. } => {
            for o in [left, right] {
                if let Operand::Path(p) = o {
                    path(p, used);
                }
            }
        }
        Cond::In { left, .. } => {
            if let Operand::Path(p) = left {
                path(p, used);
            }
        }
        Cond::And(a, b) | Cond::Or(a, b) => {
            cond(a, used);
            cond(b, used);
        }
        Cond::Not(x) => cond(x, used),
    }
}
