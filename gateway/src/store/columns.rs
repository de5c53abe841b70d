//! Column encodings both backends share: addresses and hashes as lowercase 0x-hex text,
//! uint256 as canonical decimal text (equality and uniqueness exact, no float), times as Unix
//! milliseconds, typed records as JSON. A value that does not decode is a typed
//! [`StoreError::Corrupt`], never a panic.

use std::str::FromStr;

use alloy_primitives::{Address, B256, U256};

use crate::store::StoreError;

pub(crate) fn chain_col(chain_id: u64) -> Result<i64, StoreError> {
    i64::try_from(chain_id).map_err(|_| StoreError::OutOfRange { column: "chain_id" })
}

pub(crate) fn hex_col(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub(crate) fn parse_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(what, &v.to_string()))
}

pub(crate) fn parse_address(v: &str) -> Result<Address, StoreError> {
    Address::from_str(v).map_err(|_| corrupt("address", v))
}

pub(crate) fn parse_b256(v: &str) -> Result<B256, StoreError> {
    B256::from_str(v).map_err(|_| corrupt("hash", v))
}

pub(crate) fn parse_u256(v: &str) -> Result<U256, StoreError> {
    U256::from_str_radix(v, 10).map_err(|_| corrupt("decimal", v))
}

pub(crate) fn parse_key(v: &str) -> Result<[u8; 32], StoreError> {
    let raw = hex::decode(v.trim_start_matches("0x")).map_err(|_| corrupt("public key", v))?;
    raw.try_into().map_err(|_| corrupt("public key", v))
}

/// A typed record kept as JSON; a missing or unreadable one is corrupt.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    v: Option<&str>,
) -> Result<T, StoreError> {
    let text = v.ok_or_else(|| StoreError::Corrupt(format!("{what} missing")))?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A typed record as stored.
pub(crate) fn json_col<T: serde::Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("{what} not serialisable: {e}")))
}

pub(crate) fn parse_enum<T: FromStr<Err = String>>(v: &str) -> Result<T, StoreError> {
    v.parse().map_err(StoreError::Corrupt)
}

/// An approval's decision-changing anomaly alerts, as the `alerts` column keeps them.
pub(crate) fn alerts_json(
    alerts: &[signgate_policy::anomaly::ProposalAlert],
) -> Result<String, StoreError> {
    json_col("approval alerts", &alerts)
}

/// The `alerts` column back; unreadable is corrupt, never "no alerts".
pub(crate) fn parse_alerts(
    v: &str,
) -> Result<Vec<signgate_policy::anomaly::ProposalAlert>, StoreError> {
    parse_json("approval alerts", Some(v))
}
