//! The ServiceNow emulator: basic auth and OAuth (`/oauth_token.do`), the Table API under
//! `/api/now/[v1|v2/]table/{table}`, error envelopes, and business-rule style change webhooks.

mod events;
pub mod query;
mod render;
mod table;

use crate::admin::{self, SystemState};
use crate::faults::{self, FaultAnswers, Faults};
use crate::store::Store;
use crate::util::{param, parse_params, same};
use crate::webhook::Webhook;
use crate::{Error, SandboxConfig};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seam_compiler::catalog::{FieldDef, FieldType, ObjectDef, SystemKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// One served table: the catalogue definition plus the `sys_` fields every record has.
#[derive(Debug)]
pub struct TableMeta {
    pub def: ObjectDef,
    /// Auto-number: field, prefix, digit count, suffix.
    pub auto: Option<(String, String, usize, String)>,
    /// impact × urgency -> priority applies.
    pub priority_matrix: bool,
    /// field name -> index into `def.fields`: rendering a record looks up every field, so a
    /// scan here would make each read quadratic in the table's width.
    by_name: HashMap<String, usize>,
    /// How each field is shown, in key order (filled once every table is known).
    render: Vec<render::RenderField>,
}

impl TableMeta {
    fn new(mut def: ObjectDef) -> TableMeta {
        let sys = [
            FieldDef::new("sys_id", "Sys ID", FieldType::Id).read_only(),
            FieldDef::new("sys_created_on", "Created", FieldType::Datetime).read_only(),
            FieldDef::new("sys_created_by", "Created by", FieldType::text_n(40)).read_only(),
            FieldDef::new("sys_updated_on", "Updated", FieldType::Datetime).read_only(),
            FieldDef::new("sys_updated_by", "Updated by", FieldType::text_n(40)).read_only(),
            FieldDef::new("sys_mod_count", "Updates", FieldType::Number).read_only(),
            FieldDef::new("sys_class_name", "Class", FieldType::text_n(80)).read_only(),
        ];
        let auto = def
            .auto_number
            .as_ref()
            .map(|(f, _)| FieldDef::new(f, "Number", FieldType::text_n(40)).read_only());
        for f in sys.into_iter().chain(auto) {
            if def.field(&f.name).is_none() {
                def.fields.push(f);
            }
        }
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
        let by_name = def
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect::<HashMap<_, _>>();
        let priority_matrix = ["impact", "urgency", "priority"]
            .iter()
            .all(|f| by_name.contains_key(*f));
        TableMeta {
            def,
            auto,
            priority_matrix,
            by_name,
            render: Vec::new(),
        }
    }

    /// How field `name` is shown (a binary search of the key-ordered plan).
    fn render_field(&self, name: &str) -> Option<&render::RenderField> {
        let i = self
            .render
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()?;
        self.render.get(i)
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// Every field name once, in byte order (the order of a JSON object the sandbox writes).
    pub fn field_names_sorted(&self) -> impl Iterator<Item = &str> {
        self.render.iter().map(|f| f.name.as_str())
    }

    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.by_name.get(name).and_then(|&i| self.def.fields.get(i))
    }

    /// The field whose value names a record (`number`, `name`, `user_name`).
    pub fn display_field(&self) -> &str {
        ["number", "name", "user_name", "short_description"]
            .into_iter()
            .find(|f| self.field(f).is_some())
            .unwrap_or("sys_id")
    }
}

/// The ServiceNow emulator's state.
pub struct SnowState {
    pub base_url: String,
    pub store: Store,
    pub faults: Arc<Faults>,
    pub webhook: Webhook,
    tables: HashMap<String, Arc<TableMeta>>,
    creds: crate::Credentials,
    /// access token -> user name; refresh token -> user name.
    tokens: RwLock<HashMap<String, String>>,
    refresh: RwLock<HashMap<String, String>>,
    rng: Mutex<StdRng>,
}

impl SnowState {
    pub fn new(
        config: &SandboxConfig,
        base_url: String,
        dir: Option<&Path>,
    ) -> Result<SnowState, Error> {
        let faults = Arc::new(Faults::new(
            config.snow_faults.clone(),
            config.seed.wrapping_add(1),
        ));
        let webhook = Webhook::start(
            config.snow_webhook_url.clone(),
            config.snow_webhook_secret.clone(),
            faults.clone(),
        );
        let mut metas: Vec<TableMeta> = config
            .catalog
            .object_names(SystemKind::ServiceNow)
            .into_iter()
            .filter_map(|n| config.catalog.object(SystemKind::ServiceNow, n))
            .map(|d| TableMeta::new(d.clone()))
            .collect();
        let display_of: HashMap<String, String> = metas
            .iter()
            .map(|m| (m.name().to_string(), m.display_field().to_string()))
            .collect();
        for m in &mut metas {
            m.render = render::plan(m, &display_of);
        }
        let tables = metas
            .into_iter()
            .map(|m| (m.name().to_string(), Arc::new(m)))
            .collect();
        Ok(SnowState {
            base_url,
            store: Store::open(dir, "servicenow")?,
            faults,
            webhook,
            tables,
            creds: config.credentials.clone(),
            tokens: RwLock::new(HashMap::new()),
            refresh: RwLock::new(HashMap::new()),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed.wrapping_add(2))),
        })
    }

    pub fn table(&self, name: &str) -> Option<&Arc<TableMeta>> {
        self.tables.get(name)
    }

    /// A new 32-hex sys_id (seeded: the same seed gives the same ids).
    pub fn sys_id(&self) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        (0..16)
            .map(|_| format!("{:02x}", rng.gen::<u8>()))
            .collect()
    }

    pub fn mint_token(&self) -> String {
        self.mint_for(&self.creds.snow_username).0
    }

    fn mint_for(&self, user: &str) -> (String, String) {
        let access = crate::util::random_hex(32);
        let refresh = crate::util::random_hex(32);
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(access.clone(), user.to_string());
        self.refresh
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(refresh.clone(), user.to_string());
        (access, refresh)
    }

    /// The user a request authenticates as.
    fn user_of(&self, headers: &HeaderMap) -> Option<String> {
        if let Some((u, p)) = crate::util::basic(headers) {
            return (same(&u, &self.creds.snow_username) && same(&p, &self.creds.snow_password))
                .then_some(u);
        }
        let t = crate::util::bearer(headers)?;
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(t)
            .cloned()
    }

    pub fn record(&self, table: &str, sys_id: &str) -> Option<Value> {
        let meta = self.table(table)?;
        let db = self.store.read();
        let rec = db.table(table)?.rows.get(sys_id)?;
        Some(events::plain(meta, rec))
    }

    pub fn records(&self, table: &str) -> Vec<Value> {
        let Some(meta) = self.table(table) else {
            return Vec::new();
        };
        let db = self.store.read();
        db.table(table)
            .map(|t| t.rows.values().map(|r| events::plain(meta, r)).collect())
            .unwrap_or_default()
    }

    /// Restores a deleted record from Deleted Records and emits its `insert` event
    /// (`POST /__sandbox/undelete/{table}/{sys_id}`).
    pub fn undelete_in_process(&self, table: &str, sys_id: &str) -> Result<(), Value> {
        table::undelete_record(self, table, sys_id).map_err(|(_, body)| body)
    }

    pub fn create_in_process(&self, table: &str, fields: Value) -> Result<String, Value> {
        let Some(meta) = self.table(table).cloned() else {
            return Err(snow_body("Invalid table", Some(table)));
        };
        let Value::Object(body) = fields else {
            return Err(snow_body(
                "Exception while reading request",
                Some("expected a JSON object"),
            ));
        };
        table::insert(self, &meta, body, &self.creds.snow_username)
            .map(|(id, _)| id)
            .map_err(|(_, b)| b)
    }
}

