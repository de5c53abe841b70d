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
    /// The Safe implementation that proxies delegate to (L1 flavour: no extra events).
    Singleton,
    /// The L2 singleton: the same logic, emitting `SafeMultiSigTransaction` events for indexers.
    SingletonL2,
    /// MultiSend: a packed batch of calls, each CALL or DELEGATECALL.
    MultiSend,
    /// MultiSendCallOnly: a packed batch that refuses DELEGATECALL entries.
    MultiSendCallOnly,
    /// SignMessageLib: marks EIP-1271 messages as signed, by DELEGATECALL from the Safe.
    SignMessageLib,
    /// CreateCall: deploys contracts with CREATE or CREATE2, by DELEGATECALL from the Safe.
    CreateCall,
    /// SafeMigration (1.4.1+): rewrites the singleton and fallback handler, by DELEGATECALL.
    SafeMigration,
    /// SafeToL2Migration: moves a Safe to the L2 singleton, by DELEGATECALL.
    SafeToL2Migration,
    /// SafeToL2Setup: picks the L2 singleton during `setup` on chains other than mainnet.
    SafeToL2Setup,
    /// The default fallback handler from 1.3.0: token callbacks and EIP-1271 message checks.
    CompatibilityFallbackHandler,
    /// The 1.1.1 fallback handler: token receiver callbacks only.
    DefaultCallbackHandler,
    /// The 1.5.0 fallback handler whose method handlers the Safe configures.
    ExtensibleFallbackHandler,
    /// A fallback handler with token receiver callbacks only (1.5.0 deployments).
    TokenCallbackHandler,
    /// A helper for `simulateAndRevert` gas estimation; never a transaction target.
    SimulateTxAccessor,
    /// The factory that deploys Safe proxies.
    ProxyFactory,
    /// The ≤1.1.1 library that enables modules during `setup`.
    CreateAndAddModules,
}

/// Which address scheme a deployment uses (safe-deployments' `canonical`, `eip155`, `zksync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeploymentFlavor {
    /// The address every chain shares through the deterministic CREATE2 deployer.
    Canonical,
    /// The address from safe-deployments' EIP-155 replay-protected deployer, for chains the
    /// canonical deployer does not reach.
    Eip155,
    /// The address on zkSync-family chains, whose CREATE2 derives addresses differently.
    Zksync,
}

/// One deployed contract at a known address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Which contract this is.
    pub contract: SafeContract,
    /// The Safe release it ships with.
    pub version: SafeVersion,
    /// Which address scheme placed it.
    pub flavor: DeploymentFlavor,
    /// Where it is deployed.
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
