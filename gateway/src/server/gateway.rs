//! The `Gateway` service: each method parses its request ([`crate::api::requests`]), calls the
//! decision pipeline or reads the store, and renders the result ([`crate::api::view`]). No decision
//! and no state change happens here.

use std::sync::Arc;

use signgate_proto::v1::{self as pb, gateway_server::Gateway};
use signgate_simulator::render::Descriptors;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use super::Caller;
use crate::{
    api::{convert, requests, view},
    call_span,
    config::Limits,
    error::GatewayError,
    pipeline::{DecisionPipeline, Released},
    signer_backends::BackendSignature,
    store::{ApprovalKind, ListFilter, PageToken, ProposalId, ProposalStore, StoredProposal},
};

/// Proposal events buffered per watcher before the watcher is considered stuck.
const WATCH_BUFFER: usize = 16;

/// The `Gateway` service over a store and a decision pipeline.
#[derive(Debug)]
pub struct GatewayService<S, P> {
    store: Arc<S>,
    pipeline: Arc<P>,
    limits: Limits,
    /// Cancelled when the server shuts down, ending every watch stream so graceful shutdown
    /// does not wait for them.
    stopping: CancellationToken,
    /// Clear-signing descriptors: calls of known protocols in their words.
    descriptors: Arc<Descriptors>,
}

impl<S: ProposalStore, P: DecisionPipeline> GatewayService<S, P> {
    /// A service reading `store` and changing proposals through `pipeline`, showing calls of
    /// the protocols `descriptors` cover in their words.
    pub fn new(
        store: Arc<S>,
        pipeline: Arc<P>,
        limits: Limits,
        stopping: CancellationToken,
        descriptors: Arc<Descriptors>,
    ) -> Self {
        Self {
            store,
            pipeline,
            limits,
            stopping,
            descriptors,
        }
    }

    /// A stored proposal as the API shows it, under the policy in force.
    fn render(&self, stored: &StoredProposal) -> Result<pb::Proposal, GatewayError> {
        view::proposal(stored, self.pipeline.policy().as_deref(), &self.descriptors)
    }

    /// A stored proposal, or NOT_FOUND; the call's span gets its safeTxHash.
    async fn stored(&self, id: ProposalId) -> Result<StoredProposal, GatewayError> {
        let stored = self
            .store
            .get(id.clone())
            .await?
            .ok_or_else(|| GatewayError::NotFound(format!("proposal {id}")))?;
        call_span::record_hash(&stored.record.safe_tx_hash);
        crate::call_facts::record_wallet(stored.record.chain_id, stored.record.safe);
        Ok(stored)
    }

    async fn load(&self, id: ProposalId) -> Result<pb::Proposal, GatewayError> {
        self.render(&self.stored(id).await?)
    }

    fn list_filter(&self, req: &pb::ListProposalsRequest) -> Result<ListFilter, GatewayError> {
        Ok(ListFilter {
            chain_id: (req.chain_id != 0).then_some(req.chain_id),
            safe: (!req.safe.is_empty())
                .then(|| convert::address("safe", &req.safe))
                .transpose()?,
            states: req
                .states
                .iter()
                .map(|s| convert::state_from_proto("states", *s))
                .collect::<Result<_, _>>()?,
            created_at_or_after: req
                .created_after
                .as_ref()
                .map(|t| convert::unix_millis("created_after", t))
                .transpose()?,
            created_before: req
                .created_before
                .as_ref()
                .map(|t| convert::unix_millis("created_before", t))
                .transpose()?,
        })
    }

    fn released(&self, r: &Released) -> Result<pb::RequestSignaturesResponse, GatewayError> {
        Ok(pb::RequestSignaturesResponse {
            proposal: Some(self.render(&r.proposal)?),
            signatures: r.signatures.to_vec(),
            exec_transaction_calldata: r.exec_transaction_calldata.to_vec(),
            signers: r.signers.iter().map(BackendSignature::to_proto).collect(),
        })
    }
}

/// The caller the auth interceptor recorded; its absence means the interceptor did not run,
/// which is refused rather than assumed.
pub(super) fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("caller identity missing"))
}

