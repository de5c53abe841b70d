//! A submission or an approval judged by the anomaly rules while it runs (issue 18), when the
//! policy's rules may change its decision (`extra_approval`, `hold`, `not_counted`).
//!
//! The call's profile is read, the call is evaluated against it and folded in, and the result
//! is handed to the state change: its `call_observed` and `anomaly` records go first among the
//! change's records, and the profile is written in the same transaction, only if its row is
//! still at the revision read ([`ProfileWrite`]). So the alerts that shaped a decision are in
//! the log before it, with one flush for both, and a profile that moved on (another call of the
//! same operator judged first, on this replica or another) fails the change, which is judged
//! again on the new profile.
//!
//! On one gateway, the judged calls of one subject run one at a time from the profile read to
//! the commit ([`SUBJECT_LOCKS`]), so they never fail each other's revision check; only a call
//! of the same subject judged by another replica at the same moment does, and is judged again.
//!
//! Calls the layer observes after they end (reads, refusals, rejections) may still wait in its
//! queue: a profile read here does not hold them yet. That only ever adds alerts (a device seen
//! by a queued read still looks new); the counts the deciding rules use (approvals for a burst)
//! come from calls judged here.

use std::{
    hash::{Hash as _, Hasher as _},
    sync::Arc,
};

use signgate_audit::AuditEvent;
use signgate_policy::{
    Policy,
    anomaly::{Alert, CallKind, Profile, Subject, evaluate},
};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tonic::Code;

use crate::{
    call_facts,
    error::GatewayError,
    store::{ProposalStore, profiles::ProfileWrite},
};

/// Stripes of the per-subject lock: calls of subjects that hash alike wait for each other too,
/// which costs only time.
const STRIPES: usize = 64;

/// The per-subject locks of judged calls, process-wide.
static SUBJECT_LOCKS: std::sync::LazyLock<Vec<Arc<Mutex<()>>>> =
    std::sync::LazyLock::new(|| (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect());

fn lock_of(subject: &Subject) -> Arc<Mutex<()>> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    subject.hash(&mut h);
    let i = usize::try_from(h.finish() % STRIPES as u64).unwrap_or(0);
    SUBJECT_LOCKS
        .get(i)
        .cloned()
        .unwrap_or_else(|| Arc::new(Mutex::new(())))
}

/// The judgement of one running call, to commit with its state change. Holds the subject's
/// lock until it is dropped: keep it until the change committed or failed.
#[derive(Debug)]
pub(super) struct Judged {
    /// What the rules raised.
    pub(super) alerts: Vec<Alert>,
    /// Its `call_observed` record and one `anomaly` record per alert, to go first among the
    /// change's records.
    pub(super) events: Vec<AuditEvent>,
    /// The subject's profile with the call folded in.
    pub(super) write: ProfileWrite,
    /// The subject's lock, held from the profile read on.
    pub(super) held: OwnedMutexGuard<()>,
}

/// Whether `policy` has rules whose alerts change decisions, so that submissions and approvals
/// must be judged before they are decided.
pub(super) fn needed(policy: &Policy) -> bool {
    !policy.anomaly().deciding().is_empty()
}

/// Judges the running call `call` with the facts gathered so far. `None` outside an observed
/// call (the pipeline run without the gateway's layer, as in benches) and for a call that names
/// no subject.
pub(super) async fn judge<S: ProposalStore>(
    store: &S,
    policy: &Policy,
    call: CallKind,
) -> Result<Option<Judged>, GatewayError> {
    let Some(facts) = call_facts::current() else {
        return Ok(None);
    };
    let observed = call_facts::observation(policy, call, &facts, Code::Ok);
    let Some(subject) = observed.subject() else {
        return Ok(None);
    };
    let profiles = store.profile_store().ok_or_else(|| {
        GatewayError::Unavailable(
            "the policy's anomaly rules change decisions, but this store keeps no profiles"
                .to_owned(),
        )
    })?;
    let held = lock_of(&subject).lock_owned().await;
    let (mut profile, expected) = match profiles.profile(&subject).await? {
        Some(stored) => (stored.profile, Some(stored.revision)),
        None => (Profile::new(subject), None),
    };
    let settings = policy.anomaly();
    let alerts = evaluate(&profile, &observed, settings);
    profile.observe(&observed, settings);
    let mut events = vec![AuditEvent::CallObserved(Box::new(observed))];
    events.extend(
        alerts
            .iter()
            .cloned()
            .map(|a| AuditEvent::Anomaly(Box::new(a))),
    );
    Ok(Some(Judged {
        alerts,
        events,
        write: ProfileWrite { profile, expected },
        held,
    }))
}
