//! What the initiator says the transaction is for.

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use signgate_policy::wallets::Asset;

/// The initiator's declared intent, parsed. Effects outside it deny (the Bybit signers believed
/// they approved a transfer); a transfer is declared only when both recipient and amount are
/// given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredIntent {
    /// Free text shown to approvers.
    pub description: String,
    /// The expected recipient of value.
    pub recipient: Option<Address>,
    /// The expected asset; `None`: not named (a declared transfer is then native).
    pub asset: Option<IntentAsset>,
    /// The expected amount in the asset's base units.
    pub amount: Option<U256>,
}

/// The asset of a declared transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentAsset {
    /// The chain's native coin.
    Native,
    /// A token contract.
    Token(Address),
}

impl From<IntentAsset> for Asset {
    fn from(a: IntentAsset) -> Self {
        match a {
            IntentAsset::Native => Self::Native,
            IntentAsset::Token(t) => Self::Token(t),
        }
    }
}
