//! Why a proposal is denied or still waiting, as typed data with stable codes.
//!
//! Each [`Reason`] names the rule, carries the evidence it acted on, and its `Display` says in
//! plain words what happened and, where anything can, what would let the proposal pass.
//! `code()` is the stable identifier used in the proto and the audit log; it never changes
//! once published.

use std::fmt;

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{
    amount::format_units,
    approvals::NotCounted,
    evidence::{SafeChangeKind, SimulationOutcome},
    operators::{OperatorId, OperatorStatus, Probation, Role},
    wallets::Asset,
};

/// One reason to deny. Any one of them denies, whatever the approvals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Reason {
    SanctionedAddress {
        address: Address,
        list: String,
        entry: String,
        location: String,
    },
    CannotScreen {
        reason: String,
    },
    SingletonChanged {
        safe: Address,
        from: Address,
        to: Address,
        code_hash: Option<B256>,
    },
    ImplementationChanged {
        proxy: Address,
        from: Address,
        to: Address,
        code_hash: Option<B256>,
    },
    DelegatecallNotAllowlisted {
        target: Address,
        code_hash: Option<B256>,
        location: String,
    },
    SimulationFailed {
        outcome: SimulationOutcome,
    },
    SimulationMismatch {
        proposed: B256,
        simulated: Option<B256>,
    },
    HiddenRefund {
        gas_price: U256,
        gas_token: Address,
        refund_receiver: Address,
    },
    OutsideIntent {
        intent: String,
        deviation: IntentDeviation,
    },
    VelocityExceeded {
        wallet: String,
        asset: String,
        decimals: u8,
        window_hours: u64,
        spent: U256,
        proposed: U256,
        limit: U256,
    },
    VelocityTotalMissing {
        wallet: String,
        asset: String,
        window_hours: u64,
    },
    UnknownWallet {
        chain_id: u64,
        safe: Address,
    },
    UnknownAsset {
        wallet: String,
        asset: Asset,
        location: String,
    },
    NoTier {
        wallet: String,
        facet: String,
        cooling_off_until: Option<crate::time::Timestamp>,
    },
    InitiatorUnknown {
        initiator: OperatorId,
    },
    InitiatorInactive {
        initiator: OperatorId,
        status: OperatorStatus,
    },
    InitiatorNotOnWallet {
        initiator: OperatorId,
        wallet: String,
    },
    InitiatorProbationary {
        initiator: OperatorId,
        wallet: String,
        tag: String,
        probation: Probation,
    },
    Rejected {
        operator: OperatorId,
    },
    ArithmeticOverflow {
        context: String,
    },
}

/// How the simulated effects differ from the initiator's declared intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "deviation")]
pub enum IntentDeviation {
    UndeclaredOutflow {
        asset: Asset,
        to: Address,
        amount: U256,
    },
    ExcessOutflow {
        asset: Asset,
        to: Address,
        declared: U256,
        actual: U256,
    },
    MissingTransfer {
        asset: Asset,
        to: Address,
        amount: U256,
    },
    UndeclaredSafeChange {
        kind: SafeChangeKind,
    },
    UndeclaredUpgrade {
        proxy: Address,
    },
    UndeclaredDelegatecall {
        target: Address,
    },
}

impl fmt::Display for IntentDeviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UndeclaredOutflow { asset, to, amount } => {
                write!(
                    f,
                    "sends {amount} base units of {asset} to {to}, which was not declared"
                )
            }
            Self::ExcessOutflow {
                asset,
                to,
                declared,
                actual,
            } => {
                write!(
                    f,
                    "sends {actual} base units of {asset} to {to}, more than the declared {declared}"
                )
            }
            Self::MissingTransfer { asset, to, amount } => {
                write!(
                    f,
                    "the declared transfer of {amount} base units of {asset} to {to} does not happen"
                )
            }
            Self::UndeclaredSafeChange { kind } => {
                write!(f, "changes the Safe's {}", kind.as_str())
            }
            Self::UndeclaredUpgrade { proxy } => write!(f, "changes the implementation of {proxy}"),
            Self::UndeclaredDelegatecall { target } => {
                write!(f, "runs code of {target} by DELEGATECALL")
            }
        }
    }
}

