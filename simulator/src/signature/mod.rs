//! Safe owner signatures: splitting a blob into its 65-byte parts, recovering signers, checking a
//! blob exactly as the contract's `checkNSignatures` does, and packing a blob for submission.
//!
//! A blob is a run of static parts `{bytes32 r}{bytes32 s}{uint8 v}`; `v` selects the kind
//! (research §1.5). Contract signatures (v = 0) point with `s` at a dynamic part
//! `{uint256 len}{bytes sig}` later in the same blob. Parsing here never panics and never trusts
//! an offset: every bound the contract checks (GS021–GS023) is checked with the same arithmetic.
//!
//! - [`SignaturePart`] / [`split_signatures`]: the static parts and what each one claims;
//! - [`check_signatures`] / [`check_n_signatures`] (in `check`): the contract's verdict, with the
//!   reason for every signature;
//! - [`pack_signatures`] (in `pack`): an owner-sorted blob from individual signatures.

mod check;
mod pack;

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

pub use check::{
    CheckFailure, CheckedSignature, ContractSignatureCheck, SignatureCheck, SignatureCheckReport,
    SignatureFault, check_n_signatures, check_signatures,
};
pub use pack::{OwnerSignature, PackError, pack_signatures};

use crate::hash::eth_sign_digest;

/// Length of one static signature part.
pub const SIGNATURE_PART_LEN: usize = 65;

/// What a signature part claims to be, decided by its `v` byte exactly as the contract branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    /// v = 0: an EIP-1271 contract signature; `r` holds the signer contract, `s` the offset of
    /// its dynamic part.
    Contract,
    /// v = 1: an approved hash; `r` holds the owner, who is the executor or called `approveHash`.
    ApprovedHash,
    /// v = 27/28: ECDSA over the safeTxHash itself (EIP-712 signing).
    Ecdsa,
    /// v = 31/32: ECDSA over `"\x19Ethereum Signed Message:\n32" ‖ safeTxHash` (what a Ledger
    /// signing a "message" produces; how the Bybit owners signed).
    EthSign,
    /// Any other `v`: the contract's `ecrecover` returns the zero address, so it never counts.
    Invalid,
}

impl SignatureKind {
    /// Classifies a `v` byte the way `checkNSignatures` does (`0`, `1`, `> 30`, else ecrecover).
    pub const fn from_v(v: u8) -> Self {
        match v {
            0 => Self::Contract,
            1 => Self::ApprovedHash,
            27 | 28 => Self::Ecdsa,
            31 | 32 => Self::EthSign,
            _ => Self::Invalid,
        }
    }

    /// The Transaction Service's `signatureType` spelling, for comparing its hints.
    pub const fn tx_service_name(self) -> &'static str {
        match self {
            Self::Contract => "CONTRACT_SIGNATURE",
            Self::ApprovedHash => "APPROVED_HASH",
            Self::Ecdsa => "EOA",
            Self::EthSign => "ETH_SIGN",
            Self::Invalid => "INVALID",
        }
    }

    /// The words an operator reads.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Contract => "contract signature (EIP-1271)",
            Self::ApprovedHash => "approved hash",
            Self::Ecdsa => "ECDSA (EIP-712)",
            Self::EthSign => "eth_sign",
            Self::Invalid => "invalid v",
        }
    }
}

/// One 65-byte static part of a signature blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignaturePart {
    /// Position in the blob (part `i` starts at byte `i * 65`).
    pub index: usize,
    /// The first word: an ECDSA `r`, or the signer address of a contract signature or approved hash.
    pub r: B256,
    /// The second word: an ECDSA `s`, or a contract signature's offset to its dynamic part.
    pub s: B256,
    /// The last byte, which selects the kind (0 contract, 1 approved hash, 27/28 ECDSA, 31/32
    /// eth_sign).
    pub v: u8,
}

