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

use super::{ObjMeta, SfState};
use crate::store::Record;
use serde_json::{json, Map, Value};

/// `com/salesforce/api/<api>/<version>[;client=<id>]`.
pub fn origin(api: &str, version: &str, client: Option<&str>) -> String {
    match client {
        Some(c) if !c.is_empty() => format!("com/salesforce/api/{api}/{version};client={c}"),
        _ => format!("com/salesforce/api/{api}/{version}"),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn change_event(
    sf: &SfState,
    meta: &ObjMeta,
    change_type: &str,
    id: &str,
    fields: &Record,
    changed: &[String],
    origin: &str,
    replay: u64,
    commit: u64,
) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    let nulled: Vec<&String> = changed
        .iter()
        .filter(|f| fields.get(*f).is_some_and(Value::is_null))
        .collect();
    let header = json!({
        "entityName": meta.name(),
        "recordIds": [id],
        "changeType": change_type,
        "changeOrigin": origin,
        "transactionKey": transaction_key(commit),
        "sequenceNumber": 1,
        "commitTimestamp": now,
        "commitUser": sf.user_id,
        "commitNumber": 10_000_000 + commit,
        "changedFields": if change_type == "UPDATE" { json!(changed) } else { json!([]) },
        "nulledFields": nulled,
        "diffFields": [],
    });
    let mut payload = Map::new();
    payload.insert("ChangeEventHeader".into(), header);
    if change_type != "DELETE" {
        for (k, v) in fields {
            if k == "SystemModstamp" || k == "IsDeleted" || k == "Id" {
                continue;
            }
            if change_type == "CREATE" && v.is_null() {
                continue;
            }
            payload.insert(k.clone(), v.clone());
        }
    }
    json!({
        "schema": format!("seam-sandbox-{}ChangeEvent-v1", meta.name().trim_end_matches("__c")),
        "payload": payload,
        "event": {"replayId": replay},
    })
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
