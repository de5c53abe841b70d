//! The shared store: one PostgreSQL database behind several gateway replicas, any of which can
//! serve any call (`[store] backend = "postgres"`).
//!
//! tokio-postgres with deadpool's pool: the native async driver of the rust-postgres project
//! and the pool most tokio services use with it. Each change is one `READ COMMITTED`
//! transaction that also appends the change's audit records to the shared log
//! ([`crate::audit::postgres::stage`]): both commit or neither does. What keeps replicas from
//! double-releasing is what Web3Signer does for slashing protection: a per-(chain, Safe)
//! advisory lock inside the transaction that checks and reserves, and the unique constraint
//! as backstop (`ops.rs` lists every lock and its order). A transaction that loses a race
//! (a unique violation, a deadlock, a serialisation failure) is re-run from the start with
//! jitter, so it re-reads what won and answers as the embedded store would; it never becomes
//! a release by itself.
//!
//! Every change is announced with `NOTIFY` in its transaction, so `WatchProposal` on one
//! replica sees changes committed by another (`feed.rs`).
//!
//! PostgreSQL unreachable, a failover or a statement timeout is
//! [`StoreError::Unavailable`] (the caller answers `UNAVAILABLE`); nothing half-written
//! survives, since nothing commits outside one transaction, and the pool reconnects by itself.

mod cached;
mod feed;
mod ops;
mod profiles;

use std::{
    fmt,
    str::FromStr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use signgate_audit::{AuditEvent, record::EncodedEvent};
use tokio::sync::{broadcast, watch};
use tokio_postgres::{NoTls, error::SqlState};

use super::{
    AddressEntry, ApprovalRecord, Inserted, ListFilter, NewDecision, NewProposal, NonceReservation,
    Page, PageToken, ProposalChange, ProposalId, ProposalRecord, ProposalState, ProposalStore,
    Release, ReleaseOutcome, StoreError, StoredProposal, UnixMillis,
    profiles::{ProfileRow, ProfileWrite},
    schema::{BOOTSTRAP, Dialect, MIGRATIONS},
};
use crate::audit::{AuditLog, postgres::SCHEMA_LOCK};

/// Capacity of the change feed; a slower watcher sees `Lagged` and re-reads.
const CHANGE_FEED: usize = 1024;

/// How often a transaction that lost a race is re-run before the caller hears `ABORTED`.
const MAX_ATTEMPTS: u32 = 12;

pub use crate::config::PostgresSettings as PgSettings;

/// The PostgreSQL implementation of [`ProposalStore`]. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    location: String,
    changes: broadcast::Sender<ProposalChange>,
    /// The position of the last record that put a policy in force, as announced by any
    /// replica (the policy follower wakes on it).
    policy_moved: watch::Receiver<u64>,
    /// Tells this replica's own announcements from the others'.
    origin: u64,
    audit: OnceLock<Arc<AuditLog>>,
    _feed: feed::Listener,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.inner.location)
            .finish_non_exhaustive()
    }
}

/// A database error as the store reports it: a lost race is a [`StoreError::Conflict`] (the
/// transaction is re-run), anything else [`StoreError::Unavailable`].
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    let lost_race = e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    });
    let words = crate::audit::postgres::describe(&e);
    if lost_race {
        return StoreError::Conflict(words);
    }
    if e.code() == Some(&SqlState::QUERY_CANCELED) {
        return StoreError::Unavailable(format!("the database statement timed out: {words}"));
    }
    StoreError::Unavailable(format!("database: {words}"))
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    let words = crate::audit::postgres::DbFailure::from(e);
    StoreError::Unavailable(format!("no database connection: {words}"))
}

fn audit_error(e: crate::audit::AuditError) -> StoreError {
    StoreError::Unrecorded(e.to_string())
}

/// `host:port/db` of `config`, without credentials.
fn location(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgresql://{host}:{port}/{}",
        config.get_dbname().unwrap_or_default()
    )
}

