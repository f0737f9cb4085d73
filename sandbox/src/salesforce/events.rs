//! Change Data Capture events, POSTed one per change as
//!
//! ```json
//! {"schema": "<id>",
//!  "payload": {"ChangeEventHeader": {"entityName": "Case", "recordIds": ["500…"],
//!     "changeType": "CREATE|UPDATE|DELETE", "changeOrigin": "com/salesforce/api/rest/62.0;client=seam",
//!     "transactionKey": "…", "sequenceNumber": 1, "commitTimestamp": 1700000000000,
//!     "commitUser": "005…", "commitNumber": 12, "changedFields": [], "nulledFields": [], "diffFields": []},
//!   "<Field>": <value>, …},
//!  "event": {"replayId": 42}}
//! ```
//!
//! CREATE carries every non-null field; UPDATE the changed fields and `LastModifiedDate`
//! (listed in `changedFields`); DELETE only the header. `SystemModstamp` and `IsDeleted` are
//! never sent, as on the platform.

//!
//! The event is serialized straight from the record ([`ChangeEvent`] implements `Serialize`),
//! in the key order a `serde_json::Value` (a sorted map) gave it before: building that value
//! and serializing it was a fifth of a PATCH's instructions.

use super::{ObjMeta, SfState};
use crate::store::Record;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

/// `com/salesforce/api/<api>/<version>[;client=<id>]`.
pub fn origin(api: &str, version: &str, client: Option<&str>) -> String {
    match client {
        Some(c) if !c.is_empty() => format!("com/salesforce/api/{api}/{version};client={c}"),
        _ => format!("com/salesforce/api/{api}/{version}"),
    }
}

/// One change event of one record, ready to serialize.
pub struct ChangeEvent<'a> {
    pub meta: &'a ObjMeta,
    /// `CREATE`, `UPDATE`, `DELETE` or `UNDELETE`.
    pub change_type: &'a str,
    pub id: &'a str,
    /// CREATE and UNDELETE: the record; UPDATE: the changed fields; DELETE: ignored.
    pub fields: &'a Record,
    pub changed: &'a [String],
    pub origin: &'a str,
    pub replay: u64,
    pub commit: u64,
    pub commit_user: &'a str,
    /// Epoch milliseconds.
    pub commit_timestamp: i64,
}

impl<'a> ChangeEvent<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sf: &'a SfState,
        meta: &'a ObjMeta,
        change_type: &'a str,
        id: &'a str,
        fields: &'a Record,
        changed: &'a [String],
        origin: &'a str,
        replay: u64,
        commit: u64,
    ) -> ChangeEvent<'a> {
        ChangeEvent {
            meta,
            change_type,
            id,
            fields,
            changed,
            origin,
            replay,
            commit,
            commit_user: &sf.user_id,
            commit_timestamp: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// The bytes the webhook sends.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The fields the payload carries beside the header, in key order.
    fn payload_fields(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        // UNDELETE carries every non-empty field of the restored record, as CREATE does.
        let create = matches!(self.change_type, "CREATE" | "UNDELETE");
        let delete = self.change_type == "DELETE";
        // Never the stamps the platform leaves out; on CREATE, never an empty field.
        let left_out = move |k: &str, v: &Value| {
            matches!(k, "SystemModstamp" | "IsDeleted" | "Id") || (create && v.is_null())
        };
        self.fields
            .iter()
            .filter(move |(k, v)| !delete && !left_out(k, v))
    }
}

const HEADER: &str = "ChangeEventHeader";

impl Serialize for ChangeEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut top = s.serialize_map(Some(3))?;
        top.serialize_entry("event", &Replay(self.replay))?;
        top.serialize_entry("payload", &Payload(self))?;
        top.serialize_entry("schema", &Schema(self.meta.name()))?;
        top.end()
    }
}

struct Replay(u64);

impl Serialize for Replay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("replayId", &self.0)?;
        m.end()
    }
}

/// `seam-sandbox-<Object>ChangeEvent-v1`, without `__c`.
struct Schema<'a>(&'a str);

impl Serialize for Schema<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!(
            "seam-sandbox-{}ChangeEvent-v1",
            self.0.trim_end_matches("__c")
        ))
    }
}

/// The header and the fields, merged in key order. A field named like the header would
/// replace it, as inserting both into one map did.
struct Payload<'e, 'a>(&'e ChangeEvent<'a>);

impl Serialize for Payload<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let mut header_done = false;
        for (k, v) in self.0.payload_fields() {
            if !header_done && k.as_str() >= HEADER {
                header_done = true;
                if k == HEADER {
                    m.serialize_entry(k, v)?;
                    continue;
                }
                m.serialize_entry(HEADER, &Header(self.0))?;
            }
            m.serialize_entry(k, v)?;
        }
        if !header_done {
            m.serialize_entry(HEADER, &Header(self.0))?;
        }
        m.end()
    }
}

struct Header<'e, 'a>(&'e ChangeEvent<'a>);

