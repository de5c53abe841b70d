//! Group commit: one thread writes, and every change that is ready when it starts a transaction
//! joins it. Each change runs in a savepoint of its own (a refused change rolls back alone, its
//! audit records with it) and all of them, with their records, reach disk with one commit, so
//! under load the number of flushes grows with the number of batches, not of calls. No caller
//! hears back before the commit that holds its change: nothing is acknowledged before it is
//! durable.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use rusqlite::{Connection, TransactionBehavior};
use signgate_audit::record::EncodedEvent;
use tokio::sync::{broadcast, oneshot};

use crate::{
    audit::{AuditLog, AuditWriter, Staged},
    store::{ProposalChange, StoreError},
};

/// Most changes one transaction takes; a longer queue waits for the next.
const MAX_BATCH: usize = 256;

/// One change waiting for the writer, its value type erased.
pub(super) trait Job: Send {
    /// The audit records to commit with the change, encoded by the caller (taken once).
    fn take_audit(&mut self) -> Vec<EncodedEvent>;
    /// Runs the change inside its savepoint; what it changed, for the watchers.
    fn run(&mut self, c: &Connection) -> Result<Vec<ProposalChange>, StoreError>;
    /// Whether the change that ran took effect. One that did not (an identical submission
    /// committed first, and the store answers with it) rolls back, its records with it: the
    /// log records what took effect, one to one with the store.
    fn took_effect(&self) -> bool;
    /// Tells the caller: its value once the transaction committed, or why not.
    fn finish(self: Box<Self>, outcome: Result<(), StoreError>);
}

/// A change whose closure returns `T` to a waiting caller.
pub(super) struct Typed<T, F> {
    audit: Vec<EncodedEvent>,
    f: Option<F>,
    value: Option<T>,
    /// Whether a value means the change took effect ([`Job::took_effect`]).
    effective: fn(&T) -> bool,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Typed<T, F> {
    /// The job and the receiver its caller awaits; `effective` tells from the closure's value
    /// whether the change took effect.
    pub(super) fn new(
        audit: Vec<EncodedEvent>,
        f: F,
        effective: fn(&T) -> bool,
    ) -> (Self, oneshot::Receiver<Result<T, StoreError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Self {
                audit,
                f: Some(f),
                value: None,
                effective,
                reply,
            },
            rx,
        )
    }
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<(T, Vec<ProposalChange>), StoreError> + Send,
{
    fn take_audit(&mut self) -> Vec<EncodedEvent> {
        std::mem::take(&mut self.audit)
    }

    fn run(&mut self, c: &Connection) -> Result<Vec<ProposalChange>, StoreError> {
        let f = self
            .f
            .take()
            .ok_or_else(|| StoreError::Unavailable("a store change ran twice".to_owned()))?;
        let (value, changes) = f(c)?;
        self.value = Some(value);
        Ok(changes)
    }

    fn took_effect(&self) -> bool {
        self.value.as_ref().is_some_and(self.effective)
    }

    fn finish(self: Box<Self>, outcome: Result<(), StoreError>) {
        let Self { value, reply, .. } = *self;
        let result = outcome.and_then(|()| {
            value.ok_or_else(|| StoreError::Unavailable("a store change never ran".to_owned()))
        });
        // A caller that gave up (a cancelled call) no longer listens; the change stands.
        let _ = reply.send(result);
    }
}

/// What the writer thread shares with the store.
pub(super) struct Shared {
    pub(super) conn: Arc<Mutex<Connection>>,
    pub(super) changes: broadcast::Sender<ProposalChange>,
    pub(super) audit: Arc<OnceLock<Arc<AuditLog>>>,
}

/// Starts the writer thread; it ends when every sender is dropped.
pub(super) fn spawn(shared: Shared) -> std::io::Result<mpsc::Sender<Box<dyn Job>>> {
    let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
    std::thread::Builder::new()
        .name("signgate-store-writer".to_owned())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                commit(&shared, batch);
            }
        })?;
    Ok(tx)
}

