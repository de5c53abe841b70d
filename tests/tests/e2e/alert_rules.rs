//! Issue 18, test 1: each anomaly rule fires on its pattern, end to end through gRPC under
//! mutual TLS, and its alert names the operator (or certificate), the rule and the evidence.
//! The rules met elsewhere: new device, gateway identity on Admin, probation and repeated
//! refusals (`alerts.rs`); the effects of their actions (`alert_effects.rs`). Here: off hours,
//! new network, out-of-scope wallet, reconnaissance, approval burst and rubber-stamping.
//!
//! Histories are written to the store before the gateway starts (twenty settled days ending an
//! hour ago); what differs from them today is the pattern.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::U256;
use serde_json::Value;
use signgate_gateway::pipeline::setup;
use signgate_policy::{
    Policy,
    anomaly::{
        CallKind, CertFingerprint, IdentityClass, Observation, Outcome, Profile, ReadCall,
        SourceNetwork, Subject, WalletId,
    },
    operators::OperatorId,
    time::Timestamp,
};
use signgate_proto::v1::{self as pb, gateway_client::GatewayClient};

use crate::{
    alert_effects::carol_off_today,
    alerts::{mtls_channel, pki, save_seeded, start_mtls},
    demo,
    support::{approve, audit_events, submit, token_transfer},
};

