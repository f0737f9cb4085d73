//! Payload decoders: a webhook body becomes [`NewEvent`]s, or a reason it is malformed.
//!
//! - Salesforce Change Data Capture JSON, one event or an array: one inbox event per record id
//!   in `ChangeEventHeader.recordIds`, keyed by `replayId` (else a hash of the header's
//!   transaction key, sequence number and record). An event whose `changeOrigin` carries
//!   `client=<our client id>` is marked as our own echo.
//! - ServiceNow business-rule JSON, one event or an array: keyed by table, `sys_id` and
//!   `sys_mod_count` (the record's version); an event by our integration user is an echo.
//!
//! A decoder never fails half-way: a body with one bad event is rejected whole. Each event's
//! payload is its own bytes in the body (`seam dlq show` pretty-prints it).

use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

use crate::store::NewEvent;

/// Who the runtime is on each platform, to recognise its own writes coming back.
#[derive(Clone, Debug, Default)]
pub struct EchoIdentity {
    /// The `Sforce-Call-Options: client=` id our Salesforce writes carry.
    pub sf_client_id: String,
    /// The ServiceNow user our writes are made as (`sys_updated_by`).
    pub snow_user: Option<String>,
}

/// A webhook body's events, each as its own bytes: one JSON object, or a non-empty array of
/// them. Each event's bytes are what the inbox stores as its payload: the sender's own text,
/// not a re-serialisation (which cost a second pass over every event).
fn json_events(body: &[u8]) -> Result<Vec<&RawValue>, String> {
    let not_json = |e: serde_json::Error| format!("the body is not JSON: {e}");
    let events = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice::<Vec<&RawValue>>(body).map_err(not_json)?,
        _ => vec![serde_json::from_slice::<&RawValue>(body).map_err(not_json)?],
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

/// What ingest keeps of a CDC event, besides its bytes.
struct CdcFacts<'a> {
    entity: Cow<'a, str>,
    ids: Vec<String>,
    operation: &'static str,
    is_echo: bool,
    /// The idempotency key's middle: `replay:{replayId}` or `hash:{…}`.
    base: String,
}

fn sf_event(
    system: &str,
    event: &RawValue,
    echo: &EchoIdentity,
    now: i64,
) -> Result<Vec<NewEvent>, String> {
    let facts = match cdc::facts(event.get(), echo) {
        Some(facts) => facts,
        None => {
            let value: Value = serde_json::from_str(event.get()).map_err(|e| e.to_string())?;
            sf_facts(&value, echo)?
        }
    };
    let payload = event.get();
    Ok(facts
        .ids
        .into_iter()
        .map(|id| NewEvent {
            idempotency_key: format!("{system}:{}:{id}", facts.base),
            system: system.into(),
            object: facts.entity.as_ref().into(),
            record_id: id,
            operation: facts.operation.into(),
            echo: facts.is_echo,
            payload: payload.into(),
            received_at: now,
        })
        .collect())
}

/// The operation a CDC `changeType` stands for.
fn cdc_operation(change: &str) -> Result<&'static str, String> {
    match change {
        "CREATE" | "UNDELETE" => Ok("create"),
        "UPDATE" => Ok("update"),
        "DELETE" => Ok("delete"),
        // GAP_* events say "something changed, read it": state is truth, so an update.
        other if other.starts_with("GAP_") => Ok("update"),
        other => Err(format!("unknown changeType `{other}`")),
    }
}

fn is_our_echo(origin: &str, echo: &EchoIdentity) -> bool {
    !echo.sf_client_id.is_empty() && origin_client(origin) == Some(&echo.sf_client_id)
}

/// The facts of a CDC event read from its whole [`Value`]: the reference reading, which
/// gives every malformed event its reason ([`cdc::facts`] is the fast path beside it).
fn sf_facts(event: &Value, echo: &EchoIdentity) -> Result<CdcFacts<'static>, String> {
    let header = event
        .pointer("/payload/ChangeEventHeader")
        .ok_or("no `payload.ChangeEventHeader`")?;
    let entity = header
        .get("entityName")
        .and_then(Value::as_str)
        .ok_or("no `ChangeEventHeader.entityName`")?;
    let ids: Vec<String> = header
        .get("recordIds")
        .and_then(Value::as_array)
        .ok_or("no `ChangeEventHeader.recordIds`")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or("a record id is not a string")
        })
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Err("`ChangeEventHeader.recordIds` is empty".into());
    }
    let change = header
        .get("changeType")
        .and_then(Value::as_str)
        .ok_or("no `ChangeEventHeader.changeType`")?;
    let operation = cdc_operation(change)?;
    let origin = header
        .get("changeOrigin")
        .and_then(Value::as_str)
        .unwrap_or("");
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
    Ok(CdcFacts {
        entity: Cow::Owned(entity.into()),
        ids,
        operation,
        is_echo: is_our_echo(origin, echo),
        base,
    })
}

