//! Where the Safe contracts live: canonical deployments per version, and the other well-known
//! contracts the decoder recognises by address.
//!
//! Recognition is by address *and* the table records the expected code hash, so a simulation can
//! confirm that the code at a "canonical" address is really the canonical code.

mod table;

use alloy_primitives::{Address, B256, address};
use serde::{Deserialize, Serialize};

use crate::version::SafeVersion;

/// The contract families the Safe project deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SafeContract {
    Singleton,
    SingletonL2,
    MultiSend,
    MultiSendCallOnly,
    SignMessageLib,
    CreateCall,
    SafeMigration,
    SafeToL2Migration,
    SafeToL2Setup,
    CompatibilityFallbackHandler,
    DefaultCallbackHandler,
    ExtensibleFallbackHandler,
    TokenCallbackHandler,
    SimulateTxAccessor,
    ProxyFactory,
    CreateAndAddModules,
}

/// Which address scheme a deployment uses (safe-deployments' `canonical`, `eip155`, `zksync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeploymentFlavor {
    Canonical,
    Eip155,
    Zksync,
}

/// One deployed contract at a known address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub contract: SafeContract,
    pub version: SafeVersion,
    pub flavor: DeploymentFlavor,
    pub address: Address,
    /// `keccak256` of the runtime code, where safe-deployments records it.
    pub code_hash: Option<B256>,
}

/// Uniswap's Permit2, deployed at the same address on every major chain.
pub const PERMIT2: Address = address!("0x000000000022D473030F116dDEE9F6B43aC78BA3");

/// Every known Safe deployment.
pub fn all() -> &'static [Deployment] {
    table::DEPLOYMENTS
}

/// The Safe deployment at `address`, if it is one.
pub fn lookup(address: Address) -> Option<&'static Deployment> {
    table::DEPLOYMENTS.iter().find(|d| d.address == address)
}

/// Deployments of one contract family, across versions and flavours.
pub fn of(contract: SafeContract) -> impl Iterator<Item = &'static Deployment> {
    table::DEPLOYMENTS
        .iter()
        .filter(move |d| d.contract == contract)
}

/// The canonical address of `contract` for `version`, if that version ships it.
pub fn canonical(contract: SafeContract, version: SafeVersion) -> Option<Address> {
    table::DEPLOYMENTS
        .iter()
        .find(|d| {
            d.contract == contract
                && d.version == version
                && d.flavor == DeploymentFlavor::Canonical
        })
        .map(|d| d.address)
}

impl SafeContract {
    /// Whether a DELEGATECALL into this contract is the intended use and safe by construction:
    /// MultiSendCallOnly (cannot nest a delegatecall), SignMessageLib, CreateCall and
    /// SafeMigration. Plain MultiSend is deliberately absent: it can carry nested delegatecalls.
    pub const fn is_trusted_delegate_target(self) -> bool {
        matches!(
            self,
            Self::MultiSendCallOnly | Self::SignMessageLib | Self::CreateCall | Self::SafeMigration
        )
    }

    /// Whether this contract decodes as a batch of `multiSend` entries.
    pub const fn is_batch(self) -> bool {
        matches!(self, Self::MultiSend | Self::MultiSendCallOnly)
    }
}

impl Deployment {
    /// Whether this MultiSend deployment treats `to = address(0)` as the Safe itself (1.5.0 on).
    pub fn batch_zero_to_is_self(&self) -> bool {
        self.contract.is_batch() && self.version >= SafeVersion::V1_5_0
    }
}
