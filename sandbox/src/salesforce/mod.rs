//! The Salesforce emulator: OAuth token endpoint, REST API under `/services/data/vNN.N/`
//! (sObject CRUD, upsert by external id, describe, SOQL query with paging), error arrays,
//! `Sforce-Limit-Info`, Change Data Capture events sent as signed webhooks, and Outbound
//! Messages (SOAP) sent until acknowledged.

mod auth;
mod events;
pub mod outbound;
mod query;
mod sobjects;

use crate::admin::{self, SystemState};
use crate::faults::{self, FaultAnswers, Faults};
use crate::store::{Record, Store};
use crate::webhook::Webhook;
use crate::{Error, SandboxConfig};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use seam_compiler::catalog::{FieldDef, FieldType, ObjectDef, SystemKind};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use sobjects::sf_id;

/// Lowest and highest API versions served (`vNN.N`).
pub const MIN_VERSION: f64 = 20.0;
pub const MAX_VERSION: f64 = 66.0;

/// One served object: its catalogue definition plus the audit fields every sObject has.
#[derive(Debug)]
pub struct ObjMeta {
    pub def: ObjectDef,
    pub key_prefix: String,
    by_lower: HashMap<String, usize>,
    /// Each field's own spelling to what `by_lower` finds for it, so a name spelled as
    /// declared (nearly every request) is found without lower-casing a copy of it.
    by_name: HashMap<String, usize>,
    /// Every field name once, in byte order (how a record with all its fields is shown).
    pub sorted_names: Vec<String>,
    /// Auto-number: field, text before the digits, digit count, text after.
    pub auto: Option<(String, String, usize, String)>,
}

impl ObjMeta {
    fn new(mut def: ObjectDef, fallback_prefix: String) -> ObjMeta {
        if let Some((auto, _)) = &def.auto_number {
            if def.field(auto).is_none() {
                let f = FieldDef::new(auto, auto, FieldType::text_n(30))
                    .read_only()
                    .unique();
                def.fields.push(f);
            }
        }
        for f in system_fields() {
            if def.field(&f.name).is_none() {
                def.fields.push(f);
            }
        }
        let by_lower: HashMap<String, usize> = def
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
            .collect();
        let by_name = def
            .fields
            .iter()
            .filter_map(|f| {
                let i = by_lower.get(&f.name.to_ascii_lowercase())?;
                Some((f.name.clone(), *i))
            })
            .collect();
        let auto = def.auto_number.as_ref().map(|(field, format)| {
            let (pre, rest) = format.split_once('{').unwrap_or(("", format));
            let (digits, post) = rest.split_once('}').unwrap_or((rest, ""));
            (
                field.clone(),
                pre.to_string(),
                digits.len().max(1),
                post.to_string(),
            )
        });
        let mut sorted_names: Vec<String> = def.fields.iter().map(|f| f.name.clone()).collect();
        sorted_names.sort();
        sorted_names.dedup();
        ObjMeta {
            sorted_names,
            key_prefix: def.key_prefix.clone().unwrap_or(fallback_prefix),
            def,
            by_lower,
            by_name,
            auto,
        }
    }

    /// A field by name, case-insensitively (as Salesforce resolves them).
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.by_name
            .get(name)
            .or_else(|| self.by_lower.get(&name.to_ascii_lowercase()))
            .and_then(|i| self.def.fields.get(*i))
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }
}

/// The audit fields the platform maintains on every object.
fn system_fields() -> Vec<FieldDef> {
    let user = || FieldType::reference("User");
    vec![
        FieldDef::new("Id", "Record ID", FieldType::Id).read_only(),
        FieldDef::new("IsDeleted", "Deleted", FieldType::Bool).read_only(),
        FieldDef::new("CreatedDate", "Created Date", FieldType::Datetime).read_only(),
        FieldDef::new("CreatedById", "Created By ID", user())
            .read_only()
            .relationship("CreatedBy"),
        FieldDef::new(
            "LastModifiedDate",
            "Last Modified Date",
            FieldType::Datetime,
        )
        .read_only(),
        FieldDef::new("LastModifiedById", "Last Modified By ID", user())
            .read_only()
            .relationship("LastModifiedBy"),
        FieldDef::new("SystemModstamp", "System Modstamp", FieldType::Datetime).read_only(),
    ]
}

