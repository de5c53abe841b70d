//! The Safe transaction as its signers sign it.

use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};

/// How the Safe executes the call: `Call` runs `to` in its own context, `DelegateCall` runs `to`'s
/// code against the Safe's own storage (the Bybit vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `0`: the Safe CALLs `to`; `to` runs on its own storage.
    Call,
    /// `1`: the Safe DELEGATECALLs `to`; `to`'s code runs on the Safe's storage and can rewrite
    /// owners, modules or the singleton.
    DelegateCall,
}

impl Operation {
    /// The `Enum.Operation` value the contracts use.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Call => 0,
            Self::DelegateCall => 1,
        }
    }

    /// Parses the contract value; anything but 0 and 1 is refused, since `execTransaction` reverts
    /// on it while 1.5.0's `getTransactionHash` would still hash it.
    pub const fn from_u8(value: u8) -> Result<Self, InvalidOperation> {
        match value {
            0 => Ok(Self::Call),
            1 => Ok(Self::DelegateCall),
            other => Err(InvalidOperation(other)),
        }
    }

    /// The wording an operator reads.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Call => "CALL",
            Self::DelegateCall => "DELEGATECALL",
        }
    }
}

/// An operation byte outside {0, 1}.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("operation {0} is neither CALL (0) nor DELEGATECALL (1)")]
pub struct InvalidOperation(pub u8);

/// The ten fields of a Safe transaction, exactly as `execTransaction` and the EIP-712 `SafeTx`
/// struct take them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeTx {
    /// The address the Safe calls or delegatecalls.
    pub to: Address,
    /// Wei the Safe sends with the call (ignored by DELEGATECALL, which moves no ETH).
    pub value: U256,
    /// The calldata of the inner call; empty for a plain ETH transfer.
    pub data: Bytes,
    /// CALL or DELEGATECALL.
    pub operation: Operation,
    /// Gas reserved for the inner call: `execTransaction` reverts unless about 64/63 of it is left
    /// before the call. With a non-zero `gas_price` it is also the call's gas limit; with
    /// `gas_price` 0, 1.3.0+ forwards all remaining gas. From 1.3.0, non-zero lets the inner call
    /// fail without reverting the transaction (`ExecutionFailure`, nonce spent); older versions
    /// never revert on a failed inner call.
    pub safe_tx_gas: U256,
    /// Gas outside the inner call (signature checks, refund transfer) that the refund also pays for.
    pub base_gas: U256,
    /// Price per gas unit of the refund, in `gas_token` units; 0 means no refund is paid.
    pub gas_price: U256,
    /// The token the refund is paid in; zero is ETH.
    pub gas_token: Address,
    /// Who receives the refund; zero pays `tx.origin`.
    pub refund_receiver: Address,
    /// The Safe nonce the transaction executes at; signatures over another nonce do not verify.
    pub nonce: U256,
}

impl SafeTx {
    /// A plain call with no refund settings: the shape of almost every custody transfer.
    pub fn call(to: Address, value: U256, data: Bytes, nonce: U256) -> Self {
        Self {
            to,
            value,
            data,
            operation: Operation::Call,
            safe_tx_gas: U256::ZERO,
            base_gas: U256::ZERO,
            gas_price: U256::ZERO,
            gas_token: Address::ZERO,
            refund_receiver: Address::ZERO,
            nonce,
        }
    }

    /// Whether the refund settings can move value to someone: a non-zero `gasPrice` pays
    /// `(gasUsed + baseGas) * gasPrice` in `gasToken` to `refundReceiver` (or `tx.origin`).
    pub fn pays_refund(&self) -> bool {
        !self.gas_price.is_zero()
    }

    /// The most the Safe's `handlePayment` can pay for this transaction, in base units of the
    /// gas token; zero when `gasPrice` is zero. See [`max_refund`].
    pub fn max_refund(&self) -> U256 {
        max_refund(self.safe_tx_gas, self.base_gas, self.gas_price)
    }

    /// Whether the refund goes to a custom receiver or in a custom token while `gasPrice` is
    /// non-zero: a hidden value-transfer channel no ordinary custody transfer needs.
    pub fn has_hidden_refund_channel(&self) -> bool {
        self.pays_refund()
            && (self.gas_token != Address::ZERO || self.refund_receiver != Address::ZERO)
    }
}

/// Gas `execTransaction` can count into the refund's `gasUsed` beyond `safeTxGas`.
///
/// Every version from 1.0.0 measures `gasUsed` around the one `execute` call, and with a non-zero
/// `gasPrice` that call forwards exactly `safeTxGas` (1.3.0+: `gasPrice == 0 ? gasleft() - 2500 :
/// safeTxGas`; before: `safeTxGas == 0 && gasPrice == 0 ? gasleft() : safeTxGas`). What the
/// caller pays on top of the forwarded gas is the CALL's own charge: a cold target (2,600), an
/// EIP-7702 delegate's cold code (2,600), a value transfer (9,000), a new account (25,000), and
/// a few hundred gas of Solidity around it (the calldata is already in memory, the output is
/// empty, so no memory expansion). 40,000 bounds all of it with room to spare. Refunds of the
/// inner call (SSTORE clears) do not lower `gasleft()`, so they do not shrink `gasUsed` either.
pub const REFUND_CALL_OVERHEAD_GAS: u64 = 40_000;

/// The most `handlePayment` can pay: `(gasUsed + baseGas) × gasPrice` with `gasUsed` at most
/// `safeTxGas +` [`REFUND_CALL_OVERHEAD_GAS`]. In ETH the Safe pays
/// `min(gasPrice, tx.gasprice)` per gas, and the executor chooses `tx.gasprice`, so the worst
/// case is `gasPrice`; in a token it always pays `gasPrice`. Zero when `gas_price` is zero (no
/// refund). Saturates instead of overflowing: the Safe's checked arithmetic would revert there,
/// and a saturated amount is above any cap.
pub fn max_refund(safe_tx_gas: U256, base_gas: U256, gas_price: U256) -> U256 {
    if gas_price.is_zero() {
        return U256::ZERO;
    }
    safe_tx_gas
        .saturating_add(U256::from(REFUND_CALL_OVERHEAD_GAS))
        .saturating_add(base_gas)
        .saturating_mul(gas_price)
}
