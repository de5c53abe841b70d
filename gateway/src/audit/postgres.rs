//! The audit log in PostgreSQL, shared by every gateway replica of one database.
//!
//! Each replica appends inside the transaction of the state change it records (the store's,
//! [`stage`]), so the two commit together or not at all. Positions are serialised by the one
//! row of `audit_head`, locked `FOR UPDATE` by the appending transaction and holding the size
//! and the Merkle frontier ([`Frontier::to_bytes`]): whichever replica appends next continues
//! the tree exactly where the last commit, by any replica, left it, and a transaction that rolls
//! back leaves the head as it was. The leaf hashes are stored beside the records, so a replica
//! (or an auditor) re-hashes and compares without trusting the head.
//!
//! Checkpoints are signed by the replica that writes them, keyed by (size, signer): every
//! replica's audit key signs the same tree, and `signgate audit verify` accepts the keys the
//! configuration lists. Triggers refuse `UPDATE` and `DELETE` on records and checkpoints.
//!
//! The policy in force is kept in the same transaction as the record that puts it in force
//! (`policy_in_force`, written when a `server_started` names the first policy or a
//! `policy_applied` names the next), so the store can check each decision against it.

use deadpool_postgres::Pool;
use ed25519_dalek::VerifyingKey;
use signgate_audit::{
    merkle::{Frontier, Hash, leaf_hash},
    record::{AuditEvent, AuditRecord, EncodedEvent, LeafIndex},
};
use tokio_postgres::GenericClient;

use signgate_policy::governance::GENESIS_VERSION;

use super::{AuditError, log::StoredCheckpoint};

/// The advisory lock key under which the schema is created (several replicas starting at
/// once would otherwise race on `CREATE TABLE IF NOT EXISTS`). The store's migrations take the
/// same key.
pub const SCHEMA_LOCK: i64 = 0x5349_474e_0001;

/// The log's tables, created once under [`SCHEMA_LOCK`].
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_keys (
    public_key BYTEA PRIMARY KEY,
    first_seen_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_leaves (
    idx BIGINT PRIMARY KEY,
    data BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_leaves_by_kind ON audit_leaves (kind, idx);
CREATE TABLE IF NOT EXISTS audit_head (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    frontier BYTEA NOT NULL
);
INSERT INTO audit_head (id, size, frontier)
    VALUES (1, 0, '\\x0000000000000000') ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size BIGINT NOT NULL,
    signer BYTEA NOT NULL,
    root BYTEA NOT NULL,
    time BIGINT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (size, signer)
);
CREATE TABLE IF NOT EXISTS audit_frontiers (
    size BIGINT PRIMARY KEY,
    frontier BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_in_force (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL,
    policy_hash TEXT NOT NULL,
    record BIGINT NOT NULL
);
CREATE OR REPLACE FUNCTION signgate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_leaves_append_only') THEN
        CREATE TRIGGER audit_leaves_append_only BEFORE UPDATE OR DELETE ON audit_leaves
            FOR EACH ROW EXECUTE FUNCTION signgate_append_only();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_checkpoints_append_only') THEN
        CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
            FOR EACH ROW EXECUTE FUNCTION signgate_append_only();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_frontiers_append_only') THEN
        CREATE TRIGGER audit_frontiers_append_only BEFORE UPDATE OR DELETE ON audit_frontiers
            FOR EACH ROW EXECUTE FUNCTION signgate_append_only();
    END IF;
END $$;
";

/// The PostgreSQL side of an [`AuditLog`](super::AuditLog): its pool and the runtime its
/// blocking callers wait on.
#[derive(Clone)]
pub struct PgLog {
    pub(super) pool: Pool,
    pub(super) runtime: tokio::runtime::Handle,
    /// Where, for messages: the database without credentials.
    pub(super) location: String,
}

impl std::fmt::Debug for PgLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLog")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A database error as the log reports it, with the server's own message and code (the
/// driver's `Display` says only "db error").
pub(super) fn db(e: impl Into<DbFailure>) -> AuditError {
    AuditError::Database(e.into().0)
}

/// The words of a database failure.
#[derive(Debug)]
pub struct DbFailure(String);

impl std::fmt::Display for DbFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<tokio_postgres::Error> for DbFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        Self(describe(&e))
    }
}

impl From<deadpool_postgres::PoolError> for DbFailure {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self(match &e {
            deadpool_postgres::PoolError::Backend(b) => describe(b),
            other => other.to_string(),
        })
    }
}

