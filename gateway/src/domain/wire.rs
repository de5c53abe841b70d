//! The wire forms of values inside requests, signed statements and rows of schema 2 — 0x-hex
//! addresses and hashes, decimal uint256, proposal ids, protobuf instants and Safe transactions
//! — one parser of each. Every failure is `INVALID_ARGUMENT` naming the field, so a client can
//! point at it.
//!
//! The `api` layer parses requests with these; the pipeline parses stored statements and the
//! store upgrades old rows with the same functions, so no two places can read the same bytes
//! differently.

use std::str::FromStr;

use alloy_primitives::{Address, B256, Bytes, U256};
use signgate_proto::{prost_types::Timestamp, v1 as pb};
use signgate_simulator::{Operation, SafeTx};

use super::{
    DeclaredIntent, IntentAsset,
    records::{ProposalId, UnixMillis},
};
use crate::error::GatewayError;

/// Longest free text kept (a declared intent's description).
const MAX_TEXT: usize = 1000;

/// Longest proposal id accepted (derived ids are 26 characters).
const MAX_ID_LEN: usize = 64;

/// A proposal id from a request.
pub fn proposal_id(field: &str, id: &str) -> Result<ProposalId, GatewayError> {
    if id.is_empty() {
        return Err(GatewayError::invalid(field, "required"));
    }
    if id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(GatewayError::invalid(field, "not a proposal id"));
    }
    Ok(ProposalId::new(id))
}

/// A 20-byte address written as 0x-hex (any case).
pub fn address(field: &str, s: &str) -> Result<Address, GatewayError> {
    if s.is_empty() {
        return Err(GatewayError::invalid(field, "required"));
    }
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| GatewayError::invalid(field, "must start with 0x"))?;
    if hex.len() != 40 {
        return Err(GatewayError::invalid(
            field,
            "must be 20 bytes (40 hex digits)",
        ));
    }
    Address::from_str(s).map_err(|_| GatewayError::invalid(field, "not a hex address"))
}

/// An optional address: empty means the zero address.
pub fn address_or_zero(field: &str, s: &str) -> Result<Address, GatewayError> {
    if s.is_empty() {
        Ok(Address::ZERO)
    } else {
        address(field, s)
    }
}

/// A 32-byte hash written as 0x-hex.
pub fn hash(field: &str, s: &str) -> Result<B256, GatewayError> {
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| GatewayError::invalid(field, "must start with 0x"))?;
    if hex.len() != 64 {
        return Err(GatewayError::invalid(
            field,
            "must be 32 bytes (64 hex digits)",
        ));
    }
    B256::from_str(s).map_err(|_| GatewayError::invalid(field, "not a hex hash"))
}

/// A uint256 written in decimal; empty means 0 unless `required`.
pub fn decimal(field: &str, s: &str, required: bool) -> Result<U256, GatewayError> {
    if s.is_empty() {
        return if required {
            Err(GatewayError::invalid(field, "required"))
        } else {
            Ok(U256::ZERO)
        };
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 78 {
        return Err(GatewayError::invalid(
            field,
            "must be a decimal number below 2^256",
        ));
    }
    U256::from_str_radix(s, 10).map_err(|_| GatewayError::invalid(field, "does not fit in uint256"))
}

/// Milliseconds since the epoch as a protobuf timestamp.
pub fn timestamp(t: UnixMillis) -> Timestamp {
    Timestamp {
        seconds: t.0.div_euclid(1000),
        nanos: i32::try_from(t.0.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

/// A protobuf timestamp as milliseconds since the epoch.
pub fn unix_millis(field: &str, t: &Timestamp) -> Result<UnixMillis, GatewayError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(GatewayError::invalid(field, "nanos out of range"));
    }
    t.seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(t.nanos / 1_000_000)))
        .map(UnixMillis)
        .ok_or_else(|| GatewayError::invalid(field, "out of range"))
}

/// The Safe transaction of a request; `prefix` is the field path of the message.
pub fn safe_tx(
    prefix: &str,
    tx: &pb::SafeTransaction,
    max_calldata: usize,
) -> Result<SafeTx, GatewayError> {
    let f = |name: &str| format!("{prefix}.{name}");
    if tx.data.len() > max_calldata {
        return Err(GatewayError::invalid(
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
        .ok_or_else(|| {
            GatewayError::invalid(f("operation"), "must be 0 (CALL) or 1 (DELEGATECALL)")
        })?;
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

/// The declared intent of a submission, every given field parsed.
pub fn intent(prefix: &str, d: &pb::DeclaredIntent) -> Result<DeclaredIntent, GatewayError> {
    let f = |name: &str| format!("{prefix}.{name}");
    if d.description.len() > MAX_TEXT {
        return Err(GatewayError::invalid(
            f("description"),
            format!("longer than {MAX_TEXT} bytes"),
        ));
    }
    let asset = match d.asset.as_str() {
        "" => None,
        "native" | "ETH" | "eth" => Some(IntentAsset::Native),
        other => Some(IntentAsset::Token(address(&f("asset"), other)?)),
    };
    Ok(DeclaredIntent {
        description: d.description.clone(),
        recipient: (!d.recipient.is_empty())
            .then(|| address(&f("recipient"), &d.recipient))
            .transpose()?,
        asset,
        amount: (!d.amount.is_empty())
            .then(|| decimal(&f("amount"), &d.amount, true))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for ms in [0, 1, 999, 1_700_000_000_123, -1] {
            assert_eq!(
                unix_millis("t", &timestamp(UnixMillis(ms))).unwrap(),
                UnixMillis(ms)
            );
        }
    }
}
