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
    /// An address the transaction touches is on a loaded sanctions list. No quorum overrides it.
    SanctionedAddress {
        /// The listed address.
        address: Address,
        /// Name of the list it is on, as the gateway configured it.
        list: String,
        /// The list's entry for it (the party's identifier), for the compliance reviewer.
        entry: String,
        /// Where in the transaction the address appears: a calldata path or a simulation effect.
        location: String,
    },
    /// Screening could not give an answer (a list is stale, never loaded or failed to load), so
    /// the transaction is denied rather than passed unscreened.
    CannotScreen {
        /// Why, in plain words: which list and what is wrong with it.
        reason: String,
    },
    /// The transaction changes a Safe's singleton (mastercopy) other than as an upgrade the policy
    /// declares.
    SingletonChanged {
        /// The Safe whose singleton changes.
        safe: Address,
        /// Singleton before the transaction.
        from: Address,
        /// Singleton after the transaction.
        to: Address,
        /// Code hash of the new singleton, if the simulation reported it.
        code_hash: Option<B256>,
    },
    /// The transaction changes the implementation behind a proxy other than as a declared upgrade.
    ImplementationChanged {
        /// The proxy whose implementation changes.
        proxy: Address,
        /// Implementation before the transaction.
        from: Address,
        /// Implementation after the transaction.
        to: Address,
        /// Code hash of the new implementation, if the simulation reported it.
        code_hash: Option<B256>,
    },
    /// A DELEGATECALL runs code that is not on the policy's allowlist by both address and code
    /// hash.
    DelegatecallNotAllowlisted {
        /// The code run by DELEGATECALL.
        target: Address,
        /// Its code hash, if the simulation reported it; an allowlist entry matches only with a
        /// hash.
        code_hash: Option<B256>,
        /// Where the DELEGATECALL is: a calldata path, or the simulation call depth and caller.
        location: String,
    },
    /// A DELEGATECALL (or CALLCODE) ran code whose behaviour can change between the decision
    /// and the execution: an EIP-7702 delegation, a proxy (EIP-1967 implementation, beacon or
    /// admin slot, EIP-1822 logic slot), or code that delegates to an address it reads from
    /// state. No allowlisted code hash vouches for what runs when the transaction executes, so
    /// it denies allowlisted or not.
    DelegatecallMutableCode {
        /// The account whose code ran.
        target: Address,
        /// The Safe whose storage it ran against, when the simulation said (absent in records
        /// written before it was carried).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        safe: Option<Address>,
        /// Where in the simulation: the frame and its call path.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        location: String,
        /// Why what runs there can change, in plain words.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        why: String,
    },
    /// The simulation did not succeed: it reverted, did not run, or could not run. A transaction
    /// that is not known to succeed is never signed.
    SimulationFailed {
        /// What the simulator reported.
        outcome: SimulationOutcome,
    },
    /// The simulation ran a different transaction from the one proposed, so its effects say nothing
    /// about this proposal.
    SimulationMismatch {
        /// The proposal's `safeTxHash`.
        proposed: B256,
        /// The `safeTxHash` the simulation ran, if it reported one.
        simulated: Option<B256>,
    },
    /// A non-zero `gasPrice` makes the Safe pay a refund (`handlePayment`) to the refund
    /// receiver, or to whoever executes the transaction: a way to move funds that the call itself
    /// does not show. Denied unless the policy caps refunds of that asset for the wallet.
    HiddenRefund {
        /// The transaction's `gasPrice`, in base units of the gas token per gas.
        gas_price: U256,
        /// The token the refund is paid in (the zero address for the chain's native asset).
        gas_token: Address,
        /// Who receives the refund (the zero address for `tx.origin`).
        refund_receiver: Address,
        /// The most the refund can pay, in base units of the gas token:
        /// `(safeTxGas + call overhead + baseGas) × gasPrice`, or more if the simulation paid
        /// more. Absent (zero) in records written before it was carried.
        #[serde(default)]
        worst_case: U256,
        /// The Safe that pays it when it is not the proposing Safe: another Safe whose
        /// `execTransaction` the transaction runs (and where), absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paid_by: Option<RefundPayer>,
        /// The gas token's symbol and decimals as the paying wallet declares them, only to show
        /// the amount in units people count; absent when undeclared (and in older records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        units: Option<(String, u8)>,
    },
    /// The refund can pay more than the policy's `[[refund_cap]]` for the wallet and asset.
    RefundAboveCap {
        /// Wallet name in the policy.
        wallet: String,
        /// Asset symbol as the wallet declares it.
        asset: String,
        /// The asset's decimals, only to show the amounts in human units.
        decimals: u8,
        /// Who receives the refund (the zero address for `tx.origin`).
        refund_receiver: Address,
        /// The most the refund can pay, in base units.
        worst_case: U256,
        /// The cap, in base units.
        cap: U256,
        /// The Safe that pays it when it is not the proposing Safe, absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paid_by: Option<RefundPayer>,
    },
    /// The transaction changes the configuration (owners, threshold, modules, guards, fallback
    /// handler, an unclassified slot) of another Safe that this policy does not govern: nobody
    /// here decides what that Safe may become, so the change is not signed.
    UngovernedSafeChanged {
        /// The Safe changed.
        safe: Address,
        /// What changes.
        change: SafeChangeKind,
        /// How the transaction reaches that Safe (call path in the simulation).
        location: String,
    },
    /// The transaction approves a hash on another Safe (`approveHash`): a signature on that
    /// Safe's transaction, which anyone may then execute, and which this decision never saw.
    ForeignHashApproved {
        /// The Safe the hash is approved on.
        safe: Address,
        /// How the transaction reaches that Safe.
        location: String,
    },
    /// The simulated effects go beyond what the initiator declared.
    OutsideIntent {
        /// The intent as the initiator declared it, shown back in the denial.
        intent: String,
        /// The first way the effects differ from it.
        deviation: IntentDeviation,
    },
    /// The proposal would take the wallet's outflow of one asset over its rolling-window limit.
    VelocityExceeded {
        /// Wallet name in the policy.
        wallet: String,
        /// Asset symbol as the wallet declares it.
        asset: String,
        /// The asset's decimals, only to show the amounts in human units.
        decimals: u8,
        /// Length of the rolling window, in hours.
        window_hours: u64,
        /// Already sent in the window, in base units, as supplied by the gateway.
        spent: U256,
        /// This proposal's outflow, in base units.
        proposed: U256,
        /// The policy's limit for the window, in base units.
        limit: U256,
    },
    /// The velocity rule has no running total for a wallet and asset, so it cannot be checked and
    /// denies rather than assume nothing was sent.
    VelocityTotalMissing {
        /// Wallet name in the policy.
        wallet: String,
        /// Asset symbol as the wallet declares it.
        asset: String,
        /// Length of the rolling window, in hours.
        window_hours: u64,
    },
    /// The Safe is not a wallet of this policy.
    UnknownWallet {
        /// The chain the proposal is for.
        chain_id: u64,
        /// The Safe's address.
        safe: Address,
    },
    /// A facet moves an asset the wallet does not declare, so its amount (in unknown decimals)
    /// cannot be compared with any tier or limit.
    UnknownAsset {
        /// Wallet name in the policy.
        wallet: String,
        /// The undeclared asset.
        asset: Asset,
        /// Where the movement is: a calldata path or a simulation effect.
        location: String,
    },
    /// No tier of the wallet covers a facet of the proposal, so nothing can approve it.
    NoTier {
        /// Wallet name in the policy.
        wallet: String,
        /// The facet, as displayed (kind, destination, amount).
        facet: String,
        /// Set when the destination is in the address book but still inside its cooling-off period:
        /// the instant it counts as known, when a tier for known destinations may cover it.
        cooling_off_until: Option<crate::time::Timestamp>,
    },
    /// The initiator is not an operator of the policy.
    InitiatorUnknown {
        /// The initiator as the gateway authenticated them.
        initiator: OperatorId,
    },
    /// The initiator is an operator but not active (suspended or offboarded).
    InitiatorInactive {
        /// The initiator.
        initiator: OperatorId,
        /// Their status in the policy.
        status: OperatorStatus,
    },
    /// The initiator is active but not an operator of this wallet.
    InitiatorNotOnWallet {
        /// The initiator.
        initiator: OperatorId,
        /// Wallet name in the policy.
        wallet: String,
    },
    /// The initiator is on probation (new hire or new key) and the wallet's tag does not let
    /// probationary operators initiate.
    InitiatorProbationary {
        /// The initiator.
        initiator: OperatorId,
        /// Wallet name in the policy.
        wallet: String,
        /// The wallet tag that excludes probationary initiators.
        tag: String,
        /// Which probation applies, and until when.
        probation: Probation,
    },
    /// An operator who may approve rejected the proposal; one rejection denies.
    Rejected {
        /// The rejecting operator.
        operator: OperatorId,
    },
    /// Adding amounts overflowed 256 bits. The rule that needed the sum cannot be evaluated, so it
    /// denies instead of wrapping.
    ArithmeticOverflow {
        /// What was being summed, for the operator reading the denial.
        context: String,
    },
}

