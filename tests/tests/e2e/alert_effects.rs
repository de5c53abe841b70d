//! Issue 18, step 4: anomaly alerts whose rules say `extra_approval`, `not_counted` or `hold`
//! change the decision on the proposal, end to end through gRPC under mutual TLS with real
//! client certificates. Each alert is in the audit log before the approval it changed, and the
//! decision's reasons name it.
//!
//! Deterministic without a controlled clock: `bob`'s settled history (another laptop) is
//! written to the store before the gateway starts, so any certificate of this test is a new
//! device; `carol` declares working days that exclude today and tomorrow (UTC), so any call she
//! makes during the test is off hours.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::{B256, U256};
use serde_json::Value;
use signgate_gateway::pipeline::setup;
use signgate_policy::{
    Policy,
    anomaly::{CallKind, CertFingerprint},
};
use signgate_proto::v1::{self as pb, gateway_client::GatewayClient};
use tonic::Code;

use crate::{
    alerts::{mtls_channel, pki, seed_operator, start_mtls},
    demo,
    support::{approve, audit_events, submit, token_transfer},
};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `policy` with `carol` working only on days other than today and tomorrow (UTC): every call
/// she makes during a test is off hours, whenever the test runs.
pub fn carol_off_today(policy: &str) -> String {
    let today = usize::try_from(
        (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 86_400
            + 3)
            % 7,
    )
    .unwrap(); // 1970-01-01 was a Thursday; Monday = 0
    let days: Vec<String> = (0..7)
        .filter(|d| *d != today && *d != (today + 1) % 7)
        .map(|d| format!("\"{}\"", DAYS[d]))
        .collect();
    let hours = format!(
        "id = \"carol\"\nworking_hours = {{ zone = \"UTC\", days = [{}], from = \"00:00\", to = \"23:59\" }}",
        days.join(", ")
    );
    let text = policy.replacen("id = \"carol\"", &hours, 1);
    assert_eq!(text.matches("working_hours").count(), 1);
    text
}

/// The demo policy with `[anomaly]` rules given `actions` (`(rule, action)` in TOML), and
/// `carol` off today ([`carol_off_today`]).
fn policy(actions: &[(&str, &str)]) -> String {
    // Dave, the demo's only security operator, added the payee to the address book, and whoever
    // vouched for an address does not approve the first payment to it: here erin added it, so
    // dave can give the security approval an alert asks for.
    let mut text = carol_off_today(setup::demo_policy_without_anomaly()).replacen(
        "added_by = \"dave\"",
        "added_by = \"erin\"",
        1,
    );
    assert!(text.contains("added_by = \"erin\""));
    text.push_str("\n[anomaly]\n");
    for (rule, action) in actions {
        text.push_str(&format!("\n[anomaly.{rule}]\naction = {action}\n"));
    }
    text
}

/// A gateway under mutual TLS on `text`, with `bob` settled on another laptop, and a client
/// with the operators' certificate.
async fn start(
    dir: &std::path::Path,
    text: &str,
) -> (
    crate::support::Running,
    GatewayClient<tonic::transport::Channel>,
) {
    signgate_simulator::evm::install_crypto_provider();
    let policy = Policy::compile(text).unwrap();
    let laptop = CertFingerprint(B256::repeat_byte(0x1a));
    seed_operator(dir, &policy, "bob", CallKind::Approve, laptop).await;
    let pki = pki::Pki::new("signgate e2e ca");
    let gw = start_mtls(dir, &pki, text).await;
    let ops = pki.client("ops.signgate.test");
    let channel = mtls_channel(gw.addr.port(), &pki.ca_pem, &ops).await;
    (gw, GatewayClient::new(channel))
}

fn needs(p: &pb::Proposal) -> pb::NeedsApprovals {
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::NeedsApprovals(n)) => n.clone(),
        other => panic!("needs approvals, got {other:?}"),
    }
}

