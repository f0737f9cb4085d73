//! sObject resources: versions, describe, create, read, update, delete, upsert by external id.

use super::{events, query, ObjMeta, SfError, SfState};
use crate::store::Record;
use crate::util::{parse_datetime, sf_datetime};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use seam_compiler::catalog::{FieldDef, FieldType};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 18-character id of the `n`th record with key prefix `prefix`.
pub fn sf_id(prefix: &str, n: u64) -> String {
    let mut digits = [b'0'; 9];
    let mut v = n;
    for d in digits.iter_mut().rev() {
        *d = BASE62.get((v % 62) as usize).copied().unwrap_or(b'0');
        v /= 62;
    }
    let id15 = format!("{prefix}5g0{}", String::from_utf8_lossy(&digits));
    with_suffix(&id15).unwrap_or(id15)
}

/// Adds the 3-character case-safe suffix to a 15-character id.
fn with_suffix(id15: &str) -> Option<String> {
    let b = id15.as_bytes();
    if b.len() != 15 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let mut out = id15.to_string();
    for chunk in b.chunks(5) {
        let flags = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        out.push(*SUFFIX.get(flags)? as char);
    }
    Some(out)
}

/// A 15- or 18-character id as 18 characters, or `None` when it is not an id.
pub fn to18(id: &str) -> Option<String> {
    match id.len() {
        15 => with_suffix(id),
        18 => {
            let full = with_suffix(id.get(..15)?)?;
            full.eq_ignore_ascii_case(id).then_some(full)
        }
        _ => None,
    }
}

