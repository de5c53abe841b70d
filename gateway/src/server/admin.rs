//! The `Admin` service: reloading the sanctions lists on request, applying a policy signed by
//! enough admins of the policy in force, listing the operators of the policy in force, and
//! health details.
//!
//! Every list reload is recorded in the audit log by the [`ListStore`] itself; every applied
//! policy by [`GovernedPolicy::apply`](crate::governance::GovernedPolicy::apply), before it
//! takes effect.

use std::{sync::Arc, time::SystemTime};

use std::str::FromStr as _;

use alloy_primitives::{B256, FixedBytes};
use signgate_policy::{
    Policy, PolicyHash,
    governance::AdminSignature,
    operators::{Operator, OperatorStatus},
    sanctions::{ListId, ListSlot},
    time::Timestamp,
};

use signgate_policy::anomaly::Alert;
use signgate_proto::v1::{self as pb, admin_server::Admin};
use tokio::sync::broadcast;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::metrics::chains::ChainsHealth;
use crate::{api::convert, clock::SharedClock, error::GatewayError, pipeline::Governance};
use crate::{
    lists::{ListEvent, ListStore, Polled},
    pipeline::evidence::seconds,
    store::{ProposalId, ProposalStore, UnixMillis},
};

/// The `Admin` service over a store.
#[derive(Debug)]
pub struct AdminService<S> {
    store: Arc<S>,
    lists: Option<Arc<ListStore>>,
    governance: Option<Governance>,
    chains: Option<ChainsHealth>,
    clock: SharedClock,
    started_at: UnixMillis,
    /// The anomaly alerts `WatchAlerts` streams, and the token that ends the streams when the
    /// server stops.
    alerts: Option<(broadcast::Sender<Alert>, CancellationToken)>,
}

impl<S: ProposalStore> AdminService<S> {
    /// A service reporting on `store`, telling time by `clock`.
    pub fn new(store: Arc<S>, clock: SharedClock) -> Self {
        Self {
            store,
            lists: None,
            governance: None,
            chains: None,
            started_at: clock.now(),
            clock,
            alerts: None,
        }
    }

    /// The alerts `WatchAlerts` streams until `stopping` is cancelled.
    pub fn with_alerts(
        mut self,
        alerts: broadcast::Sender<Alert>,
        stopping: CancellationToken,
    ) -> Self {
        self.alerts = Some((alerts, stopping));
        self
    }

    /// The live chains whose health `GetHealthDetails` reports.
    pub fn with_chains(mut self, chains: Option<ChainsHealth>) -> Self {
        self.chains = chains;
        self
    }

    /// The sanctions lists `ReloadSanctionsLists` reloads (the pipeline's own store).
    pub fn with_lists(mut self, lists: Option<Arc<ListStore>>) -> Self {
        self.lists = lists;
        self
    }

    /// The governed policy `ApplyPolicy` replaces and `ListOperators` reads (the pipeline's).
    pub fn with_governance(mut self, governance: Option<Governance>) -> Self {
        self.governance = governance;
        self
    }

    fn governance(&self) -> Result<&Governance, GatewayError> {
        self.governance.as_ref().ok_or(GatewayError::Unimplemented(
            "this gateway runs without a decision pipeline, so it has no policy",
        ))
    }
}

/// The admin signatures of a request, each 32 + 64 bytes.
fn admin_signatures(sigs: &[pb::PolicySignature]) -> Result<Vec<AdminSignature>, GatewayError> {
    if sigs.is_empty() {
        return Err(GatewayError::invalid(
            "signatures",
            "required: signatures of policy admins over the policy's version, predecessor and content hash",
        ));
    }
    sigs.iter()
        .enumerate()
        .map(|(i, s)| {
            let public_key = <[u8; 32]>::try_from(s.public_key.as_slice()).map_err(|_| {
                GatewayError::invalid(format!("signatures[{i}].public_key"), "must be 32 bytes")
            })?;
            let signature = <[u8; 64]>::try_from(s.signature.as_slice()).map_err(|_| {
                GatewayError::invalid(format!("signatures[{i}].signature"), "must be 64 bytes")
            })?;
            Ok(AdminSignature {
                public_key: FixedBytes(public_key),
                signature: FixedBytes(signature),
            })
        })
        .collect()
}

