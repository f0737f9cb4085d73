#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::sqlite::SqliteStore;
use super::*;
use std::sync::Arc;

/// An update of `record` with idempotency key `key`, received at 1,000 (other tests' too).
pub(crate) fn event(key: &str, record: &str) -> NewEvent {
    NewEvent {
        idempotency_key: key.into(),
        system: "sf".into(),
        object: "Case".into(),
        record_id: record.into(),
        operation: "update".into(),
        echo: false,
        payload: "{}".into(),
        received_at: 1_000,
    }
}

fn temp() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("seam.db")).unwrap();
    (dir, store)
}

#[test]
fn creates_the_file_in_wal_mode_and_migrates_once() {
    let (dir, store) = temp();
    assert_eq!(store.schema_version().unwrap(), 8);
    drop(store);
    let again = SqliteStore::open(&dir.path().join("seam.db")).unwrap();
    assert_eq!(again.schema_version().unwrap(), 8);
    assert!(dir.path().join("seam.db-wal").exists() || dir.path().join("seam.db").exists());
}

#[test]
fn a_repeated_key_is_a_duplicate_and_not_stored_twice() {
    let (_dir, store) = temp();
    let out = store
        .insert_events(&[event("k1", "a"), event("k1", "a"), event("k2", "b")])
        .unwrap();
    assert!(matches!(out[0], Inserted::New(_)));
    assert_eq!(out[1], Inserted::Duplicate);
    assert!(matches!(out[2], Inserted::New(_)));
    assert_eq!(store.backlog(1_000).unwrap().depth, 2);
}

#[test]
fn acknowledged_events_survive_reopen_after_drop() {
    let (dir, store) = temp();
    store.insert_events(&[event("k1", "a")]).unwrap();
    store.put_link("l", "case1", "inc1", 1).unwrap();
    drop(store);
    let store = SqliteStore::open(&dir.path().join("seam.db")).unwrap();
    let claimed = store.claim_events(2_000, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].event.idempotency_key, "k1");
    assert_eq!(
        store.link_twin("l", true, "case1").unwrap().as_deref(),
        Some("inc1")
    );
    assert_eq!(
        store.link_twin("l", false, "inc1").unwrap().as_deref(),
        Some("case1")
    );
}

#[test]
fn one_record_is_never_claimed_twice_and_keeps_its_order() {
    let (_dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "a"), event("k3", "b")])
        .unwrap();
    let first = store.claim_events(2_000, 10).unwrap();
    let records: Vec<_> = first.iter().map(|e| e.event.record_id.as_str()).collect();
    assert_eq!(records, ["a", "b"]);
    assert_eq!(first[0].event.idempotency_key, "k1");
    // `a` is in flight: nothing more of it can be claimed.
    assert!(store.claim_events(2_000, 10).unwrap().is_empty());
    // Finishing k1 covers k2 (one read of the record's state answers both).
    assert_eq!(first[0].covers_through, 2);
    store.complete_event(&first[0]).unwrap();
    assert!(store.claim_events(2_000, 10).unwrap().is_empty());
    assert_eq!(store.backlog(2_000).unwrap().depth, 1);
}

#[test]
fn finishing_an_event_alone_leaves_the_later_ones_of_its_record() {
    let (_dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "a")])
        .unwrap();
    let mut first = store.claim_events(2_000, 10).unwrap().remove(0);
    first.covers_through = first.id;
    store.complete_event(&first).unwrap();
    let next = store.claim_events(2_000, 10).unwrap();
    assert_eq!(next[0].event.idempotency_key, "k2");
}

#[test]
fn a_retry_waits_and_then_blocks_its_record_only() {
    let (_dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "b")])
        .unwrap();
    let claimed = store.claim_events(2_000, 1).unwrap();
    store.retry_event(claimed[0].id, 1, 5_000, "503").unwrap();
    let next = store.claim_events(2_000, 10).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event.record_id, "b");
    assert_eq!(store.claim_events(5_000, 10).unwrap()[0].attempts, 1);
}

#[test]
fn dead_letters_keep_the_reason_and_replay_requeues() {
    let (_dir, store) = temp();
    store.insert_events(&[event("k1", "a")]).unwrap();
    let claimed = store.claim_events(2_000, 1).unwrap();
    let dl = store
        .dead_letter(
            claimed[0].id,
            8,
            "HTTP 503 from snow: Service Unavailable",
            3_000,
        )
        .unwrap();
    let list = store.dead_letters(false).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reason, "HTTP 503 from snow: Service Unavailable");
    assert_eq!(store.backlog(3_000).unwrap().dead_letters, 1);
    assert!(store.replay_dead_letter(dl, 4_000).unwrap());
    assert!(!store.replay_dead_letter(dl, 4_000).unwrap());
    assert!(store.dead_letters(false).unwrap().is_empty());
    let again = store.claim_events(4_000, 1).unwrap();
    assert_eq!(again[0].attempts, 0);
}

#[test]
fn links_are_unique_both_ways() {
    let (_dir, store) = temp();
    store.put_link("l", "c1", "i1", 1).unwrap();
    store.put_link("l", "c1", "i1", 1).unwrap();
    assert!(store.put_link("l", "c1", "i2", 1).is_err());
    assert!(store.put_link("l", "c2", "i1", 1).is_err());
}

#[test]
fn an_ended_link_keeps_its_row_but_has_no_twin() {
    let (_dir, store) = temp();
    store.put_link("l", "c1", "i1", 1).unwrap();
    store.put_link("l", "c2", "i2", 1).unwrap();
    assert!(store.end_link("l", "c1", "i1", 5, "i1 deleted").unwrap());
    assert!(
        !store.end_link("l", "c1", "i1", 6, "again").unwrap(),
        "ends once"
    );
    assert_eq!(store.link_twin("l", true, "c1").unwrap(), None);
    assert_eq!(store.link_twin("l", false, "i1").unwrap(), None);
    let row = store.link_row("l", false, "i1").unwrap().unwrap();
    assert_eq!(
        (row.ended_at, row.ended_reason.as_deref()),
        (Some(5), Some("i1 deleted"))
    );
    assert!(!row.live());
    // The ended pair still holds its records: neither can be linked again by accident.
    assert!(store.put_link("l", "c1", "i9", 7).is_err());
    let all = store.links(Some("l")).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[1].live() && all[1].left_id == "c2");
    assert!(store.links(Some("other")).unwrap().is_empty());
    assert_eq!(store.links(None).unwrap().len(), 2);
}

