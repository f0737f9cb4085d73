//! The fast parser against the strict one (see `syntax::parse`): on every corpus file and
//! example, and on each of them with one name at a time replaced by a reserved word, either both
//! parsers build the same tree, or the strict one fails and the fast one fails too or built a
//! bare name that is a keyword (which the conversion refuses). Either way `parse` gives what the
//! strict parser alone would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::fast::{self, FastParser};
use super::lexical::is_keyword;
use super::{errors, parse, Rule, SeamParser};
use pest::Parser as _;

/// Every `.seam` file of the spec corpus and the examples (broken ones included).
pub(super) fn sources() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    let mut dirs = vec![root.join("spec/corpus"), root.join("examples")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "seam") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.sort();
    assert!(out.len() > 40, "the corpus went missing: {}", out.len());
    out
}

/// The tree as (rule name, start, end), in order.
fn strict_tree(src: &str) -> Option<Vec<(String, usize, usize)>> {
    let pairs = SeamParser::parse(Rule::file, src).ok()?;
    Some(
        pairs
            .flatten()
            .map(|p| {
                (
                    format!("{:?}", p.as_rule()),
                    p.as_span().start(),
                    p.as_span().end(),
                )
            })
            .collect(),
    )
}

/// A parse tree flattened to (rule, start, end) per pair.
type Tree = Vec<(String, usize, usize)>;

/// The fast tree, and whether it holds a bare name that is a keyword.
fn fast_tree(src: &str) -> Option<(Tree, bool)> {
    let pairs = FastParser::parse(fast::Rule::file, src).ok()?;
    let mut keyword_name = false;
    let tree = pairs
        .flatten()
        .map(|p| {
            keyword_name |= p.as_rule() == fast::Rule::ident && is_keyword(p.as_str());
            (
                format!("{:?}", p.as_rule()),
                p.as_span().start(),
                p.as_span().end(),
            )
        })
        .collect();
    Some((tree, keyword_name))
}

fn assert_agree(name: &str, src: &str) {
    match (strict_tree(src), fast_tree(src)) {
        (Some(strict), Some((fast, keyword_name))) => {
            assert!(!keyword_name, "{name}: strict accepts a keyword name");
            assert_eq!(strict, fast, "{name}: the trees differ");
        }
        (Some(_), None) => panic!("{name}: the fast parser refuses what the strict one accepts"),
        (None, Some((_, keyword_name))) => {
            assert!(
                keyword_name,
                "{name}: the fast parser accepts a strict error"
            );
            let strict = SeamParser::parse(Rule::file, src).unwrap_err();
            let expected = errors::from_pest(src, &strict);
            if super::lexical::prescan(src).is_ok() {
                assert_eq!(parse(src).unwrap_err(), expected, "{name}");
            }
        }
        (None, None) => {}
    }
}

/// The words of `src` outside strings and comments, as byte ranges.
pub(super) fn words(src: &str) -> Vec<(usize, usize)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn fast_and_strict_agree_on_the_corpus() {
    for (name, src) in sources() {
        assert_agree(&name, &src);
    }
}

#[test]
fn fast_and_strict_agree_with_reserved_words_as_names() {
    // Keywords that start, continue or end constructs, cycled over the word positions.
    const SWAPS: [&str; 12] = [
        "key", "true", "via", "when", "and", "link", "from", "not", "in", "env", "map", "seam",
    ];
    let mut tried = 0;
    for (name, src) in sources() {
        for (k, (start, end)) in words(&src).into_iter().enumerate() {
            let swap = SWAPS[(k + name.len()) % SWAPS.len()];
            let mutated = format!("{}{swap}{}", &src[..start], &src[end..]);
            assert_agree(&format!("{name} with `{swap}` at {start}"), &mutated);
            tried += 1;
        }
    }
    assert!(tried > 1000, "only {tried} mutations");
}
