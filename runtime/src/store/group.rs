//! Group commit: many concurrent callers hand their work to one writer thread, which commits
//! whatever has queued up in one transaction and then answers each caller. Under load,
//! hundreds of callers share one commit; alone, a caller waits for nobody.
//!
//! The writer has two lanes, each its own transaction on its own connection: the inbox's
//! ([`GroupCommit`], [`Store::insert_events`], FULL: the durability point of ingest) and the
//! engine's ([`FinishCommit`], [`Store::finish_events`]: each event's last-written values,
//! audit rows, observed trigger values and fate, and the dispatcher's claims of new events in
//! the same transaction). The runtime runs both lanes on one thread ([`start`]): SQLite has
//! one writer at a time anyway, so two threads only took turns at the write gate, and each
//! turn was a sleep and a wake-up more. One wake-up of the shared thread serves what queued in
//! both lanes: the inbox's new events are committed (and their callers answered) first, then
//! the engine's batch, whose claim can take those events at once.
//!
//! A caller's future resolves only after the transaction holding its work committed (or
//! failed): ingest answers 2xx only then, a worker releases its record only then.

use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::{EventFinish, InboxEvent, Inserted, NewEvent, Store, StoreError, StoreResult};

/// The most items (events) one transaction takes.
const MAX_BATCH: usize = 1024;

type Reply<R> = oneshot::Sender<Result<R, String>>;

/// What the writer thread takes, with where to answer.
enum Job {
    /// One request's new events, for the inbox's lane.
    Inbox(Vec<NewEvent>, Reply<Vec<Inserted>>),
    /// A finish or a claim, for the engine's lane.
    Engine(EngineWork, Reply<Vec<InboxEvent>>),
}

/// A handle on a writer thread; cheap to clone.
#[derive(Clone)]
struct Writer {
    tx: mpsc::Sender<Job>,
}

/// Starts one writer thread for the runtime: the inbox's lane over `inbox` and the engine's
/// over `engine` (two connections, one thread). It ends when every handle is dropped.
pub fn start(inbox: Arc<dyn Store>, engine: Arc<dyn Store>) -> (GroupCommit, FinishCommit) {
    let writer = Writer::start("seam-writer", Some(inbox), Some(engine));
    (GroupCommit(writer.clone()), FinishCommit(writer))
}

impl Writer {
    /// Starts the thread `name`: it takes what has queued (up to [`MAX_BATCH`] events and
    /// finishes), commits the inbox's part and answers it, then the engine's. A lane without a
    /// store answers with an error (its handles are never given out). It ends when every
    /// handle is dropped.
    fn start(name: &str, inbox: Option<Arc<dyn Store>>, engine: Option<Arc<dyn Store>>) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        let run = move || {
            while let Some(first) = rx.blocking_recv() {
                let mut inserts = Vec::new();
                let mut work = Vec::new();
                let mut next = Some(first);
                let mut count = 0;
                while let Some(job) = next.take() {
                    match job {
                        Job::Inbox(events, reply) => {
                            count += events.len().max(1);
                            inserts.push((events, reply));
                        }
                        Job::Engine(w, reply) => {
                            count += 1;
                            work.push((w, reply));
                        }
                    }
                    if count < MAX_BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                if !inserts.is_empty() {
                    let (requests, replies): (Vec<_>, Vec<_>) = inserts.into_iter().unzip();
                    let answers = match &inbox {
                        Some(store) => insert_requests(store.as_ref(), requests),
                        None => requests.iter().map(|_| Err(no_lane("inbox"))).collect(),
                    };
                    answer(replies, answers);
                }
                if !work.is_empty() {
                    let (items, replies): (Vec<_>, Vec<_>) = work.into_iter().unzip();
                    let answers = match &engine {
                        Some(store) => commit_engine_work(store.as_ref(), items),
                        None => items.iter().map(|_| Err(no_lane("engine"))).collect(),
                    };
                    answer(replies, answers);
                }
            }
        };
        std::thread::Builder::new()
            .name(name.into())
            .spawn(run)
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the {name} thread"));
        Writer { tx }
    }

