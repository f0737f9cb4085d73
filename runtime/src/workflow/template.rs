//! Values of workflow steps and alerts: literals, paths, `let` names, policy metrics, and
//! templates that concatenate them (`"Sev-1 on {sf.Case.CaseNumber}: {sf.Case.Subject}"`);
//! and conditions (guards, alert rules) over the same operands. Pure: the values come from a
//! [`Scope`], so a template is rendered the same way from a record read a second ago or from a
//! unit test's map.
//!
//! Rendering rules: a path with no value renders as the empty string (a Case with no Subject
//! still gets its Task); a `let` name that has no value yet is an error (the compiler orders
//! steps, so it means a bug or a plan edited by hand); metrics render as numbers, `lag` as a
//! duration (`0s`, `42s`, `5m12s`, `2h03m`).

use seam_compiler::plan::{Condition, Metric, Operand, PlanValue, TemplatePart, ValuePath};

use crate::engine::values::{compare, literal_text};

/// Where the values of paths, `let` names and metrics come from.
pub trait Scope {
    fn path(&self, path: &ValuePath) -> Option<String>;
    fn binding(&self, name: &str) -> Option<String>;
    fn metric(&self, metric: Metric) -> Option<String>;
}

fn binding(scope: &dyn Scope, name: &str) -> Result<String, String> {
    scope
        .binding(name)
        .ok_or_else(|| format!("`{name}` has no value yet (no earlier `let {name} = …` finished)"))
}

fn metric(scope: &dyn Scope, m: Metric) -> Result<String, String> {
    scope.metric(m).ok_or_else(|| {
        format!(
            "the metric `{}` is only known to policy alerts",
            metric_name(m)
        )
    })
}

pub fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::DeadLetter => "dead_letter",
        Metric::Lag => "lag",
    }
}

/// A value: `None` when a path has none.
pub fn value(v: &PlanValue, scope: &dyn Scope) -> Result<Option<String>, String> {
    Ok(match v {
        PlanValue::Literal { value } => Some(literal_text(value)),
        PlanValue::Field { path } => scope.path(path),
        PlanValue::Binding { name } => Some(binding(scope, name)?),
        PlanValue::Template { parts } => Some(render(parts, scope)?),
    })
}

/// Concatenates a template's parts.
pub fn render(parts: &[TemplatePart], scope: &dyn Scope) -> Result<String, String> {
    let mut out = String::new();
    for p in parts {
        match p {
            TemplatePart::Text { text } => out.push_str(text),
            TemplatePart::Field { path } => out.push_str(&scope.path(path).unwrap_or_default()),
            TemplatePart::Binding { name } => out.push_str(&binding(scope, name)?),
            TemplatePart::Metric { metric: m } => out.push_str(&render_metric(*m, scope)?),
        }
    }
    Ok(out)
}

fn render_metric(m: Metric, scope: &dyn Scope) -> Result<String, String> {
    let raw = metric(scope, m)?;
    Ok(match m {
        Metric::DeadLetter => raw,
        Metric::Lag => raw.parse::<u64>().map(duration_text).unwrap_or(raw),
    })
}

/// A duration in milliseconds as people read it: `0s`, `42s`, `5m12s`, `2h03m`.
pub fn duration_text(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn operand(o: &Operand, scope: &dyn Scope) -> Result<Option<String>, String> {
    match o {
        Operand::Literal { value } => Ok(Some(literal_text(value))),
        Operand::Field { path } => Ok(scope.path(path)),
        Operand::Metric { metric: m } => metric(scope, *m).map(Some),
    }
}

/// Evaluates a condition; `Err` names what could not be known.
pub fn eval(cond: &Condition, scope: &dyn Scope) -> Result<bool, String> {
    Ok(match cond {
        Condition::Compare { left, op, right } => compare(
            operand(left, scope)?.as_deref(),
            *op,
            operand(right, scope)?.as_deref(),
        ),
        Condition::In { left, values } => {
            let v = operand(left, scope)?;
            values.iter().any(|l| Some(literal_text(l)) == v)
        }
        Condition::All { conditions } => {
            for c in conditions {
                if !eval(c, scope)? {
                    return Ok(false);
                }
            }
            true
        }
        Condition::Any { conditions } => {
            for c in conditions {
                if eval(c, scope)? {
                    return Ok(true);
                }
            }
            false
        }
        Condition::Not { condition } => !eval(condition, scope)?,
    })
}

/// Every path a condition reads.
pub fn condition_paths<'a>(cond: &'a Condition, out: &mut Vec<&'a ValuePath>) {
    let mut add = |o: &'a Operand| {
        if let Operand::Field { path } = o {
            out.push(path);
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
                condition_paths(c, out);
            }
        }
        Condition::Not { condition } => condition_paths(condition, out),
    }
}

