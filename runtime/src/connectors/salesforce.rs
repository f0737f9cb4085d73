//! Salesforce REST: OAuth client-credentials token (fetched lazily, refreshed once on 401),
//! sObject GET/PATCH/POST, SOQL. Every write carries `Sforce-Call-Options: client=<id>` so its
//! change event names us in `changeOrigin` and is recognised as an echo.
//!
//! Errors keep the platform's `errorCode` and message; `REQUEST_LIMIT_EXCEEDED` is
//! [`ErrorClass::LimitExceeded`], `300 Multiple Choices` (an upsert key matching several
//! records) and validation 400s are permanent.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::sync::RwLock;

use super::{class_of, snippet, BaseUrl, ConnectorError, ErrorClass, Record};

pub const API_VERSION: &str = "v62.0";

pub struct SalesforceClient {
    alias: String,
    http: reqwest::Client,
    base: BaseUrl,
    client_id: String,
    client_secret: String,
    /// The `Sforce-Call-Options` client id of our writes.
    call_client: String,
    token: RwLock<Option<String>>,
}

impl std::fmt::Debug for SalesforceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceClient")
            .field("alias", &self.alias)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl SalesforceClient {
    pub fn new(
        alias: &str,
        http: reqwest::Client,
        base: &str,
        client_id: String,
        client_secret: String,
        call_client: String,
    ) -> SalesforceClient {
        SalesforceClient {
            alias: alias.into(),
            http,
            base: BaseUrl::new(base),
            client_id,
            client_secret,
            call_client,
            token: RwLock::new(None),
        }
    }

    fn err(
        &self,
        op: &str,
        status: Option<u16>,
        code: Option<String>,
        message: String,
        class: ErrorClass,
    ) -> ConnectorError {
        ConnectorError {
            system: self.alias.clone(),
            operation: op.into(),
            status,
            code,
            message,
            class,
        }
    }

    async fn fetch_token(&self) -> Result<String, ConnectorError> {
        let op = "POST /services/oauth2/token";
        let resp = self
            .base
            .request(&self.http, Method::POST, "/services/oauth2/token")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| ConnectorError::transport(&self.alias, op.into(), &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let code = body.get("error").and_then(Value::as_str).map(String::from);
            let message = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("token request refused")
                .to_string();
            let class = match status.as_u16() {
                400 | 401 => ErrorClass::Permanent,
                _ => class_of(status, &headers),
            };
            return Err(self.err(op, Some(status.as_u16()), code, message, class));
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                self.err(
                    op,
                    Some(status.as_u16()),
                    None,
                    "no access_token in the answer".into(),
                    ErrorClass::Retryable { after: None },
                )
            })?
            .to_string();
        *self.token.write().await = Some(token.clone());
        Ok(token)
    }

    async fn token(&self) -> Result<String, ConnectorError> {
        if let Some(t) = self.token.read().await.as_ref() {
            return Ok(t.clone());
        }
        self.fetch_token().await
    }

    /// Sends a request built by `build` with the bearer token; refreshes the token once on 401.
    async fn send(
        &self,
        op: &str,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<(StatusCode, String), ConnectorError> {
        let mut token = self.token().await?;
        for attempt in 0..2 {
            let resp = build(&token)
                .send()
                .await
                .map_err(|e| ConnectorError::transport(&self.alias, op.into(), &e))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                token = self.fetch_token().await?;
                continue;
            }
            // The headers matter only to classify a failure (`Retry-After`).
            let headers = (!status.is_success()).then(|| resp.headers().clone());
            let body = resp
                .text()
                .await
                .map_err(|e| ConnectorError::transport(&self.alias, op.into(), &e))?;
            if status.is_success() || status == StatusCode::NOT_FOUND && op.starts_with("GET") {
                return Ok((status, body));
            }
            let headers = headers.unwrap_or_default();
            return Err(self.platform_error(op, status, &headers, &body));
        }
        Err(self.err(
            op,
            Some(401),
            Some("INVALID_SESSION_ID".into()),
            "the session is refused even after a new token".into(),
            ErrorClass::Permanent,
        ))
    }

    fn platform_error(
        &self,
        op: &str,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &str,
    ) -> ConnectorError {
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let first = parsed.get(0).or(Some(&parsed));
        let code = first
            .and_then(|e| e.get("errorCode"))
            .and_then(Value::as_str)
            .map(String::from);
        let message = first
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| snippet(body));
        let class = if code.as_deref() == Some("REQUEST_LIMIT_EXCEEDED") {
            ErrorClass::LimitExceeded
        } else if status == StatusCode::MULTIPLE_CHOICES {
            ErrorClass::Permanent
        } else {
            class_of(status, headers)
        };
        self.err(op, Some(status.as_u16()), code, message, class)
    }

    /// A request to `/services/data/<version>/<path>`.
    fn data(&self, method: Method, path: &str) -> RequestBuilder {
        self.base.request(
            &self.http,
            method,
            &format!("/services/data/{API_VERSION}/{path}"),
        )
    }

    /// One record's fields, or `None` when it does not exist.
    pub async fn get(
        &self,
        object: &str,
        id: &str,
        fields: &[&str],
    ) -> Result<Option<Record>, ConnectorError> {
        let op = format!("GET sobjects/{object}/{id}");
        let path = format!("sobjects/{object}/{id}");
        let list = fields.join(",");
        let (status, body) = self
            .send(&op, |t| {
                self.data(Method::GET, &path)
                    .bearer_auth(t)
                    .query(&[("fields", &list)])
            })
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.record(&op, &body).map(Some)
    }

    fn record(&self, op: &str, body: &str) -> Result<Record, ConnectorError> {
        match serde_json::from_str(body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(self.err(
                op,
                None,
                None,
                format!("the answer is not a JSON object: {}", snippet(body)),
                ErrorClass::Retryable { after: None },
            )),
        }
    }

    fn write(&self, method: Method, path: &str, token: &str, fields: &Value) -> RequestBuilder {
        self.data(method, path)
            .bearer_auth(token)
            .header(
                "Sforce-Call-Options",
                format!("client={}", self.call_client),
            )
            .json(fields)
    }

    pub async fn update(
        &self,
        object: &str,
        id: &str,
        fields: &Record,
    ) -> Result<(), ConnectorError> {
        let op = format!("PATCH sobjects/{object}/{id}");
        let path = format!("sobjects/{object}/{id}");
        let body = Value::Object(fields.clone());
        self.send(&op, |t| self.write(Method::PATCH, &path, t, &body))
            .await?;
        Ok(())
    }

    /// Creates a record; returns its id.
    pub async fn create(&self, object: &str, fields: &Record) -> Result<String, ConnectorError> {
        let op = format!("POST sobjects/{object}");
        let path = format!("sobjects/{object}");
        let body = Value::Object(fields.clone());
        let (_, answer) = self
            .send(&op, |t| self.write(Method::POST, &path, t, &body))
            .await?;
        let rec = self.record(&op, &answer)?;
        rec.get("id")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| {
                self.err(
                    &op,
                    None,
                    None,
                    "no id in the answer".into(),
                    ErrorClass::Permanent,
                )
            })
    }

    /// A SOQL query's records (first batch; the link-key lookups need one or two rows).
    pub async fn query(&self, soql: &str) -> Result<Vec<Record>, ConnectorError> {
        let op = "GET query".to_string();
        let (_, body) = self
            .send(&op, |t| {
                self.data(Method::GET, "query")
                    .bearer_auth(t)
                    .query(&[("q", soql)])
            })
            .await?;
        let v: Value = serde_json::from_str(&body).unwrap_or(json!({}));
        Ok(v.get("records")
            .and_then(Value::as_array)
            .map(|rs| rs.iter().filter_map(|r| r.as_object().cloned()).collect())
            .unwrap_or_default())
    }
}

/// A SOQL string literal: quotes and backslashes escaped.
pub fn soql_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}
