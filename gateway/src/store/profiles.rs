//! Anomaly profiles (issue 18) behind the [`ProfileStore`] trait: one row per subject (an
//! operator, or a client certificate), its [`Profile`] as JSON, and a revision (a fingerprint of
//! the JSON, [`revision_of`]).
//!
//! Concurrency: a profile is read, the call evaluated and folded in without I/O, and the new
//! profile written back only if the row is still at the revision read
//! ([`ProfileStore::save_profile`]), in the same transaction as the audit records of the call.
//! A replica that lost the race re-reads and folds again, so no update is lost, and for each
//! subject the order of folds is the order of its `call_observed` records in the log — which is
//! what makes [`Profile::rebuild`] from the log equal the stored profile.

use std::{future::Future, pin::Pin};

use signgate_audit::AuditEvent;
use signgate_policy::anomaly::{Profile, Subject};

use super::{StoreError, UnixMillis};

/// A stored profile and the revision a write must name to replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProfile {
    /// The profile.
    pub profile: Profile,
    /// A fingerprint of the stored body ([`revision_of`]): what a write must name to replace it.
    /// Not a counter: two writers that start from different profiles never produce the same
    /// revision unless they wrote the same profile, so a write that names a revision it predicted
    /// (a judged call chained on a queued one) can never land on a profile another writer made.
    pub revision: u64,
}

/// A profile to write in the transaction of a state change: the subject's profile with a call
/// judged while it ran folded in (issue 18: a submission or approval whose alerts may change
/// its decision), written only if its row is still at `expected` (`None`: no row yet). A row
/// that moved on fails the change with [`StoreError::ProfileChanged`]: nothing is written, and
/// the caller judges the call again on the new profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileWrite {
    /// The profile with the call folded in.
    profile: Profile,
    /// The revision it was read at.
    expected: Option<u64>,
    /// Its JSON body, encoded once: the row holds it and its revision fingerprints it.
    body: String,
    /// [`revision_of`] the body: the revision the row will have once written.
    revision: u64,
}

/// A [`ProfileWrite`] as its row: key, JSON body, revision read. Encoded before any transaction.
#[derive(Debug, Clone)]
pub(crate) struct ProfileRow {
    pub(crate) key: String,
    pub(crate) body: String,
    pub(crate) expected: Option<i64>,
    pub(crate) revision: i64,
}

impl ProfileWrite {
    /// `profile` to write if its row is still at `expected`; encoded here, once.
    pub fn new(profile: Profile, expected: Option<u64>) -> Result<Self, StoreError> {
        let body = encode(&profile)?;
        Ok(Self {
            revision: revision_of(&body),
            profile,
            expected,
            body,
        })
    }

    /// The profile written.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The revision the row will have once written (a chained call names it as the one it read).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Its row.
    pub(crate) fn row(&self) -> Result<ProfileRow, StoreError> {
        Ok(ProfileRow {
            key: subject_key(self.profile.subject()),
            revision: revision_col(self.revision)?,
            body: self.body.clone(),
            expected: self.expected.map(revision_col).transpose()?,
        })
    }
}

/// The key of a subject's row: `operator:<id>` or `certificate:<0x-fingerprint>` (an operator id
/// never contains `:` before its own text, so the two never collide).
pub fn subject_key(subject: &Subject) -> String {
    match subject {
        Subject::Operator(id) => format!("operator:{id}"),
        Subject::Certificate(c) => format!("certificate:{c}"),
    }
}

/// A boxed future of the store, so [`ProfileStore`] can be a trait object (a proposal store
/// offers it through [`super::ProposalStore::profile_store`]).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where profiles are kept: the proposal store's database, so a profile and the audit records
/// of the call that changed it commit together.
pub trait ProfileStore: Send + Sync {
    /// The profile of `subject`, if one is stored.
    fn profile<'a>(&'a self, subject: &'a Subject) -> StoreFuture<'a, Option<StoredProfile>>;

    /// Writes `profile` with `audit` if its row is still at `expected` (`None`: no row yet).
    /// `Ok(false)` when another write came first: nothing was written, records included; re-read
    /// and fold again.
    fn save_profile<'a>(
        &'a self,
        audit: Vec<AuditEvent>,
        profile: &'a Profile,
        expected: Option<u64>,
        now: UnixMillis,
    ) -> StoreFuture<'a, bool>;

    /// Every stored profile, ordered by subject key byte for byte (to compare with a rebuild).
    fn profiles(&self) -> StoreFuture<'_, Vec<Profile>>;
}

/// The revision of a profile stored with `body`: the first 63 bits of SHA-256 of the body.
pub fn revision_of(body: &str) -> u64 {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(first) >> 1
}

/// A profile's JSON body.
pub fn encode(profile: &Profile) -> Result<String, StoreError> {
    serde_json::to_string(profile).map_err(|e| StoreError::Corrupt(format!("profile: {e}")))
}

/// A profile from its JSON body.
pub(crate) fn decode(body: &str) -> Result<Profile, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("stored profile: {e}")))
}

/// `profiles` ordered by subject key, compared byte for byte (not by a database collation).
pub(crate) fn sorted(mut profiles: Vec<Profile>) -> Vec<Profile> {
    profiles.sort_by_cached_key(|p| subject_key(p.subject()));
    profiles
}

/// A revision column into the trait's type.
pub(crate) fn revision(col: i64) -> Result<u64, StoreError> {
    u64::try_from(col).map_err(|_| StoreError::Corrupt(format!("profile revision {col}")))
}

/// The trait's revision into its column.
pub(crate) fn revision_col(revision: u64) -> Result<i64, StoreError> {
    i64::try_from(revision).map_err(|_| StoreError::Corrupt(format!("profile revision {revision}")))
}