/// Runs every job of `batch` in one transaction, each in a savepoint, and commits once.
fn commit(shared: &Shared, batch: Vec<Box<dyn Job>>) {
    let log = shared.audit.get();
    // The log's writer lock first (the lock order of every writer of the file), then the
    // connection, then SQLite's write lock.
    let mut writer: Option<AuditWriter<'_>> = None;
    let mut no_writer: Option<String> = None;
    match log {
        Some(log) => match log.writer() {
            Ok(w) => writer = Some(w),
            Err(e) => no_writer = Some(e.to_string()),
        },
        None => {
            no_writer = Some(
                "no audit log is attached to the store; nothing is stored unrecorded".to_owned(),
            );
        }
    }
    let Ok(mut conn) = shared.conn.lock() else {
        for job in batch {
            job.finish(Err(StoreError::Unavailable(
                "store lock poisoned".to_owned(),
            )));
        }
        return;
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for job in batch {
                job.finish(Err(StoreError::Unavailable(e.to_string())));
            }
            return;
        }
    };
    let mut done: Vec<(Box<dyn Job>, Vec<ProposalChange>)> = Vec::with_capacity(batch.len());
    let mut staged_all: Vec<Staged> = Vec::new();
    // Set when a change could not be rolled back to its savepoint: the transaction may hold
    // part of it, so nothing of the batch commits.
    let mut broken: Option<String> = None;
    for mut job in batch {
        if let Some(why) = &broken {
            job.finish(Err(unrolled(why)));
            continue;
        }
        let audit = job.take_audit();
        let sp = match Savepoint::open(&tx) {
            Ok(sp) => sp,
            Err(e) => {
                job.finish(Err(StoreError::Unavailable(e.to_string())));
                continue;
            }
        };
        let staged = if audit.is_empty() {
            Ok(None)
        } else {
            match (writer.as_mut(), &no_writer) {
                (Some(w), _) => w
                    .stage(&sp, &audit)
                    .map(Some)
                    .map_err(|e| StoreError::Unrecorded(e.to_string())),
                (None, why) => Err(StoreError::Unrecorded(why.clone().unwrap_or_default())),
            }
        };
        let staged = match staged {
            Ok(staged) => staged,
            Err(e) => {
                undo(&sp, None, None, &mut broken);
                job.finish(Err(e));
                continue;
            }
        };
        let ran = match job.run(&sp) {
            // Nothing changed: the savepoint rolls back, records included, and the caller
            // still gets its answer once the batch has committed.
            Ok(changes) if !job.took_effect() => Ran::NoEffect(changes),
            Ok(changes) => match sp.release() {
                Ok(()) => Ran::Kept(changes),
                Err(e) => Ran::Failed(StoreError::Unavailable(e.to_string())),
            },
            Err(e) => Ran::Failed(e),
        };
        match ran {
            Ran::Kept(changes) => {
                staged_all.extend(staged);
                done.push((job, changes));
            }
            Ran::NoEffect(changes) => {
                undo(&sp, writer.as_mut(), staged, &mut broken);
                done.push((job, changes));
            }
            Ran::Failed(e) => {
                undo(&sp, writer.as_mut(), staged, &mut broken);
                job.finish(Err(e));
            }
        }
    }
    if let Some(why) = broken {
        drop(tx);
        if let Some(w) = writer
            && !staged_all.is_empty()
        {
            w.poison();
        }
        for (job, _) in done {
            job.finish(Err(unrolled(&why)));
        }
        return;
    }
    match tx.commit() {
        Ok(()) => {
            if let Some(w) = writer {
                w.committed_all(staged_all);
            }
            for (job, changes) in done {
                for change in changes {
                    // No subscriber is fine: nobody is watching.
                    let _ = shared.changes.send(change);
                }
                job.finish(Ok(()));
            }
        }
        Err(e) => {
            if let Some(w) = writer
                && !staged_all.is_empty()
            {
                w.poison();
            }
            for (job, _) in done {
                job.finish(Err(StoreError::Unrecorded(e.to_string())));
            }
        }
    }
}

/// What one change did inside its savepoint.
enum Ran {
    /// It took effect; its savepoint is released into the batch.
    Kept(Vec<ProposalChange>),
    /// It ran but changed nothing (its value says so); rolled back, the caller answered.
    NoEffect(Vec<ProposalChange>),
    /// It failed; rolled back, the caller told why.
    Failed(StoreError),
}

/// Rolls back a change that did not take effect, records included (the next change's records
/// take their positions); a rollback that fails marks the batch `broken`.
fn undo(
    sp: &Savepoint<'_>,
    writer: Option<&mut AuditWriter<'_>>,
    staged: Option<Staged>,
    broken: &mut Option<String>,
) {
    if let Err(rb) = sp.roll_back() {
        *broken = Some(rb.to_string());
    }
    if let (Some(w), Some(s)) = (writer, staged) {
        w.unstage(s);
    }
}

/// Why every change of a batch failed after one of them could not be rolled back.
fn unrolled(why: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "a change of this batch could not be rolled back to its savepoint ({why}); nothing of \
         the batch was stored"
    ))
}

/// One change's savepoint, through the connection's statement cache: rusqlite's savepoints
/// parse their SQL at every use, which was three parses per change on the one writer thread.
/// It has no `Drop`: the writer ends each savepoint itself, and a rollback that fails voids
/// the whole batch instead of being ignored.
struct Savepoint<'c> {
    conn: &'c Connection,
}

impl<'c> Savepoint<'c> {
    fn open(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("SAVEPOINT change")?.execute([])?;
        Ok(Self { conn })
    }

    /// Keeps the change in the enclosing transaction.
    fn release(&self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("RELEASE change")?.execute([])?;
        Ok(())
    }

    /// Undoes everything since [`open`](Self::open) and ends the savepoint.
    fn roll_back(&self) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("ROLLBACK TO change")?
            .execute([])?;
        self.release()
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}
