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
//! On one gateway, the judged calls of one subject take turns ([`Turns`]), so they never
//! fail each other's revision check. How long a turn lasts depends on the store:
//! - a store that commits changes in the order it took them (SQLite's one writer,
//!   [`ProposalStore::orders_writes`]) ends the turn once the change is in its queue; the next
//!   call of the subject is judged on the profile this one will leave (kept in its [`Chain`]) and
//!   its change queued behind, so one operator's calls still share flushes. A change that fails
//!   drops what was chained on it: the calls behind it fail their revision check, and are judged
//!   again on the stored profile;
//! - a store whose transactions commit in any order (PostgreSQL) ends the turn with the commit.
//!
//! A call of the same subject judged by another replica at the same moment fails the revision
//! check and is judged again.
//!
//! Calls the layer observes after they end (reads, refusals, rejections) may still wait in its
//! queue: a profile read here does not hold them yet. That only ever adds alerts (a device seen
//! by a queued read still looks new); the counts the deciding rules use (approvals for a burst)
//! come from calls judged here.

use std::{
    collections::HashMap,
    hash::{Hash as _, Hasher as _},
    sync::Arc,
    task::Poll,
};

use signgate_audit::AuditEvent;
use signgate_policy::{
    Policy,
    anomaly::{Alert, CallKind, Profile, Subject, evaluate},
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};
use tonic::Code;

use crate::{
    call_facts,
    error::GatewayError,
    store::{ProposalStore, profiles::ProfileWrite},
};

/// Attempts at a judged call. More than at other changes: one change of an operator that fails
/// fails every change chained behind it, and each of those is judged again once the queue has
/// drained, so a burst of one operator's calls may lose several rounds.
pub(super) const MAX_ATTEMPTS: usize = 16;

/// Stripes of the per-subject turns.
const STRIPES: usize = 64;

/// One subject's queue of judged changes, in a store that orders writes.
#[derive(Debug, Default)]
pub(super) struct Chain {
    /// The profile the subject's row will hold once every queued change has landed, and its
    /// revision then: what the next judged call is judged on. `None`: read the store.
    chained: Option<(Profile, u64)>,
    /// Changes judged and not yet answered.
    in_flight: usize,
    /// A queued change did not land: what was chained on it is void. The next call waits for
    /// the queue to drain, then reads the store.
    broken: bool,
}

impl Chain {
    /// One queued change answered; `landed`: it wrote its profile.
    fn settle(&mut self, landed: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if !landed {
            self.broken = true;
            self.chained = None;
        }
    }
}

type Chains = HashMap<Subject, Chain>;

/// One stripe of the per-subject turns: the chains of its subjects, and a signal that one of
/// their changes was answered.
type Stripe = Arc<(Arc<Mutex<Chains>>, Notify)>;

/// The per-subject turns of one pipeline's judged calls, striped: subjects that hash alike wait
/// for each other too, which costs only time.
#[derive(Debug, Clone)]
pub(super) struct Turns(Arc<Vec<Stripe>>);

impl Default for Turns {
    fn default() -> Self {
        Self(Arc::new((0..STRIPES).map(|_| Stripe::default()).collect()))
    }
}

impl Turns {
    fn stripe(&self, subject: &Subject) -> Stripe {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        subject.hash(&mut h);
        let i = usize::try_from(h.finish() % STRIPES as u64).unwrap_or(0);
        self.0.get(i).cloned().unwrap_or_default()
    }
}

/// A subject's turn, from its profile read until its change is queued (a store that orders
/// writes) or answered (one that does not). Dropped without [`in_turn`] (an error between the
/// judgement and the change), it voids what was chained on it.
#[derive(Debug)]
pub(super) struct Turn {
    held: Option<OwnedMutexGuard<Chains>>,
    stripe: Stripe,
    subject: Subject,
    ordered: bool,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(mut held) = self.held.take()
            && self.ordered
        {
            if let Some(chain) = held.get_mut(&self.subject) {
                chain.settle(false);
            }
            drop(held);
            self.stripe.1.notify_waiters();
        }
    }
}

/// Runs `change` (the commit of a judged call) in its subject's `turn`: see the module's
/// comment. `took_effect` says whether an answer wrote the change (a submission answered with
/// an identical proposal stored first wrote nothing). Without a turn (a call not judged) it
/// simply runs.
pub(super) async fn in_turn<T>(
    turn: Option<Turn>,
    change: impl Future<Output = Result<T, GatewayError>>,
    took_effect: fn(&T) -> bool,
) -> Result<T, GatewayError> {
    let Some(mut turn) = turn else {
        return change.await;
    };
    let held = turn.held.take();
    let mut change = std::pin::pin!(change);
    if !turn.ordered {
        let done = change.await;
        drop(held);
        return done;
    }
    // Polled once in the turn: the store has the change in its queue, behind the subject's
    // earlier ones and before its later ones.
    let first = std::future::poll_fn(|cx| Poll::Ready(change.as_mut().poll(cx))).await;
    drop(held);
    let result = match first {
        Poll::Ready(done) => done,
        Poll::Pending => change.await,
    };
    let landed = result.as_ref().is_ok_and(took_effect);
    let (chains, answered) = &*turn.stripe;
    if let Some(chain) = chains.lock().await.get_mut(&turn.subject) {
        chain.settle(landed);
    }
    answered.notify_waiters();
    result
}

/// The judgement of one running call, to commit with its state change in its subject's turn
/// ([`in_turn`]).
#[derive(Debug)]
pub(super) struct Judged {
    /// What the rules raised.
    pub(super) alerts: Vec<Alert>,
    /// Its `call_observed` record and one `anomaly` record per alert, to go first among the
    /// change's records.
    pub(super) events: Vec<AuditEvent>,
    /// The subject's profile with the call folded in.
    pub(super) write: ProfileWrite,
    /// The subject's turn, held from the profile read on: pass it to [`in_turn`].
    pub(super) turn: Turn,
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
    turns: &Turns,
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
    let ordered = store.orders_writes();
    let stripe = turns.stripe(&subject);
    let mut held = loop {
        let mut held = stripe.0.clone().lock_owned().await;
        let chain = held.entry(subject.clone()).or_default();
        if !(ordered && chain.broken) {
            break held;
        }
        if chain.in_flight == 0 {
            // Every change queued on the void chain is answered: the store has the truth.
            chain.broken = false;
            break held;
        }
        let answered = stripe.1.notified();
        let mut answered = std::pin::pin!(answered);
        answered.as_mut().enable();
        drop(held);
        answered.await;
    };
    let chained = held
        .get(&subject)
        .and_then(|c| c.chained.clone())
        .filter(|_| ordered);
    let (mut profile, expected) = match chained {
        Some((profile, revision)) => (profile, Some(revision)),
        None => match profiles.profile(&subject).await? {
            Some(stored) => (stored.profile, Some(stored.revision)),
            None => (Profile::new(subject.clone()), None),
        },
    };
    let settings = policy.anomaly();
    let alerts = evaluate(&profile, &observed, settings);
    profile.observe(&observed, settings);
    let write = ProfileWrite::new(profile, expected)?;
    if ordered {
        let chain = held.entry(subject.clone()).or_default();
        // The revision the queued write will leave: its body's fingerprint, which no other
        // writer's profile shares.
        chain.chained = Some((write.profile().clone(), write.revision()));
        chain.in_flight = chain.in_flight.saturating_add(1);
    }
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
        write,
        turn: Turn {
            held: Some(held),
            stripe,
            subject,
            ordered,
        },
    }))
}
