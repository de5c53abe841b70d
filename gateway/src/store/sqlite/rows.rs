//! Column encodings and row decoding: addresses and hashes as lowercase 0x-hex text, uint256
//! as canonical decimal text, times as Unix milliseconds. A row that does not decode is a typed
//! [`StoreError::Corrupt`], never a panic.

use std::str::FromStr;

use alloy_primitives::{Address, B256, U256};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row};

use crate::store::{ProposalId, ProposalRecord, StoreError, UnixMillis};

/// The proposal columns, in the order [`ProposalRow::read`] expects.
pub(super) const PROPOSAL_COLUMNS: &str = "id, chain_id, safe, nonce, safe_tx_hash, initiator, state, \
                                revision, created_at, updated_at, cancel_reason, body";

pub(super) fn chain_col(chain_id: u64) -> Result<i64, StoreError> {
    i64::try_from(chain_id).map_err(|_| StoreError::OutOfRange { column: "chain_id" })
}

pub(super) fn hex_col(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub(super) fn parse_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(what, &v.to_string()))
}

pub(super) fn parse_address(v: &str) -> Result<Address, StoreError> {
    Address::from_str(v).map_err(|_| corrupt("address", v))
}

pub(super) fn parse_b256(v: &str) -> Result<B256, StoreError> {
    B256::from_str(v).map_err(|_| corrupt("hash", v))
}

pub(super) fn parse_u256(v: &str) -> Result<U256, StoreError> {
    U256::from_str_radix(v, 10).map_err(|_| corrupt("decimal", v))
}

pub(super) fn parse_key(v: &str) -> Result<[u8; 32], StoreError> {
    let raw = hex::decode(v.trim_start_matches("0x")).map_err(|_| corrupt("public key", v))?;
    raw.try_into().map_err(|_| corrupt("public key", v))
}

/// A typed record kept as JSON; a missing or unreadable one is corrupt.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    v: Option<&str>,
) -> Result<T, StoreError> {
    let text = v.ok_or_else(|| StoreError::Corrupt(format!("{what} missing")))?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A typed record as stored.
pub(super) fn json_col<T: serde::Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("{what} not serialisable: {e}")))
}

pub(super) fn parse_enum<T: FromStr<Err = String>>(v: &str) -> Result<T, StoreError> {
    v.parse().map_err(StoreError::Corrupt)
}

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
    body: Option<String>,
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
            body: parse_json("proposal body", self.body.as_deref())?,
        })
    }
}

pub(super) fn load(c: &Connection, id: &ProposalId) -> Result<Option<ProposalRecord>, StoreError> {
    c.query_row(
        &format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = ?1"),
        [id.as_str()],
        ProposalRow::read,
    )
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
