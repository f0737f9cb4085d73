//! Group commit: many concurrent callers hand their events to one writer thread, which stores
//! whatever has queued up in one transaction ([`Store::insert_events`]) and then answers each
//! caller. Under load, hundreds of events share one fsync; alone, an event waits for nobody.
//!
//! A caller's future resolves only after the transaction holding its event committed (or
//! failed): ingest answers 2xx only then.

use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::{Inserted, NewEvent, Store, StoreError, StoreResult};

/// The most events one transaction takes.
const MAX_BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<Vec<Inserted>, String>>;

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<(Vec<NewEvent>, Reply)>,
}

impl GroupCommit {
    /// Starts the writer thread over `store`. It ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> GroupCommit {
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("seam-group-commit".into())
            .spawn(move || writer(store, rx))
            .map(|_| ())
            .unwrap_or_else(
                |e| tracing::error!(error = %e, "cannot start the group-commit thread"),
            );
        GroupCommit { tx }
    }

    /// Stores `events` (one request's worth) and returns once they are committed.
    pub async fn insert(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Inserted>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((events, reply))
            .await
            .map_err(|_| StoreError::Other("the group-commit writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Other("the group-commit writer has stopped".into()))?
            .map_err(StoreError::Other)
    }
}

fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<(Vec<NewEvent>, Reply)>) {
    while let Some(first) = rx.blocking_recv() {
        let mut requests = vec![first];
        let mut count = requests.iter().map(|r| r.0.len()).sum::<usize>();
        while count < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => {
                    count += r.0.len();
                    requests.push(r);
                }
                Err(_) => break,
            }
        }
        let all: Vec<NewEvent> = requests.iter().flat_map(|r| r.0.iter().cloned()).collect();
        match store.insert_events(&all) {
            Ok(outcomes) => {
                let mut rest = outcomes.into_iter();
                for (events, reply) in requests {
                    let mine: Vec<Inserted> = rest.by_ref().take(events.len()).collect();
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for (_, reply) in requests {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}
