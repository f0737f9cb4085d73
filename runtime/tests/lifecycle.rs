//! End to end: what happens when one record of a linked pair is deleted. Nothing is deleted
//! on the other side; the pair ends, is audited, and is never written to or re-opened.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use seam_sandbox::SystemKind;
use serde_json::{json, Value};
use std::time::Duration;

fn ended(w: &World, case: &str) -> Option<String> {
    w.rt()
        .store
        .link_row("case_incident", true, case)
        .unwrap()
        .and_then(|r| r.ended_reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_incident_ends_the_pair_and_is_not_opened_again() {
    let w = World::start(fast_retry(3)).await;
    let (case, incident) = w.linked_case("ACME-1").await;
    w.delete(SystemKind::ServiceNow, "incident", &incident)
        .await;
    eventually(10, "the pair ended", || ended(&w, &case).is_some()).await;
    let reason = ended(&w, &case).unwrap();
    assert!(
        reason.contains(&incident) && reason.contains("snow.incident"),
        "{reason}"
    );

    // The case lives on, untouched; its next change neither writes to the dead incident nor
    // opens a new one, although the open rule still holds.
    w.sf_patch("Case", &case, json!({"Subject": "Core switch still down"}))
        .await;
    w.settle().await;
    assert!(w.sb.sf_record("Case", &case).is_some());
    assert!(w.incidents_for(&case).is_empty(), "no incident re-created");
    let store = &w.rt().store;
    assert!(store.dead_letters(false).unwrap().is_empty());
    // `seam why` on the case's replica shows the end of the pair, newest first.
    let chain = store.audit_of(&case, "Incident_Number__c", 10).unwrap();
    assert_eq!(chain[0].outcome, "unlinked", "{chain:#?}");
    assert_eq!(chain[0].old_value.as_deref(), Some(incident.as_str()));
    assert!(
        chain[0].rule.contains("link `case_incident` ended"),
        "{}",
        chain[0].rule
    );
    assert_eq!(chain[1].outcome, "written");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_case_leaves_its_incident_alone() {
    let w = World::start(fast_retry(3)).await;
    let (case, incident) = w.linked_case("ACME-1").await;
    w.delete(SystemKind::Salesforce, "Case", &case).await;
    eventually(10, "the pair ended", || ended(&w, &case).is_some()).await;
    // The engineer goes on working the incident: nothing is written to the deleted case and
    // nothing fails.
    w.snow_patch(&incident, json!({"state": "2"})).await;
    w.settle().await;
    let inc = w.sb.snow_record("incident", &incident).unwrap();
    assert_eq!(
        inc["short_description"], "Core switch down",
        "kept as it was"
    );
    assert_eq!(inc["correlation_id"], Value::String(case.clone()));
    let store = &w.rt().store;
    assert!(store.dead_letters(false).unwrap().is_empty());
    let chain = store.audit_of(&incident, "short_description", 10).unwrap();
    assert_eq!(chain[0].outcome, "unlinked");
    assert_eq!(chain[0].source_system, "sf");
    // The key field on the incident says so too.
    let key = store.audit_of(&incident, "correlation_id", 10).unwrap();
    assert_eq!(key[0].outcome, "unlinked");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_gone_without_its_event_ends_the_pair_on_the_404_of_a_write() {
    let w = World::start(fast_retry(3)).await;
    let (case, incident) = w.linked_case("ACME-1").await;
    // The delete event is lost.
    w.mute();
    w.delete(SystemKind::ServiceNow, "incident", &incident)
        .await;
    w.unmute();
    w.sf_patch("Case", &case, json!({"Subject": "Is anyone there?"}))
        .await;
    eventually(10, "the pair ended on the 404", || {
        ended(&w, &case).is_some()
    })
    .await;
    assert!(ended(&w, &case).unwrap().contains("404 when written"));
    w.settle().await;
    let store = &w.rt().store;
    assert!(
        store.dead_letters(false).unwrap().is_empty(),
        "an ended pair, not a dead letter"
    );
    let m = w.rt().metrics.render(Default::default());
    assert!(
        !m.contains("seam_retries_total{system=\"sf\"}"),
        "no retry storm: {m}"
    );
    assert!(w.incidents_for(&case).is_empty());
    w.shutdown().await;
}

/// The operator's way back: the incident is deleted (the pair ends, the case's next change
/// writes nothing), relinking is refused while it is gone, then it is restored and relinked,
/// and the case's changes flow to it again; the end and the resume both stay in the audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_incident_is_relinked_and_the_case_flows_to_it_again() {
    use seam_runtime::pairs::{relink, RelinkError};
    let w = World::start(fast_retry(3)).await;
    let (case, incident) = w.linked_case("ACME-1").await;
    w.delete(SystemKind::ServiceNow, "incident", &incident)
        .await;
    eventually(10, "the pair ended", || ended(&w, &case).is_some()).await;
    w.sf_patch("Case", &case, json!({"Subject": "Written to no one"}))
        .await;
    w.settle().await;
    let engine = w.tool_engine();

    // Still deleted: refused, naming the record and where to restore it; nothing changes.
    match relink(&engine, &case, None).await {
        Err(RelinkError::Refused(m)) => assert!(
            m.contains(&incident) && m.contains("still gone") && m.contains("Deleted Records"),
            "{m}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(ended(&w, &case).is_some());
    match relink(&engine, "no-such-record", None).await {
        Err(RelinkError::Refused(m)) => assert!(m.contains("no pair holds"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Restored in ServiceNow: its insert event finds the pair ended and does nothing.
    w.sb.snow_undelete("incident", &incident).unwrap();
    w.settle().await;
    assert!(
        ended(&w, &case).is_some(),
        "a restore alone does not relink"
    );
    let inc = w.sb.snow_record("incident", &incident).unwrap();
    assert_eq!(inc["short_description"], "Core switch down");

    let done = relink(&engine, &incident, None).await.unwrap();
    assert_eq!(done.len(), 1);
    assert!(done[0].resumed, "{done:?}");
    assert!(done[0].restored.as_deref().unwrap().contains(&incident));
    // (The runtime's store caches the row until its next claim: read the file itself.)
    let row = engine.store.link_row("case_incident", true, &case).unwrap();
    assert!(row.unwrap().live());
    let again = relink(&engine, &case, None).await.unwrap();
    assert!(!again[0].resumed, "a live pair is left as it is");

    // The case's next change flows again, with what changed while the pair was ended.
    w.sf_patch("Case", &case, json!({"Priority": "Critical"}))
        .await;
    eventually(10, "the incident follows the case again", || {
        w.sb.snow_record("incident", &incident)
            .is_some_and(|i| i["short_description"] == "Written to no one")
    })
    .await;
    let store = &w.rt().store;
    assert!(store.dead_letters(false).unwrap().is_empty());
    // The survivor's replica shows the end and then the resume, newest first.
    let chain = store.audit_of(&case, "Incident_Number__c", 10).unwrap();
    let outcomes: Vec<&str> = chain.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(&outcomes[..2], ["relinked", "unlinked"], "{chain:#?}");
    assert!(chain[0].rule.contains("resumed"), "{}", chain[0].rule);
    assert_eq!(chain[0].source_event, "relink");
    w.shutdown().await;
}

/// Retention: done events go, and a platform's redelivery of a pruned event is accepted as
/// new, runs, and writes nothing (events are hints; the diff finds nothing to do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_pruned_event_is_accepted_again_and_writes_nothing() {
    let w = World::start(fast_retry(3)).await;
    let (case, incident) = w.linked_case("ACME-1").await;
    w.sf_patch("Case", &case, json!({"Subject": "Once"})).await;
    eventually(10, "the incident follows", || {
        w.sb.snow_record("incident", &incident)
            .is_some_and(|i| i["short_description"] == "Once")
    })
    .await;
    w.settle().await;
    let update =
        w.sb.events(SystemKind::Salesforce)
            .into_iter()
            .rev()
            .find(|e| e.pointer("/payload/Subject") == Some(&json!("Once")))
            .unwrap();
    let store = w.rt().store.clone();
    let before = store.audit_of(&incident, "short_description", 50).unwrap();
    let mods =
        |w: &World| w.sb.snow_record("incident", &incident).unwrap()["sys_mod_count"].clone();
    let mods_before = mods(&w);

    // The repeat is a duplicate while its event is kept...
    assert_eq!(w.post_sf_hook(&update).await, 200);
    let dup = metric(
        &w.rt().metrics.render(Default::default()),
        "seam_events_duplicate_total{system=\"sf\"}",
    );
    assert!(dup >= 1.0, "{dup}");
    // ...and new once it was pruned: it runs again, and finds nothing to write.
    let pruned = seam_runtime::retention::prune(store.as_ref(), Duration::ZERO, &|| false)
        .await
        .unwrap();
    assert!(pruned >= 2, "{pruned}");
    assert_eq!(w.post_sf_hook(&update).await, 200);
    w.settle().await;
    let m = w.rt().metrics.render(Default::default());
    assert_eq!(
        metric(&m, "seam_events_duplicate_total{system=\"sf\"}"),
        dup,
        "accepted as new"
    );
    let after = store.audit_of(&incident, "short_description", 50).unwrap();
    assert_eq!(after.len(), before.len(), "nothing written: {after:#?}");
    assert_eq!(mods(&w), mods_before, "the incident was not touched");
    assert!(store.dead_letters(false).unwrap().is_empty());
    w.shutdown().await;
}