#[test]
fn last_written_audit_and_cursors_round_trip() {
    let (_dir, store) = temp();
    let key = ReplicaKey {
        link: "l",
        system: "snow",
        record: "i1",
        field: "urgency",
    };
    assert_eq!(store.last_written(&key).unwrap(), None);
    store.set_last_written(&key, Some("1"), 1).unwrap();
    store.set_last_written(&key, None, 2).unwrap();
    assert_eq!(store.last_written(&key).unwrap(), Some(None));
    let row = |n: i64| AuditEntry {
        id: 0,
        at: n,
        source_system: "sf".into(),
        source_event: format!("e{n}"),
        link: "l".into(),
        rule: "sf.Case.Priority -> snow.incident.urgency".into(),
        target_system: "snow".into(),
        target_object: "incident".into(),
        target_record: "i1".into(),
        field: "urgency".into(),
        old_value: None,
        new_value: Some(n.to_string()),
        plan_hash: "h".into(),
        outcome: "written".into(),
    };
    store.append_audit(&[row(1), row(2)]).unwrap();
    let chain = store.audit_of("i1", "urgency", 10).unwrap();
    assert_eq!(chain[0].source_event, "e2");
    assert_eq!(chain[1].source_event, "e1");
    store.set_cursor("sf", "42").unwrap();
    assert_eq!(store.cursor("sf").unwrap().as_deref(), Some("42"));
}

#[tokio::test]
async fn group_commit_answers_each_caller_with_its_own_outcomes() {
    let (_dir, store) = temp();
    let store: Arc<dyn Store> = Arc::new(store);
    let group = group::GroupCommit::start(store.clone());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let g = group.clone();
        tasks.push(tokio::spawn(async move {
            g.insert(vec![event(&format!("k{}", i % 25), &format!("r{i}"))])
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for t in tasks {
        if matches!(t.await.unwrap()[0], Inserted::New(_)) {
            new += 1;
        }
    }
    assert_eq!(new, 25);
    assert_eq!(store.backlog(2_000).unwrap().depth, 25);
}

#[test]
fn last_written_of_reads_every_field_of_one_record_and_no_other() {
    let (_dir, store) = temp();
    let key = |record, field| ReplicaKey {
        link: "l",
        system: "snow",
        record,
        field,
    };
    store
        .set_last_written(&key("i1", "urgency"), Some("1"), 1)
        .unwrap();
    store
        .set_last_written(&key("i1", "description"), None, 1)
        .unwrap();
    store
        .set_last_written(&key("i2", "urgency"), Some("3"), 1)
        .unwrap();
    let other_link = ReplicaKey {
        link: "m",
        ..key("i1", "state")
    };
    store.set_last_written(&other_link, Some("2"), 1).unwrap();
    let got = store.last_written_of("l", "snow", "i1").unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got.get("urgency"), Some(&Some("1".to_string())));
    assert_eq!(got.get("description"), Some(&None));
    assert!(store.last_written_of("l", "sf", "i1").unwrap().is_empty());
}

#[test]
fn two_gated_stores_on_one_file_write_in_turn_and_read_each_others_commits() {
    use super::sqlite::{Durability, WriteGate};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seam.db");
    let gate = WriteGate::default();
    let inbox = Arc::new(SqliteStore::open_gated(&path, Durability::Full, gate.clone()).unwrap());
    let engine = Arc::new(SqliteStore::open_gated(&path, Durability::Normal, gate).unwrap());
    let writer = {
        let inbox = inbox.clone();
        std::thread::spawn(move || {
            for n in 0..200 {
                let e = event(&format!("k{n}"), &format!("r{n}"));
                inbox.insert_events(&[e]).unwrap();
            }
        })
    };
    let mut finished = 0;
    while finished < 200 {
        for e in engine.claim_events(i64::MAX, 16).unwrap() {
            engine.complete_event(&e).unwrap();
            finished += 1;
        }
        if writer.is_finished() && engine.backlog(0).unwrap().depth == 0 {
            break;
        }
    }
    writer.join().unwrap();
    assert_eq!(finished, 200);
    assert_eq!(inbox.backlog(0).unwrap().depth, 0);
}

fn observed(record: &str, field: &str) -> ObservedKey {
    ObservedKey {
        system: "sf".into(),
        object: "Case".into(),
        record: record.into(),
        field: field.into(),
    }
}

fn new_run(workflow: &str, key: &str, record: &str) -> NewRun {
    NewRun {
        workflow: workflow.into(),
        trigger_key: key.into(),
        system: "sf".into(),
        object: "Case".into(),
        record_id: record.into(),
    }
}

fn step_audit(record: &str) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: 5,
        source_system: "sf".into(),
        source_event: "k1".into(),
        link: "workflow sev1_bridge".into(),
        rule: "workflow sev1_bridge step 2: sf.create Task".into(),
        target_system: "sf".into(),
        target_object: "Task".into(),
        target_record: record.into(),
        field: "Subject".into(),
        old_value: None,
        new_value: Some("Sev-1".into()),
        plan_hash: "h".into(),
        outcome: "created".into(),
    }
}

#[test]
fn a_database_at_version_one_is_migrated_to_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        // Make a version-1 database as an older seam left it, with an event in it.
        let store = SqliteStore::open(&path).unwrap();
        store.insert_events(&[event("k1", "500A")]).unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TRIGGER links_epoch_insert; DROP TRIGGER links_epoch_update; \
             DROP TRIGGER links_epoch_delete; DROP TRIGGER last_written_epoch_insert; \
             DROP TRIGGER last_written_epoch_update; DROP TRIGGER last_written_epoch_delete; \
             DROP TABLE cache_epoch; \
             DROP TABLE workflow_steps; DROP TABLE workflow_runs; DROP TABLE workflow_observed; \
             ALTER TABLE links DROP COLUMN ended_at; ALTER TABLE links DROP COLUMN ended_reason; \
             DROP INDEX dead_letters_event; DROP INDEX inbox_done; \
             DELETE FROM schema_migrations WHERE version >= 2;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 8);
    assert!(store.runs_of_record("sf", "500A").unwrap().is_empty());
    assert_eq!(
        store.backlog(2_000).unwrap().depth,
        1,
        "the old inbox is kept"
    );
}

