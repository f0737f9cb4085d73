//! The Slack emulator: Web API methods under `/api/{method}` (`api.test`, `auth.test`,
//! `conversations.create|invite|list|history|info|join`, `chat.postMessage`) with bearer (or
//! `token` parameter) auth, answering `{"ok": false, "error": "…"}` with HTTP 200 as Slack
//! does; and an incoming webhook (`/services/T…/B…/…`) posting to `#general`.

use crate::admin::SystemState;
use crate::faults::{self, FaultAnswers, Faults};
use crate::store::{as_text, Db, Record, Store};
use crate::util::{param, parse_params, same};
use crate::webhook::Webhook;
use crate::{Error, SandboxConfig};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const TEAM: &str = "T0SEAM00001";
const BOT_USER: &str = "U0SEAMBOT01";
const BOT_ID: &str = "B0SEAMBOT01";
const CHANNELS: &str = "channels";
const MEMBERS: &str = "__members";

/// The Slack emulator's state (channels and messages live in the store).
pub struct SlackState {
    pub base_url: String,
    pub store: Store,
    pub faults: Arc<Faults>,
    token: String,
    hook_secret: String,
}

impl SlackState {
    pub fn new(
        config: &SandboxConfig,
        base_url: String,
        dir: Option<&std::path::Path>,
    ) -> Result<SlackState, Error> {
        let s = SlackState {
            base_url,
            store: Store::open(dir, "slack")?,
            faults: Arc::new(Faults::new(
                config.slack_faults.clone(),
                config.seed.wrapping_add(3),
            )),
            token: config.credentials.slack_token.clone(),
            hook_secret: format!(
                "{:024x}",
                config.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u128 | 1 << 90
            ),
        };
        s.seed_general();
        Ok(s)
    }

    pub fn incoming_webhook_path(&self) -> String {
        format!("/services/{TEAM}/{BOT_ID}/{}", self.hook_secret)
    }

    fn seed_general(&self) {
        let mut db = self.store.write();
        if channel_by_name(&db, "general").is_none() {
            let mut c = new_channel(&mut db, "general", false);
            c.insert("is_general".into(), json!(true));
            insert_channel(&mut db, c);
        }
    }

    pub fn channels(&self) -> Vec<Value> {
        let db = self.store.read();
        db.table(CHANNELS)
            .map(|t| t.rows.values().map(public).collect())
            .unwrap_or_default()
    }

    pub fn messages(&self, channel: &str) -> Vec<Value> {
        let db = self.store.read();
        let Some(id) = find_channel(&db, channel) else {
            return Vec::new();
        };
        db.table(&format!("messages/{id}"))
            .map(|t| t.rows.values().map(|m| Value::Object(m.clone())).collect())
            .unwrap_or_default()
    }
}

impl FaultAnswers for SlackState {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn server_error(&self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"ok": false, "error": "internal_error"})),
        )
            .into_response()
    }

    fn rate_limited(&self, retry_after: u64) -> Response {
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            r.headers_mut().insert("Retry-After", v);
        }
        r
    }
}

impl SystemState for SlackState {
    fn store(&self) -> &Store {
        &self.store
    }

    fn webhook(&self) -> Option<&Webhook> {
        None
    }

    fn reset(&self) {
        self.store.reset();
        self.seed_general();
    }
}

pub fn router(state: Arc<SlackState>) -> Router {
    Router::new()
        .route("/api/{method}", any(method))
        .route("/services/{team}/{bot}/{secret}", post(incoming))
        .merge(crate::admin::router::<SlackState>())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::<SlackState>,
        ))
        .with_state(state)
}

fn ok(mut body: Map<String, Value>) -> Response {
    body.insert("ok".into(), json!(true));
    Json(Value::Object(body)).into_response()
}

fn err(code: &str) -> Response {
    Json(json!({"ok": false, "error": code})).into_response()
}

fn public(c: &Record) -> Value {
    let mut c = c.clone();
    let n = c
        .get(MEMBERS)
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    c.remove(MEMBERS);
    c.insert("num_members".into(), json!(n));
    Value::Object(c)
}