/// How the simulated effects differ from the initiator's declared intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "deviation")]
pub enum IntentDeviation {
    /// An asset leaves the Safe to a destination the intent does not name.
    UndeclaredOutflow {
        /// The asset sent.
        asset: Asset,
        /// The destination.
        to: Address,
        /// Amount sent, in base units.
        amount: U256,
        /// The asset's symbol and decimals as the wallet declares them, only to show the amount
        /// in units people count; absent when undeclared (and in older records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        units: Option<(String, u8)>,
    },
    /// An asset leaves to a declared destination, but more than declared.
    ExcessOutflow {
        /// The asset sent.
        asset: Asset,
        /// The destination.
        to: Address,
        /// Amount declared, in base units.
        declared: U256,
        /// Amount sent in the simulation, in base units.
        actual: U256,
        /// The asset's symbol and decimals as the wallet declares them, only to show the amount
        /// in units people count; absent when undeclared (and in older records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        units: Option<(String, u8)>,
    },
    /// A transfer the intent declares does not happen in the simulation.
    MissingTransfer {
        /// The declared asset.
        asset: Asset,
        /// The declared destination.
        to: Address,
        /// The declared amount, in base units.
        amount: U256,
        /// The asset's symbol and decimals as the wallet declares them, only to show the amount
        /// in units people count; absent when undeclared (and in older records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        units: Option<(String, u8)>,
    },
    /// The transaction changes the Safe's configuration or storage (owners, threshold, modules,
    /// guards, fallback handler, nonce, ...) and the intent does not declare it.
    UndeclaredSafeChange {
        /// What part of the configuration changes.
        kind: SafeChangeKind,
    },
    /// A proxy's implementation changes and the intent does not declare an upgrade.
    UndeclaredUpgrade {
        /// The proxy.
        proxy: Address,
    },
    /// A DELEGATECALL runs and the intent does not declare it.
    UndeclaredDelegatecall {
        /// The code run by DELEGATECALL.
        target: Address,
    },
    /// The transaction pays a gas refund; an intent cannot declare one, so it is always outside.
    UndeclaredRefund {
        /// The asset of the refund.
        asset: Asset,
        /// Who receives it (the zero address for `tx.origin`).
        refund_receiver: Address,
        /// The most it can pay, in base units.
        amount: U256,
        /// The asset's symbol and decimals as the wallet declares them, only to show the amount
        /// in units people count; absent when undeclared (and in older records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        units: Option<(String, u8)>,
    },
}

