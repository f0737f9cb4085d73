#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{client, json, start};
use seam_sandbox::SystemKind;
use serde_json::{json, Value};

struct Sn {
    base: String,
    http: reqwest::Client,
    user: String,
    pass: String,
}

impl Sn {
    fn url(&self, path: &str) -> String {
        format!("{}/api/now/table/{path}", self.base)
    }
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut r = self
            .http
            .request(method, self.url(path))
            .basic_auth(&self.user, Some(&self.pass));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let h = r.headers().clone();
        let (s, v) = json(r).await;
        (s, v, h)
    }
}

async fn sn() -> (seam_sandbox::RunningSandbox, Sn) {
    let s = start().await;
    let c = &s.config.credentials;
    let sn = Sn {
        base: s.servicenow_url(),
        http: client(),
        user: c.snow_username.clone(),
        pass: c.snow_password.clone(),
    };
    (s, sn)
}

#[tokio::test]
async fn auth_basic_oauth_and_401() {
    let (s, sn) = sn().await;
    let r = sn.http.get(sn.url("incident")).send().await.unwrap();
    let (st, v) = json(r).await;
    assert_eq!(st, 401);
    assert_eq!(
        v,
        json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"})
    );
    let r = sn
        .http
        .get(sn.url("incident"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let c = &s.config.credentials;
    let form = [
        ("grant_type", "password"),
        ("client_id", c.snow_client_id.as_str()),
        ("client_secret", c.snow_client_secret.as_str()),
        ("username", c.snow_username.as_str()),
        ("password", c.snow_password.as_str()),
    ];
    let (st, v) = json(
        sn.http
            .post(format!("{}/oauth_token.do", sn.base))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["token_type"].as_str(), v["expires_in"].as_u64()),
        (200, Some("Bearer"), Some(1799))
    );
    let token = v["access_token"].as_str().unwrap();
    let r = sn
        .http
        .get(sn.url("incident"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", c.snow_client_id.as_str()),
        ("client_secret", c.snow_client_secret.as_str()),
        ("refresh_token", v["refresh_token"].as_str().unwrap()),
    ];
    let r = sn
        .http
        .post(format!("{}/oauth_token.do", sn.base))
        .form(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bad = [
        ("grant_type", "password"),
        ("client_id", "x"),
        ("client_secret", "y"),
    ];
    let (st, v) = json(
        sn.http
            .post(format!("{}/oauth_token.do", sn.base))
            .form(&bad)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (401, Some("server_error")));
    s.shutdown().await;
}

#[tokio::test]
async fn create_get_update_delete_with_events() {
    let (s, sn) = sn().await;
    let (st, user, _) = sn
        .send(
            reqwest::Method::POST,
            "sys_user",
            Some(json!({"user_name": "beth.anglin", "first_name": "Beth", "last_name": "Anglin"})),
        )
        .await;
    assert_eq!(st, 201);
    let user_id = user["result"]["sys_id"].as_str().unwrap().to_string();
    let (st, v, h) = sn
        .send(reqwest::Method::POST, "incident", Some(json!({"short_description": "Printer on fire", "impact": 1, "urgency": "2", "caller_id": user_id, "priority": "5", "u_sf_case_id": "5005g0000000001AAA", "work_notes": "first note"})))
        .await;
    assert_eq!(st, 201, "{v}");
    let r = &v["result"];
    let id = r["sys_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert!(h["location"]
        .to_str()
        .unwrap()
        .ends_with(&format!("/api/now/table/incident/{id}")));
    assert_eq!(r["number"], "INC0010001");
    assert_eq!(
        (r["impact"].as_str(), r["priority"].as_str()),
        (Some("1"), Some("2")),
        "priority from the matrix, not the body"
    );
    assert_eq!(r["caller_id"]["value"], user_id.as_str());
    assert_eq!(
        r["caller_id"]["link"],
        format!("{}/api/now/table/sys_user/{user_id}", sn.base)
    );
    assert_eq!(
        (r["sys_mod_count"].as_str(), r["work_notes"].as_str()),
        (Some("0"), Some(""))
    );
    assert_eq!(r["state"], "1");

    let (st, v, _) = sn.send(reqwest::Method::GET, &format!("incident/{id}?sysparm_display_value=true&sysparm_fields=number,caller_id,caller_id.user_name"), None).await;
    assert_eq!(st, 200);
    assert_eq!(
        v["result"],
        json!({"number": "INC0010001", "caller_id": "Beth Anglin", "caller_id.user_name": "beth.anglin"})
    );
    let (_, v, _) = sn.send(reqwest::Method::GET, &format!("incident/{id}?sysparm_display_value=all&sysparm_exclude_reference_link=true&sysparm_fields=caller_id,state"), None).await;
    assert_eq!(
        v["result"]["caller_id"],
        json!({"display_value": "Beth Anglin", "value": user_id})
    );
    assert_eq!(v["result"]["state"]["value"], "1");

    let (st, v, _) = sn
        .send(
            reqwest::Method::PATCH,
            &format!("incident/{id}"),
            Some(json!({"urgency": "1", "state": "2"})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        (
            v["result"]["priority"].as_str(),
            v["result"]["sys_mod_count"].as_str()
        ),
        (Some("1"), Some("1"))
    );
    let (st, v, _) = sn
        .send(
            reqwest::Method::PUT,
            &format!("incident/{id}"),
            Some(json!({"short_description": "x"})),
        )
        .await;
    assert_eq!(
        (st, v["result"]["sys_mod_count"].as_str()),
        (200, Some("2"))
    );
    let (st, _, _) = sn
        .send(reqwest::Method::DELETE, &format!("incident/{id}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, v, _) = sn
        .send(reqwest::Method::GET, &format!("incident/{id}"), None)
        .await;
    assert_eq!(st, 404);
    assert_eq!(v["error"]["message"], "No Record found");
    assert_eq!(v["status"], "failure");
    let (st, v, _) = sn.send(reqwest::Method::GET, "u_nope", None).await;
    assert_eq!(
        (st, v["error"]["message"].as_str()),
        (400, Some("Invalid table u_nope"))
    );

    let events: Vec<Value> = s
        .events(SystemKind::ServiceNow)
        .into_iter()
        .filter(|e| e["table"] == "incident")
        .collect();
    let ops: Vec<&str> = events
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["insert", "update", "update", "delete"]);
    assert_eq!(events[0]["record"]["work_notes"], "first note");
    assert_eq!(events[0]["record"]["number"], "INC0010001");
    assert_eq!(events[1]["sys_mod_count"], 1);
    assert_eq!(events[1]["sys_updated_by"], "admin");
    let changed: Vec<&str> = events[1]["changed_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "urgency",
        "state",
        "priority",
        "sys_mod_count",
        "sys_updated_on",
    ] {
        assert!(
            changed.contains(&f) || f == "sys_updated_on",
            "{f} not in {changed:?}"
        );
    }
    assert!(events[1]["record"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string));
    s.shutdown().await;
}

#[tokio::test]
async fn list_query_paging_headers() {
    let (s, sn) = sn().await;
    for i in 0..25 {
        s.snow_create("incident", json!({"short_description": format!("disk {i:02}"), "impact": (i % 3 + 1).to_string(), "urgency": "3"})).unwrap();
    }
    let (st, v, h) = sn
        .send(
            reqwest::Method::GET,
            "incident?sysparm_limit=10&sysparm_offset=10&sysparm_query=ORDERBYDESCnumber",
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(h["x-total-count"], "25");
    let link = h["link"].to_str().unwrap();
    for rel in ["first", "prev", "next", "last"] {
        assert!(link.contains(&format!("rel=\"{rel}\"")), "{link}");
    }
    assert!(link.contains("sysparm_offset=20"), "{link}");
    let res = v["result"].as_array().unwrap();
    assert_eq!(res.len(), 10);
    assert_eq!(res[0]["number"], "INC0010015");
    let count = |q: &str| {
        let q = seam_sandbox::util::percent_encode(q);
        let sn = &sn;
        async move {
            sn.send(
                reqwest::Method::GET,
                &format!("incident?sysparm_query={q}"),
                None,
            )
            .await
            .2["x-total-count"]
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        }
    };
    assert_eq!(count("impact=1").await, 9);
    assert_eq!(count("impact!=1").await, 16);
    assert_eq!(count("impact=1^ORimpact=2").await, 17);
    assert_eq!(count("impact=1^short_descriptionLIKE0").await, 4);
    assert_eq!(count("short_descriptionSTARTSWITHdisk 1").await, 10);
    assert_eq!(count("impactIN2,3^urgency=3").await, 16);
    assert_eq!(count("priority<4").await, 9);
    assert_eq!(
        count("sys_created_on>javascript:gs.dateGenerate('2020-01-01','00:00:00')").await,
        25
    );
    assert_eq!(
        count("no_such_field=1").await,
        25,
        "unknown fields are ignored"
    );
    assert_eq!(count("impact=1^NQimpact=2").await, 17);
    let (_, _, h) = sn
        .send(reqwest::Method::GET, "incident?impact=2", None)
        .await;
    assert_eq!(h["x-total-count"], "8");
    s.shutdown().await;
}

#[tokio::test]
async fn display_values_give_choice_labels_and_reference_names() {
    let (s, sn) = sn().await;
    let user = s
        .snow_create(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .unwrap();
    let id = s
        .snow_create(
            "incident",
            json!({"short_description": "labels", "impact": "1", "urgency": "2", "state": "2",
                   "severity": "3", "assigned_to": user}),
        )
        .unwrap();
    let fields =
        "sysparm_fields=state,impact,urgency,priority,severity,assigned_to,short_description";
    let (st, v, _) = sn
        .send(
            reqwest::Method::GET,
            &format!("incident/{id}?sysparm_display_value=true&{fields}"),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        v["result"],
        json!({"state": "In Progress", "impact": "1 - High", "urgency": "2 - Medium",
               "priority": "2 - High", "severity": "3 - Low", "assigned_to": "Ada Lovelace",
               "short_description": "labels"})
    );
    let (_, v, _) = sn
        .send(
            reqwest::Method::GET,
            &format!("incident/{id}?sysparm_display_value=all&{fields}"),
            None,
        )
        .await;
    let r = &v["result"];
    assert_eq!(
        r["state"],
        json!({"display_value": "In Progress", "value": "2"})
    );
    assert_eq!(
        r["priority"],
        json!({"display_value": "2 - High", "value": "2"})
    );
    assert_eq!(
        r["assigned_to"],
        json!({"display_value": "Ada Lovelace", "value": user,
               "link": format!("{}/api/now/table/sys_user/{user}", sn.base)})
    );
    assert_eq!(
        r["short_description"],
        json!({"display_value": "labels", "value": "labels"})
    );
    // Without display values: the stored codes.
    let (_, v, _) = sn
        .send(
            reqwest::Method::GET,
            &format!("incident/{id}?{fields}"),
            None,
        )
        .await;
    assert_eq!(
        (
            v["result"]["state"].as_str(),
            v["result"]["impact"].as_str()
        ),
        (Some("2"), Some("1"))
    );
    // Every state label, in a list read; an unknown code shows as itself.
    for (code, label) in [
        ("1", "New"),
        ("3", "On Hold"),
        ("6", "Resolved"),
        ("7", "Closed"),
        ("8", "Canceled"),
    ] {
        let (_, v, _) = sn
            .send(
                reqwest::Method::PATCH,
                &format!("incident/{id}?sysparm_display_value=true&sysparm_fields=state"),
                Some(json!({"state": code})),
            )
            .await;
        assert_eq!(v["result"]["state"], label, "state {code}");
    }
    let (_, v, _) = sn
        .send(
            reqwest::Method::PATCH,
            &format!("incident/{id}?sysparm_display_value=true&sysparm_fields=state"),
            Some(json!({"state": "42"})),
        )
        .await;
    assert_eq!(v["result"]["state"], "42");
    let (_, v, _) = sn
        .send(
            reqwest::Method::GET,
            "incident?sysparm_display_value=true&sysparm_fields=number,state,urgency",
            None,
        )
        .await;
    assert_eq!(v["result"][0]["urgency"], "2 - Medium");
    // The full record keeps the platform's key order (sorted) and every field.
    let (_, v, _) = sn
        .send(reqwest::Method::GET, &format!("incident/{id}"), None)
        .await;
    let keys: Vec<&String> = v["result"].as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(
        keys.len() > 20 && keys.iter().any(|k| *k == "work_notes"),
        "{keys:?}"
    );
    s.shutdown().await;
}

/// "Undelete Record" through the admin endpoint: the record comes back as it was, with an
/// `insert` event (the platform's undelete is an insert; business rules run).
#[tokio::test]
async fn a_deleted_record_is_restored_with_an_insert_event() {
    let s = start().await;
    let http = client();
    let c = &s.config.credentials;
    let id = s
        .snow_create("incident", json!({"short_description": "Core switch down"}))
        .unwrap();
    let r = http
        .delete(format!(
            "{}/api/now/table/incident/{id}",
            s.servicenow_url()
        ))
        .basic_auth(&c.snow_username, Some(&c.snow_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(s.snow_record("incident", &id).is_none());
    let restore = || {
        http.post(format!(
            "{}/__sandbox/undelete/incident/{id}",
            s.servicenow_url()
        ))
        .send()
    };
    let (st, v) = json(restore().await.unwrap()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["sys_id"], id.as_str());
    let rec = s.snow_record("incident", &id).unwrap();
    assert_eq!(rec["short_description"], "Core switch down");
    let events = s.events(SystemKind::ServiceNow);
    let last: &Value = events.last().unwrap();
    assert_eq!(last["operation"], "insert");
    assert_eq!(last["sys_id"], id.as_str());
    assert_eq!(last["record"]["short_description"], "Core switch down");
    assert!(last["changed_fields"]
        .as_array()
        .unwrap()
        .contains(&json!("short_description")));
    let (st, v) = json(restore().await.unwrap()).await;
    assert_eq!(
        (st, v["error"]["message"].as_str()),
        (404, Some("No Record found"))
    );
    s.shutdown().await;
}
