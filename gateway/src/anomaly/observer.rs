//! From a finished call to alerts: the [`Observer`] the layer hands each call to, and the
//! worker ([`run`]) that judges and learns.
//!
//! A finished call's answer never waits for any of this: the layer builds the [`Observation`]
//! and queues it without blocking (a full queue drops it, counted in
//! `signgate_anomaly_observations_lost{why="queue_full"}` and logged). A submission or an
//! approval under a policy whose rules change decisions is judged while it runs instead
//! ([`JudgeNow`], [`Queued::Running`]): it waits behind the calls queued before it for its
//! alerts, at most [`JUDGE_NOW_TIMEOUT`], and fails closed without them. One worker per gateway
//! takes the queue in order; for each call it reads the subject's profile, runs
//! [`evaluate`] on the history *before* the call, folds the call in with [`Profile::observe`],
//! and writes the profile with the call's `call_observed` record and one `anomaly` record per
//! alert in one transaction ([`ProfileStore::save_profile`]). Only then is an alert counted,
//! logged and sent to `Admin.WatchAlerts` watchers: an alert that is announced is in the log.
//!
//! Cost: one audit record per observed call (a read included), written by the store's group
//! commit off the call's path; see the README's anomaly section.

use std::sync::Arc;

use signgate_audit::AuditEvent;
use signgate_policy::{
    Policy,
    anomaly::{
        AdminCall, Alert, CallKind, IdentityClass, Observation, Outcome, ProbationFacts, Profile,
        ReadCall, RefusalKind, SourceNetwork, evaluate,
    },
    time::Timestamp,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::{PolicySource, webhook::WebhookQueue};
use crate::call_facts::{Facts, JudgeNow, JudgeUnavailable, Judged};
use crate::{
    clock::SharedClock,
    domain::records::UnixMillis,
    metrics::Metrics,
    store::{ProposalStore, profiles::ProfileStore},
};

/// Observed calls waiting for the worker; beyond this the newest is dropped (and counted).
pub const OBSERVATION_QUEUE: usize = 4_096;
/// Alerts buffered per `Admin.WatchAlerts` watcher before it is told it lagged.
pub const ALERT_BUFFER: usize = 256;
/// Attempts at one profile write that keeps losing to another replica's.
const MAX_ATTEMPTS: usize = 8;
/// How long a call judged while it runs waits for its turn and its records before it fails
/// closed (UNAVAILABLE): the worker may be behind the calls queued before it.
pub const JUDGE_NOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One item of the worker's queue: a finished call to judge and learn, or a call still running
/// whose decision waits for its alerts.
#[derive(Debug)]
pub enum Queued {
    /// A finished call; nobody waits for it.
    Finished(Observation),
    /// A call judged while it runs: the alerts (recorded) go back on `reply`.
    Running {
        /// The call so far, taken as allowed.
        observation: Observation,
        /// Where its alerts go, or why it could not be judged.
        reply: oneshot::Sender<Result<Vec<Alert>, JudgeUnavailable>>,
    },
}

/// The call a gRPC method makes, for the methods the rules know; `None` for any other path.
pub fn call_kind(method: &str) -> Option<CallKind> {
    Some(match method {
        "SubmitProposal" => CallKind::Submit,
        "Approve" => CallKind::Approve,
        "Reject" => CallKind::Reject,
        "Cancel" => CallKind::Cancel,
        "RequestSignatures" => CallKind::Release,
        "GetProposal" => CallKind::Read(ReadCall::Get),
        "ListProposals" => CallKind::Read(ReadCall::List),
        "WatchProposal" => CallKind::Read(ReadCall::Watch),
        "ReloadSanctionsLists" => CallKind::Admin(AdminCall::ReloadSanctionsLists),
        "ApplyPolicy" => CallKind::Admin(AdminCall::ApplyPolicy),
        "ListOperators" => CallKind::Admin(AdminCall::ListOperators),
        "GetHealthDetails" => CallKind::Admin(AdminCall::GetHealthDetails),
        "WatchAlerts" => CallKind::Admin(AdminCall::WatchAlerts),
        _ => return None,
    })
}

/// The call's instant as the policy counts time: whole seconds.
fn seconds(at: UnixMillis) -> Timestamp {
    Timestamp(u64::try_from(at.0).unwrap_or(0) / 1000)
}

/// The observation of a finished call, under `policy`: the operator is whoever holds the key
/// the request named; the outcome is the refusal the code that refused recorded, else what the
/// status says.
pub fn observation(policy: &Policy, call: CallKind, facts: &Facts, code: Code) -> Observation {
    let at = seconds(facts.at.unwrap_or(UnixMillis(0)));
    let holder = facts.key.as_ref().and_then(|k| policy.key_holder(&k.0));
    let operator = holder.map(|(op, _)| op.id.clone());
    let outcome = match (facts.refusal, code) {
        (Some(kind), _) => Outcome::Refused(kind),
        (None, Code::Ok) => Outcome::Allowed,
        (None, _) if facts.key.is_some() && holder.is_none() => {
            Outcome::Refused(RefusalKind::UnknownKey)
        }
        (None, Code::PermissionDenied | Code::Unauthenticated) => {
            Outcome::Refused(RefusalKind::PermissionDenied)
        }
        (None, _) => Outcome::Refused(RefusalKind::Other),
    };
    let identity = if operator.is_some() {
        IdentityClass::Operator
    } else {
        facts.identity.unwrap_or(IdentityClass::GatewayClient)
    };
    let probation = match (&operator, &facts.wallet) {
        (Some(op), Some(w)) => ProbationFacts::from_policy(policy, op, facts.key.as_ref(), w, at),
        _ => None,
    };
    Observation {
        at,
        operator,
        key: facts.key,
        client_cert: facts.client_cert,
        network: facts.peer.map(SourceNetwork::of),
        identity,
        call,
        wallet: facts.wallet,
        outcome,
        approval: if call == CallKind::Approve {
            facts.approval
        } else {
            None
        },
        probation,
    }
}

/// What the [`crate::server::observe`] layer hands finished calls to. Cheap to clone.
#[derive(Clone)]
pub struct Observer {
    clock: SharedClock,
    policy: Arc<dyn PolicySource>,
    queue: mpsc::Sender<Queued>,
    metrics: Arc<Metrics>,
    judge_timeout: std::time::Duration,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("queued", &(OBSERVATION_QUEUE - self.queue.capacity()))
            .finish_non_exhaustive()
    }
}

