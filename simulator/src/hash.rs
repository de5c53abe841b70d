//! EIP-712 hashing of a [`SafeTx`], exact for every supported Safe version.
//!
//! This is what a hardware wallet shows and what the owners sign. signgate never takes a
//! safeTxHash from a UI or the Transaction Service: it recomputes it here and compares.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use serde::{Deserialize, Serialize};

use crate::{constants, tx::SafeTx, version::SafeVersion};

/// The three hashes a signer should see, plus the 66-byte preimage the legacy EIP-1271 check
/// receives (`encodeTransactionData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeTxHashes {
    /// `domainSeparator()` of the Safe (the proxy address is the verifying contract).
    pub domain_separator: B256,
    /// The EIP-712 struct hash ("message hash" on hardware wallets).
    pub struct_hash: B256,
    /// `0x19 ‖ 0x01 ‖ domainSeparator ‖ structHash`.
    pub preimage: Bytes,
    /// `keccak256(preimage)`: `getTransactionHash`, the value every owner signature covers.
    pub safe_tx_hash: B256,
}

/// Identifies one Safe on one chain, the context every hash and decoding depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeContext {
    /// The chain id; part of the EIP-712 domain from 1.3.0 on, and what the simulation runs with.
    pub chain_id: u64,
    /// The Safe proxy's address (the domain's `verifyingContract`).
    pub safe: Address,
    /// The singleton version the proxy runs, which picks the domain and typehash rules.
    pub version: SafeVersion,
}

/// The EIP-712 domain separator of `safe` on `chain_id` for `version`.
///
/// Up to 1.2.0 the domain has no chain id (the value the singleton stored in slot 6 at setup);
/// from 1.3.0 on it is recomputed on every call with `chainid()`.
pub fn domain_separator(version: SafeVersion, chain_id: u64, safe: Address) -> B256 {
    if version.domain_has_chain_id() {
        let mut buf = [0u8; 96];
        buf[..32].copy_from_slice(constants::chain_domain_typehash().as_slice());
        buf[32..64].copy_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
        buf[64..].copy_from_slice(safe.into_word().as_slice());
        keccak256(buf)
    } else {
        let mut buf = [0u8; 64];
        buf[..32].copy_from_slice(constants::legacy_domain_typehash().as_slice());
        buf[32..].copy_from_slice(safe.into_word().as_slice());
        keccak256(buf)
    }
}

/// The EIP-712 struct hash of `tx`: eleven 32-byte words, with `data` replaced by its hash.
pub fn struct_hash(version: SafeVersion, tx: &SafeTx) -> B256 {
    let typehash = if version.uses_data_gas_typehash() {
        constants::safe_tx_data_gas_typehash()
    } else {
        constants::safe_tx_typehash()
    };
    let words: [B256; 11] = [
        typehash,
        tx.to.into_word(),
        tx.value.into(),
        keccak256(&tx.data),
        U256::from(tx.operation.as_u8()).into(),
        tx.safe_tx_gas.into(),
        tx.base_gas.into(),
        tx.gas_price.into(),
        tx.gas_token.into_word(),
        tx.refund_receiver.into_word(),
        tx.nonce.into(),
    ];
    let mut buf = [0u8; 352];
    for (chunk, word) in buf.chunks_exact_mut(32).zip(words.iter()) {
        chunk.copy_from_slice(word.as_slice());
    }
    keccak256(buf)
}

/// Computes every hash of `tx` for the Safe described by `ctx`.
pub fn safe_tx_hashes(ctx: &SafeContext, tx: &SafeTx) -> SafeTxHashes {
    let domain_separator = domain_separator(ctx.version, ctx.chain_id, ctx.safe);
    let struct_hash = struct_hash(ctx.version, tx);
    let mut preimage = Vec::with_capacity(66);
    preimage.extend_from_slice(&[0x19, 0x01]);
    preimage.extend_from_slice(domain_separator.as_slice());
    preimage.extend_from_slice(struct_hash.as_slice());
    let safe_tx_hash = keccak256(&preimage);
    SafeTxHashes {
        domain_separator,
        struct_hash,
        preimage: preimage.into(),
        safe_tx_hash,
    }
}

/// The safeTxHash alone.
pub fn safe_tx_hash(ctx: &SafeContext, tx: &SafeTx) -> B256 {
    safe_tx_hashes(ctx, tx).safe_tx_hash
}

/// The digest an `eth_sign` (v = 31/32) signature covers:
/// `keccak256("\x19Ethereum Signed Message:\n32" ‖ safeTxHash)`.
pub fn eth_sign_digest(safe_tx_hash: B256) -> B256 {
    alloy_primitives::eip191_hash_message(safe_tx_hash)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256, bytes};

    use super::*;
    use crate::tx::Operation;

    fn bybit_malicious() -> SafeTx {
        SafeTx {
            to: address!("0x96221423681A6d52E184D440a8eFCEbB105C7242"),
            value: U256::ZERO,
            data: bytes!(
                "0xa9059cbb000000000000000000000000bdd077f651ebe7f7b3ce16fe5f2b025be29695160000000000000000000000000000000000000000000000000000000000000000"
            ),
            operation: Operation::DelegateCall,
            safe_tx_gas: U256::from(45746),
            base_gas: U256::ZERO,
            gas_price: U256::ZERO,
            gas_token: Address::ZERO,
            refund_receiver: Address::ZERO,
            nonce: U256::from(71),
        }
    }

    #[test]
    fn bybit_legacy_domain_and_hashes() {
        let ctx = SafeContext {
            chain_id: 1,
            safe: address!("0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"),
            version: SafeVersion::V1_1_1,
        };
        let h = safe_tx_hashes(&ctx, &bybit_malicious());
        assert_eq!(
            h.domain_separator,
            b256!("0xb3ded2bdbff5db1a87f6d551fa256e9f2bd6517a3bb84f4c2ea863fb3a559622")
        );
        assert_eq!(
            h.struct_hash,
            b256!("0xea68fc75e93bf7286b1257680ca8e2033bfadd8e1cb8a23f3ca18f1031ecf1e0")
        );
        assert_eq!(
            h.safe_tx_hash,
            b256!("0xb3476d061aeb8fc1d605a873c483a2402d88a68a9cdd1a8b47655dd55ba004f8")
        );
        assert_eq!(h.preimage.len(), 66);
    }

    #[test]
    fn wazirx_chain_id_domain() {
        assert_eq!(
            domain_separator(
                SafeVersion::V1_3_0,
                1,
                address!("0x27fD43BABfbe83a81d14665b1a6fB8030A60C9b4")
            ),
            b256!("0xa630c4b736c54422250992ab01205a95e6824e0c34a2ab8d4406521b3d6da09a")
        );
    }
}