pub fn snow_body(message: &str, detail: Option<&str>) -> Value {
    json!({"error": {"message": message, "detail": detail}, "status": "failure"})
}

/// `{"error": {"message", "detail"}, "status": "failure"}` with a status code.
pub fn snow_error(status: StatusCode, message: &str, detail: Option<&str>) -> Response {
    (status, Json(snow_body(message, detail))).into_response()
}

impl FaultAnswers for SnowState {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn server_error(&self) -> Response {
        snow_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            Some("An unexpected error occurred (sandbox fault injection)"),
        )
    }

    fn rate_limited(&self, retry_after: u64) -> Response {
        let mut r = snow_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded",
            Some("Rate limit of 100 requests per hour for Table API exceeded"),
        );
        let reset = chrono::Utc::now().timestamp() as u64 + retry_after;
        let h = r.headers_mut();
        for (k, v) in [
            ("Retry-After", retry_after.to_string()),
            ("X-RateLimit-Limit", "100".to_string()),
            ("X-RateLimit-Reset", reset.to_string()),
            (
                "X-RateLimit-Rule",
                "e9b4f2d1c0a84f1b9c2d3e4f5a6b7c8d".to_string(),
            ),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        r
    }
}

impl SystemState for SnowState {
    fn store(&self) -> &Store {
        &self.store
    }