impl Serialize for Header<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let none: &[String] = &[];
        let changed = if e.change_type == "UPDATE" {
            e.changed
        } else {
            none
        };
        // Keys in byte order.
        let mut m = s.serialize_map(Some(12))?;
        m.serialize_entry("changeOrigin", e.origin)?;
        m.serialize_entry("changeType", e.change_type)?;
        m.serialize_entry("changedFields", changed)?;
        m.serialize_entry("commitNumber", &(10_000_000 + e.commit))?;
        m.serialize_entry("commitTimestamp", &e.commit_timestamp)?;
        m.serialize_entry("commitUser", e.commit_user)?;
        m.serialize_entry("diffFields", none)?;
        m.serialize_entry("entityName", e.meta.name())?;
        m.serialize_entry("nulledFields", &Nulled(e))?;
        m.serialize_entry("recordIds", &[e.id])?;
        m.serialize_entry("sequenceNumber", &1)?;
        m.serialize_entry("transactionKey", &transaction_key(e.commit))?;
        m.end()
    }
}

/// The changed fields whose new value is null.
struct Nulled<'e, 'a>(&'e ChangeEvent<'a>);

impl Serialize for Nulled<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        s.collect_seq(
            e.changed
                .iter()
                .filter(|f| e.fields.get(*f).is_some_and(Value::is_null)),
        )
    }
}

/// A UUID-shaped key, unique per commit.
fn transaction_key(commit: u64) -> String {
    let h = format!(
        "{:032x}",
        (commit as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    );
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or(""),
        h.get(8..12).unwrap_or(""),
        h.get(12..16).unwrap_or(""),
        h.get(16..20).unwrap_or(""),
        h.get(20..32).unwrap_or("")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use serde_json::{json, Map};

    /// The event as it was built before: a `Value`, serialized. The reference the direct
    /// serialization must match byte for byte.
    fn as_value(e: &ChangeEvent) -> Vec<u8> {
        let nulled: Vec<&String> = e
            .changed
            .iter()
            .filter(|f| e.fields.get(*f).is_some_and(Value::is_null))
            .collect();
        let header = json!({
            "entityName": e.meta.name(),
            "recordIds": [e.id],
            "changeType": e.change_type,
            "changeOrigin": e.origin,
            "transactionKey": transaction_key(e.commit),
            "sequenceNumber": 1,
            "commitTimestamp": e.commit_timestamp,
            "commitUser": e.commit_user,
            "commitNumber": 10_000_000 + e.commit,
            "changedFields": if e.change_type == "UPDATE" { json!(e.changed) } else { json!([]) },
            "nulledFields": nulled,
            "diffFields": [],
        });
        let mut payload = Map::new();
        payload.insert("ChangeEventHeader".into(), header);
        if e.change_type != "DELETE" {
            for (k, v) in e.fields {
                if k == "SystemModstamp" || k == "IsDeleted" || k == "Id" {
                    continue;
                }
                if e.change_type == "CREATE" && v.is_null() {
                    continue;
                }
                payload.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&json!({
            "schema": format!("seam-sandbox-{}ChangeEvent-v1", e.meta.name().trim_end_matches("__c")),
            "payload": payload,
            "event": {"replayId": e.replay},
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
        let mut config = SandboxConfig::ephemeral();
        crate::schema::apply_json(
            &mut config.catalog,
            r#"{"salesforce": {"Widget__c": {"key_prefix": "a01", "fields": [
                {"name": "Name", "type": "text"}, {"name": "Count__c", "type": "number"}]}}}"#,
        )
        .unwrap();
        let sf = SfState::new(&config, "http://127.0.0.1:1".into(), None).unwrap();
        let full = record(json!({
            "Id": "5005g00000000AAAAA", "IsDeleted": false, "SystemModstamp": "2026-01-01T00:00:00.000+0000",
            "Subject": "quote \" backslash \\ newline \n tab \t bell \u{7} — ünïcödé 🚀",
            "Description": null, "AccountId": "0015g00000000AAAAA", "IsClosed": false,
            "Count__c": 1.5, "Big": 12345678901234567890u64, "Neg": -3, "Nested": {"b": [1, null], "a": "x"},
            "Aaa": "before the header", "ChangeEventHeaderX": "right after it", "_under": "after capitals",
            "lower": "after everything upper-case", "Zed": null,
        }));
        let update = record(json!({
            "Subject": "new", "Description": null, "LastModifiedDate": "2026-01-01T00:00:01.000+0000",
        }));
        let replaced = record(json!({"ChangeEventHeader": "a field of that name", "A": 1}));
        let changed: Vec<String> = ["Subject", "Description", "LastModifiedDate"]
            .map(String::from)
            .to_vec();
        for object in ["Case", "Widget__c"] {
            let meta = sf.object(object).unwrap();
            for (kind, fields) in [
                ("CREATE", &full),
                ("UPDATE", &update),
                ("UPDATE", &full),
                ("DELETE", &Record::new()),
                ("UPDATE", &replaced),
                ("CREATE", &Record::new()),
            ] {
                for origin in ["com/salesforce/api/rest/62.0;client=seam", ""] {
                    let e = ChangeEvent::new(
                        &sf,
                        meta,
                        kind,
                        "5005g00000000AAAAA",
                        fields,
                        &changed,
                        origin,
                        7,
                        u64::from(u32::MAX) + 3,
                    );
                    assert_eq!(
                        String::from_utf8(e.to_vec()).unwrap(),
                        String::from_utf8(as_value(&e)).unwrap(),
                        "{object} {kind}"
                    );
                }
            }
        }
    }
}
