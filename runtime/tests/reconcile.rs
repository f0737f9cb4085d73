//! End to end: drift written straight to the platforms (no event reaches the runtime) is
//! found by `reconcile`, left alone by a report, repaired by `--apply` through the write path,
//! and a pair whose twin is gone is reported and ended.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use seam_runtime::reconcile::{reconcile, Scope, CAUSE};
use seam_sandbox::SystemKind;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reported_then_repaired_and_a_clean_pair_reports_nothing() {
    let w = World::start(fast_retry(3)).await;
    let (case, incident) = w.linked_case("ACME-1").await;
    let (clean_case, _) = w.linked_case("ACME-2").await;
    let engine = w.tool_engine();
    let all = Scope::default();

    let report = reconcile(&engine, &all, false, &()).await.unwrap();
    assert_eq!(report.pairs, 2);
    assert!(report.in_sync(), "{report:#?}");

    // Someone edits both replicas directly, and no event reaches the runtime.
    w.mute();
    w.snow_patch(
        &incident,
        json!({"short_description": "edited in ServiceNow", "urgency": "3"}),
    )
    .await;
    w.sf_patch("Case", &case, json!({"Incident_State__c": "Closed"}))
        .await;
    let audit_before = engine
        .store
        .audit_of(&incident, "short_description", 50)
        .unwrap();

    let report = reconcile(&engine, &all, false, &()).await.unwrap();
    let found: Vec<(&str, &str, Option<&str>, Option<&str>)> = report
        .drift
        .iter()
        .map(|d| {
            (
                d.record.as_str(),
                d.field.as_str(),
                d.expected.as_deref(),
                d.actual.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                case.as_str(),
                "Incident_State__c",
                Some("New"),
                Some("Closed")
            ),
            (
                incident.as_str(),
                "short_description",
                Some("Core switch down"),
                Some("edited in ServiceNow")
            ),
            (incident.as_str(), "urgency", Some("1"), Some("3")),
        ],
        "{report:#?}"
    );
    assert!(report.drift.iter().all(|d| !d.repaired));
    assert_eq!(report.drift[1].source_record, case);
    // A report writes nothing.
    let inc = w.sb.snow_record("incident", &incident).unwrap();
    assert_eq!(inc["short_description"], "edited in ServiceNow");
    assert_eq!(
        engine
            .store
            .audit_of(&incident, "short_description", 50)
            .unwrap(),
        audit_before
    );

    // One record's scope sees only its pair.
    let scoped = Scope {
        record: Some(clean_case.clone()),
        ..Scope::default()
    };
    let r = reconcile(&engine, &scoped, false, &()).await.unwrap();
    assert_eq!((r.pairs, r.in_sync()), (1, true));

    let repaired = reconcile(&engine, &all, true, &()).await.unwrap();
    assert_eq!(repaired.drift.len(), 3);
    assert!(repaired.all_repaired(), "{repaired:#?}");
    let inc = w.sb.snow_record("incident", &incident).unwrap();
    assert_eq!(inc["short_description"], "Core switch down");
    assert_eq!(inc["urgency"], "1");
    assert_eq!(
        field(&w.sb.sf_record("Case", &case), "Incident_State__c").as_deref(),
        Some("New")
    );
    let chain = engine
        .store
        .audit_of(&incident, "short_description", 5)
        .unwrap();
    assert_eq!(chain[0].source_event, CAUSE);
    assert_eq!(chain[0].outcome, "written");
    assert_eq!(chain[0].old_value.as_deref(), Some("edited in ServiceNow"));
    assert_eq!(chain[0].new_value.as_deref(), Some("Core switch down"));

    let after = reconcile(&engine, &all, false, &()).await.unwrap();
    assert!(after.in_sync(), "{after:#?}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_that_is_gone_is_reported_and_its_pair_ended_on_apply() {
    let w = World::start(fast_retry(3)).await;
    let (case, incident) = w.linked_case("ACME-1").await;
    w.mute();
    w.delete(SystemKind::ServiceNow, "incident", &incident)
        .await;
    let engine = w.tool_engine();
    let report = reconcile(&engine, &Scope::default(), false, &())
        .await
        .unwrap();
    assert_eq!(report.missing.len(), 1, "{report:#?}");
    let m = &report.missing[0];
    assert_eq!(
        (
            m.system.as_str(),
            m.record.as_str(),
            m.twin_record.as_str(),
            m.ended
        ),
        ("snow", incident.as_str(), case.as_str(), false)
    );
    let link = engine
        .store
        .link_row("case_incident", true, &case)
        .unwrap()
        .unwrap();
    assert!(link.live(), "a report ends nothing");

    let applied = reconcile(&engine, &Scope::default(), true, &())
        .await
        .unwrap();
    assert!(applied.missing[0].ended && applied.all_repaired());
    let link = engine
        .store
        .link_row("case_incident", true, &case)
        .unwrap()
        .unwrap();
    assert!(!link.live());
    let chain = engine
        .store
        .audit_of(&case, "Incident_State__c", 5)
        .unwrap();
    assert_eq!(
        (chain[0].outcome.as_str(), chain[0].source_event.as_str()),
        ("unlinked", CAUSE)
    );
    // Ended pairs are not checked again; nothing is re-created.
    let again = reconcile(&engine, &Scope::default(), false, &())
        .await
        .unwrap();
    assert_eq!((again.pairs, again.in_sync()), (0, true));
    assert!(w.incidents_for(&case).is_empty());
    assert!(reconcile(
        &engine,
        &Scope {
            link: Some("nope".into()),
            ..Scope::default()
        },
        false,
        &()
    )
    .await
    .is_err());
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_every_d_repairs_drift_inside_the_runtime() {
    let spec = spec().replace(
        "  dead_letter = after retry\n",
        "  dead_letter = after retry\n  reconcile   = every 1s\n",
    );
    assert!(spec.contains("every 1s"));
    let w = World::start_spec(&spec, fast_retry(3)).await;
    let (_, incident) = w.linked_case("ACME-1").await;
    // A direct edit of a replica: its event reaches the runtime but maps nothing back, so
    // only reconcile can repair it.
    w.snow_patch(&incident, json!({"short_description": "edited"}))
        .await;
    eventually(10, "the replica repaired in the background", || {
        w.sb.snow_record("incident", &incident)
            .is_some_and(|i| i["short_description"] == "Core switch down")
    })
    .await;
    // The platform write lands before its audit row commits: wait for the row too.
    let store = w.rt().store.clone();
    eventually(10, "the repair's audit row", || {
        store
            .audit_of(&incident, "short_description", 5)
            .is_ok_and(|chain| chain.first().is_some_and(|a| a.source_event == CAUSE))
    })
    .await;
    w.shutdown().await;
}
