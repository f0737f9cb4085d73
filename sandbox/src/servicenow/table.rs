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

/// One value of a request body, checked and resolved against the store before the record is
/// touched (a reference given by its display value is looked up here, in the store as it was).
enum Write {
    Journal(String, String),
    Set(String, String),
}

/// The values of a request body the record takes, in body order.
fn prepare(sn: &SnowState, meta: &TableMeta, db: &Db, body: Map<String, Value>) -> Vec<Write> {
    let mut writes = Vec::with_capacity(body.len());
    for (k, v) in body {
        let Some(f) = meta.field(&k) else { continue };
        if f.read_only || k.starts_with("sys_") || (meta.priority_matrix && k == "priority") {
            continue;
        }
        let mut s = text_of(&v);
        if JOURNAL.contains(&k.as_str()) {
            if !s.is_empty() {
                writes.push(Write::Journal(k, s));
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
        writes.push(Write::Set(k, s));
    }
    writes
}

/// What a write replaced in a record, to compare with and to put back: the first value each
/// key had (`None`: absent), and the journal entries appended (and whether the list was new).
#[derive(Default)]
struct Undo {
    old: Vec<(String, Option<Value>)>,
    appended: Vec<(String, bool)>,
}

impl Undo {
    fn save(&mut self, rec: &Record, key: &str) {
        if !self.old.iter().any(|(k, _)| k == key) {
            self.old.push((key.to_string(), rec.get(key).cloned()));
        }
    }

    /// The value `key` had before, for a saved key; what it has now otherwise.
    fn before<'a>(&'a self, rec: &'a Record, key: &str) -> Option<&'a Value> {
        match self.old.iter().find(|(k, _)| k == key) {
            Some((_, v)) => v.as_ref(),
            None => rec.get(key),
        }
    }

    fn restore(self, rec: &mut Record) {
        for (key, created) in self.appended.into_iter().rev() {
            if created {
                rec.remove(&key);
            } else if let Some(Value::Array(a)) = rec.get_mut(&key) {
                a.pop();
            }
        }
        for (key, old) in self.old.into_iter().rev() {
            match old {
                Some(v) => rec.insert(key, v),
                None => rec.remove(&key),
            };
        }
    }
}

/// Applies prepared writes to a record, then derives (names, priority).
fn apply(meta: &TableMeta, rec: &mut Record, writes: Vec<Write>) -> (Applied, Undo) {
    let mut journal = Map::new();
    let mut touched = Vec::new();
    let mut undo = Undo::default();
    for w in writes {
        match w {
            Write::Journal(k, s) => {
                let key = format!("{JOURNAL_KEY}{k}");
                undo.appended.push((key.clone(), !rec.contains_key(&key)));
                let entries = rec.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entries {
                    a.push(Value::String(s.clone()));
                }
                journal.insert(k, Value::String(s));
            }
            Write::Set(k, s) => {
                undo.save(rec, &k);
                touched.push(k.clone());
                rec.insert(k, Value::String(s));
            }
        }
    }
    for f in meta
        .def
        .fields
        .iter()
        .filter(|f| !f.derived_from.is_empty())
    {
        undo.save(rec, &f.name);
    }
    touched.extend(crate::store::derive(&meta.def, rec, false));
    if meta.priority_matrix {
        let i = rec.get("impact").map(as_text).unwrap_or_default();
        let u = rec.get("urgency").map(as_text).unwrap_or_default();
        undo.save(rec, "priority");
        rec.insert("priority".into(), Value::String(priority(&i, &u)));
        touched.push("priority".into());
    }
    (Applied { journal, touched }, undo)
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
        let writes = prepare(sn, meta, &db, body);
        let journal = apply(meta, &mut rec, writes).0.journal;
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

/// Updates a record in place and answers with it, rendered through `view` under the same
/// lock, so the answer shows what this write committed and the record is never copied. A
/// body refused by the data policy is undone, so it leaves the record as it was.
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
    if !db
        .table(meta.name())
        .is_some_and(|t| t.rows.contains_key(sys_id))
    {
        return Err(not_found());
    }
    let writes = prepare(sn, meta, &db, body);
    let Some(rec) = db.table_mut(meta.name()).rows.get_mut(sys_id) else {
        return Err(not_found());
    };
    // In place: what the writes replaced is kept, to compare with and to put back.
    let (Applied { journal, touched }, mut undo) = apply(meta, rec, writes);
    // INVARIANT: `apply` changes only the fields it lists in `touched`, each saved in `undo`.
    let differs = |undo: &Undo, rec: &Record, name: &str| rec.get(name) != undo.before(rec, name);
    let mut changed: Vec<String> = meta
        .def
        .fields
        .iter()
        .filter(|f| {
            (touched.contains(&f.name) && differs(&undo, rec, &f.name))
                || journal.contains_key(&f.name)
        })
        .map(|f| f.name.clone())
        .collect();
    if changed.is_empty() {
        // Nothing differs, so the record is as it was.
        return answer(&db);
    }
    if let Err(refused) = data_policy(meta, rec) {
        undo.restore(rec);
        return Err(refused);
    }
    let count = rec
        .get("sys_mod_count")
        .map(as_text)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    for f in ["sys_mod_count", "sys_updated_on", "sys_updated_by"] {
        undo.save(rec, f);
    }
    rec.insert("sys_mod_count".into(), Value::String(count.to_string()));
    rec.insert("sys_updated_on".into(), Value::String(now));
    rec.insert("sys_updated_by".into(), Value::String(user.to_string()));
    for f in ["sys_mod_count", "sys_updated_on", "sys_updated_by"] {
        if !changed.iter().any(|c| c == f) && differs(&undo, rec, f) {
            changed.push(f.to_string());
        }
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
            Some(rec) => {
                let event = events::Event {
                    meta: &meta,
                    rec: &rec,
                    operation: "delete",
                    changed: &[],
                    journal: &Map::new(),
                }
                .to_vec();
                // To Deleted Records, from which `/__sandbox/undelete` restores it.
                let bin = db.deleted.entry(meta.name().to_string()).or_default();
                bin.rows.insert(id.clone(), rec);
                event
            }
            None => return fail(not_found()),
        }
    };
    sn.webhook.emit_serialized(&id, event);
    StatusCode::NO_CONTENT.into_response()
}

/// Restores a record from Deleted Records as it was (values and stamps), as "Undelete Record"
/// does. The platform's undelete performs an insert, so the business rules run: the event is an
/// `insert` with the record's non-empty fields as `changed_fields`.
pub fn undelete_record(sn: &SnowState, table: &str, sys_id: &str) -> Result<(), Fail> {
    let meta = sn
        .table(table)
        .cloned()
        .ok_or_else(|| invalid_table(table))?;
    let event = {
        let mut db = sn.store.write();
        let restored = db
            .deleted
            .get_mut(meta.name())
            .and_then(|bin| bin.rows.shift_remove(sys_id));
        let Some(rec) = restored else {
            return Err((
                StatusCode::NOT_FOUND,
                snow_body(
                    "No Record found",
                    Some(&format!("no deleted {table} `{sys_id}` in Deleted Records")),
                ),
            ));
        };
        let changed: Vec<String> = meta
            .def
            .fields
            .iter()
            .filter(|f| rec.get(&f.name).is_some_and(|v| !as_text(v).is_empty()))
            .map(|f| f.name.clone())
            .collect();
        let event = events::Event {
            meta: &meta,
            rec: &rec,
            operation: "insert",
            changed: &changed,
            journal: &Map::new(),
        }
        .to_vec();
        db.table_mut(meta.name())
            .rows
            .insert(sys_id.to_string(), rec);
        event
    };
    sn.webhook.emit_serialized(sys_id, event);
    Ok(())
}

/// `POST /__sandbox/undelete/{table}/{sys_id}`: [`undelete_record`]; 200 `{"result": record}`,
/// 404 when the record is not in Deleted Records.
pub async fn undelete(
    State(sn): State<Arc<SnowState>>,
    Path((table, sys_id)): Path<(String, String)>,
) -> Response {
    match undelete_record(&sn, &table, &sys_id) {
        Ok(()) => Json(json!({"result": {"sys_id": sys_id, "table": table}})).into_response(),
        Err(f) => fail(f),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::SandboxConfig;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// The record is updated in place: a body the data policy refuses must leave it exactly as
    /// it was (values, journal, stamps), and send no event.
    #[tokio::test]
    async fn a_refused_update_leaves_the_record_as_it_was() {
        let mut config = SandboxConfig::ephemeral();
        crate::schema::apply_json(
            &mut config.catalog,
            r#"{"servicenow": {"incident": {"fields": [
                {"name": "u_required", "type": "text", "required": true}]}}}"#,
        )
        .unwrap();
        let sn = SnowState::new(&config, "http://127.0.0.1:1".into(), None).unwrap();
        let id = sn
            .create_in_process(
                "incident",
                json!({"u_required": "set", "short_description": "before", "work_notes": "first"}),
            )
            .unwrap();
        let meta = sn.table("incident").unwrap().clone();
        let view = View::from(&[]);
        let stored = || sn.store.read().table("incident").unwrap().rows[&id].clone();
        let before = stored();
        let emitted = sn.webhook.stats().emitted;
        let refused = update_record(
            &sn,
            &meta,
            &id,
            body(
                json!({"u_required": "", "short_description": "after", "work_notes": "second",
                        "comments": "new list", "impact": "1", "urgency": "1"}),
            ),
            "someone",
            &view,
        );
        assert_eq!(refused.err().map(|f| f.0), Some(StatusCode::FORBIDDEN));
        assert_eq!(stored(), before);
        assert_eq!(sn.webhook.stats().emitted, emitted);

        // The same body with the mandatory field kept is taken, with its journal entries.
        update_record(
            &sn,
            &meta,
            &id,
            body(json!({"short_description": "after", "work_notes": "second", "impact": "1"})),
            "someone",
            &view,
        )
        .unwrap();
        let after = stored();
        assert_eq!(after["short_description"], "after");
        assert_eq!(after["__journal__work_notes"], json!(["first", "second"]));
        assert_eq!(after["sys_mod_count"], "1");
        let event = sn.webhook.events().pop().unwrap();
        // In the table's field order, then the stamps that moved (`sys_updated_on` only when
        // the second turned since the insert).
        let changed: Vec<&str> = event["changed_fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .filter(|f| *f != "sys_updated_on")
            .collect();
        assert_eq!(
            changed,
            [
                "short_description",
                "priority",
                "impact",
                "work_notes",
                "sys_mod_count",
                "sys_updated_by"
            ],
            "{event}"
        );
    }
}