/// The Salesforce emulator's state.
pub struct SfState {
    pub base_url: String,
    pub store: Store,
    pub faults: Arc<Faults>,
    pub webhook: Webhook,
    pub outbound: outbound::Outbound,
    objects: HashMap<String, Arc<ObjMeta>>,
    names: Vec<String>,
    creds: crate::Credentials,
    tokens: RwLock<HashSet<String>>,
    api_usage: AtomicU64,
    api_limit: u64,
    cursors: Mutex<VecDeque<(String, Vec<Value>)>>,
    pub org_id: String,
    pub user_id: String,
}

impl SfState {
    pub fn new(
        config: &SandboxConfig,
        base_url: String,
        dir: Option<&Path>,
    ) -> Result<SfState, Error> {
        let faults = Arc::new(Faults::new(config.sf_faults.clone(), config.seed));
        let webhook = Webhook::start(
            config.sf_webhook_url.clone(),
            config.sf_webhook_secret.clone(),
            faults.clone(),
        );
        let mut objects = HashMap::new();
        let mut names = Vec::new();
        for (i, name) in config
            .catalog
            .object_names(SystemKind::Salesforce)
            .into_iter()
            .enumerate()
        {
            if let Some(def) = config.catalog.object(SystemKind::Salesforce, name) {
                let meta = ObjMeta::new(def.clone(), format!("a{:02}", i % 100));
                objects.insert(name.to_ascii_lowercase(), Arc::new(meta));
                names.push(name.to_string());
            }
        }
        let org_id = sf_id("00D", 1);
        let outbound = outbound::Outbound::start(
            config.sf_outbound.clone(),
            faults.clone(),
            org_id.clone(),
            base_url.clone(),
        );
        let state = SfState {
            outbound,
            base_url,
            store: Store::open(dir, "salesforce")?,
            faults,
            webhook,
            objects,
            names,
            creds: config.credentials.clone(),
            tokens: RwLock::new(HashSet::new()),
            api_usage: AtomicU64::new(0),
            api_limit: config.sf_api_limit,
            cursors: Mutex::new(VecDeque::new()),
            org_id,
            user_id: sf_id("005", 1),
        };
        state.seed_user();
        Ok(state)
    }

