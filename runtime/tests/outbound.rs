//! Salesforce Outbound Messages (SOAP) end to end: the sandbox sends `notifications` to
//! `/hooks/sf`, the runtime stores them and acks, the Case syncs to an incident; redeliveries
//! after a lost Ack are dropped as duplicates; malformed and foreign messages are refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use seam_sandbox::{FaultConfig, OutboundConfig, OutboundRetry, SystemKind, WebhookFaults};
use serde_json::json;
use std::collections::BTreeMap;

/// Outbound Messages only: the CDC-style webhook of Salesforce is switched off.
fn outbound_only(w: &World, give_up_ms: u64) {
    w.sb.set_webhook_url(SystemKind::Salesforce, None);
    w.sb.set_outbound(OutboundConfig {
        url: Some(format!("{}/hooks/sf", w.rt().url())),
        objects: BTreeMap::from([(
            "Case".to_string(),
            vec!["Subject".to_string(), "Type".to_string()],
        )]),
        include_session_id: true,
        retry: OutboundRetry {
            first_ms: 20,
            max_ms: 40,
            give_up_ms,
        },
    });
}

fn sf_metric(w: &World, name: &str) -> f64 {
    let m = w.rt().metrics.render(Default::default());
    metric(&m, &format!("{name}{{system=\"sf\"}}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_message_opens_the_incident() {
    let w = World::start(fast_retry(3)).await;
    outbound_only(&w, 10_000);
    let (account, _) = w.customer("OM-1");
    let case =
        w.sb.sf_create(
            "Case",
            json!({"Subject": "Router on fire", "Type": "Infrastructure", "Priority": "High", "AccountId": account}),
            None,
        )
        .unwrap();
    eventually(10, "an incident for the case", || {
        w.incidents_for(&case).len() == 1
    })
    .await;
    let inc = w.incidents_for(&case).remove(0);
    assert_eq!(inc["short_description"], "Router on fire");
    let number = inc["number"].as_str().unwrap().to_string();
    eventually(10, "the incident number back on the case", || {
        field(&w.sb.sf_record("Case", &case), "Incident_Number__c").as_deref()
            == Some(number.as_str())
    })
    .await;
    assert_eq!(
        w.sb.webhook_stats(SystemKind::Salesforce).delivered,
        0,
        "no CDC webhook"
    );
    let stats = w.sb.outbound_stats();
    assert!(stats.acked >= 1 && stats.nacked == 0, "{stats:?}");
    // Every notification stored once; the session id the messages carried is stored nowhere.
    let store = w.rt().store.clone();
    eventually(10, "the inbox drained", || {
        store.backlog(seam_runtime::store::now_ms()).unwrap().depth == 0
    })
    .await;
    assert_eq!(
        sf_metric(&w, "seam_events_in_total"),
        w.sb.outbound_stats().notifications as f64
    );
    let sessions: Vec<String> =
        w.sb.outbound_messages()
            .iter()
            .filter_map(|m| {
                Some(
                    m.split("<SessionId>")
                        .nth(1)?
                        .split('<')
                        .next()?
                        .to_string(),
                )
            })
            .collect();
    assert!(!sessions.is_empty(), "the messages carried session ids");
    let mut stored = Vec::new();
    for file in ["seam.db", "seam.db-wal"] {
        stored.extend(std::fs::read(w.dir.path().join(file)).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("04l"), "notification ids are stored");
    for s in &sessions {
        assert!(
            !stored.contains(s.as_str()),
            "a session id reached the store"
        );
    }
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliveries_after_lost_acks_are_duplicates() {
    let w = World::start(fast_retry(3)).await;
    outbound_only(&w, 400);
    // Every Ack is lost on the way back: the sandbox resends each message until it gives up.
    w.sb.set_faults(
        SystemKind::Salesforce,
        FaultConfig {
            webhook: WebhookFaults {
                lost_ack_rate: 1.0,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let (account, _) = w.customer("OM-2");
    let case =
        w.sb.sf_create(
            "Case",
            json!({"Subject": "Disk full", "Type": "Infrastructure", "AccountId": account}),
            None,
        )
        .unwrap();
    eventually(10, "every message given up", || {
        let s = w.sb.outbound_stats();
        s.messages > 0 && s.failed == s.messages
    })
    .await;
    let stats = w.sb.outbound_stats();
    assert!(
        stats.redeliveries >= 2 && stats.lost_acks == stats.redeliveries + stats.messages,
        "{stats:?}"
    );
    assert_eq!(
        sf_metric(&w, "seam_events_in_total"),
        stats.notifications as f64,
        "each notification stored once"
    );
    assert!(
        sf_metric(&w, "seam_events_duplicate_total") >= stats.redeliveries as f64,
        "every redelivery dropped as a duplicate: {stats:?}"
    );
    eventually(10, "one incident", || w.incidents_for(&case).len() == 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(w.incidents_for(&case).len(), 1);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_foreign_messages_are_refused_with_soap_faults() {
    let w = World::start(fast_retry(3)).await;
    let url = format!("{}/hooks/sf", w.rt().url());
    let post = |body: String| {
        w.http
            .post(&url)
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"")
            .body(body)
            .send()
    };
    let r = post("<soapenv:Envelope".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<faultcode>soapenv:Client</faultcode>")
            && text.contains("not well-formed XML"),
        "{text}"
    );

    let foreign = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000001AAA</OrganizationId><ActionId>04k000000000001AAA</ActionId><SessionId xsi:nil="true"/><EnterpriseUrl>x</EnterpriseUrl><PartnerUrl>x</PartnerUrl><Notification><Id>04l000000000009AAA</Id><sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{}</sf:Id></sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"#,
        "5005g0000000001AAA"
    );
    let r = post(foreign.clone()).await.unwrap();
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("00D000000000001AAA") && text.contains("not the org configured"),
        "{text}"
    );

    // The same message from the sandbox's own org is stored and acked; its repeat is a duplicate.
    let ours = foreign.replace("00D000000000001AAA", &w.sb.salesforce_org_id());
    for _ in 0..2 {
        let r = post(ours.clone()).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("<Ack>true</Ack>"));
    }
    let m = w.rt().metrics.render(Default::default());
    assert_eq!(
        metric(
            &m,
            "seam_events_rejected_total{system=\"sf\",reason=\"malformed\"}"
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "seam_events_rejected_total{system=\"sf\",reason=\"organization\"}"
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, "seam_events_in_total{system=\"sf\"}"),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, "seam_events_duplicate_total{system=\"sf\"}"),
        1.0,
        "{m}"
    );

    // ServiceNow does not speak SOAP.
    let r = w
        .http
        .post(format!("{}/hooks/snow", w.rt().url()))
        .header("content-type", "text/xml")
        .body(ours)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    w.shutdown().await;
}
