//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit is on
//! disk before the call returns (WAL with `NORMAL` may lose acknowledged commits on power loss).
//!
//! rusqlite with the bundled SQLite was chosen over sqlx: it is the maintained standard for
//! embedded SQLite, gives direct control of pragmas and `BEGIN IMMEDIATE`, and builds without a
//! system library. One connection behind a mutex serialises every write, like Lighthouse's
//! slashing database; reads take connections of their own, each read one snapshot, so in WAL
//! mode they never wait for a write's commit. Writes run on the writer thread; listings run on
//! tokio's blocking pool; point reads of one proposal, a reservation or a velocity window run on
//! the caller's task (an indexed lookup of tens of microseconds costs less than the hand-off).
//! Every write is one `IMMEDIATE` transaction: checks and writes happen under the write lock,
//! and the unique constraints back them up.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, types::Value};
use signgate_audit::AuditEvent;
use tokio::sync::broadcast;

pub mod body;
mod checkpoint;
mod ops;
mod profiles;
mod rows;
mod upgrade;
mod writer;

use self::{
    ops::{
        change, check_open, created, decision_detail, get_tx, insert_decision, list_tx, release_tx,
        reservation_of, set_state, velocity_spent,
    },
    rows::{
        chain_col, hex_col, is_constraint, json_col, load_required, parse_address, proposal_columns,
    },
};
use crate::audit::AuditLog;

use super::{
    AddressEntry, ApprovalRecord, Inserted, ListFilter, NewDecision, NewProposal, NonceReservation,
    Page, PageToken, ProposalChange, ProposalId, ProposalRecord, ProposalState, ProposalStore,
    Release, ReleaseOutcome, StoreError, StoredProposal, UnixMillis,
    profiles::ProfileWrite,
    schema::{BOOTSTRAP, Dialect, MIGRATIONS, Migration, TYPED_RECORDS},
};

/// How long a statement waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Capacity of the change feed; a slower watcher sees `Lagged` and re-reads.
const CHANGE_FEED: usize = 1024;

