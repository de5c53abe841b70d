//! The gateway's client to the signer backends against real reference signers on 127.0.0.1:0.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256, Bytes, U256};
use ed25519_dalek::SigningKey;
use signgate_gateway::{
    config::SignerEndpoint, domain::wire::safe_tx_to_proto, signer_backends as client,
};
use signgate_proto::{prost_types::Timestamp, v1 as pb};
use signgate_signer::{SignerError, SignerFiles, SystemClock, owner_key, ticket};
use signgate_simulator::{SafeContext, SafeTx, SafeVersion, safe_tx_hash};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

const PASSWORD: &str = "correct horse battery staple";

fn gateway_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn context() -> SafeContext {
    SafeContext {
        chain_id: 1,
        safe: Address::repeat_byte(0x5a),
        version: SafeVersion::V1_4_1,
    }
}

fn tx(nonce: u64, amount: u64) -> SafeTx {
    SafeTx::call(
        Address::repeat_byte(0x77),
        U256::from(amount),
        Bytes::new(),
        U256::from(nonce),
    )
}

/// A ticket for `tx` as the release pipeline writes one, valid for a minute.
fn ticket_for(tx: &SafeTx) -> pb::ReleaseTicket {
    let ctx = context();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    pb::ReleaseTicket {
        ticket_id: "t-1".into(),
        proposal_id: "p-1".into(),
        chain_id: ctx.chain_id,
        safe: ctx.safe.to_checksum(None),
        safe_version: "1.4.1".into(),
        nonce: tx.nonce.to_string(),
        transaction: Some(safe_tx_to_proto(tx)),
        safe_tx_hash: format!("{:#x}", safe_tx_hash(&ctx, tx)),
        policy_hash: "0xpolicy".into(),
        issued_at: Some(Timestamp {
            seconds: now,
            nanos: 0,
        }),
        expires_at: Some(Timestamp {
            seconds: now + 60,
            nanos: 0,
        }),
    }
}

/// A signer operator's files: keystore, password, the gateway's public key.
fn signer_files(dir: &Path) -> (SignerFiles, Address) {
    let password_file = dir.join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let owner =
        owner_key::create_keystore(&dir.join("keys"), "owner.json", PASSWORD.as_bytes()).unwrap();
    let gateway_pub = dir.join("release.key.pub");
    std::fs::write(
        &gateway_pub,
        hex::encode(gateway_key().verifying_key().as_bytes()),
    )
    .unwrap();
    let files = SignerFiles {
        keystore: dir.join("keys/owner.json"),
        password_file,
        gateway_key: gateway_pub,
        data_dir: dir.join("ledger"),
        tls: None,
    };
    (files, owner)
}

struct RunningSigner {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), SignerError>>,
}

impl RunningSigner {
    async fn start(files: &SignerFiles) -> Self {
        let setup = files.load(Arc::new(SystemClock)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(signgate_signer::serve(listener, setup, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            shutdown,
            handle,
        }
    }

    async fn stop(self) {
        self.shutdown.send(()).unwrap();
        self.handle.await.unwrap().unwrap();
    }
}

/// The gateway-side client: every backend asked at once, each answer verified, the good ones
/// packed; a dead backend costs its signature only.
#[tokio::test]
async fn the_gateway_collects_and_packs_verified_signatures() {
    let payment = tx(21, 7);
    let mut running = Vec::new();
    let mut dirs = Vec::new();
    let mut endpoints = Vec::new();
    let mut owners = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let (files, owner) = signer_files(dir.path());
        let r = RunningSigner::start(&files).await;
        endpoints.push(SignerEndpoint {
            endpoint: format!("http://{}", r.addr),
        });
        owners.push(owner);
        running.push(r);
        dirs.push(dir);
    }
    // A backend that is not there: bind, note the port, close.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    endpoints.push(SignerEndpoint {
        endpoint: format!("http://{dead}"),
    });

    let hash = safe_tx_hash(&context(), &payment);
    let signed = ticket::issue(&gateway_key(), &ticket_for(&payment));
    let outcomes = client::collect(&endpoints, &signed, hash, None, Duration::from_secs(5)).await;
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0].result.as_ref().unwrap().0, owners[0]);
    assert_eq!(outcomes[1].result.as_ref().unwrap().0, owners[1]);
    assert!(outcomes[2].result.is_err());
    assert!(!outcomes[2].to_proto().error.is_empty());

    let blob = client::pack(&outcomes).unwrap();
    owners.sort();
    let hashes = signgate_simulator::safe_tx_hashes(&context(), &payment);
    let check = signgate_simulator::SignatureCheck::for_safe_tx(
        SafeVersion::V1_4_1,
        &hashes,
        &blob,
        &owners,
        Address::ZERO,
    );
    let report = signgate_simulator::check_signatures(&check, U256::from(2), |_| false, |_| false);
    assert!(report.accepted(), "{:?}", report.failure);

    // A ticket whose hash the gateway did not mean: answers are refused by the gateway too.
    let wrong = client::collect(
        &endpoints[..1],
        &signed,
        B256::repeat_byte(1),
        None,
        Duration::from_secs(5),
    )
    .await;
    assert!(
        wrong[0]
            .result
            .as_ref()
            .unwrap_err()
            .contains("not the released")
    );
    for r in running {
        r.stop().await;
    }
}