impl SignaturePart {
    /// The part starting at byte `index * 65` of `blob`, if the blob is long enough.
    pub fn at(blob: &[u8], index: usize) -> Option<Self> {
        let start = index.checked_mul(SIGNATURE_PART_LEN)?;
        let end = start.checked_add(SIGNATURE_PART_LEN)?;
        let bytes = blob.get(start..end)?;
        let (r, rest) = bytes.split_at_checked(32)?;
        let (s, v) = rest.split_at_checked(32)?;
        Some(Self {
            index,
            r: B256::from_slice(r),
            s: B256::from_slice(s),
            v: *v.first()?,
        })
    }

    /// The kind `v` selects.
    pub const fn kind(&self) -> SignatureKind {
        SignatureKind::from_v(self.v)
    }

    /// The address in the low 160 bits of `r`: the claimed signer of a contract signature or an
    /// approved hash (the contract truncates the same way).
    pub fn r_address(&self) -> Address {
        Address::from_word(self.r)
    }

    /// The dynamic-part offset a contract signature stores in `s`.
    pub fn s_offset(&self) -> U256 {
        U256::from_be_bytes(self.s.0)
    }

    /// Recovers the signer of an ECDSA or eth_sign part over `data_hash`, as the contract's
    /// `ecrecover` would: `None` exactly where the precompile returns the zero address.
    ///
    /// `eth_sign_allowed` is the version rule: without it (1.0.0 and older) a v of 31/32 goes to
    /// plain `ecrecover`, which refuses it.
    pub fn recover(&self, data_hash: B256, eth_sign_allowed: bool) -> Option<Address> {
        if self.v > 30 && eth_sign_allowed {
            ecrecover(
                eth_sign_digest(data_hash),
                self.v.wrapping_sub(4),
                self.r,
                self.s,
            )
        } else {
            ecrecover(data_hash, self.v, self.r, self.s)
        }
    }
}

/// The static parts `0..count` of `blob`.
///
/// Fails only when the blob is shorter than `count * 65` bytes (the contract's GS020) or `count`
/// exceeds [`MAX_SIGNATURES`](crate::limits::MAX_SIGNATURES).
pub fn split_signatures(blob: &[u8], count: usize) -> Result<Vec<SignaturePart>, SplitError> {
    if count > crate::limits::MAX_SIGNATURES {
        return Err(SplitError::TooMany {
            count,
            max: crate::limits::MAX_SIGNATURES,
        });
    }
    (0..count)
        .map(|index| {
            SignaturePart::at(blob, index).ok_or(SplitError::TooShort {
                len: blob.len(),
                needed: count.saturating_mul(SIGNATURE_PART_LEN),
            })
        })
        .collect()
}

/// Why a blob could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// The blob is shorter than 65 bytes times the count asked for.
    #[error("signature data is {len} bytes, shorter than the {needed} bytes the signatures need")]
    TooShort {
        /// Length of the blob in bytes.
        len: usize,
        /// Bytes the requested parts need: 65 times the count.
        needed: usize,
    },
    /// More parts were asked for than [`MAX_SIGNATURES`](crate::limits::MAX_SIGNATURES).
    #[error("{count} signatures requested, more than the {max} signgate reads")]
    TooMany {
        /// The number of parts asked for.
        count: usize,
        /// The bound.
        max: usize,
    },
}

