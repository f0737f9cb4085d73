//! The hand-written parser (`syntax::hand`) against the pest path (the fast pest parser and the
//! conversion), on the corpus and the examples and on many thousands of mutations of them: a
//! reserved word for each name, every single-byte deletion of a few files, every prefix of the
//! full example, random insertions and deletions, and token soup. Whenever the hand parser
//! accepts a text, the pest path must accept it with an equal AST, spans included; `parse`
//! (which tries the hand parser first) must give exactly what the pest path alone gives; and
//! the hand parser must accept every corpus file the pest path accepts, and the generated specs.
//! It must never panic or recurse without bound: random bytes, cut-off files, deep nesting.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::agree_tests::sources;
use super::ast::Item;
use super::{chunks, hand, lexical, parse_in_chunks, pest_items};

/// What the pest path makes of `src` without the hand parser: the items, or `None`.
fn pest_path(src: &str) -> Option<Vec<Item>> {
    pest_items(src).ok()
}

fn hand_path(src: &str) -> Option<Vec<Item>> {
    hand::items(src, 0, src.len())
}

/// Counts of one batch of texts.
#[derive(Default, Debug)]
struct Tally {
    texts: usize,
    /// The pest path accepted.
    pest_ok: usize,
    /// ... and the hand parser refused.
    hand_refused: usize,
}

impl Tally {
    /// Checks one text: the hand parser accepts only what the pest path accepts, with an equal
    /// AST; and `parse` is the pest path's result (items, comments, or the same diagnostic).
    fn check(&mut self, name: &str, src: &str) {
        self.texts += 1;
        let hand = hand_path(src);
        let pest = pest_items(src);
        match (&hand, &pest) {
            (Some(h), Ok(p)) => assert_eq!(h, p, "{name}: the ASTs differ"),
            (Some(_), Err(_)) => panic!("{name}: the hand parser accepts what pest refuses"),
            (None, Ok(_)) => self.hand_refused += 1,
            (None, Err(_)) => {}
        }
        self.pest_ok += usize::from(pest.is_ok());
        if let Ok(scan) = lexical::prescan(src) {
            let expected = pest.map(|items| super::ast::SeamFile {
                items,
                comments: scan.comments,
            });
            assert_eq!(
                parse_in_chunks(src, 1),
                expected,
                "{name}: parse differs from the pest path"
            );
        }
    }
}

/// A fixed linear congruential sequence: the same texts on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize % n.max(1)
    }
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[test]
fn hand_parser_accepts_the_corpus_exactly_as_pest_does() {
    let mut accepted = 0;
    for (name, src) in sources() {
        let pest = pest_path(&src);
        let hand = hand_path(&src);
        if let Some(p) = &pest {
            // Every unmutated file the pest path turns into an AST, the hand parser must too.
            assert_eq!(hand.as_ref(), Some(p), "{name}: refused or different");
            accepted += 1;
        } else {
            assert!(
                hand.is_none(),
                "{name}: the hand parser accepts a pest error"
            );
        }
        Tally::default().check(&name, &src);
    }
    assert!(accepted > 40, "only {accepted} corpus files parse");
}

#[test]
fn hand_parser_agrees_with_reserved_words_as_names() {
    const SWAPS: [&str; 16] = [
        "key", "true", "via", "when", "and", "link", "from", "not", "in", "env", "map", "seam",
        "or", "open", "do", "false",
    ];
    let mut tally = Tally::default();
    for (name, src) in sources() {
        for (k, (start, end)) in super::agree_tests::words(&src).into_iter().enumerate() {
            let swap = SWAPS[(k + name.len()) % SWAPS.len()];
            let mutated = format!("{}{swap}{}", &src[..start], &src[end..]);
            tally.check(&format!("{name} with `{swap}` at {start}"), &mutated);
        }
    }
    eprintln!("reserved words: {tally:?}");
    assert!(tally.texts > 1000, "{tally:?}");
}

#[test]
fn hand_parser_agrees_on_every_single_byte_deletion() {
    let mut tally = Tally::default();
    for (name, src) in sources().into_iter().filter(|(n, _)| {
        n.ends_with("case_incident.seam")
            || n.ends_with("clean_comments_everywhere.seam")
            || n.ends_with("clean_policy_alerts.seam")
            || n.ends_with("clean_trailing_commas.seam")
    }) {
        for at in 0..src.len() {
            if !src.is_char_boundary(at) {
                continue;
            }
            let end = (at + 1..=src.len())
                .find(|&e| src.is_char_boundary(e))
                .unwrap_or(src.len());
            let mutated = format!("{}{}", &src[..at], &src[end..]);
            tally.check(&format!("{name} without byte {at}"), &mutated);
        }
    }
    eprintln!("single-byte deletions: {tally:?}");
    assert!(tally.texts > 3000 && tally.pest_ok > 100, "{tally:?}");
}