fn proto_time(t: Timestamp) -> signgate_proto::prost_types::Timestamp {
    signgate_proto::prost_types::Timestamp {
        seconds: i64::try_from(t.0).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// One operator of `policy` as `ListOperators` shows it, probation judged at `now`.
fn operator_view(policy: &Policy, op: &Operator, now: Timestamp) -> pb::Operator {
    let rules = policy.probation();
    let newest = op
        .keys
        .iter()
        .filter(|k| !k.is_revoked(now))
        .max_by_key(|k| k.enrolled_at);
    let probation = op.probation(now, rules.days, newest, rules.new_keys_probationary);
    pb::Operator {
        id: op.id.to_string(),
        name: op.name.clone(),
        public_key: newest.map(|k| k.public_key.to_string()).unwrap_or_default(),
        groups: op.roles.iter().map(ToString::to_string).collect(),
        probationary: probation.is_some(),
        initiator: op.status == OperatorStatus::Active && newest.is_some(),
        keys: op
            .keys
            .iter()
            .map(|k| pb::OperatorKey {
                public_key: k.public_key.to_string(),
                enrolled_at: Some(proto_time(k.enrolled_at)),
                revoked_at: k.revoked_at.map(proto_time),
                revoked: k.is_revoked(now),
                webauthn_credential_id: k
                    .webauthn
                    .as_ref()
                    .map(|c| c.id().to_string())
                    .unwrap_or_default(),
                webauthn_rp_id: k
                    .webauthn
                    .as_ref()
                    .map(|c| c.rp_id().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        status: op.status.to_string(),
        teams: op.teams.clone(),
        wallets: op.wallets.clone().unwrap_or_default(),
        probation: probation.map(|p| p.to_string()).unwrap_or_default(),
    }
}

fn kept_words(kept: Option<signgate_policy::sanctions::Sha256Digest>) -> String {
    kept.map_or_else(
        || "no earlier copy is in force, so screening cannot run".to_owned(),
        |k| format!("the previous copy {k} stays in force"),
    )
}

/// One list's state after a reload attempt: what is in force, and why an update was refused.
/// What a reload did to one list, in the response's terms: an error (empty: none) and the
/// address-level diff.
fn event_outcome(event: Option<ListEvent>) -> (String, u64, u64) {
    match event {
        None => ("no list has this id".to_owned(), 0, 0),
        Some(ListEvent::Accepted { diff, .. }) => (
            String::new(),
            diff.added.len() as u64,
            diff.removed.len() as u64,
        ),
        Some(ListEvent::Rejected { error, kept }) => {
            (format!("{error}; {}", kept_words(kept)), 0, 0)
        }
        Some(ListEvent::Unrecorded { kept, .. }) => (
            format!(
                "the audit log could not record the new copy, so it is not used; {}",
                kept_words(kept)
            ),
            0,
            0,
        ),
    }
}

/// What an operator-requested poll of a fetched list did, in the response's terms.
fn polled_outcome(polled: Polled) -> (String, u64, u64) {
    match polled {
        Polled::Confirmed => (String::new(), 0, 0),
        Polled::Offered(event) => event_outcome(Some(event)),
        Polled::Failed(why) => (format!("{why}; the copy in force stays"), 0, 0),
    }
}

fn list_status(
    lists: &ListStore,
    id: &ListId,
    (error, added, removed): (String, u64, u64),
) -> pb::SanctionsListStatus {
    let snapshot = lists.snapshot();
    let in_force = snapshot.list(id);
    pb::SanctionsListStatus {
        id: id.to_string(),
        version: in_force
            .and_then(|l| l.issue_date())
            .map(|d| d.to_string())
            .unwrap_or_default(),
        content_hash: in_force.map(|l| l.sha256().to_string()).unwrap_or_default(),
        addresses: in_force.map_or(0, |l| l.address_count() as u64),
        loaded_at: in_force
            .and_then(|l| unix_millis(l.loaded_at()))
            .map(convert::timestamp),
        error,
        added,
        removed,
    }
}

#[tonic::async_trait]
impl<S: ProposalStore> Admin for AdminService<S> {
    async fn reload_sanctions_lists(
        &self,
        req: Request<pb::ReloadSanctionsListsRequest>,
    ) -> Result<Response<pb::ReloadSanctionsListsResponse>, Status> {
        let Some(lists) = self.lists.clone() else {
            return Err(GatewayError::FailedPrecondition(
                "this gateway has no sanctions lists configured".into(),
            )
            .into());
        };
        let requested = req.into_inner().list_ids;
        let ids: Vec<ListId> = if requested.is_empty() {
            lists.sources().iter().map(|s| s.spec.id.clone()).collect()
        } else {
            requested
                .iter()
                .map(|id| {
                    ListId::new(id).map_err(|e| GatewayError::invalid("list_ids", e.to_string()))
                })
                .collect::<Result<_, _>>()?
        };
        let order = ids.clone();
        // A fetched list is polled at its publisher now (answered when that poll is done); a
        // file list is read again from its file.
        let mut polls = Vec::new();
        let mut files = Vec::new();
        for id in ids {
            match lists.poll_now(&id).await {
                Some(answered) => polls.push((id, answered)),
                None => files.push(id),
            }
        }
        // Parsing a list is file I/O and CPU work: off the async workers.
        let now = self.clock.system_time();
        let read = Arc::clone(&lists);
        let mut statuses = tokio::task::spawn_blocking(move || {
            files
                .iter()
                .map(|id| {
                    let event = read.reload(id, now);
                    if let Some(ListEvent::Accepted { diff, .. }) = &event {
                        tracing::info!(list = %id, added = diff.added.len(), removed = diff.removed.len(), "sanctions list reloaded on admin request");
                    }
                    (id.clone(), list_status(&read, id, event_outcome(event)))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| GatewayError::Internal(format!("list reload task failed: {e}")))?;
        for (id, answered) in polls {
            let outcome = match answered.await {
                Ok(polled) => polled_outcome(polled),
                Err(_) => (
                    "the list's fetcher stopped before it answered; the copy in force stays"
                        .to_owned(),
                    0,
                    0,
                ),
            };
            statuses.push((id.clone(), list_status(&lists, &id, outcome)));
        }
        // In the order asked (configuration order when none was named).
        statuses.sort_by_key(|(id, _)| order.iter().position(|o| o == id));
        let statuses = statuses.into_iter().map(|(_, status)| status).collect();
        Ok(Response::new(pb::ReloadSanctionsListsResponse {
            lists: statuses,
        }))
    }

    async fn apply_policy(
        &self,
        req: Request<pb::ApplyPolicyRequest>,
    ) -> Result<Response<pb::ApplyPolicyResponse>, Status> {
        let g = self.governance()?;
        let caller = super::gateway::caller(&req)?;
        let req = req.into_inner();
        if req.policy.is_empty() {
            return Err(GatewayError::invalid("policy", "required: the policy TOML").into());
        }
        let signatures = admin_signatures(&req.signatures)?;
        if req.version == 0 {
            return Err(GatewayError::invalid(
                "version",
                "required: the version the admins signed, above the version in force",
            )
            .into());
        }
        let replaces = B256::from_str(req.replaces_policy_hash.trim())
            .map(PolicyHash)
            .map_err(|_| {
                GatewayError::invalid(
                    "replaces_policy_hash",
                    "required: the 0x-prefixed content hash of the policy in force, as the admins signed it",
                )
            })?;
        let applied = g
            .policy
            .apply(
                &req.policy,
                req.version,
                replaces,
                signatures,
                crate::pipeline::records::caller(&caller),
                seconds(self.clock.now()),
            )
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(pb::ApplyPolicyResponse {
            policy_hash: applied.policy.hash().to_string(),
            changes: applied.changes,
            previous_policy_hash: applied.previous.to_string(),
            version: applied.version,
        }))
    }

    type WatchAlertsStream = ReceiverStream<Result<pb::AnomalyAlert, Status>>;

    async fn watch_alerts(
        &self,
        _req: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let (alerts, stopping) = self.alerts.as_ref().ok_or(GatewayError::Unimplemented(
            "this gateway runs without the anomaly rules' worker",
        ))?;
        Ok(Response::new(super::alerts::watch(
            alerts.subscribe(),
            stopping.clone(),
        )))
    }

    async fn list_operators(
        &self,
        _req: Request<pb::ListOperatorsRequest>,
    ) -> Result<Response<pb::ListOperatorsResponse>, Status> {
        let policy = self.governance()?.policy.load();
        let at = seconds(self.clock.now());
        Ok(Response::new(pb::ListOperatorsResponse {
            operators: policy
                .operators()
                .iter()
                .map(|op| operator_view(&policy, op, at))
                .collect(),
        }))
    }

    async fn get_health_details(
        &self,
        _req: Request<pb::GetHealthDetailsRequest>,
    ) -> Result<Response<pb::HealthDetails>, Status> {
        // A read of a proposal that cannot exist exercises the connection and the schema.
        let probe = self.store.get(ProposalId::new("health-probe")).await;
        let (status, detail) = match probe {
            Ok(_) => (pb::ComponentStatus::Ok, "reads succeed".to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "store health probe failed");
                (
                    pb::ComponentStatus::Failing,
                    "reads fail; see the gateway log".to_owned(),
                )
            }
        };
        let store = pb::ComponentHealth {
            name: "store".into(),
            status: status.into(),
            detail,
            last_ok: (status == pb::ComponentStatus::Ok)
                .then(|| convert::timestamp(self.clock.now())),
        };
        let mut components = vec![store];
        if let Some(g) = &self.governance {
            let policy = g.policy.load();
            let version = g.policy.version().await;
            components.push(pb::ComponentHealth {
                name: "policy".into(),
                status: pb::ComponentStatus::Ok.into(),
                detail: format!(
                    "{} {} in force as version {version}",
                    policy.name(),
                    policy.hash()
                ),
                last_ok: Some(convert::timestamp(self.clock.now())),
            });
        }
        if let Some(g) = &self.governance {
            components.push(audit_health(g, self.clock.now()).await);
        }
        if let Some(lists) = &self.lists {
            components.extend(list_health(lists, self.clock.system_time()));
            components.extend(oracle_health(lists, self.clock.system_time()));
        }
        if let Some(chains) = &self.chains {
            components.extend(chains.read().iter().map(chain_health));
        }
        Ok(Response::new(pb::HealthDetails {
            serving: status == pb::ComponentStatus::Ok,
            components,
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: Some(convert::timestamp(self.started_at)),
        }))
    }
}

/// A list past this share of its maximum age is reported DEGRADED: it still screens, but an
/// operator has little time left before every proposal is denied.
const LIST_AGE_WARNING: f64 = 0.8;

/// One component per configured sanctions list: usable and fresh, nearly stale, or unusable.
fn list_health(lists: &ListStore, now: SystemTime) -> Vec<pb::ComponentHealth> {
    let snapshot = lists.snapshot();
    let statuses = lists.status();
    snapshot
        .slots()
        .iter()
        .map(|slot| {
            let spec = slot.spec();
            let name = format!("sanctions:{}", spec.id);
            let (status, detail, last_ok) = match slot {
                ListSlot::Unavailable { reason, .. } => (
                    pb::ComponentStatus::Failing,
                    format!("never loaded ({reason}); every proposal is denied"),
                    None,
                ),
                ListSlot::Loaded(list) => {
                    let loaded = unix_millis(list.loaded_at()).map(convert::timestamp);
                    match list.freshness(now) {
                        Err(problem) => (
                            pb::ComponentStatus::Failing,
                            format!("{problem}; every proposal is denied until it is reloaded"),
                            loaded,
                        ),
                        Ok(age) => {
                            let share = age.as_secs_f64() / spec.max_age.as_secs_f64().max(1.0);
                            let status = if share >= LIST_AGE_WARNING {
                                pb::ComponentStatus::Degraded
                            } else {
                                pb::ComponentStatus::Ok
                            };
                            (
                                status,
                                format!(
                                    "{} address{}, version {}, sha256 {}, confirmed current {} s \
                                     ago of at most {} s",
                                    list.address_count(),
                                    if list.address_count() == 1 { "" } else { "es" },
                                    list.issue_date()
                                        .map_or_else(|| "undated".to_owned(), |d| d.to_string()),
                                    list.sha256(),
                                    age.as_secs(),
                                    spec.max_age.as_secs()
                                ),
                                loaded,
                            )
                        }
                    }
                }
            };
            let detail = format!(
                "{detail}; jurisdiction {}; source {}{}",
                spec.jurisdiction
                    .as_ref()
                    .map_or("not configured", |j| j.as_str()),
                spec.source,
                source_words(
                    statuses
                        .iter()
                        .find(|(id, _)| id == &spec.id)
                        .map(|(_, s)| s),
                    now
                )
            );
            pb::ComponentHealth {
                name,
                status: status.into(),
                detail,
                last_ok,
            }
        })
        .collect()
}

/// One component per sanctions oracle: asked live at every decision, so its health is its last
/// answer (an oracle that could not answer then denied that proposal, "cannot screen").
fn oracle_health(lists: &ListStore, now: SystemTime) -> Vec<pb::ComponentHealth> {
    lists
        .oracles()
        .iter()
        .map(|oracle| {
            let config = oracle.config();
            let asked = format!(
                "isSanctioned at {} through {}, {} ms per batch",
                config.contract,
                oracle.endpoint_label(),
                config.timeout.as_millis()
            );
            let ago = |t: SystemTime| now.duration_since(t).map_or(0, |d| d.as_secs());
            let (status, detail, last_ok) = match oracle.last_answer() {
                None => (
                    pb::ComponentStatus::Ok,
                    format!("not asked yet; {asked}"),
                    None,
                ),
                Some((at, None)) => (
                    pb::ComponentStatus::Ok,
                    format!("answered {} s ago; {asked}", ago(at)),
                    unix_millis(at).map(convert::timestamp),
                ),
                Some((at, Some(error))) => (
                    pb::ComponentStatus::Failing,
                    format!(
                        "could not answer {} s ago ({error}): proposals are denied (cannot \
                         screen) until it answers; {asked}",
                        ago(at)
                    ),
                    None,
                ),
            };
            pb::ComponentHealth {
                name: format!("sanctions-oracle:{}", oracle.display_name()),
                status: status.into(),
                detail,
                last_ok,
            }
        })
        .collect()
}

/// The last check and the last change of a list's source, in words, for health.
fn source_words(status: Option<&crate::lists::ListStatus>, now: SystemTime) -> String {
    let Some(status) = status else {
        return String::new();
    };
    let ago = |t: SystemTime| {
        now.duration_since(t).map_or_else(
            |_| "just now".to_owned(),
            |d| format!("{} s ago", d.as_secs()),
        )
    };
    let mut out = String::new();
    if let (Some(at), Some(result)) = (status.last_check, &status.last_result) {
        out.push_str(&format!("; last check {}: {result}", ago(at)));
    }
    if let Some(at) = status.last_change {
        out.push_str(&format!("; last change {}", ago(at)));
        if let Some(diff) = &status.last_diff {
            let shown = |v: &[alloy_primitives::Address]| {
                let mut words: Vec<String> = v.iter().take(5).map(ToString::to_string).collect();
                if v.len() > 5 {
                    words.push(format!("… {} more", v.len() - 5));
                }
                words.join(" ")
            };
            out.push_str(&format!(
                " (+{} [{}], -{} [{}])",
                diff.added.len(),
                shown(&diff.added),
                diff.removed.len(),
                shown(&diff.removed)
            ));
        }
    }
    out
}

/// One component per live chain: usable (with its pin and endpoints) or why not.
fn chain_health(c: &signgate_chain::ChainHealth) -> pb::ComponentHealth {
    use signgate_chain::EndpointState;
    let endpoints: Vec<String> = c
        .endpoints
        .iter()
        .map(|e| match &e.state {
            EndpointState::Unchecked => format!("{} not checked yet", e.endpoint),
            EndpointState::Ok { head } => format!("{} ok at block {head}", e.endpoint),
            EndpointState::WrongChain { reported } => format!(
                "{} reports chain id {reported}, not {}: not used",
                e.endpoint, c.chain_id
            ),
            EndpointState::Failing { error } => format!("{} failing: {error}", e.endpoint),
        })
        .collect();
    let (status, detail) = if c.usable {
        let pin = c
            .pinned
            .map(|(n, h)| format!("pinned to block {n} ({h})"))
            .unwrap_or_default();
        (
            pb::ComponentStatus::Ok,
            format!("{pin}; {}", endpoints.join("; ")),
        )
    } else {
        (
            pb::ComponentStatus::Failing,
            format!(
                "{}; every proposal on it is refused until it recovers; {}",
                c.problem.as_deref().unwrap_or("not usable"),
                endpoints.join("; ")
            ),
        )
    };
    pb::ComponentHealth {
        name: format!("chain:{}:{}", c.chain_id, c.name),
        status: status.into(),
        detail,
        last_ok: None,
    }
}

/// The audit log's head, read on a blocking thread: its size proves it is readable (appends are
/// proven by every decision, which fails with UNAVAILABLE when one cannot be written).
async fn audit_health(g: &Governance, now: UnixMillis) -> pb::ComponentHealth {
    let audit = g.audit.clone();
    let head = tokio::task::spawn_blocking(move || audit.head()).await;
    let (status, detail) = match head {
        Ok(Ok((size, _))) => (
            pb::ComponentStatus::Ok,
            format!("{size} records; reads succeed"),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "audit log health probe failed");
            (
                pb::ComponentStatus::Failing,
                "the audit log cannot be read; nothing is released; see the gateway log".to_owned(),
            )
        }
        Err(_) => (
            pb::ComponentStatus::Failing,
            "the audit log probe did not finish".to_owned(),
        ),
    };
    pb::ComponentHealth {
        name: "audit".into(),
        status: status.into(),
        detail,
        last_ok: (status == pb::ComponentStatus::Ok).then(|| convert::timestamp(now)),
    }
}

fn unix_millis(t: SystemTime) -> Option<UnixMillis> {
    let ms = t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_millis();
    Some(UnixMillis(i64::try_from(ms).ok()?))
}
