//! Outbound Messages: the SOAP 1.1 `notifications()` call a workflow rule or flow sends when a
//! record of a configured object is created or updated, as the platform sends it:
//!
//! ```xml
//! <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
//!     xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
//!  <soapenv:Body>
//!   <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
//!    <OrganizationId>00D5g0000000001EAA</OrganizationId>
//!    <ActionId>04k5g0000000001AAA</ActionId>
//!    <SessionId xsi:nil="true"/>
//!    <EnterpriseUrl>http://127.0.0.1:8701/services/Soap/c/62.0/00D5g0000000001</EnterpriseUrl>
//!    <PartnerUrl>http://127.0.0.1:8701/services/Soap/u/62.0/00D5g0000000001</PartnerUrl>
//!    <Notification>
//!     <Id>04l5g0000000001AAA</Id>
//!     <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
//!      <sf:Id>5005g0000000001AAA</sf:Id>
//!      <sf:Subject>Core switch down</sf:Subject>
//!     </sObject>
//!    </Notification>
//!   </notifications>
//!  </soapenv:Body>
//! </soapenv:Envelope>
//! ```
//!
//! POSTed with `Content-Type: text/xml; charset=utf-8` and `SOAPAction: ""`. Up to 100
//! notifications of one object travel in one message. A message counts as delivered only when
//! the answer is a 2xx whose body holds `notificationsResponse/Ack` = `true`; otherwise it is
//! sent again after a growing interval (doubling from `first_ms` up to `max_ms`) until
//! `give_up_ms` has passed — the platform retries for 24 hours, at most 2 hours apart, and
//! retries independently of order. Each message carries the record as it was at commit time
//! (the platform sends the latest data at send time; state is truth either way). Delete does
//! not fire a workflow rule, so it sends nothing. The system's webhook faults apply per
//! message (drop, duplicate, delay, reorder, and `lost_ack_rate`: an Ack that never arrives).

use super::{sf_id, ObjMeta};
use crate::faults::Faults;
use crate::store::Record;
use quick_xml::escape::escape;
use seam_compiler::catalog::FieldType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The namespace of `notifications` and `notificationsResponse`.
pub const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
/// The namespace of the enterprise WSDL's sObject types (`sf:Case`) and fields (`sf:Id`).
pub const SOBJECT_NS: &str = "urn:sobject.enterprise.soap.sforce.com";
const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The most notifications one message carries.
pub const MAX_NOTIFICATIONS: usize = 100;
const LOG_CAP: usize = 1_000;
/// The API version of the `EnterpriseUrl` / `PartnerUrl` sent.
const SOAP_VERSION: &str = "62.0";

/// Which records send Outbound Messages, where, and how delivery is retried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// The listener's endpoint URL; `None` sends nothing.
    pub url: Option<String>,
    /// Object -> the fields each notification carries besides `Id`; `["*"]` is every field.
    pub objects: BTreeMap<String, Vec<String>>,
    /// Send a session id the listener could call back with (`SessionId` is nil otherwise).
    pub include_session_id: bool,
    pub retry: OutboundRetry,
}

impl Default for OutboundConfig {
    /// No URL; `Case` with every field once a URL is set.
    fn default() -> Self {
        OutboundConfig {
            url: None,
            objects: BTreeMap::from([("Case".to_string(), vec!["*".to_string()])]),
            include_session_id: false,
            retry: OutboundRetry::default(),
        }
    }
}

/// The redelivery schedule: `first_ms`, then doubling up to `max_ms` between attempts, until
/// `give_up_ms` after the first attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundRetry {
    pub first_ms: u64,
    pub max_ms: u64,
    pub give_up_ms: u64,
}

impl Default for OutboundRetry {
    /// The platform's bounds (at most 2 hours apart, for 24 hours), starting after 1 second.
    fn default() -> Self {
        OutboundRetry {
            first_ms: 1_000,
            max_ms: 2 * 3_600_000,
            give_up_ms: 24 * 3_600_000,
        }
    }
}

/// Delivery counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutboundStats {
    /// Notifications queued (one per create or update of a configured object).
    pub notifications: u64,
    /// Messages built (each carries 1..=100 notifications).
    pub messages: u64,
    /// Messages acknowledged with `<Ack>true</Ack>` (a duplicated message counts twice).
    pub acked: u64,
    /// Attempts after the first one of a message.
    pub redeliveries: u64,
    /// Answers that were not an Ack (non-2xx, no `Ack` true, or a connection error).
    pub nacked: u64,
    /// Acks thrown away by the `lost_ack_rate` fault.
    pub lost_acks: u64,
    /// Messages given up after `give_up_ms`.
    pub failed: u64,
    /// Messages dropped by the drop fault, and extra copies sent by the duplicate fault.
    pub dropped: u64,
    pub duplicated: u64,
}

