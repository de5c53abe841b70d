//! Column encodings and row decoding: addresses and hashes as lowercase 0x-hex text, uint256
//! as canonical decimal text, times as Unix milliseconds. A row that does not decode is a typed
//! [`StoreError::Corrupt`], never a panic.

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, types::Value};

use crate::store::{ProposalId, ProposalRecord, StoreError, UnixMillis};

/// The proposal columns, in the order [`ProposalRow::read`] expects (a macro, so statements
/// that name them are literals, prepared once per connection and cached).
macro_rules! proposal_columns {
    () => {
        "id, chain_id, safe, nonce, safe_tx_hash, initiator, state, revision, created_at, \
         updated_at, cancel_reason, body"
    };
}
pub(super) use proposal_columns;

/// [`proposal_columns!`] as a value, for statements assembled at run time.
pub(super) const PROPOSAL_COLUMNS: &str = proposal_columns!();

pub(super) use crate::store::columns::{
    chain_col, hex_col, json_col, parse_address, parse_b256, parse_enum, parse_json, parse_key,
    parse_u64, parse_u256,
};

/// Columns as SQLite returns them, converted to a record afterwards so a bad row is a typed
/// error instead of a panic.
pub(super) struct ProposalRow {
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
    /// Text or a compressed blob ([`super::body`]).
    body: Value,
}

impl ProposalRow {
    pub(super) fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
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
            body: r.get(11)?,
        })
    }

    pub(super) fn into_record(self) -> Result<ProposalRecord, StoreError> {
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
            body: parse_json(
                "proposal body",
                super::body::decode((&self.body).into())?.as_deref(),
            )?,
        })
    }
}

pub(super) fn load(c: &Connection, id: &ProposalId) -> Result<Option<ProposalRecord>, StoreError> {
    c.prepare_cached(concat!(
        "SELECT ",
        proposal_columns!(),
        " FROM proposals WHERE id = ?1"
    ))?
    .query_row([id.as_str()], ProposalRow::read)
    .optional()?
    .map(ProposalRow::into_record)
    .transpose()
}

pub(super) fn load_required(c: &Connection, id: &ProposalId) -> Result<ProposalRecord, StoreError> {
    load(c, id)?.ok_or_else(|| StoreError::NotFound { id: id.clone() })
}

/// Whether `e` is a constraint violation (a unique or primary key clash).
pub(super) fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}
