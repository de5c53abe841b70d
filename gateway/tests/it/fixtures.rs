//! Shared builders for test proposals and decisions.

use alloy_primitives::{Address, B256, Bytes, U256};
use signgate_gateway::{
    domain::{DecisionDetail, ProposalAnalysis, ProposalBody},
    store::{NewDecision, NewProposal, Outcome, ProposalId, ProposalState, UnixMillis},
};
use signgate_simulator::{SafeTx, SafeVersion};

pub const CHAIN: u64 = 1;

pub fn safe() -> Address {
    Address::repeat_byte(0x5a)
}

/// A proposal for `nonce` whose safeTxHash is made from `tag`.
pub fn proposal(nonce: u64, tag: u8, created_at: i64, state: ProposalState) -> NewProposal {
    let safe_tx_hash = B256::repeat_byte(tag);
    NewProposal {
        id: ProposalId::derive(CHAIN, safe(), safe_tx_hash),
        chain_id: CHAIN,
        safe: safe(),
        nonce: U256::from(nonce),
        safe_tx_hash,
        initiator: "alice".into(),
        state,
        created_at: UnixMillis(created_at),
        body: body(nonce, tag),
    }
}

/// A body for a proposal of `nonce`; its analysis is opaque bytes made from `tag` (the store
/// keeps whatever it is given).
pub fn body(nonce: u64, tag: u8) -> ProposalBody {
    ProposalBody {
        version: SafeVersion::V1_4_1,
        tx: SafeTx::call(
            Address::repeat_byte(0x77),
            U256::from(1),
            Bytes::new(),
            U256::from(nonce),
        ),
        intent: None,
        supplied: Vec::new(),
        analysis: ProposalAnalysis::Legacy(vec![tag; 8]),
        alerts: Vec::new(),
    }
}

pub fn decision(outcome: Outcome, at: i64) -> NewDecision {
    NewDecision {
        outcome,
        policy_hash: "0xpolicy".into(),
        decided_at: UnixMillis(at),
        detail: DecisionDetail::Legacy(outcome.as_str().as_bytes().to_vec()),
    }
}
