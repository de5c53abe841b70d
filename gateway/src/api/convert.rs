//! proto ↔ domain conversion of values: Safe transactions, proposal states and listing
//! entries. The text forms inside them (addresses, hashes, amounts, instants) are parsed by
//! [`crate::domain::wire`], the one parser of each.

use signgate_proto::v1 as pb;

pub use crate::domain::wire::{
    address, address_or_zero, decimal, hash, intent, proposal_id, safe_tx, safe_tx_to_proto,
    timestamp, unix_millis,
};
use crate::{
    error::GatewayError,
    store::{ProposalRecord, ProposalState},
};

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
