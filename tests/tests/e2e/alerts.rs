//! Issue 18: anomalous operator behaviour, end to end through gRPC. Calls are observed by the
//! gateway, judged against each operator's profile, and the alerts land in the audit log with
//! the operator, the evidence and the rule; the profiles the store keeps equal the ones rebuilt
//! from the audit log alone (SQLite, and PostgreSQL with `SIGNGATE_E2E_STORE=postgres`).

use std::{
    num::NonZeroUsize,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::U256;
use serde_json::Value;
use signgate_audit::{export::export_jsonl, verify::verify_export};
use signgate_gateway::{
    anomaly::{rebuild, webhook},
    config::{PostgresSettings, WebhookSettings},
    pipeline::setup,
    store::{ProposalStore as _, SqliteStore, postgres::PgStore},
};
use signgate_policy::{
    Policy,
    anomaly::{
        CallKind, CertFingerprint, IdentityClass, Observation, Outcome, Profile, SourceNetwork,
        Subject, WalletId,
    },
    operators::OperatorId,
    time::Timestamp as PolicyTime,
};
use signgate_proto::v1::gateway_client::GatewayClient;
use signgate_proto::v1::{self as pb, admin_client::AdminClient};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
    sync::mpsc,
};
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

use crate::{
    demo,
    support::{
        Options, approve, approve_request, audit_events, audit_export, audit_key, audit_leaves,
        config, start_provider_with_policy, statement, submit, token_transfer,
    },
};

/// The demo policy with the anomaly rules on: every rule alerts, and three forged signatures
/// within a quarter of an hour are a pattern.
fn policy_with_anomaly() -> String {
    format!(
        "{}\n[anomaly]\n\n[anomaly.repeated_refusals]\ncount = 3\nminutes = 15\n\
         kinds = [\"forged_signature\", \"stale_signature\"]\n",
        setup::demo_policy_without_anomaly()
    )
}

/// The profiles the store of the stopped gateway in `dir` holds.
pub async fn stored_profiles(dir: &Path) -> Vec<Profile> {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres.url")) {
        let store = PgStore::connect(&PostgresSettings {
            url,
            pool_size: 2,
            statement_timeout: std::time::Duration::from_secs(10),
            ca: None,
        })
        .await
        .unwrap();
        return store.profile_store().unwrap().profiles().await.unwrap();
    }
    let store = SqliteStore::open(config(dir, &[]).store_path())
        .await
        .unwrap();
    store.profile_store().unwrap().profiles().await.unwrap()
}

