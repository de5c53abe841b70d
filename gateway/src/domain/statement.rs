//! The statements an operator signs about one proposal: an `ApprovalStatement` (approve or
//! reject) or a `CancelStatement`, each encoded inside a `SignedEnvelope` under a context of
//! its own. One parser per message, used when a statement arrives and whenever the pipeline
//! re-verifies a stored one: a stored approval counts only for what its signed bytes say,
//! whatever else the database claims about it.

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
    let Binding {
        proposal_id,
        chain_id,
        safe,
        safe_tx_hash,
        issued_at,
    } = binding(
        field,
        &s.proposal_id,
        s.chain_id,
        &s.safe,
        &s.safe_tx_hash,
        s.issued_at.as_ref(),
    )?;
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
    bounded(&f("comment"), &s.comment)?;
    Ok(StatementFields {
        proposal_id,
        chain_id,
        safe,
        safe_tx_hash,
        kind,
        issued_at,
        comment: s.comment,
    })
}

/// What a `CancelStatement` says, every field parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelFields {
    /// The proposal, chain, Safe and transaction it withdraws.
    pub binding: Binding,
    /// Why, in the operator's words.
    pub reason: String,
}

/// What binds a statement to one proposal of one exact transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The proposal it names.
    pub proposal_id: ProposalId,
    /// The chain it is bound to.
    pub chain_id: u64,
    /// The Safe it is bound to.
    pub safe: Address,
    /// The transaction it is bound to.
    pub safe_tx_hash: B256,
    /// When the operator signed it.
    pub issued_at: UnixMillis,
}

/// Parses the payload of a `CancelStatement`; `field` is the payload's path in errors.
pub fn parse_cancel(field: &str, payload: &[u8]) -> Result<CancelFields, GatewayError> {
    let s = pb::CancelStatement::decode(payload)
        .map_err(|_| GatewayError::invalid(field, "not an encoded CancelStatement"))?;
    let binding = binding(
        field,
        &s.proposal_id,
        s.chain_id,
        &s.safe,
        &s.safe_tx_hash,
        s.issued_at.as_ref(),
    )?;
    bounded(&format!("{field}.reason"), &s.reason)?;
    Ok(CancelFields {
        binding,
        reason: s.reason,
    })
}

/// The fields every statement carries, parsed the same way for each message.
fn binding(
    field: &str,
    proposal_id: &str,
    chain_id: u64,
    safe: &str,
    safe_tx_hash: &str,
    issued_at: Option<&signgate_proto::prost_types::Timestamp>,
) -> Result<Binding, GatewayError> {
    let f = |name: &str| format!("{field}.{name}");
    let proposal_id = wire::proposal_id(&f("proposal_id"), proposal_id)?;
    if chain_id == 0 {
        return Err(GatewayError::invalid(f("chain_id"), "required"));
    }
    let safe = wire::address(&f("safe"), safe)?;
    let safe_tx_hash = wire::hash(&f("safe_tx_hash"), safe_tx_hash)?;
    let issued = issued_at.ok_or_else(|| GatewayError::invalid(f("issued_at"), "required"))?;
    let issued_at = wire::unix_millis(&f("issued_at"), issued)?;
    Ok(Binding {
        proposal_id,
        chain_id,
        safe,
        safe_tx_hash,
        issued_at,
    })
}

/// Refuses free text longer than [`MAX_COMMENT`].
fn bounded(field: &str, text: &str) -> Result<(), GatewayError> {
    if text.len() > MAX_COMMENT {
        return Err(GatewayError::invalid(
            field,
            format!("longer than {MAX_COMMENT} bytes"),
        ));
    }
    Ok(())
}