pub async fn versions() -> Response {
    let list: Vec<Value> = (31..=66)
        .map(|v| {
            json!({"label": release_label(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")})
        })
        .collect();
    Json(list).into_response()
}

fn release_label(v: u32) -> String {
    let season = ["Spring", "Summer", "Winter"];
    // v31.0 = Summer '14; three releases a year.
    let idx = (v as usize + 2) % 3;
    let year = 14 + (v.saturating_sub(30)) / 3;
    format!("{} '{}", season.get(idx).unwrap_or(&"Spring"), year)
}

pub async fn resources(Path(version): Path<String>) -> Response {
    let b = format!("/services/data/{version}");
    Json(json!({
        "sobjects": format!("{b}/sobjects"),
        "query": format!("{b}/query"),
        "queryAll": format!("{b}/queryAll"),
        "limits": format!("{b}/limits"),
    }))
    .into_response()
}

pub async fn limits(State(sf): State<Arc<SfState>>) -> Response {
    let used = sf.api_usage.load(std::sync::atomic::Ordering::Relaxed);
    Json(json!({"DailyApiRequests": {"Max": sf.api_limit, "Remaining": sf.api_limit.saturating_sub(used)}}))
        .into_response()
}

fn object_summary(meta: &ObjMeta, version: &str) -> Value {
    let b = format!("/services/data/{version}/sobjects/{}", meta.name());
    json!({
        "name": meta.name(),
        "label": meta.def.label,
        "labelPlural": format!("{}s", meta.def.label),
        "keyPrefix": meta.key_prefix,
        "custom": !meta.def.standard,
        "createable": true, "updateable": true, "deletable": true, "queryable": true,
        "retrieveable": true, "searchable": true, "layoutable": true, "triggerable": true,
        "urls": {"sobject": b, "describe": format!("{b}/describe"), "rowTemplate": format!("{b}/{{ID}}")},
    })
}

pub async fn describe_global(
    State(sf): State<Arc<SfState>>,
    Path(version): Path<String>,
) -> Response {
    let sobjects: Vec<Value> = sf
        .names
        .iter()
        .filter_map(|n| sf.object(n))
        .map(|m| object_summary(m, &version))
        .collect();
    Json(json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})).into_response()
}

fn meta_of(sf: &SfState, object: &str) -> Result<Arc<ObjMeta>, SfError> {
    sf.object(object).cloned().ok_or_else(SfError::not_found)
}

pub async fn basic_info(
    State(sf): State<Arc<SfState>>,
    Path((version, object)): Path<(String, String)>,
) -> Response {
    match meta_of(&sf, &object) {
        Ok(m) => Json(json!({"objectDescribe": object_summary(&m, &version), "recentItems": []}))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn sf_type(f: &FieldDef, meta: &ObjMeta) -> (&'static str, u32) {
    if meta.auto.as_ref().is_some_and(|a| a.0 == f.name) {
        return ("string", 30);
    }
    match &f.ty {
        FieldType::Id => ("id", 18),
        FieldType::Text { max_len } => {
            let n = max_len.unwrap_or(255);
            (if n > 255 { "textarea" } else { "string" }, n)
        }
        FieldType::Number => ("double", 0),
        FieldType::Bool => ("boolean", 0),
        FieldType::Datetime => ("datetime", 0),
        FieldType::Ref { .. } => ("reference", 18),
        FieldType::Picklist { .. } => ("picklist", 255),
    }
}

pub async fn describe(
    State(sf): State<Arc<SfState>>,
    Path((version, object)): Path<(String, String)>,
) -> Response {
    let meta = match meta_of(&sf, &object) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let fields: Vec<Value> = meta
        .def
        .fields
        .iter()
        .map(|f| {
            let (ty, len) = sf_type(f, &meta);
            let writable = !f.read_only;
            let picklist: Vec<Value> = match &f.ty {
                FieldType::Picklist { values } => values
                    .iter()
                    .map(|v| json!({"active": true, "defaultValue": false, "label": v, "value": v, "validFor": null}))
                    .collect(),
                _ => Vec::new(),
            };
            let (targets, rel) = match &f.ty {
                FieldType::Ref { targets } => (targets.clone(), f.relationship.clone()),
                _ => (Vec::new(), None),
            };
            json!({
                "name": f.name, "label": f.label, "type": ty, "length": len,
                "nillable": !f.required && f.name != "Id", "createable": writable, "updateable": writable,
                "unique": f.unique, "externalId": f.unique && writable, "idLookup": f.unique || f.name == "Id",
                "custom": !f.standard, "calculated": !f.derived_from.is_empty(),
                "autoNumber": meta.auto.as_ref().is_some_and(|a| a.0 == f.name),
                "defaultedOnCreate": f.read_only, "filterable": true, "sortable": true, "groupable": true,
                "picklistValues": picklist, "restrictedPicklist": matches!(f.ty, FieldType::Picklist { .. }),
                "referenceTo": targets, "relationshipName": rel,
                "soapType": soap_type(ty),
            })
        })
        .collect();
    let mut d = object_summary(&meta, &version);
    if let Some(o) = d.as_object_mut() {
        o.insert("fields".into(), Value::Array(fields));
        o.insert("childRelationships".into(), json!([]));
        o.insert("recordTypeInfos".into(), json!([]));
    }
    Json(d).into_response()
}

fn soap_type(ty: &str) -> &'static str {
    match ty {
        "id" | "reference" => "tns:ID",
        "double" => "xsd:double",
        "boolean" => "xsd:boolean",
        "datetime" => "xsd:dateTime",
        _ => "xsd:string",
    }
}

/// Checks and normalises a request body against the object's fields.
fn validate(
    sf: &SfState,
    meta: &ObjMeta,
    body: Map<String, Value>,
    creating: bool,
) -> Result<Record, SfError> {
    let bad = |code: &str, msg: String, field: &str| {
        SfError::new(StatusCode::BAD_REQUEST, code, msg, &[field])
    };
    let mut out = Record::new();
    for (key, value) in body {
        if key == "attributes" {
            continue;
        }
        if key.eq_ignore_ascii_case("Id") {
            return Err(SfError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                "The Id field should not be specified in the sobject data.",
                &[],
            ));
        }
        let Some(f) = meta.field(&key) else {
            return Err(SfError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                format!("No such column '{key}' on sobject of type {}", meta.name()),
                &[],
            ));
        };
        if f.read_only {
            return Err(bad(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!("Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f.name),
                &f.name,
            ));
        }
        let v = match (&f.ty, value) {
            (_, Value::Null) => Value::Null,
            (FieldType::Text { max_len }, v) => {
                let s = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(parse_error("String", &f.name)),
                };
                if let Some(n) = max_len {
                    if s.chars().count() > *n as usize {
                        return Err(bad(
                            "STRING_TOO_LONG",
                            format!("{}: data value too large: {} (max length={n})", f.label, s),
                            &f.name,
                        ));
                    }
                }
                Value::String(s)
            }
            (FieldType::Picklist { values }, Value::String(s)) => {
                if !values.is_empty() && !values.contains(&s) {
                    return Err(bad(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        format!("{}: bad value for restricted picklist field: {s}", f.label),
                        &f.name,
                    ));
                }
                Value::String(s)
            }
            (FieldType::Picklist { .. }, _) => return Err(parse_error("String", &f.name)),
            (FieldType::Number, Value::Number(n)) => Value::Number(n),
            (FieldType::Number, Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(x) => json!(x),
                Err(_) => return Err(parse_error("double", &f.name)),
            },
            (FieldType::Number, _) => return Err(parse_error("double", &f.name)),
            (FieldType::Bool, Value::Bool(b)) => Value::Bool(b),
            (FieldType::Bool, _) => return Err(parse_error("boolean", &f.name)),
            (FieldType::Datetime, Value::String(s)) => match parse_datetime(&s) {
                Some(t) => Value::String(sf_datetime(t)),
                None => return Err(parse_error("datetime", &f.name)),
            },
            (FieldType::Datetime, _) => return Err(parse_error("datetime", &f.name)),
            (FieldType::Ref { targets }, Value::String(s)) => {
                let Some(id) = to18(&s) else {
                    return Err(bad(
                        "MALFORMED_ID",
                        format!("{}: id value of incorrect type: {s}", f.label),
                        &f.name,
                    ));
                };
                let prefixes: Vec<&str> = targets
                    .iter()
                    .filter_map(|t| sf.object(t).map(|m| m.key_prefix.as_str()))
                    .collect();
                if !prefixes.is_empty() && !prefixes.iter().any(|p| id.starts_with(p)) {
                    return Err(bad(
                        "FIELD_INTEGRITY_EXCEPTION",
                        format!("{}: id value of incorrect type: {s}", f.label),
                        &f.name,
                    ));
                }
                Value::String(id)
            }
            (FieldType::Ref { .. } | FieldType::Id, _) => {
                return Err(parse_error("String", &f.name))
            }
        };
        out.insert(f.name.clone(), v);
    }
    if creating {
        let missing: Vec<&str> = meta
            .def
            .fields
            .iter()
            .filter(|f| f.required && !f.read_only)
            .filter(|f| out.get(&f.name).is_none_or(Value::is_null))
            .map(|f| f.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(SfError::new(
                StatusCode::BAD_REQUEST,
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", missing.join(", ")),
                &missing,
            ));
        }
    }
    Ok(out)
}

