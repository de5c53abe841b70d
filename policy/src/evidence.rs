//! Everything `evaluate` decides on, as plain data.
//!
//! The gateway fills [`Evidence`] from the decoder, the simulator, the sanctions screen, its
//! approval store and its clock; [`crate::adapters`] converts the simulator's types one way.
//! The structs are deliberately narrow (only what a rule reads) and have a compact serde form
//! so that case files and audit records can carry them. Every default is the one that denies:
//! a missing simulation is "not run", a missing screen is "cannot screen".

use alloy_primitives::{Address, B256, FixedBytes, U256};
use serde::{Deserialize, Serialize};
use signgate_simulator::{Operation, decode::ActionPath};

use crate::{operators::OperatorId, time::Timestamp, wallets::Asset};

/// The input of [`crate::evaluate()`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The instant of the decision; the policy never reads a clock.
    pub now: Timestamp,
    /// The proposal being decided, as the gateway recorded it.
    pub proposal: Proposal,
    /// The decoded action tree, flattened: the root (empty path) and every batch entry.
    #[serde(default)]
    pub actions: Vec<ActionFact>,
    /// What the simulation of this exact transaction observed. Absent: not run, which denies.
    #[serde(default)]
    pub simulation: SimulationFacts,
    /// The sanctions screen of every address involved. Absent: cannot screen, which denies.
    #[serde(default)]
    pub screening: Screening,
    /// Every approval and rejection received for the proposal, verified or not; the policy
    /// decides which count.
    #[serde(default)]
    pub approvals: Vec<SignedApproval>,
    /// Running totals already spent in each configured window, excluding this proposal.
    #[serde(default)]
    pub velocity: Vec<VelocityTotal>,
    /// Destinations this wallet has paid before (for "first payment" segregation).
    #[serde(default)]
    pub paid_before: Vec<Address>,
    /// Anomaly alerts raised by the proposal's submission and approvals whose rules change the
    /// decision: one more approval from a role, a hold, an approval that does not count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<crate::anomaly::ProposalAlert>,
}

/// The proposal being decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// The gateway's proposal id; approvals bind it.
    pub id: String,
    /// The chain the Safe is on.
    pub chain_id: u64,
    /// The Safe that would execute the transaction.
    pub safe: Address,
    /// Recomputed by the gateway from the ten SafeTx fields, never taken from a UI.
    pub safe_tx_hash: B256,
    /// The operator who proposed it, as the gateway authenticated them; their own approval never
    /// counts.
    pub initiator: OperatorId,
    /// The refund settings of the SafeTx.
    #[serde(default)]
    pub refund: RefundSettings,
    /// Set when the transaction runs through `execTransactionFromModule`.
    #[serde(default)]
    pub via_module: Option<Address>,
    /// What the initiator said the transaction does, when they said it.
    #[serde(default)]
    pub intent: Option<Intent>,
}

/// `safeTxGas`, `baseGas`, `gasPrice`, `gasToken`, `refundReceiver` of the SafeTx: together they
/// bound the refund the Safe pays (see [`signgate_simulator::tx::max_refund`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundSettings {
    /// `safeTxGas`: with a non-zero `gasPrice`, the inner call's gas limit, and so the bound on
    /// the `gasUsed` the refund pays for. Absent from records written before it was carried.
    #[serde(default)]
    pub safe_tx_gas: U256,
    /// `baseGas`: gas the refund pays for on top of `gasUsed`, whatever was used.
    #[serde(default)]
    pub base_gas: U256,
    /// `gasPrice`, in base units of the gas token per gas; anything but zero pays a refund.
    #[serde(default)]
    pub gas_price: U256,
    /// `gasToken`; the zero address means the chain's native coin.
    #[serde(default)]
    pub gas_token: Address,
    /// `refundReceiver`; the zero address means `tx.origin`.
    #[serde(default)]
    pub refund_receiver: Address,
}

/// The initiator's declared intent: the effects they expect, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// What the initiator wrote, quoted back in reasons.
    pub summary: String,
    /// Outflows the initiator means to make; any other outflow, or more, is outside the intent.
    #[serde(default)]
    pub transfers: Vec<IntendedTransfer>,
    /// Safe configuration changes the initiator means to make.
    #[serde(default)]
    pub safe_changes: Vec<SafeChangeKind>,
}

