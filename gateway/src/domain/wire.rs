//! The wire forms of the gateway's own values. Addresses, hashes, amounts, instants and Safe
//! transactions are parsed by [`signgate_proto::wire`], the one parser every party uses; this
//! module adds the gateway's types on top (proposal ids, instants in [`UnixMillis`], the
//! declared intent), each failure an `INVALID_ARGUMENT` naming its field.
//!
//! The `api` layer parses requests with these; the pipeline parses stored statements and the
//! store upgrades old rows with the same functions, so no two places can read the same bytes
//! differently.

pub use signgate_proto::wire::{
    address, address_or_zero, decimal, hash, safe_tx, safe_tx_to_proto,
};
use signgate_proto::{prost_types::Timestamp, v1 as pb, wire::FieldError};

use super::{
    DeclaredIntent, IntentAsset,
    records::{ProposalId, UnixMillis},
};
use crate::error::GatewayError;

/// Longest free text kept (a declared intent's description).
const MAX_TEXT: usize = 1000;

impl From<FieldError> for GatewayError {
    fn from(e: FieldError) -> Self {
        Self::InvalidArgument {
            field: e.field,
            reason: e.reason,
        }
    }
}

/// A proposal id from a request.
pub fn proposal_id(field: &str, id: &str) -> Result<ProposalId, GatewayError> {
    Ok(ProposalId::new(signgate_proto::wire::proposal_id(
        field, id,
    )?))
}

/// An instant as a protobuf timestamp.
pub fn timestamp(t: UnixMillis) -> Timestamp {
    signgate_proto::wire::timestamp(t.0)
}

/// A protobuf timestamp as an instant.
pub fn unix_millis(field: &str, t: &Timestamp) -> Result<UnixMillis, GatewayError> {
    Ok(UnixMillis(signgate_proto::wire::unix_millis(field, t)?))
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
