//! `seam links` as a real process beside a running runtime: a pair made by the runtime, its
//! incident deleted (the pair ends: listed with `--ended`, shown with its history), relinking
//! refused while the incident is gone (exit 1), then restored in the sandbox and relinked
//! (exit 0, with the pair's drift), and the case's next change flows to it again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{eventually, linked_pair, redact, LinkedPair, SPEC};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// Replaces every `YYYY-MM-DD HH:MM:SS` with a placeholder of the same length.
fn redact_times(text: &str) -> String {
    const SHAPE: &[u8] = b"dddd-dd-dd dd:dd:dd";
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let fits = b.len() - i >= SHAPE.len()
            && SHAPE.iter().zip(&b[i..]).all(|(s, c)| match s {
                b'd' => c.is_ascii_digit(),
                s => s == c,
            });
        if fits {
            out.push_str("<time------------->");
            i += SHAPE.len();
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_list_show_and_relink_an_ended_pair() {
    let LinkedPair {
        sb,
        rt,
        env,
        _dir,
        state,
        case,
        sys_id,
    } = linked_pair().await;

    let seam = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(args)
            .args(["--state", &state])
            .envs(&env)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let clean = |b: &[u8]| {
            let text = String::from_utf8_lossy(b).replace(SPEC, "examples/case_incident.seam");
            redact_times(&redact(&redact(&text, &sys_id, "incident"), &case, "case"))
        };
        (out.status.code(), clean(&out.stdout), clean(&out.stderr))
    };
    let ended = || {
        let (_, out, _) = seam(&["links", "list", "--ended", "--format", "json"]);
        serde_json::from_str::<Value>(&out).unwrap()
    };

    let (code, out, err) = seam(&["links", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\n1 live pair\n"), "{out}");

    // The incident is deleted in ServiceNow: the pair ends.
    let c = &sb.config.credentials;
    let http = reqwest::Client::new();
    let r = http
        .delete(format!(
            "{}/api/now/table/incident/{sys_id}",
            sb.servicenow_url()
        ))
        .basic_auth(&c.snow_username, Some(&c.snow_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let end = Instant::now() + Duration::from_secs(10);
    while ended().as_array().unwrap().is_empty() {
        assert!(Instant::now() < end, "the pair did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The case changes meanwhile: nothing is written to the deleted incident.
    let token = sb.salesforce_token();
    let patch_case = |subject: &str| {
        http.patch(format!(
            "{}/services/data/v62.0/sobjects/Case/{case}",
            sb.salesforce_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"Subject": subject}))
        .send()
    };
    assert!(patch_case("Written to no one")
        .await
        .unwrap()
        .status()
        .is_success());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (code, out, _) = seam(&["links", "list"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "no live pairs (`--all` lists every pair)\n");
    let (code, out, _) = seam(&["links", "list", "--ended"]);
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("links_list_ended", out);
    let (code, out, _) = seam(&["links", "show", &case]);
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("links_show_ended", out);

    // Relinking is refused while the incident is gone.
    let (code, out, err) = seam(&["links", "relink", SPEC, &case]);
    assert_eq!(code, Some(1), "{out}{err}");
    insta::assert_snapshot!("links_relink_refused", err);
    let (code, _, err) = seam(&["links", "relink", SPEC, "500000000000000AAA"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no pair holds record `500000000000000AAA`"),
        "{err}"
    );
    let (code, _, err) = seam(&["links", "show", "nope"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no pair holds record `nope`"), "{err}");
    let (code, _, err) = seam(&["links", "relink", SPEC, &case, "--link", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no link `nope`"), "{err}");

    // Restored in ServiceNow, then relinked: the pair is live, its drift is reported.
    let r = http
        .post(format!(
            "{}/__sandbox/undelete/incident/{sys_id}",
            sb.servicenow_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, out, err) = seam(&["links", "relink", SPEC, &sys_id]);
    assert_eq!(code, Some(0), "{out}{err}");
    insta::assert_snapshot!("links_relink_resumed", out);
    let (code, out, _) = seam(&["links", "relink", SPEC, &case]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("already live: pair case_incident"), "{out}");
    let (code, out, _) = seam(&["links", "show", &sys_id]);
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("links_show_resumed", out);
    let (_, out, _) = seam(&["why", &case, "Incident_Number__c"]);
    assert!(
        out.contains("relinked link `case_incident` resumed")
            && out.contains("by `seam links relink`"),
        "{out}"
    );

    // The case's next change reaches the incident again.
    assert!(patch_case("Back in business")
        .await
        .unwrap()
        .status()
        .is_success());
    eventually(10, "the incident follows the case again", || {
        sb.snow_record("incident", &sys_id)
            .is_some_and(|i| i["short_description"] == "Back in business")
    })
    .await;
    rt.shutdown().await;
    sb.shutdown().await;
}

#[test]
fn links_commands_have_help_with_an_example() {
    for args in [
        &["links", "--help"][..],
        &["links", "list", "--help"],
        &["links", "show", "--help"],
        &["links", "relink", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            text.contains("Examples:")
                && text.contains(&format!("seam {} ", args[..args.len() - 1].join(" "))),
            "{args:?}: {text}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--retain-events <DURATION>") && text.contains("[default: 7d]"),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["run", "x.seam", "--retain-events", "0d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "bad usage");
    assert!(String::from_utf8_lossy(&out.stderr).contains("use `off`"));
}