impl From<std::io::Error> for DbFailure {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

/// A driver error in words: the server's message and SQLSTATE when the server answered,
/// otherwise the driver's own description and cause.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({}): {}", d.severity(), d.code().code(), d.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

fn to_i64(n: u64) -> Result<i64, AuditError> {
    i64::try_from(n).map_err(|_| AuditError::Corrupt {
        index: n,
        why: "position exceeds PostgreSQL's BIGINT".to_owned(),
    })
}

impl PgLog {
    /// Runs `f` to completion from synchronous code (the log's callers are blocking-pool
    /// threads, or the runtime's own workers at start): the multi-threaded runtime lends the
    /// thread to it.
    pub(super) fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::task::block_in_place(|| self.runtime.block_on(f))
    }

    /// Creates the tables if needed, registers `key` as one of the log's signers, and verifies
    /// the log from this replica's newest checkpoint ([`verify`](Self::verify)), so a log edited
    /// in the database is refused at start rather than extended.
    pub(super) async fn open(&self, key: &VerifyingKey, now_ms: u64) -> Result<(), AuditError> {
        let mut client = self.pool.get().await.map_err(db)?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .map_err(db)?;
        tx.batch_execute(SCHEMA).await.map_err(db)?;
        tx.execute(
            "INSERT INTO audit_keys (public_key, first_seen_ms) VALUES ($1, $2) \
             ON CONFLICT (public_key) DO NOTHING",
            &[&key.as_bytes().as_slice(), &to_i64(now_ms)?],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        // One snapshot: other replicas keep appending while this one reads.
        let snapshot = snapshot(&mut client).await.map_err(db)?;
        // Starting is not a call: reading a long log may take longer than a statement may.
        snapshot
            .batch_execute("SET LOCAL statement_timeout = 0")
            .await
            .map_err(db)?;
        self.verify(&*snapshot, key).await?;
        snapshot.commit().await.map_err(db)
    }

    /// Re-hashes every record after the newest checkpoint `key` signed that was stored with its
    /// tree (all of them when there is none), checks the positions run on from there and that
    /// the head's frontier is the tree they make. The checkpoint must verify under `key` with
    /// the size and root of the tree stored beside it, and its last record must be present
    /// and hash to its stored hash; the records it covers are vouched for by its signature and
    /// re-hashed only offline (`signgate audit verify`). Only this replica's own checkpoints
    /// are trusted here: a key written into the database cannot vouch for an edited prefix.
    /// `c` must read one snapshot (a repeatable-read transaction): the head, the checkpoint and
    /// the records must be of the same moment.
    async fn verify(&self, c: &impl GenericClient, key: &VerifyingKey) -> Result<(), AuditError> {
        let head = head(c, false).await?;
        let mut frontier = verified_start(c, key).await?;
        let rows = c
            .query(
                "SELECT idx, data, leaf_hash FROM audit_leaves WHERE idx >= $1 ORDER BY idx",
                &[&to_i64(frontier.size())?],
            )
            .await
            .map_err(db)?;
        for row in rows {
            let idx: i64 = row.try_get(0).map_err(db)?;
            let data: Vec<u8> = row.try_get(1).map_err(db)?;
            let stored: Vec<u8> = row.try_get(2).map_err(db)?;
            super::log::push_verified(&mut frontier, idx, &data, &stored)?;
        }
        if frontier.size() != head.size() || frontier.root() != head.root() {
            return Err(AuditError::Corrupt {
                index: frontier.size(),
                why: format!(
                    "the head says {} records, the records make {}",
                    head.size(),
                    frontier.size()
                ),
            });
        }
        Ok(())
    }

    /// The first column of every row `sql` returns, in order.
    async fn column<T>(&self, sql: &str) -> Result<Vec<T>, AuditError>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        let client = self.pool.get().await.map_err(db)?;
        client
            .query(sql, &[])
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.try_get(0).map_err(db))
            .collect()
    }

    /// Every audit key that has opened this log (each replica's), in the order they first did.
    pub(super) async fn signers(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        self.column("SELECT public_key FROM audit_keys ORDER BY first_seen_ms, public_key")
            .await
    }

    /// Number of records and the current root, as committed.
    pub(super) async fn head(&self) -> Result<(u64, Hash), AuditError> {
        let f = self.frontier().await?;
        Ok((f.size(), f.root()))
    }

    /// The tree as committed (what a checkpoint of its size stores beside its note).
    pub(super) async fn frontier(&self) -> Result<Frontier, AuditError> {
        let client = self.pool.get().await.map_err(db)?;
        head(&**client, false).await
    }

    /// The stored checkpoint of `size` signed by `signer`, if any.
    pub(super) async fn checkpoint_note(
        &self,
        size: u64,
        signer: &VerifyingKey,
    ) -> Result<Option<String>, AuditError> {
        let client = self.pool.get().await.map_err(db)?;
        let row = client
            .query_opt(
                "SELECT note FROM audit_checkpoints WHERE size = $1 AND signer = $2",
                &[&to_i64(size)?, &signer.as_bytes().as_slice()],
            )
            .await
            .map_err(db)?;
        row.map(|r| r.try_get(0).map_err(db)).transpose()
    }

    /// Stores a signed checkpoint of `tree` (a replica racing to sign the same size keeps the
    /// first), and the tree beside it, in one transaction: a start verifies from the newest
    /// checkpoint stored with its tree.
    pub(super) async fn store_checkpoint(
        &self,
        tree: &Frontier,
        signer: &VerifyingKey,
        time: u64,
        note: &str,
    ) -> Result<(), AuditError> {
        let size = to_i64(tree.size())?;
        let root = tree.root();
        let mut client = self.pool.get().await.map_err(db)?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute(
            "INSERT INTO audit_checkpoints (size, signer, root, time, note) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (size, signer) DO NOTHING",
            &[
                &size,
                &signer.as_bytes().as_slice(),
                &root.as_slice(),
                &to_i64(time)?,
                &note,
            ],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO audit_frontiers (size, frontier) VALUES ($1, $2) \
             ON CONFLICT (size) DO NOTHING",
            &[&size, &tree.to_bytes()],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    /// Every record's bytes, in order.
    pub(super) async fn leaves(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        self.column("SELECT data FROM audit_leaves ORDER BY idx")
            .await
    }

    /// The records the policy in force is derived from, in order: every `policy_applied` and
    /// the first `server_started` (which pins the genesis policy). Read by their kind, not by
    /// scanning the log, so a replica's start and its policy follower cost what the policy
    /// history costs, not what the log does.
    pub(super) async fn governance_leaves(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        self.column(
            "SELECT data FROM ( \
               (SELECT idx, data FROM audit_leaves WHERE kind = 'server_started' \
                ORDER BY idx LIMIT 1) \
               UNION ALL (SELECT idx, data FROM audit_leaves WHERE kind = 'policy_applied') \
             ) governance ORDER BY idx",
        )
        .await
    }

    /// Every stored checkpoint note, by size then signer.
    pub(super) async fn checkpoints(&self) -> Result<Vec<String>, AuditError> {
        self.column("SELECT note FROM audit_checkpoints ORDER BY size, signer")
            .await
    }

    /// Appends `events` in a transaction of their own.
    pub(super) async fn append_all(
        &self,
        events: Vec<AuditEvent>,
        at_ms: u64,
    ) -> Result<Vec<LeafIndex>, AuditError> {
        let mut client = self.pool.get().await.map_err(db)?;
        let encoded = super::log::encode(&events)?;
        let tx = client.transaction().await.map_err(db)?;
        let written = stage(&tx, &events, &encoded, at_ms).await?;
        tx.commit().await.map_err(db)?;
        Ok(written)
    }
}

/// A read-only transaction that reads one snapshot throughout (`REPEATABLE READ`): what several
/// statements read agrees even while other replicas write.
pub async fn snapshot(
    client: &mut deadpool_postgres::ClientWrapper,
) -> Result<deadpool_postgres::Transaction<'_>, tokio_postgres::Error> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
}

