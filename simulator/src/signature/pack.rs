//! Building a signature blob the contract accepts: owner-sorted static parts, with contract
//! signatures' dynamic parts appended after them.

use alloy_primitives::{Address, B256, Bytes, Signature, U256};

use super::SIGNATURE_PART_LEN;
use crate::limits::MAX_SIGNATURES;

/// One owner's contribution to a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerSignature {
    /// ECDSA over the safeTxHash (EIP-712 typed-data signing); packed with v = 27/28.
    Ecdsa(Signature),
    /// ECDSA over the EIP-191 message of the safeTxHash; packed with v = 31/32.
    EthSign(Signature),
    /// The owner executes the transaction or approved the hash on chain; packed with v = 1.
    ApprovedHash,
    /// An EIP-1271 signature of a contract owner; packed with v = 0 and a dynamic part.
    Contract(Bytes),
}

/// Why a blob could not be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// One owner is given twice; `checkNSignatures` refuses repeated signers (GS026).
    #[error("{owner} appears twice; each owner signs once")]
    DuplicateOwner {
        /// The repeated owner.
        owner: Address,
    },
    /// An owner is the zero address, which no signature can count for.
    #[error("the zero address cannot sign for a Safe")]
    ZeroOwner,
    /// More signatures than [`MAX_SIGNATURES`].
    #[error("{count} signatures, more than the {max} signgate packs")]
    TooMany {
        /// The number of signatures given.
        count: usize,
        /// The bound.
        max: usize,
    },
}

/// Packs `signatures` into one blob sorted by owner address, ascending, as `checkNSignatures`
/// requires. The signatures are not verified here: the owner each one is attributed to is the
/// caller's claim, and the blob should be run through
/// [`check_signatures`](super::check_signatures) before submission.
pub fn pack_signatures(signatures: &[(Address, OwnerSignature)]) -> Result<Bytes, PackError> {
    if signatures.len() > MAX_SIGNATURES {
        return Err(PackError::TooMany {
            count: signatures.len(),
            max: MAX_SIGNATURES,
        });
    }
    let mut sorted: Vec<&(Address, OwnerSignature)> = signatures.iter().collect();
    sorted.sort_by_key(|(owner, _)| *owner);
    for pair in sorted.windows(2) {
        if let [(a, _), (b, _)] = pair
            && a == b
        {
            return Err(PackError::DuplicateOwner { owner: *a });
        }
    }
    if sorted.iter().any(|(owner, _)| owner.is_zero()) {
        return Err(PackError::ZeroOwner);
    }

    let mut static_part = Vec::with_capacity(sorted.len() * SIGNATURE_PART_LEN);
    let mut dynamic_part = Vec::new();
    let static_len = sorted.len() * SIGNATURE_PART_LEN;
    for (owner, signature) in sorted {
        match signature {
            OwnerSignature::Ecdsa(sig) => push_ecdsa(&mut static_part, sig, 27),
            OwnerSignature::EthSign(sig) => push_ecdsa(&mut static_part, sig, 31),
            OwnerSignature::ApprovedHash => {
                static_part.extend_from_slice(owner.into_word().as_slice());
                static_part.extend_from_slice(B256::ZERO.as_slice());
                static_part.push(1);
            }
            OwnerSignature::Contract(data) => {
                let offset = U256::from(static_len + dynamic_part.len());
                static_part.extend_from_slice(owner.into_word().as_slice());
                static_part.extend_from_slice(&offset.to_be_bytes::<32>());
                static_part.push(0);
                dynamic_part.extend_from_slice(&U256::from(data.len()).to_be_bytes::<32>());
                dynamic_part.extend_from_slice(data);
            }
        }
    }
    static_part.extend_from_slice(&dynamic_part);
    Ok(static_part.into())
}

fn push_ecdsa(out: &mut Vec<u8>, sig: &Signature, base_v: u8) {
    out.extend_from_slice(&sig.r().to_be_bytes::<32>());
    out.extend_from_slice(&sig.s().to_be_bytes::<32>());
    out.push(base_v + u8::from(sig.v()));
}