fn missing(n: &pb::NeedsApprovals) -> Vec<(String, u32, u32)> {
    n.missing
        .iter()
        .map(|m| (m.group.clone(), m.have, m.need))
        .collect()
}

/// Positions in the log of the first record of `kind` for which `pred` holds.
fn position(events: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("no such record in {events:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_approval_asks_security_for_one_more_and_the_reason_names_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy(&[("new_device", "{ extra_approval = { role = \"security\" } }")]);
    let (gw, mut c) = start(dir.path(), &text).await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    assert_eq!(missing(&needs(&p)), [("treasury".into(), 0, 2)]);

    // Bob, settled on another laptop, approves from this one.
    let p = approve(&mut c, &p, "bob").await;
    let n = needs(&p);
    assert_eq!(
        missing(&n),
        [("security".into(), 0, 1), ("treasury".into(), 1, 2)]
    );
    let reason = n
        .reasons
        .iter()
        .find(|r| r.code == "anomaly.new_device")
        .unwrap_or_else(|| panic!("the alert among the reasons: {n:#?}"));
    assert!(reason.message.contains("operator `bob`"), "{reason:?}");
    assert!(
        reason
            .message
            .contains("one more approval from role `security`"),
        "{reason:?}"
    );
    // Carol has no history: the learned rules stay quiet, her approval counts.
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(missing(&needs(&p)), [("security".into(), 0, 1)]);
    // What the alert asked for: one approval from security.
    let p = approve(&mut c, &p, "dave").await;
    assert!(
        matches!(
            p.decision.as_ref().and_then(|d| d.outcome.as_ref()),
            Some(pb::decision::Outcome::Approved(_))
        ),
        "{p:#?}"
    );
    gw.stop().await;

    // The alert is in the log before the approval it changed, and each deciding call was
    // judged once.
    let events = audit_events(dir.path());
    let alert = position(&events, |e| {
        e["type"] == "anomaly" && e["anomaly"]["rule"] == "new_device"
    });
    let bobs = position(&events, |e| {
        e["type"] == "approval_received" && e.to_string().contains("\"bob\"")
    });
    assert!(alert < bobs, "alert #{alert}, approval #{bobs}");
    let observed = events
        .iter()
        .filter(|e| e["type"] == "call_observed")
        .count();
    assert_eq!(observed, 4, "a submission and three approvals, once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_off_hours_approval_whose_rule_says_not_counted_does_not_count_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy(&[("off_hours", "\"not_counted\"")]);
    let (gw, mut c) = start(dir.path(), &text).await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    let n = needs(&p);
    assert_eq!(missing(&n), [("treasury".into(), 1, 2)]);
    let voided = n
        .reasons
        .iter()
        .find(|r| r.code == "approval.anomalous")
        .unwrap_or_else(|| panic!("carol's approval does not count: {n:#?}"));
    assert!(voided.message.starts_with("carol's approval"), "{voided:?}");
    assert!(voided.message.contains("anomaly.off_hours"), "{voided:?}");
    let counts = &p.decision.as_ref().unwrap().approval_counts;
    assert_eq!(counts.len(), 2, "{counts:#?}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_off_hours_approval_whose_rule_says_hold_delays_the_release() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy(&[("off_hours", "{ hold = { hours = 6 } }")]);
    let (gw, mut c) = start(dir.path(), &text).await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    let Some(pb::decision::Outcome::Approved(a)) =
        p.decision.as_ref().and_then(|d| d.outcome.as_ref())
    else {
        panic!("approved: {p:#?}");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let release = u64::try_from(a.release_after.as_ref().unwrap().seconds).unwrap();
    assert!(
        (now + 6 * 3600 - 120..=now + 6 * 3600).contains(&release),
        "held six hours from carol's approval: {release} vs now {now}"
    );
    assert_eq!(a.notes.len(), 1, "{a:#?}");
    assert_eq!(a.notes[0].code, "anomaly.off_hours");
    let refused = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("time-locked"),
        "{}",
        refused.message()
    );
    gw.stop().await;
}

