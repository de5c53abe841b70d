//! Durable gateway state behind the [`ProposalStore`] trait: proposals, approvals, decisions,
//! nonce reservations (one released transaction per chain, Safe and nonce), velocity events
//! (each release's outflow per limited asset, summed over rolling windows) and the address book.
//!
//! - the records themselves are domain types ([`crate::domain::records`]): a proposal's typed
//!   body and each decision's detail, kept as JSON;
//! - [`schema`]: versioned migrations written in portable SQL (a PostgreSQL backend for several
//!   replicas reuses them with its own byte type);
//! - [`sqlite`]: the embedded default, [`SqliteStore`] (WAL, `synchronous=FULL`).
//!
//! Every method that changes more than one row does so in one transaction: callers never see,
//! and a crash never leaves, half of a change. Any storage failure is
//! [`StoreError::Unavailable`], which the server turns into `UNAVAILABLE` and never into a
//! release.

mod columns;
pub mod postgres;
pub mod profiles;
mod rules;
pub use rules::{counter_above, highest_counter};
pub mod schema;
pub mod sqlite;

use std::future::Future;

use alloy_primitives::{Address, B256, U256};
use signgate_audit::AuditEvent;
use tokio::sync::broadcast;

pub use crate::domain::records::*;
use crate::error::GatewayError;
pub use sqlite::SqliteStore;

/// Why a store operation did not happen. Nothing was written when an error is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No proposal with this id.
    #[error("proposal {id} not found")]
    NotFound {
        /// The id asked for.
        id: ProposalId,
    },
    /// The (chain, Safe, nonce) is already released for another transaction.
    #[error(
        "nonce {nonce} of Safe {safe} on chain {chain_id} is already released for \
         {existing_safe_tx_hash} (proposal {existing_proposal})"
    )]
    NonceTaken {
        /// EIP-155 chain id of the Safe.
        chain_id: u64,
        /// The Safe whose nonce is taken.
        safe: Address,
        /// The Safe nonce asked for.
        nonce: U256,
        /// The proposal the nonce was released for.
        existing_proposal: ProposalId,
        /// The transaction the nonce was released for; only it may be signed.
        existing_safe_tx_hash: B256,
    },
    /// The proposal's state does not allow this change.
    #[error("proposal {id} is {} and cannot be {action}", from.as_str())]
    InvalidTransition {
        /// The proposal asked to change.
        id: ProposalId,
        /// Its current state, which does not allow the change.
        from: ProposalState,
        /// What was attempted ("approved", "cancelled", "released").
        action: &'static str,
    },
    /// The proposal changed since the caller read it; re-read and re-evaluate.
    #[error("proposal {id} changed (revision {actual}, expected {expected})")]
    StaleRevision {
        /// The proposal that changed.
        id: ProposalId,
        /// The revision the caller's checks were made against.
        expected: u64,
        /// The revision stored now.
        actual: u64,
    },
    /// This key already approved or rejected the proposal.
    #[error(
        "operator key {} already acted on proposal {id}",
        hex::encode(public_key)
    )]
    DuplicateApproval {
        /// The proposal acted on.
        id: ProposalId,
        /// The operator's ed25519 public key; each key approves or rejects a proposal once.
        public_key: [u8; 32],
    },
    /// A security key's signature counter is not above every counter its stored assertions
    /// showed: a copy of the key (or a replay) lagging behind the original. Checked in the
    /// transaction that stores the approval, so two approvals racing with one cloned key cannot
    /// both be stored; nothing was written.
    #[error(transparent)]
    CounterNotAbove(#[from] signgate_webauthn::CounterError),
    /// Another policy was put in force (through another replica) after this change was
    /// decided; nothing was written. The replica adopts the new policy and the caller retries.
    #[error(
        "the policy in force changed to {in_force} while this was decided under {decided_under}; \
         nothing was written, retry"
    )]
    PolicySuperseded {
        /// The policy the change was decided under.
        decided_under: String,
        /// The policy recorded as in force; `none` if no start recorded one yet.
        in_force: String,
    },
    /// The change lost a race to a concurrent transaction (of this replica or another) more
    /// often than the store re-runs it; nothing was written, retry.
    #[error("a concurrent change won; nothing was written, retry: {0}")]
    Conflict(String),
    /// The anomaly profile written with this change moved on since it was read (another call of
    /// the same operator was judged first); nothing was written. Judge the call again.
    #[error(
        "the anomaly profile {subject} changed while this call was judged; nothing was written, retry"
    )]
    ProfileChanged {
        /// The profile's row key.
        subject: String,
    },
    /// A page token this store did not issue.
    #[error("page token is not valid")]
    BadPageToken,
    /// A value does not fit the schema (for example a chain id above 2^63).
    #[error("value out of range for column {column}")]
    OutOfRange {
        /// The column.
        column: &'static str,
    },
    /// A stored row could not be decoded; the database was changed outside signgate.
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    /// The audit records of the change could not be written, so neither they nor the change
    /// were stored. The details are for logs; clients see `UNAVAILABLE`.
    #[error("audit log could not record the change: {0}")]
    Unrecorded(String),
    /// The database failed (I/O, full disk, lock timeout, closed worker). The details are for
    /// logs; clients see `UNAVAILABLE`.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Result of [`ProposalStore::insert_proposal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new proposal was stored with its first decision.
    Created(ProposalRecord),
    /// A proposal with the same id already existed; nothing was written, audit records
    /// included.
    Existing(ProposalRecord),
}

