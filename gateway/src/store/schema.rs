//! Versioned schema migrations in portable SQL.
//!
//! Only types both SQLite and PostgreSQL understand are used: `TEXT`, `BIGINT` and a byte type
//! substituted per dialect (`BLOB` / `BYTEA`). Addresses and hashes are lowercase 0x-hex text,
//! uint256 values are canonical decimal text (so equality and uniqueness are exact), times are
//! Unix milliseconds. Applied versions are recorded in `schema_migrations`, itself portable.

/// The SQL dialect a migration is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded store.
    Sqlite,
    /// A shared store for several gateway replicas.
    Postgres,
}

impl Dialect {
    const fn bytes_type(self) -> &'static str {
        match self {
            Self::Sqlite => "BLOB",
            Self::Postgres => "BYTEA",
        }
    }
}

/// One migration: a version number and statements with `{bytes}` for the byte type.
#[derive(Debug)]
pub struct Migration {
    /// Applied in increasing order, once.
    pub version: i64,
    /// Statements separated by `;`.
    pub sql: &'static str,
    /// Whether the statements rebuild a table other tables reference, which SQLite allows only
    /// with foreign key enforcement off for the migration (its documented table-rebuild
    /// procedure); the references are checked again before it commits.
    pub rebuilds_referenced_table: bool,
    /// PostgreSQL's own statements where the portable ones cannot serve it (PostgreSQL drops
    /// a constraint in place, where SQLite must rebuild the table, which PostgreSQL refuses while
    /// other tables reference it).
    pub postgres: Option<&'static str>,
}

impl Migration {
    /// The statements for `dialect`.
    pub fn render(&self, dialect: Dialect) -> String {
        let sql = match (dialect, self.postgres) {
            (Dialect::Postgres, Some(own)) => own,
            _ => self.sql,
        };
        sql.replace("{bytes}", dialect.bytes_type())
    }
}

/// Creates `schema_migrations`; run before any migration.
pub const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL
)";

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        rebuilds_referenced_table: false,
        postgres: None,
        sql: "
CREATE TABLE proposals (
    id TEXT PRIMARY KEY,
    chain_id BIGINT NOT NULL,
    safe TEXT NOT NULL,
    nonce TEXT NOT NULL,
    safe_tx_hash TEXT NOT NULL,
    initiator TEXT NOT NULL,
    state TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cancel_reason TEXT,
    view {bytes} NOT NULL,
    UNIQUE (chain_id, safe, safe_tx_hash)
);
CREATE INDEX proposals_by_created ON proposals (created_at, id);
CREATE INDEX proposals_by_safe ON proposals (chain_id, safe, created_at);
CREATE INDEX proposals_by_nonce ON proposals (chain_id, safe, nonce);

CREATE TABLE decisions (
    proposal_id TEXT NOT NULL REFERENCES proposals (id),
    seq BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    detail {bytes} NOT NULL,
    PRIMARY KEY (proposal_id, seq)
);

CREATE TABLE approvals (
    proposal_id TEXT NOT NULL REFERENCES proposals (id),
    public_key TEXT NOT NULL,
    operator TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload {bytes} NOT NULL,
    signature {bytes} NOT NULL,
    comment TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, public_key)
);

CREATE TABLE nonce_reservations (
    chain_id BIGINT NOT NULL,
    safe TEXT NOT NULL,
    nonce TEXT NOT NULL,
    safe_tx_hash TEXT NOT NULL,
    proposal_id TEXT NOT NULL REFERENCES proposals (id),
    reserved_at BIGINT NOT NULL,
    PRIMARY KEY (chain_id, safe, nonce),
    UNIQUE (proposal_id)
);

CREATE TABLE velocity_totals (
    chain_id BIGINT NOT NULL,
    safe TEXT NOT NULL,
    asset TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (chain_id, safe, asset, window_start)
);

