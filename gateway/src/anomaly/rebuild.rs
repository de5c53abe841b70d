//! Profiles rebuilt from the audit log alone, for a gateway that lost its store (or an auditor
//! who wants to check it): every `call_observed` record folded, in log order, into its
//! subject's profile with [`Profile::rebuild`].
//!
//! The result equals the stored profiles when the same `[anomaly]` settings are used (the
//! window and the declared time zones shape what a profile keeps): the store writes each
//! profile in the same transaction as its call's record, and the log's order is the order of
//! those transactions (see [`crate::store::profiles`]).

use std::collections::BTreeMap;

use signgate_audit::{AuditEvent, AuditRecord, canonical::CanonicalError};
use signgate_policy::anomaly::{Observation, Profile, Settings, Subject};

use crate::store::profiles::subject_key;

/// Why a log could not be read for a rebuild.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// A record is not a canonical audit record.
    #[error("audit record {index} could not be read: {source}")]
    Record {
        /// Its position in the log.
        index: usize,
        /// Why.
        source: CanonicalError,
    },
}

/// Every subject's profile from the log's records (their canonical bytes, in order), ordered by
/// the store's subject key, as [`crate::store::profiles::ProfileStore::profiles`] lists them.
pub fn profiles(leaves: &[Vec<u8>], settings: &Settings) -> Result<Vec<Profile>, RebuildError> {
    let mut calls: BTreeMap<String, (Subject, Vec<Observation>)> = BTreeMap::new();
    for (index, leaf) in leaves.iter().enumerate() {
        let record = AuditRecord::from_bytes(leaf)
            .map_err(|source| RebuildError::Record { index, source })?;
        if let AuditEvent::CallObserved(o) = record.event
            && let Some(subject) = o.subject()
        {
            calls
                .entry(subject_key(&subject))
                .or_insert_with(|| (subject, Vec::new()))
                .1
                .push(*o);
        }
    }
    Ok(calls
        .into_values()
        .map(|(subject, calls)| Profile::rebuild(subject, &calls, settings))
        .collect())
}
