//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit is on
//! disk before the call returns (WAL with `NORMAL` may lose acknowledged commits on power loss).
//!
//! rusqlite with the bundled SQLite was chosen over sqlx: it is the maintained standard for
//! embedded SQLite, gives direct control of pragmas and `BEGIN IMMEDIATE`, and builds without a
//! system library. One connection behind a mutex serialises every write, like Lighthouse's
//! slashing database; calls run on tokio's blocking pool so the async runtime never waits on
//! disk. Every write is one `IMMEDIATE` transaction: checks and writes happen under the write
//! lock, and the unique constraints back them up.

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params,
    params_from_iter, types::Value,
};
use tokio::sync::broadcast;

use super::{
    AddressEntry, ApprovalRecord, DecisionRecord, Inserted, ListFilter, NewDecision, NewProposal,
    NonceReservation, Page, PageToken, ProposalChange, ProposalId, ProposalRecord, ProposalState,
    ProposalStore, Release, StoreError, StoredProposal, UnixMillis,
    schema::{BOOTSTRAP, Dialect, MIGRATIONS},
};

/// How long a statement waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Capacity of the change feed; a slower watcher sees `Lagged` and re-reads.
const CHANGE_FEED: usize = 1024;

const PROPOSAL_COLUMNS: &str = "id, chain_id, safe, nonce, safe_tx_hash, initiator, state, \
                                revision, created_at, updated_at, cancel_reason, view";

/// The SQLite implementation of [`ProposalStore`]. Cloning shares the connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    changes: broadcast::Sender<ProposalChange>,
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

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
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
        migrate(&mut conn)?;
        let (changes, _) = broadcast::channel(CHANGE_FEED);
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                conn: Mutex::new(conn),
                changes,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Reads a pragma's current value, for checks and diagnostics.
    pub async fn pragma(&self, name: &'static str) -> Result<String, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, Value>(0).map(|v| match v {
                    Value::Integer(i) => i.to_string(),
                    Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })?)
        })
        .await
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner
                .conn
                .lock()
                .map_err(|_| unavailable("store lock poisoned"))?;
            f(&conn)
        })
        .await
        .map_err(unavailable)?
    }

    /// Runs `f` in one `IMMEDIATE` transaction, commits, then announces the changes it reports.
    /// If `f` fails the transaction is dropped, which rolls every statement back.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<(T, Vec<ProposalChange>), StoreError>
            + Send
            + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .conn
                .lock()
                .map_err(|_| unavailable("store lock poisoned"))?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (value, changes) = f(&tx)?;
            tx.commit()?;
            for change in changes {
                // No subscriber is fine: nobody is watching.
                let _ = inner.changes.send(change);
            }
            Ok(value)
        })
        .await
        .map_err(unavailable)?
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(BOOTSTRAP)?;
    for m in MIGRATIONS {
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
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                [m.version],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

// ---- column encodings -------------------------------------------------------------------

fn chain_col(chain_id: u64) -> Result<i64, StoreError> {
    i64::try_from(chain_id).map_err(|_| StoreError::OutOfRange { column: "chain_id" })
}

fn hex_col(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn parse_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(what, &v.to_string()))
}

fn parse_address(v: &str) -> Result<Address, StoreError> {
    Address::from_str(v).map_err(|_| corrupt("address", v))
}

fn parse_b256(v: &str) -> Result<B256, StoreError> {
    B256::from_str(v).map_err(|_| corrupt("hash", v))
}

fn parse_u256(v: &str) -> Result<U256, StoreError> {
    U256::from_str_radix(v, 10).map_err(|_| corrupt("decimal", v))
}

fn parse_key(v: &str) -> Result<[u8; 32], StoreError> {
    let raw = hex::decode(v.trim_start_matches("0x")).map_err(|_| corrupt("public key", v))?;
    raw.try_into().map_err(|_| corrupt("public key", v))
}

fn parse_enum<T: FromStr<Err = String>>(v: &str) -> Result<T, StoreError> {
    v.parse().map_err(StoreError::Corrupt)
}

/// Columns as SQLite returns them, converted to a record afterwards so a bad row is a typed
/// error instead of a panic.
struct ProposalRow {
    id: String,
    chain_id: i64,
    safe: String,
    nonce: String,
    safe_tx_hash: String,
    initiator: String,
    state: String,
    revision: i64,
    created_at: i64,
    updated_at: i64,
    cancel_reason: Option<String>,
    view: Vec<u8>,
}

