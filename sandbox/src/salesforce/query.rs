//! `GET /query?q=` — the SOQL subset the runtime needs:
//!
//! `SELECT f1, f2, Rel.f3 | COUNT() FROM Object [WHERE cond] [ORDER BY f [ASC|DESC]
//! [NULLS FIRST|LAST], …] [LIMIT n] [OFFSET n]`, where `cond` combines `f op value`
//! (`= != <> < <= > >=`), `f [NOT] IN (…)`, `f LIKE '…'` with `AND`, `OR`, `NOT` and
//! parentheses. Values: `'strings'`, numbers, `true`/`false`, `null`, date-time literals
//! (`2024-01-31T12:00:00Z`), dates (`2024-01-31`), `TODAY`, `YESTERDAY`. String comparisons are
//! case-insensitive, as in SOQL. Results come in batches of 2,000 (or `Sforce-Query-Options:
//! batchSize=N`), continued through `nextRecordsUrl`.

use super::sobjects::{render, to18};
use super::{ObjMeta, SfError, SfState};
use crate::store::{Db, Record};
use crate::util::parse_datetime;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use seam_compiler::catalog::FieldType;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Date(String),
    Sym(String),
}

#[derive(Clone, Debug)]
enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Time(DateTime<Utc>),
}

#[derive(Clone, Debug)]
enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cmp(String, String, Lit),
    In(String, bool, Vec<Lit>),
    Like(String, bool, String),
}

struct Soql {
    fields: Vec<String>,
    count: bool,
    object: String,
    cond: Option<Cond>,
    order: Vec<(String, bool, bool)>,
    limit: Option<usize>,
    offset: usize,
}

fn malformed(msg: impl Into<String>) -> SfError {
    SfError::new(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", msg, &[])
}

pub fn no_such_column(name: &str, object: &str) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        format!("No such column '{name}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."),
        &[],
    )
}