#[test]
fn hand_parser_agrees_on_every_prefix_of_the_example() {
    let (name, src) = sources()
        .into_iter()
        .find(|(n, _)| n.ends_with("examples/case_incident.seam"))
        .unwrap();
    let mut tally = Tally::default();
    for cut in 0..=src.len() {
        if src.is_char_boundary(cut) {
            tally.check(&format!("{name} cut at {cut}"), &src[..cut]);
            // The chunked entry point on the same cut: a range of a longer text.
            assert_eq!(
                hand::items(&src, 0, cut),
                hand_path(&src[..cut]),
                "{name}: range cut at {cut}"
            );
        }
    }
    eprintln!("prefixes: {tally:?}");
    assert!(tally.pest_ok > 5, "{tally:?}");
}

#[test]
fn hand_parser_agrees_on_random_insertions_and_deletions() {
    const INSERTS: [&str; 24] = [
        "}", "{", "\"", "//", "\n", "(", ")", "x", ",", ".", "-", "=", "<", ">", "_", "1", "\\",
        "*", "[", "]", " not ", " and ", "\r", "é",
    ];
    let mut rng = Lcg(0x5eed_0003);
    let mut tally = Tally::default();
    for (name, src) in sources() {
        for _ in 0..80 {
            let at = floor_boundary(&src, rng.below(src.len() + 1));
            let mutated = match rng.below(4) {
                0 => {
                    let end = floor_boundary(&src, at + 1 + rng.below(4));
                    format!("{}{}", &src[..at], &src[end.max(at)..])
                }
                1 => {
                    // A random byte (kept valid UTF-8: a byte below 0x80).
                    let b = char::from(rng.below(0x80) as u8);
                    format!("{}{b}{}", &src[..at], &src[at..])
                }
                _ => {
                    let insert = INSERTS[rng.below(INSERTS.len())];
                    format!("{}{insert}{}", &src[..at], &src[at..])
                }
            };
            tally.check(&format!("{name} mutated at {at}"), &mutated);
        }
    }
    eprintln!("random mutations: {tally:?}");
    assert!(
        tally.texts > 3000 && tally.pest_ok > 300 && tally.pest_ok > tally.hand_refused * 2,
        "{tally:?}"
    );
}

/// Texts made of the language's tokens in random order, with some structure kept (they are
/// built from declaration skeletons with random tokens spliced in), so that many parse.
#[test]
fn hand_parser_agrees_on_token_soup() {
    const TOKENS: [&str; 72] = [
        "seam",
        "system",
        "object",
        "identity",
        "own",
        "link",
        "workflow",
        "policy",
        "key",
        "open",
        "let",
        "on",
        "when",
        "do",
        "becomes",
        "changes",
        "created",
        "map",
        "via",
        "unique",
        "from",
        "env",
        "and",
        "or",
        "not",
        "in",
        "true",
        "false",
        "create",
        "update",
        "retry",
        "attempts",
        "backoff",
        "dead_letter",
        "after",
        "alert",
        "reconcile",
        "every",
        "text",
        "number",
        "bool",
        "datetime",
        "id",
        "ref",
        "picklist",
        "sf",
        "Case",
        "x_1",
        "_",
        "sf.Case.Subject",
        "snow.u_x",
        "Case.*",
        "\"s\"",
        "\"a\\\"b\\n\"",
        "5",
        "-2.5",
        "30s",
        "500ms",
        "1d",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        "=",
        "->",
        "<->",
        "=>",
        "..",
    ];
    const OPS: [&str; 8] = ["==", "!=", "<", "<=", ">", ">=", "// c\n", "\n"];
    const SKELETONS: [&str; 8] = [
        "seam s\nsystem sf: salesforce { url = env(\"U\") auth = basic(user = env(\"A\"), password = env(\"B\")) }",
        "object sf.Case { Subject: text(40) Status: picklist(\"New\", \"Done\") unique, P: number from(Subject) }",
        "own sf { Case.Subject, Case.* }",
        "identity i = sf.Case.Id <-> snow.inc.id",
        "link l: sf.Case <-> snow.inc { key sf.Case.Id <-> snow.inc.u_id open snow.inc when sf.Case.P > 2 and not (sf.Case.S in [\"a\", 1]) sf.Case.Subject -> snow.inc.d map { \"a\" => 1 _ => true } via i }",
        "workflow w { on sf.Case.Status becomes \"Done\" when sf.Case.P >= 1 or x.y == -3 do { open snow.inc via l let t = slack.post(text = \"{sf.Case.Subject}\") snow.update inc via l { state = 7 } snow.create inc { a = b.c } jira.close(id = t.id,) } }",
        "policy { retry = 5 attempts, backoff 1s .. 30s dead_letter = after retry alert slack.post(text = \"x\") when failures > 3 reconcile = every 1h other = f(a = 1) }",
        "workflow v { on sf.Case created do { } }",
    ];
    let mut rng = Lcg(0x70c3_5009);
    let mut tally = Tally::default();
    for round in 0..6000 {
        let mut text = String::new();
        for _ in 0..1 + rng.below(3) {
            text.push_str(SKELETONS[rng.below(SKELETONS.len())]);
            text.push('\n');
        }
        // Splice random tokens in at token boundaries (spaces), or replace one.
        let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
        for _ in 0..rng.below(3) {
            let i = rng.below(words.len());
            let token = if rng.below(4) == 0 {
                OPS[rng.below(OPS.len())]
            } else {
                TOKENS[rng.below(TOKENS.len())]
            };
            match rng.below(3) {
                0 => words[i] = token.to_string(),
                1 => words.insert(i, token.to_string()),
                _ => {
                    words.remove(i);
                }
            }
        }
        let soup = words.join(" ");
        tally.check(&format!("soup {round}"), &soup);
    }
    // Pure soup: no structure at all.
    for round in 0..3000 {
        let mut soup = String::new();
        for _ in 0..rng.below(40) {
            soup.push_str(TOKENS[rng.below(TOKENS.len())]);
            soup.push_str([" ", "", "\n", "\t"][rng.below(4)]);
        }
        tally.check(&format!("pure soup {round}"), &soup);
    }
    eprintln!("token soup: {tally:?}");
    assert!(tally.pest_ok > 1000, "{tally:?}");
}

