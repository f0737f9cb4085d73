//! The Plan's JSON, written fast. Two forms, both byte for byte serde_json's:
//!
//! - the **pretty** JSON `seam compile` writes (`serde_json::to_writer_pretty`, two-space
//!   indent), with a line break and its indentation in one write instead of one per level;
//! - the **compact** JSON `spec_hash` is the SHA-256 of (`serde_json::to_writer`, with
//!   `spec_hash` empty).
//!
//! A 100,000-mapping plan is ~100 MB of pretty JSON, so a large plan is cut into pieces
//! ([`jobs`]: the top-level fields, and runs of elements of its big arrays), serialised on every
//! core into buffers and written (and hashed) in order by the calling thread. A piece at depth
//! `d` is what serde_json writes there: the pretty form depends only on the depth it starts at
//! (a [`Ser`] starting at `d`), the compact form on nothing. A [`Ser`] over [`BothOut`] writes
//! both forms in one pass, so `seam compile -o FILE` serialises the plan once for the file and
//! the hash. Values are serialised by [`super::ser`], serde_json's bytes without its escape
//! scan.

use super::ser::{BothOut, CompactOut, PrettyOut, Ser};
use super::{ModelParts, Plan};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// What `spec_hash` shows in [`Plan::write_pretty_hashing`]'s output until the caller patches
/// the real hash in: as long as a hash (64 hex digits).
pub const HASH_PLACEHOLDER: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Plans with at least this many top-level array elements (objects, ownership entries, links;
/// a mapping counts through its link's and its ownership entry's share) are serialised on
/// several threads; below, the threads cost more than they save.
const PARALLEL_MIN_ELEMENTS: usize = 4_000;

/// Each big array is cut into about this many pieces (a piece's buffers are what a thread
/// holds; ~0.5 MB of pretty JSON each for a 100,000-mapping plan).
const PIECES_PER_ARRAY: usize = 64;

/// At most this many threads serialise (the calling one included): the calling thread also
/// writes and hashes, in order, what the others produce.
const MAX_THREADS: usize = 4;

/// The outcome of [`Plan::write_pretty_hashing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedJson {
    /// The plan's content hash ([`Plan::content_hash`]).
    pub spec_hash: String,
    /// Where, in the bytes written, the 64 characters of [`HASH_PLACEHOLDER`] begin.
    pub hash_at: u64,
}

impl Plan {
    /// Writes the plan as pretty JSON (no final line break): the bytes of
    /// `serde_json::to_writer_pretty`.
    pub fn write_pretty<W: Write>(&self, out: W) -> serde_json::Result<()> {
        write_pretty(self, None, out, Split::for_plan(self, None)).map_err(serde_json::Error::io)
    }

    /// Writes the plan as pretty JSON (no final line break) with [`HASH_PLACEHOLDER`] in place
    /// of `spec_hash`, and returns the plan's content hash, computed from the same
    /// serialisation, with where the placeholder is. Writing the hash there gives the bytes of
    /// [`Plan::write_pretty`] for the plan with that hash (for an output that can be written
    /// at a position: a regular file).
    pub fn write_pretty_hashing<W: Write>(&self, out: W) -> io::Result<HashedJson> {
        write_pretty_hashing(self, None, out, Split::for_plan(self, None))
    }

    /// [`Plan::write_pretty`] for a [`Plan::skeleton`] with its missing parts from the model
    /// (`parts`): the bytes of the whole plan's.
    pub fn write_pretty_with<W: Write>(
        &self,
        parts: ModelParts<'_>,
        out: W,
    ) -> serde_json::Result<()> {
        let split = Split::for_plan(self, Some(parts));
        write_pretty(self, Some(parts), out, split).map_err(serde_json::Error::io)
    }

    /// [`Plan::write_pretty_hashing`] for a [`Plan::skeleton`] and `parts`, as in
    /// [`Plan::write_pretty_with`].
    pub fn write_pretty_hashing_with<W: Write>(
        &self,
        parts: ModelParts<'_>,
        out: W,
    ) -> io::Result<HashedJson> {
        let split = Split::for_plan(self, Some(parts));
        write_pretty_hashing(self, Some(parts), out, split)
    }

    /// [`Plan::content_hash`] for a [`Plan::skeleton`] and `parts`, as in
    /// [`Plan::write_pretty_with`].
    pub fn content_hash_with(&self, parts: ModelParts<'_>) -> String {
        let split = Split::for_plan(self, Some(parts));
        content_hash_split(self, Some(parts), split)
    }
}

/// Where a pass takes the ownership list and the links from: the plan's own (`None`) or the
/// model's parts.
type Owners<'a> = Option<ModelParts<'a>>;