fn parse_error(ty: &str, field: &str) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "JSON_PARSER_ERROR",
        format!("Cannot deserialize instance of {ty} from VALUE_STRING value or request may be missing a required field ({field})"),
        &[],
    )
}

fn json_body(body: &[u8]) -> Result<Map<String, Value>, SfError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(SfError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of sobject from non-object value",
            &[],
        )),
        Err(e) => Err(SfError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!("Unexpected character: {e}"),
            &[],
        )),
    }
}

/// Creates a record; returns its id. Emits a CREATE change event.
pub fn create(
    sf: &SfState,
    meta: &ObjMeta,
    body: Map<String, Value>,
    origin: &str,
) -> Result<String, SfError> {
    let mut rec = validate(sf, meta, body, true)?;
    let now = sf_datetime(chrono::Utc::now());
    let (id, event, outbound) = {
        let mut db = sf.store.write();
        let n = db.next(&format!("id:{}", meta.key_prefix), 1);
        let id = sf_id(&meta.key_prefix, n);
        if let Some((field, pre, width, post)) = &meta.auto {
            let k = db.next(&format!("auto:{}", meta.name()), 1);
            rec.insert(field.clone(), json!(format!("{pre}{k:0width$}{post}")));
        }
        if meta.field("OwnerId").is_some() && rec.get("OwnerId").is_none_or(Value::is_null) {
            rec.insert("OwnerId".into(), json!(sf.user_id));
        }
        crate::store::derive(&meta.def, &mut rec, true);
        rec.insert("Id".into(), json!(id));
        rec.insert("IsDeleted".into(), json!(false));
        for f in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            rec.insert(f.into(), json!(now));
        }
        for f in ["CreatedById", "LastModifiedById"] {
            rec.insert(f.into(), json!(sf.user_id));
        }
        let replay = db.next("replay", 1);
        let commit = db.next("commit", 1);
        let event =
            events::ChangeEvent::new(sf, meta, "CREATE", &id, &rec, &[], origin, replay, commit)
                .to_vec();
        let outbound = sf
            .outbound
            .wants(meta.name())
            .then(|| (sf_id("04l", db.next("outbound", 1)), rec.clone()));
        db.table_mut(meta.name()).rows.insert(id.clone(), rec);
        (id, event, outbound)
    };
    sf.webhook.emit_serialized(&id, event);
    if let Some((notification_id, rec)) = outbound {
        sf.outbound
            .notify(meta, &rec, notification_id, || sf.mint_token());
    }
    Ok(id)
}

