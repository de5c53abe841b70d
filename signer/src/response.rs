//! The answer to a release ticket, both sides: what a signer returns ([`answer`]) and what the
//! gateway accepts from any backend ([`check`]).
//!
//! The gateway does not trust a backend's answer: the signature must be a 65-byte ECDSA
//! signature with v = 27/28 (the form Safe's `checkSignatures` reads as an EIP-712 owner
//! signature), over exactly the hash the gateway released, recovering to the owner the
//! backend names. Keeping both sides here means the form the reference signer produces is the
//! form the gateway checks.

use std::str::FromStr;

use alloy_primitives::{Address, B256, Signature};
use signgate_proto::v1 as pb;

/// Why a backend's answer was not accepted; the gateway reports it per backend in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// `safe_tx_hash` is not a 0x-hex hash.
    #[error("unreadable safe_tx_hash")]
    UnreadableHash,
    /// The backend signed another hash than the one released.
    #[error("signed {signed:#x}, not the released {released:#x}")]
    OtherHash {
        /// What the backend says it signed.
        signed: B256,
        /// What the gateway released.
        released: B256,
    },
    /// `owner` is not an address.
    #[error("unreadable owner")]
    UnreadableOwner,
    /// No signature bytes.
    #[error("empty signature")]
    Empty,
    /// Not the 65-byte form with v = 27/28.
    #[error("not a 65-byte EIP-712 signature with v = 27/28")]
    NotEip712,
    /// The bytes do not parse as a signature.
    #[error("signature: {0}")]
    Unparsable(String),
    /// No key recovers from the signature.
    #[error("recovery: {0}")]
    Recovery(String),
    /// The signature recovers to someone else.
    #[error("signature recovers to {recovered}, not the claimed owner {owner}")]
    OtherSigner {
        /// Who actually signed.
        recovered: Address,
        /// Who the backend claimed.
        owner: Address,
    },
}

/// A signer's answer: `owner`'s `signature` over `safe_tx_hash`.
pub fn answer(owner: Address, signature: &Signature, safe_tx_hash: B256) -> pb::SignResponse {
    pb::SignResponse {
        owner: owner.to_checksum(None),
        signature: signature.as_bytes().to_vec(),
        safe_tx_hash: format!("{safe_tx_hash:#x}"),
    }
}

/// Checks an answer: the backend's signature must be a 27/28 ECDSA signature over `expected`
/// that recovers to the owner it names. Returns that owner and the signature.
pub fn check(
    resp: &pb::SignResponse,
    expected: B256,
) -> Result<(Address, Signature), ResponseError> {
    let hash = B256::from_str(&resp.safe_tx_hash).map_err(|_| ResponseError::UnreadableHash)?;
    if hash != expected {
        return Err(ResponseError::OtherHash {
            signed: hash,
            released: expected,
        });
    }
    let owner = Address::from_str(&resp.owner).map_err(|_| ResponseError::UnreadableOwner)?;
    let [.., v] = resp.signature.as_slice() else {
        return Err(ResponseError::Empty);
    };
    if resp.signature.len() != 65 || !matches!(v, 27 | 28) {
        return Err(ResponseError::NotEip712);
    }
    let sig = Signature::from_raw(&resp.signature)
        .map_err(|e| ResponseError::Unparsable(e.to_string()))?;
    let recovered = sig
        .recover_address_from_prehash(&expected)
        .map_err(|e| ResponseError::Recovery(e.to_string()))?;
    if recovered != owner {
        return Err(ResponseError::OtherSigner { recovered, owner });
    }
    Ok((owner, sig))
}

#[cfg(test)]
mod tests {
    use alloy_signer::SignerSync as _;
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    #[test]
    fn the_answer_a_signer_gives_is_the_answer_the_gateway_accepts() {
        let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x11)).unwrap();
        let hash = B256::repeat_byte(0x22);
        let sig = key.sign_hash_sync(&hash).unwrap();
        let resp = answer(key.address(), &sig, hash);
        assert_eq!(check(&resp, hash), Ok((key.address(), sig)));

        assert!(matches!(
            check(&resp, B256::repeat_byte(0x33)),
            Err(ResponseError::OtherHash { .. })
        ));
        let mut other_owner = resp.clone();
        other_owner.owner = Address::repeat_byte(1).to_checksum(None);
        assert!(matches!(
            check(&other_owner, hash),
            Err(ResponseError::OtherSigner { .. })
        ));
        let mut eip155 = resp.clone();
        if let Some(v) = eip155.signature.last_mut() {
            *v = 0;
        }
        assert_eq!(check(&eip155, hash), Err(ResponseError::NotEip712));
        let mut empty = resp;
        empty.signature.clear();
        assert_eq!(check(&empty, hash), Err(ResponseError::Empty));
    }
}
