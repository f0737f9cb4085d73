//! `seam demo` tells the whole story against the real sandbox and runtime, and says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn the_demo_tells_the_story_end_to_end() {
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["demo", "--step-timeout", "60"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for line in [
        "incident INC0010001 opened by seam",
        "Case.Incident_Number__c = INC0010001",
        "Case.Incident_State__c = In Progress",
        "incident.urgency = 2",
        "were echoes of seam's writes",
        "Task \"Sev-1 on 00000001: Checkout API returns 502\" created for the account owner",
        "#sev1-00000001 created; posted \"Sev-1 for Acme Corp: Checkout API returns 502\"",
        "the workflow's `open` linked it, no second incident",
        "dead letter #1",
        "seam dlq replay 1",
        "incident.description now carries the root cause",
        "written  \"Customers cannot pay since 09:12 UTC\" -> \"Root cause",
        "The story is over",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
}

#[test]
fn a_spec_that_does_not_compile_is_refused() {
    let dir = std::env::temp_dir().join(format!("seam-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("bad.seam");
    std::fs::write(&spec, "seam t\nown sf { Case.Subject }\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["demo", "--spec", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not compile"));
}