/// Updates a record with a validated body. Emits an UPDATE event when a value changed.
fn apply_update(
    sf: &SfState,
    meta: &ObjMeta,
    id: &str,
    body: Map<String, Value>,
    origin: &str,
    headers: &HeaderMap,
) -> Result<(), SfError> {
    let changes = validate(sf, meta, body, false)?;
    let now = sf_datetime(chrono::Utc::now());
    let event = {
        let mut db = sf.store.write();
        let replay = db.next("replay", 1);
        let commit = db.next("commit", 1);
        let notification_id = sf
            .outbound
            .wants(meta.name())
            .then(|| sf_id("04l", db.next("outbound", 1)));
        let Some(rec) = db.table_mut(meta.name()).rows.get_mut(id) else {
            return Err(SfError::not_found());
        };
        precondition(headers, rec)?;
        let mut changed: Vec<String> = Vec::new();
        let mut payload = Record::new();
        for (k, v) in changes {
            if rec.get(&k).unwrap_or(&Value::Null) != &v {
                changed.push(k.clone());
                payload.insert(k.clone(), v.clone());
                rec.insert(k, v);
            }
        }
        for k in crate::store::derive(&meta.def, rec, true) {
            payload.insert(k.clone(), rec.get(&k).cloned().unwrap_or(Value::Null));
            changed.push(k);
        }
        rec.insert("LastModifiedDate".into(), json!(now));
        rec.insert("LastModifiedById".into(), json!(sf.user_id));
        rec.insert("SystemModstamp".into(), json!(now));
        if changed.is_empty() {
            None
        } else {
            changed.push("LastModifiedDate".into());
            payload.insert("LastModifiedDate".into(), json!(now));
            let outbound = notification_id.map(|n| (n, rec.clone()));
            Some((
                events::ChangeEvent::new(
                    sf, meta, "UPDATE", id, &payload, &changed, origin, replay, commit,
                )
                .to_vec(),
                outbound,
            ))
        }
    };
    if let Some((e, outbound)) = event {
        sf.webhook.emit_serialized(id, e);
        if let Some((notification_id, rec)) = outbound {
            sf.outbound
                .notify(meta, &rec, notification_id, || sf.mint_token());
        }
    }
    Ok(())
}

/// `If-Unmodified-Since` against LastModifiedDate: 412 when the record changed after it.
fn precondition(headers: &HeaderMap, rec: &Record) -> Result<(), SfError> {
    let Some(h) = headers.get("if-unmodified-since") else {
        return Ok(());
    };
    let since = h
        .to_str()
        .ok()
        .and_then(|s| chrono::DateTime::parse_from_rfc2822(s).ok())
        .ok_or_else(|| {
            SfError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_HEADER_TYPE",
                "Invalid If-Unmodified-Since header",
                &[],
            )
        })?;
    let modified = rec
        .get("LastModifiedDate")
        .and_then(Value::as_str)
        .and_then(parse_datetime);
    match modified {
        Some(m) if m.timestamp() > since.timestamp() => Err(SfError::new(
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
            "The requested resource was modified after the specified If-Unmodified-Since time",
            &[],
        )),
        _ => Ok(()),
    }
}