fn channel_by_name<'a>(db: &'a Db, name: &str) -> Option<&'a Record> {
    db.table(CHANNELS)?
        .rows
        .values()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// A channel id from an id, a name or `#name`.
fn find_channel(db: &Db, key: &str) -> Option<String> {
    let t = db.table(CHANNELS)?;
    if t.rows.contains_key(key) {
        return Some(key.to_string());
    }
    let name = key.trim_start_matches('#');
    channel_by_name(db, name).and_then(|c| c.get("id").map(as_text))
}

fn new_channel(db: &mut Db, name: &str, private: bool) -> Record {
    let n = db.next("channel", 1);
    let id = format!("C0{:09X}", 0x5EA_0000 + n);
    let now = chrono::Utc::now().timestamp();
    let v = json!({
        "id": id, "name": name, "is_channel": !private, "is_group": private, "is_im": false,
        "is_mpim": false, "is_private": private, "created": now, "is_archived": false,
        "is_general": false, "unlinked": 0, "name_normalized": name, "is_shared": false,
        "is_org_shared": false, "is_ext_shared": false, "is_pending_ext_shared": false,
        "pending_shared": [], "context_team_id": TEAM, "shared_team_ids": [TEAM],
        "parent_conversation": null, "creator": BOT_USER, "is_member": true,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [], MEMBERS: [BOT_USER],
    });
    match v {
        Value::Object(m) => m,
        _ => Record::new(),
    }
}

fn insert_channel(db: &mut Db, c: Record) {
    let id = c.get("id").map(as_text).unwrap_or_default();
    db.table_mut(CHANNELS).rows.insert(id, c);
}

fn next_ts(db: &mut Db) -> String {
    let n = db.next("ts", 1);
    format!("{}.{:06}", chrono::Utc::now().timestamp(), n % 1_000_000)
}

fn post_message(db: &mut Db, channel: &str, text: &str, extra: &[(String, String)]) -> Value {
    let ts = next_ts(db);
    let mut m = json!({
        "type": "message", "subtype": "bot_message", "text": text, "user": BOT_USER,
        "bot_id": BOT_ID, "team": TEAM, "ts": ts,
    });
    if let Some(o) = m.as_object_mut() {
        for (k, v) in extra {
            match k.as_str() {
                "thread_ts" => {
                    o.insert(k.clone(), json!(v));
                }
                "blocks" | "attachments" => {
                    o.insert(k.clone(), serde_json::from_str(v).unwrap_or(json!(v)));
                }
                _ => {}
            }
        }
    }
    if let Value::Object(rec) = &m {
        db.table_mut(&format!("messages/{channel}"))
            .rows
            .insert(ts, rec.clone());
    }
    m
}

fn valid_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("invalid_name_required");
    }
    if name.chars().count() > 80 {
        return Err("invalid_name_maxlength");
    }
    if name.chars().all(|c| c == '-' || c == '_') {
        return Err("invalid_name_punctuation");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err("invalid_name_specials");
    }
    Ok(())
}

