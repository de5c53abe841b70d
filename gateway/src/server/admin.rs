//! The `Admin` service: reloading the sanctions lists on request, and health details. Applying a
//! policy and listing operators answer UNIMPLEMENTED until the policy wiring lands.

use std::{sync::Arc, time::SystemTime};

use signgate_policy::sanctions::ListId;

use signgate_proto::v1::{self as pb, admin_server::Admin};
use tonic::{Request, Response, Status};

use super::{GatewayError, convert, gateway::now};
use crate::{
    lists::{ListEvent, ListStore},
    store::{ProposalId, ProposalStore, UnixMillis},
};

/// The `Admin` service over a store.
#[derive(Debug)]
pub struct AdminService<S> {
    store: Arc<S>,
    lists: Option<Arc<ListStore>>,
    started_at: UnixMillis,
}

impl<S: ProposalStore> AdminService<S> {
    /// A service reporting on `store`.
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            lists: None,
            started_at: now(),
        }
    }

    /// The sanctions lists `ReloadSanctionsLists` reloads (the pipeline's own store).
    pub fn with_lists(mut self, lists: Option<Arc<ListStore>>) -> Self {
        self.lists = lists;
        self
    }
}

/// One list's state after a reload attempt: what is in force, and why an update was refused.
fn list_status(
    lists: &ListStore,
    id: &ListId,
    event: Option<ListEvent>,
) -> pb::SanctionsListStatus {
    let snapshot = lists.snapshot();
    let in_force = snapshot.list(id);
    let (error, added, removed) = match event {
        None => ("no list has this id".to_owned(), 0, 0),
        Some(ListEvent::Accepted { diff, .. }) => (
            String::new(),
            diff.added.len() as u64,
            diff.removed.len() as u64,
        ),
        Some(ListEvent::Rejected { error, kept }) => {
            let kept = kept.map_or_else(
                || "no earlier copy is in force, so screening cannot run".to_owned(),
                |k| format!("the previous copy {k} stays in force"),
            );
            (format!("{error}; {kept}"), 0, 0)
        }
    };
    pb::SanctionsListStatus {
        id: id.to_string(),
        version: in_force
            .and_then(|l| l.issue_date())
            .map(|d| d.to_string())
            .unwrap_or_default(),
        content_hash: in_force.map(|l| l.sha256().to_string()).unwrap_or_default(),
        addresses: in_force.map_or(0, |l| l.address_count() as u64),
        loaded_at: in_force.and_then(|l| {
            let ms = l
                .loaded_at()
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()?
                .as_millis();
            Some(convert::timestamp(UnixMillis(i64::try_from(ms).ok()?)))
        }),
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
        // Parsing a list is file I/O and CPU work: off the async workers.
        let statuses = tokio::task::spawn_blocking(move || {
            let now = SystemTime::now();
            ids.iter()
                .map(|id| {
                    let event = lists.reload(id, now);
                    if let Some(ListEvent::Accepted { diff, .. }) = &event {
                        tracing::info!(list = %id, added = diff.added.len(), removed = diff.removed.len(), "sanctions list reloaded on admin request");
                    }
                    list_status(&lists, id, event)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| GatewayError::Internal(format!("list reload task failed: {e}")))?;
        Ok(Response::new(pb::ReloadSanctionsListsResponse {
            lists: statuses,
        }))
    }

    async fn apply_policy(
        &self,
        _req: Request<pb::ApplyPolicyRequest>,
    ) -> Result<Response<pb::ApplyPolicyResponse>, Status> {
        Err(GatewayError::Unimplemented("ApplyPolicy arrives with the policy wiring").into())
    }

    async fn list_operators(
        &self,
        _req: Request<pb::ListOperatorsRequest>,
    ) -> Result<Response<pb::ListOperatorsResponse>, Status> {
        Err(GatewayError::Unimplemented("ListOperators arrives with the policy wiring").into())
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
            last_ok: (status == pb::ComponentStatus::Ok).then(|| convert::timestamp(now())),
        };
        Ok(Response::new(pb::HealthDetails {
            serving: status == pb::ComponentStatus::Ok,
            components: vec![store],
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: Some(convert::timestamp(self.started_at)),
        }))
    }
}
