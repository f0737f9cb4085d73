//! Salesforce Outbound Messages: the SOAP 1.1 `notifications()` call a workflow rule or flow
//! POSTs (`Content-Type: text/xml`), decoded into one inbox event per `Notification`, keyed by
//! the notification `Id` so the platform's redeliveries are dropped as duplicates.
//!
//! The platform cannot sign these requests, so they are not checked against the webhook
//! secret; the `OrganizationId` must be the org configured for the system instead (put mutual
//! TLS with Salesforce's client certificate, or its IP ranges, in front for more). Events are
//! hints and state is truth: a forged notification can only make the engine read a record.
//! The `SessionId` a message may carry is a live credential: it is never stored or logged.
//!
//! XML is parsed with `roxmltree` (namespace-aware, no DTDs, so no entity expansion); elements
//! are matched by namespace and local name, never by prefix.

use serde_json::{json, Map, Value};

use crate::store::NewEvent;

pub const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The most notifications one message may carry.
pub const MAX_NOTIFICATIONS: usize = 100;

/// A decoded `notifications` call.
#[derive(Debug)]
pub struct Notifications {
    pub organization_id: String,
    pub action_id: String,
    pub events: Vec<NewEvent>,
}

/// Whether a request is a SOAP message: an XML content type, or a body that opens with `<`
/// (JSON never does).
pub fn is_soap(content_type: Option<&str>, body: &[u8]) -> bool {
    let xml_type = content_type.is_some_and(|t| {
        let t = t.trim_start().to_ascii_lowercase();
        t.starts_with("text/xml") || t.starts_with("application/soap+xml")
    });
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    xml_type || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// Whether the `OrganizationId` a message carries is the configured org. Org ids are
/// case-sensitive 15-character ids; the 18-character form adds a checksum suffix, so either
/// form of the same id matches.
pub fn same_org(configured: &str, given: &str) -> bool {
    let (a, b) = (configured.trim(), given.trim());
    a.len() >= 15 && b.len() >= 15 && a.get(..15) == b.get(..15)
}

/// Whether `id` looks like an org id (`00D`, 15 or 18 letters and digits).
pub fn is_org_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18)
        && id.starts_with("00D")
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Decodes a `notifications` envelope. `system` is the alias the message was posted to.
pub fn decode(system: &str, body: &[u8], now: i64) -> Result<Notifications, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| format!("the body is not well-formed XML: {e}"))?;
    let envelope = doc.root_element();
    if !envelope.has_tag_name((SOAP_ENV_NS, "Envelope")) {
        return Err(format!(
            "the root element is `{}`, not a SOAP 1.1 `Envelope` ({SOAP_ENV_NS})",
            envelope.tag_name().name()
        ));
    }
    let notifications = child(envelope, SOAP_ENV_NS, "Body")
        .and_then(|b| child(b, OUTBOUND_NS, "notifications"))
        .ok_or_else(|| format!("the SOAP Body has no `notifications` element of {OUTBOUND_NS}"))?;
    let required = |name: &str| {
        child(notifications, OUTBOUND_NS, name)
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .ok_or_else(|| format!("`notifications` has no `{name}`"))
    };
    let organization_id = required("OrganizationId")?;
    let action_id = required("ActionId")?;
    let items: Vec<_> = notifications
        .children()
        .filter(|n| n.has_tag_name((OUTBOUND_NS, "Notification")))
        .collect();
    if items.is_empty() {
        return Err("`notifications` holds no `Notification`".into());
    }
    if items.len() > MAX_NOTIFICATIONS {
        return Err(format!(
            "`notifications` holds {} `Notification`s; the platform sends at most {MAX_NOTIFICATIONS}",
            items.len()
        ));
    }
    let events = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            notification(system, &organization_id, &action_id, *item, now)
                .map_err(|why| format!("notification {n}: {why}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Notifications {
        organization_id,
        action_id,
        events,
    })
}

fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name((ns, name)))
}