#[test]
fn observed_values_and_runs_are_written_together_and_runs_are_unique() {
    let (_dir, store) = temp();
    assert_eq!(
        store.observed_value(&observed("500A", "Priority")).unwrap(),
        None
    );
    let started = store
        .start_runs(
            &[(observed("500A", "Priority"), Some("Critical".into()))],
            &[new_run("sev1", "k1", "500A")],
            10,
        )
        .unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(
        store.observed_value(&observed("500A", "Priority")).unwrap(),
        Some(Some("Critical".into()))
    );
    // The same trigger again (a duplicate or a replay) starts nothing.
    let again = store
        .start_runs(
            &[(observed("500A", "Priority"), None)],
            &[new_run("sev1", "k1", "500A")],
            11,
        )
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        store.observed_value(&observed("500A", "Priority")).unwrap(),
        Some(None),
        "an observed empty value is remembered as seen-and-empty"
    );
    // Another workflow on the same trigger is its own run.
    assert_eq!(
        store
            .start_runs(&[], &[new_run("other", "k1", "500A")], 12)
            .unwrap()
            .len(),
        1
    );
    let runs = store.unfinished_runs(&["k1", "created:500A"]).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.workflow.as_str()).collect::<Vec<_>>(),
        ["sev1", "other"]
    );
    assert!(runs.iter().all(|r| r.status == RunStatus::Running));
}

#[test]
fn steps_begin_count_attempts_and_finish_with_output_and_audit() {
    let (_dir, store) = temp();
    let run = store
        .start_runs(&[], &[new_run("sev1", "k1", "500A")], 10)
        .unwrap()[0];
    store.begin_step(run, 1, 20).unwrap();
    store.begin_step(run, 1, 30).unwrap();
    let steps = store.run_steps(run).unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].status, StepStatus::Begun);
    assert_eq!(steps[0].attempts, 2);
    assert_eq!(
        steps[0].begun_at, 20,
        "the first attempt's time bounds its effects"
    );
    store
        .finish_step(run, 1, r#"{"id":"00T1"}"#, &[step_audit("00T1")], 40)
        .unwrap();
    // A late begin (a stale retry) does not reopen a finished step.
    store.begin_step(run, 1, 50).unwrap();
    let steps = store.run_steps(run).unwrap();
    assert_eq!(steps[0].status, StepStatus::Done);
    assert_eq!(steps[0].output.as_deref(), Some(r#"{"id":"00T1"}"#));
    let audit = store.audit_of("00T1", "Subject", 5).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].rule, "workflow sev1_bridge step 2: sf.create Task");
    store.finish_run(run, 60).unwrap();
    assert!(store.unfinished_runs(&["k1"]).unwrap().is_empty());
    let all = store.runs_of_record("sf", "500A").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, RunStatus::Done);
    assert_eq!(all[0].finished_at, Some(60));
}

fn audit_row(record: &str, field: &str, value: &str) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: 3_000,
        source_system: "sf".into(),
        source_event: "k".into(),
        link: "l".into(),
        rule: "sf.Case.Subject -> snow.incident.short_description".into(),
        target_system: "snow".into(),
        target_object: "incident".into(),
        target_record: record.into(),
        field: field.into(),
        old_value: None,
        new_value: Some(value.into()),
        plan_hash: "h".into(),
        outcome: "written".into(),
    }
}

fn written(record: &str, field: &str, value: &str) -> Written {
    Written {
        link: "l".into(),
        system: "snow".into(),
        record: record.into(),
        field: field.into(),
        value: Some(value.into()),
    }
}

#[test]
fn finishing_events_commits_their_writes_observations_and_fates_together() {
    let (_dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "b"), event("k3", "c")])
        .unwrap();
    let claimed = store.claim_events(2_000, 10).unwrap();
    let [a, b, c] = claimed.as_slice() else {
        panic!("three claims: {claimed:?}");
    };
    let finish = |fate: Fate, record: &str, value: &str| EventFinish {
        written: vec![written(
            &format!("inc-{record}"),
            "short_description",
            value,
        )],
        audit: vec![audit_row(
            &format!("inc-{record}"),
            "short_description",
            value,
        )],
        observed: vec![(observed(record, "Priority"), Some("High".into()))],
        fate,
        at: 3_000,
    };
    store
        .finish_events(&[
            finish(Fate::Done(a.clone()), "a", "one"),
            finish(
                Fate::Retry {
                    id: b.id,
                    attempts: 1,
                    next_attempt_at: 9_000,
                    error: "503".into(),
                },
                "b",
                "two",
            ),
            finish(
                Fate::Dead {
                    id: c.id,
                    attempts: 8,
                    reason: "gone for good".into(),
                },
                "c",
                "three",
            ),
        ])
        .unwrap();
    // Every event's writes, audit rows and observations, whatever its fate.
    for (record, value) in [("a", "one"), ("b", "two"), ("c", "three")] {
        let twin = format!("inc-{record}");
        let key = written(&twin, "short_description", value);
        assert_eq!(
            store.last_written(&key.key()).unwrap(),
            Some(Some(value.to_string()))
        );
        let rows = store.audit_of(&twin, "short_description", 10).unwrap();
        assert_eq!(rows.len(), 1, "{record}");
        assert_eq!(
            store.observed_value(&observed(record, "Priority")).unwrap(),
            Some(Some("High".into()))
        );
    }
    // The fates: done, pending again later, dead with its reason.
    assert_eq!(
        store.event(a.id).unwrap().unwrap().status,
        EventStatus::Done
    );
    let retried = store.event(b.id).unwrap().unwrap();
    assert_eq!(
        (retried.status, retried.attempts, retried.next_attempt_at),
        (EventStatus::Pending, 1, 9_000)
    );
    assert!(store.claim_events(8_999, 10).unwrap().is_empty());
    let letters = store.dead_letters(false).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].event_id, letters[0].reason.as_str()),
        (c.id, "gone for good")
    );
}

