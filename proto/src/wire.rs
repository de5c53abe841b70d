//! The text forms of values inside `signgate.v1` messages — 0x-hex addresses and hashes,
//! decimal uint256, protobuf instants, proposal ids and Safe transactions — one parser and one
//! printer of each. The gateway parses requests and stored statements with them, the signer
//! parses release tickets with them, so no two parties can read the same message differently.
//!
//! A failure names its field ([`FieldError`]), so a client can point at it.

use std::str::FromStr;

use alloy_primitives::{Address, B256, Bytes, U256};
use prost_types::Timestamp;
use signgate_simulator::{Operation, SafeTx};

use crate::v1 as pb;

/// A field that is missing or malformed, with its path in the message
/// (`submission.payload.safe`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct FieldError {
    /// The field's path.
    pub field: String,
    /// What is wrong, in words for the client.
    pub reason: String,
}

impl FieldError {
    /// `field` is wrong for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Longest proposal id accepted (derived ids are 26 characters).
const MAX_ID_LEN: usize = 64;

/// A proposal id from a request: ASCII letters, digits and `-`, at most 64 characters.
pub fn proposal_id(field: &str, id: &str) -> Result<String, FieldError> {
    if id.is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    if id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(FieldError::new(field, "not a proposal id"));
    }
    Ok(id.to_owned())
}

/// A 20-byte address written as 0x-hex (any case).
pub fn address(field: &str, s: &str) -> Result<Address, FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| FieldError::new(field, "must start with 0x"))?;
    if hex.len() != 40 {
        return Err(FieldError::new(field, "must be 20 bytes (40 hex digits)"));
    }
    Address::from_str(s).map_err(|_| FieldError::new(field, "not a hex address"))
}

/// An optional address: empty means the zero address.
pub fn address_or_zero(field: &str, s: &str) -> Result<Address, FieldError> {
    if s.is_empty() {
        Ok(Address::ZERO)
    } else {
        address(field, s)
    }
}

/// A 32-byte hash written as 0x-hex.
pub fn hash(field: &str, s: &str) -> Result<B256, FieldError> {
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| FieldError::new(field, "must start with 0x"))?;
    if hex.len() != 64 {
        return Err(FieldError::new(field, "must be 32 bytes (64 hex digits)"));
    }
    B256::from_str(s).map_err(|_| FieldError::new(field, "not a hex hash"))
}

/// A uint256 written in decimal; empty means 0 unless `required`.
pub fn decimal(field: &str, s: &str, required: bool) -> Result<U256, FieldError> {
    if s.is_empty() {
        return if required {
            Err(FieldError::new(field, "required"))
        } else {
            Ok(U256::ZERO)
        };
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 78 {
        return Err(FieldError::new(
            field,
            "must be a decimal number below 2^256",
        ));
    }
    U256::from_str_radix(s, 10).map_err(|_| FieldError::new(field, "does not fit in uint256"))
}

/// Milliseconds since the epoch as a protobuf timestamp.
pub fn timestamp(unix_millis: i64) -> Timestamp {
    Timestamp {
        seconds: unix_millis.div_euclid(1000),
        nanos: i32::try_from(unix_millis.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

/// A protobuf timestamp as milliseconds since the epoch.
pub fn unix_millis(field: &str, t: &Timestamp) -> Result<i64, FieldError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(FieldError::new(field, "nanos out of range"));
    }
    t.seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(t.nanos / 1_000_000)))
        .ok_or_else(|| FieldError::new(field, "out of range"))
}

/// The Safe transaction of a request; `prefix` is the field path of the message.
pub fn safe_tx(
    prefix: &str,
    tx: &pb::SafeTransaction,
    max_calldata: usize,
) -> Result<SafeTx, FieldError> {
    let f = |name: &str| format!("{prefix}.{name}");
    if tx.data.len() > max_calldata {
        return Err(FieldError::new(
            f("data"),
            format!(
                "{} bytes of calldata exceed the limit of {max_calldata}",
                tx.data.len()
            ),
        ));
    }
    let operation = u8::try_from(tx.operation)
        .ok()
        .and_then(|op| Operation::from_u8(op).ok())
        .ok_or_else(|| FieldError::new(f("operation"), "must be 0 (CALL) or 1 (DELEGATECALL)"))?;
    Ok(SafeTx {
        to: address(&f("to"), &tx.to)?,
        value: decimal(&f("value"), &tx.value, false)?,
        data: Bytes::copy_from_slice(&tx.data),
        operation,
        safe_tx_gas: decimal(&f("safe_tx_gas"), &tx.safe_tx_gas, false)?,
        base_gas: decimal(&f("base_gas"), &tx.base_gas, false)?,
        gas_price: decimal(&f("gas_price"), &tx.gas_price, false)?,
        gas_token: address_or_zero(&f("gas_token"), &tx.gas_token)?,
        refund_receiver: address_or_zero(&f("refund_receiver"), &tx.refund_receiver)?,
        nonce: decimal(&f("nonce"), &tx.nonce, true)?,
    })
}

/// The proto form of a Safe transaction (checksummed addresses, decimal numbers).
pub fn safe_tx_to_proto(tx: &SafeTx) -> pb::SafeTransaction {
    pb::SafeTransaction {
        to: tx.to.to_checksum(None),
        value: tx.value.to_string(),
        data: tx.data.to_vec(),
        operation: u32::from(tx.operation.as_u8()),
        safe_tx_gas: tx.safe_tx_gas.to_string(),
        base_gas: tx.base_gas.to_string(),
        gas_price: tx.gas_price.to_string(),
        gas_token: tx.gas_token.to_checksum(None),
        refund_receiver: tx.refund_receiver.to_checksum(None),
        nonce: tx.nonce.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for ms in [0, 1, 999, 1_700_000_000_123, -1] {
            assert_eq!(unix_millis("t", &timestamp(ms)).unwrap(), ms);
        }
    }

    #[test]
    fn field_errors_name_the_field() {
        let tx = pb::SafeTransaction {
            to: "0x12".into(),
            nonce: "1".into(),
            ..Default::default()
        };
        let err = safe_tx("submission.transaction", &tx, 10).unwrap_err();
        assert_eq!(err.field, "submission.transaction.to");
        let tx = pb::SafeTransaction {
            to: format!("0x{}", "ab".repeat(20)),
            nonce: "-1".into(),
            ..Default::default()
        };
        assert_eq!(safe_tx("t", &tx, 10).unwrap_err().field, "t.nonce");
        let tx = pb::SafeTransaction {
            to: format!("0x{}", "ab".repeat(20)),
            nonce: "1".into(),
            data: vec![0; 11],
            ..Default::default()
        };
        assert_eq!(safe_tx("t", &tx, 10).unwrap_err().field, "t.data");
    }

    #[test]
    fn safe_tx_round_trips() {
        let tx = SafeTx::call(
            Address::repeat_byte(0xab),
            U256::from(5),
            Bytes::from(vec![1, 2]),
            U256::from(9),
        );
        assert_eq!(safe_tx("t", &safe_tx_to_proto(&tx), 10).unwrap(), tx);
    }
}
