#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{client, json, start};
use seam_sandbox::{SandboxConfig, SystemKind};
use serde_json::{json, Value};

struct Sf {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Sf {
    fn url(&self, path: &str) -> String {
        format!("{}/services/data/v62.0/{path}", self.base)
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        json(
            self.http
                .get(self.url(path))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    async fn query(&self, soql: &str) -> (u16, Value) {
        self.get(&format!(
            "query?q={}",
            seam_sandbox::util::percent_encode(soql)
        ))
        .await
    }
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("Sforce-Call-Options", "client=seam-runtime")
            .json(&body)
            .send()
            .await
            .unwrap();
        json(r).await
    }
}

async fn sf() -> (seam_sandbox::RunningSandbox, Sf) {
    let s = start().await;
    let sf = Sf {
        base: s.salesforce_url(),
        token: s.salesforce_token(),
        http: client(),
    };
    (s, sf)
}

#[tokio::test]
async fn oauth_flows_and_errors() {
    let s = start().await;
    let c = &s.config.credentials;
    let http = client();
    let url = format!("{}/services/oauth2/token", s.salesforce_url());
    let form = |pairs: Vec<(&str, &str)>| http.post(&url).form(&pairs).send();
    let (st, v) = json(
        form(vec![
            ("grant_type", "client_credentials"),
            ("client_id", &c.sf_client_id),
            ("client_secret", &c.sf_client_secret),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    for k in [
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert_eq!(v["instance_url"], s.salesforce_url());
    let token = v["access_token"].as_str().unwrap().to_string();
    let (st, _) = json(
        http.get(format!(
            "{}/services/data/v62.0/sobjects",
            s.salesforce_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200);

    let (st, v) = json(
        form(vec![
            ("grant_type", "password"),
            ("client_id", &c.sf_client_id),
            ("client_secret", &c.sf_client_secret),
            ("username", &c.sf_username),
            ("password", &c.sf_password),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((st, v["token_type"].as_str()), (200, Some("Bearer")));
    let (st, v) = json(
        form(vec![
            ("grant_type", "password"),
            ("client_id", &c.sf_client_id),
            ("client_secret", &c.sf_client_secret),
            ("username", &c.sf_username),
            ("password", "nope"),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_grant")));
    let (st, v) = json(
        form(vec![
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "y"),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_client_id")));
    let (_, v) = json(
        form(vec![
            ("grant_type", "client_credentials"),
            ("client_id", &c.sf_client_id),
            ("client_secret", "y"),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["error"], "invalid_client");

    // JWT bearer: claims checked, signature not.
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = chrono::Utc::now().timestamp() + 300;
    let jwt = format!(
        "{}.{}.sig",
        b64(json!({"alg": "RS256"})),
        b64(
            json!({"iss": c.sf_client_id, "sub": c.sf_username, "aud": "https://login.salesforce.com", "exp": exp})
        )
    );
    let (st, _) = json(
        form(vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &jwt),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200);

    // No or bad session: 401 INVALID_SESSION_ID.
    let r = http
        .get(format!(
            "{}/services/data/v62.0/sobjects/Case/describe",
            s.salesforce_url()
        ))
        .bearer_auth("bad")
        .send()
        .await
        .unwrap();
    let (st, v) = json(r).await;
    assert_eq!(
        (st, v[0]["errorCode"].as_str()),
        (401, Some("INVALID_SESSION_ID"))
    );
    // Versions need no auth.
    let (st, v) = json(
        http.get(format!("{}/services/data/", s.salesforce_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert!(v.as_array().unwrap().iter().any(|x| x["version"] == "62.0"));
    s.shutdown().await;
}

#[tokio::test]
async fn crud_with_events_and_limit_header() {
    let (s, sf) = sf().await;
    let r = sf
        .http
        .post(sf.url("sobjects/Case/"))
        .bearer_auth(&sf.token)
        .header("Sforce-Call-Options", "client=seam-runtime")
        .json(&json!({"Subject": "Printer on fire", "Severity__c": "Sev2"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["sforce-limit-info"]
        .to_str()
        .unwrap()
        .starts_with("api-usage="));
    let (st, v) = json(r).await;
    assert_eq!(st, 201);
    assert_eq!(
        (v["success"].as_bool(), v["errors"].clone()),
        (Some(true), json!([]))
    );
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("500"));

    let (st, rec) = sf.get(&format!("sobjects/Case/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(rec["attributes"]["type"], "Case");
    assert_eq!(
        rec["attributes"]["url"],
        format!("/services/data/v62.0/sobjects/Case/{id}")
    );
    assert_eq!(rec["Subject"], "Printer on fire");
    assert!(rec["CaseNumber"].as_str().unwrap().ends_with('1'));
    assert!(rec["LastModifiedDate"].as_str().unwrap().ends_with("+0000"));
    // A 15-character id works too; ?fields= narrows the answer.
    let (st, rec) = sf
        .get(&format!("sobjects/Case/{}?fields=Subject", &id[..15]))
        .await;
    assert_eq!(st, 200);
    assert_eq!(rec.as_object().unwrap().len(), 2, "{rec}");

    let (st, _) = sf
        .send(
            reqwest::Method::PATCH,
            &format!("sobjects/Case/{id}"),
            json!({"Subject": "Printer still on fire"}),
        )
        .await;
    assert_eq!(st, 204);
    let (st, _) = sf
        .send(
            reqwest::Method::DELETE,
            &format!("sobjects/Case/{id}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 204);
    let (st, v) = sf.get(&format!("sobjects/Case/{id}")).await;
    assert_eq!((st, v[0]["errorCode"].as_str()), (404, Some("NOT_FOUND")));

    let events = s.events(SystemKind::Salesforce);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| {
            e["payload"]["ChangeEventHeader"]["changeType"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(kinds, ["CREATE", "UPDATE", "DELETE"]);
    let upd = &events[1]["payload"];
    assert_eq!(
        upd["ChangeEventHeader"]["changedFields"],
        json!(["Subject", "LastModifiedDate"])
    );
    assert_eq!(
        upd["ChangeEventHeader"]["changeOrigin"],
        "com/salesforce/api/rest/62.0;client=seam-runtime"
    );
    assert_eq!(upd["ChangeEventHeader"]["recordIds"], json!([id]));
    assert_eq!(upd["Subject"], "Printer still on fire");
    assert!(upd.get("SystemModstamp").is_none());
    assert!(
        events[1]["event"]["replayId"].as_u64().unwrap()
            > events[0]["event"]["replayId"].as_u64().unwrap()
    );
    s.shutdown().await;
}

#[tokio::test]
async fn error_bodies() {
    let (s, sf) = sf().await;
    let post = |body: Value| sf.send(reqwest::Method::POST, "sobjects/Widget__c", body);
    let code = |v: &Value| v[0]["errorCode"].as_str().unwrap().to_string();
    let (st, v) = post(json!({"Count__c": 1})).await;
    assert_eq!((st, code(&v)), (400, "REQUIRED_FIELD_MISSING".into()));
    assert_eq!(v[0]["fields"], json!(["Name"]));
    let (_, v) = post(json!({"Name": "w", "Nope__c": 1})).await;
    assert_eq!(code(&v), "INVALID_FIELD");
    let (_, v) = post(json!({"Name": "w", "Account__c": "xyz"})).await;
    assert_eq!(code(&v), "MALFORMED_ID");
    let (_, v) = post(json!({"Name": "w", "Id": "a015g0000000001AAA"})).await;
    assert_eq!(
        v[0]["message"],
        "The Id field should not be specified in the sobject data."
    );
    let (_, v) = sf
        .send(
            reqwest::Method::POST,
            "sobjects/Case",
            json!({"Severity__c": "Sev9"}),
        )
        .await;
    assert_eq!(code(&v), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    let (_, v) = post(json!({"Name": "w", "Active__c": "yes"})).await;
    assert_eq!(code(&v), "JSON_PARSER_ERROR");
    let (_, v) = post(json!({"Name": "x".repeat(81)})).await;
    assert_eq!(code(&v), "STRING_TOO_LONG");
    let (st, v) = sf
        .send(reqwest::Method::POST, "sobjects/Nope__c", json!({}))
        .await;
    assert_eq!((st, code(&v)), (404, "NOT_FOUND".into()));
    let (st, v) = post(
        json!({"Name": "w", "Due__c": "2026-01-31T10:00:00Z", "Count__c": 3, "Active__c": true}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (_, rec) = sf
        .get(&format!("sobjects/Widget__c/{}", v["id"].as_str().unwrap()))
        .await;
    assert_eq!(rec["Due__c"], "2026-01-31T10:00:00.000+0000");
    // Unknown version.
    let r = sf
        .http
        .get(format!("{}/services/data/v9.0/sobjects", sf.base))
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.shutdown().await;
}

#[tokio::test]
async fn upsert_by_external_id() {
    let (s, sf) = sf().await;
    let path = "sobjects/Case/External_Id__c/INC0010001";
    let (st, v) = sf
        .send(reqwest::Method::PATCH, path, json!({"Subject": "first"}))
        .await;
    assert_eq!((st, v["created"].as_bool()), (201, Some(true)));
    let id = v["id"].as_str().unwrap().to_string();
    let (st, v) = sf
        .send(reqwest::Method::PATCH, path, json!({"Subject": "second"}))
        .await;
    assert_eq!(
        (st, v["created"].as_bool(), v["id"].as_str()),
        (200, Some(false), Some(id.as_str()))
    );
    let (st, rec) = sf.get(path).await;
    assert_eq!((st, rec["Subject"].as_str()), (200, Some("second")));
    let (st, _) = sf
        .send(
            reqwest::Method::PATCH,
            "sobjects/Case/External_Id__c/NEW?updateOnly=true",
            json!({"Subject": "x"}),
        )
        .await;
    assert_eq!(st, 404);
    let (st, v) = sf
        .send(reqwest::Method::PATCH, "sobjects/Case/Subject/x", json!({}))
        .await;
    assert_eq!((st, v[0]["errorCode"].as_str()), (404, Some("NOT_FOUND")));
    // Two records with the same key (created directly): 300 with both URLs.
    s.sf_create(
        "Case",
        json!({"Subject": "dup", "External_Id__c": "DUP"}),
        None,
    )
    .unwrap();
    s.sf_create(
        "Case",
        json!({"Subject": "dup", "External_Id__c": "DUP"}),
        None,
    )
    .unwrap();
    let (st, v) = sf
        .send(
            reqwest::Method::PATCH,
            "sobjects/Case/External_Id__c/DUP",
            json!({"Subject": "y"}),
        )
        .await;
    assert_eq!(st, 300);
    assert_eq!(v.as_array().unwrap().len(), 2);
    s.shutdown().await;
}

#[tokio::test]
async fn describe_and_global() {
    let (s, sf) = sf().await;
    let (st, d) = sf.get("sobjects/Case/describe").await;
    assert_eq!(st, 200);
    assert_eq!(
        (d["name"].as_str(), d["keyPrefix"].as_str()),
        (Some("Case"), Some("500"))
    );
    let fields = d["fields"].as_array().unwrap();
    let ext = fields
        .iter()
        .find(|f| f["name"] == "External_Id__c")
        .unwrap();
    assert_eq!(
        (ext["externalId"].as_bool(), ext["custom"].as_bool()),
        (Some(true), Some(true))
    );
    let sev = fields.iter().find(|f| f["name"] == "Severity__c").unwrap();
    assert_eq!(sev["picklistValues"].as_array().unwrap().len(), 3);
    let (_, g) = sf.get("sobjects").await;
    let names: Vec<&str> = g["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for n in ["Account", "Case", "Contact", "Task", "User", "Widget__c"] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn soql_subset_and_paging() {
    let (s, sf) = sf().await;
    for i in 0..450 {
        let sev = ["Sev1", "Sev2", "Sev3"][i % 3];
        s.sf_create(
            "Case",
            json!({"Subject": format!("case {i:03}"), "Severity__c": sev}),
            None,
        )
        .unwrap();
    }
    let (st, v) = sf.query("SELECT Id, Subject FROM Case WHERE Severity__c = 'sev1' AND Subject LIKE 'case 00%' ORDER BY Subject DESC LIMIT 2").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["totalSize"], 2);
    assert_eq!(v["records"][0]["Subject"], "case 009");
    assert_eq!(v["records"][0]["attributes"]["type"], "Case");
    let (_, v) = sf
        .query("SELECT Id FROM Case WHERE Severity__c IN ('Sev1', 'Sev2') OR Subject = 'case 002'")
        .await;
    assert_eq!(v["totalSize"], 301);
    let (_, v) = sf.query("SELECT Id FROM Case WHERE NOT (Severity__c != 'Sev3') AND CreatedDate > 2020-01-01T00:00:00Z").await;
    assert_eq!(v["totalSize"], 150);
    let (_, v) = sf
        .query("SELECT COUNT() FROM Case WHERE LastModifiedDate < 2020-01-01T00:00:00Z")
        .await;
    assert_eq!(
        (
            v["totalSize"].as_u64(),
            v["records"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let (_, v) = sf
        .query("SELECT Subject, Owner.Name FROM Case LIMIT 1")
        .await;
    assert!(
        v["records"][0]["Owner"]["attributes"]["type"] == "User",
        "{v}"
    );

    // Paging: batchSize 200 -> 3 pages.
    let http = &sf.http;
    let mut url = format!(
        "{}?q={}",
        sf.url("query"),
        seam_sandbox::util::percent_encode("SELECT Id FROM Case")
    );
    let mut seen = 0;
    for page in 0.. {
        let r = http
            .get(&url)
            .bearer_auth(&sf.token)
            .header("Sforce-Query-Options", "batchSize=200")
            .send()
            .await
            .unwrap();
        let (_, v) = json(r).await;
        assert_eq!(v["totalSize"], 450);
        seen += v["records"].as_array().unwrap().len();
        if v["done"] == json!(true) {
            assert_eq!(page, 2);
            break;
        }
        url = format!("{}{}", sf.base, v["nextRecordsUrl"].as_str().unwrap());
    }
    assert_eq!(seen, 450);

    let (st, v) = sf.query("SELECT FROM Case").await;
    assert_eq!(
        (st, v[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY"))
    );
    let (_, v) = sf.query("SELECT Id FROM Nope").await;
    assert_eq!(v[0]["errorCode"], "INVALID_TYPE");
    let (_, v) = sf.query("SELECT Nope FROM Case").await;
    assert_eq!(v[0]["errorCode"], "INVALID_FIELD");
    s.shutdown().await;
}

#[tokio::test]
async fn request_limit_and_precondition() {
    let s = seam_sandbox::start(SandboxConfig {
        sf_api_limit: 3,
        ..common::config()
    })
    .await
    .unwrap();
    let sf = Sf {
        base: s.salesforce_url(),
        token: s.salesforce_token(),
        http: client(),
    };
    let (st, v) = sf
        .send(
            reqwest::Method::POST,
            "sobjects/Case",
            json!({"Subject": "a"}),
        )
        .await;
    assert_eq!(st, 201);
    let id = v["id"].as_str().unwrap().to_string();
    let r = sf
        .http
        .patch(sf.url(&format!("sobjects/Case/{id}")))
        .bearer_auth(&sf.token)
        .header("If-Unmodified-Since", "Tue, 15 Nov 1994 08:12:31 GMT")
        .json(&json!({"Subject": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let _ = sf.get("sobjects").await;
    let r = sf
        .http
        .get(sf.url("sobjects"))
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["sforce-limit-info"], "api-usage=3/3");
    let (_, v) = json(r).await;
    assert_eq!(v[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    s.shutdown().await;
}

/// `WHERE Id = '…'` is looked up, not scanned: it must answer exactly what the scan answers,
/// for every way of writing the id (the negated form below always scans).
#[tokio::test]
async fn soql_by_id_answers_what_the_scan_answers() {
    let (s, sf) = sf().await;
    let ids: Vec<String> = (0..5)
        .map(|i| {
            s.sf_create("Case", json!({"Subject": format!("by id {i}")}), None)
                .unwrap()
        })
        .collect();
    let id = &ids[3];
    let literals = [
        id.clone(),
        id[..15].to_string(),
        id.to_lowercase(),
        id.to_uppercase(),
        // A suffix that does not belong to these 15 characters.
        format!(
            "{}{}",
            &id[..15],
            if id.ends_with("BBB") { "CCC" } else { "BBB" }
        ),
        "5005g0000000zzzAAA".to_string(),
        "not an id".to_string(),
    ];
    let mut found = 0;
    for lit in &literals {
        for rest in ["", " AND Subject = 'by id 3'", " AND Subject = 'other'"] {
            let select = "SELECT Id, Subject, Account.Name FROM Case";
            let (st, fast) = sf
                .query(&format!("{select} WHERE Id = '{lit}'{rest}"))
                .await;
            assert_eq!(st, 200, "{fast}");
            let (_, scan) = sf
                .query(&format!("{select} WHERE NOT (Id != '{lit}'){rest}"))
                .await;
            assert_eq!(fast, scan, "{lit}{rest}");
            found += fast["totalSize"].as_u64().unwrap();
        }
    }
    // The exact, 15-character, lower-case and upper-case forms find the Case, twice each.
    assert_eq!(found, 8);
}

/// A field path may walk several relationships (`Account.Owner.Username`), in SELECT and
/// WHERE: the answer nests one object per relationship, each with its `attributes`; an empty
/// reference on the way is `null`. More than five relationships is a malformed query, and an
/// unknown relationship anywhere on the path is an unknown column.
#[tokio::test]
async fn soql_walks_several_relationships() {
    let (s, sf) = sf().await;
    let username = s.config.credentials.sf_username.clone();
    let account = s
        .sf_create("Account", json!({"Name": "Acme"}), None)
        .unwrap();
    let with = s
        .sf_create(
            "Case",
            json!({"Subject": "with account", "AccountId": account}),
            None,
        )
        .unwrap();
    s.sf_create("Case", json!({"Subject": "no account"}), None)
        .unwrap();

    let (st, v) = sf
        .query(&format!(
            "SELECT Id, Subject, Account.Name, Account.Owner.Username, Account.Owner.CreatedBy.Username \
             FROM Case WHERE Account.Owner.Username = '{username}'"
        ))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["totalSize"], 1, "{v}");
    let r = &v["records"][0];
    assert_eq!(r["Id"], json!(with));
    let acct = &r["Account"];
    assert_eq!(acct["attributes"]["type"], "Account", "{r}");
    assert_eq!(
        acct["attributes"]["url"],
        json!(format!("/services/data/v62.0/sobjects/Account/{account}")),
        "{r}"
    );
    assert_eq!(acct["Name"], "Acme");
    assert_eq!(acct["Owner"]["attributes"]["type"], "User", "{r}");
    assert_eq!(acct["Owner"]["Username"], json!(username));
    assert_eq!(
        acct["Owner"]["CreatedBy"]["attributes"]["type"], "User",
        "{r}"
    );
    assert!(acct["Owner"]["CreatedBy"].get("Username").is_some(), "{r}");

    // The Case without an account: the walk stops at a null `Account`.
    let (_, v) = sf
        .query("SELECT Subject, Account.Owner.Username FROM Case WHERE Subject = 'no account'")
        .await;
    assert_eq!(v["totalSize"], 1, "{v}");
    assert_eq!(v["records"][0]["Account"], Value::Null, "{v}");

    // ORDER BY through a walk: the Case with an account (non-null) after the null one.
    let (_, v) = sf
        .query("SELECT Subject FROM Case ORDER BY Account.Owner.Username NULLS FIRST")
        .await;
    assert_eq!(v["records"][0]["Subject"], "no account", "{v}");
    assert_eq!(v["records"][1]["Subject"], "with account", "{v}");

    // Five relationships are allowed, six are not.
    let five = "Account.Owner.CreatedBy.CreatedBy.CreatedBy.Username";
    let (st, v) = sf
        .query(&format!(
            "SELECT {five} FROM Case WHERE Subject = 'with account'"
        ))
        .await;
    assert_eq!(st, 200, "{v}");
    let six = "Account.Owner.CreatedBy.CreatedBy.CreatedBy.CreatedBy.Username";
    let (st, v) = sf.query(&format!("SELECT {six} FROM Case")).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v[0]["errorCode"], "MALFORMED_QUERY", "{v}");

    // An unknown relationship in the middle of the path.
    let (st, v) = sf.query("SELECT Account.Nobody.Username FROM Case").await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v[0]["errorCode"], "INVALID_FIELD", "{v}");
    s.shutdown().await;
}

/// The REST API cannot undelete; the admin endpoint restores from the Recycle Bin as Apex or
/// SOAP `undelete()` does, with the CDC `UNDELETE` event (every non-empty field, as CREATE).
#[tokio::test]
async fn a_deleted_record_is_undeleted_from_the_recycle_bin_with_its_event() {
    let (s, sf) = sf().await;
    let id = s
        .sf_create("Case", json!({"Subject": "Printer on fire"}), None)
        .unwrap();
    let undelete = |id: &str| {
        sf.http
            .post(format!("{}/__sandbox/undelete/Case/{id}", sf.base))
            .send()
    };
    let (st, v) = json(undelete(&id).await.unwrap()).await;
    assert_eq!(
        (st, v[0]["errorCode"].as_str()),
        (404, Some("NOT_FOUND")),
        "{v}"
    );
    let (st, _) = sf
        .send(
            reqwest::Method::DELETE,
            &format!("sobjects/Case/{id}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 204);
    // A 15-character id finds it in the bin.
    let (st, v) = json(undelete(&id[..15]).await.unwrap()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({"id": id, "success": true, "errors": []}));
    let (st, rec) = sf.get(&format!("sobjects/Case/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(rec["Subject"], "Printer on fire");
    assert_eq!(rec["IsDeleted"], false);
    let events = s.events(SystemKind::Salesforce);
    let last = &events.last().unwrap()["payload"];
    assert_eq!(last["ChangeEventHeader"]["changeType"], "UNDELETE");
    assert_eq!(last["ChangeEventHeader"]["changeOrigin"], "");
    assert_eq!(last["ChangeEventHeader"]["recordIds"], json!([id]));
    assert_eq!(last["Subject"], "Printer on fire");
    assert!(last.get("IsDeleted").is_none() && last.get("SystemModstamp").is_none());
    // Once restored it is no longer in the bin; the library call says so too.
    let (st, _) = json(undelete(&id).await.unwrap()).await;
    assert_eq!(st, 404);
    assert!(s.sf_undelete("Case", &id).is_err());
    s.shutdown().await;
}
