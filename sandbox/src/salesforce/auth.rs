//! `POST /services/oauth2/token`: client credentials, username-password and JWT bearer flows.
//!
//! The JWT bearer flow checks the assertion's `iss` (consumer key), `sub` (username) and `exp`;
//! it does not verify the RS256 signature (the sandbox has no certificate of the caller's).
//! The answer's `signature` is base64(HMAC-SHA256(client secret, id + issued_at)), as the
//! platform computes it.

use super::SfState;
use crate::util::{param, parse_params, same};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

pub async fn token(
    State(sf): State<Arc<SfState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    let params = parse_params(ct, &body);
    let c = &sf.creds;
    let grant = param(&params, "grant_type").unwrap_or("");
    let client_id = param(&params, "client_id").unwrap_or("");
    let client_secret = param(&params, "client_secret").unwrap_or("");
    match grant {
        "client_credentials" | "password" => {
            if !same(client_id, &c.sf_client_id) {
                return oauth_error("invalid_client_id", "client identifier invalid");
            }
            if !same(client_secret, &c.sf_client_secret) {
                return oauth_error("invalid_client", "invalid client credentials");
            }
            if grant == "password" {
                let user = param(&params, "username").unwrap_or("");
                let pass = param(&params, "password").unwrap_or("");
                if !same(user, &c.sf_username) || !same(pass, &c.sf_password) {
                    return oauth_error("invalid_grant", "authentication failure");
                }
            }
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let assertion = param(&params, "assertion").unwrap_or("");
            if let Err(r) = check_jwt(&sf, assertion) {
                return *r;
            }
        }
        "" => return oauth_error("unsupported_grant_type", "grant type not supported"),
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    }
    let issued_at = chrono::Utc::now().timestamp_millis().to_string();
    let id = format!(
        "https://login.salesforce.com/id/{}/{}",
        sf.org_id, sf.user_id
    );
    let signature = Hmac::<Sha256>::new_from_slice(c.sf_client_secret.as_bytes())
        .map(|mut m| {
            m.update(id.as_bytes());
            m.update(issued_at.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
        })
        .unwrap_or_default();
    let token = sf.mint_token();
    Json(json!({
        "access_token": token,
        "signature": signature,
        "scope": "api",
        "instance_url": sf.base_url,
        "id": id,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }))
    .into_response()
}

fn check_jwt(sf: &SfState, assertion: &str) -> Result<(), Box<Response>> {
    let claims = assertion
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let Some(claims) = claims else {
        return Err(Box::new(oauth_error("invalid_grant", "invalid assertion")));
    };
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if !same(iss, &sf.creds.sf_client_id) {
        return Err(Box::new(oauth_error(
            "invalid_client_id",
            "client identifier invalid",
        )));
    }
    if exp < chrono::Utc::now().timestamp() {
        return Err(Box::new(oauth_error(
            "invalid_grant",
            "expired authorization code",
        )));
    }
    if !same(sub, &sf.creds.sf_username) {
        return Err(Box::new(oauth_error(
            "invalid_grant",
            "user hasn't approved this consumer",
        )));
    }
    Ok(())
}

/// `GET /services/oauth2/userinfo`.
pub async fn userinfo(State(sf): State<Arc<SfState>>, headers: HeaderMap) -> Response {
    match crate::util::bearer(&headers) {
        Some(t) if sf.token_ok(t) => Json(json!({
            "sub": format!("https://login.salesforce.com/id/{}/{}", sf.org_id, sf.user_id),
            "user_id": sf.user_id,
            "organization_id": sf.org_id,
            "preferred_username": sf.creds.sf_username,
            "email": sf.creds.sf_username,
        }))
        .into_response(),
        _ => (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response(),
    }
}