#[test]
fn a_finish_that_cannot_be_stored_stores_nothing_of_its_batch() {
    let (_dir, store) = temp();
    store.insert_events(&[event("k1", "a")]).unwrap();
    let claimed = store.claim_events(2_000, 10).unwrap();
    let good = EventFinish {
        written: vec![written("inc-a", "short_description", "one")],
        audit: vec![audit_row("inc-a", "short_description", "one")],
        observed: Vec::new(),
        fate: Fate::Done(claimed[0].clone()),
        at: 3_000,
    };
    let bad = dead_letter_of_a_missing_event();
    assert!(store.finish_events(&[good.clone(), bad]).is_err());
    let key = written("inc-a", "short_description", "one");
    assert_eq!(store.last_written(&key.key()).unwrap(), None);
    assert_eq!(
        store.event(claimed[0].id).unwrap().unwrap().status,
        EventStatus::Claimed
    );
    store.finish_events(&[good]).unwrap();
    assert_eq!(
        store.event(claimed[0].id).unwrap().unwrap().status,
        EventStatus::Done
    );
}

/// A done finish of `event` alone (not the later events of its record it covers).
fn done(event: &InboxEvent) -> EventFinish {
    let mut event = event.clone();
    event.covers_through = event.id;
    EventFinish {
        written: vec![written(
            &format!("inc-{}", event.event.record_id),
            "short_description",
            "v",
        )],
        audit: Vec::new(),
        observed: Vec::new(),
        fate: Fate::Done(event),
        at: 3_000,
    }
}

#[test]
fn finish_and_claim_hands_over_the_next_event_of_a_finished_record_in_one_commit() {
    let (_dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "b")])
        .unwrap();
    // `covers_through` is fixed at claim time: a later event of `a` is not covered.
    let first = store.claim_events(2_000, 10).unwrap();
    assert_eq!(first.len(), 2);
    store.insert_events(&[event("k3", "a")]).unwrap();
    let a1 = first.iter().find(|e| e.event.record_id == "a").unwrap();
    let next = store.finish_and_claim(&[done(a1)], 2_000, 10).unwrap();
    // `a`'s next event is claimable only because its first finished in this transaction;
    // `b` is still claimed, so nothing of it.
    assert_eq!(
        next.iter()
            .map(|e| e.event.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        ["k3"]
    );
    assert_eq!(
        store.event(a1.id).unwrap().unwrap().status,
        EventStatus::Done
    );
    let key = written("inc-a", "short_description", "v");
    assert_eq!(
        store.last_written(&key.key()).unwrap(),
        Some(Some("v".into()))
    );
    // The limit holds, and zero claims nothing but still commits the finish.
    let b1 = first.iter().find(|e| e.event.record_id == "b").unwrap();
    store.insert_events(&[event("k4", "b")]).unwrap();
    assert!(store
        .finish_and_claim(&[done(b1)], 2_000, 0)
        .unwrap()
        .is_empty());
    assert_eq!(
        store.event(b1.id).unwrap().unwrap().status,
        EventStatus::Done
    );
    assert_eq!(store.claim_events(2_000, 10).unwrap().len(), 1);
}