/// The tree a start verifies from: that of the newest checkpoint signed by `key` and stored with
/// its tree, once the note verifies under `key` over exactly that size and root, the stored tree
/// is of that size and hashes to that root, and the last record it covers is present and hashes
/// to its stored hash. The empty tree when there is none.
async fn verified_start(
    c: &impl GenericClient,
    key: &VerifyingKey,
) -> Result<Frontier, AuditError> {
    let newest = c
        .query_opt(
            "SELECT c.size, c.root, c.note, f.frontier FROM audit_checkpoints c \
             JOIN audit_frontiers f ON f.size = c.size WHERE c.signer = $1 \
             ORDER BY c.size DESC LIMIT 1",
            &[&key.as_bytes().as_slice()],
        )
        .await
        .map_err(db)?;
    let Some(row) = newest else {
        return Ok(Frontier::default());
    };
    let size: i64 = row.try_get(0).map_err(db)?;
    let checkpoint = StoredCheckpoint {
        size: u64::try_from(size).unwrap_or(u64::MAX),
        root: row.try_get(1).map_err(db)?,
        note: row.try_get(2).map_err(db)?,
        tree: row.try_get(3).map_err(db)?,
    };
    let frontier = checkpoint.trusted_frontier(key)?;
    if let Some(last) = checkpoint.size.checked_sub(1) {
        let record = c
            .query_opt(
                "SELECT data, leaf_hash FROM audit_leaves WHERE idx = $1",
                &[&to_i64(last)?],
            )
            .await
            .map_err(db)?;
        let record = record
            .map(|r| {
                Ok::<_, AuditError>((
                    r.try_get::<_, Vec<u8>>(0).map_err(db)?,
                    r.try_get::<_, Vec<u8>>(1).map_err(db)?,
                ))
            })
            .transpose()?;
        checkpoint.check_last_covered(record)?;
    }
    Ok(frontier)
}

