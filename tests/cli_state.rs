//! The commands that read or repair a runtime's state (`why`, `dlq`, `links`, `reconcile`),
//! pointed at a state file that is not there: a mistyped `--state` is an error (exit 2, naming
//! the path and what to check), never an empty answer, and no file is created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn a_missing_state_file_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let state = format!("sqlite://{}", path.display());
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/case_incident.seam");
    let commands: [&[&str]; 6] = [
        &["why", "500A", "Subject"],
        &["dlq", "list"],
        &["dlq", "replay", "--all"],
        &["links", "list"],
        &["links", "show", "500A"],
        &["reconcile", spec],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(args)
            .args(["--state", &state])
            .env("NO_COLOR", "1")
            // reconcile would otherwise stop first at the spec's missing URLs.
            .env("SF_URL", "http://127.0.0.1:9")
            .env("SNOW_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("`{}`", path.display()))
                && stderr.contains("no such file")
                && stderr.contains("--state"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed an answer");
        assert!(!path.exists(), "{args:?} created the state file");
    }
}
