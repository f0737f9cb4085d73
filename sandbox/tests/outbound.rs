//! Salesforce Outbound Messages: the SOAP `notifications` call, its headers, field selection,
//! redelivery until `<Ack>true</Ack>`, giving up, and the admin endpoint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use axum::http::{HeaderMap, StatusCode};
use common::{client, eventually, start};
use seam_sandbox::salesforce::outbound::{OUTBOUND_NS, SOBJECT_NS};
use seam_sandbox::{OutboundConfig, OutboundRetry};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

type Got = Arc<Mutex<Vec<(HeaderMap, String)>>>;

const ACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#;

/// A listener that records every POST, answers 500 to the first `refuse` of them and then
/// `answer` (with 200).
async fn listener(refuse: usize, answer: &'static str) -> (String, Got) {
    let got: Got = Arc::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/om",
        axum::routing::post(move |h: HeaderMap, body: String| {
            let (g, seen) = (g.clone(), seen.clone());
            async move {
                g.lock().unwrap().push((h, body));
                if seen.fetch_add(1, Ordering::SeqCst) < refuse {
                    (StatusCode::INTERNAL_SERVER_ERROR, "busy")
                } else {
                    (StatusCode::OK, answer)
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/om", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

fn fast(url: &str, objects: &[(&str, &[&str])]) -> OutboundConfig {
    OutboundConfig {
        url: Some(url.to_string()),
        objects: objects
            .iter()
            .map(|(o, f)| (o.to_string(), f.iter().map(|s| s.to_string()).collect()))
            .collect::<BTreeMap<_, _>>(),
        include_session_id: false,
        retry: OutboundRetry {
            first_ms: 20,
            max_ms: 80,
            give_up_ms: 600,
        },
    }
}

/// (notification ids, the first sObject's fields as (name, value or None for nil)).
fn notifications(body: &str) -> (Vec<String>, Vec<(String, Option<String>)>) {
    let doc = roxmltree::Document::parse(body).unwrap();
    let n = doc
        .descendants()
        .find(|n| n.has_tag_name((OUTBOUND_NS, "notifications")))
        .unwrap();
    let items: Vec<_> = n
        .children()
        .filter(|c| c.has_tag_name((OUTBOUND_NS, "Notification")))
        .collect();
    let ids = items
        .iter()
        .map(|i| {
            i.children()
                .find(|c| c.has_tag_name((OUTBOUND_NS, "Id")))
                .and_then(|c| c.text())
                .unwrap()
                .to_string()
        })
        .collect();
    let so = items[0]
        .children()
        .find(|c| c.has_tag_name((OUTBOUND_NS, "sObject")))
        .unwrap();
    assert_eq!(so.attribute((XSI, "type")), Some("sf:Case"));
    let fields = so
        .children()
        .filter(|c| c.is_element())
        .map(|c| {
            assert_eq!(c.tag_name().namespace(), Some(SOBJECT_NS));
            let nil = c.attribute((XSI, "nil")) == Some("true");
            (
                c.tag_name().name().to_string(),
                (!nil).then(|| c.text().unwrap_or("").to_string()),
            )
        })
        .collect();
    (ids, fields)
}

fn header<'a>(doc: &'a roxmltree::Document, name: &str) -> roxmltree::Node<'a, 'a> {
    doc.descendants()
        .find(|n| n.has_tag_name((OUTBOUND_NS, name)))
        .unwrap()
}

#[tokio::test]
async fn a_case_sends_the_soap_notification_and_it_is_resent_until_acked() {
    let (url, got) = listener(2, ACK).await;
    let s = start().await;
    s.set_outbound(fast(
        &url,
        &[("Case", &["Subject", "Priority", "Description"])],
    ));
    let id = s
        .sf_create(
            "Case",
            json!({"Subject": "Fire & smoke <in> rack 4", "Priority": "High"}),
            None,
        )
        .unwrap();
    eventually(|| s.outbound_stats().acked == 1).await;

    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "two refusals, then the Ack");
    let (h, body) = &got[0];
    assert_eq!(h["content-type"], "text/xml; charset=utf-8");
    assert_eq!(h["soapaction"], "\"\"");
    for (_, again) in &got[1..] {
        assert_eq!(again, body, "a redelivery is the same message");
    }
    let doc = roxmltree::Document::parse(body).unwrap();
    assert_eq!(
        header(&doc, "OrganizationId").text(),
        Some(s.salesforce_org_id().as_str())
    );
    assert!(header(&doc, "ActionId").text().unwrap().starts_with("04k"));
    assert_eq!(
        header(&doc, "SessionId").attribute((XSI, "nil")),
        Some("true")
    );
    let org15 = &s.salesforce_org_id()[..15];
    assert_eq!(
        header(&doc, "EnterpriseUrl").text().unwrap(),
        format!("{}/services/Soap/c/62.0/{org15}", s.salesforce_url())
    );
    let (ids, fields) = notifications(body);
    assert_eq!(ids.len(), 1);
    assert!(ids[0].starts_with("04l") && ids[0].len() == 18, "{ids:?}");
    assert_eq!(fields[0], ("Id".to_string(), Some(id.clone())), "Id first");
    let mut rest = fields[1..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        vec![
            ("Description".to_string(), None),
            ("Priority".to_string(), Some("High".to_string())),
            (
                "Subject".to_string(),
                Some("Fire & smoke <in> rack 4".to_string())
            ),
        ],
        "the configured fields only; an empty one is xsi:nil"
    );
    let stats = s.outbound_stats();
    assert_eq!(
        (
            stats.notifications,
            stats.messages,
            stats.nacked,
            stats.redeliveries
        ),
        (1, 1, 2, 2)
    );
    assert_eq!(s.outbound_messages(), vec![body.clone()]);
    s.shutdown().await;
}

#[tokio::test]
async fn updates_send_new_notifications_and_deletes_and_other_objects_send_none() {
    let (url, got) = listener(0, ACK).await;
    let s = start().await;
    s.set_outbound(fast(&url, &[("Case", &["*"])]));
    let id = s
        .sf_create("Case", json!({"Subject": "one"}), None)
        .unwrap();
    eventually(|| s.outbound_stats().acked == 1).await;
    let token = s.salesforce_token();
    let base = format!("{}/services/data/v62.0/sobjects", s.salesforce_url());
    let r = client()
        .patch(format!("{base}/Case/{id}"))
        .bearer_auth(&token)
        .json(&json!({"Subject": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    eventually(|| s.outbound_stats().acked == 2).await;
    s.sf_create("Account", json!({"Name": "not configured"}), None)
        .unwrap();
    let r = client()
        .delete(format!("{base}/Case/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "the Account and the delete send nothing");
    let (first, f1) = notifications(&got[0].1);
    let (second, f2) = notifications(&got[1].1);
    assert_ne!(first, second, "each change is its own notification");
    let subject =
        |f: &[(String, Option<String>)]| f.iter().find(|(n, _)| n == "Subject").unwrap().1.clone();
    assert_eq!(
        (subject(&f1), subject(&f2)),
        (Some("one".into()), Some("two".into()))
    );
    assert!(
        f2.iter().any(|(n, _)| n == "CaseNumber"),
        "`*` sends every field"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn an_answer_without_ack_true_is_resent_and_then_given_up() {
    let (url, got) = listener(0, "<ok/>").await;
    let s = start().await;
    s.set_outbound(fast(&url, &[("Case", &["Subject"])]));
    s.sf_create("Case", json!({"Subject": "never acked"}), None)
        .unwrap();
    eventually(|| s.outbound_stats().failed == 1).await;
    let stats = s.outbound_stats();
    assert_eq!(stats.acked, 0);
    // 20, 40, 80, 80, ... ms within 600 ms: several attempts, not unbounded.
    let n = got.lock().unwrap().len();
    assert!((4..=12).contains(&n), "{n} attempts");
    assert_eq!(stats.redeliveries as usize, n - 1);
    s.shutdown().await;
}

#[tokio::test]
async fn the_admin_endpoint_configures_outbound_messages() {
    let (url, got) = listener(0, ACK).await;
    let s = start().await;
    let admin = format!("{}/__sandbox/outbound", s.salesforce_url());
    let r = client()
        .put(&admin)
        .json(
            &json!({"url": url, "objects": {"Case": ["Subject"]}, "include_session_id": true,
            "retry": {"first_ms": 10, "max_ms": 10, "give_up_ms": 100}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.sf_create("Case", json!({"Subject": "configured"}), None)
        .unwrap();
    eventually(|| !got.lock().unwrap().is_empty()).await;
    let body = got.lock().unwrap()[0].1.clone();
    let doc = roxmltree::Document::parse(&body).unwrap();
    let session = header(&doc, "SessionId").text().unwrap().to_string();
    // The session id is a live token of the org's REST API.
    let r = client()
        .get(format!(
            "{}/services/data/v62.0/sobjects/Case",
            s.salesforce_url()
        ))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    eventually(|| s.outbound_stats().acked == 1).await;
    let (_, v) = common::json(client().get(&admin).send().await.unwrap()).await;
    assert_eq!(v["stats"]["acked"], 1);
    assert_eq!(v["config"]["objects"]["Case"], json!(["Subject"]));
    let r = client()
        .put(&admin)
        .json(&json!({"url": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.shutdown().await;
}