/// Durable proposal state. Implementations must make each method atomic and durable before it
/// returns `Ok`, and must enforce the nonce uniqueness themselves (not only in the caller).
///
/// Every method that changes state takes the `audit` records of the change and commits them in
/// the **same transaction** as the change: both are durable or neither is, with one flush. The
/// log is one to one with the store's history: a refusal the caller records on purpose
/// ([`ReleaseOutcome::OverLimit`], whose records say why the release did not happen) commits
/// its records; an [`Inserted::Existing`] answer (an identical submission stored first) writes
/// nothing, its records included, since they would record a submission and a first decision
/// the store does not hold; an `Err` writes neither. Records that cannot be written are
/// [`StoreError::Unrecorded`].
///
/// Futures are `Send` so handlers can await them on the multi-threaded runtime.
pub trait ProposalStore: Send + Sync + 'static {
    /// Stores a new proposal and its first decision, or returns the existing one with the same
    /// id, or the open (not cancelled) one of the same chain, Safe and safeTxHash (a
    /// resubmission), without writing. At most one proposal per transaction is not cancelled.
    fn insert_proposal(
        &self,
        audit: Vec<AuditEvent>,
        proposal: NewProposal,
        decision: NewDecision,
    ) -> impl Future<Output = Result<Inserted, StoreError>> + Send {
        self.insert_proposal_observed(audit, proposal, decision, None)
    }

    /// [`insert_proposal`](Self::insert_proposal), writing `observed` (the submitter's anomaly
    /// profile with this submission judged) in the same transaction when a proposal is created.
    fn insert_proposal_observed(
        &self,
        audit: Vec<AuditEvent>,
        proposal: NewProposal,
        decision: NewDecision,
        observed: Option<profiles::ProfileWrite>,
    ) -> impl Future<Output = Result<Inserted, StoreError>> + Send;

    /// A proposal with its latest decision and approvals.
    fn get(
        &self,
        id: ProposalId,
    ) -> impl Future<Output = Result<Option<StoredProposal>, StoreError>> + Send;

    /// The stored signature of every approval or rejection made with `key`, on any proposal:
    /// for a WebAuthn credential (its key id) the assertions it made, whose highest signature
    /// counter the next must exceed.
    fn signatures_by_key(
        &self,
        key: [u8; 32],
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, StoreError>> + Send;

    /// A page of proposals, newest first. `limit` must be at least 1.
    fn list(
        &self,
        filter: ListFilter,
        limit: u32,
        after: Option<PageToken>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// Records an approval or rejection together with the re-evaluated decision and state, if
    /// the proposal is still at `expected_revision` and not terminal.
    fn add_approval(
        &self,
        audit: Vec<AuditEvent>,
        id: ProposalId,
        expected_revision: u64,
        approval: ApprovalRecord,
        decision: NewDecision,
        new_state: ProposalState,
    ) -> impl Future<Output = Result<ProposalRecord, StoreError>> + Send {
        self.add_approval_observed(
            audit,
            (id, expected_revision),
            approval,
            None,
            (decision, new_state),
            None,
        )
    }

    /// [`add_approval`](Self::add_approval) of the proposal at `(id, expected_revision)`,
    /// writing `observed` (the approver's anomaly profile with this approval judged) in the same
    /// transaction.
    ///
    /// `counter` is the security key's signature counter when a WebAuthn assertion signed the
    /// approval: it is stored only if the counter is above every one the key's stored
    /// assertions showed ([`StoreError::CounterNotAbove`]), checked in this transaction.
    fn add_approval_observed(
        &self,
        audit: Vec<AuditEvent>,
        at: (ProposalId, u64),
        approval: ApprovalRecord,
        counter: Option<u32>,
        decided: (NewDecision, ProposalState),
        observed: Option<profiles::ProfileWrite>,
    ) -> impl Future<Output = Result<ProposalRecord, StoreError>> + Send;

    /// Records a re-evaluation (policy change, time lock passed, approval lapsed).
    fn record_decision(
        &self,
        audit: Vec<AuditEvent>,
        id: ProposalId,
        expected_revision: u64,
        decision: NewDecision,
        new_state: ProposalState,
    ) -> impl Future<Output = Result<ProposalRecord, StoreError>> + Send;

    /// Cancels a proposal that is not terminal. `decided_under` is the policy whose
    /// `[cancellation]` rule allowed it: a store shared by replicas refuses the cancellation
    /// if another policy was put in force since, as it refuses any other decision.
    fn cancel(
        &self,
        audit: Vec<AuditEvent>,
        id: ProposalId,
        reason: String,
        now: UnixMillis,
        decided_under: String,
    ) -> impl Future<Output = Result<ProposalRecord, StoreError>> + Send;

    /// Releases an APPROVED proposal: checks every velocity cap against the released events
    /// of its window plus the proposal's outflow, then reserves its (chain, Safe, nonce), stores
    /// its outflows as events, marks it RELEASED and every other open proposal for the same
    /// nonce EXPIRED — all or nothing, under one write lock, so two releases racing each other
    /// (for any nonces) can never together cross a limit. A crossed cap is
    /// [`ReleaseOutcome::OverLimit`] and writes nothing. Releasing the same proposal again
    /// returns its reservation unchanged, without checking or adding anything.
    fn release(
        &self,
        audit: Vec<AuditEvent>,
        release: Release,
    ) -> impl Future<Output = Result<ReleaseOutcome, StoreError>> + Send;

    /// The reservation of a (chain, Safe, nonce), if any.
    fn reservation(
        &self,
        chain_id: u64,
        safe: Address,
        nonce: U256,
    ) -> impl Future<Output = Result<Option<NonceReservation>, StoreError>> + Send;

    /// The released total of `asset` for a Safe: the sum of its release events after `since`
    /// (exclusive), in `U256`. Events dated later than the caller's `now` (a replica whose
    /// clock runs ahead) count too: spent is spent. A sum that overflows is `U256::MAX`, which
    /// is over any limit.
    fn velocity_spent(
        &self,
        chain_id: u64,
        safe: Address,
        asset: String,
        since: UnixMillis,
    ) -> impl Future<Output = Result<U256, StoreError>> + Send;

    /// Adds or replaces an address book entry.
    fn upsert_address(
        &self,
        entry: AddressEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The address book of one chain, ordered by address.
    fn address_book(
        &self,
        chain_id: u64,
    ) -> impl Future<Output = Result<Vec<AddressEntry>, StoreError>> + Send;

    /// Committed changes, for `WatchProposal`. A lagging receiver should re-read.
    fn subscribe(&self) -> broadcast::Receiver<ProposalChange>;

    /// Whether changes commit in the order their futures were first polled: true for a store with
    /// one writer taking changes from a queue in order (SQLite), false where concurrent
    /// transactions commit in any order (PostgreSQL). The judged calls of one operator chain on
    /// each other's profile only where it is true (`pipeline::judged`).
    fn orders_writes(&self) -> bool {
        false
    }

    /// The anomaly profiles kept in this store's database, if it keeps them; `None` turns the
    /// anomaly rules off for a gateway on this store.
    fn profile_store(&self) -> Option<&dyn profiles::ProfileStore> {
        None
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { id } => Self::NotFound(format!("proposal {id}")),
            e @ StoreError::NonceTaken { .. } => Self::FailedPrecondition(e.to_string()),
            e @ StoreError::InvalidTransition { .. } => Self::FailedPrecondition(e.to_string()),
            e @ StoreError::StaleRevision { .. } => Self::Aborted(e.to_string()),
            e @ StoreError::DuplicateApproval { .. } => Self::FailedPrecondition(e.to_string()),
            e @ StoreError::CounterNotAbove(_) => Self::PermissionDenied(format!(
                "{e}; the approval is refused (if this is the only copy of the key, re-enrol it)"
            )),
            StoreError::BadPageToken => {
                Self::invalid("page_token", "not a token returned by ListProposals")
            }
            e @ StoreError::OutOfRange { .. } => Self::invalid("chain_id", e.to_string()),
            e @ StoreError::Corrupt(_) => Self::Internal(e.to_string()),
            e @ StoreError::Unavailable(_) => Self::Unavailable(e.to_string()),
            e @ StoreError::PolicySuperseded { .. } => Self::Unavailable(e.to_string()),
            e @ StoreError::Conflict(_) => Self::Aborted(e.to_string()),
            e @ StoreError::ProfileChanged { .. } => Self::Aborted(e.to_string()),
            StoreError::Unrecorded(detail) => {
                tracing::error!(error = %detail, "audit append failed; refusing the request");
                Self::Unavailable(
                    "the audit log could not record this; nothing was released".to_owned(),
                )
            }
        }
    }
}