/// The head's frontier; `lock` takes the row `FOR UPDATE` (the appending transaction's turn).
async fn head(c: &impl GenericClient, lock: bool) -> Result<Frontier, AuditError> {
    let sql = if lock {
        "SELECT frontier FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT frontier FROM audit_head WHERE id = 1"
    };
    frontier_of(&c.query_one(sql, &[]).await.map_err(db)?)
}

/// The frontier in the head's row.
fn frontier_of(row: &tokio_postgres::Row) -> Result<Frontier, AuditError> {
    let bytes: Vec<u8> = row.try_get(0).map_err(db)?;
    Frontier::from_bytes(&bytes).ok_or_else(|| AuditError::Corrupt {
        index: 0,
        why: "the log's head is not a Merkle frontier".to_owned(),
    })
}

/// Writes `events` as the next records, dated `at_ms`, inside the caller's transaction `tx`:
/// they are part of the log if and only if it commits. Holds the head row until then, so the
/// appends of every replica are serialised and each continues the tree the last one committed.
///
/// `encoded` is `events` in canonical bytes ([`super::log::encode`]), one for one, encoded by
/// the caller before its transaction: under the head's lock only positions are spliced in
/// ([`AuditRecord::bytes_of`]), so every replica waits for the lock as briefly as it can.
pub async fn stage(
    tx: &deadpool_postgres::Transaction<'_>,
    events: &[AuditEvent],
    encoded: &[EncodedEvent],
    at_ms: u64,
) -> Result<Vec<LeafIndex>, AuditError> {
    if events.len() != encoded.len() {
        return Err(AuditError::Corrupt {
            index: 0,
            why: format!(
                "{} events staged with {} encodings",
                events.len(),
                encoded.len()
            ),
        });
    }
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // Through the connection's statement cache, as every statement of this append: it runs on
    // every change, under the head's lock, where a round trip to parse costs every replica.
    let lock = tx
        .prepare_cached("SELECT frontier FROM audit_head WHERE id = 1 FOR UPDATE")
        .await
        .map_err(db)?;
    let mut frontier = frontier_of(&tx.query_one(&lock, &[]).await.map_err(db)?)?;
    // A policy application must replace exactly the policy in force (read under the head's
    // lock, which every writer takes first, and then locked itself): two replicas applying
    // different successors at once cannot both land, which would fork the chain every replica
    // checks.
    for event in events {
        if let AuditEvent::PolicyApplied(p) = event
            && let Some(previous) = p.previous
        {
            let row = tx
                .query_opt(
                    "SELECT policy_hash FROM policy_in_force WHERE id = 1 FOR UPDATE",
                    &[],
                )
                .await
                .map_err(db)?;
            let in_force: Option<String> = row.map(|r| r.try_get(0)).transpose().map_err(db)?;
            if let Some(in_force) = in_force
                && in_force != previous.to_string()
            {
                return Err(AuditError::PolicyRaced {
                    replaces: previous.to_string(),
                    in_force,
                });
            }
        }
    }

    let insert = tx
        .prepare_cached(
            "INSERT INTO audit_leaves (idx, data, leaf_hash, kind) VALUES ($1, $2, $3, $4)",
        )
        .await
        .map_err(db)?;
    let mut written = Vec::with_capacity(events.len());
    let mut moved_policy = None;
    for (event, encoded) in events.iter().zip(encoded) {
        let index = frontier.size();
        let in_force = policy_put_in_force(event);
        let kind = encoded.kind();
        let bytes = AuditRecord::bytes_of(index, at_ms, encoded);
        let leaf = leaf_hash(&bytes);
        tx.execute(&insert, &[&to_i64(index)?, &bytes, &leaf.as_slice(), &kind])
            .await
            .map_err(db)?;
        if let Some((version, hash, first_only)) = in_force {
            moved_policy = Some(index);
            let sql = if first_only {
                "INSERT INTO policy_in_force (id, version, policy_hash, record) \
                 VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING"
            } else {
                "INSERT INTO policy_in_force (id, version, policy_hash, record) \
                 VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE \
                 SET version = $1, policy_hash = $2, record = $3"
            };
            tx.execute(sql, &[&to_i64(version)?, &hash, &to_i64(index)?])
                .await
                .map_err(db)?;
        }
        frontier.push(leaf);
        written.push(LeafIndex(index));
    }
    let update = tx
        .prepare_cached("UPDATE audit_head SET size = $1, frontier = $2 WHERE id = 1")
        .await
        .map_err(db)?;
    tx.execute(&update, &[&to_i64(frontier.size())?, &frontier.to_bytes()])
        .await
        .map_err(db)?;
    // Replicas adopt a policy put in force through another as soon as this commits (they also
    // poll, in case an announcement is missed while their listening connection is down).
    if let Some(index) = moved_policy {
        tx.execute(
            "SELECT pg_notify('signgate_policy', $1)",
            &[&index.to_string()],
        )
        .await
        .map_err(db)?;
    }
    Ok(written)
}

