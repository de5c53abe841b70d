//! The live, durable audit log: SQLite tables beside the proposal store's, `synchronous=FULL`.
//!
//! Why SQLite rather than a hand-rolled append-only file: a commit either lands whole or not
//! at all (no torn tail to repair after a crash), WAL with `synchronous=FULL` fsyncs the log
//! on every commit, and the database already ships in the binary for the proposal store.
//!
//! The log lives in the **same database file as the store**, so a state change and the records
//! of it commit in one transaction with one flush ([`AuditLog::writer`], used by the store):
//! they land together or not at all, and a submission costs one fsync, not three. Triggers
//! refuse `UPDATE` and `DELETE` on the log's tables, so no store migration can rewrite it. A log
//! kept in a file of its own by earlier versions is merged in once ([`merge_legacy`]).
//!
//! # The contract the gateway relies on
//! [`AuditLog::append`] returns only after the record is committed and fsynced. If it returns
//! `Err`, the caller must release nothing that depended on the record (no signature, no
//! ticket, no approval acknowledgement) and answer `UNAVAILABLE`. After one failed write the
//! log refuses every later append until it is reopened ([`AuditError::Poisoned`]): a log
//! that lost a record must not quietly carry on with the next one.
//!
//! The calls block on disk I/O; from async code run them on the blocking pool.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use signgate_audit::{
    checkpoint::{Checkpoint, origin_for, parse_note, verify_note},
    merkle::{Frontier, Hash, leaf_hash},
    record::{AuditEvent, AuditRecord, EncodedEvent, LeafIndex, RECORD_VERSION},
};

use super::{AuditError, postgres::PgLog};
use crate::clock::{self, SharedClock};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_leaves (
    idx INTEGER PRIMARY KEY,
    data BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    time INTEGER NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_frontiers (
    size INTEGER PRIMARY KEY,
    frontier BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_leaves_no_update BEFORE UPDATE ON audit_leaves
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_leaves_no_delete BEFORE DELETE ON audit_leaves
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_frontiers_no_update BEFORE UPDATE ON audit_frontiers
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_frontiers_no_delete BEFORE DELETE ON audit_frontiers
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// Optional limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditOptions {
    /// Refuse appends once the database would exceed this many bytes (SQLite
    /// `max_page_count`). A full audit volume then fails appends cleanly, the same way a full
    /// disk does, instead of starving the proposal store that shares the disk.
    pub max_bytes: Option<u64>,
}

/// A checkpoint as signed and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// What was signed: the log's origin, size, root and signing time.
    pub checkpoint: Checkpoint,
    /// The signed note, ready to export.
    pub note: String,
}

/// How long a write waits for the store's transaction on the same file to finish.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The append-only log the gateway writes.
#[derive(Debug)]
pub struct AuditLog {
    key: SigningKey,
    origin: String,
    backend: Backend,
    /// What dates records and checkpoints: the system clock unless [`AuditLog::with_clock`]
    /// hands in the gateway's own.
    clock: SharedClock,
}

/// Where the records live.
#[derive(Debug)]
enum Backend {
    /// Tables in the embedded store's SQLite file, one writer process.
    Sqlite { path: PathBuf, inner: Mutex<Inner> },
    /// Tables in the PostgreSQL database every replica shares ([`super::postgres`]).
    Postgres(PgLog),
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    frontier: Frontier,
    poisoned: bool,
}