#[test]
fn finish_and_claim_is_all_or_nothing() {
    let (_dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "b")])
        .unwrap();
    let claimed = store.claim_events(2_000, 1).unwrap();
    let bad = dead_letter_of_a_missing_event();
    assert!(store
        .finish_and_claim(&[done(&claimed[0]), bad], 2_000, 10)
        .is_err());
    // Neither the finish nor the claim of `b` stayed.
    assert_eq!(
        store.event(claimed[0].id).unwrap().unwrap().status,
        EventStatus::Claimed
    );
    assert_eq!(store.claim_events(2_000, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn the_engine_writer_answers_finishes_and_claims_queued_together() {
    let (_dir, store) = temp();
    let store: Arc<dyn Store> = Arc::new(store);
    let keys: Vec<NewEvent> = (0..20)
        .map(|i| event(&format!("k{i}"), &format!("r{}", i % 10)))
        .collect();
    store.insert_events(&keys).unwrap();
    let writer = group::FinishCommit::start(store.clone());
    // Ten records, two events each: every event is claimed once, in record order, while
    // finishes and claims share the writer.
    let mut seen = Vec::new();
    let mut in_flight = writer.claim(2_000, 4).await.unwrap();
    while !in_flight.is_empty() {
        let mut tasks = Vec::new();
        for e in in_flight.drain(..) {
            seen.push(e.event.idempotency_key.clone());
            let w = writer.clone();
            tasks.push(tokio::spawn(async move { w.finish(done(&e)).await }));
        }
        let claim = writer.claim(2_000, 4).await.unwrap();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        in_flight = claim;
        if in_flight.is_empty() {
            in_flight = writer.claim(2_000, 4).await.unwrap();
        }
    }
    seen.sort_by_key(|k| k[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(store.backlog(2_000).unwrap().depth, 0);
}

/// The runtime's one writer thread (`group::start`): inserts from many callers and the
/// engine's claims and finishes, queued together on two connections, each answered with its
/// own outcome; every event is claimed once, in record order, and finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_writer_thread_serves_the_inbox_and_the_engine_each_caller_its_own_answer() {
    use super::sqlite::Durability;
    // As the runtime opens them: one write connection, two levels.
    let (_dir, inbox) = temp();
    let engine: Arc<dyn Store> = Arc::new(offload::Offloaded(
        inbox.sharing_writer(Durability::Normal).unwrap().caching(),
    ));
    let inbox: Arc<dyn Store> = Arc::new(inbox);
    let (ingest, writer) = group::start(inbox.clone(), engine.clone());
    // 40 events of 10 records, 60 requests: the last 20 repeat a key.
    let mut inserts = Vec::new();
    for i in 0..60 {
        let g = ingest.clone();
        inserts.push(tokio::spawn(async move {
            let n = i % 40;
            g.insert(vec![event(&format!("k{n}"), &format!("r{}", n % 10))])
                .await
                .unwrap()
        }));
    }
    let mut seen = Vec::new();
    let mut order = Vec::new();
    let mut finishing: Vec<tokio::task::JoinHandle<StoreResult<()>>> = Vec::new();
    loop {
        // Looked at before the claim: an insert answered after it may have been missed.
        let inserted_all = inserts.iter().all(|t| t.is_finished());
        let claimed = writer.claim(2_000, 8).await.unwrap();
        if claimed.is_empty() {
            // Nothing claimable: finish what is in flight (it may unblock its record).
            let in_flight = !finishing.is_empty();
            for t in finishing.drain(..) {
                t.await.unwrap().unwrap();
            }
            if inserted_all && !in_flight {
                break;
            }
            tokio::task::yield_now().await;
        }
        for e in claimed {
            seen.push(e.event.idempotency_key.clone());
            order.push((e.event.record_id.clone(), e.id));
            let w = writer.clone();
            finishing.push(tokio::spawn(async move { w.finish(done(&e)).await }));
        }
    }
    let mut new = 0;
    for t in inserts {
        new += t
            .await
            .unwrap()
            .iter()
            .filter(|o| matches!(o, Inserted::New(_)))
            .count();
    }
    assert_eq!(new, 40, "each key stored once");
    // Record order: within a record, events were claimed in the order of their ids.
    for r in 0..10 {
        let record = format!("r{r}");
        let ids: Vec<i64> = order
            .iter()
            .filter(|(rec, _)| *rec == record)
            .map(|(_, id)| *id)
            .collect();
        assert_eq!(ids.len(), 4, "{record}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{record}: {ids:?}");
    }
    seen.sort_by_key(|k| k[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    assert_eq!(seen, expected, "every event claimed once");
    assert_eq!(inbox.backlog(2_000).unwrap().depth, 0);
    // The values the finishes wrote, one row per key, read back through both connections.
    for r in 0..10 {
        let key = written(&format!("inc-r{r}"), "short_description", "v");
        assert_eq!(
            engine.last_written(&key.key()).unwrap(),
            Some(Some("v".into()))
        );
        assert_eq!(
            inbox.last_written(&key.key()).unwrap(),
            Some(Some("v".into()))
        );
    }
}

/// Two stores sharing one write connection (the runtime's inbox and engine): each write runs
/// at its own store's `synchronous` level, whatever the other's last write left, and each
/// store reads the other's commits.
#[test]
fn stores_sharing_a_writer_write_at_their_own_durability() {
    use super::sqlite::Durability;
    let (_dir, inbox) = temp();
    let engine = inbox.sharing_writer(Durability::Normal).unwrap().caching();
    const FULL: i64 = 2;
    const NORMAL: i64 = 1;
    assert_eq!(inbox.write_synchronous().unwrap(), FULL);
    assert_eq!(engine.write_synchronous().unwrap(), NORMAL);
    assert_eq!(inbox.write_synchronous().unwrap(), FULL);
    inbox
        .insert_events(&[event("k1", "a"), event("k2", "b")])
        .unwrap();
    let claimed = engine.claim_events(2_000, 10).unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(inbox.write_synchronous().unwrap(), FULL);
    engine
        .finish_and_claim(&[done(&claimed[0]), done(&claimed[1])], 3_000, 10)
        .unwrap();
    assert_eq!(engine.write_synchronous().unwrap(), NORMAL);
    assert_eq!(inbox.backlog(3_000).unwrap().depth, 0);
    let key = written("inc-a", "short_description", "v");
    assert_eq!(
        inbox.last_written(&key.key()).unwrap(),
        Some(Some("v".into()))
    );
    assert_eq!(
        engine.last_written(&key.key()).unwrap(),
        Some(Some("v".into()))
    );
}

/// Grouped finishes write a last-written value and an observed trigger value, then overwrite
/// both (an update where the row exists, an insert where it does not): one row per key, the
/// latest value and time, and each write bumps the cache epoch another process watches.
#[test]
fn grouped_finishes_insert_then_update_last_written_and_observed_values() {
    let (_dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "a")])
        .unwrap();
    let epoch = |s: &SqliteStore| -> i64 {
        let c = rusqlite::Connection::open(s.path()).unwrap();
        c.query_row("SELECT n FROM cache_epoch", [], |r| r.get(0))
            .unwrap()
    };
    let mut at = 3_000;
    let mut before = epoch(&store);
    for (key, value, priority) in [("k1", "one", "High"), ("k2", "two", "Low")] {
        let claimed = store.claim_events(2_000, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].event.idempotency_key, key);
        let mut e = claimed[0].clone();
        e.covers_through = e.id;
        store
            .finish_events(&[EventFinish {
                written: vec![written("inc-a", "short_description", value)],
                audit: Vec::new(),
                observed: vec![(observed("a", "Priority"), Some(priority.into()))],
                fate: Fate::Done(e),
                at,
            }])
            .unwrap();
        let c = rusqlite::Connection::open(store.path()).unwrap();
        let rows: Vec<(String, i64)> = c
            .prepare("SELECT value, written_at FROM last_written")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![(value.to_string(), at)]);
        let observed_rows: Vec<(String, i64)> = c
            .prepare("SELECT value, observed_at FROM workflow_observed")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(observed_rows, vec![(priority.to_string(), at)]);
        let now = epoch(&store);
        assert_eq!(now, before + 2, "one bump per written table");
        before = now;
        at += 1_000;
    }
}

/// A worker's finish claims its next event in the same commit: the next one of the record it
/// finished, in due order; and a finish that cannot commit claims nothing (no event is left
/// claimed with no worker to run it).
#[tokio::test]
async fn a_finish_claims_its_workers_next_event_and_a_failed_one_claims_none() {
    let (_dir, store) = temp();
    let store: Arc<dyn Store> = Arc::new(store);
    store
        .insert_events(&[event("k1", "a"), event("k2", "a"), event("k3", "b")])
        .unwrap();
    let writer = group::FinishCommit::start(store.clone());
    let first = writer.claim(2_000, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event.idempotency_key, "k1");
    // k1 done: k2 (record a, now unblocked, older than k3) is this worker's next.
    let next = writer
        .finish_and_claim_next(done(&first[0]), 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.event.idempotency_key, "k2");
    assert_eq!(next.status, EventStatus::Claimed);
    // A finish that cannot be stored gets its error, and claims nothing: k3 stays pending.
    assert!(writer
        .finish_and_claim_next(dead_letter_of_a_missing_event(), 2_000)
        .await
        .is_err());
    assert_eq!(
        store.backlog(2_000).unwrap().depth,
        2,
        "k2 claimed, k3 pending"
    );
    let rest = writer.claim(2_000, 4).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].event.idempotency_key, "k3");
    for e in [next, rest[0].clone()] {
        assert!(writer
            .finish_and_claim_next(done(&e), 2_000)
            .await
            .unwrap()
            .is_none());
    }
    assert_eq!(store.backlog(2_000).unwrap().depth, 0);
}