impl Observer {
    /// An observer queueing into a new channel, and the receiving end for [`run`].
    pub fn new(
        clock: SharedClock,
        policy: Arc<dyn PolicySource>,
        metrics: Arc<Metrics>,
    ) -> (Self, mpsc::Receiver<Queued>) {
        let (queue, rx) = mpsc::channel(OBSERVATION_QUEUE);
        (
            Self {
                clock,
                policy,
                queue,
                metrics,
                judge_timeout: JUDGE_NOW_TIMEOUT,
            },
            rx,
        )
    }

    /// How long a call judged while it runs waits for its judgement ([`JUDGE_NOW_TIMEOUT`]
    /// unless set).
    #[must_use]
    pub const fn with_judge_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.judge_timeout = timeout;
        self
    }

    /// Now, from the gateway's one clock: when a call arrived.
    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// Queues the observation of a finished call, without waiting. Nothing happens for a call
    /// the rules do not know or when the policy in force has no `[anomaly]` table.
    pub fn finished(&self, method: &str, facts: &Facts, code: Code) {
        let Some(call) = call_kind(method) else {
            return;
        };
        let Some(policy) = self.policy.current() else {
            return;
        };
        if !policy.anomaly().enabled {
            return;
        }
        if facts.judged {
            // Judged while it ran, before its decision.
            return;
        }
        let observation = observation(&policy, call, facts, code);
        if let Err(e) = self.queue.try_send(Queued::Finished(observation)) {
            self.metrics.anomaly_lost("queue_full");
            if let Queued::Finished(o) = e.into_inner() {
                tracing::warn!(
                    call = ?o.call,
                    subject = ?o.subject(),
                    "anomaly observation queue full; this call was not judged"
                );
            }
        }
    }
}

impl JudgeNow for Observer {
    /// Queues the running call behind every call observed before it and waits (at most
    /// [`JUDGE_NOW_TIMEOUT`]) for its alerts: the profile it is judged against holds every
    /// earlier call of this gateway. Whatever goes wrong is [`JudgeUnavailable`], which fails
    /// the call closed.
    fn judge(&self, call: CallKind, facts: Facts) -> Judged {
        let this = self.clone();
        Box::pin(async move {
            let Some(policy) = this.policy.current() else {
                return Err(JudgeUnavailable("no policy is in force".to_owned()));
            };
            let observation = observation(&policy, call, &facts, Code::Ok);
            let (reply, answer) = oneshot::channel();
            let queued = Queued::Running { observation, reply };
            let judged = tokio::time::timeout(this.judge_timeout, async {
                this.queue
                    .send(queued)
                    .await
                    .map_err(|_| JudgeUnavailable("the anomaly worker has stopped".to_owned()))?;
                answer
                    .await
                    .map_err(|_| JudgeUnavailable("the anomaly worker has stopped".to_owned()))?
            })
            .await;
            judged.unwrap_or_else(|_| {
                this.metrics.anomaly_lost("judge_timeout");
                Err(JudgeUnavailable(format!(
                    "no judgement within {} ms (the anomaly worker is behind); nothing was \
                     decided, try again",
                    this.judge_timeout.as_millis()
                )))
            })
        })
    }
}

