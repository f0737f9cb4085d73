//! End to end: the example's two-way Case <-> Incident sync through real HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_case_opens_an_incident_and_the_work_flows_back() {
    let w = World::start(fast_retry(3)).await;
    let (account, company) = w.customer("ACME-1");
    let case = w
        .sb
        .sf_create("Case", json!({"Subject": "Core switch down", "Description": "rack 4", "Type": "Infrastructure", "Priority": "High", "AccountId": account}), None)
        .unwrap();

    eventually(10, "an incident for the case", || {
        w.incidents_for(&case).len() == 1
    })
    .await;
    let inc = w.incidents_for(&case).remove(0);
    assert_eq!(inc["short_description"], "Core switch down");
    assert_eq!(inc["urgency"], "1", "High maps to urgency 1");
    assert_eq!(
        inc["company"],
        company.as_str(),
        "via customer: Account -> Customer_Key__c -> core_company"
    );
    let sys_id = inc["sys_id"].as_str().unwrap().to_string();
    let number = inc["number"].as_str().unwrap().to_string();

    eventually(10, "the incident number and state on the case", || {
        let c = w.sb.sf_record("Case", &case);
        field(&c, "Incident_Number__c").as_deref() == Some(number.as_str())
            && field(&c, "Incident_State__c").as_deref() == Some("New")
    })
    .await;

    let engineer =
        w.sb.snow_create(
            "sys_user",
            // `name` is derived from the first and last names, as on the platform.
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .unwrap();
    w.snow_patch(&sys_id, json!({"state": "2", "assigned_to": engineer}))
        .await;
    // `assigned_to` is a reference to sys_user feeding a text field: the user's name crosses
    // (LANGUAGE.md rule 7), not the sys_id.
    eventually(10, "state and assignee's name back on the case", || {
        let c = w.sb.sf_record("Case", &case);
        field(&c, "Incident_State__c").as_deref() == Some("In Progress")
            && field(&c, "Incident_Assignee__c").as_deref() == Some("Ada Lovelace")
    })
    .await;

    // A priority change on the Case flows across, mapped.
    w.sf_patch("Case", &case, json!({"Priority": "Low"})).await;
    eventually(10, "urgency 3 on the incident", || {
        field(&w.sb.snow_record("incident", &sys_id), "urgency").as_deref() == Some("3")
    })
    .await;

    // Echoes die by the diff: let everything settle, still one incident, and the store idle.
    let store = w.rt().store.clone();
    eventually(10, "the inbox drained", || {
        store.backlog(seam_runtime::store::now_ms()).unwrap().depth == 0
    })
    .await;
    assert_eq!(w.incidents_for(&case).len(), 1);

    // `why`: the chain of the case's incident state, newest first.
    let chain = store.audit_of(&case, "Incident_State__c", 10).unwrap();
    assert_eq!(chain[0].new_value.as_deref(), Some("In Progress"));
    assert_eq!(chain[0].old_value.as_deref(), Some("New"));
    assert_eq!(
        chain[0].rule,
        "snow.incident.state -> sf.Case.Incident_State__c"
    );
    assert_eq!(chain[0].plan_hash, plan().spec_hash);
    assert_eq!(chain.last().unwrap().new_value.as_deref(), Some("New"));
    // The case's create and the incident's create race for the pair; the number is written once.
    let number_chain = store.audit_of(&case, "Incident_Number__c", 10).unwrap();
    assert_eq!(number_chain.len(), 1, "{number_chain:#?}");
    // Our Salesforce writes carried `client=seam`, so their change events came back as echoes.
    let m = w.rt().metrics.render(Default::default());
    assert!(
        m.contains("seam_events_out_total{system=\"sf\",outcome=\"echo\"}"),
        "{m}"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_of_another_type_opens_nothing() {
    let w = World::start(fast_retry(3)).await;
    let case =
        w.sb.sf_create(
            "Case",
            json!({"Subject": "Invoice", "Type": "Billing"}),
            None,
        )
        .unwrap();
    let store = w.rt().store.clone();
    eventually(10, "the event handled", || {
        let b = store.backlog(seam_runtime::store::now_ms()).unwrap();
        b.depth == 0
            && w.sb
                .webhook_stats(seam_sandbox::SystemKind::Salesforce)
                .delivered
                >= 1
    })
    .await;
    assert!(w.incidents_for(&case).is_empty());
    w.shutdown().await;
}

/// `open ... when` through a reference: the Case's Account's tier decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_rule_through_a_reference_reads_the_referenced_record() {
    let spec = spec().replace(
        r#"open snow.incident when sf.Case.Type == "Infrastructure""#,
        r#"open snow.incident when sf.Case.Account.Tier__c == "Strategic""#,
    );
    assert!(spec.contains("sf.Case.Account.Tier__c == \"Strategic\"\n"));
    let w = World::start_spec(&spec, fast_retry(3)).await;
    let (strategic, _) = w.customer("STRAT-1");
    let (standard, _) = w.customer("STD-1");
    w.sf_patch("Account", &strategic, json!({"Tier__c": "Strategic"}))
        .await;
    w.sf_patch("Account", &standard, json!({"Tier__c": "Standard"}))
        .await;
    let opened =
        w.sb.sf_create(
            "Case",
            json!({"Subject": "Down", "Type": "Billing", "AccountId": strategic}),
            None,
        )
        .unwrap();
    let skipped =
        w.sb.sf_create(
            "Case",
            json!({"Subject": "Down too", "Type": "Infrastructure", "AccountId": standard}),
            None,
        )
        .unwrap();
    let orphan =
        w.sb.sf_create("Case", json!({"Subject": "No account"}), None)
            .unwrap();
    eventually(10, "an incident for the strategic customer's case", || {
        w.incidents_for(&opened).len() == 1
    })
    .await;
    w.settle().await;
    assert!(
        w.incidents_for(&skipped).is_empty(),
        "a standard tier opens nothing"
    );
    assert!(w.incidents_for(&orphan).is_empty(), "no account, no tier");
    assert!(w.rt().store.dead_letters(false).unwrap().is_empty());
    w.shutdown().await;
}
