//! `fmt` is a no-op on formatted code and never changes what a spec means, for every example
//! and every corpus file that parses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use seam_compiler::render::fmt::format;
use seam_compiler::{check, syntax, Plan};
use std::path::PathBuf;

fn specs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        "examples",
        "examples/broken",
        "spec/corpus",
        "tests/fixtures",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "seam") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    assert!(!files.is_empty());
    files
}

fn plan_hash(src: &str) -> Option<String> {
    check(src).model.map(|m| Plan::from_model(&m).spec_hash)
}

#[test]
fn fmt_twice_is_fmt_once_and_keeps_the_plan_hash() {
    let mut formatted_files = 0;
    for path in specs() {
        let src = std::fs::read_to_string(&path).unwrap();
        let Ok(ast) = syntax::parse(&src) else {
            continue;
        };
        let once = format(&ast, &src);
        let reparsed = syntax::parse(&once).unwrap_or_else(|d| {
            panic!(
                "{}: formatted text does not parse: {d:?}\n{once}",
                path.display()
            )
        });
        let twice = format(&reparsed, &once);
        assert_eq!(once, twice, "{}: fmt is not idempotent", path.display());
        assert_eq!(
            plan_hash(&src),
            plan_hash(&once),
            "{}: fmt changed the meaning",
            path.display()
        );
        assert_eq!(
            src.matches("//").count(),
            once.matches("//").count(),
            "{}: a comment was lost",
            path.display()
        );
        formatted_files += 1;
    }
    assert!(formatted_files > 0);
}

#[test]
fn the_hash_ignores_layout_and_comments_but_not_meaning() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/case_incident.seam"
    ))
    .unwrap();
    let squashed: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.split("  //").next().unwrap_or(l).trim())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(plan_hash(&src), plan_hash(&squashed));
    let changed = src.replace("\"Low\"      => \"3\"", "\"Low\"      => \"2\"");
    assert_ne!(plan_hash(&src), plan_hash(&changed));
}