#[derive(Default)]
struct Counters {
    notifications: AtomicU64,
    messages: AtomicU64,
    acked: AtomicU64,
    redeliveries: AtomicU64,
    nacked: AtomicU64,
    lost_acks: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
}

/// One queued notification: the record's fields already rendered as XML text.
struct Notification {
    object: String,
    id: String,
    /// (field, value); `None` is `xsi:nil`.
    fields: Vec<(String, Option<String>)>,
    session_id: Option<String>,
}

/// What every message of this org carries.
struct Org {
    org_id: String,
    base_url: String,
}

struct Ctx {
    client: reqwest::Client,
    config: Arc<RwLock<OutboundConfig>>,
    faults: Arc<Faults>,
    counters: Arc<Counters>,
    log: Arc<Mutex<VecDeque<String>>>,
    org: Org,
}

/// The Outbound Message sender of the Salesforce emulator.
pub struct Outbound {
    tx: mpsc::UnboundedSender<Notification>,
    config: Arc<RwLock<OutboundConfig>>,
    counters: Arc<Counters>,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("config", &self.config())
            .finish()
    }
}

impl Outbound {
    /// Starts the sender task (needs a Tokio runtime).
    pub fn start(
        config: OutboundConfig,
        faults: Arc<Faults>,
        org_id: String,
        base_url: String,
    ) -> Outbound {
        let (tx, rx) = mpsc::unbounded_channel();
        let config = Arc::new(RwLock::new(config));
        let counters = Arc::new(Counters::default());
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap_or_default();
        let ctx = Arc::new(Ctx {
            client,
            config: config.clone(),
            faults,
            counters: counters.clone(),
            log: log.clone(),
            org: Org { org_id, base_url },
        });
        tokio::spawn(run(rx, ctx));
        Outbound {
            tx,
            config,
            counters,
            log,
        }
    }

    pub fn config(&self) -> OutboundConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_config(&self, config: OutboundConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Whether a change of `object` sends a notification (cheap: the write path asks first).
    pub fn wants(&self, object: &str) -> bool {
        let c = self.config.read().unwrap_or_else(|e| e.into_inner());
        c.url.is_some() && c.objects.contains_key(object)
    }

    /// Queues one notification for a created or updated record. `notification_id` is the
    /// `04l…` id the caller allocated from the org's counter; `session_id` is sent when asked.
    pub fn notify(
        &self,
        meta: &ObjMeta,
        record: &Record,
        notification_id: String,
        session_id: impl FnOnce() -> String,
    ) {
        let (fields, with_session) = {
            let c = self.config.read().unwrap_or_else(|e| e.into_inner());
            let Some(selected) = c.objects.get(meta.name()) else {
                return;
            };
            (select(meta, record, selected), c.include_session_id)
        };
        self.counters.notifications.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Notification {
            object: meta.name().to_string(),
            id: notification_id,
            fields,
            session_id: with_session.then(session_id),
        });
    }

    pub fn stats(&self) -> OutboundStats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OutboundStats {
            notifications: l(&c.notifications),
            messages: l(&c.messages),
            acked: l(&c.acked),
            redeliveries: l(&c.redeliveries),
            nacked: l(&c.nacked),
            lost_acks: l(&c.lost_acks),
            failed: l(&c.failed),
            dropped: l(&c.dropped),
            duplicated: l(&c.duplicated),
        }
    }

    /// The messages built so far (the last 1,000), as sent, before faults.
    pub fn messages(&self) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// `Id` first, then the selected fields in the object's field order (`*`: all of them).
