//! Hash and storage constants of the Safe contracts, each computed from its preimage.
//!
//! Computing rather than pasting the values keeps one definition: the preimage is the spec, and
//! the unit tests pin the results to the values published in the Safe sources.

use alloy_primitives::{Address, B256, U256, address, keccak256};

/// `keccak256("EIP712Domain(address verifyingContract)")`: the domain up to 1.2.0.
pub const LEGACY_DOMAIN_TYPEHASH_PREIMAGE: &str = "EIP712Domain(address verifyingContract)";
/// `keccak256("EIP712Domain(uint256 chainId,address verifyingContract)")`: 1.3.0 on.
pub const CHAIN_DOMAIN_TYPEHASH_PREIMAGE: &str =
    "EIP712Domain(uint256 chainId,address verifyingContract)";
/// The SafeTx struct from 1.0.0 on.
pub const SAFE_TX_TYPEHASH_PREIMAGE: &str = "SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)";
/// The SafeTx struct of 0.1.0, which called `baseGas` `dataGas`.
pub const SAFE_TX_DATA_GAS_TYPEHASH_PREIMAGE: &str = "SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 dataGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)";

/// `keccak256` of [`LEGACY_DOMAIN_TYPEHASH_PREIMAGE`].
pub fn legacy_domain_typehash() -> B256 {
    keccak256(LEGACY_DOMAIN_TYPEHASH_PREIMAGE)
}

/// `keccak256` of [`CHAIN_DOMAIN_TYPEHASH_PREIMAGE`].
pub fn chain_domain_typehash() -> B256 {
    keccak256(CHAIN_DOMAIN_TYPEHASH_PREIMAGE)
}

/// `keccak256` of [`SAFE_TX_TYPEHASH_PREIMAGE`].
pub fn safe_tx_typehash() -> B256 {
    keccak256(SAFE_TX_TYPEHASH_PREIMAGE)
}

/// `keccak256` of [`SAFE_TX_DATA_GAS_TYPEHASH_PREIMAGE`].
pub fn safe_tx_data_gas_typehash() -> B256 {
    keccak256(SAFE_TX_DATA_GAS_TYPEHASH_PREIMAGE)
}

/// The head and tail of the owners and modules linked lists.
pub const SENTINEL: Address = address!("0x0000000000000000000000000000000000000001");

/// Storage slots of the singleton's state, which lives in the proxy (see `research/safe.md` §2.1).
pub mod slots {
    use super::*;

    /// `masterCopy` (≤1.2.0) / `singleton` (1.3.0 on): the code the proxy runs.
    pub const SINGLETON: U256 = U256::ZERO;
    /// `mapping(address => address) modules`.
    pub const MODULES_MAPPING: U256 = U256::from_limbs([1, 0, 0, 0]);
    /// `mapping(address => address) owners`.
    pub const OWNERS_MAPPING: U256 = U256::from_limbs([2, 0, 0, 0]);
    /// `uint256 ownerCount`.
    pub const OWNER_COUNT: U256 = U256::from_limbs([3, 0, 0, 0]);
    /// `uint256 threshold`.
    pub const THRESHOLD: U256 = U256::from_limbs([4, 0, 0, 0]);
    /// `uint256 nonce`.
    pub const NONCE: U256 = U256::from_limbs([5, 0, 0, 0]);
    /// `bytes32 domainSeparator` (≤1.2.0; unused afterwards).
    pub const DOMAIN_SEPARATOR: U256 = U256::from_limbs([6, 0, 0, 0]);
    /// `mapping(bytes32 => uint256) signedMessages`.
    pub const SIGNED_MESSAGES_MAPPING: U256 = U256::from_limbs([7, 0, 0, 0]);
    /// `mapping(address => mapping(bytes32 => uint256)) approvedHashes`.
    pub const APPROVED_HASHES_MAPPING: U256 = U256::from_limbs([8, 0, 0, 0]);

    /// `keccak256("fallback_manager.handler.address")` (1.1.0 on).
    pub fn fallback_handler() -> U256 {
        keccak256("fallback_manager.handler.address").into()
    }

    /// `keccak256("guard_manager.guard.address")` (1.3.0 on).
    pub fn guard() -> U256 {
        keccak256("guard_manager.guard.address").into()
    }

    /// `keccak256("module_manager.module_guard.address")` (1.5.0).
    pub fn module_guard() -> U256 {
        keccak256("module_manager.module_guard.address").into()
    }

    /// EIP-1967 implementation slot: `keccak256("eip1967.proxy.implementation") - 1`.
    pub fn eip1967_implementation() -> U256 {
        U256::from_be_bytes(keccak256("eip1967.proxy.implementation").0) - U256::from(1)
    }

