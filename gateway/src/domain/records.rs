//! The records the store keeps, all typed: identifiers, states and instants, the proposal's
//! [`ProposalBody`] and each decision's [`DecisionDetail`]. The store serialises the body and
//! detail as JSON; what a client sees is rendered from them at the edge.

use std::{fmt, str::FromStr};

use alloy_primitives::{Address, B256, U256};
use sha2::{Digest, Sha256};
use signgate_policy::anomaly::ProposalAlert;

use super::{DecisionDetail, ProposalBody};

/// Milliseconds since the Unix epoch. The store never reads the clock; callers pass `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

/// A proposal's stable id, derived from what makes a proposal unique (chain, Safe, safeTxHash)
/// so a resubmission finds the same proposal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProposalId(String);

impl ProposalId {
    /// `p-` followed by 24 hex digits of SHA-256 over the chain id, Safe and safeTxHash.
    pub fn derive(chain_id: u64, safe: Address, safe_tx_hash: B256) -> Self {
        Self::derive_nth(chain_id, safe, safe_tx_hash, 0)
    }

    /// The id of the `n`-th proposal of one transaction: a cancelled proposal's transaction
    /// proposed again becomes proposal `n + 1`, with an id of its own, so nothing signed for
    /// the cancelled one (approvals name the id) carries over. `n = 0` is [`Self::derive`].
    pub fn derive_nth(chain_id: u64, safe: Address, safe_tx_hash: B256, n: u32) -> Self {
        let mut h = Sha256::new();
        h.update(b"signgate.proposal-id\0");
        h.update(chain_id.to_be_bytes());
        h.update(safe.as_slice());
        h.update(safe_tx_hash.as_slice());
        if n > 0 {
            h.update(n.to_be_bytes());
        }
        let digest = h.finalize();
        let short: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        Self(format!("p-{short}"))
    }

    /// Wraps an id received from a client; it is only ever compared, never interpreted.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProposalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lifecycle state, mirrored by `signgate.v1.ProposalState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProposalState {
    /// Policy allows it once more approvals arrive.
    NeedsApprovals,
    /// Quorum met, waiting for the time lock or for signatures.
    Approved,
    /// Policy refused it.
    Denied,
    /// An operator rejected it.
    Rejected,
    /// A client cancelled it.
    Cancelled,
    /// Its nonce is reserved and tickets were issued.
    Released,
    /// Lapsed, or another transaction took its nonce.
    Expired,
}

impl ProposalState {
    /// Every state.
    pub const ALL: [Self; 7] = [
        Self::NeedsApprovals,
        Self::Approved,
        Self::Denied,
        Self::Rejected,
        Self::Cancelled,
        Self::Released,
        Self::Expired,
    ];

    /// The column value; stable, never renamed.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NeedsApprovals => "needs_approvals",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    /// Terminal states never change again.
    pub const fn is_terminal(self) -> bool {
        !matches!(self, Self::NeedsApprovals | Self::Approved)
    }
}

impl FromStr for ProposalState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("state {s:?}"))
    }
}

/// Outcome of a stored decision (its full detail is in [`DecisionRecord::detail`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Refused.
    Denied,
    /// Waiting for approvals.
    NeedsApprovals,
    /// Approved.
    Approved,
}

impl Outcome {
    /// The column value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::NeedsApprovals => "needs_approvals",
            Self::Approved => "approved",
        }
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Denied, Self::NeedsApprovals, Self::Approved]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("outcome {s:?}"))
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalKind {
    /// Counts towards quorum if policy allows.
    Approve,
    /// Rejects the proposal.
    Reject,
}

impl ApprovalKind {
    /// The column value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
}

impl FromStr for ApprovalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "approve" => Ok(Self::Approve),
            "reject" => Ok(Self::Reject),
            _ => Err(format!("approval kind {s:?}")),
        }
    }
}

/// A new proposal as the pipeline analysed it.
#[derive(Debug, Clone)]
pub struct NewProposal {
    /// Derived from chain, Safe and safeTxHash ([`ProposalId::derive`]), so a resubmission
    /// finds this proposal.
    pub id: ProposalId,
    /// EIP-155 chain id of the network the Safe lives on.
    pub chain_id: u64,
    /// The Safe (multisig wallet) that would execute the transaction.
    pub safe: Address,
    /// The Safe nonce the transaction was built for; only one transaction is ever released per
    /// (chain, Safe, nonce).
    pub nonce: U256,
    /// The Safe's EIP-712 transaction hash, the digest the owners sign.
    pub safe_tx_hash: B256,
    /// Operator id of the initiator.
    pub initiator: String,
    /// State the first decision put it in.
    pub state: ProposalState,
    /// When the gateway received the submission, from the gateway's clock.
    pub created_at: UnixMillis,
    /// The transaction, its version and intent, and the analysis at submission.
    pub body: ProposalBody,
}

