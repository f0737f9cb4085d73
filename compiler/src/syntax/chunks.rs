//! A large file's declarations parsed on several threads: the text is cut where a top-level
//! declaration's body closes (`lexical::Prescan::item_ends`), one worker per core takes chunks
//! in turn, parses each as a `file` (with the hand-written parser, which works in the file's
//! offsets; if it refuses, with the fast pest parser and the conversion, spans shifted to the
//! file's offsets), and the items are concatenated in order. Chunks are small (a few hundred KB)
//! so that pest's token queue, ~20 times the text it covers, is only ever held for one chunk
//! per worker, not for the whole file, when pest parses.
//!
//! Guarantee: when every chunk parses and converts, the items are exactly those of a serial
//! parse of the whole text; when any chunk is refused, `None`, and the caller parses the whole
//! text serially, so a diagnostic never depends on where the text was cut.
//!
//! Why this holds: a cut follows a `}` outside strings, comments, parentheses and other braces.
//! In a text that parses, that `}` closes a top-level declaration (the grammar pairs braces as
//! the pre-scan counts them), which is the last token of its rule, so no rule looks past the
//! cut and the whole text is the chunks' declarations side by side. Conversely, chunks that
//! each parse as declarations side by side are such a text. `syntax::chunk_tests` checks this on
//! the corpus and on mutations of it, cut everywhere it can be.

use super::ast::Item;
use super::fast::{FastParser, Rule};
use super::{decl, expr, hand};
use pest::Parser as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

/// Texts shorter than this are parsed on one thread: starting a thread costs more than
/// parsing a few declarations (a 1,000-mapping spec is ~100 KB and takes milliseconds).
const PARALLEL_MIN_BYTES: usize = 64 * 1024;

/// The size of a chunk of a large text: small enough that pest's token queue for it stays a
/// few MB, large enough that taking the next chunk costs nothing beside parsing it.
const CHUNK_BYTES: usize = 256 * 1024;

/// A worker gets the stack of a main thread, so nesting that parses serially parses in a
/// chunk too (pest also grows its stack on demand).
const WORKER_STACK_BYTES: usize = 8 << 20;

fn workers() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// How many chunks to cut a text of `len` bytes into: one for a small text or a single core,
/// otherwise at least one per core and at most [`CHUNK_BYTES`] each.
pub(super) fn count(len: usize) -> usize {
    let workers = workers();
    if len < PARALLEL_MIN_BYTES || workers < 2 {
        return 1;
    }
    len.div_ceil(CHUNK_BYTES).max(workers)
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

/// The declarations of `src`, the ranges parsed by one worker per core (this thread is one);
/// `None` if any range does not parse or convert cleanly.
pub(super) fn parse_items(src: &str, ranges: &[(usize, usize)]) -> Option<Vec<Item>> {
    let queue = Queue {
        src,
        ranges,
        next: AtomicUsize::new(0),
        refused: AtomicBool::new(false),
    };
    let done = thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers().min(ranges.len()))
            .map(|_| {
                thread::Builder::new()
                    .stack_size(WORKER_STACK_BYTES)
                    .spawn_scoped(scope, || queue.work())
            })
            .collect();
        let mut done = queue.work();
        for helper in helpers {
            // A helper that could not start leaves its share to the others; one that panicked
            // loses its chunks, which the count below notices.
            if let Ok(Ok(part)) = helper.map(|h| h.join()) {
                done.extend(part);
            }
        }
        done
    });
    if queue.refused.load(Ordering::Relaxed) || done.len() != ranges.len() {
        return None;
    }
    let mut parts: Vec<Option<Vec<Item>>> = vec![None; ranges.len()];
    for (i, items) in done {
        *parts.get_mut(i)? = Some(items);
    }
    let mut all = Vec::new();
    for part in parts {
        all.extend(part?);
    }
    Some(all)
}

/// The chunks of one text, handed out in order to whichever worker asks.
struct Queue<'a> {
    src: &'a str,
    ranges: &'a [(usize, usize)],
    next: AtomicUsize,
    /// Set by the first chunk refused: the others stop, the caller parses serially.
    refused: AtomicBool,
}

impl Queue<'_> {
    /// Parses chunks until none is left: (chunk index, its items) for each.
    fn work(&self) -> Vec<(usize, Vec<Item>)> {
        let mut done = Vec::new();
        while !self.refused.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&range) = self.ranges.get(i) else {
                break;
            };
            match chunk(self.src, range) {
                Some(items) => done.push((i, items)),
                None => self.refused.store(true, Ordering::Relaxed),
            }
        }
        done
    }
}

/// One chunk, parsed and converted with file offsets: by the hand-written parser, or by pest
/// if that refuses.
fn chunk(src: &str, (start, end): (usize, usize)) -> Option<Vec<Item>> {
    if let Some(items) = hand::items(src, start, end) {
        return Some(items);
    }
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
        if workers() > 1 {
            assert_eq!(count(PARALLEL_MIN_BYTES), workers());
            assert_eq!(count(10 * CHUNK_BYTES), 10.max(workers()));
        }
    }
}
