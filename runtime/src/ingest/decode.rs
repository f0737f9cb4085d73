//! Payload decoders: a webhook body becomes [`NewEvent`]s, or a reason it is malformed.
//!
//! - Salesforce Change Data Capture JSON, one event or an array: one inbox event per record id
//!   in `ChangeEventHeader.recordIds`, keyed by `replayId` (else a hash of the header's
//!   transaction key, sequence number and record). An event whose `changeOrigin` carries
//!   `client=<our client id>` is marked as our own echo.
//! - ServiceNow business-rule JSON, one event or an array: keyed by table, `sys_id` and
//!   `sys_mod_count` (the record's version); an event by our integration user is an echo.
//!
//! A decoder never fails half-way: a body with one bad event is rejected whole.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::NewEvent;

/// Who the runtime is on each platform, to recognise its own writes coming back.
#[derive(Clone, Debug, Default)]
pub struct EchoIdentity {
    /// The `Sforce-Call-Options: client=` id our Salesforce writes carry.
    pub sf_client_id: String,
    /// The ServiceNow user our writes are made as (`sys_updated_by`).
    pub snow_user: Option<String>,
}

/// A webhook body's events: one JSON object, or a non-empty array of them.
fn json_events(body: &[u8]) -> Result<Vec<Value>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let events = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    if events.is_empty() {
        return Err("the body is an empty array".into());
    }
    Ok(events)
}

/// Decodes a Salesforce CDC body (a single event or an array of events).
pub fn salesforce(
    system: &str,
    body: &[u8],
    echo: &EchoIdentity,
    now: i64,
) -> Result<Vec<NewEvent>, String> {
    let events = json_events(body)?;
    let mut out = Vec::new();
    for (n, event) in events.iter().enumerate() {
        out.extend(sf_event(system, event, echo, now).map_err(|e| format!("event {n}: {e}"))?);
    }
    Ok(out)
}

