//! Pure value logic of the Plan: value maps and the conditions of `open` rules, over a record
//! read from its platform. No I/O.

use seam_compiler::plan::{CompareOp, Condition, Literal, Operand, ValueMap};

use super::platform::canonical;
use crate::connectors::Record;

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

/// Evaluates a condition on one record. A path that walks references is not evaluated yet:
/// it is an error, so the caller can say so instead of guessing.
pub fn eval(cond: &Condition, rec: &Record) -> Result<bool, String> {
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

fn operand(o: &Operand, rec: &Record) -> Result<Option<String>, String> {
    match o {
        Operand::Literal { value } => Ok(Some(literal_text(value))),
        Operand::Field { path } if path.walk.is_empty() => {
            Ok(canonical(rec.get(&path.field.field)))
        }
        Operand::Field { path } => Err(format!(
            "conditions through references (`{}`) are not evaluated yet",
            path.field
        )),
        Operand::Metric { .. } => Err("metrics are only for policy alerts".into()),
    }
}

/// Compares two values: as numbers when both parse as numbers, else as text; a missing value
/// is smaller than any value.
pub fn compare(a: Option<&str>, op: CompareOp, b: Option<&str>) -> bool {
    let ord = match (
        a.and_then(|x| x.parse::<f64>().ok()),
        b.and_then(|x| x.parse::<f64>().ok()),
    ) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.cmp(&b)),
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

/// The fields of the root record a condition reads.
pub fn condition_fields(cond: &Condition, out: &mut Vec<String>) {
    let mut add = |o: &Operand| {
        if let Operand::Field { path } = o {
            if path.walk.is_empty() {
                out.push(path.field.field.clone());
            } else if let Some(first) = path.walk.first() {
                out.push(first.field.clone());
            }
        }
    };
    match cond {
        Condition::Compare { left, right, .. } => {
            add(left);
            add(right);
        }
        Condition::In { left, .. } => add(left),
        Condition::All { conditions } | Condition::Any { conditions } => {
            for c in conditions {
                condition_fields(c, out);
            }
        }
        Condition::Not { condition } => condition_fields(condition, out),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use seam_compiler::plan::MapArm;
    use serde_json::json;

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
        let rec: Record = json!({"Type": "Infrastructure", "n": 3})
            .as_object()
            .cloned()
            .unwrap();
        assert!(compare(Some("3"), CompareOp::Lt, Some("10")));
        assert!(compare(Some("b"), CompareOp::Gt, Some("a")));
        assert_eq!(canonical(rec.get("n")).as_deref(), Some("3"));
    }
}
