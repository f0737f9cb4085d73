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
use std::sync::mpsc;

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
/// `sink`, in job order, on this thread. Job `k` runs on thread `k % threads`; each other
/// thread sends its pieces through a channel of two, so at most a few pieces are held at
/// once, and gets its buffers back to reuse. A thread that cannot start leaves its jobs to
/// this one. The first error (of a job or of `sink`) stops the run and is returned.
fn run<F>(jobs: &[Job<'_>], mode: Mode, threads: usize, mut sink: F) -> io::Result<()>
where
    F: FnMut(&Piece) -> io::Result<()>,
{
    let mut own = Piece::new(mode);
    if threads <= 1 {
        for job in jobs {
            own.clear();
            job(&mut own)?;
            sink(&own)?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let helpers: Vec<Helper> = (1..threads)
            .map(|t| Helper::start(scope, jobs, mode, t, threads))
            .collect();
        for (k, job) in jobs.iter().enumerate() {
            let helper = match k % threads {
                0 => None,
                t => helpers.get(t - 1),
            };
            match helper.and_then(|h| h.pieces.recv().ok()) {
                Some(piece) => {
                    let piece = piece?;
                    sink(&piece)?;
                    if let Some(h) = helper {
                        // A helper that has finished no longer takes buffers back.
                        let _ = h.spare.send(piece);
                    }
                }
                None => {
                    own.clear();
                    job(&mut own)?;
                    sink(&own)?;
                }
            }
        }
        Ok(())
    })
}

/// A thread serialising every `threads`-th job from its first, `t`.
struct Helper {
    /// Its pieces, in order (a closed channel: it did not start or stopped on an error).
    pieces: mpsc::Receiver<io::Result<Piece>>,
    /// Buffers handed back for reuse.
    spare: mpsc::Sender<Piece>,
}

impl Helper {
    fn start<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        jobs: &'env [Job<'env>],
        mode: Mode,
        t: usize,
        threads: usize,
    ) -> Helper {
        let (done, pieces) = mpsc::sync_channel(2);
        let (spare, spares) = mpsc::channel::<Piece>();
        // If the thread cannot start, its channels close and its jobs run on the caller's.
        let _started = std::thread::Builder::new().spawn_scoped(scope, move || {
            for job in jobs.iter().skip(t).step_by(threads) {
                let mut piece = spares.try_recv().unwrap_or_else(|_| Piece::new(mode));
                piece.clear();
                let result = job(&mut piece).map(|()| piece);
                let failed = result.is_err();
                if done.send(result).is_err() || failed {
                    return;
                }
            }
        });
        Helper { pieces, spare }
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
}