/// How a pass is cut: into how many pieces per big array, on how many threads.
#[derive(Clone, Copy, Debug)]
struct Split {
    pieces: usize,
    threads: usize,
}

impl Split {
    /// The cut for `plan`, or for its skeleton and `parts` if given.
    fn for_plan(plan: &Plan, parts: Owners<'_>) -> Split {
        let (ownership, links) = match parts {
            Some(p) => (p.ownership.len(), p.links.len()),
            None => (plan.ownership.len(), plan.links.len()),
        };
        if plan.objects.len() + ownership + links < PARALLEL_MIN_ELEMENTS {
            return Split {
                pieces: 1,
                threads: 1,
            };
        }
        Split {
            pieces: PIECES_PER_ARRAY,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
        }
    }
}

fn write_pretty<W: Write>(
    plan: &Plan,
    owners: Owners<'_>,
    mut out: W,
    split: Split,
) -> io::Result<()> {
    let (jobs, _) = jobs(plan, owners, &plan.spec_hash, split.pieces);
    run(&jobs, Mode::Pretty, split.threads, |piece| {
        out.write_all(&piece.pretty)
    })
}

fn write_pretty_hashing<W: Write>(
    plan: &Plan,
    owners: Owners<'_>,
    mut out: W,
    split: Split,
) -> io::Result<HashedJson> {
    let (jobs, hash_job) = jobs(plan, owners, HASH_PLACEHOLDER, split.pieces);
    let mut hasher = Sha256::new();
    let (mut written, mut hash_at, mut index) = (0u64, 0u64, 0usize);
    run(&jobs, Mode::Both, split.threads, |piece| {
        if index == hash_job {
            hash_at = written + SPEC_HASH_KEY.len() as u64 + 1;
        }
        index += 1;
        written += piece.pretty.len() as u64;
        hasher.update(&piece.compact);
        out.write_all(&piece.pretty)
    })?;
    Ok(HashedJson {
        spec_hash: hex(hasher),
        hash_at,
    })
}

/// SHA-256 (lowercase hex) of the plan's compact JSON with `spec_hash` empty, whatever the
/// plan's `spec_hash` holds.
pub(super) fn content_hash(plan: &Plan) -> String {
    content_hash_split(plan, None, Split::for_plan(plan, None))
}

fn content_hash_split(plan: &Plan, owners: Owners<'_>, split: Split) -> String {
    let (jobs, _) = jobs(plan, owners, "", split.pieces);
    let mut hasher = Sha256::new();
    // Serialising these plain data types into memory cannot fail.
    let _ = run(&jobs, Mode::Compact, split.threads, |piece| {
        hasher.update(&piece.compact);
        Ok(())
    });
    hex(hasher)
}

fn hex(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Which forms a pass produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Pretty,
    Compact,
    Both,
}

/// One piece's output, in the forms its pass asked for.
struct Piece {
    mode: Mode,
    pretty: Vec<u8>,
    compact: Vec<u8>,
}