    async fn submit<R>(&self, job: impl FnOnce(Reply<R>) -> Job) -> StoreResult<R> {
        let stopped = || StoreError::Other("the group-commit writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx.send(job(reply)).await.map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Other)
    }
}

fn no_lane(lane: &str) -> String {
    format!("this writer has no {lane} store")
}

/// Answers each caller in order; a missing answer is an error, not a hang.
fn answer<R>(replies: Vec<Reply<R>>, answers: Vec<Result<R, String>>) {
    let mut answers = answers.into_iter();
    for reply in replies {
        let answer = answers
            .next()
            .unwrap_or_else(|| Err("the writer gave no answer".into()));
        let _ = reply.send(answer);
    }
}

/// Stores the queued requests' events in one transaction; each request's outcomes, in order.
fn insert_requests(
    store: &dyn Store,
    requests: Vec<Vec<NewEvent>>,
) -> Vec<Result<Vec<Inserted>, String>> {
    let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
    let all: Vec<NewEvent> = requests.into_iter().flatten().collect();
    match store.insert_events(&all) {
        Ok(outcomes) => {
            let mut rest = outcomes.into_iter();
            sizes
                .iter()
                .map(|&n| Ok(rest.by_ref().take(n).collect()))
                .collect()
        }
        Err(e) => {
            let message = e.to_string();
            sizes.iter().map(|_| Err(message.clone())).collect()
        }
    }
}

/// The inbox's writer; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit(Writer);

impl GroupCommit {
    /// Starts a writer thread of its own over `store` (the runtime shares one with the
    /// engine: [`start`]). It ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> GroupCommit {
        GroupCommit(Writer::start("seam-group-commit", Some(store), None))
    }

    /// Stores `events` (one request's worth) and returns once they are committed.
    pub async fn insert(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Inserted>> {
        self.0.submit(|reply| Job::Inbox(events, reply)).await
    }
}

/// What the engine's writer takes: an event's finish, or the dispatcher's claim.
enum EngineWork {
    Finish(Box<EventFinish>),
    /// Claim due events for `free` idle workers.
    Claim {
        now: i64,
        free: usize,
    },
}

/// The engine's writer: finished events, and the claims of new ones in the same
/// transaction; cheap to clone.
#[derive(Clone)]
pub struct FinishCommit(Writer);

impl FinishCommit {
    /// Starts a writer thread of its own over `store` (the runtime shares one with the
    /// inbox: [`start`]). It ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> FinishCommit {
        FinishCommit(Writer::start("seam-engine-commit", None, Some(store)))
    }

    /// Commits one event's finish and returns once it is committed.
    pub async fn finish(&self, finish: EventFinish) -> StoreResult<()> {
        self.0
            .submit(|reply| Job::Engine(EngineWork::Finish(Box::new(finish)), reply))
            .await
            .map(drop)
    }

    /// Claims due events for `free` idle workers, in the transaction of the finishes queued
    /// with it. It may return more than `free`: the workers of those finishes are free once
    /// it commits (a caller waits for their slots).
    pub async fn claim(&self, now: i64, free: usize) -> StoreResult<Vec<InboxEvent>> {
        self.0
            .submit(|reply| Job::Engine(EngineWork::Claim { now, free }, reply))
            .await
    }
}

/// One transaction for the finishes and the claim of a batch; an answer per item, in order.
fn commit_engine_work(
    store: &dyn Store,
    work: Vec<EngineWork>,
) -> Vec<Result<Vec<InboxEvent>, String>> {
    let mut finishes = Vec::with_capacity(work.len());
    let mut claim: Option<(i64, usize)> = None;
    let mut is_claim = Vec::with_capacity(work.len());
    for w in work {
        match w {
            EngineWork::Finish(f) => {
                finishes.push(*f);
                is_claim.push(false);
            }
            EngineWork::Claim { now, free } => {
                claim = Some(claim.map_or((now, free), |(n, f)| (n.max(now), f + free)));
                is_claim.push(true);
            }
        }
    }
    let (finished, mut claimed) = match claim {
        None => (finish_each_on_failure(store, &finishes), Ok(Vec::new())),
        Some((now, free)) => {
            // The batch's workers are free once it commits: claim for them too.
            match store.finish_and_claim(&finishes, now, free + finishes.len()) {
                Ok(events) => (finishes.iter().map(|_| Ok(())).collect(), Ok(events)),
                Err(e) if finishes.is_empty() => (Vec::new(), Err(e.to_string())),
                Err(_) => (
                    finish_each_on_failure(store, &finishes),
                    store.claim_events(now, free).map_err(|e| e.to_string()),
                ),
            }
        }
    };
    let mut finished = finished.into_iter();
    is_claim
        .into_iter()
        .map(|claim| {
            if claim {
                // One dispatcher: a second claim in one batch gets nothing.
                std::mem::replace(&mut claimed, Ok(Vec::new()))
            } else {
                finished
                    .next()
                    .unwrap_or_else(|| Err("the writer gave no answer".into()))
                    .map(|()| Vec::new())
            }
        })
        .collect()
}

/// Commits `batch` in one transaction; when it fails, each finish alone, so one that cannot
/// be stored does not fail the others, and its own error is the one it gets.
fn finish_each_on_failure(store: &dyn Store, batch: &[EventFinish]) -> Vec<Result<(), String>> {
    match store.finish_events(batch) {
        Ok(()) => batch.iter().map(|_| Ok(())).collect(),
        Err(_) if batch.len() > 1 => batch
            .iter()
            .map(|f| {
                store
                    .finish_events(std::slice::from_ref(f))
                    .map_err(|e| e.to_string())
            })
            .collect(),
        Err(e) => batch.iter().map(|_| Err(e.to_string())).collect(),
    }
}