/// How connections to the database are made.
#[derive(Clone)]
pub(crate) enum Connector {
    /// Plaintext (no `[store.postgres] ca`).
    Plain,
    /// TLS with rustls, the server's certificate checked against the configured CA and its
    /// name against the URL's host.
    Tls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// One change to run in a transaction.
enum Op {
    Insert(Box<NewProposal>, NewDecision, Option<ProfileRow>),
    Approve {
        id: ProposalId,
        expected_revision: u64,
        approval: Box<ApprovalRecord>,
        counter: Option<u32>,
        decision: NewDecision,
        new_state: ProposalState,
        observed: Option<ProfileRow>,
    },
    Decide {
        id: ProposalId,
        expected_revision: u64,
        decision: NewDecision,
        new_state: ProposalState,
    },
    Cancel {
        id: ProposalId,
        reason: String,
        now: UnixMillis,
        decided_under: String,
    },
    Release(Release),
    Address(AddressEntry),
}

impl Op {
    /// The policy the change was decided under, which must still be in force at commit.
    fn policy(&self) -> Option<&str> {
        match self {
            Self::Insert(_, d, _)
            | Self::Approve { decision: d, .. }
            | Self::Decide { decision: d, .. } => Some(&d.policy_hash),
            Self::Release(r) => Some(&r.policy_hash),
            Self::Cancel { decided_under, .. } => Some(decided_under),
            Self::Address(_) => None,
        }
    }
}

/// What a change returned.
enum Done {
    Inserted(Inserted),
    Record(ProposalRecord),
    Released(ReleaseOutcome),
    Unit,
}

impl Done {
    /// Whether it changed anything (an identical submission stored first did not).
    fn took_effect(&self) -> bool {
        !matches!(self, Self::Inserted(Inserted::Existing(_)))
    }
}

fn unexpected() -> StoreError {
    StoreError::Unavailable("the store answered a change with the wrong kind of result".to_owned())
}

impl PgStore {
    /// Connects to the database of `settings`, applies pending migrations (under an advisory
    /// lock, so replicas starting together apply each once) and starts the change feed.
    pub async fn connect(settings: &PgSettings) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&settings.url)
            .map_err(|e| StoreError::Unavailable(format!("store.postgres.url: {e}")))?;
        let timeout_ms = settings.statement_timeout.as_millis();
        config
            .application_name("signgate")
            .connect_timeout(settings.statement_timeout)
            .options(format!(
                "-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} \
                 -c idle_in_transaction_session_timeout={timeout_ms}"
            ));
        let location = location(&config);
        let tls = match &settings.ca {
            None => Connector::Plain,
            Some(ca) => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                Connector::Tls(
                    crate::audit::postgres::tls_connector(ca)
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                )
            }
        };
        let manager_config = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &tls {
            Connector::Plain => Manager::from_config(config.clone(), NoTls, manager_config()),
            Connector::Tls(t) => Manager::from_config(config.clone(), t.clone(), manager_config()),
        };
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.statement_timeout))
            .create_timeout(Some(settings.statement_timeout))
            .recycle_timeout(Some(settings.statement_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("building the connection pool: {e}")))?;
        migrate(&pool).await?;
        let (changes, _) = broadcast::channel(CHANGE_FEED);
        let mut origin = [0u8; 8];
        getrandom::fill(&mut origin)
            .map_err(|e| StoreError::Unavailable(format!("random origin: {e}")))?;
        let origin = u64::from_be_bytes(origin);
        let (moved_tx, policy_moved) = watch::channel(0);
        let listener = feed::Listener::spawn(config, tls, changes.clone(), moved_tx, origin);
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                location,
                changes,
                policy_moved,
                origin,
                audit: OnceLock::new(),
                _feed: listener,
            }),
        })
    }

    /// The pool, shared with the audit log of the same database.
    pub fn pool(&self) -> Pool {
        self.inner.pool.clone()
    }

    /// The database, for messages (no credentials).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// Makes every change append its records to `log`, which must be the log of this database
    /// (opened with this store's [`location`](Self::location)): the records are staged in the
    /// store's own transaction, so a log of another database would read a tree it never grew.
    pub fn record_into(&self, log: Arc<AuditLog>) -> Result<(), StoreError> {
        if log.postgres().is_none() || log.location() != self.inner.location {
            return Err(StoreError::Unavailable(format!(
                "the audit log {} is not in the store's database {}",
                log.location(),
                self.inner.location
            )));
        }
        self.inner.audit.set(log).map_err(|_| {
            StoreError::Unavailable("the store already records into an audit log".to_owned())
        })
    }

    /// Wakes whenever any replica records a policy put in force (the record's position).
    pub fn policy_moved(&self) -> watch::Receiver<u64> {
        self.inner.policy_moved.clone()
    }

    /// The policy recorded as in force: its version and hash.
    pub async fn policy_in_force(&self) -> Result<Option<(u64, String)>, StoreError> {
        let client = self.inner.pool.get().await.map_err(pool_error)?;
        let row = client
            .query_opt(
                "SELECT version, policy_hash FROM policy_in_force WHERE id = 1",
                &[],
            )
            .await
            .map_err(pg_error)?;
        row.map(|r| {
            let version: i64 = r.try_get(0).map_err(pg_error)?;
            let hash: String = r.try_get(1).map_err(pg_error)?;
            Ok((u64::try_from(version).unwrap_or(0), hash))
        })
        .transpose()
    }

    /// Runs `op` and commits it with `audit`, re-running it from the start when it lost a
    /// race to another transaction.
    async fn write(&self, audit: Vec<AuditEvent>, op: Op) -> Result<Done, StoreError> {
        // Encoded once, before any transaction: a retry and the head's lock reuse the bytes.
        let encoded = crate::audit::log::encode(&audit).map_err(audit_error)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(&audit, &encoded, &op).await {
                Err(StoreError::Conflict(why)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, why, "store transaction lost a race; re-running it");
                    tokio::time::sleep(jitter(attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt(
        &self,
        audit: &[AuditEvent],
        encoded: &[EncodedEvent],
        op: &Op,
    ) -> Result<Done, StoreError> {
        let log = self.log_for(audit)?;
        let mut client = self.inner.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let (done, changes) = match op {
            Op::Insert(p, d, observed) => match ops::existing(&tx, p).await? {
                Some(existing) => (Done::Inserted(Inserted::Existing(existing)), Vec::new()),
                None => {
                    let (rec, changes) = ops::insert(&tx, p, d).await?;
                    profiles::write_observed(&tx, observed.as_ref(), p.created_at).await?;
                    (Done::Inserted(Inserted::Created(rec)), changes)
                }
            },
            Op::Approve {
                id,
                expected_revision,
                approval,
                counter,
                decision,
                new_state,
                observed,
            } => {
                let (rec, changes) = ops::approve(
                    &tx,
                    id,
                    *expected_revision,
                    (&**approval, *counter),
                    decision,
                    *new_state,
                )
                .await?;
                profiles::write_observed(&tx, observed.as_ref(), approval.received_at).await?;
                (Done::Record(rec), changes)
            }
            Op::Decide {
                id,
                expected_revision,
                decision,
                new_state,
            } => {
                let (rec, changes) =
                    ops::decide(&tx, id, *expected_revision, decision, *new_state).await?;
                (Done::Record(rec), changes)
            }
            Op::Cancel {
                id, reason, now, ..
            } => {
                let (rec, changes) = ops::cancel(&tx, id, reason, *now).await?;
                (Done::Record(rec), changes)
            }
            Op::Release(r) => {
                // The Safes' locks come before any row lock (the order of every transaction).
                let rec = ops::load(&tx, &r.id, false)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { id: r.id.clone() })?;
                ops::lock_safes(&tx, &rec, r).await?;
                let (outcome, changes) = ops::release(&tx, r).await?;
                (Done::Released(outcome), changes)
            }
            Op::Address(e) => {
                tx.execute(
                    "INSERT INTO address_book (chain_id, address, label, category, added_by, added_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain_id, address) DO UPDATE SET \
                     label = excluded.label, category = excluded.category, \
                     added_by = excluded.added_by, added_at = excluded.added_at",
                    &[
                        &super::columns::chain_col(e.chain_id)?,
                        &super::columns::hex_col(e.address.as_slice()),
                        &e.label,
                        &e.category,
                        &e.added_by,
                        &e.added_at.0,
                    ],
                )
                .await
                .map_err(pg_error)?;
                (Done::Unit, Vec::new())
            }
        };
        if !done.took_effect() {
            // Nothing of this call is written, its records included.
            tx.rollback().await.map_err(pg_error)?;
            return Ok(done);
        }
        // The records first: staging locks the log's head, and the head comes before the policy
        // in force, the order a policy application takes them in (it appends under the head,
        // then puts its policy in force); the other way round, this change and an application
        // wait on each other in a cycle and one of them fails with a deadlock. A refused
        // policy check below rolls the records back with the rest.
        stage(&tx, log, audit, encoded).await?;
        if let Some(policy) = op.policy() {
            ops::check_policy(&tx, policy).await?;
        }
        for c in &changes {
            cached::execute(
                &tx,
                "SELECT pg_notify('signgate_changes', $1)",
                &[&feed::payload(self.inner.origin, c)],
            )
            .await
            .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        for c in changes {
            // This replica's watchers hear at once; the others through the feed.
            let _ = self.inner.changes.send(c);
        }
        Ok(done)
    }

    /// The audit log `audit` is recorded in: none needed when there is nothing to record, and
    /// a change with records refused when no log is attached (nothing is stored unrecorded).
    fn log_for(&self, audit: &[AuditEvent]) -> Result<Option<&Arc<AuditLog>>, StoreError> {
        if audit.is_empty() {
            return Ok(None);
        }
        self.inner.audit.get().map(Some).ok_or_else(|| {
            StoreError::Unrecorded(
                "no audit log is attached to the store; nothing is stored unrecorded".to_owned(),
            )
        })
    }

    /// A client for a read of one statement.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner.pool.get().await.map_err(pool_error)
    }
}

/// Stages `audit` (encoded as `encoded`) in `tx` when `log` records it: the records commit
/// with the change or not at all. A database failure is `Unavailable`, as for the change itself.
async fn stage(
    tx: &deadpool_postgres::Transaction<'_>,
    log: Option<&Arc<AuditLog>>,
    audit: &[AuditEvent],
    encoded: &[EncodedEvent],
) -> Result<(), StoreError> {
    let Some(log) = log else { return Ok(()) };
    crate::audit::postgres::stage(tx, audit, encoded, log.now_ms())
        .await
        .map(drop)
        .map_err(|e| match e {
            crate::audit::AuditError::Database(_) => StoreError::Unavailable(e.to_string()),
            e => audit_error(e),
        })
}

/// A pause before re-running a transaction: random, growing with the attempt (at most ~50 ms).
fn jitter(attempt: u32) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let spread = u64::from(u16::from_be_bytes(b)) % (u64::from(attempt.min(10)) * 5 + 1);
    Duration::from_millis(1 + spread)
}

/// Applies every pending migration, one transaction each, under [`SCHEMA_LOCK`].
async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(BOOTSTRAP).await.map_err(pg_error)?;
    for m in MIGRATIONS {
        let applied = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&m.version],
            )
            .await
            .map_err(pg_error)?
            .is_some();
        if !applied {
            tx.batch_execute(&m.render(Dialect::Postgres))
                .await
                .map_err(pg_error)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)",
                &[&m.version],
            )
            .await
            .map_err(pg_error)?;
        }
    }
    tx.commit().await.map_err(pg_error)
}