fn cursor_of(p: &[(String, String)]) -> usize {
    param(p, "cursor")
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn next_cursor(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{offset}"))
}

fn limit_of(p: &[(String, String)], default: usize) -> usize {
    param(p, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(default)
        .min(1000)
}

async fn method(
    State(sl): State<Arc<SlackState>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    let mut p = crate::util::form_urlencoded(raw.unwrap_or_default().as_bytes());
    p.extend(parse_params(ct, &body));
    let token = crate::util::bearer(&headers)
        .map(str::to_string)
        .or_else(|| param(&p, "token").map(str::to_string));
    if name == "api.test" {
        return ok(Map::new());
    }
    match token {
        None => return err("not_authed"),
        Some(t) if !same(&t, &sl.token) => return err("invalid_auth"),
        Some(_) => {}
    }
    match name.as_str() {
        "auth.test" => ok(obj(json!({
            "url": format!("{}/", sl.base_url), "team": "Seam Sandbox", "user": "seam",
            "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": false,
        }))),
        "conversations.create" => create(&sl, &p),
        "conversations.invite" => invite(&sl, &p),
        "conversations.join" | "conversations.info" => info(&sl, &p),
        "conversations.list" => list(&sl, &p),
        "conversations.history" => history(&sl, &p),
        "chat.postMessage" => post_chat(&sl, &p),
        _ => err("unknown_method"),
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn create(sl: &SlackState, p: &[(String, String)]) -> Response {
    let name = param(p, "name").unwrap_or("");
    if let Err(e) = valid_name(name) {
        return err(e);
    }
    let private = param(p, "is_private") == Some("true");
    let mut db = sl.store.write();
    if channel_by_name(&db, name).is_some() {
        return err("name_taken");
    }
    let c = new_channel(&mut db, name, private);
    let out = public(&c);
    insert_channel(&mut db, c);
    ok(obj(json!({"channel": out})))
}

fn invite(sl: &SlackState, p: &[(String, String)]) -> Response {
    let Some(users) = param(p, "users").filter(|u| !u.is_empty()) else {
        return err("no_user");
    };
    let mut db = sl.store.write();
    let Some(id) = param(p, "channel").and_then(|c| find_channel(&db, c)) else {
        return err("channel_not_found");
    };
    let users: Vec<&str> = users.split(',').map(str::trim).collect();
    for u in &users {
        let valid = (u.starts_with('U') || u.starts_with('W'))
            && u.len() >= 3
            && u.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !valid {
            return err("user_not_found");
        }
        if *u == BOT_USER {
            return err("cant_invite_self");
        }
    }
    let Some(c) = db.table_mut(CHANNELS).rows.get_mut(&id) else {
        return err("channel_not_found");
    };
    let members = c.entry(MEMBERS).or_insert_with(|| json!([]));
    let Value::Array(list) = members else {
        return err("internal_error");
    };
    let before = list.len();
    for u in users {
        if !list.iter().any(|m| m.as_str() == Some(u)) {
            list.push(json!(u));
        }
    }
    if list.len() == before {
        return err("already_in_channel");
    }
    let out = public(c);
    ok(obj(json!({"channel": out})))
}

fn info(sl: &SlackState, p: &[(String, String)]) -> Response {
    let db = sl.store.read();
    match param(p, "channel")
        .and_then(|c| find_channel(&db, c))
        .and_then(|id| db.table(CHANNELS)?.rows.get(&id))
    {
        Some(c) => ok(obj(json!({"channel": public(c)}))),
        None => err("channel_not_found"),
    }
}

fn list(sl: &SlackState, p: &[(String, String)]) -> Response {
    let types = param(p, "types").unwrap_or("public_channel");
    let exclude_archived = param(p, "exclude_archived") == Some("true");
    let db = sl.store.read();
    let all: Vec<Value> = db
        .table(CHANNELS)
        .map(|t| {
            t.rows
                .values()
                .filter(|c| {
                    let private = c
                        .get("is_private")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    (private && types.contains("private_channel"))
                        || (!private && types.contains("public_channel"))
                })
                .filter(|c| {
                    !exclude_archived || c.get("is_archived").and_then(Value::as_bool) != Some(true)
                })
                .map(public)
                .collect()
        })
        .unwrap_or_default();
    let (start, limit) = (cursor_of(p), limit_of(p, 100));
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let next = if start + limit < all.len() {
        next_cursor(start + limit)
    } else {
        String::new()
    };
    ok(obj(
        json!({"channels": page, "response_metadata": {"next_cursor": next}}),
    ))
}

fn history(sl: &SlackState, p: &[(String, String)]) -> Response {
    let db = sl.store.read();
    let Some(id) = param(p, "channel").and_then(|c| find_channel(&db, c)) else {
        return err("channel_not_found");
    };
    let ts_num = |s: &str| s.parse::<f64>().unwrap_or(0.0);
    let oldest = param(p, "oldest").map(ts_num).unwrap_or(0.0);
    let latest = param(p, "latest").map(ts_num).unwrap_or(f64::MAX);
    let mut msgs: Vec<Value> = db
        .table(&format!("messages/{id}"))
        .map(|t| {
            t.rows
                .values()
                .filter(|m| {
                    let ts = m.get("ts").map(as_text).unwrap_or_default();
                    let top = m.get("thread_ts").is_none_or(|t| as_text(t) == ts);
                    let n = ts_num(&ts);
                    top && n >= oldest && n <= latest
                })
                .map(|m| Value::Object(m.clone()))
                .collect()
        })
        .unwrap_or_default();
    msgs.reverse();
    let (start, limit) = (cursor_of(p), limit_of(p, 100));
    let page: Vec<Value> = msgs.iter().skip(start).take(limit).cloned().collect();
    let more = start + limit < msgs.len();
    let next = if more {
        next_cursor(start + limit)
    } else {
        String::new()
    };
    ok(obj(json!({
        "messages": page, "has_more": more, "pin_count": 0,
        "channel_actions_ts": null, "channel_actions_count": 0,
        "response_metadata": {"next_cursor": next},
    })))
}

fn post_chat(sl: &SlackState, p: &[(String, String)]) -> Response {
    let text = param(p, "text").unwrap_or("");
    let has_blocks = param(p, "blocks").is_some_and(|b| !b.is_empty() && b != "[]");
    let has_attachments = param(p, "attachments").is_some_and(|b| !b.is_empty() && b != "[]");
    let mut db = sl.store.write();
    let Some(id) = param(p, "channel").and_then(|c| find_channel(&db, c)) else {
        return err("channel_not_found");
    };
    let member = db
        .table(CHANNELS)
        .and_then(|t| t.rows.get(&id))
        .and_then(|c| c.get(MEMBERS))
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|u| u.as_str() == Some(BOT_USER)));
    if !member {
        return err("not_in_channel");
    }
    if text.is_empty() && !has_blocks && !has_attachments {
        return err("no_text");
    }
    if text.chars().count() > 40_000 {
        return err("msg_too_long");
    }
    if let Some(b) = param(p, "blocks") {
        if !b.is_empty() && !serde_json::from_str::<Value>(b).is_ok_and(|v| v.is_array()) {
            return err("invalid_blocks");
        }
    }
    let extra: Vec<(String, String)> = p
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "thread_ts" | "blocks" | "attachments"))
        .cloned()
        .collect();
    let m = post_message(&mut db, &id, text, &extra);
    let ts = m.get("ts").cloned().unwrap_or(Value::Null);
    ok(obj(json!({"channel": id, "ts": ts, "message": m})))
}