impl AuditLog {
    /// Dates records and checkpoints by `clock` (the gateway's, so tests drive it).
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Now, in milliseconds since the epoch (an instant before it is the epoch).
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().0).unwrap_or(0)
    }

    /// Opens (or creates) the log at `path`, checks it was written under `audit_key`,
    /// verifies it from its newest signed checkpoint (the checkpoint's signature, the tree
    /// stored with it, and every record after it re-hashed) and proves it can write. Fails if
    /// any of that fails: the gateway must not start without a writable, intact log.
    pub fn open(path: &Path, audit_key: SigningKey) -> Result<Self, AuditError> {
        Self::open_with(path, audit_key, AuditOptions::default())
    }

    /// [`AuditLog::open`] with limits.
    pub fn open_with(
        path: &Path,
        audit_key: SigningKey,
        options: AuditOptions,
    ) -> Result<Self, AuditError> {
        let db = |e: rusqlite::Error| AuditError::Store {
            path: path.to_path_buf(),
            source: e,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        if let Some(max) = options.max_bytes {
            let page: i64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(db)?;
            let page = u64::try_from(page).unwrap_or(4096).max(1);
            let pages = i64::try_from((max / page).max(1)).unwrap_or(i64::MAX);
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(db)?;
        }
        let public = audit_key.verifying_key();
        check_key(&conn, &public).map_err(|e| match e {
            KeyCheck::Db(e) => db(e),
            KeyCheck::Other => AuditError::WrongKey {
                path: path.to_path_buf(),
            },
        })?;
        let frontier = rebuild(&conn, path, &public)?;
        Ok(Self {
            origin: origin_for(&public),
            key: audit_key,
            backend: Backend::Sqlite {
                path: path.to_path_buf(),
                inner: Mutex::new(Inner {
                    conn,
                    frontier,
                    poisoned: false,
                }),
            },
            clock: clock::system(),
        })
    }

    /// Opens the log every replica of one PostgreSQL database shares (creating its tables
    /// under an advisory lock), registers `audit_key` as one of its signers and re-hashes
    /// every stored record. `location` names the database in messages (no credentials). Its
    /// blocking methods must then be called from a blocking-pool thread or a worker of a
    /// multi-threaded runtime.
    pub async fn open_postgres(
        pool: deadpool_postgres::Pool,
        location: String,
        audit_key: SigningKey,
        clock: SharedClock,
    ) -> Result<Self, AuditError> {
        let public = audit_key.verifying_key();
        let pg = PgLog {
            pool,
            runtime: tokio::runtime::Handle::current(),
            location,
        };
        let now = u64::try_from(clock.now().0).unwrap_or(0);
        pg.open(&public, now).await?;
        Ok(Self {
            origin: origin_for(&public),
            key: audit_key,
            backend: Backend::Postgres(pg),
            clock,
        })
    }

    /// Checks the keys that have written this log against `listed` (`[audit] replica_keys`):
    /// this replica's key must be listed, and so must every key any replica ever opened a
    /// shared log with, or an auditor given the list would not accept that replica's
    /// checkpoints (and an unlisted replica may be a rogue one). An empty list checks nothing
    /// (one gateway).
    pub fn check_signers(&self, listed: &[VerifyingKey]) -> Result<(), AuditError> {
        if listed.is_empty() {
            return Ok(());
        }
        let own = self.key.verifying_key();
        let mut signers = vec![own.as_bytes().to_vec()];
        if let Backend::Postgres(pg) = &self.backend {
            signers.extend(pg.block(pg.signers())?);
        }
        for key in signers {
            if !listed
                .iter()
                .any(|l| l.as_bytes().as_slice() == key.as_slice())
            {
                return Err(AuditError::UnlistedSigner {
                    key: hex::encode(&key),
                    own: key.as_slice() == own.as_bytes().as_slice(),
                });
            }
        }
        Ok(())
    }

    /// The PostgreSQL log, for the store that appends inside its own transactions.
    pub fn postgres(&self) -> Option<&PgLog> {
        match &self.backend {
            Backend::Postgres(pg) => Some(pg),
            Backend::Sqlite { .. } => None,
        }
    }

    /// A read-only view of the same log (`signgate audit export`, the policy chain at start).
    pub fn reader(&self) -> Result<AuditReader, AuditError> {
        match &self.backend {
            Backend::Sqlite { path, .. } => AuditReader::open(path),
            Backend::Postgres(pg) => Ok(AuditReader {
                source: ReaderSource::Postgres(pg.clone()),
            }),
        }
    }

    /// The public key auditors verify checkpoints with.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The SQLite file the log lives in; `None` for a log in PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { path, .. } => Some(path),
            Backend::Postgres(_) => None,
        }
    }

    /// Where the log lives, for messages: its file, or its database without credentials.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite { path, .. } => path.display().to_string(),
            Backend::Postgres(pg) => pg.location.clone(),
        }
    }

    /// Records `event` durably and returns its position. See the module docs for what the
    /// caller must do when this fails.
    pub fn append(&self, event: AuditEvent) -> Result<LeafIndex, AuditError> {
        // One event in, one position out: an empty answer cannot happen, and is refused.
        self.append_all(vec![event])?
            .pop()
            .ok_or(AuditError::Poisoned)
    }

    /// Records every event of `events` in one SQLite transaction, in order: all of them are
    /// durable or none is. For changes that are several records at once (a policy and the
    /// operator changes it makes), so a crash can never leave half of one recorded.
    pub fn append_all(&self, events: Vec<AuditEvent>) -> Result<Vec<LeafIndex>, AuditError> {
        if let Backend::Postgres(pg) = &self.backend {
            return pg.block(pg.append_all(events, self.now_ms()));
        }
        let encoded = encode(&events)?;
        let mut writer = self.writer()?;
        let rows = writer.rows(&encoded)?;
        let written = (|| -> Result<(), rusqlite::Error> {
            let tx = writer.inner.conn.transaction()?;
            insert(&tx, &rows)?;
            tx.commit()
        })();
        if let Err(e) = written {
            writer.poison();
            return Err(self.store(e));
        }
        Ok(writer.committed(Staged { rows }))
    }

    /// The exclusive right to append, for a writer that records events inside its own
    /// transaction on the same database file (the store: a change and its records commit
    /// together). Take it **before** beginning that transaction, so every writer of the file
    /// waits in one order (this lock, then SQLite's) and none can deadlock.
    pub fn writer(&self) -> Result<AuditWriter<'_>, AuditError> {
        let Backend::Sqlite { inner, .. } = &self.backend else {
            return Err(AuditError::Database(
                "a log in PostgreSQL is appended to inside each store transaction, not through a writer"
                    .to_owned(),
            ));
        };
        let inner = inner.lock().map_err(|_| AuditError::Poisoned)?;
        if inner.poisoned {
            return Err(AuditError::Poisoned);
        }
        Ok(AuditWriter {
            log: self,
            inner,
            pending: 0,
        })
    }

    /// Number of records and the current root.
    pub fn head(&self) -> Result<(u64, Hash), AuditError> {
        let inner = match &self.backend {
            Backend::Sqlite { inner, .. } => inner,
            Backend::Postgres(pg) => return pg.block(pg.head()),
        };
        let inner = inner.lock().map_err(|_| AuditError::Poisoned)?;
        Ok((inner.frontier.size(), inner.frontier.root()))
    }

    /// Signs and stores a checkpoint of the current tree; returns the stored one when the
    /// tree has not grown since the last checkpoint.
    pub fn checkpoint(&self) -> Result<SignedCheckpoint, AuditError> {
        let inner = match &self.backend {
            Backend::Sqlite { inner, .. } => inner,
            Backend::Postgres(pg) => return pg.block(self.checkpoint_postgres(pg)),
        };
        let inner = inner.lock().map_err(|_| AuditError::Poisoned)?;
        if inner.poisoned {
            return Err(AuditError::Poisoned);
        }
        let size = inner.frontier.size();
        let existing: Option<String> = inner
            .conn
            .query_row(
                "SELECT note FROM audit_checkpoints WHERE size = ?1",
                [to_i64(size)?],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.store(e))?;
        let frontier = inner.frontier.to_bytes();
        if let Some(note) = existing {
            let (checkpoint, _) = parse_note(&note)?;
            // A checkpoint signed before frontiers were kept gets its tree now, so the next
            // start verifies from it.
            inner
                .conn
                .execute(
                    "INSERT OR IGNORE INTO audit_frontiers (size, frontier) VALUES (?1, ?2)",
                    params![to_i64(size)?, frontier],
                )
                .map_err(|e| self.store(e))?;
            return Ok(SignedCheckpoint { checkpoint, note });
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root: inner.frontier.root(),
            time: self.now_ms() / 1000,
        };
        let note = checkpoint.sign(&self.key);
        let (size_col, time_col) = (to_i64(size)?, to_i64(checkpoint.time)?);
        // The note and the tree it signs in one transaction: a start verifies from the newest
        // checkpoint that has both.
        let stored = (|| -> Result<(), rusqlite::Error> {
            let tx = inner.conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO audit_checkpoints (size, root, time, note) VALUES (?1, ?2, ?3, ?4)",
                params![size_col, checkpoint.root.as_slice(), time_col, note],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO audit_frontiers (size, frontier) VALUES (?1, ?2)",
                params![size_col, frontier],
            )?;
            tx.commit()
        })();
        stored.map_err(|e| self.store(e))?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// [`checkpoint`](Self::checkpoint) of the shared log: this replica signs the tree as
    /// committed (by any replica) and stores its note beside the others' of the same size.
    async fn checkpoint_postgres(&self, pg: &PgLog) -> Result<SignedCheckpoint, AuditError> {
        let tree = pg.frontier().await?;
        let (size, root) = (tree.size(), tree.root());
        let public = self.key.verifying_key();
        if let Some(note) = pg.checkpoint_note(size, &public).await? {
            let (checkpoint, _) = parse_note(&note)?;
            return Ok(SignedCheckpoint { checkpoint, note });
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            time: self.now_ms() / 1000,
        };
        let note = checkpoint.sign(&self.key);
        pg.store_checkpoint(&tree, &public, checkpoint.time, &note)
            .await?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    fn store(&self, source: rusqlite::Error) -> AuditError {
        AuditError::Store {
            path: self.path().map(Path::to_path_buf).unwrap_or_default(),
            source,
        }
    }
}