impl ProposalStore for PgStore {
    async fn insert_proposal_observed(
        &self,
        audit: Vec<AuditEvent>,
        proposal: NewProposal,
        decision: NewDecision,
        observed: Option<ProfileWrite>,
    ) -> Result<Inserted, StoreError> {
        let observed = observed.as_ref().map(ProfileWrite::row).transpose()?;
        match self
            .write(audit, Op::Insert(Box::new(proposal), decision, observed))
            .await?
        {
            Done::Inserted(i) => Ok(i),
            _ => Err(unexpected()),
        }
    }

    async fn signatures_by_key(&self, key: [u8; 32]) -> Result<Vec<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        ops::signatures_of(&client, key).await
    }

    async fn get(&self, id: ProposalId) -> Result<Option<StoredProposal>, StoreError> {
        let mut client = self.client().await?;
        // One snapshot for the whole read: a proposal, its decision and approvals agree.
        let tx = crate::audit::postgres::snapshot(&mut client)
            .await
            .map_err(pg_error)?;
        let out = ops::get(&tx, &id).await?;
        tx.commit().await.map_err(pg_error)?;
        Ok(out)
    }

    async fn list(
        &self,
        filter: ListFilter,
        limit: u32,
        after: Option<PageToken>,
    ) -> Result<Page, StoreError> {
        let limit = limit.max(1);
        ops::list(&self.client().await?, &filter, limit, after.as_ref()).await
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
        let op = Op::Approve {
            id,
            expected_revision,
            approval: Box::new(approval),
            counter,
            decision,
            new_state,
            observed: observed.as_ref().map(ProfileWrite::row).transpose()?,
        };
        match self.write(audit, op).await? {
            Done::Record(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    async fn record_decision(
        &self,
        audit: Vec<AuditEvent>,
        id: ProposalId,
        expected_revision: u64,
        decision: NewDecision,
        new_state: ProposalState,
    ) -> Result<ProposalRecord, StoreError> {
        let op = Op::Decide {
            id,
            expected_revision,
            decision,
            new_state,
        };
        match self.write(audit, op).await? {
            Done::Record(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    async fn cancel(
        &self,
        audit: Vec<AuditEvent>,
        id: ProposalId,
        reason: String,
        now: UnixMillis,
        decided_under: String,
    ) -> Result<ProposalRecord, StoreError> {
        let op = Op::Cancel {
            id,
            reason,
            now,
            decided_under,
        };
        match self.write(audit, op).await? {
            Done::Record(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    async fn release(
        &self,
        audit: Vec<AuditEvent>,
        release: Release,
    ) -> Result<ReleaseOutcome, StoreError> {
        match self.write(audit, Op::Release(release)).await? {
            Done::Released(o) => Ok(o),
            _ => Err(unexpected()),
        }
    }

    async fn reservation(
        &self,
        chain_id: u64,
        safe: Address,
        nonce: U256,
    ) -> Result<Option<NonceReservation>, StoreError> {
        ops::reservation_of(&self.client().await?, chain_id, safe, nonce).await
    }

    async fn velocity_spent(
        &self,
        chain_id: u64,
        safe: Address,
        asset: String,
        since: UnixMillis,
    ) -> Result<U256, StoreError> {
        ops::velocity_spent(&self.client().await?, chain_id, safe, &asset, since).await
    }

    async fn upsert_address(&self, entry: AddressEntry) -> Result<(), StoreError> {
        self.write(Vec::new(), Op::Address(entry)).await.map(|_| ())
    }

    async fn address_book(&self, chain_id: u64) -> Result<Vec<AddressEntry>, StoreError> {
        ops::address_book(&self.client().await?, chain_id).await
    }

    fn profile_store(&self) -> Option<&dyn crate::store::profiles::ProfileStore> {
        Some(self)
    }

    fn subscribe(&self) -> broadcast::Receiver<ProposalChange> {
        self.inner.changes.subscribe()
    }
}
