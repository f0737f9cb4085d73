//! A large file's declarations parsed on several threads: the text is cut where a top-level
//! declaration's body closes (`lexical::Prescan::item_ends`), each chunk is parsed as a `file`
//! by the fast parser and converted on its own thread with its spans shifted to the file's
//! offsets, and the items are concatenated in order.
//!
//! Guarantee: when every chunk parses and converts, the items are exactly those of a serial
//! parse of the whole text; when any chunk is refused, `None`, and the caller parses the whole
//! text serially, so a diagnostic never depends on where the text was cut.
//!
//! Why this holds: a cut follows a `}` outside strings, comments, parentheses and other braces.
//! In a text that parses, that `}` closes a top-level declaration (the grammar pairs braces as
//! the pre-scan counts them), which is the last token of its rule, so no rule looks past the
//! cut and the whole text is the chunks' declarations side by side. Conversely, chunks that
//! each parse as declarations side by side are such a text. `syntax::tests` checks this on
//! the corpus and on mutations of it, cut everywhere it can be.

use super::ast::Item;
use super::fast::{FastParser, Rule};
use super::{decl, expr};
use pest::Parser as _;
use std::thread;

/// Texts shorter than this are parsed on one thread: starting a thread costs more than
/// parsing a few declarations (a 1,000-mapping spec is ~100 KB and takes milliseconds).
const PARALLEL_MIN_BYTES: usize = 64 * 1024;

/// A chunk's thread gets the stack of a main thread, so nesting that parses serially parses
/// in a chunk too (pest also grows its stack on demand).
const CHUNK_STACK_BYTES: usize = 8 << 20;

/// How many chunks to cut a text of `len` bytes into: one per core for a large text.
pub(super) fn count(len: usize) -> usize {
    if len < PARALLEL_MIN_BYTES {
        return 1;
    }
    thread::available_parallelism().map_or(1, usize::from)
}

/// Up to `k` byte ranges that cover `0..len` in order, of near-equal size, each cut at one of
/// `item_ends` (sorted). Fewer when there are too few places to cut.
pub(super) fn ranges(len: usize, item_ends: &[usize], k: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(k);
    let mut start = 0;
    for i in 1..k {
        let target = len / k * i;
        let at = item_ends.partition_point(|&e| e < target);
        match item_ends.get(at) {
            Some(&cut) if cut > start && cut < len => {
                out.push((start, cut));
                start = cut;
            }
            _ => {}
        }
    }
    out.push((start, len));
    out
}

/// The declarations of `src`, each range of `ranges` parsed on its own thread (the first on
/// this one); `None` if any range does not parse or convert cleanly.
pub(super) fn parse_items(src: &str, ranges: &[(usize, usize)]) -> Option<Vec<Item>> {
    let (&first, rest) = ranges.split_first()?;
    thread::scope(|scope| {
        let handles: Vec<_> = rest
            .iter()
            .map(|&range| {
                thread::Builder::new()
                    .stack_size(CHUNK_STACK_BYTES)
                    .spawn_scoped(scope, move || chunk(src, range))
            })
            .collect();
        let mut items = chunk(src, first);
        for handle in handles {
            // Every handle is joined (a thread that could not start is a refusal too).
            let part = handle.ok().and_then(|h| h.join().ok()).flatten();
            items = items.zip(part).map(|(mut all, part)| {
                all.extend(part);
                all
            });
        }
        items
    })
}

/// One chunk, parsed and converted with file offsets.
fn chunk(src: &str, (start, end): (usize, usize)) -> Option<Vec<Item>> {
    let text = src.get(start..end)?;
    let file = FastParser::parse(Rule::file, text).ok()?.next()?;
    expr::with_base(start, || decl::file(file)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cut_at_item_ends_near_equal_parts() {
        let ends = [10, 20, 45, 60, 90, 100];
        assert_eq!(ranges(100, &ends, 1), [(0, 100)]);
        assert_eq!(ranges(100, &ends, 2), [(0, 60), (60, 100)]);
        assert_eq!(
            ranges(100, &ends, 4),
            [(0, 45), (45, 60), (60, 90), (90, 100)]
        );
        // Nowhere to cut but the end: one range.
        assert_eq!(ranges(100, &[100], 3), [(0, 100)]);
        assert_eq!(ranges(100, &[], 3), [(0, 100)]);
    }

    #[test]
    fn small_texts_stay_on_one_thread() {
        assert_eq!(count(0), 1);
        assert_eq!(count(PARALLEL_MIN_BYTES - 1), 1);
        assert!(count(PARALLEL_MIN_BYTES) >= 1);
    }
}