/// The fast path of a CDC event: only the header's few fields and the replay id are read,
/// into borrowed typed fields; the record's fields are skipped, not built into a [`Value`].
/// It answers only an event it reads exactly as [`sf_facts`] would (a well-formed event with
/// a replay id); anything else (a missing or odd field, a duplicate key, no replay id: the
/// hashed key re-serialises header values) is `None`, and the `Value` path decides.
mod cdc {
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use std::borrow::Cow;

    use super::{cdc_operation, is_our_echo, CdcFacts, EchoIdentity};

    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(borrow)]
        payload: Option<Payload<'a>>,
        #[serde(borrow)]
        event: Option<Meta<'a>>,
    }

    #[derive(Deserialize)]
    struct Payload<'a> {
        #[serde(rename = "ChangeEventHeader", borrow)]
        header: Option<Header<'a>>,
    }

    #[derive(Deserialize)]
    struct Header<'a> {
        #[serde(rename = "entityName", borrow)]
        entity: Option<Cow<'a, str>>,
        #[serde(rename = "recordIds")]
        ids: Option<Vec<String>>,
        #[serde(rename = "changeType", borrow)]
        change: Option<Cow<'a, str>>,
        #[serde(rename = "changeOrigin", borrow)]
        origin: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    struct Meta<'a> {
        #[serde(rename = "replayId", borrow)]
        replay: Option<&'a RawValue>,
    }

    /// A replay id's text as `Value` shows it: a string's content, or an integer's digits
    /// (a float or an out-of-range number is left to the `Value` path).
    fn replay_text(raw: &str) -> Option<Cow<'_, str>> {
        if raw.starts_with('"') {
            return serde_json::from_str::<Cow<'_, str>>(raw).ok();
        }
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        let integer =
            !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit());
        integer.then_some(Cow::Borrowed(raw))
    }

    pub(super) fn facts<'a>(event: &'a str, echo: &EchoIdentity) -> Option<CdcFacts<'a>> {
        let e: Event<'a> = serde_json::from_str(event).ok()?;
        let header = e.payload?.header?;
        let ids = header.ids.filter(|ids| !ids.is_empty())?;
        let operation = cdc_operation(header.change.as_deref()?).ok()?;
        let replay = replay_text(e.event?.replay?.get())?;
        Some(CdcFacts {
            entity: header.entity?,
            ids,
            operation,
            is_echo: is_our_echo(header.origin.as_deref().unwrap_or(""), echo),
            base: format!("replay:{replay}"),
        })
    }
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
    raw: &RawValue,
    echo: &EchoIdentity,
    now: i64,
) -> Result<NewEvent, String> {
    let event: Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
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
        payload: raw.get().into(),
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

    /// The stored payload is the event's own bytes, spacing and key order kept; in a batch,
    /// each event's own slice.
    #[test]
    fn payloads_are_the_events_own_bytes() {
        let a = r#"{ "schema": "x",  "payload": {"Subject": "a\"b", "ChangeEventHeader": {"entityName": "Case",
            "recordIds": ["500A"], "changeType": "UPDATE"}}, "event": {"replayId": 7} }"#;
        let b = r#"{"payload":{"ChangeEventHeader":{"entityName":"Case","recordIds":["500B","500C"],"changeType":"CREATE"}},"event":{"replayId":"8"}}"#;
        let one = salesforce("sf", format!("\n {a} \n").as_bytes(), &me(), 1).unwrap();
        assert_eq!(one[0].payload, a);
        let batch = salesforce("sf", format!("[ {a} ,\n{b}]").as_bytes(), &me(), 1).unwrap();
        let payloads: Vec<&str> = batch.iter().map(|e| e.payload.as_str()).collect();
        assert_eq!(payloads, [a, b, b]);
        let keys: Vec<&str> = batch.iter().map(|e| e.idempotency_key.as_str()).collect();
        assert_eq!(
            keys,
            ["sf:replay:7:500A", "sf:replay:8:500B", "sf:replay:8:500C"]
        );
        let snow =
            r#"{"table": "incident", "sys_id": "abc", "operation": "update",  "sys_mod_count": 3}"#;
        let e = servicenow("snow", format!("[{snow}]").as_bytes(), &me(), 1).unwrap();
        assert_eq!(e[0].payload, snow);
    }

    /// The typed fast path reads every event it accepts exactly as the `Value` reading does,
    /// and leaves every odd one to it (same keys, same echo marks, same errors).
    #[test]
    fn the_fast_path_agrees_with_the_value_reading() {
        let header = |extra: &str| {
            format!(
                r#"{{"payload": {{"ChangeEventHeader": {{"entityName": "Case", "recordIds": ["500A"], "changeType": "UPDATE"{extra}}}, "F": [1, {{"x": null}}]}}"#
            )
        };
        let cases = [
            format!(r#"{},"event": {{"replayId": 7}}}}"#, header("")),
            format!(r#"{},"event": {{"replayId": -7}}}}"#, header("")),
            format!(r#"{},"event": {{"replayId": 7.0}}}}"#, header("")),
            format!(r#"{},"event": {{"replayId": 1e3}}}}"#, header("")),
            format!(r#"{},"event": {{"replayId": 123456789012345678901234}}}}"#, header("")),
            format!(r#"{},"event": {{"replayId": null}}}}"#, header("")),
            format!(r#"{},"event": {{"replayId": "a\u0041\"b"}}}}"#, header("")),
            format!(r#"{},"event": {{"replayId": true}}}}"#, header("")),
            format!(r#"{},"event": 5}}"#, header("")),
            format!(r#"{},"event": {{"replayId": 1, "replayId": 2}}}}"#, header("")),
            format!(r#"{}}}"#, header(r#", "transactionKey": "t", "sequenceNumber": 1"#)),
            format!(
                r#"{},"event": {{"replayId": 7}}}}"#,
                header(r#", "changeOrigin": "com/salesforce/api/rest/62.0;client=seam""#)
            ),
            format!(r#"{},"event": {{"replayId": 7}}}}"#, header(r#", "changeOrigin": 5"#)),
            format!(r#"{},"event": {{"replayId": 7}}}}"#, header(r#", "changeOrigin": null"#)),
            format!(r#"{},"event": {{"replayId": 7}}}}"#, header(r#", "entityName": "Dup""#)),
            r#"{"payload": {"ChangeEventHeader": {"entityName": "Ca\u0073e", "recordIds": ["5\u0030"], "changeType": "GAP_UPDATE"}}, "event": {"replayId": 1}}"#.into(),
            r#"{"payload": {"ChangeEventHeader": {"entityName": "Case", "recordIds": [], "changeType": "UPDATE"}}, "event": {"replayId": 1}}"#.into(),
            r#"{"payload": {"ChangeEventHeader": {"entityName": "Case", "recordIds": [5], "changeType": "UPDATE"}}, "event": {"replayId": 1}}"#.into(),
            r#"{"payload": {"ChangeEventHeader": {"entityName": "Case", "recordIds": ["5"], "changeType": "MERGE"}}, "event": {"replayId": 1}}"#.into(),
            r#"{"payload": {"ChangeEventHeader": null}, "event": {"replayId": 1}}"#.into(),
            r#"{"payload": 5, "event": {"replayId": 1}}"#.into(),
            r#"{"event": {"replayId": 1}}"#.into(),
            "7".into(),
        ];
        for body in &cases {
            let reference = serde_json::from_str::<Value>(body)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    sf_facts(&v, &me()).map(|f| {
                        let ids = f.ids.join(",");
                        let op = f.operation.to_string();
                        (f.entity.into_owned(), ids, op, f.is_echo, f.base)
                    })
                });
            let decoded = salesforce("sf", body.as_bytes(), &me(), 1).map(|events| {
                let e = &events[0];
                let ids: Vec<&str> = events.iter().map(|e| e.record_id.as_str()).collect();
                let base = e
                    .idempotency_key
                    .strip_prefix("sf:")
                    .and_then(|k| k.strip_suffix(&format!(":{}", e.record_id)))
                    .unwrap()
                    .to_string();
                (
                    e.object.clone(),
                    ids.join(","),
                    e.operation.clone(),
                    e.echo,
                    base,
                )
            });
            let reference = reference.map_err(|e| format!("event 0: {e}"));
            assert_eq!(decoded, reference, "{body}");
        }
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