fn notification(
    system: &str,
    organization_id: &str,
    action_id: &str,
    item: roxmltree::Node,
    now: i64,
) -> Result<NewEvent, String> {
    let id = child(item, OUTBOUND_NS, "Id")
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("no notification `Id`")?;
    let sobject =
        child(item, OUTBOUND_NS, "sObject").ok_or_else(|| format!("`{id}` has no `sObject`"))?;
    let object = sobject_type(sobject)
        .ok_or_else(|| format!("`{id}`: the `sObject` has no `xsi:type` naming its object"))?;
    let mut fields = Map::new();
    for f in sobject.children().filter(|c| c.is_element()) {
        let nil = f
            .attribute((XSI_NS, "nil"))
            .is_some_and(|v| matches!(v, "true" | "1"));
        let value = if nil {
            Value::Null
        } else {
            Value::String(f.text().unwrap_or("").to_string())
        };
        fields.insert(f.tag_name().name().to_string(), value);
    }
    let record_id = fields
        .get("Id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| {
            format!(
                "`{id}`: the {object} has no `Id` field; add Id to the outbound message's fields"
            )
        })?;
    let payload = json!({
        "notificationId": id,
        "organizationId": organization_id,
        "actionId": action_id,
        "object": object,
        "fields": fields,
    });
    Ok(NewEvent {
        idempotency_key: format!("{system}:om:{id}"),
        system: system.into(),
        object,
        record_id,
        // A notification does not say whether the record was created or updated; the engine
        // reads the record either way (events are hints, state is truth).
        operation: "update".into(),
        // Outbound Messages carry no change origin; our echoes die by the engine's diff.
        echo: false,
        payload: payload.to_string(),
        received_at: now,
    })
}

/// The object an `sObject` is (`xsi:type="sf:Case"` -> `Case`).
fn sobject_type(sobject: roxmltree::Node) -> Option<String> {
    let qname = sobject.attribute((XSI_NS, "type"))?.trim();
    let local = qname.rsplit_once(':').map_or(qname, |(_, l)| l);
    (!local.is_empty()).then(|| local.to_string())
}

/// The acknowledgement the platform waits for; sent only after the events are committed.
pub fn ack() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body><notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#
    )
}

/// Who a fault blames: the sender (`Client`: do not resend as is) or us (`Server`: retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    Client,
    Server,
}

