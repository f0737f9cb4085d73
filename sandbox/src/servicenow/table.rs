//! The Table API: list (encoded query, fields, paging with `Link` and `X-Total-Count`, display
//! values, reference links), get, create (201 + `Location`), update (PATCH/PUT 200), delete
//! (204). Values are strings; references are `{"link", "value"}`; `number` is auto-numbered;
//! `priority` follows impact × urgency; journal fields (`work_notes`, `comments`) append and
//! read back as "".

use super::render::{Answer, Shown, View, JOURNAL};
use super::{events, query, snow_body, SnowState, TableMeta, User};
use crate::store::{as_text, Db, Record};
use crate::util::{form_urlencoded, percent_encode, sn_datetime};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use seam_compiler::catalog::FieldType;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Fail = (StatusCode, Value);

const JOURNAL_KEY: &str = "__journal__";

/// impact × urgency -> priority (1 Critical … 5 Planning), the standard lookup rules.
pub fn priority(impact: &str, urgency: &str) -> String {
    match (impact.parse::<u8>(), urgency.parse::<u8>()) {
        (Ok(i @ 1..=3), Ok(u @ 1..=3)) => (i + u - 1).to_string(),
        _ => "5".to_string(),
    }
}

fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Object(o) => o.get("value").map(as_text).unwrap_or_default(),
        Value::Array(a) => a.iter().map(as_text).collect::<Vec<_>>().join(","),
        other => as_text(other),
    }
}

/// What applying a body did: the journal entries added, and every field it may have changed
/// (written from the body, derived, or priority); any other field kept its value.
struct Applied {
    journal: Map<String, Value>,
    touched: Vec<String>,
}

/// Applies a request body to a record.
fn apply(
    sn: &SnowState,
    meta: &TableMeta,
    db: &Db,
    rec: &mut Record,
    body: Map<String, Value>,
) -> Applied {
    let mut journal = Map::new();
    let mut touched = Vec::new();
    for (k, v) in body {
        let Some(f) = meta.field(&k) else { continue };
        if f.read_only || k.starts_with("sys_") || (meta.priority_matrix && k == "priority") {
            continue;
        }
        let mut s = text_of(&v);
        if JOURNAL.contains(&k.as_str()) {
            if !s.is_empty() {
                let entries = rec
                    .entry(format!("{JOURNAL_KEY}{k}"))
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entries {
                    a.push(Value::String(s.clone()));
                }
                journal.insert(k.clone(), Value::String(s));
            }
            continue;
        }
        match &f.ty {
            FieldType::Text { max_len: Some(n) } => s = s.chars().take(*n as usize).collect(),
            FieldType::Ref { targets } if !s.is_empty() && !is_sys_id(&s) => {
                // The platform also accepts a display value for a reference.
                if let Some(id) = targets.iter().find_map(|t| {
                    let tm = sn.table(t)?;
                    let df = tm.display_field();
                    db.table(t)?
                        .rows
                        .iter()
                        .find(|(_, r)| r.get(df).map(as_text).as_deref() == Some(s.as_str()))
                        .map(|(id, _)| id.clone())
                }) {
                    s = id;
                }
            }
            FieldType::Bool => {
                s = if matches!(s.as_str(), "true" | "1") {
                    "true".into()
                } else {
                    "false".into()
                }
            }
            _ => {}
        }
        touched.push(k.clone());
        rec.insert(k, Value::String(s));
    }
    touched.extend(crate::store::derive(&meta.def, rec, false));
    if meta.priority_matrix {
        let i = rec.get("impact").map(as_text).unwrap_or_default();
        let u = rec.get("urgency").map(as_text).unwrap_or_default();
        rec.insert("priority".into(), Value::String(priority(&i, &u)));
        touched.push("priority".into());
    }
    Applied { journal, touched }
}

