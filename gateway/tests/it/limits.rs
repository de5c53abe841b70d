//! Fail-closed behaviour and limits, with a store that fails or never answers.

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use signgate_gateway::store::{
    AddressEntry, ApprovalRecord, Inserted, ListFilter, NewDecision, NewProposal, NonceReservation,
    Page, PageToken, ProposalChange, ProposalId, ProposalRecord, ProposalState, ProposalStore,
    Release, ReleaseOutcome, StoreError, StoredProposal, UnixMillis,
};
use signgate_proto::v1::{self as pb, admin_client::AdminClient, gateway_client::GatewayClient};
use tokio::sync::{Notify, broadcast};
use tonic::Code;

use crate::support::{config, start};

/// How the stub store behaves.
enum Mode {
    /// Every call fails like a full disk.
    Broken,
    /// Every call announces itself and never completes.
    Hanging(Arc<Notify>),
}

/// Stands in for a store whose disk failed or hung; the real SQLite store cannot be made to
/// fail on demand without privileges.
struct StubStore {
    mode: Mode,
    changes: broadcast::Sender<ProposalChange>,
}

impl StubStore {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            changes: broadcast::channel(4).0,
        }
    }

    async fn fail<T>(&self) -> Result<T, StoreError> {
        match &self.mode {
            Mode::Broken => Err(StoreError::Unavailable(
                "disk I/O error in /var/lib/secret.db".into(),
            )),
            Mode::Hanging(entered) => {
                entered.notify_one();
                std::future::pending().await
            }
        }
    }
}

impl ProposalStore for StubStore {
    async fn insert_proposal_observed(
        &self,
        _: Vec<signgate_audit::AuditEvent>,
        _: NewProposal,
        _: NewDecision,
        _: Option<signgate_gateway::store::profiles::ProfileWrite>,
    ) -> Result<Inserted, StoreError> {
        self.fail().await
    }
    async fn get(&self, _: ProposalId) -> Result<Option<StoredProposal>, StoreError> {
        self.fail().await
    }
    async fn signatures_by_key(&self, _: [u8; 32]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.fail().await
    }
    async fn list(&self, _: ListFilter, _: u32, _: Option<PageToken>) -> Result<Page, StoreError> {
        self.fail().await
    }
    async fn add_approval_observed(
        &self,
        _: Vec<signgate_audit::AuditEvent>,
        _: (ProposalId, u64),
        _: ApprovalRecord,
        _: Option<u32>,
        _: (NewDecision, ProposalState),
        _: Option<signgate_gateway::store::profiles::ProfileWrite>,
    ) -> Result<ProposalRecord, StoreError> {
        self.fail().await
    }
    async fn record_decision(
        &self,
        _: Vec<signgate_audit::AuditEvent>,
        _: ProposalId,
        _: u64,
        _: NewDecision,
        _: ProposalState,
    ) -> Result<ProposalRecord, StoreError> {
        self.fail().await
    }
    async fn cancel(
        &self,
        _: Vec<signgate_audit::AuditEvent>,
        _: ProposalId,
        _: String,
        _: UnixMillis,
        _: String,
    ) -> Result<ProposalRecord, StoreError> {
        self.fail().await
    }
    async fn release(
        &self,
        _: Vec<signgate_audit::AuditEvent>,
        _: Release,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.fail().await
    }
    async fn reservation(
        &self,
        _: u64,
        _: Address,
        _: U256,
    ) -> Result<Option<NonceReservation>, StoreError> {
        self.fail().await
    }
    async fn velocity_spent(
        &self,
        _: u64,
        _: Address,
        _: String,
        _: UnixMillis,
    ) -> Result<U256, StoreError> {
        self.fail().await
    }
    async fn upsert_address(&self, _: AddressEntry) -> Result<(), StoreError> {
        self.fail().await
    }
    async fn address_book(&self, _: u64) -> Result<Vec<AddressEntry>, StoreError> {
        self.fail().await
    }
    fn subscribe(&self) -> broadcast::Receiver<ProposalChange> {
        self.changes.subscribe()
    }
}

#[tokio::test]
async fn a_failing_store_is_unavailable_and_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        config(dir.path(), &[]),
        Arc::new(StubStore::new(Mode::Broken)),
    )
    .await;
    let mut gw = GatewayClient::connect(server.url()).await.unwrap();
    for err in [
        gw.get_proposal(pb::GetProposalRequest { id: "p-1".into() })
            .await
            .unwrap_err(),
        gw.list_proposals(pb::ListProposalsRequest::default())
            .await
            .unwrap_err(),
        gw.watch_proposal(pb::WatchProposalRequest { id: "p-1".into() })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::Unavailable, "{err}");
        assert!(!err.message().contains("secret"), "{err}");
    }
    let mut admin = AdminClient::connect(server.url()).await.unwrap();
    let health = admin
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!health.serving);
    assert_eq!(health.components[0].status(), pb::ComponentStatus::Failing);
    server.stop().await;
}

#[tokio::test]
async fn calls_have_a_deadline_and_excess_load_is_shed() {
    let dir = tempfile::tempdir().unwrap();
    let entered = Arc::new(Notify::new());
    let cfg = config(
        dir.path(),
        &[
            ("SIGNGATE_SERVER__CALL_TIMEOUT_MS", "300"),
            ("SIGNGATE_SERVER__CONCURRENCY_LIMIT", "1"),
        ],
    );
    let server = start(
        cfg,
        Arc::new(StubStore::new(Mode::Hanging(entered.clone()))),
    )
    .await;
    let gw = GatewayClient::connect(server.url()).await.unwrap();

    let mut first = gw.clone();
    let stuck = tokio::spawn(async move {
        first
            .get_proposal(pb::GetProposalRequest { id: "p-1".into() })
            .await
    });
    // The first call now holds the only slot inside the store.
    entered.notified().await;
    let err = gw
        .clone()
        .get_proposal(pb::GetProposalRequest { id: "p-2".into() })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::ResourceExhausted,
        "shed, not queued: {err}"
    );

    // The server's own deadline ends the stuck call even though the client set none.
    let err = stuck.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Cancelled, "{err}");
    server.stop().await;
}