/// Every path a value reads.
pub fn value_paths<'a>(v: &'a PlanValue, out: &mut Vec<&'a ValuePath>) {
    match v {
        PlanValue::Field { path } => out.push(path),
        PlanValue::Template { parts } => {
            for p in parts {
                if let TemplatePart::Field { path } = p {
                    out.push(path);
                }
            }
        }
        PlanValue::Literal { .. } | PlanValue::Binding { .. } => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use seam_compiler::plan::{CompareOp, FieldPath, Literal, ObjectPath};
    use std::collections::HashMap;

    #[derive(Default)]
    struct Map {
        paths: HashMap<String, String>,
        lets: HashMap<String, String>,
        metrics: HashMap<&'static str, String>,
    }

    impl Scope for Map {
        fn path(&self, path: &ValuePath) -> Option<String> {
            self.paths.get(&path.field.to_string()).cloned()
        }
        fn binding(&self, name: &str) -> Option<String> {
            self.lets.get(name).cloned()
        }
        fn metric(&self, m: Metric) -> Option<String> {
            self.metrics.get(metric_name(m)).cloned()
        }
    }

    fn path(object: &str, field: &str) -> ValuePath {
        ValuePath {
            root: ObjectPath {
                system: "sf".into(),
                object: "Case".into(),
            },
            walk: Vec::new(),
            field: FieldPath {
                system: "sf".into(),
                object: object.into(),
                field: field.into(),
            },
        }
    }

    fn text(t: &str) -> TemplatePart {
        TemplatePart::Text { text: t.into() }
    }

    #[test]
    fn renders_paths_lets_and_metrics_and_leaves_empty_paths_empty() {
        let mut scope = Map::default();
        scope
            .paths
            .insert("sf.Case.CaseNumber".into(), "00001001".into());
        scope.lets.insert("bridge".into(), "C0123".into());
        scope.metrics.insert("dead_letter", "12".into());
        scope.metrics.insert("lag", "312000".into());
        let parts = vec![
            text("Sev-1 on "),
            TemplatePart::Field {
                path: path("Case", "CaseNumber"),
            },
            text(": "),
            TemplatePart::Field {
                path: path("Case", "Subject"),
            },
            text(" in "),
            TemplatePart::Binding {
                name: "bridge".into(),
            },
            text(", "),
            TemplatePart::Metric {
                metric: Metric::DeadLetter,
            },
            text(" dead, lag "),
            TemplatePart::Metric {
                metric: Metric::Lag,
            },
        ];
        assert_eq!(
            render(&parts, &scope).unwrap(),
            "Sev-1 on 00001001:  in C0123, 12 dead, lag 5m12s"
        );
    }

    #[test]
    fn a_missing_let_or_a_metric_outside_alerts_is_an_error() {
        let scope = Map::default();
        let e = render(
            &[TemplatePart::Binding {
                name: "bridge".into(),
            }],
            &scope,
        )
        .unwrap_err();
        assert!(e.contains("`bridge` has no value yet"), "{e}");
        let e = render(
            &[TemplatePart::Metric {
                metric: Metric::Lag,
            }],
            &scope,
        )
        .unwrap_err();
        assert!(e.contains("only known to policy alerts"), "{e}");
    }

    #[test]
    fn durations_read_like_durations() {
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(59_999), "59s");
        assert_eq!(duration_text(60_000), "1m00s");
        assert_eq!(duration_text(7_380_000), "2h03m");
    }

    #[test]
    fn alert_conditions_compare_metrics_as_numbers() {
        let mut scope = Map::default();
        scope.metrics.insert("dead_letter", "11".into());
        scope.metrics.insert("lag", "9000".into());
        let over = |m: Metric, v: Literal| Condition::Compare {
            left: Operand::Metric { metric: m },
            op: CompareOp::Gt,
            right: Operand::Literal { value: v },
        };
        let cond = Condition::Any {
            conditions: vec![
                over(Metric::DeadLetter, Literal::Number(10.0)),
                over(Metric::Lag, Literal::Duration(300_000)),
            ],
        };
        assert!(eval(&cond, &scope).unwrap());
        scope.metrics.insert("dead_letter", "9".into());
        assert!(
            !eval(&cond, &scope).unwrap(),
            "9 is not > 10, 9s is not > 5m"
        );
        scope.metrics.insert("lag", "300001".into());
        assert!(eval(&cond, &scope).unwrap());
    }

    #[test]
    fn guards_read_walked_paths_and_picklist_literals() {
        let mut scope = Map::default();
        scope
            .paths
            .insert("sf.Account.Tier__c".into(), "Strategic".into());
        let guard = Condition::Compare {
            left: Operand::Field {
                path: path("Account", "Tier__c"),
            },
            op: CompareOp::Eq,
            right: Operand::Literal {
                value: Literal::String("Strategic".into()),
            },
        };
        assert!(eval(&guard, &scope).unwrap());
        scope.paths.clear();
        assert!(
            !eval(&guard, &scope).unwrap(),
            "no account: the guard does not hold"
        );
    }
}
