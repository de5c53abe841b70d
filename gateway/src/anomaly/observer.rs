//! From a finished call to alerts: the [`Observer`] the layer hands each call to, and the
//! worker ([`run`]) that judges and learns.
//!
//! A finished call's answer never waits for any of this: the layer builds the [`Observation`]
//! and queues it without blocking (a full queue drops it, counted in
//! `signgate_anomaly_observations_lost{why="queue_full"}` and logged). A submission or an
//! approval under a policy whose rules change decisions is judged while it runs instead, by the
//! pipeline, which writes the profile and the records with the change it makes
//! (`crate::pipeline`'s `judged` module); the worker only announces its alerts
//! ([`Queued::Judged`]). One worker per gateway
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
    anomaly::{AdminCall, Alert, CallKind, Observation, Profile, ReadCall, evaluate},
};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::{PolicySource, webhook::WebhookQueue};
use crate::call_facts::{Facts, observation};
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
/// One item of the worker's queue.
#[derive(Debug)]
pub enum Queued {
    /// A finished call to judge, learn and record.
    Finished(Observation),
    /// The alerts of a call judged while it ran, already recorded with the state change it
    /// made: only to announce.
    Judged(Vec<Alert>),
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

/// What the [`crate::server::observe`] layer hands finished calls to. Cheap to clone.
#[derive(Clone)]
pub struct Observer {
    clock: SharedClock,
    policy: Arc<dyn PolicySource>,
    queue: mpsc::Sender<Queued>,
    metrics: Arc<Metrics>,
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
            },
            rx,
        )
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
            // Judged while it ran, recorded with its state change: only announced here.
            if !facts.alerts.is_empty()
                && self
                    .queue
                    .try_send(Queued::Judged(facts.alerts.clone()))
                    .is_err()
            {
                // Recorded in the log all the same; only the announcement is lost.
                self.metrics.anomaly_lost("queue_full");
            }
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
        let o = match item {
            Queued::Finished(o) => o,
            Queued::Judged(alerts) => {
                for a in alerts {
                    sinks.publish(&metrics, a);
                }
                continue;
            }
        };
        let (Some(p), Some(profiles)) = (policy.current(), store.profile_store()) else {
            continue;
        };
        match judge(profiles, &p, &o, clock.now()).await {
            Ok(raised) => {
                for a in raised {
                    sinks.publish(&metrics, a);
                }
            }
            Err(e) => {
                metrics.anomaly_lost("unrecorded");
                tracing::error!(error = %e, call = ?o.call, subject = ?o.subject(),
                    "anomaly: the profile and its audit records could not be written; this call was not judged");
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
    use signgate_policy::{
        anomaly::{KeyId, Outcome, RefusalKind},
        time::Timestamp,
    };

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