/// The right to append the next records, held from staging them to the commit of the
/// transaction they were staged in ([`AuditLog::writer`]).
pub struct AuditWriter<'a> {
    log: &'a AuditLog,
    inner: std::sync::MutexGuard<'a, Inner>,
    /// Records staged and not yet committed: several changes batched into one transaction
    /// stage one after the other.
    pending: u64,
}

impl std::fmt::Debug for AuditWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditWriter")
            .field("next", &self.inner.frontier.size())
            .finish_non_exhaustive()
    }
}

/// Records written inside a transaction that has not committed yet: the tree grows by them only
/// once it has ([`AuditWriter::committed`]).
#[derive(Debug)]
pub struct Staged {
    rows: Vec<Row>,
}

/// One record as stored: position, canonical bytes and leaf hash.
#[derive(Debug)]
struct Row {
    index: u64,
    bytes: Vec<u8>,
    leaf: Hash,
}

impl AuditWriter<'_> {
    /// Writes `events` (encoded beforehand by [`encode`]) as the next records through `conn`,
    /// which must be inside a transaction on the log's database: they become part of the log if
    /// and only if it commits, after which the caller must call [`committed`](Self::committed).
    /// All that is left to do under the writer's lock is to give them positions, splice them
    /// into records ([`AuditRecord::bytes_of`]), hash and insert them.
    pub fn stage(
        &mut self,
        conn: &Connection,
        events: &[EncodedEvent],
    ) -> Result<Staged, AuditError> {
        let rows = self.rows(events)?;
        insert(conn, &rows).map_err(|e| self.log.store(e))?;
        self.pending = self.pending.saturating_add(rows.len() as u64);
        Ok(Staged { rows })
    }

    /// The last records staged were rolled back (to a savepoint before them): the next ones
    /// take their positions.
    pub fn unstage(&mut self, staged: Staged) {
        self.pending = self.pending.saturating_sub(staged.rows.len() as u64);
    }

    /// The staged records' transaction committed: the tree grows by them.
    pub fn committed(self, staged: Staged) -> Vec<LeafIndex> {
        self.committed_all(vec![staged])
    }

    /// The transaction of every batch in `staged` (in the order they were staged) committed.
    pub fn committed_all(mut self, staged: Vec<Staged>) -> Vec<LeafIndex> {
        staged
            .into_iter()
            .flat_map(|s| s.rows)
            .map(|row| {
                self.inner.frontier.push(row.leaf);
                LeafIndex(row.index)
            })
            .collect()
    }

    /// The commit of a transaction holding staged records failed: whether they landed is
    /// unknown, so the log refuses every later write until it is reopened and re-verified.
    pub fn poison(mut self) {
        self.inner.poisoned = true;
    }

    /// The records `events` become at the end of the log, dated now.
    fn rows(&self, events: &[EncodedEvent]) -> Result<Vec<Row>, AuditError> {
        let first = self.inner.frontier.size().saturating_add(self.pending);
        let at_ms = self.log.now_ms();
        let mut rows = Vec::with_capacity(events.len());
        for (offset, event) in (0u64..).zip(events) {
            let index = first.saturating_add(offset);
            let bytes = AuditRecord::bytes_of(index, at_ms, event);
            to_i64(index)?;
            let leaf = leaf_hash(&bytes);
            rows.push(Row { index, bytes, leaf });
        }
        Ok(rows)
    }
}