impl fmt::Display for IntentDeviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UndeclaredOutflow {
                asset,
                to,
                amount,
                units,
            } => {
                let amount = amount_of(*amount, *asset, units.as_ref());
                write!(f, "sends {amount} to {to}, which was not declared")
            }
            Self::ExcessOutflow {
                asset,
                to,
                declared,
                actual,
                units,
            } => {
                let actual = amount_of(*actual, *asset, units.as_ref());
                let declared = amount_of(*declared, *asset, units.as_ref());
                write!(
                    f,
                    "sends {actual} to {to}, more than the declared {declared}"
                )
            }
            Self::MissingTransfer {
                asset,
                to,
                amount,
                units,
            } => {
                let amount = amount_of(*amount, *asset, units.as_ref());
                write!(
                    f,
                    "the declared transfer of {amount} to {to} does not happen"
                )
            }
            Self::UndeclaredSafeChange { kind } => {
                write!(f, "changes the Safe's {}", kind.as_str())
            }
            Self::UndeclaredUpgrade { proxy } => write!(f, "changes the implementation of {proxy}"),
            Self::UndeclaredDelegatecall { target } => {
                write!(f, "runs code of {target} by DELEGATECALL")
            }
            Self::UndeclaredRefund {
                asset,
                refund_receiver,
                amount,
                units,
            } => write!(
                f,
                "pays a gas refund of up to {} to {}, which was not declared",
                amount_of(*amount, *asset, units.as_ref()),
                receiver(*refund_receiver)
            ),
        }
    }
}

/// An amount as an approver reads it: `1,000 DEMO` when the asset's units are known, otherwise
/// its base units and the asset, said to be base units.
fn amount_of(amount: U256, asset: Asset, units: Option<&(String, u8)>) -> String {
    match units {
        Some((symbol, decimals)) => format!("{} {symbol}", format_units(amount, *decimals)),
        None => format!("{amount} base units of {asset}"),
    }
}

