#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use axum::http::HeaderMap;
use common::{client, eventually, json, start};
use seam_sandbox::{FaultConfig, SandboxConfig, SystemKind, WebhookFaults};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

type Got = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A local receiver that records every POST.
async fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, body: axum::body::Bytes| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push((h, body.to_vec()));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

fn bodies(got: &Got) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect()
}

#[tokio::test]
async fn signed_webhooks_from_both_platforms() {
    let (url, got) = receiver().await;
    let s = start().await;
    s.set_webhook_url(SystemKind::Salesforce, Some(url.clone()));
    // The admin endpoint does the same for ServiceNow.
    let r = client()
        .put(format!("{}/__sandbox/webhook", s.servicenow_url()))
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.sf_create("Case", json!({"Subject": "hooked"}), Some("seam"))
        .unwrap();
    s.snow_create("incident", json!({"short_description": "hooked"}))
        .unwrap();
    eventually(|| got.lock().unwrap().len() == 2).await;
    for (h, body) in got.lock().unwrap().iter() {
        let ts = h["x-seam-timestamp"].to_str().unwrap();
        let sig = h["x-seam-signature"].to_str().unwrap();
        let v: Value = serde_json::from_slice(body).unwrap();
        let secret = if v.get("schema").is_some() {
            "sf-secret"
        } else {
            "snow-secret"
        };
        assert!(seam_sandbox::verify(secret, ts, body, sig), "bad signature");
        assert_eq!(sig, seam_sandbox::sign(secret, ts, body));
        assert!(!seam_sandbox::verify("other", ts, body, sig));
    }
    let b = bodies(&got);
    let sf = b.iter().find(|v| v.get("schema").is_some()).unwrap();
    assert_eq!(
        sf["payload"]["ChangeEventHeader"]["changeOrigin"],
        "com/salesforce/api/rest/62.0;client=seam"
    );
    let sn = b.iter().find(|v| v.get("table").is_some()).unwrap();
    assert_eq!(
        (sn["operation"].as_str(), sn["record"]["number"].as_str()),
        (Some("insert"), Some("INC0010001"))
    );
    assert_eq!(s.webhook_stats(SystemKind::Salesforce).delivered, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn webhook_drop_duplicate_reorder() {
    let (url, got) = receiver().await;
    let mut cfg = common::config();
    cfg.snow_webhook_url = Some(url);
    cfg.snow_faults = FaultConfig {
        webhook: WebhookFaults {
            duplicate_rate: 0.3,
            drop_rate: 0.2,
            reorder_rate: 0.3,
            ..Default::default()
        },
        ..Default::default()
    };
    let s = seam_sandbox::start(cfg).await.unwrap();
    for i in 0..40 {
        s.snow_create("incident", json!({"short_description": format!("n{i}")}))
            .unwrap();
    }
    let stats = || s.webhook_stats(SystemKind::ServiceNow);
    eventually(|| {
        let st = stats();
        st.delivered == st.emitted - st.dropped + st.duplicated
    })
    .await;
    let st = stats();
    assert!(st.dropped > 0 && st.duplicated > 0, "{st:?}");
    let numbers: Vec<String> = bodies(&got)
        .iter()
        .map(|v| v["record"]["number"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_ne!(numbers, sorted, "some events arrive out of order");
    s.shutdown().await;
}

/// The same seed gives the same faults; the platforms answer limits their own way.
#[tokio::test]
async fn faults_are_deterministic_and_platform_shaped() {
    let faults = FaultConfig {
        error_rate: 0.2,
        rate_limit_rate: 0.2,
        retry_after_secs: 7,
        ..Default::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let s = start().await;
        let http = client();
        let creds = s.config.credentials.clone();
        for sys in [
            SystemKind::Salesforce,
            SystemKind::ServiceNow,
            SystemKind::Slack,
        ] {
            s.set_faults(sys, faults.clone());
        }
        let token = s.salesforce_token();
        let mut seen = Vec::new();
        for _ in 0..30 {
            let r = http
                .get(format!(
                    "{}/services/data/v62.0/sobjects",
                    s.salesforce_url()
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            if st == 403 {
                assert!(r.headers().contains_key("sforce-limit-info"));
                assert_eq!(json(r).await.1[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
            }
            seen.push(st);
            let r = http
                .get(format!("{}/api/now/table/incident", s.servicenow_url()))
                .basic_auth(&creds.snow_username, Some(&creds.snow_password))
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            if st == 429 {
                assert_eq!(r.headers()["retry-after"], "7");
                assert!(r.headers().contains_key("x-ratelimit-reset"));
                assert_eq!(json(r).await.1["error"]["message"], "Rate limit exceeded");
            } else if st == 500 {
                assert_eq!(json(r).await.1["status"], "failure");
            }
            seen.push(st);
            let r = http
                .post(format!("{}/api/auth.test", s.slack_url()))
                .bearer_auth(&creds.slack_token)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            if st == 429 {
                assert_eq!(r.headers()["retry-after"], "7");
                assert_eq!(json(r).await.1["error"], "ratelimited");
            }
            seen.push(st);
        }
        assert!(
            seen.contains(&403)
                && seen.contains(&429)
                && seen.contains(&500)
                && seen.contains(&200),
            "{seen:?}"
        );
        runs.push(seen);
        s.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn admin_faults_drop_latency_and_reset() {
    let s = start().await;
    let http = client();
    let base = s.servicenow_url();
    let r = http
        .put(format!("{base}/__sandbox/faults"))
        .json(&json!({"drop_rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/api/now/table/incident"))
        .basic_auth("admin", Some("sandbox-password"))
        .send()
        .await;
    let dropped = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(dropped, "the connection should be dropped");
    let r = http
        .put(format!("{base}/__sandbox/faults"))
        .json(&json!({"latency_ms": 50, "jitter_ms": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = std::time::Instant::now();
    let r = http
        .get(format!("{base}/api/now/table/incident"))
        .basic_auth("admin", Some("sandbox-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed().as_millis() >= 50);
    let (_, v) = json(
        http.get(format!("{base}/__sandbox/faults"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["latency_ms"], 50);
    let r = http
        .put(format!("{base}/__sandbox/faults"))
        .json(&json!({"nonsense": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.set_faults(SystemKind::ServiceNow, FaultConfig::default());

    s.snow_create("incident", json!({"short_description": "gone after reset"}))
        .unwrap();
    s.sf_create("Case", json!({"Subject": "gone after reset"}), None)
        .unwrap();
    let (_, ev) = json(
        http.get(format!("{base}/__sandbox/events"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ev.as_array().unwrap().len(), 1);
    let r = http
        .post(format!("{base}/__sandbox/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(s.snow_records("incident").is_empty());
    assert_eq!(s.sf_records("Case").len(), 1, "reset is per system");
    s.reset();
    assert!(s.sf_records("Case").is_empty());
    assert_eq!(
        s.sf_records("User").len(),
        1,
        "the integration user comes back"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn state_persists_across_restarts() {
    let dir = std::env::temp_dir().join(format!("seam-sandbox-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = || SandboxConfig {
        state_dir: Some(dir.clone()),
        ..common::config()
    };
    let s = seam_sandbox::start(cfg()).await.unwrap();
    let id = s
        .sf_create("Case", json!({"Subject": "kept"}), None)
        .unwrap();
    let sys_id = s
        .snow_create("incident", json!({"short_description": "kept"}))
        .unwrap();
    s.shutdown().await;
    let s = seam_sandbox::start(cfg()).await.unwrap();
    assert_eq!(s.sf_record("Case", &id).unwrap()["Subject"], "kept");
    assert_eq!(
        s.snow_record("incident", &sys_id).unwrap()["short_description"],
        "kept"
    );
    let next = s
        .snow_create("incident", json!({"short_description": "after"}))
        .unwrap();
    assert_eq!(
        s.snow_record("incident", &next).unwrap()["number"],
        "INC0010002"
    );
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tls_with_generated_certificate() {
    let s = seam_sandbox::start(SandboxConfig {
        tls: true,
        ..common::config()
    })
    .await
    .unwrap();
    assert!(s.salesforce_url().starts_with("https://"));
    let pem = std::fs::read(s.cert_path.as_ref().unwrap()).unwrap();
    let cert = reqwest::Certificate::from_pem(&pem).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/services/data/", s.salesforce_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{}/api/now/table/incident", s.servicenow_url()))
        .basic_auth("admin", Some("sandbox-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without trusting the certificate, the handshake fails.
    assert!(client()
        .get(format!("{}/services/data/", s.salesforce_url()))
        .send()
        .await
        .is_err());
    let _ = std::fs::remove_file(s.cert_path.as_ref().unwrap());
    s.shutdown().await;
}

/// Webhooks of different records travel side by side (a receiver that answers slowly sees
/// several at once), while each record's events still arrive in commit order.
#[tokio::test]
async fn webhooks_go_out_concurrently_but_in_order_per_record() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let got: Got = Arc::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (g, f, m) = (got.clone(), in_flight.clone(), most.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, body: axum::body::Bytes| {
            let (g, f, m) = (g.clone(), f.clone(), m.clone());
            async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                g.lock().unwrap().push((h, body.to_vec()));
                f.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let mut cfg = common::config();
    cfg.snow_webhook_url = Some(url);
    let s = seam_sandbox::start(cfg).await.unwrap();
    let ids: Vec<String> = (0..8)
        .map(|i| {
            s.snow_create("incident", json!({"short_description": format!("r{i} v0")}))
                .unwrap()
        })
        .collect();
    let token = s.servicenow_token();
    for v in 1..=5 {
        for id in &ids {
            let r = client()
                .patch(format!(
                    "{}/api/now/table/incident/{id}",
                    s.servicenow_url()
                ))
                .bearer_auth(&token)
                .json(&json!({"short_description": format!("{id} v{v}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
    eventually(|| got.lock().unwrap().len() == 8 * 6).await;
    assert!(
        most.load(Ordering::SeqCst) > 1,
        "deliveries never overlapped"
    );
    for id in &ids {
        let seen: Vec<String> = bodies(&got)
            .iter()
            .filter(|b| b["sys_id"] == id.as_str() && b["operation"] == "update")
            .map(|b| {
                b["record"]["short_description"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let want: Vec<String> = (1..=5).map(|v| format!("{id} v{v}")).collect();
        assert_eq!(seen, want, "events of `{id}` out of order");
    }
    s.shutdown().await;
}

/// A raw watcher gets every committed event as the very bytes the receiver is sent, and it
/// replaces a value watcher (one watcher at a time).
#[tokio::test]
async fn raw_watcher_gets_the_bytes_sent() {
    let (url, got) = receiver().await;
    let s = start().await;
    s.set_webhook_url(SystemKind::ServiceNow, Some(url.clone()));
    s.set_webhook_url(SystemKind::Salesforce, Some(url));
    let mut by_value = s.watch(SystemKind::ServiceNow).unwrap();
    let mut snow = s.watch_raw(SystemKind::ServiceNow).unwrap();
    let mut sf = s.watch_raw(SystemKind::Salesforce).unwrap();
    let id = s
        .snow_create("incident", json!({"short_description": "é \"q\"\n"}))
        .unwrap();
    let r = client()
        .patch(format!(
            "{}/api/now/table/incident/{id}",
            s.servicenow_url()
        ))
        .basic_auth("admin", Some("sandbox-password"))
        .json(&json!({"short_description": "changed", "urgency": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.sf_create("Case", json!({"Subject": "watched"}), None)
        .unwrap();
    eventually(|| got.lock().unwrap().len() == 3).await;
    let sent: Vec<Vec<u8>> = got.lock().unwrap().iter().map(|(_, b)| b.clone()).collect();
    let mut watched = Vec::new();
    for _ in 0..2 {
        let (_, bytes) = snow.try_recv().unwrap();
        watched.push(bytes.to_vec());
    }
    assert!(snow.try_recv().is_err(), "one watched event per commit");
    let (_, case) = sf.try_recv().unwrap();
    watched.push(case.to_vec());
    for w in &watched {
        assert!(sent.contains(w), "watched bytes are the bytes sent");
    }
    // The log holds the same events.
    let log: Vec<Value> = s.events(SystemKind::ServiceNow);
    let parsed: Vec<Value> = watched[..2]
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(log, parsed);
    assert_eq!(parsed[1]["record"]["short_description"], "changed");
    // The value watcher was replaced, so it is closed and got nothing.
    assert!(matches!(
        by_value.try_recv(),
        Err(tokio::sync::mpsc::error::TryRecvError::Disconnected)
    ));
    s.shutdown().await;
}

/// The Salesforce API called in process answers as over HTTP and commits the same change event
/// (same origin, same changed fields), delivered to the webhook.
#[tokio::test]
async fn salesforce_router_in_process_is_the_http_api() {
    use tower::ServiceExt;
    let (url, got) = receiver().await;
    let s = start().await;
    s.set_webhook_url(SystemKind::Salesforce, Some(url));
    let token = s.salesforce_token();
    let a = s.sf_create("Case", json!({"Subject": "a"}), None).unwrap();
    let b = s.sf_create("Case", json!({"Subject": "b"}), None).unwrap();
    let over_http = client()
        .patch(format!(
            "{}/services/data/v62.0/sobjects/Case/{a}",
            s.salesforce_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"Subject": "changed"}))
        .send()
        .await
        .unwrap();
    let req = |id: &str, token: &str| {
        axum::http::Request::builder()
            .method("PATCH")
            .uri(format!("/services/data/v62.0/sobjects/Case/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(r#"{"Subject":"changed"}"#))
            .unwrap()
    };
    let in_process = s
        .salesforce_router()
        .oneshot(req(&b, &token))
        .await
        .unwrap();
    assert_eq!(over_http.status().as_u16(), 204);
    assert_eq!(in_process.status().as_u16(), 204);
    assert_eq!(
        over_http.headers()["sforce-limit-info"].to_str().unwrap(),
        "api-usage=1/100000"
    );
    assert_eq!(
        in_process.headers()["sforce-limit-info"].to_str().unwrap(),
        "api-usage=2/100000"
    );
    assert_eq!(s.sf_record("Case", &b).unwrap()["Subject"], "changed");
    // A bad session is refused in process too.
    let refused = s
        .salesforce_router()
        .oneshot(req(&b, "nope"))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    eventually(|| got.lock().unwrap().len() == 4).await;
    let events = bodies(&got);
    let header = |id: &str| {
        events
            .iter()
            .map(|e| &e["payload"]["ChangeEventHeader"])
            .find(|h| h["changeType"] == "UPDATE" && h["recordIds"][0] == id)
            .unwrap()
            .clone()
    };
    let (ha, hb) = (header(&a), header(&b));
    for key in ["changeOrigin", "changedFields", "entityName", "changeType"] {
        assert_eq!(ha[key], hb[key], "{key}");
    }
    s.shutdown().await;
}
