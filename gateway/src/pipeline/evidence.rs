//! Gateway facts into the policy's [`Evidence`]: the analysis, the initiator, the declared intent,
//! the stored approvals (with the gateway's own signature checks) and the clock.
//!
//! Every gap fails closed: a simulation that could not run is a `Failed` outcome (the policy's
//! `SimulationFailed` reason), an unusable list is `CannotScreen`, an approval whose stored
//! bytes no longer parse or verify is counted as an invalid signature.

use alloy_primitives::{Address, FixedBytes};
use signgate_policy::{
    Evidence,
    adapters::{action_facts, simulation_facts},
    approvals::SignatureChecks,
    evidence::{
        IntendedTransfer, Intent, Proposal, RefundSettings, SignedApproval, SimulationFacts,
        SimulationOutcome, VelocityTotal, Verdict,
    },
    operators::OperatorId,
    time::{DAY, Timestamp},
};
use signgate_proto::envelope::{self, APPROVAL_CONTEXT};

use super::analysis::Analysis;
use crate::{
    domain::{DeclaredIntent, IntentAsset, statement},
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
/// amount are both given; an asset not named is the native coin.
pub fn intent(declared: Option<&DeclaredIntent>) -> Option<Intent> {
    let d = declared?;
    let transfers = match (d.recipient, d.amount) {
        (Some(to), Some(amount)) => vec![IntendedTransfer {
            asset: d.asset.unwrap_or(IntentAsset::Native).into(),
            to,
            amount,
        }],
        _ => Vec::new(),
    };
    Some(Intent {
        summary: d.description.clone(),
        transfers,
        safe_changes: Vec::new(),
    })
}

/// A stored approval as the policy sees it, and whether the gateway's check of its envelope
/// signature still holds over the stored bytes.
///
/// The policy's key decides how the stored signature is checked: for a WebAuthn credential, as
/// an assertion of the statement (with no `webauthn` keys to check with, it does not count);
/// otherwise as the key's 64-byte ed25519 signature.
fn signed_approval(
    a: &ApprovalRecord,
    webauthn: Option<&WebAuthnKeys<'_>>,
) -> (Option<SignedApproval>, bool) {
    let Ok(statement) = statement::parse("payload", &a.payload) else {
        return (None, false);
    };
    let (verified, signature) = match webauthn.and_then(|w| w.credential(&a.public_key)) {
        Some((w, credential)) => (w.verifies(credential, &a.payload, &a.signature), [0; 64]),
        None => {
            let Ok(signature) = <[u8; 64]>::try_from(a.signature.as_slice()) else {
                return (None, false);
            };
            let verified = envelope::verifying_key(&a.public_key)
                .and_then(|k| envelope::verify(&k, APPROVAL_CONTEXT, &a.payload, &a.signature))
                .is_ok();
            (verified, signature)
        }
    };
    // The stored kind must be what the operator signed.
    let valid = verified && statement.kind == a.kind;
    (
        Some(SignedApproval {
            verdict: match statement.kind {
                ApprovalKind::Approve => Verdict::Approve,
                ApprovalKind::Reject => Verdict::Reject,
            },
            chain_id: statement.chain_id,
            safe: statement.safe,
            safe_tx_hash: statement.safe_tx_hash,
            proposal_id: statement.proposal_id.to_string(),
            expires_at: approval_expiry(statement.issued_at),
            public_key: FixedBytes(a.public_key),
            signature: FixedBytes(signature),
            received_at: seconds(a.received_at),
        }),
        valid,
    )
}

/// What a stored WebAuthn approval is checked with: the policy's enrolled credentials and the
/// console's origins.
#[derive(Debug, Clone, Copy)]
pub struct WebAuthnKeys<'a> {
    /// The policy in force: whose credential the key id names.
    pub policy: &'a signgate_policy::Policy,
    /// The origins an assertion may come from.
    pub origins: &'a [String],
}

impl<'a> WebAuthnKeys<'a> {
    /// The WebAuthn credential the policy enrols under key id `key`, if it is one.
    fn credential(&self, key: &[u8; 32]) -> Option<(&Self, &'a signgate_webauthn::Credential)> {
        let (_, k) = self.policy.key_holder(&FixedBytes(*key))?;
        k.webauthn.as_ref().map(|c| (self, c))
    }