/// The bytes of the dynamic part a contract signature points to, checked with the contract's
/// bounds: `s >= static_len` (GS021), `s + 32 <= blob.len()` (GS022) and
/// `s + 32 + len <= blob.len()` (GS023), all in 256-bit arithmetic so no offset can wrap.
pub fn contract_signature_data(
    blob: &[u8],
    offset: U256,
    static_len: U256,
) -> Result<&[u8], SignatureFault> {
    let blob_len = U256::from(blob.len());
    if offset < static_len {
        return Err(SignatureFault::OffsetInsideStaticPart { offset, static_len });
    }
    let len_end = offset
        .checked_add(U256::from(32))
        .filter(|end| *end <= blob_len);
    let Some(len_end) = len_end else {
        return Err(SignatureFault::LengthOutOfBounds {
            offset,
            blob_len: blob.len(),
        });
    };
    // Both fit in usize: they are bounded by blob.len().
    let start = usize::try_from(offset).map_err(|_| SignatureFault::LengthOutOfBounds {
        offset,
        blob_len: blob.len(),
    })?;
    let data_start = usize::try_from(len_end).map_err(|_| SignatureFault::LengthOutOfBounds {
        offset,
        blob_len: blob.len(),
    })?;
    let len_word = blob
        .get(start..data_start)
        .ok_or(SignatureFault::LengthOutOfBounds {
            offset,
            blob_len: blob.len(),
        })?;
    let data_len = U256::from_be_slice(len_word);
    let out_of_bounds = || SignatureFault::DataOutOfBounds {
        offset,
        data_len,
        blob_len: blob.len(),
    };
    let data_end = len_end
        .checked_add(data_len)
        .filter(|end| *end <= blob_len)
        .ok_or_else(out_of_bounds)?;
    let data_end = usize::try_from(data_end).map_err(|_| out_of_bounds())?;
    blob.get(data_start..data_end).ok_or_else(out_of_bounds)
}

/// The secp256k1 group order; `ecrecover` refuses `r` or `s` outside `[1, n)`.
const SECP256K1_N: U256 = alloy_primitives::uint!(
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256
);

/// The `ecrecover` precompile: `v` must be exactly 27 or 28 and `r`, `s` in `[1, n)`; high `s` is
/// accepted (the precompile has no malleability rule, unlike transaction signatures).
pub fn ecrecover(digest: B256, v: u8, r: B256, s: B256) -> Option<Address> {
    let parity = match v {
        27 => false,
        28 => true,
        _ => return None,
    };
    let (r, s) = (U256::from_be_bytes(r.0), U256::from_be_bytes(s.0));
    let in_range = |x: U256| !x.is_zero() && x < SECP256K1_N;
    if !in_range(r) || !in_range(s) {
        return None;
    }
    recover_libsecp256k1(digest, parity, r, s)
}

