//! Owner signatures supplied with a submission: each checked the way `checkNSignatures` checks
//! it, against the Safe's owners and on-chain approvals in the state source, and shown to the
//! operators — valid owner signatures by owner, and every invalid or non-owner one with why, so
//! nothing supplied is silently dropped.
//!
//! This is a report, not a decision: the policy never counts owner signatures (operators
//! approve with their own keys). One thing follows from it: when the Safe's own
//! `checkSignatures` would accept the supplied blob as it is, the submission's simulation runs
//! it unmodified (exactly what execution would do) instead of approved-hash overrides. Contract
//! signatures (EIP-1271) would need an EVM call per signer; they are reported as not checked
//! rather than guessed valid, so a blob relying on one is never "accepted" here.

use std::time::Duration;

use alloy_primitives::{Address, B256, Signature, U256};
use signgate_simulator::{
    SafeContext,
    constants::slots,
    evm::read_list,
    hash::SafeTxHashes,
    limits::MAX_SIGNATURES,
    signature::{
        CheckedSignature, SIGNATURE_PART_LEN, SignatureCheck, SignatureKind, SignaturePart,
        check_n_signatures, check_signatures,
    },
};

use revm::database_interface::DatabaseRef as _;
use signgate_chain::PinnedState;

use crate::domain::SuppliedSignature;

/// How many static 65-byte parts `blob` holds: parts up to the end of the blob or the first
/// contract signature's dynamic data, whichever comes first.
fn static_parts(blob: &[u8]) -> usize {
    let mut end = blob.len();
    let mut n = 0usize;
    while let Some(part) = SignaturePart::at(blob, n) {
        let part_end = n.saturating_add(1).saturating_mul(SIGNATURE_PART_LEN);
        if part_end > end {
            break;
        }
        if part.kind() == SignatureKind::Contract {
            let offset = usize::try_from(part.s_offset()).unwrap_or(usize::MAX);
            end = end.min(offset.max(part_end));
        }
        n = n.saturating_add(1);
    }
    n
}

/// What the supplied signatures are worth.
#[derive(Debug, Clone, Default)]
pub(crate) struct Supplied {
    /// Every supplied signature with its verdict.
    pub signatures: Vec<SuppliedSignature>,
    /// Whether the Safe's `checkSignatures` would accept the blob as supplied (its threshold
    /// met by valid owner signatures alone).
    pub accepted: bool,
}

/// Every supplied signature with its verdict. A state source that cannot be read marks every
/// signature as not checked (never as valid) and the blob as not accepted.
pub(crate) async fn check<P: PinnedState>(
    pinned: &P,
    ctx: SafeContext,
    hashes: SafeTxHashes,
    blob: Vec<u8>,
    timeout: Duration,
) -> Supplied {
    let parts = static_parts(&blob);
    let unchecked = |why: &str| Supplied {
        signatures: (0..parts.max(1))
            .map(|index| SuppliedSignature {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                signer: None,
                kind: None,
                valid: false,
                problem: format!("not checked: {why}"),
                signature: Vec::new(),
            })
            .collect(),
        accepted: false,
    };
    if parts == 0 {
        return unchecked("the signatures are shorter than one 65-byte part");
    }
    if parts > MAX_SIGNATURES {
        return unchecked(&format!("more than {MAX_SIGNATURES} signatures"));
    }
    let job = pinned.run(move |state| {
        let owners =
            read_list(state, ctx.safe, slots::owner, "owners").map_err(|e| e.to_string())?;
        let check =
            SignatureCheck::for_safe_tx(ctx.version, &hashes, &blob, &owners, Address::ZERO);
        let threshold = state
            .storage_ref(ctx.safe, slots::THRESHOLD)
            .map_err(|e| e.to_string())?;
        // The approvals a v=1 signature relies on are read from the same state; a read failure
        // counts as not approved.
        let approved = |owner| {
            state
                .storage_ref(ctx.safe, slots::approved_hash(owner, hashes.safe_tx_hash))
                .is_ok_and(|v| !v.is_zero())
        };
        let accepted = check_signatures(&check, threshold, approved, |_| false).accepted();
        let report = check_n_signatures(&check, U256::from(parts), approved, |_| false);
        let signatures = report
            .signatures
            .iter()
            .map(|s| SuppliedSignature {
                index: u32::try_from(s.index).unwrap_or(u32::MAX),
                signer: s.signer,
                kind: Some(s.kind),
                valid: s.is_valid(),
                signature: kept_part(&blob, s),
                problem: match (&s.fault, s.kind) {
                    (None, _) => String::new(),
                    (Some(_), SignatureKind::Contract) => {
                        "not checked: contract signatures (EIP-1271) are not verified at \
                             submission"
                            .to_owned()
                    }
                    (Some(fault), _) => fault.to_string(),
                },
            })
            .collect();
        Ok::<_, String>(Supplied {
            signatures,
            accepted,
        })
    });
    match tokio::time::timeout(timeout, job).await {
        Ok(Ok(Ok(checked))) => checked,
        Ok(Ok(Err(why))) => unchecked(&format!("the Safe's owners could not be read ({why})")),
        _ => unchecked("the state source did not answer in time"),
    }
}

/// The raw part of a valid ECDSA signature, kept for packing at release; empty otherwise.
fn kept_part(blob: &[u8], s: &CheckedSignature) -> Vec<u8> {
    if !s.is_valid() || s.kind != SignatureKind::Ecdsa {
        return Vec::new();
    }
    let start = s.index.saturating_mul(SIGNATURE_PART_LEN);
    blob.get(start..start.saturating_add(SIGNATURE_PART_LEN))
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// The supplied signatures of a stored proposal that still count at release: each ECDSA part
/// recovered again over the released safeTxHash, and kept only if its signer is an owner in
/// the state source now (owners change). A state source that cannot be read keeps none: the
/// release then packs the signer backends' signatures alone, as before.
pub(crate) async fn still_valid<P: PinnedState>(
    pinned: &P,
    safe: Address,
    safe_tx_hash: B256,
    supplied: &[SuppliedSignature],
    timeout: Duration,
) -> Vec<(Address, Signature)> {
    let candidates: Vec<(Address, Signature)> = supplied
        .iter()
        .filter(|s| s.valid)
        .filter(|s| {
            s.signature.get(64).copied().map(SignatureKind::from_v) == Some(SignatureKind::Ecdsa)
        })
        .filter_map(|s| Signature::from_raw(&s.signature).ok())
        .filter_map(|sig| {
            sig.recover_address_from_prehash(&safe_tx_hash)
                .ok()
                .map(|signer| (signer, sig))
        })
        .collect();
    if candidates.is_empty() {
        return candidates;
    }
    let job = pinned.run(move |state| read_list(state, safe, slots::owner, "owners"));
    match tokio::time::timeout(timeout, job).await {
        Ok(Ok(Ok(owners))) => candidates
            .into_iter()
            .filter(|(signer, _)| owners.contains(signer))
            .collect(),
        _ => {
            tracing::warn!(%safe, "owners unreadable at release; supplied signatures left out");
            Vec::new()
        }
    }
}
