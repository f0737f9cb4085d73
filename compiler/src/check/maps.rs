//! Rule 6 and detail 10: value maps cover their picklist source and produce legal target values;
//! literals compared with, or assigned to, a picklist are among its values.

use crate::catalog::FieldType;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fx::HashMap;
use crate::model::{Cond, FieldDefs, FieldRef, Mapping, Model, Operand, Step, Trigger, Value};
use crate::span::Span;
use crate::syntax::ast::{LitKind, Literal, MapPattern};

pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut defs = FieldDefs::new(model);
    for link in &model.links {
        for m in &link.mappings {
            mapping(&mut defs, m, &mut out);
        }
        for open in &link.opens {
            condition(&open.condition, &mut out);
        }
    }
    for w in &model.workflows {
        if let Trigger::Becomes { field, value } = &w.trigger {
            if let Some(ty) = defs.field_type(&field.node) {
                literal_in(&field.node, ty, value, &mut out);
            }
        }
        if let Some(g) = &w.guard {
            condition(g, &mut out);
        }
        for step in &w.steps {
            if let Step::Create { assignments, .. } | Step::Update { assignments, .. } = step {
                for a in assignments {
                    if let (Value::Literal(lit), Some(ty)) =
                        (&a.value, defs.field_type(&a.field.node))
                    {
                        literal_in(&a.field.node, ty, lit, &mut out);
                    }
                }
            }
        }
    }
    for alert in &model.policy.alerts {
        condition(&alert.condition, &mut out);
    }
    out
}

fn values_of(ty: &FieldType) -> Option<&[String]> {
    match ty {
        FieldType::Picklist { values } => Some(values),
        _ => None,
    }
}

fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mapping(defs: &mut FieldDefs<'_>, m: &Mapping, out: &mut Vec<Diagnostic>) {
    let (Some(src_ty), Some(dst_ty)) = (
        defs.field_type(&m.source.node),
        defs.field_type(&m.target.node),
    ) else {
        return;
    };
    let source_values = values_of(src_ty);
    let target_values = values_of(dst_ty);
    let Some(map) = &m.map else {
        // Detail 10: a picklist copied into a picklist without a map.
        if let (Some(src), Some(dst)) = (source_values, target_values) {
            let illegal: Vec<String> = src.iter().filter(|v| !dst.contains(v)).cloned().collect();
            if !illegal.is_empty() {
                out.push(
                    Diagnostic::error(
                        Code::MapInvalidValue,
                        format!(
                            "`{}` can hold {} which `{}` does not allow",
                            m.source.node,
                            list(&illegal),
                            m.target.node
                        ),
                        m.span,
                    )
                    .with_label("copied without a `map`")
                    .with_help(format!(
                        "add a `map {{ ... }}` that translates every value of `{}` into one of {}",
                        m.source.node.field,
                        list(dst)
                    )),
                );
            }
        }
        return;
    };
    let mut seen: HashMap<String, Span> = HashMap::default();
    let mut has_default = false;
    for arm in &map.arms {
        match &arm.pattern {
            MapPattern::Default(_) => has_default = true,
            MapPattern::Value(lit) => {
                let key = literal_value(lit);
                if let Some(&first) = seen.get(&key) {
                    out.push(
                        Diagnostic::error(
                            Code::NameDuplicate,
                            format!("the map has two arms for {}", lit.text),
                            lit.span,
                        )
                        .with_label("second arm")
                        .with_secondary(first, "first arm")
                        .with_help("keep one arm per source value"),
                    );
                } else {
                    seen.insert(key.clone(), lit.span);
                }
                if let Some(src) = source_values {
                    if !src.contains(&key) {
                        out.push(not_a_value(&m.source.node, src, lit, "the source"));
                    }
                }
            }
        }
        if let Some(dst) = target_values {
            if !dst.contains(&literal_value(&arm.value)) {
                out.push(not_a_value(&m.target.node, dst, &arm.value, "the target"));
            }
        }
    }
    if let (Some(src), false) = (source_values, has_default) {
        let missing: Vec<String> = src
            .iter()
            .filter(|v| !seen.contains_key(*v))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let example = missing.first().cloned().unwrap_or_default();
            out.push(
                Diagnostic::error(
                    Code::MapIncomplete,
                    format!(
                        "the map from `{}` has no arm for {}",
                        m.source.node,
                        list(&missing)
                    ),
                    map.span,
                )
                .with_label(format!(
                    "{} of {} values covered",
                    src.len() - missing.len(),
                    src.len()
                ))
                .with_help(format!(
                    "add an arm for each (`\"{example}\" => ...`) or a default arm `_ => ...`"
                )),
            );
        }
    }
}

fn not_a_value(field: &FieldRef, values: &[String], lit: &Literal, which: &str) -> Diagnostic {
    let near = crate::suggest::did_you_mean(&literal_value(lit), values.iter().map(String::as_str))
        .map(|d| format!("{d} "))
        .unwrap_or_default();
    Diagnostic::error(
        Code::MapInvalidValue,
        format!("{} is not a value of `{field}`", lit.text),
        lit.span,
    )
    .with_label(format!("not in {which} picklist"))
    .with_help(format!("{near}`{}` allows {}", field.field, list(values)))
}

/// The value a literal stands for, as a picklist compares it.
fn literal_value(lit: &Literal) -> String {
    match &lit.kind {
        LitKind::Str(s) => s.value.clone(),
        _ => lit.text.clone(),
    }
}

fn literal_in(field: &FieldRef, ty: &FieldType, lit: &Literal, out: &mut Vec<Diagnostic>) {
    if let Some(values) = values_of(ty) {
        if !values.contains(&literal_value(lit)) {
            out.push(not_a_value(field, values, lit, "the"));
        }
    }
}

fn condition(cond: &Cond, out: &mut Vec<Diagnostic>) {
    match cond {
        Cond::Compare { left, right, .. } => match (left, right) {
            (Operand::Path(p), Operand::Literal(l)) | (Operand::Literal(l), Operand::Path(p)) => {
                literal_in(&p.field, &p.ty, l, out)
            }
            _ => {}
        },
        Cond::In {
            left: Operand::Path(p),
            list,
            ..
        } => {
            for l in list {
                literal_in(&p.field, &p.ty, l, out);
            }
        }
        Cond::In { .. } => {}
        Cond::And(a, b) | Cond::Or(a, b) => {
            condition(a, out);
            condition(b, out);
        }
        Cond::Not(c) => condition(c, out),
    }
}