/// Sends the proposal whenever its revision grows; ends on a terminal state, on shutdown, or
/// when the client goes away.
async fn watch_loop<S: ProposalStore>(
    store: Arc<S>,
    render: impl Fn(&StoredProposal) -> Result<pb::Proposal, GatewayError> + Send,
    id: ProposalId,
    mut changes: tokio::sync::broadcast::Receiver<crate::store::ProposalChange>,
    stopping: CancellationToken,
    tx: mpsc::Sender<Result<pb::ProposalEvent, Status>>,
    mut sent: u64,
) {
    loop {
        let reread = tokio::select! {
            _ = tx.closed() => return,
            () = stopping.cancelled() => return,
            change = changes.recv() => match change {
                Ok(c) => c.id == id && c.revision > sent,
                // Missed some changes: re-read to be sure.
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => {
                    let _ = tx.send(Err(Status::unavailable("the store stopped"))).await;
                    return;
                }
            },
        };
        if !reread {
            continue;
        }
        let view = match store.get(id.clone()).await {
            Ok(Some(stored)) => render(&stored),
            Ok(None) => Err(GatewayError::NotFound(format!("proposal {id}"))),
            Err(e) => Err(e.into()),
        };
        match view {
            Ok(p) if p.revision > sent => {
                sent = p.revision;
                let terminal = is_terminal(&p);
                if tx
                    .send(Ok(pb::ProposalEvent { proposal: Some(p) }))
                    .await
                    .is_err()
                    || terminal
                {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        }
    }
}

fn is_terminal(p: &pb::Proposal) -> bool {
    !matches!(
        pb::ProposalState::try_from(p.state),
        Ok(pb::ProposalState::NeedsApprovals | pb::ProposalState::Approved)
    )
}

#[tonic::async_trait]
impl<S: ProposalStore, P: DecisionPipeline> Gateway for GatewayService<S, P> {
    async fn submit_proposal(
        &self,
        req: Request<pb::SubmitProposalRequest>,
    ) -> Result<Response<pb::Proposal>, Status> {
        let caller = caller(&req)?;
        let now = self.pipeline.clock().now();
        let submission = requests::submission(req.get_ref(), &self.limits, now)?;
        let stored = self.pipeline.submit(caller, submission).await?;
        Ok(Response::new(self.render(&stored)?))
    }

    async fn approve(
        &self,
        req: Request<pb::ApproveRequest>,
    ) -> Result<Response<pb::Proposal>, Status> {
        let caller = caller(&req)?;
        let now = self.pipeline.clock().now();
        let statement = requests::approval(
            "approval",
            req.get_ref().approval.as_ref(),
            ApprovalKind::Approve,
            &self.limits,
            now,
        )?;
        let stored = self.pipeline.act(caller, statement).await?;
        Ok(Response::new(self.render(&stored)?))
    }

    async fn reject(
        &self,
        req: Request<pb::RejectRequest>,
    ) -> Result<Response<pb::Proposal>, Status> {
        let caller = caller(&req)?;
        let now = self.pipeline.clock().now();
        let statement = requests::approval(
            "rejection",
            req.get_ref().rejection.as_ref(),
            ApprovalKind::Reject,
            &self.limits,
            now,
        )?;
        let stored = self.pipeline.act(caller, statement).await?;
        Ok(Response::new(self.render(&stored)?))
    }

    async fn get_proposal(
        &self,
        req: Request<pb::GetProposalRequest>,
    ) -> Result<Response<pb::Proposal>, Status> {
        let id = convert::proposal_id("id", &req.get_ref().id)?;
        call_span::record_id(&id);
        Ok(Response::new(self.load(id).await?))
    }

    async fn list_proposals(
        &self,
        req: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        self.list_proposals_inner(req.into_inner())
            .await
            .map(Response::new)
    }

    type WatchProposalStream = ReceiverStream<Result<pb::ProposalEvent, Status>>;

    async fn watch_proposal(
        &self,
        req: Request<pb::WatchProposalRequest>,
    ) -> Result<Response<Self::WatchProposalStream>, Status> {
        self.watch_proposal_inner(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn cancel(
        &self,
        req: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::Proposal>, Status> {
        let caller = caller(&req)?;
        let now = self.pipeline.clock().now();
        let request = requests::cancel(req.get_ref(), &self.limits, now)?;
        call_span::record_id(request.id());
        let stored = self.pipeline.cancel(caller, request).await?;
        Ok(Response::new(self.render(&stored)?))
    }

    async fn request_signatures(
        &self,
        req: Request<pb::RequestSignaturesRequest>,
    ) -> Result<Response<pb::RequestSignaturesResponse>, Status> {
        let caller = caller(&req)?;
        let id = convert::proposal_id("id", &req.get_ref().id)?;
        call_span::record_id(&id);
        let released = self.pipeline.request_signatures(caller, id).await?;
        Ok(Response::new(self.released(&released)?))
    }
}

/// The bodies of the calls that only read the store.
impl<S: ProposalStore, P: DecisionPipeline> GatewayService<S, P> {
    async fn list_proposals_inner(
        &self,
        req: pb::ListProposalsRequest,
    ) -> Result<pb::ListProposalsResponse, Status> {
        let filter = self.list_filter(&req)?;
        let max = self.limits.max_page_size.get();
        let limit = if req.page_size == 0 {
            max.min(50)
        } else {
            req.page_size.min(max)
        };
        let after = (!req.page_token.is_empty()).then(|| PageToken(req.page_token.clone()));
        let page = self
            .store
            .list(filter, limit, after)
            .await
            .map_err(GatewayError::from)?;
        Ok(pb::ListProposalsResponse {
            proposals: page.proposals.iter().map(convert::summary).collect(),
            next_page_token: page.next.map(|t| t.0).unwrap_or_default(),
        })
    }

    async fn watch_proposal_inner(
        &self,
        req: pb::WatchProposalRequest,
    ) -> Result<ReceiverStream<Result<pb::ProposalEvent, Status>>, Status> {
        let id = convert::proposal_id("id", &req.id)?;
        call_span::record_id(&id);
        // Subscribe before the first read so no change between the two is missed.
        let changes = self.store.subscribe();
        let first = self.load(id.clone()).await?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let sent = first.revision;
        let terminal = is_terminal(&first);
        tx.send(Ok(pb::ProposalEvent {
            proposal: Some(first),
        }))
        .await
        .map_err(|_| Status::cancelled("client went away"))?;
        if !terminal {
            let pipeline = self.pipeline.clone();
            let descriptors = self.descriptors.clone();
            let render = move |stored: &StoredProposal| {
                view::proposal(stored, pipeline.policy().as_deref(), &descriptors)
            };
            // The stream outlives the call; its lines keep the call's tags.
            tokio::spawn(
                watch_loop(
                    self.store.clone(),
                    render,
                    id,
                    changes,
                    self.stopping.clone(),
                    tx,
                    sent,
                )
                .in_current_span(),
            );
        }
        Ok(ReceiverStream::new(rx))
    }
}
