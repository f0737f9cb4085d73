//! HTTP clients of the platforms (reqwest with rustls, one pooled client each, timeouts).
//!
//! Every failure is a [`ConnectorError`] that names the system, the operation (method and
//! path, never a credential) and the platform's status, error code and message, and is
//! classified: [`ErrorClass::Retryable`] (5xx, 429 with its `Retry-After`, timeouts, dropped
//! connections), [`ErrorClass::LimitExceeded`] (Salesforce's daily API limit: back off long),
//! or [`ErrorClass::Permanent`] (validation 400s, 300 multiple matches, 404 on write): retrying
//! cannot heal it, so the engine dead-letters at once.
//!
//! The connectors make one attempt per call (after refreshing a token on 401); the engine owns
//! retries, because its retries are durable (the inbox) and re-read the state first.

pub mod salesforce;
pub mod servicenow;
pub mod slack;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// A record as the platforms return it: field name -> JSON value.
pub type Record = Map<String, Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again, after at least `after` when the platform said so.
    Retryable { after: Option<Duration> },
    /// An API allowance is spent: wait long, raise the backlog alarm, do not hammer.
    LimitExceeded,
    /// Retrying cannot help.
    Permanent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorError {
    pub system: String,
    /// `PATCH /api/now/table/incident/…`
    pub operation: String,
    pub status: Option<u16>,
    /// The platform's error code (`REQUIRED_FIELD_MISSING`, `Data Policy Exception`, …).
    pub code: Option<String>,
    pub message: String,
    pub class: ErrorClass,
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.system, self.operation)?;
        if let Some(s) = self.status {
            write!(f, "HTTP {s} ")?;
        }
        if let Some(c) = &self.code {
            write!(f, "{c}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConnectorError {}

impl ConnectorError {
    pub fn retryable(&self) -> bool {
        !matches!(self.class, ErrorClass::Permanent)
    }

    /// A transport failure (no answer, timeout, dropped connection): always retryable.
    pub fn transport(system: &str, operation: String, e: &reqwest::Error) -> ConnectorError {
        // reqwest's Display may include the URL; URLs here carry no credentials.
        ConnectorError {
            system: system.into(),
            operation,
            status: None,
            code: None,
            message: if e.is_timeout() {
                "timed out".into()
            } else {
                format!("no answer: {}", without_url(e))
            },
            class: ErrorClass::Retryable { after: None },
        }
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    let mut last = String::new();
    while let Some(err) = cur {
        last = err.to_string();
        cur = err.source();
    }
    last
}

/// Classifies an HTTP failure by status (the connectors refine it with the body).
pub fn class_of(status: StatusCode, headers: &HeaderMap) -> ErrorClass {
    match status.as_u16() {
        429 => ErrorClass::Retryable {
            after: retry_after(headers),
        },
        408 | 500..=599 => ErrorClass::Retryable { after: None },
        _ => ErrorClass::Permanent,
    }
}

/// `Retry-After: <seconds>`.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The shared HTTP client settings: rustls, pooled connections, timeouts.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .user_agent(concat!("seam/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A platform's base address, parsed once. Each request's URL is a copy of it with the path
/// set, so reqwest does not parse the scheme, host (IDNA) and port of a URL string again for
/// every request (~3% of the runtime's CPU under load). A base that does not parse as a URL
/// with a path (or carries a query or fragment) is kept as text and joined as before, so its
/// requests fail the way they did.
#[derive(Clone, Debug)]
pub struct BaseUrl {
    text: String,
    parsed: Option<reqwest::Url>,
}

impl BaseUrl {
    pub fn new(base: &str) -> BaseUrl {
        let text = base.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&text)
            .ok()
            .filter(|u| !u.cannot_be_a_base() && u.query().is_none() && u.fragment().is_none());
        BaseUrl { text, parsed }
    }

    /// The base as configured, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A request to `path` (starting with `/`) under the base. The path is parsed as a URL
    /// string's path is (percent-encoding, dot segments); record ids and table names carry
    /// no `?` or `#`, the one place where the two differ (here they are encoded).
    pub fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        match &self.parsed {
            Some(base) => {
                let mut url = base.clone();
                let mut full = String::with_capacity(base.path().len() + path.len());
                full.push_str(base.path().trim_end_matches('/'));
                full.push_str(path);
                url.set_path(&full);
                http.request(method, url)
            }
            None => http.request(method, format!("{}{path}", self.text)),
        }
    }
}

/// A value as text, the way both platforms compare it (`null` is `None`).
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        // A ServiceNow reference with its link: the sys_id.
        Value::Object(o) => o.get("value").and_then(as_text),
        Value::Array(_) => Some(v.to_string()),
    }
}

/// A body shortened for an error message.
pub fn snippet(body: &str) -> String {
    let s: String = body.chars().take(300).collect();
    if s.len() < body.len() {
        format!("{s}…")
    } else {
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::BaseUrl;

    /// The URL of a request under a parsed base is the one the joined string parsed to.
    #[test]
    fn a_base_url_joins_as_the_joined_string_parses() {
        let http = reqwest::Client::new();
        let bases = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "https://acme.my.salesforce.com",
            "https://Example.COM:443/prefix/",
            "https://bücher.example/api",
            "http://[::1]:9000/x",
        ];
        let paths = [
            "/services/data/v62.0/sobjects/Case/500AA000000abcdEAA",
            "/api/now/table/incident/0123456789abcdef0123456789abcdef",
            "/api/now/table/u_odd table/an id ü%41/./x/../y",
            "/services/data/v62.0/query",
        ];
        for base in bases {
            let b = BaseUrl::new(base);
            assert!(b.parsed.is_some(), "{base}");
            for path in paths {
                let built = b
                    .request(&http, reqwest::Method::GET, path)
                    .query(&[("fields", "Subject,Status")])
                    .build()
                    .unwrap();
                let old = http
                    .get(format!("{}{path}", base.trim_end_matches('/')))
                    .query(&[("fields", "Subject,Status")])
                    .build()
                    .unwrap();
                assert_eq!(built.url().as_str(), old.url().as_str(), "{base} {path}");
            }
        }
    }

    /// A base that is no URL still yields the old request (which fails when sent, as before).
    #[test]
    fn a_base_that_does_not_parse_is_joined_as_text() {
        let http = reqwest::Client::new();
        for base in ["not a url", "mailto:someone@example.com", "http://h/?q=1"] {
            let b = BaseUrl::new(base);
            assert!(b.parsed.is_none(), "{base}");
            let built = b.request(&http, reqwest::Method::GET, "/api/x").build();
            let old = http.get(format!("{base}/api/x")).build();
            assert_eq!(
                built.as_ref().map(|r| r.url().to_string()).ok(),
                old.as_ref().map(|r| r.url().to_string()).ok(),
                "{base}"
            );
        }
    }
}