/// One expected outflow: at most `amount` of `asset` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntendedTransfer {
    /// The asset to be sent.
    pub asset: Asset,
    /// The destination.
    pub to: Address,
    /// The most to be sent, in base units.
    pub amount: U256,
}

/// One node of the decoded action tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionFact {
    /// Where the call sits: empty for the root call, batch indices below it.
    #[serde(default)]
    pub path: ActionPath,
    /// CALL or DELEGATECALL, as the Safe (or the batch) executes it. Absent: CALL.
    #[serde(default = "call")]
    pub operation: Operation,
    /// The call's target.
    pub to: Address,
    /// Native value sent with the call, in wei. Absent: zero.
    #[serde(default)]
    pub value: U256,
    /// What the call does.
    pub kind: ActionFactKind,
}

const fn call() -> Operation {
    Operation::Call
}

/// What a decoded call does, as far as the policy cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum ActionFactKind {
    /// Plain ETH transfer (no calldata).
    NativeTransfer,
    /// ERC-20 `transfer` (or `transferFrom` out of the Safe); the token is `to`.
    TokenTransfer {
        /// Who receives the tokens.
        recipient: Address,
        /// Amount, in the token's base units.
        amount: U256,
    },
    /// A grant over the Safe's tokens: ERC-20 or ERC-721 `approve`, `increaseAllowance`,
    /// `setApprovalForAll`, Permit2 `approve` or `permit`. A grant is a transfer to `spender`:
    /// the spender can take the tokens whenever it likes, without the owners.
    TokenGrant {
        /// The asset's contract (for Permit2, the token, not Permit2).
        token: Address,
        /// Who may move the tokens.
        spender: Address,
        /// The allowance as the calldata states it; `U256::MAX` for an operator right over
        /// every token (`setApprovalForAll`). The simulation caps it at the Safe's balance.
        amount: U256,
    },
    /// A Safe self-call that changes configuration.
    SafeConfig {
        /// Which part of the configuration the call changes.
        change: SafeChangeKind,
    },
    /// A MultiSend batch; its entries follow as their own facts.
    Batch,
    /// `execTransaction` on another Safe. Like a batch it is no facet of its own: the inner
    /// transaction follows as its own fact, and the simulation judges the other Safe.
    NestedSafeTransaction {
        /// The Safe whose transaction is executed.
        safe: Address,
    },
    /// A call of a Safe library meant for DELEGATECALL.
    SafeLibrary,
    /// Any other call (including token approvals and unknown selectors).
    ContractCall,
}

/// How the simulation ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", deny_unknown_fields)]
pub enum SimulationOutcome {
    /// The transaction ran to completion and the Safe's inner call succeeded.
    Success,
    /// The inner call failed (`ExecutionFailure`) or the outer call reverted.
    Reverted {
        /// The revert reason, decoded where the simulator could.
        reason: String,
    },
    /// The simulator could not run it (state unavailable, deadline …).
    #[default]
    NotRun,
    /// The simulator started but could not finish (an error in the run itself).
    Failed {
        /// What went wrong, for the operator reading the denial.
        reason: String,
    },
}

/// The Safe-storage classes the simulator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SafeChangeKind {
    /// The Safe's singleton (mastercopy): the code every call runs.
    Singleton,
    /// The owner list.
    Owners,
    /// The signature threshold.
    Threshold,
    /// The enabled modules, which execute without the owners.
    Modules,
    /// The transaction guard.
    Guard,
    /// The fallback handler.
    FallbackHandler,
    /// The module guard.
    ModuleGuard,
    /// The Safe's nonce.
    Nonce,
    /// An approved-hash entry (`approveHash`).
    ApprovedHash,
    /// A write to a Safe slot with no known meaning: treated as a permission change.
    Other,
}

impl SafeChangeKind {
    /// Whether this change alters who or what controls the Safe: everything but the nonce
    /// and approved hashes. A singleton change also has its own deny rule; a declared upgrade
    /// that passes it still needs the elevated tier.
    pub const fn is_permission(self) -> bool {
        !matches!(self, Self::Nonce | Self::ApprovedHash)
    }

    /// The word an operator reads.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Singleton => "singleton",
            Self::Owners => "owners",
            Self::Threshold => "threshold",
            Self::Modules => "modules",
            Self::Guard => "guard",
            Self::FallbackHandler => "fallback handler",
            Self::ModuleGuard => "module guard",
            Self::Nonce => "nonce",
            Self::ApprovedHash => "approved hash",
            Self::Other => "unclassified slot",
        }
    }
}