    fn webhook(&self) -> Option<&Webhook> {
        Some(&self.webhook)
    }
}

pub fn router(state: Arc<SnowState>) -> Router {
    let api = Router::new()
        .route(
            "/api/now/table/{table}",
            get(table::list).post(table::create),
        )
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(table::get_one)
                .patch(table::update)
                .put(table::update)
                .delete(table::delete),
        )
        .route(
            "/api/now/{api_version}/table/{table}",
            get(table::list).post(table::create),
        )
        .route(
            "/api/now/{api_version}/table/{table}/{sys_id}",
            get(table::get_one)
                .patch(table::update)
                .put(table::update)
                .delete(table::delete),
        )
        .fallback(|| async {
            snow_error(
                StatusCode::BAD_REQUEST,
                "Requested URI does not represent any resource",
                None,
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), auth_guard));
    Router::new()
        .route("/oauth_token.do", post(oauth_token))
        .merge(api)
        .merge(admin::router::<SnowState>())
        .route(
            "/__sandbox/undelete/{table}/{sys_id}",
            post(table::undelete),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::<SnowState>,
        ))
        .with_state(state)
}

/// The authenticated user name, for `sys_updated_by`.
#[derive(Clone, Debug)]
pub struct User(pub String);

async fn auth_guard(State(sn): State<Arc<SnowState>>, mut req: Request, next: Next) -> Response {
    match sn.user_of(req.headers()) {
        Some(u) => {
            req.extensions_mut().insert(User(u));
            next.run(req).await
        }
        None => {
            let mut r = snow_error(
                StatusCode::UNAUTHORIZED,
                "User Not Authenticated",
                Some("Required to provide Auth information"),
            );
            r.headers_mut().insert(
                "WWW-Authenticate",
                HeaderValue::from_static("BASIC realm=\"Service-now\""),
            );
            r
        }
    }
}

/// `POST /oauth_token.do`: `password`, `client_credentials` and `refresh_token` grants.
async fn oauth_token(
    State(sn): State<Arc<SnowState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    let p = parse_params(ct, &body);
    let c = &sn.creds;
    let denied = || {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error_description": "access_denied", "error": "server_error"})),
        )
            .into_response()
    };
    let client_ok = same(param(&p, "client_id").unwrap_or(""), &c.snow_client_id)
        && same(
            param(&p, "client_secret").unwrap_or(""),
            &c.snow_client_secret,
        );
    if !client_ok {
        return denied();
    }
    let user =
        match param(&p, "grant_type").unwrap_or("") {
            "password" => {
                let ok = same(param(&p, "username").unwrap_or(""), &c.snow_username)
                    && same(param(&p, "password").unwrap_or(""), &c.snow_password);
                if !ok {
                    return denied();
                }
                c.snow_username.clone()
            }
            "client_credentials" => c.snow_username.clone(),
            "refresh_token" => {
                let r = param(&p, "refresh_token").unwrap_or("");
                match sn.refresh.read().unwrap_or_else(|e| e.into_inner()).get(r) {
                    Some(u) => u.clone(),
                    None => return denied(),
                }
            }
            _ => return (
                StatusCode::BAD_REQUEST,
                Json(
                    json!({"error_description": "unsupported_grant_type", "error": "server_error"}),
                ),
            )
                .into_response(),
        };
    let (access, refresh) = sn.mint_for(&user);
    Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": 1799,
    }))
    .into_response()
}