#[test]
fn generated_specs_take_the_hand_path() {
    let src = crate::synthetic::spec(300);
    let hand = hand_path(&src).expect("the hand parser accepts a generated spec");
    assert_eq!(Some(hand), pest_path(&src));
    // And each chunk of a larger one (what the benchmark parses), at file offsets.
    let src = crate::synthetic::spec(1_500);
    let ends = lexical::prescan(&src).unwrap().item_ends;
    let ranges = chunks::ranges(src.len(), &ends, 6);
    assert_eq!(ranges.len(), 6);
    let mut items = Vec::new();
    for &(start, end) in &ranges {
        items.extend(hand::items(&src, start, end).expect("the hand parser accepts each chunk"));
    }
    assert_eq!(Some(items), pest_path(&src));
}

#[test]
fn hand_parser_never_panics_nor_recurses_without_bound() {
    assert_eq!(hand_path(""), Some(Vec::new()));
    assert_eq!(hand_path(" \n\t\r// only a comment"), Some(Vec::new()));
    let deep = 200_000;
    let texts = [
        format!(
            "link l: a.b <-> c.d {{ open c.d when {}a == 1{} }}",
            "(".repeat(deep),
            ")".repeat(deep)
        ),
        format!(
            "link l: a.b <-> c.d {{ open c.d when {}a == 1 }}",
            "not ".repeat(deep)
        ),
        format!(
            "link l: a.b <-> c.d {{ open c.d when a == 1{} }}",
            " and a == 1".repeat(deep)
        ),
        format!(
            "system s: k {{ a = {}1{} }}",
            "f(a = ".repeat(deep),
            ")".repeat(deep)
        ),
        "(".repeat(deep),
        "{".repeat(deep),
        "\"".repeat(deep),
        "/ ".repeat(deep),
    ];
    for text in &texts {
        assert_eq!(hand_path(text), None);
    }
    // Just within the limits, the deep texts parse, as they do with pest.
    let ok = format!(
        "link l: a.b <-> c.d {{ open c.d when {}a == 1{} }}",
        "(".repeat(lexical::MAX_NESTING - 1),
        ")".repeat(lexical::MAX_NESTING - 1)
    );
    assert_eq!(hand_path(&ok), pest_path(&ok));
    assert!(hand_path(&ok).is_some());
    let ops = format!(
        "link l: a.b <-> c.d {{ open c.d when a == 1{} }}",
        " and a == 1".repeat(super::expr::MAX_CONDITION_OPERATORS)
    );
    assert!(hand_path(&ops).is_some());
    assert_eq!(hand_path(&ops), pest_path(&ops));
    let over = format!(
        "link l: a.b <-> c.d {{ open c.d when a == 1{} }}",
        " and a == 1".repeat(super::expr::MAX_CONDITION_OPERATORS + 1)
    );
    assert_eq!(hand_path(&over), None);
    assert_eq!(pest_path(&over), None);
    // Random bytes, valid UTF-8 or not-quite-text.
    let mut rng = Lcg(0xb17e5);
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = hand_path(&text);
        for start in [0, text.len() / 2, text.len()] {
            let _ = hand::items(&text, start, text.len());
            let _ = hand::items(&text, start, text.len() + 1);
        }
    }
}