/// The SQLite implementation of [`ProposalStore`]. Cloning shares the connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The writer's connection: the writer thread locks it for each batch (and
    /// [`SqliteStore::pragma`] to read its settings).
    conn: Arc<Mutex<Connection>>,
    /// Idle read connections, one taken per read and put back after it. In WAL mode a read on
    /// a connection of its own sees the last commit and never waits for the writer's batch,
    /// its `fsync` included (on the writer's connection every read queued behind it).
    readers: Mutex<Vec<Connection>>,
    changes: broadcast::Sender<ProposalChange>,
    /// The audit log in the same file, whose records each change commits with it.
    audit: Arc<OnceLock<Arc<AuditLog>>>,
    /// The writer thread's queue ([`writer`]: group commit).
    jobs: std::sync::mpsc::Sender<Box<dyn writer::Job>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        unavailable(e)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, sets WAL and `synchronous=FULL`, and
    /// applies pending migrations. Fails if the directory or file is not writable.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(unavailable)?
    }

    /// [`open`](Self::open) for callers outside an async runtime.
    pub fn open_blocking(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| unavailable(format!("creating {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(unavailable(format!(
                "journal_mode is {mode}, WAL is required"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        tune(&conn)?;
        migrate(&mut conn)?;
        checkpoint::attach(&mut conn, path)?;
        let (changes, _) = broadcast::channel(CHANGE_FEED);
        let conn = Arc::new(Mutex::new(conn));
        let audit = Arc::new(OnceLock::new());
        let jobs = writer::spawn(writer::Shared {
            conn: conn.clone(),
            changes: changes.clone(),
            audit: audit.clone(),
        })
        .map_err(|e| unavailable(format!("starting the store's writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                conn,
                readers: Mutex::new(Vec::new()),
                changes,
                audit,
                jobs,
            }),
        })
    }

    /// Makes every change commit its audit records into `log`, which must be the log of this
    /// very database file (one transaction, one flush). Without it, a change that comes with
    /// records is refused ([`StoreError::Unrecorded`]): nothing is ever stored unrecorded.
    pub fn record_into(&self, log: Arc<AuditLog>) -> Result<(), StoreError> {
        if log.path() != Some(self.inner.path.as_path()) {
            return Err(unavailable(format!(
                "the audit log {} is not in the store's database {}",
                log.location(),
                self.inner.path.display()
            )));
        }
        self.inner
            .audit
            .set(log)
            .map_err(|_| unavailable("the store already records into an audit log"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Reads a pragma's current value on the writer's connection (the one whose settings make
    /// commits durable), for checks and diagnostics.
    pub async fn pragma(&self, name: &'static str) -> Result<String, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner
                .conn
                .lock()
                .map_err(|_| unavailable("store lock poisoned"))?;
            Ok(conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, Value>(0).map(|v| match v {
                    Value::Integer(i) => i.to_string(),
                    Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })?)
        })
        .await
        .map_err(unavailable)?
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.read(f))
            .await
            .map_err(unavailable)?
    }

    /// Runs `f` with the audit records `audit` in the writer thread's next transaction
    /// ([`writer`]: group commit), each change in a savepoint of its own, and returns its value
    /// once that transaction has committed. If `f` or the records fail, the change's savepoint
    /// rolls back, records included, and the caller gets the error; the others of the batch
    /// are not affected.
    async fn write<T, F>(&self, audit: Vec<AuditEvent>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<(T, Vec<ProposalChange>), StoreError> + Send + 'static,
    {
        self.write_if(audit, f, |_| true).await
    }

    /// [`write`](Self::write) for a change that may turn out not to take effect: when
    /// `effective` says so of `f`'s value, the change and its audit records roll back and the
    /// caller gets the value all the same.
    async fn write_if<T, F>(
        &self,
        audit: Vec<AuditEvent>,
        f: F,
        effective: fn(&T) -> bool,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<(T, Vec<ProposalChange>), StoreError> + Send + 'static,
    {
        // Encoded here, on the caller's thread, so that concurrent changes encode in parallel
        // and the writer only gives the bytes positions.
        let audit =
            crate::audit::log::encode(&audit).map_err(|e| StoreError::Unrecorded(e.to_string()))?;
        let (job, reply) = writer::Typed::new(audit, f, effective);
        self.inner
            .jobs
            .send(Box::new(job))
            .map_err(|_| unavailable("the store's writer thread stopped"))?;
        reply
            .await
            .map_err(|_| unavailable("the store's writer thread stopped"))?
    }
}

/// Idle read connections kept for reuse; more readers at once open more and close the extra.
const IDLE_READERS: usize = 8;

impl Inner {
    /// Runs `f` on an idle read connection (opening one if none is idle) and keeps it for the
    /// next read.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self
            .readers
            .lock()
            .map_err(|_| unavailable("store lock poisoned"))?
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let out = in_snapshot(&conn, f);
        // A connection left inside a transaction (its end failed) is closed, not reused.
        if conn.is_autocommit()
            && let Ok(mut idle) = self.readers.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(conn);
        }
        out
    }
}

/// Runs `f` in one read transaction, so that it reads one snapshot: a proposal, its decision
/// and its approvals of the same commit. `BEGIN` and its end go through the connection's
/// statement cache (rusqlite's transactions parse their SQL again at every read).
fn in_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let out = f(conn);
    let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn.prepare_cached(end).and_then(|mut s| s.execute([]));
    match (out, ended) {
        (Ok(value), Ok(_)) => Ok(value),
        (Ok(_), Err(e)) => Err(e.into()),
        // The read's own error says more than a failed end of the transaction.
        (Err(e), _) => Err(e),
    }
}

/// A connection that only reads (`query_only`): it sees the last commit of the writer's.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", "ON")?;
    tune(&conn)?;
    Ok(conn)
}

/// Settings every connection of the store takes. The query planner stability guarantee: a
/// statement's plan no longer depends on the values bound to it, so a cached statement is not
/// compiled again whenever a parameter compared with an indexed column changes (the bundled
/// SQLite is built with STAT4, under which it would be: about a tenth of the writer thread's
/// time went to `sqlite3Reprepare`). The store never runs `ANALYZE`, so the plans are the same.
fn tune(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(BOOTSTRAP)?;
    for m in MIGRATIONS {
        if m.rebuilds_referenced_table {
            // Outside any transaction, as SQLite requires; back on below, whatever happens.
            conn.pragma_update(None, "foreign_keys", "OFF")?;
        }
        let applied = apply(conn, m);
        if m.rebuilds_referenced_table {
            conn.pragma_update(None, "foreign_keys", "ON")?;
        }
        applied?;
    }
    Ok(())
}

