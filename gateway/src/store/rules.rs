//! What both stores decide the same way, without I/O: whether a proposal may still change,
//! what a change makes of its record, which chain a nonce is reserved on, whether a release
//! crosses a velocity cap, and how a listing is cut into pages. Each backend reads and writes
//! its own rows; the rules they apply are these, once.

use alloy_primitives::U256;

use super::{
    NewProposal, NonceReservation, OverLimit, Page, PageToken, ProposalChange, ProposalRecord,
    ProposalState, Release, ReleaseOutcome, StoreError, UnixMillis,
};

/// The highest signature counter among a security key's stored assertions (`stored`: the
/// signatures of every approval made with the key's id; `None` before any).
///
/// A stored signature that is not a readable assertion with a counter is an error, never
/// skipped: skipping the highest one (a row edited in the database, a format the reader no
/// longer takes) would let a lagging clone pass.
pub fn highest_counter<'a>(
    stored: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Option<u32>, StoreError> {
    let mut highest = None;
    for bytes in stored {
        let counter = signgate_webauthn::Assertion::from_bytes(bytes)
            .ok()
            .and_then(|a| signgate_webauthn::authenticator_data::counter_of(a.authenticator_data()))
            .ok_or_else(|| {
                StoreError::Corrupt(
                    "a stored approval of a security key is not a readable assertion; its \
                     counter cannot be checked"
                        .to_owned(),
                )
            })?;
        highest = highest.max(Some(counter));
    }
    Ok(highest)
}

/// Whether an assertion with `counter` may be stored beside `stored` (the key's stored
/// signatures): the counter rule of [`signgate_webauthn::check_counter`] on their highest. One
/// rule for the pipeline's early refusal and the store's check in the transaction that stores.
pub fn counter_above<'a>(
    stored: impl IntoIterator<Item = &'a [u8]>,
    counter: u32,
) -> Result<(), StoreError> {
    Ok(signgate_webauthn::check_counter(
        highest_counter(stored)?,
        counter,
    )?)
}

/// The record a new proposal is stored as (revision 1, created and updated at its creation,
/// not cancelled): what reading the inserted row back returns, without reading it back.
pub(super) fn created(p: NewProposal) -> ProposalRecord {
    ProposalRecord {
        id: p.id,
        chain_id: p.chain_id,
        safe: p.safe,
        nonce: p.nonce,
        safe_tx_hash: p.safe_tx_hash,
        initiator: p.initiator,
        state: p.state,
        revision: 1,
        created_at: p.created_at,
        updated_at: p.created_at,
        cancel_reason: None,
        body: p.body,
    }
}

/// Checks that `rec` may still change and is at the revision the caller evaluated.
pub(super) fn check_open(
    rec: &ProposalRecord,
    expected_revision: u64,
    action: &'static str,
) -> Result<(), StoreError> {
    if rec.state.is_terminal() {
        return Err(StoreError::InvalidTransition {
            id: rec.id.clone(),
            from: rec.state,
            action,
        });
    }
    if rec.revision != expected_revision {
        return Err(StoreError::StaleRevision {
            id: rec.id.clone(),
            expected: expected_revision,
            actual: rec.revision,
        });
    }
    Ok(())
}

/// `rec` moved to `state` at `now`: the next revision, and the cancel reason if one is given.
pub(super) fn advanced(
    rec: &ProposalRecord,
    state: ProposalState,
    now: UnixMillis,
    cancel_reason: Option<&str>,
) -> ProposalRecord {
    ProposalRecord {
        state,
        revision: rec.revision.saturating_add(1),
        updated_at: now,
        cancel_reason: cancel_reason
            .map(str::to_owned)
            .or_else(|| rec.cancel_reason.clone()),
        ..rec.clone()
    }
}

/// The revision column of `rec`.
pub(super) fn revision_col(rec: &ProposalRecord) -> Result<i64, StoreError> {
    i64::try_from(rec.revision).map_err(|_| StoreError::OutOfRange { column: "revision" })
}

/// The change announcement for an updated record.
pub(super) fn change(rec: &ProposalRecord) -> ProposalChange {
    ProposalChange {
        id: rec.id.clone(),
        revision: rec.revision,
        state: rec.state,
    }
}

/// The chain a proposal's nonce is reserved on: its own, or 0 (every chain) for a Safe whose
/// signatures do not bind the chain (`SafeVersion::signature_chain`).
pub(super) fn signature_chain(rec: &ProposalRecord) -> u64 {
    rec.body.version.signature_chain(rec.chain_id)
}

/// Where a release of `rec` stands before anything is checked against the windows: `Ok(true)`
/// when it was released already (the caller answers with its reservation and changes nothing),
/// `Ok(false)` when it may go on, or why it may not (not approved, or changed since the caller's
/// checks).
pub(super) fn released_already(rec: &ProposalRecord, r: &Release) -> Result<bool, StoreError> {
    if rec.state == ProposalState::Released {
        return Ok(true);
    }
    if rec.state != ProposalState::Approved {
        return Err(StoreError::InvalidTransition {
            id: rec.id.clone(),
            from: rec.state,
            action: "released",
        });
    }
    check_open(rec, r.expected_revision, "released")?;
    Ok(false)
}

/// The answer to a repeated release of `rec`: its own reservation, which must exist.
pub(super) fn same_reservation(
    rec: &ProposalRecord,
    reservation: Option<NonceReservation>,
) -> Result<ReleaseOutcome, StoreError> {
    reservation
        .filter(|res| res.proposal_id == rec.id)
        .map(ReleaseOutcome::Released)
        .ok_or_else(|| StoreError::Corrupt(format!("released {} has no reservation", rec.id)))
}

/// Whether `r` crosses a cap, given what each cap's window already holds (`spent`, in the order
/// of `r.caps`): `None` when it fits, otherwise the first cap crossed. A sum that overflows is
/// over the limit: fail closed.
pub(super) fn over_limit(r: &Release, spent: Vec<U256>) -> Option<OverLimit> {
    let crossed = r.caps.iter().zip(&spent).position(|(cap, held)| {
        let amount = r
            .outflows
            .iter()
            .filter(|o| o.asset == cap.asset && o.safe == cap.safe)
            .fold(U256::ZERO, |a, o| a.saturating_add(o.amount));
        !amount.is_zero() && held.checked_add(amount).is_none_or(|sum| sum > cap.max)
    })?;
    Some(OverLimit { spent, crossed })
}

/// One page from `rows` read with one row more than `limit` (which tells whether another page
/// exists), newest first.
pub(super) fn page(mut proposals: Vec<ProposalRecord>, limit: u32) -> Page {
    let more = proposals.len() > limit as usize;
    proposals.truncate(limit as usize);
    let next = more
        .then(|| proposals.last())
        .flatten()
        .map(|last| PageToken::after(last.created_at, &last.id));
    Page { proposals, next }
}
