//! Slack Web API with a bot token: `conversations.create|list|join|invite|history` and
//! `chat.postMessage`. Slack answers errors with HTTP 200 and `{"ok": false, "error": …}`;
//! those are permanent except `ratelimited` (429 with `Retry-After`) and 5xx. Write methods
//! send JSON bodies; read methods (`conversations.list`, `conversations.history`) send their
//! arguments as GET query parameters, which every method accepts (JSON bodies are documented
//! for write methods only). Used by workflow steps and policy alerts.

use serde_json::{json, Value};

use super::{class_of, BaseUrl, ConnectorError, ErrorClass};

pub struct SlackClient {
    alias: String,
    http: reqwest::Client,
    base: BaseUrl,
    token: String,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("alias", &self.alias)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl SlackClient {
    pub fn new(alias: &str, http: reqwest::Client, base: &str, token: String) -> SlackClient {
        SlackClient {
            alias: alias.into(),
            http,
            base: BaseUrl::new(base),
            token,
        }
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, ConnectorError> {
        let req = self
            .base
            .request(&self.http, reqwest::Method::POST, &format!("/api/{method}"))
            .json(&body);
        self.send(format!("POST /api/{method}"), req).await
    }

    async fn read(&self, method: &str, query: &[(&str, &str)]) -> Result<Value, ConnectorError> {
        let req = self
            .base
            .request(&self.http, reqwest::Method::GET, &format!("/api/{method}"))
            .query(query);
        self.send(format!("GET /api/{method}"), req).await
    }

    async fn send(
        &self,
        op: String,
        req: reqwest::RequestBuilder,
    ) -> Result<Value, ConnectorError> {
        let resp = req
            .bearer_auth(&self.token)
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
        answer
            .pointer("/channel/id")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| ConnectorError {
                system: self.alias.clone(),
                operation: "POST /api/conversations.create".into(),
                status: None,
                code: None,
                message: "the answer has no `channel.id`".into(),
                class: ErrorClass::Retryable { after: None },
            })
    }

    /// The id of the channel called `name` (without `#`), if the bot can see it.
    pub async fn find_channel(&self, name: &str) -> Result<Option<String>, ConnectorError> {
        let name = name.trim_start_matches('#');
        let mut cursor = String::new();
        // INVARIANT: a bounded walk; 100 pages of 200 channels is a large workspace.
        for _ in 0..100 {
            let answer = self
                .read(
                    "conversations.list",
                    &[
                        ("types", "public_channel,private_channel"),
                        ("exclude_archived", "true"),
                        ("limit", "200"),
                        ("cursor", cursor.as_str()),
                    ],
                )
                .await?;
            let found = answer
                .get("channels")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
                })
                .and_then(|c| c.get("id"))
                .and_then(Value::as_str);
            if let Some(id) = found {
                return Ok(Some(id.to_string()));
            }
            match answer
                .pointer("/response_metadata/next_cursor")
                .and_then(Value::as_str)
            {
                Some(next) if !next.is_empty() => cursor = next.to_string(),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Joins a public channel (a no-op when already in it).
    pub async fn join(&self, channel: &str) -> Result<(), ConnectorError> {
        self.call("conversations.join", json!({"channel": channel}))
            .await
            .map(|_| ())
    }

    /// Invites users (comma-separated ids); users already in the channel are fine.
    pub async fn invite(&self, channel: &str, users: &str) -> Result<(), ConnectorError> {
        match self
            .call(
                "conversations.invite",
                json!({"channel": channel, "users": users}),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code.as_deref() == Some("already_in_channel") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The `ts` of a top-level message in `channel` with exactly this text, posted at or after
    /// `oldest` (Unix seconds): how an interrupted post is recognised instead of repeated.
    pub async fn find_message(
        &self,
        channel: &str,
        text: &str,
        oldest: i64,
    ) -> Result<Option<String>, ConnectorError> {
        let oldest = oldest.max(0).to_string();
        let answer = self
            .read(
                "conversations.history",
                &[
                    ("channel", channel),
                    ("oldest", oldest.as_str()),
                    ("limit", "200"),
                ],
            )
            .await?;
        Ok(answer
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|ms| {
                ms.iter()
                    .find(|m| m.get("text").and_then(Value::as_str) == Some(text))
            })
            .and_then(|m| m.get("ts"))
            .and_then(Value::as_str)
            .map(String::from))
    }
}