    /// The integration user exists as a `User` record when the catalogue has `User`.
    fn seed_user(&self) {
        if self.object("User").is_none() {
            return;
        }
        let mut db = self.store.write();
        let now = crate::util::sf_datetime(chrono::Utc::now());
        let table = db.table_mut("User");
        if table.rows.contains_key(&self.user_id) {
            return;
        }
        let mut r = Record::new();
        r.insert("Id".into(), json!(self.user_id));
        r.insert("Username".into(), json!(self.creds.sf_username));
        r.insert("Email".into(), json!(self.creds.sf_username));
        r.insert("LastName".into(), json!("Integration"));
        r.insert("Name".into(), json!("Seam Integration"));
        r.insert("IsActive".into(), json!(true));
        r.insert("IsDeleted".into(), json!(false));
        for f in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            r.insert(f.into(), json!(now));
        }
        for f in ["CreatedById", "LastModifiedById"] {
            r.insert(f.into(), json!(self.user_id));
        }
        table.rows.insert(self.user_id.clone(), r);
        db.next("id:005", 2);
    }

    pub fn object(&self, name: &str) -> Option<&Arc<ObjMeta>> {
        self.objects.get(&name.to_ascii_lowercase())
    }

    /// The object whose key prefix starts `id`.
    pub fn object_of_id(&self, id: &str) -> Option<&Arc<ObjMeta>> {
        let prefix = id.get(..3)?;
        self.objects.values().find(|o| o.key_prefix == prefix)
    }

    pub fn mint_token(&self) -> String {
        let token = format!(
            "{}!{}",
            self.org_id.get(..15).unwrap_or("00D"),
            crate::util::random_hex(40)
        );
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone());
        token
    }

    fn token_ok(&self, token: &str) -> bool {
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(token)
    }

    fn limit_info(&self) -> String {
        format!(
            "api-usage={}/{}",
            self.api_usage.load(Ordering::Relaxed),
            self.api_limit
        )
    }

    pub fn record(&self, object: &str, id: &str) -> Option<Value> {
        let meta = self.object(object)?;
        let db = self.store.read();
        let id = sobjects::to18(id)?;
        db.table(meta.name())?
            .rows
            .get(&id)
            .map(|r| Value::Object(r.clone()))
    }

    pub fn records(&self, object: &str) -> Vec<Value> {
        let Some(meta) = self.object(object) else {
            return Vec::new();
        };
        let db = self.store.read();
        db.table(meta.name())
            .map(|t| t.rows.values().map(|r| Value::Object(r.clone())).collect())
            .unwrap_or_default()
    }

    /// Restores a deleted record from the Recycle Bin and emits its `UNDELETE` change event
    /// (`POST /__sandbox/undelete/{object}/{id}`). Returns the id, or the platform's error.
    pub fn undelete_in_process(&self, object: &str, id: &str) -> Result<String, Value> {
        sobjects::undelete_record(self, object, id).map_err(|e| e.body)
    }

    pub fn create_in_process(
        &self,
        object: &str,
        fields: Value,
        client: Option<&str>,
    ) -> Result<String, Value> {
        let origin = events::origin("rest", "62.0", client);
        let Some(meta) = self.object(object).cloned() else {
            return Err(
                json!([{"message": format!("The requested resource does not exist"), "errorCode": "NOT_FOUND"}]),
            );
        };
        let Value::Object(body) = fields else {
            return Err(
                json!([{"message": "expected a JSON object", "errorCode": "JSON_PARSER_ERROR"}]),
            );
        };
        sobjects::create(self, &meta, body, &origin).map_err(|e| e.body)
    }

    fn save_cursor(&self, rest: Vec<Value>) -> String {
        let locator = format!("01g{}", &crate::util::random_hex(8).to_uppercase()[..12]);
        let mut c = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        if c.len() >= 200 {
            c.pop_front();
        }
        c.push_back((locator.clone(), rest));
        locator
    }

    fn replace_cursor(&self, locator: &str, rest: Vec<Value>) {
        let mut c = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        match c.iter_mut().find(|(l, _)| l == locator) {
            Some(slot) => slot.1 = rest,
            None => c.push_back((locator.to_string(), rest)),
        }
    }

    fn cursor(&self, locator: &str) -> Option<Vec<Value>> {
        let c = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        c.iter().find(|(l, _)| l == locator).map(|(_, v)| v.clone())
    }
}

impl FaultAnswers for SfState {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn server_error(&self) -> Response {
        let mut r = sf_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: 1337133713-4242 (-1093140347)",
            &[],
        );
        self.add_limit_header(&mut r);
        r
    }

    fn rate_limited(&self, _retry_after: u64) -> Response {
        let mut r = sf_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
            &[],
        );
        self.add_limit_header(&mut r);
        r
    }
}

impl SystemState for SfState {
    fn store(&self) -> &Store {
        &self.store
    }

    fn webhook(&self) -> Option<&Webhook> {
        Some(&self.webhook)
    }

    fn reset(&self) {
        self.store.reset();
        self.webhook.clear();
        self.outbound.clear();
        self.api_usage.store(0, Ordering::Relaxed);
        self.seed_user();
    }
}

/// `Sforce-Limit-Info` (header names are lower case on the wire, as before).
const LIMIT_INFO: HeaderName = HeaderName::from_static("sforce-limit-info");

impl SfState {
    fn add_limit_header(&self, r: &mut Response) {
        // The formatted text becomes the value without a second copy.
        if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(self.limit_info())) {
            r.headers_mut().insert(LIMIT_INFO, v);
        }
    }
}

/// A Salesforce error answer: a JSON array of `{message, errorCode, fields}`.
#[derive(Debug)]
pub struct SfError {
    pub status: StatusCode,
    pub body: Value,
}

impl SfError {
    pub fn new(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        fields: &[&str],
    ) -> SfError {
        SfError {
            status,
            body: json!([{"message": message.into(), "errorCode": code, "fields": fields}]),
        }
    }

