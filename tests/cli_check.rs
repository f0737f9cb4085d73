//! `seam check` as users run it: the real binary, `NO_COLOR=1`, real files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn seam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seam-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn the_full_example_is_clean() {
    let out = seam(&["check", "examples/case_incident.seam"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("checked 1 file: no problems"));
}

#[test]
fn errors_exit_1_with_a_graphical_report() {
    let path = temp_file(
        "conflict.seam",
        b"seam t\nsystem sf: salesforce { url = \"https://x\" auth = oauth_client_credentials(client_id = env(\"A\"), client_secret = \"s3cr3t\") }\n",
    );
    let out = seam(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("seam::secret::literal"), "{err}");
    assert!(err.contains("help:"), "{err}");
    assert!(
        !err.contains("s3cr3t\n") || err.contains("│"),
        "the value may only appear as quoted source"
    );
    assert!(
        !err.contains('\u{1b}'),
        "NO_COLOR output has no escape codes"
    );
    assert!(err.contains("checked 1 file: 1 error"), "{err}");
}

#[test]
fn json_has_exactly_the_documented_shape() {
    let path = temp_file("unknown.seam", b"seam t\nown sf { Case.Subject }\n");
    let out = seam(&["check", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["diagnostics"][0];
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["code", "column", "file", "help", "line", "message", "severity"]
    );
    assert_eq!(d["code"], "seam::name::unknown");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 2);
    assert_eq!(d["column"], 5);
    assert_eq!(d["message"], "unknown system `sf`");
}

#[test]
fn sarif_is_2_1_0_with_rules_and_regions() {
    let out = seam(&["check", "--format", "sarif", "examples/case_incident.seam"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["tool"]["driver"]["name"], "seam");
    assert_eq!(
        v["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
    assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 0);

    let path = temp_file("s.seam", b"seam t\nseam u\n");
    let out = seam(&["check", "--format", "sarif", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "seam::name::duplicate");
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
}

#[test]
fn warnings_alone_exit_0() {
    let path = temp_file(
        "unused.seam",
        b"seam t\nsystem sf: salesforce { url = \"https://x\" auth = oauth_client_credentials(client_id = env(\"A\"), client_secret = env(\"B\")) }\nobject sf.Case { Spare__c: text }\n",
    );
    let out = seam(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 warning"));
}

#[test]
fn unreadable_inputs_exit_2_with_one_line() {
    for (arg, says) in [
        ("does/not/exist.seam", "does not exist"),
        ("examples", "is a directory"),
    ] {
        let out = seam(&["check", arg]);
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let err = stderr(&out);
        assert!(err.lines().next().unwrap().contains(says), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(seam(&["check"]).status.code(), Some(2));
    assert_eq!(
        seam(&["check", "--format", "xml", "x.seam"]).status.code(),
        Some(2)
    );
}

#[test]
fn random_bytes_empty_and_huge_files_give_diagnostics_not_panics() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let example =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/case_incident.seam"))
            .unwrap();
    let mut huge = Vec::new();
    while huge.len() < 10 * 1024 * 1024 {
        huge.extend_from_slice(b"// padding comment line to make the file large\n");
    }
    huge.extend_from_slice(&example);
    for (name, bytes) in [
        ("random.seam", random),
        ("empty.seam", Vec::new()),
        ("huge.seam", huge),
    ] {
        let path = temp_file(name, &bytes);
        let out = seam(&["check", "--format", "json", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{name}: {err}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["diagnostics"].is_array(), "{name}");
        if name == "empty.seam" {
            assert_eq!(v["diagnostics"][0]["code"], "seam::syntax");
        }
        if name == "huge.seam" {
            assert_eq!(
                out.status.code(),
                Some(0),
                "{name}: the example after comments is clean"
            );
        }
    }
}

#[test]
fn help_has_an_example() {
    let out = seam(&["check", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Examples:") && text.contains("seam check examples/case_incident.seam"));
}
