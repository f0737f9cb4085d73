//! Business-rule style change events, POSTed one per change as
//!
//! ```json
//! {"table": "incident", "sys_id": "…", "operation": "insert|update|delete",
//!  "sys_mod_count": 3, "sys_updated_on": "2026-01-31 12:00:00", "sys_updated_by": "admin",
//!  "changed_fields": ["state", "sys_updated_on", …],
//!  "record": {"number": "INC0010001", "state": "2", "caller_id": "<sys_id>", …}}
//! ```
//!
//! `record` holds every field as a string (references as the sys_id; journal fields as the
//! text of the entry just added, else ""). `changed_fields`: on insert, the fields given a
//! value; on update, the fields whose value changed (including the `sys_` stamps); on delete,
//! empty. The same payload is produced by `examples/servicenow/seam_webhook_business_rule.js`.

use super::TableMeta;
use crate::store::{as_text, Record};
use serde_json::{json, Map, Value};

/// A record with every catalogue field as a string (what `record` of an event carries).
pub fn plain(meta: &TableMeta, rec: &Record) -> Value {
    let mut out = Map::new();
    for f in &meta.def.fields {
        let v = rec.get(&f.name).map(as_text).unwrap_or_default();
        out.insert(f.name.clone(), Value::String(v));
    }
    Value::Object(out)
}

pub fn event(
    meta: &TableMeta,
    rec: &Record,
    operation: &str,
    changed: &[String],
    journal: &Map<String, Value>,
) -> Value {
    let mut record = plain(meta, rec);
    if let Some(o) = record.as_object_mut() {
        for (k, v) in journal {
            o.insert(k.clone(), v.clone());
        }
    }
    json!({
        "table": meta.name(),
        "sys_id": rec.get("sys_id").map(as_text).unwrap_or_default(),
        "operation": operation,
        "sys_mod_count": rec.get("sys_mod_count").map(as_text).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
        "sys_updated_on": rec.get("sys_updated_on").map(as_text).unwrap_or_default(),
        "sys_updated_by": rec.get("sys_updated_by").map(as_text).unwrap_or_default(),
        "changed_fields": changed,
        "record": record,
    })
}