/// What the simulation observed. Every list comes from execution effects, not calldata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationFacts {
    /// How the run ended. Absent: not run.
    #[serde(default)]
    pub outcome: SimulationOutcome,
    /// The safeTxHash the simulation ran; must equal the proposal's.
    #[serde(default)]
    pub safe_tx_hash: Option<B256>,
    /// Every DELEGATECALL or CALLCODE frame of the run, at any depth.
    #[serde(default)]
    pub delegatecalls: Vec<DelegatecallFact>,
    /// Every write to the Safe's own storage, classified.
    #[serde(default)]
    pub safe_changes: Vec<SafeChangeFact>,
    /// Implementation changes of other proxies the run made.
    #[serde(default)]
    pub proxy_upgrades: Vec<ProxyUpgradeFact>,
    /// Value that left the Safe.
    #[serde(default)]
    pub outflows: Vec<OutflowFact>,
    /// Set when the transaction is queued behind others: the run set the Safe's nonce from
    /// `current` to the transaction's and assumed the earlier nonces executed, without replaying
    /// them. A fact of the run, not of the transaction: no rule relaxes or tightens on it (the
    /// release re-simulates on the state of that moment), but the audit record says what the
    /// decision assumed. Absent from records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_nonce: Option<QueuedNonce>,
    /// The gas refund the run paid, when it paid one. It is not in `outflows`: the refund is
    /// judged at the worst case its SafeTx fields allow (see [`crate::movements`]), of which
    /// this is one instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundPaidFact>,
    /// Every other Safe the run reached (one the proposing Safe owns and executes a
    /// transaction on, approves a hash for, …): its delegatecalls and configuration changes get
    /// the same rules as the proposing Safe's own. Its asset movements are in `outflows`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reached_safes: Vec<ReachedSafeFacts>,
    /// Accounts a DELEGATECALL ran whose code is an EIP-7702 delegation designator, as records
    /// written before `mutable_code` carried them; each is judged as mutable code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegated_code: Vec<Address>,
    /// Code run by DELEGATECALL or CALLCODE whose behaviour can change after the decision (an
    /// EIP-7702 delegation, a proxy, a target read from state), in any Safe's storage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutable_code: Vec<MutableCodeFact>,
    /// Every `execTransaction` of another Safe (or again of this one) the run executed with a
    /// non-zero `gasPrice`: each pays a refund on chain that the run, at the outer
    /// transaction's gas price, may not show.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inner_refunds: Vec<InnerRefundFact>,
}

/// Code whose behaviour can change after the decision, where it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutableCodeFact {
    /// The account whose code ran.
    pub target: Address,
    /// The Safe (or other account) whose storage it ran against.
    pub safe: Address,
    /// The frame and its call path in the simulation.
    pub location: String,
    /// Why it can change, in plain words (with the slot or frame that shows it).
    pub why: String,
}

/// The refund settings of an inner `execTransaction`, and which Safe pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InnerRefundFact {
    /// The Safe whose `execTransaction` ran; it pays the refund.
    pub safe: Address,
    /// The call path of the `execTransaction` in the simulation.
    pub location: String,
    /// Its refund fields.
    pub settings: RefundSettings,
    /// What the run paid, when it paid (in the gas token).
    #[serde(default)]
    pub paid: Option<U256>,
}

/// The refund a simulation paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundPaidFact {
    /// The asset paid (the gas token, or the native coin).
    pub asset: Asset,
    /// Who the run paid: the refund receiver, or the run's stand-in executor.
    pub paid_to: Address,
    /// How much, in base units.
    pub amount: U256,
}

/// What the run did to and in a Safe other than the proposing one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachedSafeFacts {
    /// The reached Safe.
    pub safe: Address,
    /// How the run reached it, for the reasons: the call path of the first frame that ran its
    /// code.
    #[serde(default)]
    pub location: String,
    /// DELEGATECALLs that ran code against its storage, minus its proxy's hop into its own
    /// pre-state singleton.
    #[serde(default)]
    pub delegatecalls: Vec<DelegatecallFact>,
    /// Its storage writes in Safe terms.
    #[serde(default)]
    pub safe_changes: Vec<SafeChangeFact>,
}

/// The nonce assumption of a queued transaction's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuedNonce {
    /// The Safe's nonce in the state simulated against.
    pub current: U256,
    /// The transaction's nonce, which the run assumed.
    pub assumed: U256,
}