/// A finish whose dead letter names an event that does not exist: it breaks the foreign key,
/// so the transaction it is in must fail whole.
fn dead_letter_of_a_missing_event() -> EventFinish {
    EventFinish {
        written: Vec::new(),
        audit: Vec::new(),
        observed: Vec::new(),
        fate: Fate::Dead {
            id: 999,
            attempts: 1,
            reason: "x".into(),
        },
        at: 3_000,
    }
}

/// The runtime's engine store, caching, and another process's store on the same file.
fn cached_and_other() -> (tempfile::TempDir, SqliteStore, SqliteStore) {
    use super::sqlite::Durability;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seam.db");
    let runtime = SqliteStore::open_with(&path, Durability::Normal)
        .unwrap()
        .caching();
    let other = SqliteStore::open(&path).unwrap();
    (dir, runtime, other)
}

/// Claims a new event of its own record: the grouped transaction every event goes through
/// before it is handled.
fn claim_new(store: &SqliteStore, key: &str) {
    store.insert_events(&[event(key, key)]).unwrap();
    let claimed = store.claim_events(2_000, 10).unwrap();
    assert!(claimed.iter().any(|e| e.event.idempotency_key == key));
}

fn replica(record: &str) -> ReplicaKey<'_> {
    ReplicaKey {
        link: "l",
        system: "snow",
        record,
        field: "short_description",
    }
}

#[test]
fn a_caching_store_sees_another_process_writes_from_its_next_claim_on() {
    let (_dir, runtime, other) = cached_and_other();
    runtime.put_link("l", "500A", "inc-a", 1).unwrap();
    runtime
        .set_last_written(&replica("inc-a"), Some("v1"), 1)
        .unwrap();
    claim_new(&runtime, "k1");
    // Read once: now held in memory.
    let lw = |s: &SqliteStore| s.last_written_of("l", "snow", "inc-a").unwrap();
    assert_eq!(
        lw(&runtime).get("short_description"),
        Some(&Some("v1".into()))
    );
    assert!(runtime.link_row("l", true, "500A").unwrap().unwrap().live());
    assert_eq!(
        runtime
            .observed_value(&observed("500A", "Priority"))
            .unwrap(),
        None
    );
    assert!(runtime.unfinished_runs(&["k9"]).unwrap().is_empty());
    // Another process (`seam reconcile --apply`, say) writes each cached table.
    other
        .record_writes(&[(replica("inc-a"), Some("v2".into()))], &[], 2)
        .unwrap();
    assert!(other.end_link("l", "500A", "inc-a", 2, "gone").unwrap());
    other
        .start_runs(
            &[(observed("500A", "Priority"), Some("Critical".into()))],
            &[new_run("sev1", "k9", "500A")],
            2,
        )
        .unwrap();
    claim_new(&runtime, "k2");
    assert_eq!(
        lw(&runtime).get("short_description"),
        Some(&Some("v2".into()))
    );
    assert!(!runtime.link_row("l", true, "500A").unwrap().unwrap().live());
    assert_eq!(
        runtime
            .observed_value(&observed("500A", "Priority"))
            .unwrap(),
        Some(Some("Critical".into()))
    );
    assert_eq!(runtime.unfinished_runs(&["k9"]).unwrap().len(), 1);
    assert_eq!(
        runtime.last_written(&replica("inc-a")).unwrap(),
        Some(Some("v2".into()))
    );
}

#[test]
fn a_caching_store_reads_its_own_writes_at_once() {
    let (_dir, runtime, _other) = cached_and_other();
    runtime
        .set_last_written(&replica("inc-a"), Some("v1"), 1)
        .unwrap();
    runtime.insert_events(&[event("k1", "a")]).unwrap();
    let claimed = runtime.claim_events(2_000, 10).unwrap();
    let lw = || runtime.last_written_of("l", "snow", "inc-a").unwrap();
    assert_eq!(lw().get("short_description"), Some(&Some("v1".into())));
    assert_eq!(
        runtime.observed_value(&observed("a", "Priority")).unwrap(),
        None
    );
    // A finish (grouped) applies its values to what is held.
    let finish = EventFinish {
        written: vec![written("inc-a", "short_description", "v2")],
        audit: Vec::new(),
        observed: vec![(observed("a", "Priority"), Some("High".into()))],
        fate: Fate::Done(claimed[0].clone()),
        at: 3_000,
    };
    runtime.finish_and_claim(&[finish], 3_000, 10).unwrap();
    assert_eq!(lw().get("short_description"), Some(&Some("v2".into())));
    assert_eq!(
        runtime.observed_value(&observed("a", "Priority")).unwrap(),
        Some(Some("High".into()))
    );
    // Writes outside the grouped transactions are read back at once too.
    runtime
        .set_last_written(&replica("inc-a"), Some("v3"), 4)
        .unwrap();
    assert_eq!(lw().get("short_description"), Some(&Some("v3".into())));
    assert!(runtime.link_row("l", true, "500A").unwrap().is_none());
    runtime.put_link("l", "500A", "inc-a", 4).unwrap();
    assert!(runtime.link_row("l", true, "500A").unwrap().is_some());
    assert!(runtime.unfinished_runs(&["k1"]).unwrap().is_empty());
    runtime
        .start_runs(&[], &[new_run("sev1", "k1", "a")], 5)
        .unwrap();
    assert_eq!(runtime.unfinished_runs(&["k1"]).unwrap().len(), 1);
    // And after the next claim, from memory again.
    claim_new(&runtime, "k2");
    assert_eq!(lw().get("short_description"), Some(&Some("v3".into())));
    assert_eq!(runtime.unfinished_runs(&["k1"]).unwrap().len(), 1);
}

