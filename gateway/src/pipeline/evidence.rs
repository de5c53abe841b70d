//! Gateway facts into the policy's [`Evidence`]: the analysis, the initiator, the declared intent,
//! the stored approvals (with the gateway's own signature checks) and the clock.
//!
//! Every gap fails closed: a simulation that could not run is a `Failed` outcome (the policy's
//! `SimulationFailed` reason), an unusable list is `CannotScreen`, an approval whose stored
//! bytes no longer parse or verify is counted as an invalid signature.

use alloy_primitives::{Address, FixedBytes};
use prost::Message;
use signgate_policy::{
    Evidence,
    adapters::{action_facts, screening, simulation_facts},
    approvals::SignatureChecks,
    evidence::{
        IntendedTransfer, Intent, Proposal, RefundSettings, SignedApproval, SimulationFacts,
        SimulationOutcome, VelocityTotal, Verdict,
    },
    operators::OperatorId,
    time::{DAY, Timestamp},
    wallets::Asset,
};
use signgate_proto::{
    envelope::{self, APPROVAL_CONTEXT},
    v1 as pb,
};

use super::analysis::Analysis;
use crate::{
    server::convert,
    store::{ApprovalKind, ApprovalRecord, ProposalId, UnixMillis},
};

/// How long a signed approval statement stays usable. The statement carries no expiry of its
/// own, so this bounds a forgotten approval; the tiers' `approval_expiry_hours` usually end it
/// sooner.
const APPROVAL_VALIDITY_SECS: u64 = 30 * DAY;

/// Milliseconds to the policy's whole seconds (negative instants are the epoch).
pub fn seconds(t: UnixMillis) -> Timestamp {
    Timestamp(u64::try_from(t.0.div_euclid(1000)).unwrap_or(0))
}

/// The declared intent in the policy's terms. A transfer is declared only when recipient and
/// amount are both given; `asset` is `native`/`ETH`, or a token address.
pub fn intent(declared: Option<&pb::DeclaredIntent>) -> Option<Intent> {
    let d = declared?;
    let mut transfers = Vec::new();
    if !d.recipient.is_empty() && !d.amount.is_empty() {
        let to = convert::address("intent.recipient", &d.recipient).ok();
        let amount = convert::decimal("intent.amount", &d.amount, true).ok();
        let asset = match d.asset.as_str() {
            "" | "native" | "ETH" | "eth" => Some(Asset::Native),
            other => convert::address("intent.asset", other)
                .ok()
                .map(Asset::Token),
        };
        if let (Some(to), Some(amount), Some(asset)) = (to, amount, asset) {
            transfers.push(IntendedTransfer { asset, to, amount });
        }
    }
    Some(Intent {
        summary: d.description.clone(),
        transfers,
        safe_changes: Vec::new(),
    })
}

/// A stored approval as the policy sees it, and whether the gateway's check of its envelope
/// signature still holds over the stored bytes.
fn signed_approval(a: &ApprovalRecord) -> (Option<SignedApproval>, bool) {
    let Ok(statement) = pb::ApprovalStatement::decode(a.payload.as_slice()) else {
        return (None, false);
    };
    let valid = envelope::verifying_key(&a.public_key)
        .and_then(|k| envelope::verify(&k, APPROVAL_CONTEXT, &a.payload, &a.signature))
        .is_ok();
    let safe = convert::address("safe", &statement.safe).ok();
    let hash = convert::hash("safe_tx_hash", &statement.safe_tx_hash).ok();
    let issued = statement
        .issued_at
        .as_ref()
        .and_then(|t| convert::unix_millis("issued_at", t).ok());
    let signature: Option<[u8; 64]> = a.signature.as_slice().try_into().ok();
    match (safe, hash, issued, signature) {
        (Some(safe), Some(safe_tx_hash), Some(issued), Some(signature)) => (
            Some(SignedApproval {
                verdict: match a.kind {
                    ApprovalKind::Approve => Verdict::Approve,
                    ApprovalKind::Reject => Verdict::Reject,
                },
                chain_id: statement.chain_id,
                safe,
                safe_tx_hash,
                proposal_id: statement.proposal_id,
                expires_at: approval_expiry(issued),
                public_key: FixedBytes(a.public_key),
                signature: FixedBytes(signature),
                received_at: seconds(a.received_at),
            }),
            valid,
        ),
        _ => (None, false),
    }
}

/// When an operator's statement issued at `issued` stops counting.
pub fn approval_expiry(issued: UnixMillis) -> Timestamp {
    seconds(issued).plus(APPROVAL_VALIDITY_SECS)
}