/// A DELEGATECALL (or CALLCODE) frame at any depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegatecallFact {
    /// Call depth of the frame (1 for the Safe's own call).
    pub depth: usize,
    /// The contract that made the DELEGATECALL.
    pub caller: Address,
    /// The code that ran.
    pub target: Address,
    /// `keccak256` of that code, when the simulator saw it.
    #[serde(default)]
    pub code_hash: Option<B256>,
}

/// One write to the Safe's own storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeChangeFact {
    /// What the written slot means to the Safe.
    pub kind: SafeChangeKind,
    /// The storage slot written.
    #[serde(default)]
    pub slot: U256,
    /// The slot's value before the transaction.
    #[serde(default)]
    pub before: B256,
    /// The slot's value after the transaction.
    #[serde(default)]
    pub after: B256,
    /// For a singleton change: the code hash of the new singleton, when known.
    #[serde(default)]
    pub new_code_hash: Option<B256>,
}

/// An implementation change of another proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyUpgradeFact {
    /// The proxy whose implementation changed.
    pub proxy: Address,
    /// Implementation before the transaction.
    pub before: Address,
    /// Implementation after the transaction.
    pub after: Address,
    /// The `keccak256` of the new implementation's code, when the simulator saw it.
    #[serde(default)]
    pub new_code_hash: Option<B256>,
}

/// Value leaving the Safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutflowFact {
    /// The asset that left.
    pub asset: Asset,
    /// Where it went.
    pub to: Address,
    /// How much, in base units.
    pub amount: U256,
    /// Where the simulation shows it (`simulation: Approval log 2, a grant by call 0→1→3`), when
    /// more than "simulation" can be said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The Safe it left when that is not the proposing Safe (a reached Safe); absent for the
    /// proposing Safe's own outflows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
}

/// The sanctions screen of every address in the transaction and its simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", deny_unknown_fields)]
pub enum Screening {
    /// Screened against current lists; `hits` may be empty.
    Screened {
        /// Listed addresses found; empty when none is.
        #[serde(default)]
        hits: Vec<SanctionsHit>,
    },
    /// The lists were stale, missing or unreadable: nothing can be said.
    CannotScreen {
        /// Why, shown in the denial.
        reason: String,
    },
}

impl Default for Screening {
    fn default() -> Self {
        Self::CannotScreen {
            reason: "no screening evidence was supplied".to_owned(),
        }
    }
}

/// One listed address found in the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanctionsHit {
    /// The listed address.
    pub address: Address,
    /// The list (`OFAC SDN`, …).
    pub list: String,
    /// The list entry (uid, name).
    pub entry: String,
    /// Where in the transaction: an action path with role, or a simulation location.
    pub location: String,
    /// Whether the list says deny; review-only lists do not block.
    #[serde(default = "yes")]
    pub deny: bool,
}

const fn yes() -> bool {
    true
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Counts towards the quorum.
    Approve,
    /// Vetoes the proposal: a valid rejection from an operator who may approve denies it.
    Reject,
}

/// An approval or rejection as the gateway received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedApproval {
    /// Approve or reject. Signed.
    pub verdict: Verdict,
    /// The chain id of the proposal signed for. Signed; must equal the proposal's.
    pub chain_id: u64,
    /// The Safe of the proposal signed for. Signed; must equal the proposal's.
    pub safe: Address,
    /// The `safeTxHash` signed for. Signed; must equal the proposal's.
    pub safe_tx_hash: B256,
    /// The gateway's proposal id signed for. Signed; must equal the proposal's.
    pub proposal_id: String,
    /// Signed: the approval is void from this instant.
    pub expires_at: Timestamp,
    /// The ed25519 key that signed; it identifies the operator through the policy.
    pub public_key: FixedBytes<32>,
    /// The ed25519 signature over [`crate::approvals::signed_message`].
    pub signature: FixedBytes<64>,
    /// Stamped by the gateway on receipt (not signed; the signer cannot backdate it).
    pub received_at: Timestamp,
}

/// What one wallet already sent of one asset inside one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VelocityTotal {
    /// The Safe the total is for.
    pub safe: Address,
    /// The asset the total is for.
    pub asset: Asset,
    /// The window, in hours; must equal the velocity limit's, or the limit has no total.
    pub window_hours: u64,
    /// What left the Safe in the window before this proposal, in base units.
    pub spent: U256,
}