/// A stored proposal row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalRecord {
    /// Derived from chain, Safe and safeTxHash ([`ProposalId::derive`]).
    pub id: ProposalId,
    /// EIP-155 chain id of the network the Safe lives on.
    pub chain_id: u64,
    /// The Safe (multisig wallet) that would execute the transaction.
    pub safe: Address,
    /// The Safe nonce the transaction was built for.
    pub nonce: U256,
    /// The Safe's EIP-712 transaction hash, the digest the owners sign.
    pub safe_tx_hash: B256,
    /// Operator id of the initiator.
    pub initiator: String,
    /// Where it is in its lifecycle; terminal states never change again.
    pub state: ProposalState,
    /// Increments with every change; used for optimistic concurrency and WatchProposal.
    pub revision: u64,
    /// When the gateway received the submission.
    pub created_at: UnixMillis,
    /// When the last change (state, revision) was committed; equal to `created_at` until then.
    pub updated_at: UnixMillis,
    /// The client's reason, set only when the proposal was cancelled.
    pub cancel_reason: Option<String>,
    /// The transaction, its version and intent, and the analysis at submission.
    pub body: ProposalBody,
}

/// A decision to store.
#[derive(Debug, Clone)]
pub struct NewDecision {
    /// What the policy decided; the proposal's state follows from it.
    pub outcome: Outcome,
    /// Hash of the policy that decided.
    pub policy_hash: String,
    /// When the policy was evaluated, from the gateway's clock.
    pub decided_at: UnixMillis,
    /// The evaluation.
    pub detail: DecisionDetail,
}

/// A stored decision; `seq` counts decisions per proposal from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    /// Position among this proposal's decisions, from 1; a re-decision takes the next number.
    pub seq: u64,
    /// What the policy decided.
    pub outcome: Outcome,
    /// Hash of the policy that decided.
    pub policy_hash: String,
    /// When the policy was evaluated.
    pub decided_at: UnixMillis,
    /// The evaluation and the lists it screened against (for decisions stored before schema
    /// version 3, the bytes of the old API view).
    pub detail: DecisionDetail,
}

/// An operator's signed statement, kept verbatim so it can be re-verified later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    /// Operator id of the signer of the statement.
    pub operator: String,
    /// ed25519 public key.
    pub public_key: [u8; 32],
    /// Whether the statement approves or rejects the proposal.
    pub kind: ApprovalKind,
    /// The encoded `ApprovalStatement` exactly as signed.
    pub payload: Vec<u8>,
    /// The ed25519 signature over it.
    pub signature: Vec<u8>,
    /// Free text from the operator, recorded and shown but never interpreted.
    pub comment: String,
    /// When the gateway received the statement, from the gateway's clock.
    pub received_at: UnixMillis,
    /// The anomaly alerts the call that brought it raised whose rules change the decision
    /// (`extra_approval`, `hold`, `not_counted`); empty for most.
    pub alerts: Vec<ProposalAlert>,
}

/// A proposal with its latest decision and every approval, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProposal {
    /// The proposal row.
    pub record: ProposalRecord,
    /// The latest decision (highest `seq`); `None` if none is stored.
    pub decision: Option<DecisionRecord>,
    /// Every approval and rejection, oldest first.
    pub approvals: Vec<ApprovalRecord>,
}

/// What a released proposal sends of one limited asset: stored as one event, so every rolling
/// window sums exactly the releases inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VelocityOutflow {
    /// The Safe it leaves: the proposing Safe, or a governed Safe the transaction reaches.
    pub safe: Address,
    /// `native` or a token's checksummed address.
    pub asset: String,
    /// What is sent, in the asset's base units (wei for `native`).
    pub amount: U256,
}

/// One velocity limit, checked by the store inside the release transaction: the released
/// events of `asset` leaving `safe` after `released_at - window_ms`, plus this proposal's outflow
/// of it from `safe`, must not exceed `max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VelocityCap {
    /// The Safe whose window it limits: the proposing Safe's wallet's limits, and those of
    /// every governed Safe the transaction reaches, are all checked in the one release
    /// transaction.
    pub safe: Address,
    /// As in [`VelocityOutflow::asset`].
    pub asset: String,
    /// Length of the rolling window in milliseconds.
    pub window_ms: i64,
    /// The most the window may hold, in base units.
    pub max: U256,
}

