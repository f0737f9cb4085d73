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
    /// An event's finish; with `next_at`, the claim of one more event for its worker, in the
    /// same transaction (`next_at`: the claim's now).
    Finish {
        finish: Box<EventFinish>,
        next_at: Option<i64>,
    },
    /// Claim due events for `free` idle workers.
    Claim { now: i64, free: usize },
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
        let finish = Box::new(finish);
        self.0
            .submit(|reply| {
                Job::Engine(
                    EngineWork::Finish {
                        finish,
                        next_at: None,
                    },
                    reply,
                )
            })
            .await
            .map(drop)
    }

    /// Commits one event's finish and, in the same transaction, claims the next due event
    /// for the worker it frees (`None`: nothing claimable). Returns once it is committed.
    pub async fn finish_and_claim_next(
        &self,
        finish: EventFinish,
        now: i64,
    ) -> StoreResult<Option<InboxEvent>> {
        let finish = Box::new(finish);
        self.0
            .submit(|reply| {
                Job::Engine(
                    EngineWork::Finish {
                        finish,
                        next_at: Some(now),
                    },
                    reply,
                )
            })
            .await
            .map(|events| events.into_iter().next())
    }

    /// Claims up to `free` due events for idle workers, in the transaction of the finishes
    /// queued with it.
    pub async fn claim(&self, now: i64, free: usize) -> StoreResult<Vec<InboxEvent>> {
        self.0
            .submit(|reply| Job::Engine(EngineWork::Claim { now, free }, reply))
            .await
    }
}

/// Whether a finish committed (its error if not).
type Finished = Result<(), String>;
/// The events a batch claimed (its error if the claim failed).
type Claimed = Result<Vec<InboxEvent>, String>;

/// One transaction for the finishes and the claims of a batch; an answer per item, in order:
/// a finish that failed gets its error, and every item that asked gets at most what it asked
/// for. Claimed events go only to items that can take them (a claim, or a finish that
/// committed), so none is left claimed with nobody to run it.
fn commit_engine_work(
    store: &dyn Store,
    work: Vec<EngineWork>,
) -> Vec<Result<Vec<InboxEvent>, String>> {
    let mut finishes = Vec::with_capacity(work.len());
    // Per item: the index of its finish (if it is one), and how many events it asks for.
    let mut items: Vec<(Option<usize>, usize)> = Vec::with_capacity(work.len());
    let mut now: Option<i64> = None;
    let mut later = |at: i64| now = Some(now.map_or(at, |n: i64| n.max(at)));
    for w in work {
        match w {
            EngineWork::Finish { finish, next_at } => {
                items.push((Some(finishes.len()), usize::from(next_at.is_some())));
                finishes.push(*finish);
                if let Some(at) = next_at {
                    later(at);
                }
            }
            EngineWork::Claim { now: at, free } => {
                items.push((None, free));
                later(at);
            }
        }
    }
    let asked = |finished: &[Finished]| -> usize {
        items
            .iter()
            .filter(|(f, _)| f.is_none_or(|i| matches!(finished.get(i), Some(Ok(())))))
            .map(|(_, n)| n)
            .sum()
    };
    let (finished, claimed): (Vec<Finished>, Claimed) = match now {
        None => (finish_each_on_failure(store, &finishes), Ok(Vec::new())),
        Some(now) => {
            let all_ok: Vec<Finished> = finishes.iter().map(|_| Ok(())).collect();
            match store.finish_and_claim(&finishes, now, asked(&all_ok)) {
                Ok(events) => (all_ok, Ok(events)),
                Err(e) if finishes.is_empty() => (Vec::new(), Err(e.to_string())),
                Err(_) => {
                    // Each finish alone, then a claim for those that can take events.
                    let finished = finish_each_on_failure(store, &finishes);
                    let wanted = asked(&finished);
                    let claimed = if wanted == 0 {
                        Ok(Vec::new())
                    } else {
                        store.claim_events(now, wanted).map_err(|e| e.to_string())
                    };
                    (finished, claimed)
                }
            }
        }
    };
    let mut claimed = claimed.map(Vec::into_iter);
    items
        .into_iter()
        .map(|(finish, wants)| {
            let finished = match finish {
                Some(i) => finished
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| Err("the writer gave no answer".into())),
                None => Ok(()),
            };
            finished?;
            match &mut claimed {
                Ok(events) => Ok(events.by_ref().take(wants).collect()),
                // A finish that committed is answered so, whatever became of the claim.
                Err(_) if finish.is_some() => Ok(Vec::new()),
                Err(e) => Err(e.clone()),
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