impl Reason {
    /// The stable code of this reason.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::SanctionedAddress { .. } => "sanctions.listed_address",
            Self::CannotScreen { .. } => "sanctions.cannot_screen",
            Self::SingletonChanged { .. } => "upgrade.singleton_changed",
            Self::ImplementationChanged { .. } => "upgrade.implementation_changed",
            Self::DelegatecallNotAllowlisted { .. } => "delegatecall.not_allowlisted",
            Self::SimulationFailed { .. } => "simulation.failed",
            Self::SimulationMismatch { .. } => "simulation.mismatch",
            Self::HiddenRefund { .. } => "refund.hidden_channel",
            Self::OutsideIntent { .. } => "intent.outside",
            Self::VelocityExceeded { .. } => "velocity.exceeded",
            Self::VelocityTotalMissing { .. } => "velocity.total_missing",
            Self::UnknownWallet { .. } => "wallet.unknown",
            Self::UnknownAsset { .. } => "asset.unknown",
            Self::NoTier { .. } => "tier.none",
            Self::InitiatorUnknown { .. } => "initiator.unknown",
            Self::InitiatorInactive { .. } => "initiator.inactive",
            Self::InitiatorNotOnWallet { .. } => "initiator.not_on_wallet",
            Self::InitiatorProbationary { .. } => "probation.initiator",
            Self::Rejected { .. } => "approval.rejected",
            Self::ArithmeticOverflow { .. } => "arithmetic.overflow",
        }
    }

    /// Whether this reason exists only because someone or something is on probation: a new
    /// hire or new key initiating, or a destination inside its address-book cooling-off
    /// period (an address on probation). These, and only these, lapse as time passes.
    pub const fn is_probation(&self) -> bool {
        matches!(
            self,
            Self::InitiatorProbationary { .. }
                | Self::NoTier {
                    cooling_off_until: Some(_),
                    ..
                }
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ", self.code())?;
        match self {
            Self::SanctionedAddress {
                address,
                list,
                entry,
                location,
            } => write!(
                f,
                "{address} at {location} is on the {list} list (entry {entry}); no quorum can approve a transaction that touches a listed address"
            ),
            Self::CannotScreen { reason } => write!(
                f,
                "addresses could not be screened ({reason}); retry once the sanctions lists are current"
            ),
            Self::SingletonChanged {
                safe,
                from,
                to,
                code_hash,
            } => write!(
                f,
                "the transaction changes the singleton of Safe {safe} from {from} to {to} (code hash {}); only an upgrade declared in the policy with that exact implementation and code hash can pass",
                opt_hash(code_hash)
            ),
            Self::ImplementationChanged {
                proxy,
                from,
                to,
                code_hash,
            } => write!(
                f,
                "the transaction changes the implementation of proxy {proxy} from {from} to {to} (code hash {}); only a declared upgrade with that exact code hash can pass",
                opt_hash(code_hash)
            ),
            Self::DelegatecallNotAllowlisted {
                target,
                code_hash,
                location,
            } => write!(
                f,
                "{location} DELEGATECALLs {target} (code hash {}), which is not on the delegatecall allowlist by address and code hash; use a CALL, or have the admins allowlist that exact code",
                opt_hash(code_hash)
            ),
            Self::SimulationFailed { outcome } => match outcome {
                SimulationOutcome::Success => f.write_str("simulation succeeded"),
                SimulationOutcome::Reverted { reason } => {
                    write!(
                        f,
                        "the simulated transaction fails ({reason}); a transaction that fails is never signed"
                    )
                }
                SimulationOutcome::NotRun => f.write_str(
                    "the transaction was not simulated; retry when the simulator is available",
                ),
                SimulationOutcome::Failed { reason } => {
                    write!(
                        f,
                        "the simulation could not run ({reason}); retry when the simulator is available"
                    )
                }
            },
            Self::SimulationMismatch {
                proposed,
                simulated,
            } => write!(
                f,
                "the simulation ran safeTxHash {} but the proposal is {proposed}; re-simulate this exact transaction",
                opt_hash(simulated)
            ),
            Self::HiddenRefund {
                gas_price,
                gas_token,
                refund_receiver,
            } => write!(
                f,
                "gasPrice {gas_price} with gas token {gas_token} and refund receiver {refund_receiver} pays a refund to a custom party; set gasPrice to 0"
            ),
            Self::OutsideIntent { intent, deviation } => write!(
                f,
                "the initiator declared \"{intent}\" but the simulation {deviation}; re-propose with an accurate intent"
            ),
            Self::VelocityExceeded {
                wallet,
                asset,
                decimals,
                window_hours,
                spent,
                proposed,
                limit,
            } => write!(
                f,
                "wallet `{wallet}` already sent {} {asset} in the last {window_hours}h; this proposal adds {} against a limit of {}; wait for the window to roll or split the payment",
                format_units(*spent, *decimals),
                format_units(*proposed, *decimals),
                format_units(*limit, *decimals)
            ),
            Self::VelocityTotalMissing {
                wallet,
                asset,
                window_hours,
            } => write!(
                f,
                "no running total was supplied for `{wallet}`/{asset} over {window_hours}h, so the velocity limit cannot be checked"
            ),
            Self::UnknownWallet { chain_id, safe } => {
                write!(
                    f,
                    "Safe {safe} on chain {chain_id} is not governed by this policy; add it as a wallet"
                )
            }
            Self::UnknownAsset {
                wallet,
                asset,
                location,
            } => write!(
                f,
                "{location} moves asset {asset}, which wallet `{wallet}` does not declare, so its amount rules cannot be evaluated; declare the asset with its decimals"
            ),
            Self::NoTier {
                wallet,
                facet,
                cooling_off_until: Some(until),
            } => write!(
                f,
                "no tier covers {facet} on wallet `{wallet}`; the destination is in its address-book cooling-off period until {until}, after which it counts as known"
            ),
            Self::NoTier {
                wallet,
                facet,
                cooling_off_until: None,
            } => write!(
                f,
                "no tier covers {facet} on wallet `{wallet}`; a policy change adding a tier is needed"
            ),
            Self::InitiatorUnknown { initiator } => write!(
                f,
                "initiator `{initiator}` is not an operator of this policy"
            ),
            Self::InitiatorInactive { initiator, status } => {
                write!(f, "initiator `{initiator}` is {status}")
            }
            Self::InitiatorNotOnWallet { initiator, wallet } => {
                write!(
                    f,
                    "initiator `{initiator}` may not act on wallet `{wallet}`"
                )
            }
            Self::InitiatorProbationary {
                initiator,
                wallet,
                tag,
                probation,
            } => write!(
                f,
                "initiator `{initiator}` is a {probation} and may not initiate on {tag} wallet `{wallet}`; another operator must initiate"
            ),
            Self::Rejected { operator } => write!(f, "operator `{operator}` rejected the proposal"),
            Self::ArithmeticOverflow { context } => {
                write!(
                    f,
                    "amounts overflow 256 bits while checking {context}; the rule cannot be evaluated"
                )
            }
        }
    }
}

fn opt_hash(h: &Option<B256>) -> String {
    h.map_or_else(|| "unknown".to_owned(), |h| h.to_string())
}

/// A role whose quorum is not met yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingApprovals {
    pub role: Role,
    pub need: u32,
    pub have: u32,
    /// Whether a probationary operator could still fill a slot.
    pub probationary_admitted: bool,
    /// Approvals from holders of this role that did not count, and why.
    pub not_counted: Vec<(OperatorId, NotCounted)>,
}

impl MissingApprovals {
    /// Stable code.
    pub const fn code(&self) -> &'static str {
        "quorum.missing"
    }
}

impl fmt::Display for MissingApprovals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = self.need.saturating_sub(self.have);
        write!(
            f,
            "[quorum.missing] needs {more} more approval{} from role {} ({} of {} counted), not from the initiator",
            if more == 1 { "" } else { "s" },
            self.role,
            self.have,
            self.need
        )?;
        if !self.probationary_admitted {
            f.write_str(" or a probationary operator")?;
        }
        for (op, why) in &self.not_counted {
            write!(f, "; {op}'s approval did not count: {why}")?;
        }
        Ok(())
    }
}
