//! The conformance corpus: every `spec/corpus/*.seam` and `examples/**/*.seam` file states its
//! expected diagnostics in `// expect:` header lines (`// expect: clean` for none). The test
//! checks the codes, and snapshots the rendered report (no colour, width 80) with insta.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seam::render::{self, FileDiagnostic};
use std::collections::BTreeSet;
use std::path::Path;

/// The codes a file's header promises, in any order (`clean` for none).
fn expected_codes(text: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("// expect:") else {
            if line.trim().starts_with("//") || line.trim().is_empty() {
                continue;
            }
            break;
        };
        for code in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if code != "clean" {
                codes.push(code.to_string());
            }
        }
    }
    codes.sort();
    codes
}

fn render_all(name: &str, text: &str, diagnostics: &[seam_compiler::Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&render::human(
            &FileDiagnostic {
                file: name,
                text,
                diagnostic: d,
            },
            false,
            80,
        ));
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("(no diagnostics)\n");
    }
    out
}

fn check_file(path: &Path) -> (Vec<String>, Vec<String>, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let checked = seam_compiler::check(&text);
    let mut actual: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.to_string())
        .collect();
    actual.sort();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let rendered = render_all(&name, &text, &checked.diagnostics);
    (expected_codes(&text), actual, rendered)
}

#[test]
fn corpus() {
    insta::glob!("../spec/corpus", "*.seam", |path| {
        let (expected, actual, rendered) = check_file(path);
        assert_eq!(
            actual,
            expected,
            "{}: codes differ from its `// expect:` header\n{rendered}",
            path.display()
        );
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn broken_examples_fail_with_their_code() {
    insta::glob!("../examples/broken", "*.seam", |path| {
        let (expected, actual, rendered) = check_file(path);
        assert!(
            !expected.is_empty(),
            "{}: a broken example must name its code",
            path.display()
        );
        assert_eq!(actual, expected, "{}\n{rendered}", path.display());
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn full_example_is_clean() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/case_incident.seam");
    let (_, actual, rendered) = check_file(&path);
    assert!(
        actual.is_empty(),
        "examples/case_incident.seam should be clean:\n{rendered}"
    );
}

#[test]
fn every_code_has_a_corpus_case_and_a_broken_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["spec/corpus", "examples/broken"] {
        let mut covered = BTreeSet::new();
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "seam") {
                covered.extend(expected_codes(&std::fs::read_to_string(&path).unwrap()));
            }
        }
        for code in seam_compiler::Code::ALL {
            assert!(
                covered.contains(code.as_str()),
                "no file in {dir} expects `{code}`"
            );
        }
    }
}

#[test]
fn every_code_is_documented_in_the_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("spec/diagnostics.md")).unwrap();
    for code in seam_compiler::Code::ALL {
        assert!(
            doc.contains(&format!("`{code}`")),
            "spec/diagnostics.md does not document `{code}`"
        );
        assert!(
            doc.contains(&format!("<a id=\"{}\"></a>", code.doc_anchor())),
            "spec/diagnostics.md has no anchor `{}`",
            code.doc_anchor()
        );
    }
}

/// Every ```seam block in spec/*.md is a real example: it must produce the codes its first
/// `// expect:` line names (or be clean).
#[test]
fn spec_examples_check_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let doc = std::fs::read_to_string(&path).unwrap();
        for (i, block) in doc.split("```seam\n").skip(1).enumerate() {
            let Some((code, _)) = block.split_once("\n```") else {
                continue;
            };
            if !code.contains("// expect:") {
                continue;
            }
            let checked = seam_compiler::check(code);
            let mut actual: Vec<String> = checked
                .diagnostics
                .iter()
                .map(|d| d.code.to_string())
                .collect();
            actual.sort();
            assert_eq!(
                actual,
                expected_codes(code),
                "{} block {}:\n{code}",
                path.display(),
                i + 1
            );
        }
    }
}