    /// Whether `stored` is an assertion of `payload` by `credential` from the console.
    fn verifies(
        &self,
        credential: &signgate_webauthn::Credential,
        payload: &[u8],
        stored: &[u8],
    ) -> bool {
        signgate_webauthn::Assertion::from_bytes(stored).is_ok_and(|assertion| {
            super::webauthn::verify(credential, payload, &assertion, self.origins).is_ok()
        })
    }
}

/// When an operator's statement issued at `issued` stops counting.
pub fn approval_expiry(issued: UnixMillis) -> Timestamp {
    seconds(issued).plus(APPROVAL_VALIDITY_SECS)
}

/// What is known about the proposal apart from its analysis.
#[derive(Debug, Clone)]
pub struct ProposalFacts<'a> {
    /// The proposal evaluated.
    pub id: &'a ProposalId,
    /// The operator who submitted it.
    pub initiator: OperatorId,
    /// What the initiator said the transaction is for; `None`: nothing declared.
    pub declared: Option<&'a DeclaredIntent>,
    /// Every stored approval and rejection; one whose stored bytes no longer parse is left out
    /// and does not count.
    pub approvals: &'a [ApprovalRecord],
    /// What each velocity window of the wallet already holds.
    pub velocity: Vec<VelocityTotal>,
    /// The decision-changing anomaly alerts of the submission and of each approval's call.
    pub alerts: Vec<signgate_policy::anomaly::ProposalAlert>,
    /// What stored WebAuthn approvals are checked with (`None`: none counts).
    pub webauthn: Option<WebAuthnKeys<'a>>,
    /// The instant of the evaluation, from the gateway's clock; approvals and time locks are
    /// judged against it.
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
                reason: why.to_string(),
            },
            ..SimulationFacts::default()
        },
    };
    let mut approvals = Vec::new();
    let mut checks = Vec::new();
    for record in facts.approvals {
        // An approval whose stored bytes no longer parse cannot be shown to the policy at all;
        // it simply does not count.
        if let (Some(a), valid) = signed_approval(record, facts.webauthn.as_ref()) {
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
                safe_tx_gas: d.tx.safe_tx_gas,
                base_gas: d.tx.base_gas,
                gas_price: d.tx.gas_price,
                gas_token: d.tx.gas_token,
                refund_receiver: d.tx.refund_receiver,
            },
            via_module: None,
            intent: intent(facts.declared),
        },
        actions: action_facts(&d.root, safe),
        simulation,
        screening: analysis.screening.clone(),
        approvals,
        velocity: facts.velocity.clone(),
        paid_before: Vec::new(),
        alerts: facts.alerts.clone(),
    };
    (evidence, SignatureChecks::from_results(checks))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256};
    use ed25519_dalek::SigningKey;
    use prost::Message;
    use signgate_proto::v1 as pb;

    use signgate_policy::wallets::Asset;

    use super::*;
    use crate::domain::wire;

    #[test]
    fn a_declared_transfer_needs_recipient_and_amount() {
        let d = DeclaredIntent {
            description: "pay the broker".into(),
            recipient: Some(Address::repeat_byte(7)),
            asset: None,
            amount: Some(U256::from(12)),
        };
        let i = intent(Some(&d)).unwrap();
        assert_eq!(i.summary, "pay the broker");
        assert_eq!(i.transfers.len(), 1);
        assert_eq!(i.transfers[0].asset, Asset::Native);
        let vague = DeclaredIntent { amount: None, ..d };
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
            alerts: Vec::new(),
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
            issued_at: Some(wire::timestamp(UnixMillis(1_800_000_000_000))),
            comment: String::new(),
        };
        let good = stored(statement.encode_to_vec(), &key);
        let (a, valid) = signed_approval(&good, None);
        assert!(valid);
        let a = a.unwrap();
        assert_eq!(
            a.expires_at,
            Timestamp(1_800_000_000 + APPROVAL_VALIDITY_SECS)
        );

        // Bytes changed after storage: shown to the policy, but not as validly signed.
        let mut tampered = good.clone();
        tampered.signature[0] ^= 1;
        assert!(!signed_approval(&tampered, None).1);

        // A rejection stored as an approval: the signed kind decides, and it is not valid.
        let mut flipped = good.clone();
        flipped.kind = ApprovalKind::Reject;
        let (a, valid) = signed_approval(&flipped, None);
        assert!(!valid);
        assert_eq!(a.unwrap().verdict, Verdict::Approve);

        // Bytes that no longer parse are not shown at all.
        let garbage = stored(vec![0xff, 0xff], &key);
        assert!(signed_approval(&garbage, None).0.is_none());
    }
}