fn sf_event(
    system: &str,
    event: &Value,
    echo: &EchoIdentity,
    now: i64,
) -> Result<Vec<NewEvent>, String> {
    let header = event
        .pointer("/payload/ChangeEventHeader")
        .ok_or("no `payload.ChangeEventHeader`")?;
    let entity = header
        .get("entityName")
        .and_then(Value::as_str)
        .ok_or("no `ChangeEventHeader.entityName`")?;
    let ids: Vec<&str> = header
        .get("recordIds")
        .and_then(Value::as_array)
        .ok_or("no `ChangeEventHeader.recordIds`")?
        .iter()
        .map(|v| v.as_str().ok_or("a record id is not a string"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Err("`ChangeEventHeader.recordIds` is empty".into());
    }
    let change = header
        .get("changeType")
        .and_then(Value::as_str)
        .ok_or("no `ChangeEventHeader.changeType`")?;
    let operation = match change {
        "CREATE" | "UNDELETE" => "create",
        "UPDATE" => "update",
        "DELETE" => "delete",
        // GAP_* events say "something changed, read it": state is truth, so an update.
        other if other.starts_with("GAP_") => "update",
        other => return Err(format!("unknown changeType `{other}`")),
    };
    let origin = header
        .get("changeOrigin")
        .and_then(Value::as_str)
        .unwrap_or("");
    let is_echo =
        !echo.sf_client_id.is_empty() && origin_client(origin) == Some(&echo.sf_client_id);
    let replay = event.pointer("/event/replayId").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let base = match replay {
        Some(r) => format!("replay:{r}"),
        None => {
            let tx = header
                .get("transactionKey")
                .map(Value::to_string)
                .unwrap_or_default();
            let seq = header
                .get("sequenceNumber")
                .map(Value::to_string)
                .unwrap_or_default();
            let commit = header
                .get("commitNumber")
                .map(Value::to_string)
                .unwrap_or_default();
            format!("hash:{}", short_hash(&[entity, &tx, &seq, &commit]))
        }
    };
    let payload = event.to_string();
    Ok(ids
        .iter()
        .map(|id| NewEvent {
            idempotency_key: format!("{system}:{base}:{id}"),
            system: system.into(),
            object: entity.into(),
            record_id: (*id).into(),
            operation: operation.into(),
            echo: is_echo,
            payload: payload.clone(),
            received_at: now,
        })
        .collect())
}

/// The `client=` option of a `changeOrigin` (`com/salesforce/api/rest/62.0;client=seam`).
fn origin_client(origin: &str) -> Option<&str> {
    let (_, options) = origin.split_once(';').or_else(|| origin.split_once(','))?;
    options
        .split([';', ','])
        .find_map(|o| o.trim().strip_prefix("client="))
}

/// Decodes a ServiceNow business-rule body (one event or an array).
pub fn servicenow(
    system: &str,
    body: &[u8],
    echo: &EchoIdentity,
    now: i64,
) -> Result<Vec<NewEvent>, String> {
    let events = json_events(body)?;
    events
        .iter()
        .enumerate()
        .map(|(n, e)| snow_event(system, e, echo, now).map_err(|m| format!("event {n}: {m}")))
        .collect()
}

fn snow_event(
    system: &str,
    event: &Value,
    echo: &EchoIdentity,
    now: i64,
) -> Result<NewEvent, String> {
    let text = |name: &str| event.get(name).and_then(Value::as_str);
    let table = text("table").ok_or("no `table`")?;
    let sys_id = text("sys_id").ok_or("no `sys_id`")?;
    if sys_id.is_empty() {
        return Err("`sys_id` is empty".into());
    }
    let operation = match text("operation").ok_or("no `operation`")? {
        "insert" => "create",
        "update" => "update",
        "delete" => "delete",
        other => return Err(format!("unknown operation `{other}`")),
    };
    let version = match event.get("sys_mod_count") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return Err("no `sys_mod_count`".into()),
    };
    let by = text("sys_updated_by").unwrap_or("");
    let is_echo = echo
        .snow_user
        .as_deref()
        .is_some_and(|u| !u.is_empty() && u == by);
    Ok(NewEvent {
        idempotency_key: format!("{system}:{table}:{sys_id}:{operation}:{version}"),
        system: system.into(),
        object: table.into(),
        record_id: sys_id.into(),
        operation: operation.into(),
        echo: is_echo,
        payload: event.to_string(),
        received_at: now,
    })
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize()).chars().take(32).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me() -> EchoIdentity {
        EchoIdentity {
            sf_client_id: "seam".into(),
            snow_user: Some("seam.integration".into()),
        }
    }

    #[test]
    fn salesforce_cdc_single_and_batch() {
        let one = json!({"payload": {"ChangeEventHeader": {"entityName": "Case",
            "recordIds": ["500A", "500B"], "changeType": "UPDATE",
            "changeOrigin": "com/salesforce/api/rest/62.0;client=seam"}},
            "event": {"replayId": 7}});
        let events = salesforce("sf", one.to_string().as_bytes(), &me(), 1).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].idempotency_key, "sf:replay:7:500A");
        assert!(events[0].echo);
        let batch = json!([one, {"payload": {"ChangeEventHeader": {"entityName": "Case",
            "recordIds": ["500C"], "changeType": "CREATE", "changeOrigin": ""}}}]);
        let events = salesforce("sf", batch.to_string().as_bytes(), &me(), 1).unwrap();
        assert_eq!(events.len(), 3);
        assert!(!events[2].echo);
        assert!(events[2].idempotency_key.starts_with("sf:hash:"));
    }

    #[test]
    fn malformed_bodies_say_why() {
        let e = salesforce("sf", b"{", &me(), 1).unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let e = salesforce("sf", br#"{"payload": {}}"#, &me(), 1).unwrap_err();
        assert!(e.contains("ChangeEventHeader"), "{e}");
        let e = servicenow("snow", br#"{"table": "incident"}"#, &me(), 1).unwrap_err();
        assert!(e.contains("sys_id"), "{e}");
    }

    #[test]
    fn servicenow_business_rule_keyed_by_version() {
        let body = json!({"table": "incident", "sys_id": "abc", "operation": "update",
            "sys_mod_count": 3, "sys_updated_by": "seam.integration", "record": {}});
        let e = servicenow("snow", body.to_string().as_bytes(), &me(), 1).unwrap();
        assert_eq!(e[0].idempotency_key, "snow:incident:abc:update:3");
        assert!(e[0].echo);
    }

    #[test]
    fn origin_client_reads_the_call_option() {
        assert_eq!(
            origin_client("com/salesforce/api/rest/62.0;client=seam"),
            Some("seam")
        );
        assert_eq!(origin_client("com/salesforce/api/rest/62.0"), None);
    }
}