/// Applies `m` in one transaction unless `schema_migrations` says it was.
fn apply(conn: &mut Connection, m: &Migration) -> Result<(), StoreError> {
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied: bool = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [m.version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !applied {
            tx.execute_batch(&m.render(Dialect::Sqlite))?;
            if m.version == TYPED_RECORDS {
                upgrade::typed_records(&tx)?;
            }
            if m.rebuilds_referenced_table {
                let dangling: Option<String> = tx
                    .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                    .optional()?;
                if let Some(table) = dangling {
                    return Err(StoreError::Corrupt(format!(
                        "migration {}: rows of {table} reference proposals that do not exist",
                        m.version
                    )));
                }
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                [m.version],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

impl ProposalStore for SqliteStore {
    async fn insert_proposal_observed(
        &self,
        audit: Vec<AuditEvent>,
        p: NewProposal,
        decision: NewDecision,
        observed: Option<ProfileWrite>,
    ) -> Result<Inserted, StoreError> {
        let observed = observed.as_ref().map(ProfileWrite::row).transpose()?;
        // An identical submission that committed first is the answer, and the records of this
        // one roll back: the log holds one submission per stored proposal.
        let took_effect = |i: &Inserted| matches!(i, Inserted::Created(_));
        // Serialised and compressed here, in parallel with other calls, not on the writer
        // thread.
        let body = body::encode(&json_col("proposal body", &p.body)?)?;
        let detail = decision_detail(&decision)?;
        self.write_if(
            audit,
            move |tx| {
                let existing_id: Option<String> = tx
                    .prepare_cached(
                        "SELECT id FROM proposals WHERE id = ?1 \
                     OR (chain_id = ?2 AND safe = ?3 AND safe_tx_hash = ?4 \
                         AND state <> 'cancelled')",
                    )?
                    .query_row(
                        params![
                            p.id.as_str(),
                            chain_col(p.chain_id)?,
                            hex_col(p.safe.as_slice()),
                            hex_col(p.safe_tx_hash.as_slice())
                        ],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(id) = existing_id {
                    return Ok((
                        Inserted::Existing(load_required(tx, &ProposalId::new(id))?),
                        vec![],
                    ));
                }
                tx.prepare_cached(concat!(
                    "INSERT INTO proposals (",
                    proposal_columns!(),
                    ", view) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8, NULL, ?9, x'')"
                ))?
                .execute(params![
                    p.id.as_str(),
                    chain_col(p.chain_id)?,
                    hex_col(p.safe.as_slice()),
                    p.nonce.to_string(),
                    hex_col(p.safe_tx_hash.as_slice()),
                    p.initiator,
                    p.state.as_str(),
                    p.created_at.0,
                    body
                ])?;
                insert_decision(tx, &p.id, &decision, &detail)?;
                profiles::write_observed(tx, observed.as_ref(), p.created_at)?;
                let rec = created(p);
                let changes = vec![change(&rec)];
                Ok((Inserted::Created(rec), changes))
            },
            took_effect,
        )
        .await
    }

    async fn get(&self, id: ProposalId) -> Result<Option<StoredProposal>, StoreError> {
        // A point read by key on a connection no writer holds: tens of microseconds, less than
        // a trip to the blocking pool and back would cost.
        self.inner.read(|c| get_tx(c, &id))
    }

    async fn signatures_by_key(&self, key: [u8; 32]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(move |c| signatures_of(c, key)).await
    }

    async fn list(
        &self,
        filter: ListFilter,
        limit: u32,
        after: Option<PageToken>,
    ) -> Result<Page, StoreError> {
        let limit = limit.max(1);
        self.read(move |c| list_tx(c, &filter, limit, after.as_ref()))
            .await
    }

    async fn add_approval_observed(
        &self,
        audit: Vec<AuditEvent>,
        (id, expected_revision): (ProposalId, u64),
        approval: ApprovalRecord,
        counter: Option<u32>,
        (decision, new_state): (NewDecision, ProposalState),
        observed: Option<ProfileWrite>,
    ) -> Result<ProposalRecord, StoreError> {
        let detail = decision_detail(&decision)?;
        let observed = observed.as_ref().map(ProfileWrite::row).transpose()?;
        let alerts = crate::store::columns::alerts_json(&approval.alerts)?;
        self.write(audit, move |tx| {
            let rec = load_required(tx, &id)?;
            check_open(&rec, expected_revision, "approved")?;
            if let Some(counter) = counter {
                // One writer at a time: no other approval with this key lands in between.
                let stored = signatures_of(tx, approval.public_key)?;
                super::rules::counter_above(stored.iter().map(Vec::as_slice), counter)?;
            }
            insert_decision(tx, &id, &decision, &detail)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO approvals (proposal_id, public_key, operator, kind, payload, \
                 signature, comment, received_at, alerts) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    id.as_str(),
                    hex::encode(approval.public_key),
                    approval.operator,
                    approval.kind.as_str(),
                    approval.payload,
                    approval.signature,
                    approval.comment,
                    approval.received_at.0,
                    alerts
                ]);
            match inserted {
                Err(e) if is_constraint(&e) => {
                    return Err(StoreError::DuplicateApproval {
                        id,
                        public_key: approval.public_key,
                    });
                }
                other => other?,
            };
            profiles::write_observed(tx, observed.as_ref(), approval.received_at)?;
            let updated = set_state(tx, &rec, new_state, approval.received_at, None)?;
            let changes = vec![change(&updated)];
            Ok((updated, changes))
        })
        .await
    }

    async fn record_decision(
        &self,
        audit: Vec<AuditEvent>,
        id: ProposalId,
        expected_revision: u64,
        decision: NewDecision,
        new_state: ProposalState,
    ) -> Result<ProposalRecord, StoreError> {
        let detail = decision_detail(&decision)?;
        self.write(audit, move |tx| {
            let rec = load_required(tx, &id)?;
            check_open(&rec, expected_revision, "re-decided")?;
            insert_decision(tx, &id, &decision, &detail)?;
            let updated = set_state(tx, &rec, new_state, decision.decided_at, None)?;
            let changes = vec![change(&updated)];
            Ok((updated, changes))
        })
        .await
    }

    async fn cancel(
        &self,
        audit: Vec<AuditEvent>,
        id: ProposalId,
        reason: String,
        now: UnixMillis,
        // One process holds one policy in force, swapped only by itself.
        _decided_under: String,
    ) -> Result<ProposalRecord, StoreError> {
        self.write(audit, move |tx| {
            let rec = load_required(tx, &id)?;
            check_open(&rec, rec.revision, "cancelled")?;
            let updated = set_state(tx, &rec, ProposalState::Cancelled, now, Some(&reason))?;
            let changes = vec![change(&updated)];
            Ok((updated, changes))
        })
        .await
    }

    async fn release(
        &self,
        audit: Vec<AuditEvent>,
        release: Release,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.write(audit, move |tx| release_tx(tx, &release)).await
    }

    async fn reservation(
        &self,
        chain_id: u64,
        safe: Address,
        nonce: U256,
    ) -> Result<Option<NonceReservation>, StoreError> {
        // A point read, like `get`.
        self.inner
            .read(|c| reservation_of(c, chain_id, safe, nonce))
    }

    async fn velocity_spent(
        &self,
        chain_id: u64,
        safe: Address,
        asset: String,
        since: UnixMillis,
    ) -> Result<U256, StoreError> {
        // An indexed range of one Safe's releases in one window, like `get`.
        self.inner
            .read(|c| velocity_spent(c, chain_id, safe, &asset, since))
    }

    async fn upsert_address(&self, e: AddressEntry) -> Result<(), StoreError> {
        self.write(Vec::new(), move |tx| {
            tx.execute(
                "INSERT INTO address_book (chain_id, address, label, category, added_by, added_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (chain_id, address) DO UPDATE SET \
                 label = excluded.label, category = excluded.category, \
                 added_by = excluded.added_by, added_at = excluded.added_at",
                params![
                    chain_col(e.chain_id)?,
                    hex_col(e.address.as_slice()),
                    e.label,
                    e.category,
                    e.added_by,
                    e.added_at.0
                ],
            )?;
            Ok(((), vec![]))
        })
        .await
    }

    async fn address_book(&self, chain_id: u64) -> Result<Vec<AddressEntry>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT address, label, category, added_by, added_at FROM address_book \
                 WHERE chain_id = ?1 ORDER BY address",
            )?;
            stmt.query_map([chain_col(chain_id)?], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .map(|row| {
                let (address, label, category, added_by, at) = row?;
                Ok(AddressEntry {
                    chain_id,
                    address: parse_address(&address)?,
                    label,
                    category,
                    added_by,
                    added_at: UnixMillis(at),
                })
            })
            .collect()
        })
        .await
    }

    fn profile_store(&self) -> Option<&dyn crate::store::profiles::ProfileStore> {
        Some(self)
    }

    /// One writer thread takes changes from a channel in order; a change is in it once its
    /// future was polled (encoding and sending happen before the first wait).
    fn orders_writes(&self) -> bool {
        true
    }

    fn subscribe(&self) -> broadcast::Receiver<ProposalChange> {
        self.inner.changes.subscribe()
    }
}

/// The stored signature of every approval or rejection made with `key`.
fn signatures_of(c: &Connection, key: [u8; 32]) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT signature FROM approvals WHERE public_key = ?1")?;
    let rows = stmt.query_map([hex::encode(key)], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|r| r.map_err(StoreError::from)).collect()
}