fn delete_record(sf: &SfState, meta: &ObjMeta, id: &str, origin: &str) -> Result<(), SfError> {
    let event = {
        let mut db = sf.store.write();
        if db
            .table(meta.name())
            .is_none_or(|t| !t.rows.contains_key(id))
        {
            return Err(SfError::new(
                StatusCode::NOT_FOUND,
                "ENTITY_IS_DELETED",
                "entity is deleted",
                &[],
            ));
        }
        let replay = db.next("replay", 1);
        let commit = db.next("commit", 1);
        if let Some(mut rec) = db.table_mut(meta.name()).rows.shift_remove(id) {
            // To the Recycle Bin, from which `/__sandbox/undelete` restores it.
            rec.insert("IsDeleted".into(), json!(true));
            let bin = db.deleted.entry(meta.name().to_string()).or_default();
            bin.rows.insert(id.to_string(), rec);
        }
        events::ChangeEvent::new(
            sf,
            meta,
            "DELETE",
            id,
            &Record::new(),
            &[],
            origin,
            replay,
            commit,
        )
        .to_vec()
    };
    sf.webhook.emit_serialized(id, event);
    Ok(())
}

/// Restores a record from the Recycle Bin, as Apex or SOAP `undelete()` does (the REST API has
/// no undelete call), and emits its CDC `UNDELETE` event: every non-empty field, as CREATE
/// carries them. `changeOrigin` is empty, as for a restore from the Recycle Bin's page. Returns
/// the record's 18-character id.
pub fn undelete_record(sf: &SfState, object: &str, id: &str) -> Result<String, SfError> {
    let meta = meta_of(sf, object)?;
    let id18 = to18(id).ok_or_else(|| not_an_id(id))?;
    let event = {
        let mut db = sf.store.write();
        let restored = db
            .deleted
            .get_mut(meta.name())
            .and_then(|bin| bin.rows.shift_remove(&id18));
        let Some(mut rec) = restored else {
            return Err(SfError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no deleted {} `{id18}` in the Recycle Bin", meta.name()),
                &[],
            ));
        };
        rec.insert("IsDeleted".into(), json!(false));
        rec.insert(
            "SystemModstamp".into(),
            json!(sf_datetime(chrono::Utc::now())),
        );
        let replay = db.next("replay", 1);
        let commit = db.next("commit", 1);
        let event =
            events::ChangeEvent::new(sf, &meta, "UNDELETE", &id18, &rec, &[], "", replay, commit)
                .to_vec();
        db.table_mut(meta.name()).rows.insert(id18.clone(), rec);
        event
    };
    sf.webhook.emit_serialized(&id18, event);
    Ok(id18)
}