/// The Safe paying a refund of an inner `execTransaction`, and where the transaction runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundPayer {
    /// The Safe whose `execTransaction` pays the refund.
    pub safe: Address,
    /// The call path of that `execTransaction` in the simulation.
    pub location: String,
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
            Self::DelegatecallMutableCode { .. } => "delegatecall.mutable_code",
            Self::SimulationFailed { .. } => "simulation.failed",
            Self::SimulationMismatch { .. } => "simulation.mismatch",
            Self::HiddenRefund { .. } => "refund.hidden_channel",
            Self::RefundAboveCap { .. } => "refund.above_cap",
            Self::UngovernedSafeChanged { .. } => "reached_safe.ungoverned_change",
            Self::ForeignHashApproved { .. } => "reached_safe.hash_approved",
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
            Self::DelegatecallMutableCode {
                target,
                safe,
                location,
                why,
            } => {
                f.write_str("the transaction DELEGATECALLs ")?;
                write!(f, "{target}")?;
                if let Some(safe) = safe {
                    write!(f, " in the storage of Safe {safe}")?;
                }
                if !location.is_empty() {
                    write!(f, " ({location})")?;
                }
                let why = if why.is_empty() {
                    "its code is an EIP-7702 delegation, which its key can point at other code at any moment"
                } else {
                    why
                };
                write!(
                    f,
                    ": {why}. What runs when the transaction executes can differ from what was simulated, so no allowlisted code hash vouches for it; use a library whose code alone fixes what it runs (no proxy, no beacon, no delegation, no target read from state)"
                )
            }
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
                worst_case,
                paid_by,
                units,
            } => write!(
                f,
                "gasPrice {gas_price}{} makes {} pay a gas refund of up to {} to {}, and the policy allows no refund of that asset for this wallet; set {} to 0",
                paid_by.as_ref().map_or_else(String::new, |p| format!(
                    " of the inner transaction at {}",
                    p.location
                )),
                paid_by
                    .as_ref()
                    .map_or_else(|| "the Safe".to_owned(), |p| format!("Safe {}", p.safe)),
                match units {
                    Some((symbol, decimals)) => {
                        format!("{} {symbol}", format_units(*worst_case, *decimals))
                    }
                    None if *gas_token == Address::ZERO => {
                        format!("{worst_case} base units of the native coin")
                    }
                    None => format!("{worst_case} base units of token {gas_token}"),
                },
                receiver(*refund_receiver),
                if paid_by.is_some() {
                    "the inner transaction's gasPrice"
                } else {
                    "gasPrice"
                }
            ),
            Self::RefundAboveCap {
                wallet,
                asset,
                decimals,
                refund_receiver,
                worst_case,
                cap,
                paid_by,
            } => write!(
                f,
                "the gas refund {}to {} can pay up to {} {asset}, above wallet `{wallet}`'s refund cap of {}; lower gasPrice, safeTxGas or baseGas",
                paid_by.as_ref().map_or_else(String::new, |p| format!(
                    "paid by Safe {} (its execTransaction at {}) ",
                    p.safe, p.location
                )),
                receiver(*refund_receiver),
                format_units(*worst_case, *decimals),
                format_units(*cap, *decimals)
            ),
            Self::UngovernedSafeChanged {
                safe,
                change,
                location,
            } => write!(
                f,
                "{location} changes the {} of Safe {safe}, which this policy does not govern; add that Safe to the policy as a wallet, or make the change on it directly",
                change.as_str()
            ),
            Self::ForeignHashApproved { safe, location } => write!(
                f,
                "{location} approves a hash on Safe {safe}: a signature on a transaction of that Safe which anyone may then execute and which was never judged here; execute that transaction with execTransaction from this Safe instead, so it is simulated and judged"
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

fn receiver(r: Address) -> String {
    if r == Address::ZERO {
        "whoever executes the transaction (tx.origin)".to_owned()
    } else {
        r.to_string()
    }
}

fn opt_hash(h: &Option<B256>) -> String {
    h.map_or_else(|| "unknown".to_owned(), |h| h.to_string())
}

/// A role whose quorum is not met yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingApprovals {
    /// The role whose approvals are short.
    pub role: Role,
    /// Approvals the tier requires from this role.
    pub need: u32,
    /// Approvals that counted so far (the initiator's own never counts).
    pub have: u32,
    /// Whether a probationary operator could still fill a slot.
    pub probationary_admitted: bool,
    /// Approvals from holders of this role that did not count, and why.
    pub not_counted: Vec<(OperatorId, NotCounted)>,
    /// Holders of this role whose approval, given now, would count and bring the quorum closer:
    /// found by counting again with that approval added ([`crate::evaluate::assess`]), so the
    /// initiator, a probationary operator where probation forbids it, an operator already
    /// counted and a holder of revoked keys only are never named. Empty in decisions recorded
    /// before it existed.
    #[serde(default)]
    pub eligible: Vec<OperatorId>,
    /// The anomaly rules whose alerts asked this role for one more approval (included in
    /// `need`); empty when none did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asked_by_alerts: Vec<crate::anomaly::AnomalyRule>,
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
        if !self.asked_by_alerts.is_empty() {
            let rules: Vec<&str> = self.asked_by_alerts.iter().map(|r| r.code()).collect();
            write!(
                f,
                "; one of them because of anomaly alert {} on this proposal",
                rules.join(", ")
            )?;
        }
        for (op, why) in &self.not_counted {
            write!(f, "; {op}'s approval did not count: {why}")?;
        }
        Ok(())
    }
}
