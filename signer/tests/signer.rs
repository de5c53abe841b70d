//! The reference signer through real gRPC on 127.0.0.1:0, without a gateway: tickets are
//! issued here with the gateway's function and a test release key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test loudly"
)]

use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256, Bytes, Signature, U256};
use ed25519_dalek::SigningKey;
use signgate_proto::{prost_types::Timestamp, v1 as pb};
use signgate_signer::{self as signer, Clock, SignerFiles, SystemClock, owner_key, ticket};
use signgate_simulator::{SafeContext, SafeTx, SafeVersion, safe_tx_hash};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::Code;

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

/// The proto form of a Safe transaction, as the gateway writes it into a ticket (checksummed
/// addresses, decimal numbers).
fn safe_tx_to_proto(tx: &SafeTx) -> pb::SafeTransaction {
    pb::SafeTransaction {
        to: tx.to.to_checksum(None),
        value: tx.value.to_string(),
        data: tx.data.to_vec(),
        operation: u32::from(tx.operation.as_u8()),
        safe_tx_gas: tx.safe_tx_gas.to_string(),
        base_gas: tx.base_gas.to_string(),
        gas_price: tx.gas_price.to_string(),
        gas_token: tx.gas_token.to_checksum(None),
        refund_receiver: tx.refund_receiver.to_checksum(None),
        nonce: tx.nonce.to_string(),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A ticket for `tx`, valid for `ttl_secs` from now (negative: already expired).
fn ticket_for(tx: &SafeTx, ttl_secs: i64) -> pb::ReleaseTicket {
    let ctx = context();
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
            seconds: unix_now(),
            nanos: 0,
        }),
        expires_at: Some(Timestamp {
            seconds: unix_now() + ttl_secs,
            nanos: 0,
        }),
    }
}

/// Files a signer operator would have: keystore, password, the gateway's public key.
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
    handle: JoinHandle<Result<(), signer::SignerError>>,
}

impl RunningSigner {
    async fn start(files: &SignerFiles) -> Self {
        Self::start_with_clock(files, Arc::new(SystemClock)).await
    }

    async fn start_with_clock(files: &SignerFiles, clock: Arc<dyn Clock>) -> Self {
        let setup = files.load(clock).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(signer::serve(listener, setup, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            shutdown,
            handle,
        }
    }

    async fn client(&self) -> pb::signer_client::SignerClient<tonic::transport::Channel> {
        pb::signer_client::SignerClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.shutdown.send(()).unwrap();
        self.handle.await.unwrap().unwrap();
    }
}

fn request(t: &pb::ReleaseTicket, key: &SigningKey) -> pb::SignRequest {
    pb::SignRequest {
        ticket: Some(ticket::issue(key, t)),
    }
}

#[tokio::test]
async fn signs_released_transactions_and_refuses_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let (files, owner) = signer_files(dir.path());
    let running = RunningSigner::start(&files).await;
    let mut client = running.client().await;

    let info = client
        .get_signer_info(pb::GetSignerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.owner, owner.to_checksum(None));