/// What is known about the proposal apart from its analysis.
#[derive(Debug, Clone)]
pub struct ProposalFacts<'a> {
    pub id: &'a ProposalId,
    pub initiator: OperatorId,
    pub declared: Option<&'a pb::DeclaredIntent>,
    pub approvals: &'a [ApprovalRecord],
    /// What each velocity window of the wallet already holds.
    pub velocity: Vec<VelocityTotal>,
    pub now: UnixMillis,
}

/// The evidence for one evaluation and the signature checks of its approvals, in order.
pub fn build(analysis: &Analysis, facts: &ProposalFacts<'_>) -> (Evidence, SignatureChecks) {
    let d = &analysis.decoded;
    let safe: Address = d.context.safe;
    let simulation = match &analysis.simulation {
        Ok(report) => simulation_facts(report),
        Err(why) => SimulationFacts {
            outcome: SimulationOutcome::Failed {
                reason: why.clone(),
            },
            ..SimulationFacts::default()
        },
    };
    let mut approvals = Vec::new();
    let mut checks = Vec::new();
    for record in facts.approvals {
        // An approval whose stored bytes no longer parse cannot be shown to the policy at all;
        // it simply does not count.
        if let (Some(a), valid) = signed_approval(record) {
            approvals.push(a);
            checks.push(valid);
        }
    }
    let evidence = Evidence {
        now: seconds(facts.now),
        proposal: Proposal {
            id: facts.id.to_string(),
            chain_id: d.context.chain_id,
            safe,
            safe_tx_hash: d.hashes.safe_tx_hash,
            initiator: facts.initiator.clone(),
            refund: RefundSettings {
                gas_price: d.tx.gas_price,
                gas_token: d.tx.gas_token,
                refund_receiver: d.tx.refund_receiver,
            },
            via_module: None,
            intent: intent(facts.declared),
        },
        actions: action_facts(&d.root, safe),
        simulation,
        screening: screening(&analysis.screening),
        approvals,
        velocity: facts.velocity.clone(),
        paid_before: Vec::new(),
    };
    (evidence, SignatureChecks::from_results(checks))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;
    use ed25519_dalek::SigningKey;

    use super::*;

    #[test]
    fn a_declared_transfer_needs_recipient_and_amount() {
        let d = pb::DeclaredIntent {
            description: "pay the broker".into(),
            recipient: format!("{:#x}", Address::repeat_byte(7)),
            asset: String::new(),
            amount: "12".into(),
        };
        let i = intent(Some(&d)).unwrap();
        assert_eq!(i.summary, "pay the broker");
        assert_eq!(i.transfers.len(), 1);
        assert_eq!(i.transfers[0].asset, Asset::Native);
        let vague = pb::DeclaredIntent {
            amount: String::new(),
            ..d
        };
        assert!(intent(Some(&vague)).unwrap().transfers.is_empty());
        assert!(intent(None).is_none());
    }

    fn stored(payload: Vec<u8>, key: &SigningKey) -> ApprovalRecord {
        let signature = envelope::sign(key, APPROVAL_CONTEXT, &payload).to_vec();
        ApprovalRecord {
            operator: "bob".into(),
            public_key: key.verifying_key().to_bytes(),
            kind: ApprovalKind::Approve,
            payload,
            signature,
            comment: String::new(),
            received_at: UnixMillis(1_800_000_000_000),
        }
    }

    #[test]
    fn stored_approvals_are_re_verified() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let statement = pb::ApprovalStatement {
            proposal_id: "p-1".into(),
            chain_id: 1,
            safe: format!("{:#x}", Address::repeat_byte(0x5a)),
            safe_tx_hash: format!("{:#x}", alloy_primitives::B256::repeat_byte(1)),
            kind: pb::ApprovalKind::Approve.into(),
            issued_at: Some(convert::timestamp(UnixMillis(1_800_000_000_000))),
            comment: String::new(),
        };
        let good = stored(statement.encode_to_vec(), &key);
        let (a, valid) = signed_approval(&good);
        assert!(valid);
        let a = a.unwrap();
        assert_eq!(
            a.expires_at,
            Timestamp(1_800_000_000 + APPROVAL_VALIDITY_SECS)
        );

        // Bytes changed after storage: shown to the policy, but not as validly signed.
        let mut tampered = good.clone();
        tampered.signature[0] ^= 1;
        assert!(!signed_approval(&tampered).1);

        // Bytes that no longer parse are not shown at all.
        let garbage = stored(vec![0xff, 0xff], &key);
        assert!(signed_approval(&garbage).0.is_none());
    }
}
