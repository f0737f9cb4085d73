//! Rule 7: types agree across `->` unless a `map` translates; `ref` may feed `text`; `via
//! IDENTITY` turns a `ref` into the other side's `ref`. Conditions compare like with like.

use crate::catalog::FieldType;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{Cond, FieldDefs, Mapping, Metric, Model, Operand};
use crate::syntax::ast::{CmpOp, LitKind, Literal};

pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut defs = FieldDefs::new(model);
    for link in &model.links {
        for m in &link.mappings {
            mapping(model, &mut defs, m, &mut out);
        }
        for open in &link.opens {
            condition(&open.condition, &mut out);
        }
    }
    for w in &model.workflows {
        if let Some(g) = &w.guard {
            condition(g, &mut out);
        }
    }
    for alert in &model.policy.alerts {
        condition(&alert.condition, &mut out);
    }
    out
}

/// Whether a value of `from` can be stored in `to` as it is.
fn assignable(from: &FieldType, to: &FieldType) -> bool {
    use FieldType::*;
    match (from, to) {
        (Text { .. }, Text { .. })
        | (Number, Number)
        | (Bool, Bool)
        | (Datetime, Datetime)
        | (Id, Id) => true,
        // Ids, picklist values and a reference's display value are all text.
        (Id | Picklist { .. } | Ref { .. }, Text { .. }) => true,
        // Checked value by value by the map rules (detail 10).
        (Picklist { .. }, Picklist { .. }) => true,
        _ => false,
    }
}

fn mapping(model: &Model, defs: &mut FieldDefs<'_>, m: &Mapping, out: &mut Vec<Diagnostic>) {
    let (Some(from), Some(to)) = (
        defs.field_type(&m.source.node),
        defs.field_type(&m.target.node),
    ) else {
        return;
    };
    if let Some(via) = &m.via {
        let Some(identity) = model.identities.get(via.node) else {
            return;
        };
        let (FieldType::Ref { targets: src }, FieldType::Ref { targets: dst }) = (from, to) else {
            let (bad, span, ty) = if matches!(from, FieldType::Ref { .. }) {
                (&m.target.node, m.target.span, to)
            } else {
                (&m.source.node, m.source.span, from)
            };
            out.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("`via {}` needs references on both sides, but `{bad}` is {}", identity.name, ty.describe()),
                    span,
                )
                .with_label("not a reference")
                .with_help("`via IDENTITY` translates a reference (e.g. `Case.AccountId`) into the other side's reference (e.g. `incident.company`)"),
            );
            return;
        };
        // The identity's sides, oriented from the mapping's source system.
        let (near, far) = if identity.left.node.system == m.source.node.system {
            (&identity.left.node, &identity.right.node)
        } else {
            (&identity.right.node, &identity.left.node)
        };
        if near.system != m.source.node.system || far.system != m.target.node.system {
            out.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!(
                        "identity `{}` does not join `{}` and `{}`",
                        identity.name, m.source.node.system, m.target.node.system
                    ),
                    via.span,
                )
                .with_label(format!(
                    "joins `{}` and `{}`",
                    identity.left.node.object_ref(),
                    identity.right.node.object_ref()
                ))
                .with_help("use an identity between the two systems of this link"),
            );
            return;
        }
        if !src.iter().any(|o| **o == *near.object) || !dst.iter().any(|o| **o == *far.object) {
            out.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!(
                        "`{}` is ref({}) and `{}` is ref({}), but identity `{}` matches `{}` with `{}`",
                        m.source.node, src.join(" | "), m.target.node, dst.join(" | "), identity.name,
                        near.object_ref(), far.object_ref()
                    ),
                    via.span,
                )
                .with_label("the identity joins other objects")
                .with_help(format!(
                    "use an identity between `{}.{}` and `{}.{}`",
                    m.source.node.system,
                    src.first().cloned().unwrap_or_default(),
                    m.target.node.system,
                    dst.first().cloned().unwrap_or_default()
                )),
            );
        }
        return;
    }
    if m.map.is_some() {
        // The map translates; its output values must fit the target.
        if let Some(map) = &m.map {
            for arm in &map.arms {
                if !literal_fits(&arm.value, to) {
                    out.push(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!(
                                "{} cannot be stored in `{}`, a {} field",
                                arm.value.text,
                                m.target.node,
                                to.describe()
                            ),
                            arm.value.span,
                        )
                        .with_label(format!("expected a {} value", to.describe()))
                        .with_help("make every arm produce a value of the target's type"),
                    );
                }
            }
        }
        return;
    }
    if !assignable(from, to) {
        let help = match (from, to) {
            (FieldType::Ref { .. }, FieldType::Ref { .. }) => {
                "a reference means nothing on the other system: translate it with `via IDENTITY`"
                    .to_string()
            }
            (_, FieldType::Picklist { .. }) => {
                "add a `map { ... }` from each source value to a value of the target picklist"
                    .to_string()
            }
            _ => "map into a field of the same type, or translate the values with `map { ... }`"
                .to_string(),
        };
        out.push(
            Diagnostic::error(
                Code::TypeMismatch,
                format!(
                    "`{}` is {} but `{}` is {}",
                    m.source.node,
                    from.describe(),
                    m.target.node,
                    to.describe()
                ),
                m.span,
            )
            .with_label("types do not agree")
            .with_help(help),
        );
    }
}