    // A valid ticket: an EIP-712 Safe signature by the owner over the recomputed hash.
    let first = tx(7, 1_000);
    let resp = client
        .sign(request(&ticket_for(&first, 60), &gateway_key()))
        .await
        .unwrap()
        .into_inner();
    let hash = safe_tx_hash(&context(), &first);
    assert_eq!(resp.safe_tx_hash, format!("{hash:#x}"));
    assert_eq!(resp.signature.len(), 65);
    assert!(matches!(resp.signature[64], 27 | 28), "v is 27 or 28");
    let sig = Signature::from_raw(&resp.signature).unwrap();
    assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), owner);

    // The same ticket again is an idempotent retry.
    let again = client
        .sign(request(&ticket_for(&first, 60), &gateway_key()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.safe_tx_hash, resp.safe_tx_hash);

    // Expired.
    let err = client
        .sign(request(&ticket_for(&tx(8, 1), -1), &gateway_key()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("expired"), "{err}");

    // A ticket naming another hash than its transaction.
    let mut wrong = ticket_for(&tx(9, 1), 60);
    wrong.safe_tx_hash = format!("{:#x}", B256::repeat_byte(0xee));
    let err = client
        .sign(request(&wrong, &gateway_key()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");

    // Not signed by the gateway.
    let forger = SigningKey::from_bytes(&[1; 32]);
    let err = client
        .sign(request(&ticket_for(&tx(10, 1), 60), &forger))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    // A tampered ticket body under a genuine signature.
    let mut signed = ticket::issue(&gateway_key(), &ticket_for(&tx(11, 1), 60));
    if let Some(last) = signed.ticket.last_mut() {
        *last ^= 1;
    }
    let err = client
        .sign(pb::SignRequest {
            ticket: Some(signed),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    // A different transaction for the already signed nonce 7.
    let err = client
        .sign(request(&ticket_for(&tx(7, 2_000), 60), &gateway_key()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("already signed"), "{err}");

    // Refused tickets were not recorded: nonce 9 is still free for its real transaction.
    client
        .sign(request(&ticket_for(&tx(9, 1), 60), &gateway_key()))
        .await
        .unwrap();

    let err = client
        .sign(pb::SignRequest { ticket: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    running.stop().await;
}

#[tokio::test]
async fn double_sign_protection_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = signer_files(dir.path());
    let running = RunningSigner::start(&files).await;
    running
        .client()
        .await
        .sign(request(&ticket_for(&tx(1, 5), 60), &gateway_key()))
        .await
        .unwrap();
    running.stop().await;

    let running = RunningSigner::start(&files).await;
    let err = running
        .client()
        .await
        .sign(request(&ticket_for(&tx(1, 6), 60), &gateway_key()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tickets_for_one_nonce_sign_once() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = signer_files(dir.path());
    let running = RunningSigner::start(&files).await;
    let client = running.client().await;
    let tasks: Vec<_> = (0..12u64)
        .map(|i| {
            let mut c = client.clone();
            tokio::spawn(async move {
                c.sign(request(&ticket_for(&tx(3, 100 + i), 60), &gateway_key()))
                    .await
            })
        })
        .collect();
    let mut signed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => signed += 1,
            Err(e) => assert_eq!(e.code(), Code::FailedPrecondition, "{e}"),
        }
    }
    assert_eq!(signed, 1);
    running.stop().await;
}

#[test]
fn wrong_keystore_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut files, _) = signer_files(dir.path());
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "nope").unwrap();
    files.password_file = wrong;
    assert!(matches!(
        files.load(Arc::new(SystemClock)),
        Err(signer::SignerError::OwnerKey(
            owner_key::OwnerKeyError::Keystore { .. }
        ))
    ));
}

/// Two reference signers' signatures, packed in owner order, pass the same signature check
/// `execTransaction` performs (the simulator's model of `checkSignatures`).
#[tokio::test]
async fn signatures_from_two_signers_satisfy_a_two_of_two_safe() {
    let mut owners_and_sigs = Vec::new();
    let mut dirs = Vec::new();
    let payment = tx(12, 42);
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let (files, owner) = signer_files(dir.path());
        let running = RunningSigner::start(&files).await;
        let resp = running
            .client()
            .await
            .sign(request(&ticket_for(&payment, 60), &gateway_key()))
            .await
            .unwrap()
            .into_inner();
        owners_and_sigs.push((owner, resp.signature));
        running.stop().await;
        dirs.push(dir);
    }
    owners_and_sigs.sort_by_key(|(owner, _)| *owner);
    let blob: Vec<u8> = owners_and_sigs
        .iter()
        .flat_map(|(_, s)| s.clone())
        .collect();
    let owners: Vec<Address> = owners_and_sigs.iter().map(|(o, _)| *o).collect();
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
}

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(Mutex<SystemTime>);

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

/// The signer checks expiry against the clock it was handed, not the system's.
#[tokio::test]
async fn expiry_follows_the_clock_the_signer_is_handed() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = signer_files(dir.path());
    let clock = Arc::new(ManualClock(Mutex::new(SystemTime::now())));
    let running = RunningSigner::start_with_clock(&files, clock.clone()).await;
    let mut client = running.client().await;
    let ticket = ticket_for(&tx(30, 1), 60);
    client.sign(request(&ticket, &gateway_key())).await.unwrap();
    *clock.0.lock().unwrap() += Duration::from_secs(61);
    let err = client
        .sign(request(&ticket, &gateway_key()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("expired"), "{err}");
    running.stop().await;
}

/// A ticket for `tx` on `chain_id` for a Safe of `version`.
fn ticket_on(tx: &SafeTx, chain_id: u64, version: SafeVersion) -> pb::ReleaseTicket {
    let ctx = SafeContext {
        chain_id,
        version,
        ..context()
    };
    let mut t = ticket_for(tx, 60);
    t.chain_id = chain_id;
    t.safe_version = version.as_str().into();
    t.safe_tx_hash = format!("{:#x}", safe_tx_hash(&ctx, tx));
    t
}

/// Issue 13 item 8: a Safe before 1.3.0 hashes without the chain id, so a signature for one of
/// its nonces is valid on every chain: the ledger refuses a second transaction for that nonce
/// on another chain. A 1.4.1 Safe keeps one nonce per chain.
#[tokio::test]
async fn a_legacy_safe_gets_one_signature_per_nonce_across_chains() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = signer_files(dir.path());
    let running = RunningSigner::start(&files).await;
    let mut client = running.client().await;
    let legacy = SafeVersion::V1_1_1;
    client
        .sign(request(&ticket_on(&tx(5, 1), 1, legacy), &gateway_key()))
        .await
        .unwrap();
    let err = client
        .sign(request(&ticket_on(&tx(5, 2), 137, legacy), &gateway_key()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("already signed"), "{err}");

    let modern = SafeVersion::V1_4_1;
    for chain in [10, 8453] {
        client
            .sign(request(
                &ticket_on(&tx(6, chain), chain, modern),
                &gateway_key(),
            ))
            .await
            .unwrap();
    }
    running.stop().await;
}