impl Piece {
    fn new(mode: Mode) -> Piece {
        Piece {
            mode,
            pretty: Vec::new(),
            compact: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.pretty.clear();
        self.compact.clear();
    }

    /// Text that is not a serialised value: brackets, keys, separators.
    fn raw(&mut self, pretty: &[u8], compact: &[u8]) {
        if self.mode != Mode::Compact {
            self.pretty.extend_from_slice(pretty);
        }
        if self.mode != Mode::Pretty {
            self.compact.extend_from_slice(compact);
        }
    }

    /// A value starting at `depth` (the top-level object's fields are at depth 1).
    fn value<T: Serialize + ?Sized>(&mut self, value: &T, depth: usize) -> io::Result<()> {
        match self.mode {
            Mode::Pretty => value.serialize(&mut Ser::new(PrettyOut(&mut self.pretty), depth))?,
            Mode::Compact => {
                value.serialize(&mut Ser::new(CompactOut(&mut self.compact), depth))?
            }
            Mode::Both => value.serialize(&mut Ser::new(
                BothOut {
                    pretty: &mut self.pretty,
                    compact: &mut self.compact,
                },
                depth,
            ))?,
        }
        Ok(())
    }

    /// A top-level key and the separator before it.
    fn key(&mut self, first: bool, key: &str) {
        let comma: &[u8] = if first { b"" } else { b"," };
        self.raw(comma, comma);
        self.raw(b"\n  \"", b"\"");
        self.raw(key.as_bytes(), key.as_bytes());
        self.raw(b"\": ", b"\":");
    }
}

/// A piece of the plan's JSON: writes itself into a [`Piece`].
type Job<'a> = Box<dyn Fn(&mut Piece) -> io::Result<()> + Sync + 'a>;

/// The key and the separator before the hash's text, in the pretty form.
const SPEC_HASH_KEY: &str = ",\n  \"spec_hash\": ";

/// The plan's JSON as pieces, in order, with `spec_hash` showing `shown` in the pretty form
/// (the compact form always has it empty), and the index of the piece that holds the hash
/// (its text starts with [`SPEC_HASH_KEY`] and a quote). The top level is written here, field
/// by field, as serde_json writes a struct; the destructuring makes a new field of [`Plan`] a
/// compile error here. Each big array is cut into about `pieces` runs of elements. The
/// ownership list and the links are `owners`' if given, else the plan's own.
fn jobs<'a>(
    plan: &'a Plan,
    owners: Owners<'a>,
    shown: &'a str,
    pieces: usize,
) -> (Vec<Job<'a>>, usize) {
    let Plan {
        plan_version,
        spec_hash: _,
        seam,
        systems,
        objects,
        ownership,
        identities,
        links,
        workflows,
        policy,
    } = plan;
    let mut jobs: Vec<Job<'a>> = Vec::new();
    jobs.push(Box::new(move |p: &mut Piece| {
        p.raw(b"{", b"{");
        p.key(true, "plan_version");
        p.value(plan_version, 1)
    }));
    let hash_job = jobs.len();
    jobs.push(Box::new(move |p: &mut Piece| {
        p.raw(SPEC_HASH_KEY.as_bytes(), b",\"spec_hash\":");
        p.raw(b"\"", b"\"");
        p.raw(shown.as_bytes(), b"");
        p.raw(b"\"", b"\"");
        Ok(())
    }));
    jobs.push(field("seam", seam));
    jobs.push(field("systems", systems));
    array(&mut jobs, "objects", objects, pieces);
    match owners {
        None => array(&mut jobs, "ownership", ownership, pieces),
        Some(parts) => array(&mut jobs, "ownership", parts.ownership, pieces),
    }
    jobs.push(field("identities", identities));
    match owners {
        None => array(&mut jobs, "links", links, pieces),
        Some(parts) => array(&mut jobs, "links", parts.links, pieces),
    }
    jobs.push(field("workflows", workflows));
    jobs.push(Box::new(move |p: &mut Piece| {
        p.key(false, "policy");
        p.value(policy, 1)?;
        p.raw(b"\n}", b"}");
        Ok(())
    }));
    (jobs, hash_job)
}

/// A top-level field that is not the first, whole.
fn field<'a, T: Serialize + Sync + ?Sized>(key: &'static str, value: &'a T) -> Job<'a> {
    Box::new(move |p: &mut Piece| {
        p.key(false, key);
        p.value(value, 1)
    })
}

/// A top-level array that is not the first field, in runs of elements: what serde_json writes
/// for a sequence at depth 1 (`[]` when empty; else each element on its own line at depth 2,
/// and the closing bracket on a line of its own).
fn array<'a, T: Serialize + Sync>(
    jobs: &mut Vec<Job<'a>>,
    key: &'static str,
    items: &'a [T],
    pieces: usize,
) {
    if items.is_empty() {
        jobs.push(Box::new(move |p: &mut Piece| {
            p.key(false, key);
            p.raw(b"[]", b"[]");
            Ok(())
        }));
        return;
    }
    jobs.push(Box::new(move |p: &mut Piece| {
        p.key(false, key);
        p.raw(b"[", b"[");
        Ok(())
    }));
    let run = items.len().div_ceil(pieces.max(1));
    for (n, chunk) in items.chunks(run).enumerate() {
        jobs.push(Box::new(move |p: &mut Piece| {
            for (i, item) in chunk.iter().enumerate() {
                let comma: &[u8] = if n == 0 && i == 0 { b"" } else { b"," };
                p.raw(comma, comma);
                p.raw(b"\n    ", b"");
                p.value(item, 2)?;
            }
            Ok(())
        }));
    }
    jobs.push(Box::new(|p: &mut Piece| {
        p.raw(b"\n  ]", b"]");
        Ok(())
    }));
}

