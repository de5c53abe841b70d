//! Starting a real server on 127.0.0.1:0 and seeding its store.

use std::{net::SocketAddr, path::Path, sync::Arc};

use prost::Message;
use signgate_gateway::{
    config::GatewayConfig,
    domain::{DecisionDetail, ProposalAnalysis},
    pipeline::DecisionPipeline,
    serve::{serve_with, serve_with_store},
    store::{Inserted, NewDecision, NewProposal, Outcome, ProposalRecord, ProposalStore},
};
use signgate_proto::v1 as pb;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A configuration for tests: the embedded default plus `env` overrides, data in `dir`.
pub fn config(dir: &Path, env: &[(&str, &str)]) -> GatewayConfig {
    let mut vars = vec![(
        "SIGNGATE_STORE__DATA_DIR".to_string(),
        dir.join("data").to_string_lossy().into_owned(),
    )];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    GatewayConfig::load(None, vars).unwrap()
}

/// A running server; `stop` shuts it down and joins it.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), signgate_gateway::serve::ServeError>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(self) {
        self.shutdown.send(()).unwrap();
        self.handle.await.unwrap().unwrap();
    }
}

pub async fn start<S: ProposalStore>(cfg: GatewayConfig, store: Arc<S>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve_with_store(listener, cfg, store, async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        shutdown,
        handle,
    }
}

/// [`start`] with `pipeline` behind the calls that change proposals.
pub async fn start_with<S: ProposalStore, P: DecisionPipeline>(
    cfg: GatewayConfig,
    store: Arc<S>,
    pipeline: P,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve_with(
        listener,
        cfg,
        store,
        Arc::new(pipeline),
        async move {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        shutdown,
        handle,
    }
}

/// Stores a proposal whose view and decision are real `signgate.v1` messages.
pub async fn seed<S: ProposalStore>(store: &S, p: NewProposal) -> ProposalRecord {
    let view = pb::Proposal {
        safe_version: "1.4.1".into(),
        hashes: Some(pb::SafeTxHashes {
            domain_hash: format!("{:#x}", alloy_primitives::B256::repeat_byte(1)),
            message_hash: format!("{:#x}", alloy_primitives::B256::repeat_byte(2)),
            safe_tx_hash: format!("{:#x}", p.safe_tx_hash),
        }),
        actions: vec![pb::DecodedAction {
            path: "0".into(),
            description: "transfer 1 ETH".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let decision = pb::Decision {
        outcome: Some(pb::decision::Outcome::NeedsApprovals(pb::NeedsApprovals {
            missing: vec![pb::MissingApproval {
                group: "treasury".into(),
                have: 0,
                need: 2,
                eligible_operators: vec!["bob".into(), "carol".into()],
            }],
            reasons: vec![pb::Reason {
                code: "QUORUM_NOT_MET".into(),
                message: "treasury needs 2 approvals, has 0".into(),
                evidence: vec![],
            }],
        })),
        policy_hash: "0xpolicy".into(),
        ..Default::default()
    };
    // Stored as a gateway before typed records would have: the views are shown as they were.
    let mut p = p;
    p.body.analysis = ProposalAnalysis::Legacy(view.encode_to_vec());
    let d = NewDecision {
        outcome: Outcome::NeedsApprovals,
        policy_hash: "0xpolicy".into(),
        decided_at: p.created_at,
        detail: DecisionDetail::Legacy(decision.encode_to_vec()),
    };
    match store.insert_proposal(vec![], p, d).await.unwrap() {
        Inserted::Created(r) => r,
        Inserted::Existing(_) => panic!("seeded twice"),
    }
}
