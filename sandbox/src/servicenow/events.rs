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

//!
//! The event is serialized straight from the record ([`Event`] implements `Serialize`), in the
//! key order the sorted `serde_json::Value` it replaces gave: building that value (a string
//! per field), cloning it for the watcher and serializing it was most of a PATCH.

use super::TableMeta;
use crate::store::{as_text, Record};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A record with every catalogue field as a string (what `record` of an event carries).
pub fn plain(meta: &TableMeta, rec: &Record) -> Value {
    let mut out = Map::new();
    for f in &meta.def.fields {
        let v = rec.get(&f.name).map(as_text).unwrap_or_default();
        out.insert(f.name.clone(), Value::String(v));
    }
    Value::Object(out)
}

/// One change event of one record, ready to serialize.
pub struct Event<'a> {
    pub meta: &'a TableMeta,
    pub rec: &'a Record,
    /// `insert`, `update` or `delete`.
    pub operation: &'a str,
    pub changed: &'a [String],
    /// Journal entries just added: `record` shows them instead of the stored value.
    pub journal: &'a Map<String, Value>,
}

fn text(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        Some(Value::String(s)) => Cow::Borrowed(s),
        None => Cow::Borrowed(""),
        Some(other) => Cow::Owned(as_text(other)),
    }
}

impl Event<'_> {
    /// The bytes the webhook sends.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn stamp(&self, name: &str) -> Cow<'_, str> {
        text(self.rec.get(name))
    }
}

impl Event<'_> {
    /// The event as a value (for a watcher), equal to the bytes parsed. Built from entries in
    /// key order, which a sorted map takes in one pass instead of one search per insert.
    pub fn to_value(&self) -> Value {
        let own = |s: Cow<'_, str>| Value::String(s.into_owned());
        let record: Map<String, Value> = self
            .plain_entries()
            .map(|(k, v)| {
                let v = match v {
                    Shown::Entry(v) => v.clone(),
                    Shown::Stored(s) => own(s),
                };
                (k.to_string(), v)
            })
            .collect();
        let count = self.stamp("sys_mod_count").parse::<u64>().unwrap_or(0);
        let entries: [(&str, Value); 8] = [
            (
                "changed_fields",
                Value::Array(self.changed.iter().cloned().map(Value::String).collect()),
            ),
            ("operation", Value::String(self.operation.to_string())),
            ("record", Value::Object(record)),
            ("sys_id", own(self.stamp("sys_id"))),
            ("sys_mod_count", Value::from(count)),
            ("sys_updated_by", own(self.stamp("sys_updated_by"))),
            ("sys_updated_on", own(self.stamp("sys_updated_on"))),
            ("table", Value::String(self.meta.name().to_string())),
        ];
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// `record`'s entries in key order: every field, and the journal entries just added (which
    /// are fields too, but a map of both would show an entry under any name).
    fn plain_entries(&self) -> impl Iterator<Item = (&str, Shown<'_>)> {
        let mut names = self.meta.field_names_sorted().peekable();
        let mut entries = self.journal.iter().peekable();
        // The record is in key order too: walked beside the names, not searched per name.
        let mut stored = self.rec.iter().peekable();
        std::iter::from_fn(move || match (names.peek(), entries.peek()) {
            (Some(&n), Some(&(k, v))) if k.as_str() <= n => {
                if k == n {
                    names.next();
                }
                entries.next();
                Some((k.as_str(), Shown::Entry(v)))
            }
            (Some(&n), _) => {
                names.next();
                Some((n, Shown::Stored(text(super::render::seek(&mut stored, n)))))
            }
            (None, Some(&(k, v))) => {
                entries.next();
                Some((k.as_str(), Shown::Entry(v)))
            }
            (None, None) => None,
        })
    }
}

/// A value of `record`: a journal entry, or the stored value as text.
enum Shown<'a> {
    Entry(&'a Value),
    Stored(Cow<'a, str>),
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Entry(v) => v.serialize(s),
            Shown::Stored(t) => s.serialize_str(t),
        }
    }
}

impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let count = self.stamp("sys_mod_count").parse::<u64>().unwrap_or(0);
        // Keys in byte order.
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("changed_fields", self.changed)?;
        m.serialize_entry("operation", self.operation)?;
        m.serialize_entry("record", &Plain(self))?;
        m.serialize_entry("sys_id", &self.stamp("sys_id"))?;
        m.serialize_entry("sys_mod_count", &count)?;
        m.serialize_entry("sys_updated_by", &self.stamp("sys_updated_by"))?;
        m.serialize_entry("sys_updated_on", &self.stamp("sys_updated_on"))?;
        m.serialize_entry("table", self.meta.name())?;
        m.end()
    }
}

/// Every field of the table, in key order, as a string; a journal field as its new entry.
struct Plain<'e, 'a>(&'e Event<'a>);

impl Serialize for Plain<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.plain_entries())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::servicenow::SnowState;
    use crate::SandboxConfig;
    use serde_json::json;

    /// The event as it was built before: a `Value`, serialized. The reference the direct
    /// serialization must match byte for byte.
    fn as_value(e: &Event) -> Vec<u8> {
        let mut record = plain(e.meta, e.rec);
        if let Some(o) = record.as_object_mut() {
            for (k, v) in e.journal {
                o.insert(k.clone(), v.clone());
            }
        }
        let rec = e.rec;
        serde_json::to_vec(&json!({
            "table": e.meta.name(),
            "sys_id": rec.get("sys_id").map(as_text).unwrap_or_default(),
            "operation": e.operation,
            "sys_mod_count": rec.get("sys_mod_count").map(as_text).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
            "sys_updated_on": rec.get("sys_updated_on").map(as_text).unwrap_or_default(),
            "sys_updated_by": rec.get("sys_updated_by").map(as_text).unwrap_or_default(),
            "changed_fields": e.changed,
            "record": record,
        }))
        .unwrap()
    }

    fn record(v: Value) -> Record {
        match v {
            Value::Object(m) => m,
            _ => Record::new(),
        }
    }

    #[tokio::test]
    async fn serialized_events_match_the_value_they_replace_byte_for_byte() {
        let sn = SnowState::new(
            &SandboxConfig::ephemeral(),
            "http://127.0.0.1:1".into(),
            None,
        )
        .unwrap();
        let full = record(json!({
            "sys_id": "0123456789abcdef0123456789abcdef", "sys_mod_count": "41",
            "sys_updated_by": "admin", "sys_updated_on": "2026-01-01 00:00:00",
            "number": "INC0010001", "state": "2", "impact": 1, "active": true,
            "short_description": "quote \" backslash \\ newline \n tab \t bell \u{7} — ünïcödé 🚀",
            "description": null, "caller_id": "fedcba9876543210fedcba9876543210",
            "work_notes": "stored", "__journal__work_notes": ["older entry"],
            "not_a_field": "never shown",
        }));
        let odd = record(json!({"sys_mod_count": "not a number", "sys_id": 7}));
        let entry = record(json!({"work_notes": "just added \"note\"", "comments": "also"}));
        let changed: Vec<String> = ["short_description", "sys_mod_count", "work_notes"]
            .map(String::from)
            .to_vec();
        for table in ["incident", "sys_user", "core_company"] {
            let meta = sn.table(table).unwrap();
            for rec in [&full, &odd, &Record::new()] {
                for (op, journal) in [
                    ("insert", &entry),
                    ("update", &Map::new()),
                    ("delete", &Map::new()),
                ] {
                    let e = Event {
                        meta,
                        rec,
                        operation: op,
                        changed: &changed,
                        journal,
                    };
                    assert_eq!(
                        String::from_utf8(e.to_vec()).unwrap(),
                        String::from_utf8(as_value(&e)).unwrap(),
                        "{table} {op}"
                    );
                    let parsed: Value = serde_json::from_slice(&as_value(&e)).unwrap();
                    assert_eq!(e.to_value(), parsed, "{table} {op}");
                }
            }
        }
    }
}