/// Runs the jobs in `mode` on `threads` threads (this one included) and hands every piece to
/// `sink`, in job order, on this thread. Every thread takes the next job not yet taken
/// ([`Board`]); this one also hands the finished pieces to `sink` in order, which it does
/// first whenever the next one is ready, so the threads share the serialising and this one
/// alone the writing and hashing, however long each takes. Jobs are taken at most
/// [`AHEAD_PER_THREAD`] per thread past the last piece written, so only a few pieces are held
/// at once; their buffers are reused. A thread that cannot start leaves its jobs to the
/// others. The first error (of a job or of `sink`) stops the run and is returned.
fn run<F>(jobs: &[Job<'_>], mode: Mode, threads: usize, mut sink: F) -> io::Result<()>
where
    F: FnMut(&Piece) -> io::Result<()>,
{
    if threads <= 1 {
        let mut own = Piece::new(mode);
        for job in jobs {
            own.clear();
            job(&mut own)?;
            sink(&own)?;
        }
        return Ok(());
    }
    let board = Board::new(jobs.len(), mode, threads * AHEAD_PER_THREAD);
    std::thread::scope(|scope| {
        for _ in 1..threads {
            let _helper = std::thread::Builder::new().spawn_scoped(scope, || board.help(jobs));
        }
        let led = board.lead(jobs, &mut sink);
        board.stop();
        led
    })
}

/// How many jobs each thread may take past the last piece written.
const AHEAD_PER_THREAD: usize = 3;

/// The jobs of one [`run`]: which are taken, which pieces are done, the spare buffers.
struct Board {
    mode: Mode,
    ahead: usize,
    state: Mutex<State>,
    /// Signalled whenever a piece is done or abandoned, one is written, or the run stops.
    changed: Condvar,
}

struct State {
    /// The first job not taken.
    next: usize,
    /// How many pieces have been handed to the sink.
    written: usize,
    slots: Vec<Slot>,
    spare: Vec<Piece>,
    stopped: bool,
}

enum Slot {
    Waiting,
    Done(io::Result<Piece>),
    /// Its thread panicked: the leading thread runs the job itself.
    Abandoned,
}

impl Board {
    fn new(jobs: usize, mode: Mode, ahead: usize) -> Board {
        Board {
            mode,
            ahead,
            state: Mutex::new(State {
                next: 0,
                written: 0,
                slots: (0..jobs).map(|_| Slot::Waiting).collect(),
                spare: Vec::new(),
                stopped: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next job if there is one within reach: its index and a buffer.
    fn take(&self, state: &mut State) -> Option<(usize, Piece)> {
        let k = state.next;
        if k >= state.slots.len() || k >= state.written + self.ahead {
            return None;
        }
        state.next += 1;
        let mut piece = state.spare.pop().unwrap_or_else(|| Piece::new(self.mode));
        piece.clear();
        Some((k, piece))
    }

    /// A helper thread: takes and runs jobs until none is left or the run stops.
    fn help(&self, jobs: &[Job<'_>]) {
        let mut state = self.lock();
        loop {
            if state.stopped || state.next >= state.slots.len() {
                return;
            }
            let Some((k, mut piece)) = self.take(&mut state) else {
                state = self.wait(state);
                continue;
            };
            drop(state);
            let taken = Taken {
                board: self,
                job: k,
            };
            let result = run_job(jobs, k, &mut piece).map(|()| piece);
            std::mem::forget(taken);
            state = self.lock();
            if let Some(slot) = state.slots.get_mut(k) {
                *slot = Slot::Done(result);
            }
            self.changed.notify_all();
        }
    }

    /// The calling thread: hands the pieces to `sink` in order and, while the next is not
    /// ready, takes jobs like a helper.
    fn lead<F>(&self, jobs: &[Job<'_>], sink: &mut F) -> io::Result<()>
    where
        F: FnMut(&Piece) -> io::Result<()>,
    {
        let mut state = self.lock();
        while state.written < state.slots.len() {
            let written = state.written;
            let ready = match state.slots.get_mut(written) {
                Some(slot @ Slot::Done(_)) => std::mem::replace(slot, Slot::Waiting),
                Some(Slot::Abandoned) => {
                    // Its thread panicked: run it here (as the others would be, if it was
                    // the only helper).
                    let mut piece = Piece::new(self.mode);
                    run_job(jobs, written, &mut piece)?;
                    Slot::Done(Ok(piece))
                }
                _ => Slot::Waiting,
            };
            if let Slot::Done(result) = ready {
                drop(state);
                let piece = result?;
                sink(&piece)?;
                state = self.lock();
                state.spare.push(piece);
                state.written += 1;
                self.changed.notify_all();
                continue;
            }
            if let Some((k, mut piece)) = self.take(&mut state) {
                drop(state);
                let result = run_job(jobs, k, &mut piece).map(|()| piece);
                state = self.lock();
                if let Some(slot) = state.slots.get_mut(k) {
                    *slot = Slot::Done(result);
                }
                continue;
            }
            state = self.wait(state);
        }
        Ok(())
    }

    /// Ends the run: helpers take no more jobs.
    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

fn run_job(jobs: &[Job<'_>], k: usize, piece: &mut Piece) -> io::Result<()> {
    match jobs.get(k) {
        Some(job) => job(piece),
        None => Ok(()),
    }
}

/// A job a helper has taken; dropped only if the job panicked (it is forgotten otherwise),
/// marking it for the leading thread to run.
struct Taken<'b> {
    board: &'b Board,
    job: usize,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut state = self.board.lock();
        if let Some(slot) = state.slots.get_mut(self.job) {
            *slot = Slot::Abandoned;
        }
        self.board.changed.notify_all();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;

    /// Every way a pass can be cut: serial, and on 2 and 3 threads in pieces of one element up
    /// to a few (empty arrays and arrays shorter than the cut included).
    pub(in crate::plan) const SPLITS: [(usize, usize); 6] =
        [(1, 1), (1, 2), (3, 2), (64, 2), (5, 3), (1_000_000, 3)];

    /// The pretty JSON, the hashed pretty JSON (placeholder patched) and the content hash of
    /// `plan` cut by `(pieces, threads)`.
    pub(in crate::plan) fn outputs(plan: &Plan, split: (usize, usize)) -> (String, String, String) {
        outputs_with(plan, None, split)
    }

    /// [`outputs`] with the ownership list and links from `owners` if given.
    pub(in crate::plan) fn outputs_with(
        plan: &Plan,
        owners: Owners<'_>,
        (pieces, threads): (usize, usize),
    ) -> (String, String, String) {
        let split = Split { pieces, threads };
        let mut pretty = Vec::new();
        write_pretty(plan, owners, &mut pretty, split).unwrap();
        let mut hashed = Vec::new();
        let h = write_pretty_hashing(plan, owners, &mut hashed, split).unwrap();
        let at = usize::try_from(h.hash_at).unwrap();
        assert_eq!(
            hashed.get(at..at + 64).unwrap(),
            HASH_PLACEHOLDER.as_bytes()
        );
        hashed.splice(at..at + 64, h.spec_hash.bytes());
        assert_eq!(h.spec_hash, content_hash_split(plan, owners, split));
        (
            String::from_utf8(pretty).unwrap(),
            String::from_utf8(hashed).unwrap(),
            h.spec_hash,
        )
    }

    /// Jobs of uneven length (some sleep), each writing its index: whatever thread runs
    /// which, the sink sees them in order; an error of a job or of the sink ends the run with
    /// it, without waiting forever.
    #[test]
    fn jobs_taken_by_any_thread_reach_the_sink_in_order_and_errors_stop_the_run() {
        let n = 200;
        let jobs: Vec<Job<'_>> = (0..n)
            .map(|k| -> Job<'_> {
                Box::new(move |p: &mut Piece| {
                    if k % 7 == 3 {
                        std::thread::sleep(std::time::Duration::from_micros(300));
                    }
                    p.raw(format!("{k},").as_bytes(), b"");
                    Ok(())
                })
            })
            .collect();
        let expected: String = (0..n).map(|k| format!("{k},")).collect();
        for threads in [1, 2, 3, 5] {
            let mut out = Vec::new();
            run(&jobs, Mode::Pretty, threads, |p| {
                out.extend_from_slice(&p.pretty);
                Ok(())
            })
            .unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{threads}");
            // The sink fails at piece 50.
            let mut seen = 0;
            let failed = run(&jobs, Mode::Pretty, threads, |_| {
                seen += 1;
                if seen == 50 {
                    return Err(io::Error::other("sink"));
                }
                Ok(())
            });
            assert_eq!(failed.unwrap_err().to_string(), "sink", "{threads}");
            assert_eq!(seen, 50, "{threads}");
        }
        // A job fails: the pieces before it are written, then its error is returned.
        let mut failing: Vec<Job<'_>> = (0..n)
            .map(|k| -> Job<'_> {
                Box::new(move |p: &mut Piece| {
                    p.raw(format!("{k},").as_bytes(), b"");
                    Ok(())
                })
            })
            .collect();
        *failing.get_mut(120).unwrap() = Box::new(|_: &mut Piece| Err(io::Error::other("job")));
        for threads in [1, 2, 3] {
            let mut written = 0;
            let failed = run(&failing, Mode::Pretty, threads, |_| {
                written += 1;
                Ok(())
            });
            assert_eq!(failed.unwrap_err().to_string(), "job", "{threads}");
            assert_eq!(written, 120, "{threads}");
        }
    }
}