fn select(meta: &ObjMeta, record: &Record, selected: &[String]) -> Vec<(String, Option<String>)> {
    let all = selected.iter().any(|s| s == "*");
    let mut out = vec![(
        "Id".to_string(),
        record.get("Id").and_then(Value::as_str).map(String::from),
    )];
    for f in &meta.def.fields {
        if f.name == "Id" {
            continue;
        }
        if !all && !selected.iter().any(|s| s.eq_ignore_ascii_case(&f.name)) {
            continue;
        }
        let text = match record.get(&f.name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if matches!(f.ty, FieldType::Datetime) => {
                // REST's `2013-05-20T20:49:32.000+0000` is `…000Z` as an xsd:dateTime.
                Some(
                    s.strip_suffix("+0000")
                        .map_or(s.clone(), |t| format!("{t}Z")),
                )
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        out.push((f.name.clone(), text));
    }
    out
}

/// The 15-character form of an id (the org id in `EnterpriseUrl` / `PartnerUrl`).
fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// The `notifications` envelope of one object's notifications.
fn envelope(org: &Org, action_id: &str, batch: &[Notification]) -> String {
    let session = batch.iter().find_map(|n| n.session_id.as_deref());
    let mut x = String::with_capacity(512 + batch.len() * 512);
    x.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = write!(
        x,
        r#"<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#
    );
    let _ = write!(x, r#"<soapenv:Body><notifications xmlns="{OUTBOUND_NS}">"#);
    let _ = write!(x, "<OrganizationId>{}</OrganizationId>", org.org_id);
    let _ = write!(x, "<ActionId>{action_id}</ActionId>");
    match session {
        Some(s) => {
            let _ = write!(x, "<SessionId>{}</SessionId>", escape(s));
        }
        None => x.push_str(r#"<SessionId xsi:nil="true"/>"#),
    }
    let base = escape(&org.base_url);
    let org15 = id15(&org.org_id);
    let _ = write!(
        x,
        "<EnterpriseUrl>{base}/services/Soap/c/{SOAP_VERSION}/{org15}</EnterpriseUrl>"
    );
    let _ = write!(
        x,
        "<PartnerUrl>{base}/services/Soap/u/{SOAP_VERSION}/{org15}</PartnerUrl>"
    );
    for n in batch {
        let _ = write!(
            x,
            r#"<Notification><Id>{}</Id><sObject xsi:type="sf:{}" xmlns:sf="{SOBJECT_NS}">"#,
            n.id, n.object
        );
        for (name, value) in &n.fields {
            match value {
                Some(v) => {
                    let _ = write!(x, "<sf:{name}>{}</sf:{name}>", escape(v.as_str()));
                }
                None => {
                    let _ = write!(x, r#"<sf:{name} xsi:nil="true"/>"#);
                }
            }
        }
        x.push_str("</sObject></Notification>");
    }
    x.push_str("</notifications></soapenv:Body></soapenv:Envelope>");
    x
}

/// Whether a listener's answer is `notificationsResponse` with `Ack` = `true`.
pub fn is_ack(body: &str) -> bool {
    let Ok(doc) = roxmltree::Document::parse(body) else {
        return false;
    };
    doc.descendants()
        .find(|n| n.has_tag_name((OUTBOUND_NS, "notificationsResponse")))
        .and_then(|r| r.children().find(|n| n.has_tag_name((OUTBOUND_NS, "Ack"))))
        .and_then(|a| a.text())
        .is_some_and(|t| matches!(t.trim(), "true" | "1"))
}

/// The ActionId of an object's outbound message: stable per object name.
fn action_id(object: &str) -> String {
    let n = object
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    sf_id("04k", n % 1_000_000 + 1)
}

async fn run(mut rx: mpsc::UnboundedReceiver<Notification>, ctx: Arc<Ctx>) {
    let mut held: Option<String> = None;
    loop {
        let first = if held.is_some() {
            match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                Ok(n) => n,
                Err(_) => {
                    // Nothing came to overtake the held message: send it now.
                    if let Some(h) = held.take() {
                        send(&ctx, h, Duration::ZERO).await;
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = first else { break };
        let mut queued = vec![first];
        while queued.len() < MAX_NOTIFICATIONS {
            match rx.try_recv() {
                Ok(n) => queued.push(n),
                Err(_) => break,
            }
        }
        for body in messages(&ctx, queued) {
            let d = ctx.faults.decide_hook();
            if d.drop {
                ctx.counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if d.reorder && held.is_none() {
                held = Some(body);
                continue;
            }
            if d.duplicate {
                ctx.counters.duplicated.fetch_add(1, Ordering::Relaxed);
                send(&ctx, body.clone(), d.delay).await;
            }
            send(&ctx, body, d.delay).await;
            if let Some(h) = held.take() {
                send(&ctx, h, Duration::ZERO).await;
            }
        }
    }
}

/// One message per object, in the order each object first appears.
fn messages(ctx: &Ctx, queued: Vec<Notification>) -> Vec<String> {
    let mut groups: Vec<(String, Vec<Notification>)> = Vec::new();
    for n in queued {
        match groups.iter_mut().find(|(o, _)| *o == n.object) {
            Some((_, g)) => g.push(n),
            None => groups.push((n.object.clone(), vec![n])),
        }
    }
    groups
        .into_iter()
        .map(|(object, batch)| {
            let body = envelope(&ctx.org, &action_id(&object), &batch);
            ctx.counters.messages.fetch_add(1, Ordering::Relaxed);
            let mut log = ctx.log.lock().unwrap_or_else(|e| e.into_inner());
            if log.len() >= LOG_CAP {
                log.pop_front();
            }
            log.push_back(body.clone());
            body
        })
        .collect()
}

/// The first attempt in line (so messages leave in commit order when nothing fails); the
/// redeliveries, and a delayed message, on their own task, as the platform retries out of order.
async fn send(ctx: &Arc<Ctx>, body: String, delay: Duration) {
    if delay.is_zero() && attempt(ctx, &body).await {
        return;
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
            if attempt(&ctx, &body).await {
                return;
            }
        }
        redeliver(&ctx, &body, started).await;
    });
}

async fn redeliver(ctx: &Ctx, body: &str, started: Instant) {
    let retry = ctx
        .config
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .retry
        .clone();
    let mut wait = Duration::from_millis(retry.first_ms.max(1));
    let max = Duration::from_millis(retry.max_ms.max(retry.first_ms).max(1));
    let give_up = Duration::from_millis(retry.give_up_ms);
    loop {
        if started.elapsed() + wait > give_up {
            ctx.counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("outbound message given up");
            return;
        }
        tokio::time::sleep(wait).await;
        ctx.counters.redeliveries.fetch_add(1, Ordering::Relaxed);
        if attempt(ctx, body).await {
            return;
        }
        wait = (wait * 2).min(max);
    }
}

/// One POST; true when it was acknowledged (and the Ack was not lost on the way back).
async fn attempt(ctx: &Ctx, body: &str) -> bool {
    let url = ctx
        .config
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .url
        .clone();
    let Some(url) = url else {
        ctx.counters.nacked.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let res = ctx
        .client
        .post(&url)
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"")
        .body(body.to_string())
        .send()
        .await;
    let acked = match res {
        Ok(r) if r.status().is_success() => r.text().await.is_ok_and(|t| is_ack(&t)),
        Ok(r) => {
            tracing::debug!(status = %r.status(), "outbound message not acknowledged");
            false
        }
        Err(e) => {
            tracing::debug!(error = %e, "outbound message delivery failed");
            false
        }
    };
    if !acked {
        ctx.counters.nacked.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    if ctx.faults.decide_lost_ack() {
        ctx.counters.lost_acks.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    ctx.counters.acked.fetch_add(1, Ordering::Relaxed);
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn org() -> Org {
        Org {
            org_id: "00D5g0000000001EAA".into(),
            base_url: "http://127.0.0.1:8701".into(),
        }
    }

    fn note(id: &str, fields: Vec<(&str, Option<&str>)>) -> Notification {
        Notification {
            object: "Case".into(),
            id: id.into(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.map(String::from)))
                .collect(),
            session_id: None,
        }
    }

    #[test]
    fn envelope_is_the_platforms_notifications_call() {
        let batch = [
            note(
                "04l5g0000000001AAA",
                vec![
                    ("Id", Some("5005g0000000001AAA")),
                    ("Subject", Some("a < b & c")),
                    ("Description", None),
                ],
            ),
            note(
                "04l5g0000000002AAA",
                vec![("Id", Some("5005g0000000002AAA"))],
            ),
        ];
        let x = envelope(&org(), "04k5g0000000001AAA", &batch);
        let doc = roxmltree::Document::parse(&x).unwrap();
        let root = doc.root_element();
        assert!(root.has_tag_name((SOAP_ENV_NS, "Envelope")));
        let n = doc
            .descendants()
            .find(|n| n.has_tag_name((OUTBOUND_NS, "notifications")))
            .unwrap();
        let child = |name: &str| {
            n.children()
                .find(|c| c.has_tag_name((OUTBOUND_NS, name)))
                .unwrap()
        };
        assert_eq!(child("OrganizationId").text(), Some("00D5g0000000001EAA"));
        assert_eq!(
            child("SessionId").attribute(("http://www.w3.org/2001/XMLSchema-instance", "nil")),
            Some("true")
        );
        assert_eq!(
            child("PartnerUrl").text(),
            Some("http://127.0.0.1:8701/services/Soap/u/62.0/00D5g0000000001")
        );
        let notes: Vec<_> = n
            .children()
            .filter(|c| c.has_tag_name((OUTBOUND_NS, "Notification")))
            .collect();
        assert_eq!(notes.len(), 2);
        let so = notes[0]
            .children()
            .find(|c| c.has_tag_name((OUTBOUND_NS, "sObject")))
            .unwrap();
        assert_eq!(
            so.attribute(("http://www.w3.org/2001/XMLSchema-instance", "type")),
            Some("sf:Case")
        );
        let subject = so
            .children()
            .find(|c| c.has_tag_name((SOBJECT_NS, "Subject")))
            .unwrap();
        assert_eq!(subject.text(), Some("a < b & c"), "escaped and read back");
    }

    #[test]
    fn ack_is_read_by_namespace_not_by_prefix() {
        let ok = format!(
            r#"<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Body><o:notificationsResponse xmlns:o="{OUTBOUND_NS}"><o:Ack>true</o:Ack></o:notificationsResponse></s:Body></s:Envelope>"#
        );
        assert!(is_ack(&ok));
        assert!(!is_ack(&ok.replace(">true<", ">false<")));
        assert!(!is_ack(&ok.replace(OUTBOUND_NS, "urn:other")));
        assert!(!is_ack("<Ack>true</Ack"));
    }
}
