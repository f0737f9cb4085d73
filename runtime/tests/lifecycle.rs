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
