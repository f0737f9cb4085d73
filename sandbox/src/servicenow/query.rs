//! ServiceNow encoded queries (`sysparm_query`): `field=value`, `!=`, `>`, `>=`, `<`, `<=`,
//! `LIKE`, `NOT LIKE`, `STARTSWITH`, `ENDSWITH`, `IN`, `NOT IN`, `ISEMPTY`, `ISNOTEMPTY`,
//! joined by `^` (and) and `^OR` (or, binding tighter), `^NQ` (a new query, or-ed), with
//! `ORDERBYfield` / `ORDERBYDESCfield`. Dot-walked fields (`caller_id.name`) follow references.
//! `javascript:gs.dateGenerate('2024-01-31','12:00:00')` is understood. As on the platform, a
//! term naming an unknown field is ignored.

use crate::store::{as_text, Db, Record};
use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub field: String,
    pub op: &'static str,
    pub value: String,
}

/// `queries` are or-ed; each is an and of or-groups.
#[derive(Clone, Debug, Default)]
pub struct EncodedQuery {
    pub queries: Vec<Vec<Vec<Term>>>,
    pub order: Vec<(String, bool)>,
}

const OPS: [&str; 16] = [
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
    "NOT LIKE",
    "LIKE",
    "STARTSWITH",
    "ENDSWITH",
    "NOT IN",
    "IN",
    "ISNOTEMPTY",
    "ISEMPTY",
    "ANYTHING",
    "SAMEAS",
];

fn term(seg: &str) -> Option<Term> {
    let end = seg
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(seg.len());
    let (field, rest) = seg.split_at(end);
    if field.is_empty() {
        return None;
    }
    let op = OPS.iter().find(|op| rest.starts_with(**op))?;
    let value = rest.get(op.len()..).unwrap_or("");
    Some(Term {
        field: field.to_string(),
        op,
        value: script_value(value),
    })
}

/// `javascript:gs.dateGenerate('2024-01-31','12:00:00')` -> `2024-01-31 12:00:00`.
fn script_value(v: &str) -> String {
    if let Some(args) = v
        .strip_prefix("javascript:gs.dateGenerate(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let parts: Vec<String> = args
            .split(',')
            .map(|p| p.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
            .collect();
        return parts.join(" ");
    }
    v.to_string()
}

pub fn parse(q: &str) -> EncodedQuery {
    let mut out = EncodedQuery::default();
    for part in q.split("^NQ") {
        let mut groups: Vec<Vec<Term>> = Vec::new();
        for seg in part.split('^') {
            if seg.is_empty() || seg == "EQ" {
                continue;
            }
            if let Some(f) = seg.strip_prefix("ORDERBYDESC") {
                out.order.push((f.to_string(), true));
            } else if let Some(f) = seg.strip_prefix("ORDERBY") {
                out.order.push((f.to_string(), false));
            } else if let Some(rest) = seg.strip_prefix("OR") {
                match (term(rest), groups.last_mut()) {
                    (Some(t), Some(g)) => g.push(t),
                    (Some(t), None) => groups.push(vec![t]),
                    (None, _) => {}
                }
            } else if let Some(t) = term(seg) {
                groups.push(vec![t]);
            }
        }
        out.queries.push(groups);
    }
    out
}

/// The value a (possibly dot-walked) field has, as a string; `None` when the field is unknown.
pub type Lookup<'a> = dyn Fn(&Db, &Record, &str) -> Option<String> + 'a;

fn cmp_values(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn holds(v: &str, t: &Term, other: Option<String>) -> bool {
    let lower = || v.to_lowercase();
    let tv = t.value.to_lowercase();
    match t.op {
        "=" => v == t.value,
        "!=" => v != t.value,
        ">" => !v.is_empty() && cmp_values(v, &t.value) == Ordering::Greater,
        ">=" => !v.is_empty() && cmp_values(v, &t.value) != Ordering::Less,
        "<" => !v.is_empty() && cmp_values(v, &t.value) == Ordering::Less,
        "<=" => !v.is_empty() && cmp_values(v, &t.value) != Ordering::Greater,
        "LIKE" => lower().contains(&tv),
        "NOT LIKE" => !lower().contains(&tv),
        "STARTSWITH" => lower().starts_with(&tv),
        "ENDSWITH" => lower().ends_with(&tv),
        "IN" => t.value.split(',').any(|x| x == v),
        "NOT IN" => !t.value.split(',').any(|x| x == v),
        "ISEMPTY" => v.is_empty(),
        "ISNOTEMPTY" => !v.is_empty(),
        "ANYTHING" => true,
        "SAMEAS" => other.is_some_and(|o| o == v),
        _ => true,
    }
}

impl EncodedQuery {
    /// Drops terms on unknown fields (the platform ignores them).
    pub fn retain_known(&mut self, known: impl Fn(&str) -> bool) {
        for q in &mut self.queries {
            for g in q.iter_mut() {
                g.retain(|t| known(&t.field));
            }
            q.retain(|g| !g.is_empty());
        }
        self.order.retain(|(f, _)| known(f));
    }

    pub fn matches(&self, db: &Db, rec: &Record, lookup: &Lookup<'_>) -> bool {
        if self.queries.iter().all(Vec::is_empty) {
            return true;
        }
        self.queries.iter().any(|q| {
            q.iter().all(|group| {
                group.iter().any(|t| {
                    let v = lookup(db, rec, &t.field).unwrap_or_default();
                    let other = (t.op == "SAMEAS")
                        .then(|| lookup(db, rec, &t.value))
                        .flatten();
                    holds(&v, t, other)
                })
            })
        })
    }

    pub fn sort(&self, db: &Db, rows: &mut [&Record], lookup: &Lookup<'_>) {
        if self.order.is_empty() {
            return;
        }
        rows.sort_by(|a, b| {
            for (f, desc) in &self.order {
                let x = lookup(db, a, f).unwrap_or_default();
                let y = lookup(db, b, f).unwrap_or_default();
                let o = cmp_values(&x, &y);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
}

/// A plain field's value as a string.
pub fn field_text(rec: &Record, field: &str) -> String {
    rec.get(field).map(as_text).unwrap_or_default()
}
