//! Group commit for SQLite (合并提交). SQLite has one writer at a time, and every statement
//! costs a hand-off to the connection's thread; so on SQLite one writer task runs the state
//! changes, and runs the changes that queued up while it was busy in one transaction — one
//! BEGIN and one COMMIT for the lot. No change is acknowledged before its batch has committed.
//!
//! If any change in a batch fails, the whole batch is rolled back and each change is run again
//! in a transaction of its own, so one bad request never affects another's answer. Changes are
//! therefore written to be re-runnable (they are closures over their request). PostgreSQL runs
//! each change in its own transaction on the caller's task: it has many writers.

use super::{Store, Tx};
use crate::actor::Actor;
use crate::error::Error;
use futures::future::BoxFuture;
use std::any::Any;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The result of a change, type-erased to cross the writer's channel.
pub type Output = Box<dyn Any + Send>;

/// A re-runnable state change.
pub type Change =
    Arc<dyn for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<Output, Error>> + Send + Sync>;

/// Most changes committed together.
const MAX_BATCH: usize = 64;

struct Job {
    actor: Actor,
    change: Change,
    reply: oneshot::Sender<Result<Output, Error>>,
}

/// The handle requests use to reach the writer task.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task for `store`.
    pub fn start(store: Store) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(run(store, rx));
        Self { jobs }
    }

    /// Runs `change` for `actor` and returns its output once it is committed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn submit(&self, actor: &Actor, change: Change) -> Result<Output, Error> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            actor: actor.clone(),
            change,
            reply,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| Error::internal(anyhow::anyhow!("the database writer has stopped")))?;
        answer.await.map_err(|_| {
            Error::internal(anyhow::anyhow!(
                "the database writer dropped a change (it failed while running it)"
            ))
        })?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // A panic inside a change ends that batch (its callers get an error), not the writer.
        let store = store.clone();
        let _ = tokio::spawn(async move { commit_batch(&store, jobs).await }).await;
    }
}

async fn commit_batch(store: &Store, jobs: Vec<Job>) {
    if jobs.len() == 1 {
        for job in jobs {
            commit_alone(store, job).await;
        }
        return;
    }
    match try_together(store, &jobs).await {
        Ok(outputs) => {
            for (job, out) in jobs.into_iter().zip(outputs) {
                let _ = job.reply.send(Ok(out));
            }
        }
        Err(()) => {
            for job in jobs {
                commit_alone(store, job).await;
            }
        }
    }
}

/// All the jobs in one transaction; `Err` if any failed (the transaction is rolled back).
async fn try_together(store: &Store, jobs: &[Job]) -> Result<Vec<Output>, ()> {
    let mut tx = store.begin(&jobs[0].actor).await.map_err(|_| ())?;
    let mut outputs = Vec::with_capacity(jobs.len());
    for job in jobs {
        tx.act_for(job.actor.clone());
        outputs.push((job.change)(&mut tx).await.map_err(|_| ())?);
    }
    tx.commit().await.map_err(|_| ())?;
    metrics::histogram!("natlis_write_batch_size").record(jobs.len() as f64);
    Ok(outputs)
}

async fn commit_alone(store: &Store, job: Job) {
    let result = async {
        let mut tx = store.begin(&job.actor).await?;
        let out = (job.change)(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }
    .await;
    let _ = job.reply.send(result);
}