impl ProposalRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            chain_id: r.get(1)?,
            safe: r.get(2)?,
            nonce: r.get(3)?,
            safe_tx_hash: r.get(4)?,
            initiator: r.get(5)?,
            state: r.get(6)?,
            revision: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
            cancel_reason: r.get(10)?,
            view: r.get(11)?,
        })
    }

    fn into_record(self) -> Result<ProposalRecord, StoreError> {
        Ok(ProposalRecord {
            id: ProposalId::new(self.id),
            chain_id: parse_u64("chain id", self.chain_id)?,
            safe: parse_address(&self.safe)?,
            nonce: parse_u256(&self.nonce)?,
            safe_tx_hash: parse_b256(&self.safe_tx_hash)?,
            initiator: self.initiator,
            state: parse_enum(&self.state)?,
            revision: parse_u64("revision", self.revision)?,
            created_at: UnixMillis(self.created_at),
            updated_at: UnixMillis(self.updated_at),
            cancel_reason: self.cancel_reason,
            view: self.view,
        })
    }
}

fn load(c: &Connection, id: &ProposalId) -> Result<Option<ProposalRecord>, StoreError> {
    c.query_row(
        &format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = ?1"),
        [id.as_str()],
        ProposalRow::read,
    )
    .optional()?
    .map(ProposalRow::into_record)
    .transpose()
}

fn load_required(c: &Connection, id: &ProposalId) -> Result<ProposalRecord, StoreError> {
    load(c, id)?.ok_or_else(|| StoreError::NotFound { id: id.clone() })
}

/// Checks that `rec` may still change and is at the revision the caller evaluated.
fn check_open(
    rec: &ProposalRecord,
    expected_revision: u64,
    action: &'static str,
) -> Result<(), StoreError> {
    if rec.state.is_terminal() {
        return Err(StoreError::InvalidTransition {
            id: rec.id.clone(),
            from: rec.state,
            action,
        });
    }
    if rec.revision != expected_revision {
        return Err(StoreError::StaleRevision {
            id: rec.id.clone(),
            expected: expected_revision,
            actual: rec.revision,
        });
    }
    Ok(())
}

/// Moves a proposal to `state`, bumps its revision and returns the updated record.
fn set_state(
    c: &Connection,
    rec: &ProposalRecord,
    state: ProposalState,
    now: UnixMillis,
    cancel_reason: Option<&str>,
) -> Result<ProposalRecord, StoreError> {
    let revision = rec.revision.saturating_add(1);
    let rev_col =
        i64::try_from(revision).map_err(|_| StoreError::OutOfRange { column: "revision" })?;
    c.execute(
        "UPDATE proposals SET state = ?1, revision = ?2, updated_at = ?3, \
         cancel_reason = COALESCE(?4, cancel_reason) WHERE id = ?5",
        params![
            state.as_str(),
            rev_col,
            now.0,
            cancel_reason,
            rec.id.as_str()
        ],
    )?;
    Ok(ProposalRecord {
        state,
        revision,
        updated_at: now,
        cancel_reason: cancel_reason
            .map(str::to_owned)
            .or_else(|| rec.cancel_reason.clone()),
        ..rec.clone()
    })
}

fn change(rec: &ProposalRecord) -> ProposalChange {
    ProposalChange {
        id: rec.id.clone(),
        revision: rec.revision,
        state: rec.state,
    }
}

fn insert_decision(c: &Connection, id: &ProposalId, d: &NewDecision) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO decisions (proposal_id, seq, outcome, policy_hash, decided_at, detail) \
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM decisions WHERE proposal_id = ?1), \
         ?2, ?3, ?4, ?5)",
        params![
            id.as_str(),
            d.outcome.as_str(),
            d.policy_hash,
            d.decided_at.0,
            d.detail
        ],
    )?;
    Ok(())
}