CREATE TABLE address_book (
    chain_id BIGINT NOT NULL,
    address TEXT NOT NULL,
    label TEXT NOT NULL,
    category TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (chain_id, address)
)
",
    },
    // Rolling velocity windows: each release's outflow per limited asset becomes one event, so
    // a window is the sum of the events inside it, wherever "now" falls. The grid totals of
    // version 1 do not say when inside their window (or for which window length) the amounts
    // were released, so each is carried forward dated at the latest nonce reservation of its
    // Safe at or after its window start: no later than any release it contains could have
    // happened, never earlier. That can only over-count for one window after the upgrade (a
    // release counted once per grid row it was added to, old rows kept a little longer), which
    // denies more, never less.
    Migration {
        version: 2,
        rebuilds_referenced_table: false,
        postgres: None,
        sql: "
CREATE TABLE velocity_events (
    chain_id BIGINT NOT NULL,
    safe TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount TEXT NOT NULL,
    released_at BIGINT NOT NULL,
    proposal_id TEXT REFERENCES proposals (id),
    UNIQUE (proposal_id, asset)
);
CREATE INDEX velocity_events_by_window ON velocity_events (chain_id, safe, asset, released_at);

INSERT INTO velocity_events (chain_id, safe, asset, amount, released_at, proposal_id)
SELECT v.chain_id, v.safe, v.asset, v.amount,
    COALESCE(
        (SELECT MAX(r.reserved_at) FROM nonce_reservations r
         WHERE r.chain_id = v.chain_id AND r.safe = v.safe AND r.reserved_at >= v.window_start),
        v.window_start
    ),
    NULL
FROM velocity_totals v;

DROP TABLE velocity_totals
",
    },
    // Typed records: a proposal's body (transaction, Safe version, intent, the analysis at
    // submission) and each decision's detail are JSON of the domain types, no longer encoded API
    // views. The old byte columns stay (empty for new rows); the store converts every row they
    // hold in the same transaction that applies this version (`sqlite::upgrade`).
    Migration {
        version: 3,
        rebuilds_referenced_table: false,
        postgres: None,
        sql: "
ALTER TABLE proposals ADD COLUMN body TEXT;
ALTER TABLE decisions ADD COLUMN body TEXT
",
    },
    // A cancelled transaction can be proposed again, as a new proposal with an id of its own:
    // one transaction may have several proposals, of which at most one is not cancelled. The
    // table-level UNIQUE of version 1 becomes a partial unique index (SQLite cannot drop a
    // constraint, so the table is rebuilt; rows and ids are copied unchanged).
    Migration {
        version: 4,
        rebuilds_referenced_table: true,
        postgres: Some(
            "
ALTER TABLE proposals DROP CONSTRAINT proposals_chain_id_safe_safe_tx_hash_key;
CREATE UNIQUE INDEX proposals_one_open_per_tx ON proposals (chain_id, safe, safe_tx_hash)
    WHERE state <> 'cancelled'
",
        ),
        sql: "
CREATE TABLE proposals_v4 (
    id TEXT PRIMARY KEY,
    chain_id BIGINT NOT NULL,
    safe TEXT NOT NULL,
    nonce TEXT NOT NULL,
    safe_tx_hash TEXT NOT NULL,
    initiator TEXT NOT NULL,
    state TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cancel_reason TEXT,
    view {bytes} NOT NULL,
    body TEXT
);
INSERT INTO proposals_v4 (id, chain_id, safe, nonce, safe_tx_hash, initiator, state, revision,
    created_at, updated_at, cancel_reason, view, body)
SELECT id, chain_id, safe, nonce, safe_tx_hash, initiator, state, revision,
    created_at, updated_at, cancel_reason, view, body
FROM proposals;
DROP TABLE proposals;
ALTER TABLE proposals_v4 RENAME TO proposals;
CREATE INDEX proposals_by_created ON proposals (created_at, id);
CREATE INDEX proposals_by_safe ON proposals (chain_id, safe, created_at);
CREATE INDEX proposals_by_nonce ON proposals (chain_id, safe, nonce);
CREATE UNIQUE INDEX proposals_one_open_per_tx ON proposals (chain_id, safe, safe_tx_hash)
    WHERE state <> 'cancelled'
",
    },
    // A release counts what leaves every governed Safe it reaches in that Safe's own windows:
    // one proposal may hold one event per (Safe, asset), no longer one per asset. The table is
    // rebuilt for the wider unique key (no table references it).
    Migration {
        version: 5,
        rebuilds_referenced_table: false,
        postgres: None,
        sql: "
CREATE TABLE velocity_events_v5 (
    chain_id BIGINT NOT NULL,
    safe TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount TEXT NOT NULL,
    released_at BIGINT NOT NULL,
    proposal_id TEXT REFERENCES proposals (id),
    UNIQUE (proposal_id, safe, asset)
);
INSERT INTO velocity_events_v5 (chain_id, safe, asset, amount, released_at, proposal_id)
SELECT chain_id, safe, asset, amount, released_at, proposal_id FROM velocity_events;
DROP TABLE velocity_events;
ALTER TABLE velocity_events_v5 RENAME TO velocity_events;
CREATE INDEX velocity_events_by_window ON velocity_events (chain_id, safe, asset, released_at)
",
    },
    // Anomaly profiles (issue 18): one row per subject, its profile as JSON, and a revision
    // that every write checks and increments (see `store::profiles`).
    Migration {
        version: 6,
        rebuilds_referenced_table: false,
        postgres: None,
        sql: "
CREATE TABLE anomaly_profiles (
    subject TEXT PRIMARY KEY,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
)
",
    },
    // Anomaly alerts that change decisions (issue 18): those an approval's call raised, kept
    // with the approval as JSON (`[]` for none, and for every approval stored before).
    Migration {
        version: 7,
        rebuilds_referenced_table: false,
        postgres: None,
        sql: "ALTER TABLE approvals ADD COLUMN alerts TEXT NOT NULL DEFAULT '[]'",
    },
    // A security key's approvals by its key id (issue 19): every approval it signs is checked
    // against the counters of all it signed before, on any proposal.
    Migration {
        version: 8,
        rebuilds_referenced_table: false,
        postgres: None,
        sql: "CREATE INDEX approvals_by_key ON approvals (public_key)",
    },
];

/// The version whose rows the store converts itself after applying it: rows written before
/// keep their analysis as an encoded `signgate.v1.Proposal` / `Decision`.
pub const TYPED_RECORDS: i64 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_render_has_no_placeholders() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last);
            last = m.version;
            for d in [Dialect::Sqlite, Dialect::Postgres] {
                assert!(!m.render(d).contains('{'));
            }
            // SQLite-only spellings would break the PostgreSQL backend.
            for banned in [
                "AUTOINCREMENT",
                "WITHOUT ROWID",
                "INTEGER PRIMARY KEY",
                "STRICT",
            ] {
                assert!(!m.sql.contains(banned), "{banned}");
            }
        }
    }
}