/// The worker: judges and learns every queued call in order. Once `ended` is cancelled (the
/// server stopped serving) it takes no more calls, judges those already queued and returns, so
/// the caller can await the last call's records.
pub async fn run<S: ProposalStore>(
    store: Arc<S>,
    mut queue: mpsc::Receiver<Queued>,
    policy: Arc<dyn PolicySource>,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    sinks: AlertSinks,
    ended: CancellationToken,
) {
    let mut closed = false;
    loop {
        let next = tokio::select! {
            o = queue.recv() => o,
            () = ended.cancelled(), if !closed => {
                queue.close();
                closed = true;
                continue;
            }
        };
        let Some(item) = next else {
            return;
        };
        let (o, reply) = match item {
            Queued::Finished(o) => (o, None),
            Queued::Running { observation, reply } => (observation, Some(reply)),
        };
        let (Some(p), Some(profiles)) = (policy.current(), store.profile_store()) else {
            if let Some(reply) = reply {
                let _caller_gone = reply.send(Err(JudgeUnavailable(
                    "this gateway's store keeps no anomaly profiles".to_owned(),
                )));
            }
            continue;
        };
        match judge(profiles, &p, &o, clock.now()).await {
            Ok(raised) => {
                for a in &raised {
                    sinks.publish(&metrics, a.clone());
                }
                if let Some(reply) = reply {
                    // A caller that gave up (timed out) failed closed; its alerts stay recorded.
                    let _caller_gone = reply.send(Ok(raised));
                }
            }
            Err(e) => {
                metrics.anomaly_lost("unrecorded");
                tracing::error!(error = %e, call = ?o.call, subject = ?o.subject(),
                    "anomaly: the profile and its audit records could not be written; this call was not judged");
                if let Some(reply) = reply {
                    let _caller_gone = reply.send(Err(JudgeUnavailable(e.to_string())));
                }
            }
        }
    }
}

/// Where a recorded alert goes besides the audit log: the counter by rule, a warn line,
/// `Admin.WatchAlerts` watchers and the webhook's queue. Nothing here waits.
#[derive(Debug, Clone)]
pub struct AlertSinks {
    /// `Admin.WatchAlerts` watchers.
    pub watchers: broadcast::Sender<Alert>,
    /// `[alerts.webhook]`, when configured.
    pub webhook: Option<WebhookQueue>,
}

impl AlertSinks {
    fn publish(&self, metrics: &Metrics, a: Alert) {
        metrics.anomaly_alert(a.code());
        tracing::warn!(rule = a.code(), subject = ?a.subject, alert = %a, "anomaly");
        if let Some(w) = &self.webhook {
            w.offer(&a);
        }
        let _no_watchers = self.watchers.send(a);
    }
}

/// Why a call could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// The store or the audit log failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Other replicas kept writing the same profile first.
    #[error("the profile kept changing under {0} attempts")]
    Contended(usize),
}

