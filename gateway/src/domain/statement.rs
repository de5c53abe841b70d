//! The statement an operator signs to approve or reject: an `ApprovalStatement` encoded inside
//! a `SignedEnvelope`. One parser for the bytes, used when a statement arrives and whenever
//! the pipeline re-verifies a stored one: a stored approval counts only for what its signed
//! bytes say, whatever else the database claims about it.

use alloy_primitives::{Address, B256};
use prost::Message;
use signgate_proto::v1 as pb;

use super::records::{ApprovalKind, ProposalId, UnixMillis};
use super::wire;
use crate::error::GatewayError;

/// Longest comment kept.
pub const MAX_COMMENT: usize = 1000;

/// What a signed statement says, every field parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementFields {
    /// The proposal it names.
    pub proposal_id: ProposalId,
    /// The chain it is bound to.
    pub chain_id: u64,
    /// The Safe it is bound to.
    pub safe: Address,
    /// The transaction it is bound to.
    pub safe_tx_hash: B256,
    /// Approve or reject.
    pub kind: ApprovalKind,
    /// When the operator signed it.
    pub issued_at: UnixMillis,
    /// The operator's comment.
    pub comment: String,
}

/// Parses the payload of a statement; `field` is the payload's path in errors
/// (`approval.payload`).
pub fn parse(field: &str, payload: &[u8]) -> Result<StatementFields, GatewayError> {
    let s = pb::ApprovalStatement::decode(payload)
        .map_err(|_| GatewayError::invalid(field, "not an encoded ApprovalStatement"))?;
    let f = |name: &str| format!("{field}.{name}");
    let proposal_id = wire::proposal_id(&f("proposal_id"), &s.proposal_id)?;
    if s.chain_id == 0 {
        return Err(GatewayError::invalid(f("chain_id"), "required"));
    }
    let safe = wire::address(&f("safe"), &s.safe)?;
    let safe_tx_hash = wire::hash(&f("safe_tx_hash"), &s.safe_tx_hash)?;
    let kind = match pb::ApprovalKind::try_from(s.kind) {
        Ok(pb::ApprovalKind::Approve) => ApprovalKind::Approve,
        Ok(pb::ApprovalKind::Reject) => ApprovalKind::Reject,
        _ => {
            return Err(GatewayError::invalid(
                f("kind"),
                "must be APPROVE or REJECT",
            ));
        }
    };
    let issued = s
        .issued_at
        .as_ref()
        .ok_or_else(|| GatewayError::invalid(f("issued_at"), "required"))?;
    let issued_at = wire::unix_millis(&f("issued_at"), issued)?;
    if s.comment.len() > MAX_COMMENT {
        return Err(GatewayError::invalid(
            f("comment"),
            format!("longer than {MAX_COMMENT} bytes"),
        ));
    }
    Ok(StatementFields {
        proposal_id,
        chain_id: s.chain_id,
        safe,
        safe_tx_hash,
        kind,
        issued_at,
        comment: s.comment,
    })
}