/// `POST /services/T…/B…/secret` with `{"text": …}` (or form `payload=`): 200 `ok`.
async fn incoming(
    State(sl): State<Arc<SlackState>>,
    Path((team, bot, secret)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let plain = |status: StatusCode, text: &'static str| (status, text).into_response();
    if team != TEAM || bot != BOT_ID {
        return plain(StatusCode::NOT_FOUND, "no_service");
    }
    if !same(&secret, &sl.hook_secret) {
        return plain(StatusCode::FORBIDDEN, "invalid_token");
    }
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    let payload: Option<Value> = if ct.is_some_and(|c| c.contains("json")) {
        serde_json::from_slice(&body).ok()
    } else {
        param(&crate::util::form_urlencoded(&body), "payload")
            .and_then(|s| serde_json::from_str(s).ok())
    };
    let Some(Value::Object(payload)) = payload else {
        return plain(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    let text = payload.get("text").map(as_text).unwrap_or_default();
    if text.is_empty() && payload.get("blocks").is_none() {
        return plain(StatusCode::BAD_REQUEST, "no_text");
    }
    let mut db = sl.store.write();
    let Some(id) = find_channel(&db, "general") else {
        return plain(StatusCode::NOT_FOUND, "channel_not_found");
    };
    let extra: Vec<(String, String)> = payload
        .get("blocks")
        .map(|b| vec![("blocks".to_string(), b.to_string())])
        .unwrap_or_default();
    post_message(&mut db, &id, &text, &extra);
    plain(StatusCode::OK, "ok")
}