fn data_policy(meta: &TableMeta, rec: &Record) -> Result<(), Fail> {
    let missing: Vec<&str> = meta
        .def
        .fields
        .iter()
        .filter(|f| f.required && !f.read_only)
        .filter(|f| rec.get(&f.name).map(as_text).unwrap_or_default().is_empty())
        .map(|f| f.label.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let detail: String = missing
        .iter()
        .map(|l| format!("\n\t{l} is mandatory"))
        .collect();
    Err((
        StatusCode::FORBIDDEN,
        snow_body(
            "Operation Failed",
            Some(&format!("Data Policy Exception: {detail}\n")),
        ),
    ))
}

/// Creates a record; returns its sys_id and the record.
pub fn insert(
    sn: &SnowState,
    meta: &TableMeta,
    body: Map<String, Value>,
    user: &str,
) -> Result<(String, Record), Fail> {
    let now = sn_datetime(chrono::Utc::now());
    let sys_id = sn.sys_id();
    let mut rec = Record::new();
    for f in &meta.def.fields {
        let default = match (f.name.as_str(), &f.ty) {
            ("impact" | "urgency", _) => "3".to_string(),
            ("state", FieldType::Picklist { values }) => {
                values.first().cloned().unwrap_or_default()
            }
            ("active", _) => "true".into(),
            ("opened_at", _) => now.clone(),
            (_, FieldType::Bool) => "false".into(),
            _ => String::new(),
        };
        rec.insert(f.name.clone(), Value::String(default));
    }
    let (event, rec) = {
        let mut db = sn.store.write();
        let journal = apply(sn, meta, &db, &mut rec, body).journal;
        data_policy(meta, &rec)?;
        if let Some((field, pre, width, post)) = &meta.auto {
            let n = db.next(&format!("auto:{}", meta.name()), 10_001);
            rec.insert(field.clone(), json!(format!("{pre}{n:0width$}{post}")));
        }
        for (k, v) in [
            ("sys_id", sys_id.clone()),
            ("sys_created_on", now.clone()),
            ("sys_created_by", user.to_string()),
            ("sys_updated_on", now.clone()),
            ("sys_updated_by", user.to_string()),
            ("sys_mod_count", "0".to_string()),
            ("sys_class_name", meta.name().to_string()),
        ] {
            rec.insert(k.into(), Value::String(v));
        }
        let changed: Vec<String> = meta
            .def
            .fields
            .iter()
            .filter(|f| {
                rec.get(&f.name).is_some_and(|v| !as_text(v).is_empty())
                    || journal.contains_key(&f.name)
            })
            .map(|f| f.name.clone())
            .collect();
        let event = events::Event {
            meta,
            rec: &rec,
            operation: "insert",
            changed: &changed,
            journal: &journal,
        }
        .to_vec();
        db.table_mut(meta.name())
            .rows
            .insert(sys_id.clone(), rec.clone());
        (event, rec)
    };
    sn.webhook.emit_serialized(&sys_id, event);
    Ok((sys_id, rec))
}

/// Updates a record and answers with it, rendered through `view` under the same lock, so
/// the answer shows what this write committed and the record is never copied out for it.
/// The record is cloned once, so a body refused by the data policy leaves it untouched.
fn update_record(
    sn: &SnowState,
    meta: &TableMeta,
    sys_id: &str,
    body: Map<String, Value>,
    user: &str,
    view: &View,
) -> Result<Response, Fail> {
    let now = sn_datetime(chrono::Utc::now());
    let answer = |db: &Db| -> Result<Response, Fail> {
        let rec = db
            .table(meta.name())
            .and_then(|t| t.rows.get(sys_id))
            .ok_or_else(not_found)?;
        Ok(Json(Answer {
            result: shown(sn, meta, db, rec, view),
        })
        .into_response())
    };
    let mut db = sn.store.write();
    let Some(before) = db.table(meta.name()).and_then(|t| t.rows.get(sys_id)) else {
        return Err(not_found());
    };
    let mut rec = before.clone();
    let Applied { journal, touched } = apply(sn, meta, &db, &mut rec, body);
    // INVARIANT: `apply` changes only the fields it lists in `touched`.
    let differs = |rec: &Record, name: &str| rec.get(name) != before.get(name);
    let mut changed: Vec<String> = meta
        .def
        .fields
        .iter()
        .filter(|f| {
            (touched.contains(&f.name) && differs(&rec, &f.name)) || journal.contains_key(&f.name)
        })
        .map(|f| f.name.clone())
        .collect();
    if changed.is_empty() {
        return answer(&db);
    }
    data_policy(meta, &rec)?;
    let count = rec
        .get("sys_mod_count")
        .map(as_text)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    rec.insert("sys_mod_count".into(), Value::String(count.to_string()));
    rec.insert("sys_updated_on".into(), Value::String(now));
    rec.insert("sys_updated_by".into(), Value::String(user.to_string()));
    for f in ["sys_mod_count", "sys_updated_on", "sys_updated_by"] {
        if !changed.iter().any(|c| c == f) && differs(&rec, f) {
            changed.push(f.to_string());
        }
    }
    if let Some(slot) = db.table_mut(meta.name()).rows.get_mut(sys_id) {
        *slot = rec;
    }
    let res = answer(&db);
    let rec = db
        .table(meta.name())
        .and_then(|t| t.rows.get(sys_id))
        .ok_or_else(not_found)?;
    let event = events::Event {
        meta,
        rec,
        operation: "update",
        changed: &changed,
        journal: &journal,
    };
    sn.webhook
        .emit_serialized_with(sys_id, event.to_vec(), || event.to_value());
    res
}

fn not_found() -> Fail {
    (
        StatusCode::NOT_FOUND,
        snow_body(
            "No Record found",
            Some("Record doesn't exist or ACL restricts the record retrieval"),
        ),
    )
}

fn invalid_table(t: &str) -> Fail {
    (
        StatusCode::BAD_REQUEST,
        snow_body(&format!("Invalid table {t}"), None),
    )
}

fn fail(f: Fail) -> Response {
    (f.0, Json(f.1)).into_response()
}

/// The value of a (possibly dot-walked) field as a string.
pub(super) fn lookup(
    sn: &SnowState,
    meta: &TableMeta,
    db: &Db,
    rec: &Record,
    path: &str,
) -> Option<String> {
    match path.split_once('.') {
        None => meta
            .field(path)
            .map(|_| rec.get(path).map(as_text).unwrap_or_default()),
        Some((head, rest)) => {
            let f = meta.field(head)?;
            let FieldType::Ref { targets } = &f.ty else {
                return None;
            };
            let target = sn.table(targets.first()?)?;
            let id = rec.get(head).map(as_text).unwrap_or_default();
            match db.table(target.name()).and_then(|t| t.rows.get(&id)) {
                Some(r) => lookup(sn, target, db, r, rest),
                None => target.field(rest.split('.').next()?).map(|_| String::new()),
            }
        }
    }
}

fn shown<'a>(
    sn: &'a SnowState,
    meta: &'a TableMeta,
    db: &'a Db,
    rec: &'a Record,
    view: &'a View,
) -> Shown<'a> {
    Shown {
        sn,
        meta,
        db,
        rec,
        view,
    }
}

