//! Issue 6, test 7: a state source that times out and a stale sanctions list each end in a
//! denial with its reason — never in a release.

use std::{
    fs::File,
    sync::{Mutex, mpsc},
    time::{Duration, SystemTime},
};

use alloy_primitives::{Address, B256, U256};
use signgate_gateway::config::SanctionsListConfig;
use signgate_policy::sanctions::{ListAction, ListCategory, ListFormat, ListSpec};
use signgate_proto::v1 as pb;
use signgate_simulator::{
    evm::{BlockInfo, Snapshot, StateError, StateSource},
    report::StateSourceKind,
};
use tonic::Code;

use crate::{
    demo,
    support::{
        Options, demo_state, deny_codes, deny_reasons, start, state, submission, submit,
        submit_request, token_transfer,
    },
};

/// A state source whose first read hangs until the test ends (the gateway's deadline must
/// fire), and every read fails as an RPC timeout.
struct Stalling {
    inner: Snapshot,
    gate: Mutex<mpsc::Receiver<()>>,
}

impl Stalling {
    fn stall(&self) -> StateError {
        if let Ok(gate) = self.gate.lock() {
            let _ = gate.recv();
        }
        StateError::RpcTimeout {
            method: "eth_getStorageAt",
            timeout_ms: 1,
        }
    }
}

impl revm::database_interface::DatabaseRef for Stalling {
    type Error = StateError;
    fn basic_ref(&self, _: Address) -> Result<Option<revm::state::AccountInfo>, StateError> {
        Err(self.stall())
    }
    fn code_by_hash_ref(&self, _: B256) -> Result<revm::bytecode::Bytecode, StateError> {
        Err(self.stall())
    }
    fn storage_ref(&self, _: Address, _: U256) -> Result<U256, StateError> {
        Err(self.stall())
    }
    fn block_hash_ref(&self, _: u64) -> Result<B256, StateError> {
        Err(self.stall())
    }
}

impl StateSource for Stalling {
    fn block(&self) -> BlockInfo {
        self.inner.block()
    }
    fn kind(&self) -> StateSourceKind {
        self.inner.kind()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_source_that_times_out_denies_and_releases_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (open, gate) = mpsc::channel::<()>();
    let opts = Options {
        state: Stalling {
            inner: demo_state(),
            gate: Mutex::new(gate),
        },
        lists: None,
        signers: Vec::new(),
        simulation_timeout: Some(Duration::from_millis(300)),
        checkpoint_hook: None,
        webhook: None,
        env: Vec::new(),
        console: false,
    };
    let gw = start(dir.path(), opts).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(9u64), 0);

    // Without a version the gateway must read the Safe first: UNAVAILABLE, nothing stored.
    let err = c
        .submit_proposal(submit_request(
            &submission(demo::DEMO_SAFE, &tx),
            &demo::operator("alice"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    // With the version named, the proposal is stored and denied: the simulation could not run.
    let mut p = submission(demo::DEMO_SAFE, &tx);
    p.safe_version = "1.4.1".into();
    let p = c
        .submit_proposal(submit_request(&p, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), pb::ProposalState::Denied);
    let sim = deny_reasons(&p)
        .into_iter()
        .find(|r| r.code == "simulation.failed")
        .unwrap_or_else(|| panic!("{:?}", p.decision));
    assert!(
        sim.message.contains("simulation could not run"),
        "{}",
        sim.message
    );
    assert!(!p.simulation.as_ref().unwrap().success);

    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    // Let the stalled blocking read end so the runtime can shut down.
    drop(open);
    drop(c);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_list_denies_and_releases_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("stale.txt");
    std::fs::write(&list, "0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n").unwrap();
    // Written by the fetcher two days ago; the list may be at most a day old.
    File::options()
        .write(true)
        .open(&list)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 24 * 3600))
        .unwrap();
    let spec = ListSpec::new(
        "stale-list",
        list.display().to_string(),
        ListCategory::Sanctions,
        ListAction::Deny,
        ListFormat::Plain,
        Duration::from_secs(24 * 3600),
    )
    .unwrap();
    let mut opts = Options::demo();
    opts.lists = Some(vec![SanctionsListConfig {
        spec,
        path: list,
        comments_path: None,
        remote: None,
    }]);
    let gw = start(dir.path(), opts).await;
    let mut c = gw.client().await;

    let p = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(3u64), 0),
        "alice",
    )
    .await;
    assert_eq!(state(&p), pb::ProposalState::Denied);
    assert!(
        deny_codes(&p)
            .iter()
            .any(|c| c == "sanctions.cannot_screen"),
        "{:?}",
        p.decision
    );
    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    drop(c);
    gw.stop().await;
}
