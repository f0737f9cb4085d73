//! Slack Web API with a bot token: `chat.postMessage` and `conversations.create`. Slack answers
//! errors with HTTP 200 and `{"ok": false, "error": …}`; those are permanent except
//! `ratelimited` (429 with `Retry-After`). Used by workflows and alerts (not yet wired).

use serde_json::{json, Value};

use super::{class_of, ConnectorError, ErrorClass};

pub struct SlackClient {
    alias: String,
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("alias", &self.alias)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl SlackClient {
    pub fn new(alias: &str, http: reqwest::Client, base: &str, token: String) -> SlackClient {
        SlackClient {
            alias: alias.into(),
            http,
            base: base.trim_end_matches('/').into(),
            token,
        }
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, ConnectorError> {
        let op = format!("POST /api/{method}");
        let resp = self
            .http
            .post(format!("{}/api/{method}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| ConnectorError::transport(&self.alias, op.clone(), &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        let ok = answer.get("ok").and_then(Value::as_bool) == Some(true);
        if status.is_success() && ok {
            return Ok(answer);
        }
        let code = answer
            .get("error")
            .and_then(Value::as_str)
            .map(String::from);
        Err(ConnectorError {
            system: self.alias.clone(),
            operation: op,
            status: Some(status.as_u16()),
            message: code
                .clone()
                .unwrap_or_else(|| "Slack refused the call".into()),
            class: if status.is_success() {
                ErrorClass::Permanent
            } else {
                class_of(status, &headers)
            },
            code,
        })
    }

    /// Posts a message; returns its `ts`.
    pub async fn post_message(&self, channel: &str, text: &str) -> Result<String, ConnectorError> {
        let answer = self
            .call(
                "chat.postMessage",
                json!({"channel": channel, "text": text}),
            )
            .await?;
        Ok(answer
            .get("ts")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// Creates a channel; returns its id.
    pub async fn create_channel(&self, name: &str) -> Result<String, ConnectorError> {
        let answer = self
            .call("conversations.create", json!({"name": name}))
            .await?;
        Ok(answer
            .pointer("/channel/id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }
}