fn params_of(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded(raw.unwrap_or_default().as_bytes())
}

fn meta_of(sn: &SnowState, path: &HashMap<String, String>) -> Result<Arc<TableMeta>, Fail> {
    let t = path.get("table").map(String::as_str).unwrap_or("");
    sn.table(t).cloned().ok_or_else(|| invalid_table(t))
}

pub async fn list(
    State(sn): State<Arc<SnowState>>,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let meta = match meta_of(&sn, &path) {
        Ok(m) => m,
        Err(f) => return fail(f),
    };
    let params = params_of(raw);
    let view = View::from(&params);
    let p = |k| crate::util::param(&params, k);
    let limit: usize = p("sysparm_limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let offset: usize = p("sysparm_offset")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut q = match p("sysparm_query") {
        Some(s) => query::parse(s),
        None => {
            // name=value pairs filter when there is no sysparm_query.
            let mut eq = query::EncodedQuery::default();
            let terms: Vec<Vec<query::Term>> = params
                .iter()
                .filter(|(k, _)| !k.starts_with("sysparm_"))
                .map(|(k, v)| {
                    vec![query::Term {
                        field: k.clone(),
                        op: "=",
                        value: v.clone(),
                    }]
                })
                .collect();
            eq.queries.push(terms);
            eq
        }
    };
    let db = sn.store.read();
    q.retain_known(|f| lookup(&sn, &meta, &db, &Record::new(), f).is_some() || f.contains('.'));
    let look = |db: &Db, r: &Record, f: &str| lookup(&sn, &meta, db, r, f);
    let mut rows: Vec<&Record> = db
        .table(meta.name())
        .map(|t| {
            t.rows
                .values()
                .filter(|r| q.matches(&db, r, &look))
                .collect()
        })
        .unwrap_or_default();
    q.sort(&db, &mut rows, &look);
    let total = rows.len();
    let result: Vec<Shown> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| shown(&sn, &meta, &db, r, &view))
        .collect();
    let mut res = Json(Answer { result }).into_response();
    drop(db);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        h.insert("X-Total-Count", v);
    }
    if p("sysparm_suppress_pagination_header") != Some("true") && limit > 0 {
        let link = links(&sn, &meta, &params, total, limit, offset);
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert("Link", v);
        }
    }
    res
}

