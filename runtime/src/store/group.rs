//! Group commit: many concurrent callers hand their work to one writer thread, which commits
//! whatever has queued up in one transaction and then answers each caller. Under load,
//! hundreds of callers share one commit; alone, a caller waits for nobody.
//!
//! Two writers use it: the inbox's ([`GroupCommit`], [`Store::insert_events`], FULL: the
//! durability point of ingest) and the engine's ([`FinishCommit`], [`Store::finish_events`]:
//! each event's last-written values, audit rows, observed trigger values and fate, and the
//! dispatcher's claims of new events in the same transaction).
//!
//! A caller's future resolves only after the transaction holding its work committed (or
//! failed): ingest answers 2xx only then, a worker releases its record only then.

use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::{EventFinish, InboxEvent, Inserted, NewEvent, Store, StoreError, StoreResult};

/// The most items (events) one transaction takes.
const MAX_BATCH: usize = 1024;

type Reply<R> = oneshot::Sender<Result<R, String>>;

/// A writer thread that commits queued items of type `T` together, answering `R` to each.
struct Grouped<T, R> {
    tx: mpsc::Sender<(T, Reply<R>)>,
}

impl<T, R> Clone for Grouped<T, R> {
    fn clone(&self) -> Self {
        Grouped {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> Grouped<T, R> {
    /// Starts the thread `name`: it takes what has queued (up to [`MAX_BATCH`] by `weight`)
    /// and hands it to `commit`, which answers each item in order. It ends when every handle
    /// is dropped.
    fn start(
        name: &str,
        weight: fn(&T) -> usize,
        mut commit: impl FnMut(Vec<T>) -> Vec<Result<R, String>> + Send + 'static,
    ) -> Grouped<T, R> {
        let (tx, mut rx) = mpsc::channel::<(T, Reply<R>)>(4096);
        let run = move || {
            while let Some(first) = rx.blocking_recv() {
                let mut count = weight(&first.0);
                let mut items = vec![first];
                while count < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(r) => {
                            count += weight(&r.0);
                            items.push(r);
                        }
                        Err(_) => break,
                    }
                }
                let (work, replies): (Vec<T>, Vec<Reply<R>>) = items.into_iter().unzip();
                let mut answers = commit(work).into_iter();
                for reply in replies {
                    let answer = answers
                        .next()
                        .unwrap_or_else(|| Err("the writer gave no answer".into()));
                    let _ = reply.send(answer);
                }
            }
        };
        std::thread::Builder::new()
            .name(name.into())
            .spawn(run)
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the {name} thread"));
        Grouped { tx }
    }

    async fn submit(&self, item: T) -> StoreResult<R> {
        let stopped = || StoreError::Other("the group-commit writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx.send((item, reply)).await.map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Other)
    }
}

/// The inbox's writer; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit(Grouped<Vec<NewEvent>, Vec<Inserted>>);

impl GroupCommit {
    /// Starts the writer thread over `store`. It ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> GroupCommit {
        GroupCommit(Grouped::start(
            "seam-group-commit",
            Vec::len,
            move |requests: Vec<Vec<NewEvent>>| {
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
            },
        ))
    }

    /// Stores `events` (one request's worth) and returns once they are committed.
    pub async fn insert(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Inserted>> {
        self.0.submit(events).await
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
pub struct FinishCommit(Grouped<EngineWork, Vec<InboxEvent>>);

impl FinishCommit {
    /// Starts the writer thread over `store`. It ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> FinishCommit {
        FinishCommit(Grouped::start(
            "seam-engine-commit",
            |_| 1,
            move |work: Vec<EngineWork>| commit_engine_work(store.as_ref(), work),
        ))
    }

    /// Commits one event's finish and returns once it is committed.
    pub async fn finish(&self, finish: EventFinish) -> StoreResult<()> {
        self.0
            .submit(EngineWork::Finish(Box::new(finish)))
            .await
            .map(drop)
    }

    /// Claims due events for `free` idle workers, in the transaction of the finishes queued
    /// with it. It may return more than `free`: the workers of those finishes are free once
    /// it commits (a caller waits for their slots).
    pub async fn claim(&self, now: i64, free: usize) -> StoreResult<Vec<InboxEvent>> {
        self.0.submit(EngineWork::Claim { now, free }).await
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