/// The recovery itself, in libsecp256k1: the public key whose signature `(r, s, parity)` is
/// over `digest`, as an address (the last 20 bytes of the keccak of the uncompressed key).
fn recover_libsecp256k1(digest: B256, parity: bool, r: U256, s: U256) -> Option<Address> {
    use secp256k1::{
        Message, SECP256K1,
        ecdsa::{RecoverableSignature, RecoveryId},
    };
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&r.to_be_bytes::<32>());
    compact[32..].copy_from_slice(&s.to_be_bytes::<32>());
    let id = if parity {
        RecoveryId::One
    } else {
        RecoveryId::Zero
    };
    let signature = RecoverableSignature::from_compact(&compact, id).ok()?;
    let key = SECP256K1
        .recover_ecdsa(Message::from_digest(digest.0), &signature)
        .ok()?;
    let uncompressed = key.serialize_uncompressed();
    let hash = alloy_primitives::keccak256(uncompressed.get(1..)?);
    Some(Address::from_slice(hash.get(12..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_contract_branches() {
        assert_eq!(SignatureKind::from_v(0), SignatureKind::Contract);
        assert_eq!(SignatureKind::from_v(1), SignatureKind::ApprovedHash);
        assert_eq!(SignatureKind::from_v(28), SignatureKind::Ecdsa);
        assert_eq!(SignatureKind::from_v(32), SignatureKind::EthSign);
        assert_eq!(SignatureKind::from_v(29), SignatureKind::Invalid);
        assert_eq!(SignatureKind::from_v(33), SignatureKind::Invalid);
    }

    #[test]
    fn ecrecover_refuses_what_the_precompile_refuses() {
        let one = B256::with_last_byte(1);
        assert_eq!(ecrecover(B256::ZERO, 26, one, one), None);
        assert_eq!(ecrecover(B256::ZERO, 27, B256::ZERO, one), None);
        assert_eq!(
            ecrecover(B256::ZERO, 27, one, B256::from(SECP256K1_N)),
            None
        );
        assert_eq!(
            ecrecover(B256::ZERO, 27, B256::repeat_byte(0xff), one),
            None
        );
    }

    /// libsecp256k1 and k256 (the pure-Rust curve alloy signs with) agree on every signature:
    /// valid ones of many keys and digests, low and high `s`, both parities, and garbage.
    #[test]
    fn libsecp256k1_recovers_what_k256_recovers() {
        use alloy_primitives::{Signature, keccak256};
        use alloy_signer::SignerSync;
        use alloy_signer_local::PrivateKeySigner;
        for i in 1..=64u8 {
            let key = PrivateKeySigner::from_bytes(&keccak256([i])).unwrap();
            let digest = keccak256([i, 0xd1]);
            let sig = key.sign_hash_sync(&digest).unwrap();
            let v = 27 + u8::from(sig.v());
            let (r, s) = (B256::from(sig.r()), B256::from(sig.s()));
            assert_eq!(ecrecover(digest, v, r, s), Some(key.address()), "key {i}");
            // High s with the other parity: the same signer to the precompile.
            let high = B256::from(SECP256K1_N - sig.s());
            let k = Signature::new(sig.r(), SECP256K1_N - sig.s(), !sig.v())
                .recover_address_from_prehash(&digest)
                .ok();
            assert_eq!(ecrecover(digest, 55 - v, r, high), k, "high s, key {i}");
            assert_eq!(k, Some(key.address()));
            // Another digest or parity: both recover the same (wrong) signer, or both fail.
            for (d, parity) in [(keccak256([i, 1]), sig.v()), (digest, !sig.v())] {
                let k = Signature::new(sig.r(), sig.s(), parity)
                    .recover_address_from_prehash(&d)
                    .ok();
                assert_eq!(ecrecover(d, 27 + u8::from(parity), r, s), k, "key {i}");
            }
            // Arbitrary words as r and s.
            let (gr, gs) = (keccak256([i, 2]), keccak256([i, 3]));
            let k = Signature::new(U256::from_be_bytes(gr.0), U256::from_be_bytes(gs.0), false)
                .recover_address_from_prehash(&digest)
                .ok();
            let in_range =
                U256::from_be_bytes(gr.0) < SECP256K1_N && U256::from_be_bytes(gs.0) < SECP256K1_N;
            if in_range {
                assert_eq!(ecrecover(digest, 27, gr, gs), k, "garbage {i}");
            } else {
                assert_eq!(ecrecover(digest, 27, gr, gs), None, "garbage {i}");
            }
        }
    }

    #[test]
    fn contract_data_bounds_never_wrap() {
        let blob = [0u8; 130];
        let huge = U256::MAX;
        assert!(matches!(
            contract_signature_data(&blob, huge, U256::from(65)),
            Err(SignatureFault::LengthOutOfBounds { .. })
        ));
        let mut blob = vec![0u8; 65 + 32];
        blob[65..].copy_from_slice(&U256::MAX.to_be_bytes::<32>());
        assert!(matches!(
            contract_signature_data(&blob, U256::from(65), U256::from(65)),
            Err(SignatureFault::DataOutOfBounds { .. })
        ));
        assert!(matches!(
            contract_signature_data(&blob, U256::from(64), U256::from(65)),
            Err(SignatureFault::OffsetInsideStaticPart { .. })
        ));
        blob[65..].copy_from_slice(&U256::ZERO.to_be_bytes::<32>());
        assert_eq!(
            contract_signature_data(&blob, U256::from(65), U256::from(65)),
            Ok(&[][..])
        );
    }
}
