#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{client, json, start};
use serde_json::{json, Value};

#[tokio::test]
async fn web_api_methods_and_errors() {
    let s = start().await;
    let http = client();
    let token = s.config.credentials.slack_token.clone();
    let call = |m: &str, body: Value| {
        http.post(format!("{}/api/{m}", s.slack_url()))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let (st, v) = json(
        http.post(format!("{}/api/chat.postMessage", s.slack_url()))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v), (200, json!({"ok": false, "error": "not_authed"})));
    let (st, v) = json(
        http.post(format!("{}/api/auth.test", s.slack_url()))
            .bearer_auth("xoxb-bad")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (200, Some("invalid_auth")));

    let (_, v) = json(
        call(
            "conversations.create",
            json!({"name": "inc0010001-printer"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    let id = v["channel"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with('C'));
    let (_, v) = json(
        call(
            "conversations.create",
            json!({"name": "inc0010001-printer"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "name_taken");
    let (_, v) = json(
        call("conversations.create", json!({"name": "Has Spaces"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "invalid_name_specials");
    let (_, v) = json(
        call("conversations.create", json!({"name": ""}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "invalid_name_required");

    let (_, v) = json(
        call(
            "conversations.invite",
            json!({"channel": id, "users": "U0123ABCD,U0456EFGH"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (v["ok"].as_bool(), v["channel"]["num_members"].as_u64()),
        (Some(true), Some(3))
    );
    let (_, v) = json(
        call(
            "conversations.invite",
            json!({"channel": id, "users": "U0123ABCD"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "already_in_channel");
    let (_, v) = json(
        call(
            "conversations.invite",
            json!({"channel": "C999", "users": "U0123ABCD"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "channel_not_found");
    let (_, v) = json(
        call(
            "conversations.invite",
            json!({"channel": id, "users": "nobody"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "user_not_found");

    // Form-encoded, as many clients send it; by name or id.
    let r = http
        .post(format!("{}/api/chat.postMessage", s.slack_url()))
        .bearer_auth(&token)
        .form(&[("channel", "#inc0010001-printer"), ("text", "P1 opened")])
        .send()
        .await
        .unwrap();
    let (_, v) = json(r).await;
    assert_eq!(
        (v["ok"].as_bool(), v["channel"].as_str()),
        (Some(true), Some(id.as_str()))
    );
    let ts = v["ts"].as_str().unwrap().to_string();
    let (_, v) = json(
        call(
            "chat.postMessage",
            json!({"channel": id, "text": "reply", "thread_ts": ts}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["message"]["thread_ts"], ts.as_str());
    let (_, v) = json(
        call("chat.postMessage", json!({"channel": id, "text": "second"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["ok"], true);
    let (_, v) = json(
        call("chat.postMessage", json!({"channel": id}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "no_text");
    let (_, v) = json(
        call("chat.postMessage", json!({"channel": "nope", "text": "x"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "channel_not_found");

    let (_, v) = json(
        call("conversations.history", json!({"channel": id, "limit": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (v["messages"][0]["text"].as_str(), v["has_more"].as_bool()),
        (Some("second"), Some(true))
    );
    let cursor = v["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, v) = json(
        call(
            "conversations.history",
            json!({"channel": id, "limit": 5, "cursor": cursor}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        v["messages"].as_array().unwrap().len(),
        1,
        "thread replies are not in the history: {v}"
    );
    let (_, v) = json(
        call("conversations.list", json!({"limit": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["channels"].as_array().unwrap().len(), 1);
    assert!(!v["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap()
        .is_empty());
    let (_, v) = json(call("no.such", json!({})).await.unwrap()).await;
    assert_eq!(v["error"], "unknown_method");
    assert_eq!(s.slack_messages(&id).len(), 3);

    // Incoming webhook: plain-text answers.
    let r = http
        .post(s.slack_incoming_webhook_url())
        .json(&json!({"text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ok".to_string())
    );
    let r = http
        .post(s.slack_incoming_webhook_url())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (400, "no_text".to_string())
    );
    let bad = format!("{}x", s.slack_incoming_webhook_url());
    let r = http
        .post(bad)
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.slack_messages("general").len(), 1);
    s.shutdown().await;
}