fn reservation_of(
    c: &Connection,
    chain_id: u64,
    safe: Address,
    nonce: U256,
) -> Result<Option<NonceReservation>, StoreError> {
    let row = c
        .query_row(
            "SELECT safe_tx_hash, proposal_id, reserved_at FROM nonce_reservations \
             WHERE chain_id = ?1 AND safe = ?2 AND nonce = ?3",
            params![
                chain_col(chain_id)?,
                hex_col(safe.as_slice()),
                nonce.to_string()
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?;
    row.map(|(hash, proposal, at)| {
        Ok(NonceReservation {
            chain_id,
            safe,
            nonce,
            safe_tx_hash: parse_b256(&hash)?,
            proposal_id: ProposalId::new(proposal),
            reserved_at: UnixMillis(at),
        })
    })
    .transpose()
}

fn add_velocity(
    c: &Connection,
    rec: &ProposalRecord,
    delta: &super::VelocityDelta,
) -> Result<(), StoreError> {
    let chain = chain_col(rec.chain_id)?;
    let safe = hex_col(rec.safe.as_slice());
    let current: Option<String> = c
        .query_row(
            "SELECT amount FROM velocity_totals \
             WHERE chain_id = ?1 AND safe = ?2 AND asset = ?3 AND window_start = ?4",
            params![chain, safe, delta.asset, delta.window_start.0],
            |r| r.get(0),
        )
        .optional()?;
    let total = match current {
        Some(v) => parse_u256(&v)?
            .checked_add(delta.amount)
            .ok_or(StoreError::OutOfRange {
                column: "velocity_totals.amount",
            })?,
        None => delta.amount,
    };
    c.execute(
        "INSERT INTO velocity_totals (chain_id, safe, asset, window_start, amount) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (chain_id, safe, asset, window_start) DO UPDATE SET amount = excluded.amount",
        params![
            chain,
            safe,
            delta.asset,
            delta.window_start.0,
            total.to_string()
        ],
    )?;
    Ok(())
}

fn release_tx(
    tx: &Transaction<'_>,
    r: &Release,
) -> Result<(NonceReservation, Vec<ProposalChange>), StoreError> {
    let rec = load_required(tx, &r.id)?;
    if rec.state == ProposalState::Released {
        let existing = reservation_of(tx, rec.chain_id, rec.safe, rec.nonce)?
            .filter(|res| res.proposal_id == rec.id)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("released {} has no reservation", rec.id))
            })?;
        return Ok((existing, Vec::new()));
    }
    if rec.state != ProposalState::Approved {
        return Err(StoreError::InvalidTransition {
            id: rec.id,
            from: rec.state,
            action: "released",
        });
    }
    check_open(&rec, r.expected_revision, "released")?;
    for delta in &r.velocity {
        add_velocity(tx, &rec, delta)?;
    }
    let inserted = tx.execute(
        "INSERT INTO nonce_reservations \
         (chain_id, safe, nonce, safe_tx_hash, proposal_id, reserved_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            chain_col(rec.chain_id)?,
            hex_col(rec.safe.as_slice()),
            rec.nonce.to_string(),
            hex_col(rec.safe_tx_hash.as_slice()),
            rec.id.as_str(),
            r.released_at.0
        ],
    );
    if let Err(e) = inserted {
        if is_constraint(&e)
            && let Some(existing) = reservation_of(tx, rec.chain_id, rec.safe, rec.nonce)?
        {
            return Err(StoreError::NonceTaken {
                chain_id: rec.chain_id,
                safe: rec.safe,
                nonce: rec.nonce,
                existing_proposal: existing.proposal_id,
                existing_safe_tx_hash: existing.safe_tx_hash,
            });
        }
        return Err(e.into());
    }
    let released = set_state(tx, &rec, ProposalState::Released, r.released_at, None)?;
    let mut changes = vec![change(&released)];
    let mut stmt = tx.prepare(
        "UPDATE proposals SET state = ?1, revision = revision + 1, updated_at = ?2 \
         WHERE chain_id = ?3 AND safe = ?4 AND nonce = ?5 AND id <> ?6 \
         AND state IN (?7, ?8) RETURNING id, revision",
    )?;
    let expired = stmt
        .query_map(
            params![
                ProposalState::Expired.as_str(),
                r.released_at.0,
                chain_col(rec.chain_id)?,
                hex_col(rec.safe.as_slice()),
                rec.nonce.to_string(),
                rec.id.as_str(),
                ProposalState::NeedsApprovals.as_str(),
                ProposalState::Approved.as_str()
            ],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, revision) in expired {
        changes.push(ProposalChange {
            id: ProposalId::new(id),
            revision: parse_u64("revision", revision)?,
            state: ProposalState::Expired,
        });
    }
    let reservation = NonceReservation {
        chain_id: rec.chain_id,
        safe: rec.safe,
        nonce: rec.nonce,
        safe_tx_hash: rec.safe_tx_hash,
        proposal_id: rec.id,
        reserved_at: r.released_at,
    };
    Ok((reservation, changes))
}