    /// EIP-1967 admin slot: `keccak256("eip1967.proxy.admin") - 1`.
    pub fn eip1967_admin() -> U256 {
        U256::from_be_bytes(keccak256("eip1967.proxy.admin").0) - U256::from(1)
    }

    /// EIP-1967 beacon slot: `keccak256("eip1967.proxy.beacon") - 1`; a beacon proxy asks the
    /// contract stored here for its implementation.
    pub fn eip1967_beacon() -> U256 {
        U256::from_be_bytes(keccak256("eip1967.proxy.beacon").0) - U256::from(1)
    }

    /// EIP-1822 (UUPS) logic slot: `keccak256("PROXIABLE")`.
    pub fn eip1822_proxiable() -> U256 {
        keccak256("PROXIABLE").into()
    }

    /// Slot of `mapping[key]` for a mapping at `base`: `keccak256(abi.encode(key, base))`.
    pub fn mapping_slot(key: B256, base: U256) -> U256 {
        let mut buf = [0u8; 64];
        buf[..32].copy_from_slice(key.as_slice());
        buf[32..].copy_from_slice(&base.to_be_bytes::<32>());
        keccak256(buf).into()
    }

    /// Slot of `owners[owner]`.
    pub fn owner(owner: Address) -> U256 {
        mapping_slot(owner.into_word(), OWNERS_MAPPING)
    }

    /// Slot of `modules[module]`.
    pub fn module(module: Address) -> U256 {
        mapping_slot(module.into_word(), MODULES_MAPPING)
    }

    /// Slot of `approvedHashes[owner][hash]`.
    pub fn approved_hash(owner: Address, hash: B256) -> U256 {
        let inner = mapping_slot(owner.into_word(), APPROVED_HASHES_MAPPING);
        mapping_slot(hash, inner)
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::b256;

    use super::*;

    #[test]
    fn typehashes_match_the_published_values() {
        assert_eq!(
            legacy_domain_typehash(),
            b256!("0x035aff83d86937d35b32e04f0ddc6ff469290eef2f1b692d8a815c89404d4749")
        );
        assert_eq!(
            chain_domain_typehash(),
            b256!("0x47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218")
        );
        assert_eq!(
            safe_tx_typehash(),
            b256!("0xbb8310d486368db6bd6f849402fdd73ad53d316b5a4b2644ad6efe0f941286d8")
        );
        assert_eq!(
            safe_tx_data_gas_typehash(),
            b256!("0x14d461bc7412367e924637b363c7bf29b8f47e2f84869f4426e5633d8af47b20")
        );
    }

    #[test]
    fn fixed_slots_match_the_published_values() {
        let word = |s: U256| B256::from(s.to_be_bytes::<32>());
        assert_eq!(
            word(slots::fallback_handler()),
            b256!("0x6c9a6c4a39284e37ed1cf53d337577d14212a4870fb976a4366c693b939918d5")
        );
        assert_eq!(
            word(slots::guard()),
            b256!("0x4a204f620c8c5ccdca3fd54d003badd85ba500436a431f0cbda4f558c93c34c8")
        );
        assert_eq!(
            word(slots::module_guard()),
            b256!("0xb104e0b93118902c651344349b610029d694cfdec91c589c91ebafbcd0289947")
        );
        assert_eq!(
            word(slots::eip1967_implementation()),
            b256!("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc")
        );
        assert_eq!(
            word(slots::eip1967_admin()),
            b256!("0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103")
        );
        assert_eq!(
            word(slots::eip1967_beacon()),
            b256!("0xa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50")
        );
        assert_eq!(
            word(slots::eip1822_proxiable()),
            b256!("0xc5f16f0fcc639fa48a6947836d9850f504798523bf8c9a3a87d5876cf622bcf7")
        );
        assert_eq!(
            word(slots::owner(SENTINEL)),
            b256!("0xe90b7bceb6e7df5418fb78d8ee546e97c83a08bbccc01a0644d599ccd2a7c2e0")
        );
        assert_eq!(
            word(slots::module(SENTINEL)),
            b256!("0xcc69885fda6bcc1a4ace058b4a62bf5e179ea78fd58a1ccd71c22cc9b688792f")
        );
        assert_eq!(
            word(slots::owner(address!(
                "0x1F4EB0a903619ac168b19A82F1a6e2e426522211"
            ))),
            b256!("0x7e288124c0c86c79547d75a4b32f7c4a5715346ea09550375ad27e528048636e")
        );
    }
}