/// One call: evaluate against the stored profile, fold it in, and write both with the call's
/// records. Returns the alerts once they are durable. A call that names neither an operator nor
/// a certificate has no profile and is not judged (only a plaintext loopback call can be one).
pub async fn judge(
    store: &dyn ProfileStore,
    policy: &Policy,
    o: &Observation,
    now: UnixMillis,
) -> Result<Vec<Alert>, JudgeError> {
    let Some(subject) = o.subject() else {
        return Ok(Vec::new());
    };
    let settings = policy.anomaly();
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.profile(&subject).await?;
        let (mut profile, expected) = match stored {
            Some(s) => (s.profile, Some(s.revision)),
            None => (Profile::new(subject.clone()), None),
        };
        let alerts = evaluate(&profile, o, settings);
        profile.observe(o, settings);
        let mut events = vec![AuditEvent::CallObserved(Box::new(o.clone()))];
        events.extend(
            alerts
                .iter()
                .cloned()
                .map(|a| AuditEvent::Anomaly(Box::new(a))),
        );
        if store.save_profile(events, &profile, expected, now).await? {
            return Ok(alerts);
        }
    }
    Err(JudgeError::Contended(MAX_ATTEMPTS))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::FixedBytes;
    use signgate_policy::anomaly::KeyId;

    use super::*;

    fn demo_policy() -> Policy {
        Policy::compile(crate::pipeline::setup::DEMO_POLICY).unwrap()
    }

    fn facts(key: Option<[u8; 32]>, refusal: Option<RefusalKind>) -> Facts {
        Facts {
            at: Some(UnixMillis(1_800_000_000_500)),
            key: key.map(|k| KeyId(FixedBytes(k))),
            refusal,
            ..Facts::default()
        }
    }

    #[test]
    fn the_outcome_is_the_recorded_refusal_else_what_the_status_says() {
        let policy = demo_policy();
        let approve = CallKind::Approve;
        let o = observation(&policy, approve, &facts(None, None), Code::Ok);
        assert_eq!(o.outcome, Outcome::Allowed);
        assert_eq!(o.at, Timestamp(1_800_000_000));
        let o = observation(&policy, approve, &facts(None, None), Code::PermissionDenied);
        assert_eq!(o.outcome, Outcome::Refused(RefusalKind::PermissionDenied));
        // A key nobody holds, refused: an unknown key, whatever the status.
        let o = observation(
            &policy,
            approve,
            &facts(Some([9; 32]), None),
            Code::Unauthenticated,
        );
        assert_eq!(o.outcome, Outcome::Refused(RefusalKind::UnknownKey));
        assert_eq!(o.operator, None);
        // What the refusing code recorded wins (a denied submission answers OK).
        let denied = facts(None, Some(RefusalKind::DeniedSanctions));
        let o = observation(&policy, CallKind::Submit, &denied, Code::Ok);
        assert_eq!(o.outcome, Outcome::Refused(RefusalKind::DeniedSanctions));
        let o = observation(&policy, approve, &facts(None, None), Code::InvalidArgument);
        assert_eq!(o.outcome, Outcome::Refused(RefusalKind::Other));
    }

    struct InForce(Arc<Policy>);

    impl PolicySource for InForce {
        fn current(&self) -> Option<Arc<Policy>> {
            Some(self.0.clone())
        }
    }

    #[tokio::test]
    async fn a_call_judged_while_it_runs_fails_closed_when_no_judgement_comes() {
        let policy = Arc::new(demo_policy());
        let (observer, mut queue) = Observer::new(
            crate::clock::system(),
            Arc::new(InForce(policy)),
            Arc::new(Metrics::default()),
        );
        let observer = observer.with_judge_timeout(std::time::Duration::from_millis(50));
        let facts = facts(Some([1; 32]), None);
        // A worker that is behind: the call waits its turn, then fails closed.
        let err = observer
            .judge(CallKind::Approve, facts.clone())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("no judgement within 50 ms"),
            "{err}"
        );
        assert!(matches!(queue.try_recv(), Ok(Queued::Running { .. })));
        // A worker that cannot record: its refusal is the call's.
        let judged = tokio::spawn({
            let observer = observer.clone();
            let facts = facts.clone();
            async move { observer.judge(CallKind::Approve, facts).await }
        });
        let Some(Queued::Running { reply, .. }) = queue.recv().await else {
            panic!("the running call is queued");
        };
        reply
            .send(Err(JudgeUnavailable("disk full".to_owned())))
            .unwrap();
        let err = judged.await.unwrap().unwrap_err();
        assert_eq!(err, JudgeUnavailable("disk full".to_owned()));
        // And a finished call is never queued again once it was judged while it ran.
        let judged_facts = Facts {
            judged: true,
            ..facts.clone()
        };
        observer.finished("Approve", &judged_facts, Code::Ok);
        assert!(queue.try_recv().is_err());
    }

    #[test]
    fn every_method_of_the_api_is_a_call_the_rules_know() {
        // Read from the descriptor set the server serves, so a new method cannot be missed.
        let set = <prost_types::FileDescriptorSet as prost::Message>::decode(
            signgate_proto::v1::FILE_DESCRIPTOR_SET,
        )
        .unwrap();
        for file in &set.file {
            for service in &file.service {
                if matches!(service.name(), "Gateway" | "Admin") {
                    for method in &service.method {
                        assert!(call_kind(method.name()).is_some(), "{}", method.name());
                    }
                }
            }
        }
        assert_eq!(call_kind("Check"), None);
    }
}