fn literal_fits(lit: &Literal, ty: &FieldType) -> bool {
    matches!(
        (&lit.kind, ty),
        (
            LitKind::Str(_),
            FieldType::Text { .. }
                | FieldType::Picklist { .. }
                | FieldType::Id
                | FieldType::Ref { .. }
                | FieldType::Datetime,
        ) | (LitKind::Number(_), FieldType::Number)
            | (LitKind::Bool(_), FieldType::Bool)
    )
}

/// What an operand is, for comparisons.
#[derive(PartialEq)]
enum Sort {
    Text,
    Number,
    Bool,
    Datetime,
    Duration,
}

fn sort_of(op: &Operand) -> Sort {
    match op {
        Operand::Path(p) => match &p.ty {
            FieldType::Number => Sort::Number,
            FieldType::Bool => Sort::Bool,
            FieldType::Datetime => Sort::Datetime,
            _ => Sort::Text,
        },
        Operand::Metric(m) => match m.node {
            Metric::DeadLetter => Sort::Number,
            Metric::Lag => Sort::Duration,
        },
        Operand::Literal(l) => match &l.kind {
            LitKind::Str(_) => Sort::Text,
            LitKind::Number(_) => Sort::Number,
            LitKind::Bool(_) => Sort::Bool,
            LitKind::Duration(_) => Sort::Duration,
        },
    }
}

fn describe(op: &Operand) -> String {
    match op {
        Operand::Path(p) => format!("`{}` ({})", p.field, p.ty.describe()),
        Operand::Metric(m) => format!("`{}`", m.node.as_str()),
        Operand::Literal(l) => l.text.clone(),
    }
}

fn condition(cond: &Cond, out: &mut Vec<Diagnostic>) {
    match cond {
        Cond::Compare {
            left,
            op,
            right,
            span,
        } => {
            let (a, b) = (sort_of(left), sort_of(right));
            // A date-time field compares with an ISO-8601 string literal.
            let agree = a == b
                || matches!(
                    (&a, &b),
                    (Sort::Datetime, Sort::Text) | (Sort::Text, Sort::Datetime)
                ) && [left, right]
                    .iter()
                    .any(|o| matches!(o, Operand::Literal(_)));
            if !agree {
                out.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("cannot compare {} with {}", describe(left), describe(right)),
                        *span,
                    )
                    .with_label("the two sides have different types")
                    .with_help("compare a field with a literal of its own type (strings for text and picklists, numbers, `true`/`false`, durations for `lag`)"),
                );
                return;
            }
            let ordered = matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge);
            if ordered && matches!(a, Sort::Text | Sort::Bool) && !matches!(b, Sort::Datetime) {
                out.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`{}` does not order {}", op.as_str(), describe(left)),
                        *span,
                    )
                    .with_label("not a number, duration or date-time")
                    .with_help("use `==`, `!=` or `in [...]` for text, picklists and booleans"),
                );
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
