//! Wallets (Safes) the policy governs, their tags and the assets they hold.

use std::{fmt, str::FromStr};

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

/// What moves: the chain's native coin or a token contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Asset {
    /// ETH (or the chain's native coin).
    Native,
    /// An ERC-20 token contract.
    Token(Address),
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("native"),
            Self::Token(a) => write!(f, "{a}"),
        }
    }
}

/// An asset that is neither `native` nor an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither `native` nor a token address")]
pub struct AssetError(pub String);

impl FromStr for Asset {
    type Err = AssetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("native") {
            return Ok(Self::Native);
        }
        s.parse::<Address>()
            .map(Self::Token)
            .map_err(|_| AssetError(s.to_owned()))
    }
}

impl Serialize for Asset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Asset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An asset as a wallet declares it: the symbol authors use and the decimals amounts need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSpec {
    /// The symbol policy authors use for the asset in tiers and velocity limits.
    pub symbol: String,
    /// The native coin or the token contract.
    pub asset: Asset,
    /// The token's decimals: the scale between the human amounts of the policy file and the
    /// base units on chain.
    pub decimals: u8,
}

/// One governed Safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// The wallet's name in the policy; how tiers, operators and velocity limits refer to it.
    pub name: String,
    /// The EIP-155 chain id the Safe is on.
    pub chain_id: u64,
    /// The Safe's address.
    pub safe: Address,
    /// Sorted, deduplicated.
    pub tags: Vec<String>,
    /// The assets the wallet declares; a movement of any other asset is denied.
    pub assets: Vec<AssetSpec>,
}

impl Wallet {
    /// Whether the wallet carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The declared asset, if any. An undeclared asset has no decimals, so no amount rule can
    /// be evaluated for it: callers deny.
    pub fn asset(&self, asset: Asset) -> Option<&AssetSpec> {
        self.assets.iter().find(|a| a.asset == asset)
    }

    /// The declared asset with this symbol.
    pub fn asset_by_symbol(&self, symbol: &str) -> Option<&AssetSpec> {
        self.assets.iter().find(|a| a.symbol == symbol)
    }
}

impl crate::compile::Policy {
    /// The assets whose symbols and decimals this policy vouches for on `chain_id`, the wallet
    /// of `safe` first, each token once: what amounts are shown in (see
    /// [`signgate_simulator::render::AssetBook`]).
    pub fn named_assets(
        &self,
        chain_id: u64,
        safe: Address,
    ) -> Vec<signgate_simulator::render::PolicyAsset> {
        let mut wallets: Vec<&Wallet> = self
            .wallets()
            .iter()
            .filter(|w| w.chain_id == chain_id)
            .collect();
        wallets.sort_by_key(|w| w.safe != safe);
        let mut out: Vec<signgate_simulator::render::PolicyAsset> = Vec::new();
        for spec in wallets.iter().flat_map(|w| &w.assets) {
            let token = match spec.asset {
                Asset::Native => None,
                Asset::Token(t) => Some(t),
            };
            if !out.iter().any(|a| a.token == token) {
                out.push(signgate_simulator::render::PolicyAsset {
                    token,
                    symbol: spec.symbol.clone(),
                    decimals: spec.decimals,
                });
            }
        }
        out
    }
}
