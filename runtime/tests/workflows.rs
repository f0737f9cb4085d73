//! End to end: the example's `sev1_bridge` workflow and its policy alert, against the sandbox
//! over real HTTP. A strategic Case that becomes Critical opens one incident, creates one Task
//! for the account owner, creates `sev1-<CaseNumber>` and posts there; nothing else does;
//! duplicates and replays repeat nothing; a failing Slack step dead-letters and resumes on
//! replay without a second Task; the backlog alert fires once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use seam_runtime::store::{now_ms, ObservedKey, RunStatus, StepStatus};
use seam_sandbox::{FaultConfig, SystemKind};
use serde_json::{json, Value};
use std::time::Duration;

fn text(v: &Value, f: &str) -> String {
    v.get(f)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A Case on `account`, Type `Question` so the link's own `open ... when` never opens an
/// incident: only the workflow does. Returns (Case Id, CaseNumber).
async fn case_on(w: &World, account: &str, subject: &str) -> (String, String) {
    let case = w
        .sb
        .sf_create(
            "Case",
            json!({"Subject": subject, "Type": "Question", "Priority": "High", "AccountId": account}),
            None,
        )
        .unwrap();
    let number = text(&w.sb.sf_record("Case", &case).unwrap(), "CaseNumber");
    // Let the create event be handled first, so Priority = High is the observed value.
    let store = w.rt().store.clone();
    let key = ObservedKey {
        system: "sf".into(),
        object: "Case".into(),
        record: case.clone(),
        field: "Priority".into(),
    };
    eventually(10, "the Case's create event is handled", || {
        store.observed_value(&key).unwrap() == Some(Some("High".into()))
    })
    .await;
    (case, number)
}

fn channel(w: &World, name: &str) -> Vec<Value> {
    w.sb.slack_channels()
        .into_iter()
        .filter(|c| text(c, "name") == name)
        .collect()
}

fn runs_done(w: &World, case: &str) -> usize {
    w.rt()
        .store
        .runs_of_record("sf", case)
        .unwrap()
        .iter()
        .filter(|r| r.status == RunStatus::Done)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategic_case_becoming_critical_runs_every_step_once() {
    let w = World::start(fast_retry(3)).await;
    let account = w.tiered_customer("ACME", "Strategic");
    let owner = text(&w.sb.sf_record("Account", &account).unwrap(), "OwnerId");
    let (case, number) = case_on(&w, &account, "Checkout API returns 502").await;
    w.sf_patch("Case", &case, json!({"Priority": "Critical"}))
        .await;

    let bridge = format!("sev1-{number}");
    eventually(15, "the run to finish", || runs_done(&w, &case) == 1).await;
    let incidents = w.incidents_for(&case);
    assert_eq!(incidents.len(), 1, "one incident, opened through the link");
    assert_eq!(
        text(&incidents[0], "short_description"),
        "Checkout API returns 502"
    );
    assert_eq!(
        text(&incidents[0], "urgency"),
        "1",
        "the link's mappings wrote it"
    );
    let tasks = w.sf_where("Task", "WhatId", &case);
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        text(&tasks[0], "OwnerId"),
        owner,
        "the account owner's task"
    );
    assert_eq!(
        text(&tasks[0], "Subject"),
        format!("Sev-1 on {number}: Checkout API returns 502")
    );
    let channels = channel(&w, &bridge);
    assert_eq!(channels.len(), 1);
    let messages = w.sb.slack_messages(&text(&channels[0], "id"));
    assert_eq!(messages.len(), 1);
    assert_eq!(
        text(&messages[0], "text"),
        "Sev-1 for ACME Ltd: Checkout API returns 502"
    );

    // `seam why` explains the Task and the message.
    w.settle().await;
    let task = text(&tasks[0], "Id");
    let why = w.rt().store.audit_of(&task, "Subject", 5).unwrap();
    assert_eq!(why.len(), 1);
    assert_eq!(why[0].rule, "workflow sev1_bridge step 2: sf.create Task");
    assert_eq!(why[0].outcome, "created");
    let posted = w
        .rt()
        .store
        .audit_of(&text(&channels[0], "id"), "message", 5)
        .unwrap();
    assert_eq!(posted[0].rule, "workflow sev1_bridge step 4: chat.post");

    // The same trigger delivered again under another replay id (a relay's redelivery), the
    // exact duplicate, and an unrelated edit: state says Priority was Critical already.
    let trigger =
        w.sb.events(SystemKind::Salesforce)
            .into_iter()
            .rfind(|e| {
                e.pointer("/payload/ChangeEventHeader/changedFields")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|f| f == "Priority"))
            })
            .unwrap();
    let mut redelivered = trigger.clone();
    redelivered["event"]["replayId"] = json!(999_999);
    assert_eq!(w.post_sf_hook(&trigger).await, 200);
    assert_eq!(w.post_sf_hook(&redelivered).await, 200);
    w.sf_patch("Case", &case, json!({"Description": "customers see 502"}))
        .await;
    let store = w.rt().store.clone();
    eventually(10, "the inbox to drain", || {
        store.backlog(now_ms()).unwrap().depth == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(w.rt().store.runs_of_record("sf", &case).unwrap().len(), 1);
    assert_eq!(w.sf_where("Task", "WhatId", &case).len(), 1);
    assert_eq!(w.incidents_for(&case).len(), 1);
    assert_eq!(w.sb.slack_messages(&bridge).len(), 1);

    // A new transition is a new trigger: it runs again, and reuses the bridge channel
    // (Slack's `name_taken`) instead of failing.
    // (Each value must be seen: two changes read in one go are one state, not two transitions.)
    w.sf_patch("Case", &case, json!({"Priority": "High"})).await;
    let key = ObservedKey {
        system: "sf".into(),
        object: "Case".into(),
        record: case.clone(),
        field: "Priority".into(),
    };
    eventually(10, "Priority = High observed", || {
        store.observed_value(&key).unwrap() == Some(Some("High".into()))
    })
    .await;
    w.sf_patch("Case", &case, json!({"Priority": "Critical"}))
        .await;
    eventually(15, "the second run to finish", || runs_done(&w, &case) == 2).await;
    assert_eq!(channel(&w, &bridge).len(), 1, "the channel is reused");
    assert_eq!(w.sb.slack_messages(&bridge).len(), 2);
    assert_eq!(w.sf_where("Task", "WhatId", &case).len(), 2);
    assert_eq!(
        w.incidents_for(&case).len(),
        1,
        "the twin is found, not opened again"
    );
    let metrics = w.rt().metrics.render(Default::default());
    assert!(
        metrics.contains(r#"seam_workflow_runs_total{workflow="sev1_bridge",outcome="done"} 2"#),
        "{metrics}"
    );
    w.shutdown().await;
}

/// A template may walk two references (`sf.Case.Account.Owner.Name`: Case -> Account ->
/// User): the runtime reads it in the Case's one SOQL query (`Account.Owner.Name`), and the
/// message carries the account owner's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_walking_two_references_reads_the_account_owner() {
    let post = r#"chat.post(channel = bridge, text = "Sev-1 for {sf.Case.Account.Name}: {sf.Case.Subject}")"#;
    let spec = spec();
    assert!(spec.contains(post), "the example's post step changed");
    let spec = spec.replace(
        post,
        r#"chat.post(channel = bridge, text = "Sev-1 for {sf.Case.Account.Name} (owner {sf.Case.Account.Owner.Name}): {sf.Case.Subject}")"#,
    );
    let w = World::start_spec(&spec, fast_retry(3)).await;
    let account = w.tiered_customer("ACME", "Strategic");
    let owner = text(&w.sb.sf_record("Account", &account).unwrap(), "OwnerId");
    let owner_name = text(&w.sb.sf_record("User", &owner).unwrap(), "Name");
    assert!(!owner_name.is_empty(), "the account's owner has a name");
    let (case, number) = case_on(&w, &account, "Checkout API returns 502").await;
    w.sf_patch("Case", &case, json!({"Priority": "Critical"}))
        .await;
    eventually(15, "the run to finish", || runs_done(&w, &case) == 1).await;
    let channels = channel(&w, &format!("sev1-{number}"));
    assert_eq!(channels.len(), 1);
    let messages = w.sb.slack_messages(&text(&channels[0], "id"));
    assert_eq!(messages.len(), 1);
    assert_eq!(
        text(&messages[0], "text"),
        format!("Sev-1 for ACME Ltd (owner {owner_name}): Checkout API returns 502")
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_that_is_not_strategic_runs_nothing() {
    let w = World::start(fast_retry(3)).await;
    let account = w.tiered_customer("SMALL", "Standard");
    let (case, number) = case_on(&w, &account, "Printer jammed").await;
    w.sf_patch("Case", &case, json!({"Priority": "Critical"}))
        .await;
    // A strategic one after it, as the marker that the first was handled.
    let strategic = w.tiered_customer("BIG", "Strategic");
    let (other, _) = case_on(&w, &strategic, "Core switch down").await;
    w.sf_patch("Case", &other, json!({"Priority": "Critical"}))
        .await;
    eventually(15, "the strategic run to finish", || {
        runs_done(&w, &other) == 1
    })
    .await;
    assert!(w.rt().store.runs_of_record("sf", &case).unwrap().is_empty());
    assert!(w.sf_where("Task", "WhatId", &case).is_empty());
    assert!(w.incidents_for(&case).is_empty());
    assert!(channel(&w, &format!("sev1-{number}")).is_empty());
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_slack_step_dead_letters_and_resumes_on_replay_without_a_second_task() {
    let w = World::start(fast_retry(3)).await;
    let account = w.tiered_customer("ACME", "Strategic");
    let (case, number) = case_on(&w, &account, "Checkout API returns 502").await;
    w.sb.set_faults(
        SystemKind::Slack,
        FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        },
    );
    w.sf_patch("Case", &case, json!({"Priority": "Critical"}))
        .await;
    let store = w.rt().store.clone();
    eventually(15, "the event to dead-letter", || {
        !store.dead_letters(false).unwrap().is_empty()
    })
    .await;
    let letter = store.dead_letters(false).unwrap().remove(0);
    assert_eq!(letter.attempts, 3, "retried with the policy's attempts");
    for part in [
        "workflow `sev1_bridge` step 3 (let bridge = chat.create_channel)",
        &format!("sf.Case `{case}`"),
        "HTTP 500",
        "internal_error",
    ] {
        assert!(
            letter.reason.contains(part),
            "`{part}` not in: {}",
            letter.reason
        );
    }
    // Steps 1 and 2 are done, once; step 3 was attempted three times.
    let run = store.runs_of_record("sf", &case).unwrap().remove(0);
    let steps = store.run_steps(run.id).unwrap();
    assert_eq!(steps.len(), 3);
    assert!(steps[..2]
        .iter()
        .all(|s| s.status == StepStatus::Done && s.attempts == 1));
    assert_eq!(steps[2].status, StepStatus::Begun);
    assert_eq!(steps[2].attempts, 3);
    assert_eq!(w.sf_where("Task", "WhatId", &case).len(), 1);

    w.sb.set_faults(SystemKind::Slack, FaultConfig::default());
    assert!(store.replay_dead_letter(letter.id, now_ms()).unwrap());
    eventually(15, "the replayed run to finish", || {
        runs_done(&w, &case) == 1
    })
    .await;
    assert_eq!(
        w.sf_where("Task", "WhatId", &case).len(),
        1,
        "no second Task"
    );
    assert_eq!(w.incidents_for(&case).len(), 1);
    let bridge = format!("sev1-{number}");
    assert_eq!(channel(&w, &bridge).len(), 1);
    assert_eq!(w.sb.slack_messages(&bridge).len(), 1);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_alert_fires_once_when_dead_letters_pass_the_threshold() {
    // One attempt: every failure dead-letters at once.
    let w = World::start(fast_retry(1)).await;
    let c = &w.sb.config.credentials;
    let created: Value = w
        .http
        .post(format!("{}/api/conversations.create", w.sb.slack_url()))
        .bearer_auth(&c.slack_token)
        .json(&json!({"name": "seam-ops"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["ok"], true, "{created}");
    w.sb.set_faults(
        SystemKind::ServiceNow,
        FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        },
    );
    for n in 0..10 {
        w.sb.sf_create(
            "Case",
            json!({"Subject": format!("outage {n}"), "Type": "Infrastructure"}),
            None,
        )
        .unwrap();
    }
    let store = w.rt().store.clone();
    eventually(15, "ten dead letters", || {
        store.backlog(now_ms()).unwrap().dead_letters == 10
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        w.sb.slack_messages("seam-ops").is_empty(),
        "10 is not over the threshold of 10"
    );
    for n in 10..13 {
        w.sb.sf_create(
            "Case",
            json!({"Subject": format!("outage {n}"), "Type": "Infrastructure"}),
            None,
        )
        .unwrap();
    }
    eventually(15, "the alert", || {
        !w.sb.slack_messages("seam-ops").is_empty()
    })
    .await;
    // Many evaluations later, still one message: the rising edge only.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = w.sb.slack_messages("seam-ops");
    assert_eq!(messages.len(), 1, "{messages:?}");
    let said = text(&messages[0], "text");
    assert!(said.starts_with("seam backlog: 1"), "{said}");
    assert!(said.contains(" dead letters, lag "), "{said}");
    let metrics = w.rt().metrics.render(Default::default());
    assert!(
        metrics.contains(r#"seam_alerts_total{outcome="sent"} 1"#),
        "{metrics}"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_writing_a_replica_is_refused_audited_and_never_sent() {
    use seam_compiler::plan::{
        FieldPath, Literal, ObjectPath, PlanAssignment, PlanStep, PlanValue,
    };
    // The compiler rejects this spec (rule 7); a hand-edited Plan must meet the same wall.
    let mut plan = plan();
    let field = |f: &str| FieldPath {
        system: "sf".into(),
        object: "Case".into(),
        field: f.into(),
    };
    let literal = |v: &str| PlanValue::Literal {
        value: Literal::String(v.into()),
    };
    plan.workflows[0].steps.push(PlanStep::Update {
        object: ObjectPath {
            system: "sf".into(),
            object: "Case".into(),
        },
        link: None,
        assignments: vec![
            PlanAssignment {
                field: field("Incident_Number__c"),
                value: literal("INC-FORGED"),
            },
            PlanAssignment {
                field: field("Description"),
                value: literal("sev-1 bridge open"),
            },
        ],
    });
    let w = World::start_with(fast_retry(3), plan).await;
    let account = w.tiered_customer("ACME", "Strategic");
    let (case, _) = case_on(&w, &account, "Checkout API returns 502").await;
    w.sf_patch("Case", &case, json!({"Priority": "Critical"}))
        .await;
    eventually(15, "the run to finish", || runs_done(&w, &case) == 1).await;
    let record = w.sb.sf_record("Case", &case).unwrap();
    assert_eq!(
        text(&record, "Description"),
        "sev-1 bridge open",
        "the owned field is written"
    );
    assert_ne!(
        text(&record, "Incident_Number__c"),
        "INC-FORGED",
        "the replica is not"
    );
    // The workflow's own write crosses the link like a person's edit.
    eventually(10, "the description on the incident", || {
        w.incidents_for(&case)
            .first()
            .is_some_and(|i| text(i, "description") == "sev-1 bridge open")
    })
    .await;
    w.settle().await;
    let refused = w
        .rt()
        .store
        .audit_of(&case, "Incident_Number__c", 10)
        .unwrap();
    let row = refused.iter().find(|a| a.outcome == "refused").unwrap();
    assert_eq!(row.rule, "workflow sev1_bridge step 5: sf.update Case");
    assert_eq!(row.new_value.as_deref(), Some("INC-FORGED"));
    let metrics = w.rt().metrics.render(Default::default());
    assert!(
        metrics.contains(r#"seam_refused_writes_total{system="sf"} 1"#),
        "{metrics}"
    );
    w.shutdown().await;
}

/// An event that leaves a trigger field as it was observed does not write the observation
/// again (the row, `observed_at` included, stays as it was: one random B-tree page fewer per
/// event); a changed value is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_trigger_value_is_not_written_again() {
    let w = World::start(fast_retry(3)).await;
    let account = w.tiered_customer("ACME", "Standard");
    let (case, _) = case_on(&w, &account, "first").await;
    let db = rusqlite::Connection::open(w.dir.path().join("seam.db")).unwrap();
    let row = || -> (Option<String>, i64) {
        db.query_row(
            "SELECT value, observed_at FROM workflow_observed \
             WHERE record_id = ?1 AND field = 'Priority'",
            [&case],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let first = row();
    assert_eq!(first.0.as_deref(), Some("High"));
    w.sf_patch("Case", &case, json!({"Subject": "second"}))
        .await;
    w.settle().await;
    assert_eq!(row(), first);
    w.sf_patch("Case", &case, json!({"Priority": "Low"})).await;
    w.settle().await;
    let (value, at) = row();
    assert_eq!(value.as_deref(), Some("Low"));
    assert!(at >= first.1, "{at} < {}", first.1);
    w.shutdown().await;
}