fn lex(q: &str) -> Result<Vec<Tok>, SfError> {
    let cs: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while let Some(&c) = cs.get(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return Err(malformed("unterminated string literal")),
                    Some('\\') => {
                        if let Some(n) = cs.get(i + 1) {
                            s.push(match n {
                                'n' => '\n',
                                't' => '\t',
                                other => *other,
                            });
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && cs.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while cs
                .get(i)
                .is_some_and(|ch| ch.is_ascii_alphanumeric() || matches!(ch, ':' | '.' | '+' | '-'))
            {
                i += 1;
            }
            let text: String = cs.get(start..i).unwrap_or_default().iter().collect();
            if text.get(1..).is_some_and(|t| t.contains('-')) {
                out.push(Tok::Date(text));
            } else {
                out.push(Tok::Num(
                    text.parse()
                        .map_err(|_| malformed(format!("unexpected token: {text}")))?,
                ));
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while cs
                .get(i)
                .is_some_and(|ch| ch.is_alphanumeric() || matches!(ch, '_' | '.' | ':'))
            {
                i += 1;
            }
            out.push(Tok::Word(
                cs.get(start..i).unwrap_or_default().iter().collect(),
            ));
        } else {
            let two: String = cs.get(i..i + 2).unwrap_or_default().iter().collect();
            if ["!=", "<>", "<=", ">="].contains(&two.as_str()) {
                out.push(Tok::Sym(two));
                i += 2;
            } else if "=<>(),".contains(c) {
                out.push(Tok::Sym(c.to_string()));
                i += 1;
            } else {
                return Err(malformed(format!("unexpected character: {c}")));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn kw(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn ident(&mut self, what: &str) -> Result<String, SfError> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(malformed(format!(
                "expected {what}, found {}",
                show(other.as_ref())
            ))),
        }
    }
    fn number(&mut self) -> Result<usize, SfError> {
        match self.next() {
            Some(Tok::Num(n)) if n >= 0.0 => Ok(n as usize),
            other => Err(malformed(format!(
                "expected a number, found {}",
                show(other.as_ref())
            ))),
        }
    }

    fn query(&mut self) -> Result<Soql, SfError> {
        if !self.kw("SELECT") {
            return Err(malformed("unexpected token: expected SELECT"));
        }
        let mut fields = Vec::new();
        let mut count = false;
        loop {
            let f = self.ident("a field")?;
            if f.eq_ignore_ascii_case("COUNT") && self.sym("(") {
                if !self.sym(")") {
                    return Err(malformed("only COUNT() is supported"));
                }
                count = true;
            } else {
                fields.push(f);
            }
            if !self.sym(",") {
                break;
            }
        }
        if !self.kw("FROM") {
            return Err(malformed(format!(
                "unexpected token: {}",
                show(self.peek())
            )));
        }
        let object = self.ident("an object")?;
        let cond = if self.kw("WHERE") {
            Some(self.or()?)
        } else {
            None
        };
        let mut order = Vec::new();
        if self.kw("ORDER") {
            if !self.kw("BY") {
                return Err(malformed("expected BY after ORDER"));
            }
            loop {
                let f = self.ident("a field")?;
                let desc = if self.kw("DESC") {
                    true
                } else {
                    self.kw("ASC");
                    false
                };
                let mut nulls_last = desc;
                if self.kw("NULLS") {
                    nulls_last = if self.kw("LAST") {
                        true
                    } else if self.kw("FIRST") {
                        false
                    } else {
                        return Err(malformed("expected FIRST or LAST after NULLS"));
                    };
                }
                order.push((f, desc, nulls_last));
                if !self.sym(",") {
                    break;
                }
            }
        }
        let limit = if self.kw("LIMIT") {
            Some(self.number()?)
        } else {
            None
        };
        let offset = if self.kw("OFFSET") { self.number()? } else { 0 };
        if let Some(t) = self.peek() {
            return Err(malformed(format!("unexpected token: {}", show(Some(t)))));
        }
        Ok(Soql {
            fields,
            count,
            object,
            cond,
            order,
            limit,
            offset,
        })
    }

    fn or(&mut self) -> Result<Cond, SfError> {
        let mut left = self.and()?;
        while self.kw("OR") {
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Cond, SfError> {
        let mut left = self.unary()?;
        while self.kw("AND") {
            left = Cond::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Cond, SfError> {
        if self.kw("NOT") {
            return Ok(Cond::Not(Box::new(self.unary()?)));
        }
        if self.sym("(") {
            let c = self.or()?;
            if !self.sym(")") {
                return Err(malformed("expected )"));
            }
            return Ok(c);
        }
        let field = self.ident("a field")?;
        if self.kw("NOT") {
            if self.kw("IN") {
                return Ok(Cond::In(field, true, self.list()?));
            }
            if self.kw("LIKE") {
                return Ok(Cond::Like(field, true, self.string()?));
            }
            return Err(malformed("expected IN or LIKE after NOT"));
        }
        if self.kw("IN") {
            return Ok(Cond::In(field, false, self.list()?));
        }
        if self.kw("LIKE") {
            return Ok(Cond::Like(field, false, self.string()?));
        }
        let op = match self.next() {
            Some(Tok::Sym(s)) if s != "(" && s != ")" && s != "," => {
                if s == "<>" {
                    "!=".to_string()
                } else {
                    s
                }
            }
            other => {
                return Err(malformed(format!(
                    "unexpected token: {}",
                    show(other.as_ref())
                )))
            }
        };
        Ok(Cond::Cmp(field, op, self.literal()?))
    }
    fn string(&mut self) -> Result<String, SfError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            other => Err(malformed(format!(
                "expected a string, found {}",
                show(other.as_ref())
            ))),
        }
    }
    fn list(&mut self) -> Result<Vec<Lit>, SfError> {
        if !self.sym("(") {
            return Err(malformed("expected ( after IN"));
        }
        let mut out = Vec::new();
        loop {
            out.push(self.literal()?);
            if self.sym(")") {
                return Ok(out);
            }
            if !self.sym(",") {
                return Err(malformed("expected , or ) in IN list"));
            }
        }
    }
    fn literal(&mut self) -> Result<Lit, SfError> {
        let today = || {
            Utc::now()
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
        };
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Ok(Lit::Num(n)),
            Some(Tok::Date(d)) => parse_datetime(&d)
                .map(Lit::Time)
                .ok_or_else(|| malformed(format!("invalid date-time literal: {d}"))),
            Some(Tok::Word(w)) => match w.to_ascii_uppercase().as_str() {
                "TRUE" => Ok(Lit::Bool(true)),
                "FALSE" => Ok(Lit::Bool(false)),
                "NULL" => Ok(Lit::Null),
                "TODAY" => today().map(Lit::Time).ok_or_else(|| malformed("TODAY")),
                "YESTERDAY" => today()
                    .map(|t| Lit::Time(t - chrono::Duration::days(1)))
                    .ok_or_else(|| malformed("YESTERDAY")),
                _ => Err(malformed(format!("unexpected token: {w}"))),
            },
            other => Err(malformed(format!(
                "unexpected token: {}",
                show(other.as_ref())
            ))),
        }
    }
}

fn show(t: Option<&Tok>) -> String {
    match t {
        None => "end of query".into(),
        Some(Tok::Word(w)) => w.clone(),
        Some(Tok::Str(s)) => format!("'{s}'"),
        Some(Tok::Num(n)) => n.to_string(),
        Some(Tok::Date(d)) => d.clone(),
        Some(Tok::Sym(s)) => s.clone(),
    }
}

/// How many relationships one field path may walk (`Account.Owner.Manager.Name` walks three):
/// Salesforce's limit of five levels for child-to-parent relationships.
const MAX_HOPS: usize = 5;

/// A resolved field path: a field of the object, or `Rel.Rel….Field` through references.
#[derive(Clone)]
struct FieldPath {
    field: String,
    ty: FieldType,
    /// The references walked, from the queried object on.
    via: Vec<Hop>,
}

/// One relationship of a path: the reference field on the object reached so far, the
/// relationship's name (the answer's key for the nested record), the object it reaches.
#[derive(Clone)]
struct Hop {
    reference: String,
    relationship: String,
    target: Arc<ObjMeta>,
}

fn resolve(sf: &SfState, meta: &ObjMeta, name: &str) -> Result<FieldPath, SfError> {
    let mut parts: Vec<&str> = name.split('.').collect();
    let last = parts.pop().unwrap_or(name);
    if parts.len() > MAX_HOPS {
        return Err(malformed(format!(
            "{name}: a field path walks at most {MAX_HOPS} relationships (child to parent)"
        )));
    }
    let mut via: Vec<Hop> = Vec::with_capacity(parts.len());
    for rel in parts {
        let on: &ObjMeta = via.last().map_or(meta, |h| &h.target);
        let r = on
            .def
            .fields
            .iter()
            .find(|f| {
                f.relationship
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(rel))
            })
            .ok_or_else(|| no_such_column(name, meta.name()))?;
        let target = match &r.ty {
            FieldType::Ref { targets } => targets.first().and_then(|t| sf.object(t)).cloned(),
            _ => None,
        }
        .ok_or_else(|| no_such_column(name, meta.name()))?;
        via.push(Hop {
            reference: r.name.clone(),
            relationship: r.relationship.clone().unwrap_or_default(),
            target,
        });
    }
    let on: &ObjMeta = via.last().map_or(meta, |h| &h.target);
    let f = on.field(last).ok_or_else(|| {
        if via.is_empty() {
            no_such_column(name, meta.name())
        } else {
            no_such_column(last, on.name())
        }
    })?;
    Ok(FieldPath {
        field: f.name.clone(),
        ty: f.ty.clone(),
        via,
    })
}

/// The record a path's walk reaches from `rec` (`rec` itself without a walk); `None` when a
/// reference on the way is empty or names no record.
fn reach<'a>(db: &'a Db, rec: &'a Record, via: &[Hop]) -> Option<&'a Record> {
    via.iter().try_fold(rec, |r, hop| {
        let id = r.get(&hop.reference)?.as_str()?;
        db.table(hop.target.name())?.rows.get(id)
    })
}

fn value_of<'a>(db: &'a Db, rec: &'a Record, p: &FieldPath) -> &'a Value {
    reach(db, rec, &p.via)
        .and_then(|r| r.get(&p.field))
        .unwrap_or(&Value::Null)
}

/// Puts a walked field's value into an answer row as Salesforce nests it: each relationship an
/// object with its `attributes` (type and URL of the record reached), the field in the last;
/// a relationship whose reference is empty is `null` and ends the nesting.
fn nest(
    db: &Db,
    rec: &Record,
    p: &FieldPath,
    out: &mut serde_json::Map<String, Value>,
    version: &str,
) {
    let mut at = out;
    let mut from = rec;
    for hop in &p.via {
        let linked = from
            .get(&hop.reference)
            .and_then(Value::as_str)
            .and_then(|id| {
                db.table(hop.target.name())?
                    .rows
                    .get(id)
                    .map(|t| (id.to_string(), t))
            });
        let Some((id, next)) = linked else {
            at.entry(hop.relationship.clone()).or_insert(Value::Null);
            return;
        };
        let slot = at.entry(hop.relationship.clone()).or_insert_with(|| {
            json!({"attributes": {"type": hop.target.name(), "url": format!("/services/data/{version}/sobjects/{}/{id}", hop.target.name())}})
        });
        let Some(m) = slot.as_object_mut() else {
            return;
        };
        at = m;
        from = next;
    }
    at.insert(
        p.field.clone(),
        from.get(&p.field).cloned().unwrap_or(Value::Null),
    );
}

fn compare(v: &Value, lit: &Lit, ty: &FieldType) -> Option<Ordering> {
    match (v, lit) {
        (Value::Null, Lit::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Lit::Null) => None,
        (Value::String(s), Lit::Time(t)) => parse_datetime(s).map(|x| x.cmp(t)),
        (Value::String(s), Lit::Str(l)) => {
            let l = match ty {
                FieldType::Id | FieldType::Ref { .. } => to18(l).unwrap_or_else(|| l.clone()),
                _ => l.clone(),
            };
            Some(s.to_lowercase().cmp(&l.to_lowercase()))
        }
        (Value::Number(n), Lit::Num(l)) => n.as_f64().and_then(|x| x.partial_cmp(l)),
        (Value::Bool(b), Lit::Bool(l)) => Some(b.cmp(l)),
        _ => None,
    }
}

fn like(v: &str, pattern: &str) -> bool {
    fn go(s: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| s.get(i..).is_some_and(|t| go(t, rest))),
            Some(('_', rest)) => s.split_first().is_some_and(|(_, t)| go(t, rest)),
            Some((c, rest)) => s.split_first().is_some_and(|(h, t)| h == c && go(t, rest)),
        }
    }
    let s: Vec<char> = v.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    go(&s, &p)
}

enum Plan {
    And(Box<Plan>, Box<Plan>),
    Or(Box<Plan>, Box<Plan>),
    Not(Box<Plan>),
    Cmp(FieldPath, String, Lit),
    In(FieldPath, bool, Vec<Lit>),
    Like(FieldPath, bool, String),
}

fn plan(sf: &SfState, meta: &ObjMeta, c: Cond) -> Result<Plan, SfError> {
    Ok(match c {
        Cond::And(a, b) => Plan::And(Box::new(plan(sf, meta, *a)?), Box::new(plan(sf, meta, *b)?)),
        Cond::Or(a, b) => Plan::Or(Box::new(plan(sf, meta, *a)?), Box::new(plan(sf, meta, *b)?)),
        Cond::Not(a) => Plan::Not(Box::new(plan(sf, meta, *a)?)),
        Cond::Cmp(f, op, l) => Plan::Cmp(resolve(sf, meta, &f)?, op, l),
        Cond::In(f, neg, l) => Plan::In(resolve(sf, meta, &f)?, neg, l),
        Cond::Like(f, neg, p) => Plan::Like(resolve(sf, meta, &f)?, neg, p),
    })
}

fn eval(db: &Db, rec: &Record, p: &Plan) -> bool {
    match p {
        Plan::And(a, b) => eval(db, rec, a) && eval(db, rec, b),
        Plan::Or(a, b) => eval(db, rec, a) || eval(db, rec, b),
        Plan::Not(a) => !eval(db, rec, a),
        Plan::Cmp(f, op, lit) => {
            let v = value_of(db, rec, f);
            let o = compare(v, lit, &f.ty);
            match op.as_str() {
                "=" => o == Some(Ordering::Equal),
                "!=" => o != Some(Ordering::Equal),
                "<" => o == Some(Ordering::Less),
                "<=" => matches!(o, Some(Ordering::Less | Ordering::Equal)),
                ">" => o == Some(Ordering::Greater),
                ">=" => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
                _ => false,
            }
        }
        Plan::In(f, neg, lits) => {
            let v = value_of(db, rec, f);
            lits.iter()
                .any(|l| compare(v, l, &f.ty) == Some(Ordering::Equal))
                != *neg
        }
        Plan::Like(f, neg, pat) => {
            value_of(db, rec, f).as_str().is_some_and(|s| like(s, pat)) != *neg
        }
    }
}

/// The one id a condition pins (`Id = '…'`, alone or as a term of an AND), as stored: the
/// 18-character form. A comparison ignores case, and two 18-character ids that differ only in
/// case differ in their suffix (it encodes the case of the first 15), so no other row can
/// match: a lookup instead of a scan of the table. `None` when the literal is not an id.
fn id_key(p: &Plan) -> Option<String> {
    match p {
        Plan::Cmp(f, op, Lit::Str(l)) if f.via.is_empty() && f.field == "Id" && op == "=" => {
            to18(l)
        }
        Plan::And(a, b) => id_key(a).or_else(|| id_key(b)),
        _ => None,
    }
}

fn order_cmp(a: &Value, b: &Value, nulls_last: bool) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => {
            if nulls_last {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (_, Value::Null) => {
            if nulls_last {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        _ => Ordering::Equal,
    }
}

fn execute(sf: &SfState, q: &str, version: &str) -> Result<(usize, Vec<Value>), SfError> {
    let soql = Parser {
        toks: lex(q)?,
        pos: 0,
    }
    .query()?;
    let meta = sf.object(&soql.object).cloned().ok_or_else(|| {
        SfError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            format!("sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", soql.object),
            &[],
        )
    })?;
    if soql.fields.is_empty() && !soql.count {
        return Err(malformed("SELECT needs at least one field"));
    }
    let fields: Vec<FieldPath> = soql
        .fields
        .iter()
        .map(|f| resolve(sf, &meta, f))
        .collect::<Result<_, _>>()?;
    let order: Vec<(FieldPath, bool, bool)> = soql
        .order
        .iter()
        .map(|(f, d, n)| resolve(sf, &meta, f).map(|p| (p, *d, *n)))
        .collect::<Result<_, _>>()?;
    let cond = soql.cond.map(|c| plan(sf, &meta, c)).transpose()?;
    let db = sf.store.read();
    let Some(table) = db.table(meta.name()) else {
        return Ok((0, Vec::new()));
    };
    let matches = |r: &&Record| cond.as_ref().is_none_or(|c| eval(&db, r, c));
    let mut hits: Vec<&Record> = match cond.as_ref().and_then(id_key) {
        // INVARIANT: rows are keyed by their `Id`, in the 18-character form, so only the row
        // under the key can equal it (see `id_key`); the condition is still checked whole.
        Some(key) => table.rows.get(&key).into_iter().filter(matches).collect(),
        None => table.rows.values().filter(matches).collect(),
    };
    if !order.is_empty() {
        hits.sort_by(|a, b| {
            for (p, desc, nulls_last) in &order {
                let o = order_cmp(value_of(&db, a, p), value_of(&db, b, p), *nulls_last);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    let hits: Vec<&Record> = hits
        .into_iter()
        .skip(soql.offset)
        .take(soql.limit.unwrap_or(usize::MAX))
        .collect();
    if soql.count {
        return Ok((hits.len(), Vec::new()));
    }
    let records = hits
        .iter()
        .map(|r| {
            let mut out = render(&meta, r, version, Some(&[]));
            if let Some(o) = out.as_object_mut() {
                for p in &fields {
                    nest(&db, r, p, o, version);
                }
            }
            out
        })
        .collect::<Vec<_>>();
    Ok((records.len(), records))
}

fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map(|n| n.clamp(200, 2000))
        .unwrap_or(2000)
}

fn page(
    sf: &SfState,
    version: &str,
    total: usize,
    mut records: Vec<Value>,
    batch: usize,
    offset: usize,
    locator: Option<String>,
) -> Value {
    let mut out = Map::new();
    out.insert("totalSize".into(), json!(total));
    if records.len() > batch {
        let rest = records.split_off(batch);
        let locator = locator.unwrap_or_else(|| sf.save_cursor(Vec::new()));
        sf.replace_cursor(&locator, rest);
        out.insert("done".into(), json!(false));
        out.insert(
            "nextRecordsUrl".into(),
            json!(format!(
                "/services/data/{version}/query/{locator}-{}",
                offset + batch
            )),
        );
    } else {
        out.insert("done".into(), json!(true));
    }
    out.insert("records".into(), Value::Array(records));
    Value::Object(out)
}

pub async fn query(
    State(sf): State<Arc<SfState>>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = crate::util::form_urlencoded(raw.unwrap_or_default().as_bytes());
    let Some(q) = crate::util::param(&params, "q") else {
        return malformed("A query string (q) is required").into_response();
    };
    match execute(&sf, q, &version) {
        Ok((total, records)) => Json(page(
            &sf,
            &version,
            total,
            records,
            batch_size(&headers),
            0,
            None,
        ))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /query/{locator}-{offset}`.
pub async fn more(
    State(sf): State<Arc<SfState>>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some((loc, offset)) = locator.rsplit_once('-') else {
        return SfError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
            &[],
        )
        .into_response();
    };
    let offset: usize = offset.parse().unwrap_or(0);
    match sf.cursor(loc) {
        Some(rest) => {
            let total = offset + rest.len();
            Json(page(
                &sf,
                &version,
                total,
                rest,
                batch_size(&headers),
                offset,
                Some(loc.to_string()),
            ))
            .into_response()
        }
        None => SfError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
            &[],
        )
        .into_response(),
    }
}