fn links(
    sn: &SnowState,
    meta: &TableMeta,
    params: &[(String, String)],
    total: usize,
    limit: usize,
    offset: usize,
) -> String {
    let keep: String = params
        .iter()
        .filter(|(k, _)| k != "sysparm_offset" && k != "sysparm_limit")
        .map(|(k, v)| format!("&{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    let url = |off: usize| {
        format!(
            "<{}/api/now/table/{}?sysparm_limit={limit}&sysparm_offset={off}{keep}>",
            sn.base_url,
            meta.name()
        )
    };
    let last = if total == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut parts = vec![format!("{};rel=\"first\"", url(0))];
    if offset > 0 {
        parts.push(format!(
            "{};rel=\"prev\"",
            url(offset.saturating_sub(limit))
        ));
    }
    if offset + limit < total {
        parts.push(format!("{};rel=\"next\"", url(offset + limit)));
    }
    parts.push(format!("{};rel=\"last\"", url(last)));
    parts.join(",")
}

pub async fn get_one(
    State(sn): State<Arc<SnowState>>,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let meta = match meta_of(&sn, &path) {
        Ok(m) => m,
        Err(f) => return fail(f),
    };
    let id = path.get("sys_id").cloned().unwrap_or_default();
    let view = View::from(&params_of(raw));
    let db = sn.store.read();
    match db.table(meta.name()).and_then(|t| t.rows.get(&id)) {
        Some(r) => Json(Answer {
            result: shown(&sn, &meta, &db, r, &view),
        })
        .into_response(),
        None => fail(not_found()),
    }
}

fn body_of(bytes: &[u8]) -> Result<Map<String, Value>, Fail> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) | Err(_) if bytes.is_empty() => Ok(Map::new()),
        Ok(_) => Err((
            StatusCode::BAD_REQUEST,
            snow_body(
                "Exception while reading request",
                Some("The payload is not valid JSON."),
            ),
        )),
        Err(_) => Err((
            StatusCode::BAD_REQUEST,
            snow_body(
                "Exception while reading request",
                Some("The payload is not valid JSON."),
            ),
        )),
    }
}

pub async fn create(
    State(sn): State<Arc<SnowState>>,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    Extension(User(user)): Extension<User>,
    body: axum::body::Bytes,
) -> Response {
    let r = meta_of(&sn, &path).and_then(|meta| {
        let body = body_of(&body)?;
        let (id, rec) = insert(&sn, &meta, body, &user)?;
        Ok((meta, id, rec))
    });
    let (meta, id, rec) = match r {
        Ok(x) => x,
        Err(f) => return fail(f),
    };
    let view = View::from(&params_of(raw));
    let db = sn.store.read();
    let mut res = (
        StatusCode::CREATED,
        Json(Answer {
            result: shown(&sn, &meta, &db, &rec, &view),
        }),
    )
        .into_response();
    drop(db);
    let loc = format!("{}/api/now/table/{}/{id}", sn.base_url, meta.name());
    if let Ok(v) = HeaderValue::from_str(&loc) {
        res.headers_mut().insert("Location", v);
    }
    res
}

pub async fn update(
    State(sn): State<Arc<SnowState>>,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    Extension(User(user)): Extension<User>,
    body: axum::body::Bytes,
) -> Response {
    let id = path.get("sys_id").map(String::as_str).unwrap_or_default();
    let r = meta_of(&sn, &path).and_then(|meta| {
        let body = body_of(&body)?;
        let view = View::from(&params_of(raw));
        update_record(&sn, &meta, id, body, &user, &view)
    });
    r.unwrap_or_else(fail)
}

pub async fn delete(
    State(sn): State<Arc<SnowState>>,
    Path(path): Path<HashMap<String, String>>,
) -> Response {
    let meta = match meta_of(&sn, &path) {
        Ok(m) => m,
        Err(f) => return fail(f),
    };
    let id = path.get("sys_id").cloned().unwrap_or_default();
    let event = {
        let mut db = sn.store.write();
        match db.table_mut(meta.name()).rows.shift_remove(&id) {
            Some(rec) => events::Event {
                meta: &meta,
                rec: &rec,
                operation: "delete",
                changed: &[],
                journal: &Map::new(),
            }
            .to_vec(),
            None => return fail(not_found()),
        }
    };
    sn.webhook.emit_serialized(&id, event);
    StatusCode::NO_CONTENT.into_response()
}
