//! Pure value logic of the Plan: value maps, and conditions (`open ... when`, workflow guards)
//! over a record read with [`super::paths`]. No I/O: a condition that walks references
//! (`sf.Case.Account.Tier__c`) reads the value the record's read fetched through the walk.

use seam_compiler::plan::{
    CompareOp, Condition, FieldPath, Literal, Operand, Plan, PlanMapping, PlanType, ValueMap,
};

use super::paths::RecordView;

/// A literal as the text the platforms carry.
pub fn literal_text(l: &Literal) -> String {
    match l {
        Literal::String(s) => s.clone(),
        Literal::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Literal::Number(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Duration(ms) => ms.to_string(),
    }
}

/// What a value map makes of a value: `Ok(mapped)`, or `Err(())` when no arm matches and there
/// is no `_` arm (the value has no counterpart; the field is not written).
#[allow(clippy::result_unit_err)]
pub fn apply_map(map: &ValueMap, value: Option<&str>) -> Result<Option<String>, ()> {
    let Some(v) = value else {
        return Ok(None);
    };
    for arm in &map.arms {
        if literal_text(&arm.from) == v {
            return Ok(Some(literal_text(&arm.to)));
        }
    }
    match &map.default {
        Some(d) => Ok(Some(literal_text(d))),
        None => Err(()),
    }
}

/// Evaluates a condition on one record. Every path it names must have been read (see
/// [`super::paths::Wants::condition`]); one that was not is an error, never a guess.
pub fn eval(cond: &Condition, rec: &RecordView) -> Result<bool, String> {
    Ok(match cond {
        Condition::Compare { left, op, right } => compare(
            operand(left, rec)?.as_deref(),
            *op,
            operand(right, rec)?.as_deref(),
        ),
        Condition::In { left, values } => {
            let v = operand(left, rec)?;
            values.iter().any(|l| Some(literal_text(l)) == v)
        }
        Condition::All { conditions } => {
            for c in conditions {
                if !eval(c, rec)? {
                    return Ok(false);
                }
            }
            true
        }
        Condition::Any { conditions } => {
            for c in conditions {
                if eval(c, rec)? {
                    return Ok(true);
                }
            }
            false
        }
        Condition::Not { condition } => !eval(condition, rec)?,
    })
}

fn operand(o: &Operand, rec: &RecordView) -> Result<Option<String>, String> {
    match o {
        Operand::Literal { value } => Ok(Some(literal_text(value))),
        Operand::Field { path } => rec.path(path),
        Operand::Metric { .. } => Err("metrics are only for policy alerts".into()),
    }
}

/// A field's type in the Plan.
pub fn field_type<'p>(plan: &'p Plan, field: &FieldPath) -> Option<&'p PlanType> {
    plan.objects
        .iter()
        .find(|o| o.system == field.system && o.object == field.object)?
        .fields
        .iter()
        .find(|f| f.name == field.field)
        .map(|f| &f.ty)
}

/// The reference targets when a mapping carries a display value: a `ref` source feeding a
/// `text` target with no `map` and no `via` (LANGUAGE.md rule 7). `via IDENTITY` keeps
/// translating ids.
pub fn display_targets<'p>(plan: &'p Plan, m: &PlanMapping) -> Option<&'p [String]> {
    if m.value_map.is_some() || m.via.is_some() {
        return None;
    }
    match (field_type(plan, &m.source)?, field_type(plan, &m.target)?) {
        (PlanType::Ref { targets }, PlanType::Text { .. }) => Some(targets),
        _ => None,
    }
}

/// Compares two values: numbers as numbers, anything else as text. A missing value equals only
/// a missing value and is neither less nor greater than anything (an empty `Tier__c` is not
/// `< "B"`).
pub fn compare(a: Option<&str>, op: CompareOp, b: Option<&str>) -> bool {
    let ord = match (a, b) {
        (Some(x), Some(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.partial_cmp(&y),
            _ => Some(x.cmp(y)),
        },
        _ => None,
    };
    match (op, ord) {
        (CompareOp::Eq, _) => a == b,
        (CompareOp::Ne, _) => a != b,
        (_, None) => false,
        (CompareOp::Lt, Some(o)) => o.is_lt(),
        (CompareOp::Le, Some(o)) => o.is_le(),
        (CompareOp::Gt, Some(o)) => o.is_gt(),
        (CompareOp::Ge, Some(o)) => o.is_ge(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::paths::{Dialect, Wants};
    use seam_compiler::plan::MapArm;
    use serde_json::{json, Value};

    #[test]
    fn maps_values_and_reports_unmapped_ones() {
        let map = ValueMap {
            arms: vec![MapArm {
                from: Literal::String("High".into()),
                to: Literal::String("1".into()),
            }],
            default: None,
        };
        assert_eq!(apply_map(&map, Some("High")), Ok(Some("1".into())));
        assert_eq!(apply_map(&map, None), Ok(None));
        assert_eq!(apply_map(&map, Some("Low")), Err(()));
    }

    #[test]
    fn compares_text_and_numbers() {
        assert!(compare(Some("3"), CompareOp::Lt, Some("10")));
        assert!(compare(Some("b"), CompareOp::Gt, Some("a")));
        assert!(!compare(None, CompareOp::Lt, Some("a")));
    }

    fn open_rule(src: &str) -> Condition {
        let (_, plan) = seam_compiler::compile(src);
        plan.unwrap().links.remove(0).open.remove(0).when
    }

    const SPEC: &str = r#"seam s
system sf: salesforce { url = "https://x" }
system snow: servicenow { url = "https://y" }
object sf.Account { Tier__c: picklist("Strategic", "Standard") }
own sf { Case.Subject }
link l: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  open snow.incident when sf.Case.Account.Tier__c == "Strategic" and sf.Case.Subject != "x"
  sf.Case.Subject -> snow.incident.short_description
}
"#;

    #[test]
    fn a_condition_through_a_reference_reads_the_walked_value() {
        let cond = open_rule(SPEC);
        let mut wants = Wants::new(Dialect::Salesforce);
        wants.condition(&cond);
        let asked = vec!["Account.Tier__c".to_string(), "Subject".to_string()];
        let view = |tier: Value| {
            let rec = json!({"Subject": "down", "Account": tier});
            RecordView::new(
                Dialect::Salesforce,
                rec.as_object().cloned().unwrap(),
                asked.clone(),
            )
        };
        assert_eq!(
            eval(&cond, &view(json!({"Tier__c": "Strategic"}))),
            Ok(true)
        );
        assert_eq!(
            eval(&cond, &view(json!({"Tier__c": "Standard"}))),
            Ok(false)
        );
        // No account: the walk reads no value, which is not "Strategic".
        assert_eq!(eval(&cond, &view(Value::Null)), Ok(false));
        // A view that did not read the walk says so.
        let bare = RecordView::new(
            Dialect::Salesforce,
            json!({"Subject": "down"}).as_object().cloned().unwrap(),
            vec!["Subject".to_string()],
        );
        assert!(eval(&cond, &bare).unwrap_err().contains("Tier__c"));
    }
}