/// The (version, policy hash, only if none yet) a record puts in force: the first
/// `server_started` names the genesis policy (version 1); a `policy_applied` the next.
fn policy_put_in_force(event: &AuditEvent) -> Option<(u64, String, bool)> {
    match event {
        AuditEvent::ServerStarted(s) => s
            .policy_hash
            .map(|h| (GENESIS_VERSION, h.to_string(), true)),
        AuditEvent::PolicyApplied(p) => Some((p.version, p.policy_hash.to_string(), false)),
        _ => None,
    }
}

/// A TLS connector trusting only the CA certificates in the PEM file `ca`.
pub fn tls_connector(
    ca: &std::path::Path,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, AuditError> {
    use rustls_pki_types::{CertificateDer, pem::PemObject as _};
    let bad =
        |why: String| AuditError::Database(format!("store.postgres.ca {}: {why}", ca.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(e.to_string()))? {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".to_owned()));
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Reads every record and checkpoint note of the log in the database at `url`, in one
/// snapshot, for `signgate audit export` (no key, no write). Runs a runtime of its own: the
/// CLI calls it from plain synchronous code.
/// With `ca`, over TLS as the gateway connects (`[store.postgres] ca`).
pub fn export(
    url: &str,
    ca: Option<&std::path::Path>,
) -> Result<(Vec<Vec<u8>>, Vec<String>), AuditError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(db)?;
    runtime.block_on(async {
        let mut config: tokio_postgres::Config = url.parse().map_err(db)?;
        // The pool's client type, so the snapshot is taken as the gateway's reads take it; the
        // wrapper owns the connection task and ends it when dropped, after the commit.
        let mut client = match ca {
            None => {
                let (client, connection) =
                    config.connect(tokio_postgres::NoTls).await.map_err(db)?;
                deadpool_postgres::ClientWrapper::new(
                    client,
                    tokio::spawn(async move {
                        let _ = connection.await;
                    }),
                )
            }
            Some(ca) => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                let (client, connection) = config.connect(tls_connector(ca)?).await.map_err(db)?;
                deadpool_postgres::ClientWrapper::new(
                    client,
                    tokio::spawn(async move {
                        let _ = connection.await;
                    }),
                )
            }
        };
        let tx = snapshot(&mut client).await.map_err(db)?;
        let leaves = tx
            .query("SELECT data FROM audit_leaves ORDER BY idx", &[])
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.try_get(0).map_err(db))
            .collect::<Result<Vec<Vec<u8>>, _>>()?;
        let notes = tx
            .query(
                "SELECT note FROM audit_checkpoints ORDER BY size, signer",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.try_get(0).map_err(db))
            .collect::<Result<Vec<String>, _>>()?;
        tx.commit().await.map_err(db)?;
        drop(client);
        Ok((leaves, notes))
    })
}