/// `events` in canonical bytes, ready to be given positions: encoded by the caller, outside the
/// writer's lock, so concurrent changes encode their records in parallel.
pub fn encode(events: &[AuditEvent]) -> Result<Vec<EncodedEvent>, AuditError> {
    events
        .iter()
        .map(|e| EncodedEvent::new(e).map_err(AuditError::from))
        .collect()
}

fn insert(conn: &Connection, rows: &[Row]) -> Result<(), rusqlite::Error> {
    let mut stmt =
        conn.prepare_cached("INSERT INTO audit_leaves (idx, data, leaf_hash) VALUES (?1, ?2, ?3)")?;
    for row in rows {
        let idx = i64::try_from(row.index).unwrap_or(i64::MAX);
        stmt.execute(params![idx, row.bytes, row.leaf.as_slice()])?;
    }
    Ok(())
}

/// Merges a log kept in a file of its own (`legacy`, as versions before the single database
/// wrote it) into the database at `path`, once: its records, checkpoints and key binding are
/// copied unchanged in one transaction, then the old file is renamed `<name>.merged` so it is
/// never merged twice. Refused if the database already holds records: two logs cannot become
/// one without breaking the tree. [`AuditLog::open`] then re-verifies every record.
pub fn merge_legacy(path: &Path, legacy: &Path) -> Result<bool, AuditError> {
    if !legacy.exists() {
        return Ok(false);
    }
    let db = |e: rusqlite::Error| AuditError::Store {
        path: path.to_path_buf(),
        source: e,
    };
    let mut conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    conn.execute_batch(SCHEMA).map_err(db)?;
    conn.execute("ATTACH DATABASE ?1 AS legacy", [legacy.to_string_lossy()])
        .map_err(db)?;
    let merged = (|| -> Result<(), AuditError> {
        let tx = conn.transaction().map_err(db)?;
        let present: i64 = tx
            .query_row("SELECT count(*) FROM main.audit_leaves", [], |r| r.get(0))
            .map_err(db)?;
        if present > 0 {
            return Err(AuditError::Corrupt {
                index: 0,
                why: format!(
                    "{} holds audit records and so does the separate log {}; keep one of them",
                    path.display(),
                    legacy.display()
                ),
            });
        }
        tx.execute_batch(
            "INSERT OR REPLACE INTO main.audit_meta SELECT k, v FROM legacy.audit_meta;
             INSERT INTO main.audit_leaves SELECT idx, data, leaf_hash FROM legacy.audit_leaves;
             INSERT INTO main.audit_checkpoints SELECT size, root, time, note
                 FROM legacy.audit_checkpoints;",
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    })();
    conn.execute("DETACH DATABASE legacy", []).map_err(db)?;
    merged?;
    let mut done = legacy.as_os_str().to_owned();
    done.push(".merged");
    std::fs::rename(legacy, &done).map_err(|source| AuditError::Merged {
        legacy: legacy.to_path_buf(),
        source,
    })?;
    Ok(true)
}

enum KeyCheck {
    Db(rusqlite::Error),
    Other,
}

/// Binds the file to one audit key on first open and refuses any other key later.
fn check_key(conn: &Connection, public: &VerifyingKey) -> Result<(), KeyCheck> {
    let stored: Option<Vec<u8>> = conn
        .query_row("SELECT v FROM audit_meta WHERE k = 'audit_key'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(KeyCheck::Db)?;
    match stored {
        Some(k) if k.as_slice() == public.as_bytes() => Ok(()),
        Some(_) => Err(KeyCheck::Other),
        None => conn
            .execute(
                "INSERT INTO audit_meta (k, v) VALUES ('audit_key', ?1), ('format', ?2)",
                params![public.as_bytes().as_slice(), RECORD_VERSION.to_string()],
            )
            .map(|_| ())
            .map_err(KeyCheck::Db),
    }
}

/// Verifies the stored log and returns its tree, so a log edited on disk is refused at start
/// rather than extended. It starts from the newest checkpoint stored with its tree
/// ([`verified_start`]: signed by `key`, of that size and root, its last record present), or
/// from the empty tree when there is none; every record after that point is re-hashed in order
/// and every later checkpoint checked against the recomputed roots. The records a verified
/// checkpoint covers are vouched for by its signature and not re-hashed here: an edit among
/// them is what offline verification (`signgate audit verify`, every record against every
/// checkpoint) finds, while a start costs the tail since the last checkpoint, not the log.
fn rebuild(conn: &Connection, path: &Path, key: &VerifyingKey) -> Result<Frontier, AuditError> {
    let db = |e: rusqlite::Error| AuditError::Store {
        path: path.to_path_buf(),
        source: e,
    };
    let mut frontier = verified_start(conn, path, key)?;
    let from = to_i64(frontier.size())?;
    let mut checkpoints: Vec<(u64, Vec<u8>)> = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT size, root FROM audit_checkpoints WHERE size >= ?1 ORDER BY size DESC")
            .map_err(db)?;
        let rows = stmt
            .query_map([from], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(db)?;
        for row in rows {
            let (size, root) = row.map_err(db)?;
            checkpoints.push((u64::try_from(size).unwrap_or(u64::MAX), root));
        }
    }
    let check = |f: &Frontier, cps: &mut Vec<(u64, Vec<u8>)>| -> Result<(), AuditError> {
        while let Some((size, root)) = cps.last() {
            if *size != f.size() {
                break;
            }
            if root.as_slice() != f.root().as_slice() {
                return Err(AuditError::Corrupt {
                    index: f.size(),
                    why: format!("stored checkpoint of size {size} does not match the records"),
                });
            }
            cps.pop();
        }
        Ok(())
    };
    let mut stmt = conn
        .prepare("SELECT idx, data, leaf_hash FROM audit_leaves WHERE idx >= ?1 ORDER BY idx")
        .map_err(db)?;
    let mut rows = stmt.query([from]).map_err(db)?;
    check(&frontier, &mut checkpoints)?;
    while let Some(row) = rows.next().map_err(db)? {
        let idx: i64 = row.get(0).map_err(db)?;
        let data: Vec<u8> = row.get(1).map_err(db)?;
        let stored: Vec<u8> = row.get(2).map_err(db)?;
        push_verified(&mut frontier, idx, &data, &stored)?;
        check(&frontier, &mut checkpoints)?;
    }
    if let Some((size, _)) = checkpoints.last() {
        return Err(AuditError::Corrupt {
            index: frontier.size(),
            why: format!("a checkpoint of size {size} exists but the log has fewer records"),
        });
    }
    Ok(frontier)
}

/// The tree a start verifies from: that of the newest checkpoint stored with its tree, once its
/// note carries a valid signature by `key` over exactly that size and root, the stored tree is
/// of that size and hashes to that root, and the last record it covers is present and hashes
/// to its stored hash. The empty tree when no checkpoint has a stored tree (a log from before
/// trees were kept, or one never checkpointed): then every record is re-hashed.
fn verified_start(
    conn: &Connection,
    path: &Path,
    key: &VerifyingKey,
) -> Result<Frontier, AuditError> {
    let db = |e: rusqlite::Error| AuditError::Store {
        path: path.to_path_buf(),
        source: e,
    };
    let newest = conn
        .query_row(
            "SELECT c.size, c.root, c.note, f.frontier FROM audit_checkpoints c \
             JOIN audit_frontiers f ON f.size = c.size ORDER BY c.size DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(db)?;
    let Some((size, root, note, tree)) = newest else {
        return Ok(Frontier::default());
    };
    let checkpoint = StoredCheckpoint {
        size: u64::try_from(size).unwrap_or(u64::MAX),
        root,
        note,
        tree,
    };
    let frontier = checkpoint.trusted_frontier(key)?;
    if let Some(last) = checkpoint.size.checked_sub(1) {
        let record = conn
            .query_row(
                "SELECT data, leaf_hash FROM audit_leaves WHERE idx = ?1",
                [to_i64(last)?],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(db)?;
        checkpoint.check_last_covered(record)?;
    }
    Ok(frontier)
}

/// The newest checkpoint stored with its tree, as either database holds it: what a start
/// verifies from.
pub(super) struct StoredCheckpoint {
    /// The log size the checkpoint commits to.
    pub size: u64,
    /// The root stored beside the note.
    pub root: Vec<u8>,
    /// The signed note.
    pub note: String,
    /// The Merkle frontier stored with it (`Frontier::to_bytes`).
    pub tree: Vec<u8>,
}

impl StoredCheckpoint {
    /// The stored tree, once the note verifies under `key` over exactly this size and root and
    /// the tree is of that size and hashes to that root.
    pub(super) fn trusted_frontier(&self, key: &VerifyingKey) -> Result<Frontier, AuditError> {
        let size = self.size;
        let corrupt = |why: String| AuditError::Corrupt { index: size, why };
        let signed = verify_note(&self.note, key).map_err(|e| {
            corrupt(format!(
                "the stored checkpoint of size {size} does not verify: {e}"
            ))
        })?;
        Frontier::from_bytes(&self.tree)
            .filter(|f| f.size() == size && signed.size == size)
            .filter(|f| f.root() == signed.root && self.root.as_slice() == signed.root.as_slice())
            .ok_or_else(|| {
                corrupt(format!(
                    "the stored checkpoint of size {size} does not match the tree stored with it"
                ))
            })
    }

    /// The last record the checkpoint covers (its bytes and stored leaf hash, `None`: missing)
    /// is present and hashes to what was stored.
    pub(super) fn check_last_covered(
        &self,
        record: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), AuditError> {
        let size = self.size;
        let last = size.saturating_sub(1);
        match record {
            Some((data, stored)) if leaf_hash(&data).as_slice() == stored.as_slice() => Ok(()),
            Some(_) => Err(AuditError::Corrupt {
                index: last,
                why: "record bytes do not match their stored hash".to_owned(),
            }),
            None => Err(AuditError::Corrupt {
                index: last,
                why: format!("record {last}, covered by the checkpoint of size {size}, is missing"),
            }),
        }
    }
}

/// Appends the record stored at `idx` with bytes `data` and leaf hash `stored` to `frontier`,
/// if it is the next position and its bytes hash to what was stored: how a log is re-verified
/// when it is opened, in either database.
pub(super) fn push_verified(
    frontier: &mut Frontier,
    idx: i64,
    data: &[u8],
    stored: &[u8],
) -> Result<(), AuditError> {
    let expected = frontier.size();
    if u64::try_from(idx).ok() != Some(expected) {
        return Err(AuditError::Corrupt {
            index: expected,
            why: format!("record {expected} is missing (next stored is {idx})"),
        });
    }
    let leaf = leaf_hash(data);
    if leaf.as_slice() != stored {
        return Err(AuditError::Corrupt {
            index: expected,
            why: "record bytes do not match their stored hash".to_owned(),
        });
    }
    frontier.push(leaf);
    Ok(())
}

fn to_i64(n: u64) -> Result<i64, AuditError> {
    i64::try_from(n).map_err(|_| AuditError::Corrupt {
        index: n,
        why: "position exceeds SQLite's integer range".to_owned(),
    })
}

/// Read-only access to a log database, for `signgate audit export` and `show`: needs no key
/// and cannot write.
#[derive(Debug)]
pub struct AuditReader {
    source: ReaderSource,
}

#[derive(Debug)]
enum ReaderSource {
    Sqlite { conn: Connection, path: PathBuf },
    Postgres(PgLog),
}

impl AuditReader {
    /// Opens an existing log read-only.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
                AuditError::Store {
                    path: path.to_path_buf(),
                    source: e,
                }
            })?;
        Ok(Self {
            source: ReaderSource::Sqlite {
                conn,
                path: path.to_path_buf(),
            },
        })
    }

    fn db(path: &Path, source: rusqlite::Error) -> AuditError {
        AuditError::Store {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Every record's bytes, in order.
    pub fn leaves(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        let (conn, path) = match &self.source {
            ReaderSource::Sqlite { conn, path } => (conn, path),
            ReaderSource::Postgres(pg) => return pg.block(pg.leaves()),
        };
        let db = |e| Self::db(path, e);
        let mut stmt = conn
            .prepare("SELECT data FROM audit_leaves ORDER BY idx")
            .map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(db)?;
        rows.map(|r| r.map_err(db)).collect()
    }

    /// At least every record the policy in force is derived from (`policy_applied` and the
    /// first `server_started`), in order: the whole log for a SQLite file, only those for a
    /// log in PostgreSQL.
    pub fn governance_leaves(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        match &self.source {
            ReaderSource::Postgres(pg) => pg.block(pg.governance_leaves()),
            ReaderSource::Sqlite { .. } => self.leaves(),
        }
    }

    /// Every stored checkpoint note, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<String>, AuditError> {
        let (conn, path) = match &self.source {
            ReaderSource::Sqlite { conn, path } => (conn, path),
            ReaderSource::Postgres(pg) => return pg.block(pg.checkpoints()),
        };
        let db = |e| Self::db(path, e);
        let mut stmt = conn
            .prepare("SELECT note FROM audit_checkpoints ORDER BY size")
            .map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        rows.map(|r| r.map_err(db)).collect()
    }
}
