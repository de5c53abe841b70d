//! The `Admin` service. Health details report the store, which is all this foundation owns;
//! reloading lists, applying policies and listing operators arrive with the sanctions and policy
//! wiring and answer UNIMPLEMENTED until then.

use std::sync::Arc;

use signgate_proto::v1::{self as pb, admin_server::Admin};
use tonic::{Request, Response, Status};

use super::{GatewayError, convert, gateway::now};
use crate::store::{ProposalId, ProposalStore, UnixMillis};

/// The `Admin` service over a store.
#[derive(Debug)]
pub struct AdminService<S> {
    store: Arc<S>,
    started_at: UnixMillis,
}

impl<S: ProposalStore> AdminService<S> {
    /// A service reporting on `store`.
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            started_at: now(),
        }
    }
}

#[tonic::async_trait]
impl<S: ProposalStore> Admin for AdminService<S> {
    async fn reload_sanctions_lists(
        &self,
        _req: Request<pb::ReloadSanctionsListsRequest>,
    ) -> Result<Response<pb::ReloadSanctionsListsResponse>, Status> {
        Err(GatewayError::Unimplemented("ReloadSanctionsLists arrives with the list wiring").into())
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
