//! Safe contract versions and what each one accepts.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A released Safe singleton version whose hashing and signature rules signgate knows exactly.
///
/// The differences that matter for a signer are captured as methods, so callers never compare
/// version numbers themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SafeVersion {
    /// 0.1.0: the first release; its SafeTx typehash names `dataGas`, and it knows neither eth_sign
    /// signatures nor the zero-threshold check.
    #[serde(rename = "0.1.0")]
    V0_1_0,
    /// 1.0.0: `baseGas` replaces `dataGas`; still no eth_sign and no zero-threshold check.
    #[serde(rename = "1.0.0")]
    V1_0_0,
    /// 1.1.1: accepts eth_sign signatures (v = 31/32) and refuses a zero threshold (GS001).
    #[serde(rename = "1.1.1")]
    V1_1_1,
    /// 1.2.0: the last version without `chainId` in its domain and with `changeMasterCopy`.
    #[serde(rename = "1.2.0")]
    V1_2_0,
    /// 1.3.0: `chainId` in the domain, the transaction guard, public `checkSignatures`.
    #[serde(rename = "1.3.0")]
    V1_3_0,
    /// 1.4.1: also ties contract-signature `data` to `dataHash` (GS027).
    #[serde(rename = "1.4.1")]
    V1_4_1,
    /// 1.5.0: the module guard, bytes32 EIP-1271 checks and an explicit `executor` argument.
    #[serde(rename = "1.5.0")]
    V1_5_0,
}

impl SafeVersion {
    /// Every supported version, oldest first.
    pub const ALL: [SafeVersion; 7] = [
        Self::V0_1_0,
        Self::V1_0_0,
        Self::V1_1_1,
        Self::V1_2_0,
        Self::V1_3_0,
        Self::V1_4_1,
        Self::V1_5_0,
    ];

    /// The version string as the contract's `VERSION()` returns it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V0_1_0 => "0.1.0",
            Self::V1_0_0 => "1.0.0",
            Self::V1_1_1 => "1.1.1",
            Self::V1_2_0 => "1.2.0",
            Self::V1_3_0 => "1.3.0",
            Self::V1_4_1 => "1.4.1",
            Self::V1_5_0 => "1.5.0",
        }
    }

    /// Whether the EIP-712 domain includes `chainId` (from 1.3.0 on). Legacy domains make the same
    /// signature valid on every chain where a Safe with this address exists.
    pub const fn domain_has_chain_id(self) -> bool {
        matches!(self, Self::V1_3_0 | Self::V1_4_1 | Self::V1_5_0)
    }

    /// The chain a signature over this version's safeTxHash is valid on: `chain_id` itself, or
    /// 0 for "every chain" when the domain omits the chain id (before 1.3.0). Whatever keeps one
    /// transaction per nonce (the gateway's nonce reservations, a signer's double-sign ledger)
    /// must key by this, or one Safe address on two chains gets two transactions signed for
    /// one nonce, each executable on both chains.
    pub const fn signature_chain(self, chain_id: u64) -> u64 {
        if self.domain_has_chain_id() {
            chain_id
        } else {
            0
        }
    }

    /// Whether the SafeTx typehash names `dataGas` instead of `baseGas` (0.1.0 only).
    pub const fn uses_data_gas_typehash(self) -> bool {
        matches!(self, Self::V0_1_0)
    }

    /// Whether `eth_sign` signatures (v = 31/32) are accepted; added in 1.1.0.
    pub const fn accepts_eth_sign(self) -> bool {
        !matches!(self, Self::V0_1_0 | Self::V1_0_0)
    }

    /// Whether EIP-1271 contract signatures are checked with `isValidSignature(bytes32,bytes)`
    /// (1.5.0) rather than the legacy `isValidSignature(bytes,bytes)` over the 66-byte preimage.
    pub const fn uses_bytes32_eip1271(self) -> bool {
        matches!(self, Self::V1_5_0)
    }

    /// Whether `checkSignatures` refuses a zero threshold (GS001; from 1.1.1 on).
    pub const fn checks_zero_threshold(self) -> bool {
        !matches!(self, Self::V0_1_0 | Self::V1_0_0)
    }

    /// Whether the Safe has a transaction guard slot (1.3.0 on).
    pub const fn has_guard(self) -> bool {
        self.domain_has_chain_id()
    }

    /// Whether the Safe has a module guard slot (1.5.0 only).
    pub const fn has_module_guard(self) -> bool {
        matches!(self, Self::V1_5_0)
    }

    /// Whether `changeMasterCopy(address)` exists as a self-call (≤ 1.2.0).
    pub const fn has_change_master_copy(self) -> bool {
        !self.domain_has_chain_id()
    }

    /// Whether `checkSignatures`/`checkNSignatures` are public (1.3.0 on), so a differential test
    /// can call them directly instead of going through `execTransaction`.
    pub const fn has_public_check_signatures(self) -> bool {
        self.domain_has_chain_id()
    }
}

impl fmt::Display for SafeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string that names no supported Safe release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported Safe version {0:?}: expected one of 0.1.0, 1.0.0, 1.1.1, 1.2.0, 1.3.0, 1.4.1, 1.5.0"
)]
pub struct UnknownVersion(pub String);

impl FromStr for SafeVersion {
    type Err = UnknownVersion;

    /// Accepts `1.3.0`, `v1.3.0` and the Transaction Service's `1.3.0+L2` spelling (the L2
    /// singleton hashes and checks signatures exactly like its base version).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
        let bare = bare.strip_suffix("+L2").unwrap_or(bare);
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == bare)
            .ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spellings_custody_feeds_use() {
        assert_eq!("1.3.0".parse(), Ok(SafeVersion::V1_3_0));
        assert_eq!("v1.1.1".parse(), Ok(SafeVersion::V1_1_1));
        assert_eq!("1.3.0+L2".parse(), Ok(SafeVersion::V1_3_0));
        assert!("1.4.0".parse::<SafeVersion>().is_err());
    }

    #[test]
    fn domain_rules_follow_the_contracts() {
        assert!(!SafeVersion::V1_2_0.domain_has_chain_id());
        assert!(SafeVersion::V1_3_0.domain_has_chain_id());
        assert!(!SafeVersion::V1_0_0.accepts_eth_sign());
        assert!(SafeVersion::V1_1_1.accepts_eth_sign());
    }
}