fn shapes_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/attacks/anomaly")
}

/// The status code named in a shape file.
fn code(name: &str, file: &str) -> Code {
    match name {
        "OK" => Code::Ok,
        "ALREADY_EXISTS" => Code::AlreadyExists,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        "PERMISSION_DENIED" => Code::PermissionDenied,
        "UNAVAILABLE" => Code::Unavailable,
        other => panic!("{file}: unknown code {other}"),
    }
}

/// One shape file against its own gateway; panics naming the file and the step that went
/// otherwise.
async fn run_shape(path: &std::path::Path) {
    use crate::support::{approve_request, cancel_request, statement, submission, submit_request};

    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rules: Vec<(String, String)> = spec["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: `rules`"))
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let rules: Vec<(&str, &str)> = rules
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let text = policy(&rules);

    signgate_simulator::evm::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new("signgate e2e ca");
    let usual = pki.client_with_der("ops.signgate.test");
    let new = pki.client_with_der("ops.signgate.test");
    let compiled = Policy::compile(&text).unwrap();
    let laptop = CertFingerprint::of_der(&usual.2);
    seed_operator(dir.path(), &compiled, "alice", CallKind::Submit, laptop).await;
    seed_operator(dir.path(), &compiled, "bob", CallKind::Approve, laptop).await;
    let gw = start_mtls(dir.path(), &pki, &text).await;
    let port = gw.addr.port();
    let mut on_usual = GatewayClient::new(
        mtls_channel(port, &pki.ca_pem, &(usual.0.clone(), usual.1.clone())).await,
    );
    let mut on_new =
        GatewayClient::new(mtls_channel(port, &pki.ca_pem, &(new.0.clone(), new.1.clone())).await);

    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let mut last: Option<pb::Proposal> = None;
    for (i, step) in spec["steps"].as_array().unwrap().iter().enumerate() {
        let act = step["act"].as_str().unwrap();
        let by = step["by"].as_str().unwrap();
        let c = match step["device"].as_str().unwrap() {
            "usual" => &mut on_usual,
            "new" => &mut on_new,
            other => panic!("{file}: device {other}"),
        };
        let want = code(step["code"].as_str().unwrap_or("OK"), &file);
        let current = || {
            last.clone()
                .unwrap_or_else(|| panic!("{file}: step {i} needs a proposal"))
        };
        let answer = match act {
            "submit" | "resubmit" => c
                .submit_proposal(submit_request(
                    &submission(demo::DEMO_SAFE, &tx),
                    &demo::operator(by),
                ))
                .await
                .map(|r| Some(r.into_inner())),
            "approve" => c
                .approve(approve_request(
                    &statement(&current(), pb::ApprovalKind::Approve),
                    &demo::operator(by),
                ))
                .await
                .map(|r| Some(r.into_inner())),
            "cancel" => c
                .cancel(cancel_request(&current(), by, "shape test"))
                .await
                .map(|r| Some(r.into_inner())),
            "release" => c
                .request_signatures(pb::RequestSignaturesRequest { id: current().id })
                .await
                .map(|_| None),
            other => panic!("{file}: unknown act {other}"),
        };
        match answer {
            Ok(p) => {
                assert_eq!(want, Code::Ok, "{file}: step {i} ({act} by {by}) passed");
                if let Some(p) = p {
                    last = Some(p);
                }
            }
            Err(status) => {
                assert_eq!(
                    status.code(),
                    want,
                    "{file}: step {i} ({act} by {by}): {status:?}"
                );
            }
        }
    }
    let id = last.unwrap_or_else(|| panic!("{file}: no proposal")).id;
    let p = on_usual
        .get_proposal(pb::GetProposalRequest { id })
        .await
        .unwrap()
        .into_inner();
    gw.stop().await;

    let expect = &spec["expect"];
    let state = pb::ProposalState::try_from(p.state).unwrap();
    assert_eq!(
        state.as_str_name(),
        expect["state"].as_str().unwrap(),
        "{file}: {p:#?}"
    );
    let outcome = p.decision.as_ref().and_then(|d| d.outcome.as_ref());
    let (reasons, shown_missing) = match outcome {
        Some(pb::decision::Outcome::NeedsApprovals(n)) => (
            n.reasons.clone(),
            n.missing
                .iter()
                .map(|m| format!("{}:{}/{}", m.group, m.have, m.need))
                .collect::<Vec<_>>(),
        ),
        Some(pb::decision::Outcome::Approved(a)) => (a.notes.clone(), Vec::new()),
        Some(pb::decision::Outcome::Denied(d)) => (d.reasons.clone(), Vec::new()),
        None => panic!("{file}: no decision"),
    };
    if let Some(missing) = expect["missing"].as_array() {
        let want: Vec<&str> = missing.iter().map(|m| m.as_str().unwrap()).collect();
        assert_eq!(shown_missing, want, "{file}: {reasons:#?}");
    }
    for code in expect["reason_codes"].as_array().into_iter().flatten() {
        let code = code.as_str().unwrap();
        assert!(
            reasons.iter().any(|r| r.code == code),
            "{file}: no reason {code} among {reasons:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_around_the_anomaly_rules_gets_its_decision() {
    let mut files: Vec<_> = std::fs::read_dir(shapes_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the shapes lost files: {files:?}");
    for f in &files {
        run_shape(f).await;
    }
}

/// One operator's judged calls chain on each other's profile in the store's queue: many at once,
/// one of which fails in the store (the same key approving one proposal twice at once), leave
/// every other approval recorded and the stored profiles equal to the ones rebuilt from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_judged_calls_of_one_operator_survive_a_failed_one_and_profiles_rebuild() {
    use signgate_gateway::anomaly::rebuild;

    use crate::alerts::stored_profiles;
    use crate::support::{approve_request, audit_leaves, start_provider_with_policy, statement};

    let dir = tempfile::tempdir().unwrap();
    let text = setup::DEMO_POLICY;
    let gw = start_provider_with_policy(dir.path(), crate::support::Options::demo().served(), None)
        .await;
    let mut c = gw.client().await;
    let mut proposals = Vec::new();
    for nonce in 0..6 {
        let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), nonce);
        proposals.push(submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await);
    }
    // Bob approves all six at once, the first one twice.
    let mut calls = Vec::new();
    for p in proposals.iter().chain(proposals.first()) {
        let mut c = c.clone();
        let req = approve_request(
            &statement(p, pb::ApprovalKind::Approve),
            &demo::operator("bob"),
        );
        calls.push(tokio::spawn(async move { c.approve(req).await }));
    }
    let mut refused = Vec::new();
    for call in calls {
        if let Err(status) = call.await.unwrap() {
            refused.push(status);
        }
    }
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0].code(), Code::FailedPrecondition, "{refused:#?}");
    for p in &proposals {
        let p = c
            .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(missing(&needs(&p)), [("treasury".into(), 1, 2)], "{p:#?}");
    }
    gw.stop().await;

    let policy = Policy::compile(text).unwrap();
    let rebuilt = rebuild::profiles(&audit_leaves(dir.path()), policy.anomaly()).unwrap();
    assert_eq!(rebuilt, stored_profiles(dir.path()).await);
    let events = audit_events(dir.path());
    let bobs: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "call_observed" && e["operator"] == "bob")
        .collect();
    // Judged with each recorded approval; the refused one observed after it ended, as refused.
    let allowed = bobs.iter().filter(|e| e["outcome"] == "allowed").count();
    assert_eq!((allowed, bobs.len()), (6, 7), "{bobs:#?}");
}