/// `POST /__sandbox/undelete/{object}/{id}`: [`undelete_record`]; 200 `{"id", "success"}`,
/// 404 `NOT_FOUND` when the record is not in the Recycle Bin.
pub async fn undelete(
    State(sf): State<Arc<SfState>>,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    match undelete_record(&sf, &object, &id) {
        Ok(id) => Json(json!({"id": id, "success": true, "errors": []})).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The record as the REST API shows it: `attributes`, then the requested (or all) fields.
pub fn render(meta: &ObjMeta, rec: &Record, version: &str, fields: Option<&[&str]>) -> Value {
    let id = rec.get("Id").and_then(Value::as_str).unwrap_or("");
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": meta.name(), "url": format!("/services/data/{version}/sobjects/{}/{id}", meta.name())}),
    );
    match fields {
        Some(list) => {
            for f in list {
                out.insert(f.to_string(), rec.get(*f).cloned().unwrap_or(Value::Null));
            }
        }
        None => {
            for f in &meta.def.fields {
                out.insert(
                    f.name.clone(),
                    rec.get(&f.name).cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    Value::Object(out)
}

/// The record as the REST API shows it, serialized straight from the store: the same bytes as
/// [`render`]'s value (a sorted map: `attributes` among the fields in byte order, a field
/// asked twice shown once), without building it. A GET's answer.
pub struct Shown<'a> {
    pub meta: &'a ObjMeta,
    pub rec: &'a Record,
    pub version: &'a str,
    /// The requested fields (any order, repeats allowed), or every field.
    pub fields: Option<&'a [&'a str]>,
}

const ATTRIBUTES: &str = "attributes";

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let asked: Vec<&str>;
        let names: &mut dyn Iterator<Item = &str> = match self.fields {
            Some(list) => {
                let mut sorted: Vec<&str> = list.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                asked = sorted;
                &mut asked.iter().copied()
            }
            None => &mut self.meta.sorted_names.iter().map(String::as_str),
        };
        let mut m = s.serialize_map(None)?;
        let mut attributes_done = false;
        for name in names {
            if !attributes_done && name >= ATTRIBUTES {
                attributes_done = true;
                // A field of that name replaces them, as a second insert into the map did.
                if name != ATTRIBUTES {
                    m.serialize_entry(ATTRIBUTES, &Attributes(self))?;
                }
            }
            m.serialize_entry(name, &self.rec.get(name))?;
        }
        if !attributes_done {
            m.serialize_entry(ATTRIBUTES, &Attributes(self))?;
        }
        m.end()
    }
}

/// `{"type": "Case", "url": "/services/data/vNN.N/sobjects/Case/<id>"}`.
struct Attributes<'s, 'a>(&'s Shown<'a>);

impl Serialize for Attributes<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let id = r.rec.get("Id").and_then(Value::as_str).unwrap_or("");
        let name = r.meta.name();
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", name)?;
        m.serialize_entry(
            "url",
            &Url(format_args!(
                "/services/data/{}/sobjects/{name}/{id}",
                r.version
            )),
        )?;
        m.end()
    }
}

/// Text written as a JSON string without an intermediate `String`.
struct Url<'a>(std::fmt::Arguments<'a>);

impl Serialize for Url<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// The fields of `?fields=`, by their names in the catalogue (borrowed from `meta`).
fn fields_param<'m>(meta: &'m ObjMeta, raw: Option<&str>) -> Result<Option<Vec<&'m str>>, SfError> {
    let Some(q) = raw else { return Ok(None) };
    let params = crate::util::form_urlencoded(q.as_bytes());
    let Some(list) = crate::util::param(&params, "fields") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match meta.field(name) {
            Some(f) => out.push(f.name.as_str()),
            None => return Err(query::no_such_column(name, meta.name())),
        }
    }
    Ok(Some(out))
}

/// The change origin of a request: `com/salesforce/api/rest/NN.N;client=<id>` where the
/// caller sent `Sforce-Call-Options: client=<id>`.
fn origin_of(headers: &HeaderMap, version: &str) -> String {
    let client = headers
        .get("sforce-call-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split([';', ','])
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim() == "client")
                .map(|(_, c)| c.trim().to_string())
        });
    events::origin("rest", version.trim_start_matches('v'), client.as_deref())
}

