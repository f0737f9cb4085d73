//! The chunked parse against the serial one (see `syntax::chunks`): on every corpus file and
//! example, cut at every place it can be cut, and on mutations of them (bytes deleted, braces,
//! quotes and comment markers inserted), either the chunks give exactly the serial parse's
//! items and spans, or they are refused and `parse` gives the serial parse's diagnostic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::agree_tests::sources;
use super::{chunks, lexical, parse_in_chunks};

/// Every two-way cut of `src`, and `parse` with 2 and 3 chunks, agree with the serial parse.
fn assert_chunks_agree(name: &str, src: &str) {
    let serial = parse_in_chunks(src, 1);
    for k in [2, 3] {
        assert_eq!(parse_in_chunks(src, k), serial, "{name}: {k} chunks");
    }
    let Ok(scan) = lexical::prescan(src) else {
        return;
    };
    for &cut in scan.item_ends.iter().filter(|&&c| c < src.len()) {
        let chunked = chunks::parse_items(src, &[(0, cut), (cut, src.len())]);
        match (&serial, chunked) {
            (Ok(file), Some(items)) => assert_eq!(file.items, items, "{name}: cut at {cut}"),
            (Ok(_), None) => panic!("{name}: cut at {cut} refuses a file that parses"),
            (Err(_), Some(_)) => panic!("{name}: cut at {cut} accepts a file that does not parse"),
            (Err(_), None) => {}
        }
    }
}

#[test]
fn chunks_agree_with_the_serial_parse_on_the_corpus() {
    let mut cut = 0;
    for (name, src) in sources() {
        cut += lexical::prescan(&src).map_or(0, |s| s.item_ends.len());
        assert_chunks_agree(&name, &src);
    }
    assert!(cut > 100, "only {cut} places to cut");
}

#[test]
fn chunks_agree_with_the_serial_parse_on_mutations() {
    const INSERTS: [&str; 8] = ["}", "{", "\"", "//", "\n", "}\n", "(", "x"];
    // A fixed linear congruential sequence: the same mutations on every run.
    let mut state: u64 = 0x5eed;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n.max(1)
    };
    let (mut tried, mut refused) = (0, 0);
    for (name, src) in sources() {
        for _ in 0..24 {
            let mut at = next(src.len());
            while !src.is_char_boundary(at) {
                at -= 1;
            }
            let mutated = if next(3) == 0 {
                let mut end = at + 1;
                while end < src.len() && !src.is_char_boundary(end) {
                    end += 1;
                }
                format!("{}{}", &src[..at], src.get(end..).unwrap_or_default())
            } else {
                let insert = INSERTS[next(INSERTS.len())];
                format!("{}{insert}{}", &src[..at], &src[at..])
            };
            refused += usize::from(parse_in_chunks(&mutated, 1).is_err());
            assert_chunks_agree(&format!("{name} mutated at {at}"), &mutated);
            tried += 1;
        }
    }
    assert!(
        tried > 1000 && refused > 300,
        "{tried} mutations, {refused} refused"
    );
}

#[test]
fn a_large_spec_is_cut_and_matches_the_serial_parse() {
    let src = crate::synthetic::spec(1_500);
    let serial = parse_in_chunks(&src, 1).unwrap().items;
    // More chunks than workers: each worker parses several, and they still come out in order.
    for k in [3, 8] {
        let ranges = chunks::ranges(src.len(), &lexical::prescan(&src).unwrap().item_ends, k);
        assert_eq!(ranges.len(), k, "the spec was not cut");
        let chunked = chunks::parse_items(&src, &ranges).expect("every chunk parses");
        assert_eq!(chunked, serial, "{k} chunks");
    }
}

#[test]
fn an_error_in_a_later_chunk_is_the_serial_diagnostic() {
    let src = crate::synthetic::spec(1_500);
    // A mapping arrow broken in the last third of the file.
    let at = src.rfind(" -> ").unwrap();
    let broken = format!("{} - > {}", &src[..at], &src[at + 4..]);
    let serial = parse_in_chunks(&broken, 1).unwrap_err();
    let chunked = parse_in_chunks(&broken, 3).unwrap_err();
    assert_eq!(chunked, serial);
    let span = chunked.primary_span();
    assert_eq!(&broken[span.start..span.end], "-", "{}", chunked.message);
    assert!(
        span.start > broken.len() / 3 * 2,
        "the span is in the file's offsets"
    );
}