    pub fn not_found() -> SfError {
        SfError {
            status: StatusCode::NOT_FOUND,
            body: json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
        }
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub fn sf_error(status: StatusCode, code: &str, message: &str, fields: &[&str]) -> Response {
    SfError::new(status, code, message, fields).into_response()
}

pub fn router(state: Arc<SfState>) -> Router {
    let data = Router::new()
        .route("/services/data/{version}", get(sobjects::resources))
        .route("/services/data/{version}/", get(sobjects::resources))
        .route("/services/data/{version}/limits", get(sobjects::limits))
        .route("/services/data/{version}/limits/", get(sobjects::limits))
        .route(
            "/services/data/{version}/sobjects",
            get(sobjects::describe_global),
        )
        .route(
            "/services/data/{version}/sobjects/",
            get(sobjects::describe_global),
        )
        .route(
            "/services/data/{version}/sobjects/{object}",
            get(sobjects::basic_info).post(sobjects::create_handler),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/",
            get(sobjects::basic_info).post(sobjects::create_handler),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/describe",
            get(sobjects::describe),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/describe/",
            get(sobjects::describe),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/{id}",
            get(sobjects::read)
                .patch(sobjects::update)
                .delete(sobjects::delete)
                .post(sobjects::post_on_id),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/{field}/{value}",
            get(sobjects::read_by_ext)
                .patch(sobjects::upsert)
                .post(sobjects::upsert)
                .delete(sobjects::delete_by_ext),
        )
        .route("/services/data/{version}/query", get(query::query))
        .route("/services/data/{version}/query/", get(query::query))
        .route("/services/data/{version}/queryAll", get(query::query))
        .route("/services/data/{version}/queryAll/", get(query::query))
        .route("/services/data/{version}/query/{locator}", get(query::more))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), api_guard));
    Router::new()
        .route("/services/data", get(sobjects::versions))
        .route("/services/data/", get(sobjects::versions))
        .route("/services/oauth2/token", post(auth::token))
        .route("/services/oauth2/userinfo", get(auth::userinfo))
        .merge(data)
        .merge(admin::router::<SfState>())
        .route("/__sandbox/outbound", get(get_outbound).put(put_outbound))
        .route(
            "/__sandbox/undelete/{object}/{id}",
            axum::routing::post(sobjects::undelete),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::<SfState>,
        ))
        .with_state(state)
}

/// `GET /__sandbox/outbound`: the Outbound Message configuration and delivery stats.
async fn get_outbound(State(sf): State<Arc<SfState>>) -> Response {
    Json(json!({"config": sf.outbound.config(), "stats": sf.outbound.stats()})).into_response()
}

/// `PUT /__sandbox/outbound` with an `OutboundConfig` (missing keys take their defaults).
async fn put_outbound(State(sf): State<Arc<SfState>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<outbound::OutboundConfig>(&body) {
        Ok(c) => {
            sf.outbound.set_config(c);
            get_outbound(State(sf)).await
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("invalid outbound message configuration: {e}")})),
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    SfError::not_found().into_response()
}

/// `vNN.N` within the served range.
pub fn version_ok(v: &str) -> bool {
    v.strip_prefix('v')
        .filter(|n| n.contains('.'))
        .and_then(|n| n.parse::<f64>().ok())
        .is_some_and(|n| (MIN_VERSION..=MAX_VERSION).contains(&n))
}

/// Every data call: a known API version, a valid session, the daily allowance; and the
/// `Sforce-Limit-Info` header on the answer.
async fn api_guard(State(sf): State<Arc<SfState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let version = path
        .strip_prefix("/services/data/")
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    if !version_ok(version) {
        return SfError::not_found().into_response();
    }
    let authed = crate::util::bearer(req.headers()).is_some_and(|t| sf.token_ok(t));
    if !authed {
        return sf_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
            &[],
        );
    }
    let used = sf.api_usage.fetch_add(1, Ordering::Relaxed) + 1;
    if used > sf.api_limit {
        sf.api_usage.store(sf.api_limit, Ordering::Relaxed);
        return sf.rate_limited(0);
    }
    let mut res = next.run(req).await;
    sf.add_limit_header(&mut res);
    res
}