fn list_tx(
    c: &Connection,
    filter: &ListFilter,
    limit: u32,
    after: Option<&PageToken>,
) -> Result<Page, StoreError> {
    let mut sql = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(chain_id) = filter.chain_id {
        sql.push_str(" AND chain_id = ?");
        args.push(Value::Integer(chain_col(chain_id)?));
    }
    if let Some(safe) = filter.safe {
        sql.push_str(" AND safe = ?");
        args.push(Value::Text(hex_col(safe.as_slice())));
    }
    if !filter.states.is_empty() {
        let marks = vec!["?"; filter.states.len()].join(", ");
        sql.push_str(&format!(" AND state IN ({marks})"));
        args.extend(
            filter
                .states
                .iter()
                .map(|s| Value::Text(s.as_str().to_owned())),
        );
    }
    if let Some(t) = filter.created_at_or_after {
        sql.push_str(" AND created_at >= ?");
        args.push(Value::Integer(t.0));
    }
    if let Some(t) = filter.created_before {
        sql.push_str(" AND created_at < ?");
        args.push(Value::Integer(t.0));
    }
    if let Some(token) = after {
        let (ts, id) = token.parse().ok_or(StoreError::BadPageToken)?;
        sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        args.extend([
            Value::Integer(ts.0),
            Value::Integer(ts.0),
            Value::Text(id.to_string()),
        ]);
    }
    // One extra row tells whether another page exists.
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    args.push(Value::Integer(i64::from(limit).saturating_add(1)));
    let mut stmt = c.prepare(&sql)?;
    let mut proposals = stmt
        .query_map(params_from_iter(args), ProposalRow::read)?
        .map(|row| {
            row.map_err(StoreError::from)
                .and_then(ProposalRow::into_record)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let more = proposals.len() > limit as usize;
    proposals.truncate(limit as usize);
    let next = if more {
        proposals
            .last()
            .map(|last| PageToken::after(last.created_at, &last.id))
    } else {
        None
    };
    Ok(Page { proposals, next })
}

fn get_tx(c: &Connection, id: &ProposalId) -> Result<Option<StoredProposal>, StoreError> {
    let Some(record) = load(c, id)? else {
        return Ok(None);
    };
    let decision = c
        .query_row(
            "SELECT seq, outcome, policy_hash, decided_at, detail FROM decisions \
             WHERE proposal_id = ?1 ORDER BY seq DESC LIMIT 1",
            [id.as_str()],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                ))
            },
        )
        .optional()?
        .map(|(seq, outcome, policy_hash, at, detail)| {
            Ok::<_, StoreError>(DecisionRecord {
                seq: parse_u64("seq", seq)?,
                outcome: parse_enum(&outcome)?,
                policy_hash,
                decided_at: UnixMillis(at),
                detail,
            })
        })
        .transpose()?;
    let mut stmt = c.prepare(
        "SELECT operator, public_key, kind, payload, signature, comment, received_at \
         FROM approvals WHERE proposal_id = ?1 ORDER BY received_at, public_key",
    )?;
    let approvals = stmt
        .query_map([id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?
        .map(|row| {
            let (operator, key, kind, payload, signature, comment, at) = row?;
            Ok(ApprovalRecord {
                operator,
                public_key: parse_key(&key)?,
                kind: parse_enum(&kind)?,
                payload,
                signature,
                comment,
                received_at: UnixMillis(at),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(StoredProposal {
        record,
        decision,
        approvals,
    }))
}

impl ProposalStore for SqliteStore {
    async fn insert_proposal(
        &self,
        p: NewProposal,
        decision: NewDecision,
    ) -> Result<Inserted, StoreError> {
        self.write(move |tx| {
            let existing_id: Option<String> = tx
                .query_row(
                    "SELECT id FROM proposals WHERE id = ?1 \
                     OR (chain_id = ?2 AND safe = ?3 AND safe_tx_hash = ?4)",
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
            tx.execute(
                &format!(
                    "INSERT INTO proposals ({PROPOSAL_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8, NULL, ?9)"
                ),
                params![
                    p.id.as_str(),
                    chain_col(p.chain_id)?,
                    hex_col(p.safe.as_slice()),
                    p.nonce.to_string(),
                    hex_col(p.safe_tx_hash.as_slice()),
                    p.initiator,
                    p.state.as_str(),
                    p.created_at.0,
                    p.view
                ],
            )?;
            insert_decision(tx, &p.id, &decision)?;
            let rec = load_required(tx, &p.id)?;
            let changes = vec![change(&rec)];
            Ok((Inserted::Created(rec), changes))
        })
        .await
    }

    async fn get(&self, id: ProposalId) -> Result<Option<StoredProposal>, StoreError> {
        self.read(move |c| get_tx(c, &id)).await
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

    async fn add_approval(
        &self,
        id: ProposalId,
        expected_revision: u64,
        approval: ApprovalRecord,
        decision: NewDecision,
        new_state: ProposalState,
    ) -> Result<ProposalRecord, StoreError> {
        self.write(move |tx| {
            let rec = load_required(tx, &id)?;
            check_open(&rec, expected_revision, "approved")?;
            insert_decision(tx, &id, &decision)?;
            let inserted = tx.execute(
                "INSERT INTO approvals (proposal_id, public_key, operator, kind, payload, \
                 signature, comment, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id.as_str(),
                    hex::encode(approval.public_key),
                    approval.operator,
                    approval.kind.as_str(),
                    approval.payload,
                    approval.signature,
                    approval.comment,
                    approval.received_at.0
                ],
            );
            match inserted {
                Err(e) if is_constraint(&e) => {
                    return Err(StoreError::DuplicateApproval {
                        id,
                        public_key: approval.public_key,
                    });
                }
                other => other?,
            };
            let updated = set_state(tx, &rec, new_state, approval.received_at, None)?;
            let changes = vec![change(&updated)];
            Ok((updated, changes))
        })
        .await
    }

    async fn record_decision(
        &self,
        id: ProposalId,
        expected_revision: u64,
        decision: NewDecision,
        new_state: ProposalState,
    ) -> Result<ProposalRecord, StoreError> {
        self.write(move |tx| {
            let rec = load_required(tx, &id)?;
            check_open(&rec, expected_revision, "re-decided")?;
            insert_decision(tx, &id, &decision)?;
            let updated = set_state(tx, &rec, new_state, decision.decided_at, None)?;
            let changes = vec![change(&updated)];
            Ok((updated, changes))
        })
        .await
    }

    async fn cancel(
        &self,
        id: ProposalId,
        reason: String,
        now: UnixMillis,
    ) -> Result<ProposalRecord, StoreError> {
        self.write(move |tx| {
            let rec = load_required(tx, &id)?;
            check_open(&rec, rec.revision, "cancelled")?;
            let updated = set_state(tx, &rec, ProposalState::Cancelled, now, Some(&reason))?;
            let changes = vec![change(&updated)];
            Ok((updated, changes))
        })
        .await
    }

    async fn release(&self, release: Release) -> Result<NonceReservation, StoreError> {
        self.write(move |tx| release_tx(tx, &release)).await
    }

    async fn reservation(
        &self,
        chain_id: u64,
        safe: Address,
        nonce: U256,
    ) -> Result<Option<NonceReservation>, StoreError> {
        self.read(move |c| reservation_of(c, chain_id, safe, nonce))
            .await
    }

    async fn velocity_total(
        &self,
        chain_id: u64,
        safe: Address,
        asset: String,
        window_start: UnixMillis,
    ) -> Result<U256, StoreError> {
        self.read(move |c| {
            let v: Option<String> = c
                .query_row(
                    "SELECT amount FROM velocity_totals \
                     WHERE chain_id = ?1 AND safe = ?2 AND asset = ?3 AND window_start = ?4",
                    params![
                        chain_col(chain_id)?,
                        hex_col(safe.as_slice()),
                        asset,
                        window_start.0
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            v.map_or(Ok(U256::ZERO), |v| parse_u256(&v))
        })
        .await
    }

    async fn upsert_address(&self, e: AddressEntry) -> Result<(), StoreError> {
        self.write(move |tx| {
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

    fn subscribe(&self) -> broadcast::Receiver<ProposalChange> {
        self.inner.changes.subscribe()
    }
}