/// A SOAP 1.1 fault whose `faultstring` is `reason` (escaped).
pub fn fault(code: FaultCode, reason: &str) -> String {
    let code = match code {
        FaultCode::Client => "soapenv:Client",
        FaultCode::Server => "soapenv:Server",
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body><soapenv:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
        quick_xml::escape::escape(reason)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The shape a real org sends (an Outbound Message on Case, two fields and a nil one),
    /// with a session id, which must not reach the stored payload.
    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D70000000IVNpEAO</OrganizationId>
   <ActionId>04k70000000L0XtAAK</ActionId>
   <SessionId>00D70000000IVNp!AR8AQSecretSessionToken</SessionId>
   <EnterpriseUrl>https://na5-api.salesforce.com/services/Soap/c/25.0/00D70000000IVNp</EnterpriseUrl>
   <PartnerUrl>https://na5-api.salesforce.com/services/Soap/u/25.0/00D70000000IVNp</PartnerUrl>
   <Notification>
    <Id>04l7000000DjbKjAAJ</Id>
    <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>5007000000OFL5FAAX</sf:Id>
     <sf:Subject>Checkout &amp; payments down</sf:Subject>
     <sf:Description xsi:nil="true"/>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l7000000DjbKkAAJ</Id>
    <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>5007000000OFL5GAAX</sf:Id>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

    #[test]
    fn decodes_each_notification_keyed_by_its_id() {
        let n = decode("sf", SAMPLE.as_bytes(), 42).unwrap();
        assert_eq!(n.organization_id, "00D70000000IVNpEAO");
        assert_eq!(n.action_id, "04k70000000L0XtAAK");
        assert_eq!(n.events.len(), 2);
        let e = &n.events[0];
        assert_eq!(e.idempotency_key, "sf:om:04l7000000DjbKjAAJ");
        assert_eq!(
            (e.object.as_str(), e.record_id.as_str()),
            ("Case", "5007000000OFL5FAAX")
        );
        assert_eq!(e.operation, "update");
        assert_eq!(e.received_at, 42);
        let p: Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(p["fields"]["Subject"], "Checkout & payments down");
        assert_eq!(p["fields"]["Description"], Value::Null);
        assert_eq!(n.events[1].record_id, "5007000000OFL5GAAX");
        for e in &n.events {
            assert!(!e.payload.contains("SecretSessionToken"), "{}", e.payload);
        }
    }

    #[test]
    fn prefixes_do_not_matter_namespaces_do() {
        let renamed = SAMPLE
            .replace("soapenv:", "s:")
            .replace("xmlns:soapenv", "xmlns:s")
            .replace("sf:", "x:")
            .replace("xmlns:sf", "xmlns:x");
        assert_eq!(decode("sf", renamed.as_bytes(), 0).unwrap().events.len(), 2);
        let other_ns = SAMPLE.replace(OUTBOUND_NS, "http://example.com/other");
        let e = decode("sf", other_ns.as_bytes(), 0).unwrap_err();
        assert!(e.contains("no `notifications`"), "{e}");
    }

    #[test]
    fn malformed_messages_say_what_is_missing() {
        let cases = [
            ("<notifications", "not well-formed XML"),
            ("<a/>", "not a SOAP 1.1 `Envelope`"),
            ("\u{feff}", "not well-formed"),
        ];
        for (body, want) in cases {
            let e = decode("sf", body.as_bytes(), 0).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
        let no_id = SAMPLE.replace("<sf:Id>5007000000OFL5GAAX</sf:Id>", "");
        let e = decode("sf", no_id.as_bytes(), 0).unwrap_err();
        assert!(
            e.contains("notification 1")
                && e.contains("04l7000000DjbKkAAJ")
                && e.contains("no `Id` field"),
            "{e}"
        );
        let no_org = SAMPLE.replace("<OrganizationId>00D70000000IVNpEAO</OrganizationId>", "");
        assert!(decode("sf", no_org.as_bytes(), 0)
            .unwrap_err()
            .contains("OrganizationId"));
        let no_type = SAMPLE.replace(r#"xsi:type="sf:Case" "#, "");
        assert!(decode("sf", no_type.as_bytes(), 0)
            .unwrap_err()
            .contains("xsi:type"));
        let dtd = format!(
            "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
            SAMPLE.trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
        );
        assert!(decode("sf", dtd.as_bytes(), 0).is_err(), "DTDs are refused");
    }

    #[test]
    fn more_than_a_hundred_notifications_is_malformed() {
        let one = SAMPLE
            .split("<Notification>")
            .nth(2)
            .and_then(|s| s.split("</Notification>").next())
            .unwrap();
        let many: String = (0..101)
            .map(|_| format!("<Notification>{one}</Notification>"))
            .collect();
        let body = SAMPLE.replacen("<Notification>", &format!("{many}<Notification>"), 1);
        assert!(decode("sf", body.as_bytes(), 0)
            .unwrap_err()
            .contains("at most 100"));
    }

    #[test]
    fn org_ids_match_in_either_length() {
        assert!(same_org("00D70000000IVNp", "00D70000000IVNpEAO"));
        assert!(same_org("00D70000000IVNpEAO", "00D70000000IVNpEAO"));
        assert!(
            !same_org("00D70000000IVNP", "00D70000000IVNpEAO"),
            "case-sensitive"
        );
        assert!(!same_org("", "00D70000000IVNpEAO"));
        assert!(
            is_org_id("00D70000000IVNpEAO") && !is_org_id("001700000000000") && !is_org_id("00D")
        );
    }

    #[test]
    fn detection_ack_and_fault() {
        assert!(is_soap(Some("text/xml; charset=utf-8"), b""));
        assert!(is_soap(None, b"  \n<?xml"));
        assert!(!is_soap(Some("application/json"), b"{\"a\": 1}"));
        let ack = ack();
        let doc = roxmltree::Document::parse(&ack).unwrap();
        let a = doc
            .descendants()
            .find(|n| n.has_tag_name((OUTBOUND_NS, "Ack")))
            .unwrap();
        assert_eq!(a.text(), Some("true"));
        let f = fault(FaultCode::Client, "bad <x> & more");
        let doc = roxmltree::Document::parse(&f).unwrap();
        let s = doc
            .descendants()
            .find(|n| n.has_tag_name("faultstring"))
            .unwrap();
        assert_eq!(s.text(), Some("bad <x> & more"));
    }
}