/// A file as a seam at schema 4 left it (rowid tables), with rows in the two tables migration 5
/// rebuilds: the rows are kept, the tables are `WITHOUT ROWID`, and the epoch triggers the
/// rebuild dropped are back (another process's write is still noticed).
#[test]
fn a_database_at_version_four_keeps_its_values_without_rowid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        super::schema::migrate_to(&mut conn, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO last_written (link, system, record_id, field, value, written_at) VALUES \
                 ('l', 'snow', 'i1', 'urgency', '1', 10), \
                 ('l', 'snow', 'i1', 'description', NULL, 11), \
                 ('l', 'sf', 'c1', 'Status', 'New', 12); \
             INSERT INTO workflow_observed (system, object, record_id, field, value, observed_at) \
                 VALUES ('sf', 'Case', 'c1', 'Priority', 'High', 13), \
                        ('sf', 'Case', 'c2', 'Priority', NULL, 14);",
        )
        .unwrap();
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'last_written'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!sql.contains("WITHOUT ROWID"), "an old file: {sql}");
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 8);
    let got = store.last_written_of("l", "snow", "i1").unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got.get("urgency"), Some(&Some("1".to_string())));
    assert_eq!(got.get("description"), Some(&None));
    assert_eq!(
        store
            .last_written(&ReplicaKey {
                link: "l",
                system: "sf",
                record: "c1",
                field: "Status",
            })
            .unwrap(),
        Some(Some("New".into()))
    );
    assert_eq!(
        store.observed_value(&observed("c1", "Priority")).unwrap(),
        Some(Some("High".into()))
    );
    assert_eq!(
        store.observed_value(&observed("c2", "Priority")).unwrap(),
        Some(None)
    );
    assert_eq!(
        store.observed_value(&observed("c3", "Priority")).unwrap(),
        None
    );
    drop(store);

    let conn = rusqlite::Connection::open(&path).unwrap();
    for table in ["last_written", "workflow_observed"] {
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.contains("WITHOUT ROWID"), "{table}: {sql}");
        let triggers: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 3, "{table}'s epoch triggers");
    }
    let leftovers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v5'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leftovers, 0);
    let epoch = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT n FROM cache_epoch", [], |r| r.get(0))
            .unwrap()
    };
    let before = epoch(&conn);
    conn.execute(
        "UPDATE last_written SET value = '2' WHERE record_id = 'i1' AND field = 'urgency'",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO workflow_observed (system, object, record_id, field, value, observed_at) \
         VALUES ('sf', 'Case', 'c3', 'Priority', 'Low', 15)",
        [],
    )
    .unwrap();
    conn.execute("DELETE FROM last_written WHERE record_id = 'c1'", [])
        .unwrap();
    assert_eq!(epoch(&conn), before + 3);
}

/// The inbox's queries by record go through `inbox_record`, which since migration 6 holds
/// unfinished events only: a query that did not state its condition would scan the inbox.
#[test]
fn the_inbox_queries_by_record_use_the_unfinished_index() {
    let (dir, store) = temp();
    store
        .insert_events(&[event("k1", "a"), event("k2", "a")])
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("seam.db")).unwrap();
    for sql in [
        super::sqlite::MARK_DONE,
        super::sqlite::CLAIMABLE,
        super::sqlite::CLAIM_ONE,
        super::sqlite::ANY_CLAIMABLE,
        super::sqlite::RELEASE_CLAIMS,
        super::sqlite::BACKLOG,
    ] {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = st
            .query_map(
                rusqlite::params_from_iter(std::iter::repeat_n(1i64, st.parameter_count())),
                |r| r.get::<_, String>(3),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().any(|d| d.contains("inbox_record")),
            "{sql}: {plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|d| d.starts_with("SCAN") && d != "SCAN CONSTANT ROW" && !d.contains("INDEX")),
            "{sql}: {plan:?}"
        );
    }
    let def: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'inbox_record'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        def.contains("WHERE status IN ('pending', 'claimed')"),
        "{def}"
    );
}

#[test]
fn pruning_takes_old_done_events_only_and_keeps_audit_and_dead_letters() {
    let (_dir, store) = temp();
    let mut recent = event("k5", "e");
    recent.received_at = 50_000;
    store
        .insert_events(&[
            event("k1", "a"),
            event("k3", "c"),
            event("k4", "d"),
            recent,
            event("k6", "f"),
        ])
        .unwrap();
    let claimed = store.claim_events(60_000, 10).unwrap();
    let id = |key: &str| {
        claimed
            .iter()
            .find(|e| e.event.idempotency_key == key)
            .unwrap()
            .clone()
    };
    // k2: old and still pending.
    store.insert_events(&[event("k2", "b")]).unwrap();
    store.complete_event(&id("k1")).unwrap();
    store.complete_event(&id("k5")).unwrap();
    store.retry_event(id("k3").id, 1, 2_000, "later").unwrap();
    store.dead_letter(id("k4").id, 1, "no", 3_000).unwrap();
    // k6: dead, replayed, then done: its dead letter still names it.
    let letter = store.dead_letter(id("k6").id, 1, "no", 3_000).unwrap();
    assert!(store.replay_dead_letter(letter, 4_000).unwrap());
    let again = store.claim_events(60_000, 10).unwrap();
    let k6 = again
        .iter()
        .find(|e| e.event.idempotency_key == "k6")
        .unwrap();
    store.complete_event(k6).unwrap();
    store.put_link("l", "a", "inc-a", 1).unwrap();
    store
        .append_audit(&[audit_row("inc-a", "short_description", "v")])
        .unwrap();

    assert_eq!(store.prune_done(10_000, 100).unwrap(), 1);
    assert_eq!(store.event(id("k1").id).unwrap(), None);
    for key in ["k3", "k4", "k5", "k6"] {
        assert!(store.event(id(key).id).unwrap().is_some(), "{key} went");
    }
    assert_eq!(
        store.backlog(60_000).unwrap().depth,
        2,
        "k2 and k3 stay pending"
    );
    assert_eq!(store.dead_letters(true).unwrap().len(), 2);
    assert_eq!(
        store
            .audit_of("inc-a", "short_description", 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.link_twin("l", true, "a").unwrap().as_deref(),
        Some("inc-a")
    );
    // The key of a pruned event is free again: a late repeat is new (and finds nothing to do).
    assert!(matches!(
        store.insert_events(&[event("k1", "a")]).unwrap()[..],
        [Inserted::New(_)]
    ));
    assert_eq!(store.prune_done(10_000, 100).unwrap(), 0);
    // The recent one goes once it is old enough.
    assert_eq!(store.prune_done(60_000, 100).unwrap(), 1);
}

#[test]
fn pruning_stops_at_its_limit() {
    let (_dir, store) = temp();
    let events: Vec<NewEvent> = (0..3)
        .map(|i| event(&format!("k{i}"), &format!("r{i}")))
        .collect();
    store.insert_events(&events).unwrap();
    for e in store.claim_events(2_000, 10).unwrap() {
        store.complete_event(&e).unwrap();
    }
    assert_eq!(store.prune_done(10_000, 2).unwrap(), 2);
    assert_eq!(store.prune_done(10_000, 2).unwrap(), 1);
    assert_eq!(store.prune_done(10_000, 2).unwrap(), 0);
    assert_eq!(store.prune_done(10_000, 0).unwrap(), 0);
}

#[test]
fn pruning_reads_a_range_of_the_done_index_and_checks_dead_letters_by_index() {
    let (dir, store) = temp();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("seam.db")).unwrap();
    let mut st = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT i.id FROM inbox i \
             WHERE i.status = 'done' AND i.next_attempt_at < ?1 \
               AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.event_id = i.id) LIMIT ?2",
        )
        .unwrap();
    let plan: Vec<String> = st
        .query_map(rusqlite::params![1i64, 1i64], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(plan.iter().any(|d| d.contains("inbox_done")), "{plan:?}");
    assert!(
        plan.iter().any(|d| d.contains("dead_letters_event")),
        "{plan:?}"
    );
}