pub async fn create_handler(
    State(sf): State<Arc<SfState>>,
    Path((version, object)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let r = (|| {
        let meta = meta_of(&sf, &object)?;
        let body = json_body(&body)?;
        create(&sf, &meta, body, &origin_of(&headers, &version))
    })();
    match r {
        Ok(id) => (
            StatusCode::CREATED,
            Json(json!({"id": id, "success": true, "errors": []})),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The answer to a `{id}` that is no id (read as an external id the platform cannot find).
fn not_an_id(id: &str) -> SfError {
    SfError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("Provided external ID field does not exist or is not accessible: {id}"),
        &[],
    )
}

/// Resolves `{id}` of `/sobjects/{object}/{id}` to a stored 18-character id.
fn existing(sf: &SfState, meta: &ObjMeta, id: &str) -> Result<String, SfError> {
    let id18 = to18(id).ok_or_else(|| not_an_id(id))?;
    let db = sf.store.read();
    if db
        .table(meta.name())
        .is_some_and(|t| t.rows.contains_key(&id18))
    {
        Ok(id18)
    } else {
        Err(SfError::not_found())
    }
}

pub async fn read(
    State(sf): State<Arc<SfState>>,
    Path((version, object, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let r = (|| {
        let meta = meta_of(&sf, &object)?;
        let fields = fields_param(&meta, q.as_deref())?;
        let id18 = to18(&id).ok_or_else(|| not_an_id(&id))?;
        let db = sf.store.read();
        let rec = db
            .table(meta.name())
            .and_then(|t| t.rows.get(&id18))
            .ok_or_else(SfError::not_found)?;
        Ok::<_, SfError>(
            Json(Shown {
                meta: &meta,
                rec,
                version: &version,
                fields: fields.as_deref(),
            })
            .into_response(),
        )
    })();
    r.unwrap_or_else(IntoResponse::into_response)
}

pub async fn update(
    State(sf): State<Arc<SfState>>,
    Path((version, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let r = (|| {
        let meta = meta_of(&sf, &object)?;
        let id = existing(&sf, &meta, &id)?;
        let body = json_body(&body)?;
        apply_update(
            &sf,
            &meta,
            &id,
            body,
            &origin_of(&headers, &version),
            &headers,
        )
    })();
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn delete(
    State(sf): State<Arc<SfState>>,
    Path((version, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let r = (|| {
        let meta = meta_of(&sf, &object)?;
        let id = existing(&sf, &meta, &id)?;
        delete_record(&sf, &meta, &id, &origin_of(&headers, &version))
    })();
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /sobjects/{object}/Id` creates with Id as the external id (v37+); otherwise 405.
pub async fn post_on_id(
    State(sf): State<Arc<SfState>>,
    Path((version, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if id == "Id" {
        return create_handler(State(sf), Path((version, object)), headers, body).await;
    }
    SfError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "HTTP Method 'POST' not allowed. Allowed are HEAD,GET,PATCH,DELETE",
        &[],
    )
    .into_response()
}

/// Ids of the records whose external-id `field` equals `value` (case-insensitively).
fn matches(
    sf: &SfState,
    meta: &ObjMeta,
    field: &str,
    value: &str,
) -> Result<(String, Vec<String>), SfError> {
    let f = meta
        .field(field)
        .filter(|f| f.unique || f.name == "Id")
        .ok_or_else(SfError::not_found)?;
    let name = f.name.clone();
    let value = if name == "Id" {
        to18(value).unwrap_or_default()
    } else {
        value.to_string()
    };
    let db = sf.store.read();
    let ids = db
        .table(meta.name())
        .map(|t| {
            t.rows
                .iter()
                .filter(|(_, r)| {
                    r.get(&name)
                        .map(crate::store::as_text)
                        .is_some_and(|v| !v.is_empty() && v.eq_ignore_ascii_case(&value))
                })
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default();
    Ok((name, ids))
}

fn multiple(meta: &ObjMeta, version: &str, ids: &[String]) -> Response {
    let urls: Vec<String> = ids
        .iter()
        .map(|id| format!("/services/data/{version}/sobjects/{}/{id}", meta.name()))
        .collect();
    (StatusCode::MULTIPLE_CHOICES, Json(urls)).into_response()
}

pub async fn read_by_ext(
    State(sf): State<Arc<SfState>>,
    Path((version, object, field, value)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let meta = match meta_of(&sf, &object) {
        Ok(meta) => meta,
        Err(e) => return e.into_response(),
    };
    let r = (|| {
        let fields = fields_param(&meta, q.as_deref())?;
        let (_, ids) = matches(&sf, &meta, &field, &value)?;
        Ok::<_, SfError>((fields, ids))
    })();
    let (fields, ids) = match r {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match ids.as_slice() {
        [] => SfError::not_found().into_response(),
        [id] => {
            let db = sf.store.read();
            match db.table(meta.name()).and_then(|t| t.rows.get(id)) {
                Some(rec) => Json(Shown {
                    meta: &meta,
                    rec,
                    version: &version,
                    fields: fields.as_deref(),
                })
                .into_response(),
                None => SfError::not_found().into_response(),
            }
        }
        many => multiple(&meta, &version, many),
    }
}

/// `PATCH /sobjects/{object}/{extField}/{value}`: 201 created, 200 updated (API ≥ 46 answers
/// `{"id","success","errors","created":false}`), 300 on several matches, 404 with
/// `updateOnly=true` and no match.
pub async fn upsert(
    State(sf): State<Arc<SfState>>,
    Path((version, object, field, value)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let update_only = q
        .as_deref()
        .map(|q| crate::util::form_urlencoded(q.as_bytes()))
        .is_some_and(|p| crate::util::param(&p, "updateOnly") == Some("true"));
    let origin = origin_of(&headers, &version);
    let r = (|| {
        let meta = meta_of(&sf, &object)?;
        let (name, ids) = matches(&sf, &meta, &field, &value)?;
        let mut body = json_body(&body)?;
        body.retain(|k, _| !k.eq_ignore_ascii_case(&name));
        Ok::<_, SfError>((meta, name, ids, body))
    })();
    let (meta, name, ids, mut body) = match r {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match ids.as_slice() {
        [] if update_only || name == "Id" => SfError::not_found().into_response(),
        [] => {
            body.insert(name, Value::String(value));
            match create(&sf, &meta, body, &origin) {
                Ok(id) => (
                    StatusCode::CREATED,
                    Json(json!({"id": id, "success": true, "errors": [], "created": true})),
                )
                    .into_response(),
                Err(e) => e.into_response(),
            }
        }
        [id] => match apply_update(&sf, &meta, id, body, &origin, &headers) {
            Ok(()) => Json(json!({"id": id, "success": true, "errors": [], "created": false}))
                .into_response(),
            Err(e) => e.into_response(),
        },
        many => multiple(&meta, &version, many),
    }
}

pub async fn delete_by_ext(
    State(sf): State<Arc<SfState>>,
    Path((version, object, field, value)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let r = (|| {
        let meta = meta_of(&sf, &object)?;
        let (_, ids) = matches(&sf, &meta, &field, &value)?;
        Ok::<_, SfError>((meta, ids))
    })();
    match r {
        Ok((meta, ids)) => match ids.as_slice() {
            [] => SfError::not_found().into_response(),
            [id] => match delete_record(&sf, &meta, id, &origin_of(&headers, &version)) {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => e.into_response(),
            },
            many => multiple(&meta, &version, many),
        },
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::SandboxConfig;

    #[tokio::test]
    async fn a_shown_record_is_the_rendered_value_byte_for_byte() {
        let mut config = SandboxConfig::ephemeral();
        crate::schema::apply_json(
            &mut config.catalog,
            r#"{"salesforce": {"Widget__c": {"key_prefix": "a01", "fields": [
                {"name": "Name", "type": "text"}, {"name": "Count__c", "type": "number"},
                {"name": "alpha", "type": "text"}, {"name": "attributes", "type": "text"},
                {"name": "zeta", "type": "bool"}]}}}"#,
        )
        .unwrap();
        let sf = SfState::new(&config, "http://127.0.0.1:1".into(), None).unwrap();
        let Value::Object(rec) = json!({
            "Id": "a015g0000000001AAA", "Name": "quote \" backslash \\ newline \n tab \t bell \u{7} — ünïcödé 🚀",
            "Count__c": 2.5, "alpha": null, "attributes": "a stored field of that name", "zeta": true,
            "Subject": "x", "Description": null, "IsDeleted": false, "AccountId": "0015g0000000001AAA",
        }) else {
            unreachable!()
        };
        let asked = |names: &[&'static str]| names.to_vec();
        let lists = [
            None,
            Some(asked(&[])),
            Some(asked(&[
                "Subject",
                "AccountId",
                "Id",
                "Subject",
                "Description",
            ])),
            Some(asked(&["zeta", "alpha", "Name"])),
            Some(asked(&["attributes", "Count__c"])),
            Some(asked(&["Missing__c"])),
        ];
        for object in ["Case", "Widget__c", "Account"] {
            let meta = sf.object(object).unwrap();
            for version in ["v62.0", "v20.0"] {
                for fields in &lists {
                    let shown = Shown {
                        meta,
                        rec: &rec,
                        version,
                        fields: fields.as_deref(),
                    };
                    assert_eq!(
                        serde_json::to_string(&shown).unwrap(),
                        serde_json::to_string(&render(meta, &rec, version, fields.as_deref()))
                            .unwrap(),
                        "{object} {fields:?}"
                    );
                }
            }
        }
    }
}
