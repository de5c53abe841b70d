//! The gateway server through real gRPC on 127.0.0.1:0, plaintext loopback mode.

use std::sync::Arc;

use prost::Message as _;
use signgate_gateway::{
    domain::{Caller, CancelRequest, ProposalAnalysis, ProposalBody, Statement, Submission},
    error::GatewayError,
    pipeline::{DecisionPipeline, Released},
    store::{
        ApprovalKind, ProposalId, ProposalRecord, ProposalState, ProposalStore, SqliteStore,
        StoredProposal,
    },
};
use signgate_proto::envelope::{self, APPROVAL_CONTEXT, CANCEL_CONTEXT, SUBMISSION_CONTEXT};
use signgate_proto::v1::{self as pb, admin_client::AdminClient, gateway_client::GatewayClient};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::StatusExt;

use crate::{
    fixtures::{self, proposal},
    support::{config, seed, start, start_with},
};

async fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(dir.path().join("data/signgate.sqlite3"))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn health_reflection_and_store_backed_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let seeded = seed(
        &*store,
        proposal(5, 0x55, 1_000, ProposalState::NeedsApprovals),
    )
    .await;
    let server = start(config(dir.path(), &[]), store.clone()).await;

    let channel = tonic::transport::Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    let status = health
        .check(HealthCheckRequest {
            service: "signgate.v1.Gateway".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut gw = GatewayClient::connect(server.url()).await.unwrap();
    let p = gw
        .get_proposal(pb::GetProposalRequest {
            id: seeded.id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.id, seeded.id.to_string());
    assert_eq!(p.state(), pb::ProposalState::NeedsApprovals);
    assert_eq!(p.revision, 1);
    assert_eq!(p.initiator, "alice");
    assert_eq!(p.actions[0].description, "transfer 1 ETH");
    let decision = p.decision.unwrap();
    let Some(pb::decision::Outcome::NeedsApprovals(needs)) = decision.outcome else {
        panic!("expected NeedsApprovals")
    };
    assert_eq!(needs.reasons[0].code, "QUORUM_NOT_MET");

    let err = gw
        .get_proposal(pb::GetProposalRequest {
            id: "p-nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = gw
        .get_proposal(pb::GetProposalRequest {
            id: "bad id!".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let violations = err
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .clone();
    assert_eq!(violations[0].field, "id");

    let list = gw
        .list_proposals(pb::ListProposalsRequest {
            safe: crate::fixtures::safe().to_checksum(None),
            states: vec![pb::ProposalState::NeedsApprovals as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.proposals.len(), 1);
    assert!(list.next_page_token.is_empty());
    let err = gw
        .list_proposals(pb::ListProposalsRequest {
            safe: "0xzz".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = gw
        .list_proposals(pb::ListProposalsRequest {
            page_token: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = gw
        .list_proposals(pb::ListProposalsRequest {
            states: vec![0],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = gw
        .submit_proposal(pb::SubmitProposalRequest {
            submission: Some(sealed(SUBMISSION_CONTEXT, submission().encode_to_vec())),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);

    let mut admin = AdminClient::connect(server.url()).await.unwrap();
    let details = admin
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(details.serving);
    assert_eq!(details.components[0].name, "store");

    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(channel);
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    let Some(
        tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(
            list,
        ),
    ) = resp.message_response
    else {
        panic!("expected a service list")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "signgate.v1.Gateway",
        "signgate.v1.Admin",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn watch_streams_changes_until_terminal_and_cancel_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let seeded = seed(
        &*store,
        proposal(6, 0x66, 1_000, ProposalState::NeedsApprovals),
    )
    .await;
    let server = start_with(
        config(dir.path(), &[]),
        store.clone(),
        StoreCancels(store.clone()),
    )
    .await;
    let mut gw = GatewayClient::connect(server.url()).await.unwrap();

    let mut watch = gw
        .watch_proposal(pb::WatchProposalRequest {
            id: seeded.id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap().proposal.unwrap();
    assert_eq!(
        (first.revision, first.state()),
        (1, pb::ProposalState::NeedsApprovals)
    );

    let cancelled = gw
        .cancel(cancel_request(&seeded, "duplicate"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.state(), pb::ProposalState::Cancelled);
    assert_eq!(cancelled.cancel_reason, "duplicate");

    let second = watch.next().await.unwrap().unwrap().proposal.unwrap();
    assert_eq!(
        (second.revision, second.state()),
        (2, pb::ProposalState::Cancelled)
    );
    assert!(
        watch.next().await.is_none(),
        "the stream ends at a terminal state"
    );

    let err = gw.cancel(cancel_request(&seeded, "")).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_watch_streams() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let seeded = seed(
        &*store,
        proposal(7, 0x77, 1_000, ProposalState::NeedsApprovals),
    )
    .await;
    let server = start(config(dir.path(), &[]), store.clone()).await;
    let mut gw = GatewayClient::connect(server.url()).await.unwrap();
    let mut watch = gw
        .watch_proposal(pb::WatchProposalRequest {
            id: seeded.id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    watch.next().await.unwrap().unwrap();
    // Joining the server would hang if the open stream kept it alive.
    server.stop().await;
    assert!(watch.next().await.is_none_or(|r| r.is_err()));
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let cfg = config(
        dir.path(),
        &[
            ("SIGNGATE_SERVER__MAX_MESSAGE_BYTES", "2048"),
            ("SIGNGATE_SERVER__MAX_CALLDATA_BYTES", "1024"),
        ],
    );
    let server = start(cfg, store).await;
    let mut gw = GatewayClient::connect(server.url()).await.unwrap();
    let err = gw
        .get_proposal(pb::GetProposalRequest {
            id: "p".repeat(4096),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err}");
    server.stop().await;
}

#[tokio::test]
async fn proposals_survive_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = {
        let store = open(&dir).await;
        seed(
            &*store,
            proposal(8, 0x88, 1_000, ProposalState::NeedsApprovals),
        )
        .await
    };
    // The real `serve` opens the store named by the configuration.
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(signgate_gateway::serve::serve(
            listener,
            config(dir.path(), &[]),
            async move {
                let _ = rx.await;
            },
        ));
        let mut gw = GatewayClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let p = gw
            .get_proposal(pb::GetProposalRequest {
                id: seeded.id.to_string(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            p.safe_tx_hash_or_default(),
            format!("{:#x}", seeded.safe_tx_hash)
        );
        tx.send(()).unwrap();
        handle.await.unwrap().unwrap();
    }
}

trait HashOf {
    fn safe_tx_hash_or_default(&self) -> String;
}

impl HashOf for pb::Proposal {
    fn safe_tx_hash_or_default(&self) -> String {
        self.hashes
            .as_ref()
            .map(|h| h.safe_tx_hash.clone())
            .unwrap_or_default()
    }
}

/// A pipeline that answers with who called, to check the delegation seam: requests reach it
/// verified and parsed, with the caller the transport established.
struct EchoPipeline;

fn echoed(initiator: String) -> StoredProposal {
    let p = fixtures::proposal(1, 0x11, 1_000, ProposalState::NeedsApprovals);
    StoredProposal {
        record: ProposalRecord {
            id: p.id,
            chain_id: p.chain_id,
            safe: p.safe,
            nonce: p.nonce,
            safe_tx_hash: p.safe_tx_hash,
            initiator,
            state: p.state,
            revision: 1,
            created_at: p.created_at,
            updated_at: p.created_at,
            cancel_reason: None,
            // An empty stored view renders as an empty analysis.
            body: ProposalBody {
                analysis: ProposalAnalysis::Legacy(Vec::new()),
                ..p.body
            },
        },
        decision: None,
        approvals: Vec::new(),
    }
}

impl DecisionPipeline for EchoPipeline {
    async fn submit(&self, caller: Caller, s: Submission) -> Result<StoredProposal, GatewayError> {
        Ok(echoed(format!("{caller:?}:{}", s.request_id)))
    }
    async fn act(&self, _: Caller, s: Statement) -> Result<StoredProposal, GatewayError> {
        match s.says.kind {
            ApprovalKind::Approve => Err(GatewayError::Unavailable("state source down".into())),
            ApprovalKind::Reject => Err(GatewayError::invalid("rejection", "required")),
        }
    }
    async fn cancel(&self, _: Caller, c: CancelRequest) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::NotFound(format!("proposal {}", c.id())))
    }
    async fn request_signatures(
        &self,
        _: Caller,
        id: ProposalId,
    ) -> Result<Released, GatewayError> {
        Ok(Released {
            proposal: echoed(id.to_string()),
            signatures: Default::default(),
            exec_transaction_calldata: Default::default(),
            signers: Vec::new(),
        })
    }
}

fn sealed(context: &str, payload: Vec<u8>) -> pb::SignedEnvelope {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    pb::SignedEnvelope {
        signature: envelope::sign(&key, context, &payload).to_vec(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        payload,
        webauthn: None,
    }
}

fn now_ts() -> Option<signgate_proto::prost_types::Timestamp> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Some(signgate_proto::prost_types::Timestamp {
        seconds: i64::try_from(secs).unwrap(),
        nanos: 0,
    })
}

/// A valid submission (signed with [`sealed`], it passes every check before the pipeline).
fn submission() -> pb::ProposalSubmission {
    pb::ProposalSubmission {
        chain_id: 1,
        safe: format!("{:#x}", fixtures::safe()),
        safe_version: "1.4.1".into(),
        tx: Some(pb::proposal_submission::Tx::Transaction(
            pb::SafeTransaction {
                to: format!("{:#x}", alloy_primitives::Address::repeat_byte(0x77)),
                nonce: "1".into(),
                ..Default::default()
            },
        )),
        issued_at: now_ts(),
        request_id: "r-3".into(),
        ..Default::default()
    }
}

/// A cancellation of `p`, signed with [`sealed`]'s key.
fn cancel_request(p: &signgate_gateway::store::ProposalRecord, reason: &str) -> pb::CancelRequest {
    let statement = pb::CancelStatement {
        proposal_id: p.id.to_string(),
        chain_id: p.chain_id,
        safe: format!("{:#x}", p.safe),
        safe_tx_hash: format!("{:#x}", p.safe_tx_hash),
        issued_at: now_ts(),
        reason: reason.into(),
    };
    pb::CancelRequest {
        cancellation: Some(sealed(CANCEL_CONTEXT, statement.encode_to_vec())),
    }
}

fn statement(kind: pb::ApprovalKind) -> Vec<u8> {
    pb::ApprovalStatement {
        proposal_id: "p-1".into(),
        chain_id: 1,
        safe: format!("{:#x}", fixtures::safe()),
        safe_tx_hash: format!("{:#x}", alloy_primitives::B256::repeat_byte(1)),
        kind: kind.into(),
        issued_at: now_ts(),
        comment: String::new(),
    }
    .encode_to_vec()
}

#[tokio::test]
async fn deciding_calls_are_delegated_to_the_pipeline_with_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(signgate_gateway::serve::serve_with(
        listener,
        config(dir.path(), &[]),
        store,
        Arc::new(EchoPipeline),
        async move {
            let _ = rx.await;
        },
    ));
    let mut gw = GatewayClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    // Malformed input never reaches the pipeline.
    let err = gw
        .submit_proposal(pb::SubmitProposalRequest {
            submission: Some(pb::SignedEnvelope {
                payload: vec![1, 2, 3],
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let p = gw
        .submit_proposal(pb::SubmitProposalRequest {
            submission: Some(sealed(SUBMISSION_CONTEXT, submission().encode_to_vec())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.initiator, "Loopback:r-3");
    let err = gw
        .approve(pb::ApproveRequest {
            approval: Some(sealed(
                APPROVAL_CONTEXT,
                statement(pb::ApprovalKind::Approve),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(!err.message().contains("state source"), "{err}");
    let err = gw
        .reject(pb::RejectRequest {
            rejection: Some(sealed(
                APPROVAL_CONTEXT,
                statement(pb::ApprovalKind::Reject),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let released = gw
        .request_signatures(pb::RequestSignaturesRequest { id: "p-9".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.proposal.unwrap().initiator, "p-9");
    tx.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

/// Cancels on the store alone, so the server's cancel and watch plumbing is tested without a
/// decision pipeline (the real pipeline's cancel, with its audit record, is tested end to end).
struct StoreCancels(Arc<SqliteStore>);

impl DecisionPipeline for StoreCancels {
    async fn submit(&self, _: Caller, _: Submission) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented("not in this test"))
    }
    async fn act(&self, _: Caller, _: Statement) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented("not in this test"))
    }
    async fn cancel(&self, _: Caller, c: CancelRequest) -> Result<StoredProposal, GatewayError> {
        let id = c.id().clone();
        self.0
            .cancel(
                vec![],
                id.clone(),
                c.says.reason,
                signgate_gateway::store::UnixMillis(2_000),
                "0xpolicy".to_owned(),
            )
            .await?;
        Ok(self.0.get(id).await?.unwrap())
    }
    async fn request_signatures(&self, _: Caller, _: ProposalId) -> Result<Released, GatewayError> {
        Err(GatewayError::Unimplemented("not in this test"))
    }
}
