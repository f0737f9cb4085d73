//! Small helpers shared by the emulators: time formats, ids, auth headers.

use axum::http::HeaderMap;
use base64::Engine;
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rand::Rng;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::LazyLock;

/// Random lowercase hex (tokens, secrets). Not seeded: secrets must not be predictable.
pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

/// `127.0.0.1:8701`, with an unspecified bind address shown as loopback.
pub fn display_addr(a: SocketAddr) -> String {
    if a.ip().is_unspecified() {
        format!("127.0.0.1:{}", a.port())
    } else {
        a.to_string()
    }
}

const SF_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.3f+0000";
const SN_DATETIME: &str = "%Y-%m-%d %H:%M:%S";

/// A strftime format parsed once (every write stamps a record: `format` would parse the
/// format string again each time).
fn parsed(format: &'static str) -> Vec<Item<'static>> {
    StrftimeItems::new(format).parse().unwrap_or_default()
}

static SF_ITEMS: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| parsed(SF_DATETIME));
static SN_ITEMS: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| parsed(SN_DATETIME));

fn format_items(t: DateTime<Utc>, items: &[Item<'static>], len: usize) -> String {
    let mut out = String::with_capacity(len);
    let _ = write!(out, "{}", t.format_with_items(items.iter()));
    out
}

/// Salesforce REST date-time: `2013-05-20T20:49:32.000+0000`.
pub fn sf_datetime(t: DateTime<Utc>) -> String {
    format_items(t, &SF_ITEMS, 28)
}

/// ServiceNow date-time: `2015-11-01 22:37:27` (UTC).
pub fn sn_datetime(t: DateTime<Utc>) -> String {
    format_items(t, &SN_ITEMS, 19)
}

/// Parses the date-time shapes clients send (RFC 3339, Salesforce's `+0000`, ServiceNow's
/// `YYYY-MM-DD HH:MM:SS`, a bare date).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
        Some(rest.trim())
    } else {
        None
    }
}

/// The user and password of a Basic authorization header.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Constant-time string comparison for secrets.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Form or JSON request body as a flat string map (OAuth endpoints, Slack).
pub fn parse_params(content_type: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let is_json = content_type.is_some_and(|c| c.contains("json"));
    if is_json {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(body) {
            return m
                .into_iter()
                .map(|(k, v)| (k, crate::store::as_text(&v)))
                .collect();
        }
        return Vec::new();
    }
    form_urlencoded(body)
}

/// `a=1&b=x+y` into pairs, percent-decoded.
pub fn form_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'+' | b'%')) {
        // Nothing to decode (nearly every parameter): the text as it is.
        return s.to_string();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'+') => out.push(b' '),
            Some(b'%') => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            Some(b) => out.push(*b),
            None => break,
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// First value of a parameter.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoding as it was before the fast path and the copy-free ending.
    fn percent_decode_before(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes.get(i) {
                Some(b'+') => out.push(b' '),
                Some(b'%') => {
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                Some(b) => out.push(*b),
                None => break,
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn datetimes_are_formatted_as_before() {
        use chrono::TimeZone;
        let base = Utc.with_ymd_and_hms(2013, 5, 20, 20, 49, 32).unwrap();
        let instants = [
            Utc::now(),
            DateTime::<Utc>::UNIX_EPOCH,
            base,
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            base + chrono::Duration::nanoseconds(999_999_999),
            base + chrono::Duration::milliseconds(7),
        ];
        for t in instants {
            assert_eq!(sf_datetime(t), t.format(SF_DATETIME).to_string());
            assert_eq!(sn_datetime(t), t.format(SN_DATETIME).to_string());
        }
        assert_eq!(
            sf_datetime(Utc.with_ymd_and_hms(2013, 5, 20, 20, 49, 32).unwrap()),
            "2013-05-20T20:49:32.000+0000"
        );
    }

    #[test]
    fn percent_decode_is_unchanged() {
        for s in [
            "",
            "plain",
            "AccountId,Description,Id,Priority,Subject,Type",
            "a+b",
            "100%",
            "%2",
            "%zz%41",
            "%C3%A9t%C3%A9",
            "%FF%FE",
            "%C3",
            "Z%C3%BCrich+%E2%80%94",
            "é ü — ✓",
            "%E2%80",
        ] {
            assert_eq!(percent_decode(s), percent_decode_before(s), "{s:?}");
        }
    }
}