fn unlinked(record: &str, at: i64, outcome: &str) -> AuditEntry {
    AuditEntry {
        at,
        link: "l".into(),
        rule: format!("link `l` {outcome}"),
        source_event: "k9".into(),
        outcome: outcome.into(),
        ..audit_row(record, "short_description", "x")
    }
}

#[test]
fn an_ended_pair_resumes_once_with_its_audit_and_keeps_its_history() {
    let (_dir, store) = temp();
    store.put_link("l", "500A", "inc-a", 1).unwrap();
    store.put_link("other", "inc-a", "chg-1", 2).unwrap();
    store.put_link("l", "500B", "inc-b", 3).unwrap();
    let pairs = store.pairs_of("inc-a").unwrap();
    let names: Vec<&str> = pairs.iter().map(|p| p.link.as_str()).collect();
    assert_eq!(names, ["l", "other"], "both sides, every link");
    assert!(store.pairs_of("nope").unwrap().is_empty());

    let relinked = [unlinked("inc-a", 20, "relinked")];
    assert!(
        !store.resume_link("l", "500A", "inc-a", &relinked).unwrap(),
        "a live pair is not resumed"
    );
    assert!(store.end_link("l", "500A", "inc-a", 10, "gone").unwrap());
    store
        .append_audit(&[
            unlinked("inc-a", 10, "unlinked"),
            audit_row("inc-a", "state", "2"),
        ])
        .unwrap();
    assert_eq!(store.link_twin("l", true, "500A").unwrap(), None);
    assert!(store.resume_link("l", "500A", "inc-a", &relinked).unwrap());
    assert!(!store.resume_link("l", "500A", "inc-a", &relinked).unwrap());
    let row = store.link_row("l", true, "500A").unwrap().unwrap();
    assert!(row.live() && row.ended_reason.is_none(), "{row:?}");
    assert_eq!(row.created_at, 1, "the pair's opening stays");
    let history = store.pair_history("l", &["500A", "inc-a"]).unwrap();
    let outcomes: Vec<&str> = history.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        ["unlinked", "relinked"],
        "written rows are not history"
    );
}

#[test]
fn a_caching_store_sees_a_pair_resumed_by_another_process() {
    let (_dir, runtime, other) = cached_and_other();
    runtime.put_link("l", "500A", "inc-a", 1).unwrap();
    assert!(runtime.end_link("l", "500A", "inc-a", 2, "gone").unwrap());
    claim_new(&runtime, "k1");
    assert!(!runtime.link_row("l", true, "500A").unwrap().unwrap().live());
    assert!(other.resume_link("l", "500A", "inc-a", &[]).unwrap());
    claim_new(&runtime, "k2");
    assert!(runtime.link_row("l", true, "500A").unwrap().unwrap().live());
}

/// The plan of one statement, as `EXPLAIN QUERY PLAN` details.
fn plan_of(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    st.query_map(
        rusqlite::params_from_iter(std::iter::repeat_n(1i64, st.parameter_count())),
        |r| r.get::<_, String>(3),
    )
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Since migration 8 the due index holds pending events only: a claim finds them through it
/// in due order, and a file at version 6 with events in every state migrates to it (claimed,
/// done and dead events out of it), keeping its claims, backlog and release working.
#[test]
fn the_due_index_holds_pending_events_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        super::schema::migrate_to(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO inbox (idempotency_key, system, object, record_id, record_key, operation, \
                 echo, payload, status, next_attempt_at, received_at) VALUES \
               ('k1', 'sf', 'Case', 'a', 'sf\x1fCase\x1fa', 'update', 0, '{}', 'done', 5, 5), \
               ('k2', 'sf', 'Case', 'b', 'sf\x1fCase\x1fb', 'update', 0, '{}', 'claimed', 6, 6), \
               ('k3', 'sf', 'Case', 'c', 'sf\x1fCase\x1fc', 'update', 0, '{}', 'pending', 9, 7), \
               ('k4', 'sf', 'Case', 'd', 'sf\x1fCase\x1fd', 'update', 0, '{}', 'pending', 8, 8), \
               ('k5', 'sf', 'Case', 'e', 'sf\x1fCase\x1fe', 'update', 0, '{}', 'dead', 4, 4);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 8);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let def: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'inbox_due'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(def.contains("WHERE status = 'pending'"), "{def}");
    let indexed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM inbox INDEXED BY inbox_due WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 2);
    // Retention's index holds the done event only.
    let done: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM inbox INDEXED BY inbox_done WHERE status = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(done, 1);
    let plan = plan_of(&conn, super::sqlite::CLAIMABLE);
    assert!(plan.iter().any(|d| d.contains("inbox_due")), "{plan:?}");
    assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{plan:?}");
    let backlog = store.backlog(10).unwrap();
    assert_eq!((backlog.depth, backlog.oldest_pending_ms), (3, 4));
    // Due order: `d` (due at 8) before `c` (due at 9); `b` is still claimed.
    let claimed: Vec<String> = store
        .claim_events(10, 5)
        .unwrap()
        .into_iter()
        .map(|e| e.event.record_id)
        .collect();
    assert_eq!(claimed, ["d", "c"]);
    assert_eq!(store.release_claims().unwrap(), 3);
    let again: Vec<String> = store
        .claim_events(10, 5)
        .unwrap()
        .into_iter()
        .map(|e| e.event.record_id)
        .collect();
    assert_eq!(again, ["b", "d", "c"]);
}
