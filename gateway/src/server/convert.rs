//! proto ↔ domain conversion for the parts of the API that only need the store: parsing request
//! fields into typed values (each failure names its field) and assembling a `Proposal` view
//! from stored records.

use std::str::FromStr;

use alloy_primitives::{Address, B256, Bytes, U256};
use prost::Message;
use signgate_proto::{prost_types::Timestamp, v1 as pb};
use signgate_simulator::{Operation, SafeTx};

use super::GatewayError;
use crate::store::{
    ApprovalKind, ApprovalRecord, ProposalId, ProposalRecord, ProposalState, StoredProposal,
    UnixMillis,
};

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

/// The proto enum of a stored state.
pub fn state_to_proto(s: ProposalState) -> pb::ProposalState {
    match s {
        ProposalState::NeedsApprovals => pb::ProposalState::NeedsApprovals,
        ProposalState::Approved => pb::ProposalState::Approved,
        ProposalState::Denied => pb::ProposalState::Denied,
        ProposalState::Rejected => pb::ProposalState::Rejected,
        ProposalState::Cancelled => pb::ProposalState::Cancelled,
        ProposalState::Released => pb::ProposalState::Released,
        ProposalState::Expired => pb::ProposalState::Expired,
    }
}

/// A state filter value from a request.
pub fn state_from_proto(field: &str, v: i32) -> Result<ProposalState, GatewayError> {
    let s = pb::ProposalState::try_from(v)
        .map_err(|_| GatewayError::invalid(field, format!("unknown state {v}")))?;
    Ok(match s {
        pb::ProposalState::Unspecified => {
            return Err(GatewayError::invalid(
                field,
                "PROPOSAL_STATE_UNSPECIFIED is not a state",
            ));
        }
        pb::ProposalState::NeedsApprovals => ProposalState::NeedsApprovals,
        pb::ProposalState::Approved => ProposalState::Approved,
        pb::ProposalState::Denied => ProposalState::Denied,
        pb::ProposalState::Rejected => ProposalState::Rejected,
        pb::ProposalState::Cancelled => ProposalState::Cancelled,
        pb::ProposalState::Released => ProposalState::Released,
        pb::ProposalState::Expired => ProposalState::Expired,
    })
}

/// A listing entry.
pub fn summary(r: &ProposalRecord) -> pb::ProposalSummary {
    pb::ProposalSummary {
        id: r.id.to_string(),
        state: state_to_proto(r.state).into(),
        chain_id: r.chain_id,
        safe: r.safe.to_checksum(None),
        nonce: r.nonce.to_string(),
        safe_tx_hash: format!("{:#x}", r.safe_tx_hash),
        created_at: Some(timestamp(r.created_at)),
        updated_at: Some(timestamp(r.updated_at)),
        revision: r.revision,
    }
}

fn approval_view(a: &ApprovalRecord, decision: Option<&pb::Decision>) -> pb::ApprovalView {
    let key = hex::encode(a.public_key);
    let count = decision.and_then(|d| d.approval_counts.iter().find(|c| c.public_key == key));
    pb::ApprovalView {
        operator: a.operator.clone(),
        public_key: key.clone(),
        kind: match a.kind {
            ApprovalKind::Approve => pb::ApprovalKind::Approve,
            ApprovalKind::Reject => pb::ApprovalKind::Reject,
        }
        .into(),
        received_at: Some(timestamp(a.received_at)),
        counted: count.is_some_and(|c| c.counted),
        not_counted: count.and_then(|c| c.not_counted.clone()),
        comment: a.comment.clone(),
    }
}

/// The full view of a stored proposal: the analysis as stored at submission, overlaid with the
/// current state, the latest decision and the approvals (counted as that decision counted them).
pub fn proposal_view(stored: &StoredProposal) -> Result<pb::Proposal, GatewayError> {
    let r = &stored.record;
    let mut view = pb::Proposal::decode(r.view.as_slice())
        .map_err(|e| GatewayError::Internal(format!("stored view of {}: {e}", r.id)))?;
    let decision = stored
        .decision
        .as_ref()
        .map(|d| pb::Decision::decode(d.detail.as_slice()))
        .transpose()
        .map_err(|e| GatewayError::Internal(format!("stored decision of {}: {e}", r.id)))?;
    view.id = r.id.to_string();
    view.state = state_to_proto(r.state).into();
    view.revision = r.revision;
    view.chain_id = r.chain_id;
    view.safe = r.safe.to_checksum(None);
    view.initiator = r.initiator.clone();
    view.created_at = Some(timestamp(r.created_at));
    view.updated_at = Some(timestamp(r.updated_at));
    view.cancel_reason = r.cancel_reason.clone().unwrap_or_default();
    view.approvals = stored
        .approvals
        .iter()
        .map(|a| approval_view(a, decision.as_ref()))
        .collect();
    view.decision = decision;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field() {
        let tx = pb::SafeTransaction {
            to: "0x12".into(),
            nonce: "1".into(),
            ..Default::default()
        };
        let err = safe_tx("submission.transaction", &tx, 10).unwrap_err();
        assert!(
            err.to_string().contains("submission.transaction.to"),
            "{err}"
        );
        let tx = pb::SafeTransaction {
            to: format!("0x{}", "ab".repeat(20)),
            nonce: "-1".into(),
            ..Default::default()
        };
        let err = safe_tx("t", &tx, 10).unwrap_err();
        assert!(err.to_string().contains("t.nonce"), "{err}");
        let tx = pb::SafeTransaction {
            to: format!("0x{}", "ab".repeat(20)),
            nonce: "1".into(),
            data: vec![0; 11],
            ..Default::default()
        };
        assert!(
            safe_tx("t", &tx, 10)
                .unwrap_err()
                .to_string()
                .contains("t.data")
        );
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
