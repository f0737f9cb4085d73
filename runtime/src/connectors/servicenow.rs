//! ServiceNow Table API with basic auth: GET one, GET list with `sysparm_query`, PATCH, POST.
//! References are read as plain sys_ids (`sysparm_exclude_reference_link=true`), or with their
//! display values (`sysparm_display_value=all`) when a mapping carries them across. Errors keep
//! the platform's `error.message` and `error.detail`; 429 honours `Retry-After`.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use super::{class_of, snippet, BaseUrl, ConnectorError, ErrorClass, Record};

pub struct ServiceNowClient {
    alias: String,
    http: reqwest::Client,
    base: BaseUrl,
    user: String,
    password: String,
}

impl std::fmt::Debug for ServiceNowClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNowClient")
            .field("alias", &self.alias)
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ServiceNowClient {
    pub fn new(
        alias: &str,
        http: reqwest::Client,
        base: &str,
        user: String,
        password: String,
    ) -> ServiceNowClient {
        ServiceNowClient {
            alias: alias.into(),
            http,
            base: BaseUrl::new(base),
            user,
            password,
        }
    }

    /// The user our writes are made as (what `sys_updated_by` says of them).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// A request to the table (`id`: one record of it).
    fn table(&self, method: Method, table: &str, id: Option<&str>) -> RequestBuilder {
        let path = match id {
            Some(id) => format!("/api/now/table/{table}/{id}"),
            None => format!("/api/now/table/{table}"),
        };
        self.base.request(&self.http, method, &path)
    }

    async fn send(
        &self,
        op: &str,
        req: RequestBuilder,
    ) -> Result<(StatusCode, Value), ConnectorError> {
        let resp = req
            .basic_auth(&self.user, Some(&self.password))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| ConnectorError::transport(&self.alias, op.into(), &e))?;
        let status = resp.status();
        // The headers matter only to classify a failure (`Retry-After`).
        let headers = (!status.is_success()).then(|| resp.headers().clone());
        let text = resp
            .text()
            .await
            .map_err(|e| ConnectorError::transport(&self.alias, op.into(), &e))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() || (status == StatusCode::NOT_FOUND && op.starts_with("GET")) {
            return Ok((status, body));
        }
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| snippet(&text));
        let detail = body.pointer("/error/detail").and_then(Value::as_str);
        Err(ConnectorError {
            system: self.alias.clone(),
            operation: op.into(),
            status: Some(status.as_u16()),
            code: None,
            message: match detail {
                Some(d) if !d.is_empty() => format!("{message} ({d})"),
                _ => message,
            },
            class: class_of(status, &headers.unwrap_or_default()),
        })
    }

    fn result(&self, op: &str, body: Value) -> Result<Record, ConnectorError> {
        match body {
            Value::Object(mut m) => match m.remove("result") {
                Some(Value::Object(r)) => Ok(r),
                _ => Err(self.bad_answer(op)),
            },
            _ => Err(self.bad_answer(op)),
        }
    }

    fn bad_answer(&self, op: &str) -> ConnectorError {
        ConnectorError {
            system: self.alias.clone(),
            operation: op.into(),
            status: None,
            code: None,
            message: "the answer has no `result` object".into(),
            class: ErrorClass::Retryable { after: None },
        }
    }

    pub async fn get(
        &self,
        table: &str,
        sys_id: &str,
        fields: &[&str],
    ) -> Result<Option<Record>, ConnectorError> {
        self.get_with(table, sys_id, fields, false).await
    }

    /// One record; `display`: every field comes as `{"display_value", "value"}`
    /// (`sysparm_display_value=all`), so a reference carries the referenced record's display
    /// value beside its sys_id. `fields` may be dot-walked (`company.u_customer_key`).
    pub async fn get_with(
        &self,
        table: &str,
        sys_id: &str,
        fields: &[&str],
        display: bool,
    ) -> Result<Option<Record>, ConnectorError> {
        let op = format!("GET {table}/{sys_id}");
        let shown = if display { "all" } else { "false" };
        let req = self.table(Method::GET, table, Some(sys_id)).query(&[
            ("sysparm_fields", fields.join(",").as_str()),
            ("sysparm_exclude_reference_link", "true"),
            ("sysparm_display_value", shown),
        ]);
        let (status, body) = self.send(&op, req).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.result(&op, body).map(Some)
    }

    /// Records matching an encoded query (`correlation_id=500…`).
    pub async fn query(
        &self,
        table: &str,
        query: &str,
        fields: &[&str],
        limit: u32,
    ) -> Result<Vec<Record>, ConnectorError> {
        let op = format!("GET {table}?sysparm_query");
        let req = self.table(Method::GET, table, None).query(&[
            ("sysparm_query", query),
            ("sysparm_fields", fields.join(",").as_str()),
            ("sysparm_limit", limit.to_string().as_str()),
            ("sysparm_exclude_reference_link", "true"),
        ]);
        let (_, body) = self.send(&op, req).await?;
        Ok(body
            .get("result")
            .and_then(Value::as_array)
            .map(|rs| rs.iter().filter_map(|r| r.as_object().cloned()).collect())
            .unwrap_or_default())
    }

    /// Updates a record; the answer carries only its `sys_id` (`sysparm_fields`): nothing
    /// reads the rest, and the whole record would cost both sides a serialization per write.
    pub async fn update(
        &self,
        table: &str,
        sys_id: &str,
        fields: &Record,
    ) -> Result<Record, ConnectorError> {
        let op = format!("PATCH {table}/{sys_id}");
        let req = self
            .table(Method::PATCH, table, Some(sys_id))
            .query(&[
                ("sysparm_exclude_reference_link", "true"),
                ("sysparm_fields", "sys_id"),
            ])
            .json(fields);
        let (_, body) = self.send(&op, req).await?;
        self.result(&op, body)
    }

    /// Creates a record; returns it as stored (with `sys_id` and `number`).
    pub async fn create(&self, table: &str, fields: &Record) -> Result<Record, ConnectorError> {
        let op = format!("POST {table}");
        let req = self
            .table(Method::POST, table, None)
            .query(&[("sysparm_exclude_reference_link", "true")])
            .json(fields);
        let (_, body) = self.send(&op, req).await?;
        self.result(&op, body)
    }
}

/// A value safe inside an encoded query: `^` separates terms, so it is refused.
pub fn query_value(s: &str) -> Option<&str> {
    (!s.contains('^') && !s.contains('\n')).then_some(s)
}