const BYBIT_COLD: alloy_primitives::Address =
    alloy_primitives::address!("0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Twenty days of `call`s, one every `every` seconds, ending an hour ago, folded into the
/// profile of `subject`.
fn settled(
    policy: &Policy,
    subject: Subject,
    every: u64,
    call: impl Fn(Timestamp) -> Observation,
) -> Profile {
    let end = now() - 3600;
    let history: Vec<Observation> = (0..20 * 86_400 / every)
        .rev()
        .map(|i| call(Timestamp(end - i * every)))
        .collect();
    Profile::rebuild(subject, &history, policy.anomaly())
}

fn call(
    operator: Option<&str>,
    call: CallKind,
    device: CertFingerprint,
    network: &str,
    safe: alloy_primitives::Address,
) -> impl Fn(Timestamp) -> Observation {
    let network = SourceNetwork::of(network.parse().unwrap());
    let operator = operator.map(|o| OperatorId(o.into()));
    move |at| Observation {
        at,
        operator: operator.clone(),
        key: None,
        client_cert: Some(device),
        network: Some(network),
        identity: if operator.is_some() {
            IdentityClass::Operator
        } else {
            IdentityClass::GatewayClient
        },
        call,
        wallet: Some(WalletId { chain_id: 1, safe }),
        outcome: Outcome::Allowed,
        approval: None,
        probation: None,
    }
}

/// The demo policy where every DEMO transfer counts as large (its tier has a lower bound), with
/// tight thresholds, and `carol` working only on days other than today and tomorrow (UTC).
fn policy() -> String {
    let text = carol_off_today(setup::demo_policy_without_anomaly()).replacen(
        "name = \"demo-token-transfers\"",
        "name = \"demo-token-transfers\"\nmin_amount = \"0.000000000000001\"",
        1,
    );
    format!(
        "{text}\n[anomaly]\n\n[anomaly.reconnaissance]\nfactor = 1\nfloor = 2\n\n\
         [anomaly.approval_burst]\nmax_approvals = 1\nminutes = 10\n\n\
         [anomaly.rubber_stamp]\nseconds = 600\n"
    )
}

fn alerts_of<'a>(events: &'a [Value], rule: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "anomaly" && e["anomaly"]["rule"] == rule)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_fires_on_its_pattern_and_names_operator_rule_and_evidence() {
    signgate_simulator::evm::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let text = policy();
    let compiled = Policy::compile(&text).unwrap();
    let pki = pki::Pki::new("signgate e2e ca");
    let laptop = pki.client_with_der("ops.signgate.test");
    let device = CertFingerprint::of_der(&laptop.2);

    // Alice has only ever proposed on the Bybit cold wallet; bob has always approved from an
    // office network; the laptop's certificate has read one proposal a day.
    let alice = Subject::Operator(OperatorId("alice".into()));
    let on_cold = call(
        Some("alice"),
        CallKind::Submit,
        device,
        "127.0.0.1",
        BYBIT_COLD,
    );
    save_seeded(dir.path(), &settled(&compiled, alice, 3600, on_cold)).await;
    let bob = Subject::Operator(OperatorId("bob".into()));
    let office = call(
        Some("bob"),
        CallKind::Approve,
        device,
        "10.9.9.9",
        demo::DEMO_SAFE,
    );
    save_seeded(dir.path(), &settled(&compiled, bob, 3600, office)).await;
    let reads = call(
        None,
        CallKind::Read(ReadCall::Get),
        device,
        "127.0.0.1",
        demo::DEMO_SAFE,
    );
    let reader = Subject::Certificate(device);
    save_seeded(dir.path(), &settled(&compiled, reader, 86_400, reads)).await;

    let gw = start_mtls(dir.path(), &pki, &text).await;
    let channel = mtls_channel(gw.addr.port(), &pki.ca_pem, &(laptop.0, laptop.1)).await;
    let mut c = GatewayClient::new(channel);

    let first = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let second = token_transfer(demo::PAYEE, U256::from(1_000u64), 1);
    let p1 = submit(&mut c, demo::DEMO_SAFE, &first, "alice").await;
    let p2 = submit(&mut c, demo::DEMO_SAFE, &second, "alice").await;
    // Seconds after submission, from loopback rather than the office, twice within minutes.
    approve(&mut c, &p1, "bob").await;
    approve(&mut c, &p2, "bob").await;
    approve(&mut c, &p1, "carol").await;
    // Three reads today where one a day is usual.
    for _ in 0..3 {
        c.get_proposal(pb::GetProposalRequest { id: p1.id.clone() })
            .await
            .unwrap();
    }
    gw.stop().await;

    let events = audit_events(dir.path());
    let one = |rule: &str| -> Value {
        let found = alerts_of(&events, rule);
        assert_eq!(found.len(), 1, "{rule}: {found:#?}");
        found[0].clone()
    };
    let scope = one("out_of_scope_wallet");
    assert_eq!(scope["subject"]["operator"], "alice");
    assert_eq!(scope["call"], "submit");
    assert_eq!(
        scope["anomaly"]["wallet"]["safe"],
        demo::DEMO_SAFE.to_string().to_lowercase()
    );

    let network = one("new_network");
    assert_eq!(network["subject"]["operator"], "bob");
    assert_eq!(
        network["anomaly"]["network"]["v4"],
        serde_json::json!([127, 0, 0])
    );

    let burst = one("approval_burst");
    assert_eq!(burst["subject"]["operator"], "bob");
    assert_eq!(burst["anomaly"]["approvals"], 2);
    assert_eq!(burst["anomaly"]["max"], 1);

    let stamps = alerts_of(&events, "rubber_stamp");
    let stamped: Vec<&Value> = stamps.iter().map(|a| &a["subject"]["operator"]).collect();
    assert_eq!(stamped, ["bob", "bob", "carol"], "{stamps:#?}");
    assert!(stamps[0]["anomaly"]["after_seconds"].as_u64().unwrap() < 600);

    let hours = one("off_hours");
    assert_eq!(hours["subject"]["operator"], "carol");
    assert_eq!(hours["anomaly"]["outside_declared"]["hours"]["zone"], "UTC");

    let recon = one("reconnaissance");
    assert_eq!(recon["subject"]["certificate"], device.to_string().as_str());
    assert_eq!(recon["anomaly"]["reads_today"], 3);
    assert_eq!(recon["anomaly"]["usual"], 1);
    assert_eq!(recon["anomaly"]["limit"], 2);
}