fn anomalies(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "anomaly").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_approvals_and_a_probationary_approval_raise_alerts_naming_operator_rule_and_evidence()
 {
    let dir = tempfile::tempdir().unwrap();
    let text = policy_with_anomaly();
    let gw = start_provider_with_policy(dir.path(), Options::demo().served(), Some(&text)).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);

    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    // Mallory is probationary and the demo treasury is a production wallet.
    let p = approve(&mut c, &p, "mallory").await;
    // Bob's key, but not Bob's signature: three times.
    for _ in 0..3 {
        let mut req = approve_request(
            &statement(&p, pb::ApprovalKind::Approve),
            &demo::operator("bob"),
        );
        let env = req.approval.as_mut().unwrap();
        env.signature[0] ^= 0xff;
        let refused = c.approve(req).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    }
    // A read over plaintext loopback names neither a key nor a certificate: it has no subject
    // and is not judged (under mutual TLS the certificate is its subject).
    c.get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap();
    gw.stop().await;

    let events = audit_events(dir.path());
    let observed = events
        .iter()
        .filter(|e| e["type"] == "call_observed")
        .count();
    assert_eq!(observed, 5, "submit, approve, three forged approvals");
    let alerts = anomalies(&events);
    let refusals = alerts
        .iter()
        .find(|a| a["anomaly"]["rule"] == "repeated_refusals")
        .unwrap_or_else(|| panic!("a repeated_refusals alert: {alerts:#?}"));
    assert_eq!(refusals["subject"]["operator"], "bob");
    assert_eq!(refusals["anomaly"]["refusals"], 3);
    assert_eq!(refusals["anomaly"]["last"], "forged_signature");
    assert_eq!(refusals["call"], "approve");
    let probation = alerts
        .iter()
        .find(|a| a["anomaly"]["rule"] == "probationary_restricted")
        .unwrap_or_else(|| panic!("a probationary_restricted alert: {alerts:#?}"));
    assert_eq!(probation["subject"]["operator"], "mallory");
    assert_eq!(probation["anomaly"]["tag"], "production");
    // Nothing else: without 14 days of history the learned rules stay quiet.
    assert_eq!(alerts.len(), 2, "{alerts:#?}");

    // The log with its new records still verifies offline.
    let (leaves, notes) = audit_export(dir.path()).await;
    let mut exported = Vec::new();
    export_jsonl(&leaves, &notes, true, &mut exported).unwrap();
    let named: Vec<(String, String)> = notes
        .into_iter()
        .enumerate()
        .map(|(i, n)| (format!("checkpoint-{i}"), n))
        .collect();
    let v = verify_export(&exported, &named, &audit_key().verifying_key());
    assert!(v.passed(), "{:?}", v.findings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_rebuilt_from_the_audit_log_equal_the_stored_ones() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy_with_anomaly();
    let gw = start_provider_with_policy(dir.path(), Options::demo().served(), Some(&text)).await;
    let mut c = gw.client().await;
    for nonce in 0..3 {
        let tx = token_transfer(demo::PAYEE, U256::from(1_000u64 + nonce), nonce);
        let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
        let p = approve(&mut c, &p, "bob").await;
        let p = approve(&mut c, &p, "carol").await;
        c.get_proposal(pb::GetProposalRequest { id: p.id.clone() })
            .await
            .unwrap();
    }
    gw.stop().await;

    let stored = stored_profiles(dir.path()).await;
    let subjects: Vec<String> = stored.iter().map(|p| p.subject().to_string()).collect();
    assert_eq!(
        subjects,
        ["operator `alice`", "operator `bob`", "operator `carol`"]
    );
    let policy = Policy::compile(&text).unwrap();
    let rebuilt = rebuild::profiles(&audit_leaves(dir.path()), policy.anomaly()).unwrap();
    assert_eq!(rebuilt, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_anomaly_table_nothing_is_observed_or_stored() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start_provider_with_policy(
        dir.path(),
        Options::demo().served(),
        Some(setup::demo_policy_without_anomaly()),
    )
    .await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    approve(&mut c, &p, "bob").await;
    gw.stop().await;
    let events = audit_events(dir.path());
    assert!(
        events
            .iter()
            .all(|e| e["type"] != "call_observed" && e["type"] != "anomaly")
    );
    assert!(stored_profiles(dir.path()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_alerts_streams_each_alert_once_it_is_recorded_and_the_counter_names_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy_with_anomaly();
    let gw = start_provider_with_policy(dir.path(), Options::demo().served(), Some(&text)).await;
    let mut admin = AdminClient::connect(format!("http://{}", gw.addr))
        .await
        .unwrap();
    let mut alerts = admin
        .watch_alerts(pb::WatchAlertsRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    for _ in 0..3 {
        let mut req = approve_request(
            &statement(&p, pb::ApprovalKind::Approve),
            &demo::operator("carol"),
        );
        req.approval.as_mut().unwrap().signature[0] ^= 0xff;
        c.approve(req).await.unwrap_err();
    }
    let a = alerts.message().await.unwrap().expect("an alert");
    assert_eq!(a.rule, "anomaly.repeated_refusals");
    assert_eq!(a.operator, "carol");
    assert_eq!(a.call, "approve");
    assert_eq!(a.action, "alert");
    let refusals = a.evidence.iter().find(|e| e.key == "refusals").unwrap();
    assert_eq!(refusals.value, "3");
    assert!(a.message.contains("carol"), "{}", a.message);

    let text = crate::metrics::scrape(gw.metrics).await;
    assert!(
        text.contains("signgate_anomaly_alerts_total{rule=\"anomaly.repeated_refusals\"} 1"),
        "{text}"
    );
    gw.stop().await;
    // The stream ends with the server.
    assert!(alerts.message().await.map_or(true, |m| m.is_none()));
}

/// A webhook receiver on 127.0.0.1: answers 503 while `down`, else records each body (after
/// checking its signature) and answers 200.
struct Receiver {
    url: String,
    down: Arc<AtomicBool>,
    received: mpsc::UnboundedReceiver<Value>,
    attempts: Arc<AtomicUsize>,
}

async fn receiver(secret: &'static [u8]) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let down = Arc::new(AtomicBool::new(true));
    let attempts = Arc::new(AtomicUsize::new(0));
    let (tx, received) = mpsc::unbounded_channel();
    let (d, n) = (down.clone(), attempts.clone());
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let (d, n, tx) = (d.clone(), n.clone(), tx.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let read = conn.read(&mut chunk).await.unwrap();
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        while buf.len() < end + 4 + len {
                            let read = conn.read(&mut chunk).await.unwrap();
                            buf.extend_from_slice(&chunk[..read]);
                        }
                        break (head, buf[end + 4..end + 4 + len].to_vec());
                    }
                };
                n.fetch_add(1, Ordering::SeqCst);
                let status = if d.load(Ordering::SeqCst) {
                    "503 Service Unavailable"
                } else {
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.strip_prefix(&format!("{name}:")))
                            .unwrap()
                            .trim()
                            .to_owned()
                    };
                    let ts: u64 = header(webhook::TIMESTAMP_HEADER).parse().unwrap();
                    assert_eq!(
                        header(webhook::SIGNATURE_HEADER),
                        webhook::signature(secret, ts, &body)
                    );
                    tx.send(serde_json::from_slice(&body).unwrap()).unwrap();
                    "200 OK"
                };
                let answer =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    Receiver {
        url,
        down,
        received,
        attempts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_was_down_receives_every_alert_once_back_and_decisions_do_not_wait_for_it() {
    const SECRET: &[u8] = b"webhook test secret";
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("webhook.secret");
    std::fs::write(&secret_file, [SECRET, b"\n"].concat()).unwrap();
    let mut rx = receiver(SECRET).await;
    let mut opts = Options::demo();
    opts.webhook = Some(WebhookSettings {
        url: rx.url.parse().unwrap(),
        secret_file,
        timeout: Duration::from_secs(5),
        queue_limit: NonZeroUsize::new(100).unwrap(),
    });
    let text = policy_with_anomaly();
    let gw = start_provider_with_policy(dir.path(), opts.served(), Some(&text)).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;

    // While the receiver is down: a probationary approval and four forged ones (one alert of
    // repeated refusals, at the third within the window).
    let started = Instant::now();
    let p = approve(&mut c, &p, "mallory").await;
    let approval_took = started.elapsed();
    for _ in 0..4 {
        let mut req = approve_request(
            &statement(&p, pb::ApprovalKind::Approve),
            &demo::operator("bob"),
        );
        req.approval.as_mut().unwrap().signature[0] ^= 0xff;
        c.approve(req).await.unwrap_err();
    }
    // The receiver has been refusing: wait for a failed attempt to be sure it was tried.
    while rx.attempts.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    // A decision made while the webhook fails is as quick as any: nothing waits for it.
    assert!(
        approval_took < Duration::from_secs(2),
        "an approval took {approval_took:?}"
    );
    let scraped = crate::metrics::scrape(gw.metrics).await;
    assert!(
        scraped.contains("signgate_anomaly_webhook_failures_total"),
        "{scraped}"
    );

    rx.down.store(false, Ordering::SeqCst);
    let mut got = Vec::new();
    while got.len() < 2 {
        let body = tokio::time::timeout(Duration::from_secs(30), rx.received.recv())
            .await
            .expect("every alert arrives once the receiver is back")
            .unwrap();
        got.push(body);
    }
    let codes: Vec<&str> = got.iter().map(|b| b["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "anomaly.probationary_restricted",
            "anomaly.repeated_refusals"
        ],
        "in order, each once"
    );
    assert_eq!(got[1]["alert"]["subject"]["operator"], "bob");
    assert_eq!(got[1]["alert"]["anomaly"]["refusals"], 3);
    gw.stop().await;
    // Nothing more arrived: each alert was delivered once.
    assert!(rx.received.try_recv().is_err());
}

#[path = "../../../gateway/tests/pki/mod.rs"]
pub mod pki;

/// A channel to the gateway on `port` presenting `identity` under the test CA.
pub async fn mtls_channel(port: u16, ca: &str, identity: &(String, String)) -> Channel {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost")
        .identity(Identity::from_pem(&identity.0, &identity.1));
    Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A gateway on `policy` in `dir`, under mutual TLS with `pki` (a server certificate for
/// `localhost`; `ops.signgate.test` may use the Gateway service, `admin.signgate.test` both).
pub async fn start_mtls(dir: &Path, pki: &pki::Pki, policy: &str) -> crate::support::Running {
    signgate_simulator::evm::install_crypto_provider();
    let (server_cert, server_key) = pki.leaf("localhost");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let mut opts = Options::demo();
    opts.env = mtls_env(&write, pki, &server_cert, &server_key);
    start_provider_with_policy(dir, opts.served(), Some(policy)).await
}

/// The configuration of a gateway under mutual TLS with the test PKI: `ops.signgate.test` may
/// use the Gateway service, `admin.signgate.test` both.
pub fn mtls_env(
    write: &dyn Fn(&str, &str) -> String,
    pki: &pki::Pki,
    server_cert: &str,
    server_key: &str,
) -> Vec<(String, String)> {
    [
        ("SIGNGATE_TLS__PLAINTEXT_LOOPBACK", "false".to_owned()),
        ("SIGNGATE_TLS__CERT", write("server.pem", server_cert)),
        ("SIGNGATE_TLS__KEY", write("server.key", server_key)),
        ("SIGNGATE_TLS__CLIENT_CA", write("ca.pem", &pki.ca_pem)),
        (
            "SIGNGATE_TLS__GATEWAY_CLIENTS",
            "ops.signgate.test".to_owned(),
        ),
        (
            "SIGNGATE_TLS__ADMIN_CLIENTS",
            "admin.signgate.test".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_mutual_tls_calls_carry_the_certificate_and_a_gateway_identity_calling_admin_alerts()
{
    signgate_simulator::evm::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new("signgate e2e ca");
    let text = policy_with_anomaly();
    let gw = start_mtls(dir.path(), &pki, &text).await;
    let ops = pki.client("ops.signgate.test");
    let channel = mtls_channel(gw.addr.port(), &pki.ca_pem, &ops).await;
    let mut c = GatewayClient::new(channel.clone());
    let mut admin = AdminClient::new(channel);

    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    c.get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap();
    let refused = admin
        .list_operators(pb::ListOperatorsRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    gw.stop().await;

    let events = audit_events(dir.path());
    let observed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "call_observed")
        .collect();
    assert_eq!(observed.len(), 3, "{observed:#?}");
    // The same device on every call: the SHA-256 of the certificate the handshake verified.
    let fingerprint = observed[0]["client_cert"].as_str().unwrap().to_owned();
    assert_eq!(fingerprint.len(), 66, "{fingerprint}");
    assert!(
        observed
            .iter()
            .all(|o| o["client_cert"] == fingerprint.as_str())
    );
    assert_eq!(observed[0]["operator"], "alice");
    assert_eq!(observed[0]["network"]["v4"], serde_json::json!([127, 0, 0]));
    // A read names no key: the certificate is its subject.
    assert_eq!(observed[1]["call"]["read"], "get");
    assert!(observed[1]["operator"].is_null());
    assert_eq!(observed[2]["identity"], "gateway_client");
    assert_eq!(observed[2]["outcome"]["refused"], "permission_denied");

    let alerts = anomalies(&events);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["anomaly"]["rule"], "gateway_identity_admin");
    assert_eq!(alerts[0]["anomaly"]["call"], "list_operators");
    assert_eq!(alerts[0]["subject"]["certificate"], fingerprint.as_str());
}

/// Twenty days of `alice` submitting to the demo treasury every hour from one laptop (`device`)
/// on the loopback network, ending an hour ago: a settled profile, written to the store of the
/// gateway that will run in `dir` before it starts.
async fn seed_alice(dir: &Path, policy: &Policy, device: CertFingerprint) {
    seed_operator(dir, policy, "alice", CallKind::Submit, device).await;
}

/// Twenty days of `operator` making `call`s on the demo treasury every hour from one laptop
/// (`device`) on the loopback network, ending an hour ago: a settled profile, written to the
/// store of the gateway that will run in `dir` before it starts.
pub async fn seed_operator(
    dir: &Path,
    policy: &Policy,
    operator: &str,
    call: CallKind,
    device: CertFingerprint,
) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let history: Vec<Observation> = (1..=20 * 24)
        .rev()
        .map(|hours_ago| Observation {
            at: PolicyTime(now - hours_ago * 3600),
            operator: Some(OperatorId(operator.into())),
            key: None,
            client_cert: Some(device),
            network: Some(SourceNetwork::of("127.0.0.1".parse().unwrap())),
            identity: IdentityClass::Operator,
            call,
            wallet: Some(WalletId {
                chain_id: 1,
                safe: demo::DEMO_SAFE,
            }),
            outcome: Outcome::Allowed,
            approval: None,
            probation: None,
        })
        .collect();
    let profile = Profile::rebuild(
        Subject::Operator(OperatorId(operator.into())),
        &history,
        policy.anomaly(),
    );
    save_seeded(dir, &profile).await;
}

/// Writes `profile` to the store of the gateway that will run in `dir`, before it starts.
pub async fn save_seeded(dir: &Path, profile: &Profile) {
    let at = signgate_gateway::store::UnixMillis(0);
    match crate::support::Backend::from_env() {
        crate::support::Backend::Postgres => {
            let store = PgStore::connect(&PostgresSettings {
                url: crate::support::postgres_url(dir),
                pool_size: 2,
                statement_timeout: Duration::from_secs(10),
                ca: None,
            })
            .await
            .unwrap();
            let saved = store.profile_store().unwrap();
            assert!(
                saved
                    .save_profile(Vec::new(), profile, None, at)
                    .await
                    .unwrap()
            );
        }
        crate::support::Backend::Sqlite => {
            let path = config(dir, &[]).store_path();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let store = SqliteStore::open(path).await.unwrap();
            let saved = store.profile_store().unwrap();
            assert!(
                saved
                    .save_profile(Vec::new(), profile, None, at)
                    .await
                    .unwrap()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_operator_on_a_new_client_certificate_raises_new_device_with_its_fingerprint() {
    signgate_simulator::evm::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let text = policy_with_anomaly();
    let policy = Policy::compile(&text).unwrap();
    let laptop = CertFingerprint(alloy_primitives::B256::repeat_byte(0x1a));
    seed_alice(dir.path(), &policy, laptop).await;

    let pki = pki::Pki::new("signgate e2e ca");
    let gw = start_mtls(dir.path(), &pki, &text).await;
    let other_laptop = pki.client("ops.signgate.test");
    let channel = mtls_channel(gw.addr.port(), &pki.ca_pem, &other_laptop).await;
    let mut c = GatewayClient::new(channel);
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    gw.stop().await;

    let events = audit_events(dir.path());
    let alerts = anomalies(&events);
    assert_eq!(alerts.len(), 1, "only the device is new: {alerts:#?}");
    let a = alerts[0];
    assert_eq!(a["anomaly"]["rule"], "new_device");
    assert_eq!(a["subject"]["operator"], "alice");
    assert_eq!(a["call"], "submit");
    assert_eq!(a["anomaly"]["known"], 1);
    assert_eq!(a["anomaly"]["window_days"], 30);
    let observed = events
        .iter()
        .find(|e| e["type"] == "call_observed")
        .unwrap();
    assert_eq!(a["anomaly"]["fingerprint"], observed["client_cert"]);
    assert_ne!(a["anomaly"]["fingerprint"], laptop.to_string().as_str());
}