impl VelocityCap {
    /// The exclusive lower bound of the window ending at `now`: an event released exactly one
    /// window ago no longer counts.
    pub fn since(&self, now: UnixMillis) -> UnixMillis {
        UnixMillis(now.0.saturating_sub(self.window_ms))
    }
}

/// Everything that happens at once when a proposal is released.
#[derive(Debug, Clone)]
pub struct Release {
    /// The proposal to release.
    pub id: ProposalId,
    /// The revision the caller's checks saw.
    pub expected_revision: u64,
    /// The policy the release was decided under; a store shared by replicas refuses the
    /// release if another policy was put in force since ([`StoreError::PolicySuperseded`]).
    ///
    /// [`StoreError::PolicySuperseded`]: crate::store::StoreError::PolicySuperseded
    pub policy_hash: String,
    /// When the release happens, from the gateway's clock; stamped on the reservation and on
    /// every stored outflow, and the end of every velocity window checked.
    pub released_at: UnixMillis,
    /// The proposal's outflow of each limited asset; stored as events if the release happens.
    pub outflows: Vec<VelocityOutflow>,
    /// Every velocity limit of the wallet, checked against the stored events and `outflows`
    /// under the same write lock that reserves the nonce.
    pub caps: Vec<VelocityCap>,
}

/// What [`ProposalStore::release`](crate::store::ProposalStore::release) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The nonce is reserved (now, or by an earlier release of the same proposal).
    Released(NonceReservation),
    /// A velocity limit would be crossed; nothing was written.
    OverLimit(OverLimit),
}

/// A release refused by a velocity limit, with what the store saw, so the caller can explain
/// it and re-decide on the same numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// What each cap's window already held, in the order of [`Release::caps`]; a sum that
    /// overflows is `U256::MAX`.
    pub spent: Vec<U256>,
    /// The index in [`Release::caps`] of the first cap crossed.
    pub crossed: usize,
}

/// The one transaction a (chain, Safe, nonce) is released for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceReservation {
    /// EIP-155 chain id of the network the Safe lives on.
    pub chain_id: u64,
    /// The Safe whose nonce is reserved.
    pub safe: Address,
    /// The reserved Safe nonce.
    pub nonce: U256,
    /// The one transaction released for this nonce; any other with the same nonce is refused.
    pub safe_tx_hash: B256,
    /// The proposal that was released.
    pub proposal_id: ProposalId,
    /// When the nonce was reserved.
    pub reserved_at: UnixMillis,
}

/// A known counterparty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressEntry {
    /// EIP-155 chain id the entry applies to; the same address on another chain is not known.
    pub chain_id: u64,
    /// The counterparty's address.
    pub address: Address,
    /// Human-readable name shown next to the address.
    pub label: String,
    /// Free-form category ("exchange", "payroll").
    pub category: String,
    /// Operator id of whoever added or last changed the entry.
    pub added_by: String,
    /// When the entry was added or last changed.
    pub added_at: UnixMillis,
}

/// Filter of [`ProposalStore::list`](crate::store::ProposalStore::list).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only proposals on this chain; `None`: any chain.
    pub chain_id: Option<u64>,
    /// Only proposals of this Safe; `None`: any Safe.
    pub safe: Option<Address>,
    /// Empty: any state.
    pub states: Vec<ProposalState>,
    /// Only proposals created at or after this instant (inclusive).
    pub created_at_or_after: Option<UnixMillis>,
    /// Only proposals created before this instant (exclusive).
    pub created_before: Option<UnixMillis>,
}

/// One page of a listing, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The proposals of this page, newest first.
    pub proposals: Vec<ProposalRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageToken>,
}

/// An opaque position in a listing (created_at and id of the last row returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(pub String);

impl PageToken {
    pub(crate) fn after(created_at: UnixMillis, id: &ProposalId) -> Self {
        Self(format!("{}.{}", created_at.0, hex::encode(id.as_str())))
    }

    pub(crate) fn parse(&self) -> Option<(UnixMillis, ProposalId)> {
        let (ts, id) = self.0.split_once('.')?;
        let ts = ts.parse().ok()?;
        let id = String::from_utf8(hex::decode(id).ok()?).ok()?;
        Some((UnixMillis(ts), ProposalId(id)))
    }
}

/// Sent after every committed change, so watchers re-read the proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalChange {
    /// The proposal that changed.
    pub id: ProposalId,
    /// Its revision after the change; a watcher that has seen it need not re-read.
    pub revision: u64,
    /// Its state after the change.
    pub state: ProposalState,
}
