//! Group commit: many concurrent callers hand their work to one writer thread, which commits
//! whatever has queued up in one transaction and then answers each caller. Under load,
//! hundreds of callers share one commit; alone, a caller waits for nobody.
//!
//! Two writers use it: the inbox's ([`GroupCommit`], [`Store::insert_events`], FULL: the
//! durability point of ingest) and the engine's ([`FinishCommit`], [`Store::finish_events`]:
//! each event's last-written values, audit rows, observed trigger values and fate).
//!
//! A caller's future resolves only after the transaction holding its work committed (or
//! failed): ingest answers 2xx only then, a worker releases its record only then.

use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::{EventFinish, Inserted, NewEvent, Store, StoreError, StoreResult};

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

/// The engine's writer of finished events; cheap to clone.
#[derive(Clone)]
pub struct FinishCommit(Grouped<EventFinish, ()>);

impl FinishCommit {
    /// Starts the writer thread over `store`. It ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> FinishCommit {
        FinishCommit(Grouped::start(
            "seam-engine-commit",
            |_| 1,
            move |batch: Vec<EventFinish>| match store.finish_events(&batch) {
                Ok(()) => batch.iter().map(|_| Ok(())).collect(),
                // The batch rolled back whole: each event alone, so one that cannot be
                // stored does not fail the others, and its own error is the one it gets.
                Err(_) if batch.len() > 1 => batch
                    .iter()
                    .map(|f| {
                        store
                            .finish_events(std::slice::from_ref(f))
                            .map_err(|e| e.to_string())
                    })
                    .collect(),
                Err(e) => vec![Err(e.to_string())],
            },
        ))
    }

    /// Commits one event's finish and returns once it is committed.
    pub async fn finish(&self, finish: EventFinish) -> StoreResult<()> {
        self.0.submit(finish).await
    }
}
